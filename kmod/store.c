// SPDX-License-Identifier: GPL-2.0
/*
 * The key store of one pool.  See store.h for the contract.
 *
 * Layout: each direction has a preallocated array of fixed-size slots
 * (header plus material inline).  Outbound slots form a ring (head index
 * and level, modulo capacity), so they are in order of age.  Inbound slots
 * are taken in any order, so their indices are linked in an array of their
 * own (struct qkd_link): slots in use on a list in the order they were
 * added, which is the order of age, and free slots on a free list.  Expiry
 * pops the old ends of the ring and of that list: it costs O(keys expired),
 * whatever the pool holds.  One hash table, keyed by a per-store random
 * siphash key so that chosen IDs cannot make long chains, indexes the slots
 * of BOTH directions by key ID: that gives the O(1) take by ID and the
 * pool-wide uniqueness check.  A slot's direction follows from its address.
 *
 * A slot that is not in use holds only zeroes: every slot is wiped with
 * memzero_explicit() the moment its key leaves (taken, expired, flushed),
 * and storage is freed with kvfree_sensitive().
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/err.h>
#include <linux/log2.h>
#include <linux/math64.h>
#include <linux/random.h>
#include <linux/siphash.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/time64.h>
#include <linux/vmalloc.h>

#include "store.h"
#include "tag.h"

struct qkd_slot {
	struct hlist_node node;		/* in the ID hash while in use */
	u32 added;			/* CLOCK_BOOTTIME seconds when added */
	u8 id[QKD_KEY_ID_LEN];
	u8 material[];			/* key_size bytes */
};

/*
 * Links between inbound slot indices.  Entry capacity is the head of the
 * age list (next: the oldest key, prev: the newest); an index equal to the
 * capacity ends a list.  A free slot uses next only, for the free list.
 */
struct qkd_link {
	u32 prev, next;
};

/*
 * Everything allocated for a given capacity and key size; replaced as a
 * whole on a resize.  It is one block (both slot arrays, the hash buckets
 * and the inbound links), so that a small pool pays slab rounding once, and a
 * large one comes from vmalloc, page-rounded, rather than from a
 * power-of-two kmalloc that would waste up to half of it.
 */
struct qkd_storage {
	u32 capacity;
	u32 key_size;
	size_t slot_size;
	void *mem;			/* the block */
	size_t bytes;			/* its real size, charged to the cap */
	u8 *slots[QKD_NUM_DIRS];
	struct hlist_head *buckets;
	struct qkd_link *in_link;	/* capacity + 1 entries */
	u32 in_free;			/* first free inbound slot */
	unsigned int hash_bits;
};

struct qkd_dir {
	u32 level;
	enum qkd_state state;
	/* Empty was reported and no refill to the high watermark has
	 * happened since: do not report it again.
	 */
	bool empty_raised;
	u64 added, taken, expired, flushed, rejected, missed;
	/* Keys a take found too old and wiped, for the next expired event. */
	u32 expired_unreported;
	u64 bytes_added, bytes_taken;
	/* Keys in and out during window win_idx and the window before it. */
	u64 win_idx;
	u32 win_fill, win_burn, prev_fill, prev_burn;
};

struct qkd_store {
	struct qkd_store_params params;
	struct qkd_storage st;
	u32 out_head;			/* ring index of the oldest outbound key */
	siphash_key_t hash_key;
	struct qkd_dir dir[QKD_NUM_DIRS];
};

static atomic_long_t qkd_mem_used = ATOMIC_LONG_INIT(0);
static unsigned long qkd_mem_limit = QKD_DEFAULT_MEM_LIMIT;

static const char *const qkd_dir_name[QKD_NUM_DIRS] = {
	[QKD_DIRECTION_OUT] = "outbound",
	[QKD_DIRECTION_IN] = "inbound",
};

void qkd_store_set_mem_limit(unsigned long bytes)
{
	WRITE_ONCE(qkd_mem_limit, bytes);
}

unsigned long qkd_store_mem_used(void)
{
	return atomic_long_read(&qkd_mem_used);
}

static int qkd_mem_charge(size_t bytes, struct netlink_ext_ack *extack)
{
	unsigned long limit = READ_ONCE(qkd_mem_limit);
	unsigned long used = atomic_long_add_return(bytes, &qkd_mem_used);

	/* Pools of other namespaces charge concurrently: add, then undo. */
	if (used > limit || used < bytes) {
		atomic_long_sub(bytes, &qkd_mem_used);
		NL_SET_ERR_MSG_FMT(extack,
				   "pool needs %zu bytes, over the key memory limit of %lu",
				   bytes, limit);
		return -ENOSPC;
	}
	return 0;
}

