// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The charon plugin "qkd": registers the `qkd` key exchange method (with
 * its proposal keyword); its listener accounts which key keyed which SA and
 * re-keys the SAs keyed without QKD early once their pool refills.  ML-KEM
 * is another plugin (qkd-mlkem), loaded only where strongSwan lacks it.
 */
#include "qkd_plugin.h"
#include "qkd_plugin_define.h"
#include "qkd_ke.h"
#include "qkd_kernel.h"
#include "qkd_peers.h"
#include "qkd_account.h"
#include "qkd_restore.h"
#include "qkd_config_check.h"

#include <daemon.h>

typedef struct private_qkd_plugin_t private_qkd_plugin_t;

/**
 * Private data.
 */
struct private_qkd_plugin_t {

	/**
	 * Public interface.
	 */
	qkd_plugin_t public;

	/**
	 * The qkdpool module: every netlink handle.
	 */
	qkd_kernel_t *kernel;

	/**
	 * Early re-keys of SAs keyed without QKD.
	 */
	qkd_restore_t *restore;

	/**
	 * The accounting listener.
	 */
	qkd_account_t *account;

	/**
	 * Warnings about unsafe configs.
	 */
	qkd_config_check_t *config_check;

	/**
	 * The feature table: the methods' IDs are settings.  The combined
	 * ones depend on their ML-KEM method (qkd-mlkem, openssl or ml).
	 */
	plugin_feature_t features[16];

	/**
	 * Entries used in features.
	 */
	int count;
};

METHOD(plugin_t, get_name, char*,
	private_qkd_plugin_t *this)
{
	return "qkd";
}

/**
 * The kernel's refill callback: re-key the pool's SAs keyed without QKD.
 */
static void on_refill(void *ctx, const char *pool)
{
	qkd_restore_t *restore = ctx;

	restore->refilled(restore, pool);
}

/**
 * Set up or tear down the qkd method's pool backend.
 */
static bool register_qkd(private_qkd_plugin_t *this,
						 plugin_feature_t *feature, bool reg, void *data)
{
	if (reg)
	{
		qkd_peers_init();
		this->kernel = qkd_kernel_create();
		qkd_ke_set_kernel(this->kernel);
		this->restore = qkd_restore_create();
		this->kernel->set_refill_cb(this->kernel, on_refill, this->restore);
		this->account = qkd_account_create(this->restore, this->kernel);
		charon->bus->add_listener(charon->bus, &this->account->listener);
		this->config_check = qkd_config_check_create();
	}
	else
	{
		/* the mirror image of the set-up; the kernel goes before the
		 * restore service: destroying it waits for its watcher callbacks,
		 * which call into the restore service */
		DESTROY_IF(this->config_check);
		this->config_check = NULL;
		if (this->account)
		{
			charon->bus->remove_listener(charon->bus,
										 &this->account->listener);
		}
		qkd_ke_set_kernel(NULL);
		DESTROY_IF(this->kernel);
		this->kernel = NULL;
		DESTROY_IF(this->account);
		this->account = NULL;
		DESTROY_IF(this->restore);
		this->restore = NULL;
		qkd_peers_deinit();
	}
	return TRUE;
}

METHOD(plugin_t, get_features, int,
	private_qkd_plugin_t *this, plugin_feature_t *features[])
{
	*features = this->features;
	return this->count;
}

METHOD(plugin_t, destroy, void,
	private_qkd_plugin_t *this)
{
	free(this);
}

/*
 * Described in header
 */
PLUGIN_DEFINE(qkd)
{
	private_qkd_plugin_t *this;
	const qkd_ke_method_t *methods;
	plugin_feature_t *f;
	int i, n;

	n = qkd_ke_methods(&methods);
	INIT(this,
		.public = {
			.plugin = {
				.get_name = _get_name,
				.get_features = _get_features,
				.destroy = _destroy,
			},
		},
	);
	f = this->features;
	*f++ = PLUGIN_CALLBACK((plugin_feature_callback_t)register_qkd, NULL);
	*f++ = PLUGIN_PROVIDE(CUSTOM, "qkd-kernel");
	*f++ = PLUGIN_REGISTER(KE, qkd_ke_create);
	for (i = 0; i < n; i++)
	{
		if (!methods[i].method)
		{
			continue;
		}
		/* the keyword is registered before any proposal is parsed */
		lib->proposal->register_token(lib->proposal, (char*)methods[i].token,
									  KEY_EXCHANGE_METHOD, methods[i].method, 0);
		*f++ = PLUGIN_PROVIDE(KE, methods[i].method);
		*f++ = PLUGIN_DEPENDS(CUSTOM, "qkd-kernel");
		if (methods[i].mlkem != KE_NONE)
		{
			*f++ = PLUGIN_DEPENDS(KE, methods[i].mlkem);
		}
		DBG2(DBG_CFG, "qkd: key exchange method %d, keyword '%s'",
			 methods[i].method, methods[i].token);
	}
	this->count = f - this->features;
	return &this->public.plugin;
}
