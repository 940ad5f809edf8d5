// SPDX-License-Identifier: GPL-2.0
/*
 * relay_node: whole trusted-node networks in one process.  Each node is a
 * relay engine over fake link pools (a FIFO of keys on the sender's
 * outbound side, the same keys on the receiver's inbound side), fake peer
 * connections (a queue of frames, lost when the link or the node is down)
 * and fake end-to-end pools.  tokyo - nagoya - osaka - kobe: both ends'
 * pools fill, what one end can send with the other has received
 * (same IDs, same material), each hop consumes exactly its link keys on
 * both sides; a link cut and a relay node killed mid-transfer leave
 * nothing one-sided or duplicated once the ABORTs are through; a ring
 * reroutes around a cut link.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tests.h"
#include "../linkd/relay_node.h"
#include "../linkd/relay_state.h"
#include "../linkd/relay_status.h"
#include "linkd_status.h"

#define MAXN	5
#define LKEYS	4000		/* link keys per direction */
#define LKLEN	32
#define E2E_CAP	256

struct ldir {			/* one direction of a link */
	uint8_t (*ids)[RELAY_ID_LEN];
	bool *out, *in;
	unsigned int next;
};

struct lnk {
	int a, b;
	bool down;
	struct ldir dir[2];	/* [0]: a -> b */
};

struct ekey {
	uint8_t id[RELAY_ID_LEN];
	uint8_t mat[32];
};

struct epool {			/* one side of an end-to-end pool */
	struct ekey k[E2E_CAP];
	unsigned int n;
};

struct node {
	const char *name;
	bool dead;
	struct relay_cfg cfg;
	struct relay_node rn;
	struct epool out, in;	/* its one end-to-end pool */
	uint64_t persisted, aborted;	/* "on disk" */
};

struct msg {
	int from, to;
	size_t len;
	uint8_t *buf;
	struct msg *next;
};

static struct node nodes[MAXN];
static int nnodes;
static struct lnk lnks[MAXN + 1];
static int nlnks;
static struct msg *head, **tail = &head;
static double now;
static int budget_block = -1;	/* this node's takes towards ... */
static const char *budget_block_to = "osaka";	/* ... this one: -EAGAIN */

static int node_of(const char *name)
{
	for (int i = 0; i < nnodes; i++)
		if (!strcmp(nodes[i].name, name))
			return i;
	return -1;
}

static struct lnk *lnk_of(int x, int y, int *d)
{
	for (int i = 0; i < nlnks; i++) {
		if (lnks[i].a == x && lnks[i].b == y) {
			*d = 0;
			return &lnks[i];
		}
		if (lnks[i].b == x && lnks[i].a == y) {
			*d = 1;
			return &lnks[i];
		}
	}
	return NULL;
}

/* The material of link key @k of direction @d of link @l. */
static void lmat(int l, int d, unsigned int k, uint8_t *m)
{
	for (int j = 0; j < LKLEN; j++)
		m[j] = (uint8_t)(k * 131 + j * 7 + l * 17 + d * 3 + (k >> 8) * 5);
}

/* ---- the fake I/O ------------------------------------------------------- */

static bool up(int x, const char *node)
{
	int d, y = node_of(node);
	struct lnk *l = y >= 0 ? lnk_of(x, y, &d) : NULL;

	return l && !l->down && !nodes[y].dead && !nodes[x].dead;
}

static unsigned int f_key_len(void *ctx, const char *node)
{
	return up((int)(intptr_t)ctx, node) ? LKLEN : 0;
}

static int f_take_out(void *ctx, const char *node, unsigned int n,
		      uint8_t (*ids)[RELAY_ID_LEN], uint8_t *material)
{
	int d, x = (int)(intptr_t)ctx;
	struct lnk *l = lnk_of(x, node_of(node), &d);
	struct ldir *ld = &l->dir[d];

	if (x == budget_block && !strcmp(node, budget_block_to))
		return -EAGAIN;
	if (ld->next + n > LKEYS)
		return -ENOENT;
	for (unsigned int i = 0; i < n; i++, ld->next++) {
		memcpy(ids[i], ld->ids[ld->next], RELAY_ID_LEN);
		lmat((int)(l - lnks), d, ld->next, material + i * LKLEN);
		ld->out[ld->next] = false;
	}
	return 0;
}

static int f_take_in(void *ctx, const char *node,
		     const uint8_t (*ids)[RELAY_ID_LEN], unsigned int n,
		     uint8_t *material)
{
	int d, x = (int)(intptr_t)ctx, missing = 0;
	struct lnk *l = lnk_of(node_of(node), x, &d);	/* node -> x */
	struct ldir *ld = &l->dir[d];

	for (unsigned int i = 0; i < n; i++) {
		unsigned int k;

		memcpy(&k, ids[i], sizeof(k));
		if (k >= LKEYS || !ld->in[k] ||
		    memcmp(ld->ids[k], ids[i], RELAY_ID_LEN)) {
			missing = 1;
			continue;
		}
		lmat((int)(l - lnks), d, k, material + i * LKLEN);
		ld->in[k] = false;
	}
	return missing ? -ENOENT : 0;
}

