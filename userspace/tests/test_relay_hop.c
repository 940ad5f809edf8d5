// SPDX-License-Identifier: GPL-2.0
/*
 * relay_hop, relay_budget and relay_xfer over fake link pools: a transfer along
 * tokyo - nagoya - osaka - kobe delivers the origin's keys, consumes
 * exactly its link keys on both sides of every hop and nothing else; a
 * changed frame, a missing link key, a used-up share, a cut link or a
 * frame from the wrong neighbour fails with its status and leaves no link
 * key on one side only.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "tests.h"
#include "../linkd/relay_budget.h"
#include "../linkd/relay_hop.h"
#include "../linkd/relay_xfer.h"

#define NKEYS	200	/* link keys per direction */

/* One direction of a fake link: the sender's outbound FIFO, the receiver's inbound set. */
struct fdir {
	uint8_t ids[NKEYS][RELAY_ID_LEN];
	uint8_t mat[NKEYS][RELAY_KEY_MAX];
	bool out[NKEYS], in[NKEYS];
	unsigned int next;
};

struct flink {
	const char *a, *b;
	unsigned int key_len;
	bool down;
	unsigned int share_left;	/* keys the relay share still allows */
	struct fdir dir[2];		/* [0]: a -> b, [1]: b -> a */
};

static struct flink links[3];
static const char *const chain[] = { "tokyo", "nagoya", "osaka", "kobe" };

struct fnode {
	const char *name;
	struct relay_links ops;
};

static struct fnode nodes[4];
static struct relay_hop *hop;

static struct flink *find(const char *x, const char *y, int *d)
{
	for (int i = 0; i < 3; i++) {
		if (!strcmp(links[i].a, x) && !strcmp(links[i].b, y)) {
			*d = 0;
			return &links[i];
		}
		if (!strcmp(links[i].b, x) && !strcmp(links[i].a, y)) {
			*d = 1;
			return &links[i];
		}
	}
	return NULL;
}

static unsigned int f_key_len(void *ctx, const char *node)
{
	struct fnode *self = ctx;
	int d;
	struct flink *l = find(self->name, node, &d);

	return l && !l->down ? l->key_len : 0;
}

static int f_take_out(void *ctx, const char *node, unsigned int n,
		      uint8_t (*ids)[RELAY_ID_LEN], uint8_t *material)
{
	struct fnode *self = ctx;
	int d;
	struct flink *l = find(self->name, node, &d);
	struct fdir *fd;

	if (!l || l->down)
		return -ENETDOWN;
	if (n > l->share_left)
		return -EAGAIN;
	fd = &l->dir[d];
	if (fd->next + n > NKEYS)
		return -ENOENT;
	for (unsigned int i = 0; i < n; i++, fd->next++) {
		memcpy(ids[i], fd->ids[fd->next], RELAY_ID_LEN);
		memcpy(material + i * l->key_len, fd->mat[fd->next], l->key_len);
		fd->out[fd->next] = false;
	}
	l->share_left -= n;
	return 0;
}

static int f_take_in(void *ctx, const char *node,
		     const uint8_t (*ids)[RELAY_ID_LEN], unsigned int n,
		     uint8_t *material)
{
	struct fnode *self = ctx;
	int d, missing = 0;
	struct flink *l = find(node, self->name, &d);	/* node -> self */
	struct fdir *fd = &l->dir[d];

	for (unsigned int i = 0; i < n; i++) {
		unsigned int k;

		for (k = 0; k < NKEYS; k++)
			if (fd->in[k] && !memcmp(fd->ids[k], ids[i], RELAY_ID_LEN))
				break;
		if (k == NKEYS) {
			missing = 1;
			continue;
		}
		memcpy(material + i * l->key_len, fd->mat[k], l->key_len);
		fd->in[k] = false;
	}
	if (missing)
		memset(material, 0, (size_t)n * l->key_len);
	return missing ? -ENOENT : 0;
}

/* Keys taken from the outbound / inbound side of a direction. */
static unsigned int used(const struct fdir *fd, bool out)
{
	unsigned int n = 0;

	for (int k = 0; k < NKEYS; k++)
		n += out ? !fd->out[k] : !fd->in[k];
	return n;
}

