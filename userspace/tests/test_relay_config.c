// SPDX-License-Identifier: GPL-2.0
/*
 * The trusted-node sections of qkd-linkd.conf: [topology], [relay NAME]
 * and a link pool's relay settings parse into a topology that routes;
 * every inconsistency is refused with its line and a reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests.h"
#include "../linkd/config.h"

/* Lines 1-5. */
#define GLOBAL \
	"[linkd]\n" \
	"listen = 10.0.0.1:7600\n" \
	"server_cert = /etc/qkd/linkd.crt\n" \
	"server_key = /etc/qkd/linkd.key\n" \
	"peer_ca = /etc/qkd/ca.crt\n"
/* Lines 6-13: tokyo's link pool to nagoya, without relay settings. */
#define LINK_POOL \
	"[pool nagoya]\n" \
	"kme_url = https://10.0.0.10:8443\n" \
	"sae_id = SAE_TOKYO\n" \
	"peer_sae_id = SAE_NAGOYA\n" \
	"cert = /c\n" \
	"key = /k\n" \
	"ca = /ca\n" \
	"peer = 10.0.0.2:7600\n"
/* Line 14. */
#define RELAY_NODE "relay_node = nagoya\n"
/* Lines 15-21 (after RELAY_NODE). */
#define TOPO \
	"[topology]\n" \
	"self = tokyo\n" \
	"node = tokyo nagoya\n" \
	"node = osaka\tkobe\n" \
	"link = tokyo nagoya 10M\n" \
	"link = nagoya osaka 10k\n" \
	"link = osaka kobe 1.5M\n"
/* Lines 22-23. */
#define RELAY "[relay kobe]\npeer = kobe\n"
#define CHAIN GLOBAL LINK_POOL RELAY_NODE TOPO RELAY
/* Lines 15-17 (after RELAY_NODE): relaying may take 10 keys at once. */
#define SMALL_LINK "relay_share = 50\nlow_watermark = 100\n" \
	"high_watermark = 110\n"

static struct config *cfg;
static char err[CFG_ERR_LEN];

static void setup(void)
{
	cfg = malloc(sizeof(*cfg));
	ck_assert_ptr_nonnull(cfg);
}

static void teardown(void)
{
	free(cfg);
}

static int parse(const char *text)
{
	err[0] = '\0';
	return config_parse("linkd.conf", text, strlen(text), cfg, err,
			    sizeof(err));
}

START_TEST(chain_at_tokyo)
{
	const struct relay_cfg *rc = &cfg->relay;
	const struct relay_pool_cfg *rp = &rc->pools[0];
	struct route_path p;
	char s[256];

	ck_assert_msg(!parse(CHAIN "path = tokyo  nagoya osaka kobe\n"
			     "batch_size = 32\nkey_size = 128\n"), "%s", err);
	ck_assert_int_eq(rc->line, 15);
	ck_assert_str_eq(rc->self, "tokyo");
	ck_assert_int_eq(rc->self_node, 0);
	ck_assert_uint_eq(rc->topo.nnodes, 4);
	ck_assert_str_eq(rc->topo.nodes[3], "kobe");
	ck_assert_uint_eq(rc->topo.nlinks, 3);
	ck_assert_uint_eq(rc->topo.links[0].rate, 10000000);
	ck_assert_uint_eq(rc->topo.links[1].rate, 10000);
	ck_assert_uint_eq(rc->topo.links[2].rate, 1500000);
	ck_assert_uint_eq(rc->npools, 1);
	ck_assert_str_eq(rp->name, "kobe");
	ck_assert_int_eq(rp->line, 22);
	ck_assert_int_eq(rp->peer_node, 3);
	ck_assert_uint_eq(rp->batch, 32);
	ck_assert_uint_eq(rp->key_bits, 128);
	ck_assert_uint_eq(rp->capacity, 1024);
	ck_assert_uint_eq(rp->npath, 4);
	ck_assert_uint_eq(rp->path_nodes[2], 2);
	/* The link pool: relaying is off unless a share is given. */
	ck_assert_str_eq(cfg->pools[0].relay_node, "nagoya");
	ck_assert_uint_eq(cfg->pools[0].relay_share, 0);
	ck_assert_uint_eq(cfg->pools[0].relay_reserve, 512);
	/* What was parsed routes. */
	ck_assert_int_eq(route_shortest(&rc->topo, rc->self_node, rp->peer_node,
					&p, s, sizeof(s)), 0);
	ck_assert_str_eq(route_path_str(&rc->topo, &p, s, sizeof(s)),
			 "tokyo nagoya osaka kobe");
}
END_TEST

