// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Early re-keys of the SAs keyed without QKD when their pool refills (see
 * qkd_restore.h); the bookkeeping and the rate limiter are qkd_fallbacks.c.
 */
#include "qkd_restore.h"
#include "qkd_fallbacks.h"

#include <daemon.h>
#include <threading/mutex.h>
#include <collections/linked_list.h>
#include <processing/jobs/rekey_child_sa_job.h>
#include <processing/jobs/rekey_ike_sa_job.h>
#include <processing/jobs/callback_job.h>

/**
 * SAs recorded at most; beyond, a fallback is logged but not restored.
 */
#define QKD_RESTORE_MAX		65536

/**
 * Default of charon.plugins.qkd.restore_rate: re-keys per second.
 */
#define QKD_RESTORE_RATE	10

/**
 * Milliseconds the router that did not initiate the IKE_SA waits before its
 * own early re-key of an SA.  Both routers see their pools refill at about
 * the same moment (qkd-linkd fills both within one offer); were both to
 * re-key the same SA at once, the exchanges would collide and each would
 * burn a key each way.  The wait lets the original initiator go first: its
 * re-key removes the SA from the book here, and the deferred one is dropped.
 */
#define QKD_RESTORE_DEFER_MS	2000

typedef struct private_qkd_restore_t private_qkd_restore_t;

/**
 * Private data.
 */
struct private_qkd_restore_t {

	/**
	 * Public interface.
	 */
	qkd_restore_t public;

	/**
	 * The SAs keyed without QKD.
	 */
	struct qkd_fallbacks_book book;

	/**
	 * Serializes book.
	 */
	mutex_t *mutex;
};

/**
 * What it takes to re-key one recorded SA, and to name it in the log.
 */
typedef struct {
	/** IKE_SA: its ID; NULL for a CHILD_SA */
	ike_sa_id_t *ike_id;
	/** CHILD_SA: protocol, inbound SPI and our address */
	protocol_id_t protocol;
	uint32_t spi;
	host_t *dst;
	/** "name[uid]" / "name{uid}" */
	char *name;
	/** we did not initiate the IKE_SA: let the peer re-key first */
	bool defer;
} entry_data_t;

static void entry_data_destroy(void *p)
{
	entry_data_t *data = p;

	DESTROY_IF(data->ike_id);
	DESTROY_IF(data->dst);
	free(data->name);
	free(data);
}

/**
 * A re-key to start, collected under the mutex, started after it.
 */
typedef struct {
	job_t *job;
	uint32_t delay_ms;
	bool ike;
	bool defer;
	uint32_t uid;
	char *name;
} pending_t;

/**
 * A re-key deferred for the peer to go first (QKD_RESTORE_DEFER_MS).
 */
typedef struct {
	private_qkd_restore_t *this;
	enum qkd_fallbacks_kind kind;
	uint32_t uid;
	job_t *job;
	char *name;
} deferred_t;

static void deferred_destroy(deferred_t *d)
{
	if (d->job)
	{
		d->job->destroy(d->job);
	}
	free(d->name);
	free(d);
}

/**
 * The deferred re-key is due: start it unless the SA left the book
 * meanwhile (re-keyed by the peer, or gone).
 */
static job_requeue_t deferred_run(deferred_t *d)
{
	private_qkd_restore_t *this = d->this;
	bool still;

	this->mutex->lock(this->mutex);
	still = qkd_fallbacks_find(&this->book, d->kind, d->uid) != NULL;
	this->mutex->unlock(this->mutex);
	if (still)
	{
		DBG1(DBG_IKE, "qkd: the peer did not re-key %s: re-keying it here",
			 d->name);
		lib->processor->queue_job(lib->processor, d->job);
		d->job = NULL;
	}
	else
	{
		DBG2(DBG_IKE, "qkd: %s was re-keyed by the peer", d->name);
	}
	return JOB_REQUEUE_NONE;
}

/**
 * qkd_fallbacks_rekey_fn: create the re-key job of one SA.
 */
