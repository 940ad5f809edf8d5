// SPDX-License-Identifier: GPL-2.0
/*
 * ETSI GS QKD 014 JSON handling: UUIDs, strict base64, Status and Key
 * container answers (good ones, and each kind of bad one, which must leave
 * the output wiped), error messages, request bodies; key ID strings as
 * foreign KMEs issue them (upper-case UUIDs, IDs that are not UUIDs) and
 * their kernel IDs; Status answers with fields missing or as strings.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "tests.h"
#include "../linkd/kme_json.h"

/* 32 bytes 0x00..0x1f in base64, and 16 bytes */
#define K32 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define K16 "AAECAwQFBgcICQoLDA0ODw=="
#define U1 "648487a0-763e-4be8-9362-34b526b33c85"
#define U2 "cca11f8f-63a3-4996-b1d1-6ed4a2eec093"

#define NU "kid/0001+x="	/* not a UUID */
/* Its kernel ID: SHA-256("qkd-linkd key_ID v2" 0x00 NU), first 16 bytes. */
static const uint8_t nu_id[16] = {
	0x85, 0xa9, 0x6f, 0x25, 0xd9, 0xdf, 0x8d, 0x2c,
	0xe4, 0x3c, 0x62, 0x04, 0x86, 0x3d, 0xa6, 0x74,
};

static struct qkd_key keys[4];
static struct keyid names[4], want[2];
static char err[KME_ERR_LEN];

static void set_want(const char *s0, const char *s1)
{
	ck_assert_int_eq(keyid_set(&want[0], s0, strlen(s0)), 0);
	ck_assert_int_eq(keyid_set(&want[1], s1, strlen(s1)), 0);
}

static int parse(const char *body, size_t n, size_t bytes, int dec)
{
	memset(keys, 0x5a, sizeof(keys));
	memset(names, 0, sizeof(names));
	err[0] = '\0';
	return kme_parse_keys(body, strlen(body), n, bytes, dec ? want : NULL,
			      names, keys, err, sizeof(err));
}

static void assert_wiped(size_t n)
{
	static const struct qkd_key zero[4];

	ck_assert_mem_eq(keys, zero, n * sizeof(keys[0]));
}

START_TEST(uuid_roundtrip)
{
	uint8_t id[16];
	char s[KME_UUID_LEN + 1];

	ck_assert_int_eq(kme_uuid_parse(U1, strlen(U1), id), 0);
	ck_assert_uint_eq(id[0], 0x64);
	ck_assert_uint_eq(id[15], 0x85);
	kme_uuid_format(id, s);
	ck_assert_str_eq(s, U1);
	ck_assert_int_eq(kme_uuid_parse("648487A0-763E-4BE8-9362-34B526B33C85",
					36, id), 0);
	ck_assert_int_eq(kme_uuid_parse("648487a0763e-4be8-9362-34b526b33c85-",
					36, id), -1);
	ck_assert_int_eq(kme_uuid_parse("648487a0-763e-4be8-9362-34b526b33c8",
					35, id), -1);
	ck_assert_int_eq(kme_uuid_parse("g48487a0-763e-4be8-9362-34b526b33c85",
					36, id), -1);
	ck_assert_int_eq(kme_uuid_parse("{48487a0-763e-4be8-9362-34b526b33c8}",
					36, id), -1);
}
END_TEST

START_TEST(base64_strict)
{
	uint8_t out[64];

	ck_assert_int_eq(kme_base64_decode(K32, strlen(K32), out, 64), 32);
	ck_assert_uint_eq(out[31], 31);
	ck_assert_int_eq(kme_base64_decode(K16, strlen(K16), out, 64), 16);
	ck_assert_int_eq(kme_base64_decode("", 0, out, 64), 0);
	ck_assert_int_eq(kme_base64_decode("QQ==", 4, out, 64), 1);
	ck_assert_int_eq(kme_base64_decode("QUI=", 4, out, 64), 2);
	/* non-canonical padding bits, bad padding, bad characters */
	ck_assert_int_eq(kme_base64_decode("QR==", 4, out, 64), -1);
	ck_assert_int_eq(kme_base64_decode("Q===", 4, out, 64), -1);
	ck_assert_int_eq(kme_base64_decode("QQ=A", 4, out, 64), -1);
	ck_assert_int_eq(kme_base64_decode("QQ==QQ==", 8, out, 64), -1);
	ck_assert_int_eq(kme_base64_decode("QUJD\n", 5, out, 64), -1);
	ck_assert_int_eq(kme_base64_decode("QU JD", 5, out, 64), -1);
	ck_assert_int_eq(kme_base64_decode("QU-_", 4, out, 64), -1);
	/* too long for the buffer */
	ck_assert_int_eq(kme_base64_decode(K32, strlen(K32), out, 31), -1);
}
END_TEST

