// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The combined method (ML-KEM and qkd in one payload, qkd_combo.c): every
 * ACK/NAK path with real ML-KEM (OpenSSL, mlkem_ossl.c) and the fake
 * pools, the derivation (both sides the same secret; ML-KEM's || the QKD
 * key after an ACK, exactly ML-KEM's after a NAK), truncation at every
 * byte of both messages, wrong lengths and versions rejected with nothing
 * taken or encapsulated, retries taking no second key.
 */
#include <errno.h>
#include <string.h>
#include <openssl/evp.h>
#include "qkd_combo.h"
#include "mlkem_ossl.h"
#include "fake_pool.h"
#include "tests.h"

/* ML-KEM through mlkem_ossl.c, counting what it does. */
struct test_kem {
	const struct mlkem_ossl_params *p;
	EVP_PKEY *pkey;			/* initiator */
	uint8_t pub[QKD_COMBO_KEM_MAX_LEN];
	uint8_t ct[QKD_COMBO_KEM_MAX_LEN];	/* responder */
	bool have_ct;
	uint8_t ss[MLKEM_SS_LEN];
	bool have_ss;
	int keygens, encaps, decaps;
};

static int kem_get_public(void *kem, uint8_t *out, size_t len)
{
	struct test_kem *k = kem;

	if (k->have_ct) {
		ck_assert_uint_eq(len, k->p->ct_len);
		memcpy(out, k->ct, len);
		return 0;
	}
	ck_assert_uint_eq(len, k->p->pk_len);
	if (!k->pkey) {
		if (mlkem_ossl_keygen(k->p, &k->pkey, k->pub) != 0)
			return -EIO;
		k->keygens++;
	}
	memcpy(out, k->pub, len);
	return 0;
}

static int kem_set_public(void *kem, const uint8_t *in, size_t len)
{
	struct test_kem *k = kem;
	int ret;

	if (k->pkey) {
		ret = mlkem_ossl_decaps(k->p, k->pkey, in, len, k->ss);
		k->decaps++;
	} else {
		ret = mlkem_ossl_encaps(k->p, in, len, k->ct, k->ss);
		k->encaps++;
		k->have_ct = ret == 0;
	}
	k->have_ss = ret == 0;
	return ret;
}

static int kem_secret(void *kem, uint8_t *out)
{
	struct test_kem *k = kem;

	if (!k->have_ss)
		return -EAGAIN;
	memcpy(out, k->ss, MLKEM_SS_LEN);
	return 0;
}

static const struct qkd_combo_kem_ops kem_ops = {
	.get_public = kem_get_public,
	.set_public = kem_set_public,
	.secret = kem_secret,
};

static const unsigned int kem_ids[] = { 35, 36, 37 };

static struct fake_pool tokyo_pool, osaka_pool;	/* per router */
static struct qkd_proto_exchange iq, rq;
static struct qkd_combo_exchange ini, res;
static struct test_kem ik, rk;

static void kem_reset(struct test_kem *k, const struct mlkem_ossl_params *p)
{
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof(*k));
	k->p = p;
}

/* A fresh responder on the same pool (the truncation loops). */
static void responder_init(enum qkd_proto_policy pol, bool pool)
{
	const struct mlkem_ossl_params *p = ik.p;

	qkd_combo_wipe(&res);
	kem_reset(&rk, p);
	ck_assert_int_eq(qkd_proto_exchange_init(&rq, &fake_ops, &osaka_pool, pol,
						 pool ? "tokyo" : NULL,
						 QKD_PROTO_REASON_NO_POOL), 0);
	ck_assert_int_eq(qkd_combo_init(&res, &rq, &kem_ops, &rk, p->pk_len,
					p->ct_len), 0);
}

/* tokyo initiates to osaka, ML-KEM parameter set @id */
static void setup(unsigned int id, int keys, enum qkd_proto_policy ipol,
		  enum qkd_proto_policy rpol, bool ini_pool, bool res_pool)
{
	const struct mlkem_ossl_params *p = mlkem_ossl_params_get(id);

