/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ends of an end-to-end pool (Documentation/relay.rst, "Commit
 * order"), apart from the I/O.  The origin keeps a copy of each transfer's
 * payload (its keys and the end-to-end MAC key) in locked memory until the
 * far end's ACK: an ACK 0 whose end-to-end tag verifies lets the caller
 * commit the keys to its outbound side, an error status wipes them, and a
 * transfer with no answer in time, a wrong count or a bad tag is wiped and
 * remembered for an ABORT tagged with its end-to-end key (its keys may be
 * in the far end's inbound side).  The far end keeps the end-to-end keys
 * of its recent transfers to verify an ABORT before it removes anything,
 * and refuses transfers at or below the highest one it saw aborted, so
 * that a frame delivered late over an old path can never add keys after
 * their ABORT.
 */
#ifndef LINKD_RELAY_XFER_H
#define LINKD_RELAY_XFER_H

#include <stdint.h>
#include "relay_frame.h"

#define RELAY_XFER_WINDOW	8	/* transfers in flight per pool */
/*
 * Transfers waiting for ABORTED: nothing new begins while one waits, so
 * open and waiting transfers together never exceed the window.
 */
#define RELAY_XFER_ABORTS	RELAY_XFER_WINDOW
/* Delivered transfers whose ABORT the far end can still verify. */
#define RELAY_FAR_KEEP		(2 * RELAY_XFER_WINDOW)

struct relay_xfer {
	uint64_t transfer;		/* 0: free slot */
	uint16_t n, key_len;
	uint8_t ids[RELAY_MAX_KEYS][RELAY_ID_LEN];
	/* secmem, n * key_len + RELAY_E2E_KEY_LEN: the payload's copy */
	uint8_t *keys;
	double deadline;
};

struct relay_abort {
	uint64_t transfer;
	uint16_t n;
	uint8_t ids[RELAY_MAX_KEYS][RELAY_ID_LEN];
	uint8_t tag[RELAY_TAG_LEN];	/* end-to-end, computed before the wipe */
};

struct relay_origin {
	uint64_t next;			/* next transfer number, from 1 */
	struct relay_xfer open[RELAY_XFER_WINDOW];
	unsigned int naborts;
	struct relay_abort aborts[RELAY_XFER_ABORTS];
	/*
	 * Transfers by outcome, for qkdctl: each counted once, when it is
	 * settled here.  committed: in both pools; dropped: refused on the
	 * way or at the far end (nobody added its keys, no ABORT);
	 * expired: unanswered in time, or its path changed or went
	 * (aborted); aborted: answered but not committed (an ACK that does
	 * not verify, or this side's pool refused the keys).
	 */
	uint64_t committed, dropped, expired, aborted;
};

/* @next: the first transfer number (the journal's, at least 1). */
void relay_origin_init(struct relay_origin *o, uint64_t next);
/* Wipe and free every copy. */
void relay_origin_clear(struct relay_origin *o);

/*
 * A slot for a new transfer of @n keys of @key_len bytes with key IDs
 * @ids, answered by @deadline: its transfer number set, its payload
 * buffer allocated (the caller fills it from relay_hop_originate()).
 * NULL when the window is full, an ABORT is pending (nothing new goes out
 * before the far end has settled the old ones, as on a direct link), or
 * memory is short.
 */
struct relay_xfer *relay_origin_begin(struct relay_origin *o, uint16_t n,
				      uint16_t key_len,
				      const uint8_t (*ids)[RELAY_ID_LEN],
				      double deadline);

/* The transfer could not be sent (no path, no link keys): forget it. */
void relay_origin_cancel(struct relay_origin *o, struct relay_xfer *x);

enum relay_ack_verdict {
	RELAY_ACK_COMMIT = 1,	/* add *@xp's keys to the outbound side */
	RELAY_ACK_DROPPED,	/* nothing to commit (wiped; maybe aborted) */
	RELAY_ACK_UNKNOWN,	/* no such open transfer (late, or never) */
};

/*
 * The ACK @ack (decoded, for this node) of an open transfer.  COMMIT
 * only for status 0 from the far end with the transfer's n keys and an
 * end-to-end tag that verifies: *@xp is the slot, its n keys the first n
 * * key_len bytes of x->keys, and it stays until the caller reports with
 * relay_origin_committed() or relay_origin_commit_failed(), before
 * anything else touches @o.  An error status drops the transfer (nobody
 * added its keys); an ACK 0 with a wrong count or a bad tag is a failure
 * whose keys may be at the far end: wiped and aborted.
 */
int relay_origin_ack(struct relay_origin *o, const struct relay_frame *ack,
		     struct relay_xfer **xp);
/* The keys of COMMIT slot @x are in the outbound side: wipe the copy. */
void relay_origin_committed(struct relay_origin *o, struct relay_xfer *x);
/* They could not be added: wipe them and abort the transfer. */
void relay_origin_commit_failed(struct relay_origin *o, struct relay_xfer *x);

/*
 * Open transfers past their deadline at @now (every one when @now is
 * INFINITY: the path changed or the connection closed): their copies are
 * wiped and they wait for an ABORT.  Returns how many expired.
 */
unsigned int relay_origin_expire(struct relay_origin *o, double now);

/* The oldest transfer waiting for an ABORT (with its tag), or NULL. */
const struct relay_abort *relay_origin_abort_next(const struct relay_origin *o);
/* ABORTED came for @transfer: 0, or -1 when it was not waiting. */
int relay_origin_aborted(struct relay_origin *o, uint64_t transfer);

struct relay_far_xfer {
	uint64_t transfer;		/* 0: free */
	uint16_t n;
	uint8_t ids[RELAY_MAX_KEYS][RELAY_ID_LEN];
};

struct relay_far {
	uint64_t aborted;		/* highest transfer aborted */
	uint64_t delivered;		/* highest transfer delivered */
	struct relay_far_xfer recent[RELAY_FAR_KEEP];
	/* secmem, RELAY_FAR_KEEP x RELAY_E2E_KEY_LEN: recent[i]'s key */
	uint8_t *e2e_keys;
};

/* 0, or -1 when memory is short. */
int relay_far_init(struct relay_far *f);
/* Wipe and free the end-to-end keys. */
void relay_far_clear(struct relay_far *f);

/* 0, or -RELAY_E_STALE for a transfer at or below an aborted one. */
int relay_far_accept(const struct relay_far *f, uint64_t transfer);

/*
 * The keys of @transfer (@n, IDs @ids) are in the inbound side; keep its
 * end-to-end key @e2e_key to verify an ABORT (the oldest one kept is
 * forgotten when all RELAY_FAR_KEEP are in use).
 */
void relay_far_delivered(struct relay_far *f, uint64_t transfer, uint16_t n,
			 const uint8_t (*ids)[RELAY_ID_LEN],
			 const uint8_t *e2e_key);

enum relay_far_abort_verdict {
	RELAY_FAR_REMOVE = 1,	/* remove *@n keys @ids from the inbound side */
	RELAY_FAR_NOTHING,	/* not delivered here (or forgotten): none */
	RELAY_FAR_BAD_TAG,	/* the tag does not verify: change nothing */
};

/*
 * An ABORT @abort (decoded, for this node).  A delivered transfer is
 * removed only when the origin's end-to-end tag verifies; then transfers
 * up to it are refused from now on.  One not delivered here raises that
 * mark at most to the highest delivered transfer, so a forged ABORT
 * cannot refuse future transfers.  The keys that could not be removed
 * (forgotten, forged ABORT) stay in the inbound side, which nobody can
 * use without their outbound twin, until max_age.
 */
int relay_far_abort(struct relay_far *f, const struct relay_frame *abort,
		    uint8_t (*ids)[RELAY_ID_LEN], uint16_t *n);

#endif