static void setup(void)
{
	static const unsigned int lens[3] = { 32, 16, 64 };

	for (int i = 0; i < 3; i++) {
		struct flink *l = &links[i];

		memset(l, 0, sizeof(*l));
		l->a = chain[i];
		l->b = chain[i + 1];
		l->key_len = lens[i];
		l->share_left = NKEYS;
		for (int d = 0; d < 2; d++)
			for (int k = 0; k < NKEYS; k++) {
				memset(l->dir[d].ids[k], 0, RELAY_ID_LEN);
				l->dir[d].ids[k][0] = (uint8_t)i;
				l->dir[d].ids[k][1] = (uint8_t)d;
				l->dir[d].ids[k][2] = (uint8_t)k;
				for (int j = 0; j < RELAY_KEY_MAX; j++)
					l->dir[d].mat[k][j] =
						(uint8_t)(k * 131 + j * 7 + i * 17 + d);
				l->dir[d].out[k] = l->dir[d].in[k] = true;
			}
	}
	for (int i = 0; i < 4; i++) {
		nodes[i].name = chain[i];
		nodes[i].ops = (struct relay_links){ f_key_len, f_take_out,
						     f_take_in, &nodes[i] };
	}
	hop = relay_hop_new();
	ck_assert_ptr_nonnull(hop);
}

static void teardown(void)
{
	relay_hop_free(hop);
}

static struct relay_frame f, g;
static uint8_t buf[2][RELAY_FRAME_MAX];
static uint8_t sent[RELAY_MAX_PAYLOAD];
static uint8_t got[RELAY_MAX_PAYLOAD];
static char err[RELAY_ERR_LEN];

static int originate(unsigned int n, unsigned int key_len)
{
	memset(&f, 0, sizeof(f));
	f.type = RELAY_KEYS;
	f.transfer = 7;
	f.npath = 4;
	for (int i = 0; i < 4; i++)
		strcpy(f.path[i], chain[i]);
	f.n = (uint16_t)n;
	f.key_len = (uint16_t)key_len;
	for (unsigned int i = 0; i < n; i++) {
		memset(f.ids[i], 0x5a, RELAY_ID_LEN);
		f.ids[i][0] = (uint8_t)i;
	}
	return relay_hop_originate(hop, &nodes[0].ops, &f, sent, buf[0],
				   sizeof(buf[0]), err, sizeof(err));
}

/* Node @i receives @len bytes of buf[src] from node i-1. */
static int receive(int i, int src, size_t len, size_t *outlen)
{
	return relay_hop_receive(hop, &nodes[i].ops, chain[i], chain[i - 1],
				 buf[src], len, &g, got, buf[!src],
				 sizeof(buf[0]), outlen, err, sizeof(err));
}

START_TEST(chain_delivers_exact_consumption)
{
	size_t len, len2;
	int r = originate(16, 32);

	ck_assert_msg(r > 0, "%s", err);
	/* The origin's keys are the first link's keys 1..16 (0 is the MAC key). */
	for (int k = 0; k < 16; k++)
		ck_assert_mem_eq(sent + k * 32, links[0].dir[0].mat[k + 1], 32);
	ck_assert_int_eq(receive(1, 0, (size_t)r, &len), RELAY_FORWARD);
	ck_assert_int_eq(receive(2, 1, len, &len2), RELAY_FORWARD);
	ck_assert_int_eq(receive(3, 0, len2, &len), RELAY_DELIVER);
	/* The keys and the end-to-end MAC key. */
	ck_assert_mem_eq(got, sent, 16 * 32 + RELAY_E2E_KEY_LEN);
	ck_assert_uint_eq(g.n, 16);
	ck_assert_mem_eq(g.ids[15], f.ids[15], RELAY_ID_LEN);
	/*
	 * Per hop: the 32-byte MAC key + 16 keys of 32 bytes + the 32-byte
	 * end-to-end MAC key = 576 bytes: 18 keys of 32 bytes, 36 of 16, 9
	 * of 64.  The same number on both sides, and nothing in the other
	 * direction.
	 */
	ck_assert_uint_eq(used(&links[0].dir[0], true), 18);
	ck_assert_uint_eq(used(&links[0].dir[0], false), 18);
	ck_assert_uint_eq(used(&links[1].dir[0], true), 36);
	ck_assert_uint_eq(used(&links[1].dir[0], false), 36);
	ck_assert_uint_eq(used(&links[2].dir[0], true), 9);
	ck_assert_uint_eq(used(&links[2].dir[0], false), 9);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(used(&links[i].dir[1], true), 0);
		ck_assert_uint_eq(used(&links[i].dir[1], false), 0);
	}
	/* The answer travels back from kobe (hop 3) to osaka (hop 2). */
	ck_assert_int_eq(relay_hop_answer(&g, RELAY_OK, 16, got + 16 * 32, &f), 0);
	ck_assert_uint_eq(f.hop, 2);
	ck_assert_uint_eq(f.at, 3);
	ck_assert_int_eq(relay_e2e_verify(sent + 16 * 32, RELAY_ACK, 7, 0, 16,
					  (const uint8_t (*)[RELAY_ID_LEN])g.ids,
					  16, f.e2e_tag), 0);
	/* Not without its end-to-end key. */
	ck_assert_int_eq(relay_hop_answer(&g, RELAY_OK, 16, NULL, &f), -1);
}
END_TEST

