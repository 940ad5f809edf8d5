/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Key confirmation tags: proof that both ends hold the same key under one
 * key ID, without revealing the key.
 *
 *   tag = HMAC-SHA256(key = material, "qkd-ipsec tag v1" || key ID)
 *
 * The label is the 16 ASCII bytes shown, without a NUL; the key ID is its
 * 16 bytes.  Userspace (the strongSwan plugin) computes the same tag.
 */
#ifndef _QKD_TAG_H
#define _QKD_TAG_H

#include <linux/types.h>
#include <crypto/sha2.h>
#include <uapi/linux/qkd.h>

#define QKD_TAG_LABEL		"qkd-ipsec tag v1"
#define QKD_TAG_LABEL_LEN	16

/* HMAC-SHA256 for keys of at most SHA256_BLOCK_SIZE bytes (all key sizes). */
void qkd_hmac_sha256(u8 out[SHA256_DIGEST_SIZE], const u8 *key,
		     unsigned int key_len, const u8 *msg, unsigned int msg_len);

void qkd_tag_compute(u8 tag[QKD_TAG_LEN], const u8 *material,
		     unsigned int key_len, const u8 id[QKD_KEY_ID_LEN]);

/* True when @tag is the tag of @material and @id; constant time. */
bool __must_check qkd_tag_verify(const u8 tag[QKD_TAG_LEN],
				 const u8 *material, unsigned int key_len,
				 const u8 id[QKD_KEY_ID_LEN]);

#endif /* _QKD_TAG_H */
