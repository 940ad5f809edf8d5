// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: a KME's answer as qkd-linkd parses it.  The first byte
 * picks the request (number of keys 1..4, key size 16 or 32 bytes,
 * enc_keys or dec_keys); the rest is the HTTP body, handed to the Key
 * container, Status and error parsers.  A rejected answer must leave the
 * keys wiped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../linkd/kme_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t ids[4][QKD_KEY_ID_LEN] = {
		{ 0x64, 0x84, 0x87, 0xa0, 0x76, 0x3e, 0x4b, 0xe8,
		  0x93, 0x62, 0x34, 0xb5, 0x26, 0xb3, 0x3c, 0x85 },
		{ 1 }, { 2 }, { 3 },
	};
	struct qkd_key keys[4];
	struct kme_status st;
	char err[KME_ERR_LEN], msg[128];
	size_t n, bytes;
	char *body;
	int dec;

	if (size < 1)
		return 0;
	n = (data[0] & 3) + 1;
	bytes = data[0] & 4 ? 32 : 16;
	dec = data[0] & 8;
	data++;
	size--;
	body = malloc(size ? size : 1);
	if (!body)
		return 0;
	memcpy(body, data, size);
	memset(keys, 0x5a, sizeof(keys));
	if (kme_parse_keys(body, size, n, bytes, dec ? ids : NULL, keys, err,
			   sizeof(err))) {
		for (size_t i = 0; i < sizeof(keys); i++)
			if (((uint8_t *)keys)[i] && i < n * sizeof(keys[0]))
				abort();	/* not wiped */
	} else {
		for (size_t i = 0; i < n; i++)
			if (keys[i].len != bytes)
				abort();
	}
	kme_parse_status(body, size, &st, err, sizeof(err));
	kme_parse_error(body, size, msg, sizeof(msg));
	free(body);
	return 0;
}