/*
 * The answer's way back: osaka and nagoya pass kobe's ACK on (checking
 * who sent it), tokyo gets it with "at" naming kobe; an ABORT goes the
 * other way to kobe.
 */
START_TEST(answers_pass_back)
{
	struct relay_frame h;
	size_t len, len2;
	int r = originate(2, 32);

	ck_assert_int_gt(r, 0);
	ck_assert_int_eq(receive(1, 0, (size_t)r, &len), RELAY_FORWARD);
	/* osaka's link to kobe is cut: osaka answers, at = 2. */
	links[2].down = true;
	ck_assert_int_eq(receive(2, 1, len, &len2), -RELAY_E_LINK_DOWN);
	ck_assert_int_eq(relay_hop_answer(&g, RELAY_E_LINK_DOWN, 0, NULL, &h), 0);
	ck_assert_uint_eq(h.at, 2);
	r = relay_frame_encode(&h, buf[0], sizeof(buf[0]), err, sizeof(err));
	ck_assert_int_gt(r, 0);
	ck_assert_int_eq(relay_hop_pass("nagoya", "osaka", buf[0], (size_t)r,
					&g, buf[1], sizeof(buf[1]), &len, err,
					sizeof(err)), RELAY_FORWARD);
	/* Not from osaka: dropped. */
	ck_assert_int_eq(relay_hop_pass("tokyo", "osaka", buf[1], len, &g,
					buf[0], sizeof(buf[0]), &len2, err,
					sizeof(err)), -RELAY_E_PROTO);
	ck_assert_int_eq(relay_hop_pass("tokyo", "nagoya", buf[1], len, &g,
					buf[0], sizeof(buf[0]), &len2, err,
					sizeof(err)), RELAY_DELIVER);
	ck_assert_uint_eq(g.at, 2);
	ck_assert_uint_eq(g.status, RELAY_E_LINK_DOWN);
	ck_assert_str_eq(g.path[g.at], "osaka");
	/* An ABORT from tokyo travels to kobe. */
	memset(&h, 0, sizeof(h));
	h.type = RELAY_ABORT;
	h.transfer = 7;
	h.hop = 1;
	h.npath = 4;
	for (int i = 0; i < 4; i++)
		strcpy(h.path[i], chain[i]);
	h.n = 1;
	r = relay_frame_encode(&h, buf[0], sizeof(buf[0]), err, sizeof(err));
	ck_assert_int_eq(relay_hop_pass("nagoya", "tokyo", buf[0], (size_t)r,
					&g, buf[1], sizeof(buf[1]), &len, err,
					sizeof(err)), RELAY_FORWARD);
	ck_assert_int_eq(relay_hop_pass("osaka", "nagoya", buf[1], len, &g,
					buf[0], sizeof(buf[0]), &len2, err,
					sizeof(err)), RELAY_FORWARD);
	ck_assert_int_eq(relay_hop_pass("kobe", "osaka", buf[0], len2, &g,
					buf[1], sizeof(buf[1]), &len, err,
					sizeof(err)), RELAY_DELIVER);
	ck_assert_uint_eq(g.hop, 3);
	/* KEYS are opened, not passed. */
	r = originate(2, 32);
	ck_assert_int_eq(relay_hop_pass("nagoya", "tokyo", buf[0], (size_t)r,
					&g, buf[1], sizeof(buf[1]), &len, err,
					sizeof(err)), -RELAY_E_PROTO);
}
END_TEST

/*
 * A frame that cannot fit the caller's buffer is refused before a link
 * key is taken: at the origin and at a relay's outbound side.
 */
