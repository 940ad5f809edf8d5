// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-linkd's state files, read whole and replaced atomically: see
 * statefile.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "statefile.h"

void statefile_path(char *buf, size_t cap, const char *dir, const char *pool,
		    const char *ext)
{
	snprintf(buf, cap, "%s/%s.%s", dir, pool, ext);
}

int statefile_read(const char *path, char *buf, size_t cap, size_t *len,
		   char *err, size_t errlen)
{
	ssize_t r;
	int fd;

	*len = 0;
	buf[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot read %s: %s", path,
			 strerror(errno));
		return -1;
	}
	while (*len < cap - 1 &&
	       (r = read(fd, buf + *len, cap - 1 - *len)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "cannot read %s: %s", path,
				 strerror(errno));
			close(fd);
			buf[0] = '\0';
			*len = 0;
			return -1;
		}
		*len += (size_t)r;
	}
	close(fd);
	buf[*len] = '\0';
	return 1;
}

/*
 * The rename is on disk only once the directory is.  0, or -1 (errno
 * set, @dir the directory): the new file is in place but a crash could
 * still bring the old one back.
 */
static int sync_dir(const char *path, char *dir, size_t dirlen)
{
	char copy[PATH_MAX];
	int fd, ret, saved;

	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(dir, dirlen, "%s", dirname(copy));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	saved = errno;
	close(fd);
	/*
	 * EINVAL: a file system that cannot sync a directory (its renames
	 * are as durable as it makes them); failing every write there
	 * would stop the daemon for good.
	 */
	if (ret && saved == EINVAL)
		return 0;
	errno = saved;
	return ret;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int statefile_write(const char *path, const void *buf, size_t len,
		    mode_t mode, bool durable, char *err, size_t errlen)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, saved;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		goto fail;
	/* open() applies the umask: the mode asked for is the mode given. */
	if (fchmod(fd, mode) || write_all(fd, buf, len) ||
	    (durable && fsync(fd))) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail_tmp;
	}
	if (close(fd) || rename(tmp, path))
		goto fail_tmp;
	if (durable && sync_dir(path, dir, sizeof(dir))) {
		/* Not durable: the caller treats it as a failed write. */
		snprintf(err, errlen, "cannot write %s durably: open or fsync of directory %s: %s",
			 path, dir, strerror(errno));
		return -1;
	}
	return 0;
fail_tmp:
	saved = errno;
	unlink(tmp);
	errno = saved;
fail:
	snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
	return -1;
}

void statefile_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c < 0x7f ? c : '?', f);
	}
	fputc('"', f);
}
