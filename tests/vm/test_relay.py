#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Trusted-node relay (Documentation/relay.rst): a chain of four routers,
tokyo - nagoya - osaka - kobe, each running qkd-linkd with the KME
simulator serving each QKD link (picture in tests/lib/qkdlab/relaynet.py).

Every node's configuration declares the [topology], its links' relay
settings and (at the ends) the end-to-end pool; qkd-linkd accepts it,
every link pool fills both ways, and the same key ID gives the same
material at both ends of every link (test-only path: the kernel's ynl, as
test_linkd.py).  Then the relay itself: tokyo's pool kobe and kobe's
pool tokyo fill both ways over nagoya and osaka, the keys taken at one
end are the keys at the other, each hop consumes exactly the link keys
the frames need (relay.rst, "Sizing"), and no relayed key reaches a log.
Then what goes wrong under it, with refills in flight: nagoya killed
(kill -9), the QKD link nagoya-osaka cut at the simulator and restored,
and the qkdpool module reloaded under every node (last: every pool in the
VM goes); after each, nothing is duplicated or one-sided at the ends
(ends_agree) and the pools refill.  The ring's reroute:
test_relay_ring.py."""

import base64
import json
import os
import re
import signal
import subprocess
import time

from qkdlab import REPO, relaylog
from qkdlab.pools import reset_family_cache
from qkdlab.relaynet import (BATCH, E2E_HIGH, HIGH, LINKD, NODES, cleanup, conf,
                             consume, cut, drain_link, e2e_peer, fam, kill9,
                             link_levels, procs, log_text, materials, pool,
                             qkdctl, reconciled, restore, start, stats, status,
                             up, wait)
from qkdlab.tap import check, diag, eq, main, test

KO = os.environ.get("QKD_KO", os.path.join(REPO, "kmod/qkdpool.ko"))


@test("relay: set-up: five namespaces, certificates, simulator with three links")
def _():
    up()


@test("relay: every node's [topology] and relay settings are accepted (-t)")
def _():
    for x in NODES:
        p = subprocess.run([LINKD, "-t", "-c", conf(x)], capture_output=True,
                           text=True)
        eq(p.returncode, 0, f"{x}: -t: {p.stderr}")
    # The far end named twice is refused with its line.
    path = conf(NODES[0])
    with open(path, "a") as f:
        f.write(f"\n[relay again]\npeer = {NODES[-1]}\n")
    p = subprocess.run([LINKD, "-t", "-c", path], capture_output=True, text=True)
    eq(p.returncode, 1, "two end-to-end pools with one peer")
    check(f"peer {NODES[-1]} is relay {NODES[-1]}'s too" in p.stderr,
          f"stderr: {p.stderr!r}")


# Link keys per relayed frame of BATCH 32-byte keys over 32-byte link keys:
# the keys, the 32-byte end-to-end MAC key, the hop's 32-byte MAC key
# (a frame of n keys: n + 2).
LINK_KEYS_PER_FRAME = BATCH + 2
ENDS = (NODES[0], NODES[-1])


@test("relay: the chain's link pools fill both ways on every link")
def _():
    # The whole share, so that a refill after the first fill is in budget.
    for x in NODES:
        start(x, share=100)
    # Relaying takes from the link pools as soon as they fill: each has
    # reached its high watermark once (its kernel counter of keys added).
    wait(links_filled, 300, "every link pool filled to its high watermark both ways")
    diag(f"link levels (x out, y in, y out, x in) per link: {link_levels()}")
    for x in NODES:
        check("connected to peer" in log_text(x), f"{x}: no peer connection logged")


def links_filled():
    try:
        return all(stats(x, y)[(d, "added")] >= HIGH for i in range(len(NODES) - 1)
                   for x, y in ((NODES[i], NODES[i + 1]), (NODES[i + 1], NODES[i]))
                   for d in ("out", "in"))
    except Exception:       # noqa: BLE001  (pools not created yet)
        return False


def transfers_sent(origin, since):
    """Sizes of the transfers origin's log says it sent after offset since."""
    return [int(n) for n in re.findall(r"relay \S+: transfer \d+: (\d+) keys over",
                                       log_text(origin)[since:])]


def e2e_levels():
    """{end: (out level, in level)} of each end's end-to-end pool."""
    return {x: (pool(x, e2e_peer(x))["stats-out"]["level"],
                pool(x, e2e_peer(x))["stats-in"]["level"]) for x in ENDS}


