// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: an end-to-end pool's state file (linkd/relay_state.c).
 * An accepted text is exactly what relay_state_format() writes for the
 * values read (one spelling per state), with next at least 1; every
 * refusal says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../linkd/relay_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), again[RELAY_STATE_MAX], err[160] = "";
	struct relay_state st;
	int n;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (relay_state_parse(text, &st, err, sizeof(err))) {
		if (!err[0])
			abort();
		free(text);
		return 0;
	}
	n = relay_state_format(&st, again, sizeof(again));
	if (!st.next || n < 0 || strcmp(again, text))
		abort();
	free(text);
	return 0;
}
