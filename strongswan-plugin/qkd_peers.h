/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_peers qkd_peers
 * @{ @ingroup qkd
 */
#ifndef QKD_PEERS_H_
#define QKD_PEERS_H_

#include <sa/ike_sa.h>

#include "qkd_proto.h"

/**
 * How sure the pool choice is.
 */
typedef enum {
	/** no pool: none is mapped, or the peer cannot be known yet */
	QKD_PEERS_NONE,
	/** by the authenticated identity, or by the identity our config
	 *  demands of the peer: final */
	QKD_PEERS_IDENTITY,
	/** before authentication, by the identity the peer claims in its offer
	 *  or by its address: checked again after IKE_AUTH */
	QKD_PEERS_PROVISIONAL,
} qkd_peers_basis_t;

/**
 * The result of qkd_peers_resolve().
 */
typedef struct {
	/** the peer's pool, "" when none */
	char pool[QKD_POOL_NAME_MAX_LEN + 1];
	/** the policy for this peer */
	enum qkd_proto_policy policy;
	/** how the pool was chosen */
	qkd_peers_basis_t basis;
	/** QKD_PEERS_NONE: the reason (no pool, or peer not known yet) */
	uint8_t reason;
} qkd_peers_choice_t;

/**
 * What the pool choice goes by.
 */
typedef struct {
	/** the SA's peer is authenticated (an IKE re-key's new IKE_SA too) */
	bool authenticated_sa;
	/** the authenticated peer's identity, NULL if unknown */
	identification_t *authenticated;
	/** the identity our config demands of the peer (remote.id), or NULL */
	identification_t *demanded;
	/** before IKE_AUTH: the identity the offer's selector claims, or NULL */
	identification_t *claimed;
	/** the peer's address, or NULL */
	host_t *address;
} qkd_peers_input_t;

/**
 * Choose the pool and the policy from charon.plugins.qkd.* (qkd.opt).
 *
 * The identity: the authenticated one, else the one our config demands
 * (both final), else, before authentication, the claimed one
 * (provisional).  Then, in this order: the first peers section whose id
 * matches it; the first section WITHOUT id whose addrs list the address (a
 * section with an id never serves a peer by address); with
 * pool_by_identity, the pool named like the identity unless a section
 * binds that name to another identity.  Without identity, address or
 * match before authentication: no pool, reason "peer unknown".
 *
 * @param in		the inputs
 * @param choice	the result
 */
void qkd_peers_choose(const qkd_peers_input_t *in, qkd_peers_choice_t *choice);

/**
 * Find the pool that belongs to the peer of @ike_sa, and the policy:
 * qkd_peers_choose() with the IKE_SA's inputs.  For the new IKE_SA of an
 * IKE re-key the authenticated identity is the old IKE_SA's (see
 * qkd_peers_note_message()).
 *
 * @param ike_sa	the IKE_SA being worked on (may be NULL)
 * @param claimed	responder: the identity the offer claims, or NULL
 * @param choice	the result
 */
void qkd_peers_resolve(ike_sa_t *ike_sa, identification_t *claimed,
					   qkd_peers_choice_t *choice);

/**
 * Whether the peer of @ike_sa is authenticated.
 */
bool qkd_peers_authenticated(ike_sa_t *ike_sa);

/**
 * The identity this side will authenticate with, for the offer's selector:
 * the local identity of the IKE_SA's config (or its certificate's
 * subject), NULL if unknown.  Not owned.
 */
identification_t *qkd_peers_own_id(ike_sa_t *ike_sa);

/**
 * Note the IKE_SA whose message this thread processes (the listener's
 * message hook).  During an IKE re-key, the new IKE_SA on the bus has no
 * peer identity until the re-key completes; its key exchanges run in the
 * thread handling the old IKE_SA's messages, whose identity stands in.
 */
void qkd_peers_note_message(ike_sa_t *ike_sa);

/**
 * Set up and tear down the per-thread note.
 */
void qkd_peers_init(void);
void qkd_peers_deinit(void);

/**
 * Parse a policy name ("prefer", "require").
 *
 * @return			TRUE if known
 */
bool qkd_peers_policy_from_string(const char *str, enum qkd_proto_policy *policy);

#endif /** QKD_PEERS_H_ @}*/
