/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qkd-linkd's daemon state: pools, peer connections, the event loop.
 */
#ifndef LINKD_H
#define LINKD_H

#include <stdbool.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include "config.h"
#include "journal.h"
#include "proto.h"
#include "qkd.h"
#include "source.h"

enum conn_state {
	CONN_CONNECTING,	/* client: TCP connect in progress */
	CONN_HANDSHAKE,		/* TLS handshake */
	CONN_HELLO,		/* waiting for HELLO (server) / HELLO_OK (client) */
	CONN_OPEN,
};

struct pool;

struct conn {
	int fd;
	SSL *ssl;
	enum conn_state state;
	bool server;
	bool want_write;
	bool dead;
	struct pool *pool;	/* client: always; server: after HELLO */
	double deadline;	/* for CONNECTING, HANDSHAKE and HELLO */
	char peer[300];		/* address, for logs */
	size_t inlen;
	uint8_t in[PROTO_MAX_FRAME];
	struct conn *next;
};

enum master_state {
	M_IDLE,
	M_WAIT_ACK,		/* OFFER sent, material held in @pending */
	M_WAIT_ABORTED,		/* ABORT of the journal's open offer sent */
};

struct pool_stats {
	uint64_t offers;		/* OFFERs sent */
	uint64_t committed;		/* keys added to the outbound ring */
	uint64_t refused;		/* keys of offers the peer refused */
	uint64_t aborted;		/* keys of offers aborted */
	uint64_t received;		/* keys added to the inbound side */
	uint64_t removed;		/* inbound keys removed by an ABORT */
	uint64_t kme_errors;
	uint64_t peer_errors;
};

struct pool {
	struct pool_cfg cfg;
	uint32_t id;			/* the kernel pool */
	struct source src;
	struct journal j;
	/* master side (outbound) */
	SSL_CTX *client_ctx;		/* this SAE's certificate */
	struct conn *out;
	enum master_state mstate;
	struct qkd_key *pending;
	size_t npending;
	double next_try;
	double backoff;
	double ack_deadline;
	double next_status;
	unsigned int max_batch;		/* from the source's status */
	bool filling;
	bool kme_ok;
	bool was_kme_ok;
	/* slave side (inbound) */
	uint64_t aborted_seq;		/* refuse OFFERs at or below */
	bool in_connected;
	/* operators */
	struct pool_stats st;
	struct pool_stats st_last;	/* at the last rate log */
	char last_error[256];
};

struct linkd {
	const char *config_path;
	struct config *cfg;
	struct qkd *qkd;
	SSL_CTX *server_ctx;
	int listen_fd;
	int signal_fd;
	struct pool *pools;
	unsigned int npools;
	struct conn *conns;
	double next_status_write;
	double next_rate_log;
};

double now_mono(void);

/* tls.c */
SSL_CTX *tls_server_ctx(const struct config *cfg, char *err, size_t errlen);
SSL_CTX *tls_client_ctx(const struct config *cfg, const struct pool_cfg *pc,
			char *err, size_t errlen);
int tls_peer_has_name(SSL *ssl, const char *name);
void tls_log_errors(const char *what, SSL *ssl, int ret);

/* conn.c */
struct conn *conn_connect(struct linkd *d, struct pool *p);
struct conn *conn_accept(struct linkd *d);
void conn_progress(struct linkd *d, struct conn *c, short revents);
int conn_send(struct conn *c, const struct proto_msg *m);
void conn_close(struct linkd *d, struct conn *c, const char *why);
void conn_sweep(struct linkd *d);

/* master.c and slave.c */
void master_step(struct linkd *d, struct pool *p);
void master_on_msg(struct linkd *d, struct pool *p, struct proto_msg *m);
void master_on_open(struct linkd *d, struct pool *p);
void master_on_close(struct linkd *d, struct pool *p);
int master_recover(struct linkd *d, struct pool *p);
void slave_on_msg(struct linkd *d, struct conn *c, struct proto_msg *m);

/* status.c */
void status_write(struct linkd *d);
void status_log_rates(struct linkd *d, double interval);

#endif
