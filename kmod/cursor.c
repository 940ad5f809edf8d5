// SPDX-License-Identifier: GPL-2.0
/*
 * The resumable walk of a netlink dump over pool IDs.  See cursor.h.
 */

#include "cursor.h"

int qkd_cursor_walk(struct xarray *xa, u64 *cursor,
		    int (*fn)(unsigned long id, void *entry, void *arg),
		    void *arg)
{
	unsigned long id;
	void *entry;
	int err;

	if (*cursor > U32_MAX)
		return 0;
	xa_for_each_range(xa, id, entry, (unsigned long)*cursor, U32_MAX) {
		err = fn(id, entry, arg);
		if (err)
			return err;
		/* In a u64: past U32_MAX, never back to 0. */
		*cursor = (u64)id + 1;
	}
	return 0;
}

#if IS_ENABLED(CONFIG_QKDPOOL_KUNIT_TEST)
#include "cursor_test.c"
#endif
