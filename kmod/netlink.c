// SPDX-License-Identifier: GPL-2.0
/*
 * Request handlers and notifications of the qkd generic netlink family.
 * The policies and the family come from netlink-gen.c; everything here runs
 * in the caller's network namespace.
 *
 * Key material is in two places only: key-add requests, whose material
 * attributes are wiped in the request by the operation's pre or post hook
 * (whichever runs last), and key-take replies.  It is never in a dump, a
 * notification or a log.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/string.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "netlink-gen.h"
#include "netlink.h"
#include "pool.h"

/* Report a missing attribute with a message of its own. */
#define QKD_NL_REQUIRE(info, attr, msg) ({				\
	const struct genl_info *__ri = (info);				\
	bool __missing = GENL_REQ_ATTR_CHECK(__ri, attr);		\
									\
	if (__missing)							\
		GENL_SET_ERR_MSG(__ri, msg);				\
	__missing;							\
})

/* How an operation names its pool (the pre hooks below). */
enum qkd_nl_pool_ref {
	QKD_NL_POOL_BY_ID,		/* id, required */
	QKD_NL_POOL_BY_ID_OR_NAME,	/* id, or else name */
	QKD_NL_POOL_OPTIONAL,		/* id, or no pool */
};

/*
 * Look up the pool a request is for, once, before its handler runs: the
 * spec declares these as the operations' pre hooks, and the handler finds
 * the pool, referenced, in info->user_ptr[0] (NULL only for an optional
 * pool that was not named).  The post hook drops the reference.  A failed
 * lookup ends the request with an extack message; the handler and the post
 * hook do not run.
 */
static int qkd_nl_pre(struct genl_info *info, enum qkd_nl_pool_ref ref)
{
	struct nlattr *id_attr = info->attrs[QKD_A_POOL_ID];
	struct nlattr *name_attr = info->attrs[QKD_A_POOL_NAME];
	struct net *net = genl_info_net(info);
	struct qkd_pool *pool;

	info->user_ptr[0] = NULL;
	if (ref != QKD_NL_POOL_BY_ID_OR_NAME)
		name_attr = NULL;
	if (!id_attr && !name_attr) {
		if (ref == QKD_NL_POOL_OPTIONAL)
			return 0;
		NL_SET_ERR_ATTR_MISS(info->extack, NULL, QKD_A_POOL_ID);
		if (ref == QKD_NL_POOL_BY_ID_OR_NAME)
			GENL_SET_ERR_MSG(info, "pool ID or name required");
		else
			GENL_SET_ERR_MSG(info, "pool ID required");
		return -EINVAL;
	}

	/* With both, the ID names the pool (pool-set renames it). */
	if (id_attr) {
		pool = qkd_pool_get_by_id(net, nla_get_u32(id_attr));
		if (!pool) {
			NL_SET_ERR_MSG_ATTR(info->extack, id_attr,
					    "no pool with this ID");
			return -ENOENT;
		}
	} else {
		pool = qkd_pool_get_by_name(net, nla_data(name_attr));
		if (!pool) {
			NL_SET_ERR_MSG_ATTR(info->extack, name_attr,
					    "no pool with this name");
			return -ENOENT;
		}
	}
	info->user_ptr[0] = pool;
	return 0;
}

int qkd_nl_pre_doit(const struct genl_split_ops *ops, struct sk_buff *skb,
		    struct genl_info *info)
{
	return qkd_nl_pre(info, QKD_NL_POOL_BY_ID);
}

int qkd_nl_pre_doit_by_name(const struct genl_split_ops *ops,
			    struct sk_buff *skb, struct genl_info *info)
{
	return qkd_nl_pre(info, QKD_NL_POOL_BY_ID_OR_NAME);
}

int qkd_nl_pre_doit_opt(const struct genl_split_ops *ops,
			struct sk_buff *skb, struct genl_info *info)
{
	return qkd_nl_pre(info, QKD_NL_POOL_OPTIONAL);
}

void qkd_nl_post_doit(const struct genl_split_ops *ops, struct sk_buff *skb,
		      struct genl_info *info)
{
	qkd_pool_put(info->user_ptr[0]);
}

