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
"""

import os
import re
import shutil
import subprocess
import time

REPO = os.environ.get("QKD_REPO", "/src")
QKDCTL = os.environ.get("QKDCTL", os.path.join(REPO, "build/userspace/qkdctl"))
PLUGIN = os.environ.get("QKD_PLUGIN",
                        os.path.join(REPO, "build/strongswan-plugin/libstrongswan-qkd.so"))
PLUGIN_DIR = "/usr/lib/ipsec/plugins"
CHARON = "/usr/lib/ipsec/charon"
WORK = "/tmp/qkd-plugin-lab"

LANS = {"tokyo": "10.10.1", "osaka": "10.20.1"}
WAN = {"tokyo": "192.0.2.1", "osaka": "192.0.2.2"}
PEER = {"tokyo": "osaka", "osaka": "tokyo"}

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
# not a failure (the exchange goes on), but worth a diagnostic under TCG
RETRANSMIT_RE = re.compile(r"retransmit \d+ of request")

DUMP_COLS = ("name", "id", "direction", "key_size", "capacity", "low", "high",
             "max_age", "level", "state", "added", "taken", "expired", "flushed",
             "rejected", "missed")


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


def hexid(kid):
    return ":".join(f"{b:02x}" for b in kid)


class Router:
    """One router: its namespace, charon, vici socket, pool and logs."""

    def __init__(self, lab, name):
        self.lab = lab
        self.name = name
        self.peer = PEER[name]
        self.ns = f"router-{name}"
        self.dir = os.path.join(WORK, name)
        self.log = os.path.join(self.dir, "charon.log")
        self.vici = os.path.join(self.dir, "charon.vici")
        self.conf = os.path.join(self.dir, "strongswan.conf")
        self.swanctl_conf = os.path.join(self.dir, "swanctl.conf")
        self.proc = None
        self.policy = "prefer"
        self.rekey = {"ike": 0, "child": 0}
        self.log_pos = 0

    # ------------------------------------------------------------ config

    def write_conf(self):
        peer = self.peer
        with open(self.conf, "w") as f:
            f.write(f"""charon {{
	load = random nonce openssl pem pkcs1 pubkey x509 kernel-netlink socket-default vici counters qkd
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
				{peer} {{
					pool = {peer}
					id = {peer}
					addrs = {WAN[peer]}
					policy = {self.policy}
				}}
			}}
		}}
	}}
}}
""")
        with open(self.swanctl_conf, "w") as f:
            f.write(f"""connections {{
	lab {{
		local_addrs = {WAN[self.name]}
		remote_addrs = {WAN[peer]}
		proposals = {PROPOSAL}
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
			id = {peer}
		}}
		children {{
			net {{
				local_ts = {LANS[self.name]}.0/24
				remote_ts = {LANS[peer]}.0/24
				esp_proposals = {ESP_PROPOSAL}
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
		id-1 = tokyo
		id-2 = osaka
		secret = "qkd-plugin-lab-test-psk"
	}}
}}
""")

    # ------------------------------------------------------------ charon

    def start(self):
        self.write_conf()
        if os.path.exists(self.vici):
            os.unlink(self.vici)
        out = open(os.path.join(self.dir, "charon.stdout"), "a")
        # ip netns exec, unshare and sh all exec: the Popen is charon itself
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "unshare", "--mount",
             "--propagation", "private", "sh", "-c",
             "mount -t tmpfs lab-run /run && exec " + CHARON],
            env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                 "STRONGSWAN_CONF": self.conf},
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(lambda: self.proc.poll() is not None or self.swanctl_ok("--stats"),
                 60, what=f"{self.name}'s charon to answer on {self.vici}")
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name}'s charon exited with {self.proc.returncode}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
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

    def rekey_child(self):
        self.swanctl("--rekey", "--child", "net")

    def rekey_ike(self):
        self.swanctl("--rekey", "--ike", "lab")

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

    def busy(self):
        """Whether an exchange is under way or queued: an IKE_SA with tasks
        (swanctl's queued/active/passive lines), one not ESTABLISHED, or more
        than one IKE_SA (a re-keyed one not yet deleted)."""
        sas = self.sas()
        states = re.findall(r"^lab: #\d+, (\w+),", sas, re.M)
        return (re.search(r"^\s+(queued|active|passive):", sas, re.M) is not None
                or len(states) > 1 or any(st != "ESTABLISHED" for st in states))

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

    def pool(self):
        """{direction: {column: value}} of this router's pool, from qkdctl dump."""
        out = self.qkdctl("dump", self.peer)
        res = {}
        for ln in out.splitlines():
            cols = ln.split("\t")
            if len(cols) < len(DUMP_COLS) or cols[0] != self.peer:
                continue
            row = dict(zip(DUMP_COLS, cols))
            for k in DUMP_COLS[3:]:
                if row[k].isdigit():
                    row[k] = int(row[k])
            res[row["direction"]] = row
        return res

    def add_keys(self, direction, keys):
        """Add [(key ID, material)] with qkdctl keys add --from FILE."""
        path = os.path.join(self.dir, "keys")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            for kid, mat in keys:
                f.write(f"{kid.hex()} {mat.hex()}\n")
        try:
            self.qkdctl("keys", "add", self.peer, direction, "--from", path)
        finally:
            os.unlink(path)

    def flush(self, direction=None):
        self.qkdctl("flush", self.peer, *([direction] if direction else []))

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
        return {spi: ("out" if src == WAN[self.name] else "in", pk)
                for src, _dst, spi, pk in self.xfrm_states()}

    def esp_packets(self):
        """Packets through the ESP states: {"out": n, "in": n}."""
        res = {"out": 0, "in": 0}
        for src, _dst, _spi, pk in self.xfrm_states():
            res["out" if src == WAN[self.name] else "in"] += pk
        return res


class Lab:
    def __init__(self):
        self.routers = {n: Router(self, n) for n in ("tokyo", "osaka")}
        self.namespaces = ["host-tokyo", "router-tokyo", "router-osaka", "host-osaka"]

    @property
    def tokyo(self):
        return self.routers["tokyo"]

    @property
    def osaka(self):
        return self.routers["osaka"]

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
        # host-X <-> router-X, and the backhaul
        links = [("host-tokyo", "lan0", "router-tokyo", "lan0"),
                 ("router-tokyo", "wan0", "router-osaka", "wan0"),
                 ("host-osaka", "lan0", "router-osaka", "lan0")]
        for na, a, nb, b in links:
            sh("ip", "link", "add", "qkdlab-a", "type", "veth", "peer", "name", "qkdlab-b")
            sh("ip", "link", "set", "qkdlab-a", "netns", na, "name", a)
            sh("ip", "link", "set", "qkdlab-b", "netns", nb, "name", b)
        for site in ("tokyo", "osaka"):
            lan = LANS[site]
            h, r = f"host-{site}", f"router-{site}"
            sh("ip", "addr", "add", f"{lan}.2/24", "dev", "lan0", ns=h)
            sh("ip", "link", "set", "lan0", "up", ns=h)
            sh("ip", "route", "add", "default", "via", f"{lan}.1", ns=h)
            sh("ip", "addr", "add", f"{lan}.1/24", "dev", "lan0", ns=r)
            sh("ip", "link", "set", "lan0", "up", ns=r)
            sh("ip", "addr", "add", f"{WAN[site]}/24", "dev", "wan0", ns=r)
            sh("ip", "link", "set", "wan0", "up", ns=r)
            sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=r)
            peer = PEER[site]
            sh("ip", "route", "add", f"{LANS[peer]}.0/24", "via", WAN[peer], ns=r)

    def install_plugin(self):
        shutil.copy(PLUGIN, os.path.join(PLUGIN_DIR, "libstrongswan-qkd.so"))

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

    def ping(self, count=5, interval=0.2, timeout=30):
        """Ping host-osaka from host-tokyo; returns (sent, received)."""
        p = subprocess.run(["ip", "netns", "exec", "host-tokyo", "busybox", "ping", "-q",
                            "-c", str(count), "-i", str(interval), "-W", "2",
                            LANS["osaka"] + ".2"],
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
