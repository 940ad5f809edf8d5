/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What an end-to-end pool must remember across a restart
 * (Documentation/relay.rst, "Commit order"), in STATE_DIR/NAME.relay:
 *
 *	qkd-linkd relay 1
 *	next 129		the origin's transfer numbers below are used
 *	aborted 41		the far end refuses transfers at or below
 *
 * The origin never reuses a transfer number (the far end would refuse it
 * as stale, or take a new transfer for an old one); the far end never
 * takes a late frame of a transfer it answered ABORTED for.  Written with
 * write, fsync, rename and an fsync of the directory before a KEYS frame
 * with a new number leaves and before ABORTED does.  No key material.
 */
#ifndef LINKD_RELAY_STATE_H
#define LINKD_RELAY_STATE_H

#include <stddef.h>
#include <stdint.h>

#define RELAY_STATE_MAX	128	/* bytes of the file */

struct relay_state {
	uint64_t next;		/* 1 .. ; 0 in a file: refused */
	uint64_t aborted;
};

/* The file's text: its length, or -1 when it does not fit @len. */
int relay_state_format(const struct relay_state *st, char *buf, size_t len);
/* 0, or -1 with the reason in @err when @text is not exactly that. */
int relay_state_parse(const char *text, struct relay_state *st, char *err,
		      size_t errlen);

/*
 * STATE_DIR/@pool.relay: 1 read, 0 no such file (a new pool: next 1,
 * aborted 0), -1 with the reason in @err (unreadable or not a state
 * file: the daemon refuses to relay for that pool rather than guess).
 */
int relay_state_load(const char *dir, const char *pool,
		     struct relay_state *st, char *err, size_t errlen);
/* 0, or -1 with the reason in @err (nothing may then be sent). */
int relay_state_save(const char *dir, const char *pool,
		     const struct relay_state *st, char *err, size_t errlen);

#endif
