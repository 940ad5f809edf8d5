// SPDX-License-Identifier: GPL-2.0
/* One trusted node's relay engine (relay_node.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "log.h"
#include "relay_node.h"
#include "secmem.h"

/* Transfer numbers persisted ahead, so that not every transfer syncs. */
#define PERSIST_AHEAD	64

/* ---- link key accounting ------------------------------------------------ */

static struct relay_link_use *use_of(struct relay_node *rn, const char *node)
{
	for (int i = 0; i < RELAY_NODE_LINKS; i++) {
		struct relay_link_use *u = &rn->use[i];

		if (!strcmp(u->node, node))
			return u;
		if (!u->node[0]) {
			snprintf(u->node, sizeof(u->node), "%s", node);
			return u;
		}
	}
	return NULL;
}

static unsigned int w_key_len(void *ctx, const char *node)
{
	struct relay_node *rn = ctx;

	return rn->inner.key_len(rn->inner.ctx, node);
}

static int w_take_out(void *ctx, const char *node, unsigned int n,
		      uint8_t (*ids)[RELAY_ID_LEN], uint8_t *material)
{
	struct relay_node *rn = ctx;
	int r = rn->inner.take_out(rn->inner.ctx, node, n, ids, material);
	struct relay_link_use *u = r ? NULL : use_of(rn, node);

	if (u)
		u->out += n;
	return r;
}

static int w_take_in(void *ctx, const char *node,
		     const uint8_t (*ids)[RELAY_ID_LEN], unsigned int n,
		     uint8_t *material)
{
	struct relay_node *rn = ctx;
	int r = rn->inner.take_in(rn->inner.ctx, node, ids, n, material);
	struct relay_link_use *u = use_of(rn, node);

	/* Every key found is taken, even when one is missing. */
	if (u)
		u->in += n;
	return r;
}

/* ---- set-up ------------------------------------------------------------- */

int relay_node_init(struct relay_node *rn, const struct relay_cfg *cfg,
		    const struct relay_node_io *io, double timeout)
{
	memset(rn, 0, sizeof(*rn));
	rn->io = *io;
	rn->inner = io->links;
	rn->io.links = (struct relay_links){ w_key_len, w_take_out, w_take_in,
					     rn };
	rn->cfg = cfg;
	rn->topo = cfg->topo;
	rn->self = (unsigned int)cfg->self_node;
	rn->timeout = timeout;
	rn->due = true;
	rn->hop = relay_hop_new();
	rn->keys = secmem_alloc(RELAY_MAX_PAYLOAD);
	rn->e2e = calloc(cfg->npools ? cfg->npools : 1, sizeof(*rn->e2e));
	if (!rn->hop || !rn->keys || !rn->e2e)
		goto fail;
	for (unsigned int i = 0; i < cfg->npools; i++) {
		struct relay_e2e *e = &rn->e2e[i];

		e->cfg = &cfg->pools[i];
		e->key_len = e->cfg->key_bits / 8;
		relay_origin_init(&e->o, 1);
		if (relay_far_init(&e->far))
			goto fail;
	}
	return 0;
fail:
	relay_node_free(rn);
	return -1;
}

/*
 * The first transfer number of end-to-end pool @i after a restart: the
 * one persisted (numbers below it may have been used).
 */
void relay_node_resume(struct relay_node *rn, unsigned int i, uint64_t next,
		       uint64_t aborted)
{
	rn->e2e[i].o.next = next ? next : 1;
	rn->e2e[i].persisted = rn->e2e[i].o.next;
	rn->e2e[i].far.aborted = aborted;
}

void relay_node_free(struct relay_node *rn)
{
	for (unsigned int i = 0; rn->e2e && i < rn->cfg->npools; i++) {
		relay_origin_clear(&rn->e2e[i].o);
		relay_far_clear(&rn->e2e[i].far);
	}
	free(rn->e2e);
	rn->e2e = NULL;
	relay_hop_free(rn->hop);
	rn->hop = NULL;
	secmem_free(rn->keys, RELAY_MAX_PAYLOAD);
	rn->keys = NULL;
}

