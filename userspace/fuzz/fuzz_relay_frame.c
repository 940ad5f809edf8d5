// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: one relay frame (relay_frame.h).  An accepted frame must
 * encode again to the same bytes; an accepted KEYS frame, sealed again
 * with a pad of its hop, must decode and open to the keys sealed (the
 * pad's own bytes on the first hop), and opening the fuzzed frame itself
 * must refuse or succeed without touching memory it does not own.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../linkd/relay_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct relay_frame f, g;
	static uint8_t out[RELAY_FRAME_MAX], pad[RELAY_MAX_PAD];
	static uint8_t keys[RELAY_MAX_PAYLOAD];
	static uint8_t got[RELAY_MAX_PAYLOAD];
	char err[RELAY_ERR_LEN] = "";
	/* An exact-size copy, so that ASan sees any read past the end. */
	uint8_t *buf = malloc(size ? size : 1);
	size_t klen;
	int n;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (relay_frame_decode(buf, size, &f, err, sizeof(err))) {
		if (!err[0])
			abort();	/* every refusal says why */
		goto out;
	}
	n = relay_frame_encode(&f, out, sizeof(out), err, sizeof(err));
	if (n < 0 || (size_t)n != size || memcmp(out, buf, size))
		abort();
	if (f.type != RELAY_KEYS)
		goto out;
	klen = relay_payload_len(&f);
	for (size_t i = 0; i < relay_pad_len(&f); i++)
		pad[i] = (uint8_t)(i * 31 + 7);
	for (size_t i = 0; i < klen; i++)
		keys[i] = (uint8_t)(i * 17 + 3);
	(void)relay_frame_open(&f, pad, relay_pad_len(&f), got, err,
			       sizeof(err));
	n = relay_frame_seal(&f, keys, pad, relay_pad_len(&f), out, sizeof(out),
			     err, sizeof(err));
	if (n < 0 || relay_frame_decode(out, n, &g, err, sizeof(err)) ||
	    relay_frame_open(&g, pad, relay_pad_len(&g), got, err, sizeof(err)))
		abort();
	if (memcmp(got, f.hop > 1 ? keys : pad + RELAY_MAC_KEY_LEN, klen))
		abort();
out:
	free(buf);
	return 0;
}
