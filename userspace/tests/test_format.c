// SPDX-License-Identifier: GPL-2.0
/*
 * Every output mode against the text a person or a program reads.  The
 * sample pool is kmsg_sample_pool(): outbound ok and filling, inbound low
 * and draining (10 minutes to empty).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests.h"
#include "qkdctl.h"
#include "kmsg.h"

enum { SHOW, SHOW_COLOUR, JSON, DUMP, METRICS };

static char *render_ns(int mode, const struct qkd_pool_info *p, size_t n,
		       const struct qkd_ke_stats *ns)
{
	struct fmt_opts opts = { .colour = mode == SHOW_COLOUR };
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(f);
	switch (mode) {
	case SHOW:
	case SHOW_COLOUR:
		fmt_show(f, p, n, ns, NULL, &opts);
		break;
	case JSON:
		fmt_json(f, p, n, ns, NULL);
		break;
	case DUMP:
		fmt_dump(f, p, n);
		break;
	case METRICS:
		fmt_metrics(f, p, n, ns, NULL);
		break;
	}
	fclose(f);
	return out;
}

/* Without the namespace's counters (a module without ke-stats-get). */
static char *render(int mode, const struct qkd_pool_info *p, size_t n)
{
	return render_ns(mode, p, n, NULL);
}

static void two_pools(struct qkd_pool_info p[2])
{
	kmsg_sample_pool(&p[0]);
	memset(&p[1], 0, sizeof(p[1]));
	p[1].id = 12;
	strcpy(p[1].name, "peer-b");
	p[1].key_size = 32;
	p[1].capacity = 64;
	p[1].low_watermark = 16;
	p[1].high_watermark = 48;
	p[1].dir[0].state = QKD_STATE_EMPTY;
	p[1].dir[1].state = QKD_STATE_EMPTY;
	p[1].dir[0].missed = 123456789012ULL;
}

START_TEST(show_text)
{
	struct qkd_pool_info p[2];
	char *out;

	two_pools(p);
	out = render(SHOW, p, 2);
	ck_assert_str_eq(out,
"pool: tokyo-osaka (id 3)\n"
"  key size 32 B, capacity 4096, watermarks low 1024 high 3072, max age 1h00m\n"
"  dir      level  state  fill/s  burn/s  empty in  added  taken  expired  flushed  rejected  missed\n"
"  out  3000/4096  ok     12.500   2.000         -   3500    500        0        0         0       0\n"
"  in    900/4096  low     1.000   2.500    10m00s   5000   4000       60       40         2       7\n"
"  key exchanges: 120 qkd, 9 fallback (1 tag mismatch), 2 refused\n"
"  without QKD by reason: 4 pool empty, 2 unknown key ID, 1 tag mismatch, 4 unspecified\n"
"\n"
"pool: peer-b (id 12)\n"
"  key size 32 B, capacity 64, watermarks low 16 high 48, max age never\n"
"  dir  level  state  fill/s  burn/s  empty in  added  taken  expired  flushed  rejected        missed\n"
"  out   0/64  empty   0.000   0.000         -      0      0        0        0         0  123456789012\n"
"  in    0/64  empty   0.000   0.000         -      0      0        0        0         0             0\n");
	free(out);
	out = render(SHOW, p, 0);
	ck_assert_str_eq(out, "");
	free(out);
}
END_TEST

START_TEST(show_colour)
{
	struct qkd_pool_info p[2];
	char *out;

	two_pools(p);
	out = render(SHOW_COLOUR, p, 1);
	ck_assert_ptr_nonnull(strstr(out, "\033[1m\033[32mtokyo-osaka\033[0m"));
	ck_assert_ptr_nonnull(strstr(out, "  \033[32mok\033[0m     12.500"));
	ck_assert_ptr_nonnull(strstr(out, "  \033[33mlow\033[0m     1.000"));
	/* A tag mismatch is an alarm: red. */
	ck_assert_ptr_nonnull(strstr(out, "(\033[31m1 tag mismatch\033[0m)"));
	free(out);
	out = render(SHOW_COLOUR, p + 1, 1);
	ck_assert_ptr_nonnull(strstr(out, "\033[31mempty\033[0m"));
	free(out);
	/* None: no colour. */
	p[0].ke.tag_mismatch = 0;
	out = render(SHOW_COLOUR, p, 1);
	ck_assert_ptr_nonnull(strstr(out, " (0 tag mismatch), "));
	free(out);
	/* Without colour there is no escape at all. */
	out = render(SHOW, p, 2);
	ck_assert_ptr_null(strchr(out, '\033'));
	free(out);
}
END_TEST

