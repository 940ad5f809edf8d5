// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the key store.  Included at the end of store.c, so they
 * can look at the slots themselves: the wiping tests check memory, not
 * counters.  The clock is the tests' own: "now" is whatever they pass.
 */

#include <kunit/test.h>

#define T_SEC(s)	((u64)(s) * NSEC_PER_SEC)
#define T_KEY		32

static void qkd_test_destroy(void *store)
{
	qkd_store_destroy(store);
}

static struct qkd_store *qkd_test_store(struct kunit *test, u32 capacity,
					u32 low, u32 high, u32 max_age)
{
	struct qkd_store_params p = {
		.key_size = T_KEY, .capacity = capacity,
		.low_watermark = low, .high_watermark = high,
		.max_age = max_age,
	};
	struct qkd_store *store = qkd_store_create(&p, 0, NULL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, store);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test,
							   qkd_test_destroy,
							   store));
	return store;
}

/* Key n: its ID and material both derive from n, so each is checkable. */
static void qkd_test_id(u8 *id, u32 n)
{
	memset(id, 0x11, QKD_KEY_ID_LEN);
	memcpy(id, &n, sizeof(n));
}

static void qkd_test_material(u8 *material, u32 n)
{
	unsigned int i;

	for (i = 0; i < T_KEY; i++)
		material[i] = (u8)(n * 7 + i + 1);
}

struct qkd_test_batch {
	u8 ids[16][QKD_KEY_ID_LEN];
	u8 material[16][T_KEY];
	struct qkd_key_ref refs[16];
};

/* Add keys first .. first + n - 1 to @dir. */
static int qkd_test_add(struct qkd_store *store, enum qkd_direction dir,
			u32 first, unsigned int n, u64 now,
			struct qkd_events *events)
{
	struct qkd_test_batch b;
	unsigned int i;

	if (WARN_ON(n > ARRAY_SIZE(b.refs)))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		qkd_test_id(b.ids[i], first + i);
		qkd_test_material(b.material[i], first + i);
		b.refs[i].id = b.ids[i];
		b.refs[i].material = b.material[i];
		b.refs[i].len = T_KEY;
	}
	return qkd_store_add(store, dir, b.refs, n, now, events, NULL);
}

/* Add keys that must go in. */
static void qkd_test_fill(struct kunit *test, struct qkd_store *store,
			  enum qkd_direction dir, u32 first, unsigned int n,
			  u64 now, struct qkd_events *events)
{
	int err = qkd_test_add(store, dir, first, n, now, events);

	KUNIT_ASSERT_EQ_MSG(test, err, 0, "adding keys %u..%u", first,
			    first + n - 1);
}

/* Take the next outbound key and check that it is key @n. */
static void qkd_test_expect_next(struct kunit *test, struct qkd_store *store,
				 u32 n, u64 now)
{
	u8 id[QKD_KEY_ID_LEN], want_id[QKD_KEY_ID_LEN];
	u8 material[T_KEY], want[T_KEY];

	KUNIT_ASSERT_EQ(test, 0, qkd_store_take_next(store, id, material, now,
						     NULL, NULL));
	qkd_test_id(want_id, n);
	qkd_test_material(want, n);
	KUNIT_EXPECT_MEMEQ(test, id, want_id, QKD_KEY_ID_LEN);
	KUNIT_EXPECT_MEMEQ(test, material, want, T_KEY);
}

static int qkd_test_take_id(struct qkd_store *store, u32 n, u8 *material,
			    u64 now, struct qkd_events *events)
{
	u8 id[QKD_KEY_ID_LEN];

	qkd_test_id(id, n);
	return qkd_store_take_id(store, id, NULL, material, now, events, NULL);
}

static u32 qkd_test_level(struct qkd_store *store, enum qkd_direction dir)
{
	return store->dir[dir].level;
}

static void qkd_store_test_defaults(struct kunit *test)
{
	struct qkd_store_params p = {};
	struct qkd_store *store = qkd_store_create(&p, 0, NULL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, store);
	qkd_store_get_params(store, &p);
	KUNIT_EXPECT_EQ(test, p.key_size, QKD_DEFAULT_KEY_SIZE);
	KUNIT_EXPECT_EQ(test, p.capacity, QKD_DEFAULT_CAPACITY);
	KUNIT_EXPECT_EQ(test, p.low_watermark, QKD_DEFAULT_CAPACITY / 4);
	KUNIT_EXPECT_EQ(test, p.high_watermark, QKD_DEFAULT_CAPACITY * 3 / 4);
	KUNIT_EXPECT_EQ(test, p.max_age, 0);
	KUNIT_EXPECT_EQ(test, store->dir[QKD_DIRECTION_OUT].state,
			QKD_STATE_EMPTY);
	qkd_store_destroy(store);
}

struct qkd_bad_params {
	const char *name;
	struct qkd_store_params p;
};

static const struct qkd_bad_params qkd_bad_params_cases[] = {
	{ "low above high", { 32, 100, 80, 20, 0 } },
	{ "low equals high", { 32, 100, 50, 50, 0 } },
	{ "high above capacity", { 32, 100, 10, 101, 0 } },
	{ "key size too small", { 15, 100, 10, 20, 0 } },
	{ "key size too large", { 65, 100, 10, 20, 0 } },
	{ "capacity too large", { 32, QKD_CAPACITY_MAX + 1, 10, 20, 0 } },
};

