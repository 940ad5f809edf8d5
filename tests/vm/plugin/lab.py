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

REPO = os.environ.get("QKD_REPO", "/src")
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


def sh(*cmd, check=True, timeout=60, ns=None, stdin=None):
    """Run a command (in a network namespace); returns its stdout."""
    argv = [str(c) for c in cmd]
    if ns:
        argv = ["ip", "netns", "exec", ns] + argv
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       input=stdin)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}: "
                           f"{(p.stderr or p.stdout).strip()}")
    return p.stdout


def wait_for(cond, timeout, step=0.2, what="condition"):
    """Poll cond() until it is true (returns its value) or timeout seconds
    pass (raises TimeoutError naming what)."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def stop_process(proc):
    """SIGTERM proc and wait; SIGKILL it after 20 s.  None or an exited
    process is left as it is."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def hexid(kid):
    return ":".join(f"{b:02x}" for b in kid)


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
        sections = "".join(
            f"\t\t\t\t{p} {{\n" +
            "".join(f"\t\t\t\t\t{k} = {v}\n" for k, v in self.qkd_peer(p).items()) +
            "\t\t\t\t}\n" for p in self.peers)
        with open(self.conf, "w") as f:
            f.write(f"""charon {{
	load = random nonce openssl pem pkcs1 pubkey x509 kernel-netlink socket-default vici counters {SWAN_PLUGINS[self.swan]}
	send_vendor_id = yes
	install_routes = no
	retransmit_tries = 3
	filelog {{
		lab {{
			path = {self.log}
			flush_line = yes
			ike_name = yes
			default = 1
		}}
	}}
	plugins {{
		vici {{
			socket = unix://{self.vici}
		}}
		qkd {{
			policy = prefer
			pool_by_identity = no
			peers {{
{sections}			}}
		}}
	}}
}}
""")
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
        sh(NFT, "-f", "-", ns=NAT_NS, stdin=f"""table ip lab_nat {{
	chain postrouting {{
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" ip protocol udp counter masquerade
		oifname "wan0" counter masquerade
	}}
	chain forward {{
		type filter hook forward priority filter; policy accept;
		iifname "wan0" udp dport 4500 counter
		oifname "wan0" udp sport 4500 counter
	}}
}}
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


# ====================================================================
# The QKD network mode: the same lab, its pools fed by qkd-linkd from the
# KME simulator instead of by hand (tests/vm/test_lab.py, `make demo`).
#
#                          netns kme: kme_sim.py (control 127.0.0.1:9000)
#             KME_TOKYO 10.99.1.10:8443 ~~ QKD link ~~ KME_OSAKA 10.99.2.10:8444
#                        | mgmt (ETSI 014, mTLS)          | mgmt
#                   10.99.1.1                        10.99.2.1
#   host-tokyo -- router-tokyo ====== backhaul ====== router-osaka -- host-osaka
#                 qkd-linkd SAE_TOKYO <--peer channel--> qkd-linkd SAE_OSAKA
#                 charon, pool "osaka"  (mTLS, :7600)   charon, pool "tokyo"
#
# Each router reaches its KME over a management veth of its own, as a
# router reaches the QKD device in its rack; only the linkd-to-linkd peer
# channel (key IDs, never keys) and IKE/ESP cross the backhaul.  Nothing
# here fills a pool by hand: qkd-linkd creates the pools from its
# configuration and keeps them between their watermarks.
# ====================================================================

import json                    # noqa: E402
import threading               # noqa: E402
import urllib.request          # noqa: E402

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


def _in_ns(ns, fn):
    """fn() with this thread in network namespace ns (the simulator's
    control socket listens on that namespace's loopback only)."""
    back = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        os.setns(fd, os.CLONE_NEWNET)
        return fn()
    finally:
        os.setns(back, os.CLONE_NEWNET)
        os.close(fd)
        os.close(back)


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
        def call():
            data = json.dumps(body).encode() if body is not None else None
            req = urllib.request.Request(f"http://{CONTROL[0]}:{CONTROL[1]}{path}",
                                         data=data, method=method)
            with urllib.request.urlopen(req, timeout=30) as resp:
                txt = resp.read()
                return json.loads(txt) if txt else None
        return _in_ns(KME_NS, call)

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
