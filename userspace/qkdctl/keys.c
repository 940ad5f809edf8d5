// SPDX-License-Identifier: GPL-2.0
/*
 * qkdctl keys add|take: for tests and bring-up only.  Key material is read
 * from a file or stdin, never from the command line, and never printed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "qkdctl.h"

static const char usage[] =
	"keys add POOL in|out --from FILE|-\n"
	"       qkdctl keys take POOL out [--count N]\n"
	"       qkdctl keys take POOL in KEY-ID...\n"
	"For tests.  add reads keys from FILE (or stdin for -), one per line:\n"
	"the key ID (32 hex digits, dashes allowed) and the material (2 hex\n"
	"digits per byte, the pool's key size), separated by blanks; '#'\n"
	"starts a comment.  Keys go to the kernel in batches of up to 512,\n"
	"each added whole or not at all.  take takes keys and prints their IDs\n"
	"only; their material is wiped.  Needs CAP_NET_ADMIN.\n";

static int flush_batch(struct qkd *h, const struct qkd_pool_info *info,
		       int dir, struct qkd_key *batch, size_t *n,
		       unsigned long *added)
{
	int ret;

	if (!*n)
		return 0;
	ret = qkd_key_add(h, info->id, dir, batch, *n);
	qkd_key_wipe(batch, *n);
	if (ret) {
		fprintf(stderr, "%s: keys add: %lu keys added before this batch of %zu failed\n",
			PROG_NAME, *added, *n);
		return ctl_fail(h, ret, "keys add", info->name);
	}
	*added += *n;
	*n = 0;
	return 0;
}

static int keys_add(int argc, char *argv[])
{
	struct qkd_pool_info info;
	struct qkd_key *batch;
	unsigned long added = 0, lineno = 0;
	char *line = NULL, err[128];
	size_t cap = 0, n = 0;
	const char *from;
	struct qkd *h;
	FILE *f;
	int dir, ret = EXIT_OK;

	if (argc != 4 || strcmp(argv[2], "--from"))
		return ctl_usage(stderr, EXIT_USAGE, usage);
	dir = parse_direction(argv[1]);
	if (dir < 0) {
		fprintf(stderr, "%s: keys add: direction must be 'in' or 'out', not '%s'\n",
			PROG_NAME, argv[1]);
		return EXIT_USAGE;
	}
	from = argv[3];
	f = strcmp(from, "-") ? fopen(from, "re") : stdin;
	if (!f) {
		fprintf(stderr, "%s: keys add: cannot open '%s': %s\n",
			PROG_NAME, from, strerror(errno));
		return EXIT_ERROR;
	}
	/* Input stays unbuffered by stdio so that no copy lingers there. */
	setvbuf(f, NULL, _IONBF, 0);
	batch = calloc(QKD_BATCH_MAX, sizeof(*batch));
	h = batch ? ctl_open() : NULL;
	if (!h) {
		ret = EXIT_ERROR;
		goto out;
	}
	if (ctl_lookup(h, argv[0], &info)) {
		ret = EXIT_ERROR;
		goto out;
	}
	for (;;) {
		ssize_t len = getline(&line, &cap, f);
		int r;

		if (len < 0)
			break;
		lineno++;
		r = parse_key_line(line, &batch[n], err, sizeof(err));
		explicit_bzero(line, (size_t)len);
		if (r < 0) {
			fprintf(stderr, "%s: keys add: %s line %lu: %s\n",
				PROG_NAME, from, lineno, err);
			ret = EXIT_ERROR;
			goto out;
		}
		if (r == 0)
			continue;
		if (batch[n].len != info.key_size) {
			fprintf(stderr, "%s: keys add: %s line %lu: the material is %u bytes, pool '%s' has a key size of %u\n",
				PROG_NAME, from, lineno, batch[n].len,
				info.name, info.key_size);
			ret = EXIT_ERROR;
			goto out;
		}
		if (++n == QKD_BATCH_MAX &&
		    flush_batch(h, &info, dir, batch, &n, &added)) {
			ret = EXIT_ERROR;
			goto out;
		}
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: keys add: reading '%s': %s\n", PROG_NAME,
			from, strerror(errno));
		ret = EXIT_ERROR;
		goto out;
	}
	if (flush_batch(h, &info, dir, batch, &n, &added)) {
		ret = EXIT_ERROR;
		goto out;
	}
	printf("added %lu keys to pool '%s' (%s)\n", added, info.name,
	       qkd_direction_name(dir));
