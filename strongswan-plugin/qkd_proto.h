/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The `qkd` key exchange: its payload and the ACK/NAK state machine.
 *
 * Pure code: no strongSwan type, no socket.  The pools are reached through
 * struct qkd_proto_pool_ops, so the unit tests drive every path with a fake pool
 * and charon's glue (qkd_ke.c) with libqkd.
 *
 * The key exchange data of the KE payload (RFC 7296 3.4, RFC 9370), in
 * network order:
 *
 *   0        1        2        3
 *   +--------+--------+--------+--------+
 *   |version |  type  | reason |reserved|     4 bytes, all messages
 *   +--------+--------+--------+--------+
 *   |          key ID (16 bytes)        |     OFFER, ACK, NAK
 *   +-----------------------------------+
 *   |   confirmation tag (32 bytes)     |     OFFER only
 *   +--------+--------+-----------------+
 *   |sel type|sel len | selector ...    |     OFFER, NONE: version 2 only
 *   +--------+--------+-----------------+     (NONE: right after the header)
 *
 *   initiator -> responder:  OFFER  (52 + 2 + n bytes) key ID, tag, selector
 *                            NONE   (4 + 2 + n bytes) no key to offer;
 *                                              @reason why; selector
 *   responder -> initiator:  ACK    (20 bytes) the key ID it took
 *                            NAK    (20 bytes) @reason, the key ID offered
 *                                              (zero after a NONE)
 *
 * The selector (version 2; a NONE carries it too, so that the responder
 * counts the fallback in the right pool) is the identity the initiator is
 * about to authenticate with in IKE_AUTH: its IKEv2 ID type and data (0 < n <= 255).
 * Before IKE_AUTH the responder knows its peer only by the packet's source
 * address, which a NAT rewrites and which peers behind one NAT share; the
 * selector lets it map the offer to the pool of the identity claimed, and
 * IKE_AUTH then checks that claim (a mismatch is re-keyed or refused).
 * Type 0 with length 0 means "no selector".  The responder answers in the
 * offer's version: version 1 offers (no selector) are still answered.
 *
 * The tag is HMAC-SHA256(material, "qkd-ipsec tag v1" || key ID)
 * (qkd_tag_compute()); the responder's kernel hands the key out only when
 * it matches, and consumes nothing when it does not.
 *
 * Shared secret: the key material after an ACK; zero bytes after a NAK, on
 * both sides.  See Documentation/strongswan-plugin.rst for why an empty
 * contribution keeps the derivation well-defined and safe.
 */
#ifndef QKD_PROTO_H_
#define QKD_PROTO_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <qkd.h>

#define QKD_PROTO_VERSION	2
#define QKD_PROTO_VERSION_MIN	1	/* still answered: no selector */

#define QKD_PROTO_MSG_HDR_LEN		4
#define QKD_PROTO_SELECTOR_MAX	255
#define QKD_PROTO_MSG_OFFER_V1_LEN	(QKD_PROTO_MSG_HDR_LEN + QKD_KEY_ID_LEN + QKD_TAG_LEN)
#define QKD_PROTO_MSG_OFFER_LEN	(QKD_PROTO_MSG_OFFER_V1_LEN + 2)	/* + selector */
#define QKD_PROTO_MSG_NONE_V1_LEN	QKD_PROTO_MSG_HDR_LEN
#define QKD_PROTO_MSG_NONE_LEN	(QKD_PROTO_MSG_HDR_LEN + 2)	/* + selector */
#define QKD_PROTO_MSG_ANSWER_LEN	(QKD_PROTO_MSG_HDR_LEN + QKD_KEY_ID_LEN)
#define QKD_PROTO_MSG_MAX_LEN		(QKD_PROTO_MSG_OFFER_LEN + QKD_PROTO_SELECTOR_MAX)

enum qkd_proto_msg_type {
	QKD_PROTO_MSG_OFFER = 1,
	QKD_PROTO_MSG_NONE = 2,
	QKD_PROTO_MSG_ACK = 3,
	QKD_PROTO_MSG_NAK = 4,
};