def e2e_full():
    try:
        return all(min(v) >= E2E_HIGH for v in e2e_levels().values())
    except Exception:       # noqa: BLE001  (pools not created yet)
        return False


def hop_taken():
    """{(x, y): (x's outbound taken to y, y's inbound taken from x)} per
    hop direction of the chain."""
    out = {}
    for i in range(len(NODES) - 1):
        for x, y in ((NODES[i], NODES[i + 1]), (NODES[i + 1], NODES[i])):
            out[(x, y)] = (stats(x, y)[("out", "taken")],
                           stats(y, x)[("in", "taken")])
    return out


def committed():
    """{end: keys its origin committed to its end-to-end pool's outbound side}."""
    return {x: stats(x, e2e_peer(x))[("out", "added")] for x in ENDS}


def one_direction(origin):
    """The hops of origin's transfers, in order."""
    path = NODES if origin == NODES[0] else NODES[::-1]
    return list(zip(path, path[1:]))


snap = {}


@test("relay: tokyo's pool kobe and kobe's pool tokyo fill both ways over the chain")
def _():
    wait(e2e_full, 180, "both end-to-end pools above their high watermark both ways")
    lv = e2e_levels()
    diag(f"end-to-end levels (out, in): {lv}")
    # Nothing one-sided: what one end holds outbound the other holds inbound.
    eq(lv[NODES[0]][0], lv[NODES[-1]][1], "tokyo out vs kobe in")
    eq(lv[NODES[-1]][0], lv[NODES[0]][1], "kobe out vs tokyo in")
    # Each hop: what the sender took outbound its neighbour took inbound.
    for (x, y), (o, i) in hop_taken().items():
        eq(o, i, f"hop {x}->{y}: outbound taken vs inbound taken")
    for x in ENDS:
        t = log_text(x)
        path = " ".join(NODES if x == NODES[0] else NODES[::-1])
        check(f"relay {e2e_peer(x)}: path {path}" in t,
              f"{x}: path not logged")
    for x in NODES[1:-1]:
        check("relay: node " + x in log_text(x), f"{x}: relay not started")
    snap["taken"], snap["committed"] = hop_taken(), committed()
    snap["log"] = {x: len(log_text(x)) for x in ENDS}


@test("relay: relayed keys identical at tokyo and kobe, both directions")
def _():
    a, b = NODES[0], NODES[-1]
    n = consume(a, b, b, a, E2E_HIGH) + consume(b, a, a, b, E2E_HIGH)
    eq(n, 2 * E2E_HIGH, "end-to-end key pairs compared")


@test("relay: the refill consumes exactly keys + MAC keys on every hop")
def _():
    wait(e2e_full, 180, "both end-to-end pools refilled")
    taken, com = hop_taken(), committed()
    for origin in ENDS:
        keys = com[origin] - snap["committed"][origin]
        eq(keys, E2E_HIGH, f"{origin}: keys committed by the refill")
        # The refill races the take: its frames need not be full batches.
        sent = transfers_sent(origin, snap["log"][origin])
        eq(sum(sent), keys, f"{origin}: every transfer sent was committed ({sent})")
        need = sum(n + LINK_KEYS_PER_FRAME - BATCH for n in sent)
        for x, y in one_direction(origin):
            o = taken[(x, y)][0] - snap["taken"][(x, y)][0]
            i = taken[(x, y)][1] - snap["taken"][(x, y)][1]
            diag(f"hop {x}->{y}: {o} link keys out, {i} in, for {keys} relayed keys in {len(sent)} frames")
            eq(o, need, f"hop {x}->{y}: outbound link keys")
            eq(i, o, f"hop {x}->{y}: inbound link keys")
    lv = e2e_levels()
    eq(lv[NODES[0]][0], lv[NODES[-1]][1], "tokyo out vs kobe in")
    eq(lv[NODES[-1]][0], lv[NODES[0]][1], "kobe out vs tokyo in")


def relay_status_matches():
    """nagoya's status: the link keys taken for relaying that its link
    pools' kernel counters say were taken (nothing else takes them yet)."""
    st = {p["name"]: p.get("relay") for p in status(NODES[1]).get("pools", [])}
    try:
        return all(st[y] and st[y]["taken_out"] == stats(NODES[1], y)[("out", "taken")]
                   and st[y]["taken_in"] == stats(NODES[1], y)[("in", "taken")]
                   for y in (NODES[0], NODES[2]))
    except KeyError:
        return False