START_TEST(json)
{
	struct qkd_pool_info p[2];
	char *out;

	two_pools(p);
	out = render(JSON, p, 2);
	ck_assert_str_eq(out,
"{\"pools\":["
"{\"id\":3,\"name\":\"tokyo-osaka\",\"key_size\":32,\"capacity\":4096,"
"\"low_watermark\":1024,\"high_watermark\":3072,\"max_age\":3600,"
"\"out\":{\"level\":3000,\"state\":\"ok\",\"added\":3500,\"taken\":500,"
"\"expired\":0,\"flushed\":0,\"rejected\":0,\"missed\":0,"
"\"bytes_added\":112000,\"bytes_taken\":16000,"
"\"fill_rate_per_1000s\":12500,\"burn_rate_per_1000s\":2000,"
"\"time_to_empty\":null},"
"\"in\":{\"level\":900,\"state\":\"low\",\"added\":5000,\"taken\":4000,"
"\"expired\":60,\"flushed\":40,\"rejected\":2,\"missed\":7,"
"\"bytes_added\":160000,\"bytes_taken\":128000,"
"\"fill_rate_per_1000s\":1000,\"burn_rate_per_1000s\":2500,"
"\"time_to_empty\":600},"
"\"key_exchanges\":{\"qkd\":120,\"fallback\":9,\"tag_mismatch\":1,"
"\"refused\":2,\"reasons\":{\"no_offer\":0,\"no_pool\":0,\"empty\":4,"
"\"unknown_key\":2,\"tag_mismatch\":1,\"pool_error\":0,\"version\":0,"
"\"pre_auth_mismatch\":0,\"peer_unknown\":0,\"unspecified\":4}}},"
"{\"id\":12,\"name\":\"peer-b\",\"key_size\":32,\"capacity\":64,"
"\"low_watermark\":16,\"high_watermark\":48,\"max_age\":0,"
"\"out\":{\"level\":0,\"state\":\"empty\",\"added\":0,\"taken\":0,"
"\"expired\":0,\"flushed\":0,\"rejected\":0,\"missed\":123456789012,"
"\"bytes_added\":0,\"bytes_taken\":0,"
"\"fill_rate_per_1000s\":0,\"burn_rate_per_1000s\":0,"
"\"time_to_empty\":null},"
"\"in\":{\"level\":0,\"state\":\"empty\",\"added\":0,\"taken\":0,"
"\"expired\":0,\"flushed\":0,\"rejected\":0,\"missed\":0,"
"\"bytes_added\":0,\"bytes_taken\":0,"
"\"fill_rate_per_1000s\":0,\"burn_rate_per_1000s\":0,"
"\"time_to_empty\":null},\"key_exchanges\":null}"
"],\"key_exchanges_without_pool\":null}\n");
	free(out);
	out = render(JSON, p, 0);
	ck_assert_str_eq(out, "{\"pools\":[],\"key_exchanges_without_pool\":null}\n");
	free(out);
}
END_TEST

START_TEST(json_escaping)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	fmt_json_string(f, "a\"b\\c\n\x01\x7f");
	fclose(f);
	ck_assert_str_eq(out, "\"a\\\"b\\\\c\\u000a\\u0001\\u007f\"");
	free(out);
}
END_TEST

