/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Whether a link pool can carry relayed keys (Documentation/relay.rst,
 * "In qkd-linkd"): the one predicate the relay's routing and its takes
 * ask (relay_daemon.c), apart so that the daemon tests can drive it
 * through master.c and slave.c as qkd-linkd runs them.
 */
#ifndef LINKD_RELAY_LINK_H
#define LINKD_RELAY_LINK_H

#include <stdbool.h>

struct pool;

/*
 * Open for relay frames: the kernel pool there, both connections open
 * with the capability both ways, neither direction being reset (their
 * keys are about to be wiped on both sides).  Frames and answers pass,
 * and KEYS from the neighbour are taken in: their link keys are the
 * neighbour's outbound ones, whatever this side's key source does.
 */
bool relay_link_open(const struct pool *p);

/*
 * Up for relaying (routing, and this side's outbound link keys): open,
 * and the QKD link producing keys: this side's key source did not fail
 * its last call.  A QKD link cut with the peer channel still up is a
 * down link: routing goes around it, and what its pool holds stays for
 * the link's own IPsec.
 */
bool relay_link_up(const struct pool *p);

#endif