	ck_assert_ptr_nonnull(p);
	fake_link_pools(&tokyo_pool, &osaka_pool, keys);
	kem_reset(&ik, p);
	ck_assert_int_eq(qkd_proto_exchange_init(&iq, &fake_ops, &tokyo_pool, ipol,
						 ini_pool ? "osaka" : NULL,
						 QKD_PROTO_REASON_NO_POOL), 0);
	ck_assert_int_eq(qkd_combo_init(&ini, &iq, &kem_ops, &ik, p->pk_len,
					p->ct_len), 0);
	responder_init(rpol, res_pool);
}

static void teardown(void)
{
	qkd_combo_wipe(&ini);
	qkd_combo_wipe(&res);
	kem_reset(&ik, NULL);
	kem_reset(&rk, NULL);
}

struct run {
	int offer, answer, finish;
	uint8_t offer_msg[QKD_COMBO_MSG_MAX_LEN];
	uint8_t answer_msg[QKD_COMBO_MSG_MAX_LEN];
	size_t offer_len, answer_len;
};

static struct run r;

static void run(void)
{
	memset(&r, 0, sizeof(r));
	r.offer = qkd_combo_offer(&ini, r.offer_msg, &r.offer_len);
	if (r.offer)
		return;
	r.answer = qkd_combo_answer(&res, r.offer_msg, r.offer_len,
				    r.answer_msg, &r.answer_len);
	if (r.answer)
		return;
	r.finish = qkd_combo_finish(&ini, r.answer_msg, r.answer_len);
}

static size_t secret_of(struct qkd_combo_exchange *c, const uint8_t **s)
{
	size_t len = 0;

	ck_assert_int_eq(qkd_combo_secret(c, s, &len), 0);
	return len;
}

/* The qkd message inside a combined payload. */
static const uint8_t *qkd_part(const uint8_t *msg, size_t kem_len)
{
	return msg + QKD_COMBO_HDR_LEN + kem_len;
}

START_TEST(ack)
{
	const uint8_t *si, *sr;

	setup(kem_ids[_i], 3, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER,
	      true, true);
	run();
	ck_assert_int_eq(r.offer, 0);
	ck_assert_int_eq(r.answer, 0);
	ck_assert_int_eq(r.finish, 0);
	/* one payload each way: frame, ML-KEM, the qkd message */
	ck_assert_uint_eq(r.offer_len, QKD_COMBO_HDR_LEN + ik.p->pk_len +
			  QKD_PROTO_MSG_OFFER_LEN);
	ck_assert_uint_eq(r.answer_len, QKD_COMBO_HDR_LEN + ik.p->ct_len +
			  QKD_PROTO_MSG_ANSWER_LEN);
	ck_assert_int_eq(r.offer_msg[0], QKD_COMBO_VERSION);
	ck_assert_int_eq((r.offer_msg[2] << 8) | r.offer_msg[3], ik.p->pk_len);
	ck_assert_int_eq((r.answer_msg[2] << 8) | r.answer_msg[3], ik.p->ct_len);
	ck_assert_int_eq(qkd_part(r.offer_msg, ik.p->pk_len)[1],
			 QKD_PROTO_MSG_OFFER);
	ck_assert_int_eq(qkd_part(r.answer_msg, ik.p->ct_len)[1],
			 QKD_PROTO_MSG_ACK);
	/* both sides: ML-KEM's secret, then the QKD key */
	ck_assert_uint_eq(secret_of(&ini, &si), MLKEM_SS_LEN + 32);
	ck_assert_uint_eq(secret_of(&res, &sr), MLKEM_SS_LEN + 32);
	ck_assert_mem_eq(si, sr, MLKEM_SS_LEN + 32);
	ck_assert_mem_eq(si, ik.ss, MLKEM_SS_LEN);
	ck_assert_mem_eq(ik.ss, rk.ss, MLKEM_SS_LEN);
	ck_assert_mem_eq(si + MLKEM_SS_LEN, osaka_pool.in[0].material, 32);
	/* one key on each side, the same one; one ML-KEM operation each */
	ck_assert_int_eq(tokyo_pool.n_out, 2);
	ck_assert_int_eq(fake_in_level(&osaka_pool), 2);
	ck_assert(!osaka_pool.in_present[0]);
	ck_assert_mem_eq(iq.key_id, rq.key_id, QKD_KEY_ID_LEN);
	ck_assert_int_eq(ik.keygens, 1);
	ck_assert_int_eq(rk.encaps, 1);
	ck_assert_int_eq(ik.decaps, 1);
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_QKD);
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_QKD);
}
END_TEST

