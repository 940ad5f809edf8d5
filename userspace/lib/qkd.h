/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libqkd: a small client library for the "qkd" generic netlink family of
 * the qkdpool kernel module (Documentation/netlink/specs/qkd.yaml).
 *
 * Conventions
 *
 * - Every function that can fail returns 0 (or a count) on success and a
 *   negative errno on failure.  When the kernel explained a failure with an
 *   extended ack, qkd_last_error() returns its text until the next call on
 *   the same handle.
 *
 * - Threads: a handle is not thread-safe.  Use one handle per thread, or
 *   serialize every call on a handle with a lock of your own.  Handles are
 *   independent of each other; the library has no global state.
 *
 * - Notifications: a handle that called qkd_subscribe() receives pool
 *   notifications on its socket.  Use it only for qkd_notification_recv()
 *   and open a second handle for requests.
 *
 * - Secrets: key material is read from and written to caller-owned
 *   struct qkd_key only.  Every library buffer that held key material is
 *   wiped with explicit_bzero() before it is reused or freed.  Callers wipe
 *   their own struct qkd_key with qkd_key_wipe() when done with it.
 *
 * - Pools are addressed by ID (uint32_t, >= 1); qkd_pool_get() looks one up
 *   by name.
 *
 * The ABI is versioned by the soname (libqkd.so.0) and a version script:
 * only the functions declared here are exported, with version LIBQKD_0.
 */
#ifndef LIBQKD_QKD_H
#define LIBQKD_QKD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/qkd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A direction argument meaning "both directions" (qkd_key_flush()). */
#define QKD_DIRECTION_BOTH	(-1)

struct qkd;

/*
 * Open a handle: a netlink socket, with the family ID and multicast group
 * of "qkd" resolved.  Returns 0 and sets *handle, or a negative errno:
 * -ENOENT when the family is not registered (the qkdpool module is not
 * loaded), or the errno of socket(2) / bind(2).
 */
int qkd_open(struct qkd **handle);

/* Close a handle and free (and wipe) its buffers.  NULL is allowed. */
void qkd_close(struct qkd *handle);

/*
 * The kernel's extended ack message (or the library's own explanation) of
 * the last failed call on @handle; "" when there is none.
 */
const char *qkd_last_error(const struct qkd *handle);

/* strerror() for the negative errnos this library returns. */
const char *qkd_strerror(int err);

/*
 * The "qkd" family ID @handle resolved when it was opened.  A module
 * reload registers the family again under a new ID: requests on an old
 * handle then fail with -ENOENT and its multicast membership is gone,
 * silently.  Compare with qkd_family_resolve() to notice.
 */
uint16_t qkd_family(const struct qkd *handle);

/*
 * Ask the kernel, over @handle (not a subscribed one: its socket may hold
 * notifications), for the family's current ID into *@family, without
 * changing @handle.  Returns 0, -ENOENT when the family is not registered
 * (the module is not loaded), or another negative errno.
 */
int qkd_family_resolve(struct qkd *handle, uint16_t *family);

/* ---- pools ---------------------------------------------------------- */

/* Bits of struct qkd_pool_config.fields: which settings are given. */
enum {
	QKD_POOL_KEY_SIZE	= 1u << 0,
	QKD_POOL_CAPACITY	= 1u << 1,
	QKD_POOL_LOW		= 1u << 2,
	QKD_POOL_HIGH		= 1u << 3,
	QKD_POOL_MAX_AGE	= 1u << 4,
	QKD_POOL_RENAME		= 1u << 5,	/* qkd_pool_set(): new @name */
};

/*
 * Settings for qkd_pool_create() and qkd_pool_set().  Only the fields whose
 * bit is in @fields are sent; the kernel keeps (set) or defaults (create)
 * the others.  @name is used by qkd_pool_create() only.
 */
struct qkd_pool_config {
	char name[QKD_POOL_NAME_MAX_LEN + 1];
	uint32_t fields;
	uint32_t key_size;		/* bytes per key */
	uint32_t capacity;		/* keys per direction */
	uint32_t low_watermark;
	uint32_t high_watermark;
	uint32_t max_age;		/* seconds, 0 = never expire */
};

/* Level and counters of one direction of a pool. */
struct qkd_dir_stats {
	uint32_t level;			/* keys held now */
	uint32_t state;			/* enum qkd_state */
	uint64_t added;
	uint64_t taken;
	uint64_t expired;
	uint64_t flushed;
	uint64_t rejected;
	uint64_t missed;
	uint64_t bytes_added;
	uint64_t bytes_taken;
	uint64_t fill_rate;		/* keys per 1000 s */
	uint64_t burn_rate;		/* keys per 1000 s */
	uint64_t time_to_empty;		/* seconds, if has_time_to_empty */
	bool has_time_to_empty;		/* false: not draining */
	bool present;			/* the kernel sent this direction */
};

