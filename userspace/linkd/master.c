// SPDX-License-Identifier: GPL-2.0
/*
 * The master side of a pool: fills this node's outbound direction.
 *
 *   1. below the low watermark (then until the high one): get N keys from
 *      the source (enc_keys), N within batch_size and the KME's limit;
 *   2. journal the offer (sequence number, key IDs, the outbound "added"
 *      counter) to disk;
 *   3. send OFFER; the peer fetches the same keys by ID (dec_keys), adds
 *      them to its inbound side and answers ACK;
 *   4. on ACK: add the keys to the outbound ring, close the journal entry.
 *
 * Source calls (status, enc_keys) run on the pool's worker (worker.h): the
 * master submits one at a time and goes on when the loop hands the result
 * back (master_on_job()).  Up to offer_window offers are in flight at once
 * (window.h); each has its journal entry, they are answered and committed
 * oldest first, and every commit is journaled before the next.
 *
 * An offer whose outcome is unknown (connection lost, timeout, restart)
 * is never re-offered: on the next connection the master sends ABORT with
 * its key IDs, the peer removes whichever of them it added, answers
 * ABORTED, and only then does the master close the entry and go on.  At
 * start, an open entry whose keys are already counted in the outbound
 * "added" counter was committed before the restart.  See
 * Documentation/qkd-linkd.rst, "Recovery protocol".
 *
 * Reconciliation (recon.h): HELLO carries this pool's epoch; a HELLO_OK
 * that asks for a reset (the slave's record names other pools: one side
 * lost its keys) makes the master wipe its outbound side, then send RESET;
 * the slave wipes its inbound side and answers RESET_OK.  Outbound first:
 * no key this node could still initiate with loses its twin.  The offers
 * in flight (the window) go with it, and every open journal entry is
 * settled by the reset (its keys are wiped on both sides).  The same reset follows a refusal for want of room while the
 * outbound side is empty: the peer's inbound keys are then orphans.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "linkd.h"
#include "log.h"

#define IDLE_CHECK	1.0	/* s between pool level checks when full */
#define STATUS_EVERY	30.0	/* s between KME status requests */

static const struct conn_ops master_conn_ops;

/* Frames are encoded here (OFFER and ABORT may be 64 KiB). */
static uint8_t frame[PROTO_MAX_FRAME];

static double jitter(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)rand();
	return (double)r / 4294967296.0;
}

/* The source answered: log the way back from an outage once. */
static void source_ok(struct pool *p)
{
	retry_reset(&p->master.retry, true);
	if (!p->master.health.kme_ok && p->master.was_kme_ok)
		log_info("pool %s: key source reachable again", p->cfg.name);
	else if (!p->master.was_kme_ok)
		log_info("pool %s: key source reachable", p->cfg.name);
	p->master.health.known = true;
	p->master.health.kme_ok = true;
	p->master.was_kme_ok = true;
}

/*
 * The source failed.  During an outage the same error repeats at every
 * fast probe: it is logged once, then at debug level until it changes.
 */
static void kme_failed(struct pool *p, const char *err, const char *what)
{
	if (p->master.health.kme_ok || strcmp(err, p->master.health.last_error))
		log_err("pool %s: %s%s", p->cfg.name, err, what);
	else
		log_debug("pool %s: %s%s", p->cfg.name, err, what);
	p->master.health.known = true;
	p->master.health.kme_ok = false;
	p->st.kme_errors++;
	health_set_error(&p->master.health, err);
}

/*
 * The source answered but has no keys to give yet (a KME's empty buffer):
 * not an outage.  Logged once until the message changes.
 */
static void no_keys_yet(struct pool *p, const char *err)
{
	if (strcmp(err, p->master.health.last_error))
		log_warn("pool %s: %s", p->cfg.name, err);
	else
		log_debug("pool %s: %s", p->cfg.name, err);
	source_ok(p);
	health_set_error(&p->master.health, err);
}

/*
 * The next attempt after a failure: fast probes for the first fast_retry
 * seconds of a KME outage, else exponential backoff with jitter
 * (policy.c).
 */
