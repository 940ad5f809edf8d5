/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Counters of IKE key exchanges, as the IKE daemon reports them with
 * ke-report: by outcome, and by the reason an exchange went without a QKD
 * key.  A pool has one set, and each network namespace one more for the
 * exchanges that had no pool at all.  Pure functions: the caller locks.
 */
#ifndef _QKD_KE_H
#define _QKD_KE_H

#include <linux/compiler.h>
#include <linux/netlink.h>
#include <linux/types.h>
#include <uapi/linux/qkd.h>

/*
 * The IKE daemon alone knows how an exchange ended; the module keeps the
 * counts where operators already look.  An exchange of outcome
 * tag-mismatch counts in tag_mismatch and fallback.  reasons[] is indexed
 * by enum qkd_ke_reason; reasons[QKD_KE_REASON_NONE] stays 0.
 */
struct qkd_ke_stats {
	u64 qkd;
	u64 fallback;
	u64 tag_mismatch;
	u64 refused;
	u64 reasons[QKD_KE_REASON_MAX + 1];
};

/*
 * Check a report before anything is looked up or counted: @outcome and
 * @reason in their enums, no reason with outcome qkd, and outcome qkd only
 * for a report about a pool (@has_pool).  0 or -EINVAL with a message.
 */
int __must_check qkd_ke_check(u32 outcome, u32 reason, bool has_pool,
			      struct netlink_ext_ack *extack);

/* Count one report that passed qkd_ke_check(). */
void qkd_ke_count(struct qkd_ke_stats *ke, enum qkd_ke_outcome outcome,
		  enum qkd_ke_reason reason);

#endif /* _QKD_KE_H */
