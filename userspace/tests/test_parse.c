// SPDX-License-Identifier: GPL-2.0
/*
 * Reply and notification parsers against recorded buffers built as the
 * kernel builds them (kmsg.c), and against truncated and malformed ones.
 * Every parse of a damaged buffer runs on an exact-size heap copy, so that
 * AddressSanitizer catches any read past its end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/genetlink.h>
#include "tests.h"
#include "internal.h"
#include "kmsg.h"

static uint8_t buf[8192] __attribute__((aligned(4)));

static uint8_t *dup_exact(const void *src, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(p);
	memcpy(p, src, n);
	return p;
}

/* Patch the nlmsg_len of the message at @msg. */
static void set_len(void *msg, uint32_t len)
{
	memcpy(msg, &len, sizeof(len));
}

/* Find the first attribute of @type at the top level of a genl message. */
static uint8_t *find_attr(uint8_t *msg, uint16_t type)
{
	struct nlmsghdr nlh;
	size_t off = NLMSG_HDRLEN + GENL_HDRLEN;

	memcpy(&nlh, msg, sizeof(nlh));
	while (off + 4 <= nlh.nlmsg_len) {
		uint16_t al, at;

		memcpy(&al, msg + off, 2);
		memcpy(&at, msg + off + 2, 2);
		if ((at & NLA_TYPE_MASK) == type)
			return msg + off;
		off += (al + 3u) & ~3u;
	}
	ck_abort_msg("attribute %u not found", type);
	return NULL;
}

static void set_nla_len(uint8_t *attr, uint16_t len)
{
	memcpy(attr, &len, 2);
}

static int parse_pool_exact(const uint8_t *src, size_t len,
			    struct qkd_pool_info *info)
{
	uint8_t *p = dup_exact(src, len);
	int ret = qkd__parse_pool(p, len, info);

	free(p);
	return ret;
}

START_TEST(pool_roundtrip)
{
	struct qkd_pool_info want, got;
	size_t len;

	kmsg_sample_pool(&want);
	for (int wide = 0; wide < 2; wide++) {
		len = kmsg_pool(buf, sizeof(buf), 1, 0, &want, wide);
		memset(&got, 0xff, sizeof(got));
		ck_assert_int_eq(parse_pool_exact(buf, len, &got), 0);
		ck_assert_mem_eq(&got, &want, sizeof(got));
	}
}
END_TEST

START_TEST(pool_big_counters)
{
	struct qkd_pool_info want, got;
	size_t len;

	kmsg_sample_pool(&want);
	want.dir[0].added = 0x123456789abcULL;
	want.dir[1].bytes_taken = UINT64_MAX;
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &want, 0);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), 0);
	ck_assert_uint_eq(got.dir[0].added, 0x123456789abcULL);
	ck_assert_uint_eq(got.dir[1].bytes_taken, UINT64_MAX);
}
END_TEST

START_TEST(pool_truncated_everywhere)
{
	struct qkd_pool_info p, got;
	size_t len;

	kmsg_sample_pool(&p);
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 1);
	/* The datagram cut short: nlmsg_len says more than there is. */
	for (size_t i = 0; i < len; i++)
		ck_assert_int_eq(parse_pool_exact(buf, i, &got), -EPROTO);
}
END_TEST

START_TEST(pool_shortened_message)
{
	struct qkd_pool_info p, got;
	size_t len;
	int ok = 0;

	kmsg_sample_pool(&p);
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 1);
	/*
	 * nlmsg_len consistent with the buffer but cutting attributes: either
	 * rejected, or (cut between whole attributes after the required
	 * ones) parsed with what is there.  Never an out-of-bounds read.
	 */
	for (size_t i = NLMSG_HDRLEN; i < len; i++) {
		uint8_t *c = dup_exact(buf, i);

		set_len(c, (uint32_t)i);
		if (!qkd__parse_pool(c, i, &got))
			ok++;
		free(c);
	}
	ck_assert_int_lt(ok, 40);
}
END_TEST

START_TEST(pool_missing_required)
{
	struct qkd_pool_info p, got;
	size_t len;
	uint8_t *a;

	kmsg_sample_pool(&p);
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	/* Rename the ID attribute to an unknown type: ID is now missing. */
	a = find_attr(buf, QKD_A_POOL_ID);
	a[2] = 200;
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);

	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	a = find_attr(buf, QKD_A_POOL_NAME);
	a[2] = 200;
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);

	p.id = 0;	/* pool IDs start at 1 */
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);
}
END_TEST