START_TEST(dump)
{
	struct qkd_pool_info p[2];
	char *out;

	two_pools(p);
	out = render(DUMP, p, 2);
	ck_assert_str_eq(out,
"tokyo-osaka\t3\tout\t32\t4096\t1024\t3072\t3600\t3000\tok\t3500\t500\t0\t0\t0\t0\t112000\t16000\t12500\t2000\t-\t120\t9\t1\t2\t0\t0\t4\t2\t1\t0\t0\t0\t0\t4\n"
"tokyo-osaka\t3\tin\t32\t4096\t1024\t3072\t3600\t900\tlow\t5000\t4000\t60\t40\t2\t7\t160000\t128000\t1000\t2500\t600\t120\t9\t1\t2\t0\t0\t4\t2\t1\t0\t0\t0\t0\t4\n"
"peer-b\t12\tout\t32\t64\t16\t48\t0\t0\tempty\t0\t0\t0\t0\t0\t123456789012\t0\t0\t0\t0\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\n"
"peer-b\t12\tin\t32\t64\t16\t48\t0\t0\tempty\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\n");
	free(out);
}
END_TEST

/* Every line of the dump has the documented 35 columns. */
START_TEST(dump_columns)
{
	struct qkd_pool_info p[2];
	char *out, *line, *save = NULL;

	two_pools(p);
	out = render(DUMP, p, 2);
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		int tabs = 0;

		for (char *c = line; *c; c++)
			tabs += *c == '\t';
		ck_assert_int_eq(tabs, 34);
	}
	free(out);
}
END_TEST

