// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The methods' ID settings (charon.plugins.qkd.ke_id, ke_id_mlkem768qkd
 * ...): the defaults, chosen IDs, and the IDs refused because other
 * implementations or another of the plugin's methods use them.
 */
#include <library.h>
#include <daemon.h>
#include <check.h>

#include "qkd_ke.h"
#include "tests.h"

static const struct {
	const char *setting;	/* NULL: unset */
	int want;
} ids[] = {
	{ NULL, 65001 },
	{ "65002", 65002 },
	{ "1025", 1025 },
	{ "1024", 65001 },	/* MODP_NULL */
	{ "1030", 65001 },	/* NTRU, strongSwan up to 5.9.14 */
	{ "1033", 65001 },
	{ "1040", 65001 },	/* NewHope */
	{ "65516", 65001 },	/* another public QKD plugin */
	{ "1023", 65001 },	/* not private use */
	{ "65536", 65001 },
	{ "-5", 65001 },
	{ "qkd", 65001 },
};

/* each case runs in its own process (check's fork mode): the ID is read
 * once per process, as once per charon */
START_TEST(ke_id)
{
	ck_assert(library_init(NULL, "qkd-plugin-tests"));
	/* a refused ID is logged through charon's bus */
	ck_assert(libcharon_init());
	if (ids[_i].setting)
		lib->settings->set_str(lib->settings,
				       "qkd-plugin-tests.plugins.qkd.ke_id",
				       (char *)ids[_i].setting);
	ck_assert_int_eq(qkd_ke_method(), ids[_i].want);
	/* read once: a later change needs a restart */
	lib->settings->set_str(lib->settings,
			       "qkd-plugin-tests.plugins.qkd.ke_id", "65003");
	ck_assert_int_eq(qkd_ke_method(), ids[_i].want);
	libcharon_deinit();
	library_deinit();
}
END_TEST

/* the combined methods' IDs: their own settings, never one ID twice */
static const struct {
	const char *qkd, *m512, *m768, *m1024;	/* NULL: unset */
	int want[4];
} combos[] = {
	{ NULL, NULL, NULL, NULL, { 65001, 65002, 65003, 65004 } },
	{ NULL, "64000", "64001", "64002", { 65001, 64000, 64001, 64002 } },
	/* another method's ID: the default */
	{ NULL, NULL, "65001", NULL, { 65001, 65002, 65003, 65004 } },
	{ NULL, "1040", "65002", NULL, { 65001, 65002, 65003, 65004 } },
	/* the default taken by a configured ID: the method is disabled */
	{ "65003", NULL, NULL, NULL, { 65003, 65002, 0, 65004 } },
};

START_TEST(combo_ids)
{
	const qkd_ke_method_t *m;
	const char *set[4] = { combos[_i].qkd, combos[_i].m512, combos[_i].m768,
			       combos[_i].m1024 };
	static const char *keys[4] = { "ke_id", "ke_id_mlkem512qkd",
				       "ke_id_mlkem768qkd", "ke_id_mlkem1024qkd" };
	static const char *tokens[4] = { "qkd", "mlkem512qkd", "mlkem768qkd",
					 "mlkem1024qkd" };
	static const key_exchange_method_t kems[4] = { KE_NONE, ML_KEM_512,
						       ML_KEM_768, ML_KEM_1024 };
	int i;

	ck_assert(library_init(NULL, "qkd-plugin-tests"));
	ck_assert(libcharon_init());
	for (i = 0; i < 4; i++)
		if (set[i])
			lib->settings->set_str(lib->settings,
					       "qkd-plugin-tests.plugins.qkd.%s",
					       (char *)set[i], keys[i]);
	ck_assert_int_eq(qkd_ke_methods(&m), 4);
	for (i = 0; i < 4; i++) {
		ck_assert_str_eq(m[i].token, tokens[i]);
		ck_assert_int_eq(m[i].method, combos[_i].want[i]);
		ck_assert_int_eq(m[i].mlkem, kems[i]);
		ck_assert(!combos[_i].want[i] || qkd_ke_is_ours(combos[_i].want[i]));
	}
	ck_assert_int_eq(qkd_ke_method(), combos[_i].want[0]);
	ck_assert(!qkd_ke_is_ours(0));
	ck_assert(!qkd_ke_is_ours(ML_KEM_768));
	libcharon_deinit();
	library_deinit();
}
END_TEST

Suite *ke_id_suite(void)
{
	Suite *s = suite_create("ke_id");
	TCase *tc = tcase_create("setting");

	tcase_add_loop_test(tc, ke_id, 0, countof(ids));
	tcase_add_loop_test(tc, combo_ids, 0, countof(combos));
	suite_add_tcase(s, tc);
	return s;
}
