#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The trusted-node relay at scale (not a test; Documentation/bench.rst,
"The trusted-node relay at scale"): run inside the VM with the qkdpool module loaded,
by `make bench-network` (tools/bench.sh --network):

	python3 bench/relay_ring_bench.py [--nodes 18] [--e2e-high 128] ...

N routers in a ring (SoftBank's 18 aggregation nodes), one of them the
core; every other router keeps an end-to-end pool with the core (the core
keeps N - 1), relayed hop by hop over the ring by qkd-linkd; the KME
simulator serves the N QKD links (qkdlab.relaynet.RelayNet).  No charon:
this measures key relay alone.

  1. set-up: namespaces, certificates, the simulator, every qkd-linkd
     (link pools, the [topology], its end-to-end pools); the link pools
     and the end-to-end pools fill together (the cold start, not
     measured).  Between phases every qkd-linkd is frozen (SIGSTOP) and
     every end-to-end key is taken at both ends by ID (the VM tests'
     path, qkdlab.pools): the same ID and material at both ends, none
     missing, none twice, none left on one side; the pools are then empty.
  2. fill: every qkd-linkd thawed at once (SIGCONT), the end-to-end pools
     fill from empty, both directions, to their high watermark: the time,
     relayed keys per second (total and per pool), the hop counts, and
     the link keys each hop's two pools say were taken against what the
     transfers the origins logged need (n + 2 per transfer of n keys per
     hop reached: the keys, the hop's MAC key and the end-to-end MAC key).
  3. cut: the same fill from empty, with one ring link cut (--cut, at the
     simulator: the QKD link stops, the peer channel stays up, as in `make
     demo-network`) once --cut-at of the keys are committed: the time
     until each origin whose path crossed it logs a path the other way
     round, the fill after the reroute, and the same checks.

Exit status: 0 when every figure was measured and every check held; 1
when one did not (a hop's consumption differs from the expected, a key is
lost, duplicated or one-sided, a pool did not fill or reroute in time).
"""

import argparse
import collections
import os
import re
import signal
import statistics
import sys
import time

from qkdlab.relaylog import PATH_RE, link_keys_expected, sent
from qkdlab.relaynet import RelayNet, rate_bps, wait

failures = []
# the cut link's pools failing a refill: the cut known (qkd-linkd's log)
CUT_SEEN = "KME answered enc_keys with HTTP 503"
ZERO = collections.defaultdict(int)     # log offsets: from the start


def say(text=""):
    print(text, flush=True)


def claim(ok, text):
    """A check of the bench: printed as FAILED and counted when it does not hold."""
    if not ok:
        failures.append(text)
        say(f"# FAILED: {text}")
    return ok


# ------------------------------------------------------------ the ring

def ring(n, rate):
    nodes = ["core"] + [f"agg{k:02d}" for k in range(1, n)]
    links = [(nodes[i], nodes[(i + 1) % n], rate) for i in range(n)]
    e2e = {"core": nodes[1:], **{x: ["core"] for x in nodes[1:]}}
    return nodes, links, e2e


def directions(net):
    """[(origin, far end)] of every end-to-end pool direction: the core's
    outbound to each router and each router's outbound to the core."""
    return [(x, y) for x in net.nodes for y in net.e2e_peers(x)]


class Sampler:
    """CPU busy share (from /proc/stat) and the lowest MemAvailable, and the
    qkd-linkd and simulator RSS; busy() is the share since start()."""

    def __init__(self, net):
        self.net = net
        self.min_avail = None

    @staticmethod
    def _cpu():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]

    def avail(self):
        with open("/proc/meminfo") as f:
            m = {ln.split(":")[0]: int(ln.split()[1]) for ln in f}
        a = m["MemAvailable"] // 1024
        self.min_avail = a if self.min_avail is None else min(self.min_avail, a)
        return a

    def start(self):
        self.t0 = self._cpu()

    def busy(self):
        t, idle = self._cpu()
        dt = t - self.t0[0]
        return 1 - (idle - self.t0[1]) / dt if dt else 0.0

    def rss(self):
        """(sum of qkd-linkd VmRSS, simulator VmRSS), MiB."""
        def one(pid):
            try:
                with open(f"/proc/{pid}/status") as f:
                    return next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS"))
            except (OSError, StopIteration):
                return 0
        linkd = sum(one(p.pid) for x, p in self.net.procs.items() if x != "sim")
        return linkd / 1024, one(self.net.procs["sim"].pid) / 1024


# ------------------------------------------------------------ measuring

def snapshot(net):
    """{node: {pool: {(direction, counter): value}}} of every node."""
    return {x: net.pools(x) for x in net.nodes}


def freeze(net):
    """SIGSTOP every qkd-linkd: nothing relays or refills while the keys
    are compared (the kernel pools answer; the connections stay up)."""
    for x in net.nodes:
        net.procs[x].send_signal(signal.SIGSTOP)


def thaw(net):
    for x in net.nodes:
        net.procs[x].send_signal(signal.SIGCONT)


def fill(net, args, sampler, cut=None):
    """With every qkd-linkd frozen and every end-to-end pool emptied
    (keys_report), thaw them all and wait until every direction is at its
    high watermark at both ends; with cut (a link index), cut it once
    args.cut_at of the keys are committed.  Returns the record."""
    high = net.e2e_pool["high_watermark"]
    dirs = directions(net)
    base, removed = snapshot(net), removed_of(net)
    logs = {x: len(net.log_text(x)) for x in net.nodes}
    sampler.start()
    t0 = time.monotonic()
    thaw(net)
    done, first, rec, committed = {}, None, {"cut": None}, 0
    while len(done) < len(dirs):
        now = time.monotonic() - t0
        if now > args.timeout:
            claim(False, f"fill: {len(dirs) - len(done)} of {len(dirs)} directions not "
                  f"full after {args.timeout} s: "
                  f"{', '.join(f'{o}->{f}' for o, f in dirs if (o, f) not in done)}")
            break
        try:
            snap = snapshot(net)
        except Exception:       # noqa: BLE001  (an end-to-end pool not created yet)
            time.sleep(0.5)
            continue
        committed = 0
        for o, f in dirs:
            po, pf = net.e2e_name(f), net.e2e_name(o)
            out = snap[o].get(po, {}).get(("out", "level"), 0)
            inn = snap[f].get(pf, {}).get(("in", "level"), 0)
            committed += snap[o].get(po, {}).get(("out", "added"), 0) - \
                base[o].get(po, {}).get(("out", "added"), 0)
            if (o, f) not in done and out >= high and inn >= high:
                done[(o, f)] = now
        if committed and first is None:
            first = now
        if cut is not None and rec["cut"] is None and \
                committed >= args.cut_at * high * len(dirs):
            a, b, _ = net.links[cut]
            logs_cut = {x: len(net.log_text(x)) for x in net.nodes}
            cur = {d: ps[-1] for d, ps in paths(net, ZERO).items()}
            rec.update(cut=now, cut_committed=committed, logs_cut=logs_cut, seen={},
                       before=cur, crossing=sorted(d for d, p in cur.items() if uses(p, a, b)),
                       done_before=dict(done))
            net.cut(cut, channel=False)
            say(f"# cut {a}-{b} at {now:.1f} s, {committed} keys committed; "
                f"{len(rec['crossing'])} directions' paths crossed it")
        if rec["cut"] is not None and rec.get("effective") is None:
            # The simulator's cut takes effect for relaying when the
            # link's pool next fails a refill (relaynet.cut)
            a, b, _ = net.links[cut]
            if any(CUT_SEEN in net.log_text(x)[rec["logs_cut"][x]:] for x in (a, b)):
                rec.update(effective=now, logs_eff={x: len(net.log_text(x)) for x in net.nodes})
        if rec["cut"] is not None:
            for d in rec["crossing"]:
                if d not in rec["seen"] and rerouted(net, rec, cut, d):
                    rec["seen"][d] = now
        sampler.avail()
        time.sleep(0.5)
    rec.update(t=time.monotonic() - t0, done=done, committed=committed, first=first, base=base,
               removed=removed, logs=logs,
               busy=sampler.busy(), rss=sampler.rss())
    return rec


def uses(p, a, b):
    """Whether path p (node names) crosses link a-b."""
    return bool(p) and any({p[i], p[i + 1]} == {a, b} for i in range(len(p) - 1))


def rerouted(net, rec, cut, d):
    """The path that direction d's origin logged since the cut and that
    avoids the cut link, or None."""
    a, b, _ = net.links[cut]
    for m in PATH_RE.finditer(net.log_text(d[0])[rec["logs_cut"][d[0]]:]):
        p = m.group(2).split() if m.group(2) else None
        if m.group(1) == net.e2e_name(d[1]) and p and not uses(p, a, b):
            return p
    return None


def paths(net, logs):
    """{(origin, far end): [path, ...]} logged by each origin since logs."""
    out = {}
    for x in net.nodes:
        for m in PATH_RE.finditer(net.log_text(x)[logs[x]:]):
            peer = m.group(1)[len(net.e2e_prefix):]
            out.setdefault((x, peer), []).append(m.group(2).split() if m.group(2) else None)
    return out


def e2e_full(net):
    """Every direction at its high watermark at both ends."""
    try:
        s = snapshot(net)
        high = net.e2e_pool["high_watermark"]
        return all(s[o][net.e2e_name(f)][("out", "level")] >= high and
                   s[f][net.e2e_name(o)][("in", "level")] >= high for o, f in directions(net))
    except Exception:       # noqa: BLE001  (pools not created yet)
        return False


def links_settled(net):
    """Every link pool at or above its low watermark, the same count at
    both ends of each direction, and no refill under way (the same levels
    3 s later): a freeze then stops no KME call or offer half-way."""
    def levels():
        s = snapshot(net)
        return {(x, y): (s[x][y][("out", "level")], s[y][x][("in", "level")])
                for a, b, _ in net.links for x, y in ((a, b), (b, a))}
    try:
        lv = levels()
        low = net.link["low_watermark"]
        if not all(o >= low and o == i for o, i in lv.values()):
            return False
        time.sleep(3)
        return levels() == lv
    except Exception:       # noqa: BLE001  (pools not created yet)
        return False


def settle(net):
    """No transfer in flight: every direction's two ends hold the same
    count, twice 2 s apart (a refill after the high watermark is none)."""
    def same():
        s = snapshot(net)
        return tuple(s[o][net.e2e_name(f)][("out", "level")] -
                     s[f][net.e2e_name(o)][("in", "level")]
                     for o, f in directions(net))
    def zero():
        v = same()
        return not any(v) and (time.sleep(2) or not any(same()))
    wait(zero, 120, "both ends of every end-to-end pool to agree")


def removed_of(net):
    """{node: {pool: inbound keys its qkd-linkd removed}} (the status
    file's counter since the daemon started: keys of aborted offers, which
    the pool's taken counter counts too)."""
    return {x: {p["name"]: p.get("removed", 0) for p in net.status(x).get("pools", [])}
            for x in net.nodes}


def consumption(net, rec):
    """Per hop direction (x, y): (taken by x outbound, taken by y inbound,
    expected from the logged transfers), and the relayed keys x hops the
    transfers carried (for the per-key figure)."""
    now = snapshot(net)
    base = rec["base"]
    removed = removed_of(net)
    texts = {x: net.log_text(x)[rec["logs"][x]:] for x in net.nodes}
    exp = link_keys_expected(texts)
    rows = {}
    for a, b, _ in net.links:
        for x, y in ((a, b), (b, a)):
            out = now[x][y][("out", "taken")] - base[x][y][("out", "taken")]
            inn = now[y][x][("in", "taken")] - base[y][x][("in", "taken")] - \
                (removed[y].get(x, 0) - rec["removed"][y].get(x, 0))
            rows[(x, y)] = (out, inn, exp.get((x, y), 0))
    # keys x hops and transfers x hops of the transfers (each hop reached)
    keys_hops = sum(link_keys_expected(texts, extra=0).values())
    return rows, keys_hops


def compare_keys(net):
    """With relaying stopped: take every key of every direction at both
    ends by ID.  Returns (keys compared, missing at the far end or
    different, duplicated, one-sided left at the far end)."""
    n, seen, dup, one_sided = 0, set(), 0, 0
    for o, f in directions(net):
        try:
            mats = net.consume(o, f, net.e2e_name(f), net.e2e_name(o))
        except Exception as e:      # noqa: BLE001  (a missing ID, a material that differs)
            claim(False, f"{o}->{f}: {e}")
            return n, 1, dup, one_sided
        for m in mats:
            dup += m in seen
            seen.add(m)
        n += len(mats)
        left = net.pool(f, net.e2e_name(o))["stats-in"]["level"]
        one_sided += left
    return n, 0, dup, one_sided


# ------------------------------------------------------------ reporting

def hops_of(net):
    """{(origin, far end): hop count of its current path}."""
    return {d: len(ps[-1]) - 1 for d, ps in paths(net, ZERO).items() if ps[-1]}


def fill_report(net, rec, title):
    high = net.e2e_pool["high_watermark"]
    dirs = directions(net)
    times = [rec["done"][d] for d in dirs if d in rec["done"]]
    keys = len(times) * high
    say(f"\n  {title}")
    say(f"  {'measure':44} value")
    say(f"  {'every end-to-end pool full, from empty':44} {rec['t']:.1f} s "
        f"({len(times)} of {len(dirs)} directions, {high} keys each)")
    if rec["first"] is not None:
        say(f"  {'first relayed key committed':44} {rec['first']:.1f} s after the thaw")
    say(f"  {'relayed keys per second, total':44} {keys / rec['t']:.1f} "
        f"({keys} keys / {rec['t']:.1f} s)")
    # Every path ends on one of the core's two links: they bound the
    # relayed rate at 2 x their key rate / (1 + 2 / batch).
    bound = 2 * rate_bps(net.links[0][2]) / 256 / (1 + 2 / net.e2e_pool["batch_size"])
    say(f"  {'  against the core links bound':44} {keys / rec['t'] / bound:.4f}x of "
        f"{bound:.0f} keys/s (2 links x their rate / (1 + 2/{net.e2e_pool['batch_size']}))")
    if times:
        per = sorted(high / t for t in times)
        say(f"  {'relayed keys per second, per pool':44} median {statistics.median(per):.1f}, "
            f"min {per[0]:.1f}, max {per[-1]:.1f} (high watermark / its own time to full)")
    say(f"  {'CPU busy (2 vCPUs), lowest MemAvailable':44} {100 * rec['busy']:.0f}%, "
        f"{rec['min_avail']} MiB")
    say(f"  {'RSS: all qkd-linkd, simulator':44} {rec['rss'][0]:.0f} MiB, {rec['rss'][1]:.0f} MiB")


def pool_table(net, rec):
    """Per router: the hops and time to full of both directions."""
    hops = hops_of(net)
    say(f"\n  {'pool':8} {'hops':>4} {'core->x s':>9} {'x->core s':>9} "
        f"{'core->x k/s':>11} {'x->core k/s':>11}")
    high = net.e2e_pool["high_watermark"]
    for x in net.nodes[1:]:
        a, b = rec["done"].get(("core", x)), rec["done"].get((x, "core"))
        h = f"{hops.get(('core', x), '?')}/{hops.get((x, 'core'), '?')}"
        say(f"  {x:8} {h:>4} {a or float('nan'):9.1f} {b or float('nan'):9.1f} "
            f"{high / a if a else 0:11.1f} {high / b if b else 0:11.1f}")
    return hops


def log_kinds(net, rec, top=25):
    """"# " lines: qkd-linkd's relay, warning and error lines since the
    fill began, by kind (numbers and node names folded), most first."""
    kinds = {}
    names = re.compile(r"\b(?:core|agg\d+|e2e-\S+)\b")
    for x in net.nodes:
        for ln in net.log_text(x)[rec["logs"][x]:].splitlines():
            if not (" relay" in ln or "KME" in ln or ln.startswith(("<3>", "<4>"))) \
                    or " keys over " in ln \
                    or ": path " in ln:
                continue
            k = re.sub(r"\d+", "N", names.sub("X", ln.split("qkd-linkd: ", 1)[-1]))
            kinds[k] = kinds.get(k, 0) + 1
    for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:top]:
        say(f"# {n:6d}  {k[:150]}")


