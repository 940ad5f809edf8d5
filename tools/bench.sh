#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: build the module, the userspace tools, the strongSwan
# plugin and bench/qkd-bench in the trixie build root, run bench/run.sh in
# the VM (tools/vm-run.sh: qkd-bench, qkd-linkd, the CHILD_SA re-key
# latency and throughput benches) and print the tables again at the end.  See
# Documentation/bench.rst.
#
# The bench is not a test: a missed target is printed as MISSED, not failed.
# Exit status: non-zero only when something could not be built or measured,
# or a run was invalid (the re-key bench's checks).
#
# `make bench-network` (tools/bench.sh --network [ARG...]): the trusted-node
# relay at scale instead, bench/relay_ring_bench.py in the VM (18 routers'
# qkd-linkd in a ring, the KME simulator, no charon; its ARGs, e.g.
# --nodes 12), in a VM of QKD_VM_MEM (default 3G here: 18 daemons and the
# simulator).  Its exit status is the bench's: non-zero when a check of it
# failed (per-hop consumption, a key lost, duplicated or one-sided, no
# reroute).
# Environment: QKD_BENCH_TIMEOUT (seconds for the VM, default 1800).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: run as root (it makes a chroot and boots a VM)" >&2
	exit 1
fi
if [ "${1:-}" = --network ]; then
	shift
	tools/build.sh module userspace
	status=0
	QKD_VM_MEM=${QKD_VM_MEM:-3G} tools/vm-run.sh --name bench-network \
		--timeout "${QKD_BENCH_TIMEOUT:-1800}" --module \
		bench/relay_ring_bench.py "$@" || status=$?
	echo
	echo "the relay ring bench in the VM (qemu TCG, 2 CPUs), from build/vm/bench-network.out:"
	grep -v '^@@QKD-VM@@' build/vm/bench-network.out | grep -v '^# [a-z0-9]*: ' || true
	exit "$status"
fi

# the re-key benches run charons with the plugin (bench/rekey_bench.py,
# bench/rekey_throughput.py, bench/scale_bench.py)
tools/build.sh module userspace plugin bench

# mem_limit 1 GiB: the memory figure holds 10,000 pools of 100 keys (about
# 90 MiB of key storage)
status=0
tools/vm-run.sh --name bench --timeout "${QKD_BENCH_TIMEOUT:-1800}" \
	--module mem_limit=$((1 << 30)) bench/run.sh "$@" || status=$?

echo
# every table from the first one on (qkd-bench, qkd-linkd, CHILD_SA re-key
# latency (ESP, then IKE), re-key throughput, the scale bench), without the
# diagnostics
echo "the benches in the VM (qemu TCG, 2 CPUs), from build/vm/bench.out:"
sed -n '/^measure /,/^@@QKD-VM@@/p' build/vm/bench.out | grep -v '^@@QKD-VM@@\|^#' || true
exit "$status"