/*
 * Every way to a NAK (or a NONE answered by a NAK) under prefer: ML-KEM
 * still runs, and both secrets are exactly ML-KEM's.
 */
static const struct {
	const char *what;
	int keys;
	bool ini_pool, res_pool;
	int take_id_err;		/* forced on the responder's take */
	bool forge_tag;			/* the offer's tag changed */
	uint8_t reason;			/* the NAK's */
	int ini_keys_left, res_keys_left;
	int outcome;			/* both sides */
} naks[] = {
	{ "initiator empty: NONE", 0, true, true, 0, false,
	  QKD_PROTO_REASON_NO_OFFER, 0, 0, QKD_KE_OUTCOME_FALLBACK },
	{ "initiator without pool: NONE", 2, false, true, 0, false,
	  QKD_PROTO_REASON_NO_OFFER, 2, 2, QKD_KE_OUTCOME_FALLBACK },
	{ "responder without pool", 2, true, false, 0, false,
	  QKD_PROTO_REASON_NO_POOL, 1, 2, QKD_KE_OUTCOME_FALLBACK },
	{ "unknown key ID", 2, true, true, -ENOENT, false,
	  QKD_PROTO_REASON_UNKNOWN_KEY, 1, 2, QKD_KE_OUTCOME_FALLBACK },
	{ "pool error", 2, true, true, -EIO, false,
	  QKD_PROTO_REASON_POOL_ERROR, 1, 2, QKD_KE_OUTCOME_FALLBACK },
	{ "tag mismatch", 2, true, true, 0, true,
	  QKD_PROTO_REASON_TAG_MISMATCH, 1, 2, QKD_KE_OUTCOME_TAG_MISMATCH },
};

START_TEST(nak)
{
	const uint8_t *si, *sr;
	int i;

	for (i = 0; i < 3; i++) {
		setup(kem_ids[i], naks[_i].keys, QKD_PROTO_POLICY_PREFER,
		      QKD_PROTO_POLICY_PREFER, naks[_i].ini_pool,
		      naks[_i].res_pool);
		osaka_pool.force_err = naks[_i].take_id_err;
		memset(&r, 0, sizeof(r));
		ck_assert_int_eq(qkd_combo_offer(&ini, r.offer_msg, &r.offer_len), 0);
		if (naks[_i].forge_tag)
			/* the tag's first byte */
			r.offer_msg[QKD_COMBO_HDR_LEN + ik.p->pk_len + 4 +
				    QKD_KEY_ID_LEN] ^= 1;
		ck_assert_msg(qkd_combo_answer(&res, r.offer_msg, r.offer_len,
					       r.answer_msg, &r.answer_len) == 0,
			      "%s", naks[_i].what);
		ck_assert_int_eq(qkd_combo_finish(&ini, r.answer_msg,
						  r.answer_len), 0);
		ck_assert_int_eq(qkd_part(r.answer_msg, ik.p->ct_len)[1],
				 QKD_PROTO_MSG_NAK);
		ck_assert_int_eq(qkd_part(r.answer_msg, ik.p->ct_len)[2],
				 naks[_i].reason);
		ck_assert(!iq.acked && !rq.acked);
		/* exactly the ML-KEM secret, the same on both sides */
		ck_assert_uint_eq(secret_of(&ini, &si), MLKEM_SS_LEN);
		ck_assert_uint_eq(secret_of(&res, &sr), MLKEM_SS_LEN);
		ck_assert_mem_eq(si, ik.ss, MLKEM_SS_LEN);
		ck_assert_mem_eq(sr, rk.ss, MLKEM_SS_LEN);
		ck_assert_mem_eq(si, sr, MLKEM_SS_LEN);
		ck_assert_int_eq(tokyo_pool.n_out, naks[_i].ini_keys_left);
		ck_assert_int_eq(fake_in_level(&osaka_pool),
				 naks[_i].res_keys_left);
		if (naks[_i].ini_pool)
			fake_assert_report(&tokyo_pool, naks[_i].outcome);
		else
			ck_assert_int_eq(tokyo_pool.ns_reports, 1);
		if (naks[_i].res_pool)
			fake_assert_report(&osaka_pool, naks[_i].outcome);
		else
			ck_assert_int_eq(osaka_pool.ns_reports, 1);
		teardown();
	}
}
END_TEST

