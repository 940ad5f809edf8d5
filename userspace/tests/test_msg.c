// SPDX-License-Identifier: GPL-2.0
/* Request builders: parse what they wrote back, attribute by attribute. */
#include <errno.h>
#include <string.h>
#include <linux/genetlink.h>
#include "tests.h"
#include "internal.h"

#define FAM 0x1f

static uint8_t buf[65536] __attribute__((aligned(4)));

/* Check the headers and index the attributes of a built request. */
static void open_req(int len, uint8_t cmd, uint16_t flags, uint32_t seq,
		     struct qkd_attr *tb, unsigned int max, int *nkeys)
{
	const uint8_t *attrs;
	struct nlmsghdr nlh;
	size_t alen;
	uint8_t c;
	int n;

	ck_assert_int_gt(len, 0);
	memcpy(&nlh, buf, sizeof(nlh));
	ck_assert_uint_eq(nlh.nlmsg_len, (unsigned int)len);
	ck_assert_uint_eq(nlh.nlmsg_len % 4, 0);
	ck_assert_uint_eq(nlh.nlmsg_type, max == CTRL_ATTR_MAX ?
			  GENL_ID_CTRL : FAM);
	ck_assert_uint_eq(nlh.nlmsg_flags, NLM_F_REQUEST | flags);
	ck_assert_uint_eq(nlh.nlmsg_seq, seq);
	ck_assert_int_eq(qkd__genl_payload(buf, (size_t)len, &c, &attrs,
					   &alen), 0);
	ck_assert_uint_eq(c, cmd);
	n = qkd__attrs(attrs, alen, tb, max, QKD_A_POOL_KEY);
	ck_assert_int_ge(n, 0);
	if (nkeys)
		*nkeys = n;
}

static uint32_t u32(const struct qkd_attr *a)
{
	uint32_t v;

	ck_assert_ptr_nonnull(a->data);
	ck_assert_uint_eq(a->len, 4);
	memcpy(&v, a->data, 4);
	return v;
}

START_TEST(build_getfamily)
{
	struct qkd_attr tb[CTRL_ATTR_MAX + 1];
	int len = qkd__build_getfamily(buf, sizeof(buf), 9, "qkd");

	open_req(len, CTRL_CMD_GETFAMILY, NLM_F_ACK, 9, tb, CTRL_ATTR_MAX,
		 NULL);
	ck_assert_uint_eq(tb[CTRL_ATTR_FAMILY_NAME].len, 4);
	ck_assert_str_eq((const char *)tb[CTRL_ATTR_FAMILY_NAME].data, "qkd");
}
END_TEST

START_TEST(build_pool_new_only_given_fields)
{
	struct qkd_pool_config cfg = {
		.name = "peer-a",
		.fields = QKD_POOL_CAPACITY | QKD_POOL_MAX_AGE,
		.key_size = 99,		/* not in fields: not sent */
		.capacity = 128,
		.max_age = 60,
	};
	struct qkd_attr tb[QKD_A_POOL_MAX + 1];
	int len = qkd__build_pool_new(buf, sizeof(buf), FAM, 5, &cfg);

	open_req(len, QKD_CMD_POOL_NEW, NLM_F_ACK, 5, tb, QKD_A_POOL_MAX,
		 NULL);
	ck_assert_str_eq((const char *)tb[QKD_A_POOL_NAME].data, "peer-a");
	ck_assert_uint_eq(tb[QKD_A_POOL_NAME].len, 7);
	ck_assert_uint_eq(u32(&tb[QKD_A_POOL_CAPACITY]), 128);
	ck_assert_uint_eq(u32(&tb[QKD_A_POOL_MAX_AGE]), 60);
	ck_assert_ptr_null(tb[QKD_A_POOL_KEY_SIZE].data);
	ck_assert_ptr_null(tb[QKD_A_POOL_LOW_WATERMARK].data);
	ck_assert_ptr_null(tb[QKD_A_POOL_HIGH_WATERMARK].data);
	ck_assert_ptr_null(tb[QKD_A_POOL_ID].data);
}
END_TEST

START_TEST(build_pool_new_bad_name)
{
	struct qkd_pool_config cfg = { .name = "" };

	ck_assert_int_eq(qkd__build_pool_new(buf, sizeof(buf), FAM, 1, &cfg),
			 -EINVAL);
	memset(cfg.name, 'a', QKD_POOL_NAME_MAX_LEN);
	ck_assert_int_gt(qkd__build_pool_new(buf, sizeof(buf), FAM, 1, &cfg),
			 0);
	ck_assert_int_eq(qkd__build_pool_new(buf, 20, FAM, 1, &cfg),
			 -EMSGSIZE);
	ck_assert_int_eq(qkd__build_pool_new(buf, sizeof(buf), FAM, 1, NULL),
			 -EINVAL);
}
END_TEST