START_TEST(keys_good)
{
	const char *body = "{\"keys\":[{\"key_ID\":\"" U1 "\",\"key\":\"" K32
			   "\"},{\"key\":\"" K32 "\",\"key_ID\":\"" U2
			   "\",\"key_ID_extension\":{}}]}\n";

	ck_assert_msg(parse(body, 2, 32, 0) == 0, "%s", err);
	ck_assert_uint_eq(keys[0].len, 32);
	ck_assert_uint_eq(keys[0].id[0], 0x64);
	ck_assert_uint_eq(keys[1].id[0], 0xcc);
	ck_assert_uint_eq(keys[1].material[31], 31);
	ck_assert_str_eq(names[0].s, U1);
	ck_assert_str_eq(names[1].s, U2);
}
END_TEST

/*
 * json-c keeps copies of what it parses (the string objects, the
 * tokener's buffer) and frees them with free(), no allocator hook of its
 * own: kme_parse_keys() wipes them in place first.  ASan's free hook
 * (declared here: not in the installed headers) looks at every block as
 * it is freed, during the parse, for the key's base64 text or its
 * decoded bytes.  Under check's fork mode the hook dies with the test.
 */
#ifdef __SANITIZE_ADDRESS__
int __sanitizer_install_malloc_and_free_hooks(
	void (*malloc_hook)(const volatile void *, size_t),
	void (*free_hook)(const volatile void *));
size_t __sanitizer_get_allocated_size(const volatile void *p);

/* 32 bytes of key material with no run of zeros: easy to tell apart. */
#define KX "z8dBqE0Yh3T/7wS1LkR5nJmV2pC6aUoG4eXiWfNtHbA="
static uint8_t kx[32];
static volatile bool watching;
static volatile unsigned int seen_b64, seen_raw, frees;

static void on_malloc(const volatile void *p, size_t n)
{
	(void)p;
	(void)n;
}

static void on_free(const volatile void *p)
{
	const char *b = (const char *)p;
	size_t n;

	if (!watching || !p)
		return;
	frees++;
	n = __sanitizer_get_allocated_size(p);
	if (memmem(b, n, KX, 16))
		seen_b64++;
	if (memmem(b, n, kx, 16))
		seen_raw++;
}

START_TEST(keys_library_copies_wiped)
{
	const char *body = "{\"keys\":[{\"key_ID\":\"" U1 "\",\"key\":\"" KX
			   "\"}]}";

	ck_assert_int_eq(kme_base64_decode(KX, strlen(KX), kx, sizeof(kx)), 32);
	ck_assert(__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free));
	watching = true;
	ck_assert_msg(parse(body, 1, 32, 0) == 0, "%s", err);
	watching = false;
	ck_assert_mem_eq(keys[0].material, kx, 32);	/* parsed, not lost */
	ck_assert_uint_gt(frees, 0);			/* the hook ran */
	ck_assert_msg(!seen_b64, "%u freed blocks held the key in base64",
		      seen_b64);
	ck_assert_msg(!seen_raw, "%u freed blocks held the key's bytes",
		      seen_raw);
	/* A refused answer (a wrong count) leaves nothing either. */
	watching = true;
	ck_assert_int_eq(parse(body, 2, 32, 0), -1);
	watching = false;
	ck_assert(!seen_b64 && !seen_raw);
	assert_wiped(2);
}
END_TEST
#else
START_TEST(keys_library_copies_wiped)
{
	ck_abort_msg("built without AddressSanitizer: its free hook is the probe");
}
END_TEST
#endif

