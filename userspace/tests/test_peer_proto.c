// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-linkd's peer protocol framing: every frame type round-trips; partial
 * frames wait; each malformed frame is refused; and the master's journal
 * file format round-trips and refuses corruption.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests.h"
#include "../linkd/journal.h"
#include "../linkd/proto.h"

static void fill_epoch(struct pool_epoch *e);
static struct proto_msg *a, *b;
static uint8_t buf[PROTO_MAX_FRAME];

static void setup(void)
{
	a = calloc(1, sizeof(*a));
	b = calloc(1, sizeof(*b));
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
}

static void teardown(void)
{
	free(a);
	free(b);
}

static int roundtrip(void)
{
	int n = proto_encode(a, buf, sizeof(buf));

	ck_assert_int_gt(n, 0);
	/* every strict prefix is "not yet" */
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(proto_decode(buf, i, b), 0);
	ck_assert_int_eq(proto_decode(buf, n, b), n);
	ck_assert_uint_eq(b->type, a->type);
	return n;
}

START_TEST(proto_roundtrip)
{
	a->type = PROTO_HELLO;
	strcpy(a->master, "SAE_A");
	strcpy(a->slave, "SAE_B");
	a->key_bits = 256;
	fill_epoch(&a->epoch);
	ck_assert_int_eq(roundtrip(), 8 + 1 + 5 + 1 + 5 + 2 + EPOCH_WIRE_LEN);
	ck_assert_str_eq(b->master, "SAE_A");
	ck_assert_str_eq(b->slave, "SAE_B");
	ck_assert_uint_eq(b->key_bits, 256);
	ck_assert(epoch_eq(&b->epoch, &a->epoch));

	memset(a, 0, sizeof(*a));
	a->type = PROTO_HELLO_OK;
	fill_epoch(&a->epoch);
	a->reset = 1;
	ck_assert_int_eq(roundtrip(), 8 + EPOCH_WIRE_LEN + 1);
	ck_assert(epoch_eq(&b->epoch, &a->epoch));
	ck_assert_uint_eq(b->reset, 1);
	a->reset = 0;
	roundtrip();
	ck_assert_uint_eq(b->reset, 0);
	a->reset = 2;
	ck_assert_int_eq(proto_encode(a, buf, sizeof(buf)), -1);

	memset(a, 0, sizeof(*a));
	a->type = PROTO_RESET;
	a->count = 0xfedcba98;
	ck_assert_int_eq(roundtrip(), 8 + 4);
	ck_assert_uint_eq(b->count, 0xfedcba98);
	a->type = PROTO_RESET_OK;
	a->count = 64;
	ck_assert_int_eq(roundtrip(), 8 + 4);
	ck_assert_uint_eq(b->count, 64);

	/* the largest OFFER: 512 IDs of the longest length */
	memset(a, 0, sizeof(*a));
	a->type = PROTO_OFFER;
	a->seq = 0x0102030405060708ull;
	a->n = PROTO_MAX_IDS;
	for (int i = 0; i < PROTO_MAX_IDS; i++) {
		char s[KEYID_MAX];

		memset(s, '!' + i % 94, sizeof(s));
		ck_assert_int_eq(keyid_set(&a->ids[i], s, sizeof(s)), 0);
	}
	ck_assert_int_eq(roundtrip(),
			 8 + 8 + 2 + (1 + KEYID_MAX) * PROTO_MAX_IDS);
	ck_assert_uint_eq(b->seq, a->seq);
	ck_assert_uint_eq(b->n, PROTO_MAX_IDS);
	for (int i = 0; i < PROTO_MAX_IDS; i++)
		ck_assert(keyid_eq(&b->ids[i], &a->ids[i]));

	/* IDs as a foreign KME issued them, byte for byte */
	a->type = PROTO_ABORT;
	a->n = 3;
	keyid_set(&a->ids[0], "648487A0-763E-4BE8-9362-34B526B33C85", 36);
	keyid_set(&a->ids[1], "k", 1);
	keyid_set(&a->ids[2], "a\"b\\c", 5);
	ck_assert_int_eq(roundtrip(), 8 + 8 + 2 + 37 + 2 + 6);
	ck_assert_uint_eq(b->n, 3);
	ck_assert_str_eq(b->ids[0].s, "648487A0-763E-4BE8-9362-34B526B33C85");
	ck_assert_str_eq(b->ids[1].s, "k");
	ck_assert_str_eq(b->ids[2].s, "a\"b\\c");

	a->n = 0;
	roundtrip();
	ck_assert_uint_eq(b->n, 0);

	memset(a, 0, sizeof(*a));
	a->type = PROTO_ACK;
	a->seq = 9;
	a->status = PROTO_E_SOURCE;
	strcpy(a->text, "KME answered dec_keys with HTTP 400: key not found");
	roundtrip();
	ck_assert_str_eq(b->text, a->text);
	ck_assert_uint_eq(b->status, PROTO_E_SOURCE);

	a->type = PROTO_ABORTED;
	a->n = 7;
	roundtrip();
	ck_assert_uint_eq(b->n, 7);
	ck_assert_uint_eq(b->seq, 9);

	a->type = PROTO_ERROR;
	roundtrip();
}
END_TEST

