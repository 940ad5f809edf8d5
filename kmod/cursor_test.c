// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the dump cursor: a walk that is cut short after every few
 * entries, as a dump is by a full message, visits each entry once, in
 * order, and ends, also with an entry at the last ID, U32_MAX.  Included at
 * the end of cursor.c.
 */

#include <kunit/test.h>

#define QKD_CT_MAX	16

struct qkd_cursor_seen {
	unsigned long ids[QKD_CT_MAX];
	unsigned int n;		/* entries visited */
	unsigned int room;	/* entries accepted before -EMSGSIZE */
};

static int qkd_cursor_test_fn(unsigned long id, void *entry, void *arg)
{
	struct qkd_cursor_seen *s = arg;

	if (!s->room)
		return -EMSGSIZE;
	if (s->n == QKD_CT_MAX || xa_to_value(entry) != id % 1000)
		return -EINVAL;
	s->ids[s->n++] = id;
	s->room--;
	return 0;
}

struct qkd_cursor_case {
	const char *name;
	unsigned long ids[6];	/* in order; 0 ends the list */
	unsigned int per_pass;	/* entries one pass accepts */
};

static const struct qkd_cursor_case qkd_cursor_cases[] = {
	{ "small IDs, one pass", { 1, 2, 3 }, 16 },
	{ "small IDs, one entry per pass", { 1, 7, 9 }, 1 },
	{ "last ID, one pass", { 1, 4000, U32_MAX - 1, U32_MAX }, 16 },
	{ "last ID, one entry per pass", { 5, U32_MAX - 1, U32_MAX }, 1 },
	{ "last ID alone", { U32_MAX }, 1 },
	{ "last ID, two per pass", { 1, 2, U32_MAX - 2, U32_MAX }, 2 },
};

static void qkd_cursor_desc(const struct qkd_cursor_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(qkd_cursor, qkd_cursor_cases, qkd_cursor_desc);

static void qkd_cursor_test_xa_destroy(void *xa)
{
	xa_destroy(xa);
}

static void qkd_cursor_test_walk(struct kunit *test)
{
	const struct qkd_cursor_case *c = test->param_value;
	struct qkd_cursor_seen seen = {};
	unsigned int i, want = 0, pass;
	struct xarray *xa;
	u64 cursor = 1;
	int err;

	xa = kunit_kzalloc(test, sizeof(*xa), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, xa);
	xa_init(xa);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test,
							   qkd_cursor_test_xa_destroy,
							   xa));
	for (i = 0; i < ARRAY_SIZE(c->ids) && c->ids[i]; i++, want++)
		KUNIT_ASSERT_EQ(test, 0,
				xa_err(xa_store(xa, c->ids[i],
						xa_mk_value(c->ids[i] % 1000),
						GFP_KERNEL)));

	/* One pass per dump message: each ends when its message is full. */
	for (pass = 0; pass < 2 * QKD_CT_MAX; pass++) {
		seen.room = c->per_pass;
		err = qkd_cursor_walk(xa, &cursor, qkd_cursor_test_fn, &seen);
		if (!err)
			break;
		KUNIT_ASSERT_EQ(test, err, -EMSGSIZE);
	}
	KUNIT_ASSERT_LT_MSG(test, pass, 2 * QKD_CT_MAX, "the walk never ended");

	KUNIT_ASSERT_EQ(test, seen.n, want);
	for (i = 0; i < want; i++)
		KUNIT_EXPECT_EQ(test, seen.ids[i], c->ids[i]);
	KUNIT_EXPECT_EQ(test, cursor, (u64)c->ids[want - 1] + 1);

	/* A finished walk stays finished: nothing is visited again. */
	seen.room = QKD_CT_MAX;
	KUNIT_EXPECT_EQ(test, 0, qkd_cursor_walk(xa, &cursor,
						 qkd_cursor_test_fn, &seen));
	KUNIT_EXPECT_EQ(test, seen.n, want);
	if (c->ids[want - 1] == U32_MAX)
		KUNIT_EXPECT_EQ(test, cursor, QKD_CURSOR_END);
}

/* A cursor past the end visits nothing, whatever the xarray holds. */
static void qkd_cursor_test_end(struct kunit *test)
{
	struct qkd_cursor_seen seen = { .room = QKD_CT_MAX };
	u64 cursor = QKD_CURSOR_END;
	struct xarray xa;

	/* xa_init(), not DEFINE_XARRAY(): on the stack, the latter's lock
	 * has no static lockdep key (lockdep then turns itself off).
	 */
	xa_init(&xa);
	KUNIT_ASSERT_EQ(test, 0, xa_err(xa_store(&xa, 0, xa_mk_value(0),
						 GFP_KERNEL)));
	KUNIT_ASSERT_EQ(test, 0, xa_err(xa_store(&xa, U32_MAX,
						 xa_mk_value(U32_MAX % 1000),
						 GFP_KERNEL)));
	KUNIT_EXPECT_EQ(test, 0, qkd_cursor_walk(&xa, &cursor,
						 qkd_cursor_test_fn, &seen));
	KUNIT_EXPECT_EQ(test, seen.n, 0);
	KUNIT_EXPECT_EQ(test, cursor, QKD_CURSOR_END);
	xa_destroy(&xa);
}

static struct kunit_case qkd_cursor_test_cases[] = {
	KUNIT_CASE_PARAM(qkd_cursor_test_walk, qkd_cursor_gen_params),
	KUNIT_CASE(qkd_cursor_test_end),
	{}
};

static struct kunit_suite qkd_cursor_test_suite = {
	.name = "qkd_cursor",
	.test_cases = qkd_cursor_test_cases,
};

kunit_test_suite(qkd_cursor_test_suite);
