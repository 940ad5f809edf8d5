/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Netlink messages built as the qkdpool module (and the genetlink
 * controller) would send them: the "recorded buffers" of the unit tests
 * and the fuzzers' seed corpus.  Each builder appends one message at
 * @buf (4-byte aligned, @cap bytes free) and returns its length.
 */
#ifndef QKD_TESTS_KMSG_H
#define QKD_TESTS_KMSG_H

#include <stddef.h>
#include <stdint.h>
#include "qkd.h"

#define KMSG_FAMILY	0x1f
#define KMSG_MCGRP	7

/* @wide: send every uint counter as 8 bytes (the kernel does for big ones). */
size_t kmsg_pool(void *buf, size_t cap, uint32_t seq, uint16_t flags,
		 const struct qkd_pool_info *p, int wide);
/* A ke-stats-get reply; no ke-stats nest unless @ke->present. */
size_t kmsg_ke_stats_reply(void *buf, size_t cap, uint32_t seq,
			   const struct qkd_ke_stats *ke, int wide);
size_t kmsg_new_reply(void *buf, size_t cap, uint32_t seq, uint32_t id);
size_t kmsg_take_reply(void *buf, size_t cap, uint32_t seq,
		       const struct qkd_key *key);
size_t kmsg_flush_reply(void *buf, size_t cap, uint32_t seq,
			uint32_t count);
size_t kmsg_ntf(void *buf, size_t cap, const struct qkd_notification *n);
/* NLMSG_ERROR: @capped only echoes the request header; @msg: extack. */
size_t kmsg_error(void *buf, size_t cap, uint32_t seq, int error,
		  const char *msg, int capped);
size_t kmsg_done(void *buf, size_t cap, uint32_t seq, int error);
size_t kmsg_family(void *buf, size_t cap, uint32_t seq, uint16_t family,
		   const char *grp, uint32_t grp_id);

/* A sample pool with every field set (name "tokyo-osaka", ID 3). */
void kmsg_sample_pool(struct qkd_pool_info *p);
/* Sample namespace counters: 5 fallback, 1 refused; 4 no-pool, 1 peer-unknown. */
void kmsg_sample_ke_no_pool(struct qkd_ke_stats *ke);

#endif