/* Why there is no QKD key: in NONE and NAK messages, and in the logs. */
enum qkd_proto_reason {
	QKD_PROTO_REASON_OK = 0,		/* ACK, OFFER */
	QKD_PROTO_REASON_NO_OFFER = 1,	/* NAK: the initiator sent NONE */
	QKD_PROTO_REASON_NO_POOL = 2,		/* no pool is mapped to the peer */
	QKD_PROTO_REASON_EMPTY = 3,		/* NONE: the outbound side is empty */
	QKD_PROTO_REASON_UNKNOWN_KEY = 4,	/* NAK: no inbound key with that ID */
	QKD_PROTO_REASON_TAG_MISMATCH = 5,	/* NAK: the tag did not verify */
	QKD_PROTO_REASON_POOL_ERROR = 6,	/* the pool could not be read */
	QKD_PROTO_REASON_VERSION = 7,		/* NAK: unsupported payload version */
	QKD_PROTO_REASON_PRE_AUTH = 8,	/* the pool used before IKE_AUTH is not
					 * the authenticated peer's */
	QKD_PROTO_REASON_PEER_UNKNOWN = 9,	/* NONE: the peer's pool cannot be known
					 * before IKE_AUTH */
	QKD_PROTO_REASON_MAX = QKD_PROTO_REASON_PEER_UNKNOWN,
};

/* Per connection: fall back without QKD, or refuse the exchange. */
enum qkd_proto_policy {
	QKD_PROTO_POLICY_PREFER = 0,
	QKD_PROTO_POLICY_REQUIRE = 1,
};

struct qkd_proto_msg {
	uint8_t version;
	uint8_t type;			/* enum qkd_proto_msg_type */
	uint8_t reason;			/* enum qkd_proto_reason */
	uint8_t key_id[QKD_KEY_ID_LEN];
	uint8_t tag[QKD_TAG_LEN];
	uint8_t sel_type;		/* OFFER, NONE v2: IKEv2 ID type, 0: none */
	uint8_t sel_len;
	uint8_t sel[QKD_PROTO_SELECTOR_MAX];
};

/*
 * Encode @msg into @buf (@len bytes).  Returns the encoded length, or
 * -EINVAL for an invalid message, -ENOSPC when @buf is too short.
 */
int qkd_proto_msg_encode(const struct qkd_proto_msg *msg, uint8_t *buf, size_t len);

/*
 * Decode and validate @len bytes.  Returns 0, -EPROTONOSUPPORT when the
 * version is not QKD_PROTO_VERSION_MIN..QKD_PROTO_VERSION (msg->version is then set), or
 * -EBADMSG for anything malformed: wrong length for the type, unknown
 * type or reason, non-zero reserved byte.
 */
int qkd_proto_msg_decode(const uint8_t *buf, size_t len, struct qkd_proto_msg *msg);

/* "offer", "none", "ack", "nak"; "unknown" otherwise. */
const char *qkd_proto_msg_type_name(unsigned int type);
/* "ok", "no offer", "no pool", ... */
const char *qkd_proto_reason_name(unsigned int reason);
/* What an operator can do about @reason, one clause; "" for none. */
const char *qkd_proto_reason_hint(unsigned int reason);

/*
 * The pools, as the state machine sees them.  Both return 0 and fill @key,
 * or a negative errno: -ENOENT (empty / no such key), -EKEYREJECTED (bad
 * tag; the key stays), -ENODEV (no such pool), anything else is a pool
 * error.  @pool is the pool's name.
 */
struct qkd_proto_pool_ops {
	int (*take_next)(void *ctx, const char *pool, struct qkd_key *key);
	int (*take_id)(void *ctx, const char *pool,
		       const uint8_t key_id[QKD_KEY_ID_LEN],
		       const uint8_t tag[QKD_TAG_LEN], struct qkd_key *key);
	/*
	 * Count the exchange's outcome (enum qkd_ke_outcome) and, without a
	 * QKD key, its @reason (enum qkd_proto_reason, the kernel's enum
	 * qkd_ke_reason) in @pool's ke-stats, or with @pool NULL in the
	 * namespace's counters of exchanges without a pool.  Called once per
	 * exchange, on both sides, when the outcome is known; never for a
	 * retried message, nor for a malformed one (a protocol error, not an
	 * outcome).  Its result never changes the exchange.  May be NULL.
	 */
	int (*report)(void *ctx, const char *pool, uint32_t outcome,
		      uint32_t reason);
};

enum qkd_proto_role {
	QKD_PROTO_ROLE_UNKNOWN = 0,
	QKD_PROTO_ROLE_INITIATOR,
	QKD_PROTO_ROLE_RESPONDER,
};

