// SPDX-License-Identifier: GPL-2.0
/*
 * The [topology] and [relay NAME] sections of qkd-linkd.conf (relay_config.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "relay_config.h"

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int relay_parse_rate(const char *s, uint64_t *rate)
{
	double v, mul = 1;
	size_t digits = strspn(s, "0123456789");
	char *end;

	/* Decimal digits, an optional fraction: no hex, no exponent. */
	if (!digits)
		return -1;
	if (s[digits] == '.' && !strspn(s + digits + 1, "0123456789"))
		return -1;
	if (s[digits] == '.')
		digits += 1 + strspn(s + digits + 1, "0123456789");
	if (s[digits] == 'k' || s[digits] == 'M' || s[digits] == 'G')
		digits++;
	if (s[digits])
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k': mul = 1e3; end++; break;
	case 'M': mul = 1e6; end++; break;
	case 'G': mul = 1e9; end++; break;
	}
	if (*end)
		return -1;
	v *= mul;
	if (!(v >= 1 && v <= (double)ROUTE_RATE_MAX))
		return -1;
	*rate = (uint64_t)v;
	return 0;
}

/* The next blank-separated word of *@s, or NULL. */
static char *word(char **s)
{
	char *w = *s + strspn(*s, " \t");

	if (!*w)
		return NULL;
	*s = w + strcspn(w, " \t");
	if (**s)
		*(*s)++ = '\0';
	return w;
}

int relay_topology_line(struct relay_cfg *rc, const char *key, char *value,
			char *err, size_t errlen)
{
	struct route_topo *t = &rc->topo;
	char *a, *b, *r, *extra;
	uint64_t rate;

	if (!strcmp(key, "self")) {
		if (rc->self_line)
			return fail(err, errlen, "'self' given twice (first on line %d)",
				    rc->self_line);
		a = word(&value);
		if (!a || word(&value) || strlen(a) > ROUTE_NAME_MAX)
			return fail(err, errlen, "self: one node name");
		strcpy(rc->self, a);
		return 0;
	}
	if (!strcmp(key, "node")) {
		if (!(a = word(&value)))
			return fail(err, errlen, "node: no name");
		do {
			if (route_add_node(t, a, err, errlen) < 0)
				return -1;
		} while ((a = word(&value)));
		return 0;
	}
	if (!strcmp(key, "link")) {
		a = word(&value);
		b = word(&value);
		r = word(&value);
		extra = word(&value);
		if (!r || extra)
			return fail(err, errlen,
				    "link: expected 'NODE NODE RATE' (RATE in bit/s, e.g. 10k or 10M)");
		if (relay_parse_rate(r, &rate))
			return fail(err, errlen,
				    "link %s-%s: '%s' is not a key rate (bit/s: 1 to 10^12, suffix k, M or G)",
				    a, b, r);
		return route_add_link(t, a, b, rate, err, errlen) < 0 ? -1 : 0;
	}
	return fail(err, errlen, "unknown key '%s' in [topology] (self, node, link)",
		    key);
}

void relay_pool_defaults(struct relay_pool_cfg *rp)
{
	rp->key_bits = 256;
	rp->capacity = 1024;
	rp->low = 128;
	rp->high = 512;
	rp->batch = 16;
	rp->max_age = MAX_AGE_DEFAULT;
	rp->peer_node = -1;
}

int relay_pool_check(const struct relay_pool_cfg *rp, char *err, size_t errlen)
{
	if (rp->key_bits % 8)
		return fail(err, errlen, "relay %s: key_size %u is not a multiple of 8 bits",
			    rp->name, rp->key_bits);
	if (rp->low >= rp->high)
		return fail(err, errlen, "relay %s: low_watermark %u must be below high_watermark %u",
			    rp->name, rp->low, rp->high);
	if (rp->high > rp->capacity)
		return fail(err, errlen, "relay %s: high_watermark %u is above capacity %u",
			    rp->name, rp->high, rp->capacity);
	return 0;
}

