/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_restore qkd_restore
 * @{ @ingroup qkd
 */
#ifndef QKD_RESTORE_H_
#define QKD_RESTORE_H_

#include <sa/ike_sa.h>
#include <sa/child_sa.h>

typedef struct qkd_restore_t qkd_restore_t;

/**
 * Early re-keys of the SAs keyed without a QKD key, once their pool refills.
 *
 * The accounting listener records each IKE_SA and CHILD_SA that fell back,
 * with its pool, and forgets it when it is re-keyed, deleted or destroyed.
 * When the OUTBOUND side of a pool refills (the keys this node initiates
 * with; qkd-linkd fills the peer's inbound side first; qkd_kernel.c hears
 * it), re-key jobs are queued for that pool's SAs, at most
 * charon.plugins.qkd.restore_rate per second (qkd_fallbacks.c).  This
 * object keeps only the book and the jobs: it knows no netlink.
 */
struct qkd_restore_t {

	/**
	 * Record an IKE_SA keyed without a QKD key.
	 *
	 * @param ike_sa	the IKE_SA (its ID and unique ID are kept)
	 * @param pool		the peer's pool
	 */
	void (*add_ike)(qkd_restore_t *this, ike_sa_t *ike_sa, const char *pool);

	/**
	 * Record a CHILD_SA keyed without a QKD key.
	 *
	 * @param ike_sa	its IKE_SA (our address: the SA's inbound destination)
	 * @param child_sa	the CHILD_SA (protocol, inbound SPI, unique ID kept)
	 * @param pool		the peer's pool
	 */
	void (*add_child)(qkd_restore_t *this, ike_sa_t *ike_sa,
					  child_sa_t *child_sa, const char *pool);

	/**
	 * Forget an SA (re-keyed, deleted, destroyed); nothing if unknown.
	 *
	 * @param ike		TRUE for an IKE_SA, FALSE for a CHILD_SA
	 * @param uid		its unique ID
	 */
	void (*remove)(qkd_restore_t *this, bool ike, uint32_t uid);

	/**
	 * The pool of an IKE_SA recorded as keyed without QKD.
	 *
	 * @param uid		the IKE_SA's unique ID
	 * @param pool		the pool's name, if recorded
	 * @param len		size of pool
	 * @return			TRUE if recorded
	 */
	bool (*get_ike_pool)(qkd_restore_t *this, uint32_t uid, char *pool,
						 size_t len);

	/**
	 * The outbound side of @pool has keys again: re-key its SAs keyed
	 * without QKD.  Never from a bus hook that holds an IKE_SA checked out
	 * and waits: the jobs only queue.
	 *
	 * @param pool		the pool's name
	 */
	void (*refilled)(qkd_restore_t *this, const char *pool);

	/**
	 * An IKE_SA keyed before IKE_AUTH without a QKD key of @pool now has
	 * its first CHILD_SA up: re-key the pool's SAs keyed without QKD (as
	 * after a refill; the peer's pool was merely unknown or mismatched).
	 *
	 * @param pool		the authenticated peer's pool
	 */
	void (*authenticated)(qkd_restore_t *this, const char *pool);

	/**
	 * Destroy: free the records.
	 */
	void (*destroy)(qkd_restore_t *this);
};

/**
 * Create the restore service.
 */
qkd_restore_t *qkd_restore_create(void);

#endif /** QKD_RESTORE_H_ @}*/
