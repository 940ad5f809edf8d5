# SPDX-License-Identifier: GPL-2.0
"""The two-router lab of the qkd strongSwan plugin, for tests/vm/test_plugin.py.

    host-tokyo ---- router-tokyo ====== backhaul ====== router-osaka ---- host-osaka
    10.10.1.2     10.10.1.1  192.0.2.1             192.0.2.2  10.20.1.1     10.20.1.2

Each router namespace runs its own charon in a mount namespace of its own
(a private /run: charon's pid file is a fixed path there) with its own
strongswan.conf (the qkd plugin loaded, send_vendor_id = yes) and its own
vici socket in the lab's directory, reached with swanctl --uri.  Each
router holds a qkdpool pool named for its peer.

Nothing here prints key material: keys are made with os.urandom, written
to 0600 files that qkdctl reads and that are removed at once, and kept in
memory only to check that no log holds them.

Field options (tests/vm/test_field.py), all off by default:

- Router.remote_id, Router.qkd_peers: the swanctl remote identity (e.g.
  "%any") and the plugin's peers.<peer> sections (pool, id, addrs, policy;
  a key set to None is left out, so that only the identity picks a pool);
- Lab(extra=("nagoya",)): a third router with its own LAN and host, a peer
  of osaka only (osaka then has one pool per peer);
- Lab(nat=("tokyo", "nagoya")): those routers sit behind a NAT namespace
  that masquerades them behind one address (nft); osaka sees them there;
- Lab.reload_module(): rmmod and insmod the qkdpool module under the
  running charons, then re-create the pools (Router.add_pools).
"""

import os
import re
import shutil
import subprocess
import time

from qkdlab import REPO
from qkdlab.proc import sh, wait_for, stop_process
from qkdlab.tap import Fail, diag

QKDCTL = os.environ.get("QKDCTL", os.path.join(REPO, "build/userspace/qkdctl"))
PLUGIN = os.environ.get("QKD_PLUGIN",
                        os.path.join(REPO, "build/strongswan-plugin/trixie/libstrongswan-qkd.so"))
PLUGIN_DIR = "/usr/lib/ipsec/plugins"
CHARON = "/usr/lib/ipsec/charon"
# Which strongSwan a router runs (Router.swan): trixie's charon 6.0.1 from
# the VM's root, or forky's 6.1.0 chrooted into the forky root that
# tools/vm-run.sh mounts at /forky.  6.0.1 has no ML-KEM of its own and
# loads qkd-mlkem; 6.1.0's openssl plugin provides ML-KEM.
SWAN_ROOT = {"trixie": "/", "forky": "/forky"}
SWAN_PLUGINS = {"trixie": "qkd qkd-mlkem", "forky": "qkd"}


def strongswan_conf(plugins, log, vici, peers):
    """A lab router's strongswan.conf: charon with the plugins named (the
    qkd ones, SWAN_PLUGINS), its log at log, vici at vici, and the qkd
    plugin's peers sections from peers {peer: {key: value}}."""
    sections = "".join(
        f"\t\t\t\t{p} {{\n" +
        "".join(f"\t\t\t\t\t{k} = {v}\n" for k, v in keys.items()) +
        "\t\t\t\t}\n" for p, keys in peers.items())
    return f"""charon {{
	load = random nonce openssl pem pkcs1 pubkey x509 kernel-netlink socket-default vici counters {plugins}
	send_vendor_id = yes
	install_routes = no
	retransmit_tries = 3
	filelog {{
		lab {{
			path = {log}
			flush_line = yes
			ike_name = yes
			default = 1
		}}
	}}
	plugins {{
		vici {{
			socket = unix://{vici}
		}}
		qkd {{
			policy = prefer
			pool_by_identity = no
			peers {{
{sections}			}}
		}}
	}}
}}
"""


def plugin_path(swan, name="qkd"):
    """The plugin NAME (qkd, qkd-mlkem) built in the root of strongSwan swan."""
    if swan == "trixie" and name == "qkd":
        return PLUGIN
    return os.path.join(REPO, f"build/strongswan-plugin/{swan}/libstrongswan-{name}.so")
WORK = "/tmp/qkd-plugin-lab"

LANS = {"tokyo": "10.10.1", "osaka": "10.20.1", "nagoya": "10.30.1"}
WAN = {"tokyo": "192.0.2.1", "osaka": "192.0.2.2", "nagoya": "192.0.2.3"}
PEER = {"tokyo": "osaka", "osaka": "tokyo", "nagoya": "osaka"}
HUB = "osaka"           # the router every other one peers with
# behind the NAT (Lab(nat=...)): each router on a private link of its own
# to the NAT namespace (router .1, NAT .254); the NAT's outside address is
# on the backhaul
NAT_NS = "nat"
NAT_ADDR = "192.0.2.100"
NAT_INSIDE = {"tokyo": "172.16.1", "nagoya": "172.16.2"}
QKD_KO = os.environ.get("QKD_KO", os.path.join(REPO, "kmod/qkdpool.ko"))
NFT = "nft"

