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
 * One poll(2) loop: the listener, the peer connections, a signalfd
 * (SIGTERM/SIGINT: exit; SIGHUP: reload) and an eventfd through which the
 * pools' workers (worker.h, threads) hand back the results of
 * their key-source calls.  Nothing on the loop waits for a KME.
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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <curl/curl.h>
#include "linkd.h"
#include "log.h"
#include "relay_daemon.h"
#include "secmem.h"

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
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
		log_err("listen %s:%s: %s", d->cfg->listen_host,
			d->cfg->listen_port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	d->cs.listen_fd = fd;
	return 0;
}

/* kernel.c's event, dispatched to both roles (struct linkd). */
static int pool_recreated(struct linkd *d, struct pool *p)
{
	if (master_pool_recreated(d, p))
		return -1;
	slave_pool_recreated(p);
	return 0;
}

static int setup_pool(struct linkd *d, struct pool *p)
{
	char err[512];
	int ret;

	if (kernel_pool_setup(d, p) && !d->kernel_stale)
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
	if (p->cfg.source == SOURCE_ETSI014 &&
	    kme_source_new(&p->cfg, &p->src_in, err, sizeof(err))) {
		log_err("pool %s: %s", p->cfg.name, err);
		return -1;
	}
	p->worker = worker_start(&p->src, d->wake_fd);
	p->worker_in = !p->worker || !p->src_in.ops ? p->worker :
		       worker_start(&p->src_in, d->wake_fd);
	if (!p->worker || !p->worker_in) {
		log_err("pool %s: cannot start its worker threads", p->cfg.name);
		return -1;
	}
	p->master.client_ctx = tls_client_ctx(d->cfg, &p->cfg, err, sizeof(err));
	if (!p->master.client_ctx) {
		log_err("pool %s: %s", p->cfg.name, err);
		return -1;
	}
	if (journal_load(d->cfg->state_dir, p->cfg.name, &p->master.j, err,
			 sizeof(err))) {
		log_err("pool %s: %s", p->cfg.name, err);
		return -1;
	}
	if (p->id && master_recover(d, p))
		return -1;
	p->master.next_try = now_mono();
	log_info("pool %s: %s source, SAE %s, peer SAE %s at %s:%s, watermarks %u..%u, %u-bit keys",
		 p->cfg.name,
		 p->cfg.source == SOURCE_ETSI014 ? "ETSI 014" : "stream",
		 p->cfg.sae_id, p->cfg.peer_sae_id, p->cfg.peer_host,
		 p->cfg.peer_port, p->cfg.low, p->cfg.high, p->cfg.key_bits);
	return 0;
}

static void teardown(struct linkd *d)
{
	/* Its ABORTs go out on the connections: before they close. */
	relay_daemon_teardown(d);
	conn_close_all(&d->cs);
	for (unsigned int i = 0; i < d->npools; i++) {
		struct pool *p = &d->pools[i];

		master_drop(p);
		/* Interrupts a KME request, wipes every job's keys. */
		if (p->worker_in != p->worker)
			worker_stop(p->worker_in);
		worker_stop(p->worker);
		p->worker = p->worker_in = NULL;
		if (p->src.ops)
			p->src.ops->destroy(p->src.priv);
		if (p->src_in.ops)
			p->src_in.ops->destroy(p->src_in.priv);
		SSL_CTX_free(p->master.client_ctx);
	}
	free(d->pools);
	d->pools = NULL;
	d->npools = 0;
	SSL_CTX_free(d->cs.server_ctx);
	d->cs.server_ctx = NULL;
	if (d->cs.listen_fd >= 0)
		close(d->cs.listen_fd);
	d->cs.listen_fd = -1;
}

/* Build everything from d->cfg.  0, or -1 (logged). */
static int setup(struct linkd *d)
{
	char err[512];

	if (mkdir(d->cfg->state_dir, 0700) && errno != EEXIST) {
		log_err("state_dir %s: %s", d->cfg->state_dir, strerror(errno));
		return -1;
	}
	d->cs.server_ctx = tls_server_ctx(d->cfg, err, sizeof(err));
	if (!d->cs.server_ctx) {
		log_err("[linkd]: %s", err);
		return -1;
	}
	if (open_listener(d))
		return -1;
	d->cs.server_ops = &slave_conn_ops;
	d->cs.server_arg = d;
	d->cs.max_conns = d->cfg->max_conns;
	d->cs.max_conns_per_source = d->cfg->max_conns_per_source;
	d->cs.handshake_timeout = d->cfg->handshake_timeout;
	/* A module reload since the last look (SIGHUP after a reload). */
	kernel_handle_check(d);
	d->pools = calloc(d->cfg->npools, sizeof(*d->pools));
	if (!d->pools)
		return -1;
	d->npools = d->cfg->npools;
	for (unsigned int i = 0; i < d->npools; i++) {
		d->pools[i].cfg = d->cfg->pools[i];
		d->pools[i].d = d;
		if (setup_pool(d, &d->pools[i]))
			return -1;
	}
	if (relay_daemon_setup(d))
		return -1;
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
		double w = master_wakeup(d, &d->pools[i]);

		if (w < t)
			t = w;
	}
	if (d->kernel_stale && d->next_kernel_check < t)
		t = d->next_kernel_check;
	t = relay_daemon_wakeup(d, t);
	return conn_next_deadline(&d->cs, t);
}

