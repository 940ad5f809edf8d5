/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_mlkem qkd_mlkem
 * @{ @ingroup qkd
 */
#ifndef QKD_MLKEM_H_
#define QKD_MLKEM_H_

#include <crypto/key_exchange.h>

/**
 * Create an ML-KEM key exchange (ML_KEM_512, ML_KEM_768, ML_KEM_1024) on
 * OpenSSL 3.5's KEM API.
 *
 * @param method	key exchange method
 * @return			key_exchange_t object, NULL if not supported
 */
key_exchange_t *qkd_mlkem_create(key_exchange_method_t method);

#endif /** QKD_MLKEM_H_ @}*/
