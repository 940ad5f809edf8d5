// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-linkd's status file, parsed strictly with json-c: see
 * linkd_status.h.  Pure (no I/O), so that the unit tests and the fuzzer
 * see every path.  Texts from the file reach a terminal: they are kept to
 * printable ASCII.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "linkd_status.h"

#define JSON_DEPTH	8

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A member, or NULL when absent or JSON null. */
static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* An integer in [@min, @max]; absent or null leaves *v.  0 or -1. */
static int get_int(struct json_object *o, const char *key, int64_t min,
		   int64_t max, int64_t *v, char *err, size_t errlen)
{
	struct json_object *m = member(o, key);
	int64_t x;

	if (!m)
		return 0;
	if (!json_object_is_type(m, json_type_int))
		return fail(err, errlen, "'%s' is not an integer", key);
	x = json_object_get_int64(m);
	/* json-c clamps a larger number to INT64_MAX: out of range too. */
	if (x < min || x > max || x == INT64_MAX)
		return fail(err, errlen, "'%s' is out of range", key);
	*v = x;
	return 0;
}

static int need_int(struct json_object *o, const char *key, int64_t min,
		    int64_t max, int64_t *v, char *err, size_t errlen)
{
	if (!member(o, key))
		return fail(err, errlen, "'%s' is missing", key);
	return get_int(o, key, min, max, v, err, errlen);
}

static int need_bool(struct json_object *o, const char *key, bool *v,
		     char *err, size_t errlen)
{
	struct json_object *m = member(o, key);

	if (!m || !json_object_is_type(m, json_type_boolean))
		return fail(err, errlen, "'%s' is missing or not true/false",
			    key);
	*v = json_object_get_boolean(m);
	return 0;
}

/*
 * A string into @out of @size, control and non-ASCII bytes as '?' (the
 * text is printed on terminals), cut at @size - 1.  @required: absent is
 * an error.
 */
static int get_str(struct json_object *o, const char *key, bool required,
		   char *out, size_t size, char *err, size_t errlen)
{
	struct json_object *m = member(o, key);
	const char *s;
	size_t n;

	if (!m)
		return required ? fail(err, errlen, "'%s' is missing", key) : 0;
	if (!json_object_is_type(m, json_type_string))
		return fail(err, errlen, "'%s' is not a string", key);
	s = json_object_get_string(m);
	n = (size_t)json_object_get_string_len(m);
	if (n >= size)
		n = size - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	out[n] = '\0';
	return 0;
}

static int get_u64(struct json_object *o, const char *key, uint64_t *v,
		   char *err, size_t errlen)
{
	int64_t x = 0;

	if (get_int(o, key, 0, INT64_MAX, &x, err, errlen))
		return -1;
	*v = (uint64_t)x;
	return 0;
}

static int get_u32(struct json_object *o, const char *key, uint32_t *v,
		   char *err, size_t errlen)
{
	int64_t x = 0;

	if (get_int(o, key, 0, UINT32_MAX, &x, err, errlen))
		return -1;
	*v = (uint32_t)x;
	return 0;
}

/*
 * A node name or a path of them: printable ASCII without '"', '\\' or
 * (in a name) spaces, so that it can be shown, and put in a Prometheus
 * label, as it is.  Absent or null: "".
 */
static int get_names(struct json_object *o, const char *key, char *out,
		     size_t size, bool path, char *err, size_t errlen)
{
	struct json_object *m = member(o, key);

	if (get_str(o, key, false, out, size, err, errlen))
		return -1;
	if (m && (size_t)json_object_get_string_len(m) >= size)
		return fail(err, errlen, "'%s' is too long", key);
	for (const char *c = out; *c; c++)
		if (*c == '?' || *c == '"' || *c == '\\' ||
		    (*c == ' ' && !path))
			return fail(err, errlen, "'%s' is not a node name%s",
				    key, path ? " list" : "");
	return 0;
}

/* A link pool's "relay" member (relay_status.c). */
static int parse_relay_link(struct json_object *o, struct linkd_health *h,
			    char *err, size_t errlen)
{
	struct linkd_relay_link *r = &h->relay;

	if (!o)
		return 0;
	if (!json_object_is_type(o, json_type_object))
		return fail(err, errlen, "'%s' is not an object", "relay");
	if (get_names(o, "node", r->node, sizeof(r->node), false, err,
		      errlen) ||
	    get_u32(o, "share", &r->share, err, errlen) ||
	    get_u32(o, "reserve", &r->reserve, err, errlen) ||
	    get_u32(o, "bucket", &r->bucket, err, errlen) ||
	    get_u64(o, "taken_out", &r->taken_out, err, errlen) ||
	    get_u64(o, "taken_in", &r->taken_in, err, errlen))
		return -1;
	if (r->share > 100)
		return fail(err, errlen, "'%s' is out of range", "share");
	h->relays = true;
	return 0;
}

