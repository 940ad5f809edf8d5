/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/qkd.yaml */
/* YNL-GEN uapi header */

#ifndef _UAPI_LINUX_QKD_H
#define _UAPI_LINUX_QKD_H

#define QKD_FAMILY_NAME		"qkd"
#define QKD_FAMILY_VERSION	1

#define QKD_KEY_ID_LEN		16
#define QKD_KEY_SIZE_MIN	16
#define QKD_KEY_SIZE_MAX	64
#define QKD_POOL_NAME_MAX_LEN	64
#define QKD_CAPACITY_MAX	1048576
#define QKD_BATCH_MAX		512
#define QKD_TAG_LEN		32

/**
 * enum qkd_direction - Which side of a pool.
 * @QKD_DIRECTION_OUT: Keys this node uses when it initiates; a FIFO ring.
 * @QKD_DIRECTION_IN: Keys the peer uses when it initiates; taken by key ID.
 */
enum qkd_direction {
	QKD_DIRECTION_OUT,
	QKD_DIRECTION_IN,
};

/**
 * enum qkd_state - Fill state of one direction, with hysteresis between
 *   watermarks.
 * @QKD_STATE_OK: The level has not fallen below the low watermark since it
 *   last reached the high watermark.
 * @QKD_STATE_LOW: The level fell below the low watermark.
 * @QKD_STATE_EMPTY: No key is left.
 */
enum qkd_state {
	QKD_STATE_OK,
	QKD_STATE_LOW,
	QKD_STATE_EMPTY,
};

/**
 * enum qkd_event - What a pool notification reports.
 * @QKD_EVENT_LOW: The level fell below the low watermark.
 * @QKD_EVENT_EMPTY: The last key was taken, expired or flushed.
 * @QKD_EVENT_REFILLED: After a low or empty event, the level reached the high
 *   watermark.
 * @QKD_EVENT_REMOVED: The pool was deleted, with the keys it still held.
 * @QKD_EVENT_EXPIRED: Keys reached the pool's maximum age and were wiped.
 */
enum qkd_event {
	QKD_EVENT_LOW,
	QKD_EVENT_EMPTY,
	QKD_EVENT_REFILLED,
	QKD_EVENT_REMOVED,
	QKD_EVENT_EXPIRED,
};

/**
 * enum qkd_ke_outcome - How one IKE key exchange of the strongSwan plugin
 *   ended, as the plugin reports it with ke-report once the exchange is over.
 *   The kernel only counts the reports: it does not check them against the
 *   keys taken.
 * @QKD_KE_OUTCOME_QKD: The exchange was keyed with a QKD key of the pool: the
 *   responder took the key by ID with a matching tag (or the initiator got its
 *   ACK). Counted in ke-stats qkd.
 * @QKD_KE_OUTCOME_FALLBACK: No QKD key went into the exchange (empty outbound
 *   ring, unknown key ID, NAK, pool missing at the peer) and policy allowed
 *   the exchange to go on without one. Counted in ke-stats fallback.
 * @QKD_KE_OUTCOME_TAG_MISMATCH: The confirmation tag did not verify: both ends
 *   hold a key with this ID but the material differs, an alarm. The exchange
 *   fell back without a QKD key, so this outcome is counted in ke-stats
 *   tag-mismatch AND fallback.
 * @QKD_KE_OUTCOME_REFUSED: Policy require refused the exchange because no QKD
 *   key could be used (whatever the reason, a tag mismatch included). Counted
 *   in ke-stats refused only.
 */
enum qkd_ke_outcome {
	QKD_KE_OUTCOME_QKD,
	QKD_KE_OUTCOME_FALLBACK,
	QKD_KE_OUTCOME_TAG_MISMATCH,
	QKD_KE_OUTCOME_REFUSED,
};