START_TEST(pool_bad_name)
{
	struct qkd_pool_info p, got;
	size_t len;
	uint8_t *a;

	kmsg_sample_pool(&p);
	strcpy(p.name, "has space");
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);

	strcpy(p.name, "ctl\x1b[31m");
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);

	/* No NUL in the attribute. */
	strcpy(p.name, "abc");
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	a = find_attr(buf, QKD_A_POOL_NAME);
	a[4 + 3] = 'd';
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);

	/* 65 characters: one too many. */
	memset(p.name, 'x', sizeof(p.name));
	p.name[64] = '\0';
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), 0);
	ck_assert_uint_eq(strlen(got.name), 64);
	a = find_attr(buf, QKD_A_POOL_NAME);
	a[4 + 64] = 'x';	/* overwrite the NUL ... */
	a[4 + 65] = '\0';	/* ... with the padding after it */
	set_nla_len(a, 4 + 66);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);
}
END_TEST

START_TEST(pool_bad_u32_length)
{
	struct qkd_pool_info p, got;
	size_t len;
	uint8_t *a;

	kmsg_sample_pool(&p);
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	a = find_attr(buf, QKD_A_POOL_CAPACITY);
	set_nla_len(a, 4 + 2);	/* a 2-byte "u32" */
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);
}
END_TEST

START_TEST(pool_attr_overflows_message)
{
	struct qkd_pool_info p, got;
	size_t len;
	uint8_t *a;

	kmsg_sample_pool(&p);
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	a = find_attr(buf, QKD_A_POOL_STATS_IN);
	set_nla_len(a, 0xfff0);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);
	set_nla_len(a, 3);	/* shorter than its own header */
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);
}
END_TEST

START_TEST(pool_nested_overflow)
{
	struct qkd_pool_info p, got;
	size_t len;
	uint8_t *a;
	uint16_t inner;

	kmsg_sample_pool(&p);
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	/* The first attribute inside stats-out claims more than its nest. */
	a = find_attr(buf, QKD_A_POOL_STATS_OUT);
	memcpy(&inner, a, 2);
	set_nla_len(a + 4, inner);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);

	/* A bad state value, and a 3-byte uint counter. */
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	a = find_attr(buf, QKD_A_POOL_STATS_OUT);
	a[4 + 4 + 4 + 4] = 9;		/* state follows level */
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	a = find_attr(buf, QKD_A_POOL_STATS_OUT);
	set_nla_len(a + 4 + 16, 4 + 3);	/* added */
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);
}
END_TEST

START_TEST(pool_stats_optional)
{
	struct qkd_pool_info p, got;
	size_t len;
	uint8_t *a;

	kmsg_sample_pool(&p);
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	a = find_attr(buf, QKD_A_POOL_STATS_IN);
	a[2] = 200;	/* unknown type: as if the kernel had not sent it */
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), 0);
	ck_assert(got.dir[QKD_DIRECTION_OUT].present);
	ck_assert(!got.dir[QKD_DIRECTION_IN].present);
	ck_assert_uint_eq(got.dir[QKD_DIRECTION_IN].level, 0);
}
END_TEST

START_TEST(pool_ke_stats)
{
	struct qkd_pool_info p, got;
	size_t len;
	uint8_t *a;

	kmsg_sample_pool(&p);
	p.ke.qkd = UINT64_MAX;		/* 8 bytes on the wire */
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), 0);
	ck_assert(got.ke.present);
	ck_assert_uint_eq(got.ke.qkd, UINT64_MAX);
	ck_assert_uint_eq(got.ke.fallback, 9);
	ck_assert_uint_eq(got.ke.tag_mismatch, 1);
	ck_assert_uint_eq(got.ke.refused, 2);

	/* An older module sends no nest: zeros, and not present. */
	p.ke.present = false;
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	memset(&got, 0xff, sizeof(got));
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), 0);
	ck_assert(!got.ke.present);
	ck_assert_uint_eq(got.ke.qkd, 0);
	ck_assert_uint_eq(got.ke.refused, 0);

	/* Counters left out of the nest read as 0. */
	kmsg_sample_pool(&p);
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	a = find_attr(buf, QKD_A_POOL_KE_STATS);
	a[4 + 2] = 200;			/* qkd, the first: now unknown */
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), 0);
	ck_assert(got.ke.present);
	ck_assert_uint_eq(got.ke.qkd, 0);
	ck_assert_uint_eq(got.ke.fallback, 9);
}
END_TEST

