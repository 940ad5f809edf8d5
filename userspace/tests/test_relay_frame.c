// SPDX-License-Identifier: GPL-2.0
/*
 * relay_frame: sealed KEYS frames open to the same keys on the first and
 * later hops, any change to a sealed frame is refused, and every field is
 * checked with a reason that names it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests.h"
#include "../linkd/relay_frame.h"

static struct relay_frame f, d;
static uint8_t buf[RELAY_FRAME_MAX + 64];
static uint8_t pad[RELAY_MAX_PAD], keys[RELAY_MAX_PAYLOAD];
static uint8_t out[RELAY_MAX_PAYLOAD];
static uint8_t again[RELAY_FRAME_MAX];
static char err[RELAY_ERR_LEN];

/* A KEYS frame tokyo -> nagoya -> osaka -> kobe for hop @hop. */
static void keys_frame(unsigned int hop, unsigned int n, unsigned int key_len,
		       unsigned int link_len)
{
	static const char *const path[] = { "tokyo", "nagoya", "osaka", "kobe" };

	memset(&f, 0, sizeof(f));
	f.type = RELAY_KEYS;
	f.transfer = 0x0102030405060708ull;
	f.hop = (uint8_t)hop;
	f.npath = 4;
	for (int i = 0; i < 4; i++)
		strcpy(f.path[i], path[i]);
	f.n = (uint16_t)n;
	f.key_len = (uint16_t)key_len;
	f.link_len = (uint16_t)link_len;
	f.m = (uint16_t)relay_link_keys_needed(n, key_len, link_len);
	for (unsigned int i = 0; i < n && i < RELAY_MAX_KEYS; i++) {
		memset(f.ids[i], 0xe0, RELAY_ID_LEN);
		f.ids[i][0] = (uint8_t)i;
	}
	for (unsigned int i = 0; i < f.m && i < RELAY_MAX_LINK_KEYS; i++) {
		memset(f.link_ids[i], 0x11 * hop, RELAY_ID_LEN);
		f.link_ids[i][15] = (uint8_t)i;
		f.link_ids[i][14] = (uint8_t)(i >> 8);
	}
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = (uint8_t)(i * 7 + hop);
	for (size_t i = 0; i < sizeof(keys); i++)
		keys[i] = (uint8_t)(i * 13 + 5);
}

static int seal(void)
{
	return relay_frame_seal(&f, keys, pad, relay_pad_len(&f), buf,
				sizeof(buf), err, sizeof(err));
}

START_TEST(link_keys_needed)
{
	/* The MAC key, the keys, the end-to-end MAC key. */
	ck_assert_uint_eq(relay_link_keys_needed(16, 32, 32), 18);
	ck_assert_uint_eq(relay_link_keys_needed(1, 32, 32), 3);
	ck_assert_uint_eq(relay_link_keys_needed(1, 16, 64), 2);
	ck_assert_uint_eq(relay_link_keys_needed(3, 32, 24), 7);
	ck_assert_uint_eq(relay_link_keys_needed(64, 64, 16), RELAY_MAX_LINK_KEYS);
}
END_TEST

