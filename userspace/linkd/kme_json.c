// SPDX-License-Identifier: GPL-2.0
/*
 * Strict handling of ETSI GS QKD 014 JSON with json-c.  A KME answer is
 * accepted only if it is exactly what was asked for: the right number of
 * keys, each of the right size, with acceptable, distinct key IDs
 * (keyid.h; for dec_keys, exactly the IDs requested).  A status answer is
 * read leniently: see struct kme_status.  Anything else is
 * rejected as a whole, so that a bad answer never reaches a pool.
 */
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>
#include <json-c/printbuf.h>
#include "kme_json.h"

#define JSON_DEPTH	16

static int fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int kme_uuid_parse(const char *s, size_t len, uint8_t id[QKD_KEY_ID_LEN])
{
	size_t o = 0;

	if (len != KME_UUID_LEN)
		return -1;
	for (size_t i = 0; i < len; ) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			i++;
			continue;
		}
		hi = hexval(s[i]);
		lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0 || i + 1 == 8 || i + 1 == 13 ||
		    i + 1 == 18 || i + 1 == 23)
			return -1;
		id[o++] = hi << 4 | lo;
		i += 2;
	}
	return o == QKD_KEY_ID_LEN ? 0 : -1;
}

void kme_uuid_format(const uint8_t id[QKD_KEY_ID_LEN],
		     char out[KME_UUID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < QKD_KEY_ID_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[id[i] >> 4];
		out[o++] = hex[id[i] & 15];
	}
	out[o] = '\0';
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int kme_base64_decode(const char *s, size_t len, uint8_t *out, size_t max)
{
	size_t o = 0;

	if (len % 4)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;
		uint32_t w;

		for (int j = 0; j < 4; j++) {
			if (s[i + j] == '=' && i + 4 == len && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad)
				return -1;	/* data after '=' */
			v[j] = b64val(s[i + j]);
			if (v[j] < 0)
				return -1;
		}
		w = (uint32_t)v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3];
		/* Non-canonical encodings (bits set in the padding) are refused. */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return -1;
		if (o + 3 - pad > max)
			return -1;
		out[o++] = w >> 16;
		if (pad < 2)
			out[o++] = w >> 8;
		if (pad < 1)
			out[o++] = w;
	}
	return (int)o;
}

/*
 * json-c keeps its own copies of every string it parsed: in the string
 * objects, and the last token in the tokener's buffer.  It has no
 * allocator hooks, so they are wiped in place before they are freed: the
 * strings through the pointers json-c hands out, the tokener's buffer
 * through its struct (public in json-c 0.18's header, marked internal).
 */
static void wipe_tree(struct json_object *o)
{
	if (json_object_is_type(o, json_type_string)) {
		explicit_bzero((char *)json_object_get_string(o),
			       json_object_get_string_len(o));
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			wipe_tree(json_object_array_get_idx(o, i));
	} else if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v) {
			(void)k;
			wipe_tree(v);
		}
	}
}

static void put_wiped(struct json_object *o)
{
	if (o && json_object_get_type(o) != json_type_null)
		wipe_tree(o);
	json_object_put(o);
}

static void tokener_free_wiped(struct json_tokener *tok)
{
	if (tok->pb && tok->pb->buf)
		explicit_bzero(tok->pb->buf, tok->pb->size);
	json_tokener_free(tok);
}

/* Parse exactly @len bytes as one JSON object (whitespace may follow). */
static struct json_object *parse_object(const char *body, size_t len,
					char *err, size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *obj;
	size_t end;

	if (len > KME_MAX_BODY) {
		fail(err, errlen, "answer too large");
		return NULL;
	}
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, body, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success) {
		put_wiped(obj);
		tokener_free_wiped(tok);
		fail(err, errlen, "answer is not valid JSON");
		return NULL;
	}
	tokener_free_wiped(tok);
	for (; end < len; end++) {
		char c = body[end];

		if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			put_wiped(obj);
			fail(err, errlen, "trailing data after the JSON answer");
			return NULL;
		}
	}
	if (!json_object_is_type(obj, json_type_object)) {
		put_wiped(obj);
		fail(err, errlen, "answer is not a JSON object");
		return NULL;
	}
	return obj;
}

static void note_add(char *note, size_t notelen, const char *name,
		     const char *what)
{
	size_t o = strnlen(note, notelen);

	if (o + 1 < notelen)
		snprintf(note + o, notelen - o, "%s'%s' %s", o ? ", " : "",
			 name, what);
}

/*
 * A status field: an integer, or a decimal string of one (some KMEs send
 * numbers as strings); 0..2^31-1.  Returns its bit when usable, else 0
 * with a note.
 */