static void back_off(struct pool *p, enum retry_cause cause)
{
	double now = now_mono();

	p->master.next_try = now + retry_delay(&p->master.retry, cause, now,
					p->cfg.fast_retry, jitter());
}

/* Wipe the keys of every offer in flight and forget them. */
void master_drop(struct pool *p)
{
	struct window_slot s;

	while (!window_pop(&p->master.win, 0, &s))
		job_free(s.keys);
	window_reset(&p->master.win);
	p->master.state = M_IDLE;
}

/*
 * Write the journal.  A failed write leaves the journal dirty (the disk
 * says less than memory: an offer settled here may still be open there):
 * then no offer is committed or made until a write succeeds, since a
 * commit on top of a stale record could make a restart take a refused
 * offer for a committed one (journal.h: only the oldest open offer may
 * have been committed).  Logged once per outage.
 */
static int save(struct linkd *d, struct pool *p)
{
	char err[512];

	if (journal_save(d->cfg->state_dir, p->cfg.name, &p->master.j, err,
			 sizeof(err))) {
		if (!p->master.journal_dirty)
			log_err("pool %s: %s: no offer or commit until the journal can be written again",
				p->cfg.name, err);
		else
			log_debug("pool %s: %s", p->cfg.name, err);
		health_set_error(&p->master.health, err);
		p->master.journal_dirty = true;
		return -1;
	}
	if (p->master.journal_dirty)
		log_info("pool %s: journal written again: offers resume",
			 p->cfg.name);
	p->master.journal_dirty = false;
	return 0;
}

/*
 * An offer was settled (refused, aborted, reset): record it.  When the
 * record fails, the connection closes (what is in flight goes back to the
 * journal's rule: aborted on the next connection) and the journal stays
 * dirty.  Nothing is lost: on disk the offer is still open, and aborting
 * it again removes nothing the peer still holds.  False when closed.
 */
static bool settle_saved(struct linkd *d, struct pool *p)
{
	if (!save(d, p))
		return true;
	if (p->master.out)
		conn_close(p->master.out, "cannot write the journal");
	return false;
}

static int out_added(struct linkd *d, struct pool *p, uint64_t *added,
		     uint32_t *level)
{
	struct qkd_pool_info info;
	int ret = qkd_pool_get(d->qkd, p->id, NULL, &info);

	if (ret && kernel_check(d, ret) && p->id)
		ret = qkd_pool_get(d->qkd, p->id, NULL, &info);
	if (ret) {
		log_err("pool %s: cannot read the kernel pool: %s", p->cfg.name,
			qkd_strerror(ret));
		return ret;
	}
	*added = info.dir[QKD_DIRECTION_OUT].added;
	if (level)
		*level = info.dir[QKD_DIRECTION_OUT].level;
	return 0;
}

int master_recover(struct linkd *d, struct pool *p)
{
	uint64_t added;

	if (!p->master.j.nopen)
		return 0;
	if (out_added(d, p, &added, NULL))
		return -1;
	if (journal_recover(&p->master.j, added) == JOURNAL_COMMITTED) {
		log_info("pool %s: offer %llu (%u keys) was committed before the restart",
			 p->cfg.name, (unsigned long long)p->master.j.open[0].seq,
			 p->master.j.open[0].n);
		journal_close_oldest(&p->master.j, true);
		if (save(d, p))
			return -1;
	}
	for (unsigned int i = 0; i < p->master.j.nopen; i++)
		log_warn("pool %s: offer %llu (%u keys) has no known outcome: it will be aborted on both sides once the peer is reachable",
			 p->cfg.name, (unsigned long long)p->master.j.open[i].seq,
			 p->master.j.open[i].n);
	return 0;
}

int master_pool_recreated(struct linkd *d, struct pool *p)
{
	if (master_recover(d, p))
		return -1;
	/* The peer holds twins of keys gone here: reconcile on HELLO. */
	if (p->master.out)
		conn_close(p->master.out, "pool created again: reconnecting to reconcile");
	p->master.filling = true;
	retry_reset(&p->master.retry, false);
	p->master.next_try = now_mono();
	return 0;
}

