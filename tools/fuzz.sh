#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make fuzz`: the spec-driven fuzzer (tests/vm/test_fuzz.py) in the VM on
# the debug kernel (tools/debug-kernel.sh, built first when stale), for as
# long as asked.  Prints the messages per second and, at the end, whether
# the pools' counters reconcile; any kernel report (KASAN, lockdep,
# kmemleak, WARNING) fails the run, and so does a kmemleak report after
# the module's unload.
#
# Usage: FUZZ_SECONDS=600 tools/fuzz.sh          (default 300 s)
#        FUZZ_MESSAGES=1000000 tools/fuzz.sh     (stop at that many)
# Environment: FUZZ_SEED, FUZZ_BATCH (requests per send, default 48),
# QKD_VM_TIMEOUT (default FUZZ_SECONDS + 600).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
seconds=${FUZZ_SECONDS:-300}
if [ -n "${FUZZ_MESSAGES:-}" ] && [ -z "${FUZZ_SECONDS:-}" ]; then
	seconds=86400
fi
tools/debug-kernel.sh >/dev/null
tools/build.sh ynl
env=(--env QKD_TESTS=test_fuzz.py --env "FUZZ_SECONDS=$seconds"
	--env "FUZZ_MESSAGES=${FUZZ_MESSAGES:-0}")
[ -z "${FUZZ_SEED:-}" ] || env+=(--env "FUZZ_SEED=$FUZZ_SEED")
[ -z "${FUZZ_BATCH:-}" ] || env+=(--env "FUZZ_BATCH=$FUZZ_BATCH")
QKD_VM_FORKY=0 exec tools/vm-run.sh --debug-kernel --name fuzz \
	--timeout "${QKD_VM_TIMEOUT:-$((seconds < 86400 ? seconds + 600 : 86400))}" \
	"${env[@]}" tests/vm/run.sh