START_TEST(metrics)
{
	struct qkd_pool_info p[2];
	char *out;

	two_pools(p);
	out = render(METRICS, p, 1);
	ck_assert_str_eq(out,
"# HELP qkd_pool_keys Keys held now.\n"
"# TYPE qkd_pool_keys gauge\n"
"qkd_pool_keys{pool=\"tokyo-osaka\",direction=\"out\"} 3000\n"
"qkd_pool_keys{pool=\"tokyo-osaka\",direction=\"in\"} 900\n"
"# HELP qkd_pool_capacity_keys Most keys the direction holds.\n"
"# TYPE qkd_pool_capacity_keys gauge\n"
"qkd_pool_capacity_keys{pool=\"tokyo-osaka\",direction=\"out\"} 4096\n"
"qkd_pool_capacity_keys{pool=\"tokyo-osaka\",direction=\"in\"} 4096\n"
"# HELP qkd_pool_low_watermark_keys A level below this raises a low event.\n"
"# TYPE qkd_pool_low_watermark_keys gauge\n"
"qkd_pool_low_watermark_keys{pool=\"tokyo-osaka\",direction=\"out\"} 1024\n"
"qkd_pool_low_watermark_keys{pool=\"tokyo-osaka\",direction=\"in\"} 1024\n"
"# HELP qkd_pool_high_watermark_keys A level at or above this after a low event raises a refilled event.\n"
"# TYPE qkd_pool_high_watermark_keys gauge\n"
"qkd_pool_high_watermark_keys{pool=\"tokyo-osaka\",direction=\"out\"} 3072\n"
"qkd_pool_high_watermark_keys{pool=\"tokyo-osaka\",direction=\"in\"} 3072\n"
"# HELP qkd_pool_key_size_bytes Bytes of material per key.\n"
"# TYPE qkd_pool_key_size_bytes gauge\n"
"qkd_pool_key_size_bytes{pool=\"tokyo-osaka\",direction=\"out\"} 32\n"
"qkd_pool_key_size_bytes{pool=\"tokyo-osaka\",direction=\"in\"} 32\n"
"# HELP qkd_pool_max_age_seconds Seconds a key may be held; 0 keeps keys forever.\n"
"# TYPE qkd_pool_max_age_seconds gauge\n"
"qkd_pool_max_age_seconds{pool=\"tokyo-osaka\",direction=\"out\"} 3600\n"
"qkd_pool_max_age_seconds{pool=\"tokyo-osaka\",direction=\"in\"} 3600\n"
"# HELP qkd_pool_state Fill state: 0 ok, 1 low, 2 empty.\n"
"# TYPE qkd_pool_state gauge\n"
"qkd_pool_state{pool=\"tokyo-osaka\",direction=\"out\"} 0\n"
"qkd_pool_state{pool=\"tokyo-osaka\",direction=\"in\"} 1\n"
"# HELP qkd_pool_keys_added_total Keys added.\n"
"# TYPE qkd_pool_keys_added_total counter\n"
"qkd_pool_keys_added_total{pool=\"tokyo-osaka\",direction=\"out\"} 3500\n"
"qkd_pool_keys_added_total{pool=\"tokyo-osaka\",direction=\"in\"} 5000\n"
"# HELP qkd_pool_keys_taken_total Keys taken.\n"
"# TYPE qkd_pool_keys_taken_total counter\n"
"qkd_pool_keys_taken_total{pool=\"tokyo-osaka\",direction=\"out\"} 500\n"
"qkd_pool_keys_taken_total{pool=\"tokyo-osaka\",direction=\"in\"} 4000\n"
"# HELP qkd_pool_keys_expired_total Keys wiped because they reached the maximum age.\n"
"# TYPE qkd_pool_keys_expired_total counter\n"
"qkd_pool_keys_expired_total{pool=\"tokyo-osaka\",direction=\"out\"} 0\n"
"qkd_pool_keys_expired_total{pool=\"tokyo-osaka\",direction=\"in\"} 60\n"
"# HELP qkd_pool_keys_flushed_total Keys wiped by a flush or a change of key size.\n"
"# TYPE qkd_pool_keys_flushed_total counter\n"
"qkd_pool_keys_flushed_total{pool=\"tokyo-osaka\",direction=\"out\"} 0\n"
"qkd_pool_keys_flushed_total{pool=\"tokyo-osaka\",direction=\"in\"} 40\n"
"# HELP qkd_pool_keys_rejected_total Keys of refused add requests, and inbound takes refused for a wrong tag.\n"
"# TYPE qkd_pool_keys_rejected_total counter\n"
"qkd_pool_keys_rejected_total{pool=\"tokyo-osaka\",direction=\"out\"} 0\n"
"qkd_pool_keys_rejected_total{pool=\"tokyo-osaka\",direction=\"in\"} 2\n"
"# HELP qkd_pool_takes_missed_total Takes that found no key.\n"
"# TYPE qkd_pool_takes_missed_total counter\n"
"qkd_pool_takes_missed_total{pool=\"tokyo-osaka\",direction=\"out\"} 0\n"
"qkd_pool_takes_missed_total{pool=\"tokyo-osaka\",direction=\"in\"} 7\n"
"# HELP qkd_pool_bytes_added_total Bytes of key material added.\n"
"# TYPE qkd_pool_bytes_added_total counter\n"
"qkd_pool_bytes_added_total{pool=\"tokyo-osaka\",direction=\"out\"} 112000\n"
"qkd_pool_bytes_added_total{pool=\"tokyo-osaka\",direction=\"in\"} 160000\n"
"# HELP qkd_pool_bytes_taken_total Bytes of key material taken.\n"
"# TYPE qkd_pool_bytes_taken_total counter\n"
"qkd_pool_bytes_taken_total{pool=\"tokyo-osaka\",direction=\"out\"} 16000\n"
"qkd_pool_bytes_taken_total{pool=\"tokyo-osaka\",direction=\"in\"} 128000\n"
"# HELP qkd_pool_fill_rate_keys_per_second Keys added per second over the kernel's rate window.\n"
"# TYPE qkd_pool_fill_rate_keys_per_second gauge\n"
"qkd_pool_fill_rate_keys_per_second{pool=\"tokyo-osaka\",direction=\"out\"} 12.500\n"
"qkd_pool_fill_rate_keys_per_second{pool=\"tokyo-osaka\",direction=\"in\"} 1.000\n"
"# HELP qkd_pool_burn_rate_keys_per_second Keys taken or expired per second over the kernel's rate window.\n"
"# TYPE qkd_pool_burn_rate_keys_per_second gauge\n"
"qkd_pool_burn_rate_keys_per_second{pool=\"tokyo-osaka\",direction=\"out\"} 2.000\n"
"qkd_pool_burn_rate_keys_per_second{pool=\"tokyo-osaka\",direction=\"in\"} 2.500\n"
"# HELP qkd_pool_time_to_empty_seconds Estimated seconds until the direction is empty; +Inf when not draining.\n"
"# TYPE qkd_pool_time_to_empty_seconds gauge\n"
"qkd_pool_time_to_empty_seconds{pool=\"tokyo-osaka\",direction=\"out\"} +Inf\n"
"qkd_pool_time_to_empty_seconds{pool=\"tokyo-osaka\",direction=\"in\"} 600\n"
"# HELP qkd_pool_key_exchanges_total IKE key exchanges by outcome (a tag_mismatch is also a fallback).\n"
"# TYPE qkd_pool_key_exchanges_total counter\n"
"qkd_pool_key_exchanges_total{pool=\"tokyo-osaka\",outcome=\"qkd\"} 120\n"
"qkd_pool_key_exchanges_total{pool=\"tokyo-osaka\",outcome=\"fallback\"} 9\n"
"qkd_pool_key_exchanges_total{pool=\"tokyo-osaka\",outcome=\"tag_mismatch\"} 1\n"
"qkd_pool_key_exchanges_total{pool=\"tokyo-osaka\",outcome=\"refused\"} 2\n"
"# HELP qkd_pool_key_exchanges_without_qkd_total IKE key exchanges of the pool without a QKD key (fallback or refused) by reason.\n"
"# TYPE qkd_pool_key_exchanges_without_qkd_total counter\n"
"qkd_pool_key_exchanges_without_qkd_total{pool=\"tokyo-osaka\",reason=\"no_offer\"} 0\n"
"qkd_pool_key_exchanges_without_qkd_total{pool=\"tokyo-osaka\",reason=\"no_pool\"} 0\n"
"qkd_pool_key_exchanges_without_qkd_total{pool=\"tokyo-osaka\",reason=\"empty\"} 4\n"
"qkd_pool_key_exchanges_without_qkd_total{pool=\"tokyo-osaka\",reason=\"unknown_key\"} 2\n"
"qkd_pool_key_exchanges_without_qkd_total{pool=\"tokyo-osaka\",reason=\"tag_mismatch\"} 1\n"
"qkd_pool_key_exchanges_without_qkd_total{pool=\"tokyo-osaka\",reason=\"pool_error\"} 0\n"
"qkd_pool_key_exchanges_without_qkd_total{pool=\"tokyo-osaka\",reason=\"version\"} 0\n"
"qkd_pool_key_exchanges_without_qkd_total{pool=\"tokyo-osaka\",reason=\"pre_auth_mismatch\"} 0\n"
"qkd_pool_key_exchanges_without_qkd_total{pool=\"tokyo-osaka\",reason=\"peer_unknown\"} 0\n"
"qkd_pool_key_exchanges_without_qkd_total{pool=\"tokyo-osaka\",reason=\"unspecified\"} 4\n"
"# HELP qkd_key_exchanges_without_pool_total IKE key exchanges of the network namespace that had no pool, by reason.\n"
"# TYPE qkd_key_exchanges_without_pool_total counter\n");
	free(out);
}
END_TEST

