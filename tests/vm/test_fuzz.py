#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A fuzzer of the qkd generic netlink family, driven by its YAML spec
(Documentation/netlink/specs/qkd.yaml): it reads the operations, the
attribute sets, their types, enums and checks, and generates requests for
every operation over a raw AF_NETLINK/NETLINK_GENERIC socket:

- valid requests (values within the spec's checks, pool IDs and names that
  exist or nearly do, key batches with colliding IDs);
- boundary values from the checks (min - 1, min, max, max + 1, exact-len
  +- 1, max-len + 1), enums past their last entry;
- wrong types and lengths (a u32 of 1, 2, 3, 5 or 8 bytes, a nest of raw
  bytes), missing, repeated and unknown attributes, NLA_F_NESTED set or
  not, deep nesting, random garbage, unknown commands and versions,
  truncated messages and lying length fields;
- dumps interrupted midway (socket closed after the first part, a second
  request sent mid-dump);
- several processes at once: admin workers in this namespace, one in a new
  network namespace (its pools die with it), one root without
  CAP_NET_ADMIN and one as nobody, and a monitor subscriber that reads
  slowly (its socket overflows).

The oracles: callers without CAP_NET_ADMIN get EPERM for every admin-perm
operation with a well-formed header, whatever the attributes; valid
requests get success or one of the errnos the spec documents; every reply
parses (lengths consistent); the kernel reports nothing (tools/vm-run.sh
fails the run on KASAN/lockdep/kmemleak/WARNING); and at the end every pool
of every namespace reconciles: added = taken + expired + flushed + level.

