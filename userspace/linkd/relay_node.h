/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One trusted node's relay engine (Documentation/relay.rst): every
 * relayed frame that reaches this node and every end-to-end pool it is an
 * end of, on the event loop, over I/O the daemon supplies (struct
 * relay_node_io: the link pools' takes, the peer connections, the
 * end-to-end pools, the journal), so that a whole network of nodes runs in
 * one unit test.
 *
 * As the origin of an end-to-end pool it routes over the declared
 * topology (its own links are down when io.link_up says so, a remote link
 * when an answer said "link down" from its end, for RELAY_DOWN_HOLD s),
 * logs path changes, fills the pool's outbound side between its
 * watermarks by transfers of batch_size keys (IDs from getrandom, the
 * transfer number persisted before its KEYS go out), commits on the far
 * end's tagged ACK, aborts (and resends the ABORT until ABORTED) what
 * expired, what a path change left behind and what its pool refused.  As
 * a relay it opens, re-seals and forwards KEYS, and passes answers and
 * ABORTs along the path; as the far end it adds the keys to the pool's
 * inbound side (all or none) and answers.  A send that fails is a loss:
 * nothing is re-sealed, nothing answered; the origin's expiry settles it.
 */
#ifndef LINKD_RELAY_NODE_H
#define LINKD_RELAY_NODE_H

#include <stdbool.h>
#include <stdint.h>
#include "relay_config.h"
#include "relay_hop.h"
#include "relay_xfer.h"
#include "route.h"

#define RELAY_DOWN_HOLD		30.0	/* s a reported remote link stays down */
/*
 * After a transfer refused on the way (a relay's share used up, the far
 * end's pool full, ...) the origin sends no new one for RELAY_BUSY_MIN s,
 * doubling up to RELAY_BUSY_MAX while refusals go on, until a commit:
 * each refused transfer has consumed the link keys of the hops before.
 */
#define RELAY_BUSY_MIN		1.0
#define RELAY_BUSY_MAX		30.0
#define RELAY_NODE_LINKS	16	/* neighbours counted per node */
/*
 * s between reads of an end-to-end pool's level while nothing else
 * happens: the kernel does not tell qkd-linkd when IPsec takes keys, so
 * an origin with a path looks this often (one pool read), and an engine
 * with no end-to-end pool of its own (a pure relay) never steps unless a
 * link goes up or down or a timer it set runs out.
 */
#define RELAY_LEVEL_POLL	1.0

enum relay_dir { RELAY_DIR_OUT, RELAY_DIR_IN };

struct relay_node_io {
	/* The link pools (relay_hop.h); key_len 0 while a link is down. */
	struct relay_links links;
	/* The peer channel to neighbour @node is up both ways, not resetting. */
	bool (*link_up)(void *ctx, const char *node);
	/*
	 * Send a frame to neighbour @node: @forward frames (KEYS, ABORT) on
	 * this node's master connection to it, the others on the connection
	 * it opened to this node.  0, or -1: the frame is lost.
	 */
	int (*send)(void *ctx, const char *node, bool forward,
		    const uint8_t *buf, size_t len);
	/* End-to-end pool @pool (an index of relay_cfg.pools). */
	unsigned int (*level)(void *ctx, unsigned int pool, enum relay_dir d);
	unsigned int (*room)(void *ctx, unsigned int pool, enum relay_dir d);
	/* Add @n keys (IDs, material) to one side: all or none.  0 or -1. */
	int (*add)(void *ctx, unsigned int pool, enum relay_dir d,
		   const uint8_t (*ids)[RELAY_ID_LEN], const uint8_t *keys,
		   unsigned int n, unsigned int key_len);
	/* Take and wipe those of @ids in the inbound side: how many were. */
	unsigned int (*remove_in)(void *ctx, unsigned int pool,
				  const uint8_t (*ids)[RELAY_ID_LEN],
				  unsigned int n);
	/*
	 * Persist (fsynced, relay_state.h) that the origin's transfer
	 * numbers below @next are used and that the far end refuses
	 * transfers at or below @aborted.  0 or -1 (then the frame that
	 * needed it is not sent).
	 */
	int (*persist)(void *ctx, unsigned int pool, uint64_t next,
		       uint64_t aborted);
	void *ctx;
};

