#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""qkd-linkd end to end: two routers, their KMEs (the simulator), the peer
channel, outages, crashes and KME faults.

The routers, the simulator and the peer channel: tests/lib/qkdlab/linkpair.py
(picture there).

Keys are compared through a test-only path: the test takes a key from one
router's outbound ring and the same ID from the other's inbound side (the
kernel's ynl) and compares the two; material is never printed, and the
daemons' logs and status files are searched for every material the test
saw.  Along the way, qkdctl show, show --json and metrics must report each
daemon's health from its status file: KME up and peer connected while
things run, the KME down with its last error in an outage, stale after a
kill -9, '-' for another namespace's daemon."""

import base64
import os
import random
import signal
import subprocess
import time

from qkdlab.linkpair import (KME, LINK, LINKD, NS, OTHER, TMP, cleanup, conf, consume,
                             ctl, fam, full, health, healthy, idle, levels, log_text, materials,
                             pool, procs, reconcile, start, status, up, wait)
from qkdlab.tap import check, diag, eq, main, test


@test("linkd: set-up: namespaces, certificates from mkcerts.sh, simulator")
def _():
    up()


@test("linkd: a bad configuration is refused with its file and line number")
def _():
    path = conf("a", capacity="lots")
    p = subprocess.run([LINKD, "-c", path], capture_output=True, text=True)
    eq(p.returncode, 1, "exit status")
    line = [i for i, ln in enumerate(open(path).read().splitlines(), 1)
            if ln.startswith("capacity")][0]
    check(f"{path}:{line}: capacity: 'lots' is not a number" in p.stderr,
          f"stderr: {p.stderr!r}")
    path = conf("a", low_watermark=100, high_watermark=50)
    p = subprocess.run([LINKD, "-t", "-c", path], capture_output=True, text=True)
    eq(p.returncode, 1, "exit status of -t")
    check("must be below high_watermark" in p.stderr, f"stderr: {p.stderr!r}")
    p = subprocess.run([LINKD, "-t", "-c", conf("a")], capture_output=True, text=True)
    eq(p.returncode, 0, f"-t on a good file: {p.stderr}")


@test("linkd: both routers' pools fill both ways")
def _():
    start("a")
    start("b")
    wait(full, 240, "all four directions above the high watermark")
    diag(f"levels (A out, A in, B out, B in): {levels()}")
    for x in "ab":
        check("connected to peer" in log_text(x), f"{x}: no peer connection logged")


@test("linkd: the same key ID gives the same material on both routers")
def _():
    reconcile("after the first fill")


@test("linkd: a link outage drains the pools to empty, they refill after restore")
def _():
    wait(full, 240, "refill after reconcile")
    for x in "ab":
        wait(lambda: healthy(x), 10, f"{x}: qkdctl reports the KME up and the peer connected")

        def same_refills():
            # --json and metrics are two reads of a file rewritten every
            # second: a refill between them is not a disagreement
            got[:] = health(x)
            return all(got[2].get(f'qkd_linkd_last_refill_timestamp_seconds{{pool="link",direction="{d}"}}')
                       == got[1][f"last_refill_{d}"] for d in ("out", "in"))
        got = []
        wait(same_refills, 10, f"{x}: --json and metrics read from one status")
        show, js, met = got
        t = time.time()
        for d in ("out", "in"):
            check(js[f"last_refill_{d}"] and t - 600 < js[f"last_refill_{d}"] <= t + 1,
                  f"{x}: last refill {d} {js[f'last_refill_{d}']} at {t}")
            eq(met.get(f'qkd_linkd_last_refill_timestamp_seconds{{pool="link",direction="{d}"}}'),
               js[f"last_refill_{d}"], f"{x}: metrics' last refill {d}")
        diag(f"{x}: {show[0]}")
    # another namespace's daemon does not fill this pool: '-', null, no series
    show, js, met = health("a", status_of="b")
    eq((show, js, met.get('qkd_linkd_up{pool="link"}')), (["qkd-linkd: -"], None, None),
       "A's pool with B's status file")
    ctl("POST", f"/links/{LINK}/cut")
    wait(lambda: idle("a") and idle("b"), 90, "masters idle")
    consume("a")
    consume("b")
    time.sleep(4)
    eq(levels(), (0, 0, 0, 0), "levels during the outage")
    for x in "ab":
        check("QKD link down" in log_text(x), f"{x}: the outage is not logged")
        check(not status(x).get("source_ok", True), f"{x}: status still says the KME is fine")
        show, js, met = health(x)
        check(show[0].startswith("qkd-linkd: KME DOWN, peer connected,"), f"{x}: show says {show}")
        check(len(show) == 2 and show[1].startswith("qkd-linkd last error (")
              and "QKD link down" in show[1], f"{x}: show's last error: {show}")
        check(not js["kme_up"] and "QKD link down" in js["last_error"]
              and time.time() - 120 < js["last_error_time"] <= time.time() + 1,
              f"{x}: --json during the outage: {js}")
        eq(met.get('qkd_linkd_kme_up{pool="link",direction="out"}'), 0, f"{x}: qkd_linkd_kme_up during the outage")
        check(met.get('qkd_linkd_kme_errors_total{pool="link"}', 0) >= 1,
              f"{x}: qkd_linkd_kme_errors_total {met}")
        diag(f"{x} during the outage: {show[0]} / {show[1]}")
    ctl("POST", f"/links/{LINK}/restore")
    wait(full, 240, "refill after the restore")


def crash(x, master, stale=False):
    """kill -9 of x while an offer is in flight: the slave's KME answers
    dec_keys slowly, so the offer of `master` waits for its ACK; x (the
    master itself, or the slave) dies then and restarts.  With stale:
    qkdctl shows x's dead daemon as stale before the restart."""
    slave = OTHER[master]
    wait(full, 240, "full before the crash")
    ctl("POST", f"/links/{LINK}/cut")
    wait(lambda: idle("a") and idle("b"), 90, "masters idle")
    consume(master, 40)
    fid = ctl("POST", f"/kmes/{KME[slave]}/faults",
              {"type": "slow", "delay": 4, "endpoint": "dec_keys"})["id"]
    ctl("POST", f"/links/{LINK}/restore")
    wait(lambda: status(master).get("master_state") == "offer-sent", 60,
         f"an offer of {master} in flight")
    time.sleep(random.uniform(0.5, 2.0))
    procs[x].send_signal(signal.SIGKILL)
    procs[x].wait()
    killed = time.monotonic()
    if stale:
        # stale once the status is more than 5 intervals (5 s) old
        wait(lambda: health(x)[1]["state"] == "stale", 15, f"qkdctl: {x}'s daemon stale")
        show, js, met = health(x)
        check(show[0].startswith("qkd-linkd: stale: no status for "), f"{x}: show says {show}")
        eq(met.get('qkd_linkd_up{pool="link"}'), 0, f"{x}: qkd_linkd_up of a dead daemon")
        check(not any(k.startswith("qkd_linkd_kme_up{") for k in met), f"{x}: a dead daemon's kme_up exported")
        diag(f"{x} killed: '{show[0]}' after {time.monotonic() - killed:.1f} s")
    time.sleep(max(0.0, killed + 4 - time.monotonic()))
    ctl("DELETE", f"/kmes/{KME[slave]}/faults/{fid}")
    start(x)
    wait(lambda: "aborted: peer removed" in log_text(master), 120,
         f"{master} aborts its interrupted offer")
    wait(full, 240, f"refill after restarting {x}")
    if stale:
        wait(lambda: healthy(x), 10, f"qkdctl: {x}'s new daemon running and connected")
    reconcile(f"after kill -9 of {x}")
    diag([ln for ln in log_text(master).splitlines() if "aborted: peer removed" in ln][-1])


@test("linkd: kill -9 of the master (A) with an offer in flight, restart: nothing lost, duplicated or one-sided")
def _():
    crash("a", "a", stale=True)


@test("linkd: kill -9 of the slave (B) during A's offer, restart: nothing lost, duplicated or one-sided")
def _():
    crash("b", "a")


@test("linkd: kill -9 of the master (B) with an offer in flight, restart: nothing lost, duplicated or one-sided")
def _():
    crash("b", "b")


FAULTS = [
    ("a", "garbage_json", "enc_keys", "not valid JSON"),
    ("a", "wrong_key_size", "enc_keys", "bits, 256 were asked for"),
    ("a", "duplicate_key_ids", "enc_keys", "duplicate key_ID"),
    ("a", "http_error", "enc_keys", "HTTP 503"),
    ("b", "garbage_json", "dec_keys", "dec_keys answer rejected"),
    ("b", "wrong_key_size", "dec_keys", "bits, 256 were asked for"),
    ("a", "drop_connection", "enc_keys", "KME unreachable"),
]


@test("linkd: every injected KME fault leaves the pools untouched and is logged")
def _():
    wait(full, 240, "full before the faults")
    for who, ftype, ep, text in FAULTS:
        before = len(log_text(who))
        ctl("POST", f"/links/{LINK}/cut")
        wait(lambda: idle("a") and idle("b"), 90, "masters idle")
        # consume() woke A's master (its ring fell below the low watermark):
        # an offer from keys the KME had buffered before the cut may still
        # commit, even while consume() runs.  Snapshot once the master is
        # idle and its count stands across two writes of the status file
        # (rewritten every second: with offers pipelined, a whole refill
        # can fit between two writes; two reads of one write prove
        # nothing), and take again until the settled pools are empty.
        for _attempt in range(5):
            consume("a")
            taken = time.time()
            last = [None, None]

            def settled():
                mtime = os.stat(os.path.join(TMP, "a", "status.json")).st_mtime_ns
                if mtime <= taken * 1e9 or mtime == last[1]:
                    return False
                c = status("a").get("committed")
                ok = idle("a") and c == last[0]
                last[0], last[1] = c, mtime
                return ok
            wait(settled, 90, "A's master settled after the take")
            la_out, _, _, lb_in = levels()
            if (la_out, lb_in) == (0, 0):
                break
            diag(f"{ftype}: an offer committed during the take ({la_out}, {lb_in}): taking again")
        committed = last[0]
        fid = ctl("POST", f"/kmes/{KME[who]}/faults",
                  {"type": ftype, "endpoint": ep})["id"]
        ctl("POST", f"/links/{LINK}/restore")
        wait(lambda: text in log_text(who)[before:], 90, f"{ftype}: '{text}' in {who}'s log")
        time.sleep(1)
        la_out, _, _, lb_in = levels()
        eq((la_out, lb_in), (0, 0), f"{ftype}: A->B levels while the fault is active")
        eq(status("a").get("committed"), committed, f"{ftype}: keys committed")
        ctl("DELETE", f"/kmes/{KME[who]}/faults/{fid}")
        diag(f"{ftype} on {KME[who]} {ep}: pools untouched, logged")
    check("peer refused offer" in log_text("a"), "A did not log the refused offers")
    wait(full, 240, "refill after the faults")
    reconcile("after the faults")


@test("linkd: no key material in the daemons' logs and status files")
def _():
    check(materials, "no materials collected")
    logs = log_text("a") + log_text("b")
    for x in "ab":      # and none in the status files qkdctl reads
        with open(os.path.join(TMP, x, "status.json")) as f:
            logs += f.read()
    for m in materials:
        for enc in (m.hex(), base64.b64encode(m).decode()[:16], m[:8].hex()):
            check(enc not in logs, "key material found in a daemon log")
    diag(f"{len(materials)} materials searched")


@test("linkd: SIGHUP with a broken file keeps running; SIGTERM exits cleanly")
def _():
    path = conf("a", batch_size="0")
    procs["a"].send_signal(signal.SIGHUP)
    wait(lambda: "reload refused" in log_text("a"), 30, "reload refused")
    check(procs["a"].poll() is None, "A exited on a bad reload")
    conf("a")
    procs["a"].send_signal(signal.SIGHUP)
    wait(lambda: "reloading" in log_text("a"), 30, "reload")
    check(procs["a"].poll() is None, "A exited on a good reload")
    for x in "ab":
        procs[x].send_signal(signal.SIGTERM)
        eq(procs[x].wait(timeout=30), 0, f"{x}: exit status after SIGTERM")
    check("stopped" in log_text("a"), "no 'stopped' line")
    del path


@test("linkd: journal: an offer committed before a crash is recognised; a corrupt journal stops the daemon")
def _():
    wait(lambda: all(procs[x].poll() is not None for x in "ab"), 5, "daemons stopped")
    added = pool("a")["stats-out"]["added"]
    journal = os.path.join(TMP, "a", "state", "link.journal")
    with open(journal) as f:
        seq = int(f.read().split("next_seq ")[1].split()[0])
    # As if A died after adding its last 16 keys but before closing the entry.
    ids = "".join(f"id {i:032x}\n" for i in range(16))
    with open(journal, "w") as f:
        f.write(f"qkd-linkd journal 1\nnext_seq {seq + 1}\n"
                f"open {seq} {added - 16} 16\n{ids}")
    before = len(log_text("b"))
    start("a")
    start("b")
    wait(lambda: f"offer {seq} (16 keys) was committed before the restart" in log_text("a"),
         60, "the committed offer recognised")
    wait(lambda: status("a").get("peer_out_connected"), 60, "A connected")
    time.sleep(2)
    check("aborted offer" not in log_text("b")[before:], "B was asked to abort a committed offer")
    for x in "ab":
        procs[x].send_signal(signal.SIGTERM)
        procs[x].wait(timeout=30)
    with open(journal, "w") as f:
        f.write("qkd-linkd journal 1\nnext_seq x\n")
    p = subprocess.run(["ip", "netns", "exec", NS["a"], LINKD, "-c", conf("a")],
                       capture_output=True, text=True, timeout=60)
    eq(p.returncode, 1, "exit status with a corrupt journal")
    check(f"{journal}: corrupt journal" in p.stderr, f"stderr: {p.stderr!r}")
    os.unlink(journal)


@test("linkd: stream source: both routers take the same keys with the same IDs from one stream")
def _():
    path = os.path.join(TMP, "stream.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(4000 * (16 + 32)))
    for x in "ab":
        p = pool(x)
        fam[x].do("pool-del", {"id": p["id"]})
    start("a", stream=path)
    start("b", stream=path)
    wait(full, 240, "stream pools full")
    reconcile_stream = levels()
    eq(reconcile_stream[0], reconcile_stream[3], "A out vs B in")
    n1, n2 = consume("a"), consume("b")
    diag(f"stream: {n1} + {n2} key pairs identical on both routers")
    for x in "ab":
        procs[x].send_signal(signal.SIGTERM)
        eq(procs[x].wait(timeout=30), 0, f"{x}: exit status")


if __name__ == "__main__":
    main(lambda failed: cleanup())
