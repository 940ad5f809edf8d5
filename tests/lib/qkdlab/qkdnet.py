# SPDX-License-Identifier: GPL-2.0
"""Routers joined by a simulated QKD link (the lab of tests/vm/test_lab.py,
the demo and the benches): the KME simulator and qkd-linkd on each router,
charon re-keying from the pools qkd-linkd fills: the routers' lab
(qkdlab.routers) with its pools fed by qkd-linkd instead of by hand.

                          netns kme: kme_sim.py (control 127.0.0.1:9000)
             KME_TOKYO 10.99.1.10:8443 ~~ QKD link ~~ KME_OSAKA 10.99.2.10:8444
                        | mgmt (ETSI 014, mTLS)          | mgmt
                   10.99.1.1                        10.99.2.1
   host-tokyo -- router-tokyo ====== backhaul ====== router-osaka -- host-osaka
                 qkd-linkd SAE_TOKYO <--peer channel--> qkd-linkd SAE_OSAKA
                 charon, pool "osaka"  (mTLS, :7600)   charon, pool "tokyo"

Each router reaches its KME over a management veth of its own, as a
router reaches the QKD device in its rack; only the linkd-to-linkd peer
channel (key IDs, never keys) and IKE/ESP cross the backhaul.  Nothing
here fills a pool by hand: qkd-linkd creates the pools from its
configuration and keeps them between their watermarks.
"""

import json
import os
import re
import subprocess
import threading
import time

from qkdlab import REPO
from qkdlab.proc import sh, sim_control, stop_process, wait_for
from qkdlab.tap import diag
from qkdlab.routers import FALLBACK_RE, KEY_RE, LANS, WAN, WORK, Lab

LINKD = os.environ.get("QKD_LINKD", os.path.join(REPO, "build/userspace/qkd-linkd"))
KME_SIM = os.path.join(REPO, "tools/kme-sim/kme_sim.py")
MKCERTS = os.path.join(REPO, "tools/kme-sim/mkcerts.sh")
KME_NS = "kme"
MGMT = {"tokyo": "10.99.1", "osaka": "10.99.2"}     # router .1, KME .10
KME_ID = {"tokyo": "KME_TOKYO", "osaka": "KME_OSAKA"}
KME_PORT = {"tokyo": 8443, "osaka": 8444}
SAE = {"tokyo": "SAE_TOKYO", "osaka": "SAE_OSAKA"}
QKD_LINK = "KME_TOKYO-KME_OSAKA"
CONTROL = ("127.0.0.1", 9000)
LINKD_PORT = 7600
PKI = os.path.join(WORK, "pki")

# Pool sizing, chosen so that an outage shows within a short run.  Re-keys
# take about one key every 2.5 s (CHILD_SA every 3 s, less 0-1 s of
# rand_time, plus an IKE re-key now and then), all from tokyo's outbound
# side.  With at most HIGH = 6 keys queued a key waits at most ~6 x 3 s =
# 18 s before it is used, under MAX_AGE = 25 s (23 s for outbound keys,
# which the module expires 2 s before their inbound twins): in normal
# operation no key that would key an SA expires first.  With
# the link cut, tokyo's outbound side drains by consumption in ~15 s and the
# other direction, which nobody initiates with here, by expiry within 25 s:
# the whole pool is empty within tens of seconds, and refills within a
# second or two of linkd's next KME attempt after the restore (its backoff,
# up to 60 s, sets when that is).  LOW = 3 and BATCH = 3 top the pool up in
# small steps; CAPACITY = 8 leaves room above HIGH.
POOL_CFG = {"capacity": 8, "low_watermark": 3, "high_watermark": 6,
            "batch_size": 3, "max_age": 25}
# the demo's "10 Mbit/s" link (the simulator counts bit/s of key material)
QKD_RATE = 10_000_000

# what a NAKed offer says: the initiator's key was taken (burnt)
NAK_REASONS = ("unknown key ID", "tag mismatch")


