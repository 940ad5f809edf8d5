#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the plugins' unit tests (built by `make check`) and write $COUNTS:
# "PASSED FAILED SKIPPED", one per check test case, one per plugin for its
# exported symbols, one for their version symbols' value, and one per line
# of the charon smoke test.
#
# Environment (set by the Makefile): O (build dir), COUNTS, PLUGIN and
# MLKEM_PLUGIN (the two .so files).
set -u

. "$(dirname "$0")/../../tools/unit-tests.sh"

passed=0 failed=0 skipped=0
run_unit_tests "$O/unit-tests" "$O/unit.counts"

# charon finds a plugin by its constructor and (strongSwan 6.0.3 and
# later) checks its version symbol; nothing else may leak out (libqkd is
# linked in, hidden).
exports() {
	local so=$1 want=$2 syms
	echo "== exported symbols of $(basename "$so")"
	syms=$(nm -D --defined-only "$so" | awk '{ print $3 }' | sort | xargs)
	if [ "$syms" = "$want" ]; then
		echo "ok: $syms"
		passed=$((passed + 1))
	else
		echo "FAILED: exports: $syms (want: $want)"
		failed=$((failed + 1))
	fi
}
exports "$PLUGIN" "qkd_plugin_create qkd_plugin_version"
exports "$MLKEM_PLUGIN" "qkd_mlkem_plugin_create qkd_mlkem_plugin_version"

# Their value: libstrongswan's VERSION, as the loader compares it.
echo "== version symbols"
if "$O/plugin-version" qkd "$PLUGIN" qkd_mlkem "$MLKEM_PLUGIN"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi

# Debian's charon with the plugins, two instances in namespaces: needs root
# (namespaces, veth); skipped otherwise.  TAP: each line is one test.
echo "== charon smoke test (tools/strongswan-smoke.sh)"
smoke=$(dirname "$0")/../../tools/strongswan-smoke.sh
if [ "$(id -u)" -ne 0 ] || ! unshare --net true 2>/dev/null; then
	echo "skipped: needs root and network namespaces"
	skipped=$((skipped + 1))
else
	out=$(timeout 180 "$smoke" "$PLUGIN" "$MLKEM_PLUGIN" 2>&1)
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

echo "$passed $failed $skipped" >"$COUNTS"
echo "plugin: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
