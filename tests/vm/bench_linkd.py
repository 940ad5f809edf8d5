#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""qkd-linkd figures for the benchmark (not a test): run inside the VM with
the qkdpool module loaded, e.g. from bench/run.sh:

	QKD_LINKD=/src/build/userspace/qkd-linkd python3 tests/vm/bench_linkd.py

Sets up test_linkd.py's topology (two routers, the simulator with an
unlimited link) and prints two "# ..." lines and two "key value unit"
lines:

	enc_keys_rtt_us  N   us  one ETSI 014 enc_keys of one 256-bit key, mutual
	                         TLS, keep-alive, from a router namespace (median
	                         of 200, Python's http.client as the client)
	linkd_fill_rate  N   keys/s  both directions together, from empty to
	                         40,000 keys each way, batches of 128

Under qemu TCG these are emulated-CPU figures; the simulator (Python) and
both daemons share the two vCPUs."""

import http.client
import os
import ssl
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_linkd as t     # noqa: E402  (its topology and helpers)


def enc_keys_rtt(n=200):
    ctx = ssl.create_default_context(cafile=f"{t.PKI}/ca.crt")
    ctx.load_cert_chain(f"{t.PKI}/SAE_A.crt", f"{t.PKI}/SAE_A.key")
    conn = t.in_ns(t.NS["a"], lambda: http.client.HTTPSConnection(
        "10.9.1.10", 8443, context=ctx, timeout=30))
    t.in_ns(t.NS["a"], conn.connect)
    body = '{"number":1,"size":256}'
    hdrs = {"Content-Type": "application/json"}
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("POST", "/api/v1/keys/SAE_B/enc_keys", body, hdrs)
        r = conn.getresponse()
        r.read()
        times.append(time.perf_counter() - t0)
        if r.status != 200:
            raise SystemExit(f"enc_keys answered {r.status}")
    conn.close()
    return statistics.median(times) * 1e6


def fill_rate():
    t.CAP, t.LOW, t.HIGH = 200000, 1000, 40000
    for x in "ab":
        path = t.conf(x, batch_size=128, kme_timeout=10)
        log = open(t.log_path(x), "a")
        t.procs[x] = subprocess.Popen(["ip", "netns", "exec", t.NS[x], t.LINKD,
                                       "-c", path], stdout=log, stderr=log)
    t0 = None
    while True:
        try:
            lv = t.levels()
        except Exception:       # noqa: BLE001  (pools not created yet)
            time.sleep(0.1)
            continue
        if t0 is None:
            t0 = time.monotonic()
        if min(lv) >= t.HIGH:
            break
        time.sleep(0.25)
    return 2 * t.HIGH / (time.monotonic() - t0)


if __name__ == "__main__":
    try:
        t.topology()
        t.certs()
        t.start_sim()
        rtt = enc_keys_rtt()
        rate = fill_rate()
        print(f"# qkd-linkd: enc_keys round trip {rtt:.0f} us (median of 200)")
        print(f"# qkd-linkd: fill rate {rate:.0f} keys/s both ways "
              f"({rate * 256 / 1e6:.2f} Mbit/s of 256-bit keys)")
        print(f"enc_keys_rtt_us {rtt:.0f} us")
        print(f"linkd_fill_rate {rate:.0f} keys/s")
    finally:
        for p in t.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        for ns in t.NS.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
