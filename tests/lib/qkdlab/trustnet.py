# SPDX-License-Identifier: GPL-2.0
"""The trusted-node network with IPsec (`make demo-network`,
Documentation/relay.rst): routers in a chain (or a ring), each a
namespace running qkd-linkd (link pools to its QKD neighbours, relaying)
and charon with the qkd plugin, the KME simulator serving every QKD link.

                         tn-kme: kme_sim.py (control 127.0.0.1:9000)
   link 0 (10 kbit/s)    link 1 (10 Mbit/s)    link 2 (1 Mbit/s)
  tokyo ============ nagoya ============ osaka ============ kobe
  .1                  .2  \\                 .3                .4
                           \\==== link 3 (500 kbit/s, ring) ====//

Each router: IKE, ESP and the peer channel on its loopback address
10.50.0.N; a LAN address 10.60.N-1.1/24 on a dummy interface (the
traffic selectors; ping runs between LAN addresses); a veth per link to
the neighbour (10.51.i.1 <-> 10.51.i.2) with static routes to every
other router along the fewest links; a veth to tn-kme, where the KMEs
of its link ends listen on 10.52.N-1.10, port 8443 + 2i (A end of link
i) or 8444 + 2i (B end).  A link's pool is named after the neighbour on
each side; tokyo's end-to-end pool is "kobe", kobe's "tokyo".  IPsec:
one connection per pair (every pair of neighbours, and tokyo-kobe),
named after the peer, its plugin pool the pool of that name: a link pool
for neighbours, the end-to-end pool for tokyo-kobe.  The first router of
a pair initiates and re-keys; tokyo-kobe has a second CHILD_SA ("back",
UDP port 9) that kobe re-keys, so that both ends take from their
end-to-end pool, both relay, and both see a cut.  The network's
IP routes never change: a cut is a QKD link's, at the simulator.
"""

import collections
import json
import os
import re
import shutil
import subprocess
import threading

from qkdlab import REPO
from qkdlab.proc import sh, sim_control, stop_process, wait_for
from qkdlab.relaynet import rate_bps
from qkdlab.routers import FAILURE_RE, SWAN_PLUGINS, Router, strongswan_conf

LINKD = os.environ.get("QKD_LINKD", os.path.join(REPO, "build/userspace/qkd-linkd"))
SIM = os.path.join(REPO, "tools/kme-sim/kme_sim.py")
MKCERTS = os.path.join(REPO, "tools/kme-sim/mkcerts.sh")
WORK = "/tmp/qkd-trustnet"
PKI = os.path.join(WORK, "pki")
KNS = "tn-kme"
NODES = ["tokyo", "nagoya", "osaka", "kobe"]
# (a, b, rate as the simulator and [topology] take it): a CV-QKD link of
# 10 kbit/s at Tokyo's end (about 50 km), fast DV links further on; the
# ring's second route from nagoya to kobe is slower than the way through
# osaka, so that routing prefers osaka until nagoya-osaka is cut.
CHAIN = [("tokyo", "nagoya", "10k"), ("nagoya", "osaka", "10M"), ("osaka", "kobe", "1M")]
RING = CHAIN + [("nagoya", "kobe", "500k")]
E2E = ("tokyo", "kobe")
# Link pools: the neighbours' IPsec takes about a key every CHILD re-key,
# the relay 10 link keys per hop per transfer of 8; relaying may take the
# whole share down to half the low watermark.
# A cut shows at the link's next refill (below low_watermark): high is
# kept close to low so that it comes within a transfer or two.
LINK_POOL = {"capacity": 64, "low_watermark": 24, "high_watermark": 32, "batch_size": 12}
RELAY_SHARE, RELAY_RESERVE = 100, 12
# End-to-end pools: small, so that a cut shows within a short run; a
# transfer's keys arrive together and would expire together: max_age well
# above the run, so that no refill races an expiry.
E2E_POOL = {"capacity": 16, "low_watermark": 4, "high_watermark": 10, "batch_size": 8,
            "max_age": 600}
