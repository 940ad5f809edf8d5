// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-linkd's configuration parser: a good file parses with its defaults;
 * each bad file is refused with the right line number and a message that
 * says what is wrong (a table of cases).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests.h"
#include "../linkd/config.h"

#define GLOBAL \
	"[linkd]\n" \
	"listen = 10.0.0.1:7600\n" \
	"server_cert = /etc/qkd/linkd.crt\n" \
	"server_key = /etc/qkd/linkd.key\n" \
	"peer_ca = /etc/qkd/ca.crt\n"
#define POOL \
	"[pool tokyo-osaka]\n" \
	"kme_url = https://10.0.0.10:8443/\n" \
	"sae_id = SAE_A\n" \
	"peer_sae_id = SAE_B\n" \
	"cert = /etc/qkd/SAE_A.crt\n" \
	"key = /etc/qkd/SAE_A.key\n" \
	"ca = /etc/qkd/kme-ca.crt\n" \
	"peer = 10.0.0.2:7600\n"

static struct config *cfg;

static void setup(void)
{
	cfg = malloc(sizeof(*cfg));
	ck_assert_ptr_nonnull(cfg);
}

static void teardown(void)
{
	free(cfg);
}

static int parse(const char *text, char *err)
{
	return config_parse("linkd.conf", text, strlen(text), cfg, err,
			    CFG_ERR_LEN);
}

START_TEST(config_good)
{
	char err[CFG_ERR_LEN] = "";
	const char *text = "# a comment\n\n" GLOBAL "state_dir = /var/lib/x\n"
		POOL "low_watermark = 10\nhigh_watermark = 20\n"
		"[pool two]\nsource = stream\nstream = /dev/qkd0\n"
		"stream_role = b\nsae_id = A2\npeer_sae_id = B2\n"
		"cert = /c\nkey = /k\npeer = [fd00::2]:7601\nkey_size = 128\n";

	ck_assert_msg(parse(text, err) == 0, "%s", err);
	ck_assert_uint_eq(cfg->npools, 2);
	ck_assert_str_eq(cfg->listen_host, "10.0.0.1");
	ck_assert_str_eq(cfg->listen_port, "7600");
	ck_assert_str_eq(cfg->state_dir, "/var/lib/x");
	ck_assert_str_eq(cfg->status_file, "/run/qkd-linkd/status.json");
	ck_assert_str_eq(cfg->pools[0].name, "tokyo-osaka");
	ck_assert_str_eq(cfg->pools[0].kme_url, "https://10.0.0.10:8443");
	ck_assert_int_eq(cfg->pools[0].source, SOURCE_ETSI014);
	ck_assert_uint_eq(cfg->pools[0].key_bits, 256);
	ck_assert_uint_eq(cfg->pools[0].low, 10);
	ck_assert_uint_eq(cfg->pools[0].high, 20);
	ck_assert_uint_eq(cfg->pools[0].batch, 128);
	ck_assert_uint_eq(cfg->pools[0].kme_timeout, 10);
	ck_assert_int_eq(cfg->pools[1].source, SOURCE_STREAM);
	ck_assert_int_eq(cfg->pools[1].stream_role, 1);
	ck_assert_str_eq(cfg->pools[1].peer_host, "fd00::2");
	ck_assert_str_eq(cfg->pools[1].peer_port, "7601");
	ck_assert_uint_eq(cfg->pools[1].key_bits, 128);
	ck_assert_uint_eq(cfg->pools[0].fast_retry, 60);
	ck_assert_int_eq(cfg->pools[0].dec_method, DEC_AUTO);
	ck_assert_uint_eq(cfg->pools[0].offer_window, 4);
	ck_assert_uint_eq(cfg->max_conns, 64);
	ck_assert_uint_eq(cfg->max_conns_per_source, 4);
	ck_assert_uint_eq(cfg->handshake_timeout, 5);
}
END_TEST