START_TEST(relay_node_in_the_middle)
{
	/* nagoya: two links, relays only, no end-to-end pool. */
	static const char text[] = GLOBAL LINK_POOL
		"relay_node = tokyo\nrelay_share = 25\nrelay_reserve = 100\n"
		"[pool osaka]\nsource = stream\nstream = /dev/qkd0\n"
		"stream_role = a\nsae_id = SAE_N2\npeer_sae_id = SAE_O\n"
		"cert = /c\nkey = /k\npeer = 10.0.0.3:7600\n"
		"relay_node = osaka\nrelay_share = 100\n"
		"[topology]\nself = nagoya\nnode = tokyo nagoya osaka kobe\n"
		"link = tokyo nagoya 10M\nlink = nagoya osaka 10k\n"
		"link = osaka kobe 1500000\n";

	ck_assert_msg(!parse(text), "%s", err);
	ck_assert_uint_eq(cfg->relay.npools, 0);
	ck_assert_int_eq(cfg->relay.self_node, 1);
	ck_assert_uint_eq(cfg->pools[0].relay_share, 25);
	ck_assert_uint_eq(cfg->pools[0].relay_reserve, 100);
	ck_assert_uint_eq(cfg->pools[1].relay_share, 100);
	ck_assert_uint_eq(cfg->pools[1].relay_reserve, 512);
}
END_TEST

START_TEST(no_relay_at_all)
{
	ck_assert_msg(!parse(GLOBAL LINK_POOL), "%s", err);
	ck_assert_int_eq(cfg->relay.line, 0);
	ck_assert_uint_eq(cfg->relay.npools, 0);
	ck_assert_uint_eq(cfg->pools[0].relay_reserve, 512);
}
END_TEST

START_TEST(rates)
{
	uint64_t r;

	ck_assert_int_eq(relay_parse_rate("10k", &r), 0);
	ck_assert_uint_eq(r, 10000);
	ck_assert_int_eq(relay_parse_rate("2.5M", &r), 0);
	ck_assert_uint_eq(r, 2500000);
	ck_assert_int_eq(relay_parse_rate("1G", &r), 0);
	ck_assert_uint_eq(r, 1000000000);
	ck_assert_int_eq(relay_parse_rate("7", &r), 0);
	ck_assert_uint_eq(r, 7);
	ck_assert_int_eq(relay_parse_rate("0", &r), -1);
	ck_assert_int_eq(relay_parse_rate("0.5", &r), -1);
	ck_assert_int_eq(relay_parse_rate("-1k", &r), -1);
	ck_assert_int_eq(relay_parse_rate("10kbit", &r), -1);
	ck_assert_int_eq(relay_parse_rate("10K", &r), -1);
	ck_assert_int_eq(relay_parse_rate("nan", &r), -1);
	ck_assert_int_eq(relay_parse_rate("1e13", &r), -1);
	/* Decimal only: no hex, no exponent, no bare point. */
	ck_assert_int_eq(relay_parse_rate("0x10", &r), -1);
	ck_assert_int_eq(relay_parse_rate("1e3", &r), -1);
	ck_assert_int_eq(relay_parse_rate("1E3k", &r), -1);
	ck_assert_int_eq(relay_parse_rate("1.k", &r), -1);
	ck_assert_int_eq(relay_parse_rate("inf", &r), -1);
	ck_assert_int_eq(relay_parse_rate("1.25k", &r), 0);
	ck_assert_uint_eq(r, 1250);
	ck_assert_int_eq(relay_parse_rate("2000G", &r), -1);
	ck_assert_int_eq(relay_parse_rate("", &r), -1);
}
END_TEST

struct bad_case {
	const char *text;
	const char *where;
	const char *why;
};

