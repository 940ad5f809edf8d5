// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/qkd.yaml */
/* YNL-GEN kernel source */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "netlink-gen.h"

#include <uapi/linux/qkd.h>

/* Integer value ranges */
static const struct netlink_range_validation qkd_a_pool_capacity_range = {
	.min	= 1ULL,
	.max	= QKD_CAPACITY_MAX,
};

/* Common nested types */
const struct nla_policy qkd_key_nl_policy[QKD_A_KEY_MATERIAL + 1] = {
	[QKD_A_KEY_ID] = NLA_POLICY_EXACT_LEN(QKD_KEY_ID_LEN),
	[QKD_A_KEY_MATERIAL] = { .type = NLA_BINARY, },
};

/* QKD_CMD_POOL_NEW - do */
static const struct nla_policy qkd_pool_new_nl_policy[QKD_A_POOL_MAX_AGE + 1] = {
	[QKD_A_POOL_NAME] = { .type = NLA_NUL_STRING, .len = QKD_POOL_NAME_MAX_LEN, },
	[QKD_A_POOL_KEY_SIZE] = NLA_POLICY_RANGE(NLA_U32, QKD_KEY_SIZE_MIN, QKD_KEY_SIZE_MAX),
	[QKD_A_POOL_CAPACITY] = NLA_POLICY_FULL_RANGE(NLA_U32, &qkd_a_pool_capacity_range),
	[QKD_A_POOL_LOW_WATERMARK] = { .type = NLA_U32, },
	[QKD_A_POOL_HIGH_WATERMARK] = { .type = NLA_U32, },
	[QKD_A_POOL_MAX_AGE] = { .type = NLA_U32, },
};

