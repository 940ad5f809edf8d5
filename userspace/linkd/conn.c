// SPDX-License-Identifier: GPL-2.0
/*
 * Peer connections: non-blocking TCP and TLS driven by the event loop.
 * A master connects to its peer's listener (client), the peer accepts
 * (server).  Frames are read whole into a per-connection buffer and handed
 * to master.c (client connections) or slave.c (server connections).
 * Frames are small, so a send waits (at most SEND_TIMEOUT) rather than
 * queueing.  Closing marks a connection dead; conn_sweep() frees it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "linkd.h"
#include "log.h"

#define SEND_TIMEOUT	5000	/* ms */
#define REFUSED_LOG	10.0	/* s between "connections refused" lines */

static struct conn *conn_new(struct linkd *d, int fd, bool server)
{
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (!c)
		return NULL;
	c->fd = fd;
	c->server = server;
	c->deadline = conn_setup_deadline(server, d->cfg->handshake_timeout,
					  now_mono());
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	c->next = d->conns;
	d->conns = c;
	return c;
}

static int start_tls(struct linkd *d, struct conn *c, SSL_CTX *ctx)
{
	(void)d;
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return -1;
	if (!c->server) {
		/* The listener's certificate must name the peer's SAE ID. */
		SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(c->ssl, c->pool->cfg.peer_sae_id) != 1)
			return -1;
	}
	c->state = CONN_HANDSHAKE;
	return 0;
}

struct conn *conn_connect(struct linkd *d, struct pool *p)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai;
	struct conn *c;
	int fd, r;

	r = getaddrinfo(p->cfg.peer_host, p->cfg.peer_port, &hints, &ai);
	if (r) {
		log_err("pool %s: peer %s: %s", p->cfg.name, p->cfg.peer_host,
			gai_strerror(r));
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
		log_warn("pool %s: peer %s:%s: connect: %s", p->cfg.name,
			 p->cfg.peer_host, p->cfg.peer_port, strerror(errno));
		close(fd);
		return NULL;
	}
	c = conn_new(d, fd, false);
	if (!c) {
		close(fd);
		return NULL;
	}
	c->pool = p;
	snprintf(c->peer, sizeof(c->peer), "%s:%s", p->cfg.peer_host,
		 p->cfg.peer_port);
	c->state = CONN_CONNECTING;
	c->want_write = true;
	return c;
}