/* require: no key refuses the offer; a NAK fails either side */
START_TEST(require)
{
	const uint8_t *s;
	size_t len;

	/* the initiator has no key: nothing on the wire */
	setup(36, 0, QKD_PROTO_POLICY_REQUIRE, QKD_PROTO_POLICY_PREFER, true,
	      true);
	run();
	ck_assert_int_eq(r.offer, -ENOKEY);
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_REFUSED);
	ck_assert_int_eq(qkd_combo_secret(&ini, &s, &len), -EAGAIN);
	teardown();

	/* the responder would NAK: it refuses instead */
	setup(36, 2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_REQUIRE, true,
	      true);
	osaka_pool.force_err = -ENOENT;
	run();
	ck_assert_int_eq(r.answer, -ENOKEY);
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_REFUSED);
	ck_assert_int_eq(qkd_combo_secret(&res, &s, &len), -EAGAIN);
	teardown();

	/* the initiator receives a NAK */
	setup(36, 2, QKD_PROTO_POLICY_REQUIRE, QKD_PROTO_POLICY_PREFER, true,
	      false);
	run();
	ck_assert_int_eq(r.answer, 0);
	ck_assert_int_eq(r.finish, -ENOKEY);
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_REFUSED);
	ck_assert_int_eq(qkd_combo_secret(&ini, &s, &len), -EAGAIN);
	teardown();

	/* both require, keys flow: an ACK */
	setup(36, 2, QKD_PROTO_POLICY_REQUIRE, QKD_PROTO_POLICY_REQUIRE, true,
	      true);
	run();
	ck_assert_int_eq(r.finish, 0);
	ck_assert_uint_eq(secret_of(&ini, &s), MLKEM_SS_LEN + 32);
}
END_TEST

/* Nothing taken, nothing encapsulated, nothing counted: a rejected offer. */
static void assert_offer_rejected(const uint8_t *offer, size_t len, int err)
{
	uint8_t answer[QKD_COMBO_MSG_MAX_LEN];
	size_t alen;
	const uint8_t *s;

	responder_init(QKD_PROTO_POLICY_PREFER, true);
	ck_assert_int_eq(qkd_combo_answer(&res, offer, len, answer, &alen), err);
	ck_assert_str_ne(res.error, "");
	ck_assert_int_eq(osaka_pool.id_calls, 0);
	ck_assert_int_eq(rk.encaps, 0);
	ck_assert_int_eq(qkd_combo_secret(&res, &s, &alen), -EAGAIN);
	/* a rejected payload stays rejected */
	ck_assert_int_eq(qkd_combo_answer(&res, offer, len, answer, &alen),
			 -EPROTO);
	fake_assert_report(&osaka_pool, -1);
}

