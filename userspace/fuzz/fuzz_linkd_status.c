// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: qkd-linkd's status file as qkdctl parses it
 * (qkdctl/linkd_status.c).  An accepted file must hold what qkdctl relies
 * on: non-empty, distinct, printable pool names, printable texts, an
 * interval and a time; a rejected one must leave nothing allocated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../qkdctl/linkd_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct linkd_health *h;
	char err[128];
	size_t n;

	if (linkd_status_parse((const char *)data, size, &h, &n, err,
			       sizeof(err))) {
		if (h || n || !err[0])
			abort();
		return 0;
	}
	if (n > LINKD_STATUS_MAX_POOLS || (n && !h))
		abort();
	for (size_t i = 0; i < n; i++) {
		if (!h[i].name[0] || h[i].time < 1 || !h[i].interval ||
		    h[i].state != LINKD_RUNNING)
			abort();
		printable(h[i].name);
		printable(h[i].last_error);
		printable(h[i].master_state);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(h[i].name, h[j].name))
				abort();
		(void)linkd_state_at(h[i].time, h[i].interval, h[i].time + 6);
	}
	free(h);
	return 0;
}
