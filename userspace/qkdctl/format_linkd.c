// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-linkd's health of a pool in each output mode (show, JSON,
 * Prometheus), next to the kernel's view that format.c prints.  Pure
 * functions of struct linkd_health (its @now included) and a FILE, unit
 * tested in tests/test_format.c.
 */
#include <inttypes.h>
#include <string.h>
#include "qkdctl.h"

#define C_RESET		"\033[0m"
#define C_YELLOW	"\033[33m"
#define C_RED		"\033[31m"

static const char *const dir_names[2] = { "out", "in" };

/* Seconds from @t to @now, never negative (a clock stepped back). */
static uint64_t since(int64_t t, int64_t now)
{
	return now > t ? (uint64_t)(now - t) : 0;
}

/* "12s ago", "never" */
static void ago(char *buf, size_t len, int64_t t, int64_t now)
{
	char d[24];

	if (!t) {
		snprintf(buf, len, "never");
		return;
	}
	fmt_duration(d, sizeof(d), since(t, now));
	snprintf(buf, len, "%s ago", d);
}

static const char *warn(bool colour, const char *c)
{
	return colour ? c : "";
}

/* "1 Mbit/s", "2.5 Gbit/s" (a declared rate: decimal prefixes), "? bit/s" */
static void rate_str(char *buf, size_t len, uint64_t bps)
{
	static const char *const unit[] = { "bit/s", "kbit/s", "Mbit/s",
					    "Gbit/s", "Tbit/s" };
	unsigned int u = 0;
	uint64_t div = 1;

	if (!bps) {
		snprintf(buf, len, "? bit/s");
		return;
	}
	while (u + 1 < sizeof(unit) / sizeof(unit[0]) && bps / div >= 1000) {
		div *= 1000;
		u++;
	}
	if (bps % div)
		snprintf(buf, len, "%.3g %s", (double)bps / (double)div, unit[u]);
	else
		snprintf(buf, len, "%" PRIu64 " %s", bps / div, unit[u]);
}

/* ---- show ------------------------------------------------------------- */

/* A link pool's relay budget and use (Documentation/relay.rst, "Operations"). */
static void show_relay_link(FILE *f, const struct linkd_relay_link *r)
{
	fprintf(f, "  qkd-linkd relay via %s: share %" PRIu32 "%%, reserve %" PRIu32
		", bucket %" PRIu32 " keys; link keys taken for relaying out %"
		PRIu64 ", in %" PRIu64 "\n", r->node, r->share, r->reserve,
		r->bucket, r->taken_out, r->taken_in);
}

/* An end-to-end pool: its path and transfers instead of a KME's health. */
static void show_e2e(FILE *f, const struct linkd_health *h, bool colour)
{
	const struct linkd_e2e *e = &h->end;
	const char *off = colour ? C_RESET : "";
	char rate[32], since_s[40], age[40];

	ago(since_s, sizeof(since_s), e->path_changed, h->now);
	if (e->path[0]) {
		rate_str(rate, sizeof(rate), e->bottleneck_rate);
		fprintf(f, "  qkd-linkd relay to %s: path %s (bottleneck %s, %s), since %s\n",
			e->peer, e->path, e->bottleneck, rate, since_s);
	} else {
		fprintf(f, "  qkd-linkd relay to %s: %sNO PATH%s (since %s)\n",
			e->peer, warn(colour, C_RED), off, since_s);
	}
	fprintf(f, "  qkd-linkd relay: out %s, in %s",
		e->role_out[0] ? e->role_out : "?",
		e->role_in[0] ? e->role_in : "?");
	if (e->path_in[0])
		fprintf(f, " (last over %s)", e->path_in);
	fprintf(f, "; transfers %" PRIu64 " committed, %" PRIu64 " dropped, %"
		PRIu64 " expired, %" PRIu64 " aborted; keys relayed out %"
		PRIu64 ", in %" PRIu64, e->committed, e->dropped, e->expired,
		e->aborted, e->keys_out, e->keys_in);
	if (e->hold)
		fprintf(f, "; %sholding%s %" PRIu32 " s after refusals",
			warn(colour, C_YELLOW), off, e->hold);
	fputc('\n', f);
	if (e->last_error[0]) {
		ago(age, sizeof(age), e->last_error_time, h->now);
		fprintf(f, "  qkd-linkd relay last error (%s): %s\n", age,
			e->last_error);
	}
}

