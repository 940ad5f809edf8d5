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
#include "qkd.h"

#define KME_ERR_LEN		256
#define KME_UUID_LEN		36	/* 8-4-4-4-12 hex digits */
#define KME_MAX_BODY		(4u << 20)

/* The fields of a Status answer that qkd-linkd uses. */
struct kme_status {
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

int kme_parse_status(const char *body, size_t len, struct kme_status *st,
		     char *err, size_t errlen);

/*
 * A Key container answer: exactly @n keys of exactly @key_bytes bytes,
 * distinct key IDs.  With @ids (dec_keys), the answer's IDs must be exactly
 * those @n IDs, in any order; keys are stored in the order of @ids.
 * Returns 0 or -1.
 */
int kme_parse_keys(const char *body, size_t len, size_t n, size_t key_bytes,
		   const uint8_t (*ids)[QKD_KEY_ID_LEN], struct qkd_key *keys,
		   char *err, size_t errlen);

/* The "message" of an ETSI error answer, sanitized for a log line. */
void kme_parse_error(const char *body, size_t len, char *msg, size_t msglen);

/* Request bodies.  Return the length written, or -1 if @cap is too small. */
int kme_enc_request(char *buf, size_t cap, unsigned int number,
		    unsigned int size_bits);
int kme_dec_request(char *buf, size_t cap,
		    const uint8_t (*ids)[QKD_KEY_ID_LEN], size_t n);

#endif
