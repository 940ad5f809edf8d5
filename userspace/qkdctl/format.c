// SPDX-License-Identifier: GPL-2.0
/*
 * Output modes: show (people), JSON, dump (tab-separated) and Prometheus
 * metrics.  Pure functions of the pools and a FILE, unit tested in
 * tests/test_format.c against expected strings.  None of them ever sees
 * key material: struct qkd_pool_info holds none.
 */
#include <inttypes.h>
#include <string.h>
#include "qkdctl.h"

#define C_RESET		"\033[0m"
#define C_BOLD		"\033[1m"
#define C_GREEN		"\033[32m"
#define C_YELLOW	"\033[33m"
#define C_RED		"\033[31m"
#define C_CYAN		"\033[36m"

static const int dirs[] = { QKD_DIRECTION_OUT, QKD_DIRECTION_IN };

void fmt_rate(char *buf, size_t len, uint64_t per_1000s)
{
	snprintf(buf, len, "%" PRIu64 ".%03" PRIu64, per_1000s / 1000,
		 per_1000s % 1000);
}

void fmt_duration(char *buf, size_t len, uint64_t s)
{
	if (s < 60)
		snprintf(buf, len, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600,
			 s % 3600 / 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400,
			 s % 86400 / 3600);
}

static const char *state_colour(uint32_t state)
{
	switch (state) {
	case QKD_STATE_OK:
		return C_GREEN;
	case QKD_STATE_LOW:
		return C_YELLOW;
	default:
		return C_RED;
	}
}

/*
 * The reasons an exchange went without a QKD key (enum qkd_ke_reason), as
 * JSON keys and Prometheus label values (@key) and for people (@text).
 * "unspecified" counts the exchanges reported without a reason:
 * qkd_ke_unspecified().
 */
static const struct {
	const char *key;
	const char *text;
} ke_reasons[QKD_KE_REASON_MAX + 1] = {
	[QKD_KE_REASON_NO_OFFER] = { "no_offer", "no key offered" },
	[QKD_KE_REASON_NO_POOL] = { "no_pool", "no pool" },
	[QKD_KE_REASON_EMPTY] = { "empty", "pool empty" },
	[QKD_KE_REASON_UNKNOWN_KEY] = { "unknown_key", "unknown key ID" },
	[QKD_KE_REASON_TAG_MISMATCH] = { "tag_mismatch", "tag mismatch" },
	[QKD_KE_REASON_POOL_ERROR] = { "pool_error", "pool error" },
	[QKD_KE_REASON_VERSION] = { "version", "unsupported version" },
	[QKD_KE_REASON_PRE_AUTH_MISMATCH] = { "pre_auth_mismatch",
					      "pre-auth pool mismatch" },
	[QKD_KE_REASON_PEER_UNKNOWN] = { "peer_unknown",
					 "peer unknown before auth" },
};

#define KE_UNSPECIFIED	"unspecified"

/* ---- show ------------------------------------------------------------- */

#define SHOW_COLS	12
#define CELL_LEN	32

struct cell {
	char text[CELL_LEN];
	const char *colour;	/* NULL: none */
};

static const struct {
	const char *title;
	bool right;
} show_cols[SHOW_COLS] = {
	{ "dir", false },	{ "level", true },	{ "state", false },
	{ "fill/s", true },	{ "burn/s", true },	{ "empty in", true },
	{ "added", true },	{ "taken", true },	{ "expired", true },
	{ "flushed", true },	{ "rejected", true },	{ "missed", true },
};

static void show_row(const struct qkd_pool_info *p, int d,
		     struct cell row[SHOW_COLS])
{
	const struct qkd_dir_stats *s = &p->dir[d];

	memset(row, 0, SHOW_COLS * sizeof(*row));
	snprintf(row[0].text, CELL_LEN, "%s", qkd_direction_name(d));
	snprintf(row[1].text, CELL_LEN, "%" PRIu32 "/%" PRIu32, s->level,
		 p->capacity);
	snprintf(row[2].text, CELL_LEN, "%s", qkd_state_name(s->state));
	row[2].colour = state_colour(s->state);
	fmt_rate(row[3].text, CELL_LEN, s->fill_rate);
	fmt_rate(row[4].text, CELL_LEN, s->burn_rate);
	if (s->has_time_to_empty)
		fmt_duration(row[5].text, CELL_LEN, s->time_to_empty);
	else
		snprintf(row[5].text, CELL_LEN, "-");
	snprintf(row[6].text, CELL_LEN, "%" PRIu64, s->added);
	snprintf(row[7].text, CELL_LEN, "%" PRIu64, s->taken);
	snprintf(row[8].text, CELL_LEN, "%" PRIu64, s->expired);
	snprintf(row[9].text, CELL_LEN, "%" PRIu64, s->flushed);
	snprintf(row[10].text, CELL_LEN, "%" PRIu64, s->rejected);
	snprintf(row[11].text, CELL_LEN, "%" PRIu64, s->missed);
}

