/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The key store of one pool: an outbound FIFO ring and an inbound table
 * looked up by key ID, their counters, rates and watermark states.
 *
 * This is the pool's logic without locking, netlink or timers, so that KUnit
 * can drive it with a clock of its own: every call takes "now" (nanoseconds
 * of CLOCK_BOOTTIME) and the caller holds the lock that protects the store.
 * Calls that can fail take a netlink_ext_ack (which may be NULL) and set a
 * message that names the problem; on failure they change nothing.
 *
 * Locking and allocation: the store has no lock of its own.  The caller
 * serialises every call on one store with a MUTEX, in process context:
 * qkd_store_create() and qkd_store_configure() allocate with GFP_KERNEL and
 * may sleep (configure allocates the new storage before it touches the
 * store, so a failed allocation leaves it as it was).  No other call sleeps
 * or allocates, but since they share the mutex, expiry must run from a
 * workqueue (delayed_work), not from a timer or softirq.
 *
 * Memory: the slot arrays of both directions, the hash table and the free
 * links are allocated in full at create (and at a resize), so adding keys
 * never allocates.  Per key: a 40-byte slot header (hash node, age, ID),
 * the material inline, 8 bytes of inbound links (age list and free list)
 * per inbound key, and at most 8 bytes of hash bucket per key of a full
 * pool.
 */
#ifndef _QKD_STORE_H
#define _QKD_STORE_H

#include <linux/list.h>
#include <linux/types.h>
#include <linux/netlink.h>
#include <uapi/linux/qkd.h>

#define QKD_DEFAULT_KEY_SIZE	32
#define QKD_DEFAULT_CAPACITY	4096
/* Rates are measured over windows of this many seconds. */
#define QKD_RATE_WINDOW_SEC	10
/* Most events one store call can raise (low, empty, refilled, expired per
 * direction).
 */
#define QKD_MAX_EVENTS		8

#define QKD_NUM_DIRS		2

/* Settings of a pool; 0 in low/high on creation means "the default". */
struct qkd_store_params {
	u32 key_size;
	u32 capacity;
	u32 low_watermark;
	u32 high_watermark;
	u32 max_age;		/* seconds, 0 = keys never expire */
};

/* What a caller passes to qkd_store_add(): pointers into its message. */
struct qkd_key_ref {
	const u8 *id;		/* QKD_KEY_ID_LEN bytes */
	const u8 *material;
	u32 len;		/* length of material as received */
};

struct qkd_dir_stats {
	u32 level;
	u32 capacity;
	enum qkd_state state;
	u64 added;
	u64 taken;
	u64 expired;
	u64 flushed;
	u64 rejected;
	u64 missed;
	u64 bytes_added;
	u64 bytes_taken;
	u64 fill_rate;		/* keys per 1000 s */
	u64 burn_rate;		/* keys taken or expired per 1000 s */
	u64 time_to_empty;	/* seconds; valid if has_time_to_empty */
	bool has_time_to_empty;
};

struct qkd_event_rec {
	enum qkd_direction dir;
	enum qkd_event event;
	u32 count;		/* keys concerned (expired), else the level */
};

/* Events raised by one call, sent by the caller after it drops its lock. */
struct qkd_events {
	unsigned int n;
	struct qkd_event_rec ev[QKD_MAX_EVENTS];
};

struct qkd_store;

/*
 * The memory cap shared by all pools of all namespaces, in bytes: the sum of
 * every store's allocation (as rounded by the allocator, see store.c).
 * main.c sets it from its mem_limit parameter, whose default this is.
 *
 * Why 256 MiB: it is the smallest power of two that holds one pool of the
 * largest capacity (QKD_CAPACITY_MAX in both directions) at the default
 * key size, about 160 MiB, with room for a few ordinary pools beside it;
 * so no setting the API accepts at the defaults is refused by the cap.  It
 * is a ceiling, not a reservation: memory is taken only as pools are
 * created.  A router with many large pools raises it (modprobe.d).
 */
#define QKD_DEFAULT_MEM_LIMIT	(256UL << 20)

void qkd_store_set_mem_limit(unsigned long bytes);
unsigned long qkd_store_mem_used(void);

/*
 * Allocate a store with @params (already range-checked by the netlink
 * policy; the watermarks are checked here).  Its storage is allocated in
 * full and charged against the memory cap, so that adding keys never
 * allocates.  Returns an ERR_PTR on failure (-EINVAL, -ENOSPC for the cap,
 * -ENOMEM).
 */
struct qkd_store *qkd_store_create(const struct qkd_store_params *params,
				   u64 now, struct netlink_ext_ack *extack);

/* Wipe every key, free the storage and give its memory back to the cap. */
void qkd_store_destroy(struct qkd_store *store);

void qkd_store_get_params(const struct qkd_store *store,
			  struct qkd_store_params *params);