def consumption_report(net, rec, title):
    rows, keys_hops = consumption(net, rec)
    out = sum(r[0] for r in rows.values())
    inn = sum(r[1] for r in rows.values())
    exp = sum(r[2] for r in rows.values())
    bad = [f"{x}->{y} {o}/{i}/{e}" for (x, y), (o, i, e) in rows.items() if not o == i == e]
    batch = net.e2e_pool["batch_size"]
    say(f"\n  link keys per relayed key per hop ({title})")
    say(f"  {'':30} {'measured':>12} {'expected':>12} {'ratio':>7}")
    say(f"  {'link keys taken, all hops (out)':30} {out:12d} {exp:12d} "
        f"{out / exp if exp else 0:7.4f}")
    say(f"  {'link keys taken, all hops (in)':30} {inn:12d} {exp:12d} "
        f"{inn / exp if exp else 0:7.4f}")
    if keys_hops:
        say(f"  {'per relayed key per hop':30} {out / keys_hops:12.4f} {exp / keys_hops:12.4f} "
            f"{out / exp if exp else 0:7.4f}   (1 + 2/{batch} = {1 + 2 / batch:.4f} "
            "for full transfers)")
    say(f"  hop directions where sender, receiver and the logged transfers agree: "
        f"{2 * len(net.links) - len(bad)} of {2 * len(net.links)}")
    say(f"# {title}: qkd-linkd's relay, warning and error lines by kind:")
    log_kinds(net, rec, 25 if bad else 12)
    claim(exp > 0 and not bad, f"{title}: per-hop consumption differs (out/in/expected): "
          f"{', '.join(bad)}")


