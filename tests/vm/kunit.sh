#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The module's KUnit suites on the debug kernel, inside the VM:
#
#	tools/vm-run.sh --debug-kernel tests/vm/kunit.sh     (tools/kunit.sh does)
#
# Loads build/debugk/kunit/qkdpool_kunit.ko (tools/debug-kernel.sh builds
# it): KUnit runs the suites while insmod loads it, under KASAN, UBSAN,
# lockdep and kmemleak.  Their KTAP goes to the kernel log, which is the
# VM's console (build/vm/kunit.log): tools/kunit.sh parses it there
# (kunit.py parse), so that the suites that ran before a crash are still
# counted.  Then it unloads the module and asks kmemleak about what the
# tests left.
# Exit status: 0 when the module loaded and unloaded and nothing leaked;
# the verdict on the tests is the host's, from the KTAP.
# Environment: QKD_KUNIT_KO (default the path above, under /src).
set -u
ko=${QKD_KUNIT_KO:-/src/build/debugk/kunit/qkdpool_kunit.ko}
kl=/sys/kernel/debug/kmemleak

[ -e "$ko" ] || { echo "kunit: $ko is missing (tools/debug-kernel.sh builds it)"; exit 1; }
# What leaked during the boot is not the tests'.
[ ! -e "$kl" ] || { echo scan >"$kl"; echo clear >"$kl"; }
status=0
if ! out=$(insmod "$ko" 2>&1); then
	echo "kunit: insmod $ko: $out"
	status=1
fi
# the verdict of each suite, for the reader (the counts come from the KTAP)
for r in /sys/kernel/debug/kunit/qkd_*/results; do
	[ ! -e "$r" ] || echo "kunit: $(tail -n 1 "$r")"
done
[ $status -ne 0 ] || rmmod qkdpool_kunit || status=1
if [ -e "$kl" ]; then
	echo scan >"$kl"
	echo scan >"$kl"
	n=$(grep -c '^unreferenced object' "$kl")
	if [ "$n" -ne 0 ]; then
		echo "kunit: kmemleak: $n unreferenced object(s) after the KUnit suites"
		head -n 100 "$kl"
		status=1
	fi
fi
exit $status
