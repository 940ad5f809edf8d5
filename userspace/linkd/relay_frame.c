// SPDX-License-Identifier: GPL-2.0
/*
 * Encoding and strict decoding of relay frames (relay_frame.h).  The
 * decoder and the encoder apply the same checks (relay_frame_check), so
 * nothing is sent that the neighbour would refuse.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include "relay_frame.h"

/* It travels as one peer-protocol payload (at most 65532 - 4 bytes). */
_Static_assert(RELAY_FRAME_MAX <= 65528, "relay frame too large");

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

const char *relay_type_name(unsigned int type)
{
	static const char *const names[] = {
		[RELAY_KEYS] = "KEYS", [RELAY_ACK] = "ACK",
		[RELAY_ABORT] = "ABORT", [RELAY_ABORTED] = "ABORTED",
	};

	return type && type <= RELAY_TYPE_MAX ? names[type] : "unknown";
}

const char *relay_status_name(unsigned int status)
{
	static const char *const names[] = {
		[RELAY_OK] = "ok",
		[RELAY_E_TAG] = "bad tag on a hop",
		[RELAY_E_LINK_KEYS] = "link keys missing on a hop",
		[RELAY_E_LINK_DOWN] = "link down",
		[RELAY_E_BUDGET] = "relay share used up",
		[RELAY_E_POOL] = "far end's pool refused the keys",
		[RELAY_E_STALE] = "transfer at or below an aborted one",
		[RELAY_E_PROTO] = "malformed or unexpected frame",
	};

	return status <= RELAY_STATUS_MAX ? names[status] : "unknown";
}

unsigned int relay_link_keys_needed(unsigned int n, unsigned int key_len,
				    unsigned int link_len)
{
	if (!link_len)
		return 0;
	return (RELAY_MAC_KEY_LEN + n * key_len + RELAY_E2E_KEY_LEN +
		link_len - 1) / link_len;
}

size_t relay_pad_len(const struct relay_frame *f)
{
	return (size_t)f->m * f->link_len;
}

size_t relay_payload_len(const struct relay_frame *f)
{
	return (size_t)f->n * f->key_len + RELAY_E2E_KEY_LEN;
}

