#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The VM tests of the qkdpool module: run inside the VM as root by
#
#	tools/vm-run.sh tests/vm/run.sh
#
# Loads /src/kmod/qkdpool.ko, runs every test file against it with the
# kernel's own ynl (CLI and library, from Debian's linux-source tree) reading
# Documentation/netlink/specs/qkd.yaml, and prints TAP:
#
#	ok N - name            not ok N - name          ok N - name # SKIP why
#	# diagnostics          1..N
#
# Exit status: 0 when every test passed, 1 otherwise.  The test files print
# unnumbered TAP lines ("ok - name"); this script numbers them, turns any
# other output into diagnostics, and reports a file that exits non-zero
# without a failing test as a failure of its own.
#
# The files and what each tests: tests/vm/TESTS, in the order run.
# Each is usable alone once the module is loaded; the helpers they share
# are the package tests/lib/qkdlab (on PYTHONPATH in the VM).
#
# On a kernel with kmemleak (the debug kernel: tools/run-tests.sh debugvm)
# debugk_check.sh runs before the tests and after the final rmmod: lockdep
# still on, no leak.
#
# Environment: QKD_KO (module path), QKD_TESTS (space-separated subset of
# tests/vm/TESTS), e.g. tools/vm-run.sh --env QKD_TESTS=test_lab.py tests/vm/run.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export QKD_REPO=$repo QKD_KO=${QKD_KO:-$repo/kmod/qkdpool.ko}
export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
export PYTHONPATH=$repo/tests/lib${PYTHONPATH:+:$PYTHONPATH}
tests=${QKD_TESTS:-$(awk '!/^#/ && NF { print $1 }' "$here/TESTS")}

n=0
failed=0
skipped=0

# Number the TAP lines of one test file; everything else is a diagnostic.
tap() {
	local line
	while IFS= read -r line; do
		case $line in
		"ok - "*)
			n=$((n + 1))
			case $line in *" # SKIP"*) skipped=$((skipped + 1)) ;; esac
			echo "ok $n - ${line#ok - }" ;;
		"not ok - "*)
			n=$((n + 1)); failed=$((failed + 1))
			echo "not ok $n - ${line#not ok - }" ;;
		"#"*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done
}

start=$(date +%s)
fifo=$(mktemp -u /tmp/qkd-vm-tap.XXXXXX)
trap 'rm -f "$fifo"' EXIT
rm -f /tmp/qkd-test-materials
debugk=
[ -e /sys/kernel/debug/kmemleak ] && debugk=1
if [ -n "$debugk" ]; then
	out=$(bash "$here/debugk_check.sh" start 2>&1)
	[ -z "$out" ] || tap <<<"$out"
fi
if [ -e /sys/module/qkdpool ]; then
	rmmod qkdpool
fi
if out=$(insmod "$QKD_KO" 2>&1); then
	tap <<<"ok - module loads: insmod $QKD_KO"
else
	tap <<<"not ok - module loads: insmod $QKD_KO"
	echo "# $out"
	echo "1..$n"
	exit 1
fi

for t in $tests; do
	t0=$(date +%s)
	before=$failed
	# A FIFO, not <(...): the VM has no /dev/fd.
	rm -f "$fifo"; mkfifo "$fifo"
	case $t in
	*.py) (cd "$here" && exec python3 "$here/$t") >"$fifo" 2>&1 & ;;
	*) (cd "$here" && exec bash "$here/$t") >"$fifo" 2>&1 & ;;
	esac
	pid=$!
	tap <"$fifo"
	wait "$pid"
	status=$?
	if [ "$status" -ne 0 ] && [ "$failed" -eq "$before" ]; then
		tap <<<"not ok - $t exited with status $status"
	fi
	echo "# $t: $(( $(date +%s) - t0 )) s"
	if [ ! -e /sys/module/qkdpool ]; then
		tap <<<"not ok - module not loaded after $t"
		insmod "$QKD_KO" || true
	fi
done

if out=$(rmmod qkdpool 2>&1); then
	tap <<<"ok - module unloads at the end"
else
	tap <<<"not ok - module unloads at the end"
	echo "# $out"
fi

if [ -n "$debugk" ]; then
	tap <<<"$(bash "$here/debugk_check.sh" end 2>&1)"
fi

echo "1..$n"
echo "# $((n - failed - skipped)) passed, $failed failed, $skipped skipped in $(( $(date +%s) - start )) s"
[ "$failed" -eq 0 ]
