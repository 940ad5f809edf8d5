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
# Files (each usable alone once the module is loaded):
#   qkdtest.py       helpers: ynl paths, family open, expect_error, TAP
#   test_ops.py      every operation and notification (CLI and library)
#   test_errors.py   every error: errno, extack, nothing changed
#   test_perm.py     callers without CAP_NET_ADMIN
#   test_netns.py    two network namespaces (picture in the file)
#   test_bulk.py     100,000 keys, counters reconciled, material checked
#   test_memlimit.py the mem_limit parameter (reloads the module)
#   test_unload.sh   rmmod with full pools, reload (picture in the file)
#   test_qkdctl.py   every qkdctl subcommand, its output checked (reloads)
#   test_linkd.py    qkd-linkd: two routers and the KME simulator (picture in the file)
#   test_linkd_field.py qkd-linkd in the field: module reload, listener flood,
#                    KME outage and fast restore (picture in the file)
#   test_linkd_foreign.py qkd-linkd against foreign KMEs: upper-case and non-UUID
#                    key IDs, one dec_keys method only, odd status answers
#   test_plugin.py   the strongSwan plugin: two routers re-keying from the pools
#   test_lab.py      the whole lab: KME simulator, qkd-linkd, charon; QKD link cut and restored
#   test_versions.py the plugin in trixie's charon 6.0.1 and forky's 6.1.0 (at /forky) re-keying
#   test_field.py    the plugin in the field: %any identities, NAT, two peers behind
#                    one NAT address, module reload (pictures in the file)
#   test_packages.py the Debian packages (make deb) installed: DKMS, modules-load,
#                    the lab from the installed binaries, purge (reloads)
#   test_log.py      no key material in the kernel log
#
# Environment: QKD_KO (module path), QKD_TESTS (space-separated subset).
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export QKD_REPO=$repo QKD_KO=${QKD_KO:-$repo/kmod/qkdpool.ko}
export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
tests=${QKD_TESTS:-test_ops.py test_errors.py test_perm.py test_netns.py \
test_bulk.py test_memlimit.py test_unload.sh test_qkdctl.py test_linkd.py \
test_linkd_field.py test_linkd_foreign.py test_plugin.py test_lab.py test_field.py \
test_versions.py test_packages.py test_log.py}

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

echo "1..$n"
echo "# $((n - failed - skipped)) passed, $failed failed, $skipped skipped in $(( $(date +%s) - start )) s"
[ "$failed" -eq 0 ]
