# SPDX-License-Identifier: GPL-2.0
"""A minimal client of strongSwan's vici protocol, for bench/rekey_bench.py
and bench/rekey_throughput.py.

Why not swanctl: one swanctl process per re-key costs tens of milliseconds
of start-up under qemu TCG, the same order as the re-key itself, and would
blur the figures; one socket held open for the whole run costs nothing per
request.  (strongSwan's own Python binding is not in Debian trixie's root.)

Wire format (strongSwan's src/libcharon/plugins/vici/README.md): each packet
is a 32-bit big-endian length, then a type byte; named types (a command
request, an event (un)registration, an event) carry an 8-bit name length and
the name; then the message: a sequence of elements, each a type byte with
its arguments (8-bit-length names, 16-bit-length values).
"""

import socket
import struct
import time

# packet types
CMD_REQUEST, CMD_RESPONSE, CMD_UNKNOWN = 0, 1, 2
EVENT_REGISTER, EVENT_UNREGISTER, EVENT_CONFIRM, EVENT_UNKNOWN, EVENT = 3, 4, 5, 6, 7
NAMED = (CMD_REQUEST, EVENT_REGISTER, EVENT_UNREGISTER, EVENT)

# message elements
SECTION_START, SECTION_END, KEY_VALUE, LIST_START, LIST_ITEM, LIST_END = 1, 2, 3, 4, 5, 6


class ViciError(Exception):
    pass


def _name(s):
    b = s.encode()
    if len(b) > 255:
        raise ViciError(f"vici name too long: {s[:40]}...")
    return bytes([len(b)]) + b


def _value(v):
    b = v if isinstance(v, bytes) else str(v).encode()
    if len(b) > 65535:
        raise ViciError("vici value too long")
    return struct.pack("!H", len(b)) + b


def encode(msg):
    """A dict of str -> str/int/bytes, list or dict as a vici message."""
    out = b""
    for k, v in msg.items():
        if isinstance(v, dict):
            out += bytes([SECTION_START]) + _name(k) + encode(v) + bytes([SECTION_END])
        elif isinstance(v, (list, tuple)):
            out += bytes([LIST_START]) + _name(k)
            out += b"".join(bytes([LIST_ITEM]) + _value(i) for i in v)
            out += bytes([LIST_END])
        else:
            out += bytes([KEY_VALUE]) + _name(k) + _value(v)
    return out


def decode(data):
    """A vici message as nested dicts (values and list items as str)."""
    stack = [{}]
    lst = None
    i = 0

    def name():
        nonlocal i
        n = data[i]
        s = data[i + 1:i + 1 + n].decode(errors="replace")
        i += 1 + n
        return s

    def value():
        nonlocal i
        (n,) = struct.unpack_from("!H", data, i)
        s = data[i + 2:i + 2 + n].decode(errors="replace")
        i += 2 + n
        return s

    while i < len(data):
        t = data[i]
        i += 1
        if t == SECTION_START:
            sec = {}
            stack[-1][name()] = sec
            stack.append(sec)
        elif t == SECTION_END:
            if len(stack) == 1:
                raise ViciError("vici: unbalanced section end")
            stack.pop()
        elif t == KEY_VALUE:
            k = name()
            stack[-1][k] = value()
        elif t == LIST_START:
            lst = []
            stack[-1][name()] = lst
        elif t == LIST_ITEM:
            if lst is None:
                raise ViciError("vici: list item outside a list")
            lst.append(value())
        elif t == LIST_END:
            lst = None
        else:
            raise ViciError(f"vici: unknown element type {t}")
    if len(stack) != 1:
        raise ViciError("vici: unterminated section")
    return stack[0]


class Session:
    """One connection to charon's vici socket.  Events that arrive while a
    command waits for its response are queued for wait_event()."""

    def __init__(self, path, timeout=60):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.timeout = timeout
        self.events = []

    def close(self):
        self.sock.close()

    def _send(self, ptype, name=None, msg=None):
        body = bytes([ptype]) + (_name(name) if name is not None else b"")
        body += encode(msg or {})
        self.sock.sendall(struct.pack("!I", len(body)) + body)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ViciError("vici: connection closed by charon")
            buf += chunk
        return buf

    def _recv(self):
        """(type, name or None, message dict) of the next packet."""
        (n,) = struct.unpack("!I", self._recv_exact(4))
        data = self._recv_exact(n)
        t = data[0]
        i = 1
        name = None
        if t in NAMED:
            ln = data[1]
            name = data[2:2 + ln].decode(errors="replace")
            i = 2 + ln
        return t, name, decode(data[i:])

    def _reply(self):
        while True:
            t, name, msg = self._recv()
            if t == EVENT:
                self.events.append((time.monotonic(), name, msg))
                continue
            return t, msg

    def request(self, cmd, msg=None):
        """Run a command; its response as a dict.  Raises ViciError when
        charon does not know the command or answers success = no."""
        self.sock.settimeout(self.timeout)
        self._send(CMD_REQUEST, cmd, msg)
        t, res = self._reply()
        if t == CMD_UNKNOWN:
            raise ViciError(f"vici: unknown command {cmd}")
        if t != CMD_RESPONSE:
            raise ViciError(f"vici: {cmd}: unexpected packet type {t}")
        if res.get("success", "yes") != "yes":
            raise ViciError(f"vici: {cmd} failed: {res.get('errmsg', res)}")
        return res

    def pipeline(self, cmd, msgs):
        """Send one cmd request per message in msgs, all of them before
        reading any response, then read the responses (charon answers the
        requests of one connection in order).  Returns the responses, in
        order; raises as request() does, after all of them are read, so
        that no response is left on the socket."""
        self.sock.settimeout(self.timeout)
        for msg in msgs:
            self._send(CMD_REQUEST, cmd, msg)
        res, err = [], None
        for _ in msgs:
            t, r = self._reply()
            if t == CMD_UNKNOWN:
                err = err or ViciError(f"vici: unknown command {cmd}")
            elif t != CMD_RESPONSE:
                err = err or ViciError(f"vici: {cmd}: unexpected packet type {t}")
            elif r.get("success", "yes") != "yes":
                err = err or ViciError(f"vici: {cmd} failed: {r.get('errmsg', r)}")
            res.append(r)
        if err:
            raise err
        return res

    def register(self, event):
        self.sock.settimeout(self.timeout)
        self._send(EVENT_REGISTER, event)
        t, _ = self._reply()
        if t != EVENT_CONFIRM:
            raise ViciError(f"vici: registering for {event} failed ({t})")

    def wait_event(self, name, timeout):
        """(arrival time on CLOCK_MONOTONIC, message) of the next event
        called name, queued or to come; raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            for i, (at, n, msg) in enumerate(self.events):
                if n == name:
                    del self.events[i]
                    return at, msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no vici event {name} within {timeout} s")
            self.sock.settimeout(left)
            try:
                t, n, msg = self._recv()
            except socket.timeout:
                continue
            if t == EVENT:
                self.events.append((time.monotonic(), n, msg))
