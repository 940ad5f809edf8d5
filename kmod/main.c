// SPDX-License-Identifier: GPL-2.0
/*
 * qkdpool: per-peer pools of quantum key distribution (QKD) key material,
 * per network namespace, driven over the "qkd" generic netlink family.
 * See Documentation/qkdpool.rst.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <net/genetlink.h>

#include "netlink.h"
#include "pool.h"
#include "store.h"

/* The default and why it is that: store.h (QKD_DEFAULT_MEM_LIMIT). */
static unsigned long mem_limit = QKD_DEFAULT_MEM_LIMIT;
module_param(mem_limit, ulong, 0444);
MODULE_PARM_DESC(mem_limit,
		 "Bytes of key storage for all pools of all namespaces (default 256 MiB)");
static_assert(QKD_DEFAULT_MEM_LIMIT == 256UL << 20,
	      "mem_limit's description names the default");

static int __init qkd_init(void)
{
	int err;

	if (!mem_limit) {
		pr_err("mem_limit must be above 0\n");
		return -EINVAL;
	}
	qkd_store_set_mem_limit(mem_limit);

	err = qkd_pool_net_init();
	if (err)
		goto err_pool;
	err = qkd_nl_init();
	if (err)
		goto err_nl;
	return 0;

err_nl:
	qkd_pool_net_exit();
err_pool:
	return err;
}

static void __exit qkd_exit(void)
{
	qkd_nl_exit();
	qkd_pool_net_exit();
}

module_init(qkd_init);
module_exit(qkd_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Pools of QKD key material for IPsec");
MODULE_ALIAS_GENL_FAMILY(QKD_FAMILY_NAME);
