#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tests of the KME simulator (kme_sim.py) and mkcerts.sh.

Each test class starts the simulator as a child process on 127.0.0.1 with
ephemeral ports and certificates made by mkcerts.sh in a temp dir, talks to
it with ssl/http.client, and stops it.  The simulator also has a --lifetime
so that it exits by itself should a test die half way.

Run:  python3 -m unittest -v test_kme_sim          (in tools/kme-sim)
      KME_SIM_COUNTS=FILE python3 test_kme_sim.py  (also writes
                                                    "PASSED FAILED SKIPPED")
"""

import base64
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "kme_sim.py")
MKCERTS = os.path.join(HERE, "mkcerts.sh")
LIFETIME = 300          # the simulator exits by itself after this
TIMEOUT = 10            # every client socket operation

PKI = None
TMP = None
SAES = ["SAE_A", "SAE_A2", "SAE_B", "SAE_B2", "SAE_C", "SAE_X"]


def setUpModule():
    global PKI, TMP
    TMP = tempfile.mkdtemp(prefix="kme-sim-test-")
    PKI = os.path.join(TMP, "pki")
    subprocess.run([MKCERTS, PKI, "kme:KME_A", "kme:KME_B", "kme:KME_C"]
                   + ["sae:" + s for s in SAES],
                   check=True, timeout=120, stdout=subprocess.DEVNULL)


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


class Sim:
    """A running simulator (child process) and clients for it."""

    def __init__(self, args, config=None):
        self.dir = tempfile.mkdtemp(prefix="sim-", dir=TMP)
        ready = os.path.join(self.dir, "ready.json")
        cmd = [sys.executable, SIM, "--ready-file", ready,
               "--lifetime", str(LIFETIME)] + \
            [PKI if a == "@PKI@" else a for a in args]
        if config is not None:
            path = os.path.join(self.dir, "config.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(config, f)
            cmd += ["--config", path]
        self.log = open(os.path.join(self.dir, "log"), "w+b")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        deadline = time.monotonic() + 20
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("simulator did not start: %s" % self.stderr())
            time.sleep(0.02)
        with open(ready, encoding="utf-8") as f:
            self.ready = json.load(f)
        self.ctxs = {}

    def stderr(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.ctl("POST", "/shutdown")
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        return self.proc.returncode

    # ---- clients -------------------------------------------------------------
    def ctx(self, sae, ca="ca.crt"):
        key = (sae, ca)
        if key not in self.ctxs:
            ctx = ssl.create_default_context(cafile=os.path.join(PKI, ca))
            if sae:
                ctx.load_cert_chain(os.path.join(PKI, sae + ".crt"),
                                    os.path.join(PKI, sae + ".key"))
            self.ctxs[key] = ctx
        return self.ctxs[key]

    def port(self, kme):
        return self.ready["kmes"][kme]["port"]

    def raw(self, kme, sae, method, path, body=None, ctx=None, timeout=TIMEOUT):
        """One HTTPS request; (status, raw body)."""
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.port(kme), context=ctx or self.ctx(sae),
            timeout=timeout)
        try:
            data = None if body is None else \
                (body if isinstance(body, bytes) else json.dumps(body).encode())
            headers = {"Content-Type": "application/json"} if data else {}
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def api(self, kme, sae, method, path, body=None, **kw):
        status, raw = self.raw(kme, sae, method, path, body, **kw)
        return status, json.loads(raw)

    def status(self, kme, sae, slave):
        return self.api(kme, sae, "GET", "/api/v1/keys/%s/status" % slave)

    def enc(self, kme, sae, slave, number=1, size=None):
        body = {"number": number}
        if size is not None:
            body["size"] = size
        return self.api(kme, sae, "POST", "/api/v1/keys/%s/enc_keys" % slave, body)

    def dec(self, kme, sae, master, ids):
        return self.api(kme, sae, "POST", "/api/v1/keys/%s/dec_keys" % master,
                        {"key_IDs": [{"key_ID": i} for i in ids]})

    def ctl(self, method, path, body=None):
        c = self.ready["control"]
        conn = http.client.HTTPConnection(c["address"], c["port"], timeout=TIMEOUT)
        try:
            conn.request(method, path,
                         body=None if body is None else json.dumps(body).encode())
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    def stored(self, link):
        status, info = self.ctl("GET", "/links/" + link)
        assert status == 200, info
        return info["stored_key_count"]

    def fault(self, kme, **spec):
        status, info = self.ctl("POST", "/kmes/%s/faults" % kme, spec)
        assert status == 200, info
        return info


def tls_args(*links, manual=False):
    args = ["--tls-dir", "@PKI@",      # PKI is made later, in setUpModule
            "--kme", "KME_A@127.0.0.1:0=SAE_A,SAE_A2",
            "--kme", "KME_B@127.0.0.1:0=SAE_B,SAE_B2",
            "--kme", "KME_C@127.0.0.1:0=SAE_C"]
    for l in links:
        args += ["--link", l]
    if manual:
        args.append("--manual-clock")
    return args


class SimTestCase(unittest.TestCase):
    ARGS = []
    CONFIG = None
    sim = None

    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(cls.ARGS, cls.CONFIG)

    @classmethod
    def tearDownClass(cls):
        if cls.sim:
            cls.sim.stop()

    def assertEtsiError(self, answer, status):
        code, body = answer
        self.assertEqual(code, status, body)
        self.assertIsInstance(body, dict)
        self.assertIsInstance(body.get("message"), str)
        self.assertTrue(body["message"])
        self.assertIsInstance(body.get("details"), list)
        for d in body["details"]:
            self.assertIsInstance(d, dict)
        return body

    def assertKeys(self, answer, number, size):
        code, body = answer
        self.assertEqual(code, 200, body)
        self.assertEqual(list(body), ["keys"])
        self.assertEqual(len(body["keys"]), number)
        out = {}
        for k in body["keys"]:
            self.assertEqual(set(k), {"key_ID", "key"})
            self.assertEqual(str(uuid.UUID(k["key_ID"])), k["key_ID"])
            material = base64.b64decode(k["key"], validate=True)
            self.assertEqual(len(material) * 8, size)
            out[k["key_ID"]] = material
        self.assertEqual(len(out), number, "duplicate key IDs")
        return out


class ApiTest(SimTestCase):
    """The ETSI 014 endpoints, on unlimited links (no timing involved)."""
    ARGS = tls_args("KME_A,KME_B,rate=0,max_key_count=1000",
                    "KME_B,KME_C,rate=0,max_key_count=500,max_key_per_request=16")

    def test_status_fields(self):
        code, st = self.sim.status("KME_A", "SAE_A", "SAE_B")
        self.assertEqual(code, 200, st)
        self.assertEqual(st, {
            "source_KME_ID": "KME_A", "target_KME_ID": "KME_B",
            "master_SAE_ID": "SAE_A", "slave_SAE_ID": "SAE_B",
            "key_size": 256, "stored_key_count": 1000, "max_key_count": 1000,
            "max_key_per_request": 128, "max_key_size": 1024,
            "min_key_size": 64, "max_SAE_ID_count": 0})
        code, st = self.sim.status("KME_B", "SAE_B2", "SAE_C")
        self.assertEqual(code, 200, st)
        self.assertEqual((st["source_KME_ID"], st["target_KME_ID"],
                          st["master_SAE_ID"], st["slave_SAE_ID"],
                          st["max_key_per_request"]),
                         ("KME_B", "KME_C", "SAE_B2", "SAE_C", 16))

    def test_enc_then_dec_identical(self):
        for size, number in ((None, 3), (256, 1), (512, 4), (64, 2), (1024, 2)):
            with self.subTest(size=size):
                enc = self.assertKeys(self.sim.enc("KME_A", "SAE_A", "SAE_B",
                                                   number, size),
                                      number, size or 256)
                ids = list(enc)
                dec = self.assertKeys(self.sim.dec("KME_B", "SAE_B", "SAE_A", ids),
                                      number, size or 256)
                self.assertEqual(list(dec), ids)       # same order as asked
                self.assertEqual(dec, enc)

    def test_both_directions_and_peers(self):
        enc = self.assertKeys(self.sim.enc("KME_B", "SAE_B", "SAE_A", 2), 2, 256)
        dec = self.assertKeys(self.sim.dec("KME_A", "SAE_A", "SAE_B", list(enc)),
                              2, 256)
        self.assertEqual(enc, dec)
        enc = self.assertKeys(self.sim.enc("KME_C", "SAE_C", "SAE_B2", 1), 1, 256)
        dec = self.assertKeys(self.sim.dec("KME_B", "SAE_B2", "SAE_C", list(enc)),
                              1, 256)
        self.assertEqual(enc, dec)

    def test_get_with_query(self):
        enc = self.assertKeys(self.sim.api(
            "KME_A", "SAE_A", "GET", "/api/v1/keys/SAE_B/enc_keys?number=2&size=128"),
            2, 128)
        ids = list(enc)
        dec = self.assertKeys(self.sim.api(
            "KME_B", "SAE_B", "GET",
            "/api/v1/keys/SAE_A/dec_keys?key_ID=%s" % ids[0]), 1, 128)
        self.assertEqual(dec[ids[0]], enc[ids[0]])
        enc1 = self.assertKeys(self.sim.api(
            "KME_A", "SAE_A", "GET", "/api/v1/keys/SAE_B/enc_keys"), 1, 256)
        self.assertEqual(len(enc1), 1)

    def test_keys_are_unique(self):
        seen = set()
        for _ in range(5):
            enc = self.assertKeys(self.sim.enc("KME_A", "SAE_A", "SAE_B", 100), 100, 256)
            self.assertFalse(seen & set(enc))
            seen |= set(enc)
            self.assertEqual(len(set(enc.values())), 100)

    def test_dec_twice_fails(self):
        enc = self.assertKeys(self.sim.enc("KME_A", "SAE_A", "SAE_B", 2), 2, 256)
        ids = list(enc)
        self.assertKeys(self.sim.dec("KME_B", "SAE_B", "SAE_A", ids), 2, 256)
        body = self.assertEtsiError(self.sim.dec("KME_B", "SAE_B", "SAE_A", ids), 400)
        self.assertEqual(body["details"], [{"key_ID": i} for i in ids])
        self.assertEtsiError(self.sim.dec("KME_B", "SAE_B", "SAE_A", ids[1:]), 400)

    def test_nobody_else_gets_the_keys(self):
        enc = self.assertKeys(self.sim.enc("KME_A", "SAE_A", "SAE_B", 2), 2, 256)
        ids = list(enc)
        # another SAE at the slave's KME
        self.assertEtsiError(self.sim.dec("KME_B", "SAE_B2", "SAE_A", ids), 400)
        # the master at its own KME, and another SAE there
        self.assertEtsiError(self.sim.dec("KME_A", "SAE_A", "SAE_B", ids), 400)
        self.assertEtsiError(self.sim.dec("KME_A", "SAE_A2", "SAE_B", ids), 400)
        # the right slave naming the wrong master
        self.assertEtsiError(self.sim.dec("KME_B", "SAE_B", "SAE_A2", ids), 400)
        # a third KME
        self.assertEtsiError(self.sim.dec("KME_C", "SAE_C", "SAE_A", ids), 400)
        # a mixed request delivers nothing
        self.assertEtsiError(self.sim.dec("KME_B", "SAE_B", "SAE_A",
                                          ids + [str(uuid.uuid4())]), 400)
        # the master's own SAE ID
        self.assertEtsiError(self.sim.dec("KME_B", "SAE_B", "SAE_B", ids), 400)
        # after all that, the slave still gets them, once
        dec = self.assertKeys(self.sim.dec("KME_B", "SAE_B", "SAE_A", ids), 2, 256)
        self.assertEqual(dec, enc)

    def test_unknown_ids(self):
        body = self.assertEtsiError(self.sim.dec("KME_B", "SAE_B", "SAE_A",
                                                 [str(uuid.uuid4())]), 400)
        self.assertEqual(body["message"], "key not found")
        self.assertEtsiError(self.sim.dec("KME_B", "SAE_B", "SAE_A", ["nonsense"]), 400)
        for slave in ("SAE_X", "NOBODY", "SAE_A"):
            with self.subTest(slave=slave):
                self.assertEtsiError(self.sim.status("KME_A", "SAE_A", slave), 400)
                self.assertEtsiError(self.sim.enc("KME_A", "SAE_A", slave), 400)
        self.assertEtsiError(self.sim.dec("KME_B", "SAE_B", "NOBODY",
                                          [str(uuid.uuid4())]), 400)

    def test_no_link_or_same_kme(self):
        body = self.assertEtsiError(self.sim.status("KME_A", "SAE_A", "SAE_C"), 400)
        self.assertIn("link", body["message"])
        self.assertEtsiError(self.sim.enc("KME_A", "SAE_A", "SAE_C"), 400)
        self.assertEtsiError(self.sim.enc("KME_A", "SAE_A", "SAE_A2"), 400)

    def test_caller_not_attached(self):
        # a valid certificate from the CA, for an SAE of another KME
        body = self.assertEtsiError(self.sim.status("KME_A", "SAE_B", "SAE_A"), 401)
        self.assertEqual(body["details"], [{"SAE_ID": "SAE_B", "KME_ID": "KME_A"}])
        self.assertEtsiError(self.sim.enc("KME_A", "SAE_B", "SAE_A"), 401)
        self.assertEtsiError(self.sim.dec("KME_A", "SAE_B", "SAE_A",
                                          [str(uuid.uuid4())]), 401)
        # a certificate from the CA for an SAE attached nowhere
        self.assertEtsiError(self.sim.status("KME_A", "SAE_X", "SAE_B"), 401)

    def test_bad_requests(self):
        path = "/api/v1/keys/SAE_B/enc_keys"
        bad = [{"number": 0}, {"number": 129}, {"number": "2"}, {"number": 1.5},
               {"number": True}, {"size": 100}, {"size": 56}, {"size": 1032},
               {"size": "256"}, {"number": 1, "bogus": 1},
               {"additional_slave_SAE_IDs": ["SAE_B2"]},
               {"extension_mandatory": [{"x": 1}]}, [1, 2]]
        for body in bad:
            with self.subTest(body=body):
                self.assertEtsiError(self.sim.api("KME_A", "SAE_A", "POST", path,
                                                  body), 400)
        for raw in (b"{", b"\xff\xfe", b"null"):
            with self.subTest(raw=raw):
                self.assertEtsiError(self.sim.api("KME_A", "SAE_A", "POST", path,
                                                  raw), 400)
        self.assertEtsiError(self.sim.api("KME_A", "SAE_A", "GET",
                                          path + "?number=x"), 400)
        self.assertEtsiError(self.sim.api("KME_B", "SAE_B2", "POST",
                                          "/api/v1/keys/SAE_C/enc_keys",
                                          {"number": 17}), 400)
        dpath = "/api/v1/keys/SAE_A/dec_keys"
        for body in ({}, {"key_IDs": []}, {"key_IDs": "x"}, {"key_IDs": [{}]},
                     {"key_IDs": [{"key_ID": 5}]}, {"key_IDs": ["a"]},
                     {"key_IDs": [{"key_ID": "a"}, {"key_ID": "a"}]}):
            with self.subTest(body=body):
                self.assertEtsiError(self.sim.api("KME_B", "SAE_B", "POST", dpath,
                                                  body), 400)
        self.assertEqual(self.sim.api("KME_A", "SAE_A", "GET", "/api/v1/other")[0],
                         404)
        self.assertEqual(self.sim.api("KME_A", "SAE_A", "POST",
                                      "/api/v1/keys/SAE_B/status", {})[0], 405)
        self.assertEqual(self.sim.api("KME_A", "SAE_A", "DELETE", path)[0], 405)

    def test_keep_alive(self):
        conn = http.client.HTTPSConnection("127.0.0.1", self.sim.port("KME_A"),
                                           context=self.sim.ctx("SAE_A"),
                                           timeout=TIMEOUT)
        try:
            for _ in range(5):
                conn.request("POST", "/api/v1/keys/SAE_B/enc_keys",
                             body=b'{"number": 1}')
                resp = conn.getresponse()
                self.assertEqual(resp.status, 200)
                self.assertEqual(len(json.loads(resp.read())["keys"]), 1)
        finally:
            conn.close()

    def test_many_connections(self):
        # more connections, one after the other, than a KME serves at once
        for _ in range(300):
            self.assertEqual(self.sim.raw("KME_C", "SAE_C", "GET",
                                          "/api/v1/keys/SAE_B/status")[0], 200)
        tls = self.sim.ctl("GET", "/kmes/KME_C")[1]["stats"]["tls"]
        self.assertEqual(tls["refused_busy"], 0)
        self.assertGreaterEqual(tls["handshakes"], 300)

    def test_concurrent_clients(self):
        results, errors = [], []

        def worker():
            try:
                for _ in range(5):
                    code, body = self.sim.enc("KME_A", "SAE_A", "SAE_B", 10)
                    results.append((code, [k["key_ID"] for k in body["keys"]]))
            except Exception as e:      # noqa: BLE001 - reported below
                errors.append(e)
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        ids = [i for code, batch in results for i in batch]
        self.assertEqual([c for c, _ in results], [200] * 40)
        self.assertEqual(len(set(ids)), 400)
        dec = self.assertKeys(self.sim.dec("KME_B", "SAE_B", "SAE_A", ids[:128]),
                              128, 256)
        self.assertEqual(list(dec), ids[:128])

    def _refused(self, ctx):
        before = self.sim.ctl("GET", "/kmes/KME_A")[1]["stats"]["tls"]["failed"]
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            self.sim.raw("KME_A", None, "GET", "/api/v1/keys/SAE_B/status", ctx=ctx)
        # the server saw the failed handshake (it may log it a bit later)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            after = self.sim.ctl("GET", "/kmes/KME_A")[1]["stats"]["tls"]["failed"]
            if after > before:
                break
            time.sleep(0.05)
        self.assertGreater(after, before)

    def test_tls_no_client_cert(self):
        self._refused(self.sim.ctx(None))

    def test_tls_client_cert_from_other_ca(self):
        ctx = ssl.create_default_context(cafile=os.path.join(PKI, "ca.crt"))
        ctx.load_cert_chain(os.path.join(PKI, "rogue-client.crt"),
                            os.path.join(PKI, "rogue-client.key"))
        self._refused(ctx)

    def test_tls_server_cert_checked_by_client(self):
        # the server's certificate chains to the test CA, not to another one
        ctx = ssl.create_default_context(cafile=os.path.join(PKI, "rogue-ca.crt"))
        ctx.load_cert_chain(os.path.join(PKI, "SAE_A.crt"),
                            os.path.join(PKI, "SAE_A.key"))
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.sim.raw("KME_A", None, "GET", "/api/v1/keys/SAE_B/status", ctx=ctx)

    def test_tls12(self):
        ctx = ssl.create_default_context(cafile=os.path.join(PKI, "ca.crt"))
        ctx.load_cert_chain(os.path.join(PKI, "SAE_A.crt"),
                            os.path.join(PKI, "SAE_A.key"))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self.assertEqual(self.sim.raw("KME_A", None, "GET",
                                      "/api/v1/keys/SAE_B/status", ctx=ctx)[0], 200)

    def test_stats(self):
        def served():
            st = self.sim.ctl("GET", "/state")[1]
            return (st["kmes"]["KME_A"]["stats"]["keys_served"].get("SAE_A2", {}),
                    st["kmes"]["KME_B"]["stats"]["keys_served"].get("SAE_B2", {}),
                    st["links"]["KME_A-KME_B"]["stats"])
        a0, b0, l0 = served()
        enc = self.assertKeys(self.sim.enc("KME_A", "SAE_A2", "SAE_B2", 7), 7, 256)
        self.assertKeys(self.sim.dec("KME_B", "SAE_B2", "SAE_A2", list(enc)[:3]),
                        3, 256)
        a1, b1, l1 = served()
        self.assertEqual(a1.get("enc", 0) - a0.get("enc", 0), 7)
        self.assertEqual(b1.get("dec", 0) - b0.get("dec", 0), 3)
        self.assertEqual(l1["handed_out"] - l0["handed_out"], 7)
        self.assertEqual(l1["delivered"] - l0["delivered"], 3)
        self.assertGreaterEqual(l1["generated"] - l0["generated"], 7)
        st = self.sim.ctl("GET", "/state")[1]
        self.assertGreaterEqual(st["links"]["KME_A-KME_B"]["reserved_key_count"], 4)
        self.assertGreater(st["kmes"]["KME_A"]["stats"]["requests"]["enc_keys"], 0)
        self.assertGreater(st["kmes"]["KME_A"]["stats"]["responses"]["200"], 0)
        self.assertGreater(st["kmes"]["KME_A"]["stats"]["tls"]["handshakes"], 0)
        # key material never shows in the control interface
        dump = json.dumps(st)
        for m in enc.values():
            self.assertNotIn(base64.b64encode(m).decode(), dump)


class ManualClockTest(SimTestCase):
    """Rates, the max_key_count cap, cut/restore: with an injected clock."""
    # A-B: 2560 bit/s = 10 keys/s of 256 bits; B-C: 1 key/s, partial answers
    ARGS = tls_args("KME_A,KME_B,rate=2560,max_key_count=50",
                    "KME_B,KME_C,rate=256,max_key_count=1000,on_shortage=\"partial\"",
                    manual=True)

    def advance(self, seconds):
        code, body = self.sim.ctl("POST", "/clock", {"advance": seconds})
        self.assertEqual(code, 200, body)

    def flush(self, link):
        self.assertEqual(self.sim.ctl("POST", "/links/%s/flush" % link)[0], 200)
        self.assertEqual(self.sim.stored(link), 0)

    def setUp(self):
        self.sim.ctl("POST", "/links/KME_A-KME_B/restore")
        self.sim.ctl("POST", "/links/KME_B-KME_C/restore")
        self.sim.ctl("POST", "/links/KME_A-KME_B/set",
                     {"rate": 2560, "max_key_count": 50})

    def test_rate(self):
        self.flush("KME_A-KME_B")
        self.advance(2)
        self.assertEqual(self.sim.stored("KME_A-KME_B"), 20)
        self.advance(0.05)                  # half a key: not yet
        self.assertEqual(self.sim.stored("KME_A-KME_B"), 20)
        self.advance(0.05)
        self.assertEqual(self.sim.stored("KME_A-KME_B"), 21)
        code, st = self.sim.status("KME_A", "SAE_A", "SAE_B")
        self.assertEqual(st["stored_key_count"], 21)
        # a 512-bit key takes two stored keys
        self.assertKeys(self.sim.enc("KME_A", "SAE_A", "SAE_B", 3, 512), 3, 512)
        self.assertEqual(self.sim.stored("KME_A-KME_B"), 15)

    def test_cap(self):
        self.flush("KME_A-KME_B")
        self.advance(1000)
        self.assertEqual(self.sim.stored("KME_A-KME_B"), 50)
        code, st = self.sim.status("KME_B", "SAE_B", "SAE_A")
        self.assertEqual((st["stored_key_count"], st["max_key_count"]), (50, 50))
        # a full bucket banks no credit
        self.assertKeys(self.sim.enc("KME_B", "SAE_B", "SAE_A", 10), 10, 256)
        self.assertEqual(self.sim.stored("KME_A-KME_B"), 40)
        self.advance(0.5)
        self.assertEqual(self.sim.stored("KME_A-KME_B"), 45)
        self.advance(100)
        self.assertEqual(self.sim.stored("KME_A-KME_B"), 50)
        info = self.sim.ctl("GET", "/links/KME_A-KME_B")[1]
        self.assertGreaterEqual(info["stats"]["generated"], 55)

    def test_shortage_503(self):
        self.flush("KME_A-KME_B")
        self.advance(0.5)
        self.assertEqual(self.sim.stored("KME_A-KME_B"), 5)
        body = self.assertEtsiError(self.sim.enc("KME_A", "SAE_A", "SAE_B", 6), 503)
        self.assertEqual(body["details"][0]["stored_key_count"], 5)
        self.assertEqual(self.sim.stored("KME_A-KME_B"), 5)    # nothing taken
        self.assertEtsiError(self.sim.enc("KME_A", "SAE_A", "SAE_B", 3, 512), 503)
        self.assertKeys(self.sim.enc("KME_A", "SAE_A", "SAE_B", 5), 5, 256)
        self.assertEtsiError(self.sim.enc("KME_A", "SAE_A", "SAE_B", 1), 503)

    def test_shortage_partial(self):
        self.flush("KME_B-KME_C")
        self.advance(3)
        self.assertEqual(self.sim.stored("KME_B-KME_C"), 3)
        enc = self.assertKeys(self.sim.enc("KME_C", "SAE_C", "SAE_B", 5), 3, 256)
        self.assertEqual(self.sim.stored("KME_B-KME_C"), 0)
        self.assertEqual(self.sim.dec("KME_B", "SAE_B", "SAE_C", list(enc))[1],
                         {"keys": [{"key_ID": k, "key": base64.b64encode(v).decode()}
                                   for k, v in enc.items()]})
        self.assertEtsiError(self.sim.enc("KME_C", "SAE_C", "SAE_B", 5), 503)

    def test_cut_restore(self):
        self.flush("KME_A-KME_B")
        self.advance(1)
        enc = self.assertKeys(self.sim.enc("KME_A", "SAE_A", "SAE_B", 2), 2, 256)
        self.assertEqual(self.sim.stored("KME_A-KME_B"), 8)
        code, info = self.sim.ctl("POST", "/links/KME_A-KME_B/cut")
        self.assertEqual(code, 200, info)
        self.assertFalse(info["up"])
        self.assertEqual(info["stored_key_count"], 0)
        self.advance(10)
        self.assertEqual(self.sim.stored("KME_A-KME_B"), 0)
        self.assertEqual(self.sim.status("KME_A", "SAE_A", "SAE_B")[1]
                         ["stored_key_count"], 0)
        body = self.assertEtsiError(self.sim.enc("KME_A", "SAE_A", "SAE_B", 1), 503)
        self.assertIn("down", body["message"])
        self.assertEtsiError(self.sim.enc("KME_B", "SAE_B", "SAE_A", 1), 503)
        # keys handed out before the cut can still be fetched by the slave
        self.assertEqual(self.assertKeys(
            self.sim.dec("KME_B", "SAE_B", "SAE_A", list(enc)), 2, 256), enc)
        # the other link is untouched
        self.flush("KME_B-KME_C")
        self.advance(1)
        self.assertEqual(self.sim.stored("KME_B-KME_C"), 1)
        code, info = self.sim.ctl("POST", "/links/KME_A-KME_B/restore")
        self.assertEqual(code, 200, info)
        self.assertTrue(info["up"])
        self.assertEqual(self.sim.stored("KME_A-KME_B"), 0)   # no credit from the cut
        self.advance(1)
        self.assertEqual(self.sim.stored("KME_A-KME_B"), 10)
        self.assertKeys(self.sim.enc("KME_A", "SAE_A", "SAE_B", 10), 10, 256)

    def test_cut_keep_stored(self):
        self.flush("KME_A-KME_B")
        self.advance(1)
        self.assertEqual(self.sim.ctl("POST", "/links/KME_A-KME_B/cut",
                                      {"keep_stored": True})[0], 200)
        self.assertEtsiError(self.sim.enc("KME_A", "SAE_A", "SAE_B", 1), 503)
        self.advance(5)
        self.sim.ctl("POST", "/links/KME_A-KME_B/restore")
        self.assertEqual(self.sim.stored("KME_A-KME_B"), 10)

    def test_set_rate(self):
        self.flush("KME_A-KME_B")
        code, info = self.sim.ctl("POST", "/links/KME_A-KME_B/set",
                                  {"rate": 25600, "max_key_count": 500})
        self.assertEqual(code, 200, info)
        self.advance(1)
        self.assertEqual(self.sim.stored("KME_A-KME_B"), 100)
        code, info = self.sim.ctl("POST", "/links/KME_A-KME_B/set",
                                  {"max_key_count": 30})
        self.assertEqual(info["stored_key_count"], 30)
        self.assertEqual(self.sim.status("KME_A", "SAE_A", "SAE_B")[1]
                         ["max_key_count"], 30)
        for bad in ({"rate": -1}, {"max_key_count": 0}, {"speed": 1}):
            self.assertEqual(self.sim.ctl("POST", "/links/KME_A-KME_B/set", bad)[0],
                             400)

    def test_control_errors(self):
        self.assertEqual(self.sim.ctl("POST", "/links/nope/cut")[0], 404)
        self.assertEqual(self.sim.ctl("POST", "/kmes/nope/faults", {})[0], 404)
        self.assertEqual(self.sim.ctl("GET", "/nothing")[0], 404)
        self.assertEqual(self.sim.ctl("POST", "/clock", {"advance": -1})[0], 400)
        self.assertEqual(self.sim.ctl("POST", "/links/KME_A-KME_B/cut",
                                      {"keep_stored": "yes"})[0], 400)


class BucketTest(unittest.TestCase):
    """The link's bucket in process: material is drawn when handed out."""

    def setUp(self):
        sys.path.insert(0, HERE)
        import kme_sim
        self.sim_mod = kme_sim
        self.drawn = 0
        self.real_new_keys = kme_sim._new_keys

        def counting(n, nbytes):
            self.drawn += n
            return self.real_new_keys(n, nbytes)
        kme_sim._new_keys = counting

    def tearDown(self):
        self.sim_mod._new_keys = self.real_new_keys
        sys.path.remove(HERE)

    def test_refill_draws_no_material(self):
        # 10 Mbit/s of 256-bit keys back from a cut: a million keys banked,
        # none drawn until handed out (drawing them all under the
        # simulator's lock stalled every KME request after a restore)
        link = self.sim_mod.Link({"id": "A-B", "kmes": ["A", "B"], "rate": 10_000_000,
                                  "max_key_count": 1_000_000, "key_size": 256,
                                  "min_key_size": 256, "max_key_size": 1024,
                                  "max_key_per_request": 128, "on_shortage": "503"}, 0.0)
        link.discard()
        self.assertEqual(link.available(100.0), 1_000_000)
        self.assertEqual(self.drawn, 0)
        keys = link.take(3)
        self.assertEqual(len(keys), 3)
        self.assertEqual(self.drawn, 3)
        self.assertEqual(len({k for k, _ in keys}), 3)
        self.assertTrue(all(len(m) == 32 for _, m in keys))
        self.assertEqual(link.available(100.0), 999_997)
        link.up = False
        self.assertEqual(link.available(200.0), 0)
        link.up = True
        link.discard()
        self.assertEqual(link.available(200.0), 0)
        self.assertEqual(link.stats["discarded"], 999_997)