/* What went wrong last with end-to-end pool @e, for qkdctl (never keys). */
__attribute__((format(printf, 3, 4)))
static void set_error(struct relay_e2e *e, double now, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->last_error, sizeof(e->last_error), fmt, ap);
	va_end(ap);
	e->error_time = now;
}

/*
 * No new transfer for a while: RELAY_BUSY_MIN s, doubling up to
 * RELAY_BUSY_MAX while transfers keep failing, until a commit.
 */
static void hold(struct relay_e2e *e, double now)
{
	e->busy = e->busy ? e->busy * 2 : RELAY_BUSY_MIN;
	if (e->busy > RELAY_BUSY_MAX)
		e->busy = RELAY_BUSY_MAX;
	e->busy_until = now + e->busy;
}

/* ---- sending ------------------------------------------------------------ */

static int send_frame(struct relay_node *rn, const struct relay_frame *f,
		      const char *to, const uint8_t *buf, size_t len)
{
	bool forward = f->type == RELAY_KEYS || f->type == RELAY_ABORT;

	if (rn->io.send(rn->io.ctx, to, forward, buf, len)) {
		rn->lost++;
		log_info("relay: transfer %llu: %s to %s lost (connection down)",
			 (unsigned long long)f->transfer, relay_type_name(f->type),
			 to);
		return -1;
	}
	return 0;
}

/* Encode @f and send it to path[hop] (it is already addressed). */
static void send_encoded(struct relay_node *rn, const struct relay_frame *f)
{
	char err[RELAY_ERR_LEN];
	int len = relay_frame_encode(f, rn->buf[1], sizeof(rn->buf[1]), err,
				     sizeof(err));

	if (len < 0) {
		log_err("relay: transfer %llu: %s not encoded: %s",
			(unsigned long long)f->transfer, relay_type_name(f->type),
			err);
		return;
	}
	send_frame(rn, f, f->path[f->hop], rn->buf[1], (size_t)len);
}

/* ---- the origin --------------------------------------------------------- */

static void path_of(const struct relay_node *rn, const struct route_path *p,
		    struct relay_frame *f)
{
	f->npath = (uint8_t)p->n;
	for (unsigned int i = 0; i < p->n; i++)
		snprintf(f->path[i], sizeof(f->path[i]), "%s",
			 rn->topo.nodes[p->nodes[i]]);
}

/* The links' states as this node knows them at @now. */
static void link_states(struct relay_node *rn, double now)
{
	for (unsigned int l = 0; l < rn->topo.nlinks; l++) {
		const struct route_link *k = &rn->topo.links[l];
		bool up;

		if (k->a == rn->self || k->b == rn->self)
			up = rn->io.link_up(rn->io.ctx,
					    rn->topo.nodes[k->a == rn->self ?
							   k->b : k->a]);
		else
			up = now >= rn->down_until[l];
		route_set_up(&rn->topo, l, up);
	}
}

static void reroute(struct relay_node *rn, struct relay_e2e *e, double now)
{
	const struct relay_pool_cfg *c = e->cfg;
	struct route_path p;
	char why[ROUTE_ERR_LEN], s[ROUTE_PATH_STR_LEN];
	int r;

	if (c->npath)
		r = route_pinned(&rn->topo, c->path_nodes, c->npath, &p, why,
				 sizeof(why));
	else
		r = route_shortest(&rn->topo, rn->self, (unsigned int)c->peer_node,
				   &p, why, sizeof(why));
	if (r) {
		if (e->have_path || strcmp(e->no_path, why)) {
			log_warn("relay %s: no path to %s: %s", c->name, c->peer,
				 why);
			snprintf(e->no_path, sizeof(e->no_path), "%s", why);
			set_error(e, now, "no path to %s: %s", c->peer, why);
		}
		if (e->have_path) {
			e->have_path = false;
			e->path_changes++;
			e->path_since = now;
			relay_origin_expire(&e->o, INFINITY);
		}
		return;
	}
	route_path_str(&rn->topo, &p, s, sizeof(s));
	if (e->have_path && !strcmp(s, e->path_str))
		return;
	if (e->have_path)
		e->path_changes++;
	e->path_since = now;
	e->have_path = true;
	e->next_abort = 0;	/* a pending ABORT goes the new way at once */
	e->path = p;
	e->no_path[0] = '\0';
	snprintf(e->path_str, sizeof(e->path_str), "%s", s);
	log_info("relay %s: path %s (bottleneck %s-%s, %llu bit/s)", c->name, s,
		 rn->topo.nodes[rn->topo.links[p.bottleneck].a],
		 rn->topo.nodes[rn->topo.links[p.bottleneck].b],
		 (unsigned long long)rn->topo.links[p.bottleneck].rate);
	/* Transfers on the old path: settled by ABORT over the new one. */
	if (relay_origin_expire(&e->o, INFINITY))
		e->next_abort = 0;
}

