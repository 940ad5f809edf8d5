// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The qkd key exchange payload and its ACK/NAK state machine, driven with a
 * fake pool that behaves like the qkdpool module: take-once, outbound FIFO,
 * inbound by ID, and a take with a wrong tag rejected without consuming.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "qkd_proto.h"
#include "tests.h"

/* ---- payload ------------------------------------------------------------ */

static const uint8_t test_id[QKD_KEY_ID_LEN] = {
	0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
	0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
};

START_TEST(offer_wire_format)
{
	struct qkd_proto_msg m = { .version = 1, .type = QKD_PROTO_MSG_OFFER };
	uint8_t buf[QKD_PROTO_MSG_MAX_LEN + 8];
	size_t i;

	memcpy(m.key_id, test_id, sizeof(test_id));
	for (i = 0; i < QKD_TAG_LEN; i++)
		m.tag[i] = (uint8_t)(0x40 + i);
	ck_assert_int_eq(qkd_proto_msg_encode(&m, buf, sizeof(buf)), 52);
	ck_assert_int_eq(buf[0], 1);
	ck_assert_int_eq(buf[1], 1);
	ck_assert_int_eq(buf[2], 0);
	ck_assert_int_eq(buf[3], 0);
	ck_assert_mem_eq(buf + 4, test_id, 16);
	ck_assert_int_eq(buf[20], 0x40);
	ck_assert_int_eq(buf[51], 0x40 + 31);
}
END_TEST

static const struct qkd_proto_msg roundtrip_msgs[] = {
	{ 1, QKD_PROTO_MSG_OFFER, QKD_PROTO_REASON_OK, { 1, 2, 3 }, { 9, 8, 7 }, 0, 0, "" },
	{ 1, QKD_PROTO_MSG_NONE, QKD_PROTO_REASON_EMPTY, { 0 }, { 0 }, 0, 0, "" },
	{ 1, QKD_PROTO_MSG_NONE, QKD_PROTO_REASON_NO_POOL, { 0 }, { 0 }, 0, 0, "" },
	{ 1, QKD_PROTO_MSG_NONE, QKD_PROTO_REASON_POOL_ERROR, { 0 }, { 0 }, 0, 0, "" },
	{ 1, QKD_PROTO_MSG_ACK, QKD_PROTO_REASON_OK, { 0xff, 0xfe }, { 0 }, 0, 0, "" },
	{ 1, QKD_PROTO_MSG_NAK, QKD_PROTO_REASON_NO_OFFER, { 0 }, { 0 }, 0, 0, "" },
	{ 1, QKD_PROTO_MSG_NAK, QKD_PROTO_REASON_NO_POOL, { 5 }, { 0 }, 0, 0, "" },
	{ 1, QKD_PROTO_MSG_NAK, QKD_PROTO_REASON_UNKNOWN_KEY, { 6 }, { 0 }, 0, 0, "" },
	{ 1, QKD_PROTO_MSG_NAK, QKD_PROTO_REASON_TAG_MISMATCH, { 7 }, { 0 }, 0, 0, "" },
	{ 1, QKD_PROTO_MSG_NAK, QKD_PROTO_REASON_POOL_ERROR, { 8 }, { 0 }, 0, 0, "" },
	{ 1, QKD_PROTO_MSG_NAK, QKD_PROTO_REASON_VERSION, { 0 }, { 0 }, 0, 0, "" },
	/* version 2: the offer's selector, the reasons added with it */
	{ 2, QKD_PROTO_MSG_OFFER, QKD_PROTO_REASON_OK, { 1 }, { 2 }, 2, 3, "abc" },
	{ 2, QKD_PROTO_MSG_OFFER, QKD_PROTO_REASON_OK, { 1 }, { 2 }, 0, 0, "" },
	{ 2, QKD_PROTO_MSG_NONE, QKD_PROTO_REASON_PEER_UNKNOWN, { 0 }, { 0 }, 0, 0, "" },
	{ 2, QKD_PROTO_MSG_NAK, QKD_PROTO_REASON_PRE_AUTH, { 4 }, { 0 }, 0, 0, "" },
	{ 2, QKD_PROTO_MSG_ACK, QKD_PROTO_REASON_OK, { 4 }, { 0 }, 0, 0, "" },
	{ 2, QKD_PROTO_MSG_NONE, QKD_PROTO_REASON_EMPTY, { 0 }, { 0 }, 2, 3, "abc" },
};
static const size_t roundtrip_lens[] = { 52, 4, 4, 4, 20, 20, 20, 20, 20,
					 20, 20, 57, 54, 6, 20, 20, 9 };

