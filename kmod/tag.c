// SPDX-License-Identifier: GPL-2.0
/*
 * Key confirmation tags, HMAC-SHA256 (RFC 2104) on the kernel's SHA-256
 * library.  The keys are pool keys of 16..64 bytes, so a key always fits
 * one SHA-256 block and never needs hashing first.
 */

#include <linux/bug.h>
#include <linux/string.h>
#include <crypto/algapi.h>

#include "tag.h"

static_assert(sizeof(QKD_TAG_LABEL) - 1 == QKD_TAG_LABEL_LEN);
static_assert(QKD_TAG_LEN == SHA256_DIGEST_SIZE);
static_assert(QKD_KEY_SIZE_MAX <= SHA256_BLOCK_SIZE);

void qkd_hmac_sha256(u8 out[SHA256_DIGEST_SIZE], const u8 *key,
		     unsigned int key_len, const u8 *msg, unsigned int msg_len)
{
	u8 pad[SHA256_BLOCK_SIZE];
	u8 inner[SHA256_DIGEST_SIZE];
	struct sha256_state ctx;
	int i;

	if (WARN_ON_ONCE(key_len > SHA256_BLOCK_SIZE))
		key_len = SHA256_BLOCK_SIZE;

	memset(pad, 0, sizeof(pad));
	memcpy(pad, key, key_len);
	for (i = 0; i < SHA256_BLOCK_SIZE; i++)
		pad[i] ^= 0x36;
	sha256_init(&ctx);
	sha256_update(&ctx, pad, sizeof(pad));
	sha256_update(&ctx, msg, msg_len);
	sha256_final(&ctx, inner);

	/* Turn the inner pad into the outer one: 0x36 ^ 0x5c. */
	for (i = 0; i < SHA256_BLOCK_SIZE; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	sha256_init(&ctx);
	sha256_update(&ctx, pad, sizeof(pad));
	sha256_update(&ctx, inner, sizeof(inner));
	sha256_final(&ctx, out);

	/* The pads are the key; the state and inner hash derive from it. */
	memzero_explicit(pad, sizeof(pad));
	memzero_explicit(inner, sizeof(inner));
	memzero_explicit(&ctx, sizeof(ctx));
}

void qkd_tag_compute(u8 tag[QKD_TAG_LEN], const u8 *material,
		     unsigned int key_len, const u8 id[QKD_KEY_ID_LEN])
{
	u8 msg[QKD_TAG_LABEL_LEN + QKD_KEY_ID_LEN];

	memcpy(msg, QKD_TAG_LABEL, QKD_TAG_LABEL_LEN);
	memcpy(msg + QKD_TAG_LABEL_LEN, id, QKD_KEY_ID_LEN);
	qkd_hmac_sha256(tag, material, key_len, msg, sizeof(msg));
}

bool qkd_tag_verify(const u8 tag[QKD_TAG_LEN], const u8 *material,
		    unsigned int key_len, const u8 id[QKD_KEY_ID_LEN])
{
	u8 want[QKD_TAG_LEN];
	bool ok;

	qkd_tag_compute(want, material, key_len, id);
	ok = !crypto_memneq(want, tag, QKD_TAG_LEN);
	/* The right tag for a key is a secret too until the key is used. */
	memzero_explicit(want, sizeof(want));
	return ok;
}

#if IS_ENABLED(CONFIG_QKDPOOL_KUNIT_TEST)
#include "tag_test.c"
#endif
