// SPDX-License-Identifier: GPL-2.0
/* qkdctl monitor [--json]: pool notifications as they come. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include "qkdctl.h"

static const char usage[] =
	"monitor [--json]\n"
	"Print pool notifications (low, empty, refilled, removed, expired) as\n"
	"they come, one line each; --json prints one JSON object per line.\n"
	"Runs until interrupted.\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int cmd_monitor(int argc, char *argv[])
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct qkd_notification ntf;
	bool json = false;
	struct qkd *h;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i]))
			return ctl_usage(stdout, EXIT_OK, usage);
		if (!strcmp(argv[i], "--json"))
			json = true;
		else
			return ctl_usage(stderr, EXIT_USAGE, usage);
	}
	h = ctl_open();
	if (!h)
		return EXIT_ERROR;
	ret = qkd_subscribe(h);
	if (ret) {
		ret = ctl_fail(h, ret, "monitor", NULL);
		qkd_close(h);
		return ret;
	}
	/* No SA_RESTART: a signal ends the blocking receive. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop) {
		ret = qkd_notification_recv(h, &ntf, 0);
		if (ret == -EINTR)
			continue;
		if (ret == -ENOBUFS) {
			fprintf(stderr, "%s: monitor: notifications were lost (too many at once); the pools may have changed state unseen\n",
				PROG_NAME);
			continue;
		}
		if (ret) {
			ret = ctl_fail(h, ret, "monitor", NULL);
			qkd_close(h);
			return ret;
		}
		fmt_notification(stdout, &ntf, json);
		fflush(stdout);
	}
	qkd_close(h);
	return EXIT_OK;
}
