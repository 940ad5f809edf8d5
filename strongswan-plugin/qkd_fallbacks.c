// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The SAs keyed without a QKD key and the rate limiter of their re-keys
 * (see qkd_fallbacks.h).  A plain array searched linearly: one entry per
 * SA that fell back, touched once per SA event, which is cheap next to the
 * IKE exchange that caused it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "qkd_fallbacks.h"

void qkd_fallbacks_init(struct qkd_fallbacks_book *b, size_t max, void (*free_data)(void *data))
{
	memset(b, 0, sizeof(*b));
	b->max = max;
	b->free_data = free_data;
}

static void free_data(struct qkd_fallbacks_book *b, void *data)
{
	if (data && b->free_data)
		b->free_data(data);
}

static struct qkd_fallbacks_entry *find(const struct qkd_fallbacks_book *b, enum qkd_fallbacks_kind kind,
			      uint32_t uid)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (b->v[i].kind == kind && b->v[i].uid == uid)
			return &b->v[i];
	return NULL;
}

int qkd_fallbacks_add(struct qkd_fallbacks_book *b, enum qkd_fallbacks_kind kind, uint32_t uid,
	    const char *pool, void *data)
{
	struct qkd_fallbacks_entry *e;
	size_t len = pool ? strlen(pool) : 0;

	if (len == 0 || len > QKD_POOL_NAME_MAX_LEN) {
		free_data(b, data);
		return -EINVAL;
	}
	e = find(b, kind, uid);
	if (e) {
		free_data(b, e->data);
	} else {
		if (b->n >= b->max) {
			free_data(b, data);
			return -ENOSPC;
		}
		if (b->n == b->cap) {
			size_t cap = b->cap ? 2 * b->cap : 16;
			struct qkd_fallbacks_entry *v;

			if (cap > b->max)
				cap = b->max;
			v = realloc(b->v, cap * sizeof(*v));
			if (!v) {
				free_data(b, data);
				return -ENOMEM;
			}
			b->v = v;
			b->cap = cap;
		}
		e = &b->v[b->n++];
	}
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->uid = uid;
	memcpy(e->pool, pool, len + 1);
	e->data = data;
	return 0;
}

bool qkd_fallbacks_remove(struct qkd_fallbacks_book *b, enum qkd_fallbacks_kind kind, uint32_t uid)
{
	struct qkd_fallbacks_entry *e = find(b, kind, uid);

	if (!e)
		return false;
	free_data(b, e->data);
	/* order does not matter: the last entry fills the hole */
	*e = b->v[--b->n];
	return true;
}

const struct qkd_fallbacks_entry *qkd_fallbacks_find(const struct qkd_fallbacks_book *b,
				 enum qkd_fallbacks_kind kind, uint32_t uid)
{
	return find(b, kind, uid);
}

size_t qkd_fallbacks_count(const struct qkd_fallbacks_book *b, const char *pool)
{
	size_t i, n = 0;

	for (i = 0; i < b->n; i++)
		n += !pool || strcmp(b->v[i].pool, pool) == 0;
	return n;
}

/* The next slot of the rate limiter, at or after @now_ms. */
static uint64_t take_slot(struct qkd_fallbacks_book *b, uint64_t now_ms,
			  unsigned int rate)
{
	uint64_t due = b->next_slot_ms > now_ms ? b->next_slot_ms : now_ms;

	/* rounded up: never more than @rate per second */
	b->next_slot_ms = due + (1000 + rate - 1) / rate;
	return due;
}

size_t qkd_fallbacks_refill(struct qkd_fallbacks_book *b, const char *pool, uint64_t now_ms,
		  unsigned int rate, qkd_fallbacks_rekey_fn fn, void *ctx)
{
	static const enum qkd_fallbacks_kind order[] = { QKD_FALLBACKS_CHILD, QKD_FALLBACKS_IKE };
	size_t i, k, n = 0;

	if (!rate || !pool)
		return 0;
	for (k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		for (i = 0; i < b->n; i++) {
			struct qkd_fallbacks_entry *e = &b->v[i];
			uint64_t due;

			if (e->kind != order[k] || strcmp(e->pool, pool) != 0)
				continue;
			/* scheduled by an earlier refill: not run yet, or its
			 * exchange may still be under way */
			if (e->due_ms && now_ms < e->due_ms + QKD_FALLBACKS_INFLIGHT_MS)
				continue;
			due = take_slot(b, now_ms, rate);
			/* 0 means "none scheduled": a re-key due at 0 ms is
			 * marked 1 ms later, which changes nothing */
			e->due_ms = due ? due : 1;
			fn(ctx, e, (uint32_t)(due - now_ms));
			n++;
		}
	}
	return n;
}

void qkd_fallbacks_destroy(struct qkd_fallbacks_book *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free_data(b, b->v[i].data);
	free(b->v);
	memset(b, 0, sizeof(*b));
}
