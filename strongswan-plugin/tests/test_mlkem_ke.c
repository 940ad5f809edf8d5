// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ML-KEM key_exchange_t objects through strongSwan's interface, linked
 * to the root's libstrongswan: the KEM call order of key_exchange.h, sizes,
 * malformed inputs rejected.
 */
#include <library.h>
#include <crypto/key_exchange.h>

#include "qkd_mlkem.h"
#include "tests.h"

static const key_exchange_method_t methods[] = {
	ML_KEM_512, ML_KEM_768, ML_KEM_1024,
};
static const size_t pk_len[] = { 800, 1184, 1568 };
static const size_t ct_len[] = { 768, 1088, 1568 };

static void lib_up(void)
{
	ck_assert(library_init(NULL, "qkd-plugin-tests"));
}

static void lib_down(void)
{
	library_deinit();
}

START_TEST(kem_order)
{
	key_exchange_t *i, *r;
	chunk_t pub, pub2, ct, si, sr;

	i = qkd_mlkem_create(methods[_i]);
	r = qkd_mlkem_create(methods[_i]);
	ck_assert_ptr_nonnull(i);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(i->get_method(i), methods[_i]);
	ck_assert(!i->get_shared_secret(i, &si));

	ck_assert(i->get_public_key(i, &pub));
	ck_assert_uint_eq(pub.len, pk_len[_i]);
	/* a second call returns the same key, no new key pair */
	ck_assert(i->get_public_key(i, &pub2));
	ck_assert(chunk_equals(pub, pub2));
	ck_assert(r->set_public_key(r, pub));
	ck_assert(r->get_public_key(r, &ct));
	ck_assert_uint_eq(ct.len, ct_len[_i]);
	ck_assert(i->set_public_key(i, ct));
	ck_assert(i->get_shared_secret(i, &si));
	ck_assert(r->get_shared_secret(r, &sr));
	ck_assert_uint_eq(si.len, 32);
	ck_assert(chunk_equals(si, sr));
	/* no second public key once the secret is set */
	ck_assert(!r->set_public_key(r, pub));
	ck_assert(!i->set_public_key(i, ct));
	chunk_free(&pub);
	chunk_free(&pub2);
	chunk_free(&ct);
	chunk_clear(&si);
	chunk_clear(&sr);
	i->destroy(i);
	r->destroy(r);
}
END_TEST

START_TEST(malformed)
{
	key_exchange_t *i, *r;
	chunk_t pub, ct, bad, s;

	i = qkd_mlkem_create(methods[_i]);
	r = qkd_mlkem_create(methods[_i]);
	ck_assert(i->get_public_key(i, &pub));
	/* responder: wrong sizes and a bad encoding */
	bad = chunk_create(pub.ptr, pub.len - 1);
	ck_assert(!r->set_public_key(r, bad));
	ck_assert(!r->set_public_key(r, chunk_empty));
	bad = chunk_alloc(pub.len);
	memset(bad.ptr, 0xff, bad.len);
	ck_assert(!r->set_public_key(r, bad));
	chunk_free(&bad);
	ck_assert(!r->get_shared_secret(r, &s));
	/* still usable with the right key */
	ck_assert(r->set_public_key(r, pub));
	ck_assert(r->get_public_key(r, &ct));
	/* initiator: wrong ciphertext sizes */
	bad = chunk_alloc(ct.len + 1);
	memcpy(bad.ptr, ct.ptr, ct.len);
	ck_assert(!i->set_public_key(i, bad));
	bad.len = ct.len - 1;
	ck_assert(!i->set_public_key(i, bad));
	bad.len = ct.len + 1;
	chunk_free(&bad);
	ck_assert(!i->get_shared_secret(i, &s));
	ck_assert(i->set_public_key(i, ct));
	ck_assert(i->get_shared_secret(i, &s));
	chunk_clear(&s);
	chunk_free(&pub);
	chunk_free(&ct);
	i->destroy(i);
	r->destroy(r);
}
END_TEST

START_TEST(unsupported)
{
	ck_assert_ptr_null(qkd_mlkem_create(CURVE_25519));
	ck_assert_ptr_null(qkd_mlkem_create(KE_NONE));
	ck_assert_ptr_null(qkd_mlkem_create((key_exchange_method_t)1025));
}
END_TEST

START_TEST(no_seed)
{
	key_exchange_t *ke = qkd_mlkem_create(ML_KEM_768);

	ck_assert(!ke->set_seed(ke, chunk_empty, NULL));
	ke->destroy(ke);
}
END_TEST

Suite *mlkem_ke_suite(void)
{
	Suite *s = suite_create("mlkem-strongswan");
	TCase *tc = tcase_create("key_exchange_t");
	int n = sizeof(methods) / sizeof(methods[0]);

	tcase_add_checked_fixture(tc, lib_up, lib_down);
	tcase_add_loop_test(tc, kem_order, 0, n);
	tcase_add_loop_test(tc, malformed, 0, n);
	tcase_add_test(tc, unsupported);
	tcase_add_test(tc, no_seed);
	suite_add_tcase(s, tc);
	return s;
}
