#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`make demo-network`, the part inside the VM: the trusted-node network
(qkdlab.trustnet: tokyo - nagoya - osaka - kobe, each router running
qkd-linkd and charon with the qkd plugin, the KME simulator serving the
QKD links of 10 kbit/s, 10 Mbit/s and 1 Mbit/s), IPsec between every
pair of neighbours and end to end tokyo - kobe (keyed from the end-to-end
pool that qkd-linkd fills by relaying), every CHILD_SA re-keyed every
CHILD_REKEY s, ping running tokyo -> kobe through the end-to-end SA:

  normal     NORMAL s: every SA QKD-keyed
  cut        nagoya - osaka cut at the KME simulator (the peer channel
             stays up).  Chain: no path is left, tokyo - kobe drains its
             end-to-end pool and falls back to x25519 + ML-KEM-768 with no
             failed re-key; the other SAs stay on QKD.  Ring (--ring: a
             second route nagoya - kobe of 500 kbit/s): the relay reroutes
             over it, both ends log the path change, tokyo - kobe stays
             QKD-keyed through the cut (CUT_RING s).
  restored   the link back: tokyo - kobe QKD-keyed again (chain), the
             path back through osaka at both ends (ring).

A live line every LIVE s, then a summary table per SA (re-keys,
QKD-keyed, ML-KEM only, failed, per phase) and per hop (link keys taken
for relaying by the sender and by the receiver, from both link pools'
counters less the SA keys the charon logs account for, against the
transfers the origins logged).  Exit status 0 only when the claims hold.
"@@TIMELINE@@ JSON" at the end is what tools/demo/timeline.py draws.
"""

import json
import re
import sys
import threading
import time

import console
from console import T0 as t0, banner, say

from qkdlab.qkdnet import NAK_REASONS
from qkdlab.relaylog import PATH_RE, link_keys_expected
from qkdlab.routers import FALLBACK_RE, KEY_RE
from qkdlab.trustnet import CHAIN, E2E, E2E_POOL, NODES, RING, TrustNet

CHILD_REKEY = 4
IKE_REKEY = 40
NORMAL = 30
CUT = ("nagoya", "osaka")
MIN_FALLBACK = 3        # ML-KEM-only re-keys of tokyo - kobe once its pool is empty
MIN_QKD_AFTER = 3       # QKD-keyed re-keys of tokyo - kobe after the restore
CUT_RING = 45           # s of cut in the ring
LIVE = 3.0
NOTE_RE = re.compile(r"refused|dropped|lost|down|ABORT|abort|missing|unanswered|not ")
PING_INTERVAL = 0.2
MAX_PING_LOSS = 0.01
RING_MODE = "--ring" in sys.argv[1:]
AROUND = ["tokyo", "nagoya", "kobe"]       # the ring's second route
net = TrustNet(RING if RING_MODE else CHAIN, CHILD_REKEY, IKE_REKEY)
run = {"phase": "setup", "pinger": None, "marks": {}}
timeline = {"capacity": E2E_POOL["capacity"], "high": E2E_POOL["high_watermark"],
            "low": E2E_POOL["low_watermark"], "samples": [], "rekeys": [], "cut": None,
            "restore": None, "method": "x25519-ke1_mlkem768qkd",
            "title": f"qkd-ipsec trusted-node {'ring' if RING_MODE else 'chain'}, tokyo-kobe",
            "cut_label": "nagoya-osaka cut"}


def sa_name(a, b):
    return f"{a}-{b}"


def texts(since=None):
    """{node: charon log text from the marks since (or all)}."""
    return {x: n.log_text()[(since or {}).get(x, 0):] for x, n in net.nodes.items()}


def exchanges(text, role, pool):
    """[(outcome, detail)] of the qkd exchanges in text with that role and
    pool: ("qkd", key ID) or ("fallback" | "failing", reason), in order."""
    ev = [(m.start(), "qkd", m.group(2)) for m in KEY_RE.finditer(text)
          if m.group(1) == role and m.group(3) == pool]
    ev += [(m.start(), "fallback" if m.group(2) == "falling back" else "failing", m.group(3))
           for m in FALLBACK_RE.finditer(text) if m.group(1) == role and m.group(4) == pool]
    return [e[1:] for e in sorted(ev)]


def tally(tx):
    """{SA: {"rekeys", "qkd", "mlkem", "failed"}} of the texts tx, counted at
    the initiator of each exchange (either end); failed adds charon's
    failure lines of that connection on both ends."""
    res = {}
    for a, b in net.pairs:
        ev = exchanges(tx[a], "initiator", b) + exchanges(tx[b], "initiator", a)
        t = {"rekeys": len(ev), "qkd": sum(1 for e in ev if e[0] == "qkd"),
             "mlkem": sum(1 for e in ev if e[0] == "fallback"),
             "failed": sum(1 for e in ev if e[0] == "failing")}
        t["failed"] += len(net.nodes[a].failures_of(tx[a], b)) + \
            len(net.nodes[b].failures_of(tx[b], a))
        res[sa_name(a, b)] = t
    return res


def e2e_levels():
    a, b = E2E
    pa, pb = net.nodes[a].pool(b), net.nodes[b].pool(a)
    return {f"{a}: pool {b}": [pa["out"]["level"], pa["in"]["level"]],
            f"{b}: pool {a}": [pb["out"]["level"], pb["in"]["level"]]}


def path_of(m):
    return m.group(2) or m.group(3)


def last_path(x):
    """x's end-to-end pool's newest path ("tokyo nagoya osaka kobe", "no
    path"), or ''."""
    ms = list(PATH_RE.finditer(net.linkd_text(x)))
    return path_of(ms[-1]) if ms else ""


def live_line():
    try:
        lv = e2e_levels()
        pools = "  ".join(f"{k} {v[0]}/{v[1]}" for k, v in lv.items())
    except (RuntimeError, KeyError):
        pools = "end-to-end pools not there yet"
    start = run["marks"].get(run["phase"])
    t = tally(texts(start)) if start else {}
    e2e = t.get(sa_name(*E2E), {})
    others = sum(v["mlkem"] for k, v in t.items() if k != sa_name(*E2E))
    sent, lost = run["pinger"].live() if run["pinger"] else (0, 0)
    say(f"{time.monotonic() - t0:5.0f}s {run['phase']:8} | {pools} | tokyo-kobe re-keys "
        f"{e2e.get('rekeys', 0)}: QKD {e2e.get('qkd', 0)} ML-KEM {e2e.get('mlkem', 0)} "
        f"failed {e2e.get('failed', 0)} | other SAs ML-KEM {others} | ping {sent}/{lost} lost")
    for x in E2E:
        p = last_path(x)
        if p != run.setdefault("paths", {}).get(x):
            run["paths"][x] = p
            say(f"         {x}'s qkd-linkd: relay path {p}")


def sampler(stop):
    seen = 0
    while not stop.wait(1.0):
        try:
            lv = e2e_levels()
            sent, lost = run["pinger"].live() if run["pinger"] else (0, 0)
            now = round(time.monotonic() - t0, 2)
            timeline["samples"].append([now, lv, sent, lost])
            ev = exchanges(net.nodes[E2E[0]].log_text()[run["origin"][E2E[0]]:],
                           "initiator", E2E[1])
            for o, _ in ev[seen:]:
                timeline["rekeys"].append([now, "qkd" if o == "qkd" else
                                           "mlkem" if o == "fallback" else "failed"])
            seen = len(ev)
        except Exception as e:      # noqa: BLE001
            say(f"  timeline sample failed: {type(e).__name__}: {e}")


def watch(until, timeout, what, step=0.5):
    """Wait for until() with the live line going (console.watch)."""
    return console.watch(until, timeout, what, live_line, LIVE, step)


def mark(phase):
    run["marks"][phase] = {x: len(n.log_text()) for x, n in net.nodes.items()}
    run["phase"] = phase


def e2e_initiated(since):
    return exchanges(net.nodes[E2E[0]].log_text()[since[E2E[0]]:], "initiator", E2E[1])


# ------------------------------------------------------------ accounting

def counters():
    """{(node, pool): (out taken, in taken)} of every link pool, and
    {(node, pool): inbound keys linkd removed on an ABORT}."""
    taken, removed = {}, {}
    for (x, p), dirs in net.pools().items():
        taken[(x, p)] = (dirs["out"]["taken"], dirs["in"]["taken"])
        removed[(x, p)] = net.linkd_status(x).get(p, {}).get("removed", 0)
    return taken, removed


def sa_takes(tx, x, p):
    """Keys the plugin took from x's pool p in the texts: outbound (its
    offers as initiator, ACKed or NAKed) and inbound (its ACKs as responder)."""
    out = sum(1 for o, d in exchanges(tx[x], "initiator", p)
              if o == "qkd" or (o == "fallback" and d in NAK_REASONS))
    inn = sum(1 for o, _ in exchanges(tx[x], "responder", p) if o == "qkd")
    return out, inn


def relay_expected(base):
    """{(x, y): link keys the transfers the origins logged since base took
    on hop x -> y} (relaylog.link_keys_expected)."""
    return link_keys_expected({o: net.linkd_text(o)[base[o]:] for o in E2E})


def hop_table(base_taken, base_removed, base_log, origin, claims):
    """Per hop direction, link keys taken for relaying: by the sender and
    the receiver (their counters less the plugin's takes) and what the
    origins' transfers need; returns the rows."""
    taken, removed = counters()
    tx = texts(origin)
    exp = relay_expected(base_log)
    rows = []
    for a, b, rate in net.links:
        for x, y in ((a, b), (b, a)):
            so, _ = sa_takes(tx, x, y)
            _, si = sa_takes(tx, y, x)
            out = taken[(x, y)][0] - base_taken[(x, y)][0] - so
            inn = taken[(y, x)][1] - base_taken[(y, x)][1] - si - \
                (removed[(y, x)] - base_removed[(y, x)])
            e = exp.get((x, y), 0)
            rows.append((f"{x}->{y}", rate, out, inn, e))
            if not out == inn == e:
                claims.append(f"hop {x}->{y}: relay link keys {out} taken by {x}, {inn} by "
                              f"{y}, {e} by the logged transfers")
    return rows


def settled():
    """No transfer in flight: what each end holds outbound the other holds
    inbound, twice 2 s apart."""
    def same():
        lv = list(e2e_levels().values())
        return lv[0] == lv[1][::-1]
    if not same():
        return False
    time.sleep(2)
    return same()


def ids_agree(origin):
    """Every SA's QKD key IDs at its initiator == at its responder."""
    tx = texts(origin)
    bad = []
    for a, b in net.pairs:
        for x, y in ((a, b), (b, a)):
            i = sorted(d for o, d in exchanges(tx[x], "initiator", y) if o == "qkd")
            r = sorted(d for o, d in exchanges(tx[y], "responder", x) if o == "qkd")
            if i != r:
                bad.append(f"{sa_name(a, b)}: {len(i)} key IDs offered by {x}, {len(r)} "
                           f"accepted by {y}, {len(set(i) ^ set(r))} differ")
    return bad


def counters_agree(origin, timeout=30):
    """Per router, the qkd exchanges it logged since origin (one line each,
    as initiator or responder), less its IKE_SAs' set-ups and the CHILD_SA
    "back" created at kobe's initiate, against charon's counters
    (CHILD_SA re-keys, counted by both ends; IKE_SA re-keys, initiated or
    answered), read again until the log did not change meanwhile (an
    exchange between the reads) or timeout s pass; [] or [problems]."""
    bad = []
    for x, n in net.nodes.items():
        extra = len(n.peers) + (x in E2E)
        deadline = time.monotonic() + timeout
        while True:
            def logged():
                text = n.log_text()[origin[x]:]
                return len(KEY_RE.findall(text)) + len(FALLBACK_RE.findall(text))
            before = logged()
            c = n.counters()
            got = c.get("child-rekey", 0) + c.get("ike-rekey-init", 0) + \
                c.get("ike-rekey-resp", 0)
            if logged() == before and before - extra == got:
                run.setdefault("counted", {})[x] = got
                break
            if time.monotonic() >= deadline:
                bad.append(f"{x}: charon's counters say {got} re-keys, its log "
                           f"{before - extra}")
                break
            time.sleep(0.3)
    if not bad:
        say("  charon's re-key counters match each router's log: " +
            ", ".join(f"{x} {v}" for x, v in run["counted"].items()))
    return bad


# ------------------------------------------------------------ the run

def phase_rows(order, end):
    rows = []
    for k, ph in enumerate(order):
        nxt = run["marks"][order[k + 1]] if k + 1 < len(order) else end
        tx = {x: net.nodes[x].log_text()[run["marks"][ph][x]:nxt[x]] for x in NODES}
        rows.append((ph, tally(tx)))
    return rows


def summary(rows, hops, sent, recv, claims, paths):
    say()
    say("Summary per SA and phase (re-keys counted at their initiator from the plugin's log;")
    say("key IDs checked against the responder's log, each router's exchanges against its")
    say("charon's re-key counters; failures from both routers' logs)")
    say()
    hdr = f"  {'SA':14} {'phase':9} {'re-keys':>7} {'QKD-keyed':>9} {'ML-KEM only':>11} {'failed':>6}"
    say(hdr)
    say("  " + "-" * (len(hdr) - 2))
    for a, b in net.pairs:
        for ph, t in rows:
            v = t[sa_name(a, b)]
            say(f"  {sa_name(a, b):14} {ph:9} {v['rekeys']:7} {v['qkd']:9} {v['mlkem']:11} "
                f"{v['failed']:6}")
    say()
    say("Link keys taken for relaying per hop (whole run; each side's pool counters less")
    say("the keys its charon took, against n + 2 per logged transfer of n keys per hop)")
    say()
    hdr = f"  {'hop':16} {'link':>5} {'sender':>7} {'receiver':>8} {'transfers':>9}"
    say(hdr)
    say("  " + "-" * (len(hdr) - 2))
    for h, rate, out, inn, e in hops:
        say(f"  {h:16} {rate:>5} {out:7} {inn:8} {e:9}")
    loss = (sent - recv) / sent if sent else 1.0
    say()
    say(f"  ping tokyo -> kobe through the end-to-end SA: {sent} sent, {sent - recv} lost "
        f"({loss:.2%}, bound {MAX_PING_LOSS:.0%}); CHILD_SA re-key {CHILD_REKEY} s, "
        f"neighbours' IKE_SA {IKE_REKEY} s; end-to-end pools: capacity {E2E_POOL['capacity']}, "
        f"watermarks {E2E_POOL['low_watermark']}/{E2E_POOL['high_watermark']}, "
        f"{E2E_POOL['batch_size']} keys per transfer")
    for x, ps in paths.items():
        say(f"  {x}'s relay paths, in order: " + "; ".join(ps))
    if not sent or loss > MAX_PING_LOSS:
        claims.append(f"ping lost {sent - recv} of {sent}")
    say()
    for a, b in net.pairs:
        for x, y in ((a, b), (b, a)):
            for ln in net.nodes[x].failures_of(net.nodes[x].log_text()[run["origin"][x]:], y):
                say(f"  {x}'s charon: {ln}")
    if any(c.startswith("hop ") for c in claims):
        # what the relay said about transfers that went wrong, per node
        for x in NODES:
            for ln in net.linkd_text(x).splitlines():
                if "relay" in ln and NOTE_RE.search(ln):
                    say(f"  {x}: {ln}")
    if claims:
        say("DEMO FAILED: the run did not do what the table claims:")
        for c in claims:
            say("  - " + c)
        return 1
    say("DEMO OK: every claim of the tables holds (re-keys per SA and phase, no failed "
        "re-key, per-hop relay consumption the same at both ends of every hop and as the "
        "transfers logged).")
    return 0


def check_phases(rows, claims):
    e2e = sa_name(*E2E)
    cut = sa_name(*CUT)
    for ph, t in rows:
        for sa, v in t.items():
            if v["failed"]:
                claims.append(f"{ph}: {sa}: {v['failed']} failed re-keys")
            if ph == "normal" and (not v["rekeys"] or v["qkd"] != v["rekeys"]):
                claims.append(f"normal: {sa}: {v['qkd']} of {v['rekeys']} re-keys QKD-keyed")
            if ph == "cut" and sa not in (e2e, cut) and v["mlkem"]:
                claims.append(f"cut: {sa} (not on the cut link) had {v['mlkem']} ML-KEM-only re-keys")
        v = t[e2e]
        if ph == "cut" and not RING_MODE and not v["mlkem"]:
            claims.append("cut: tokyo-kobe never fell back to ML-KEM")
        if ph == "cut" and RING_MODE and (v["mlkem"] or not v["qkd"]):
            claims.append(f"cut (ring): tokyo-kobe {v['qkd']} QKD-keyed, {v['mlkem']} ML-KEM only")
        if ph == "restored" and not v["qkd"]:
            claims.append("restored: no QKD-keyed tokyo-kobe re-key")


def paths_of(x, since):
    return [path_of(m) for m in PATH_RE.finditer(net.linkd_text(x)[since:])]


def main():
    claims = []
    kind = "ring (second route nagoya-kobe 500 kbit/s)" if RING_MODE else "chain"
    banner(f"set-up: the {kind}: " + ", ".join(f"{a}-{b} {r}bit/s" for a, b, r in net.links) +
           "; qkd-linkd on every router")
    net.setup()
    net.start_sim()
    net.start_linkd()
    watch(net.ready, 300, "every link pool and both end-to-end pools to fill")
    base_taken, base_removed = counters()
    base_log = {x: len(net.linkd_text(x)) for x in E2E}
    path_log = {x: len(net.linkd_text(x)) for x in E2E}
    banner("charon on every router; IKE_SAs: " + ", ".join(sa_name(a, b) for a, b in net.pairs))
    net.start_charon()
    run["origin"] = {x: len(n.log_text()) for x, n in net.nodes.items()}
    for a, b in net.pairs:
        rc, out = net.nodes[a].initiate(b)
        if rc:
            say(f"swanctl --initiate {sa_name(a, b)} failed ({rc}):\n{out[-2000:]}")
            return 1
    # kobe's own CHILD_SA in the end-to-end IKE_SA (trustnet: "back")
    rc, out = net.nodes[E2E[1]].initiate(E2E[0], child="back")
    if rc:
        say(f"swanctl --initiate back at kobe failed ({rc}):\n{out[-2000:]}")
        return 1
    run["pinger"] = net.ping(PING_INTERVAL)
    stop = threading.Event()
    th = threading.Thread(target=sampler, args=(stop,), daemon=True)
    th.start()

    banner(f"phase 1, normal: every CHILD_SA re-keyed every {CHILD_REKEY} s on QKD keys, "
           f"ping tokyo -> kobe every {PING_INTERVAL} s")
    mark("normal")
    t_end = time.monotonic() + NORMAL
    watch(lambda: time.monotonic() >= t_end, NORMAL + 5, "the normal phase")

    banner("phase 2: QKD link nagoya-osaka cut at the KME simulator (peer channel up)")
    mark("cut")
    net.cut(*CUT)
    timeline["cut"] = round(time.monotonic() - t0, 2)
    if RING_MODE:
        watch(lambda: all(last_path(x).split() in (AROUND, AROUND[::-1]) for x in E2E),
              240, "both ends to reroute")
        say("  both ends rerouted: " + "; ".join(f"{x}: {last_path(x)}" for x in E2E))
        t_end = time.monotonic() + CUT_RING
        watch(lambda: time.monotonic() >= t_end, CUT_RING + 5, "the cut")
    else:
        watch(lambda: net.nodes[E2E[0]].pool(E2E[1])["out"]["level"] == 0, 240,
              "tokyo's end-to-end pool to drain")
        say("  tokyo's pool kobe empty: tokyo-kobe re-keys go on over x25519 + ML-KEM-768")
        at = dict(run["marks"]["cut"], **{x: len(n.log_text()) for x, n in net.nodes.items()})
        watch(lambda: sum(1 for o, _ in e2e_initiated(at) if o == "fallback") >= MIN_FALLBACK,
              MIN_FALLBACK * CHILD_REKEY + 40, "ML-KEM-only re-keys of tokyo-kobe")

    banner("phase 3, restored: nagoya-osaka back")
    mark("restored")
    net.restore(*CUT)
    timeline["restore"] = round(time.monotonic() - t0, 2)
    if RING_MODE:
        watch(lambda: all(last_path(x).split() in (NODES, NODES[::-1]) for x in E2E),
              150, "both ends' paths back through osaka")
        say("  paths back: " + "; ".join(f"{x}: {last_path(x)}" for x in E2E))
    at = {x: len(n.log_text()) for x, n in net.nodes.items()}
    watch(lambda: sum(1 for o, _ in e2e_initiated(at) if o == "qkd") >= MIN_QKD_AFTER,
          MIN_QKD_AFTER * CHILD_REKEY + 90, "QKD-keyed tokyo-kobe re-keys")

    stop.set()
    th.join()
    sent, recv = run["pinger"].stop()
    run["pinger"] = None
    end = {x: len(n.log_text()) for x, n in net.nodes.items()}
    rows = phase_rows(["normal", "cut", "restored"], end)
    check_phases(rows, claims)
    claims.extend(counters_agree(run["origin"]))
    # The accounting once nothing takes keys any more: charon stopped,
    # the end-to-end pools refilled (no transfer in flight).
    for n in net.nodes.values():
        n.stop()
    try:
        watch(settled, 120, "the end-to-end pools to agree after charon stopped")
    except TimeoutError as e:
        claims.append(str(e))
    claims.extend(ids_agree(run["origin"]))
    hops = hop_table(base_taken, base_removed, base_log, run["origin"], claims)
    paths = {x: paths_of(x, path_log[x]) for x in E2E}
    if RING_MODE:
        for x in E2E:
            if not any(p in (AROUND, AROUND[::-1]) for p in map(str.split, paths[x])):
                claims.append(f"ring: {x} logged no path around nagoya-osaka")
    say("@@TIMELINE@@ " + json.dumps(timeline, separators=(",", ":")))
    return summary(rows, hops, sent, recv, claims, paths)


if __name__ == "__main__":
    status = 1
    try:
        status = main()
    except Exception as e:      # noqa: BLE001
        say(f"DEMO FAILED: {type(e).__name__}: {e}")
        for x, n in net.nodes.items():
            say(f"--- {x}'s charon log (end)")
            say("\n".join(n.log_text().splitlines()[-20:]))
            say(f"--- {x}'s qkd-linkd log (end)")
            say("\n".join(net.linkd_text(x).splitlines()[-20:]))
    finally:
        if run["pinger"]:
            run["pinger"].stop()
        try:
            net.teardown()
        except Exception as e:      # noqa: BLE001
            say(f"teardown: {e}")
    sys.exit(status)
