# SPDX-License-Identifier: GPL-2.0
"""A chain of trusted nodes, each a router namespace running qkd-linkd,
with the KME simulator serving each QKD link: the fixture of the relay's
VM test (tests/vm/test_relay.py, Documentation/relay.rst).

                              rl-kme: kme_sim.py (control 127.0.0.1:9000)
     K0A :8443   K0B :8444  K1A :8443   K1B :8444  K2A :8443   K2B :8444
        \\  link K0A-K0B  /      \\  link K1A-K1B /     \\  link K2A-K2B /
   +--------+         +--------+          +--------+          +--------+
   | tokyo  |=========| nagoya |==========| osaka  |==========|  kobe  |
   | .1     | 10.51.0 |  .2    | 10.51.1  |  .3    | 10.51.2  |  .4    |
   +--------+         +--------+          +--------+          +--------+
   each router: qkd-linkd listening on 10.50.0.N:7600 (its loopback),
   a veth to rl-kme (10.52.N-1.1 <-> KMEs at 10.52.N-1.10), a veth per
   QKD link to each neighbour (10.51.i.1 <-> 10.51.i.2) with host routes
   to the neighbours' listeners.

Link i joins NODES[i] and NODES[i+1]: a link pool named after the
neighbour on each side (SAE S<i>A at NODES[i], S<i>B at NODES[i+1]),
relay_node = the neighbour.  Every node declares the same [topology];
the two ends have an end-to-end pool named after each other ([relay
kobe] at tokyo, [relay tokyo] at kobe).  State is module-wide (one chain
per process): procs, fam (a pool family per router), materials (every
material a test took, to search the logs for).
"""

import json
import os
import subprocess
import tempfile
import time
import urllib.request

from qkdlab import REPO
from qkdlab.pools import family, take_pairs
from qkdlab.proc import in_ns, sh
from qkdlab.tap import Skip, check, eq

LINKD = os.environ.get("QKD_LINKD", os.path.join(REPO, "build/userspace/qkd-linkd"))
QKDCTL = os.environ.get("QKDCTL", os.path.join(REPO, "build/userspace/qkdctl"))
SIM = os.path.join(REPO, "tools/kme-sim/kme_sim.py")
MKCERTS = os.path.join(REPO, "tools/kme-sim/mkcerts.sh")
NODES = ["tokyo", "nagoya", "osaka", "kobe"]
RATES = ["10M", "1M", "2M"]     # declared rates of links 0..2 (bit/s)
KNS = "rl-kme"
LOW, HIGH, CAP = 64, 192, 512   # link pools
E2E_LOW, E2E_HIGH, E2E_CAP = 16, 48, 128
BATCH = 16                      # keys per relayed transfer
TMP = tempfile.mkdtemp(prefix="qkd-relay-test.")
PKI = os.path.join(TMP, "pki")

materials = []
procs = {}
fam = {}


def ns(node):
    return "rl-" + node


def idx(node):
    return NODES.index(node)


def listen_addr(node):
    return f"10.50.0.{idx(node) + 1}"


def links_of(node):
    """[(link index, neighbour, this end: 'A' or 'B')] of node."""
    j = idx(node)
    out = []
    if j > 0:
        out.append((j - 1, NODES[j - 1], "B"))
    if j + 1 < len(NODES):
        out.append((j, NODES[j + 1], "A"))
    return out


def link_id(i):
    return f"K{i}A-K{i}B"


def kme_addr(node, end):
    """Where node's KME of its link end listens (A ends on 8443, B on 8444)."""
    return f"10.52.{idx(node)}.10", 8443 if end == "A" else 8444


def ctl(method, path, body=None):
    """The simulator's control interface, from inside rl-kme."""
    def call():
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:9000" + path, data=data,
                                     method=method)
        with urllib.request.urlopen(req, timeout=30) as r:
            txt = r.read()
            return json.loads(txt) if txt else None
    return in_ns(KNS, call)


# ------------------------------------------------------------ set-up

def topology():
    for n in [ns(x) for x in NODES] + [KNS]:
        subprocess.run(["ip", "netns", "del", n], capture_output=True)
        sh("ip", "netns", "add", n)
        sh("ip", "-n", n, "link", "set", "lo", "up")
    for j, x in enumerate(NODES):
        sh("ip", "-n", ns(x), "addr", "add", f"{listen_addr(x)}/32", "dev", "lo")
        a, b = f"rk{j}", f"kr{j}"
        sh("ip", "link", "add", a, "netns", ns(x), "type", "veth", "peer",
           "name", b, "netns", KNS)
        sh("ip", "-n", ns(x), "addr", "add", f"10.52.{j}.1/24", "dev", a)
        sh("ip", "-n", KNS, "addr", "add", f"10.52.{j}.10/24", "dev", b)
        sh("ip", "-n", ns(x), "link", "set", a, "up")
        sh("ip", "-n", KNS, "link", "set", b, "up")
    for i in range(len(NODES) - 1):
        x, y = NODES[i], NODES[i + 1]
        sh("ip", "link", "add", f"rl{i}a", "netns", ns(x), "type", "veth",
           "peer", "name", f"rl{i}b", "netns", ns(y))
        sh("ip", "-n", ns(x), "addr", "add", f"10.51.{i}.1/24", "dev", f"rl{i}a")
        sh("ip", "-n", ns(y), "addr", "add", f"10.51.{i}.2/24", "dev", f"rl{i}b")
        sh("ip", "-n", ns(x), "link", "set", f"rl{i}a", "up")
        sh("ip", "-n", ns(y), "link", "set", f"rl{i}b", "up")
        sh("ip", "-n", ns(x), "route", "add", f"{listen_addr(y)}/32", "via",
           f"10.51.{i}.2")
        sh("ip", "-n", ns(y), "route", "add", f"{listen_addr(x)}/32", "via",
           f"10.51.{i}.1")


