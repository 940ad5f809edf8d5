// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-linkd's decisions (linkd/policy.c): the retry schedule after a KME
 * outage and after other failures, the listener's limits and source keys,
 * set-up deadlines, and what a changed netlink family means.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "tests.h"
#include "../linkd/policy.h"

/* Fast probes for the whole window, in [0.5, 1.0), whatever the jitter. */
START_TEST(retry_fast_then_backoff)
{
	struct retry r = { 0 };
	double t = 1000.0, d;
	int fast = 0;

	while (t < 1000.0 + 60.0) {
		d = retry_delay(&r, RETRY_KME, t, 60, (fast % 7) / 7.0);
		ck_assert(d >= PROBE_MIN && d < 2 * PROBE_MIN);
		t += d;
		fast++;
	}
	ck_assert_int_ge(fast, 60);
	ck_assert_int_le(fast, 120);
	/* Then 1, 2, 4 ... 60 s, each in the second half of its interval. */
	for (double b = RETRY_MIN; b <= 64; b *= 2) {
		double want = b > RETRY_MAX ? RETRY_MAX : b;

		d = retry_delay(&r, RETRY_KME, t, 60, 0.0);
		ck_assert_double_eq_tol(d, want / 2, 1e-9);
		t += d;
	}
	d = retry_delay(&r, RETRY_KME, t, 60, 0.999);
	ck_assert(d < RETRY_MAX && d > RETRY_MAX * 0.99);
	/* The KME answered: the next outage probes fast again. */
	retry_reset(&r, true);
	ck_assert_double_eq_tol(retry_delay(&r, RETRY_KME, t + 500, 60, 0.5),
				0.75, 1e-9);
}
END_TEST

/* A peer that refuses or cannot be reached always backs off: no spin. */
START_TEST(retry_other_backs_off)
{
	struct retry r = { 0 };
	double expect[] = { 0.5, 1, 2, 4, 8, 16, 30, 30 };

	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
		ck_assert_double_eq_tol(retry_delay(&r, RETRY_OTHER, 10.0 + i,
						    60, 0.0), expect[i], 1e-9);
	/* The KME answering does not forget a peer's refusals... */
	retry_reset(&r, true);
	ck_assert_double_eq_tol(retry_delay(&r, RETRY_OTHER, 20, 60, 0.0), 30,
				1e-9);
	/* ...a committed offer does. */
	retry_reset(&r, false);
	ck_assert_double_eq_tol(retry_delay(&r, RETRY_OTHER, 21, 60, 0.0), 0.5,
				1e-9);
}
END_TEST

/*
 * A KME with an empty key buffer ("400, try again later"): asked again
 * within 1 to 2 s however long it lasts, and the backoff of other
 * failures is left as it was.
 */
START_TEST(retry_again_stays_short)
{
	struct retry r = { 0 };

	ck_assert_double_eq_tol(retry_delay(&r, RETRY_OTHER, 1, 60, 0.0), 0.5,
				1e-9);
	for (int i = 0; i < 100; i++) {
		double d = retry_delay(&r, RETRY_AGAIN, 10.0 + 100 * i, 0,
				       i / 100.0);

		ck_assert(d >= AGAIN_MIN && d < 2 * AGAIN_MIN);
	}
	ck_assert_double_eq_tol(r.backoff, 1.0, 1e-9);
	ck_assert_double_eq_tol(r.outage_start, 0, 1e-9);
	ck_assert_double_eq_tol(retry_delay(&r, RETRY_OTHER, 1e4, 60, 0.0), 1.0,
				1e-9);
}
END_TEST

/* fast_retry = 0: plain backoff from the first KME failure. */
START_TEST(retry_fast_disabled)
{
	struct retry r = { 0 };

	ck_assert_double_eq_tol(retry_delay(&r, RETRY_KME, 5, 0, 0.0), 0.5, 1e-9);
	ck_assert_double_eq_tol(retry_delay(&r, RETRY_KME, 6, 0, 0.0), 1.0, 1e-9);
}
END_TEST

