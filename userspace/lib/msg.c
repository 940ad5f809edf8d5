// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Request builders: pure functions that write one netlink message into a
 * caller buffer of @cap bytes and return its length, or -EMSGSIZE when it
 * does not fit, or -EINVAL for an argument the kernel would refuse anyway.
 */
#include <errno.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include "internal.h"

static struct nlmsghdr *msg_start(void *buf, size_t cap, uint16_t type,
				  uint8_t cmd, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *genl;

	if (cap < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*genl)))
		return NULL;
	memset(buf, 0, MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*genl)));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = QKD_FAMILY_VERSION;
	return nlh;
}

static bool name_ok(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strnlen(name, QKD_POOL_NAME_MAX_LEN + 1);
	return n >= 1 && n <= QKD_POOL_NAME_MAX_LEN;
}

static bool dir_ok(int dir)
{
	return dir == QKD_DIRECTION_OUT || dir == QKD_DIRECTION_IN;
}

int qkd__build_getfamily(void *buf, size_t cap, uint32_t seq,
			 const char *name)
{
	struct nlmsghdr *nlh;

	nlh = msg_start(buf, cap, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, NLM_F_ACK,
			seq);
	if (!nlh)
		return -EMSGSIZE;
	((struct genlmsghdr *)mnl_nlmsg_get_payload(nlh))->version = 1;
	if (!mnl_attr_put_strz_check(nlh, cap, CTRL_ATTR_FAMILY_NAME, name))
		return -EMSGSIZE;
	return (int)nlh->nlmsg_len;
}

static int put_config(struct nlmsghdr *nlh, size_t cap,
		      const struct qkd_pool_config *cfg)
{
	static const struct {
		uint32_t bit;
		uint16_t type;
		size_t off;
	} f[] = {
		{ QKD_POOL_KEY_SIZE, QKD_A_POOL_KEY_SIZE,
		  offsetof(struct qkd_pool_config, key_size) },
		{ QKD_POOL_CAPACITY, QKD_A_POOL_CAPACITY,
		  offsetof(struct qkd_pool_config, capacity) },
		{ QKD_POOL_LOW, QKD_A_POOL_LOW_WATERMARK,
		  offsetof(struct qkd_pool_config, low_watermark) },
		{ QKD_POOL_HIGH, QKD_A_POOL_HIGH_WATERMARK,
		  offsetof(struct qkd_pool_config, high_watermark) },
		{ QKD_POOL_MAX_AGE, QKD_A_POOL_MAX_AGE,
		  offsetof(struct qkd_pool_config, max_age) },
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		uint32_t v;

		if (!(cfg->fields & f[i].bit))
			continue;
		memcpy(&v, (const char *)cfg + f[i].off, sizeof(v));
		if (!mnl_attr_put_u32_check(nlh, cap, f[i].type, v))
			return -EMSGSIZE;
	}
	return 0;
}

int qkd__build_pool_new(void *buf, size_t cap, uint16_t family, uint32_t seq,
			const struct qkd_pool_config *cfg)
{
	struct nlmsghdr *nlh;
	int ret;

	if (!cfg || !name_ok(cfg->name))
		return -EINVAL;
	nlh = msg_start(buf, cap, family, QKD_CMD_POOL_NEW, NLM_F_ACK, seq);
	if (!nlh)
		return -EMSGSIZE;
	if (!mnl_attr_put_strz_check(nlh, cap, QKD_A_POOL_NAME, cfg->name))
		return -EMSGSIZE;
	ret = put_config(nlh, cap, cfg);
	return ret ? ret : (int)nlh->nlmsg_len;
}

