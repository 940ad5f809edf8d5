#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A caller without CAP_NET_ADMIN: every operation that changes a pool
(ke-report included, with or without a pool ID: operators must not fake
its counters) or reads keys is denied with EPERM and changes nothing;
pool-get, its dump and ke-stats-get are open to any user of the namespace (documented choice: they hold no key
material).

The unprivileged client is this file run again with --child under setpriv,
once as nobody with no capabilities at all, once as root with only
CAP_NET_ADMIN dropped (the check is on the capability, not on the uid)."""

import errno
import json
import os
import subprocess
import sys

from qkdlab.tap import check, eq, main, test
from qkdlab.pools import NlError, clean_pools, family, key_id, keys, material, settled

SETPRIV_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                  "--inh-caps=-all", "--bounding-set=-all", "--"]
SETPRIV_NO_NETADMIN = ["setpriv", "--inh-caps=-net_admin",
                       "--bounding-set=-net_admin", "--"]


def child(pid):
    fam = family()
    kid = key_id("PERM", 900)
    res = {"uid": os.getuid(),
           "capeff": [ln.split()[1] for ln in open("/proc/self/status")
                      if ln.startswith("CapEff")][0]}

    def run(name, op, attrs, dump=False):
        try:
            r = fam.dump(op, attrs) if dump else fam.do(op, attrs)
            res[name] = {"errno": 0, "reply": r}
        except NlError as e:
            res[name] = {"errno": e.error}

    run("pool-new", "pool-new", {"name": "intruder"})
    run("pool-set", "pool-set", {"id": pid, "capacity": 7, "low-watermark": 1,
                                 "high-watermark": 2})
    run("key-add", "key-add", {"id": pid, "direction": "out",
                               "key": [{"id": kid, "material": material(kid)}]})
    run("key-take-out", "key-take", {"id": pid, "direction": "out"})
    run("key-take-in", "key-take", {"id": pid, "direction": "in",
                                    "key-id": key_id("PERM", 10)})
    run("key-flush", "key-flush", {"id": pid})
    run("pool-del", "pool-del", {"id": pid})
    run("ke-report", "ke-report", {"id": pid, "ke-outcome": "qkd"})
    run("ke-report-reason", "ke-report", {"id": pid, "ke-outcome": "fallback",
                                          "ke-reason": "empty"})
    run("ke-report-no-pool", "ke-report", {"ke-outcome": "fallback",
                                           "ke-reason": "no-pool"})
    run("ke-stats-get", "ke-stats-get", {})
    run("pool-get", "pool-get", {"id": pid})
    run("pool-get-name", "pool-get", {"name": "perm"})
    run("pool-dump", "pool-get", {}, dump=True)
    print(json.dumps(res, default=lambda b: b.hex()))


if len(sys.argv) > 2 and sys.argv[1] == "--child":
    child(int(sys.argv[2]))
    sys.exit(0)

fam = family()
clean_pools(fam)
pid = fam.do("pool-new", {"name": "perm", "capacity": 100, "low-watermark": 10,
                          "high-watermark": 50})["id"]
fam.do("key-add", {"id": pid, "direction": "out", "key": keys("PERM", 0, 10)})
fam.do("key-add", {"id": pid, "direction": "in", "key": keys("PERM", 10, 10)})
ref = fam.do("pool-get", {"id": pid})
ns_ref = fam.do("ke-stats-get", {})["ke-stats"]


def run_child(prefix):
    p = subprocess.run(prefix + [sys.executable, os.path.abspath(__file__),
                                 "--child", str(pid)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(f"child failed ({p.returncode}): {p.stderr}")
    return json.loads(p.stdout)


def check_denied(res, who):
    for op in ("pool-new", "pool-set", "key-add", "key-take-out", "key-take-in",
               "key-flush", "pool-del", "ke-report", "ke-report-reason",
               "ke-report-no-pool"):
        got = res[op]["errno"]
        eq(errno.errorcode.get(got, got), "EPERM", f"{who}: {op}")
    now = fam.do("pool-get", {"id": pid})
    eq(settled(now), settled(ref), f"{who}: pool changed by denied requests")
    eq(now["ke-stats"], ref["ke-stats"], f"{who}: ke-stats changed by a denied ke-report")
    eq(fam.do("ke-stats-get", {})["ke-stats"], ns_ref,
       f"{who}: namespace ke-stats changed by a denied ke-report without a pool")
    eq([p["name"] for p in fam.dump("pool-get", {})], ["perm"],
       f"{who}: pools after denied requests")


def check_reads(res, who):
    for op in ("pool-get", "pool-get-name"):
        eq(res[op]["errno"], 0, f"{who}: {op} errno")
        r = res[op]["reply"]
        eq((r["id"], r["name"], r["stats-out"]["level"], r["stats-in"]["level"]),
           (pid, "perm", 10, 10), f"{who}: {op} reply")
        check("key" not in r, f"{who}: {op} reply has a key")
    eq(res["pool-dump"]["errno"], 0, f"{who}: dump errno")
    eq(res["ke-stats-get"]["errno"], 0, f"{who}: ke-stats-get errno")
    eq(res["ke-stats-get"]["reply"], {"ke-stats": ns_ref}, f"{who}: ke-stats-get reply")
    eq([p["id"] for p in res["pool-dump"]["reply"]], [pid], f"{who}: dumped ids")


nobody = {}
noadmin = {}


@test("perm: nobody without capabilities is denied new/set/del/add/take/flush (EPERM)")
def _():
    nobody.update(run_child(SETPRIV_NOBODY))
    eq(nobody["uid"], 65534, "child uid")
    eq(int(nobody["capeff"], 16), 0, "child effective capabilities")
    check_denied(nobody, "nobody")


@test("perm: nobody may pool-get (by id and name) and dump")
def _():
    check(nobody, "no result from the nobody child")
    check_reads(nobody, "nobody")


@test("perm: root without CAP_NET_ADMIN is denied, may read")
def _():
    noadmin.update(run_child(SETPRIV_NO_NETADMIN))
    eq(noadmin["uid"], 0, "child uid")
    cap = int(noadmin["capeff"], 16)
    eq(cap & (1 << 12), 0, "CAP_NET_ADMIN in the child")
    check(cap != 0, "the child kept its other capabilities")
    check_denied(noadmin, "root without CAP_NET_ADMIN")
    check_reads(noadmin, "root without CAP_NET_ADMIN")


@test("perm: with CAP_NET_ADMIN the same requests work")
def _():
    r = fam.do("key-take", {"id": pid, "direction": "out"})
    eq(r["key"][0]["id"], key_id("PERM", 0), "first outbound key")
    fam.do("ke-report", {"id": pid, "ke-outcome": "refused"})
    eq(fam.do("pool-get", {"id": pid})["ke-stats"]["refused"], 1, "ke-report with CAP_NET_ADMIN")
    eq(fam.do("key-flush", {"id": pid}), {"count": 19}, "flush")
    fam.do("pool-del", {"id": pid})
    eq(fam.dump("pool-get", {}), [], "pools left")


main()