static const struct bad_case bad[] = {
	{ GLOBAL LINK_POOL RELAY, "linkd.conf:14:",
	  "relay settings without a [topology] section" },
	{ GLOBAL LINK_POOL RELAY_NODE, "linkd.conf:6:",
	  "relay settings without a [topology] section" },
	{ GLOBAL LINK_POOL "relay_share = 5\n", "linkd.conf:6:",
	  "relay settings without a [topology] section" },
	{ GLOBAL LINK_POOL RELAY_NODE "[topology]\nnode = tokyo nagoya\n"
	  "link = tokyo nagoya 1k\n", "linkd.conf:15:",
	  "[topology]: missing 'self'" },
	{ GLOBAL LINK_POOL RELAY_NODE "[topology]\nself = sendai\n"
	  "node = tokyo nagoya\nlink = tokyo nagoya 1k\n", "linkd.conf:16:",
	  "self: sendai is not a node of [topology]" },
	{ CHAIN "[topology]\n", "linkd.conf:24:",
	  "second [topology] section (first on line 15)" },
	{ GLOBAL TOPO "self = nagoya\n", "linkd.conf:13:",
	  "'self' given twice (first on line 7)" },
	{ GLOBAL "[topology]\nself = a b\n", "linkd.conf:7:",
	  "self: one node name" },
	{ GLOBAL TOPO "node = nagoya\n", "linkd.conf:13:",
	  "node nagoya declared twice" },
	{ GLOBAL TOPO "node = sen/dai\n", "linkd.conf:13:",
	  "node 'sen/dai': not a name" },
	{ GLOBAL TOPO "node =\n", "linkd.conf:13:", "'node' has no value" },
	{ GLOBAL TOPO "link = tokyo sendai 1k\n", "linkd.conf:13:",
	  "link tokyo-sendai: no node sendai" },
	{ GLOBAL TOPO "link = kobe tokyo fast\n", "linkd.conf:13:",
	  "link kobe-tokyo: 'fast' is not a key rate" },
	{ GLOBAL TOPO "link = kobe tokyo\n", "linkd.conf:13:",
	  "link: expected 'NODE NODE RATE'" },
	{ GLOBAL TOPO "link = kobe tokyo 1k 2k\n", "linkd.conf:13:",
	  "link: expected 'NODE NODE RATE'" },
	{ GLOBAL TOPO "link = kobe osaka 1k\n", "linkd.conf:13:",
	  "link kobe-osaka declared twice" },
	{ GLOBAL TOPO "link = kobe kobe 1k\n", "linkd.conf:13:",
	  "link kobe-kobe: a node to itself" },
	{ GLOBAL TOPO "nodes = x\n", "linkd.conf:13:",
	  "unknown key 'nodes' in [topology] (self, node, link)" },
	/* The link pools of this node and the links of the topology. */
	{ GLOBAL LINK_POOL TOPO, "linkd.conf:14:",
	  "[topology]: link tokyo-nagoya has no [pool] with relay_node = nagoya" },
	{ GLOBAL LINK_POOL "relay_node = osaka\n" TOPO, "linkd.conf:6:",
	  "pool nagoya: [topology] has no link tokyo-osaka" },
	{ GLOBAL LINK_POOL "relay_node = sendai\n" TOPO, "linkd.conf:6:",
	  "pool nagoya: relay_node sendai is not a node of [topology]" },
	{ GLOBAL LINK_POOL RELAY_NODE "relay_share = 50\nrelay_reserve = 2048\n"
	  TOPO, "linkd.conf:6:",
	  "pool nagoya: relay_reserve 2048 is not below high_watermark 2048: relaying would never run" },
	{ GLOBAL LINK_POOL RELAY_NODE "relay_share = 101\n", "linkd.conf:15:",
	  "relay_share: 101 is out of range (0 to 100)" },
	{ GLOBAL LINK_POOL RELAY_NODE "[pool n2]\nsource = stream\n"
	  "stream = /s\nstream_role = a\nsae_id = X\npeer_sae_id = Y\n"
	  "cert = /c\nkey = /k\npeer = h:1\n" RELAY_NODE TOPO,
	  "linkd.conf:15:", "pool n2: relay_node nagoya is pool nagoya's too" },
	/* [relay NAME] */
	{ CHAIN "peer = osaka\n", "linkd.conf:24:",
	  "'peer' given twice (first on line 23)" },
	{ CHAIN "path = tokyo osaka kobe\n", "linkd.conf:22:",
	  "relay kobe: path: no link tokyo-osaka" },
	{ CHAIN "path = nagoya osaka kobe\n", "linkd.conf:22:",
	  "relay kobe: path must go from tokyo (self) to kobe (peer)" },
	{ CHAIN "path = tokyo nagoya osaka\n", "linkd.conf:22:",
	  "relay kobe: path must go from tokyo (self) to kobe (peer)" },
	{ CHAIN "path = tokyo nagoya sendai kobe\n", "linkd.conf:22:",
	  "relay kobe: path: sendai is not a node of [topology]" },
	{ CHAIN "path = tokyo nagoya tokyo nagoya osaka kobe\n", "linkd.conf:22:",
	  "relay kobe: path: node tokyo twice in the path (a loop)" },
	{ CHAIN "batch_size = 65\n", "linkd.conf:24:",
	  "batch_size: 65 is out of range (1 to 64)" },
	{ CHAIN "low_watermark = 600\n", "linkd.conf:22:",
	  "relay kobe: low_watermark 600 must be below high_watermark 512" },
	{ CHAIN "capacity = 100\n", "linkd.conf:22:",
	  "relay kobe: high_watermark 512 is above capacity 100" },
	{ CHAIN "kme_url = https://x\n", "linkd.conf:24:",
	  "unknown key 'kme_url' in relay kobe" },
	{ CHAIN RELAY, "linkd.conf:24:", "relay kobe already defined on line 22" },
	{ CHAIN "[relay kobe2]\npeer = kobe\n", "linkd.conf:24:",
	  "relay kobe2: peer kobe is relay kobe's too (line 22)" },
	{ CHAIN "[relay a/b]\n", "linkd.conf:24:",
	  "relay pool name 'a/b' is not 1 to 64 of A-Z a-z 0-9 . _ -" },
	{ GLOBAL LINK_POOL RELAY_NODE TOPO "[relay kobe]\n", "linkd.conf:22:",
	  "kobe: missing 'peer'" },
	{ GLOBAL LINK_POOL RELAY_NODE TOPO "[relay kobe]\npeer = sendai\n",
	  "linkd.conf:22:", "relay kobe: peer sendai is not a node of [topology]" },
	{ GLOBAL LINK_POOL RELAY_NODE TOPO "[relay kobe]\npeer = tokyo\n",
	  "linkd.conf:22:", "relay kobe: peer tokyo is this node" },
	{ GLOBAL LINK_POOL RELAY_NODE TOPO "[relay nagoya]\npeer = kobe\n",
	  "linkd.conf:22:", "relay nagoya: pool nagoya is a link pool (line 6)" },
	/* A transfer that needs more link keys than the link ever gives. */
	{ GLOBAL LINK_POOL RELAY_NODE SMALL_LINK TOPO RELAY, "linkd.conf:25:",
	  "relay kobe: a transfer of batch_size 16 keys of 256 bits takes 18 link keys per hop, but pool nagoya (line 6) lets relaying take at most 10 at once (high_watermark 110 - relay_reserve 100): lower batch_size" },
	{ GLOBAL LINK_POOL RELAY_NODE SMALL_LINK TOPO RELAY
	  "path = tokyo nagoya osaka kobe\nkey_size = 128\nbatch_size = 17\n",
	  "linkd.conf:25:",
	  "relay kobe: a transfer of batch_size 17 keys of 128 bits takes 11 link keys per hop" },
	{ GLOBAL LINK_POOL RELAY_NODE TOPO "[topo]\n", "linkd.conf:22:",
	  "unknown section [topo] (expected [linkd], [pool NAME], [topology] or [relay NAME])" },
};