static bool f_link_up(void *ctx, const char *node)
{
	return up((int)(intptr_t)ctx, node);
}

static int f_send(void *ctx, const char *node, bool forward,
		  const uint8_t *buf, size_t len)
{
	int x = (int)(intptr_t)ctx;
	struct msg *m;

	(void)forward;
	if (!up(x, node))
		return -1;
	m = calloc(1, sizeof(*m));
	ck_assert_ptr_nonnull(m);
	m->buf = malloc(len);
	ck_assert_ptr_nonnull(m->buf);
	memcpy(m->buf, buf, len);
	m->len = len;
	m->from = x;
	m->to = node_of(node);
	*tail = m;
	tail = &m->next;
	return 0;
}

static struct epool *side(int x, enum relay_dir d)
{
	return d == RELAY_DIR_OUT ? &nodes[x].out : &nodes[x].in;
}

static unsigned int level_reads[MAXN];	/* io.level calls, per node */

static unsigned int f_level(void *ctx, unsigned int pool, enum relay_dir d)
{
	(void)pool;
	level_reads[(int)(intptr_t)ctx]++;
	return side((int)(intptr_t)ctx, d)->n;
}

static unsigned int f_room(void *ctx, unsigned int pool, enum relay_dir d)
{
	(void)pool;
	return E2E_CAP - side((int)(intptr_t)ctx, d)->n;
}

static int f_add(void *ctx, unsigned int pool, enum relay_dir d,
		 const uint8_t (*ids)[RELAY_ID_LEN], const uint8_t *keys,
		 unsigned int n, unsigned int key_len)
{
	struct epool *p = side((int)(intptr_t)ctx, d);

	(void)pool;
	ck_assert_uint_eq(key_len, 32);
	if (p->n + n > E2E_CAP)
		return -1;
	for (unsigned int i = 0; i < n; i++) {
		for (unsigned int j = 0; j < p->n; j++)
			ck_assert_msg(memcmp(p->k[j].id, ids[i], RELAY_ID_LEN),
				      "a key ID added twice");
		memcpy(p->k[p->n + i].id, ids[i], RELAY_ID_LEN);
		memcpy(p->k[p->n + i].mat, keys + i * 32, 32);
	}
	p->n += n;
	return 0;
}

static unsigned int f_remove_in(void *ctx, unsigned int pool,
				const uint8_t (*ids)[RELAY_ID_LEN],
				unsigned int n)
{
	struct epool *p = &nodes[(int)(intptr_t)ctx].in;
	unsigned int removed = 0;

	(void)pool;
	for (unsigned int i = 0; i < n; i++)
		for (unsigned int j = 0; j < p->n; j++)
			if (!memcmp(p->k[j].id, ids[i], RELAY_ID_LEN)) {
				p->k[j] = p->k[--p->n];
				removed++;
				break;
			}
	return removed;
}

static int f_persist(void *ctx, unsigned int pool, uint64_t next,
		     uint64_t aborted)
{
	(void)pool;
	nodes[(int)(intptr_t)ctx].persisted = next;
	nodes[(int)(intptr_t)ctx].aborted = aborted;
	return 0;
}

/* ---- the network -------------------------------------------------------- */

static void add_node(const char *name)
{
	nodes[nnodes].name = name;
	nodes[nnodes].dead = false;
	nnodes++;
}

static void add_link(const char *a, const char *b)
{
	struct lnk *l = &lnks[nlnks];

	l->a = node_of(a);
	l->b = node_of(b);
	l->down = false;
	for (int d = 0; d < 2; d++) {
		struct ldir *ld = &l->dir[d];

		ld->ids = calloc(LKEYS, RELAY_ID_LEN);
		ld->out = malloc(LKEYS * sizeof(bool));
		ld->in = malloc(LKEYS * sizeof(bool));
		ck_assert(ld->ids && ld->out && ld->in);
		for (unsigned int k = 0; k < LKEYS; k++) {
			memcpy(ld->ids[k], &k, sizeof(k));
			ld->ids[k][8] = (uint8_t)nlnks;
			ld->ids[k][9] = (uint8_t)d;
			ld->out[k] = ld->in[k] = true;
		}
		ld->next = 0;
	}
	nlnks++;
}

/*
 * Node @x's configuration: the topology (rates @rates, in the order of
 * the links), and its end-to-end pool with @peer (none when NULL).
 */
