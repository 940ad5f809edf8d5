# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the check-based suites' run.sh (userspace/, strongswan-plugin/):
# run one unit-test binary under ASan and UBSan and add its counts to the
# caller's $passed and $failed.
#
# The binary writes "PASSED FAILED" to the file named by its argument.  A
# binary that wrote no counts, or crashed after counting none failed, is
# one more failure: a runner that dies must never look like a clean run.

# run_unit_tests BINARY COUNTS-FILE
run_unit_tests() {
	local bin=$1 counts=$2 rc p f

	rm -f "$counts"
	echo "== unit tests (ASan + UBSan)"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$bin" "$counts"
	rc=$?
	if [ -s "$counts" ]; then
		read -r p f <"$counts"
		passed=$((passed + p)) failed=$((failed + f))
		[ $rc -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
	else
		echo "$(basename "$bin") did not report (exit $rc)"
		failed=$((failed + 1))
	fi
	return 0
}