/*
 * The IKE key exchanges of a pool, on one line under its table:
 * "key exchanges: 120 qkd, 9 fallback (1 tag mismatch), 2 refused".
 * Tag mismatches are an alarm (the two routers' keys differ): red on a
 * terminal when there is any.  A module without ke-stats: no line.
 */
static void show_ke(FILE *f, const struct qkd_ke_stats *ke, bool colour)
{
	bool alarm = colour && ke->tag_mismatch;

	if (!ke->present)
		return;
	fprintf(f, "  key exchanges: %" PRIu64 " qkd, %" PRIu64
		" fallback (%s%" PRIu64 " tag mismatch%s), %" PRIu64
		" refused\n", ke->qkd, ke->fallback, alarm ? C_RED : "",
		ke->tag_mismatch, alarm ? C_RESET : "", ke->refused);
}

/*
 * The reasons of the exchanges without a QKD key, only those that are not
 * zero: "  without QKD by reason: 3 pool empty, 1 unknown key ID".  No line
 * when there is none, or from a module without reasons.
 */
static void show_ke_reasons(FILE *f, const struct qkd_ke_stats *ke)
{
	static const char prefix[] = "  without QKD by reason: ";
	bool any = false;

	if (!ke->present || !ke->has_reasons)
		return;
	for (int r = QKD_KE_REASON_NONE + 1; r <= QKD_KE_REASON_MAX + 1; r++) {
		bool unspec = r > QKD_KE_REASON_MAX;
		uint64_t v = unspec ? qkd_ke_unspecified(ke) : ke->reasons[r];

		if (!v)
			continue;
		fprintf(f, "%s%" PRIu64 " %s", any ? ", " : prefix, v,
			unspec ? KE_UNSPECIFIED : ke_reasons[r].text);
		any = true;
	}
	if (any)
		fputc('\n', f);
}

static void show_pool(FILE *f, const struct qkd_pool_info *p,
		      const struct linkd_health *lh, bool colour)
{
	struct cell rows[3][SHOW_COLS];
	size_t width[SHOW_COLS] = { 0 };
	char age[CELL_LEN];

	if (colour)
		fprintf(f, C_BOLD "pool" C_RESET ": " C_BOLD C_GREEN "%s"
			C_RESET " (id %" PRIu32 ")\n", p->name, p->id);
	else
		fprintf(f, "pool: %s (id %" PRIu32 ")\n", p->name, p->id);
	if (p->max_age)
		fmt_duration(age, sizeof(age), p->max_age);
	else
		snprintf(age, sizeof(age), "never");
	fprintf(f, "  key size %" PRIu32 " B, capacity %" PRIu32
		", watermarks low %" PRIu32 " high %" PRIu32 ", max age %s\n",
		p->key_size, p->capacity, p->low_watermark, p->high_watermark,
		age);

	memset(rows, 0, sizeof(rows));
	for (int c = 0; c < SHOW_COLS; c++)
		snprintf(rows[0][c].text, CELL_LEN, "%s", show_cols[c].title);
	for (int r = 0; r < 2; r++)
		show_row(p, dirs[r], rows[r + 1]);
	for (int r = 0; r < 3; r++)
		for (int c = 0; c < SHOW_COLS; c++)
			if (strlen(rows[r][c].text) > width[c])
				width[c] = strlen(rows[r][c].text);

	for (int r = 0; r < 3; r++) {
		fputs("  ", f);
		for (int c = 0; c < SHOW_COLS; c++) {
			const struct cell *cl = &rows[r][c];
			int pad = (int)(width[c] - strlen(cl->text));
			bool last = c == SHOW_COLS - 1;

			if (c)
				fputs("  ", f);
			if (show_cols[c].right)
				fprintf(f, "%*s", pad, "");
			if (r == 0 && colour)
				fprintf(f, C_CYAN "%s" C_RESET, cl->text);
			else if (cl->colour && colour)
				fprintf(f, "%s%s" C_RESET, cl->colour, cl->text);
			else
				fputs(cl->text, f);
			if (!show_cols[c].right && !last)
				fprintf(f, "%*s", pad, "");
		}
		fputc('\n', f);
	}
	show_ke(f, &p->ke, colour);
	if (p->ke.present)
		show_ke_reasons(f, &p->ke);
	if (lh)
		fmt_linkd_show(f, lh, colour);
}