void fmt_linkd_show(FILE *f, const struct linkd_health *h, bool colour)
{
	const char *off = colour ? C_RESET : "";
	const bool *pc = h->peer_connected;
	char age[40], r0[40], r1[40];

	switch (h->state) {
	case LINKD_NONE:
		fputs("  qkd-linkd: -\n", f);
		return;
	case LINKD_STALE:
		fmt_duration(age, sizeof(age), since(h->time, h->now));
		fprintf(f, "  qkd-linkd: %sstale%s: no status for %s (not running?)\n",
			warn(colour, C_RED), off, age);
		return;
	case LINKD_RUNNING:
		break;
	}
	if (h->e2e) {
		show_e2e(f, h, colour);
		return;
	}
	/*
	 * The master's view first: it probes the KME on its own schedule.
	 * The slave's dec_keys only runs when the peer offers, so its "up"
	 * may be old news in an outage; its failure while the master's
	 * calls work (an ID the KME does not know) is shown apart.
	 */
	if (!(h->kme_up && h->kme_in_known && !h->kme_in_up))
		fprintf(f, "  qkd-linkd: %s %s%s%s, ", h->stream ? "stream" : "KME",
			h->kme_up ? "" : warn(colour, C_RED),
			h->kme_up ? "up" : "DOWN", h->kme_up ? "" : off);
	else
		fprintf(f, "  qkd-linkd: %s out up, in %sDOWN%s, ",
			h->stream ? "stream" : "KME", warn(colour, C_RED), off);
	if (pc[0] && pc[1])
		fputs("peer connected", f);
	else if (!pc[0] && !pc[1])
		fprintf(f, "peer %sDOWN%s", warn(colour, C_RED), off);
	else
		fprintf(f, "peer out %s%s%s, in %s%s%s",
			pc[0] ? "" : warn(colour, C_YELLOW),
			pc[0] ? "connected" : "DOWN", pc[0] ? "" : off,
			pc[1] ? "" : warn(colour, C_YELLOW),
			pc[1] ? "connected" : "DOWN", pc[1] ? "" : off);
	ago(r0, sizeof(r0), h->last_refill[0], h->now);
	ago(r1, sizeof(r1), h->last_refill[1], h->now);
	fprintf(f, ", last refill out %s, in %s\n", r0, r1);
	if (h->last_error[0]) {
		if (h->last_error_time)
			ago(age, sizeof(age), h->last_error_time, h->now);
		fprintf(f, "  qkd-linkd last error%s%s%s: %s\n",
			h->last_error_time ? " (" : "",
			h->last_error_time ? age : "",
			h->last_error_time ? ")" : "", h->last_error);
	}
	if (h->last_error_in[0])
		fprintf(f, "  qkd-linkd last error in (dec_keys for the peer): %s\n",
			h->last_error_in);
	if (h->relays)
		show_relay_link(f, &h->relay);
}

/* ---- JSON ------------------------------------------------------------- */

static void json_time(FILE *f, const char *key, int64_t t)
{
	if (t)
		fprintf(f, ",\"%s\":%" PRId64, key, t);
	else
		fprintf(f, ",\"%s\":null", key);
}

/* A path as a JSON array of node names, or null when "". */
static void json_path(FILE *f, const char *path)
{
	char name[LINKD_NODE_LEN + 1];
	bool first = true;

	if (!path[0]) {
		fputs("null", f);
		return;
	}
	fputc('[', f);
	while (*path) {
		size_t n = strcspn(path, " ");

		if (n) {
			snprintf(name, sizeof(name), "%.*s", (int)n, path);
			fputs(first ? "" : ",", f);
			fmt_json_string(f, name);
			first = false;
		}
		path += n;
		path += *path == ' ';
	}
	fputc(']', f);
}

static void json_relay_link(FILE *f, const struct linkd_health *h)
{
	const struct linkd_relay_link *r = &h->relay;

	fputs(",\"relay\":", f);
	if (!h->relays) {
		fputs("null", f);
		return;
	}
	fputs("{\"node\":", f);
	fmt_json_string(f, r->node);
	fprintf(f, ",\"share\":%" PRIu32 ",\"reserve\":%" PRIu32
		",\"bucket\":%" PRIu32 ",\"taken_out\":%" PRIu64
		",\"taken_in\":%" PRIu64 "}", r->share, r->reserve, r->bucket,
		r->taken_out, r->taken_in);
}

