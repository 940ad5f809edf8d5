// SPDX-License-Identifier: GPL-2.0
/*
 * The trusted-node relay in qkd-linkd: relay_node's I/O over libqkd, the
 * peer connections and the state files (relay_daemon.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "linkd.h"
#include "log.h"
#include "relay_budget.h"
#include "relay_daemon.h"
#include "relay_link.h"
#include "relay_node.h"
#include "relay_state.h"
#include "relay_status.h"
#include "secmem.h"

_Static_assert(RELAY_ID_LEN == QKD_KEY_ID_LEN, "relay IDs are kernel key IDs");
_Static_assert(RELAY_MAX_KEYS <= QKD_BATCH_MAX, "a transfer is one add");

struct relay_daemon {
	struct linkd *d;
	struct relay_node rn;
	bool rn_ready;
	uint32_t e2e_id[RELAY_CFG_MAX_POOLS];	/* kernel pools; 0: look up */
	struct relay_budget budget[CFG_MAX_POOLS];	/* per link pool */
	uint64_t taken_in[CFG_MAX_POOLS];	/* inbound link keys taken, ever */
	/* Logged that a frame asked for more than the link ever gives. */
	bool too_big_logged[CFG_MAX_POOLS];
	/* Locked scratch: one link key, then a transfer's end-to-end keys. */
	struct qkd_key *one;
	struct qkd_key *batch;			/* RELAY_MAX_KEYS */
	uint8_t out[PROTO_HDR_LEN + RELAY_FRAME_MAX];
};

/* ---- link pools ----------------------------------------------------- */

/* The link pool to neighbour @node, or NULL. */
static struct pool *link_pool(struct linkd *d, const char *node)
{
	for (unsigned int i = 0; i < d->npools; i++)
		if (!strcmp(d->pools[i].cfg.relay_node, node))
			return &d->pools[i];
	return NULL;
}

static bool io_link_up(void *ctx, const char *node)
{
	struct relay_daemon *rd = ctx;
	struct pool *p = link_pool(rd->d, node);

	return p && relay_link_up(p);
}

static unsigned int io_key_len(void *ctx, const char *node)
{
	struct relay_daemon *rd = ctx;
	struct pool *p = link_pool(rd->d, node);

	return p && relay_link_open(p) ? p->cfg.key_bits / 8 : 0;
}

/*
 * The @n oldest outbound keys of the link, if its budget allows: the
 * relay share's bucket holds @n and the reserve stays.  The kernel takes
 * one key at a time: an IKE take between the level read and the last
 * take can leave fewer than the reserve, or none (then the keys taken so
 * far are wiped here, their twins expire at the neighbour, and the
 * budget is charged for them: Documentation/relay.rst, "Where link keys
 * for relaying come from").
 */
static int io_take_out(void *ctx, const char *node, unsigned int n,
		       uint8_t (*ids)[RELAY_ID_LEN], uint8_t *material)
{
	struct relay_daemon *rd = ctx;
	struct linkd *d = rd->d;
	struct pool *p = link_pool(d, node);
	struct relay_budget *b;
	struct qkd_pool_info info;
	unsigned int klen, i;
	int ret;

	if (!p || !relay_link_up(p))
		return -ENETDOWN;
	b = &rd->budget[p - d->pools];
	klen = p->cfg.key_bits / 8;
	ret = qkd_pool_get(d->qkd, p->id, NULL, &info);
	if (ret) {
		kernel_check(d, ret);
		return ret;
	}
	/*
	 * More than the budget can ever hold (the origin's batch_size is
	 * too large for this link; its own links are checked at load):
	 * refused like a share used up, and said once.
	 */
	if (n + b->reserve > p->cfg.high && !rd->too_big_logged[p - d->pools]) {
		rd->too_big_logged[p - d->pools] = true;
		log_warn("relay: link %s: a frame needs %u link keys at once, more than relaying may ever take here (high_watermark %u - relay_reserve %u): refused; lower the origin's batch_size or raise high_watermark",
			 p->cfg.name, n, p->cfg.high, b->reserve);
	}
	if (!relay_budget_allows(b, n, info.dir[QKD_DIRECTION_OUT].level))
		return -EAGAIN;
	for (i = 0; i < n; i++) {
		ret = qkd_key_take_next(d->qkd, p->id, rd->one);
		if (!ret && rd->one->len != klen)
			ret = -EPROTO;
		if (ret)
			break;
		memcpy(ids[i], rd->one->id, RELAY_ID_LEN);
		memcpy(material + (size_t)i * klen, rd->one->material, klen);
		qkd_key_wipe(rd->one, 1);
	}
	qkd_key_wipe(rd->one, 1);
	relay_budget_take(b, i);
	if (ret) {
		explicit_bzero(material, (size_t)n * klen);
		log_err("relay: link %s: %u of %u outbound keys taken, then: %s (taken ones wiped)",
			p->cfg.name, i, n, qkd_strerror(ret));
		kernel_check(d, ret);
		return ret;
	}
	return 0;
}

