// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-linkd off the event loop and pipelined: the master's window of
 * offers in flight and its deadlines (linkd/window.c), the journal with
 * one record per open offer and its recovery rule (linkd/journal.c), and
 * the per-pool worker that runs source calls on a thread (linkd/worker.c),
 * driven here with a fake source that blocks until told.
 */
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include "tests.h"
#include "../linkd/journal.h"
#include "../linkd/window.h"
#include "../linkd/worker.h"

/* ---- window ------------------------------------------------------------ */

START_TEST(window_bookkeeping)
{
	struct window w = { 0 };
	struct window_slot s;
	int tag[3];

	ck_assert(window_has_room(&w, 2));
	ck_assert_ptr_null(window_oldest(&w));
	ck_assert_int_eq(window_pop(&w, 1.0, &s), -1);
	ck_assert_int_eq(window_push(&w, 5, 10, 1.0, &tag[0]), 0);
	ck_assert_int_eq(window_push(&w, 6, 3, 1.5, &tag[1]), 0);
	ck_assert(!window_has_room(&w, 2));
	ck_assert(window_has_room(&w, 4));
	/* Sequence numbers only go up. */
	ck_assert_int_eq(window_push(&w, 6, 1, 2.0, &tag[2]), -1);
	ck_assert_int_eq(window_push(&w, 4, 1, 2.0, &tag[2]), -1);
	ck_assert_uint_eq(w.keys, 13);
	ck_assert_uint_eq(window_oldest(&w)->seq, 5);
	/* Answered oldest first; the caller gets its pointer back. */
	ck_assert_int_eq(window_pop(&w, 3.0, &s), 0);
	ck_assert_uint_eq(s.seq, 5);
	ck_assert_ptr_eq(s.keys, &tag[0]);
	ck_assert_uint_eq(w.keys, 3);
	ck_assert_uint_eq(window_oldest(&w)->seq, 6);
	window_reset(&w);
	ck_assert_uint_eq(w.count, 0);
	ck_assert_uint_eq(w.keys, 0);
	ck_assert(window_has_room(&w, 1));
}
END_TEST

/* The ring wraps, and never holds more than WINDOW_MAX. */
START_TEST(window_wraps)
{
	struct window w = { 0 };
	struct window_slot s;
	uint64_t next = 1, want = 1;

	for (int round = 0; round < 5 * WINDOW_MAX; round++) {
		while (window_has_room(&w, WINDOW_MAX))
			ck_assert_int_eq(window_push(&w, next++, 1, 0, NULL), 0);
		ck_assert_int_eq(window_push(&w, next, 1, 0, NULL), -1);
		ck_assert_uint_eq(w.count, WINDOW_MAX);
		for (int i = 0; i < 3; i++) {
			ck_assert_int_eq(window_pop(&w, 0, &s), 0);
			ck_assert_uint_eq(s.seq, want++);
		}
	}
	/* A size above the maximum is the maximum: a full window has no room. */
	while (window_has_room(&w, WINDOW_MAX))
		ck_assert_int_eq(window_push(&w, next++, 1, 0, NULL), 0);
	ck_assert_uint_eq(w.count, WINDOW_MAX);
	ck_assert(!window_has_room(&w, WINDOW_MAX + 5));
}
END_TEST

/*
 * The deadline of the oldest offer: from the later of its sending and the
 * last answer, two source requests of kme_timeout (the peer's own master
 * request that may run first, then this offer's dec_keys) and the grace.
 */