static void json_e2e(FILE *f, const struct linkd_e2e *e)
{
	fputs(",\"end_to_end\":{\"peer\":", f);
	fmt_json_string(f, e->peer);
	fputs(",\"role_out\":", f);
	fmt_json_string(f, e->role_out);
	fputs(",\"role_in\":", f);
	fmt_json_string(f, e->role_in);
	fputs(",\"path\":", f);
	json_path(f, e->path);
	fputs(",\"bottleneck\":", f);
	if (e->bottleneck[0])
		fmt_json_string(f, e->bottleneck);
	else
		fputs("null", f);
	if (e->bottleneck_rate)
		fprintf(f, ",\"bottleneck_rate\":%" PRIu64, e->bottleneck_rate);
	else
		fputs(",\"bottleneck_rate\":null", f);
	fputs(",\"path_in\":", f);
	json_path(f, e->path_in);
	fprintf(f, ",\"path_changes\":%" PRIu64, e->path_changes);
	json_time(f, "path_changed", e->path_changed);
	fprintf(f, ",\"filling\":%s,\"in_flight\":%" PRIu32 ",\"hold\":%"
		PRIu32 ",\"transfers\":{\"committed\":%" PRIu64
		",\"dropped\":%" PRIu64 ",\"expired\":%" PRIu64
		",\"aborted\":%" PRIu64 "},\"keys_out\":%" PRIu64
		",\"keys_in\":%" PRIu64 ",\"last_error\":",
		e->filling ? "true" : "false", e->in_flight, e->hold,
		e->committed, e->dropped, e->expired, e->aborted, e->keys_out,
		e->keys_in);
	fmt_json_string(f, e->last_error);
	json_time(f, "last_error_time", e->last_error_time);
	fputs("}}", f);
}

void fmt_linkd_json(FILE *f, const struct linkd_health *h)
{
	if (h->state == LINKD_NONE) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"state\":\"%s\",\"status_time\":%" PRId64
		",\"status_age\":%" PRIu64,
		h->state == LINKD_STALE ? "stale" : "running", h->time,
		since(h->time, h->now));
	if (h->pid)
		fprintf(f, ",\"pid\":%" PRId64, h->pid);
	else
		fputs(",\"pid\":null", f);
	/* An end-to-end pool has no KME and no peer channel of its own. */
	if (h->e2e) {
		json_e2e(f, &h->end);
		return;
	}
	fprintf(f, ",\"source\":\"%s\",\"kme_up\":%s,\"peer_out_connected\":%s"
		",\"peer_in_connected\":%s,\"master_state\":",
		h->stream ? "stream" : "etsi014", h->kme_up ? "true" : "false",
		h->peer_connected[0] ? "true" : "false",
		h->peer_connected[1] ? "true" : "false");
	if (h->master_state[0])
		fmt_json_string(f, h->master_state);
	else
		fputs("null", f);
	json_time(f, "last_refill_out", h->last_refill[0]);
	json_time(f, "last_refill_in", h->last_refill[1]);
	fputs(",\"last_error\":", f);
	fmt_json_string(f, h->last_error);
	json_time(f, "last_error_time", h->last_error_time);
	fprintf(f, ",\"kme_in_up\":%s,\"last_error_in\":",
		!h->kme_in_known ? "null" : h->kme_in_up ? "true" : "false");
	fmt_json_string(f, h->last_error_in);
	fprintf(f, ",\"kme_errors\":%" PRIu64 ",\"peer_errors\":%" PRIu64,
		h->kme_errors, h->peer_errors);
	json_relay_link(f, h);
	fputc('}', f);
}

/* ---- Prometheus ------------------------------------------------------- */

enum series {
	S_UP, S_AGE, S_KME, S_PEER, S_REFILL, S_ERROR_TIME, S_KME_ERRORS,
	S_PEER_ERRORS,
	/* The relay (Documentation/relay.rst, "Operations"). */
	S_R_SHARE, S_R_RESERVE, S_R_BUCKET, S_R_TAKEN,
	S_E_PATH, S_E_RATE, S_E_CHANGES, S_E_CHANGED, S_E_TRANSFERS, S_E_KEYS,
	S_E_ERROR_TIME,
};

/* Which pools a family has series for. */
enum kind {
	K_ANY,		/* every pool qkd-linkd fills */
	K_LINK,		/* link pools ([pool NAME]) */
	K_RELAY,	/* link pools that relay (relay_node set) */
	K_E2E,		/* end-to-end pools ([relay NAME]) */
};

