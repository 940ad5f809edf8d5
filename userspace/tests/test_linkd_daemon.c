// SPDX-License-Identifier: GPL-2.0
/*
 * qkd-linkd's master and slave as the daemon runs them (linkd/master.c,
 * linkd/slave.c, linkd/status.c, with the real window, journal, worker
 * and reconciliation record), against a fake kernel, transport and clock
 * (fake_linkd.c) and a fake key source on the real worker threads:
 *
 *   - a journal write that fails on the refuse, abort and reset paths
 *     closes the connection and holds commits and offers until a write
 *     works; nothing is lost on disk;
 *   - a RESET with offers in flight: the journal settles them not
 *     committed, the window is empty, the job in the worker is dropped;
 *   - dec_keys jobs of a dead connection make no KME request;
 *   - a slave's dec_keys error leaves the master's health alone, and the
 *     status file shows both;
 *   - a window that refuses an offer: nothing sent, keys wiped;
 *   - the kernel's "pool re-created" event: both roles reconnect;
 *   - relaying: the capability on both connections, RELAY dispatched
 *     first, a neighbour too old for the capability byte (HELLO again
 *     without it), and a link down for relaying while its QKD link is
 *     cut.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include "tests.h"
#include "fake_linkd.h"
#include "../linkd/relay_link.h"

/* ---- a fake key source on the real workers ----------------------------- */

struct fsrc {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool gate;			/* get_by_id blocks while set */
	bool fail_by_id;
	bool fail_get;			/* enc_keys: "QKD link down" */
	unsigned int get_calls, by_id_calls, waiting;
	unsigned int next_id;
};

static struct fsrc fs = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static int fs_get(void *priv, struct qkd_key *keys, struct keyid *names,
		  size_t n, char *err, size_t errlen)
{
	(void)priv;
	pthread_mutex_lock(&fs.lock);
	fs.get_calls++;
	if (fs.fail_get) {
		snprintf(err, errlen, "KME: QKD link down");
		pthread_mutex_unlock(&fs.lock);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char s[32];
		int len = snprintf(s, sizeof(s), "key-%u", ++fs.next_id);

		keyid_set(&names[i], s, (size_t)len);
		keyid_to_bytes(&names[i], keys[i].id);
		memset(keys[i].material, 0x42, 32);
		keys[i].len = 32;
	}
	pthread_mutex_unlock(&fs.lock);
	return 0;
}

static int fs_get_by_id(void *priv, const struct keyid *names,
			struct qkd_key *keys, size_t n, char *err,
			size_t errlen)
{
	int ret = 0;

	(void)priv;
	pthread_mutex_lock(&fs.lock);
	fs.by_id_calls++;
	fs.waiting++;
	pthread_cond_broadcast(&fs.cond);
	while (fs.gate)
		pthread_cond_wait(&fs.cond, &fs.lock);
	fs.waiting--;
	if (fs.fail_by_id) {
		snprintf(err, errlen, "KME: no key with ID %s", names[0].s);
		ret = -1;
	} else {
		for (size_t i = 0; i < n; i++) {
			keyid_to_bytes(&names[i], keys[i].id);
			memset(keys[i].material, 0x42, 32);
			keys[i].len = 32;
		}
	}
	pthread_mutex_unlock(&fs.lock);
	return ret;
}

static int fs_status(void *priv, unsigned int *max_batch,
		     unsigned int *stored, char *err, size_t errlen)
{
	(void)priv;
	(void)err;
	(void)errlen;
	*max_batch = 4;
	*stored = 1000;
	return 0;
}

static void fs_interrupt(void *priv)
{
	(void)priv;
	pthread_mutex_lock(&fs.lock);
	fs.gate = false;
	pthread_cond_broadcast(&fs.cond);
	pthread_mutex_unlock(&fs.lock);
}

static void fs_destroy(void *priv)
{
	(void)priv;
}

static const struct source_ops fs_ops = {
	.get = fs_get,
	.get_by_id = fs_get_by_id,
	.status = fs_status,
	.interrupt = fs_interrupt,
	.destroy = fs_destroy,
};

/* ---- one daemon, one pool ---------------------------------------------- */

static struct linkd d;
static struct config cfg;
static struct pool *P;
static char dir[64];
static char good_dir[CFG_PATH_LEN];
static uint8_t frame[PROTO_MAX_FRAME];

/* Hand @len bytes of one encoded frame to @c's owner, as conn.c does. */
static void deliver(struct conn *c, int len)
{
	struct proto_frame f;

	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(proto_frame_split(frame, (size_t)len, &f), len);
	c->ops->message(c, &f);
}

