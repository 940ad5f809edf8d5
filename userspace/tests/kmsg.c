// SPDX-License-Identifier: GPL-2.0
/* Kernel-side message builders for the tests and the fuzz corpus. */
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include "kmsg.h"

static struct nlmsghdr *start(void *buf, size_t cap, uint16_t type,
			      uint8_t cmd, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;

	memset(buf, 0, cap < 64 ? cap : 64);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = 4242;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = 1;
	return nlh;
}

static void put_uint(struct nlmsghdr *nlh, size_t cap, uint16_t type,
		     uint64_t v, int wide)
{
	if (wide || v > UINT32_MAX)
		mnl_attr_put_check(nlh, cap, type, sizeof(v), &v);
	else
		mnl_attr_put_u32_check(nlh, cap, type, (uint32_t)v);
}

static void put_stats(struct nlmsghdr *nlh, size_t cap, uint16_t type,
		      const struct qkd_dir_stats *s, int wide)
{
	struct nlattr *nest = mnl_attr_nest_start_check(nlh, cap, type);

	mnl_attr_put_u32_check(nlh, cap, QKD_A_STATS_LEVEL, s->level);
	mnl_attr_put_u32_check(nlh, cap, QKD_A_STATS_STATE, s->state);
	put_uint(nlh, cap, QKD_A_STATS_ADDED, s->added, wide);
	put_uint(nlh, cap, QKD_A_STATS_TAKEN, s->taken, wide);
	put_uint(nlh, cap, QKD_A_STATS_EXPIRED, s->expired, wide);
	put_uint(nlh, cap, QKD_A_STATS_FLUSHED, s->flushed, wide);
	put_uint(nlh, cap, QKD_A_STATS_REJECTED, s->rejected, wide);
	put_uint(nlh, cap, QKD_A_STATS_MISSED, s->missed, wide);
	put_uint(nlh, cap, QKD_A_STATS_BYTES_ADDED, s->bytes_added, wide);
	put_uint(nlh, cap, QKD_A_STATS_BYTES_TAKEN, s->bytes_taken, wide);
	put_uint(nlh, cap, QKD_A_STATS_FILL_RATE, s->fill_rate, wide);
	put_uint(nlh, cap, QKD_A_STATS_BURN_RATE, s->burn_rate, wide);
	if (s->has_time_to_empty)
		put_uint(nlh, cap, QKD_A_STATS_TIME_TO_EMPTY, s->time_to_empty,
			 wide);
	mnl_attr_nest_end(nlh, nest);
}

static void put_ke_stats(struct nlmsghdr *nlh, size_t cap,
			 const struct qkd_ke_stats *ke, int wide)
{
	struct nlattr *nest = mnl_attr_nest_start_check(nlh, cap,
							QKD_A_POOL_KE_STATS);

	put_uint(nlh, cap, QKD_A_KE_STATS_QKD, ke->qkd, wide);
	put_uint(nlh, cap, QKD_A_KE_STATS_FALLBACK, ke->fallback, wide);
	put_uint(nlh, cap, QKD_A_KE_STATS_TAG_MISMATCH, ke->tag_mismatch, wide);
	put_uint(nlh, cap, QKD_A_KE_STATS_REFUSED, ke->refused, wide);
	/* As a kernel without reasons would: no reasons nest. */
	if (ke->has_reasons) {
		struct nlattr *r = mnl_attr_nest_start_check(nlh, cap,
							     QKD_A_KE_STATS_REASONS);

		for (uint16_t i = 1; i <= QKD_KE_REASON_MAX; i++)
			put_uint(nlh, cap, i, ke->reasons[i], wide);
		mnl_attr_nest_end(nlh, r);
	}
	mnl_attr_nest_end(nlh, nest);
}

size_t kmsg_ke_stats_reply(void *buf, size_t cap, uint32_t seq,
			   const struct qkd_ke_stats *ke, int wide)
{
	struct nlmsghdr *nlh = start(buf, cap, KMSG_FAMILY,
				     QKD_CMD_KE_STATS_GET, 0, seq);

	if (ke->present)
		put_ke_stats(nlh, cap, ke, wide);
	return nlh->nlmsg_len;
}

