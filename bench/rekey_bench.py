#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""CHILD_SA re-keys per second, with and without the qkd round, in the VM.

Runs from bench/run.sh (the qkdpool module loaded), on the plugin's
two-router lab (tests/lib/qkdlab/routers.py): one IKE_SA between router-tokyo
and router-osaka, and four CHILD_SAs on it, one per ESP proposal:

  qkd     aes256gcm16-x25519-ke1_mlkem768-ke2_qkd
  combo   aes256gcm16-x25519-ke1_mlkem768qkd   (ML-KEM and qkd in one
                                                  KE payload)
  mlkem   aes256gcm16-x25519-ke1_mlkem768
  x25519  aes256gcm16-x25519

Tokyo re-keys them one at a time, in rounds (qkd, combo, mlkem, x25519,
qkd, ...), so that drift and noise of the shared, emulated CPU hit all
four alike.
One re-key runs at a time: the figure is the latency of one re-key, which
is what the qkd round adds to (one more IKE_FOLLOWUP_KE round trip and a
pool take on each side); several CHILD_SAs in parallel would measure how
charon's thread pool overlaps them on two emulated CPUs instead, and the
exchanges of one IKE_SA are serialized anyway (window size 1).

Each re-key is driven over vici (tests/lib/qkdlab/vici.py: one socket, no process per
re-key): a `rekey` command, then the `child-rekey` event.  Its duration is
read from tokyo's charon log (time_format %s, time_precision us): from
"vici rekey CHILD_SA '<name>'" (the request reaches charon) to "rekeyed
CHILD_SA <name>" (the new SA installed both ways), so neither the client
nor the deletion of the old SA (one more exchange, alike for all three,
awaited before the next re-key) is in it.

