#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Make (or reuse) the test VM's initramfs for a build root and print its
# path: the root's static busybox, tools/vm-init.sh as /init, and the
# root's kernel modules that mounting the root needs (9p over virtio and
# overlayfs, with their dependencies, decompressed: busybox's insmod
# takes plain .ko files).  It is cached beside the root, in ROOT.vm/, keyed
# by this script, vm-init.sh and the root's kernel and busybox, so an
# unchanged set is reused and a new root gets a new one.
# With DEBUGK (the debug kernel's directory, tools/debug-kernel.sh --path)
# the initramfs is the debug kernel's: no module to load (it has them built
# in), and its modules.builtin/modules.dep under /lib/builtin-modules/,
# which vm-init.sh copies into the root's /lib/modules so that modprobe of
# a built-in module succeeds there as on Debian's kernel.
#
# Usage: tools/vm-initramfs.sh ROOT [DEBUGK]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=${1:?usage: vm-initramfs.sh ROOT [DEBUGK]}
debugk=${2:-}

if [ -n "$debugk" ]; then
	want=
	kver=$(cat "$debugk/release")
	moddir=$debugk/modules/lib/modules/$kver
	kind=debugk-
	ident=$(cat "$debugk/key")
else
	want="netfs 9pnet 9pnet_virtio 9p overlay"
	kernel=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -n 1)
	kver=${kernel##*/vmlinuz-}
	moddir=$root/lib/modules/$kver
	kind=
	ident=
fi
[ -f "$moddir/modules.dep" ] || { echo "vm-initramfs: no $moddir/modules.dep" >&2; exit 1; }

key=$( { cat "$0" "$here/vm-init.sh"; echo "$kver $ident"; cksum <"$root/usr/bin/busybox"; } |
	sha256sum | cut -c1-16)
out=$root.vm/initramfs-$kind$key.cpio
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi

# Load order: each module's dependencies (modules.dep lists them nearest
# first, so they load in reverse), then the module itself.
order=()
add() {
	local m
	for m in "${order[@]}"; do [ "$m" = "$1" ] && return 0; done
	order+=("$1")
}
declare -A path
for w in $want; do
	line=$(grep -E "(^|/)$w\.ko(\.xz|\.zst|\.gz)?:" "$moddir/modules.dep" || true)
	if [ -z "$line" ]; then
		grep -qE "/$w\.ko" "$moddir/modules.builtin" && continue
		echo "vm-initramfs: module $w is not in $moddir" >&2
		exit 1
	fi
	self=${line%%:*}
	read -r -a deps <<<"${line#*:}"
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
		d=${deps[i]##*/}
		d=${d%%.ko*}
		path[$d]=${deps[i]}
		add "$d"
	done
	path[$w]=$self
	add "$w"
done

mkdir -p "$root.vm"
tmp=$(mktemp -d "$root.vm/.tmp.XXXXXX")
trap 'rm -rf "$tmp" "$tmp.cpio"' EXIT
mkdir -p "$tmp"/{bin,dev,proc,sys,lib/modules}
cp "$root/usr/bin/busybox" "$tmp/bin/busybox"
ln -s busybox "$tmp/bin/sh"
mknod "$tmp/dev/console" c 5 1
install -m 755 "$here/vm-init.sh" "$tmp/init"
for m in "${order[@]}"; do
	src=$moddir/${path[$m]}
	case $src in
	*.ko.xz) xz -dc "$src" ;;
	*.ko.zst) zstd -dcq "$src" ;;
	*.ko.gz) gzip -dc "$src" ;;
	*) cat "$src" ;;
	esac >"$tmp/lib/modules/$m.ko"
done
echo "${order[*]}" >"$tmp/lib/modules/order"
if [ -n "$debugk" ]; then
	mkdir -p "$tmp/lib/builtin-modules"
	cp -a "$moddir" "$tmp/lib/builtin-modules/"
fi
(cd "$tmp"; find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$tmp.cpio"
mv "$tmp.cpio" "$out"
# Keep only the newest initramfs of this kind for this root.
for old in "$root.vm"/initramfs-$kind????????????????.cpio; do
	[ "$old" = "$out" ] || rm -f "$old"
done
echo "$out"