static void qkd_mem_uncharge(size_t bytes)
{
	atomic_long_sub(bytes, &qkd_mem_used);
}

static size_t qkd_slot_size(u32 key_size)
{
	return ALIGN(sizeof(struct qkd_slot) + key_size,
		     __alignof__(struct qkd_slot));
}

/* A table of about one bucket per key of a full direction: chains of <= 2. */
static unsigned int qkd_hash_bits(u32 capacity)
{
	return capacity > 1 ? order_base_2(capacity) : 1;
}

/* Bytes the block needs: slots, then buckets, then the inbound links. */
static size_t qkd_storage_need(u32 capacity, u32 key_size)
{
	return QKD_NUM_DIRS * (size_t)capacity * qkd_slot_size(key_size) +
	       (sizeof(struct hlist_head) << qkd_hash_bits(capacity)) +
	       ((size_t)capacity + 1) * sizeof(struct qkd_link);
}

/*
 * What the block really takes from the kernel: a kmalloc object up to the
 * largest slab size, whole pages above it.  This is what the memory cap
 * counts, so that the cap bounds real memory.
 */
static size_t qkd_storage_bytes(u32 capacity, u32 key_size)
{
	size_t need = qkd_storage_need(capacity, key_size);

	if (need <= KMALLOC_MAX_CACHE_SIZE)
		return kmalloc_size_roundup(need);
	return PAGE_ALIGN(need);
}

static void qkd_storage_free(struct qkd_storage *st)
{
	/* Slots not in use are zero already; keys still held are wiped here. */
	kvfree_sensitive(st->mem, st->bytes);
	memset(st, 0, sizeof(*st));
}

/* Allocate (not charge) storage; everything zeroed, all inbound slots free. */
static int qkd_storage_alloc(struct qkd_storage *st, u32 capacity,
			     u32 key_size, struct netlink_ext_ack *extack)
{
	size_t slots_len;
	u8 *p;
	u32 i;

	memset(st, 0, sizeof(*st));
	st->capacity = capacity;
	st->key_size = key_size;
	st->slot_size = qkd_slot_size(key_size);
	st->hash_bits = qkd_hash_bits(capacity);
	st->bytes = qkd_storage_bytes(capacity, key_size);
	if (st->bytes <= KMALLOC_MAX_CACHE_SIZE)
		st->mem = kzalloc(st->bytes, GFP_KERNEL);
	else
		st->mem = vzalloc(st->bytes);
	if (!st->mem) {
		memset(st, 0, sizeof(*st));
		NL_SET_ERR_MSG(extack, "out of memory for the pool's key slots");
		return -ENOMEM;
	}

	/* Slot sizes are multiples of 8, so each part stays aligned. */
	slots_len = (size_t)capacity * st->slot_size;
	p = st->mem;
	st->slots[QKD_DIRECTION_OUT] = p;
	st->slots[QKD_DIRECTION_IN] = p + slots_len;
	st->buckets = (struct hlist_head *)(p + QKD_NUM_DIRS * slots_len);
	st->in_link = (struct qkd_link *)(st->buckets + (1U << st->hash_bits));
	/* An empty age list; every slot free, low indices handed out first. */
	st->in_link[capacity].prev = capacity;
	st->in_link[capacity].next = capacity;
	for (i = 0; i < capacity; i++)
		st->in_link[i].next = i + 1;
	st->in_free = 0;
	return 0;
}

/*
 * The inbound lists.  The age list is in order of age because "now" never
 * goes back (CLOCK_BOOTTIME) and a key is appended when it is added.
 */
static u32 qkd_in_oldest(const struct qkd_storage *st)
{
	return st->in_link[st->capacity].next;
}

/* Take the first free slot and append it to the age list as the newest. */
static u32 qkd_in_use_first_free(struct qkd_storage *st)
{
	struct qkd_link *head = &st->in_link[st->capacity];
	u32 idx = st->in_free;

	st->in_free = st->in_link[idx].next;
	st->in_link[idx].prev = head->prev;
	st->in_link[idx].next = st->capacity;
	st->in_link[head->prev].next = idx;
	head->prev = idx;
	return idx;
}

/* Unlink slot @idx from the age list and put it on the free list. */
static void qkd_in_release(struct qkd_storage *st, u32 idx)
{
	struct qkd_link *l = &st->in_link[idx];

	st->in_link[l->prev].next = l->next;
	st->in_link[l->next].prev = l->prev;
	l->prev = 0;
	l->next = st->in_free;
	st->in_free = idx;
}