/**
 * enum qkd_ke_reason - Why an IKE key exchange went without a QKD key, as the
 *   IKE daemon reports it with ke-report (the strongSwan plugin uses the same
 *   numbering). Counted, for outcomes other than qkd, in the reasons nest of
 *   ke-stats: the pool's, or the network namespace's for a report without a
 *   pool ID. Each entry says what an operator should do.
 * @QKD_KE_REASON_NONE: No reason given: the exchange was keyed with QKD, or
 *   the reporter did not say. Not counted by reason; nothing to do.
 * @QKD_KE_REASON_NO_OFFER: The initiator sent no key: its outbound ring was
 *   empty or it has no pool for this node. Look at the peer: its pool's level,
 *   its link manager (qkd-linkd) and QKD link, and that it has a pool mapped
 *   to this node.
 * @QKD_KE_REASON_NO_POOL: No pool is mapped to the peer on this side; reported
 *   without a pool ID and counted in the namespace's ke-stats (ke-stats-get).
 *   Create the pool the IKE daemon looks for (qkdctl pool add, named as the
 *   plugin maps the peer, usually its SAE ID), or fix that mapping.
 * @QKD_KE_REASON_EMPTY: This node's outbound ring was empty when it initiated.
 *   Keys are used faster than the QKD link delivers them, or the link is down:
 *   check the link manager and the QKD link, raise the capacity or the
 *   watermarks, or re-key less often.
 * @QKD_KE_REASON_UNKNOWN_KEY: The responder held no inbound key with the
 *   offered key ID: the two ends' pools are out of step (keys expired, flushed
 *   or never delivered on one side). Check both link managers, that both pools
 *   are fed from the same QKD link, and that max-age is not shorter than the
 *   time a key takes to reach the peer.
 * @QKD_KE_REASON_TAG_MISMATCH: The confirmation tag did not verify: both ends
 *   hold a key with this ID but its material differs. An alarm: the key
 *   sources disagree (a misconfigured KME or link manager, corruption, or an
 *   attack). Flush the affected pools and investigate the QKD link and its
 *   KMEs before trusting it again.
 * @QKD_KE_REASON_POOL_ERROR: The pool could not be read: a netlink error other
 *   than an empty pool or unknown key (module not loaded, missing
 *   CAP_NET_ADMIN, out of memory). Read the IKE daemon's log for the error,
 *   check that qkdpool is loaded and that the daemon has CAP_NET_ADMIN.
 * @QKD_KE_REASON_VERSION: The peer sent a QKD payload version this node does
 *   not support. Upgrade the older of the two nodes so that both speak one
 *   version.
 * @QKD_KE_REASON_PRE_AUTH_MISMATCH: The pool used before authentication
 *   (chosen from the connection or the peer's address) is not the
 *   authenticated peer's pool. Fix the plugin's mapping of connections to
 *   pools so that each names the pool of the identity that authenticates on
 *   it.
 * @QKD_KE_REASON_PEER_UNKNOWN: The peer's pool could not be known before
 *   authentication, so no key was offered. Configure a pool for the connection
 *   in the plugin, so that the first exchanges can use QKD too.
 */
enum qkd_ke_reason {
	QKD_KE_REASON_NONE,
	QKD_KE_REASON_NO_OFFER,
	QKD_KE_REASON_NO_POOL,
	QKD_KE_REASON_EMPTY,
	QKD_KE_REASON_UNKNOWN_KEY,
	QKD_KE_REASON_TAG_MISMATCH,
	QKD_KE_REASON_POOL_ERROR,
	QKD_KE_REASON_VERSION,
	QKD_KE_REASON_PRE_AUTH_MISMATCH,
	QKD_KE_REASON_PEER_UNKNOWN,

	/* private: */
	__QKD_KE_REASON_MAX,
	QKD_KE_REASON_MAX = (__QKD_KE_REASON_MAX - 1)
};