START_TEST(pool_ke_stats_malformed)
{
	struct qkd_pool_info p, got;
	size_t len;
	uint8_t *a;
	uint16_t outer;

	kmsg_sample_pool(&p);
	/* A 3-byte uint counter (fallback, the second attribute). */
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	a = find_attr(buf, QKD_A_POOL_KE_STATS);
	set_nla_len(a + 4 + 8, 4 + 3);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);

	/* A 2-byte uint counter, and a 16-byte one (wide). */
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	a = find_attr(buf, QKD_A_POOL_KE_STATS);
	set_nla_len(a + 4, 4 + 2);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 1);
	a = find_attr(buf, QKD_A_POOL_KE_STATS);
	set_nla_len(a + 4, 4 + 16);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);

	/* The first counter claims more than its nest holds. */
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	a = find_attr(buf, QKD_A_POOL_KE_STATS);
	memcpy(&outer, a, 2);
	set_nla_len(a + 4, outer);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);

	/* The nest itself shorter than a header inside it. */
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	a = find_attr(buf, QKD_A_POOL_KE_STATS);
	set_nla_len(a, 4 + 2);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);
}
END_TEST

/* The reasons nest inside ke-stats (the first attribute of ke-stats' nest). */
static uint8_t *find_reasons(uint8_t *msg)
{
	uint8_t *a = find_attr(msg, QKD_A_POOL_KE_STATS);
	uint16_t al, at, nl;
	size_t off = 4;

	memcpy(&nl, a, 2);
	while (off + 4 <= nl) {
		memcpy(&al, a + off, 2);
		memcpy(&at, a + off + 2, 2);
		if ((at & NLA_TYPE_MASK) == QKD_A_KE_STATS_REASONS)
			return a + off;
		off += (al + 3u) & ~3u;
	}
	ck_abort_msg("no reasons nest");
	return NULL;
}

START_TEST(pool_ke_reasons)
{
	struct qkd_pool_info p, got;
	size_t len;
	uint8_t *r;

	kmsg_sample_pool(&p);
	p.ke.reasons[QKD_KE_REASON_PEER_UNKNOWN] = UINT64_MAX;
	for (int wide = 0; wide < 2; wide++) {
		len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, wide);
		memset(&got, 0xff, sizeof(got));
		ck_assert_int_eq(parse_pool_exact(buf, len, &got), 0);
		ck_assert(got.ke.has_reasons);
		ck_assert_uint_eq(got.ke.reasons[QKD_KE_REASON_NONE], 0);
		ck_assert_uint_eq(got.ke.reasons[QKD_KE_REASON_NO_OFFER], 0);
		ck_assert_uint_eq(got.ke.reasons[QKD_KE_REASON_EMPTY], 4);
		ck_assert_uint_eq(got.ke.reasons[QKD_KE_REASON_UNKNOWN_KEY], 2);
		ck_assert_uint_eq(got.ke.reasons[QKD_KE_REASON_TAG_MISMATCH], 1);
		ck_assert_uint_eq(got.ke.reasons[QKD_KE_REASON_PEER_UNKNOWN],
				  UINT64_MAX);
	}

	/* A module without reasons: the counters, no reasons. */
	kmsg_sample_pool(&p);
	p.ke.has_reasons = false;
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	memset(&got, 0xff, sizeof(got));
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), 0);
	ck_assert(got.ke.present);
	ck_assert(!got.ke.has_reasons);
	ck_assert_uint_eq(got.ke.fallback, 9);
	for (int i = 0; i <= QKD_KE_REASON_MAX; i++)
		ck_assert_uint_eq(got.ke.reasons[i], 0);

	/* A reason this library does not know (type 0 or past the max). */
	kmsg_sample_pool(&p);
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	r = find_reasons(buf);
	r[4 + 2 * 8 + 2] = 0;		/* empty, the 3rd: type 0 */
	r[4 + 2] = QKD_KE_REASON_MAX + 1;	/* no-offer: type 10 */
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), 0);
	ck_assert_uint_eq(got.ke.reasons[QKD_KE_REASON_EMPTY], 0);
	ck_assert_uint_eq(got.ke.reasons[QKD_KE_REASON_UNKNOWN_KEY], 2);
}
END_TEST

