// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-linkd's reconciliation (linkd/recon.c): the verdict for every way a
 * pair of pools can differ from the pair on record, the boot ID parser,
 * and the record file: round trip, canonical form only, load and save.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tests.h"
#include "../linkd/recon.h"

static void epoch(struct pool_epoch *e, uint8_t boot, uint64_t netns,
		  uint16_t family, uint32_t pool)
{
	memset(e, 0, sizeof(*e));
	memset(e->boot, boot, EPOCH_BOOT_LEN);
	e->netns = netns;
	e->family = family;
	e->pool = pool;
}

START_TEST(recon_verdicts)
{
	struct recon_pair rec;
	struct pool_epoch m, s;

	epoch(&rec.master, 1, 10, 36, 1);
	epoch(&rec.slave, 2, 20, 37, 5);
	m = rec.master;
	s = rec.slave;
	ck_assert_int_eq(recon_decide(&rec, &m, &s), RECON_KEEP);
	ck_assert_int_eq(recon_decide(NULL, &m, &s), RECON_FIRST);
	/* The master: rebooted; pool created again; module reloaded;
	 * another namespace. */
	epoch(&m, 3, 10, 36, 1);
	ck_assert_int_eq(recon_decide(&rec, &m, &s), RECON_MASTER_BOOT);
	epoch(&m, 1, 10, 36, 2);
	ck_assert_int_eq(recon_decide(&rec, &m, &s), RECON_MASTER_POOL);
	epoch(&m, 1, 10, 38, 1);
	ck_assert_int_eq(recon_decide(&rec, &m, &s), RECON_MASTER_POOL);
	epoch(&m, 1, 11, 36, 1);
	ck_assert_int_eq(recon_decide(&rec, &m, &s), RECON_MASTER_POOL);
	/* This node, the same ways. */
	m = rec.master;
	epoch(&s, 4, 20, 37, 5);
	ck_assert_int_eq(recon_decide(&rec, &m, &s), RECON_SLAVE_BOOT);
	epoch(&s, 2, 20, 37, 6);
	ck_assert_int_eq(recon_decide(&rec, &m, &s), RECON_SLAVE_POOL);
	epoch(&s, 2, 20, 40, 5);
	ck_assert_int_eq(recon_decide(&rec, &m, &s), RECON_SLAVE_POOL);
	/* Both changed: the master is named first. */
	epoch(&m, 3, 10, 36, 1);
	ck_assert_int_eq(recon_decide(&rec, &m, &s), RECON_MASTER_BOOT);
	/* The two epochs swapped: not the pair on record either. */
	ck_assert_int_eq(recon_decide(&rec, &rec.slave, &rec.master),
			 RECON_MASTER_BOOT);
	for (int v = RECON_KEEP; v <= RECON_SLAVE_POOL; v++)
		ck_assert_str_ne(recon_reason(v), "?");
}
END_TEST

START_TEST(recon_boot_id)
{
	uint8_t b[EPOCH_BOOT_LEN];

	ck_assert_int_eq(epoch_parse_boot("0123abcd-4567-89ef-0011-2233445566ff\n", b), 0);
	ck_assert_uint_eq(b[0], 0x01);
	ck_assert_uint_eq(b[3], 0xcd);
	ck_assert_uint_eq(b[4], 0x45);
	ck_assert_uint_eq(b[15], 0xff);
	ck_assert_int_eq(epoch_parse_boot("0123abcd-4567-89ef-0011-2233445566ff", b), 0);
	ck_assert_int_eq(epoch_parse_boot("0123abcd-4567-89ef-0011-2233445566f", b), -1);
	ck_assert_int_eq(epoch_parse_boot("0123abcd-4567-89ef-0011-2233445566ff0", b), -1);
	ck_assert_int_eq(epoch_parse_boot("0123abcd04567-89ef-0011-2233445566ff", b), -1);
	ck_assert_int_eq(epoch_parse_boot("0123ABCD-4567-89ef-0011-2233445566ff", b), -1);
	ck_assert_int_eq(epoch_parse_boot("", b), -1);
}
END_TEST

static const char good[] =
	"qkd-linkd reconciled 1\n"
	"master 0102030405060708090a0b0c0d0e0f10 00000000000000ff 36 1\n"
	"slave ffeeddccbbaa99887766554433221100 0000000000000100 4095 4294967295\n";