/* Upper-case UUIDs and IDs that are not UUIDs: kept exactly as issued. */
START_TEST(keys_foreign_ids)
{
	const char *body = "{\"keys\":[{\"key_ID\":\"648487A0-763E-4BE8-9362-34B526B33C85\","
			   "\"key\":\"" K16 "\"},{\"key_ID\":\"" NU "\",\"key\":\"" K16
			   "\"}]}";
	uint8_t u1[16];

	ck_assert_msg(parse(body, 2, 16, 0) == 0, "%s", err);
	ck_assert_str_eq(names[0].s, "648487A0-763E-4BE8-9362-34B526B33C85");
	ck_assert_str_eq(names[1].s, NU);
	ck_assert_uint_eq(names[1].len, strlen(NU));
	/* the kernel ID of a UUID is its bytes, whatever the case */
	kme_uuid_parse(U1, 36, u1);
	ck_assert_mem_eq(keys[0].id, u1, 16);
	/* of anything else, the documented hash (fixed: both sides use it) */
	ck_assert_mem_eq(keys[1].id, nu_id, 16);
	/* dec_keys: asked in upper case, answered in lower case: the same key */
	set_want(NU, "648487A0-763E-4BE8-9362-34B526B33C85");
	body = "{\"keys\":[{\"key_ID\":\"" U1 "\",\"key\":\"" K16 "\"},"
	       "{\"key_ID\":\"" NU "\",\"key\":\"" K16 "\"}]}";
	ck_assert_msg(parse(body, 2, 16, 1) == 0, "%s", err);
	ck_assert_mem_eq(keys[0].id, nu_id, 16);
	ck_assert_mem_eq(keys[1].id, u1, 16);
	/* but a non-UUID ID is matched exactly */
	set_want("KID/0001+X=", U2);
	ck_assert_int_eq(parse(body, 2, 16, 1), -1);
	ck_assert_ptr_nonnull(strstr(err, "was not asked for"));
	assert_wiped(2);
}
END_TEST

START_TEST(keyid_rules)
{
	struct keyid k, k2;
	char s[KEYID_MAX + 2];
	uint8_t id[16], id2[16];

	memset(s, 'a', sizeof(s));
	ck_assert_int_eq(keyid_set(&k, s, KEYID_MAX), 0);
	ck_assert_uint_eq(k.len, KEYID_MAX);
	ck_assert_uint_eq(strlen(k.s), KEYID_MAX);
	ck_assert_int_eq(keyid_set(&k, s, KEYID_MAX + 1), -1);
	ck_assert_int_eq(keyid_set(&k, s, 0), -1);
	ck_assert_int_eq(keyid_set(&k, "a b", 3), -1);
	ck_assert_int_eq(keyid_set(&k, "a\x7f", 2), -1);
	ck_assert_int_eq(keyid_set(&k, "a\0b", 3), -1);
	ck_assert_int_eq(keyid_set(&k, "\"\\{}", 4), 0);
	/* UUIDs: case-insensitive bytes; the bytes' UUID maps back */
	keyid_set(&k, "648487A0-763E-4BE8-9362-34B526B33C85", 36);
	keyid_to_bytes(&k, id);
	keyid_from_bytes(&k2, id);
	ck_assert_str_eq(k2.s, U1);
	keyid_to_bytes(&k2, id2);
	ck_assert_mem_eq(id, id2, 16);
	ck_assert(!keyid_eq(&k, &k2));
	/* anything else: deterministic, case-sensitive */
	keyid_set(&k, NU, strlen(NU));
	keyid_to_bytes(&k, id);
	ck_assert_mem_eq(id, nu_id, 16);
	keyid_set(&k2, "KID/0001+X=", strlen(NU));
	keyid_to_bytes(&k2, id2);
	ck_assert_mem_ne(id, id2, 16);
}
END_TEST

