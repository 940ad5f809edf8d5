// SPDX-License-Identifier: GPL-2.0
/* qkdctl metrics: the Prometheus text exposition format. */
#include <stdlib.h>
#include "qkdctl.h"

static const char usage[] =
	"metrics\n"
	"Print every pool in the Prometheus text exposition format (HELP and\n"
	"TYPE lines, one series per pool and direction, labels pool and\n"
	"direction; the IKE key exchanges one series per pool and outcome, and\n"
	"per pool and reason for those without QKD; the namespace's exchanges\n"
	"that had no pool one series per reason; the health of the qkd-linkd\n"
	"that fills each pool: qkd_linkd_up, qkd_linkd_kme_up,\n"
	"qkd_linkd_peer_connected, qkd_linkd_last_refill_timestamp_seconds and\n"
	"more; on a trusted node the relay's: qkd_linkd_relay_bucket_keys,\n"
	"qkd_linkd_relay_link_keys_taken_total, qkd_linkd_relay_path_info,\n"
	"qkd_linkd_relay_transfers_total and more, see qkdctl(8)), e.g. for\n"
	"node_exporter's textfile collector.\n";

int cmd_metrics(int argc, char *argv[])
{
	struct qkd_pool_info *pools = NULL;
	struct linkd_health *lh;
	struct qkd_ke_stats ns;
	struct qkd *h;
	size_t n = 0;
	int ret;

	if (argc > 1 && is_help(argv[1]))
		return ctl_usage(stdout, EXIT_OK, usage);
	if (argc > 1)
		return ctl_usage(stderr, EXIT_USAGE, usage);
	h = ctl_open();
	if (!h)
		return EXIT_ERROR;
	ret = qkd_pool_list_alloc(h, &pools, &n);
	if (ret) {
		ret = ctl_fail(h, ret, "pool list", NULL);
		qkd_close(h);
		return ret;
	}
	lh = calloc(n ? n : 1, sizeof(*lh));
	if (lh)
		linkd_health_read(pools, n, lh);
	fmt_metrics(stdout, pools, n, ctl_ke_no_pool(h, &ns), lh);
	free(lh);
	free(pools);
	qkd_close(h);
	return fflush(stdout) ? EXIT_ERROR : EXIT_OK;
}