void master_hello(struct linkd *d, struct pool *p, struct proto_hello *m)
{
	memset(m, 0, sizeof(*m));
	m->key_bits = p->cfg.key_bits;
	snprintf(m->master, sizeof(m->master), "%s", p->cfg.sae_id);
	snprintf(m->slave, sizeof(m->slave), "%s", p->cfg.peer_sae_id);
	kernel_epoch(d, p, &m->epoch);
	/*
	 * Only to a peer declared a relay node (proto.h, capabilities), and
	 * not right after a HELLO with it was closed without a word (an
	 * older qkd-linkd: conn_closed()).
	 */
	if (d->relay && d->relay_frame && p->cfg.relay_node[0] &&
	    !p->master.hello_plain)
		m->caps = PROTO_CAP_RELAY;
}

/*
 * Wipe the outbound side, then ask the peer to wipe its inbound side.
 * Until RESET_OK nothing else is sent for the pool.  Offers in flight are
 * wiped here; the peer flushes whatever of them it added, voids the
 * dec_keys still queued, and ACKs it sent before the RESET are ignored;
 * their journal entries are settled at RESET_OK.
 */
static void start_reset(struct linkd *d, struct pool *p, const char *why)
{
	struct proto_reset m = { 0 };
	int ret;

	master_drop(p);
	ret = qkd_key_flush(d->qkd, p->id, QKD_DIRECTION_OUT, &m.count);
	if (ret) {
		log_err("pool %s: cannot wipe the outbound side for a reset: %s",
			p->cfg.name, qkd_strerror(ret));
		if (!kernel_check(d, ret) && p->master.out)
			conn_close(p->master.out, "reset failed");
		return;
	}
	log_warn("pool %s: resetting the outbound direction (%s): %u outbound keys wiped here, asking the peer to wipe their twins",
		 p->cfg.name, why, m.count);
	p->st.resets++;
	if (conn_send(p->master.out, frame,
		      proto_encode_reset(&m, frame, sizeof(frame)))) {
		conn_close(p->master.out, "cannot send RESET");
		return;
	}
	p->master.state = M_WAIT_RESET;
	/* In the (emptied) window, no keys, for its answer's deadline. */
	if (window_push(&p->master.win, 0, 0, now_mono(), NULL)) {
		log_err("pool %s: the window of offers in flight refused the RESET",
			p->cfg.name);
		conn_close(p->master.out, "window of offers in flight full");
	}
}

static void master_on_open(struct linkd *d, struct pool *p,
			   const struct proto_hello_ok *m)
{
	window_reset(&p->master.win);
	retry_reset(&p->master.retry, false);
	p->master.next_try = now_mono();
	if (m->reset)
		start_reset(d, p, "the peer's record names other pools: one side lost its keys");
}

static void on_reset_ok(struct linkd *d, struct pool *p,
			const struct proto_reset *m)
{
	log_info("pool %s: outbound direction reconciled: the peer wiped %u inbound keys; refilling",
		 p->cfg.name, m->count);
	window_reset(&p->master.win);
	if (p->master.j.nopen) {
		/* Their keys went with the reset, on both sides. */
		while (p->master.j.nopen) {
			log_info("pool %s: offer %llu (%u keys) settled by the reset",
				 p->cfg.name,
				 (unsigned long long)p->master.j.open[0].seq,
				 p->master.j.open[0].n);
			p->st.aborted += p->master.j.open[0].n;
			journal_close_oldest(&p->master.j, false);
		}
		if (!settle_saved(d, p))
			return;
	}
	p->master.state = M_IDLE;
	p->master.filling = true;
	retry_reset(&p->master.retry, false);
	p->master.next_try = now_mono();
}

static void master_on_close(struct pool *p)
{
	if (p->master.state == M_WAIT_ACK)
		log_warn("pool %s: %u offer(s) from %llu lost with the connection: their keys are wiped here and will be aborted on the peer",
			 p->cfg.name, p->master.win.count,
			 (unsigned long long)window_oldest(&p->master.win)->seq);
	master_drop(p);
	back_off(p, RETRY_OTHER);
}