START_TEST(build_pool_set)
{
	struct qkd_pool_config cfg = {
		.fields = QKD_POOL_KEY_SIZE | QKD_POOL_LOW | QKD_POOL_HIGH,
		.key_size = 16, .low_watermark = 10, .high_watermark = 20,
	};
	struct qkd_attr tb[QKD_A_POOL_MAX + 1];
	int len = qkd__build_pool_set(buf, sizeof(buf), FAM, 6, 42, &cfg);

	open_req(len, QKD_CMD_POOL_SET, NLM_F_ACK, 6, tb, QKD_A_POOL_MAX,
		 NULL);
	ck_assert_uint_eq(u32(&tb[QKD_A_POOL_ID]), 42);
	ck_assert_uint_eq(u32(&tb[QKD_A_POOL_KEY_SIZE]), 16);
	ck_assert_uint_eq(u32(&tb[QKD_A_POOL_LOW_WATERMARK]), 10);
	ck_assert_uint_eq(u32(&tb[QKD_A_POOL_HIGH_WATERMARK]), 20);
	ck_assert_ptr_null(tb[QKD_A_POOL_CAPACITY].data);
	ck_assert_ptr_null(tb[QKD_A_POOL_NAME].data);
	ck_assert_int_eq(qkd__build_pool_set(buf, sizeof(buf), FAM, 6, 0,
					     &cfg), -EINVAL);

	/* A name with the ID renames. */
	cfg.fields = QKD_POOL_RENAME;
	strcpy(cfg.name, "osaka-2");
	len = qkd__build_pool_set(buf, sizeof(buf), FAM, 7, 42, &cfg);
	open_req(len, QKD_CMD_POOL_SET, NLM_F_ACK, 7, tb, QKD_A_POOL_MAX,
		 NULL);
	ck_assert_uint_eq(u32(&tb[QKD_A_POOL_ID]), 42);
	ck_assert_str_eq((const char *)tb[QKD_A_POOL_NAME].data, "osaka-2");
	cfg.name[0] = '\0';
	ck_assert_int_eq(qkd__build_pool_set(buf, sizeof(buf), FAM, 7, 42,
					     &cfg), -EINVAL);
}
END_TEST

START_TEST(build_pool_get_del_dump)
{
	struct qkd_attr tb[QKD_A_POOL_MAX + 1];
	int len;

	len = qkd__build_pool_get(buf, sizeof(buf), FAM, 7, 4, NULL);
	open_req(len, QKD_CMD_POOL_GET, NLM_F_ACK, 7, tb, QKD_A_POOL_MAX,
		 NULL);
	ck_assert_uint_eq(u32(&tb[QKD_A_POOL_ID]), 4);
	ck_assert_ptr_null(tb[QKD_A_POOL_NAME].data);

	len = qkd__build_pool_get(buf, sizeof(buf), FAM, 8, 0, "p");
	open_req(len, QKD_CMD_POOL_GET, NLM_F_ACK, 8, tb, QKD_A_POOL_MAX,
		 NULL);
	ck_assert_ptr_null(tb[QKD_A_POOL_ID].data);
	ck_assert_str_eq((const char *)tb[QKD_A_POOL_NAME].data, "p");

	ck_assert_int_eq(qkd__build_pool_get(buf, sizeof(buf), FAM, 8, 0,
					     NULL), -EINVAL);

	len = qkd__build_pool_del(buf, sizeof(buf), FAM, 9, 0, "p");
	open_req(len, QKD_CMD_POOL_DEL, NLM_F_ACK, 9, tb, QKD_A_POOL_MAX,
		 NULL);
	ck_assert_str_eq((const char *)tb[QKD_A_POOL_NAME].data, "p");

	len = qkd__build_pool_dump(buf, sizeof(buf), FAM, 10);
	open_req(len, QKD_CMD_POOL_GET, NLM_F_DUMP, 10, tb, QKD_A_POOL_MAX,
		 NULL);
	ck_assert_int_eq(len, NLMSG_HDRLEN + GENL_HDRLEN);
}
END_TEST

