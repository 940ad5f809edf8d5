// SPDX-License-Identifier: GPL-2.0
/*
 * The slave side of a pool: the peer's outbound direction, this node's
 * inbound keys.  On an accepted connection:
 *
 *   HELLO   names the pool by its two SAE IDs; the client certificate must
 *           carry the master SAE ID.  An older connection of the same pool
 *           is closed first, so that a stale OFFER still buffered there can
 *           never be acted on after a newer ABORT.
 *   OFFER   get the keys by ID from the source (dec_keys) and add them to
 *           the inbound side, all or none; ACK says which.  dec_keys runs
 *           on the pool's slave worker (worker.h): several OFFERs may wait
 *           there; their ACKs leave in the order the OFFERs came, and the
 *           keys of a connection closed meanwhile (or of an offer aborted
 *           meanwhile) are wiped, never added.
 *   ABORT   remove whichever of the IDs are in the inbound side (taken by
 *           ID and wiped), and refuse OFFERs up to that sequence number on
 *           this connection.
 *
 * Reconciliation (recon.h): HELLO carries the master's pool epoch.  When
 * it and this node's pool are not the pair recorded in STATE_DIR/POOL.peer,
 * HELLO_OK asks for a reset and OFFERs are refused until the master's
 * RESET (sent after it wiped its outbound side): then the inbound side is
 * wiped, the new pair recorded, and RESET_OK answered.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "linkd.h"
#include "log.h"

/* Frames are encoded here (an ACK's text, an ERROR's). */
static uint8_t frame[PROTO_HDR_LEN + 16 + PROTO_TEXT_MAX + EPOCH_WIRE_LEN];

static void refuse(struct conn *c, uint16_t code, const char *why)
{
	log_err("peer %s: refused: %s", c->peer, why);
	conn_send(c, frame, proto_encode_error(PROTO_VERSION, code, why, frame,
					       sizeof(frame)));
	conn_close(c, NULL);
}

/* The verdict on the pair @master -> @slave, logged unless it keeps. */
static enum recon_verdict reconcile(struct linkd *d, struct pool *p,
				    const struct pool_epoch *master,
				    const struct pool_epoch *slave)
{
	struct recon_pair rec;
	char err[1200], me[96], peer[96];
	enum recon_verdict v;
	int found;

	found = recon_load(d->cfg->state_dir, p->cfg.name, &rec, err,
			   sizeof(err));
	if (found < 0)
		log_warn("pool %s: %s: resetting the inbound direction",
			 p->cfg.name, err);
	v = recon_decide(found > 0 ? &rec : NULL, master, slave);
	if (v != RECON_KEEP) {
		epoch_format(master, peer, sizeof(peer));
		epoch_format(slave, me, sizeof(me));
		log_warn("pool %s: reconciling the inbound direction: %s (peer's pool %s, here %s): both sides wipe their keys of it",
			 p->cfg.name, recon_reason(v), peer, me);
	}
	return v;
}

