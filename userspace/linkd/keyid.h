/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A key ID as the KME issued it, and the 16-byte ID the kernel pool keys
 * it by.
 *
 * ETSI GS QKD 014 says key_ID is a UUID, but KMEs in the field issue
 * upper-case UUIDs, and some IDs that are not UUIDs at all, and match them
 * exactly in dec_keys.  So the string crosses the peer channel and goes
 * back to dec_keys exactly as issued; only the kernel sees 16 bytes:
 *
 *   - a UUID (8-4-4-4-12 hex digits, any case) maps to its 16 bytes, so
 *     "ABCD...", "abcd..." and a key ID formatted by qkd-linkd before
 *     version 2 of the peer protocol all name the same kernel key;
 *   - any other string maps to the first 16 bytes of
 *     SHA-256("qkd-linkd key_ID v2" || 0x00 || string), the same on both
 *     routers.  Two distinct strings of one batch that map to one ID (a
 *     2^-64 chance for a pair, or a KME issuing "ab..." and "AB..." as two
 *     keys) are refused as duplicates: the batch is discarded, nothing is
 *     added to a pool.
 *
 * Accepted strings: 1 to KEYID_MAX characters, printable ASCII without
 * space (0x21 to 0x7e).  Anything else is refused where it enters (a KME
 * answer, a peer frame, the journal).
 */
#ifndef LINKD_KEYID_H
#define LINKD_KEYID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qkd.h"

#define KEYID_MAX	64	/* a UUID is 36; hex SHA-256 IDs are 64 */

struct keyid {
	uint8_t len;
	char s[KEYID_MAX + 1];	/* NUL-terminated */
};

/* Copy @len bytes of @s into @k if they are an acceptable key ID: 0 or -1. */
int keyid_set(struct keyid *k, const char *s, size_t len);
/* The kernel's 16-byte ID of @k (see above). */
void keyid_to_bytes(const struct keyid *k, uint8_t id[QKD_KEY_ID_LEN]);
/* The lower-case UUID of @id: a key ID of a source that has only bytes. */
void keyid_from_bytes(struct keyid *k, const uint8_t id[QKD_KEY_ID_LEN]);
bool keyid_eq(const struct keyid *a, const struct keyid *b);

#endif