/* Hand @w's finished jobs to the master and slave sides, in order. */
static void dispatch(struct linkd *d, struct pool *p, struct worker *w)
{
	struct job *j = w ? worker_collect(w) : NULL;

	while (j) {
		struct job *next = j->next;

		j->next = NULL;
		if (j->kind == JOB_STATUS || j->kind == JOB_GET)
			master_on_job(d, p, j);
		else
			slave_on_job(d, p, j);
		j = next;
	}
}

/* Hand the workers' finished jobs to the master and slave sides. */
static void collect_jobs(struct linkd *d)
{
	uint64_t n;

	if (read(d->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_err("eventfd: %s", strerror(errno));
	for (unsigned int i = 0; i < d->npools; i++) {
		struct pool *p = &d->pools[i];

		dispatch(d, p, p->worker);
		if (p->worker_in != p->worker)
			dispatch(d, p, p->worker_in);
	}
}

static int run(struct linkd *d)
{
	struct pollfd *pfd = NULL;
	struct conn **cs = NULL;
	size_t cap = 0;

	for (;;) {
		double now, wait_s, wake = next_wakeup(d);
		int n = 0, timeout, listen_at = -1;
		size_t nc = 3;

		for (struct conn *c = d->cs.conns; c; c = c->next)
			nc++;
		if (nc > cap) {
			struct pollfd *np = realloc(pfd, nc * sizeof(*pfd));
			struct conn **ncs = np ? realloc(cs, nc * sizeof(*cs)) : NULL;

			if (np)
				pfd = np;
			if (ncs)
				cs = ncs;
			if (!np || !ncs) {
				log_err("out of memory");
				free(pfd);
				free(cs);
				return -1;
			}
			cap = nc;
		}
		pfd[n++] = (struct pollfd){ .fd = d->signal_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = d->wake_fd, .events = POLLIN };
		/* While full, the listener waits outside the poll set. */
		if (conn_unauthenticated(&d->cs, NULL) < d->cs.max_conns) {
			listen_at = n;
			pfd[n++] = (struct pollfd){ .fd = d->cs.listen_fd,
						    .events = POLLIN };
		}
		for (struct conn *c = d->cs.conns; c; c = c->next) {
			cs[n] = c;
			pfd[n++] = (struct pollfd){
				.fd = c->fd,
				.events = POLLIN | (c->want_write ? POLLOUT : 0),
			};
		}
		/*
		 * In double until clamped: wake is -INFINITY while the relay
		 * has work due (relay_node_next()), and converting that, or
		 * an infinity, to int is undefined.
		 */
		wait_s = wake - now_mono();
		timeout = !(wait_s > 0) ? 0 : wait_s > 60 ? 60000 :
			  (int)(wait_s * 1000) + 1;
		if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			free(pfd);
			free(cs);
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
				free(pfd);
				free(cs);
				return 0;
			}
		}
		if (pfd[1].revents & POLLIN)
			collect_jobs(d);
		for (int i = listen_at < 0 ? 2 : 3; i < n; i++)
			if (pfd[i].revents)
				conn_progress(cs[i], pfd[i].revents);
		if (listen_at > 0 && pfd[listen_at].revents & POLLIN)
			conn_accept(&d->cs);
		conn_unpark(&d->cs, false);
		now = now_mono();
		conn_expire(&d->cs, now);
		if (d->kernel_stale && now >= d->next_kernel_check)
			kernel_sync(d);
		for (unsigned int i = 0; i < d->npools; i++)
			master_step(d, &d->pools[i]);
		relay_daemon_step(d);
		conn_sweep(&d->cs);
		now = now_mono();
		if (now >= d->next_status_write) {
			status_write(d);
			d->next_status_write = now + STATUS_INTERVAL;
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
	struct linkd d = { .config_path = CFG_DEFAULT_PATH,
			   .cs = { .listen_fd = -1 },
			   .pool_recreated = pool_recreated };
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
	/*
	 * Key material passes through this process: no core dumps, no
	 * ptrace by other users' processes, no /proc/PID/mem for them.
	 */
	prctl(PR_SET_DUMPABLE, 0);
	setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 });
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	d.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	d.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ret = d.signal_fd < 0 || d.wake_fd < 0 ? -1 :
	      secmem_hook_libraries(CURL_GLOBAL_DEFAULT);
	if (ret < 0) {
		log_err("cannot set up signals or libcurl");
		return 1;
	}
	if (ret > 0)
		log_warn("OpenSSL allocated memory before its wiping hooks could be set: its frees are not wiped");
	ret = qkd_open(&d.qkd);
	if (ret) {
		log_err("refusing to start: cannot open the qkd netlink family: %s%s",
			qkd_strerror(ret),
			ret == -ENOENT ? " (is the qkdpool module loaded?)" : "");
		return 1;
	}
	if (kernel_identity(&d) || setup(&d)) {
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
	close(d.wake_fd);
	log_info("stopped");
	return ret ? 1 : 0;
}