PROPOSAL = "aes256gcm16-prfsha384-x25519-ke1_mlkem768qkd"
ESP_PROPOSAL = "aes256gcm16-x25519-ke1_mlkem768qkd"


class Node(Router):
    """charon of one router of the network: one connection per peer, named
    after it, keyed from the pool of that name."""

    def __init__(self, net, name):
        # Router's attributes, for a router of this network (no PEER entry)
        self.lab, self.name, self.swan = net, name, "trixie"
        self.idx = NODES.index(name)
        self.ns = f"tn-{name}"
        self.dir = os.path.join(WORK, name)
        self.log = os.path.join(self.dir, "charon.log")
        self.vici = os.path.join(self.dir, "charon.vici")
        self.conf = os.path.join(self.dir, "strongswan.conf")
        self.swanctl_conf = os.path.join(self.dir, "swanctl.conf")
        self.proc = None
        self.proposals, self.esp_proposals = PROPOSAL, ESP_PROPOSAL
        self.policy = "prefer"
        self.log_pos = 0
        self.wan = addr(name)
        self.peers = []             # [(peer, initiator?)]
        self.peer = None
        self.rekey = {"ike": 0, "child": 0}

    def write_conf(self):
        with open(self.conf, "w") as f:
            f.write(strongswan_conf(SWAN_PLUGINS[self.swan], self.log, self.vici,
                                    {p: {"pool": p, "id": p, "addrs": addr(p),
                                         "policy": self.policy} for p, _ in self.peers}))
        conns = ""
        for p, init in self.peers:
            ike, child = (self.rekey["ike"], self.rekey["child"]) if init else (0, 0)
            e2e = (self.name, p) in (E2E, E2E[::-1])
            back = ""
            if e2e:
                # both ends re-key a CHILD_SA of their own ("net" from
                # tokyo, "back" from kobe, on UDP port 9 only) and nobody
                # the IKE_SA: an IKE_SA re-key would collide with the
                # peer's CHILD_SA re-key
                ike = 0
                bchild = 0 if init else self.rekey["child"]
                back = f"""			back {{
				local_ts = {lan(self.name)}.0/24[udp/9]
				remote_ts = {lan(p)}.0/24[udp/9]
				esp_proposals = {self.esp_proposals}
				rekey_time = {bchild}s
				life_time = {3 * bchild if bchild else 900}s
				rand_time = {1 if bchild else 0}s
				start_action = none
			}}
"""
            conns += f"""	{p} {{
		local_addrs = {self.wan}
		remote_addrs = {addr(p)}
		proposals = {self.proposals}
		rekey_time = {ike}s
		rand_time = {1 if ike else 0}s
		over_time = {max(10, ike)}s
		dpd_delay = 0
		local {{
			auth = psk
			id = {self.name}
		}}
		remote {{
			auth = psk
			id = {p}
		}}
		children {{
			net {{
				local_ts = {lan(self.name)}.0/24
				remote_ts = {lan(p)}.0/24
				esp_proposals = {self.esp_proposals}
				rekey_time = {child}s
				life_time = {3 * child if child else 900}s
				rand_time = {1 if child else 0}s
				start_action = none
			}}
{back}		}}
	}}
"""
        ids = "".join(f"\t\tid-{i} = {n}\n" for i, n in enumerate(NODES, 1))
        with open(self.swanctl_conf, "w") as f:
            f.write(f"connections {{\n{conns}}}\nsecrets {{\n\tike-net {{\n{ids}"
                    "\t\tsecret = \"qkd-trusted-node-demo-psk\"\n\t}\n}\n")

    def initiate(self, peer, child="net", timeout=90):
        p = subprocess.run(["swanctl", "--initiate", "--ike", peer, "--child", child,
                            "--timeout", str(timeout), "--uri", f"unix://{self.vici}"],
                           capture_output=True, text=True, timeout=timeout + 30)
        return p.returncode, p.stdout + p.stderr

    def failures_of(self, text, conn):
        """charon's failure lines of the connection conn ("<conn|N> ...")."""
        return [ln for ln in text.splitlines()
                if FAILURE_RE.search(ln) and f"<{conn}|" in ln]