/* ABORT every open offer of the journal, oldest first; answered in order. */
static void send_aborts(struct pool *p)
{
	double now = now_mono();

	window_reset(&p->master.win);
	for (unsigned int i = 0; i < p->master.j.nopen; i++) {
		const struct journal_offer *o = &p->master.j.open[i];

		struct proto_ids m = { .seq = o->seq, .n = o->n, .ids = o->ids };
		/* Tracked before it leaves: its answer must find it. */
		if (window_push(&p->master.win, o->seq, o->n, now, NULL)) {
			log_err("pool %s: the window of offers in flight refused the ABORT of offer %llu",
				p->cfg.name, (unsigned long long)o->seq);
			conn_close(p->master.out, "window of offers in flight full");
			return;
		}
		if (conn_send(p->master.out, frame,
			      proto_encode_abort(&m, frame, sizeof(frame)))) {
			conn_close(p->master.out, "cannot send ABORT");
			return;
		}
	}
	p->master.state = M_WAIT_ABORTED;
}

static void submit(struct pool *p, struct job *j)
{
	p->master.job_busy = true;
	worker_submit(p->worker, j);
}

static void refresh_status(struct pool *p)
{
	struct job *j = job_new(JOB_STATUS, 0);

	if (!j) {
		back_off(p, RETRY_OTHER);
		return;
	}
	submit(p, j);
}

static void status_done(struct pool *p, struct job *j)
{
	if (j->ret) {
		kme_failed(p, j->err, "");
		back_off(p, RETRY_KME);
		return;
	}
	p->master.max_batch = j->max_batch;
	source_ok(p);
	p->master.next_status = now_mono() + STATUS_EVERY;
	p->master.next_try = now_mono();
}

/* Ask the source for the next batch, if the pool needs one. */
static void fetch(struct linkd *d, struct pool *p)
{
	uint64_t added;
	uint32_t level, n, room;
	struct job *j;

	if (out_added(d, p, &added, &level)) {
		back_off(p, RETRY_OTHER);
		return;
	}
	if (!p->master.out)
		return;		/* pool created again: reconnect, reconcile */
	if (level <= p->cfg.low)
		p->master.filling = true;
	if (level >= p->cfg.high)
		p->master.filling = false;
	/* Keys in flight will be in the ring once acknowledged. */
	room = p->cfg.high > level + p->master.win.keys ?
	       p->cfg.high - level - p->master.win.keys : 0;
	if (!p->master.filling || !room) {
		p->master.next_try = now_mono() + IDLE_CHECK;
		return;
	}
	n = p->cfg.batch;
	if (n > p->master.max_batch)
		n = p->master.max_batch;
	if (n > room)
		n = room;
	if (n > QKD_BATCH_MAX)
		n = QKD_BATCH_MAX;
	j = job_new(JOB_GET, n);
	if (!j) {
		back_off(p, RETRY_OTHER);
		return;
	}
	submit(p, j);
}

