/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/qkd.yaml */
/* YNL-GEN kernel header */

#ifndef _LINUX_QKD_GEN_H
#define _LINUX_QKD_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/qkd.h>

/* Common nested types */
extern const struct nla_policy qkd_key_nl_policy[QKD_A_KEY_MATERIAL + 1];

int qkd_nl_pre_doit_by_name(const struct genl_split_ops *ops,
			    struct sk_buff *skb, struct genl_info *info);
int qkd_nl_pre_doit_key_add(const struct genl_split_ops *ops,
			    struct sk_buff *skb, struct genl_info *info);
int qkd_nl_pre_doit(const struct genl_split_ops *ops, struct sk_buff *skb,
		    struct genl_info *info);
int qkd_nl_pre_doit_opt(const struct genl_split_ops *ops, struct sk_buff *skb,
			struct genl_info *info);
void
qkd_nl_post_doit(const struct genl_split_ops *ops, struct sk_buff *skb,
		 struct genl_info *info);
void
qkd_nl_post_doit_key_add(const struct genl_split_ops *ops, struct sk_buff *skb,
			 struct genl_info *info);

int qkd_nl_pool_new_doit(struct sk_buff *skb, struct genl_info *info);
int qkd_nl_pool_set_doit(struct sk_buff *skb, struct genl_info *info);
int qkd_nl_pool_get_doit(struct sk_buff *skb, struct genl_info *info);
int qkd_nl_pool_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int qkd_nl_pool_del_doit(struct sk_buff *skb, struct genl_info *info);
int qkd_nl_key_add_doit(struct sk_buff *skb, struct genl_info *info);
int qkd_nl_key_take_doit(struct sk_buff *skb, struct genl_info *info);
int qkd_nl_key_flush_doit(struct sk_buff *skb, struct genl_info *info);
int qkd_nl_ke_report_doit(struct sk_buff *skb, struct genl_info *info);
int qkd_nl_ke_stats_get_doit(struct sk_buff *skb, struct genl_info *info);

enum {
	QKD_NLGRP_MONITOR,
};

extern struct genl_family qkd_nl_family;

#endif /* _LINUX_QKD_GEN_H */