def e2e_status_matches(x, y):
    """x's status: the end-to-end keys relayed to and from y that x's pool
    y's kernel counters say were added (the last commit may be newer than
    the status file, which is rewritten every second)."""
    e = [r for r in status(x).get("relays", []) if r.get("name") == y]
    k = stats(x, y)
    return bool(e) and (e[0]["keys_out"], e[0]["keys_in"]) == (k[("out", "added")],
                                                               k[("in", "added")])


@test("relay: qkdctl show, --json and metrics: tokyo's path and bottleneck, nagoya's link keys taken")
def _():
    a, mid, b = NODES[0], NODES[1], NODES[-1]
    wait(e2e_full, 60, "both end-to-end pools full")
    # The status is rewritten every second: the counters settle in one.
    wait(relay_status_matches, 10, "nagoya's status agrees with its link pools' counters")
    wait(lambda: e2e_status_matches(a, b), 10, "tokyo's status agrees with its pool kobe's counters")
    path = " ".join(NODES)
    show = qkdctl(a, "show")
    diag("tokyo: qkdctl show (relay lines):\n" + "\n".join(
        line for line in show.splitlines() if "relay" in line or line.startswith("pool:")))
    check(f"qkd-linkd relay to {b}: path {path} (bottleneck nagoya-osaka, 1 Mbit/s)" in show,
          f"tokyo: show has no path line: {show!r}")
    check(f"qkd-linkd relay via {mid}: share 100%" in show, "tokyo: no relay line for its link pool")
    js = {p["name"]: p for p in json.loads(qkdctl(a, "show", "--json"))["pools"]}
    e2e = js[b]["linkd"]["end_to_end"]
    eq(e2e["path"], NODES, "tokyo --json: path")
    eq(e2e["path_in"], NODES[::-1], "tokyo --json: path of kobe's transfers")
    eq((e2e["bottleneck"], e2e["bottleneck_rate"]), ("nagoya-osaka", 1000000),
       "tokyo --json: bottleneck")
    eq((e2e["role_out"], e2e["role_in"]), ("origin", "far-end"), "tokyo --json: roles")
    # The keys relayed are the end-to-end pool's kernel counters.
    k = stats(a, b)
    eq((e2e["keys_out"], e2e["keys_in"]), (k[("out", "added")], k[("in", "added")]),
       "tokyo --json: keys relayed vs the pool's keys added")
    eq(e2e["transfers"]["committed"] * BATCH >= e2e["keys_out"], True,
       "tokyo --json: transfers committed cover the keys")
    m = qkdctl(a, "metrics")
    check(f'qkd_linkd_relay_path_info{{pool="{b}",path="{path}",bottleneck="nagoya-osaka"}} 1\n' in m,
          "tokyo metrics: no path series")
    check(f'qkd_linkd_relay_bottleneck_rate_bits_per_second{{pool="{b}"}} 1000000\n' in m,
          "tokyo metrics: no bottleneck rate")
    check(f'qkd_linkd_relay_keys_total{{pool="{b}",direction="out"}} {k[("out", "added")]}\n' in m,
          "tokyo metrics: keys relayed out")
    # nagoya relays: each link pool shows the link keys taken for relaying,
    # which are what its kernel counters say was taken (no IKE here).
    show = qkdctl(mid, "show")
    js = {p["name"]: p for p in json.loads(qkdctl(mid, "show", "--json"))["pools"]}
    m = qkdctl(mid, "metrics")
    for y in (a, NODES[2]):
        t = stats(mid, y)
        o, i = t[("out", "taken")], t[("in", "taken")]
        r = js[y]["linkd"]["relay"]
        diag(f"nagoya link pool {y}: {r}; kernel taken out {o}, in {i}")
        check(o > 0 and i > 0, f"nagoya {y}: nothing taken for relaying")
        eq((r["node"], r["share"], r["reserve"]), (y, 100, 32), f"nagoya {y}: relay settings")
        eq((r["taken_out"], r["taken_in"]), (o, i), f"nagoya {y}: link keys taken for relaying")
        check(f"qkd-linkd relay via {y}: share 100%, reserve 32, bucket {r['bucket']} keys; "
              f"link keys taken for relaying out {o}, in {i}" in show,
              f"nagoya show: no relay line for {y}")
        for d, v in (("out", o), ("in", i)):
            check(f'qkd_linkd_relay_link_keys_taken_total{{pool="{y}",direction="{d}"}} {v}\n' in m,
                  f"nagoya metrics: {y} {d}")
    # And the chain's per-hop consumption agrees: nagoya's inbound from
    # tokyo is tokyo's outbound to nagoya.
    ht = hop_taken()
    eq(js[a]["linkd"]["relay"]["taken_in"], ht[(a, mid)][1], "nagoya: in from tokyo vs hop tokyo->nagoya")
    eq(js[NODES[2]]["linkd"]["relay"]["taken_out"], ht[(mid, NODES[2])][0],
       "nagoya: out to osaka vs hop nagoya->osaka")


