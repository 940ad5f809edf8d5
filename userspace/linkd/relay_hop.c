// SPDX-License-Identifier: GPL-2.0
/* One node's part of a relayed transfer (relay_hop.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "relay_hop.h"
#include "secmem.h"

struct relay_hop {
	uint8_t pad_in[RELAY_MAX_PAD];
	uint8_t pad_out[RELAY_MAX_PAD];
	uint8_t keys[RELAY_MAX_PAYLOAD];
	struct relay_frame next;	/* not secret: here to spare the stack */
};

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

struct relay_hop *relay_hop_new(void)
{
	return secmem_alloc(sizeof(struct relay_hop));
}

void relay_hop_free(struct relay_hop *h)
{
	secmem_free(h, sizeof(*h));
}

static void wipe(struct relay_hop *h)
{
	explicit_bzero(h->pad_in, sizeof(h->pad_in));
	explicit_bzero(h->pad_out, sizeof(h->pad_out));
	explicit_bzero(h->keys, sizeof(h->keys));
}

/*
 * The link keys of the hop to @node for @f's n keys, once it is sure
 * that the frame they seal fits @cap: -RELAY_E_* or 0.
 */
static int take_out(const struct relay_links *l, const char *node,
		    struct relay_frame *f, uint8_t *pad, size_t cap,
		    char *err, size_t errlen)
{
	unsigned int len = l->key_len(l->ctx, node);
	uint8_t probe[RELAY_TAG_LEN];
	int r, flen;

	if (len < RELAY_KEY_MIN || len > RELAY_KEY_MAX) {
		fail(err, errlen, "no link to %s", node);
		return -RELAY_E_LINK_DOWN;
	}
	f->link_len = (uint16_t)len;
	f->m = (uint16_t)relay_link_keys_needed(f->n, f->key_len, len);
	/*
	 * Everything is checked before a key is taken; the link key IDs are
	 * not known yet, so distinct placeholders stand in for them.
	 */
	for (unsigned int i = 0; i < f->m && i < RELAY_MAX_LINK_KEYS; i++) {
		memset(f->link_ids[i], 0, RELAY_ID_LEN);
		f->link_ids[i][0] = (uint8_t)(i >> 8);
		f->link_ids[i][1] = (uint8_t)i;
	}
	flen = relay_frame_len(f, err, errlen);
	if (flen < 0)
		return -RELAY_E_PROTO;
	if ((size_t)flen > cap) {
		fail(err, errlen, "no room for the %d-byte KEYS frame in %zu bytes",
		     flen, cap);
		return -RELAY_E_PROTO;
	}
	/*
	 * Poly1305 works before a key is taken: after it, only an allocation
	 * failure inside OpenSSL can still fail the seal.
	 */
	r = relay_mac(pad, NULL, 0, probe);
	explicit_bzero(probe, sizeof(probe));
	if (r) {
		fail(err, errlen, "Poly1305 failed (OpenSSL)");
		return -RELAY_E_PROTO;
	}
	r = l->take_out(l->ctx, node, f->m, f->link_ids, pad);
	if (r == -EAGAIN) {
		fail(err, errlen, "the relay share of the link to %s is used up",
		     node);
		return -RELAY_E_BUDGET;
	}
	if (r) {
		fail(err, errlen, "the link to %s gave no keys: %s", node,
		     strerror(-r));
		return -RELAY_E_LINK_DOWN;
	}
	return 0;
}

int relay_hop_originate(struct relay_hop *h, const struct relay_links *l,
			struct relay_frame *f, uint8_t *keys, uint8_t *buf,
			size_t cap, char *err, size_t errlen)
{
	size_t klen;
	int r, len;

	f->hop = 1;
	if (f->type != RELAY_KEYS || f->npath < 2 || f->n > RELAY_MAX_KEYS ||
	    f->key_len > RELAY_KEY_MAX) {
		fail(err, errlen, "not a KEYS frame to originate");
		return -RELAY_E_PROTO;
	}
	klen = relay_payload_len(f);
	r = take_out(l, f->path[1], f, h->pad_out, cap, err, errlen);
	if (r)
		goto out;
	/* The first hop's link keys are the payload (after the MAC key). */
	memcpy(keys, h->pad_out + RELAY_MAC_KEY_LEN, klen);
	len = relay_frame_seal(f, NULL, h->pad_out, relay_pad_len(f), buf, cap,
			       err, errlen);
	if (len < 0) {
		explicit_bzero(keys, klen);
		r = -RELAY_E_PROTO;
		goto out;
	}
	r = len;
out:
	wipe(h);
	return r;
}

