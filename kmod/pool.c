// SPDX-License-Identifier: GPL-2.0
/*
 * Pools of key material, per network namespace.
 *
 * Each namespace indexes its pools by ID (an xarray, read under RCU) and by
 * name (a hash table, under the namespace's mutex).  A pool's keys live in
 * its store, which has no locking of its own: every store call here holds
 * the pool's mutex.  Notifications are built from the events a store call
 * returns, after the mutex is dropped.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/lockdep.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/stringhash.h>
#include <net/netns/generic.h>

#include "cursor.h"
#include "netlink.h"
#include "pool.h"

static unsigned int qkd_net_id __read_mostly;

struct qkd_net *qkd_net(const struct net *net)
{
	return net_generic(net, qkd_net_id);
}

/* 1 to QKD_POOL_NAME_MAX_LEN printable ASCII characters, no spaces. */
bool qkd_pool_name_valid(const char *name)
{
	size_t len = strnlen(name, QKD_POOL_NAME_MAX_LEN + 1);
	size_t i;

	if (!len || len > QKD_POOL_NAME_MAX_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] > '~')
			return false;
	return true;
}

static u32 qkd_name_hash(const struct qkd_net *qn, const char *name)
{
	return full_name_hash(qn, name, strlen(name));
}

static struct qkd_pool *qkd_pool_find_name(struct qkd_net *qn, const char *name)
{
	struct qkd_pool *pool;

	lockdep_assert_held(&qn->lock);

	hash_for_each_possible(qn->names, pool, name_node,
			       qkd_name_hash(qn, name))
		if (!strcmp(pool->name, name))
			return pool;
	return NULL;
}

static void qkd_net_bump_gen(struct qkd_net *qn)
{
	lockdep_assert_held(&qn->lock);

	/* 0 would tell the dump code that consistency is not tracked. */
	if (!++qn->gen)
		qn->gen = 1;
}

/* Pools in the indexes are linked; deleted ones have an unhashed node. */
static bool qkd_pool_linked(const struct qkd_pool *pool)
{
	lockdep_assert_held(&qkd_net(pool->net)->lock);

	return !hlist_unhashed(&pool->name_node);
}

static void qkd_pool_free_rcu(struct rcu_head *head)
{
	struct qkd_pool *pool = container_of(head, struct qkd_pool, rcu);

	mutex_destroy(&pool->lock);
	kfree_sensitive(pool);
}

void qkd_pool_put(struct qkd_pool *pool)
{
	if (pool && refcount_dec_and_test(&pool->refcnt))
		call_rcu(&pool->rcu, qkd_pool_free_rcu);
}

struct qkd_pool *qkd_pool_get_by_id(struct net *net, u32 id)
{
	struct qkd_net *qn = qkd_net(net);
	struct qkd_pool *pool;

	rcu_read_lock();
	pool = xa_load(&qn->pools, id);
	if (pool && !refcount_inc_not_zero(&pool->refcnt))
		pool = NULL;
	rcu_read_unlock();
	return pool;
}

struct qkd_pool *qkd_pool_get_by_name(struct net *net, const char *name)
{
	struct qkd_net *qn = qkd_net(net);
	struct qkd_pool *pool;

	mutex_lock(&qn->lock);
	pool = qkd_pool_find_name(qn, name);
	if (pool)
		refcount_inc(&pool->refcnt);
	mutex_unlock(&qn->lock);
	return pool;
}

static void qkd_pool_notify(const struct qkd_pool *pool, const char *name,
			    const struct qkd_events *events)
{
	unsigned int i;

	for (i = 0; i < events->n; i++)
		qkd_nl_notify(pool->net, pool->id, name, &events->ev[i]);
}

/*
 * Delay until @when (CLOCK_BOOTTIME ns), but no earlier than a second after
 * the last expiry run: expired events of a pool come at most once a second.
 */
static unsigned long qkd_expiry_delay(const struct qkd_pool *pool, u64 now,
				      u64 when)
{
	lockdep_assert_held(&pool->lock);

	if (pool->last_expiry)
		when = max(when, pool->last_expiry + NSEC_PER_SEC);
	if (when <= now)
		return 0;
	/* Round up, so that the work never runs before the key expires. */
	return nsecs_to_jiffies(when - now) + 1;
}