/* The source delivered a batch: journal it, offer it, keep it until ACK. */
static void get_done(struct linkd *d, struct pool *p, struct job *j)
{
	struct proto_ids m;
	const struct journal_offer *o;
	uint64_t added = 0;
	double now = now_mono();
	bool bad;

	if (j->ret == SRC_AGAIN) {
		no_keys_yet(p, j->err);
		back_off(p, RETRY_AGAIN);
		job_free(j);
		return;
	}
	if (j->ret) {
		kme_failed(p, j->err, " (pool untouched)");
		back_off(p, RETRY_KME);
		job_free(j);
		return;
	}
	source_ok(p);
	p->master.next_try = now;
	/* First: a pool found created again closes its connection. */
	bad = !p->master.j.nopen && out_added(d, p, &added, NULL);
	if (bad || !p->master.out || p->master.out->state != CONN_OPEN ||
	    p->master.state == M_WAIT_ABORTED || p->master.state == M_WAIT_RESET ||
	    !window_has_room(&p->master.win, p->cfg.offer_window)) {
		/* Not offered: nobody holds these keys but the KME. */
		log_info("pool %s: %zu keys from the source discarded: the peer channel is not ready",
			 p->cfg.name, j->n);
		job_free(j);
		return;
	}
	/* Journal first: after this point the peer may act on the offer. */
	o = journal_open(&p->master.j, added, j->names, j->n);
	if (!o || save(d, p)) {
		/* Not sent: nobody holds these keys but the KME. */
		if (o) {
			p->master.j.nopen--;
			p->master.j.next_seq--;
		}
		job_free(j);
		back_off(p, RETRY_OTHER);
		return;
	}
	m = (struct proto_ids){ .seq = o->seq, .n = o->n, .ids = o->ids };
	if (window_push(&p->master.win, o->seq, o->n, now, j)) {
		/*
		 * Journaled but never sent: its keys are wiped here, and the
		 * open entry is aborted on the next connection (the peer
		 * removes nothing), as for any offer of unknown outcome.
		 */
		log_err("pool %s: the window of offers in flight refused offer %llu (%u in flight): not sent, its keys wiped; reconnecting",
			p->cfg.name, (unsigned long long)o->seq,
			p->master.win.count);
		job_free(j);
		conn_close(p->master.out, "window of offers in flight full");
		return;
	}
	p->st.offers++;
	p->master.state = M_WAIT_ACK;
	if (conn_send(p->master.out, frame,
		      proto_encode_offer(&m, frame, sizeof(frame)))) {
		conn_close(p->master.out, "cannot send OFFER");
		return;
	}
	log_debug("pool %s: offer %llu: %u keys (%u in flight)", p->cfg.name,
		  (unsigned long long)m.seq, m.n, p->master.win.count);
}

void master_on_job(struct linkd *d, struct pool *p, struct job *j)
{
	p->master.job_busy = false;
	if (j->kind == JOB_STATUS) {
		status_done(p, j);
		job_free(j);
		return;
	}
	get_done(d, p, j);
}

/*
 * Does the peer fetch an offer's keys one request per key (dec_keys by
 * GET)?  Its configuration is not known here: this side's stands in for it
 * (the two routers of a link are configured alike).  "auto" counts as one
 * request: it is POST unless the KME refuses POST, and an answer deadline
 * of one request per key would hide a hung peer for minutes.
 */
static bool per_key(const struct pool *p)
{
	return p->cfg.source == SOURCE_ETSI014 && p->cfg.dec_method == DEC_GET;
}

double master_wakeup(const struct linkd *d, const struct pool *p)
{
	/* next_try counts only when master_step() would act on it. */
	bool waiting = !p->id || p->master.job_busy || p->master.state == M_WAIT_ABORTED ||
		       p->master.state == M_WAIT_RESET ||
		       (p->master.out && p->master.out->state != CONN_OPEN) ||
		       !window_has_room(&p->master.win, p->cfg.offer_window);
	double t = waiting ? INFINITY : p->master.next_try;

	if (p->master.win.count && p->master.out) {
		double dl = window_deadline(&p->master.win, p->cfg.kme_timeout,
					    per_key(p), d->cfg->handshake_timeout);

		if (dl < t)
			t = dl;
	}
	return t;
}

