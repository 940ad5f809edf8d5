// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel side: the pools in the qkdpool module, and what to do when
 * they disappear under the daemon.
 *
 * A module reload (rmmod; insmod) registers the "qkd" generic netlink
 * family again under a new ID: requests on the old ID fail with ENOENT.
 * A pool deleted by an operator (qkdctl pool del) gives ENOENT too.  On
 * ENOENT from a pool operation the daemon compares its handle's family
 * with the kernel's (policy.c, family_check()), opens a new handle when it
 * changed, and re-creates every pool that is missing from the
 * configuration, with one log line; the masters then refill.  While the
 * family is not registered at all it looks again every second.
 *
 * The peer still holds the twins of the keys a re-created pool lost: the
 * pool's connections must close, so that both directions reconcile
 * (recon.h) on the next HELLO before any key flows again.  That is the
 * roles' business, not this file's: kernel_sync() reports each pool it
 * re-created through the daemon's pool_recreated callback (struct linkd),
 * which main.c points at the master's and the slave's handlers, so that
 * this file calls neither master.c nor slave.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "linkd.h"
#include "log.h"

#define KERNEL_RECHECK	1.0	/* s between looks while the family is gone */
#define BOOT_ID_PATH	"/proc/sys/kernel/random/boot_id"
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE	71	/* Linux 5.14 */
#endif

int kernel_identity(struct linkd *d)
{
	char text[64] = "";
	socklen_t len = sizeof(d->netns);
	ssize_t n;
	int fd;

	/* Without it a reboot would look like the same pools: no start. */
	fd = open(BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
	if (fd >= 0)
		close(fd);
	if (n < 0 || epoch_parse_boot(text, d->boot)) {
		log_err("cannot read the boot ID from %s: %s", BOOT_ID_PATH,
			n < 0 ? strerror(errno) : "not a UUID");
		return -1;
	}
	/* Tells namespaces apart whose pools have the same IDs; 0 if old. */
	d->netns = 0;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &d->netns, &len)) {
		log_warn("no network namespace cookie (%s): pools of namespaces created again are told apart by their IDs only",
			 strerror(errno));
		d->netns = 0;
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

void kernel_epoch(const struct linkd *d, const struct pool *p,
		  struct pool_epoch *e)
{
	memcpy(e->boot, d->boot, EPOCH_BOOT_LEN);
	e->netns = d->netns;
	e->family = qkd_family(d->qkd);
	e->pool = p->id;
}

int kernel_pool_setup(struct linkd *d, struct pool *p)
{
	struct qkd_pool_config pc = {
		.fields = QKD_POOL_CAPACITY | QKD_POOL_LOW | QKD_POOL_HIGH |
			  QKD_POOL_MAX_AGE,
		.capacity = p->cfg.capacity,
		.low_watermark = p->cfg.low,
		.high_watermark = p->cfg.high,
		.max_age = p->cfg.max_age,
	};
	struct qkd_pool_info info;
	int ret;

	p->id = 0;
	if (d->kernel_stale)
		return -1;
	ret = qkd_pool_get(d->qkd, 0, p->cfg.name, &info);
	if (ret == -ENOENT) {
		snprintf(pc.name, sizeof(pc.name), "%s", p->cfg.name);
		pc.fields |= QKD_POOL_KEY_SIZE;
		pc.key_size = p->cfg.key_bits / 8;
		ret = qkd_pool_create(d->qkd, &pc, &p->id);
		if (!ret)
			log_info("pool %s: created (id %u)", p->cfg.name, p->id);
	} else if (!ret) {
		if (info.key_size != p->cfg.key_bits / 8) {
			log_err("pool %s: the kernel pool has %u-byte keys, the configuration says %u bits",
				p->cfg.name, info.key_size, p->cfg.key_bits);
			return -1;
		}
		ret = qkd_pool_set(d->qkd, info.id, &pc);
		if (!ret)
			p->id = info.id;
	}
	if (ret) {
		log_err("pool %s: kernel pool: %s%s%s", p->cfg.name,
			qkd_strerror(ret), qkd_last_error(d->qkd)[0] ? ": " : "",
			qkd_last_error(d->qkd));
		p->id = 0;
		return -1;
	}
	return 0;
}

/*
 * Is the handle's family the kernel's?  Reopens the handle when the family
 * was registered again.  Returns the action taken: FAMILY_OK (nothing to
 * do), FAMILY_REOPEN (new handle), FAMILY_GONE or FAMILY_ERROR (try
 * again later; kernel_stale is set).
 */
enum family_action kernel_handle_check(struct linkd *d)
{
	uint16_t fam = 0, old = qkd_family(d->qkd);
	int ret = qkd_family_resolve(d->qkd, &fam);
	enum family_action a = family_check(ret, old, fam);
	struct qkd *h;

	switch (a) {
	case FAMILY_OK:
		d->kernel_stale = false;
		break;
	case FAMILY_REOPEN:
		ret = qkd_open(&h);
		if (ret) {
			log_err("the qkd family was registered again, but a new handle failed: %s",
				qkd_strerror(ret));
			a = FAMILY_ERROR;
			goto later;
		}
		qkd_close(d->qkd);
		d->qkd = h;
		d->kernel_stale = false;
		log_info("the qkd netlink family was registered again (id %u, was %u): module reloaded",
			 fam, old);
		break;
	case FAMILY_GONE:
		if (!d->kernel_gone)
			log_err("the qkd netlink family is gone (qkdpool unloaded?): waiting for it");
		d->kernel_gone = true;
		goto later;
	case FAMILY_ERROR:
		log_err("cannot resolve the qkd netlink family: %s",
			qkd_strerror(ret));
		goto later;
	}
	d->kernel_gone = false;
	return a;
later:
	d->kernel_stale = true;
	d->next_kernel_check = now_mono() + KERNEL_RECHECK;
	for (unsigned int i = 0; i < d->npools; i++)
		d->pools[i].id = 0;
	return a;
}

int kernel_sync(struct linkd *d)
{
	char names[512] = "";
	size_t len = 0;
	unsigned int redone = 0, failed = 0;
	enum family_action a = kernel_handle_check(d);

	if (a == FAMILY_GONE || a == FAMILY_ERROR)
		return -1;
	for (unsigned int i = 0; i < d->npools; i++) {
		struct pool *p = &d->pools[i];
		struct qkd_pool_info info;

		if (p->id && !qkd_pool_get(d->qkd, p->id, NULL, &info))
			continue;
		/* The roles learn of it through the daemon's callback. */
		if (kernel_pool_setup(d, p) || d->pool_recreated(d, p)) {
			failed++;
			continue;
		}
		redone++;
		len += snprintf(names + len, sizeof(names) - len, "%s%s (id %u)",
				len ? ", " : "", p->cfg.name, p->id);
		if (len >= sizeof(names))
			len = sizeof(names) - 1;
	}
	if (redone)
		log_warn("kernel pools gone (%s): re-created from the configuration: %s; reconciling with the peers, then refilling",
			 a == FAMILY_REOPEN ? "module reloaded" : "pool deleted",
			 names);
	if (failed) {
		d->kernel_stale = true;
		d->next_kernel_check = now_mono() + KERNEL_RECHECK;
		return -1;
	}
	return redone ? 1 : 0;
}

int kernel_check(struct linkd *d, int ret)
{
	static bool syncing;	/* kernel_sync() -> pool_recreated -> here */
	int r;

	if (ret != -ENOENT || syncing)
		return 0;
	syncing = true;
	r = kernel_sync(d);
	syncing = false;
	return r > 0;
}
