// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Every ACK/NAK path of the qkd exchange, initiator and responder wired
 * back to back, each with a fake pool (fake_pool.c) that behaves like the
 * qkdpool module: take-once, outbound FIFO, inbound by ID, a take with a
 * wrong tag rejected (-EKEYREJECTED) without consuming the key.
 */
#include <errno.h>
#include <string.h>
#include "qkd_proto.h"
#include "fake_pool.h"
#include "tests.h"

static struct fake_pool tokyo_pool, osaka_pool;	/* per router */
static struct qkd_proto_exchange ini, res;

/* tokyo initiates to osaka: tokyo's pool "osaka", osaka's pool "tokyo" */
static void setup(int keys, enum qkd_proto_policy ipol, enum qkd_proto_policy rpol,
		  bool ini_pool, bool res_pool)
{
	fake_link_pools(&tokyo_pool, &osaka_pool, keys);
	ck_assert_int_eq(qkd_proto_exchange_init(&ini, &fake_ops, &tokyo_pool, ipol,
					   ini_pool ? "osaka" : NULL, QKD_PROTO_REASON_NO_POOL), 0);
	ck_assert_int_eq(qkd_proto_exchange_init(&res, &fake_ops, &osaka_pool, rpol,
					   res_pool ? "tokyo" : NULL, QKD_PROTO_REASON_NO_POOL), 0);
}

struct run {
	int offer, answer, finish;
	uint8_t offer_msg[QKD_PROTO_MSG_MAX_LEN], answer_msg[QKD_PROTO_MSG_MAX_LEN];
	size_t offer_len, answer_len;
};

static void run(struct run *r)
{
	memset(r, 0, sizeof(*r));
	r->offer = qkd_proto_exchange_offer(&ini, r->offer_msg, &r->offer_len);
	if (r->offer)
		return;
	r->answer = qkd_proto_exchange_answer(&res, r->offer_msg, r->offer_len,
					r->answer_msg, &r->answer_len);
	if (r->answer)
		return;
	r->finish = qkd_proto_exchange_finish(&ini, r->answer_msg, r->answer_len);
}

static size_t secret_len(const struct qkd_proto_exchange *x, const uint8_t **s)
{
	size_t len = 99;

	ck_assert_int_eq(qkd_proto_exchange_secret(x, s, &len), 0);
	return len;
}

static void assert_nak(const struct run *r, uint8_t reason)
{
	const uint8_t *s;

	ck_assert_int_eq(r->offer, 0);
	ck_assert_int_eq(r->answer, 0);
	ck_assert_int_eq(r->finish, 0);
	ck_assert_uint_eq(r->answer_len, QKD_PROTO_MSG_ANSWER_LEN);
	ck_assert_int_eq(r->answer_msg[1], QKD_PROTO_MSG_NAK);
	ck_assert_int_eq(r->answer_msg[2], reason);
	ck_assert(!ini.acked && !res.acked);
	ck_assert_uint_eq(secret_len(&ini, &s), 0);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(secret_len(&res, &s), 0);
	ck_assert_ptr_null(s);
}

static void teardown(void)
{
	qkd_proto_exchange_wipe(&ini);
	qkd_proto_exchange_wipe(&res);
}

START_TEST(ack)
{
	const uint8_t *si, *sr;
	struct run r;
	uint8_t id0[QKD_KEY_ID_LEN];

	setup(3, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	memcpy(id0, tokyo_pool.out[0].id, sizeof(id0));
	run(&r);
	ck_assert_int_eq(r.offer, 0);
	ck_assert_uint_eq(r.offer_len, QKD_PROTO_MSG_OFFER_LEN);
	ck_assert_int_eq(r.offer_msg[1], QKD_PROTO_MSG_OFFER);
	ck_assert_mem_eq(r.offer_msg + 4, id0, QKD_KEY_ID_LEN);
	ck_assert_int_eq(r.answer, 0);
	ck_assert_int_eq(r.answer_msg[1], QKD_PROTO_MSG_ACK);
	ck_assert_mem_eq(r.answer_msg + 4, id0, QKD_KEY_ID_LEN);
	ck_assert_int_eq(r.finish, 0);
	ck_assert(ini.acked && res.acked);
	ck_assert_uint_eq(secret_len(&ini, &si), 32);
	ck_assert_uint_eq(secret_len(&res, &sr), 32);
	ck_assert_mem_eq(si, sr, 32);
	/* the secret is the key itself */
	ck_assert_mem_eq(si, osaka_pool.in[0].material, 32);
	/* exactly one key on each side, the same one */
	ck_assert_int_eq(tokyo_pool.n_out, 2);
	ck_assert_int_eq(fake_in_level(&osaka_pool), 2);
	ck_assert(!osaka_pool.in_present[0]);
	ck_assert_mem_eq(ini.key_id, res.key_id, QKD_KEY_ID_LEN);
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_QKD);
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_QKD);
}
END_TEST

