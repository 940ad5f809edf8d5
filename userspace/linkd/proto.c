// SPDX-License-Identifier: GPL-2.0
/*
 * Encoding and strict decoding of the peer protocol's frames (proto.h):
 * the frame header once (proto_frame_split(), wr_start()), then one
 * encoder and one decoder per message type over small readers and
 * writers of big-endian integers, strings and key IDs.
 */
#include <stdio.h>
#include <string.h>
#include "proto.h"

struct rd {
	const uint8_t *p;
	size_t left;
	int bad;
};

static uint64_t rd_n(struct rd *r, size_t n)
{
	uint64_t v = 0;

	if (r->left < n) {
		r->bad = 1;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v = v << 8 | r->p[i];
	r->p += n;
	r->left -= n;
	return v;
}

/* A u8-length-prefixed printable string. */
static void rd_str(struct rd *r, char *dst, size_t max, int sae)
{
	size_t n = rd_n(r, 1);

	if (r->bad || n > max || r->left < n || (sae && !n)) {
		r->bad = 1;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char c = r->p[i];

		if (c < 0x20 || c > 0x7e) {
			r->bad = 1;
			return;
		}
		if (sae && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '.' || c == '_' ||
			     c == '-')) {
			r->bad = 1;
			return;
		}
	}
	memcpy(dst, r->p, n);
	dst[n] = '\0';
	r->p += n;
	r->left -= n;
}

static void rd_ids(struct rd *r, struct proto_ids *m, unsigned int min,
		   struct keyid *ids)
{
	m->n = rd_n(r, 2);
	if (m->n < min || m->n > PROTO_MAX_IDS) {
		r->bad = 1;
		return;
	}
	for (unsigned int i = 0; i < m->n && !r->bad; i++) {
		size_t len = rd_n(r, 1);

		if (r->bad || r->left < len ||
		    keyid_set(&ids[i], (const char *)r->p, len)) {
			r->bad = 1;
			return;
		}
		r->p += len;
		r->left -= len;
	}
}

static void rd_bytes(struct rd *r, void *dst, size_t n)
{
	if (r->left < n) {
		r->bad = 1;
		return;
	}
	memcpy(dst, r->p, n);
	r->p += n;
	r->left -= n;
}

static void rd_epoch(struct rd *r, struct pool_epoch *e)
{
	rd_bytes(r, e->boot, EPOCH_BOOT_LEN);
	e->netns = rd_n(r, 8);
	e->family = rd_n(r, 2);
	e->pool = rd_n(r, 4);
}

int proto_frame_split(const uint8_t *buf, size_t len, struct proto_frame *f)
{
	uint32_t flen;
	unsigned int version;

	if (len < 4)
		return 0;
	flen = (uint32_t)buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3];
	if (flen < PROTO_HDR_LEN - 4 || flen > PROTO_MAX_FRAME - 4)
		return -1;
	if (len < 4 + (size_t)flen)
		return 0;
	version = buf[4];
	if (version != PROTO_VERSION)
		return version ? PROTO_OTHER_VERSION : -1;
	if (buf[6] || buf[7])		/* flags */
		return -1;
	if (!buf[5] || buf[5] > PROTO_TYPE_MAX)
		return -1;
	f->type = buf[5];
	f->payload = buf + PROTO_HDR_LEN;
	f->len = flen - (PROTO_HDR_LEN - 4);
	return (int)(4 + flen);
}

/* A reader over @f's payload, if it is of @type. */
static int rd_start(struct rd *r, const struct proto_frame *f, uint8_t type)
{
	r->p = f->payload;
	r->left = f->len;
	r->bad = f->type != type;
	return r->bad ? -1 : 0;
}

/* The payload was read exactly, to its end. */
static int rd_done(const struct rd *r)
{
	return r->bad || r->left ? -1 : 0;
}

int proto_decode_hello(const struct proto_frame *f, struct proto_hello *m)
{
	struct rd r;

	memset(m, 0, sizeof(*m));
	if (rd_start(&r, f, PROTO_HELLO))
		return -1;
	rd_str(&r, m->master, PROTO_SAE_MAX, 1);
	rd_str(&r, m->slave, PROTO_SAE_MAX, 1);
	m->key_bits = rd_n(&r, 2);
	rd_epoch(&r, &m->epoch);
	/* Written only when not 0: one encoding per HELLO. */
	if (!r.bad && r.left == 1 && !(m->caps = rd_n(&r, 1)))
		return -1;
	return rd_done(&r);
}

int proto_decode_hello_ok(const struct proto_frame *f,
			  struct proto_hello_ok *m)
{
	struct rd r;

	memset(m, 0, sizeof(*m));
	if (rd_start(&r, f, PROTO_HELLO_OK))
		return -1;
	rd_epoch(&r, &m->epoch);
	m->reset = rd_n(&r, 1);
	if (m->reset > 1)
		return -1;
	/* Written only when not 0: one encoding per HELLO. */
	if (!r.bad && r.left == 1 && !(m->caps = rd_n(&r, 1)))
		return -1;
	return rd_done(&r);
}

