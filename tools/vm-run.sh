#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run one command in a VM: Debian's trixie kernel from the build root
# under qemu (TCG), with the build root as its root filesystem (9p,
# read-only, under a tmpfs overlay), this repository read-only at /src, and
# the forky root (tools/mkroot.sh forky, made first if need be) under a
# tmpfs overlay at /forky, where tests run forky's charon chrooted.  When
# the forky root cannot be made, the VM boots without /forky (the tests
# that need it skip, saying so).
# SCRIPT (a path relative to the repository) runs with ARGs, from /src, as
# root, with a clean environment plus the --env settings and
# PYTHONPATH=/src/tests/lib (the harness, tests/lib/qkdlab); its output
# is printed here as it comes.  A *.py SCRIPT runs with python3, any other
# that is not executable with bash.
#
# Usage: tools/vm-run.sh [--timeout SEC] [--name NAME] [--env VAR=VALUE]...
#                        [--module [PARAM=VALUE...]] [--debug-kernel] SCRIPT [ARG...]
#
#   --module     insmod kmod/qkdpool.ko (or $QKD_KO, a path under /src) with
#                the PARAMs (one option word each: --module mem_limit=1073741824)
#                before SCRIPT, and rmmod it after; a failed insmod or rmmod
#                fails the run.
#   --debug-kernel (or QKD_VM_KERNEL=debug) boot the debug kernel of
#                tools/debug-kernel.sh instead (KASAN, lockdep, kmemleak,
#                DEBUG_OBJECTS, failslab; build it first), with the module
#                built for it: --module loads build/debugk/mod/kmod/qkdpool.ko
#                and QKD_KO is set to it in the VM.
#
# Exit status: SCRIPT's status, or 0; 1 when the script passed but the
# kernel logged a WARNING, oops, BUG, KASAN, UBSAN, lockdep, debug objects
# or kmemleak report, or
# the module did not load or unload; 124 when the VM was stopped after the
# timeout (default 600 s); 125 when the VM ended before the script finished.
# Data lines for the host ("@@TIMELINE@@ ...": the demo's timeline) are
# kept in NAME.out and not printed.
# Logs: build/vm/NAME.log (the kernel console), build/vm/NAME.out (the
# script's output); NAME defaults to the script's base name.  The command
# goes to the VM in build/vm/NAME.cmd (NUL-separated words).
# Environment: QKD_VM_MEM (default 2G), QKD_VM_SMP (default 2),
# QKD_VM_FORKY=0 (no forky root: neither made nor shared), QKD_VM_KERNEL
# (debian, the default, or debug), QKD_VM_APPEND (more of the kernel's
# command line).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
timeout=600
name=
envs=()
module=
modparams=()
kind=${QKD_VM_KERNEL:-debian}

usage() { sed -n '/^# Usage:/,/^# Environment/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout=${2:?}; shift 2 ;;
	--timeout=*) timeout=${1#*=}; shift ;;
	--name) name=${2:?}; shift 2 ;;
	--name=*) name=${1#*=}; shift ;;
	--env)
		case ${2:-} in
		[A-Za-z_]*=*) envs+=("$2") ;;
		*) echo "vm-run: --env wants VAR=VALUE, not '${2:-}'" >&2; exit 2 ;;
		esac
		shift 2 ;;
	--module)
		module=1; shift
		while [ $# -gt 0 ] && [[ $1 == [a-z_]*=* ]]; do modparams+=("$1"); shift; done ;;
	--debug-kernel) kind=debug; shift ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) echo "vm-run: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || usage