static int name_ok(const char *s)
{
	size_t n = strnlen(s, RELAY_NAME_MAX + 1);

	if (!n || n > RELAY_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

/* Index of the first repeated ID of @n at @ids, or -1. */
static int dup_id(const uint8_t (*ids)[RELAY_ID_LEN], unsigned int n)
{
	for (unsigned int i = 1; i < n; i++)
		for (unsigned int j = 0; j < i; j++)
			if (!memcmp(ids[i], ids[j], RELAY_ID_LEN))
				return (int)i;
	return -1;
}

int relay_frame_check(const struct relay_frame *f, char *err, size_t errlen)
{
	int forward = f->type == RELAY_KEYS || f->type == RELAY_ABORT;
	unsigned int need;

	if (!f->type || f->type > RELAY_TYPE_MAX)
		return fail(err, errlen, "unknown type %u", f->type);
	if (!f->transfer)
		return fail(err, errlen, "transfer 0");
	if (f->npath < 2 || f->npath > RELAY_MAX_PATH)
		return fail(err, errlen, "path of %u nodes (2 to %d)", f->npath,
			    RELAY_MAX_PATH);
	if (forward ? f->hop < 1 || f->hop > f->npath - 1 :
		      f->hop > f->npath - 2)
		return fail(err, errlen,
			    "hop %u out of range for a %s frame on a path of %u nodes",
			    f->hop, relay_type_name(f->type), f->npath);
	for (unsigned int i = 0; i < f->npath; i++) {
		if (!name_ok(f->path[i]))
			return fail(err, errlen,
				    "node %u of the path: not a name (1 to %d of A-Z a-z 0-9 . _ -)",
				    i, RELAY_NAME_MAX);
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(f->path[i], f->path[j]))
				return fail(err, errlen,
					    "node %s twice in the path (a loop)",
					    f->path[i]);
	}
	switch (f->type) {
	case RELAY_KEYS:
		if (f->key_len < RELAY_KEY_MIN || f->key_len > RELAY_KEY_MAX)
			return fail(err, errlen, "key length %u (%d to %d)",
				    f->key_len, RELAY_KEY_MIN, RELAY_KEY_MAX);
		if (f->link_len < RELAY_KEY_MIN || f->link_len > RELAY_KEY_MAX)
			return fail(err, errlen, "link key length %u (%d to %d)",
				    f->link_len, RELAY_KEY_MIN, RELAY_KEY_MAX);
		/* fall through */
	case RELAY_ABORT:
		if (f->n < 1 || f->n > RELAY_MAX_KEYS)
			return fail(err, errlen, "%u keys (1 to %d)", f->n,
				    RELAY_MAX_KEYS);
		if (dup_id(f->ids, f->n) >= 0)
			return fail(err, errlen, "key ID %d repeated",
				    dup_id(f->ids, f->n));
		if (f->type == RELAY_ABORT)
			break;
		need = relay_link_keys_needed(f->n, f->key_len, f->link_len);
		if (f->m != need)
			return fail(err, errlen,
				    "%u link keys for %u keys of %u bytes over link keys of %u bytes (needs %u)",
				    f->m, f->n, f->key_len, f->link_len, need);
		if (dup_id(f->link_ids, f->m) >= 0)
			return fail(err, errlen, "link key ID %d repeated",
				    dup_id(f->link_ids, f->m));
		break;
	default:	/* ACK, ABORTED */
		if (f->status > RELAY_STATUS_MAX)
			return fail(err, errlen, "unknown status %u", f->status);
		if (f->count > RELAY_MAX_KEYS)
			return fail(err, errlen, "count %u (at most %d)",
				    f->count, RELAY_MAX_KEYS);
		if (f->type == RELAY_ACK && f->status && f->count)
			return fail(err, errlen,
				    "an ACK with status %u added %u keys",
				    f->status, f->count);
		/* Only a node beyond the receiver answers. */
		if (f->at <= f->hop || f->at > f->npath - 1)
			return fail(err, errlen,
				    "%s from node %u received by node %u on a path of %u nodes",
				    relay_type_name(f->type), f->at, f->hop,
				    f->npath);
		/* Only the far end adds keys. */
		if (f->type == RELAY_ACK && !f->status && f->at != f->npath - 1)
			return fail(err, errlen,
				    "an ACK with status 0 from node %u, not the far end",
				    f->at);
		break;
	}
	return 0;
}

/* ---- decoding ---------------------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t left;
	int bad;
};

static uint64_t rd_n(struct rd *r, size_t n)
{
	uint64_t v = 0;

	if (r->bad || r->left < n) {
		r->bad = 1;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v = v << 8 | r->p[i];
	r->p += n;
	r->left -= n;
	return v;
}

static const uint8_t *rd_skip(struct rd *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->bad || r->left < n) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

static void rd_ids(struct rd *r, uint8_t (*ids)[RELAY_ID_LEN], unsigned int n)
{
	const uint8_t *p = rd_skip(r, (size_t)n * RELAY_ID_LEN);

	if (p)
		memcpy(ids, p, (size_t)n * RELAY_ID_LEN);
}

int relay_frame_decode(const uint8_t *buf, size_t len, struct relay_frame *f,
		       char *err, size_t errlen)
{
	struct rd r = { .p = buf, .left = len };
	unsigned int version, flags;
	const uint8_t *p;

	memset(f, 0, offsetof(struct relay_frame, path));
	f->n = f->m = f->key_len = f->link_len = f->status = f->count = 0;
	f->at = 0;
	memset(f->e2e_tag, 0, sizeof(f->e2e_tag));
	f->raw = buf;
	f->ct = f->tag = NULL;
	f->mac_len = 0;
	if (len > RELAY_FRAME_MAX)
		return fail(err, errlen, "%zu bytes (at most %d)", len,
			    RELAY_FRAME_MAX);
	version = rd_n(&r, 1);
	if (r.bad)
		return fail(err, errlen, "empty");
	if (version != RELAY_FRAME_VERSION)
		return fail(err, errlen,
			    "version %u (this qkd-linkd speaks %d)", version,
			    RELAY_FRAME_VERSION);
	f->type = rd_n(&r, 1);
	flags = rd_n(&r, 2);
	f->transfer = rd_n(&r, 8);
	f->hop = rd_n(&r, 1);
	f->npath = rd_n(&r, 1);
	if (r.bad)
		return fail(err, errlen, "truncated header");
	if (flags)
		return fail(err, errlen, "flags 0x%04x (must be 0)", flags);
	if (!f->type || f->type > RELAY_TYPE_MAX)
		return fail(err, errlen, "unknown type %u", f->type);
	if (f->npath < 2 || f->npath > RELAY_MAX_PATH)
		return fail(err, errlen, "path of %u nodes (2 to %d)", f->npath,
			    RELAY_MAX_PATH);
	for (unsigned int i = 0; i < f->npath; i++) {
		size_t n = rd_n(&r, 1);

		if (!r.bad && (!n || n > RELAY_NAME_MAX))
			return fail(err, errlen,
				    "node %u of the path: name of %zu bytes (1 to %d)",
				    i, n, RELAY_NAME_MAX);
		p = rd_skip(&r, n);
		if (!p)
			return fail(err, errlen, "truncated path");
		/* A NUL inside fails name_ok() below: strnlen stops there. */
		memcpy(f->path[i], p, n);
		f->path[i][n] = '\0';
		if (strlen(f->path[i]) != n)
			return fail(err, errlen, "node %u of the path: NUL in name", i);
	}
	switch (f->type) {
	case RELAY_KEYS:
		f->key_len = rd_n(&r, 2);
		f->n = rd_n(&r, 2);
		if (r.bad)
			return fail(err, errlen, "truncated KEYS");
		if (f->n < 1 || f->n > RELAY_MAX_KEYS)
			return fail(err, errlen, "%u keys (1 to %d)", f->n,
				    RELAY_MAX_KEYS);
		rd_ids(&r, f->ids, f->n);
		f->link_len = rd_n(&r, 2);
		f->m = rd_n(&r, 2);
		if (r.bad)
			return fail(err, errlen, "truncated KEYS");
		if (f->m > RELAY_MAX_LINK_KEYS)
			return fail(err, errlen, "%u link keys (at most %d)",
				    f->m, RELAY_MAX_LINK_KEYS);
		rd_ids(&r, f->link_ids, f->m);
		/* Checked before the lengths below depend on them. */
		if (!r.bad && relay_frame_check(f, err, errlen))
			return -1;
		if (f->hop > 1)
			f->ct = rd_skip(&r, relay_payload_len(f));
		f->mac_len = (size_t)(r.p - buf);
		f->tag = rd_skip(&r, RELAY_TAG_LEN);
		if (r.bad)
			return fail(err, errlen, "truncated KEYS");
		break;
	case RELAY_ABORT:
		f->n = rd_n(&r, 2);
		if (r.bad)
			return fail(err, errlen, "truncated ABORT");
		if (f->n < 1 || f->n > RELAY_MAX_KEYS)
			return fail(err, errlen, "%u keys (1 to %d)", f->n,
				    RELAY_MAX_KEYS);
		rd_ids(&r, f->ids, f->n);
		p = rd_skip(&r, RELAY_TAG_LEN);
		if (p)
			memcpy(f->e2e_tag, p, RELAY_TAG_LEN);
		break;
	default:
		f->status = rd_n(&r, 2);
		f->count = rd_n(&r, 2);
		f->at = rd_n(&r, 1);
		if (f->type == RELAY_ABORTED)
			break;
		p = rd_skip(&r, RELAY_TAG_LEN);
		if (p)
			memcpy(f->e2e_tag, p, RELAY_TAG_LEN);
		break;
	}
	if (r.bad)
		return fail(err, errlen, "truncated %s", relay_type_name(f->type));
	if (r.left)
		return fail(err, errlen, "%zu bytes after the %s frame", r.left,
			    relay_type_name(f->type));
	return relay_frame_check(f, err, errlen);
}