START_TEST(no_room_takes_nothing)
{
	size_t len, len2;
	int r;

	memset(&f, 0, sizeof(f));
	f.type = RELAY_KEYS;
	f.transfer = 7;
	f.npath = 4;
	for (int i = 0; i < 4; i++)
		strcpy(f.path[i], chain[i]);
	f.n = 4;
	f.key_len = 32;
	for (unsigned int i = 0; i < 4; i++)
		memset(f.ids[i], (int)i + 1, RELAY_ID_LEN);
	r = relay_hop_originate(hop, &nodes[0].ops, &f, sent, buf[0], 60, err,
				sizeof(err));
	ck_assert_int_eq(r, -RELAY_E_PROTO);
	ck_assert_uint_eq(used(&links[0].dir[0], true), 0);
	r = originate(4, 32);
	ck_assert_int_gt(r, 0);
	ck_assert_int_eq(relay_hop_receive(hop, &nodes[1].ops, "nagoya", "tokyo",
					   buf[0], (size_t)r, &g, got, buf[1],
					   (size_t)r, &len, err, sizeof(err)),
			 -RELAY_E_PROTO);
	ck_assert_msg(strstr(err, "no room"), "%s", err);
	/* The inbound hop was consumed on both sides, the outbound not at all. */
	ck_assert_uint_eq(used(&links[0].dir[0], true), 6);
	ck_assert_uint_eq(used(&links[0].dir[0], false), 6);
	ck_assert_uint_eq(used(&links[1].dir[0], true), 0);
	(void)len2;
}
END_TEST

/* A changed frame: bad tag at nagoya; that hop's keys gone on both sides. */
START_TEST(changed_frame)
{
	size_t len;
	int r = originate(4, 32);

	ck_assert_int_gt(r, 0);
	buf[0][r - 1] ^= 0x80;	/* the tag */
	ck_assert_int_eq(receive(1, 0, (size_t)r, &len), -RELAY_E_TAG);
	ck_assert_str_eq(err, "bad tag");
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(used(&links[0].dir[0], true), 6);
	ck_assert_uint_eq(used(&links[0].dir[0], false), 6);
	ck_assert_uint_eq(used(&links[1].dir[0], true), 0);
	ck_assert_int_eq(relay_hop_answer(&g, RELAY_E_TAG, 4, NULL, &f), 0);
	ck_assert_uint_eq(f.hop, 0);
	ck_assert_uint_eq(f.at, 1);
	ck_assert_uint_eq(f.count, 0);
	ck_assert_int_gt(relay_frame_encode(&f, buf[1], sizeof(buf[1]), err,
					    sizeof(err)), 0);
}
END_TEST

/* Inbound link keys gone at nagoya (flushed): nothing left one-sided. */
START_TEST(missing_link_key)
{
	size_t len;
	int r = originate(4, 32);

	ck_assert_int_gt(r, 0);
	links[0].dir[0].in[2] = false;
	ck_assert_int_eq(receive(1, 0, (size_t)r, &len), -RELAY_E_LINK_KEYS);
	ck_assert_uint_eq(used(&links[0].dir[0], false), 6);
}
END_TEST

/* osaka's share of the link to kobe is used up, then the link is cut. */
START_TEST(budget_and_cut)
{
	size_t len, len2;
	int r = originate(4, 32);

	ck_assert_int_gt(r, 0);
	ck_assert_int_eq(receive(1, 0, (size_t)r, &len), RELAY_FORWARD);
	links[2].share_left = 2;	/* needs ceil(192 / 64) = 3 */
	ck_assert_int_eq(receive(2, 1, len, &len2), -RELAY_E_BUDGET);
	ck_assert_str_eq(err, "the relay share of the link to kobe is used up");
	ck_assert_uint_eq(used(&links[2].dir[0], true), 0);
	/* nagoya -> osaka keys were taken on both sides all the same. */
	ck_assert_uint_eq(used(&links[1].dir[0], true), 12);
	ck_assert_uint_eq(used(&links[1].dir[0], false), 12);

	links[2].share_left = NKEYS;
	r = originate(4, 32);
	ck_assert_int_eq(receive(1, 0, (size_t)r, &len), RELAY_FORWARD);
	links[2].down = true;
	ck_assert_int_eq(receive(2, 1, len, &len2), -RELAY_E_LINK_DOWN);
	ck_assert_str_eq(err, "no link to kobe");
	/* And the origin itself, with its first link cut. */
	links[0].down = true;
	ck_assert_int_eq(originate(4, 32), -RELAY_E_LINK_DOWN);
}
END_TEST