static void send_abort(struct relay_node *rn, struct relay_e2e *e, double now)
{
	const struct relay_abort *a = relay_origin_abort_next(&e->o);
	struct relay_frame *f = &rn->f;

	if (!a || !e->have_path || now < e->next_abort)
		return;
	memset(f, 0, sizeof(*f));
	f->type = RELAY_ABORT;
	f->transfer = a->transfer;
	f->hop = 1;
	path_of(rn, &e->path, f);
	f->n = a->n;
	memcpy(f->ids, a->ids, (size_t)a->n * RELAY_ID_LEN);
	memcpy(f->e2e_tag, a->tag, RELAY_TAG_LEN);
	e->next_abort = now + rn->timeout * (f->npath - 1) * 2;
	log_info("relay %s: transfer %llu: ABORT of %u keys over %s",
		 e->cfg->name, (unsigned long long)a->transfer, a->n,
		 e->path_str);
	send_encoded(rn, f);
}

static unsigned int in_flight(const struct relay_e2e *e)
{
	unsigned int n = 0;

	for (int i = 0; i < RELAY_XFER_WINDOW; i++)
		if (e->o.open[i].transfer)
			n += e->o.open[i].n;
	return n;
}

/* One new transfer: 1 sent (or lost), 0 nothing to do, -1 stop for now. */
static int originate(struct relay_node *rn, struct relay_e2e *e,
		     unsigned int idx, double now)
{
	const struct relay_pool_cfg *c = e->cfg;
	struct relay_frame *f = &rn->f;
	unsigned int level = rn->io.level(rn->io.ctx, idx, RELAY_DIR_OUT);
	unsigned int n = c->batch, want;
	struct relay_xfer *x;
	char err[RELAY_ERR_LEN];
	int len;

	if (now < e->busy_until)
		return 0;
	if (level <= c->low)
		e->filling = true;
	want = level + in_flight(e);
	if (!e->filling || want >= c->high) {
		if (level >= c->high)
			e->filling = false;
		return 0;
	}
	if (n > c->high - want)
		n = c->high - want;
	if (n > rn->io.room(rn->io.ctx, idx, RELAY_DIR_OUT))
		n = rn->io.room(rn->io.ctx, idx, RELAY_DIR_OUT);
	if (!n)
		return 0;
	memset(f, 0, sizeof(*f));
	/* End-to-end key IDs of their own, never a link key's. */
	if (getrandom(f->ids, (size_t)n * RELAY_ID_LEN, 0) !=
	    (ssize_t)((size_t)n * RELAY_ID_LEN))
		return -1;
	x = relay_origin_begin(&e->o, (uint16_t)n, (uint16_t)e->key_len,
			       (const uint8_t (*)[RELAY_ID_LEN])f->ids,
			       now + rn->timeout * (e->path.n - 1) * 2);
	if (!x)
		return -1;
	if (x->transfer >= e->persisted) {
		if (rn->io.persist(rn->io.ctx, idx, x->transfer + PERSIST_AHEAD,
				   e->far.aborted)) {
			log_err("relay %s: transfer numbers not persisted: not relaying",
				c->name);
			relay_origin_cancel(&e->o, x);
			e->o.next--;
			return -1;
		}
		e->persisted = x->transfer + PERSIST_AHEAD;
	}
	f->type = RELAY_KEYS;
	f->transfer = x->transfer;
	f->n = (uint16_t)n;
	f->key_len = (uint16_t)e->key_len;
	path_of(rn, &e->path, f);
	len = relay_hop_originate(rn->hop, &rn->io.links, f, x->keys,
				  rn->buf[0], sizeof(rn->buf[0]), err,
				  sizeof(err));
	if (len < 0) {
		/*
		 * Nothing taken (this node's own share used up, its reserve
		 * reached, the link down): the number is given back, and the
		 * origin holds as after a refusal on the way, so that it does
		 * not retry (pool reads, getrandom, persists) at every step
		 * until the share or the reserve can have changed.
		 */
		relay_origin_cancel(&e->o, x);
		e->o.next--;
		hold(e, now);
		set_error(e, now, "transfer not sent: %s", err);
		log_debug("relay %s: transfer not sent: %s", c->name, err);
		return -1;
	}
	log_debug("relay %s: transfer %llu: %u keys over %s",
		  c->name, (unsigned long long)f->transfer, n, e->path_str);
	send_frame(rn, f, f->path[1], rn->buf[0], (size_t)len);
	return 1;
}

