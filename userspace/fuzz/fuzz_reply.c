// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: one datagram from the kernel as a request exchange sees it.
 * The walker hands each message to every reply parser in turn, so pool,
 * key-take, key-flush, pool-new, ke-stats-get, controller and error
 * parsing all see
 * arbitrary input.  The first input byte picks the sequence number to
 * expect (0 or 1) so both skip and parse paths are reached.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int all_parsers(const void *msg, size_t len, void *arg)
{
	struct qkd_pool_info info;
	struct qkd_ke_stats ke;
	struct qkd_key key;
	uint16_t fam;
	uint32_t v, grp;

	(void)arg;
	qkd__parse_pool(msg, len, &info);
	qkd__parse_take_reply(msg, len, &key);
	qkd__parse_flush_reply(msg, len, &v);
	qkd__parse_new_reply(msg, len, &v);
	qkd__parse_ke_stats_reply(msg, len, &ke);
	qkd__parse_family(msg, len, &fam, &grp, "monitor");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char errmsg[QKD_ERRMSG_LEN];
	uint8_t *buf;
	uint32_t seq;
	int intr = 0, err;

	if (size < 1)
		return 0;
	seq = data[0] & 1;
	data++;
	size--;
	/* An exact-size copy: any read past the end is caught. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	qkd__walk(buf, size, 0x1f, seq, all_parsers, NULL, errmsg,
		  sizeof(errmsg), &intr);
	qkd__walk(buf, size, 0x10, seq, all_parsers, NULL, errmsg,
		  sizeof(errmsg), &intr);
	qkd__parse_error(buf, size, &err, errmsg, sizeof(errmsg));
	free(buf);
	return 0;
}