PROPOSAL = "aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke2_qkd"
ESP_PROPOSAL = "aes256gcm16-x25519-ke1_mlkem768-ke2_qkd"

# "qkd: initiator: key 0a:1b:...:ff of pool 'osaka' keys lab[3]"
KEY_RE = re.compile(r"qkd: (initiator|responder): key ((?:[0-9a-f]{2}:){15}[0-9a-f]{2}) "
                    r"of pool '([^']*)' keys (\S+)\[(\d+)\]")
# "qkd: responder: falling back without a QKD key (tag mismatch), pool 'tokyo', lab[2]"
FALLBACK_RE = re.compile(r"qkd: (initiator|responder): (falling back|failing) without a "
                         r"QKD key \(([^)]*)\), pool '([^']*)'")
REFUSE_RE = re.compile(r"qkd: initiator: no QKD key \(([^)]*)\) in pool '([^']*)' "
                       r"and the policy is 'require': refusing the key exchange")
# what charon logs when an exchange or a re-key fails
FAILURE_RE = re.compile(
    r"rekeying failed|creating CHILD_SA failed|failed to establish CHILD_SA|"
    r"establishing CHILD_SA .* failed|NO_PROPOSAL_CHOSEN|"
    r"applying key exchange public key failed|creating KE payload failed|"
    r"key exchange .* failed|unable to install|closing and recreating CHILD_SA|"
    r"no acceptable proposal|INVALID_KE_PAYLOAD|AUTHENTICATION_FAILED|"
    r"INVALID_SYNTAX|giving up after")
# the plugin's accounting lines (strongswan-plugin/qkd_account.c) and
# charon's own line for a CHILD_SA set up ("<lab|3>": ike_name = yes)
IKE_ACCT_RE = re.compile(r"qkd: IKE_SA (\S+)\[(\d+)\] SPIs ([0-9a-f]{16})_i ([0-9a-f]{16})_r: "
                         r"(key (\S+) of pool '[^']*'|no QKD key[^\n]*)")
CHILD_ACCT_RE = re.compile(r"qkd: CHILD_SA (\S+)\{(\d+)\} SPIs ([0-9a-f]{8})_i ([0-9a-f]{8})_o "
                           r"\((\w+)\) of \S+\[\d+\]: (key (\S+) of pool '[^']*'|no QKD key[^\n]*)")
CHILD_UP_RE = re.compile(r"<([^|>\s]*)\|(\d+)> (?:inbound )?CHILD_SA \S+ established with SPIs "
                         r"([0-9a-f]{8})_i ([0-9a-f]{8})_o")
# not a failure (the exchange goes on), but worth a diagnostic under TCG
RETRANSMIT_RE = re.compile(r"retransmit \d+ of request")

DUMP_COLS = ("name", "id", "direction", "key_size", "capacity", "low", "high",
             "max_age", "level", "state", "added", "taken", "expired", "flushed",
             "rejected", "missed")
# qkdctl dump's columns 22-25: the plugin's key exchange counters of the
# pool (ke-report; "-" from a module without them, then left out)
KE_COLS = ("ke_qkd", "ke_fallback", "ke_tag_mismatch", "ke_refused")
DUMP_NCOLS = 21     # qkdctl.8, DUMP FORMAT: the columns before those
# columns 26-35: the exchanges without QKD by reason (the last one: those
# reported without a reason)
REASON_COLS = ("no_offer", "no_pool", "empty", "unknown_key", "tag_mismatch",
               "pool_error", "version", "pre_auth_mismatch", "peer_unknown",
               "unspecified")
REASON_NCOLS = DUMP_NCOLS + len(KE_COLS)


def hexid(kid):
    return ":".join(f"{b:02x}" for b in kid)


def leaked(materials, text):
    """The key materials found in text (a log): as hex, as a colon-separated
    key ID, or their first 8 bytes as hex."""
    low = text.lower()
    return [m for m in materials
            if m.hex() in low or hexid(m) in low or m[:8].hex() in low]


