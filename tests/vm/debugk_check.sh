#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The debug kernel's checkers, after the tests (tests/vm/run.sh calls it
# last, with the module unloaded, when the kernel has kmemleak):
#
#   start   a kmemleak scan, then clear: what leaked before the tests (the
#           boot) is not counted against them
#   end     lockdep still on (debug_locks 1 in /proc/lockdep_stats: lockdep
#           turns itself off after its first report); kmemleak scanned
#           twice, every unreferenced object printed and counted, those of
#           qkdpool said so
#
# Prints unnumbered TAP (run.sh numbers it).
set -u
kl=/sys/kernel/debug/kmemleak

case ${1:-} in
start)
	echo scan >"$kl" && echo clear >"$kl" ||
		echo "not ok - kmemleak: scan and clear before the tests"
	exit 0 ;;
end) ;;
*) echo "usage: debugk_check.sh start|end" >&2; exit 2 ;;
esac

stats=$(cat /proc/lockdep_stats 2>/dev/null)
if grep -qE '^ *debug_locks: *1$' <<<"$stats"; then
	echo "ok - lockdep: on through the tests ($(grep -E 'lock-classes:' <<<"$stats" | tr -s ' ')), debug_locks still 1"
else
	echo "not ok - lockdep: debug_locks is not 1 at the end (a lockdep report turned it off, see the kernel log)"
	grep -E 'debug_locks|lock-classes' <<<"$stats" | sed 's/^/# /'
fi

# Two scans: a pointer held only in a register during the first is seen
# by the second.
echo scan >"$kl"
echo scan >"$kl"
report=$(cat "$kl")
n=$(grep -c '^unreferenced object' <<<"$report")
ours=$(awk '/^unreferenced object/ { o = 0 } /qkdpool/ { if (!o) c++; o = 1 } END { print c + 0 }' <<<"$report")
if [ "$n" -eq 0 ]; then
	echo "ok - kmemleak: no unreferenced object after the tests"
else
	echo "not ok - kmemleak: $n unreferenced object(s) after the tests, $ours from qkdpool"
	head -n 200 <<<"$report" | sed 's/^/# /'
fi