START_TEST(keys_dec_order)
{
	const char *body = "{\"keys\":[{\"key_ID\":\"" U2 "\",\"key\":\"" K16
			   "\"},{\"key_ID\":\"" U1 "\",\"key\":\"" K16 "\"}]}";
	uint8_t ids[2][16];

	kme_uuid_parse(U1, 36, ids[0]);
	kme_uuid_parse(U2, 36, ids[1]);
	set_want(U1, U2);
	ck_assert_msg(parse(body, 2, 16, 1) == 0, "%s", err);
	/* stored in the order asked for */
	ck_assert_mem_eq(keys[0].id, ids[0], 16);
	ck_assert_mem_eq(keys[1].id, ids[1], 16);
}
END_TEST

struct bad_keys {
	const char *body;
	size_t n, bytes;
	int dec;	/* ask for U1, U2 by ID */
	const char *word;
};

static const struct bad_keys bad[] = {
	{ "{\"keys\":[{\"key_ID\":\"" U1 "\",\"key\":\"" K32 "\"", 1, 32, 0,
	  "not valid JSON" },
	{ "", 1, 32, 0, "not valid JSON" },
	{ "[]", 1, 32, 0, "not a JSON object" },
	{ "{\"keys\":[]} x", 1, 32, 0, "JSON" },
	{ "{\"keys\":{}}", 1, 32, 0, "no 'keys' array" },
	{ "{\"kees\":[]}", 1, 32, 0, "no 'keys' array" },
	{ "{\"keys\":[]}", 1, 32, 0, "0 keys, 1 were asked for" },
	{ "{\"keys\":[{\"key_ID\":\"" U1 "\",\"key\":\"" K32 "\"}]}", 2, 32, 0,
	  "1 keys, 2 were asked for" },
	{ "{\"keys\":[{\"key_ID\":\"" U1 "\",\"key\":\"" K16 "\"}]}", 1, 32, 0,
	  "128 bits, 256 were asked for" },
	{ "{\"keys\":[{\"key_ID\":\"" U1 "\",\"key\":\"" K32 "\"},"
	  "{\"key_ID\":\"" U1 "\",\"key\":\"" K32 "\"}]}", 2, 32, 0,
	  "duplicate key_ID" },
	{ "{\"keys\":[{\"key_ID\":\"" U1 "\",\"key\":\"" K32 "\"},"
	  "{\"key_ID\":\"" U1 "\",\"key\":\"" K32 "\"}]}", 2, 32, 1,
	  "duplicate key_ID" },
	{ "{\"keys\":[{\"key_ID\":\"not a uuid\",\"key\":\"" K32 "\"}]}", 1,
	  32, 0, "printable characters without spaces" },
	{ "{\"keys\":[{\"key_ID\":\"\",\"key\":\"" K32 "\"}]}", 1,
	  32, 0, "printable characters without spaces" },
	{ "{\"keys\":[{\"key_ID\":\"a\\u00e9\",\"key\":\"" K32 "\"}]}", 1,
	  32, 0, "printable characters without spaces" },
	{ "{\"keys\":[{\"key_ID\":\"" "0123456789012345678901234567890123456789"
	  "01234567890123456789012345\",\"key\":\"" K32 "\"}]}", 1,
	  32, 0, "printable characters without spaces" },
	/* two spellings of one UUID: one kernel ID */
	{ "{\"keys\":[{\"key_ID\":\"" U1 "\",\"key\":\"" K32 "\"},"
	  "{\"key_ID\":\"648487A0-763E-4BE8-9362-34B526B33C85\",\"key\":\"" K32
	  "\"}]}", 2, 32, 0, "duplicate key_ID" },
	{ "{\"keys\":[{\"key_ID\":\"" U1 "\",\"key\":\"!!!!\"}]}", 1, 32, 0,
	  "not base64" },
	{ "{\"keys\":[{\"key_ID\":\"" U1 "\",\"key\":32}]}", 1, 32, 0,
	  "not {\"key_ID\"" },
	{ "{\"keys\":[{\"key_ID\":\"" U1 "\"}]}", 1, 32, 0, "not {\"key_ID\"" },
	{ "{\"keys\":[\"" K32 "\"]}", 1, 32, 0, "not {\"key_ID\"" },
	{ "{\"keys\":[{\"key_ID\":\"" U2 "\",\"key\":\"" K32 "\"},"
	  "{\"key_ID\":\"cca11f8f-63a3-4996-b1d1-000000000000\",\"key\":\"" K32
	  "\"}]}", 2, 32, 1, "was not asked for" },
	{ "{\"keys\":[{\"key_ID\":\"" U1 "\",\"key\":\"" K32 "\"}]}", 0, 32, 0,
	  "bad request size" },
	{ "{\"keys\":[{\"key_ID\":\"" U1 "\",\"key\":\"" K32 "\"}]}", 1, 65, 0,
	  "bad request size" },
};

