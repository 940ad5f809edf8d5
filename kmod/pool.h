/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pools of key material, per network namespace: their lifetime, the
 * indexes by ID and by name, locking and the expiry timer.  The keys
 * themselves live in the pool's store (store.h).
 */
#ifndef _QKD_POOL_H
#define _QKD_POOL_H

#include <linux/compiler.h>
#include <linux/hashtable.h>
#include <linux/mutex.h>
#include <linux/netlink.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <net/net_namespace.h>
#include <uapi/linux/qkd.h>

#include "ke.h"
#include "store.h"

#define QKD_NAME_HASH_BITS	10

/*
 * One pool.  Lock order: qkd_net.lock, then qkd_pool.lock.
 *
 * The pool is reachable from its namespace's indexes while it is alive; the
 * indexes hold one reference, and each lookup another.  Deletion unlinks
 * it, wipes its keys at once and drops the index's reference; the memory is
 * freed after an RCU grace period when the last reference goes, because
 * lookups by ID find pools under RCU alone.
 */
struct qkd_pool {
	u32 id;				/* constant once published */
	refcount_t refcnt;		/* next to id: no padding hole */
	struct net *net;		/* constant; the pool dies with its netns */
	/* qkd_net.lock */
	struct hlist_node name_node;
	/* Written under qkd_net.lock and lock: readers hold either. */
	char name[QKD_POOL_NAME_MAX_LEN + 1];

	struct mutex lock;		/* serialises the store and below */
	/* lock; NULL once the pool is deleted */
	struct qkd_store *store;
	/* lock; CLOCK_BOOTTIME ns of the last expiry run, for the rate limit */
	u64 last_expiry;
	/* lock; CLOCK_BOOTTIME ns the queued expiry work was asked for */
	u64 expiry_due;
	struct delayed_work expiry;	/* queued under lock while store != NULL */
	/* lock; outcomes of IKE key exchanges reported by the IKE daemon */
	struct qkd_ke_stats ke;

	struct rcu_head rcu;
};

/* The pools of one network namespace. */
struct qkd_net {
	struct mutex lock;		/* serialises changes to the indexes */
	/* Pools by ID: changed under lock, read under lock or RCU. */
	struct xarray pools;
	u32 next_id;			/* lock; cursor of xa_alloc_cyclic() */
	/* lock; bumped on every create, rename and delete, never 0 */
	unsigned int gen;
	/* lock; pools by name */
	DECLARE_HASHTABLE(names, QKD_NAME_HASH_BITS);
	/*
	 * lock; IKE key exchanges reported without a pool ID (no pool for the
	 * peer).  Part of this struct: they go with the namespace.
	 */
	struct qkd_ke_stats ke_no_pool;
};

/*
 * The settings a pool-new or pool-set request carries (one parser in
 * netlink.c fills this for both): the fields of params flagged in mask,
 * and a name.  pool-new starts from the defaults, pool-set from the pool's
 * current settings.
 */
enum {
	QKD_SET_KEY_SIZE	= BIT(0),
	QKD_SET_CAPACITY	= BIT(1),
	QKD_SET_LOW		= BIT(2),
	QKD_SET_HIGH		= BIT(3),
	QKD_SET_MAX_AGE		= BIT(4),
};

struct qkd_pool_settings {
	struct qkd_store_params params;
	unsigned int mask;
	const char *name;		/* (new) name, or NULL */
};

/* A consistent copy of a pool, for replies and dumps: no key material. */
struct qkd_pool_info {
	u32 id;
	char name[QKD_POOL_NAME_MAX_LEN + 1];
	struct qkd_store_params params;
	struct qkd_dir_stats stats[QKD_NUM_DIRS];
	struct qkd_ke_stats ke;
};

/* Register the per-namespace state; exit wipes every pool left. */
int qkd_pool_net_init(void);
void qkd_pool_net_exit(void);

struct qkd_net *qkd_net(const struct net *net);

bool qkd_pool_name_valid(const char *name);

/*
 * A pool named @set->name (valid: qkd_pool_name_valid()) with the settings
 * of @set over the defaults; the new ID goes to @id.
 */
int qkd_pool_create(struct net *net, const struct qkd_pool_settings *set,
		    u32 *id, struct netlink_ext_ack *extack);
/*
 * Lookups return a referenced pool, or NULL; drop it with qkd_pool_put().
 * A pool deleted meanwhile stays valid memory, and every call below then
 * fails with -ENOENT.
 */
struct qkd_pool *__must_check qkd_pool_get_by_id(struct net *net, u32 id);
struct qkd_pool *__must_check qkd_pool_get_by_name(struct net *net,
						   const char *name);
void qkd_pool_put(struct qkd_pool *pool);

/* Unlink, wipe every key, stop the timer, notify "removed". */
int qkd_pool_delete(struct qkd_pool *pool, struct netlink_ext_ack *extack);
int qkd_pool_configure(struct qkd_pool *pool,
		       const struct qkd_pool_settings *set,
		       struct netlink_ext_ack *extack);
int qkd_pool_info(struct qkd_pool *pool, struct qkd_pool_info *info);
/*
 * Call @fn with a copy of each pool from ID *@cursor on, under the
 * namespace's mutex; *@gen gets the generation of the indexes.  Stops at
 * the first error of @fn, with *@cursor at that pool; see cursor.h.
 */
int qkd_pool_for_each(struct net *net, u64 *cursor,
		      unsigned int *gen,
		      int (*fn)(const struct qkd_pool_info *info, void *arg),
		      void *arg);

int qkd_pool_add_keys(struct qkd_pool *pool, enum qkd_direction dir,
		      const struct qkd_key_ref *keys, unsigned int n,
		      struct netlink_ext_ack *extack);
/*
 * Take a key: the oldest outbound one, or the inbound one with @want_id
 * (checked against @tag when not NULL).  @material has room for
 * QKD_KEY_SIZE_MAX bytes; the caller wipes it.
 */
int qkd_pool_take(struct qkd_pool *pool, enum qkd_direction dir,
		  const u8 *want_id, const u8 *tag, u8 *id, u8 *material,
		  u32 *key_size, struct netlink_ext_ack *extack);
int qkd_pool_flush(struct qkd_pool *pool, enum qkd_direction dir, bool both,
		   u32 *count, struct netlink_ext_ack *extack);
/*
 * Count one key exchange of @outcome and @reason, checked with
 * qkd_ke_check(), in the pool's counters.
 */
int qkd_pool_ke_report(struct qkd_pool *pool, enum qkd_ke_outcome outcome,
		       enum qkd_ke_reason reason,
		       struct netlink_ext_ack *extack);
/* The same for an exchange that had no pool, in @net's counters. */
void qkd_net_ke_report(struct net *net, enum qkd_ke_outcome outcome,
		       enum qkd_ke_reason reason);
/* A copy of @net's counters of exchanges without a pool. */
void qkd_net_ke_stats(struct net *net, struct qkd_ke_stats *ke);

#endif /* _QKD_POOL_H */
