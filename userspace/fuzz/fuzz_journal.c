// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the master's journal file (linkd/journal.c), versions 1
 * and 2.  An accepted journal must hold what the recovery relies on: at
 * most JOURNAL_OPEN_MAX offers, each of 1 to QKD_BATCH_MAX IDs, sequence
 * numbers increasing and below next_seq; a refused one is left empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../linkd/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct journal j;
	char *text = malloc(size + 1);
	uint64_t last = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (journal_parse(text, &j)) {
		if (j.nopen || j.next_seq)
			abort();
		free(text);
		return 0;
	}
	if (j.nopen > JOURNAL_OPEN_MAX)
		abort();
	for (unsigned int i = 0; i < j.nopen; i++) {
		if (!j.open[i].n || j.open[i].n > QKD_BATCH_MAX ||
		    j.open[i].seq <= last || j.open[i].seq >= j.next_seq)
			abort();
		last = j.open[i].seq;
	}
	if (journal_recover(&j, j.added) == JOURNAL_COMMITTED && j.nopen &&
	    j.added + j.open[0].n > j.added)
		abort();	/* the counter unmoved never means committed */
	free(text);
	return 0;
}
