// SPDX-License-Identifier: GPL-2.0
/*
 * Finding qkd-linkd's status files and matching them to the kernel's
 * pools: see linkd_status.h.  QKD_LINKD_STATUS names a file or a
 * directory; in a directory every "*.json" file is read (qkd-linkd's own
 * temporary file ends in ".tmp").  A status is taken only in the network
 * namespace that wrote it (pool names are per namespace), and the
 * freshest one wins when two daemons name one pool.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "qkdctl.h"

#define MAX_FILES	64

/* The whole regular file, NUL-terminated; NULL with errno set. */
static char *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int saved;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st)) {
		saved = errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		saved = EINVAL;
		goto out;
	}
	if (st.st_size > LINKD_STATUS_MAX_BYTES) {
		saved = EFBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		saved = ENOMEM;
		goto out;
	}
	/* Up to the size seen: qkd-linkd replaces the file, never grows it. */
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			saved = errno;
			free(buf);
			buf = NULL;
			goto out;
		}
		if (!r)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	*len = got;
	saved = 0;
out:
	close(fd);
	errno = saved;
	return buf;
}

static uint64_t own_netns(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : (uint64_t)st.st_ino;
}

static void take(const char *path, const struct qkd_pool_info *pools,
		 size_t n, struct linkd_health *out, int64_t now,
		 uint64_t netns)
{
	struct linkd_health *st;
	char err[128];
	size_t len, count;
	char *buf;

	buf = read_file(path, &len);
	if (!buf) {
		fprintf(stderr, "%s: cannot read qkd-linkd's status %s: %s\n",
			PROG_NAME, path, strerror(errno));
		return;
	}
	if (linkd_status_parse(buf, len, &st, &count, err, sizeof(err))) {
		fprintf(stderr, "%s: ignoring qkd-linkd's status %s: %s\n",
			PROG_NAME, path, err);
		free(buf);
		return;
	}
	free(buf);
	for (size_t k = 0; k < count; k++) {
		if (st[k].netns && netns && st[k].netns != netns)
			continue;	/* another namespace's pool */
		for (size_t i = 0; i < n; i++) {
			if (strcmp(st[k].name, pools[i].name))
				continue;
			if (out[i].state == LINKD_NONE ||
			    st[k].time > out[i].time) {
				out[i] = st[k];
				out[i].now = now;
				out[i].state = linkd_state_at(st[k].time,
							      st[k].interval,
							      now);
			}
			break;
		}
	}
	free(st);
}

static bool is_status_name(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && len > 5 && !strcmp(name + len - 5, ".json");
}

void linkd_health_read(const struct qkd_pool_info *pools, size_t n,
		       struct linkd_health *out)
{
	const char *env = getenv(LINKD_STATUS_ENV);
	bool named = env && env[0];
	const char *path = named ? env : LINKD_STATUS_DIR;
	int64_t now = (int64_t)time(NULL);
	uint64_t netns = own_netns();
	struct dirent *de;
	struct stat st;
	unsigned int files = 0;
	DIR *dir;

	memset(out, 0, n * sizeof(*out));
	if (!n)
		return;
	if (stat(path, &st)) {
		/* No qkd-linkd on this machine: nothing to say, unless asked. */
		if (errno != ENOENT || named)
			fprintf(stderr, "%s: cannot read qkd-linkd's status %s: %s\n",
				PROG_NAME, path, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		take(path, pools, n, out, now, netns);
		return;
	}
	dir = opendir(path);
	if (!dir) {
		fprintf(stderr, "%s: cannot read qkd-linkd's status directory %s: %s\n",
			PROG_NAME, path, strerror(errno));
		return;
	}
	while ((de = readdir(dir))) {
		char file[4096];

		if (!is_status_name(de->d_name))
			continue;
		if (++files > MAX_FILES) {
			fprintf(stderr, "%s: more than %d status files in %s: the rest ignored\n",
				PROG_NAME, MAX_FILES, path);
			break;
		}
		if (snprintf(file, sizeof(file), "%s/%s", path, de->d_name) >=
		    (int)sizeof(file))
			continue;
		take(file, pools, n, out, now, netns);
	}
	closedir(dir);
}
