#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark, inside the VM (tools/bench.sh, behind `make bench`, boots
# it with tools/vm-run.sh):
#
#	tools/vm-run.sh --name bench --module mem_limit=1073741824 bench/run.sh
#
# With the module loaded (a mem_limit of 1 GiB: the memory figure holds
# 10,000 pools of 100 keys, about 90 MiB of key storage), runs
# build/bench/qkd-bench, then qkd-linkd against the KME simulator
# (bench/linkd_bench.py), then the CHILD_SA re-key bench on the
# plugin's lab (bench/rekey_bench.py: latency, one at a time; then
# bench/rekey_throughput.py: capacity, many at once; bench/scale_bench.py:
# 1,000 CHILD_SAs over 18 peers re-keyed continuously).  Prints the benches' diagnostics ("# ...") and then their
# tables.  Exit status: 0 when every figure was measured, whatever the
# targets; 1 when a figure is missing or a run was invalid.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
bench=${QKD_BENCH:-$repo/build/bench/qkd-bench}

if [ ! -x "$bench" ]; then
	echo "bench: $bench is not built (make bench builds it)" >&2
	exit 1
fi
echo "# kernel $(uname -r), $(nproc) CPUs," \
	"$(awk '/^MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo)"
out=$(mktemp)
"$bench" "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}

# qkd-linkd against the KME simulator, in the same boot, so that a key
# fetched from the KME can be set beside a key taken from the pool.
linkd=$("${QKD_PYTHON:-python3}" "$repo/bench/linkd_bench.py" 2>&1) || status=1
printf '%s\n' "$linkd" | grep '^#'
rtt=$(printf '%s\n' "$linkd" | awk '$1 == "enc_keys_rtt_us" { print $2 }')
fill=$(printf '%s\n' "$linkd" | awk '$1 == "linkd_fill_rate" { print $2 }')
fill1w1=$(printf '%s\n' "$linkd" | awk '$1 == "linkd_fill_1key_w1" { print $2 }')
fill1=$(printf '%s\n' "$linkd" | awk '$1 == "linkd_fill_1key" { print $2 }')
slow1w1=$(printf '%s\n' "$linkd" | awk '$1 == "linkd_fill_1key_slow_w1" { print $2 }')
slow1=$(printf '%s\n' "$linkd" | awk '$1 == "linkd_fill_1key_slow" { print $2 }')
take=$(awk '/^take out \(next\)/ { for (i = 1; i < NF; i++) if ($i == "p50") print $(i + 1) }' "$out")
rm -f "$out"
if [ -n "$rtt" ] && [ -n "$fill" ] && [ -n "$take" ] && [ -n "$fill1" ] &&
   [ -n "$fill1w1" ] && [ -n "$slow1" ] && [ -n "$slow1w1" ]; then
	echo
	printf '%-32s %-28s %s\n' "measure (qkd-linkd)" "value" "beside the pool"
	printf '%-32s %-28s %s\n' "enc_keys round trip, 1 key" "$rtt us" \
		"take out p50 $take us: $(awk -v a="$rtt" -v b="$take" 'BEGIN { printf "%.0f", a / b }')x slower"
	printf '%-32s %-28s %s\n' "fill, unlimited link" "$fill keys/s" \
		"$(awk -v k="$fill" 'BEGIN { printf "%.2f Mbit/s of 256-bit keys, both ways", k * 256 / 1e6 }')"
	printf '%-32s %-28s %s\n' "fill, 1 key per KME request" "$fill1 keys/s" \
		"$(awk -v a="$fill1" -v b="$fill1w1" 'BEGIN { printf "%.2fx the %s keys/s of one offer in flight", a / b, b }')"
	printf '%-32s %-28s %s\n' "fill, 1 key/request, 50 ms KME" "$slow1 keys/s" \
		"$(awk -v a="$slow1" -v b="$slow1w1" 'BEGIN { printf "%.2fx the %s keys/s of one offer in flight", a / b, b }')"
else
	echo "bench: qkd-linkd figures missing" >&2
	status=1
fi

# CHILD_SA re-keys with and without the qkd round, on the plugin's
# two-router lab (bench/rekey_bench.py prints its diagnostics and table).
"${QKD_PYTHON:-python3}" "$repo/bench/rekey_bench.py" || status=1

# The same proposals' re-key capacity: N CHILD_SAs on N IKE_SAs re-keyed
# at once (bench/rekey_throughput.py, its own lab).
"${QKD_PYTHON:-python3}" "$repo/bench/rekey_throughput.py" || status=1

# One router with 1,000 CHILD_SAs over 18 peers' pools, re-keyed
# continuously, and the pool take latency beside that load
# (bench/scale_bench.py, its own namespaces and charons).
"${QKD_PYTHON:-python3}" "$repo/bench/scale_bench.py" || status=1

exit "$status"
