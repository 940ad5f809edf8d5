// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the subcommands: opening the handle and turning
 * errors into messages that say what was wrong and what to do.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "qkdctl.h"

bool is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help") ||
	       !strcmp(arg, "help");
}

int ctl_usage(FILE *f, int status, const char *text)
{
	fprintf(f, "usage: %s %s", PROG_NAME, text);
	return status;
}

bool ctl_colour(void)
{
	const char *term = getenv("TERM");

	return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") &&
	       !(term && !strcmp(term, "dumb"));
}

struct qkd *ctl_open(void)
{
	struct qkd *h;
	int ret;

	ret = qkd_open(&h);
	if (!ret)
		return h;
	if (ret == -ENOENT)
		fprintf(stderr,
			"%s: module not loaded: the generic netlink family 'qkd' does not exist; load it with: modprobe qkdpool\n",
			PROG_NAME);
	else
		fprintf(stderr, "%s: cannot open a generic netlink socket: %s\n",
			PROG_NAME, qkd_strerror(ret));
	return NULL;
}

int ctl_fail(struct qkd *h, int err, const char *what, const char *pool)
{
	const char *kmsg = qkd_last_error(h);
	const char *hint = NULL;

	switch (-err) {
	case EPERM:
	case EACCES:
		fprintf(stderr,
			"%s: %s: permission denied: needs CAP_NET_ADMIN (run as root)\n",
			PROG_NAME, what);
		return EXIT_ERROR;
	case ENOENT:
		if (pool && !kmsg[0]) {
			fprintf(stderr,
				"%s: %s: pool '%s' not found (see: %s show)\n",
				PROG_NAME, what, pool, PROG_NAME);
			return EXIT_ERROR;
		}
		break;
	case EEXIST:
		hint = "choose another name, or change it with: qkdctl pool set";
		break;
	case ENOSPC:
		hint = "raise the capacity, or take or flush keys first";
		break;
	case EKEYREJECTED:
		hint = "the key's material differs between the two ends";
		break;
	default:
		break;
	}
	fprintf(stderr, "%s: %s%s%s: %s", PROG_NAME, what,
		pool ? " " : "", pool ? pool : "",
		kmsg[0] ? kmsg : qkd_strerror(err));
	if (kmsg[0])
		fprintf(stderr, " (%s)", qkd_strerror(err));
	if (hint)
		fprintf(stderr, "; %s", hint);
	fputc('\n', stderr);
	return EXIT_ERROR;
}

const struct qkd_ke_stats *ctl_ke_no_pool(struct qkd *h,
					  struct qkd_ke_stats *ns)
{
	/* -EOPNOTSUPP: a module from before ke-stats-get. */
	return qkd_ke_stats_get(h, ns) ? NULL : ns;
}

int ctl_lookup(struct qkd *h, const char *name, struct qkd_pool_info *info)
{
	int ret;

	ret = qkd_pool_get(h, 0, name, info);
	if (ret == -ENOENT) {
		fprintf(stderr, "%s: pool '%s' not found (see: %s show)\n",
			PROG_NAME, name, PROG_NAME);
		return ret;
	}
	if (ret)
		ctl_fail(h, ret, "pool get", name);
	return ret;
}