START_TEST(admit_limits)
{
	ck_assert_int_eq(conn_admit(0, 0, 64, 4), ADMIT);
	ck_assert_int_eq(conn_admit(63, 3, 64, 4), ADMIT);
	ck_assert_int_eq(conn_admit(10, 4, 64, 4), ADMIT_SOURCE);
	ck_assert_int_eq(conn_admit(64, 0, 64, 4), ADMIT_FULL);
	ck_assert_int_eq(conn_admit(64, 4, 64, 4), ADMIT_FULL);
	ck_assert_int_eq(conn_admit(0, 0, 1, 1), ADMIT);
	ck_assert_int_eq(conn_admit(1, 0, 1, 1), ADMIT_FULL);
}
END_TEST

/* Count by source as the listener does: 300 from one address, 1 other. */
START_TEST(admit_flood_leaves_room)
{
	unsigned int total = 0, flood = 0, refused = 0;

	for (int i = 0; i < 300; i++) {
		if (conn_admit(total, flood, 64, 4) == ADMIT) {
			total++;
			flood++;
		} else {
			refused++;
		}
	}
	ck_assert_uint_eq(flood, 4);
	ck_assert_uint_eq(refused, 296);
	ck_assert_int_eq(conn_admit(total, 0, 64, 4), ADMIT);
}
END_TEST

START_TEST(source_keys)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(9) };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	char k[64];

	inet_pton(AF_INET, "10.9.0.3", &s4.sin_addr);
	ck_assert_int_eq(conn_source_key((void *)&s4, sizeof(s4), k, sizeof(k)), 0);
	ck_assert_str_eq(k, "10.9.0.3");
	inet_pton(AF_INET6, "::ffff:10.9.0.3", &s6.sin6_addr);
	ck_assert_int_eq(conn_source_key((void *)&s6, sizeof(s6), k, sizeof(k)), 0);
	ck_assert_str_eq(k, "10.9.0.3");
	inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	ck_assert_int_eq(conn_source_key((void *)&s6, sizeof(s6), k, sizeof(k)), 0);
	ck_assert_str_eq(k, "2001:db8::1");
	/* Short or unknown addresses have no key. */
	ck_assert_int_eq(conn_source_key((void *)&s4, 4, k, sizeof(k)), -1);
	s4.sin_family = AF_UNIX;
	ck_assert_int_eq(conn_source_key((void *)&s4, sizeof(s4), k, sizeof(k)), -1);
	ck_assert_int_eq(conn_source_key((void *)&s6, sizeof(s6), k, 4), -1);
}
END_TEST

START_TEST(setup_deadlines)
{
	ck_assert_double_eq_tol(conn_setup_deadline(true, 5, 100.0), 105.0, 1e-9);
	ck_assert_double_eq_tol(conn_setup_deadline(false, 5, 100.0), 110.0, 1e-9);
	ck_assert_double_eq_tol(conn_setup_deadline(true, 1, 0.5), 1.5, 1e-9);
}
END_TEST

START_TEST(family_decision)
{
	ck_assert_int_eq(family_check(0, 0x20, 0x20), FAMILY_OK);
	ck_assert_int_eq(family_check(0, 0x20, 0x21), FAMILY_REOPEN);
	ck_assert_int_eq(family_check(-ENOENT, 0x20, 0), FAMILY_GONE);
	ck_assert_int_eq(family_check(-ENOBUFS, 0x20, 0), FAMILY_ERROR);
	ck_assert_int_eq(family_check(-EIO, 0x20, 0x20), FAMILY_ERROR);
}
END_TEST

Suite *linkd_policy_suite(void)
{
	Suite *s = suite_create("linkd_policy");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, retry_fast_then_backoff);
	tcase_add_test(tc, retry_other_backs_off);
	tcase_add_test(tc, retry_fast_disabled);
	tcase_add_test(tc, retry_again_stays_short);
	tcase_add_test(tc, admit_limits);
	tcase_add_test(tc, admit_flood_leaves_room);
	tcase_add_test(tc, source_keys);
	tcase_add_test(tc, setup_deadlines);
	tcase_add_test(tc, family_decision);
	suite_add_tcase(s, tc);
	return s;
}
