// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-linkd's peer protocol framing: every frame type round-trips through
 * its own encoder and decoder; partial frames wait; each malformed frame
 * is refused; a decoder refuses a frame of another type; and the master's
 * journal file format round-trips and refuses corruption.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests.h"
#include "../linkd/journal.h"
#include "../linkd/proto.h"

static void fill_epoch(struct pool_epoch *e);
static uint8_t buf[PROTO_MAX_FRAME];
static struct keyid *ids_a, *ids_b;	/* PROTO_MAX_IDS each */

static void setup(void)
{
	ids_a = calloc(PROTO_MAX_IDS, sizeof(*ids_a));
	ids_b = calloc(PROTO_MAX_IDS, sizeof(*ids_b));
	ck_assert_ptr_nonnull(ids_a);
	ck_assert_ptr_nonnull(ids_b);
}

static void teardown(void)
{
	free(ids_a);
	free(ids_b);
}

/*
 * The frame of @n bytes in buf is whole only at @n (every strict prefix
 * is "not yet") and of @type; its split into @f.
 */
static void split(int n, uint8_t type, struct proto_frame *f)
{
	ck_assert_int_gt(n, 0);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(proto_frame_split(buf, i, f), 0);
	ck_assert_int_eq(proto_frame_split(buf, n, f), n);
	ck_assert_uint_eq(f->type, type);
}

/*
 * Any frame through the decoder of its type, as a peer's owner does:
 * the length, 0, -1 or PROTO_OTHER_VERSION (the tests' and the fuzzer's
 * dispatch; the daemon's lives with the master and the slave).
 */
static int decode_any(const uint8_t *b, size_t len)
{
	static struct keyid ids[PROTO_MAX_IDS];
	struct proto_frame f;
	struct proto_hello h;
	struct proto_hello_ok ok;
	struct proto_ids m;
	struct proto_ack ack;
	struct proto_aborted ab;
	struct proto_error er;
	struct proto_reset rs;
	struct proto_relay rl;
	int n = proto_frame_split(b, len, &f), r = -1;

	if (n <= 0)
		return n;
	switch (f.type) {
	case PROTO_HELLO:
		r = proto_decode_hello(&f, &h);
		break;
	case PROTO_HELLO_OK:
		r = proto_decode_hello_ok(&f, &ok);
		break;
	case PROTO_OFFER:
		r = proto_decode_offer(&f, &m, ids);
		break;
	case PROTO_ABORT:
		r = proto_decode_abort(&f, &m, ids);
		break;
	case PROTO_ACK:
		r = proto_decode_ack(&f, &ack);
		break;
	case PROTO_ABORTED:
		r = proto_decode_aborted(&f, &ab);
		break;
	case PROTO_ERROR:
		r = proto_decode_error(&f, &er);
		break;
	case PROTO_RESET:
		r = proto_decode_reset(&f, &rs);
		break;
	case PROTO_RESET_OK:
		r = proto_decode_reset_ok(&f, &rs);
		break;
	case PROTO_RELAY:
		r = proto_decode_relay(&f, &rl);
		break;
	}
	return r ? -1 : n;
}

