#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the test VM's initramfs (tools/vm-initramfs.sh packs it with the
# build root's static busybox and the modules listed in /lib/modules/order).
# It mounts the build root (9p tag "qkdroot", read-only) under an overlay
# with a tmpfs upper layer, the repository (9p tag "qkdsrc", read-only) at
# /src, the forky root (9p tag "qkdforky", when tools/vm-run.sh shares it)
# under its own overlay at /forky, and hands over to /src/tools/vm-guest.sh
# as PID 1 of that root.

bb=/bin/busybox
fail() {
	echo "vm-init: $*" >/dev/console
	$bb sleep 1
	# no ACPI (the debug kernel): a reboot ends qemu (-no-reboot)
	[ -d /sys/firmware/acpi ] || $bb reboot -f
	$bb poweroff -f
}

$bb mkdir -p /proc /sys /dev /lower /rw /newroot
$bb mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys

for m in $($bb cat /lib/modules/order); do
	$bb insmod "/lib/modules/$m.ko" || fail "cannot load $m"
done

p9opts=trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro
$bb mount -t 9p -o "$p9opts" qkdroot /lower || fail "cannot mount the build root over 9p"
$bb mount -t tmpfs -o mode=0755 tmpfs /rw || fail "cannot mount tmpfs"
$bb mkdir -p /rw/upper /rw/work
$bb mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work \
	overlay /newroot || fail "cannot mount the overlay root"
$bb mkdir -p /newroot/src /newroot/proc /newroot/sys /newroot/dev
$bb mount -t 9p -o "$p9opts" qkdsrc /newroot/src || fail "cannot mount the repository over 9p"
[ -f /newroot/src/tools/vm-guest.sh ] || fail "no tools/vm-guest.sh in the repository"
# Writable like the root: tests install plugins there and charon's chroot
# needs mount points.  No share, no /forky.
$bb mkdir -p /lowerforky
if $bb mount -t 9p -o "$p9opts" qkdforky /lowerforky 2>/dev/null; then
	$bb mkdir -p /rw/forky-upper /rw/forky-work /newroot/forky
	$bb mount -t overlay -o lowerdir=/lowerforky,upperdir=/rw/forky-upper,workdir=/rw/forky-work \
		overlay /newroot/forky || fail "cannot mount the forky overlay"
fi

# The debug kernel's modules.builtin (tools/vm-initramfs.sh DEBUGK): modprobe
# of a module built into it then succeeds, as it does on Debian's kernel.
if [ -d /lib/builtin-modules ]; then
	$bb cp -a /lib/builtin-modules/. /newroot/lib/modules/ || fail "cannot copy modules.builtin"
fi

$bb mount --move /dev /newroot/dev
$bb mount --move /proc /newroot/proc
$bb mount --move /sys /newroot/sys
exec $bb switch_root /newroot /bin/bash /src/tools/vm-guest.sh
