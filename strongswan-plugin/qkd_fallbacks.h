/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The SAs keyed without a QKD key, per pool, and the rate limiter of their
 * early re-keys once the pool refills.
 *
 * Pure code (no strongSwan type, no lock): qkd_restore.c wraps it with a
 * mutex and the jobs that re-key, and the unit tests drive it with a clock
 * of their own.  An entry is an IKE_SA or a CHILD_SA by charon's unique ID;
 * what it takes to re-key it is the caller's @data, freed by the book's
 * free_data() when the entry goes.
 */
#ifndef QKD_FALLBACKS_H_
#define QKD_FALLBACKS_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/qkd.h>

enum qkd_fallbacks_kind {
	QKD_FALLBACKS_CHILD = 0,
	QKD_FALLBACKS_IKE = 1,
};

/*
 * How long after its due time a scheduled re-key counts as under way: a
 * refill meanwhile does not schedule it again.  Its entry normally goes
 * before (the SA re-keyed); one still there after this (the re-key failed
 * or never started) is re-keyed by the next refill.
 */
#define QKD_FALLBACKS_INFLIGHT_MS		30000

struct qkd_fallbacks_entry {
	enum qkd_fallbacks_kind kind;
	uint32_t uid;			/* charon's unique ID of the SA */
	char pool[QKD_POOL_NAME_MAX_LEN + 1];
	uint64_t due_ms;		/* its re-key is scheduled for then; 0: none */
	void *data;			/* the caller's, owned by the book */
};

struct qkd_fallbacks_book {
	struct qkd_fallbacks_entry *v;
	size_t n, cap;
	size_t max;			/* entries kept at most */
	void (*free_data)(void *data);
	uint64_t next_slot_ms;		/* the rate limiter: next free slot */
};

/* An empty book of at most @max entries; @free_data may be NULL. */
void qkd_fallbacks_init(struct qkd_fallbacks_book *b, size_t max, void (*free_data)(void *data));

/*
 * Record the SA (@kind, @uid) as keyed without QKD from @pool, replacing
 * an entry of the same SA.  The book owns @data from here on, also on
 * failure: -EINVAL (bad pool name), -ENOSPC (full), -ENOMEM.
 */
int qkd_fallbacks_add(struct qkd_fallbacks_book *b, enum qkd_fallbacks_kind kind, uint32_t uid,
	    const char *pool, void *data);

/* Forget the SA; true if it was recorded. */
bool qkd_fallbacks_remove(struct qkd_fallbacks_book *b, enum qkd_fallbacks_kind kind, uint32_t uid);

/* The SA's entry, or NULL; valid until the book changes. */
const struct qkd_fallbacks_entry *qkd_fallbacks_find(const struct qkd_fallbacks_book *b,
				 enum qkd_fallbacks_kind kind, uint32_t uid);

/* Number of entries (of @pool, or all with NULL). */
size_t qkd_fallbacks_count(const struct qkd_fallbacks_book *b, const char *pool);

/* Called by qkd_fallbacks_refill() for each SA to re-key, @delay_ms from now. */
typedef void (*qkd_fallbacks_rekey_fn)(void *ctx, const struct qkd_fallbacks_entry *e,
			     uint32_t delay_ms);

/*
 * @pool's outbound side refilled at @now_ms (a monotonic clock in ms):
 * call @fn for every entry of @pool whose re-key is not already scheduled
 * or under way (QKD_FALLBACKS_INFLIGHT_MS), CHILD_SAs (they carry the traffic)
 * before IKE_SAs, spread so that at most @rate re-keys start per second,
 * across refills of all pools.  @rate 0 re-keys nothing.  An entry stays until qkd_fallbacks_remove() (its
 * SA re-keyed or gone).  Returns the number of re-keys scheduled.
 */
size_t qkd_fallbacks_refill(struct qkd_fallbacks_book *b, const char *pool, uint64_t now_ms,
		  unsigned int rate, qkd_fallbacks_rekey_fn fn, void *ctx);

/* Free every entry. */
void qkd_fallbacks_destroy(struct qkd_fallbacks_book *b);

#endif /* QKD_FALLBACKS_H_ */
