#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""qkd-linkd figures for the benchmark (not a test): run inside the VM with
the qkdpool module loaded, e.g. from bench/run.sh:

	QKD_LINKD=/src/build/userspace/qkd-linkd python3 bench/linkd_bench.py

Sets up test_linkd.py's topology (two routers, the simulator with an
unlimited link) and prints "# ..." lines and four "key value unit" lines:

	enc_keys_rtt_us  N   us  one ETSI 014 enc_keys of one 256-bit key, mutual
	                         TLS, keep-alive, from a router namespace (median
	                         of 200, Python's http.client as the client)
	linkd_fill_rate  N   keys/s  both directions together, from empty to
	                         40,000 keys each way, batches of 128
	linkd_fill_1key_w1  N keys/s  the same from empty to 300 keys each way
	                         with a KME that serves 1 key per request
	                         (max_key_per_request = 1), offer_window = 1:
	                         one offer in flight per direction (as before
	                         pipelining)
	linkd_fill_1key  N  keys/s  the same with the default offer_window (4)
	linkd_fill_1key_slow_w1, linkd_fill_1key_slow  N  keys/s  the same two
	                         to 150 keys each way, both KMEs answering each
	                         request after 50 ms (a KME across a WAN: the
	                         round trip, not the simulator's CPU, bounds it)

With the simulator on the same two emulated CPUs, each request costs it
about a round trip of CPU (Python, one interpreter lock for both KMEs):
four requests per key pair bound the one-key fill at about
1 / (4 x enc_keys_rtt) whatever the window, so the 50 ms case is the one
that shows the pipelining.

Under qemu TCG these are emulated-CPU figures; the simulator (Python) and
both daemons share the two vCPUs."""

import http.client
import os
import ssl
import statistics
import subprocess
import time

import qkdlab.linkpair as t


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


DELAY = 0.05            # s: the KMEs' answer time in the round-trip-bound case


def stop_daemons():
    for x in "ab":
        p = t.procs.pop(x, None)
        if p and p.poll() is None:
            p.terminate()
            p.wait()
        fam = t.fam.pop(x, None) or t.in_ns(t.NS[x], t.family)
        try:
            fam.do("pool-del", {"name": "link"})
        except Exception:       # noqa: BLE001  (no pool)
            pass
        # Its open offers went with the pools: start afresh.
        try:
            os.remove(os.path.join(t.TMP, x, "state", "link.journal"))
        except FileNotFoundError:
            pass


def one_key_sim():
    """The simulator again, its link serving one key per request."""
    p = t.procs.pop("sim")
    p.terminate()
    p.wait()
    ready = os.path.join(t.TMP, "sim1.ready")
    t.procs["sim"] = subprocess.Popen(
        ["ip", "netns", "exec", t.NS["k"], "python3", t.SIM, "--tls-dir", t.PKI,
         "--control", "127.0.0.1:9000",
         "--kme", "KME_A@10.9.1.10:8443=SAE_A", "--kme", "KME_B@10.9.2.10:8444=SAE_B",
         "--link", "KME_A,KME_B,rate=0,max_key_count=100000,max_key_per_request=1",
         "--ready-file", ready, "--lifetime", "3000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not os.path.exists(ready):
        if t.procs["sim"].poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the one-key simulator did not start")
        time.sleep(0.2)


def fill_rate_1key(window, high=300, delay=0.0):
    """Keys/s both ways from empty pools to @high each way, one key per
    KME request, @window offers in flight per direction (None: not set,
    for a daemon without the option), each KME answering after @delay s
    (the simulator's "slow" fault: a KME across a WAN)."""
    stop_daemons()
    t.ctl("DELETE", "/faults")
    for k in ("KME_A", "KME_B"):
        if delay:
            t.ctl("POST", f"/kmes/{k}/faults", {"type": "slow", "delay": delay})
    t.CAP, t.LOW, t.HIGH = 4096, min(100, high // 2), high
    for x in "ab":
        over = {"offer_window": window} if window else {}
        path = t.conf(x, batch_size=128, kme_timeout=10, **over)
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
        if time.monotonic() - t0 > 600:
            raise SystemExit(f"one-key fill (window {window}) stalled at {lv}")
        time.sleep(0.1)
    return 2 * t.HIGH / (time.monotonic() - t0)


if __name__ == "__main__":
    try:
        t.topology()
        t.certs()
        t.start_sim()
        rtt = enc_keys_rtt()
        rate = fill_rate()
        one_key_sim()
        w1 = fill_rate_1key(1)
        wd = fill_rate_1key(4)
        d1 = fill_rate_1key(1, 150, DELAY)
        dd = fill_rate_1key(4, 150, DELAY)
        print(f"# qkd-linkd: enc_keys round trip {rtt:.0f} us (median of 200)")
        print(f"# qkd-linkd: fill rate {rate:.0f} keys/s both ways "
              f"({rate * 256 / 1e6:.2f} Mbit/s of 256-bit keys)")
        print(f"# qkd-linkd: one key per KME request: {w1:.1f} keys/s both ways "
              f"with one offer in flight, {wd:.1f} with offer_window 4: "
              f"{wd / w1:.2f}x")
        print(f"# qkd-linkd: the same with KMEs answering after {DELAY * 1000:.0f} ms: "
              f"{d1:.1f} keys/s with one offer in flight, {dd:.1f} with "
              f"offer_window 4: {dd / d1:.2f}x")
        print(f"enc_keys_rtt_us {rtt:.0f} us")
        print(f"linkd_fill_rate {rate:.0f} keys/s")
        print(f"linkd_fill_1key_w1 {w1:.1f} keys/s")
        print(f"linkd_fill_1key {wd:.1f} keys/s")
        print(f"linkd_fill_1key_slow_w1 {d1:.1f} keys/s")
        print(f"linkd_fill_1key_slow {dd:.1f} keys/s")
    finally:
        for p in t.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        for ns in t.NS.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