static int decode_ids(const struct proto_frame *f, uint8_t type,
		      unsigned int min, struct proto_ids *m,
		      struct keyid *ids)
{
	struct rd r;

	m->seq = 0;
	m->n = 0;
	m->ids = ids;
	if (rd_start(&r, f, type))
		return -1;
	m->seq = rd_n(&r, 8);
	rd_ids(&r, m, min, ids);
	return rd_done(&r);
}

int proto_decode_offer(const struct proto_frame *f, struct proto_ids *m,
		       struct keyid ids[PROTO_MAX_IDS])
{
	return decode_ids(f, PROTO_OFFER, 1, m, ids);
}

int proto_decode_abort(const struct proto_frame *f, struct proto_ids *m,
		       struct keyid ids[PROTO_MAX_IDS])
{
	return decode_ids(f, PROTO_ABORT, 0, m, ids);
}

int proto_decode_ack(const struct proto_frame *f, struct proto_ack *m)
{
	struct rd r;

	memset(m, 0, sizeof(*m));
	if (rd_start(&r, f, PROTO_ACK))
		return -1;
	m->seq = rd_n(&r, 8);
	m->status = rd_n(&r, 2);
	rd_str(&r, m->text, PROTO_TEXT_MAX, 0);
	return rd_done(&r);
}

int proto_decode_aborted(const struct proto_frame *f,
			 struct proto_aborted *m)
{
	struct rd r;

	memset(m, 0, sizeof(*m));
	if (rd_start(&r, f, PROTO_ABORTED))
		return -1;
	m->seq = rd_n(&r, 8);
	m->removed = rd_n(&r, 2);
	return rd_done(&r);
}

int proto_decode_error(const struct proto_frame *f, struct proto_error *m)
{
	struct rd r;

	memset(m, 0, sizeof(*m));
	if (rd_start(&r, f, PROTO_ERROR))
		return -1;
	m->code = rd_n(&r, 2);
	rd_str(&r, m->text, PROTO_TEXT_MAX, 0);
	return rd_done(&r);
}

static int decode_count(const struct proto_frame *f, uint8_t type,
			struct proto_reset *m)
{
	struct rd r;

	m->count = 0;
	if (rd_start(&r, f, type))
		return -1;
	m->count = rd_n(&r, 4);
	return rd_done(&r);
}

int proto_decode_reset(const struct proto_frame *f, struct proto_reset *m)
{
	return decode_count(f, PROTO_RESET, m);
}

int proto_decode_reset_ok(const struct proto_frame *f,
			  struct proto_reset *m)
{
	return decode_count(f, PROTO_RESET_OK, m);
}

int proto_decode_relay(const struct proto_frame *f, struct proto_relay *m)
{
	m->frame = NULL;
	m->len = 0;
	if (f->type != PROTO_RELAY || !f->len)
		return -1;
	m->frame = f->payload;
	m->len = f->len;
	return 0;
}

struct wr {
	uint8_t *p;
	size_t left;
	int bad;
};

static void wr_n(struct wr *w, uint64_t v, size_t n)
{
	if (w->left < n) {
		w->bad = 1;
		return;
	}
	for (size_t i = 0; i < n; i++)
		w->p[i] = v >> (8 * (n - 1 - i));
	w->p += n;
	w->left -= n;
}

static void wr_bytes(struct wr *w, const void *src, size_t n)
{
	if (w->left < n) {
		w->bad = 1;
		return;
	}
	memcpy(w->p, src, n);
	w->p += n;
	w->left -= n;
}

static void wr_str(struct wr *w, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max) {
		w->bad = 1;
		return;
	}
	wr_n(w, n, 1);
	wr_bytes(w, s, n);
}

static void wr_epoch(struct wr *w, const struct pool_epoch *e)
{
	wr_bytes(w, e->boot, EPOCH_BOOT_LEN);
	wr_n(w, e->netns, 8);
	wr_n(w, e->family, 2);
	wr_n(w, e->pool, 4);
}

/* The header of a frame of @type in @version; the length comes last. */
static void wr_start(struct wr *w, uint8_t *buf, size_t cap,
		     unsigned int version, uint8_t type)
{
	w->p = buf;
	w->left = cap > PROTO_MAX_FRAME ? PROTO_MAX_FRAME : cap;
	w->bad = 0;
	wr_n(w, 0, 4);			/* length, filled in by wr_done() */
	wr_n(w, version, 1);
	wr_n(w, type, 1);
	wr_n(w, 0, 2);			/* flags */
}

static int wr_done(struct wr *w, uint8_t *buf)
{
	size_t len;

	if (w->bad)
		return -1;
	len = w->p - buf;
	buf[0] = (len - 4) >> 24;
	buf[1] = (len - 4) >> 16;
	buf[2] = (len - 4) >> 8;
	buf[3] = len - 4;
	return (int)len;
}

