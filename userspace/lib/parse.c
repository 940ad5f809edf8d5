// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Parsers of what the kernel sends: pure functions on a buffer and its
 * length, which they never read beyond.  Everything is read with memcpy,
 * so the buffer need not be aligned.  A malformed message is -EPROTO; the
 * output structures are written only on success (a key on failure is
 * wiped).
 */
#include <errno.h>
#include <string.h>
#include <linux/genetlink.h>
#include "internal.h"

#define NLA_HDR		4u
#define ALIGN4(x)	(((x) + 3u) & ~(size_t)3u)

int qkd__attrs(const void *buf, size_t len, struct qkd_attr *tb,
	       unsigned int max, unsigned int count_type)
{
	const uint8_t *p = buf;
	int count = 0;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	while (len > 0) {
		uint16_t nla_len, nla_type;
		unsigned int type;

		if (len < NLA_HDR)
			return -EPROTO;
		memcpy(&nla_len, p, sizeof(nla_len));
		memcpy(&nla_type, p + 2, sizeof(nla_type));
		if (nla_len < NLA_HDR || nla_len > len)
			return -EPROTO;
		type = nla_type & NLA_TYPE_MASK;
		if (type && type <= max) {
			tb[type].data = p + NLA_HDR;
			tb[type].len = (uint16_t)(nla_len - NLA_HDR);
		}
		if (count_type && type == count_type)
			count++;
		if (ALIGN4(nla_len) >= len)
			break;
		p += ALIGN4(nla_len);
		len -= ALIGN4(nla_len);
	}
	return count;
}

static int get_u32(const struct qkd_attr *a, uint32_t *v)
{
	if (!a->data || a->len != 4)
		return -EPROTO;
	memcpy(v, a->data, 4);
	return 0;
}

static int opt_u32(const struct qkd_attr *a, uint32_t *v)
{
	return a->data ? get_u32(a, v) : 0;
}

/* NLA_UINT: 4 or 8 bytes. */
static int get_uint(const struct qkd_attr *a, uint64_t *v)
{
	uint32_t v32;

	if (!a->data)
		return -EPROTO;
	if (a->len == 4) {
		memcpy(&v32, a->data, 4);
		*v = v32;
		return 0;
	}
	if (a->len == 8) {
		memcpy(v, a->data, 8);
		return 0;
	}
	return -EPROTO;
}

/* A NUL-terminated pool name: 1..64 printable ASCII characters. */
static int get_name(const struct qkd_attr *a, char *out)
{
	const uint8_t *nul;
	size_t n;

	if (!a->data || a->len < 2)
		return -EPROTO;
	nul = memchr(a->data, 0, a->len);
	if (!nul)
		return -EPROTO;
	n = (size_t)(nul - a->data);
	if (n < 1 || n > QKD_POOL_NAME_MAX_LEN)
		return -EPROTO;
	for (size_t i = 0; i < n; i++)
		if (a->data[i] <= 0x20 || a->data[i] >= 0x7f)
			return -EPROTO;
	memcpy(out, a->data, n);
	out[n] = '\0';
	return 0;
}

int qkd__genl_payload(const void *msg, size_t len, uint8_t *cmd,
		      const uint8_t **attrs, size_t *attrs_len)
{
	struct nlmsghdr nlh;
	struct genlmsghdr genl;
	const size_t hdr = NLMSG_HDRLEN + GENL_HDRLEN;

	if (len < hdr)
		return -EPROTO;
	memcpy(&nlh, msg, sizeof(nlh));
	if (nlh.nlmsg_len < hdr || nlh.nlmsg_len > len)
		return -EPROTO;
	memcpy(&genl, (const uint8_t *)msg + NLMSG_HDRLEN, sizeof(genl));
	if (cmd)
		*cmd = genl.cmd;
	*attrs = (const uint8_t *)msg + hdr;
	*attrs_len = nlh.nlmsg_len - hdr;
	return 0;
}