START_TEST(roundtrip)
{
	const struct qkd_proto_msg *m = &roundtrip_msgs[_i];
	struct qkd_proto_msg d;
	uint8_t buf[QKD_PROTO_MSG_MAX_LEN + 1];
	int len;

	len = qkd_proto_msg_encode(m, buf, QKD_PROTO_MSG_MAX_LEN);
	ck_assert_int_eq(len, (int)roundtrip_lens[_i]);
	ck_assert_int_eq(qkd_proto_msg_decode(buf, (size_t)len, &d), 0);
	ck_assert_int_eq(d.version, m->version);
	ck_assert_int_eq(d.type, m->type);
	ck_assert_int_eq(d.reason, m->reason);
	if (m->type != QKD_PROTO_MSG_NONE)
		ck_assert_mem_eq(d.key_id, m->key_id, QKD_KEY_ID_LEN);
	if (m->type == QKD_PROTO_MSG_OFFER)
		ck_assert_mem_eq(d.tag, m->tag, QKD_TAG_LEN);
	ck_assert_int_eq(d.sel_type, m->sel_type);
	ck_assert_int_eq(d.sel_len, m->sel_len);
	ck_assert_mem_eq(d.sel, m->sel, m->sel_len);
	/* one byte short or long is malformed */
	ck_assert_int_eq(qkd_proto_msg_decode(buf, (size_t)len - 1, &d), -EBADMSG);
	buf[len] = 0;
	ck_assert_int_eq(qkd_proto_msg_decode(buf, (size_t)len + 1, &d), -EBADMSG);
	/* a buffer one byte short is refused by the encoder */
	ck_assert_int_eq(qkd_proto_msg_encode(m, buf, (size_t)len - 1), -ENOSPC);
}
END_TEST

/* Well-sized messages with a bad header field. */
static const struct {
	uint8_t hdr[4];
	size_t len;
	int err;
} bad_msgs[] = {
	{ { 1, 0, 0, 0 }, 4, -EBADMSG },	/* type 0 */
	{ { 1, 5, 0, 0 }, 20, -EBADMSG },	/* unknown type */
	{ { 1, 255, 0, 0 }, 52, -EBADMSG },
	{ { 1, 1, 0, 1 }, 52, -EBADMSG },	/* reserved set */
	{ { 1, 3, 0, 0x80 }, 20, -EBADMSG },
	{ { 1, 1, 1, 0 }, 52, -EBADMSG },	/* OFFER with a reason */
	{ { 1, 3, 4, 0 }, 20, -EBADMSG },	/* ACK with a reason */
	{ { 1, 4, 0, 0 }, 20, -EBADMSG },	/* NAK without one */
	{ { 1, 4, 3, 0 }, 20, -EBADMSG },	/* NAK "empty": a NONE reason */
	{ { 1, 4, 8, 0 }, 20, -EBADMSG },	/* unknown reason */
	{ { 1, 2, 0, 0 }, 4, -EBADMSG },	/* NONE without a reason */
	{ { 1, 2, 5, 0 }, 4, -EBADMSG },	/* NONE "tag mismatch" */
	{ { 1, 1, 0, 0 }, 20, -EBADMSG },	/* OFFER of an answer's size */
	{ { 1, 3, 0, 0 }, 52, -EBADMSG },	/* ACK of an offer's size */
	{ { 1, 2, 3, 0 }, 20, -EBADMSG },	/* NONE with a key ID */
	{ { 1, 1, 0, 0 }, 3, -EBADMSG },	/* short header */
	{ { 1, 0, 0, 0 }, 1, -EBADMSG },
	{ { 2, 1, 0, 0 }, 52, -EBADMSG },	/* a v2 offer has a selector */
	{ { 1, 2, 9, 0 }, 4, -EBADMSG },	/* v1 NONE "peer unknown" */
	{ { 2, 4, 10, 0 }, 20, -EBADMSG },	/* unknown reason */
	{ { 2, 4, 3, 0 }, 20, -EBADMSG },	/* NAK "empty" */
	{ { 3, 1, 0, 0 }, 54, -EPROTONOSUPPORT },	/* later version */
	{ { 0, 1, 0, 0 }, 52, -EPROTONOSUPPORT },
	{ { 255, 0, 0, 0 }, 1, -EPROTONOSUPPORT },
};

