// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The `qkd` key exchange payload and its ACK/NAK state machine (see
 * qkd_proto.h for the wire format).
 */
#include <errno.h>
#include <string.h>
#include "qkd_proto.h"

static const char *const type_names[] = {
	[QKD_PROTO_MSG_OFFER] = "offer",
	[QKD_PROTO_MSG_NONE] = "none",
	[QKD_PROTO_MSG_ACK] = "ack",
	[QKD_PROTO_MSG_NAK] = "nak",
};

static const char *const reason_names[] = {
	[QKD_PROTO_REASON_OK] = "ok",
	[QKD_PROTO_REASON_NO_OFFER] = "no offer",
	[QKD_PROTO_REASON_NO_POOL] = "no pool",
	[QKD_PROTO_REASON_EMPTY] = "pool empty",
	[QKD_PROTO_REASON_UNKNOWN_KEY] = "unknown key ID",
	[QKD_PROTO_REASON_TAG_MISMATCH] = "tag mismatch",
	[QKD_PROTO_REASON_POOL_ERROR] = "pool error",
	[QKD_PROTO_REASON_VERSION] = "unsupported version",
	[QKD_PROTO_REASON_PRE_AUTH] = "pre-auth pool mismatch",
	[QKD_PROTO_REASON_PEER_UNKNOWN] = "peer not known before IKE_AUTH",
};

/* What an operator can do about each reason, for the fallback's log line. */
static const char *const reason_hints[] = {
	[QKD_PROTO_REASON_OK] = "",
	[QKD_PROTO_REASON_NO_OFFER] =
		"the peer had no key to offer: check its pool and link manager",
	[QKD_PROTO_REASON_NO_POOL] =
		"no pool is mapped to this peer: add a peers section or the pool",
	[QKD_PROTO_REASON_EMPTY] =
		"the QKD link or qkd-linkd does not keep up with the re-keys",
	[QKD_PROTO_REASON_UNKNOWN_KEY] =
		"the pools are out of step (a lost offer, a restart on one side)",
	[QKD_PROTO_REASON_TAG_MISMATCH] =
		"the routers hold different material under one key ID",
	[QKD_PROTO_REASON_POOL_ERROR] =
		"the qkdpool module could not be read (loaded?)",
	[QKD_PROTO_REASON_VERSION] =
		"the peer's plugin speaks another payload version: upgrade it",
	[QKD_PROTO_REASON_PRE_AUTH] =
		"the peers sections map the claimed and the authenticated identity "
		"to different pools",
	[QKD_PROTO_REASON_PEER_UNKNOWN] =
		"re-keyed onto the peer's pool after IKE_AUTH",
};

const char *qkd_proto_reason_hint(unsigned int reason)
{
	if (reason <= QKD_PROTO_REASON_MAX)
		return reason_hints[reason];
	return "";
}

const char *qkd_proto_msg_type_name(unsigned int type)
{
	if (type < sizeof(type_names) / sizeof(type_names[0]) &&
	    type_names[type])
		return type_names[type];
	return "unknown";
}

const char *qkd_proto_reason_name(unsigned int reason)
{
	if (reason <= QKD_PROTO_REASON_MAX)
		return reason_names[reason];
	return "unknown";
}

/* The fixed length of a message; an OFFER v2 adds its selector. */
static size_t msg_len(uint8_t version, uint8_t type)
{
	switch (type) {
	case QKD_PROTO_MSG_OFFER:
		return version == 1 ? QKD_PROTO_MSG_OFFER_V1_LEN : QKD_PROTO_MSG_OFFER_LEN;
	case QKD_PROTO_MSG_NONE:
		return version == 1 ? QKD_PROTO_MSG_NONE_V1_LEN
				    : QKD_PROTO_MSG_NONE_LEN;
	case QKD_PROTO_MSG_ACK:
	case QKD_PROTO_MSG_NAK:
		return QKD_PROTO_MSG_ANSWER_LEN;
	default:
		return 0;
	}
}

