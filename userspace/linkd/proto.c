// SPDX-License-Identifier: GPL-2.0
/*
 * Encoding and strict decoding of the peer protocol's frames (proto.h).
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

static void rd_ids(struct rd *r, struct proto_msg *m, unsigned int min)
{
	m->n = rd_n(r, 2);
	if (m->n < min || m->n > PROTO_MAX_IDS) {
		r->bad = 1;
		return;
	}
	for (unsigned int i = 0; i < m->n && !r->bad; i++) {
		size_t len = rd_n(r, 1);

		if (r->bad || r->left < len ||
		    keyid_set(&m->ids[i], (const char *)r->p, len)) {
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

int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *m)
{
	struct rd r;
	uint32_t flen;
	unsigned int version;

	if (len < 4)
		return 0;
	flen = (uint32_t)buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3];
	if (flen < PROTO_HDR_LEN - 4 || flen > PROTO_MAX_FRAME - 4)
		return -1;
	if (len < 4 + (size_t)flen)
		return 0;
	r.p = buf + 4;
	r.left = flen;
	r.bad = 0;
	version = rd_n(&r, 1);
	if (version != PROTO_VERSION)
		return version ? PROTO_OTHER_VERSION : -1;
	memset(m, 0, offsetof(struct proto_msg, ids));
	m->type = rd_n(&r, 1);
	if (rd_n(&r, 2) != 0)
		return -1;
	switch (m->type) {
	case PROTO_HELLO:
		rd_str(&r, m->master, PROTO_SAE_MAX, 1);
		rd_str(&r, m->slave, PROTO_SAE_MAX, 1);
		m->key_bits = rd_n(&r, 2);
		rd_epoch(&r, &m->epoch);
		break;
	case PROTO_HELLO_OK:
		rd_epoch(&r, &m->epoch);
		m->reset = rd_n(&r, 1);
		if (m->reset > 1)
			return -1;
		break;
	case PROTO_OFFER:
		m->seq = rd_n(&r, 8);
		rd_ids(&r, m, 1);
		break;
	case PROTO_ACK:
		m->seq = rd_n(&r, 8);
		m->status = rd_n(&r, 2);
		rd_str(&r, m->text, PROTO_TEXT_MAX, 0);
		break;
	case PROTO_ABORT:
		m->seq = rd_n(&r, 8);
		rd_ids(&r, m, 0);
		break;
	case PROTO_ABORTED:
		m->seq = rd_n(&r, 8);
		m->n = rd_n(&r, 2);
		break;
	case PROTO_ERROR:
		m->status = rd_n(&r, 2);
		rd_str(&r, m->text, PROTO_TEXT_MAX, 0);
		break;
	case PROTO_RESET:
	case PROTO_RESET_OK:
		m->count = rd_n(&r, 4);
		break;
	default:
		return -1;
	}
	if (r.bad || r.left)
		return -1;
	return (int)(4 + flen);
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

static int encode(unsigned int version, const struct proto_msg *m,
		  uint8_t *buf, size_t cap)
{
	struct wr w = { .p = buf, .left = cap };
	size_t len;

	if (cap > PROTO_MAX_FRAME)
		w.left = PROTO_MAX_FRAME;
	wr_n(&w, 0, 4);			/* length, filled in below */
	wr_n(&w, version, 1);
	wr_n(&w, m->type, 1);
	wr_n(&w, 0, 2);
	switch (m->type) {
	case PROTO_HELLO:
		wr_str(&w, m->master, PROTO_SAE_MAX);
		wr_str(&w, m->slave, PROTO_SAE_MAX);
		wr_n(&w, m->key_bits, 2);
		wr_epoch(&w, &m->epoch);
		break;
	case PROTO_HELLO_OK:
		if (m->reset > 1)
			return -1;
		wr_epoch(&w, &m->epoch);
		wr_n(&w, m->reset, 1);
		break;
	case PROTO_OFFER:
	case PROTO_ABORT:
		if (m->n > PROTO_MAX_IDS || (m->type == PROTO_OFFER && !m->n))
			return -1;
		wr_n(&w, m->seq, 8);
		wr_n(&w, m->n, 2);
		for (unsigned int i = 0; i < m->n; i++) {
			if (!m->ids[i].len || m->ids[i].len > KEYID_MAX)
				return -1;
			wr_n(&w, m->ids[i].len, 1);
			wr_bytes(&w, m->ids[i].s, m->ids[i].len);
		}
		break;
	case PROTO_ACK:
		wr_n(&w, m->seq, 8);
		wr_n(&w, m->status, 2);
		wr_str(&w, m->text, PROTO_TEXT_MAX);
		break;
	case PROTO_ABORTED:
		wr_n(&w, m->seq, 8);
		wr_n(&w, m->n, 2);
		break;
	case PROTO_ERROR:
		wr_n(&w, m->status, 2);
		wr_str(&w, m->text, PROTO_TEXT_MAX);
		break;
	case PROTO_RESET:
	case PROTO_RESET_OK:
		wr_n(&w, m->count, 4);
		break;
	default:
		return -1;
	}
	if (w.bad)
		return -1;
	len = w.p - buf;
	buf[0] = (len - 4) >> 24;
	buf[1] = (len - 4) >> 16;
	buf[2] = (len - 4) >> 8;
	buf[3] = len - 4;
	return (int)len;
}

int proto_encode(const struct proto_msg *m, uint8_t *buf, size_t cap)
{
	return encode(PROTO_VERSION, m, buf, cap);
}

int proto_encode_error(unsigned int version, uint16_t code, const char *text,
		       uint8_t *buf, size_t cap)
{
	struct proto_msg m = { .type = PROTO_ERROR, .status = code };

	if (!version || version > 255)
		return -1;
	snprintf(m.text, sizeof(m.text), "%s", text);
	return encode(version, &m, buf, cap);
}

const char *proto_type_name(unsigned int type)
{
	static const char *const names[] = {
		[PROTO_HELLO] = "HELLO", [PROTO_HELLO_OK] = "HELLO_OK",
		[PROTO_OFFER] = "OFFER", [PROTO_ACK] = "ACK",
		[PROTO_ABORT] = "ABORT", [PROTO_ABORTED] = "ABORTED",
		[PROTO_ERROR] = "ERROR", [PROTO_RESET] = "RESET",
		[PROTO_RESET_OK] = "RESET_OK",
	};

	return type && type <= PROTO_TYPE_MAX ? names[type] : "?";
}
