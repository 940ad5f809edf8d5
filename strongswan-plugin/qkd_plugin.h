/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd qkd
 * @ingroup cplugins
 *
 * @defgroup qkd_plugin qkd_plugin
 * @{ @ingroup qkd
 */
#ifndef QKD_PLUGIN_H_
#define QKD_PLUGIN_H_

#include <plugins/plugin.h>

typedef struct qkd_plugin_t qkd_plugin_t;

/**
 * The key exchange method `qkd` for IPsec with QKD keys: pool keys of the
 * qkdpool kernel module, an RFC 9370 additional key exchange.
 */
struct qkd_plugin_t {

	/**
	 * Implements plugin interface.
	 */
	plugin_t plugin;
};

#endif /** QKD_PLUGIN_H_ @}*/