START_TEST(malformed)
{
	uint8_t buf[QKD_PROTO_MSG_MAX_LEN] = { 0 };
	struct qkd_proto_msg d;

	memcpy(buf, bad_msgs[_i].hdr, 4);
	ck_assert_int_eq(qkd_proto_msg_decode(buf, bad_msgs[_i].len, &d),
			 bad_msgs[_i].err);
	if (bad_msgs[_i].err == -EPROTONOSUPPORT)
		ck_assert_int_eq(d.version, bad_msgs[_i].hdr[0]);
	else
		ck_assert_int_eq(d.type, 0);
}
END_TEST

START_TEST(decode_null_and_empty)
{
	struct qkd_proto_msg d;
	uint8_t b = 1;

	ck_assert_int_eq(qkd_proto_msg_decode(NULL, 0, &d), -EBADMSG);
	ck_assert_int_eq(qkd_proto_msg_decode(&b, 0, &d), -EBADMSG);
	ck_assert_int_eq(qkd_proto_msg_decode(&b, 1, NULL), -EINVAL);
}
END_TEST

START_TEST(encode_invalid)
{
	struct qkd_proto_msg m = { .version = 1, .type = QKD_PROTO_MSG_ACK };
	uint8_t buf[QKD_PROTO_MSG_MAX_LEN];

	m.version = QKD_PROTO_VERSION + 1;
	ck_assert_int_eq(qkd_proto_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.version = 0;
	ck_assert_int_eq(qkd_proto_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.version = 1;
	m.type = QKD_PROTO_MSG_NAK;		/* a reason version 1 does not know */
	m.reason = QKD_PROTO_REASON_PRE_AUTH;
	ck_assert_int_eq(qkd_proto_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.reason = QKD_PROTO_REASON_OK;
	m.version = 2;			/* a selector of type 0, or empty */
	m.type = QKD_PROTO_MSG_OFFER;
	m.sel_len = 3;
	ck_assert_int_eq(qkd_proto_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.sel_len = 0;
	m.sel_type = 2;
	ck_assert_int_eq(qkd_proto_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.sel_type = 0;
	m.version = 1;
	m.type = QKD_PROTO_MSG_ACK;
	m.type = 9;
	ck_assert_int_eq(qkd_proto_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.type = QKD_PROTO_MSG_NAK;		/* a NAK needs a reason */
	ck_assert_int_eq(qkd_proto_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(qkd_proto_msg_encode(NULL, buf, sizeof(buf)), -EINVAL);
}
END_TEST

/* Random input: never a crash; what decodes re-encodes to the same bytes. */
START_TEST(random_inputs)
{
	uint8_t buf[64], out[QKD_PROTO_MSG_MAX_LEN];
	struct qkd_proto_msg d;
	unsigned int seed = 1;
	int i, ok = 0;

	for (i = 0; i < 200000; i++) {
		size_t len = (size_t)(rand_r(&seed) % 60), j;

		for (j = 0; j < len; j++)
			buf[j] = (uint8_t)rand_r(&seed);
		if (len) {
			buf[0] = (uint8_t)(1 + (rand_r(&seed) & 1));
			if (len > 3)
				buf[3] = (rand_r(&seed) & 7) ? 0 : buf[3];
			if (len > 2)
				buf[2] = buf[2] & 15;
			/* selector lengths, of an OFFER or a NONE */
			if (len > 53)
				buf[53] = buf[53] & 7;
			if (len > 5)
				buf[5] = buf[5] & 7;
			if (len > 1)
				buf[1] = buf[1] % 6;
			/* lengths that may be valid, most of the time */
			if (rand_r(&seed) & 1) {
				static const size_t l[] = { 4, 6, 9, 20, 52,
							     54, 57 };

				len = l[rand_r(&seed) % 7];
			}
		}
		if (qkd_proto_msg_decode(buf, len, &d) == 0) {
			ok++;
			ck_assert_int_eq(qkd_proto_msg_encode(&d, out, sizeof(out)),
					 (int)len);
			ck_assert_mem_eq(out, buf, len);
		}
	}
	ck_assert_int_gt(ok, 1000);
}
END_TEST

START_TEST(names)
{
	ck_assert_str_eq(qkd_proto_msg_type_name(QKD_PROTO_MSG_NAK), "nak");
	ck_assert_str_eq(qkd_proto_msg_type_name(0), "unknown");
	ck_assert_str_eq(qkd_proto_msg_type_name(77), "unknown");
	ck_assert_str_eq(qkd_proto_reason_name(QKD_PROTO_REASON_TAG_MISMATCH),
			 "tag mismatch");
	ck_assert_str_eq(qkd_proto_reason_name(200), "unknown");
	for (unsigned int r = QKD_PROTO_REASON_NO_OFFER;
	     r <= QKD_PROTO_REASON_MAX; r++)
		ck_assert_msg(*qkd_proto_reason_hint(r), "no hint for %u", r);
	ck_assert_str_eq(qkd_proto_reason_hint(QKD_PROTO_REASON_OK), "");
	ck_assert_str_eq(qkd_proto_reason_hint(200), "");
}
END_TEST

/* The tag is libqkd's; a known answer pins the definition both ends use. */
START_TEST(tag_known_answer)
{
	static const uint8_t expect[QKD_TAG_LEN] = {
		0x29, 0x76, 0x1e, 0x49, 0xd7, 0xcd, 0xfa, 0x19,
		0x55, 0x00, 0x3b, 0xb7, 0xa3, 0x76, 0x9e, 0x78,
		0xf7, 0x7c, 0x11, 0xea, 0x62, 0x46, 0xc9, 0xbb,
		0x5b, 0x37, 0x60, 0x32, 0x49, 0x43, 0xaa, 0x8f,
	};
	uint8_t key[32], tag[QKD_TAG_LEN];
	int i;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	ck_assert_int_eq(qkd_tag_compute(test_id, key, sizeof(key), tag), 0);
	ck_assert_mem_eq(tag, expect, QKD_TAG_LEN);
	key[31] ^= 1;
	ck_assert_int_eq(qkd_tag_compute(test_id, key, sizeof(key), tag), 0);
	ck_assert_int_ne(memcmp(tag, expect, QKD_TAG_LEN), 0);
}
END_TEST

Suite *proto_suite(void)
{
	Suite *s = suite_create("payload");
	TCase *tc = tcase_create("encoding");

	tcase_add_test(tc, offer_wire_format);
	tcase_add_loop_test(tc, roundtrip, 0,
			    sizeof(roundtrip_msgs) / sizeof(roundtrip_msgs[0]));
	tcase_add_loop_test(tc, malformed, 0,
			    sizeof(bad_msgs) / sizeof(bad_msgs[0]));
	tcase_add_test(tc, decode_null_and_empty);
	tcase_add_test(tc, encode_invalid);
	tcase_add_test(tc, random_inputs);
	tcase_add_test(tc, names);
	tcase_add_test(tc, tag_known_answer);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