START_TEST(window_deadlines)
{
	struct window w = { 0 };
	struct window_slot s;

	ck_assert_double_eq_tol(offer_answer_timeout(10, false, 16, 5), 25.0, 1e-9);
	ck_assert_double_eq_tol(offer_answer_timeout(3, false, 512, 1), 7.0, 1e-9);
	/* dec_keys by GET: one request per key, and one more. */
	ck_assert_double_eq_tol(offer_answer_timeout(10, true, 16, 5), 185.0, 1e-9);
	ck_assert(isinf(window_deadline(&w, 10, false, 5)));
	window_push(&w, 1, 1, 100.0, NULL);
	window_push(&w, 2, 1, 101.0, NULL);
	window_push(&w, 3, 1, 102.0, NULL);
	ck_assert_double_eq_tol(window_deadline(&w, 10, false, 5), 125.0, 1e-9);
	/* Offer 1 answered at 120: offer 2's clock starts then, not at 101. */
	window_pop(&w, 120.0, &s);
	ck_assert_double_eq_tol(window_deadline(&w, 10, false, 5), 145.0, 1e-9);
	/* Answered at once: offer 3 counts from its own sending... */
	window_pop(&w, 101.5, &s);
	ck_assert_double_eq_tol(window_deadline(&w, 10, false, 5), 127.0, 1e-9);
	/* ...and follows the configuration. */
	ck_assert_double_eq_tol(window_deadline(&w, 2, false, 1), 107.0, 1e-9);
	/* ...and the oldest offer's size, keys fetched one by one. */
	ck_assert_double_eq_tol(window_deadline(&w, 2, true, 1), 109.0, 1e-9);
}
END_TEST

/* ---- journal ----------------------------------------------------------- */

static void fill_ids(struct keyid *ids, unsigned int n, char tag)
{
	for (unsigned int i = 0; i < n; i++) {
		char s[16];

		snprintf(s, sizeof(s), "K%c-%u", tag, i);
		ck_assert_int_eq(keyid_set(&ids[i], s, strlen(s)), 0);
	}
}

START_TEST(journal_offers_round_trip)
{
	struct journal *j = calloc(1, sizeof(*j)), *k = calloc(1, sizeof(*k));
	struct keyid ids[3];
	char dir[] = "/tmp/qkd-journal-XXXXXX", err[256], path[300];

	ck_assert_ptr_nonnull(j);
	ck_assert_ptr_nonnull(k);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	j->next_seq = 10;
	fill_ids(ids, 3, 'a');
	ck_assert_ptr_nonnull(journal_open(j, 500, ids, 3));
	fill_ids(ids, 2, 'b');
	/* With an offer open, the counter is not re-read. */
	ck_assert_ptr_nonnull(journal_open(j, 999, ids, 2));
	ck_assert_uint_eq(j->added, 500);
	ck_assert_uint_eq(j->nopen, 2);
	ck_assert_uint_eq(j->open[1].seq, 11);
	ck_assert_uint_eq(j->next_seq, 12);
	ck_assert_int_eq(journal_save(dir, "p", j, err, sizeof(err)), 0);
	ck_assert_int_eq(journal_load(dir, "p", k, err, sizeof(err)), 0);
	ck_assert_uint_eq(k->next_seq, 12);
	ck_assert_uint_eq(k->added, 500);
	ck_assert_uint_eq(k->nopen, 2);
	ck_assert_uint_eq(k->open[0].seq, 10);
	ck_assert_uint_eq(k->open[0].n, 3);
	ck_assert_uint_eq(k->open[1].n, 2);
	ck_assert_str_eq(k->open[0].ids[2].s, "Ka-2");
	ck_assert_str_eq(k->open[1].ids[1].s, "Kb-1");
	snprintf(path, sizeof(path), "%s/p.journal", dir);
	unlink(path);
	rmdir(dir);
	free(j);
	free(k);
}
END_TEST

/*
 * At most the oldest open offer can have been committed; a refused offer
 * closes without moving the counter, so a later offer of the same size is
 * never mistaken for committed (what one "base" per offer would do).
 */
