// SPDX-License-Identifier: GPL-2.0
/*
 * Counters of IKE key exchanges by outcome and by reason (ke.h).
 */

#include <linux/build_bug.h>
#include <linux/errno.h>

#include "ke.h"

/*
 * The ke-reasons nest carries reason N as attribute type N: one table
 * serves both, so they must not drift apart in the spec.
 */
static_assert((int)QKD_A_KE_REASONS_NO_OFFER == (int)QKD_KE_REASON_NO_OFFER);
static_assert((int)QKD_A_KE_REASONS_PEER_UNKNOWN ==
	      (int)QKD_KE_REASON_PEER_UNKNOWN);
static_assert((int)QKD_A_KE_REASONS_MAX == (int)QKD_KE_REASON_MAX);

int qkd_ke_check(u32 outcome, u32 reason, bool has_pool,
		 struct netlink_ext_ack *extack)
{
	/* The policy bounds both; this keeps the counters safe without it. */
	if (outcome > QKD_KE_OUTCOME_REFUSED) {
		NL_SET_ERR_MSG(extack, "unknown key exchange outcome");
		return -EINVAL;
	}
	if (reason > QKD_KE_REASON_MAX) {
		NL_SET_ERR_MSG(extack, "unknown key exchange reason");
		return -EINVAL;
	}
	if (outcome == QKD_KE_OUTCOME_QKD && reason != QKD_KE_REASON_NONE) {
		NL_SET_ERR_MSG(extack,
			       "an exchange keyed with QKD has no reason: a reason needs outcome fallback, tag-mismatch or refused");
		return -EINVAL;
	}
	if (outcome == QKD_KE_OUTCOME_QKD && !has_pool) {
		NL_SET_ERR_MSG(extack,
			       "an exchange keyed with QKD had a pool: pool ID required");
		return -EINVAL;
	}
	return 0;
}

void qkd_ke_count(struct qkd_ke_stats *ke, enum qkd_ke_outcome outcome,
		  enum qkd_ke_reason reason)
{
	switch (outcome) {
	case QKD_KE_OUTCOME_QKD:
		ke->qkd++;
		return;
	case QKD_KE_OUTCOME_FALLBACK:
		ke->fallback++;
		break;
	case QKD_KE_OUTCOME_TAG_MISMATCH:
		/* The exchange went on without the key: a fallback too. */
		ke->tag_mismatch++;
		ke->fallback++;
		break;
	case QKD_KE_OUTCOME_REFUSED:
		ke->refused++;
		break;
	}
	/* Without a reason: by outcome only (fallback + refused - reasons). */
	if (reason != QKD_KE_REASON_NONE && reason <= QKD_KE_REASON_MAX)
		ke->reasons[reason]++;
}

#if IS_ENABLED(CONFIG_QKDPOOL_KUNIT_TEST)
#include "ke_test.c"
#endif
