/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The master's window of offers in flight on one connection: sent, not
 * yet answered.  Bookkeeping only (no I/O, no key material: the caller
 * keeps a pointer per slot), so that the unit tests can drive it.
 *
 * Offers are answered in the order they were sent: the slave fetches
 * their keys on one worker, first in, first out (see worker.h), so an
 * answer for anything but the oldest offer is a protocol error.  The
 * deadline of the oldest offer runs from the later of its sending and the
 * last answer (see window_deadline()).
 */
#ifndef LINKD_WINDOW_H
#define LINKD_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#define WINDOW_MAX	16	/* offer_window at most */
#define WINDOW_DEFAULT	4

struct window_slot {
	uint64_t seq;
	uint32_t n;		/* keys */
	double sent;		/* monotonic s */
	void *keys;		/* the caller's: material held until the answer */
};

struct window {
	struct window_slot slot[WINDOW_MAX];
	unsigned int head;	/* the oldest */
	unsigned int count;
	uint32_t keys;		/* in flight, all slots */
	double last_answer;	/* monotonic s of the last answer, 0 = none */
};

/* May one more offer leave, with a window of @size (1..WINDOW_MAX)? */
bool window_has_room(const struct window *w, unsigned int size);

/* Add an offer; its @seq must be above every one in flight.  0 or -1. */
int window_push(struct window *w, uint64_t seq, uint32_t n, double sent,
		void *keys);

/* The oldest offer in flight, or NULL. */
struct window_slot *window_oldest(struct window *w);

/*
 * Take out the oldest offer, answered at @now: its slot is copied to
 * @out (for the caller to wipe its keys).  0, or -1 when empty.
 */
int window_pop(struct window *w, double now, struct window_slot *out);

/* Forget everything (the connection is gone); the caller wiped the keys. */
void window_reset(struct window *w);

/*
 * The time by which the oldest offer must be answered.  The peer answers
 * in order, from a worker that runs its source calls one at a time, each
 * request bounded by kme_timeout: once it has answered the previous offer
 * (or from the sending, if later), ahead is this offer's dec_keys and,
 * where the peer's master shares that worker (a stream source), at most
 * one call of the master (status or enc_keys, one at a time).  dec_keys is
 * one request, or with @per_key (dec_keys by GET, one request per key) up
 * to n + 1 for an offer of n keys (a conservative bound).  So
 * (requests + 1) x @kme_timeout, plus @grace for the transport and the
 * pool operations.  Infinite when empty.
 */
double window_deadline(const struct window *w, unsigned int kme_timeout,
		       bool per_key, unsigned int grace);

/* The answer timeout of an offer of @n keys, as used above. */
double offer_answer_timeout(unsigned int kme_timeout, bool per_key,
			    uint32_t n, unsigned int grace);

#endif
