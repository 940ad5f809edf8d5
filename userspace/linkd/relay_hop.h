/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What one node does with a relayed transfer (Documentation/relay.rst,
 * "Commit order"), apart from the I/O: the origin takes the first hop's
 * link keys (the relayed keys are their material after the MAC key) and
 * seals the first frame; a relay takes the link keys a frame names from
 * its inbound side, verifies and decrypts, takes the next hop's from its
 * outbound side, encrypts and seals; the far end verifies and decrypts.
 *
 * Link keys come through struct relay_links, the two take operations of
 * the link pools (libqkd's qkd_key_take_next and qkd_key_take_id in the
 * daemon, fakes in the unit tests), which also apply the relay share.
 * Keys and pads live in locked memory of the struct relay_hop (secmem.h)
 * and are wiped before every return.
 */
#ifndef LINKD_RELAY_HOP_H
#define LINKD_RELAY_HOP_H

#include <stddef.h>
#include <stdint.h>
#include "relay_frame.h"

struct relay_links {
	/*
	 * Bytes per key of the link to neighbour @node; 0 when this node
	 * has no such link or it is down.
	 */
	unsigned int (*key_len)(void *ctx, const char *node);
	/*
	 * Take the @n oldest keys of this node's outbound side of the link
	 * to @node, for relaying: IDs and material (n * key_len bytes), all
	 * or none.  0; -EAGAIN when the link's relay share or reserve does
	 * not allow it; another -errno when the link cannot give them.
	 */
	int (*take_out)(void *ctx, const char *node, unsigned int n,
			uint8_t (*ids)[RELAY_ID_LEN], uint8_t *material);
	/*
	 * Take the keys @ids from this node's inbound side of the link to
	 * @node, their material in order.  Every key found is taken (and
	 * wiped) even when another is missing, so that none stays on one
	 * side only: 0, or -ENOENT when any was missing.
	 */
	int (*take_in)(void *ctx, const char *node,
		       const uint8_t (*ids)[RELAY_ID_LEN], unsigned int n,
		       uint8_t *material);
	void *ctx;
};

struct relay_hop;

/* Scratch memory for one transfer at a time, locked.  NULL: no memory. */
struct relay_hop *relay_hop_new(void);
void relay_hop_free(struct relay_hop *h);

/*
 * The origin.  @f has type KEYS, transfer, npath, path, n, ids and
 * key_len set; hop and the link fields are filled in here.  Writes the
 * first hop's frame to @buf and the relay_payload_len(f) bytes relayed to
 * @keys (the origin's copy, secret: the n keys, then the end-to-end MAC
 * key).  Returns the frame's length, or -RELAY_E_* with the reason in
 * @err.  Every check (the frame fits @cap, Poly1305 works) comes before
 * the link keys are taken, so an error means nothing was taken, but for
 * an allocation failure inside OpenSSL between the take and the tag
 * (then the link keys are gone here, their twins orphans at path[1]).
 */
int relay_hop_originate(struct relay_hop *h, const struct relay_links *l,
			struct relay_frame *f, uint8_t *keys, uint8_t *buf,
			size_t cap, char *err, size_t errlen);

enum relay_verdict {
	RELAY_FORWARD = 1,	/* @out holds the frame for path[hop + 1] */
	RELAY_DELIVER,		/* @keys holds the keys: this is the far end */
};

/*
 * A KEYS frame of @inlen bytes from neighbour @from arrived at node
 * @self.  Returns RELAY_FORWARD (the next hop's frame in @out, its length
 * in *@outlen) or RELAY_DELIVER (the relay_payload_len(f) bytes relayed in
 * @keys: the n keys, then the end-to-end MAC key), or -RELAY_E_* with the
 * reason in @err: then the keys are wiped, and @f is the decoded frame to
 * answer (relay_hop_answer()), or has type 0 when there is nobody to
 * answer (it did not decode, is not a KEYS frame, is not for @self or did
 * not come from the neighbour its path names).
 */
int relay_hop_receive(struct relay_hop *h, const struct relay_links *l,
		      const char *self, const char *from, const uint8_t *in,
		      size_t inlen, struct relay_frame *f, uint8_t *keys,
		      uint8_t *out, size_t cap, size_t *outlen, char *err,
		      size_t errlen);

/*
 * The ACK with @status (and @count keys added) answering KEYS frame @f
 * at the node it was for (its "at"), to travel back towards the origin.
 * The far end's ACK 0 is tagged with the transfer's end-to-end MAC key
 * @e2e_key (the last RELAY_E2E_KEY_LEN bytes relay_hop_receive() delivered);
 * other answers are untagged and @e2e_key may be NULL.  0, or -1 when an
 * ACK 0 could not be tagged (no key, OpenSSL failed): then do not send it.
 */
int relay_hop_answer(const struct relay_frame *f, uint16_t status,
		     uint16_t count, const uint8_t *e2e_key,
		     struct relay_frame *ack);

/*
 * An ACK, ABORT or ABORTED frame of @inlen bytes from neighbour @from
 * arrived at node @self: checked against the path (for @self, from the
 * path's neighbour on the side it travels from).  RELAY_FORWARD: pass on
 * the frame in @out (*@outlen bytes) to the next node of the path;
 * RELAY_DELIVER: it is for this node, the origin (ACK, ABORTED) or the far
 * end (ABORT), decoded in @f.  -RELAY_E_PROTO with the reason in @err:
 * drop it (nobody is answered).  Relays keep nothing of a transfer, so
 * this is all they do with answers and ABORTs.
 */
int relay_hop_pass(const char *self, const char *from, const uint8_t *in,
		   size_t inlen, struct relay_frame *f, uint8_t *out,
		   size_t cap, size_t *outlen, char *err, size_t errlen);

#endif
