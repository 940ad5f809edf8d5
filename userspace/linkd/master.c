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
 * An offer whose outcome is unknown (connection lost, timeout, restart)
 * is never re-offered: on the next connection the master sends ABORT with
 * its key IDs, the peer removes whichever of them it added, answers
 * ABORTED, and only then does the master close the entry and go on.  At
 * start, an open entry whose keys are already counted in the outbound
 * "added" counter was committed before the restart.  See
 * Documentation/qkd-linkd.rst, "Recovery protocol".
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "linkd.h"
#include "log.h"
#include "secmem.h"

#define IDLE_CHECK	1.0	/* s between pool level checks when full */
#define STATUS_EVERY	30.0	/* s between KME status requests */

static double jitter(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)rand();
	return (double)r / 4294967296.0;
}

static void set_error(struct pool *p, const char *err)
{
	size_t n = strnlen(err, sizeof(p->last_error) - 1);

	memcpy(p->last_error, err, n);
	p->last_error[n] = '\0';
}

/* The source answered: log the way back from an outage once. */
static void source_ok(struct pool *p)
{
	retry_reset(&p->retry, true);
	if (!p->kme_ok && p->was_kme_ok)
		log_info("pool %s: key source reachable again", p->cfg.name);
	else if (!p->was_kme_ok)
		log_info("pool %s: key source reachable", p->cfg.name);
	p->kme_ok = true;
	p->was_kme_ok = true;
}

/*
 * The source failed.  During an outage the same error repeats at every
 * fast probe: it is logged once, then at debug level until it changes.
 */
static void kme_failed(struct pool *p, const char *err, const char *what)
{
	if (p->kme_ok || strcmp(err, p->last_error))
		log_err("pool %s: %s%s", p->cfg.name, err, what);
	else
		log_debug("pool %s: %s%s", p->cfg.name, err, what);
	p->kme_ok = false;
	p->st.kme_errors++;
	set_error(p, err);
}

/*
 * The source answered but has no keys to give yet (a KME's empty buffer):
 * not an outage.  Logged once until the message changes.
 */
static void no_keys_yet(struct pool *p, const char *err)
{
	if (strcmp(err, p->last_error))
		log_warn("pool %s: %s", p->cfg.name, err);
	else
		log_debug("pool %s: %s", p->cfg.name, err);
	source_ok(p);
	set_error(p, err);
}

/*
 * The next attempt after a failure: fast probes for the first fast_retry
 * seconds of a KME outage, else exponential backoff with jitter
 * (policy.c).
 */
static void back_off(struct pool *p, enum retry_cause cause)
{
	double now = now_mono();

	p->next_try = now + retry_delay(&p->retry, cause, now,
					p->cfg.fast_retry, jitter());
}

static void drop_pending(struct pool *p)
{
	if (p->pending) {
		qkd_key_wipe(p->pending, p->npending);
		secmem_free(p->pending, p->npending * sizeof(*p->pending));
	}
	p->pending = NULL;
	p->npending = 0;
}

static int save(struct linkd *d, struct pool *p)
{
	char err[512];

	if (journal_save(d->cfg->state_dir, p->cfg.name, &p->j, err,
			 sizeof(err))) {
		log_err("pool %s: %s", p->cfg.name, err);
		set_error(p, err);
		return -1;
	}
	return 0;
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

	if (!p->j.open)
		return 0;
	if (out_added(d, p, &added, NULL))
		return -1;
	if (added >= p->j.base + p->j.n) {
		log_info("pool %s: offer %llu (%u keys) was committed before the restart",
			 p->cfg.name, (unsigned long long)p->j.seq, p->j.n);
		p->j.open = false;
		return save(d, p);
	}
	log_warn("pool %s: offer %llu (%u keys) has no known outcome: it will be aborted on both sides once the peer is reachable",
		 p->cfg.name, (unsigned long long)p->j.seq, p->j.n);
	return 0;
}