script=$1
shift
case $script in
/*|*..*) echo "vm-run: $script: give a path relative to the repository" >&2; exit 2 ;;
esac
[ -f "$repo/$script" ] || { echo "vm-run: $repo/$script does not exist" >&2; exit 2; }
[ -n "$name" ] || name=$(basename "$script" | sed 's/\.[a-z]*$//')
case $name in
*[!A-Za-z0-9_.-]*) echo "vm-run: --name $name: letters, digits, '_', '.', '-' only" >&2; exit 2 ;;
esac

root=$("$repo/tools/mkroot.sh")
ko=${QKD_KO:-kmod/qkdpool.ko}
debugk=
case $kind in
debian)
	initrd=$("$repo/tools/vm-initramfs.sh" "$root")
	kernel=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -n 1)
	;;
debug)
	# Not built here: a build would hold the VM lock for minutes.
	debugk=$("$repo/tools/debug-kernel.sh" --path) || exit 2
	initrd=$("$repo/tools/vm-initramfs.sh" "$root" "$debugk")
	kernel=$debugk/bzImage
	ko=${QKD_KO:-build/debugk/mod/kmod/qkdpool.ko}
	envs=("QKD_KO=/src/$ko" "${envs[@]}")
	;;
*) echo "vm-run: QKD_VM_KERNEL=$kind: debian or debug" >&2; exit 2 ;;
esac
forky=
if [ "${QKD_VM_FORKY:-1}" != 0 ] && ! forky=$("$repo/tools/mkroot.sh" forky); then
	echo "vm-run: no forky root (tools/mkroot.sh forky failed): booting without /forky" >&2
	forky=
fi

mkdir -p "$repo/build/vm"
log=$repo/build/vm/$name.log
out=$repo/build/vm/$name.out
: >"$log"

# The command, for tools/vm-guest.sh: NUL-separated records
#	env VAR=VALUE ...  module [PARAM=VALUE ...]  argv SCRIPT ARG...
# (NUL-separated so that any argument or value passes unchanged).
cmd=$repo/build/vm/$name.cmd
{
	for e in "${envs[@]}"; do printf 'env\0%s\0' "$e"; done
	if [ -n "$module" ]; then
		printf 'module\0%s\0' "$ko"
		for m in "${modparams[@]}"; do printf 'modparam\0%s\0' "$m"; done
	fi
	printf 'argv\0%s\0' "$script" "$@"
} >"$cmd"
# loglevel=7: the whole kernel log reaches the console, so that no report
# is missed; panic=-1 with -no-reboot ends qemu on a panic.
append="console=ttyS0 loglevel=7 panic=-1 oops=panic mitigations=off \
i8042.noaux i8042.nokbd i8042.nopnp qkd.cmd=build/vm/$name.cmd${QKD_VM_APPEND:+ $QKD_VM_APPEND}"
# qemu 7.2 names the property readonly=on; the 9p shares are all
# read-only, the VM writes only to its tmpfs overlays.
share="security_model=none,readonly=on,multidevs=remap"
extra=()
[ -z "$forky" ] || extra+=(-virtfs "local,path=$forky,mount_tag=qkdforky,$share")

echo "vm-run: booting $(basename "$kernel")${debugk:+ ($(cat "$debugk/release"))} for $script $* (timeout ${timeout}s, log $log)" >&2
start=$(date +%s%N)
set +e
timeout --kill-after=10 "$timeout" qemu-system-x86_64 \
	-accel tcg -cpu max -smp "${QKD_VM_SMP:-2}" -m "${QKD_VM_MEM:-2G}" \
	-nodefaults -no-user-config -display none -monitor none -no-reboot \
	-kernel "$kernel" -initrd "$initrd" -append "$append" \
	-serial "file:$log" \
	-chardev stdio,id=out,signal=off -serial chardev:out \
	-virtfs "local,path=$root,mount_tag=qkdroot,$share" \
	-virtfs "local,path=$repo,mount_tag=qkdsrc,$share" \
	"${extra[@]}" \
	-device virtio-rng-pci \
	</dev/null | tee "$out" | grep --line-buffered -av '^@@TIMELINE@@ '
qemu_status=${PIPESTATUS[0]}
set -e
ms=$(( ($(date +%s%N) - start) / 1000000 ))
elapsed=$((ms / 1000)).$(printf %03d $((ms % 1000)))

status=0
if [ "$qemu_status" -eq 124 ] || [ "$qemu_status" -eq 137 ]; then
	echo "vm-run: TIMEOUT: $script did not finish within ${timeout}s; qemu was killed (kernel log: $log)" >&2
	status=124
fi

# The guest's marker says how the script (and the module) ended.
line=$(grep -a "^@@QKD-VM@@ exit " "$out" | tail -n 1 || true)
if [ -z "$line" ]; then
	[ $status -ne 0 ] || status=125
	echo "vm-run: $script did not finish (no exit marker)" >&2
elif [ "${line##* }" -ne 0 ] && [ $status -eq 0 ]; then
	status=${line##* }
fi
if [ $status -eq 125 ]; then
	echo "vm-run: the VM ended early; the end of its kernel log:" >&2
	tail -n 40 "$log" | sed 's/^/    /' >&2
fi

# Kernel reports fail the run whatever the scripts said.
# kmemleak: its reports, not its start-up line; lockdep: a report that is
# not a WARNING, or lockdep turning itself off after one; ODEBUG: the
# debug objects' reports; a hung task (tools/debug-kernel.config).
pattern='WARNING:|Oops|BUG:|KASAN|UBSAN:|kmemleak: [0-9]+ new suspected|unreferenced object|INFO: trying to register|lockdep is turned off|ODEBUG:|Kernel panic|blocked for more than|general protection fault|Call Trace:'
if grep -aqE "$pattern" "$log"; then
	echo "vm-run: the kernel reported problems (full log: $log):" >&2
	grep -anE "$pattern" "$log" | head -n 40 | sed 's/^/    /' >&2
	[ $status -ne 0 ] || status=1
fi

echo "vm-run: $script: exit status $status after ${elapsed}s" >&2
exit $status