/*
 * Change settings.  @params is the complete new set: callers start from
 * qkd_store_get_params() and overwrite what changes (0 is taken literally
 * here, not as a default).  The capacity cannot go below a level (-EBUSY);
 * the key size can change only while both directions are empty (-EBUSY);
 * bad watermarks give -EINVAL.  A new capacity or key size allocates new
 * storage first (GFP_KERNEL, the cap charged with the growth: -ENOSPC,
 * -ENOMEM) and moves the keys over, outbound order kept.  Watermark events
 * that the new watermarks cause are raised.  A new max_age applies to
 * takes at once, and wipes the keys it makes too old at the next
 * qkd_store_expire(): run it (or reschedule) after a change.  On failure
 * the store is unchanged.
 */
int qkd_store_configure(struct qkd_store *store,
			const struct qkd_store_params *params, u64 now,
			struct qkd_events *events,
			struct netlink_ext_ack *extack);

/*
 * Add @n keys to @dir: all of them or none.  Refused, with all @n counted
 * in rejected, when an ID is already in either direction or twice in the
 * batch (-EEXIST), a material length is not the key size (-EINVAL), or
 * there is no room for all of them (-ENOSPC).  The material is copied; the
 * caller wipes its own copy (the netlink attribute).
 */
int qkd_store_add(struct qkd_store *store, enum qkd_direction dir,
		  const struct qkd_key_ref *keys, unsigned int n, u64 now,
		  struct qkd_events *events, struct netlink_ext_ack *extack);

/*
 * Take the oldest outbound key into @id and @material (the key size); its
 * slot is wiped at once, and the caller wipes @material when done.  Keys
 * past their lifetime (qkd_store_lifetime()) are never handed out, even
 * when qkd_store_expire() is late: the take wipes them first and counts
 * them as expired (O(1) when there are none; see
 * qkd_store_expired_unreported()).  -ENOENT when no key is left (counted as
 * missed).
 */
int qkd_store_take_next(struct qkd_store *store, u8 *id, u8 *material,
			u64 now, struct qkd_events *events,
			struct netlink_ext_ack *extack);

/*
 * Take the inbound key @id into @material.  With @tag (QKD_TAG_LEN bytes),
 * only if the tag matches, compared in constant time; otherwise
 * -EKEYREJECTED (counted as rejected) and the key stays.  -ENOENT when no
 * such key (counted as missed), and when the key is past its lifetime:
 * then it is wiped and counted as expired (and the take as missed), with
 * any older inbound key, as in qkd_store_take_next().
 */
int qkd_store_take_id(struct qkd_store *store, const u8 *id, const u8 *tag,
		      u8 *material, u64 now, struct qkd_events *events,
		      struct netlink_ext_ack *extack);

/* Wipe every key of @dir, or of both when @both.  Returns the count. */
u32 qkd_store_flush(struct qkd_store *store, enum qkd_direction dir,
		    bool both, u64 now, struct qkd_events *events);

/*
 * Outbound keys expire this much before inbound keys (but by at most a
 * quarter of max_age), so that a key this node offers always still has its
 * twin on the peer's inbound side: it covers the whole-second ages (the
 * inbound twin may be added in the second before) and the IKE round trip.
 */
#define QKD_OUT_EXPIRY_GUARD_SEC	2U

/*
 * Seconds a key of @dir is held at most: max_age for inbound keys, for
 * outbound keys max_age - min(QKD_OUT_EXPIRY_GUARD_SEC, max_age / 4);
 * 0 when keys never expire.
 */
u32 qkd_store_lifetime(const struct qkd_store_params *params,
		       enum qkd_direction dir);

/*
 * Wipe keys older than their lifetime (qkd_store_lifetime()).  Returns the
 * number wiped, and in @next_expiry the time (ns) the next key expires, or
 * 0 when none will.  Ages are whole seconds: a key goes between lifetime - 1
 * and lifetime seconds after it came, early rather than late.  Both
 * directions are kept in order of age, so this is O(keys expired).  One
 * expired event per direction counts the keys wiped here and those the
 * takes wiped since the last call.
 */
u32 qkd_store_expire(struct qkd_store *store, u64 now, u64 *next_expiry,
		     struct qkd_events *events);

/*
 * True when takes wiped keys too old that no expired event reported yet:
 * the caller runs qkd_store_expire() soon (within its rate limit).
 */
bool qkd_store_expired_unreported(const struct qkd_store *store);

/*
 * Counters and rates of @dir.  Rates are those of the last complete window
 * of QKD_RATE_WINDOW_SEC before @now (0 when it saw nothing), so the call
 * updates the window and needs the same lock as the others.
 */
void qkd_store_stats(struct qkd_store *store, enum qkd_direction dir,
		     u64 now, struct qkd_dir_stats *stats);

/* Keys held in both directions. */
u32 qkd_store_level(const struct qkd_store *store);

#endif /* _QKD_STORE_H */
