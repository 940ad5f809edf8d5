// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Pool choice (qkd_peers_choose()): identities, claims, addresses, the
 * peers sections and pool_by_identity, on strongSwan's own settings and
 * identity matching.
 */
#include <library.h>
#include <daemon.h>
#include <check.h>

#include "qkd_peers.h"
#include "tests.h"

/* one character longer than a pool name may be */
#define LONG_NAME "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* tokyo and nagoya bound by identity (both behind one NAT, 198.51.100.1);
 * kobe by address only; "osaka" bound to another identity than its name */
static char *config =
	"qkd-plugin-tests {\n"
	" plugins {\n"
	"  qkd {\n"
	"   policy = prefer\n"
	"   peers {\n"
	"    tokyo {\n"
	"     id = tokyo.example\n"
	"     pool = p-tokyo\n"
	"     addrs = 198.51.100.1\n"
	"    }\n"
	"    nagoya {\n"
	"     id = *.nagoya.example\n"
	"     pool = p-nagoya\n"
	"     addrs = 198.51.100.1\n"
	"     policy = require\n"
	"    }\n"
	"    kobe {\n"
	"     pool = p-kobe\n"
	"     addrs = 203.0.113.7, 2001:db8::7\n"
	"    }\n"
	"    osaka {\n"
	"     id = osaka.real\n"
	"     pool = osaka\n"
	"    }\n"
	"    typo {\n"
	"     id = typo.example\n"
	"     policy = requier\n"
	"    }\n"
	"    long {\n"
	"     id = long.example\n"
	"     pool = " LONG_NAME "\n"
	"    }\n"
	"   }\n"
	"  }\n"
	" }\n"
	"}\n";

static void setup(void)
{
	ck_assert(library_init(NULL, "qkd-plugin-tests"));
	/* the plugin logs through charon's bus */
	ck_assert(libcharon_init());
	ck_assert(lib->settings->load_string(lib->settings, config, FALSE));
}

static void teardown(void)
{
	libcharon_deinit();
	library_deinit();
}

/* Which identity is where, as strings ("" for none). */
static const struct {
	const char *what;
	bool authenticated_sa;
	const char *authenticated, *demanded, *claimed, *address;
	const char *pool;		/* expected, "" for none */
	qkd_peers_basis_t basis;
	uint8_t reason;			/* expected when no pool */
	enum qkd_proto_policy policy;
} cases[] = {
	{ "authenticated, bound by id", true, "tokyo.example", "", "", "198.51.100.1",
	  "p-tokyo", QKD_PEERS_IDENTITY, 0, QKD_PROTO_POLICY_PREFER },
	{ "authenticated, wildcard id, its policy", true, "gw1.nagoya.example", "", "",
	  "198.51.100.1", "p-nagoya", QKD_PEERS_IDENTITY, 0, QKD_PROTO_POLICY_REQUIRE },
	/* two peers behind one address: each its own pool, whatever the order */
	{ "authenticated nagoya behind tokyo's address", true, "gw2.nagoya.example", "",
	  "", "198.51.100.1", "p-nagoya", QKD_PEERS_IDENTITY, 0, QKD_PROTO_POLICY_REQUIRE },
	{ "authenticated, no section: pool_by_identity", true, "sendai", "", "",
	  "192.0.2.9", "sendai", QKD_PEERS_IDENTITY, 0, QKD_PROTO_POLICY_PREFER },
	{ "pool_by_identity never takes a pool bound to another id", true, "osaka", "",
	  "", "192.0.2.2", "", QKD_PEERS_NONE, QKD_PROTO_REASON_NO_POOL,
	  QKD_PROTO_POLICY_PREFER },
	{ "the bound identity gets it", true, "osaka.real", "", "", "192.0.2.2",
	  "osaka", QKD_PEERS_IDENTITY, 0, QKD_PROTO_POLICY_PREFER },
	{ "authenticated, address-only section", true, "kobe.example", "", "",
	  "2001:db8::7", "p-kobe", QKD_PEERS_IDENTITY, 0, QKD_PROTO_POLICY_PREFER },
	{ "an explicit binding wins over an address section", true, "tokyo.example",
	  "", "", "203.0.113.7", "p-tokyo", QKD_PEERS_IDENTITY, 0,
	  QKD_PROTO_POLICY_PREFER },
	/* an IKE re-key's new IKE_SA: authenticated, no identity noted */
	{ "authenticated without identity, demanded one", true, "", "tokyo.example",
	  "", "192.0.2.1", "p-tokyo", QKD_PEERS_IDENTITY, 0, QKD_PROTO_POLICY_PREFER },
	{ "authenticated without any identity", true, "", "", "", "192.0.2.1", "",
	  QKD_PEERS_NONE, QKD_PROTO_REASON_NO_POOL, QKD_PROTO_POLICY_PREFER },
	/* the initiator before IKE_AUTH: remote.id */
	{ "initiator, remote.id demands tokyo", false, "", "tokyo.example", "",
	  "10.0.0.1", "p-tokyo", QKD_PEERS_IDENTITY, 0, QKD_PROTO_POLICY_PREFER },
	/* the responder before IKE_AUTH: the claim */
	{ "responder, claim behind a NAT", false, "", "", "tokyo.example",
	  "198.51.100.1", "p-tokyo", QKD_PEERS_PROVISIONAL, 0, QKD_PROTO_POLICY_PREFER },
	{ "responder, second peer's claim behind the NAT", false, "", "",
	  "a.nagoya.example", "198.51.100.1", "p-nagoya", QKD_PEERS_PROVISIONAL, 0,
	  QKD_PROTO_POLICY_REQUIRE },
	{ "responder, claim without section: pool_by_identity", false, "", "",
	  "sendai", "192.0.2.9", "sendai", QKD_PEERS_PROVISIONAL, 0,
	  QKD_PROTO_POLICY_PREFER },
	/* no identity at all before IKE_AUTH */
	{ "no identity, address-only section", false, "", "", "", "203.0.113.7",
	  "p-kobe", QKD_PEERS_PROVISIONAL, 0, QKD_PROTO_POLICY_PREFER },
	{ "no identity, only id-bound sections list the address", false, "", "", "",
	  "198.51.100.1", "", QKD_PEERS_NONE, QKD_PROTO_REASON_PEER_UNKNOWN,
	  QKD_PROTO_POLICY_PREFER },
	{ "no identity, no address", false, "", "", "", "", "", QKD_PEERS_NONE,
	  QKD_PROTO_REASON_PEER_UNKNOWN, QKD_PROTO_POLICY_PREFER },
	/* bad settings never weaken: an unknown policy is require, a name the
	 * kernel would refuse is no pool */
	{ "unknown policy means require", true, "typo.example", "", "", "",
	  "typo", QKD_PEERS_IDENTITY, 0, QKD_PROTO_POLICY_REQUIRE },
	{ "pool name too long", true, "long.example", "", "", "", "",
	  QKD_PEERS_IDENTITY, QKD_PROTO_REASON_NO_POOL, QKD_PROTO_POLICY_PREFER },
};