/* Every key of @ids found is taken (and wiped), even when one is missing. */
static int io_take_in(void *ctx, const char *node,
		      const uint8_t (*ids)[RELAY_ID_LEN], unsigned int n,
		      uint8_t *material)
{
	struct relay_daemon *rd = ctx;
	struct linkd *d = rd->d;
	struct pool *p = link_pool(d, node);
	unsigned int klen, missing = 0;

	if (!p || !p->id)
		return -ENOENT;
	klen = p->cfg.key_bits / 8;
	for (unsigned int i = 0; i < n; i++) {
		int ret = qkd_key_take_id(d->qkd, p->id, ids[i], NULL,
					  rd->one);

		if (!ret)
			rd->taken_in[p - d->pools]++;	/* gone from the pool */
		if (!ret && rd->one->len == klen)
			memcpy(material + (size_t)i * klen, rd->one->material,
			       klen);
		else
			missing++;
		qkd_key_wipe(rd->one, 1);
	}
	if (missing) {
		explicit_bzero(material, (size_t)n * klen);
		log_warn("relay: link %s: %u of %u inbound keys named by %s missing",
			 p->cfg.name, missing, n, node);
		return -ENOENT;
	}
	return 0;
}

/* ---- peer connections ------------------------------------------------ */

static int io_send(void *ctx, const char *node, bool forward,
		   const uint8_t *buf, size_t len)
{
	struct relay_daemon *rd = ctx;
	struct pool *p = link_pool(rd->d, node);
	struct proto_relay m = { .frame = buf, .len = len };
	struct conn *c;
	int n, ret;

	if (!p || !relay_link_open(p))
		return -1;
	c = forward ? p->master.out : p->slave.conn;
	n = proto_encode_relay(&m, rd->out, sizeof(rd->out));
	ret = n < 0 ? -1 : conn_send(c, rd->out, n);
	/* Ciphertext and tags, but no copy outlives the send. */
	explicit_bzero(rd->out, n > 0 ? (size_t)n : 0);
	if (ret)
		conn_close(c, "cannot send a relay frame");
	return ret;
}

static void on_frame(struct linkd *d, struct pool *p,
		     const struct proto_frame *f)
{
	struct relay_daemon *rd = d->relay;
	struct proto_relay m;

	if (!rd || !rd->rn_ready)
		return;
	if (proto_decode_relay(f, &m)) {
		/* The peer is authenticated: a bug to be seen, not a flood. */
		log_warn("relay: a malformed RELAY message from %s dropped",
			 p->cfg.relay_node);
		return;
	}
	/* "from" is the connection's pool's neighbour, never the frame's. */
	relay_node_on_frame(&rd->rn, p->cfg.relay_node, m.frame, m.len,
			    now_mono());
}