static unsigned int get_uint(struct json_object *o, const char *name,
			     unsigned int bit, unsigned int *v, char *note,
			     size_t notelen)
{
	struct json_object *f;
	int64_t x = 0;

	*v = 0;
	if (!json_object_object_get_ex(o, name, &f)) {
		note_add(note, notelen, name, "missing");
		return 0;
	}
	if (json_object_is_type(f, json_type_int)) {
		x = json_object_get_int64(f);
	} else if (json_object_is_type(f, json_type_string)) {
		const char *s = json_object_get_string(f);
		size_t len = json_object_get_string_len(f);

		if (!len || len > 10 || strspn(s, "0123456789") != len) {
			note_add(note, notelen, name, "is not a number");
			return 0;
		}
		for (size_t i = 0; i < len; i++)
			x = x * 10 + (s[i] - '0');
	} else {
		note_add(note, notelen, name, "is not a number");
		return 0;
	}
	if (x < 0 || x > 0x7fffffff) {
		note_add(note, notelen, name, "out of range");
		return 0;
	}
	*v = (unsigned int)x;
	return bit;
}

int kme_parse_status(const char *body, size_t len, struct kme_status *st,
		     char *note, size_t notelen)
{
	struct kme_status s = { 0 };
	struct json_object *o;

	if (notelen)
		note[0] = '\0';
	o = parse_object(body, len, note, notelen);
	if (!o) {
		memset(st, 0, sizeof(*st));
		return -1;
	}
	s.have |= get_uint(o, "key_size", KME_ST_KEY_SIZE, &s.key_size, note,
			   notelen);
	s.have |= get_uint(o, "stored_key_count", KME_ST_STORED,
			   &s.stored_key_count, note, notelen);
	s.have |= get_uint(o, "max_key_count", KME_ST_MAX_COUNT,
			   &s.max_key_count, note, notelen);
	s.have |= get_uint(o, "max_key_per_request", KME_ST_MAX_PER_REQUEST,
			   &s.max_key_per_request, note, notelen);
	s.have |= get_uint(o, "max_key_size", KME_ST_MAX_SIZE, &s.max_key_size,
			   note, notelen);
	s.have |= get_uint(o, "min_key_size", KME_ST_MIN_SIZE, &s.min_key_size,
			   note, notelen);
	if ((s.have & KME_ST_KEY_SIZE) && !s.key_size) {
		note_add(note, notelen, "key_size", "is 0");
		s.have &= ~KME_ST_KEY_SIZE;
	}
	if ((s.have & KME_ST_MAX_PER_REQUEST) && !s.max_key_per_request) {
		note_add(note, notelen, "max_key_per_request", "is 0");
		s.have &= ~KME_ST_MAX_PER_REQUEST;
	}
	if ((s.have & KME_ST_MAX_SIZE) && (s.have & KME_ST_MIN_SIZE) &&
	    s.min_key_size > s.max_key_size) {
		note_add(note, notelen, "min_key_size", "is above max_key_size");
		s.have &= ~(KME_ST_MAX_SIZE | KME_ST_MIN_SIZE);
		s.min_key_size = s.max_key_size = 0;
	}
	if (!(s.have & KME_ST_KEY_SIZE))
		s.key_size = 0;
	if (!(s.have & KME_ST_MAX_PER_REQUEST))
		s.max_key_per_request = 0;
	*st = s;
	put_wiped(o);
	return 0;
}

/* Overwrite a json-c string in place before it is freed. */
static void wipe_json_string(struct json_object *s)
{
	if (s && json_object_is_type(s, json_type_string)) {
		char *p = (char *)json_object_get_string(s);

		explicit_bzero(p, json_object_get_string_len(s));
	}
}

static void wipe_all_keys(struct json_object *arr)
{
	size_t n = json_object_array_length(arr);

	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i), *k;

		if (json_object_is_type(e, json_type_object) &&
		    json_object_object_get_ex(e, "key", &k))
			wipe_json_string(k);
	}
}

int kme_parse_keys(const char *body, size_t len, size_t n, size_t key_bytes,
		   const struct keyid *want, struct keyid *names,
		   struct qkd_key *keys, char *err, size_t errlen)
{
	uint8_t want_ids[QKD_BATCH_MAX][QKD_KEY_ID_LEN];	/* 8 KiB */
	struct json_object *o, *arr = NULL;
	uint8_t buf[QKD_KEY_SIZE_MAX + 3];
	bool filled[QKD_BATCH_MAX] = { false };
	int ret = -1;

