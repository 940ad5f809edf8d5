#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Pools live per network namespace.

    +------------------- VM kernel, module qkdpool -------------------+
    |                                                                 |
    |  init_net            qkd-ns-a                 qkd-ns-b          |
    |  (none here)   +-----------------+     +-----------------+      |
    |                | pool "peer" id=a|     | pool "peer" id=b|      |
    |                | out: A0..A9     |     | out: B0..B4     |      |
    |                | in:  A10..A14   |     | in:  B10..B14   |      |
    |                +-----------------+     +-----------------+      |
    |                   ^  ynl lib (setns)      ^  ynl CLI              |
    |                   |  ynl CLI (ip netns exec)                    |
    +-----------------------------------------------------------------+

Same name in both, ids independent, neither sees, takes or deletes the
other's pools or keys, monitors hear only their own namespace, and deleting
a namespace with full pools frees them (the harness fails the run on any
WARNING or oops)."""

import errno
import json
import subprocess

from qkdlab.proc import in_ns, sh
from qkdlab.tap import check, eq, main, test
from qkdlab.pools import (clean_pools, cli, cli_do, events, expect_error, family, keys, monitor,
                          take_key)

NS = ("qkd-ns-a", "qkd-ns-b")


for ns in NS:
    sh("ip", "netns", "del", ns, check=False)
    sh("ip", "netns", "add", ns)

root = family()
clean_pools(root)
fa = in_ns(NS[0], family)
fb = in_ns(NS[1], family)
ma = in_ns(NS[0], monitor)
mb = in_ns(NS[1], monitor)
m0 = monitor()
ka = keys("NSA0", 0, 15)
kb = keys("NSB0", 0, 15)
ids = {}


@test("netns: the same pool name in two namespaces, independent ids")
def _():
    ids["a"] = fa.do("pool-new", {"name": "peer", "capacity": 64,
                                  "low-watermark": 2, "high-watermark": 8})["id"]
    ids["b"] = fb.do("pool-new", {"name": "peer", "capacity": 32})["id"]
    eq(fa.do("pool-get", {"name": "peer"})["capacity"], 64, "capacity in a")
    eq(fb.do("pool-get", {"name": "peer"})["capacity"], 32, "capacity in b")
    eq([p["id"] for p in fa.dump("pool-get", {})], [ids["a"]], "dump in a")
    eq([p["id"] for p in fb.dump("pool-get", {})], [ids["b"]], "dump in b")
    eq(root.dump("pool-get", {}), [], "dump in init_net")
    # ids are per namespace: a second pool in b does not depend on a's
    extra = fb.do("pool-new", {"name": "other"})["id"]
    check(extra != ids["b"], "two pools of b share an id")
    fb.do("pool-del", {"id": extra})


@test("netns: keys are isolated; one cannot take the other's")
def _():
    fa.do("key-add", {"id": ids["a"], "direction": "out", "key": ka[:10]})
    fa.do("key-add", {"id": ids["a"], "direction": "in", "key": ka[10:]})
    # the same key ids would be duplicates within a namespace, not across
    fb.do("key-add", {"id": ids["b"], "direction": "out", "key": kb[:5]})
    fb.do("key-add", {"id": ids["b"], "direction": "in", "key": kb[10:] })
    fb.do("key-add", {"id": ids["b"], "direction": "in", "key": ka[:2]})
    eq(fb.do("key-flush", {"id": ids["b"], "direction": "in"}), {"count": 7},
       "flush in b")
    fb.do("key-add", {"id": ids["b"], "direction": "in", "key": kb[10:]})
    r = fb.do("key-take", {"id": ids["b"], "direction": "out"})
    eq(take_key(r)["id"], kb[0]["id"], "first key of b")
    # b asks for a's inbound key by id, by b's own pool: not there
    expect_error(lambda: fb.do("key-take", {"id": ids["b"], "direction": "in",
                                            "key-id": ka[10]["id"]}),
                 errno.ENOENT, what="b takes a's inbound key")
    if ids["a"] != ids["b"]:
        expect_error(lambda: fb.do("key-take", {"id": ids["a"], "direction": "out"}),
                     errno.ENOENT, what="b takes from a's pool id")
        expect_error(lambda: fb.do("pool-del", {"id": ids["a"]}), errno.ENOENT,
                     what="b deletes a's pool id")
    sa = fa.do("pool-get", {"id": ids["a"]})
    eq((sa["stats-out"]["level"], sa["stats-in"]["level"]), (10, 5), "levels of a")
    eq(sa["stats-out"]["taken"], 0, "a's taken")


@test("netns: ynl CLI under ip netns exec sees each namespace's pool")
def _():
    rc, out, err = cli("--multi", "pool-get", json.dumps({"name": "peer"}),
                       "--multi", "key-take", json.dumps({"id": ids["a"], "direction": "out"}),
                       ns=NS[0])
    eq(rc, 0, f"cli in a ({err!r})")
    p, r = out
    eq((p["id"], p["stats-out"]["level"]), (ids["a"], 10), "cli: pool of a")
    k = r["key"][0] if isinstance(r["key"], list) else r["key"]
    eq(k["id"], ka[0]["id"].hex(), "cli: first key of a")
    rc, out, err = cli_do("pool-get", {"name": "peer"}, ns=NS[1])
    eq(rc, 0, f"cli in b ({err!r})")
    eq((out["id"], out["stats-out"]["level"]), (ids["b"], 4), "cli: pool of b")


@test("netns: notifications stay in their namespace")
def _():
    for m in (ma, mb, m0):
        events(m)
    fa.do("key-flush", {"id": ids["a"], "direction": "out"})
    ea, eb, e0 = events(ma), events(mb), events(m0)
    check("empty" in [e["event"] for e in ea], f"no empty event in a: {ea}")
    eq({e["id"] for e in ea}, {ids["a"]}, "pool ids of events in a")
    eq(eb, [], "events in b")
    eq(e0, [], "events in init_net")


@test("netns: key exchanges without a pool are counted per namespace")
def _():
    def ns_ke(f):
        return f.do("ke-stats-get", {})["ke-stats"]
    root0 = ns_ke(root)
    # A fresh namespace starts at zero.
    zero = {"qkd": 0, "fallback": 0, "tag-mismatch": 0, "refused": 0,
            "reasons": {r: 0 for r in ("no-offer", "no-pool", "empty", "unknown-key",
                                       "tag-mismatch", "pool-error", "version",
                                       "pre-auth-mismatch", "peer-unknown")}}
    eq(ns_ke(fb), zero, "a new namespace's ke-stats")
    for _ in range(3):
        fa.do("ke-report", {"ke-outcome": "fallback", "ke-reason": "no-pool"})
    fa.do("ke-report", {"ke-outcome": "refused", "ke-reason": "peer-unknown"})
    a = ns_ke(fa)
    eq((a["fallback"], a["refused"], a["reasons"]["no-pool"], a["reasons"]["peer-unknown"]),
       (3, 1, 3, 1), "namespace A after its reports")
    eq(ns_ke(fb), zero, "namespace B untouched")
    eq(ns_ke(root), root0, "the initial namespace untouched")


@test("netns: deleting a namespace with full pools frees them")
def _():
    # refill a; b holds keys; delete b's namespace with its pool inside
    fa.do("key-add", {"id": ids["a"], "direction": "out", "key": ka[:10]})
    fb.sock.close()
    mb.sock.close()
    sh("ip", "netns", "del", NS[1])
    eq(fa.do("pool-get", {"id": ids["a"]})["stats-out"]["level"], 10,
       "a untouched by b's end")
    sh("ip", "netns", "add", NS[1])
    fb2 = in_ns(NS[1], family)
    eq(fb2.dump("pool-get", {}), [], "a new namespace of the same name is empty")
    fb2.sock.close()
    fa.do("pool-del", {"id": ids["a"]})
    fa.sock.close()
    ma.sock.close()
    for ns in NS:
        sh("ip", "netns", "del", ns)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for ns in NS:
        check(ns not in left, f"namespace {ns} left behind")


main()