unsigned int conn_unauthenticated(const struct linkd *d, const char *src)
{
	unsigned int n = 0;

	for (const struct conn *c = d->conns; c; c = c->next)
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

static int park(struct linkd *d, int fd)
{
	if (!d->parked) {
		d->parked = calloc(PARK_MAX, sizeof(*d->parked));
		if (!d->parked)
			return -1;
	}
	if (d->nparked >= PARK_MAX)
		return -1;
	d->parked[d->nparked++] = (struct parked){
		.fd = fd,
		.deadline = now_mono() + d->cfg->handshake_timeout,
	};
	return 0;
}

void conn_unpark(struct linkd *d, bool all)
{
	double now = now_mono();

	for (unsigned int i = 0; i < d->nparked;) {
		if (all || now >= d->parked[i].deadline) {
			close_reset(d->parked[i].fd);
			d->parked[i] = d->parked[--d->nparked];
		} else {
			i++;
		}
	}
	if (all) {
		free(d->parked);
		d->parked = NULL;
	}
}

double conn_park_deadline(const struct linkd *d, double t)
{
	for (unsigned int i = 0; i < d->nparked; i++)
		if (d->parked[i].deadline < t)
			t = d->parked[i].deadline;
	return t;
}

static void refused(struct linkd *d, const char *src, enum admit why)
{
	double now = now_mono();

	d->refused++;
	if (now < d->next_refused_log)
		return;
	log_warn("listener: refusing connections: %s (%lu refused so far; this one from %s)",
		 why == ADMIT_FULL ? "max_connections unauthenticated open" :
		 "max_connections_per_source from one address",
		 d->refused, src);
	d->next_refused_log = now + REFUSED_LOG;
}

/*
 * Accept every waiting connection the limits allow (policy.c,
 * conn_admit()): at most max_connections not yet authenticated, at most
 * max_connections_per_source of them from one address.  One over the
 * per-source limit is parked (never read, closed after handshake_timeout;
 * closed at once when PARK_MAX are parked), before any TLS.  The caller leaves
 * the listener out of the poll set while it is full.
 */
int conn_accept(struct linkd *d)
{
	unsigned int total = conn_unauthenticated(d, NULL);
	int accepted = 0;

	while (total < d->cfg->max_conns) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char src[64] = "?", port[8] = "?";
		enum admit a;
		struct conn *c;
		int fd;

		fd = accept4(d->listen_fd, (struct sockaddr *)&ss, &sl,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		if (conn_source_key((struct sockaddr *)&ss, sl, src, sizeof(src)))
			snprintf(src, sizeof(src), "?");
		a = conn_admit(total, conn_unauthenticated(d, src),
			       d->cfg->max_conns, d->cfg->max_conns_per_source);
		if (a != ADMIT) {
			refused(d, src, a);
			if (a != ADMIT_SOURCE || park(d, fd))
				close_reset(fd);
			continue;
		}
		getnameinfo((struct sockaddr *)&ss, sl, NULL, 0, port,
			    sizeof(port), NI_NUMERICSERV);
		c = conn_new(d, fd, true);
		if (!c) {
			close(fd);
			break;
		}
		snprintf(c->src, sizeof(c->src), "%s", src);
		snprintf(c->peer, sizeof(c->peer), strchr(src, ':') ?
			 "[%s]:%s" : "%s:%s", src, port);
		total++;
		accepted++;
		if (start_tls(d, c, d->server_ctx)) {
			conn_close(d, c, "TLS set-up failed");
			continue;
		}
	}
	return accepted;
}

void conn_close(struct linkd *d, struct conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = true;
	if (why)
		log_info("peer %s%s%s: connection closed: %s", c->peer,
			 c->pool ? " pool " : "",
			 c->pool ? c->pool->cfg.name : "", why);
	if (!c->server && c->pool && c->pool->out == c) {
		c->pool->out = NULL;
		master_on_close(d, c->pool);
	}
	if (c->server && c->pool)
		c->pool->in_connected = false;
	if (c->ssl) {
		if (c->state >= CONN_HELLO)
			SSL_shutdown(c->ssl);	/* close_notify, best effort */
		ERR_clear_error();
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->server && c->state != CONN_OPEN && !c->pool)
		close_reset(c->fd);	/* never authenticated */
	else
		close(c->fd);
	c->fd = -1;
	explicit_bzero(c->in, sizeof(c->in));
	c->inlen = 0;
}

void conn_sweep(struct linkd *d)
{
	struct conn **pp = &d->conns;

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

int conn_send(struct conn *c, const struct proto_msg *m)
{
	uint8_t buf[PROTO_MAX_FRAME];
	int len = proto_encode(m, buf, sizeof(buf));
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

static void handshake(struct linkd *d, struct conn *c)
{
	int r = c->server ? SSL_accept(c->ssl) : SSL_connect(c->ssl);
	char what[400];

	c->want_write = false;
	if (r == 1) {
		c->state = CONN_HELLO;
		if (!c->server) {
			struct proto_msg m;

			master_hello(d, c->pool, &m);
			if (conn_send(c, &m))
				conn_close(d, c, "cannot send HELLO");
		}
		return;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return;
	case SSL_ERROR_WANT_WRITE:
		c->want_write = true;
		return;
	default:
		snprintf(what, sizeof(what), "peer %s%s%s: TLS handshake",
			 c->peer, c->pool ? " pool " : "",
			 c->pool ? c->pool->cfg.name : "");
		tls_log_errors(what, c->ssl, r);
		if (c->pool)
			c->pool->st.peer_errors++;
		conn_close(d, c, NULL);
	}
}

static void dispatch(struct linkd *d, struct conn *c, struct proto_msg *m)
{
	if (c->server) {
		slave_on_msg(d, c, m);
		return;
	}
	if (c->state == CONN_HELLO) {
		if (m->type == PROTO_HELLO_OK) {
			c->state = CONN_OPEN;
			log_info("pool %s: connected to peer %s (outbound)",
				 c->pool->cfg.name, c->peer);
			master_on_open(d, c->pool, m);
			return;
		}
		if (m->type == PROTO_ERROR)
			log_err("pool %s: peer %s refused us: %s",
				c->pool->cfg.name, c->peer, m->text);
		c->pool->st.peer_errors++;
		conn_close(d, c, m->type == PROTO_ERROR ? NULL :
			   "unexpected frame instead of HELLO_OK");
		return;
	}
	master_on_msg(d, c->pool, m);
}

/*
 * A frame of another protocol version: say so in an ERROR of that version
 * (its layout is the same in all of them), so that the peer's log names
 * the problem, and close.  A version 1 peer gets no answer to the version
 * 2 HELLO it cannot decode: it closes, and this side's log says why.
 */
static void other_version(struct linkd *d, struct conn *c)
{
	unsigned int v = c->in[4];
	uint8_t buf[PROTO_HDR_LEN + 3 + PROTO_TEXT_MAX];
	char text[PROTO_TEXT_MAX + 1];
	int len;

	snprintf(text, sizeof(text), "peer protocol version %u is not spoken here (version %u): upgrade qkd-linkd on both routers",
		 v, PROTO_VERSION);
	log_err("peer %s%s%s: speaks peer protocol version %u, this qkd-linkd version %u: upgrade qkd-linkd on both routers",
		c->peer, c->pool ? " pool " : "", c->pool ? c->pool->cfg.name : "",
		v, PROTO_VERSION);
	if (c->pool)
		c->pool->st.peer_errors++;
	len = proto_encode_error(v, PROTO_E_VERSION, text, buf, sizeof(buf));
	if (len > 0)
		SSL_write(c->ssl, buf, len);	/* best effort */
	conn_close(d, c, NULL);
}

static void do_read(struct linkd *d, struct conn *c)
{
	static struct proto_msg m;

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
			conn_close(d, c, e != SSL_ERROR_ZERO_RETURN &&
					 e != SSL_ERROR_SYSCALL ? "TLS error" :
				   !c->server && c->state == CONN_HELLO ?
				   "closed by peer after our HELLO (a qkd-linkd speaking peer protocol version 1 closes so: check its version)" :
				   "closed by peer");
			return;
		}
		/* Hand over every whole frame. */
		for (;;) {
			int n = proto_decode(c->in, c->inlen, &m);

			if (n == PROTO_OTHER_VERSION) {
				other_version(d, c);
				return;
			}
			if (n < 0) {
				if (c->pool)
					c->pool->st.peer_errors++;
				conn_close(d, c, "malformed frame");
				return;
			}
			if (!n)
				break;
			memmove(c->in, c->in + n, c->inlen - n);
			c->inlen -= n;
			dispatch(d, c, &m);
			if (c->dead)
				return;
		}
	}
}

void conn_progress(struct linkd *d, struct conn *c, short revents)
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
			log_warn("pool %s: peer %s: connect: %s",
				 c->pool->cfg.name, c->peer, strerror(err));
			conn_close(d, c, NULL);
			return;
		}
		if (start_tls(d, c, c->pool->client_ctx)) {
			conn_close(d, c, "TLS set-up failed");
			return;
		}
	}
	if (c->state == CONN_HANDSHAKE) {
		handshake(d, c);
		if (c->dead || c->state == CONN_HANDSHAKE)
			return;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR) || SSL_pending(c->ssl))
		do_read(d, c);
}