/* the offer never carries the material: only ID and tag */
START_TEST(offer_hides_material)
{
	struct run r;
	uint8_t tag[QKD_TAG_LEN];

	setup(1, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	run(&r);
	ck_assert_int_eq(qkd_tag_compute(osaka_pool.in[0].id,
					 osaka_pool.in[0].material, 32, tag), 0);
	ck_assert_mem_eq(r.offer_msg + 20, tag, QKD_TAG_LEN);
	ck_assert_ptr_null(memmem(r.offer_msg, r.offer_len,
				  osaka_pool.in[0].material, 8));
}
END_TEST

START_TEST(initiator_empty)
{
	struct run r;

	setup(0, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	run(&r);
	ck_assert_uint_eq(r.offer_len, QKD_PROTO_MSG_NONE_LEN);
	ck_assert_int_eq(r.offer_msg[1], QKD_PROTO_MSG_NONE);
	ck_assert_int_eq(r.offer_msg[2], QKD_PROTO_REASON_EMPTY);
	assert_nak(&r, QKD_PROTO_REASON_NO_OFFER);
	ck_assert_int_eq(osaka_pool.id_calls, 0);
	ck_assert_int_eq(ini.reason, QKD_PROTO_REASON_EMPTY);
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_FALLBACK);
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_FALLBACK);
}
END_TEST

START_TEST(initiator_no_pool)
{
	struct run r;

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, false, true);
	run(&r);
	ck_assert_int_eq(r.offer_msg[1], QKD_PROTO_MSG_NONE);
	ck_assert_int_eq(r.offer_msg[2], QKD_PROTO_REASON_NO_POOL);
	assert_nak(&r, QKD_PROTO_REASON_NO_OFFER);
	ck_assert_int_eq(tokyo_pool.next_calls, 0);
	ck_assert_int_eq(fake_in_level(&osaka_pool), 2);
	/* no pool on tokyo: counted in its namespace, by reason */
	fake_assert_report(&tokyo_pool, -1);
	ck_assert_int_eq(tokyo_pool.ns_reports, 1);
	ck_assert_uint_eq(tokyo_pool.ns_reason, QKD_PROTO_REASON_NO_POOL);
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_FALLBACK);
	ck_assert_uint_eq(osaka_pool.reason, QKD_PROTO_REASON_NO_OFFER);
}
END_TEST

/* take_next errors: -ENODEV (pool gone) and any other error */
static const struct { int err; uint8_t reason; } take_errors[] = {
	{ -ENODEV, QKD_PROTO_REASON_NO_POOL },
	{ -EIO, QKD_PROTO_REASON_POOL_ERROR },
	{ -EPERM, QKD_PROTO_REASON_POOL_ERROR },
};

START_TEST(initiator_pool_error)
{
	struct run r;

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	tokyo_pool.force_err = take_errors[_i].err;
	run(&r);
	ck_assert_int_eq(r.offer_msg[1], QKD_PROTO_MSG_NONE);
	ck_assert_int_eq(r.offer_msg[2], take_errors[_i].reason);
	assert_nak(&r, QKD_PROTO_REASON_NO_OFFER);
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_FALLBACK);
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_FALLBACK);
}
END_TEST

START_TEST(initiator_bad_key_len)
{
	struct run r;

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	tokyo_pool.bad_len = QKD_KEY_SIZE_MAX + 1;
	run(&r);
	ck_assert_int_eq(r.offer_msg[1], QKD_PROTO_MSG_NONE);
	ck_assert_int_eq(r.offer_msg[2], QKD_PROTO_REASON_POOL_ERROR);
	assert_nak(&r, QKD_PROTO_REASON_NO_OFFER);
}
END_TEST

START_TEST(responder_unknown_key)
{
	struct run r;

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	/* osaka lost its copy of the first key */
	osaka_pool.in_present[0] = false;
	run(&r);
	assert_nak(&r, QKD_PROTO_REASON_UNKNOWN_KEY);
	ck_assert_mem_eq(r.answer_msg + 4, r.offer_msg + 4, QKD_KEY_ID_LEN);
	ck_assert_int_eq(fake_in_level(&osaka_pool), 1);
	ck_assert_int_eq(ini.reason, QKD_PROTO_REASON_UNKNOWN_KEY);
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_FALLBACK);
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_FALLBACK);
}
END_TEST

START_TEST(responder_tag_mismatch)
{
	struct run r;

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	/* key material corrupted on one router */
	osaka_pool.in[0].material[5] ^= 0x10;
	run(&r);
	assert_nak(&r, QKD_PROTO_REASON_TAG_MISMATCH);
	/* a bad tag consumes nothing */
	ck_assert(osaka_pool.in_present[0]);
	ck_assert_int_eq(fake_in_level(&osaka_pool), 2);
	ck_assert_int_eq(ini.reason, QKD_PROTO_REASON_TAG_MISMATCH);
	/* both sides count the mismatch: the responder saw EKEYREJECTED,
	 * the initiator the NAK's reason */
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_TAG_MISMATCH);
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_TAG_MISMATCH);
}
END_TEST

