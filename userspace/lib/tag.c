// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The key confirmation tag: HMAC-SHA256(material, "qkd-ipsec tag v1" || id).
 * It proves that both ends hold the same material for a key ID without
 * revealing it.
 */
#include <errno.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "internal.h"

#define QKD_TAG_LABEL		"qkd-ipsec tag v1"
#define QKD_TAG_LABEL_LEN	16

QKD_EXPORT int qkd_tag_compute(const uint8_t id[QKD_KEY_ID_LEN],
			       const uint8_t *material, size_t len,
			       uint8_t tag[QKD_TAG_LEN])
{
	uint8_t msg[QKD_TAG_LABEL_LEN + QKD_KEY_ID_LEN];
	unsigned int out_len = 0;

	_Static_assert(sizeof(QKD_TAG_LABEL) - 1 == QKD_TAG_LABEL_LEN,
		       "tag label length");
	if (!id || !material || !tag || len < QKD_KEY_SIZE_MIN ||
	    len > QKD_KEY_SIZE_MAX)
		return -EINVAL;
	memcpy(msg, QKD_TAG_LABEL, QKD_TAG_LABEL_LEN);
	memcpy(msg + QKD_TAG_LABEL_LEN, id, QKD_KEY_ID_LEN);
	if (!HMAC(EVP_sha256(), material, (int)len, msg, sizeof(msg), tag,
		  &out_len) || out_len != QKD_TAG_LEN) {
		explicit_bzero(tag, QKD_TAG_LEN);
		return -EIO;
	}
	return 0;
}