static void start_node(int x, const uint64_t *rates, const char *peer)
{
	struct relay_cfg *c = &nodes[x].cfg;
	struct relay_node_io io = {
		.links = { f_key_len, f_take_out, f_take_in, (void *)(intptr_t)x },
		.link_up = f_link_up, .send = f_send, .level = f_level,
		.room = f_room, .add = f_add, .remove_in = f_remove_in,
		.persist = f_persist, .ctx = (void *)(intptr_t)x,
	};

	memset(c, 0, sizeof(*c));
	route_init(&c->topo);
	for (int i = 0; i < nnodes; i++)
		ck_assert_int_ge(route_add_node(&c->topo, nodes[i].name, NULL, 0), 0);
	for (int i = 0; i < nlnks; i++)
		ck_assert_int_ge(route_add_link(&c->topo, nodes[lnks[i].a].name,
						nodes[lnks[i].b].name, rates[i],
						NULL, 0), 0);
	c->line = 1;
	strcpy(c->self, nodes[x].name);
	c->self_node = x;
	if (peer) {
		struct relay_pool_cfg *p = &c->pools[c->npools++];

		relay_pool_defaults(p);
		strcpy(p->name, peer);
		strcpy(p->peer, peer);
		p->peer_node = node_of(peer);
		p->low = 16;
		p->high = 48;
		p->capacity = E2E_CAP;
	}
	nodes[x].dead = false;
	ck_assert_int_eq(relay_node_init(&nodes[x].rn, c, &io, 1.0), 0);
	if (nodes[x].persisted)
		relay_node_resume(&nodes[x].rn, 0, nodes[x].persisted,
				  nodes[x].aborted);
}

/* kill -9: the node's memory and its queued frames are gone. */
static void kill_node(int x)
{
	relay_node_free(&nodes[x].rn);
	nodes[x].dead = true;
}

static void drop_msg(struct msg *m)
{
	free(m->buf);
	free(m);
}

/* Deliver queued frames, at most @max (0: until none is left). */
static int pump(int max)
{
	int n = 0;

	while (head && (!max || n < max)) {
		struct msg *m = head;

		head = m->next;
		if (!head)
			tail = &head;
		/* A frame on the wire arrives even if its sender died since. */
		if (!nodes[m->to].dead)
			relay_node_on_frame(&nodes[m->to].rn, nodes[m->from].name,
					    m->buf, m->len, now);
		drop_msg(m);
		n++;
	}
	return n;
}

/* Every node steps, then frames flow until quiet; @rounds times. */
static void run(int rounds, double dt)
{
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < nnodes; i++)
			if (!nodes[i].dead)
				relay_node_step(&nodes[i].rn, now);
		pump(0);
		now += dt;
	}
}

static void setup(void)
{
	nnodes = nlnks = 0;
	head = NULL;
	tail = &head;
	now = 100;
	budget_block = -1;
	budget_block_to = "osaka";
	memset(nodes, 0, sizeof(nodes));
	memset(level_reads, 0, sizeof(level_reads));
}

static void teardown(void)
{
	while (head) {
		struct msg *m = head;

		head = m->next;
		drop_msg(m);
	}
	tail = &head;
	for (int i = 0; i < nnodes; i++)
		if (!nodes[i].dead)
			relay_node_free(&nodes[i].rn);
	for (int i = 0; i < nlnks; i++)
		for (int d = 0; d < 2; d++) {
			free(lnks[i].dir[d].ids);
			free(lnks[i].dir[d].out);
			free(lnks[i].dir[d].in);
		}
}

static const uint64_t chain_rates[] = { 10000000, 1000000, 2000000, 5000 };

static void chain(bool ring)
{
	add_node("tokyo");
	add_node("nagoya");
	add_node("osaka");
	add_node("kobe");
	add_link("tokyo", "nagoya");
	add_link("nagoya", "osaka");
	add_link("osaka", "kobe");
	if (ring)
		add_link("kobe", "tokyo");	/* slow: a last resort */
	start_node(0, chain_rates, "kobe");
	start_node(1, chain_rates, NULL);
	start_node(2, chain_rates, NULL);
	start_node(3, chain_rates, "tokyo");
}

/*
 * What @x can send with @y, @y has received, with the same material, and
 * @y's inbound side holds nothing else.
 */
static void same_keys(int x, int y)
{
	struct epool *o = &nodes[x].out, *in = &nodes[y].in;

	ck_assert_msg(o->n == in->n, "%s out %u keys, %s in %u",
		      nodes[x].name, o->n, nodes[y].name, in->n);
	for (unsigned int i = 0; i < o->n; i++) {
		unsigned int j;

		for (j = 0; j < in->n; j++)
			if (!memcmp(in->k[j].id, o->k[i].id, RELAY_ID_LEN))
				break;
		ck_assert_msg(j < in->n, "%s's key %u not at %s", nodes[x].name,
			      i, nodes[y].name);
		ck_assert_mem_eq(in->k[j].mat, o->k[i].mat, 32);
	}
}

/* Link keys taken on the sending and the receiving side of x -> y. */
static void used(int x, int y, unsigned int *out, unsigned int *in)
{
	int d;
	struct lnk *l = lnk_of(x, y, &d);

	*out = *in = 0;
	for (unsigned int k = 0; k < LKEYS; k++) {
		*out += !l->dir[d].out[k];
		*in += !l->dir[d].in[k];
	}
}

static unsigned int counted(int x, const char *node, bool out)
{
	for (int i = 0; i < RELAY_NODE_LINKS; i++)
		if (!strcmp(nodes[x].rn.use[i].node, node))
			return (unsigned int)(out ? nodes[x].rn.use[i].out :
						     nodes[x].rn.use[i].in);
	return 0;
}

