/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The trusted-node network in qkd-linkd.conf(5) (Documentation/relay.rst):
 *
 *	[topology]		the same on every node
 *	self = tokyo		this node
 *	node = tokyo nagoya	one or more names per line, repeatable
 *	link = tokyo nagoya 10M	two nodes and the link's expected key rate
 *				(bit/s, suffix k, M or G), repeatable
 *	[relay kobe]		an end-to-end pool, filled by relaying
 *	peer = kobe		its far end
 *	path = tokyo nagoya osaka kobe	optional: pinned
 *
 * and in each link's [pool NAME]: relay_node (the neighbour at the other
 * end of that link), relay_share (percent) and relay_reserve (keys).
 * config.c reads the sections; this file reads the [topology] lines, checks
 * a [relay] section, and checks everything against everything at the end.
 */
#ifndef LINKD_RELAY_CONFIG_H
#define LINKD_RELAY_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include "route.h"

#define RELAY_CFG_MAX_POOLS	64
#define RELAY_CFG_PATH_LEN	1024	/* a path as written: one line */
#define RELAY_RESERVE_DEFAULT	UINT_MAX	/* = the pool's low_watermark */

struct relay_pool_cfg {
	char name[65];				/* the kernel pool */
	int line;				/* of the [relay] header */
	char peer[ROUTE_NAME_MAX + 1];		/* the far end's node */
	char path[RELAY_CFG_PATH_LEN];		/* pinned, as written; or "" */
	unsigned int key_bits;
	unsigned int capacity;
	unsigned int low;
	unsigned int high;
	unsigned int batch;			/* keys per transfer */
	unsigned int max_age;
	/* Set by relay_config_check(). */
	int peer_node;
	unsigned int npath;			/* 0: not pinned */
	uint16_t path_nodes[ROUTE_MAX_PATH];
};

struct relay_cfg {
	int line;				/* of [topology]; 0: none */
	char self[ROUTE_NAME_MAX + 1];
	int self_line;
	int self_node;				/* set by relay_config_check() */
	struct route_topo topo;
	unsigned int npools;
	struct relay_pool_cfg pools[RELAY_CFG_MAX_POOLS];
};

struct config;

/* "10k", "1500000", "2.5M" (bit/s): 0, or -1 when it is not a rate. */
int relay_parse_rate(const char *s, uint64_t *rate);

/*
 * One "key = value" line of [topology] (@value may be modified).  0, or
 * -1 with the problem in @err.
 */
int relay_topology_line(struct relay_cfg *rc, const char *key, char *value,
			char *err, size_t errlen);

/* Defaults of a new [relay NAME] section. */
void relay_pool_defaults(struct relay_pool_cfg *rp);

/* The checks of one [relay] section on its own.  0, or -1 with @err. */
int relay_pool_check(const struct relay_pool_cfg *rp, char *err,
		     size_t errlen);

/*
 * Everything against everything once the whole file is read: the
 * topology names this node, each [relay] pool's far end and pinned path,
 * each link pool's relay_node and share.  0, or -1 with the problem in
 * @err and its line in @line.
 */
int relay_config_check(struct config *cfg, int *line, char *err,
		       size_t errlen);

#endif