In the same rounds, tokyo re-keys four more IKE_SAs, one per IKE proposal
with the same key exchanges (IKE_CASES: connections ike-qkd ... on tokyo,
each with one CHILD_SA that is never re-keyed; osaka serves them all with
its connection "lab"): from "vici rekey IKE_SA" to "IKE_SA ...[new]
rekeyed between" in tokyo's log, then the old IKE_SA's deletion awaited on
both routers, with the same checks as a CHILD_SA's (exchanges, keys taken,
IDs, failures).  Both tables give the charons' CPU time per re-key
(utime + stime of both, /proc/PID/stat, around each re-key and the old
SA's deletion).

A run is valid only if: every re-key completed (a child-rekey event, both
log lines) with no failure logged by either charon; each new CHILD_SA has
the proposal's key exchanges (the event's dh-group, ake1, ake2); the
initiator sent one IKE_FOLLOWUP_KE per additional key exchange; each qkd
re-key took exactly one key from tokyo's outbound and osaka's inbound side
(the pools' taken counters, read around it) with the same key ID logged by
both plugins, and the other re-keys took none.  Otherwise the run is
reported INVALID, with no figures.

Output: "# " diagnostics, then a table (tools/bench.sh reprints it).
Exit status: 0 when measured, 1 when the run is invalid or the lab failed.
"""

import argparse
import math
import os
import re
import statistics
import sys
import time

from qkdlab import routers, vici
from qkdlab.proc import wait_for

# (key, CHILD_SA name, ESP proposal, label, dh-group, ake1, ake2 expected)
# ake None: absent; "*": present (the plugin's methods have private IDs)
CASES = [
    ("qkd", "bench-qkd", "aes256gcm16-x25519-ke1_mlkem768-ke2_qkd",
     "x25519 + mlkem768 + qkd", "CURVE_25519", "ML_KEM_768", "*"),
    ("combo", "bench-combo", "aes256gcm16-x25519-ke1_mlkem768qkd",
     "x25519 + mlkem768qkd", "CURVE_25519", "*", None),
    ("mlkem", "bench-mlkem", "aes256gcm16-x25519-ke1_mlkem768",
     "x25519 + mlkem768", "CURVE_25519", "ML_KEM_768", None),
    ("x25519", "bench-x25519", "aes256gcm16-x25519",
     "x25519", "CURVE_25519", None, None),
]
# IKE_SA re-keys of the same four key exchange methods: one IKE_SA each,
# (key, connection on tokyo, IKE proposal, label); each carries one CHILD_SA
# (x25519, never re-keyed) because the IKE_AUTH exchange sets one up
IKE_CASES = [
    ("qkd", "ike-qkd", "aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke2_qkd",
     "x25519 + mlkem768 + qkd", 2),
    ("combo", "ike-combo", "aes256gcm16-prfsha384-x25519-ke1_mlkem768qkd",
     "x25519 + mlkem768qkd", 1),
    ("mlkem", "ike-mlkem", "aes256gcm16-prfsha384-x25519-ke1_mlkem768",
     "x25519 + mlkem768", 1),
    ("x25519", "ike-x25519", "aes256gcm16-prfsha384-x25519", "x25519", 0),
]
TARGET = 1.10           # qkd / (x25519 + mlkem768), at most
TARGET_COMBO = 1.05     # mlkem768qkd / (x25519 + mlkem768), at most
QKD_CASES = ("qkd", "combo")    # the cases that take one key per re-key


def ke_matches(got, want):
    """A key exchange of the new SA as expected: None absent, "*" any."""
    return got is not None if want == "*" else got == want
PSK = "qkd-rekey-bench-psk"

REQ_RE = re.compile(r"generating (CREATE_CHILD_SA|IKE_FOLLOWUP_KE) request (\d+)")
RSP_RE = re.compile(r"parsed (CREATE_CHILD_SA|IKE_FOLLOWUP_KE) response (\d+)")
EST_RE = re.compile(r"CHILD_SA (bench-\w+)\{(\d+)\} established")
IKE_EST_RE = re.compile(r"IKE_SA (ike-\w+)\[(\d+)\] established")
LINE_RE = re.compile(r"^(\d+\.\d{6}) \d+\[\w+\] (?:<[^>]*> )?(.*)$")


def diag(msg):
    for ln in str(msg).splitlines():
        print(f"# {ln}", flush=True)


class Invalid(Exception):
    pass


class BenchRouter(routers.Router):
    """The lab's router with log timestamps in microseconds and the
    benchmark's three CHILD_SAs instead of the lab's one.  Subclasses
    (bench/rekey_throughput.py) replace write_swanctl()."""

    def write_conf(self):
        super().write_conf()
        # strongswan.conf merges a repeated section into the first one
        with open(self.conf, "a") as f:
            f.write("""
charon {
	filelog {
		lab {
			time_format = %s
			time_precision = us
		}
	}
}
""")
        self.write_swanctl()

    def write_swanctl(self):
        peer = self.peer
        me = 1 if self.name == "tokyo" else 2
        children = ""
        # distinct traffic selectors (10.<site>.<n>.0/24), so that the
        # three CHILD_SAs get policies of their own
        for n, (_k, child, esp, *_rest) in enumerate(CASES, start=1):
            mine, theirs = f"10.{me}{n}.0.0/24", f"10.{3 - me}{n}.0.0/24"
            children += f"""
			{child} {{
				local_ts = {mine}
				remote_ts = {theirs}
				esp_proposals = {esp}
				rekey_time = 0s
				life_time = 3600s
				start_action = none
			}}"""
        # the IKE_SA re-key cases: on tokyo a connection each, with one
        # IKE proposal and one CHILD_SA; osaka serves them all with "lab"
        # (every IKE proposal, tokyo offers one; their CHILD_SAs chosen by
        # traffic selectors).  keyingtries differ so that charon does not
        # take one connection's IKE_SA for another's (peer_cfg_t.equals()
        # ignores the name)
        ike_conns, proposals = "", routers.PROPOSAL
        for n, (_k, conn, prop, *_rest) in enumerate(IKE_CASES, start=6):
            mine, theirs = f"10.{me}{n}.0.0/24", f"10.{3 - me}{n}.0.0/24"
            child = f"""
			{conn}-child {{
				local_ts = {mine}
				remote_ts = {theirs}
				esp_proposals = aes256gcm16-x25519
				rekey_time = 0s
				life_time = 3600s
				start_action = none
			}}"""
            if self.name == "osaka":
                children += child
                proposals += f", {prop}"
                continue
            ike_conns += f"""
	{conn} {{
		local_addrs = {routers.WAN[self.name]}
		remote_addrs = {routers.WAN[peer]}
		proposals = {prop}
		rekey_time = 0s
		dpd_delay = 0
		unique = never
		keyingtries = {n - 4}
		local {{
			auth = psk
			id = {self.name}
		}}
		remote {{
			auth = psk
			id = {peer}
		}}
		children {{{child}
		}}
	}}"""
        with open(self.swanctl_conf, "w") as f:
            f.write(f"""connections {{{ike_conns}
	lab {{
		local_addrs = {routers.WAN[self.name]}
		remote_addrs = {routers.WAN[peer]}
		proposals = {proposals}
		rekey_time = 0s
		dpd_delay = 0
		unique = never
		local {{
			auth = psk
			id = {self.name}
		}}
		remote {{
			auth = psk
			id = {peer}
		}}
		children {{{children}
		}}
	}}
}}
secrets {{
	ike-lab {{
		id-1 = tokyo
		id-2 = osaka
		secret = "{PSK}"
	}}
}}
""")


class LogTail:
    """New lines of a charon log since the last mark."""

    def __init__(self, path):
        self.path = path
        self.pos = 0

    def mark(self):
        self.pos = os.path.getsize(self.path)

    def since(self):
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            return f.read().decode(errors="replace")


def stamp(text, needle):
    """Log time (s) of the first line of text containing needle, or None."""
    for ln in text.splitlines():
        m = LINE_RE.match(ln)
        if m and needle in m.group(2):
            return float(m.group(1))
    return None


def done_re(child, uid):
    # the old CHILD_SA's deletion, complete: on both sides charon then
    # keeps its inbound SA for delete_rekeyed_delay, or closes it at once.
    # By unique ID: the delayed closing of an earlier SA of the same name
    # comes seconds later, in another re-key's lines.
    c = re.escape(f"{child}{{{uid}}}")
    return re.compile(rf"(delay closing of inbound|let rekeyed inbound) CHILD_SA {c}|"
                      rf"CHILD_SA {c} closed")


def exchanges(text):
    """Durations (s) of the CREATE_CHILD_SA and IKE_FOLLOWUP_KE exchanges
    in text, in order: the first fragment of the request generated to the
    response parsed (the round trip, the responder's work in it)."""
    start, end = {}, {}
    for ln in text.splitlines():
        m = LINE_RE.match(ln)
        if not m:
            continue
        r = REQ_RE.search(m.group(2))
        if r and r.group(2) not in start:
            start[r.group(2)] = float(m.group(1))
        r = RSP_RE.search(m.group(2))
        if r:
            end[r.group(2)] = float(m.group(1))
    return [end[i] - start[i] for i in sorted(start, key=int) if i in end]


def cpu_ticks(proc):
    """utime + stime of a process (all its threads), in clock ticks."""
    with open(f"/proc/{proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def new_child(ev, child):
    """The new CHILD_SA's section of a child-rekey event."""
    for ike in ev.values():
        if not isinstance(ike, dict):
            continue
        for name, sa in ike.get("child-sas", {}).items():
            if isinstance(sa, dict) and "new" in sa and \
               sa["new"].get("name", name).startswith(child):
                return sa["new"]
    return None


class Bench:
    def __init__(self, args):
        self.args = args
        self.lab = routers.Lab()
        # the lab's Router, configured for the benchmark
        self.lab.routers = {n: BenchRouter(self.lab, n) for n in ("tokyo", "osaka")}
        self.T, self.O = self.lab.tokyo, self.lab.osaka
        self.tlog, self.olog = LogTail(self.T.log), LogTail(self.O.log)
        self.sess = None
        self.results = {c[0]: [] for c in CASES}    # log durations, s
        self.client = {c[0]: [] for c in CASES}     # request -> event, s
        self.cycle = {c[0]: [] for c in CASES}      # request -> deletion done, s
        self.rounds = {c[0]: [] for c in CASES}     # exchange durations, s
        self.cpu = {c[0]: 0 for c in CASES}         # both charons, clock ticks
        self.ike = {c[0]: [] for c in IKE_CASES}    # IKE_SA re-keys, as results
        self.ike_rounds = {c[0]: [] for c in IKE_CASES}
        self.ike_cpu = {c[0]: 0 for c in IKE_CASES}
        self.ike_ids = {}                           # connection -> IKE_SA unique ID
        self.retransmits = 0
        self.ids = {}                               # CHILD_SA name -> unique ID
        self.ake2 = None
        self.materials = []                         # to check no log holds one

    # --------------------------------------------------------------- setup

    def taken(self):
        t, o = self.T.pool(), self.O.pool()
        return {"T.out": t["out"]["taken"], "T.in": t["in"]["taken"],
                "O.out": o["out"]["taken"], "O.in": o["in"]["taken"]}

    def fill(self, n):
        """n keys tokyo -> osaka: osaka's inbound side first, then tokyo's
        outbound side (as qkd-linkd does: no offer of a key the peer lacks).
        Keys are random and never printed; the 0600 file qkdctl reads is
        removed at once (Router.add_keys)."""
        keys = [(os.urandom(16), os.urandom(32)) for _ in range(n)]
        self.materials += [m for _, m in keys]
        self.O.add_keys("in", keys)
        self.T.add_keys("out", keys)

    def setup(self, keys):
        for path, what in ((routers.PLUGIN, "the plugin"), (routers.QKDCTL, "qkdctl")):
            if not os.path.exists(path):
                raise Invalid(f"{what} is not built ({path})")
        self.lab.setup()
        self.lab.install_plugin()
        # the capacity and qkdctl's batches of 512 are no limit here
        cap = max(1024, keys)
        for r in (self.T, self.O):
            r.qkdctl("pool", "add", r.peer, "key-size", "32", "capacity", str(cap))
        self.fill(keys)
        for r in (self.T, self.O):
            r.start()
            r.swanctl("--load-all", "--noprompt", "--file", r.swanctl_conf)
        self.sess = vici.Session(self.T.vici)
        self.sess.register("child-rekey")
        # the IKE_SA with the first CHILD_SA, then the two others
        # (CREATE_CHILD_SA); the IKE_SA's qkd round takes one key
        for n, c in enumerate(CASES):
            msg = {"child": c[1], "timeout": 60000}
            if n == 0:
                msg["ike"] = "lab"
            self.sess.request("initiate", msg)
        # each CHILD_SA's unique ID, for the first re-key's selector
        for name, uid in EST_RE.findall(self.T.log_text()):
            self.ids[name] = uid
        missing = [c[1] for c in CASES if c[1] not in self.ids]
        if missing:
            raise Invalid(f"CHILD_SAs not established: {missing}")
        # one IKE_SA per IKE_SA re-key case (the qkd ones take a key each)
        for c in IKE_CASES:
            self.sess.request("initiate", {"child": f"{c[1]}-child", "ike": c[1],
                                           "timeout": 60000})
        for name, uid in IKE_EST_RE.findall(self.T.log_text()):
            self.ike_ids[name] = uid
        missing = [c[1] for c in IKE_CASES if c[1] not in self.ike_ids]
        if missing:
            raise Invalid(f"IKE_SAs not established: {missing}")

    # ------------------------------------------------------------- re-key

    def rekey(self, case, measured):
        key, child, _esp, label, dh, ake1, ake2 = case
        self.tlog.mark()
        self.olog.mark()
        t0 = time.monotonic()
        # by name and unique ID: the re-keyed SA stays, by name, until its
        # delayed closing
        old = self.ids[child]
        res = self.sess.request("rekey", {"child": child, "child-id": old})
        if res.get("matches") != "1":
            raise Invalid(f"{label}: vici rekey matched {res.get('matches')} CHILD_SAs")
        try:
            t1, ev = self.sess.wait_event("child-rekey", 60)
        except TimeoutError:
            raise Invalid(f"{label}: no child-rekey event within 60 s:\n"
                          + self.tlog.since()[-3000:]) from None
        new = new_child(ev, child)
        if new is None:
            raise Invalid(f"{label}: the child-rekey event names no new {child}")
        got = (new.get("dh-group"), new.get("ake1"), new.get("ake2"))
        want_ok = got[0] == dh and ke_matches(got[1], ake1) and ke_matches(got[2], ake2)
        if not want_ok:
            raise Invalid(f"{label}: new CHILD_SA keyed with {got}, not {(dh, ake1, ake2)}")
        if ake2 == "*":
            self.ake2 = got[2]
        if not new.get("uniqueid", "").isdigit():
            raise Invalid(f"{label}: the child-rekey event gives no unique ID")
        self.ids[child] = new["uniqueid"]
        # the old SA's deletion done on both routers before the next re-key
        dre = done_re(child, old)
        try:
            wait_for(lambda: dre.search(self.tlog.since()) and
                            dre.search(self.olog.since()), 60, step=0.01,
                            what=f"the rekeyed {child} to be deleted")
        except TimeoutError as e:
            raise Invalid(f"{label}: {e}") from None
        t2 = time.monotonic()
        tt, ot = self.tlog.since(), self.olog.since()
        fails = [("tokyo", ln) for ln in self.T.failures(tt)] + \
                [("osaka", ln) for ln in self.O.failures(ot)]
        if fails:
            raise Invalid(f"{label}: charon logged failures:\n"
                          + "\n".join(f"{r}: {ln}" for r, ln in fails[:10]))
        self.retransmits += self.T.retransmits(tt) + self.O.retransmits(ot)
        start = stamp(tt, f"vici rekey CHILD_SA '{child}'")
        end = stamp(tt, f"rekeyed CHILD_SA {child}{{")
        if start is None or end is None or end < start:
            raise Invalid(f"{label}: no 'vici rekey' / 'rekeyed CHILD_SA' lines in "
                          f"tokyo's log ({start}, {end}):\n{tt[-3000:]}")
        # by message ID: a fragmented request (ML-KEM's 1,184-byte public
        # key does not fit in one 1,280-byte fragment) logs one line per
        # fragment too
        reqs = set(REQ_RE.findall(tt))
        creates = sum(1 for x, _ in reqs if x == "CREATE_CHILD_SA")
        followups = sum(1 for x, _ in reqs if x == "IKE_FOLLOWUP_KE")
        want = (1, (ake1 is not None) + (ake2 is not None))
        if (creates, followups) != want:
            raise Invalid(f"{label}: tokyo sent {creates} CREATE_CHILD_SA and {followups} "
                          f"IKE_FOLLOWUP_KE requests, expected {want}:\n{tt[-4000:]}")
        # the plugin's lines: one key, the same ID, on both routers (qkd);
        # none elsewhere
        ti, orr = self.T.acks(tt, "initiator"), self.O.acks(ot, "responder")
        fb = self.T.fallbacks(tt) + self.O.fallbacks(ot)
        nq = 1 if key in QKD_CASES else 0
        if fb or len(ti) != nq or len(orr) != nq or \
           [a[1] for a in ti] != [a[1] for a in orr]:
            raise Invalid(f"{label}: qkd exchanges: tokyo {len(ti)}, osaka {len(orr)} "
                          f"keys used, {len(fb)} fallbacks; expected {nq} and none")
        if measured:
            self.results[key].append(end - start)
            self.client[key].append(t1 - t0)
            self.cycle[key].append(t2 - t0)
            self.rounds[key].append(exchanges(tt))

    def rekey_ike(self, case, measured):
        """One IKE_SA re-key of case (IKE_CASES), checked as rekey() checks
        a CHILD_SA's: from "vici rekey IKE_SA" to "IKE_SA ...[new] rekeyed
        between" in tokyo's log, then the old IKE_SA's deletion awaited
        on both routers."""
        key, conn, _prop, label, nfollow = case
        self.tlog.mark()
        self.olog.mark()
        old = self.ike_ids[conn]
        res = self.sess.request("rekey", {"ike": conn, "ike-id": old})
        if res.get("matches") != "1":
            raise Invalid(f"ike {label}: vici rekey matched {res.get('matches')} IKE_SAs")
        new_re = re.compile(rf"IKE_SA {re.escape(conn)}\[(\d+)\] rekeyed between")
        gone_t = re.compile(rf"<{re.escape(conn)}\|{old}> IKE_SA deleted")
        # osaka names all its IKE_SAs "lab"; one IKE_SA re-key at a time
        gone_o = re.compile(r"IKE_SA deleted")
        try:
            wait_for(lambda: new_re.search(self.tlog.since()) and
                            gone_t.search(self.tlog.since()) and
                            gone_o.search(self.olog.since()), 60, step=0.01,
                            what=f"{conn} re-keyed and its old IKE_SA deleted")
        except TimeoutError as e:
            raise Invalid(f"ike {label}: {e}:\n{self.tlog.since()[-3000:]}") from None
        tt, ot = self.tlog.since(), self.olog.since()
        self.ike_ids[conn] = new_re.search(tt).group(1)
        fails = [("tokyo", ln) for ln in self.T.failures(tt)] + \
                [("osaka", ln) for ln in self.O.failures(ot)]
        if fails:
            raise Invalid(f"ike {label}: charon logged failures:\n"
                          + "\n".join(f"{r}: {ln}" for r, ln in fails[:10]))
        self.retransmits += self.T.retransmits(tt) + self.O.retransmits(ot)
        start = stamp(tt, f"vici rekey IKE_SA '{conn}'")
        end = stamp(tt, "rekeyed between")
        if start is None or end is None or end < start:
            raise Invalid(f"ike {label}: no 'vici rekey' / 'rekeyed between' lines in "
                          f"tokyo's log ({start}, {end}):\n{tt[-3000:]}")
        reqs = set(REQ_RE.findall(tt))
        creates = sum(1 for x, _ in reqs if x == "CREATE_CHILD_SA")
        followups = sum(1 for x, _ in reqs if x == "IKE_FOLLOWUP_KE")
        if (creates, followups) != (1, nfollow):
            raise Invalid(f"ike {label}: tokyo sent {creates} CREATE_CHILD_SA and "
                          f"{followups} IKE_FOLLOWUP_KE requests, expected (1, {nfollow}):\n"
                          f"{tt[-4000:]}")
        ti, orr = self.T.acks(tt, "initiator"), self.O.acks(ot, "responder")
        fb = self.T.fallbacks(tt) + self.O.fallbacks(ot)
        nq = 1 if key in QKD_CASES else 0
        if fb or len(ti) != nq or len(orr) != nq or \
           [a[1] for a in ti] != [a[1] for a in orr]:
            raise Invalid(f"ike {label}: qkd exchanges: tokyo {len(ti)}, osaka {len(orr)} "
                          f"keys used, {len(fb)} fallbacks; expected {nq} and none")
        if measured:
            self.ike[key].append(end - start)
            self.ike_rounds[key].append(exchanges(tt))

    def round(self, measured):
        """One re-key of each CHILD_SA, in CASES' order; the taken
        counters read around each: one key each side for qkd and combo,
        none for the others."""
        zero = {"T.out": 0, "T.in": 0, "O.out": 0, "O.in": 0}
        one = {"T.out": 1, "T.in": 0, "O.out": 0, "O.in": 1}
        procs = (self.T.proc, self.O.proc)
        for c in CASES + IKE_CASES:
            ike = c in IKE_CASES
            b = self.taken()
            c0 = sum(cpu_ticks(p) for p in procs)
            (self.rekey_ike if ike else self.rekey)(c, measured)
            c1 = sum(cpu_ticks(p) for p in procs)
            a = self.taken()
            d = {k: a[k] - b[k] for k in a}
            want = one if c[0] in QKD_CASES else zero
            if d != want:
                raise Invalid(f"{'ike' if ike else 'esp'} {c[3]} re-key: keys taken {d}, "
                              f"expected {want}")
            if measured:
                (self.ike_cpu if ike else self.cpu)[c[0]] += c1 - c0

    def no_leak(self):
        logs = (self.T.log_text() + self.O.log_text()).lower()
        leaked = sum(1 for m in self.materials if m.hex() in logs or m[:8].hex() in logs
                     or routers.hexid(m[:8]) in logs)
        if leaked:
            raise Invalid(f"{leaked} key materials found in the charon logs")

    # ------------------------------------------------------------- report

    def report(self):
        rows = {}
        for key, _child, _esp, label, *_ in CASES:
            v = self.results[key]
            rows[key] = (label, statistics.median(v), pct(v, 90), len(v) / sum(v))
        n = len(self.results["qkd"])
        diag(f"{n} rounds of {len(CASES)} CHILD_SA re-keys, {self.retransmits} retransmits; "
             f"the qkd method listed as {self.ake2}")
        for key, _child, _esp, label, *_ in CASES:
            diag(f"{label}: vici request -> child-rekey event p50 "
                 f"{statistics.median(self.client[key]) * 1e3:.1f} ms; "
                 f"-> old SA deleted p50 {statistics.median(self.cycle[key]) * 1e3:.1f} ms; "
                 f"log min {min(self.results[key]) * 1e3:.1f} max "
                 f"{max(self.results[key]) * 1e3:.1f} ms")
        for key, _child, _esp, label, *_ in CASES:
            ex = self.rounds[key]
            k = min(len(e) for e in ex)
            parts = [statistics.median(e[j] for e in ex) * 1e3 for j in range(k)]
            rest = statistics.median(t - sum(e) for t, e in zip(self.results[key], ex))
            diag(f"{label}: exchanges p50 " + " + ".join(f"{x:.1f}" for x in parts)
                 + f" ms (CREATE_CHILD_SA, IKE_FOLLOWUP_KE...), outside them p50 "
                 f"{rest * 1e3:.1f} ms")
        for key in QKD_CASES:
            paired = [q / m for q, m in zip(self.results[key], self.results["mlkem"])]
            diag(f"{key} / (x25519 + mlkem768) per round: median "
                 f"{statistics.median(paired):.3f}, p10 {pct(paired, 10):.3f}, "
                 f"p90 {pct(paired, 90):.3f}")
        for key, _conn, _prop, label, _n in IKE_CASES:
            ex = self.ike_rounds[key]
            k = min(len(e) for e in ex)
            parts = [statistics.median(e[j] for e in ex) * 1e3 for j in range(k)]
            diag(f"ike {label}: exchanges p50 " + " + ".join(f"{x:.1f}" for x in parts)
                 + f" ms; log min {min(self.ike[key]) * 1e3:.1f} max "
                 f"{max(self.ike[key]) * 1e3:.1f} ms")
        tick = os.sysconf("SC_CLK_TCK")
        print()
        print(f"{'measure (CHILD_SA re-key)':32} {'p50':10} {'p90':10} {'re-keys/s':10} "
              "charon CPU/re-key")
        for key in ("x25519", "mlkem", "qkd", "combo"):
            label, p50, p90, rate = rows[key]
            cpu = self.cpu[key] / tick / n * 1e3
            print(f"{'esp ' + label:32} {f'{p50 * 1e3:.1f} ms':10} "
                  f"{f'{p90 * 1e3:.1f} ms':10} {f'{rate:.1f}':10} {cpu:.1f} ms")
        q = rows["qkd"][1] / rows["mlkem"][1]
        c = rows["combo"][1] / rows["mlkem"][1]
        m = rows["mlkem"][1] / rows["x25519"][1]
        print()
        print(f"{'ratio of p50 (CHILD_SA re-key)':34} {'value':10} {'target':10} verdict")
        print(f"{'qkd / (x25519 + mlkem768)':34} {f'{q:.3f}x':10} "
              f"{f'<= {TARGET:.2f}x':10} {'met' if q <= TARGET else 'MISSED'}")
        print(f"{'mlkem768qkd / (x25519 + mlkem768)':34} {f'{c:.3f}x':10} "
              f"{f'<= {TARGET_COMBO:.2f}x':10} {'met' if c <= TARGET_COMBO else 'MISSED'}")
        print(f"{'(x25519 + mlkem768) / x25519':34} {f'{m:.3f}x':10} {'-':10} -")
        # the IKE_SA re-keys, in the same rounds
        ik = {}
        for key, _conn, _prop, label, _n in IKE_CASES:
            v = self.ike[key]
            ik[key] = (label, statistics.median(v), pct(v, 90), len(v) / sum(v),
                       self.ike_cpu[key] / tick / len(v) * 1e3)
        print()
        print(f"{'measure (IKE_SA re-key)':32} {'p50':10} {'p90':10} {'re-keys/s':10} "
              "charon CPU/re-key")
        for key in ("x25519", "mlkem", "qkd", "combo"):
            label, p50, p90, rate, cpu = ik[key]
            print(f"{'ike ' + label:32} {f'{p50 * 1e3:.1f} ms':10} "
                  f"{f'{p90 * 1e3:.1f} ms':10} {f'{rate:.1f}':10} {cpu:.1f} ms")
        print()
        print(f"{'ratio (IKE_SA re-key)':38} {'value':10} {'target':10} verdict")
        for what, i in (("p50", 1), ("CPU", 4)):
            q, c = ik["qkd"][i] / ik["mlkem"][i], ik["combo"][i] / ik["mlkem"][i]
            print(f"{'qkd / (x25519 + mlkem768) ' + what:38} {f'{q:.3f}x':10} "
                  f"{f'<= {TARGET:.2f}x':10} {'met' if q <= TARGET else 'MISSED'}")
            print(f"{'mlkem768qkd / (x25519 + mlkem768) ' + what:38} {f'{c:.3f}x':10} "
                  f"{f'<= {TARGET_COMBO:.2f}x':10} {'met' if c <= TARGET_COMBO else 'MISSED'}")


def run(b, keys, args, what, sizes, measure):
    """Set the lab of bench b up with keys per side, run args.warmup +
    args.rounds rounds, check that no key material reached the logs and
    print b's report.  A run whose checks failed (Invalid) or whose lab
    failed prints the row measure with no figures.  what names the bench
    in the diagnostics, sizes says what it runs.  Returns the exit status."""
    t0 = time.monotonic()
    status = 0
    try:
        b.setup(keys)
        diag(f"{what}: lab up in {time.monotonic() - t0:.0f} s, {keys} keys per side, "
             f"{sizes}")
        for i in range(args.warmup + args.rounds):
            b.round(i >= args.warmup)
        b.no_leak()
        diag(f"{what}: {time.monotonic() - t0:.0f} s in all")
        b.report()
    except Invalid as e:
        diag(f"{what} INVALID: {e}")
        print()
        print(f"{measure} INVALID, no figures (see the diagnostics)")
        status = 1
    except Exception as e:      # noqa: BLE001 (the lab failed: say why)
        diag(f"{what} failed: {type(e).__name__}: {e}")
        for r in (b.T, b.O):
            diag(f"--- {r.name}'s charon log (end)")
            diag("\n".join(r.log_text().splitlines()[-40:]))
        print()
        print(f"{measure} FAILED, no figures (see the diagnostics)")
        status = 1
    finally:
        if b.sess:
            b.sess.close()
        try:
            b.lab.teardown()
        except Exception as e:  # noqa: BLE001
            diag(f"teardown: {e}")
    return status


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=40,
                    help="measured rounds of four re-keys (default 40)")
    ap.add_argument("--warmup", type=int, default=2,
                    help="rounds before the measured ones, checked, not counted")
    args = ap.parse_args()
    if args.rounds < 1 or args.warmup < 0:
        ap.error("--rounds must be at least 1, --warmup at least 0")
    b = Bench(args)
    # every qkd and combo re-key takes one key, the IKE_SA one more, the
    # combo CHILD_SA's CREATE_CHILD_SA one; a margin for nothing in
    # particular: a shortfall would show as a fallback anyway
    # the IKE_SA re-key cases: their qkd and combo IKE_SAs one each, and
    # each of their re-keys one
    keys = 4 + 4 * (args.warmup + args.rounds) + 16
    return run(b, keys, args, "re-key bench", f"{args.warmup} + {args.rounds} rounds",
               f"{'measure (CHILD_SA re-key)':32}")


if __name__ == "__main__":
    sys.exit(main())
