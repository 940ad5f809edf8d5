// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The plugin's only link to the qkdpool module (see qkd_kernel.h): the
 * request and notification handles, and noticing a module reload.
 */
#include "qkd_kernel.h"
#include "qkd_timer.h"

#include <errno.h>
#include <unistd.h>

#include <library.h>
#include <utils/debug.h>
#include <threading/mutex.h>
#include <collections/linked_list.h>

/**
 * How often the family is checked (and a missing handle retried), ms.  A
 * reloaded module is noticed within this time even with no exchange.
 */
#define QKD_KERNEL_CHECK_MS	2000

typedef struct private_qkd_kernel_t private_qkd_kernel_t;

/**
 * Private data.
 */
struct private_qkd_kernel_t {

	/**
	 * Public interface.
	 */
	qkd_kernel_t public;

	/**
	 * Request handle; NULL until first use or after an error.  mutex.
	 */
	struct qkd *req;

	/**
	 * Notification handle, on lib->watcher; NULL while not open.  mutex.
	 */
	struct qkd *ntf;

	/**
	 * A notification handle the watcher dropped after an error, closed by
	 * the next check (not while the watcher may still poll it).  mutex.
	 */
	struct qkd *dead;

	/**
	 * The family ID last seen registered, 0 while the module is not
	 * loaded (or not yet seen).  mutex.
	 */
	uint16_t family;

	/**
	 * The module was seen loaded once: its absence is news.  mutex.
	 */
	bool seen;

	/**
	 * The first check (at creation) is done: later changes are news.
	 */
	bool checked;

	/**
	 * A failed report was logged; quiet until one succeeds again.  mutex.
	 */
	bool report_failing;

	/**
	 * The periodic check's timerfd, on lib->watcher.
	 */
	int timer;

	/**
	 * Refill callback and its context.  mutex.
	 */
	qkd_kernel_refill_cb_t refill_cb;
	void *refill_ctx;

	/**
	 * Serializes the handles and the state above.
	 */
	mutex_t *mutex;
};

/**
 * Get the open request handle, opening it if needed; with mutex held.
 * The module missing is a pool error, not an unknown key: -EIO.
 */
static struct qkd *get_req(private_qkd_kernel_t *this, int *err)
{
	*err = 0;
	if (!this->req)
	{
		*err = qkd_open(&this->req);
		if (*err)
		{
			DBG2(DBG_IKE, "qkd: opening the qkd netlink family failed: %s",
				 qkd_strerror(*err));
			this->req = NULL;
			*err = -EIO;
		}
	}
	return this->req;
}

/**
 * Pass @err on; close the request handle after a failure that may have
 * left it unusable (not after an answer: no key, a bad tag, no such pool).
 */
static int check_err(private_qkd_kernel_t *this, int err)
{
	if (err && err != -ENOENT && err != -EKEYREJECTED && err != -ENODEV)
	{
		qkd_close(this->req);
		this->req = NULL;
	}
	return err;
}

/**
 * Whether the request handle's family is stale (the module was reloaded);
 * then it is closed, to be reopened.  With mutex held.
 */
static bool req_stale(private_qkd_kernel_t *this)
{
	uint16_t family;
	int err;

	if (!this->req)
	{
		return FALSE;
	}
	err = qkd_family_resolve(this->req, &family);
	if (!err && family == qkd_family(this->req))
	{
		return FALSE;
	}
	DBG2(DBG_IKE, "qkd: the qkd netlink family %s: reopening the request "
		 "handle", err ? "is gone" : "was registered again");
	qkd_close(this->req);
	this->req = NULL;
	return TRUE;
}

/**
 * Find a pool's ID by name, with mutex held.  -ENODEV when there is none.
 * A pool not found may be a reloaded module: then the handle is reopened
 * and the lookup retried once.
 */
