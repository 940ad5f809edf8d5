#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark, inside the VM (tools/bench.sh, behind `make bench`, boots
# it with tools/vm-run.sh):
#
#	tools/vm-run.sh --name bench bench/run.sh
#
# Loads /src/kmod/qkdpool.ko with a mem_limit of 1 GiB (the memory figure
# holds 10,000 pools of 100 keys: about 90 MiB of key storage), runs
# build/bench/qkd-bench and unloads the module.  Prints the bench's
# diagnostics ("# ...") and then its table.  Exit status: qkd-bench's (0
# when every figure was measured, whatever the targets), or 1 when the
# module could not be loaded or unloaded.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
ko=${QKD_KO:-$repo/kmod/qkdpool.ko}
bench=${QKD_BENCH:-$repo/build/bench/qkd-bench}

if [ ! -x "$bench" ]; then
	echo "bench: $bench is not built (make bench builds it)" >&2
	exit 1
fi
if [ -e /sys/module/qkdpool ]; then
	rmmod qkdpool || exit 1
fi
insmod "$ko" mem_limit=$((1 << 30)) || exit 1

echo "# kernel $(uname -r), $(nproc) CPUs," \
	"$(awk '/^MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo)"
"$bench" "$@" 2>&1
status=$?

rmmod qkdpool || status=1
exit "$status"