def settled():
    """Both end-to-end pools full and the same on both ends."""
    if not e2e_full():
        return False
    lv = e2e_levels()
    return lv[NODES[0]] == lv[NODES[-1]][::-1]


@test("relay: kill -9 of nagoya mid-transfer: nothing duplicated or one-sided at tokyo and kobe")
def _():
    a, b, mid = NODES[0], NODES[-1], NODES[1]
    wait(settled, 120, "both end-to-end pools full")
    mark = {x: len(log_text(x)) for x in ENDS}
    # Frozen, nagoya still holds its connections: the refills that the
    # takes start leave tokyo and kobe and stop in its socket buffers.
    os.kill(procs[mid].pid, signal.SIGSTOP)
    consume(a, b, b, a, E2E_HIGH)
    consume(b, a, a, b, E2E_HIGH)
    wait(lambda: transfers_sent(a, mark[a]) and transfers_sent(b, mark[b]), 30,
         "both ends' refills under way")
    time.sleep(0.5)
    kill9(mid)
    start(mid, share=100)
    wait(settled, 150, "both end-to-end pools refilled and equal at both ends")
    diag(f"end-to-end levels after the kill (out, in): {e2e_levels()}")
    check(re.search(r"transfer \d+: ABORT of \d+ keys", log_text(a)[mark[a]:]),
          "tokyo aborted none of the transfers nagoya took down with it")
    # What one end can initiate with the other holds, the same keys.
    n = consume(a, b, b, a, E2E_HIGH) + consume(b, a, a, b, E2E_HIGH)
    eq(n, 2 * E2E_HIGH, "end-to-end key pairs after the kill")
    check("relay: node " + mid in log_text(mid)[-20000:], "nagoya's relay not restarted")


# ---------------------------------------------------------------- ends agree

def e2e_counts(x):
    """x's end-to-end pool: (outbound added, inbound added)."""
    k = stats(x, e2e_peer(x))
    return k[("out", "added")], k[("in", "added")]


def ends_agree(since=None):
    """Nothing in flight and nothing one-sided between tokyo and kobe:
    both directions' levels equal at the two ends, every key the far end
    was given (inbound added) either committed by the origin (outbound
    added) or removed again for its ABORT (counted in the far end's log
    from the offsets since: where the pools' counters began, None for
    the whole log), and each pool's counters reconciled: added = taken +
    expired + flushed + level.
    Returns a description of what disagrees, or "" (then callers take
    every key in pairs: same IDs, same material)."""
    lv = e2e_levels()
    bad = []
    for origin in ENDS:
        far = e2e_peer(origin)
        text = log_text(far)[since[far] if since else 0:]
        got, com = e2e_counts(far)[1], e2e_counts(origin)[0]
        rem = relaylog.removed(text, origin)
        if lv[origin][0] != lv[far][1]:
            bad.append(f"{origin} out {lv[origin][0]} vs {far} in {lv[far][1]}")
        if got != com + rem:
            bad.append(f"{far} was given {got} keys by {origin}, which committed {com}; "
                       f"{rem} removed for ABORTs")
        for d, (added, gone) in reconciled(origin, far).items():
            if added != gone:
                bad.append(f"{origin} pool {far} {d}: added {added} vs taken + expired + "
                           f"flushed + level {gone}")
    return "; ".join(bad)


