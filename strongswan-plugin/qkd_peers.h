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
 * Find the pool that belongs to the peer of @ike_sa, and the policy, from
 * charon.plugins.qkd.* (see qkd.opt).
 *
 * Before the peer is authenticated, a peers section matches by its addrs
 * (the peer's address); after, by its id (the authenticated identity).
 * Without a matching section, and once authenticated, the pool named like
 * the peer's identity is used (pool_by_identity = yes).
 *
 * @param ike_sa	the IKE_SA being worked on (may be NULL)
 * @param pool		the pool's name, "" when none belongs to the peer
 * @param len		size of pool (QKD_POOL_NAME_MAX_LEN + 1)
 * @return			the policy for this peer
 */
enum qke_policy qkd_peers_resolve(ike_sa_t *ike_sa, char *pool, size_t len);

/**
 * Whether the peer of @ike_sa is authenticated.
 */
bool qkd_peers_authenticated(ike_sa_t *ike_sa);

/**
 * Parse a policy name ("prefer", "require").
 *
 * @return			TRUE if known
 */
bool qke_policy_from_string(const char *str, enum qke_policy *policy);

#endif /** QKD_PEERS_H_ @}*/
