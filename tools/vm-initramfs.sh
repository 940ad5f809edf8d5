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
#
# Usage: tools/vm-initramfs.sh ROOT
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=${1:?usage: vm-initramfs.sh ROOT}
want="netfs 9pnet 9pnet_virtio 9p overlay"

kernel=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -n 1)
kver=${kernel##*/vmlinuz-}
moddir=$root/lib/modules/$kver
[ -f "$moddir/modules.dep" ] || { echo "vm-initramfs: no $moddir/modules.dep" >&2; exit 1; }

key=$( { cat "$0" "$here/vm-init.sh"; echo "$kver"; cksum <"$root/usr/bin/busybox"; } |
	sha256sum | cut -c1-16)
out=$root.vm/initramfs-$key.cpio
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
(cd "$tmp"; find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$tmp.cpio"
mv "$tmp.cpio" "$out"
# Keep only the newest initramfs for this root.
for old in "$root.vm"/initramfs-*.cpio; do
	[ "$old" = "$out" ] || rm -f "$old"
done
echo "$out"
