#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) the debug kernel of the VM tests and the qkdpool module
# for it: Debian's linux-source of the trixie root's kernel version
# (tools/linux-src.sh), `make allnoconfig` plus tools/debug-kernel.config
# (virtio, 9p, overlayfs, netns, veth, XFRM/ESP, all built in; KASAN,
# lockdep, PROVE_RCU, kmemleak, DEBUG_OBJECTS, failslab), inside the root.
# The build directory stays in the root (/var/cache/qkd-debugk/build), so a
# changed fragment or source rebuilds incrementally; the kernel is reused
# as long as the hash of the fragment, this script and the source tarball
# is the one it was built for.  The module is built out of tree against
# that build, from a copy of kmod/ in build/debugk/mod/ (kmod/qkdpool.ko
# stays the Debian kernel's), and so is the KUnit test module.
#
# Usage: tools/debug-kernel.sh           build what is stale, print the
#                                        kernel's path on the host
#        tools/debug-kernel.sh --path    print the kernel's path only when
#                                        it is up to date (no build; exit 1
#                                        otherwise): tools/vm-run.sh uses it
# Files: ROOT/var/cache/qkd-debugk/{bzImage,release,modules/},
# build/debugk/mod/kmod/qkdpool.ko, build/debugk/kunit/qkdpool_kunit.ko
# (the module's KUnit suites: tools/kunit.sh); build/debugk/build.log.
# Environment: QKD_DEBUGK_JOBS (make -j, default 2), QKD_DEBUGK_CACHE (the
# cache directory in the root, default /var/cache/qkd-debugk: another one
# builds a second debug kernel without disturbing the first).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${QKD_DEBUGK_CACHE:-/var/cache/qkd-debugk}

if [ "${1:-}" != --in-root ]; then
	root=$("$repo/tools/mkroot.sh")
	tarball=$(ls "$root"/usr/src/linux-source-*.tar.xz | sort -V | tail -n 1)
	key=$( { cat "$repo/tools/debug-kernel.config" "$0"; basename "$tarball";
		stat -c %s "$tarball"; } | sha256sum | cut -c1-16)
	if [ "${1:-}" = --path ]; then
		if [ "$(cat "$root$cache/key" 2>/dev/null)" = "$key" ] &&
			[ -f "$repo/build/debugk/mod/kmod/qkdpool.ko" ] &&
			[ -f "$repo/build/debugk/kunit/qkdpool_kunit.ko" ]; then
			echo "$root$cache"
			exit 0
		fi
		echo "debug-kernel: the debug kernel or its module is missing or stale: run tools/debug-kernel.sh" >&2
		exit 1
	fi
	mkdir -p "$repo/build/debugk"
	"$repo/tools/inroot.sh" /src/tools/debug-kernel.sh --in-root "$key" \
		"${QKD_DEBUGK_JOBS:-2}" "$cache" >&2
	echo "$root$cache"
	exit 0
fi
key=${2:?}
jobs=${3:-2}
cache=${4:-$cache}

# One build at a time per root (every checkout shares it).
mkdir -p "$cache"
exec 9>"$cache/lock"
if ! flock -n 9; then
	echo "debug-kernel: waiting for another debug kernel build in this root" >&2
	flock 9
fi

tree=$(/src/tools/linux-src.sh)
build=$cache/build
log=/src/build/debugk/build.log

if [ "$(cat "$cache/key" 2>/dev/null)" != "$key" ]; then
	echo "debug-kernel: building the debug kernel from $tree (log: build/debugk/build.log)"
	t0=$(date +%s)
	rm -f "$cache/key"
	mkdir -p "$build"
	# allnoconfig with the fragment as the "all" values: what it does not
	# name is off.  Then every "=y" of the fragment must still be there.
	if ! make -C "$tree" O="$build" KCONFIG_ALLCONFIG=/src/tools/debug-kernel.config \
		allnoconfig >"$log" 2>&1; then
		tail -n 20 "$log"
		exit 1
	fi
	make -C "$tree" O="$build" olddefconfig >>"$log" 2>&1
	missing=0
	while IFS= read -r line; do
		grep -qxF "$line" "$build/.config" && continue
		echo "debug-kernel: $line did not survive olddefconfig (a dependency is missing)"
		missing=1
	done < <(grep -E '^CONFIG_[A-Z0-9_]+=y$' /src/tools/debug-kernel.config)
	[ $missing -eq 0 ] || exit 1
	if ! nice -n 10 make -C "$tree" O="$build" -j"$jobs" bzImage modules >>"$log" 2>&1; then
		echo "debug-kernel: the kernel build failed; the end of build/debugk/build.log:"
		tail -n 30 "$log"
		exit 1
	fi
	release=$(make -s -C "$tree" O="$build" kernelrelease 2>/dev/null)
	rm -rf "$cache/modules"
	# modules.builtin and modules.dep, so that modprobe of a built-in
	# module succeeds in the VM as it does on Debian's kernel.
	make -C "$tree" O="$build" INSTALL_MOD_PATH="$cache/modules" \
		modules_install >>"$log" 2>&1
	cp "$build/arch/x86/boot/bzImage" "$cache/bzImage"
	echo "$release" >"$cache/release"
	echo "$key" >"$cache/key"
	echo "debug-kernel: $release built in $(( $(date +%s) - t0 )) s"