static void qkd_bad_params_desc(const struct qkd_bad_params *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(qkd_bad_params, qkd_bad_params_cases, qkd_bad_params_desc);

static void qkd_store_test_bad_params(struct kunit *test)
{
	const struct qkd_bad_params *c = test->param_value;
	struct netlink_ext_ack extack = {};
	unsigned long used = qkd_store_mem_used();
	struct qkd_store *store;

	store = qkd_store_create(&c->p, 0, &extack);
	KUNIT_EXPECT_EQ(test, PTR_ERR(store), -EINVAL);
	KUNIT_EXPECT_NOT_NULL(test, extack._msg);
	KUNIT_EXPECT_EQ(test, qkd_store_mem_used(), used);
}

/* The ring wraps: its head index passes the end of the slot array. */
static void qkd_store_test_ring_wrap(struct kunit *test)
{
	struct qkd_store *store = qkd_test_store(test, 4, 1, 3, 0);
	u32 n;

	qkd_test_fill(test, store, QKD_DIRECTION_OUT, 0, 3, 0, NULL);
	qkd_test_expect_next(test, store, 0, 0);
	qkd_test_expect_next(test, store, 1, 0);
	/* Keys 3..5 go to slots 3, 0, 1. */
	qkd_test_fill(test, store, QKD_DIRECTION_OUT, 3, 3, 0, NULL);
	KUNIT_EXPECT_EQ(test, qkd_test_level(store, QKD_DIRECTION_OUT), 4);
	KUNIT_EXPECT_EQ(test, store->out_head, 2);
	for (n = 2; n < 6; n++)
		qkd_test_expect_next(test, store, n, 0);
	KUNIT_EXPECT_EQ(test, store->out_head, 2);

	/* Many laps keep FIFO order. */
	for (n = 100; n < 140; n += 2) {
		qkd_test_fill(test, store, QKD_DIRECTION_OUT, n, 2, 0, NULL);
		qkd_test_expect_next(test, store, n, 0);
		qkd_test_expect_next(test, store, n + 1, 0);
	}
	KUNIT_EXPECT_EQ(test, qkd_test_level(store, QKD_DIRECTION_OUT), 0);
}

static void qkd_store_test_fifo_order(struct kunit *test)
{
	struct qkd_store *store = qkd_test_store(test, 64, 0, 64, 0);
	u8 id[QKD_KEY_ID_LEN], material[T_KEY];
	u32 n;

	for (n = 0; n < 64; n += 16)
		qkd_test_fill(test, store, QKD_DIRECTION_OUT, n, 16, 0, NULL);
	for (n = 0; n < 64; n++)
		qkd_test_expect_next(test, store, n, 0);
	KUNIT_EXPECT_EQ(test, -ENOENT, qkd_store_take_next(store, id, material,
							   0, NULL, NULL));
	KUNIT_EXPECT_EQ(test, store->dir[QKD_DIRECTION_OUT].missed, 1);
}

static void qkd_store_test_lookup_by_id(struct kunit *test)
{
	struct qkd_store *store = qkd_test_store(test, 16, 1, 8, 0);
	static const u32 order[] = { 7, 0, 15, 3, 8, 12, 1, 14, 2, 9, 4, 11,
				     5, 13, 6, 10 };
	u8 material[T_KEY], want[T_KEY];
	unsigned int i;

	qkd_test_fill(test, store, QKD_DIRECTION_IN, 0, 16, 0, NULL);
	qkd_test_fill(test, store, QKD_DIRECTION_OUT, 100, 1, 0, NULL);
	for (i = 0; i < ARRAY_SIZE(order); i++) {
		KUNIT_ASSERT_EQ(test, 0, qkd_test_take_id(store, order[i],
							  material, 0, NULL));
		qkd_test_material(want, order[i]);
		KUNIT_EXPECT_MEMEQ(test, material, want, T_KEY);
	}
	/* Taken once only; outbound keys are not taken by ID. */
	KUNIT_EXPECT_EQ(test, -ENOENT, qkd_test_take_id(store, 7, material, 0,
							NULL));
	KUNIT_EXPECT_EQ(test, -ENOENT, qkd_test_take_id(store, 100, material,
							0, NULL));
	KUNIT_EXPECT_EQ(test, store->dir[QKD_DIRECTION_IN].missed, 2);
	KUNIT_EXPECT_EQ(test, qkd_test_level(store, QKD_DIRECTION_OUT), 1);

	/* Freed slots are reused. */
	KUNIT_EXPECT_EQ(test, 0, qkd_test_add(store, QKD_DIRECTION_IN, 200, 16,
					      0, NULL));
	KUNIT_EXPECT_EQ(test, 0, qkd_test_take_id(store, 215, material, 0,
						  NULL));
}

static void qkd_store_test_tag(struct kunit *test)
{
	struct qkd_store *store = qkd_test_store(test, 4, 1, 2, 0);
	u8 id[QKD_KEY_ID_LEN], material[T_KEY], tag[QKD_TAG_LEN];

	qkd_test_fill(test, store, QKD_DIRECTION_IN, 1, 1, 0, NULL);
	qkd_test_id(id, 1);
	qkd_test_material(material, 1);
	qkd_tag_compute(tag, material, T_KEY, id);

	tag[0] ^= 1;
	KUNIT_EXPECT_EQ(test, -EKEYREJECTED,
			qkd_store_take_id(store, id, tag, material, 0, NULL,
					  NULL));
	KUNIT_EXPECT_EQ(test, store->dir[QKD_DIRECTION_IN].rejected, 1);
	KUNIT_EXPECT_EQ(test, qkd_test_level(store, QKD_DIRECTION_IN), 1);
	tag[0] ^= 1;
	KUNIT_EXPECT_EQ(test, 0, qkd_store_take_id(store, id, tag, material, 0,
						   NULL, NULL));
	KUNIT_EXPECT_EQ(test, qkd_test_level(store, QKD_DIRECTION_IN), 0);
}

/* A refused batch leaves level, counters and slots (all zero) unchanged. */
static void qkd_test_expect_unchanged(struct kunit *test,
				      struct qkd_store *store, u32 level_out,
				      u32 level_in)
{
	struct qkd_storage *st = &store->st;
	u32 i, used = 0;
	int d;

	KUNIT_EXPECT_EQ(test, qkd_test_level(store, QKD_DIRECTION_OUT),
			level_out);
	KUNIT_EXPECT_EQ(test, qkd_test_level(store, QKD_DIRECTION_IN),
			level_in);
	for (d = 0; d < QKD_NUM_DIRS; d++)
		for (i = 0; i < st->capacity; i++)
			if (memchr_inv(qkd_slot(st, d, i), 0, st->slot_size))
				used++;
	KUNIT_EXPECT_EQ(test, used, level_out + level_in);
}

/*
 * Keys 0..3 go to first_dir; then keys 10, 11, 12 and @last go to
 * second_dir: last 3 is already in the pool, last 10 twice in the batch.
 */
struct qkd_dup_case {
	const char *name;
	enum qkd_direction first_dir, second_dir;
	u32 last;
};

static const struct qkd_dup_case qkd_dup_cases[] = {
	{ "outbound in outbound", QKD_DIRECTION_OUT, QKD_DIRECTION_OUT, 3 },
	{ "inbound in inbound", QKD_DIRECTION_IN, QKD_DIRECTION_IN, 3 },
	{ "inbound in outbound", QKD_DIRECTION_OUT, QKD_DIRECTION_IN, 3 },
	{ "outbound in inbound", QKD_DIRECTION_IN, QKD_DIRECTION_OUT, 3 },
	{ "twice in outbound batch", QKD_DIRECTION_OUT, QKD_DIRECTION_OUT, 10 },
	{ "twice in inbound batch", QKD_DIRECTION_IN, QKD_DIRECTION_IN, 10 },
};

static void qkd_dup_desc(const struct qkd_dup_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(qkd_dup, qkd_dup_cases, qkd_dup_desc);

static void qkd_store_test_duplicate(struct kunit *test)
{
	const struct qkd_dup_case *c = test->param_value;
	struct qkd_store *store = qkd_test_store(test, 16, 1, 8, 0);
	struct netlink_ext_ack extack = {};
	struct qkd_test_batch b;
	u32 out, in;
	unsigned int i;

	qkd_test_fill(test, store, c->first_dir, 0, 4, 0, NULL);
	out = qkd_test_level(store, QKD_DIRECTION_OUT);
	in = qkd_test_level(store, QKD_DIRECTION_IN);
	for (i = 0; i < 4; i++) {
		u32 n = i < 3 ? 10 + i : c->last;

		qkd_test_id(b.ids[i], n);
		qkd_test_material(b.material[i], n);
		b.refs[i] = (struct qkd_key_ref){ b.ids[i], b.material[i],
						  T_KEY };
	}

	KUNIT_EXPECT_EQ(test, -EEXIST,
			qkd_store_add(store, c->second_dir, b.refs, 4, 0, NULL,
				      &extack));
	KUNIT_EXPECT_NOT_NULL(test, extack._msg);
	KUNIT_EXPECT_EQ(test, store->dir[c->second_dir].rejected, 4);
	KUNIT_EXPECT_EQ(test, store->dir[c->second_dir].added,
			c->first_dir == c->second_dir ? 4 : 0);
	qkd_test_expect_unchanged(test, store, out, in);
}

/* One bad key in a batch refuses the whole batch. */
static void qkd_store_test_all_or_none(struct kunit *test)
{
	struct qkd_store *store = qkd_test_store(test, 16, 1, 8, 0);
	struct netlink_ext_ack extack = {};
	struct qkd_test_batch b;
	unsigned int i;

	for (i = 0; i < 8; i++) {
		qkd_test_id(b.ids[i], i);
		qkd_test_material(b.material[i], i);
		b.refs[i] = (struct qkd_key_ref){ b.ids[i], b.material[i],
						  T_KEY };
	}
	b.refs[7].len = T_KEY - 1;
	KUNIT_EXPECT_EQ(test, -EINVAL,
			qkd_store_add(store, QKD_DIRECTION_IN, b.refs, 8, 0,
				      NULL, &extack));
	KUNIT_EXPECT_NOT_NULL(test, extack._msg);
	qkd_test_expect_unchanged(test, store, 0, 0);
	KUNIT_EXPECT_EQ(test, store->dir[QKD_DIRECTION_IN].rejected, 8);
	KUNIT_EXPECT_EQ(test, store->dir[QKD_DIRECTION_IN].added, 0);

	b.refs[7].len = T_KEY;
	KUNIT_EXPECT_EQ(test, 0, qkd_store_add(store, QKD_DIRECTION_IN, b.refs,
					       8, 0, NULL, NULL));
	KUNIT_EXPECT_EQ(test, qkd_test_level(store, QKD_DIRECTION_IN), 8);
}

static void qkd_store_test_capacity(struct kunit *test)
{
	struct qkd_store *store = qkd_test_store(test, 8, 1, 4, 0);
	int d;

	for (d = 0; d < QKD_NUM_DIRS; d++) {
		u32 base = d * 100;

		qkd_test_fill(test, store, d, base, 6, 0, NULL);
		/* 3 do not fit in the 2 left: none goes in. */
		KUNIT_EXPECT_EQ(test, -ENOSPC, qkd_test_add(store, d, base + 6,
							    3, 0, NULL));
		KUNIT_EXPECT_EQ(test, qkd_test_level(store, d), 6);
		KUNIT_EXPECT_EQ(test, 0, qkd_test_add(store, d, base + 6, 2, 0,
						      NULL));
		KUNIT_EXPECT_EQ(test, -ENOSPC, qkd_test_add(store, d, base + 8,
							    1, 0, NULL));
		KUNIT_EXPECT_EQ(test, qkd_test_level(store, d), 8);
		KUNIT_EXPECT_EQ(test, store->dir[d].rejected, 4);
	}
	KUNIT_EXPECT_EQ(test, qkd_store_level(store), 16);
}

struct qkd_expiry_case {
	const char *name;
	enum qkd_direction dir;
	u32 life;		/* seconds a key lives with max_age 10 */
};

/* Outbound keys leave the 2-second guard earlier. */
static const struct qkd_expiry_case qkd_expiry_cases[] = {
	{ "outbound", QKD_DIRECTION_OUT, 8 },
	{ "inbound", QKD_DIRECTION_IN, 10 },
};

static void qkd_expiry_desc(const struct qkd_expiry_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(qkd_expiry, qkd_expiry_cases, qkd_expiry_desc);

static void qkd_store_test_expiry(struct kunit *test)
{
	const struct qkd_expiry_case *c = test->param_value;
	struct qkd_store *store = qkd_test_store(test, 16, 2, 8, 10);
	u8 material[T_KEY];
	struct qkd_events ev = {};
	u32 level;
	u64 next;

	KUNIT_EXPECT_EQ(test, 0, qkd_store_expire(store, T_SEC(100), &next,
						  &ev));
	KUNIT_EXPECT_EQ(test, next, 0);

	qkd_test_fill(test, store, c->dir, 0, 3, T_SEC(1000), NULL);
	qkd_test_fill(test, store, c->dir, 3, 2, T_SEC(1005) + 1, NULL);
	/* Too young. */
	KUNIT_EXPECT_EQ(test, 0, qkd_store_expire(store,
						  T_SEC(1000 + c->life) - 1,
						  &next, &ev));
	KUNIT_EXPECT_EQ(test, next, T_SEC(1000 + c->life));
	KUNIT_EXPECT_EQ(test, ev.n, 0);

	/* The first three reach their lifetime. */
	KUNIT_EXPECT_EQ(test, 3, qkd_store_expire(store, T_SEC(1000 + c->life),
						  &next, &ev));
	KUNIT_EXPECT_EQ(test, next, T_SEC(1005 + c->life));
	KUNIT_EXPECT_EQ(test, qkd_test_level(store, c->dir), 2);
	KUNIT_EXPECT_EQ(test, store->dir[c->dir].expired, 3);
	KUNIT_ASSERT_EQ(test, ev.n, 1);
	KUNIT_EXPECT_EQ(test, ev.ev[0].event, QKD_EVENT_EXPIRED);
	KUNIT_EXPECT_EQ(test, ev.ev[0].dir, c->dir);
	KUNIT_EXPECT_EQ(test, ev.ev[0].count, 3);
	if (c->dir == QKD_DIRECTION_OUT)
		qkd_test_expect_next(test, store, 3, T_SEC(1001 + c->life));
	else
		KUNIT_EXPECT_EQ(test, -ENOENT,
				qkd_test_take_id(store, 0, material,
						 T_SEC(1001 + c->life), NULL));

	/* The rest, then the level is at zero. */
	ev.n = 0;
	level = qkd_test_level(store, c->dir);
	KUNIT_EXPECT_EQ(test, level, qkd_store_expire(store, T_SEC(2000), &next,
						      &ev));
	KUNIT_EXPECT_EQ(test, next, 0);
	KUNIT_ASSERT_EQ(test, ev.n, 2);
	KUNIT_EXPECT_EQ(test, ev.ev[0].event, QKD_EVENT_EXPIRED);
	KUNIT_EXPECT_EQ(test, ev.ev[1].event, QKD_EVENT_EMPTY);
}

/*
 * The guard for small max-ages: min(2, max_age / 4), so 0 below 4 s.  The
 * lifetimes are written out, not computed the way store.c computes them.
 */
struct qkd_guard_case {
	u32 max_age;
	u32 out_life;
};

static const struct qkd_guard_case qkd_guard_cases[] = {
	{ 1, 1 }, { 2, 2 }, { 3, 3 }, { 4, 3 }, { 5, 4 }, { 6, 5 }, { 7, 6 },
	{ 8, 6 }, { 9, 7 }, { 3600, 3598 },
};

static void qkd_guard_desc(const struct qkd_guard_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "max_age %u", c->max_age);
}

KUNIT_ARRAY_PARAM(qkd_guard, qkd_guard_cases, qkd_guard_desc);

static void qkd_store_test_expiry_guard(struct kunit *test)
{
	const struct qkd_guard_case *c = test->param_value;
	struct qkd_store *store = qkd_test_store(test, 4, 1, 2, c->max_age);
	bool guarded = c->out_life < c->max_age;
	u64 next;

	KUNIT_EXPECT_EQ(test, c->out_life,
			qkd_store_lifetime(&store->params,
					   QKD_DIRECTION_OUT));
	KUNIT_EXPECT_EQ(test, c->max_age,
			qkd_store_lifetime(&store->params, QKD_DIRECTION_IN));

	/* Twins added in the same second. */
	qkd_test_fill(test, store, QKD_DIRECTION_IN, 0, 1, T_SEC(100), NULL);
	qkd_test_fill(test, store, QKD_DIRECTION_OUT, 1, 1, T_SEC(100), NULL);

	KUNIT_EXPECT_EQ(test, 0, qkd_store_expire(store,
						  T_SEC(100 + c->out_life) - 1,
						  &next, NULL));
	KUNIT_EXPECT_EQ(test, next, T_SEC(100 + c->out_life));

	/* The outbound key goes first, alone unless there is no guard. */
	KUNIT_EXPECT_EQ(test, guarded ? 1 : 2,
			qkd_store_expire(store, T_SEC(100 + c->out_life),
					 &next, NULL));
	KUNIT_EXPECT_EQ(test, qkd_test_level(store, QKD_DIRECTION_OUT), 0);
	KUNIT_EXPECT_EQ(test, qkd_test_level(store, QKD_DIRECTION_IN),
			guarded ? 1 : 0);
	KUNIT_EXPECT_EQ(test, next, guarded ? T_SEC(100 + c->max_age) : 0);
	if (!guarded)
		return;

	/* The inbound key lives out the whole max_age. */
	KUNIT_EXPECT_EQ(test, 0, qkd_store_expire(store,
						  T_SEC(100 + c->max_age) - 1,
						  &next, NULL));
	KUNIT_EXPECT_EQ(test, 1, qkd_store_expire(store,
						  T_SEC(100 + c->max_age),
						  &next, NULL));
	KUNIT_EXPECT_EQ(test, qkd_store_level(store), 0);
	KUNIT_EXPECT_EQ(test, next, 0);
}

/*
 * The lab's case: router B adds the inbound twin, then router A, after B's
 * ACK, the outbound key, @delay_ms later and maybe in the next second.
 * Whenever A can still take the key, B still holds the twin when A's IKE
 * message arrives, up to a second later.
 */
static void qkd_store_test_twin_outlives(struct kunit *test)
{
	static const u32 in_ms[] = { 0, 500, 999 };
	static const u32 delay_ms[] = { 1, 100, 600 };
	const u64 ike = NSEC_PER_SEC;
	struct qkd_store *a, *b;
	u8 material[T_KEY];
	unsigned int i, j;
	u64 t, t_in, t_out, next;

	for (i = 0; i < ARRAY_SIZE(in_ms); i++) {
		for (j = 0; j < ARRAY_SIZE(delay_ms); j++) {
			a = qkd_test_store(test, 4, 1, 2, 10);
			b = qkd_test_store(test, 4, 1, 2, 10);
			t_in = T_SEC(100) + (u64)in_ms[i] * NSEC_PER_MSEC;
			t_out = t_in + (u64)delay_ms[j] * NSEC_PER_MSEC;
			qkd_test_fill(test, b, QKD_DIRECTION_IN, 7, 1, t_in,
				      NULL);
			qkd_test_fill(test, a, QKD_DIRECTION_OUT, 7, 1, t_out,
				      NULL);
			/* The last moment A still holds the key. */
			for (t = t_out; ; t += 10 * NSEC_PER_MSEC) {
				qkd_store_expire(a, t, &next, NULL);
				if (!qkd_test_level(a, QKD_DIRECTION_OUT))
					break;
			}
			t -= 10 * NSEC_PER_MSEC;
			KUNIT_EXPECT_GE(test, t, t_out + T_SEC(6));
			qkd_store_expire(b, t + ike, &next, NULL);
			KUNIT_EXPECT_EQ_MSG(test, 0,
					    qkd_test_take_id(b, 7, material,
							     t + ike, NULL),
					    "twin added at +%u ms, key %u ms later",
					    in_ms[i], delay_ms[j]);
		}
	}
}

/* next_expiry is the earlier of the two directions' next expiries. */
struct qkd_next_case {
	const char *name;
	u32 in_at, out_at;	/* seconds the keys were added */
	u32 want;		/* next expiry (s); max_age 10, guard 2 */
};

static const struct qkd_next_case qkd_next_cases[] = {
	{ "outbound first", 100, 100, 108 },
	{ "outbound added later", 100, 101, 109 },
	{ "outbound 2 s later", 100, 102, 110 },
	{ "inbound first though added later", 100, 103, 110 },
	{ "inbound added later", 105, 100, 108 },
};

static void qkd_next_desc(const struct qkd_next_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(qkd_next, qkd_next_cases, qkd_next_desc);

static void qkd_store_test_next_expiry(struct kunit *test)
{
	const struct qkd_next_case *c = test->param_value;
	struct qkd_store *store = qkd_test_store(test, 8, 1, 4, 10);
	u64 next, now = T_SEC(max(c->in_at, c->out_at));
	bool both;

	qkd_test_fill(test, store, QKD_DIRECTION_IN, 0, 2, T_SEC(c->in_at),
		      NULL);
	qkd_test_fill(test, store, QKD_DIRECTION_OUT, 2, 2, T_SEC(c->out_at),
		      NULL);
	KUNIT_EXPECT_EQ(test, 0, qkd_store_expire(store, now, &next, NULL));
	KUNIT_EXPECT_EQ(test, next, T_SEC(c->want));
	/* At that time one direction expires, both when they coincide. */
	both = c->want == c->in_at + 10 && c->want == c->out_at + 8;
	KUNIT_EXPECT_EQ(test, both ? 4 : 2,
			qkd_store_expire(store, next, &next, NULL));
	/* Then the other direction's keys are next. */
	if (qkd_store_level(store))
		KUNIT_EXPECT_EQ(test, next,
				T_SEC(qkd_test_level(store, QKD_DIRECTION_IN) ?
				      c->in_at + 10 : c->out_at + 8));
	else
		KUNIT_EXPECT_EQ(test, next, 0);
}

/*
 * Watermarks 2 and 6 of 8: the sequence of levels and the events each step
 * must raise, in order; LOW is left only at the high watermark.
 */
static void qkd_store_test_watermarks(struct kunit *test)
{
	static const struct {
		int delta;		/* keys added (> 0) or taken (< 0) */
		enum qkd_state state;
		int events[2];		/* -1: none */
	} steps[] = {
		{ 1, QKD_STATE_LOW, { -1, -1 } },	/* from empty: silent */
		{ -1, QKD_STATE_EMPTY, { QKD_EVENT_EMPTY, -1 } },
		{ 1, QKD_STATE_LOW, { -1, -1 } },
		{ 4, QKD_STATE_LOW, { -1, -1 } },	/* 5 < high */
		{ 1, QKD_STATE_OK, { QKD_EVENT_REFILLED, -1 } },	/* 6 */
		{ -4, QKD_STATE_OK, { -1, -1 } },	/* 2: not below low */
		{ -1, QKD_STATE_LOW, { QKD_EVENT_LOW, -1 } },	/* 1 */
		{ 3, QKD_STATE_LOW, { -1, -1 } },	/* 4: hysteresis */
		{ -3, QKD_STATE_LOW, { -1, -1 } },	/* 1: no second low */
		{ -1, QKD_STATE_EMPTY, { QKD_EVENT_EMPTY, -1 } },
		{ 2, QKD_STATE_LOW, { -1, -1 } },	/* 2: below high */
		{ -2, QKD_STATE_EMPTY, { -1, -1 } },	/* no second empty */
		{ 8, QKD_STATE_OK, { QKD_EVENT_REFILLED, -1 } },
		{ -8, QKD_STATE_EMPTY, { QKD_EVENT_LOW, QKD_EVENT_EMPTY } },
	};
	struct qkd_store *store = qkd_test_store(test, 8, 2, 6, 0);
	u8 id[QKD_KEY_ID_LEN], material[T_KEY];
	u32 next = 0, level = 0;
	struct qkd_events ev;
	unsigned int i, e;
	int k;

	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		memset(&ev, 0, sizeof(ev));
		if (steps[i].delta > 0) {
			qkd_test_fill(test, store, QKD_DIRECTION_OUT, next,
				      steps[i].delta, 0, &ev);
			next += steps[i].delta;
		} else {
			for (k = 0; k < -steps[i].delta; k++)
				KUNIT_ASSERT_EQ(test, 0,
						qkd_store_take_next(store, id,
								    material,
								    0, &ev,
								    NULL));
		}
		level += steps[i].delta;
		KUNIT_EXPECT_EQ_MSG(test, qkd_test_level(store,
							 QKD_DIRECTION_OUT),
				    level, "step %u", i);
		KUNIT_EXPECT_EQ_MSG(test, store->dir[QKD_DIRECTION_OUT].state,
				    steps[i].state, "step %u", i);
		for (e = 0; e < 2 && steps[i].events[e] >= 0; e++) {
			KUNIT_ASSERT_GT_MSG(test, ev.n, e, "step %u", i);
			KUNIT_EXPECT_EQ_MSG(test, ev.ev[e].event,
					    steps[i].events[e], "step %u", i);
			KUNIT_EXPECT_EQ(test, ev.ev[e].dir, QKD_DIRECTION_OUT);
		}
		KUNIT_EXPECT_EQ_MSG(test, ev.n, e, "step %u", i);
	}
	/* The other direction never moved. */
	KUNIT_EXPECT_EQ(test, store->dir[QKD_DIRECTION_IN].state,
			QKD_STATE_EMPTY);
}

static void qkd_store_test_mem_cap(struct kunit *test)
{
	struct qkd_store_params p = {
		.key_size = 64, .capacity = 1000,
	};
	unsigned long saved = READ_ONCE(qkd_mem_limit);
	unsigned long used = qkd_store_mem_used();
	size_t need = sizeof(struct qkd_store) + qkd_storage_bytes(1000, 64);
	struct netlink_ext_ack extack = {};
	struct qkd_store *a, *b;

	qkd_store_set_mem_limit(used + need + need / 2);
	a = qkd_store_create(&p, 0, &extack);
	KUNIT_EXPECT_NOT_ERR_OR_NULL(test, a);
	KUNIT_EXPECT_EQ(test, qkd_store_mem_used(), used + need);

	/* A second pool of that size is over the cap. */
	b = qkd_store_create(&p, 0, &extack);
	KUNIT_EXPECT_EQ(test, PTR_ERR(b), -ENOSPC);
	KUNIT_EXPECT_NOT_NULL(test, extack._msg);
	KUNIT_EXPECT_EQ(test, qkd_store_mem_used(), used + need);

	/* Nor can the first grow past it; shrinking gives memory back. */
	if (!IS_ERR(a)) {
		p.capacity = 2000;
		p.low_watermark = 1;
		p.high_watermark = 2;
		KUNIT_EXPECT_EQ(test, -ENOSPC,
				qkd_store_configure(a, &p, 0, NULL, NULL));
		p.capacity = 10;
		KUNIT_EXPECT_EQ(test, 0,
				qkd_store_configure(a, &p, 0, NULL, NULL));
		KUNIT_EXPECT_EQ(test, qkd_store_mem_used(),
				used + sizeof(struct qkd_store) +
				qkd_storage_bytes(10, 64));
	}
	qkd_store_destroy(a);
	KUNIT_EXPECT_EQ(test, qkd_store_mem_used(), used);

	/* Now there is room again. */
	p.capacity = 1000;
	p.low_watermark = 0;
	p.high_watermark = 0;
	b = qkd_store_create(&p, 0, NULL);
	KUNIT_EXPECT_NOT_ERR_OR_NULL(test, b);
	if (!IS_ERR(b))
		qkd_store_destroy(b);
	KUNIT_EXPECT_EQ(test, qkd_store_mem_used(), used);
	qkd_store_set_mem_limit(saved);
}

/* The overhead a benchmark budgets for: <= 64 bytes per 32-byte key. */
static void qkd_store_test_overhead(struct kunit *test)
{
	/* Small pools pay slab rounding, large ones page rounding. */
	static const u32 caps[] = { 50, 1000, QKD_DEFAULT_CAPACITY, 100000 };
	size_t bytes;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		bytes = kmalloc_size_roundup(sizeof(struct qkd_store)) +
			qkd_storage_bytes(caps[i], 32);
		/* Both directions full: 2 * capacity resident keys. */
		KUNIT_EXPECT_LE_MSG(test, bytes / (2 * caps[i]) - 32, 64,
				    "capacity %u", caps[i]);
	}
	KUNIT_EXPECT_LE(test, sizeof(struct qkd_slot), 40);
}

static void qkd_store_test_rates(struct kunit *test)
{
	struct qkd_store *store = qkd_test_store(test, 256, 1, 200, 0);
	u8 id[QKD_KEY_ID_LEN], material[T_KEY];
	struct qkd_dir_stats s;
	u32 n;

	/* 160 keys in during [0 s, 10 s). */
	for (n = 0; n < 160; n += 16)
		qkd_test_fill(test, store, QKD_DIRECTION_OUT, n, 16,
			      T_SEC(n / 16), NULL);
	qkd_store_stats(store, QKD_DIRECTION_OUT, T_SEC(9), &s);
	KUNIT_EXPECT_EQ(test, s.fill_rate, 0);	/* window not complete */
	qkd_store_stats(store, QKD_DIRECTION_OUT, T_SEC(10), &s);
	KUNIT_EXPECT_EQ(test, s.fill_rate, 16000);	/* per 1000 s */
	KUNIT_EXPECT_EQ(test, s.burn_rate, 0);
	KUNIT_EXPECT_FALSE(test, s.has_time_to_empty);

	/* 40 out, 16 in during [10 s, 20 s): net burn 2.4 keys/s. */
	for (n = 0; n < 40; n++)
		KUNIT_ASSERT_EQ(test, 0, qkd_store_take_next(store, id,
							     material,
							     T_SEC(10 + n / 4),
							     NULL, NULL));
	qkd_test_fill(test, store, QKD_DIRECTION_OUT, 500, 16, T_SEC(15), NULL);
	qkd_store_stats(store, QKD_DIRECTION_OUT, T_SEC(20), &s);
	KUNIT_EXPECT_EQ(test, s.level, 136);
	KUNIT_EXPECT_EQ(test, s.fill_rate, 1600);
	KUNIT_EXPECT_EQ(test, s.burn_rate, 4000);
	KUNIT_EXPECT_TRUE(test, s.has_time_to_empty);
	KUNIT_EXPECT_EQ(test, s.time_to_empty, 136 * 1000 / 2400);

	/* A silent window later, the rates are zero again. */
	qkd_store_stats(store, QKD_DIRECTION_OUT, T_SEC(45), &s);
	KUNIT_EXPECT_EQ(test, s.fill_rate, 0);
	KUNIT_EXPECT_EQ(test, s.burn_rate, 0);
	KUNIT_EXPECT_FALSE(test, s.has_time_to_empty);
}

/*
 * How often the mix below runs the expiry: every step, or rarely, so that
 * takes find too old keys first.
 */
static const u32 qkd_counters_periods[] = { 1, 97 };

static void qkd_counters_desc(const u32 *period, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "expiry every %u steps", *period);
}

