/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libqkd internals, not installed.  The message builders (msg.c) and the
 * reply parsers (parse.c) are pure functions on caller buffers so that the
 * unit tests and the fuzzers drive them without a socket; handle.c,
 * ops.c and notify.c do the socket I/O.
 */
#ifndef LIBQKD_INTERNAL_H
#define LIBQKD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/netlink.h>
#include "qkd.h"

#define QKD_EXPORT __attribute__((visibility("default")))

/*
 * Receive buffer: the kernel sizes dump messages after the receive buffer
 * a socket used (up to 32 KiB); requests are allocated per call.
 */
#define QKD_RECV_BUF		32768
#define QKD_ERRMSG_LEN		256

struct mnl_socket;

struct qkd {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	uint16_t family;
	uint32_t mcgrp;
	uint8_t *buf;		/* QKD_RECV_BUF bytes, wiped after each use */
	size_t ev_len;		/* notifications pending in buf[ev_off..ev_len) */
	size_t ev_off;
	char err[QKD_ERRMSG_LEN];
};

/* ---- msg.c: builders.  Return the message length or -EMSGSIZE. ------- */

int qkd__build_getfamily(void *buf, size_t cap, uint32_t seq,
			 const char *name);
int qkd__build_pool_new(void *buf, size_t cap, uint16_t family, uint32_t seq,
			const struct qkd_pool_config *cfg);
int qkd__build_pool_set(void *buf, size_t cap, uint16_t family, uint32_t seq,
			uint32_t id, const struct qkd_pool_config *cfg);
int qkd__build_pool_get(void *buf, size_t cap, uint16_t family, uint32_t seq,
			uint32_t id, const char *name);
int qkd__build_pool_dump(void *buf, size_t cap, uint16_t family,
			 uint32_t seq);
int qkd__build_pool_del(void *buf, size_t cap, uint16_t family, uint32_t seq,
			uint32_t id, const char *name);
int qkd__build_key_add(void *buf, size_t cap, uint16_t family, uint32_t seq,
		       uint32_t id, int dir, const struct qkd_key *keys,
		       size_t n);
int qkd__build_key_take(void *buf, size_t cap, uint16_t family, uint32_t seq,
			uint32_t id, int dir, const uint8_t *key_id,
			const uint8_t *tag);
int qkd__build_key_flush(void *buf, size_t cap, uint16_t family,
			 uint32_t seq, uint32_t id, int dir);
/*
 * ke-report: @id 0 sends no pool ID (an exchange without a pool), @reason
 * QKD_KE_REASON_NONE sends no reason.
 */
int qkd__build_ke_report(void *buf, size_t cap, uint16_t family,
			 uint32_t seq, uint32_t id, uint32_t outcome,
			 uint32_t reason);
int qkd__build_ke_stats_get(void *buf, size_t cap, uint16_t family,
			    uint32_t seq);
/* Upper bound of the size of a key-add request of @n keys. */
size_t qkd__key_add_size(size_t n);

/* ---- parse.c: parsers of untrusted buffers. ------------------------- */

/* A TLV attribute found by qkd__attrs(): payload pointer and length. */
struct qkd_attr {
	const uint8_t *data;
	uint16_t len;
};

/*
 * Index the attributes in [buf, buf+len) by type (1..max) into tb[0..max];
 * unknown types are ignored, a repeated type keeps the last.  Returns the
 * number of attributes of type @count_type seen (multi-attr), or -EPROTO
 * when a length is inconsistent.
 */
int qkd__attrs(const void *buf, size_t len, struct qkd_attr *tb,
	       unsigned int max, unsigned int count_type);

/* Payload of a generic netlink message after the genl header. */
int qkd__genl_payload(const void *msg, size_t len, uint8_t *cmd,
		      const uint8_t **attrs, size_t *attrs_len);

int qkd__parse_family(const void *msg, size_t len, uint16_t *family,
		      uint32_t *mcgrp, const char *grp);
int qkd__parse_pool(const void *msg, size_t len, struct qkd_pool_info *info);
int qkd__parse_new_reply(const void *msg, size_t len, uint32_t *id);
int qkd__parse_take_reply(const void *msg, size_t len, struct qkd_key *key);
/* A ke-stats-get reply: the ke-stats nest, required. */
int qkd__parse_ke_stats_reply(const void *msg, size_t len,
			      struct qkd_ke_stats *ke);
int qkd__parse_flush_reply(const void *msg, size_t len, uint32_t *count);
int qkd__parse_notification(const void *msg, size_t len,
			    struct qkd_notification *ntf);
/*
 * An NLMSG_ERROR or NLMSG_DONE message: *error gets its (negative or 0)
 * errno, @errmsg the extended ack text ("" if none, made printable).
 */
int qkd__parse_error(const void *msg, size_t len, int *error, char *errmsg,
		     size_t errmsg_len);

/*
 * The next netlink message of a datagram at *off: sets @msg, @msg_len and
 * advances *off.  Returns 1, 0 at the end, or -EPROTO for a bad length
 * (the rest of the datagram is then unusable).
 */
int qkd__next_msg(const void *buf, size_t len, size_t *off,
		  const uint8_t **msg, size_t *msg_len);

/*
 * Walk the netlink messages of one datagram.  Messages of type @type and
 * sequence @seq go to @cb (with their length); other sequence numbers are
 * skipped.  Returns 1 when more datagrams are expected, 0 when the
 * exchange ended with an ack or NLMSG_DONE, or a negative errno (from the
 * kernel's error message, from @cb, or -EPROTO for a malformed datagram).
 * @dump_intr is set when a message carried NLM_F_DUMP_INTR.
 */
typedef int (*qkd__msg_cb)(const void *msg, size_t len, void *arg);
int qkd__walk(const void *buf, size_t len, uint16_t type, uint32_t seq,
	      qkd__msg_cb cb, void *arg, char *errmsg, size_t errmsg_len,
	      int *dump_intr);

/* ---- handle.c: one request / reply exchange. ------------------------ */

/*
 * Send @len bytes of @req (a message built with seq @seq) and receive
 * until the exchange ends.  @req and every datagram received are wiped
 * before this returns, as any of them may hold key material.
 */
int qkd__transact(struct qkd *h, void *req, size_t len, uint32_t seq,
		  uint16_t type, qkd__msg_cb cb, void *arg, int *dump_intr);
uint32_t qkd__next_seq(struct qkd *h);
/*
 * Receive one datagram from the kernel into h->buf.  Returns its length or
 * a negative errno: -EMSGSIZE when it did not fit, -EAGAIN for nothing
 * (with MSG_DONTWAIT in @flags).
 */
ssize_t qkd__recv(struct qkd *h, int flags);
void qkd__set_error(struct qkd *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* LIBQKD_INTERNAL_H */