/* A frame from the wrong neighbour or for another node: nothing taken. */
START_TEST(wrong_neighbour)
{
	size_t len;
	int r = originate(4, 32);

	ck_assert_int_gt(r, 0);
	ck_assert_int_eq(relay_hop_receive(hop, &nodes[2].ops, "osaka", "tokyo",
					   buf[0], (size_t)r, &g, got, buf[1],
					   sizeof(buf[1]), &len, err,
					   sizeof(err)), -RELAY_E_PROTO);
	ck_assert_int_eq(relay_hop_receive(hop, &nodes[1].ops, "nagoya", "kobe",
					   buf[0], (size_t)r, &g, got, buf[1],
					   sizeof(buf[1]), &len, err,
					   sizeof(err)), -RELAY_E_PROTO);
	/* Nobody to answer: path[hop - 1] need not be the sender. */
	ck_assert_uint_eq(g.type, 0);
	ck_assert_uint_eq(used(&links[0].dir[0], false), 0);
	/* Garbage: nobody to answer. */
	ck_assert_int_eq(receive(1, 0, 3, &len), -RELAY_E_PROTO);
	ck_assert_uint_eq(g.type, 0);
	/* Still deliverable afterwards. */
	ck_assert_int_eq(receive(1, 0, (size_t)r, &len), RELAY_FORWARD);
}
END_TEST

START_TEST(budget_share_and_reserve)
{
	struct relay_budget b;

	relay_budget_init(&b, 0, 10, 1000);
	relay_budget_credit(&b, 500);
	ck_assert(!relay_budget_allows(&b, 1, 1000));
	relay_budget_init(&b, 30, 10, 1000);
	relay_budget_credit(&b, 10);		/* 3 keys */
	ck_assert_uint_eq(relay_budget_available(&b), 3);
	ck_assert(relay_budget_allows(&b, 3, 13));
	ck_assert(!relay_budget_allows(&b, 3, 12));	/* the reserve */
	ck_assert(!relay_budget_allows(&b, 4, 100));	/* the share */
	ck_assert(!relay_budget_allows(&b, 0, 100));
	relay_budget_take(&b, 3);
	ck_assert_uint_eq(relay_budget_available(&b), 0);
	relay_budget_credit(&b, 5);		/* 1.5 keys */
	ck_assert(relay_budget_allows(&b, 1, 100));
	ck_assert(!relay_budget_allows(&b, 2, 100));
	relay_budget_credit(&b, 5);		/* 3 keys, exactly */
	ck_assert(relay_budget_allows(&b, 3, 100));
	ck_assert_uint_eq(b.taken, 3);
	/* Saved up share stops at the burst. */
	relay_budget_init(&b, 100, 0, 64);
	relay_budget_credit(&b, 100000);
	ck_assert_uint_eq(relay_budget_available(&b), 64);
	ck_assert(!relay_budget_allows(&b, 65, 100000));
}
END_TEST

/* An ACK from kobe (at 3) for tokyo (hop 0) on the chain. */
static void mk_ack(struct relay_frame *a, uint64_t transfer, uint16_t status,
		   uint16_t count, uint8_t at)
{
	memset(a, 0, sizeof(*a));
	a->type = RELAY_ACK;
	a->transfer = transfer;
	a->npath = 4;
	for (int i = 0; i < 4; i++)
		strcpy(a->path[i], chain[i]);
	a->status = status;
	a->count = count;
	a->at = at;
}

/*
 * End to end: tokyo's transfer is committed only on kobe's tagged ACK,
 * what tokyo commits to its outbound side is what kobe added to its
 * inbound, and the slot stays until tokyo reports the commit.
 */