/* Queue the expiry work for @when, or leave it if it is due earlier. */
static void qkd_pool_queue_expiry(struct qkd_pool *pool, u64 now, u64 when)
{
	lockdep_assert_held(&pool->lock);

	if (delayed_work_pending(&pool->expiry) && pool->expiry_due <= when)
		return;
	pool->expiry_due = when;
	mod_delayed_work(system_wq, &pool->expiry,
			 qkd_expiry_delay(pool, now, when));
}

/*
 * Make sure the expiry work is due by the time the keys just added to @dir
 * expire.  Outbound keys live shorter than inbound ones, so work queued for
 * an inbound key may be due too late for an outbound key added after it.
 */
static void qkd_pool_arm_expiry(struct qkd_pool *pool,
				enum qkd_direction dir, u64 now)
{
	struct qkd_store_params params;

	lockdep_assert_held(&pool->lock);

	qkd_store_get_params(pool->store, &params);
	if (!params.max_age)
		return;
	qkd_pool_queue_expiry(pool, now,
			      now + (u64)qkd_store_lifetime(&params, dir) *
				    NSEC_PER_SEC);
}

static void qkd_pool_expiry_work(struct work_struct *work)
{
	struct qkd_pool *pool = container_of(to_delayed_work(work),
					     struct qkd_pool, expiry);
	char name[QKD_POOL_NAME_MAX_LEN + 1];
	struct qkd_events events = {};
	u64 now, next = 0;

	mutex_lock(&pool->lock);
	if (!pool->store) {
		mutex_unlock(&pool->lock);
		return;
	}
	now = ktime_get_boottime_ns();
	qkd_store_expire(pool->store, now, &next, &events);
	pool->last_expiry = now;
	if (next)
		qkd_pool_queue_expiry(pool, now, next);
	strscpy(name, pool->name);
	mutex_unlock(&pool->lock);

	qkd_pool_notify(pool, name, &events);
}

/* Overwrite the settings of @params that @set carries. */
static void qkd_pool_settings_apply(const struct qkd_pool_settings *set,
				    struct qkd_store_params *params)
{
	if (set->mask & QKD_SET_KEY_SIZE)
		params->key_size = set->params.key_size;
	if (set->mask & QKD_SET_CAPACITY)
		params->capacity = set->params.capacity;
	if (set->mask & QKD_SET_LOW)
		params->low_watermark = set->params.low_watermark;
	if (set->mask & QKD_SET_HIGH)
		params->high_watermark = set->params.high_watermark;
	if (set->mask & QKD_SET_MAX_AGE)
		params->max_age = set->params.max_age;
}

int qkd_pool_create(struct net *net, const struct qkd_pool_settings *set,
		    u32 *id, struct netlink_ext_ack *extack)
{
	/* 0 watermarks: qkd_store_create() derives them from the capacity. */
	struct qkd_store_params params = {
		.key_size = QKD_DEFAULT_KEY_SIZE,
		.capacity = QKD_DEFAULT_CAPACITY,
	};
	struct qkd_net *qn = qkd_net(net);
	const char *name = set->name;
	struct qkd_store *store;
	struct qkd_pool *pool;
	int err;

	qkd_pool_settings_apply(set, &params);

	pool = kzalloc(sizeof(*pool), GFP_KERNEL_ACCOUNT);
	if (!pool) {
		NL_SET_ERR_MSG(extack, "out of memory for the pool");
		return -ENOMEM;
	}
	pool->net = net;
	refcount_set(&pool->refcnt, 1);		/* the indexes' reference */
	INIT_HLIST_NODE(&pool->name_node);
	strscpy(pool->name, name);
	mutex_init(&pool->lock);
	INIT_DELAYED_WORK(&pool->expiry, qkd_pool_expiry_work);

	mutex_lock(&qn->lock);
	if (qkd_pool_find_name(qn, name)) {
		NL_SET_ERR_MSG(extack, "a pool with this name exists");
		err = -EEXIST;
		goto err_unlock;
	}
	store = qkd_store_create(&params, ktime_get_boottime_ns(), extack);
	if (IS_ERR(store)) {
		err = PTR_ERR(store);
		goto err_unlock;
	}
	pool->store = store;
	/* Publishes the pool; xa_alloc_cyclic() sets pool->id first. */
	err = xa_alloc_cyclic(&qn->pools, &pool->id, pool,
			      XA_LIMIT(1, U32_MAX), &qn->next_id, GFP_KERNEL);
	if (err < 0) {
		NL_SET_ERR_MSG(extack, "no pool ID left");
		goto err_store;
	}
	hash_add(qn->names, &pool->name_node, qkd_name_hash(qn, pool->name));
	qkd_net_bump_gen(qn);
	*id = pool->id;
	mutex_unlock(&qn->lock);
	return 0;

err_store:
	qkd_store_destroy(store);
err_unlock:
	mutex_unlock(&qn->lock);
	mutex_destroy(&pool->lock);
	kfree_sensitive(pool);
	return err;
}

