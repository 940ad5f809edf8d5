#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the test VM (started by tools/vm-init.sh in the build root, with
# the repository at /src).  Mounts what a Debian system expects, then runs
# the command of the file named by qkd.cmd=PATH on the kernel command line
# (written by tools/vm-run.sh: environment, module to load, script and
# arguments) from /src with a clean environment.  The script's output goes
# to the second serial port (/dev/ttyS1), which tools/vm-run.sh prints; the
# kernel's console is the first (/dev/ttyS0).  At the end a marker line
#	@@QKD-VM@@ exit SCRIPT STATUS
# tells the host how it ended.  Then the VM powers off.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

kmsg() { echo "qkd-vm: $*" >/dev/kmsg; }

mkdir -p /dev/pts /dev/shm
# What udev would make: bash's <(...) and many scripts need /dev/fd.
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mkdir -p /run/netns /run/lock
hostname qkd-vm
ip link set lo up

cmdfile=
for word in $(cat /proc/cmdline); do
	case $word in
	qkd.cmd=*) cmdfile=/src/${word#qkd.cmd=} ;;
	esac
done

stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1
read -r up _ </proc/uptime
kmsg "userspace up at ${up}s"

# The command tools/vm-run.sh wrote: NUL-separated records "env VAR=VALUE",
# "module PATH", "modparam PARAM=VALUE" and "argv SCRIPT ARG...".
envs=() argv=() module= modparams=()
if [ -n "$cmdfile" ] && mapfile -d '' -t words <"$cmdfile"; then
	i=0
	while [ $i -lt ${#words[@]} ]; do
		case ${words[i]} in
		env) envs+=("${words[i + 1]}"); i=$((i + 2)) ;;
		module) module=${words[i + 1]}; i=$((i + 2)) ;;
		modparam) modparams+=("${words[i + 1]}"); i=$((i + 2)) ;;
		argv) argv=("${words[@]:i+1}"); break ;;
		*) kmsg "bad record '${words[i]}' in $cmdfile"; break ;;
		esac
	done
fi

status=0
script=${argv[0]:-}
if [ -z "$script" ]; then
	echo "vm-guest: no command in ${cmdfile:-the kernel command line}" >&3
	status=2
elif [ -n "$module" ]; then
	[ -e /sys/module/qkdpool ] && rmmod qkdpool
	if ! out=$(insmod "/src/$module" "${modparams[@]}" 2>&1); then
		echo "vm-guest: insmod /src/$module ${modparams[*]}: $out" >&3
		status=1
	fi
fi

if [ $status -eq 0 ]; then
	kmsg "running ${argv[*]}"
	case $script in
	*.py) cmd=(python3 "./$script") ;;
	*) if [ -x "/src/$script" ]; then cmd=("./$script"); else cmd=(/bin/bash "./$script"); fi ;;
	esac
	(cd /src && exec env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH="$PATH" QKD_VM=1 QKD_REPO=/src PYTHONPATH=/src/tests/lib \
		PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
		"${envs[@]}" "${cmd[@]}" "${argv[@]:1}") </dev/null >&3 2>&3
	status=$?
	kmsg "$script exited with status $status"
	if [ -n "$module" ] && [ -e /sys/module/qkdpool ] && ! out=$(rmmod qkdpool 2>&1); then
		echo "vm-guest: rmmod qkdpool: $out" >&3
		[ $status -ne 0 ] || status=1
	fi
fi
printf '\n@@QKD-VM@@ exit %s %d\n' "$script" "$status" >&3

sync
kmsg "done"
# A kernel without ACPI (the debug kernel) cannot power off: a reboot ends
# qemu just as well (vm-run.sh runs it with -no-reboot).
[ -d /sys/firmware/acpi ] || exec /bin/busybox reboot -f
exec /bin/busybox poweroff -f