/* ---- encoding ---------------------------------------------------------- */

struct wr {
	uint8_t *p;
	size_t left;
	int bad;
};

static uint8_t *wr_skip(struct wr *w, size_t n)
{
	uint8_t *p = w->p;

	if (w->bad || w->left < n) {
		w->bad = 1;
		return NULL;
	}
	w->p += n;
	w->left -= n;
	return p;
}

static void wr_n(struct wr *w, uint64_t v, size_t n)
{
	uint8_t *p = wr_skip(w, n);

	for (size_t i = 0; p && i < n; i++)
		p[i] = (uint8_t)(v >> 8 * (n - 1 - i));
}

static void wr_bytes(struct wr *w, const void *src, size_t n)
{
	uint8_t *p = wr_skip(w, n);

	if (p)
		memcpy(p, src, n);
}

/*
 * Everything of @f; for KEYS, @ct_off and @tag_off receive where the
 * ciphertext and the tag go (written from f->ct and f->tag unless
 * @sealing: then they are zeroed, f->ct and f->tag not read).  Returns
 * the length or -1.
 */
static int encode(const struct relay_frame *f, uint8_t *buf, size_t cap,
		  int sealing, size_t *ct_off, size_t *tag_off, char *err,
		  size_t errlen)
{
	struct wr w = { .p = buf, .left = cap };
	uint8_t *p;

	if (relay_frame_check(f, err, errlen))
		return -1;
	wr_n(&w, RELAY_FRAME_VERSION, 1);
	wr_n(&w, f->type, 1);
	wr_n(&w, 0, 2);
	wr_n(&w, f->transfer, 8);
	wr_n(&w, f->hop, 1);
	wr_n(&w, f->npath, 1);
	for (unsigned int i = 0; i < f->npath; i++) {
		size_t n = strlen(f->path[i]);

		wr_n(&w, n, 1);
		wr_bytes(&w, f->path[i], n);
	}
	switch (f->type) {
	case RELAY_KEYS:
		wr_n(&w, f->key_len, 2);
		wr_n(&w, f->n, 2);
		wr_bytes(&w, f->ids, (size_t)f->n * RELAY_ID_LEN);
		wr_n(&w, f->link_len, 2);
		wr_n(&w, f->m, 2);
		wr_bytes(&w, f->link_ids, (size_t)f->m * RELAY_ID_LEN);
		*ct_off = (size_t)(w.p - buf);
		if (f->hop > 1) {
			p = wr_skip(&w, relay_payload_len(f));
			if (p && !sealing)
				memcpy(p, f->ct, relay_payload_len(f));
			else if (p)
				memset(p, 0, relay_payload_len(f));
		}
		*tag_off = (size_t)(w.p - buf);
		p = wr_skip(&w, RELAY_TAG_LEN);
		if (p && !sealing)
			memcpy(p, f->tag, RELAY_TAG_LEN);
		else if (p)
			memset(p, 0, RELAY_TAG_LEN);
		break;
	case RELAY_ABORT:
		wr_n(&w, f->n, 2);
		wr_bytes(&w, f->ids, (size_t)f->n * RELAY_ID_LEN);
		wr_bytes(&w, f->e2e_tag, RELAY_TAG_LEN);
		break;
	default:
		wr_n(&w, f->status, 2);
		wr_n(&w, f->count, 2);
		wr_n(&w, f->at, 1);
		if (f->type == RELAY_ACK)
			wr_bytes(&w, f->e2e_tag, RELAY_TAG_LEN);
		break;
	}
	if (w.bad)
		return fail(err, errlen, "no room for the %s frame in %zu bytes",
			    relay_type_name(f->type), cap);
	return (int)(w.p - buf);
}

