// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The book of SAs keyed without QKD and the rate limiter of their re-keys
 * after a refill (qkd_fallbacks.c), with a clock of the test's own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "qkd_fallbacks.h"
#include "tests.h"

static struct qkd_fallbacks_book book;
static int freed;

struct scheduled {
	enum qkd_fallbacks_kind kind;
	uint32_t uid;
	uint32_t delay_ms;
};

static struct scheduled got[64];
static size_t n_got;

static void free_tag(void *data)
{
	ck_assert_ptr_nonnull(data);
	freed++;
	free(data);
}

static void *tag(void)
{
	void *p = malloc(1);

	ck_assert_ptr_nonnull(p);
	return p;
}

static void record(void *ctx, const struct qkd_fallbacks_entry *e, uint32_t delay_ms)
{
	ck_assert_ptr_eq(ctx, &book);
	ck_assert_uint_lt(n_got, sizeof(got) / sizeof(got[0]));
	got[n_got++] = (struct scheduled){ e->kind, e->uid, delay_ms };
}

static size_t refill(const char *pool, uint64_t now, unsigned int rate)
{
	n_got = 0;
	return qkd_fallbacks_refill(&book, pool, now, rate, record, &book);
}

static void setup(void)
{
	freed = 0;
	n_got = 0;
	qkd_fallbacks_init(&book, 8, free_tag);
}

static void teardown(void)
{
	qkd_fallbacks_destroy(&book);
}

START_TEST(add_find_remove)
{
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 7, "osaka", tag()), 0);
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_IKE, 7, "osaka", tag()), 0);
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 8, "kyoto", tag()), 0);
	ck_assert_uint_eq(qkd_fallbacks_count(&book, NULL), 3);
	ck_assert_uint_eq(qkd_fallbacks_count(&book, "osaka"), 2);
	/* the same ID as CHILD_SA and as IKE_SA are two SAs */
	ck_assert_ptr_nonnull(qkd_fallbacks_find(&book, QKD_FALLBACKS_IKE, 7));
	ck_assert_str_eq(qkd_fallbacks_find(&book, QKD_FALLBACKS_CHILD, 8)->pool, "kyoto");
	ck_assert(qkd_fallbacks_remove(&book, QKD_FALLBACKS_CHILD, 7));
	ck_assert_int_eq(freed, 1);
	ck_assert(!qkd_fallbacks_remove(&book, QKD_FALLBACKS_CHILD, 7));
	ck_assert_ptr_null(qkd_fallbacks_find(&book, QKD_FALLBACKS_CHILD, 7));
	ck_assert_ptr_nonnull(qkd_fallbacks_find(&book, QKD_FALLBACKS_IKE, 7));
	ck_assert_ptr_nonnull(qkd_fallbacks_find(&book, QKD_FALLBACKS_CHILD, 8));
	ck_assert_uint_eq(qkd_fallbacks_count(&book, NULL), 2);
}
END_TEST

/* an SA keyed again without QKD: one entry, the old data freed */
START_TEST(add_replaces)
{
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 1, "osaka", tag()), 0);
	ck_assert_uint_eq(refill("osaka", 1000, 10), 1);
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 1, "kyoto", tag()), 0);
	ck_assert_int_eq(freed, 1);
	ck_assert_uint_eq(qkd_fallbacks_count(&book, NULL), 1);
	ck_assert_str_eq(qkd_fallbacks_find(&book, QKD_FALLBACKS_CHILD, 1)->pool, "kyoto");
	/* a fresh record: not scheduled */
	ck_assert_uint_eq(qkd_fallbacks_find(&book, QKD_FALLBACKS_CHILD, 1)->due_ms, 0);
}
END_TEST

START_TEST(add_limits)
{
	char name[QKD_POOL_NAME_MAX_LEN + 2];
	uint32_t i;

	memset(name, 'p', sizeof(name));
	name[QKD_POOL_NAME_MAX_LEN + 1] = '\0';
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 1, name, tag()), -EINVAL);
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 1, "", tag()), -EINVAL);
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 1, NULL, tag()), -EINVAL);
	ck_assert_int_eq(freed, 3);
	name[QKD_POOL_NAME_MAX_LEN] = '\0';
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, i, name, tag()), 0);
	/* full: the data is the book's, freed */
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 99, name, tag()), -ENOSPC);
	ck_assert_int_eq(freed, 4);
	/* replacing an entry of a full book is fine */
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 3, name, tag()), 0);
	ck_assert_uint_eq(qkd_fallbacks_count(&book, NULL), 8);
	/* data may be NULL */
	ck_assert(qkd_fallbacks_remove(&book, QKD_FALLBACKS_CHILD, 3));
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 3, name, NULL), 0);
}
END_TEST

/* only the refilled pool's SAs, CHILD_SAs first, each once */
START_TEST(refill_selects_pool)
{
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_IKE, 1, "osaka", tag()), 0);
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 2, "osaka", tag()), 0);
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 3, "kyoto", tag()), 0);
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 4, "osaka", tag()), 0);
	ck_assert_uint_eq(refill("osaka", 5000, 1000), 3);
	ck_assert_uint_eq(n_got, 3);
	ck_assert_int_eq(got[0].kind, QKD_FALLBACKS_CHILD);
	ck_assert_int_eq(got[1].kind, QKD_FALLBACKS_CHILD);
	ck_assert_int_eq(got[2].kind, QKD_FALLBACKS_IKE);
	ck_assert_uint_eq(got[2].uid, 1);
	ck_assert_uint_ne(got[0].uid, 3);
	ck_assert_uint_ne(got[1].uid, 3);
	ck_assert_uint_eq(refill("nara", 5000, 1000), 0);
	/* scheduling keeps the entries: they go when their SA re-keys */
	ck_assert_uint_eq(qkd_fallbacks_count(&book, NULL), 4);
	ck_assert_int_eq(freed, 0);
}
END_TEST