START_TEST(pool_ke_reasons_malformed)
{
	struct qkd_pool_info p, got;
	uint16_t outer;
	size_t len;
	uint8_t *r;

	kmsg_sample_pool(&p);
	/* A 3-byte and a 2-byte reason counter. */
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	r = find_reasons(buf);
	set_nla_len(r + 4 + 8, 4 + 3);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	r = find_reasons(buf);
	set_nla_len(r + 4, 4 + 2);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);
	/* A 12-byte one (wide). */
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 1);
	r = find_reasons(buf);
	set_nla_len(r + 4, 4 + 12);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);
	/* The first reason claims more than the reasons nest holds. */
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	r = find_reasons(buf);
	memcpy(&outer, r, 2);
	set_nla_len(r + 4, outer);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);
	/* The reasons nest claims more than ke-stats holds. */
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	r = find_reasons(buf);
	memcpy(&outer, find_attr(buf, QKD_A_POOL_KE_STATS), 2);
	set_nla_len(r, outer);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);
	/* Shorter than a header inside it. */
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	r = find_reasons(buf);
	set_nla_len(r, 4 + 2);
	ck_assert_int_eq(parse_pool_exact(buf, len, &got), -EPROTO);
}
END_TEST

static int parse_ke_exact(const uint8_t *src, size_t len,
			  struct qkd_ke_stats *ke)
{
	uint8_t *p = dup_exact(src, len);
	int ret = qkd__parse_ke_stats_reply(p, len, ke);

	free(p);
	return ret;
}

START_TEST(ke_stats_reply)
{
	struct qkd_ke_stats want, got;
	size_t len;

	kmsg_sample_ke_no_pool(&want);
	for (int wide = 0; wide < 2; wide++) {
		len = kmsg_ke_stats_reply(buf, sizeof(buf), 1, &want, wide);
		memset(&got, 0xff, sizeof(got));
		ck_assert_int_eq(parse_ke_exact(buf, len, &got), 0);
		ck_assert(got.present);
		ck_assert(got.has_reasons);
		ck_assert_uint_eq(got.qkd, 0);
		ck_assert_uint_eq(got.fallback, 5);
		ck_assert_uint_eq(got.refused, 1);
		ck_assert_uint_eq(got.reasons[QKD_KE_REASON_NO_POOL], 4);
		ck_assert_uint_eq(got.reasons[QKD_KE_REASON_PEER_UNKNOWN], 1);
		ck_assert_uint_eq(got.reasons[QKD_KE_REASON_EMPTY], 0);
		ck_assert_uint_eq(qkd_ke_unspecified(&got), 1);
	}
	/* Every truncation of the datagram. */
	len = kmsg_ke_stats_reply(buf, sizeof(buf), 1, &want, 1);
	for (size_t i = 0; i < len; i++)
		ck_assert_int_eq(parse_ke_exact(buf, i, &got), -EPROTO);
	/* A reply without the nest is malformed; *ke untouched on failure. */
	want.present = false;
	len = kmsg_ke_stats_reply(buf, sizeof(buf), 1, &want, 0);
	memset(&got, 0x5a, sizeof(got));
	ck_assert_int_eq(parse_ke_exact(buf, len, &got), -EPROTO);
	ck_assert_uint_eq(got.fallback, 0x5a5a5a5a5a5a5a5aULL);
}
END_TEST

START_TEST(ke_unspecified_and_names)
{
	struct qkd_ke_stats ke = { .fallback = 9, .refused = 2 };

	ck_assert_uint_eq(qkd_ke_unspecified(&ke), 11);
	ke.reasons[QKD_KE_REASON_EMPTY] = 4;
	ke.reasons[QKD_KE_REASON_PEER_UNKNOWN] = 3;
	ck_assert_uint_eq(qkd_ke_unspecified(&ke), 4);
	/* Counters that do not add up (a bad reply): 0, never a wrap. */
	ke.reasons[QKD_KE_REASON_NO_OFFER] = 100;
	ck_assert_uint_eq(qkd_ke_unspecified(&ke), 0);
	ck_assert_uint_eq(qkd_ke_unspecified(NULL), 0);

	ck_assert_str_eq(qkd_ke_reason_name(QKD_KE_REASON_NONE), "none");
	ck_assert_str_eq(qkd_ke_reason_name(QKD_KE_REASON_NO_OFFER), "no-offer");
	ck_assert_str_eq(qkd_ke_reason_name(QKD_KE_REASON_NO_POOL), "no-pool");
	ck_assert_str_eq(qkd_ke_reason_name(QKD_KE_REASON_EMPTY), "empty");
	ck_assert_str_eq(qkd_ke_reason_name(QKD_KE_REASON_UNKNOWN_KEY),
			 "unknown-key");
	ck_assert_str_eq(qkd_ke_reason_name(QKD_KE_REASON_TAG_MISMATCH),
			 "tag-mismatch");
	ck_assert_str_eq(qkd_ke_reason_name(QKD_KE_REASON_POOL_ERROR),
			 "pool-error");
	ck_assert_str_eq(qkd_ke_reason_name(QKD_KE_REASON_VERSION), "version");
	ck_assert_str_eq(qkd_ke_reason_name(QKD_KE_REASON_PRE_AUTH_MISMATCH),
			 "pre-auth-mismatch");
	ck_assert_str_eq(qkd_ke_reason_name(QKD_KE_REASON_PEER_UNKNOWN),
			 "peer-unknown");
	ck_assert_str_eq(qkd_ke_reason_name(QKD_KE_REASON_MAX + 1), "unknown");
	/* The numbering the strongSwan plugin shares. */
	ck_assert_int_eq(QKD_KE_REASON_NO_OFFER, 1);
	ck_assert_int_eq(QKD_KE_REASON_PEER_UNKNOWN, 9);
	ck_assert_int_eq(QKD_KE_REASON_MAX, 9);
}
END_TEST