int qkd__parse_family(const void *msg, size_t len, uint16_t *family,
		      uint32_t *mcgrp, const char *grp)
{
	struct qkd_attr tb[CTRL_ATTR_MAX + 1];
	const uint8_t *attrs, *p;
	size_t alen, left;
	uint16_t fam;
	uint32_t grp_id = 0;
	int ret;

	ret = qkd__genl_payload(msg, len, NULL, &attrs, &alen);
	if (ret)
		return ret;
	ret = qkd__attrs(attrs, alen, tb, CTRL_ATTR_MAX, 0);
	if (ret < 0)
		return ret;
	if (!tb[CTRL_ATTR_FAMILY_ID].data || tb[CTRL_ATTR_FAMILY_ID].len != 2)
		return -EPROTO;
	memcpy(&fam, tb[CTRL_ATTR_FAMILY_ID].data, 2);
	if (!fam)
		return -EPROTO;

	/* CTRL_ATTR_MCAST_GROUPS: an array of nests, each a name and an ID. */
	p = tb[CTRL_ATTR_MCAST_GROUPS].data;
	left = p ? tb[CTRL_ATTR_MCAST_GROUPS].len : 0;
	while (grp && left >= NLA_HDR) {
		struct qkd_attr g[CTRL_ATTR_MCAST_GRP_MAX + 1];
		uint16_t nla_len;
		uint32_t id;

		memcpy(&nla_len, p, 2);
		if (nla_len < NLA_HDR || nla_len > left)
			return -EPROTO;
		ret = qkd__attrs(p + NLA_HDR, nla_len - NLA_HDR, g,
				 CTRL_ATTR_MCAST_GRP_MAX, 0);
		if (ret < 0)
			return ret;
		if (g[CTRL_ATTR_MCAST_GRP_NAME].data &&
		    g[CTRL_ATTR_MCAST_GRP_NAME].len == strlen(grp) + 1 &&
		    !memcmp(g[CTRL_ATTR_MCAST_GRP_NAME].data, grp,
			    strlen(grp) + 1)) {
			if (get_u32(&g[CTRL_ATTR_MCAST_GRP_ID], &id) || !id)
				return -EPROTO;
			grp_id = id;
		}
		if (ALIGN4(nla_len) >= left)
			break;
		p += ALIGN4(nla_len);
		left -= ALIGN4(nla_len);
	}
	*family = fam;
	if (mcgrp)
		*mcgrp = grp_id;
	return 0;
}

static int parse_stats(const struct qkd_attr *nest, struct qkd_dir_stats *s)
{
	struct qkd_attr tb[QKD_A_STATS_MAX + 1];
	static const struct {
		uint16_t type;
		size_t off;
	} u[] = {
		{ QKD_A_STATS_ADDED, offsetof(struct qkd_dir_stats, added) },
		{ QKD_A_STATS_TAKEN, offsetof(struct qkd_dir_stats, taken) },
		{ QKD_A_STATS_EXPIRED, offsetof(struct qkd_dir_stats, expired) },
		{ QKD_A_STATS_FLUSHED, offsetof(struct qkd_dir_stats, flushed) },
		{ QKD_A_STATS_REJECTED,
		  offsetof(struct qkd_dir_stats, rejected) },
		{ QKD_A_STATS_MISSED, offsetof(struct qkd_dir_stats, missed) },
		{ QKD_A_STATS_BYTES_ADDED,
		  offsetof(struct qkd_dir_stats, bytes_added) },
		{ QKD_A_STATS_BYTES_TAKEN,
		  offsetof(struct qkd_dir_stats, bytes_taken) },
		{ QKD_A_STATS_FILL_RATE,
		  offsetof(struct qkd_dir_stats, fill_rate) },
		{ QKD_A_STATS_BURN_RATE,
		  offsetof(struct qkd_dir_stats, burn_rate) },
	};
	int ret;

	memset(s, 0, sizeof(*s));
	if (!nest->data)
		return 0;
	ret = qkd__attrs(nest->data, nest->len, tb, QKD_A_STATS_MAX, 0);
	if (ret < 0)
		return ret;
	/* Level and state are always sent; counters may be omitted at 0. */
	if (get_u32(&tb[QKD_A_STATS_LEVEL], &s->level) ||
	    get_u32(&tb[QKD_A_STATS_STATE], &s->state) ||
	    s->state > QKD_STATE_EMPTY)
		return -EPROTO;
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		uint64_t v;

		if (!tb[u[i].type].data)
			continue;
		if (get_uint(&tb[u[i].type], &v))
			return -EPROTO;
		memcpy((char *)s + u[i].off, &v, sizeof(v));
	}
	if (tb[QKD_A_STATS_TIME_TO_EMPTY].data) {
		if (get_uint(&tb[QKD_A_STATS_TIME_TO_EMPTY], &s->time_to_empty))
			return -EPROTO;
		s->has_time_to_empty = true;
	}
	s->present = true;
	return 0;
}

/*
 * The ke-stats nest: four counters and the reasons nest, each optional
 * (absent means 0).  Reason N is attribute N of the nest; reasons this
 * library does not know are ignored.
 */
