/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The master's journal: per pool, the next offer sequence number and the
 * offer in flight (its key IDs and the pool's outbound "added" counter
 * before it).  Key IDs only, never material.  Written to
 * STATE_DIR/POOL.journal with write, fsync, rename, fsync of the directory
 * before an offer leaves this node, so that a restart finds every offer the
 * peer may have acted on.
 */
#ifndef LINKD_JOURNAL_H
#define LINKD_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "keyid.h"
#include "qkd.h"

struct journal {
	uint64_t next_seq;
	bool open;
	uint64_t seq;
	uint64_t base;		/* outbound "added" counter before the offer */
	uint16_t n;
	struct keyid ids[QKD_BATCH_MAX];	/* as the KME issued them */
};

/* A missing file is a fresh journal.  0, or -1 with @err. */
int journal_load(const char *dir, const char *pool, struct journal *j,
		 char *err, size_t errlen);
int journal_save(const char *dir, const char *pool, const struct journal *j,
		 char *err, size_t errlen);
/* Parse the text of a journal file (for journal_load and the tests). */
int journal_parse(const char *text, struct journal *j);

#endif
