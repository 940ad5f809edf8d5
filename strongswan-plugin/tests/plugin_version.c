// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Check a built plugin's version symbol as strongSwan 6.0.3's loader does:
 * dlsym() NAME_plugin_version, a const char *, and compare the string it
 * points to with VERSION (config.h of the source built against).  On a
 * 6.0.1 root, whose loader ignores the symbol, this is the only check that
 * the plugin would load into a newer charon of its own version.
 *
 * Usage: plugin-version NAME PLUGIN.so [NAME PLUGIN.so...]; prints one
 * "ok"/"FAILED" line per plugin, exits 1 when one failed.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static int check(const char *name, const char *path)
{
	const char **version;
	char sym[128];
	void *handle;
	int ok;

	if ((size_t)snprintf(sym, sizeof(sym), "%s_plugin_version", name) >=
	    sizeof(sym))
		return 0;
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		printf("FAILED: %s\n", dlerror());
		return 0;
	}
	version = dlsym(handle, sym);
	ok = version && *version && strcmp(*version, VERSION) == 0;
	printf("%s: %s = \"%s\" (libstrongswan %s)\n", ok ? "ok" : "FAILED",
	       sym, version && *version ? *version : "(missing)", VERSION);
	dlclose(handle);
	return ok;
}

int main(int argc, char *argv[])
{
	int i, failed = 0;

	if (argc < 3 || argc % 2 == 0) {
		fprintf(stderr, "usage: plugin-version NAME PLUGIN.so...\n");
		return 2;
	}
	for (i = 1; i + 1 < argc; i += 2)
		failed += !check(argv[i], argv[i + 1]);
	return failed ? 1 : 0;
}