START_TEST(journal_recovery_rule)
{
	struct journal *j = calloc(1, sizeof(*j));
	struct keyid ids[4];

	ck_assert_ptr_nonnull(j);
	j->next_seq = 1;
	ck_assert_int_eq(journal_recover(j, 0), JOURNAL_CLEAN);
	fill_ids(ids, 4, 'c');
	journal_open(j, 100, ids, 4);
	journal_open(j, 100, ids, 4);
	journal_open(j, 100, ids, 4);
	ck_assert_int_eq(journal_recover(j, 100), JOURNAL_UNKNOWN);
	ck_assert_int_eq(journal_recover(j, 103), JOURNAL_UNKNOWN);
	ck_assert_int_eq(journal_recover(j, 104), JOURNAL_COMMITTED);
	/* Offer 1 refused by the peer: closed, nothing added. */
	journal_close_oldest(j, false);
	ck_assert_uint_eq(j->added, 100);
	ck_assert_uint_eq(j->open[0].seq, 2);
	ck_assert_int_eq(journal_recover(j, 100), JOURNAL_UNKNOWN);
	/* Offer 2 committed and journaled: offer 3 is next. */
	journal_close_oldest(j, true);
	ck_assert_uint_eq(j->added, 104);
	ck_assert_uint_eq(j->open[0].seq, 3);
	ck_assert_int_eq(journal_recover(j, 104), JOURNAL_UNKNOWN);
	ck_assert_int_eq(journal_recover(j, 108), JOURNAL_COMMITTED);
	/* A reloaded module's counter starts again at 0: not committed. */
	ck_assert_int_eq(journal_recover(j, 0), JOURNAL_UNKNOWN);
	journal_close_oldest(j, false);
	ck_assert_int_eq(journal_recover(j, 0), JOURNAL_CLEAN);
	journal_close_oldest(j, false);		/* empty: nothing happens */
	ck_assert_uint_eq(j->nopen, 0);
	free(j);
}
END_TEST

START_TEST(journal_v3_refused)
{
	struct journal *j = calloc(1, sizeof(*j));
	const char *id = "id 00010203-0405-0607-0809-0a0b0c0d0e0f\n";
	char buf[4096];

	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(journal_parse("qkd-linkd journal 3\nnext_seq 3\nadded 7\n", j), 0);
	ck_assert_uint_eq(j->added, 7);
	ck_assert_uint_eq(j->nopen, 0);
	snprintf(buf, sizeof(buf), "qkd-linkd journal 3\nnext_seq 9\nadded 7\nopen 4 1\n%sopen 8 1\n%s", id, id);
	ck_assert_int_eq(journal_parse(buf, j), 0);
	ck_assert_uint_eq(j->nopen, 2);
	ck_assert_uint_eq(j->open[1].seq, 8);
	/* not increasing; at or above next_seq; no "added"; unknown version */
	snprintf(buf, sizeof(buf), "qkd-linkd journal 3\nnext_seq 9\nadded 7\nopen 4 1\n%sopen 4 1\n%s", id, id);
	ck_assert_int_eq(journal_parse(buf, j), -1);
	ck_assert_uint_eq(j->nopen, 0);
	snprintf(buf, sizeof(buf), "qkd-linkd journal 3\nnext_seq 9\nadded 7\nopen 9 1\n%s", id);
	ck_assert_int_eq(journal_parse(buf, j), -1);
	snprintf(buf, sizeof(buf), "qkd-linkd journal 3\nnext_seq 9\nopen 4 1\n%s", id);
	ck_assert_int_eq(journal_parse(buf, j), -1);
	ck_assert_int_eq(journal_parse("qkd-linkd journal 4\nnext_seq 3\nadded 7\n", j), -1);
	ck_assert_uint_eq(j->next_seq, 0);	/* refused: left empty */
	/* sequence numbers start at 1 (found by fuzz_journal in version 1) */
	ck_assert_int_eq(journal_parse("qkd-linkd journal 1\nnext_seq 8\nopen0  710 1\n"
				       "id 000102030405060708090a0b0c0d0e0f\n", j), -1);
	snprintf(buf, sizeof(buf), "qkd-linkd journal 3\nnext_seq 9\nadded 7\nopen 0 1\n%s", id);
	ck_assert_int_eq(journal_parse(buf, j), -1);
	/* more open offers than a window can hold */
	{
		size_t off = (size_t)snprintf(buf, sizeof(buf),
			"qkd-linkd journal 3\nnext_seq 100\nadded 0\n");

		for (int i = 1; i <= JOURNAL_OPEN_MAX + 1; i++)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off,
						"open %d 1\n%s", i, id);
		ck_assert_int_eq(journal_parse(buf, j), -1);
	}
	free(j);
}
END_TEST

