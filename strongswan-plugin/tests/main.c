// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The plugin's unit test runner.  Usage: unit-tests [COUNTS-FILE]; writes
 * "PASSED FAILED" (test cases) to COUNTS-FILE.
 */
#include <stdio.h>
#include <stdlib.h>
#include "tests.h"

int main(int argc, char *argv[])
{
	SRunner *sr = srunner_create(proto_suite());
	int run, failed;

	srunner_add_suite(sr, exchange_suite());
	srunner_add_suite(sr, combo_suite());
	srunner_add_suite(sr, mlkem_suite());
	srunner_add_suite(sr, mlkem_ke_suite());
	srunner_add_suite(sr, fallbacks_suite());
	srunner_add_suite(sr, peers_suite());
	srunner_add_suite(sr, ke_id_suite());
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
