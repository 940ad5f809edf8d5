/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_pools qkd_pools
 * @{ @ingroup qkd
 */
#ifndef QKD_POOLS_H_
#define QKD_POOLS_H_

#include "qkd_proto.h"

typedef struct qkd_pools_t qkd_pools_t;

/**
 * The qkdpool module's pools, through libqkd: the kernel backend of
 * struct qke_pool_ops.  One netlink handle, serialized by a mutex (libqkd
 * handles are not thread-safe, charon's workers are many), opened on first
 * use and reopened after an error, so charon starts even before the
 * module is loaded.
 */
struct qkd_pools_t {

	/**
	 * The operations for qke_exchange_init(), with this object as ctx.
	 */
	const struct qke_pool_ops *ops;

	/**
	 * Destroy, closing the handle.
	 */
	void (*destroy)(qkd_pools_t *this);
};

/**
 * Create the kernel pool backend.
 */
qkd_pools_t *qkd_pools_create(void);

#endif /** QKD_POOLS_H_ @}*/