/* One entry of "relays": an end-to-end pool (relay_status.c). */
static int parse_e2e(struct json_object *o, struct linkd_health *h,
		     char *err, size_t errlen)
{
	struct linkd_e2e *e = &h->end;
	const char *name;
	size_t len;

	if (!json_object_is_type(o, json_type_object))
		return fail(err, errlen, "an end-to-end pool is not an %s",
			    "object");
	if (get_str(o, "name", true, h->name, sizeof(h->name), err, errlen))
		return -1;
	name = json_object_get_string(member(o, "name"));
	len = (size_t)json_object_get_string_len(member(o, "name"));
	if (!len || len > QKD_POOL_NAME_MAX_LEN || strlen(name) != len ||
	    strcmp(name, h->name))
		return fail(err, errlen, "a pool's name is empty, too long or not printable ASCII");
	if (get_names(o, "peer", e->peer, sizeof(e->peer), false, err,
		      errlen) ||
	    get_names(o, "role_out", e->role_out, sizeof(e->role_out), false,
		      err, errlen) ||
	    get_names(o, "role_in", e->role_in, sizeof(e->role_in), false,
		      err, errlen) ||
	    get_names(o, "path", e->path, sizeof(e->path), true, err,
		      errlen) ||
	    get_names(o, "bottleneck", e->bottleneck, sizeof(e->bottleneck),
		      false, err, errlen) ||
	    get_u64(o, "bottleneck_rate", &e->bottleneck_rate, err, errlen) ||
	    get_names(o, "path_in", e->path_in, sizeof(e->path_in), true,
		      err, errlen) ||
	    get_u64(o, "path_changes", &e->path_changes, err, errlen) ||
	    get_int(o, "path_changed", 0, INT64_MAX, &e->path_changed, err,
		    errlen) ||
	    get_u32(o, "in_flight", &e->in_flight, err, errlen) ||
	    get_u32(o, "hold", &e->hold, err, errlen) ||
	    get_u64(o, "committed", &e->committed, err, errlen) ||
	    get_u64(o, "dropped", &e->dropped, err, errlen) ||
	    get_u64(o, "expired", &e->expired, err, errlen) ||
	    get_u64(o, "aborted", &e->aborted, err, errlen) ||
	    get_u64(o, "keys_out", &e->keys_out, err, errlen) ||
	    get_u64(o, "keys_in", &e->keys_in, err, errlen) ||
	    get_str(o, "last_error", false, e->last_error,
		    sizeof(e->last_error), err, errlen) ||
	    get_int(o, "last_error_time", 0, INT64_MAX, &e->last_error_time,
		    err, errlen))
		return -1;
	if (member(o, "filling") &&
	    need_bool(o, "filling", &e->filling, err, errlen))
		return -1;
	h->e2e = true;
	return 0;
}

static int parse_pool(struct json_object *o, struct linkd_health *h,
		      char *err, size_t errlen)
{
	char source[16] = "";
	const char *name;
	int64_t v;
	size_t len;

	if (!json_object_is_type(o, json_type_object))
		return fail(err, errlen, "a pool is not an %s", "object");
	if (get_str(o, "name", true, h->name, sizeof(h->name), err, errlen))
		return -1;
	/* Matched to the kernel's names exactly: nothing cut or replaced. */
	name = json_object_get_string(member(o, "name"));
	len = (size_t)json_object_get_string_len(member(o, "name"));
	if (!len || len > QKD_POOL_NAME_MAX_LEN || strlen(name) != len ||
	    strcmp(name, h->name))
		return fail(err, errlen, "a pool's name is empty, too long or not printable ASCII");
	v = -1;
	if (get_int(o, "id", 0, UINT32_MAX, &v, err, errlen))
		return -1;
	h->has_id = v >= 0;
	h->id = h->has_id ? (uint32_t)v : 0;
	if (get_str(o, "source", false, source, sizeof(source), err, errlen))
		return -1;
	h->stream = !strcmp(source, "stream");
	if (need_bool(o, "source_ok", &h->kme_up, err, errlen) ||
	    need_bool(o, "peer_out_connected", &h->peer_connected[0], err,
		      errlen) ||
	    need_bool(o, "peer_in_connected", &h->peer_connected[1], err,
		      errlen) ||
	    get_int(o, "last_refill_out", 0, INT64_MAX, &h->last_refill[0],
		    err, errlen) ||
	    get_int(o, "last_refill_in", 0, INT64_MAX, &h->last_refill[1],
		    err, errlen) ||
	    get_int(o, "last_error_time", 0, INT64_MAX, &h->last_error_time,
		    err, errlen) ||
	    get_str(o, "last_error", false, h->last_error,
		    sizeof(h->last_error), err, errlen) ||
	    get_str(o, "master_state", false, h->master_state,
		    sizeof(h->master_state), err, errlen))
		return -1;
	/* The slave's health: absent or null until its first dec_keys. */
	if (member(o, "source_in_ok")) {
		if (need_bool(o, "source_in_ok", &h->kme_in_up, err, errlen))
			return -1;
		h->kme_in_known = true;
	}
	if (get_str(o, "last_error_in", false, h->last_error_in,
		    sizeof(h->last_error_in), err, errlen))
		return -1;
	v = 0;
	if (get_int(o, "kme_errors", 0, INT64_MAX, &v, err, errlen))
		return -1;
	h->kme_errors = (uint64_t)v;
	v = 0;
	if (get_int(o, "peer_errors", 0, INT64_MAX, &v, err, errlen))
		return -1;
	h->peer_errors = (uint64_t)v;
	return parse_relay_link(member(o, "relay"), h, err, errlen);
}

