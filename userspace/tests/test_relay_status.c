// SPDX-License-Identifier: GPL-2.0
/*
 * The relay in qkdctl (Documentation/relay.rst, "Operations"): the status
 * file's "relay" member of a link pool and its "relays" (the end-to-end
 * pools) as qkdctl parses them (qkdctl/linkd_status.c) and shows them
 * (qkdctl/format_linkd.c).  What qkd-linkd writes is checked against the
 * parser in test_relay_node.c (a chain of nodes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests.h"
#include "qkdctl.h"
#include "../linkd/route.h"

/* qkdctl reads every path qkd-linkd can write, whole. */
_Static_assert(LINKD_PATH_LEN == ROUTE_PATH_STR_LEN,
	       "qkdctl's path buffer is linkd's longest path");

/* What qkd-linkd writes (status.c, relay_status.c): a link pool, an end. */
#define LINK "{\"name\":\"nagoya\",\"id\":3,\"source_ok\":true," \
	"\"peer_out_connected\":true,\"peer_in_connected\":true," \
	"\"last_refill_out\":1764000090,\"last_refill_in\":1764000095," \
	"\"relay\":{\"node\":\"nagoya\",\"share\":50,\"reserve\":32," \
	"\"bucket\":12,\"taken_out\":108,\"taken_in\":90}}"
#define E2E "{\"name\":\"kobe\",\"peer\":\"kobe\",\"role_out\":\"origin\"," \
	"\"role_in\":\"far-end\",\"path\":\"tokyo nagoya osaka kobe\"," \
	"\"bottleneck\":\"nagoya-osaka\",\"bottleneck_rate\":1000000," \
	"\"path_in\":\"kobe osaka nagoya tokyo\",\"path_changes\":1," \
	"\"path_changed\":1764000040,\"filling\":false,\"in_flight\":0," \
	"\"hold\":0,\"committed\":6,\"dropped\":1,\"expired\":2," \
	"\"aborted\":2,\"keys_out\":96,\"keys_in\":80,\"last_error\":" \
	"\"transfer 3: relay share used up at nagoya\"," \
	"\"last_error_time\":1764000080}"
#define DOC(pools, relays) "{\"time\":1764000100,\"interval\":1," \
	"\"pid\":4242,\"pools\":[" pools "]" relays "}\n"

static int parse(const char *text, struct linkd_health **h, size_t *n)
{
	char err[128];
	int r = linkd_status_parse(text, strlen(text), h, n, err, sizeof(err));

	if (r)
		fprintf(stderr, "parse: %s\n", err);
	return r;
}