/*
 * IKE key exchanges of a pool (since it was created), or of the network
 * namespace without a pool (qkd_ke_stats_get()), as the IKE daemon
 * reported them with qkd_ke_report_reason().  An exchange reported as
 * QKD_KE_OUTCOME_TAG_MISMATCH counts in both @tag_mismatch and @fallback
 * (it went on without a QKD key); QKD_KE_OUTCOME_REFUSED counts in
 * @refused only.  @reasons[r] counts the exchanges without a QKD key
 * (fallback or refused) reported with enum qkd_ke_reason r;
 * @reasons[QKD_KE_REASON_NONE] is always 0, and qkd_ke_unspecified() gives
 * the exchanges reported without a reason.
 */
struct qkd_ke_stats {
	uint64_t qkd;			/* keyed with a QKD key */
	uint64_t fallback;		/* went on without one */
	uint64_t tag_mismatch;		/* of which the tag did not verify */
	uint64_t refused;		/* refused by policy "require" */
	uint64_t reasons[QKD_KE_REASON_MAX + 1];	/* by enum qkd_ke_reason */
	bool present;			/* the kernel sent the counters */
	bool has_reasons;		/* ...with the reasons nest */
};

/* A pool as reported by pool-get: settings, levels and counters. */
struct qkd_pool_info {
	uint32_t id;
	char name[QKD_POOL_NAME_MAX_LEN + 1];
	uint32_t key_size;
	uint32_t capacity;
	uint32_t low_watermark;
	uint32_t high_watermark;
	uint32_t max_age;
	/* Indexed by enum qkd_direction: QKD_DIRECTION_OUT, QKD_DIRECTION_IN. */
	struct qkd_dir_stats dir[2];
	struct qkd_ke_stats ke;		/* IKE key exchanges */
};

/* Create a pool; on success *id (if not NULL) is the new pool's ID. */
int qkd_pool_create(struct qkd *handle, const struct qkd_pool_config *config,
		    uint32_t *id);

/* Change the settings of pool @id; rename it with QKD_POOL_RENAME. */
int qkd_pool_set(struct qkd *handle, uint32_t id,
		 const struct qkd_pool_config *config);

/*
 * Get one pool by @id, or by @name when @id is 0.  -ENOENT when there is
 * no such pool.
 */
int qkd_pool_get(struct qkd *handle, uint32_t id, const char *name,
		 struct qkd_pool_info *info);

/* Delete pool @id, or the pool named @name when @id is 0. */
int qkd_pool_del(struct qkd *handle, uint32_t id, const char *name);

/*
 * Called for each pool of a dump.  Return 0 to go on, or a negative errno
 * to stop: qkd_pool_list() then returns that value.
 */
typedef int (*qkd_pool_cb)(const struct qkd_pool_info *info, void *arg);

/*
 * Dump every pool of the network namespace, calling @cb for each.  Returns
 * 0, or -EINTR when the pools changed during the dump (the kernel flagged
 * it inconsistent: the callback saw a mix; dump again).
 */
int qkd_pool_list(struct qkd *handle, qkd_pool_cb cb, void *arg);

/*
 * Dump every pool into an array allocated with malloc(): *pools (free it
 * with free()) of *count entries, sorted by name.  Retries a dump that the
 * kernel flagged inconsistent, a few times.
 */
int qkd_pool_list_alloc(struct qkd *handle, struct qkd_pool_info **pools,
			size_t *count);

/*
 * Count one IKE key exchange of pool @id in its ke-stats: @outcome is an
 * enum qkd_ke_outcome (QKD_KE_OUTCOME_QKD, _FALLBACK, _TAG_MISMATCH,
 * _REFUSED).  For the IKE daemon only, once per exchange; needs
 * CAP_NET_ADMIN (-EPERM otherwise).  -ENOENT when there is no such pool,
 * -EINVAL for pool ID 0 or an unknown outcome (not sent).
 */
int qkd_ke_report(struct qkd *handle, uint32_t id, uint32_t outcome);

/*
 * Count one IKE key exchange with the reason it went without a QKD key:
 * @reason is an enum qkd_ke_reason, QKD_KE_REASON_NONE (0) for none.
 * @id 0 means "no pool for this peer": the exchange counts in the network
 * namespace's counters (qkd_ke_stats_get()) instead of a pool's (pool IDs
 * start at 1).  -EINVAL (not sent) for an unknown outcome or reason, a
 * reason with QKD_KE_OUTCOME_QKD, or QKD_KE_OUTCOME_QKD with @id 0.
 * Otherwise as qkd_ke_report(): CAP_NET_ADMIN, -ENOENT for no such pool.
 */
