// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-linkd's health in qkdctl: the status file's parser
 * (qkdctl/linkd_status.c), finding and matching status files
 * (qkdctl/health.c) and the three output modes (qkdctl/format_linkd.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "tests.h"
#include "qkdctl.h"

/* What qkd-linkd writes (status.c), one pool. */
#define POOL_A "{\"name\":\"osaka\",\"id\":3,\"last_refill_out\":1764000090," \
	"\"last_refill_in\":1764000095,\"last_error_time\":1764000040," \
	"\"source\":\"etsi014\",\"source_ok\":true,\"peer_out_connected\":true," \
	"\"peer_in_connected\":false,\"master_state\":\"idle\",\"out_level\":6," \
	"\"in_level\":6,\"out_added\":12,\"in_added\":12,\"offers\":4," \
	"\"committed\":12,\"refused\":0,\"aborted\":0,\"received\":12," \
	"\"removed\":0,\"kme_errors\":2,\"peer_errors\":1,\"journal_open\":false," \
	"\"next_seq\":5,\"last_error\":\"KME enc_keys: HTTP 503\"}"
#define DOC(pools) "{\"time\":1764000100,\"interval\":1,\"pid\":4242," \
	"\"netns\":4026531840,\"pools\":[" pools "]}\n"

static int parse(const char *text, struct linkd_health **h, size_t *n,
		 char *err)
{
	return linkd_status_parse(text, strlen(text), h, n, err, 128);
}

START_TEST(parse_good)
{
	struct linkd_health *h;
	char err[128];
	size_t n;

	ck_assert_int_eq(parse(DOC(POOL_A), &h, &n, err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(h[0].state, LINKD_RUNNING);
	ck_assert_int_eq(h[0].time, 1764000100);
	ck_assert_uint_eq(h[0].interval, 1);
	ck_assert_int_eq(h[0].pid, 4242);
	ck_assert_uint_eq(h[0].netns, 4026531840ULL);
	ck_assert_str_eq(h[0].name, "osaka");
	ck_assert(h[0].has_id);
	ck_assert_uint_eq(h[0].id, 3);
	ck_assert(!h[0].stream);
	ck_assert(h[0].kme_up);
	ck_assert(h[0].peer_connected[0]);
	ck_assert(!h[0].peer_connected[1]);
	ck_assert_int_eq(h[0].last_refill[0], 1764000090);
	ck_assert_int_eq(h[0].last_refill[1], 1764000095);
	ck_assert_int_eq(h[0].last_error_time, 1764000040);
	ck_assert_str_eq(h[0].last_error, "KME enc_keys: HTTP 503");
	ck_assert_uint_eq(h[0].kme_errors, 2);
	ck_assert_uint_eq(h[0].peer_errors, 1);
	ck_assert_str_eq(h[0].master_state, "idle");
	ck_assert(!h[0].kme_in_known);		/* not in this file */
	ck_assert_str_eq(h[0].last_error_in, "");
	free(h);

	/* Each role's health: the slave's dec_keys apart (null: no call yet). */
	ck_assert_int_eq(parse("{\"time\":5,\"pools\":[{\"name\":\"a\","
			       "\"source_ok\":true,\"peer_out_connected\":true,"
			       "\"peer_in_connected\":true,\"source_in_ok\":false,"
			       "\"last_error_in\":\"KME dec_keys: HTTP 400\"},"
			       "{\"name\":\"b\",\"source_ok\":true,"
			       "\"peer_out_connected\":true,\"peer_in_connected\":true,"
			       "\"source_in_ok\":null,\"last_error_in\":\"\"}]}",
			       &h, &n, err), 0);
	ck_assert(h[0].kme_up);
	ck_assert(h[0].kme_in_known);
	ck_assert(!h[0].kme_in_up);
	ck_assert_str_eq(h[0].last_error_in, "KME dec_keys: HTTP 400");
	ck_assert(!h[1].kme_in_known);
	free(h);
	ck_assert_int_eq(parse("{\"time\":5,\"pools\":[{\"name\":\"a\","
			       "\"source_ok\":true,\"peer_out_connected\":true,"
			       "\"peer_in_connected\":true,\"source_in_ok\":1}]}",
			       &h, &n, err), -1);

	/* The older format (no interval, pid, netns, id or times) and nulls. */
	ck_assert_int_eq(parse("{\"time\":5,\"pools\":[{\"name\":\"a\",\"source\":\"stream\","
			       "\"source_ok\":false,\"peer_out_connected\":false,"
			       "\"peer_in_connected\":true,\"last_refill_out\":null,"
			       "\"last_error\":\"\"},{\"name\":\"b\",\"source_ok\":true,"
			       "\"peer_out_connected\":true,\"peer_in_connected\":true}]}",
			       &h, &n, err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(h[0].interval, 1);
	ck_assert_int_eq(h[0].pid, 0);
	ck_assert_uint_eq(h[0].netns, 0);
	ck_assert(!h[0].has_id);
	ck_assert(h[0].stream);
	ck_assert(!h[0].kme_up);
	ck_assert(h[0].peer_connected[1]);
	ck_assert_int_eq(h[0].last_refill[0], 0);
	ck_assert(!h[0].relays && !h[0].e2e);	/* before the relay's fields */
	ck_assert_str_eq(h[1].name, "b");
	free(h);

	ck_assert_int_eq(parse("{\"time\":5,\"pools\":[]}", &h, &n, err), 0);
	ck_assert_uint_eq(n, 0);
	free(h);
}
END_TEST

START_TEST(parse_sanitizes_text)
{
	struct linkd_health *h;
	char err[128], doc[1024];
	size_t n;

	/* Control characters and non-ASCII never reach a terminal. */
	snprintf(doc, sizeof(doc), DOC("{\"name\":\"x\",\"source_ok\":true,"
		 "\"peer_out_connected\":true,\"peer_in_connected\":true,"
		 "\"last_error\":\"a\\u001b[31mb\\u00e9\\nc\\u007f\","
		 "\"master_state\":\"a-very-long-state-name\"}"));
	ck_assert_int_eq(parse(doc, &h, &n, err), 0);
	ck_assert_str_eq(h[0].last_error, "a?[31mb???c?");
	ck_assert_str_eq(h[0].master_state, "a-very-long-sta");
	free(h);
}
END_TEST

START_TEST(parse_bad)
{
	static const struct {
		const char *doc;
		const char *err;
	} bad[] = {
		{ "", "not valid JSON" },
		{ "{\"time\":1,\"pools\":[]", "not valid JSON" },
		{ "{\"time\":1,\"pools\":[]} x", "JSON" },
		{ "[1]", "not a JSON object" },
		{ "{\"pools\":[]}", "'time' is missing" },
		{ "{\"time\":\"1\",\"pools\":[]}", "'time' is not an integer" },
		{ "{\"time\":0,\"pools\":[]}", "'time' is out of range" },
		{ "{\"time\":1}", "'pools' is missing" },
		{ "{\"time\":1,\"pools\":{}}", "'pools' is missing or not an array" },
		{ "{\"time\":1,\"interval\":0,\"pools\":[]}", "'interval' is out of range" },
		{ "{\"time\":1,\"pid\":-1,\"pools\":[]}", "'pid' is out of range" },
		{ "{\"time\":1,\"netns\":1.5,\"pools\":[]}", "'netns' is not an integer" },
		{ "{\"time\":18446744073709551615,\"pools\":[]}", "'time' is out of range" },
		{ "{\"time\":1,\"pools\":[1]}", "not an object" },
		{ "{\"time\":1,\"pools\":[{\"source_ok\":true}]}", "'name' is missing" },
		{ "{\"time\":1,\"pools\":[{\"name\":\"\",\"source_ok\":true}]}", "name is empty" },
		{ "{\"time\":1,\"pools\":[{\"name\":\"a\\u0000b\",\"source_ok\":true}]}",
		  "not printable ASCII" },
		{ "{\"time\":1,\"pools\":[{\"name\":\"a\\nb\",\"source_ok\":true}]}",
		  "not printable ASCII" },
		{ "{\"time\":1,\"pools\":[{\"name\":\"a\",\"peer_out_connected\":true,"
		  "\"peer_in_connected\":true}]}", "'source_ok' is missing" },
		{ "{\"time\":1,\"pools\":[{\"name\":\"a\",\"source_ok\":1,"
		  "\"peer_out_connected\":true,\"peer_in_connected\":true}]}",
		  "'source_ok' is missing or not true/false" },
		{ "{\"time\":1,\"pools\":[{\"name\":\"a\",\"id\":4294967296,\"source_ok\":true,"
		  "\"peer_out_connected\":true,\"peer_in_connected\":true}]}",
		  "'id' is out of range" },
		{ "{\"time\":1,\"pools\":[{\"name\":\"a\",\"source_ok\":true,"
		  "\"peer_out_connected\":true,\"peer_in_connected\":true,"
		  "\"last_refill_in\":-5}]}", "'last_refill_in' is out of range" },
		{ "{\"time\":1,\"pools\":[{\"name\":\"a\",\"source_ok\":true,"
		  "\"peer_out_connected\":true,\"peer_in_connected\":true,"
		  "\"last_error\":7}]}", "'last_error' is not a string" },
		{ "{\"time\":1,\"pools\":[{\"name\":\"a\",\"source_ok\":true,"
		  "\"peer_out_connected\":true,\"peer_in_connected\":true},"
		  "{\"name\":\"a\",\"source_ok\":true,\"peer_out_connected\":true,"
		  "\"peer_in_connected\":true}]}", "pool 'a' twice" },
		{ "{\"time\":1,\"pools\":[[[[[[[[[[1]]]]]]]]]]}", "not valid JSON" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct linkd_health *h = (void *)1;
		char err[128] = "";
		size_t n = 9;

		ck_assert_msg(parse(bad[i].doc, &h, &n, err) == -1,
			      "accepted: %s", bad[i].doc);
		ck_assert_ptr_null(h);
		ck_assert_uint_eq(n, 0);
		ck_assert_msg(strstr(err, bad[i].err), "%s: error '%s', want '%s'",
			      bad[i].doc, err, bad[i].err);
	}
}
END_TEST

/* A status of @count pools p0, p1, ... (malloc'ed). */
static char *many(int count)
{
	char *doc = malloc(64 + (size_t)count * 110), *p = doc;

	ck_assert_ptr_nonnull(doc);
	p += sprintf(p, "{\"time\":1,\"pools\":[");
	for (int i = 0; i < count; i++)
		p += sprintf(p, "%s{\"name\":\"p%d\",\"source_ok\":true,"
			     "\"peer_out_connected\":true,\"peer_in_connected\":true}",
			     i ? "," : "", i);
	strcpy(p, "]}");
	return doc;
}

START_TEST(parse_limits)
{
	struct linkd_health *h;
	char err[128], *doc;
	size_t n;

	doc = many(LINKD_STATUS_MAX_POOLS + 1);
	ck_assert_int_eq(parse(doc, &h, &n, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "more than 1024 pools"));
	free(doc);
	doc = many(LINKD_STATUS_MAX_POOLS);
	ck_assert_int_eq(parse(doc, &h, &n, err), 0);
	ck_assert_uint_eq(n, LINKD_STATUS_MAX_POOLS);
	ck_assert_str_eq(h[n - 1].name, "p1023");
	free(h);
	free(doc);
	/* larger than any status: refused before it is parsed */
	doc = calloc(1, LINKD_STATUS_MAX_BYTES + 1);
	ck_assert_ptr_nonnull(doc);
	ck_assert_int_eq(linkd_status_parse(doc, LINKD_STATUS_MAX_BYTES + 1, &h, &n,
					    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "larger than"));
	free(doc);
}
END_TEST

START_TEST(stale_after_intervals)
{
	ck_assert_int_eq(linkd_state_at(100, 1, 100), LINKD_RUNNING);
	ck_assert_int_eq(linkd_state_at(100, 1, 100 + LINKD_STALE_INTERVALS),
			 LINKD_RUNNING);
	ck_assert_int_eq(linkd_state_at(100, 1, 101 + LINKD_STALE_INTERVALS),
			 LINKD_STALE);
	ck_assert_int_eq(linkd_state_at(100, 10, 140), LINKD_RUNNING);
	ck_assert_int_eq(linkd_state_at(100, 10, 151), LINKD_STALE);
	/* a clock stepped back: the status is not from the future's past */
	ck_assert_int_eq(linkd_state_at(100, 1, 50), LINKD_RUNNING);
}
END_TEST

/* ---- finding the files -------------------------------------------------- */

static char dir[64];

static void put(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static unsigned long long netns(void)
{
	struct stat st;

	ck_assert_int_eq(stat("/proc/self/ns/net", &st), 0);
	return st.st_ino;
}

static void pool(struct qkd_pool_info *p, const char *name)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
}

#define ENTRY(name, ok) "{\"name\":\"" name "\",\"source_ok\":" ok \
	",\"peer_out_connected\":true,\"peer_in_connected\":true}"

START_TEST(read_directory)
{
	struct qkd_pool_info pools[5];
	struct linkd_health h[5];
	long long now = time(NULL);
	char doc[512];

	snprintf(dir, sizeof(dir), "/tmp/qkdctl-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	pool(&pools[0], "fresh");
	pool(&pools[1], "old");
	pool(&pools[2], "both");
	pool(&pools[3], "none");
	pool(&pools[4], "elsewhere");
	/* one daemon, running */
	snprintf(doc, sizeof(doc), "{\"time\":%lld,\"netns\":%llu,\"pools\":["
		 ENTRY("fresh", "true") "," ENTRY("both", "true") "]}", now, netns());
	put("a.json", doc);
	/* one that died a minute ago; it named "both" too, with the KME down */
	snprintf(doc, sizeof(doc), "{\"time\":%lld,\"pools\":[" ENTRY("old", "true")
		 "," ENTRY("both", "false") "]}", now - 60);
	put("b.json", doc);
	/* another network namespace's daemon: its pool names are not ours */
	snprintf(doc, sizeof(doc), "{\"time\":%lld,\"netns\":%llu,\"pools\":["
		 ENTRY("elsewhere", "true") "]}", now, netns() + 1);
	put("c.json", doc);
	/* not status files: a temporary file, a hidden one, a broken one */
	put("a.json.tmp", "{\"time\":1,\"pools\":[" ENTRY("none", "true") "]}");
	put(".x.json", "{\"time\":1,\"pools\":[" ENTRY("none", "true") "]}");
	put("broken.json", "{\"time\":");

	setenv(LINKD_STATUS_ENV, dir, 1);
	linkd_health_read(pools, 5, h);
	ck_assert_int_eq(h[0].state, LINKD_RUNNING);
	ck_assert_int_ge(h[0].now, now);
	ck_assert_int_eq(h[1].state, LINKD_STALE);
	ck_assert_int_eq(h[2].state, LINKD_RUNNING);	/* the freshest wins */
	ck_assert(h[2].kme_up);
	ck_assert_int_eq(h[3].state, LINKD_NONE);
	ck_assert_int_eq(h[4].state, LINKD_NONE);

	/* one file, named */
	snprintf(doc, sizeof(doc), "%s/b.json", dir);
	setenv(LINKD_STATUS_ENV, doc, 1);
	linkd_health_read(pools, 5, h);
	ck_assert_int_eq(h[0].state, LINKD_NONE);
	ck_assert_int_eq(h[1].state, LINKD_STALE);
	ck_assert_int_eq(h[2].state, LINKD_STALE);
	ck_assert(!h[2].kme_up);

	/* nothing there: every pool '-' */
	snprintf(doc, sizeof(doc), "%s/missing", dir);
	setenv(LINKD_STATUS_ENV, doc, 1);
	memset(h, 0x55, sizeof(h));
	linkd_health_read(pools, 5, h);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(h[i].state, LINKD_NONE);
	unsetenv(LINKD_STATUS_ENV);
	for (const char *const *f = (const char *const[]){ "a.json", "b.json",
			"c.json", "a.json.tmp", ".x.json", "broken.json", NULL };
	     *f; f++) {
		snprintf(doc, sizeof(doc), "%s/%s", dir, *f);
		unlink(doc);
	}
	rmdir(dir);
}
END_TEST

/* ---- output ------------------------------------------------------------- */

enum { SHOW, SHOW_COLOUR, JSON, METRICS };

static char *render(int mode, const struct qkd_pool_info *p,
		    const struct linkd_health *h, size_t n)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < n && mode != METRICS; i++) {
		if (mode == JSON)
			fmt_linkd_json(f, &h[i]);
		else
			fmt_linkd_show(f, &h[i], mode == SHOW_COLOUR);
		if (mode == JSON)
			fputc('\n', f);
	}
	if (mode == METRICS)
		fmt_linkd_metrics(f, p, n, h);
	fclose(f);
	return out;
}

static void three(struct qkd_pool_info p[3], struct linkd_health h[3])
{
	struct linkd_health *a;
	char err[128];
	size_t n;

	ck_assert_int_eq(parse(DOC(POOL_A), &a, &n, err), 0);
	pool(&p[0], "osaka");
	pool(&p[1], "nara");
	pool(&p[2], "kobe");
	h[0] = a[0];
	h[0].now = 1764000102;
	memset(&h[1], 0, sizeof(h[1]));		/* no daemon */
	h[2] = a[0];				/* a daemon that died */
	snprintf(h[2].name, sizeof(h[2].name), "kobe");
	h[2].state = LINKD_STALE;
	h[2].now = 1764000100 + 130;
	free(a);
}

START_TEST(show_lines)
{
	struct qkd_pool_info p[3];
	struct linkd_health h[3];
	char *out;

	three(p, h);
	out = render(SHOW, p, h, 3);
	ck_assert_str_eq(out,
"  qkd-linkd: KME up, peer out connected, in DOWN, last refill out 12s ago, in 7s ago\n"
"  qkd-linkd last error (1m02s ago): KME enc_keys: HTTP 503\n"
"  qkd-linkd: -\n"
"  qkd-linkd: stale: no status for 2m10s (not running?)\n");
	free(out);

	/* both down, never refilled, an error of unknown time; a stream */
	h[0].kme_up = false;
	h[0].stream = true;
	h[0].peer_connected[0] = false;
	h[0].last_refill[0] = h[0].last_refill[1] = 0;
	h[0].last_error_time = 0;
	out = render(SHOW, p, h, 1);
	ck_assert_str_eq(out,
"  qkd-linkd: stream DOWN, peer DOWN, last refill out never, in never\n"
"  qkd-linkd last error: KME enc_keys: HTTP 503\n");
	free(out);
	out = render(SHOW_COLOUR, p, h, 1);
	ck_assert_str_eq(out,
"  qkd-linkd: stream \033[31mDOWN\033[0m, peer \033[31mDOWN\033[0m, last refill out never, in never\n"
"  qkd-linkd last error: KME enc_keys: HTTP 503\n");
	free(out);
	h[0].peer_connected[0] = h[0].peer_connected[1] = true;
	h[0].kme_up = true;
	h[0].last_error[0] = '\0';
	out = render(SHOW, p, h, 1);
	ck_assert_str_eq(out,
"  qkd-linkd: stream up, peer connected, last refill out never, in never\n");
	free(out);
	/* Each role's health: the slave's dec_keys down, the master's up. */
	h[0].stream = false;
	h[0].kme_in_known = true;
	h[0].kme_in_up = false;
	snprintf(h[0].last_error_in, sizeof(h[0].last_error_in),
		 "KME dec_keys: HTTP 400: key not found");
	out = render(SHOW, p, h, 1);
	ck_assert_str_eq(out,
"  qkd-linkd: KME out up, in DOWN, peer connected, last refill out never, in never\n"
"  qkd-linkd last error in (dec_keys for the peer): KME dec_keys: HTTP 400: key not found\n");
	free(out);
	/* The master's calls failing too: the KME is down, one word. */
	h[0].kme_up = false;
	out = render(SHOW, p, h, 1);
	ck_assert_str_eq(out,
"  qkd-linkd: KME DOWN, peer connected, last refill out never, in never\n"
"  qkd-linkd last error in (dec_keys for the peer): KME dec_keys: HTTP 400: key not found\n");
	free(out);
	/* The slave's last dec_keys worked, the master's calls fail: down. */
	h[0].kme_in_up = true;
	h[0].last_error_in[0] = '\0';
	out = render(SHOW, p, h, 1);
	ck_assert_str_eq(out,
"  qkd-linkd: KME DOWN, peer connected, last refill out never, in never\n");
	free(out);
	/* Both up again: one word, as before. */
	h[0].kme_up = true;
	out = render(SHOW, p, h, 1);
	ck_assert_str_eq(out,
"  qkd-linkd: KME up, peer connected, last refill out never, in never\n");
	free(out);
}
END_TEST

START_TEST(json_object)
{
	struct qkd_pool_info p[3];
	struct linkd_health h[3];
	char *out;

	three(p, h);
	out = render(JSON, p, h, 3);
	ck_assert_str_eq(out,
"{\"state\":\"running\",\"status_time\":1764000100,\"status_age\":2,\"pid\":4242,"
"\"source\":\"etsi014\",\"kme_up\":true,\"peer_out_connected\":true,"
"\"peer_in_connected\":false,\"master_state\":\"idle\",\"last_refill_out\":1764000090,"
"\"last_refill_in\":1764000095,\"last_error\":\"KME enc_keys: HTTP 503\","
"\"last_error_time\":1764000040,\"kme_in_up\":null,\"last_error_in\":\"\","
"\"kme_errors\":2,\"peer_errors\":1,\"relay\":null}\n"
"null\n"
"{\"state\":\"stale\",\"status_time\":1764000100,\"status_age\":130,\"pid\":4242,"
"\"source\":\"etsi014\",\"kme_up\":true,\"peer_out_connected\":true,"
"\"peer_in_connected\":false,\"master_state\":\"idle\",\"last_refill_out\":1764000090,"
"\"last_refill_in\":1764000095,\"last_error\":\"KME enc_keys: HTTP 503\","
"\"last_error_time\":1764000040,\"kme_in_up\":null,\"last_error_in\":\"\","
"\"kme_errors\":2,\"peer_errors\":1,\"relay\":null}\n");
	free(out);
	h[0].pid = 0;
	h[0].master_state[0] = '\0';
	h[0].last_refill[1] = 0;
	h[0].last_error_time = 0;
	h[0].last_error[0] = '\0';
	out = render(JSON, p, h, 1);
	ck_assert_str_eq(out,
"{\"state\":\"running\",\"status_time\":1764000100,\"status_age\":2,\"pid\":null,"
"\"source\":\"etsi014\",\"kme_up\":true,\"peer_out_connected\":true,"
"\"peer_in_connected\":false,\"master_state\":null,\"last_refill_out\":1764000090,"
"\"last_refill_in\":null,\"last_error\":\"\",\"last_error_time\":null,"
"\"kme_in_up\":null,\"last_error_in\":\"\",\"kme_errors\":2,\"peer_errors\":1,"
"\"relay\":null}\n");
	free(out);
	/* The slave's dec_keys failing while the master's enc_keys works. */
	h[0].kme_in_known = true;
	h[0].kme_in_up = false;
	snprintf(h[0].last_error_in, sizeof(h[0].last_error_in),
		 "KME dec_keys: HTTP 400: key not found");
	out = render(JSON, p, h, 1);
	ck_assert_ptr_nonnull(strstr(out,
"\"kme_up\":true,"));
	ck_assert_ptr_nonnull(strstr(out,
"\"kme_in_up\":false,\"last_error_in\":\"KME dec_keys: HTTP 400: key not found\","));
	free(out);
}
END_TEST

START_TEST(metrics_families)
{
	struct qkd_pool_info p[3];
	struct linkd_health h[3];
	char *out;

	three(p, h);
	out = render(METRICS, p, h, 3);
	/* every family has HELP and TYPE; a stale status exports up and age */
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_up gauge\n"
"qkd_linkd_up{pool=\"osaka\"} 1\n"
"qkd_linkd_up{pool=\"kobe\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_status_age_seconds gauge\n"
"qkd_linkd_status_age_seconds{pool=\"osaka\"} 2\n"
"qkd_linkd_status_age_seconds{pool=\"kobe\"} 130\n"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_kme_up gauge\n"
"qkd_linkd_kme_up{pool=\"osaka\",direction=\"out\"} 1\n# HELP"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_peer_connected gauge\n"
"qkd_linkd_peer_connected{pool=\"osaka\",direction=\"out\"} 1\n"
"qkd_linkd_peer_connected{pool=\"osaka\",direction=\"in\"} 0\n# HELP"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_last_refill_timestamp_seconds gauge\n"
"qkd_linkd_last_refill_timestamp_seconds{pool=\"osaka\",direction=\"out\"} 1764000090\n"
"qkd_linkd_last_refill_timestamp_seconds{pool=\"osaka\",direction=\"in\"} 1764000095\n# HELP"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_last_error_timestamp_seconds gauge\n"
"qkd_linkd_last_error_timestamp_seconds{pool=\"osaka\"} 1764000040\n# HELP"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_kme_errors_total counter\n"
"qkd_linkd_kme_errors_total{pool=\"osaka\"} 2\n# HELP"));
	ck_assert_ptr_nonnull(strstr(out,
"# TYPE qkd_linkd_peer_errors_total counter\n"
"qkd_linkd_peer_errors_total{pool=\"osaka\"} 1\n"));
	ck_assert_ptr_null(strstr(out, "nara"));
	ck_assert_int_eq(out[strlen(out) - 1], '\n');
	free(out);

	/* never refilled, no error: no timestamp series */
	h[0].last_refill[0] = h[0].last_refill[1] = h[0].last_error_time = 0;
	out = render(METRICS, p, h, 1);
	ck_assert_ptr_null(strstr(out, "qkd_linkd_last_refill_timestamp_seconds{"));
	ck_assert_ptr_null(strstr(out, "qkd_linkd_last_error_timestamp_seconds{"));
	free(out);

	/* the slave's dec_keys health, once known, is the in direction's */
	h[0].kme_in_known = true;
	h[0].kme_in_up = false;
	out = render(METRICS, p, h, 1);
	ck_assert_ptr_nonnull(strstr(out,
"qkd_linkd_kme_up{pool=\"osaka\",direction=\"out\"} 1\n"
"qkd_linkd_kme_up{pool=\"osaka\",direction=\"in\"} 0\n# HELP"));
	free(out);
}
END_TEST

START_TEST(whole_outputs)
{
	struct qkd_pool_info p[3];
	struct linkd_health h[3];
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	/* fmt_show/fmt_json/fmt_metrics carry the health of each pool */
	three(p, h);
	f = open_memstream(&out, &len);
	fmt_json(f, p, 3, NULL, h);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(out, "\"name\":\"nara\""));
	ck_assert_ptr_nonnull(strstr(out, "\"key_exchanges\":null,\"linkd\":null}"));
	ck_assert_ptr_nonnull(strstr(out, "\"key_exchanges\":null,\"linkd\":{\"state\":\"stale\""));
	free(out);
	f = open_memstream(&out, &len);
	fmt_show(f, p, 3, NULL, h, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(out, "pool: nara (id 0)\n"));
	ck_assert_ptr_nonnull(strstr(out, "  qkd-linkd: -\n\npool: kobe"));
	free(out);
	f = open_memstream(&out, &len);
	fmt_metrics(f, p, 3, NULL, h);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(out, "qkd_linkd_up{pool=\"kobe\"} 0\n"));
	free(out);
}
END_TEST

Suite *linkd_status_suite(void)
{
	Suite *s = suite_create("linkd_status");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, parse_good);
	tcase_add_test(tc, parse_sanitizes_text);
	tcase_add_test(tc, parse_bad);
	tcase_add_test(tc, parse_limits);
	tcase_add_test(tc, stale_after_intervals);
	tcase_add_test(tc, read_directory);
	tcase_add_test(tc, show_lines);
	tcase_add_test(tc, json_object);
	tcase_add_test(tc, metrics_families);
	tcase_add_test(tc, whole_outputs);
	suite_add_tcase(s, tc);
	return s;
}
