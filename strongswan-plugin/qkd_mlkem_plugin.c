// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The charon plugin "qkd-mlkem": ML-KEM-512/768/1024 and nothing else, so
 * that a daemon whose strongSwan already has ML-KEM (6.0.2 and later: the
 * openssl plugin on OpenSSL 3.5, or the ml plugin) does not load a second
 * provider of the same methods, and one that lacks it (trixie's 6.0.1)
 * loads this one next to qkd.  strongSwan's loader maps the name's '-' to
 * '_': the symbols are qkd_mlkem_plugin_create and qkd_mlkem_plugin_version.
 */
#include "qkd_mlkem_plugin.h"
#include "qkd_plugin_define.h"
#include "qkd_mlkem.h"

#include <library.h>

typedef struct private_qkd_mlkem_plugin_t private_qkd_mlkem_plugin_t;

/**
 * Private data.
 */
struct private_qkd_mlkem_plugin_t {

	/**
	 * Public interface.
	 */
	qkd_mlkem_plugin_t public;
};

METHOD(plugin_t, get_name, char*,
	private_qkd_mlkem_plugin_t *this)
{
	return "qkd-mlkem";
}

METHOD(plugin_t, get_features, int,
	private_qkd_mlkem_plugin_t *this, plugin_feature_t *features[])
{
	static plugin_feature_t f[] = {
		PLUGIN_REGISTER(KE, qkd_mlkem_create),
			PLUGIN_PROVIDE(KE, ML_KEM_512),
			PLUGIN_PROVIDE(KE, ML_KEM_768),
			PLUGIN_PROVIDE(KE, ML_KEM_1024),
	};
	*features = f;
	return countof(f);
}

METHOD(plugin_t, destroy, void,
	private_qkd_mlkem_plugin_t *this)
{
	free(this);
}

/*
 * Described in header
 */
PLUGIN_DEFINE(qkd_mlkem)
{
	private_qkd_mlkem_plugin_t *this;

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