/* Each corrupt in one way: the whole record is refused. */
static const char *const bad_records[] = {
	"",
	"qkd-linkd reconciled 2\n",
	"qkd-linkd reconciled 1\n"
	"master 0102030405060708090a0b0c0d0e0f10 00000000000000ff 36 1\n",
	"qkd-linkd reconciled 1\n"
	"slave ffeeddccbbaa99887766554433221100 0000000000000100 4095 1\n"
	"master 0102030405060708090a0b0c0d0e0f10 00000000000000ff 36 1\n",
	"qkd-linkd reconciled 1\n"
	"master 0102030405060708090A0b0c0d0e0f10 00000000000000ff 36 1\n"
	"slave ffeeddccbbaa99887766554433221100 0000000000000100 4095 1\n",
	"qkd-linkd reconciled 1\n"
	"master 0102030405060708090a0b0c0d0e0f10 00000000000000ff 65536 1\n"
	"slave ffeeddccbbaa99887766554433221100 0000000000000100 4095 1\n",
	"qkd-linkd reconciled 1\n"
	"master 0102030405060708090a0b0c0d0e0f10 00000000000000ff +36 1\n"
	"slave ffeeddccbbaa99887766554433221100 0000000000000100 4095 1\n",
	"qkd-linkd reconciled 1\n"
	"master 0102030405060708090a0b0c0d0e0f10 ff 36 1\n"
	"slave ffeeddccbbaa99887766554433221100 0000000000000100 4095 1\n",
	"qkd-linkd reconciled 1\n"
	"master 0102030405060708090a0b0c0d0e0f10 00000000000000ff 36 1\n"
	"slave ffeeddccbbaa99887766554433221100 0000000000000100 4095 1\n"
	"x\n",
	"qkd-linkd reconciled 1\n"
	"master 0102030405060708090a0b0c0d0e0f10 00000000000000ff 36 1\n"
	"slave ffeeddccbbaa99887766554433221100 0000000000000100 4095 1",
};

START_TEST(recon_record_format)
{
	struct recon_pair rec, back;
	char text[256];

	ck_assert_int_eq(recon_parse(good, &rec), 0);
	ck_assert_uint_eq(rec.master.boot[0], 1);
	ck_assert_uint_eq(rec.master.boot[15], 0x10);
	ck_assert_uint_eq(rec.master.netns, 255);
	ck_assert_uint_eq(rec.master.family, 36);
	ck_assert_uint_eq(rec.master.pool, 1);
	ck_assert_uint_eq(rec.slave.boot[0], 0xff);
	ck_assert_uint_eq(rec.slave.netns, 256);
	ck_assert_uint_eq(rec.slave.family, 4095);
	ck_assert_uint_eq(rec.slave.pool, 4294967295u);
	ck_assert_int_eq(recon_format(&rec, text, sizeof(text)),
			 (int)strlen(good));
	ck_assert_str_eq(text, good);
	ck_assert_int_eq(recon_parse(text, &back), 0);
	ck_assert(epoch_eq(&back.master, &rec.master));
	ck_assert(epoch_eq(&back.slave, &rec.slave));
	ck_assert_int_eq(recon_format(&rec, text, 40), -1);
}
END_TEST

START_TEST(recon_record_bad)
{
	struct recon_pair rec;

	ck_assert_msg(recon_parse(bad_records[_i], &rec) == -1,
		      "record %d accepted", _i);
}
END_TEST

START_TEST(recon_record_file)
{
	char dir[] = "/tmp/qkd-recon.XXXXXX", path[64], err[1200];
	struct recon_pair rec, back;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(recon_load(dir, "link", &back, err, sizeof(err)), 0);
	epoch(&rec.master, 7, 1, 2, 3);
	epoch(&rec.slave, 8, 4, 5, 6);
	ck_assert_int_eq(recon_save(dir, "link", &rec, err, sizeof(err)), 0);
	ck_assert_int_eq(recon_load(dir, "link", &back, err, sizeof(err)), 1);
	ck_assert(epoch_eq(&back.master, &rec.master));
	ck_assert(epoch_eq(&back.slave, &rec.slave));
	snprintf(path, sizeof(path), "%s/link.peer", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("garbage\n", f);
	fclose(f);
	ck_assert_int_eq(recon_load(dir, "link", &back, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "link.peer"));
	unlink(path);
	/* An unwritable directory: an error, not a crash. */
	ck_assert_int_eq(recon_save("/nonexistent/dir", "link", &rec, err,
				    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot write"));
	rmdir(dir);
}
END_TEST

Suite *linkd_recon_suite(void)
{
	Suite *s = suite_create("linkd_recon");
	TCase *tc = tcase_create("reconcile");

	tcase_add_test(tc, recon_verdicts);
	tcase_add_test(tc, recon_boot_id);
	tcase_add_test(tc, recon_record_format);
	tcase_add_loop_test(tc, recon_record_bad, 0,
			    sizeof(bad_records) / sizeof(bad_records[0]));
	tcase_add_test(tc, recon_record_file);
	suite_add_tcase(s, tc);
	return s;
}