/* The listener's limits and the fast probes: set, and refused when out of range. */
START_TEST(config_limits)
{
	char err[CFG_ERR_LEN] = "";

	ck_assert_msg(parse(GLOBAL "max_connections = 16\n"
			    "max_connections_per_source = 2\n"
			    "handshake_timeout = 3\n" POOL "fast_retry = 0\n",
			    err) == 0, "%s", err);
	ck_assert_uint_eq(cfg->max_conns, 16);
	ck_assert_uint_eq(cfg->max_conns_per_source, 2);
	ck_assert_uint_eq(cfg->handshake_timeout, 3);
	ck_assert_uint_eq(cfg->pools[0].fast_retry, 0);
	ck_assert_int_eq(parse(GLOBAL "max_connections = 0\n" POOL, err), -1);
	ck_assert_str_eq(err, "linkd.conf:6: max_connections: 0 is out of range (1 to 1024)");
	ck_assert_int_eq(parse(GLOBAL "handshake_timeout = 61\n" POOL, err), -1);
	ck_assert_str_eq(err, "linkd.conf:6: handshake_timeout: 61 is out of range (1 to 60)");
	ck_assert_int_eq(parse(GLOBAL POOL "fast_retry = 3601\n", err), -1);
	ck_assert_str_eq(err, "linkd.conf:14: fast_retry: 3601 is out of range (0 to 3600)");
	/* The window of offers in flight: 1 to 16. */
	ck_assert_msg(parse(GLOBAL POOL "offer_window = 1\n", err) == 0, "%s", err);
	ck_assert_uint_eq(cfg->pools[0].offer_window, 1);
	ck_assert_msg(parse(GLOBAL POOL "offer_window = 16\n", err) == 0, "%s", err);
	ck_assert_uint_eq(cfg->pools[0].offer_window, 16);
	ck_assert_int_eq(parse(GLOBAL POOL "offer_window = 0\n", err), -1);
	ck_assert_str_eq(err, "linkd.conf:14: offer_window: 0 is out of range (1 to 16)");
	ck_assert_int_eq(parse(GLOBAL POOL "offer_window = 17\n", err), -1);
	ck_assert_str_eq(err, "linkd.conf:14: offer_window: 17 is out of range (1 to 16)");
}
END_TEST

/* dec_keys_method: each value; etsi014 only. */
START_TEST(config_dec_method)
{
	static const char *const v[] = { "auto", "post", "get" };
	static const enum dec_method m[] = { DEC_AUTO, DEC_POST, DEC_GET };
	char err[CFG_ERR_LEN] = "", text[1024];

	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), GLOBAL POOL "dec_keys_method = %s\n",
			 v[i]);
		ck_assert_msg(parse(text, err) == 0, "%s", err);
		ck_assert_int_eq(cfg->pools[0].dec_method, m[i]);
	}
	ck_assert_int_eq(parse(GLOBAL POOL "dec_keys_method = put\n", err), -1);
	ck_assert_str_eq(err, "linkd.conf:14: dec_keys_method: 'put' is not auto, post or get");
}
END_TEST

START_TEST(config_crlf_and_blanks)
{
	char err[CFG_ERR_LEN] = "";
	const char *text = "[linkd]\r\n  listen=127.0.0.1:1  \r\n"
		"server_cert=/a\r\nserver_key=/b\r\npeer_ca=/c\r\n"
		"; semicolon comment\r\n"
		"[ pool p ]\r\nkme_url=https://k\r\nsae_id=a\r\npeer_sae_id=b\r\n"
		"cert=/c\r\nkey=/k\r\nca=/ca\r\npeer=h:2\r\n";

	ck_assert_msg(parse(text, err) == 0, "%s", err);
	ck_assert_str_eq(cfg->pools[0].name, "p");
	ck_assert_str_eq(cfg->pools[0].peer_host, "h");
}
END_TEST

struct bad_case {
	const char *text;
	const char *want;	/* "linkd.conf:LINE: ..." prefix and a word */
	const char *word;
};

