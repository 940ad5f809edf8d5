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
#include "qkd_pools.h"
#include "qkd_account.h"
#include "qkd_restore.h"

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
	 * The kernel pools.
	 */
	qkd_pools_t *pools;

	/**
	 * Early re-keys of SAs keyed without QKD.
	 */
	qkd_restore_t *restore;

	/**
	 * The accounting listener.
	 */
	qkd_account_t *account;
};

METHOD(plugin_t, get_name, char*,
	private_qkd_plugin_t *this)
{
	return "qkd";
}

/**
 * Set up or tear down the qkd method's pool backend.
 */
static bool register_qkd(private_qkd_plugin_t *this,
						 plugin_feature_t *feature, bool reg, void *data)
{
	if (reg)
	{
		this->pools = qkd_pools_create();
		qkd_ke_set_pools(this->pools);
		this->restore = qkd_restore_create();
		this->account = qkd_account_create(this->restore);
		charon->bus->add_listener(charon->bus, &this->account->listener);
	}
	else
	{
		if (this->account)
		{
			charon->bus->remove_listener(charon->bus,
										 &this->account->listener);
		}
		DESTROY_IF(this->account);
		DESTROY_IF(this->restore);
		this->account = NULL;
		this->restore = NULL;
		qkd_ke_set_pools(NULL);
		DESTROY_IF(this->pools);
		this->pools = NULL;
	}
	return TRUE;
}

METHOD(plugin_t, get_features, int,
	private_qkd_plugin_t *this, plugin_feature_t *features[])
{
	static plugin_feature_t f[] = {
		PLUGIN_CALLBACK((plugin_feature_callback_t)register_qkd, NULL),
			PLUGIN_PROVIDE(CUSTOM, "qkd-pools"),
		PLUGIN_REGISTER(KE, qkd_ke_create),
			PLUGIN_PROVIDE(KE, QKD_KE_METHOD),
				PLUGIN_DEPENDS(CUSTOM, "qkd-pools"),
	};
	*features = f;
	return countof(f);
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

	/* the keyword is registered before any proposal is parsed */
	lib->proposal->register_token(lib->proposal, QKD_KE_TOKEN,
								  KEY_EXCHANGE_METHOD, QKD_KE_METHOD, 0);
	INIT(this,
		.public = {
			.plugin = {
				.get_name = _get_name,
				.get_features = _get_features,
				.destroy = _destroy,
			},
		},
	);
	return &this->public.plugin;
}