START_TEST(offer_truncated_at_every_byte)
{
	uint8_t offer[QKD_COMBO_MSG_MAX_LEN];
	size_t len, n;

	setup(kem_ids[_i], 2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER,
	      true, true);
	/* a selector, so the qkd message has its variable part too */
	ck_assert_int_eq(qkd_proto_exchange_set_selector(&iq, 2,
				(const uint8_t *)"tokyo", 5), 0);
	ck_assert_int_eq(qkd_combo_offer(&ini, offer, &len), 0);
	for (n = 0; n < len; n++)
		assert_offer_rejected(offer, n, -EBADMSG);
	/* one byte too many */
	offer[len] = 0;
	assert_offer_rejected(offer, len + 1, -EBADMSG);
	/* and the whole offer is fine */
	responder_init(QKD_PROTO_POLICY_PREFER, true);
	memcpy(r.offer_msg, offer, len);
	ck_assert_int_eq(qkd_combo_answer(&res, offer, len, r.answer_msg,
					  &r.answer_len), 0);
	ck_assert(rq.acked);
	ck_assert_int_eq(osaka_pool.id_calls, 1);
}
END_TEST

START_TEST(offer_malformed)
{
	uint8_t offer[QKD_COMBO_MSG_MAX_LEN], bad[QKD_COMBO_MSG_MAX_LEN];
	size_t len, kl;
	uint8_t *q;

	setup(36, 2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true,
	      true);
	ck_assert_int_eq(qkd_combo_offer(&ini, offer, &len), 0);
	kl = ik.p->pk_len;
	/* another frame version: not parsed further */
	memcpy(bad, offer, len);
	bad[0] = QKD_COMBO_VERSION + 1;
	assert_offer_rejected(bad, len, -EPROTONOSUPPORT);
	ck_assert_str_eq(res.error, "unsupported version");
	bad[0] = 0;
	assert_offer_rejected(bad, len, -EPROTONOSUPPORT);
	/* the reserved byte */
	memcpy(bad, offer, len);
	bad[1] = 1;
	assert_offer_rejected(bad, len, -EBADMSG);
	/* a wrong ML-KEM length, with the message's length to match */
	memcpy(bad, offer, len);
	bad[3]++;
	assert_offer_rejected(bad, len, -EBADMSG);
	ck_assert_str_eq(res.error, "wrong ML-KEM length");
	memcpy(bad, offer, len);
	bad[3]--;
	assert_offer_rejected(bad, len, -EBADMSG);
	/* ML-KEM-512's key in a 768 exchange */
	memcpy(bad, offer, len);
	bad[2] = 800 >> 8;
	bad[3] = 800 & 0xff;
	memmove(bad + QKD_COMBO_HDR_LEN + 800, offer + QKD_COMBO_HDR_LEN + kl,
		len - QKD_COMBO_HDR_LEN - kl);
	assert_offer_rejected(bad, len - (kl - 800), -EBADMSG);
	/* the qkd message in version 1, or a later one */
	memcpy(bad, offer, len);
	q = bad + QKD_COMBO_HDR_LEN + kl;
	q[0] = QKD_PROTO_VERSION + 1;
	assert_offer_rejected(bad, len, -EPROTONOSUPPORT);
	ck_assert_str_eq(res.error, "unsupported qkd message version");
	q[0] = 1;	/* a v1 offer has no selector: 52 bytes */
	assert_offer_rejected(bad, QKD_COMBO_HDR_LEN + kl +
			      QKD_PROTO_MSG_OFFER_V1_LEN, -EPROTONOSUPPORT);
	/* an answer where an offer belongs */
	memcpy(bad, offer, len);
	q[1] = QKD_PROTO_MSG_ACK;
	assert_offer_rejected(bad, QKD_COMBO_HDR_LEN + kl +
			      QKD_PROTO_MSG_ANSWER_LEN, -EBADMSG);
	ck_assert_str_eq(res.error, "not an offer");
	/* not an ML-KEM encapsulation key (FIPS 203 modulus check) */
	memcpy(bad, offer, len);
	memset(bad + QKD_COMBO_HDR_LEN, 0xff, kl);
	responder_init(QKD_PROTO_POLICY_PREFER, true);
	ck_assert_int_eq(qkd_combo_answer(&res, bad, len, r.answer_msg,
					  &r.answer_len), -EBADMSG);
	ck_assert_str_eq(res.error, "invalid ML-KEM encapsulation key");
	ck_assert_int_eq(osaka_pool.id_calls, 0);
	fake_assert_report(&osaka_pool, -1);
}
END_TEST