class Router:
    """One router: its namespace, charon, vici socket, pool and logs."""

    def __init__(self, lab, name, swan="trixie"):
        self.lab = lab
        self.name = name
        self.swan = swan
        self.peer = PEER[name]
        self.ns = f"router-{name}"
        self.dir = os.path.join(WORK, name)
        self.log = os.path.join(self.dir, "charon.log")
        self.vici = os.path.join(self.dir, "charon.vici")
        self.conf = os.path.join(self.dir, "strongswan.conf")
        self.swanctl_conf = os.path.join(self.dir, "swanctl.conf")
        self.proc = None
        # the IKE and ESP proposals of the connection "lab"
        self.proposals = PROPOSAL
        self.esp_proposals = ESP_PROPOSAL
        self.policy = "prefer"
        self.rekey = {"ike": 0, "child": 0}
        self.log_pos = 0
        # field options (test_field.py); the defaults write today's configs
        self.peers = [self.peer]        # osaka: one per other router (Lab)
        self.wan = WAN[name]            # its own backhaul address
        self.remote_id = None           # swanctl remote.id: None = the peer's name
        self.qkd_peers = {}             # peer: {key: value or None (left out)}
        self.pool_args = {"key-size": 32, "capacity": 1024}

    # ------------------------------------------------------------ config

    def seen_addr(self, peer):
        """The address this router's IKE packets from peer come from (the
        NAT's when one of the two sits behind it)."""
        return self.lab.seen_addr(self.name, peer)

    def qkd_peer(self, peer):
        """The plugin's peers.<peer> section: {key: value}; qkd_peers[peer]
        overrides a key, None leaves it out."""
        sec = {"pool": peer, "id": peer, "addrs": self.lab.routers[peer].wan
               if peer in self.lab.routers else WAN[peer], "policy": self.policy}
        sec.update(self.qkd_peers.get(peer, {}))
        return {k: v for k, v in sec.items() if v is not None}

    def write_conf(self):
        peer = self.peer
        with open(self.conf, "w") as f:
            f.write(strongswan_conf(SWAN_PLUGINS[self.swan], self.log, self.vici,
                                    {p: self.qkd_peer(p) for p in self.peers}))
        # one connection "lab"; a router with several peers (osaka in a lab
        # with nagoya) serves them all with it, so its remote identity is
        # %any unless set
        several = len(self.peers) > 1
        rid = self.remote_id or ("%any" if several else peer)
        raddrs = ",".join(dict.fromkeys(self.seen_addr(p) for p in self.peers))
        rts = ",".join(f"{LANS[p]}.0/24" for p in self.peers)
        ids = "".join(f"\t\tid-{i} = {n}\n" for i, n in enumerate(self.lab.routers, 1))
        with open(self.swanctl_conf, "w") as f:
            f.write(f"""connections {{
	lab {{
		local_addrs = {self.wan}
		remote_addrs = {raddrs}
		proposals = {self.proposals}
		rekey_time = {self.rekey["ike"]}s
		rand_time = {1 if self.rekey["ike"] else 0}s
		over_time = {max(10, self.rekey["ike"])}s
		dpd_delay = 0
		local {{
			auth = psk
			id = {self.name}
		}}
		remote {{
			auth = psk
			id = {rid}
		}}
		children {{
			net {{
				local_ts = {LANS[self.name]}.0/24
				remote_ts = {rts}
				esp_proposals = {self.esp_proposals}
				rekey_time = {self.rekey["child"]}s
				life_time = {3 * self.rekey["child"] if self.rekey["child"] else 900}s
				rand_time = {1 if self.rekey["child"] else 0}s
				start_action = none
			}}
		}}
	}}
}}
secrets {{
	ike-lab {{
{ids}		secret = "qkd-plugin-lab-test-psk"
	}}
}}
""")

    # ------------------------------------------------------------ charon

    def start(self):
        self.write_conf()
        if os.path.exists(self.vici):
            os.unlink(self.vici)
        out = open(os.path.join(self.dir, "charon.stdout"), "a")
        run = "mount -t tmpfs lab-run /run && exec " + CHARON
        if self.swan != "trixie":
            # the other root's charon, chrooted; the lab's directory at the
            # same path inside, so its config, log and vici socket are
            # where swanctl and the tests look
            r = SWAN_ROOT[self.swan]
            run = (f"mount -t proc proc {r}/proc && mount --rbind /dev {r}/dev && "
                   f"mount --rbind /sys {r}/sys && mount -t tmpfs lab-run {r}/run && "
                   f"mkdir -p {r}{WORK} && mount --bind {WORK} {r}{WORK} && "
                   f"exec chroot {r} {CHARON}")
        # ip netns exec, unshare, sh and chroot all exec: the Popen is charon
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "unshare", "--mount",
             "--propagation", "private", "sh", "-c", run],
            env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                 "STRONGSWAN_CONF": self.conf},
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(lambda: self.proc.poll() is not None or self.swanctl_ok("--stats"),
                 60, what=f"{self.name}'s charon to answer on {self.vici}")
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name}'s charon exited with {self.proc.returncode}")

    def stop(self):
        stop_process(self.proc)
        self.proc = None

    def swanctl(self, *args, check=True, timeout=60):
        return sh("swanctl", *args, "--uri", f"unix://{self.vici}", check=check,
                  timeout=timeout)

    def swanctl_ok(self, *args):
        if not os.path.exists(self.vici):
            return False
        p = subprocess.run(["swanctl", *args, "--uri", f"unix://{self.vici}"],
                           capture_output=True, text=True, timeout=30)
        return p.returncode == 0

    def load(self):
        """(Re)write both configs, reload charon's settings and the conns."""
        self.write_conf()
        self.swanctl("--reload-settings")
        self.swanctl("--load-all", "--noprompt", "--file", self.swanctl_conf)

    def initiate(self, timeout=60):
        """swanctl --initiate; returns (exit status, output)."""
        p = subprocess.run(["swanctl", "--initiate", "--ike", "lab", "--child", "net",
                            "--timeout", str(timeout), "--uri", f"unix://{self.vici}"],
                           capture_output=True, text=True, timeout=timeout + 30)
        return p.returncode, p.stdout + p.stderr

    def terminate(self):
        self.swanctl("--terminate", "--ike", "lab", "--force", "--timeout", "10",
                     check=False)

    def clear_half_open(self):
        """Delete half-open IKE_SAs (a responder's before IKE_AUTH has no
        config yet, so no name: by unique ID)."""
        for sid in re.findall(r"^\S+: #(\d+), CONNECTING,", self.sas(), re.M):
            self.swanctl("--terminate", "--ike-id", sid, "--force", "--timeout", "10",
                         check=False)

    def rekey_child(self, child_id=None):
        """Re-key the CHILD_SA net (every one so named), or the one with
        charon's unique ID child_id."""
        self.swanctl("--rekey", *(("--child-id", child_id) if child_id else ("--child", "net")))

    def rekey_ike(self, ike_id=None):
        """Re-key the IKE_SA lab (every one so named), or the one with
        charon's unique ID ike_id."""
        self.swanctl("--rekey", *(("--ike-id", ike_id) if ike_id else ("--ike", "lab")))

    def counters(self):
        """charon's global event counters (the counters plugin)."""
        out = self.swanctl("--counters")
        c = {}
        for ln in out.splitlines():
            m = re.match(r"\s+([\w-]+)\s*:\s*(\d+)", ln)
            if m:
                c[m.group(1)] = int(m.group(2))
        return c

    def sas(self):
        return self.swanctl("--list-sas")

    def busy(self, expect=1):
        """Whether an exchange is under way or queued: an IKE_SA with tasks
        (swanctl's queued/active/passive lines), one not ESTABLISHED, or more
        than expect IKE_SAs (a re-keyed one not yet deleted; osaka serving
        two peers expects two)."""
        sas = self.sas()
        states = re.findall(r"^lab: #\d+, (\w+),", sas, re.M)
        return (re.search(r"^\s+(queued|active|passive):", sas, re.M) is not None
                or len(states) > expect or any(st != "ESTABLISHED" for st in states))

    def ike_established(self):
        return "ESTABLISHED" in self.sas()

    def child_installed(self):
        return re.search(r"net: #\d+, reqid \d+, INSTALLED", self.sas()) is not None

    # --------------------------------------------------------------- logs

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def mark(self):
        """Remember where the log ends now; since() reads from here."""
        self.log_pos = len(self.log_text())
        return self.log_pos

    def since(self, pos=None):
        return self.log_text()[self.log_pos if pos is None else pos:]

    def acks(self, text, role=None):
        """(role, key ID, pool, IKE_SA) of each qkd exchange that used a key."""
        return [m.groups()[:3] + (m.group(4) + "[" + m.group(5) + "]",)
                for m in KEY_RE.finditer(text) if role in (None, m.group(1))]

    def fallbacks(self, text, role=None):
        return [m.groups() for m in FALLBACK_RE.finditer(text)
                if role in (None, m.group(1))]

    def retransmits(self, text):
        return len(RETRANSMIT_RE.findall(text))

    def failures(self, text):
        return [ln for ln in text.splitlines() if FAILURE_RE.search(ln)]

    # ------------------------------------------------------------- pools

    def qkdctl(self, *args, stdin=None):
        return sh(QKDCTL, *args, ns=self.ns, stdin=stdin)

    def pool(self, name=None):
        """{direction: {column: value}} of this router's pool (the one of
        its peer, or name), from qkdctl dump; with "ke": {KE_COLS column:
        value} when qkdctl prints the plugin's key exchange counters, and
        "reasons": {REASON_COLS column: value} when it prints them."""
        name = name or self.peer
        out = self.qkdctl("dump", name)
        res = {}
        for ln in out.splitlines():
            cols = ln.split("\t")
            if len(cols) < len(DUMP_COLS) or cols[0] != name:
                continue
            row = dict(zip(DUMP_COLS, cols))
            for k in DUMP_COLS[3:]:
                if row[k].isdigit():
                    row[k] = int(row[k])
            extra = cols[DUMP_NCOLS:DUMP_NCOLS + len(KE_COLS)]
            if len(extra) == len(KE_COLS) and all(c.isdigit() for c in extra):
                row["ke"] = dict(zip(KE_COLS, map(int, extra)))
            extra = cols[REASON_NCOLS:REASON_NCOLS + len(REASON_COLS)]
            if len(extra) == len(REASON_COLS) and all(c.isdigit() for c in extra):
                row["reasons"] = dict(zip(REASON_COLS, map(int, extra)))
            res[row["direction"]] = row
        return res

    def add_pools(self):
        """qkdctl pool add: one pool per peer, named for it, with
        pool_args (at set-up, and again after Lab.reload_module)."""
        for p in self.peers:
            self.qkdctl("pool", "add", p,
                        *(str(x) for kv in self.pool_args.items() for x in kv))

    def add_keys(self, direction, keys, pool=None):
        """Add [(key ID, material)] with qkdctl keys add --from FILE (to
        the pool of its peer, or pool)."""
        path = os.path.join(self.dir, "keys")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            for kid, mat in keys:
                f.write(f"{kid.hex()} {mat.hex()}\n")
        try:
            self.qkdctl("keys", "add", pool or self.peer, direction, "--from", path)
        finally:
            os.unlink(path)

    def flush(self, direction=None, pool=None):
        self.qkdctl("flush", pool or self.peer, *([direction] if direction else []))

    # ---------------------------------------------------------------- ESP

    def xfrm_states(self):
        """[(src, dst, spi, packets)] of the ESP states in this router."""
        out = sh("ip", "-s", "xfrm", "state", ns=self.ns)
        states = []
        cur = None
        for ln in out.splitlines():
            m = re.match(r"src (\S+) dst (\S+)", ln)
            if m:
                cur = [m.group(1), m.group(2), None, 0]
                states.append(cur)
                continue
            m = re.search(r"proto esp spi (0x[0-9a-f]+)", ln)
            if m and cur:
                cur[2] = m.group(1)
            m = re.match(r"\s+(\d+)\(bytes\), (\d+)\(packets\)", ln)
            if m and cur:
                cur[3] = int(m.group(2))
        return [tuple(s) for s in states if s[2]]

    def esp_states(self):
        """{SPI: (direction, packets)} of the ESP states in this router."""
        return {spi: ("out" if src == self.wan else "in", pk)
                for src, _dst, spi, pk in self.xfrm_states()}

    def esp_packets(self):
        """Packets through the ESP states: {"out": n, "in": n}."""
        res = {"out": 0, "in": 0}
        for src, _dst, _spi, pk in self.xfrm_states():
            res["out" if src == self.wan else "in"] += pk
        return res

    def xfrm_encap(self):
        """{SPI: (direction, packets, (sport, dport) or None)} of the ESP
        states: the UDP encapsulation ports of NAT-T (espinudp)."""
        out = sh("ip", "-s", "xfrm", "state", ns=self.ns)
        res = {}
        cur = None
        for ln in out.splitlines():
            m = re.match(r"src (\S+) dst (\S+)", ln)
            if m:
                cur = {"src": m.group(1), "spi": None, "pk": 0, "encap": None}
                continue
            if cur is None:
                continue
            m = re.search(r"proto esp spi (0x[0-9a-f]+)", ln)
            if m:
                cur["spi"] = m.group(1)
                res[cur["spi"]] = cur
            m = re.search(r"encap type espinudp sport (\d+) dport (\d+)", ln)
            if m:
                cur["encap"] = (int(m.group(1)), int(m.group(2)))
            m = re.match(r"\s+(\d+)\(bytes\), (\d+)\(packets\)", ln)
            if m:
                cur["pk"] = int(m.group(2))
        return {spi: ("out" if c["src"] == self.wan else "in", c["pk"], c["encap"])
                for spi, c in res.items()}

    # ------------------------------------------------------- SAs in place

    def list_sas(self):
        """The IKE_SAs of swanctl --list-sas: [{"name", "uid", "state",
        "spi_i", "spi_r", "remote_id", "remote_host", "remote_port",
        "children": [{"name", "uid", "state", "mode", "in", "out"}]}]."""
        sas, ike, child = [], None, None
        for ln in self.sas().splitlines():
            m = re.match(r"(\S+): #(\d+), (\w+), IKEv2, ([0-9a-f]{16})_i\*? "
                         r"([0-9a-f]{16})_r", ln)
            if m:
                ike = {"name": m.group(1), "uid": int(m.group(2)), "state": m.group(3),
                       "spi_i": m.group(4), "spi_r": m.group(5), "children": [],
                       "remote_id": None, "remote_host": None, "remote_port": None}
                sas.append(ike)
                child = None
                continue
            if ike is None:
                continue
            m = re.match(r"\s+remote\s+'([^']*)' @ (\S+)\[(\d+)\]", ln)
            if m and child is None:
                ike["remote_id"], ike["remote_host"] = m.group(1), m.group(2)
                ike["remote_port"] = int(m.group(3))
                continue
            m = re.match(r"\s+(\S+): #(\d+), reqid \d+, (\w+), ([\w-]+),", ln)
            if m:
                child = {"name": m.group(1), "uid": int(m.group(2)), "state": m.group(3),
                         "mode": m.group(4), "in": None, "out": None}
                ike["children"].append(child)
                continue
            m = re.match(r"\s+(in|out)\s+([0-9a-f]{8})", ln)
            if m and child is not None:
                child[m.group(1)] = m.group(2)
        return sas

    def keying(self, text=None):
        """How each SA was keyed, from the log (text, or all of it): the
        plugin's accounting lines, and for a CHILD_SA without one (set up
        in IKE_AUTH: logged at level 2 only) the IKE_SA it was set up in.
        Returns {("ike", spi_i, spi_r): outcome, ("child", in, out):
        outcome, ("ike-uid", uid): outcome} with outcome a key ID or
        "no QKD key (...)"."""
        text = self.log_text() if text is None else text
        res = {}
        for m in IKE_ACCT_RE.finditer(text):
            out = m.group(6) or m.group(5)
            res[("ike", m.group(3), m.group(4))] = out
            res[("ike-uid", int(m.group(2)))] = out
        for m in CHILD_ACCT_RE.finditer(text):
            res[("child", m.group(3), m.group(4))] = m.group(7) or m.group(6)
        for m in CHILD_UP_RE.finditer(text):
            k = ("child", m.group(3), m.group(4))
            if k not in res:
                res[k] = res.get(("ike-uid", int(m.group(2))),
                                 "no accounting line for its IKE_SA")
        return res

    def sa_keys(self):
        """The SAs in place and how they were keyed: {"ike": [(uid,
        remote id, outcome)], "child": [(IKE uid, child uid, outcome)]};
        outcome is the key ID of a QKD-keyed SA, else what the log says."""
        k = self.keying()
        res = {"ike": [], "child": []}
        for ike in self.list_sas():
            if ike["state"] != "ESTABLISHED":
                continue
            res["ike"].append((ike["uid"], ike["remote_id"],
                               k.get(("ike", ike["spi_i"], ike["spi_r"]), "not logged")))
            for c in ike["children"]:
                if c["state"] == "INSTALLED":
                    res["child"].append((ike["uid"], c["uid"],
                                         k.get(("child", c["in"], c["out"]), "not logged")))
        return res


