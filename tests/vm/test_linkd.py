#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""qkd-linkd end to end: two routers, their KMEs (the simulator), the peer
channel, outages, crashes and KME faults.

        lk-kme: kme_sim.py (control on 127.0.0.1:9000)
        KME_A 10.9.1.10:8443          KME_B 10.9.2.10:8444
              |  (QKD link KME_A-KME_B, rate unlimited)  |
        10.9.1.1                                   10.9.2.1
    +---------------------+   10.9.0.0/24   +---------------------+
    | lk-a  qkd-linkd     |-----------------| lk-b  qkd-linkd     |
    | SAE_A, pool "link"  | .1   mTLS   .2  | SAE_B, pool "link"  |
    | out: A->B  in: B->A |      :7600      | out: B->A  in: A->B |
    +---------------------+                 +---------------------+

Keys are compared through a test-only path: the test takes a key from one
router's outbound ring and the same ID from the other's inbound side (the
kernel's ynl) and compares the two; material is never printed, and the
daemons' logs and status files are searched for every material the test
saw.  Along the way, qkdctl show, show --json and metrics must report each
daemon's health from its status file: KME up and peer connected while
things run, the KME down with its last error in an outage, stale after a
kill -9, '-' for another namespace's daemon."""

import base64
import json
import os
import random
import signal
import subprocess
import tempfile
import time
import urllib.request

from qkdtest import (test, main, family, check, eq, diag, Skip, log_materials,
                     REPO)

LINKD = os.environ.get("QKD_LINKD", os.path.join(REPO, "build/userspace/qkd-linkd"))
QKDCTL = os.environ.get("QKDCTL", os.path.join(REPO, "build/userspace/qkdctl"))
SIM = os.path.join(REPO, "tools/kme-sim/kme_sim.py")
MKCERTS = os.path.join(REPO, "tools/kme-sim/mkcerts.sh")
NS = {"a": "lk-a", "b": "lk-b", "k": "lk-kme"}
SAE = {"a": "SAE_A", "b": "SAE_B"}
KME = {"a": "KME_A", "b": "KME_B"}
ADDR = {"a": "10.9.0.1", "b": "10.9.0.2"}
KME_URL = {"a": "https://10.9.1.10:8443", "b": "https://10.9.2.10:8444"}
LOW, HIGH, CAP = 24, 64, 256
LINK = "KME_A-KME_B"
TMP = tempfile.mkdtemp(prefix="qkd-linkd-test.")
PKI = os.path.join(TMP, "pki")
OTHER = {"a": "b", "b": "a"}

materials = []          # every material the test took, to search the logs
procs = {}
init_fd = os.open("/proc/self/ns/net", os.O_RDONLY)


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def in_ns(ns, fn):
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        os.setns(fd, os.CLONE_NEWNET)
        return fn()
    finally:
        os.setns(init_fd, os.CLONE_NEWNET)
        os.close(fd)


def ctl(method, path, body=None):
    """The simulator's control interface, from inside lk-kme."""
    def call():
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:9000" + path, data=data,
                                     method=method)
        with urllib.request.urlopen(req, timeout=30) as r:
            txt = r.read()
            return json.loads(txt) if txt else None
    return in_ns(NS["k"], call)


# ------------------------------------------------------------ set-up

def topology():
    for ns in NS.values():
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    for a, na, b, nb, net in (("lk-ab", "lk-a", "lk-ba", "lk-b", "10.9.0"),
                              ("lk-ak", "lk-a", "lk-ka", "lk-kme", "10.9.1"),
                              ("lk-bk", "lk-b", "lk-kb", "lk-kme", "10.9.2")):
        sh("ip", "link", "add", a, "netns", na, "type", "veth", "peer", "name",
           b, "netns", nb)
        far = "2" if nb != "lk-kme" else "10"
        sh("ip", "-n", na, "addr", "add", f"{net}.1/24", "dev", a)
        sh("ip", "-n", nb, "addr", "add", f"{net}.{far}/24", "dev", b)
        sh("ip", "-n", na, "link", "set", a, "up")
        sh("ip", "-n", nb, "link", "set", b, "up")


def certs():
    sh("bash", MKCERTS, PKI, "kme:KME_A,IP:10.9.1.10", "kme:KME_B,IP:10.9.2.10",
       "sae:SAE_A", "sae:SAE_B", "sae:STR_A", "sae:STR_B",
       "kme:linkd-a,DNS:SAE_A,DNS:STR_A", "kme:linkd-b,DNS:SAE_B,DNS:STR_B")