fi

# The module: a copy of the sources, so that its objects do not mix with
# the Debian kernel's build in kmod/.  cmp keeps unchanged files' times.
mod=/src/build/debugk/mod
sync_file() {
	mkdir -p "$(dirname "$2")"
	cmp -s "$1" "$2" || cp "$1" "$2"
}
sync_file /src/Kbuild "$mod/Kbuild"
sync_file /src/include/uapi/linux/qkd.h "$mod/include/uapi/linux/qkd.h"
for f in /src/kmod/Kbuild /src/kmod/*.[ch]; do
	case ${f##*/} in *.mod.c) continue ;; esac
	sync_file "$f" "$mod/kmod/${f##*/}"
done
# Sources removed from kmod/ must not linger in the copy.
for f in "$mod"/kmod/*.[ch]; do
	case ${f##*/} in *.mod.c) continue ;; esac
	[ -e "/src/kmod/${f##*/}" ] || rm -f "$f"
done
if ! make -C "$build" M="$mod" CONFIG_QKDPOOL=m -j"$jobs" modules >"$log.mod" 2>&1; then
	echo "debug-kernel: the module does not build against the debug kernel:"
	tail -n 30 "$log.mod"
	exit 1
fi
echo "debug-kernel: module build/debugk/mod/kmod/qkdpool.ko for $(cat "$cache/release")"

# The KUnit test module (tools/kunit.sh loads it in the VM): each
# kmod/X_test.c is included at the end of X.c when
# CONFIG_QKDPOOL_KUNIT_TEST is set, so the module is those X.c with it
# defined, and a licence.  Its own directory: the same objects without
# the tests are qkdpool's.
kt=/src/build/debugk/kunit
objs=
for f in /src/kmod/*_test.c; do
	x=${f##*/}
	sync_file "$f" "$kt/$x"
	sync_file "/src/kmod/${x%_test.c}.c" "$kt/${x%_test.c}.c"
	objs="$objs ${x%_test.c}.o"
done
for f in /src/kmod/*.h; do sync_file "$f" "$kt/${f##*/}"; done
sync_file /src/include/uapi/linux/qkd.h "$kt/include/uapi/linux/qkd.h"
tmp=$(mktemp)
cat >"$tmp" <<EOF
# SPDX-License-Identifier: GPL-2.0
# Written by tools/debug-kernel.sh of qkd-ipsec.
ccflags-y += -I\$(src)/include -DCONFIG_QKDPOOL_KUNIT_TEST=1
obj-m += qkdpool_kunit.o
qkdpool_kunit-y :=$objs kunit_mod.o
EOF
sync_file "$tmp" "$kt/Kbuild"
cat >"$tmp" <<'EOF'
// SPDX-License-Identifier: GPL-2.0
/* Written by tools/debug-kernel.sh: the licence of qkdpool_kunit.ko. */
#include <linux/module.h>
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit suites of qkdpool (qkd_*)");
EOF
sync_file "$tmp" "$kt/kunit_mod.c"
rm -f "$tmp"
if ! make -C "$build" M="$kt" -j"$jobs" modules >"$log.kunit" 2>&1; then
	echo "debug-kernel: the KUnit test module does not build against the debug kernel:"
	tail -n 30 "$log.kunit"
	exit 1
fi
echo "debug-kernel: KUnit test module build/debugk/kunit/qkdpool_kunit.ko"
