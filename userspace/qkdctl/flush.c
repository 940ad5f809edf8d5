// SPDX-License-Identifier: GPL-2.0
/* qkdctl flush POOL [in|out] */
#include <string.h>
#include "qkdctl.h"

static const char usage[] =
	"flush POOL [in|out]\n"
	"Wipe every key of one direction of POOL, or of both.\n";

int cmd_flush(int argc, char *argv[])
{
	struct qkd_pool_info info;
	struct qkd *h;
	int dir = QKD_DIRECTION_BOTH, ret;
	uint32_t count = 0;

	if (argc > 1 && is_help(argv[1]))
		return ctl_usage(stdout, EXIT_OK, usage);
	if (argc < 2 || argc > 3 || argv[1][0] == '-')
		return ctl_usage(stderr, EXIT_USAGE, usage);
	if (argc == 3) {
		dir = parse_direction(argv[2]);
		if (dir < 0) {
			fprintf(stderr, "%s: flush: direction must be 'in' or 'out', not '%s'\n",
				PROG_NAME, argv[2]);
			return EXIT_USAGE;
		}
	}
	h = ctl_open();
	if (!h)
		return EXIT_ERROR;
	ret = ctl_lookup(h, argv[1], &info);
	if (!ret) {
		ret = qkd_key_flush(h, info.id, dir, &count);
		if (ret)
			ret = ctl_fail(h, ret, "flush", argv[1]);
		else
			printf("flushed %u keys from pool '%s' (%s)\n", count,
			       info.name, qkd_direction_name(dir));
	} else {
		ret = EXIT_ERROR;
	}
	qkd_close(h);
	return ret ? EXIT_ERROR : EXIT_OK;
}