/* Wipe the key material of a key-add request, whatever became of it. */
static void qkd_nl_wipe_request(struct genl_info *info)
{
	struct nlattr *key, *attr;
	int rem, krem;

	nla_for_each_attr_type(key, QKD_A_POOL_KEY, genlmsg_data(info->genlhdr),
			       genlmsg_len(info->genlhdr), rem)
		nla_for_each_nested(attr, key, krem)
			if (nla_type(attr) == QKD_A_KEY_MATERIAL)
				memzero_explicit(nla_data(attr), nla_len(attr));
}

/*
 * key-add: the handler and the post hook do not run when the lookup fails,
 * so the material is wiped here then, and by the post hook otherwise.
 */
int qkd_nl_pre_doit_key_add(const struct genl_split_ops *ops,
			    struct sk_buff *skb, struct genl_info *info)
{
	int err = qkd_nl_pre(info, QKD_NL_POOL_BY_ID);

	if (err)
		qkd_nl_wipe_request(info);
	return err;
}

void qkd_nl_post_doit_key_add(const struct genl_split_ops *ops,
			      struct sk_buff *skb, struct genl_info *info)
{
	qkd_nl_wipe_request(info);
	qkd_nl_post_doit(ops, skb, info);
}

static int qkd_nl_check_name(struct genl_info *info)
{
	struct nlattr *attr = info->attrs[QKD_A_POOL_NAME];

	if (!qkd_pool_name_valid(nla_data(attr))) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "pool name must be 1-64 printable ASCII characters without spaces");
		return -EINVAL;
	}
	return 0;
}

/* The u32 settings of pool-new and pool-set: attribute, flag, field. */
static const struct {
	int attr;
	unsigned int flag;
	size_t offset;
} qkd_nl_settings[] = {
	{ QKD_A_POOL_KEY_SIZE, QKD_SET_KEY_SIZE,
	  offsetof(struct qkd_store_params, key_size) },
	{ QKD_A_POOL_CAPACITY, QKD_SET_CAPACITY,
	  offsetof(struct qkd_store_params, capacity) },
	{ QKD_A_POOL_LOW_WATERMARK, QKD_SET_LOW,
	  offsetof(struct qkd_store_params, low_watermark) },
	{ QKD_A_POOL_HIGH_WATERMARK, QKD_SET_HIGH,
	  offsetof(struct qkd_store_params, high_watermark) },
	{ QKD_A_POOL_MAX_AGE, QKD_SET_MAX_AGE,
	  offsetof(struct qkd_store_params, max_age) },
};

/*
 * The one parser of the settings pool-new and pool-set share.  The policy
 * checked each value's range already; the store checks them together.
 * With @with_name the name is a setting too (pool-new's name, pool-set's
 * rename) and is checked here; otherwise it only named the pool to find.
 */
static int qkd_nl_parse_settings(struct genl_info *info, bool with_name,
				 struct qkd_pool_settings *set)
{
	struct nlattr **attrs = info->attrs;
	unsigned int i;
	int err;

	memset(set, 0, sizeof(*set));
	if (with_name && attrs[QKD_A_POOL_NAME]) {
		err = qkd_nl_check_name(info);
		if (err)
			return err;
		set->name = nla_data(attrs[QKD_A_POOL_NAME]);
	}
	for (i = 0; i < ARRAY_SIZE(qkd_nl_settings); i++) {
		if (!attrs[qkd_nl_settings[i].attr])
			continue;
		*(u32 *)((u8 *)&set->params + qkd_nl_settings[i].offset) =
			nla_get_u32(attrs[qkd_nl_settings[i].attr]);
		set->mask |= qkd_nl_settings[i].flag;
	}
	return 0;
}