void master_step(struct linkd *d, struct pool *p)
{
	double now = now_mono();

	if (!p->id)
		return;		/* no kernel pool: kernel_sync() */
	if (p->master.win.count && p->master.out &&
	    now > window_deadline(&p->master.win, p->cfg.kme_timeout, per_key(p),
				  d->cfg->handshake_timeout)) {
		log_err("pool %s: peer did not answer %s %llu in time (%.0f s)",
			p->cfg.name,
			p->master.state == M_WAIT_ABORTED ? "abort" :
			p->master.state == M_WAIT_RESET ? "reset" : "offer",
			(unsigned long long)window_oldest(&p->master.win)->seq,
			offer_answer_timeout(p->cfg.kme_timeout, per_key(p),
					     window_oldest(&p->master.win)->n,
					     d->cfg->handshake_timeout));
		p->st.peer_errors++;
		conn_close(p->master.out, "answer timeout");
		return;
	}
	if (p->master.state == M_WAIT_ABORTED || p->master.state == M_WAIT_RESET ||
	    p->master.job_busy || now < p->master.next_try)
		return;
	if (!p->master.out) {
		char label[80];

		snprintf(label, sizeof(label), "pool %s", p->cfg.name);
		p->master.out = conn_connect(&d->cs, p->cfg.peer_host, p->cfg.peer_port,
				      p->master.client_ctx, p->cfg.peer_sae_id,
				      &master_conn_ops, p, label);
		if (!p->master.out) {
			p->st.peer_errors++;
			back_off(p, RETRY_OTHER);
		}
		return;
	}
	if (p->master.out->state != CONN_OPEN)
		return;
	/* Nothing leaves while the journal on disk is behind (save()). */
	if (p->master.journal_dirty && save(d, p)) {
		back_off(p, RETRY_OTHER);
		return;
	}
	if (p->master.j.nopen && !p->master.win.count) {
		send_aborts(p);
		return;
	}
	if (!window_has_room(&p->master.win, p->cfg.offer_window))
		return;		/* an answer sets next_try */
	if (!p->master.max_batch || now >= p->master.next_status) {
		refresh_status(p);
		return;
	}
	fetch(d, p);
}

/*
 * Add an acknowledged offer's keys to the outbound ring.  Only when the
 * kernel's counter is what the journal says: then, after a crash, the
 * journal tells whether this offer was committed (journal.h).  A pool
 * re-created under the daemon, or keys added by hand, fail this check.
 */
static int commit(struct linkd *d, struct pool *p, struct job *j,
		  uint64_t seq)
{
	uint64_t added;
	int ret = out_added(d, p, &added, NULL);

	if (ret)
		return ret;
	if (added != p->master.j.added) {
		log_err("pool %s: outbound counter is %llu, the journal expects %llu (pool re-created or written by someone else); aborting offer %llu",
			p->cfg.name, (unsigned long long)added,
			(unsigned long long)p->master.j.added, (unsigned long long)seq);
		return -ESTALE;
	}
	ret = qkd_key_add(d->qkd, p->id, QKD_DIRECTION_OUT, j->keys, j->n);
	if (ret) {
		/* Noticed a reload: a new pool's "added" starts at 0; abort. */
		kernel_check(d, ret);
		log_err("pool %s: outbound pool refused %zu keys: %s%s%s; aborting offer %llu",
			p->cfg.name, j->n, qkd_strerror(ret),
			qkd_last_error(d->qkd)[0] ? ": " : "",
			qkd_last_error(d->qkd), (unsigned long long)seq);
	}
	return ret;
}

static void on_ack(struct linkd *d, struct pool *p, const struct proto_ack *m)
{
	struct window_slot s;
	struct job *j;
	int ret;

	window_pop(&p->master.win, now_mono(), &s);
	j = s.keys;
	if (!p->master.win.count)
		p->master.state = M_IDLE;
	if (m->status != PROTO_OK) {
		uint64_t added;
		uint32_t level = 1;

		/* The peer added nothing: the keys are discarded on both sides. */
		log_err("pool %s: peer refused offer %llu: %s", p->cfg.name,
			(unsigned long long)m->seq, m->text);
		health_set_error(&p->master.health, m->text);
		p->st.refused += s.n;
		p->st.peer_errors++;
		job_free(j);
		journal_close_oldest(&p->master.j, false);
		if (!settle_saved(d, p))
			return;
		back_off(p, RETRY_OTHER);
		/*
		 * No room at the peer while nothing is left here: whatever it
		 * holds inbound has no twin here (orphans), so they must not
		 * block the refill.
		 */
		if (m->status == PROTO_E_FULL && !out_added(d, p, &added, &level) &&
		    !level && p->master.out)
			start_reset(d, p, "the peer's inbound side is full while the outbound side here is empty: orphans there");
		return;
	}
	/* A dirty journal first: else this commit could not be told apart. */
	if (p->master.journal_dirty && save(d, p)) {
		job_free(j);
		conn_close(p->master.out, "cannot write the journal");
		return;
	}
	ret = commit(d, p, j, m->seq);
	job_free(j);
	if (ret) {
		/*
		 * The peer has them, we do not: abort them there, and every
		 * later offer with them (only the oldest open offer may be
		 * committed when the journal is read: see journal.h).  The
		 * entries stay open.
		 */
		p->master.next_try = now_mono();
		if (p->master.out)	/* else: pool created again, reconcile */
			conn_close(p->master.out, "outbound pool refused the keys");
		return;
	}
	p->st.committed += s.n;
	if (d->relay_credit)	/* the link's relay share of these keys */
		d->relay_credit(d, p, s.n);
	journal_close_oldest(&p->master.j, true);
	if (save(d, p)) {
		/*
		 * On disk this offer is still open: one such offer is
		 * recognised at a restart, two would not be.  No further
		 * commit until a save works: the later offers are aborted.
		 */
		conn_close(p->master.out, "cannot write the journal");
		return;
	}
	retry_reset(&p->master.retry, false);
	p->master.next_try = now_mono();
}