int proto_encode_hello(const struct proto_hello *m, uint8_t *buf,
		       size_t cap)
{
	struct wr w;

	wr_start(&w, buf, cap, PROTO_VERSION, PROTO_HELLO);
	wr_str(&w, m->master, PROTO_SAE_MAX);
	wr_str(&w, m->slave, PROTO_SAE_MAX);
	wr_n(&w, m->key_bits, 2);
	wr_epoch(&w, &m->epoch);
	if (m->caps)		/* else exactly the HELLO of every v3 peer */
		wr_n(&w, m->caps, 1);
	return wr_done(&w, buf);
}

int proto_encode_hello_ok(const struct proto_hello_ok *m, uint8_t *buf,
			  size_t cap)
{
	struct wr w;

	if (m->reset > 1)
		return -1;
	wr_start(&w, buf, cap, PROTO_VERSION, PROTO_HELLO_OK);
	wr_epoch(&w, &m->epoch);
	wr_n(&w, m->reset, 1);
	if (m->caps)
		wr_n(&w, m->caps, 1);
	return wr_done(&w, buf);
}

static int encode_ids(const struct proto_ids *m, uint8_t type,
		      unsigned int min, uint8_t *buf, size_t cap)
{
	struct wr w;

	if (m->n < min || m->n > PROTO_MAX_IDS)
		return -1;
	wr_start(&w, buf, cap, PROTO_VERSION, type);
	wr_n(&w, m->seq, 8);
	wr_n(&w, m->n, 2);
	for (unsigned int i = 0; i < m->n; i++) {
		if (!m->ids[i].len || m->ids[i].len > KEYID_MAX)
			return -1;
		wr_n(&w, m->ids[i].len, 1);
		wr_bytes(&w, m->ids[i].s, m->ids[i].len);
	}
	return wr_done(&w, buf);
}

int proto_encode_offer(const struct proto_ids *m, uint8_t *buf, size_t cap)
{
	return encode_ids(m, PROTO_OFFER, 1, buf, cap);
}

int proto_encode_abort(const struct proto_ids *m, uint8_t *buf, size_t cap)
{
	return encode_ids(m, PROTO_ABORT, 0, buf, cap);
}

int proto_encode_ack(const struct proto_ack *m, uint8_t *buf, size_t cap)
{
	struct wr w;

	wr_start(&w, buf, cap, PROTO_VERSION, PROTO_ACK);
	wr_n(&w, m->seq, 8);
	wr_n(&w, m->status, 2);
	wr_str(&w, m->text, PROTO_TEXT_MAX);
	return wr_done(&w, buf);
}

int proto_encode_aborted(const struct proto_aborted *m, uint8_t *buf,
			 size_t cap)
{
	struct wr w;

	wr_start(&w, buf, cap, PROTO_VERSION, PROTO_ABORTED);
	wr_n(&w, m->seq, 8);
	wr_n(&w, m->removed, 2);
	return wr_done(&w, buf);
}

static int encode_count(const struct proto_reset *m, uint8_t type,
			uint8_t *buf, size_t cap)
{
	struct wr w;

	wr_start(&w, buf, cap, PROTO_VERSION, type);
	wr_n(&w, m->count, 4);
	return wr_done(&w, buf);
}

int proto_encode_reset(const struct proto_reset *m, uint8_t *buf,
		       size_t cap)
{
	return encode_count(m, PROTO_RESET, buf, cap);
}

int proto_encode_reset_ok(const struct proto_reset *m, uint8_t *buf,
			  size_t cap)
{
	return encode_count(m, PROTO_RESET_OK, buf, cap);
}

int proto_encode_relay(const struct proto_relay *m, uint8_t *buf,
		       size_t cap)
{
	struct wr w;

	if (!m->len)
		return -1;
	wr_start(&w, buf, cap, PROTO_VERSION, PROTO_RELAY);
	wr_bytes(&w, m->frame, m->len);
	return wr_done(&w, buf);
}

int proto_encode_error(unsigned int version, uint16_t code, const char *text,
		       uint8_t *buf, size_t cap)
{
	struct wr w;

	if (!version || version > 255)
		return -1;
	wr_start(&w, buf, cap, version, PROTO_ERROR);
	wr_n(&w, code, 2);
	/* Cut to what the frame carries, as before. */
	wr_n(&w, strnlen(text, PROTO_TEXT_MAX), 1);
	wr_bytes(&w, text, strnlen(text, PROTO_TEXT_MAX));
	return wr_done(&w, buf);
}

const char *proto_type_name(unsigned int type)
{
	static const char *const names[] = {
		[PROTO_HELLO] = "HELLO", [PROTO_HELLO_OK] = "HELLO_OK",
		[PROTO_OFFER] = "OFFER", [PROTO_ACK] = "ACK",
		[PROTO_ABORT] = "ABORT", [PROTO_ABORTED] = "ABORTED",
		[PROTO_ERROR] = "ERROR", [PROTO_RESET] = "RESET",
		[PROTO_RESET_OK] = "RESET_OK", [PROTO_RELAY] = "RELAY",
	};

	return type && type <= PROTO_TYPE_MAX ? names[type] : "?";
}