void master_on_open(struct linkd *d, struct pool *p)
{
	(void)d;
	retry_reset(&p->retry, false);
	p->next_try = now_mono();
}

void master_on_close(struct linkd *d, struct pool *p)
{
	(void)d;
	if (p->mstate == M_WAIT_ACK)
		log_warn("pool %s: offer %llu lost with the connection: its keys are wiped here and will be aborted on the peer",
			 p->cfg.name, (unsigned long long)p->j.seq);
	drop_pending(p);
	p->mstate = M_IDLE;
	back_off(p, RETRY_OTHER);
}

static void send_abort(struct linkd *d, struct pool *p)
{
	static struct proto_msg m;

	m.type = PROTO_ABORT;
	m.seq = p->j.seq;
	m.n = p->j.n;
	memcpy(m.ids, p->j.ids, (size_t)p->j.n * sizeof(m.ids[0]));
	if (conn_send(p->out, &m)) {
		conn_close(d, p->out, "cannot send ABORT");
		return;
	}
	p->mstate = M_WAIT_ABORTED;
	p->ack_deadline = now_mono() + 2.0 * p->cfg.kme_timeout + 5;
}

static void refresh_status(struct pool *p)
{
	char err[SRC_ERR_LEN];
	unsigned int max_batch, stored;

	if (p->src.ops->status(p->src.priv, &max_batch, &stored, err,
			       sizeof(err))) {
		kme_failed(p, err, "");
		return;
	}
	p->max_batch = max_batch;
	source_ok(p);
	p->next_status = now_mono() + STATUS_EVERY;
}

static void offer(struct linkd *d, struct pool *p)
{
	static struct proto_msg m;
	char err[SRC_ERR_LEN];
	uint64_t added;
	uint32_t level, n, room;
	int ret;

	if (out_added(d, p, &added, &level)) {
		back_off(p, RETRY_OTHER);
		return;
	}
	if (level <= p->cfg.low)
		p->filling = true;
	if (level >= p->cfg.high)
		p->filling = false;
	if (!p->filling) {
		p->next_try = now_mono() + IDLE_CHECK;
		return;
	}
	room = p->cfg.high - level;
	n = p->cfg.batch;
	if (n > p->max_batch)
		n = p->max_batch;
	if (n > room)
		n = room;
	if (n > QKD_BATCH_MAX)
		n = QKD_BATCH_MAX;
	p->pending = secmem_alloc(n * sizeof(*p->pending));
	if (!p->pending) {
		back_off(p, RETRY_OTHER);
		return;
	}
	p->npending = n;
	/* The names go straight to the journal's slots (no offer is open). */
	ret = p->src.ops->get(p->src.priv, p->pending, p->j.ids, n, err,
			      sizeof(err));
	if (ret == SRC_AGAIN) {
		no_keys_yet(p, err);
		drop_pending(p);
		back_off(p, RETRY_AGAIN);
		return;
	}
	if (ret) {
		kme_failed(p, err, " (pool untouched)");
		drop_pending(p);
		back_off(p, RETRY_KME);
		return;
	}
	source_ok(p);
	/* Journal first: after this point the peer may act on the offer. */
	p->j.open = true;
	p->j.seq = p->j.next_seq++;
	p->j.base = added;
	p->j.n = n;
	if (save(d, p)) {
		/* Not sent: nobody holds these keys but the KME. */
		p->j.open = false;
		drop_pending(p);
		back_off(p, RETRY_OTHER);
		return;
	}
	m.type = PROTO_OFFER;
	m.seq = p->j.seq;
	m.n = n;
	memcpy(m.ids, p->j.ids, (size_t)n * sizeof(m.ids[0]));
	p->st.offers++;
	if (conn_send(p->out, &m)) {
		conn_close(d, p->out, "cannot send OFFER");
		return;
	}
	p->mstate = M_WAIT_ACK;
	p->ack_deadline = now_mono() + 2.0 * p->cfg.kme_timeout + 5;
	log_debug("pool %s: offer %llu: %u keys", p->cfg.name,
		  (unsigned long long)m.seq, n);
}

