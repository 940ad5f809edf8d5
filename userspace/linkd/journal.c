// SPDX-License-Identifier: GPL-2.0
/*
 * The master's journal file, text:
 *
 *	qkd-linkd journal 2
 *	next_seq SEQ
 *	open SEQ BASE N        (only while an offer is in flight)
 *	id KEY_ID              (N lines: the KME's string, keyid.h)
 *
 * Version 1 (before key IDs were carried as issued) had "id HEX32", 16
 * bytes in hex: read as the lower-case UUID that version sent to
 * dec_keys, which maps to the same kernel ID.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "journal.h"

#define JOURNAL_MAX	(64 + QKD_BATCH_MAX * (KEYID_MAX + 4))

static void path_of(char *buf, size_t cap, const char *dir, const char *pool,
		    const char *suffix)
{
	snprintf(buf, cap, "%s/%s.journal%s", dir, pool, suffix);
}

static int hex_id(const char *s, uint8_t id[QKD_KEY_ID_LEN])
{
	for (int i = 0; i < QKD_KEY_ID_LEN; i++) {
		unsigned int v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		id[i] = v;
	}
	return strspn(s, "0123456789abcdef") == 2 * QKD_KEY_ID_LEN ? 0 : -1;
}

/* "id KEY_ID\n" of version 2: the length of the line, or -1. */
static int str_id(const char *p, struct keyid *k)
{
	const char *nl;

	if (strncmp(p, "id ", 3))
		return -1;
	nl = strchr(p + 3, '\n');
	if (!nl || keyid_set(k, p + 3, nl - (p + 3)))
		return -1;
	return nl + 1 - p;
}

int journal_parse(const char *text, struct journal *j)
{
	const char *p = text;
	unsigned int n, version;
	int off = 0;

	memset(j, 0, sizeof(*j));
	if (sscanf(p, "qkd-linkd journal %u\nnext_seq %" SCNu64 "\n%n",
		   &version, &j->next_seq, &off) != 2 || !off ||
	    (version != 1 && version != 2) ||
	    strncmp(p, version == 1 ? "qkd-linkd journal 1\n" :
				      "qkd-linkd journal 2\n", 20))
		return -1;
	p += off;
	if (!*p)
		return 0;
	off = 0;
	if (sscanf(p, "open %" SCNu64 " %" SCNu64 " %u\n%n", &j->seq, &j->base,
		   &n, &off) != 3 || !off || !n || n > QKD_BATCH_MAX)
		return -1;
	p += off;
	for (unsigned int i = 0; i < n; i++) {
		uint8_t id[QKD_KEY_ID_LEN];
		int len;

		if (version == 2) {
			len = str_id(p, &j->ids[i]);
			if (len < 0)
				return -1;
			p += len;
			continue;
		}
		if (strncmp(p, "id ", 3) || hex_id(p + 3, id) ||
		    p[3 + 2 * QKD_KEY_ID_LEN] != '\n')
			return -1;
		keyid_from_bytes(&j->ids[i], id);
		p += 4 + 2 * QKD_KEY_ID_LEN;
	}
	if (*p || j->seq >= j->next_seq)
		return -1;
	j->n = n;
	j->open = true;
	return 0;
}

int journal_load(const char *dir, const char *pool, struct journal *j,
		 char *err, size_t errlen)
{
	char path[1024], *buf;
	ssize_t r;
	size_t len = 0;
	int fd;

	path_of(path, sizeof(path), dir, pool, "");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			memset(j, 0, sizeof(*j));
			j->next_seq = 1;
			return 0;
		}
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(JOURNAL_MAX + 1);
	if (!buf) {
		close(fd);
		return -1;
	}
	while (len < JOURNAL_MAX &&
	       (r = read(fd, buf + len, JOURNAL_MAX - len)) > 0)
		len += r;
	close(fd);
	buf[len] = '\0';
	if (journal_parse(buf, j)) {
		snprintf(err, errlen, "%s: corrupt journal (remove it only if the peer's inbound side is flushed too)",
			 path);
		free(buf);
		return -1;
	}
	free(buf);
	return 0;
}

int journal_save(const char *dir, const char *pool, const struct journal *j,
		 char *err, size_t errlen)
{
	char path[1024], tmp[1024];
	FILE *f;
	int fd, ok;

	path_of(path, sizeof(path), dir, pool, "");
	path_of(tmp, sizeof(tmp), dir, pool, ".tmp");
	f = fopen(tmp, "we");
	if (!f)
		goto fail;
	fprintf(f, "qkd-linkd journal 2\nnext_seq %" PRIu64 "\n", j->next_seq);
	if (j->open) {
		fprintf(f, "open %" PRIu64 " %" PRIu64 " %u\n", j->seq, j->base,
			j->n);
		for (unsigned int i = 0; i < j->n; i++)
			fprintf(f, "id %s\n", j->ids[i].s);
	}
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (fclose(f) || !ok)
		goto fail;
	if (rename(tmp, path))
		goto fail;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
fail:
	snprintf(err, errlen, "cannot write journal %s: %s", path,
		 strerror(errno));
	unlink(tmp);
	return -1;
}