/* a peer sending valid key IDs with bad tags drains nothing */
START_TEST(forged_tags_consume_nothing)
{
	uint8_t offer[QKD_PROTO_MSG_MAX_LEN], answer[QKD_PROTO_MSG_MAX_LEN];
	struct qkd_proto_msg m = { .version = 1, .type = QKD_PROTO_MSG_OFFER };
	size_t len;
	int i;

	setup(4, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	for (i = 0; i < 4; i++) {
		memcpy(m.key_id, osaka_pool.in[i].id, QKD_KEY_ID_LEN);
		memset(m.tag, i, QKD_TAG_LEN);
		ck_assert_int_eq(qkd_proto_msg_encode(&m, offer, sizeof(offer)), 52);
		ck_assert_int_eq(qkd_proto_exchange_init(&res, &fake_ops, &osaka_pool,
						   QKD_PROTO_POLICY_PREFER, "tokyo", QKD_PROTO_REASON_NO_POOL), 0);
		ck_assert_int_eq(qkd_proto_exchange_answer(&res, offer, 52, answer,
						     &len), 0);
		ck_assert_int_eq(answer[1], QKD_PROTO_MSG_NAK);
		ck_assert_int_eq(answer[2], QKD_PROTO_REASON_TAG_MISMATCH);
	}
	ck_assert_int_eq(fake_in_level(&osaka_pool), 4);
}
END_TEST

START_TEST(responder_no_pool)
{
	struct run r;

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, false);
	run(&r);
	assert_nak(&r, QKD_PROTO_REASON_NO_POOL);
	ck_assert_int_eq(osaka_pool.id_calls, 0);
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_FALLBACK);
	ck_assert_uint_eq(tokyo_pool.reason, QKD_PROTO_REASON_NO_POOL);
	fake_assert_report(&osaka_pool, -1);
	ck_assert_int_eq(osaka_pool.ns_reports, 1);
	ck_assert_uint_eq(osaka_pool.ns_reason, QKD_PROTO_REASON_NO_POOL);
}
END_TEST

static const struct { int err; uint8_t reason; } take_id_errors[] = {
	{ -ENODEV, QKD_PROTO_REASON_NO_POOL },
	{ -EIO, QKD_PROTO_REASON_POOL_ERROR },
	{ -ENOMEM, QKD_PROTO_REASON_POOL_ERROR },
};

START_TEST(responder_pool_error)
{
	struct run r;

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	osaka_pool.force_err = take_id_errors[_i].err;
	run(&r);
	assert_nak(&r, take_id_errors[_i].reason);
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_FALLBACK);
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_FALLBACK);
}
END_TEST

/* a pool handing out a key of a bad length is a pool error, no ACK */
START_TEST(responder_bad_key_len)
{
	struct run r;

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	osaka_pool.bad_len = QKD_KEY_SIZE_MIN - 1;
	run(&r);
	assert_nak(&r, QKD_PROTO_REASON_POOL_ERROR);
}
END_TEST

START_TEST(responder_later_version)
{
	uint8_t offer[QKD_PROTO_MSG_MAX_LEN] = { QKD_PROTO_VERSION + 1, 1, 0, 0 };
	uint8_t answer[QKD_PROTO_MSG_MAX_LEN], zero[QKD_KEY_ID_LEN] = { 0 };
	struct qkd_proto_msg m;
	size_t len;
	const uint8_t *s;

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	ck_assert_int_eq(qkd_proto_exchange_answer(&res, offer, sizeof(offer), answer, &len), 0);
	ck_assert_int_eq(qkd_proto_msg_decode(answer, len, &m), 0);
	ck_assert_int_eq(m.type, QKD_PROTO_MSG_NAK);
	ck_assert_int_eq(m.reason, QKD_PROTO_REASON_VERSION);
	ck_assert_mem_eq(m.key_id, zero, QKD_KEY_ID_LEN);
	ck_assert_uint_eq(secret_len(&res, &s), 0);
	ck_assert_int_eq(osaka_pool.id_calls, 0);
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_FALLBACK);
}
END_TEST

START_TEST(responder_malformed_offer)
{
	static const uint8_t offers[][QKD_PROTO_MSG_MAX_LEN] = {
		{ 1, QKD_PROTO_MSG_ACK, 0, 0 },	/* an answer as offer */
		{ 1, QKD_PROTO_MSG_NAK, 4, 0 },
		{ 1, QKD_PROTO_MSG_OFFER, 0, 0 },	/* truncated */
	};
	static const size_t lens[] = { 20, 20, 51 };
	uint8_t answer[QKD_PROTO_MSG_MAX_LEN];
	size_t len;
	const uint8_t *s;
	int i;

	for (i = 0; i < 3; i++) {
		setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
		ck_assert_int_eq(qkd_proto_exchange_answer(&res, offers[i], lens[i],
						     answer, &len), -EBADMSG);
		ck_assert_int_eq(res.state, QKD_PROTO_STATE_FAILED);
		ck_assert_int_eq(qkd_proto_exchange_secret(&res, &s, &len), -EAGAIN);
		ck_assert_int_eq(osaka_pool.id_calls, 0);
	}
	/* a malformed offer is a protocol error, not an outcome */
	fake_assert_report(&osaka_pool, -1);
}
END_TEST

START_TEST(require_initiator_no_key)
{
	uint8_t out[QKD_PROTO_MSG_MAX_LEN];
	size_t len = 0;

	setup(0, QKD_PROTO_POLICY_REQUIRE, QKD_PROTO_POLICY_PREFER, true, true);
	ck_assert_int_eq(qkd_proto_exchange_offer(&ini, out, &len), -ENOKEY);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(ini.state, QKD_PROTO_STATE_FAILED);
	/* no second chance: a retry fails the same way */
	ck_assert_int_eq(qkd_proto_exchange_offer(&ini, out, &len), -EPROTO);
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_REFUSED);
}
END_TEST

