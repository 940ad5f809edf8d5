// SPDX-License-Identifier: GPL-2.0
/*
 * Path selection over the declared topology (route.h): Dijkstra on an
 * adjacency scan, O(nodes^2 + nodes * links), well under a millisecond
 * for hundreds of nodes; it runs when a link changes, not per key.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "route.h"

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

void route_init(struct route_topo *t)
{
	t->nnodes = 0;
	t->nlinks = 0;
}

static bool name_ok(const char *s)
{
	size_t n = strnlen(s, ROUTE_NAME_MAX + 1);

	if (!n || n > ROUTE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

int route_find_node(const struct route_topo *t, const char *name)
{
	for (unsigned int i = 0; i < t->nnodes; i++)
		if (!strcmp(t->nodes[i], name))
			return (int)i;
	return -1;
}

int route_find_link(const struct route_topo *t, unsigned int a,
		    unsigned int b)
{
	for (unsigned int i = 0; i < t->nlinks; i++) {
		const struct route_link *l = &t->links[i];

		if ((l->a == a && l->b == b) || (l->a == b && l->b == a))
			return (int)i;
	}
	return -1;
}

int route_add_node(struct route_topo *t, const char *name, char *err,
		   size_t errlen)
{
	if (!name_ok(name))
		return fail(err, errlen,
			    "node '%.64s': not a name (1 to %d of A-Z a-z 0-9 . _ -)",
			    name, ROUTE_NAME_MAX);
	if (route_find_node(t, name) >= 0)
		return fail(err, errlen, "node %s declared twice", name);
	if (t->nnodes >= ROUTE_MAX_NODES)
		return fail(err, errlen, "more than %d nodes", ROUTE_MAX_NODES);
	strcpy(t->nodes[t->nnodes], name);
	return (int)t->nnodes++;
}

int route_add_link(struct route_topo *t, const char *a, const char *b,
		   uint64_t rate, char *err, size_t errlen)
{
	int ia = route_find_node(t, a), ib = route_find_node(t, b);
	struct route_link *l;

	if (ia < 0 || ib < 0)
		return fail(err, errlen, "link %.64s-%.64s: no node %.64s", a, b,
			    ia < 0 ? a : b);
	if (ia == ib)
		return fail(err, errlen, "link %s-%s: a node to itself", a, b);
	if (route_find_link(t, ia, ib) >= 0)
		return fail(err, errlen, "link %s-%s declared twice", a, b);
	if (!rate || rate > ROUTE_RATE_MAX)
		return fail(err, errlen, "link %s-%s: rate %llu (1 to %llu bit/s)",
			    a, b, (unsigned long long)rate,
			    (unsigned long long)ROUTE_RATE_MAX);
	if (t->nlinks >= ROUTE_MAX_LINKS)
		return fail(err, errlen, "more than %d links", ROUTE_MAX_LINKS);
	l = &t->links[t->nlinks];
	l->a = (uint16_t)ia;
	l->b = (uint16_t)ib;
	l->rate = rate;
	l->up = true;
	return (int)t->nlinks++;
}

int route_set_up(struct route_topo *t, unsigned int link, bool up)
{
	if (link >= t->nlinks)
		return -1;
	t->links[link].up = up;
	return 0;
}

int route_set_rate(struct route_topo *t, unsigned int link, uint64_t rate)
{
	if (link >= t->nlinks || !rate || rate > ROUTE_RATE_MAX)
		return -1;
	t->links[link].rate = rate;
	return 0;
}

static uint64_t link_cost(const struct route_link *l)
{
	return ROUTE_SCALE / l->rate;
}

/* Cost, bottleneck of @p's nodes; -1 with a reason if a link is missing or down. */
static int walk(const struct route_topo *t, struct route_path *p, char *err,
		size_t errlen)
{
	uint64_t worst = UINT64_MAX;

	p->cost = 0;
	p->bottleneck = -1;
	for (unsigned int i = 0; i + 1 < p->n; i++) {
		int l = route_find_link(t, p->nodes[i], p->nodes[i + 1]);

		if (l < 0)
			return fail(err, errlen, "no link %s-%s",
				    t->nodes[p->nodes[i]],
				    t->nodes[p->nodes[i + 1]]);
		if (!t->links[l].up)
			return fail(err, errlen, "link %s-%s is down",
				    t->nodes[p->nodes[i]],
				    t->nodes[p->nodes[i + 1]]);
		p->cost += link_cost(&t->links[l]);
		if (t->links[l].rate < worst) {
			worst = t->links[l].rate;
			p->bottleneck = l;
		}
	}
	return 0;
}

