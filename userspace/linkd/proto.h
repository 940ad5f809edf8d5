/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The peer protocol between two qkd-linkd (inside mutual TLS).  Only key
 * IDs cross it, never key material.  Frames (all integers big-endian):
 *
 *	u32 length	bytes after this field: 4 + payload (4 to 65532)
 *	u8  version	PROTO_VERSION
 *	u8  type	enum proto_type
 *	u16 flags	0 (anything else is refused)
 *	... payload	by type:
 *
 *	HELLO    u8 n, n bytes master SAE ID; u8 n, n bytes slave SAE ID;
 *	         u16 key size in bits; epoch of the master's pool
 *	HELLO_OK epoch of the slave's pool; u8 reset (0 or 1: the pair is
 *	         not the one last reconciled, wipe the direction)
 *	OFFER    u64 seq; u16 n (1..512); n * key ID
 *	ACK      u64 seq; u16 status (0 = added); u8 n, n bytes of text
 *	ABORT    u64 seq; u16 n (0..512); n * key ID
 *	ABORTED  u64 seq; u16 keys removed
 *	ERROR    u16 code; u8 n, n bytes of text (then the sender closes)
 *	RESET    u32 keys the master wiped from its outbound side
 *	RESET_OK u32 keys the slave wiped from its inbound side
 *
 *	epoch    16 bytes boot ID, u64 netns cookie, u16 family ID, u32 pool
 *	         ID (recon.h)
 *
 * A key ID is the KME's key_ID string exactly as issued: u8 n (1..64), n
 * bytes of printable ASCII without space (keyid.h; version 1 sent 16
 * bytes, which a KME matching its own strings exactly could not use).
 * ERROR has the same layout in every version, so that a peer speaking
 * another version can be told so in words it decodes.
 * A frame whose payload is not exactly as described is refused as a whole.
 * See Documentation/qkd-linkd.rst for the protocol these frames carry.
 */
#ifndef LINKD_PROTO_H
#define LINKD_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include "keyid.h"
#include "qkd.h"
#include "recon.h"

/* 1: 16-byte key IDs; 2: key IDs as issued; 3: epochs and RESET. */
#define PROTO_VERSION		3
#define PROTO_HDR_LEN		8
/* Including the length field; 512 IDs of 64 characters fit. */
#define PROTO_MAX_FRAME		65536
#define PROTO_MAX_IDS		QKD_BATCH_MAX
#define PROTO_TEXT_MAX		255
#define PROTO_SAE_MAX		127

enum proto_type {
	PROTO_HELLO = 1,
	PROTO_HELLO_OK,
	PROTO_OFFER,
	PROTO_ACK,
	PROTO_ABORT,
	PROTO_ABORTED,
	PROTO_ERROR,
	PROTO_RESET,		/* version 2 */
	PROTO_RESET_OK,
	PROTO_TYPE_MAX = PROTO_RESET_OK,
};

/* ACK and ERROR status codes. */
enum proto_status {
	PROTO_OK = 0,
	PROTO_E_SOURCE = 1,	/* the slave could not get the keys */
	PROTO_E_POOL = 2,	/* the slave's pool refused them */
	PROTO_E_SEQ = 3,	/* stale or aborted sequence number */
	PROTO_E_PEER = 4,	/* HELLO: unknown pool or identity */
	PROTO_E_PROTO = 5,	/* malformed or unexpected frame */
	PROTO_E_FULL = 6,	/* ACK: the slave's inbound side has no room */
	PROTO_E_VERSION = 7,	/* ERROR: another protocol version */
};

/* proto_decode(): the frame is of another protocol version. */
#define PROTO_OTHER_VERSION	(-2)

struct proto_msg {
	uint8_t type;
	uint64_t seq;
	uint16_t n;		/* key IDs (OFFER, ABORT); removed (ABORTED) */
	uint16_t status;	/* ACK status, ERROR code */
	uint16_t key_bits;	/* HELLO */
	uint8_t reset;		/* HELLO_OK */
	uint32_t count;		/* RESET, RESET_OK */
	struct pool_epoch epoch;	/* HELLO, HELLO_OK */
	char master[PROTO_SAE_MAX + 1];
	char slave[PROTO_SAE_MAX + 1];
	char text[PROTO_TEXT_MAX + 1];
	struct keyid ids[PROTO_MAX_IDS];
};

/*
 * Decode the frame at the start of @buf.  Returns its length, 0 when
 * @len does not hold a whole frame yet, -1 when it is malformed, or
 * PROTO_OTHER_VERSION when it is of another version (buf[4]) (the
 * connection must then be closed).
 */
int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *m);

/* Encode @m into @buf.  Returns the frame length or -1. */
int proto_encode(const struct proto_msg *m, uint8_t *buf, size_t cap);

/*
 * An ERROR frame with @version in its header: what a peer speaking that
 * version decodes.  Returns the frame length or -1.
 */
int proto_encode_error(unsigned int version, uint16_t code, const char *text,
		       uint8_t *buf, size_t cap);

const char *proto_type_name(unsigned int type);

#endif
