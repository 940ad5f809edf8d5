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
		/* The relay sections: every reference resolved. */
		for (unsigned int i = 0; i < cfg.relay.npools; i++) {
			const struct relay_pool_cfg *rp = &cfg.relay.pools[i];

			if (!cfg.relay.line || rp->peer_node < 0 ||
			    rp->peer_node == cfg.relay.self_node ||
			    (rp->npath && (rp->path_nodes[0] !=
					   cfg.relay.self_node ||
					   rp->path_nodes[rp->npath - 1] !=
					   rp->peer_node)))
				abort();
		}
	} else if (strncmp(err, "fuzz.conf:", 10)) {
		abort();	/* every refusal names the file and line */
	}
	free(buf);
	return 0;
}