/* Exchanges of the namespace that had no pool; no line when none. */
static uint64_t ke_without_pool(const struct qkd_ke_stats *ns)
{
	return ns && ns->present ? ns->fallback + ns->refused : 0;
}

void fmt_show(FILE *f, const struct qkd_pool_info *pools, size_t n,
	      const struct qkd_ke_stats *ns, const struct linkd_health *lh,
	      const struct fmt_opts *opts)
{
	bool colour = opts && opts->colour;

	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc('\n', f);
		show_pool(f, &pools[i], lh ? &lh[i] : NULL, colour);
	}
	if (ke_without_pool(ns)) {
		if (n)
			fputc('\n', f);
		fprintf(f, "key exchanges with no pool: %" PRIu64 "\n",
			ke_without_pool(ns));
		show_ke_reasons(f, ns);
	}
}

/* ---- JSON ------------------------------------------------------------- */

void fmt_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_dir(FILE *f, const struct qkd_dir_stats *s)
{
	fprintf(f, "{\"level\":%" PRIu32 ",\"state\":\"%s\",\"added\":%" PRIu64
		",\"taken\":%" PRIu64 ",\"expired\":%" PRIu64
		",\"flushed\":%" PRIu64 ",\"rejected\":%" PRIu64
		",\"missed\":%" PRIu64 ",\"bytes_added\":%" PRIu64
		",\"bytes_taken\":%" PRIu64 ",\"fill_rate_per_1000s\":%" PRIu64
		",\"burn_rate_per_1000s\":%" PRIu64 ",\"time_to_empty\":",
		s->level, qkd_state_name(s->state), s->added, s->taken,
		s->expired, s->flushed, s->rejected, s->missed, s->bytes_added,
		s->bytes_taken, s->fill_rate, s->burn_rate);
	if (s->has_time_to_empty)
		fprintf(f, "%" PRIu64 "}", s->time_to_empty);
	else
		fputs("null}", f);
}

/* The reasons, all of them: null from a module without reasons. */
static void json_ke_reasons(FILE *f, const struct qkd_ke_stats *ke)
{
	if (!ke->has_reasons) {
		fputs("null", f);
		return;
	}
	fputc('{', f);
	for (int r = QKD_KE_REASON_NONE + 1; r <= QKD_KE_REASON_MAX; r++)
		fprintf(f, "\"%s\":%" PRIu64 ",", ke_reasons[r].key,
			ke->reasons[r]);
	fprintf(f, "\"" KE_UNSPECIFIED "\":%" PRIu64 "}",
		qkd_ke_unspecified(ke));
}

/* null from a module without ke-stats, as for an unknown value. */
static void json_ke(FILE *f, const struct qkd_ke_stats *ke)
{
	if (!ke || !ke->present) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"qkd\":%" PRIu64 ",\"fallback\":%" PRIu64
		",\"tag_mismatch\":%" PRIu64 ",\"refused\":%" PRIu64
		",\"reasons\":", ke->qkd, ke->fallback, ke->tag_mismatch,
		ke->refused);
	json_ke_reasons(f, ke);
	fputc('}', f);
}

void fmt_json(FILE *f, const struct qkd_pool_info *pools, size_t n,
	      const struct qkd_ke_stats *ns, const struct linkd_health *lh)
{
	fputs("{\"pools\":[", f);
	for (size_t i = 0; i < n; i++) {
		const struct qkd_pool_info *p = &pools[i];

		fprintf(f, "%s{\"id\":%" PRIu32 ",\"name\":", i ? "," : "",
			p->id);
		fmt_json_string(f, p->name);
		fprintf(f, ",\"key_size\":%" PRIu32 ",\"capacity\":%" PRIu32
			",\"low_watermark\":%" PRIu32 ",\"high_watermark\":%"
			PRIu32 ",\"max_age\":%" PRIu32, p->key_size,
			p->capacity, p->low_watermark, p->high_watermark,
			p->max_age);
		fputs(",\"out\":", f);
		json_dir(f, &p->dir[QKD_DIRECTION_OUT]);
		fputs(",\"in\":", f);
		json_dir(f, &p->dir[QKD_DIRECTION_IN]);
		fputs(",\"key_exchanges\":", f);
		json_ke(f, &p->ke);
		if (lh) {
			fputs(",\"linkd\":", f);
			fmt_linkd_json(f, &lh[i]);
		}
		fputc('}', f);
	}
	fputs("],\"key_exchanges_without_pool\":", f);
	json_ke(f, ns);
	fputs("}\n", f);
}