def take_all(what):
    """Every key of both end-to-end pools' outbound sides and its twin at
    the other end (consume: same ID, same material).  Called with the
    ends agreeing (levels equal): then the inbound sides held exactly
    these."""
    lv = e2e_levels()
    n = consume(ENDS[0], ENDS[1], ENDS[1], ENDS[0], lv[ENDS[0]][0])
    n += consume(ENDS[1], ENDS[0], ENDS[0], ENDS[1], lv[ENDS[1]][0])
    diag(f"{what}: {n} end-to-end key pairs taken, IDs and material equal")
    return n


def agreed(what, timeout, since=None):
    """Wait until the ends agree and are full: fail with what disagrees."""
    last = [""]

    def ok():
        try:
            last[0] = ends_agree(since)
        except Exception as e:      # noqa: BLE001  (pools re-created)
            last[0] = str(e)
        return not last[0] and e2e_full()
    try:
        wait(ok, timeout, what)
    except AssertionError as e:
        raise AssertionError(f"{e}: {last[0] or 'not full'}") from None


# ---------------------------------------------------------------- the link cut

CUT = (NODES[1], NODES[2])      # nagoya-osaka, link 1 of the chain


def source_ok(x, y):
    """Whether x's link pool y's key source answered its last call."""
    for p in status(x).get("pools", []):
        if p["name"] == y:
            return p.get("source_ok")
    return None


def path_lines(x, since):
    """The paths x's end-to-end pool logged after offset since (None: no path)."""
    return relaylog.paths(log_text(x)[since[x]:], e2e_peer(x))


@test("relay: nagoya-osaka cut with refills in flight: no path at both ends, the pools drain and do not refill, nothing one-sided; restored: the path and the keys return")
def _():
    a, b = ENDS
    x, y = CUT
    agreed("the ends agreeing, full", 120)
    mark = {n: len(log_text(n)) for n in NODES}
    t0 = time.monotonic()
    take_all("before the cut")
    wait(lambda: transfers_sent(a, mark[a]) and transfers_sent(b, mark[b]), 30,
         "both ends' refills under way")
    cut(1)
    # The link's own IPsec takes keys: its next refill, on each side,
    # finds the QKD link cut, and the link is down for relaying (the peer
    # channel stays up: frames already past it still go through).
    pairs = drain_link(x, y) + drain_link(y, x)
    wait(lambda: source_ok(x, y) is False and source_ok(y, x) is False, 30,
         "nagoya's and osaka's refills of their link failing")
    for n, m in ((x, y), (y, x)):
        check(re.search(rf"pool {m}: .*503", log_text(n)[mark[n]:]),
              f"{n}: its pool {m}'s failed refill is not logged")
    diag(f"cut: {pairs} link key pairs of nagoya-osaka taken (materials equal), "
         f"its refills failing {time.monotonic() - t0:.1f} s after the refills began")
    # Every key either origin can initiate with is at the other end
    # (taken in pairs); the far ends may hold inbound keys of transfers
    # their origin gave up when it lost the path, unusable until its
    # ABORT, which needs a path: checked after the restore.  Drained,
    # every refill is refused at the cut.
    take_all("during the cut")
    wait(lambda: all(None in path_lines(n, mark) for n in ENDS), 60,
         "no path at both ends")
    for n, (p, q) in ((a, (x, y)), (b, (y, x))):
        t = log_text(n)[mark[n]:]
        check(f"relay {e2e_peer(n)}: link {p}-{q} reported down by {p}" in t,
              f"{n}: the cut not reported by {p}")
        check(re.search(rf"relay {e2e_peer(n)}: transfer \d+: link down at {p}$", t, re.M),
              f"{n}: no transfer refused at {p}")
        check(f"relay {e2e_peer(n)}: no path to {e2e_peer(n)}: " in t, f"{n}: no path not logged")
        diag(f"{n}: " + next(ln for ln in t.splitlines() if "no path to" in ln))
    # No path: what is left is taken, and nothing comes in its place
    # (transfers still open expired at the loss of the path: a late ACK
    # commits nothing).
    take_all("no path")
    before = {n: e2e_counts(n)[0] for n in ENDS}
    time.sleep(5)
    for n in ENDS:
        eq(e2e_levels()[n][0], 0, f"{n}: outbound level with no path")
        eq(e2e_counts(n)[0], before[n], f"{n}: keys committed with no path")
        for d, (added, gone) in reconciled(n, e2e_peer(n)).items():
            eq(added, gone, f"{n} {d}: added vs taken + expired + flushed + level with no path")
    # Restored: the link refills, each end's hold on it ends
    # (RELAY_DOWN_HOLD), the path returns and the pools refill.
    back = {n: len(log_text(n)) for n in NODES}
    t1 = time.monotonic()
    restore(1)
    wait(lambda: source_ok(x, y) and source_ok(y, x), 60, "nagoya-osaka refilling again")
    full_path = {a: NODES, b: NODES[::-1]}
    wait(lambda: all(full_path[n] in path_lines(n, back) for n in ENDS), 90,
         "the path back at both ends")
    agreed("both end-to-end pools refilled, the ends agreeing", 120)
    diag(f"restored: paths back and both pools full {time.monotonic() - t1:.1f} s after the restore")
    for n in ENDS:
        diag(f"{n}: paths logged since the cut: {path_lines(n, mark)}")
    eq(take_all("after the restore"), 2 * E2E_HIGH, "end-to-end key pairs after the restore")