/* Take a pool out of its namespace's indexes. */
static void qkd_pool_unlink(struct qkd_net *qn, struct qkd_pool *pool)
{
	lockdep_assert_held(&qn->lock);

	xa_erase(&qn->pools, pool->id);
	hash_del(&pool->name_node);
	qkd_net_bump_gen(qn);
}

/*
 * Wipe an unlinked pool's keys and stop its timer.  Holders of a reference
 * see store == NULL from now on.  Returns the keys it held.
 */
static u32 qkd_pool_kill(struct qkd_pool *pool)
{
	u32 level;

	mutex_lock(&pool->lock);
	level = qkd_store_level(pool->store);
	qkd_store_destroy(pool->store);
	pool->store = NULL;
	mutex_unlock(&pool->lock);
	/* The work sees store == NULL and does not queue itself again. */
	cancel_delayed_work_sync(&pool->expiry);
	return level;
}

int qkd_pool_delete(struct qkd_pool *pool, struct netlink_ext_ack *extack)
{
	struct qkd_net *qn = qkd_net(pool->net);
	struct qkd_event_rec ev = { .event = QKD_EVENT_REMOVED };

	mutex_lock(&qn->lock);
	if (!qkd_pool_linked(pool)) {
		mutex_unlock(&qn->lock);
		NL_SET_ERR_MSG(extack, "the pool was deleted");
		return -ENOENT;
	}
	qkd_pool_unlink(qn, pool);
	mutex_unlock(&qn->lock);

	ev.count = qkd_pool_kill(pool);
	/* Nobody renames an unlinked pool: its name is stable now. */
	qkd_nl_notify(pool->net, pool->id, pool->name, &ev);
	qkd_pool_put(pool);		/* the indexes' reference */
	return 0;
}

int qkd_pool_configure(struct qkd_pool *pool,
		       const struct qkd_pool_settings *set,
		       struct netlink_ext_ack *extack)
{
	struct qkd_net *qn = qkd_net(pool->net);
	char name[QKD_POOL_NAME_MAX_LEN + 1];
	struct qkd_events events = {};
	struct qkd_store_params params;
	struct qkd_pool *other;
	u64 now;
	int err;

	mutex_lock(&qn->lock);
	if (!qkd_pool_linked(pool)) {
		NL_SET_ERR_MSG(extack, "the pool was deleted");
		err = -ENOENT;
		goto out_net;
	}
	if (set->name) {
		other = qkd_pool_find_name(qn, set->name);
		if (other && other != pool) {
			NL_SET_ERR_MSG(extack, "a pool with this name exists");
			err = -EEXIST;
			goto out_net;
		}
	}

	mutex_lock(&pool->lock);
	qkd_store_get_params(pool->store, &params);
	qkd_pool_settings_apply(set, &params);
	now = ktime_get_boottime_ns();
	err = qkd_store_configure(pool->store, &params, now, &events, extack);
	if (err)
		goto out_pool;