KUNIT_ARRAY_PARAM(qkd_counters, qkd_counters_periods, qkd_counters_desc);

/* A fixed pseudo-random mix of every operation; the books must balance. */
static void qkd_store_test_counters(struct kunit *test)
{
	u32 period = *(const u32 *)test->param_value;
	struct qkd_store *store = qkd_test_store(test, 64, 8, 48, 30);
	u8 id[QKD_KEY_ID_LEN], material[T_KEY];
	u32 state = 12345, next = 0, op, i;
	struct qkd_dir_stats s;
	u64 now = 0, exp;
	int d;

	for (i = 0; i < 2000; i++) {
		state = state * 1103515245 + 12345;
		op = (state >> 16) % 16;
		now += NSEC_PER_SEC / 4;
		d = op & 1;
		if (op < 8) {
			if (!qkd_test_add(store, d, next, 1 + op, now, NULL))
				next += 1 + op;
		} else if (op < 12) {
			qkd_store_take_next(store, id, material, now, NULL,
					    NULL);
		} else if (op < 15) {
			/* Recent IDs, some still held, some gone. */
			qkd_test_take_id(store, next - 1 - (state >> 8) % 8,
					 material, now, NULL);
		} else if (state & 0x1000000) {
			qkd_store_flush(store, d, false, now, NULL);
		}
		if (i % period == 0)
			qkd_store_expire(store, now, &exp, NULL);
	}
	for (d = 0; d < QKD_NUM_DIRS; d++) {
		qkd_store_stats(store, d, now, &s);
		KUNIT_EXPECT_GT(test, s.added, 0);
		KUNIT_EXPECT_GT(test, s.taken, 0);
		KUNIT_EXPECT_GT(test, s.expired + s.flushed, 0);
		KUNIT_EXPECT_EQ(test, s.added,
				s.taken + s.expired + s.flushed + s.level);
		KUNIT_EXPECT_EQ(test, s.bytes_added, s.added * T_KEY);
		KUNIT_EXPECT_EQ(test, s.bytes_taken, s.taken * T_KEY);
	}
	qkd_test_expect_unchanged(test, store,
				  qkd_test_level(store, QKD_DIRECTION_OUT),
				  qkd_test_level(store, QKD_DIRECTION_IN));
}

