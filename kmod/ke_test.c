// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the key exchange counters: every outcome and reason a
 * report may carry, the reports refused, and that a report moves exactly
 * its counters.  Included by ke.c.
 */

#include <kunit/test.h>
#include <linux/string.h>

struct qkd_ke_case {
	const char *name;
	u32 outcome;
	u32 reason;
	bool has_pool;
	int err;
	/* What one report adds, when accepted. */
	struct qkd_ke_stats moves;
};

#define QKD_KE_REASON_CASE(o, field, r, pool)				\
	{								\
		.name = #o "/" #r,					\
		.outcome = QKD_KE_OUTCOME_##o, .reason = QKD_KE_REASON_##r, \
		.has_pool = (pool),					\
		.moves = { .field = 1, .reasons[QKD_KE_REASON_##r] = 1 }, \
	}

static const struct qkd_ke_case qkd_ke_cases[] = {
	{
		.name = "qkd",
		.outcome = QKD_KE_OUTCOME_QKD, .has_pool = true,
		.moves = { .qkd = 1 },
	}, {
		.name = "fallback without reason",
		.outcome = QKD_KE_OUTCOME_FALLBACK, .has_pool = true,
		.moves = { .fallback = 1 },
	}, {
		.name = "tag-mismatch without reason",
		.outcome = QKD_KE_OUTCOME_TAG_MISMATCH, .has_pool = true,
		.moves = { .fallback = 1, .tag_mismatch = 1 },
	}, {
		.name = "refused without reason, no pool",
		.outcome = QKD_KE_OUTCOME_REFUSED,
		.moves = { .refused = 1 },
	}, {
		.name = "tag-mismatch/tag-mismatch",
		.outcome = QKD_KE_OUTCOME_TAG_MISMATCH,
		.reason = QKD_KE_REASON_TAG_MISMATCH, .has_pool = true,
		.moves = { .fallback = 1, .tag_mismatch = 1,
			   .reasons[QKD_KE_REASON_TAG_MISMATCH] = 1 },
	},
	QKD_KE_REASON_CASE(FALLBACK, fallback, NO_OFFER, true),
	QKD_KE_REASON_CASE(FALLBACK, fallback, NO_POOL, false),
	QKD_KE_REASON_CASE(FALLBACK, fallback, EMPTY, true),
	QKD_KE_REASON_CASE(FALLBACK, fallback, UNKNOWN_KEY, true),
	QKD_KE_REASON_CASE(FALLBACK, fallback, POOL_ERROR, true),
	QKD_KE_REASON_CASE(FALLBACK, fallback, VERSION, true),
	QKD_KE_REASON_CASE(FALLBACK, fallback, PRE_AUTH_MISMATCH, true),
	QKD_KE_REASON_CASE(FALLBACK, fallback, PEER_UNKNOWN, false),
	QKD_KE_REASON_CASE(REFUSED, refused, NO_OFFER, true),
	QKD_KE_REASON_CASE(REFUSED, refused, NO_POOL, false),
	QKD_KE_REASON_CASE(REFUSED, refused, TAG_MISMATCH, true),
	QKD_KE_REASON_CASE(REFUSED, refused, PEER_UNKNOWN, true),
	{
		.name = "qkd with a reason",
		.outcome = QKD_KE_OUTCOME_QKD, .reason = QKD_KE_REASON_EMPTY,
		.has_pool = true, .err = -EINVAL,
	}, {
		.name = "qkd without a pool",
		.outcome = QKD_KE_OUTCOME_QKD, .err = -EINVAL,
	}, {
		.name = "reason out of the enum",
		.outcome = QKD_KE_OUTCOME_FALLBACK,
		.reason = QKD_KE_REASON_MAX + 1, .has_pool = true,
		.err = -EINVAL,
	}, {
		.name = "outcome out of the enum",
		.outcome = QKD_KE_OUTCOME_REFUSED + 1, .has_pool = true,
		.err = -EINVAL,
	}, {
		.name = "reason U32_MAX",
		.outcome = QKD_KE_OUTCOME_REFUSED, .reason = U32_MAX,
		.err = -EINVAL,
	},
};

static void qkd_ke_case_desc(const struct qkd_ke_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(qkd_ke, qkd_ke_cases, qkd_ke_case_desc);

static void qkd_ke_expect_stats(struct kunit *test,
				const struct qkd_ke_stats *got,
				const struct qkd_ke_stats *want)
{
	unsigned int r;

	KUNIT_EXPECT_EQ(test, got->qkd, want->qkd);
	KUNIT_EXPECT_EQ(test, got->fallback, want->fallback);
	KUNIT_EXPECT_EQ(test, got->tag_mismatch, want->tag_mismatch);
	KUNIT_EXPECT_EQ(test, got->refused, want->refused);
	for (r = 0; r <= QKD_KE_REASON_MAX; r++)
		KUNIT_EXPECT_EQ_MSG(test, got->reasons[r], want->reasons[r],
				    "reason %u", r);
}

/* Check, then count three times from non-zero counters. */
static void qkd_ke_test_report(struct kunit *test)
{
	const struct qkd_ke_case *c = test->param_value;
	struct qkd_ke_stats ke, want;
	unsigned int i, r;
	int err;

	/* Counters that are not zero, so that a reset would show. */
	memset(&ke, 0, sizeof(ke));
	ke.qkd = 10;
	ke.fallback = 20;
	ke.tag_mismatch = 3;
	ke.refused = 4;
	for (r = 1; r <= QKD_KE_REASON_MAX; r++)
		ke.reasons[r] = 100 * r;
	want = ke;

	err = qkd_ke_check(c->outcome, c->reason, c->has_pool, NULL);
	KUNIT_ASSERT_EQ(test, err, c->err);
	if (err)
		return;
	for (i = 0; i < 3; i++)
		qkd_ke_count(&ke, c->outcome, c->reason);

	want.qkd += 3 * c->moves.qkd;
	want.fallback += 3 * c->moves.fallback;
	want.tag_mismatch += 3 * c->moves.tag_mismatch;
	want.refused += 3 * c->moves.refused;
	for (r = 0; r <= QKD_KE_REASON_MAX; r++)
		want.reasons[r] += 3 * c->moves.reasons[r];
	qkd_ke_expect_stats(test, &ke, &want);
	KUNIT_EXPECT_EQ(test, ke.reasons[QKD_KE_REASON_NONE], 0);
}

/*
 * fallback + refused - sum(reasons) is the number of exchanges reported
 * without a reason (qkdctl shows it as "unspecified"): it holds for any
 * sequence of accepted reports.
 */
static void qkd_ke_test_unspecified(struct kunit *test)
{
	struct qkd_ke_stats ke = {};
	u64 sum = 0, without = 0;
	unsigned int i, r;

	for (i = 0; i < 1000; i++) {
		u32 outcome = i % (QKD_KE_OUTCOME_REFUSED + 1);
		u32 reason = (i / 4) % (QKD_KE_REASON_MAX + 1);

		if (outcome == QKD_KE_OUTCOME_QKD)
			reason = QKD_KE_REASON_NONE;
		if (qkd_ke_check(outcome, reason, true, NULL))
			continue;
		qkd_ke_count(&ke, outcome, reason);
		if (outcome != QKD_KE_OUTCOME_QKD && !reason)
			without++;
	}
	for (r = 1; r <= QKD_KE_REASON_MAX; r++)
		sum += ke.reasons[r];
	KUNIT_EXPECT_EQ(test, ke.qkd, 250);
	KUNIT_EXPECT_EQ(test, ke.fallback + ke.refused, 750);
	KUNIT_EXPECT_EQ(test, ke.fallback + ke.refused - sum, without);
	KUNIT_EXPECT_GT(test, without, 0);
}

static struct kunit_case qkd_ke_test_cases[] = {
	KUNIT_CASE_PARAM(qkd_ke_test_report, qkd_ke_gen_params),
	KUNIT_CASE(qkd_ke_test_unspecified),
	{}
};

static struct kunit_suite qkd_ke_test_suite = {
	.name = "qkd_ke",
	.test_cases = qkd_ke_test_cases,
};

kunit_test_suite(qkd_ke_test_suite);