START_TEST(take_reply)
{
	struct qkd_key k = { .len = 32 }, got;
	size_t len;
	uint8_t *c;

	memset(k.id, 0x11, sizeof(k.id));
	memset(k.material, 0x5a, 32);
	len = kmsg_take_reply(buf, sizeof(buf), 1, &k);
	c = dup_exact(buf, len);
	ck_assert_int_eq(qkd__parse_take_reply(c, len, &got), 0);
	free(c);
	ck_assert_uint_eq(got.len, 32);
	ck_assert_mem_eq(got.id, k.id, 16);
	ck_assert_mem_eq(got.material, k.material, 32);

	for (size_t i = 0; i < len; i++) {
		c = dup_exact(buf, i);
		ck_assert_int_eq(qkd__parse_take_reply(c, i, &got), -EPROTO);
		free(c);
	}
	explicit_bzero(buf, sizeof(buf));
}
END_TEST

START_TEST(take_reply_malformed)
{
	struct qkd_key k = { .len = 32 }, got;
	size_t len, len2;
	uint8_t *a, *c;

	memset(k.id, 0x11, sizeof(k.id));
	/* Two keys in one reply. */
	len = kmsg_take_reply(buf, sizeof(buf), 1, &k);
	a = find_attr(buf, QKD_A_POOL_KEY);
	{
		uint16_t nl;

		memcpy(&nl, a, 2);
		memcpy(buf + len, a, nl);
		len2 = len + nl;
		set_len(buf, (uint32_t)len2);
	}
	c = dup_exact(buf, len2);
	ck_assert_int_eq(qkd__parse_take_reply(c, len2, &got), -EPROTO);
	free(c);

	/* Material below the minimum, and above the maximum. */
	k.len = 8;
	len = kmsg_take_reply(buf, sizeof(buf), 1, &k);
	c = dup_exact(buf, len);
	ck_assert_int_eq(qkd__parse_take_reply(c, len, &got), -EPROTO);
	free(c);
	{
		struct qkd_key big;

		memset(&big, 0, sizeof(big));
		big.len = 64;
		len = kmsg_take_reply(buf, sizeof(buf), 1, &big);
		a = find_attr(buf, QKD_A_POOL_KEY);
		/* grow the material attribute past 64 bytes into padding */
		set_nla_len(a + 4 + 20, 4 + 65);
		set_nla_len(a, 4 + 20 + 4 + 68);
		set_len(buf, (uint32_t)(len + 4));
		c = dup_exact(buf, len + 4);
		ck_assert_int_eq(qkd__parse_take_reply(c, len + 4, &got),
				 -EPROTO);
		free(c);
	}

	/* A 15-byte key ID. */
	k.len = 32;
	len = kmsg_take_reply(buf, sizeof(buf), 1, &k);
	a = find_attr(buf, QKD_A_POOL_KEY);
	set_nla_len(a + 4, 4 + 15);
	c = dup_exact(buf, len);
	ck_assert_int_eq(qkd__parse_take_reply(c, len, &got), -EPROTO);
	free(c);

	/* No key at all. */
	len = kmsg_flush_reply(buf, sizeof(buf), 1, 3);
	ck_assert_int_eq(qkd__parse_take_reply(buf, len, &got), -EPROTO);
}
END_TEST