/* Counters of a link, per neighbour, for qkdctl: link keys taken to relay. */
struct relay_link_use {
	char node[ROUTE_NAME_MAX + 1];
	uint64_t out, in;		/* link keys, outbound and inbound side */
};

struct relay_e2e {
	const struct relay_pool_cfg *cfg;
	unsigned int key_len;		/* bytes */
	struct relay_origin o;
	struct relay_far far;
	bool have_path, filling;
	bool far_dirty;			/* the far end's mark not yet on disk */
	struct route_path path;
	char path_str[ROUTE_PATH_STR_LEN];
	char no_path[ROUTE_ERR_LEN];	/* why there is none */
	uint64_t persisted;		/* transfer numbers below are on disk */
	double next_abort;		/* when the pending ABORT goes again */
	uint64_t keys_out, keys_in;	/* committed, delivered */
	uint64_t path_changes;
	/* For qkdctl (Documentation/relay.rst, "Operations"): */
	double path_since;		/* the path last set or lost; 0 never */
	char in_path[ROUTE_PATH_STR_LEN];	/* the last delivered transfer's */
	char last_error[RELAY_ERR_LEN + ROUTE_ERR_LEN];	/* "" none */
	double error_time;		/* when last_error was set */
	double busy, busy_until;	/* the hold after a refusal, s; until */
};

struct relay_node {
	struct relay_node_io io;
	const struct relay_cfg *cfg;
	struct route_topo topo;		/* with the links' states */
	double down_until[ROUTE_MAX_LINKS];
	unsigned int self;
	double timeout;			/* per hop, s */
	struct relay_hop *hop;
	struct relay_e2e *e2e;		/* one per cfg->pools */
	struct relay_link_use use[RELAY_NODE_LINKS];
	uint64_t forwarded, delivered, refused, lost;
	struct relay_links inner;	/* io.links, which the engine wraps */
	uint8_t buf[2][RELAY_FRAME_MAX];
	uint8_t *keys;			/* secmem, RELAY_MAX_PAYLOAD */
	struct relay_frame f, g;
	/* relay_node_due(): an event since the last step; its next timer. */
	bool due;
	double next;
};

/*
 * @cfg checked (relay_config_check()); @timeout per hop in seconds.  0,
 * or -1 when memory is short.  @rn must stay where it is (@io's take
 * callbacks are wrapped to count link keys).
 */
int relay_node_init(struct relay_node *rn, const struct relay_cfg *cfg,
		    const struct relay_node_io *io, double timeout);
void relay_node_free(struct relay_node *rn);

/*
 * After a restart: end-to-end pool @pool's state as persisted (io.persist):
 * its next transfer number (those below may have been used) and the far
 * end's highest aborted transfer.
 */
void relay_node_resume(struct relay_node *rn, unsigned int pool,
		       uint64_t next, uint64_t aborted);

/* Routes, expiry, ABORTs and new transfers at time @now. */
void relay_node_step(struct relay_node *rn, double now);

/*
 * Whether relay_node_step() has anything to do at @now: an event since
 * the last step (an answer or ABORTED that reached this origin,
 * relay_node_kick()), one of this node's links went up or down
 * (io.link_up, no I/O in qkd-linkd), or the step's next timer ran out (a
 * transfer's deadline, an ABORT to resend, the end of a hold or of a
 * reported cut, the next level read).  Nothing else changes its work: an
 * idle engine is not stepped.
 */
bool relay_node_due(struct relay_node *rn, double now);
/* When relay_node_due() turns true by itself (-INFINITY: now). */
double relay_node_next(const struct relay_node *rn);
/* Something the engine cannot see changed (a link's relay budget). */
void relay_node_kick(struct relay_node *rn);

/*
 * Before relay_node_free() on a reload or exit: every transfer in flight
 * is given up and the ABORT of every transfer not yet settled is sent
 * over its pool's path (once: no ABORTED will be waited for), so that the
 * far end takes their keys back now rather than holding them as orphans
 * until max_age.  How many ABORTs were tried (a send that fails is
 * logged, and the far end keeps those keys until max_age).
 */
unsigned int relay_node_shutdown(struct relay_node *rn, double now);

/* A relay frame of @len bytes from neighbour @from (the connection's). */
void relay_node_on_frame(struct relay_node *rn, const char *from,
			 const uint8_t *buf, size_t len, double now);

#endif
