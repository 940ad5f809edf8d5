// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include "log.h"

int log_max_level = LOG_INFO;

void log_msg(int level, const char *fmt, ...)
{
	char line[4096];	/* a path of ROUTE_PATH_STR_LEN fits */
	va_list ap;

	if (level > log_max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "<%d>qkd-linkd: %s\n", level, line);
}