/* Without pools: only HELP and TYPE lines, 21 metrics. */
START_TEST(metrics_empty_and_labels)
{
	struct qkd_pool_info p[2];
	char *out;
	int lines = 0;

	out = render(METRICS, NULL, 0);
	for (char *c = out; *c; c++)
		lines += *c == '\n';
	ck_assert_int_eq(lines, 42);
	free(out);

	two_pools(p);
	strcpy(p[1].name, "a\"b\\c");	/* escaped in label values */
	out = render(METRICS, p + 1, 1);
	ck_assert_ptr_nonnull(strstr(out, "qkd_pool_keys{pool=\"a\\\"b\\\\c\",direction=\"in\"} 0\n"));
	free(out);
}
END_TEST

/* The reasons line: only reasons that are not zero, in enum order. */
START_TEST(show_reasons)
{
	struct qkd_pool_info p[2];
	char *out;

	two_pools(p);
	memset(p[0].ke.reasons, 0, sizeof(p[0].ke.reasons));
	p[0].ke.fallback = 3;
	p[0].ke.refused = 1;
	p[0].ke.reasons[QKD_KE_REASON_EMPTY] = 3;
	p[0].ke.reasons[QKD_KE_REASON_UNKNOWN_KEY] = 1;
	out = render(SHOW, p, 1);
	ck_assert_ptr_nonnull(strstr(out,
"  key exchanges: 120 qkd, 3 fallback (1 tag mismatch), 1 refused\n"
"  without QKD by reason: 3 pool empty, 1 unknown key ID\n"));
	free(out);

	/* Every reason, and reports without one. */
	for (int r = 1; r <= QKD_KE_REASON_MAX; r++)
		p[0].ke.reasons[r] = (uint64_t)r;
	p[0].ke.fallback = 50;
	out = render(SHOW, p, 1);
	ck_assert_ptr_nonnull(strstr(out,
"  without QKD by reason: 1 no key offered, 2 no pool, 3 pool empty, "
"4 unknown key ID, 5 tag mismatch, 6 pool error, 7 unsupported version, "
"8 pre-auth pool mismatch, 9 peer unknown before auth, 6 unspecified\n"));
	free(out);

	/* All zero, or a module without reasons: no line. */
	memset(p[0].ke.reasons, 0, sizeof(p[0].ke.reasons));
	p[0].ke.fallback = p[0].ke.refused = p[0].ke.tag_mismatch = 0;
	out = render(SHOW, p, 1);
	ck_assert_ptr_null(strstr(out, "by reason"));
	free(out);
	kmsg_sample_pool(&p[0]);
	p[0].ke.has_reasons = false;
	out = render(SHOW, p, 1);
	ck_assert_ptr_null(strstr(out, "by reason"));
	ck_assert_ptr_nonnull(strstr(out, "  key exchanges: 120 qkd"));
	free(out);
}
END_TEST

