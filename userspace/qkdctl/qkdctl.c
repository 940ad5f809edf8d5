// SPDX-License-Identifier: GPL-2.0
/*
 * qkdctl: look after the qkdpool key pools.  The subcommands are the table
 * below; each lives in its own file.  No argument means "show".
 */
#include <string.h>
#include "qkdctl.h"

static const struct subcommand {
	const char *name;
	int (*fn)(int argc, char *argv[]);
	const char *help;
} subcommands[] = {
	{ "show", cmd_show, "Show pools: levels, states, rates and counters" },
	{ "dump", cmd_dump, "Print pools as tab-separated values for scripts" },
	{ "metrics", cmd_metrics, "Print pools in the Prometheus text format" },
	{ "monitor", cmd_monitor, "Print pool notifications as they come" },
	{ "pool", cmd_pool, "Add, change or delete a pool" },
	{ "flush", cmd_flush, "Wipe the keys of a pool" },
	{ "keys", cmd_keys, "Add keys from a file or take keys (for tests)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [<command> [<args>]]\n\n", PROG_NAME);
	fprintf(f, "Available commands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-9s %s\n", subcommands[i].name,
			subcommands[i].help);
	fprintf(f, "\nWithout a command, %s runs 'show'.  '%s <command> --help' explains\n"
		"a command; qkdctl(8) has the details.\n", PROG_NAME, PROG_NAME);
}

int main(int argc, char *argv[])
{
	static char *show_argv[] = { "show", NULL };

	if (argc < 2)
		return cmd_show(1, show_argv);
	if (is_help(argv[1])) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("%s %s\n", PROG_NAME, QKDCTL_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "%s: invalid command '%s'\n", PROG_NAME, argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