out:
	if (line) {
		explicit_bzero(line, cap);
		free(line);
	}
	if (batch) {
		qkd_key_wipe(batch, QKD_BATCH_MAX);
		free(batch);
	}
	if (f != stdin)
		fclose(f);
	qkd_close(h);
	return ret;
}

static void print_id(const uint8_t id[QKD_KEY_ID_LEN])
{
	for (int i = 0; i < QKD_KEY_ID_LEN; i++)
		printf("%02x", id[i]);
	putchar('\n');
}

static int keys_take(int argc, char *argv[])
{
	struct qkd_pool_info info;
	struct qkd_key key;
	uint32_t count = 1;
	struct qkd *h;
	int dir, ret = 0;

	if (argc < 2)
		return ctl_usage(stderr, EXIT_USAGE, usage);
	dir = parse_direction(argv[1]);
	if (dir == QKD_DIRECTION_OUT) {
		if (argc == 4 && !strcmp(argv[2], "--count")) {
			if (parse_u32(argv[3], &count) || !count) {
				fprintf(stderr, "%s: keys take: --count needs a positive integer\n",
					PROG_NAME);
				return EXIT_USAGE;
			}
		} else if (argc != 2) {
			return ctl_usage(stderr, EXIT_USAGE, usage);
		}
	} else if (dir == QKD_DIRECTION_IN) {
		if (argc < 3)
			return ctl_usage(stderr, EXIT_USAGE, usage);
		for (int i = 2; i < argc; i++) {
			size_t n;

			if (parse_hex(argv[i], key.id, sizeof(key.id), &n) ||
			    n != QKD_KEY_ID_LEN) {
				fprintf(stderr, "%s: keys take: '%s' is not a key ID (32 hex digits)\n",
					PROG_NAME, argv[i]);
				return EXIT_USAGE;
			}
		}
	} else {
		fprintf(stderr, "%s: keys take: direction must be 'in' or 'out', not '%s'\n",
			PROG_NAME, argv[1]);
		return EXIT_USAGE;
	}
	h = ctl_open();
	if (!h)
		return EXIT_ERROR;
	if (ctl_lookup(h, argv[0], &info)) {
		qkd_close(h);
		return EXIT_ERROR;
	}
	if (dir == QKD_DIRECTION_OUT) {
		for (uint32_t i = 0; i < count && !ret; i++) {
			ret = qkd_key_take_next(h, info.id, &key);
			if (!ret)
				print_id(key.id);
		}
	} else {
		for (int i = 2; i < argc && !ret; i++) {
			uint8_t id[QKD_KEY_ID_LEN];
			size_t n;

			parse_hex(argv[i], id, sizeof(id), &n);
			ret = qkd_key_take_id(h, info.id, id, NULL, &key);
			if (!ret)
				print_id(key.id);
		}
	}
	qkd_key_wipe(&key, 1);
	if (ret == -ENOENT) {
		fprintf(stderr, "%s: keys take: no such key in pool '%s' (%s)%s%s\n",
			PROG_NAME, info.name, qkd_direction_name(dir),
			qkd_last_error(h)[0] ? ": " : "", qkd_last_error(h));
		ret = EXIT_ERROR;
	} else if (ret) {
		ret = ctl_fail(h, ret, "keys take", info.name);
	}
	qkd_close(h);
	return ret;
}

int cmd_keys(int argc, char *argv[])
{
	if (argc > 1 && is_help(argv[1]))
		return ctl_usage(stdout, EXIT_OK, usage);
	for (int i = 2; i < argc; i++)
		if (is_help(argv[i]))
			return ctl_usage(stdout, EXIT_OK, usage);
	if (argc < 2)
		return ctl_usage(stderr, EXIT_USAGE, usage);
	if (!strcmp(argv[1], "add"))
		return keys_add(argc - 2, argv + 2);
	if (!strcmp(argv[1], "take"))
		return keys_take(argc - 2, argv + 2);
	fprintf(stderr, "%s: keys: unknown action '%s'\n", PROG_NAME, argv[1]);
	return ctl_usage(stderr, EXIT_USAGE, usage);
}
