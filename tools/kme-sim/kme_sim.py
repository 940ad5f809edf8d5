#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
NAME
    kme_sim.py - simulated QKD key management entities (ETSI GS QKD 014)

SYNOPSIS
    kme_sim.py [--config FILE] [--kme ID@ADDR:PORT=SAE[,SAE...]]...
               [--link KME1,KME2[,KEY=VALUE...]]... [--tls-dir DIR] [--ca FILE]
               [--control ADDR:PORT] [--manual-clock] [--ready-file FILE]
               [--lifetime SECONDS] [-v] [FOREIGN KME MODES...]

DESCRIPTION
    Serves the ETSI GS QKD 014 V1.1.1 REST key delivery API for several
    KMEs at once, one per node, each on its own address and port, over HTTPS
    with mutual TLS.  QKD links between pairs of KMEs produce identical keys
    with identical key IDs (UUIDs) at both ends, at a configured rate, up to
    max_key_count stored keys.  A plain-HTTP control interface on loopback
    cuts and restores links, injects faults and reports statistics.  It is a
    test and demo tool: keys come from os.urandom, nothing is persistent.

    The caller's SAE ID is the CN of its client certificate (or, failing
    that, one of its DNS SANs) which must be signed by the configured CA.
    A KME answers only the SAEs attached to it (others get 401).

    API (per KME, https://ADDR:PORT):
      GET  /api/v1/keys/{slave_SAE_ID}/status
      POST /api/v1/keys/{slave_SAE_ID}/enc_keys   {"number": N, "size": BITS}
      GET  /api/v1/keys/{slave_SAE_ID}/enc_keys?number=N&size=BITS
      POST /api/v1/keys/{master_SAE_ID}/dec_keys  {"key_IDs": [{"key_ID": ID}]}
      GET  /api/v1/keys/{master_SAE_ID}/dec_keys?key_ID=ID
    Keys handed out by enc_keys are reserved for the slave SAE at the peer
    KME, which hands each out exactly once through dec_keys.  A request for
    size S bits uses ceil(S / key_size) stored keys.  Errors use the ETSI
    format {"message": TEXT, "details": [OBJECT...]}: 400 for a bad request
    (bad JSON or parameters, unknown SAE or key ID, no link), 401 for a
    caller not attached to the KME, 503 when the link is cut or has too few
    keys (or, with "on_shortage": "partial", fewer keys are returned).

OPTIONS
    --config FILE     JSON configuration (see CONFIGURATION); --kme and
                      --link add to it.
    --kme ID@ADDR:PORT=SAE[,SAE...]
                      a KME (IPv6 as [ADDR]:PORT; port 0 = ephemeral).
    --link KME1,KME2[,KEY=VALUE...]
                      a QKD link; KEYs are those of a link object below,
                      e.g. --link KME_A,KME_B,rate=10000,max_key_count=1000
    --tls-dir DIR     where certificates are by default: DIR/ca.crt,
                      DIR/<KME ID>.crt and .key, DIR/rogue-server.crt/.key
                      (as made by mkcerts.sh).
    --ca FILE         CA that client certificates must chain to.
    --control ADDR:PORT
                      control interface (loopback only; default 127.0.0.1:0).
    --manual-clock    time stands still except through POST /clock.
    --ready-file FILE once every socket listens, write a JSON object with
                      the pid and the actual addresses and ports there
                      (the same line is also printed on stdout).
    --lifetime SECONDS  exit by itself after this long (0 = never).
    -v, --verbose     log each request (never key material) on stderr.

FOREIGN KME MODES
    Behaviours of KMEs in the field that ETSI GS QKD 014 allows or that
    vendors' KMEs show, for testing clients against them.  Each is off by
    default, applies to every KME, and can be switched at run time
    (POST /quirks).  Names on the command line, with "_" in the control
    interface:
    --status-missing-fields  status omits stored_key_count,
                      max_key_per_request, max_key_size and min_key_size
    --numbers-as-strings  status sends its integers as JSON strings ("256")
    --status-error    status answers 500 (an ETSI error body)
    --uppercase-ids   key IDs are upper-case UUIDs, matched exactly
    --non-uuid-ids    key IDs are not UUIDs ("QKD:" + base64 of 16 random
                      bytes, with + / =), matched exactly
    --dec-post-only   dec_keys by GET answers 405
    --dec-get-only    dec_keys by POST answers 405
    --empty-400       too few stored keys for enc_keys: 400 "try again
                      later" instead of 503
    --unknown-500-nobody  dec_keys of an unknown key ID: 500 with an empty
                      body instead of 400 with an ETSI error
    --dec-keeps       dec_keys leaves the keys reserved: a second dec_keys
                      of the same IDs succeeds (--dec-consumes, the
                      default: it fails with "key not found")

CONFIGURATION
    {
      "tls_dir": "pki",                  (relative paths: to the file's dir)
      "ca": "pki/ca.crt",                (default TLS_DIR/ca.crt)
      "clock": "real",                   ("manual": see POST /clock)
      "control": {"address": "127.0.0.1", "port": 0},
      "defaults": {...link keys...},     (for every link)
      "quirks": ["uppercase_ids", ...],  (FOREIGN KME MODES, "_" names)
      "kmes": [
        {"id": "KME_A", "address": "127.0.0.1", "port": 8443,
         "saes": ["SAE_A"], "cert": "...", "key": "..."}, ...],
      "links": [
        {"id": "A-B", "kmes": ["KME_A", "KME_B"],
         "rate": 10000,                  (bit/s; 0 = unlimited)
         "max_key_count": 10000, "key_size": 256,
         "min_key_size": 64, "max_key_size": 1024,
         "max_key_per_request": 128,
         "on_shortage": "503"}, ...]     ("503" or "partial")
    }
    An SAE is attached to exactly one KME.  A link's default id is
    "KME1-KME2".

CONTROL INTERFACE (plain HTTP, JSON bodies and answers)
    GET    /state                    everything: clock, KMEs, links, stats
    GET    /kmes/ID, /links/ID       one of them
    POST   /links/ID/cut             {"keep_stored": false} stops key
                                     generation and discards stored keys
                                     (already reserved keys stay)
    POST   /links/ID/restore         key generation resumes
    POST   /links/ID/set             {"rate": BPS, "max_key_count": N}
    POST   /links/ID/flush           discard the stored keys
    POST   /kmes/ID/faults           {"type": T, "count": N, "endpoint": E,
                                      "delay": S, "status": CODE}
                                     -> {"id": FAULT_ID}
    GET    /kmes/ID/faults
    DELETE /kmes/ID/faults[/FAULT_ID], DELETE /faults (all KMEs)
    POST   /clock                    {"advance": SECONDS}
    GET    /quirks                   the foreign KME modes, name -> bool
    POST   /quirks                   {"uppercase_ids": true, ...}: set the
                                     modes named, leave the others
    POST   /shutdown
    Fault types (count: the next N requests, or N connections for tls_*;
    absent or null = until cleared; endpoint: status, enc_keys, dec_keys or
    any, the default):
      garbage_json      200 with a truncated, unparsable JSON body
      wrong_key_size    keys one byte shorter than asked (enc/dec_keys)
      duplicate_key_ids two entries share a key_ID (enc/dec_keys)
      http_error        an ETSI error with "status" (default 503)
      slow              wait "delay" seconds (max 600), then answer normally
      drop_connection   read the request, close without an answer
      tls_close         close the connection before the TLS handshake
      tls_wrong_ca      present a server certificate from another CA

EXIT STATUS
    0 after --lifetime, SIGTERM, SIGINT or POST /shutdown; 2 on a bad
    configuration; 1 on other startup errors.

SEE ALSO
    Documentation/kme-sim.rst, tools/kme-sim/mkcerts.sh
"""

import argparse
import base64
import collections
import http.server
import ipaddress
import json
import os
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 30.0
MAX_BODY = 1 << 20
MAX_REQUESTS_PER_CONNECTION = 100000
MAX_KEY_COUNT_LIMIT = 1000000
MAX_RESERVED = 1000000
MAX_CONNECTIONS = 256          # per KME, at once
MAX_DELAY = 600.0
MAX_FAULTS_PER_KME = 64

FAULT_TYPES = ("garbage_json", "wrong_key_size", "duplicate_key_ids",
               "http_error", "slow", "drop_connection", "tls_close",
               "tls_wrong_ca")
TLS_FAULTS = ("tls_close", "tls_wrong_ca")
KEY_FAULTS = ("wrong_key_size", "duplicate_key_ids")
ENDPOINTS = ("status", "enc_keys", "dec_keys", "any")

LINK_DEFAULTS = {
    "rate": 10000,
    "max_key_count": 10000,
    "key_size": 256,
    "min_key_size": 64,
    "max_key_size": 1024,
    "max_key_per_request": 128,
    "on_shortage": "503",
}


# Foreign KME modes (see FOREIGN KME MODES): name -> help.
QUIRKS = {
    "status_missing_fields": "status omits four of its six integer fields",
    "numbers_as_strings": "status sends its integers as strings",
    "status_error": "status answers 500",
    "uppercase_ids": "key IDs are upper-case UUIDs, matched exactly",
    "non_uuid_ids": "key IDs are not UUIDs, matched exactly",
    "dec_post_only": "dec_keys by GET answers 405",
    "dec_get_only": "dec_keys by POST answers 405",
    "empty_400": "too few keys for enc_keys: 400 instead of 503",
    "unknown_500_nobody": "dec_keys of an unknown ID: 500, empty body",
    "dec_keeps": "dec_keys does not consume: a second one succeeds",
}
STATUS_OPTIONAL = ("stored_key_count", "max_key_per_request", "max_key_size",
                   "min_key_size")


class ConfigError(Exception):
    pass


class EtsiError(Exception):
    """An answer in the ETSI error format."""

    def __init__(self, status, message, details=None, nobody=False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []
        self.nobody = nobody        # an empty body, not the ETSI format

    def body(self):
        return {"message": self.message, "details": self.details}


def log(msg):
    sys.stderr.write("kme_sim: %s\n" % msg)
    sys.stderr.flush()


class Clock:
    """Monotonic time plus an offset; 'manual' clocks move only by advance()."""

    def __init__(self, manual=False):
        self.manual = manual
        self.offset = 0.0

    def now(self):
        if self.manual:
            return self.offset
        return time.monotonic() + self.offset

    def advance(self, seconds):
        self.offset += seconds


def _new_keys(n, nbytes):
    """n fresh (key_ID, material) pairs."""
    ids = os.urandom(16 * n)
    mat = os.urandom(nbytes * n)
    return [(str(uuid.UUID(bytes=ids[16 * i:16 * i + 16], version=4)),
             mat[nbytes * i:nbytes * i + nbytes]) for i in range(n)]


class Link:
    """A QKD link: a token bucket of identical keys shared by two KMEs.

    The bucket holds a count: key IDs and material are drawn when keys are
    handed out, not when they are generated.  A fast link refilling an
    emptied bucket (10 Mbit/s of 256-bit keys: 39,000 keys a second, up to
    max_key_count) would otherwise make Python draw every stored key under
    the simulator's lock, and every request would wait seconds for it, just
    when a link comes back from a cut.
    """

    def __init__(self, spec, now):
        self.id = spec["id"]
        self.kmes = tuple(spec["kmes"])
        self.rate = spec["rate"]
        self.max_key_count = spec["max_key_count"]
        self.key_size = spec["key_size"]
        self.min_key_size = spec["min_key_size"]
        self.max_key_size = spec["max_key_size"]
        self.max_key_per_request = spec["max_key_per_request"]
        self.on_shortage = spec["on_shortage"]
        self.up = True
        self.stored = 0             # keys generated and not handed out
        self.frac_bits = 0.0
        self.last = now
        self.stats = collections.Counter(generated=0, handed_out=0,
                                         delivered=0, discarded=0)

    def refill(self, now):
        if self.rate == 0 or not self.up:
            self.last = now
            return
        dt = max(0.0, now - self.last)
        self.last = now
        bits = self.frac_bits + dt * self.rate
        # a hair of slack so that float rounding of dt never loses a key
        n = int((bits + 1e-6) // self.key_size)
        self.frac_bits = max(0.0, bits - n * self.key_size)
        room = self.max_key_count - self.stored
        if n >= room:
            n = max(0, room)
            self.frac_bits = 0.0      # a full bucket stores no credit
        if n:
            self.stored += n
            self.stats["generated"] += n

    def available(self, now):
        self.refill(now)
        if not self.up:
            return 0
        if self.rate == 0:
            return self.max_key_count
        return self.stored

    def take(self, n):
        """n keys out of the bucket (the caller checked available())."""
        if self.rate == 0:
            self.stats["generated"] += n
        else:
            self.stored -= n
        return _new_keys(n, self.key_size // 8)

    def discard(self):
        self.stats["discarded"] += self.stored
        self.stored = 0
        self.frac_bits = 0.0

    def info(self, now, reserved):
        return {
            "id": self.id, "kmes": list(self.kmes), "up": self.up,
            "rate": self.rate, "max_key_count": self.max_key_count,
            "key_size": self.key_size, "min_key_size": self.min_key_size,
            "max_key_size": self.max_key_size,
            "max_key_per_request": self.max_key_per_request,
            "on_shortage": self.on_shortage,
            "stored_key_count": self.available(now),
            "reserved_key_count": reserved,
            "stats": dict(self.stats),
        }


class Fault:
    _next_id = 1

    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("fault must be a JSON object")
        unknown = set(spec) - {"type", "count", "endpoint", "delay", "status"}
        if unknown:
            raise ValueError("unknown fault keys: %s" % ", ".join(sorted(unknown)))
        self.type = spec.get("type")
        if self.type not in FAULT_TYPES:
            raise ValueError("type must be one of: %s" % ", ".join(FAULT_TYPES))
        count = spec.get("count")
        if count is not None and (not _is_int(count) or count < 1):
            raise ValueError("count must be a positive integer or null")
        self.remaining = count
        self.endpoint = spec.get("endpoint", "any")
        if self.endpoint not in ENDPOINTS:
            raise ValueError("endpoint must be one of: %s" % ", ".join(ENDPOINTS))
        if self.type in TLS_FAULTS and self.endpoint != "any":
            raise ValueError("tls faults act on connections, not endpoints")
        delay = spec.get("delay", 0)
        if not isinstance(delay, (int, float)) or isinstance(delay, bool) \
                or not 0 <= delay <= MAX_DELAY:
            raise ValueError("delay must be 0..%d seconds" % MAX_DELAY)
        if self.type == "slow" and "delay" not in spec:
            delay = 5
        self.delay = float(delay)
        status = spec.get("status", 503)
        if not _is_int(status) or not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error code (400..599)")
        self.status = status
        self.applied = 0
        self.id = Fault._next_id
        Fault._next_id += 1

    def matches(self, endpoint):
        if self.type in TLS_FAULTS:
            return endpoint == "tls"
        if endpoint == "tls":
            return False
        if self.type in KEY_FAULTS and endpoint not in ("enc_keys", "dec_keys"):
            return False
        return self.endpoint in ("any", endpoint)

    def info(self):
        return {"id": self.id, "type": self.type, "remaining": self.remaining,
                "endpoint": self.endpoint, "delay": self.delay,
                "status": self.status, "applied": self.applied}


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class Kme:
    def __init__(self, spec):
        self.id = spec["id"]
        self.address = spec["address"]
        self.port = spec["port"]
        self.saes = list(spec["saes"])
        self.cert = spec["cert"]
        self.key = spec["key"]
        self.faults = []
        self.server = None
        self.requests = collections.Counter()
        self.responses = collections.Counter()
        self.keys_served = {}        # SAE -> {"enc": n, "dec": n}
        self.tls = collections.Counter(handshakes=0, failed=0, refused_busy=0)

    def served(self, sae, kind, n):
        d = self.keys_served.setdefault(sae, {"enc": 0, "dec": 0})
        d[kind] += n

    def info(self):
        return {
            "id": self.id, "address": self.address, "port": self.port,
            "saes": self.saes, "faults": [f.info() for f in self.faults],
            "stats": {"requests": dict(self.requests),
                      "responses": {str(k): v for k, v in self.responses.items()},
                      "keys_served": self.keys_served, "tls": dict(self.tls)},
        }


class Simulator:
    def __init__(self, cfg):
        self.lock = threading.Lock()
        self.clock = Clock(cfg["clock"] == "manual")
        self.cfg = cfg
        self.kmes = {k["id"]: Kme(k) for k in cfg["kmes"]}
        now = self.clock.now()
        self.links = {l["id"]: Link(l, now) for l in cfg["links"]}
        self.pair = {frozenset(l.kmes): l for l in self.links.values()}
        self.home = {sae: k.id for k in self.kmes.values() for sae in k.saes}
        self.reserved = collections.OrderedDict()   # key_ID -> dict
        self.reserved_expired = 0
        self.stop = threading.Event()
        self.verbose = cfg.get("verbose", False)
        self.quirks = {q: q in cfg.get("quirks", ()) for q in QUIRKS}
        self._rogue_ctx = None
        self._rogue_tmp = None

    # ---- fault bookkeeping -------------------------------------------------
    def take_fault(self, kme, endpoint):
        with self.lock:
            for f in kme.faults:
                if f.matches(endpoint):
                    f.applied += 1
                    if f.remaining is not None:
                        f.remaining -= 1
                        if f.remaining <= 0:
                            kme.faults.remove(f)
                    return f
        return None

    # ---- ETSI 014 operations -----------------------------------------------
    def _route(self, kme, caller, slave):
        if slave not in self.home:
            raise EtsiError(400, "unknown SAE ID", [{"SAE_ID": slave}])
        if slave == caller:
            raise EtsiError(400, "slave SAE ID is the caller's own",
                            [{"SAE_ID": slave}])
        peer = self.home[slave]
        link = self.pair.get(frozenset((kme.id, peer)))
        if peer == kme.id or link is None:
            raise EtsiError(400, "no QKD link to the KME of this SAE",
                            [{"SAE_ID": slave, "source_KME_ID": kme.id,
                              "target_KME_ID": peer}])
        return link, peer

    def status(self, kme, caller, slave):
        with self.lock:
            link, peer = self._route(kme, caller, slave)
            st = {
                "source_KME_ID": kme.id,
                "target_KME_ID": peer,
                "master_SAE_ID": caller,
                "slave_SAE_ID": slave,
                "key_size": link.key_size,
                "stored_key_count": link.available(self.clock.now()),
                "max_key_count": link.max_key_count,
                "max_key_per_request": link.max_key_per_request,
                "max_key_size": link.max_key_size,
                "min_key_size": link.min_key_size,
                "max_SAE_ID_count": 0,
            }
            if self.quirks["status_error"]:
                raise EtsiError(500, "status not available")
            if self.quirks["status_missing_fields"]:
                for f in STATUS_OPTIONAL:
                    del st[f]
            if self.quirks["numbers_as_strings"]:
                st = {k: str(v) if _is_int(v) else v for k, v in st.items()}
            return st

    def enc_keys(self, kme, caller, slave, req):
        with self.lock:
            link, peer = self._route(kme, caller, slave)
            unknown = set(req) - {"number", "size", "additional_slave_SAE_IDs",
                                  "extension_mandatory", "extension_optional"}
            if unknown:
                raise EtsiError(400, "unknown parameters",
                                [{"parameter": p} for p in sorted(unknown)])
            number = req.get("number", 1)
            size = req.get("size", link.key_size)
            if not _is_int(number) or not 1 <= number <= link.max_key_per_request:
                raise EtsiError(400, "number must be 1..%d" % link.max_key_per_request,
                                [{"parameter": "number", "value": number}])
            if not _is_int(size) or size % 8 or \
                    not link.min_key_size <= size <= link.max_key_size:
                raise EtsiError(400, "size must be a multiple of 8 in %d..%d"
                                % (link.min_key_size, link.max_key_size),
                                [{"parameter": "size", "value": size}])
            if req.get("additional_slave_SAE_IDs"):
                raise EtsiError(400, "additional slave SAE IDs not supported",
                                [{"parameter": "additional_slave_SAE_IDs",
                                  "max_SAE_ID_count": 0}])
            if req.get("extension_mandatory"):
                raise EtsiError(400, "mandatory extensions not supported",
                                [{"parameter": "extension_mandatory"}])
            if not link.up:
                raise EtsiError(503, "QKD link down", [{"link": link.id}])
            units = -(-size // link.key_size)
            avail = link.available(self.clock.now())
            if avail < number * units:
                if link.on_shortage == "partial" and avail >= units:
                    number = avail // units
                elif self.quirks["empty_400"]:
                    raise EtsiError(400, "keys not available, try again later",
                                    [{"stored_key_count": avail}])
                else:
                    raise EtsiError(503, "not enough key material",
                                    [{"stored_key_count": avail,
                                      "requested": number, "size": size}])
            raw = link.take(number * units)
            keys = []
            for i in range(number):
                part = raw[i * units:(i + 1) * units]
                kid = self._issue_id(part[0][0])
                material = b"".join(m for _, m in part)[:size // 8]
                keys.append((kid, material))
                self.reserved[kid] = {"link": link.id, "master": caller,
                                      "slave": slave, "target": peer,
                                      "material": material}
            while len(self.reserved) > MAX_RESERVED:
                self.reserved.popitem(last=False)
                self.reserved_expired += 1
            link.stats["handed_out"] += number
            kme.served(caller, "enc", number)
        return keys

    def _issue_id(self, kid):
        """The key ID as this KME's mode spells it (from a fresh UUID)."""
        if self.quirks["non_uuid_ids"]:
            return "QKD:" + base64.b64encode(uuid.UUID(kid).bytes).decode()
        if self.quirks["uppercase_ids"]:
            return kid.upper()
        return kid

    def set_quirks(self, body):
        if not isinstance(body, dict):
            raise ValueError("quirks must be a JSON object")
        unknown = set(body) - set(QUIRKS)
        if unknown:
            raise ValueError("unknown quirks: %s (known: %s)"
                             % (", ".join(sorted(unknown)), ", ".join(QUIRKS)))
        for k, v in body.items():
            if not isinstance(v, bool):
                raise ValueError("%s must be true or false" % k)
        with self.lock:
            new = dict(self.quirks)
            new.update(body)
            if new["dec_post_only"] and new["dec_get_only"]:
                raise ValueError("dec_post_only and dec_get_only exclude each other")
            self.quirks = new
            return dict(new)

    def dec_keys(self, kme, caller, master, key_ids):
        with self.lock:
            if master not in self.home:
                raise EtsiError(400, "unknown SAE ID", [{"SAE_ID": master}])
            if master == caller:
                raise EtsiError(400, "master SAE ID is the caller's own",
                                [{"SAE_ID": master}])
            if not key_ids:
                raise EtsiError(400, "no key_IDs", [{"parameter": "key_IDs"}])
            if len(key_ids) > MAX_KEY_COUNT_LIMIT:
                raise EtsiError(400, "too many key_IDs", [{"parameter": "key_IDs"}])
            if len(set(key_ids)) != len(key_ids):
                raise EtsiError(400, "duplicate key_IDs", [{"parameter": "key_IDs"}])
            missing = []
            for kid in key_ids:
                r = self.reserved.get(kid)
                if r is None or r["target"] != kme.id or r["slave"] != caller \
                        or r["master"] != master:
                    missing.append({"key_ID": kid})
            if missing:
                raise EtsiError(500 if self.quirks["unknown_500_nobody"] else 400,
                                "key not found", missing,
                                nobody=self.quirks["unknown_500_nobody"])
            keys = []
            for kid in key_ids:
                r = self.reserved[kid] if self.quirks["dec_keeps"] \
                    else self.reserved.pop(kid)
                self.links[r["link"]].stats["delivered"] += 1
                keys.append((kid, r["material"]))
            kme.served(caller, "dec", len(keys))
        return keys

    # ---- control operations ------------------------------------------------
    def state(self):
        with self.lock:
            now = self.clock.now()
            pending = collections.Counter(r["link"] for r in self.reserved.values())
            return {
                "clock": {"manual": self.clock.manual, "now": now},
                "kmes": {k.id: k.info() for k in self.kmes.values()},
                "links": {l.id: l.info(now, pending[l.id])
                          for l in self.links.values()},
                "reserved_expired": self.reserved_expired,
                "quirks": dict(self.quirks),
            }

    def rogue_context(self):
        """Server context with a certificate from a CA nobody trusts."""
        with self.lock:
            if self._rogue_ctx:
                return self._rogue_ctx
            cert, key = self.cfg.get("rogue_cert"), self.cfg.get("rogue_key")
            if not (cert and key and os.path.exists(cert) and os.path.exists(key)):
                self._rogue_tmp = tempfile.TemporaryDirectory(prefix="kme-sim-")
                cert = os.path.join(self._rogue_tmp.name, "rogue.crt")
                key = os.path.join(self._rogue_tmp.name, "rogue.key")
                subprocess.run(
                    ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                     "-subj", "/CN=rogue", "-keyout", key, "-out", cert],
                    check=True, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, timeout=30)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(cert, key)
            self._rogue_ctx = ctx
            return ctx


# ---- the ETSI 014 HTTPS servers ---------------------------------------------

def _family(address):
    try:
        return socket.AF_INET6 if ipaddress.ip_address(address).version == 6 \
            else socket.AF_INET
    except ValueError:
        return socket.AF_INET


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def server_bind(self):
        # skip HTTPServer's getfqdn(): no name lookups
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class KmeServer(_Server):
    def __init__(self, sim, kme, ctx):
        self.sim, self.kme, self.ctx = sim, kme, ctx
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.address_family = _family(kme.address)
        super().__init__((kme.address, kme.port), KmeHandler)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            with self.sim.lock:
                self.kme.tls["refused_busy"] += 1
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self.slots.release()
            raise

    def finish_request(self, sock, addr):
        try:
            self._finish_request(sock, addr)
        finally:
            self.slots.release()

    def _finish_request(self, sock, addr):
        sim, kme = self.sim, self.kme
        sock.settimeout(HANDSHAKE_TIMEOUT)
        fault = sim.take_fault(kme, "tls")
        ctx = self.ctx
        if fault and fault.type == "tls_close":
            try:
                sock.settimeout(1.0)
                sock.recv(4096)             # the ClientHello, unanswered
            except OSError:
                pass
            return                          # shutdown_request() closes it
        if fault and fault.type == "tls_wrong_ca":
            try:
                ctx = sim.rogue_context()
            except Exception as e:          # noqa: BLE001 - report, go on
                log("cannot make rogue certificate: %s" % e)
                return
        try:
            tls = ctx.wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with sim.lock:
                kme.tls["failed"] += 1
            if sim.verbose:
                log("%s: TLS handshake with %s failed: %s" % (kme.id, addr[0], e))
            return
        with sim.lock:
            kme.tls["handshakes"] += 1
        try:
            tls.settimeout(IDLE_TIMEOUT)
            self.RequestHandlerClass(tls, addr, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if self.sim.verbose:
            super().handle_error(request, client_address)


def _peer_ids(cert):
    """Candidate SAE IDs of a peer certificate: CN first, then DNS SANs."""
    ids = []
    for rdn in cert.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                ids.append(v)
    for k, v in cert.get("subjectAltName", ()):
        if k in ("DNS", "URI") and v not in ids:
            ids.append(v)
    return ids


class KmeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kme-sim/1"
    sys_version = ""
    disable_nagle_algorithm = True      # headers and body go out at once
    nreq_conn = 0

    def log_message(self, fmt, *args):
        if self.server.sim.verbose:
            log("%s %s: %s" % (self.server.kme.id, self.address_string(),
                               fmt % args))

    def address_string(self):
        return self.client_address[0]

    def send_json(self, status, obj=None, raw=None):
        body = raw if raw is not None else \
            json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with self.server.sim.lock:
            self.server.kme.responses[status] += 1

    def read_body(self):
        te = self.headers.get("Transfer-Encoding")
        if te:
            self.close_connection = True
            raise EtsiError(400, "chunked bodies not supported")
        n = self.headers.get("Content-Length", "0")
        try:
            n = int(n)
        except ValueError:
            self.close_connection = True
            raise EtsiError(400, "bad Content-Length") from None
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            raise EtsiError(400, "body too large")
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        sim, kme = self.server.sim, self.server.kme
        self.nreq_conn += 1
        if self.nreq_conn >= MAX_REQUESTS_PER_CONNECTION:
            self.close_connection = True
        try:
            body = self.read_body()
        except EtsiError as e:
            self.send_json(e.status, e.body())
            return
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.split("/")
        # "", "api", "v1", "keys", SAE, endpoint
        if len(parts) != 6 or parts[1:4] != ["api", "v1", "keys"] or \
                parts[5] not in ("status", "enc_keys", "dec_keys"):
            self.send_json(404, {"message": "not found", "details": []})
            return
        sae = urllib.parse.unquote(parts[4])
        endpoint = parts[5]
        allowed = ("GET",) if endpoint == "status" else ("GET", "POST")
        if endpoint == "dec_keys":
            with sim.lock:
                if sim.quirks["dec_post_only"] and method == "GET" or \
                        sim.quirks["dec_get_only"] and method == "POST":
                    allowed = ()
        if method not in allowed:
            self.send_json(405, {"message": "method not allowed", "details": []})
            return
        with sim.lock:
            kme.requests[endpoint] += 1

        fault = sim.take_fault(kme, endpoint)
        if fault:
            if fault.type == "slow":
                sim.stop.wait(fault.delay)
            elif fault.type == "http_error":
                self.send_json(fault.status, {
                    "message": "injected fault: HTTP %d" % fault.status,
                    "details": [{"fault": fault.id}]})
                return
            elif fault.type == "garbage_json":
                self.send_json(200, raw=b'{"keys": [{"key_ID": "0000\x00\xff,,]')
                return
            elif fault.type == "drop_connection":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return

        try:
            caller = self.caller()
            query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
            if endpoint == "status":
                obj = sim.status(kme, caller, sae)
                keys = None
            elif endpoint == "enc_keys":
                req = self.enc_request(method, query, body)
                keys = sim.enc_keys(kme, caller, sae, req)
            else:
                ids = self.dec_request(method, query, body)
                keys = sim.dec_keys(kme, caller, sae, ids)
        except EtsiError as e:
            self.log_message("%s %s -> %d %s", method, endpoint, e.status, e.message)
            self.send_json(e.status, e.body(), raw=b"" if e.nobody else None)
            return

        if keys is not None:
            out = [{"key_ID": k, "key": m} for k, m in keys]
            if fault and fault.type == "wrong_key_size":
                for o in out:
                    o["key"] = o["key"][:-1]
            if fault and fault.type == "duplicate_key_ids":
                if len(out) == 1:
                    out.append(dict(out[0]))
                else:
                    out[1]["key_ID"] = out[0]["key_ID"]
            for o in out:
                o["key"] = base64.b64encode(o["key"]).decode()
            obj = {"keys": out}
            self.log_message("%s %s %s -> 200, %d keys", caller, endpoint, sae,
                             len(out))
        self.send_json(200, obj)

    def caller(self):
        kme = self.server.kme
        cert = self.connection.getpeercert() or {}
        ids = _peer_ids(cert)
        for i in ids:
            if i in kme.saes:
                return i
        raise EtsiError(401, "SAE not attached to this KME",
                        [{"SAE_ID": ids[0] if ids else None, "KME_ID": kme.id}])

    @staticmethod
    def enc_request(method, query, body):
        if method == "GET":
            req = {}
            for name in ("number", "size"):
                if name in query:
                    try:
                        req[name] = int(query[name][-1])
                    except ValueError:
                        raise EtsiError(400, "bad %s" % name,
                                        [{"parameter": name}]) from None
            return req
        if not body.strip():
            return {}
        try:
            req = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise EtsiError(400, "request body is not JSON") from None
        if not isinstance(req, dict):
            raise EtsiError(400, "request body must be a JSON object")
        return req

    @staticmethod
    def dec_request(method, query, body):
        if method == "GET":
            ids = query.get("key_ID", [])
        else:
            try:
                req = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                raise EtsiError(400, "request body is not JSON") from None
            if not isinstance(req, dict) or not isinstance(req.get("key_IDs"), list):
                raise EtsiError(400, "key_IDs must be a list",
                                [{"parameter": "key_IDs"}])
            ids = []
            for o in req["key_IDs"]:
                if not isinstance(o, dict) or not isinstance(o.get("key_ID"), str):
                    raise EtsiError(400, "each key_IDs entry needs a key_ID string",
                                    [{"parameter": "key_IDs"}])
                ids.append(o["key_ID"])
        return ids


# ---- the control interface --------------------------------------------------

class ControlServer(_Server):
    def __init__(self, sim, address, port):
        self.sim = sim
        self.address_family = _family(address)
        super().__init__((address, port), ControlHandler)

    def handle_error(self, request, client_address):
        if self.sim.verbose:
            super().handle_error(request, client_address)


class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kme-sim-control/1"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT

    def log_message(self, fmt, *args):
        if self.server.sim.verbose:
            log("control: " + fmt % args)

    def reply(self, status, obj):
        body = (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def handle_any(self, method):
        try:
            n = int(self.headers.get("Content-Length", "0"))
            if n < 0 or n > MAX_BODY:
                raise ValueError
        except ValueError:
            self.close_connection = True
            self.reply(400, {"error": "bad Content-Length"})
            return
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
        except ValueError as e:
            self.reply(400, {"error": "bad JSON: %s" % e})
            return
        parts = [urllib.parse.unquote(p)
                 for p in urllib.parse.urlsplit(self.path).path.split("/") if p]
        try:
            status, obj = self.route(method, parts, body)
        except KeyError as e:
            status, obj = 404, {"error": "no such %s" % e.args[0]}
        except ValueError as e:
            status, obj = 400, {"error": str(e)}
        self.reply(status, obj)
        if parts == ["shutdown"] and status == 200:
            self.server.sim.stop.set()

    def route(self, method, parts, body):
        sim = self.server.sim
        key = (method, len(parts), parts[0] if parts else "")
        if key == ("GET", 1, "state"):
            return 200, sim.state()
        if key == ("POST", 1, "shutdown"):
            return 200, {"stopping": True}
        if key == ("POST", 1, "clock"):
            adv = body.get("advance")
            if not isinstance(adv, (int, float)) or isinstance(adv, bool) \
                    or not 0 <= adv <= 1e7:
                raise ValueError("advance must be 0..1e7 seconds")
            with sim.lock:
                sim.clock.advance(float(adv))
                return 200, {"manual": sim.clock.manual, "now": sim.clock.now()}
        if key == ("GET", 1, "quirks"):
            with sim.lock:
                return 200, dict(sim.quirks)
        if key == ("POST", 1, "quirks"):
            return 200, sim.set_quirks(body)
        if key == ("DELETE", 1, "faults"):
            with sim.lock:
                for k in sim.kmes.values():
                    k.faults.clear()
            return 200, {"cleared": True}
        if parts and parts[0] == "links" and len(parts) >= 2:
            if parts[1] not in sim.links:
                raise KeyError("link")
            return self.link_op(method, sim, sim.links[parts[1]], parts[2:], body)
        if parts and parts[0] == "kmes" and len(parts) >= 2:
            if parts[1] not in sim.kmes:
                raise KeyError("KME")
            return self.kme_op(method, sim, sim.kmes[parts[1]], parts[2:], body)
        return 404, {"error": "no such endpoint"}

    @staticmethod
    def link_op(method, sim, link, rest, body):
        with sim.lock:
            now = sim.clock.now()
            if method == "GET" and not rest:
                pending = sum(1 for r in sim.reserved.values()
                              if r["link"] == link.id)
                return 200, link.info(now, pending)
            if method != "POST" or len(rest) != 1:
                return 404, {"error": "no such endpoint"}
            op = rest[0]
            if op == "cut":
                keep = body.get("keep_stored", False)
                if not isinstance(keep, bool):
                    raise ValueError("keep_stored must be true or false")
                link.refill(now)
                link.up = False
                if not keep:
                    link.discard()
            elif op == "restore":
                link.refill(now)
                link.up = True
                link.last = now
                link.frac_bits = 0.0
            elif op == "flush":
                link.refill(now)
                link.discard()
            elif op == "set":
                unknown = set(body) - {"rate", "max_key_count"}
                if unknown:
                    raise ValueError("unknown keys: %s" % ", ".join(sorted(unknown)))
                link.refill(now)
                if "rate" in body:
                    link.rate = _check_rate(body["rate"])
                if "max_key_count" in body:
                    link.max_key_count = _check_count(body["max_key_count"])
                    if link.stored > link.max_key_count:
                        link.stats["discarded"] += link.stored - link.max_key_count
                        link.stored = link.max_key_count
            else:
                return 404, {"error": "no such endpoint"}
            pending = sum(1 for r in sim.reserved.values() if r["link"] == link.id)
            return 200, link.info(now, pending)

    @staticmethod
    def kme_op(method, sim, kme, rest, body):
        with sim.lock:
            if method == "GET" and not rest:
                return 200, kme.info()
            if not rest or rest[0] != "faults" or len(rest) > 2:
                return 404, {"error": "no such endpoint"}
            if method == "GET" and len(rest) == 1:
                return 200, {"faults": [f.info() for f in kme.faults]}
            if method == "POST" and len(rest) == 1:
                if len(kme.faults) >= MAX_FAULTS_PER_KME:
                    raise ValueError("too many faults")
                f = Fault(body)
                kme.faults.append(f)
                return 200, f.info()
            if method == "DELETE" and len(rest) == 1:
                kme.faults.clear()
                return 200, {"cleared": True}
            if method == "DELETE":
                for f in kme.faults:
                    if str(f.id) == rest[1]:
                        kme.faults.remove(f)
                        return 200, {"cleared": f.id}
                raise KeyError("fault")
            return 404, {"error": "no such endpoint"}


# ---- configuration ------------------------------------------------------------

def _check_rate(v):
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1e12:
        raise ValueError("rate must be 0..1e12 bit/s")
    return v


def _check_count(v):
    if not _is_int(v) or not 1 <= v <= MAX_KEY_COUNT_LIMIT:
        raise ValueError("max_key_count must be 1..%d" % MAX_KEY_COUNT_LIMIT)
    return v


def _check_id(what, v):
    if not isinstance(v, str) or not v or len(v) > 200 or \
            any(c in v for c in "/?#%\0") or v != v.strip():
        raise ConfigError("bad %s ID %r" % (what, v))
    return v


def _split_addr(s, what):
    if s.startswith("["):
        addr, sep, port = s[1:].partition("]:")
    else:
        addr, sep, port = s.rpartition(":")
    if not sep or not addr:
        raise ConfigError("%s: expected ADDR:PORT, got %r" % (what, s))
    try:
        return addr, int(port)
    except ValueError:
        raise ConfigError("%s: bad port in %r" % (what, s)) from None


def _parse_value(v):
    try:
        return json.loads(v)
    except ValueError:
        return v


def build_config(args):
    """Merge --config and command line options; validate; absolute paths."""
    cfg = {}
    base = os.getcwd()
    if args.config:
        try:
            with open(args.config, encoding="utf-8") as f:
                cfg = json.load(f)
        except OSError as e:
            raise ConfigError("%s: %s" % (args.config, e.strerror)) from None
        except ValueError as e:
            raise ConfigError("%s: %s" % (args.config, e)) from None
        if not isinstance(cfg, dict):
            raise ConfigError("%s: must be a JSON object" % args.config)
        base = os.path.dirname(os.path.abspath(args.config))
    unknown = set(cfg) - {"tls_dir", "ca", "clock", "control", "defaults",
                          "kmes", "links", "rogue_cert", "rogue_key", "comment",
                          "quirks"}
    if unknown:
        raise ConfigError("unknown top-level keys: %s" % ", ".join(sorted(unknown)))

    def path(p):
        return p if p is None or os.path.isabs(p) else os.path.join(base, p)

    kmes = list(cfg.get("kmes", []))
    links = list(cfg.get("links", []))
    for s in args.kme or []:
        kid, sep, rest = s.partition("@")
        addrport, sep2, saes = rest.partition("=")
        if not sep or not sep2:
            raise ConfigError("--kme: expected ID@ADDR:PORT=SAE[,SAE...], got %r" % s)
        addr, port = _split_addr(addrport, "--kme")
        kmes.append({"id": kid, "address": addr, "port": port,
                     "saes": [x for x in saes.split(",") if x]})
    for s in args.link or []:
        f = s.split(",")
        if len(f) < 2:
            raise ConfigError("--link: expected KME1,KME2[,KEY=VALUE...], got %r" % s)
        spec = {"kmes": f[:2]}
        for kv in f[2:]:
            k, sep, v = kv.partition("=")
            if not sep:
                raise ConfigError("--link: expected KEY=VALUE, got %r" % kv)
            spec[k] = _parse_value(v)
        links.append(spec)

    tls_dir = args.tls_dir or path(cfg.get("tls_dir"))
    if tls_dir and args.tls_dir:
        tls_dir = os.path.abspath(tls_dir)
    ca = os.path.abspath(args.ca) if args.ca else path(cfg.get("ca"))
    if not ca and tls_dir:
        ca = os.path.join(tls_dir, "ca.crt")
    if not ca:
        raise ConfigError("no CA: give ca, tls_dir, --ca or --tls-dir")

    quirks = cfg.get("quirks", [])
    if not isinstance(quirks, list) or set(quirks) - set(QUIRKS):
        raise ConfigError("quirks: a list of: %s" % ", ".join(QUIRKS))
    quirks = set(quirks) | {q for q in QUIRKS if getattr(args, q, False)}
    if getattr(args, "dec_consumes", False):
        quirks.discard("dec_keeps")
    if {"dec_post_only", "dec_get_only"} <= quirks:
        raise ConfigError("dec_post_only and dec_get_only exclude each other")
    out = {"ca": ca, "kmes": [], "links": [], "quirks": sorted(quirks)}
    clock = "manual" if args.manual_clock else cfg.get("clock", "real")
    if clock not in ("real", "manual"):
        raise ConfigError('clock must be "real" or "manual"')
    out["clock"] = clock
    out["rogue_cert"] = path(cfg.get("rogue_cert")) or \
        (tls_dir and os.path.join(tls_dir, "rogue-server.crt"))
    out["rogue_key"] = path(cfg.get("rogue_key")) or \
        (tls_dir and os.path.join(tls_dir, "rogue-server.key"))

    ctl = dict(cfg.get("control", {}))
    if args.control:
        ctl["address"], ctl["port"] = _split_addr(args.control, "--control")
    ctl.setdefault("address", "127.0.0.1")
    ctl.setdefault("port", 0)
    try:
        if not ipaddress.ip_address(ctl["address"]).is_loopback:
            raise ValueError
    except ValueError:
        raise ConfigError("control address must be a loopback address, not %r"
                          % ctl["address"]) from None
    if not _is_int(ctl["port"]) or not 0 <= ctl["port"] <= 65535:
        raise ConfigError("bad control port %r" % ctl["port"])
    out["control"] = {"address": ctl["address"], "port": ctl["port"]}

    if not kmes:
        raise ConfigError("no KMEs configured")
    seen_sae = {}
    for k in kmes:
        if not isinstance(k, dict):
            raise ConfigError("a KME must be a JSON object")
        unknown = set(k) - {"id", "address", "port", "saes", "cert", "key"}
        if unknown:
            raise ConfigError("KME: unknown keys: %s" % ", ".join(sorted(unknown)))
        kid = _check_id("KME", k.get("id"))
        if any(x["id"] == kid for x in out["kmes"]):
            raise ConfigError("duplicate KME ID %r" % kid)
        addr = k.get("address", "127.0.0.1")
        try:
            ipaddress.ip_address(addr)
        except ValueError:
            raise ConfigError("KME %s: address must be an IP address" % kid) from None
        port = k.get("port", 0)
        if not _is_int(port) or not 0 <= port <= 65535:
            raise ConfigError("KME %s: bad port %r" % (kid, port))
        saes = k.get("saes", [])
        if not isinstance(saes, list) or not saes:
            raise ConfigError("KME %s: saes must be a non-empty list" % kid)
        for s in saes:
            _check_id("SAE", s)
            if s in seen_sae:
                raise ConfigError("SAE %r attached to both %s and %s"
                                  % (s, seen_sae[s], kid))
            seen_sae[s] = kid
        cert = path(k.get("cert")) or (tls_dir and os.path.join(tls_dir, kid + ".crt"))
        key = path(k.get("key")) or (tls_dir and os.path.join(tls_dir, kid + ".key"))
        if not cert or not key:
            raise ConfigError("KME %s: no cert/key (give them or tls_dir)" % kid)
        out["kmes"].append({"id": kid, "address": addr, "port": port,
                            "saes": saes, "cert": cert, "key": key})

    defaults = dict(LINK_DEFAULTS)
    d = cfg.get("defaults", {})
    if not isinstance(d, dict) or set(d) - set(LINK_DEFAULTS):
        raise ConfigError("defaults: only these keys: %s" % ", ".join(LINK_DEFAULTS))
    defaults.update(d)
    kme_ids = {k["id"] for k in out["kmes"]}
    pairs = set()
    for l in links:
        if not isinstance(l, dict):
            raise ConfigError("a link must be a JSON object")
        unknown = set(l) - set(LINK_DEFAULTS) - {"id", "kmes"}
        if unknown:
            raise ConfigError("link: unknown keys: %s" % ", ".join(sorted(unknown)))
        spec = dict(defaults)
        spec.update(l)
        ends = spec.get("kmes")
        if not isinstance(ends, list) or len(ends) != 2 or ends[0] == ends[1] \
                or not set(ends) <= kme_ids:
            raise ConfigError("link: kmes must name two different configured KMEs, "
                              "got %r" % (ends,))
        if frozenset(ends) in pairs:
            raise ConfigError("two links between %s and %s" % tuple(ends))
        pairs.add(frozenset(ends))
        spec["id"] = _check_id("link", spec.get("id", "%s-%s" % tuple(ends)))
        if any(x["id"] == spec["id"] for x in out["links"]):
            raise ConfigError("duplicate link ID %r" % spec["id"])
        try:
            _check_rate(spec["rate"])
            _check_count(spec["max_key_count"])
        except ValueError as e:
            raise ConfigError("link %s: %s" % (spec["id"], e)) from None
        for name in ("key_size", "min_key_size", "max_key_size"):
            v = spec[name]
            if not _is_int(v) or v <= 0 or v % 8 or v > 1 << 16:
                raise ConfigError("link %s: %s must be a positive multiple of 8"
                                  % (spec["id"], name))
        if not spec["min_key_size"] <= spec["key_size"] <= spec["max_key_size"]:
            raise ConfigError("link %s: need min_key_size <= key_size <= "
                              "max_key_size" % spec["id"])
        if not _is_int(spec["max_key_per_request"]) or \
                not 1 <= spec["max_key_per_request"] <= 100000:
            raise ConfigError("link %s: bad max_key_per_request" % spec["id"])
        if spec["on_shortage"] not in ("503", "partial"):
            raise ConfigError('link %s: on_shortage must be "503" or "partial"'
                              % spec["id"])
        out["links"].append(spec)
    return out


def server_context(cfg, kme):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(kme["cert"], kme["key"])
    ctx.load_verify_locations(cafile=cfg["ca"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="kme_sim.py",
        description="Simulated QKD KMEs serving ETSI GS QKD 014 over mutual "
                    "TLS, with QKD links, a control interface and fault "
                    "injection.  Full documentation: pydoc3 kme_sim, or "
                    "Documentation/kme-sim.rst.",
        epilog="example: kme_sim.py --tls-dir pki "
               "--kme KME_A@127.0.0.1:8443=SAE_A --kme KME_B@127.0.0.1:8444=SAE_B "
               "--link KME_A,KME_B,rate=10000 --control 127.0.0.1:9000")
    p.add_argument("--config", metavar="FILE", help="JSON configuration file")
    p.add_argument("--kme", action="append", metavar="ID@ADDR:PORT=SAE[,SAE...]",
                   help="add a KME")
    p.add_argument("--link", action="append", metavar="KME1,KME2[,KEY=VALUE...]",
                   help="add a QKD link (keys: id, rate, max_key_count, key_size, "
                        "min_key_size, max_key_size, max_key_per_request, "
                        "on_shortage)")
    p.add_argument("--tls-dir", metavar="DIR",
                   help="certificates as made by mkcerts.sh")
    p.add_argument("--ca", metavar="FILE", help="CA for client certificates")
    p.add_argument("--control", metavar="ADDR:PORT",
                   help="control interface (loopback only)")
    p.add_argument("--manual-clock", action="store_true",
                   help="time moves only through POST /clock")
    p.add_argument("--ready-file", metavar="FILE",
                   help="write the actual ports there once listening")
    p.add_argument("--lifetime", type=float, default=0, metavar="SECONDS",
                   help="exit after this long (0 = never)")
    p.add_argument("-v", "--verbose", action="store_true")
    g = p.add_argument_group("foreign KME modes (also POST /quirks)")
    for q, h in QUIRKS.items():
        g.add_argument("--" + q.replace("_", "-"), action="store_true", help=h)
    g.add_argument("--dec-consumes", action="store_true",
                   help="dec_keys consumes (the default; overrides dec_keeps)")
    args = p.parse_args(argv)

    try:
        cfg = build_config(args)
    except ConfigError as e:
        log("configuration: %s" % e)
        return 2
    cfg["verbose"] = args.verbose
    sim = Simulator(cfg)

    servers = []
    try:
        for k in cfg["kmes"]:
            ctx = server_context(cfg, k)
            srv = KmeServer(sim, sim.kmes[k["id"]], ctx)
            sim.kmes[k["id"]].port = srv.server_address[1]
            servers.append(srv)
        ctl = ControlServer(sim, cfg["control"]["address"], cfg["control"]["port"])
        servers.append(ctl)
    except (OSError, ssl.SSLError) as e:
        log("startup: %s" % e)
        for s in servers:
            s.server_close()
        return 1

    threads = []
    for s in servers:
        t = threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2},
                             daemon=True)
        t.start()
        threads.append(t)

    def url(addr, port, scheme):
        host = "[%s]" % addr if ":" in addr else addr
        return "%s://%s:%d" % (scheme, host, port)

    caddr, cport = ctl.server_address[:2]
    ready = {
        "pid": os.getpid(),
        "control": {"address": caddr, "port": cport,
                    "url": url(caddr, cport, "http")},
        "kmes": {k.id: {"address": k.address, "port": k.port,
                        "url": url(k.address, k.port, "https"), "saes": k.saes}
                 for k in sim.kmes.values()},
        "links": list(sim.links),
    }
    def on_signal(signum, frame):
        sim.stop.set()

    # Before the ready file: a caller may signal as soon as it appears.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    line = json.dumps(ready, sort_keys=True)
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(line + "\n")
        os.replace(tmp, args.ready_file)
    print(line, flush=True)

    deadline = time.monotonic() + args.lifetime if args.lifetime > 0 else None
    while not sim.stop.is_set():
        left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
        if left <= 0:
            break
        sim.stop.wait(left)
    sim.stop.set()
    for s in servers:
        s.shutdown()
        s.server_close()
    if sim._rogue_tmp:
        sim._rogue_tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