static int pool_id(private_qkd_kernel_t *this, const char *pool, uint32_t *id)
{
	struct qkd_pool_info info;
	int err, tries;

	for (tries = 0; tries < 2; tries++)
	{
		if (!get_req(this, &err))
		{
			return err;
		}
		err = qkd_pool_get(this->req, 0, pool, &info);
		if (!err)
		{
			*id = info.id;
			return 0;
		}
		if (err != -ENOENT)
		{
			DBG1(DBG_IKE, "qkd: looking up pool '%s' failed: %s %s", pool,
				 qkd_strerror(err), qkd_last_error(this->req));
			return check_err(this, err);
		}
		if (!req_stale(this))
		{
			break;
		}
	}
	return -ENODEV;
}

static int take_next(void *ctx, const char *pool, struct qkd_key *key)
{
	private_qkd_kernel_t *this = ctx;
	uint32_t id;
	int err;

	this->mutex->lock(this->mutex);
	err = pool_id(this, pool, &id);
	if (!err)
	{
		err = check_err(this, qkd_key_take_next(this->req, id, key));
	}
	this->mutex->unlock(this->mutex);
	return err;
}

static int take_id(void *ctx, const char *pool,
				   const uint8_t key_id[QKD_KEY_ID_LEN],
				   const uint8_t tag[QKD_TAG_LEN], struct qkd_key *key)
{
	private_qkd_kernel_t *this = ctx;
	uint32_t id;
	int err;

	this->mutex->lock(this->mutex);
	err = pool_id(this, pool, &id);
	if (!err)
	{
		err = check_err(this, qkd_key_take_id(this->req, id, key_id, tag,
											  key));
	}
	this->mutex->unlock(this->mutex);
	return err;
}

/**
 * Count an outcome, in @pool or (pool NULL) in the namespace's counters
 * of exchanges with no pool.
 */
static int report(void *ctx, const char *pool, uint32_t outcome,
				  uint32_t reason)
{
	private_qkd_kernel_t *this = ctx;
	uint32_t id = 0;
	int err = 0;

	this->mutex->lock(this->mutex);
	if (pool)
	{
		err = pool_id(this, pool, &id);
	}
	else
	{
		/* no pool: the namespace's counters; err set if no handle */
		get_req(this, &err);
	}
	if (!err)
	{
		err = check_err(this, qkd_ke_report_reason(this->req, id, outcome,
												   reason));
	}
	/* the counters are for the operator; the exchange goes on.  A pool
	 * that is gone (deleted, module unloaded) is not news here: the
	 * exchange's own log line says "no pool" */
	if (err && err != -ENODEV && !this->report_failing)
	{
		DBG1(DBG_IKE, "qkd: counting the key exchange in %s%s%s failed: %s "
			 "(further failures at level 2)", pool ? "pool '" : "the "
			 "namespace", pool ?: "", pool ? "'" : "", qkd_strerror(err));
	}
	else if (err)
	{
		DBG2(DBG_IKE, "qkd: counting the key exchange in pool '%s' failed: "
			 "%s", pool ?: "(none)", qkd_strerror(err));
	}
	this->report_failing = err && err != -ENODEV;
	this->mutex->unlock(this->mutex);
	return err;
}

static const struct qkd_proto_pool_ops kernel_ops = {
	.take_next = take_next,
	.take_id = take_id,
	.report = report,
};

/**
 * Call the refill callback for each name in @pools, and free them.
 */
static void call_refills(private_qkd_kernel_t *this, linked_list_t *pools)
{
	qkd_kernel_refill_cb_t cb;
	void *ctx;
	char *pool;

	this->mutex->lock(this->mutex);
	cb = this->refill_cb;
	ctx = this->refill_ctx;
	this->mutex->unlock(this->mutex);
	while (pools->remove_first(pools, (void**)&pool) == SUCCESS)
	{
		if (cb)
		{
			cb(ctx, pool);
		}
		free(pool);
	}
	pools->destroy(pools);
}

/**
 * Watcher callback: read every queued notification.  Refills are
 * reported after the mutex is released: the callback queues re-keys.
 */
