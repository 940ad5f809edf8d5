/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_ke qkd_ke
 * @{ @ingroup qkd
 */
#ifndef QKD_KE_H_
#define QKD_KE_H_

#include <crypto/key_exchange.h>

#include "qkd_pools.h"

/**
 * The private-use transform ID of the `qkd` key exchange method (RFC 7296
 * private use: 1024-65535; strongSwan uses 1024 for MODP_NULL).
 */
#define QKD_KE_METHOD		((key_exchange_method_t)1025)

/**
 * The proposal keyword: ke1_qkd ... ke7_qkd.
 */
#define QKD_KE_TOKEN		"qkd"

/**
 * Set the pool backend the key exchanges use; NULL to unset.
 */
void qkd_ke_set_pools(qkd_pools_t *pools);

/**
 * Create a `qkd` key exchange.
 *
 * @param method	QKD_KE_METHOD
 * @return			key_exchange_t object, NULL if not supported
 */
key_exchange_t *qkd_ke_create(key_exchange_method_t method);

#endif /** QKD_KE_H_ @}*/
