#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""100,000 keys through one pool.

Keys go in by batches of 500 (ynl library; one process, so TCG pays Python's
start-up once), alternating directions.  Outbound keys are taken in FIFO
order, inbound ones by ID in a shuffled order, half of them with their
confirmation tag; some batches are flushed, two expire, the last two stay.
A model in this file predicts every counter; the module's must match it
exactly and reconcile: added == taken + expired + flushed + level, and
bytes-added / bytes-taken == 32 x added / taken.  Every taken key's material
is compared with the value derived from its ID.  Takes go 100 to a send
with do_multi.  The raw bytes of every pool-get reply and
notification are searched for key material."""

import collections
import errno
import random
import socket
import time

from qkdlab.tap import check, diag, eq, main, test
from qkdlab.pools import (clean_pools, events, expect_error, family, key_id, keys, material,
                          monitor, tag)

SO_RCVBUFFORCE = 33        # <asm-generic/socket.h>; Python lacks the name
TOTAL = 100_000
BATCH = 500
KS = 32
NBATCH = TOTAL // BATCH

fam = family()
# do_multi queues every reply and ack of a chunk before Python reads one:
# room for them, or the socket overruns (ENOBUFS).
fam.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
CHUNK = 100

reader = family(record=True)
clean_pools(fam)
mon = monitor()
pid = fam.do("pool-new", {"name": "bulk", "capacity": 2048, "low-watermark": 256,
                          "high-watermark": 1536})["id"]

rng = random.Random(20250101)
model = {d: {"level": 0, "added": 0, "taken": 0, "expired": 0, "flushed": 0,
             "rejected": 0, "missed": 0} for d in ("out", "in")}
ring = collections.deque()      # expected outbound ids, oldest first
table = set()                   # expected inbound ids
all_mats = []
taken_checked = 0
ntfs = []


def add_batch(b, direction):
    ks = keys("BULK", b * BATCH, BATCH)
    fam.do("key-add", {"id": pid, "direction": direction, "key": ks})
    all_mats.extend(k["material"] for k in ks)
    m = model[direction]
    m["added"] += BATCH
    m["level"] += BATCH
    if direction == "out":
        ring.extend(k["id"] for k in ks)
    else:
        table.update(k["id"] for k in ks)


def multi(ops):
    out = []
    for i in range(0, len(ops), CHUNK):
        out += fam.do_multi(ops[i:i + CHUNK])
    return out


def take_out(n):
    global taken_checked
    ops = [("key-take", {"id": pid, "direction": "out"}, []) for _ in range(n)]
    for r in multi(ops):
        k = r["key"][0]
        want = ring.popleft()
        if k["id"] != want:
            raise AssertionError(f"FIFO: expected {want.hex()}, got {k['id'].hex()}")
        if k["material"] != material(want):
            raise AssertionError(f"material of {want.hex()} corrupted")
        taken_checked += 1
    model["out"]["level"] -= n
    model["out"]["taken"] += n


def take_in(n):
    global taken_checked
    pick = rng.sample(sorted(table), n)
    ops = []
    for i, kid in enumerate(pick):
        attrs = {"id": pid, "direction": "in", "key-id": kid}
        if i % 2:
            attrs["tag"] = tag(material(kid), kid)
        ops.append(("key-take", attrs, []))
    for kid, r in zip(pick, multi(ops)):
        k = r["key"][0]
        if k["id"] != kid or k["material"] != material(kid):
            raise AssertionError(f"inbound key {kid.hex()}: got {k!r}")
        taken_checked += 1
    table.difference_update(pick)
    model["in"]["level"] -= n
    model["in"]["taken"] += n


def flush(direction):
    n = fam.do("key-flush", {"id": pid, "direction": direction})["count"]
    eq(n, model[direction]["level"], f"key-flush {direction} count")
    model[direction]["flushed"] += n
    model[direction]["level"] = 0
    if direction == "out":
        ring.clear()
    else:
        table.clear()


def compare(what):
    p = reader.do("pool-get", {"id": pid})
    for d in ("out", "in"):
        s = p["stats-" + d]
        m = model[d]
        for k, v in m.items():
            eq(s[k], v, f"{what}: {d} {k}")
        eq(s["added"], s["taken"] + s["expired"] + s["flushed"] + s["level"],
           f"{what}: {d} added == taken + expired + flushed + level")
        eq(s["bytes-added"], KS * s["added"], f"{what}: {d} bytes-added")
        eq(s["bytes-taken"], KS * s["taken"], f"{what}: {d} bytes-taken")
    ntfs.extend(events(mon))
    return p


t_start = time.monotonic()


@test("bulk: 98,000 keys added, taken (FIFO / by id + tag) and flushed")
def _():
    for b in range(NBATCH - 4):
        d = "out" if b % 2 == 0 else "in"
        add_batch(b, d)
        if b % 20 in (18, 19):
            flush(d)
        elif model[d]["level"] >= 1500:
            (take_out if d == "out" else take_in)(BATCH)
        if b % 25 == 24:
            compare(f"after batch {b}")
    # drain both directions completely
    take_out(model["out"]["level"])
    take_in(model["in"]["level"])
    compare("drained")
    diag(f"{sum(m['added'] for m in model.values())} keys added, "
         f"{taken_checked} taken and checked in {time.monotonic() - t_start:.1f} s")


@test("bulk: misses and bad tags are counted, change nothing else")
def _():
    add_batch(NBATCH - 4, "in")
    kid = next(iter(sorted(table)))
    for i in range(3):
        expect_error(lambda: fam.do("key-take", {"id": pid, "direction": "in",
                                                 "key-id": kid, "tag": bytes([i]) * 32}),
                     errno.EKEYREJECTED, what="bad tag")
    model["in"]["rejected"] += 3
    for i in range(2):
        expect_error(lambda: fam.do("key-take", {"id": pid, "direction": "in",
                                                 "key-id": key_id("MISS", i)}),
                     errno.ENOENT, what="unknown id")
    model["in"]["missed"] += 2
    expect_error(lambda: fam.do("key-take", {"id": pid, "direction": "out"}),
                 errno.ENOENT, what="empty ring")
    model["out"]["missed"] += 1
    take_in(BATCH)
    compare("after misses")


@test("bulk: 1,000 keys expire after max-age; 1,000 stay")
def _():
    fam.do("pool-set", {"id": pid, "max-age": 1})
    add_batch(NBATCH - 3, "out")
    add_batch(NBATCH - 2, "in")    # reuses no id: batches are numbered
    time.sleep(2.2)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        s = reader.do("pool-get", {"id": pid})
        if s["stats-out"]["level"] == 0 and s["stats-in"]["level"] == 0:
            break
        time.sleep(0.2)
    for d in ("out", "in"):
        model[d]["expired"] += model[d]["level"]
        model[d]["level"] = 0
    ring.clear()
    table.clear()
    fam.do("pool-set", {"id": pid, "max-age": 0})
    compare("after expiry")
    add_batch(NBATCH - 1, "out")
    # the last in-batch: ids of a batch never used
    ks = keys("BULK", NBATCH * BATCH, BATCH)
    fam.do("key-add", {"id": pid, "direction": "in", "key": ks})
    all_mats.extend(k["material"] for k in ks)
    model["in"]["added"] += BATCH
    model["in"]["level"] += BATCH
    p = compare("final")
    total = sum(p["stats-" + d]["added"] for d in ("out", "in"))
    eq(total, TOTAL + BATCH, "keys added in all")
    diag("final: " + ", ".join(f"{d}: " + " ".join(f"{k}={v}" for k, v in
                                                     sorted(model[d].items()))
                               for d in ("out", "in")))


@test("bulk: no key material in pool-get replies or notifications (raw bytes)")
def _():
    ntfs.extend(events(mon))
    check(len(reader.sock.data) > 0 and len(mon.sock.data) > 0, "nothing recorded")
    prefixes = {m[:8] for m in all_mats}
    eq(len(prefixes), len(all_mats), "distinct material prefixes")
    for name, raw in (("pool-get replies", reader.sock.data),
                      ("notifications", mon.sock.data)):
        raw = bytes(raw)
        for i in range(len(raw) - 7):
            if raw[i:i + 8] in prefixes:
                raise AssertionError(f"key material found in {name} at byte {i}")
    kinds = collections.Counter(e["event"] for e in ntfs)
    diag(f"notifications seen: {dict(kinds)}")
    exp = sum(e["count"] for e in ntfs if e["event"] == "expired")
    eq(exp, 2 * BATCH, "keys reported by expired notifications")


@test("bulk: pool-del with 1,000 keys held reports them")
def _():
    fam.do("pool-del", {"id": pid})
    evs = events(mon, want=1, timeout=2)
    rem = [e for e in evs if e["event"] == "removed"]
    eq([(e["id"], e["count"]) for e in rem], [(pid, 2 * BATCH)], "removed event")
    diag(f"bulk total {time.monotonic() - t_start:.1f} s")


main()