enum qkd_proto_state {
	QKD_PROTO_STATE_IDLE = 0,
	QKD_PROTO_STATE_OFFERED,	/* initiator: offer built, waiting for the answer */
	QKD_PROTO_STATE_DONE,		/* ACK or NAK: the secret is defined */
	QKD_PROTO_STATE_FAILED,	/* the exchange must fail */
};

/* One exchange; holds key material: end it with qkd_proto_exchange_wipe(). */
struct qkd_proto_exchange {
	const struct qkd_proto_pool_ops *ops;
	void *ctx;
	enum qkd_proto_policy policy;
	enum qkd_proto_role role;
	enum qkd_proto_state state;
	bool acked;			/* DONE: ACK (true) or NAK (false) */
	uint8_t reason;			/* enum qkd_proto_reason of a NAK/NONE */
	uint8_t peer_reason;		/* responder: the reason of the NONE received */
	char pool[QKD_POOL_NAME_MAX_LEN + 1];	/* "" when none is mapped */
	struct qkd_key key;		/* valid when have_key */
	bool have_key;
	bool reported;			/* the outcome went to ops->report */
	uint8_t key_id[QKD_KEY_ID_LEN];	/* offered / answered, for the logs */
	uint8_t sel_type;		/* initiator: the selector to send */
	uint8_t sel_len;
	uint8_t sel[QKD_PROTO_SELECTOR_MAX];
	uint8_t out[QKD_PROTO_MSG_MAX_LEN];	/* our message, kept for retries */
	size_t out_len;
	uint8_t in[QKD_PROTO_MSG_MAX_LEN];	/* responder: the offer answered */
	size_t in_len;
};

/*
 * Start an exchange.  @pool is the name of the peer's pool, or NULL when
 * none is mapped to the peer; @reason then says why (QKD_PROTO_REASON_NO_POOL
 * or QKD_PROTO_REASON_PEER_UNKNOWN).  Returns -EINVAL for a name too long.
 */
int qkd_proto_exchange_init(struct qkd_proto_exchange *x, const struct qkd_proto_pool_ops *ops,
		      void *ctx, enum qkd_proto_policy policy, const char *pool,
		      uint8_t reason);

/*
 * Initiator: the selector the offer carries (see the wire format), before
 * qkd_proto_exchange_offer().  Returns -EINVAL for a type 0 or a length out of
 * 1..QKD_PROTO_SELECTOR_MAX.
 */
int qkd_proto_exchange_set_selector(struct qkd_proto_exchange *x, uint8_t type,
			      const uint8_t *sel, size_t len);

/*
 * Initiator: build the offer into @out (QKD_PROTO_MSG_MAX_LEN bytes), *@out_len
 * set.  Takes the next outbound key on the first call only; a repeated
 * call (a retried message) returns the same offer.  Without a key: a NONE
 * offer, or -ENOKEY under QKD_PROTO_POLICY_REQUIRE.
 */
int qkd_proto_exchange_offer(struct qkd_proto_exchange *x, uint8_t *out, size_t *out_len);

/*
 * Responder: process the offer @in and build the answer into @out.
 * Takes the inbound key only when the tag verifies.  Returns 0 (ACK or
 * NAK built), -EBADMSG for a malformed offer, -ENOKEY when the policy is
 * QKD_PROTO_POLICY_REQUIRE and the answer would be a NAK, -EALREADY when called
 * again with a different offer (the same offer gets the same answer).
 */
int qkd_proto_exchange_answer(struct qkd_proto_exchange *x, const uint8_t *in,
			size_t in_len, uint8_t *out, size_t *out_len);

/*
 * Initiator: process the answer.  Returns 0, -EBADMSG for a malformed or
 * mismatched answer (an ACK of another key, an ACK after NONE), -ENOKEY
 * for a NAK under QKD_PROTO_POLICY_REQUIRE, -EPROTO when no offer was made.
 */
int qkd_proto_exchange_finish(struct qkd_proto_exchange *x, const uint8_t *in,
			size_t in_len);

/*
 * The shared secret once DONE: the key after an ACK, zero bytes after a
 * NAK.  -EAGAIN before.  Points into @x: copy it before the wipe.
 */
int qkd_proto_exchange_secret(const struct qkd_proto_exchange *x, const uint8_t **secret,
			size_t *len);

/* Wipe every secret of @x; safe to call more than once. */
void qkd_proto_exchange_wipe(struct qkd_proto_exchange *x);

#endif /* QKD_PROTO_H_ */
