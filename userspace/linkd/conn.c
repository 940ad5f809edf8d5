// SPDX-License-Identifier: GPL-2.0
/*
 * Peer connections: non-blocking TCP and TLS driven by the event loop
 * (conn.h).  A master connects to its peer's listener (client), the peer
 * accepts (server).  Frames are read whole into a per-connection buffer
 * and handed to the connection's owner through its callbacks.  Frames are
 * small, so a send waits (at most SEND_TIMEOUT) rather than queueing.
 * Closing marks a connection dead; conn_sweep() frees it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "conn.h"
#include "log.h"
#include "policy.h"
#include "tls.h"

#define SEND_TIMEOUT	5000	/* ms */
#define REFUSED_LOG	10.0	/* s between "connections refused" lines */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct conn *conn_new(struct conn_set *s, int fd, bool server,
			     const struct conn_ops *ops, void *arg)
{
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (!c)
		return NULL;
	c->fd = fd;
	c->server = server;
	c->ops = ops;
	c->ctx = arg;
	c->deadline = conn_setup_deadline(server, s->handshake_timeout, now());
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	c->next = s->conns;
	s->conns = c;
	return c;
}

static int start_tls(struct conn *c, SSL_CTX *ctx, const char *peer_name)
{
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return -1;
	if (peer_name) {
		/* The listener's certificate must name the peer's SAE ID. */
		SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(c->ssl, peer_name) != 1)
			return -1;
	}
	c->state = CONN_HANDSHAKE;
	return 0;
}

struct conn *conn_connect(struct conn_set *s, const char *host,
			  const char *port, SSL_CTX *ctx, const char *peer_name,
			  const struct conn_ops *ops, void *arg,
			  const char *label)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai;
	struct conn *c;
	int fd, r;

	r = getaddrinfo(host, port, &hints, &ai);
	if (r) {
		log_err("%s: peer %s: %s", label, host, gai_strerror(r));
		return NULL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return NULL;
	}
	r = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (r && errno != EINPROGRESS) {
		log_warn("%s: peer %s:%s: connect: %s", label, host, port,
			 strerror(errno));
		close(fd);
		return NULL;
	}
	c = conn_new(s, fd, false, ops, arg);
	if (!c) {
		close(fd);
		return NULL;
	}
	snprintf(c->label, sizeof(c->label), " %s", label);
	snprintf(c->peer, sizeof(c->peer), "%s:%s", host, port);
	/* The TLS session is made now; the handshake starts once connected. */
	if (start_tls(c, ctx, peer_name)) {
		conn_close(c, "TLS set-up failed");
		return NULL;
	}
	c->state = CONN_CONNECTING;
	c->want_write = true;
	return c;
}

unsigned int conn_unauthenticated(const struct conn_set *s, const char *src)
{
	unsigned int n = 0;

	for (const struct conn *c = s->conns; c; c = c->next)
		if (c->server && !c->dead && c->state != CONN_OPEN &&
		    (!src || !strcmp(c->src, src)))
			n++;
	return n;
}

/*
 * Close with a reset (SO_LINGER 0): no FIN exchange, no FIN_WAIT or
 * TIME_WAIT state kept for a connection nobody authenticated.
 */
static void close_reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static int park(struct conn_set *s, int fd)
{
	if (!s->parked) {
		s->parked = calloc(PARK_MAX, sizeof(*s->parked));
		if (!s->parked)
			return -1;
	}
	if (s->nparked >= PARK_MAX)
		return -1;
	s->parked[s->nparked++] = (struct parked){
		.fd = fd,
		.deadline = now() + s->handshake_timeout,
	};
	return 0;
}

void conn_unpark(struct conn_set *s, bool all)
{
	double t = now();

	for (unsigned int i = 0; i < s->nparked;) {
		if (all || t >= s->parked[i].deadline) {
			close_reset(s->parked[i].fd);
			s->parked[i] = s->parked[--s->nparked];
		} else {
			i++;
		}
	}
	if (all) {
		free(s->parked);
		s->parked = NULL;
	}
}

double conn_next_deadline(const struct conn_set *s, double t)
{
	for (const struct conn *c = s->conns; c; c = c->next)
		if (!c->dead && c->state != CONN_OPEN && c->deadline < t)
			t = c->deadline;
	for (unsigned int i = 0; i < s->nparked; i++)
		if (s->parked[i].deadline < t)
			t = s->parked[i].deadline;
	return t;
}

