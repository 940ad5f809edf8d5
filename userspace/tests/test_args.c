// SPDX-License-Identifier: GPL-2.0
/* qkdctl's argument and key file parsers. */
#include <string.h>
#include "tests.h"
#include "qkdctl.h"

START_TEST(numbers)
{
	uint32_t v;
	uint64_t w;

	ck_assert_int_eq(parse_u32("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(parse_u32("4294967295", &v), 0);
	ck_assert_uint_eq(v, UINT32_MAX);
	ck_assert_int_eq(parse_u32("4294967296", &v), -1);
	ck_assert_int_eq(parse_u32("-1", &v), -1);
	ck_assert_int_eq(parse_u32("+1", &v), -1);
	ck_assert_int_eq(parse_u32("", &v), -1);
	ck_assert_int_eq(parse_u32("12a", &v), -1);
	ck_assert_int_eq(parse_u32(" 1", &v), -1);
	ck_assert_int_eq(parse_u64("18446744073709551615", &w), 0);
	ck_assert_uint_eq(w, UINT64_MAX);
	ck_assert_int_eq(parse_u64("18446744073709551616", &w), -1);
}
END_TEST

START_TEST(seconds)
{
	uint32_t v;

	ck_assert_int_eq(parse_seconds("90", &v), 0);
	ck_assert_uint_eq(v, 90);
	ck_assert_int_eq(parse_seconds("90s", &v), 0);
	ck_assert_uint_eq(v, 90);
	ck_assert_int_eq(parse_seconds("15m", &v), 0);
	ck_assert_uint_eq(v, 900);
	ck_assert_int_eq(parse_seconds("2h", &v), 0);
	ck_assert_uint_eq(v, 7200);
	ck_assert_int_eq(parse_seconds("1d", &v), 0);
	ck_assert_uint_eq(v, 86400);
	ck_assert_int_eq(parse_seconds("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(parse_seconds("d", &v), -1);
	ck_assert_int_eq(parse_seconds("", &v), -1);
	ck_assert_int_eq(parse_seconds("1w", &v), -1);
	ck_assert_int_eq(parse_seconds("49711d", &v), -1);	/* > 2^32 s */
	ck_assert_int_eq(parse_seconds("4294967295", &v), 0);
}
END_TEST

START_TEST(directions)
{
	ck_assert_int_eq(parse_direction("out"), QKD_DIRECTION_OUT);
	ck_assert_int_eq(parse_direction("in"), QKD_DIRECTION_IN);
	ck_assert_int_eq(parse_direction("both"), -1);
	ck_assert_int_eq(parse_direction("OUT"), -1);
	ck_assert_int_eq(parse_direction(NULL), -1);
}
END_TEST

#define ARGV(...) ((char *[]){ __VA_ARGS__ })

START_TEST(pool_settings)
{
	struct qkd_pool_config cfg = { 0 };
	char err[160];

	ck_assert_int_eq(parse_pool_settings(10, ARGV("key-size", "16",
		"capacity", "100", "low", "10", "high", "90", "max-age", "1h"),
		&cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.fields, QKD_POOL_KEY_SIZE | QKD_POOL_CAPACITY |
			  QKD_POOL_LOW | QKD_POOL_HIGH | QKD_POOL_MAX_AGE);
	ck_assert_uint_eq(cfg.key_size, 16);
	ck_assert_uint_eq(cfg.capacity, 100);
	ck_assert_uint_eq(cfg.low_watermark, 10);
	ck_assert_uint_eq(cfg.high_watermark, 90);
	ck_assert_uint_eq(cfg.max_age, 3600);

	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(parse_pool_settings(4, ARGV("name", "osaka-2", "low",
		"5"), &cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.fields, QKD_POOL_RENAME | QKD_POOL_LOW);
	ck_assert_str_eq(cfg.name, "osaka-2");
	ck_assert_int_eq(parse_pool_settings(2, ARGV("name", ""), &cfg, err,
					     sizeof(err)), -1);

	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(parse_pool_settings(0, NULL, &cfg, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(cfg.fields, 0);
}
END_TEST

START_TEST(pool_settings_errors)
{
	struct qkd_pool_config cfg = { 0 };
	char err[160];

	ck_assert_int_eq(parse_pool_settings(2, ARGV("size", "16"), &cfg, err,
					     sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown setting 'size' (expected key-size, capacity, low, high or max-age)");
	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(parse_pool_settings(1, ARGV("low"), &cfg, err,
					     sizeof(err)), -1);
	ck_assert_str_eq(err, "'low' needs a value");
	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(parse_pool_settings(4, ARGV("low", "1", "low", "2"),
					     &cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'low' given twice");
	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(parse_pool_settings(2, ARGV("key-size", "65"), &cfg,
					     err, sizeof(err)), -1);
	ck_assert_str_eq(err, "key-size must be 16 to 64 bytes");
	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(parse_pool_settings(2, ARGV("capacity", "0"), &cfg,
					     err, sizeof(err)), -1);
	ck_assert_str_eq(err, "capacity must be 1 to 1048576 keys");
	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(parse_pool_settings(2, ARGV("high", "-5"), &cfg, err,
					     sizeof(err)), -1);
	ck_assert_str_eq(err, "'high' needs a non-negative integer, not '-5'");
	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(parse_pool_settings(2, ARGV("max-age", "soon"), &cfg,
					     err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'max-age' needs seconds (or a number with s, m, h or d), not 'soon'");
}
END_TEST

START_TEST(hex)
{
	uint8_t out[4];
	size_t n;

	ck_assert_int_eq(parse_hex("00ff10Ab", out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(out, "\x00\xff\x10\xab", 4);
	ck_assert_int_eq(parse_hex("00-ff", out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(parse_hex("0", out, sizeof(out), &n), -1);
	ck_assert_int_eq(parse_hex("0g", out, sizeof(out), &n), -1);
	ck_assert_int_eq(parse_hex("0011223344", out, sizeof(out), &n), -1);
	ck_assert_int_eq(parse_hex("", out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(key_lines)
{
	struct qkd_key k;
	char err[128];
	uint8_t want_id[16];

	for (int i = 0; i < 16; i++)
		want_id[i] = (uint8_t)(0x10 + i);
	ck_assert_int_eq(parse_key_line(
		"101112131415161718191a1b1c1d1e1f "
		"000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f\n",
		&k, err, sizeof(err)), 1);
	ck_assert_mem_eq(k.id, want_id, 16);
	ck_assert_uint_eq(k.len, 32);
	ck_assert_uint_eq(k.material[31], 0x0f);

	/* UUID form, tabs, and a trailing comment. */
	ck_assert_int_eq(parse_key_line(
		"\t10111213-1415-1617-1819-1a1b1c1d1e1f\t"
		"00000000000000000000000000000000  # a comment\r\n",
		&k, err, sizeof(err)), 1);
	ck_assert_mem_eq(k.id, want_id, 16);
	ck_assert_uint_eq(k.len, 16);

	ck_assert_int_eq(parse_key_line("\n", &k, err, sizeof(err)), 0);
	ck_assert_int_eq(parse_key_line("   # only a comment\n", &k, err,
					sizeof(err)), 0);
	ck_assert_int_eq(parse_key_line("", &k, err, sizeof(err)), 0);
}
END_TEST

START_TEST(key_lines_errors)
{
	static const uint8_t zero[sizeof(struct qkd_key)];
	struct qkd_key k;
	char err[128];

	ck_assert_int_eq(parse_key_line("1011 00000000000000000000000000000000",
					&k, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "key ID is not 16 bytes of hex");
	ck_assert_int_eq(parse_key_line("101112131415161718191a1b1c1d1e1f",
					&k, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "key material is not 16 to 64 bytes of hex");
	/* 15 bytes of material */
	ck_assert_int_eq(parse_key_line("101112131415161718191a1b1c1d1e1f "
					"000000000000000000000000000000",
					&k, err, sizeof(err)), -1);
	/* 65 bytes of material */
	{
		char line[200];

		memset(line, '0', sizeof(line));
		memcpy(line, "101112131415161718191a1b1c1d1e1f ", 33);
		line[33 + 130] = '\0';
		ck_assert_int_eq(parse_key_line(line, &k, err, sizeof(err)), -1);
		/* the half-parsed key is wiped */
		ck_assert_mem_eq(&k, zero, sizeof(k));
	}
	ck_assert_int_eq(parse_key_line("101112131415161718191a1b1c1d1e1f "
					"00000000000000000000000000000000 x",
					&k, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "more than two fields");
	/* The error never quotes the line (it may hold material). */
	ck_assert_int_eq(parse_key_line("101112131415161718191a1b1c1d1e1f "
					"zz000000000000000000000000000000",
					&k, err, sizeof(err)), -1);
	ck_assert_ptr_null(strstr(err, "zz"));
}
END_TEST

Suite *args_suite(void)
{
	Suite *s = suite_create("args");
	TCase *tc = tcase_create("args");

	tcase_add_test(tc, numbers);
	tcase_add_test(tc, seconds);
	tcase_add_test(tc, directions);
	tcase_add_test(tc, pool_settings);
	tcase_add_test(tc, pool_settings_errors);
	tcase_add_test(tc, hex);
	tcase_add_test(tc, key_lines);
	tcase_add_test(tc, key_lines_errors);
	suite_add_tcase(s, tc);
	return s;
}