/* QKD_CMD_POOL_SET - do */
static const struct nla_policy qkd_pool_set_nl_policy[QKD_A_POOL_MAX_AGE + 1] = {
	[QKD_A_POOL_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[QKD_A_POOL_NAME] = { .type = NLA_NUL_STRING, .len = QKD_POOL_NAME_MAX_LEN, },
	[QKD_A_POOL_KEY_SIZE] = NLA_POLICY_RANGE(NLA_U32, QKD_KEY_SIZE_MIN, QKD_KEY_SIZE_MAX),
	[QKD_A_POOL_CAPACITY] = NLA_POLICY_FULL_RANGE(NLA_U32, &qkd_a_pool_capacity_range),
	[QKD_A_POOL_LOW_WATERMARK] = { .type = NLA_U32, },
	[QKD_A_POOL_HIGH_WATERMARK] = { .type = NLA_U32, },
	[QKD_A_POOL_MAX_AGE] = { .type = NLA_U32, },
};

/* QKD_CMD_POOL_GET - do */
static const struct nla_policy qkd_pool_get_nl_policy[QKD_A_POOL_NAME + 1] = {
	[QKD_A_POOL_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[QKD_A_POOL_NAME] = { .type = NLA_NUL_STRING, .len = QKD_POOL_NAME_MAX_LEN, },
};

/* QKD_CMD_POOL_DEL - do */
static const struct nla_policy qkd_pool_del_nl_policy[QKD_A_POOL_NAME + 1] = {
	[QKD_A_POOL_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[QKD_A_POOL_NAME] = { .type = NLA_NUL_STRING, .len = QKD_POOL_NAME_MAX_LEN, },
};

/* QKD_CMD_KEY_ADD - do */
static const struct nla_policy qkd_key_add_nl_policy[QKD_A_POOL_KEY + 1] = {
	[QKD_A_POOL_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[QKD_A_POOL_DIRECTION] = NLA_POLICY_MAX(NLA_U32, 1),
	[QKD_A_POOL_KEY] = NLA_POLICY_NESTED(qkd_key_nl_policy),
};

/* QKD_CMD_KEY_TAKE - do */
static const struct nla_policy qkd_key_take_nl_policy[QKD_A_POOL_TAG + 1] = {
	[QKD_A_POOL_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[QKD_A_POOL_DIRECTION] = NLA_POLICY_MAX(NLA_U32, 1),
	[QKD_A_POOL_KEY_ID] = NLA_POLICY_EXACT_LEN(QKD_KEY_ID_LEN),
	[QKD_A_POOL_TAG] = NLA_POLICY_EXACT_LEN(QKD_TAG_LEN),
};

/* QKD_CMD_KEY_FLUSH - do */
static const struct nla_policy qkd_key_flush_nl_policy[QKD_A_POOL_DIRECTION + 1] = {
	[QKD_A_POOL_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[QKD_A_POOL_DIRECTION] = NLA_POLICY_MAX(NLA_U32, 1),
};

/* QKD_CMD_KE_REPORT - do */
static const struct nla_policy qkd_ke_report_nl_policy[QKD_A_POOL_KE_REASON + 1] = {
	[QKD_A_POOL_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[QKD_A_POOL_KE_OUTCOME] = NLA_POLICY_MAX(NLA_U32, 3),
	[QKD_A_POOL_KE_REASON] = NLA_POLICY_MAX(NLA_U32, 9),
};

/* Ops table for qkd */
static const struct genl_split_ops qkd_nl_ops[] = {
	{
		.cmd		= QKD_CMD_POOL_NEW,
		.doit		= qkd_nl_pool_new_doit,
		.policy		= qkd_pool_new_nl_policy,
		.maxattr	= QKD_A_POOL_MAX_AGE,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= QKD_CMD_POOL_SET,
		.pre_doit	= qkd_nl_pre_doit_by_name,
		.doit		= qkd_nl_pool_set_doit,
		.post_doit	= qkd_nl_post_doit,
		.policy		= qkd_pool_set_nl_policy,
		.maxattr	= QKD_A_POOL_MAX_AGE,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= QKD_CMD_POOL_GET,
		.pre_doit	= qkd_nl_pre_doit_by_name,
		.doit		= qkd_nl_pool_get_doit,
		.post_doit	= qkd_nl_post_doit,
		.policy		= qkd_pool_get_nl_policy,
		.maxattr	= QKD_A_POOL_NAME,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= QKD_CMD_POOL_GET,
		.dumpit	= qkd_nl_pool_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= QKD_CMD_POOL_DEL,
		.pre_doit	= qkd_nl_pre_doit_by_name,
		.doit		= qkd_nl_pool_del_doit,
		.post_doit	= qkd_nl_post_doit,
		.policy		= qkd_pool_del_nl_policy,
		.maxattr	= QKD_A_POOL_NAME,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= QKD_CMD_KEY_ADD,
		.pre_doit	= qkd_nl_pre_doit_key_add,
		.doit		= qkd_nl_key_add_doit,
		.post_doit	= qkd_nl_post_doit_key_add,
		.policy		= qkd_key_add_nl_policy,
		.maxattr	= QKD_A_POOL_KEY,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= QKD_CMD_KEY_TAKE,
		.pre_doit	= qkd_nl_pre_doit,
		.doit		= qkd_nl_key_take_doit,
		.post_doit	= qkd_nl_post_doit,
		.policy		= qkd_key_take_nl_policy,
		.maxattr	= QKD_A_POOL_TAG,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= QKD_CMD_KEY_FLUSH,
		.pre_doit	= qkd_nl_pre_doit,
		.doit		= qkd_nl_key_flush_doit,
		.post_doit	= qkd_nl_post_doit,
		.policy		= qkd_key_flush_nl_policy,
		.maxattr	= QKD_A_POOL_DIRECTION,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= QKD_CMD_KE_REPORT,
		.pre_doit	= qkd_nl_pre_doit_opt,
		.doit		= qkd_nl_ke_report_doit,
		.post_doit	= qkd_nl_post_doit,
		.policy		= qkd_ke_report_nl_policy,
		.maxattr	= QKD_A_POOL_KE_REASON,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd	= QKD_CMD_KE_STATS_GET,
		.doit	= qkd_nl_ke_stats_get_doit,
		.flags	= GENL_CMD_CAP_DO,
	},
};

static const struct genl_multicast_group qkd_nl_mcgrps[] = {
	[QKD_NLGRP_MONITOR] = { "monitor", },
};

struct genl_family qkd_nl_family __ro_after_init = {
	.name		= QKD_FAMILY_NAME,
	.version	= QKD_FAMILY_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.split_ops	= qkd_nl_ops,
	.n_split_ops	= ARRAY_SIZE(qkd_nl_ops),
	.mcgrps		= qkd_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(qkd_nl_mcgrps),
};
