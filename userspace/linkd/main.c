// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-linkd: keeps the qkdpool pools of this node between their
 * watermarks with keys from a QKD key management entity (ETSI GS QKD 014)
 * or a synchronized key stream, agreeing every key with the peer node's
 * qkd-linkd before it is used.  See qkd-linkd(8) and
 * Documentation/qkd-linkd.rst.
 *
 *   qkd-linkd [-c FILE] [-t] [-v]
 *
 * One thread, one poll(2) loop: the listener, the peer connections and a
 * signalfd (SIGTERM/SIGINT: exit; SIGHUP: reload).  KME requests block,
 * bounded by kme_timeout.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <curl/curl.h>
#include "linkd.h"
#include "log.h"

#define MAX_CONNS	256
#define RATE_LOG_EVERY	60.0

double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_listener(struct linkd *d)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai;
	int fd, one = 1, r;

	r = getaddrinfo(d->cfg->listen_host, d->cfg->listen_port, &hints, &ai);
	if (r) {
		log_err("listen %s: %s", d->cfg->listen_host, gai_strerror(r));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16)) {
		log_err("listen %s:%s: %s", d->cfg->listen_host,
			d->cfg->listen_port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	d->listen_fd = fd;
	return 0;
}

/* Find or create the kernel pool and bring its settings in line. */
static int setup_kernel_pool(struct linkd *d, struct pool *p)
{
	struct qkd_pool_config pc = {
		.fields = QKD_POOL_CAPACITY | QKD_POOL_LOW | QKD_POOL_HIGH |
			  QKD_POOL_MAX_AGE,
		.capacity = p->cfg.capacity,
		.low_watermark = p->cfg.low,
		.high_watermark = p->cfg.high,
		.max_age = p->cfg.max_age,
	};
	struct qkd_pool_info info;
	int ret;

	ret = qkd_pool_get(d->qkd, 0, p->cfg.name, &info);
	if (ret == -ENOENT) {
		snprintf(pc.name, sizeof(pc.name), "%s", p->cfg.name);
		pc.fields |= QKD_POOL_KEY_SIZE;
		pc.key_size = p->cfg.key_bits / 8;
		ret = qkd_pool_create(d->qkd, &pc, &p->id);
		if (!ret)
			log_info("pool %s: created (id %u)", p->cfg.name, p->id);
	} else if (!ret) {
		p->id = info.id;
		if (info.key_size != p->cfg.key_bits / 8) {
			log_err("pool %s: the kernel pool has %u-byte keys, the configuration says %u bits",
				p->cfg.name, info.key_size, p->cfg.key_bits);
			return -1;
		}
		ret = qkd_pool_set(d->qkd, p->id, &pc);
	}
	if (ret) {
		log_err("pool %s: kernel pool: %s%s%s", p->cfg.name,
			qkd_strerror(ret), qkd_last_error(d->qkd)[0] ? ": " : "",
			qkd_last_error(d->qkd));
		return -1;
	}
	return 0;
}

static int setup_pool(struct linkd *d, struct pool *p)
{
	char err[512];
	int ret;

	if (setup_kernel_pool(d, p))
		return -1;
	if (p->cfg.source == SOURCE_ETSI014)
		ret = kme_source_new(&p->cfg, &p->src, err, sizeof(err));
	else
		ret = stream_source_new(&p->cfg, d->cfg->state_dir, &p->src,
					err, sizeof(err));
	if (ret) {
		log_err("pool %s: %s", p->cfg.name, err);
		return -1;
	}
	p->client_ctx = tls_client_ctx(d->cfg, &p->cfg, err, sizeof(err));
	if (!p->client_ctx) {
		log_err("pool %s: %s", p->cfg.name, err);
		return -1;
	}
	if (journal_load(d->cfg->state_dir, p->cfg.name, &p->j, err,
			 sizeof(err))) {
		log_err("pool %s: %s", p->cfg.name, err);
		return -1;
	}
	if (master_recover(d, p))
		return -1;
	p->next_try = now_mono();
	log_info("pool %s: %s source, SAE %s, peer SAE %s at %s:%s, watermarks %u..%u, %u-bit keys",
		 p->cfg.name,
		 p->cfg.source == SOURCE_ETSI014 ? "ETSI 014" : "stream",
		 p->cfg.sae_id, p->cfg.peer_sae_id, p->cfg.peer_host,
		 p->cfg.peer_port, p->cfg.low, p->cfg.high, p->cfg.key_bits);
	return 0;
}

static void teardown(struct linkd *d)
{
	for (struct conn *c = d->conns; c; c = c->next)
		conn_close(d, c, NULL);
	conn_sweep(d);
	for (unsigned int i = 0; i < d->npools; i++) {
		struct pool *p = &d->pools[i];

		if (p->pending) {
			qkd_key_wipe(p->pending, p->npending);
			free(p->pending);
		}
		if (p->src.ops)
			p->src.ops->destroy(p->src.priv);
		SSL_CTX_free(p->client_ctx);
	}
	free(d->pools);
	d->pools = NULL;
	d->npools = 0;
	SSL_CTX_free(d->server_ctx);
	d->server_ctx = NULL;
	if (d->listen_fd >= 0)
		close(d->listen_fd);
	d->listen_fd = -1;
}

/* Build everything from d->cfg.  0, or -1 (logged). */
static int setup(struct linkd *d)
{
	char err[512];

	if (mkdir(d->cfg->state_dir, 0700) && errno != EEXIST) {
		log_err("state_dir %s: %s", d->cfg->state_dir, strerror(errno));
		return -1;
	}
	d->server_ctx = tls_server_ctx(d->cfg, err, sizeof(err));
	if (!d->server_ctx) {
		log_err("[linkd]: %s", err);
		return -1;
	}
	if (open_listener(d))
		return -1;
	d->pools = calloc(d->cfg->npools, sizeof(*d->pools));
	if (!d->pools)
		return -1;
	d->npools = d->cfg->npools;
	for (unsigned int i = 0; i < d->npools; i++) {
		d->pools[i].cfg = d->cfg->pools[i];
		if (setup_pool(d, &d->pools[i]))
			return -1;
	}
	log_info("listening for peers on %s:%s, %u pool(s)", d->cfg->listen_host,
		 d->cfg->listen_port, d->npools);
	return 0;
}

static void reload(struct linkd *d)
{
	struct config *cfg = malloc(sizeof(*cfg)), *old = d->cfg;
	char err[CFG_ERR_LEN];

	if (!cfg)
		return;
	if (config_load(d->config_path, cfg, err, sizeof(err))) {
		log_err("reload refused, keeping the running configuration: %s",
			err);
		free(cfg);
		return;
	}
	log_info("reloading %s", d->config_path);
	teardown(d);
	d->cfg = cfg;
	if (setup(d)) {
		log_err("reload failed; going back to the previous configuration");
		teardown(d);
		d->cfg = old;
		free(cfg);
		if (setup(d)) {
			log_err("cannot restore the previous configuration: exiting");
			exit(EXIT_FAILURE);
		}
		return;
	}
	free(old);
}

static double next_wakeup(struct linkd *d)
{
	double t = now_mono() + 1.0;

	for (unsigned int i = 0; i < d->npools; i++) {
		struct pool *p = &d->pools[i];
		double w = p->mstate == M_IDLE ? p->next_try : p->ack_deadline;

		if (w < t)
			t = w;
	}
	for (struct conn *c = d->conns; c; c = c->next)
		if (c->state != CONN_OPEN && c->deadline < t)
			t = c->deadline;
	return t;
}

static int run(struct linkd *d)
{
	struct pollfd pfd[MAX_CONNS + 2];
	struct conn *cs[MAX_CONNS + 2];

	for (;;) {
		double now, wake = next_wakeup(d);
		int n = 0, timeout;

		pfd[n++] = (struct pollfd){ .fd = d->signal_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = d->listen_fd, .events = POLLIN };
		for (struct conn *c = d->conns; c && n < MAX_CONNS + 2;
		     c = c->next) {
			cs[n] = c;
			pfd[n++] = (struct pollfd){
				.fd = c->fd,
				.events = POLLIN | (c->want_write ? POLLOUT : 0),
			};
		}
		timeout = (int)((wake - now_mono()) * 1000) + 1;
		if (timeout < 0)
			timeout = 0;
		if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			return -1;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					reload(d);
					continue;
				}
				log_info("signal %u: exiting", si.ssi_signo);
				return 0;
			}
		}
		for (int i = 2; i < n; i++)
			if (pfd[i].revents)
				conn_progress(d, cs[i], pfd[i].revents);
		if (pfd[1].revents & POLLIN) {
			unsigned int nc = 0;

			for (struct conn *c = d->conns; c; c = c->next)
				nc++;
			if (nc < MAX_CONNS)
				conn_accept(d);
		}
		now = now_mono();
		for (struct conn *c = d->conns; c; c = c->next)
			if (!c->dead && c->state != CONN_OPEN && now > c->deadline) {
				if (c->pool)
					c->pool->st.peer_errors++;
				conn_close(d, c, "set-up timeout");
			}
		for (unsigned int i = 0; i < d->npools; i++)
			master_step(d, &d->pools[i]);
		conn_sweep(d);
		now = now_mono();
		if (now >= d->next_status_write) {
			status_write(d);
			d->next_status_write = now + 1.0;
		}
		if (now >= d->next_rate_log) {
			if (d->next_rate_log)
				status_log_rates(d, RATE_LOG_EVERY);
			d->next_rate_log = now + RATE_LOG_EVERY;
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: qkd-linkd [-c FILE] [-t] [-v] [-h]\n"
		"  -c, --config FILE  configuration (default %s)\n"
		"  -t, --test         check the configuration and exit\n"
		"  -v, --verbose      log debug messages too\n"
		"  -h, --help         this text; see qkd-linkd(8), qkd-linkd.conf(5)\n",
		CFG_DEFAULT_PATH);
}