static void qkd_store_test_configure(struct kunit *test)
{
	struct qkd_store *store = qkd_test_store(test, 8, 2, 6, 0);
	struct netlink_ext_ack extack = {};
	u8 material[T_KEY], want[T_KEY];
	struct qkd_store_params p;
	u32 n;

	/* Wrap the ring first, so that a resize must unroll it. */
	qkd_test_fill(test, store, QKD_DIRECTION_OUT, 0, 6, 0, NULL);
	for (n = 0; n < 5; n++)
		qkd_test_expect_next(test, store, n, 0);
	qkd_test_fill(test, store, QKD_DIRECTION_OUT, 6, 5, 0, NULL);
	qkd_test_fill(test, store, QKD_DIRECTION_IN, 100, 5, 0, NULL);

	/* Grow. */
	qkd_store_get_params(store, &p);
	p.capacity = 32;
	p.high_watermark = 24;
	KUNIT_ASSERT_EQ(test, 0, qkd_store_configure(store, &p, 0, NULL, NULL));
	KUNIT_EXPECT_EQ(test, store->st.capacity, 32);
	qkd_test_fill(test, store, QKD_DIRECTION_OUT, 11, 10, 0, NULL);

	/* Below a level: refused, nothing changes. */
	p.capacity = 15;
	p.high_watermark = 10;
	KUNIT_EXPECT_EQ(test, -EBUSY,
			qkd_store_configure(store, &p, 0, NULL, &extack));
	KUNIT_EXPECT_NOT_NULL(test, extack._msg);
	KUNIT_EXPECT_EQ(test, store->st.capacity, 32);

	/* Shrink to exactly the level. */
	p.capacity = 16;
	KUNIT_ASSERT_EQ(test, 0, qkd_store_configure(store, &p, 0, NULL, NULL));
	KUNIT_EXPECT_EQ(test, store->st.capacity, 16);
	KUNIT_EXPECT_EQ(test, -ENOSPC, qkd_test_add(store, QKD_DIRECTION_OUT,
						    50, 1, 0, NULL));
	for (n = 5; n < 21; n++)
		qkd_test_expect_next(test, store, n, 0);
	for (n = 100; n < 105; n++) {
		KUNIT_EXPECT_EQ(test, 0, qkd_test_take_id(store, n, material,
							  0, NULL));
		qkd_test_material(want, n);
		KUNIT_EXPECT_MEMEQ(test, material, want, T_KEY);
	}

	/* Key size: only when empty. */
	qkd_test_fill(test, store, QKD_DIRECTION_IN, 200, 1, 0, NULL);
	p.key_size = 64;
	extack._msg = NULL;
	KUNIT_EXPECT_EQ(test, -EBUSY,
			qkd_store_configure(store, &p, 0, NULL, &extack));
	KUNIT_EXPECT_NOT_NULL(test, extack._msg);
	KUNIT_EXPECT_EQ(test, store->st.key_size, T_KEY);
	qkd_store_flush(store, QKD_DIRECTION_OUT, true, 0, NULL);
	KUNIT_EXPECT_EQ(test, 0, qkd_store_configure(store, &p, 0, NULL, NULL));
	KUNIT_EXPECT_EQ(test, store->st.key_size, 64);
	KUNIT_EXPECT_EQ(test, -EINVAL, qkd_test_add(store, QKD_DIRECTION_OUT,
						    300, 1, 0, NULL));

	/* Bad watermarks. */
	p.low_watermark = 16;
	extack._msg = NULL;
	KUNIT_EXPECT_EQ(test, -EINVAL,
			qkd_store_configure(store, &p, 0, NULL, &extack));
	KUNIT_EXPECT_NOT_NULL(test, extack._msg);
}