def sae(i, end):
    return f"S{i}{end}"


def certs():
    args = []
    for i in range(len(NODES) - 1):
        for end, node in (("A", NODES[i]), ("B", NODES[i + 1])):
            addr, _ = kme_addr(node, end)
            args += [f"kme:K{i}{end},IP:{addr}", f"sae:{sae(i, end)}"]
    for x in NODES:
        dns = ",".join(f"DNS:{sae(i, end)}" for i, _, end in links_of(x))
        args.append(f"kme:linkd-{x},{dns},IP:{listen_addr(x)}")
    sh("bash", MKCERTS, PKI, *args, timeout=300)


def start_sim():
    ready = os.path.join(TMP, "sim.ready")
    log = open(os.path.join(TMP, "sim.log"), "w")
    argv = ["ip", "netns", "exec", KNS, "python3", SIM, "--tls-dir", PKI,
            "--control", "127.0.0.1:9000", "--ready-file", ready,
            "--lifetime", "3000"]
    for i in range(len(NODES) - 1):
        for end, node in (("A", NODES[i]), ("B", NODES[i + 1])):
            addr, port = kme_addr(node, end)
            argv += ["--kme", f"K{i}{end}@{addr}:{port}={sae(i, end)}"]
        argv += ["--link", f"K{i}A,K{i}B,rate=0,max_key_count=100000"]
    procs["sim"] = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 120
    while not os.path.exists(ready):
        check(procs["sim"].poll() is None, "the simulator exited")
        check(time.monotonic() < deadline, "the simulator did not start")
        time.sleep(0.2)


def up():
    """The namespaces, the certificates and the simulator; Skip when
    qkd-linkd is not built."""
    if not os.access(LINKD, os.X_OK):
        raise Skip(f"{LINKD} not built")
    topology()
    certs()
    start_sim()


# ----------------------------------------------------- configuration

def e2e_peer(x):
    """The node x keeps an end-to-end pool with, or None (relays)."""
    if x == NODES[0]:
        return NODES[-1]
    if x == NODES[-1]:
        return NODES[0]
    return None


