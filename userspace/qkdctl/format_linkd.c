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

/* ---- show ------------------------------------------------------------- */

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
}

/* ---- JSON ------------------------------------------------------------- */

static void json_time(FILE *f, const char *key, int64_t t)
{
	if (t)
		fprintf(f, ",\"%s\":%" PRId64, key, t);
	else
		fprintf(f, ",\"%s\":null", key);
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
	fprintf(f, ",\"kme_errors\":%" PRIu64 ",\"peer_errors\":%" PRIu64 "}",
		h->kme_errors, h->peer_errors);
}

/* ---- Prometheus ------------------------------------------------------- */

enum series {
	S_UP, S_AGE, S_KME, S_PEER, S_REFILL, S_ERROR_TIME, S_KME_ERRORS,
	S_PEER_ERRORS,
};

static const struct {
	const char *name;
	const char *type;
	const char *help;
	bool fresh_only;	/* a stale status's values are not exported */
} families[] = {
	[S_UP] = { "qkd_linkd_up", "gauge",
		   "1 when the status of the qkd-linkd that fills the pool is fresh, 0 when stale (the daemon is not running); no series when no qkd-linkd fills the pool.",
		   false },
	[S_AGE] = { "qkd_linkd_status_age_seconds", "gauge",
		    "Seconds since qkd-linkd last wrote its status.",
		    false },
	[S_KME] = { "qkd_linkd_kme_up", "gauge",
		    "1 when the pool's key source (KME) answered qkd-linkd's last request of the direction (out: enc_keys for this router's offers, in: dec_keys for the peer's; no in series before the first), else 0.",
		    true },
	[S_PEER] = { "qkd_linkd_peer_connected", "gauge",
		     "1 when the peer channel of the direction is open (out: this daemon's to the peer, in: the peer's to this one).",
		     true },
	[S_REFILL] = { "qkd_linkd_last_refill_timestamp_seconds", "gauge",
		       "When qkd-linkd last added keys to the direction (Unix time); no series before the first.",
		       true },
	[S_ERROR_TIME] = { "qkd_linkd_last_error_timestamp_seconds", "gauge",
			   "When qkd-linkd last counted a KME or peer error for the pool (Unix time); no series before the first.",
			   true },
	[S_KME_ERRORS] = { "qkd_linkd_kme_errors_total", "counter",
			   "Failed key source (KME) requests since qkd-linkd started.",
			   true },
	[S_PEER_ERRORS] = { "qkd_linkd_peer_errors_total", "counter",
			    "Peer channel errors since qkd-linkd started.",
			    true },
};

static void series(FILE *f, enum series s, const char *pool, int dir,
		   uint64_t v)
{
	fprintf(f, "%s{pool=\"", families[s].name);
	fmt_prom_label(f, pool);
	if (dir >= 0)
		fprintf(f, "\",direction=\"%s", dir_names[dir]);
	fprintf(f, "\"} %" PRIu64 "\n", v);
}

static void family(FILE *f, enum series s, const struct qkd_pool_info *p,
		   const struct linkd_health *h)
{
	if (h->state == LINKD_NONE ||
	    (families[s].fresh_only && h->state != LINKD_RUNNING))
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
