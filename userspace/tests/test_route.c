// SPDX-License-Identifier: GPL-2.0
/*
 * route: paths over a declared topology: the chain of the demo,
 * a ring that reroutes around a cut, no path, pinned paths, ties, an
 * 18-node ring with its core (SoftBank's aggregation ring), bad input.
 */
#include <stdio.h>
#include <string.h>
#include "tests.h"
#include "../linkd/route.h"

static struct route_topo t;
static struct route_path p;
static char err[ROUTE_ERR_LEN], s[2048];

static void node(const char *name)
{
	ck_assert_msg(route_add_node(&t, name, err, sizeof(err)) >= 0, "%s", err);
}

static void link(const char *a, const char *b, uint64_t rate)
{
	ck_assert_msg(route_add_link(&t, a, b, rate, err, sizeof(err)) >= 0,
		      "%s", err);
}

static int n_(const char *name)
{
	int i = route_find_node(&t, name);

	ck_assert_int_ge(i, 0);
	return i;
}

static void set(const char *a, const char *b, bool up)
{
	int l = route_find_link(&t, n_(a), n_(b));

	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(route_set_up(&t, l, up), 0);
}

/* The path from @a to @b as a string, or the error. */
static const char *path(const char *a, const char *b)
{
	if (route_shortest(&t, n_(a), n_(b), &p, err, sizeof(err)))
		return err;
	return route_path_str(&t, &p, s, sizeof(s));
}

/* Nodes on the path from @a to @b; 0 when there is none. */
static unsigned int plen(const char *a, const char *b)
{
	return route_shortest(&t, n_(a), n_(b), &p, err, sizeof(err)) ? 0 : p.n;
}

static const char *bottleneck(void)
{
	const struct route_link *l = &t.links[p.bottleneck];

	snprintf(s, sizeof(s), "%s-%s", t.nodes[l->a], t.nodes[l->b]);
	return s;
}

/* tokyo - nagoya - osaka - kobe: 10 Mbit/s, 10 kbit/s (CV-QKD), 1 Mbit/s. */
static void chain(void)
{
	route_init(&t);
	node("tokyo");
	node("nagoya");
	node("osaka");
	node("kobe");
	link("tokyo", "nagoya", 10000000);
	link("nagoya", "osaka", 10000);
	link("osaka", "kobe", 1000000);
}

START_TEST(chain_path_and_cut)
{
	chain();
	ck_assert_str_eq(path("tokyo", "kobe"), "tokyo nagoya osaka kobe");
	ck_assert_uint_eq(p.n, 4);
	ck_assert_uint_eq(p.cost, ROUTE_SCALE / 10000000 + ROUTE_SCALE / 10000 +
			  ROUTE_SCALE / 1000000);
	ck_assert_str_eq(bottleneck(), "nagoya-osaka");
	ck_assert_str_eq(path("kobe", "tokyo"), "kobe osaka nagoya tokyo");
	ck_assert_str_eq(path("nagoya", "osaka"), "nagoya osaka");
	set("nagoya", "osaka", false);
	ck_assert_str_eq(path("tokyo", "kobe"), "no path from tokyo to kobe");
	ck_assert_str_eq(path("kobe", "osaka"), "kobe osaka");
	set("osaka", "nagoya", true);
	ck_assert_str_eq(path("tokyo", "kobe"), "tokyo nagoya osaka kobe");
}
END_TEST

/* The chain closed into a ring by a slow kobe-tokyo link. */
START_TEST(ring_reroutes)
{
	chain();
	link("kobe", "tokyo", 5000);
	/* Through nagoya: 10^5 + 10^8 + 10^6; directly: 2 * 10^8. */
	ck_assert_str_eq(path("tokyo", "kobe"), "tokyo nagoya osaka kobe");
	set("nagoya", "osaka", false);
	ck_assert_str_eq(path("tokyo", "kobe"), "tokyo kobe");
	ck_assert_str_eq(path("tokyo", "osaka"), "tokyo kobe osaka");
	ck_assert_str_eq(bottleneck(), "kobe-tokyo");
	set("kobe", "tokyo", false);
	ck_assert_str_eq(path("tokyo", "kobe"), "no path from tokyo to kobe");
	set("nagoya", "osaka", true);
	ck_assert_str_eq(path("tokyo", "kobe"), "tokyo nagoya osaka kobe");
	/* A faster direct link now wins over three hops. */
	ck_assert_int_eq(route_set_rate(&t, route_find_link(&t, n_("tokyo"),
							     n_("kobe")),
					20000), 0);
	set("kobe", "tokyo", true);
	ck_assert_str_eq(path("tokyo", "kobe"), "tokyo kobe");
}
END_TEST