int qkd_nl_pool_new_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct qkd_pool_settings set;
	struct qkd_pool *pool;
	struct sk_buff *msg;
	void *hdr;
	u32 id;
	int err;

	if (QKD_NL_REQUIRE(info, QKD_A_POOL_NAME, "pool name required"))
		return -EINVAL;
	err = qkd_nl_parse_settings(info, true, &set);
	if (err)
		return err;

	/* The reply exists before the pool, so that it cannot be lost. */
	msg = genlmsg_new(nla_total_size(sizeof(u32)), GFP_KERNEL);
	if (!msg) {
		GENL_SET_ERR_MSG(info, "out of memory for the reply");
		return -ENOMEM;
	}
	hdr = genlmsg_iput(msg, info);
	if (!hdr) {
		GENL_SET_ERR_MSG(info, "reply too large");
		err = -EMSGSIZE;
		goto err_free;
	}

	err = qkd_pool_create(genl_info_net(info), &set, &id, info->extack);
	if (err)
		goto err_free;

	if (nla_put_u32(msg, QKD_A_POOL_ID, id)) {
		/* Cannot happen: the reply was sized for it.  Undo. */
		pool = qkd_pool_get_by_id(genl_info_net(info), id);
		if (pool) {
			qkd_pool_delete(pool, NULL);
			qkd_pool_put(pool);
		}
		GENL_SET_ERR_MSG(info, "reply too large");
		err = -EMSGSIZE;
		goto err_free;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return err;
}

int qkd_nl_pool_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct qkd_pool_settings set;
	int err;

	/* With an ID, a name renames the pool; without, it found the pool. */
	err = qkd_nl_parse_settings(info, !!info->attrs[QKD_A_POOL_ID], &set);
	if (err)
		return err;
	return qkd_pool_configure(info->user_ptr[0], &set, info->extack);
}

static int qkd_nl_put_stats(struct sk_buff *skb, int attrtype,
			    const struct qkd_dir_stats *st)
{
	struct nlattr *nest;

	nest = nla_nest_start(skb, attrtype);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, QKD_A_STATS_LEVEL, st->level) ||
	    nla_put_u32(skb, QKD_A_STATS_STATE, st->state) ||
	    nla_put_uint(skb, QKD_A_STATS_ADDED, st->added) ||
	    nla_put_uint(skb, QKD_A_STATS_TAKEN, st->taken) ||
	    nla_put_uint(skb, QKD_A_STATS_EXPIRED, st->expired) ||
	    nla_put_uint(skb, QKD_A_STATS_FLUSHED, st->flushed) ||
	    nla_put_uint(skb, QKD_A_STATS_REJECTED, st->rejected) ||
	    nla_put_uint(skb, QKD_A_STATS_MISSED, st->missed) ||
	    nla_put_uint(skb, QKD_A_STATS_BYTES_ADDED, st->bytes_added) ||
	    nla_put_uint(skb, QKD_A_STATS_BYTES_TAKEN, st->bytes_taken) ||
	    nla_put_uint(skb, QKD_A_STATS_FILL_RATE, st->fill_rate) ||
	    nla_put_uint(skb, QKD_A_STATS_BURN_RATE, st->burn_rate) ||
	    (st->has_time_to_empty &&
	     nla_put_uint(skb, QKD_A_STATS_TIME_TO_EMPTY, st->time_to_empty))) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* The reasons nest: reason N is attribute N (checked in ke.c). */
