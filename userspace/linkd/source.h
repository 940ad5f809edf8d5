/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A key source: where a pool's keys come from.  Two implementations:
 * kme.c (ETSI GS QKD 014) and stream.c (a synchronized key stream).
 *
 * - get(): the master side (this node's outbound direction) asks for @n
 *   new keys; the source picks their IDs and names them in @names, as the
 *   peer's source must be asked for them (keyid.h).
 * - get_by_id(): the slave side (the peer's outbound direction, this
 *   node's inbound) asks for the keys the peer offered, by those names.
 *
 * Both fill @keys (keys[i].id is the kernel ID of names[i]) entirely or
 * not at all (wiped on failure) and return 0, -1 with a reason for the log
 * in @err, or SRC_AGAIN (get() only): the source answered but has no keys
 * to give now, ask again soon.  Both may block, bounded by the source's
 * own timeouts: they run on the pool's worker threads (worker.h), never
 * on the event loop.  interrupt() (optional) is called from another
 * thread to end a running call early, before destroy().
 */
#ifndef LINKD_SOURCE_H
#define LINKD_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include "keyid.h"
#include "qkd.h"

#define SRC_ERR_LEN	256
#define SRC_AGAIN	1

struct pool_cfg;

struct source_ops {
	int (*get)(void *priv, struct qkd_key *keys, struct keyid *names,
		   size_t n, char *err, size_t errlen);
	int (*get_by_id)(void *priv, const struct keyid *names,
			 struct qkd_key *keys, size_t n,
			 char *err, size_t errlen);
	/*
	 * Reachability check and limits: 0, or -1 when the source cannot be
	 * reached or cannot serve this pool at all.  A source that answers
	 * without (all of) its limits gives the configuration's instead.
	 * *max_batch <= QKD_BATCH_MAX.
	 */
	int (*status)(void *priv, unsigned int *max_batch, unsigned int *stored,
		      char *err, size_t errlen);
	void (*interrupt)(void *priv);
	void (*destroy)(void *priv);
};

struct source {
	const struct source_ops *ops;
	void *priv;
};

int kme_source_new(const struct pool_cfg *pc, struct source *src,
		   char *err, size_t errlen);
/* @state_dir keeps the stream's read positions (not secret). */
int stream_source_new(const struct pool_cfg *pc, const char *state_dir,
		      struct source *src, char *err, size_t errlen);

#endif
