/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_timer qkd_timer
 * @{ @ingroup qkd
 */
#ifndef QKD_TIMER_H_
#define QKD_TIMER_H_

#include <stdbool.h>
#include <stdint.h>

/**
 * A periodic timer to put on lib->watcher (WATCHER_READ): a timerfd that
 * fires @first_ms from now, then every @interval_ms.  The watcher removes
 * its callbacks synchronously (lib->watcher->remove()), so a periodic job
 * torn down with it never runs after its object is gone, unlike a
 * scheduler job.
 *
 * @return			the file descriptor, or -1 (errno set)
 */
int qkd_timer_create(uint32_t first_ms, uint32_t interval_ms);

/**
 * In the watcher callback: read the expirations, so that the fd is quiet
 * until the next one.
 *
 * @return			FALSE if reading failed (not for "none pending")
 */
bool qkd_timer_ack(int fd);

#endif /** QKD_TIMER_H_ @}*/
