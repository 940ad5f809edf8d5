#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run libqkd's and qkdctl's unit tests and fuzzers (built by `make check`)
# and write $RESULTS/userspace.counts: "PASSED FAILED SKIPPED", counting
# each check test case and each fuzz run as one test.
#
# Environment (set by the Makefile): O (build dir), FUZZ_DIR, RESULTS, FUZZ_TIME,
# FUZZERS, HAVE_LIBFUZZER.
set -u

. "$(dirname "$0")/../../tools/unit-tests.sh"

passed=0 failed=0 skipped=0
run_unit_tests "$O/unit-tests" "$O/unit.counts"
run_unit_tests "$O/linkd-daemon-tests" "$O/daemon.counts"

# The ABI: libqkd.so.0 exports exactly the functions of the version script
# (lib/libqkd.map), each with version LIBQKD_0, and nothing else.
echo "== exported symbols of libqkd.so.0"
map="$(dirname "$0")/../lib/libqkd.map"
want=$(sed -n 's/^[[:space:]]*\(qkd_[a-z0-9_]*\);$/\1@@LIBQKD_0/p' "$map" | sort | xargs)
got=$(nm -D --defined-only --with-symbol-versions "$O/libqkd.so.0" |
	awk '$2 == "T" { print $3 }' | sort | xargs)
if [ -n "$want" ] && [ "$got" = "$want" ]; then
	echo "$(wc -w <<<"$got") symbols, as lib/libqkd.map lists them"
	passed=$((passed + 1))
else
	echo "libqkd.so.0 exports: $got"
	echo "lib/libqkd.map says: $want"
	failed=$((failed + 1))
fi

corpus="$O/corpus"
rm -rf "$corpus"
mkdir -p "$corpus/seed-reply" "$corpus/seed-notify"
if ! "$O/gen-corpus" "$corpus/seed-reply" "$corpus/seed-notify"; then
	echo "gen-corpus failed"
	failed=$((failed + 1))
fi

if [ "$HAVE_LIBFUZZER" = yes ]; then
	mode="libFuzzer"
else
	mode="built-in mutation driver (libFuzzer runtime not installed)"
fi
for fz in $FUZZERS; do
	seeds="$corpus/seed-${fz#fuzz_}"
	# Committed seeds (fuzz/seeds/NAME) for the fuzzers gen-corpus does not feed.
	mkdir -p "$seeds"
	cp "$(dirname "$0")/../fuzz/seeds/${fz#fuzz_}"/* "$seeds" 2>/dev/null
	work="$corpus/work-$fz"
	mkdir -p "$work"
	echo "== $fz: ${FUZZ_TIME}s, $mode"
	log="$O/$fz.log"
	if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
	   "$FUZZ_DIR/$fz" -max_total_time="$FUZZ_TIME" -print_final_stats=1 \
		-artifact_prefix="$O/$fz-" "$work" "$seeds" > "$log" 2>&1; then
		grep -E "number_of_executed_units|new_units_added|^driver:" "$log"
		passed=$((passed + 1))
	else
		tail -n 40 "$log"
		echo "$fz FAILED (crash input saved as $O/$fz-*)"
		failed=$((failed + 1))
	fi
done

mkdir -p "$RESULTS"
echo "$passed $failed $skipped" > "$RESULTS/userspace.counts"
echo "== userspace: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
