/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The combined key exchange (`mlkem512qkd`, `mlkem768qkd`, `mlkem1024qkd`):
 * one KE payload carries an ML-KEM key exchange and a `qkd` exchange, so
 * that ML-KEM and QKD cost one IKE exchange instead of two (RFC 9370 gives
 * each additional key exchange a round trip of its own).
 *
 * Pure code, like qkd_proto.c: the QKD half IS the `qkd` method's state
 * machine (struct qkd_proto_exchange: pools, policies, reasons, accounting,
 * retries), the ML-KEM half is reached through struct qkd_combo_kem_ops
 * (charon: strongSwan's crypto factory; the unit tests: OpenSSL directly).
 *
 * The key exchange data of the KE payload, in network order:
 *
 *   0        1        2        3
 *   +--------+--------+--------+--------+
 *   |version |reserved|  ML-KEM length  |   4 bytes
 *   +--------+--------+--------+--------+
 *   |  ML-KEM data (ML-KEM length bytes) |   initiator: encapsulation key
 *   |                                    |   responder: ciphertext
 *   +------------------------------------+
 *   |  qkd message (the rest)            |   the `qkd` method's payload,
 *   +------------------------------------+   version 2: OFFER or NONE /
 *                                            ACK or NAK (qkd_proto.h)
 *
 * The version is 1 and the reserved byte 0.  The ML-KEM length must be the
 * parameter set's (encapsulation key 800 / 1184 / 1568, ciphertext 768 /
 * 1088 / 1568 bytes) and the qkd message must be a valid version 2 message
 * of the right direction: anything else (a truncation anywhere, another
 * version of either part) is rejected before anything is taken from a pool
 * or encapsulated.  A later version may change the layout, so unlike the
 * `qkd` method (which NAKs an unknown version: its peer may still have
 * another key exchange) an unknown version fails the exchange: here the
 * ML-KEM half would be lost with it.
 *
 * Shared secret: the ML-KEM shared secret (32 bytes) followed by the QKD key
 * after an ACK; the ML-KEM secret alone after a NAK.
 */
#ifndef QKD_COMBO_H_
#define QKD_COMBO_H_

#include "qkd_proto.h"

#define QKD_COMBO_VERSION	1
#define QKD_COMBO_HDR_LEN	4
#define QKD_COMBO_KEM_MAX_LEN	1568	/* ML-KEM-1024's key and ciphertext */
#define QKD_COMBO_KEM_SS_LEN	32	/* every ML-KEM parameter set */
#define QKD_COMBO_MSG_MAX_LEN	(QKD_COMBO_HDR_LEN + QKD_COMBO_KEM_MAX_LEN + \
				 QKD_PROTO_MSG_MAX_LEN)
#define QKD_COMBO_SECRET_MAX_LEN (QKD_COMBO_KEM_SS_LEN + QKD_KEY_SIZE_MAX)

/*
 * The ML-KEM half, after key_exchange_t's KEM call order: the initiator's
 * get_public() generates (once) the encapsulation key, the responder's
 * set_public() encapsulates to it and its get_public() is the ciphertext,
 * the initiator's set_public() decapsulates.  Each returns 0 or a negative
 * errno; get_public() writes exactly @len bytes (the expected length),
 * secret() QKD_COMBO_KEM_SS_LEN.
 */
struct qkd_combo_kem_ops {
	int (*get_public)(void *kem, uint8_t *out, size_t len);
	int (*set_public)(void *kem, const uint8_t *in, size_t len);
	int (*secret)(void *kem, uint8_t *out);
};

/* The parsed payload; points into the buffer decoded. */
struct qkd_combo_msg {
	const uint8_t *kem;
	size_t kem_len;
	struct qkd_proto_msg qkd;
};

/*
 * Decode @len bytes: the frame, an ML-KEM part of exactly @kem_len bytes
 * and a version 2 qkd message of a type @offer (OFFER/NONE) or not
 * (ACK/NAK) calls for.  Returns 0, -EPROTONOSUPPORT for another version of
 * the frame or of the qkd message, -EBADMSG for anything else malformed
 * (*@what then names the part, for the log line).
 */
