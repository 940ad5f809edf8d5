// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration parser.  INI-like: "[linkd]" and "[pool NAME]"
 * headers, "key = value" lines, '#' or ';' comment lines, blank lines.
 * Every key is known, given at most once per section, and checked; every
 * required key is present; anything else is an error that names the file,
 * the line and the problem.  The daemon refuses to start rather than guess.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "window.h"

#define KEY_BITS_MIN	128	/* QKD_KEY_SIZE_MIN bytes */
#define KEY_BITS_MAX	512	/* QKD_KEY_SIZE_MAX bytes */
#define CAPACITY_MAX	1048576	/* QKD_CAPACITY_MAX */
#define BATCH_MAX	512	/* QKD_BATCH_MAX */

struct parser {
	const char *file;
	int line;
	char *err;
	size_t errlen;
};

static int fail(struct parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, int line, const char *fmt, ...)
{
	char msg[CFG_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%d: %s", p->file, line, msg);
	return -1;
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static bool valid_name(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return false;
	for (; *s; s++)
		if (!is_name_char(*s))
			return false;
	return true;
}

int config_split_hostport(const char *s, char *host, size_t hostlen,
			  char *port, size_t portlen)
{
	const char *colon, *h = s;
	size_t hl;
	char *end;
	long v;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -1;
		h = s + 1;
		hl = rb - h;
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', colon - s))
			return -1;
		hl = colon - s;
	}
	if (!hl || hl >= hostlen)
		return -1;
	for (size_t i = 0; i < hl; i++)
		if (!is_name_char(h[i]) && h[i] != ':')
			return -1;
	errno = 0;
	v = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || v < 1 || v > 65535 ||
	    colon[1] == '+' || colon[1] == '-' || colon[1] == ' ')
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, portlen, "%ld", v);
	return 0;
}

/* ---- value handlers --------------------------------------------------- */

enum kind { K_STR, K_PATH, K_SAE, K_URL, K_UINT, K_HOSTPORT, K_SOURCE,
	    K_ROLE, K_DEC_METHOD };

struct key_def {
	const char *name;
	enum kind kind;
	size_t off;		/* in struct pool_cfg or struct config */
	size_t size;		/* of a string field */
	unsigned int min, max;	/* K_UINT */
	bool required;
};

#define P(f)	offsetof(struct pool_cfg, f), sizeof(((struct pool_cfg *)0)->f)
#define G(f)	offsetof(struct config, f), sizeof(((struct config *)0)->f)

static const struct key_def global_keys[] = {
	{ "listen",	 K_HOSTPORT, G(listen_host), 0, 0, true },
	{ "server_cert", K_PATH, G(server_cert), 0, 0, true },
	{ "server_key",	 K_PATH, G(server_key), 0, 0, true },
	{ "peer_ca",	 K_PATH, G(peer_ca), 0, 0, true },
	{ "state_dir",	 K_PATH, G(state_dir), 0, 0, false },
	{ "status_file", K_PATH, G(status_file), 0, 0, false },
	{ "max_connections", K_UINT, offsetof(struct config, max_conns), 0,
	  1, CFG_MAX_CONNS, false },
	{ "max_connections_per_source", K_UINT,
	  offsetof(struct config, max_conns_per_source), 0, 1, CFG_MAX_CONNS,
	  false },
	{ "handshake_timeout", K_UINT,
	  offsetof(struct config, handshake_timeout), 0, 1, 60, false },
};