START_TEST(chain_fills_both_ends)
{
	unsigned int o, i;

	chain(false);
	run(10, 0.1);
	/* 48 keys each way: 3 transfers of 16. */
	ck_assert_uint_eq(nodes[0].out.n, 48);
	ck_assert_uint_eq(nodes[3].out.n, 48);
	same_keys(0, 3);
	same_keys(3, 0);
	ck_assert_str_eq(nodes[0].rn.e2e[0].path_str, "tokyo nagoya osaka kobe");
	ck_assert_str_eq(nodes[3].rn.e2e[0].path_str, "kobe osaka nagoya tokyo");
	ck_assert_uint_eq(nodes[0].rn.e2e[0].o.committed, 3);
	ck_assert_uint_ge(nodes[0].persisted, 4);
	/*
	 * Per hop and transfer: 32 (MAC key) + 16 x 32 + 32 (end-to-end
	 * key) = 576 bytes = 18 link keys of 32 bytes, on both sides.
	 */
	for (int x = 0; x < 3; x++) {
		used(x, x + 1, &o, &i);
		ck_assert_uint_eq(o, 3 * 18);
		ck_assert_uint_eq(i, 3 * 18);
		used(x + 1, x, &o, &i);
		ck_assert_uint_eq(o, 3 * 18);
		ck_assert_uint_eq(i, 3 * 18);
		ck_assert_uint_eq(counted(x, nodes[x + 1].name, true), 3 * 18);
		ck_assert_uint_eq(counted(x + 1, nodes[x].name, false), 3 * 18);
	}
	ck_assert_uint_eq(nodes[1].rn.forwarded, 6);
	/* Taking keys at tokyo refills them below low_watermark only. */
	nodes[0].out.n = 20;
	nodes[3].in.n = 20;	/* the same 20, as IKE would take them */
	run(3, 0.1);
	ck_assert_uint_eq(nodes[0].out.n, 20);
	nodes[0].out.n = 16;
	nodes[3].in.n = 16;
	run(3, 0.1);
	ck_assert_uint_eq(nodes[0].out.n, 48);
	same_keys(0, 3);
}
END_TEST

/*
 * nagoya's share of its link to osaka is used up: tokyo's transfers are
 * refused there after consuming tokyo - nagoya link keys, so tokyo holds
 * for 1 s, then 2 s, ... instead of burning that link at its step rate;
 * once nagoya has budget again the pool fills and the hold is gone.
 */
START_TEST(refused_transfers_hold_the_origin)
{
	unsigned int o, i, first;

	chain(false);
	budget_block = 1;
	run(1, 0.1);
	used(0, 1, &o, &i);
	ck_assert_uint_gt(o, 0);
	ck_assert_uint_eq(i, o);
	ck_assert_uint_eq(o % 18, 0);
	first = o;
	ck_assert_uint_eq(nodes[0].out.n, 0);
	ck_assert(nodes[0].rn.e2e[0].busy == RELAY_BUSY_MIN);
	run(8, 0.1);		/* within the hold: nothing sent */
	used(0, 1, &o, &i);
	ck_assert_uint_eq(o, first);
	run(4, 0.1);		/* after it: tried again, refused again */
	used(0, 1, &o, &i);
	ck_assert_uint_gt(o, first);
	ck_assert(nodes[0].rn.e2e[0].busy == 2 * RELAY_BUSY_MIN);
	ck_assert_uint_eq(nodes[0].out.n, 0);
	ck_assert_uint_eq(nodes[3].in.n, 0);
	budget_block = -1;
	run(30, 0.1);
	ck_assert_uint_eq(nodes[0].out.n, 48);
	same_keys(0, 3);
	ck_assert(nodes[0].rn.e2e[0].busy == 0);
}
END_TEST

/*
 * tokyo's own share of its link to nagoya is used up: nothing leaves, no
 * link key and no transfer number is spent, the error is kept for
 * qkdctl, and tokyo holds (1 s, 2 s, ...) instead of trying again at
 * every step; with budget again the pool fills and the hold is gone.
 */
START_TEST(local_refusal_holds_the_origin)
{
	unsigned int o, i;
	uint64_t next;

	chain(false);
	budget_block = 0;
	budget_block_to = "nagoya";
	next = nodes[0].rn.e2e[0].o.next;
	run(1, 0.1);
	used(0, 1, &o, &i);
	ck_assert_uint_eq(o, 0);
	ck_assert_uint_eq(i, 0);
	ck_assert_uint_eq(nodes[0].rn.e2e[0].o.next, next);
	ck_assert(nodes[0].rn.e2e[0].busy == RELAY_BUSY_MIN);
	ck_assert_ptr_nonnull(strstr(nodes[0].rn.e2e[0].last_error,
				     "transfer not sent"));
	run(14, 0.1);		/* after the first hold: refused again */
	ck_assert(nodes[0].rn.e2e[0].busy == 2 * RELAY_BUSY_MIN);
	ck_assert_uint_eq(nodes[0].rn.e2e[0].o.next, next);
	budget_block = -1;
	run(30, 0.1);
	ck_assert_uint_eq(nodes[0].out.n, 48);
	same_keys(0, 3);
	ck_assert(nodes[0].rn.e2e[0].busy == 0);
}
END_TEST