START_TEST(parse_relay)
{
	struct linkd_health *h;
	size_t n;

	ck_assert_int_eq(parse(DOC(LINK, ",\"relays\":[" E2E "]"), &h, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert(h[0].relays && !h[0].e2e);
	ck_assert_str_eq(h[0].relay.node, "nagoya");
	ck_assert_uint_eq(h[0].relay.share, 50);
	ck_assert_uint_eq(h[0].relay.reserve, 32);
	ck_assert_uint_eq(h[0].relay.bucket, 12);
	ck_assert_uint_eq(h[0].relay.taken_out, 108);
	ck_assert_uint_eq(h[0].relay.taken_in, 90);
	/* The end-to-end pool: a pool of the file, with the file's time. */
	ck_assert(h[1].e2e && !h[1].relays);
	ck_assert_str_eq(h[1].name, "kobe");
	ck_assert_int_eq(h[1].time, 1764000100);
	ck_assert_int_eq(h[1].pid, 4242);
	ck_assert_str_eq(h[1].end.peer, "kobe");
	ck_assert_str_eq(h[1].end.role_out, "origin");
	ck_assert_str_eq(h[1].end.role_in, "far-end");
	ck_assert_str_eq(h[1].end.path, "tokyo nagoya osaka kobe");
	ck_assert_str_eq(h[1].end.bottleneck, "nagoya-osaka");
	ck_assert_uint_eq(h[1].end.bottleneck_rate, 1000000);
	ck_assert_str_eq(h[1].end.path_in, "kobe osaka nagoya tokyo");
	ck_assert_uint_eq(h[1].end.path_changes, 1);
	ck_assert_int_eq(h[1].end.path_changed, 1764000040);
	ck_assert_uint_eq(h[1].end.committed, 6);
	ck_assert_uint_eq(h[1].end.dropped, 1);
	ck_assert_uint_eq(h[1].end.expired, 2);
	ck_assert_uint_eq(h[1].end.aborted, 2);
	ck_assert_uint_eq(h[1].end.keys_out, 96);
	ck_assert_uint_eq(h[1].end.keys_in, 80);
	ck_assert_str_eq(h[1].end.last_error,
			 "transfer 3: relay share used up at nagoya");
	ck_assert_int_eq(h[1].end.last_error_time, 1764000080);
	free(h);

	/* No path: nulls. */
	ck_assert_int_eq(parse(DOC("", ",\"relays\":[{\"name\":\"kobe\","
				   "\"peer\":\"kobe\",\"path\":null,\"bottleneck\":null,"
				   "\"bottleneck_rate\":null,\"path_in\":null,"
				   "\"path_changed\":null,\"last_error\":"
				   "\"no path to kobe: link nagoya-osaka is down\","
				   "\"last_error_time\":null}]"), &h, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(h[0].e2e);
	ck_assert_str_eq(h[0].end.path, "");
	ck_assert_uint_eq(h[0].end.bottleneck_rate, 0);
	ck_assert_int_eq(h[0].end.path_changed, 0);
	free(h);
}
END_TEST

START_TEST(parse_relay_bad)
{
	static const char *const bad[] = {
		DOC(LINK, ",\"relays\":{}"),
		DOC(LINK, ",\"relays\":[1]"),
		DOC(LINK, ",\"relays\":[{\"peer\":\"kobe\"}]"),
		/* one name twice: a link pool and an end-to-end pool */
		DOC(LINK, ",\"relays\":[{\"name\":\"nagoya\"}]"),
		DOC(LINK, ",\"relays\":[{\"name\":\"k\",\"path\":\"a \\\"b\"}]"),
		DOC(LINK, ",\"relays\":[{\"name\":\"k\",\"peer\":\"a b\"}]"),
		DOC(LINK, ",\"relays\":[{\"name\":\"k\",\"peer\":\"a\\u00e9\"}]"),
		DOC(LINK, ",\"relays\":[{\"name\":\"k\",\"committed\":-1}]"),
		DOC(LINK, ",\"relays\":[{\"name\":\"k\",\"hold\":1.5}]"),
		DOC(LINK, ",\"relays\":[{\"name\":\"k\",\"filling\":1}]"),
		DOC("{\"name\":\"a\",\"source_ok\":true,\"peer_out_connected\":true,"
		    "\"peer_in_connected\":true,\"relay\":[]}", ""),
		DOC("{\"name\":\"a\",\"source_ok\":true,\"peer_out_connected\":true,"
		    "\"peer_in_connected\":true,\"relay\":{\"share\":101}}", ""),
		DOC("{\"name\":\"a\",\"source_ok\":true,\"peer_out_connected\":true,"
		    "\"peer_in_connected\":true,\"relay\":{\"taken_in\":\"1\"}}", ""),
	};
	struct linkd_health *h;
	char err[128];
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(linkd_status_parse(bad[i], strlen(bad[i]), &h, &n,
						 err, sizeof(err)) == -1,
			      "accepted: %s", bad[i]);
		ck_assert_ptr_null(h);
		ck_assert(err[0]);
	}
	/* The longest path qkd-linkd writes (32 names of 64) is read whole. */
	{
		char doc[8192], path[LINKD_PATH_LEN];

		for (int i = 0; i < 32; i++) {
			memset(path + i * 65, 'a' + i % 26, 64);
			path[i * 65 + 64] = i == 31 ? '\0' : ' ';
		}
		snprintf(doc, sizeof(doc), DOC("", ",\"relays\":[{\"name\":\"k\","
			 "\"path\":\"%s\",\"path_in\":\"%s\"}]"), path, path);
		ck_assert_int_eq(linkd_status_parse(doc, strlen(doc), &h, &n,
						    err, sizeof(err)), 0);
		ck_assert_str_eq(h[0].end.path, path);
		ck_assert_str_eq(h[0].end.path_in, path);
		free(h);
	}
	/* A longer path is refused rather than cut. */
	{
		char doc[4096], path[LINKD_PATH_LEN + 8];

		memset(path, 'a', sizeof(path) - 1);
		path[sizeof(path) - 1] = '\0';
		snprintf(doc, sizeof(doc), DOC("", ",\"relays\":[{\"name\":\"k\","
			 "\"path\":\"%s\"}]"), path);
		ck_assert_int_eq(linkd_status_parse(doc, strlen(doc), &h, &n,
						    err, sizeof(err)), -1);
	}
}
END_TEST

enum { SHOW, JSON, METRICS };

static char *render(int mode, const struct qkd_pool_info *p,
		    const struct linkd_health *h, size_t n)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < n && mode != METRICS; i++) {
		if (mode == JSON) {
			fmt_linkd_json(f, &h[i]);
			fputc('\n', f);
		} else {
			fmt_linkd_show(f, &h[i], false);
		}
	}
	if (mode == METRICS)
		fmt_linkd_metrics(f, p, n, h);
	fclose(f);
	return out;
}

/* The link pool and the end-to-end pool, read 2 s after the write. */
static struct linkd_health *two(struct qkd_pool_info p[2])
{
	struct linkd_health *h;
	size_t n;

	ck_assert_int_eq(parse(DOC(LINK, ",\"relays\":[" E2E "]"), &h, &n), 0);
	for (size_t i = 0; i < 2; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		snprintf(p[i].name, sizeof(p[i].name), "%s", h[i].name);
		h[i].now = 1764000102;
	}
	return h;
}

START_TEST(show_relay)
{
	struct qkd_pool_info p[2];
	struct linkd_health *h = two(p);
	char *out = render(SHOW, p, h, 2);

	ck_assert_str_eq(out,
"  qkd-linkd: KME up, peer connected, last refill out 12s ago, in 7s ago\n"
"  qkd-linkd relay via nagoya: share 50%, reserve 32, bucket 12 keys; link keys taken for relaying out 108, in 90\n"
"  qkd-linkd relay to kobe: path tokyo nagoya osaka kobe (bottleneck nagoya-osaka, 1 Mbit/s), since 1m02s ago\n"
"  qkd-linkd relay: out origin, in far-end (last over kobe osaka nagoya tokyo); transfers 6 committed, 1 dropped, 2 expired, 2 aborted; keys relayed out 96, in 80\n"
"  qkd-linkd relay last error (22s ago): transfer 3: relay share used up at nagoya\n");
	free(out);
	/* No path, holding after refusals, a rate that is not round. */
	h[1].end.path[0] = h[1].end.path_in[0] = h[1].end.last_error[0] = '\0';
	h[1].end.hold = 4;
	out = render(SHOW, p + 1, h + 1, 1);
	ck_assert_str_eq(out,
"  qkd-linkd relay to kobe: NO PATH (since 1m02s ago)\n"
"  qkd-linkd relay: out origin, in far-end; transfers 6 committed, 1 dropped, 2 expired, 2 aborted; keys relayed out 96, in 80; holding 4 s after refusals\n");
	free(out);
	snprintf(h[1].end.path, sizeof(h[1].end.path), "a b");
	h[1].end.bottleneck_rate = 2500000000ULL;
	out = render(SHOW, p + 1, h + 1, 1);
	ck_assert_ptr_nonnull(strstr(out, "(bottleneck nagoya-osaka, 2.5 Gbit/s)"));
	free(out);
	/* A stale status: the end-to-end pool says so as a link pool does. */
	h[1].state = LINKD_STALE;
	out = render(SHOW, p + 1, h + 1, 1);
	ck_assert_str_eq(out, "  qkd-linkd: stale: no status for 2s (not running?)\n");
	free(out);
	free(h);
}
END_TEST

START_TEST(json_relay)
{
	struct qkd_pool_info p[2];
	struct linkd_health *h = two(p);
	char *out = render(JSON, p, h, 2);

	ck_assert_ptr_nonnull(strstr(out,
"\"peer_errors\":0,\"relay\":{\"node\":\"nagoya\",\"share\":50,\"reserve\":32,"
"\"bucket\":12,\"taken_out\":108,\"taken_in\":90}}\n"));
	ck_assert_ptr_nonnull(strstr(out,
"\n{\"state\":\"running\",\"status_time\":1764000100,\"status_age\":2,\"pid\":4242,"
"\"end_to_end\":{\"peer\":\"kobe\",\"role_out\":\"origin\",\"role_in\":\"far-end\","
"\"path\":[\"tokyo\",\"nagoya\",\"osaka\",\"kobe\"],\"bottleneck\":\"nagoya-osaka\","
"\"bottleneck_rate\":1000000,\"path_in\":[\"kobe\",\"osaka\",\"nagoya\",\"tokyo\"],"
"\"path_changes\":1,\"path_changed\":1764000040,\"filling\":false,\"in_flight\":0,"
"\"hold\":0,\"transfers\":{\"committed\":6,\"dropped\":1,\"expired\":2,\"aborted\":2},"
"\"keys_out\":96,\"keys_in\":80,\"last_error\":\"transfer 3: relay share used up at nagoya\","
"\"last_error_time\":1764000080}}\n"));
	/* An end-to-end pool has no KME or peer channel of its own. */
	ck_assert_ptr_null(strstr(strchr(out, '\n'), "kme_up"));
	free(out);
	h[1].end.path[0] = h[1].end.bottleneck[0] = '\0';
	h[1].end.bottleneck_rate = 0;
	out = render(JSON, p + 1, h + 1, 1);
	ck_assert_ptr_nonnull(strstr(out,
"\"path\":null,\"bottleneck\":null,\"bottleneck_rate\":null,"));
	free(out);
	free(h);
}
END_TEST

START_TEST(metrics_relay)
{
	struct qkd_pool_info p[2];
	struct linkd_health *h = two(p);
	char *out = render(METRICS, p, h, 2);

	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_up gauge\n"
"qkd_linkd_up{pool=\"nagoya\"} 1\n"
"qkd_linkd_up{pool=\"kobe\"} 1\n"));
	/* The link pools' families have no end-to-end pool's series. */
	ck_assert_ptr_null(strstr(out, "qkd_linkd_kme_up{pool=\"kobe\""));
	ck_assert_ptr_null(strstr(out, "qkd_linkd_peer_errors_total{pool=\"kobe\""));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_relay_share_percent gauge\n"