static void setup(void)
{
	struct pool_cfg *pc = &cfg.pools[0];

	fake_reset();
	fs.get_calls = fs.by_id_calls = fs.waiting = fs.next_id = 0;
	fs.gate = fs.fail_by_id = fs.fail_get = false;
	snprintf(dir, sizeof(dir), "/tmp/linkd-daemon-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", dir);
	snprintf(good_dir, sizeof(good_dir), "%s", dir);
	snprintf(cfg.status_file, sizeof(cfg.status_file), "%s/status.json",
		 dir);
	cfg.handshake_timeout = 5;
	cfg.npools = 1;
	snprintf(pc->name, sizeof(pc->name), "t");
	snprintf(pc->sae_id, sizeof(pc->sae_id), "A");
	snprintf(pc->peer_sae_id, sizeof(pc->peer_sae_id), "B");
	pc->source = SOURCE_ETSI014;
	pc->key_bits = 256;
	pc->capacity = 256;
	pc->low = 8;
	pc->high = 64;
	pc->batch = 4;
	pc->kme_timeout = 5;
	pc->fast_retry = 60;
	pc->offer_window = 4;
	memset(&d, 0, sizeof(d));
	d.cfg = &cfg;
	d.cs.listen_fd = -1;
	d.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_ge(d.wake_fd, 0);
	d.pools = calloc(1, sizeof(*d.pools));
	ck_assert_ptr_nonnull(d.pools);
	d.npools = 1;
	P = &d.pools[0];
	P->cfg = *pc;
	P->d = &d;
	P->id = 7;
	P->src = (struct source){ .ops = &fs_ops };
	P->src_in = P->src;
	P->worker = worker_start(&P->src, d.wake_fd);
	P->worker_in = worker_start(&P->src_in, d.wake_fd);
	ck_assert(P->worker && P->worker_in);
	P->master.next_try = fk_state.now;
	{
		char err[256];

		ck_assert_int_eq(journal_load(dir, "t", &P->master.j, err,
					      sizeof(err)), 0);
	}
}

