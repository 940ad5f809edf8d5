#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: the two-router lab with a QKD network, in the VM.  On a
# fresh Debian 12 machine (as root) it installs the host packages, makes
# the trixie build root, builds the module, the userspace tools and the
# strongSwan plugin in it (tools/build.sh), then boots the VM
# (tools/vm-run.sh) with the module loaded and runs
# tools/demo/lab_demo.py there: a 10 Mbit/s simulated QKD link, CHILD_SAs
# re-keyed every 3 s, ping running; normal operation, the QKD link cut,
# restored; a live view and a summary table, with the seconds from the
# restore to the first refill and to the first QKD-keyed re-key.  See
# Documentation/lab.rst.  Then it draws the run's timeline (pool levels,
# re-keys by outcome, the outage shaded, ping loss) with gnuplot
# (tools/demo/timeline.py) into build/demo/timeline.svg and build/demo/timeline.png.
#
# Exit status: 0 only when the demo's summary holds (its claims are
# checked) and the timeline was drawn, else non-zero.  Output also in build/vm/demo.out.
# Environment: QKD_DEMO_TIMEOUT (seconds for the VM, default 600).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (it installs packages, makes a chroot and boots a VM)" >&2
	exit 1
fi
say() { echo "demo: $*" >&2; }

t0=$SECONDS
say "building the root, the module, userspace and the plugin (log: build/demo-build.log)"
tools/build.sh --log build/demo-build.log module userspace plugin
say "built in $((SECONDS - t0)) s; booting the lab (qemu TCG: about 2-3 minutes)"
status=0
tools/vm-run.sh --name demo --timeout "${QKD_DEMO_TIMEOUT:-600}" \
	--module tools/demo/lab_demo.py || status=$?

# The timeline the demo printed, drawn with gnuplot in the root
# (tools/demo/timeline.py): build/demo/timeline.svg and .png.
mkdir -p build/demo
rm -f build/demo/timeline.*
sed -n 's/^@@TIMELINE@@ //p' build/vm/demo.out | tail -n 1 >build/demo/timeline.json
if [ ! -s build/demo/timeline.json ]; then
	say "the demo printed no timeline: no picture"
	[ "$status" -ne 0 ] || status=1
elif tools/inroot.sh python3 /src/tools/demo/timeline.py \
		/src/build/demo/timeline.json /src/build/demo >/dev/null; then
	say "timeline: build/demo/timeline.svg, build/demo/timeline.png"
else
	say "drawing the timeline failed"
	[ "$status" -ne 0 ] || status=1
fi
exit "$status"