/* Raising the low watermark above the level is a crossing too. */
static void qkd_store_test_configure_events(struct kunit *test)
{
	struct qkd_store *store = qkd_test_store(test, 8, 1, 4, 0);
	struct qkd_store_params p;
	struct qkd_events ev = {};

	qkd_test_fill(test, store, QKD_DIRECTION_IN, 0, 4, 0, NULL);
	qkd_store_get_params(store, &p);
	p.low_watermark = 6;
	p.high_watermark = 7;
	KUNIT_ASSERT_EQ(test, 0, qkd_store_configure(store, &p, 0, &ev, NULL));
	KUNIT_ASSERT_EQ(test, ev.n, 1);
	KUNIT_EXPECT_EQ(test, ev.ev[0].event, QKD_EVENT_LOW);
	KUNIT_EXPECT_EQ(test, ev.ev[0].dir, QKD_DIRECTION_IN);

	ev.n = 0;
	p.low_watermark = 1;
	p.high_watermark = 3;
	KUNIT_ASSERT_EQ(test, 0, qkd_store_configure(store, &p, 0, &ev, NULL));
	KUNIT_ASSERT_EQ(test, ev.n, 1);
	KUNIT_EXPECT_EQ(test, ev.ev[0].event, QKD_EVENT_REFILLED);
}