class RealClockTest(SimTestCase):
    """Rates over real time; bounds from the client's own timestamps, +-1 key."""
    ARGS = tls_args("KME_A,KME_B,rate=51200,max_key_count=100000",
                    "KME_B,KME_C,rate=1000000,max_key_count=5")

    def test_rate(self):
        rate = 51200 / 256                          # keys per second
        t0 = time.monotonic()
        self.sim.ctl("POST", "/links/KME_A-KME_B/flush")
        t1 = time.monotonic()
        time.sleep(0.8)
        t2 = time.monotonic()
        n = self.sim.stored("KME_A-KME_B")
        t3 = time.monotonic()
        # the server's window lies within [t2 - t1, t3 - t0]
        self.assertGreaterEqual(n, int(rate * (t2 - t1)) - 1)
        self.assertLessEqual(n, int(rate * (t3 - t0)) + 1)

    def test_cap(self):
        self.sim.ctl("POST", "/links/KME_B-KME_C/flush")
        time.sleep(0.2)     # 780 keys' worth at this rate, capped at 5
        self.assertEqual(self.sim.stored("KME_B-KME_C"), 5)
        self.assertKeys(self.sim.enc("KME_C", "SAE_C", "SAE_B", 5), 5, 256)


class FaultTest(SimTestCase):
    ARGS = tls_args("KME_A,KME_B,rate=0,max_key_count=10000",
                    "KME_B,KME_C,rate=0")

    def setUp(self):
        self.assertEqual(self.sim.ctl("DELETE", "/faults")[0], 200)

    tearDown = setUp

    def ok(self, kme="KME_A", sae="SAE_A", slave="SAE_B", number=2):
        return self.assertKeys(self.sim.enc(kme, sae, slave, number), number, 256)

    def test_garbage_json(self):
        self.sim.fault("KME_A", type="garbage_json", count=1)
        code, raw = self.sim.raw("KME_A", "SAE_A", "POST",
                                 "/api/v1/keys/SAE_B/enc_keys", {"number": 1})
        self.assertEqual(code, 200)
        with self.assertRaises(ValueError):
            json.loads(raw)
        self.ok()

    def test_wrong_key_size(self):
        self.sim.fault("KME_A", type="wrong_key_size", count=1)
        code, body = self.sim.enc("KME_A", "SAE_A", "SAE_B", 2, 256)
        self.assertEqual(code, 200)
        sizes = {len(base64.b64decode(k["key"])) for k in body["keys"]}
        self.assertEqual(sizes, {31})
        # status is not a key answer: the fault waits for enc/dec_keys
        self.sim.fault("KME_B", type="wrong_key_size", count=1)
        self.assertEqual(self.sim.status("KME_B", "SAE_B", "SAE_A")[0], 200)
        enc = self.ok()
        code, body = self.sim.dec("KME_B", "SAE_B", "SAE_A", list(enc))
        self.assertEqual(code, 200)
        self.assertEqual({len(base64.b64decode(k["key"])) for k in body["keys"]},
                         {31})
        self.ok()

    def test_duplicate_key_ids(self):
        self.sim.fault("KME_A", type="duplicate_key_ids", count=2)
        for number in (1, 3):
            code, body = self.sim.enc("KME_A", "SAE_A", "SAE_B", number)
            self.assertEqual(code, 200)
            ids = [k["key_ID"] for k in body["keys"]]
            self.assertGreaterEqual(len(ids), 2)
            self.assertLess(len(set(ids)), len(ids))
        self.ok(number=3)

    def test_http_error(self):
        self.sim.fault("KME_A", type="http_error", count=1)
        self.assertEtsiError(self.sim.enc("KME_A", "SAE_A", "SAE_B"), 503)
        self.ok()
        self.sim.fault("KME_A", type="http_error", status=400, count=1)
        self.assertEtsiError(self.sim.status("KME_A", "SAE_A", "SAE_B"), 400)
        self.assertEqual(self.sim.status("KME_A", "SAE_A", "SAE_B")[0], 200)

    def test_slow(self):
        self.sim.fault("KME_A", type="slow", delay=1.0, count=1)
        t = time.monotonic()
        self.ok()
        self.assertGreaterEqual(time.monotonic() - t, 1.0)
        # a client with a short timeout gives up
        self.sim.fault("KME_A", type="slow", delay=2.0, count=1)
        with self.assertRaises((socket.timeout, TimeoutError)):
            self.sim.raw("KME_A", "SAE_A", "GET", "/api/v1/keys/SAE_B/status",
                         timeout=0.3)
        t = time.monotonic()
        self.assertEqual(self.sim.status("KME_A", "SAE_A", "SAE_B")[0], 200)
        self.assertLess(time.monotonic() - t, 1.0)

    def test_drop_connection(self):
        self.sim.fault("KME_A", type="drop_connection", count=1)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError,
                                ssl.SSLError)):
            self.sim.enc("KME_A", "SAE_A", "SAE_B")
        self.ok()

    def test_tls_close(self):
        self.sim.fault("KME_A", type="tls_close", count=1)
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            self.sim.status("KME_A", "SAE_A", "SAE_B")
        self.ok()

    def test_tls_wrong_ca(self):
        self.sim.fault("KME_A", type="tls_wrong_ca", count=1)
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.sim.status("KME_A", "SAE_A", "SAE_B")
        self.ok()
        # the certificate really is the rogue CA's
        self.sim.fault("KME_A", type="tls_wrong_ca", count=1)
        ctx = ssl.create_default_context(cafile=os.path.join(PKI, "rogue-ca.crt"))
        ctx.check_hostname = False
        with socket.create_connection(("127.0.0.1", self.sim.port("KME_A")),
                                      timeout=TIMEOUT) as s:
            with ctx.wrap_socket(s) as t:
                self.assertEqual(dict(x[0] for x in t.getpeercert()["issuer"])
                                 ["commonName"], "rogue test CA")

    def test_count_n(self):
        info = self.sim.fault("KME_A", type="http_error", count=3)
        self.assertEqual(info["remaining"], 3)
        for _ in range(3):
            self.assertEtsiError(self.sim.enc("KME_A", "SAE_A", "SAE_B"), 503)
        self.ok()
        self.assertEqual(self.sim.ctl("GET", "/kmes/KME_A/faults")[1], {"faults": []})

    def test_until_cleared(self):
        f = self.sim.fault("KME_A", type="http_error")
        self.assertIsNone(f["remaining"])
        for _ in range(5):
            self.assertEtsiError(self.sim.enc("KME_A", "SAE_A", "SAE_B"), 503)
        faults = self.sim.ctl("GET", "/kmes/KME_A/faults")[1]["faults"]
        self.assertEqual([(x["id"], x["applied"]) for x in faults], [(f["id"], 5)])
        self.assertEqual(self.sim.ctl("DELETE", "/kmes/KME_A/faults/%d" % f["id"])[0],
                         200)
        self.ok()
        self.sim.fault("KME_A", type="tls_close")
        for _ in range(3):
            with self.assertRaises((ssl.SSLError, ConnectionError)):
                self.sim.status("KME_A", "SAE_A", "SAE_B")
        self.assertEqual(self.sim.ctl("DELETE", "/kmes/KME_A/faults")[0], 200)
        self.ok()

    def test_endpoint_filter_and_scope(self):
        self.sim.fault("KME_B", type="http_error", endpoint="dec_keys", count=1)
        enc = self.ok()
        self.assertEqual(self.sim.status("KME_B", "SAE_B", "SAE_A")[0], 200)
        self.ok(kme="KME_B", sae="SAE_B", slave="SAE_A")
        self.ok(kme="KME_B", sae="SAE_B", slave="SAE_C")
        self.assertEtsiError(self.sim.dec("KME_B", "SAE_B", "SAE_A", list(enc)), 503)
        # the failed request consumed nothing: the keys are still there
        self.assertEqual(self.assertKeys(
            self.sim.dec("KME_B", "SAE_B", "SAE_A", list(enc)), 2, 256), enc)

    def test_bad_fault_specs(self):
        for spec in ({}, {"type": "nope"}, {"type": "slow", "delay": -1},
                     {"type": "slow", "delay": 10000}, {"type": "http_error",
                                                        "count": 0},
                     {"type": "http_error", "status": 200},
                     {"type": "http_error", "endpoint": "x"},
                     {"type": "tls_close", "endpoint": "status"},
                     {"type": "http_error", "colour": "red"}):
            with self.subTest(spec=spec):
                self.assertEqual(self.sim.ctl("POST", "/kmes/KME_A/faults", spec)[0],
                                 400)
        self.assertEqual(self.sim.ctl("GET", "/kmes/KME_A/faults")[1], {"faults": []})