static int check_relay_pool(struct config *cfg, struct relay_pool_cfg *rp,
			    int *line, char *err, size_t errlen)
{
	struct relay_cfg *rc = &cfg->relay;
	struct route_path p;
	char path[RELAY_CFG_PATH_LEN], *s = path, *w;
	char why[ROUTE_ERR_LEN];

	*line = rp->line;
	for (unsigned int i = 0; i < cfg->npools; i++)
		if (!strcmp(cfg->pools[i].name, rp->name))
			return fail(err, errlen, "relay %s: pool %s is a link pool (line %d)",
				    rp->name, rp->name, cfg->pools[i].line);
	rp->peer_node = route_find_node(&rc->topo, rp->peer);
	if (rp->peer_node < 0)
		return fail(err, errlen, "relay %s: peer %s is not a node of [topology]",
			    rp->name, rp->peer);
	/* The far end finds the pool of a transfer by its origin alone. */
	for (struct relay_pool_cfg *q = rc->pools; q < rp; q++)
		if (!strcmp(q->peer, rp->peer))
			return fail(err, errlen, "relay %s: peer %s is relay %s's too (line %d)",
				    rp->name, rp->peer, q->name, q->line);
	if (rp->peer_node == rc->self_node)
		return fail(err, errlen, "relay %s: peer %s is this node", rp->name,
			    rp->peer);
	rp->npath = 0;
	if (!rp->path[0])
		return 0;
	strcpy(path, rp->path);
	while ((w = word(&s))) {
		int n = route_find_node(&rc->topo, w);

		if (n < 0)
			return fail(err, errlen, "relay %s: path: %s is not a node of [topology]",
				    rp->name, w);
		if (rp->npath == ROUTE_MAX_PATH)
			return fail(err, errlen, "relay %s: path of more than %d nodes",
				    rp->name, ROUTE_MAX_PATH);
		rp->path_nodes[rp->npath++] = (uint16_t)n;
	}
	if (rp->npath < 2 || rp->path_nodes[0] != rc->self_node ||
	    rp->path_nodes[rp->npath - 1] != rp->peer_node)
		return fail(err, errlen, "relay %s: path must go from %s (self) to %s (peer)",
			    rp->name, rc->self, rp->peer);
	/* Every link is up while the file is read: this checks they exist. */
	if (route_pinned(&rc->topo, rp->path_nodes, rp->npath, &p, why,
			 sizeof(why)))
		return fail(err, errlen, "relay %s: path: %s", rp->name, why);
	return 0;
}

static int check_link_pool(struct config *cfg, unsigned int i, int *line,
			   char *err, size_t errlen)
{
	struct relay_cfg *rc = &cfg->relay;
	struct pool_cfg *pc = &cfg->pools[i];
	int n;

	*line = pc->line;
	if (!pc->relay_node[0]) {
		if (pc->relay_share)
			return fail(err, errlen, "pool %s: relay_share without relay_node",
				    pc->name);
		return 0;
	}
	n = route_find_node(&rc->topo, pc->relay_node);
	if (n < 0)
		return fail(err, errlen, "pool %s: relay_node %s is not a node of [topology]",
			    pc->name, pc->relay_node);
	if (route_find_link(&rc->topo, rc->self_node, n) < 0)
		return fail(err, errlen, "pool %s: [topology] has no link %s-%s",
			    pc->name, rc->self, pc->relay_node);
	for (unsigned int j = 0; j < i; j++)
		if (!strcmp(cfg->pools[j].relay_node, pc->relay_node))
			return fail(err, errlen, "pool %s: relay_node %s is pool %s's too",
				    pc->name, pc->relay_node, cfg->pools[j].name);
	if (pc->relay_share && pc->relay_reserve >= pc->high)
		return fail(err, errlen,
			    "pool %s: relay_reserve %u is not below high_watermark %u: relaying would never run",
			    pc->name, pc->relay_reserve, pc->high);
	return 0;
}