static void collect(void *ctx, const struct qkd_fallbacks_entry *e, uint32_t delay_ms)
{
	linked_list_t *list = ctx;
	entry_data_t *data = e->data;
	pending_t *p;

	if (!data)
	{
		return;
	}
	INIT(p,
		.delay_ms = delay_ms,
		.ike = e->kind == QKD_FALLBACKS_IKE,
		.defer = data->defer,
		.uid = e->uid,
		.name = strdup(data->name),
	);
	if (p->ike)
	{
		p->job = (job_t*)rekey_ike_sa_job_create(data->ike_id, FALSE);
	}
	else
	{
		p->job = (job_t*)rekey_child_sa_job_create(data->protocol, data->spi,
												   data->dst);
	}
	list->insert_last(list, p);
}

static uint64_t now_ms(void)
{
	timeval_t tv;

	time_monotonic(&tv);
	return (uint64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/**
 * Re-key @pool's SAs keyed without QKD; @why names the occasion in the log
 * ("refilled", "authenticated").
 */
static void rekey_pool(private_qkd_restore_t *this, const char *pool,
					   const char *why)
{
	linked_list_t *list = linked_list_create();
	pending_t *p;
	int rate;
	size_t n;

	rate = lib->settings->get_int(lib->settings, "%s.plugins.qkd.restore_rate",
								  QKD_RESTORE_RATE, lib->ns);
	this->mutex->lock(this->mutex);
	n = qkd_fallbacks_refill(&this->book, pool, now_ms(), rate > 0 ? rate : 0,
				   collect, list);
	this->mutex->unlock(this->mutex);

	if (rate <= 0)
	{
		DBG1(DBG_IKE, "qkd: pool '%s' %s; early re-keys are disabled "
			 "(restore_rate = 0)", pool, why);
	}
	else if (!n)
	{
		/* the usual case: every SA of the pool is keyed with QKD */
		DBG2(DBG_IKE, "qkd: pool '%s' %s: no SA keyed without QKD",
			 pool, why);
	}
	else
	{
		DBG1(DBG_IKE, "qkd: pool '%s' %s: re-keying %zu SAs keyed "
			 "without QKD", pool, why, n);
	}
	while (list->remove_first(list, (void**)&p) == SUCCESS)
	{
		if (p->defer)
		{
			deferred_t *d;

			DBG1(DBG_IKE, "qkd: re-keying %s %s keyed without QKD (pool '%s') "
				 "in %u ms unless the peer does first", p->ike ? "IKE_SA"
				 : "CHILD_SA", p->name, pool,
				 p->delay_ms + QKD_RESTORE_DEFER_MS);
			INIT(d,
				.this = this,
				.kind = p->ike ? QKD_FALLBACKS_IKE : QKD_FALLBACKS_CHILD,
				.uid = p->uid,
				.job = p->job,
				.name = p->name,
			);
			lib->scheduler->schedule_job_ms(lib->scheduler,
					(job_t*)callback_job_create((callback_job_cb_t)deferred_run,
						d, (callback_job_cleanup_t)deferred_destroy, NULL),
					p->delay_ms + QKD_RESTORE_DEFER_MS);
			free(p);
			continue;
		}
		DBG1(DBG_IKE, "qkd: re-keying %s %s keyed without QKD (pool '%s') "
			 "in %u ms", p->ike ? "IKE_SA" : "CHILD_SA", p->name, pool,
			 p->delay_ms);
		if (p->delay_ms)
		{
			lib->scheduler->schedule_job_ms(lib->scheduler, p->job,
											p->delay_ms);
		}
		else
		{
			lib->processor->queue_job(lib->processor, p->job);
		}
		free(p->name);
		free(p);
	}
	list->destroy(list);
}

/**
 * Record an SA; with the data the re-key needs.
 */
static void add(private_qkd_restore_t *this, enum qkd_fallbacks_kind kind, uint32_t uid,
				const char *pool, entry_data_t *data)
{
	int err;

	this->mutex->lock(this->mutex);
	err = qkd_fallbacks_add(&this->book, kind, uid, pool, data);
	this->mutex->unlock(this->mutex);
	if (err)
	{
		DBG1(DBG_IKE, "qkd: cannot record an SA keyed without QKD (pool "
			 "'%s'): %s", pool, strerror(-err));
	}
}

METHOD(qkd_restore_t, add_ike, void,
	private_qkd_restore_t *this, ike_sa_t *ike_sa, const char *pool)
{
	entry_data_t *data;

	INIT(data,
		.ike_id = ike_sa->get_id(ike_sa)->clone(ike_sa->get_id(ike_sa)),
		.defer = !ike_sa->has_condition(ike_sa, COND_ORIGINAL_INITIATOR),
	);
	if (asprintf(&data->name, "%s[%u]", ike_sa->get_name(ike_sa),
				 ike_sa->get_unique_id(ike_sa)) < 0)
	{
		data->name = strdup("?");
	}
	add(this, QKD_FALLBACKS_IKE, ike_sa->get_unique_id(ike_sa), pool, data);
}

METHOD(qkd_restore_t, add_child, void,
	private_qkd_restore_t *this, ike_sa_t *ike_sa, child_sa_t *child_sa,
	const char *pool)
{
	entry_data_t *data;

	/* rekey_child_sa_job finds the SA by protocol, inbound SPI and its
	 * destination, our address (as vici's rekey does) */
	INIT(data,
		.protocol = child_sa->get_protocol(child_sa),
		.spi = child_sa->get_spi(child_sa, TRUE),
		.dst = ike_sa->get_my_host(ike_sa)->clone(ike_sa->get_my_host(ike_sa)),
		.defer = !ike_sa->has_condition(ike_sa, COND_ORIGINAL_INITIATOR),
	);
	if (asprintf(&data->name, "%s{%u}", child_sa->get_name(child_sa),
				 child_sa->get_unique_id(child_sa)) < 0)
	{
		data->name = strdup("?");
	}
	add(this, QKD_FALLBACKS_CHILD, child_sa->get_unique_id(child_sa), pool, data);
}

METHOD(qkd_restore_t, remove_, void,
	private_qkd_restore_t *this, bool ike, uint32_t uid)
{
	this->mutex->lock(this->mutex);
	qkd_fallbacks_remove(&this->book, ike ? QKD_FALLBACKS_IKE : QKD_FALLBACKS_CHILD, uid);
	this->mutex->unlock(this->mutex);
}

METHOD(qkd_restore_t, get_ike_pool, bool,
	private_qkd_restore_t *this, uint32_t uid, char *pool, size_t len)
{
	const struct qkd_fallbacks_entry *e;
	bool found = FALSE;

	this->mutex->lock(this->mutex);
	e = qkd_fallbacks_find(&this->book, QKD_FALLBACKS_IKE, uid);
	if (e && len)
	{
		snprintf(pool, len, "%s", e->pool);
		found = TRUE;
	}
	this->mutex->unlock(this->mutex);
	return found;
}

METHOD(qkd_restore_t, refilled, void,
	private_qkd_restore_t *this, const char *pool)
{
	rekey_pool(this, pool, "refilled");
}

METHOD(qkd_restore_t, authenticated, void,
	private_qkd_restore_t *this, const char *pool)
{
	rekey_pool(this, pool, "now known as the authenticated peer's");
}

METHOD(qkd_restore_t, destroy, void,
	private_qkd_restore_t *this)
{
	qkd_fallbacks_destroy(&this->book);
	this->mutex->destroy(this->mutex);
	free(this);
}

/*
 * Described in header
 */
qkd_restore_t *qkd_restore_create(void)
{
	private_qkd_restore_t *this;

	INIT(this,
		.public = {
			.add_ike = _add_ike,
			.add_child = _add_child,
			.remove = _remove_,
			.get_ike_pool = _get_ike_pool,
			.refilled = _refilled,
			.authenticated = _authenticated,
			.destroy = _destroy,
		},
		.mutex = mutex_create(MUTEX_TYPE_DEFAULT),
	);
	qkd_fallbacks_init(&this->book, QKD_RESTORE_MAX, entry_data_destroy);
	return &this->public;
}