class ForeignTest(SimTestCase):
    """The foreign KME modes: each one as a client sees it, switched at run
    time through POST /quirks (two set on the command line)."""
    ARGS = tls_args("KME_A,KME_B,rate=0,max_key_count=1000",
                    "KME_B,KME_C,rate=256,max_key_count=10", manual=True) + \
        ["--uppercase-ids", "--dec-keeps"]
    OFF = {q: False for q in ("status_missing_fields", "numbers_as_strings",
                              "status_error", "uppercase_ids", "non_uuid_ids",
                              "dec_post_only", "dec_get_only", "empty_400",
                              "unknown_500_nobody", "dec_keeps")}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.initial = cls.sim.ctl("GET", "/quirks")

    def setUp(self):
        self.quirks(**self.OFF)

    def quirks(self, **q):
        status, out = self.sim.ctl("POST", "/quirks", q)
        self.assertEqual(status, 200, out)
        return out

    def enc_ids(self, n=2):
        code, body = self.sim.enc("KME_A", "SAE_A", "SAE_B", n)
        self.assertEqual(code, 200, body)
        return {k["key_ID"]: k["key"] for k in body["keys"]}

    def dec_get(self, ids):
        q = "&".join("key_ID=" + urllib.parse.quote(i, safe="") for i in ids)
        return self.sim.api("KME_B", "SAE_B", "GET",
                            "/api/v1/keys/SAE_A/dec_keys?" + q)

    def test_command_line_sets_modes(self):
        status, out = self.initial
        self.assertEqual(status, 200)
        self.assertEqual({k for k, v in out.items() if v},
                         {"uppercase_ids", "dec_keeps"})
        self.assertEqual(set(out), set(self.OFF))
        self.assertEqual(self.sim.ctl("GET", "/state")[1]["quirks"],
                         self.sim.ctl("GET", "/quirks")[1])

    def test_status_missing_fields(self):
        self.quirks(status_missing_fields=True)
        code, st = self.sim.status("KME_A", "SAE_A", "SAE_B")
        self.assertEqual(code, 200, st)
        for f in ("stored_key_count", "max_key_per_request", "max_key_size",
                  "min_key_size"):
            self.assertNotIn(f, st)
        self.assertEqual((st["key_size"], st["max_key_count"]), (256, 1000))

    def test_numbers_as_strings(self):
        self.quirks(numbers_as_strings=True)
        code, st = self.sim.status("KME_A", "SAE_A", "SAE_B")
        self.assertEqual(code, 200, st)
        self.assertEqual(st["key_size"], "256")
        self.assertEqual(st["max_key_per_request"], "128")
        self.assertEqual(st["source_KME_ID"], "KME_A")

    def test_status_error(self):
        self.quirks(status_error=True)
        self.assertEtsiError(self.sim.status("KME_A", "SAE_A", "SAE_B"), 500)
        self.assertKeys(self.sim.enc("KME_A", "SAE_A", "SAE_B", 1), 1, 256)

    def test_uppercase_ids(self):
        self.quirks(uppercase_ids=True)
        keys = self.enc_ids()
        for kid in keys:
            self.assertEqual(kid, str(uuid.UUID(kid)).upper())
        lower = [k.lower() for k in keys]
        self.assertEtsiError(self.sim.dec("KME_B", "SAE_B", "SAE_A", lower), 400)
        code, body = self.sim.dec("KME_B", "SAE_B", "SAE_A", list(keys))
        self.assertEqual(code, 200, body)
        self.assertEqual({k["key_ID"]: k["key"] for k in body["keys"]}, keys)

    def test_non_uuid_ids(self):
        self.quirks(non_uuid_ids=True)
        keys = self.enc_ids(8)
        for kid in keys:
            self.assertTrue(kid.startswith("QKD:"), kid)
            with self.assertRaises(ValueError):
                uuid.UUID(kid)
            self.assertEqual(len(base64.b64decode(kid[4:], validate=True)), 16)
        ids = list(keys)
        code, body = self.dec_get(ids[:4])        # escaped in the query
        self.assertEqual(code, 200, body)
        self.assertEqual({k["key_ID"]: k["key"] for k in body["keys"]},
                         {i: keys[i] for i in ids[:4]})
        code, body = self.sim.dec("KME_B", "SAE_B", "SAE_A", ids[4:])
        self.assertEqual(code, 200, body)

    def test_dec_post_only_and_get_only(self):
        ids = list(self.enc_ids(2))
        self.quirks(dec_post_only=True)
        self.assertEtsiError(self.dec_get(ids[:1]), 405)
        self.assertEqual(self.sim.dec("KME_B", "SAE_B", "SAE_A", ids[:1])[0], 200)
        self.quirks(dec_post_only=False, dec_get_only=True)
        self.assertEtsiError(self.sim.dec("KME_B", "SAE_B", "SAE_A", ids[1:]), 405)
        self.assertEqual(self.dec_get(ids[1:])[0], 200)
        # enc_keys and status keep both of their methods
        self.assertEqual(self.sim.api("KME_A", "SAE_A", "GET",
                                      "/api/v1/keys/SAE_B/enc_keys?number=1")[0], 200)
        status, out = self.sim.ctl("POST", "/quirks", {"dec_post_only": True})
        self.assertEqual(status, 400, out)
        self.assertIn("exclude", out["error"])

    def test_empty_400(self):
        # B-C: manual clock, nothing generated yet
        self.assertEtsiError(self.sim.enc("KME_B", "SAE_B", "SAE_C", 1), 503)
        self.quirks(empty_400=True)
        body = self.assertEtsiError(self.sim.enc("KME_B", "SAE_B", "SAE_C", 1), 400)
        self.assertIn("try again later", body["message"])

    def test_unknown_500_nobody(self):
        unknown = [str(uuid.uuid4())]
        self.assertEtsiError(self.sim.dec("KME_B", "SAE_B", "SAE_A", unknown), 400)
        self.quirks(unknown_500_nobody=True)
        status, raw = self.sim.raw("KME_B", "SAE_B", "POST",
                                   "/api/v1/keys/SAE_A/dec_keys",
                                   {"key_IDs": [{"key_ID": unknown[0]}]})
        self.assertEqual((status, raw), (500, b""))

    def test_dec_keeps_and_consumes(self):
        self.quirks(dec_keeps=True)
        keys = self.enc_ids(2)
        for _ in range(2):
            code, body = self.sim.dec("KME_B", "SAE_B", "SAE_A", list(keys))
            self.assertEqual(code, 200, body)
            self.assertEqual({k["key_ID"]: k["key"] for k in body["keys"]}, keys)
        self.quirks(dec_keeps=False)
        self.assertEqual(self.sim.dec("KME_B", "SAE_B", "SAE_A", list(keys))[0], 200)
        self.assertEtsiError(self.sim.dec("KME_B", "SAE_B", "SAE_A", list(keys)), 400)

    def test_bad_quirks(self):
        for body in ({"no_such": True}, {"uppercase_ids": 1}, []):
            status, out = self.sim.ctl("POST", "/quirks", body)
            self.assertEqual(status, 400, (body, out))
        self.assertFalse(any(self.sim.ctl("GET", "/quirks")[1].values()))