def conf(x, share=50, relay=True, **over):
    d = os.path.join(TMP, x)
    os.makedirs(d, exist_ok=True)
    text = "# qkd-linkd relay test configuration\n[linkd]\n"
    for k, v in {"listen": f"{listen_addr(x)}:7600",
                 "server_cert": f"{PKI}/linkd-{x}.crt",
                 "server_key": f"{PKI}/linkd-{x}.key",
                 "peer_ca": f"{PKI}/ca.crt",
                 "state_dir": f"{d}/state",
                 "status_file": f"{d}/status.json"}.items():
        text += f"{k} = {v}\n"
    for i, y, end in links_of(x):
        other = "B" if end == "A" else "A"
        addr, port = kme_addr(x, end)
        p = {"kme_url": f"https://{addr}:{port}", "sae_id": sae(i, end),
             "peer_sae_id": sae(i, other),
             "cert": f"{PKI}/{sae(i, end)}.crt", "key": f"{PKI}/{sae(i, end)}.key",
             "ca": f"{PKI}/ca.crt", "peer": f"{listen_addr(y)}:7600",
             "capacity": CAP, "low_watermark": LOW, "high_watermark": HIGH,
             "batch_size": 32, "kme_timeout": 5}
        if relay:
            p.update({"relay_node": y, "relay_share": share,
                      "relay_reserve": LOW // 2})
        p.update(over)
        text += f"\n[pool {y}]\n" + "".join(f"{k} = {v}\n" for k, v in p.items())
    if relay:
        text += f"\n[topology]\nself = {x}\nnode = {' '.join(NODES)}\n"
        for i in range(len(NODES) - 1):
            text += f"link = {NODES[i]} {NODES[i + 1]} {RATES[i]}\n"
        y = e2e_peer(x)
        if y:
            text += (f"\n[relay {y}]\npeer = {y}\ncapacity = {E2E_CAP}\n"
                     f"low_watermark = {E2E_LOW}\nhigh_watermark = {E2E_HIGH}\n"
                     f"batch_size = {BATCH}\n")
    path = os.path.join(d, "linkd.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def log_path(x):
    return os.path.join(TMP, x, "linkd.log")


def start(x, **kw):
    path = conf(x, **kw)
    log = open(log_path(x), "a")
    procs[x] = subprocess.Popen(["ip", "netns", "exec", ns(x), LINKD, "-v",
                                 "-c", path], stdout=log, stderr=log)


def kill9(x):
    p = procs.get(x)
    if p and p.poll() is None:
        p.kill()
        p.wait()


def log_text(x):
    try:
        with open(log_path(x)) as f:
            return f.read()
    except OSError:
        return ""


def status(x):
    try:
        with open(os.path.join(TMP, x, "status.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def qkdctl(x, *args):
    env = dict(os.environ, QKD_LINKD_STATUS=os.path.join(TMP, x, "status.json"))
    p = subprocess.run(["ip", "netns", "exec", ns(x), QKDCTL, *args], env=env,
                       capture_output=True, text=True, timeout=30)
    eq(p.returncode, 0, f"qkdctl {' '.join(args)} in {x}: {p.stderr}")
    return p.stdout


# ------------------------------------------------------------ pools

def pool(x, name):
    if x not in fam:
        fam[x] = in_ns(ns(x), family)
    return fam[x].do("pool-get", {"name": name})


def stats(x, name):
    """{(direction, counter): value} of x's pool name."""
    p = pool(x, name)
    return {(d, k): v for d in ("out", "in") for k, v in p[f"stats-{d}"].items()
            if isinstance(v, int)}


def link_levels():
    """[(x's out, y's in, y's out, x's in)] per link i (x = NODES[i])."""
    out = []
    for i in range(len(NODES) - 1):
        x, y = NODES[i], NODES[i + 1]
        px, py = pool(x, y), pool(y, x)
        out.append((px["stats-out"]["level"], py["stats-in"]["level"],
                    py["stats-out"]["level"], px["stats-in"]["level"]))
    return out


def links_full():
    try:
        return all(min(v) >= HIGH for v in link_levels())
    except Exception:       # noqa: BLE001  (pools not created yet)
        return False


def wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        r = cond()
        if r:
            return r
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.5)


def consume(x, y, name_x, name_y, n=None):
    """Take every key (or n) of x's outbound ring of pool name_x and the
    same IDs from y's inbound side of pool name_y; compare materials.
    Returns the number of pairs."""
    px, py = pool(x, name_x), pool(y, name_y)
    count = px["stats-out"]["level"] if n is None else n
    mats = take_pairs(fam[x], px["id"], fam[y], py["id"], count, f"between {x} and {y}")
    materials.extend(mats)
    return len(mats)


def cut(i, channel=False):
    """Cut link i's QKD link at the simulator (its KMEs answer enc_keys
    503 "QKD link down"; the peer channel stays up, as trustnet's cut):
    the link is down for relaying once its next refill fails (see
    drain_link).  With channel, its peer channel too (the veths down)."""
    x, y = NODES[i], NODES[i + 1]
    if channel:
        sh("ip", "-n", ns(x), "link", "set", f"rl{i}a", "down")
        sh("ip", "-n", ns(y), "link", "set", f"rl{i}b", "down")
    ctl("POST", f"/links/{link_id(i)}/cut")


def restore(i, channel=False):
    x, y = NODES[i], NODES[i + 1]
    if channel:
        sh("ip", "-n", ns(x), "link", "set", f"rl{i}a", "up")
        sh("ip", "-n", ns(y), "link", "set", f"rl{i}b", "up")
        sh("ip", "-n", ns(x), "route", "replace", f"{listen_addr(y)}/32", "via",
           f"10.51.{i}.2")
        sh("ip", "-n", ns(y), "route", "replace", f"{listen_addr(x)}/32", "via",
           f"10.51.{i}.1")
    ctl("POST", f"/links/{link_id(i)}/restore")


def drain_link(x, y, below=LOW):
    """Take pairs of link keys (x's outbound to y, y's inbound from x,
    materials compared) until x's outbound side holds fewer than below:
    what the link's own IPsec would take.  Its master refills at once,
    from the KME: after cut(), that refill fails and the link is down for
    relaying.  Returns the pairs taken."""
    n = pool(x, y)["stats-out"]["level"] - below + 1
    return consume(x, y, y, x, n) if n > 0 else 0


def reconciled(x, name):
    """x's pool name: {direction: (added, taken + expired + flushed + level)}."""
    p = pool(x, name)
    return {d: (p[f"stats-{d}"]["added"],
                sum(p[f"stats-{d}"].get(k, 0) for k in ("taken", "expired", "flushed", "level")))
            for d in ("out", "in")}


def cleanup():
    for p in procs.values():
        if p.poll() is None:
            p.kill()
            p.wait()
    for n in [ns(x) for x in NODES] + [KNS]:
        subprocess.run(["ip", "netns", "del", n], capture_output=True)
    for x in NODES:
        for ln in log_text(x).splitlines()[-12:]:
            print(f"# {x}: {ln}")
