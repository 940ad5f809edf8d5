// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon tests' runner: a binary of its own, because it links
 * master.c and slave.c with a fake kernel and transport (fake_linkd.c) in
 * place of libqkd's pool calls, which the main unit tests link for real.
 * Usage: linkd-daemon-tests [COUNTS-FILE]; writes "PASSED FAILED".
 */
#include <stdio.h>
#include <stdlib.h>
#include "tests.h"

int main(int argc, char *argv[])
{
	SRunner *sr = srunner_create(linkd_daemon_suite());
	int run, failed;

	srunner_run_all(sr, CK_NORMAL);
	run = srunner_ntests_run(sr);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (argc > 1) {
		FILE *f = fopen(argv[1], "w");

		if (!f || fprintf(f, "%d %d\n", run - failed, failed) < 0 ||
		    fclose(f))
			return 2;
	}
	return failed || !run ? EXIT_FAILURE : EXIT_SUCCESS;
}