static bool on_notification(private_qkd_kernel_t *this, int fd,
							watcher_event_t event)
{
	struct qkd_notification ntf;
	linked_list_t *pools = linked_list_create();
	bool keep = TRUE;
	int err;

	/* every queued notification: libqkd may hold several of one datagram,
	 * and the watcher calls again only when the socket has more */
	this->mutex->lock(this->mutex);
	if (!this->ntf || qkd_fd(this->ntf) != fd)
	{
		keep = FALSE;
	}
	while (keep)
	{
		err = qkd_notification_recv(this->ntf, &ntf, QKD_NONBLOCK);
		if (err == -EAGAIN || err == -EINTR)
		{
			break;
		}
		if (err == -ENOBUFS)
		{
			/* lost: a refill among them is restored by the next one */
			DBG1(DBG_IKE, "qkd: pool notifications were lost (socket buffer "
				 "overflow)");
			continue;
		}
		if (err)
		{
			DBG1(DBG_IKE, "qkd: reading pool notifications failed: %s; "
				 "reopening", qkd_strerror(err));
			/* the watcher drops the fd when we return FALSE */
			this->dead = this->ntf;
			this->ntf = NULL;
			keep = FALSE;
			break;
		}
		if (ntf.event == QKD_EVENT_REFILLED &&
			ntf.direction == QKD_DIRECTION_OUT && ntf.name[0])
		{
			pools->insert_last(pools, strdup(ntf.name));
		}
	}
	this->mutex->unlock(this->mutex);
	call_refills(this, pools);
	return keep;
}

/**
 * The pools whose outbound side holds keys above its low watermark, into
 * @pools; with mutex held and the request handle open.
 */
static void collect_filled(private_qkd_kernel_t *this, linked_list_t *pools)
{
	struct qkd_pool_info *info;
	size_t n, i;

	if (qkd_pool_list_alloc(this->req, &info, &n) != 0)
	{
		return;
	}
	for (i = 0; i < n; i++)
	{
		if (info[i].dir[QKD_DIRECTION_OUT].level &&
			info[i].dir[QKD_DIRECTION_OUT].state == QKD_STATE_OK)
		{
			pools->insert_last(pools, strdup(info[i].name));
		}
	}
	free(info);
}

/**
 * Take the notification handle off the watcher and close it, along with a
 * dead one.  Without the mutex: watcher->remove() waits for a running
 * callback, which takes it.
 */
static void drop_ntf(private_qkd_kernel_t *this)
{
	struct qkd *old, *dead;

	this->mutex->lock(this->mutex);
	old = this->ntf;
	dead = this->dead;
	this->ntf = this->dead = NULL;
	this->mutex->unlock(this->mutex);
	if (old)
	{
		lib->watcher->remove(lib->watcher, qkd_fd(old));
		qkd_close(old);
	}
	qkd_close(dead);
}

/**
 * Open and subscribe a notification handle and put it on the watcher.
 */
static bool open_ntf(private_qkd_kernel_t *this)
{
	struct qkd *h;
	int err;

	err = qkd_open(&h);
	if (!err)
	{
		err = qkd_subscribe(h);
		if (err)
		{
			qkd_close(h);
		}
	}
	if (err)
	{
		DBG2(DBG_IKE, "qkd: pool notifications unavailable: %s",
			 qkd_strerror(err));
		return FALSE;
	}
	this->mutex->lock(this->mutex);
	this->ntf = h;
	this->mutex->unlock(this->mutex);
	lib->watcher->add(lib->watcher, qkd_fd(h), WATCHER_READ,
					  (watcher_cb_t)on_notification, this);
	return TRUE;
}

/**
 * Compare the family's current ID with the handles' and act on a change:
 * the module loaded, gone or reloaded.
 */
