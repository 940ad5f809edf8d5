// SPDX-License-Identifier: GPL-2.0
/* qkd_tag_compute: known answers (computed with Python's hmac module). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "tests.h"
#include "qkd.h"

static void hex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned int v;

		ck_assert_int_eq(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

START_TEST(tag_known_answer_32)
{
	uint8_t id[16], key[32], tag[32], want[32];

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 16; i++)
		id[i] = (uint8_t)(0xa0 + i);
	hex("29761e49d7cdfa1955003bb7a3769e78f77c11ea6246c9bb5b3760324943aa8f",
	    want, 32);
	ck_assert_int_eq(qkd_tag_compute(id, key, sizeof(key), tag), 0);
	ck_assert_mem_eq(tag, want, 32);
}
END_TEST

START_TEST(tag_known_answer_16)
{
	uint8_t id[16] = { 0 }, key[16], tag[32], want[32];

	memset(key, 0x42, sizeof(key));
	hex("ee275962025aa98b9f9aa756203b9b222aa632550b6337e8178a084adafd8a69",
	    want, 32);
	ck_assert_int_eq(qkd_tag_compute(id, key, sizeof(key), tag), 0);
	ck_assert_mem_eq(tag, want, 32);
}
END_TEST

START_TEST(tag_depends_on_id)
{
	uint8_t id[16] = { 0 }, key[32] = { 1 }, t1[32], t2[32];

	ck_assert_int_eq(qkd_tag_compute(id, key, 32, t1), 0);
	id[15] = 1;
	ck_assert_int_eq(qkd_tag_compute(id, key, 32, t2), 0);
	ck_assert_mem_ne(t1, t2, 32);
}
END_TEST

START_TEST(tag_rejects_bad_sizes)
{
	uint8_t id[16] = { 0 }, key[65] = { 0 }, tag[32];

	ck_assert_int_eq(qkd_tag_compute(id, key, 15, tag), -EINVAL);
	ck_assert_int_eq(qkd_tag_compute(id, key, 65, tag), -EINVAL);
	ck_assert_int_eq(qkd_tag_compute(NULL, key, 32, tag), -EINVAL);
	ck_assert_int_eq(qkd_tag_compute(id, key, 64, tag), 0);
}
END_TEST

Suite *tag_suite(void)
{
	Suite *s = suite_create("tag");
	TCase *tc = tcase_create("tag");

	tcase_add_test(tc, tag_known_answer_32);
	tcase_add_test(tc, tag_known_answer_16);
	tcase_add_test(tc, tag_depends_on_id);
	tcase_add_test(tc, tag_rejects_bad_sizes);
	suite_add_tcase(s, tc);
	return s;
}