/*
 * The answer cut at every byte: the initiator's state is restored before
 * each try (it took its key with the offer); each is rejected, decapsulates
 * nothing and counts nothing; then the whole answer completes.
 */
START_TEST(answer_truncated_at_every_byte)
{
	struct qkd_proto_exchange iq0;
	struct qkd_combo_exchange ini0;
	struct test_kem ik0;
	const uint8_t *si, *sr;
	size_t n;
	int err;

	setup(kem_ids[_i], 2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER,
	      true, true);
	ck_assert_int_eq(qkd_combo_offer(&ini, r.offer_msg, &r.offer_len), 0);
	ck_assert_int_eq(qkd_combo_answer(&res, r.offer_msg, r.offer_len,
					  r.answer_msg, &r.answer_len), 0);
	iq0 = iq;
	ini0 = ini;
	ik0 = ik;
	for (n = 0; n <= r.answer_len; n++) {
		iq = iq0;
		ini = ini0;
		ik = ik0;
		if (n == r.answer_len)
			break;
		err = qkd_combo_finish(&ini, r.answer_msg, n);
		ck_assert_msg(err == -EBADMSG || err == -EPROTONOSUPPORT,
			      "%zu bytes: %d", n, err);
		ck_assert_int_eq(ik.decaps, 0);
		ck_assert_int_eq(iq.state, QKD_PROTO_STATE_FAILED);
		ck_assert(!iq.have_key);
		ck_assert_int_eq(tokyo_pool.n_reports, 0);
	}
	ck_assert_int_eq(qkd_combo_finish(&ini, r.answer_msg, r.answer_len), 0);
	ck_assert_uint_eq(secret_of(&ini, &si), MLKEM_SS_LEN + 32);
	ck_assert_uint_eq(secret_of(&res, &sr), MLKEM_SS_LEN + 32);
	ck_assert_mem_eq(si, sr, MLKEM_SS_LEN + 32);
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_QKD);
	explicit_bzero(&iq0, sizeof(iq0));
	explicit_bzero(&ini0, sizeof(ini0));
}
END_TEST

/* An answer of another version, an ACK of another key, an offer back. */
START_TEST(answer_malformed)
{
	uint8_t bad[QKD_COMBO_MSG_MAX_LEN];
	size_t kl;
	static const int cases = 4;
	int i, err;

	for (i = 0; i < cases; i++) {
		setup(36, 2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER,
		      true, true);
		kl = ik.p->ct_len;
		ck_assert_int_eq(qkd_combo_offer(&ini, r.offer_msg,
						 &r.offer_len), 0);
		ck_assert_int_eq(qkd_combo_answer(&res, r.offer_msg,
						  r.offer_len, r.answer_msg,
						  &r.answer_len), 0);
		memcpy(bad, r.answer_msg, r.answer_len);
		switch (i) {
		case 0:
			bad[0] = QKD_COMBO_VERSION + 1;
			break;
		case 1:	/* the ACK's key ID */
			bad[QKD_COMBO_HDR_LEN + kl + 4] ^= 1;
			break;
		case 2:	/* the ciphertext length */
			bad[3] ^= 1;
			break;
		case 3:	/* the qkd message's version */
			bad[QKD_COMBO_HDR_LEN + kl] = QKD_PROTO_VERSION + 1;
			break;
		}
		err = qkd_combo_finish(&ini, bad, r.answer_len);
		ck_assert_msg(err == -EBADMSG || err == -EPROTONOSUPPORT,
			      "case %d: %d", i, err);
		ck_assert_str_ne(ini.error, "");
		ck_assert(!iq.have_key);
		/* rejected for good: the right answer no longer completes it */
		ck_assert_int_eq(qkd_combo_finish(&ini, r.answer_msg,
						  r.answer_len), -EPROTO);
		fake_assert_report(&tokyo_pool, -1);
		teardown();
	}
}
END_TEST