static struct qkd_slot *qkd_slot(const struct qkd_storage *st,
				 enum qkd_direction dir, u32 idx)
{
	return (struct qkd_slot *)(st->slots[dir] + (size_t)idx * st->slot_size);
}

static bool qkd_slot_is_in(const struct qkd_storage *st,
			   const struct qkd_slot *slot)
{
	const u8 *p = (const u8 *)slot, *base = st->slots[QKD_DIRECTION_IN];

	return p >= base && p < base + (size_t)st->capacity * st->slot_size;
}

static u32 qkd_in_index(const struct qkd_storage *st,
			const struct qkd_slot *slot)
{
	return ((const u8 *)slot - st->slots[QKD_DIRECTION_IN]) /
	       st->slot_size;
}

static struct hlist_head *qkd_bucket(const struct qkd_store *store,
				     const struct qkd_storage *st, const u8 *id)
{
	u64 h = siphash(id, QKD_KEY_ID_LEN, &store->hash_key);

	return &st->buckets[h & ((1U << st->hash_bits) - 1)];
}

static struct qkd_slot *qkd_lookup(const struct qkd_store *store,
				   const u8 *id)
{
	struct qkd_slot *slot;

	hlist_for_each_entry(slot, qkd_bucket(store, &store->st, id), node)
		if (!memcmp(slot->id, id, QKD_KEY_ID_LEN))
			return slot;
	return NULL;
}

/* Unhash and wipe: afterwards the slot holds only zeroes. */
static void qkd_slot_wipe(struct qkd_store *store, struct qkd_slot *slot)
{
	hlist_del(&slot->node);
	memzero_explicit(slot, store->st.slot_size);
}

static void qkd_event(struct qkd_events *events, enum qkd_direction dir,
		      enum qkd_event event, u32 count)
{
	if (!events)
		return;
	/* QKD_MAX_EVENTS covers every event one call can raise. */
	if (WARN_ON_ONCE(events->n >= QKD_MAX_EVENTS))
		return;
	events->ev[events->n].dir = dir;
	events->ev[events->n].event = event;
	events->ev[events->n].count = count;
	events->n++;
}

/*
 * The watermark state machine, run after every change of level or
 * watermarks.  Hysteresis: LOW is entered below the low watermark and left
 * only at the high one.  Going down raises low then empty; coming up from
 * empty is silent until the high watermark raises refilled.  Each event is
 * raised once per crossing: a direction that drains to empty again before
 * it refilled stays silent, so a pool flapping around zero cannot flood
 * the monitor group.
 */
static void qkd_update_state(struct qkd_store *store, enum qkd_direction dir,
			     struct qkd_events *events)
{
	struct qkd_dir *d = &store->dir[dir];

	if (d->state == QKD_STATE_OK && d->level < store->params.low_watermark) {
		d->state = QKD_STATE_LOW;
		qkd_event(events, dir, QKD_EVENT_LOW, d->level);
	}
	if (d->level == 0 && d->state != QKD_STATE_EMPTY) {
		d->state = QKD_STATE_EMPTY;
		if (!d->empty_raised)
			qkd_event(events, dir, QKD_EVENT_EMPTY, 0);
		d->empty_raised = true;
	}
	if (d->state != QKD_STATE_OK &&
	    d->level >= store->params.high_watermark) {
		d->state = QKD_STATE_OK;
		d->empty_raised = false;
		qkd_event(events, dir, QKD_EVENT_REFILLED, d->level);
	} else if (d->state == QKD_STATE_EMPTY && d->level > 0) {
		d->state = QKD_STATE_LOW;
	}
}

/*
 * Rates count keys in and out per window of QKD_RATE_WINDOW_SEC; the rate
 * reported is that of the last complete window, so it does not jump with
 * every key.
 */
static u32 qkd_now_sec(u64 now)
{
	return (u32)div_u64(now, NSEC_PER_SEC);
}

static u64 qkd_rate_window(u64 now)
{
	return qkd_now_sec(now) / QKD_RATE_WINDOW_SEC;
}

static void qkd_rate_roll(struct qkd_dir *d, u64 now)
{
	u64 idx = qkd_rate_window(now);

	if (idx == d->win_idx)
		return;
	if (idx == d->win_idx + 1) {
		d->prev_fill = d->win_fill;
		d->prev_burn = d->win_burn;
	} else {
		d->prev_fill = 0;
		d->prev_burn = 0;
	}
	d->win_fill = 0;
	d->win_burn = 0;
	d->win_idx = idx;
}