START_TEST(proto_roundtrip)
{
	struct proto_frame f;
	int n;

	{
		struct proto_hello a = { .master = "SAE_A", .slave = "SAE_B",
					 .key_bits = 256 }, b;

		fill_epoch(&a.epoch);
		n = proto_encode_hello(&a, buf, sizeof(buf));
		ck_assert_int_eq(n, 8 + 1 + 5 + 1 + 5 + 2 + EPOCH_WIRE_LEN);
		split(n, PROTO_HELLO, &f);
		ck_assert_int_eq(proto_decode_hello(&f, &b), 0);
		ck_assert_str_eq(b.master, "SAE_A");
		ck_assert_str_eq(b.slave, "SAE_B");
		ck_assert_uint_eq(b.key_bits, 256);
		ck_assert(epoch_eq(&b.epoch, &a.epoch));
	}
	{
		struct proto_hello_ok a = { .reset = 1 }, b;

		fill_epoch(&a.epoch);
		n = proto_encode_hello_ok(&a, buf, sizeof(buf));
		ck_assert_int_eq(n, 8 + EPOCH_WIRE_LEN + 1);
		split(n, PROTO_HELLO_OK, &f);
		ck_assert_int_eq(proto_decode_hello_ok(&f, &b), 0);
		ck_assert(epoch_eq(&b.epoch, &a.epoch));
		ck_assert_uint_eq(b.reset, 1);
		a.reset = 0;
		split(proto_encode_hello_ok(&a, buf, sizeof(buf)),
		      PROTO_HELLO_OK, &f);
		ck_assert_int_eq(proto_decode_hello_ok(&f, &b), 0);
		ck_assert_uint_eq(b.reset, 0);
		a.reset = 2;
		ck_assert_int_eq(proto_encode_hello_ok(&a, buf, sizeof(buf)), -1);
	}
	{
		struct proto_reset a = { .count = 0xfedcba98 }, b;

		n = proto_encode_reset(&a, buf, sizeof(buf));
		ck_assert_int_eq(n, 8 + 4);
		split(n, PROTO_RESET, &f);
		ck_assert_int_eq(proto_decode_reset(&f, &b), 0);
		ck_assert_uint_eq(b.count, 0xfedcba98);
		/* RESET is not RESET_OK */
		ck_assert_int_eq(proto_decode_reset_ok(&f, &b), -1);
		a.count = 64;
		n = proto_encode_reset_ok(&a, buf, sizeof(buf));
		ck_assert_int_eq(n, 8 + 4);
		split(n, PROTO_RESET_OK, &f);
		ck_assert_int_eq(proto_decode_reset_ok(&f, &b), 0);
		ck_assert_uint_eq(b.count, 64);
	}
	{
		/* the largest OFFER: 512 IDs of the longest length */
		struct proto_ids a = { .seq = 0x0102030405060708ull,
				       .n = PROTO_MAX_IDS, .ids = ids_a }, b;

		for (int i = 0; i < PROTO_MAX_IDS; i++) {
			char s[KEYID_MAX];

			memset(s, '!' + i % 94, sizeof(s));
			ck_assert_int_eq(keyid_set(&ids_a[i], s, sizeof(s)), 0);
		}
		n = proto_encode_offer(&a, buf, sizeof(buf));
		ck_assert_int_eq(n, 8 + 8 + 2 + (1 + KEYID_MAX) * PROTO_MAX_IDS);
		split(n, PROTO_OFFER, &f);
		ck_assert_int_eq(proto_decode_offer(&f, &b, ids_b), 0);
		ck_assert_uint_eq(b.seq, a.seq);
		ck_assert_uint_eq(b.n, PROTO_MAX_IDS);
		ck_assert_ptr_eq(b.ids, ids_b);
		for (int i = 0; i < PROTO_MAX_IDS; i++)
			ck_assert(keyid_eq(&ids_b[i], &ids_a[i]));
		/* an OFFER is not an ABORT */
		ck_assert_int_eq(proto_decode_abort(&f, &b, ids_b), -1);

		/* IDs as a foreign KME issued them, byte for byte */
		a.n = 3;
		keyid_set(&ids_a[0], "648487A0-763E-4BE8-9362-34B526B33C85", 36);
		keyid_set(&ids_a[1], "k", 1);
		keyid_set(&ids_a[2], "a\"b\\c", 5);
		n = proto_encode_abort(&a, buf, sizeof(buf));
		ck_assert_int_eq(n, 8 + 8 + 2 + 37 + 2 + 6);
		split(n, PROTO_ABORT, &f);
		ck_assert_int_eq(proto_decode_abort(&f, &b, ids_b), 0);
		ck_assert_uint_eq(b.n, 3);
		ck_assert_str_eq(ids_b[0].s, "648487A0-763E-4BE8-9362-34B526B33C85");
		ck_assert_str_eq(ids_b[1].s, "k");
		ck_assert_str_eq(ids_b[2].s, "a\"b\\c");

		/* an ABORT of no ID; an OFFER of none cannot be encoded */
		a.n = 0;
		split(proto_encode_abort(&a, buf, sizeof(buf)), PROTO_ABORT, &f);
		ck_assert_int_eq(proto_decode_abort(&f, &b, ids_b), 0);
		ck_assert_uint_eq(b.n, 0);
		ck_assert_int_eq(proto_encode_offer(&a, buf, sizeof(buf)), -1);
	}
	{
		struct proto_ack a = { .seq = 9, .status = PROTO_E_SOURCE }, b;

		strcpy(a.text, "KME answered dec_keys with HTTP 400: key not found");
		split(proto_encode_ack(&a, buf, sizeof(buf)), PROTO_ACK, &f);
		ck_assert_int_eq(proto_decode_ack(&f, &b), 0);
		ck_assert_str_eq(b.text, a.text);
		ck_assert_uint_eq(b.status, PROTO_E_SOURCE);
		ck_assert_uint_eq(b.seq, 9);
	}
	{
		struct proto_aborted a = { .seq = 9, .removed = 7 }, b;

		n = proto_encode_aborted(&a, buf, sizeof(buf));
		ck_assert_int_eq(n, 8 + 8 + 2);
		split(n, PROTO_ABORTED, &f);
		ck_assert_int_eq(proto_decode_aborted(&f, &b), 0);
		ck_assert_uint_eq(b.removed, 7);
		ck_assert_uint_eq(b.seq, 9);
	}
	{
		struct proto_error b;

		split(proto_encode_error(PROTO_VERSION, PROTO_E_PEER, "no pool",
					 buf, sizeof(buf)), PROTO_ERROR, &f);
		ck_assert_int_eq(proto_decode_error(&f, &b), 0);
		ck_assert_uint_eq(b.code, PROTO_E_PEER);
		ck_assert_str_eq(b.text, "no pool");
	}
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

/*
 * The relay capability: a HELLO or HELLO_OK without it is byte for byte
 * what version 3 always sent (an older peer decodes it), with it one byte
 * longer; unknown bits are kept (a later capability does not break this
 * decoder).  RELAY carries a relay frame's bytes as they are.
 */
START_TEST(proto_caps_relay)
{
	struct proto_hello a = { .master = "S0A", .slave = "S0B",
				 .key_bits = 256 }, b;
	struct proto_hello_ok oa = { .reset = 0 }, ob;
	static const uint8_t rf[] = { 1, 2, 0, 0, 9, 8, 7 };
	struct proto_relay ra = { .frame = rf, .len = sizeof(rf) }, rb;
	struct proto_frame f;
	int plain, n;

	fill_epoch(&a.epoch);
	plain = proto_encode_hello(&a, buf, sizeof(buf));
	split(plain, PROTO_HELLO, &f);
	ck_assert_int_eq(proto_decode_hello(&f, &b), 0);
	ck_assert_uint_eq(b.caps, 0);
	a.caps = PROTO_CAP_RELAY;
	n = proto_encode_hello(&a, buf, sizeof(buf));
	ck_assert_int_eq(n, plain + 1);
	ck_assert_uint_eq(buf[n - 1], PROTO_CAP_RELAY);
	split(n, PROTO_HELLO, &f);
	ck_assert_int_eq(proto_decode_hello(&f, &b), 0);
	ck_assert_uint_eq(b.caps, PROTO_CAP_RELAY);
	ck_assert_str_eq(b.slave, "S0B");
	ck_assert(epoch_eq(&b.epoch, &a.epoch));
	a.caps = 0x81;			/* an unknown bit beside relay */
	split(proto_encode_hello(&a, buf, sizeof(buf)), PROTO_HELLO, &f);
	ck_assert_int_eq(proto_decode_hello(&f, &b), 0);
	ck_assert_uint_eq(b.caps, 0x81);

	fill_epoch(&oa.epoch);
	plain = proto_encode_hello_ok(&oa, buf, sizeof(buf));
	ck_assert_int_eq(plain, 8 + EPOCH_WIRE_LEN + 1);
	oa.caps = PROTO_CAP_RELAY;
	oa.reset = 1;
	n = proto_encode_hello_ok(&oa, buf, sizeof(buf));
	ck_assert_int_eq(n, plain + 1);
	split(n, PROTO_HELLO_OK, &f);
	ck_assert_int_eq(proto_decode_hello_ok(&f, &ob), 0);
	ck_assert_uint_eq(ob.caps, PROTO_CAP_RELAY);
	ck_assert_uint_eq(ob.reset, 1);

	n = proto_encode_relay(&ra, buf, sizeof(buf));
	ck_assert_int_eq(n, 8 + (int)sizeof(rf));
	split(n, PROTO_RELAY, &f);
	ck_assert_int_eq(proto_decode_relay(&f, &rb), 0);
	ck_assert_uint_eq(rb.len, sizeof(rf));
	ck_assert_mem_eq(rb.frame, rf, sizeof(rf));
	ck_assert_str_eq(proto_type_name(PROTO_RELAY), "RELAY");
	/* Another type is not a RELAY; an empty one is not encoded. */
	ck_assert_int_eq(proto_decode_hello_ok(&f, &ob), -1);
	ra.len = 0;
	ck_assert_int_eq(proto_encode_relay(&ra, buf, sizeof(buf)), -1);
	ra.len = PROTO_MAX_FRAME - PROTO_HDR_LEN + 1;
	ck_assert_int_eq(proto_encode_relay(&ra, buf, sizeof(buf)), -1);
}
END_TEST

START_TEST(proto_two_frames)
{
	struct proto_reset r = { .count = 1 };
	struct proto_aborted a = { .seq = 3 }, b;
	struct proto_frame f;
	int n1, n2;

	n1 = proto_encode_reset_ok(&r, buf, sizeof(buf));
	n2 = proto_encode_aborted(&a, buf + n1, sizeof(buf) - n1);
	ck_assert_int_eq(proto_frame_split(buf, n1 + n2, &f), n1);
	ck_assert_uint_eq(f.type, PROTO_RESET_OK);
	ck_assert_int_eq(proto_frame_split(buf + n1, n2, &f), n2);
	ck_assert_int_eq(proto_decode_aborted(&f, &b), 0);
	ck_assert_uint_eq(b.seq, 3);
}
END_TEST

/* Malformed frames, as hex (version 3 unless said). */
static const char *const bad[] = {
	"00000003030200",			/* length below the header */
	"0000fffd030200",			/* length above the maximum */
	"0000000400020000",			/* version 0 */
	"0000000403020001",			/* flags set */
	"0000000403000000",			/* type 0 */
	"00000004030b0000",			/* type 11 */
	"00000004030a0000",			/* RELAY, empty */
	/* HELLO, capability byte 0 (written only when not 0) */
	"0000002903010000014101420100000000000000"
	"000000000000000000000000000000000000000000000000" "00",
	/* HELLO, two bytes after the epoch */
	"0000002a03010000014101420100000000000000"
	"000000000000000000000000000000000000000000000000" "0101",
	/* HELLO_OK, two bytes after reset */
	"0000002503020000000000000000000000000000"
	"000000000000000000000000000000000000000101",
	"0000000403020000",			/* HELLO_OK without epoch */
	/* HELLO_OK, reset 2 */
	"0000002303020000000000000000000000000000"
	"00000000000000000000000000000000000002",
	/* HELLO_OK, trailing byte 0 (a capability byte is never 0) */
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

	ck_assert_msg(decode_any(buf, n) == -1, "case %d (%s) accepted",
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
	struct proto_frame f;
	struct proto_error b;
	int n;

	for (unsigned int i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		n = unhex(other[i], buf);
		ck_assert_msg(proto_frame_split(buf, n, &f) == PROTO_OTHER_VERSION,
			      "case %u", i);
		/* a header alone is not yet decided */
		ck_assert_int_eq(proto_frame_split(buf, 3, &f), 0);
	}
	n = proto_encode_error(1, PROTO_E_VERSION, "speak 2", buf, sizeof(buf));
	ck_assert_int_eq(n, 8 + 2 + 1 + 7);
	ck_assert_uint_eq(buf[4], 1);
	ck_assert_uint_eq(buf[5], PROTO_ERROR);
	ck_assert_int_eq(proto_frame_split(buf, n, &f), PROTO_OTHER_VERSION);
	buf[4] = PROTO_VERSION;	/* the same bytes in this version */
	ck_assert_int_eq(proto_frame_split(buf, n, &f), n);
	ck_assert_int_eq(proto_decode_error(&f, &b), 0);
	ck_assert_uint_eq(b.code, PROTO_E_VERSION);
	ck_assert_str_eq(b.text, "speak 2");
	ck_assert_int_eq(proto_encode_error(0, 1, "x", buf, sizeof(buf)), -1);
	ck_assert_int_eq(proto_encode_error(256, 1, "x", buf, sizeof(buf)), -1);
}
END_TEST

START_TEST(proto_encode_limits)
{
	struct proto_ids a = { .n = 0, .ids = ids_a };
	struct proto_ack ack = { .seq = 1 };

	ck_assert_int_eq(proto_encode_offer(&a, buf, sizeof(buf)), -1);
	a.n = PROTO_MAX_IDS + 1;
	ck_assert_int_eq(proto_encode_offer(&a, buf, sizeof(buf)), -1);
	ck_assert_int_eq(proto_encode_abort(&a, buf, sizeof(buf)), -1);
	a.n = 1;
	ck_assert_int_eq(proto_encode_offer(&a, buf, sizeof(buf)), -1); /* no ID */
	keyid_set(&ids_a[0], "k", 1);
	ck_assert_int_eq(proto_encode_offer(&a, buf, 19), -1);
	ck_assert_int_eq(proto_encode_offer(&a, buf, 20), 20);
	/* a text longer than a frame carries */
	memset(ack.text, 'x', PROTO_TEXT_MAX);
	ck_assert_int_eq(proto_encode_ack(&ack, buf, sizeof(buf)),
			 8 + 8 + 2 + 1 + PROTO_TEXT_MAX);
	ck_assert_int_eq(proto_encode_ack(&ack, buf, 8 + 8 + 2 + PROTO_TEXT_MAX),
			 -1);
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
	tcase_add_test(tc, proto_caps_relay);
	tcase_add_test(tc, proto_two_frames);
	tcase_add_loop_test(tc, proto_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, proto_other_version);
	tcase_add_test(tc, proto_encode_limits);
	tcase_add_test(tc, journal_format);
	suite_add_tcase(s, tc);
	return s;
}