def addr(node):
    return f"10.50.0.{NODES.index(node) + 1}"


def lan(node):
    return f"10.60.{NODES.index(node)}"


class TrustNet:
    """The network: links (CHAIN or RING), the nodes' linkd and charon."""

    def __init__(self, links=CHAIN, child_rekey=4, ike_rekey=40):
        self.links = list(links)
        self.nodes = {n: Node(self, n) for n in NODES}
        self.sim = None
        self.linkd = {}
        self.pairs = [(a, b) for a, b, _ in self.links] + [E2E]
        for a, b in self.pairs:     # a initiates
            self.nodes[a].peers.append((b, True))
            self.nodes[b].peers.append((a, False))
        for n in self.nodes.values():
            n.rekey = {"ike": ike_rekey, "child": child_rekey}

    # ------------------------------------------------------------ set-up

    def neighbours(self, x):
        """[(link index, neighbour, this end 'A' or 'B')] of node x."""
        return [(i, b if a == x else a, "A" if a == x else "B")
                for i, (a, b, _) in enumerate(self.links) if x in (a, b)]

    def kme(self, i, end):
        """(address, port) of the KME of link i's end ('A': links[i][0])."""
        node = self.links[i][0 if end == "A" else 1]
        return f"10.52.{NODES.index(node)}.10", 8443 + 2 * i + (end == "B")

    def hops(self, src):
        """{node: next hop} from src along the fewest links (BFS)."""
        nxt, todo = {src: None}, collections.deque([src])
        while todo:
            x = todo.popleft()
            for _, y, _ in self.neighbours(x):
                if y not in nxt:
                    nxt[y] = y if x == src else nxt[x]
                    todo.append(y)
        return nxt

    def setup(self, plugin=True):
        """The namespaces, links, routes and certificates; with plugin,
        the strongSwan plugins installed for charon (the relay's VM test
        runs qkd-linkd alone: plugin=False)."""
        for mod in ("esp4", "xfrm_user", "veth", "dummy"):
            sh("modprobe", mod, check=False)
        self.teardown_net()
        shutil.rmtree(WORK, ignore_errors=True)
        for n in self.nodes.values():
            os.makedirs(n.dir)
        for ns in [n.ns for n in self.nodes.values()] + [KNS]:
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        for x, n in self.nodes.items():
            j = n.idx
            sh("ip", "addr", "add", f"{addr(x)}/32", "dev", "lo", ns=n.ns)
            sh("ip", "link", "add", "lan0", "type", "dummy", ns=n.ns)
            sh("ip", "addr", "add", f"{lan(x)}.1/24", "dev", "lan0", ns=n.ns)
            sh("ip", "link", "set", "lan0", "up", ns=n.ns)
            sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=n.ns)
            sh("ip", "link", "add", f"tk{j}", "netns", n.ns, "type", "veth", "peer",
               "name", f"kt{j}", "netns", KNS)
            sh("ip", "addr", "add", f"10.52.{j}.1/24", "dev", f"tk{j}", ns=n.ns)
            sh("ip", "addr", "add", f"10.52.{j}.10/24", "dev", f"kt{j}", ns=KNS)
            sh("ip", "link", "set", f"tk{j}", "up", ns=n.ns)
            sh("ip", "link", "set", f"kt{j}", "up", ns=KNS)
        for i, (a, b, _) in enumerate(self.links):
            na, nb = self.nodes[a].ns, self.nodes[b].ns
            sh("ip", "link", "add", f"tn{i}a", "netns", na, "type", "veth", "peer",
               "name", f"tn{i}b", "netns", nb)
            sh("ip", "addr", "add", f"10.51.{i}.1/24", "dev", f"tn{i}a", ns=na)
            sh("ip", "addr", "add", f"10.51.{i}.2/24", "dev", f"tn{i}b", ns=nb)
            sh("ip", "link", "set", f"tn{i}a", "up", ns=na)
            sh("ip", "link", "set", f"tn{i}b", "up", ns=nb)
        for x, n in self.nodes.items():
            for y, via in self.hops(x).items():
                if via is None:
                    continue
                i, _, end = next(t for t in self.neighbours(x) if t[1] == via)
                gw = f"10.51.{i}.{2 if end == 'A' else 1}"
                for dst in (f"{addr(y)}/32", f"{lan(y)}.0/24"):
                    sh("ip", "route", "add", dst, "via", gw, ns=n.ns)
        args = []
        for i in range(len(self.links)):
            for end in "AB":
                args += [f"kme:K{i}{end},IP:{self.kme(i, end)[0]}", f"sae:S{i}{end}"]
        for x in NODES:
            dns = ",".join(f"DNS:S{i}{end}" for i, _, end in self.neighbours(x))
            args.append(f"kme:linkd-{x},{dns},IP:{addr(x)}")
        sh("bash", MKCERTS, PKI, *args, timeout=300)
        for name in ("qkd", "qkd-mlkem") if plugin else ():
            shutil.copy(os.path.join(REPO, f"build/strongswan-plugin/trixie/libstrongswan-{name}.so"),
                        f"/usr/lib/ipsec/plugins/libstrongswan-{name}.so")

    def start_sim(self):
        ready = os.path.join(WORK, "sim.ready")
        argv = ["ip", "netns", "exec", KNS, "python3", SIM, "--tls-dir", PKI,
                "--control", "127.0.0.1:9000", "--ready-file", ready, "--lifetime", "3000"]
        for i, (_, _, rate) in enumerate(self.links):
            for end in "AB":
                a, port = self.kme(i, end)
                argv += ["--kme", f"K{i}{end}@{a}:{port}=S{i}{end}"]
            argv += ["--link", f"K{i}A,K{i}B,rate={rate_bps(rate)},max_key_count=100000"]
        self.sim = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(WORK, "sim.log"), "w"))
        wait_for(lambda: self.sim.poll() is not None or os.path.exists(ready), 120,
                 what="the KME simulator to listen")
        if self.sim.poll() is not None:
            raise RuntimeError("the KME simulator exited; see " + os.path.join(WORK, "sim.log"))

    def linkd_conf(self, x):
        d = os.path.join(WORK, x, "linkd")
        os.makedirs(d, exist_ok=True)
        g = {"listen": f"{addr(x)}:7600", "server_cert": f"{PKI}/linkd-{x}.crt",
             "server_key": f"{PKI}/linkd-{x}.key", "peer_ca": f"{PKI}/ca.crt",
             "state_dir": f"{d}/state", "status_file": f"{d}/status.json"}
        text = f"# qkd-linkd of {x} (make demo-network)\n[linkd]\n" + \
            "".join(f"{k} = {v}\n" for k, v in g.items())
        for i, y, end in self.neighbours(x):
            other = "B" if end == "A" else "A"
            a, port = self.kme(i, end)
            p = {"kme_url": f"https://{a}:{port}", "sae_id": f"S{i}{end}",
                 "peer_sae_id": f"S{i}{other}", "cert": f"{PKI}/S{i}{end}.crt",
                 "key": f"{PKI}/S{i}{end}.key", "ca": f"{PKI}/ca.crt",
                 "peer": f"{addr(y)}:7600", "kme_timeout": 5, **LINK_POOL,
                 "relay_node": y, "relay_share": RELAY_SHARE, "relay_reserve": RELAY_RESERVE}
            text += f"\n[pool {y}]\n" + "".join(f"{k} = {v}\n" for k, v in p.items())
        text += f"\n[topology]\nself = {x}\nnode = {' '.join(NODES)}\n"
        text += "".join(f"link = {a} {b} {r}\n" for a, b, r in self.links)
        if x in E2E:
            y = E2E[1] if x == E2E[0] else E2E[0]
            text += f"\n[relay {y}]\npeer = {y}\n" + \
                "".join(f"{k} = {v}\n" for k, v in E2E_POOL.items())
        path = os.path.join(d, "linkd.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def start_linkd(self):
        for x, n in self.nodes.items():
            path = self.linkd_conf(x)
            log = open(self.linkd_log(x), "a")
            self.linkd[x] = subprocess.Popen(["ip", "netns", "exec", n.ns, LINKD, "-v", "-c", path],
                                             stdout=log, stderr=log, stdin=subprocess.DEVNULL)

    def start_charon(self):
        for n in self.nodes.values():
            n.start()
            n.swanctl("--load-all", "--noprompt", "--file", n.swanctl_conf)

    # ------------------------------------------------------------ looking

    def linkd_log(self, x):
        return os.path.join(WORK, x, "linkd", "linkd.log")

    def linkd_text(self, x):
        try:
            with open(self.linkd_log(x), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def linkd_status(self, x):
        """{pool name: its entry} of x's linkd status file."""
        try:
            with open(os.path.join(WORK, x, "linkd", "status.json")) as f:
                return {p["name"]: p for p in json.load(f).get("pools", [])}
        except (OSError, ValueError, KeyError):
            return {}

    def pools(self):
        """{(node, pool): {direction: qkdctl dump row}} of every pool."""
        return {(x, p): n.pool(p) for x, n in self.nodes.items() for p, _ in n.peers}

    def ready(self):
        """Every pool of every node filled to its high watermark once and
        above its low one now, both ways (relaying takes from the link
        pools as soon as they fill: they rest between the watermarks)."""
        try:
            pools = self.pools()
        except RuntimeError:
            return False
        for (x, p), dirs in pools.items():
            cfg = E2E_POOL if (x, p) in (E2E, E2E[::-1]) else LINK_POOL
            if len(dirs) < 2 or any(d["added"] < cfg["high_watermark"] or
                                    d["level"] <= cfg["low_watermark"]
                                    for d in dirs.values()):
                return False
        return True

    # ------------------------------------------------------------ acting

    def control(self, method, path):
        return sim_control(KNS, method, path)

    def link_index(self, a, b):
        return next(i for i, (x, y, _) in enumerate(self.links) if {x, y} == {a, b})

    def cut(self, a, b):
        """The QKD link a-b stops (its KMEs answer enc_keys 503 "QKD link
        down"); the network and the peer channel stay up."""
        return self.control("POST", f"/links/K{self.link_index(a, b)}A-K{self.link_index(a, b)}B/cut")

    def restore(self, a, b):
        i = self.link_index(a, b)
        return self.control("POST", f"/links/K{i}A-K{i}B/restore")

    def ping(self, interval=0.2):
        return Pinger(self.nodes[E2E[0]], self.nodes[E2E[1]], interval)

    def teardown_net(self):
        for ns in [n.ns for n in self.nodes.values()] + [KNS]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def teardown(self):
        for n in self.nodes.values():
            n.stop()
        for p in self.linkd.values():
            stop_process(p)
        stop_process(self.sim)
        self.teardown_net()


class Pinger:
    """busybox ping from one router's LAN address to another's, through
    their SA, counted live from the reply lines, exactly from its summary."""

    def __init__(self, src, dst, interval):
        self.replies, self.max_seq, self.lines = 0, -1, []
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", src.ns, "busybox", "ping", "-i", str(interval), "-W", "1",
             "-I", f"{lan(src.name)}.1", f"{lan(dst.name)}.1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
        sent = self.max_seq + 1
        return sent, sent - self.replies

    def stop(self):
        self.proc.send_signal(2)
        self.proc.wait(10)
        self.thread.join(10)
        m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received",
                      "".join(self.lines))
        return (int(m.group(1)), int(m.group(2))) if m else (self.live()[0], self.replies)
