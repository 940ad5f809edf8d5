// SPDX-License-Identifier: GPL-2.0
/*
 * The master's journal file, text:
 *
 *	qkd-linkd journal 3
 *	next_seq SEQ
 *	added ADDED
 *	open SEQ N             (one per offer in flight, oldest first)
 *	id KEY_ID              (N lines each: the KME's string, keyid.h)
 *
 * Still read, so that an upgrade keeps an offer left open: version 2 (one
 * offer at most, "open SEQ BASE N", no "added" line: BASE is the added
 * counter), and version 1, the same with "id HEX32", 16 bytes in hex, read
 * as the lower-case UUID that version sent to dec_keys, which maps to the
 * same kernel ID.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "journal.h"
#include "statefile.h"

#define ID_LINE_MAX	(KEYID_MAX + 4)
#define JOURNAL_MAX	(128 + JOURNAL_OPEN_MAX * (48 + QKD_BATCH_MAX * ID_LINE_MAX))

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

/* @n "id" lines of @version into @o; the text after them, or NULL. */
static const char *parse_ids(const char *p, struct journal_offer *o,
			     unsigned int n, unsigned int version)
{
	for (unsigned int i = 0; i < n; i++) {
		uint8_t id[QKD_KEY_ID_LEN];
		int len;

		if (version >= 2) {
			len = str_id(p, &o->ids[i]);
			if (len < 0)
				return NULL;
			p += len;
			continue;
		}
		if (strncmp(p, "id ", 3) || hex_id(p + 3, id) ||
		    p[3 + 2 * QKD_KEY_ID_LEN] != '\n')
			return NULL;
		keyid_from_bytes(&o->ids[i], id);
		p += 4 + 2 * QKD_KEY_ID_LEN;
	}
	o->n = n;
	return p;
}

/* Versions 1 and 2: one offer at most, with its base counter. */
static int parse_single(const char *p, struct journal *j,
			unsigned int version)
{
	unsigned int n;
	int off = 0;

	if (!*p)
		return 0;
	if (sscanf(p, "open %" SCNu64 " %" SCNu64 " %u\n%n", &j->open[0].seq,
		   &j->added, &n, &off) != 3 || !off || !n || n > QKD_BATCH_MAX)
		return -1;
	p = parse_ids(p + off, &j->open[0], n, version);
	if (!p || *p || !j->open[0].seq || j->open[0].seq >= j->next_seq)
		return -1;
	j->nopen = 1;
	return 0;
}

static int parse_v3(const char *p, struct journal *j)
{
	uint64_t last = 0;
	int off = 0;

	if (sscanf(p, "added %" SCNu64 "\n%n", &j->added, &off) != 1 || !off)
		return -1;
	p += off;
	while (*p) {
		struct journal_offer *o;
		unsigned int n;

		if (j->nopen == JOURNAL_OPEN_MAX)
			return -1;
		o = &j->open[j->nopen];
		off = 0;
		if (sscanf(p, "open %" SCNu64 " %u\n%n", &o->seq, &n, &off) != 2 ||
		    !off || !n || n > QKD_BATCH_MAX || o->seq <= last ||
		    o->seq >= j->next_seq)
			return -1;
		p = parse_ids(p + off, o, n, 3);
		if (!p)
			return -1;
		last = o->seq;
		j->nopen++;
	}
	return 0;
}

int journal_parse(const char *text, struct journal *j)
{
	static const char *const magic[] = {
		"qkd-linkd journal 1\n", "qkd-linkd journal 2\n",
		"qkd-linkd journal 3\n",
	};
	unsigned int version = 0;
	int off = 0, ret;

	memset(j, 0, sizeof(*j));
	if (sscanf(text, "qkd-linkd journal %u\nnext_seq %" SCNu64 "\n%n",
		   &version, &j->next_seq, &off) != 2 || !off ||
	    version < 1 || version > 3 ||
	    strncmp(text, magic[version - 1], strlen(magic[version - 1])))
		ret = -1;
	else if (version == 3)
		ret = parse_v3(text + off, j);
	else
		ret = parse_single(text + off, j, version);
	if (ret)
		memset(j, 0, sizeof(*j));
	return ret;
}

struct journal_offer *journal_open(struct journal *j, uint64_t added,
				   const struct keyid *ids, uint16_t n)
{
	struct journal_offer *o;

	if (j->nopen == JOURNAL_OPEN_MAX || !n || n > QKD_BATCH_MAX)
		return NULL;
	if (!j->nopen)
		j->added = added;
	o = &j->open[j->nopen++];
	o->seq = j->next_seq++;
	o->n = n;
	memcpy(o->ids, ids, (size_t)n * sizeof(o->ids[0]));
	return o;
}

void journal_close_oldest(struct journal *j, bool committed)
{
	if (!j->nopen)
		return;
	if (committed)
		j->added += j->open[0].n;
	memmove(&j->open[0], &j->open[1],
		(j->nopen - 1) * sizeof(j->open[0]));
	j->nopen--;
}

enum journal_outcome journal_recover(const struct journal *j,
				     uint64_t added)
{
	if (!j->nopen)
		return JOURNAL_CLEAN;
	return added >= j->added + j->open[0].n ? JOURNAL_COMMITTED :
						  JOURNAL_UNKNOWN;
}

int journal_load(const char *dir, const char *pool, struct journal *j,
		 char *err, size_t errlen)
{
	char path[1024], *buf;
	size_t len;
	int r;

	statefile_path(path, sizeof(path), dir, pool, "journal");
	buf = malloc(JOURNAL_MAX + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	r = statefile_read(path, buf, JOURNAL_MAX + 1, &len, err, errlen);
	if (r <= 0) {
		free(buf);
		if (r < 0)
			return -1;
		memset(j, 0, sizeof(*j));
		j->next_seq = 1;
		return 0;
	}
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
	char path[1024], *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	statefile_path(path, sizeof(path), dir, pool, "journal");
	f = open_memstream(&buf, &len);
	if (!f) {
		snprintf(err, errlen, "cannot write %s: %s", path,
			 strerror(errno));
		return -1;
	}
	fprintf(f, "qkd-linkd journal 3\nnext_seq %" PRIu64 "\nadded %" PRIu64 "\n",
		j->next_seq, j->added);
	for (unsigned int o = 0; o < j->nopen; o++) {
		fprintf(f, "open %" PRIu64 " %u\n", j->open[o].seq,
			j->open[o].n);
		for (unsigned int i = 0; i < j->open[o].n; i++)
			fprintf(f, "id %s\n", j->open[o].ids[i].s);
	}
	if (fclose(f)) {
		snprintf(err, errlen, "cannot write %s: %s", path,
			 strerror(errno));
		free(buf);
		return -1;
	}
	ret = statefile_write(path, buf, len, 0600, true, err, errlen);
	free(buf);
	return ret;
}