static void on_credit(struct linkd *d, struct pool *p, unsigned int n)
{
	struct relay_daemon *rd = d->relay;

	if (rd && p->cfg.relay_node[0]) {
		relay_budget_credit(&rd->budget[p - d->pools], n);
		/* A hold for want of link keys may be over. */
		if (rd->rn_ready)
			relay_node_kick(&rd->rn);
	}
}

/* ---- end-to-end pools ------------------------------------------------ */

static const struct relay_pool_cfg *e2e_cfg(const struct linkd *d,
					    unsigned int i)
{
	return &d->cfg->relay.pools[i];
}

/* Create or adopt the kernel pool of [relay NAME] @i, as kernel.c does. */
static uint32_t e2e_id(struct relay_daemon *rd, unsigned int i)
{
	struct linkd *d = rd->d;
	const struct relay_pool_cfg *c = e2e_cfg(d, i);
	struct qkd_pool_config pc = {
		.fields = QKD_POOL_CAPACITY | QKD_POOL_LOW | QKD_POOL_HIGH |
			  QKD_POOL_MAX_AGE,
		.capacity = c->capacity,
		.low_watermark = c->low,
		.high_watermark = c->high,
		.max_age = c->max_age,
	};
	struct qkd_pool_info info;
	int ret;

	if (rd->e2e_id[i] || d->kernel_stale)
		return rd->e2e_id[i];
	ret = qkd_pool_get(d->qkd, 0, c->name, &info);
	if (ret == -ENOENT) {
		snprintf(pc.name, sizeof(pc.name), "%s", c->name);
		pc.fields |= QKD_POOL_KEY_SIZE;
		pc.key_size = c->key_bits / 8;
		ret = qkd_pool_create(d->qkd, &pc, &rd->e2e_id[i]);
		if (!ret)
			log_info("relay %s: end-to-end pool created (id %u)",
				 c->name, rd->e2e_id[i]);
	} else if (!ret && info.key_size != c->key_bits / 8) {
		log_err("relay %s: the kernel pool has %u-byte keys, the configuration says %u bits",
			c->name, info.key_size, c->key_bits);
		return 0;
	} else if (!ret) {
		ret = qkd_pool_set(d->qkd, info.id, &pc);
		if (!ret)
			rd->e2e_id[i] = info.id;
	}
	if (ret) {
		log_err("relay %s: kernel pool: %s", c->name, qkd_strerror(ret));
		rd->e2e_id[i] = 0;
	}
	return rd->e2e_id[i];
}

/* After a failed pool operation: look the pool up again next time. */
static void e2e_failed(struct relay_daemon *rd, unsigned int i, int ret)
{
	if (ret == -ENOENT) {
		rd->e2e_id[i] = 0;
		kernel_check(rd->d, ret);
	}
}

static int e2e_info(struct relay_daemon *rd, unsigned int i,
		    struct qkd_pool_info *info)
{
	uint32_t id = e2e_id(rd, i);
	int ret = id ? qkd_pool_get(rd->d->qkd, id, NULL, info) : -ENOENT;

	if (ret)
		e2e_failed(rd, i, ret);
	return ret;
}

static int qdir(enum relay_dir dir)
{
	return dir == RELAY_DIR_OUT ? QKD_DIRECTION_OUT : QKD_DIRECTION_IN;
}

static unsigned int io_level(void *ctx, unsigned int pool, enum relay_dir dir)
{
	struct relay_daemon *rd = ctx;
	struct qkd_pool_info info;

	/* Unknown: as full, so that nothing is sent into it. */
	if (e2e_info(rd, pool, &info))
		return e2e_cfg(rd->d, pool)->high;
	return info.dir[qdir(dir)].level;
}

static unsigned int io_room(void *ctx, unsigned int pool, enum relay_dir dir)
{
	struct qkd_pool_info info;
	unsigned int level;

	if (e2e_info(ctx, pool, &info))
		return 0;
	level = info.dir[qdir(dir)].level;
	return level < info.capacity ? info.capacity - level : 0;
}