int route_shortest(const struct route_topo *t, unsigned int from,
		   unsigned int to, struct route_path *p, char *err,
		   size_t errlen)
{
	uint64_t dist[ROUTE_MAX_NODES];
	unsigned int hops[ROUTE_MAX_NODES];
	int prev[ROUTE_MAX_NODES];
	bool done[ROUTE_MAX_NODES];
	unsigned int n = 0;

	if (from >= t->nnodes || to >= t->nnodes || from == to)
		return fail(err, errlen, "no such pair of nodes");
	for (unsigned int i = 0; i < t->nnodes; i++) {
		dist[i] = UINT64_MAX;
		hops[i] = 0;
		prev[i] = -1;
		done[i] = false;
	}
	dist[from] = 0;
	for (;;) {
		int u = -1;

		/* The nearest node not done; ties: fewer hops, then the name. */
		for (unsigned int i = 0; i < t->nnodes; i++) {
			if (done[i] || dist[i] == UINT64_MAX)
				continue;
			if (u < 0 || dist[i] < dist[u] ||
			    (dist[i] == dist[u] && hops[i] < hops[u]) ||
			    (dist[i] == dist[u] && hops[i] == hops[u] &&
			     strcmp(t->nodes[i], t->nodes[u]) < 0))
				u = (int)i;
		}
		if (u < 0 || (unsigned int)u == to)
			break;
		done[u] = true;
		for (unsigned int k = 0; k < t->nlinks; k++) {
			const struct route_link *l = &t->links[k];
			unsigned int v;
			uint64_t d;

			if (!l->up || (l->a != u && l->b != u))
				continue;
			v = l->a == u ? l->b : l->a;
			if (done[v])
				continue;
			d = dist[u] + link_cost(l);
			/*
			 * A predecessor with an equal cost and hop count wins
			 * by its name: the path does not depend on the order
			 * in which nodes were settled or links declared.
			 */
			if (d < dist[v] ||
			    (d == dist[v] && hops[u] + 1 < hops[v]) ||
			    (d == dist[v] && hops[u] + 1 == hops[v] &&
			     strcmp(t->nodes[u], t->nodes[prev[v]]) < 0)) {
				dist[v] = d;
				hops[v] = hops[u] + 1;
				prev[v] = u;
			}
		}
	}
	if (dist[to] == UINT64_MAX)
		return fail(err, errlen, "no path from %s to %s",
			    t->nodes[from], t->nodes[to]);
	if (hops[to] + 1 > ROUTE_MAX_PATH)
		return fail(err, errlen,
			    "the shortest path from %s to %s has %u nodes (at most %d)",
			    t->nodes[from], t->nodes[to], hops[to] + 1,
			    ROUTE_MAX_PATH);
	p->n = hops[to] + 1;
	for (int v = (int)to; v >= 0; v = prev[v])
		p->nodes[p->n - 1 - n++] = (uint16_t)v;
	return walk(t, p, err, errlen);
}

int route_pinned(const struct route_topo *t, const uint16_t *nodes,
		 unsigned int n, struct route_path *p, char *err,
		 size_t errlen)
{
	if (n < 2 || n > ROUTE_MAX_PATH)
		return fail(err, errlen, "a path of %u nodes (2 to %d)", n,
			    ROUTE_MAX_PATH);
	for (unsigned int i = 0; i < n; i++) {
		if (nodes[i] >= t->nnodes)
			return fail(err, errlen, "node %u of the path: no such node", i);
		for (unsigned int j = 0; j < i; j++)
			if (nodes[i] == nodes[j])
				return fail(err, errlen,
					    "node %s twice in the path (a loop)",
					    t->nodes[nodes[i]]);
	}
	p->n = n;
	memcpy(p->nodes, nodes, n * sizeof(nodes[0]));
	return walk(t, p, err, errlen);
}

bool route_path_add(char *buf, size_t len, size_t *off, const char *name,
		    bool last)
{
	size_t sep = *off ? 1 : 0, cut = strlen(ROUTE_PATH_CUT);
	size_t need = sep + strlen(name) + (last ? 0 : cut);

	if (*off + need < len) {
		snprintf(buf + *off, len - *off, "%s%s", sep ? " " : "", name);
		*off += sep + strlen(name);
		return true;
	}
	/* The marker alone, without its space at the start of the text. */
	if (!*off && cut - 1 < len)
		snprintf(buf, len, "%s", &ROUTE_PATH_CUT[1]);
	else if (*off + cut < len)
		snprintf(buf + *off, len - *off, "%s", ROUTE_PATH_CUT);
	*off = len;
	return false;
}

char *route_path_str(const struct route_topo *t, const struct route_path *p,
		     char *buf, size_t len)
{
	size_t off = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	for (unsigned int i = 0; i < p->n; i++)
		if (!route_path_add(buf, len, &off, t->nodes[p->nodes[i]],
				    i + 1 == p->n))
			break;
	return buf;
}