static int qkd_nl_put_ke_reasons(struct sk_buff *skb,
				 const struct qkd_ke_stats *ke)
{
	struct nlattr *nest;
	int r;

	nest = nla_nest_start(skb, QKD_A_KE_STATS_REASONS);
	if (!nest)
		return -EMSGSIZE;
	for (r = QKD_KE_REASON_NONE + 1; r <= QKD_KE_REASON_MAX; r++) {
		if (nla_put_uint(skb, r, ke->reasons[r])) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int qkd_nl_put_ke_stats(struct sk_buff *skb,
			       const struct qkd_ke_stats *ke)
{
	struct nlattr *nest;

	nest = nla_nest_start(skb, QKD_A_POOL_KE_STATS);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_uint(skb, QKD_A_KE_STATS_QKD, ke->qkd) ||
	    nla_put_uint(skb, QKD_A_KE_STATS_FALLBACK, ke->fallback) ||
	    nla_put_uint(skb, QKD_A_KE_STATS_TAG_MISMATCH, ke->tag_mismatch) ||
	    nla_put_uint(skb, QKD_A_KE_STATS_REFUSED, ke->refused) ||
	    qkd_nl_put_ke_reasons(skb, ke)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* The ke-stats nest with every counter at its widest. */
static size_t qkd_nl_ke_stats_size(void)
{
	return nla_total_size(0) +				/* ke-stats */
	       4 * nla_total_size_64bit(sizeof(u64)) +		/* outcomes */
	       nla_total_size(0) +				/* reasons */
	       QKD_KE_REASON_MAX * nla_total_size_64bit(sizeof(u64));
}

static int qkd_nl_put_pool(struct sk_buff *skb, const struct qkd_pool_info *pi)
{
	const struct qkd_store_params *p = &pi->params;

	if (nla_put_u32(skb, QKD_A_POOL_ID, pi->id) ||
	    nla_put_string(skb, QKD_A_POOL_NAME, pi->name) ||
	    nla_put_u32(skb, QKD_A_POOL_KEY_SIZE, p->key_size) ||
	    nla_put_u32(skb, QKD_A_POOL_CAPACITY, p->capacity) ||
	    nla_put_u32(skb, QKD_A_POOL_LOW_WATERMARK, p->low_watermark) ||
	    nla_put_u32(skb, QKD_A_POOL_HIGH_WATERMARK, p->high_watermark) ||
	    nla_put_u32(skb, QKD_A_POOL_MAX_AGE, p->max_age))
		return -EMSGSIZE;
	if (qkd_nl_put_stats(skb, QKD_A_POOL_STATS_OUT,
			     &pi->stats[QKD_DIRECTION_OUT]) ||
	    qkd_nl_put_stats(skb, QKD_A_POOL_STATS_IN,
			     &pi->stats[QKD_DIRECTION_IN]) ||
	    qkd_nl_put_ke_stats(skb, &pi->ke))
		return -EMSGSIZE;
	return 0;
}

int qkd_nl_pool_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct qkd_pool_info pi;
	struct sk_buff *msg;
	void *hdr;
	int err;

	err = qkd_pool_info(info->user_ptr[0], &pi);
	if (err) {
		GENL_SET_ERR_MSG(info, "the pool was deleted");
		return err;
	}

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg) {
		GENL_SET_ERR_MSG(info, "out of memory for the reply");
		return -ENOMEM;
	}
	hdr = genlmsg_iput(msg, info);
	if (!hdr || qkd_nl_put_pool(msg, &pi)) {
		nlmsg_free(msg);
		GENL_SET_ERR_MSG(info, "reply too large");
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/* Dump cursor, kept in cb->ctx between the passes of one dump. */
struct qkd_nl_dump_ctx {
	u64 next_id;		/* see cursor.h: does not wrap after U32_MAX */
};

struct qkd_nl_dump_arg {
	struct sk_buff *skb;
	struct netlink_callback *cb;
};

static int qkd_nl_dump_one(const struct qkd_pool_info *pi, void *data)
{
	struct qkd_nl_dump_arg *arg = data;
	void *hdr;

	hdr = genlmsg_put(arg->skb, NETLINK_CB(arg->cb->skb).portid,
			  arg->cb->nlh->nlmsg_seq, &qkd_nl_family, NLM_F_MULTI,
			  QKD_CMD_POOL_GET);
	if (!hdr)
		return -EMSGSIZE;
	genl_dump_check_consistent(arg->cb, hdr);
	if (qkd_nl_put_pool(arg->skb, pi)) {
		genlmsg_cancel(arg->skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(arg->skb, hdr);
	return 0;
}

int qkd_nl_pool_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct qkd_nl_dump_ctx *ctx = (struct qkd_nl_dump_ctx *)cb->ctx;
	struct qkd_nl_dump_arg arg = { .skb = skb, .cb = cb };
	int err;

	NL_ASSERT_DUMP_CTX_FITS(struct qkd_nl_dump_ctx);

	err = qkd_pool_for_each(sock_net(skb->sk), &ctx->next_id, &cb->seq,
				qkd_nl_dump_one, &arg);
	/* A full skb ends this pass; the next one starts at the cursor. */
	if (err == -EMSGSIZE && skb->len)
		return skb->len;
	return err;
}

int qkd_nl_pool_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	return qkd_pool_delete(info->user_ptr[0], info->extack);
}

/* The post hook wipes the request's key material on every path. */
int qkd_nl_key_add_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[QKD_A_KEY_MAX + 1];
	struct qkd_key_ref *keys = NULL;
	enum qkd_direction dir;
	unsigned int n = 0;
	struct nlattr *key;
	int rem, err;

	if (QKD_NL_REQUIRE(info, QKD_A_POOL_DIRECTION, "direction required") ||
	    QKD_NL_REQUIRE(info, QKD_A_POOL_KEY, "no key in the request")) {
		err = -EINVAL;
		goto out;
	}
	dir = nla_get_u32(info->attrs[QKD_A_POOL_DIRECTION]);

	nla_for_each_attr_type(key, QKD_A_POOL_KEY, genlmsg_data(info->genlhdr),
			       genlmsg_len(info->genlhdr), rem) {
		if (++n > QKD_BATCH_MAX) {
			NL_SET_ERR_MSG_ATTR_FMT(info->extack, key,
						"more than %u keys in one request",
						QKD_BATCH_MAX);
			err = -E2BIG;
			goto out;
		}
	}
	keys = kcalloc(n, sizeof(*keys), GFP_KERNEL);
	if (!keys) {
		GENL_SET_ERR_MSG(info, "out of memory for the batch");
		err = -ENOMEM;
		goto out;
	}

	n = 0;
	nla_for_each_attr_type(key, QKD_A_POOL_KEY, genlmsg_data(info->genlhdr),
			       genlmsg_len(info->genlhdr), rem) {
		err = nla_parse_nested(tb, QKD_A_KEY_MAX, key,
				       qkd_key_nl_policy, info->extack);
		if (err)
			goto out;
		if (NL_REQ_ATTR_CHECK(info->extack, key, tb, QKD_A_KEY_ID)) {
			NL_SET_ERR_MSG_ATTR(info->extack, key, "key without an ID");
			err = -EINVAL;
			goto out;
		}
		if (NL_REQ_ATTR_CHECK(info->extack, key, tb, QKD_A_KEY_MATERIAL)) {
			NL_SET_ERR_MSG_ATTR(info->extack, key,
					    "key without material");
			err = -EINVAL;
			goto out;
		}
		keys[n].id = nla_data(tb[QKD_A_KEY_ID]);
		keys[n].material = nla_data(tb[QKD_A_KEY_MATERIAL]);
		keys[n].len = nla_len(tb[QKD_A_KEY_MATERIAL]);
		n++;
	}

	err = qkd_pool_add_keys(info->user_ptr[0], dir, keys, n, info->extack);
out:
	kfree(keys);			/* pointers into the request only */
	return err;
}

/* A key-take reply with the largest key: putting it cannot fail. */
static size_t qkd_nl_take_reply_size(void)
{
	return nla_total_size(sizeof(u32)) +		/* id */
	       nla_total_size(sizeof(u32)) +		/* direction */
	       nla_total_size(0) +			/* key nest */
	       nla_total_size(QKD_KEY_ID_LEN) +
	       nla_total_size(QKD_KEY_SIZE_MAX);
}

/*
 * A key whose reply cannot be queued to the caller would be lost, taken but
 * never seen.  So no key is taken while the caller's receive buffer has no
 * room for the reply and its ack: a client that sends many takes in one
 * batch without reading gets ENOBUFS and keeps its keys in the pool.  The
 * reply goes to the socket that sent the request, which is alive while its
 * sendmsg() runs this handler.
 */
static bool qkd_nl_no_room(const struct sk_buff *skb,
			   const struct sk_buff *msg)
{
	const struct sock *sk = NETLINK_CB(skb).sk;
	int rmem;

	if (!sk)
		return false;
	rmem = atomic_read(&sk->sk_rmem_alloc);
	/* Netlink always queues one message to an empty queue. */
	return rmem && rmem + 2 * msg->truesize > READ_ONCE(sk->sk_rcvbuf);
}

int qkd_nl_key_take_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	u8 material[QKD_KEY_SIZE_MAX];
	struct qkd_pool *pool = info->user_ptr[0];
	const u8 *want_id = NULL, *tag = NULL;
	u8 id[QKD_KEY_ID_LEN];
	enum qkd_direction dir;
	struct nlattr *nest;
	struct sk_buff *msg;
	bool taken = false;
	u32 key_size = 0;
	void *hdr;
	int err;

	if (QKD_NL_REQUIRE(info, QKD_A_POOL_DIRECTION, "direction required"))
		return -EINVAL;
	dir = nla_get_u32(attrs[QKD_A_POOL_DIRECTION]);
	if (dir == QKD_DIRECTION_IN) {
		if (QKD_NL_REQUIRE(info, QKD_A_POOL_KEY_ID,
				   "key ID required to take an inbound key"))
			return -EINVAL;
		want_id = nla_data(attrs[QKD_A_POOL_KEY_ID]);
		if (attrs[QKD_A_POOL_TAG])
			tag = nla_data(attrs[QKD_A_POOL_TAG]);
	} else if (attrs[QKD_A_POOL_KEY_ID] || attrs[QKD_A_POOL_TAG]) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    attrs[QKD_A_POOL_KEY_ID] ?: attrs[QKD_A_POOL_TAG],
				    "outbound takes take the oldest key: no key ID or tag");
		return -EINVAL;
	}

	/* The whole reply is ready before the key leaves the pool. */
	msg = genlmsg_new(qkd_nl_take_reply_size(), GFP_KERNEL);
	if (!msg) {
		GENL_SET_ERR_MSG(info, "out of memory for the reply");
		err = -ENOMEM;
		goto out;
	}
	hdr = genlmsg_iput(msg, info);
	if (!hdr ||
	    nla_put_u32(msg, QKD_A_POOL_ID, pool->id) ||
	    nla_put_u32(msg, QKD_A_POOL_DIRECTION, dir)) {
		GENL_SET_ERR_MSG(info, "reply too large");
		err = -EMSGSIZE;
		goto out_free;
	}

	if (qkd_nl_no_room(skb, msg)) {
		GENL_SET_ERR_MSG(info,
				 "receive buffer full: read the replies of earlier takes first");
		err = -ENOBUFS;
		goto out_free;
	}
	err = qkd_pool_take(pool, dir, want_id, tag, id, material, &key_size,
			    info->extack);
	if (err)
		goto out_free;
	taken = true;

	nest = nla_nest_start(msg, QKD_A_POOL_KEY);
	if (!nest ||
	    nla_put(msg, QKD_A_KEY_ID, QKD_KEY_ID_LEN, id) ||
	    nla_put(msg, QKD_A_KEY_MATERIAL, key_size, material)) {
		/* Cannot happen: the reply was sized for the largest key. */
		GENL_SET_ERR_MSG(info, "reply too large: the key was wiped");
		err = -EMSGSIZE;
		goto out_free;
	}
	nla_nest_end(msg, nest);
	genlmsg_end(msg, hdr);
	err = genlmsg_reply(msg, info);
	goto out;