static struct relay_e2e *by_peer(struct relay_node *rn, const char *peer,
				 unsigned int *idx)
{
	for (unsigned int i = 0; i < rn->cfg->npools; i++)
		if (!strcmp(rn->e2e[i].cfg->peer, peer)) {
			*idx = i;
			return &rn->e2e[i];
		}
	return NULL;
}

/* An answer reached the origin (path[0] is this node). */
static void on_answer(struct relay_node *rn, const struct relay_frame *a,
		      double now)
{
	unsigned int idx;
	struct relay_e2e *e = by_peer(rn, a->path[a->npath - 1], &idx);
	struct relay_xfer *x;
	int l, ia, ib;

	if (!e) {
		log_warn("relay: transfer %llu: %s for no end-to-end pool with %s",
			 (unsigned long long)a->transfer,
			 relay_type_name(a->type), a->path[a->npath - 1]);
		return;
	}
	/* A cut reported, an ACK, an ABORT settled: the next step acts. */
	rn->due = true;
	ia = route_find_node(&rn->topo, a->path[a->at]);
	ib = a->at + 1 < a->npath ? route_find_node(&rn->topo, a->path[a->at + 1]) : -1;
	if (a->status == RELAY_E_LINK_DOWN && ia >= 0 && ib >= 0) {
		l = route_find_link(&rn->topo, (unsigned int)ia, (unsigned int)ib);
		if (l >= 0) {
			rn->down_until[l] = now + RELAY_DOWN_HOLD;
			log_info("relay %s: link %s-%s reported down by %s",
				 e->cfg->name, a->path[a->at], a->path[a->at + 1],
				 a->path[a->at]);
		}
	}
	/* Only the far end settles an ABORT; a relay's ABORTED names a cut. */
	if (a->type == RELAY_ABORTED && a->at != a->npath - 1)
		return;
	if (a->type == RELAY_ABORTED) {
		if (!relay_origin_aborted(&e->o, a->transfer)) {
			log_info("relay %s: transfer %llu aborted (%u keys removed at %s)",
				 e->cfg->name, (unsigned long long)a->transfer,
				 a->count, a->path[a->at]);
			e->next_abort = 0;
		}
		return;
	}
	switch (relay_origin_ack(&e->o, a, &x)) {
	case RELAY_ACK_COMMIT:
		if (rn->io.add(rn->io.ctx, idx, RELAY_DIR_OUT,
			       (const uint8_t (*)[RELAY_ID_LEN])x->ids, x->keys,
			       x->n, x->key_len)) {
			log_warn("relay %s: transfer %llu: the pool refused its %u keys: aborting",
				 e->cfg->name, (unsigned long long)x->transfer,
				 x->n);
			set_error(e, now, "transfer %llu: the pool refused its keys",
				  (unsigned long long)x->transfer);
			relay_origin_commit_failed(&e->o, x);
			e->next_abort = 0;
			break;
		}
		e->keys_out += x->n;
		e->busy = 0;
		e->busy_until = 0;	/* the hold ends with a commit */
		relay_origin_committed(&e->o, x);
		break;
	case RELAY_ACK_DROPPED:
		log_info("relay %s: transfer %llu: %s at %s",
			 e->cfg->name, (unsigned long long)a->transfer,
			 a->status ? relay_status_name(a->status) :
				     "an ACK that does not verify",
			 a->path[a->at]);
		set_error(e, now, "transfer %llu: %s at %s",
			  (unsigned long long)a->transfer,
			  a->status ? relay_status_name(a->status) :
				      "an ACK that does not verify",
			  a->path[a->at]);
		e->next_abort = 0;
		/* A cut link reroutes; any other refusal holds (relay_node.h). */
		/* (Refusals of transfers sent before the hold: one step.) */
		if (a->status != RELAY_E_LINK_DOWN && now >= e->busy_until) {
			hold(e, now);
			log_info("relay %s: no new transfer for %.0f s",
				 e->cfg->name, e->busy);
		}
		break;
	default:
		/*
		 * Given up already (a path change, a deadline): where a late
		 * refusal came from still says which hops took link keys for
		 * it, as the timely line does ("(late)": its end-to-end tag
		 * is not checked, the transfer's MAC key is gone).
		 */
		if (a->type == RELAY_ACK && a->status)
			log_info("relay %s: transfer %llu: %s at %s (late)",
				 e->cfg->name, (unsigned long long)a->transfer,
				 relay_status_name(a->status), a->path[a->at]);
		else
			log_debug("relay %s: transfer %llu: late %s",
				  e->cfg->name, (unsigned long long)a->transfer,
				  relay_type_name(a->type));
		break;
	}
}

