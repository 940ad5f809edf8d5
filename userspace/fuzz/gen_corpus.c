// SPDX-License-Identifier: GPL-2.0
/*
 * Write the fuzzers' seed corpus: datagrams as the kernel sends them,
 * built by tests/kmsg.c.  Usage: gen-corpus REPLY-DIR NOTIFY-DIR
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/netlink.h>
#include "../tests/kmsg.h"

static uint8_t buf[16384] __attribute__((aligned(4)));

static int save(const char *dir, const char *name, const void *data,
		size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}

/* Reply seeds start with the sequence selector byte of fuzz_reply.c. */
static int save_reply(const char *dir, const char *name, size_t len)
{
	uint8_t out[sizeof(buf) + 1];

	out[0] = 1;
	memcpy(out + 1, buf, len);
	return save(dir, name, out, len + 1);
}

int main(int argc, char *argv[])
{
	struct qkd_pool_info p;
	struct qkd_ke_stats ke;
	struct qkd_key k = { .len = 32 };
	struct qkd_notification n = {
		.pool_id = 3, .name = "tokyo-osaka", .direction = 0,
		.event = QKD_EVENT_LOW, .count = 10, .has_count = true,
	};
	size_t len;
	int err = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: gen-corpus REPLY-DIR NOTIFY-DIR\n");
		return 2;
	}
	kmsg_sample_pool(&p);
	len = kmsg_pool(buf, sizeof(buf), 1, NLM_F_MULTI, &p, 0);
	p.id = 4;
	len += kmsg_pool(buf + len, sizeof(buf) - len, 1, NLM_F_MULTI, &p, 1);
	len += kmsg_done(buf + len, sizeof(buf) - len, 1, 0);
	err |= save_reply(argv[1], "dump", len);
	len = kmsg_pool(buf, sizeof(buf), 1, 0, &p, 0);
	len += kmsg_error(buf + len, sizeof(buf) - len, 1, 0, NULL, 1);
	err |= save_reply(argv[1], "get", len);
	memset(k.id, 0x11, 16);
	len = kmsg_take_reply(buf, sizeof(buf), 1, &k);
	len += kmsg_error(buf + len, sizeof(buf) - len, 1, 0, NULL, 1);
	err |= save_reply(argv[1], "take", len);
	kmsg_sample_ke_no_pool(&ke);
	len = kmsg_ke_stats_reply(buf, sizeof(buf), 1, &ke, 1);
	len += kmsg_error(buf + len, sizeof(buf) - len, 1, 0, NULL, 1);
	err |= save_reply(argv[1], "ke-stats", len);
	len = kmsg_flush_reply(buf, sizeof(buf), 1, 77);
	err |= save_reply(argv[1], "flush", len);
	len = kmsg_new_reply(buf, sizeof(buf), 1, 9);
	err |= save_reply(argv[1], "new", len);
	len = kmsg_error(buf, sizeof(buf), 1, -EINVAL, "low watermark must be below high", 0);
	err |= save_reply(argv[1], "error", len);
	len = kmsg_done(buf, sizeof(buf), 1, -EPERM);
	err |= save_reply(argv[1], "done-error", len);
	len = kmsg_family(buf, sizeof(buf), 1, 0x1f, "monitor", 5);
	err |= save_reply(argv[1], "family", len);

	len = kmsg_ntf(buf, sizeof(buf), &n);
	err |= save(argv[2], "low", buf, len);
	len = 0;
	for (uint32_t e = 0; e <= QKD_EVENT_EXPIRED; e++) {
		n.event = e;
		len += kmsg_ntf(buf + len, sizeof(buf) - len, &n);
	}
	err |= save(argv[2], "all", buf, len);
	n.direction = -1;
	n.has_count = false;
	n.name[0] = '\0';
	n.event = QKD_EVENT_REMOVED;
	len = kmsg_ntf(buf, sizeof(buf), &n);
	err |= save(argv[2], "removed-bare", buf, len);
	return err ? 1 : 0;
}