/* A retried message: the same offer, one key pair, one QKD key. */
START_TEST(retries)
{
	uint8_t a[QKD_COMBO_MSG_MAX_LEN], b[QKD_COMBO_MSG_MAX_LEN];
	size_t la, lb;
	const uint8_t *si, *sr;

	setup(36, 3, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true,
	      true);
	ck_assert_int_eq(qkd_combo_offer(&ini, a, &la), 0);
	ck_assert_int_eq(qkd_combo_offer(&ini, b, &lb), 0);
	ck_assert_uint_eq(la, lb);
	ck_assert_mem_eq(a, b, la);
	ck_assert_int_eq(tokyo_pool.next_calls, 1);
	ck_assert_int_eq(ik.keygens, 1);
	/* the responder answers the same offer twice the same way */
	ck_assert_int_eq(qkd_combo_answer(&res, a, la, r.answer_msg,
					  &r.answer_len), 0);
	ck_assert_int_eq(qkd_combo_answer(&res, a, la, b, &lb), 0);
	ck_assert_uint_eq(lb, r.answer_len);
	ck_assert_mem_eq(b, r.answer_msg, lb);
	ck_assert_int_eq(osaka_pool.id_calls, 1);
	ck_assert_int_eq(rk.encaps, 1);
	/* and refuses another offer on the same exchange */
	a[la - 1] ^= 1;
	ck_assert_int_eq(qkd_combo_answer(&res, a, la, b, &lb), -EALREADY);
	ck_assert_int_eq(osaka_pool.id_calls, 1);
	ck_assert_int_eq(qkd_combo_finish(&ini, r.answer_msg, r.answer_len), 0);
	/* a second answer changes nothing */
	ck_assert_int_eq(qkd_combo_finish(&ini, r.answer_msg, r.answer_len),
			 -EPROTO);
	ck_assert_uint_eq(secret_of(&ini, &si), MLKEM_SS_LEN + 32);
	ck_assert_uint_eq(secret_of(&res, &sr), MLKEM_SS_LEN + 32);
	ck_assert_mem_eq(si, sr, MLKEM_SS_LEN + 32);
	ck_assert_int_eq(tokyo_pool.n_out, 2);
	ck_assert_int_eq(fake_in_level(&osaka_pool), 2);
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_QKD);
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_QKD);
}
END_TEST

/* ML-KEM failing to make a key pair takes no QKD key. */
static int failing_get_public(void *kem, uint8_t *out, size_t len)
{
	(void)kem;
	(void)out;
	(void)len;
	return -EIO;
}

START_TEST(kem_failure_takes_nothing)
{
	static const struct qkd_combo_kem_ops broken = {
		.get_public = failing_get_public,
		.set_public = kem_set_public,
		.secret = kem_secret,
	};
	const uint8_t *s;
	size_t len;

	setup(36, 2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true,
	      true);
	ini.ops = &broken;
	ck_assert_int_eq(qkd_combo_offer(&ini, r.offer_msg, &r.offer_len), -EIO);
	ck_assert_int_eq(tokyo_pool.next_calls, 0);
	ck_assert_int_eq(tokyo_pool.n_out, 2);
	ck_assert_int_eq(qkd_combo_offer(&ini, r.offer_msg, &r.offer_len),
			 -EPROTO);
	ck_assert_int_eq(qkd_combo_secret(&ini, &s, &len), -EAGAIN);
	fake_assert_report(&tokyo_pool, -1);
}
END_TEST

START_TEST(init_and_wipe)
{
	const uint8_t *s;
	size_t len;

	ck_assert_int_eq(qkd_combo_init(&ini, &iq, &kem_ops, &ik, 0, 1088),
			 -EINVAL);
	ck_assert_int_eq(qkd_combo_init(&ini, &iq, &kem_ops, &ik, 1184,
					QKD_COMBO_KEM_MAX_LEN + 1), -EINVAL);
	ck_assert_int_eq(qkd_combo_init(&ini, NULL, &kem_ops, &ik, 1184, 1088),
			 -EINVAL);
	setup(36, 2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true,
	      true);
	run();
	ck_assert_int_eq(r.finish, 0);
	qkd_combo_wipe(&ini);
	ck_assert_int_eq(qkd_combo_secret(&ini, &s, &len), -EAGAIN);
	ck_assert(!iq.have_key);
	for (len = 0; len < sizeof(ini.secret); len++)
		ck_assert_int_eq(ini.secret[len], 0);
	qkd_combo_wipe(&ini);
}
END_TEST