static int parse_ke_stats(const struct qkd_attr *nest, struct qkd_ke_stats *ke)
{
	struct qkd_attr tb[QKD_A_KE_STATS_MAX + 1];
	struct qkd_attr rb[QKD_A_KE_REASONS_MAX + 1];
	struct {
		uint16_t type;
		uint64_t *v;
	} const u[] = {
		{ QKD_A_KE_STATS_QKD, &ke->qkd },
		{ QKD_A_KE_STATS_FALLBACK, &ke->fallback },
		{ QKD_A_KE_STATS_TAG_MISMATCH, &ke->tag_mismatch },
		{ QKD_A_KE_STATS_REFUSED, &ke->refused },
	};
	int ret;

	_Static_assert((int)QKD_A_KE_REASONS_MAX == (int)QKD_KE_REASON_MAX,
		       "reason N is attribute N of the reasons nest");
	memset(ke, 0, sizeof(*ke));
	if (!nest->data)
		return 0;
	ret = qkd__attrs(nest->data, nest->len, tb, QKD_A_KE_STATS_MAX, 0);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		if (tb[u[i].type].data && get_uint(&tb[u[i].type], u[i].v))
			return -EPROTO;
	if (tb[QKD_A_KE_STATS_REASONS].data) {
		ret = qkd__attrs(tb[QKD_A_KE_STATS_REASONS].data,
				 tb[QKD_A_KE_STATS_REASONS].len, rb,
				 QKD_A_KE_REASONS_MAX, 0);
		if (ret < 0)
			return ret;
		for (unsigned int r = 1; r <= QKD_A_KE_REASONS_MAX; r++)
			if (rb[r].data && get_uint(&rb[r], &ke->reasons[r]))
				return -EPROTO;
		ke->has_reasons = true;
	}
	ke->present = true;
	return 0;
}

/* The attributes of a reply in the pool attribute set (no multi-attr). */
static int pool_reply_attrs(const void *msg, size_t len,
			    struct qkd_attr tb[QKD_A_POOL_MAX + 1])
{
	const uint8_t *attrs;
	size_t alen;
	int ret;

	ret = qkd__genl_payload(msg, len, NULL, &attrs, &alen);
	if (ret)
		return ret;
	ret = qkd__attrs(attrs, alen, tb, QKD_A_POOL_MAX, 0);
	return ret < 0 ? ret : 0;
}

int qkd__parse_pool(const void *msg, size_t len, struct qkd_pool_info *info)
{
	struct qkd_attr tb[QKD_A_POOL_MAX + 1];
	struct qkd_pool_info p;
	int ret;

	ret = pool_reply_attrs(msg, len, tb);
	if (ret)
		return ret;
	memset(&p, 0, sizeof(p));
	/* ID and name are required; settings are checked when present. */
	if (get_u32(&tb[QKD_A_POOL_ID], &p.id) || !p.id ||
	    get_name(&tb[QKD_A_POOL_NAME], p.name) ||
	    opt_u32(&tb[QKD_A_POOL_KEY_SIZE], &p.key_size) ||
	    opt_u32(&tb[QKD_A_POOL_CAPACITY], &p.capacity) ||
	    opt_u32(&tb[QKD_A_POOL_LOW_WATERMARK], &p.low_watermark) ||
	    opt_u32(&tb[QKD_A_POOL_HIGH_WATERMARK], &p.high_watermark) ||
	    opt_u32(&tb[QKD_A_POOL_MAX_AGE], &p.max_age))
		return -EPROTO;
	if (parse_stats(&tb[QKD_A_POOL_STATS_OUT], &p.dir[QKD_DIRECTION_OUT]) ||
	    parse_stats(&tb[QKD_A_POOL_STATS_IN], &p.dir[QKD_DIRECTION_IN]) ||
	    parse_ke_stats(&tb[QKD_A_POOL_KE_STATS], &p.ke))
		return -EPROTO;
	*info = p;
	return 0;
}

int qkd__parse_ke_stats_reply(const void *msg, size_t len,
			      struct qkd_ke_stats *ke)
{
	struct qkd_attr tb[QKD_A_POOL_MAX + 1];
	struct qkd_ke_stats k;
	int ret;

	ret = pool_reply_attrs(msg, len, tb);
	if (ret)
		return ret;
	if (!tb[QKD_A_POOL_KE_STATS].data ||
	    parse_ke_stats(&tb[QKD_A_POOL_KE_STATS], &k))
		return -EPROTO;
	*ke = k;
	return 0;
}