/* ---- dump ------------------------------------------------------------- */

/*
 * One line per pool and direction; the columns are documented in
 * qkdctl.8 and must not change order (append new ones at the end).
 */
void fmt_dump(FILE *f, const struct qkd_pool_info *pools, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct qkd_pool_info *p = &pools[i];

		for (int d = 0; d < 2; d++) {
			const struct qkd_dir_stats *s = &p->dir[dirs[d]];

			fprintf(f, "%s\t%" PRIu32 "\t%s\t%" PRIu32 "\t%" PRIu32
				"\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32
				"\t%" PRIu32 "\t%s\t%" PRIu64 "\t%" PRIu64
				"\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
				"\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
				"\t%" PRIu64 "\t%" PRIu64 "\t",
				p->name, p->id, qkd_direction_name(dirs[d]),
				p->key_size, p->capacity, p->low_watermark,
				p->high_watermark, p->max_age, s->level,
				qkd_state_name(s->state), s->added, s->taken,
				s->expired, s->flushed, s->rejected, s->missed,
				s->bytes_added, s->bytes_taken, s->fill_rate,
				s->burn_rate);
			if (s->has_time_to_empty)
				fprintf(f, "%" PRIu64, s->time_to_empty);
			else
				fputc('-', f);
			/* The pool's key exchanges, on both of its lines. */
			if (p->ke.present)
				fprintf(f, "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
					"\t%" PRIu64, p->ke.qkd,
					p->ke.fallback, p->ke.tag_mismatch,
					p->ke.refused);
			else
				fputs("\t-\t-\t-\t-", f);
			/* Columns 26-34 by reason, 35 unspecified. */
			for (int r = 1; r <= QKD_KE_REASON_MAX; r++) {
				if (p->ke.present && p->ke.has_reasons)
					fprintf(f, "\t%" PRIu64,
						p->ke.reasons[r]);
				else
					fputs("\t-", f);
			}
			if (p->ke.present && p->ke.has_reasons)
				fprintf(f, "\t%" PRIu64 "\n",
					qkd_ke_unspecified(&p->ke));
			else
				fputs("\t-\n", f);
		}
	}
}

/* ---- Prometheus ------------------------------------------------------- */

enum metric_kind { M_POOL_U32, M_STATS_U32, M_STATS_U64, M_RATE, M_TTE };