/*
 * nagoya-osaka is cut while tokyo's KEYS are on their way: nagoya
 * answers "link down" (tokyo learns which link), no path is left, the
 * pool stops filling, nothing is one-sided; restored, it fills again.
 */
START_TEST(chain_cut_mid_transfer)
{
	chain(false);
	run(10, 0.1);
	nodes[0].out.n = nodes[3].in.n = 0;
	nodes[3].out.n = nodes[0].in.n = 0;
	relay_node_step(&nodes[0].rn, now);
	lnks[1].down = true;		/* three KEYS on their way to nagoya */
	pump(0);
	ck_assert_uint_eq(nodes[0].rn.e2e[0].o.dropped, 3);
	ck_assert(!nodes[0].rn.e2e[0].o.naborts);	/* nobody added a key */
	run(5, 0.5);
	ck_assert(!nodes[0].rn.e2e[0].have_path);
	ck_assert_str_eq(nodes[0].rn.e2e[0].no_path,
			 "no path from tokyo to kobe");
	ck_assert_uint_eq(nodes[0].out.n, 0);
	ck_assert_uint_eq(nodes[3].in.n, 0);
	same_keys(3, 0);
	/* Restored: the ends try again once the reported cut is old. */
	lnks[1].down = false;
	run(3, 0.5);
	ck_assert_uint_eq(nodes[0].out.n, 0);
	now += RELAY_DOWN_HOLD;
	run(10, 0.1);
	ck_assert_uint_eq(nodes[0].out.n, 48);
	ck_assert_uint_eq(nodes[3].out.n, 48);
	same_keys(0, 3);
	same_keys(3, 0);
}
END_TEST

static struct linkd_health *status_of(int x, const char *link,
				      const struct relay_link_status *ls,
				      size_t *n);

/*
 * As qkd-linkd's event loop runs the engines (relay_daemon_step()): @turns
 * turns @dt apart, each stepping a node only when relay_node_due(); the
 * steps per node in @steps.
 */
static void loop(int turns, double dt, unsigned int *steps)
{
	for (int r = 0; r < turns; r++) {
		for (int i = 0; i < nnodes; i++)
			if (!nodes[i].dead && relay_node_due(&nodes[i].rn, now)) {
				relay_node_step(&nodes[i].rn, now);
				steps[i]++;
			}
		pump(0);
		now += dt;
	}
}

/*
 * The filled chain is idle: 1000 turns of the event loop in 1 s step the
 * relays in the middle not once and each end at most twice (its pool's
 * level read every RELAY_LEVEL_POLL s): not at every turn.  What changes
 * the work wakes the engine: a level fallen below low_watermark by the
 * next read, a link going down at once (both its ends), the budget
 * (relay_node_kick()), and the ACKs of the refill keep it going until
 * full; next() says when the next timer runs out.
 */
START_TEST(idle_relay_not_stepped)
{
	unsigned int steps[MAXN] = { 0 }, reads;

	chain(false);
	run(10, 0.1);
	ck_assert_uint_eq(nodes[0].out.n, 48);
	ck_assert_uint_eq(nodes[3].out.n, 48);
	reads = level_reads[0];
	loop(1000, 0.001, steps);
	ck_assert_uint_eq(steps[1], 0);
	ck_assert_uint_eq(steps[2], 0);
	ck_assert_uint_le(steps[0], 2);
	ck_assert_uint_le(steps[3], 2);
	ck_assert_uint_le(level_reads[0] - reads, 2 * 2);
	/* The relays have no timer at all; the ends their next level read. */
	ck_assert(relay_node_next(&nodes[1].rn) == INFINITY);
	ck_assert(relay_node_next(&nodes[0].rn) <= now + RELAY_LEVEL_POLL);
	/* IPsec took tokyo's keys: refilled within a level read or two. */
	nodes[0].out.n = nodes[3].in.n = 0;
	memset(steps, 0, sizeof(steps));
	loop(2000, 0.001, steps);
	ck_assert_uint_eq(nodes[0].out.n, 48);
	same_keys(0, 3);
	ck_assert_uint_eq(steps[1] + steps[2], 0);	/* frames need no step */
	/* A link cut: due at once at both its ends, not at the others. */
	lnks[1].down = true;
	ck_assert(relay_node_due(&nodes[1].rn, now));
	ck_assert(relay_node_due(&nodes[2].rn, now));
	relay_node_step(&nodes[1].rn, now);
	ck_assert(!relay_node_due(&nodes[1].rn, now));
	relay_node_kick(&nodes[1].rn);
	ck_assert(relay_node_due(&nodes[1].rn, now));
	ck_assert(relay_node_next(&nodes[1].rn) == -INFINITY);
	lnks[1].down = false;
}
END_TEST

/*
 * A reload (SIGHUP) or exit at tokyo with three transfers added at kobe
 * and their ACKs still on the way: before its engine is freed it sends
 * their ABORTs, so kobe takes the 48 keys back now (not at max_age), and
 * the restarted engine refills both sides alike.
 */