static void qkd_rate_add(struct qkd_dir *d, u64 now, u32 fill, u32 burn)
{
	qkd_rate_roll(d, now);
	d->win_fill += fill;
	d->win_burn += burn;
}

static int qkd_check_params(const struct qkd_store_params *p,
			    struct netlink_ext_ack *extack)
{
	if (p->key_size < QKD_KEY_SIZE_MIN || p->key_size > QKD_KEY_SIZE_MAX) {
		NL_SET_ERR_MSG_FMT(extack, "key size %u is not within %u..%u",
				   p->key_size, QKD_KEY_SIZE_MIN,
				   QKD_KEY_SIZE_MAX);
		return -EINVAL;
	}
	if (p->capacity < 1 || p->capacity > QKD_CAPACITY_MAX) {
		NL_SET_ERR_MSG_FMT(extack, "capacity %u is not within 1..%u",
				   p->capacity, QKD_CAPACITY_MAX);
		return -EINVAL;
	}
	if (p->low_watermark >= p->high_watermark ||
	    p->high_watermark > p->capacity) {
		NL_SET_ERR_MSG_FMT(extack,
				   "watermarks need low < high <= capacity: low %u, high %u, capacity %u",
				   p->low_watermark, p->high_watermark,
				   p->capacity);
		return -EINVAL;
	}
	return 0;
}

struct qkd_store *qkd_store_create(const struct qkd_store_params *params,
				   u64 now, struct netlink_ext_ack *extack)
{
	struct qkd_store_params p = *params;
	struct qkd_store *store;
	size_t bytes;
	int d, err;

	if (!p.key_size)
		p.key_size = QKD_DEFAULT_KEY_SIZE;
	if (!p.capacity)
		p.capacity = QKD_DEFAULT_CAPACITY;
	if (!p.low_watermark)
		p.low_watermark = p.capacity / 4;
	if (!p.high_watermark)
		p.high_watermark = DIV_ROUND_UP_ULL((u64)p.capacity * 3, 4);
	err = qkd_check_params(&p, extack);
	if (err)
		return ERR_PTR(err);

	bytes = sizeof(*store) + qkd_storage_bytes(p.capacity, p.key_size);
	err = qkd_mem_charge(bytes, extack);
	if (err)
		return ERR_PTR(err);

	store = kzalloc(sizeof(*store), GFP_KERNEL);
	if (!store) {
		NL_SET_ERR_MSG(extack, "out of memory for the pool");
		err = -ENOMEM;
		goto uncharge;
	}
	err = qkd_storage_alloc(&store->st, p.capacity, p.key_size, extack);
	if (err)
		goto free_store;

	store->params = p;
	get_random_bytes(&store->hash_key, sizeof(store->hash_key));
	for (d = 0; d < QKD_NUM_DIRS; d++) {
		store->dir[d].state = QKD_STATE_EMPTY;
		store->dir[d].win_idx = qkd_rate_window(now);
	}
	return store;

free_store:
	kfree(store);
uncharge:
	qkd_mem_uncharge(bytes);
	return ERR_PTR(err);
}

void qkd_store_destroy(struct qkd_store *store)
{
	if (!store)
		return;
	qkd_mem_uncharge(sizeof(*store) + store->st.bytes);
	qkd_storage_free(&store->st);
	kfree_sensitive(store);
}

void qkd_store_get_params(const struct qkd_store *store,
			  struct qkd_store_params *params)
{
	*params = store->params;
}

/*
 * Move every key into @nst, keeping the outbound order; the old slots are
 * left for qkd_storage_free() to wipe.
 */
static void qkd_store_migrate(struct qkd_store *store, struct qkd_storage *nst)
{
	struct qkd_storage *ost = &store->st;
	struct qkd_slot *from, *to;
	u32 i;

	for (i = 0; i < store->dir[QKD_DIRECTION_OUT].level; i++) {
		from = qkd_slot(ost, QKD_DIRECTION_OUT,
				(store->out_head + i) % ost->capacity);
		to = qkd_slot(nst, QKD_DIRECTION_OUT, i);
		memcpy(to->id, from->id, QKD_KEY_ID_LEN);
		memcpy(to->material, from->material, ost->key_size);
		to->added = from->added;
		hlist_add_head(&to->node, qkd_bucket(store, nst, to->id));
	}
	/* Oldest first, so that the new age list is in the same order. */
	for (i = qkd_in_oldest(ost); i != ost->capacity;
	     i = ost->in_link[i].next) {
		from = qkd_slot(ost, QKD_DIRECTION_IN, i);
		to = qkd_slot(nst, QKD_DIRECTION_IN,
			      qkd_in_use_first_free(nst));
		memcpy(to->id, from->id, QKD_KEY_ID_LEN);
		memcpy(to->material, from->material, ost->key_size);
		to->added = from->added;
		hlist_add_head(&to->node, qkd_bucket(store, nst, to->id));
	}
	store->out_head = 0;
}