def start_sim():
    ready = os.path.join(TMP, "sim.ready")
    log = open(os.path.join(TMP, "sim.log"), "w")
    procs["sim"] = subprocess.Popen(
        ["ip", "netns", "exec", NS["k"], "python3", SIM, "--tls-dir", PKI,
         "--control", "127.0.0.1:9000",
         "--kme", "KME_A@10.9.1.10:8443=SAE_A", "--kme", "KME_B@10.9.2.10:8444=SAE_B",
         "--link", "KME_A,KME_B,rate=0,max_key_count=100000",
         "--ready-file", ready, "--lifetime", "3000"],
        stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 120
    while not os.path.exists(ready):
        check(procs["sim"].poll() is None, "the simulator exited")
        check(time.monotonic() < deadline, "the simulator did not start")
        time.sleep(0.2)


def conf(x, stream=None, **over):
    d = os.path.join(TMP, x)
    os.makedirs(d, exist_ok=True)
    y = OTHER[x]
    s = {
        "listen": f"{ADDR[x]}:7600",
        "server_cert": f"{PKI}/linkd-{x}.crt",
        "server_key": f"{PKI}/linkd-{x}.key",
        "peer_ca": f"{PKI}/ca.crt",
        "state_dir": f"{d}/state",
        "status_file": f"{d}/status.json",
    }
    p = {
        "kme_url": KME_URL[x], "sae_id": SAE[x], "peer_sae_id": SAE[y],
        "cert": f"{PKI}/{SAE[x]}.crt", "key": f"{PKI}/{SAE[x]}.key",
        "ca": f"{PKI}/ca.crt", "peer": f"{ADDR[y]}:7600",
        "capacity": CAP, "low_watermark": LOW, "high_watermark": HIGH,
        "batch_size": 16, "kme_timeout": 5,
    }
    p.update(over)
    text = "# qkd-linkd test configuration\n[linkd]\n"
    text += "".join(f"{k} = {v}\n" for k, v in s.items())
    if stream:
        p = {"source": "stream", "stream": stream, "stream_role": x,
             "sae_id": SAE[x].replace("SAE", "STR"),
             "peer_sae_id": SAE[y].replace("SAE", "STR"),
             "cert": f"{PKI}/{SAE[x].replace('SAE', 'STR')}.crt",
             "key": f"{PKI}/{SAE[x].replace('SAE', 'STR')}.key",
             "peer": f"{ADDR[y]}:7600", "capacity": CAP,
             "low_watermark": LOW, "high_watermark": HIGH, "batch_size": 16}
    text += "\n[pool link]\n" + "".join(f"{k} = {v}\n" for k, v in p.items())
    path = os.path.join(d, "linkd.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def log_path(x):
    return os.path.join(TMP, x, "linkd.log")


def start(x, stream=None):
    path = conf(x, stream)
    log = open(log_path(x), "a")
    procs[x] = subprocess.Popen(["ip", "netns", "exec", NS[x], LINKD, "-v",
                                 "-c", path], stdout=log, stderr=log)


def log_text(x):
    with open(log_path(x)) as f:
        return f.read()


def status(x):
    try:
        with open(os.path.join(TMP, x, "status.json")) as f:
            return json.load(f)["pools"][0]
    except (OSError, ValueError, IndexError, KeyError):
        return {}


def qkdctl(x, *args, status_of=None):
    """qkdctl in x's namespace, reading the status file of status_of's
    daemon (x's by default) as it would read /run/qkd-linkd."""
    env = dict(os.environ, QKD_LINKD_STATUS=os.path.join(TMP, status_of or x, "status.json"))
    p = subprocess.run(["ip", "netns", "exec", NS[x], QKDCTL, *args], env=env,
                       capture_output=True, text=True, timeout=30)
    eq(p.returncode, 0, f"qkdctl {' '.join(args)} in {x}: {p.stderr}")
    return p.stdout


def health(x, **kw):
    """qkd-linkd's health of pool "link" as qkdctl shows it, three ways:
    (the show lines, the --json "linkd" object, {metric{labels}: value})."""
    show = [ln.strip() for ln in qkdctl(x, "show", "link", **kw).splitlines()
            if "qkd-linkd" in ln]
    js = json.loads(qkdctl(x, "show", "--json", "link", **kw))["pools"][0]["linkd"]
    met = {}
    for ln in qkdctl(x, "metrics", **kw).splitlines():
        if ln.startswith("qkd_linkd_") and 'pool="link"' in ln:
            k, v = ln.rsplit(" ", 1)
            met[k] = float(v)
    return show, js, met


def healthy(x):
    """qkdctl reports x's KME up and its peer connected both ways."""
    show, js, met = health(x)
    return (show and show[0].startswith("qkd-linkd: KME up, peer connected,")
            and js and js["state"] == "running" and js["kme_up"]
            and js["peer_out_connected"] and js["peer_in_connected"]
            and met.get('qkd_linkd_up{pool="link"}') == 1
            and met.get('qkd_linkd_kme_up{pool="link"}') == 1
            and met.get('qkd_linkd_peer_connected{pool="link",direction="out"}') == 1
            and met.get('qkd_linkd_peer_connected{pool="link",direction="in"}') == 1)


fam = {}


def pool(x):
    if x not in fam:
        fam[x] = in_ns(NS[x], family)
    p = fam[x].do("pool-get", {"name": "link"})
    return p


def levels():
    pa, pb = pool("a"), pool("b")
    return (pa["stats-out"]["level"], pa["stats-in"]["level"],
            pb["stats-out"]["level"], pb["stats-in"]["level"])


def wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        r = cond()
        if r:
            return r
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; "
                                 f"levels {levels()}, status a={status('a')} b={status('b')}")
        time.sleep(0.5)


def full():
    try:
        return all(v >= HIGH for v in levels())
    except Exception:       # noqa: BLE001  (pools not created yet)
        return False


def idle(x):
    s = status(x)
    return s.get("master_state") == "idle" and not s.get("journal_open")


def consume(x, n=None):
    """Take every key (or n) of x's outbound ring and the same IDs from the
    peer's inbound side; compare materials.  Returns the number of pairs."""
    y = OTHER[x]
    px, py = pool(x), pool(y)
    count = px["stats-out"]["level"] if n is None else n
    got = 0
    for i in range(0, count, 64):
        ops = [("key-take", {"id": px["id"], "direction": "out"}, [])
               for _ in range(min(64, count - i))]
        outs = [r["key"][0] for r in fam[x].do_multi(ops)]
        ops = [("key-take", {"id": py["id"], "direction": "in", "key-id": k["id"]}, [])
               for k in outs]
        ins = [r["key"][0] for r in fam[y].do_multi(ops)]
        for ko, ki in zip(outs, ins):
            eq(ki["id"], ko["id"], "key ID")
            check(ki["material"] == ko["material"],
                  f"key {ko['id'].hex()}: material differs between {x} and {y}")
            materials.append(ko["material"])
        got += len(outs)
    log_materials(materials[-got:] if got else [])
    return got


def reconcile(what):
    """With the QKD link cut (no new offers), once both masters are idle:
    every outbound key of each router is in its peer's inbound side with
    the same material, and nothing else is there."""
    ctl("POST", f"/links/{LINK}/cut")
    wait(lambda: idle("a") and idle("b"), 90, f"{what}: both masters idle")
    time.sleep(1.5)
    la_out, la_in, lb_out, lb_in = levels()
    eq(la_out, lb_in, f"{what}: A out level vs B in level")
    eq(lb_out, la_in, f"{what}: B out level vs A in level")
    n1 = consume("a")
    n2 = consume("b")
    la_out, la_in, lb_out, lb_in = levels()
    eq((la_out, la_in, lb_out, lb_in), (0, 0, 0, 0), f"{what}: levels after taking every key")
    diag(f"{what}: {n1} + {n2} key pairs identical on both routers")
    ctl("POST", f"/links/{LINK}/restore")


# ------------------------------------------------------------- tests

@test("linkd: set-up: namespaces, certificates from mkcerts.sh, simulator")
def _():
    if not os.access(LINKD, os.X_OK):
        raise Skip(f"{LINKD} not built")
    topology()
    certs()
    start_sim()


@test("linkd: a bad configuration is refused with its file and line number")
def _():
    path = conf("a", capacity="lots")
    p = subprocess.run([LINKD, "-c", path], capture_output=True, text=True)
    eq(p.returncode, 1, "exit status")
    line = [i for i, ln in enumerate(open(path).read().splitlines(), 1)
            if ln.startswith("capacity")][0]
    check(f"{path}:{line}: capacity: 'lots' is not a number" in p.stderr,
          f"stderr: {p.stderr!r}")
    path = conf("a", low_watermark=100, high_watermark=50)
    p = subprocess.run([LINKD, "-t", "-c", path], capture_output=True, text=True)
    eq(p.returncode, 1, "exit status of -t")
    check("must be below high_watermark" in p.stderr, f"stderr: {p.stderr!r}")
    p = subprocess.run([LINKD, "-t", "-c", conf("a")], capture_output=True, text=True)
    eq(p.returncode, 0, f"-t on a good file: {p.stderr}")


@test("linkd: both routers' pools fill both ways")
def _():
    start("a")
    start("b")
    wait(full, 240, "all four directions above the high watermark")
    diag(f"levels (A out, A in, B out, B in): {levels()}")
    for x in "ab":
        check("connected to peer" in log_text(x), f"{x}: no peer connection logged")


@test("linkd: the same key ID gives the same material on both routers")
def _():
    reconcile("after the first fill")


@test("linkd: a link outage drains the pools to empty, they refill after restore")
def _():
    wait(full, 240, "refill after reconcile")
    for x in "ab":
        wait(lambda: healthy(x), 10, f"{x}: qkdctl reports the KME up and the peer connected")
        show, js, met = health(x)
        t = time.time()
        for d in ("out", "in"):
            check(js[f"last_refill_{d}"] and t - 600 < js[f"last_refill_{d}"] <= t + 1,
                  f"{x}: last refill {d} {js[f'last_refill_{d}']} at {t}")
            eq(met.get(f'qkd_linkd_last_refill_timestamp_seconds{{pool="link",direction="{d}"}}'),
               js[f"last_refill_{d}"], f"{x}: metrics' last refill {d}")
        diag(f"{x}: {show[0]}")
    # another namespace's daemon does not fill this pool: '-', null, no series
    show, js, met = health("a", status_of="b")
    eq((show, js, met.get('qkd_linkd_up{pool="link"}')), (["qkd-linkd: -"], None, None),
       "A's pool with B's status file")
    ctl("POST", f"/links/{LINK}/cut")
    wait(lambda: idle("a") and idle("b"), 90, "masters idle")
    consume("a")
    consume("b")
    time.sleep(4)
    eq(levels(), (0, 0, 0, 0), "levels during the outage")
    for x in "ab":
        check("QKD link down" in log_text(x), f"{x}: the outage is not logged")
        check(not status(x).get("source_ok", True), f"{x}: status still says the KME is fine")
        show, js, met = health(x)
        check(show[0].startswith("qkd-linkd: KME DOWN, peer connected,"), f"{x}: show says {show}")
        check(len(show) == 2 and show[1].startswith("qkd-linkd last error (")
              and "QKD link down" in show[1], f"{x}: show's last error: {show}")
        check(not js["kme_up"] and "QKD link down" in js["last_error"]
              and time.time() - 120 < js["last_error_time"] <= time.time() + 1,
              f"{x}: --json during the outage: {js}")
        eq(met.get('qkd_linkd_kme_up{pool="link"}'), 0, f"{x}: qkd_linkd_kme_up during the outage")
        check(met.get('qkd_linkd_kme_errors_total{pool="link"}', 0) >= 1,
              f"{x}: qkd_linkd_kme_errors_total {met}")
        diag(f"{x} during the outage: {show[0]} / {show[1]}")
    ctl("POST", f"/links/{LINK}/restore")
    wait(full, 240, "refill after the restore")


def crash(x, master, stale=False):
    """kill -9 of x while an offer is in flight: the slave's KME answers
    dec_keys slowly, so the offer of `master` waits for its ACK; x (the
    master itself, or the slave) dies then and restarts.  With stale:
    qkdctl shows x's dead daemon as stale before the restart."""
    slave = OTHER[master]
    wait(full, 240, "full before the crash")
    ctl("POST", f"/links/{LINK}/cut")
    wait(lambda: idle("a") and idle("b"), 90, "masters idle")
    consume(master, 40)
    fid = ctl("POST", f"/kmes/{KME[slave]}/faults",
              {"type": "slow", "delay": 4, "endpoint": "dec_keys"})["id"]
    ctl("POST", f"/links/{LINK}/restore")
    wait(lambda: status(master).get("master_state") == "offer-sent", 60,
         f"an offer of {master} in flight")
    time.sleep(random.uniform(0.5, 2.0))
    procs[x].send_signal(signal.SIGKILL)
    procs[x].wait()
    killed = time.monotonic()
    if stale:
        # stale once the status is more than 5 intervals (5 s) old
        wait(lambda: health(x)[1]["state"] == "stale", 15, f"qkdctl: {x}'s daemon stale")
        show, js, met = health(x)
        check(show[0].startswith("qkd-linkd: stale: no status for "), f"{x}: show says {show}")
        eq(met.get('qkd_linkd_up{pool="link"}'), 0, f"{x}: qkd_linkd_up of a dead daemon")
        check('qkd_linkd_kme_up{pool="link"}' not in met, f"{x}: a dead daemon's kme_up exported")
        diag(f"{x} killed: '{show[0]}' after {time.monotonic() - killed:.1f} s")
    time.sleep(max(0.0, killed + 4 - time.monotonic()))
    ctl("DELETE", f"/kmes/{KME[slave]}/faults/{fid}")
    start(x)
    wait(lambda: "aborted: peer removed" in log_text(master), 120,
         f"{master} aborts its interrupted offer")
    wait(full, 240, f"refill after restarting {x}")
    if stale:
        wait(lambda: healthy(x), 10, f"qkdctl: {x}'s new daemon running and connected")
    reconcile(f"after kill -9 of {x}")
    diag([ln for ln in log_text(master).splitlines() if "aborted: peer removed" in ln][-1])


@test("linkd: kill -9 of the master (A) with an offer in flight, restart: nothing lost, duplicated or one-sided")
def _():
    crash("a", "a", stale=True)


@test("linkd: kill -9 of the slave (B) during A's offer, restart: nothing lost, duplicated or one-sided")
def _():
    crash("b", "a")


@test("linkd: kill -9 of the master (B) with an offer in flight, restart: nothing lost, duplicated or one-sided")
def _():
    crash("b", "b")


FAULTS = [
    ("a", "garbage_json", "enc_keys", "not valid JSON"),
    ("a", "wrong_key_size", "enc_keys", "bits, 256 were asked for"),
    ("a", "duplicate_key_ids", "enc_keys", "duplicate key_ID"),
    ("a", "http_error", "enc_keys", "HTTP 503"),
    ("b", "garbage_json", "dec_keys", "dec_keys answer rejected"),
    ("b", "wrong_key_size", "dec_keys", "bits, 256 were asked for"),
    ("a", "drop_connection", "enc_keys", "KME unreachable"),
]


@test("linkd: every injected KME fault leaves the pools untouched and is logged")
def _():
    wait(full, 240, "full before the faults")
    for who, ftype, ep, text in FAULTS:
        before = len(log_text(who))
        ctl("POST", f"/links/{LINK}/cut")
        wait(lambda: idle("a") and idle("b"), 90, "masters idle")
        consume("a")
        taken = time.time()
        # consume() woke A's master (its ring fell below the low watermark):
        # an offer from keys the KME had buffered before the cut may still
        # commit.  Snapshot once the master is idle and its count stands,
        # from status files written after the take (the file is rewritten
        # every second: with offers pipelined, a whole refill can fit
        # between two writes, and an older file shows none of it).
        last = [None]

        def settled():
            if os.stat(os.path.join(TMP, "a", "status.json")).st_mtime <= taken:
                return False
            c = status("a").get("committed")
            ok = idle("a") and c == last[0]
            last[0] = c
            return ok
        wait(settled, 90, "A's master settled after the take")
        committed = last[0]
        fid = ctl("POST", f"/kmes/{KME[who]}/faults",
                  {"type": ftype, "endpoint": ep})["id"]
        ctl("POST", f"/links/{LINK}/restore")
        wait(lambda: text in log_text(who)[before:], 90, f"{ftype}: '{text}' in {who}'s log")
        time.sleep(1)
        la_out, _, _, lb_in = levels()
        eq((la_out, lb_in), (0, 0), f"{ftype}: A->B levels while the fault is active")
        eq(status("a").get("committed"), committed, f"{ftype}: keys committed")
        ctl("DELETE", f"/kmes/{KME[who]}/faults/{fid}")
        diag(f"{ftype} on {KME[who]} {ep}: pools untouched, logged")
    check("peer refused offer" in log_text("a"), "A did not log the refused offers")
    wait(full, 240, "refill after the faults")
    reconcile("after the faults")


@test("linkd: no key material in the daemons' logs and status files")
def _():
    check(materials, "no materials collected")
    logs = log_text("a") + log_text("b")
    for x in "ab":      # and none in the status files qkdctl reads
        with open(os.path.join(TMP, x, "status.json")) as f:
            logs += f.read()
    for m in materials:
        for enc in (m.hex(), base64.b64encode(m).decode()[:16], m[:8].hex()):
            check(enc not in logs, "key material found in a daemon log")
    diag(f"{len(materials)} materials searched")


@test("linkd: SIGHUP with a broken file keeps running; SIGTERM exits cleanly")
def _():
    path = conf("a", batch_size="0")
    procs["a"].send_signal(signal.SIGHUP)
    wait(lambda: "reload refused" in log_text("a"), 30, "reload refused")
    check(procs["a"].poll() is None, "A exited on a bad reload")
    conf("a")
    procs["a"].send_signal(signal.SIGHUP)
    wait(lambda: "reloading" in log_text("a"), 30, "reload")
    check(procs["a"].poll() is None, "A exited on a good reload")
    for x in "ab":
        procs[x].send_signal(signal.SIGTERM)
        eq(procs[x].wait(timeout=30), 0, f"{x}: exit status after SIGTERM")
    check("stopped" in log_text("a"), "no 'stopped' line")
    del path


@test("linkd: journal: an offer committed before a crash is recognised; a corrupt journal stops the daemon")
def _():
    wait(lambda: all(procs[x].poll() is not None for x in "ab"), 5, "daemons stopped")
    added = pool("a")["stats-out"]["added"]
    journal = os.path.join(TMP, "a", "state", "link.journal")
    with open(journal) as f:
        seq = int(f.read().split("next_seq ")[1].split()[0])
    # As if A died after adding its last 16 keys but before closing the entry.
    ids = "".join(f"id {i:032x}\n" for i in range(16))
    with open(journal, "w") as f:
        f.write(f"qkd-linkd journal 1\nnext_seq {seq + 1}\n"
                f"open {seq} {added - 16} 16\n{ids}")
    before = len(log_text("b"))
    start("a")
    start("b")
    wait(lambda: f"offer {seq} (16 keys) was committed before the restart" in log_text("a"),
         60, "the committed offer recognised")
    wait(lambda: status("a").get("peer_out_connected"), 60, "A connected")
    time.sleep(2)
    check("aborted offer" not in log_text("b")[before:], "B was asked to abort a committed offer")
    for x in "ab":
        procs[x].send_signal(signal.SIGTERM)
        procs[x].wait(timeout=30)
    with open(journal, "w") as f:
        f.write("qkd-linkd journal 1\nnext_seq x\n")
    p = subprocess.run(["ip", "netns", "exec", NS["a"], LINKD, "-c", conf("a")],
                       capture_output=True, text=True, timeout=60)
    eq(p.returncode, 1, "exit status with a corrupt journal")
    check(f"{journal}: corrupt journal" in p.stderr, f"stderr: {p.stderr!r}")
    os.unlink(journal)


@test("linkd: stream source: both routers take the same keys with the same IDs from one stream")
def _():
    path = os.path.join(TMP, "stream.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(4000 * (16 + 32)))
    for x in "ab":
        p = pool(x)
        fam[x].do("pool-del", {"id": p["id"]})
    start("a", stream=path)
    start("b", stream=path)
    wait(full, 240, "stream pools full")
    reconcile_stream = levels()
    eq(reconcile_stream[0], reconcile_stream[3], "A out vs B in")
    n1, n2 = consume("a"), consume("b")
    diag(f"stream: {n1} + {n2} key pairs identical on both routers")
    for x in "ab":
        procs[x].send_signal(signal.SIGTERM)
        eq(procs[x].wait(timeout=30), 0, f"{x}: exit status")


def cleanup():
    for p in procs.values():
        if p.poll() is None:
            p.kill()
            p.wait()
    for ns in NS.values():
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    for x in "ab":
        if os.path.exists(log_path(x)):
            with open(log_path(x)) as f:
                for ln in f.read().splitlines()[-15:]:
                    print(f"# {x}: {ln}")


if __name__ == "__main__":
    try:
        main()
    finally:
        cleanup()