"qkd_linkd_relay_share_percent{pool=\"nagoya\"} 50\n# HELP"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_relay_reserve_keys gauge\n"
"qkd_linkd_relay_reserve_keys{pool=\"nagoya\"} 32\n# HELP"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_relay_bucket_keys gauge\n"
"qkd_linkd_relay_bucket_keys{pool=\"nagoya\"} 12\n# HELP"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_relay_link_keys_taken_total counter\n"
"qkd_linkd_relay_link_keys_taken_total{pool=\"nagoya\",direction=\"out\"} 108\n"
"qkd_linkd_relay_link_keys_taken_total{pool=\"nagoya\",direction=\"in\"} 90\n# HELP"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_relay_path_info gauge\n"
"qkd_linkd_relay_path_info{pool=\"kobe\",path=\"tokyo nagoya osaka kobe\",bottleneck=\"nagoya-osaka\"} 1\n# HELP"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_relay_bottleneck_rate_bits_per_second gauge\n"
"qkd_linkd_relay_bottleneck_rate_bits_per_second{pool=\"kobe\"} 1000000\n# HELP"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_relay_path_changes_total counter\n"
"qkd_linkd_relay_path_changes_total{pool=\"kobe\"} 1\n# HELP"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_relay_path_change_timestamp_seconds gauge\n"
"qkd_linkd_relay_path_change_timestamp_seconds{pool=\"kobe\"} 1764000040\n# HELP"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_relay_transfers_total counter\n"
"qkd_linkd_relay_transfers_total{pool=\"kobe\",result=\"committed\"} 6\n"
"qkd_linkd_relay_transfers_total{pool=\"kobe\",result=\"dropped\"} 1\n"
"qkd_linkd_relay_transfers_total{pool=\"kobe\",result=\"expired\"} 2\n"
"qkd_linkd_relay_transfers_total{pool=\"kobe\",result=\"aborted\"} 2\n# HELP"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_relay_keys_total counter\n"
"qkd_linkd_relay_keys_total{pool=\"kobe\",direction=\"out\"} 96\n"
"qkd_linkd_relay_keys_total{pool=\"kobe\",direction=\"in\"} 80\n# HELP"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_relay_last_error_timestamp_seconds gauge\n"
"qkd_linkd_relay_last_error_timestamp_seconds{pool=\"kobe\"} 1764000080\n"));
	free(out);
	/* No path: no path or rate series; stale: up and age only. */
	h[1].end.path[0] = '\0';
	out = render(METRICS, p, h, 2);
	ck_assert_ptr_null(strstr(out, "qkd_linkd_relay_path_info{"));
	ck_assert_ptr_null(strstr(out, "qkd_linkd_relay_bottleneck_rate_bits_per_second{"));
	free(out);
	h[0].state = h[1].state = LINKD_STALE;
	out = render(METRICS, p, h, 2);
	ck_assert_ptr_null(strstr(out, "qkd_linkd_relay_share_percent{"));
	ck_assert_ptr_null(strstr(out, "qkd_linkd_relay_keys_total{"));
	ck_assert_ptr_nonnull(strstr(out, "qkd_linkd_up{pool=\"kobe\"} 0\n"));
	free(out);
	free(h);
}
END_TEST

Suite *relay_status_suite(void)
{
	Suite *s = suite_create("relay_status");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, parse_relay);
	tcase_add_test(tc, parse_relay_bad);
	tcase_add_test(tc, show_relay);
	tcase_add_test(tc, json_relay);
	tcase_add_test(tc, metrics_relay);
	suite_add_tcase(s, tc);
	return s;
}
