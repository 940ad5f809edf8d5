/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The master's journal: per pool, the next offer sequence number, the
 * offers in flight (their key IDs, oldest first) and the pool's outbound
 * "added" counter once every commit the journal knows of is counted.  Key
 * IDs only, never material.  Written to STATE_DIR/POOL.journal with
 * write, fsync, rename, fsync of the directory before an offer leaves this
 * node and after each commit, so that a restart finds every offer the peer
 * may have acted on.
 *
 * Offers are committed oldest first, and every commit is journaled before
 * the next: so at a restart at most the oldest open offer can have been
 * committed, and it was if the kernel's counter reached added + its n
 * (journal_recover()).
 */
#ifndef LINKD_JOURNAL_H
#define LINKD_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "keyid.h"
#include "qkd.h"
#include "window.h"

#define JOURNAL_OPEN_MAX	WINDOW_MAX

struct journal_offer {
	uint64_t seq;
	uint16_t n;
	struct keyid ids[QKD_BATCH_MAX];	/* as the KME issued them */
};

struct journal {
	uint64_t next_seq;
	uint64_t added;		/* outbound "added" counter, commits counted */
	unsigned int nopen;
	struct journal_offer open[JOURNAL_OPEN_MAX];	/* oldest first */
};

/* A missing file is a fresh journal.  0, or -1 with @err. */
int journal_load(const char *dir, const char *pool, struct journal *j,
		 char *err, size_t errlen);
int journal_save(const char *dir, const char *pool, const struct journal *j,
		 char *err, size_t errlen);
/* Parse the text of a journal file (for journal_load and the tests). */
int journal_parse(const char *text, struct journal *j);

/*
 * Record a new offer (seq = next_seq++) of @n IDs; with none open yet,
 * @added is the kernel's counter now.  The new entry, or NULL when full.
 */
struct journal_offer *journal_open(struct journal *j, uint64_t added,
				   const struct keyid *ids, uint16_t n);
/* Close the oldest open offer; @committed: its keys were added. */
void journal_close_oldest(struct journal *j, bool committed);

enum journal_outcome {
	JOURNAL_CLEAN,		/* nothing open */
	JOURNAL_COMMITTED,	/* the oldest was committed: close it */
	JOURNAL_UNKNOWN,	/* open offers, none committed: abort them */
};

/* At start: what the kernel's outbound "added" counter says. */
enum journal_outcome journal_recover(const struct journal *j,
				     uint64_t added);

#endif