static int io_add(void *ctx, unsigned int pool, enum relay_dir dir,
		  const uint8_t (*ids)[RELAY_ID_LEN], const uint8_t *keys,
		  unsigned int n, unsigned int key_len)
{
	struct relay_daemon *rd = ctx;
	uint32_t id = e2e_id(rd, pool);
	int ret;

	if (!id || !n || n > RELAY_MAX_KEYS || key_len > QKD_KEY_SIZE_MAX)
		return -1;
	for (unsigned int i = 0; i < n; i++) {
		memcpy(rd->batch[i].id, ids[i], RELAY_ID_LEN);
		memcpy(rd->batch[i].material, keys + (size_t)i * key_len,
		       key_len);
		rd->batch[i].len = key_len;
	}
	ret = qkd_key_add(rd->d->qkd, id, qdir(dir), rd->batch, n);
	qkd_key_wipe(rd->batch, n);
	if (ret) {
		log_err("relay %s: %s side refused %u keys: %s",
			e2e_cfg(rd->d, pool)->name,
			dir == RELAY_DIR_OUT ? "outbound" : "inbound", n,
			qkd_strerror(ret));
		e2e_failed(rd, pool, ret);
		return -1;
	}
	return 0;
}

static unsigned int io_remove_in(void *ctx, unsigned int pool,
				 const uint8_t (*ids)[RELAY_ID_LEN],
				 unsigned int n)
{
	struct relay_daemon *rd = ctx;
	uint32_t id = e2e_id(rd, pool);
	unsigned int removed = 0;

	for (unsigned int i = 0; id && i < n; i++) {
		if (!qkd_key_take_id(rd->d->qkd, id, ids[i], NULL, rd->one))
			removed++;
		qkd_key_wipe(rd->one, 1);
	}
	return removed;
}

static int io_persist(void *ctx, unsigned int pool, uint64_t next,
		      uint64_t aborted)
{
	struct relay_daemon *rd = ctx;
	const struct relay_pool_cfg *c = e2e_cfg(rd->d, pool);
	struct relay_state st = { .next = next, .aborted = aborted };
	char err[1200];

	if (relay_state_save(rd->d->cfg->state_dir, c->name, &st, err,
			     sizeof(err))) {
		log_err("relay %s: %s", c->name, err);
		return -1;
	}
	return 0;
}

/* ---- status (status.c, relay_status.h) ------------------------------ */

static bool link_status(const struct linkd *d, const struct pool *p,
			struct relay_link_status *s)
{
	const struct relay_daemon *rd = d->relay;
	size_t i = (size_t)(p - d->pools);

	if (!rd || !p->cfg.relay_node[0])
		return false;
	s->share = rd->budget[i].share;
	s->reserve = rd->budget[i].reserve;
	s->bucket = relay_budget_available(&rd->budget[i]);
	s->taken_out = rd->budget[i].taken;
	s->taken_in = rd->taken_in[i];
	return true;
}

static void e2e_status(const struct linkd *d, FILE *f)
{
	const struct relay_daemon *rd = d->relay;

	if (rd && rd->rn_ready)
		relay_status_pools(f, &rd->rn, now_mono(), time(NULL));
}

/* ---- the daemon's part ----------------------------------------------- */

/*
 * The keys the outbound side of @p holds now: at start the relay's share
 * of them is in its budget (else a restarted node with full link pools,
 * which refill only below low_watermark, could not relay until IPsec
 * drained them).
 */
static unsigned int out_level(struct linkd *d, const struct pool *p)
{
	struct qkd_pool_info info;

	if (!p->id || qkd_pool_get(d->qkd, p->id, NULL, &info))
		return 0;
	return info.dir[QKD_DIRECTION_OUT].level;
}

static void relay_daemon_free(struct relay_daemon *rd)
{
	if (rd->rn_ready)
		relay_node_free(&rd->rn);	/* wipes the origin's copies */
	if (rd->one)
		secmem_free(rd->one, sizeof(*rd->one));
	if (rd->batch)
		secmem_free(rd->batch, RELAY_MAX_KEYS * sizeof(*rd->batch));
	free(rd);
}