void master_step(struct linkd *d, struct pool *p)
{
	double now = now_mono();

	if (!p->id)
		return;		/* no kernel pool: kernel_sync() */
	if (p->mstate != M_IDLE) {
		if (now > p->ack_deadline && p->out) {
			log_err("pool %s: peer did not answer offer %llu in time",
				p->cfg.name, (unsigned long long)p->j.seq);
			p->st.peer_errors++;
			conn_close(d, p->out, "answer timeout");
		}
		return;
	}
	if (now < p->next_try)
		return;
	if (!p->out) {
		p->out = conn_connect(d, p);
		if (!p->out) {
			p->st.peer_errors++;
			back_off(p, RETRY_OTHER);
		}
		return;
	}
	if (p->out->state != CONN_OPEN)
		return;
	if (p->j.open) {
		send_abort(d, p);
		return;
	}
	if (!p->max_batch || now >= p->next_status) {
		refresh_status(p);
		if (!p->kme_ok) {
			back_off(p, RETRY_KME);
			return;
		}
	}
	offer(d, p);
}

static void on_ack(struct linkd *d, struct pool *p, struct proto_msg *m)
{
	int ret;

	if (m->status != PROTO_OK) {
		/* The peer added nothing: the keys are discarded on both sides. */
		log_err("pool %s: peer refused offer %llu: %s", p->cfg.name,
			(unsigned long long)m->seq, m->text);
		set_error(p, m->text);
		p->st.refused += p->npending;
		p->st.peer_errors++;
		drop_pending(p);
		p->j.open = false;
		save(d, p);
		p->mstate = M_IDLE;
		back_off(p, RETRY_OTHER);
		return;
	}
	ret = qkd_key_add(d->qkd, p->id, QKD_DIRECTION_OUT, p->pending,
			  p->npending);
	if (ret) {
		/* Noticed a reload: a new pool's "added" starts at 0; abort. */
		kernel_check(d, ret);
		/* The peer has them, we do not: abort them there. */
		log_err("pool %s: outbound pool refused %zu keys: %s%s%s; aborting offer %llu",
			p->cfg.name, p->npending, qkd_strerror(ret),
			qkd_last_error(d->qkd)[0] ? ": " : "",
			qkd_last_error(d->qkd), (unsigned long long)m->seq);
		drop_pending(p);
		p->mstate = M_IDLE;
		back_off(p, RETRY_OTHER);
		return;
	}
	p->st.committed += p->npending;
	drop_pending(p);
	p->j.open = false;
	save(d, p);
	p->mstate = M_IDLE;
	retry_reset(&p->retry, false);
	p->next_try = now_mono();
}

void master_on_msg(struct linkd *d, struct pool *p, struct proto_msg *m)
{
	if (m->type == PROTO_ACK && p->mstate == M_WAIT_ACK &&
	    m->seq == p->j.seq) {
		on_ack(d, p, m);
		return;
	}
	if (m->type == PROTO_ABORTED && p->mstate == M_WAIT_ABORTED &&
	    m->seq == p->j.seq) {
		log_info("pool %s: offer %llu aborted: peer removed %u of its %u keys",
			 p->cfg.name, (unsigned long long)m->seq, m->n, p->j.n);
		p->st.aborted += p->j.n;
		p->j.open = false;
		save(d, p);
		p->mstate = M_IDLE;
		p->next_try = now_mono();
		return;
	}
	if (m->type == PROTO_ERROR)
		log_err("pool %s: peer error: %s", p->cfg.name, m->text);
	else
		log_err("pool %s: unexpected %s (seq %llu) from peer",
			p->cfg.name, proto_type_name(m->type),
			(unsigned long long)m->seq);
	p->st.peer_errors++;
	conn_close(d, p->out, "protocol error");
}
