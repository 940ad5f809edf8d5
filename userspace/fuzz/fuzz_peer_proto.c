// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: a byte stream from the peer, split into frames as a
 * connection does; every accepted frame must re-encode to the same bytes,
 * and a frame of another version must be refused as such (and answerable
 * in its version).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../linkd/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proto_msg m;
	static uint8_t out[PROTO_MAX_FRAME];
	uint8_t *buf = malloc(size ? size : 1);
	size_t off = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	while (off < size) {
		int n = proto_decode(buf + off, size - off, &m);
		int e;

		if (n == PROTO_OTHER_VERSION) {
			/* Told apart by the version byte alone. */
			if (size - off < PROTO_HDR_LEN || !buf[off + 4] ||
			    buf[off + 4] == PROTO_VERSION)
				abort();
			/* The answer it gets decodes in its version. */
			e = proto_encode_error(buf[off + 4], PROTO_E_VERSION,
					       "version", out, sizeof(out));
			if (e <= 0 || proto_decode(out, e, &m) !=
			    PROTO_OTHER_VERSION)
				abort();
			break;
		}
		if (n <= 0)
			break;
		e = proto_encode(&m, out, sizeof(out));
		if (e != n || memcmp(out, buf + off, n))
			abort();
		off += n;
	}
	free(buf);
	return 0;
}
