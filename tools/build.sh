#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The one build entry point of `make check`, `make bench`, `make demo` and
# `make deb`: the host's packages (tools/host-deps.sh), the build roots
# (tools/mkroot.sh), then each PART built inside the trixie root (or the
# forky root for the *-forky parts), in the order given.
#
# Usage: tools/build.sh [--log FILE] PART...
#
# Parts:
#   root          the host's packages and the trixie build root only
#   forky-root    the forky build root (strongSwan 6.1.0)
#   module        kmod/qkdpool.ko against the root's kernel
#   userspace     libqkd, qkdctl, qkd-linkd into build/userspace/
#   plugin        the strongSwan plugins for trixie's strongSwan
#   plugin-forky  the same for forky's strongSwan (needs forky-root)
#   bench         build/bench/qkd-bench
#   ynl           Debian's kernel source unpacked in the root (the VM
#                 tests' ynl)
#   debs          the trixie packages (tools/deb.sh), unless those in
#                 build/deb/trixie are already of this tree
#
# --log FILE: the builds' output goes to FILE (its last 40 lines are
# printed when a part fails); without it, to stdout.
# Exit status: 0, or 1 at the first part that failed (naming it).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
log=

say() { echo "build: $*" >&2; }
usage() { sed -n '/^# Usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

if [ "${1:-}" = --log ]; then
	log=${2:?}
	shift 2
	mkdir -p "$(dirname "$log")"
	: >"$log"
fi
[ $# -gt 0 ] || usage
for part in "$@"; do
	case $part in
	root | forky-root | module | userspace | plugin | plugin-forky | bench | ynl | debs) ;;
	*) say "unknown part '$part'"; usage ;;
	esac
done

# Run a build step, its output to the log when there is one.
step() {
	if [ -z "$log" ]; then
		"$@"
	elif ! "$@" >>"$log" 2>&1; then
		tail -n 40 "$log" >&2
		return 1
	fi
}

# The module's build directory inside the root: the root's own kernel (not
# the host's: uname -r in a chroot names the host kernel).
kdir() {
	local root
	root=$(tools/mkroot.sh)
	echo "/lib/modules/$(ls "$root/lib/modules" | sort -V | tail -n 1)/build"
}

if [ "$(id -u)" -ne 0 ]; then
	say "run as root (it installs packages and makes chroots)"
	exit 1
fi
step tools/host-deps.sh
step tools/mkroot.sh >/dev/null

for part in "$@"; do
	t=$SECONDS
	case $part in
	root) continue ;;
	forky-root) step tools/mkroot.sh forky >/dev/null ;;
	module) step tools/inroot.sh make -C /src KDIR="$(kdir)" modules ;;
	userspace) step tools/inroot.sh make -C /src/userspace ;;
	plugin) step tools/inroot.sh make -C /src/strongswan-plugin ;;
	plugin-forky) step env QKD_SUITE=forky tools/inroot.sh make -C /src/strongswan-plugin ;;
	bench) step tools/inroot.sh make -C /src/bench ;;
	ynl) step tools/inroot.sh tools/linux-src.sh >/dev/null ;;
	debs) step tools/deb.sh --if-stale trixie ;;
	esac || { say "$part failed${log:+ (log: $log)}"; exit 1; }
	say "$part built in $((SECONDS - t)) s"
done
