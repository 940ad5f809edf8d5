// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Pool and key operations: build a request, run the exchange, parse the
 * reply.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* Requests without keys fit in this; key-add sizes its own buffer. */
#define QKD_REQ_BUF	512

static int check_handle(struct qkd *h)
{
	if (!h)
		return -EINVAL;
	h->err[0] = '\0';
	return 0;
}

/* ---- pools ---------------------------------------------------------- */

static int new_cb(const void *msg, size_t len, void *arg)
{
	return qkd__parse_new_reply(msg, len, arg);
}

QKD_EXPORT int qkd_pool_create(struct qkd *h,
			       const struct qkd_pool_config *cfg, uint32_t *id)
{
	uint8_t req[QKD_REQ_BUF];
	uint32_t seq, new_id = 0;
	int len, ret;

	if ((ret = check_handle(h)))
		return ret;
	seq = qkd__next_seq(h);
	len = qkd__build_pool_new(req, sizeof(req), h->family, seq, cfg);
	if (len == -EINVAL)
		qkd__set_error(h, "pool name must be 1 to %d characters",
			       QKD_POOL_NAME_MAX_LEN);
	if (len < 0)
		return len;
	ret = qkd__transact(h, req, (size_t)len, seq, h->family, new_cb,
			    &new_id, NULL);
	if (ret)
		return ret;
	if (!new_id) {
		qkd__set_error(h, "the kernel's reply lacks the pool ID");
		return -EPROTO;
	}
	if (id)
		*id = new_id;
	return 0;
}

QKD_EXPORT int qkd_pool_set(struct qkd *h, uint32_t id,
			    const struct qkd_pool_config *cfg)
{
	uint8_t req[QKD_REQ_BUF];
	uint32_t seq;
	int len, ret;

	if ((ret = check_handle(h)))
		return ret;
	seq = qkd__next_seq(h);
	len = qkd__build_pool_set(req, sizeof(req), h->family, seq, id, cfg);
	if (len < 0)
		return len;
	return qkd__transact(h, req, (size_t)len, seq, h->family, NULL, NULL,
			     NULL);
}

struct get_arg {
	struct qkd_pool_info *info;
	int found;
};

static int get_cb(const void *msg, size_t len, void *arg)
{
	struct get_arg *ga = arg;
	int ret;

	if (ga->found)
		return -EPROTO;
	ret = qkd__parse_pool(msg, len, ga->info);
	if (!ret)
		ga->found = 1;
	return ret;
}

QKD_EXPORT int qkd_pool_get(struct qkd *h, uint32_t id, const char *name,
			    struct qkd_pool_info *info)
{
	uint8_t req[QKD_REQ_BUF];
	struct get_arg ga = { .info = info };
	uint32_t seq;
	int len, ret;

	if ((ret = check_handle(h)))
		return ret;
	if (!info)
		return -EINVAL;
	seq = qkd__next_seq(h);
	len = qkd__build_pool_get(req, sizeof(req), h->family, seq, id, name);
	if (len < 0)
		return len;
	ret = qkd__transact(h, req, (size_t)len, seq, h->family, get_cb, &ga,
			    NULL);
	if (ret)
		return ret;
	return ga.found ? 0 : -EPROTO;
}

QKD_EXPORT int qkd_pool_del(struct qkd *h, uint32_t id, const char *name)
{
	uint8_t req[QKD_REQ_BUF];
	uint32_t seq;
	int len, ret;

	if ((ret = check_handle(h)))
		return ret;
	seq = qkd__next_seq(h);
	len = qkd__build_pool_del(req, sizeof(req), h->family, seq, id, name);
	if (len < 0)
		return len;
	return qkd__transact(h, req, (size_t)len, seq, h->family, NULL, NULL,
			     NULL);
}

struct list_arg {
	qkd_pool_cb cb;
	void *arg;
};

static int list_cb(const void *msg, size_t len, void *arg)
{
	struct list_arg *la = arg;
	struct qkd_pool_info info;
	int ret;

	ret = qkd__parse_pool(msg, len, &info);
	if (ret)
		return ret;
	ret = la->cb(&info, la->arg);
	return ret < 0 ? ret : 0;
}

static int pool_dump(struct qkd *h, qkd_pool_cb cb, void *arg, int *intr)
{
	uint8_t req[QKD_REQ_BUF];
	struct list_arg la = { .cb = cb, .arg = arg };
	uint32_t seq;
	int len;

	seq = qkd__next_seq(h);
	len = qkd__build_pool_dump(req, sizeof(req), h->family, seq);
	if (len < 0)
		return len;
	return qkd__transact(h, req, (size_t)len, seq, h->family, list_cb, &la,
			     intr);
}

