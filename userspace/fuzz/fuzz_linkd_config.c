// SPDX-License-Identifier: GPL-2.0
/* Fuzz target: qkd-linkd's configuration parser on arbitrary file contents. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../linkd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	char err[CFG_ERR_LEN];
	char *buf = malloc(size ? size : 1);	/* exact size: overreads trap */

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (config_parse("fuzz.conf", buf, size, &cfg, err, sizeof(err)) == 0) {
		/* An accepted file is consistent. */
		if (!cfg.npools || cfg.npools > CFG_MAX_POOLS)
			abort();
		for (unsigned int i = 0; i < cfg.npools; i++)
			if (cfg.pools[i].low >= cfg.pools[i].high ||
			    cfg.pools[i].high > cfg.pools[i].capacity ||
			    cfg.pools[i].key_bits % 8)
				abort();
	} else if (strncmp(err, "fuzz.conf:", 10)) {
		abort();	/* every refusal names the file and line */
	}
	free(buf);
	return 0;
}