int qkd_store_configure(struct qkd_store *store,
			const struct qkd_store_params *params, u64 now,
			struct qkd_events *events,
			struct netlink_ext_ack *extack)
{
	struct qkd_storage nst;
	size_t old_bytes, new_bytes;
	int d, err;

	err = qkd_check_params(params, extack);
	if (err)
		return err;
	if (params->key_size != store->params.key_size &&
	    qkd_store_level(store)) {
		NL_SET_ERR_MSG_FMT(extack,
				   "key size can change only while the pool is empty; it holds %u keys",
				   qkd_store_level(store));
		return -EBUSY;
	}
	for (d = 0; d < QKD_NUM_DIRS; d++) {
		if (params->capacity < store->dir[d].level) {
			NL_SET_ERR_MSG_FMT(extack,
					   "capacity %u is below the %s level of %u keys",
					   params->capacity, qkd_dir_name[d],
					   store->dir[d].level);
			return -EBUSY;
		}
	}

	if (params->capacity != store->params.capacity ||
	    params->key_size != store->params.key_size) {
		/*
		 * The cap is charged with the difference: old and new storage
		 * coexist only for the duration of this call.
		 */
		old_bytes = store->st.bytes;
		new_bytes = qkd_storage_bytes(params->capacity,
					      params->key_size);
		if (new_bytes > old_bytes) {
			err = qkd_mem_charge(new_bytes - old_bytes, extack);
			if (err)
				return err;
		}
		err = qkd_storage_alloc(&nst, params->capacity,
					params->key_size, extack);
		if (err) {
			if (new_bytes > old_bytes)
				qkd_mem_uncharge(new_bytes - old_bytes);
			return err;
		}
		qkd_store_migrate(store, &nst);
		qkd_storage_free(&store->st);
		store->st = nst;
		if (new_bytes < old_bytes)
			qkd_mem_uncharge(old_bytes - new_bytes);
	}

	store->params = *params;
	for (d = 0; d < QKD_NUM_DIRS; d++)
		qkd_update_state(store, d, events);
	return 0;
}

static void qkd_add_rejected(struct qkd_store *store, enum qkd_direction dir,
			     unsigned int n)
{
	store->dir[dir].rejected += n;
}

/*
 * The slot the @i-th key of a batch goes to while the batch is not yet
 * committed: past the ring's end, or the next on the inbound free list,
 * which @free walks (start it at st->in_free).
 */
static u32 qkd_batch_slot(const struct qkd_store *store,
			  enum qkd_direction dir, unsigned int i, u32 *free)
{
	const struct qkd_storage *st = &store->st;
	u32 idx;

	if (dir == QKD_DIRECTION_OUT)
		return (store->out_head + store->dir[dir].level + i) %
		       st->capacity;
	idx = *free;
	*free = st->in_link[idx].next;
	return idx;
}

int qkd_store_add(struct qkd_store *store, enum qkd_direction dir,
		  const struct qkd_key_ref *keys, unsigned int n, u64 now,
		  struct qkd_events *events, struct netlink_ext_ack *extack)
{
	struct qkd_storage *st = &store->st;
	struct qkd_slot *slot, *dup;
	u32 added = qkd_now_sec(now), idx, free;
	struct qkd_dir *d;
	unsigned int i, j;

	if (dir != QKD_DIRECTION_OUT && dir != QKD_DIRECTION_IN) {
		NL_SET_ERR_MSG_FMT(extack, "unknown direction %d", dir);
		return -EINVAL;
	}
	d = &store->dir[dir];
	if (!n) {
		NL_SET_ERR_MSG(extack, "no keys to add");
		return -EINVAL;
	}
	if (n > st->capacity - d->level) {
		NL_SET_ERR_MSG_FMT(extack,
				   "%u keys do not fit: %s has room for %u of %u",
				   n, qkd_dir_name[dir],
				   st->capacity - d->level, st->capacity);
		qkd_add_rejected(store, dir, n);
		return -ENOSPC;
	}
	for (i = 0; i < n; i++) {
		if (keys[i].len != st->key_size) {
			NL_SET_ERR_MSG_FMT(extack,
					   "key %u has %u bytes of material, the pool's key size is %u",
					   i, keys[i].len, st->key_size);
			qkd_add_rejected(store, dir, n);
			return -EINVAL;
		}
	}