static const struct metric {
	const char *name;
	const char *type;
	const char *help;
	enum metric_kind kind;
	size_t off;
} metrics[] = {
	{ "qkd_pool_keys", "gauge", "Keys held now.", M_STATS_U32,
	  offsetof(struct qkd_dir_stats, level) },
	{ "qkd_pool_capacity_keys", "gauge",
	  "Most keys the direction holds.", M_POOL_U32,
	  offsetof(struct qkd_pool_info, capacity) },
	{ "qkd_pool_low_watermark_keys", "gauge",
	  "A level below this raises a low event.", M_POOL_U32,
	  offsetof(struct qkd_pool_info, low_watermark) },
	{ "qkd_pool_high_watermark_keys", "gauge",
	  "A level at or above this after a low event raises a refilled event.",
	  M_POOL_U32, offsetof(struct qkd_pool_info, high_watermark) },
	{ "qkd_pool_key_size_bytes", "gauge", "Bytes of material per key.",
	  M_POOL_U32, offsetof(struct qkd_pool_info, key_size) },
	{ "qkd_pool_max_age_seconds", "gauge",
	  "Seconds a key may be held; 0 keeps keys forever.", M_POOL_U32,
	  offsetof(struct qkd_pool_info, max_age) },
	{ "qkd_pool_state", "gauge", "Fill state: 0 ok, 1 low, 2 empty.",
	  M_STATS_U32, offsetof(struct qkd_dir_stats, state) },
	{ "qkd_pool_keys_added_total", "counter", "Keys added.", M_STATS_U64,
	  offsetof(struct qkd_dir_stats, added) },
	{ "qkd_pool_keys_taken_total", "counter", "Keys taken.", M_STATS_U64,
	  offsetof(struct qkd_dir_stats, taken) },
	{ "qkd_pool_keys_expired_total", "counter",
	  "Keys wiped because they reached the maximum age.", M_STATS_U64,
	  offsetof(struct qkd_dir_stats, expired) },
	{ "qkd_pool_keys_flushed_total", "counter",
	  "Keys wiped by a flush or a change of key size.", M_STATS_U64,
	  offsetof(struct qkd_dir_stats, flushed) },
	{ "qkd_pool_keys_rejected_total", "counter",
	  "Keys of refused add requests, and inbound takes refused for a wrong tag.",
	  M_STATS_U64, offsetof(struct qkd_dir_stats, rejected) },
	{ "qkd_pool_takes_missed_total", "counter",
	  "Takes that found no key.", M_STATS_U64,
	  offsetof(struct qkd_dir_stats, missed) },
	{ "qkd_pool_bytes_added_total", "counter",
	  "Bytes of key material added.", M_STATS_U64,
	  offsetof(struct qkd_dir_stats, bytes_added) },
	{ "qkd_pool_bytes_taken_total", "counter",
	  "Bytes of key material taken.", M_STATS_U64,
	  offsetof(struct qkd_dir_stats, bytes_taken) },
	{ "qkd_pool_fill_rate_keys_per_second", "gauge",
	  "Keys added per second over the kernel's rate window.", M_RATE,
	  offsetof(struct qkd_dir_stats, fill_rate) },
	{ "qkd_pool_burn_rate_keys_per_second", "gauge",
	  "Keys taken or expired per second over the kernel's rate window.",
	  M_RATE, offsetof(struct qkd_dir_stats, burn_rate) },
	{ "qkd_pool_time_to_empty_seconds", "gauge",
	  "Estimated seconds until the direction is empty; +Inf when not draining.",
	  M_TTE, 0 },
};

/* A label value: escape backslash, double quote and newline. */
void fmt_prom_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/*
 * The IKE key exchanges are per pool, not per direction: one family with
 * an outcome label, so that sum() gives all exchanges.  A tag mismatch is
 * also a fallback, as in the kernel's counters.
 */
static void prom_ke(FILE *f, const struct qkd_pool_info *pools, size_t n)
{
	static const char name[] = "qkd_pool_key_exchanges_total";

	fprintf(f, "# HELP %s IKE key exchanges by outcome (a tag_mismatch is also a fallback).\n"
		"# TYPE %s counter\n", name, name);
	for (size_t i = 0; i < n; i++) {
		const struct qkd_ke_stats *ke = &pools[i].ke;
		const struct {
			const char *outcome;
			uint64_t v;
		} o[] = {
			{ "qkd", ke->qkd },
			{ "fallback", ke->fallback },
			{ "tag_mismatch", ke->tag_mismatch },
			{ "refused", ke->refused },
		};

		if (!ke->present)
			continue;
		for (size_t k = 0; k < sizeof(o) / sizeof(o[0]); k++) {
			fprintf(f, "%s{pool=\"", name);
			fmt_prom_label(f, pools[i].name);
			fprintf(f, "\",outcome=\"%s\"} %" PRIu64 "\n",
				o[k].outcome, o[k].v);
		}
	}
}

/* One series per reason and "unspecified", after @labels. */
static void prom_ke_reasons(FILE *f, const char *name, const char *pool,
			    const struct qkd_ke_stats *ke)
{
	for (int r = QKD_KE_REASON_NONE + 1; r <= QKD_KE_REASON_MAX + 1; r++) {
		bool unspec = r > QKD_KE_REASON_MAX;

		fprintf(f, "%s{", name);
		if (pool) {
			fputs("pool=\"", f);
			fmt_prom_label(f, pool);
			fputs("\",", f);
		}
		fprintf(f, "reason=\"%s\"} %" PRIu64 "\n",
			unspec ? KE_UNSPECIFIED : ke_reasons[r].key,
			unspec ? qkd_ke_unspecified(ke) : ke->reasons[r]);
	}
}

/*
 * The exchanges without a QKD key by reason: per pool, and the namespace's
 * exchanges that had no pool.  sum() over reason gives all of them, as
 * "unspecified" counts those reported without a reason.
 */
