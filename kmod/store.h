/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The key store of one pool: an outbound FIFO ring and an inbound table
 * looked up by key ID, their counters, rates and watermark states.
 *
 * This is the pool's logic without locking, netlink or timers, so that KUnit
 * can drive it with a clock of its own: every call takes "now" (nanoseconds
 * of CLOCK_BOOTTIME) and the caller holds the lock that protects the store.
 * Calls that can fail take a netlink_ext_ack and set a message that names
 * the problem; on failure they change nothing.
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

/* The memory cap shared by all pools of all namespaces, in bytes. */
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
 * qkd_store_get_params() and overwrite what changes.  The capacity cannot go
 * below a level; the key size can change only while both directions are
 * empty.  May reallocate; on failure the store is unchanged.
 */
int qkd_store_configure(struct qkd_store *store,
			const struct qkd_store_params *params, u64 now,
			struct qkd_events *events,
			struct netlink_ext_ack *extack);

/*
 * Add @n keys to @dir: all of them or none.  Refused (and counted in
 * rejected) when an ID is already in either direction or twice in the
 * batch, a material length is not the key size, or there is no room.
 */
int qkd_store_add(struct qkd_store *store, enum qkd_direction dir,
		  const struct qkd_key_ref *keys, unsigned int n, u64 now,
		  struct qkd_events *events, struct netlink_ext_ack *extack);

/*
 * Take the oldest outbound key into @id and @material (the key size).
 * -ENOENT when the ring is empty (counted as missed).
 */
int qkd_store_take_next(struct qkd_store *store, u8 *id, u8 *material,
			u64 now, struct qkd_events *events,
			struct netlink_ext_ack *extack);

/*
 * Take the inbound key @id into @material.  With @tag (QKD_TAG_LEN bytes),
 * only if the tag matches, compared in constant time; otherwise
 * -EKEYREJECTED (counted as rejected) and the key stays.  -ENOENT when no
 * such key (counted as missed).
 */
int qkd_store_take_id(struct qkd_store *store, const u8 *id, const u8 *tag,
		      u8 *material, u64 now, struct qkd_events *events,
		      struct netlink_ext_ack *extack);

/* Wipe every key of @dir, or of both when @both.  Returns the count. */
u32 qkd_store_flush(struct qkd_store *store, enum qkd_direction dir,
		    bool both, u64 now, struct qkd_events *events);

/*
 * Wipe keys older than max_age.  Returns the number wiped, and in
 * @next_expiry the time (ns) the next key expires, or 0 when none will.
 */
u32 qkd_store_expire(struct qkd_store *store, u64 now, u64 *next_expiry,
		     struct qkd_events *events);

void qkd_store_stats(struct qkd_store *store, enum qkd_direction dir,
		     u64 now, struct qkd_dir_stats *stats);

/* Keys held in both directions. */
u32 qkd_store_level(const struct qkd_store *store);

#endif /* _QKD_STORE_H */
