/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_config_check qkd_config_check
 * @{ @ingroup qkd
 */
#ifndef QKD_CONFIG_CHECK_H_
#define QKD_CONFIG_CHECK_H_

#include <library.h>

typedef struct qkd_config_check_t qkd_config_check_t;

/**
 * Warnings about connection configs that mix the qkd method (or a combined
 * one) unsafely, logged once per config when it is loaded (charon has no hook for that:
 * the loaded configs are scanned every QKD_CONFIG_CHECK_MS on
 * lib->watcher).
 *
 * The unsafe pair: every ESP proposal of a CHILD_SA demands `qkd` (no
 * `ke<n>_none` alternative) while the IKE proposals do not.  A peer
 * without the method then gets its IKE_SA and first CHILD_SA (IKE_AUTH has
 * no key exchange of its own) and fails at the first CHILD_SA re-key with
 * NO_PROPOSAL_CHOSEN, minutes later.  Safe pairs: qkd demanded by both, or
 * optional (`ke2_qkd-ke2_none`) in the ESP proposals.
 */
struct qkd_config_check_t {

	/**
	 * Scan the loaded configs now; warn about each new unsafe one.
	 *
	 * @return			number of unsafe configs found
	 */
	int (*run)(qkd_config_check_t *this);

	/**
	 * Destroy: leave the watcher.
	 */
	void (*destroy)(qkd_config_check_t *this);
};

/**
 * Create the check, scanning periodically; the methods are qkd_ke.h's.
 */
qkd_config_check_t *qkd_config_check_create(void);

#endif /** QKD_CONFIG_CHECK_H_ @}*/
