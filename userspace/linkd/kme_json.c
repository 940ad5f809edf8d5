// SPDX-License-Identifier: GPL-2.0
/*
 * Strict handling of ETSI GS QKD 014 JSON with json-c.  A KME answer is
 * accepted only if it is exactly what was asked for: the right number of
 * keys, each of the right size, with well-formed, distinct UUID key IDs
 * (and for dec_keys, exactly the IDs requested).  Anything else is
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

static int get_uint(struct json_object *o, const char *name, bool required,
		    unsigned int *v, char *err, size_t errlen)
{
	struct json_object *f;
	int64_t x;

	if (!json_object_object_get_ex(o, name, &f)) {
		if (!required)
			return 0;
		snprintf(err, errlen, "status: '%s' missing", name);
		return -1;
	}
	if (!json_object_is_type(f, json_type_int)) {
		snprintf(err, errlen, "status: '%s' is not an integer", name);
		return -1;
	}
	x = json_object_get_int64(f);
	if (x < 0 || x > 0x7fffffff) {
		snprintf(err, errlen, "status: '%s' out of range", name);
		return -1;
	}
	*v = (unsigned int)x;
	return 0;
}

int kme_parse_status(const char *body, size_t len, struct kme_status *st,
		     char *err, size_t errlen)
{
	struct kme_status s = { 0 };
	struct json_object *o = parse_object(body, len, err, errlen);
	int ret = -1;

	if (!o)
		return -1;
	if (get_uint(o, "key_size", true, &s.key_size, err, errlen) ||
	    get_uint(o, "stored_key_count", true, &s.stored_key_count, err,
		     errlen) ||
	    get_uint(o, "max_key_count", true, &s.max_key_count, err, errlen) ||
	    get_uint(o, "max_key_per_request", true, &s.max_key_per_request,
		     err, errlen) ||
	    get_uint(o, "max_key_size", true, &s.max_key_size, err, errlen) ||
	    get_uint(o, "min_key_size", true, &s.min_key_size, err, errlen))
		goto out;
	if (!s.key_size || !s.max_key_per_request ||
	    s.min_key_size > s.max_key_size) {
		fail(err, errlen, "status: inconsistent sizes or limits");
		goto out;
	}
	*st = s;
	ret = 0;
out:
	put_wiped(o);
	return ret;
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
		   const uint8_t (*ids)[QKD_KEY_ID_LEN], struct qkd_key *keys,
		   char *err, size_t errlen)
{
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
		if (kme_uuid_parse(json_object_get_string(jid),
				   json_object_get_string_len(jid), id)) {
			snprintf(err, errlen, "key %zu: key_ID is not a UUID", i);
			goto out;
		}
		if (ids) {
			for (slot = 0; slot < n; slot++)
				if (!memcmp(ids[slot], id, QKD_KEY_ID_LEN))
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
		if (!ids) {
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
		snprintf(msg, msglen, "(no ETSI error message)");
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

int kme_dec_request(char *buf, size_t cap,
		    const uint8_t (*ids)[QKD_KEY_ID_LEN], size_t n)
{
	size_t o = 0;
	int w;

	w = snprintf(buf, cap, "{\"key_IDs\":[");
	if (w < 0 || (size_t)w >= cap)
		return -1;
	o = w;
	for (size_t i = 0; i < n; i++) {
		char u[KME_UUID_LEN + 1];

		kme_uuid_format(ids[i], u);
		w = snprintf(buf + o, cap - o, "%s{\"key_ID\":\"%s\"}",
			     i ? "," : "", u);
		if (w < 0 || (size_t)w >= cap - o)
			return -1;
		o += w;
	}
	w = snprintf(buf + o, cap - o, "]}");
	if (w < 0 || (size_t)w >= cap - o)
		return -1;
	return (int)(o + w);
}