/* ---- worker ------------------------------------------------------------ */

struct fake {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool hold;		/* calls wait until released */
	bool interrupted;
	bool fail;		/* get() writes material, then fails */
	int calls;
};

static void gate(struct fake *f)
{
	pthread_mutex_lock(&f->lock);
	f->calls++;
	pthread_cond_broadcast(&f->cond);
	while (f->hold && !f->interrupted)
		pthread_cond_wait(&f->cond, &f->lock);
	pthread_mutex_unlock(&f->lock);
}

static int fake_get(void *priv, struct qkd_key *keys, struct keyid *names,
		    size_t n, char *err, size_t errlen)
{
	struct fake *f = priv;

	gate(f);
	for (size_t i = 0; i < n; i++) {
		char s[24];

		snprintf(s, sizeof(s), "n%zu", i + 1);
		keyid_set(&names[i], s, strlen(s));
		memset(keys[i].id, (int)i + 1, QKD_KEY_ID_LEN);
		memset(keys[i].material, 0x5a, 32);
		keys[i].len = 32;
	}
	if (f->fail || f->interrupted) {
		snprintf(err, errlen, "%s", f->interrupted ? "interrupted" : "failed");
		return -1;	/* material left behind on purpose */
	}
	return 0;
}

static int fake_get_by_id(void *priv, const struct keyid *names,
			  struct qkd_key *keys, size_t n, char *err,
			  size_t errlen)
{
	(void)err;
	(void)errlen;
	gate(priv);
	for (size_t i = 0; i < n; i++) {
		keyid_to_bytes(&names[i], keys[i].id);
		memset(keys[i].material, 0x11, 32);
		keys[i].len = 32;
	}
	return 0;
}

static int fake_status(void *priv, unsigned int *max_batch,
		       unsigned int *stored, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	gate(priv);
	*max_batch = 7;
	*stored = 99;
	return 0;
}