/* Which reasons each type may carry. */
static bool reason_valid(uint8_t type, uint8_t reason)
{
	switch (type) {
	case QKD_PROTO_MSG_OFFER:
	case QKD_PROTO_MSG_ACK:
		return reason == QKD_PROTO_REASON_OK;
	case QKD_PROTO_MSG_NONE:
		return reason == QKD_PROTO_REASON_NO_POOL ||
		       reason == QKD_PROTO_REASON_EMPTY ||
		       reason == QKD_PROTO_REASON_POOL_ERROR ||
		       reason == QKD_PROTO_REASON_PEER_UNKNOWN;
	case QKD_PROTO_MSG_NAK:
		return reason != QKD_PROTO_REASON_OK && reason <= QKD_PROTO_REASON_MAX &&
		       reason != QKD_PROTO_REASON_EMPTY;
	default:
		return false;
	}
}

/* Reasons a version 1 peer knows: later ones travel as "no pool". */
static uint8_t reason_for(uint8_t version, uint8_t reason)
{
	if (version == 1 && reason > QKD_PROTO_REASON_VERSION)
		return QKD_PROTO_REASON_NO_POOL;
	return reason;
}

/* Where the selector starts in a message of that kind, 0: it has none. */
static size_t sel_offset(uint8_t version, uint8_t type)
{
	if (version < 2)
		return 0;
	switch (type) {
	case QKD_PROTO_MSG_OFFER:
		return QKD_PROTO_MSG_OFFER_V1_LEN;
	case QKD_PROTO_MSG_NONE:
		return QKD_PROTO_MSG_NONE_V1_LEN;
	default:
		return 0;
	}
}

static bool has_key_id(uint8_t type)
{
	return type == QKD_PROTO_MSG_OFFER || type == QKD_PROTO_MSG_ACK ||
	       type == QKD_PROTO_MSG_NAK;
}

int qkd_proto_msg_encode(const struct qkd_proto_msg *msg, uint8_t *buf,
			 size_t len)
{
	size_t need, sel;

	if (!msg || !buf || msg->version < QKD_PROTO_VERSION_MIN ||
	    msg->version > QKD_PROTO_VERSION)
		return -EINVAL;
	need = msg_len(msg->version, msg->type);
	if (!need || !reason_valid(msg->type, msg->reason) ||
	    reason_for(msg->version, msg->reason) != msg->reason)
		return -EINVAL;
	sel = sel_offset(msg->version, msg->type);
	if (sel) {
		if ((msg->sel_type == 0) != (msg->sel_len == 0))
			return -EINVAL;
		need += msg->sel_len;
	}
	if (len < need)
		return -ENOSPC;
	buf[0] = msg->version;
	buf[1] = msg->type;
	buf[2] = msg->reason;
	buf[3] = 0;
	if (has_key_id(msg->type))
		memcpy(buf + QKD_PROTO_MSG_HDR_LEN, msg->key_id, QKD_KEY_ID_LEN);
	if (msg->type == QKD_PROTO_MSG_OFFER)
		memcpy(buf + QKD_PROTO_MSG_HDR_LEN + QKD_KEY_ID_LEN, msg->tag,
		       QKD_TAG_LEN);
	if (sel) {
		buf[sel] = msg->sel_type;
		buf[sel + 1] = msg->sel_len;
		memcpy(buf + sel + 2, msg->sel, msg->sel_len);
	}
	return (int)need;
}

int qkd_proto_msg_decode(const uint8_t *buf, size_t len,
			 struct qkd_proto_msg *msg)
{
	size_t need, sel;