int qkd__build_pool_set(void *buf, size_t cap, uint16_t family, uint32_t seq,
			uint32_t id, const struct qkd_pool_config *cfg)
{
	struct nlmsghdr *nlh;
	int ret;

	if (!cfg || !id)
		return -EINVAL;
	if ((cfg->fields & QKD_POOL_RENAME) && !name_ok(cfg->name))
		return -EINVAL;
	nlh = msg_start(buf, cap, family, QKD_CMD_POOL_SET, NLM_F_ACK, seq);
	if (!nlh)
		return -EMSGSIZE;
	if (!mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_ID, id))
		return -EMSGSIZE;
	/* A name next to the ID renames the pool. */
	if ((cfg->fields & QKD_POOL_RENAME) &&
	    !mnl_attr_put_strz_check(nlh, cap, QKD_A_POOL_NAME, cfg->name))
		return -EMSGSIZE;
	ret = put_config(nlh, cap, cfg);
	return ret ? ret : (int)nlh->nlmsg_len;
}

static int build_by_id_or_name(void *buf, size_t cap, uint16_t family,
			       uint8_t cmd, uint32_t seq, uint32_t id,
			       const char *name)
{
	struct nlmsghdr *nlh;

	if (!id && !name_ok(name))
		return -EINVAL;
	nlh = msg_start(buf, cap, family, cmd, NLM_F_ACK, seq);
	if (!nlh)
		return -EMSGSIZE;
	if (id) {
		if (!mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_ID, id))
			return -EMSGSIZE;
	} else if (!mnl_attr_put_strz_check(nlh, cap, QKD_A_POOL_NAME, name)) {
		return -EMSGSIZE;
	}
	return (int)nlh->nlmsg_len;
}

int qkd__build_pool_get(void *buf, size_t cap, uint16_t family, uint32_t seq,
			uint32_t id, const char *name)
{
	return build_by_id_or_name(buf, cap, family, QKD_CMD_POOL_GET, seq, id,
				   name);
}

int qkd__build_pool_del(void *buf, size_t cap, uint16_t family, uint32_t seq,
			uint32_t id, const char *name)
{
	return build_by_id_or_name(buf, cap, family, QKD_CMD_POOL_DEL, seq, id,
				   name);
}

int qkd__build_pool_dump(void *buf, size_t cap, uint16_t family, uint32_t seq)
{
	struct nlmsghdr *nlh;

	nlh = msg_start(buf, cap, family, QKD_CMD_POOL_GET, NLM_F_DUMP, seq);
	if (!nlh)
		return -EMSGSIZE;
	return (int)nlh->nlmsg_len;
}

size_t qkd__key_add_size(size_t n)
{
	size_t per_key = MNL_ATTR_HDRLEN +			/* nest */
			 MNL_ATTR_HDRLEN + MNL_ALIGN(QKD_KEY_ID_LEN) +
			 MNL_ATTR_HDRLEN + MNL_ALIGN(QKD_KEY_SIZE_MAX);

	return MNL_NLMSG_HDRLEN + MNL_ALIGN(4) +		/* genl */
	       2 * (MNL_ATTR_HDRLEN + 4) + n * per_key;
}

int qkd__build_key_add(void *buf, size_t cap, uint16_t family, uint32_t seq,
		       uint32_t id, int dir, const struct qkd_key *keys,
		       size_t n)
{
	struct nlmsghdr *nlh;

	if (!id || !dir_ok(dir) || !keys || n == 0)
		return -EINVAL;
	if (n > QKD_BATCH_MAX)
		return -E2BIG;
	nlh = msg_start(buf, cap, family, QKD_CMD_KEY_ADD, NLM_F_ACK, seq);
	if (!nlh)
		return -EMSGSIZE;
	if (!mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_ID, id) ||
	    !mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_DIRECTION,
				    (uint32_t)dir))
		return -EMSGSIZE;
	for (size_t i = 0; i < n; i++) {
		struct nlattr *nest;

		if (keys[i].len < QKD_KEY_SIZE_MIN ||
		    keys[i].len > QKD_KEY_SIZE_MAX)
			return -EINVAL;
		nest = mnl_attr_nest_start_check(nlh, cap, QKD_A_POOL_KEY);
		if (!nest ||
		    !mnl_attr_put_check(nlh, cap, QKD_A_KEY_ID, QKD_KEY_ID_LEN,
					keys[i].id) ||
		    !mnl_attr_put_check(nlh, cap, QKD_A_KEY_MATERIAL,
					keys[i].len, keys[i].material))
			return -EMSGSIZE;
		mnl_attr_nest_end(nlh, nest);
	}
	return (int)nlh->nlmsg_len;
}