enum qkd_wipe_way {
	QKD_WIPE_TAKE_NEXT,
	QKD_WIPE_TAKE_ID,
	QKD_WIPE_EXPIRE_OUT,
	QKD_WIPE_EXPIRE_IN,
	QKD_WIPE_FLUSH_OUT,
	QKD_WIPE_FLUSH_IN,
	QKD_WIPE_REFUSED,
};

static const char *const qkd_wipe_names[] = {
	"take next", "take by id", "expire outbound", "expire inbound",
	"flush outbound", "flush inbound", "refused batch",
};

static const enum qkd_wipe_way qkd_wipe_ways[] = {
	QKD_WIPE_TAKE_NEXT, QKD_WIPE_TAKE_ID, QKD_WIPE_EXPIRE_OUT,
	QKD_WIPE_EXPIRE_IN, QKD_WIPE_FLUSH_OUT, QKD_WIPE_FLUSH_IN,
	QKD_WIPE_REFUSED,
};

static void qkd_wipe_desc(const enum qkd_wipe_way *w, char *desc)
{
	strscpy(desc, qkd_wipe_names[*w], KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(qkd_wipe, qkd_wipe_ways, qkd_wipe_desc);

/* The slot of a key that left holds only zeroes, at once. */
static void qkd_store_test_wiped(struct kunit *test)
{
	enum qkd_wipe_way way = *(const enum qkd_wipe_way *)test->param_value;
	struct qkd_store *store = qkd_test_store(test, 4, 1, 2, 5);
	enum qkd_direction dir = (way == QKD_WIPE_TAKE_ID ||
				  way == QKD_WIPE_EXPIRE_IN ||
				  way == QKD_WIPE_FLUSH_IN) ?
				 QKD_DIRECTION_IN : QKD_DIRECTION_OUT;
	u8 id[QKD_KEY_ID_LEN], material[T_KEY];
	struct qkd_storage *st = &store->st;
	struct qkd_slot *slot;
	u64 next;
	u32 i;

	qkd_test_fill(test, store, dir, 0, 4, 0, NULL);
	/* key 0 sits in slot 0 of either direction */
	slot = qkd_slot(st, dir, 0);
	KUNIT_ASSERT_NOT_NULL(test, memchr_inv(slot->material, 0, T_KEY));
	qkd_test_material(material, 0);
	KUNIT_ASSERT_MEMEQ(test, slot->material, material, T_KEY);

	switch (way) {
	case QKD_WIPE_TAKE_NEXT:
		KUNIT_ASSERT_EQ(test, 0, qkd_store_take_next(store, id,
							     material, 0,
							     NULL, NULL));
		break;
	case QKD_WIPE_TAKE_ID:
		KUNIT_ASSERT_EQ(test, 0, qkd_test_take_id(store, 0, material,
							  0, NULL));
		break;
	case QKD_WIPE_EXPIRE_OUT:
	case QKD_WIPE_EXPIRE_IN:
		KUNIT_ASSERT_EQ(test, 4, qkd_store_expire(store, T_SEC(5),
							  &next, NULL));
		break;
	case QKD_WIPE_FLUSH_OUT:
	case QKD_WIPE_FLUSH_IN:
		KUNIT_ASSERT_EQ(test, 4, qkd_store_flush(store, dir, false, 0,
							 NULL));
		break;
	case QKD_WIPE_REFUSED:
		/* Key 2 again: keys 0 and 1 were written, then rolled back. */
		qkd_store_flush(store, dir, false, 0, NULL);
		qkd_test_fill(test, store, dir, 2, 1, 0, NULL);
		KUNIT_ASSERT_EQ(test, -EEXIST,
				qkd_test_add(store, dir, 0, 3, 0, NULL));
		qkd_test_expect_unchanged(test, store,
					  qkd_test_level(store,
							 QKD_DIRECTION_OUT),
					  qkd_test_level(store,
							 QKD_DIRECTION_IN));
		return;
	}
	KUNIT_EXPECT_NULL(test, memchr_inv(slot, 0, st->slot_size));
	if (way != QKD_WIPE_TAKE_NEXT && way != QKD_WIPE_TAKE_ID)
		for (i = 0; i < 4; i++)
			KUNIT_EXPECT_NULL(test, memchr_inv(qkd_slot(st, dir, i),
							   0, st->slot_size));
}

/*
 * The expiry work is late (a suspend, a stalled workqueue): a take never
 * hands out a key past its lifetime.  It wipes the too old keys at the head
 * of the ring, counts them as expired, and takes the first fresh one.
 */
static void qkd_store_test_take_next_too_old(struct kunit *test)
{
	struct qkd_store *store = qkd_test_store(test, 8, 1, 4, 10);
	struct qkd_dir *d = &store->dir[QKD_DIRECTION_OUT];
	u8 id[QKD_KEY_ID_LEN], material[T_KEY];
	struct netlink_ext_ack extack = {};
	struct qkd_events ev = {};
	u64 next;
	u32 i;

	qkd_test_fill(test, store, QKD_DIRECTION_OUT, 0, 3, T_SEC(100), NULL);
	qkd_test_fill(test, store, QKD_DIRECTION_OUT, 3, 2, T_SEC(105), NULL);

	/* At 108 s keys 0..2 are 8 s old: the outbound lifetime. */
	qkd_test_expect_next(test, store, 3, T_SEC(108));
	KUNIT_EXPECT_EQ(test, d->expired, 3);
	KUNIT_EXPECT_EQ(test, d->taken, 1);
	KUNIT_EXPECT_EQ(test, d->missed, 0);
	KUNIT_EXPECT_EQ(test, d->level, 1);
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_NULL(test, memchr_inv(qkd_slot(&store->st,
							    QKD_DIRECTION_OUT,
							    i),
						   0, store->st.slot_size));
	KUNIT_EXPECT_TRUE(test, qkd_store_expired_unreported(store));

	/* Only too old keys left: nothing is handed out. */
	memset(material, 0xa5, sizeof(material));
	KUNIT_EXPECT_EQ(test, -ENOENT,
			qkd_store_take_next(store, id, material, T_SEC(500),
					    &ev, &extack));
	KUNIT_EXPECT_NOT_NULL(test, extack._msg);
	KUNIT_EXPECT_EQ(test, d->expired, 4);
	KUNIT_EXPECT_EQ(test, d->missed, 1);
	KUNIT_EXPECT_EQ(test, d->level, 0);
	KUNIT_EXPECT_EQ(test, d->added, d->taken + d->expired + d->flushed +
					d->level);
	/* The level events come at once; no expired event yet. */
	KUNIT_ASSERT_EQ(test, ev.n, 2);
	KUNIT_EXPECT_EQ(test, ev.ev[0].event, QKD_EVENT_LOW);
	KUNIT_EXPECT_EQ(test, ev.ev[1].event, QKD_EVENT_EMPTY);

	/* The next expiry run reports the four in one expired event. */
	ev.n = 0;
	KUNIT_EXPECT_EQ(test, 0, qkd_store_expire(store, T_SEC(501), &next,
						  &ev));
	KUNIT_ASSERT_EQ(test, ev.n, 1);
	KUNIT_EXPECT_EQ(test, ev.ev[0].event, QKD_EVENT_EXPIRED);
	KUNIT_EXPECT_EQ(test, ev.ev[0].dir, QKD_DIRECTION_OUT);
	KUNIT_EXPECT_EQ(test, ev.ev[0].count, 4);
	KUNIT_EXPECT_FALSE(test, qkd_store_expired_unreported(store));
	ev.n = 0;
	qkd_store_expire(store, T_SEC(502), &next, &ev);
	KUNIT_EXPECT_EQ(test, ev.n, 0);
}

/* The same for an inbound key taken by ID. */
static void qkd_store_test_take_id_too_old(struct kunit *test)
{
	struct qkd_store *store = qkd_test_store(test, 8, 1, 4, 10);
	struct qkd_dir *d = &store->dir[QKD_DIRECTION_IN];
	struct netlink_ext_ack extack = {};
	u8 id[QKD_KEY_ID_LEN], material[T_KEY], want[T_KEY];
	struct qkd_events ev = {};
	u64 next;

	qkd_test_fill(test, store, QKD_DIRECTION_IN, 0, 4, T_SEC(100), NULL);
	qkd_test_fill(test, store, QKD_DIRECTION_IN, 4, 2, T_SEC(105), NULL);

	/* A fresh key is taken though older ones wait for the expiry. */
	KUNIT_EXPECT_EQ(test, 0, qkd_test_take_id(store, 4, material,
						  T_SEC(110), NULL));
	qkd_test_material(want, 4);
	KUNIT_EXPECT_MEMEQ(test, material, want, T_KEY);
	KUNIT_EXPECT_EQ(test, d->expired, 0);

	/* Key 2 is 10 s old: refused, wiped with every older key. */
	qkd_test_id(id, 2);
	memset(material, 0xa5, sizeof(material));
	KUNIT_EXPECT_EQ(test, -ENOENT,
			qkd_store_take_id(store, id, NULL, material, T_SEC(110),
					  &ev, &extack));
	KUNIT_EXPECT_NOT_NULL(test, extack._msg);
	KUNIT_EXPECT_EQ(test, d->expired, 4);
	KUNIT_EXPECT_EQ(test, d->missed, 1);
	KUNIT_EXPECT_EQ(test, d->level, 1);
	KUNIT_EXPECT_EQ(test, -ENOENT, qkd_test_take_id(store, 0, material,
							T_SEC(110), NULL));
	KUNIT_EXPECT_EQ(test, d->added, d->taken + d->expired + d->flushed +
					d->level);
	qkd_test_expect_unchanged(test, store, 0, 1);

	KUNIT_EXPECT_EQ(test, 0, qkd_test_take_id(store, 5, material,
						  T_SEC(114), NULL));
	KUNIT_EXPECT_EQ(test, 0, qkd_store_expire(store, T_SEC(115), &next,
						  &ev));
	KUNIT_ASSERT_GE(test, ev.n, 1);
	KUNIT_EXPECT_EQ(test, ev.ev[ev.n - 1].event, QKD_EVENT_EXPIRED);
	KUNIT_EXPECT_EQ(test, ev.ev[ev.n - 1].count, 4);
	KUNIT_EXPECT_EQ(test, next, 0);
}

/*
 * Inbound keys expire oldest first whatever was taken from among them, and
 * the next expiry is that of the oldest key left; a resize keeps the order.
 */
static void qkd_store_test_inbound_age_order(struct kunit *test)
{
	static const u32 taken[] = { 1, 5, 9 };
	static const u32 left[] = { 8, 10, 11 };
	struct qkd_store *store = qkd_test_store(test, 16, 1, 8, 10);
	struct qkd_dir *d = &store->dir[QKD_DIRECTION_IN];
	struct qkd_store_params p;
	u8 material[T_KEY];
	unsigned int i;
	u64 next;

	/* Freed slots are reused last freed first: keys 0..3 go to 3..0. */
	qkd_test_fill(test, store, QKD_DIRECTION_IN, 100, 4, T_SEC(90), NULL);
	for (i = 0; i < 4; i++)
		KUNIT_ASSERT_EQ(test, 0, qkd_test_take_id(store, 100 + i,
							  material, T_SEC(90),
							  NULL));
	for (i = 0; i < 3; i++)
		qkd_test_fill(test, store, QKD_DIRECTION_IN, 4 * i, 4,
			      T_SEC(100 + i), NULL);
	for (i = 0; i < ARRAY_SIZE(taken); i++)
		KUNIT_ASSERT_EQ(test, 0, qkd_test_take_id(store, taken[i],
							  material, T_SEC(102),
							  NULL));

	/* Grow, then expire what was added at 100 s and 101 s. */
	qkd_store_get_params(store, &p);
	p.capacity = 32;
	KUNIT_ASSERT_EQ(test, 0, qkd_store_configure(store, &p, T_SEC(102),
						     NULL, NULL));
	KUNIT_EXPECT_EQ(test, 0, qkd_store_expire(store, T_SEC(109), &next,
						  NULL));
	KUNIT_EXPECT_EQ(test, next, T_SEC(110));
	KUNIT_EXPECT_EQ(test, 6, qkd_store_expire(store, T_SEC(111), &next,
						  NULL));
	KUNIT_EXPECT_EQ(test, d->expired, 6);
	KUNIT_EXPECT_EQ(test, d->level, ARRAY_SIZE(left));
	KUNIT_EXPECT_EQ(test, next, T_SEC(112));
	qkd_test_expect_unchanged(test, store, 0, ARRAY_SIZE(left));
	for (i = 0; i < ARRAY_SIZE(left); i++)
		KUNIT_EXPECT_EQ(test, 0, qkd_test_take_id(store, left[i],
							  material, T_SEC(111),
							  NULL));
	KUNIT_EXPECT_EQ(test, d->added, d->taken + d->expired + d->flushed +
					d->level);
}

/* The default cap holds the largest pool at the default key size. */
static void qkd_store_test_default_cap(struct kunit *test)
{
	size_t big = sizeof(struct qkd_store) +
		     qkd_storage_bytes(QKD_CAPACITY_MAX, QKD_DEFAULT_KEY_SIZE);

	KUNIT_EXPECT_LE(test, big, QKD_DEFAULT_MEM_LIMIT);
	/* ... and is the smallest power of two that does. */
	KUNIT_EXPECT_GT(test, big, QKD_DEFAULT_MEM_LIMIT / 2);
}

static struct kunit_case qkd_store_test_cases[] = {
	KUNIT_CASE(qkd_store_test_defaults),
	KUNIT_CASE_PARAM(qkd_store_test_bad_params, qkd_bad_params_gen_params),
	KUNIT_CASE(qkd_store_test_ring_wrap),
	KUNIT_CASE(qkd_store_test_fifo_order),
	KUNIT_CASE(qkd_store_test_lookup_by_id),
	KUNIT_CASE(qkd_store_test_tag),
	KUNIT_CASE_PARAM(qkd_store_test_duplicate, qkd_dup_gen_params),
	KUNIT_CASE(qkd_store_test_all_or_none),
	KUNIT_CASE(qkd_store_test_capacity),
	KUNIT_CASE_PARAM(qkd_store_test_expiry, qkd_expiry_gen_params),
	KUNIT_CASE_PARAM(qkd_store_test_expiry_guard, qkd_guard_gen_params),
	KUNIT_CASE(qkd_store_test_twin_outlives),
	KUNIT_CASE_PARAM(qkd_store_test_next_expiry, qkd_next_gen_params),
	KUNIT_CASE(qkd_store_test_watermarks),
	KUNIT_CASE(qkd_store_test_mem_cap),
	KUNIT_CASE(qkd_store_test_overhead),
	KUNIT_CASE(qkd_store_test_rates),
	KUNIT_CASE_PARAM(qkd_store_test_counters, qkd_counters_gen_params),
	KUNIT_CASE(qkd_store_test_configure),
	KUNIT_CASE(qkd_store_test_configure_events),
	KUNIT_CASE_PARAM(qkd_store_test_wiped, qkd_wipe_gen_params),
	KUNIT_CASE(qkd_store_test_take_next_too_old),
	KUNIT_CASE(qkd_store_test_take_id_too_old),
	KUNIT_CASE(qkd_store_test_inbound_age_order),
	KUNIT_CASE(qkd_store_test_default_cap),
	{}
};

static struct kunit_suite qkd_store_test_suite = {
	.name = "qkd_store",
	.test_cases = qkd_store_test_cases,
};

kunit_test_suite(qkd_store_test_suite);