START_TEST(keys_bad)
{
	const struct bad_keys *b = &bad[_i];

	set_want(U1, U2);
	ck_assert_int_eq(parse(b->body, b->n, b->bytes, b->dec), -1);
	ck_assert_msg(strstr(err, b->word), "case %d: '%s' lacks '%s'", _i, err,
		      b->word);
	if (b->n && b->bytes <= QKD_KEY_SIZE_MAX)
		assert_wiped(b->n);
}
END_TEST

START_TEST(status_good_and_bad)
{
	struct kme_status st;
	const char *good = "{\"source_KME_ID\":\"KME_A\",\"key_size\":256,"
		"\"stored_key_count\":41,\"max_key_count\":10000,"
		"\"max_key_per_request\":128,\"max_key_size\":1024,"
		"\"min_key_size\":64,\"max_SAE_ID_count\":0}";

	ck_assert_int_eq(kme_parse_status(good, strlen(good), &st, err,
					  sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	ck_assert_uint_eq(st.have, KME_ST_ALL);
	ck_assert_uint_eq(st.key_size, 256);
	ck_assert_uint_eq(st.stored_key_count, 41);
	ck_assert_uint_eq(st.max_key_per_request, 128);
	ck_assert_uint_eq(st.min_key_size, 64);
	ck_assert_uint_eq(st.max_key_size, 1024);
	/* not an object: the only refusal */
	ck_assert_int_eq(kme_parse_status("[1]", 3, &st, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a JSON object"));
	ck_assert_int_eq(kme_parse_status("<html>", 6, &st, err, sizeof(err)),
			 -1);
	ck_assert_ptr_nonnull(strstr(err, "not valid JSON"));
}
END_TEST

/* What foreign KMEs send: each usable field is used, the rest noted. */
START_TEST(status_foreign)
{
	struct kme_status st;
	const char *strs = "{\"key_size\":\"256\",\"stored_key_count\":\"0\","
		"\"max_key_count\":\"1000\",\"max_key_per_request\":\"4\","
		"\"max_key_size\":\"512\",\"min_key_size\":\"8\"}";
	const char *junk = "{\"key_size\":-1,\"stored_key_count\":\"2x\","
		"\"max_key_count\":1.5,\"max_key_per_request\":0,"
		"\"max_key_size\":\"12345678901\",\"min_key_size\":null}";
	const char *minmax = "{\"key_size\":0,\"max_key_size\":64,"
		"\"min_key_size\":128,\"max_key_per_request\":2}";

	ck_assert_int_eq(kme_parse_status("{}", 2, &st, err, sizeof(err)), 0);
	ck_assert_uint_eq(st.have, 0);
	ck_assert_ptr_nonnull(strstr(err, "'key_size' missing"));
	ck_assert_ptr_nonnull(strstr(err, "'min_key_size' missing"));
	/* numbers as strings are read as numbers */
	ck_assert_int_eq(kme_parse_status(strs, strlen(strs), &st, err,
					  sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	ck_assert_uint_eq(st.have, KME_ST_ALL);
	ck_assert_uint_eq(st.key_size, 256);
	ck_assert_uint_eq(st.max_key_per_request, 4);
	ck_assert_uint_eq(st.min_key_size, 8);
	ck_assert_uint_eq(st.max_key_count, 1000);
	/* each unusable field is dropped and named */
	ck_assert_int_eq(kme_parse_status(junk, strlen(junk), &st, err,
					  sizeof(err)), 0);
	ck_assert_uint_eq(st.have, 0);
	ck_assert_uint_eq(st.key_size, 0);
	ck_assert_uint_eq(st.max_key_per_request, 0);
	ck_assert_ptr_nonnull(strstr(err, "'key_size' out of range"));
	ck_assert_ptr_nonnull(strstr(err, "'stored_key_count' is not a number"));
	ck_assert_ptr_nonnull(strstr(err, "'max_key_count' is not a number"));
	ck_assert_ptr_nonnull(strstr(err, "'max_key_per_request' is 0"));
	ck_assert_ptr_nonnull(strstr(err, "'max_key_size' is not a number"));
	ck_assert_ptr_nonnull(strstr(err, "'min_key_size' is not a number"));
	/* contradictions: both sizes dropped, the rest kept */
	ck_assert_int_eq(kme_parse_status(minmax, strlen(minmax), &st, err,
					  sizeof(err)), 0);
	ck_assert_uint_eq(st.have, KME_ST_MAX_PER_REQUEST);
	ck_assert_uint_eq(st.max_key_per_request, 2);
	ck_assert_ptr_nonnull(strstr(err, "'key_size' is 0"));
	ck_assert_ptr_nonnull(strstr(err, "above max_key_size"));
	/* a short note buffer is cut, never overrun */
	ck_assert_int_eq(kme_parse_status("{}", 2, &st, err, 10), 0);
	ck_assert_uint_lt(strlen(err), 10);
}
END_TEST

START_TEST(error_message)
{
	char msg[64];
	const char *e = "{\"message\":\"QKD link down\",\"details\":[]}";

	kme_parse_error(e, strlen(e), msg, sizeof(msg));
	ck_assert_str_eq(msg, "QKD link down");
	e = "{\"message\":\"a\\nb\"}";
	kme_parse_error(e, strlen(e), msg, sizeof(msg));
	ck_assert_str_eq(msg, "a?b");
	kme_parse_error("<html>", 6, msg, sizeof(msg));
	ck_assert_str_eq(msg, "(no ETSI error message)");
	/* a 500 with no body at all (an unknown key ID, say) */
	kme_parse_error("", 0, msg, sizeof(msg));
	ck_assert_str_eq(msg, "(empty body)");
}
END_TEST

START_TEST(requests)
{
	char buf[256];

	ck_assert_int_eq(kme_enc_request(buf, sizeof(buf), 5, 256), 23);
	ck_assert_str_eq(buf, "{\"number\":5,\"size\":256}");
	set_want(U1, U2);
	ck_assert_int_gt(kme_dec_request(buf, sizeof(buf), want, 2), 0);
	ck_assert_str_eq(buf, "{\"key_IDs\":[{\"key_ID\":\"" U1 "\"},"
			 "{\"key_ID\":\"" U2 "\"}]}");
	ck_assert_int_eq(kme_dec_request(buf, 40, want, 2), -1);
	/* exactly as issued, JSON-escaped */
	set_want("648487A0-763E-4BE8-9362-34B526B33C85", "a\"b\\c");
	ck_assert_int_gt(kme_dec_request(buf, sizeof(buf), want, 2), 0);
	ck_assert_str_eq(buf, "{\"key_IDs\":[{\"key_ID\":\"648487A0-763E-4BE8-9362-34B526B33C85\"},"
			 "{\"key_ID\":\"a\\\"b\\\\c\"}]}");
	ck_assert_int_le(strlen(buf), KME_DEC_REQUEST_MAX(2));
}
END_TEST

Suite *kme_json_suite(void)
{
	Suite *s = suite_create("kme_json");
	TCase *tc = tcase_create("etsi014");

	tcase_add_test(tc, uuid_roundtrip);
	tcase_add_test(tc, base64_strict);
	tcase_add_test(tc, keys_good);
	tcase_add_test(tc, keys_library_copies_wiped);
	tcase_add_test(tc, keys_dec_order);
	tcase_add_test(tc, keys_foreign_ids);
	tcase_add_test(tc, keyid_rules);
	tcase_add_loop_test(tc, keys_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, status_good_and_bad);
	tcase_add_test(tc, status_foreign);
	tcase_add_test(tc, error_message);
	tcase_add_test(tc, requests);
	suite_add_tcase(s, tc);
	return s;
}
