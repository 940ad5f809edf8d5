// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The qkd method's ID setting (charon.plugins.qkd.ke_id): the default, a
 * chosen ID, and the IDs refused because other implementations use them.
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

Suite *ke_id_suite(void)
{
	Suite *s = suite_create("ke_id");
	TCase *tc = tcase_create("setting");

	tcase_add_loop_test(tc, ke_id, 0, countof(ids));
	suite_add_tcase(s, tc);
	return s;
}