static void refused(struct conn_set *s, const char *src, enum admit why)
{
	double t = now();

	s->refused++;
	if (t < s->next_refused_log)
		return;
	log_warn("listener: refusing connections: %s (%lu refused so far; this one from %s)",
		 why == ADMIT_FULL ? "max_connections unauthenticated open" :
		 "max_connections_per_source from one address",
		 s->refused, src);
	s->next_refused_log = t + REFUSED_LOG;
}

/*
 * Accept every waiting connection the limits allow (policy.c,
 * conn_admit()): at most max_connections not yet authenticated, at most
 * max_connections_per_source of them from one address.  One over the
 * per-source limit is parked (never read, closed after handshake_timeout;
 * closed at once when PARK_MAX are parked), before any TLS.  The caller leaves
 * the listener out of the poll set while it is full.
 */
int conn_accept(struct conn_set *s)
{
	unsigned int total = conn_unauthenticated(s, NULL);
	int accepted = 0;

	while (total < s->max_conns) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char src[64] = "?", port[8] = "?";
		enum admit a;
		struct conn *c;
		int fd;

		fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &sl,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		if (conn_source_key((struct sockaddr *)&ss, sl, src, sizeof(src)))
			snprintf(src, sizeof(src), "?");
		a = conn_admit(total, conn_unauthenticated(s, src),
			       s->max_conns, s->max_conns_per_source);
		if (a != ADMIT) {
			refused(s, src, a);
			if (a != ADMIT_SOURCE || park(s, fd))
				close_reset(fd);
			continue;
		}
		getnameinfo((struct sockaddr *)&ss, sl, NULL, 0, port,
			    sizeof(port), NI_NUMERICSERV);
		c = conn_new(s, fd, true, s->server_ops, s->server_arg);
		if (!c) {
			close(fd);
			break;
		}
		snprintf(c->src, sizeof(c->src), "%s", src);
		snprintf(c->peer, sizeof(c->peer), strchr(src, ':') ?
			 "[%s]:%s" : "%s:%s", src, port);
		total++;
		accepted++;
		if (start_tls(c, s->server_ctx, NULL)) {
			conn_close(c, "TLS set-up failed");
			continue;
		}
	}
	return accepted;
}

void conn_set_open(struct conn *c, const char *label)
{
	c->state = CONN_OPEN;
	if (label)
		snprintf(c->label, sizeof(c->label), " %s", label);
}

/* Close; @fault: for the peer's fault, which its owner counts. */
static void end(struct conn *c, const char *why, bool fault)
{
	/*
	 * Reset only what never finished TLS: a peer that showed a valid
	 * certificate (CONN_HELLO) gets an orderly close, so that an ERROR
	 * written just before (another protocol version, an unknown pool)
	 * is not thrown away by the reset.
	 */
	bool anonymous = c->server && c->state < CONN_HELLO;

	if (c->dead)
		return;
	c->dead = true;
	if (why)
		log_info("peer %s%s: connection closed: %s", c->peer, c->label,
			 why);
	if (c->ops && c->ops->closed)
		c->ops->closed(c, fault);
	if (c->ssl) {
		if (c->state >= CONN_HELLO)
			SSL_shutdown(c->ssl);	/* close_notify, best effort */
		ERR_clear_error();
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (anonymous)
		close_reset(c->fd);	/* never authenticated */
	else
		close(c->fd);
	c->fd = -1;
	explicit_bzero(c->in, sizeof(c->in));
	c->inlen = 0;
}

void conn_close(struct conn *c, const char *why)
{
	end(c, why, false);
}

void conn_close_all(struct conn_set *s)
{
	for (struct conn *c = s->conns; c; c = c->next)
		conn_close(c, NULL);
	conn_sweep(s);
	conn_unpark(s, true);
}

void conn_expire(struct conn_set *s, double t)
{
	for (struct conn *c = s->conns; c; c = c->next) {
		if (c->dead || c->state == CONN_OPEN || t <= c->deadline)
			continue;
		if (c->server) {
			/* Unauthenticated: a flood must not flood the log. */
			log_debug("peer %s: connection closed: set-up timeout",
				  c->peer);
			end(c, NULL, true);
		} else {
			end(c, "set-up timeout", true);
		}
	}
}

void conn_sweep(struct conn_set *s)
{
	struct conn **pp = &s->conns;

	while (*pp) {
		struct conn *c = *pp;

		if (c->dead) {
			*pp = c->next;
			free(c);
		} else {
			pp = &c->next;
		}
	}
}

void conn_fault(struct conn *c, const char *why)
{
	end(c, why, true);
}

int conn_send(struct conn *c, const uint8_t *buf, int len)
{
	int off = 0;

	if (len < 0 || c->dead || c->state < CONN_HELLO)
		return -1;
	while (off < len) {
		int r = SSL_write(c->ssl, buf + off, len - off);
		struct pollfd pfd = { .fd = c->fd };

		if (r > 0) {
			off += r;
			continue;
		}
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_WRITE:
			pfd.events = POLLOUT;
			break;
		case SSL_ERROR_WANT_READ:
			pfd.events = POLLIN;
			break;
		default:
			ERR_clear_error();
			return -1;
		}
		if (poll(&pfd, 1, SEND_TIMEOUT) <= 0)
			return -1;
	}
	return 0;
}

