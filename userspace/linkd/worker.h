/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A worker thread runs a pool's key-source calls (status, enc_keys,
 * dec_keys; a stream's reads), one at a time, first in first out, so that
 * a slow or hung KME delays neither the event loop (the peer channel) nor
 * any other pool.  A pool with a KME has two, the master's and the
 * slave's, each with its own source instance (linkd.h, struct pool).  The event loop submits jobs; the worker
 * runs them and hands them back through a shared eventfd (@wake_fd), in
 * the order they were submitted.
 *
 * Key material only ever lives in a job's @keys: locked, wiped memory
 * (secmem.h), wiped by job_free() on every path, including worker_stop()
 * for jobs not yet run or not yet collected.
 *
 * Threads: the worker touches only its source and the jobs it was given;
 * the lists and @stop are under the worker's mutex.  The source must not
 * be used by anyone else while the worker runs.
 */
#ifndef LINKD_WORKER_H
#define LINKD_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qkd.h"
#include "source.h"

enum job_kind {
	JOB_STATUS,		/* source status: @max_batch, @stored */
	JOB_GET,		/* @n new keys into @keys, their @names */
	JOB_GET_BY_ID,		/* the @n keys of @names into @keys */
	JOB_PASS,		/* nothing to run: keeps an answer in order */
};

struct job {
	enum job_kind kind;
	size_t n;
	struct keyid *names;		/* GET, GET_BY_ID: @n, not secret */
	uint64_t seq;			/* slave: the offer */
	uint64_t gen;			/* slave: its connection */
	/*
	 * Slave: the pool's generation now (struct pool_slave).  When it is
	 * no longer @gen as the job's turn comes (the connection closed or
	 * reset meanwhile), the worker skips the call: no KME request for
	 * keys nobody will add.  NULL: always run.
	 */
	const _Atomic uint64_t *live_gen;
	bool skipped;			/* not run, for the reason above */
	/* results */
	struct qkd_key *keys;		/* GET, GET_BY_ID: secmem, @n keys */
	unsigned int max_batch, stored;
	int ret;			/* 0, SRC_AGAIN, or -1 with @err */
	char err[SRC_ERR_LEN];
	struct job *next;
};

/* A job of @kind for @n keys (GET, GET_BY_ID), or NULL. */
struct job *job_new(enum job_kind kind, size_t n);
/* Wipe and free; @j may be NULL. */
void job_free(struct job *j);

struct worker;

/* Start a worker on @src, waking the loop through @wake_fd.  NULL on error. */
struct worker *worker_start(const struct source *src, int wake_fd);
/* Queue @j; the worker owns it until worker_collect() returns it. */
void worker_submit(struct worker *w, struct job *j);
/* The finished jobs, oldest first (a list through ->next), or NULL. */
struct job *worker_collect(struct worker *w);
/* Jobs submitted and not yet collected. */
unsigned int worker_pending(struct worker *w);
/*
 * Stop: interrupt the running call (the source's interrupt op: a KME
 * request ends within about a second), join the thread, wipe and free
 * every job not collected.  @w may be NULL.
 */
void worker_stop(struct worker *w);

#endif