static void prom_ke_reason_families(FILE *f,
				    const struct qkd_pool_info *pools,
				    size_t n, const struct qkd_ke_stats *ns)
{
	static const char pool_name[] = "qkd_pool_key_exchanges_without_qkd_total";
	static const char ns_name[] = "qkd_key_exchanges_without_pool_total";

	fprintf(f, "# HELP %s IKE key exchanges of the pool without a QKD key (fallback or refused) by reason.\n"
		"# TYPE %s counter\n", pool_name, pool_name);
	for (size_t i = 0; i < n; i++)
		if (pools[i].ke.present && pools[i].ke.has_reasons)
			prom_ke_reasons(f, pool_name, pools[i].name,
					&pools[i].ke);
	fprintf(f, "# HELP %s IKE key exchanges of the network namespace that had no pool, by reason.\n"
		"# TYPE %s counter\n", ns_name, ns_name);
	if (ns && ns->present && ns->has_reasons)
		prom_ke_reasons(f, ns_name, NULL, ns);
}

void fmt_metrics(FILE *f, const struct qkd_pool_info *pools, size_t n,
		 const struct qkd_ke_stats *ns, const struct linkd_health *lh)
{
	for (size_t m = 0; m < sizeof(metrics) / sizeof(metrics[0]); m++) {
		const struct metric *mt = &metrics[m];

		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", mt->name, mt->help,
			mt->name, mt->type);
		for (size_t i = 0; i < n; i++) {
			for (int d = 0; d < 2; d++) {
				const struct qkd_pool_info *p = &pools[i];
				const struct qkd_dir_stats *s = &p->dir[dirs[d]];
				char rate[32];
				uint32_t v32;
				uint64_t v64;

				fprintf(f, "%s{pool=\"", mt->name);
				fmt_prom_label(f, p->name);
				fprintf(f, "\",direction=\"%s\"} ",
					qkd_direction_name(dirs[d]));
				switch (mt->kind) {
				case M_POOL_U32:
					memcpy(&v32, (const char *)p + mt->off,
					       sizeof(v32));
					fprintf(f, "%" PRIu32 "\n", v32);
					break;
				case M_STATS_U32:
					memcpy(&v32, (const char *)s + mt->off,
					       sizeof(v32));
					fprintf(f, "%" PRIu32 "\n", v32);
					break;
				case M_STATS_U64:
					memcpy(&v64, (const char *)s + mt->off,
					       sizeof(v64));
					fprintf(f, "%" PRIu64 "\n", v64);
					break;
				case M_RATE:
					memcpy(&v64, (const char *)s + mt->off,
					       sizeof(v64));
					fmt_rate(rate, sizeof(rate), v64);
					fprintf(f, "%s\n", rate);
					break;
				case M_TTE:
					if (s->has_time_to_empty)
						fprintf(f, "%" PRIu64 "\n",
							s->time_to_empty);
					else
						fputs("+Inf\n", f);
					break;
				}
			}
		}
	}
	prom_ke(f, pools, n);
	prom_ke_reason_families(f, pools, n, ns);
	if (lh)
		fmt_linkd_metrics(f, pools, n, lh);
}

/* ---- notifications ---------------------------------------------------- */

void fmt_notification(FILE *f, const struct qkd_notification *n, bool json)
{
	if (json) {
		fprintf(f, "{\"event\":\"%s\",\"id\":%" PRIu32 ",\"pool\":",
			qkd_event_name(n->event), n->pool_id);
		if (n->name[0])
			fmt_json_string(f, n->name);
		else
			fputs("null", f);
		fputs(",\"direction\":", f);
		if (n->direction >= 0)
			fprintf(f, "\"%s\"", qkd_direction_name(n->direction));
		else
			fputs("null", f);
		fputs(",\"count\":", f);
		if (n->has_count)
			fprintf(f, "%" PRIu32 "}\n", n->count);
		else
			fputs("null}\n", f);
		return;
	}
	fprintf(f, "%s pool=%s id=%" PRIu32, qkd_event_name(n->event),
		n->name[0] ? n->name : "-", n->pool_id);
	if (n->direction >= 0)
		fprintf(f, " direction=%s", qkd_direction_name(n->direction));
	if (n->has_count)
		fprintf(f, " count=%" PRIu32, n->count);
	fputc('\n', f);
}