static identification_t *id_or_null(const char *s)
{
	return *s ? identification_create_from_string((char *)s) : NULL;
}

START_TEST(choose)
{
	qkd_peers_input_t in = {
		.authenticated_sa = cases[_i].authenticated_sa,
		.authenticated = id_or_null(cases[_i].authenticated),
		.demanded = id_or_null(cases[_i].demanded),
		.claimed = id_or_null(cases[_i].claimed),
		.address = *cases[_i].address ?
			host_create_from_string((char *)cases[_i].address, 0) : NULL,
	};
	qkd_peers_choice_t c;

	qkd_peers_choose(&in, &c);
	ck_assert_msg(streq(c.pool, cases[_i].pool), "%s: pool '%s', want '%s'",
		      cases[_i].what, c.pool, cases[_i].pool);
	ck_assert_msg(c.basis == cases[_i].basis, "%s: basis %d, want %d",
		      cases[_i].what, c.basis, cases[_i].basis);
	ck_assert_msg(c.policy == cases[_i].policy, "%s: policy %d", cases[_i].what,
		      c.policy);
	if (!c.pool[0])
		ck_assert_msg(c.reason == cases[_i].reason, "%s: reason %d, want %d",
			      cases[_i].what, c.reason, cases[_i].reason);
	DESTROY_IF(in.authenticated);
	DESTROY_IF(in.demanded);
	DESTROY_IF(in.claimed);
	DESTROY_IF(in.address);
}
END_TEST

START_TEST(pool_by_identity_off)
{
	identification_t *id = identification_create_from_string("sendai");
	qkd_peers_input_t in = { .authenticated_sa = true, .authenticated = id };
	qkd_peers_choice_t c;

	lib->settings->set_bool(lib->settings,
				"qkd-plugin-tests.plugins.qkd.pool_by_identity",
				FALSE);
	qkd_peers_choose(&in, &c);
	ck_assert_str_eq(c.pool, "");
	ck_assert_int_eq(c.reason, QKD_PROTO_REASON_NO_POOL);
	id->destroy(id);
}
END_TEST

START_TEST(policy_names)
{
	enum qkd_proto_policy p;

	ck_assert(qkd_peers_policy_from_string("prefer", &p));
	ck_assert_int_eq(p, QKD_PROTO_POLICY_PREFER);
	ck_assert(qkd_peers_policy_from_string("require", &p));
	ck_assert_int_eq(p, QKD_PROTO_POLICY_REQUIRE);
	ck_assert(!qkd_peers_policy_from_string("Require", &p));
	ck_assert(!qkd_peers_policy_from_string("", &p));
}
END_TEST

Suite *peers_suite(void)
{
	Suite *s = suite_create("peers");
	TCase *tc = tcase_create("choose");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, choose, 0, countof(cases));
	tcase_add_test(tc, pool_by_identity_off);
	tcase_add_test(tc, policy_names);
	suite_add_tcase(s, tc);
	return s;
}