static const struct {
	const char *name;
	const char *type;
	const char *help;
	bool fresh_only;	/* a stale status's values are not exported */
	enum kind kind;
} families[] = {
	[S_UP] = { "qkd_linkd_up", "gauge",
		   "1 when the status of the qkd-linkd that fills the pool is fresh, 0 when stale (the daemon is not running); no series when no qkd-linkd fills the pool.",
		   false, K_ANY },
	[S_AGE] = { "qkd_linkd_status_age_seconds", "gauge",
		    "Seconds since qkd-linkd last wrote its status.",
		    false, K_ANY },
	[S_KME] = { "qkd_linkd_kme_up", "gauge",
		    "1 when the pool's key source (KME) answered qkd-linkd's last request of the direction (out: enc_keys for this router's offers, in: dec_keys for the peer's; no in series before the first), else 0.",
		    true, K_LINK },
	[S_PEER] = { "qkd_linkd_peer_connected", "gauge",
		     "1 when the peer channel of the direction is open (out: this daemon's to the peer, in: the peer's to this one).",
		     true, K_LINK },
	[S_REFILL] = { "qkd_linkd_last_refill_timestamp_seconds", "gauge",
		       "When qkd-linkd last added keys to the direction (Unix time); no series before the first.",
		       true, K_LINK },
	[S_ERROR_TIME] = { "qkd_linkd_last_error_timestamp_seconds", "gauge",
			   "When qkd-linkd last counted a KME or peer error for the pool (Unix time); no series before the first.",
			   true, K_LINK },
	[S_KME_ERRORS] = { "qkd_linkd_kme_errors_total", "counter",
			   "Failed key source (KME) requests since qkd-linkd started.",
			   true, K_LINK },
	[S_PEER_ERRORS] = { "qkd_linkd_peer_errors_total", "counter",
			    "Peer channel errors since qkd-linkd started.",
			    true, K_LINK },
	[S_R_SHARE] = { "qkd_linkd_relay_share_percent", "gauge",
			"Percent of the keys the link adds to its outbound side that relaying may take (relay_share).",
			true, K_RELAY },
	[S_R_RESERVE] = { "qkd_linkd_relay_reserve_keys", "gauge",
			  "Outbound keys of the link that relaying never takes (relay_reserve).",
			  true, K_RELAY },
	[S_R_BUCKET] = { "qkd_linkd_relay_bucket_keys", "gauge",
			 "Keys the link's relay budget allows relaying to take now.",
			 true, K_RELAY },
	[S_R_TAKEN] = { "qkd_linkd_relay_link_keys_taken_total", "counter",
			"Link keys taken for relaying since qkd-linkd started (out: from the outbound side, sent on; in: from the inbound side, named by the neighbour).",
			true, K_RELAY },
	[S_E_PATH] = { "qkd_linkd_relay_path_info", "gauge",
		       "1 for the end-to-end pool's current path (node names from this node, space-separated) and its bottleneck link; no series while there is none.",
		       true, K_E2E },
	[S_E_RATE] = { "qkd_linkd_relay_bottleneck_rate_bits_per_second", "gauge",
		       "Declared rate of the current path's bottleneck link ([topology]).",
		       true, K_E2E },
	[S_E_CHANGES] = { "qkd_linkd_relay_path_changes_total", "counter",
			  "Times the end-to-end pool's path changed or was lost since qkd-linkd started.",
			  true, K_E2E },
	[S_E_CHANGED] = { "qkd_linkd_relay_path_change_timestamp_seconds", "gauge",
			  "When the end-to-end pool's path was last set or lost (Unix time).",
			  true, K_E2E },
	[S_E_TRANSFERS] = { "qkd_linkd_relay_transfers_total", "counter",
			    "Transfers this node originated for the end-to-end pool, each counted once by outcome (committed; dropped: refused on the way or at the far end; expired: unanswered in time or its path changed, then aborted; aborted: answered but not committed, then aborted).",
			    true, K_E2E },
	[S_E_KEYS] = { "qkd_linkd_relay_keys_total", "counter",
		       "End-to-end keys relayed since qkd-linkd started (out: committed to the outbound side, in: delivered to the inbound side).",
		       true, K_E2E },
	[S_E_ERROR_TIME] = { "qkd_linkd_relay_last_error_timestamp_seconds", "gauge",
			     "When the end-to-end pool last had an error (no path, a refusal, an expiry; Unix time); no series before the first.",
			     true, K_E2E },
};

/* NAME{pool="P"[,LABEL="VALUE"]} V */
static void series_l(FILE *f, enum series s, const char *pool,
		     const char *label, const char *value, uint64_t v)
{
	fprintf(f, "%s{pool=\"", families[s].name);
	fmt_prom_label(f, pool);
	if (label) {
		fprintf(f, "\",%s=\"", label);
		fmt_prom_label(f, value);
	}
	fprintf(f, "\"} %" PRIu64 "\n", v);
}