size_t kmsg_pool(void *buf, size_t cap, uint32_t seq, uint16_t flags,
		 const struct qkd_pool_info *p, int wide)
{
	struct nlmsghdr *nlh = start(buf, cap, KMSG_FAMILY, QKD_CMD_POOL_GET,
				     flags, seq);

	mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_ID, p->id);
	mnl_attr_put_strz_check(nlh, cap, QKD_A_POOL_NAME, p->name);
	mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_KEY_SIZE, p->key_size);
	mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_CAPACITY, p->capacity);
	mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_LOW_WATERMARK,
			       p->low_watermark);
	mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_HIGH_WATERMARK,
			       p->high_watermark);
	mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_MAX_AGE, p->max_age);
	put_stats(nlh, cap, QKD_A_POOL_STATS_OUT, &p->dir[QKD_DIRECTION_OUT],
		  wide);
	put_stats(nlh, cap, QKD_A_POOL_STATS_IN, &p->dir[QKD_DIRECTION_IN],
		  wide);
	/* As a kernel without ke-report would: no nest at all. */
	if (p->ke.present)
		put_ke_stats(nlh, cap, &p->ke, wide);
	return nlh->nlmsg_len;
}

size_t kmsg_new_reply(void *buf, size_t cap, uint32_t seq, uint32_t id)
{
	struct nlmsghdr *nlh = start(buf, cap, KMSG_FAMILY, QKD_CMD_POOL_NEW,
				     0, seq);

	mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_ID, id);
	return nlh->nlmsg_len;
}

size_t kmsg_take_reply(void *buf, size_t cap, uint32_t seq,
		       const struct qkd_key *key)
{
	struct nlmsghdr *nlh = start(buf, cap, KMSG_FAMILY, QKD_CMD_KEY_TAKE,
				     0, seq);
	struct nlattr *nest;

	mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_ID, 3);
	mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_DIRECTION,
			       QKD_DIRECTION_OUT);
	nest = mnl_attr_nest_start_check(nlh, cap, QKD_A_POOL_KEY);
	mnl_attr_put_check(nlh, cap, QKD_A_KEY_ID, QKD_KEY_ID_LEN, key->id);
	mnl_attr_put_check(nlh, cap, QKD_A_KEY_MATERIAL, key->len,
			   key->material);
	mnl_attr_nest_end(nlh, nest);
	return nlh->nlmsg_len;
}

size_t kmsg_flush_reply(void *buf, size_t cap, uint32_t seq, uint32_t count)
{
	struct nlmsghdr *nlh = start(buf, cap, KMSG_FAMILY, QKD_CMD_KEY_FLUSH,
				     0, seq);

	mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_COUNT, count);
	return nlh->nlmsg_len;
}

size_t kmsg_ntf(void *buf, size_t cap, const struct qkd_notification *n)
{
	struct nlmsghdr *nlh = start(buf, cap, KMSG_FAMILY, QKD_CMD_POOL_NTF,
				     0, 0);

	nlh->nlmsg_pid = 0;
	mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_ID, n->pool_id);
	if (n->name[0])
		mnl_attr_put_strz_check(nlh, cap, QKD_A_POOL_NAME, n->name);
	if (n->direction >= 0)
		mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_DIRECTION,
				       (uint32_t)n->direction);
	mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_EVENT, n->event);
	if (n->has_count)
		mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_COUNT, n->count);
	return nlh->nlmsg_len;
}

size_t kmsg_error(void *buf, size_t cap, uint32_t seq, int error,
		  const char *msg, int capped)
{
	struct nlmsghdr *nlh, req = {
		.nlmsg_len = capped ? sizeof(req) : sizeof(req) + 8,
		.nlmsg_type = KMSG_FAMILY,
		.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK,
		.nlmsg_seq = seq,
	};
	struct nlmsgerr *e;

	memset(buf, 0, cap < 128 ? cap : 128);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = seq;
	if (capped)
		nlh->nlmsg_flags |= NLM_F_CAPPED;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = error;
	e->msg = req;
	if (!capped) {
		/* the request's payload: a genl header and a u32 attribute */
		uint8_t *pl = mnl_nlmsg_put_extra_header(nlh, 8);

		pl[0] = QKD_CMD_POOL_GET;
	}
	if (msg) {
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
		mnl_attr_put_strz_check(nlh, cap, NLMSGERR_ATTR_MSG, msg);
	}
	return nlh->nlmsg_len;
}

