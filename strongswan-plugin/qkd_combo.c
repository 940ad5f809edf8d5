// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The combined key exchange: ML-KEM and the `qkd` exchange in one payload
 * (see qkd_combo.h for the wire format).  The QKD half is qkd_proto.c's
 * state machine, unchanged: this file frames it, orders the two halves so
 * that nothing is taken from a pool for a payload that is rejected, and
 * concatenates the secrets.
 */
#include <errno.h>
#include <string.h>
#include "qkd_combo.h"

int qkd_combo_msg_decode(const uint8_t *buf, size_t len, size_t kem_len,
			 bool offer, struct qkd_combo_msg *msg,
			 const char **what)
{
	size_t kl;
	int ret;

	memset(msg, 0, sizeof(*msg));
	*what = "truncated header";
	if (!buf || len < 1)
		return -EBADMSG;
	/* a later version may have another layout: look no further */
	*what = "unsupported version";
	if (buf[0] != QKD_COMBO_VERSION)
		return -EPROTONOSUPPORT;
	*what = "truncated header";
	if (len < QKD_COMBO_HDR_LEN)
		return -EBADMSG;
	*what = "reserved byte not zero";
	if (buf[1] != 0)
		return -EBADMSG;
	kl = (size_t)buf[2] << 8 | buf[3];
	*what = "wrong ML-KEM length";
	if (kl != kem_len)
		return -EBADMSG;
	*what = "truncated ML-KEM data";
	if (len < QKD_COMBO_HDR_LEN + kl)
		return -EBADMSG;
	ret = qkd_proto_msg_decode(buf + QKD_COMBO_HDR_LEN + kl,
				   len - QKD_COMBO_HDR_LEN - kl, &msg->qkd);
	*what = "unsupported qkd message version";
	if (ret == -EPROTONOSUPPORT ||
	    (ret == 0 && msg->qkd.version != QKD_PROTO_VERSION)) {
		memset(msg, 0, sizeof(*msg));
		return -EPROTONOSUPPORT;
	}
	*what = "malformed or truncated qkd message";
	if (ret < 0)
		return -EBADMSG;
	*what = offer ? "not an offer" : "not an answer";
	if (offer != (msg->qkd.type == QKD_PROTO_MSG_OFFER ||
		      msg->qkd.type == QKD_PROTO_MSG_NONE)) {
		memset(msg, 0, sizeof(*msg));
		return -EBADMSG;
	}
	*what = "";
	msg->kem = buf + QKD_COMBO_HDR_LEN;
	msg->kem_len = kl;
	return 0;
}

int qkd_combo_msg_encode(const uint8_t *kem, size_t kem_len,
			 const uint8_t *qkd, size_t qkd_len, uint8_t *buf,
			 size_t len)
{
	size_t need = QKD_COMBO_HDR_LEN + kem_len + qkd_len;

	if (kem_len > QKD_COMBO_KEM_MAX_LEN || qkd_len > QKD_PROTO_MSG_MAX_LEN)
		return -EINVAL;
	if (len < need)
		return -ENOSPC;
	buf[0] = QKD_COMBO_VERSION;
	buf[1] = 0;
	buf[2] = (uint8_t)(kem_len >> 8);
	buf[3] = (uint8_t)kem_len;
	/* the ML-KEM part may already be in place (qkd_combo_offer) */
	if (kem != buf + QKD_COMBO_HDR_LEN)
		memmove(buf + QKD_COMBO_HDR_LEN, kem, kem_len);
	memcpy(buf + QKD_COMBO_HDR_LEN + kem_len, qkd, qkd_len);
	return (int)need;
}

int qkd_combo_init(struct qkd_combo_exchange *c, struct qkd_proto_exchange *qkd,
		   const struct qkd_combo_kem_ops *ops, void *kem,
		   size_t pk_len, size_t ct_len)
{
	memset(c, 0, sizeof(*c));
	if (!qkd || !ops || !pk_len || !ct_len ||
	    pk_len > QKD_COMBO_KEM_MAX_LEN || ct_len > QKD_COMBO_KEM_MAX_LEN)
		return -EINVAL;
	c->qkd = qkd;
	c->error = "";
	c->ops = ops;
	c->kem = kem;
	c->pk_len = pk_len;
	c->ct_len = ct_len;
	return 0;
}

/* Both halves done: ML-KEM's secret, then the QKD key if there is one. */
static int compose_secret(struct qkd_combo_exchange *c)
{
	const uint8_t *q;
	size_t qlen;
	int ret;

	ret = qkd_proto_exchange_secret(c->qkd, &q, &qlen);
	if (ret < 0)
		return ret;
	if (qlen > QKD_KEY_SIZE_MAX)
		return -EIO;
	ret = c->ops->secret(c->kem, c->secret);
	if (ret < 0)
		return ret;
	if (qlen)
		memcpy(c->secret + QKD_COMBO_KEM_SS_LEN, q, qlen);
	c->secret_len = QKD_COMBO_KEM_SS_LEN + qlen;
	return 0;
}

/* A payload rejected, or a half failed: the exchange is over. */
static int fail(struct qkd_combo_exchange *c, int err)
{
	qkd_proto_exchange_wipe(c->qkd);
	c->qkd->state = QKD_PROTO_STATE_FAILED;
	c->failed = true;
	return err;
}