static const struct key_def pool_keys[] = {
	{ "source",	    K_SOURCE, offsetof(struct pool_cfg, source), 0,
	  0, 0, false },
	{ "kme_url",	    K_URL, P(kme_url), 0, 0, false },
	{ "cert",	    K_PATH, P(cert), 0, 0, true },
	{ "key",	    K_PATH, P(key), 0, 0, true },
	{ "ca",		    K_PATH, P(ca), 0, 0, false },
	{ "kme_timeout",    K_UINT, offsetof(struct pool_cfg, kme_timeout), 0,
	  1, 300, false },
	{ "stream",	    K_PATH, P(stream), 0, 0, false },
	{ "stream_role",    K_ROLE, offsetof(struct pool_cfg, stream_role), 0,
	  0, 0, false },
	{ "sae_id",	    K_SAE, P(sae_id), 0, 0, true },
	{ "peer_sae_id",    K_SAE, P(peer_sae_id), 0, 0, true },
	{ "peer",	    K_HOSTPORT, P(peer_host), 0, 0, true },
	{ "key_size",	    K_UINT, offsetof(struct pool_cfg, key_bits), 0,
	  KEY_BITS_MIN, KEY_BITS_MAX, false },
	{ "capacity",	    K_UINT, offsetof(struct pool_cfg, capacity), 0,
	  1, CAPACITY_MAX, false },
	{ "low_watermark",  K_UINT, offsetof(struct pool_cfg, low), 0,
	  0, CAPACITY_MAX, false },
	{ "high_watermark", K_UINT, offsetof(struct pool_cfg, high), 0,
	  1, CAPACITY_MAX, false },
	{ "batch_size",	    K_UINT, offsetof(struct pool_cfg, batch), 0,
	  1, BATCH_MAX, false },
	{ "max_age",	    K_UINT, offsetof(struct pool_cfg, max_age), 0,
	  0, 365 * 86400, false },
	{ "fast_retry",	    K_UINT, offsetof(struct pool_cfg, fast_retry), 0,
	  0, 3600, false },
	{ "dec_keys_method", K_DEC_METHOD,
	  offsetof(struct pool_cfg, dec_method), 0, 0, 0, false },
	{ "offer_window",   K_UINT, offsetof(struct pool_cfg, offer_window), 0,
	  1, WINDOW_MAX, false },
	/* Trusted-node relay (relay_config.h), checked at the end of the file. */
	{ "relay_node",	    K_STR, P(relay_node), 0, 0, false },
	{ "relay_share",    K_UINT, offsetof(struct pool_cfg, relay_share), 0,
	  0, 100, false },
	{ "relay_reserve",  K_UINT, offsetof(struct pool_cfg, relay_reserve), 0,
	  0, CAPACITY_MAX, false },
};

#define R(f)	offsetof(struct relay_pool_cfg, f), \
		sizeof(((struct relay_pool_cfg *)0)->f)

/* [relay NAME]: an end-to-end pool. */
static const struct key_def relay_keys[] = {
	{ "peer",	    K_STR, R(peer), 0, 0, true },
	{ "path",	    K_STR, R(path), 0, 0, false },
	{ "key_size",	    K_UINT, offsetof(struct relay_pool_cfg, key_bits), 0,
	  KEY_BITS_MIN, KEY_BITS_MAX, false },
	{ "capacity",	    K_UINT, offsetof(struct relay_pool_cfg, capacity), 0,
	  1, CAPACITY_MAX, false },
	{ "low_watermark",  K_UINT, offsetof(struct relay_pool_cfg, low), 0,
	  0, CAPACITY_MAX, false },
	{ "high_watermark", K_UINT, offsetof(struct relay_pool_cfg, high), 0,
	  1, CAPACITY_MAX, false },
	{ "batch_size",	    K_UINT, offsetof(struct relay_pool_cfg, batch), 0,
	  1, RELAY_MAX_KEYS, false },
	{ "max_age",	    K_UINT, offsetof(struct relay_pool_cfg, max_age), 0,
	  0, 365 * 86400, false },
};

#define KEY_DEC_METHOD	18	/* index of dec_keys_method above */

#define NGLOBAL	(sizeof(global_keys) / sizeof(global_keys[0]))
#define NPOOL	(sizeof(pool_keys) / sizeof(pool_keys[0]))
#define NRELAY	(sizeof(relay_keys) / sizeof(relay_keys[0]))