Environment: FUZZ_SECONDS (default 40), FUZZ_MESSAGES (stop after this
many, default no limit), FUZZ_SEED (default: time; every byte generated
comes from it), FUZZ_BATCH (requests per send, default 48).  `make fuzz` runs it
long on the debug kernel (tools/fuzz.sh); run.sh runs it short.
"""

import ctypes
import errno
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import time

import yaml

from qkdlab.tap import check, diag, main, test
from qkdlab import REPO
from qkdlab.pools import SPEC

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
CTRL_ATTR_MCAST_GROUPS = 7
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE = 1, 2, 3
NLA_F_NESTED = 0x8000
CAP_NET_ADMIN = 12

SECONDS = float(os.environ.get("FUZZ_SECONDS", "40"))
MESSAGES = int(os.environ.get("FUZZ_MESSAGES", "0")) or None
SEED = int(os.environ.get("FUZZ_SEED", str(int(time.time()))))
KO = os.environ.get("QKD_KO", os.path.join(REPO, "kmod/qkdpool.ko"))
# The fuzz runs under a small key memory limit: a valid pool-new at the
# spec's capacity-max (1,048,576 keys each way, about 160 MiB) is then
# refused by the limit (ENOSPC) before any allocation.  Under the default
# limit it is allowed, and on the debug kernel under qemu TCG zeroing that
# much memory (and its KASAN shadow) holds the genetlink mutex for tens of
# seconds, stalling every other process's requests: slow, not wrong, and
# not what a fuzzer is for.
FUZZ_MEM_LIMIT = 16 << 20
# requests per send (FUZZ_BATCH): the kernel takes them one after the
# other from one skb, answering each
BATCH_MAX = int(os.environ.get("FUZZ_BATCH", "48"))
# what a valid request of an admin may meet: no pool, a name taken, no
# room, a setting refused, a dump running, a tag that does not match, a
# reply too large for a batch
EXPECTED = {0, errno.ENOENT, errno.EEXIST, errno.ENOSPC, errno.EINVAL, errno.ERANGE,
            errno.EBUSY, errno.EKEYREJECTED, errno.ENOBUFS, errno.EMSGSIZE, errno.E2BIG}


# ------------------------------------------------------------ the spec

class Spec:
    def __init__(self, path):
        with open(path) as f:
            y = yaml.safe_load(f)
        self.consts = {d["name"]: d["value"] for d in y["definitions"] if d["type"] == "const"}
        self.enums = {d["name"]: len(d["entries"]) for d in y["definitions"]
                      if d["type"] in ("enum", "flags")}
        self.sets = {}
        for s in y["attribute-sets"]:
            val, attrs = 1, {}
            for a in s["attributes"]:
                val = a.get("value", val)
                attrs[a["name"]] = dict(a, value=val)
                val += 1
            self.sets[s["name"]] = attrs
        self.ops = []
        val = 1
        for o in y["operations"]["list"]:
            val = o.get("value", val)
            if "event" not in o:
                self.ops.append({
                    "name": o["name"], "cmd": val, "set": o["attribute-set"],
                    "admin": "admin-perm" in o.get("flags", []),
                    "do": (o.get("do", {}).get("request") or {}).get("attributes", [])
                    if "do" in o else None,
                    "dump": "dump" in o,
                })
            val += 1
        self.max_cmd = val

    def check(self, a, k):
        v = a.get("checks", {}).get(k)
        return self.consts.get(v, v) if isinstance(v, str) else v


# ------------------------------------------------------------- wire

def nla(atype, payload, nested=False):
    ln = 4 + len(payload)
    return struct.pack("=HH", ln, atype | (NLA_F_NESTED if nested else 0)) + payload + \
        b"\0" * ((4 - ln % 4) % 4)


def nlmsg(mtype, flags, seq, payload):
    """One message, padded to 4 bytes: the kernel takes the next message of
    a batch at NLMSG_ALIGN(nlmsg_len), and a header it cannot read there
    ends the batch silently (the rest, sentinel included, unanswered)."""
    m = struct.pack("=IHHII", 16 + len(payload), mtype, flags, seq, 0) + payload
    return m + b"\0" * ((4 - len(m) % 4) % 4)


def genl(cmd, attrs, version=1):
    return struct.pack("=BBH", cmd, version, 0) + attrs


def parse_attrs(b):
    """Attributes of b; raises ValueError when a length is inconsistent."""
    out, off = [], 0
    while off + 4 <= len(b):
        ln, t = struct.unpack_from("=HH", b, off)
        if ln < 4 or off + ln > len(b):
            raise ValueError(f"attribute length {ln} at {off} of {len(b)}")
        out.append((t & 0x3fff, b[off + 4:off + ln]))
        off += (ln + 3) & ~3
    return out


def open_sock(rcvbuf=1 << 20):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.setsockopt(270, 11, 1)     # NETLINK_EXT_ACK
    # NETLINK_CAP_ACK: an error does not echo the request (a batch of
    # 512-key requests would overflow the receive buffer)
    s.setsockopt(270, 10, 1)
    s.bind((0, 0))
    return s


def resolve(sock):
    sock.send(nlmsg(GENL_ID_CTRL, NLM_F_REQUEST, 1,
                    genl(CTRL_CMD_GETFAMILY, nla(CTRL_ATTR_FAMILY_NAME, b"qkd\0"))))
    data = sock.recv(65536)
    ln, t = struct.unpack_from("=IH", data)
    if t == NLMSG_ERROR:
        raise RuntimeError(f"family qkd: errno {-struct.unpack_from('=i', data, 16)[0]}")
    fid, groups = None, {}
    for at, p in parse_attrs(data[20:ln]):
        if at == CTRL_ATTR_FAMILY_ID:
            fid = struct.unpack("=H", p[:2])[0]
        elif at == CTRL_ATTR_MCAST_GROUPS:
            for _, g in parse_attrs(p):
                d = dict(parse_attrs(g))
                groups[d[1].rstrip(b"\0").decode()] = struct.unpack("=I", d[2])[0]
    return fid, groups


# -------------------------------------------------------- generation

NAMES = [f"fz{i}" for i in range(6)]


class Gen:
    def __init__(self, spec, rng):
        self.s, self.r = spec, rng
        self.ids = set()
        self.key_ids = [rng.randbytes(16) for _ in range(24)]

    def u32(self, a):
        r, s = self.r, self.s
        lo, hi = s.check(a, "min"), s.check(a, "max")
        if "enum" in a:
            n = s.enums[a["enum"]]
            return r.choice([r.randrange(n)] * 6 + [n, n + 1, 0xffffffff])
        if a["name"] == "id":
            return r.choice(list(self.ids) * 4 + [r.randrange(1, 32), 0, 0xffffffff]
                            if self.ids else [r.randrange(1, 32), 0, 0xffffffff])
        if r.random() < 0.25:
            b = [0, 1, 0xffffffff, 0x7fffffff]
            for v in (lo, hi):
                if v is not None:
                    b += [v - 1, v, v + 1]
            return r.choice(b) & 0xffffffff
        lo = lo if lo is not None else 0
        hi = min(hi if hi is not None else 600, 600)
        return r.randrange(lo, max(lo + 1, hi + 1))

    def value(self, a, depth=0):
        r, t = self.r, a["type"]
        if t == "u32":
            return struct.pack("=I", self.u32(a)), False
        if t == "uint":
            v = r.choice([0, 1, r.randrange(1 << 32), (1 << 64) - 1])
            return (struct.pack("=Q", v) if v >= 1 << 32 or r.random() < 0.3
                    else struct.pack("=I", v)), False
        if t == "string":
            mx = self.s.check(a, "max-len") or 64
            c = r.random()
            if c < 0.7:
                v = r.choice(NAMES).encode()
            elif c < 0.8:
                v = b"x" * r.choice([mx, mx + 1, 0, 1])
            elif c < 0.9:
                v = r.choice([b"a b", b"\x01\x7f", b"\xff\xfe", b"a\0b"])
            else:
                return r.randbytes(r.randrange(80)), False
            return v + (b"\0" if r.random() < 0.95 else b""), False
        if t == "binary":
            n = self.s.check(a, "exact-len")
            if a["name"] in ("id", "key-id") and n == 16 and r.random() < 0.8:
                return r.choice(self.key_ids), False
            if n is None:
                n = r.choice([16, 32, 32, 32, 64])
            if r.random() < 0.2:
                n = r.choice([0, 1, n - 1, n + 1, 2 * n])
            return r.randbytes(max(n, 0)), False
        if t == "nest":
            sub = self.s.sets[a["nested-attributes"]]
            body = b""
            for sa in sub.values():
                if r.random() < 0.85:
                    body += nla(sa["value"], self.value(sa, depth + 1)[0])
            return body, True
        return r.randbytes(r.randrange(9)), False

    def attrs(self, op):
        r, aset = self.r, self.s.sets[op["set"]]
        out = []
        names = op["do"] or []
        for n in names:
            a = aset[n]
            if r.random() < (0.95 if n in ("id", "direction", "key", "name", "ke-outcome")
                             else 0.5):
                reps = r.randrange(1, 9) if a.get("multi-attr") else 1
                if a.get("multi-attr") and r.random() < 0.02:
                    reps = r.choice([self.s.consts["batch-max"], self.s.consts["batch-max"] + 1])
                for _ in range(reps):
                    v, nested = self.value(a)
                    out.append((a["value"], v, nested))
        return out

    def mutate(self, attrs):
        r = self.r
        maxt = max(a["value"] for a in self.s.sets["pool"].values())
        for _ in range(r.randrange(1, 4)):
            c = r.randrange(9)
            if c == 0 and attrs:
                attrs.pop(r.randrange(len(attrs)))                  # missing
            elif c == 1 and attrs:
                attrs.append(r.choice(attrs))                       # repeated
            elif c == 2 and attrs:                                  # wrong length
                i = r.randrange(len(attrs))
                t, v, n = attrs[i]
                attrs[i] = (t, r.randbytes(r.choice([0, 1, 2, 3, 5, 8, 17, 300])), n)
            elif c == 3:                                            # unknown type
                attrs.append((r.choice([0, maxt + 1, maxt + 7, 0x3fff]), r.randbytes(4), False))
            elif c == 4 and attrs:                                  # nested flag flipped
                i = r.randrange(len(attrs))
                t, v, n = attrs[i]
                attrs[i] = (t, v, not n)
            elif c == 5:                                            # deep nesting
                body = r.randbytes(4)
                for _ in range(r.randrange(2, 40)):
                    body = nla(r.randrange(1, maxt + 2), body, nested=True)
                attrs.append((r.randrange(1, maxt + 2), body, True))
            elif c == 6 and attrs:                                  # garbage payload
                i = r.randrange(len(attrs))
                t, v, n = attrs[i]
                attrs[i] = (t, r.randbytes(len(v)), n)
            elif c == 7:                                            # a key nest of raw bytes
                attrs.append((self.s.sets["pool"]["key"]["value"], r.randbytes(r.randrange(40)),
                              r.random() < 0.5))
            else:
                r.shuffle(attrs)
        return attrs

    def message(self, fid, seq):
        """(bytes, op or None, kind): one request."""
        r, s = self.r, self.s
        op = r.choice(s.ops)
        c = r.random()
        flags = NLM_F_REQUEST | NLM_F_ACK
        if c < 0.05:                                                # garbage
            body = genl(r.randrange(0, s.max_cmd + 3), r.randbytes(r.randrange(64)),
                        version=r.randrange(256))
            return nlmsg(fid, flags | r.choice([0, NLM_F_DUMP]), seq, body), None, "garbage"
        if op["dump"] and (op["do"] is None or r.random() < 0.15):
            return nlmsg(fid, flags | NLM_F_DUMP, seq, genl(op["cmd"], b"")), op, "dump"
        if op["do"] is None:
            return nlmsg(fid, flags, seq, genl(op["cmd"], b"")), op, "mutated"
        attrs = self.attrs(op)
        kind = "valid"
        if c < 0.45:
            attrs = self.mutate(attrs)
            kind = "mutated"
        body = b"".join(nla(t, v, n) for t, v, n in attrs)
        return nlmsg(fid, flags, seq, genl(op["cmd"], body)), op, kind


# ------------------------------------------------------------ workers

def drop_net_admin():
    """Root without CAP_NET_ADMIN (capset(2), version 3)."""
    libc = ctypes.CDLL(None, use_errno=True)
    hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capget(hdr, data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    # {effective, permitted, inheritable} of the low word, then the high
    for i in (0, 1, 2):
        data[i] &= ~(1 << CAP_NET_ADMIN)
    if libc.capset(hdr, data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


class Tally:
    def __init__(self):
        self.sent = self.replies = self.unexpected = self.overruns = 0
        self.errnos = {}
        self.notes = []

    def bad(self, what):
        self.unexpected += 1
        if len(self.notes) < 10:
            self.notes.append(what)


def sentinel(seq):
    """NLMSG_NOOP with an ack: netlink acks it without calling a family
    (cheap on the debug kernel, unlike a ctrl getfamily, whose reply is
    built from the whole family); not counted as a message sent."""
    return nlmsg(NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, seq, b"")


def exchange(sock, fid, gen, tally, role, seq0, rng):
    """One batch: 1-BATCH_MAX requests in one send, then a sentinel (a
    NOOP with an ack): netlink answers a socket in order, so every reply to
    the batch has come when the sentinel's ack does.  Batches, not one
    request per send: on the debug kernel a system call and the Python
    around it cost as much as a request."""
    batch, meta, seq = b"", {}, seq0
    broken = False
    for _ in range(rng.randrange(1, BATCH_MAX + 1)):
        seq += 1
        m, op, kind = gen.message(fid, seq)
        if rng.random() < 0.03:                                     # framing
            cut = rng.randrange(1, len(m))
            m = rng.choice([m[:cut], m[:4] + struct.pack("=H", rng.randrange(16)) + m[6:],
                            struct.pack("=I", len(m) + rng.randrange(1, 64)) + m[4:]])
            broken = True
            batch += m
            tally.sent += 1
            break
        batch += m
        meta[seq] = (op, kind)
        tally.sent += 1
        if len(batch) > 100000:         # below the socket's send buffer
            break
    seq += 1
    if broken:
        sock.send(batch)
        sock.send(sentinel(seq))
    else:
        sock.send(batch + sentinel(seq))
    last = seq
    done = False
    deadline = time.monotonic() + 30
    while not done:
        if not select.select([sock], [], [], max(0.0, deadline - time.monotonic()))[0]:
            what = ", ".join(f"{op['name'] if op else '?'}/{k}" for op, k in meta.values())
            tally.bad(f"{role}: no answer to the sentinel within 30 s; the batch: {what}"
                      f"{' (framing broken)' if broken else ''}")
            return seq
        try:
            data = sock.recv(1 << 17)
        except OSError as e:
            if e.errno != errno.ENOBUFS:
                raise
            # Answers were dropped (the receive buffer overflowed), maybe
            # the sentinel's: ask again.
            tally.overruns += 1
            seq += 1
            last = seq
            sock.send(sentinel(seq))
            continue
        off = 0
        while off + 16 <= len(data):
            ln, t, fl, sq, _ = struct.unpack_from("=IHHII", data, off)
            if ln < 16 or off + ln > len(data):
                tally.bad(f"{role}: reply length {ln} at {off} of {len(data)}")
                break
            body = data[off + 16:off + ln]
            off += (ln + 3) & ~3
            tally.replies += 1
            if t == NLMSG_ERROR:
                err = -struct.unpack_from("=i", body)[0]
                if sq == last:
                    done = True
                    continue
                tally.errnos[err] = tally.errnos.get(err, 0) + 1
                op, kind = meta.get(sq, (None, None))
                if op is None:
                    continue
                if role in ("nocap", "nobody") and op["admin"]:
                    if err != errno.EPERM:
                        tally.bad(f"{role}: {op['name']} ({kind}) answered errno {err}, not EPERM")
                elif kind == "valid" and err not in EXPECTED:
                    tally.bad(f"{role}: valid {op['name']} answered errno {err}")
            elif t == NLMSG_DONE:
                continue
            elif t == fid:
                try:
                    for at, p in parse_attrs(body[4:]):
                        if at == 1 and len(p) == 4:                 # a pool ID
                            gen.ids.add(struct.unpack("=I", p)[0])
                except ValueError as e:
                    tally.bad(f"{role}: reply does not parse: {e}")
            elif t == GENL_ID_CTRL:
                continue
    return seq


def interrupted_dump(fid, rng, tally):
    """A pool-get dump abandoned after its first part, or disturbed by a
    second request on the same socket."""
    s = open_sock(rcvbuf=4096)
    try:
        s.send(nlmsg(fid, NLM_F_REQUEST | NLM_F_DUMP, 1, genl(3, b"")))
        tally.sent += 1
        if rng.random() < 0.5:
            s.send(nlmsg(fid, NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK, 2, genl(3, b"")))
            tally.sent += 1
        if select.select([s], [], [], 5)[0]:
            s.recv(4096)
    finally:
        s.close()


PROGRESS_EVERY = 30     # s between a worker's progress lines


def worker(role, seed, deadline, budget, fd, stop_fd):
    """One fuzzing process.  It writes "P <sent>" lines to fd as it goes
    and "R <result>" at the end.  The monitor sends nothing, so no message
    budget ends it: it stops when the parent closes stop_fd, after every
    other worker has finished (it did not, and a 1,000,000-message run
    waited on it for ever)."""
    rng = random.Random(seed)
    tally = Tally()
    last_progress = time.monotonic()
    try:
        if role == "netns":
            os.unshare(os.CLONE_NEWNET)
        if role == "nocap":
            drop_net_admin()
        if role == "nobody":
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        spec = Spec(SPEC)
        sock = open_sock()
        fid, groups = resolve(sock)
        gen = Gen(spec, rng)
        if role == "monitor":
            mon = open_sock(rcvbuf=4096)
            mon.setsockopt(270, 1, groups["monitor"])           # NETLINK_ADD_MEMBERSHIP
        seq = 100
        while time.monotonic() < deadline and (budget is None or tally.sent < budget
                                                or role == "monitor"):
            if time.monotonic() - last_progress >= PROGRESS_EVERY:
                last_progress = time.monotonic()
                os.write(fd, f"P {tally.sent}\n".encode())
            if role == "monitor":
                if select.select([stop_fd], [], [], 0.5)[0]:
                    break
                try:
                    while select.select([mon], [], [], 0)[0]:
                        mon.recv(65536)
                except OSError as e:
                    if e.errno != errno.ENOBUFS:
                        raise
                continue
            if role == "dumper":
                interrupted_dump(fid, rng, tally)
                seq = exchange(sock, fid, gen, tally, role, seq, rng)
                continue
            seq = exchange(sock, fid, gen, tally, role, seq, rng)
        if role == "netns":
            tally.notes += reconcile_all(sock, fid)
            tally.unexpected += len(tally.notes)
    except Exception as e:          # noqa: BLE001
        tally.bad(f"{role}: {type(e).__name__}: {e}")
    cpu = os.times()
    os.write(fd, b"R " + repr((role, tally.sent, tally.replies, tally.unexpected,
                               tally.notes, tally.errnos, cpu.user, cpu.system)).encode())
    os.close(fd)
    os._exit(0)


# ----------------------------------------------------------- checking

def dump_pools(sock, fid):
    sock.send(nlmsg(fid, NLM_F_REQUEST | NLM_F_DUMP, 7, genl(3, b"")))
    pools = []
    while True:
        data = sock.recv(1 << 17)
        off = 0
        while off + 16 <= len(data):
            ln, t, _, sq, _ = struct.unpack_from("=IHHII", data, off)
            body = data[off + 16:off + ln]
            off += (ln + 3) & ~3
            if t == NLMSG_DONE:
                return pools
            if t == NLMSG_ERROR:
                raise RuntimeError(f"dump: errno {-struct.unpack_from('=i', body)[0]}")
            if sq == 7 and t == fid:
                pools.append(parse_attrs(body[4:]))


def reconcile_all(sock, fid):
    spec = Spec(SPEC)
    pa, st = spec.sets["pool"], spec.sets["stats"]
    num = {v["value"]: k for k, v in st.items()}
    bad = []
    for p in dump_pools(sock, fid):
        name = next((v for t, v in p if t == pa["name"]["value"]), b"?")
        for d in ("stats-out", "stats-in"):
            nest = next((v for t, v in p if t == pa[d]["value"]), None)
            if nest is None:
                bad.append(f"pool {name!r}: no {d}")
                continue
            c = {}
            for t, v in parse_attrs(nest):
                c[num.get(t, t)] = int.from_bytes(v, sys.byteorder)
            g = {k: c.get(k, 0) for k in ("added", "taken", "expired", "flushed", "level")}
            if g["added"] != g["taken"] + g["expired"] + g["flushed"] + g["level"]:
                bad.append(f"pool {name!r} {d}: {g} does not reconcile")
    return bad


# FUZZ_ROLES="admin nobody" runs only those processes (to narrow a finding)
ROLES = os.environ.get("FUZZ_ROLES", "admin admin netns nocap nobody monitor dumper").split()


def reload_module(*params):
    for cmd in (["rmmod", "qkdpool"], ["insmod", KO, *params]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        check(p.returncode == 0, f"{' '.join(cmd)}: {p.stderr.strip()}")


@test(f"fuzz: spec-driven requests from {len(ROLES)} processes (admin, another netns, "
      f"no CAP_NET_ADMIN, nobody, monitor, interrupted dumps) for "
      f"{f'{MESSAGES:,} messages' if MESSAGES else f'{SECONDS:g} s'}: "
      "expected answers only, counters reconcile")
def fuzz():
    reload_module(f"mem_limit={FUZZ_MEM_LIMIT}")
    try:
        run_fuzz()
    finally:
        reload_module()


def collect(kids, stop_w, t0):
    """The workers' results, printing the messages sent so far every
    PROGRESS_EVERY s (a long run that stops making progress shows where);
    the monitor is told to stop once every other worker has finished."""
    bufs = {rfd: b"" for _, rfd, _ in kids}
    sent = {rfd: 0 for _, rfd, _ in kids}
    role_of = {rfd: role for _, rfd, role in kids}
    open_fds = set(bufs)
    last = time.monotonic()
    while open_fds:
        senders = [fd for fd in open_fds if role_of[fd] != "monitor"]
        if not senders and stop_w is not None:
            os.close(stop_w)
            stop_w = None
        for fd in select.select(list(open_fds), [], [], PROGRESS_EVERY)[0]:
            b = os.read(fd, 65536)
            if not b:
                open_fds.discard(fd)
                continue
            bufs[fd] += b
            while not bufs[fd].startswith(b"R ") and b"\n" in bufs[fd]:
                line, bufs[fd] = bufs[fd].split(b"\n", 1)
                sent[fd] = int(line.split()[1])
        if time.monotonic() - last >= PROGRESS_EVERY:
            last = time.monotonic()
            n, dt = sum(sent.values()), last - t0
            print(f"# progress: {n} messages in {dt:.0f} s ({n / dt:.0f}/s); still running: "
                  f"{', '.join(sorted(role_of[fd] for fd in open_fds))}", flush=True)
    if stop_w is not None:
        os.close(stop_w)
    results = []
    for pid, rfd, role in kids:
        os.close(rfd)
        os.waitpid(pid, 0)
        b = bufs[rfd]
        results.append(eval(b[2:].decode()) if b.startswith(b"R ") else
                       (role, 0, 0, 1, [f"{role}: died without a result"], {}, 0, 0))
    return results


def run_fuzz():
    spec = Spec(SPEC)
    check(len(spec.ops) >= 9, f"only {len(spec.ops)} operations read from the spec")
    diag(f"seed {SEED}; operations: {', '.join(o['name'] for o in spec.ops)}")
    deadline = time.monotonic() + SECONDS
    budget = None if MESSAGES is None else -(-MESSAGES // max(1, len(ROLES) - 1))
    kids = []
    t0 = time.monotonic()
    stop_r, stop_w = os.pipe()
    for i, role in enumerate(ROLES):
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            os.close(stop_w)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            worker(role, SEED * 100 + i, deadline, budget, wfd, stop_r)
        os.close(wfd)
        kids.append((pid, rfd, role))
    os.close(stop_r)
    results = collect(kids, stop_w, t0)
    dt = time.monotonic() - t0
    sent = sum(r[1] for r in results)
    unexpected = sum(r[3] for r in results)
    errnos = {}
    for r in results:
        for k, v in r[5].items():
            errnos[k] = errnos.get(k, 0) + v
        for n in r[4]:
            diag(n)
    diag(f"{sent} messages in {dt:.1f} s: {sent / dt:.0f} messages/s; per process: " +
         ", ".join(f"{r[0]} {r[1]}" for r in results))
    # where the time goes: the fuzzer's Python (user) or the kernel (system)
    diag(f"CPU of the processes: user {sum(r[6] for r in results):.1f} s, "
         f"system {sum(r[7] for r in results):.1f} s")
    diag("errnos: " + ", ".join(f"{errno.errorcode.get(k, k)} {v}"
                                for k, v in sorted(errnos.items(), key=lambda x: -x[1])))
    print(f"@@FUZZ@@ messages={sent} seconds={dt:.1f} rate={sent / dt:.0f} "
          f"unexpected={unexpected}", flush=True)
    sock = open_sock()
    fid, _ = resolve(sock)
    bad = reconcile_all(sock, fid)
    diag(f"{len(dump_pools(sock, fid))} pools left in this namespace")
    check(not bad, "counters do not reconcile: " + "; ".join(bad[:5]))
    check(unexpected == 0, f"{unexpected} unexpected answers (first ones above)")
    check(sent > 0, "no message sent")


if __name__ == "__main__":
    main()