out_free:
	if (taken)
		memzero_explicit(msg->data, msg->len);
	nlmsg_free(msg);
out:
	memzero_explicit(material, sizeof(material));
	return err;
}

int qkd_nl_key_flush_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *dir_attr = info->attrs[QKD_A_POOL_DIRECTION];
	enum qkd_direction dir = QKD_DIRECTION_OUT;
	struct sk_buff *msg;
	u32 count = 0;
	void *hdr;
	int err;

	if (dir_attr)
		dir = nla_get_u32(dir_attr);

	msg = genlmsg_new(nla_total_size(sizeof(u32)), GFP_KERNEL);
	if (!msg) {
		GENL_SET_ERR_MSG(info, "out of memory for the reply");
		return -ENOMEM;
	}
	hdr = genlmsg_iput(msg, info);
	if (!hdr) {
		GENL_SET_ERR_MSG(info, "reply too large");
		err = -EMSGSIZE;
		goto out_free;
	}
	err = qkd_pool_flush(info->user_ptr[0], dir, !dir_attr, &count,
			     info->extack);
	if (err)
		goto out_free;
	if (nla_put_u32(msg, QKD_A_POOL_COUNT, count)) {
		GENL_SET_ERR_MSG(info, "reply too large");
		err = -EMSGSIZE;
		goto out_free;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

out_free:
	nlmsg_free(msg);
	return err;
}