/* The earliest time after @now that relay_node_step() has work. */
static double next_timer(const struct relay_node *rn, double now)
{
	double t = INFINITY;

	/* A remote link reported down comes back: routes change. */
	for (unsigned int l = 0; l < rn->topo.nlinks; l++)
		if (rn->down_until[l] > now && rn->down_until[l] < t)
			t = rn->down_until[l];
	for (unsigned int i = 0; i < rn->cfg->npools; i++) {
		const struct relay_e2e *e = &rn->e2e[i];

		for (int k = 0; k < RELAY_XFER_WINDOW; k++)
			if (e->o.open[k].transfer && e->o.open[k].deadline < t)
				t = e->o.open[k].deadline;
		if (e->o.naborts && e->have_path && e->next_abort < t)
			t = e->next_abort;
		if (e->busy_until > now && e->busy_until < t)
			t = e->busy_until;
		/* IPsec takes keys unseen: the level is read this often. */
		if (e->have_path && now + RELAY_LEVEL_POLL < t)
			t = now + RELAY_LEVEL_POLL;
	}
	return t;
}

void relay_node_step(struct relay_node *rn, double now)
{
	link_states(rn, now);
	for (unsigned int i = 0; i < rn->cfg->npools; i++) {
		struct relay_e2e *e = &rn->e2e[i];
		unsigned int expired = relay_origin_expire(&e->o, now);

		if (expired) {
			log_info("relay %s: %u transfers unanswered in time: aborting",
				 e->cfg->name, expired);
			set_error(e, now, "%u transfers unanswered in time",
				  expired);
			e->next_abort = 0;
		}
		reroute(rn, e, now);
		send_abort(rn, e, now);
		while (e->have_path && !e->o.naborts &&
		       originate(rn, e, i, now) > 0)
			;
	}
	rn->due = false;
	rn->next = next_timer(rn, now);
}

bool relay_node_due(struct relay_node *rn, double now)
{
	if (rn->due || now >= rn->next)
		return true;
	/* This node's links as the last step saw them (link_states()). */
	for (unsigned int l = 0; l < rn->topo.nlinks; l++) {
		const struct route_link *k = &rn->topo.links[l];

		if ((k->a == rn->self || k->b == rn->self) &&
		    rn->io.link_up(rn->io.ctx,
				   rn->topo.nodes[k->a == rn->self ? k->b : k->a]) !=
		    k->up)
			return rn->due = true;
	}
	return false;
}

double relay_node_next(const struct relay_node *rn)
{
	return rn->due ? -INFINITY : rn->next;
}

void relay_node_kick(struct relay_node *rn)
{
	rn->due = true;
}

