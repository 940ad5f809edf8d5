#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the KME simulator's tests (tools/kme-sim/test_kme_sim.py) inside the
# trixie build root, and write build/results/kme-sim.counts (one line:
# "PASSED FAILED SKIPPED").  Exits non-zero when a test fails or the suite
# cannot run at all (then the counts say "0 1 0").
#
# Usage: tools/kme-sim/run-tests.sh [--here] [UNITTEST ARGS...]
#   --here   run with this machine's python3 (already inside the root)
#   e.g.     tools/kme-sim/run-tests.sh FaultTest       (one class)
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
counts=build/results/kme-sim.counts
here=no
if [ "${1:-}" = --here ]; then
	here=yes
	shift
fi

mkdir -p "$repo/build/results"
rm -f "$repo/$counts"
start=$(date +%s)
if [ $here = yes ]; then
	(cd "$repo" && KME_SIM_COUNTS="$repo/$counts" PYTHONDONTWRITEBYTECODE=1 timeout 900 \
		python3 tools/kme-sim/test_kme_sim.py "$@")
else
	"$repo/tools/inroot.sh" env KME_SIM_COUNTS="/src/$counts" PYTHONDONTWRITEBYTECODE=1 timeout 900 \
		python3 tools/kme-sim/test_kme_sim.py "$@"
fi
rc=$?
if [ ! -s "$repo/$counts" ]; then
	echo "0 1 0" >"$repo/$counts"
	[ $rc -eq 0 ] && rc=1
fi
echo "kme-sim: $(cat "$repo/$counts") (passed failed skipped) in $(($(date +%s) - start)) s"
exit $rc