int qkd_nl_ke_report_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *reason_attr = info->attrs[QKD_A_POOL_KE_REASON];
	u32 outcome, reason = QKD_KE_REASON_NONE;
	struct qkd_pool *pool = info->user_ptr[0];
	int err;

	if (QKD_NL_REQUIRE(info, QKD_A_POOL_KE_OUTCOME, "outcome required"))
		return -EINVAL;
	/* The policy bounds both to their enums; qkd_ke_check() again. */
	outcome = nla_get_u32(info->attrs[QKD_A_POOL_KE_OUTCOME]);
	if (reason_attr)
		reason = nla_get_u32(reason_attr);
	err = qkd_ke_check(outcome, reason, !!pool, info->extack);
	if (err) {
		/* The reason with outcome qkd, or qkd without a pool. */
		if (reason != QKD_KE_REASON_NONE)
			NL_SET_BAD_ATTR(info->extack, reason_attr);
		else
			NL_SET_ERR_ATTR_MISS(info->extack, NULL, QKD_A_POOL_ID);
		return err;
	}

	/* No pool ID: an exchange that had no pool, counted per namespace. */
	if (!pool) {
		qkd_net_ke_report(genl_info_net(info), outcome, reason);
		return 0;
	}
	return qkd_pool_ke_report(pool, outcome, reason, info->extack);
}