enum {
	QKD_A_STATS_LEVEL = 1,
	QKD_A_STATS_STATE,
	QKD_A_STATS_ADDED,
	QKD_A_STATS_TAKEN,
	QKD_A_STATS_EXPIRED,
	QKD_A_STATS_FLUSHED,
	QKD_A_STATS_REJECTED,
	QKD_A_STATS_MISSED,
	QKD_A_STATS_BYTES_ADDED,
	QKD_A_STATS_BYTES_TAKEN,
	QKD_A_STATS_FILL_RATE,
	QKD_A_STATS_BURN_RATE,
	QKD_A_STATS_TIME_TO_EMPTY,

	__QKD_A_STATS_MAX,
	QKD_A_STATS_MAX = (__QKD_A_STATS_MAX - 1)
};

enum {
	QKD_A_KEY_ID = 1,
	QKD_A_KEY_MATERIAL,

	__QKD_A_KEY_MAX,
	QKD_A_KEY_MAX = (__QKD_A_KEY_MAX - 1)
};

enum {
	QKD_A_KE_STATS_QKD = 1,
	QKD_A_KE_STATS_FALLBACK,
	QKD_A_KE_STATS_TAG_MISMATCH,
	QKD_A_KE_STATS_REFUSED,
	QKD_A_KE_STATS_REASONS,

	__QKD_A_KE_STATS_MAX,
	QKD_A_KE_STATS_MAX = (__QKD_A_KE_STATS_MAX - 1)
};

enum {
	QKD_A_KE_REASONS_NO_OFFER = 1,
	QKD_A_KE_REASONS_NO_POOL,
	QKD_A_KE_REASONS_EMPTY,
	QKD_A_KE_REASONS_UNKNOWN_KEY,
	QKD_A_KE_REASONS_TAG_MISMATCH,
	QKD_A_KE_REASONS_POOL_ERROR,
	QKD_A_KE_REASONS_VERSION,
	QKD_A_KE_REASONS_PRE_AUTH_MISMATCH,
	QKD_A_KE_REASONS_PEER_UNKNOWN,

	__QKD_A_KE_REASONS_MAX,
	QKD_A_KE_REASONS_MAX = (__QKD_A_KE_REASONS_MAX - 1)
};

enum {
	QKD_A_POOL_ID = 1,
	QKD_A_POOL_NAME,
	QKD_A_POOL_KEY_SIZE,
	QKD_A_POOL_CAPACITY,
	QKD_A_POOL_LOW_WATERMARK,
	QKD_A_POOL_HIGH_WATERMARK,
	QKD_A_POOL_MAX_AGE,
	QKD_A_POOL_DIRECTION,
	QKD_A_POOL_KEY,
	QKD_A_POOL_KEY_ID,
	QKD_A_POOL_TAG,
	QKD_A_POOL_STATS_OUT,
	QKD_A_POOL_STATS_IN,
	QKD_A_POOL_EVENT,
	QKD_A_POOL_COUNT,
	QKD_A_POOL_KE_STATS,
	QKD_A_POOL_KE_OUTCOME,
	QKD_A_POOL_KE_REASON,

	__QKD_A_POOL_MAX,
	QKD_A_POOL_MAX = (__QKD_A_POOL_MAX - 1)
};

enum {
	QKD_CMD_POOL_NEW = 1,
	QKD_CMD_POOL_SET,
	QKD_CMD_POOL_GET,
	QKD_CMD_POOL_DEL,
	QKD_CMD_KEY_ADD,
	QKD_CMD_KEY_TAKE,
	QKD_CMD_KEY_FLUSH,
	QKD_CMD_POOL_NTF,
	QKD_CMD_KE_REPORT,
	QKD_CMD_KE_STATS_GET,

	__QKD_CMD_MAX,
	QKD_CMD_MAX = (__QKD_CMD_MAX - 1)
};

#define QKD_MCGRP_MONITOR	"monitor"

#endif /* _UAPI_LINUX_QKD_H */
