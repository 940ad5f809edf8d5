// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The handle: a netlink socket with the family resolved, its receive
 * buffer, and one request / reply exchange (qkd__transact).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include "internal.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

void qkd__set_error(struct qkd *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->err, sizeof(h->err), fmt, ap);
	va_end(ap);
}

uint32_t qkd__next_seq(struct qkd *h)
{
	if (++h->seq == 0)	/* 0 is what notifications carry */
		h->seq = 1;
	return h->seq;
}

ssize_t qkd__recv(struct qkd *h, int flags)
{
	struct sockaddr_nl addr;
	struct iovec iov = { .iov_base = h->buf, .iov_len = QKD_RECV_BUF };
	struct msghdr msg = {
		.msg_name = &addr,
		.msg_namelen = sizeof(addr),
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	ssize_t n;

	for (;;) {
		n = recvmsg(mnl_socket_get_fd(h->nl), &msg, flags);
		if (n < 0)
			return -errno;
		if (msg.msg_flags & MSG_TRUNC) {
			explicit_bzero(h->buf, QKD_RECV_BUF);
			qkd__set_error(h, "netlink message larger than %d bytes",
				       QKD_RECV_BUF);
			return -EMSGSIZE;
		}
		if (addr.nl_pid != 0) {	/* not from the kernel: drop it */
			explicit_bzero(h->buf, (size_t)n);
			continue;
		}
		return n;
	}
}

int qkd__transact(struct qkd *h, void *req, size_t len, uint32_t seq,
		  uint16_t type, qkd__msg_cb cb, void *arg, int *dump_intr)
{
	ssize_t n;
	int ret;

	h->err[0] = '\0';
	/* Notifications not yet read share the buffer: they are dropped. */
	h->ev_len = h->ev_off = 0;
	n = mnl_socket_sendto(h->nl, req, len);
	ret = n < 0 ? -errno : 0;
	explicit_bzero(req, len);
	if (ret)
		return ret;
	for (;;) {
		n = qkd__recv(h, 0);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return (int)n;
		ret = qkd__walk(h->buf, (size_t)n, type, seq, cb, arg, h->err,
				sizeof(h->err), dump_intr);
		explicit_bzero(h->buf, (size_t)n);
		if (ret <= 0)
			break;
	}
	if (ret == -EPROTO && !h->err[0])
		qkd__set_error(h, "malformed netlink message from the kernel");
	return ret;
}

struct family_arg {
	uint16_t family;
	uint32_t mcgrp;
	int found;
};

static int family_cb(const void *msg, size_t len, void *arg)
{
	struct family_arg *fa = arg;
	int ret;

	ret = qkd__parse_family(msg, len, &fa->family, &fa->mcgrp,
				QKD_MCGRP_MONITOR);
	if (!ret)
		fa->found = 1;
	return ret;
}

/* Ask the controller for the family's ID and monitor group. */
static int lookup_family(struct qkd *h, struct family_arg *fa)
{
	uint8_t req[256];
	uint32_t seq = qkd__next_seq(h);
	int len, ret;

	memset(fa, 0, sizeof(*fa));
	len = qkd__build_getfamily(req, sizeof(req), seq, QKD_FAMILY_NAME);
	if (len < 0)
		return len;
	ret = qkd__transact(h, req, (size_t)len, seq, GENL_ID_CTRL, family_cb,
			    fa, NULL);
	if (ret)
		return ret;
	return fa->found ? 0 : -EPROTO;
}

static int resolve_family(struct qkd *h)
{
	struct family_arg fa;
	int ret;

	ret = lookup_family(h, &fa);
	if (ret)
		return ret;
	h->family = fa.family;
	h->mcgrp = fa.mcgrp;
	return 0;
}

QKD_EXPORT uint16_t qkd_family(const struct qkd *h)
{
	return h ? h->family : 0;
}

QKD_EXPORT int qkd_family_resolve(struct qkd *h, uint16_t *family)
{
	struct family_arg fa;
	int ret;

	if (!h || !family)
		return -EINVAL;
	ret = lookup_family(h, &fa);
	if (ret)
		return ret;
	*family = fa.family;
	return 0;
}

QKD_EXPORT int qkd_open(struct qkd **handle)
{
	struct qkd *h;
	int one = 1, ret;

	if (!handle)
		return -EINVAL;
	*handle = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->buf = malloc(QKD_RECV_BUF);
	if (!h->buf) {
		ret = -ENOMEM;
		goto err_free;
	}
	h->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!h->nl) {
		ret = -errno;
		goto err_buf;
	}
	if (mnl_socket_bind(h->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto err_sock;
	}
	h->portid = mnl_socket_get_portid(h->nl);
	/* Both are best effort: older kernels just lack the extra text. */
	mnl_socket_setsockopt(h->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	/* Do not echo requests (key material) back in error messages. */
	mnl_socket_setsockopt(h->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	h->seq = (uint32_t)time(NULL);
	ret = resolve_family(h);
	if (ret)
		goto err_sock;
	*handle = h;
	return 0;

err_sock:
	mnl_socket_close(h->nl);
err_buf:
	free(h->buf);
err_free:
	free(h);
	return ret;
}

QKD_EXPORT void qkd_close(struct qkd *h)
{
	if (!h)
		return;
	mnl_socket_close(h->nl);
	explicit_bzero(h->buf, QKD_RECV_BUF);
	free(h->buf);
	explicit_bzero(h, sizeof(*h));
	free(h);
}

QKD_EXPORT const char *qkd_last_error(const struct qkd *h)
{
	return h ? h->err : "";
}

QKD_EXPORT const char *qkd_strerror(int err)
{
	switch (-err) {
	case 0:
		return "Success";
	case ENOENT:
		return "No such pool or key (or the qkdpool module is not loaded)";
	case EKEYREJECTED:
		return "Key confirmation tag does not match";
	case EPROTO:
		return "Malformed netlink message";
	case EPERM:
		return "Operation not permitted (needs CAP_NET_ADMIN)";
	default:
		return strerrordesc_np(-err) ? strerrordesc_np(-err) :
					       "Unknown error";
	}
}

QKD_EXPORT const char *qkd_direction_name(int dir)
{
	switch (dir) {
	case QKD_DIRECTION_OUT:
		return "out";
	case QKD_DIRECTION_IN:
		return "in";
	case QKD_DIRECTION_BOTH:
		return "both";
	default:
		return "unknown";
	}
}

QKD_EXPORT const char *qkd_state_name(uint32_t state)
{
	switch (state) {
	case QKD_STATE_OK:
		return "ok";
	case QKD_STATE_LOW:
		return "low";
	case QKD_STATE_EMPTY:
		return "empty";
	default:
		return "unknown";
	}
}

QKD_EXPORT const char *qkd_event_name(uint32_t event)
{
	switch (event) {
	case QKD_EVENT_LOW:
		return "low";
	case QKD_EVENT_EMPTY:
		return "empty";
	case QKD_EVENT_REFILLED:
		return "refilled";
	case QKD_EVENT_REMOVED:
		return "removed";
	case QKD_EVENT_EXPIRED:
		return "expired";
	default:
		return "unknown";
	}
}

QKD_EXPORT const char *qkd_ke_reason_name(uint32_t reason)
{
	static const char *const names[QKD_KE_REASON_MAX + 1] = {
		[QKD_KE_REASON_NONE] = "none",
		[QKD_KE_REASON_NO_OFFER] = "no-offer",
		[QKD_KE_REASON_NO_POOL] = "no-pool",
		[QKD_KE_REASON_EMPTY] = "empty",
		[QKD_KE_REASON_UNKNOWN_KEY] = "unknown-key",
		[QKD_KE_REASON_TAG_MISMATCH] = "tag-mismatch",
		[QKD_KE_REASON_POOL_ERROR] = "pool-error",
		[QKD_KE_REASON_VERSION] = "version",
		[QKD_KE_REASON_PRE_AUTH_MISMATCH] = "pre-auth-mismatch",
		[QKD_KE_REASON_PEER_UNKNOWN] = "peer-unknown",
	};

	if (reason > QKD_KE_REASON_MAX || !names[reason])
		return "unknown";
	return names[reason];
}