/* Two fast hops beat one slow link; equally fast: fewer hops. */
START_TEST(weights_and_hops)
{
	route_init(&t);
	node("a");
	node("b");
	node("c");
	node("d");
	link("a", "b", 10000);
	link("a", "c", 10000000);
	link("c", "b", 10000000);
	ck_assert_str_eq(path("a", "b"), "a c b");
	ck_assert_int_eq(route_set_rate(&t, 0, 5000000), 0);
	ck_assert_str_eq(path("a", "b"), "a b");
	/* a-d-b costs as much as a-b: the shorter one. */
	link("a", "d", 10000000);
	link("d", "b", 10000000);
	ck_assert_int_eq(route_set_rate(&t, 0, 5000000), 0);
	ck_assert_str_eq(path("a", "b"), "a b");
}
END_TEST

/*
 * Fast links still cost differently: a-z-b (two links of 900 Gbit/s) is
 * cheaper than a-c-b (600 Gbit/s), although the names favour c.
 */
START_TEST(fast_links_weighted)
{
	route_init(&t);
	node("a");
	node("b");
	node("c");
	node("z");
	link("a", "c", 600000000000ull);
	link("c", "b", 600000000000ull);
	link("a", "z", 900000000000ull);
	link("z", "b", 900000000000ull);
	ck_assert_str_eq(path("a", "b"), "a z b");
	ck_assert_uint_eq(p.cost, 2 * (ROUTE_SCALE / 900000000000ull));
	ck_assert_int_eq(route_set_rate(&t, 2, 300000000000ull), 0);
	ck_assert_str_eq(path("a", "b"), "a c b");
}
END_TEST

/* Equal paths: the same choice whatever the order of declaration. */
START_TEST(ties_do_not_depend_on_order)
{
	static const char *const links[4][2] = {
		{ "n", "e" }, { "e", "s" }, { "s", "w" }, { "w", "n" },
	};
	char first[64];

	for (int order = 0; order < 4; order++) {
		route_init(&t);
		node(order & 1 ? "w" : "e");
		node(order & 1 ? "e" : "w");
		node("n");
		node("s");
		for (int i = 0; i < 4; i++) {
			int k = order & 2 ? 3 - i : i;

			link(links[k][0], links[k][1], 1000);
		}
		ck_assert_str_eq(path("n", "s"), "n e s");
		if (!order)
			strcpy(first, path("s", "n"));
		else
			ck_assert_str_eq(path("s", "n"), first);
	}
}
END_TEST

