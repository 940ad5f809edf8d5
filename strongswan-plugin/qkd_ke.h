/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_ke qkd_ke
 * @{ @ingroup qkd
 */
#ifndef QKD_KE_H_
#define QKD_KE_H_

#include <crypto/key_exchange.h>

#include "qkd_kernel.h"

/**
 * The default private-use transform ID of the `qkd` key exchange method
 * (charon.plugins.qkd.ke_id).  RFC 7296 leaves 1024-65535 to private use;
 * strongSwan releases used 1024 (MODP_NULL), 1030-1033 (NTRU) and 1040
 * (NewHope), and another public QKD plugin uses 65516: a peer running one
 * of those would read our offer as its own method.
 */
#define QKD_KE_METHOD_DEFAULT	((key_exchange_method_t)65001)

/**
 * The proposal keyword: ke1_qkd ... ke7_qkd.
 */
#define QKD_KE_TOKEN		"qkd"

/**
 * One key exchange method of the plugin: `qkd`, or a combined one (ML-KEM
 * and qkd in one payload, qkd_combo.h).
 */
typedef struct {
	/** the proposal keyword */
	const char *token;
	/** the transform ID (a setting); 0: disabled, its ID was unusable */
	key_exchange_method_t method;
	/** the ML-KEM parameter set it carries; KE_NONE for `qkd` */
	key_exchange_method_t mlkem;
} qkd_ke_method_t;

/**
 * Every method of the plugin, `qkd` first, then mlkem512qkd, mlkem768qkd
 * and mlkem1024qkd (IDs charon.plugins.qkd.ke_id_<keyword>, defaults
 * 65002, 65003, 65004), read with qkd_ke_method().  An ID that is unusable
 * (see qkd_ke_method()) or already another method's is refused with a log
 * line and the default is used, if free; otherwise the method is disabled
 * (method 0).
 *
 * @param methods	set to the table
 * @return			number of entries
 */
int qkd_ke_methods(const qkd_ke_method_t **methods);

/**
 * Whether @method is one of the plugin's methods (qkd or combined).
 */
bool qkd_ke_is_ours(uint16_t method);

/**
 * How a `qkd` key exchange ended, without its key material: what the
 * accounting listener logs against the SA it keyed.
 */
typedef struct {
	/** the exchange finished: the secret is defined (ACK or NAK) */
	bool done;
	/** a QKD key went into the secret */
	bool acked;
	/** this side initiated the exchange */
	bool initiator;
	/** enum qkd_proto_reason of a NAK / NONE / refusal */
	uint8_t reason;
	/** responder after a NONE: the initiator's reason for it */
	uint8_t peer_reason;
	/** the key offered or answered; all zero after a NONE */
	uint8_t key_id[QKD_KEY_ID_LEN];
	/** the peer's pool, "" when none is mapped */
	char pool[QKD_POOL_NAME_MAX_LEN + 1];
	/** the pool was chosen before authentication: IKE_AUTH checks it */
	bool provisional;
	/** the policy the exchange ran under */
	enum qkd_proto_policy policy;
} qkd_ke_outcome_t;

/**
 * Read the outcome of a key exchange object if it is a `qkd` one (or a
 * combined one: its QKD half).
 *
 * @param ke		any key exchange of an SA (charon's kes arrays)
 * @param outcome	filled in when TRUE is returned
 * @return			TRUE if ke is a qkd key exchange that was started
 */
bool qkd_ke_get_outcome(key_exchange_t *ke, qkd_ke_outcome_t *outcome);

/**
 * The configured transform ID of the method (charon.plugins.qkd.ke_id),
 * read once at plugin load: both peers must use the same.  An ID outside
 * private use, or one of those QKD_KE_METHOD_DEFAULT avoids, is refused
 * with a log line and the default is used.
 */
key_exchange_method_t qkd_ke_method(void);

/**
 * Set the pool backend the key exchanges use; NULL to unset.
 */
void qkd_ke_set_kernel(qkd_kernel_t *kernel);

/**
 * Create a `qkd` or a combined key exchange.  A combined one gets its
 * ML-KEM from strongSwan's crypto factory (the qkd-mlkem plugin on a
 * strongSwan without ML-KEM, openssl or ml on one with it).
 *
 * @param method	qkd_ke_method(), or a combined method's ID
 * @return			key_exchange_t object, NULL if not supported
 */
key_exchange_t *qkd_ke_create(key_exchange_method_t method);

#endif /** QKD_KE_H_ @}*/
