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
static uint8_t sent[RELAY_MAX_KEYS * RELAY_KEY_MAX];
static uint8_t got[RELAY_MAX_KEYS * RELAY_KEY_MAX];
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
	ck_assert_mem_eq(got, sent, 16 * 32);
	ck_assert_uint_eq(g.n, 16);
	ck_assert_mem_eq(g.ids[15], f.ids[15], RELAY_ID_LEN);
	/*
	 * Per hop: 16 keys of 32 bytes + the 32-byte MAC key = 544 bytes:
	 * 17 keys of 32 bytes, 34 of 16, 9 of 64 (576 bytes, 32 unused).
	 * The same number on both sides, and nothing in the other direction.
	 */
	ck_assert_uint_eq(used(&links[0].dir[0], true), 17);
	ck_assert_uint_eq(used(&links[0].dir[0], false), 17);
	ck_assert_uint_eq(used(&links[1].dir[0], true), 34);
	ck_assert_uint_eq(used(&links[1].dir[0], false), 34);
	ck_assert_uint_eq(used(&links[2].dir[0], true), 9);
	ck_assert_uint_eq(used(&links[2].dir[0], false), 9);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(used(&links[i].dir[1], true), 0);
		ck_assert_uint_eq(used(&links[i].dir[1], false), 0);
	}
	/* The answer travels back from kobe (hop 3) to osaka (hop 2). */
	relay_hop_answer(&g, RELAY_OK, 16, &f);
	ck_assert_uint_eq(f.hop, 2);
	ck_assert_int_gt(relay_frame_encode(&f, buf[0], sizeof(buf[0]), err,
					    sizeof(err)), 0);
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
	ck_assert_uint_eq(used(&links[0].dir[0], true), 5);
	ck_assert_uint_eq(used(&links[0].dir[0], false), 5);
	ck_assert_uint_eq(used(&links[1].dir[0], true), 0);
	relay_hop_answer(&g, RELAY_E_TAG, 4, &f);
	ck_assert_uint_eq(f.hop, 0);
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
	ck_assert_uint_eq(used(&links[0].dir[0], false), 5);
}
END_TEST