static void on_aborted(struct linkd *d, struct pool *p,
		       const struct proto_aborted *m)
{
	struct window_slot s;

	window_pop(&p->master.win, now_mono(), &s);
	log_info("pool %s: offer %llu aborted: peer removed %u of its %u keys",
		 p->cfg.name, (unsigned long long)m->seq, m->removed, s.n);
	p->st.aborted += s.n;
	journal_close_oldest(&p->master.j, false);
	if (!settle_saved(d, p))
		return;
	if (!p->master.win.count) {
		p->master.state = M_IDLE;
		p->master.next_try = now_mono();
	}
}

/* Is @seq the answer the master waits for: its oldest offer or abort? */
static bool expected(struct pool *p, uint64_t seq)
{
	struct window_slot *oldest = window_oldest(&p->master.win);

	return oldest && seq == oldest->seq && p->master.j.nopen &&
	       p->master.j.open[0].seq == seq;
}

/* An open connection's frame: each type decoded by its own decoder. */
static void master_on_msg(struct linkd *d, struct pool *p,
			  const struct proto_frame *f)
{
	enum master_state st = p->master.state;
	struct proto_aborted ab;
	struct proto_reset rs;
	struct proto_error er;
	struct proto_ack ack;

	switch (f->type) {
	case PROTO_ACK:
		if (proto_decode_ack(f, &ack))
			break;
		if (st == M_WAIT_ACK && expected(p, ack.seq)) {
			on_ack(d, p, &ack);
			return;
		}
		if (st == M_WAIT_RESET) {
			/* Sent before our RESET: its keys go with the reset. */
			log_debug("pool %s: answer to offer %llu ignored: reset under way",
				  p->cfg.name, (unsigned long long)ack.seq);
			return;
		}
		log_err("pool %s: unexpected ACK (seq %llu) from peer",
			p->cfg.name, (unsigned long long)ack.seq);
		goto protocol_error;
	case PROTO_ABORTED:
		if (proto_decode_aborted(f, &ab))
			break;
		if (st == M_WAIT_ABORTED && expected(p, ab.seq)) {
			on_aborted(d, p, &ab);
			return;
		}
		log_err("pool %s: unexpected ABORTED (seq %llu) from peer",
			p->cfg.name, (unsigned long long)ab.seq);
		goto protocol_error;
	case PROTO_RESET_OK:
		if (proto_decode_reset_ok(f, &rs))
			break;
		if (st == M_WAIT_RESET) {
			on_reset_ok(d, p, &rs);
			return;
		}
		log_err("pool %s: unexpected RESET_OK from peer", p->cfg.name);
		goto protocol_error;
	case PROTO_ERROR:
		if (proto_decode_error(f, &er))
			break;
		log_err("pool %s: peer error: %s", p->cfg.name, er.text);
		goto protocol_error;
	default:
		log_err("pool %s: unexpected %s from peer", p->cfg.name,
			proto_type_name(f->type));
		goto protocol_error;
	}
	/* A frame of its type that does not decode: the peer's fault. */
	log_err("pool %s: malformed %s from peer", p->cfg.name,
		proto_type_name(f->type));
	conn_fault(p->master.out, "malformed frame");
	return;
protocol_error:
	p->st.peer_errors++;
	conn_close(p->master.out, "protocol error");
}

