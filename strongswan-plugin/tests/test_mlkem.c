// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ML-KEM core on OpenSSL 3.5, checked against OpenSSL's API used
 * directly: each side of the KEM against an independent implementation of
 * the other, sizes, malformed inputs.
 */
#include <errno.h>
#include <string.h>
#include <openssl/evp.h>
#include "mlkem_ossl.h"
#include "tests.h"

#define MAX_PK	1568
#define MAX_CT	1568

static const unsigned int ids[] = { 35, 36, 37 };

START_TEST(params)
{
	static const size_t pk[] = { 800, 1184, 1568 };
	static const size_t ct[] = { 768, 1088, 1568 };
	const struct mlkem_ossl_params *p = mlkem_ossl_params_get(ids[_i]);

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->pk_len, pk[_i]);
	ck_assert_uint_eq(p->ct_len, ct[_i]);
	ck_assert_ptr_null(mlkem_ossl_params_get(0));
	ck_assert_ptr_null(mlkem_ossl_params_get(34));
	ck_assert_ptr_null(mlkem_ossl_params_get(38));
	ck_assert_ptr_null(mlkem_ossl_params_get(1025));
}
END_TEST

START_TEST(roundtrip)
{
	const struct mlkem_ossl_params *p = mlkem_ossl_params_get(ids[_i]);
	uint8_t pub[MAX_PK], ct[MAX_CT], ss1[MLKEM_SS_LEN], ss2[MLKEM_SS_LEN];
	uint8_t zero[MLKEM_SS_LEN] = { 0 };
	EVP_PKEY *k;

	ck_assert_int_eq(mlkem_ossl_keygen(p, &k, pub), 0);
	ck_assert_int_eq(mlkem_ossl_encaps(p, pub, p->pk_len, ct, ss1), 0);
	ck_assert_int_eq(mlkem_ossl_decaps(p, k, ct, p->ct_len, ss2), 0);
	ck_assert_mem_eq(ss1, ss2, MLKEM_SS_LEN);
	ck_assert_int_ne(memcmp(ss1, zero, MLKEM_SS_LEN), 0);
	EVP_PKEY_free(k);
}
END_TEST

/* Our encapsulation, OpenSSL's own decapsulation (and the reverse). */
START_TEST(against_openssl)
{
	const struct mlkem_ossl_params *p = mlkem_ossl_params_get(ids[_i]);
	uint8_t pub[MAX_PK], ct[MAX_CT], ss1[MLKEM_SS_LEN], ss2[MLKEM_SS_LEN];
	size_t pub_len = sizeof(pub), ct_len = sizeof(ct), ss_len = sizeof(ss2);
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *k = NULL;

	/* OpenSSL generates, we encapsulate, OpenSSL decapsulates */
	ctx = EVP_PKEY_CTX_new_from_name(NULL, p->name, NULL);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_PKEY_keygen_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_keygen(ctx, &k), 1);
	EVP_PKEY_CTX_free(ctx);
	ck_assert_int_eq(EVP_PKEY_get_raw_public_key(k, pub, &pub_len), 1);
	ck_assert_uint_eq(pub_len, p->pk_len);
	ck_assert_int_eq(mlkem_ossl_encaps(p, pub, pub_len, ct, ss1), 0);
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	ck_assert_int_eq(EVP_PKEY_decapsulate_init(ctx, NULL), 1);
	ck_assert_int_eq(EVP_PKEY_decapsulate(ctx, ss2, &ss_len, ct,
					      p->ct_len), 1);
	ck_assert_uint_eq(ss_len, MLKEM_SS_LEN);
	ck_assert_mem_eq(ss1, ss2, MLKEM_SS_LEN);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(k);

	/* we generate, OpenSSL encapsulates, we decapsulate */
	ck_assert_int_eq(mlkem_ossl_keygen(p, &k, pub), 0);
	{
		EVP_PKEY *peer = EVP_PKEY_new_raw_public_key_ex(NULL, p->name,
						NULL, pub, p->pk_len);

		ck_assert_ptr_nonnull(peer);
		ctx = EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL);
		ck_assert_int_eq(EVP_PKEY_encapsulate_init(ctx, NULL), 1);
		ss_len = sizeof(ss1);
		ck_assert_int_eq(EVP_PKEY_encapsulate(ctx, ct, &ct_len, ss1,
						      &ss_len), 1);
		ck_assert_uint_eq(ct_len, p->ct_len);
		EVP_PKEY_CTX_free(ctx);
		EVP_PKEY_free(peer);
	}
	ck_assert_int_eq(mlkem_ossl_decaps(p, k, ct, ct_len, ss2), 0);
	ck_assert_mem_eq(ss1, ss2, MLKEM_SS_LEN);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(wrong_lengths)
{
	const struct mlkem_ossl_params *p = mlkem_ossl_params_get(ids[_i]);
	uint8_t pub[MAX_PK + 1], ct[MAX_CT + 1], ss[MLKEM_SS_LEN];
	EVP_PKEY *k;

	ck_assert_int_eq(mlkem_ossl_keygen(p, &k, pub), 0);
	ck_assert_int_eq(mlkem_ossl_encaps(p, pub, p->pk_len - 1, ct, ss), -EINVAL);
	ck_assert_int_eq(mlkem_ossl_encaps(p, pub, p->pk_len + 1, ct, ss), -EINVAL);
	ck_assert_int_eq(mlkem_ossl_encaps(p, pub, 0, ct, ss), -EINVAL);
	ck_assert_int_eq(mlkem_ossl_encaps(p, pub, p->pk_len, ct, ss), 0);
	ck_assert_int_eq(mlkem_ossl_decaps(p, k, ct, p->ct_len - 1, ss), -EINVAL);
	ck_assert_int_eq(mlkem_ossl_decaps(p, k, ct, p->ct_len + 1, ss), -EINVAL);
	ck_assert_int_eq(mlkem_ossl_decaps(p, k, ct, 0, ss), -EINVAL);
	EVP_PKEY_free(k);
}
END_TEST