/*
 * A transfer of @rp's batch takes relay_link_keys_needed() link keys of
 * its first hop at once; a link pool whose budget can never hold that
 * many (the bucket tops out at high_watermark, and relay_reserve keys
 * stay) would refuse every transfer, forever.  Each link this node's
 * transfers may leave by is checked: the pinned path's first, or every
 * link of this node that relays (the shortest path may take any).  A
 * transit link is checked at its own node, with its own [relay] pools;
 * a relay that cannot ever carry a frame says so in its log.
 */
static int check_link_keys(const struct config *cfg,
			   const struct relay_pool_cfg *rp, int *line,
			   char *err, size_t errlen)
{
	const struct relay_cfg *rc = &cfg->relay;

	for (unsigned int i = 0; i < cfg->npools; i++) {
		const struct pool_cfg *pc = &cfg->pools[i];
		unsigned int need, most;

		if (!pc->relay_node[0] || !pc->relay_share)
			continue;
		if (rp->npath &&
		    strcmp(pc->relay_node, rc->topo.nodes[rp->path_nodes[1]]))
			continue;
		need = relay_link_keys_needed(rp->batch, rp->key_bits / 8,
					      pc->key_bits / 8);
		most = pc->high - pc->relay_reserve;	/* reserve < high */
		if (need > most) {
			*line = rp->line;
			return fail(err, errlen,
				    "relay %s: a transfer of batch_size %u keys of %u bits takes %u link keys per hop, but pool %s (line %d) lets relaying take at most %u at once (high_watermark %u - relay_reserve %u): lower batch_size or raise that pool's high_watermark",
				    rp->name, rp->batch, rp->key_bits, need,
				    pc->name, pc->line, most, pc->high,
				    pc->relay_reserve);
		}
	}
	return 0;
}

int relay_config_check(struct config *cfg, int *line, char *err, size_t errlen)
{
	struct relay_cfg *rc = &cfg->relay;
	bool used = rc->npools > 0;

	for (unsigned int i = 0; i < cfg->npools; i++) {
		if (cfg->pools[i].relay_node[0] || cfg->pools[i].relay_share)
			used = true;
		if (cfg->pools[i].relay_reserve == RELAY_RESERVE_DEFAULT)
			cfg->pools[i].relay_reserve = cfg->pools[i].low;
	}
	if (!rc->line) {
		if (!used)
			return 0;
		*line = rc->npools ? rc->pools[0].line : 1;
		for (unsigned int i = 0; !rc->npools && i < cfg->npools; i++)
			if (cfg->pools[i].relay_node[0] ||
			    cfg->pools[i].relay_share) {
				*line = cfg->pools[i].line;
				break;
			}
		return fail(err, errlen, "relay settings without a [topology] section");
	}
	*line = rc->line;
	if (!rc->self_line)
		return fail(err, errlen, "[topology]: missing 'self'");
	rc->self_node = route_find_node(&rc->topo, rc->self);
	if (rc->self_node < 0) {
		*line = rc->self_line;
		return fail(err, errlen, "self: %s is not a node of [topology]",
			    rc->self);
	}
	for (unsigned int i = 0; i < cfg->npools; i++)
		if (check_link_pool(cfg, i, line, err, errlen))
			return -1;
	/* Every link of this node must be one of its pools. */
	for (unsigned int k = 0; k < rc->topo.nlinks; k++) {
		const struct route_link *l = &rc->topo.links[k];
		const char *other;
		bool found = false;

		if (l->a != rc->self_node && l->b != rc->self_node)
			continue;
		other = rc->topo.nodes[l->a == rc->self_node ? l->b : l->a];
		for (unsigned int i = 0; i < cfg->npools && !found; i++)
			found = !strcmp(cfg->pools[i].relay_node, other);
		if (!found) {
			*line = rc->line;
			return fail(err, errlen,
				    "[topology]: link %s-%s has no [pool] with relay_node = %s",
				    rc->self, other, other);
		}
	}
	for (unsigned int i = 0; i < rc->npools; i++)
		if (check_relay_pool(cfg, &rc->pools[i], line, err, errlen) ||
		    check_link_keys(cfg, &rc->pools[i], line, err, errlen))
			return -1;
	return 0;
}
