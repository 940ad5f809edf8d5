/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Relay frames: what one hop of a trusted-node relay sends its neighbour,
 * inside the peer channel (Documentation/relay.rst, "Wire format").  All
 * integers big-endian:
 *
 *	u8  version	RELAY_FRAME_VERSION
 *	u8  type	enum relay_type
 *	u16 flags	0
 *	u64 transfer	1 .. 2^64-1, chosen by the origin
 *	u8  hop		index in path of the node the frame is for
 *	u8  npath	2 .. RELAY_MAX_PATH
 *	npath x (u8 n, n bytes node name: 1..64 of A-Z a-z 0-9 . _ -)
 *	KEYS	u16 key_len, u16 n, n x 16-byte key ID,
 *		u16 link_len, u16 m, m x 16-byte link key ID,
 *		payload ciphertext (none when hop is 1), 16-byte tag
 *	ACK	u16 status, u16 keys added at the far end, u8 at,
 *		16-byte end-to-end tag
 *	ABORT	u16 n, n x 16-byte key ID, 16-byte end-to-end tag
 *	ABORTED	u16 status, u16 keys removed at the far end, u8 at
 *
 * Forward frames (KEYS, ABORT) go from path[hop-1] to path[hop], backward
 * ones (ACK, ABORTED) from path[hop+1] to path[hop]; "at" is the index of
 * the node that answered.  The payload is what is relayed: the n keys
 * then a 32-byte end-to-end MAC key, shared by the two ends only, that
 * keys the far end's tag on its ACK and the origin's on its ABORT (relays
 * cannot forge either).  The hop's pad is the material of its m link keys
 * concatenated: bytes 0..31 key the Poly1305 tag over every byte before
 * the tag, bytes 32.. are the one-time pad of the payload (on the first
 * hop, the payload itself).  The length of a frame is that of the
 * peer-protocol frame that carries it.
 */
#ifndef LINKD_RELAY_FRAME_H
#define LINKD_RELAY_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include "relay_crypto.h"

#define RELAY_FRAME_VERSION	1
#define RELAY_MAX_PATH		32
#define RELAY_NAME_MAX		64
#define RELAY_MAX_KEYS		64
#define RELAY_KEY_MIN		16	/* bytes, end-to-end and link keys */
#define RELAY_KEY_MAX		64	/* QKD_KEY_SIZE_MAX */
#define RELAY_ID_LEN		16	/* QKD_KEY_ID_LEN */
#define RELAY_E2E_KEY_LEN	RELAY_MAC_KEY_LEN	/* relayed with the keys */
#define RELAY_MAX_PAYLOAD	(RELAY_MAX_KEYS * RELAY_KEY_MAX + RELAY_E2E_KEY_LEN)
#define RELAY_MAX_LINK_KEYS	((RELAY_MAC_KEY_LEN + RELAY_MAX_PAYLOAD + \
				  RELAY_KEY_MIN - 1) / RELAY_KEY_MIN)
#define RELAY_MAX_PAD		(RELAY_MAX_LINK_KEYS * RELAY_KEY_MAX)
/* The largest frame: a KEYS frame with everything at its maximum. */
#define RELAY_FRAME_MAX		(14 + RELAY_MAX_PATH * (1 + RELAY_NAME_MAX) + \
				 4 + RELAY_MAX_KEYS * RELAY_ID_LEN + \
				 4 + RELAY_MAX_LINK_KEYS * RELAY_ID_LEN + \
				 RELAY_MAX_PAYLOAD + RELAY_TAG_LEN)
#define RELAY_ERR_LEN		160

enum relay_type {
	RELAY_KEYS = 1,
	RELAY_ACK,
	RELAY_ABORT,
	RELAY_ABORTED,
	RELAY_TYPE_MAX = RELAY_ABORTED,
};

/* ACK and ABORTED status. */
enum relay_status {
	RELAY_OK = 0,
	RELAY_E_TAG,		/* a hop's tag did not verify */
	RELAY_E_LINK_KEYS,	/* a hop's link keys were not in its pool */
	RELAY_E_LINK_DOWN,	/* the next hop's link is down */
	RELAY_E_BUDGET,		/* the next hop's relay share is used up */
	RELAY_E_POOL,		/* the far end's pool refused the keys */
	RELAY_E_STALE,		/* transfer at or below an aborted one */
	RELAY_E_PROTO,		/* a malformed or unexpected frame */
	RELAY_STATUS_MAX = RELAY_E_PROTO,
};