/* The namespace's exchanges that had no pool, in each output mode. */
START_TEST(no_pool_outputs)
{
	struct qkd_pool_info p[2];
	struct qkd_ke_stats ns;
	char *out;

	two_pools(p);
	kmsg_sample_ke_no_pool(&ns);
	out = render_ns(SHOW, p + 1, 1, &ns);
	ck_assert_ptr_nonnull(strstr(out,
"  in    0/64  empty   0.000   0.000         -      0      0        0        0         0             0\n"
"\n"
"key exchanges with no pool: 6\n"
"  without QKD by reason: 4 no pool, 1 peer unknown before auth, 1 unspecified\n"));
	free(out);
	/* Without pools: the namespace line alone. */
	out = render_ns(SHOW, NULL, 0, &ns);
	ck_assert_str_eq(out,
"key exchanges with no pool: 6\n"
"  without QKD by reason: 4 no pool, 1 peer unknown before auth, 1 unspecified\n");
	free(out);
	/* None, or not known: no line. */
	memset(&ns, 0, sizeof(ns));
	ns.present = ns.has_reasons = true;
	out = render_ns(SHOW, NULL, 0, &ns);
	ck_assert_str_eq(out, "");
	free(out);

	kmsg_sample_ke_no_pool(&ns);
	out = render_ns(JSON, NULL, 0, &ns);
	ck_assert_str_eq(out,
"{\"pools\":[],\"key_exchanges_without_pool\":{\"qkd\":0,\"fallback\":5,"
"\"tag_mismatch\":0,\"refused\":1,\"reasons\":{\"no_offer\":0,"
"\"no_pool\":4,\"empty\":0,\"unknown_key\":0,\"tag_mismatch\":0,"
"\"pool_error\":0,\"version\":0,\"pre_auth_mismatch\":0,"
"\"peer_unknown\":1,\"unspecified\":1}}}\n");
	free(out);

	out = render_ns(METRICS, NULL, 0, &ns);
	ck_assert_ptr_nonnull(strstr(out,
"# HELP qkd_key_exchanges_without_pool_total IKE key exchanges of the network namespace that had no pool, by reason.\n"
"# TYPE qkd_key_exchanges_without_pool_total counter\n"
"qkd_key_exchanges_without_pool_total{reason=\"no_offer\"} 0\n"
"qkd_key_exchanges_without_pool_total{reason=\"no_pool\"} 4\n"
"qkd_key_exchanges_without_pool_total{reason=\"empty\"} 0\n"
"qkd_key_exchanges_without_pool_total{reason=\"unknown_key\"} 0\n"
"qkd_key_exchanges_without_pool_total{reason=\"tag_mismatch\"} 0\n"
"qkd_key_exchanges_without_pool_total{reason=\"pool_error\"} 0\n"
"qkd_key_exchanges_without_pool_total{reason=\"version\"} 0\n"
"qkd_key_exchanges_without_pool_total{reason=\"pre_auth_mismatch\"} 0\n"
"qkd_key_exchanges_without_pool_total{reason=\"peer_unknown\"} 1\n"
"qkd_key_exchanges_without_pool_total{reason=\"unspecified\"} 1\n"));
	free(out);

	/* A pool from a module without reasons: JSON null, dump "-". */
	kmsg_sample_pool(&p[0]);
	p[0].ke.has_reasons = false;
	out = render(JSON, p, 1);
	ck_assert_ptr_nonnull(strstr(out, "\"refused\":2,\"reasons\":null}"));
	free(out);
	out = render(DUMP, p, 1);
	ck_assert_ptr_nonnull(strstr(out,
"\t120\t9\t1\t2\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\n"));
	free(out);
	out = render(METRICS, p, 1);
	ck_assert_ptr_null(strstr(out, "qkd_pool_key_exchanges_without_qkd_total{"));
	free(out);
}
END_TEST