QKD_EXPORT int qkd_pool_list(struct qkd *h, qkd_pool_cb cb, void *arg)
{
	int intr = 0, ret;

	if ((ret = check_handle(h)))
		return ret;
	if (!cb)
		return -EINVAL;
	ret = pool_dump(h, cb, arg, &intr);
	if (!ret && intr) {
		qkd__set_error(h, "pools changed during the dump; dump again");
		return -EINTR;
	}
	return ret;
}

struct array {
	struct qkd_pool_info *v;
	size_t n, cap;
};

static int array_cb(const struct qkd_pool_info *info, void *arg)
{
	struct array *a = arg;

	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 16;
		struct qkd_pool_info *v;

		v = reallocarray(a->v, cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = *info;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct qkd_pool_info *)a)->name,
		      ((const struct qkd_pool_info *)b)->name);
}

QKD_EXPORT int qkd_pool_list_alloc(struct qkd *h,
				   struct qkd_pool_info **pools, size_t *count)
{
	int ret;

	if ((ret = check_handle(h)))
		return ret;
	if (!pools || !count)
		return -EINVAL;
	for (int attempt = 0; attempt < 5; attempt++) {
		struct array a = { 0 };
		int intr = 0;

		ret = pool_dump(h, array_cb, &a, &intr);
		if (!ret && intr)
			ret = -EINTR;
		if (ret) {
			free(a.v);
			if (ret == -EINTR)
				continue;
			return ret;
		}
		if (a.n)
			qsort(a.v, a.n, sizeof(*a.v), by_name);
		*pools = a.v;
		*count = a.n;
		return 0;
	}
	qkd__set_error(h, "pools kept changing during the dump");
	return ret;
}

static int ke_report(struct qkd *h, uint32_t id, uint32_t outcome,
		     uint32_t reason)
{
	uint8_t req[QKD_REQ_BUF];
	uint32_t seq;
	int len;

	seq = qkd__next_seq(h);
	len = qkd__build_ke_report(req, sizeof(req), h->family, seq, id,
				   outcome, reason);
	if (len == -EINVAL) {
		if (outcome > QKD_KE_OUTCOME_REFUSED)
			qkd__set_error(h, "unknown outcome %u", outcome);
		else if (reason > QKD_KE_REASON_MAX)
			qkd__set_error(h, "unknown reason %u", reason);
		else if (reason != QKD_KE_REASON_NONE)
			qkd__set_error(h, "outcome qkd takes no reason");
		else
			qkd__set_error(h, "outcome qkd needs a pool ID");
	}
	if (len < 0)
		return len;
	return qkd__transact(h, req, (size_t)len, seq, h->family, NULL, NULL,
			     NULL);
}

QKD_EXPORT int qkd_ke_report(struct qkd *h, uint32_t id, uint32_t outcome)
{
	int ret;

	if ((ret = check_handle(h)))
		return ret;
	/* Pool ID 0 stays an error here: it is not "no pool" by accident. */
	if (!id) {
		qkd__set_error(h, "pool ID 0 (use qkd_ke_report_reason() for no pool)");
		return -EINVAL;
	}
	return ke_report(h, id, outcome, QKD_KE_REASON_NONE);
}

QKD_EXPORT int qkd_ke_report_reason(struct qkd *h, uint32_t id,
				    uint32_t outcome, uint32_t reason)
{
	int ret;

	if ((ret = check_handle(h)))
		return ret;
	return ke_report(h, id, outcome, reason);
}

struct ke_stats_arg {
	struct qkd_ke_stats *ke;
	int found;
};

static int ke_stats_cb(const void *msg, size_t len, void *arg)
{
	struct ke_stats_arg *ka = arg;
	int ret;

	if (ka->found)
		return -EPROTO;
	ret = qkd__parse_ke_stats_reply(msg, len, ka->ke);
	if (!ret)
		ka->found = 1;
	return ret;
}

QKD_EXPORT int qkd_ke_stats_get(struct qkd *h, struct qkd_ke_stats *ke)
{
	uint8_t req[QKD_REQ_BUF];
	struct qkd_ke_stats got;
	struct ke_stats_arg ka = { .ke = &got };
	uint32_t seq;
	int len, ret;

	if ((ret = check_handle(h)))
		return ret;
	if (!ke)
		return -EINVAL;
	seq = qkd__next_seq(h);
	len = qkd__build_ke_stats_get(req, sizeof(req), h->family, seq);
	if (len < 0)
		return len;
	ret = qkd__transact(h, req, (size_t)len, seq, h->family, ke_stats_cb,
			    &ka, NULL);
	/* A module from before ke-stats-get does not know the command. */
	if (ret == -EOPNOTSUPP && !h->err[0])
		qkd__set_error(h, "the qkdpool module has no namespace key exchange counters");
	if (ret)
		return ret;
	if (!ka.found) {
		qkd__set_error(h, "the kernel's reply lacks ke-stats");
		return -EPROTO;
	}
	*ke = got;
	return 0;
}