int relay_frame_encode(const struct relay_frame *f, uint8_t *buf, size_t cap,
		       char *err, size_t errlen)
{
	size_t ct_off, tag_off;

	if (f->type == RELAY_KEYS && (!f->tag || (f->hop > 1 && !f->ct)))
		return fail(err, errlen,
			    "a KEYS frame without ciphertext or tag: seal it");
	return encode(f, buf, cap, 0, &ct_off, &tag_off, err, errlen);
}

int relay_frame_len(const struct relay_frame *f, char *err, size_t errlen)
{
	size_t len = 14;

	if (relay_frame_check(f, err, errlen))
		return -1;
	for (unsigned int i = 0; i < f->npath; i++)
		len += 1 + strlen(f->path[i]);
	switch (f->type) {
	case RELAY_KEYS:
		len += 4 + (size_t)f->n * RELAY_ID_LEN + 4 +
		       (size_t)f->m * RELAY_ID_LEN + RELAY_TAG_LEN;
		if (f->hop > 1)
			len += relay_payload_len(f);
		break;
	case RELAY_ABORT:
		len += 2 + (size_t)f->n * RELAY_ID_LEN + RELAY_TAG_LEN;
		break;
	case RELAY_ACK:
		len += 5 + RELAY_TAG_LEN;
		break;
	default:
		len += 5;
		break;
	}
	return (int)len;
}

