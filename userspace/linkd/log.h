/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Logging for operators: one line per event on stderr (the journal under
 * systemd), with a syslog priority prefix ("<3>" ...) that journald reads.
 * Never pass key material to these functions: key IDs and counts only.
 */
#ifndef LINKD_LOG_H
#define LINKD_LOG_H

#include <syslog.h>

extern int log_max_level;	/* LOG_INFO by default, LOG_DEBUG with -v */

void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