/* Boot ID 00..0f, netns cookie, family 36, pool 7: every byte distinct. */
static void fill_epoch(struct pool_epoch *e)
{
	for (int i = 0; i < EPOCH_BOOT_LEN; i++)
		e->boot[i] = i;
	e->netns = 0x1122334455667788ull;
	e->family = 36;
	e->pool = 7;
}

START_TEST(proto_two_frames)
{
	int n1, n2;

	a->type = PROTO_RESET_OK;
	n1 = proto_encode(a, buf, sizeof(buf));
	a->type = PROTO_ABORTED;
	a->seq = 3;
	n2 = proto_encode(a, buf + n1, sizeof(buf) - n1);
	ck_assert_int_eq(proto_decode(buf, n1 + n2, b), n1);
	ck_assert_uint_eq(b->type, PROTO_RESET_OK);
	ck_assert_int_eq(proto_decode(buf + n1, n2, b), n2);
	ck_assert_uint_eq(b->seq, 3);
}
END_TEST

/* Malformed frames, as hex (version 3 unless said). */
static const char *const bad[] = {
	"00000003030200",			/* length below the header */
	"0000fffd030200",			/* length above the maximum */
	"0000000400020000",			/* version 0 */
	"0000000403020001",			/* flags set */
	"0000000403000000",			/* type 0 */
	"00000004030a0000",			/* type 10 */
	"0000000403020000",			/* HELLO_OK without epoch */
	/* HELLO_OK, reset 2 */
	"0000002303020000000000000000000000000000"
	"00000000000000000000000000000000000002",
	/* HELLO_OK, trailing byte */
	"0000002403020000000000000000000000000000"
	"0000000000000000000000000000000000000000",
	"0000000e0303000000000000000000010000",	/* OFFER of 0 IDs */
	"0000001003030000000000000000000100010541", /* OFFER, ID cut short */
	"0000000f030300000000000000000001000100", /* OFFER, empty ID */
	"0000001003030000000000000000000100010120", /* OFFER, space in ID */
	"000000100303000000000000000000010001017f", /* OFFER, DEL in ID */
	"00000011030300000000000000000001000101" "4100", /* OFFER, trailing byte */
	"00000050030300000000000000000001000141"	/* OFFER, 65-char ID */
	"41414141414141414141414141414141414141414141414141414141414141414141"
	"41414141414141414141414141414141414141414141414141414141414141",
	"00000009030100000141014200",		/* HELLO, key size cut short */
	/* HELLO, epoch cut short */
	"0000002403010000014101420100000000000000"
	"0000000000000000000000000000000000000000",
	"000000050301000000",			/* HELLO, empty master */
	"0000000a03010000012001420100",	/* HELLO, space in SAE ID */
	"00000011030400000000000000000001000002410a", /* ACK, control char */
	"000000110304000000000000000000010000014100", /* ACK, trailing byte */
	"0000000e0305000000000000000000010201",	/* ABORT of 513 IDs */
	"0000000703080000000000",		/* RESET, count cut short */
	"00000009030900000000000000",		/* RESET_OK, trailing byte */
};

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = strlen(s) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned int v;

		sscanf(s + 2 * i, "%2x", &v);
		out[i] = v;
	}
	return n;
}

START_TEST(proto_bad)
{
	size_t n = unhex(bad[_i], buf);

	ck_assert_msg(proto_decode(buf, n, b) == -1, "case %d (%s) accepted",
		      _i, bad[_i]);
}
END_TEST

/*
 * A frame of another version is told apart from a malformed one, whatever
 * its type; an ERROR can be written in the peer's version (its layout is
 * the same in all of them) and reads back as that version's ERROR.
 */
START_TEST(proto_other_version)
{
	static const char *const other[] = {
		"00000012010100000553414" "55f41055341455f420100", /* v1 HELLO */
		"00000012020100000553414" "55f41055341455f420100", /* v2 HELLO */
		"0000000402020000",		/* v2 HELLO_OK */
		"0000000404ff0000",		/* v4, unknown type */
	};
	int n;

	for (unsigned int i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		n = unhex(other[i], buf);
		ck_assert_msg(proto_decode(buf, n, b) == PROTO_OTHER_VERSION,
			      "case %u", i);
		/* a header alone is not yet decided */
		ck_assert_int_eq(proto_decode(buf, 3, b), 0);
	}
	n = proto_encode_error(1, PROTO_E_VERSION, "speak 2", buf, sizeof(buf));
	ck_assert_int_eq(n, 8 + 2 + 1 + 7);
	ck_assert_uint_eq(buf[4], 1);
	ck_assert_uint_eq(buf[5], PROTO_ERROR);
	ck_assert_int_eq(proto_decode(buf, n, b), PROTO_OTHER_VERSION);
	buf[4] = PROTO_VERSION;	/* the same bytes in this version */
	ck_assert_int_eq(proto_decode(buf, n, b), n);
	ck_assert_uint_eq(b->status, PROTO_E_VERSION);
	ck_assert_str_eq(b->text, "speak 2");
	ck_assert_int_eq(proto_encode_error(0, 1, "x", buf, sizeof(buf)), -1);
	ck_assert_int_eq(proto_encode_error(256, 1, "x", buf, sizeof(buf)), -1);
}
END_TEST

