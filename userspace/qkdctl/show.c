// SPDX-License-Identifier: GPL-2.0
/* qkdctl show [--json] [POOL] and qkdctl dump [POOL]. */
#include <stdlib.h>
#include <string.h>
#include "qkdctl.h"

static const char show_usage[] =
	"show [--json] [POOL]\n"
	"Show every pool (or POOL): per direction the level and capacity, the\n"
	"state (ok, low, empty), fill and burn rates in keys per second, the\n"
	"estimated time to empty and the counters; then the pool's IKE key\n"
	"exchanges as the IKE daemon reported them (keyed with QKD, fallback,\n"
	"of which tag mismatches, refused) and the reasons of those without\n"
	"QKD; without POOL, the exchanges that had no pool at all.  Under each\n"
	"pool, the health of the qkd-linkd that fills it (KME up, peer\n"
	"connected, last refill, last error; '-' when no qkd-linkd fills it,\n"
	"'stale' when its status is old: the daemon is not running), from its\n"
	"status files in " LINKD_STATUS_DIR " (or the file or directory named\n"
	"by " LINKD_STATUS_ENV ").  --json prints one JSON document for\n"
	"programs.\n";

static const char dump_usage[] =
	"dump [POOL]\n"
	"Print one line per pool and direction, tab-separated, in the stable\n"
	"column order documented in qkdctl(8).\n";

/* Read all pools, or the one named @name, into *pools. */
static int get_pools(struct qkd *h, const char *name,
		     struct qkd_pool_info **pools, size_t *n)
{
	int ret;

	if (name) {
		*pools = calloc(1, sizeof(**pools));
		if (!*pools)
			return -1;
		*n = 1;
		ret = ctl_lookup(h, name, *pools);
		if (ret) {
			free(*pools);
			*pools = NULL;
			return -1;
		}
		return 0;
	}
	ret = qkd_pool_list_alloc(h, pools, n);
	if (ret) {
		ctl_fail(h, ret, "pool list", NULL);
		return -1;
	}
	return 0;
}

enum mode { MODE_SHOW, MODE_JSON, MODE_DUMP };

static int run(enum mode mode, const char *name)
{
	struct qkd_pool_info *pools = NULL;
	struct fmt_opts opts = { .colour = ctl_colour() };
	const struct qkd_ke_stats *ns = NULL;
	struct linkd_health *lh = NULL;
	struct qkd_ke_stats ns_buf;
	struct qkd *h;
	size_t n = 0;
	int status = EXIT_OK;

	h = ctl_open();
	if (!h)
		return EXIT_ERROR;
	if (get_pools(h, name, &pools, &n)) {
		qkd_close(h);
		return EXIT_ERROR;
	}
	/* The exchanges that had no pool belong to no one pool. */
	if (!name && mode != MODE_DUMP)
		ns = ctl_ke_no_pool(h, &ns_buf);
	/* qkd-linkd's health: shown when it can be read, else '-'. */
	if (mode != MODE_DUMP) {
		lh = calloc(n ? n : 1, sizeof(*lh));
		if (lh)
			linkd_health_read(pools, n, lh);
	}
	switch (mode) {
	case MODE_SHOW:
		if (!n)
			fprintf(stderr, "%s: no pools (create one with: %s pool add NAME)\n",
				PROG_NAME, PROG_NAME);
		fmt_show(stdout, pools, n, ns, lh, &opts);
		break;
	case MODE_JSON:
		fmt_json(stdout, pools, n, ns, lh);
		break;
	case MODE_DUMP:
		fmt_dump(stdout, pools, n);
		break;
	}
	if (fflush(stdout))
		status = EXIT_ERROR;
	free(lh);
	free(pools);
	qkd_close(h);
	return status;
}

int cmd_show(int argc, char *argv[])
{
	enum mode mode = MODE_SHOW;
	const char *name = NULL;

	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i]))
			return ctl_usage(stdout, EXIT_OK, show_usage);
		if (!strcmp(argv[i], "--json"))
			mode = MODE_JSON;
		else if (argv[i][0] == '-' || name)
			return ctl_usage(stderr, EXIT_USAGE, show_usage);
		else
			name = argv[i];
	}
	return run(mode, name);
}

int cmd_dump(int argc, char *argv[])
{
	if (argc > 1 && is_help(argv[1]))
		return ctl_usage(stdout, EXIT_OK, dump_usage);
	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return ctl_usage(stderr, EXIT_USAGE, dump_usage);
	return run(MODE_DUMP, argc == 2 ? argv[1] : NULL);
}
