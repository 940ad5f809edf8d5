/* SPDX-License-Identifier: GPL-2.0-or-later */
/**
 * @defgroup qkd_plugin_define qkd_plugin_define
 * @{ @ingroup qkd
 */
#ifndef QKD_PLUGIN_DEFINE_H_
#define QKD_PLUGIN_DEFINE_H_

#include <plugins/plugin.h>

#ifndef PLUGIN_DEFINE
/**
 * Define the constructor of plugin NAME (NAME_plugin_create, the body
 * follows the macro) and its version symbol NAME_plugin_version, the
 * libstrongswan VERSION the plugin was built against.
 *
 * strongSwan 6.0.3 and later have this macro in plugins/plugin.h, and
 * their loader refuses a plugin whose version symbol is missing or differs
 * from its own VERSION ("version field ... missing"): its ABI is only
 * known to match the exact libstrongswan the plugin was built for.  Older
 * headers (Debian trixie's 6.0.1) lack the macro and their loader ignores
 * the symbol; this definition writes the same two symbols, so one source
 * builds and loads on both.  The version symbol is a pointer variable,
 * not an array: the loader dlsym()s it as a char ** and compares the
 * string it points to.  VERSION comes from the configured source's
 * config.h (the Makefile includes it first).
 */
#define PLUGIN_DEFINE(name) \
	extern const char *name##_plugin_version; \
	const char *name##_plugin_version = VERSION; \
	plugin_t *name##_plugin_create(void); \
	plugin_t *name##_plugin_create(void)
#endif

#endif /** QKD_PLUGIN_DEFINE_H_ @}*/