START_TEST(proto_encode_limits)
{
	a->type = PROTO_OFFER;
	a->n = 0;
	ck_assert_int_eq(proto_encode(a, buf, sizeof(buf)), -1);
	a->n = PROTO_MAX_IDS + 1;
	ck_assert_int_eq(proto_encode(a, buf, sizeof(buf)), -1);
	a->n = 1;
	ck_assert_int_eq(proto_encode(a, buf, sizeof(buf)), -1);	/* no ID */
	keyid_set(&a->ids[0], "k", 1);
	ck_assert_int_eq(proto_encode(a, buf, 19), -1);
	ck_assert_int_eq(proto_encode(a, buf, 20), 20);
	a->type = 99;
	ck_assert_int_eq(proto_encode(a, buf, sizeof(buf)), -1);
}
END_TEST

START_TEST(journal_format)
{
	struct journal *j = calloc(1, sizeof(*j));
	const char *v1 = "qkd-linkd journal 1\nnext_seq 8\nopen 7 100 2\n"
		"id 000102030405060708090a0b0c0d0e0f\n"
		"id ffffffffffffffffffffffffffffffff\n";
	const char *v2 = "qkd-linkd journal 2\nnext_seq 8\nopen 7 100 2\n"
		"id 648487A0-763E-4BE8-9362-34B526B33C85\n"
		"id kid/0001+x=\n";

	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(journal_parse("qkd-linkd journal 1\nnext_seq 5\n", j), 0);
	ck_assert_uint_eq(j->next_seq, 5);
	ck_assert_uint_eq(j->nopen, 0);
	ck_assert_int_eq(journal_parse("qkd-linkd journal 2\nnext_seq 5\n", j), 0);
	ck_assert_uint_eq(j->next_seq, 5);
	/* version 1: the lower-case UUIDs that version sent to dec_keys */
	ck_assert_int_eq(journal_parse(v1, j), 0);
	ck_assert_uint_eq(j->nopen, 1);
	ck_assert_uint_eq(j->open[0].seq, 7);
	ck_assert_uint_eq(j->added, 100);
	ck_assert_uint_eq(j->open[0].n, 2);
	ck_assert_str_eq(j->open[0].ids[0].s, "00010203-0405-0607-0809-0a0b0c0d0e0f");
	ck_assert_str_eq(j->open[0].ids[1].s, "ffffffff-ffff-ffff-ffff-ffffffffffff");
	/* version 2: the strings as issued, one offer and its base */
	ck_assert_int_eq(journal_parse(v2, j), 0);
	ck_assert_uint_eq(j->open[0].n, 2);
	ck_assert_str_eq(j->open[0].ids[0].s, "648487A0-763E-4BE8-9362-34B526B33C85");
	ck_assert_str_eq(j->open[0].ids[1].s, "kid/0001+x=");
	/* corrupt: truncated, wrong count, seq not below next_seq, junk */
	ck_assert_int_eq(journal_parse("qkd-linkd journal 1\n", j), -1);
	ck_assert_int_eq(journal_parse("qkd-linkd journal 3\nnext_seq 5\n", j), -1);
	ck_assert_int_eq(journal_parse("qkd-linkd journal 1\nnext_seq 8\nopen 7 100 3\n"
				       "id 000102030405060708090a0b0c0d0e0f\n", j), -1);
	ck_assert_int_eq(journal_parse("qkd-linkd journal 1\nnext_seq 7\nopen 7 100 1\n"
				       "id 000102030405060708090a0b0c0d0e0f\n", j), -1);
	ck_assert_int_eq(journal_parse("qkd-linkd journal 1\nnext_seq 8\nopen 7 100 1\n"
				       "id 000102030405060708090a0b0c0d0e0g\n", j), -1);
	ck_assert_int_eq(journal_parse("qkd-linkd journal 1\nnext_seq 8\nx\n", j), -1);
	ck_assert_int_eq(journal_parse("qkd-linkd journal 2\nnext_seq 8\nopen 7 100 1\n"
				       "id a b\n", j), -1);
	ck_assert_int_eq(journal_parse("qkd-linkd journal 2\nnext_seq 8\nopen 7 100 1\n"
				       "id \n", j), -1);
	ck_assert_int_eq(journal_parse("qkd-linkd journal 2\nnext_seq 8\nopen 7 100 1\n"
				       "id abc", j), -1);
	free(j);
}
END_TEST

Suite *peer_proto_suite(void)
{
	Suite *s = suite_create("peer_proto");
	TCase *tc = tcase_create("framing");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, proto_roundtrip);
	tcase_add_test(tc, proto_two_frames);
	tcase_add_loop_test(tc, proto_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, proto_other_version);
	tcase_add_test(tc, proto_encode_limits);
	tcase_add_test(tc, journal_format);
	suite_add_tcase(s, tc);
	return s;
}