/* osaka's share of the link to kobe is used up, then the link is cut. */
START_TEST(budget_and_cut)
{
	size_t len, len2;
	int r = originate(4, 32);

	ck_assert_int_gt(r, 0);
	ck_assert_int_eq(receive(1, 0, (size_t)r, &len), RELAY_FORWARD);
	links[2].share_left = 2;	/* needs ceil(160 / 64) = 3 */
	ck_assert_int_eq(receive(2, 1, len, &len2), -RELAY_E_BUDGET);
	ck_assert_str_eq(err, "the relay share of the link to kobe is used up");
	ck_assert_uint_eq(used(&links[2].dir[0], true), 0);
	/* nagoya -> osaka keys were taken on both sides all the same. */
	ck_assert_uint_eq(used(&links[1].dir[0], true), 10);
	ck_assert_uint_eq(used(&links[1].dir[0], false), 10);

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
	ck_assert_uint_eq(g.type, RELAY_KEYS);
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

/*
 * End to end: tokyo's transfer is committed only on kobe's ACK, and what
 * tokyo commits to its outbound side is what kobe added to its inbound.
 */
START_TEST(xfer_end_to_end)
{
	static struct relay_origin o;
	static uint8_t committed[RELAY_MAX_KEYS * RELAY_KEY_MAX];
	static uint8_t cids[RELAY_MAX_KEYS][RELAY_ID_LEN];
	struct relay_far far = { 0 };
	struct relay_xfer *x;
	uint16_t n = 0;
	size_t len, len2;
	int r;

	relay_origin_init(&o, 1);
	r = originate(8, 32);		/* fills f.ids, sent */
	ck_assert_int_gt(r, 0);
	x = relay_origin_begin(&o, 8, 32, (const uint8_t (*)[RELAY_ID_LEN])f.ids,
			       10.0);
	ck_assert_ptr_nonnull(x);
	ck_assert_uint_eq(x->transfer, 1);
	/* The daemon originates with x->transfer; here the frame had 7. */
	memcpy(x->keys, sent, 8 * 32);
	ck_assert_int_eq(receive(1, 0, (size_t)r, &len), RELAY_FORWARD);
	ck_assert_int_eq(receive(2, 1, len, &len2), RELAY_FORWARD);
	ck_assert_int_eq(receive(3, 0, len2, &len), RELAY_DELIVER);
	ck_assert_int_eq(relay_far_accept(&far, x->transfer), 0);
	ck_assert_int_eq(relay_origin_ack(&o, 1, RELAY_OK, 8, committed, &n,
					  cids), RELAY_ACK_COMMIT);
	ck_assert_uint_eq(n, 8);
	ck_assert_mem_eq(committed, got, 8 * 32);
	ck_assert_mem_eq(cids, g.ids, 8 * RELAY_ID_LEN);
	ck_assert_uint_eq(o.committed, 1);
	/* A second ACK for it finds nothing. */
	ck_assert_int_eq(relay_origin_ack(&o, 1, RELAY_OK, 8, committed, &n,
					  cids), RELAY_ACK_UNKNOWN);
	relay_origin_clear(&o);
}
END_TEST

START_TEST(xfer_window_errors_and_expiry)
{
	static struct relay_origin o;
	static uint8_t keys[RELAY_MAX_KEYS * RELAY_KEY_MAX];
	static uint8_t ids[RELAY_MAX_KEYS][RELAY_ID_LEN];
	struct relay_xfer *x[RELAY_XFER_WINDOW];
	uint16_t n;

	memset(ids, 0x33, sizeof(ids));
	relay_origin_init(&o, 41);
	for (int i = 0; i < RELAY_XFER_WINDOW; i++) {
		x[i] = relay_origin_begin(&o, 4, 32,
					  (const uint8_t (*)[RELAY_ID_LEN])ids,
					  i < 2 ? 5.0 : 50.0);
		ck_assert_ptr_nonnull(x[i]);
		ck_assert_uint_eq(x[i]->transfer, 41 + i);
		memset(x[i]->keys, i + 1, 4 * 32);
	}
	ck_assert_ptr_null(relay_origin_begin(&o, 4, 32,
					      (const uint8_t (*)[RELAY_ID_LEN])ids,
					      50.0));
	/* An error status: dropped, nothing to abort (the far end added nothing). */
	ck_assert_int_eq(relay_origin_ack(&o, 43, RELAY_E_TAG, 0, keys, &n, ids),
			 RELAY_ACK_DROPPED);
	ck_assert_ptr_null(relay_origin_abort_next(&o));
	/* ACK 0 with the wrong count: dropped and aborted. */
	ck_assert_int_eq(relay_origin_ack(&o, 44, RELAY_OK, 3, keys, &n, ids),
			 RELAY_ACK_DROPPED);
	ck_assert_uint_eq(relay_origin_abort_next(&o)->transfer, 44);
	ck_assert_int_eq(relay_origin_aborted(&o, 44), 0);
	/* Two past their deadline. */
	ck_assert_uint_eq(relay_origin_expire(&o, 4.9), 0);
	ck_assert_uint_eq(relay_origin_expire(&o, 5.0), 2);
	ck_assert_uint_eq(o.expired, 2);
	ck_assert_uint_eq(relay_origin_abort_next(&o)->transfer, 41);
	ck_assert_uint_eq(relay_origin_abort_next(&o)->n, 4);
	/* Their late ACKs commit nothing. */
	ck_assert_int_eq(relay_origin_ack(&o, 41, RELAY_OK, 4, keys, &n, ids),
			 RELAY_ACK_UNKNOWN);
	/* Nothing new while an ABORT is pending. */
	ck_assert_ptr_null(relay_origin_begin(&o, 4, 32,
					      (const uint8_t (*)[RELAY_ID_LEN])ids,
					      50.0));
	ck_assert_int_eq(relay_origin_aborted(&o, 41), 0);
	ck_assert_int_eq(relay_origin_aborted(&o, 41), -1);
	ck_assert_int_eq(relay_origin_aborted(&o, 42), 0);
	/* The others still commit their own keys. */
	ck_assert_int_eq(relay_origin_ack(&o, 46, RELAY_OK, 4, keys, &n, ids),
			 RELAY_ACK_COMMIT);
	for (int i = 0; i < 4 * 32; i++)
		ck_assert_uint_eq(keys[i], 6);
	/* A path change: every open transfer goes to ABORT. */
	ck_assert_uint_eq(relay_origin_expire(&o, INFINITY), 3);
	ck_assert_uint_eq(relay_origin_abort_next(&o)->transfer, 45);
	relay_origin_clear(&o);
}
END_TEST

START_TEST(xfer_far_end_refuses_stale)
{
	struct relay_far far = { 0 };

	ck_assert_int_eq(relay_far_accept(&far, 5), 0);
	relay_far_abort(&far, 7);
	ck_assert_int_eq(relay_far_accept(&far, 6), -RELAY_E_STALE);
	ck_assert_int_eq(relay_far_accept(&far, 7), -RELAY_E_STALE);
	ck_assert_int_eq(relay_far_accept(&far, 8), 0);
	relay_far_abort(&far, 3);
	ck_assert_int_eq(relay_far_accept(&far, 7), -RELAY_E_STALE);
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
	tcase_add_test(tc, xfer_end_to_end);
	tcase_add_test(tc, xfer_window_errors_and_expiry);
	tcase_add_test(tc, xfer_far_end_refuses_stale);
	suite_add_tcase(s, tc);
	return s;
}
