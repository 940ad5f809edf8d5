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
the frames need (relay.rst, "Sizing"), and no relayed key reaches a log."""

import base64
import json
import os
import re
import signal
import subprocess
import time

from qkdlab.relaynet import (BATCH, E2E_HIGH, HIGH, LINKD, NODES, cleanup, conf,
                             consume, e2e_peer, kill9, link_levels, procs,
                             log_text, materials, pool, qkdctl, start, stats,
                             status, up, wait)
from qkdlab.tap import check, diag, eq, main, test


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


@test("relay: qkdctl show, --json and metrics: tokyo's path and bottleneck, nagoya's link keys taken")
def _():
    a, mid, b = NODES[0], NODES[1], NODES[-1]
    wait(e2e_full, 60, "both end-to-end pools full")
    # The status is rewritten every second: the counters settle in one.
    wait(relay_status_matches, 10, "nagoya's status agrees with its link pools' counters")
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
