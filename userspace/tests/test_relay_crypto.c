// SPDX-License-Identifier: GPL-2.0
/*
 * relay_crypto: Poly1305 against the test vectors of RFC 8439 (section
 * 2.5.2 and appendix A.3; also checked with an independent Poly1305,
 * Python's cryptography), tag verification, the one-time pad.
 */
#include <stdio.h>
#include <string.h>
#include "tests.h"
#include "../linkd/relay_crypto.h"

/* @s: hex digits, spaces ignored; returns the byte count. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (*s) {
		unsigned int v;

		if (*s == ' ') {
			s++;
			continue;
		}
		ck_assert_uint_lt(n, cap);
		ck_assert_int_eq(sscanf(s, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

struct kat {
	const char *name, *key, *msg, *tag;
};

#define R2 "02000000000000000000000000000000"
#define R1 "01000000000000000000000000000000"
#define Z16 "00000000000000000000000000000000"
#define F16 "ffffffffffffffffffffffffffffffff"

static const struct kat kats[] = {
	{ "RFC 8439 2.5.2",
	  "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b",
	  /* "Cryptographic Forum Research Group" */
	  "43727970746f6772617068696320466f72756d2052657365617263682047726f7570",
	  "a8061dc1305136c6c22b8baf0c0127a9" },
	{ "A.3 #1", Z16 Z16, Z16 Z16 Z16 Z16, Z16 },
	/* r = 0: the tag is s whatever the message ("Any submission t"). */
	{ "A.3 #2", Z16 "36e5f6b5c5e06070f0efca96227a863e",
	  "416e79207375626d697373696f6e2074", "36e5f6b5c5e06070f0efca96227a863e" },
	{ "A.3 #5", R2 Z16, F16, "03" "000000000000000000000000000000" },
	{ "A.3 #6", R2 F16, R2, "03" "000000000000000000000000000000" },
	{ "A.3 #7", R1 Z16,
	  F16 "f0ffffffffffffffffffffffffffffff" "11000000000000000000000000000000",
	  "05" "000000000000000000000000000000" },
	{ "A.3 #8", R1 Z16,
	  F16 "fbfefefefefefefefefefefefefefefe" "01010101010101010101010101010101",
	  Z16 },
	{ "A.3 #9", R2 Z16, "fdffffffffffffffffffffffffffffff",
	  "faffffffffffffffffffffffffffffff" },
	{ "A.3 #10", "01000000000000000400000000000000" Z16,
	  "e33594d7505e43b90000000000000000" "3394d7505e4379cd0100000000000000"
	  Z16 "01000000000000000000000000000000",
	  "14000000000000005500000000000000" },
	{ "A.3 #11", "01000000000000000400000000000000" Z16,
	  "e33594d7505e43b90000000000000000" "3394d7505e4379cd0100000000000000"
	  Z16, "13000000000000000000000000000000" },
};

START_TEST(mac_known_answers)
{
	const struct kat *k = &kats[_i];
	uint8_t key[64], msg[128], want[32], tag[RELAY_TAG_LEN];
	size_t mlen;

	ck_assert_uint_eq(unhex(k->key, key, sizeof(key)), RELAY_MAC_KEY_LEN);
	mlen = unhex(k->msg, msg, sizeof(msg));
	ck_assert_uint_eq(unhex(k->tag, want, sizeof(want)), RELAY_TAG_LEN);
	ck_assert_msg(!relay_mac(key, msg, mlen, tag), "%s: relay_mac failed",
		      k->name);
	ck_assert_msg(!memcmp(tag, want, RELAY_TAG_LEN), "%s: wrong tag",
		      k->name);
	ck_assert_int_eq(relay_mac_verify(key, msg, mlen, want), 0);
}
END_TEST

START_TEST(mac_verify_refuses_any_change)
{
	uint8_t key[RELAY_MAC_KEY_LEN], msg[100], tag[RELAY_TAG_LEN];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(7 * i + 1);
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	ck_assert_int_eq(relay_mac(key, msg, sizeof(msg), tag), 0);
	ck_assert_int_eq(relay_mac_verify(key, msg, sizeof(msg), tag), 0);
	/* Every bit of the message, the tag and the key counts. */
	for (size_t i = 0; i < sizeof(msg) * 8; i += 13) {
		msg[i / 8] ^= (uint8_t)(1u << (i % 8));
		ck_assert_int_eq(relay_mac_verify(key, msg, sizeof(msg), tag), -1);
		msg[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	for (size_t i = 0; i < RELAY_TAG_LEN * 8; i++) {
		tag[i / 8] ^= (uint8_t)(1u << (i % 8));
		ck_assert_int_eq(relay_mac_verify(key, msg, sizeof(msg), tag), -1);
		tag[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	key[31] ^= 1;	/* s */
	ck_assert_int_eq(relay_mac_verify(key, msg, sizeof(msg), tag), -1);
	key[31] ^= 1;
	key[0] ^= 2;	/* r */
	ck_assert_int_eq(relay_mac_verify(key, msg, sizeof(msg), tag), -1);
	key[0] ^= 2;
	/* A shorter message is another message. */
	ck_assert_int_eq(relay_mac_verify(key, msg, sizeof(msg) - 1, tag), -1);
	ck_assert_int_eq(relay_mac_verify(key, msg, sizeof(msg), tag), 0);
}
END_TEST

START_TEST(mac_empty_message)
{
	uint8_t key[RELAY_MAC_KEY_LEN], tag[RELAY_TAG_LEN];

	/* r = 0 makes the tag s, for the empty message too. */
	memset(key, 0, 16);
	for (int i = 16; i < 32; i++)
		key[i] = (uint8_t)i;
	ck_assert_int_eq(relay_mac(key, NULL, 0, tag), 0);
	ck_assert_mem_eq(tag, key + 16, RELAY_TAG_LEN);
	ck_assert_int_eq(relay_mac_verify(key, NULL, 0, tag), 0);
}
END_TEST

START_TEST(xor_pad_round_trip)
{
	uint8_t key[64], pad[64], ct[64], back[64];

	for (int i = 0; i < 64; i++) {
		key[i] = (uint8_t)(i * 3);
		pad[i] = (uint8_t)(0xa5 ^ i * 11);
	}
	relay_xor(ct, key, pad, sizeof(ct));
	for (int i = 0; i < 64; i++)
		ck_assert_uint_eq(ct[i], (uint8_t)(key[i] ^ pad[i]));
	relay_xor(back, ct, pad, sizeof(back));
	ck_assert_mem_eq(back, key, sizeof(key));
	/* In place. */
	relay_xor(ct, ct, pad, sizeof(ct));
	ck_assert_mem_eq(ct, key, sizeof(key));
}
END_TEST

Suite *relay_crypto_suite(void)
{
	Suite *s = suite_create("relay_crypto");
	TCase *tc = tcase_create("relay_crypto");

	tcase_add_loop_test(tc, mac_known_answers, 0,
			    sizeof(kats) / sizeof(kats[0]));
	tcase_add_test(tc, mac_verify_refuses_any_change);
	tcase_add_test(tc, mac_empty_message);
	tcase_add_test(tc, xor_pad_round_trip);
	suite_add_tcase(s, tc);
	return s;
}
