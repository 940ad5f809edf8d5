/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The relay's part of qkd-linkd's status file (status.c; qkdctl shows it:
 * Documentation/relay.rst, "Operations"): per link pool that relays its
 * share, reserve, budget and the link keys taken for relaying; per
 * end-to-end pool its roles, path, bottleneck, transfers, keys relayed
 * and last error.  Pure writers over what relay_daemon.c and relay_node.c
 * count, unit tested with a chain of nodes.  Counts, names, times and
 * error texts: never key material.
 */
#ifndef LINKD_RELAY_STATUS_H
#define LINKD_RELAY_STATUS_H

#include <stdint.h>
#include <stdio.h>
#include "relay_node.h"

/* A link pool's relay budget and use (relay_daemon.c fills it). */
struct relay_link_status {
	unsigned int share;		/* percent of the keys the link adds */
	unsigned int reserve;		/* keys that stay for IPsec */
	unsigned int bucket;		/* whole keys relaying may take now */
	uint64_t taken_out, taken_in;	/* link keys taken for relaying, ever */
};

/* ,"relay":{...} of the link pool to neighbour @node. */
void relay_status_link(FILE *f, const char *node,
		       const struct relay_link_status *s);

/*
 * ,"relays":[...]: one entry per end-to-end pool of @rn.  @mono_now and
 * @wall_now are the same instant on relay_node's clock and in s since
 * the epoch: the engine's times become wall-clock times.
 */
void relay_status_pools(FILE *f, const struct relay_node *rn, double mono_now,
			int64_t wall_now);

#endif
