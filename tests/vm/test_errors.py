#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Every error of the qkd family: the errno, an extended ack that says why,
and nothing changed (levels and counters compared before and after)."""

import errno

from qkdlab.tap import check, eq, main, test
from qkdlab.pools import clean_pools, expect_error, extack_of, family, key_id, keys, stats

E = errno
fam = family()
clean_pools(fam)

# Errnos the spec leaves to the module: the documented choice first, the
# other acceptable ones after it.
E_TOO_MANY = {E.E2BIG, E.EINVAL, E.EMSGSIZE}
E_NO_ROOM = {E.ENOSPC, E.ENOBUFS, E.EOVERFLOW}
E_BUSY = {E.EBUSY, E.EINVAL}
# The kernel's policy answers ERANGE for a value or length out of its range,
# EINVAL for the rest; the module's own checks answer EINVAL.
E_POLICY = {E.EINVAL, E.ERANGE}


def snapshot(pid):
    p = fam.do("pool-get", {"id": pid})
    return p


def unchanged(pid, before, what):
    after = snapshot(pid)
    eq(after.get("ke-stats"), before.get("ke-stats"), f"{what}: ke-stats changed")
    for d in ("stats-out", "stats-in"):
        for k in ("level", "added", "taken", "flushed", "expired", "bytes-added"):
            eq(after[d][k], before[d][k], f"{what}: {d} {k} changed")
    for k in ("name", "key-size", "capacity", "low-watermark", "high-watermark",
              "max-age"):
        eq(after[k], before[k], f"{what}: {k} changed")
    return after


pid = fam.do("pool-new", {"name": "err", "capacity": 600, "low-watermark": 10,
                          "high-watermark": 500})["id"]


def do(op, attrs):
    return lambda: fam.do(op, attrs)


@test("missing attributes: each operation names what is missing")
def _():
    cases = [
        ("pool-new", {}, "name"),
        ("pool-set", {"capacity": 10}, "id"),
        ("pool-get", {}, "id"),
        ("pool-del", {}, "id"),
        ("key-add", {"direction": "out", "key": keys("MISS", 0, 1)}, "id"),
        ("key-add", {"id": pid, "key": keys("MISS", 1, 1)}, "direction"),
        ("key-add", {"id": pid, "direction": "out"}, "key"),
        ("key-take", {"direction": "out"}, "id"),
        ("key-take", {"id": pid}, "direction"),
        ("key-take", {"id": pid, "direction": "in"}, "key-id"),
        ("key-flush", {}, "id"),
        # without a pool ID only outcomes without QKD are counted (namespace)
        ("ke-report", {"ke-outcome": "qkd"}, "id"),
        ("ke-report", {"id": pid}, "ke-outcome"),
    ]
    before = snapshot(pid)
    for op, attrs, miss in cases:
        # pool-get/set/del accept id or name: the message may name either.
        expect_error(do(op, attrs), E.EINVAL,
                     msg=(miss, "name", "missing", "required"),
                     attr=miss, what=f"{op} without {miss}")
    # a key nest without id or material
    expect_error(do("key-add", {"id": pid, "direction": "out",
                                "key": [{"id": key_id("MISS", 2)}]}),
                 E.EINVAL, msg=("material", "missing"), attr="material",
                 what="key without material")
    expect_error(do("key-add", {"id": pid, "direction": "out",
                                "key": [{"material": bytes(32)}]}),
                 E.EINVAL, msg=("missing", "key id", "key-id", "required", "without an id"), attr="id",
                 what="key without id")
    unchanged(pid, before, "after missing-attribute requests")


@test("wrong lengths: key id, material, key-id and tag of key-take")
def _():
    before = snapshot(pid)
    good = keys("LEN0", 0, 2)
    for n in (15, 17, 0):
        bad = [good[0], {"id": b"x" * n, "material": bytes(32)}]
        expect_error(do("key-add", {"id": pid, "direction": "out", "key": bad}),
                     E_POLICY, attr="key.id", what=f"key id of {n} bytes")
    for n in (31, 33, 64, 15):
        bad = [good[0], {"id": good[1]["id"], "material": bytes(n)}]
        expect_error(do("key-add", {"id": pid, "direction": "in", "key": bad}),
                     E_POLICY, msg=("size", "length", "material", "short", "long",
                                    "range", "policy"),
                     attr="key.material", what=f"material of {n} bytes")
    expect_error(do("key-take", {"id": pid, "direction": "in", "key-id": b"y" * 15}),
                 E_POLICY, attr="key-id", what="key-take with a 15-byte key-id")
    expect_error(do("key-take", {"id": pid, "direction": "in",
                                 "key-id": good[0]["id"], "tag": bytes(31)}),
                 E_POLICY, attr="tag", what="key-take with a 31-byte tag")
    unchanged(pid, before, "after wrong lengths")


@test("too many keys in one batch (> batch-max); batch-max itself works")
def _():
    before = snapshot(pid)
    expect_error(do("key-add", {"id": pid, "direction": "out",
                                "key": keys("MANY", 0, 513)}),
                 E_TOO_MANY, msg=("513", "512", "many", "batch"),
                 what="key-add of 513 keys")
    unchanged(pid, before, "after 513 keys")
    fam.do("key-add", {"id": pid, "direction": "out", "key": keys("MANY", 1000, 512)})
    eq(stats(fam, pid, "out")["level"], 512, "level after 512 keys")
    eq(fam.do("key-flush", {"id": pid}), {"count": 512}, "flush")


@test("unknown pool id or name")
def _():
    for op, attrs in [("pool-get", {"id": 999999}), ("pool-get", {"name": "nope"}),
                      ("pool-set", {"id": 999999, "capacity": 5}),
                      ("pool-del", {"id": 999999}), ("pool-del", {"name": "nope"}),
                      ("key-add", {"id": 999999, "direction": "out",
                                   "key": keys("UNKN", 0, 1)}),
                      ("key-take", {"id": 999999, "direction": "out"}),
                      ("key-flush", {"id": 999999}),
                      ("ke-report", {"id": 999999, "ke-outcome": "qkd"}),
                      # the pool is looked up first (the pre hook): the
                      # direction these lack is not what is reported
                      ("key-take", {"id": 999999}),
                      ("key-add", {"id": 999999, "key": keys("UNKN", 1, 1)})]:
        expect_error(do(op, attrs), E.ENOENT, msg=("pool", "no such", "not found",
                                                   "unknown"),
                     what=f"{op} {attrs.get('id', attrs.get('name'))}")
    expect_error(do("pool-get", {"id": 0}), E_POLICY, attr="id", what="pool id 0")


@test("ke-report: outcome out of the enum, unknown pool, attributes it does not take")
def _():
    before = snapshot(pid)
    # the enum has qkd=0 .. refused=3: the policy refuses 4 and beyond
    for bad in (4, 5, 0xffffffff):
        expect_error(do("ke-report", {"id": pid, "ke-outcome": bad}), E_POLICY,
                     attr="ke-outcome", what=f"ke-outcome {bad}")
    expect_error(do("ke-report", {"id": 999999, "ke-outcome": "fallback"}), E.ENOENT,
                 msg=("no pool", "id"), what="ke-report to an unknown pool")
    expect_error(do("ke-report", {"id": 0, "ke-outcome": "qkd"}), E_POLICY,
                 attr="id", what="ke-report to pool id 0")
    # ke-report takes a pool by ID only: a name is refused by the policy
    expect_error(do("ke-report", {"name": "err", "ke-outcome": "qkd"}), E_POLICY,
                 what="ke-report by name")
    expect_error(do("ke-report", {"id": pid, "ke-outcome": "qkd",
                                  "direction": "out"}), E_POLICY,
                 what="ke-report with a direction")
    unchanged(pid, before, "after refused ke-reports")
    eq({k: v for k, v in snapshot(pid)["ke-stats"].items() if k != "reasons"},
       {"qkd": 0, "fallback": 0, "tag-mismatch": 0, "refused": 0},
       "ke-stats after refused ke-reports")


@test("ke-report: reason out of the enum, a reason with outcome qkd, qkd without a pool")
def _():
    before = snapshot(pid)
    ns_before = fam.do("ke-stats-get", {})["ke-stats"]
    # the enum has none=0 .. peer-unknown=9: the policy refuses 10 and beyond
    for bad in (10, 11, 0xffffffff):
        expect_error(do("ke-report", {"id": pid, "ke-outcome": "fallback", "ke-reason": bad}),
                     E_POLICY, attr="ke-reason", what=f"ke-reason {bad}")
        expect_error(do("ke-report", {"ke-outcome": "refused", "ke-reason": bad}),
                     E_POLICY, attr="ke-reason", what=f"ke-reason {bad} without a pool")
    # an exchange keyed with QKD has no reason
    for reason in ("no-offer", "empty", "tag-mismatch", "peer-unknown", 9):
        e = expect_error(do("ke-report", {"id": pid, "ke-outcome": "qkd", "ke-reason": reason}),
                         E.EINVAL, msg="reason", what=f"outcome qkd with reason {reason}")
        ext = extack_of(e)
        check("reason" in ext.get("msg", ""), f"qkd with a reason: extack {ext!r}")
    expect_error(do("ke-report", {"ke-outcome": "qkd", "ke-reason": "no-pool"}),
                 E.EINVAL, msg="reason", what="outcome qkd with a reason, no pool")
    # an exchange keyed with QKD had a pool
    expect_error(do("ke-report", {"ke-outcome": "qkd"}), E.EINVAL,
                 msg=("pool ID required",), attr="id", what="outcome qkd without a pool")
    expect_error(do("ke-report", {"ke-outcome": "qkd", "ke-reason": "none"}), E.EINVAL,
                 msg=("pool ID required",), attr="id", what="outcome qkd, reason none, no pool")
    # an unknown pool is still ENOENT with a reason, and counts nowhere
    expect_error(do("ke-report", {"id": 999999, "ke-outcome": "fallback", "ke-reason": "empty"}),
                 E.ENOENT, msg=("no pool", "id"), what="ke-report with a reason to an unknown pool")
    unchanged(pid, before, "after refused ke-reports with reasons")
    eq(fam.do("ke-stats-get", {})["ke-stats"], ns_before,
       "namespace ke-stats after refused ke-reports")


@test("duplicate pool name")
def _():
    n = len(fam.dump("pool-get", {}))
    expect_error(do("pool-new", {"name": "err"}), E.EEXIST,
                 msg=("name", "exists", "use"), what="second pool named err")
    eq(len(fam.dump("pool-get", {})), n, "pools after a duplicate name")
    other = fam.do("pool-new", {"name": "err-2"})["id"]
    before = snapshot(other)
    expect_error(do("pool-set", {"id": other, "name": "err"}), E.EEXIST,
                 msg=("name", "exists", "use"), what="rename to a name in use")
    unchanged(other, before, "after a refused rename")
    fam.do("pool-del", {"id": other})


@test("invalid pool names: space, 65 chars, empty, control, non-ASCII")
def _():
    n = len(fam.dump("pool-get", {}))
    for name in ("a b", "x" * 65, "", "tab\there", "nl\n", "del\x7f"):
        expect_error(do("pool-new", {"name": name}), E.EINVAL,
                     msg=("name", "printable", "policy", "nul", "length"),
                     attr="name", what=f"pool name {name!r}")
    eq(len(fam.dump("pool-get", {})), n, "pools after invalid names")
    # 64 printable characters is the longest accepted name
    name = "".join(chr(33 + i % 94) for i in range(64))
    p = fam.do("pool-new", {"name": name})["id"]
    eq(fam.do("pool-get", {"id": p})["name"], name, "64-character name")
    fam.do("pool-del", {"id": p})


@test("bad settings: watermarks, capacity, key-size ranges")
def _():
    n = len(fam.dump("pool-get", {}))
    bad_new = [
        ({"low-watermark": 50, "high-watermark": 50, "capacity": 100}, "low == high"),
        ({"low-watermark": 60, "high-watermark": 50, "capacity": 100}, "low > high"),
        ({"low-watermark": 10, "high-watermark": 101, "capacity": 100}, "high > capacity"),
        ({"capacity": 0}, "capacity 0"),
        ({"capacity": 1048577}, "capacity > max"),
        ({"key-size": 15}, "key-size 15"),
        ({"key-size": 65}, "key-size 65"),
    ]
    for extra, what in bad_new:
        attrs = {"name": "badset"}
        attrs.update(extra)
        expect_error(do("pool-new", attrs), E_POLICY,
                     msg=("watermark", "capacity", "range", "policy", "low", "high",
                          "size"),
                     attr=next(iter(extra)) if len(extra) == 1 else None,
                     what=f"pool-new {what}")
    eq(len(fam.dump("pool-get", {})), n, "pools after bad settings")
    before = snapshot(pid)
    for extra, what in [({"low-watermark": 500}, "low == high"),
                        ({"high-watermark": 10}, "high == low"),
                        ({"high-watermark": 601}, "high > capacity"),
                        ({"capacity": 400}, "capacity < high"),
                        ({"low-watermark": 700, "high-watermark": 800}, "both > capacity")]:
        attrs = {"id": pid}
        attrs.update(extra)
        expect_error(do("pool-set", attrs), E.EINVAL,
                     msg=("watermark", "capacity", "low", "high"), what=f"pool-set {what}")
    unchanged(pid, before, "after bad pool-set")


@test("duplicate key ids: in a batch, in the pool, across directions (all or none)")
def _():
    fam.do("key-flush", {"id": pid})
    base = keys("DUP0", 0, 20)
    fam.do("key-add", {"id": pid, "direction": "out", "key": base[:10]})
    fam.do("key-add", {"id": pid, "direction": "in", "key": base[10:]})
    fresh = keys("DUP1", 0, 30)
    cases = [
        ("out", fresh[:5] + [fresh[2]] + fresh[5:8], "twice in one batch"),
        ("out", fresh[:8] + [base[3]], "already in the outbound ring"),
        ("in", fresh[:8] + [base[15]], "already in the inbound table"),
        ("in", fresh[:8] + [base[0]], "in the other direction (out)"),
        ("out", [base[19]] + fresh[:8], "in the other direction (in)"),
    ]
    for d, batch, what in cases:
        before = snapshot(pid)
        expect_error(do("key-add", {"id": pid, "direction": d, "key": batch}),
                     E.EEXIST, msg=("duplicate", "exists", "id"), what=f"key id {what}")
        after = unchanged(pid, before, what)
        eq(after["stats-" + d]["rejected"],
           before["stats-" + d]["rejected"] + len(batch),
           f"{what}: rejected counts every key of the refused batch")
    # none of the fresh keys went in: adding them all now works
    fam.do("key-add", {"id": pid, "direction": "out", "key": fresh})
    eq(stats(fam, pid, "out")["level"], 40, "level after adding the fresh keys")
    fam.do("key-flush", {"id": pid})


@test("not enough room: a batch larger than the free space is refused whole")
def _():
    fam.do("key-add", {"id": pid, "direction": "out", "key": keys("ROOM", 0, 500)})
    before = snapshot(pid)
    expect_error(do("key-add", {"id": pid, "direction": "out",
                                "key": keys("ROOM", 500, 101)}),
                 E_NO_ROOM, msg=("room", "full", "capacity", "space"),
                 what="101 keys into 100 free slots")
    unchanged(pid, before, "after a batch too large for the room")
    fam.do("key-add", {"id": pid, "direction": "out", "key": keys("ROOM", 500, 100)})
    eq(stats(fam, pid, "out")["level"], 600, "full ring")
    # the inbound direction has its own capacity
    fam.do("key-add", {"id": pid, "direction": "in", "key": keys("ROOM", 700, 10)})
    eq(stats(fam, pid, "in")["level"], 10, "inbound level next to a full ring")


@test("capacity below a level; key-size change while keys are held")
def _():
    before = snapshot(pid)       # 600 out, 10 in
    expect_error(do("pool-set", {"id": pid, "capacity": 599, "low-watermark": 1,
                                 "high-watermark": 2}),
                 E_BUSY, msg=("capacity", "level", "keys"),
                 what="capacity 599 below level 600")
    unchanged(pid, before, "after capacity below level")
    expect_error(do("pool-set", {"id": pid, "key-size": 16}), E_BUSY,
                 msg=("key size", "key-size", "empty", "keys"),
                 what="key-size change while keys are held")
    unchanged(pid, before, "after key-size change refused")
    fam.do("key-flush", {"id": pid, "direction": "out"})
    expect_error(do("pool-set", {"id": pid, "key-size": 16}), E_BUSY,
                 msg=("key size", "key-size", "empty", "keys"),
                 what="key-size change with inbound keys held")
    fam.do("key-flush", {"id": pid})
    fam.do("pool-set", {"id": pid, "key-size": 16})
    eq(fam.do("pool-get", {"id": pid})["key-size"], 16, "key-size of an emptied pool")
    # and now 32-byte material is the wrong size
    expect_error(do("key-add", {"id": pid, "direction": "out",
                                "key": keys("KS16", 0, 1)}),
                 E.EINVAL, msg=("size", "length", "material"),
                 what="32-byte material in a 16-byte pool")
    fam.do("key-add", {"id": pid, "direction": "out", "key": keys("KS16", 0, 3, size=16)})
    eq(stats(fam, pid, "out")["level"], 3, "16-byte keys added")


@test("bad direction; outbound take with a key-id or tag")
def _():
    before = snapshot(pid)
    # direction 2 does not exist (the enum has out=0, in=1)
    expect_error(do("key-take", {"id": pid, "direction": 2}), E_POLICY,
                 attr="direction", what="direction 2")
    expect_error(do("key-flush", {"id": pid, "direction": 7}), E_POLICY,
                 attr="direction", what="flush direction 7")
    fam.do("key-add", {"id": pid, "direction": "out", "key": keys("OUTK", 0, 2, size=16)})
    before = snapshot(pid)
    k = keys("OUTK", 0, 1, size=16)[0]
    expect_error(do("key-take", {"id": pid, "direction": "out", "key-id": k["id"]}),
                 E.EINVAL, msg=("outbound", "oldest", "key id"),
                 what="outbound take with a key-id")
    expect_error(do("key-take", {"id": pid, "direction": "out",
                                 "tag": bytes(32)}),
                 E.EINVAL, msg=("outbound", "oldest", "tag"),
                 what="outbound take with a tag")
    unchanged(pid, before, "after bad directions")


main()