	if (!n || n > QKD_BATCH_MAX || !key_bytes || key_bytes > QKD_KEY_SIZE_MAX)
		return fail(err, errlen, "bad request size");
	o = parse_object(body, len, err, errlen);
	if (!o) {
		explicit_bzero(keys, n * sizeof(*keys));
		return -1;
	}
	if (want)
		for (size_t i = 0; i < n; i++)
			keyid_to_bytes(&want[i], want_ids[i]);
	if (!json_object_object_get_ex(o, "keys", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		fail(err, errlen, "answer has no 'keys' array");
		arr = NULL;
		goto out;
	}
	if (json_object_array_length(arr) != n) {
		snprintf(err, errlen, "answer has %zu keys, %zu were asked for",
			 json_object_array_length(arr), n);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);
		struct json_object *jid, *jkey;
		struct keyid name;
		uint8_t id[QKD_KEY_ID_LEN];
		size_t slot = i;
		int dl;

		if (!json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, "key_ID", &jid) ||
		    !json_object_object_get_ex(e, "key", &jkey) ||
		    !json_object_is_type(jid, json_type_string) ||
		    !json_object_is_type(jkey, json_type_string)) {
			snprintf(err, errlen, "key %zu: not {\"key_ID\": string, \"key\": string}",
				 i);
			goto out;
		}
		if (keyid_set(&name, json_object_get_string(jid),
			      json_object_get_string_len(jid))) {
			snprintf(err, errlen, "key %zu: key_ID is not 1 to %d printable characters without spaces",
				 i, KEYID_MAX);
			goto out;
		}
		keyid_to_bytes(&name, id);
		if (want) {
			for (slot = 0; slot < n; slot++)
				if (!memcmp(want_ids[slot], id, QKD_KEY_ID_LEN))
					break;
			if (slot == n) {
				snprintf(err, errlen, "key %zu: key_ID was not asked for",
					 i);
				goto out;
			}
		}
		if (filled[slot]) {
			snprintf(err, errlen, "key %zu: duplicate key_ID", i);
			goto out;
		}
		if (!want) {
			for (size_t j = 0; j < i; j++)
				if (!memcmp(keys[j].id, id, QKD_KEY_ID_LEN)) {
					snprintf(err, errlen, "key %zu: duplicate key_ID",
						 i);
					goto out;
				}
		}
		dl = kme_base64_decode(json_object_get_string(jkey),
				       json_object_get_string_len(jkey), buf,
				       sizeof(buf));
		if (dl < 0) {
			snprintf(err, errlen, "key %zu: key is not base64", i);
			goto out;
		}
		if ((size_t)dl != key_bytes) {
			snprintf(err, errlen, "key %zu: %d bits, %zu were asked for",
				 i, dl * 8, key_bytes * 8);
			goto out;
		}
		memcpy(keys[slot].id, id, QKD_KEY_ID_LEN);
		memcpy(keys[slot].material, buf, key_bytes);
		keys[slot].len = key_bytes;
		if (names)
			names[slot] = name;
		filled[slot] = true;
	}
	ret = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	if (arr)
		wipe_all_keys(arr);
	put_wiped(o);
	if (ret)
		explicit_bzero(keys, n * sizeof(*keys));
	return ret;
}

void kme_parse_error(const char *body, size_t len, char *msg, size_t msglen)
{
	char err[KME_ERR_LEN];
	struct json_object *o = parse_object(body, len, err, sizeof(err));
	struct json_object *m;
	const char *s = NULL;
	size_t o_len = 0;

	if (!msglen)
		return;
	msg[0] = '\0';
	if (o && json_object_object_get_ex(o, "message", &m) &&
	    json_object_is_type(m, json_type_string))
		s = json_object_get_string(m);
	if (s) {
		for (; *s && o_len + 1 < msglen && o_len < 200; s++)
			msg[o_len++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
		msg[o_len] = '\0';
	} else {
		snprintf(msg, msglen, len ? "(no ETSI error message)" :
			 "(empty body)");
	}
	put_wiped(o);
}

int kme_enc_request(char *buf, size_t cap, unsigned int number,
		    unsigned int size_bits)
{
	int n = snprintf(buf, cap, "{\"number\":%u,\"size\":%u}", number,
			 size_bits);

	return n < 0 || (size_t)n >= cap ? -1 : n;
}

int kme_dec_request(char *buf, size_t cap, const struct keyid *ids, size_t n)
{
	size_t o;
	int w;

	w = snprintf(buf, cap, "{\"key_IDs\":[");
	if (w < 0 || (size_t)w >= cap)
		return -1;
	o = w;
	for (size_t i = 0; i < n; i++) {
		/* Printable ASCII (keyid_set): only '"' and '\\' need escaping. */
		if (cap - o < (size_t)2 * ids[i].len + 16)
			return -1;
		o += sprintf(buf + o, "%s{\"key_ID\":\"", i ? "," : "");
		for (size_t j = 0; j < ids[i].len; j++) {
			char c = ids[i].s[j];

			if (c == '"' || c == '\\')
				buf[o++] = '\\';
			buf[o++] = c;
		}
		o += sprintf(buf + o, "\"}");
	}
	w = snprintf(buf + o, cap - o, "]}");
	if (w < 0 || (size_t)w >= cap - o)
		return -1;
	return (int)(o + w);
}