int relay_daemon_setup(struct linkd *d)
{
	const struct relay_cfg *rc = &d->cfg->relay;
	struct relay_daemon *rd;
	struct relay_node_io io = {
		.links = { io_key_len, io_take_out, io_take_in, NULL },
		.link_up = io_link_up,
		.send = io_send,
		.level = io_level,
		.room = io_room,
		.add = io_add,
		.remove_in = io_remove_in,
		.persist = io_persist,
	};
	unsigned int nlinks = 0;
	char err[1200];

	d->relay = NULL;
	d->relay_frame = on_frame;
	d->relay_credit = on_credit;
	d->relay_link_status = link_status;
	d->relay_status = e2e_status;
	if (!rc->line)
		return 0;		/* no [topology]: this node does not relay */
	rd = calloc(1, sizeof(*rd));
	if (!rd) {
		log_err("relay: out of memory");
		return -1;
	}
	rd->d = d;
	rd->one = secmem_alloc(sizeof(*rd->one));
	rd->batch = secmem_alloc(RELAY_MAX_KEYS * sizeof(*rd->batch));
	if (!rd->one || !rd->batch) {
		log_err("relay: no locked memory for keys");
		goto fail;
	}
	for (unsigned int i = 0; i < d->npools; i++) {
		const struct pool_cfg *pc = &d->pools[i].cfg;

		if (!pc->relay_node[0])
			continue;
		relay_budget_init(&rd->budget[i], pc->relay_share,
				  pc->relay_reserve == RELAY_RESERVE_DEFAULT ?
				  pc->low : pc->relay_reserve, pc->high);
		relay_budget_credit(&rd->budget[i], out_level(d, &d->pools[i]));
		nlinks++;
	}
	io.links.ctx = rd;
	io.ctx = rd;
	/*
	 * A hop asks no KME (only the link pools and the peer channel):
	 * its answer is as late as a peer's HELLO may be.
	 */
	if (relay_node_init(&rd->rn, rc, &io, d->cfg->handshake_timeout)) {
		log_err("relay: out of memory");
		goto fail;
	}
	rd->rn_ready = true;
	for (unsigned int i = 0; i < rc->npools; i++) {
		struct relay_state st;

		/* A state file not read: not relaying rather than guessing. */
		if (relay_state_load(d->cfg->state_dir, rc->pools[i].name, &st,
				     err, sizeof(err)) < 0) {
			log_err("relay %s: %s", rc->pools[i].name, err);
			goto fail;
		}
		relay_node_resume(&rd->rn, i, st.next, st.aborted);
		if (!e2e_id(rd, i) && !d->kernel_stale)
			goto fail;
	}
	d->relay = rd;
	log_info("relay: node %s, %u link(s) relaying, %u end-to-end pool(s)",
		 rc->self, nlinks, rc->npools);
	return 0;
fail:
	relay_daemon_free(rd);
	return -1;
}

void relay_daemon_teardown(struct linkd *d)
{
	struct relay_daemon *rd = d->relay;

	if (!rd)
		return;
	/*
	 * Reload or exit: the far ends take back the keys of transfers not
	 * settled now, while the connections are still open (main.c
	 * closes them after this), not at their max_age.
	 */
	relay_node_shutdown(&rd->rn, now_mono());
	relay_daemon_free(rd);
	d->relay = NULL;
}

void relay_daemon_step(struct linkd *d)
{
	struct relay_daemon *rd = d->relay;
	double now = now_mono();

	/* Only on an event or a timer of the engine (relay_node_due()). */
	if (rd && relay_node_due(&rd->rn, now))
		relay_node_step(&rd->rn, now);
}

double relay_daemon_wakeup(const struct linkd *d, double t)
{
	const struct relay_daemon *rd = d->relay;
	double next = rd ? relay_node_next(&rd->rn) : t;

	return next < t ? next : t;
}