static void on_hello(struct linkd *d, struct conn *c,
		     const struct proto_hello *m)
{
	struct pool *p = NULL;
	struct proto_hello_ok ok = { 0 };
	char why[PROTO_TEXT_MAX + 1];
	struct qkd_pool_info info;
	enum recon_verdict v;

	for (unsigned int i = 0; i < d->npools; i++)
		if (!strcmp(d->pools[i].cfg.sae_id, m->slave) &&
		    !strcmp(d->pools[i].cfg.peer_sae_id, m->master))
			p = &d->pools[i];
	if (!p) {
		snprintf(why, sizeof(why), "no pool for master %.100s, slave %.100s",
			 m->master, m->slave);
		refuse(c, PROTO_E_PEER, why);
		return;
	}
	if (!tls_peer_has_name(c->ssl, m->master)) {
		snprintf(why, sizeof(why), "certificate does not name SAE %.127s",
			 m->master);
		p->st.peer_errors++;
		refuse(c, PROTO_E_PEER, why);
		return;
	}
	if (m->key_bits != p->cfg.key_bits) {
		snprintf(why, sizeof(why), "pool %s: key size %u bits here, %u at the peer",
			 p->cfg.name, p->cfg.key_bits, m->key_bits);
		p->st.peer_errors++;
		refuse(c, PROTO_E_PEER, why);
		return;
	}
	if (p->slave.conn && p->slave.conn != c)
		conn_close(p->slave.conn, "replaced by a new connection");
	/* The epoch must be of the pool that is there now. */
	if (p->id && qkd_pool_get(d->qkd, p->id, NULL, &info))
		p->id = 0;
	if (!p->id)
		kernel_sync(d);
	if (!p->id) {
		snprintf(why, sizeof(why), "pool %s: no kernel pool here yet",
			 p->cfg.name);
		refuse(c, PROTO_E_POOL, why);
		return;
	}
	kernel_epoch(d, p, &ok.epoch);
	v = reconcile(d, p, &m->epoch, &ok.epoch);
	snprintf(why, sizeof(why), "pool %s", p->cfg.name);
	conn_set_open(c, why);
	c->user = p;
	p->slave.conn = c;
	p->slave.connected = true;
	p->slave.gen++;		/* jobs of older connections are void */
	/*
	 * Sequence numbers are per master lifetime and per connection: a
	 * master that lost its journal starts again at 1.
	 */
	p->slave.aborted_seq = 0;
	p->slave.master_epoch = m->epoch;
	ok.reset = v != RECON_KEEP;
	p->slave.reset_due = ok.reset;
	/* Answered only to a HELLO that announced it (proto.h). */
	p->slave.relay_ok = m->caps & PROTO_CAP_RELAY && d->relay &&
			    d->relay_frame && p->cfg.relay_node[0];
	ok.caps = p->slave.relay_ok ? PROTO_CAP_RELAY : 0;
	if (conn_send(c, frame,
		      proto_encode_hello_ok(&ok, frame, sizeof(frame)))) {
		conn_close(c, "cannot send HELLO_OK");
		return;
	}
	log_info("pool %s: peer %s connected (inbound)%s", p->cfg.name, c->peer,
		 v == RECON_KEEP ? "" : ": direction to be reset");
}

/* The master wiped its outbound side: wipe the twins, record the pair. */
static void on_reset(struct linkd *d, struct conn *c,
		     const struct proto_reset *m)
{
	struct pool *p = c->user;
	struct proto_reset done = { 0 };
	struct recon_pair rec = { .master = p->slave.master_epoch };
	char err[1200];
	int ret;

	/*
	 * dec_keys jobs of OFFERs before the RESET are void: their keys
	 * would land after the flush.  (The master drops every offer in
	 * flight when it resets and ignores their ACKs.)
	 */
	p->slave.gen++;
	ret = qkd_key_flush(d->qkd, p->id, QKD_DIRECTION_IN, &done.count);
	if (ret) {
		log_err("pool %s: cannot wipe the inbound side for a reset: %s",
			p->cfg.name, qkd_strerror(ret));
		if (!kernel_check(d, ret))
			conn_close(c, "reset failed");
		return;
	}
	kernel_epoch(d, p, &rec.slave);
	if (recon_save(d->cfg->state_dir, p->cfg.name, &rec, err, sizeof(err)))
		/* Harmless: the next connection resets again. */
		log_err("pool %s: %s", p->cfg.name, err);
	p->slave.reset_due = false;
	p->st.resets++;
	log_warn("pool %s: inbound direction reconciled: the peer wiped %u outbound keys, %u inbound keys wiped here",
		 p->cfg.name, m->count, done.count);
	if (conn_send(c, frame,
		      proto_encode_reset_ok(&done, frame, sizeof(frame))))
		conn_close(c, "cannot send RESET_OK");
}

/* At most this many OFFERs wait for dec_keys per pool: then refused. */
#define IN_QUEUED_MAX	(2 * WINDOW_MAX)

/* The live connection a job of @p was for, or NULL. */
static struct conn *job_conn(struct pool *p, uint64_t gen)
{
	struct conn *c = p->slave.conn;