struct relay_frame {
	uint8_t type;
	uint64_t transfer;
	uint8_t hop;
	uint8_t npath;
	char path[RELAY_MAX_PATH][RELAY_NAME_MAX + 1];
	uint16_t n;		/* KEYS, ABORT: end-to-end key IDs */
	uint8_t ids[RELAY_MAX_KEYS][RELAY_ID_LEN];
	uint16_t key_len;	/* KEYS: bytes of each end-to-end key */
	uint16_t link_len;	/* KEYS: bytes of each link key of this hop */
	uint16_t m;		/* KEYS: link keys of this hop */
	uint8_t link_ids[RELAY_MAX_LINK_KEYS][RELAY_ID_LEN];
	/*
	 * KEYS, set by relay_frame_decode(): into the decoded buffer, which
	 * must outlive the frame's use.  ct is NULL on the first hop.
	 */
	const uint8_t *raw;
	const uint8_t *ct;
	const uint8_t *tag;
	size_t mac_len;		/* bytes of raw the tag covers */
	uint16_t status;	/* ACK, ABORTED */
	uint16_t count;		/* ACK, ABORTED */
	uint8_t at;		/* ACK, ABORTED: path index of the answerer */
	uint8_t e2e_tag[RELAY_TAG_LEN];	/* ACK, ABORT: zeros if untagged */
};

/* Link keys a hop of @n keys of @key_len bytes needs of @link_len bytes. */
unsigned int relay_link_keys_needed(unsigned int n, unsigned int key_len,
				    unsigned int link_len);

/* The pad length of @f's hop: m * link_len bytes. */
size_t relay_pad_len(const struct relay_frame *f);

/* The bytes KEYS frame @f relays: n * key_len + RELAY_E2E_KEY_LEN. */
size_t relay_payload_len(const struct relay_frame *f);

/* The length @f encodes to, or -1 with the reason in @err (the checks). */
int relay_frame_len(const struct relay_frame *f, char *err, size_t errlen);

/*
 * Check the fields of @f as the decoder does.  0, or -1 with the reason
 * in @err (may be NULL).
 */
int relay_frame_check(const struct relay_frame *f, char *err, size_t errlen);

/*
 * Decode the @len bytes at @buf, all of them one frame.  0, or -1 with the
 * reason in @err ("hop 4 out of range for a path of 3 nodes").  The
 * tag is not verified here: relay_frame_open() does.
 */
int relay_frame_decode(const uint8_t *buf, size_t len, struct relay_frame *f,
		       char *err, size_t errlen);

/*
 * Encode @f as it is (a KEYS frame with its ct and tag).  Returns the
 * length, or -1 with the reason in @err.
 */
int relay_frame_encode(const struct relay_frame *f, uint8_t *buf, size_t cap,
		       char *err, size_t errlen);

/*
 * Encode KEYS frame @f for its hop, sealed with @pad (relay_pad_len(f)
 * bytes: the hop's link keys): the ciphertext of the relay_payload_len(f)
 * bytes at @keys (ignored, may be NULL, on the first hop: the payload is
 * the pad's), then the tag.  f->ct and f->tag are ignored (never read).
 * Returns the length, or -1 with the reason in @err.  Nothing secret is
 * left anywhere but in @buf's ciphertext.
 */
int relay_frame_seal(const struct relay_frame *f, const uint8_t *keys,
		     const uint8_t *pad, size_t padlen, uint8_t *buf,
		     size_t cap, char *err, size_t errlen);

/*
 * Verify decoded KEYS frame @f with its hop's @pad and write its
 * relay_payload_len(f) bytes (the keys, then the end-to-end MAC key) to
 * @keys.  0, or -1 with the reason in @err ("bad tag"); then nothing was
 * written to @keys.
 */
int relay_frame_open(const struct relay_frame *f, const uint8_t *pad,
		     size_t padlen, uint8_t *keys, char *err, size_t errlen);

/*
 * The end-to-end tag of the far end's ACK (@type RELAY_ACK) or the
 * origin's ABORT (RELAY_ABORT) of @transfer: Poly1305 under the
 * transfer's end-to-end MAC key @key over a label naming the type, the
 * transfer, @status, @count and the @n key IDs @ids.  Both ends know every
 * field, so the frames carry only the tag.  0, or -1 (OpenSSL failed).
 */
int relay_e2e_tag(const uint8_t key[RELAY_E2E_KEY_LEN], unsigned int type,
		  uint64_t transfer, uint16_t status, uint16_t count,
		  const uint8_t (*ids)[RELAY_ID_LEN], unsigned int n,
		  uint8_t tag[RELAY_TAG_LEN]);
/* 0 when @tag is that tag, compared in constant time; -1 otherwise. */
int relay_e2e_verify(const uint8_t key[RELAY_E2E_KEY_LEN], unsigned int type,
		     uint64_t transfer, uint16_t status, uint16_t count,
		     const uint8_t (*ids)[RELAY_ID_LEN], unsigned int n,
		     const uint8_t tag[RELAY_TAG_LEN]);

const char *relay_type_name(unsigned int type);
const char *relay_status_name(unsigned int status);

#endif