START_TEST(new_and_flush_reply)
{
	uint32_t v = 0;
	size_t len;

	len = kmsg_new_reply(buf, sizeof(buf), 1, 17);
	ck_assert_int_eq(qkd__parse_new_reply(buf, len, &v), 0);
	ck_assert_uint_eq(v, 17);
	len = kmsg_new_reply(buf, sizeof(buf), 1, 0);
	ck_assert_int_eq(qkd__parse_new_reply(buf, len, &v), -EPROTO);
	len = kmsg_flush_reply(buf, sizeof(buf), 1, 4096);
	ck_assert_int_eq(qkd__parse_flush_reply(buf, len, &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(qkd__parse_new_reply(buf, len, &v), -EPROTO);
	len = kmsg_new_reply(buf, sizeof(buf), 1, 5);
	ck_assert_int_eq(qkd__parse_flush_reply(buf, len, &v), -EPROTO);
}
END_TEST

START_TEST(notification)
{
	struct qkd_notification n = {
		.pool_id = 3, .name = "tokyo-osaka", .direction = 1,
		.event = QKD_EVENT_LOW, .count = 900, .has_count = true,
	}, got;
	size_t len;
	uint8_t *c;

	len = kmsg_ntf(buf, sizeof(buf), &n);
	ck_assert_int_eq(qkd__parse_notification(buf, len, &got), 0);
	ck_assert_mem_eq(&got, &n, sizeof(n));
	for (size_t i = 0; i < len; i++) {
		c = dup_exact(buf, i);
		ck_assert_int_eq(qkd__parse_notification(c, i, &got), -EPROTO);
		free(c);
	}

	memset(&n, 0, sizeof(n));
	n.pool_id = 9;
	n.direction = -1;
	n.event = QKD_EVENT_REMOVED;
	len = kmsg_ntf(buf, sizeof(buf), &n);
	ck_assert_int_eq(qkd__parse_notification(buf, len, &got), 0);
	ck_assert_int_eq(got.direction, -1);
	ck_assert(!got.has_count);
	ck_assert_str_eq(got.name, "");

	n.event = 5;	/* not an event */
	len = kmsg_ntf(buf, sizeof(buf), &n);
	ck_assert_int_eq(qkd__parse_notification(buf, len, &got), -EPROTO);

	/* A reply is not a notification. */
	len = kmsg_new_reply(buf, sizeof(buf), 0, 3);
	ck_assert_int_eq(qkd__parse_notification(buf, len, &got), -EPROTO);

	/* Direction 2 does not exist. */
	n.event = QKD_EVENT_EMPTY;
	n.direction = 2;
	len = kmsg_ntf(buf, sizeof(buf), &n);
	ck_assert_int_eq(qkd__parse_notification(buf, len, &got), -EPROTO);
}
END_TEST

START_TEST(error_messages)
{
	char msg[64];
	int err = 1;
	size_t len;
	uint8_t *c;

	len = kmsg_error(buf, sizeof(buf), 5, 0, NULL, 1);
	ck_assert_int_eq(qkd__parse_error(buf, len, &err, msg, sizeof(msg)),
			 0);
	ck_assert_int_eq(err, 0);
	ck_assert_str_eq(msg, "");

	len = kmsg_error(buf, sizeof(buf), 5, -ENOENT, "pool not found", 1);
	ck_assert_int_eq(qkd__parse_error(buf, len, &err, msg, sizeof(msg)),
			 0);
	ck_assert_int_eq(err, -ENOENT);
	ck_assert_str_eq(msg, "pool not found");

	/* Uncapped: the request's payload comes before the TLVs. */
	len = kmsg_error(buf, sizeof(buf), 5, -EINVAL, "bad watermarks", 0);
	ck_assert_int_eq(qkd__parse_error(buf, len, &err, msg, sizeof(msg)),
			 0);
	ck_assert_int_eq(err, -EINVAL);
	ck_assert_str_eq(msg, "bad watermarks");

	/* A long message is cut to the buffer; control bytes are replaced. */
	len = kmsg_error(buf, sizeof(buf), 5, -EINVAL, "a\x1b" "bcdefgh", 1);
	ck_assert_int_eq(qkd__parse_error(buf, len, &err, msg, 6), 0);
	ck_assert_str_eq(msg, "a?bcd");

	for (size_t i = 0; i < len; i++) {
		int e = 0;

		c = dup_exact(buf, i);
		/* Rejected, or (cut inside the TLVs) accepted without text. */
		if (!qkd__parse_error(c, i, &e, msg, sizeof(msg)))
			ck_assert_int_eq(e, -EINVAL);
		free(c);
	}

	/* A positive errno is nonsense. */
	len = kmsg_error(buf, sizeof(buf), 5, 3, NULL, 1);
	ck_assert_int_eq(qkd__parse_error(buf, len, &err, msg, sizeof(msg)),
			 -EPROTO);

	len = kmsg_done(buf, sizeof(buf), 5, -EPERM);
	ck_assert_int_eq(qkd__parse_error(buf, len, &err, msg, sizeof(msg)),
			 0);
	ck_assert_int_eq(err, -EPERM);
}
END_TEST

struct collect {
	int n;
	uint32_t ids[8];
};

static int collect_cb(const void *msg, size_t len, void *arg)
{
	struct collect *c = arg;
	struct qkd_pool_info p;
	int ret = qkd__parse_pool(msg, len, &p);

	if (ret)
		return ret;
	if (c->n < 8)
		c->ids[c->n] = p.id;
	c->n++;
	return 0;
}

START_TEST(walk_dump)
{
	struct qkd_pool_info p;
	struct collect c = { 0 };
	char msg[64];
	size_t len = 0;
	int intr = 0;
	uint8_t *d;

	kmsg_sample_pool(&p);
	len += kmsg_pool(buf + len, sizeof(buf) - len, 7, NLM_F_MULTI, &p, 0);
	p.id = 4;
	len += kmsg_pool(buf + len, sizeof(buf) - len, 7, NLM_F_MULTI, &p, 0);
	/* A stale message of another exchange is skipped. */
	len += kmsg_new_reply(buf + len, sizeof(buf) - len, 6, 1);
	d = dup_exact(buf, len);
	ck_assert_int_eq(qkd__walk(d, len, KMSG_FAMILY, 7, collect_cb, &c, msg,
				   sizeof(msg), &intr), 1);
	free(d);
	ck_assert_int_eq(c.n, 2);
	ck_assert_uint_eq(c.ids[0], 3);
	ck_assert_uint_eq(c.ids[1], 4);
	ck_assert_int_eq(intr, 0);

	/* The next datagram: one more pool flagged inconsistent, then DONE. */
	len = kmsg_pool(buf, sizeof(buf), 7, NLM_F_MULTI | NLM_F_DUMP_INTR, &p,
			0);
	len += kmsg_done(buf + len, sizeof(buf) - len, 7, 0);
	d = dup_exact(buf, len);
	ck_assert_int_eq(qkd__walk(d, len, KMSG_FAMILY, 7, collect_cb, &c, msg,
				   sizeof(msg), &intr), 0);
	free(d);
	ck_assert_int_eq(c.n, 3);
	ck_assert_int_eq(intr, 1);
}
END_TEST

START_TEST(walk_errors)
{
	struct qkd_pool_info p;
	struct collect c = { 0 };
	char msg[64];
	size_t len;
	uint8_t *d;

	/* An error with its extended ack ends the exchange. */
	len = kmsg_error(buf, sizeof(buf), 7, -EEXIST, "pool name in use", 1);
	ck_assert_int_eq(qkd__walk(buf, len, KMSG_FAMILY, 7, NULL, NULL, msg,
				   sizeof(msg), NULL), -EEXIST);
	ck_assert_str_eq(msg, "pool name in use");

	/* A message of another family in our exchange is a protocol error. */
	len = kmsg_family(buf, sizeof(buf), 7, 0x20, NULL, 0);
	ck_assert_int_eq(qkd__walk(buf, len, KMSG_FAMILY, 7, NULL, NULL, msg,
				   sizeof(msg), NULL), -EPROTO);

	/* A message that claims more than the datagram. */
	kmsg_sample_pool(&p);
	len = kmsg_pool(buf, sizeof(buf), 7, 0, &p, 0);
	set_len(buf, (uint32_t)len + 4);
	d = dup_exact(buf, len);
	ck_assert_int_eq(qkd__walk(d, len, KMSG_FAMILY, 7, collect_cb, &c, msg,
				   sizeof(msg), NULL), -EPROTO);
	free(d);

	/* The callback's error stops the walk. */
	len = kmsg_pool(buf, sizeof(buf), 7, 0, &p, 0);
	find_attr(buf, QKD_A_POOL_ID)[2] = 200;
	ck_assert_int_eq(qkd__walk(buf, len, KMSG_FAMILY, 7, collect_cb, &c,
				   msg, sizeof(msg), NULL), -EPROTO);

	/* Trailing bytes shorter than a header are ignored. */
	len = kmsg_error(buf, sizeof(buf), 7, 0, NULL, 1);
	ck_assert_int_eq(qkd__walk(buf, len + 8, KMSG_FAMILY, 7, NULL, NULL,
				   msg, sizeof(msg), NULL), 0);

	/* Truncations of a reply + ack datagram never read out of bounds. */
	len = kmsg_pool(buf, sizeof(buf), 7, 0, &p, 0);
	len += kmsg_error(buf + len, sizeof(buf) - len, 7, -ENOSPC, "full",
			  0);
	for (size_t i = 0; i < len; i++) {
		d = dup_exact(buf, i);
		(void)qkd__walk(d, i, KMSG_FAMILY, 7, collect_cb, &c, msg,
				sizeof(msg), NULL);
		free(d);
	}
}
END_TEST

START_TEST(family_reply)
{
	uint16_t fam = 0;
	uint32_t grp = 1;
	size_t len;
	uint8_t *c;

	len = kmsg_family(buf, sizeof(buf), 1, 0x21, "monitor", 12);
	ck_assert_int_eq(qkd__parse_family(buf, len, &fam, &grp, "monitor"),
			 0);
	ck_assert_uint_eq(fam, 0x21);
	ck_assert_uint_eq(grp, 12);

	len = kmsg_family(buf, sizeof(buf), 1, 0x21, NULL, 0);
	ck_assert_int_eq(qkd__parse_family(buf, len, &fam, &grp, "monitor"),
			 0);
	ck_assert_uint_eq(grp, 0);

	len = kmsg_family(buf, sizeof(buf), 1, 0x21, "monitor", 12);
	for (size_t i = 0; i < len; i++) {
		c = dup_exact(buf, i);
		ck_assert_int_eq(qkd__parse_family(c, i, &fam, &grp, "monitor"),
				 -EPROTO);
		free(c);
	}
	/* A 4-byte family ID. */
	set_nla_len(find_attr(buf, CTRL_ATTR_FAMILY_ID), 4 + 4);
	ck_assert_int_eq(qkd__parse_family(buf, len, &fam, &grp, "monitor"),
			 -EPROTO);
}
END_TEST

START_TEST(next_msg_iterates)
{
	struct qkd_notification n = { .pool_id = 1, .direction = 0 };
	const uint8_t *m;
	size_t len = 0, off = 0, ml;
	int count = 0, ret;

	for (int i = 0; i < 3; i++) {
		n.event = (uint32_t)i;
		len += kmsg_ntf(buf + len, sizeof(buf) - len, &n);
	}
	while ((ret = qkd__next_msg(buf, len, &off, &m, &ml)) > 0) {
		struct qkd_notification got;

		ck_assert_int_eq(qkd__parse_notification(m, ml, &got), 0);
		ck_assert_uint_eq(got.event, (uint32_t)count);
		count++;
	}
	ck_assert_int_eq(ret, 0);
	ck_assert_int_eq(count, 3);

	off = 0;
	set_len(buf, 4);	/* shorter than a header */
	ck_assert_int_eq(qkd__next_msg(buf, len, &off, &m, &ml), -EPROTO);
}
END_TEST

Suite *parse_suite(void)
{
	Suite *s = suite_create("parse");
	TCase *pool = tcase_create("pool");
	TCase *other = tcase_create("replies");
	TCase *walk = tcase_create("walk");

	tcase_add_test(pool, pool_roundtrip);
	tcase_add_test(pool, pool_big_counters);
	tcase_add_test(pool, pool_truncated_everywhere);
	tcase_add_test(pool, pool_shortened_message);
	tcase_add_test(pool, pool_missing_required);
	tcase_add_test(pool, pool_bad_name);
	tcase_add_test(pool, pool_bad_u32_length);
	tcase_add_test(pool, pool_attr_overflows_message);
	tcase_add_test(pool, pool_nested_overflow);
	tcase_add_test(pool, pool_stats_optional);
	tcase_add_test(pool, pool_ke_stats);
	tcase_add_test(pool, pool_ke_stats_malformed);
	tcase_add_test(pool, pool_ke_reasons);
	tcase_add_test(pool, pool_ke_reasons_malformed);
	tcase_add_test(other, ke_stats_reply);
	tcase_add_test(other, ke_unspecified_and_names);
	tcase_add_test(other, take_reply);
	tcase_add_test(other, take_reply_malformed);
	tcase_add_test(other, new_and_flush_reply);
	tcase_add_test(other, notification);
	tcase_add_test(other, error_messages);
	tcase_add_test(other, family_reply);
	tcase_add_test(walk, walk_dump);
	tcase_add_test(walk, walk_errors);
	tcase_add_test(walk, next_msg_iterates);
	suite_add_tcase(s, pool);
	suite_add_tcase(s, other);
	suite_add_tcase(s, walk);
	return s;
}