def keys_report(net, title):
    """Freeze every qkd-linkd, take every end-to-end key at both ends and
    compare (the keys of the fill before; the pools are empty after)."""
    settle(net)
    freeze(net)
    n, missing, dup, one_sided = compare_keys(net)
    say(f"  keys compared at both ends by ID ({title}): {n}; lost {missing}, "
        f"duplicated {dup}, one-sided {one_sided}")
    claim(n >= len(directions(net)) * net.e2e_pool["high_watermark"],
          f"{title}: {n} keys compared, fewer than the pools' high watermarks")
    claim(missing == dup == one_sided == 0, f"{title}: keys lost {missing}, duplicated {dup}, "
          f"one-sided {one_sided}")


def cut_report(net, rec, cut):
    a, b, _ = net.links[cut]
    if rec["cut"] is None:
        claim(False, f"cut: the fill ended before {a}-{b} was cut")
        return
    say(f"\n  cut of {a}-{b} at {rec['cut']:.1f} s ({rec['cut_committed']} keys committed, "
        f"QKD link stopped at the simulator, peer channel up)")
    say(f"  {'direction':16} {'hops before':>11} {'after':>5} {'new path seen s':>15} "
        f"{'full at s':>9}")
    for d in rec["crossing"]:
        p = rerouted(net, rec, cut, d)
        before = len(rec["before"][d]) - 1
        seen, full = rec["seen"].get(d), rec["done"].get(d)
        seen = f"{seen - rec['cut']:.1f}" if seen is not None else "NOT REROUTED"
        full = f"{full:.1f}" if full is not None else "-"
        after = len(p) - 1 if p else "-"
        say(f"  {d[0] + '->' + d[1]:16} {before:11d} {after:>5} {seen:>15} {full:>9}")
    # A direction must go the other way round when its origin sent a
    # transfer after the cut took effect; one that was full by then, or
    # whose last transfers were already sent, has no reason to know.
    eff = rec.get("effective")
    need = [d for d in rec["crossing"] if eff is not None and
            sent(net.log_text(d[0])[rec["logs_eff"][d[0]]:], net.e2e_name(d[1]))]
    say(f"  the cut took effect (a refill of {a}-{b} refused by the KME) "
        f"{'at ' + format(eff - rec['cut'], '.1f') + ' s after it' if eff else 'NEVER'}; "
        f"{len(need)} of {len(rec['crossing'])} directions sent transfers after that")
    lag = sorted(rec["seen"][d] - rec["cut"] for d in rec["seen"])
    claim(eff is not None and all(d in rec["seen"] for d in need),
          f"cut: {sum(d not in rec['seen'] for d in need)} of {len(need)} directions that "
          "sent transfers after the cut took effect did not log a path the other way round")
    if lag:
        say(f"  time from the cut to the path the other way round (seen in the origin's log, "
            f"0.5 s polls): median {statistics.median(lag):.1f} s, max {lag[-1]:.1f} s, "
            f"{len(lag)} of {len(rec['crossing'])} directions")
    dt = rec["t"] - rec["cut"]
    k = rec["committed"] - rec["cut_committed"]
    say(f"  fill after the cut: {k} keys committed in {dt:.1f} s, {k / max(dt, 0.1):.1f} keys/s "
        f"(before it: {rec['cut_committed'] / max(rec['cut'], 0.1):.1f} keys/s); every pool full "
        f"{dt:.1f} s after the cut")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=18)
    ap.add_argument("--link-rate", default="1M",
                    help="each QKD link's rate, at the simulator and in [topology]")
    ap.add_argument("--link-high", type=int, default=512,
                    help="link pools' high watermark (low: three quarters, capacity: twice)")
    ap.add_argument("--e2e-high", type=int, default=128,
                    help="end-to-end pools' high watermark (low: a quarter, capacity: twice)")
    ap.add_argument("--batch", type=int, default=16, help="keys per relayed transfer")
    ap.add_argument("--cut", type=int, default=0,
                    help="the ring link cut in the third phase (0: core-agg01)")
    ap.add_argument("--cut-at", type=float, default=0.3,
                    help="share of the fill's keys committed when the link is cut")
    ap.add_argument("--timeout", type=float, default=600, help="seconds for one fill")
    args = ap.parse_args()

    nodes, links, e2e = ring(args.nodes, args.link_rate)
    lh, eh = args.link_high, args.e2e_high
    net = RelayNet(nodes, links, e2e, prefix="rb",
                   link={"capacity": 2 * lh, "low_watermark": 3 * lh // 4, "high_watermark": lh,
                         "batch_size": 64},
                   e2e_prefix="e2e-", e2e_pool={"capacity": 2 * eh, "low_watermark": eh // 4,
                             "high_watermark": eh, "batch_size": args.batch, "max_age": 3600})
    rate = rate_bps(args.link_rate)
    sampler = Sampler(net)
    say(f"# relay ring bench: {args.nodes} routers in a ring, core 'core'; "
        f"{len(directions(net))} end-to-end pool directions")
    say(f"# QKD links: {args.link_rate}bit/s each at the simulator and in [topology] "
        f"({rate / 256:.0f} keys of 256 bits/s); link pools {3 * lh // 4}/{lh} (low/high), "
        f"capacity {2 * lh}, 64 keys per KME request, relay_share 100%, "
        f"relay_reserve {3 * lh // 8}")
    say(f"# end-to-end pools: {eh // 4}/{eh} (low/high), capacity {2 * eh}, "
        f"{args.batch} keys per transfer, 32-byte keys over 32-byte link keys")
    say(f"# kernel {os.uname().release}, {os.cpu_count()} CPUs, "
        f"MemAvailable {sampler.avail()} MiB before the set-up")
    t = time.monotonic()
    try:
        net.up()
        say(f"# set-up (namespaces, {4 * len(links) + len(nodes)} certificates, simulator): "
            f"{time.monotonic() - t:.1f} s")
        t = time.monotonic()
        for x in nodes:
            net.start(x, share=100)
        wait(lambda: e2e_full(net), 900, "every end-to-end pool full", step=1)
        wait(lambda: links_settled(net), 600, "every link pool above its low watermark", step=1)
        settle(net)
        say(f"# cold start (link pools and end-to-end pools filling together, not measured): "
            f"{time.monotonic() - t:.1f} s; MemAvailable {sampler.avail()} MiB, "
            f"RSS qkd-linkd {sampler.rss()[0]:.0f} MiB, simulator {sampler.rss()[1]:.0f} MiB")
        keys_report(net, "cold start")

        sampler.min_avail = None
        rec = fill(net, args, sampler)
        rec["min_avail"] = sampler.min_avail
        settle(net)
        fill_report(net, rec, "fill from empty")
        hops = pool_table(net, rec)
        mh = max(hops.values()) if hops else 0
        say(f"  hops (current paths): max {mh} (expected {args.nodes // 2} in a ring of {args.nodes}), "
            f"mean {statistics.mean(hops.values()):.2f}")
        claim(mh == args.nodes // 2, f"max hops {mh}, not {args.nodes // 2}")
        consumption_report(net, rec, "fill from empty")
        wait(lambda: links_settled(net), 300, "every link pool refilled", step=1)
        keys_report(net, "fill from empty")

        sampler.min_avail = None
        rec = fill(net, args, sampler, cut=args.cut)
        rec["min_avail"] = sampler.min_avail
        settle(net)
        fill_report(net, rec, f"fill from empty with {links[args.cut][0]}-"
                              f"{links[args.cut][1]} cut mid-fill")
        cut_report(net, rec, args.cut)
        consumption_report(net, rec, "fill with the cut")
        keys_report(net, "fill with the cut")
    except Exception as e:          # noqa: BLE001  (reported, the bench fails)
        claim(False, f"{type(e).__name__}: {e}")
    finally:
        net.cleanup(tail=0 if not failures else 6)
    say()
    if failures:
        say(f"RELAY RING BENCH FAILED: {len(failures)} check(s): " + "; ".join(failures))
        return 1
    say("RELAY RING BENCH OK: every figure measured; per-hop consumption exact, "
        "no key lost, duplicated or one-sided")
    return 0


if __name__ == "__main__":
    sys.exit(main())