# ------------------------------------------------------------ module reload

def loaded():
    return os.path.exists("/sys/module/qkdpool")


@test("relay: qkdpool reloaded under the relaying nodes: every node re-creates its pools, both end-to-end pools refill, nothing one-sided")
def _():
    # The module is the VM's: nagoya's rmmod takes every node's pools,
    # link and end-to-end, at once (what a reboot of the whole network
    # would do, minus the daemons).  Last of the relay's disruptions: the
    # link pools' keys and the ends' keys are all gone, and every daemon
    # must notice, re-create and reconcile on its own.
    a, b, mid = ENDS[0], ENDS[1], NODES[1]
    agreed("the ends agreeing, full", 120)
    mark = {n: len(log_text(n)) for n in NODES}
    # Frozen, nagoya holds both ends' refills in its sockets across the
    # reload (as in the kill -9 case): they meet pools that are gone.
    os.kill(procs[mid].pid, signal.SIGSTOP)
    try:
        take_all("before the reload")
        wait(lambda: transfers_sent(a, mark[a]) and transfers_sent(b, mark[b]), 30,
             "both ends' refills under way")
        subprocess.run(["ip", "netns", "exec", "rl-" + mid, "rmmod", "qkdpool"],
                       check=True, capture_output=True)
        time.sleep(1.5)
    finally:
        if not loaded():
            subprocess.run(["insmod", KO], check=True, capture_output=True)
        os.kill(procs[mid].pid, signal.SIGCONT)
    t0 = time.monotonic()
    fam.clear()             # the test's ynl handles are stale,
    reset_family_cache()    # and ynl's cache of family IDs
    wait(links_filled, 120, "every link pool refilled both ways")
    agreed("both end-to-end pools refilled, the ends agreeing", 150, since=mark)
    diag(f"reload: link and end-to-end pools full {time.monotonic() - t0:.1f} s after insmod")
    for n in NODES:
        check(procs[n].poll() is None, f"{n}: qkd-linkd exited")
        t = log_text(n)[mark[n]:]
        check("re-created from the configuration" in t, f"{n}: no 're-created' line")
        check("reconciling the inbound direction" in t, f"{n}: its link pools not reconciled")
    for n in ENDS:
        t = log_text(n)[mark[n]:]
        check(f"relay {e2e_peer(n)}: end-to-end pool created" in t,
              f"{n}: the end-to-end pool not re-created")
        diag(f"{n}: " + next(ln for ln in t.splitlines() if "end-to-end pool created" in ln))
    eq(take_all("after the reload"), 2 * E2E_HIGH, "end-to-end key pairs after the reload")


@test("relay: each link's keys are identical at its two ends")
def _():
    for i in range(len(NODES) - 1):
        x, y = NODES[i], NODES[i + 1]
        n = consume(x, y, y, x, 32) + consume(y, x, x, y, 32)
        eq(n, 64, f"link {x}-{y}: key pairs compared")


@test("relay: no key material in any node's log or status file")
def _():
    check(materials, "no material was taken")
    text = "".join(log_text(x) + json.dumps(status(x)) for x in NODES)
    for m in materials:
        for enc in (m.hex(), base64.b64encode(m).decode()[:16], m[:8].hex()):
            check(enc not in text, "key material found in a log or status file")
    diag(f"{len(materials)} materials searched in {len(NODES)} logs")


def finish(failed):
    cleanup()


main(finish)
