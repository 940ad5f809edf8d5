// SPDX-License-Identifier: GPL-2.0
/*
 * The synchronized-stream source: both nodes read the same key blocks,
 * with the same IDs, from a local file or device (a QKD device that
 * writes its keys to a file, or a test).  Format: a sequence of records,
 * each a 16-byte key ID followed by key_size / 8 bytes of material, no
 * header.  Record i belongs to the direction "a to b" when i is even and
 * "b to a" when i is odd: the node with stream_role a takes its outbound
 * keys from the even records, role b from the odd ones, and each node finds
 * its inbound keys among the other parity.
 *
 * The same offer/acknowledge protocol as with ETSI 014 runs on top: the
 * master takes its next records and offers their IDs; the slave looks them
 * up forward from its own read position (skipping records the master
 * aborted or skipped).  The read positions (record indices, not secret)
 * are kept in STATE_DIR/POOL.stream; the master's is saved before its
 * keys are offered, so a restart never offers a record twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "source.h"
#include "statefile.h"

#define STREAM_SCAN_MAX	(1u << 20)	/* records searched for an offered ID */

struct stream {
	int fd;
	size_t key_bytes;
	int role;		/* 0 = a, 1 = b */
	uint64_t pos[2];	/* next record index: [0] outbound, [1] inbound */
	char state[1024];
};

static int save_pos(struct stream *s, char *err, size_t errlen)
{
	char buf[96];
	int n = snprintf(buf, sizeof(buf),
			 "qkd-linkd stream 1\nout %" PRIu64 "\nin %" PRIu64 "\n",
			 s->pos[0], s->pos[1]);

	return statefile_write(s->state, buf, (size_t)n, 0600, true, err,
			       errlen);
}

/* Read record @idx into @k.  1 if read, 0 at the end, -1 on error. */
static int read_record(struct stream *s, uint64_t idx, struct qkd_key *k)
{
	size_t rec = QKD_KEY_ID_LEN + s->key_bytes;
	uint8_t buf[QKD_KEY_ID_LEN + QKD_KEY_SIZE_MAX];
	ssize_t r = pread(s->fd, buf, rec, (off_t)(idx * rec));

	if (r == 0 || (r > 0 && (size_t)r < rec)) {
		explicit_bzero(buf, sizeof(buf));
		return 0;
	}
	if (r < 0)
		return -1;
	memcpy(k->id, buf, QKD_KEY_ID_LEN);
	memcpy(k->material, buf + QKD_KEY_ID_LEN, s->key_bytes);
	k->len = s->key_bytes;
	explicit_bzero(buf, sizeof(buf));
	return 1;
}

/* The record index of the @j-th record of parity @par at or after @from. */
static uint64_t nth(uint64_t from, int par, uint64_t j)
{
	uint64_t first = from + ((from & 1) != (uint64_t)par);

	return first + 2 * j;
}

static int stream_get(void *priv, struct qkd_key *keys, struct keyid *names,
		      size_t n, char *err, size_t errlen)
{
	struct stream *s = priv;
	uint64_t idx = 0;

	for (size_t i = 0; i < n; i++) {
		idx = nth(s->pos[0], s->role, i);
		int r = read_record(s, idx, &keys[i]);

		if (r <= 0) {
			qkd_key_wipe(keys, n);
			if (r)
				snprintf(err, errlen, "stream read error: %s",
					 strerror(errno));
			else
				snprintf(err, errlen, "stream exhausted (%zu of %zu keys left)",
					 i, n);
			return -1;
		}
	}
	s->pos[0] = idx + 1;
	if (save_pos(s, err, errlen)) {
		qkd_key_wipe(keys, n);
		return -1;
	}
	/* The stream's IDs are 16 bytes: their UUIDs map back to them. */
	for (size_t i = 0; i < n; i++)
		keyid_from_bytes(&names[i], keys[i].id);
	return 0;
}

static int stream_get_by_id(void *priv, const struct keyid *names,
			    struct qkd_key *keys, size_t n, char *err,
			    size_t errlen)
{
	uint8_t ids[QKD_BATCH_MAX][QKD_KEY_ID_LEN];
	struct stream *s = priv;
	int par = !s->role;
	uint64_t idx = 0, j;
	int r = 0;

	if (n > QKD_BATCH_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		keyid_to_bytes(&names[i], ids[i]);
	for (j = 0; j < STREAM_SCAN_MAX; j++) {
		idx = nth(s->pos[1], par, j);
		r = read_record(s, idx, &keys[0]);
		if (r <= 0 || !memcmp(keys[0].id, ids[0], QKD_KEY_ID_LEN))
			break;
	}
	if (r <= 0 || j == STREAM_SCAN_MAX)
		goto notfound;
	for (size_t i = 1; i < n; i++) {
		idx += 2;
		r = read_record(s, idx, &keys[i]);
		if (r <= 0 || memcmp(keys[i].id, ids[i], QKD_KEY_ID_LEN))
			goto notfound;
	}
	s->pos[1] = idx + 1;
	/* A lost update only makes the next search start earlier. */
	save_pos(s, err, errlen);
	return 0;
notfound:
	qkd_key_wipe(keys, n);
	snprintf(err, errlen, "offered key IDs not found in the stream from record %" PRIu64 " on (streams out of step?)",
		 s->pos[1]);
	return -1;
}

static int stream_status(void *priv, unsigned int *max_batch,
			 unsigned int *stored, char *err, size_t errlen)
{
	(void)priv;
	(void)err;
	(void)errlen;
	*max_batch = QKD_BATCH_MAX;
	*stored = 0;
	return 0;
}

static void stream_destroy(void *priv)
{
	struct stream *s = priv;

	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

static const struct source_ops stream_ops = {
	.get = stream_get,
	.get_by_id = stream_get_by_id,
	.status = stream_status,
	.destroy = stream_destroy,
};

int stream_source_new(const struct pool_cfg *pc, const char *state_dir,
		      struct source *src, char *err, size_t errlen)
{
	struct stream *s = calloc(1, sizeof(*s));
	FILE *f;

	if (!s)
		return -1;
	s->key_bytes = pc->key_bits / 8;
	s->role = pc->stream_role;
	snprintf(s->state, sizeof(s->state), "%s/%s.stream", state_dir,
		 pc->name);
	s->fd = open(pc->stream, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0) {
		snprintf(err, errlen, "%s: %s", pc->stream, strerror(errno));
		free(s);
		return -1;
	}
	f = fopen(s->state, "re");
	if (f) {
		int ok = fscanf(f, "qkd-linkd stream 1\nout %" SCNu64 "\nin %" SCNu64,
				&s->pos[0], &s->pos[1]) == 2;

		fclose(f);
		if (!ok) {
			snprintf(err, errlen, "%s: corrupt stream state",
				 s->state);
			stream_destroy(s);
			return -1;
		}
	}
	src->ops = &stream_ops;
	src->priv = s;
	return 0;
}
