// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Periodic timers on charon's watcher (see qkd_timer.h).
 */
#include "qkd_timer.h"

#include <errno.h>
#include <unistd.h>
#include <sys/timerfd.h>

static struct timespec ms_to_timespec(uint32_t ms)
{
	return (struct timespec){
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000,
	};
}

/*
 * Described in header
 */
int qkd_timer_create(uint32_t first_ms, uint32_t interval_ms)
{
	struct itimerspec its = {
		.it_interval = ms_to_timespec(interval_ms),
		.it_value = ms_to_timespec(first_ms),
	};
	int fd, err;

	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
	{
		return -1;
	}
	if (timerfd_settime(fd, 0, &its, NULL) < 0)
	{
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * Described in header
 */
bool qkd_timer_ack(int fd)
{
	uint64_t expirations;

	return read(fd, &expirations, sizeof(expirations)) >= 0 ||
		   errno == EAGAIN;
}