class Lab:
    """The routers' namespaces and links.  extra: more routers (nagoya),
    each a peer of osaka only; nat: the routers that sit behind the NAT
    namespace (all but osaka may)."""

    def __init__(self, extra=(), nat=()):
        names = ("tokyo", "osaka") + tuple(extra)
        bad = [n for n in tuple(extra) + tuple(nat) if n not in NAT_INSIDE and n != "tokyo"]
        if bad or HUB in nat:
            raise ValueError(f"Lab: unknown router or the hub in extra/nat: {extra}, {nat}")
        self.nat = tuple(nat)
        self.routers = {n: Router(self, n) for n in names}
        self.namespaces = ["host-tokyo", "router-tokyo", "router-osaka", "host-osaka"]
        for n in extra:
            self.namespaces += [f"host-{n}", f"router-{n}"]
        if self.nat:
            self.namespaces.append(NAT_NS)
        hub = self.routers[HUB]
        hub.peers = [n for n in names if n != HUB]
        for n in self.nat:
            self.routers[n].wan = f"{NAT_INSIDE[n]}.1"

    @property
    def tokyo(self):
        return self.routers["tokyo"]

    @property
    def osaka(self):
        return self.routers["osaka"]

    def seen_addr(self, me, peer):
        """The address router me sees router peer's IKE and ESP packets
        come from: the NAT's when either is behind it."""
        if me in self.nat or peer in self.nat:
            return WAN[HUB] if peer == HUB else NAT_ADDR
        return self.routers[peer].wan

    def setup(self):
        for mod in ("esp4", "xfrm_user", "veth"):
            sh("modprobe", mod, check=False)
        self.teardown_net()
        shutil.rmtree(WORK, ignore_errors=True)
        for r in self.routers.values():
            os.makedirs(r.dir)
        for ns in self.namespaces:
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        # host-X <-> router-X, and the backhaul: osaka's wan0 to the other
        # routers' wan0, or to the NAT's outside, the NAT's inside to the
        # routers behind it
        links = [(f"host-{n}", "lan0", f"router-{n}", "lan0") for n in self.routers]
        direct = [n for n in self.routers if n != HUB and n not in self.nat]
        if len(direct) > 1:
            raise ValueError("Lab: osaka has one backhaul link without the NAT")
        links += [(f"router-{n}", "wan0", f"router-{HUB}", "wan0") for n in direct]
        if self.nat:
            links.append((NAT_NS, "wan0", f"router-{HUB}", "wan0"))
            links += [(f"router-{n}", "wan0", NAT_NS, f"in-{n}") for n in self.nat]
        for na, a, nb, b in links:
            sh("ip", "link", "add", "qkdlab-a", "type", "veth", "peer", "name", "qkdlab-b")
            sh("ip", "link", "set", "qkdlab-a", "netns", na, "name", a)
            sh("ip", "link", "set", "qkdlab-b", "netns", nb, "name", b)
        for site, rt in self.routers.items():
            lan = LANS[site]
            h, r = f"host-{site}", f"router-{site}"
            sh("ip", "addr", "add", f"{lan}.2/24", "dev", "lan0", ns=h)
            sh("ip", "link", "set", "lan0", "up", ns=h)
            sh("ip", "route", "add", "default", "via", f"{lan}.1", ns=h)
            sh("ip", "addr", "add", f"{lan}.1/24", "dev", "lan0", ns=r)
            sh("ip", "link", "set", "lan0", "up", ns=r)
            sh("ip", "addr", "add", f"{rt.wan}/24", "dev", "wan0", ns=r)
            sh("ip", "link", "set", "wan0", "up", ns=r)
            sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=r)
            if site in self.nat:
                sh("ip", "route", "add", "default", "via", f"{NAT_INSIDE[site]}.254", ns=r)
            for peer in rt.peers:
                via = self.seen_addr(site, peer) if site == HUB or site not in self.nat \
                    else f"{NAT_INSIDE[site]}.254"
                sh("ip", "route", "add", f"{LANS[peer]}.0/24", "via", via, ns=r)
        if self.nat:
            self.setup_nat()

    def setup_nat(self):
        """The NAT namespace: forwarding, and nft masquerading whatever
        leaves by its outside (wan0) behind NAT_ADDR, with counters."""
        if not shutil.which(NFT):
            raise RuntimeError("no nft in the VM's root: add nftables to "
                               "tools/root-packages.txt")
        for mod in ("nf_conntrack", "nf_nat", "nft_chain_nat", "nft_masq"):
            sh("modprobe", mod, check=False)
        sh("ip", "addr", "add", f"{NAT_ADDR}/24", "dev", "wan0", ns=NAT_NS)
        sh("ip", "link", "set", "wan0", "up", ns=NAT_NS)
        for n in self.nat:
            sh("ip", "addr", "add", f"{NAT_INSIDE[n]}.254/24", "dev", f"in-{n}", ns=NAT_NS)
            sh("ip", "link", "set", f"in-{n}", "up", ns=NAT_NS)
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=NAT_NS)
        sh(NFT, "-f", "-", ns=NAT_NS, stdin="""table ip lab_nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" ip protocol udp counter masquerade
		oifname "wan0" counter masquerade
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "wan0" udp dport 4500 counter
		oifname "wan0" udp sport 4500 counter
	}
}
""")

    def nat_counters(self):
        """Counters of the NAT's rules: "masq_udp", "masq_other": the
        connections masqueraded (a nat chain sees a connection's first
        packet only); "udp4500_in", "udp4500_out": packets forwarded to and
        from UDP port 4500 inside (IKE after NAT-T, and ESP in UDP)."""
        out = sh(NFT, "list", "table", "ip", "lab_nat", ns=NAT_NS)
        pk = [int(x) for x in re.findall(r"counter packets (\d+)", out)]
        return dict(zip(("masq_udp", "masq_other", "udp4500_in", "udp4500_out"), pk))

    def nat_mappings(self):
        """The NAT's UDP conntrack entries: [(inside src, sport, dst,
        dport, mapped sport)] from /proc/net/nf_conntrack of its namespace."""
        try:
            out = sh("cat", "/proc/net/nf_conntrack", ns=NAT_NS)
        except RuntimeError:
            return []
        res = []
        for ln in out.splitlines():
            if " udp " not in ln:
                continue
            f = re.findall(r"(src|dst|sport|dport)=(\S+)", ln)
            if len(f) >= 8:
                o, r = dict(f[:4]), dict(f[4:8])
                res.append((o["src"], int(o["sport"]), o["dst"], int(o["dport"]),
                            int(r["dport"])))
        return res

    def reload_module(self, ko=None):
        """rmmod qkdpool and insmod it again under the running charons,
        then re-create every router's pools (Router.add_pools; empty: the
        caller refills them).  Returns the monotonic time insmod returned."""
        sh("rmmod", "qkdpool")
        sh("insmod", ko or QKD_KO)
        t = time.monotonic()
        for r in self.routers.values():
            r.add_pools()
        return t

    def install_plugin(self):
        """Each router's plugins into its strongSwan's plugin directory."""
        for swan in {r.swan for r in self.routers.values()}:
            for name in SWAN_PLUGINS[swan].split():
                shutil.copy(plugin_path(swan, name),
                            os.path.join(SWAN_ROOT[swan] + PLUGIN_DIR,
                                         f"libstrongswan-{name}.so"))

    def down(self):
        """Take the SA down on both routers: a DELETE from tokyo, and if
        either side still holds an IKE_SA after 10 s, a forced one there."""
        self.tokyo.swanctl("--terminate", "--ike", "lab", "--timeout", "10", check=False)
        try:
            wait_for(lambda: not self.tokyo.sas().strip() and not self.osaka.sas().strip(),
                     10, what="the SAs to go")
        except TimeoutError:
            for r in self.routers.values():
                r.terminate()
            wait_for(lambda: not self.tokyo.sas().strip() and not self.osaka.sas().strip(),
                     10, what="the SAs to go (forced)")

    def teardown_net(self):
        for ns in getattr(self, "namespaces", []):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def teardown(self):
        for r in self.routers.values():
            r.stop()
        self.teardown_net()

    def show_logs(self, lines):
        """The end of each router's charon log, as TAP diagnostics."""
        for r in self.routers.values():
            diag(f"--- {r.name}'s charon log (end)")
            diag("\n".join(r.log_text().splitlines()[-lines:]))

    def finish(self, failed, lines=40, env="QKD_LAB_LOGS"):
        """A test file's last step: the logs' ends when it failed (or when
        the environment variable env is set), then the teardown (whose
        failure is only reported: the results are in)."""
        if failed or os.environ.get(env):
            self.show_logs(lines)
        try:
            self.teardown()
        except Exception as e:      # noqa: BLE001
            diag(f"teardown: {e}")

    def ping(self, count=5, interval=0.2, timeout=30, src="tokyo", dst="osaka"):
        """Ping host-dst from host-src; returns (sent, received)."""
        p = subprocess.run(["ip", "netns", "exec", f"host-{src}", "busybox", "ping", "-q",
                            "-c", str(count), "-i", str(interval), "-W", "2",
                            LANS[dst] + ".2"],
                           capture_output=True, text=True, timeout=timeout)
        m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", p.stdout)
        if not m:
            return count, 0
        return int(m.group(1)), int(m.group(2))

    def esp_ping(self, count=5, tries=3):
        """ping host-tokyo -> host-osaka; every echo and reply must pass
        through ESP on both routers: the packet counters (ip -s xfrm state)
        of the states there before and after the ping grow by count or
        more.  A re-key during the ping replaces the states (their counters
        go with them): then it pings again, up to tries times.  Returns the
        growth per "ROUTER DIRECTION"; fails when a ping is
        lost or a counter grew less (tap.Fail)."""
        t, o = self.routers["tokyo"], self.routers["osaka"]
        for _ in range(tries):
            bt, bo = t.esp_states(), o.esp_states()
            sent, recv = self.ping(count)
            at, ao = t.esp_states(), o.esp_states()
            if (sent, recv) != (count, count):
                raise Fail(f"ping host-tokyo -> host-osaka: {recv} of {sent} "
                                   f"replies, {count} sent")
            if set(at) == set(bt) and set(ao) == set(bo):
                break
            diag("the XFRM states changed during the ping (a re-key): again")
        got = {}
        for r, b, a in (("tokyo", bt, at), ("osaka", bo, ao)):
            for d in ("out", "in"):
                got[f"{r} {d}"] = sum(pk - b[spi][1] for spi, (dd, pk) in a.items()
                                      if dd == d and spi in b)
        if not all(v >= count for v in got.values()):
            raise Fail(f"ESP packet counters (ip -s xfrm state) grew by {got}, "
                               f"expected >= {count} each")
        return got

    def ping_background(self, interval=0.2):
        return subprocess.Popen(["ip", "netns", "exec", "host-tokyo", "busybox", "ping", "-q",
                                 "-i", str(interval), "-W", "1", LANS["osaka"] + ".2"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)

    @staticmethod
    def ping_result(proc):
        proc.send_signal(2)
        out, _ = proc.communicate(timeout=10)
        m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", out)
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)