int relay_hop_receive(struct relay_hop *h, const struct relay_links *l,
		      const char *self, const char *from, const uint8_t *in,
		      size_t inlen, struct relay_frame *f, uint8_t *keys,
		      uint8_t *out, size_t cap, size_t *outlen, char *err,
		      size_t errlen)
{
	struct relay_frame *g = &h->next;
	size_t klen;
	int r, len;

	*outlen = 0;
	if (relay_frame_decode(in, inlen, f, err, errlen)) {
		f->type = 0;
		return -RELAY_E_PROTO;
	}
	if (f->type != RELAY_KEYS) {
		fail(err, errlen, "a %s frame is not relayed keys",
		     relay_type_name(f->type));
		f->type = 0;
		return -RELAY_E_PROTO;
	}
	/*
	 * Not for us, or not from whom the path says: take nothing, and
	 * answer nobody (path[hop - 1] need not be who sent it).
	 */
	if (strcmp(f->path[f->hop], self) || strcmp(f->path[f->hop - 1], from)) {
		fail(err, errlen, "transfer %llu: hop %u of the path is %s from %s, not %s from %s",
		     (unsigned long long)f->transfer, f->hop, f->path[f->hop],
		     f->path[f->hop - 1], self, from);
		f->type = 0;
		return -RELAY_E_PROTO;
	}
	if (l->key_len(l->ctx, from) != f->link_len) {
		fail(err, errlen, "transfer %llu: link keys of %u bytes, the link from %s has %u",
		     (unsigned long long)f->transfer, f->link_len, from,
		     l->key_len(l->ctx, from));
		return -RELAY_E_PROTO;
	}
	klen = relay_payload_len(f);
	if (l->take_in(l->ctx, from, (const uint8_t (*)[RELAY_ID_LEN])f->link_ids,
		       f->m, h->pad_in)) {
		fail(err, errlen, "transfer %llu: link keys from %s missing",
		     (unsigned long long)f->transfer, from);
		r = -RELAY_E_LINK_KEYS;
		goto out;
	}
	if (relay_frame_open(f, h->pad_in, relay_pad_len(f), h->keys, err,
			     errlen)) {
		r = -RELAY_E_TAG;
		goto out;
	}
	if (f->hop == f->npath - 1) {
		memcpy(keys, h->keys, klen);
		r = RELAY_DELIVER;
		goto out;
	}
	memcpy(g, f, sizeof(*g));
	g->hop = f->hop + 1;
	g->ct = g->tag = g->raw = NULL;
	r = take_out(l, g->path[g->hop], g, h->pad_out, cap, err, errlen);
	if (r)
		goto out;
	len = relay_frame_seal(g, h->keys, h->pad_out, relay_pad_len(g), out,
			       cap, err, errlen);
	if (len < 0) {
		r = -RELAY_E_PROTO;
		goto out;
	}
	*outlen = (size_t)len;
	r = RELAY_FORWARD;
out:
	wipe(h);
	return r;
}

int relay_hop_answer(const struct relay_frame *f, uint16_t status,
		     uint16_t count, const uint8_t *e2e_key,
		     struct relay_frame *ack)
{
	memcpy(ack, f, sizeof(*ack));
	ack->type = RELAY_ACK;
	ack->hop = f->hop - 1;
	ack->at = f->hop;
	ack->status = status;
	ack->count = status ? 0 : count;
	ack->n = ack->m = ack->key_len = ack->link_len = 0;
	ack->raw = ack->ct = ack->tag = NULL;
	ack->mac_len = 0;
	memset(ack->e2e_tag, 0, sizeof(ack->e2e_tag));
	if (status || f->hop != f->npath - 1)
		return 0;
	if (!e2e_key ||
	    relay_e2e_tag(e2e_key, RELAY_ACK, f->transfer, status, ack->count,
			  (const uint8_t (*)[RELAY_ID_LEN])f->ids, f->n,
			  ack->e2e_tag))
		return -1;
	return 0;
}

int relay_hop_pass(const char *self, const char *from, const uint8_t *in,
		   size_t inlen, struct relay_frame *f, uint8_t *out,
		   size_t cap, size_t *outlen, char *err, size_t errlen)
{
	int forward, len;
	unsigned int prev;

	*outlen = 0;
	if (relay_frame_decode(in, inlen, f, err, errlen))
		return -RELAY_E_PROTO;
	if (f->type == RELAY_KEYS) {
		fail(err, errlen, "a KEYS frame is not passed on unopened");
		return -RELAY_E_PROTO;
	}
	forward = f->type == RELAY_ABORT;
	prev = forward ? f->hop - 1u : f->hop + 1u;
	if (strcmp(f->path[f->hop], self) || strcmp(f->path[prev], from)) {
		fail(err, errlen, "transfer %llu: %s for %s from %s, not for %s from %s",
		     (unsigned long long)f->transfer, relay_type_name(f->type),
		     f->path[f->hop], f->path[prev], self, from);
		return -RELAY_E_PROTO;
	}
	if (forward ? f->hop == f->npath - 1 : f->hop == 0)
		return RELAY_DELIVER;
	f->hop = forward ? f->hop + 1 : f->hop - 1;
	len = relay_frame_encode(f, out, cap, err, errlen);
	f->hop = forward ? f->hop - 1 : f->hop + 1;
	if (len < 0)
		return -RELAY_E_PROTO;
	*outlen = (size_t)len;
	return RELAY_FORWARD;
}