	if (set->name && strcmp(set->name, pool->name)) {
		hash_del(&pool->name_node);
		strscpy(pool->name, set->name);
		hash_add(qn->names, &pool->name_node,
			 qkd_name_hash(qn, pool->name));
		qkd_net_bump_gen(qn);
	}
	/* A new maximum age applies to the keys held: look at them soon. */
	if (set->mask & QKD_SET_MAX_AGE)
		qkd_pool_queue_expiry(pool, now, now);
	strscpy(name, pool->name);
out_pool:
	mutex_unlock(&pool->lock);
out_net:
	mutex_unlock(&qn->lock);
	if (!err)
		qkd_pool_notify(pool, name, &events);
	return err;
}

int qkd_pool_info(struct qkd_pool *pool, struct qkd_pool_info *info)
{
	u64 now = ktime_get_boottime_ns();

	mutex_lock(&pool->lock);
	if (!pool->store) {
		mutex_unlock(&pool->lock);
		return -ENOENT;
	}
	info->id = pool->id;
	strscpy(info->name, pool->name);
	qkd_store_get_params(pool->store, &info->params);
	qkd_store_stats(pool->store, QKD_DIRECTION_OUT, now,
			&info->stats[QKD_DIRECTION_OUT]);
	qkd_store_stats(pool->store, QKD_DIRECTION_IN, now,
			&info->stats[QKD_DIRECTION_IN]);
	info->ke = pool->ke;
	mutex_unlock(&pool->lock);
	return 0;
}

struct qkd_pool_walk {
	int (*fn)(const struct qkd_pool_info *info, void *arg);
	void *arg;
	struct qkd_pool_info info;
};

static int qkd_pool_walk_one(unsigned long id, void *entry, void *arg)
{
	struct qkd_pool_walk *walk = arg;
	int err;

	/* Linked pools always have a store: this cannot fail. */
	err = qkd_pool_info(entry, &walk->info);
	return err ?: walk->fn(&walk->info, walk->arg);
}

int qkd_pool_for_each(struct net *net, u64 *cursor, unsigned int *gen,
		      int (*fn)(const struct qkd_pool_info *info, void *arg),
		      void *arg)
{
	struct qkd_net *qn = qkd_net(net);
	struct qkd_pool_walk walk = { .fn = fn, .arg = arg };
	int err;

	mutex_lock(&qn->lock);
	*gen = qn->gen;
	err = qkd_cursor_walk(&qn->pools, cursor, qkd_pool_walk_one, &walk);
	mutex_unlock(&qn->lock);
	return err;
}

int qkd_pool_add_keys(struct qkd_pool *pool, enum qkd_direction dir,
		      const struct qkd_key_ref *keys, unsigned int n,
		      struct netlink_ext_ack *extack)
{
	char name[QKD_POOL_NAME_MAX_LEN + 1];
	struct qkd_events events = {};
	u64 now;
	int err;

	mutex_lock(&pool->lock);
	if (!pool->store) {
		mutex_unlock(&pool->lock);
		NL_SET_ERR_MSG(extack, "the pool was deleted");
		return -ENOENT;
	}
	now = ktime_get_boottime_ns();
	err = qkd_store_add(pool->store, dir, keys, n, now, &events, extack);
	if (!err)
		qkd_pool_arm_expiry(pool, dir, now);
	strscpy(name, pool->name);
	mutex_unlock(&pool->lock);

	qkd_pool_notify(pool, name, &events);
	return err;
}