/*
 * The HELLO without the capability byte was taken after one with it was
 * closed: the peer runs a qkd-linkd from before relaying, which refuses
 * the byte.  The link fills its pools as before and carries no relayed
 * keys; said once (until the peer relays again).
 */
static void old_peer(struct pool *p)
{
	if (p->master.relay_ok)
		p->master.old_peer_logged = false;
	if (!p->master.hello_plain || p->master.old_peer_logged)
		return;
	p->master.old_peer_logged = true;
	log_warn("pool %s: peer %s closed our HELLO with the relay capability and took it without: it runs an older qkd-linkd; this link carries no relayed keys (relaying routes around it) until the peer is upgraded",
		 p->cfg.name, p->cfg.relay_node);
}

/* The connection's callbacks (conn.h): HELLO, HELLO_OK, then the pool's. */
static void conn_opened(struct conn *c)
{
	struct pool *p = c->ctx;
	struct proto_hello m;

	master_hello(p->d, p, &m);
	p->master.hello_caps = m.caps != 0;
	p->master.hello_answered = false;
	if (conn_send(c, frame, proto_encode_hello(&m, frame, sizeof(frame))))
		conn_close(c, "cannot send HELLO");
}

static void conn_message(struct conn *c, const struct proto_frame *f)
{
	struct pool *p = c->ctx;
	struct proto_hello_ok ok;
	struct proto_error er;

	if (c->state == CONN_OPEN) {
		/* Relay frames: neither the window nor the journal's. */
		if (f->type == PROTO_RELAY && p->master.relay_ok) {
			p->d->relay_frame(p->d, p, f);
			return;
		}
		master_on_msg(p->d, p, f);
		return;
	}
	p->master.hello_answered = true;
	if (!proto_decode_hello_ok(f, &ok)) {
		p->master.relay_ok = ok.caps & PROTO_CAP_RELAY &&
				     p->d->relay && p->d->relay_frame &&
				     p->cfg.relay_node[0];
		conn_set_open(c, NULL);
		log_info("pool %s: connected to peer %s (outbound)", p->cfg.name,
			 c->peer);
		old_peer(p);
		master_on_open(p->d, p, &ok);
		return;
	}
	p->st.peer_errors++;
	if (!proto_decode_error(f, &er)) {
		log_err("pool %s: peer %s refused us: %s", p->cfg.name, c->peer,
			er.text);
		conn_close(c, NULL);
		return;
	}
	conn_close(c, f->type == PROTO_HELLO_OK ? "malformed HELLO_OK" :
		   "unexpected frame instead of HELLO_OK");
}

/*
 * Closed by anyone (the transport, this file, kernel_sync()): the window's
 * keys and jobs are freed here, by master_drop().
 */
static void conn_closed(struct conn *c, bool fault)
{
	struct pool *p = c->ctx;

	if (fault)
		p->st.peer_errors++;
	if (p->master.out == c) {
		/*
		 * Our HELLO with the capability closed by the peer without a
		 * word (no ERROR, no timeout; not a close of ours: a pool
		 * re-created, a journal write failed): an older qkd-linkd
		 * cannot decode it (proto.h).  Try again at once without the byte; if that
		 * fails too, the byte was not the cause.  An open connection
		 * that closes: the next HELLO asks again (the peer may have
		 * been upgraded meanwhile).
		 */
		bool plain = !fault && c->peer_closed && c->state == CONN_HELLO &&
			     p->master.hello_caps && !p->master.hello_answered;

		p->master.out = NULL;
		p->master.relay_ok = false;
		master_on_close(p);
		p->master.hello_plain = plain;
		if (plain)
			p->master.next_try = now_mono();
	}
}

static const struct conn_ops master_conn_ops = {
	.opened = conn_opened,
	.message = conn_message,
	.closed = conn_closed,
};