START_TEST(config_bad)
{
	const struct bad_case *b = &bad[_i];

	ck_assert_int_eq(parse(b->text), -1);
	ck_assert_msg(!strncmp(err, b->where, strlen(b->where)),
		      "case %d: '%s' is not at %s", _i, err, b->where);
	ck_assert_msg(strstr(err, b->why), "case %d: '%s' does not say '%s'",
		      _i, err, b->why);
}
END_TEST

/*
 * A batch whose link keys fit the link's budget (high_watermark -
 * relay_reserve) loads; one key more per transfer than that is refused
 * (config_bad), with its line, rather than refused at every transfer.
 */
START_TEST(link_keys_fit)
{
	/* 4 keys of 256 bits: 32 + 4 x 32 + 32 bytes in 32-byte link keys. */
	ck_assert_msg(!parse(GLOBAL LINK_POOL RELAY_NODE SMALL_LINK TOPO RELAY
			     "batch_size = 4\n"), "%s", err);
	ck_assert_uint_eq(relay_link_keys_needed(4, 32, 32), 6);
	/* 16 keys of 128 bits: 10 link keys, exactly the 10 allowed. */
	ck_assert_msg(!parse(GLOBAL LINK_POOL RELAY_NODE SMALL_LINK TOPO RELAY
			     "batch_size = 16\nkey_size = 128\n"), "%s", err);
	ck_assert_uint_eq(relay_link_keys_needed(16, 16, 32), 10);
	/* A link pool that does not relay (share 0) limits nothing. */
	ck_assert_msg(!parse(GLOBAL LINK_POOL RELAY_NODE "low_watermark = 100\n"
			     "high_watermark = 110\n" TOPO RELAY), "%s", err);
}
END_TEST

Suite *relay_config_suite(void)
{
	Suite *s = suite_create("relay_config");
	TCase *tc = tcase_create("relay_config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, chain_at_tokyo);
	tcase_add_test(tc, relay_node_in_the_middle);
	tcase_add_test(tc, no_relay_at_all);
	tcase_add_test(tc, rates);
	tcase_add_test(tc, link_keys_fit);
	tcase_add_loop_test(tc, config_bad, 0, sizeof(bad) / sizeof(bad[0]));
	suite_add_tcase(s, tc);
	return s;
}