START_TEST(xfer_end_to_end)
{
	static struct relay_origin o;
	struct relay_far far;
	struct relay_frame ack;
	struct relay_xfer *x, *c;
	size_t len, len2;
	int r;

	ck_assert_int_eq(relay_far_init(&far), 0);
	relay_origin_init(&o, 7);
	r = originate(8, 32);		/* transfer 7: fills f.ids, sent */
	ck_assert_int_gt(r, 0);
	x = relay_origin_begin(&o, 8, 32, (const uint8_t (*)[RELAY_ID_LEN])f.ids,
			       10.0);
	ck_assert_ptr_nonnull(x);
	ck_assert_uint_eq(x->transfer, 7);
	memcpy(x->keys, sent, 8 * 32 + RELAY_E2E_KEY_LEN);
	ck_assert_int_eq(receive(1, 0, (size_t)r, &len), RELAY_FORWARD);
	ck_assert_int_eq(receive(2, 1, len, &len2), RELAY_FORWARD);
	ck_assert_int_eq(receive(3, 0, len2, &len), RELAY_DELIVER);
	ck_assert_int_eq(relay_far_accept(&far, g.transfer), 0);
	relay_far_delivered(&far, g.transfer, g.n,
			    (const uint8_t (*)[RELAY_ID_LEN])g.ids, got + 8 * 32);
	ck_assert_int_eq(relay_hop_answer(&g, RELAY_OK, 8, got + 8 * 32, &ack), 0);
	/* A relay that changes the count, or forges an OK: not committed. */
	ack.hop = 0;
	ack.count = 7;
	ck_assert_int_eq(relay_origin_ack(&o, &ack, &c), RELAY_ACK_DROPPED);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(relay_origin_abort_next(&o)->transfer, 7);
	relay_origin_clear(&o);
	relay_origin_init(&o, 7);
	x = relay_origin_begin(&o, 8, 32, (const uint8_t (*)[RELAY_ID_LEN])f.ids,
			       10.0);
	memcpy(x->keys, sent, 8 * 32 + RELAY_E2E_KEY_LEN);
	ack.count = 8;
	ack.e2e_tag[0] ^= 1;
	ck_assert_int_eq(relay_origin_ack(&o, &ack, &c), RELAY_ACK_DROPPED);
	ck_assert_uint_eq(relay_origin_abort_next(&o)->transfer, 7);
	relay_origin_clear(&o);
	relay_origin_init(&o, 7);
	x = relay_origin_begin(&o, 8, 32, (const uint8_t (*)[RELAY_ID_LEN])f.ids,
			       10.0);
	memcpy(x->keys, sent, 8 * 32 + RELAY_E2E_KEY_LEN);
	ack.e2e_tag[0] ^= 1;
	/* kobe's own ACK commits kobe's keys. */
	ck_assert_int_eq(relay_origin_ack(&o, &ack, &c), RELAY_ACK_COMMIT);
	ck_assert_ptr_eq(c, x);
	ck_assert_uint_eq(c->n, 8);
	ck_assert_mem_eq(c->keys, got, 8 * 32);
	ck_assert_mem_eq(c->ids, g.ids, 8 * RELAY_ID_LEN);
	ck_assert_uint_eq(o.committed, 0);	/* not before it is reported */
	relay_origin_committed(&o, c);
	ck_assert_uint_eq(o.committed, 1);
	/* A second ACK for it finds nothing. */
	ck_assert_int_eq(relay_origin_ack(&o, &ack, &c), RELAY_ACK_UNKNOWN);
	relay_origin_clear(&o);
	relay_far_clear(&far);
}
END_TEST

/*
 * The origin's pool refuses the keys after kobe added its twins: the
 * transfer is aborted with a tag kobe verifies, and kobe removes exactly
 * what it added; a forged ABORT removes nothing.
 */
START_TEST(xfer_commit_failed_aborts)
{
	static struct relay_origin o;
	static uint8_t rm[RELAY_MAX_KEYS][RELAY_ID_LEN];
	struct relay_far far;
	struct relay_frame ack, ab;
	struct relay_xfer *x, *c;
	const struct relay_abort *a;
	size_t len, len2;
	uint16_t n;
	int r;

	ck_assert_int_eq(relay_far_init(&far), 0);
	relay_origin_init(&o, 7);
	r = originate(4, 32);
	x = relay_origin_begin(&o, 4, 32, (const uint8_t (*)[RELAY_ID_LEN])f.ids,
			       10.0);
	memcpy(x->keys, sent, 4 * 32 + RELAY_E2E_KEY_LEN);
	ck_assert_int_eq(receive(1, 0, (size_t)r, &len), RELAY_FORWARD);
	ck_assert_int_eq(receive(2, 1, len, &len2), RELAY_FORWARD);
	ck_assert_int_eq(receive(3, 0, len2, &len), RELAY_DELIVER);
	relay_far_delivered(&far, 7, 4, (const uint8_t (*)[RELAY_ID_LEN])g.ids,
			    got + 4 * 32);
	ck_assert_int_eq(relay_hop_answer(&g, RELAY_OK, 4, got + 4 * 32, &ack), 0);
	ack.hop = 0;
	ck_assert_int_eq(relay_origin_ack(&o, &ack, &c), RELAY_ACK_COMMIT);
	relay_origin_commit_failed(&o, c);
	/* Counted once, as aborted (never also as dropped). */
	ck_assert_uint_eq(o.aborted, 1);
	ck_assert_uint_eq(o.dropped, 0);
	a = relay_origin_abort_next(&o);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_null(relay_origin_begin(&o, 4, 32,
					      (const uint8_t (*)[RELAY_ID_LEN])f.ids,
					      10.0));
	memset(&ab, 0, sizeof(ab));
	ab.type = RELAY_ABORT;
	ab.transfer = a->transfer;
	ab.hop = 3;
	ab.npath = 4;
	ab.n = a->n;
	memcpy(ab.ids, a->ids, (size_t)a->n * RELAY_ID_LEN);
	/* Forged (a relay's): nothing removed, nothing refused. */
	ck_assert_int_eq(relay_far_abort(&far, &ab, rm, &n), RELAY_FAR_BAD_TAG);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(relay_far_accept(&far, 7), 0);
	memcpy(ab.e2e_tag, a->tag, RELAY_TAG_LEN);
	ck_assert_int_eq(relay_far_abort(&far, &ab, rm, &n), RELAY_FAR_REMOVE);
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(rm, g.ids, 4 * RELAY_ID_LEN);
	ck_assert_int_eq(relay_far_accept(&far, 7), -RELAY_E_STALE);
	/* The ABORT again (ABORTED was lost): nothing more to remove. */
	ck_assert_int_eq(relay_far_abort(&far, &ab, rm, &n), RELAY_FAR_NOTHING);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(relay_origin_aborted(&o, 7), 0);
	relay_origin_clear(&o);
	relay_far_clear(&far);
}
END_TEST

