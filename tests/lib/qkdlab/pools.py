# SPDX-License-Identifier: GPL-2.0
"""The pools through the kernel's own ynl: family, notifications, keys,
errors with their extack, the ynl CLI.

The client is the kernel's own ynl (tools/net/ynl of Debian's linux-source
tree) reading Documentation/netlink/specs/qkd.yaml: nobody in this project
wrote it, so a test passing means the spec and the module agree.  ynl's
library is the package "lib", put on sys.path here (tests/lib itself is not
a package, so the name stays free for it).
"""

import errno
import glob
import hashlib
import hmac
import json
import os
import select
import subprocess
import sys
import time

from qkdlab import REPO
from qkdlab.tap import Fail, check, eq

SPEC = os.path.join(REPO, "Documentation/netlink/specs/qkd.yaml")


def _ksrc():
    if os.environ.get("QKD_KSRC"):
        return os.environ["QKD_KSRC"]
    trees = sorted(glob.glob("/usr/src/linux-source-*/tools/net/ynl/cli.py"))
    if not trees:
        raise SystemExit("no kernel source tree with tools/net/ynl under /usr/src")
    return trees[-1][: -len("/tools/net/ynl/cli.py")]


KSRC = _ksrc()
YNL_DIR = os.path.join(KSRC, "tools/net/ynl")
CLI = os.path.join(YNL_DIR, "cli.py")
# ynl looks for the schema two levels above the spec; the spec lives in this
# repository, the schema in the kernel tree, so it is passed explicitly.
SCHEMA = os.path.join(KSRC, "Documentation/netlink/genetlink.yaml")

sys.path.insert(0, YNL_DIR)
from lib import YnlFamily, NlError   # noqa: E402,F401
import lib.ynl as ynl_mod      # noqa: E402

TAG_LABEL = b"qkd-ipsec tag v1"
MATERIALS_LOG = "/tmp/qkd-test-materials"


# --------------------------------------------------------------- keys

def key_id(prefix, i):
    """A 16-byte key ID: a 4-byte ASCII prefix, then the big-endian index."""
    p = prefix.encode() if isinstance(prefix, str) else prefix
    return (p + b"\0" * 4)[:4] + i.to_bytes(12, "big")


def material(kid, size=32):
    """Key material derived from the ID, so any taken key can be checked."""
    out = b""
    ctr = 0
    while len(out) < size:
        out += hashlib.sha256(bytes([ctr]) + kid).digest()
        ctr += 1
    return out[:size]


def tag(mat, kid):
    return hmac.new(mat, TAG_LABEL + kid, hashlib.sha256).digest()


def keys(prefix, start, n, size=32):
    """A key-add list of n keys; their materials are logged for the dmesg check."""
    ks = []
    for i in range(start, start + n):
        kid = key_id(prefix, i)
        ks.append({"id": kid, "material": material(kid, size)})
    log_materials(k["material"] for k in ks)
    return ks


def log_materials(mats):
    with open(MATERIALS_LOG, "a") as f:
        for m in mats:
            f.write(m.hex() + "\n")


def take_pairs(fam_out, out_id, fam_in, in_id, count, where):
    """Take count keys from the outbound ring of pool out_id (family
    fam_out) and the same IDs from the inbound side of pool in_id (family
    fam_in), 64 requests at a time: each pair must have the same ID and
    material ("material differs WHERE").  Logs and returns the materials."""
    mats = []
    for i in range(0, count, 64):
        ops = [("key-take", {"id": out_id, "direction": "out"}, [])
               for _ in range(min(64, count - i))]
        outs = [r["key"][0] for r in fam_out.do_multi(ops)]
        ops = [("key-take", {"id": in_id, "direction": "in", "key-id": k["id"]}, [])
               for k in outs]
        ins = [r["key"][0] for r in fam_in.do_multi(ops)]
        for ko, ki in zip(outs, ins):
            eq(ki["id"], ko["id"], "key ID")
            check(ki["material"] == ko["material"],
                  f"key {ko['id'].hex()}: material differs {where}")
            mats.append(ko["material"])
    log_materials(mats)
    return mats


# ----------------------------------------------------------- netlink

class RecordingSocket:
    """Wraps ynl's socket and keeps every byte received, so tests can
    search raw replies and notifications for key material."""

    def __init__(self, sock):
        self._sock = sock
        self.data = bytearray()

    def recv(self, *args):
        d = self._sock.recv(*args)
        self.data += d
        return d

    def __getattr__(self, name):
        return getattr(self._sock, name)


def family(record=False, validate=False):
    """Open the qkd family with the ynl library.  validate checks the spec
    against the kernel's genetlink schema (slow under TCG: done once per file
    is plenty)."""
    fam = YnlFamily(SPEC, SCHEMA if validate else "")
    if record:
        fam.sock = RecordingSocket(fam.sock)
    return fam


def reset_family_cache():
    """ynl caches family IDs per process; a reloaded module gets a new one."""
    ynl_mod.genl_family_name_to_id = None


def monitor():
    m = family(record=True)
    m.ntf_subscribe("monitor")
    return m