	if (c && gen == p->slave.gen && !c->dead && c->state == CONN_OPEN)
		return c;
	return NULL;
}

/*
 * An OFFER goes to the worker even when it is refused at once (JOB_PASS),
 * so that its ACK cannot overtake those of the OFFERs before it.
 */
static void on_offer(struct conn *c, const struct proto_ids *m)
{
	struct pool *p = c->user;
	struct job *j;

	if (p->slave.queued >= IN_QUEUED_MAX) {
		p->st.peer_errors++;
		refuse(c, PROTO_E_PROTO, "too many offers in flight");
		return;
	}
	if (m->seq <= p->slave.aborted_seq || p->slave.reset_due) {
		/* Refused without asking the KME for its keys. */
		j = job_new(JOB_PASS, 0);
		if (j) {
			j->ret = -1;
			snprintf(j->err, sizeof(j->err), p->slave.reset_due ?
				 "offer %llu before the RESET asked for" :
				 "offer %llu was aborted",
				 (unsigned long long)m->seq);
		}
	} else {
		j = job_new(JOB_GET_BY_ID, m->n);
		if (j)
			memcpy(j->names, m->ids, (size_t)m->n * sizeof(m->ids[0]));
	}
	if (!j) {
		refuse(c, PROTO_E_POOL, "out of memory");
		return;
	}
	j->seq = m->seq;
	j->gen = p->slave.gen;
	j->live_gen = &p->slave.gen;
	p->slave.queued++;
	worker_submit(p->worker_in, j);
}

/* dec_keys done (or an OFFER refused in order): add inbound, answer. */
void slave_on_job(struct linkd *d, struct pool *p, struct job *j)
{
	struct conn *c = job_conn(p, j->gen);
	struct proto_ack ack = { .seq = j->seq };
	int ret;

	p->slave.queued--;
	if (!c) {
		log_info("pool %s: offer %llu: its connection is gone or was reset: %s, none added",
			 p->cfg.name, (unsigned long long)j->seq,
			 j->skipped ? "no KME request made" : "its keys wiped");
		goto out;
	}
	if (j->kind == JOB_PASS || p->slave.reset_due) {
		ack.status = PROTO_E_SEQ;
		if (j->kind == JOB_PASS)
			snprintf(ack.text, sizeof(ack.text), "%s", j->err);
		else
			snprintf(ack.text, sizeof(ack.text), "offer %llu before the RESET asked for",
				 (unsigned long long)j->seq);
		goto answer;
	}
	if (j->ret) {
		/* This role's health only: the master's enc_keys may be fine. */
		p->st.kme_errors++;
		p->slave.health.known = true;
		p->slave.health.kme_ok = false;
		health_set_error(&p->slave.health, j->err);
		log_err("pool %s: offer %llu: %s (pool untouched)", p->cfg.name,
			(unsigned long long)j->seq, j->err);
		ack.status = PROTO_E_SOURCE;
		snprintf(ack.text, sizeof(ack.text), "%s", j->err);
		goto answer;
	}
	p->slave.health.known = true;
	p->slave.health.kme_ok = true;
	if (j->seq <= p->slave.aborted_seq) {
		/* Aborted while its keys were being fetched. */
		ack.status = PROTO_E_SEQ;
		snprintf(ack.text, sizeof(ack.text), "offer %llu was aborted",
			 (unsigned long long)j->seq);
		goto answer;
	}
	if (!p->id)
		kernel_sync(d);
	ret = p->id ? qkd_key_add(d->qkd, p->id, QKD_DIRECTION_IN, j->keys,
				  j->n) : -ENOENT;
	/*
	 * A pool created again closes this connection (kernel_sync()): the
	 * master reconnects and both sides reconcile first.
	 */
	if (ret && p->id)
		kernel_check(d, ret);
	if (c->dead)
		goto out;
	if (ret) {
		snprintf(ack.text, sizeof(ack.text), "inbound pool refused the keys: %s%s%s",
			 qkd_strerror(ret), qkd_last_error(d->qkd)[0] ? ": " : "",
			 qkd_last_error(d->qkd));
		log_err("pool %s: offer %llu: %s", p->cfg.name,
			(unsigned long long)j->seq, ack.text);
		ack.status = ret == -ENOSPC ? PROTO_E_FULL : PROTO_E_POOL;
		goto answer;
	}
	p->st.received += j->n;
	log_debug("pool %s: offer %llu: %zu keys added inbound", p->cfg.name,
		  (unsigned long long)j->seq, j->n);
answer:
	if (conn_send(c, frame, proto_encode_ack(&ack, frame, sizeof(frame))))
		conn_close(c, "cannot send ACK");
out:
	job_free(j);
}

