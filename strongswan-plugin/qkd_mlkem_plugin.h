/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_mlkem_plugin qkd_mlkem_plugin
 * @{ @ingroup qkd
 */
#ifndef QKD_MLKEM_PLUGIN_H_
#define QKD_MLKEM_PLUGIN_H_

#include <plugins/plugin.h>

typedef struct qkd_mlkem_plugin_t qkd_mlkem_plugin_t;

/**
 * ML-KEM-512/768/1024 (IKEv2 methods 35/36/37) on OpenSSL 3.5's KEM API,
 * for a strongSwan that has no ML-KEM of its own (Debian trixie's 6.0.1).
 * Loaded as "qkd-mlkem" (libstrongswan-qkd-mlkem.so).
 */
struct qkd_mlkem_plugin_t {

	/**
	 * Implements plugin interface.
	 */
	plugin_t plugin;
};

#endif /** QKD_MLKEM_PLUGIN_H_ @}*/
