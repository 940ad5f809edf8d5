// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel backend of the qkd key exchange: takes keys from the qkdpool
 * module's pools through libqkd.
 */
#include "qkd_pools.h"

#include <errno.h>

#include <library.h>
#include <utils/debug.h>
#include <threading/mutex.h>

typedef struct private_qkd_pools_t private_qkd_pools_t;

/**
 * Private data.
 */
struct private_qkd_pools_t {

	/**
	 * Public interface.
	 */
	qkd_pools_t public;

	/**
	 * libqkd handle, NULL until first use or after an error.
	 */
	struct qkd *handle;

	/**
	 * Serializes every use of handle.
	 */
	mutex_t *mutex;

	/**
	 * A failed report was logged; quiet until one succeeds again.
	 */
	bool report_failing;
};

/**
 * Get an open handle; with mutex held.
 */
static struct qkd *get_handle(private_qkd_pools_t *this, int *err)
{
	if (!this->handle)
	{
		*err = qkd_open(&this->handle);
		if (*err)
		{
			DBG1(DBG_IKE, "qkd: opening the qkd netlink family failed: %s%s",
				 qkd_strerror(*err), *err == -ENOENT ?
				 " (qkdpool module not loaded?)" : "");
			this->handle = NULL;
			/* the family missing is a pool error, not an unknown key */
			*err = -EIO;
		}
	}
	return this->handle;
}

/**
 * Pass @err on; close the handle after a failure that may have left it
 * unusable (not after an answer: no key, a bad tag, no such pool).
 */
static int check(private_qkd_pools_t *this, int err)
{
	if (err && err != -ENOENT && err != -EKEYREJECTED && err != -ENODEV)
	{
		qkd_close(this->handle);
		this->handle = NULL;
	}
	return err;
}

/**
 * Find a pool's ID by name; -ENODEV when there is none.
 */
static int pool_id(private_qkd_pools_t *this, const char *pool, uint32_t *id)
{
	struct qkd_pool_info info;
	int err;

	err = qkd_pool_get(this->handle, 0, pool, &info);
	if (err == -ENOENT)
	{
		return -ENODEV;
	}
	if (err)
	{
		DBG1(DBG_IKE, "qkd: looking up pool '%s' failed: %s %s", pool,
			 qkd_strerror(err), qkd_last_error(this->handle));
		return err;
	}
	*id = info.id;
	return 0;
}

/**
 * Open the handle if needed and find @pool's ID; with mutex held.
 */
static int lookup(private_qkd_pools_t *this, const char *pool, uint32_t *id)
{
	int err;

	if (!get_handle(this, &err))
	{
		return err;
	}
	return check(this, pool_id(this, pool, id));
}

static int take_next(void *ctx, const char *pool, struct qkd_key *key)
{
	private_qkd_pools_t *this = ctx;
	uint32_t id;
	int err;

	this->mutex->lock(this->mutex);
	err = lookup(this, pool, &id);
	if (!err)
	{
		err = check(this, qkd_key_take_next(this->handle, id, key));
	}
	this->mutex->unlock(this->mutex);
	return err;
}

static int take_id(void *ctx, const char *pool,
				   const uint8_t key_id[QKD_KEY_ID_LEN],
				   const uint8_t tag[QKD_TAG_LEN], struct qkd_key *key)
{
	private_qkd_pools_t *this = ctx;
	uint32_t id;
	int err;

	this->mutex->lock(this->mutex);
	err = lookup(this, pool, &id);
	if (!err)
	{
		err = check(this, qkd_key_take_id(this->handle, id, key_id, tag,
										  key));
	}
	this->mutex->unlock(this->mutex);
	return err;
}

static int report(void *ctx, const char *pool, uint32_t outcome)
{
	private_qkd_pools_t *this = ctx;
	uint32_t id;
	int err;

	this->mutex->lock(this->mutex);
	err = lookup(this, pool, &id);
	if (!err)
	{
		err = check(this, qkd_ke_report(this->handle, id, outcome));
	}
	/* the counters are for the operator; the exchange goes on: log the
	 * first failure of a run at level 1, the rest at level 2 */
	if (err && !this->report_failing)
	{
		DBG1(DBG_IKE, "qkd: counting the key exchange in pool '%s' failed: "
			 "%s (further failures at level 2)", pool, qkd_strerror(err));
	}
	else if (err)
	{
		DBG2(DBG_IKE, "qkd: counting the key exchange in pool '%s' failed: "
			 "%s", pool, qkd_strerror(err));
	}
	this->report_failing = err != 0;
	this->mutex->unlock(this->mutex);
	return err;
}

static const struct qke_pool_ops kernel_ops = {
	.take_next = take_next,
	.take_id = take_id,
	.report = report,
};

METHOD(qkd_pools_t, destroy, void,
	private_qkd_pools_t *this)
{
	qkd_close(this->handle);
	this->mutex->destroy(this->mutex);
	free(this);
}

/*
 * Described in header
 */
qkd_pools_t *qkd_pools_create(void)
{
	private_qkd_pools_t *this;

	INIT(this,
		.public = {
			.ops = &kernel_ops,
			.destroy = _destroy,
		},
		.mutex = mutex_create(MUTEX_TYPE_DEFAULT),
	);
	return &this->public;
}