	/*
	 * Fill the slots past the current end and hash them as we go, so
	 * that the lookup also finds duplicates within the batch.  Nothing is
	 * committed (level, inbound lists) until all of them went in.
	 */
	free = st->in_free;
	for (i = 0; i < n; i++) {
		dup = qkd_lookup(store, keys[i].id);
		if (dup)
			goto duplicate;
		slot = qkd_slot(st, dir, qkd_batch_slot(store, dir, i, &free));
		memcpy(slot->id, keys[i].id, QKD_KEY_ID_LEN);
		memcpy(slot->material, keys[i].material, st->key_size);
		slot->added = added;
		hlist_add_head(&slot->node, qkd_bucket(store, st, slot->id));
	}

	if (dir == QKD_DIRECTION_IN)
		for (i = 0; i < n; i++)
			qkd_in_use_first_free(st);
	d->level += n;
	d->added += n;
	d->bytes_added += (u64)n * st->key_size;
	qkd_rate_add(d, now, n, 0);
	qkd_update_state(store, dir, events);
	return 0;

duplicate:
	NL_SET_ERR_MSG_FMT(extack, "key %u: ID %16phN is already in the pool (%s)",
			   i, keys[i].id,
			   qkd_dir_name[qkd_slot_is_in(st, dup) ?
					QKD_DIRECTION_IN : QKD_DIRECTION_OUT]);
	free = st->in_free;
	for (j = 0; j < i; j++) {
		idx = qkd_batch_slot(store, dir, j, &free);
		qkd_slot_wipe(store, qkd_slot(st, dir, idx));
	}
	qkd_add_rejected(store, dir, n);
	return -EEXIST;
}

/* Hand a key to the caller and wipe its slot. */
static void qkd_take_slot(struct qkd_store *store, enum qkd_direction dir,
			  struct qkd_slot *slot, u8 *id, u8 *material, u64 now,
			  struct qkd_events *events)
{
	struct qkd_dir *d = &store->dir[dir];

	if (id)
		memcpy(id, slot->id, QKD_KEY_ID_LEN);
	memcpy(material, slot->material, store->st.key_size);
	qkd_slot_wipe(store, slot);
	d->level--;
	d->taken++;
	d->bytes_taken += store->st.key_size;
	qkd_rate_add(d, now, 0, 1);
	qkd_update_state(store, dir, events);
}

/*
 * Remove keys from @dir, oldest first, while @pred selects them (all of
 * them when @pred is NULL), and return how many.  Both directions keep
 * their keys in order of age (the ring, the inbound age list), so this
 * stops at the first key @pred keeps: O(keys removed).
 */
static u32 qkd_remove(struct qkd_store *store, enum qkd_direction dir,
		      bool (*pred)(const struct qkd_slot *, u32), u32 arg)
{
	struct qkd_storage *st = &store->st;
	struct qkd_dir *d = &store->dir[dir];
	struct qkd_slot *slot;
	u32 idx, n = 0;

	while (d->level) {
		idx = dir == QKD_DIRECTION_OUT ? store->out_head :
						 qkd_in_oldest(st);
		slot = qkd_slot(st, dir, idx);
		if (pred && !pred(slot, arg))
			break;
		qkd_slot_wipe(store, slot);
		if (dir == QKD_DIRECTION_OUT)
			store->out_head = (store->out_head + 1) % st->capacity;
		else
			qkd_in_release(st, idx);
		d->level--;
		n++;
	}
	return n;
}

/* Expired once @arg (the first second it is too old) is reached. */
static bool qkd_slot_expired(const struct qkd_slot *slot, u32 deadline)
{
	return slot->added <= deadline;
}

/*
 * Why outbound keys leave early: qkd-linkd adds a key to the peer's inbound
 * side first and to our outbound side only after the peer's ACK, so with
 * ages in whole seconds the two add times can straddle a second boundary;
 * then the IKE message that offers the key takes its time to reach the
 * peer.  Were both sides to expire at max_age, a key taken just before its
 * expiry could find its twin gone: a NAK, and the key is burnt.  The guard
 * is at most a quarter of max_age, so that a short max_age still keeps
 * outbound keys for most of their life.
 */