int qkd__build_key_take(void *buf, size_t cap, uint16_t family, uint32_t seq,
			uint32_t id, int dir, const uint8_t *key_id,
			const uint8_t *tag)
{
	struct nlmsghdr *nlh;

	if (!id || !dir_ok(dir) || (dir == QKD_DIRECTION_IN && !key_id) ||
	    (dir == QKD_DIRECTION_OUT && (key_id || tag)))
		return -EINVAL;
	nlh = msg_start(buf, cap, family, QKD_CMD_KEY_TAKE, NLM_F_ACK, seq);
	if (!nlh)
		return -EMSGSIZE;
	if (!mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_ID, id) ||
	    !mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_DIRECTION,
				    (uint32_t)dir))
		return -EMSGSIZE;
	if (key_id && !mnl_attr_put_check(nlh, cap, QKD_A_POOL_KEY_ID,
					  QKD_KEY_ID_LEN, key_id))
		return -EMSGSIZE;
	if (tag && !mnl_attr_put_check(nlh, cap, QKD_A_POOL_TAG, QKD_TAG_LEN,
				       tag))
		return -EMSGSIZE;
	return (int)nlh->nlmsg_len;
}

int qkd__build_ke_report(void *buf, size_t cap, uint16_t family,
			 uint32_t seq, uint32_t id, uint32_t outcome,
			 uint32_t reason)
{
	struct nlmsghdr *nlh;

	/* What the kernel refuses: see qkd_ke_report_reason() in qkd.h. */
	if (outcome > QKD_KE_OUTCOME_REFUSED || reason > QKD_KE_REASON_MAX ||
	    (outcome == QKD_KE_OUTCOME_QKD &&
	     (!id || reason != QKD_KE_REASON_NONE)))
		return -EINVAL;
	nlh = msg_start(buf, cap, family, QKD_CMD_KE_REPORT, NLM_F_ACK, seq);
	if (!nlh)
		return -EMSGSIZE;
	if ((id && !mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_ID, id)) ||
	    !mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_KE_OUTCOME, outcome))
		return -EMSGSIZE;
	if (reason != QKD_KE_REASON_NONE &&
	    !mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_KE_REASON, reason))
		return -EMSGSIZE;
	return (int)nlh->nlmsg_len;
}

int qkd__build_ke_stats_get(void *buf, size_t cap, uint16_t family,
			    uint32_t seq)
{
	struct nlmsghdr *nlh;

	nlh = msg_start(buf, cap, family, QKD_CMD_KE_STATS_GET, NLM_F_ACK,
			seq);
	if (!nlh)
		return -EMSGSIZE;
	return (int)nlh->nlmsg_len;
}

int qkd__build_key_flush(void *buf, size_t cap, uint16_t family,
			 uint32_t seq, uint32_t id, int dir)
{
	struct nlmsghdr *nlh;

	if (!id || (!dir_ok(dir) && dir != QKD_DIRECTION_BOTH))
		return -EINVAL;
	nlh = msg_start(buf, cap, family, QKD_CMD_KEY_FLUSH, NLM_F_ACK, seq);
	if (!nlh)
		return -EMSGSIZE;
	if (!mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_ID, id))
		return -EMSGSIZE;
	if (dir != QKD_DIRECTION_BOTH &&
	    !mnl_attr_put_u32_check(nlh, cap, QKD_A_POOL_DIRECTION,
				    (uint32_t)dir))
		return -EMSGSIZE;
	return (int)nlh->nlmsg_len;
}