START_TEST(require_responder_nak)
{
	struct run r;
	const uint8_t *s;
	size_t len;

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_REQUIRE, true, true);
	osaka_pool.in[0].material[0] ^= 1;
	run(&r);
	ck_assert_int_eq(r.answer, -ENOKEY);
	ck_assert_int_eq(res.state, QKD_PROTO_STATE_FAILED);
	ck_assert_int_eq(qkd_proto_exchange_secret(&res, &s, &len), -EAGAIN);
	ck_assert(osaka_pool.in_present[0]);
	/* a tag mismatch refused under require counts as refused; the
	 * initiator got no answer: its exchange has no outcome */
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_REFUSED);
	fake_assert_report(&tokyo_pool, -1);

	/* NONE under require on the responder */
	setup(0, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_REQUIRE, true, true);
	run(&r);
	ck_assert_int_eq(r.answer, -ENOKEY);
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_REFUSED);
}
END_TEST

START_TEST(require_initiator_nak)
{
	struct run r;
	const uint8_t *s;
	size_t len;

	setup(2, QKD_PROTO_POLICY_REQUIRE, QKD_PROTO_POLICY_PREFER, true, true);
	osaka_pool.in_present[0] = false;
	run(&r);
	ck_assert_int_eq(r.answer, 0);
	ck_assert_int_eq(r.finish, -ENOKEY);
	ck_assert_int_eq(ini.state, QKD_PROTO_STATE_FAILED);
	ck_assert_int_eq(qkd_proto_exchange_secret(&ini, &s, &len), -EAGAIN);
	ck_assert(!ini.have_key);
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_REFUSED);
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_FALLBACK);
}
END_TEST

START_TEST(require_ack)
{
	struct run r;
	const uint8_t *s;

	setup(2, QKD_PROTO_POLICY_REQUIRE, QKD_PROTO_POLICY_REQUIRE, true, true);
	run(&r);
	ck_assert_int_eq(r.finish, 0);
	ck_assert_uint_eq(secret_len(&ini, &s), 32);
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_QKD);
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_QKD);
}
END_TEST

/* A retried message (cookie, INVALID_KE) does not take a second key. */
START_TEST(retry_offer_same_key)
{
	uint8_t a[QKD_PROTO_MSG_MAX_LEN], b[QKD_PROTO_MSG_MAX_LEN];
	size_t la, lb;

	setup(3, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	ck_assert_int_eq(qkd_proto_exchange_offer(&ini, a, &la), 0);
	ck_assert_int_eq(qkd_proto_exchange_offer(&ini, b, &lb), 0);
	ck_assert_uint_eq(la, lb);
	ck_assert_mem_eq(a, b, la);
	ck_assert_int_eq(tokyo_pool.next_calls, 1);
	ck_assert_int_eq(tokyo_pool.n_out, 2);
	/* nothing is known before the answer */
	fake_assert_report(&tokyo_pool, -1);
}
END_TEST

START_TEST(retry_answer_same_key)
{
	uint8_t offer[QKD_PROTO_MSG_MAX_LEN], a[QKD_PROTO_MSG_MAX_LEN], b[QKD_PROTO_MSG_MAX_LEN];
	size_t lo, la, lb;

	setup(3, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	ck_assert_int_eq(qkd_proto_exchange_offer(&ini, offer, &lo), 0);
	ck_assert_int_eq(qkd_proto_exchange_answer(&res, offer, lo, a, &la), 0);
	ck_assert_int_eq(qkd_proto_exchange_answer(&res, offer, lo, b, &lb), 0);
	ck_assert_mem_eq(a, b, la);
	ck_assert_int_eq(osaka_pool.id_calls, 1);
	/* another offer on the same exchange is refused */
	offer[4] ^= 1;
	ck_assert_int_eq(qkd_proto_exchange_answer(&res, offer, lo, b, &lb),
			 -EALREADY);
	ck_assert_int_eq(osaka_pool.id_calls, 1);
	ck_assert(res.acked);
	/* answered twice, counted once */
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_QKD);
}
END_TEST

/*
 * A refill that reaches the initiator's outbound side before the
 * responder's inbound side (the lab's bug, which qkd-linkd's order rules
 * out): the offer in between is NAKed as unknown, burns exactly one
 * outbound key (a taken key cannot go back to the kernel), consumes
 * nothing on the responder, and is logged as a fallback on both sides.
 * Once the inbound side holds the keys, the next exchange ACKs the next
 * key; the burnt key's inbound copy stays, orphaned, until it ages out.
 */
START_TEST(refill_outbound_first)
{
	struct qkd_key pending[2];
	uint8_t burnt[QKD_KEY_ID_LEN];
	const uint8_t *s;
	struct run r;

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	/* osaka's inbound copies have not arrived yet */
	pending[0] = osaka_pool.in[0];
	pending[1] = osaka_pool.in[1];
	osaka_pool.in_present[0] = osaka_pool.in_present[1] = false;
	memcpy(burnt, tokyo_pool.out[0].id, sizeof(burnt));
	run(&r);
	assert_nak(&r, QKD_PROTO_REASON_UNKNOWN_KEY);
	ck_assert_int_eq(ini.reason, QKD_PROTO_REASON_UNKNOWN_KEY);
	ck_assert_int_eq(res.reason, QKD_PROTO_REASON_UNKNOWN_KEY);
	ck_assert_int_eq(tokyo_pool.next_calls, 1);
	ck_assert_int_eq(tokyo_pool.n_out, 1);
	ck_assert_int_eq(osaka_pool.id_calls, 1);
	ck_assert_int_eq(fake_in_level(&osaka_pool), 0);
	/* the initiator holds nothing of the burnt key after the NAK */
	ck_assert(!ini.have_key);
	/* a retried answer of the same exchange takes nothing more */
	ck_assert_int_eq(qkd_proto_exchange_finish(&ini, r.answer_msg, r.answer_len),
			 -EPROTO);
	ck_assert_int_eq(tokyo_pool.next_calls, 1);
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_FALLBACK);
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_FALLBACK);

	/* the inbound copies arrive: the next exchange ACKs the next key */
	osaka_pool.in[0] = pending[0];
	osaka_pool.in[1] = pending[1];
	osaka_pool.in_present[0] = osaka_pool.in_present[1] = true;
	qkd_proto_exchange_wipe(&ini);
	qkd_proto_exchange_wipe(&res);
	ck_assert_int_eq(qkd_proto_exchange_init(&ini, &fake_ops, &tokyo_pool,
					   QKD_PROTO_POLICY_PREFER, "osaka", QKD_PROTO_REASON_NO_POOL), 0);
	ck_assert_int_eq(qkd_proto_exchange_init(&res, &fake_ops, &osaka_pool,
					   QKD_PROTO_POLICY_PREFER, "tokyo", QKD_PROTO_REASON_NO_POOL), 0);
	run(&r);
	ck_assert_int_eq(r.finish, 0);
	ck_assert(ini.acked && res.acked);
	ck_assert_mem_eq(r.offer_msg + 4, pending[1].id, QKD_KEY_ID_LEN);
	ck_assert_uint_eq(secret_len(&ini, &s), 32);
	ck_assert_int_eq(tokyo_pool.next_calls, 2);
	ck_assert_int_eq(tokyo_pool.n_out, 0);
	/* one key each side for the ACK; the burnt key's copy is the orphan */
	ck_assert_int_eq(fake_in_level(&osaka_pool), 1);
	ck_assert(osaka_pool.in_present[0]);
	ck_assert_mem_eq(osaka_pool.in[0].id, burnt, QKD_KEY_ID_LEN);
	memset(pending, 0, sizeof(pending));
}
END_TEST

