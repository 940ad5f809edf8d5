// SPDX-License-Identifier: GPL-2.0
/* The ends of an end-to-end pool (relay_xfer.h). */
#include <string.h>
#include "relay_xfer.h"
#include "secmem.h"

void relay_origin_init(struct relay_origin *o, uint64_t next)
{
	memset(o, 0, sizeof(*o));
	o->next = next ? next : 1;
}

static size_t payload(const struct relay_xfer *x)
{
	return (size_t)x->n * x->key_len + RELAY_E2E_KEY_LEN;
}

static void release(struct relay_xfer *x)
{
	secmem_free(x->keys, payload(x));
	memset(x, 0, sizeof(*x));
}

void relay_origin_clear(struct relay_origin *o)
{
	for (int i = 0; i < RELAY_XFER_WINDOW; i++)
		if (o->open[i].transfer)
			release(&o->open[i]);
}

struct relay_xfer *relay_origin_begin(struct relay_origin *o, uint16_t n,
				      uint16_t key_len,
				      const uint8_t (*ids)[RELAY_ID_LEN],
				      double deadline)
{
	struct relay_xfer *x = NULL;

	if (o->naborts || !n || n > RELAY_MAX_KEYS || !key_len ||
	    key_len > RELAY_KEY_MAX)
		return NULL;
	for (int i = 0; i < RELAY_XFER_WINDOW && !x; i++)
		if (!o->open[i].transfer)
			x = &o->open[i];
	if (!x)
		return NULL;
	x->keys = secmem_alloc((size_t)n * key_len + RELAY_E2E_KEY_LEN);
	if (!x->keys)
		return NULL;
	x->transfer = o->next++;
	x->n = n;
	x->key_len = key_len;
	memcpy(x->ids, ids, (size_t)n * RELAY_ID_LEN);
	x->deadline = deadline;
	return x;
}

void relay_origin_cancel(struct relay_origin *o, struct relay_xfer *x)
{
	(void)o;
	release(x);
}

static struct relay_xfer *find(struct relay_origin *o, uint64_t transfer)
{
	for (int i = 0; transfer && i < RELAY_XFER_WINDOW; i++)
		if (o->open[i].transfer == transfer)
			return &o->open[i];
	return NULL;
}

/* Tag @x's ABORT, wipe its copy and remember it for the ABORT. */
static void to_abort(struct relay_origin *o, struct relay_xfer *x)
{
	/* Open and waiting transfers never exceed the window (begin()). */
	struct relay_abort *a = &o->aborts[o->naborts++];

	a->transfer = x->transfer;
	a->n = x->n;
	memcpy(a->ids, x->ids, (size_t)x->n * RELAY_ID_LEN);
	/*
	 * Should OpenSSL fail, the tag is zeros: the far end refuses the
	 * ABORT and its keys stay inbound orphans, never used (their copy
	 * is gone here), gone after max_age.
	 */
	(void)relay_e2e_tag(x->keys + (size_t)x->n * x->key_len, RELAY_ABORT,
			    x->transfer, 0, x->n,
			    (const uint8_t (*)[RELAY_ID_LEN])x->ids, x->n,
			    a->tag);
	release(x);
}

int relay_origin_ack(struct relay_origin *o, const struct relay_frame *ack,
		     struct relay_xfer **xp)
{
	struct relay_xfer *x = find(o, ack->transfer);

	*xp = NULL;
	if (!x || ack->type != RELAY_ACK)
		return RELAY_ACK_UNKNOWN;
	if (ack->status) {
		o->dropped++;
		release(x);
		return RELAY_ACK_DROPPED;
	}
	/*
	 * An ACK 0 the far end did not tag for these keys (a relay's bug or
	 * forgery) or with the wrong count: keys may be at the far end.
	 */
	if (ack->count != x->n || ack->at != ack->npath - 1 ||
	    relay_e2e_verify(x->keys + (size_t)x->n * x->key_len, RELAY_ACK,
			     x->transfer, 0, ack->count,
			     (const uint8_t (*)[RELAY_ID_LEN])x->ids, x->n,
			     ack->e2e_tag)) {
		o->aborted++;
		to_abort(o, x);
		return RELAY_ACK_DROPPED;
	}
	*xp = x;
	return RELAY_ACK_COMMIT;
}

void relay_origin_committed(struct relay_origin *o, struct relay_xfer *x)
{
	o->committed++;
	release(x);
}

