// SPDX-License-Identifier: GPL-2.0
/*
 * The master's window of offers in flight: see window.h.
 */
#include <math.h>
#include <string.h>
#include "window.h"

bool window_has_room(const struct window *w, unsigned int size)
{
	if (size > WINDOW_MAX)
		size = WINDOW_MAX;
	return w->count < size;
}

int window_push(struct window *w, uint64_t seq, uint32_t n, double sent,
		void *keys)
{
	struct window_slot *s;

	if (w->count >= WINDOW_MAX)
		return -1;
	if (w->count &&
	    seq <= w->slot[(w->head + w->count - 1) % WINDOW_MAX].seq)
		return -1;
	s = &w->slot[(w->head + w->count) % WINDOW_MAX];
	*s = (struct window_slot){ .seq = seq, .n = n, .sent = sent,
				   .keys = keys };
	w->count++;
	w->keys += n;
	return 0;
}

struct window_slot *window_oldest(struct window *w)
{
	return w->count ? &w->slot[w->head] : NULL;
}

int window_pop(struct window *w, double now, struct window_slot *out)
{
	if (!w->count)
		return -1;
	*out = w->slot[w->head];
	memset(&w->slot[w->head], 0, sizeof(w->slot[w->head]));
	w->head = (w->head + 1) % WINDOW_MAX;
	w->count--;
	w->keys -= out->n;
	w->last_answer = now;
	return 0;
}

void window_reset(struct window *w)
{
	memset(w, 0, sizeof(*w));
}

double offer_answer_timeout(unsigned int kme_timeout, bool per_key,
			    uint32_t n, unsigned int grace)
{
	double requests = per_key ? (double)n + 1 : 1;

	return (requests + 1) * kme_timeout + grace;
}

double window_deadline(const struct window *w, unsigned int kme_timeout,
		       bool per_key, unsigned int grace)
{
	const struct window_slot *s = &w->slot[w->head];
	double from;

	if (!w->count)
		return INFINITY;
	from = s->sent;
	if (w->last_answer > from)
		from = w->last_answer;
	return from + offer_answer_timeout(kme_timeout, per_key, s->n, grace);
}