int qkd_ke_report_reason(struct qkd *handle, uint32_t id, uint32_t outcome,
			 uint32_t reason);

/*
 * The network namespace's key exchange counters: the exchanges reported
 * with pool ID 0 (no pool for the peer).  Needs no privilege.
 * -EOPNOTSUPP from a module without them.
 */
int qkd_ke_stats_get(struct qkd *handle, struct qkd_ke_stats *stats);

/*
 * Exchanges of @stats without a QKD key that were reported without a
 * reason: fallback + refused - the sum of the reasons (0 if the counters
 * do not add up).
 */
uint64_t qkd_ke_unspecified(const struct qkd_ke_stats *stats);

/*
 * Name of an enum qkd_ke_reason as in the spec ("no-offer", "empty", ...;
 * "none" for 0), "unknown" for another value.
 */
const char *qkd_ke_reason_name(uint32_t reason);

/* ---- keys ----------------------------------------------------------- */

/*
 * One key, always caller-owned.  @len is the number of bytes of @material
 * in use (the pool's key size).  Wipe with qkd_key_wipe().
 */
struct qkd_key {
	uint8_t id[QKD_KEY_ID_LEN];
	uint8_t material[QKD_KEY_SIZE_MAX];
	uint32_t len;
};

/* explicit_bzero() of @n keys. */
void qkd_key_wipe(struct qkd_key *keys, size_t n);

/*
 * Add @n keys (1 to QKD_BATCH_MAX) to direction @dir (enum qkd_direction)
 * of pool @id: all of them or, if the kernel refuses any, none.  -E2BIG
 * when @n is above QKD_BATCH_MAX; the library never splits a batch.
 */
int qkd_key_add(struct qkd *handle, uint32_t id, int dir,
		const struct qkd_key *keys, size_t n);

/* Take the oldest outbound key of pool @id into @key.  -ENOENT if empty. */
int qkd_key_take_next(struct qkd *handle, uint32_t id, struct qkd_key *key);

/*
 * Take the inbound key with ID @key_id of pool @id into @key.  With @tag
 * (QKD_TAG_LEN bytes, see qkd_tag_compute()), the kernel hands the key
 * out only when the tag matches: -EKEYREJECTED otherwise, and the key
 * stays.  -ENOENT when there is no such key.
 */
int qkd_key_take_id(struct qkd *handle, uint32_t id,
		    const uint8_t key_id[QKD_KEY_ID_LEN],
		    const uint8_t *tag, struct qkd_key *key);

/*
 * Wipe every key of direction @dir of pool @id, or of both directions with
 * QKD_DIRECTION_BOTH.  *count (if not NULL) is the number of keys wiped.
 */
int qkd_key_flush(struct qkd *handle, uint32_t id, int dir, uint32_t *count);

/*
 * The key confirmation tag: HMAC-SHA256 keyed with @material (@len bytes)
 * over the 16 ASCII bytes "qkd-ipsec tag v1" followed by the 16-byte @id.
 * Does not need a handle.  Returns 0 or -EINVAL / -EIO.
 */
int qkd_tag_compute(const uint8_t id[QKD_KEY_ID_LEN], const uint8_t *material,
		    size_t len, uint8_t tag[QKD_TAG_LEN]);

/* ---- notifications -------------------------------------------------- */

/* A pool notification (pool-ntf). */
struct qkd_notification {
	uint32_t pool_id;
	char name[QKD_POOL_NAME_MAX_LEN + 1];	/* "" when not sent */
	int direction;		/* enum qkd_direction, or -1 when not sent */
	uint32_t event;		/* enum qkd_event */
	uint32_t count;		/* keys concerned, if has_count */
	bool has_count;
};

/* Join the "monitor" multicast group on @handle's socket. */
int qkd_subscribe(struct qkd *handle);

/* The socket's file descriptor, for poll(2): POLLIN means "call recv". */
int qkd_fd(const struct qkd *handle);

/* Flags of qkd_notification_recv(). */
#define QKD_NONBLOCK	1

/*
 * Receive the next notification into @ntf.  Blocks unless @flags has
 * QKD_NONBLOCK, in which case it returns -EAGAIN when none is queued;
 * -EINTR when a signal interrupted the wait.
 * -ENOBUFS means the socket overflowed and notifications were lost: the
 * caller should re-read the pools it cares about.  Messages that are not
 * well-formed notifications are skipped.
 */
int qkd_notification_recv(struct qkd *handle, struct qkd_notification *ntf,
			  int flags);

/* Names of enum values: "out"/"in", "ok"/"low"/"empty", event names. */
const char *qkd_direction_name(int dir);
const char *qkd_state_name(uint32_t state);
const char *qkd_event_name(uint32_t event);

#ifdef __cplusplus
}
#endif

#endif /* LIBQKD_QKD_H */