u32 qkd_store_lifetime(const struct qkd_store_params *params,
		       enum qkd_direction dir)
{
	u32 guard = min(QKD_OUT_EXPIRY_GUARD_SEC, params->max_age / 4);

	return dir == QKD_DIRECTION_OUT ? params->max_age - guard :
					  params->max_age;
}

/*
 * The last second a key of @dir added then is too old at @now, in
 * @deadline; false when no key can be too old yet (or none ever is).  Ages
 * are kept in whole seconds, so a key expires between life - 1 and life
 * seconds after it was added: early rather than late.
 */
static bool qkd_expiry_deadline(const struct qkd_store *store,
				enum qkd_direction dir, u64 now, u32 *deadline)
{
	u32 life = qkd_store_lifetime(&store->params, dir);
	u32 now_s = qkd_now_sec(now);

	if (!store->params.max_age || now_s < life)
		return false;
	*deadline = now_s - life;
	return true;
}

/* Is @slot of @dir too old at @now?  O(1): one comparison. */
static bool qkd_slot_too_old(const struct qkd_store *store,
			     enum qkd_direction dir,
			     const struct qkd_slot *slot, u64 now)
{
	u32 deadline;

	return qkd_expiry_deadline(store, dir, now, &deadline) &&
	       qkd_slot_expired(slot, deadline);
}

/*
 * Wipe the keys of @dir that are too old at @now and count them as
 * expired; the caller updates the watermark state.  O(keys expired), O(1)
 * when none is: only the oldest key is looked at.
 */
static u32 qkd_expire_dir(struct qkd_store *store, enum qkd_direction dir,
			  u64 now)
{
	struct qkd_dir *d = &store->dir[dir];
	u32 deadline, n;

	if (!qkd_expiry_deadline(store, dir, now, &deadline))
		return 0;
	n = qkd_remove(store, dir, qkd_slot_expired, deadline);
	if (n) {
		d->expired += n;
		qkd_rate_add(d, now, 0, n);
	}
	return n;
}

/*
 * A take runs the expiry of its direction first, so that it never hands
 * out a key past its lifetime when the expiry work is late (a suspend, a
 * stalled workqueue).  The keys it wipes are reported by the next
 * qkd_store_expire(), which keeps expired events at one per expiry run.
 */
static u32 qkd_take_expire(struct qkd_store *store, enum qkd_direction dir,
			   u64 now, struct qkd_events *events)
{
	u32 n = qkd_expire_dir(store, dir, now);

	if (n) {
		store->dir[dir].expired_unreported += n;
		qkd_update_state(store, dir, events);
	}
	return n;
}

int qkd_store_take_next(struct qkd_store *store, u8 *id, u8 *material,
			u64 now, struct qkd_events *events,
			struct netlink_ext_ack *extack)
{
	struct qkd_dir *d = &store->dir[QKD_DIRECTION_OUT];
	struct qkd_slot *slot;
	u32 expired;

	expired = qkd_take_expire(store, QKD_DIRECTION_OUT, now, events);
	if (!d->level) {
		d->missed++;
		if (expired)
			NL_SET_ERR_MSG_FMT(extack,
					   "no outbound key left: %u were older than max-age and expired",
					   expired);
		else
			NL_SET_ERR_MSG(extack, "no outbound key left");
		return -ENOENT;
	}
	slot = qkd_slot(&store->st, QKD_DIRECTION_OUT, store->out_head);
	store->out_head = (store->out_head + 1) % store->st.capacity;
	qkd_take_slot(store, QKD_DIRECTION_OUT, slot, id, material, now,
		      events);
	return 0;
}

int qkd_store_take_id(struct qkd_store *store, const u8 *id, const u8 *tag,
		      u8 *material, u64 now, struct qkd_events *events,
		      struct netlink_ext_ack *extack)
{
	struct qkd_dir *d = &store->dir[QKD_DIRECTION_IN];
	struct qkd_slot *slot = qkd_lookup(store, id);
	u32 idx;