int main(int argc, char *argv[])
{
	struct linkd d = { .config_path = CFG_DEFAULT_PATH, .listen_fd = -1 };
	char err[CFG_ERR_LEN];
	bool test_only = false;
	sigset_t mask;
	int opt, ret;

	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	while ((opt = getopt_long(argc, argv, "c:tvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			d.config_path = optarg;
			break;
		case 't':
			test_only = true;
			break;
		case 'v':
			log_max_level = LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	d.cfg = malloc(sizeof(*d.cfg));
	if (!d.cfg)
		return 1;
	if (config_load(d.config_path, d.cfg, err, sizeof(err))) {
		log_err("refusing to start: %s", err);
		free(d.cfg);
		return 1;
	}
	if (test_only) {
		printf("%s: OK, %u pool(s)\n", d.config_path, d.cfg->npools);
		free(d.cfg);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	d.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (d.signal_fd < 0 || curl_global_init(CURL_GLOBAL_DEFAULT)) {
		log_err("cannot set up signals or libcurl");
		return 1;
	}
	ret = qkd_open(&d.qkd);
	if (ret) {
		log_err("refusing to start: cannot open the qkd netlink family: %s%s",
			qkd_strerror(ret),
			ret == -ENOENT ? " (is the qkdpool module loaded?)" : "");
		return 1;
	}
	if (setup(&d)) {
		log_err("refusing to start");
		teardown(&d);
		qkd_close(d.qkd);
		return 1;
	}
	ret = run(&d);
	teardown(&d);
	qkd_close(d.qkd);
	curl_global_cleanup();
	free(d.cfg);
	close(d.signal_fd);
	log_info("stopped");
	return ret ? 1 : 0;
}
