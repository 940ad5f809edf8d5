// SPDX-License-Identifier: GPL-2.0
/*
 * Key ID strings and their kernel IDs: see keyid.h.
 */
#include <string.h>
#include <stdlib.h>
#include <openssl/sha.h>
#include "keyid.h"
#include "kme_json.h"

/* Part of the mapping: changing it changes every non-UUID key's ID. */
static const char label[] = "qkd-linkd key_ID v2";

int keyid_set(struct keyid *k, const char *s, size_t len)
{
	if (!len || len > KEYID_MAX)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return -1;
	memcpy(k->s, s, len);
	k->s[len] = '\0';
	k->len = len;
	return 0;
}

void keyid_to_bytes(const struct keyid *k, uint8_t id[QKD_KEY_ID_LEN])
{
	uint8_t buf[sizeof(label) + KEYID_MAX], md[32];

	if (!kme_uuid_parse(k->s, k->len, id))
		return;
	/* sizeof(label) includes the NUL: the separator. */
	memcpy(buf, label, sizeof(label));
	memcpy(buf + sizeof(label), k->s, k->len);
	/* Fails only when libcrypto cannot run SHA-256 at all. */
	if (!SHA256(buf, sizeof(label) + k->len, md))
		abort();
	memcpy(id, md, QKD_KEY_ID_LEN);
}

void keyid_from_bytes(struct keyid *k, const uint8_t id[QKD_KEY_ID_LEN])
{
	kme_uuid_format(id, k->s);
	k->len = KME_UUID_LEN;
}

bool keyid_eq(const struct keyid *a, const struct keyid *b)
{
	return a->len == b->len && !memcmp(a->s, b->s, a->len);
}
