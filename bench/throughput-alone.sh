#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Only the CHILD_SA re-key throughput bench, to iterate on it without the
# rest of `make bench` (build first as tools/bench.sh does, plugin
# included):
#
#	tools/vm-run.sh --name throughput bench/throughput-alone.sh
#
# Loads the module (default mem_limit) and runs bench/rekey_throughput.py
# with its defaults (vm-run.sh passes no arguments; a wrapper script that
# calls this one with --ikes N --rounds N --warmup N gives another run).
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

if [ -e /sys/module/qkdpool ]; then
	rmmod qkdpool || exit 1
fi
insmod "$repo/kmod/qkdpool.ko" || exit 1
"${QKD_PYTHON:-python3}" "$here/rekey_throughput.py" "$@"
status=$?
rmmod qkdpool || status=1
exit "$status"