	/* An outbound key is not the peer's to take. */
	if (!slot || !qkd_slot_is_in(&store->st, slot)) {
		d->missed++;
		NL_SET_ERR_MSG_FMT(extack, "no inbound key with ID %16phN", id);
		return -ENOENT;
	}
	/* Too old: it goes, with every older inbound key. */
	if (qkd_slot_too_old(store, QKD_DIRECTION_IN, slot, now)) {
		qkd_take_expire(store, QKD_DIRECTION_IN, now, events);
		d->missed++;
		NL_SET_ERR_MSG_FMT(extack,
				   "inbound key %16phN was older than max-age and expired",
				   id);
		return -ENOENT;
	}
	if (tag && !qkd_tag_verify(tag, slot->material, store->st.key_size,
				   slot->id)) {
		d->rejected++;
		NL_SET_ERR_MSG_FMT(extack,
				   "confirmation tag does not match key %16phN",
				   id);
		return -EKEYREJECTED;
	}
	idx = qkd_in_index(&store->st, slot);
	qkd_take_slot(store, QKD_DIRECTION_IN, slot, NULL, material, now,
		      events);
	qkd_in_release(&store->st, idx);
	return 0;
}

u32 qkd_store_flush(struct qkd_store *store, enum qkd_direction dir,
		    bool both, u64 now, struct qkd_events *events)
{
	u32 n, total = 0;
	int d;

	for (d = 0; d < QKD_NUM_DIRS; d++) {
		if (!both && d != dir)
			continue;
		n = qkd_remove(store, d, NULL, 0);
		store->dir[d].flushed += n;
		total += n;
		qkd_update_state(store, d, events);
	}
	return total;
}

bool qkd_store_expired_unreported(const struct qkd_store *store)
{
	return store->dir[QKD_DIRECTION_OUT].expired_unreported ||
	       store->dir[QKD_DIRECTION_IN].expired_unreported;
}

/* When the oldest key of @dir expires (s), or U64_MAX when it has none. */
static u64 qkd_next_expiry_dir(const struct qkd_store *store,
			       enum qkd_direction dir)
{
	const struct qkd_storage *st = &store->st;
	u32 idx;

	if (!store->dir[dir].level)
		return U64_MAX;
	idx = dir == QKD_DIRECTION_OUT ? store->out_head : qkd_in_oldest(st);
	return (u64)qkd_slot(st, dir, idx)->added +
	       qkd_store_lifetime(&store->params, dir);
}

u32 qkd_store_expire(struct qkd_store *store, u64 now, u64 *next_expiry,
		     struct qkd_events *events)
{
	u64 next = U64_MAX;
	u32 n, report, total = 0;
	struct qkd_dir *d;
	int dir;

	*next_expiry = 0;
	for (dir = 0; dir < QKD_NUM_DIRS; dir++) {
		d = &store->dir[dir];
		n = qkd_expire_dir(store, dir, now);
		total += n;
		/* With the keys takes found too old since the last run. */
		report = n + d->expired_unreported;
		d->expired_unreported = 0;
		if (report)
			qkd_event(events, dir, QKD_EVENT_EXPIRED, report);
		if (n)
			qkd_update_state(store, dir, events);
		next = min(next, qkd_next_expiry_dir(store, dir));
	}
	if (store->params.max_age && next != U64_MAX)
		*next_expiry = next * NSEC_PER_SEC;
	return total;
}

void qkd_store_stats(struct qkd_store *store, enum qkd_direction dir,
		     u64 now, struct qkd_dir_stats *stats)
{
	struct qkd_dir *d = &store->dir[dir];

	qkd_rate_roll(d, now);
	memset(stats, 0, sizeof(*stats));
	stats->level = d->level;
	stats->capacity = store->st.capacity;
	stats->state = d->state;
	stats->added = d->added;
	stats->taken = d->taken;
	stats->expired = d->expired;
	stats->flushed = d->flushed;
	stats->rejected = d->rejected;
	stats->missed = d->missed;
	stats->bytes_added = d->bytes_added;
	stats->bytes_taken = d->bytes_taken;
	stats->fill_rate = div_u64((u64)d->prev_fill * 1000,
				   QKD_RATE_WINDOW_SEC);
	stats->burn_rate = div_u64((u64)d->prev_burn * 1000,
				   QKD_RATE_WINDOW_SEC);
	if (stats->burn_rate > stats->fill_rate) {
		stats->has_time_to_empty = true;
		stats->time_to_empty = div64_u64((u64)d->level * 1000,
						 stats->burn_rate -
						 stats->fill_rate);
	}
}

u32 qkd_store_level(const struct qkd_store *store)
{
	return store->dir[QKD_DIRECTION_OUT].level +
	       store->dir[QKD_DIRECTION_IN].level;
}

#if IS_ENABLED(CONFIG_QKDPOOL_KUNIT_TEST)
#include "store_test.c"
#endif