START_TEST(build_key_add_batch)
{
	static struct qkd_key keys[QKD_BATCH_MAX + 1];
	struct qkd_attr tb[QKD_A_POOL_MAX + 1], k[QKD_A_KEY_MAX + 1];
	const uint8_t *attrs;
	size_t alen, off = 0;
	int len, n, seen = 0;

	for (int i = 0; i < QKD_BATCH_MAX + 1; i++) {
		memset(keys[i].id, i & 0xff, QKD_KEY_ID_LEN);
		keys[i].id[0] = (uint8_t)(i >> 8);
		memset(keys[i].material, 0xa5, QKD_KEY_SIZE_MAX);
		keys[i].len = QKD_KEY_SIZE_MAX;
	}
	/* The largest batch fits the size qkd_key_add() allocates. */
	len = qkd__build_key_add(buf, qkd__key_add_size(QKD_BATCH_MAX), FAM,
				 11, 2, QKD_DIRECTION_IN, keys, QKD_BATCH_MAX);
	open_req(len, QKD_CMD_KEY_ADD, NLM_F_ACK, 11, tb, QKD_A_POOL_MAX, &n);
	ck_assert_int_eq(n, QKD_BATCH_MAX);
	ck_assert_uint_eq(u32(&tb[QKD_A_POOL_ID]), 2);
	ck_assert_uint_eq(u32(&tb[QKD_A_POOL_DIRECTION]), QKD_DIRECTION_IN);

	/* Walk every key nest in order. */
	qkd__genl_payload(buf, (size_t)len, NULL, &attrs, &alen);
	while (off < alen) {
		uint16_t al, at;

		memcpy(&al, attrs + off, 2);
		memcpy(&at, attrs + off + 2, 2);
		if (at == (NLA_F_NESTED | QKD_A_POOL_KEY)) {
			ck_assert_int_eq(qkd__attrs(attrs + off + 4, al - 4u, k,
						    QKD_A_KEY_MAX, 0), 0);
			ck_assert_uint_eq(k[QKD_A_KEY_ID].len, QKD_KEY_ID_LEN);
			ck_assert_mem_eq(k[QKD_A_KEY_ID].data, keys[seen].id,
					 QKD_KEY_ID_LEN);
			ck_assert_uint_eq(k[QKD_A_KEY_MATERIAL].len,
					  QKD_KEY_SIZE_MAX);
			seen++;
		}
		off += (al + 3u) & ~3u;
	}
	ck_assert_int_eq(seen, QKD_BATCH_MAX);

	ck_assert_int_eq(qkd__build_key_add(buf, sizeof(buf), FAM, 1, 2, 0,
					    keys, QKD_BATCH_MAX + 1), -E2BIG);
	ck_assert_int_eq(qkd__build_key_add(buf, 200, FAM, 1, 2, 0, keys, 4),
			 -EMSGSIZE);
	ck_assert_int_eq(qkd__build_key_add(buf, sizeof(buf), FAM, 1, 2, 2,
					    keys, 1), -EINVAL);
	ck_assert_int_eq(qkd__build_key_add(buf, sizeof(buf), FAM, 1, 0, 0,
					    keys, 1), -EINVAL);
	ck_assert_int_eq(qkd__build_key_add(buf, sizeof(buf), FAM, 1, 2, 0,
					    keys, 0), -EINVAL);
	keys[0].len = 15;
	ck_assert_int_eq(qkd__build_key_add(buf, sizeof(buf), FAM, 1, 2, 0,
					    keys, 1), -EINVAL);
}
END_TEST

