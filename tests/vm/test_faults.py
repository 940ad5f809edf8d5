#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Fault injection (debug kernel only): failslab aimed at the module's
allocations, every netlink operation, every allocation it makes.

failslab's stack filter (require-start/require-end) is set to the module's
address range, so only allocations with qkdpool on the call stack can fail:
the module's own and those it asks for (reply messages, notifications,
xarray nodes, vmalloc'd storage).  For each operation, n = 1, 2, ... is
written to this thread's /proc/self/task/<tid>/fail-nth, so that the n-th
such allocation of the request fails, until a request runs with no failure
left to inject (then the operation made n - 1 allocations).  Each attempt
starts from the same fresh pools, and must end in one of two ways:

- an error, ENOMEM with an extack message, and nothing changed: the dump
  of every pool (settings, levels, counters) and the namespace's ke-stats
  identical to before;
- success (the failed allocation was one the module can do without, e.g.
  a notification): the operation's effect is there.

After every attempt the counters reconcile in both directions of every
pool: added = taken + expired + flushed + level.  Leaks are the business of
the kmemleak scan at the end of run.sh.  The figures (allocations per
operation, errors, tolerated failures) are printed as diagnostics.
"""

import errno
import os
import threading

from qkdlab.tap import Skip, check, diag, eq, main, test
from qkdlab.pools import (NlError, clean_pools, extack_of, family, key_id, keys,
                          material, settled, tag)

FS = "/sys/kernel/debug/failslab"
TID = threading.get_native_id()
NTH = f"/proc/self/task/{TID}/fail-nth"
MAX_N = 64          # no operation of the module allocates this often
POOL = "fi-pool"
EMPTY = "fi-empty"

_fam = []


def fam():
    if not _fam:
        _fam.append(family())
    return _fam[0]


def write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


def module_range():
    """The module's memory as /proc/modules gives it: base and total size
    (its text comes first; no other module is loaded on the debug kernel,
    whose drivers are all built in)."""
    with open("/proc/modules") as f:
        for ln in f:
            c = ln.split()
            if c[0] == "qkdpool":
                base = int(c[5], 16)
                check(base != 0, "/proc/modules hides the module's address")
                return base, base + int(c[1])
    raise AssertionError("qkdpool is not loaded")


def symbol_range(name):
    """[start, end) of a kernel function from /proc/kallsyms (end: the
    next symbol), or None."""
    addrs, start = [], None
    with open("/proc/kallsyms") as f:
        for ln in f:
            c = ln.split()
            a = int(c[0], 16)
            addrs.append(a)
            if c[2] == name and c[1] in "tT":
                start = a
    if start is None:
        return None
    later = [a for a in addrs if a > start]
    return start, min(later)


def arm_failslab():
    if not os.path.isdir(FS) or not os.path.exists(NTH):
        raise Skip("no failslab or fail-nth: not the debug kernel (tools/vm-run.sh --debug-kernel)")
    start, end = module_range()
    # vmalloc's own allocations are left alone: a failed vmalloc warns with
    # a stack trace by design (warn_alloc), which would fail the run as a
    # kernel report.  The module's handling of a NULL from vzalloc is the
    # same as of a NULL from kzalloc a line above it (store.c).
    rej = symbol_range("__vmalloc_node_range_noprof") or (0, 0)
    # fail-nth alone decides; GFP_KERNEL allocations are candidates too;
    # verbose 0: a failure injected on purpose prints no stack trace
    # (tools/vm-run.sh fails on "Call Trace:").
    for k, v in (("probability", 0), ("interval", 1), ("times", -1), ("space", 0),
                 ("verbose", 0), ("ignore-gfp-wait", "N"), ("task-filter", "N"),
                 ("stacktrace-depth", 32), ("reject-start", rej[0]), ("reject-end", rej[1]),
                 ("require-start", start), ("require-end", end)):
        write(f"{FS}/{k}", v)
    diag(f"failslab aimed at qkdpool [{start:#x}, {end:#x}), "
         f"not at vmalloc [{rej[0]:#x}, {rej[1]:#x})")


def state():
    f = fam()
    pools = sorted((settled(p) for p in f.dump("pool-get", {})), key=lambda p: p["id"])
    return pools, f.do("ke-stats-get", {})


def reconcile(pools):
    for p in pools:
        for d in ("stats-out", "stats-in"):
            s = p[d]
            g = {k: s.get(k, 0) for k in ("added", "taken", "expired", "flushed", "level")}
            check(g["added"] == g["taken"] + g["expired"] + g["flushed"] + g["level"],
                  f"pool {p['name']} {d}: added != taken + expired + flushed + level: {g}")


def fresh():
    """Two pools: POOL with 6 keys each way, EMPTY with none."""
    f = fam()
    clean_pools(f)
    pid = f.do("pool-new", {"name": POOL, "capacity": 16, "key-size": 32})["id"]
    f.do("key-add", {"id": pid, "direction": "out", "key": keys("fout", 0, 6)})
    f.do("key-add", {"id": pid, "direction": "in", "key": keys("fin-", 0, 6)})
    eid = f.do("pool-new", {"name": EMPTY, "capacity": 8})["id"]
    return {"pid": pid, "eid": eid}


def inbound_take(c):
    kid = key_id("fin-", 3)
    return {"id": c["pid"], "direction": "in", "key-id": kid, "tag": tag(material(kid), kid)}


# name, kind (do or dump), request from the fresh pools' IDs
OPS = [
    ("pool-new", "do", lambda c: {"name": "fi-new", "capacity": 8, "max-age": 60}),
    ("pool-new (vmalloc'd capacity)", "do", lambda c: {"name": "fi-big", "capacity": 4096}),
    ("pool-set capacity", "do", lambda c: {"id": c["pid"], "capacity": 64}),
    ("pool-set key-size (empty pool)", "do", lambda c: {"id": c["eid"], "key-size": 16}),
    ("pool-set name and watermarks", "do",
     lambda c: {"id": c["pid"], "name": "fi-renamed", "low-watermark": 2, "high-watermark": 10}),
    ("pool-get", "do", lambda c: {"id": c["pid"]}),
    ("pool-get by name", "do", lambda c: {"name": POOL}),
    ("pool-get dump", "dump", lambda c: {}),
    ("pool-del", "do", lambda c: {"id": c["pid"]}),
    ("key-add out", "do", lambda c: {"id": c["pid"], "direction": "out",
                                     "key": keys("fadd", 0, 4)}),
    ("key-add in", "do", lambda c: {"id": c["pid"], "direction": "in",
                                    "key": keys("fadi", 0, 4)}),
    ("key-take out", "do", lambda c: {"id": c["pid"], "direction": "out"}),
    ("key-take in with tag", "do", inbound_take),
    ("key-flush both", "do", lambda c: {"id": c["pid"]}),
    ("key-flush in", "do", lambda c: {"id": c["pid"], "direction": "in"}),
    ("ke-report to a pool", "do", lambda c: {"id": c["pid"], "ke-outcome": "fallback",
                                             "ke-reason": "empty"}),
    ("ke-report to the namespace", "do", lambda c: {"ke-outcome": "fallback",
                                                    "ke-reason": "no-pool"}),
    ("ke-stats-get", "do", lambda c: {}),
]


def run_op(name, kind, req):
    op = name.split()[0]
    f = fam()
    results = {"allocs": None, "enomem": 0, "tolerated": 0, "msgs": set()}
    for n in range(1, MAX_N + 1):
        c = fresh()
        before = state()
        r = req(c)
        err = None
        write(NTH, n)
        try:
            if kind == "dump":
                f.dump(op, r)
            else:
                f.do(op, r)
        except NlError as e:
            err = e
        finally:
            with open(NTH) as fh:
                left = int(fh.read())
            write(NTH, 0)
        injected = left == 0
        after = state()
        reconcile(after[0])
        if not injected:
            check(err is None, f"{name}: failed with no fault injected: {err}")
            results["allocs"] = n - 1
            return results
        if err is None:
            results["tolerated"] += 1
            continue
        ext = extack_of(err)
        check(err.error == errno.ENOMEM,
              f"{name}, allocation {n} failed: expected ENOMEM, got "
              f"{errno.errorcode.get(err.error, err.error)} extack={ext!r}")
        check(ext.get("msg"), f"{name}, allocation {n} failed: ENOMEM without an extack message")
        results["msgs"].add(ext["msg"])
        eq(after, before, f"{name}, allocation {n} failed: the pools after the error")
        results["enomem"] += 1
    raise AssertionError(f"{name}: still failing after {MAX_N} injected failures")


def make_test(name, kind, req):
    @test(f"failslab: {name}: every allocation failed in turn gives ENOMEM + extack and "
          "changes nothing, or is done without; counters reconcile")
    def _t():
        arm_failslab()
        res = run_op(name, kind, req)
        diag(f"{name}: {res['allocs']} allocation(s) in the module's path, "
             f"{res['enomem']} ENOMEM, {res['tolerated']} done without; "
             f"extack: {sorted(res['msgs'])}")
        clean_pools(fam())


for _name, _kind, _req in OPS:
    make_test(_name, _kind, _req)


@test("failslab: left disarmed (fail-nth 0, stack filter cleared)")
def disarm():
    if not os.path.isdir(FS):
        raise Skip("no failslab")
    write(NTH, 0)
    for k, v in (("require-start", 0), ("require-end", 2**64 - 1), ("reject-start", 0),
                 ("reject-end", 0), ("ignore-gfp-wait", "Y")):
        write(f"{FS}/{k}", v)
    with open(NTH) as fh:
        eq(int(fh.read()), 0, "fail-nth")


if __name__ == "__main__":
    main()
