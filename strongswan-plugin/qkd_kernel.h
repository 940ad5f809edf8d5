/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_kernel qkd_kernel
 * @{ @ingroup qkd
 */
#ifndef QKD_KERNEL_H_
#define QKD_KERNEL_H_

#include "qkd_proto.h"

typedef struct qkd_kernel_t qkd_kernel_t;

/**
 * Called when the outbound side of a pool has keys again: a "refilled"
 * notification, or the module coming back with the pool already filled.
 * Runs on a watcher thread, with no IKE_SA checked out.
 */
typedef void (*qkd_kernel_refill_cb_t)(void *ctx, const char *pool);

/**
 * The one place of the plugin that talks to the qkdpool module: it owns
 * every libqkd handle.
 *
 * - Requests (take a key, report an outcome) go through one handle,
 *   serialized by a mutex (libqkd handles are not thread-safe, charon's
 *   workers are many), opened on first use and reopened after an error.
 * - Notifications arrive on a second handle, subscribed to the module's
 *   "monitor" group, on lib->watcher; a refill of an outbound side calls
 *   the refill callback.
 * - A module reload registers the generic netlink family again under a
 *   new ID: requests on the old handle fail with ENOENT ("no such pool")
 *   and the old subscription goes deaf without an error.  So every
 *   QKD_KERNEL_CHECK_MS (a timerfd on the watcher), and at once when a
 *   pool is not found, the family's current ID is compared with the
 *   handles'; stale handles are reopened and re-subscribed, the module's
 *   going and coming back are logged, and the pools found filled when it
 *   comes back are reported as refilled.
 */
struct qkd_kernel_t {

	/**
	 * The operations for qkd_proto_exchange_init(), with this object as ctx.
	 */
	const struct qkd_proto_pool_ops *ops;

	/**
	 * Set the refill callback (one; NULL to unset).
	 *
	 * @param cb		called for each pool that refilled
	 * @param ctx		its context
	 */
	void (*set_refill_cb)(qkd_kernel_t *this, qkd_kernel_refill_cb_t cb,
						  void *ctx);

	/**
	 * Destroy: leave the watcher, close the handles.
	 */
	void (*destroy)(qkd_kernel_t *this);
};

/**
 * Create the kernel backend; its handles open now or once the module is
 * loaded (charon may start first).
 */
qkd_kernel_t *qkd_kernel_create(void);

#endif /** QKD_KERNEL_H_ @}*/