void relay_origin_commit_failed(struct relay_origin *o, struct relay_xfer *x)
{
	o->aborted++;
	to_abort(o, x);
}

unsigned int relay_origin_expire(struct relay_origin *o, double now)
{
	unsigned int n = 0;

	for (int i = 0; i < RELAY_XFER_WINDOW; i++) {
		struct relay_xfer *x = &o->open[i];

		if (x->transfer && x->deadline <= now) {
			to_abort(o, x);
			n++;
		}
	}
	o->expired += n;
	return n;
}

const struct relay_abort *relay_origin_abort_next(const struct relay_origin *o)
{
	return o->naborts ? &o->aborts[0] : NULL;
}

int relay_origin_aborted(struct relay_origin *o, uint64_t transfer)
{
	for (unsigned int i = 0; i < o->naborts; i++) {
		if (o->aborts[i].transfer != transfer)
			continue;
		memmove(&o->aborts[i], &o->aborts[i + 1],
			(o->naborts - i - 1) * sizeof(o->aborts[0]));
		o->naborts--;
		return 0;
	}
	return -1;
}

/* ---- the far end ------------------------------------------------------- */

#define FAR_KEYS_LEN	(RELAY_FAR_KEEP * RELAY_E2E_KEY_LEN)

int relay_far_init(struct relay_far *f)
{
	memset(f, 0, sizeof(*f));
	f->e2e_keys = secmem_alloc(FAR_KEYS_LEN);
	return f->e2e_keys ? 0 : -1;
}

void relay_far_clear(struct relay_far *f)
{
	secmem_free(f->e2e_keys, FAR_KEYS_LEN);
	f->e2e_keys = NULL;
}

int relay_far_accept(const struct relay_far *f, uint64_t transfer)
{
	return transfer <= f->aborted ? -RELAY_E_STALE : 0;
}

static void forget(struct relay_far *f, unsigned int i)
{
	explicit_bzero(f->e2e_keys + (size_t)i * RELAY_E2E_KEY_LEN,
		       RELAY_E2E_KEY_LEN);
	memset(&f->recent[i], 0, sizeof(f->recent[i]));
}

void relay_far_delivered(struct relay_far *f, uint64_t transfer, uint16_t n,
			 const uint8_t (*ids)[RELAY_ID_LEN],
			 const uint8_t *e2e_key)
{
	unsigned int slot = 0;

	/* A free slot, or the oldest transfer's. */
	for (unsigned int i = 0; i < RELAY_FAR_KEEP; i++) {
		if (!f->recent[i].transfer) {
			slot = i;
			break;
		}
		if (f->recent[i].transfer < f->recent[slot].transfer)
			slot = i;
	}
	forget(f, slot);
	f->recent[slot].transfer = transfer;
	f->recent[slot].n = n;
	memcpy(f->recent[slot].ids, ids, (size_t)n * RELAY_ID_LEN);
	memcpy(f->e2e_keys + (size_t)slot * RELAY_E2E_KEY_LEN, e2e_key,
	       RELAY_E2E_KEY_LEN);
	if (transfer > f->delivered)
		f->delivered = transfer;
}

int relay_far_abort(struct relay_far *f, const struct relay_frame *abort,
		    uint8_t (*ids)[RELAY_ID_LEN], uint16_t *n)
{
	uint64_t t = abort->transfer;
	unsigned int i;

	*n = 0;
	for (i = 0; i < RELAY_FAR_KEEP; i++)
		if (t && f->recent[i].transfer == t)
			break;
	if (i == RELAY_FAR_KEEP) {
		uint64_t mark = t < f->delivered ? t : f->delivered;

		if (mark > f->aborted)
			f->aborted = mark;
		return RELAY_FAR_NOTHING;
	}
	/* The tag covers the IDs this end added, whatever the frame names. */
	if (relay_e2e_verify(f->e2e_keys + (size_t)i * RELAY_E2E_KEY_LEN,
			     RELAY_ABORT, t, 0, f->recent[i].n,
			     (const uint8_t (*)[RELAY_ID_LEN])f->recent[i].ids,
			     f->recent[i].n, abort->e2e_tag))
		return RELAY_FAR_BAD_TAG;
	*n = f->recent[i].n;
	memcpy(ids, f->recent[i].ids, (size_t)*n * RELAY_ID_LEN);
	forget(f, i);
	if (t > f->aborted)
		f->aborted = t;
	return RELAY_FAR_REMOVE;
}
