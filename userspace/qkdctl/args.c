// SPDX-License-Identifier: GPL-2.0
/*
 * Parsers of command line arguments and key files: pure functions, unit
 * tested in tests/test_args.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "qkdctl.h"

int parse_u64(const char *s, uint64_t *v)
{
	uint64_t r = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		unsigned int d;

		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned int)(*s - '0');
		if (r > (UINT64_MAX - d) / 10)
			return -1;
		r = r * 10 + d;
	}
	*v = r;
	return 0;
}

int parse_u32(const char *s, uint32_t *v)
{
	uint64_t r;

	if (parse_u64(s, &r) || r > UINT32_MAX)
		return -1;
	*v = (uint32_t)r;
	return 0;
}

int parse_seconds(const char *s, uint32_t *v)
{
	char num[24];
	size_t n;
	uint64_t r, mult = 1;

	if (!s)
		return -1;
	n = strlen(s);
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 's':
		mult = 1;
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	default:
		n++;	/* no unit */
		break;
	}
	num[n - 1] = '\0';
	if (parse_u64(num, &r) || r > UINT32_MAX / mult)
		return -1;
	*v = (uint32_t)(r * mult);
	return 0;
}

int parse_direction(const char *s)
{
	if (!s)
		return -1;
	if (!strcmp(s, "out"))
		return QKD_DIRECTION_OUT;
	if (!strcmp(s, "in"))
		return QKD_DIRECTION_IN;
	return -1;
}

int parse_pool_settings(int argc, char *argv[], struct qkd_pool_config *cfg,
			char *err, size_t err_len)
{
	static const struct {
		const char *kw;
		uint32_t bit;
		size_t off;
	} kws[] = {
		{ "key-size", QKD_POOL_KEY_SIZE,
		  offsetof(struct qkd_pool_config, key_size) },
		{ "capacity", QKD_POOL_CAPACITY,
		  offsetof(struct qkd_pool_config, capacity) },
		{ "low", QKD_POOL_LOW,
		  offsetof(struct qkd_pool_config, low_watermark) },
		{ "high", QKD_POOL_HIGH,
		  offsetof(struct qkd_pool_config, high_watermark) },
		{ "max-age", QKD_POOL_MAX_AGE,
		  offsetof(struct qkd_pool_config, max_age) },
	};

	for (int i = 0; i < argc; i += 2) {
		size_t k;
		uint32_t v;
		int bad;

		if (!strcmp(argv[i], "name")) {
			size_t n = i + 1 < argc ? strlen(argv[i + 1]) : 0;

			if (cfg->fields & QKD_POOL_RENAME) {
				snprintf(err, err_len, "'name' given twice");
				return -1;
			}
			if (n < 1 || n > QKD_POOL_NAME_MAX_LEN) {
				snprintf(err, err_len,
					 "'name' needs a new name of 1 to %d characters",
					 QKD_POOL_NAME_MAX_LEN);
				return -1;
			}
			memcpy(cfg->name, argv[i + 1], n + 1);
			cfg->fields |= QKD_POOL_RENAME;
			continue;
		}

		for (k = 0; k < sizeof(kws) / sizeof(kws[0]); k++)
			if (!strcmp(argv[i], kws[k].kw))
				break;
		if (k == sizeof(kws) / sizeof(kws[0])) {
			snprintf(err, err_len,
				 "unknown setting '%.40s' (expected key-size, capacity, low, high or max-age)",
				 argv[i]);
			return -1;
		}
		if (cfg->fields & kws[k].bit) {
			snprintf(err, err_len, "'%s' given twice", kws[k].kw);
			return -1;
		}
		if (i + 1 >= argc) {
			snprintf(err, err_len, "'%s' needs a value", kws[k].kw);
			return -1;
		}
		if (kws[k].bit == QKD_POOL_MAX_AGE)
			bad = parse_seconds(argv[i + 1], &v);
		else
			bad = parse_u32(argv[i + 1], &v);
		if (bad) {
			snprintf(err, err_len, "'%s' needs %s, not '%.40s'",
				 kws[k].kw,
				 kws[k].bit == QKD_POOL_MAX_AGE ?
				 "seconds (or a number with s, m, h or d)" :
				 "a non-negative integer",
				 argv[i + 1]);
			return -1;
		}
		if (kws[k].bit == QKD_POOL_KEY_SIZE &&
		    (v < QKD_KEY_SIZE_MIN || v > QKD_KEY_SIZE_MAX)) {
			snprintf(err, err_len,
				 "key-size must be %d to %d bytes", QKD_KEY_SIZE_MIN,
				 QKD_KEY_SIZE_MAX);
			return -1;
		}
		if (kws[k].bit == QKD_POOL_CAPACITY &&
		    (v < 1 || v > QKD_CAPACITY_MAX)) {
			snprintf(err, err_len, "capacity must be 1 to %d keys",
				 QKD_CAPACITY_MAX);
			return -1;
		}
		cfg->fields |= kws[k].bit;
		memcpy((char *)cfg + kws[k].off, &v, sizeof(v));
	}
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int parse_hex(const char *s, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v;

		if (*s == '-')
			continue;
		v = hexval((unsigned char)*s);
		if (v < 0)
			return -1;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == cap)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0)
		return -1;
	*out_len = n;
	return 0;
}

/* Copy the next blank-separated word of *p into @w (at most @cap - 1). */
static int next_word(const char **p, char *w, size_t cap)
{
	const char *s = *p;
	size_t n = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s || *s == '#' || *s == '\n' || *s == '\r')
		return 0;
	while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' &&
	       *s != '#') {
		if (n + 1 >= cap)
			return -1;
		w[n++] = *s++;
	}
	w[n] = '\0';
	*p = s;
	return 1;
}

int parse_key_line(const char *line, struct qkd_key *key, char *err,
		   size_t err_len)
{
	/* Room for a UUID with dashes, and for the largest key in hex. */
	char w[2 * QKD_KEY_SIZE_MAX + 2];
	const char *p = line;
	size_t n;
	int ret, result = -1;

	ret = next_word(&p, w, sizeof(w));
	if (ret == 0)
		return 0;
	if (ret < 0 || parse_hex(w, key->id, QKD_KEY_ID_LEN, &n) ||
	    n != QKD_KEY_ID_LEN) {
		snprintf(err, err_len, "key ID is not %d bytes of hex",
			 QKD_KEY_ID_LEN);
		goto out;
	}
	ret = next_word(&p, w, sizeof(w));
	if (ret <= 0 || parse_hex(w, key->material, QKD_KEY_SIZE_MAX, &n) ||
	    n < QKD_KEY_SIZE_MIN) {
		snprintf(err, err_len,
			 "key material is not %d to %d bytes of hex",
			 QKD_KEY_SIZE_MIN, QKD_KEY_SIZE_MAX);
		goto out;
	}
	key->len = (uint32_t)n;
	if (next_word(&p, w, sizeof(w)) != 0) {
		snprintf(err, err_len, "more than two fields");
		goto out;
	}
	result = 1;
out:
	explicit_bzero(w, sizeof(w));
	if (result < 0)
		qkd_key_wipe(key, 1);
	return result;
}
