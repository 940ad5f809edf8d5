// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-linkd's state files (linkd/statefile.c): read whole, replaced whole,
 * nothing left behind when a write fails.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../linkd/statefile.h"
#include "tests.h"

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/qkd-statefile-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

START_TEST(statefile_round_trip)
{
	char path[128], tmp[140], buf[64], err[256] = "";
	struct stat st;
	size_t len;

	make_dir();
	statefile_path(path, sizeof(path), dir, "osaka", "peer");
	ck_assert_str_eq(path + strlen(dir), "/osaka.peer");
	/* no file yet: 0, nothing read, no error */
	ck_assert_int_eq(statefile_read(path, buf, sizeof(buf), &len, err,
					sizeof(err)), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(statefile_write(path, "first\n", 6, 0600, true, err,
					 sizeof(err)), 0);
	/* replaced whole, mode as asked whatever the umask */
	umask(0077);
	ck_assert_int_eq(statefile_write(path, "second\n", 7, 0644, false, err,
					 sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0644);
	ck_assert_int_eq(statefile_read(path, buf, sizeof(buf), &len, err,
					sizeof(err)), 1);
	ck_assert_uint_eq(len, 7);
	ck_assert_str_eq(buf, "second\n");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	/* a file longer than the buffer is cut, NUL-terminated */
	ck_assert_int_eq(statefile_read(path, buf, 4, &len, err, sizeof(err)), 1);
	ck_assert_uint_eq(len, 3);
	ck_assert_str_eq(buf, "sec");
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(statefile_failures)
{
	char path[128], tmp[140], buf[64], err[256] = "";
	size_t len;

	make_dir();
	/* the target is a directory: the rename fails, the old stays, no .tmp */
	statefile_path(path, sizeof(path), dir, "link", "journal");
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(statefile_write(path, "x", 1, 0600, true, err,
					 sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot write "));
	ck_assert_ptr_nonnull(strstr(err, "link.journal: "));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	/* reading a directory: an error that names the file */
	err[0] = '\0';
	ck_assert_int_eq(statefile_read(path, buf, sizeof(buf), &len, err,
					sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot read "));
	ck_assert_ptr_nonnull(strstr(err, "link.journal"));
	rmdir(path);
	/* a directory that does not exist */
	ck_assert_int_eq(statefile_write("/nonexistent/dir/link.peer", "x", 1,
					 0600, true, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot write /nonexistent/dir/link.peer: "));
	rmdir(dir);
}
END_TEST

Suite *statefile_suite(void)
{
	Suite *s = suite_create("linkd_statefile");
	TCase *tc = tcase_create("statefile");

	tcase_add_test(tc, statefile_round_trip);
	tcase_add_test(tc, statefile_failures);
	suite_add_tcase(s, tc);
	return s;
}
