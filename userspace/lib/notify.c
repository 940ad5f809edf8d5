// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Notifications: join the "monitor" group, receive and parse pool-ntf
 * messages one at a time from the handle's buffer.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include "internal.h"

QKD_EXPORT int qkd_subscribe(struct qkd *h)
{
	int grp;

	if (!h)
		return -EINVAL;
	h->err[0] = '\0';
	if (!h->mcgrp) {
		qkd__set_error(h, "the qkd family has no \"%s\" multicast group",
			       QKD_MCGRP_MONITOR);
		return -ENOENT;
	}
	grp = (int)h->mcgrp;
	if (mnl_socket_setsockopt(h->nl, NETLINK_ADD_MEMBERSHIP, &grp,
				  sizeof(grp)) < 0)
		return -errno;
	return 0;
}

QKD_EXPORT int qkd_fd(const struct qkd *h)
{
	return h ? mnl_socket_get_fd(h->nl) : -EINVAL;
}

/* The next notification of the pending datagram: 1, or 0 when none left. */
static int next_pending(struct qkd *h, struct qkd_notification *ntf)
{
	const uint8_t *msg;
	size_t len;
	int ret;

	while ((ret = qkd__next_msg(h->buf, h->ev_len, &h->ev_off, &msg,
				    &len)) > 0) {
		struct nlmsghdr nlh;

		memcpy(&nlh, msg, sizeof(nlh));
		if (nlh.nlmsg_type != h->family || nlh.nlmsg_seq != 0)
			continue;	/* a stale reply, or another family */
		if (!qkd__parse_notification(msg, len, ntf))
			return 1;
	}
	explicit_bzero(h->buf, h->ev_len);
	h->ev_len = h->ev_off = 0;
	return 0;
}

QKD_EXPORT int qkd_notification_recv(struct qkd *h,
				     struct qkd_notification *ntf, int flags)
{
	ssize_t n;

	if (!h || !ntf)
		return -EINVAL;
	h->err[0] = '\0';
	for (;;) {
		if (next_pending(h, ntf))
			return 0;
		n = qkd__recv(h, (flags & QKD_NONBLOCK) ? MSG_DONTWAIT : 0);
		if (n == -EWOULDBLOCK)
			return -EAGAIN;
		if (n == -ENOBUFS)
			qkd__set_error(h, "notifications were lost (socket buffer overflow)");
		if (n < 0)
			return (int)n;
		h->ev_len = (size_t)n;
		h->ev_off = 0;
	}
}