def events(mon, want=0, timeout=0.0):
    """Drain notifications; wait up to timeout for at least want of them."""
    deadline = time.monotonic() + timeout
    while True:
        mon.check_ntf()
        if len(mon.async_msg_queue) >= want:
            break
        left = deadline - time.monotonic()
        if left <= 0:
            break
        select.select([mon.sock], [], [], left)
    evs = [m["msg"] for m in mon.async_msg_queue]
    mon.async_msg_queue.clear()
    return evs


def clean_pools(fam):
    for p in fam.dump("pool-get", {}):
        try:
            fam.do("pool-del", {"id": p["id"]})
        except NlError:
            pass


def drop(fam, *names):
    """Delete pools by name if they exist: cleanup that never fails."""
    for n in names:
        try:
            fam.do("pool-del", {"name": n})
        except NlError:
            pass


_cleaner = []


def cleanup(*names):
    """Decorator: after the test, pass or fail, delete these pools."""
    def wrap(fn):
        def run():
            try:
                fn()
            finally:
                if not _cleaner:
                    _cleaner.append(family())
                drop(_cleaner[0], *names)
        run.__name__ = fn.__name__
        return run
    return wrap


def take_key(reply):
    """The key of a key-take reply (key is a multi-attr: a list)."""
    k = reply["key"]
    if isinstance(k, list):
        check(len(k) == 1, f"key-take reply holds {len(k)} keys, expected 1")
        k = k[0]
    return k


RATES = ("fill-rate", "burn-rate", "time-to-empty")


def settled(p):
    """A pool-get reply without the rate fields, which move with the clock."""
    p = dict(p)
    for d in ("stats-out", "stats-in"):
        if d in p:
            p[d] = {k: v for k, v in p[d].items() if k not in RATES}
    return p


def stats(fam, pid, direction="out"):
    p = fam.do("pool-get", {"id": pid})
    return p["stats-" + direction]


def extack_of(e):
    return e.nl_msg.extack or {}


def expect_error(fn, err, msg=None, attr=None, what=""):
    """Call fn; it must fail with errno err (an int or a set).  The extended
    ack must explain why: a non-empty message containing msg (a string or a
    tuple of alternatives, case-insensitive) when given; for a missing or
    malformed attribute, either a message or the attribute named by the
    kernel (miss-type / bad-attr) equal to attr.  Returns the NlError."""
    errs = err if isinstance(err, (set, frozenset, tuple)) else {err}
    label = what or getattr(fn, "__name__", "call")
    try:
        r = fn()
    except NlError as e:
        names = "/".join(errno.errorcode.get(x, str(x)) for x in sorted(errs))
        got = errno.errorcode.get(e.error, str(e.error))
        ext = extack_of(e)
        if e.error not in errs:
            raise Fail(f"{label}: expected {names}, got {got} extack={ext!r}")
        text = ext.get("msg", "")
        named = [str(ext.get("miss-type", "")), str(ext.get("bad-attr", ""))]
        if attr is not None and any(attr in n for n in named):
            return e
        if not text:
            raise Fail(f"{label}: {got} without an extack message (extack={ext!r})")
        if msg is not None:
            alts = msg if isinstance(msg, tuple) else (msg,)
            if not any(a.lower() in text.lower() for a in alts):
                raise Fail(f"{label}: extack message {text!r} does not mention {alts!r}")
        return e
    raise Fail(f"{label}: expected an error, got success: {r!r}")


def no_material(raw, mats, where):
    """No key material (nor an 8-byte run of one) in raw bytes."""
    raw = bytes(raw)
    for m in mats:
        check(m[:8] not in raw, f"key material {m.hex()} found in {where}")


# --------------------------------------------------------------- CLI

def cli(*args, ns=None, prefix=(), json_out=True):
    """Run the kernel's ynl CLI; returns (returncode, parsed JSON or text, stderr)."""
    cmd = list(prefix)
    if ns:
        cmd += ["ip", "netns", "exec", ns]
    cmd += [sys.executable, CLI, "--spec", SPEC, "--no-schema"]
    if json_out:
        cmd.append("--output-json")
    cmd += list(args)
    p = subprocess.run(cmd, capture_output=True, text=True)
    out = p.stdout
    if json_out and p.returncode == 0:
        lines = [ln for ln in out.splitlines() if ln.strip()]
        out = [json.loads(ln) for ln in lines]
        out = out[0] if len(out) == 1 else out
    return p.returncode, out, p.stderr


def wait_subscribed(pid, timeout):
    """Wait until process pid holds a netlink socket that joined a multicast
    group (the Groups column of /proc/net/netlink: groups 1..32 only; with a
    higher group ID, wait 3 s after the socket appears instead)."""
    deadline = time.monotonic() + timeout
    gid = family().nlproto.genl_family["mcast"]["monitor"]
    seen = None
    while time.monotonic() < deadline:
        inodes = set()
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except FileNotFoundError:
            return False
        with open("/proc/net/netlink") as f:
            for ln in f.readlines()[1:]:
                c = ln.split()
                if c[-1] in inodes and c[1] == "16":
                    if gid <= 32 and int(c[3], 16) & (1 << (gid - 1)):
                        return True
                    if gid > 32:
                        seen = seen or time.monotonic()
        if seen and time.monotonic() - seen > 3:
            return True
        time.sleep(0.1)
    return False


def cli_do(op, attrs, **kw):
    return cli("--do", op, "--json", json.dumps(attrs), **kw)
