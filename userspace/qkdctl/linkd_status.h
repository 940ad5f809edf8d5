/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qkd-linkd's health next to the pools it fills: its status file (JSON,
 * rewritten every few seconds; Documentation/qkd-linkd.rst, "Health")
 * parsed strictly (linkd_status.c, pure, unit tested and fuzzed) and
 * found and matched to the kernel's pools (health.c, the I/O).  The file
 * holds states, counters, times and error texts: never key material.
 */
#ifndef QKDCTL_LINKD_STATUS_H
#define QKDCTL_LINKD_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qkd.h"

/* Where qkd-linkd's status files are looked for; QKD_LINKD_STATUS overrides. */
#define LINKD_STATUS_DIR	"/run/qkd-linkd"
#define LINKD_STATUS_ENV	"QKD_LINKD_STATUS"
/* A status not rewritten for this many of its intervals: the daemon died. */
#define LINKD_STALE_INTERVALS	5
/* Bounds on what is read: a status file is a few hundred bytes per pool. */
#define LINKD_STATUS_MAX_BYTES	(1024 * 1024)
#define LINKD_STATUS_MAX_POOLS	1024
#define LINKD_ERROR_LEN		256
#define LINKD_NODE_LEN		64	/* a relay node's name (RELAY_NAME_MAX) */
/* Node names, space-separated: linkd's ROUTE_PATH_STR_LEN, 32 x (64 + 1). */
#define LINKD_PATH_LEN		2080

enum linkd_state {
	LINKD_NONE,		/* no daemon's status names the pool */
	LINKD_RUNNING,		/* a status fresher than LINKD_STALE_INTERVALS */
	LINKD_STALE,		/* an older one: the daemon is not running */
};

/* A link pool that relays ("relay", 0.3+ files): relay.rst, "Operations". */
struct linkd_relay_link {
	char node[LINKD_NODE_LEN + 1];	/* the neighbour */
	uint32_t share;			/* percent */
	uint32_t reserve;		/* keys kept for IPsec */
	uint32_t bucket;		/* keys relaying may take now */
	uint64_t taken_out, taken_in;	/* link keys taken for relaying */
};

/* An end-to-end pool ([relay NAME]; the file's "relays", 0.3+). */
struct linkd_e2e {
	char peer[LINKD_NODE_LEN + 1];	/* the far end */
	char role_out[16], role_in[16];	/* "origin", "far-end" */
	char path[LINKD_PATH_LEN];	/* outbound, from here; "" none */
	char bottleneck[2 * LINKD_NODE_LEN + 2];	/* "a-b"; "" */
	uint64_t bottleneck_rate;	/* bit/s; 0 unknown */
	char path_in[LINKD_PATH_LEN];	/* the last delivered transfer's */
	uint64_t path_changes;
	int64_t path_changed;		/* s since the epoch; 0 never */
	bool filling;
	uint32_t in_flight;		/* keys sent, not answered */
	uint32_t hold;			/* s without new transfers after refusals */
	uint64_t committed, dropped, expired, aborted;	/* transfers */
	uint64_t keys_out, keys_in;	/* end-to-end keys relayed */
	char last_error[LINKD_ERROR_LEN];	/* "" none */
	int64_t last_error_time;	/* 0: none */
};

/* One pool's entry of a status file, and (health.c) its freshness. */
struct linkd_health {
	enum linkd_state state;
	/* the file's */
	int64_t time;			/* written, s since the epoch */
	uint32_t interval;		/* s between writes */
	int64_t pid;			/* 0: not given */
	uint64_t netns;			/* inode; 0: not given */
	/* the pool's */
	char name[QKD_POOL_NAME_MAX_LEN + 1];
	bool has_id;
	uint32_t id;
	bool stream;			/* source = stream: no KME */
	bool kme_up;			/* the master's key source (enc_keys) answered last time */
	/* The slave's (dec_keys for the peer's offers), apart: 0.2+ files. */
	bool kme_in_known;		/* given and not null */
	bool kme_in_up;
	char last_error_in[LINKD_ERROR_LEN];	/* "" none */
	bool peer_connected[2];		/* out (our master's), in (the peer's) */
	int64_t last_refill[2];		/* out, in: s since the epoch; 0 never */
	int64_t last_error_time;	/* 0: none, or not given */
	char last_error[LINKD_ERROR_LEN];	/* printable ASCII; "" none */
	uint64_t kme_errors;
	uint64_t peer_errors;
	char master_state[16];		/* idle, offer-sent, aborting; "" */
	/* The relay (0.3+ files; absent in older ones: neither set). */
	bool relays;			/* a link pool that relays: @relay */
	struct linkd_relay_link relay;
	bool e2e;			/* an end-to-end pool: only @end */
	struct linkd_e2e end;
	/* health.c: when qkdctl read it, for ages (formatters stay pure) */
	int64_t now;
};

/*
 * Parse a status file of @len bytes (not NUL-terminated).  On success 0,
 * with *pools (malloc'ed, free() it) and *n set: one entry per pool (the
 * link pools, then the end-to-end pools of "relays", e2e set), state
 * LINKD_RUNNING and now 0 (health.c sets them).  On failure -1, nothing
 * allocated, and the reason in @err: a file that is not exactly what
 * qkd-linkd writes is ignored as a whole.
 */
int linkd_status_parse(const char *buf, size_t len,
		       struct linkd_health **pools, size_t *n,
		       char *err, size_t errlen);

/*
 * LINKD_RUNNING or LINKD_STALE for a status written at @time every
 * @interval s, read at @now (a clock stepped back counts as fresh).
 */
enum linkd_state linkd_state_at(int64_t time, uint32_t interval, int64_t now);

/*
 * health.c: for each of the @n pools, the health of the freshest status
 * in this network namespace that names it (state LINKD_NONE when none),
 * into @out[n].  Files that cannot be read or parsed are skipped with one
 * line on stderr each; the pools are still shown.
 */
void linkd_health_read(const struct qkd_pool_info *pools, size_t n,
		       struct linkd_health *out);

#endif /* QKDCTL_LINKD_STATUS_H */