static void fake_interrupt(void *priv)
{
	struct fake *f = priv;

	pthread_mutex_lock(&f->lock);
	f->interrupted = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void fake_destroy(void *priv)
{
	(void)priv;
}

static const struct source_ops fake_ops = {
	.get = fake_get,
	.get_by_id = fake_get_by_id,
	.status = fake_status,
	.interrupt = fake_interrupt,
	.destroy = fake_destroy,
};

static struct fake fk;
static int efd;

static void fake_setup(void)
{
	memset(&fk, 0, sizeof(fk));
	pthread_mutex_init(&fk.lock, NULL);
	pthread_cond_init(&fk.cond, NULL);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_ge(efd, 0);
}

static void fake_teardown(void)
{
	close(efd);
	pthread_cond_destroy(&fk.cond);
	pthread_mutex_destroy(&fk.lock);
}

static void release(void)
{
	pthread_mutex_lock(&fk.lock);
	fk.hold = false;
	pthread_cond_broadcast(&fk.cond);
	pthread_mutex_unlock(&fk.lock);
}

static void wait_calls(int n)
{
	pthread_mutex_lock(&fk.lock);
	while (fk.calls < n)
		pthread_cond_wait(&fk.cond, &fk.lock);
	pthread_mutex_unlock(&fk.lock);
}

/* Collect @want jobs into @out, waking on the eventfd like the loop. */
static int collect(struct worker *w, struct job **out, int want)
{
	int got = 0;

	while (got < want) {
		struct pollfd pfd = { .fd = efd, .events = POLLIN };
		uint64_t n;
		struct job *j;

		if (poll(&pfd, 1, 10000) != 1)
			break;
		if (read(efd, &n, sizeof(n)) != sizeof(n))
			continue;
		for (j = worker_collect(w); j; j = j->next)
			out[got++] = j;
	}
	return got;
}

/* Jobs come back in the order they went in, each with its results. */
START_TEST(worker_runs_in_order)
{
	struct source src = { .ops = &fake_ops, .priv = &fk };
	struct worker *w = worker_start(&src, efd);
	struct job *j[4], *got[4];

	ck_assert_ptr_nonnull(w);
	fk.hold = true;
	j[0] = job_new(JOB_STATUS, 0);
	j[1] = job_new(JOB_GET, 2);
	j[2] = job_new(JOB_GET_BY_ID, 1);
	j[3] = job_new(JOB_PASS, 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_ptr_nonnull(j[i]);
		j[i]->seq = 100 + i;
	}
	ck_assert_int_eq(keyid_set(&j[2]->names[0], "KEY-7", 5), 0);
	for (int i = 0; i < 4; i++)
		worker_submit(w, j[i]);
	/* The first call is running and held: the loop is not. */
	wait_calls(1);
	ck_assert_uint_eq(worker_pending(w), 4);
	ck_assert_ptr_null(worker_collect(w));
	release();
	ck_assert_int_eq(collect(w, got, 4), 4);
	ck_assert_uint_eq(worker_pending(w), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(got[i]->seq, 100 + i);
	ck_assert_uint_eq(got[0]->max_batch, 7);
	ck_assert_int_eq(got[1]->ret, 0);
	ck_assert_uint_eq(got[1]->keys[1].id[0], 2);
	ck_assert_str_eq(got[1]->names[1].s, "n2");
	ck_assert_uint_eq(got[1]->keys[1].material[31], 0x5a);
	{
		struct keyid k;
		uint8_t id[QKD_KEY_ID_LEN];

		keyid_set(&k, "KEY-7", 5);
		keyid_to_bytes(&k, id);
		ck_assert_mem_eq(got[2]->keys[0].id, id, QKD_KEY_ID_LEN);
	}
	ck_assert_int_eq(got[3]->ret, 0);
	for (int i = 0; i < 4; i++)
		job_free(got[i]);
	worker_stop(w);
}
END_TEST

/* A failed call leaves no material in the job, whatever the source did. */
START_TEST(worker_failure_wiped)
{
	struct source src = { .ops = &fake_ops, .priv = &fk };
	struct worker *w = worker_start(&src, efd);
	struct job *j = job_new(JOB_GET, 3), *got[1];
	static const struct qkd_key zero;

	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(j);
	fk.fail = true;
	worker_submit(w, j);
	ck_assert_int_eq(collect(w, got, 1), 1);
	ck_assert_int_eq(got[0]->ret, -1);
	ck_assert_str_eq(got[0]->err, "failed");
	for (int i = 0; i < 3; i++)
		ck_assert_mem_eq(&got[0]->keys[i], &zero, sizeof(zero));
	job_free(got[0]);
	worker_stop(w);
}
END_TEST

/*
 * Stopping interrupts the running call (a hung KME) at once and frees
 * every job still queued or finished (ASan reports any leak).
 */
START_TEST(worker_stop_interrupts)
{
	struct source src = { .ops = &fake_ops, .priv = &fk };
	struct worker *w = worker_start(&src, efd);

	ck_assert_ptr_nonnull(w);
	fk.hold = true;
	worker_submit(w, job_new(JOB_GET, 4));
	worker_submit(w, job_new(JOB_GET_BY_ID, 2));
	worker_submit(w, job_new(JOB_STATUS, 0));
	wait_calls(1);
	worker_stop(w);
	ck_assert(fk.interrupted);
	ck_assert_int_eq(fk.calls, 1);	/* the queued ones never ran */
	worker_stop(NULL);
}
END_TEST

Suite *linkd_async_suite(void)
{
	Suite *s = suite_create("linkd_async");
	TCase *tc = tcase_create("window");
	TCase *tw = tcase_create("worker");

	tcase_add_test(tc, window_bookkeeping);
	tcase_add_test(tc, window_wraps);
	tcase_add_test(tc, window_deadlines);
	tcase_add_test(tc, journal_offers_round_trip);
	tcase_add_test(tc, journal_recovery_rule);
	tcase_add_test(tc, journal_v3_refused);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tw, fake_setup, fake_teardown);
	tcase_add_test(tw, worker_runs_in_order);
	tcase_add_test(tw, worker_failure_wiped);
	tcase_add_test(tw, worker_stop_interrupts);
	suite_add_tcase(s, tw);
	return s;
}
