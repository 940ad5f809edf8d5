/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ETSI GS QKD 014 messages: strict parsing of the KME's JSON answers
 * (json-c) and building of the requests.  No I/O: kme.c does the HTTPS.
 *
 * Every parser either fills all of its output or none of it: on any
 * error the output keys are wiped and a reason is written to @err (the
 * reason never quotes key material).
 */
#ifndef LINKD_KME_JSON_H
#define LINKD_KME_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "keyid.h"
#include "qkd.h"

#define KME_ERR_LEN		256
#define KME_UUID_LEN		36	/* 8-4-4-4-12 hex digits */
#define KME_MAX_BODY		(4u << 20)

/* Bits of kme_status.have: the fields the answer gave, usable. */
enum {
	KME_ST_KEY_SIZE = 1 << 0,
	KME_ST_STORED = 1 << 1,
	KME_ST_MAX_COUNT = 1 << 2,
	KME_ST_MAX_PER_REQUEST = 1 << 3,
	KME_ST_MAX_SIZE = 1 << 4,
	KME_ST_MIN_SIZE = 1 << 5,
	KME_ST_ALL = (1 << 6) - 1,
};

/*
 * The fields of a Status answer that qkd-linkd uses.  A field the KME
 * omitted, or gave as something else than a non-negative integer (a
 * decimal string is read as the number), or that contradicts another
 * (min_key_size above max_key_size, a zero key_size or
 * max_key_per_request) has its bit clear in @have and reads 0: the caller
 * falls back to its configuration for it.
 */
struct kme_status {
	unsigned int have;
	unsigned int key_size;			/* bits */
	unsigned int stored_key_count;
	unsigned int max_key_count;
	unsigned int max_key_per_request;
	unsigned int max_key_size;		/* bits */
	unsigned int min_key_size;		/* bits */
};

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" <-> 16 bytes.  Returns 0 or -1. */
int kme_uuid_parse(const char *s, size_t len, uint8_t id[QKD_KEY_ID_LEN]);
void kme_uuid_format(const uint8_t id[QKD_KEY_ID_LEN],
		     char out[KME_UUID_LEN + 1]);

/*
 * Strict base64 (RFC 4648, with padding, no whitespace) of @len chars into
 * at most @max bytes.  Returns the decoded length or -1.
 */
int kme_base64_decode(const char *s, size_t len, uint8_t *out, size_t max);

/*
 * 0 when @body is a JSON object (whatever fields it has; @note then says
 * which were unusable, or is empty), -1 with the reason in @note if not.
 */
int kme_parse_status(const char *body, size_t len, struct kme_status *st,
		     char *note, size_t notelen);

/*
 * A Key container answer: exactly @n keys of exactly @key_bytes bytes,
 * with acceptable key IDs (keyid.h) whose kernel IDs are distinct.
 * enc_keys: @want is NULL, the IDs as issued go to @names[n].
 * dec_keys: the answer's IDs must be exactly the @n IDs of @want, in any
 * order, compared by kernel ID (so a UUID may come back in another case);
 * keys are stored in the order of @want; @names may be NULL.
 * keys[i].id is the kernel ID.  Returns 0 or -1.
 */
int kme_parse_keys(const char *body, size_t len, size_t n, size_t key_bytes,
		   const struct keyid *want, struct keyid *names,
		   struct qkd_key *keys, char *err, size_t errlen);

/*
 * The "message" of an ETSI error answer, sanitized for a log line; for a
 * body that is not one, "(empty body)" or "(no ETSI error message)".
 */
void kme_parse_error(const char *body, size_t len, char *msg, size_t msglen);

/* Request bodies.  Return the length written, or -1 if @cap is too small. */
int kme_enc_request(char *buf, size_t cap, unsigned int number,
		    unsigned int size_bits);
/* {"key_IDs":[{"key_ID":ID},...]}, each ID JSON-escaped. */
int kme_dec_request(char *buf, size_t cap, const struct keyid *ids, size_t n);
/* An upper bound of kme_dec_request()'s length for @n IDs. */
#define KME_DEC_REQUEST_MAX(n)	(32 + (n) * (2 * KEYID_MAX + 16))

#endif