int qkd_nl_ke_stats_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct qkd_ke_stats ke;
	struct sk_buff *msg;
	void *hdr;

	qkd_net_ke_stats(genl_info_net(info), &ke);

	msg = genlmsg_new(qkd_nl_ke_stats_size(), GFP_KERNEL);
	if (!msg) {
		GENL_SET_ERR_MSG(info, "out of memory for the reply");
		return -ENOMEM;
	}
	hdr = genlmsg_iput(msg, info);
	if (!hdr || qkd_nl_put_ke_stats(msg, &ke)) {
		nlmsg_free(msg);
		GENL_SET_ERR_MSG(info, "reply too large");
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static size_t qkd_nl_ntf_size(void)
{
	return nla_total_size(sizeof(u32)) +			/* id */
	       nla_total_size(QKD_POOL_NAME_MAX_LEN + 1) +	/* name */
	       nla_total_size(sizeof(u32)) +			/* direction */
	       nla_total_size(sizeof(u32)) +			/* event */
	       nla_total_size(sizeof(u32));			/* count */
}

void qkd_nl_notify(struct net *net, u32 id, const char *name,
		   const struct qkd_event_rec *ev)
{
	struct sk_buff *msg;
	void *hdr;

	if (!genl_has_listeners(&qkd_nl_family, net, QKD_NLGRP_MONITOR))
		return;

	msg = genlmsg_new(qkd_nl_ntf_size(), GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &qkd_nl_family, 0, QKD_CMD_POOL_NTF);
	if (!hdr)
		goto err_free;
	if (nla_put_u32(msg, QKD_A_POOL_ID, id) ||
	    nla_put_string(msg, QKD_A_POOL_NAME, name) ||
	    (ev->event != QKD_EVENT_REMOVED &&
	     nla_put_u32(msg, QKD_A_POOL_DIRECTION, ev->dir)) ||
	    nla_put_u32(msg, QKD_A_POOL_EVENT, ev->event) ||
	    nla_put_u32(msg, QKD_A_POOL_COUNT, ev->count))
		goto err_free;
	genlmsg_end(msg, hdr);
	genlmsg_multicast_netns(&qkd_nl_family, net, msg, 0, QKD_NLGRP_MONITOR,
				GFP_KERNEL);
	return;

err_free:
	nlmsg_free(msg);
}

int qkd_nl_init(void)
{
	return genl_register_family(&qkd_nl_family);
}

void qkd_nl_exit(void)
{
	genl_unregister_family(&qkd_nl_family);
}
