// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: one datagram on a subscribed socket, split into messages
 * with qkd__next_msg() and parsed as notifications, as
 * qkd_notification_recv() does.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qkd_notification ntf;
	const uint8_t *msg;
	size_t off = 0, len;
	uint8_t *buf;

	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	while (qkd__next_msg(buf, size, &off, &msg, &len) > 0) {
		if (!qkd__parse_notification(msg, len, &ntf)) {
			/* What the parser accepted is safe to print. */
			if (strlen(ntf.name) > QKD_POOL_NAME_MAX_LEN ||
			    ntf.event > QKD_EVENT_EXPIRED ||
			    ntf.direction > QKD_DIRECTION_IN || !ntf.pool_id)
				abort();
		}
	}
	free(buf);
	return 0;
}
