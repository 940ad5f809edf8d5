#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Only the CHILD_SA re-key bench, to iterate on it without the rest of
# `make bench` (build first as tools/bench.sh does, plugin included):
#
#	tools/vm-run.sh --name rekey bench/rekey-alone.sh
#
# Arguments go to bench/rekey_bench.py (--rounds N, --warmup N); vm-run.sh
# passes none, so QKD_REKEY_ARGS in this file's environment is not an
# option either: edit the default here when iterating.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

if [ -e /sys/module/qkdpool ]; then
	rmmod qkdpool || exit 1
fi
insmod "$repo/kmod/qkdpool.ko" || exit 1
"${QKD_PYTHON:-python3}" "$here/rekey_bench.py" "$@"
status=$?
rmmod qkdpool || status=1
exit "$status"
