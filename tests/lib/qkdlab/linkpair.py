# SPDX-License-Identifier: GPL-2.0
"""Two routers' qkd-linkd and their KMEs (the simulator), without charon:
the link manager's fixture (tests/vm/test_linkd*.py, bench/linkd_bench.py).

        lk-kme: kme_sim.py (control on 127.0.0.1:9000)
        KME_A 10.9.1.10:8443          KME_B 10.9.2.10:8444
              |  (QKD link KME_A-KME_B, rate unlimited)  |
        10.9.1.1                                   10.9.2.1
    +---------------------+   10.9.0.0/24   +---------------------+
    | lk-a  qkd-linkd     |-----------------| lk-b  qkd-linkd     |
    | SAE_A, pool "link"  | .1   mTLS   .2  | SAE_B, pool "link"  |
    | out: A->B  in: B->A |      :7600      | out: B->A  in: A->B |
    +---------------------+                 +---------------------+

State is module-wide (one pair per process): procs (the daemons), fam (a
pool family per router namespace), materials (every material a test took,
to search the logs for).  cleanup() kills what runs, deletes the
namespaces and prints the end of both daemons' logs.
"""


import json
import os
import subprocess
import tempfile
import time

from qkdlab import REPO
from qkdlab.pools import family, take_pairs
from qkdlab.proc import in_ns, sh, sim_control
from qkdlab.tap import Skip, check, diag, eq

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





def ctl(method, path, body=None):
    """The simulator's control interface, from inside lk-kme."""
    return sim_control(NS["k"], method, path, body)


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


def up():
    """The namespaces, the certificates and the simulator; Skip when
    qkd-linkd is not built."""
    if not os.access(LINKD, os.X_OK):
        raise Skip(f"{LINKD} not built")
    topology()
    certs()
    start_sim()


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
            and met.get('qkd_linkd_kme_up{pool="link",direction="out"}') == 1
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
    mats = take_pairs(fam[x], px["id"], fam[y], py["id"], count, f"between {x} and {y}")
    materials.extend(mats)
    return len(mats)


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