/* A reply whose one datum is the u32 attribute @type (pool-new, key-flush). */
static int parse_u32_reply(const void *msg, size_t len, int type,
			   uint32_t *out)
{
	struct qkd_attr tb[QKD_A_POOL_MAX + 1];
	int ret;

	ret = pool_reply_attrs(msg, len, tb);
	if (ret)
		return ret;
	return get_u32(&tb[type], out) ? -EPROTO : 0;
}

int qkd__parse_new_reply(const void *msg, size_t len, uint32_t *id)
{
	uint32_t v;
	int ret;

	ret = parse_u32_reply(msg, len, QKD_A_POOL_ID, &v);
	if (ret)
		return ret;
	if (!v)			/* pool IDs start at 1 */
		return -EPROTO;
	*id = v;
	return 0;
}

int qkd__parse_take_reply(const void *msg, size_t len, struct qkd_key *key)
{
	struct qkd_attr tb[QKD_A_POOL_MAX + 1], k[QKD_A_KEY_MAX + 1];
	const uint8_t *attrs;
	size_t alen;
	int ret;

	ret = qkd__genl_payload(msg, len, NULL, &attrs, &alen);
	if (ret)
		return ret;
	ret = qkd__attrs(attrs, alen, tb, QKD_A_POOL_MAX, QKD_A_POOL_KEY);
	if (ret != 1)		/* exactly one key */
		return -EPROTO;
	ret = qkd__attrs(tb[QKD_A_POOL_KEY].data, tb[QKD_A_POOL_KEY].len, k,
			 QKD_A_KEY_MAX, 0);
	if (ret < 0)
		return ret;
	if (!k[QKD_A_KEY_ID].data || k[QKD_A_KEY_ID].len != QKD_KEY_ID_LEN ||
	    !k[QKD_A_KEY_MATERIAL].data ||
	    k[QKD_A_KEY_MATERIAL].len < QKD_KEY_SIZE_MIN ||
	    k[QKD_A_KEY_MATERIAL].len > QKD_KEY_SIZE_MAX)
		return -EPROTO;
	memcpy(key->id, k[QKD_A_KEY_ID].data, QKD_KEY_ID_LEN);
	memcpy(key->material, k[QKD_A_KEY_MATERIAL].data,
	       k[QKD_A_KEY_MATERIAL].len);
	key->len = k[QKD_A_KEY_MATERIAL].len;
	return 0;
}

int qkd__parse_flush_reply(const void *msg, size_t len, uint32_t *count)
{
	return parse_u32_reply(msg, len, QKD_A_POOL_COUNT, count);
}

int qkd__parse_notification(const void *msg, size_t len,
			    struct qkd_notification *ntf)
{
	struct qkd_attr tb[QKD_A_POOL_MAX + 1];
	struct qkd_notification n;
	const uint8_t *attrs;
	size_t alen;
	uint8_t cmd;
	uint32_t dir;
	int ret;

	ret = qkd__genl_payload(msg, len, &cmd, &attrs, &alen);
	if (ret)
		return ret;
	if (cmd != QKD_CMD_POOL_NTF)
		return -EPROTO;
	ret = qkd__attrs(attrs, alen, tb, QKD_A_POOL_MAX, 0);
	if (ret < 0)
		return ret;
	memset(&n, 0, sizeof(n));
	n.direction = -1;
	if (get_u32(&tb[QKD_A_POOL_ID], &n.pool_id) || !n.pool_id ||
	    get_u32(&tb[QKD_A_POOL_EVENT], &n.event) ||
	    n.event > QKD_EVENT_EXPIRED)
		return -EPROTO;
	if (tb[QKD_A_POOL_NAME].data && get_name(&tb[QKD_A_POOL_NAME], n.name))
		return -EPROTO;
	if (tb[QKD_A_POOL_DIRECTION].data) {
		if (get_u32(&tb[QKD_A_POOL_DIRECTION], &dir) ||
		    dir > QKD_DIRECTION_IN)
			return -EPROTO;
		n.direction = (int)dir;
	}
	if (tb[QKD_A_POOL_COUNT].data) {
		if (get_u32(&tb[QKD_A_POOL_COUNT], &n.count))
			return -EPROTO;
		n.has_count = true;
	}
	*ntf = n;
	return 0;
}