/* Exactly one JSON object in @buf, whitespace after it. */
static struct json_object *parse_doc(const char *buf, size_t len, char *err,
				     size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *doc;
	size_t end;

	if (len > LINKD_STATUS_MAX_BYTES) {
		fail(err, errlen, "larger than %d bytes", LINKD_STATUS_MAX_BYTES);
		return NULL;
	}
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok) {
		fail(err, errlen, "%s", "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	doc = json_tokener_parse_ex(tok, buf, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!doc || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(doc);
		json_tokener_free(tok);
		fail(err, errlen, "%s", "not valid JSON (or cut short)");
		return NULL;
	}
	json_tokener_free(tok);
	for (; end < len; end++)
		if (!strchr(" \t\r\n", buf[end]) || !buf[end]) {
			json_object_put(doc);
			fail(err, errlen, "%s", "data after the JSON object");
			return NULL;
		}
	if (!json_object_is_type(doc, json_type_object)) {
		json_object_put(doc);
		fail(err, errlen, "%s", "not a JSON object");
		return NULL;
	}
	return doc;
}

int linkd_status_parse(const char *buf, size_t len,
		       struct linkd_health **pools, size_t *n,
		       char *err, size_t errlen)
{
	struct linkd_health file = { .state = LINKD_RUNNING, .interval = 1 };
	struct json_object *doc, *arr, *rel;
	struct linkd_health *out = NULL;
	int64_t v;
	size_t count, nrel = 0;

	*pools = NULL;
	*n = 0;
	doc = parse_doc(buf, len, err, errlen);
	if (!doc)
		return -1;
	if (need_int(doc, "time", 1, INT64_MAX, &file.time, err, errlen))
		goto bad;
	v = 1;
	if (get_int(doc, "interval", 1, 3600, &v, err, errlen))
		goto bad;
	file.interval = (uint32_t)v;
	if (get_int(doc, "pid", 1, INT_MAX, &file.pid, err, errlen))
		goto bad;
	v = 0;
	if (get_int(doc, "netns", 0, INT64_MAX, &v, err, errlen))
		goto bad;
	file.netns = (uint64_t)v;
	arr = member(doc, "pools");
	if (!arr || !json_object_is_type(arr, json_type_array)) {
		fail(err, errlen, "'%s' is missing or not an array", "pools");
		goto bad;
	}
	/* The end-to-end pools (0.3+): after the link pools, as pools. */
	rel = member(doc, "relays");
	if (rel && !json_object_is_type(rel, json_type_array)) {
		fail(err, errlen, "'%s' is not an array", "relays");
		goto bad;
	}
	if (rel)
		nrel = json_object_array_length(rel);
	count = json_object_array_length(arr);
	if (count > LINKD_STATUS_MAX_POOLS ||
	    nrel > LINKD_STATUS_MAX_POOLS - count) {
		fail(err, errlen, "more than %d pools", LINKD_STATUS_MAX_POOLS);
		goto bad;
	}
	out = calloc(count + nrel ? count + nrel : 1, sizeof(*out));
	if (!out) {
		fail(err, errlen, "%s", "out of memory");
		goto bad;
	}
	for (size_t i = 0; i < count + nrel; i++) {
		out[i] = file;
		if (i < count ?
		    parse_pool(json_object_array_get_idx(arr, i), &out[i], err,
			       errlen) :
		    parse_e2e(json_object_array_get_idx(rel, i - count),
			      &out[i], err, errlen))
			goto bad;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(out[j].name, out[i].name)) {
				fail(err, errlen, "pool '%s' twice",
				     out[i].name);
				goto bad;
			}
	}
	json_object_put(doc);
	*pools = out;
	*n = count + nrel;
	return 0;
bad:
	free(out);
	json_object_put(doc);
	return -1;
}

enum linkd_state linkd_state_at(int64_t time, uint32_t interval, int64_t now)
{
	int64_t limit = (int64_t)(interval ? interval : 1) *
			LINKD_STALE_INTERVALS;

	return now - time > limit ? LINKD_STALE : LINKD_RUNNING;
}