unsigned int relay_node_shutdown(struct relay_node *rn, double now)
{
	unsigned int sent = 0;

	link_states(rn, now);		/* the ABORTs go the way open now */
	for (unsigned int i = 0; i < rn->cfg->npools; i++) {
		struct relay_e2e *e = &rn->e2e[i];
		unsigned int expired = relay_origin_expire(&e->o, INFINITY);

		reroute(rn, e, now);
		if (!e->o.naborts)
			continue;
		if (!e->have_path) {
			log_warn("relay %s: stopping with %u transfer(s) not settled (%u given up now) and no path: their keys stay at %s, unusable, until max_age",
				 e->cfg->name, e->o.naborts, expired, e->cfg->peer);
			continue;
		}
		log_info("relay %s: stopping: ABORT of %u transfer(s) not settled (%u given up now) over %s",
			 e->cfg->name, e->o.naborts, expired, e->path_str);
		/* Oldest first, each once: relay_origin_aborted() pops it. */
		while (e->o.naborts) {
			e->next_abort = 0;
			send_abort(rn, e, now);
			sent++;
			relay_origin_aborted(&e->o, e->o.aborts[0].transfer);
		}
	}
	return sent;
}

/* ---- relays and the far end --------------------------------------------- */

/* Answer KEYS @f (decoded, for this node) with @status: back to from. */
static void answer(struct relay_node *rn, const struct relay_frame *f,
		   uint16_t status, uint16_t count, const uint8_t *e2e_key)
{
	struct relay_frame *a = &rn->g;

	if (relay_hop_answer(f, status, count, e2e_key, a)) {
		log_err("relay: transfer %llu: the ACK could not be tagged",
			(unsigned long long)f->transfer);
		return;
	}
	send_encoded(rn, a);
}

/* The path a frame names, "kobe osaka nagoya tokyo" (route_path_add()). */
static void path_str(const struct relay_frame *f, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < f->npath; i++)
		if (!route_path_add(buf, len, &off, f->path[i],
				    i + 1 == f->npath))
			break;
}

static void deliver(struct relay_node *rn, const struct relay_frame *f,
		    double now)
{
	unsigned int idx;
	struct relay_e2e *e = by_peer(rn, f->path[0], &idx);
	const uint8_t *k = rn->keys + (size_t)f->n * f->key_len;
	uint16_t status = RELAY_OK;
	int r;

	if (!e || f->key_len != e->key_len) {
		log_warn("relay: transfer %llu from %s: %s", (unsigned long long)f->transfer,
			 f->path[0], e ? "key size is not the pool's" :
					 "no end-to-end pool with that node");
		status = RELAY_E_POOL;
	} else if ((r = relay_far_accept(&e->far, f->transfer))) {
		status = (uint16_t)-r;
	} else if (rn->io.room(rn->io.ctx, idx, RELAY_DIR_IN) < f->n ||
		   rn->io.add(rn->io.ctx, idx, RELAY_DIR_IN,
			      (const uint8_t (*)[RELAY_ID_LEN])f->ids, rn->keys,
			      f->n, f->key_len)) {
		status = RELAY_E_POOL;
	}
	if (status) {
		log_info("relay %s: transfer %llu refused: %s",
			 e ? e->cfg->name : "-", (unsigned long long)f->transfer,
			 relay_status_name(status));
		rn->refused++;
		if (e)
			set_error(e, now, "transfer %llu from %s refused here: %s",
				  (unsigned long long)f->transfer, f->path[0],
				  relay_status_name(status));
		answer(rn, f, status, 0, NULL);
	} else {
		relay_far_delivered(&e->far, f->transfer, f->n,
				    (const uint8_t (*)[RELAY_ID_LEN])f->ids, k);
		e->keys_in += f->n;
		rn->delivered++;
		path_str(f, e->in_path, sizeof(e->in_path));
		answer(rn, f, RELAY_OK, f->n, k);
	}
	explicit_bzero(rn->keys, RELAY_MAX_PAYLOAD);
}

/* ABORTED for ABORT @f (decoded, for this node), back to the origin. */
static void aborted_back(struct relay_node *rn, const struct relay_frame *f,
			 uint16_t status, unsigned int removed)
{
	struct relay_frame *a = &rn->g;

	memcpy(a, f, sizeof(*a));
	a->type = RELAY_ABORTED;
	a->at = f->hop;
	a->hop = f->hop - 1;
	a->status = status;
	a->count = (uint16_t)removed;
	a->n = 0;
	memset(a->e2e_tag, 0, sizeof(a->e2e_tag));
	send_encoded(rn, a);
}