static void copy_printable(char *dst, size_t dst_len, const uint8_t *src,
			   size_t src_len)
{
	size_t i;

	if (!dst_len)
		return;
	for (i = 0; i < src_len && i + 1 < dst_len && src[i]; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
	dst[i] = '\0';
}

int qkd__parse_error(const void *msg, size_t len, int *error, char *errmsg,
		     size_t errmsg_len)
{
	struct qkd_attr tb[NLMSGERR_ATTR_MAX + 1];
	struct nlmsghdr nlh, orig;
	size_t off;
	int32_t err;
	int ret;

	if (errmsg_len)
		errmsg[0] = '\0';
	if (len < NLMSG_HDRLEN + sizeof(err))
		return -EPROTO;
	memcpy(&nlh, msg, sizeof(nlh));
	if (nlh.nlmsg_len < NLMSG_HDRLEN + sizeof(err) || nlh.nlmsg_len > len)
		return -EPROTO;
	len = nlh.nlmsg_len;
	memcpy(&err, (const uint8_t *)msg + NLMSG_HDRLEN, sizeof(err));
	if (err > 0 || err < -4095)
		return -EPROTO;
	off = NLMSG_HDRLEN + sizeof(err);
	if (nlh.nlmsg_type == NLMSG_ERROR) {
		/* struct nlmsgerr: the error, then the request's header... */
		if (len < off + sizeof(orig))
			return -EPROTO;
		memcpy(&orig, (const uint8_t *)msg + off, sizeof(orig));
		off += sizeof(orig);
		/* ...and its payload unless the kernel capped it. */
		if (!(nlh.nlmsg_flags & NLM_F_CAPPED)) {
			if (orig.nlmsg_len < NLMSG_HDRLEN ||
			    orig.nlmsg_len - NLMSG_HDRLEN > len - off)
				return -EPROTO;
			off += ALIGN4(orig.nlmsg_len - NLMSG_HDRLEN);
		}
	}
	*error = err;
	if (!(nlh.nlmsg_flags & NLM_F_ACK_TLVS) || off >= len)
		return 0;
	ret = qkd__attrs((const uint8_t *)msg + off, len - off, tb,
			 NLMSGERR_ATTR_MAX, 0);
	if (ret < 0)
		return 0;	/* the errno is what matters; drop bad TLVs */
	if (tb[NLMSGERR_ATTR_MSG].data)
		copy_printable(errmsg, errmsg_len, tb[NLMSGERR_ATTR_MSG].data,
			       tb[NLMSGERR_ATTR_MSG].len);
	return 0;
}

int qkd__walk(const void *buf, size_t len, uint16_t type, uint32_t seq,
	      qkd__msg_cb cb, void *arg, char *errmsg, size_t errmsg_len,
	      int *dump_intr)
{
	const uint8_t *p = buf;

	while (len >= NLMSG_HDRLEN) {
		struct nlmsghdr nlh;
		int ret, err;

		memcpy(&nlh, p, sizeof(nlh));
		if (nlh.nlmsg_len < NLMSG_HDRLEN || nlh.nlmsg_len > len)
			return -EPROTO;
		if (nlh.nlmsg_seq != seq)
			goto next;
		if ((nlh.nlmsg_flags & NLM_F_DUMP_INTR) && dump_intr)
			*dump_intr = 1;
		switch (nlh.nlmsg_type) {
		case NLMSG_NOOP:
			break;
		case NLMSG_OVERRUN:
			return -ENOBUFS;
		case NLMSG_ERROR:
		case NLMSG_DONE:
			if (nlh.nlmsg_type == NLMSG_DONE &&
			    nlh.nlmsg_len < NLMSG_HDRLEN + 4)
				return 0;	/* DONE without an errno */
			ret = qkd__parse_error(p, nlh.nlmsg_len, &err, errmsg,
					       errmsg_len);
			if (ret)
				return ret;
			return err;
		default:
			if (nlh.nlmsg_type != type)
				return -EPROTO;
			if (cb) {
				ret = cb(p, nlh.nlmsg_len, arg);
				if (ret < 0)
					return ret;
			}
			break;
		}
next:
		if (ALIGN4(nlh.nlmsg_len) >= len)
			break;
		p += ALIGN4(nlh.nlmsg_len);
		len -= ALIGN4(nlh.nlmsg_len);
	}
	return 1;
}

int qkd__next_msg(const void *buf, size_t len, size_t *off,
		  const uint8_t **msg, size_t *msg_len)
{
	struct nlmsghdr nlh;
	size_t left;

	if (*off >= len || len - *off < NLMSG_HDRLEN)
		return 0;
	left = len - *off;
	memcpy(&nlh, (const uint8_t *)buf + *off, sizeof(nlh));
	if (nlh.nlmsg_len < NLMSG_HDRLEN || nlh.nlmsg_len > left)
		return -EPROTO;
	*msg = (const uint8_t *)buf + *off;
	*msg_len = nlh.nlmsg_len;
	*off += ALIGN4(nlh.nlmsg_len) < left ? ALIGN4(nlh.nlmsg_len) : left;
	return 1;
}