/* the counters are for the operator: a failed report changes nothing */
START_TEST(report_failure_ignored)
{
	const uint8_t *si, *sr;
	struct run r;

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	tokyo_pool.report_err = -ENOENT;
	osaka_pool.report_err = -EPERM;
	run(&r);
	ck_assert_int_eq(r.finish, 0);
	ck_assert(ini.acked && res.acked);
	ck_assert_uint_eq(secret_len(&ini, &si), 32);
	ck_assert_uint_eq(secret_len(&res, &sr), 32);
	ck_assert_mem_eq(si, sr, 32);
	/* and it is not retried */
	fake_assert_report(&tokyo_pool, QKD_KE_OUTCOME_QKD);
	fake_assert_report(&osaka_pool, QKD_KE_OUTCOME_QKD);

	/* no report op at all */
	{
		static const struct qkd_proto_pool_ops no_report = {
			.take_next = fake_take_next,
			.take_id = fake_take_id,
		};

		setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
		ini.ops = &no_report;
		res.ops = &no_report;
		run(&r);
		ck_assert_int_eq(r.finish, 0);
		ck_assert(ini.acked && res.acked);
		fake_assert_report(&tokyo_pool, -1);
	}
}
END_TEST

START_TEST(initiator_bad_answers)
{
	uint8_t offer[QKD_PROTO_MSG_MAX_LEN], ans[QKD_PROTO_MSG_MAX_LEN];
	struct qkd_proto_msg m = { .version = 1 };
	size_t lo;
	const uint8_t *s;
	int i;

	for (i = 0; i < 5; i++) {
		setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
		ck_assert_int_eq(qkd_proto_exchange_offer(&ini, offer, &lo), 0);
		memset(&m, 0, sizeof(m));
		m.version = 1;
		memcpy(m.key_id, offer + 4, QKD_KEY_ID_LEN);
		switch (i) {
		case 0:		/* ACK of another key */
			m.type = QKD_PROTO_MSG_ACK;
			m.key_id[15] ^= 1;
			break;
		case 1:		/* NAK of another key */
			m.type = QKD_PROTO_MSG_NAK;
			m.reason = QKD_PROTO_REASON_UNKNOWN_KEY;
			m.key_id[0] ^= 1;
			break;
		case 2:		/* an offer back */
			m.type = QKD_PROTO_MSG_OFFER;
			break;
		case 3:		/* NONE back */
			m.type = QKD_PROTO_MSG_NONE;
			m.reason = QKD_PROTO_REASON_EMPTY;
			break;
		default:	/* garbage */
			m.type = QKD_PROTO_MSG_ACK;
			break;
		}
		ck_assert_int_gt(qkd_proto_msg_encode(&m, ans, sizeof(ans)), 0);
		if (i == 4)
			ans[3] = 1;
		ck_assert_int_eq(qkd_proto_exchange_finish(&ini, ans,
				 i == 2 ? 52 : i == 3 ? 4 : 20), -EBADMSG);
		ck_assert_int_eq(ini.state, QKD_PROTO_STATE_FAILED);
		ck_assert(!ini.have_key);
		ck_assert_int_eq(qkd_proto_exchange_secret(&ini, &s, &lo), -EAGAIN);
	}
	fake_assert_report(&tokyo_pool, -1);
}
END_TEST

