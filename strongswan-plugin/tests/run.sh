#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the plugin's unit tests (built by `make check`) and write
# $RESULTS/plugin.counts: "PASSED FAILED SKIPPED", one per check test case,
# plus one for the plugin's exported symbols.
#
# Environment (set by the Makefile): O (build dir), RESULTS, PLUGIN.
set -u

. "$(dirname "$0")/../../tools/unit-tests.sh"

passed=0 failed=0 skipped=0
run_unit_tests "$O/unit-tests" "$O/unit.counts"

# charon finds the plugin by its constructor; nothing else may leak out
# (libqkd is linked in, hidden).
echo "== exported symbols of $(basename "$PLUGIN")"
syms=$(nm -D --defined-only "$PLUGIN" | awk '{ print $3 }' | sort | xargs)
if [ "$syms" = "qkd_plugin_create" ]; then
	echo "ok: $syms"
	passed=$((passed + 1))
else
	echo "FAILED: exports: $syms"
	failed=$((failed + 1))
fi

# Debian's charon with the plugin, two instances in namespaces: needs root
# (namespaces, veth); skipped otherwise.  TAP: each line is one test.
echo "== charon smoke test (tools/strongswan-smoke.sh)"
smoke=$(dirname "$0")/../../tools/strongswan-smoke.sh
if [ "$(id -u)" -ne 0 ] || ! unshare --net true 2>/dev/null; then
	echo "skipped: needs root and network namespaces"
	skipped=$((skipped + 1))
else
	out=$(timeout 180 "$smoke" "$PLUGIN" 2>&1)
	rc=$?
	echo "$out" | grep -E '^(ok|not ok)'
	p=$(echo "$out" | grep -c '^ok ')
	f=$(echo "$out" | grep -c '^not ok ')
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$out" | tail -n 30
		f=1
	fi
	[ "$f" -eq 0 ] || echo "$out" | grep '^#' | tail -n 60
	passed=$((passed + p)) failed=$((failed + f))
fi

echo "$passed $failed $skipped" >"$RESULTS/plugin.counts"
echo "plugin: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
