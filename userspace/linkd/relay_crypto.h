/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cryptography of one relay hop (Documentation/relay.rst): a one-time
 * pad and a one-time MAC, both keyed with fresh QKD link key material
 * that is used for one frame only.
 *
 * The MAC is Poly1305 (RFC 8439, section 2.5) with a 32-byte one-time key:
 * a Wegman-Carter authenticator, secure against an attacker of unbounded
 * computing power as long as no key is ever used twice.  The pad is XOR.
 * Nothing here keeps a copy of a key: every temporary is wiped before
 * returning, on every path.
 */
#ifndef LINKD_RELAY_CRYPTO_H
#define LINKD_RELAY_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define RELAY_MAC_KEY_LEN	32	/* Poly1305: r (16, clamped) || s (16) */
#define RELAY_TAG_LEN		16

/*
 * dst[i] = src[i] ^ pad[i] for @n bytes: encrypts and decrypts.  @dst may
 * be @src (in place); @pad must not overlap @dst otherwise.
 */
void relay_xor(uint8_t *dst, const uint8_t *src, const uint8_t *pad,
	       size_t n);

/*
 * The Poly1305 tag of @len bytes at @msg (NULL when @len is 0) under the
 * one-time @key.  Returns 0, or -1 when OpenSSL fails (tag zeroed).
 */
int relay_mac(const uint8_t key[RELAY_MAC_KEY_LEN], const uint8_t *msg,
	      size_t len, uint8_t tag[RELAY_TAG_LEN]);

/*
 * 0 when @tag is the tag of @msg under @key, compared in constant time;
 * -1 when it is not or OpenSSL fails.
 */
int relay_mac_verify(const uint8_t key[RELAY_MAC_KEY_LEN], const uint8_t *msg,
		     size_t len, const uint8_t tag[RELAY_TAG_LEN]);

#endif