	if (!msg)
		return -EINVAL;
	memset(msg, 0, sizeof(*msg));
	if (!buf || len < 1)
		return -EBADMSG;
	msg->version = buf[0];
	/* A later version may have another layout: look no further. */
	if (msg->version < QKD_PROTO_VERSION_MIN ||
	    msg->version > QKD_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (len < QKD_PROTO_MSG_HDR_LEN)
		return -EBADMSG;
	msg->type = buf[1];
	msg->reason = buf[2];
	need = msg_len(msg->version, msg->type);
	sel = sel_offset(msg->version, msg->type);
	if (need && sel && len >= need) {
		msg->sel_type = buf[sel];
		msg->sel_len = buf[sel + 1];
		if ((msg->sel_type == 0) != (msg->sel_len == 0))
			need = 0;
		else
			need += msg->sel_len;
	}
	if (!need || len != need || buf[3] != 0 ||
	    !reason_valid(msg->type, msg->reason) ||
	    reason_for(msg->version, msg->reason) != msg->reason) {
		memset(msg, 0, sizeof(*msg));
		return -EBADMSG;
	}
	if (has_key_id(msg->type))
		memcpy(msg->key_id, buf + QKD_PROTO_MSG_HDR_LEN, QKD_KEY_ID_LEN);
	if (msg->type == QKD_PROTO_MSG_OFFER)
		memcpy(msg->tag, buf + QKD_PROTO_MSG_HDR_LEN + QKD_KEY_ID_LEN,
		       QKD_TAG_LEN);
	if (msg->sel_len)
		memcpy(msg->sel, buf + sel + 2, msg->sel_len);
	return 0;
}

int qkd_proto_exchange_init(struct qkd_proto_exchange *x, const struct qkd_proto_pool_ops *ops,
		      void *ctx, enum qkd_proto_policy policy, const char *pool,
		      uint8_t reason)
{
	memset(x, 0, sizeof(*x));
	x->ops = ops;
	x->ctx = ctx;
	x->policy = policy;
	x->reason = reason == QKD_PROTO_REASON_PEER_UNKNOWN ? reason
						      : QKD_PROTO_REASON_NO_POOL;
	if (pool) {
		size_t n = strlen(pool);

		if (n == 0 || n > QKD_POOL_NAME_MAX_LEN)
			return -EINVAL;
		memcpy(x->pool, pool, n + 1);
	}
	return 0;
}

int qkd_proto_exchange_set_selector(struct qkd_proto_exchange *x, uint8_t type,
			      const uint8_t *sel, size_t len)
{
	if (!type || !len || len > QKD_PROTO_SELECTOR_MAX || !sel)
		return -EINVAL;
	x->sel_type = type;
	x->sel_len = (uint8_t)len;
	memcpy(x->sel, sel, len);
	return 0;
}

static void wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

/*
 * Report the outcome once: a retried message never reaches here twice, and
 * the flag makes sure.  Without a pool, in the namespace's counters.
 */
static void report(struct qkd_proto_exchange *x, uint32_t outcome)
{
	if (x->reported || !x->ops->report)
		return;
	x->reported = true;
	(void)x->ops->report(x->ctx, x->pool[0] ? x->pool : NULL, outcome,
			     outcome == QKD_KE_OUTCOME_QKD ? QKD_PROTO_REASON_OK
							   : x->reason);
}

/* A NAK or NONE: refused under require, else a fallback (tag or not). */
static uint32_t nak_outcome(const struct qkd_proto_exchange *x)
{
	if (x->policy == QKD_PROTO_POLICY_REQUIRE)
		return QKD_KE_OUTCOME_REFUSED;
	if (x->reason == QKD_PROTO_REASON_TAG_MISMATCH)
		return QKD_KE_OUTCOME_TAG_MISMATCH;
	return QKD_KE_OUTCOME_FALLBACK;
}

/* The pool's errno as the reason the peer and the logs see. */
static uint8_t take_reason(int err)
{
	switch (err) {
	case -ENOENT:
		return QKD_PROTO_REASON_EMPTY;
	case -ENODEV:
		return QKD_PROTO_REASON_NO_POOL;
	case -ESRCH:
		return QKD_PROTO_REASON_PEER_UNKNOWN;
	default:
		return QKD_PROTO_REASON_POOL_ERROR;
	}
}

int qkd_proto_exchange_offer(struct qkd_proto_exchange *x, uint8_t *out, size_t *out_len)
{
	struct qkd_proto_msg msg = { .version = QKD_PROTO_VERSION };
	int ret;

	if (x->role == QKD_PROTO_ROLE_INITIATOR && x->out_len) {
		/* a retried message: the same offer, no second key */
		memcpy(out, x->out, x->out_len);
		*out_len = x->out_len;
		return 0;
	}
	if (x->role != QKD_PROTO_ROLE_UNKNOWN || x->state != QKD_PROTO_STATE_IDLE)
		return -EPROTO;
	x->role = QKD_PROTO_ROLE_INITIATOR;

	if (!x->pool[0])
		ret = x->reason == QKD_PROTO_REASON_PEER_UNKNOWN ? -ESRCH : -ENODEV;
	else
		ret = x->ops->take_next(x->ctx, x->pool, &x->key);
	if (ret == 0 && (x->key.len < QKD_KEY_SIZE_MIN ||
			 x->key.len > QKD_KEY_SIZE_MAX))
		ret = -EIO;
	if (ret == 0 && qkd_tag_compute(x->key.id, x->key.material,
					x->key.len, msg.tag) != 0)
		ret = -EIO;
	if (ret == 0) {
		x->have_key = true;
		msg.type = QKD_PROTO_MSG_OFFER;
		msg.sel_type = x->sel_type;
		msg.sel_len = x->sel_len;
		memcpy(msg.sel, x->sel, x->sel_len);
		memcpy(msg.key_id, x->key.id, QKD_KEY_ID_LEN);
		memcpy(x->key_id, x->key.id, QKD_KEY_ID_LEN);
	} else {
		qkd_key_wipe(&x->key, 1);
		x->reason = take_reason(ret);
		if (x->policy == QKD_PROTO_POLICY_REQUIRE) {
			x->state = QKD_PROTO_STATE_FAILED;
			report(x, QKD_KE_OUTCOME_REFUSED);
			return -ENOKEY;
		}
		msg.type = QKD_PROTO_MSG_NONE;
		msg.reason = x->reason;
		msg.sel_type = x->sel_type;
		msg.sel_len = x->sel_len;
		memcpy(msg.sel, x->sel, x->sel_len);
	}
	ret = qkd_proto_msg_encode(&msg, x->out, sizeof(x->out));
	wipe(&msg, sizeof(msg));
	if (ret < 0) {
		x->state = QKD_PROTO_STATE_FAILED;
		return ret;
	}
	x->out_len = (size_t)ret;
	x->state = QKD_PROTO_STATE_OFFERED;
	memcpy(out, x->out, x->out_len);
	*out_len = x->out_len;
	return 0;
}

static int build_answer(struct qkd_proto_exchange *x, uint8_t version, uint8_t type,
			uint8_t reason, const uint8_t key_id[QKD_KEY_ID_LEN])
{
	struct qkd_proto_msg msg = {
		.version = version,
		.type = type,
		.reason = reason_for(version, reason),
	};
	int ret;

	if (key_id)
		memcpy(msg.key_id, key_id, QKD_KEY_ID_LEN);
	ret = qkd_proto_msg_encode(&msg, x->out, sizeof(x->out));
	if (ret < 0)
		return ret;
	x->out_len = (size_t)ret;
	return 0;
}

int qkd_proto_exchange_answer(struct qkd_proto_exchange *x, const uint8_t *in,
			size_t in_len, uint8_t *out, size_t *out_len)
{
	struct qkd_proto_msg msg;
	uint8_t reason = QKD_PROTO_REASON_OK;
	int ret;

	if (x->role == QKD_PROTO_ROLE_RESPONDER && x->state == QKD_PROTO_STATE_DONE) {
		/* the same offer again gets the same answer, nothing taken */
		if (in_len != x->in_len || memcmp(in, x->in, in_len) != 0)
			return -EALREADY;
		memcpy(out, x->out, x->out_len);
		*out_len = x->out_len;
		return 0;
	}
	if (x->role != QKD_PROTO_ROLE_UNKNOWN || x->state != QKD_PROTO_STATE_IDLE)
		return -EPROTO;
	x->role = QKD_PROTO_ROLE_RESPONDER;

	ret = qkd_proto_msg_decode(in, in_len, &msg);
	if (ret == -EPROTONOSUPPORT) {
		reason = QKD_PROTO_REASON_VERSION;
	} else if (ret < 0 || (msg.type != QKD_PROTO_MSG_OFFER &&
			       msg.type != QKD_PROTO_MSG_NONE)) {
		x->state = QKD_PROTO_STATE_FAILED;
		return -EBADMSG;
	} else if (msg.type == QKD_PROTO_MSG_NONE) {
		reason = QKD_PROTO_REASON_NO_OFFER;
		x->peer_reason = msg.reason;
	} else if (!x->pool[0]) {
		reason = x->reason;
	} else {
		memcpy(x->key_id, msg.key_id, QKD_KEY_ID_LEN);
		ret = x->ops->take_id(x->ctx, x->pool, msg.key_id, msg.tag,
				      &x->key);
		if (ret == 0 && (x->key.len < QKD_KEY_SIZE_MIN ||
				 x->key.len > QKD_KEY_SIZE_MAX ||
				 memcmp(x->key.id, msg.key_id,
					QKD_KEY_ID_LEN) != 0))
			ret = -EIO;
		switch (ret) {
		case 0:
			x->have_key = true;
			break;
		case -ENOENT:
			reason = QKD_PROTO_REASON_UNKNOWN_KEY;
			break;
		case -EKEYREJECTED:
			reason = QKD_PROTO_REASON_TAG_MISMATCH;
			break;
		default:
			reason = take_reason(ret);
			break;
		}
		if (!x->have_key)
			qkd_key_wipe(&x->key, 1);
	}
	x->reason = reason;
	if (reason != QKD_PROTO_REASON_OK && x->policy == QKD_PROTO_POLICY_REQUIRE) {
		x->state = QKD_PROTO_STATE_FAILED;
		report(x, QKD_KE_OUTCOME_REFUSED);
		return -ENOKEY;
	}
	/* in the offer's version; an unknown version gets ours */
	ret = build_answer(x, reason == QKD_PROTO_REASON_VERSION ? QKD_PROTO_VERSION :
			   msg.version, reason == QKD_PROTO_REASON_OK ? QKD_PROTO_MSG_ACK :
			   QKD_PROTO_MSG_NAK, reason,
			   msg.type == QKD_PROTO_MSG_OFFER ? msg.key_id : NULL);
	if (ret < 0) {
		qkd_proto_exchange_wipe(x);
		x->state = QKD_PROTO_STATE_FAILED;
		return ret;
	}
	x->acked = reason == QKD_PROTO_REASON_OK;
	x->in_len = in_len <= sizeof(x->in) ? in_len : sizeof(x->in);
	memcpy(x->in, in, x->in_len);
	x->state = QKD_PROTO_STATE_DONE;
	report(x, x->acked ? QKD_KE_OUTCOME_QKD : nak_outcome(x));
	memcpy(out, x->out, x->out_len);
	*out_len = x->out_len;
	return 0;
}

int qkd_proto_exchange_finish(struct qkd_proto_exchange *x, const uint8_t *in,
			size_t in_len)
{
	struct qkd_proto_msg msg;
	int ret;

	if (x->role != QKD_PROTO_ROLE_INITIATOR || x->state != QKD_PROTO_STATE_OFFERED)
		return -EPROTO;
	ret = qkd_proto_msg_decode(in, in_len, &msg);
	if (ret < 0 || (msg.type != QKD_PROTO_MSG_ACK && msg.type != QKD_PROTO_MSG_NAK))
		goto bad;
	if (x->have_key) {
		/* the answer must be about the key offered */
		if (memcmp(msg.key_id, x->key.id, QKD_KEY_ID_LEN) != 0)
			goto bad;
	} else {
		/* nothing offered: only a NAK makes sense */
		if (msg.type != QKD_PROTO_MSG_NAK)
			goto bad;
	}
	if (msg.type == QKD_PROTO_MSG_ACK) {
		x->acked = true;
		x->reason = QKD_PROTO_REASON_OK;
		x->state = QKD_PROTO_STATE_DONE;
		report(x, QKD_KE_OUTCOME_QKD);
		return 0;
	}
	/* NAK: the key is burnt here; the responder kept or never had it */
	x->acked = false;
	if (x->have_key)
		x->reason = msg.reason;
	qkd_key_wipe(&x->key, 1);
	x->have_key = false;
	report(x, nak_outcome(x));
	if (x->policy == QKD_PROTO_POLICY_REQUIRE) {
		x->state = QKD_PROTO_STATE_FAILED;
		return -ENOKEY;
	}
	x->state = QKD_PROTO_STATE_DONE;
	return 0;
bad:
	qkd_key_wipe(&x->key, 1);
	x->have_key = false;
	x->state = QKD_PROTO_STATE_FAILED;
	return -EBADMSG;
}

int qkd_proto_exchange_secret(const struct qkd_proto_exchange *x, const uint8_t **secret,
			size_t *len)
{
	if (x->state != QKD_PROTO_STATE_DONE)
		return -EAGAIN;
	if (x->acked && x->have_key) {
		*secret = x->key.material;
		*len = x->key.len;
	} else {
		*secret = NULL;
		*len = 0;
	}
	return 0;
}

void qkd_proto_exchange_wipe(struct qkd_proto_exchange *x)
{
	qkd_key_wipe(&x->key, 1);
	x->have_key = false;
}
