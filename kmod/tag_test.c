// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the key confirmation tag: RFC 4231 HMAC-SHA256 vectors
 * (the cases whose keys fit one block, as pool keys always do) and a known
 * answer for the tag itself.  Included by tag.c.
 */

#include <kunit/test.h>

struct qkd_hmac_case {
	const char *name;
	const u8 *key;
	unsigned int key_len;
	const u8 *msg;
	unsigned int msg_len;
	u8 mac[SHA256_DIGEST_SIZE];
	unsigned int mac_len;		/* case 5 is truncated to 128 bits */
};

static const u8 qkd_rfc4231_key1[20] = {
	[0 ... 19] = 0x0b,
};

static const u8 qkd_rfc4231_key3[20] = {
	[0 ... 19] = 0xaa,
};

static const u8 qkd_rfc4231_msg3[50] = {
	[0 ... 49] = 0xdd,
};

static const u8 qkd_rfc4231_key4[25] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
	0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
	0x19,
};

static const u8 qkd_rfc4231_msg4[50] = {
	[0 ... 49] = 0xcd,
};

static const u8 qkd_rfc4231_key5[20] = {
	[0 ... 19] = 0x0c,
};

static const struct qkd_hmac_case qkd_hmac_cases[] = {
	{
		.name = "rfc4231-1",
		.key = qkd_rfc4231_key1, .key_len = 20,
		.msg = (const u8 *)"Hi There", .msg_len = 8,
		.mac = {
			0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53,
			0x5c, 0xa8, 0xaf, 0xce, 0xaf, 0x0b, 0xf1, 0x2b,
			0x88, 0x1d, 0xc2, 0x00, 0xc9, 0x83, 0x3d, 0xa7,
			0x26, 0xe9, 0x37, 0x6c, 0x2e, 0x32, 0xcf, 0xf7,
		},
		.mac_len = 32,
	}, {
		.name = "rfc4231-2",
		.key = (const u8 *)"Jefe", .key_len = 4,
		.msg = (const u8 *)"what do ya want for nothing?", .msg_len = 28,
		.mac = {
			0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
			0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
			0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
			0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43,
		},
		.mac_len = 32,
	}, {
		.name = "rfc4231-3",
		.key = qkd_rfc4231_key3, .key_len = 20,
		.msg = qkd_rfc4231_msg3, .msg_len = 50,
		.mac = {
			0x77, 0x3e, 0xa9, 0x1e, 0x36, 0x80, 0x0e, 0x46,
			0x85, 0x4d, 0xb8, 0xeb, 0xd0, 0x91, 0x81, 0xa7,
			0x29, 0x59, 0x09, 0x8b, 0x3e, 0xf8, 0xc1, 0x22,
			0xd9, 0x63, 0x55, 0x14, 0xce, 0xd5, 0x65, 0xfe,
		},
		.mac_len = 32,
	}, {
		.name = "rfc4231-4",
		.key = qkd_rfc4231_key4, .key_len = 25,
		.msg = qkd_rfc4231_msg4, .msg_len = 50,
		.mac = {
			0x82, 0x55, 0x8a, 0x38, 0x9a, 0x44, 0x3c, 0x0e,
			0xa4, 0xcc, 0x81, 0x98, 0x99, 0xf2, 0x08, 0x3a,
			0x85, 0xf0, 0xfa, 0xa3, 0xe5, 0x78, 0xf8, 0x07,
			0x7a, 0x2e, 0x3f, 0xf4, 0x67, 0x29, 0x66, 0x5b,
		},
		.mac_len = 32,
	}, {
		.name = "rfc4231-5",
		.key = qkd_rfc4231_key5, .key_len = 20,
		.msg = (const u8 *)"Test With Truncation", .msg_len = 20,
		.mac = {
			0xa3, 0xb6, 0x16, 0x74, 0x73, 0x10, 0x0e, 0xe0,
			0x6e, 0x0c, 0x79, 0x6c, 0x29, 0x55, 0x55, 0x2b,
		},
		.mac_len = 16,
	},
};

