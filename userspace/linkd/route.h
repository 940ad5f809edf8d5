/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Paths for relayed keys (Documentation/relay.rst, "Routing"): the
 * topology the operator declares (nodes, links with their expected key
 * rates), which links are up, and the path an end-to-end pool's keys take.
 *
 * A link costs ROUTE_SCALE / rate (rate in bit/s): a path avoids slow
 * links, and among equally fast ones takes fewer hops.  Equal paths are
 * told apart by the names of the nodes (the smaller predecessor wins), so
 * every node computes the same path from the same topology, whatever the
 * order it was declared in (the two ends of an end-to-end pool may still
 * pick different paths for their two directions: each origin computes its
 * own).  No allocation: a topology is one struct.
 */
#ifndef LINKD_ROUTE_H
#define LINKD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "relay_frame.h"

#define ROUTE_MAX_NODES		256
#define ROUTE_MAX_LINKS		1024
#define ROUTE_NAME_MAX		RELAY_NAME_MAX
#define ROUTE_MAX_PATH		RELAY_MAX_PATH	/* nodes, ends included */
/*
 * A link of 1 bit/s costs 10^15: rates up to ROUTE_RATE_MAX cost at least
 * 1000, so rates that differ by more than 0.1% cost differently, and a
 * path of ROUTE_MAX_NODES links still sums far below 2^64.
 */
#define ROUTE_SCALE		1000000000000000ull
#define ROUTE_RATE_MAX		1000000000000ull	/* 1 Tbit/s */
#define ROUTE_ERR_LEN		160
/*
 * The longest path as text: ROUTE_MAX_PATH names of ROUTE_NAME_MAX
 * characters, a space between two, the NUL.  The status file and qkdctl
 * (LINKD_PATH_LEN) size their paths so: no path is ever cut.
 */
#define ROUTE_PATH_STR_LEN	(ROUTE_MAX_PATH * (ROUTE_NAME_MAX + 1))
/* What ends a path cut to a smaller buffer, at a name's boundary. */
#define ROUTE_PATH_CUT		" ..."

struct route_link {
	uint16_t a, b;		/* node indices, a != b */
	uint64_t rate;		/* bit/s, 1 .. ROUTE_RATE_MAX */
	bool up;
};

struct route_topo {
	unsigned int nnodes, nlinks;
	char nodes[ROUTE_MAX_NODES][ROUTE_NAME_MAX + 1];
	struct route_link links[ROUTE_MAX_LINKS];
};

struct route_path {
	unsigned int n;			/* nodes, 2 .. ROUTE_MAX_PATH */
	uint16_t nodes[ROUTE_MAX_PATH];
	uint64_t cost;			/* sum of ROUTE_SCALE / rate */
	int bottleneck;			/* the link of smallest rate */
};

void route_init(struct route_topo *t);

/*
 * Declare a node (1 to 64 of A-Z a-z 0-9 . _ -) or a link, up, between
 * two declared nodes.  The index, or -1 with the reason in @err (may be
 * NULL): a bad or repeated name, a link to itself or declared twice, a
 * rate of 0, too many.
 */
int route_add_node(struct route_topo *t, const char *name, char *err,
		   size_t errlen);
int route_add_link(struct route_topo *t, const char *a, const char *b,
		   uint64_t rate, char *err, size_t errlen);

int route_find_node(const struct route_topo *t, const char *name);
/* The link between nodes @a and @b (indices, either order), or -1. */
int route_find_link(const struct route_topo *t, unsigned int a,
		    unsigned int b);

/* A link went down or came up; its expected rate changed.  0 or -1. */
int route_set_up(struct route_topo *t, unsigned int link, bool up);
int route_set_rate(struct route_topo *t, unsigned int link, uint64_t rate);

/*
 * The cheapest path over links that are up from node @from to node @to.
 * 0, or -1 with the reason in @err ("no path from tokyo to kobe", or a
 * shortest path longer than ROUTE_MAX_PATH nodes).
 */
int route_shortest(const struct route_topo *t, unsigned int from,
		   unsigned int to, struct route_path *p, char *err,
		   size_t errlen);

/*
 * Path @nodes (@n node indices) pinned by the operator: 0 and @p filled
 * when every link on it is declared and up, -1 with the reason otherwise
 * ("link nagoya-osaka is down").  There is no fallback: a pinned path
 * excludes the others.
 */
int route_pinned(const struct route_topo *t, const uint16_t *nodes,
		 unsigned int n, struct route_path *p, char *err,
		 size_t errlen);

/*
 * "tokyo nagoya osaka kobe" into @buf; returns @buf.  A @buf too small
 * (ROUTE_PATH_STR_LEN always does) gets the names that fit, whole, then
 * ROUTE_PATH_CUT: never a name cut in the middle, which would read as
 * another node.
 */
char *route_path_str(const struct route_topo *t, const struct route_path *p,
		     char *buf, size_t len);

/*
 * Append node @name to the path text in @buf (@len bytes, *@off used),
 * @last when no name follows: a space before it unless it is the first,
 * and, when it would not leave room for ROUTE_PATH_CUT (or, being the
 * last, for itself), ROUTE_PATH_CUT instead.  false once the text is cut
 * (the caller stops).
 */
bool route_path_add(char *buf, size_t len, size_t *off, const char *name,
		    bool last);

#endif