START_TEST(xfer_window_errors_and_expiry)
{
	static struct relay_origin o;
	static uint8_t ids[RELAY_MAX_KEYS][RELAY_ID_LEN];
	struct relay_xfer *x[RELAY_XFER_WINDOW], *c;
	struct relay_frame ack;

	memset(ids, 0x33, sizeof(ids));
	relay_origin_init(&o, 41);
	for (int i = 0; i < RELAY_XFER_WINDOW; i++) {
		x[i] = relay_origin_begin(&o, 4, 32,
					  (const uint8_t (*)[RELAY_ID_LEN])ids,
					  i < 2 ? 5.0 : 50.0);
		ck_assert_ptr_nonnull(x[i]);
		ck_assert_uint_eq(x[i]->transfer, 41 + i);
		memset(x[i]->keys, i + 1, 4 * 32 + RELAY_E2E_KEY_LEN);
	}
	ck_assert_ptr_null(relay_origin_begin(&o, 4, 32,
					      (const uint8_t (*)[RELAY_ID_LEN])ids,
					      50.0));
	/* An error status: dropped, nothing to abort (the far end added nothing). */
	mk_ack(&ack, 43, RELAY_E_TAG, 0, 1);
	ck_assert_int_eq(relay_origin_ack(&o, &ack, &c), RELAY_ACK_DROPPED);
	ck_assert_ptr_null(relay_origin_abort_next(&o));
	/* ACK 0 with the wrong count: dropped and aborted. */
	mk_ack(&ack, 44, RELAY_OK, 3, 3);
	ck_assert_int_eq(relay_origin_ack(&o, &ack, &c), RELAY_ACK_DROPPED);
	ck_assert_uint_eq(relay_origin_abort_next(&o)->transfer, 44);
	ck_assert_uint_eq(o.dropped, 1);	/* 43 */
	ck_assert_uint_eq(o.aborted, 1);	/* 44 */
	ck_assert_int_eq(relay_origin_aborted(&o, 44), 0);
	/* Two past their deadline. */
	ck_assert_uint_eq(relay_origin_expire(&o, 4.9), 0);
	ck_assert_uint_eq(relay_origin_expire(&o, 5.0), 2);
	ck_assert_uint_eq(o.expired, 2);
	ck_assert_uint_eq(relay_origin_abort_next(&o)->transfer, 41);
	ck_assert_uint_eq(relay_origin_abort_next(&o)->n, 4);
	/* Their late ACKs commit nothing. */
	mk_ack(&ack, 41, RELAY_OK, 4, 3);
	ck_assert_int_eq(relay_origin_ack(&o, &ack, &c), RELAY_ACK_UNKNOWN);
	/* Nothing new while an ABORT is pending. */
	ck_assert_ptr_null(relay_origin_begin(&o, 4, 32,
					      (const uint8_t (*)[RELAY_ID_LEN])ids,
					      50.0));
	ck_assert_int_eq(relay_origin_aborted(&o, 41), 0);
	ck_assert_int_eq(relay_origin_aborted(&o, 41), -1);
	ck_assert_int_eq(relay_origin_aborted(&o, 42), 0);
	/* The others still commit their own keys, tagged by the far end. */
	mk_ack(&ack, 46, RELAY_OK, 4, 3);
	ck_assert_int_eq(relay_e2e_tag(x[5]->keys + 4 * 32, RELAY_ACK, 46, 0, 4,
				       (const uint8_t (*)[RELAY_ID_LEN])ids, 4,
				       ack.e2e_tag), 0);
	ck_assert_int_eq(relay_origin_ack(&o, &ack, &c), RELAY_ACK_COMMIT);
	for (int i = 0; i < 4 * 32; i++)
		ck_assert_uint_eq(c->keys[i], 6);
	relay_origin_committed(&o, c);
	/* A path change: every open transfer goes to ABORT. */
	ck_assert_uint_eq(relay_origin_expire(&o, INFINITY), 3);
	ck_assert_uint_eq(relay_origin_abort_next(&o)->transfer, 45);
	ck_assert_uint_eq(o.naborts, 3);
	relay_origin_clear(&o);
}
END_TEST

