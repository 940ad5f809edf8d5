#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Only the scale bench, to iterate on it without the rest of `make bench`
# (build first as tools/bench.sh does: plugin and bench/qkd-bench included):
#
#	tools/vm-run.sh --name scale bench/scale-alone.sh
#
# Loads the module (default mem_limit) and runs bench/scale_bench.py with
# its defaults (vm-run.sh passes no arguments; a wrapper script that calls
# this one with --children N --seconds S gives another size).
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

if [ -e /sys/module/qkdpool ]; then
	rmmod qkdpool || exit 1
fi
insmod "$repo/kmod/qkdpool.ko" || exit 1
"${QKD_PYTHON:-python3}" "$here/scale_bench.py" "$@"
status=$?
rmmod qkdpool || status=1
exit "$status"
