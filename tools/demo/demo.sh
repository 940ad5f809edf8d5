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
#
# `make demo-network` (demo.sh --network [--ring]): the trusted-node
# network instead, tools/demo/network_demo.py: tokyo - nagoya - osaka -
# kobe, each router running qkd-linkd and charon, IPsec between
# neighbours and end to end tokyo - kobe from the relayed pool;
# nagoya - osaka cut and restored (--ring, `make demo-network RING=1`: a
# second route nagoya - kobe that the relay reroutes over).  See
# Documentation/relay.rst, "The network demo".  Its timeline goes to
# build/demo-network/ (build/demo-network-ring/).
#
# Exit status: 0 only when the demo's summary holds (its claims are
# checked) and the timeline was drawn, else non-zero.  Output also in
# build/vm/NAME.out (NAME: demo, demo-network, demo-network-ring).
# Environment: QKD_DEMO_TIMEOUT (seconds for the VM, default 600; 1500
# for the network).
set -euo pipefail

name=demo
script=(tools/demo/lab_demo.py)
vm_timeout=${QKD_DEMO_TIMEOUT:-600}
for a in "$@"; do
	case $a in
	--network) name=demo-network; script=(tools/demo/network_demo.py)
		vm_timeout=${QKD_DEMO_TIMEOUT:-1500} ;;
	--ring) ring=1 ;;
	*) echo "usage: demo.sh [--network [--ring]]" >&2; exit 2 ;;
	esac
done
if [ -n "${ring:-}" ]; then
	[ "$name" = demo-network ] || { echo "demo.sh: --ring needs --network" >&2; exit 2; }
	name=demo-network-ring
	script+=(--ring)
fi

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
tools/vm-run.sh --name "$name" --timeout "$vm_timeout" \
	--module "${script[@]}" || status=$?

# The timeline the demo printed, drawn with gnuplot in the root
# (tools/demo/timeline.py): build/NAME/timeline.svg and .png.
out=build/$name
mkdir -p "$out"
rm -f "$out"/timeline.*
sed -n 's/^@@TIMELINE@@ //p' "build/vm/$name.out" | tail -n 1 >"$out/timeline.json"
if [ ! -s "$out/timeline.json" ]; then
	say "the demo printed no timeline: no picture"
	[ "$status" -ne 0 ] || status=1
elif tools/inroot.sh python3 /src/tools/demo/timeline.py \
		"/src/$out/timeline.json" "/src/$out" >/dev/null; then
	say "timeline: $out/timeline.svg, $out/timeline.png"
else
	say "drawing the timeline failed"
	[ "$status" -ne 0 ] || status=1
fi
exit "$status"
