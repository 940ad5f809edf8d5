#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the plugin's unit tests (built by `make check`) and write
# $RESULTS/plugin.counts: "PASSED FAILED SKIPPED", one per check test case,
# plus one for the plugin's exported symbols.
#
# Environment (set by the Makefile): O (build dir), RESULTS, PLUGIN.
set -u

passed=0 failed=0 skipped=0
counts="$O/unit.counts"
rm -f "$counts"

echo "== unit tests (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"$O/unit-tests" "$counts"
rc=$?
if [ -s "$counts" ]; then
	read -r p f <"$counts"
	passed=$((passed + p)) failed=$((failed + f))
	[ $rc -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
else
	echo "unit-tests did not report (exit $rc)"
	failed=$((failed + 1))
fi

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
