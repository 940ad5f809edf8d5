/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qkd-linkd's daemon state: pools, peer connections, the event loop.
 */
#ifndef LINKD_H
#define LINKD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <openssl/ssl.h>
#include "config.h"
#include "conn.h"
#include "journal.h"
#include "policy.h"
#include "proto.h"
#include "qkd.h"
#include "recon.h"
#include "source.h"
#include "tls.h"
#include "window.h"
#include "worker.h"

struct linkd;
struct relay_daemon;
struct relay_link_status;

enum master_state {
	M_IDLE,			/* nothing in flight */
	M_WAIT_ACK,		/* OFFERs in flight, material held in @win */
	M_WAIT_ABORTED,		/* ABORTs of the journal's open offers sent */
	M_WAIT_RESET,		/* outbound side wiped, RESET sent */
};

struct pool_stats {
	uint64_t offers;		/* OFFERs sent */
	uint64_t committed;		/* keys added to the outbound ring */
	uint64_t refused;		/* keys of offers the peer refused */
	uint64_t aborted;		/* keys of offers aborted */
	uint64_t received;		/* keys added to the inbound side */
	uint64_t removed;		/* inbound keys removed by an ABORT */
	uint64_t resets;		/* directions reset (reconciliation) */
	uint64_t kme_errors;
	uint64_t peer_errors;
};

/*
 * What one role (the master's outbound fill, the slave's inbound fetch)
 * last saw of its key source, for operators: each role keeps its own, so
 * that a dec_keys error for the peer's offer does not mark this side's
 * enc_keys KME down, nor the other way round.
 */
#define HEALTH_ERR_LEN	256
struct pool_health {
	bool known;			/* the source answered or failed once */
	bool kme_ok;			/* its last call succeeded */
	char last_error[HEALTH_ERR_LEN];	/* "" none yet */
};

/* The master role: fills this node's outbound direction (master.c). */
struct pool_master {
	SSL_CTX *client_ctx;		/* this SAE's certificate */
	struct conn *out;		/* to the peer's listener */
	enum master_state state;
	struct window win;		/* in flight: OFFERs or ABORTs */
	struct journal j;
	/*
	 * The journal on disk is not the one in memory (a write failed): no
	 * commit and no new offer until a write succeeds (master.c, save()).
	 */
	bool journal_dirty;
	bool job_busy;			/* a status or enc_keys job queued */
	double next_try;
	struct retry retry;
	double next_status;
	unsigned int max_batch;		/* from the source's status */
	bool filling;
	bool was_kme_ok;
	struct pool_health health;	/* status and enc_keys */
	/* Both ends announced PROTO_CAP_RELAY on @out (HELLO, HELLO_OK). */
	bool relay_ok;
	/*
	 * An older qkd-linkd closes at a HELLO with the capability byte
	 * (master.c, master_hello()): @hello_caps, the HELLO on @out had
	 * it; @hello_answered, a frame came back before HELLO_OK;
	 * @hello_plain, send the next HELLO without it; @old_peer_logged,
	 * "runs without relay" said (until the peer relays again).
	 */
	bool hello_caps, hello_answered, hello_plain, old_peer_logged;
};

/* The slave role: the peer's outbound direction, this node's inbound. */
struct pool_slave {
	struct conn *conn;		/* the peer master's connection */
	bool connected;
	uint64_t aborted_seq;		/* refuse OFFERs at or below */
	/*
	 * Bumped by every HELLO, RESET and close of the connection: a
	 * dec_keys job carries the value at its OFFER and the worker skips
	 * (no KME request) a job whose value is no longer this one.  Written
	 * on the event loop, read by the worker thread.
	 */
	_Atomic uint64_t gen;
	unsigned int queued;		/* dec_keys jobs not yet answered */
	bool reset_due;			/* HELLO_OK asked for a RESET */
	struct pool_epoch master_epoch;	/* the master's pool, from HELLO */
	struct pool_health health;	/* dec_keys */
	/* Both ends announced PROTO_CAP_RELAY on @conn (HELLO, HELLO_OK). */
	bool relay_ok;
};

struct pool {
	struct pool_cfg cfg;
	struct linkd *d;
	uint32_t id;			/* the kernel pool */
	/*
	 * The source's calls run off the event loop (worker.h): the master's
	 * on @worker, the slave's on @worker_in.  A KME gets a second source
	 * instance (its own connection) for the slave, so that dec_keys for
	 * the peer never waits behind this side's enc_keys; a stream source
	 * is one instance (one file of read positions): @worker_in is then
	 * @worker and @src_in unused.
	 */
	struct source src;
	struct source src_in;
	struct worker *worker;
	struct worker *worker_in;
	struct pool_master master;
	struct pool_slave slave;
	/* operators */
	struct pool_stats st;
	struct pool_stats st_last;	/* at the last rate log */
	/* status.c: what changed since the last status write, and when */
	struct pool_stats st_status;
	time_t last_refill[2];		/* out, in; 0 = none yet */
	time_t last_error_time;		/* 0 = none yet */
};