static int set_value(struct parser *p, const struct key_def *k, void *base,
		     const char *v)
{
	char *dst = (char *)base + k->off;
	size_t n = strlen(v);

	switch (k->kind) {
	case K_PATH:
		if (v[0] != '/')
			return fail(p, p->line, "%s: '%s' is not an absolute path",
				    k->name, v);
		/* fallthrough */
	case K_STR:
		if (n >= k->size)
			return fail(p, p->line, "%s: value too long (at most %zu characters)",
				    k->name, k->size - 1);
		memcpy(dst, v, n + 1);
		return 0;
	case K_SAE:
		if (!valid_name(v, k->size - 1))
			return fail(p, p->line, "%s: '%s' is not an SAE ID (1 to %zu of A-Z a-z 0-9 . _ -)",
				    k->name, v, k->size - 1);
		memcpy(dst, v, n + 1);
		return 0;
	case K_URL:
		if (strncmp(v, "https://", 8) || !v[8] || strpbrk(v, " \t\"'\\"))
			return fail(p, p->line, "%s: '%s' is not an https:// URL",
				    k->name, v);
		if (n >= k->size)
			return fail(p, p->line, "%s: URL too long", k->name);
		memcpy(dst, v, n + 1);
		/* The API paths are appended: no trailing slash. */
		while (n > 8 && dst[n - 1] == '/')
			dst[--n] = '\0';
		return 0;
	case K_UINT: {
		unsigned long val;
		char *end;

		errno = 0;
		if (v[0] < '0' || v[0] > '9')
			return fail(p, p->line, "%s: '%s' is not a number",
				    k->name, v);
		val = strtoul(v, &end, 10);
		if (errno || *end)
			return fail(p, p->line, "%s: '%s' is not a number",
				    k->name, v);
		if (val < k->min || val > k->max)
			return fail(p, p->line, "%s: %lu is out of range (%u to %u)",
				    k->name, val, k->min, k->max);
		*(unsigned int *)(void *)dst = val;
		return 0;
	}
	case K_HOSTPORT: {
		/* host then port: the port field follows the host field */
		char *port = dst + CFG_HOST_LEN;

		if (config_split_hostport(v, dst, CFG_HOST_LEN, port,
					  CFG_PORT_LEN))
			return fail(p, p->line, "%s: '%s' is not HOST:PORT (IPv6 as [ADDR]:PORT)",
				    k->name, v);
		return 0;
	}
	case K_SOURCE:
		if (!strcmp(v, "etsi014"))
			*(enum source_type *)(void *)dst = SOURCE_ETSI014;
		else if (!strcmp(v, "stream"))
			*(enum source_type *)(void *)dst = SOURCE_STREAM;
		else
			return fail(p, p->line, "source: '%s' is neither etsi014 nor stream",
				    v);
		return 0;
	case K_ROLE:
		if (!strcmp(v, "a") || !strcmp(v, "b"))
			*(int *)(void *)dst = v[0] - 'a';
		else
			return fail(p, p->line, "stream_role: '%s' is neither a nor b",
				    v);
		return 0;
	case K_DEC_METHOD:
		if (!strcmp(v, "auto"))
			*(enum dec_method *)(void *)dst = DEC_AUTO;
		else if (!strcmp(v, "post"))
			*(enum dec_method *)(void *)dst = DEC_POST;
		else if (!strcmp(v, "get"))
			*(enum dec_method *)(void *)dst = DEC_GET;
		else
			return fail(p, p->line, "dec_keys_method: '%s' is not auto, post or get",
				    v);
		return 0;
	}
	return fail(p, p->line, "internal error");
}

/* ---- sections ----------------------------------------------------------- */

struct section {
	const struct key_def *keys;
	size_t nkeys;
	void *base;
	int line;
	const char *what;	/* "[linkd]" or the pool's name */
	int seen[32];		/* line of each key, 0 = not given */
	bool topology;		/* [topology]: lines go to relay_config.c */
};

static void defaults(struct pool_cfg *pc)
{
	pc->source = SOURCE_ETSI014;
	pc->kme_timeout = 10;
	pc->key_bits = 256;
	pc->capacity = 4096;
	pc->low = 512;
	pc->high = 2048;
	pc->batch = 128;
	pc->max_age = MAX_AGE_DEFAULT;
	pc->fast_retry = 60;
	pc->offer_window = WINDOW_DEFAULT;
	pc->relay_reserve = RELAY_RESERVE_DEFAULT;
}

static int check_pool(struct parser *p, struct section *s)
{
	struct pool_cfg *pc = s->base;
	const int etsi_keys[] = { 1, 4 };	/* kme_url, ca */

	if (pc->source == SOURCE_ETSI014) {
		for (size_t i = 0; i < sizeof(etsi_keys) / sizeof(int); i++)
			if (!s->seen[etsi_keys[i]])
				return fail(p, s->line, "pool %s: source etsi014 needs '%s'",
					    pc->name, pool_keys[etsi_keys[i]].name);
		if (s->seen[6] || s->seen[7])
			return fail(p, s->seen[6] ? s->seen[6] : s->seen[7],
				    "pool %s: stream settings with source etsi014",
				    pc->name);
	} else {
		if (s->seen[KEY_DEC_METHOD])
			return fail(p, s->seen[KEY_DEC_METHOD],
				    "pool %s: 'dec_keys_method' is for source etsi014 only",
				    pc->name);
		if (!s->seen[6] || !s->seen[7])
			return fail(p, s->line, "pool %s: source stream needs 'stream' and 'stream_role'",
				    pc->name);
		for (size_t i = 0; i < sizeof(etsi_keys) / sizeof(int); i++)
			if (s->seen[etsi_keys[i]])
				return fail(p, s->seen[etsi_keys[i]],
					    "pool %s: '%s' is for source etsi014 only",
					    pc->name, pool_keys[etsi_keys[i]].name);
	}
	if (pc->key_bits % 8)
		return fail(p, s->seen[11] ? s->seen[11] : s->line,
			    "pool %s: key_size %u is not a multiple of 8 bits",
			    pc->name, pc->key_bits);
	if (pc->low >= pc->high)
		return fail(p, s->seen[13] ? s->seen[13] : s->line,
			    "pool %s: low_watermark %u must be below high_watermark %u",
			    pc->name, pc->low, pc->high);
	if (pc->high > pc->capacity)
		return fail(p, s->seen[14] ? s->seen[14] : s->line,
			    "pool %s: high_watermark %u is above capacity %u",
			    pc->name, pc->high, pc->capacity);
	if (!strcmp(pc->sae_id, pc->peer_sae_id))
		return fail(p, s->seen[9], "pool %s: peer_sae_id equals sae_id",
			    pc->name);
	return 0;
}

