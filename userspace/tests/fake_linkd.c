// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel, the peer channel's transport and the clock, faked for the
 * daemon tests (fake_linkd.h): these definitions stand in for kernel.c,
 * conn.c, tls.c, main.c's now_mono() and libqkd's pool calls, which the
 * daemon test binary does not link.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fake_linkd.h"

struct fake_kernel fk_state;

static struct conn *all;

void fake_reset(void)
{
	fake_sweep();
	memset(&fk_state, 0, sizeof(fk_state));
	fk_state.now = 1000.0;
}

struct conn *fake_conn(const struct conn_ops *ops, void *ctx, bool server)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		abort();
	c->fd = -1;
	c->ops = ops;
	c->ctx = ctx;
	c->server = server;
	c->state = server ? CONN_HELLO : CONN_HANDSHAKE;
	snprintf(c->peer, sizeof(c->peer), "fake-peer");
	c->next = all;
	all = c;
	return c;
}

void fake_sweep(void)
{
	struct conn **pp = &all;

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

const struct fake_sent *fake_last_sent(uint8_t type)
{
	for (unsigned int i = fk_state.nsent; i-- > 0;)
		if (fk_state.sent[i].type == type)
			return &fk_state.sent[i];
	return NULL;
}

unsigned int fake_count_sent(uint8_t type)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < fk_state.nsent; i++)
		n += fk_state.sent[i].type == type;
	return n;
}

/* ---- main.c, kernel.c, tls.c ------------------------------------------ */

double now_mono(void)
{
	return fk_state.now;
}

void kernel_epoch(const struct linkd *d, const struct pool *p,
		  struct pool_epoch *e)
{
	memcpy(e->boot, d->boot, EPOCH_BOOT_LEN);
	e->netns = d->netns;
	e->family = 30;
	e->pool = p->id;
}

int kernel_sync(struct linkd *d)
{
	(void)d;
	return 0;
}

int kernel_check(struct linkd *d, int ret)
{
	(void)d;
	(void)ret;
	return 0;
}

int tls_peer_has_name(SSL *ssl, const char *name)
{
	(void)ssl;
	(void)name;
	return 1;
}

/* ---- conn.c ----------------------------------------------------------- */

struct conn *conn_connect(struct conn_set *s, const char *host,
			  const char *port, SSL_CTX *ctx, const char *peer_name,
			  const struct conn_ops *ops, void *arg,
			  const char *label)
{
	(void)s;
	(void)host;
	(void)port;
	(void)ctx;
	(void)peer_name;
	(void)label;
	return fake_conn(ops, arg, false);
}

/* Sent frames are decoded back (proto.c), their fields recorded. */
int conn_send(struct conn *c, const uint8_t *buf, int len)
{
	static struct keyid ids[PROTO_MAX_IDS];
	struct proto_frame f;
	struct fake_sent *s;

	if (len < 0 || c->dead)
		return -1;
	if (fk_state.nsent == FAKE_MAX_SENT ||
	    proto_frame_split(buf, (size_t)len, &f) != len)
		abort();
	s = &fk_state.sent[fk_state.nsent++];
	memset(s, 0, sizeof(*s));
	s->type = f.type;
	switch (f.type) {
	case PROTO_HELLO: {
		struct proto_hello m;

		if (proto_decode_hello(&f, &m))
			abort();
		s->caps = m.caps;
		break;
	}
	case PROTO_HELLO_OK: {
		struct proto_hello_ok m;

		if (proto_decode_hello_ok(&f, &m))
			abort();
		s->reset = m.reset;
		s->caps = m.caps;
		break;
	}
	case PROTO_OFFER:
	case PROTO_ABORT: {
		struct proto_ids m;

		if (f.type == PROTO_OFFER ? proto_decode_offer(&f, &m, ids) :
		    proto_decode_abort(&f, &m, ids))
			abort();
		s->seq = m.seq;
		s->n = m.n;
		break;
	}
	case PROTO_ACK: {
		struct proto_ack m;

		if (proto_decode_ack(&f, &m))
			abort();
		s->seq = m.seq;
		s->status = m.status;
		break;
	}
	case PROTO_ABORTED: {
		struct proto_aborted m;

		if (proto_decode_aborted(&f, &m))
			abort();
		s->seq = m.seq;
		s->n = m.removed;
		break;
	}
	case PROTO_ERROR: {
		struct proto_error m;

		if (proto_decode_error(&f, &m))
			abort();
		s->status = m.code;
		break;
	}
	case PROTO_RESET:
	case PROTO_RESET_OK: {
		struct proto_reset m;

		if (f.type == PROTO_RESET ? proto_decode_reset(&f, &m) :
		    proto_decode_reset_ok(&f, &m))
			abort();
		s->count = m.count;
		break;
	}
	}
	return 0;
}

void conn_fault(struct conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = true;
	fk_state.closes++;
	snprintf(fk_state.last_close, sizeof(fk_state.last_close), "%s", why);
	c->ops->closed(c, true);
}

void conn_set_open(struct conn *c, const char *label)
{
	(void)label;
	c->state = CONN_OPEN;
}

void conn_close(struct conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = true;
	fk_state.closes++;
	snprintf(fk_state.last_close, sizeof(fk_state.last_close), "%s",
		 why ? why : "");
	c->ops->closed(c, false);
}

/* ---- libqkd's pool calls ---------------------------------------------- */

int qkd_pool_get(struct qkd *h, uint32_t id, const char *name,
		 struct qkd_pool_info *info)
{
	(void)h;
	(void)name;
	if (!id)
		return -ENOENT;
	memset(info, 0, sizeof(*info));
	info->id = id;
	for (int d = 0; d < 2; d++) {
		info->dir[d].added = fk_state.added[d];
		info->dir[d].level = fk_state.level[d];
	}
	return 0;
}

int qkd_key_add(struct qkd *h, uint32_t pool, int dir,
		const struct qkd_key *keys, size_t n)
{
	(void)h;
	(void)pool;
	(void)keys;
	fk_state.key_adds[dir]++;
	if (fk_state.add_ret)
		return fk_state.add_ret;
	fk_state.added[dir] += n;
	fk_state.level[dir] += n;
	return 0;
}

int qkd_key_flush(struct qkd *h, uint32_t pool, int dir, uint32_t *count)
{
	(void)h;
	(void)pool;
	fk_state.flushes[dir]++;
	*count = fk_state.level[dir];
	fk_state.level[dir] = 0;
	return 0;
}

int qkd_key_take_id(struct qkd *h, uint32_t pool,
		    const uint8_t key_id[QKD_KEY_ID_LEN], const uint8_t *tag,
		    struct qkd_key *key)
{
	(void)h;
	(void)pool;
	(void)key_id;
	(void)tag;
	memset(key, 0, sizeof(*key));
	return -ENOENT;
}

void qkd_key_wipe(struct qkd_key *keys, size_t n)
{
	explicit_bzero(keys, n * sizeof(*keys));
}

const char *qkd_strerror(int err)
{
	return strerror(err < 0 ? -err : err);
}

const char *qkd_last_error(const struct qkd *h)
{
	(void)h;
	return "";
}