struct linkd {
	const char *config_path;
	struct config *cfg;
	struct qkd *qkd;
	struct conn_set cs;		/* the listener, the peer connections */
	int signal_fd;
	int wake_fd;			/* eventfd: a worker finished a job */
	struct pool *pools;
	unsigned int npools;
	double next_status_write;
	double next_rate_log;
	uint8_t boot[EPOCH_BOOT_LEN];	/* this boot's ID */
	uint64_t netns;			/* this network namespace's cookie */
	/*
	 * kernel_sync() re-created @p's kernel pool (the keys are gone): the
	 * roles recover and reconnect.  0, or -1 to be tried again later.
	 * Set by main.c: kernel.c knows neither role.
	 */
	int (*pool_recreated)(struct linkd *d, struct pool *p);
	/*
	 * The trusted-node relay (relay_daemon.h), NULL when this node does
	 * not relay; and its two entry points from master.c and slave.c,
	 * set by main.c (NULL in the daemon tests: a RELAY frame is then
	 * unexpected, no capability is announced).
	 */
	struct relay_daemon *relay;
	/* A RELAY frame on one of @p's connections (announced both ways). */
	void (*relay_frame)(struct linkd *d, struct pool *p,
			    const struct proto_frame *f);
	/* @p's master committed @n keys to its outbound side. */
	void (*relay_credit)(struct linkd *d, struct pool *p, unsigned int n);
	/*
	 * status.c (NULL when this node does not relay): @p's relay budget
	 * and link keys taken (false when @p does not relay), and the
	 * end-to-end pools' entries (relay_status.h).
	 */
	bool (*relay_link_status)(const struct linkd *d, const struct pool *p,
				  struct relay_link_status *s);
	void (*relay_status)(const struct linkd *d, FILE *f);
	bool kernel_stale;		/* pools to re-create: kernel_sync() */
	bool kernel_gone;		/* the family is not registered */
	double next_kernel_check;
};

double now_mono(void);

/* master.c: connects with its own struct conn_ops, the pool as ctx. */
void master_step(struct linkd *d, struct pool *p);
int master_recover(struct linkd *d, struct pool *p);
/* The earliest time master_step() has something to do. */
double master_wakeup(const struct linkd *d, const struct pool *p);
/* Wipe what is in flight (the daemon stops or reloads, the channel closed). */
void master_drop(struct pool *p);
/* A finished job of the pool's worker: to the master or the slave side. */
void master_on_job(struct linkd *d, struct pool *p, struct job *j);
void slave_on_job(struct linkd *d, struct pool *p, struct job *j);
/* The HELLO of a new connection to the peer (for the tests too). */
void master_hello(struct linkd *d, struct pool *p, struct proto_hello *m);
/*
 * The kernel pool was created again under the daemon: the journal is
 * read against the new pool, the connection closed (reconcile first),
 * the fill restarted.  0 or -1.
 */
int master_pool_recreated(struct linkd *d, struct pool *p);

/* slave.c: accepted connections, the struct linkd as ctx. */
extern const struct conn_ops slave_conn_ops;
/* The kernel pool was created again: the peer reconnects, reconciles. */
void slave_pool_recreated(struct pool *p);

/* The one place a role's last error is recorded (status file). */
void health_set_error(struct pool_health *h, const char *err);

/* kernel.c */
/* The boot ID and network namespace cookie: 0, or -1 (logged). */
int kernel_identity(struct linkd *d);
/* The epoch of @p's kernel pool (recon.h). */
void kernel_epoch(const struct linkd *d, const struct pool *p,
		  struct pool_epoch *e);
int kernel_pool_setup(struct linkd *d, struct pool *p);
enum family_action kernel_handle_check(struct linkd *d);
/* Re-create missing pools: 1 if any was, 0 if none missing, -1 (later). */
int kernel_sync(struct linkd *d);
/* After a pool operation failed with @ret: 1 if pools were re-created. */
int kernel_check(struct linkd *d, int ret);

/* status.c */
#define STATUS_INTERVAL	1	/* s between status file writes */
void status_write(struct linkd *d);
void status_log_rates(struct linkd *d, double interval);

#endif