START_TEST(shutdown_aborts_in_flight)
{
	chain(false);
	run(10, 0.1);
	nodes[0].out.n = nodes[3].in.n = 0;
	relay_node_step(&nodes[0].rn, now);
	ck_assert_int_eq(pump(3), 3);	/* nagoya forwards */
	ck_assert_int_eq(pump(3), 3);	/* osaka forwards */
	ck_assert_int_eq(pump(3), 3);	/* kobe adds them, ACKs on the way */
	ck_assert_uint_eq(nodes[3].in.n, 48);
	ck_assert_uint_eq(relay_node_shutdown(&nodes[0].rn, now), 3);
	relay_node_free(&nodes[0].rn);
	start_node(0, chain_rates, "kobe");	/* the reloaded engine */
	pump(0);
	ck_assert_uint_eq(nodes[3].in.n, 0);	/* taken back at once */
	ck_assert_uint_eq(nodes[0].out.n, 0);	/* nothing committed */
	ck_assert_uint_eq(nodes[3].rn.e2e[0].far.aborted, 6);
	ck_assert_uint_eq(nodes[3].aborted, 6);	/* on disk */
	run(10, 0.1);
	ck_assert_uint_eq(nodes[0].out.n, 48);
	same_keys(0, 3);
	same_keys(3, 0);
	/* Nothing to settle: nothing sent. */
	ck_assert_uint_eq(relay_node_shutdown(&nodes[3].rn, now), 0);
}
END_TEST

/*
 * osaka is killed (-9) with tokyo's KEYS in its queue, then comes back
 * with no memory of them: tokyo's transfers expire, their ABORTs go
 * through once osaka is back, and nothing is one-sided or twice.
 */
START_TEST(relay_killed_mid_transfer)
{
	chain(false);
	run(10, 0.1);
	nodes[0].out.n = nodes[3].in.n = 0;
	relay_node_step(&nodes[0].rn, now);
	ck_assert_int_eq(pump(3), 3);	/* three KEYS forwarded by nagoya */
	ck_assert_int_eq(pump(3), 3);	/* and by osaka */
	ck_assert_int_eq(pump(1), 1);	/* the first added at kobe */
	ck_assert_uint_eq(nodes[3].in.n, 16);
	kill_node(2);			/* its ACK and the other two are lost */
	pump(0);
	ck_assert_uint_eq(nodes[3].in.n, 16);
	run(10, 1.0);			/* expired, ABORT lost while osaka is down */
	ck_assert_uint_eq(nodes[0].rn.e2e[0].o.expired, 3);
	ck_assert_uint_gt(nodes[0].rn.e2e[0].o.naborts, 0);
	ck_assert_uint_eq(nodes[0].out.n, 0);	/* nothing committed meanwhile */
	start_node(2, chain_rates, NULL);
	now += RELAY_DOWN_HOLD;
	run(20, 1.0);
	ck_assert_uint_eq(nodes[0].rn.e2e[0].o.naborts, 0);
	/*
	 * kobe took back exactly the 16 it had added; it refuses transfer
	 * 4 from now on, and 5 and 6 never reached it (their ABORTs raise
	 * its mark no higher than what it delivered).
	 */
	ck_assert_uint_eq(nodes[3].rn.e2e[0].far.aborted, 4);
	ck_assert_uint_eq(nodes[3].aborted, 4);		/* on disk */
	ck_assert_uint_eq(nodes[3].rn.e2e[0].far.delivered, 9);	/* 7-9 new */
	ck_assert_uint_eq(nodes[0].out.n, 48);
	same_keys(0, 3);
	same_keys(3, 0);
	/*
	 * Each of the 9 transfers counted once in the status (the metric's
	 * result label): 6 committed, 3 expired, whose settled ABORTs are
	 * not counted a second time.
	 */
	{
		struct relay_link_status ls = { .share = 40 };
		struct linkd_health *h;
		size_t n;

		h = status_of(0, "nagoya", &ls, &n);
		ck_assert_uint_eq(nodes[0].rn.e2e[0].o.next - 1, 9);
		ck_assert_uint_eq(h[1].end.committed, 6);
		ck_assert_uint_eq(h[1].end.expired, 3);
		ck_assert_uint_eq(h[1].end.committed + h[1].end.dropped +
				  h[1].end.expired + h[1].end.aborted, 9);
		free(h);
	}
}
END_TEST

/*
 * The ring: tokyo's keys go the fast way round; nagoya-osaka is cut
 * after kobe added three transfers and before their ACKs are back:
 * they expire, nagoya cannot pass their ABORT on and says which link
 * is cut, tokyo reroutes over the slow direct link, the ABORTs take the
 * 48 keys back at kobe, and the pool fills over the new path.
 */
