# SPDX-License-Identifier: GPL-2.0
"""Trusted nodes, each a router namespace running qkd-linkd, joined by QKD
links that the KME simulator serves, without charon: RelayNet, for any
nodes and links.  The relay's VM test (tests/vm/test_relay.py,
Documentation/relay.rst) runs the chain below through this module's
functions; the 18-router ring benchmark (bench/relay_ring_bench.py) makes
a RelayNet of its own.

                              rl-kme: kme_sim.py (control 127.0.0.1:9000)
     K0A :8443   K0B :8444  K1A :8445   K1B :8446  K2A :8447   K2B :8448
        \\  link K0A-K0B  /      \\  link K1A-K1B /     \\  link K2A-K2B /
   +--------+         +--------+          +--------+          +--------+
   | tokyo  |=========| nagoya |==========| osaka  |==========|  kobe  |
   | .1     | 10.51.0 |  .2    | 10.51.1  |  .3    | 10.51.2  |  .4    |
   +--------+         +--------+          +--------+          +--------+
   each router (node j): qkd-linkd listening on 10.50.0.j+1:7600 (its
   loopback), a veth to the KME namespace (10.52.j.1 <-> the KMEs of its
   link ends at 10.52.j.10, port 8443 + 2i for the A end of link i, 8444
   + 2i for the B end), a veth per QKD link i to the neighbour (10.51.i.1
   <-> 10.51.i.2) with host routes to the neighbours' listeners.

Link i joins links[i][0] (its A end, SAE S<i>A) and links[i][1] (B, S<i>B):
a link pool named after the neighbour on each side, relay_node = the
neighbour.  Every node declares the same [topology]; each end-to-end pool
is a [relay NAME] section, NAME the peer's name after e2e_prefix.  State is per RelayNet:
procs, fam (a pool family per router), materials (every material taken,
to search the logs for).
"""

import json
import os
import subprocess
import tempfile
import time

from qkdlab import REPO
from qkdlab.pools import family, take_pairs
from qkdlab.proc import in_ns, sh, sim_control, wait_for
from qkdlab.tap import Skip, check, eq

LINKD = os.environ.get("QKD_LINKD", os.path.join(REPO, "build/userspace/qkd-linkd"))
QKDCTL = os.environ.get("QKDCTL", os.path.join(REPO, "build/userspace/qkdctl"))
SIM = os.path.join(REPO, "tools/kme-sim/kme_sim.py")
MKCERTS = os.path.join(REPO, "tools/kme-sim/mkcerts.sh")


def wait(cond, timeout, what, step=0.5):
    """proc.wait_for, with what third as the relay tests and bench pass it."""
    return wait_for(cond, timeout, step=step, what=what)