static void qkd_hmac_case_desc(const struct qkd_hmac_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(qkd_hmac, qkd_hmac_cases, qkd_hmac_case_desc);

static void qkd_tag_test_hmac_rfc4231(struct kunit *test)
{
	const struct qkd_hmac_case *c = test->param_value;
	u8 mac[SHA256_DIGEST_SIZE];

	qkd_hmac_sha256(mac, c->key, c->key_len, c->msg, c->msg_len);
	KUNIT_EXPECT_MEMEQ(test, mac, c->mac, c->mac_len);
}

/* Known answers, computed independently with Python's hmac module. */
struct qkd_tag_case {
	const char *name;
	u8 material_start;		/* material is start, start + 1, ... */
	unsigned int key_len;
	u8 tag[QKD_TAG_LEN];
};

static const struct qkd_tag_case qkd_tag_cases[] = {
	{
		.name = "32-byte key",
		.material_start = 0x00, .key_len = 32,
		.tag = {
			0x29, 0x76, 0x1e, 0x49, 0xd7, 0xcd, 0xfa, 0x19,
			0x55, 0x00, 0x3b, 0xb7, 0xa3, 0x76, 0x9e, 0x78,
			0xf7, 0x7c, 0x11, 0xea, 0x62, 0x46, 0xc9, 0xbb,
			0x5b, 0x37, 0x60, 0x32, 0x49, 0x43, 0xaa, 0x8f,
		},
	}, {
		.name = "64-byte key",
		.material_start = 0x40, .key_len = 64,
		.tag = {
			0x48, 0xc5, 0xdb, 0xb5, 0x20, 0x7a, 0xc3, 0x2e,
			0x15, 0x0c, 0x38, 0x3d, 0x64, 0xf4, 0x1e, 0x0b,
			0xe4, 0x6e, 0x1e, 0x61, 0x44, 0x17, 0x2c, 0xca,
			0xf1, 0x33, 0x55, 0x3c, 0xe3, 0x3e, 0x4e, 0xdb,
		},
	},
};

static void qkd_tag_case_desc(const struct qkd_tag_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(qkd_tag, qkd_tag_cases, qkd_tag_case_desc);

static void qkd_tag_test_known_answer(struct kunit *test)
{
	const struct qkd_tag_case *c = test->param_value;
	u8 material[QKD_KEY_SIZE_MAX], id[QKD_KEY_ID_LEN], tag[QKD_TAG_LEN];
	unsigned int i;

	for (i = 0; i < c->key_len; i++)
		material[i] = c->material_start + i;
	for (i = 0; i < QKD_KEY_ID_LEN; i++)
		id[i] = 0xa0 + i;

	qkd_tag_compute(tag, material, c->key_len, id);
	KUNIT_EXPECT_MEMEQ(test, tag, c->tag, QKD_TAG_LEN);
	KUNIT_EXPECT_TRUE(test, qkd_tag_verify(c->tag, material, c->key_len,
					       id));
}

/* Any change to the tag, the key or the ID must fail the check. */
static void qkd_tag_test_verify_rejects(struct kunit *test)
{
	u8 material[32], id[QKD_KEY_ID_LEN], tag[QKD_TAG_LEN];
	unsigned int i;

	for (i = 0; i < sizeof(material); i++)
		material[i] = i;
	memset(id, 0x5a, sizeof(id));
	qkd_tag_compute(tag, material, sizeof(material), id);
	KUNIT_ASSERT_TRUE(test, qkd_tag_verify(tag, material, sizeof(material),
					       id));

	tag[QKD_TAG_LEN - 1] ^= 1;
	KUNIT_EXPECT_FALSE(test, qkd_tag_verify(tag, material,
						sizeof(material), id));
	tag[QKD_TAG_LEN - 1] ^= 1;

	material[0] ^= 0x80;
	KUNIT_EXPECT_FALSE(test, qkd_tag_verify(tag, material,
						sizeof(material), id));
	material[0] ^= 0x80;

	id[QKD_KEY_ID_LEN - 1] ^= 1;
	KUNIT_EXPECT_FALSE(test, qkd_tag_verify(tag, material,
						sizeof(material), id));
}

static struct kunit_case qkd_tag_test_cases[] = {
	KUNIT_CASE_PARAM(qkd_tag_test_hmac_rfc4231, qkd_hmac_gen_params),
	KUNIT_CASE_PARAM(qkd_tag_test_known_answer, qkd_tag_gen_params),
	KUNIT_CASE(qkd_tag_test_verify_rejects),
	{}
};

static struct kunit_suite qkd_tag_test_suite = {
	.name = "qkd_tag",
	.test_cases = qkd_tag_test_cases,
};

kunit_test_suite(qkd_tag_test_suite);