QKD_EXPORT uint64_t qkd_ke_unspecified(const struct qkd_ke_stats *ke)
{
	uint64_t without, sum = 0;

	if (!ke)
		return 0;
	without = ke->fallback + ke->refused;
	for (int r = QKD_KE_REASON_NONE + 1; r <= QKD_KE_REASON_MAX; r++)
		sum += ke->reasons[r];
	return without >= sum ? without - sum : 0;
}

/* ---- keys ----------------------------------------------------------- */

QKD_EXPORT void qkd_key_wipe(struct qkd_key *keys, size_t n)
{
	if (keys && n)
		explicit_bzero(keys, n * sizeof(*keys));
}

QKD_EXPORT int qkd_key_add(struct qkd *h, uint32_t id, int dir,
			   const struct qkd_key *keys, size_t n)
{
	uint32_t seq;
	uint8_t *req;
	size_t cap;
	int len, ret;

	if ((ret = check_handle(h)))
		return ret;
	if (n > QKD_BATCH_MAX) {
		qkd__set_error(h, "at most %d keys per batch", QKD_BATCH_MAX);
		return -E2BIG;
	}
	cap = qkd__key_add_size(n);
	req = malloc(cap);
	if (!req)
		return -ENOMEM;
	seq = qkd__next_seq(h);
	len = qkd__build_key_add(req, cap, h->family, seq, id, dir, keys, n);
	if (len < 0)
		ret = len;
	else
		ret = qkd__transact(h, req, (size_t)len, seq, h->family, NULL,
				    NULL, NULL);
	explicit_bzero(req, cap);
	free(req);
	return ret;
}

struct take_arg {
	struct qkd_key *key;
	int found;
};

static int take_cb(const void *msg, size_t len, void *arg)
{
	struct take_arg *ta = arg;
	int ret;

	if (ta->found)
		return -EPROTO;
	ret = qkd__parse_take_reply(msg, len, ta->key);
	if (!ret)
		ta->found = 1;
	return ret;
}

static int key_take(struct qkd *h, uint32_t id, int dir,
		    const uint8_t *key_id, const uint8_t *tag,
		    struct qkd_key *key)
{
	uint8_t req[QKD_REQ_BUF];
	struct take_arg ta = { .key = key };
	uint32_t seq;
	int len, ret;

	if ((ret = check_handle(h)))
		return ret;
	if (!key)
		return -EINVAL;
	seq = qkd__next_seq(h);
	len = qkd__build_key_take(req, sizeof(req), h->family, seq, id, dir,
				  key_id, tag);
	if (len < 0)
		return len;
	ret = qkd__transact(h, req, (size_t)len, seq, h->family, take_cb, &ta,
			    NULL);
	if (!ret && !ta.found)
		ret = -EPROTO;
	if (ret)
		qkd_key_wipe(key, 1);
	return ret;
}

QKD_EXPORT int qkd_key_take_next(struct qkd *h, uint32_t id,
				 struct qkd_key *key)
{
	return key_take(h, id, QKD_DIRECTION_OUT, NULL, NULL, key);
}

QKD_EXPORT int qkd_key_take_id(struct qkd *h, uint32_t id,
			       const uint8_t key_id[QKD_KEY_ID_LEN],
			       const uint8_t *tag, struct qkd_key *key)
{
	if (!key_id)
		return -EINVAL;
	return key_take(h, id, QKD_DIRECTION_IN, key_id, tag, key);
}

static int flush_cb(const void *msg, size_t len, void *arg)
{
	return qkd__parse_flush_reply(msg, len, arg);
}

QKD_EXPORT int qkd_key_flush(struct qkd *h, uint32_t id, int dir,
			     uint32_t *count)
{
	uint8_t req[QKD_REQ_BUF];
	uint32_t seq, n = 0;
	int len, ret;

	if ((ret = check_handle(h)))
		return ret;
	seq = qkd__next_seq(h);
	len = qkd__build_key_flush(req, sizeof(req), h->family, seq, id, dir);
	if (len < 0)
		return len;
	ret = qkd__transact(h, req, (size_t)len, seq, h->family, flush_cb, &n,
			    NULL);
	if (!ret && count)
		*count = n;
	return ret;
}
