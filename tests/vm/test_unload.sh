#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Unloading qkdpool with full pools, in two namespaces, with a monitor
# subscribed: rmmod succeeds, the module and its genetlink family are gone,
# a reload works and starts with no pools.  tools/vm-run.sh fails the run on
# any WARNING, oops or BUG in the kernel log.
#
#    init_net                 qkd-unload
#    +--------------------+   +--------------------+
#    | pool u0: 64+64 keys|   | pool u1: 64+64 keys|
#    | ynl --subscribe    |   |                    |
#    +--------------------+   +--------------------+
#              \                    /
#               rmmod qkdpool ; insmod qkdpool.ko
#
# Prints unnumbered TAP lines; run.sh numbers them.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=${QKD_REPO:-$(cd "$here/../.." && pwd)}
ko=${QKD_KO:-$repo/kmod/qkdpool.ko}
spec=$repo/Documentation/netlink/specs/qkd.yaml
cli=$(ls /usr/src/linux-source-*/tools/net/ynl/cli.py | sort -V | tail -n 1)
ns=qkd-unload
failed=0

ynl() { python3 "$cli" --spec "$spec" --no-schema --output-json "$@"; }
# Print each command with the namespace it runs in, as WireGuard's netns.sh.
pp() { echo "[${NS:-init}] $*" >&2; "$@"; }
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $1"; shift; for l in "$@"; do echo "# $l"; done; failed=1; }
cleanup() {
	[ -n "${sub:-}" ] && kill "$sub" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	lsmod | grep -q '^qkdpool ' || insmod "$ko" 2>/dev/null
}
trap cleanup EXIT

# fill NAME TAG [NETNS]: a pool of capacity 64 with 64 keys each way; prints
# the two levels.  The ynl library in one process (the CLI would cost one
# Python start-up per request under TCG).
fill() {
	python3 - "$@" <<'PY'
import os, sys
from qkdlab.pools import family, keys
name, tag = sys.argv[1], sys.argv[2]
if len(sys.argv) > 3:
    os.setns(os.open("/run/netns/" + sys.argv[3], os.O_RDONLY), os.CLONE_NEWNET)
f = family()
pid = f.do("pool-new", {"name": name, "capacity": 64})["id"]
f.do("key-add", {"id": pid, "direction": "out", "key": keys(tag + "o", 0, 64)})
f.do("key-add", {"id": pid, "direction": "in", "key": keys(tag + "i", 0, 64)})
p = f.do("pool-get", {"id": pid})
print(p["stats-out"]["level"], p["stats-in"]["level"])
PY
}
export PYTHONPATH=$repo/tests/lib${PYTHONPATH:+:$PYTHONPATH}

pp ip netns add "$ns" || not_ok "netns add"

levels0=$(fill u0 U0) ; levels1=$(fill u1 U1 "$ns")
if [ "$levels0" = "64 64" ] && [ "$levels1" = "64 64" ]; then
	ok "unload: two full pools in two namespaces"
else
	not_ok "unload: two full pools in two namespaces" "levels: init '$levels0', $ns '$levels1'"
fi

# A subscriber stays on the monitor group across the unload.
ynl --subscribe monitor --sleep 30 >/dev/null 2>&1 &
sub=$!
sleep 2

if out=$(pp rmmod qkdpool 2>&1); then
	ok "unload: rmmod with full pools"
else
	not_ok "unload: rmmod with full pools" "$out"
fi

if lsmod | grep -q '^qkdpool ' || [ -e /sys/module/qkdpool ]; then
	not_ok "unload: module gone" "$(lsmod | grep qkdpool)"
else
	ok "unload: module gone"
fi

out=$(ynl --dump pool-get 2>&1)
if [ $? -ne 0 ] && grep -q "not supported by the kernel" <<<"$out"; then
	ok "unload: the qkd family is unregistered"
else
	not_ok "unload: the qkd family is unregistered" "ynl dump: $out"
fi
kill "$sub" 2>/dev/null; wait "$sub" 2>/dev/null; sub=

if out=$(pp insmod "$ko" 2>&1); then
	ok "unload: reload"
else
	not_ok "unload: reload" "$out"
fi

d0=$(ynl --dump pool-get 2>&1) ; d1=$(NS=$ns; ip netns exec "$ns" python3 "$cli" \
	--spec "$spec" --no-schema --output-json --dump pool-get 2>&1)
if [ "$d0" = "[]" ] && [ "$d1" = "[]" ]; then
	ok "unload: no pools after reload, in either namespace"
else
	not_ok "unload: no pools after reload, in either namespace" "init: $d0" "$ns: $d1"
fi

levels=$(fill u0 U0)
if [ "$levels" = "64 64" ]; then
	ok "unload: the reloaded module takes the same pool and keys again"
else
	not_ok "unload: the reloaded module takes the same pool and keys again" "levels '$levels'"
fi
ynl --do pool-del --json '{"name": "u0"}' >/dev/null

pp ip netns del "$ns"
exit $failed
