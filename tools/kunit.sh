#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the module's KUnit suites (qkd_*) with kunit.py on a UML kernel built
# from Debian's linux-source inside the trixie build root, with KASAN and
# UBSAN.  kmod/ is placed into that tree as drivers/net/qkdpool/; the build
# directory stays in the root (/var/cache/qkd-kunit), so later runs are
# incremental (cold: about 4 min on 2 cores, warm: seconds).
#
# Prints kunit.py's results, writes build/results/kunit.counts with one line
# "PASSED FAILED SKIPPED" (test cases, each parameter counted), ends with
# "kunit: N passed, N failed, N skipped" and exits non-zero when anything
# failed.  A failed build or a crashed kernel counts as a failure, never as
# zero tests.
#
# Usage: tools/kunit.sh [kunit.py run options...]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" != --in-root ]; then
	mkdir -p "$repo/build/results"
	rm -f "$repo/build/results/kunit.counts"
	rc=0
	"$repo/tools/inroot.sh" /src/tools/kunit.sh --in-root "$@" || rc=$?
	if [ ! -s "$repo/build/results/kunit.counts" ]; then
		# The root itself failed: still one failure, never zero tests.
		echo "0 1 0" >"$repo/build/results/kunit.counts"
		echo "kunit: 0 passed, 1 failed, 0 skipped"
		exit 1
	fi
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

python3 - "$json" "$build/test.log" "$rc" "$results/kunit.counts" <<'EOF'
import json, re, sys

json_path, log_path, rc, counts_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
passed = failed = skipped = 0

def walk(group):
    global passed, failed, skipped
    for case in group.get("test_cases", []):
        st = case.get("status")
        if st == "PASS":
            passed += 1
        elif st == "SKIP":
            skipped += 1
        else:
            failed += 1
            print(f"kunit: FAILED {group.get('name')}.{case.get('name')}: {st}")
    for sub in group.get("sub_groups", []):
        walk(sub)

try:
    with open(json_path) as f:
        walk(json.load(f))
except (OSError, ValueError):
    pass

# Sanitizer and kernel splats that do not fail a KUnit case by themselves,
# from the moment the tests start (UML's boot has a WARNING of its own when
# no virtio PCI device is given).
splats = []
try:
    with open(log_path, errors="replace") as f:
        started = False
        for line in f:
            started = started or re.search(r"\bK?TAP version", line)
            if started and re.search(r"UBSAN:|BUG:|WARNING:|Oops|Kernel panic", line):
                splats.append(line.rstrip())
except OSError:
    pass
for line in splats:
    print(f"kunit: kernel log: {line}")
# A splat fails the run; it counts as one more failure unless a case
# failed already (KASAN fails the case it hit).
if splats and failed == 0:
    failed = 1
# A failed build, a crash or no test at all is a failure, never zero tests.
if (rc != 0 or passed + skipped == 0) and failed == 0:
    print(f"kunit: kunit.py exited {rc} with {passed + skipped} tests run")
    failed = 1

with open(counts_path, "w") as f:
    f.write(f"{passed} {failed} {skipped}\n")
print(f"kunit: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
EOF