int qkd_combo_offer(struct qkd_combo_exchange *c, uint8_t *out,
		    size_t *out_len)
{
	uint8_t q[QKD_PROTO_MSG_MAX_LEN];
	size_t qlen;
	int ret;

	if (c->out_len && c->qkd->role == QKD_PROTO_ROLE_INITIATOR) {
		/* a retried message: the same key pair, the same QKD key */
		memcpy(out, c->out, c->out_len);
		*out_len = c->out_len;
		return 0;
	}
	if (c->failed || c->qkd->role != QKD_PROTO_ROLE_UNKNOWN)
		return -EPROTO;
	/* the key pair first: a failure here takes no QKD key */
	ret = c->ops->get_public(c->kem, c->out + QKD_COMBO_HDR_LEN, c->pk_len);
	if (ret < 0) {
		c->failed = true;
		return -EIO;
	}
	ret = qkd_proto_exchange_offer(c->qkd, q, &qlen);
	if (ret < 0) {
		c->failed = true;
		return ret;
	}
	ret = qkd_combo_msg_encode(c->out + QKD_COMBO_HDR_LEN, c->pk_len, q,
				   qlen, c->out, sizeof(c->out));
	if (ret < 0)
		return fail(c, ret);
	c->out_len = (size_t)ret;
	memcpy(out, c->out, c->out_len);
	*out_len = c->out_len;
	return 0;
}

int qkd_combo_answer(struct qkd_combo_exchange *c, const uint8_t *in,
		     size_t in_len, uint8_t *out, size_t *out_len)
{
	struct qkd_combo_msg msg;
	uint8_t q[QKD_PROTO_MSG_MAX_LEN];
	const char *what;
	size_t qlen;
	int ret;

	if (c->in_len) {
		/* the same offer again gets the same answer, nothing taken */
		if (in_len != c->in_len || memcmp(in, c->in, in_len) != 0)
			return -EALREADY;
		memcpy(out, c->out, c->out_len);
		*out_len = c->out_len;
		return 0;
	}
	if (c->failed || c->qkd->role != QKD_PROTO_ROLE_UNKNOWN)
		return -EPROTO;
	/* all of it checked before anything is encapsulated or taken */
	ret = qkd_combo_msg_decode(in, in_len, c->pk_len, true, &msg, &what);
	if (ret == 0 && in_len > sizeof(c->in)) {
		what = "too long";
		ret = -EBADMSG;
	}
	if (ret < 0) {
		c->error = what;
		return fail(c, ret);
	}
	if (c->ops->set_public(c->kem, msg.kem, msg.kem_len) < 0) {
		c->error = "invalid ML-KEM encapsulation key";
		return fail(c, -EBADMSG);
	}
	ret = qkd_proto_exchange_answer(c->qkd, msg.kem + msg.kem_len,
					in_len - QKD_COMBO_HDR_LEN - msg.kem_len,
					q, &qlen);
	memset(&msg, 0, sizeof(msg));
	if (ret < 0) {
		c->failed = true;
		return ret;		/* -ENOKEY: require, nothing to answer */
	}
	ret = c->ops->get_public(c->kem, c->out + QKD_COMBO_HDR_LEN, c->ct_len);
	if (ret == 0)
		ret = qkd_combo_msg_encode(c->out + QKD_COMBO_HDR_LEN, c->ct_len,
					   q, qlen, c->out, sizeof(c->out));
	if (ret >= 0) {
		c->out_len = (size_t)ret;
		ret = compose_secret(c);
	}
	if (ret < 0)
		return fail(c, -EIO);
	memcpy(c->in, in, in_len);
	c->in_len = in_len;
	memcpy(out, c->out, c->out_len);
	*out_len = c->out_len;
	return 0;
}

int qkd_combo_finish(struct qkd_combo_exchange *c, const uint8_t *in,
		     size_t in_len)
{
	struct qkd_combo_msg msg;
	const char *what;
	int ret;

	if (c->failed || c->qkd->role != QKD_PROTO_ROLE_INITIATOR ||
	    c->qkd->state != QKD_PROTO_STATE_OFFERED)
		return -EPROTO;
	ret = qkd_combo_msg_decode(in, in_len, c->ct_len, false, &msg, &what);
	if (ret < 0) {
		c->error = what;
		return fail(c, ret);
	}
	if (c->ops->set_public(c->kem, msg.kem, msg.kem_len) < 0) {
		c->error = "ML-KEM decapsulation failed";
		return fail(c, -EBADMSG);
	}
	ret = qkd_proto_exchange_finish(c->qkd, msg.kem + msg.kem_len,
					in_len - QKD_COMBO_HDR_LEN - msg.kem_len);
	memset(&msg, 0, sizeof(msg));
	if (ret < 0) {
		c->failed = true;
		if (ret == -EBADMSG)
			c->error = "an answer about another key";
		return ret;	/* -EBADMSG: an ACK of another key; -ENOKEY */
	}
	ret = compose_secret(c);
	if (ret < 0)
		return fail(c, -EIO);
	return 0;
}

int qkd_combo_secret(struct qkd_combo_exchange *c, const uint8_t **secret,
		     size_t *len)
{
	if (!c->secret_len)
		return -EAGAIN;
	*secret = c->secret;
	*len = c->secret_len;
	return 0;
}

void qkd_combo_wipe(struct qkd_combo_exchange *c)
{
	explicit_bzero(c->secret, sizeof(c->secret));
	c->secret_len = 0;
	if (c->qkd)
		qkd_proto_exchange_wipe(c->qkd);
}