static void on_abort(struct linkd *d, struct conn *c,
		     const struct proto_ids *m)
{
	struct pool *p = c->user;
	struct proto_aborted done = { .seq = m->seq };
	struct qkd_key k;

	for (unsigned int i = 0; i < m->n; i++) {
		uint8_t id[QKD_KEY_ID_LEN];
		int ret;

		keyid_to_bytes(&m->ids[i], id);
		ret = qkd_key_take_id(d->qkd, p->id, id, NULL, &k);

		qkd_key_wipe(&k, 1);
		if (!ret)
			done.removed++;
	}
	if (m->seq > p->slave.aborted_seq)
		p->slave.aborted_seq = m->seq;
	p->st.removed += done.removed;
	log_info("pool %s: peer aborted offer %llu: %u of %u keys removed from the inbound side",
		 p->cfg.name, (unsigned long long)m->seq, done.removed, m->n);
	if (conn_send(c, frame,
		      proto_encode_aborted(&done, frame, sizeof(frame))))
		conn_close(c, "cannot send ABORTED");
}

/* OFFER and ABORT IDs, decoded in place of a 33 KiB stack array. */
static struct keyid ids[PROTO_MAX_IDS];

/* An accepted connection's frame: each type decoded by its own decoder. */
static void conn_message(struct conn *c, const struct proto_frame *f)
{
	struct linkd *d = c->ctx;
	struct proto_hello hello;
	struct proto_reset rs;
	struct proto_ids m;

	if (c->state != CONN_OPEN) {
		if (f->type != PROTO_HELLO)
			refuse(c, PROTO_E_PROTO, "expected HELLO");
		else if (proto_decode_hello(f, &hello))
			conn_fault(c, "malformed HELLO");
		else
			on_hello(d, c, &hello);
		return;
	}
	switch (f->type) {
	case PROTO_RELAY:
		/* Before the slave's own frames: no offer, no journal. */
		if (!((struct pool *)c->user)->slave.relay_ok)
			goto unexpected;
		d->relay_frame(d, c->user, f);
		return;
	case PROTO_OFFER:
		if (proto_decode_offer(f, &m, ids))
			break;
		on_offer(c, &m);
		return;
	case PROTO_ABORT:
		if (proto_decode_abort(f, &m, ids))
			break;
		on_abort(d, c, &m);
		return;
	case PROTO_RESET:
		if (proto_decode_reset(f, &rs))
			break;
		on_reset(d, c, &rs);
		return;
	default:
unexpected:
		((struct pool *)c->user)->st.peer_errors++;
		refuse(c, PROTO_E_PROTO, "unexpected frame");
		return;
	}
	conn_fault(c, "malformed frame");
}

static void conn_closed(struct conn *c, bool fault)
{
	struct pool *p = c->user;

	if (!p)
		return;		/* never identified: nobody to count it for */
	if (fault)
		p->st.peer_errors++;
	if (p->slave.conn == c) {
		p->slave.conn = NULL;
		p->slave.connected = false;
		p->slave.relay_ok = false;
		p->slave.gen++;		/* its queued dec_keys: skipped */
	}
}

void slave_pool_recreated(struct pool *p)
{
	/* Its master reconnects; HELLO then finds the pair changed. */
	if (p->slave.conn)
		conn_close(p->slave.conn, "pool created again: reconnecting to reconcile");
}

const struct conn_ops slave_conn_ops = {
	.message = conn_message,
	.closed = conn_closed,
};
