/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The trusted-node relay in qkd-linkd (Documentation/relay.rst): one
 * relay_node (relay_node.h) built from the configuration's [topology] and
 * [relay NAME] sections, with its I/O over the daemon:
 *
 * - link pools: the [pool] whose relay_node names a neighbour; relaying
 *   takes the oldest keys of its outbound side (qkd_key_take_next) within
 *   the link's relay_share and relay_reserve (relay_budget.h, credited
 *   when the master commits an offer) and the keys a frame names from its
 *   inbound side (qkd_key_take_id);
 * - peer connections: forward frames (KEYS, ABORT) on this node's master
 *   connection of that pool, answers on the connection the neighbour
 *   opened, both only once both ends announced PROTO_CAP_RELAY; a link is
 *   up for relaying while both connections are open, neither direction
 *   is being reset and its QKD link produces keys (relay_link.h);
 * - end-to-end pools: kernel pools created from [relay NAME] as link
 *   pools are from [pool NAME];
 * - persistence: STATE_DIR/NAME.relay (relay_state.h), fsynced before the
 *   frames that need it leave.
 *
 * Everything runs on the event loop; no KME worker sees relay work.
 * Link keys and relayed keys pass through locked memory (secmem.h) and
 * are wiped after each call; nothing of them is logged.
 */
#ifndef LINKD_RELAY_DAEMON_H
#define LINKD_RELAY_DAEMON_H

struct linkd;

/*
 * Build the relay when the configuration has a [topology] (d->cfg):
 * kernel pools of the end-to-end pools, their state files, the engine.
 * 0 (also when this node does not relay), or -1 (logged).
 */
int relay_daemon_setup(struct linkd *d);
/*
 * Free the relay; first, when it ran, send the ABORTs of the transfers
 * it originated and not settled (relay_node_shutdown()): call it while
 * the peer connections are still open.
 */
void relay_daemon_teardown(struct linkd *d);
/*
 * Routes, expiry, new transfers: called at every turn of the event loop,
 * it steps the engine only when something changed its work (a frame that
 * settles a transfer, a link up or down, a link's budget credited) or a
 * timer of the engine ran out (relay_node_due()): an idle relay costs no
 * pool read, no I/O.
 */
void relay_daemon_step(struct linkd *d);
/* The earliest time relay_daemon_step() has something to do, or @t. */
double relay_daemon_wakeup(const struct linkd *d, double t);

#endif