/* at most rate re-keys per second, spread over the scheduler */
START_TEST(rate_spreads)
{
	uint32_t i;

	for (i = 0; i < 8; i++)
		ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, i, "osaka", tag()),
				 0);
	ck_assert_uint_eq(refill("osaka", 10000, 4), 8);
	for (i = 0; i < 8; i++)
		ck_assert_uint_eq(got[i].delay_ms, i * 250);
	/* per second: 4 */
	for (i = 0; i + 4 < 8; i++)
		ck_assert_uint_ge(got[i + 4].delay_ms - got[i].delay_ms, 1000);
}
END_TEST

/* the limiter spans pools: a second refill waits for the first's slots */
START_TEST(rate_across_pools)
{
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 1, "osaka", tag()), 0);
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 2, "osaka", tag()), 0);
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 3, "kyoto", tag()), 0);
	ck_assert_uint_eq(refill("osaka", 1000, 2), 2);
	ck_assert_uint_eq(got[1].delay_ms, 500);
	/* 100 ms later: kyoto's slot is after osaka's two */
	ck_assert_uint_eq(refill("kyoto", 1100, 2), 1);
	ck_assert_uint_eq(got[0].delay_ms, 900);
	/* long after: no backlog, at once */
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 4, "nara", tag()), 0);
	ck_assert_uint_eq(refill("nara", 60000, 2), 1);
	ck_assert_uint_eq(got[0].delay_ms, 0);
}
END_TEST

/* a rate that does not divide a second rounds the spacing up */
START_TEST(rate_rounds_up)
{
	uint32_t i;

	for (i = 0; i < 4; i++)
		ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, i, "osaka", tag()),
				 0);
	ck_assert_uint_eq(refill("osaka", 0, 3), 4);
	ck_assert_uint_eq(got[1].delay_ms, 334);
	ck_assert_uint_ge(got[3].delay_ms - got[0].delay_ms, 1000);
}
END_TEST

START_TEST(rate_zero_disables)
{
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 1, "osaka", tag()), 0);
	ck_assert_uint_eq(refill("osaka", 1000, 0), 0);
	ck_assert_uint_eq(n_got, 0);
	/* nothing was marked: a later refill with a rate re-keys it */
	ck_assert_uint_eq(refill("osaka", 1000, 10), 1);
}
END_TEST

/*
 * Each SA once per refill: a second refill while its re-key is scheduled
 * or under way leaves it; once QKD_FALLBACKS_INFLIGHT_MS passed and it is still
 * there (its re-key did not happen), the next refill re-keys it again.
 */
START_TEST(once_per_refill)
{
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 1, "osaka", tag()), 0);
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 2, "osaka", tag()), 0);
	ck_assert_uint_eq(refill("osaka", 1000, 1), 2);
	ck_assert_uint_eq(got[1].delay_ms, 1000);
	/* a flapping pool: refilled again 1.5 s later */
	ck_assert_uint_eq(refill("osaka", 2500, 1), 0);
	ck_assert_uint_eq(refill("osaka", 2000 + QKD_FALLBACKS_INFLIGHT_MS - 1, 1), 1);
	ck_assert_uint_eq(got[0].uid, 1);
	ck_assert_uint_eq(refill("osaka", 2000 + QKD_FALLBACKS_INFLIGHT_MS, 1), 1);
	ck_assert_uint_eq(got[0].uid, 2);
	/* SA 1 re-keyed with QKD: gone, never scheduled again */
	ck_assert(qkd_fallbacks_remove(&book, QKD_FALLBACKS_CHILD, 1));
	ck_assert_uint_eq(refill("osaka", 10 * QKD_FALLBACKS_INFLIGHT_MS, 1), 1);
	ck_assert_uint_eq(got[0].uid, 2);
}
END_TEST

/* the clock at 0 (a fresh monotonic clock): still "scheduled" */
START_TEST(refill_at_zero)
{
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 1, "osaka", tag()), 0);
	ck_assert_uint_eq(refill("osaka", 0, 10), 1);
	ck_assert_uint_eq(got[0].delay_ms, 0);
	ck_assert_uint_eq(refill("osaka", 0, 10), 0);
}
END_TEST

START_TEST(destroy_frees)
{
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_CHILD, 1, "osaka", tag()), 0);
	ck_assert_int_eq(qkd_fallbacks_add(&book, QKD_FALLBACKS_IKE, 1, "osaka", tag()), 0);
	qkd_fallbacks_destroy(&book);
	ck_assert_int_eq(freed, 2);
	ck_assert_uint_eq(qkd_fallbacks_count(&book, NULL), 0);
	qkd_fallbacks_destroy(&book);	/* twice is fine */
}
END_TEST

Suite *fallbacks_suite(void)
{
	Suite *s = suite_create("fallbacks");
	TCase *tc = tcase_create("book");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, add_find_remove);
	tcase_add_test(tc, add_replaces);
	tcase_add_test(tc, add_limits);
	tcase_add_test(tc, refill_selects_pool);
	tcase_add_test(tc, rate_spreads);
	tcase_add_test(tc, rate_across_pools);
	tcase_add_test(tc, rate_rounds_up);
	tcase_add_test(tc, rate_zero_disables);
	tcase_add_test(tc, once_per_refill);
	tcase_add_test(tc, refill_at_zero);
	tcase_add_test(tc, destroy_frees);
	suite_add_tcase(s, tc);
	return s;
}
