#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""CHILD_SA re-keys at scale: one router, many peers, continuous re-keys.

Runs from bench/run.sh (the qkdpool module loaded).  Router-osaka holds
--children CHILD_SAs (default 1,000) spread over --peers peers (default
18: SoftBank's 18 aggregation nodes), one IKE_SA per peer, every CHILD_SA
keyed with aes256gcm16-x25519-ke1_mlkem768qkd (the combined method).  Each
peer is a namespace of its own with its own charon (router-s01 ...), on one
bridge with osaka's backhaul address; osaka has one pool per peer, each
peer one pool for osaka, filled by hand (qkdctl, tests/lib/qkdlab/routers.py's
Router.add_keys), osaka's outbound side of each and the peer's inbound side
with the same keys.

Osaka then re-keys its CHILD_SAs for --seconds (default 60) over vici
(tests/lib/qkdlab/vici.py), round robin, keeping --inflight requests (default 2 per
peer: each IKE_SA's exchanges are serialized, so one queued behind the one
in flight keeps every IKE_SA busy) outstanding: a new `rekey` as each
`child-rekey` event comes.  Printed: re-keys per second (completed events
over the time from the first request to the last event), the fraction of
re-keys QKD-keyed (osaka's plugin logged a key for it), failures (failure
lines in any charon's log, re-keys with no event, fallbacks) and, beside
that load, the pool take latency: bench/qkd-bench --takes-only in osaka's
namespace, one timed call every --probe-gap-us (default 5,000) so that the
probe itself is light, its take and empty round trip p50/p99.

Checked, or the run is INVALID with no figures: every re-key request matched
one CHILD_SA and got its event; each new CHILD_SA has the combined method
(the event's ake1); per peer, the keys taken from osaka's outbound pool
side, the peer's inbound side, osaka's plugin's initiator lines and the
peer's plugin's responder lines are the same number, with the same key IDs
on both sides; no key material in any log.

Output: "# " diagnostics, then a table (tools/bench.sh reprints it).
Exit status: 0 when measured, 1 when the run is invalid or the lab failed.
"""

import argparse
import collections
import os
import re
import subprocess
import sys
import time

from qkdlab import REPO, routers, vici
from qkdlab.proc import sh, wait_for
# the re-key bench's diagnostics, INVALID exception and percentile
from rekey_bench import Invalid, diag

IKE_PROPOSAL = "aes256gcm16-prfsha384-x25519-ke1_mlkem768qkd"
ESP_PROPOSAL = "aes256gcm16-x25519-ke1_mlkem768qkd"
PSK = "qkd-scale-bench-psk"
BRIDGE = "br0"
QKD_BENCH = os.environ.get("QKD_BENCH", os.path.join(REPO, "build/bench/qkd-bench"))
CHILD_EST_RE = re.compile(r"CHILD_SA (c\d+)\{(\d+)\} established")
IKE_EST_RE = re.compile(r"IKE_SA (to-s\d+)\[(\d+)\] established")
HEX_RE = re.compile(r"[0-9a-f]{16,}")
COLON_RE = re.compile(r"(?:[0-9a-f]{2}:){7,}[0-9a-f]{2}")


def peer_name(i):
    return f"s{i:02d}"


class ScaleRouter(routers.Router):
    """The lab's Router (its charon, vici socket, pool and log helpers)
    with the scale bench's connections: on osaka one per peer ("to-sNN")
    with its share of the CHILD_SAs, each with /32 traffic selectors of
    its own; on a peer one connection to osaka whose one child config
    covers all of its CHILD_SAs (charon narrows it to each one's
    selectors)."""

    children = {}       # peer -> [(CHILD_SA name, index)], set by Scale

    def write_conf(self):
        super().write_conf()
        with open(self.conf, "a") as f:
            # more worker threads than the 18 IKE_SAs' exchanges in flight
            f.write("charon {\n\tthreads = 32\n}\n")
        if self.name == routers.HUB:
            conns = "".join(self.conn(p, f"to-{p}", routers.WAN[p], p) for p in self.peers)
        else:
            conns = self.conn(self.name, "osaka", routers.WAN["osaka"], "osaka")
        ids = "".join(f"\t\tid-{n} = {n}\n" for n in self.lab.routers)
        with open(self.swanctl_conf, "w") as f:
            f.write(f"""connections {{{conns}
}}
secrets {{
	ike-scale {{
{ids}		secret = "{PSK}"
	}}
}}
""")

    def conn(self, peer, name, raddr, rid):
        i = int(peer[1:])
        hub = self.name == routers.HUB
        if hub:
            kids = "".join(f"""
			{c} {{
				local_ts = 10.2.{i}.{j}/32
				remote_ts = 10.1.{i}.{j}/32
				esp_proposals = {ESP_PROPOSAL}
				rekey_time = 0s
				life_time = 3600s
				start_action = none
			}}""" for c, j in self.children[peer])
        else:
            kids = f"""
			net {{
				local_ts = 10.1.{i}.0/24
				remote_ts = 10.2.{i}.0/24
				esp_proposals = {ESP_PROPOSAL}
				rekey_time = 0s
				life_time = 3600s
				start_action = none
			}}"""
        return f"""
	{name} {{
		local_addrs = {self.wan}
		remote_addrs = {raddr}
		proposals = {IKE_PROPOSAL}
		rekey_time = 0s
		dpd_delay = 0
		local {{
			auth = psk
			id = {self.name}
		}}
		remote {{
			auth = psk
			id = {rid}
		}}
		children {{{kids}
		}}
	}}"""


class ScaleLab(routers.Lab):
    """Osaka and n peers: a namespace each, osaka's backhaul address on a
    bridge in its namespace, each peer's wan0 a veth port of it.  No
    hosts or LANs: the bench moves no traffic, and charon installs no
    routes (install_routes = no)."""

    def __init__(self, n):
        names = [peer_name(i) for i in range(1, n + 1)]
        for i, p in enumerate(names, start=1):
            # the lab's tables, for Router's strongswan.conf (pool and
            # addresses of each peer's plugin section)
            routers.WAN[p] = f"192.0.2.{10 + i}"
            routers.LANS[p] = f"10.1.{i}"
            routers.PEER[p] = routers.HUB
        self.nat = ()
        self.routers = {routers.HUB: ScaleRouter(self, routers.HUB)}
        for p in names:
            self.routers[p] = ScaleRouter(self, p)
        self.routers[routers.HUB].peers = names
        self.namespaces = [r.ns for r in self.routers.values()]

    def setup(self):
        import shutil
        for mod in ("esp4", "xfrm_user", "veth", "bridge"):
            sh("modprobe", mod, check=False)
        self.teardown_net()
        shutil.rmtree(routers.WORK, ignore_errors=True)
        for r in self.routers.values():
            os.makedirs(r.dir)
        for ns in self.namespaces:
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        hub = self.routers[routers.HUB]
        sh("ip", "link", "add", BRIDGE, "type", "bridge", ns=hub.ns)
        sh("ip", "addr", "add", f"{hub.wan}/24", "dev", BRIDGE, ns=hub.ns)
        sh("ip", "link", "set", BRIDGE, "up", ns=hub.ns)
        for p in hub.peers:
            r = self.routers[p]
            sh("ip", "link", "add", "qkdlab-a", "type", "veth", "peer", "name",
                      "qkdlab-b")
            sh("ip", "link", "set", "qkdlab-a", "netns", r.ns, "name", "wan0")
            sh("ip", "link", "set", "qkdlab-b", "netns", hub.ns, "name", f"wan-{p}")
            sh("ip", "link", "set", f"wan-{p}", "master", BRIDGE, "up", ns=hub.ns)
            sh("ip", "addr", "add", f"{r.wan}/24", "dev", "wan0", ns=r.ns)
            sh("ip", "link", "set", "wan0", "up", ns=r.ns)


def leaked(texts, materials):
    """How many of materials appear in texts as hex: the whole key or its
    first 8 bytes, plain or colon-separated (what the lab's checks look
    for), with sets of the logs' hex runs rather than a substring search
    per key (thousands of keys, megabytes of logs)."""
    plain, colon = set(), set()
    for t in texts:
        t = t.lower()
        for run in HEX_RE.findall(t):
            plain.update(run[i:i + 16] for i in range(len(run) - 15))
        for run in COLON_RE.findall(t):
            b = run.split(":")
            colon.update(":".join(b[i:i + 8]) for i in range(len(b) - 7))
    return sum(1 for m in materials
               if m[:8].hex() in plain or routers.hexid(m[:8]) in colon)


class Scale:
    def __init__(self, args):
        self.args = args
        self.lab = ScaleLab(args.peers)
        self.O = self.lab.osaka
        self.peers = self.O.peers
        # CHILD_SA j (1-based) goes to peer (j - 1) % peers: round robin
        # over the names re-keys every IKE_SA in turn
        kids = collections.defaultdict(list)
        for j in range(1, args.children + 1):
            p = self.peers[(j - 1) % args.peers]
            kids[p].append((f"c{j:04d}", len(kids[p]) + 1))
        ScaleRouter.children = dict(kids)
        self.owner = {c: p for p, cs in kids.items() for c, _ in cs}
        self.ids = {}           # CHILD_SA name -> osaka's unique ID
        self.materials = []
        self.sess = None
        self.probe = None

    def fill(self, peer, n):
        keys = [(os.urandom(16), os.urandom(32)) for _ in range(n)]
        self.materials += [m for _, m in keys]
        self.lab.routers[peer].add_keys("in", keys)
        self.O.add_keys("out", keys, pool=peer)

    def taken(self):
        res = {}
        for p in self.peers:
            res[p] = (self.O.pool(p)["out"]["taken"],
                      self.lab.routers[p].pool()["in"]["taken"])
        return res

    def setup(self):
        a = self.args
        t0 = time.monotonic()
        self.lab.setup()
        self.lab.install_plugin()
        per_peer = max(len(c) for c in ScaleRouter.children.values())
        # one key per CHILD_SA, one for the IKE_SA, and the re-keys: at
        # most --max-rate per second over the run, shared by the peers
        n = per_peer + 1 + -(-a.seconds * a.max_rate // a.peers) + 16
        cap = max(1024, n)
        for p in self.peers:
            r = self.lab.routers[p]
            r.qkdctl("pool", "add", "osaka", "key-size", "32", "capacity", str(cap))
            self.O.qkdctl("pool", "add", p, "key-size", "32", "capacity", str(cap))
            self.fill(p, n)
        diag(f"scale: {len(self.peers)} peers, {a.children} CHILD_SAs "
             f"({per_peer} at most per peer), {n} keys per pool side, "
             f"set up in {time.monotonic() - t0:.0f} s")
        t1 = time.monotonic()
        for r in self.lab.routers.values():
            r.start()
            r.swanctl("--load-all", "--noprompt", "--file", r.swanctl_conf)
        diag(f"scale: {len(self.lab.routers)} charons up in {time.monotonic() - t1:.0f} s")
        self.sess = vici.Session(self.O.vici, timeout=120)
        t1 = time.monotonic()
        # the IKE_SAs with their first CHILD_SA, all at once (timeout -1:
        # vici answers at once, charon works on); then the other CHILD_SAs
        first = [cs[0][0] for cs in ScaleRouter.children.values()]
        self.sess.pipeline("initiate", [{"child": c, "ike": f"to-{self.owner[c]}",
                                         "timeout": -1} for c in first])
        self.wait_established(IKE_EST_RE, len(self.peers), "IKE_SAs", 300)
        rest = [c for c in self.owner if c not in first]
        self.sess.pipeline("initiate", [{"child": c, "ike": f"to-{self.owner[c]}",
                                         "timeout": -1} for c in rest])
        self.wait_established(CHILD_EST_RE, a.children, "CHILD_SAs", 1200)
        for name, uid in CHILD_EST_RE.findall(self.O.log_text()):
            self.ids[name] = uid
        dt = time.monotonic() - t1
        diag(f"scale: {a.children} CHILD_SAs on {len(self.peers)} IKE_SAs established in "
             f"{dt:.0f} s ({a.children / dt:.1f} per second)")
        self.sess.register("child-rekey")

    def wait_established(self, rx, n, what, timeout):
        def count():
            return len(set(m[0] for m in rx.findall(self.O.log_text())))
        try:
            wait_for(lambda: count() >= n, timeout, step=1,
                            what=f"{n} {what} established")
        except TimeoutError:
            fails = self.O.failures(self.O.log_text())
            raise Invalid(f"{count()} of {n} {what} established in {timeout} s; "
                          f"osaka's failure lines: {len(fails)}\n"
                          + "\n".join(fails[:10])) from None

    def start_probe(self):
        a = self.args
        # four figures (take next, by ID, by ID + tag, the floor) of
        # --probe-takes calls each, a call every --probe-gap-us
        cmd = ["ip", "netns", "exec", self.O.ns, QKD_BENCH, "--takes-only",
               "--takes", str(a.probe_takes), "--take-gap-us", str(a.probe_gap_us)]
        self.probe = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)

    def probe_result(self):
        out, err = self.probe.communicate(timeout=300)
        if self.probe.returncode != 0:
            raise Invalid(f"the take probe failed ({self.probe.returncode}): {err[-500:]}")
        for ln in err.splitlines():
            diag("probe " + ln.lstrip("# "))
        rows = {}
        for ln in out.splitlines():
            m = re.match(r"(take out \(next\)|take in by ID \+ tag|take in by ID|"
                         r"empty round trip \(floor\))\s+p50 (\d+) us p99 (\d+) us", ln)
            if m:
                rows[m.group(1)] = (int(m.group(2)), int(m.group(3)))
        if len(rows) != 4:
            raise Invalid(f"the take probe printed {len(rows)} of 4 rows:\n{out}")
        return rows

    def run(self):
        a = self.args
        marks = {n: len(r.log_text()) for n, r in self.lab.routers.items()}
        before = self.taken()
        names = list(self.owner)
        pending = {}            # CHILD_SA name -> old unique ID
        done, sent, nomatch, wrong = 0, 0, 0, []
        i = 0
        self.start_probe()
        t0 = time.monotonic()
        end = t0 + a.seconds
        last = t0
        while True:
            now = time.monotonic()
            while now < end and len(pending) < a.inflight:
                c = names[i % len(names)]
                i += 1
                if c in pending:
                    continue
                res = self.sess.request("rekey", {"child": c, "child-id": self.ids[c]})
                sent += 1
                if res.get("matches") != "1":
                    nomatch += 1
                    continue
                pending[c] = self.ids[c]
            if not pending:
                break
            try:
                at, ev = self.sess.wait_event("child-rekey", 120)
            except TimeoutError:
                break
            for ike in ev.values():
                if not isinstance(ike, dict):
                    continue
                for sa in ike.get("child-sas", {}).values():
                    new = sa.get("new") if isinstance(sa, dict) else None
                    if not new or new.get("name") not in pending:
                        continue
                    c = new["name"]
                    pending.pop(c)
                    self.ids[c] = new.get("uniqueid")
                    if not new.get("ake1"):
                        wrong.append(c)
                    done += 1
                    last = at
        elapsed = last - t0
        # the last re-keys' old SAs deleted, the peers' takes counted
        lost = len(pending)
        probe = self.probe_result()
        self.settle(before)
        after = self.taken()
        return marks, before, after, done, sent, nomatch, lost, wrong, elapsed, probe

    def settle(self, before):
        """Wait until no IKE_SA has an exchange queued or under way."""
        def idle():
            return not re.search(r"^\s+(queued|active|passive):", self.O.sas(), re.M)
        try:
            wait_for(idle, 120, step=1, what="osaka's exchanges to finish")
        except TimeoutError as e:
            diag(f"scale: {e}")

    def check(self, marks, before, after, done, sent, nomatch, lost, wrong):
        texts = {n: r.log_text()[marks[n]:] for n, r in self.lab.routers.items()}
        fails = []
        for n, t in texts.items():
            fails += [f"{n}: {ln}" for ln in self.lab.routers[n].failures(t)]
        retrans = sum(self.lab.routers[n].retransmits(t) for n, t in texts.items())
        o_acks = self.O.acks(texts[routers.HUB], "initiator")
        fb = sum(len(self.lab.routers[n].fallbacks(t)) for n, t in texts.items())
        bad = []
        for p in self.peers:
            t_o = after[p][0] - before[p][0]
            t_p = after[p][1] - before[p][1]
            ids_o = sorted(a[1] for a in o_acks if a[2] == p)
            ids_p = sorted(a[1] for a in self.lab.routers[p].acks(texts[p], "responder"))
            if not (t_o == t_p == len(ids_o) == len(ids_p)) or ids_o != ids_p:
                bad.append(f"{p}: taken osaka out {t_o}, {p} in {t_p}; logged osaka "
                           f"{len(ids_o)}, {p} {len(ids_p)}, IDs "
                           f"{'equal' if ids_o == ids_p else 'differ'}")
        n_leak = leaked([r.log_text() for r in self.lab.routers.values()], self.materials)
        return fails, retrans, len(o_acks), fb, bad, n_leak

    def report(self, res):
        marks, before, after, done, sent, nomatch, lost, wrong, elapsed, probe = res
        fails, retrans, keyed, fb, bad, n_leak = self.check(
            marks, before, after, done, sent, nomatch, lost, wrong)
        taken = sum(after[p][0] - before[p][0] for p in self.peers)
        diag(f"scale: {sent} re-key requests, {done} completed, {lost} without an event, "
             f"{nomatch} matched no CHILD_SA; {retrans} retransmits; {fb} fallbacks; "
             f"{taken} keys taken on each side; {len(fails)} failure lines")
        for ln in fails[:10]:
            diag("  " + ln)
        per = collections.Counter(self.owner[c] for c in self.owner)
        diag(f"scale: CHILD_SAs per peer {min(per.values())} to {max(per.values())}")
        if bad:
            raise Invalid("pool counters and logs disagree:\n" + "\n".join(bad))
        if n_leak:
            raise Invalid(f"{n_leak} key materials found in the charon logs")
        if wrong:
            raise Invalid(f"{len(wrong)} new CHILD_SAs without the combined method "
                          f"(no ake1), e.g. {wrong[:3]}")
        if nomatch or lost or done == 0:
            raise Invalid(f"{nomatch} re-key requests matched no CHILD_SA, {lost} got no "
                          f"event, {done} completed")
        failures = len(fails) + fb
        tp, tt, tf = probe["take out (next)"], probe["take in by ID + tag"], \
            probe["empty round trip (floor)"]
        a = self.args
        print()
        print(f"{'measure (scale, ' + ESP_PROPOSAL.split('-', 1)[1] + ')':40} "
              f"{'value':28} {'goal':10} verdict")
        print(f"{'what ran':40} {f'{a.children} CHILD_SAs, {a.peers} peers, {a.seconds} s':28}"
              f" {'-':10} -")
        print(f"{'re-keys per second':40} {f'{done / elapsed:.1f} ({done} in {elapsed:.0f} s)':28}"
              f" {'-':10} -")
        frac = keyed / done
        print(f"{'fraction QKD-keyed':40} {f'{frac:.3f} ({keyed} of {done})':28} "
              f"{'1':10} {'met' if keyed == done else 'MISSED'}")
        print(f"{'failures':40} {f'{failures} ({len(fails)} logged, {fb} fallbacks)':28} "
              f"{'0':10} {'met' if failures == 0 else 'MISSED'}")
        print(f"{'take out (next) under load':40} {f'p50 {tp[0]} us p99 {tp[1]} us':28} "
              f"{'p99 < 1 ms':10} {'met' if tp[1] < 1000 else 'MISSED'}")
        print(f"{'take in by ID + tag under load':40} {f'p50 {tt[0]} us p99 {tt[1]} us':28} "
              f"{'p99 < 1 ms':10} {'met' if tt[1] < 1000 else 'MISSED'}")
        print(f"{'empty round trip under load':40} {f'p50 {tf[0]} us p99 {tf[1]} us':28} "
              f"{'-':10} -")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peers", type=int, default=18, help="peers (default 18)")
    ap.add_argument("--children", type=int, default=1000,
                    help="CHILD_SAs on osaka, spread over the peers (default 1000)")
    ap.add_argument("--seconds", type=int, default=60,
                    help="how long the re-keys run (default 60)")
    ap.add_argument("--inflight", type=int, default=0,
                    help="re-key requests outstanding (default 2 per peer)")
    ap.add_argument("--max-rate", type=int, default=60,
                    help="re-keys/s the pools are filled for (default 60)")
    ap.add_argument("--probe-takes", type=int, default=0,
                    help="calls per figure of the take probe (default: what fits "
                         "in --seconds)")
    ap.add_argument("--probe-gap-us", type=int, default=5000,
                    help="pause between the probe's calls (default 5000)")
    args = ap.parse_args()
    if not 1 <= args.peers <= 99 or args.children < args.peers or \
       args.children > args.peers * 250 or args.seconds < 5:
        ap.error("need 1 to 99 peers, 1 to 250 CHILD_SAs each, at least 5 s")
    # no more outstanding than there are CHILD_SAs to re-key
    args.inflight = min(args.inflight or 2 * args.peers, args.children)
    # four figures, each call about the gap plus a round trip: 80% of the run
    args.probe_takes = args.probe_takes or max(
        100, int(args.seconds * 0.8 / 4 / ((args.probe_gap_us + 200) / 1e6)))
    for path, what in ((routers.PLUGIN, "the plugin"), (routers.QKDCTL, "qkdctl"),
                       (QKD_BENCH, "qkd-bench")):
        if not os.path.exists(path):
            diag(f"scale: {what} is not built ({path})")
            return 1
    s = Scale(args)
    t0 = time.monotonic()
    status = 0
    measure = f"{'measure (scale)':40}"
    try:
        s.setup()
        res = s.run()
        s.report(res)
        diag(f"scale: {time.monotonic() - t0:.0f} s in all")
    except Invalid as e:
        diag(f"scale INVALID: {e}")
        print()
        print(f"{measure} INVALID, no figures (see the diagnostics)")
        status = 1
    except Exception as e:      # noqa: BLE001 (the lab failed: say why)
        diag(f"scale failed: {type(e).__name__}: {e}")
        diag("--- osaka's charon log (end)")
        diag("\n".join(s.O.log_text().splitlines()[-40:]))
        print()
        print(f"{measure} FAILED, no figures (see the diagnostics)")
        status = 1
    finally:
        if s.probe and s.probe.poll() is None:
            s.probe.kill()
            s.probe.wait()
        if s.sess:
            s.sess.close()
        try:
            s.lab.teardown()
        except Exception as e:  # noqa: BLE001
            diag(f"teardown: {e}")
    return status


if __name__ == "__main__":
    sys.exit(main())