def exchanges(router, text):
    """The qkd exchanges finished in text, in log order: a list of
    (role, outcome, detail) with outcome "qkd" (detail: the key ID) or
    "fallback" (detail: the reason) or "failing" (policy require)."""
    ev = []
    for m in KEY_RE.finditer(text):
        ev.append((m.start(), m.group(1), "qkd", m.group(2)))
    for m in FALLBACK_RE.finditer(text):
        ev.append((m.start(), m.group(1),
                   "fallback" if m.group(2) == "falling back" else "failing", m.group(3)))
    return [e[1:] for e in sorted(ev)]


class Linkd:
    """qkd-linkd of one router: configuration, journal, status and log in
    the router's directory of the lab."""

    def __init__(self, router):
        self.r = router
        self.dir = os.path.join(router.dir, "linkd")
        self.conf = os.path.join(self.dir, "linkd.conf")
        self.log = os.path.join(self.dir, "linkd.log")
        self.status_file = os.path.join(self.dir, "status.json")
        self.proc = None

    def write_conf(self, pool_cfg):
        me, peer = self.r.name, self.r.peer
        g = {"listen": f"{WAN[me]}:{LINKD_PORT}",
             "server_cert": f"{PKI}/linkd-{me}.crt",
             "server_key": f"{PKI}/linkd-{me}.key",
             "peer_ca": f"{PKI}/ca.crt",
             "state_dir": os.path.join(self.dir, "state"),
             "status_file": self.status_file}
        p = {"kme_url": f"https://{MGMT[me]}.10:{KME_PORT[me]}",
             "sae_id": SAE[me], "peer_sae_id": SAE[peer],
             "cert": f"{PKI}/{SAE[me]}.crt", "key": f"{PKI}/{SAE[me]}.key",
             "ca": f"{PKI}/ca.crt", "peer": f"{WAN[peer]}:{LINKD_PORT}",
             "key_size": 256, "kme_timeout": 5}
        p.update(pool_cfg)
        # the pool is named for the peer, as the plugin's peers section says
        text = ("# qkd-linkd of the lab's router " + me + "\n[linkd]\n" +
                "".join(f"{k} = {v}\n" for k, v in g.items()) +
                f"\n[pool {peer}]\n" + "".join(f"{k} = {v}\n" for k, v in p.items()))
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, pool_cfg):
        os.makedirs(self.dir, exist_ok=True)
        self.write_conf(pool_cfg)
        log = open(self.log, "a")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.r.ns, LINKD, "-v",
                                      "-c", self.conf],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL)

    def stop(self):
        stop_process(self.proc)

    def status(self):
        """The pool's entry of linkd's status file ({} before the first)."""
        try:
            with open(self.status_file) as f:
                return json.load(f)["pools"][0]
        except (OSError, ValueError, IndexError, KeyError):
            return {}

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class Pinger:
    """ping host-tokyo -> host-osaka in the background, counted live from
    busybox ping's reply lines (sequence numbers), exactly at the end
    from its summary."""

    def __init__(self, interval=0.2):
        self.interval = interval
        self.replies = 0
        self.max_seq = -1
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", "host-tokyo", "busybox", "ping", "-i", str(interval),
             "-W", "1", LANS["osaka"] + ".2"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for ln in self.proc.stdout:
            m = re.search(r"seq=(\d+)", ln)
            if m:
                self.replies += 1
                self.max_seq = max(self.max_seq, int(m.group(1)))
            else:
                self.lines.append(ln)

    def live(self):
        """(sent, lost) so far: echoes up to the newest reply; a ping in
        flight is not counted lost yet."""
        sent = self.max_seq + 1
        return sent, sent - self.replies

    def stop(self):
        """Stop; (sent, received) from ping's own summary."""
        self.proc.send_signal(2)
        self.proc.wait(10)
        self.thread.join(10)
        m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received",
                      "".join(self.lines))
        return (int(m.group(1)), int(m.group(2))) if m else self.live()[:1] + (self.replies,)