START_TEST(ack_after_none)
{
	uint8_t offer[QKD_PROTO_MSG_MAX_LEN], ans[QKD_PROTO_MSG_MAX_LEN];
	struct qkd_proto_msg m = { .version = 1, .type = QKD_PROTO_MSG_ACK };
	size_t lo;

	setup(0, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	ck_assert_int_eq(qkd_proto_exchange_offer(&ini, offer, &lo), 0);
	ck_assert_int_eq(qkd_proto_msg_encode(&m, ans, sizeof(ans)), 20);
	ck_assert_int_eq(qkd_proto_exchange_finish(&ini, ans, 20), -EBADMSG);
}
END_TEST

START_TEST(wrong_order)
{
	uint8_t buf[QKD_PROTO_MSG_MAX_LEN], out[QKD_PROTO_MSG_MAX_LEN];
	size_t len;
	const uint8_t *s;

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	ck_assert_int_eq(qkd_proto_exchange_secret(&ini, &s, &len), -EAGAIN);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(qkd_proto_exchange_finish(&ini, buf, 20), -EPROTO);
	ck_assert_int_eq(qkd_proto_exchange_offer(&ini, buf, &len), 0);
	/* an initiator is no responder */
	ck_assert_int_eq(qkd_proto_exchange_answer(&ini, buf, len, out, &len),
			 -EPROTO);
	/* and a responder no initiator */
	ck_assert_int_eq(qkd_proto_exchange_answer(&res, buf, QKD_PROTO_MSG_OFFER_LEN, out,
					     &len), 0);
	ck_assert_int_eq(qkd_proto_exchange_offer(&res, buf, &len), -EPROTO);
	ck_assert_int_eq(qkd_proto_exchange_finish(&res, out, 20), -EPROTO);
}
END_TEST

START_TEST(wipe)
{
	static const uint8_t zero[QKD_KEY_SIZE_MAX] = { 0 };
	struct run r;

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	run(&r);
	ck_assert(ini.have_key && res.have_key);
	qkd_proto_exchange_wipe(&ini);
	qkd_proto_exchange_wipe(&res);
	ck_assert_mem_eq(ini.key.material, zero, sizeof(zero));
	ck_assert_mem_eq(res.key.material, zero, sizeof(zero));
	ck_assert(!ini.have_key && !res.have_key);
	qkd_proto_exchange_wipe(&ini);	/* twice is fine */
}
END_TEST

START_TEST(init_pool_names)
{
	char name[QKD_POOL_NAME_MAX_LEN + 2];

	memset(name, 'p', sizeof(name));
	name[QKD_POOL_NAME_MAX_LEN] = '\0';
	ck_assert_int_eq(qkd_proto_exchange_init(&ini, &fake_ops, NULL,
					   QKD_PROTO_POLICY_PREFER, name, QKD_PROTO_REASON_NO_POOL), 0);
	name[QKD_POOL_NAME_MAX_LEN] = 'p';
	name[QKD_POOL_NAME_MAX_LEN + 1] = '\0';
	ck_assert_int_eq(qkd_proto_exchange_init(&ini, &fake_ops, NULL,
					   QKD_PROTO_POLICY_PREFER, name, QKD_PROTO_REASON_NO_POOL), -EINVAL);
	ck_assert_int_eq(qkd_proto_exchange_init(&ini, &fake_ops, NULL,
					   QKD_PROTO_POLICY_PREFER, "", QKD_PROTO_REASON_NO_POOL), -EINVAL);
}
END_TEST

/* Two routers re-keying at the same moment use different keys. */
START_TEST(simultaneous_rekeys)
{
	struct fake_pool t_out, o_in, o_out, t_in;
	struct qkd_proto_exchange a_i, a_r, b_i, b_r;
	uint8_t m1[QKD_PROTO_MSG_MAX_LEN], m2[QKD_PROTO_MSG_MAX_LEN];
	uint8_t a1[QKD_PROTO_MSG_MAX_LEN], a2[QKD_PROTO_MSG_MAX_LEN];
	size_t l1, l2, k1, k2;
	const uint8_t *s1, *s2;
	size_t n1, n2;
	int i;

	/* tokyo->osaka keys and osaka->tokyo keys are separate directions */
	fake_link_pools(&t_out, &o_in, 2);
	fake_link_pools(&o_out, &t_in, 2);
	for (i = 0; i < 2; i++) {
		fake_make_key(&o_out.out[i], (uint8_t)(100 + i));
		t_in.in[i] = o_out.out[i];
	}
	t_out.name = o_in.name = "x";
	o_out.name = t_in.name = "x";
	/* outbound ring and inbound table of one pool are one fake each way */
	ck_assert_int_eq(qkd_proto_exchange_init(&a_i, &fake_ops, &t_out,
					   QKD_PROTO_POLICY_PREFER, "x", QKD_PROTO_REASON_NO_POOL), 0);
	ck_assert_int_eq(qkd_proto_exchange_init(&b_i, &fake_ops, &o_out,
					   QKD_PROTO_POLICY_PREFER, "x", QKD_PROTO_REASON_NO_POOL), 0);
	ck_assert_int_eq(qkd_proto_exchange_init(&a_r, &fake_ops, &o_in,
					   QKD_PROTO_POLICY_PREFER, "x", QKD_PROTO_REASON_NO_POOL), 0);
	ck_assert_int_eq(qkd_proto_exchange_init(&b_r, &fake_ops, &t_in,
					   QKD_PROTO_POLICY_PREFER, "x", QKD_PROTO_REASON_NO_POOL), 0);
	ck_assert_int_eq(qkd_proto_exchange_offer(&a_i, m1, &l1), 0);
	ck_assert_int_eq(qkd_proto_exchange_offer(&b_i, m2, &l2), 0);
	ck_assert_int_ne(memcmp(m1 + 4, m2 + 4, QKD_KEY_ID_LEN), 0);
	ck_assert_int_eq(qkd_proto_exchange_answer(&a_r, m1, l1, a1, &k1), 0);
	ck_assert_int_eq(qkd_proto_exchange_answer(&b_r, m2, l2, a2, &k2), 0);
	ck_assert_int_eq(qkd_proto_exchange_finish(&a_i, a1, k1), 0);
	ck_assert_int_eq(qkd_proto_exchange_finish(&b_i, a2, k2), 0);
	ck_assert(a_i.acked && b_i.acked);
	ck_assert_uint_eq(secret_len(&a_i, &s1), 32);
	ck_assert_uint_eq(secret_len(&b_i, &s2), 32);
	ck_assert_int_ne(memcmp(s1, s2, 32), 0);
	ck_assert_int_eq(qkd_proto_exchange_secret(&a_r, &s2, &n2), 0);
	ck_assert_int_eq(qkd_proto_exchange_secret(&a_i, &s1, &n1), 0);
	ck_assert_mem_eq(s1, s2, n1);
	qkd_proto_exchange_wipe(&a_i);
	qkd_proto_exchange_wipe(&a_r);
	qkd_proto_exchange_wipe(&b_i);
	qkd_proto_exchange_wipe(&b_r);
}
END_TEST


/* the offer carries the selector; the responder sees it, the ACK is v2 */
START_TEST(offer_selector)
{
	static const uint8_t sel[] = "tokyo.example";
	struct qkd_proto_msg m;
	struct run r;

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	ck_assert_int_eq(qkd_proto_exchange_set_selector(&ini, 2, sel,
						   sizeof(sel) - 1), 0);
	run(&r);
	ck_assert_uint_eq(r.offer_len, QKD_PROTO_MSG_OFFER_LEN + sizeof(sel) - 1);
	ck_assert_int_eq(qkd_proto_msg_decode(r.offer_msg, r.offer_len, &m), 0);
	ck_assert_int_eq(m.version, QKD_PROTO_VERSION);
	ck_assert_int_eq(m.sel_type, 2);
	ck_assert_int_eq(m.sel_len, sizeof(sel) - 1);
	ck_assert_mem_eq(m.sel, sel, sizeof(sel) - 1);
	ck_assert_int_eq(r.answer_msg[0], QKD_PROTO_VERSION);
	ck_assert_int_eq(r.answer_msg[1], QKD_PROTO_MSG_ACK);
	ck_assert(ini.acked && res.acked);
}
END_TEST

START_TEST(selector_invalid)
{
	uint8_t sel[QKD_PROTO_SELECTOR_MAX + 1] = { 1 };

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	ck_assert_int_eq(qkd_proto_exchange_set_selector(&ini, 0, sel, 1), -EINVAL);
	ck_assert_int_eq(qkd_proto_exchange_set_selector(&ini, 2, sel, 0), -EINVAL);
	ck_assert_int_eq(qkd_proto_exchange_set_selector(&ini, 2, sel,
						   sizeof(sel)), -EINVAL);
	ck_assert_int_eq(qkd_proto_exchange_set_selector(&ini, 2, NULL, 1), -EINVAL);
}
END_TEST

/* a version 1 peer's offer is answered in version 1, with reasons it
 * knows: "peer not known" travels as "no pool" */
START_TEST(responder_answers_v1)
{
	uint8_t offer[QKD_PROTO_MSG_MAX_LEN], answer[QKD_PROTO_MSG_MAX_LEN];
	struct qkd_proto_msg m = { .version = 1, .type = QKD_PROTO_MSG_OFFER };
	size_t len;

	setup(2, QKD_PROTO_POLICY_PREFER, QKD_PROTO_POLICY_PREFER, true, true);
	memcpy(m.key_id, osaka_pool.in[0].id, QKD_KEY_ID_LEN);
	ck_assert_int_eq(qkd_tag_compute(osaka_pool.in[0].id,
					 osaka_pool.in[0].material,
					 osaka_pool.in[0].len, m.tag), 0);
	ck_assert_int_eq(qkd_proto_msg_encode(&m, offer, sizeof(offer)),
			 QKD_PROTO_MSG_OFFER_V1_LEN);
	ck_assert_int_eq(qkd_proto_exchange_answer(&res, offer, QKD_PROTO_MSG_OFFER_V1_LEN,
					     answer, &len), 0);
	ck_assert_uint_eq(len, QKD_PROTO_MSG_ANSWER_LEN);
	ck_assert_int_eq(answer[0], 1);
	ck_assert_int_eq(answer[1], QKD_PROTO_MSG_ACK);

	ck_assert_int_eq(qkd_proto_exchange_init(&res, &fake_ops, &osaka_pool,
					   QKD_PROTO_POLICY_PREFER, NULL,
					   QKD_PROTO_REASON_PEER_UNKNOWN), 0);
	memcpy(m.key_id, osaka_pool.in[1].id, QKD_KEY_ID_LEN);
	ck_assert_int_eq(qkd_proto_msg_encode(&m, offer, sizeof(offer)),
			 QKD_PROTO_MSG_OFFER_V1_LEN);
	ck_assert_int_eq(qkd_proto_exchange_answer(&res, offer, QKD_PROTO_MSG_OFFER_V1_LEN,
					     answer, &len), 0);
	ck_assert_int_eq(answer[0], 1);
	ck_assert_int_eq(answer[1], QKD_PROTO_MSG_NAK);
	ck_assert_int_eq(answer[2], QKD_PROTO_REASON_NO_POOL);
	ck_assert_int_eq(res.reason, QKD_PROTO_REASON_PEER_UNKNOWN);
	ck_assert_int_eq(osaka_pool.ns_reports, 1);
	ck_assert_uint_eq(osaka_pool.ns_reason, QKD_PROTO_REASON_PEER_UNKNOWN);
}
END_TEST

/* an initiator that cannot know its peer's pool before IKE_AUTH offers
 * nothing, says why, and takes no key */
START_TEST(initiator_peer_unknown)
{
	struct run r;

	fake_link_pools(&tokyo_pool, &osaka_pool, 2);
	ck_assert_int_eq(qkd_proto_exchange_init(&ini, &fake_ops, &tokyo_pool,
					   QKD_PROTO_POLICY_PREFER, NULL,
					   QKD_PROTO_REASON_PEER_UNKNOWN), 0);
	ck_assert_int_eq(qkd_proto_exchange_init(&res, &fake_ops, &osaka_pool,
					   QKD_PROTO_POLICY_PREFER, "tokyo",
					   QKD_PROTO_REASON_NO_POOL), 0);
	run(&r);
	ck_assert_int_eq(r.offer_msg[1], QKD_PROTO_MSG_NONE);
	ck_assert_int_eq(r.offer_msg[2], QKD_PROTO_REASON_PEER_UNKNOWN);
	assert_nak(&r, QKD_PROTO_REASON_NO_OFFER);
	/* the responder knows why: the re-key after IKE_AUTH depends on it */
	ck_assert_int_eq(res.peer_reason, QKD_PROTO_REASON_PEER_UNKNOWN);
	ck_assert_int_eq(tokyo_pool.next_calls, 0);
	ck_assert_int_eq(tokyo_pool.ns_reports, 1);
	ck_assert_uint_eq(tokyo_pool.ns_reason, QKD_PROTO_REASON_PEER_UNKNOWN);
	ck_assert_int_eq(fake_in_level(&osaka_pool), 2);
}
END_TEST

Suite *exchange_suite(void)
{
	Suite *s = suite_create("exchange");
	TCase *tc = tcase_create("ack-nak");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, ack);
	tcase_add_test(tc, offer_hides_material);
	tcase_add_test(tc, initiator_empty);
	tcase_add_test(tc, initiator_no_pool);
	tcase_add_loop_test(tc, initiator_pool_error, 0,
			    sizeof(take_errors) / sizeof(take_errors[0]));
	tcase_add_test(tc, initiator_bad_key_len);
	tcase_add_test(tc, responder_unknown_key);
	tcase_add_test(tc, responder_tag_mismatch);
	tcase_add_test(tc, forged_tags_consume_nothing);
	tcase_add_test(tc, responder_no_pool);
	tcase_add_loop_test(tc, responder_pool_error, 0,
			    sizeof(take_id_errors) / sizeof(take_id_errors[0]));
	tcase_add_test(tc, responder_bad_key_len);
	tcase_add_test(tc, responder_later_version);
	tcase_add_test(tc, responder_malformed_offer);
	tcase_add_test(tc, require_initiator_no_key);
	tcase_add_test(tc, require_responder_nak);
	tcase_add_test(tc, require_initiator_nak);
	tcase_add_test(tc, require_ack);
	tcase_add_test(tc, retry_offer_same_key);
	tcase_add_test(tc, retry_answer_same_key);
	tcase_add_test(tc, report_failure_ignored);
	tcase_add_test(tc, initiator_bad_answers);
	tcase_add_test(tc, ack_after_none);
	tcase_add_test(tc, wrong_order);
	tcase_add_test(tc, wipe);
	tcase_add_test(tc, init_pool_names);
	tcase_add_test(tc, simultaneous_rekeys);
	tcase_add_test(tc, refill_outbound_first);
	tcase_add_test(tc, offer_selector);
	tcase_add_test(tc, selector_invalid);
	tcase_add_test(tc, responder_answers_v1);
	tcase_add_test(tc, initiator_peer_unknown);
	suite_add_tcase(s, tc);
	return s;
}
