// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: qkd-linkd's status file as qkdctl parses it
 * (qkdctl/linkd_status.c).  An accepted file must hold what qkdctl relies
 * on: non-empty, distinct, printable pool names, printable texts, an
 * interval and a time; node names and paths (the relay's) without quotes
 * or backslashes; a rejected one must leave nothing allocated.
 */
#include <stdbool.h>
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

/* Node names go into show lines and Prometheus labels as they are. */
static void names(const char *s, bool path)
{
	printable(s);
	if (strpbrk(s, path ? "\"\\?" : "\"\\? "))
		abort();
}

/* The relay's parts (0.3+ files): one kind per entry, texts clean. */
static void relay(const struct linkd_health *h)
{
	const struct linkd_e2e *e = &h->end;

	if (h->relays && h->e2e)
		abort();
	if (h->relays) {
		names(h->relay.node, false);
		if (h->relay.share > 100)
			abort();
	}
	if (!h->e2e)
		return;
	names(e->peer, false);
	names(e->role_out, false);
	names(e->role_in, false);
	names(e->path, true);
	names(e->path_in, true);
	names(e->bottleneck, false);
	printable(e->last_error);
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
		relay(&h[i]);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(h[i].name, h[j].name))
				abort();
		(void)linkd_state_at(h[i].time, h[i].interval, h[i].time + 6);
	}
	free(h);
	return 0;
}