/* xorshift64: reproducible mutations */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * The decoder under random mutations of valid messages (flipped bytes, cut
 * or extended): never a crash or a read out of bounds (ASan), and whatever
 * it accepts re-encodes to exactly the bytes it was given.
 */
START_TEST(decode_mutations)
{
	uint8_t msgs[2][QKD_COMBO_MSG_MAX_LEN], m[QKD_COMBO_MSG_MAX_LEN + 8];
	uint8_t re[QKD_COMBO_MSG_MAX_LEN + 8], q[QKD_PROTO_MSG_MAX_LEN];
	size_t lens[2], kl[2];
	struct qkd_combo_msg msg;
	const char *what;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	int i, accepted = 0, ret, n, ql;

	setup(36, 2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true,
	      true);
	ck_assert_int_eq(qkd_proto_exchange_set_selector(&iq, 2,
				(const uint8_t *)"tokyo", 5), 0);
	run();
	ck_assert_int_eq(r.finish, 0);
	memcpy(msgs[0], r.offer_msg, r.offer_len);
	memcpy(msgs[1], r.answer_msg, r.answer_len);
	lens[0] = r.offer_len;
	lens[1] = r.answer_len;
	kl[0] = ik.p->pk_len;
	kl[1] = ik.p->ct_len;
	for (i = 0; i < 20000; i++) {
		int d = i & 1;
		size_t len = lens[d];

		memcpy(m, msgs[d], len);
		memset(m + len, 0, sizeof(m) - len);
		/* mostly in the frame and the qkd message, where the fields are */
		for (n = (int)(rnd(&x) % 4); n >= 0; n--) {
			size_t at = rnd(&x) % 2 ? rnd(&x) % QKD_COMBO_HDR_LEN
				    : QKD_COMBO_HDR_LEN + kl[d] +
				      rnd(&x) % (len - QKD_COMBO_HDR_LEN - kl[d]);

			m[at] ^= (uint8_t)(1 + rnd(&x) % 255);
		}
		if (rnd(&x) % 4 == 0)
			len = (size_t)rnd(&x) % (len + 8);
		ret = qkd_combo_msg_decode(m, len, kl[d], d == 0, &msg, &what);
		if (ret)
			continue;
		accepted++;
		ql = qkd_proto_msg_encode(&msg.qkd, q, sizeof(q));
		ck_assert_int_gt(ql, 0);
		ck_assert_int_eq(qkd_combo_msg_encode(msg.kem, msg.kem_len, q,
						      (size_t)ql, re, sizeof(re)),
				 (int)len);
		ck_assert_mem_eq(re, m, len);
	}
	/* some mutations keep a valid message (a key ID byte, a selector
	 * byte): the check above ran */
	ck_assert_int_gt(accepted, 0);
}
END_TEST

Suite *combo_suite(void)
{
	Suite *s = suite_create("combo");
	TCase *tc = tcase_create("mlkem-qkd");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_loop_test(tc, ack, 0, 3);
	tcase_add_loop_test(tc, nak, 0, sizeof(naks) / sizeof(naks[0]));
	tcase_add_test(tc, require);
	tcase_add_loop_test(tc, offer_truncated_at_every_byte, 0, 3);
	tcase_add_test(tc, offer_malformed);
	tcase_add_loop_test(tc, answer_truncated_at_every_byte, 0, 3);
	tcase_add_test(tc, answer_malformed);
	tcase_add_test(tc, retries);
	tcase_add_test(tc, kem_failure_takes_nothing);
	tcase_add_test(tc, init_and_wipe);
	tcase_add_test(tc, decode_mutations);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
