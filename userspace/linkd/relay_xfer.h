/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ends of an end-to-end pool (Documentation/relay.rst, "Commit
 * order"), apart from the I/O.  The origin keeps a copy of each transfer's
 * keys in locked memory until the far end's ACK: status 0 commits them to
 * its outbound side, an error status wipes them, and a transfer with no
 * answer in time is wiped and remembered for an ABORT (its keys may have
 * reached the far end's inbound side).  The far end refuses transfers at
 * or below the highest one it saw aborted, so that a frame delivered late
 * over an old path can never add keys after their ABORT.
 */
#ifndef LINKD_RELAY_XFER_H
#define LINKD_RELAY_XFER_H

#include <stdint.h>
#include "relay_frame.h"

#define RELAY_XFER_WINDOW	8	/* transfers in flight per pool */
#define RELAY_XFER_ABORTS	64	/* transfers waiting for ABORTED */

struct relay_xfer {
	uint64_t transfer;		/* 0: free slot */
	uint16_t n, key_len;
	uint8_t ids[RELAY_MAX_KEYS][RELAY_ID_LEN];
	uint8_t *keys;			/* secmem, n * key_len: the copy */
	double deadline;
};

struct relay_abort {
	uint64_t transfer;
	uint16_t n;
	uint8_t ids[RELAY_MAX_KEYS][RELAY_ID_LEN];
};

struct relay_origin {
	uint64_t next;			/* next transfer number, from 1 */
	struct relay_xfer open[RELAY_XFER_WINDOW];
	unsigned int naborts;
	struct relay_abort aborts[RELAY_XFER_ABORTS];
	uint64_t committed, dropped, expired;	/* transfers, for qkdctl */
};

/* @next: the first transfer number (the journal's, at least 1). */
void relay_origin_init(struct relay_origin *o, uint64_t next);
/* Wipe and free every copy. */
void relay_origin_clear(struct relay_origin *o);

/*
 * A slot for a new transfer of @n keys of @key_len bytes with key IDs
 * @ids, answered by @deadline: its transfer number set, its keys buffer
 * allocated (the caller fills it from relay_hop_originate()).  NULL when
 * the window is full, an ABORT is pending (nothing new goes out before
 * the far end has settled the old ones, as on a direct link), or memory
 * is short.
 */
struct relay_xfer *relay_origin_begin(struct relay_origin *o, uint16_t n,
				      uint16_t key_len,
				      const uint8_t (*ids)[RELAY_ID_LEN],
				      double deadline);

/* The transfer could not be sent (no path, no link keys): forget it. */
void relay_origin_cancel(struct relay_origin *o, struct relay_xfer *x);

enum relay_ack_verdict {
	RELAY_ACK_COMMIT = 1,	/* add the keys in @keys to the outbound side */
	RELAY_ACK_DROPPED,	/* the far end added nothing: wiped */
	RELAY_ACK_UNKNOWN,	/* no such open transfer (late, or never) */
};

/*
 * The far end's ACK for @transfer with @status and @count.  On COMMIT
 * the n * key_len bytes are copied to @keys, *@n and *@ids set, and the
 * copy wiped; the caller adds them to the pool's outbound side.  An ACK 0
 * whose count is not the transfer's n is treated as a failure: the keys
 * are wiped and the transfer is aborted.
 */
int relay_origin_ack(struct relay_origin *o, uint64_t transfer,
		     uint16_t status, uint16_t count, uint8_t *keys,
		     uint16_t *n, uint8_t (*ids)[RELAY_ID_LEN]);

/*
 * Open transfers past their deadline at @now (every one when @now is
 * INFINITY: the path changed or the connection closed): their copies are
 * wiped and they wait for an ABORT.  Returns how many expired.
 */
unsigned int relay_origin_expire(struct relay_origin *o, double now);

/* The oldest transfer waiting for an ABORT, or NULL. */
const struct relay_abort *relay_origin_abort_next(const struct relay_origin *o);
/* ABORTED came for @transfer: 0, or -1 when it was not waiting. */
int relay_origin_aborted(struct relay_origin *o, uint64_t transfer);

struct relay_far {
	uint64_t aborted;		/* highest transfer aborted */
};

/* 0, or -RELAY_E_STALE for a transfer at or below an aborted one. */
int relay_far_accept(const struct relay_far *f, uint64_t transfer);
/* An ABORT for @transfer arrived (the caller removes its keys). */
void relay_far_abort(struct relay_far *f, uint64_t transfer);

#endif