int qkd_combo_msg_decode(const uint8_t *buf, size_t len, size_t kem_len,
			 bool offer, struct qkd_combo_msg *msg,
			 const char **what);

/*
 * Encode the frame around @kem (@kem_len bytes) and the encoded qkd
 * message @qkd (@qkd_len bytes) into @buf.  Returns the length, -ENOSPC.
 */
int qkd_combo_msg_encode(const uint8_t *kem, size_t kem_len,
			 const uint8_t *qkd, size_t qkd_len, uint8_t *buf,
			 size_t len);

/* One combined exchange; holds secrets: end it with qkd_combo_wipe(). */
struct qkd_combo_exchange {
	struct qkd_proto_exchange *qkd;	/* the QKD half, initialized */
	const struct qkd_combo_kem_ops *ops;
	void *kem;
	size_t pk_len, ct_len;		/* of the parameter set */
	bool failed;			/* a malformed payload: never again */
	const char *error;		/* why the payload was rejected, for
					 * the log line; "" if it was not */
	uint8_t out[QKD_COMBO_MSG_MAX_LEN];	/* ours, kept for retries */
	size_t out_len;
	uint8_t in[QKD_COMBO_MSG_MAX_LEN];	/* responder: the offer answered */
	size_t in_len;
	uint8_t secret[QKD_COMBO_SECRET_MAX_LEN];
	size_t secret_len;		/* 0 until both halves are done */
};

/*
 * Start: @qkd is an exchange qkd_proto_exchange_init() set up (its pool,
 * policy, selector), @ops/@kem the ML-KEM half for keys of @pk_len and
 * ciphertexts of @ct_len bytes.  -EINVAL for sizes out of range.
 */
int qkd_combo_init(struct qkd_combo_exchange *c, struct qkd_proto_exchange *qkd,
		   const struct qkd_combo_kem_ops *ops, void *kem,
		   size_t pk_len, size_t ct_len);

/*
 * Initiator: the offer into @out (QKD_COMBO_MSG_MAX_LEN bytes).  The
 * ML-KEM key first (a failure there takes no QKD key), then the qkd offer.
 * A repeated call (a retried message) returns the same offer: no second
 * key, no second key pair.  -ENOKEY under the require policy without a
 * key, -EIO when ML-KEM fails.
 */
int qkd_combo_offer(struct qkd_combo_exchange *c, uint8_t *out,
		    size_t *out_len);

/*
 * Responder: check the whole offer, encapsulate, then take the QKD key
 * and build the answer into @out.  The same offer again gets the same
 * answer.  -EBADMSG / -EPROTONOSUPPORT for a malformed offer or another
 * version (nothing taken, nothing encapsulated), -ENOKEY when the policy
 * is require and the qkd answer would be a NAK, -EALREADY for a second,
 * different offer.
 */
int qkd_combo_answer(struct qkd_combo_exchange *c, const uint8_t *in,
		     size_t in_len, uint8_t *out, size_t *out_len);

/*
 * Initiator: check the whole answer, decapsulate, process the qkd answer.
 * -EBADMSG / -EPROTONOSUPPORT for a malformed answer (the QKD key taken
 * for the offer is wiped), -ENOKEY for a NAK under require, -EPROTO
 * without an offer.
 */
int qkd_combo_finish(struct qkd_combo_exchange *c, const uint8_t *in,
		     size_t in_len);

/*
 * The shared secret once both halves are done: ML-KEM's || the QKD key
 * (ACK) or ML-KEM's alone (NAK).  -EAGAIN before.  Points into @c.
 */
int qkd_combo_secret(struct qkd_combo_exchange *c, const uint8_t **secret,
		     size_t *len);

/* Wipe every secret of @c and its qkd half; safe to call more than once. */
void qkd_combo_wipe(struct qkd_combo_exchange *c);

#endif /* QKD_COMBO_H_ */
