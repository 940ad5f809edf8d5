/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qkdctl: one file per subcommand (show.c, pool.c, ...), the output
 * formats (format.c), argument and key file parsing (args.c) and the
 * handle and error helpers (common.c).  Only qkdctl.c has main().
 */
#ifndef QKDCTL_H
#define QKDCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "qkd.h"
#include "linkd_status.h"

#define PROG_NAME	"qkdctl"
#define QKDCTL_VERSION	"0.1.0"

/* Exit status. */
#define EXIT_OK		0
#define EXIT_ERROR	1
#define EXIT_USAGE	2

/* ---- subcommands (one file each) -------------------------------------- */

int cmd_show(int argc, char *argv[]);
int cmd_dump(int argc, char *argv[]);
int cmd_metrics(int argc, char *argv[]);
int cmd_monitor(int argc, char *argv[]);
int cmd_pool(int argc, char *argv[]);
int cmd_flush(int argc, char *argv[]);
int cmd_keys(int argc, char *argv[]);

/* ---- common.c --------------------------------------------------------- */

/* Open a handle; on failure print why and what to do, return NULL. */
struct qkd *ctl_open(void);

/*
 * Print an error for @err from an operation (@what, e.g. "pool add") on
 * pool @pool (may be NULL), with the kernel's explanation and a hint.
 * Returns EXIT_ERROR.
 */
int ctl_fail(struct qkd *h, int err, const char *what, const char *pool);

/*
 * The namespace's key exchange counters into @ns; NULL (nothing printed)
 * when the module has none or they cannot be read, so that the pools are
 * still shown.
 */
const struct qkd_ke_stats *ctl_ke_no_pool(struct qkd *h,
					  struct qkd_ke_stats *ns);

/* Look a pool up by name; prints "pool 'x' not found" on failure. */
int ctl_lookup(struct qkd *h, const char *name, struct qkd_pool_info *info);

/* Print "usage: ..." for a subcommand to @f; returns @status. */
int ctl_usage(FILE *f, int status, const char *text);

/* Is argv[i] a help request? */
bool is_help(const char *arg);

/* Colour on stdout: a terminal, and neither NO_COLOR nor TERM=dumb. */
bool ctl_colour(void);

/* ---- args.c: pure parsers --------------------------------------------- */

/* Decimal without sign, no overflow.  0 on success, -1 otherwise. */
int parse_u32(const char *s, uint32_t *v);
int parse_u64(const char *s, uint64_t *v);

/* Seconds, with an optional unit s, m, h or d ("90", "15m", "1d"). */
int parse_seconds(const char *s, uint32_t *v);

/* "out" or "in": the enum qkd_direction, or -1. */
int parse_direction(const char *s);

/*
 * Settings as KEYWORD VALUE pairs: key-size N, capacity N, low N, high N,
 * max-age S.  Fills @cfg (fields and values).  0, or -1 with a message in
 * @err.
 */
int parse_pool_settings(int argc, char *argv[], struct qkd_pool_config *cfg,
			char *err, size_t err_len);

/*
 * The hex digits of @s (dashes are skipped, as in UUIDs) into @out of @cap
 * bytes; *out_len is the count.  0, or -1 for a non-hex character, an odd
 * count or too many digits.
 */
int parse_hex(const char *s, uint8_t *out, size_t cap, size_t *out_len);

/*
 * One line of a key file: "KEY-ID MATERIAL" in hex, blanks around;
 * '#' starts a comment.  Returns 1 with @key filled, 0 for a blank or
 * comment line, -1 with a message in @err (never quoting the line).
 */
int parse_key_line(const char *line, struct qkd_key *key, char *err,
		   size_t err_len);

/* ---- format.c: output modes ------------------------------------------- */

struct fmt_opts {
	bool colour;
};

/*
 * @ns: the namespace's counters of key exchanges that had no pool
 * (qkd_ke_stats_get()), or NULL when they were not read.  @lh: qkd-linkd's
 * health of each pool (linkd_health_read()), or NULL for none of it.
 */
void fmt_show(FILE *f, const struct qkd_pool_info *pools, size_t n,
	      const struct qkd_ke_stats *ns, const struct linkd_health *lh,
	      const struct fmt_opts *opts);
void fmt_json(FILE *f, const struct qkd_pool_info *pools, size_t n,
	      const struct qkd_ke_stats *ns, const struct linkd_health *lh);
void fmt_dump(FILE *f, const struct qkd_pool_info *pools, size_t n);
void fmt_metrics(FILE *f, const struct qkd_pool_info *pools, size_t n,
		 const struct qkd_ke_stats *ns, const struct linkd_health *lh);
void fmt_notification(FILE *f, const struct qkd_notification *ntf,
		      bool json);

/* Keys per 1000 s as keys per second with three decimals: "12.500". */
void fmt_rate(char *buf, size_t len, uint64_t per_1000s);
/* Seconds for people: "45s", "12m05s", "3h07m", "2d04h". */
void fmt_duration(char *buf, size_t len, uint64_t seconds);
/* A JSON string with quotes and escapes. */
void fmt_json_string(FILE *f, const char *s);
/* A Prometheus label value with its escapes (no quotes). */
void fmt_prom_label(FILE *f, const char *s);

/* ---- format_linkd.c: qkd-linkd's health of a pool --------------------- */

/* Its line(s) under the pool's table: "  qkd-linkd: KME up, ...". */
void fmt_linkd_show(FILE *f, const struct linkd_health *h, bool colour);
/* The value of a pool's "linkd" member: null or an object. */
void fmt_linkd_json(FILE *f, const struct linkd_health *h);
/* The qkd_linkd_* families, HELP and TYPE included; @lh has @n entries. */
void fmt_linkd_metrics(FILE *f, const struct qkd_pool_info *pools, size_t n,
		       const struct linkd_health *lh);

#endif /* QKDCTL_H */
