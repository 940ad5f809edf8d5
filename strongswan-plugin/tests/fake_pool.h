/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef QKD_PLUGIN_FAKE_POOL_H_
#define QKD_PLUGIN_FAKE_POOL_H_

#include <check.h>
#include "qkd_proto.h"

#define FAKE_KEYS	8

struct fake_pool {
	const char *name;
	struct qkd_key out[FAKE_KEYS];	/* FIFO */
	int n_out;
	struct qkd_key in[FAKE_KEYS];
	bool in_present[FAKE_KEYS];
	int next_calls, id_calls;
	int force_err;			/* returned by the next take, if set */
	int reports[QKD_KE_OUTCOME_REFUSED + 1];	/* per outcome */
	int n_reports;
	int report_err;			/* returned by every report, if set */
	uint32_t reason;		/* of the last report in the pool */
	int ns_reports;			/* reports without a pool */
	uint32_t ns_reason;		/* of the last one */
	uint32_t bad_len;		/* hand out keys of this length, if set */
};

/* The pool operations of qkd_proto_exchange_init(), ctx a struct fake_pool. */
extern const struct qkd_proto_pool_ops fake_ops;

/* fake_ops' operations, for tests that leave one out */
int fake_take_next(void *ctx, const char *pool, struct qkd_key *key);
int fake_take_id(void *ctx, const char *pool,
		 const uint8_t key_id[QKD_KEY_ID_LEN],
		 const uint8_t tag[QKD_TAG_LEN], struct qkd_key *key);
int fake_report(void *ctx, const char *pool, uint32_t outcome,
		uint32_t reason);

/* A 32-byte key whose ID and material derive from @seed. */
void fake_make_key(struct qkd_key *k, uint8_t seed);
/* Two routers of one QKD link: @a's outbound keys are @b's inbound ones. */
void fake_link_pools(struct fake_pool *a, struct fake_pool *b, int n);
/* The keys left in @p's inbound side. */
int fake_in_level(const struct fake_pool *p);
/* @p reported exactly one outcome, @outcome; -1: none at all. */
void fake_assert_report(const struct fake_pool *p, int outcome);

#endif