/* Later hops: ciphertext = keys ^ pad[32..]; open gives the keys back. */
START_TEST(seal_open_later_hop)
{
	static const unsigned int sizes[][3] = {
		{ 16, 32, 32 }, { 3, 32, 24 }, { 1, 16, 64 }, { 64, 64, 16 },
	};
	const unsigned int *sz = sizes[_i];
	size_t klen = (size_t)sz[0] * sz[1] + RELAY_E2E_KEY_LEN;
	int len;

	keys_frame(2, sz[0], sz[1], sz[2]);
	len = seal();
	ck_assert_msg(len > 0, "seal: %s", err);
	ck_assert_msg(!relay_frame_decode(buf, len, &d, err, sizeof(err)),
		      "decode: %s", err);
	ck_assert_uint_eq(d.n, sz[0]);
	ck_assert_uint_eq(d.m, f.m);
	ck_assert_mem_eq(d.ids, f.ids, (size_t)f.n * RELAY_ID_LEN);
	ck_assert_mem_eq(d.link_ids, f.link_ids, (size_t)f.m * RELAY_ID_LEN);
	ck_assert_ptr_nonnull(d.ct);
	/* On the wire: the keys under the pad, not the keys. */
	for (size_t i = 0; i < klen; i++)
		ck_assert_uint_eq(d.ct[i], keys[i] ^ pad[RELAY_MAC_KEY_LEN + i]);
	memset(out, 0, sizeof(out));
	ck_assert_msg(!relay_frame_open(&d, pad, relay_pad_len(&d), out, err,
					sizeof(err)), "open: %s", err);
	ck_assert_mem_eq(out, keys, klen);
	/* Encoded again as decoded: the same bytes. */
	ck_assert_int_eq(relay_frame_encode(&d, again, sizeof(again), err,
					    sizeof(err)), len);
	ck_assert_mem_eq(again, buf, len);
}
END_TEST

/* The first hop carries no ciphertext: the keys are the pad's. */
START_TEST(seal_open_first_hop)
{
	int len;

	keys_frame(1, 16, 32, 32);
	len = relay_frame_seal(&f, NULL, pad, relay_pad_len(&f), buf,
			       sizeof(buf), err, sizeof(err));
	ck_assert_msg(len > 0, "seal: %s", err);
	ck_assert_msg(!relay_frame_decode(buf, len, &d, err, sizeof(err)),
		      "decode: %s", err);
	ck_assert_ptr_null(d.ct);
	ck_assert_uint_eq(d.mac_len + RELAY_TAG_LEN, (size_t)len);
	ck_assert_msg(!relay_frame_open(&d, pad, relay_pad_len(&d), out, err,
					sizeof(err)), "open: %s", err);
	ck_assert_mem_eq(out, pad + RELAY_MAC_KEY_LEN, 16 * 32 + 32);
	/* The same frame a hop later is longer by the ciphertext. */
	keys_frame(2, 16, 32, 32);
	ck_assert_int_eq(seal(), len + 16 * 32 + 32);
}
END_TEST

