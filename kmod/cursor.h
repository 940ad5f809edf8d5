/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A walk over an xarray of u32 IDs that a netlink dump resumes pass after
 * pass: the cursor is a u64, so that the last ID, U32_MAX, moves it past
 * every ID instead of wrapping it to 0 (an unsigned long wraps there on
 * 32-bit machines, and the dump would start over without end).
 */
#ifndef _QKD_CURSOR_H
#define _QKD_CURSOR_H

#include <linux/types.h>
#include <linux/xarray.h>

/* A cursor at this value has visited every ID. */
#define QKD_CURSOR_END	((u64)U32_MAX + 1)

/*
 * Call @fn for each entry of @xa from ID *@cursor up to U32_MAX, in order
 * of ID.  After each entry @fn accepted (returned 0), *@cursor is one past
 * its ID, so a later call resumes after it.  Stops at the first error of
 * @fn and returns it, *@cursor then at the entry refused, to be offered
 * again.  Returns 0 when every entry from *@cursor on was visited; then
 * *@cursor is one past the last ID visited, and QKD_CURSOR_END once
 * U32_MAX was, after which every call visits nothing.  Entries added or
 * removed between calls behind the cursor are not seen; ahead of it, they
 * are (a dump flags such changes with its generation counter).
 */
int qkd_cursor_walk(struct xarray *xa, u64 *cursor,
		    int (*fn)(unsigned long id, void *entry, void *arg),
		    void *arg);

#endif /* _QKD_CURSOR_H */