static void handshake(struct conn *c)
{
	int r = c->server ? SSL_accept(c->ssl) : SSL_connect(c->ssl);
	char what[400];

	c->want_write = false;
	if (r == 1) {
		c->state = CONN_HELLO;
		if (c->ops->opened)
			c->ops->opened(c);
		return;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return;
	case SSL_ERROR_WANT_WRITE:
		c->want_write = true;
		return;
	default:
		snprintf(what, sizeof(what), "peer %s%s: TLS handshake", c->peer,
			 c->label);
		tls_log_errors(what, c->ssl, r);
		end(c, NULL, true);
	}
}

/*
 * A frame of another protocol version: say so in an ERROR of that version
 * (its layout is the same in all of them), so that the peer's log names
 * the problem, and close.  An older slave cannot decode this version's
 * HELLO: it closes without a word, and this side's log says why.
 */
static void other_version(struct conn *c)
{
	unsigned int v = c->in[4];
	uint8_t buf[PROTO_HDR_LEN + 3 + PROTO_TEXT_MAX];
	char text[PROTO_TEXT_MAX + 1];
	int len;

	snprintf(text, sizeof(text), "peer protocol version %u is not spoken here (version %u): upgrade qkd-linkd on both routers",
		 v, PROTO_VERSION);
	log_err("peer %s%s: speaks peer protocol version %u, this qkd-linkd version %u: upgrade qkd-linkd on both routers",
		c->peer, c->label, v, PROTO_VERSION);
	len = proto_encode_error(v, PROTO_E_VERSION, text, buf, sizeof(buf));
	if (len > 0)
		SSL_write(c->ssl, buf, len);	/* best effort */
	end(c, NULL, true);
}

static void do_read(struct conn *c)
{
	struct proto_frame f;

	for (;;) {
		int r = SSL_read(c->ssl, c->in + c->inlen,
				 sizeof(c->in) - c->inlen);

		if (r > 0) {
			c->inlen += r;
		} else {
			int e = SSL_get_error(c->ssl, r);

			if (e == SSL_ERROR_WANT_READ)
				break;
			if (e == SSL_ERROR_WANT_WRITE) {
				c->want_write = true;
				break;
			}
			ERR_clear_error();
			c->peer_closed = e == SSL_ERROR_ZERO_RETURN ||
					 e == SSL_ERROR_SYSCALL;
			conn_close(c, e != SSL_ERROR_ZERO_RETURN &&
				      e != SSL_ERROR_SYSCALL ? "TLS error" :
				   !c->server && c->state == CONN_HELLO ?
				   "closed by peer after our HELLO (a qkd-linkd speaking an older peer protocol closes so: check its version)" :
				   "closed by peer");
			return;
		}
		/* Hand over every whole frame. */
		for (;;) {
			int n = proto_frame_split(c->in, c->inlen, &f);

			if (n == PROTO_OTHER_VERSION) {
				other_version(c);
				return;
			}
			if (n < 0) {
				end(c, "malformed frame", true);
				return;
			}
			if (!n)
				break;
			/* The payload is read in place: consumed after. */
			c->ops->message(c, &f);
			if (c->dead)
				return;
			memmove(c->in, c->in + n, c->inlen - n);
			c->inlen -= n;
		}
	}
}

void conn_progress(struct conn *c, short revents)
{
	if (c->dead)
		return;
	if (c->state == CONN_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof(err);

		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			log_warn("peer %s%s: connect: %s", c->peer, c->label,
				 strerror(err));
			conn_close(c, NULL);
			return;
		}
		c->state = CONN_HANDSHAKE;
	}
	if (c->state == CONN_HANDSHAKE) {
		handshake(c);
		if (c->dead || c->state == CONN_HANDSHAKE)
			return;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR) || SSL_pending(c->ssl))
		do_read(c);
}
