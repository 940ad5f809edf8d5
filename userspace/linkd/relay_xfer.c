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

static void release(struct relay_xfer *x)
{
	secmem_free(x->keys, (size_t)x->n * x->key_len);
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
	x->keys = secmem_alloc((size_t)n * key_len);
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

/* Wipe @x's copy and remember it for an ABORT. */
static void to_abort(struct relay_origin *o, struct relay_xfer *x)
{
	if (o->naborts < RELAY_XFER_ABORTS) {
		struct relay_abort *a = &o->aborts[o->naborts++];

		a->transfer = x->transfer;
		a->n = x->n;
		memcpy(a->ids, x->ids, (size_t)x->n * RELAY_ID_LEN);
	}
	/*
	 * Beyond RELAY_XFER_ABORTS the far end may keep orphan inbound keys:
	 * never used (their copy is gone here), gone after max_age.
	 */
	release(x);
}

int relay_origin_ack(struct relay_origin *o, uint64_t transfer,
		     uint16_t status, uint16_t count, uint8_t *keys,
		     uint16_t *n, uint8_t (*ids)[RELAY_ID_LEN])
{
	struct relay_xfer *x = find(o, transfer);

	if (!x)
		return RELAY_ACK_UNKNOWN;
	if (status) {
		o->dropped++;
		release(x);
		return RELAY_ACK_DROPPED;
	}
	if (count != x->n) {
		/* Some keys may be at the far end: settle them by ABORT. */
		o->dropped++;
		to_abort(o, x);
		return RELAY_ACK_DROPPED;
	}
	memcpy(keys, x->keys, (size_t)x->n * x->key_len);
	memcpy(ids, x->ids, (size_t)x->n * RELAY_ID_LEN);
	*n = x->n;
	o->committed++;
	release(x);
	return RELAY_ACK_COMMIT;
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

int relay_far_accept(const struct relay_far *f, uint64_t transfer)
{
	return transfer <= f->aborted ? -RELAY_E_STALE : 0;
}

void relay_far_abort(struct relay_far *f, uint64_t transfer)
{
	if (transfer > f->aborted)
		f->aborted = transfer;
}