START_TEST(ring_reroutes)
{
	chain(true);
	run(10, 0.1);
	ck_assert_str_eq(nodes[0].rn.e2e[0].path_str, "tokyo nagoya osaka kobe");
	nodes[0].out.n = nodes[3].in.n = 0;
	relay_node_step(&nodes[0].rn, now);
	pump(9);			/* the three at kobe, ACKs at osaka */
	ck_assert_uint_eq(nodes[3].in.n, 48);
	lnks[1].down = true;
	pump(0);			/* the ACKs lost at osaka */
	ck_assert_uint_eq(nodes[0].out.n, 0);
	run(15, 1.0);
	ck_assert_str_eq(nodes[0].rn.e2e[0].path_str, "tokyo kobe");
	ck_assert_uint_eq(nodes[0].rn.e2e[0].path_changes, 1);
	ck_assert_uint_eq(nodes[0].rn.e2e[0].o.expired, 3);
	ck_assert_uint_eq(nodes[0].rn.e2e[0].o.naborts, 0);
	ck_assert_uint_eq(nodes[0].out.n, 48);
	same_keys(0, 3);
	same_keys(3, 0);
}
END_TEST

/*
 * tokyo is killed (-9) with three transfers at kobe and their ACKs on
 * the way: it comes back numbering its transfers above every number it
 * may have used (persisted 64 ahead), kobe accepts them, and the keys of
 * the lost transfers stay inbound orphans at kobe: no outbound twin
 * anywhere, so nobody can use them (max_age removes them).
 */
START_TEST(origin_restarts)
{
	chain(false);
	run(10, 0.1);
	ck_assert_uint_eq(nodes[0].rn.e2e[0].o.next, 4);
	ck_assert_uint_eq(nodes[0].persisted, 1 + 64);
	nodes[0].out.n = nodes[3].in.n = 0;
	relay_node_step(&nodes[0].rn, now);
	pump(7);			/* transfer 4 added at kobe */
	ck_assert_uint_eq(nodes[3].in.n, 16);
	kill_node(0);
	pump(0);			/* 5 and 6 too; every ACK lost */
	ck_assert_uint_eq(nodes[3].in.n, 48);
	start_node(0, chain_rates, "kobe");
	ck_assert_uint_eq(nodes[0].rn.e2e[0].o.next, 65);
	run(10, 0.2);
	ck_assert_uint_eq(nodes[0].out.n, 48);
	ck_assert_uint_eq(nodes[0].rn.e2e[0].o.committed, 3);
	ck_assert_uint_eq(nodes[3].rn.e2e[0].far.delivered, 67);
	ck_assert_uint_eq(nodes[3].in.n, 48 + 48);
	/* The orphans are the first 48: without them, the same keys. */
	nodes[3].in.n -= 48;
	memmove(nodes[3].in.k, nodes[3].in.k + 48, 48 * sizeof(struct ekey));
	same_keys(0, 3);
	same_keys(3, 0);
}
END_TEST

/* The state file: round trip, a new pool, every malformed file refused. */
START_TEST(state_file)
{
	static const char *const bad[] = {
		"", "qkd-linkd relay 2\nnext 1\naborted 0\n",
		"qkd-linkd relay 1\nnext 0\naborted 0\n",
		"qkd-linkd relay 1\nnext 01\naborted 0\n",
		"qkd-linkd relay 1\nnext -1\naborted 0\n",
		"qkd-linkd relay 1\nnext 1\naborted 0",
		"qkd-linkd relay 1\nnext 1\naborted 0\nx",
		"qkd-linkd relay 1\nnext 18446744073709551616\naborted 0\n",
		"qkd-linkd relay 1\naborted 0\nnext 1\n",
	};
	char dir[] = "/tmp/relay-state.XXXXXX", err[256], path[300];
	struct relay_state st = { 129, 41 }, got;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(relay_state_load(dir, "kobe", &got, err, sizeof(err)), 0);
	ck_assert_uint_eq(got.next, 1);
	ck_assert_uint_eq(got.aborted, 0);
	ck_assert_int_eq(relay_state_save(dir, "kobe", &st, err, sizeof(err)), 0);
	ck_assert_int_eq(relay_state_load(dir, "kobe", &got, err, sizeof(err)), 1);
	ck_assert_uint_eq(got.next, 129);
	ck_assert_uint_eq(got.aborted, 41);
	snprintf(path, sizeof(path), "%s/kobe.relay", dir);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs(bad[i], f);
		fclose(f);
		ck_assert_msg(relay_state_load(dir, "kobe", &got, err,
					       sizeof(err)) == -1,
			      "case %u accepted", i);
		ck_assert_msg(strstr(err, "kobe.relay: "), "case %u: %s", i, err);
	}
	unlink(path);
	ck_assert_int_eq(relay_state_save("/nonexistent/dir", "kobe", &st, err,
					  sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cannot write /nonexistent/dir/kobe.relay"),
		      "%s", err);
	rmdir(dir);
}
END_TEST

/*
 * What qkd-linkd writes for node @x (relay_status.c: its end-to-end pool,
 * and its link pool to @link with budget @ls), as qkdctl parses it: the
 * writer and the parser agree.  *@n entries, the link pool's first.
 */