static void teardown(void)
{
	char cmd[128];

	fs_interrupt(NULL);
	if (P->master.out)
		conn_close(P->master.out, "test over");
	if (P->slave.conn)
		conn_close(P->slave.conn, "test over");
	master_drop(P);
	worker_stop(P->worker_in);
	worker_stop(P->worker);
	fake_sweep();
	free(d.pools);
	close(d.wake_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Hand the jobs @w finished to the master or the slave; how many. */
static int dispatch(struct worker *w, int want)
{
	int got = 0;

	for (int tries = 0; got < want && tries < 500; tries++) {
		struct pollfd pfd = { .fd = d.wake_fd, .events = POLLIN };
		struct job *j;
		uint64_t n;

		poll(&pfd, 1, 10);
		if (read(d.wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
			break;
		j = worker_collect(w);
		while (j) {
			struct job *next = j->next;

			j->next = NULL;
			if (j->kind == JOB_STATUS || j->kind == JOB_GET)
				master_on_job(&d, P, j);
			else
				slave_on_job(&d, P, j);
			got++;
			j = next;
		}
	}
	return got;
}

/* The master connects, says HELLO, gets HELLO_OK (@reset). */
static struct conn *master_connect(bool reset)
{
	struct conn *c;

	P->master.next_try = fk_state.now;
	master_step(&d, P);
	c = P->master.out;
	ck_assert_ptr_nonnull(c);
	c->ops->opened(c);
	ck_assert_ptr_nonnull(fake_last_sent(PROTO_HELLO));
	{
		struct proto_hello_ok ok = { .reset = reset };

		deliver(c, proto_encode_hello_ok(&ok, frame, sizeof(frame)));
	}
	ck_assert_int_eq(c->state, CONN_OPEN);
	return c;
}

/* Step the master until @k offers are in flight. */
static void offer_until(unsigned int k)
{
	unsigned int sent = fake_count_sent(PROTO_OFFER) + k -
			    P->master.win.count;

	for (int i = 0; i < 40 && P->master.win.count < k; i++) {
		fk_state.now += 0.01;
		master_step(&d, P);
		if (P->master.job_busy)
			ck_assert_int_eq(dispatch(P->worker, 1), 1);
	}
	ck_assert_uint_eq(P->master.win.count, k);
	ck_assert_uint_eq(P->master.j.nopen, k);
	ck_assert_uint_eq(fake_count_sent(PROTO_OFFER), sent);
}

/* An answer to the master: ACK (@status), ABORTED or RESET_OK (@count). */
static void to_master(uint8_t type, uint64_t seq, uint16_t status,
		      uint32_t count)
{
	int len = -1;

	ck_assert_ptr_nonnull(P->master.out);
	if (type == PROTO_ACK) {
		struct proto_ack m = { .seq = seq, .status = status };

		snprintf(m.text, sizeof(m.text), "refused for the test");
		len = proto_encode_ack(&m, frame, sizeof(frame));
	} else if (type == PROTO_ABORTED) {
		struct proto_aborted m = { .seq = seq };

		len = proto_encode_aborted(&m, frame, sizeof(frame));
	} else if (type == PROTO_RESET_OK) {
		struct proto_reset m = { .count = count };

		len = proto_encode_reset_ok(&m, frame, sizeof(frame));
	}
	deliver(P->master.out, len);
}

/* The journal as it is on disk. */
static void load_journal(struct journal *j)
{
	char err[256];

	ck_assert_msg(!journal_load(good_dir, "t", j, err, sizeof(err)), "%s",
		      err);
}

/* A state_dir no write can succeed in, even as root. */
static void break_journal(void)
{
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "/dev/null/state");
}

static void mend_journal(void)
{
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", good_dir);
}

/* ---- a: journal write failures ----------------------------------------- */

/* A refusal whose journal write fails: connection closed, commits held. */
START_TEST(refuse_journal_write_fails)
{
	struct journal disk;
	unsigned int offers;

	master_connect(false);
	offer_until(2);
	break_journal();
	to_master(PROTO_ACK, 1, PROTO_E_POOL, 0);
	ck_assert_uint_eq(fk_state.closes, 1);
	ck_assert_msg(strstr(fk_state.last_close, "journal"), "closed: %s",
		      fk_state.last_close);
	ck_assert(P->master.journal_dirty);
	ck_assert_ptr_null(P->master.out);
	/* On disk both offers are still open: nothing lost. */
	load_journal(&disk);
	ck_assert_uint_eq(disk.nopen, 2);
	/* While the journal cannot be written: no ABORT, no OFFER. */
	offers = fake_count_sent(PROTO_OFFER);
	fk_state.now += 100;
	master_connect(false);
	for (int i = 0; i < 5; i++) {
		fk_state.now += 100;
		master_step(&d, P);
		ck_assert(!P->master.job_busy);
	}
	ck_assert_uint_eq(fake_count_sent(PROTO_ABORT), 0);
	ck_assert_uint_eq(fake_count_sent(PROTO_OFFER), offers);
	ck_assert_uint_eq(fk_state.key_adds[QKD_DIRECTION_OUT], 0);
	/* Written again: the open offer is aborted, the journal clean. */
	mend_journal();
	fk_state.now += 100;
	master_step(&d, P);
	ck_assert(!P->master.journal_dirty);
	ck_assert_uint_eq(fake_count_sent(PROTO_ABORT), 1);
	ck_assert_uint_eq(fake_last_sent(PROTO_ABORT)->seq, 2);
	load_journal(&disk);
	ck_assert_uint_eq(disk.nopen, 1);
	ck_assert_uint_eq(disk.open[0].seq, 2);
}
END_TEST

/* An ABORTED whose journal write fails: closed; no commit after it. */
START_TEST(abort_journal_write_fails)
{
	struct journal disk;

	master_connect(false);
	offer_until(2);
	conn_close(P->master.out, "lost");
	fk_state.now += 100;
	master_connect(false);
	master_step(&d, P);
	ck_assert_uint_eq(fake_count_sent(PROTO_ABORT), 2);
	break_journal();
	to_master(PROTO_ABORTED, 1, 0, 0);
	ck_assert_msg(strstr(fk_state.last_close, "journal"), "closed: %s",
		      fk_state.last_close);
	ck_assert(P->master.journal_dirty);
	load_journal(&disk);
	ck_assert_uint_eq(disk.nopen, 2);
	ck_assert_uint_eq(fk_state.key_adds[QKD_DIRECTION_OUT], 0);
}
END_TEST

/* A commit while the journal is dirty would make it lie: held. */
START_TEST(commit_held_while_dirty)
{
	master_connect(false);
	offer_until(1);
	P->master.journal_dirty = true;	/* an earlier write failed */
	break_journal();
	to_master(PROTO_ACK, 1, PROTO_OK, 0);
	ck_assert_uint_eq(fk_state.key_adds[QKD_DIRECTION_OUT], 0);
	ck_assert_ptr_null(P->master.out);
	ck_assert_uint_eq(P->master.j.nopen, 1);	/* aborted later */
	/* With the disk back, the next ACK commits. */
	mend_journal();
	fk_state.now += 100;
	master_connect(false);
	master_step(&d, P);
	ck_assert(!P->master.journal_dirty);
	ck_assert_uint_eq(fake_count_sent(PROTO_ABORT), 1);
}
END_TEST

/* ---- f: a RESET with offers in flight --------------------------------- */

START_TEST(reset_with_offers_in_flight)
{
	struct journal disk;
	unsigned int offers;

	master_connect(false);
	offer_until(3);
	/* A fetch in the worker when the reset comes. */
	fk_state.now += 0.01;
	master_step(&d, P);
	ck_assert(P->master.job_busy);
	offers = fake_count_sent(PROTO_OFFER);
	/* No room at the peer, nothing here: orphans there, reset. */
	fk_state.level[QKD_DIRECTION_OUT] = 0;
	to_master(PROTO_ACK, 1, PROTO_E_FULL, 0);
	ck_assert_ptr_nonnull(fake_last_sent(PROTO_RESET));
	ck_assert_int_eq(P->master.state, M_WAIT_RESET);
	ck_assert_uint_eq(P->master.win.keys, 0);
	/* The job comes back: its keys are dropped, not offered. */
	ck_assert_int_eq(dispatch(P->worker, 1), 1);
	ck_assert_uint_eq(fake_count_sent(PROTO_OFFER), offers);
	/* An ACK the peer sent before our RESET: ignored. */
	to_master(PROTO_ACK, 2, PROTO_OK, 0);
	ck_assert_ptr_nonnull(P->master.out);
	ck_assert_uint_eq(fk_state.key_adds[QKD_DIRECTION_OUT], 0);
	to_master(PROTO_RESET_OK, 0, 0, 8);
	ck_assert_int_eq(P->master.state, M_IDLE);
	ck_assert_uint_eq(P->master.win.count, 0);
	ck_assert_uint_eq(P->master.j.nopen, 0);
	ck_assert_uint_eq(P->st.aborted, 8);	/* offers 2 and 3 */
	ck_assert_uint_eq(P->st.refused, 4);	/* offer 1 */
	load_journal(&disk);
	ck_assert_uint_eq(disk.nopen, 0);
	ck_assert_uint_eq(disk.next_seq, 4);
	ck_assert_uint_eq(fk_state.key_adds[QKD_DIRECTION_OUT], 0);
	ck_assert_uint_eq(fk_state.flushes[QKD_DIRECTION_OUT], 1);
	/* And the fill goes on with the next sequence number. */
	offer_until(1);
	ck_assert_uint_eq(fake_last_sent(PROTO_OFFER)->seq, 4);
}
END_TEST

/* A RESET_OK whose journal write fails: closed, dirty, nothing lost. */
START_TEST(reset_ok_journal_write_fails)
{
	master_connect(false);
	offer_until(2);
	fk_state.level[QKD_DIRECTION_OUT] = 0;
	to_master(PROTO_ACK, 1, PROTO_E_FULL, 0);
	ck_assert_int_eq(P->master.state, M_WAIT_RESET);
	break_journal();
	to_master(PROTO_RESET_OK, 0, 0, 4);
	ck_assert(P->master.journal_dirty);
	ck_assert_ptr_null(P->master.out);
	ck_assert_msg(strstr(fk_state.last_close, "journal"), "closed: %s",
		      fk_state.last_close);
}
END_TEST

/* ---- the slave --------------------------------------------------------- */

/* The peer's master connects and resets the direction (first contact). */
static struct conn *slave_connect(void)
{
	struct conn *c = fake_conn(&slave_conn_ops, &d, true);
	struct proto_hello h = { .master = "B", .slave = "A", .key_bits = 256,
				 .epoch.pool = 3 };
	struct proto_reset r = { 0 };

	deliver(c, proto_encode_hello(&h, frame, sizeof(frame)));
	ck_assert_int_eq(c->state, CONN_OPEN);
	ck_assert_ptr_eq(P->slave.conn, c);
	deliver(c, proto_encode_reset(&r, frame, sizeof(frame)));
	ck_assert_ptr_nonnull(fake_last_sent(PROTO_RESET_OK));
	ck_assert(!P->slave.reset_due);
	return c;
}

static void to_slave(struct conn *c, uint64_t seq)
{
	struct keyid id;
	struct proto_ids m = { .seq = seq, .n = 1, .ids = &id };
	char s[32];
	int len = snprintf(s, sizeof(s), "peer-%llu", (unsigned long long)seq);

	keyid_set(&id, s, (size_t)len);
	deliver(c, proto_encode_offer(&m, frame, sizeof(frame)));
}

/* b: the dec_keys jobs of a connection that died make no KME request. */
START_TEST(stale_dec_keys_skipped)
{
	struct conn *c = slave_connect();

	fs.gate = true;
	to_slave(c, 1);
	to_slave(c, 2);
	to_slave(c, 3);
	pthread_mutex_lock(&fs.lock);
	while (!fs.waiting)
		pthread_cond_wait(&fs.cond, &fs.lock);
	pthread_mutex_unlock(&fs.lock);
	conn_close(c, "gone");
	fs_interrupt(NULL);	/* the running request ends */
	ck_assert_int_eq(dispatch(P->worker_in, 3), 3);
	ck_assert_uint_eq(fs.by_id_calls, 1);
	ck_assert_uint_eq(fk_state.key_adds[QKD_DIRECTION_IN], 0);
	ck_assert_uint_eq(fake_count_sent(PROTO_ACK), 0);
	ck_assert_uint_eq(P->slave.queued, 0);
}
END_TEST

/* b: a RESET voids the dec_keys queued before it, before their request. */
START_TEST(reset_voids_queued_dec_keys)
{
	struct conn *c = slave_connect();

	fs.gate = true;
	to_slave(c, 1);
	to_slave(c, 2);
	pthread_mutex_lock(&fs.lock);
	while (!fs.waiting)
		pthread_cond_wait(&fs.cond, &fs.lock);
	pthread_mutex_unlock(&fs.lock);
	{
		struct proto_reset r = { 0 };

		deliver(c, proto_encode_reset(&r, frame, sizeof(frame)));
	}
	fs_interrupt(NULL);
	ck_assert_int_eq(dispatch(P->worker_in, 2), 2);
	ck_assert_uint_eq(fs.by_id_calls, 1);
	ck_assert_uint_eq(fk_state.key_adds[QKD_DIRECTION_IN], 0);
	ck_assert_uint_eq(fake_count_sent(PROTO_ACK), 0);
	/* The connection goes on: the next offer is fetched and added. */
	to_slave(c, 3);
	ck_assert_int_eq(dispatch(P->worker_in, 1), 1);
	ck_assert_uint_eq(fk_state.key_adds[QKD_DIRECTION_IN], 1);
	ck_assert_uint_eq(fake_last_sent(PROTO_ACK)->status, PROTO_OK);
}
END_TEST

/* c: a slave's dec_keys error is the slave's; the status shows both. */
START_TEST(slave_error_keeps_master_health)
{
	struct conn *c;
	char buf[8192];
	FILE *f;
	size_t n;

	/* The master's enc_keys works. */
	master_connect(false);
	offer_until(1);
	ck_assert(P->master.health.kme_ok);
	c = slave_connect();
	fs.fail_by_id = true;
	to_slave(c, 1);
	ck_assert_int_eq(dispatch(P->worker_in, 1), 1);
	ck_assert_uint_eq(fake_last_sent(PROTO_ACK)->status, PROTO_E_SOURCE);
	ck_assert(P->master.health.kme_ok);
	ck_assert_str_eq(P->master.health.last_error, "");
	ck_assert(P->slave.health.known);
	ck_assert(!P->slave.health.kme_ok);
	ck_assert_str_eq(P->slave.health.last_error,
			 "KME: no key with ID peer-1");
	status_write(&d);
	f = fopen(cfg.status_file, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	ck_assert_msg(strstr(buf, "\"source_ok\":true"), "%s", buf);
	ck_assert_msg(strstr(buf, "\"source_in_ok\":false"), "%s", buf);
	ck_assert_msg(strstr(buf, "\"last_error_in\":\"KME: no key with ID peer-1\""),
		      "%s", buf);
	ck_assert_msg(strstr(buf, "\"last_error\":\"\""), "%s", buf);
	/* dec_keys works again: the slave's health follows. */
	fs.fail_by_id = false;
	to_slave(c, 2);
	ck_assert_int_eq(dispatch(P->worker_in, 1), 1);
	ck_assert(P->slave.health.kme_ok);
}
END_TEST

/* ---- d: a window that refuses an offer -------------------------------- */

START_TEST(window_refuses_offer)
{
	struct journal disk;

	master_connect(false);
	/* A slot the next offer cannot follow (sequence numbers go up). */
	ck_assert_int_eq(window_push(&P->master.win, 100, 0, fk_state.now,
				     NULL), 0);
	P->master.state = M_WAIT_ACK;
	P->master.max_batch = 4;
	P->master.next_status = fk_state.now + 1000;
	master_step(&d, P);
	ck_assert(P->master.job_busy);
	ck_assert_int_eq(dispatch(P->worker, 1), 1);
	/* Not sent; the connection closed; the entry stays for an ABORT. */
	ck_assert_uint_eq(fake_count_sent(PROTO_OFFER), 0);
	ck_assert_ptr_null(P->master.out);
	ck_assert_msg(strstr(fk_state.last_close, "window"), "closed: %s",
		      fk_state.last_close);
	load_journal(&disk);
	ck_assert_uint_eq(disk.nopen, 1);
	ck_assert_uint_eq(P->master.win.count, 0);
}
END_TEST

/* kernel.c's event (struct linkd's pool_recreated): both roles reconnect. */
START_TEST(pool_recreated_event)
{
	struct conn *in;

	master_connect(false);
	offer_until(1);
	in = slave_connect();
	/* A new pool: its counters start at 0, the keys are gone. */
	memset(fk_state.added, 0, sizeof(fk_state.added));
	memset(fk_state.level, 0, sizeof(fk_state.level));
	ck_assert_int_eq(master_pool_recreated(&d, P), 0);
	slave_pool_recreated(P);
	ck_assert_ptr_null(P->master.out);
	ck_assert_ptr_null(P->slave.conn);
	ck_assert(in->dead);
	ck_assert_msg(strstr(fk_state.last_close, "pool created again"),
		      "closed: %s", fk_state.last_close);
	/* The offer in flight: wiped here, aborted on the next connection. */
	ck_assert_uint_eq(P->master.win.count, 0);
	ck_assert_uint_eq(P->master.j.nopen, 1);
	ck_assert(P->master.filling);
	master_connect(false);
	master_step(&d, P);
	ck_assert_uint_eq(fake_count_sent(PROTO_ABORT), 1);
}
END_TEST

/* ---- the relay's entry points (relay_daemon.c in qkd-linkd) ---------- */

static unsigned int relay_frames, relay_credited;
static struct pool *relay_pool;

static void fake_relay_frame(struct linkd *dd, struct pool *p,
			     const struct proto_frame *f)
{
	(void)dd;
	ck_assert_uint_eq(f->type, PROTO_RELAY);
	relay_pool = p;
	relay_frames++;
}

static void fake_relay_credit(struct linkd *dd, struct pool *p,
			      unsigned int n)
{
	(void)dd;
	(void)p;
	relay_credited += n;
}

/* This node relays, and pool t's neighbour is node "b". */
static void relaying(bool on)
{
	static int token;

	relay_frames = relay_credited = 0;
	relay_pool = NULL;
	d.relay = on ? (struct relay_daemon *)&token : NULL;
	d.relay_frame = fake_relay_frame;
	d.relay_credit = fake_relay_credit;
	snprintf(P->cfg.relay_node, sizeof(P->cfg.relay_node), "b");
}

static int relay_msg(void)
{
	static const uint8_t rf[] = { 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7 };
	struct proto_relay m = { .frame = rf, .len = sizeof(rf) };

	return proto_encode_relay(&m, frame, sizeof(frame));
}

/*
 * a: with relay_node, the master's HELLO announces the relay; a HELLO_OK
 * with it opens RELAY on the master connection, which goes to the relay
 * before the state machine (no ACK expected, the window untouched).
 */
START_TEST(relay_master_connection)
{
	struct conn *c;

	relaying(true);
	P->master.next_try = fk_state.now;
	master_step(&d, P);
	c = P->master.out;
	ck_assert_ptr_nonnull(c);
	c->ops->opened(c);
	ck_assert_uint_eq(fake_last_sent(PROTO_HELLO)->caps, PROTO_CAP_RELAY);
	{
		struct proto_hello_ok ok = { .caps = PROTO_CAP_RELAY };

		deliver(c, proto_encode_hello_ok(&ok, frame, sizeof(frame)));
	}
	ck_assert(P->master.relay_ok);
	offer_until(2);
	deliver(c, relay_msg());
	ck_assert_uint_eq(relay_frames, 1);
	ck_assert_ptr_eq(relay_pool, P);
	ck_assert(!c->dead);
	ck_assert_uint_eq(P->master.win.count, 2);
	ck_assert_uint_eq(P->master.j.nopen, 2);
	/* A committed offer credits the link's relay budget. */
	{
		unsigned int n = P->master.j.open[0].n;

		ck_assert_uint_gt(n, 0);
		to_master(PROTO_ACK, P->master.j.open[0].seq, PROTO_OK, 0);
		ck_assert_uint_eq(P->st.committed, n);
		ck_assert_uint_eq(relay_credited, n);
	}
	conn_close(c, "gone");
	ck_assert(!P->master.relay_ok);
}
END_TEST

/* a: a peer that did not answer with the capability gets no RELAY in. */
START_TEST(relay_master_without_capability)
{
	struct conn *c;

	relaying(true);
	c = master_connect(false);	/* HELLO_OK without the byte */
	ck_assert(!P->master.relay_ok);
	deliver(c, relay_msg());
	ck_assert_uint_eq(relay_frames, 0);
	ck_assert(c->dead);
	ck_assert_uint_eq(P->st.peer_errors, 1);
}
END_TEST

/* The master connects (TLS done) and says HELLO: what it announced. */
static struct conn *master_hello_sent(uint8_t *caps)
{
	struct conn *c;

	master_step(&d, P);
	c = P->master.out;
	ck_assert_ptr_nonnull(c);
	c->state = CONN_HELLO;		/* as conn.c sets it before opened() */
	c->ops->opened(c);
	*caps = fake_last_sent(PROTO_HELLO)->caps;
	return c;
}

/*
 * a: a neighbour running a qkd-linkd from before relaying cannot decode
 * the capability byte and closes without a word: the master says HELLO
 * again at once without it, and the link runs (fills its pools) without
 * relay.  Once that connection closes, the next HELLO asks again (the
 * peer may have been upgraded).  A HELLO refused with an ERROR, or a
 * plain HELLO closed too, is not that: the byte stays.
 */
START_TEST(relay_older_peer_fallback)
{
	struct conn *c;
	uint8_t caps;

	relaying(true);
	P->master.next_try = fk_state.now;
	c = master_hello_sent(&caps);
	ck_assert_uint_eq(caps, PROTO_CAP_RELAY);
	c->peer_closed = true;		/* as conn.c marks the old slave's close */
	conn_close(c, "closed by peer after our HELLO");	/* the old slave */
	ck_assert_ptr_null(P->master.out);
	/* At once, not after the back-off of a failed connection. */
	c = master_hello_sent(&caps);
	ck_assert_uint_eq(caps, 0);
	{
		struct proto_hello_ok ok = { 0 };

		deliver(c, proto_encode_hello_ok(&ok, frame, sizeof(frame)));
	}
	ck_assert_int_eq(c->state, CONN_OPEN);
	ck_assert(!P->master.relay_ok);
	ck_assert(P->master.old_peer_logged);
	offer_until(1);			/* the link fills its pools */
	conn_close(c, "gone");
	P->master.next_try = fk_state.now;
	c = master_hello_sent(&caps);
	ck_assert_uint_eq(caps, PROTO_CAP_RELAY);	/* asked again */
	/* Closed once more: plain again; that one closed too: the byte back. */
	c->peer_closed = true;
	conn_close(c, "closed by peer after our HELLO");
	c = master_hello_sent(&caps);
	ck_assert_uint_eq(caps, 0);
	c->peer_closed = true;
	conn_close(c, "closed by peer after our HELLO");
	P->master.next_try = fk_state.now;
	c = master_hello_sent(&caps);
	ck_assert_uint_eq(caps, PROTO_CAP_RELAY);
	/* A close of ours while the HELLO waits is not an older peer. */
	conn_close(c, "pool created again");
	P->master.next_try = fk_state.now;
	c = master_hello_sent(&caps);
	ck_assert_uint_eq(caps, PROTO_CAP_RELAY);
	/* A refusal in words (an ERROR) is not an older peer. */
	{
		int len = proto_encode_error(PROTO_VERSION, PROTO_E_PEER,
					     "no pool", frame, sizeof(frame));

		deliver(c, len);
	}
	ck_assert(c->dead);
	P->master.next_try = fk_state.now;
	c = master_hello_sent(&caps);
	ck_assert_uint_eq(caps, PROTO_CAP_RELAY);
	/* Neither is a set-up timeout (the transport's fault). */
	conn_fault(c, "set-up timeout");
	P->master.next_try = fk_state.now;
	c = master_hello_sent(&caps);
	ck_assert_uint_eq(caps, PROTO_CAP_RELAY);
	/* An upgraded peer answers with the capability: relaying again. */
	{
		struct proto_hello_ok ok = { .caps = PROTO_CAP_RELAY };

		deliver(c, proto_encode_hello_ok(&ok, frame, sizeof(frame)));
	}
	ck_assert(P->master.relay_ok);
	ck_assert(!P->master.old_peer_logged);
}
END_TEST

/* a: without a relay engine the HELLO is version 3's, byte for byte. */
START_TEST(relay_not_announced)
{
	relaying(false);
	P->master.next_try = fk_state.now;
	master_step(&d, P);
	P->master.out->ops->opened(P->master.out);
	ck_assert_uint_eq(fake_last_sent(PROTO_HELLO)->caps, 0);
}
END_TEST

/*
 * b: the slave answers the capability only to a HELLO that carried it;
 * then RELAY goes to the relay before the slave's own frames; without it
 * RELAY is refused and the connection closed.
 */
START_TEST(relay_slave_connection)
{
	struct proto_hello h = { .master = "B", .slave = "A", .key_bits = 256,
				 .epoch.pool = 3 };
	struct conn *c;

	relaying(true);
	c = fake_conn(&slave_conn_ops, &d, true);
	deliver(c, proto_encode_hello(&h, frame, sizeof(frame)));
	ck_assert_uint_eq(fake_last_sent(PROTO_HELLO_OK)->caps, 0);
	ck_assert(!P->slave.relay_ok);
	deliver(c, relay_msg());
	ck_assert(c->dead);
	ck_assert_uint_eq(relay_frames, 0);
	ck_assert_uint_eq(fake_last_sent(PROTO_ERROR)->status, PROTO_E_PROTO);

	h.caps = PROTO_CAP_RELAY;
	c = fake_conn(&slave_conn_ops, &d, true);
	deliver(c, proto_encode_hello(&h, frame, sizeof(frame)));
	ck_assert_uint_eq(fake_last_sent(PROTO_HELLO_OK)->caps, PROTO_CAP_RELAY);
	ck_assert(P->slave.relay_ok);
	/* Even before the RESET the HELLO_OK asked for: no offer involved. */
	deliver(c, relay_msg());
	ck_assert_uint_eq(relay_frames, 1);
	ck_assert(!c->dead);
	ck_assert_uint_eq(P->slave.queued, 0);
	conn_close(c, "gone");
	ck_assert(!P->slave.relay_ok);
}
END_TEST

/* Step the master (its jobs answered) until its source's health is @ok. */
static void master_until_health(bool ok)
{
	for (int i = 0; i < 400 && !(P->master.health.known &&
				     P->master.health.kme_ok == ok); i++) {
		fk_state.now += 0.25;
		master_step(&d, P);
		if (P->master.job_busy)
			ck_assert_int_eq(dispatch(P->worker, 1), 1);
	}
	ck_assert(P->master.health.known);
	ck_assert(P->master.health.kme_ok == ok);
}

/*
 * a, b: a link with both connections open with the capability is up for
 * relaying until its QKD link is cut at the KME (enc_keys fails, the peer
 * channel still up), and up again once the source delivers: a cut QKD
 * link reroutes rather than draining the pool for relays.  It stays open
 * for frames meanwhile: the neighbour, whose source has not failed yet,
 * may still send KEYS over it (sealed with its own outbound keys), and
 * answers and ABORTs must pass.
 */
START_TEST(relay_link_down_while_qkd_cut)
{
	struct proto_hello h = { .master = "B", .slave = "A", .key_bits = 256,
				 .epoch.pool = 3, .caps = PROTO_CAP_RELAY };
	struct proto_reset r = { 0 };
	struct conn *c, *s;

	relaying(true);
	ck_assert(!relay_link_up(P));
	P->master.next_try = fk_state.now;
	master_step(&d, P);
	c = P->master.out;
	ck_assert_ptr_nonnull(c);
	c->ops->opened(c);
	{
		struct proto_hello_ok ok = { .caps = PROTO_CAP_RELAY };

		deliver(c, proto_encode_hello_ok(&ok, frame, sizeof(frame)));
	}
	ck_assert(!relay_link_up(P));		/* no inbound connection yet */
	s = fake_conn(&slave_conn_ops, &d, true);
	deliver(s, proto_encode_hello(&h, frame, sizeof(frame)));
	deliver(s, proto_encode_reset(&r, frame, sizeof(frame)));
	ck_assert(P->slave.relay_ok && !P->slave.reset_due);
	ck_assert(relay_link_up(P));
	/* The QKD link cut: the pool below its low watermark asks in vain. */
	fs.fail_get = true;
	fk_state.level[0] = 0;
	master_until_health(false);
	ck_assert_str_eq(P->master.health.last_error, "KME: QKD link down");
	ck_assert(!c->dead && !s->dead && c->state == CONN_OPEN);
	ck_assert(!relay_link_up(P));
	/* Frames, answers and the neighbour's KEYS still pass. */
	ck_assert(relay_link_open(P));
	/* Restored: the next batch comes, the link carries relays again. */
	fs.fail_get = false;
	master_until_health(true);
	ck_assert(relay_link_up(P));
	/* A closed connection is a down link whatever the source says. */
	conn_close(s, "gone");
	ck_assert(!relay_link_up(P));
	ck_assert(!relay_link_open(P));
}
END_TEST

Suite *linkd_daemon_suite(void)
{
	Suite *s = suite_create("linkd_daemon");
	TCase *tc = tcase_create("master_slave");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, refuse_journal_write_fails);
	tcase_add_test(tc, abort_journal_write_fails);
	tcase_add_test(tc, commit_held_while_dirty);
	tcase_add_test(tc, reset_with_offers_in_flight);
	tcase_add_test(tc, reset_ok_journal_write_fails);
	tcase_add_test(tc, stale_dec_keys_skipped);
	tcase_add_test(tc, reset_voids_queued_dec_keys);
	tcase_add_test(tc, slave_error_keeps_master_health);
	tcase_add_test(tc, window_refuses_offer);
	tcase_add_test(tc, pool_recreated_event);
	tcase_add_test(tc, relay_master_connection);
	tcase_add_test(tc, relay_master_without_capability);
	tcase_add_test(tc, relay_not_announced);
	tcase_add_test(tc, relay_older_peer_fallback);
	tcase_add_test(tc, relay_slave_connection);
	tcase_add_test(tc, relay_link_down_while_qkd_cut);
	suite_add_tcase(s, tc);
	return s;
}