static int end_section(struct parser *p, struct config *cfg,
		       struct section *s)
{
	char msg[CFG_ERR_LEN];

	if (!s->base || s->topology)
		return 0;
	for (size_t i = 0; i < s->nkeys; i++)
		if (s->keys[i].required && !s->seen[i])
			return fail(p, s->line, "%s: missing '%s'", s->what,
				    s->keys[i].name);
	if (s->keys == pool_keys) {
		struct pool_cfg *pc = s->base;

		if (check_pool(p, s))
			return -1;
		for (unsigned int i = 0; i + 1 < cfg->npools; i++) {
			if (!strcmp(cfg->pools[i].sae_id, pc->sae_id) &&
			    !strcmp(cfg->pools[i].peer_sae_id, pc->peer_sae_id))
				return fail(p, s->line, "pool %s: same SAE IDs as pool %s (line %d)",
					    pc->name, cfg->pools[i].name,
					    cfg->pools[i].line);
		}
	}
	if (s->keys == relay_keys && relay_pool_check(s->base, msg, sizeof(msg)))
		return fail(p, s->line, "%s", msg);
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* [relay NAME]: an end-to-end pool. */
static int relay_header(struct parser *p, struct config *cfg,
			struct section *s, const char *name)
{
	struct relay_cfg *rc = &cfg->relay;
	struct relay_pool_cfg *rp;