static struct linkd_health *status_of(int x, const char *link,
				      const struct relay_link_status *ls,
				      size_t *n)
{
	struct linkd_health *h;
	char *buf = NULL, err[128];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	fputs("{\"time\":1764000100,\"pools\":[{\"name\":\"link\","
	      "\"source_ok\":true,\"peer_out_connected\":true,"
	      "\"peer_in_connected\":true", f);
	relay_status_link(f, link, ls);
	fputs("}]", f);
	/* The engine's clock at @now is 1764000100 on the wall. */
	relay_status_pools(f, &nodes[x].rn, now, 1764000100);
	fputs("}\n", f);
	fclose(f);
	ck_assert_msg(!linkd_status_parse(buf, len, &h, n, err, sizeof(err)),
		      "%s: %s", err, buf);
	free(buf);
	return h;
}

START_TEST(status_round_trip)
{
	struct relay_link_status ls = { .share = 40, .reserve = 32,
					.bucket = 7, .taken_out = 54,
					.taken_in = 54 };
	struct linkd_health *h;
	double t0;
	size_t n;

	chain(false);
	t0 = now;			/* the first step: the path is set */
	run(10, 0.1);
	now += 30;
	h = status_of(0, "nagoya", &ls, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert(h[0].relays);
	ck_assert_str_eq(h[0].relay.node, "nagoya");
	ck_assert_uint_eq(h[0].relay.share, 40);
	ck_assert_uint_eq(h[0].relay.reserve, 32);
	ck_assert_uint_eq(h[0].relay.bucket, 7);
	ck_assert_uint_eq(h[0].relay.taken_out, 54);
	ck_assert_uint_eq(h[0].relay.taken_in, 54);
	ck_assert(h[1].e2e);
	ck_assert_str_eq(h[1].name, "kobe");
	ck_assert_str_eq(h[1].end.peer, "kobe");
	ck_assert_str_eq(h[1].end.role_out, "origin");
	ck_assert_str_eq(h[1].end.role_in, "far-end");
	ck_assert_str_eq(h[1].end.path, "tokyo nagoya osaka kobe");
	ck_assert_str_eq(h[1].end.bottleneck, "nagoya-osaka");
	ck_assert_uint_eq(h[1].end.bottleneck_rate, 1000000);
	ck_assert_str_eq(h[1].end.path_in, "kobe osaka nagoya tokyo");
	ck_assert_uint_eq(h[1].end.path_changes, 0);
	/* Set at the first step, 31 s before now. */
	ck_assert_int_eq(h[1].end.path_changed,
			 1764000100 - (int64_t)(now - t0 + 0.5));
	ck_assert_int_eq(h[1].end.path_changed, 1764000100 - 31);
	ck_assert_uint_eq(h[1].end.committed, 3);
	ck_assert_uint_eq(h[1].end.dropped + h[1].end.expired +
			  h[1].end.aborted, 0);
	ck_assert_uint_eq(h[1].end.keys_out, 48);
	ck_assert_uint_eq(h[1].end.keys_in, 48);
	ck_assert_uint_eq(h[1].end.in_flight, 0);
	ck_assert_str_eq(h[1].end.last_error, "");
	ck_assert_int_eq(h[1].end.last_error_time, 0);
	free(h);

	/* nagoya-osaka cut: no path, the reason and when, one change. */
	lnks[1].down = true;
	nodes[0].out.n = nodes[3].in.n = 0;
	run(5, 0.5);
	h = status_of(0, "nagoya", &ls, &n);
	ck_assert_str_eq(h[1].end.path, "");
	ck_assert_str_eq(h[1].end.bottleneck, "");
	ck_assert_uint_eq(h[1].end.bottleneck_rate, 0);
	ck_assert_uint_eq(h[1].end.path_changes, 1);
	ck_assert_int_ge(h[1].end.path_changed, 1764000100 - 3);
	ck_assert_str_eq(h[1].end.last_error,
			 "no path to kobe: no path from tokyo to kobe");
	ck_assert_int_ge(h[1].end.last_error_time, 1764000100 - 3);
	ck_assert_int_le(h[1].end.last_error_time, 1764000100);
	free(h);
	/* A relay has no end-to-end pool: an empty list. */
	h = status_of(1, "tokyo", &ls, &n);
	ck_assert_uint_eq(n, 1);
	free(h);
}
END_TEST

Suite *relay_node_suite(void)
{
	Suite *s = suite_create("relay_node");
	TCase *tc = tcase_create("relay_node");
	TCase *st = tcase_create("relay_state");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, chain_fills_both_ends);
	tcase_add_test(tc, refused_transfers_hold_the_origin);
	tcase_add_test(tc, local_refusal_holds_the_origin);
	tcase_add_test(tc, chain_cut_mid_transfer);
	tcase_add_test(tc, relay_killed_mid_transfer);
	tcase_add_test(tc, ring_reroutes);
	tcase_add_test(tc, origin_restarts);
	tcase_add_test(tc, status_round_trip);
	tcase_add_test(tc, idle_relay_not_stepped);
	tcase_add_test(tc, shutdown_aborts_in_flight);
	suite_add_tcase(s, tc);
	tcase_add_test(st, state_file);
	suite_add_tcase(s, st);
	return s;
}
