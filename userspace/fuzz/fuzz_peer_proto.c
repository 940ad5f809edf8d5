// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: a byte stream from the peer, split into frames as a
 * connection does and each decoded by its type's decoder as the master
 * and the slave do; every accepted frame must re-encode, through its
 * type's encoder, to the same bytes, and a frame of another version must
 * be refused as such (and answerable in its version).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../linkd/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[PROTO_MAX_FRAME];
static struct keyid ids[PROTO_MAX_IDS];

/* Decode @f by its type and encode it again: the length, or -1. */
static int reencode(const struct proto_frame *f)
{
	struct proto_hello h;
	struct proto_hello_ok ok;
	struct proto_ids m;
	struct proto_ack ack;
	struct proto_aborted ab;
	struct proto_error er;
	struct proto_reset rs;
	struct proto_relay rl;

	switch (f->type) {
	case PROTO_HELLO:
		return proto_decode_hello(f, &h) ? -1 :
		       proto_encode_hello(&h, out, sizeof(out));
	case PROTO_HELLO_OK:
		return proto_decode_hello_ok(f, &ok) ? -1 :
		       proto_encode_hello_ok(&ok, out, sizeof(out));
	case PROTO_OFFER:
		return proto_decode_offer(f, &m, ids) ? -1 :
		       proto_encode_offer(&m, out, sizeof(out));
	case PROTO_ABORT:
		return proto_decode_abort(f, &m, ids) ? -1 :
		       proto_encode_abort(&m, out, sizeof(out));
	case PROTO_ACK:
		return proto_decode_ack(f, &ack) ? -1 :
		       proto_encode_ack(&ack, out, sizeof(out));
	case PROTO_ABORTED:
		return proto_decode_aborted(f, &ab) ? -1 :
		       proto_encode_aborted(&ab, out, sizeof(out));
	case PROTO_ERROR:
		return proto_decode_error(f, &er) ? -1 :
		       proto_encode_error(PROTO_VERSION, er.code, er.text, out,
					  sizeof(out));
	case PROTO_RESET:
		return proto_decode_reset(f, &rs) ? -1 :
		       proto_encode_reset(&rs, out, sizeof(out));
	case PROTO_RESET_OK:
		return proto_decode_reset_ok(f, &rs) ? -1 :
		       proto_encode_reset_ok(&rs, out, sizeof(out));
	case PROTO_RELAY:
		return proto_decode_relay(f, &rl) ? -1 :
		       proto_encode_relay(&rl, out, sizeof(out));
	}
	abort();	/* proto_frame_split() lets no other type through */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	struct proto_frame f;
	size_t off = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	while (off < size) {
		int n = proto_frame_split(buf + off, size - off, &f);
		int e;

		if (n == PROTO_OTHER_VERSION) {
			/* Told apart by the version byte alone. */
			if (size - off < PROTO_HDR_LEN || !buf[off + 4] ||
			    buf[off + 4] == PROTO_VERSION)
				abort();
			/* The answer it gets is of its version. */
			e = proto_encode_error(buf[off + 4], PROTO_E_VERSION,
					       "version", out, sizeof(out));
			if (e <= 0 || proto_frame_split(out, e, &f) !=
			    PROTO_OTHER_VERSION)
				abort();
			break;
		}
		if (n <= 0)
			break;
		e = reencode(&f);
		if (e < 0)
			break;		/* a payload its type refuses */
		if (e != n || memcmp(out, buf + off, n))
			abort();
		off += n;
	}
	free(buf);
	return 0;
}