int relay_frame_seal(const struct relay_frame *f, const uint8_t *keys,
		     const uint8_t *pad, size_t padlen, uint8_t *buf,
		     size_t cap, char *err, size_t errlen)
{
	size_t ct_off = 0, tag_off = 0;
	int len;

	if (f->type != RELAY_KEYS)
		return fail(err, errlen, "only KEYS frames are sealed");
	if (relay_frame_check(f, err, errlen))
		return -1;
	if (padlen != relay_pad_len(f))
		return fail(err, errlen, "pad of %zu bytes for %u link keys of %u bytes",
			    padlen, f->m, f->link_len);
	if (f->hop > 1 && !keys)
		return fail(err, errlen, "no keys to seal");
	len = encode(f, buf, cap, 1, &ct_off, &tag_off, err, errlen);
	if (len < 0)
		return -1;
	if (f->hop > 1)
		relay_xor(buf + ct_off, keys, pad + RELAY_MAC_KEY_LEN,
			  relay_payload_len(f));
	if (relay_mac(pad, buf, tag_off, buf + tag_off)) {
		OPENSSL_cleanse(buf, (size_t)len);
		return fail(err, errlen, "Poly1305 failed (OpenSSL)");
	}
	return len;
}

int relay_frame_open(const struct relay_frame *f, const uint8_t *pad,
		     size_t padlen, uint8_t *keys, char *err, size_t errlen)
{
	size_t klen = relay_payload_len(f);

	if (f->type != RELAY_KEYS || !f->raw || !f->tag ||
	    (f->hop > 1 && !f->ct))
		return fail(err, errlen, "not a decoded KEYS frame");
	if (padlen != relay_pad_len(f))
		return fail(err, errlen, "pad of %zu bytes for %u link keys of %u bytes",
			    padlen, f->m, f->link_len);
	if (relay_mac_verify(pad, f->raw, f->mac_len, f->tag))
		return fail(err, errlen, "bad tag");
	if (f->hop > 1)
		relay_xor(keys, f->ct, pad + RELAY_MAC_KEY_LEN, klen);
	else
		memcpy(keys, pad + RELAY_MAC_KEY_LEN, klen);
	return 0;
}

/* ---- end-to-end tags ---------------------------------------------------- */

/* The message an end-to-end tag covers; returns its length. */
static size_t e2e_msg(uint8_t *m, unsigned int type, uint64_t transfer,
		      uint16_t status, uint16_t count,
		      const uint8_t (*ids)[RELAY_ID_LEN], unsigned int n)
{
	/* Distinct labels: the ACK's and the ABORT's tags share one key. */
	const char *label = type == RELAY_ACK ? "qkd-linkd relay ACK" :
						"qkd-linkd relay ABORT";
	size_t len = strlen(label) + 1;

	memcpy(m, label, len);
	for (int i = 7; i >= 0; i--)
		m[len++] = (uint8_t)(transfer >> 8 * i);
	m[len++] = (uint8_t)(status >> 8);
	m[len++] = (uint8_t)status;
	m[len++] = (uint8_t)(count >> 8);
	m[len++] = (uint8_t)count;
	m[len++] = (uint8_t)(n >> 8);
	m[len++] = (uint8_t)n;
	memcpy(m + len, ids, (size_t)n * RELAY_ID_LEN);
	return len + (size_t)n * RELAY_ID_LEN;
}

#define E2E_MSG_MAX	(32 + 14 + RELAY_MAX_KEYS * RELAY_ID_LEN)

int relay_e2e_tag(const uint8_t key[RELAY_E2E_KEY_LEN], unsigned int type,
		  uint64_t transfer, uint16_t status, uint16_t count,
		  const uint8_t (*ids)[RELAY_ID_LEN], unsigned int n,
		  uint8_t tag[RELAY_TAG_LEN])
{
	uint8_t m[E2E_MSG_MAX];

	if (n > RELAY_MAX_KEYS) {
		memset(tag, 0, RELAY_TAG_LEN);
		return -1;
	}
	return relay_mac(key, m, e2e_msg(m, type, transfer, status, count, ids,
					 n), tag);
}

int relay_e2e_verify(const uint8_t key[RELAY_E2E_KEY_LEN], unsigned int type,
		     uint64_t transfer, uint16_t status, uint16_t count,
		     const uint8_t (*ids)[RELAY_ID_LEN], unsigned int n,
		     const uint8_t tag[RELAY_TAG_LEN])
{
	uint8_t m[E2E_MSG_MAX];

	if (n > RELAY_MAX_KEYS)
		return -1;
	return relay_mac_verify(key, m, e2e_msg(m, type, transfer, status,
						count, ids, n), tag);
}