static const struct bad_case bad[] = {
	{ GLOBAL POOL "bogus = 1\n", "linkd.conf:14:", "unknown key 'bogus'" },
	{ GLOBAL POOL "capacity = 10\ncapacity = 20\n", "linkd.conf:15:",
	  "given twice (first on line 14)" },
	{ GLOBAL POOL "capacity = ten\n", "linkd.conf:14:", "not a number" },
	{ GLOBAL POOL "capacity = -1\n", "linkd.conf:14:", "not a number" },
	{ GLOBAL POOL "capacity = 0\n", "linkd.conf:14:", "out of range" },
	{ GLOBAL POOL "key_size = 260\n", "linkd.conf:14:",
	  "not a multiple of 8" },
	{ GLOBAL POOL "key_size = 1024\n", "linkd.conf:14:", "out of range" },
	{ GLOBAL POOL "low_watermark = 30\nhigh_watermark = 20\n",
	  "linkd.conf:14:", "must be below" },
	{ GLOBAL POOL "capacity = 100\nhigh_watermark = 200\nlow_watermark = 1\n",
	  "linkd.conf:15:", "above capacity" },
	{ GLOBAL "[pool p]\npeer = nohost\n", "linkd.conf:7:", "HOST:PORT" },
	{ GLOBAL "[pool p]\npeer = h:70000\n", "linkd.conf:7:", "HOST:PORT" },
	{ GLOBAL "[pool p]\npeer = h:\n", "linkd.conf:7:", "HOST:PORT" },
	{ GLOBAL "[pool p]\npeer = fd00::1:7\n", "linkd.conf:7:", "HOST:PORT" },
	{ GLOBAL POOL "stream = /x\n", "linkd.conf:14:",
	  "stream settings with source etsi014" },
	{ GLOBAL POOL "source = quantum\n", "linkd.conf:14:",
	  "neither etsi014 nor stream" },
	{ GLOBAL "[pool p]\nsae_id = a\n", "linkd.conf:6:", "missing" },
	{ GLOBAL "[pool p]\nsae_id = a b\n", "linkd.conf:7:", "not an SAE ID" },
	{ GLOBAL "[pool bad/name]\n", "linkd.conf:6:", "pool name" },
	{ GLOBAL POOL "[pool tokyo-osaka]\n", "linkd.conf:14:",
	  "already defined on line 6" },
	{ GLOBAL "[linkd]\n", "linkd.conf:6:", "second [linkd]" },
	{ GLOBAL "[router]\n", "linkd.conf:6:", "unknown section" },
	{ GLOBAL "[pool x\n", "linkd.conf:6:", "bad section header" },
	{ GLOBAL "just words\n", "linkd.conf:6:", "expected 'key = value'" },
	{ "listen = h:1\n", "linkd.conf:1:", "outside of any section" },
	{ GLOBAL, "linkd.conf:5:", "no [pool NAME] section" },
	{ POOL, "linkd.conf:8:", "no [linkd] section" },
	{ "[linkd]\nlisten = h:1\n" POOL, "linkd.conf:1:",
	  "missing 'server_cert'" },
	{ GLOBAL POOL "kme_url = http://plain\n", "linkd.conf:14:", "given twice" },
	{ GLOBAL "[pool p]\nkme_url = http://plain\n", "linkd.conf:7:",
	  "not an https:// URL" },
	{ GLOBAL "[pool p]\ncert = relative/path\n", "linkd.conf:7:",
	  "not an absolute path" },
	{ GLOBAL POOL "capacity =\n", "linkd.conf:14:", "has no value" },
	{ GLOBAL "[pool p]\nsae_id = A\npeer_sae_id = A\ncert = /c\nkey = /k\n"
	  "kme_url = https://k\nca = /ca\npeer = h:1\n", "linkd.conf:8:",
	  "peer_sae_id equals sae_id" },
	{ GLOBAL POOL "[pool other]\nkme_url = https://k\nsae_id = SAE_A\n"
	  "peer_sae_id = SAE_B\ncert = /c\nkey = /k\nca = /ca\npeer = h:1\n",
	  "linkd.conf:14:", "same SAE IDs as pool tokyo-osaka" },
	{ GLOBAL "[pool s]\nsource = stream\nsae_id = A\npeer_sae_id = B\n"
	  "cert = /c\nkey = /k\npeer = h:1\n", "linkd.conf:6:",
	  "needs 'stream' and 'stream_role'" },
	{ GLOBAL "[pool s]\nsource = stream\nstream = /s\nstream_role = c\n",
	  "linkd.conf:9:", "neither a nor b" },
	{ GLOBAL "[pool s]\nsource = stream\nstream = /s\nstream_role = a\n"
	  "sae_id = A\npeer_sae_id = B\ncert = /c\nkey = /k\npeer = h:1\n"
	  "dec_keys_method = get\n", "linkd.conf:15:",
	  "'dec_keys_method' is for source etsi014 only" },
};

START_TEST(config_bad)
{
	const struct bad_case *b = &bad[_i];
	char err[CFG_ERR_LEN] = "";

	ck_assert_int_eq(parse(b->text, err), -1);
	ck_assert_msg(!strncmp(err, b->want, strlen(b->want)),
		      "case %d: got '%s', want prefix '%s'", _i, err, b->want);
	ck_assert_msg(strstr(err, b->word), "case %d: '%s' lacks '%s'", _i,
		      err, b->word);
}
END_TEST

START_TEST(config_long_line_and_nul)
{
	char err[CFG_ERR_LEN] = "";
	char text[4096];

	memset(text, 'x', sizeof(text));
	text[sizeof(text) - 1] = '\0';
	ck_assert_int_eq(parse(text, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "line too long"));
	ck_assert_int_eq(config_parse("f", "[linkd]\n\0x\n", 10, cfg, err,
				      sizeof(err)), -1);
	ck_assert_str_eq(err, "f:2: NUL byte in line");
}
END_TEST

START_TEST(config_missing_file)
{
	char err[CFG_ERR_LEN] = "";

	ck_assert_int_eq(config_load("/nonexistent/linkd.conf", cfg, err,
				     sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/linkd.conf"));
}
END_TEST

Suite *linkd_config_suite(void)
{
	Suite *s = suite_create("linkd_config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, config_good);
	tcase_add_test(tc, config_dec_method);
	tcase_add_test(tc, config_crlf_and_blanks);
	tcase_add_test(tc, config_limits);
	tcase_add_loop_test(tc, config_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, config_long_line_and_nul);
	tcase_add_test(tc, config_missing_file);
	suite_add_tcase(s, tc);
	return s;
}
