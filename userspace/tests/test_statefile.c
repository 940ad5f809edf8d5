// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-linkd's state files (linkd/statefile.c): read whole, replaced whole,
 * nothing left behind when a write fails.
 */
#include <check.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../linkd/statefile.h"
#include "tests.h"

static char dir[64];

/*
 * fsync() as the unit tests see it (linked with -Wl,--wrap=fsync): the
 * real one, or dir_fsync_errno (EIO, as a full or failing disk gives)
 * for a directory while fail_dir_fsync is set.
 */
int __real_fsync(int fd);
int __wrap_fsync(int fd);
static bool fail_dir_fsync;
static int dir_fsync_errno = EIO;

int __wrap_fsync(int fd)
{
	struct stat st;

	if (fail_dir_fsync && !fstat(fd, &st) && S_ISDIR(st.st_mode)) {
		errno = dir_fsync_errno;
		return -1;
	}
	return __real_fsync(fd);
}

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

/*
 * The directory's fsync after the rename fails: the write is not durable,
 * and the caller hears so (it must not act as if the record were on
 * disk); a write that need not be durable does not sync at all.
 */
START_TEST(statefile_dir_fsync_fails)
{
	char path[128], buf[64], err[256] = "";
	size_t len;

	make_dir();
	statefile_path(path, sizeof(path), dir, "kobe", "relay");
	fail_dir_fsync = true;
	ck_assert_int_eq(statefile_write(path, "next 65\n", 8, 0600, true, err,
					 sizeof(err)), -1);
	fail_dir_fsync = false;
	ck_assert_msg(strstr(err, "cannot write ") && strstr(err, "kobe.relay durably") &&
		      strstr(err, "fsync of directory ") &&
		      strstr(err, strerror(EIO)), "%s", err);
	/* The new bytes are there: only their durability is in doubt. */
	ck_assert_int_eq(statefile_read(path, buf, sizeof(buf), &len, err,
					sizeof(err)), 1);
	ck_assert_str_eq(buf, "next 65\n");
	fail_dir_fsync = true;
	ck_assert_int_eq(statefile_write(path, "x", 1, 0600, false, err,
					 sizeof(err)), 0);
	fail_dir_fsync = false;
	/* Once the disk is well again the same write succeeds. */
	ck_assert_int_eq(statefile_write(path, "next 65\n", 8, 0600, true, err,
					 sizeof(err)), 0);
	/* A file system that cannot sync a directory (EINVAL) is no failure. */
	fail_dir_fsync = true;
	dir_fsync_errno = EINVAL;
	ck_assert_int_eq(statefile_write(path, "next 66\n", 8, 0600, true, err,
					 sizeof(err)), 0);
	fail_dir_fsync = false;
	dir_fsync_errno = EIO;
	unlink(path);
	rmdir(dir);
}
END_TEST

Suite *statefile_suite(void)
{
	Suite *s = suite_create("linkd_statefile");
	TCase *tc = tcase_create("statefile");

	tcase_add_test(tc, statefile_round_trip);
	tcase_add_test(tc, statefile_failures);
	tcase_add_test(tc, statefile_dir_fsync_fails);
	suite_add_tcase(s, tc);
	return s;
}
