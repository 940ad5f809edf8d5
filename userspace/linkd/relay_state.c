// SPDX-License-Identifier: GPL-2.0
/* An end-to-end pool's state across restarts (relay_state.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "relay_state.h"
#include "statefile.h"

#define HEADER	"qkd-linkd relay 1\n"

int relay_state_format(const struct relay_state *st, char *buf, size_t len)
{
	int n = snprintf(buf, len, HEADER "next %" PRIu64 "\naborted %" PRIu64 "\n",
			 st->next, st->aborted);

	return n < 0 || (size_t)n >= len ? -1 : n;
}

/* "KEY N\n" at *@s: the number, *@s moved past it; -1 if it is not that. */
static int field(const char **s, const char *key, uint64_t *v)
{
	size_t k = strlen(key);
	const char *p = *s;
	char *end;

	if (strncmp(p, key, k) || p[k] != ' ' || p[k + 1] < '0' || p[k + 1] > '9')
		return -1;
	if (p[k + 1] == '0' && p[k + 2] != '\n')
		return -1;	/* no leading zeros: one spelling per state */
	errno = 0;
	*v = strtoull(p + k + 1, &end, 10);
	if (errno || *end != '\n')
		return -1;
	*s = end + 1;
	return 0;
}

int relay_state_parse(const char *text, struct relay_state *st, char *err,
		      size_t errlen)
{
	const char *s = text;

	if (strncmp(s, HEADER, strlen(HEADER))) {
		snprintf(err, errlen, "not a relay state file (first line '%s')",
			 "qkd-linkd relay 1");
		return -1;
	}
	s += strlen(HEADER);
	if (field(&s, "next", &st->next) || !st->next) {
		snprintf(err, errlen, "line 2: expected 'next N' (N at least 1)");
		return -1;
	}
	if (field(&s, "aborted", &st->aborted)) {
		snprintf(err, errlen, "line 3: expected 'aborted N'");
		return -1;
	}
	if (*s) {
		snprintf(err, errlen, "text after line 3");
		return -1;
	}
	return 0;
}

int relay_state_load(const char *dir, const char *pool,
		     struct relay_state *st, char *err, size_t errlen)
{
	char path[1024], buf[RELAY_STATE_MAX + 1], why[160];
	size_t len;
	int r;

	st->next = 1;
	st->aborted = 0;
	statefile_path(path, sizeof(path), dir, pool, "relay");
	r = statefile_read(path, buf, sizeof(buf), &len, err, errlen);
	if (r <= 0)
		return r;
	if (strlen(buf) != len || relay_state_parse(buf, st, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", path,
			 strlen(buf) != len ? "NUL in the file" : why);
		st->next = 1;
		st->aborted = 0;
		return -1;
	}
	return 1;
}

int relay_state_save(const char *dir, const char *pool,
		     const struct relay_state *st, char *err, size_t errlen)
{
	char path[1024], buf[RELAY_STATE_MAX];
	int n = relay_state_format(st, buf, sizeof(buf));

	statefile_path(path, sizeof(path), dir, pool, "relay");
	if (n < 0) {
		snprintf(err, errlen, "cannot write %s: state too long", path);
		return -1;
	}
	return statefile_write(path, buf, (size_t)n, 0600, true, err, errlen);
}
