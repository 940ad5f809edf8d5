/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The peer channel's transport: non-blocking TCP and TLS connections, the
 * listener and its limits, whole frames in and out.  It knows nothing of
 * pools, masters or slaves: whoever creates a connection (the master with
 * conn_connect(), the listener for the slave) gives it callbacks and a
 * context, as strongSwan's vici_socket does, and says when the peer has
 * identified itself (conn_set_open()).
 */
#ifndef LINKD_CONN_H
#define LINKD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include "proto.h"

enum conn_state {
	CONN_CONNECTING,	/* client: TCP connect in progress */
	CONN_HANDSHAKE,		/* TLS handshake */
	CONN_HELLO,		/* TLS up, the peer not yet identified */
	CONN_OPEN,		/* identified by its owner (conn_set_open()) */
};

struct conn;

/* What a connection tells its owner.  Each may close @c. */
struct conn_ops {
	/* The TLS handshake completed (a client sends its HELLO now). */
	void (*opened)(struct conn *c);
	/*
	 * A whole frame of this version with a known type; its payload is
	 * the owner's to decode (proto.h, one decoder per type), valid
	 * during the call only.  A payload that does not decode is the
	 * peer's fault: conn_fault().
	 */
	void (*message)(struct conn *c, const struct proto_frame *f);
	/*
	 * Closed, once, by anyone; @fault when the transport closed it for
	 * the peer's fault (TLS failure, malformed frame, set-up timeout).
	 */
	void (*closed)(struct conn *c, bool fault);
};

struct conn {
	int fd;
	SSL *ssl;
	enum conn_state state;
	bool server;
	bool want_write;
	bool dead;
	/* Ended by the peer (its close_notify, EOF or reset), not by us. */
	bool peer_closed;
	const struct conn_ops *ops;
	void *ctx;		/* the owner's, given at creation */
	void *user;		/* the owner's, set once the peer is known */
	double deadline;	/* for CONNECTING, HANDSHAKE and HELLO */
	char peer[300];		/* address, for logs */
	char label[80];		/* " pool NAME" once known, for logs */
	char src[64];		/* server: source address, for the limits */
	size_t inlen;
	uint8_t in[PROTO_MAX_FRAME];
	struct conn *next;
};

/*
 * A connection over its source's limit: accepted, never read, closed at
 * @deadline (a tarpit: a flooder that re-opens what is closed is slowed to
 * its connections / handshake_timeout, instead of an accept and a close
 * per try at the rate it likes).
 */
struct parked {
	int fd;
	double deadline;
};

#define PARK_MAX	256

/* The listener and every connection: what the event loop polls. */
struct conn_set {
	struct conn *conns;
	int listen_fd;
	SSL_CTX *server_ctx;
	const struct conn_ops *server_ops;	/* for accepted connections */
	void *server_arg;			/* their ctx */
	unsigned int max_conns;
	unsigned int max_conns_per_source;
	unsigned int handshake_timeout;		/* s */
	unsigned long refused;			/* connections over a limit */
	struct parked *parked;			/* over the per-source limit */
	unsigned int nparked;
	double next_refused_log;
};

/*
 * Connect to @host:@port; the listener's certificate must name
 * @peer_name.  NULL (logged) on an immediate failure.
 */
struct conn *conn_connect(struct conn_set *s, const char *host,
			  const char *port, SSL_CTX *ctx, const char *peer_name,
			  const struct conn_ops *ops, void *arg,
			  const char *label);
/* Accept what the limits allow; the number accepted. */
int conn_accept(struct conn_set *s);
/* Server connections not yet open (for the limits); @src NULL: all. */
unsigned int conn_unauthenticated(const struct conn_set *s, const char *src);
/* Close parked connections past their deadline (all with @all). */
void conn_unpark(struct conn_set *s, bool all);
/* The earliest set-up or park deadline, or @t. */
double conn_next_deadline(const struct conn_set *s, double t);
/* Close connections past their set-up deadline. */
void conn_expire(struct conn_set *s, double now);
void conn_progress(struct conn *c, short revents);
/*
 * Send a frame (proto.h's encoders give @buf and @len: a negative @len,
 * an encoder's failure, is refused).  0 or -1.
 */
int conn_send(struct conn *c, const uint8_t *buf, int len);
/* Close for the peer's fault (a malformed payload): counted as such. */
void conn_fault(struct conn *c, const char *why);
/* The peer identified itself: no set-up deadline, out of the limits. */
void conn_set_open(struct conn *c, const char *label);
void conn_close(struct conn *c, const char *why);
/* Close every connection and every parked one. */
void conn_close_all(struct conn_set *s);
/* Free the connections closed since the last call. */
void conn_sweep(struct conn_set *s);

#endif
