/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reconciliation: what the two ends of one direction of a pool agree on
 * when they (re)connect.  A kernel pool is known by its epoch: the boot ID,
 * the network namespace's cookie, the qkd family's ID (a module reload
 * registers it under a new one) and the pool's ID (a pool deleted and
 * created again gets a new one).  Keys are valid in a direction only while
 * the master's outbound pool and the slave's inbound pool are the pair the
 * slave last recorded (STATE_DIR/POOL.peer); any other pair means one side
 * lost its keys, and both sides wipe theirs: the master its outbound side
 * first, then the slave its inbound side (never one-sided).  See
 * Documentation/qkd-linkd.rst, "Reconciliation".
 */
#ifndef LINKD_RECON_H
#define LINKD_RECON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EPOCH_BOOT_LEN	16
#define EPOCH_WIRE_LEN	(EPOCH_BOOT_LEN + 8 + 2 + 4)

struct pool_epoch {
	uint8_t boot[EPOCH_BOOT_LEN];	/* /proc/sys/kernel/random/boot_id */
	uint64_t netns;			/* SO_NETNS_COOKIE, 0 if unknown */
	uint16_t family;		/* the qkd generic netlink family */
	uint32_t pool;			/* the kernel pool's ID */
};

/* The pair of one direction the slave last reconciled. */
struct recon_pair {
	struct pool_epoch master;	/* the peer's outbound pool */
	struct pool_epoch slave;	/* this node's inbound pool */
};

enum recon_verdict {
	RECON_KEEP,		/* the same pair: nothing to wipe */
	RECON_FIRST,		/* no pair on record */
	RECON_MASTER_BOOT,	/* the master rebooted */
	RECON_MASTER_POOL,	/* the master's pool is another one */
	RECON_SLAVE_BOOT,	/* the slave rebooted */
	RECON_SLAVE_POOL,	/* the slave's pool is another one */
};

/* What to do with the direction @master -> @slave; @rec NULL: none. */
enum recon_verdict recon_decide(const struct recon_pair *rec,
				const struct pool_epoch *master,
				const struct pool_epoch *slave);
/* Why, for the log ("the master rebooted"). */
const char *recon_reason(enum recon_verdict v);

bool epoch_eq(const struct pool_epoch *a, const struct pool_epoch *b);
/* "boot 1a2b3c4d netns 5 family 36 pool 1", for logs. */
void epoch_format(const struct pool_epoch *e, char *buf, size_t len);
/* Parse a boot_id ("8-4-4-4-12" hex).  0 or -1. */
int epoch_parse_boot(const char *text, uint8_t boot[EPOCH_BOOT_LEN]);

/* The text of STATE_DIR/POOL.peer (for recon_load and the tests). */
int recon_parse(const char *text, struct recon_pair *rec);
int recon_format(const struct recon_pair *rec, char *buf, size_t len);
/* 1 and @rec when on record, 0 when not (no file), -1 with @err. */
int recon_load(const char *dir, const char *pool, struct recon_pair *rec,
	       char *err, size_t errlen);
int recon_save(const char *dir, const char *pool,
	       const struct recon_pair *rec, char *err, size_t errlen);

#endif
