// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A fake pool that behaves like the qkdpool module, for the exchange tests
 * of both methods (qkd, and ML-KEM + qkd): take-once, outbound FIFO, inbound
 * by ID, a take with a wrong tag rejected (-EKEYREJECTED) without consuming
 * the key, and every reported outcome counted.
 */
#include <errno.h>
#include <string.h>
#include "fake_pool.h"

void fake_make_key(struct qkd_key *k, uint8_t seed)
{
	int i;

	memset(k, 0, sizeof(*k));
	for (i = 0; i < QKD_KEY_ID_LEN; i++)
		k->id[i] = (uint8_t)(seed * 16 + i);
	for (i = 0; i < 32; i++)
		k->material[i] = (uint8_t)(seed ^ (i * 7));
	k->len = 32;
}

/* Two routers of one QKD link: @a's outbound keys are @b's inbound ones. */
void fake_link_pools(struct fake_pool *a, struct fake_pool *b, int n)
{
	int i;

	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	a->name = "osaka";
	b->name = "tokyo";
	for (i = 0; i < n; i++) {
		fake_make_key(&a->out[i], (uint8_t)(i + 1));
		b->in[i] = a->out[i];
		b->in_present[i] = true;
	}
	a->n_out = n;
}

int fake_in_level(const struct fake_pool *p)
{
	int i, n = 0;

	for (i = 0; i < FAKE_KEYS; i++)
		n += p->in_present[i];
	return n;
}

int fake_take_next(void *ctx, const char *pool, struct qkd_key *key)
{
	struct fake_pool *p = ctx;
	int err = p->force_err;

	p->next_calls++;
	ck_assert_str_eq(pool, p->name);
	if (err) {
		p->force_err = 0;
		return err;
	}
	if (!p->n_out)
		return -ENOENT;
	*key = p->out[0];
	if (p->bad_len)
		key->len = p->bad_len;
	memmove(p->out, p->out + 1, sizeof(p->out[0]) * (FAKE_KEYS - 1));
	p->n_out--;
	return 0;
}

int fake_take_id(void *ctx, const char *pool,
			const uint8_t key_id[QKD_KEY_ID_LEN],
			const uint8_t tag[QKD_TAG_LEN], struct qkd_key *key)
{
	struct fake_pool *p = ctx;
	uint8_t expect[QKD_TAG_LEN];
	int i, err = p->force_err;

	p->id_calls++;
	ck_assert_str_eq(pool, p->name);
	if (err) {
		p->force_err = 0;
		return err;
	}
	for (i = 0; i < FAKE_KEYS; i++) {
		if (!p->in_present[i] ||
		    memcmp(p->in[i].id, key_id, QKD_KEY_ID_LEN) != 0)
			continue;
		ck_assert_int_eq(qkd_tag_compute(p->in[i].id,
						 p->in[i].material,
						 p->in[i].len, expect), 0);
		if (memcmp(expect, tag, QKD_TAG_LEN) != 0)
			return -EKEYREJECTED;	/* the key stays */
		*key = p->in[i];
		if (p->bad_len)
			key->len = p->bad_len;
		p->in_present[i] = false;
		return 0;
	}
	return -ENOENT;
}

int fake_report(void *ctx, const char *pool, uint32_t outcome,
		       uint32_t reason)
{
	struct fake_pool *p = ctx;

	ck_assert_uint_le(outcome, QKD_KE_OUTCOME_REFUSED);
	ck_assert_uint_le(reason, QKD_PROTO_REASON_MAX);
	/* a reason exactly when there is no QKD key */
	ck_assert_int_eq(outcome == QKD_KE_OUTCOME_QKD, reason == QKD_PROTO_REASON_OK);
	if (!pool) {
		/* no pool: the namespace's counters */
		p->ns_reports++;
		p->ns_reason = reason;
		return p->report_err;
	}
	ck_assert_str_eq(pool, p->name);
	p->reports[outcome]++;
	p->n_reports++;
	p->reason = reason;
	return p->report_err;
}

const struct qkd_proto_pool_ops fake_ops = {
	.take_next = fake_take_next,
	.take_id = fake_take_id,
	.report = fake_report,
};

/* @p reported exactly one outcome, @outcome; -1: none at all */
void fake_assert_report(const struct fake_pool *p, int outcome)
{
	if (outcome < 0) {
		ck_assert_int_eq(p->n_reports, 0);
		return;
	}
	ck_assert_int_eq(p->n_reports, 1);
	ck_assert_int_eq(p->reports[outcome], 1);
}
