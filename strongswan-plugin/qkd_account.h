/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_account qkd_account
 * @{ @ingroup qkd
 */
#ifndef QKD_ACCOUNT_H_
#define QKD_ACCOUNT_H_

#include <bus/listeners/listener.h>

#include "qkd_restore.h"
#include "qkd_kernel.h"

typedef struct qkd_account_t qkd_account_t;

/**
 * Accounting: a bus listener that logs, for each IKE_SA and CHILD_SA keyed
 * with the `qkd` method, which key ID protected it (or why none did),
 * never key material; and tells the restore service which SAs were keyed
 * without a QKD key and when they go.
 *
 *   qkd: IKE_SA lab[3] SPIs 1a2b..._i 3c4d..._r: key 0a:...:ff of pool 'osaka'
 *   qkd: CHILD_SA net{5} SPIs c0ffee01_i c0ffee02_o (ESP) of lab[3]:
 *        no QKD key (pool empty), pool 'osaka'
 */
struct qkd_account_t {

	/**
	 * Implements listener_t.
	 */
	listener_t listener;

	/**
	 * Destroy.
	 */
	void (*destroy)(qkd_account_t *this);
};

/**
 * Create the listener.
 *
 * @param restore	where to record the SAs keyed without QKD (not owned)
 * @param kernel	where pre-auth mismatches are counted (not owned)
 */
qkd_account_t *qkd_account_create(qkd_restore_t *restore,
								  qkd_kernel_t *kernel);

#endif /** QKD_ACCOUNT_H_ @}*/