START_TEST(xfer_far_end_refuses_stale)
{
	static uint8_t rm[RELAY_MAX_KEYS][RELAY_ID_LEN], ids[1][RELAY_ID_LEN];
	static uint8_t key[RELAY_E2E_KEY_LEN];
	struct relay_far far;
	struct relay_frame ab;
	uint16_t n;

	ck_assert_int_eq(relay_far_init(&far), 0);
	ck_assert_int_eq(relay_far_accept(&far, 5), 0);
	memset(&ab, 0, sizeof(ab));
	ab.type = RELAY_ABORT;
	ab.npath = 4;
	ab.hop = 3;
	ab.n = 1;
	/* Transfers up to 8 delivered, each with its end-to-end key. */
	for (uint64_t t = 1; t <= 8; t++) {
		memset(ids, (int)t, sizeof(ids));
		memset(key, (int)t * 3, sizeof(key));
		relay_far_delivered(&far, t, 1,
				    (const uint8_t (*)[RELAY_ID_LEN])ids, key);
	}
	/* 7 aborted by the origin: removed, and 7 and below refused. */
	ab.transfer = 7;
	memset(ids, 7, sizeof(ids));
	memset(key, 21, sizeof(key));
	relay_e2e_tag(key, RELAY_ABORT, 7, 0, 1,
		      (const uint8_t (*)[RELAY_ID_LEN])ids, 1, ab.e2e_tag);
	ck_assert_int_eq(relay_far_abort(&far, &ab, rm, &n), RELAY_FAR_REMOVE);
	ck_assert_uint_eq(n, 1);
	ck_assert_mem_eq(rm[0], ids[0], RELAY_ID_LEN);
	ck_assert_int_eq(relay_far_accept(&far, 6), -RELAY_E_STALE);
	ck_assert_int_eq(relay_far_accept(&far, 7), -RELAY_E_STALE);
	ck_assert_int_eq(relay_far_accept(&far, 9), 0);
	/* A lower one never lowers the mark. */
	ab.transfer = 3;
	memset(ab.e2e_tag, 0, RELAY_TAG_LEN);
	ck_assert_int_eq(relay_far_abort(&far, &ab, rm, &n), RELAY_FAR_BAD_TAG);
	ck_assert_int_eq(relay_far_accept(&far, 7), -RELAY_E_STALE);
	/*
	 * An ABORT for a transfer never delivered (its KEYS lost, or a
	 * forgery naming a huge one) raises the mark at most to the highest
	 * delivered: future transfers still go through.
	 */
	ab.transfer = UINT64_MAX;
	ck_assert_int_eq(relay_far_abort(&far, &ab, rm, &n), RELAY_FAR_NOTHING);
	ck_assert_int_eq(relay_far_accept(&far, 8), -RELAY_E_STALE);
	ck_assert_int_eq(relay_far_accept(&far, 9), 0);
	/* The oldest end-to-end keys are forgotten beyond RELAY_FAR_KEEP. */
	for (uint64_t t = 20; t < 20 + RELAY_FAR_KEEP; t++)
		relay_far_delivered(&far, t, 1,
				    (const uint8_t (*)[RELAY_ID_LEN])ids, key);
	ab.transfer = 8;
	ck_assert_int_eq(relay_far_abort(&far, &ab, rm, &n), RELAY_FAR_NOTHING);
	relay_far_clear(&far);
}
END_TEST

Suite *relay_hop_suite(void)
{
	Suite *s = suite_create("relay_hop");
	TCase *tc = tcase_create("relay_hop");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, chain_delivers_exact_consumption);
	tcase_add_test(tc, changed_frame);
	tcase_add_test(tc, missing_link_key);
	tcase_add_test(tc, budget_and_cut);
	tcase_add_test(tc, wrong_neighbour);
	tcase_add_test(tc, budget_share_and_reserve);
	tcase_add_test(tc, answers_pass_back);
	tcase_add_test(tc, no_room_takes_nothing);
	tcase_add_test(tc, xfer_end_to_end);
	tcase_add_test(tc, xfer_commit_failed_aborts);
	tcase_add_test(tc, xfer_window_errors_and_expiry);
	tcase_add_test(tc, xfer_far_end_refuses_stale);
	suite_add_tcase(s, tc);
	return s;
}