class RelayNet:
    """nodes (names), links [(a, b, rate)] (rate as [topology] and the
    simulator take it: "10M", "1M", "500k" or bit/s; "0" at the simulator
    is unlimited), e2e {node: [peers it keeps an end-to-end pool with]}.
    link = {capacity, low_watermark, high_watermark, batch_size} of the
    link pools, e2e_pool the same of the end-to-end pools (batch_size:
    keys per relayed transfer); sim_rate overrides the simulator's link
    rates (0: unlimited) and sim_max the keys a link stores ahead."""

    def __init__(self, nodes, links, e2e, prefix="rl", link=None, e2e_pool=None,
                 sim_rate=None, sim_max=100000, e2e_prefix=""):
        self.e2e_prefix = e2e_prefix
        self.nodes, self.links, self.e2e = list(nodes), list(links), dict(e2e)
        self.prefix, self.kns = prefix, f"{prefix}-kme"
        self.link = link or {"capacity": 512, "low_watermark": 64,
                             "high_watermark": 192, "batch_size": 32}
        self.e2e_pool = e2e_pool or {"capacity": 128, "low_watermark": 16,
                                     "high_watermark": 48, "batch_size": 16}
        self.sim_rate, self.sim_max = sim_rate, sim_max
        self._tmp = None
        self.materials, self.procs, self.fam = [], {}, {}

    # ------------------------------------------------------------ names

    @property
    def tmp(self):
        """The network's files (made on first use, not at import)."""
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix=f"qkd-relay-{self.prefix}.")
        return self._tmp

    @property
    def pki(self):
        return os.path.join(self.tmp, "pki")

    def ns(self, node):
        return f"{self.prefix}-{node}"

    def idx(self, node):
        return self.nodes.index(node)

    def listen_addr(self, node):
        return f"10.50.0.{self.idx(node) + 1}"

    def links_of(self, node):
        """[(link index, neighbour, this end: 'A' or 'B')] of node."""
        return [(i, b if a == node else a, "A" if a == node else "B")
                for i, (a, b, _) in enumerate(self.links) if node in (a, b)]

    def link_index(self, a, b):
        return next(i for i, (x, y, _) in enumerate(self.links) if {x, y} == {a, b})

    @staticmethod
    def link_id(i):
        return f"K{i}A-K{i}B"

    @staticmethod
    def sae(i, end):
        return f"S{i}{end}"

    def kme_addr(self, i, end):
        """Where the KME of link i's end listens: on the address of the
        node at that end, port 8443 + 2i (A) or 8444 + 2i (B)."""
        node = self.links[i][0 if end == "A" else 1]
        return f"10.52.{self.idx(node)}.10", 8443 + 2 * i + (end == "B")

    def e2e_peers(self, x):
        return list(self.e2e.get(x, []))

    def e2e_name(self, peer):
        """The name of the end-to-end pool with peer: e2e_prefix + peer (a
        prefix where a neighbour's link pool has the peer's name)."""
        return self.e2e_prefix + peer

    def e2e_peer(self, x):
        """The one node x keeps an end-to-end pool with, or None (relays)."""
        p = self.e2e_peers(x)
        return p[0] if p else None

    def ctl(self, method, path, body=None):
        """The simulator's control interface, from inside the KME namespace."""
        return sim_control(self.kns, method, path, body)

    # ------------------------------------------------------------ set-up

    def topology(self):
        for n in [self.ns(x) for x in self.nodes] + [self.kns]:
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
            sh("ip", "netns", "add", n)
            sh("ip", "-n", n, "link", "set", "lo", "up")
        for j, x in enumerate(self.nodes):
            sh("ip", "-n", self.ns(x), "addr", "add", f"{self.listen_addr(x)}/32", "dev", "lo")
            a, b = f"rk{j}", f"kr{j}"
            sh("ip", "link", "add", a, "netns", self.ns(x), "type", "veth", "peer",
               "name", b, "netns", self.kns)
            sh("ip", "-n", self.ns(x), "addr", "add", f"10.52.{j}.1/24", "dev", a)
            sh("ip", "-n", self.kns, "addr", "add", f"10.52.{j}.10/24", "dev", b)
            sh("ip", "-n", self.ns(x), "link", "set", a, "up")
            sh("ip", "-n", self.kns, "link", "set", b, "up")
        for i, (x, y, _) in enumerate(self.links):
            sh("ip", "link", "add", f"rl{i}a", "netns", self.ns(x), "type", "veth",
               "peer", "name", f"rl{i}b", "netns", self.ns(y))
            sh("ip", "-n", self.ns(x), "addr", "add", f"10.51.{i}.1/24", "dev", f"rl{i}a")
            sh("ip", "-n", self.ns(y), "addr", "add", f"10.51.{i}.2/24", "dev", f"rl{i}b")
            sh("ip", "-n", self.ns(x), "link", "set", f"rl{i}a", "up")
            sh("ip", "-n", self.ns(y), "link", "set", f"rl{i}b", "up")
            self.routes(i, "add")

    def routes(self, i, how):
        x, y, _ = self.links[i]
        sh("ip", "-n", self.ns(x), "route", how, f"{self.listen_addr(y)}/32", "via",
           f"10.51.{i}.2")
        sh("ip", "-n", self.ns(y), "route", how, f"{self.listen_addr(x)}/32", "via",
           f"10.51.{i}.1")

    def certs(self):
        args = []
        for i in range(len(self.links)):
            for end in "AB":
                args += [f"kme:K{i}{end},IP:{self.kme_addr(i, end)[0]}",
                         f"sae:{self.sae(i, end)}"]
        for x in self.nodes:
            dns = ",".join(f"DNS:{self.sae(i, end)}" for i, _, end in self.links_of(x))
            args.append(f"kme:linkd-{x},{dns},IP:{self.listen_addr(x)}")
        sh("bash", MKCERTS, self.pki, *args, timeout=600)

    def start_sim(self):
        ready = os.path.join(self.tmp, "sim.ready")
        log = open(os.path.join(self.tmp, "sim.log"), "w")
        argv = ["ip", "netns", "exec", self.kns, "python3", SIM, "--tls-dir", self.pki,
                "--control", "127.0.0.1:9000", "--ready-file", ready,
                "--lifetime", "3000"]
        for i, (_, _, rate) in enumerate(self.links):
            for end in "AB":
                addr, port = self.kme_addr(i, end)
                argv += ["--kme", f"K{i}{end}@{addr}:{port}={self.sae(i, end)}"]
            r = rate_bps(rate) if self.sim_rate is None else self.sim_rate
            argv += ["--link", f"K{i}A,K{i}B,rate={r},max_key_count={self.sim_max}"]
        self.procs["sim"] = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 120
        while not os.path.exists(ready):
            check(self.procs["sim"].poll() is None, "the simulator exited")
            check(time.monotonic() < deadline, "the simulator did not start")
            time.sleep(0.2)

    def up(self):
        """The namespaces, the certificates and the simulator; Skip when
        qkd-linkd is not built."""
        if not os.access(LINKD, os.X_OK):
            raise Skip(f"{LINKD} not built")
        self.topology()
        self.certs()
        self.start_sim()

    # ----------------------------------------------------- configuration

    def conf(self, x, share=50, relay=True, e2e=True, **over):
        """Write x's configuration: its link pools (**over overrides their
        settings), with relay=True their relay settings and the
        [topology], with e2e=True also x's end-to-end pools."""
        d = os.path.join(self.tmp, x)
        os.makedirs(d, exist_ok=True)
        text = "# qkd-linkd relay test configuration\n[linkd]\n"
        for k, v in {"listen": f"{self.listen_addr(x)}:7600",
                     "server_cert": f"{self.pki}/linkd-{x}.crt",
                     "server_key": f"{self.pki}/linkd-{x}.key",
                     "peer_ca": f"{self.pki}/ca.crt",
                     "state_dir": f"{d}/state",
                     "status_file": f"{d}/status.json"}.items():
            text += f"{k} = {v}\n"
        for i, y, end in self.links_of(x):
            other = "B" if end == "A" else "A"
            addr, port = self.kme_addr(i, end)
            p = {"kme_url": f"https://{addr}:{port}", "sae_id": self.sae(i, end),
                 "peer_sae_id": self.sae(i, other),
                 "cert": f"{self.pki}/{self.sae(i, end)}.crt",
                 "key": f"{self.pki}/{self.sae(i, end)}.key",
                 "ca": f"{self.pki}/ca.crt", "peer": f"{self.listen_addr(y)}:7600",
                 **self.link, "kme_timeout": 5}
            if relay:
                p.update({"relay_node": y, "relay_share": share,
                          "relay_reserve": self.link["low_watermark"] // 2})
            p.update(over)
            text += f"\n[pool {y}]\n" + "".join(f"{k} = {v}\n" for k, v in p.items())
        if relay:
            text += f"\n[topology]\nself = {x}\nnode = {' '.join(self.nodes)}\n"
            text += "".join(f"link = {a} {b} {r}\n" for a, b, r in self.links)
            for y in self.e2e_peers(x) if e2e else []:
                text += f"\n[relay {self.e2e_name(y)}]\npeer = {y}\n" + \
                    "".join(f"{k} = {v}\n" for k, v in self.e2e_pool.items())
        path = os.path.join(d, "linkd.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def log_path(self, x):
        return os.path.join(self.tmp, x, "linkd.log")

    def start(self, x, **kw):
        path = self.conf(x, **kw)
        log = open(self.log_path(x), "a")
        self.procs[x] = subprocess.Popen(["ip", "netns", "exec", self.ns(x), LINKD, "-v",
                                          "-c", path], stdout=log, stderr=log)

    def kill9(self, x):
        p = self.procs.get(x)
        if p and p.poll() is None:
            p.kill()
            p.wait()

    def log_text(self, x):
        try:
            with open(self.log_path(x), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def status(self, x):
        try:
            with open(os.path.join(self.tmp, x, "status.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def qkdctl(self, x, *args):
        env = dict(os.environ, QKD_LINKD_STATUS=os.path.join(self.tmp, x, "status.json"))
        p = subprocess.run(["ip", "netns", "exec", self.ns(x), QKDCTL, *args], env=env,
                           capture_output=True, text=True, timeout=30)
        eq(p.returncode, 0, f"qkdctl {' '.join(args)} in {x}: {p.stderr}")
        return p.stdout

    # ------------------------------------------------------------ pools

    def pool(self, x, name):
        if x not in self.fam:
            self.fam[x] = in_ns(self.ns(x), family)
        return self.fam[x].do("pool-get", {"name": name})

    def stats(self, x, name):
        """{(direction, counter): value} of x's pool name."""
        p = self.pool(x, name)
        return {(d, k): v for d in ("out", "in") for k, v in p[f"stats-{d}"].items()
                if isinstance(v, int)}

    def pools(self, x):
        """{pool name: {(direction, counter): value}} of every pool of x (one dump)."""
        if x not in self.fam:
            self.fam[x] = in_ns(self.ns(x), family)
        return {p["name"]: {(d, k): v for d in ("out", "in")
                            for k, v in p[f"stats-{d}"].items() if isinstance(v, int)}
                for p in self.fam[x].dump("pool-get", {})}

    def link_levels(self):
        """[(x's out, y's in, y's out, x's in)] per link (x, y)."""
        out = []
        for x, y, _ in self.links:
            px, py = self.pool(x, y), self.pool(y, x)
            out.append((px["stats-out"]["level"], py["stats-in"]["level"],
                        py["stats-out"]["level"], px["stats-in"]["level"]))
        return out

    def links_full(self):
        try:
            return all(min(v) >= self.link["high_watermark"] for v in self.link_levels())
        except Exception:       # noqa: BLE001  (pools not created yet)
            return False

    def consume(self, x, y, name_x, name_y, n=None):
        """Take every key (or n) of x's outbound ring of pool name_x and the
        same IDs from y's inbound side of pool name_y; compare materials.
        Returns the materials."""
        px, py = self.pool(x, name_x), self.pool(y, name_y)
        count = px["stats-out"]["level"] if n is None else n
        mats = take_pairs(self.fam[x], px["id"], self.fam[y], py["id"], count,
                          f"between {x} and {y}")
        self.materials.extend(mats)
        return mats

    def cut(self, i, channel=False):
        """Cut link i's QKD link at the simulator (its KMEs answer enc_keys
        503 "QKD link down"; the peer channel stays up, as trustnet's cut):
        the link is down for relaying once its next refill fails (see
        drain_link).  With channel, its peer channel too (the veths down)."""
        x, y, _ = self.links[i]
        if channel:
            sh("ip", "-n", self.ns(x), "link", "set", f"rl{i}a", "down")
            sh("ip", "-n", self.ns(y), "link", "set", f"rl{i}b", "down")
        self.ctl("POST", f"/links/{self.link_id(i)}/cut")

    def restore(self, i, channel=False):
        x, y, _ = self.links[i]
        if channel:
            sh("ip", "-n", self.ns(x), "link", "set", f"rl{i}a", "up")
            sh("ip", "-n", self.ns(y), "link", "set", f"rl{i}b", "up")
            self.routes(i, "replace")
        self.ctl("POST", f"/links/{self.link_id(i)}/restore")

    def cleanup(self, tail=12):
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        for n in [self.ns(x) for x in self.nodes] + [self.kns]:
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
        for x in self.nodes:
            for ln in self.log_text(x).splitlines()[-tail:] if tail else []:
                print(f"# {x}: {ln}")


def rate_bps(s):
    """"10M", "500k", "1.5M" or bit/s as an integer."""
    return int(float(s[:-1]) * {"k": 1e3, "M": 1e6}[s[-1]]) if s[-1] in "kM" else int(s)


# ------------------------------------------------- the relay test's chain

NODES = ["tokyo", "nagoya", "osaka", "kobe"]
RATES = ["10M", "1M", "2M"]     # declared rates of links 0..2 (bit/s)
LOW, HIGH, CAP = 64, 192, 512   # link pools
E2E_LOW, E2E_HIGH, E2E_CAP = 16, 48, 128
BATCH = 16                      # keys per relayed transfer

CHAIN = RelayNet(NODES, [(NODES[i], NODES[i + 1], RATES[i]) for i in range(3)],
                 {NODES[0]: [NODES[-1]], NODES[-1]: [NODES[0]]}, prefix="rl",
                 link={"capacity": CAP, "low_watermark": LOW, "high_watermark": HIGH,
                       "batch_size": 32},
                 e2e_pool={"capacity": E2E_CAP, "low_watermark": E2E_LOW,
                           "high_watermark": E2E_HIGH, "batch_size": BATCH},
                 sim_rate=0)
materials, procs, fam = CHAIN.materials, CHAIN.procs, CHAIN.fam
(up, conf, start, kill9, log_text, status, qkdctl, pool, stats, link_levels,
 links_full, cut, restore, cleanup, e2e_peer) = (
    CHAIN.up, CHAIN.conf, CHAIN.start, CHAIN.kill9, CHAIN.log_text, CHAIN.status,
    CHAIN.qkdctl, CHAIN.pool, CHAIN.stats, CHAIN.link_levels, CHAIN.links_full,
    CHAIN.cut, CHAIN.restore, CHAIN.cleanup, CHAIN.e2e_peer)


def consume(x, y, name_x, name_y, n=None):
    """CHAIN.consume, as a count of pairs."""
    return len(CHAIN.consume(x, y, name_x, name_y, n))


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