size_t kmsg_done(void *buf, size_t cap, uint32_t seq, int error)
{
	struct nlmsghdr *nlh;
	int32_t *e;

	memset(buf, 0, cap < 32 ? cap : 32);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = seq;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	*e = error;
	return nlh->nlmsg_len;
}

size_t kmsg_family(void *buf, size_t cap, uint32_t seq, uint16_t family,
		   const char *grp, uint32_t grp_id)
{
	struct nlmsghdr *nlh = start(buf, cap, GENL_ID_CTRL,
				     CTRL_CMD_NEWFAMILY, 0, seq);
	struct nlattr *groups, *g;

	mnl_attr_put_u16_check(nlh, cap, CTRL_ATTR_FAMILY_ID, family);
	mnl_attr_put_strz_check(nlh, cap, CTRL_ATTR_FAMILY_NAME, "qkd");
	mnl_attr_put_u32_check(nlh, cap, CTRL_ATTR_VERSION, 1);
	if (grp) {
		groups = mnl_attr_nest_start_check(nlh, cap,
						   CTRL_ATTR_MCAST_GROUPS);
		g = mnl_attr_nest_start_check(nlh, cap, 1);
		mnl_attr_put_strz_check(nlh, cap, CTRL_ATTR_MCAST_GRP_NAME,
					"other");
		mnl_attr_put_u32_check(nlh, cap, CTRL_ATTR_MCAST_GRP_ID, 99);
		mnl_attr_nest_end(nlh, g);
		g = mnl_attr_nest_start_check(nlh, cap, 2);
		mnl_attr_put_strz_check(nlh, cap, CTRL_ATTR_MCAST_GRP_NAME, grp);
		mnl_attr_put_u32_check(nlh, cap, CTRL_ATTR_MCAST_GRP_ID, grp_id);
		mnl_attr_nest_end(nlh, g);
		mnl_attr_nest_end(nlh, groups);
	}
	return nlh->nlmsg_len;
}

void kmsg_sample_pool(struct qkd_pool_info *p)
{
	struct qkd_dir_stats *o = &p->dir[QKD_DIRECTION_OUT];
	struct qkd_dir_stats *i = &p->dir[QKD_DIRECTION_IN];

	memset(p, 0, sizeof(*p));
	p->id = 3;
	strcpy(p->name, "tokyo-osaka");
	p->key_size = 32;
	p->capacity = 4096;
	p->low_watermark = 1024;
	p->high_watermark = 3072;
	p->max_age = 3600;
	o->present = i->present = true;
	o->level = 3000;
	o->state = QKD_STATE_OK;
	o->added = 3500;
	o->taken = 500;
	o->bytes_added = 3500 * 32;
	o->bytes_taken = 500 * 32;
	o->fill_rate = 12500;
	o->burn_rate = 2000;
	i->level = 900;
	i->state = QKD_STATE_LOW;
	i->added = 5000;
	i->taken = 4000;
	i->expired = 60;
	i->flushed = 40;
	i->rejected = 2;
	i->missed = 7;
	i->bytes_added = 5000 * 32;
	i->bytes_taken = 4000 * 32;
	i->fill_rate = 1000;
	i->burn_rate = 2500;
	i->time_to_empty = 600;
	i->has_time_to_empty = true;
	p->ke.present = true;
	p->ke.qkd = 120;
	p->ke.fallback = 9;
	p->ke.tag_mismatch = 1;
	p->ke.refused = 2;
	/* 7 of the 11 exchanges without QKD with a reason: 4 unspecified */
	p->ke.has_reasons = true;
	p->ke.reasons[QKD_KE_REASON_EMPTY] = 4;
	p->ke.reasons[QKD_KE_REASON_UNKNOWN_KEY] = 2;
	p->ke.reasons[QKD_KE_REASON_TAG_MISMATCH] = 1;
}

void kmsg_sample_ke_no_pool(struct qkd_ke_stats *ke)
{
	memset(ke, 0, sizeof(*ke));
	ke->present = true;
	ke->has_reasons = true;
	ke->fallback = 5;
	ke->refused = 1;
	ke->reasons[QKD_KE_REASON_NO_POOL] = 4;
	ke->reasons[QKD_KE_REASON_PEER_UNKNOWN] = 1;
}
