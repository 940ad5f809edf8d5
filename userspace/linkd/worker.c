// SPDX-License-Identifier: GPL-2.0
/*
 * The worker that runs a pool's key-source calls: see worker.h.
 *
 * Why threads and not libcurl's multi interface on the event loop: the source calls stay plain blocking functions (kme.c is a linear
 * ETSI 014 client, stream.c reads and fsyncs a file), one code path serves
 * both sources, and nothing of libcurl's socket and timer callbacks leaks
 * into the loop.  The price, two threads and two kept-alive KME
 * connections per pool, is small next to a KME request.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "secmem.h"
#include "worker.h"

struct worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct source src;
	int wake_fd;
	bool stop;			/* under @lock */
	unsigned int pending;		/* under @lock: submitted, not collected */
	struct job *todo, **todo_tail;	/* under @lock */
	struct job *done, **done_tail;	/* under @lock */
};

struct job *job_new(enum job_kind kind, size_t n)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->kind = kind;
	j->n = n;
	if (kind == JOB_GET || kind == JOB_GET_BY_ID) {
		j->names = calloc(n ? n : 1, sizeof(*j->names));
		if (!j->names)
			goto fail;
		j->keys = secmem_alloc(n * sizeof(*j->keys));
		if (!j->keys)
			goto fail;
	}
	return j;
fail:
	job_free(j);
	return NULL;
}

void job_free(struct job *j)
{
	if (!j)
		return;
	if (j->keys) {
		qkd_key_wipe(j->keys, j->n);
		secmem_free(j->keys, j->n * sizeof(*j->keys));
	}
	free(j->names);
	free(j);
}

static void run_job(const struct source *src, struct job *j)
{
	if (j->live_gen && atomic_load(j->live_gen) != j->gen) {
		j->skipped = true;
		j->ret = -1;
		snprintf(j->err, sizeof(j->err), "skipped: its connection closed or was reset");
		return;
	}
	switch (j->kind) {
	case JOB_STATUS:
		j->ret = src->ops->status(src->priv, &j->max_batch, &j->stored,
					  j->err, sizeof(j->err));
		break;
	case JOB_GET:
		j->ret = src->ops->get(src->priv, j->keys, j->names, j->n,
				       j->err, sizeof(j->err));
		break;
	case JOB_GET_BY_ID:
		j->ret = src->ops->get_by_id(src->priv, j->names, j->keys,
					     j->n, j->err, sizeof(j->err));
		break;
	case JOB_PASS:
		break;
	}
	/* A failed call leaves nothing behind (source.h); make sure. */
	if (j->ret && j->keys)
		qkd_key_wipe(j->keys, j->n);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct job *j;

		while (!w->todo && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		j = w->todo;
		w->todo = j->next;
		if (!w->todo)
			w->todo_tail = &w->todo;
		j->next = NULL;
		pthread_mutex_unlock(&w->lock);
		run_job(&w->src, j);
		pthread_mutex_lock(&w->lock);
		*w->done_tail = j;
		w->done_tail = &j->next;
		/* An eventfd: never blocks short of 2^64 - 2 wake-ups. */
		if (write(w->wake_fd, &one, sizeof(one)) < 0) {
			/* The loop also looks at every pool each second. */
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct worker *worker_start(const struct source *src, int wake_fd)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->src = *src;
	w->wake_fd = wake_fd;
	w->todo_tail = &w->todo;
	w->done_tail = &w->done;
	if (pthread_mutex_init(&w->lock, NULL))
		goto fail_free;
	if (pthread_cond_init(&w->cond, NULL))
		goto fail_lock;
	if (pthread_create(&w->thread, NULL, worker_main, w))
		goto fail_cond;
	return w;
fail_cond:
	pthread_cond_destroy(&w->cond);
fail_lock:
	pthread_mutex_destroy(&w->lock);
fail_free:
	free(w);
	return NULL;
}

void worker_submit(struct worker *w, struct job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&w->lock);
	*w->todo_tail = j;
	w->todo_tail = &j->next;
	w->pending++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

struct job *worker_collect(struct worker *w)
{
	struct job *list;

	pthread_mutex_lock(&w->lock);
	list = w->done;
	w->done = NULL;
	w->done_tail = &w->done;
	for (struct job *j = list; j; j = j->next)
		w->pending--;
	pthread_mutex_unlock(&w->lock);
	return list;
}

unsigned int worker_pending(struct worker *w)
{
	unsigned int n;

	pthread_mutex_lock(&w->lock);
	n = w->pending;
	pthread_mutex_unlock(&w->lock);
	return n;
}

static void free_list(struct job *j)
{
	while (j) {
		struct job *next = j->next;

		job_free(j);
		j = next;
	}
}

void worker_stop(struct worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (w->src.ops->interrupt)
		w->src.ops->interrupt(w->src.priv);
	pthread_join(w->thread, NULL);
	free_list(w->todo);
	free_list(w->done);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
