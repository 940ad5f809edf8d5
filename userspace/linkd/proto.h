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
 *	         u16 key size in bits; epoch of the master's pool;
 *	         [u8 capabilities]
 *	HELLO_OK epoch of the slave's pool; u8 reset (0 or 1: the pair is
 *	         not the one last reconciled, wipe the direction);
 *	         [u8 capabilities]
 *	OFFER    u64 seq; u16 n (1..512); n * key ID
 *	ACK      u64 seq; u16 status (0 = added); u8 n, n bytes of text
 *	ABORT    u64 seq; u16 n (0..512); n * key ID
 *	ABORTED  u64 seq; u16 keys removed
 *	ERROR    u16 code; u8 n, n bytes of text (then the sender closes)
 *	RESET    u32 keys the master wiped from its outbound side
 *	RESET_OK u32 keys the slave wiped from its inbound side
 *	RELAY    a relay frame (relay_frame.h), 1 to PROTO_MAX_FRAME -
 *	         PROTO_HDR_LEN bytes, decoded
 *	         by the relay engine; sent only on a connection whose both
 *	         ends announced PROTO_CAP_RELAY
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
 *
 * Capabilities (still version 3): the byte is written only when it is
 * not 0 (a 0 byte is refused: one encoding per message), so a HELLO or HELLO_OK without capabilities is byte for byte
 * what every version-3 peer sends and decodes.  A master writes it only
 * for a pool that relays (relay_node set: its peer is declared a relay
 * node, so it runs a qkd-linkd that decodes it), and a slave answers with
 * it only when the HELLO carried it: a link between an upgraded and an
 * older qkd-linkd (no relay_node on either side) keeps working and fills
 * its pools.  An older slave whose pool the master's config calls a relay
 * link closes at the byte without a word: the master says HELLO again
 * without it and runs that link without relay (master.c, conn_closed()).  Unknown capability bits are ignored (a later capability is
 * announced without breaking this decoder).  A new protocol version
 * instead would have cut every upgraded router off its older neighbours.
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
	PROTO_RELAY,		/* version 3 with PROTO_CAP_RELAY */
	PROTO_TYPE_MAX = PROTO_RELAY,
};

/* HELLO and HELLO_OK capability bits. */
#define PROTO_CAP_RELAY		0x01	/* relays trusted-node key frames */

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

/* proto_frame_split(): the frame is of another protocol version. */
#define PROTO_OTHER_VERSION	(-2)

/*
 * One struct per message type, one encoder and one decoder each: a
 * message is built and read as what it is, never through a struct with
 * every field of every type.  OFFER and ABORT share their layout.
 */
struct proto_hello {
	char master[PROTO_SAE_MAX + 1];
	char slave[PROTO_SAE_MAX + 1];
	uint16_t key_bits;
	struct pool_epoch epoch;	/* the master's pool */
	uint8_t caps;			/* PROTO_CAP_*; 0: not written */
};

struct proto_hello_ok {
	struct pool_epoch epoch;	/* the slave's pool */
	uint8_t reset;			/* 0 or 1 */
	uint8_t caps;			/* PROTO_CAP_*; 0: not written */
};

/* RELAY: the relay frame, opaque here (decoded: valid during the call). */
struct proto_relay {
	const uint8_t *frame;
	size_t len;
};

/*
 * OFFER and ABORT.  Encoded from @ids (the journal's, as the KME issued
 * them); decoded into the caller's array of PROTO_MAX_IDS, which @ids
 * then points to.
 */
struct proto_ids {
	uint64_t seq;
	uint16_t n;
	const struct keyid *ids;
};

struct proto_ack {
	uint64_t seq;
	uint16_t status;		/* enum proto_status */
	char text[PROTO_TEXT_MAX + 1];
};

struct proto_aborted {
	uint64_t seq;
	uint16_t removed;
};

struct proto_error {
	uint16_t code;
	char text[PROTO_TEXT_MAX + 1];
};

/* RESET (keys the master wiped) and RESET_OK (keys the slave wiped). */
struct proto_reset {
	uint32_t count;
};

/* A whole frame of this version: its type and its payload, undecoded. */
struct proto_frame {
	uint8_t type;
	const uint8_t *payload;
	size_t len;
};

/*
 * Split the frame at the start of @buf.  Returns its length, 0 when @len
 * does not hold a whole frame yet, -1 when its header is malformed or its
 * type unknown, or PROTO_OTHER_VERSION when it is of another version
 * (buf[4]) (the connection must then be closed).  The payload is checked
 * by the type's decoder.
 */
int proto_frame_split(const uint8_t *buf, size_t len, struct proto_frame *f);

/*
 * Decoders: 0, or -1 when @f is not of the type or its payload is not
 * exactly what the type's layout says.
 */
int proto_decode_hello(const struct proto_frame *f, struct proto_hello *m);
int proto_decode_hello_ok(const struct proto_frame *f,
			  struct proto_hello_ok *m);
int proto_decode_offer(const struct proto_frame *f, struct proto_ids *m,
		       struct keyid ids[PROTO_MAX_IDS]);
int proto_decode_abort(const struct proto_frame *f, struct proto_ids *m,
		       struct keyid ids[PROTO_MAX_IDS]);
int proto_decode_ack(const struct proto_frame *f, struct proto_ack *m);
int proto_decode_aborted(const struct proto_frame *f,
			 struct proto_aborted *m);
int proto_decode_error(const struct proto_frame *f, struct proto_error *m);
int proto_decode_reset(const struct proto_frame *f, struct proto_reset *m);
int proto_decode_reset_ok(const struct proto_frame *f,
			  struct proto_reset *m);
int proto_decode_relay(const struct proto_frame *f, struct proto_relay *m);

/* Encoders: the frame into @buf of @cap bytes; its length, or -1. */
int proto_encode_hello(const struct proto_hello *m, uint8_t *buf,
		       size_t cap);
int proto_encode_hello_ok(const struct proto_hello_ok *m, uint8_t *buf,
			  size_t cap);
int proto_encode_offer(const struct proto_ids *m, uint8_t *buf, size_t cap);
int proto_encode_abort(const struct proto_ids *m, uint8_t *buf, size_t cap);
int proto_encode_ack(const struct proto_ack *m, uint8_t *buf, size_t cap);
int proto_encode_aborted(const struct proto_aborted *m, uint8_t *buf,
			 size_t cap);
int proto_encode_reset(const struct proto_reset *m, uint8_t *buf,
		       size_t cap);
int proto_encode_reset_ok(const struct proto_reset *m, uint8_t *buf,
			  size_t cap);
int proto_encode_relay(const struct proto_relay *m, uint8_t *buf,
		       size_t cap);
/*
 * ERROR, with @version in its header: what a peer speaking that version
 * decodes (ERROR's layout is the same in every version).
 */
int proto_encode_error(unsigned int version, uint16_t code, const char *text,
		       uint8_t *buf, size_t cap);

const char *proto_type_name(unsigned int type);

#endif
