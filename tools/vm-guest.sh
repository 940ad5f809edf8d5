#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the test VM (started by tools/vm-init.sh in the build root, with
# the repository at /src).  Mounts what a Debian system expects, then runs
# each script named by qkd.run=A,B,... on the kernel command line from /src
# with a clean environment.  A script's output goes to the second serial
# port (/dev/ttyS1), which tools/vm-run.sh prints; the kernel's console is
# the first (/dev/ttyS0).  After each script a marker line
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

scripts=
for word in $(cat /proc/cmdline); do
	case $word in
	qkd.run=*) scripts=${word#qkd.run=} ;;
	esac
done

stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1
read -r up _ </proc/uptime
kmsg "userspace up at ${up}s"

IFS=, read -r -a list <<<"$scripts"
for s in "${list[@]}"; do
	kmsg "running $s"
	if [ -x "/src/$s" ]; then
		cmd=("./$s")
	else
		cmd=(/bin/bash "./$s")
	fi
	(cd /src && exec env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH="$PATH" QKD_VM=1 "${cmd[@]}") </dev/null >&3 2>&3
	status=$?
	printf '\n@@QKD-VM@@ exit %s %d\n' "$s" "$status" >&3
	kmsg "$s exited with status $status"
done

sync
kmsg "done"
exec /bin/busybox poweroff -f
