// SPDX-License-Identifier: GPL-2.0
/*
 * The unit test runner.  Usage: unit-tests [COUNTS-FILE]; writes
 * "PASSED FAILED" (test cases) to COUNTS-FILE.
 */
#include <stdio.h>
#include <stdlib.h>
#include "tests.h"

int main(int argc, char *argv[])
{
	SRunner *sr = srunner_create(msg_suite());
	int run, failed;

	srunner_add_suite(sr, parse_suite());
	srunner_add_suite(sr, format_suite());
	srunner_add_suite(sr, args_suite());
	srunner_add_suite(sr, tag_suite());
	srunner_add_suite(sr, linkd_config_suite());
	srunner_add_suite(sr, kme_json_suite());
	srunner_add_suite(sr, peer_proto_suite());
	srunner_add_suite(sr, linkd_policy_suite());
	srunner_add_suite(sr, linkd_status_suite());
	srunner_add_suite(sr, secmem_suite());
	srunner_add_suite(sr, linkd_async_suite());
	srunner_add_suite(sr, linkd_recon_suite());
	srunner_add_suite(sr, statefile_suite());
	srunner_add_suite(sr, relay_crypto_suite());
	srunner_add_suite(sr, relay_frame_suite());
	srunner_add_suite(sr, route_suite());
	srunner_add_suite(sr, relay_config_suite());
	srunner_add_suite(sr, relay_hop_suite());
	srunner_add_suite(sr, relay_node_suite());
	srunner_add_suite(sr, relay_status_suite());
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