static void on_abort(struct relay_node *rn, const struct relay_frame *f)
{
	static uint8_t ids[RELAY_MAX_KEYS][RELAY_ID_LEN];
	unsigned int idx, removed = 0;
	struct relay_e2e *e = by_peer(rn, f->path[0], &idx);
	uint16_t n = 0;
	uint64_t mark;
	int v;

	if (!e)
		return;
	mark = e->far.aborted;
	v = relay_far_abort(&e->far, f, ids, &n);
	/* The origin has no copy of these: whatever happens, they go. */
	if (v == RELAY_FAR_REMOVE)
		removed = rn->io.remove_in(rn->io.ctx, idx,
					   (const uint8_t (*)[RELAY_ID_LEN])ids,
					   n);
	/*
	 * The mark on disk before ABORTED tells the origin the transfer is
	 * settled; without it the origin sends the ABORT again.
	 */
	if ((e->far.aborted != mark || e->far_dirty) &&
	    rn->io.persist(rn->io.ctx, idx,
			   e->persisted > e->o.next ? e->persisted : e->o.next,
			   e->far.aborted)) {
		log_err("relay %s: transfer %llu: the aborted mark is not on disk: no ABORTED yet",
			e->cfg->name, (unsigned long long)f->transfer);
		e->far_dirty = true;
		return;
	}
	e->far_dirty = false;
	log_info("relay %s: transfer %llu: ABORT %s, %u keys removed",
		 e->cfg->name, (unsigned long long)f->transfer,
		 v == RELAY_FAR_BAD_TAG ? "with a bad tag refused" : "taken",
		 removed);
	aborted_back(rn, f, v == RELAY_FAR_BAD_TAG ? RELAY_E_TAG : RELAY_OK,
		     removed);
}

void relay_node_on_frame(struct relay_node *rn, const char *from,
			 const uint8_t *buf, size_t len, double now)
{
	const char *self = rn->topo.nodes[rn->self];
	struct relay_frame *f = &rn->f;
	char err[RELAY_ERR_LEN];
	size_t outlen;
	int r;

	if (len >= 2 && buf[1] == RELAY_KEYS) {
		r = relay_hop_receive(rn->hop, &rn->io.links, self, from, buf,
				      len, f, rn->keys, rn->buf[0],
				      sizeof(rn->buf[0]), &outlen, err,
				      sizeof(err));
		if (r == RELAY_FORWARD) {
			rn->forwarded++;
			send_frame(rn, f, f->path[f->hop + 1], rn->buf[0], outlen);
		} else if (r == RELAY_DELIVER) {
			deliver(rn, f, now);
		} else {
			rn->refused++;
			log_info("relay: KEYS from %s refused: %s", from, err);
			if (f->type)
				answer(rn, f, (uint16_t)-r, 0, NULL);
		}
		explicit_bzero(rn->keys, RELAY_MAX_PAYLOAD);
		return;
	}
	r = relay_hop_pass(self, from, buf, len, f, rn->buf[0],
			   sizeof(rn->buf[0]), &outlen, err, sizeof(err));
	if (r == RELAY_FORWARD && f->type == RELAY_ABORT) {
		/*
		 * An ABORT that cannot go on: tell the origin which link is
		 * cut (an ABORTED that does not settle anything), so that it
		 * sends the ABORT another way.  It carries no keys, so no
		 * loss is at stake in answering.
		 */
		if (send_frame(rn, f, f->path[f->hop + 1], rn->buf[0], outlen))
			aborted_back(rn, f, RELAY_E_LINK_DOWN, 0);
	} else if (r == RELAY_FORWARD) {
		send_frame(rn, f, f->path[f->hop - 1], rn->buf[0], outlen);
	} else if (r == RELAY_DELIVER && f->type == RELAY_ABORT)
		on_abort(rn, f);
	else if (r == RELAY_DELIVER)
		on_answer(rn, f, now);
	else
		log_info("relay: a frame from %s dropped: %s", from, err);
}