class CliTest(unittest.TestCase):
    def run_sim(self, *args, timeout=30):
        return subprocess.run([sys.executable, SIM] + list(args), timeout=timeout,
                              capture_output=True, text=True)

    def test_help(self):
        r = self.run_sim("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--link", r.stdout)
        import importlib.util
        spec = importlib.util.spec_from_file_location("kme_sim", SIM)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for word in ("SYNOPSIS", "CONFIGURATION", "CONTROL INTERFACE", "tls_wrong_ca",
                     "FOREIGN KME MODES"):
            self.assertIn(word, mod.__doc__)
        for q in mod.QUIRKS:        # every mode on --help and in the manual
            self.assertIn("--" + q.replace("_", "-"), r.stdout)
            self.assertIn("--" + q.replace("_", "-"), mod.__doc__)

    def test_bad_configs(self):
        base = ["--tls-dir", PKI, "--lifetime", "5"]
        cases = [
            [],
            ["--kme", "KME_A@127.0.0.1:0=SAE_A", "--control", "10.0.0.1:0"],
            ["--kme", "KME_A@127.0.0.1:0=SAE_A", "--kme", "KME_B@127.0.0.1:0=SAE_A"],
            ["--kme", "KME_A@127.0.0.1:0=SAE_A", "--link", "KME_A,KME_Z"],
            ["--kme", "KME_A@127.0.0.1:0=SAE_A", "--kme", "KME_B@127.0.0.1:0=SAE_B",
             "--link", "KME_A,KME_B,rate=-5"],
            ["--kme", "KME_A@127.0.0.1:0=SAE_A", "--kme", "KME_B@127.0.0.1:0=SAE_B",
             "--link", "KME_A,KME_B,key_size=100"],
            ["--kme", "KME_A@127.0.0.1:0=SAE_A", "--kme", "KME_B@127.0.0.1:0=SAE_B",
             "--link", "KME_A,KME_B,colour=red"],
            ["--kme", "KME_A@localhost:0=SAE_A"],
            ["--kme", "KME_A=SAE_A"],
            ["--kme", "KME_A@127.0.0.1:0=SAE_A", "--dec-post-only", "--dec-get-only"],
        ]
        for extra in cases:
            with self.subTest(args=extra):
                r = self.run_sim(*(base + extra))
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("configuration", r.stderr)
        path = os.path.join(TMP, "bad.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write('{"kmes": [')
        r = self.run_sim("--config", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad.json", r.stderr)
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"kmes": [{"id": "KME_A", "saes": ["SAE_A"]}],
                       "quirks": ["lowercase_ids"]}, f)
        r = self.run_sim("--tls-dir", PKI, "--config", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("quirks", r.stderr)

    def test_config_file(self):
        cfg = {
            "tls_dir": os.path.relpath(PKI, TMP),   # relative to the file's dir
            "clock": "manual",
            "control": {"address": "127.0.0.1", "port": 0},
            "defaults": {"max_key_count": 77, "key_size": 128},
            "kmes": [{"id": "KME_A", "address": "127.0.0.1", "port": 0,
                      "saes": ["SAE_A"]},
                     {"id": "KME_B", "address": "127.0.0.1", "port": 0,
                      "saes": ["SAE_B"],
                      "cert": os.path.join(PKI, "KME_B.crt"),
                      "key": os.path.join(PKI, "KME_B.key")}],
            "links": [{"id": "ab", "kmes": ["KME_A", "KME_B"], "rate": 1280}],
        }
        path = os.path.join(TMP, "sim.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(cfg, f)
        sim = Sim(["--config", path])
        try:
            self.assertEqual(sim.ready["links"], ["ab"])
            sim.ctl("POST", "/clock", {"advance": 1})
            code, st = sim.status("KME_A", "SAE_A", "SAE_B")
            self.assertEqual((code, st["key_size"], st["max_key_count"],
                              st["stored_key_count"]), (200, 128, 77, 10))
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_lifetime_and_sigterm(self):
        t = time.monotonic()
        r = self.run_sim("--tls-dir", PKI, "--kme", "KME_A@127.0.0.1:0=SAE_A",
                         "--lifetime", "0.5")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLess(time.monotonic() - t, 15)
        self.assertIn('"control"', r.stdout)
        sim = Sim(["--tls-dir", PKI, "--kme", "KME_A@127.0.0.1:0=SAE_A"])
        sim.proc.send_signal(signal.SIGTERM)
        self.assertEqual(sim.proc.wait(15), 0)
        sim.stop()

    def test_port_in_use(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            r = self.run_sim("--tls-dir", PKI, "--lifetime", "5",
                             "--kme", "KME_A@127.0.0.1:%d=SAE_A" % port)
            self.assertEqual(r.returncode, 1, r.stderr)

    def test_mkcerts_rejects_bad_names(self):
        d = os.path.join(TMP, "pki-bad")
        for arg in ("sae:a/b", "kme:", "foo:X", "sae:ca"):
            with self.subTest(arg=arg):
                r = subprocess.run([MKCERTS, d, arg], capture_output=True,
                                   timeout=60)
                self.assertEqual(r.returncode, 2)
        r = subprocess.run([MKCERTS, "--help"], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertIn("Usage", r.stdout)

    def test_mkcerts_names(self):
        def subject(name):
            return subprocess.run(
                ["openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253",
                 "-ext", "subjectAltName",
                 "-in", os.path.join(PKI, name + ".crt")],
                capture_output=True, text=True, check=True, timeout=10).stdout
        self.assertIn("CN=SAE_B2", subject("SAE_B2"))
        self.assertIn("CN=KME_A", subject("KME_A"))
        self.assertIn("127.0.0.1", subject("KME_A"))
        for n in ["KME_A", "SAE_A"]:
            r = subprocess.run(["openssl", "verify", "-CAfile",
                                os.path.join(PKI, "ca.crt"),
                                os.path.join(PKI, n + ".crt")],
                               capture_output=True, timeout=10)
            self.assertEqual(r.returncode, 0)
        r = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(PKI, "ca.crt"),
                            os.path.join(PKI, "rogue-client.crt")],
                           capture_output=True, timeout=10)
        self.assertNotEqual(r.returncode, 0)


def _main():
    counts = os.environ.get("KME_SIM_COUNTS")
    prog = unittest.main(module=__name__, exit=False, verbosity=2)
    r = prog.result
    failed = len(r.failures) + len(r.errors) + len(r.unexpectedSuccesses)
    skipped = len(r.skipped)
    passed = r.testsRun - failed - skipped - len(r.expectedFailures)
    if counts:
        os.makedirs(os.path.dirname(os.path.abspath(counts)), exist_ok=True)
        with open(counts, "w", encoding="utf-8") as f:
            f.write("%d %d %d\n" % (passed, failed, skipped))
    return 0 if r.wasSuccessful() and r.testsRun else 1


if __name__ == "__main__":
    sys.exit(_main())
