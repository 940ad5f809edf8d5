/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the daemon tests (test_linkd_daemon.c) put in place of the kernel,
 * the transport and the clock, so that master.c and slave.c run as they
 * do in qkd-linkd, with every frame they send and every pool operation
 * they make recorded here.
 */
#ifndef FAKE_LINKD_H
#define FAKE_LINKD_H

#include <stdbool.h>
#include <stdint.h>
#include "../linkd/linkd.h"

#define FAKE_MAX_SENT	64

struct fake_sent {
	uint8_t type;
	uint64_t seq;
	uint16_t status;
	uint16_t n;
	uint32_t count;
	uint8_t reset;
	uint8_t caps;			/* HELLO, HELLO_OK */
};

struct fake_kernel {
	/* the one kernel pool (any id but 0) */
	uint64_t added[2];		/* out, in */
	uint32_t level[2];
	unsigned int key_adds[2];	/* qkd_key_add() calls */
	unsigned int flushes[2];
	int add_ret;			/* what qkd_key_add() returns */
	/* the transport */
	struct fake_sent sent[FAKE_MAX_SENT];
	unsigned int nsent;
	unsigned int closes;
	char last_close[128];
	/* the clock */
	double now;
};

extern struct fake_kernel fk_state;

void fake_reset(void);
/* A connection as the transport gives it to its owner. */
struct conn *fake_conn(const struct conn_ops *ops, void *ctx, bool server);
/* The last frame sent of @type, or NULL. */
const struct fake_sent *fake_last_sent(uint8_t type);
unsigned int fake_count_sent(uint8_t type);
/* Free the connections closed so far (conn_sweep()'s part). */
void fake_sweep(void);

#endif
