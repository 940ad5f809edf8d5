// SPDX-License-Identifier: GPL-2.0
/*
 * One-time pad and one-time Poly1305 MAC for relay hops (relay_crypto.h),
 * on OpenSSL 3's EVP_MAC "POLY1305".  OpenSSL copies the key into its
 * context and clears it when the context is freed (OPENSSL_clear_free);
 * the tags computed here are wiped by us.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "relay_crypto.h"

void relay_xor(uint8_t *dst, const uint8_t *src, const uint8_t *pad, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] ^ pad[i];
}

int relay_mac(const uint8_t key[RELAY_MAC_KEY_LEN], const uint8_t *msg,
	      size_t len, uint8_t tag[RELAY_TAG_LEN])
{
	/*
	 * Fetched per call: a relay frame is a few kilobytes every few
	 * milliseconds at most, and no global state means no locking.
	 */
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "POLY1305", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	size_t out = 0;
	int ok;

	ok = ctx && EVP_MAC_init(ctx, key, RELAY_MAC_KEY_LEN, NULL) &&
	     (!len || EVP_MAC_update(ctx, msg, len)) &&
	     EVP_MAC_final(ctx, tag, &out, RELAY_TAG_LEN) &&
	     out == RELAY_TAG_LEN;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	if (!ok) {
		OPENSSL_cleanse(tag, RELAY_TAG_LEN);
		return -1;
	}
	return 0;
}

int relay_mac_verify(const uint8_t key[RELAY_MAC_KEY_LEN], const uint8_t *msg,
		     size_t len, const uint8_t tag[RELAY_TAG_LEN])
{
	uint8_t want[RELAY_TAG_LEN];
	int ret = -1;

	if (!relay_mac(key, msg, len, want) &&
	    !CRYPTO_memcmp(want, tag, RELAY_TAG_LEN))
		ret = 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ret;
}
