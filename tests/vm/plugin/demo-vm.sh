#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo` inside the VM (tools/demo.sh boots it): load the qkdpool
# module, run the demo (tests/vm/plugin/demo.py), unload the module.
# Exit status: the demo's (0 only when its summary's claims hold).
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
export QKD_REPO=$repo PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
ko=${QKD_KO:-$repo/kmod/qkdpool.ko}

if [ -e /sys/module/qkdpool ]; then
	rmmod qkdpool
fi
if ! out=$(insmod "$ko" 2>&1); then
	echo "demo: insmod $ko failed: $out"
	exit 1
fi
python3 "$here/demo.py"
status=$?
rmmod qkdpool || status=1
exit "$status"