static void series(FILE *f, enum series s, const char *pool, int dir,
		   uint64_t v)
{
	series_l(f, s, pool, dir >= 0 ? "direction" : NULL,
		 dir >= 0 ? dir_names[dir] : NULL, v);
}

static bool has_family(enum series s, const struct linkd_health *h)
{
	if (h->state == LINKD_NONE ||
	    (families[s].fresh_only && h->state != LINKD_RUNNING))
		return false;
	switch (families[s].kind) {
	case K_ANY:
		return true;
	case K_LINK:
		return !h->e2e;
	case K_RELAY:
		return !h->e2e && h->relays;
	case K_E2E:
		return h->e2e;
	}
	return false;
}

static void e2e_family(FILE *f, enum series s, const char *pool,
		       const struct linkd_e2e *e)
{
	switch (s) {
	case S_E_PATH:
		if (!e->path[0])
			break;
		fprintf(f, "%s{pool=\"", families[s].name);
		fmt_prom_label(f, pool);
		fputs("\",path=\"", f);
		fmt_prom_label(f, e->path);
		fputs("\",bottleneck=\"", f);
		fmt_prom_label(f, e->bottleneck);
		fputs("\"} 1\n", f);
		break;
	case S_E_RATE:
		if (e->path[0] && e->bottleneck_rate)
			series(f, s, pool, -1, e->bottleneck_rate);
		break;
	case S_E_CHANGES:
		series(f, s, pool, -1, e->path_changes);
		break;
	case S_E_CHANGED:
		if (e->path_changed > 0)
			series(f, s, pool, -1, (uint64_t)e->path_changed);
		break;
	case S_E_TRANSFERS:
		series_l(f, s, pool, "result", "committed", e->committed);
		series_l(f, s, pool, "result", "dropped", e->dropped);
		series_l(f, s, pool, "result", "expired", e->expired);
		series_l(f, s, pool, "result", "aborted", e->aborted);
		break;
	case S_E_KEYS:
		series(f, s, pool, 0, e->keys_out);
		series(f, s, pool, 1, e->keys_in);
		break;
	case S_E_ERROR_TIME:
		if (e->last_error_time > 0)
			series(f, s, pool, -1, (uint64_t)e->last_error_time);
		break;
	default:
		break;
	}
}

static void family(FILE *f, enum series s, const struct qkd_pool_info *p,
		   const struct linkd_health *h)
{
	if (!has_family(s, h))
		return;
	switch (s) {
	case S_UP:
		series(f, s, p->name, -1, h->state == LINKD_RUNNING);
		break;
	case S_AGE:
		series(f, s, p->name, -1, since(h->time, h->now));
		break;
	case S_KME:
		series(f, s, p->name, 0, h->kme_up);
		if (h->kme_in_known)
			series(f, s, p->name, 1, h->kme_in_up);
		break;
	case S_PEER:
		for (int d = 0; d < 2; d++)
			series(f, s, p->name, d, h->peer_connected[d]);
		break;
	case S_REFILL:
		for (int d = 0; d < 2; d++)
			if (h->last_refill[d] > 0)
				series(f, s, p->name, d,
				       (uint64_t)h->last_refill[d]);
		break;
	case S_ERROR_TIME:
		if (h->last_error_time > 0)
			series(f, s, p->name, -1,
			       (uint64_t)h->last_error_time);
		break;
	case S_KME_ERRORS:
		series(f, s, p->name, -1, h->kme_errors);
		break;
	case S_PEER_ERRORS:
		series(f, s, p->name, -1, h->peer_errors);
		break;
	case S_R_SHARE:
		series(f, s, p->name, -1, h->relay.share);
		break;
	case S_R_RESERVE:
		series(f, s, p->name, -1, h->relay.reserve);
		break;
	case S_R_BUCKET:
		series(f, s, p->name, -1, h->relay.bucket);
		break;
	case S_R_TAKEN:
		series(f, s, p->name, 0, h->relay.taken_out);
		series(f, s, p->name, 1, h->relay.taken_in);
		break;
	default:
		e2e_family(f, s, p->name, &h->end);
		break;
	}
}

void fmt_linkd_metrics(FILE *f, const struct qkd_pool_info *pools, size_t n,
		       const struct linkd_health *lh)
{
	for (size_t s = 0; s < sizeof(families) / sizeof(families[0]); s++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", families[s].name,
			families[s].help, families[s].name, families[s].type);
		for (size_t i = 0; i < n; i++)
			family(f, (enum series)s, &pools[i], &lh[i]);
	}
}