int qkd_pool_take(struct qkd_pool *pool, enum qkd_direction dir,
		  const u8 *want_id, const u8 *tag, u8 *id, u8 *material,
		  u32 *key_size, struct netlink_ext_ack *extack)
{
	char name[QKD_POOL_NAME_MAX_LEN + 1];
	struct qkd_events events = {};
	struct qkd_store_params params;
	u64 now;
	int err;

	mutex_lock(&pool->lock);
	if (!pool->store) {
		mutex_unlock(&pool->lock);
		NL_SET_ERR_MSG(extack, "the pool was deleted");
		return -ENOENT;
	}
	qkd_store_get_params(pool->store, &params);
	*key_size = params.key_size;
	now = ktime_get_boottime_ns();
	if (dir == QKD_DIRECTION_OUT) {
		err = qkd_store_take_next(pool->store, id, material, now,
					  &events, extack);
	} else {
		err = qkd_store_take_id(pool->store, want_id, tag, material,
					now, &events, extack);
		if (!err)
			memcpy(id, want_id, QKD_KEY_ID_LEN);
	}
	/* The take wiped keys too old: the expiry run reports them. */
	if (qkd_store_expired_unreported(pool->store))
		qkd_pool_queue_expiry(pool, now, now);
	strscpy(name, pool->name);
	mutex_unlock(&pool->lock);

	qkd_pool_notify(pool, name, &events);
	return err;
}

int qkd_pool_flush(struct qkd_pool *pool, enum qkd_direction dir, bool both,
		   u32 *count, struct netlink_ext_ack *extack)
{
	char name[QKD_POOL_NAME_MAX_LEN + 1];
	struct qkd_events events = {};

	mutex_lock(&pool->lock);
	if (!pool->store) {
		mutex_unlock(&pool->lock);
		NL_SET_ERR_MSG(extack, "the pool was deleted");
		return -ENOENT;
	}
	*count = qkd_store_flush(pool->store, dir, both,
				 ktime_get_boottime_ns(), &events);
	strscpy(name, pool->name);
	mutex_unlock(&pool->lock);

	qkd_pool_notify(pool, name, &events);
	return 0;
}

int qkd_pool_ke_report(struct qkd_pool *pool, enum qkd_ke_outcome outcome,
		       enum qkd_ke_reason reason,
		       struct netlink_ext_ack *extack)
{
	mutex_lock(&pool->lock);
	if (!pool->store) {
		mutex_unlock(&pool->lock);
		NL_SET_ERR_MSG(extack, "the pool was deleted");
		return -ENOENT;
	}
	qkd_ke_count(&pool->ke, outcome, reason);
	mutex_unlock(&pool->lock);
	return 0;
}

void qkd_net_ke_report(struct net *net, enum qkd_ke_outcome outcome,
		       enum qkd_ke_reason reason)
{
	struct qkd_net *qn = qkd_net(net);

	mutex_lock(&qn->lock);
	qkd_ke_count(&qn->ke_no_pool, outcome, reason);
	mutex_unlock(&qn->lock);
}

void qkd_net_ke_stats(struct net *net, struct qkd_ke_stats *ke)
{
	struct qkd_net *qn = qkd_net(net);

	mutex_lock(&qn->lock);
	*ke = qn->ke_no_pool;
	mutex_unlock(&qn->lock);
}

static int __net_init qkd_net_init(struct net *net)
{
	struct qkd_net *qn = qkd_net(net);

	mutex_init(&qn->lock);
	xa_init_flags(&qn->pools, XA_FLAGS_ALLOC1);
	hash_init(qn->names);
	qn->next_id = 1;
	qn->gen = 1;
	return 0;
}

/* The namespace is gone: wipe its pools, without notifications. */
static void __net_exit qkd_net_exit(struct net *net)
{
	struct qkd_net *qn = qkd_net(net);
	struct qkd_pool *pool;
	unsigned long id;

	mutex_lock(&qn->lock);
	xa_for_each(&qn->pools, id, pool) {
		qkd_pool_unlink(qn, pool);
		qkd_pool_kill(pool);
		qkd_pool_put(pool);
	}
	mutex_unlock(&qn->lock);
	xa_destroy(&qn->pools);
	mutex_destroy(&qn->lock);
}

static struct pernet_operations qkd_net_ops = {
	.init	= qkd_net_init,
	.exit	= qkd_net_exit,
	.id	= &qkd_net_id,
	.size	= sizeof(struct qkd_net),
};

int qkd_pool_net_init(void)
{
	return register_pernet_subsys(&qkd_net_ops);
}

void qkd_pool_net_exit(void)
{
	unregister_pernet_subsys(&qkd_net_ops);
	/* Pools are freed by RCU callbacks in this module: wait for them. */
	rcu_barrier();
}
