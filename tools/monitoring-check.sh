#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The monitoring suite of `make check`, inside the build root
# (tools/inroot.sh tools/monitoring-check.sh): the Prometheus rules
# (promtool check rules; promtool test rules on their unit tests) and
# systemd-analyze verify on every shipped unit.  Writes
# build/results/monitoring.counts ("PASSED FAILED SKIPPED").
set -uo pipefail

cd /src || exit 1
mon=userspace/monitoring
passed=0 failed=0

one() {
	local what=$1
	shift
	local out
	if out=$("$@" 2>&1); then
		passed=$((passed + 1))
		echo "PASS $what"
	else
		failed=$((failed + 1))
		echo "FAIL $what"
		echo "$out" | sed 's/^/    /'
	fi
}

one "promtool check rules $mon/qkd.rules.yml" promtool check rules "$mon/qkd.rules.yml"
one "promtool test rules $mon/qkd.rules.test.yml" \
	bash -c "cd $mon && promtool test rules qkd.rules.test.yml"
# verify resolves ExecStart's binaries: the units name /usr/sbin paths,
# which the packages install; here they are linked from the build for
# the check's time (the root is ours, and nothing else uses those paths).
linked=()
for b in qkdctl qkd-linkd; do
	if [ ! -e "/usr/sbin/$b" ]; then
		ln -s "/src/build/userspace/$b" "/usr/sbin/$b"
		linked+=("/usr/sbin/$b")
	fi
done
for u in userspace/linkd/qkd-linkd.service $mon/qkd-metrics.service \
	 $mon/qkd-metrics.timer; do
	# verify checks a timer's service beside it, by path
	one "systemd-analyze verify $u" \
		bash -c "cd $(dirname "$u") && systemd-analyze verify --man=no $(basename "$u") 2>&1 |
			grep -v '^$' | { ! grep .; }"
done
rm -f "${linked[@]}"

mkdir -p build/results
echo "$passed $failed 0" >build/results/monitoring.counts
echo "monitoring: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