START_TEST(notifications)
{
	struct qkd_notification n = {
		.pool_id = 3, .name = "tokyo-osaka", .direction = 1,
		.event = QKD_EVENT_LOW, .count = 900, .has_count = true,
	};
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	fmt_notification(f, &n, false);
	fmt_notification(f, &n, true);
	n.event = QKD_EVENT_REMOVED;
	n.direction = -1;
	n.has_count = false;
	n.name[0] = '\0';
	fmt_notification(f, &n, false);
	fmt_notification(f, &n, true);
	fclose(f);
	ck_assert_str_eq(out,
"low pool=tokyo-osaka id=3 direction=in count=900\n"
"{\"event\":\"low\",\"id\":3,\"pool\":\"tokyo-osaka\",\"direction\":\"in\",\"count\":900}\n"
"removed pool=- id=3\n"
"{\"event\":\"removed\",\"id\":3,\"pool\":null,\"direction\":null,\"count\":null}\n");
	free(out);
}
END_TEST

START_TEST(rates_and_durations)
{
	char b[32];

	fmt_rate(b, sizeof(b), 0);
	ck_assert_str_eq(b, "0.000");
	fmt_rate(b, sizeof(b), 1);
	ck_assert_str_eq(b, "0.001");
	fmt_rate(b, sizeof(b), 13700000);
	ck_assert_str_eq(b, "13700.000");
	fmt_duration(b, sizeof(b), 0);
	ck_assert_str_eq(b, "0s");
	fmt_duration(b, sizeof(b), 59);
	ck_assert_str_eq(b, "59s");
	fmt_duration(b, sizeof(b), 725);
	ck_assert_str_eq(b, "12m05s");
	fmt_duration(b, sizeof(b), 3 * 3600 + 7 * 60 + 59);
	ck_assert_str_eq(b, "3h07m");
	fmt_duration(b, sizeof(b), 2 * 86400 + 4 * 3600 + 1);
	ck_assert_str_eq(b, "2d04h");
}
END_TEST

Suite *format_suite(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("format");

	tcase_add_test(tc, show_text);
	tcase_add_test(tc, show_colour);
	tcase_add_test(tc, json);
	tcase_add_test(tc, json_escaping);
	tcase_add_test(tc, dump);
	tcase_add_test(tc, dump_columns);
	tcase_add_test(tc, metrics);
	tcase_add_test(tc, metrics_empty_and_labels);
	tcase_add_test(tc, show_reasons);
	tcase_add_test(tc, no_pool_outputs);
	tcase_add_test(tc, notifications);
	tcase_add_test(tc, rates_and_durations);
	suite_add_tcase(s, tc);
	return s;
}
