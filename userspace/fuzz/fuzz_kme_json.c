// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: a KME's answer as qkd-linkd parses it.  The first byte
 * picks the request (number of keys 1..4, key size 16 or 32 bytes,
 * enc_keys or dec_keys of IDs as foreign KMEs issue them); the rest is the
 * HTTP body, handed to the Key container, Status and error parsers.  A
 * rejected answer must leave the keys wiped; an accepted one must name
 * each key by an acceptable ID whose kernel ID is the key's.  A Status
 * field marked missing must read 0 where the caller would use it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../linkd/kme_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const want_s[4] = {
		"648487a0-763e-4be8-9362-34b526b33c85",
		"CCA11F8F-63A3-4996-B1D1-6ED4A2EEC093", "kid/0001+x=", "\"q\\",
	};
	struct keyid want[4], names[4];
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
	for (size_t i = 0; i < 4; i++)
		if (keyid_set(&want[i], want_s[i], strlen(want_s[i])))
			abort();
	memset(keys, 0x5a, sizeof(keys));
	memset(names, 0, sizeof(names));
	if (kme_parse_keys(body, size, n, bytes, dec ? want : NULL, names, keys,
			   err, sizeof(err))) {
		for (size_t i = 0; i < sizeof(keys); i++)
			if (((uint8_t *)keys)[i] && i < n * sizeof(keys[0]))
				abort();	/* not wiped */
	} else {
		for (size_t i = 0; i < n; i++) {
			const struct keyid *k = dec ? &want[i] : &names[i];
			uint8_t id[QKD_KEY_ID_LEN];
			struct keyid again;

			if (keys[i].len != bytes ||
			    keyid_set(&again, k->s, k->len))
				abort();
			keyid_to_bytes(k, id);
			if (memcmp(id, keys[i].id, QKD_KEY_ID_LEN))
				abort();
		}
	}
	if (!kme_parse_status(body, size, &st, err, sizeof(err)) &&
	    ((!(st.have & KME_ST_KEY_SIZE) && st.key_size) ||
	     (!(st.have & KME_ST_MAX_PER_REQUEST) && st.max_key_per_request) ||
	     ((st.have & KME_ST_MAX_PER_REQUEST) && !st.max_key_per_request)))
		abort();
	kme_parse_error(body, size, msg, sizeof(msg));
	free(body);
	return 0;
}