START_TEST(pinned_paths)
{
	uint16_t pin[4];

	chain();
	link("kobe", "tokyo", 5000);
	pin[0] = n_("tokyo");
	pin[1] = n_("kobe");
	/* Pinned over the slow link although a faster path exists. */
	ck_assert_int_eq(route_pinned(&t, pin, 2, &p, err, sizeof(err)), 0);
	ck_assert_str_eq(route_path_str(&t, &p, s, sizeof(s)), "tokyo kobe");
	ck_assert_uint_eq(p.cost, ROUTE_SCALE / 5000);
	/* No fallback when it is down. */
	set("tokyo", "kobe", false);
	ck_assert_int_eq(route_pinned(&t, pin, 2, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "link tokyo-kobe is down");
	pin[1] = n_("osaka");
	ck_assert_int_eq(route_pinned(&t, pin, 2, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no link tokyo-osaka");
	pin[1] = n_("nagoya");
	pin[2] = n_("tokyo");
	ck_assert_int_eq(route_pinned(&t, pin, 3, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "node tokyo twice in the path (a loop)");
	pin[2] = n_("osaka");
	pin[3] = n_("kobe");
	ck_assert_int_eq(route_pinned(&t, pin, 4, &p, err, sizeof(err)), 0);
	ck_assert_str_eq(bottleneck(), "nagoya-osaka");
	ck_assert_int_eq(route_pinned(&t, pin, 1, &p, err, sizeof(err)), -1);
	pin[3] = 99;
	ck_assert_int_eq(route_pinned(&t, pin, 4, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "node 3 of the path: no such node");
}
END_TEST

/*
 * 18 routers in a ring, r00 the core, equal links: each router's path to
 * the core is the shorter arc; a cut next to the core sends that side
 * round the other way; a second cut isolates the nodes between.
 */
START_TEST(ring_of_18)
{
	char a[8], b[8];

	route_init(&t);
	for (int i = 0; i < 18; i++) {
		snprintf(a, sizeof(a), "r%02d", i);
		node(a);
	}
	for (int i = 0; i < 18; i++) {
		snprintf(a, sizeof(a), "r%02d", i);
		snprintf(b, sizeof(b), "r%02d", (i + 1) % 18);
		link(a, b, 1000000);
	}
	for (int i = 1; i < 18; i++) {
		snprintf(a, sizeof(a), "r%02d", i);
		ck_assert_uint_eq(plen(a, "r00"), 1 + (i <= 9 ? i : 18 - i));
		ck_assert_uint_eq(p.nodes[1], i <= 9 ? i - 1 : (i + 1) % 18);
	}
	/* r09 is 9 hops away either way: the tie goes to r08's side. */
	ck_assert_str_eq(path("r09", "r00"), "r09 r08 r07 r06 r05 r04 r03 r02 r01 r00");
	set("r00", "r01", false);
	ck_assert_str_eq(path("r01", "r00"),
			 "r01 r02 r03 r04 r05 r06 r07 r08 r09 r10 r11 r12 r13 r14 r15 r16 r17 r00");
	ck_assert_uint_eq(p.n, 18);
	for (int i = 1; i < 18; i++) {
		snprintf(a, sizeof(a), "r%02d", i);
		ck_assert_uint_eq(plen(a, "r00"), 1 + 18 - i);
	}
	set("r05", "r06", false);
	for (int i = 1; i < 18; i++) {
		snprintf(a, sizeof(a), "r%02d", i);
		snprintf(b, sizeof(b), "r%02d", 0);
		if (i <= 5) {
			ck_assert_uint_eq(plen(a, b), 0);
			snprintf(s, sizeof(s), "no path from %s to r00", a);
			ck_assert_str_eq(err, s);
		} else {
			ck_assert_uint_eq(plen(a, b), 1 + 18 - i);
		}
	}
}
END_TEST

START_TEST(bad_topologies)
{
	chain();
	ck_assert_int_eq(route_add_node(&t, "tokyo", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "node tokyo declared twice");
	ck_assert_int_eq(route_add_node(&t, "to kyo", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "node 'to kyo': not a name (1 to 64 of A-Z a-z 0-9 . _ -)");
	ck_assert_int_eq(route_add_node(&t, "", err, sizeof(err)), -1);
	ck_assert_int_eq(route_add_link(&t, "tokyo", "sendai", 1, err,
					sizeof(err)), -1);
	ck_assert_str_eq(err, "link tokyo-sendai: no node sendai");
	ck_assert_int_eq(route_add_link(&t, "kobe", "kobe", 1, err,
					sizeof(err)), -1);
	ck_assert_str_eq(err, "link kobe-kobe: a node to itself");
	ck_assert_int_eq(route_add_link(&t, "osaka", "nagoya", 1, err,
					sizeof(err)), -1);
	ck_assert_str_eq(err, "link osaka-nagoya declared twice");
	ck_assert_int_eq(route_add_link(&t, "tokyo", "kobe", 0, err,
					sizeof(err)), -1);
	ck_assert_str_eq(err, "link tokyo-kobe: rate 0 (1 to 1000000000000 bit/s)");
	ck_assert_int_eq(route_set_rate(&t, 0, 0), -1);
	ck_assert_int_eq(route_set_up(&t, 3, false), -1);
	ck_assert_int_eq(route_shortest(&t, 0, 0, &p, err, sizeof(err)), -1);
	ck_assert_int_eq(route_shortest(&t, 0, 4, &p, err, sizeof(err)), -1);
	/* Full. */
	route_init(&t);
	for (int i = 0; i < ROUTE_MAX_NODES; i++) {
		snprintf(s, sizeof(s), "n%d", i);
		node(s);
	}
	ck_assert_int_eq(route_add_node(&t, "one-more", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "more than 256 nodes");
}
END_TEST

/* A line of 40 nodes: the far end is further than a frame's path holds. */
START_TEST(path_too_long)
{
	char a[8], b[8];

	route_init(&t);
	for (int i = 0; i < 40; i++) {
		snprintf(a, sizeof(a), "l%d", i);
		node(a);
		if (i) {
			snprintf(b, sizeof(b), "l%d", i - 1);
			link(b, a, 1000);
		}
	}
	ck_assert_uint_eq(plen("l0", "l31"), 32);
	ck_assert_str_eq(path("l0", "l32"),
			 "the shortest path from l0 to l32 has 33 nodes (at most 32)");
}
END_TEST

/*
 * The longest path there can be (32 nodes of 64-character names) as text:
 * whole in ROUTE_PATH_STR_LEN, which the status file and qkdctl use; in a
 * smaller buffer cut after a whole name, with the marker, never inside a
 * name (which would read as another node).
 */
START_TEST(long_path_text)
{
	static char full[ROUTE_PATH_STR_LEN], small[1024], tiny[4];
	char name[ROUTE_NAME_MAX + 1];
	size_t words = 0;

	route_init(&t);
	for (int i = 0; i < ROUTE_MAX_PATH; i++) {
		memset(name, 'a' + i % 26, ROUTE_NAME_MAX);
		snprintf(name + ROUTE_NAME_MAX - 2, 3, "%02d", i);
		node(name);
		if (i)
			link(t.nodes[i - 1], name, 1000);
	}
	ck_assert_uint_eq(plen(t.nodes[0], name), ROUTE_MAX_PATH);
	route_path_str(&t, &p, full, sizeof(full));
	ck_assert_uint_eq(strlen(full), sizeof(full) - 1);
	ck_assert_str_eq(full + strlen(full) - ROUTE_NAME_MAX, name);
	route_path_str(&t, &p, small, sizeof(small));
	ck_assert_uint_lt(strlen(small), sizeof(small));
	ck_assert_str_eq(small + strlen(small) - strlen(ROUTE_PATH_CUT),
			 ROUTE_PATH_CUT);
	/* Every word before the marker is a node's whole name, in order. */
	for (char *w = strtok(small, " "); w; w = strtok(NULL, " ")) {
		if (!strcmp(w, &ROUTE_PATH_CUT[1]))
			break;
		ck_assert_str_eq(w, t.nodes[p.nodes[words]]);
		words++;
	}
	ck_assert_uint_eq(words, 15);	/* 15 x 65 + 4 < 1024 */
	/* Not even one name fits: the marker alone. */
	route_path_str(&t, &p, tiny, sizeof(tiny));
	ck_assert_str_eq(tiny, "...");
}
END_TEST

Suite *route_suite(void)
{
	Suite *su = suite_create("route");
	TCase *tc = tcase_create("route");

	tcase_add_test(tc, chain_path_and_cut);
	tcase_add_test(tc, ring_reroutes);
	tcase_add_test(tc, weights_and_hops);
	tcase_add_test(tc, fast_links_weighted);
	tcase_add_test(tc, ties_do_not_depend_on_order);
	tcase_add_test(tc, pinned_paths);
	tcase_add_test(tc, ring_of_18);
	tcase_add_test(tc, bad_topologies);
	tcase_add_test(tc, path_too_long);
	tcase_add_test(tc, long_path_text);
	suite_add_tcase(su, tc);
	return su;
}