/* Every bit of a sealed frame counts: the decoder or the tag refuses. */
START_TEST(any_change_refused)
{
	int len;

	keys_frame(3, 4, 32, 32);
	len = seal();
	ck_assert_int_gt(len, 0);
	for (int i = 0; i < len * 8; i++) {
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
		if (!relay_frame_decode(buf, len, &d, err, sizeof(err))) {
			ck_assert_int_eq(relay_frame_open(&d, pad,
							  relay_pad_len(&d), out,
							  err, sizeof(err)), -1);
			ck_assert_str_eq(err, "bad tag");
		}
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	/* Another hop's pad. */
	ck_assert_int_eq(relay_frame_decode(buf, len, &d, err, sizeof(err)), 0);
	pad[0] ^= 1;
	ck_assert_int_eq(relay_frame_open(&d, pad, relay_pad_len(&d), out, err,
					  sizeof(err)), -1);
	pad[0] ^= 1;
	ck_assert_int_eq(relay_frame_open(&d, pad, relay_pad_len(&d) - 1, out,
					  err, sizeof(err)), -1);
	ck_assert_int_eq(relay_frame_open(&d, pad, relay_pad_len(&d), out, err,
					  sizeof(err)), 0);
	/* Every truncation. */
	for (int n = 0; n < len; n++)
		ck_assert_int_eq(relay_frame_decode(buf, n, &d, err,
						    sizeof(err)), -1);
	/* A byte more. */
	buf[len] = 0;
	ck_assert_int_eq(relay_frame_decode(buf, len + 1, &d, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "1 bytes after the KEYS frame");
}
END_TEST

START_TEST(largest_frame)
{
	keys_frame(RELAY_MAX_PATH - 1, RELAY_MAX_KEYS, RELAY_KEY_MAX,
		   RELAY_KEY_MIN);
	f.npath = RELAY_MAX_PATH;
	for (int i = 0; i < RELAY_MAX_PATH; i++) {
		memset(f.path[i], 'n', RELAY_NAME_MAX);
		f.path[i][RELAY_NAME_MAX] = '\0';
		f.path[i][0] = (char)('A' + i % 26);
		f.path[i][1] = (char)('a' + i / 26);
	}
	ck_assert_uint_eq(strlen(f.path[0]), RELAY_NAME_MAX);
	ck_assert_msg(seal() == RELAY_FRAME_MAX, "seal: %s", err);
	ck_assert_int_eq(relay_frame_decode(buf, RELAY_FRAME_MAX, &d, err,
					    sizeof(err)), 0);
	ck_assert_int_eq(relay_frame_open(&d, pad, relay_pad_len(&d), out, err,
					  sizeof(err)), 0);
	ck_assert_mem_eq(out, keys, RELAY_MAX_PAYLOAD);
	/* One byte short of room. */
	ck_assert_int_eq(relay_frame_seal(&f, keys, pad, relay_pad_len(&f), buf,
					  RELAY_FRAME_MAX - 1, err,
					  sizeof(err)), -1);
}
END_TEST

/* ACK, ABORT, ABORTED: decoded and encoded again to the same bytes. */
START_TEST(answers_round_trip)
{
	int len;

	keys_frame(2, 3, 32, 32);
	f.type = RELAY_ABORT;
	memset(f.e2e_tag, 0xab, RELAY_TAG_LEN);
	len = relay_frame_encode(&f, buf, sizeof(buf), err, sizeof(err));
	ck_assert_msg(len > 0, "%s", err);
	ck_assert_int_eq(len, 14 + 6 + 7 + 6 + 5 + 2 + 3 * RELAY_ID_LEN + 16);
	ck_assert_int_eq(relay_frame_len(&f, err, sizeof(err)), len);
	ck_assert_int_eq(relay_frame_decode(buf, len, &d, err, sizeof(err)), 0);
	ck_assert_uint_eq(d.n, 3);
	ck_assert_mem_eq(d.e2e_tag, f.e2e_tag, RELAY_TAG_LEN);
	ck_assert_int_eq(relay_frame_encode(&d, again, sizeof(again), err,
					    sizeof(err)), len);
	ck_assert_mem_eq(again, buf, len);

	f.type = RELAY_ACK;
	f.hop = 0;
	f.status = RELAY_OK;
	f.count = 3;
	f.at = 3;
	len = relay_frame_encode(&f, buf, sizeof(buf), err, sizeof(err));
	ck_assert_int_eq(len, 14 + 6 + 7 + 6 + 5 + 5 + 16);
	ck_assert_int_eq(relay_frame_len(&f, err, sizeof(err)), len);
	ck_assert_int_eq(relay_frame_decode(buf, len, &d, err, sizeof(err)), 0);
	ck_assert_uint_eq(d.type, RELAY_ACK);
	ck_assert_uint_eq(d.count, 3);
	ck_assert_uint_eq(d.at, 3);
	ck_assert_mem_eq(d.e2e_tag, f.e2e_tag, RELAY_TAG_LEN);
	ck_assert_uint_eq(d.transfer, 0x0102030405060708ull);
	ck_assert_str_eq(d.path[3], "kobe");

	f.type = RELAY_ABORTED;
	f.hop = 2;
	f.status = RELAY_E_LINK_DOWN;
	f.count = 0;
	len = relay_frame_encode(&f, buf, sizeof(buf), err, sizeof(err));
	ck_assert_int_eq(len, 14 + 6 + 7 + 6 + 5 + 5);
	ck_assert_int_eq(relay_frame_len(&f, err, sizeof(err)), len);
	ck_assert_int_eq(relay_frame_decode(buf, len, &d, err, sizeof(err)), 0);
	ck_assert_uint_eq(d.status, RELAY_E_LINK_DOWN);
	ck_assert_uint_eq(d.at, 3);
	ck_assert_str_eq(relay_status_name(d.status), "link down");
}
END_TEST

/* A field changed in a valid ACK (hop 0, tokyo..kobe): the reason. */
struct bad {
	size_t off;
	uint8_t val;
	const char *why;
};

static const struct bad bads[] = {
	{ 0, 2, "version 2 (this qkd-linkd speaks 1)" },
	{ 0, 0, "version 0 (this qkd-linkd speaks 1)" },
	{ 1, 0, "unknown type 0" },
	{ 1, 5, "unknown type 5" },
	{ 3, 1, "flags 0x0001 (must be 0)" },
	{ 11, 0, "transfer 0" },		/* transfer was 1 */
	{ 12, 3, "hop 3 out of range for a ACK frame on a path of 4 nodes" },
	{ 13, 1, "path of 1 nodes (2 to 32)" },
	{ 13, 33, "path of 33 nodes (2 to 32)" },
	{ 13, 5, "node 4 of the path: name of 0 bytes (1 to 64)" },
	{ 14, 0, "node 0 of the path: name of 0 bytes (1 to 64)" },
	{ 15, ' ', "node 0 of the path: not a name (1 to 64 of A-Z a-z 0-9 . _ -)" },
	{ 15, 0, "node 0 of the path: NUL in name" },
	{ 20, 60, "truncated path" },
	{ 21, '/', "node 1 of the path: not a name (1 to 64 of A-Z a-z 0-9 . _ -)" },
	{ 39, 9, "unknown status 9" },
	{ 41, 65, "count 65 (at most 64)" },
	{ 42, 0, "ACK from node 0 received by node 0 on a path of 4 nodes" },
	{ 42, 4, "ACK from node 4 received by node 0 on a path of 4 nodes" },
	{ 42, 2, "an ACK with status 0 from node 2, not the far end" },
};

START_TEST(bad_fields)
{
	const struct bad *b = &bads[_i];
	int len;

	keys_frame(2, 3, 32, 32);
	f.type = RELAY_ACK;
	f.transfer = 1;
	f.hop = 0;
	f.at = 3;
	/* "tokyo" "nagoya" "osaka" "kobe" */
	len = relay_frame_encode(&f, buf, sizeof(buf), err, sizeof(err));
	ck_assert_int_gt(len, 22);
	buf[b->off] = b->val;
	ck_assert_int_eq(relay_frame_decode(buf, len, &d, err, sizeof(err)), -1);
	ck_assert_str_eq(err, b->why);
}
END_TEST

START_TEST(bad_structs)
{
	int len;

	/* Forward frames are for nodes 1 .. npath-1. */
	keys_frame(0, 1, 32, 32);
	ck_assert_int_eq(seal(), -1);
	ck_assert_str_eq(err, "hop 0 out of range for a KEYS frame on a path of 4 nodes");
	keys_frame(4, 1, 32, 32);
	ck_assert_int_eq(seal(), -1);
	keys_frame(3, 1, 32, 32);
	ck_assert_int_gt(seal(), 0);
	/* A loop. */
	strcpy(f.path[3], "nagoya");
	ck_assert_int_eq(seal(), -1);
	ck_assert_str_eq(err, "node nagoya twice in the path (a loop)");
	/* Counts and lengths. */
	keys_frame(2, 0, 32, 32);
	ck_assert_int_eq(seal(), -1);
	ck_assert_str_eq(err, "0 keys (1 to 64)");
	keys_frame(2, 65, 32, 32);
	ck_assert_int_eq(seal(), -1);
	keys_frame(2, 2, 15, 32);
	ck_assert_int_eq(seal(), -1);
	ck_assert_str_eq(err, "key length 15 (16 to 64)");
	keys_frame(2, 2, 32, 65);
	ck_assert_int_eq(seal(), -1);
	ck_assert_str_eq(err, "link key length 65 (16 to 64)");
	keys_frame(2, 2, 32, 32);
	f.m = 3;
	ck_assert_int_eq(seal(), -1);
	ck_assert_str_eq(err, "3 link keys for 2 keys of 32 bytes over link keys of 32 bytes (needs 4)");
	keys_frame(2, 2, 32, 32);
	memcpy(f.ids[1], f.ids[0], RELAY_ID_LEN);
	ck_assert_int_eq(seal(), -1);
	ck_assert_str_eq(err, "key ID 1 repeated");
	keys_frame(2, 2, 32, 32);
	memcpy(f.link_ids[2], f.link_ids[0], RELAY_ID_LEN);
	ck_assert_int_eq(seal(), -1);
	ck_assert_str_eq(err, "link key ID 2 repeated");
	/* Pads and keys. */
	keys_frame(2, 2, 32, 32);
	ck_assert_int_eq(relay_frame_seal(&f, keys, pad, 127, buf, sizeof(buf),
					  err, sizeof(err)), -1);
	ck_assert_str_eq(err, "pad of 127 bytes for 4 link keys of 32 bytes");
	ck_assert_int_eq(relay_frame_seal(&f, NULL, pad, 128, buf, sizeof(buf),
					  err, sizeof(err)), -1);
	ck_assert_int_eq(relay_frame_encode(&f, buf, sizeof(buf), err,
					    sizeof(err)), -1);
	ck_assert_str_eq(err, "a KEYS frame without ciphertext or tag: seal it");
	/* Answers: backward hops, statuses, counts. */
	f.type = RELAY_ACK;
	f.hop = 3;
	f.at = 3;
	ck_assert_int_eq(relay_frame_encode(&f, buf, sizeof(buf), err,
					    sizeof(err)), -1);
	f.hop = 2;
	f.status = RELAY_STATUS_MAX + 1;
	ck_assert_int_eq(relay_frame_encode(&f, buf, sizeof(buf), err,
					    sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown status 8");
	f.status = RELAY_E_POOL;
	f.count = 2;
	ck_assert_int_eq(relay_frame_encode(&f, buf, sizeof(buf), err,
					    sizeof(err)), -1);
	ck_assert_str_eq(err, "an ACK with status 5 added 2 keys");
	f.type = RELAY_ABORTED;
	f.count = RELAY_MAX_KEYS + 1;
	ck_assert_int_eq(relay_frame_encode(&f, buf, sizeof(buf), err,
					    sizeof(err)), -1);
	f.count = 2;
	len = relay_frame_encode(&f, buf, sizeof(buf), err, sizeof(err));
	ck_assert_int_gt(len, 0);
	/* Too small a buffer. */
	ck_assert_int_eq(relay_frame_encode(&f, buf, (size_t)len - 1, err,
					    sizeof(err)), -1);
	ck_assert_str_eq(err, "no room for the ABORTED frame in 42 bytes");
	/* Too large an input. */
	ck_assert_int_eq(relay_frame_decode(buf, RELAY_FRAME_MAX + 1, &d, err,
					    sizeof(err)), -1);
	ck_assert_int_eq(relay_frame_decode(buf, 0, &d, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "empty");
}
END_TEST

/* Sealing never reads f->ct or f->tag (left over from a decode). */
START_TEST(seal_ignores_ct_and_tag)
{
	/* One byte: ASan reports any read of ciphertext or tag from it. */
	uint8_t *stale = malloc(1);
	int len;

	ck_assert_ptr_nonnull(stale);
	keys_frame(2, 4, 32, 32);
	f.ct = stale;
	f.tag = stale;
	len = seal();
	free(stale);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(relay_frame_len(&f, err, sizeof(err)), len);
	ck_assert_int_eq(relay_frame_decode(buf, len, &d, err, sizeof(err)), 0);
	ck_assert_int_eq(relay_frame_open(&d, pad, relay_pad_len(&d), out, err,
					  sizeof(err)), 0);
	ck_assert_mem_eq(out, keys, relay_payload_len(&f));
}
END_TEST

/* The end-to-end tags: every field counts, ACK and ABORT differ. */
START_TEST(e2e_tags)
{
	static uint8_t ids[3][RELAY_ID_LEN], key[RELAY_E2E_KEY_LEN];
	uint8_t tag[RELAY_TAG_LEN], other[RELAY_TAG_LEN];

	memset(ids, 0x42, sizeof(ids));
	ids[2][0] = 1;
	for (int i = 0; i < RELAY_E2E_KEY_LEN; i++)
		key[i] = (uint8_t)(i * 5 + 1);
	ck_assert_int_eq(relay_e2e_tag(key, RELAY_ACK, 9, 0, 3,
				       (const uint8_t (*)[RELAY_ID_LEN])ids, 3,
				       tag), 0);
	ck_assert_int_eq(relay_e2e_verify(key, RELAY_ACK, 9, 0, 3,
					  (const uint8_t (*)[RELAY_ID_LEN])ids,
					  3, tag), 0);
	ck_assert_int_eq(relay_e2e_verify(key, RELAY_ABORT, 9, 0, 3,
					  (const uint8_t (*)[RELAY_ID_LEN])ids,
					  3, tag), -1);
	ck_assert_int_eq(relay_e2e_verify(key, RELAY_ACK, 10, 0, 3,
					  (const uint8_t (*)[RELAY_ID_LEN])ids,
					  3, tag), -1);
	ck_assert_int_eq(relay_e2e_verify(key, RELAY_ACK, 9, 1, 3,
					  (const uint8_t (*)[RELAY_ID_LEN])ids,
					  3, tag), -1);
	ck_assert_int_eq(relay_e2e_verify(key, RELAY_ACK, 9, 0, 2,
					  (const uint8_t (*)[RELAY_ID_LEN])ids,
					  3, tag), -1);
	ck_assert_int_eq(relay_e2e_verify(key, RELAY_ACK, 9, 0, 3,
					  (const uint8_t (*)[RELAY_ID_LEN])ids,
					  2, tag), -1);
	ids[1][15] ^= 1;
	ck_assert_int_eq(relay_e2e_verify(key, RELAY_ACK, 9, 0, 3,
					  (const uint8_t (*)[RELAY_ID_LEN])ids,
					  3, tag), -1);
	ids[1][15] ^= 1;
	key[31] ^= 1;
	ck_assert_int_eq(relay_e2e_verify(key, RELAY_ACK, 9, 0, 3,
					  (const uint8_t (*)[RELAY_ID_LEN])ids,
					  3, tag), -1);
	key[31] ^= 1;
	ck_assert_int_eq(relay_e2e_tag(key, RELAY_ABORT, 9, 0, 3,
				       (const uint8_t (*)[RELAY_ID_LEN])ids, 3,
				       other), 0);
	ck_assert(memcmp(tag, other, RELAY_TAG_LEN));
}
END_TEST

Suite *relay_frame_suite(void)
{
	Suite *s = suite_create("relay_frame");
	TCase *tc = tcase_create("relay_frame");

	tcase_add_test(tc, link_keys_needed);
	tcase_add_loop_test(tc, seal_open_later_hop, 0, 4);
	tcase_add_test(tc, seal_open_first_hop);
	tcase_add_test(tc, any_change_refused);
	tcase_add_test(tc, largest_frame);
	tcase_add_test(tc, answers_round_trip);
	tcase_add_loop_test(tc, bad_fields, 0, sizeof(bads) / sizeof(bads[0]));
	tcase_add_test(tc, bad_structs);
	tcase_add_test(tc, seal_ignores_ct_and_tag);
	tcase_add_test(tc, e2e_tags);
	suite_add_tcase(s, tc);
	return s;
}