/* FIPS 203 7.2: a coefficient >= q (all bits set) fails the modulus check. */
START_TEST(invalid_public_key)
{
	const struct mlkem_ossl_params *p = mlkem_ossl_params_get(ids[_i]);
	uint8_t pub[MAX_PK], ct[MAX_CT], ss[MLKEM_SS_LEN];
	EVP_PKEY *k;

	ck_assert_int_eq(mlkem_ossl_keygen(p, &k, pub), 0);
	/* the first 12-bit coefficient set to 0xfff > q = 3329 */
	pub[0] = 0xff;
	pub[1] |= 0x0f;
	ck_assert_int_eq(mlkem_ossl_encaps(p, pub, p->pk_len, ct, ss), -EINVAL);
	memset(pub, 0xff, sizeof(pub));
	ck_assert_int_eq(mlkem_ossl_encaps(p, pub, p->pk_len, ct, ss), -EINVAL);
	EVP_PKEY_free(k);
}
END_TEST

/* A forged ciphertext: implicit rejection, a different but stable secret. */
START_TEST(forged_ciphertext)
{
	const struct mlkem_ossl_params *p = mlkem_ossl_params_get(ids[_i]);
	uint8_t pub[MAX_PK], ct[MAX_CT];
	uint8_t ss[MLKEM_SS_LEN], bad1[MLKEM_SS_LEN], bad2[MLKEM_SS_LEN];
	EVP_PKEY *k;

	ck_assert_int_eq(mlkem_ossl_keygen(p, &k, pub), 0);
	ck_assert_int_eq(mlkem_ossl_encaps(p, pub, p->pk_len, ct, ss), 0);
	ct[p->ct_len / 2] ^= 0x01;
	ck_assert_int_eq(mlkem_ossl_decaps(p, k, ct, p->ct_len, bad1), 0);
	ck_assert_int_eq(mlkem_ossl_decaps(p, k, ct, p->ct_len, bad2), 0);
	ck_assert_int_ne(memcmp(ss, bad1, MLKEM_SS_LEN), 0);
	ck_assert_mem_eq(bad1, bad2, MLKEM_SS_LEN);
	EVP_PKEY_free(k);
}
END_TEST

Suite *mlkem_suite(void)
{
	Suite *s = suite_create("mlkem-openssl");
	TCase *tc = tcase_create("kem");
	int n = sizeof(ids) / sizeof(ids[0]);

	tcase_add_loop_test(tc, params, 0, n);
	tcase_add_loop_test(tc, roundtrip, 0, n);
	tcase_add_loop_test(tc, against_openssl, 0, n);
	tcase_add_loop_test(tc, wrong_lengths, 0, n);
	tcase_add_loop_test(tc, invalid_public_key, 0, n);
	tcase_add_loop_test(tc, forged_ciphertext, 0, n);
	suite_add_tcase(s, tc);
	return s;
}
