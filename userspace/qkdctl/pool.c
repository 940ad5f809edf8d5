// SPDX-License-Identifier: GPL-2.0
/* qkdctl pool add|set|del */
#include <string.h>
#include "qkdctl.h"

static const char usage[] =
	"pool add NAME [key-size N] [capacity N] [low N] [high N] [max-age S]\n"
	"       qkdctl pool set NAME [name NEW-NAME] [key-size N] [capacity N] [low N] [high N] [max-age S]\n"
	"       qkdctl pool del NAME\n"
	"Create, change or delete a pool.  key-size is in bytes (16 to 64,\n"
	"default 32), capacity in keys per direction (default 4096), low and\n"
	"high are the watermarks in keys (default a quarter and three quarters\n"
	"of the capacity), max-age in seconds or with a unit s, m, h, d\n"
	"(0, the default, keeps keys forever).  Needs CAP_NET_ADMIN.\n";

static bool name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > QKD_POOL_NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] <= 0x20 || name[i] >= 0x7f)
			return false;
	return true;
}

static int pool_add(int argc, char *argv[])
{
	struct qkd_pool_config cfg = { 0 };
	char err[160];
	uint32_t id;
	struct qkd *h;
	int ret;

	if (!name_ok(argv[0])) {
		fprintf(stderr,
			"%s: pool add: the name must be 1 to %d printable characters without spaces\n",
			PROG_NAME, QKD_POOL_NAME_MAX_LEN);
		return EXIT_USAGE;
	}
	if (parse_pool_settings(argc - 1, argv + 1, &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s: pool add: %s\n", PROG_NAME, err);
		return EXIT_USAGE;
	}
	if (cfg.fields & QKD_POOL_RENAME) {
		fprintf(stderr, "%s: pool add: 'name' is only for pool set\n",
			PROG_NAME);
		return EXIT_USAGE;
	}
	strcpy(cfg.name, argv[0]);
	h = ctl_open();
	if (!h)
		return EXIT_ERROR;
	ret = qkd_pool_create(h, &cfg, &id);
	if (ret)
		ret = ctl_fail(h, ret, "pool add", argv[0]);
	else
		printf("created pool '%s' (id %u)\n", argv[0], id);
	qkd_close(h);
	return ret;
}

static int pool_set(int argc, char *argv[])
{
	struct qkd_pool_config cfg = { 0 };
	struct qkd_pool_info info;
	char err[160];
	struct qkd *h;
	int ret;

	if (parse_pool_settings(argc - 1, argv + 1, &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s: pool set: %s\n", PROG_NAME, err);
		return EXIT_USAGE;
	}
	if (!cfg.fields) {
		fprintf(stderr, "%s: pool set: nothing to change (give name, key-size, capacity, low, high or max-age)\n",
			PROG_NAME);
		return EXIT_USAGE;
	}
	h = ctl_open();
	if (!h)
		return EXIT_ERROR;
	ret = ctl_lookup(h, argv[0], &info) ? EXIT_ERROR : 0;
	if (!ret) {
		ret = qkd_pool_set(h, info.id, &cfg);
		if (ret)
			ret = ctl_fail(h, ret, "pool set", argv[0]);
	}
	qkd_close(h);
	return ret;
}

static int pool_del(int argc, char *argv[])
{
	struct qkd *h;
	int ret;

	if (argc != 1)
		return ctl_usage(stderr, EXIT_USAGE, usage);
	h = ctl_open();
	if (!h)
		return EXIT_ERROR;
	ret = qkd_pool_del(h, 0, argv[0]);
	if (ret)
		ret = ctl_fail(h, ret, "pool del", argv[0]);
	qkd_close(h);
	return ret;
}

int cmd_pool(int argc, char *argv[])
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char *argv[]);
	} sub[] = {
		{ "add", pool_add },
		{ "set", pool_set },
		{ "del", pool_del },
	};

	if (argc > 1 && is_help(argv[1]))
		return ctl_usage(stdout, EXIT_OK, usage);
	if (argc < 3) {
		if (argc == 2 && (!strcmp(argv[1], "add") ||
				  !strcmp(argv[1], "set") ||
				  !strcmp(argv[1], "del")))
			fprintf(stderr, "%s: pool %s: missing pool name\n",
				PROG_NAME, argv[1]);
		return ctl_usage(stderr, EXIT_USAGE, usage);
	}
	for (int i = 2; i < argc; i++)
		if (is_help(argv[i]))
			return ctl_usage(stdout, EXIT_OK, usage);
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++)
		if (!strcmp(argv[1], sub[i].name))
			return sub[i].fn(argc - 2, argv + 2);
	fprintf(stderr, "%s: pool: unknown action '%s'\n", PROG_NAME, argv[1]);
	return ctl_usage(stderr, EXIT_USAGE, usage);
}