START_TEST(build_key_take)
{
	struct qkd_attr tb[QKD_A_POOL_MAX + 1];
	uint8_t id[QKD_KEY_ID_LEN], tag[QKD_TAG_LEN];
	int len;

	memset(id, 1, sizeof(id));
	memset(tag, 2, sizeof(tag));
	len = qkd__build_key_take(buf, sizeof(buf), FAM, 12, 3,
				  QKD_DIRECTION_OUT, NULL, NULL);
	open_req(len, QKD_CMD_KEY_TAKE, NLM_F_ACK, 12, tb, QKD_A_POOL_MAX,
		 NULL);
	ck_assert_uint_eq(u32(&tb[QKD_A_POOL_DIRECTION]), QKD_DIRECTION_OUT);
	ck_assert_ptr_null(tb[QKD_A_POOL_KEY_ID].data);

	len = qkd__build_key_take(buf, sizeof(buf), FAM, 13, 3,
				  QKD_DIRECTION_IN, id, tag);
	open_req(len, QKD_CMD_KEY_TAKE, NLM_F_ACK, 13, tb, QKD_A_POOL_MAX,
		 NULL);
	ck_assert_uint_eq(tb[QKD_A_POOL_KEY_ID].len, QKD_KEY_ID_LEN);
	ck_assert_mem_eq(tb[QKD_A_POOL_KEY_ID].data, id, QKD_KEY_ID_LEN);
	ck_assert_uint_eq(tb[QKD_A_POOL_TAG].len, QKD_TAG_LEN);
	ck_assert_mem_eq(tb[QKD_A_POOL_TAG].data, tag, QKD_TAG_LEN);

	len = qkd__build_key_take(buf, sizeof(buf), FAM, 14, 3,
				  QKD_DIRECTION_IN, id, NULL);
	open_req(len, QKD_CMD_KEY_TAKE, NLM_F_ACK, 14, tb, QKD_A_POOL_MAX,
		 NULL);
	ck_assert_ptr_null(tb[QKD_A_POOL_TAG].data);

	ck_assert_int_eq(qkd__build_key_take(buf, sizeof(buf), FAM, 1, 3,
					     QKD_DIRECTION_IN, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(qkd__build_key_take(buf, sizeof(buf), FAM, 1, 3,
					     QKD_DIRECTION_OUT, id, NULL),
			 -EINVAL);
}
END_TEST

START_TEST(build_key_flush)
{
	struct qkd_attr tb[QKD_A_POOL_MAX + 1];
	int len;

	len = qkd__build_key_flush(buf, sizeof(buf), FAM, 15, 3,
				   QKD_DIRECTION_BOTH);
	open_req(len, QKD_CMD_KEY_FLUSH, NLM_F_ACK, 15, tb, QKD_A_POOL_MAX,
		 NULL);
	ck_assert_ptr_null(tb[QKD_A_POOL_DIRECTION].data);
	len = qkd__build_key_flush(buf, sizeof(buf), FAM, 16, 3,
				   QKD_DIRECTION_IN);
	open_req(len, QKD_CMD_KEY_FLUSH, NLM_F_ACK, 16, tb, QKD_A_POOL_MAX,
		 NULL);
	ck_assert_uint_eq(u32(&tb[QKD_A_POOL_DIRECTION]), QKD_DIRECTION_IN);
	ck_assert_int_eq(qkd__build_key_flush(buf, sizeof(buf), FAM, 1, 3, 5),
			 -EINVAL);
}
END_TEST

START_TEST(build_ke_report)
{
	struct qkd_attr tb[QKD_A_POOL_MAX + 1];
	int len;

	/* Without a reason: exactly the old request, no reason attribute. */
	for (uint32_t o = QKD_KE_OUTCOME_QKD; o <= QKD_KE_OUTCOME_REFUSED; o++) {
		len = qkd__build_ke_report(buf, sizeof(buf), FAM, 20 + o, 3, o,
					   QKD_KE_REASON_NONE);
		open_req(len, QKD_CMD_KE_REPORT, NLM_F_ACK, 20 + o, tb,
			 QKD_A_POOL_MAX, NULL);
		ck_assert_uint_eq(u32(&tb[QKD_A_POOL_ID]), 3);
		ck_assert_uint_eq(u32(&tb[QKD_A_POOL_KE_OUTCOME]), o);
		ck_assert_ptr_null(tb[QKD_A_POOL_KE_REASON].data);
	}
	/* Refused before anything is sent: qkd with pool 0, bad outcome. */
	ck_assert_int_eq(qkd__build_ke_report(buf, sizeof(buf), FAM, 1, 0,
					      QKD_KE_OUTCOME_QKD,
					      QKD_KE_REASON_NONE), -EINVAL);
	ck_assert_int_eq(qkd__build_ke_report(buf, sizeof(buf), FAM, 1, 3,
					      QKD_KE_OUTCOME_REFUSED + 1,
					      QKD_KE_REASON_NONE), -EINVAL);
	/* Too small a buffer. */
	ck_assert_int_eq(qkd__build_ke_report(buf, 24, FAM, 1, 3,
					      QKD_KE_OUTCOME_QKD,
					      QKD_KE_REASON_NONE), -EMSGSIZE);
}
END_TEST

START_TEST(build_ke_report_reason)
{
	struct qkd_attr tb[QKD_A_POOL_MAX + 1];
	int len;

	for (uint32_t r = QKD_KE_REASON_NO_OFFER; r <= QKD_KE_REASON_MAX; r++) {
		len = qkd__build_ke_report(buf, sizeof(buf), FAM, r, 7,
					   QKD_KE_OUTCOME_FALLBACK, r);
		open_req(len, QKD_CMD_KE_REPORT, NLM_F_ACK, r, tb,
			 QKD_A_POOL_MAX, NULL);
		ck_assert_uint_eq(u32(&tb[QKD_A_POOL_ID]), 7);
		ck_assert_uint_eq(u32(&tb[QKD_A_POOL_KE_OUTCOME]),
				  QKD_KE_OUTCOME_FALLBACK);
		ck_assert_uint_eq(u32(&tb[QKD_A_POOL_KE_REASON]), r);
	}
	/* Pool 0: no pool ID attribute at all (the namespace's counters). */
	len = qkd__build_ke_report(buf, sizeof(buf), FAM, 40, 0,
				   QKD_KE_OUTCOME_REFUSED,
				   QKD_KE_REASON_NO_POOL);
	open_req(len, QKD_CMD_KE_REPORT, NLM_F_ACK, 40, tb, QKD_A_POOL_MAX,
		 NULL);
	ck_assert_ptr_null(tb[QKD_A_POOL_ID].data);
	ck_assert_uint_eq(u32(&tb[QKD_A_POOL_KE_OUTCOME]),
			  QKD_KE_OUTCOME_REFUSED);
	ck_assert_uint_eq(u32(&tb[QKD_A_POOL_KE_REASON]),
			  QKD_KE_REASON_NO_POOL);
	/* ...and without a reason either: the outcome alone. */
	len = qkd__build_ke_report(buf, sizeof(buf), FAM, 41, 0,
				   QKD_KE_OUTCOME_FALLBACK,
				   QKD_KE_REASON_NONE);
	open_req(len, QKD_CMD_KE_REPORT, NLM_F_ACK, 41, tb, QKD_A_POOL_MAX,
		 NULL);
	ck_assert_ptr_null(tb[QKD_A_POOL_ID].data);
	ck_assert_ptr_null(tb[QKD_A_POOL_KE_REASON].data);
	/* What the kernel would refuse is not sent. */
	ck_assert_int_eq(qkd__build_ke_report(buf, sizeof(buf), FAM, 1, 3,
					      QKD_KE_OUTCOME_QKD,
					      QKD_KE_REASON_EMPTY), -EINVAL);
	ck_assert_int_eq(qkd__build_ke_report(buf, sizeof(buf), FAM, 1, 3,
					      QKD_KE_OUTCOME_FALLBACK,
					      QKD_KE_REASON_MAX + 1), -EINVAL);
	ck_assert_int_eq(qkd__build_ke_report(buf, sizeof(buf), FAM, 1, 0,
					      QKD_KE_OUTCOME_FALLBACK,
					      UINT32_MAX), -EINVAL);
	/* Room for the ID and the outcome, not the reason. */
	ck_assert_int_eq(qkd__build_ke_report(buf, 36, FAM, 1, 3,
					      QKD_KE_OUTCOME_FALLBACK,
					      QKD_KE_REASON_EMPTY), -EMSGSIZE);
}
END_TEST

START_TEST(build_ke_stats_get)
{
	struct qkd_attr tb[QKD_A_POOL_MAX + 1];
	int len, n = 0;

	len = qkd__build_ke_stats_get(buf, sizeof(buf), FAM, 77);
	open_req(len, QKD_CMD_KE_STATS_GET, NLM_F_ACK, 77, tb, QKD_A_POOL_MAX,
		 NULL);
	/* No attribute at all. */
	ck_assert_int_eq(len, NLMSG_HDRLEN + GENL_HDRLEN);
	for (int i = 0; i <= QKD_A_POOL_MAX; i++)
		n += tb[i].data != NULL;
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(qkd__build_ke_stats_get(buf, 8, FAM, 1), -EMSGSIZE);
}
END_TEST

Suite *msg_suite(void)
{
	Suite *s = suite_create("msg");
	TCase *tc = tcase_create("builders");

	tcase_add_test(tc, build_getfamily);
	tcase_add_test(tc, build_pool_new_only_given_fields);
	tcase_add_test(tc, build_pool_new_bad_name);
	tcase_add_test(tc, build_pool_set);
	tcase_add_test(tc, build_pool_get_del_dump);
	tcase_add_test(tc, build_key_add_batch);
	tcase_add_test(tc, build_key_take);
	tcase_add_test(tc, build_key_flush);
	tcase_add_test(tc, build_ke_report);
	tcase_add_test(tc, build_ke_report_reason);
	tcase_add_test(tc, build_ke_stats_get);
	suite_add_tcase(s, tc);
	return s;
}