class QkdLab(Lab):
    """The lab with a QKD network: the KME simulator in namespace kme, one
    simulated QKD link KME_TOKYO - KME_OSAKA, qkd-linkd on each router."""

    def __init__(self, rate=QKD_RATE, pool_cfg=None):
        super().__init__()
        self.namespaces.append(KME_NS)
        self.rate = rate
        self.pool_cfg = dict(POOL_CFG, **(pool_cfg or {}))
        self.sim = None
        self.sim_log = os.path.join(WORK, "kme-sim.log")
        self.linkd = {n: Linkd(r) for n, r in self.routers.items()}

    def setup(self):
        super().setup()
        for site in ("tokyo", "osaka"):
            r, k = f"router-{site}", f"{site}0"
            sh("ip", "link", "add", "qkdlab-a", "type", "veth", "peer", "name", "qkdlab-b")
            sh("ip", "link", "set", "qkdlab-a", "netns", r, "name", "mgmt0")
            sh("ip", "link", "set", "qkdlab-b", "netns", KME_NS, "name", k)
            sh("ip", "addr", "add", f"{MGMT[site]}.1/24", "dev", "mgmt0", ns=r)
            sh("ip", "link", "set", "mgmt0", "up", ns=r)
            sh("ip", "addr", "add", f"{MGMT[site]}.10/24", "dev", k, ns=KME_NS)
            sh("ip", "link", "set", k, "up", ns=KME_NS)
        sh("bash", MKCERTS, PKI,
           *(f"kme:{KME_ID[s]},IP:{MGMT[s]}.10" for s in ("tokyo", "osaka")),
           *(f"sae:{SAE[s]}" for s in ("tokyo", "osaka")),
           *(f"kme:linkd-{s},DNS:{SAE[s]}" for s in ("tokyo", "osaka")), timeout=120)

    def start_kme(self, lifetime=3600):
        """The simulator with one link at self.rate bit/s; waits until it
        listens."""
        ready = os.path.join(WORK, "kme-sim.ready")
        log = open(self.sim_log, "a")
        self.sim = subprocess.Popen(
            ["ip", "netns", "exec", KME_NS, "python3", KME_SIM, "--tls-dir", PKI,
             "--control", f"{CONTROL[0]}:{CONTROL[1]}",
             *(a for s in ("tokyo", "osaka") for a in
               ("--kme", f"{KME_ID[s]}@{MGMT[s]}.10:{KME_PORT[s]}={SAE[s]}")),
             "--link", f"{KME_ID['tokyo']},{KME_ID['osaka']},rate={self.rate},"
                       "max_key_count=100000",
             "--ready-file", ready, "--lifetime", str(lifetime)],
            stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
        wait_for(lambda: self.sim.poll() is not None or os.path.exists(ready), 120,
                 what="the KME simulator to listen")
        if self.sim.poll() is not None:
            raise RuntimeError(f"the KME simulator exited with {self.sim.returncode}; "
                               f"see {self.sim_log}")

    def start_linkd(self):
        for lk in self.linkd.values():
            lk.start(self.pool_cfg)

    def control(self, method, path, body=None):
        """The simulator's control API (JSON), from inside namespace kme."""
        return sim_control(KME_NS, method, path, body, f"{CONTROL[0]}:{CONTROL[1]}")

    def cut(self):
        """The QKD link stops producing keys (the KMEs answer enc_keys with
        503 "QKD link down")."""
        return self.control("POST", f"/links/{QKD_LINK}/cut")

    def restore(self):
        return self.control("POST", f"/links/{QKD_LINK}/restore")

    def set_rate(self, bps):
        self.rate = bps
        return self.control("POST", f"/links/{QKD_LINK}/set", {"rate": bps})

    def link(self):
        return self.control("GET", f"/links/{QKD_LINK}")

    def levels(self):
        """{router: {"out": (level, capacity), "in": (level, capacity)}}."""
        res = {}
        for n, r in self.routers.items():
            p = r.pool()
            res[n] = {d: (p[d]["level"], p[d]["capacity"]) for d in ("out", "in") if d in p}
        return res

    def linkd_status(self):
        return {n: lk.status() for n, lk in self.linkd.items()}

    def full(self):
        """Every direction of both pools at or above the high watermark."""
        try:
            lv = self.levels()
        except RuntimeError:
            return False
        high = self.pool_cfg["high_watermark"]
        return all(len(d) == 2 and all(v[0] >= high for v in d.values())
                   for d in lv.values())

    def empty(self):
        lv = self.levels()
        return all(v[0] == 0 for d in lv.values() for v in d.values())

    def ping_live(self, interval=0.2):
        return Pinger(interval)

    def quiet(self, pt, po, timeout=60):
        """Pools, charon counters and both logs since the log positions
        pt/po, read at a moment when no qkd exchange is half logged: every
        initiator's outcome line has its responder's, and no outcome line
        was added while the pools and counters were read (other lines may:
        charon logs all the time, and under TCG reading takes a second or
        more).  The texts end where they were read first.  An exchange that
        took its key in between, or a counter bumped a moment after its
        line, shows in consistency() and snapshot() reads again.
        Returns {"pools": {router: Router.pool()}, "counters": {router: ...},
        "text": {router: log text}}."""
        T, O = self.tokyo, self.osaka

        def n_role(r, text, role):
            return sum(1 for e in exchanges(r, text) if e[0] == role)

        def read():
            txt = {"tokyo": T.since(pt), "osaka": O.since(po)}
            tt, ot = txt["tokyo"], txt["osaka"]
            if (n_role(T, tt, "initiator"), n_role(O, ot, "initiator")) != \
               (n_role(O, ot, "responder"), n_role(T, tt, "responder")):
                return None
            a = {n: r.pool() for n, r in self.routers.items()}
            c = {n: r.counters() for n, r in self.routers.items()}
            if (exchanges(T, T.since(pt)), exchanges(O, O.since(po))) != \
               (exchanges(T, tt), exchanges(O, ot)):
                return None
            return {"pools": a, "counters": c, "text": txt}
        return wait_for(read, timeout, step=0.05, what="a moment without qkd exchanges")

    def show_logs(self, lines):
        """Each router's charon log and its qkd-linkd log (half as much)."""
        super().show_logs(lines)
        for n, linkd in self.linkd.items():
            diag(f"--- {n}'s linkd log (end)")
            diag("\n".join(linkd.log_text().splitlines()[-(lines // 2):]))

    def teardown(self):
        for lk in self.linkd.values():
            lk.stop()
        stop_process(self.sim)
        super().teardown()


def tally(lab, tt, ot):
    """The re-keys in the log texts tt (tokyo's) and ot (osaka's): one per
    qkd exchange, counted at its initiator (either router), split by how
    it ended: "qkd" (keyed with a QKD key), "mlkem" (x25519 + ML-KEM only:
    the qkd round fell back), "failed" (refused by policy, or a failure
    charon logged on either router); "naks": fallbacks whose offer was
    NAKed (each burnt one outbound key); "ids": {initiator: [key IDs]}."""
    res = {"rekeys": 0, "qkd": 0, "mlkem": 0, "failed": 0, "naks": 0,
           "ids": {"tokyo": [], "osaka": []}, "resp_ids": {"tokyo": [], "osaka": []}}
    for r, text in ((lab.tokyo, tt), (lab.osaka, ot)):
        for role, outcome, detail in exchanges(r, text):
            if role != "initiator":
                if outcome == "qkd":
                    res["resp_ids"][r.name].append(detail)
                continue
            res["rekeys"] += 1
            if outcome == "qkd":
                res["qkd"] += 1
                res["ids"][r.name].append(detail)
            elif outcome == "fallback":
                res["mlkem"] += 1
                res["naks"] += detail in NAK_REASONS
            else:
                res["failed"] += 1
        res["failed"] += len(r.failures(text))
    return res


def rekey_counters(snap):
    """Re-keys by charon's counters in a snapshot: CHILD_SA re-keys (both
    routers count each) plus IKE_SA re-keys initiated by either router."""
    c = snap["counters"]
    return (c["tokyo"]["child-rekey"] + c["tokyo"]["ike-rekey-init"] +
            c["osaka"]["ike-rekey-init"])


def _taken(snap):
    p = snap["pools"]
    return {"T.out": p["tokyo"]["out"]["taken"], "T.in": p["tokyo"]["in"]["taken"],
            "O.out": p["osaka"]["out"]["taken"], "O.in": p["osaka"]["in"]["taken"]}


def snapshot(lab, start, prev=None, timeout=30, new_ike=0):
    """A snapshot (QkdLab.quiet) of both logs from the positions start
    (tokyo's, osaka's) on, with linkd's status; "end" holds where the
    texts end: the next phase's start, so that phases split the logs
    exactly.  With prev (the snapshot where start came from), read again
    until consistency(prev, snapshot) finds nothing wrong, for up to
    timeout s: an exchange caught between its key take and its log line,
    or a counter bumped a moment after the line, passes; a real mismatch
    stays.  "tally" and "problems" hold consistency()'s answer; new_ike
    is passed on to it."""
    deadline = time.monotonic() + timeout
    while True:
        s = lab.quiet(*start)
        s["linkd"] = lab.linkd_status()
        s["start"] = start
        s["end"] = (start[0] + len(s["text"]["tokyo"]), start[1] + len(s["text"]["osaka"]))
        if prev is None:
            return s
        s["tally"], s["problems"] = consistency(lab, prev, s, new_ike)
        if not s["problems"] or time.monotonic() >= deadline:
            return s
        time.sleep(0.2)


def consistency(lab, a, b, new_ike=0):
    """Between two snapshots a and b (b's texts start where a's end): do
    the routers' logs, the pools' taken counters and charon's counters
    tell the same story?  new_ike: IKE_SAs set up in between (each has a
    qkd exchange that no re-key counter counts).  Returns (tally of b's
    texts, [problems])."""
    tt, ot = b["text"]["tokyo"], b["text"]["osaka"]
    t = tally(lab, tt, ot)
    bad = []
    for ini, resp in (("tokyo", "osaka"), ("osaka", "tokyo")):
        ids, rids = t["ids"][ini], t["resp_ids"][resp]
        if sorted(ids) != sorted(rids):
            bad.append(f"key IDs of {ini}'s ACKed offers {ids} != {resp}'s ACKs {rids}")
        if len(set(ids)) != len(ids):
            bad.append(f"a key ID used twice by {ini}: {ids}")
    d = {k: _taken(b)[k] - _taken(a)[k] for k in _taken(a)}
    removed = {n: b["linkd"][n].get("removed", 0) - a["linkd"][n].get("removed", 0)
               for n in lab.routers}
    naks = {n: sum(1 for role, o, det in exchanges(r, b["text"][n])
                   if role == "initiator" and o == "fallback" and det in NAK_REASONS)
            for n, r in lab.routers.items()}
    # one key per exchange on each side: the initiator's outbound key for
    # each offer (ACKed, or NAKed and so burnt), the responder's inbound
    # key for each ACK (plus keys linkd removed on an ABORT)
    want = {"T.out": len(t["ids"]["tokyo"]) + naks["tokyo"],
            "T.in": len(t["resp_ids"]["tokyo"]) + removed["tokyo"],
            "O.out": len(t["ids"]["osaka"]) + naks["osaka"],
            "O.in": len(t["resp_ids"]["osaka"]) + removed["osaka"]}
    if d != want:
        bad.append(f"keys taken (pool counters) {d} != exchanges logged {want}")
    n = rekey_counters(b) - rekey_counters(a) + new_ike
    if n != t["rekeys"]:
        bad.append(f"re-keys by charon's counters {n} != qkd exchanges logged {t['rekeys']}")
    ct, co = (b["counters"][x]["child-rekey"] - a["counters"][x]["child-rekey"]
              for x in ("tokyo", "osaka"))
    if ct != co:
        bad.append(f"CHILD re-keys counted by tokyo {ct} != by osaka {co}")
    # the plugin's per-pool ke_* counters, when this qkdctl prints them
    for name, r in lab.routers.items():
        pa, pb = a["pools"][name]["out"], b["pools"][name]["out"]
        if "ke" in pa and "ke" in pb:
            ev = exchanges(r, b["text"][name])
            got = {k: pb["ke"][k] - pa["ke"][k] for k in ("ke_qkd", "ke_fallback")}
            exp = {"ke_qkd": sum(1 for e in ev if e[1] == "qkd"),
                   "ke_fallback": sum(1 for e in ev if e[1] == "fallback")}
            if got != exp:
                bad.append(f"{name}'s ke_* counters (qkdctl dump) {got} != its log {exp}")
    return t, bad
