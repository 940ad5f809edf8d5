#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the module's KUnit suites (qkd_*), by default on the debug kernel in
# the VM (tools/debug-kernel.sh, built first when stale: KASAN, UBSAN,
# lockdep, kmemleak): the suites are built as a test module,
# build/debugk/kunit/qkdpool_kunit.ko, and run while tests/vm/kunit.sh
# loads it; kunit.py parse reads their KTAP from the VM's kernel log
# (build/vm/kunit.log, from the script's start: build/vm/kunit.ktap).  `make check`
# runs them so: the debug kernel is the one its debugvm part boots, so no
# other kernel is built for KUnit.
#
# With --uml, kunit.py run builds and boots a UML kernel instead, from
# Debian's linux-source inside the trixie build root, with KASAN and
# UBSAN; kmod/ is placed into that tree as drivers/net/qkdpool/ and the
# build directory stays in the root (/var/cache/qkd-kunit), so later runs
# are incremental (cold: about 4 min on 2 cores, warm: seconds).
#
# Either way it prints the results, writes build/results/kunit.counts with
# one line "PASSED FAILED SKIPPED" (test cases, each parameter counted:
# tools/kunit-counts.py), ends with "kunit: N passed, N failed, N skipped"
# and exits non-zero when anything failed.  A failed build, a crashed
# kernel, a checker's report or a leak counts as a failure, never as zero
# tests.
#
# Usage: tools/kunit.sh                        on the debug kernel, in the VM
#        tools/kunit.sh --uml [kunit.py run options...]
# Environment: QKD_KUNIT_TIMEOUT (the VM's, default 600 s).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)

# The root itself failed, or the debug kernel did not build: still one
# failure, never zero tests.
no_counts() {
	if [ ! -s "$repo/build/results/kunit.counts" ]; then
		echo "0 1 0" >"$repo/build/results/kunit.counts"
		echo "kunit: 0 passed, 1 failed, 0 skipped"
		exit 1
	fi
}

if [ "${1:-}" != --in-root ] && [ "${1:-}" != --uml ]; then
	cd "$repo"
	mkdir -p build/results
	rm -f build/results/kunit.counts
	if ! tools/debug-kernel.sh >/dev/null; then
		echo "kunit: the debug kernel or the test module did not build"
		no_counts
	fi
	rc=0
	QKD_VM_FORKY=0 tools/vm-run.sh --debug-kernel --name kunit \
		--timeout "${QKD_KUNIT_TIMEOUT:-600}" tests/vm/kunit.sh || rc=$?
	# kunit.py parse prints the results as kunit.py run does; its JSON
	# is what is counted.
	# The log from the script's start: the boot prints a KTAP of its
	# own ("1..0", no built-in suite), which would end the parse.
	sed -n '/^qkd-vm: running /,$p' build/vm/kunit.log >build/vm/kunit.ktap
	tools/inroot.sh /bin/bash -c '
		tree=$(/src/tools/linux-src.sh)
		json=$(mktemp)
		python3 "$tree/tools/testing/kunit/kunit.py" parse --json="$json" \
			/src/build/vm/kunit.ktap || true
		python3 /src/tools/kunit-counts.py "$json" /src/build/vm/kunit.ktap \
			"$1" /src/build/results/kunit.counts
		s=$?
		rm -f "$json"
		exit $s' kunit "$rc" || rc=1
	no_counts
	exit "$rc"
fi
if [ "${1:-}" = --uml ]; then
	shift
	mkdir -p "$repo/build/results"
	rm -f "$repo/build/results/kunit.counts"
	rc=0
	"$repo/tools/inroot.sh" /src/tools/kunit.sh --in-root "$@" || rc=$?
	no_counts
	exit "$rc"
fi
shift

# The kernel tree and the build directory are shared by every checkout
# that uses this root: one run at a time, the others wait.
mkdir -p /var/cache/qkd-kunit
exec 9>/var/cache/qkd-kunit/lock
if ! flock -n 9; then
	echo "kunit: waiting for another KUnit run in this root" >&2
	flock 9
fi

tree=$(/src/tools/linux-src.sh)
build=/var/cache/qkd-kunit/build
results=/src/build/results
dst=$tree/drivers/net/qkdpool
json=$(mktemp)
trap 'rm -f "$json"' EXIT

# Copy only what changed, so that make sees new times on changed files only.
sync_file() {
	mkdir -p "$(dirname "$2")"
	cmp -s "$1" "$2" || cp "$1" "$2"
}

for f in store.c store.h tag.c tag.h ke.c ke.h cursor.c cursor.h \
	store_test.c tag_test.c ke_test.c cursor_test.c Kconfig .kunitconfig; do
	sync_file "/src/kmod/$f" "$dst/$f"
done
# The uapi header lives under the driver, not in the tree's include/: the
# tree stays Debian's apart from the two hooks below.
sync_file /src/include/uapi/linux/qkd.h "$dst/include/uapi/linux/qkd.h"

# KUnit covers the store, the tag, the key exchange counters and the dump
# cursor; netlink
# and the rest of the module are tested against the real module in the VM.
makefile=$(mktemp)
cat >"$makefile" <<'EOF'
# SPDX-License-Identifier: GPL-2.0
# Written by tools/kunit.sh of qkd-ipsec.
ccflags-y += -I$(src)/include
obj-$(CONFIG_QKDPOOL) += qkdpool.o
qkdpool-y := store.o tag.o ke.o cursor.o
EOF
sync_file "$makefile" "$dst/Makefile"
rm -f "$makefile"

grep -q '^source "drivers/net/qkdpool/Kconfig"' "$tree/drivers/net/Kconfig" ||
	echo 'source "drivers/net/qkdpool/Kconfig"' >>"$tree/drivers/net/Kconfig"
grep -q '^obj-$(CONFIG_QKDPOOL)' "$tree/drivers/net/Makefile" ||
	echo 'obj-$(CONFIG_QKDPOOL) += qkdpool/' >>"$tree/drivers/net/Makefile"

mkdir -p "$build" "$results"
rm -f "$build/test.log"
cd "$tree"
rc=0
# KASAN reports fail the running test by themselves; UBSAN's and other
# splats are caught from the log below.  UBSAN's alignment check is off:
# x86 allows unaligned access and the core kernel trips it all over on UML.
# KASAN is generic KASAN (UML supports it on x86_64 since 5.16).
python3 tools/testing/kunit/kunit.py run \
	--build_dir="$build" \
	--kunitconfig=drivers/net/qkdpool \
	--kconfig_add CONFIG_KASAN=y \
	--kconfig_add CONFIG_UBSAN=y \
	--kconfig_add CONFIG_UBSAN_ALIGNMENT=n \
	--jobs="$(nproc)" \
	--timeout=300 \
	--json="$json" \
	"$@" 'qkd_*' || rc=$?

python3 /src/tools/kunit-counts.py "$json" "$build/test.log" "$rc" "$results/kunit.counts"