static void check_family(private_qkd_kernel_t *this)
{
	linked_list_t *pools = linked_list_create();
	uint16_t family = 0, was;
	bool ntf_ok, back = FALSE;
	int err;

	this->mutex->lock(this->mutex);
	was = this->family;
	if (get_req(this, &err))
	{
		err = qkd_family_resolve(this->req, &family);
		if (!err && family != qkd_family(this->req))
		{
			/* re-registered: the request handle speaks to no one */
			qkd_close(this->req);
			this->req = NULL;
			if (get_req(this, &err))
			{
				err = qkd_family_resolve(this->req, &family);
			}
		}
		if (err)
		{
			family = 0;
			qkd_close(this->req);
			this->req = NULL;
		}
	}
	this->family = family;
	ntf_ok = this->ntf && !this->dead && qkd_family(this->ntf) == family;
	if (family && family != was)
	{
		back = this->seen;
		this->seen = TRUE;
		if (back || was)
		{
			collect_filled(this, pools);
		}
	}
	this->mutex->unlock(this->mutex);

	if (!family && was)
	{
		DBG1(DBG_IKE, "qkd: the qkdpool module is gone (its netlink family "
			 "is unregistered): key exchanges go on without QKD keys until "
			 "it is loaded again");
	}
	if (!family || !ntf_ok)
	{
		drop_ntf(this);
	}
	if (family && !ntf_ok && !open_ntf(this))
	{
		family = 0;
	}
	if (family && family != was)
	{
		if (back || was)
		{
			DBG1(DBG_IKE, "qkd: the qkdpool module is back (netlink family "
				 "%u, was %u): pool requests and notifications reopened, %d "
				 "pools with keys", family, was, pools->get_count(pools));
		}
		else if (this->checked)
		{
			/* charon started first: the operator was told it was not */
			DBG1(DBG_IKE, "qkd: the qkdpool module is loaded (netlink family "
				 "%u): QKD keys from its pools from now on", family);
		}
		else
		{
			DBG2(DBG_IKE, "qkd: watching the qkdpool module's pools "
				 "(netlink family %u)", family);
		}
	}
	call_refills(this, pools);
	this->checked = TRUE;
}

/**
 * Watcher callback of the timerfd: the periodic family check.
 */
static bool on_timer(private_qkd_kernel_t *this, int fd, watcher_event_t event)
{
	if (!qkd_timer_ack(fd))
	{
		DBG1(DBG_IKE, "qkd: reading the check timer failed: %s",
			 strerror(errno));
	}
	check_family(this);
	return TRUE;
}

METHOD(qkd_kernel_t, set_refill_cb, void,
	private_qkd_kernel_t *this, qkd_kernel_refill_cb_t cb, void *ctx)
{
	this->mutex->lock(this->mutex);
	this->refill_cb = cb;
	this->refill_ctx = ctx;
	this->mutex->unlock(this->mutex);
}

METHOD(qkd_kernel_t, destroy, void,
	private_qkd_kernel_t *this)
{
	if (this->timer >= 0)
	{
		lib->watcher->remove(lib->watcher, this->timer);
		close(this->timer);
	}
	drop_ntf(this);
	qkd_close(this->req);
	this->mutex->destroy(this->mutex);
	free(this);
}

/*
 * Described in header
 */
qkd_kernel_t *qkd_kernel_create(void)
{
	private_qkd_kernel_t *this;

	INIT(this,
		.public = {
			.ops = &kernel_ops,
			.set_refill_cb = _set_refill_cb,
			.destroy = _destroy,
		},
		.mutex = mutex_create(MUTEX_TYPE_DEFAULT),
		.timer = qkd_timer_create(QKD_KERNEL_CHECK_MS, QKD_KERNEL_CHECK_MS),
	);
	check_family(this);
	if (!this->family)
	{
		/* charon may start before the module is loaded: say so once */
		DBG1(DBG_IKE, "qkd: the qkdpool module is not loaded: key exchanges "
			 "go on without QKD keys until it is (checked every %u s)",
			 QKD_KERNEL_CHECK_MS / 1000);
	}
	if (this->timer < 0)
	{
		DBG1(DBG_IKE, "qkd: no check timer (%s): a reloaded qkdpool module is "
			 "noticed only when a pool is not found", strerror(errno));
	}
	else
	{
		lib->watcher->add(lib->watcher, this->timer, WATCHER_READ,
						  (watcher_cb_t)on_timer, this);
	}
	return &this->public;
}