	if (!valid_name(name, CFG_NAME_LEN))
		return fail(p, p->line, "relay pool name '%s' is not 1 to %d of A-Z a-z 0-9 . _ -",
			    name, CFG_NAME_LEN);
	for (unsigned int i = 0; i < rc->npools; i++)
		if (!strcmp(rc->pools[i].name, name))
			return fail(p, p->line, "relay %s already defined on line %d",
				    name, rc->pools[i].line);
	if (rc->npools == RELAY_CFG_MAX_POOLS)
		return fail(p, p->line, "more than %d relay pools",
			    RELAY_CFG_MAX_POOLS);
	rp = &rc->pools[rc->npools++];
	relay_pool_defaults(rp);
	snprintf(rp->name, sizeof(rp->name), "%s", name);
	rp->line = p->line;
	s->keys = relay_keys;
	s->nkeys = NRELAY;
	s->base = rp;
	s->what = rp->name;
	return 0;
}

static int header(struct parser *p, struct config *cfg, struct section *s,
		  char *line, bool *seen_global)
{
	char *end = strchr(line, ']');
	char *inner;

	if (!end || trim(end + 1)[0])
		return fail(p, p->line, "bad section header (expected [linkd] or [pool NAME])");
	*end = '\0';
	inner = trim(line + 1);
	memset(s, 0, sizeof(*s));
	s->line = p->line;
	if (!strcmp(inner, "linkd")) {
		if (*seen_global)
			return fail(p, p->line, "second [linkd] section");
		*seen_global = true;
		s->keys = global_keys;
		s->nkeys = NGLOBAL;
		s->base = cfg;
		s->what = "[linkd]";
		return 0;
	}
	if (!strcmp(inner, "topology")) {
		if (cfg->relay.line)
			return fail(p, p->line, "second [topology] section (first on line %d)",
				    cfg->relay.line);
		cfg->relay.line = p->line;
		s->base = &cfg->relay;
		s->topology = true;
		s->what = "[topology]";
		return 0;
	}
	if (!strncmp(inner, "relay", 5) && (inner[5] == ' ' || inner[5] == '\t'))
		return relay_header(p, cfg, s, trim(inner + 5));
	if (strncmp(inner, "pool", 4) || (inner[4] != ' ' && inner[4] != '\t'))
		return fail(p, p->line, "unknown section [%s] (expected [linkd], [pool NAME], [topology] or [relay NAME])",
			    inner);
	inner = trim(inner + 4);
	if (!valid_name(inner, CFG_NAME_LEN))
		return fail(p, p->line, "pool name '%s' is not 1 to %d of A-Z a-z 0-9 . _ -",
			    inner, CFG_NAME_LEN);
	for (unsigned int i = 0; i < cfg->npools; i++)
		if (!strcmp(cfg->pools[i].name, inner))
			return fail(p, p->line, "pool %s already defined on line %d",
				    inner, cfg->pools[i].line);
	if (cfg->npools == CFG_MAX_POOLS)
		return fail(p, p->line, "more than %d pools", CFG_MAX_POOLS);
	struct pool_cfg *pc = &cfg->pools[cfg->npools++];

	defaults(pc);
	snprintf(pc->name, sizeof(pc->name), "%s", inner);
	pc->line = p->line;
	s->keys = pool_keys;
	s->nkeys = NPOOL;
	s->base = pc;
	s->what = pc->name;
	return 0;
}

int config_parse(const char *name, const char *text, size_t len,
		 struct config *cfg, char *err, size_t errlen)
{
	struct parser p = { .file = name, .err = err, .errlen = errlen };
	struct section s = { 0 };
	bool seen_global = false;
	size_t pos = 0;
	char line[1024];

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "/var/lib/qkd-linkd");
	snprintf(cfg->status_file, sizeof(cfg->status_file),
		 "/run/qkd-linkd/status.json");
	cfg->max_conns = 64;
	cfg->max_conns_per_source = 4;
	cfg->handshake_timeout = 5;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - text - pos) : len - pos;
		char *l, *eq, *k, *v;

		p.line++;
		if (n >= sizeof(line))
			return fail(&p, p.line, "line too long (at most %zu characters)",
				    sizeof(line) - 1);
		if (memchr(text + pos, '\0', n))
			return fail(&p, p.line, "NUL byte in line");
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		l = trim(line);
		if (!*l || *l == '#' || *l == ';')
			continue;
		if (*l == '[') {
			if (end_section(&p, cfg, &s) ||
			    header(&p, cfg, &s, l, &seen_global))
				return -1;
			continue;
		}
		eq = strchr(l, '=');
		if (!eq)
			return fail(&p, p.line, "expected 'key = value' or a [section]");
		*eq = '\0';
		k = trim(l);
		v = trim(eq + 1);
		if (!s.base)
			return fail(&p, p.line, "'%s' outside of any section", k);
		if (s.topology) {
			char msg[CFG_ERR_LEN];

			if (!*v)
				return fail(&p, p.line, "'%s' has no value", k);
			if (relay_topology_line(&cfg->relay, k, v, msg,
						sizeof(msg)))
				return fail(&p, p.line, "%s", msg);
			if (!strcmp(k, "self"))
				cfg->relay.self_line = p.line;
			continue;
		}
		size_t i;

		for (i = 0; i < s.nkeys; i++)
			if (!strcmp(s.keys[i].name, k))
				break;
		if (i == s.nkeys)
			return fail(&p, p.line, "unknown key '%s' in %s%s", k,
				    s.keys == pool_keys ? "pool " :
				    s.keys == relay_keys ? "relay " : "", s.what);
		if (s.seen[i])
			return fail(&p, p.line, "'%s' given twice (first on line %d)",
				    k, s.seen[i]);
		if (!*v)
			return fail(&p, p.line, "'%s' has no value", k);
		if (set_value(&p, &s.keys[i], s.base, v))
			return -1;
		s.seen[i] = p.line;
	}
	if (end_section(&p, cfg, &s))
		return -1;
	if (!seen_global)
		return fail(&p, p.line ? p.line : 1, "no [linkd] section");
	if (!cfg->npools)
		return fail(&p, p.line ? p.line : 1, "no [pool NAME] section");
	{
		char msg[CFG_ERR_LEN];
		int at = 1;

		if (relay_config_check(cfg, &at, msg, sizeof(msg)))
			return fail(&p, at, "%s", msg);
	}
	return 0;
}

int config_load(const char *path, struct config *cfg, char *err,
		size_t errlen)
{
	char *buf;
	size_t len = 0;
	ssize_t r;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(CFG_MAX_FILE);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	while ((r = read(fd, buf + len, CFG_MAX_FILE - len)) > 0)
		len += r;
	close(fd);
	if (r < 0 || len == CFG_MAX_FILE) {
		snprintf(err, errlen, "%s: %s", path,
			 r < 0 ? strerror(errno) : "file too large (1 MiB at most)");
		free(buf);
		return -1;
	}
	ret = config_parse(path, buf, len, cfg, err, errlen);
	free(buf);
	return ret;
}
