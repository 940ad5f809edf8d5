/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The qkd generic netlink family: registration and notifications.  The
 * request handlers are declared in netlink-gen.h, generated from
 * Documentation/netlink/specs/qkd.yaml.
 */
#ifndef _QKD_NETLINK_H
#define _QKD_NETLINK_H

#include <linux/types.h>
#include <net/net_namespace.h>

#include "store.h"

int qkd_nl_init(void);
void qkd_nl_exit(void);

/*
 * Send one pool-ntf to the monitor group of @net.  Process context, no
 * lock held.  A removed event carries no direction.
 */
void qkd_nl_notify(struct net *net, u32 id, const char *name,
		   const struct qkd_event_rec *ev);

#endif /* _QKD_NETLINK_H */
