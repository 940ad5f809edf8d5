/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qkd-linkd's small state files (the journal, the reconciliation record,
 * the relay state, the stream positions, the status file): read whole,
 * and replaced whole by writing PATH.tmp and renaming it over PATH, so
 * that a crash leaves either the old file or the new one, never a mix.
 * A durable write also fsyncs the file and then its directory (the
 * rename), for records whose loss could make a restart act on an old
 * state; the status file is rewritten every second and needs neither.
 */
#ifndef LINKD_STATEFILE_H
#define LINKD_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* "DIR/POOL.EXT" into @buf (truncated to @cap). */
void statefile_path(char *buf, size_t cap, const char *dir, const char *pool,
		    const char *ext);

/*
 * Read @path into @buf (at most @cap - 1 bytes, NUL-terminated; *len the
 * bytes read).  1 when read, 0 when there is no such file, -1 on another
 * error (its reason in @err).  A file longer than that is cut there: its
 * parser refuses what is left.
 */
int statefile_read(const char *path, char *buf, size_t cap, size_t *len,
		   char *err, size_t errlen);

/*
 * Replace @path with @len bytes of @buf, mode @mode, fsynced (file and
 * directory) when @durable.  0, or -1 with "cannot write PATH: reason" in
 * @err and no PATH.tmp left behind; errno is kept for the caller.  A
 * durable write whose directory fsync fails is -1 too ("cannot write PATH
 * durably: ..."): PATH holds the new bytes, but a crash may bring the old
 * ones back, so the caller must not act as if they were on disk (it
 * logs @err and writes again, as after any failed write).
 */
int statefile_write(const char *path, const void *buf, size_t len,
		    mode_t mode, bool durable, char *err, size_t errlen);

/*
 * @s as a JSON string, quoted.  Texts may quote a KME's answer: bytes
 * that are not ASCII become '?', so that the file is always valid UTF-8.
 */
void statefile_json_str(FILE *f, const char *s);

#endif
