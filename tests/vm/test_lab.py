#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The two-router lab fed by a QKD network: the KME simulator, qkd-linkd
on each router, charon re-keying with the qkd plugin, and a QKD link
outage (picture: tests/lib/qkdlab/qkdnet.py).

tokyo re-keys its CHILD_SA every CHILD_REKEY s and its IKE_SA every
IKE_REKEY s (osaka never re-keys on its own, so that every exchange has one
initiator and the counts are exact), with ping host-tokyo -> host-osaka
running throughout.  The IKE and ESP proposals use the combined method,
x25519-ke1_mlkem768qkd (ML-KEM-768 and the qkd offer in one KE payload;
QKD_LAB_METHOD=separate runs the lab with ke1_mlkem768-ke2_qkd instead):
each re-key is one CREATE_CHILD_SA and one IKE_FOLLOWUP_KE.  What is
checked, with values:

- the pools fill through qkd-linkd (no key added by hand), with the
  sizing of lab.POOL_CFG;
- normal operation: every re-key is keyed with a QKD key, the same key ID
  on both routers, exactly one key taken per exchange on each side
  (pools' taken counters), re-keys == charon's re-key counters;
- QKD link cut: the pools drain to empty (consumption and max_age), the
  re-keys go on over x25519 + ML-KEM ("pool empty" / "no offer" logged on
  both routers), zero failed re-keys;
- link restored: the pools refill, and the first re-key after the refill
  is QKD-keyed again;
- over the whole run: zero failures, ping loss <= MAX_PING_LOSS, the
  per-pool ke_* counters of qkdctl dump agree with the logs when qkdctl
  prints them;
- no key material in any log (both linkd, both charons, the simulator,
  the kernel's): keys left in the pools at the end are taken on both
  routers (the same material for the same ID) and searched for.
"""

import base64
import os
import re
import subprocess
import time

from qkdlab.tap import check, diag, eq, main, test
from qkdlab.pools import family, log_materials

from qkdlab.proc import in_ns, wait_for
from qkdlab.routers import PLUGIN, QKDCTL
from qkdlab.qkdnet import LINKD, POOL_CFG, QKD_RATE, QkdLab, exchanges, rekey_counters, tally
from qkdlab.qkdnet import snapshot as lab_snapshot

# QKD_LAB_SLOW=N stretches the schedule N times (the debug kernel, where
# KASAN and lockdep under TCG make one exchange take seconds and re-keys
# every 3 s would leave no quiet moment to take a consistent snapshot)
SLOW = float(os.environ.get("QKD_LAB_SLOW", "1"))
CHILD_REKEY = round(3 * SLOW)
IKE_REKEY = round(20 * SLOW)
NORMAL = round(24 * SLOW)   # seconds of normal operation
MIN_FALLBACKS = 3       # ML-KEM-only re-keys to see with the pools empty
PING_INTERVAL = 0.2
MAX_PING_LOSS = 0.01    # the stated bound: at most 1% of the pings lost

# the combined method by default: one additional exchange per re-key
METHOD = os.environ.get("QKD_LAB_METHOD", "combined")
if METHOD == "combined":
    IKE_PROPOSAL = "aes256gcm16-prfsha384-x25519-ke1_mlkem768qkd"
    ESP_PROPOSAL = "aes256gcm16-x25519-ke1_mlkem768qkd"
    FOLLOWUPS = 1       # IKE_FOLLOWUP_KE exchanges per re-key
else:
    IKE_PROPOSAL = "aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke2_qkd"
    ESP_PROPOSAL = "aes256gcm16-x25519-ke1_mlkem768-ke2_qkd"
    FOLLOWUPS = 2
# a message, not its fragments ("[ EF(1/2) ]")
FOLLOWUP_RE = re.compile(r"generating IKE_FOLLOWUP_KE request \d+ \[ KE")

lab = QkdLab(rate=QKD_RATE)
T, O = lab.tokyo, lab.osaka
for _r in (T, O):
    _r.proposals, _r.esp_proposals = IKE_PROPOSAL, ESP_PROPOSAL
state = {"up": False, "pinger": None, "marks": None, "snaps": [], "materials": []}


def need_up(fn):
    def run():
        if not state["up"]:
            raise AssertionError("the lab is not up (see the first tests)")
        fn()
    run.__name__ = fn.__name__
    return run


def snapshot(start, prev=None, new_ike=0):
    return lab_snapshot(lab, start, prev, new_ike=new_ike)


def texts(start, end=(None, None)):
    return T.log_text()[start[0]:end[0]], O.log_text()[start[1]:end[1]]


def account(a, b, what):
    """The logs, the pools' taken counters and charon's counters between
    snapshots a and b agree (lab.consistency); returns the tally."""
    check(not b["problems"], f"{what}: " + "; ".join(b["problems"]))
    return b["tally"]


def no_failures(b, what):
    f = [(n, ln) for n, r in lab.routers.items() for ln in r.failures(b["text"][n])]
    check(not f, f"{what}: charon logged failures:\n" +
          "\n".join(f"{n}: {ln}" for n, ln in f[:20]))
    rt = {n: r.retransmits(b["text"][n]) for n, r in lab.routers.items()}
    if any(rt.values()):
        diag(f"{what}: retransmits (slow VM, not failures): {rt}")


def fmt_levels():
    lv = lab.levels()
    return ", ".join(f"{n} out {v['out'][0]}/{v['out'][1]} in {v['in'][0]}/{v['in'][1]}"
                     for n, v in lv.items())


@test("lab: namespaces, certificates, KME simulator (10 Mbit/s link), qkd-linkd on both "
      "routers: the pools fill through linkd")
def _():
    for path, what in ((PLUGIN, "strongswan-plugin"), (QKDCTL, "userspace"),
                       (LINKD, "userspace")):
        check(os.path.exists(path), f"no {path}: tools/inroot.sh make -C /src/{what}")
    t0 = time.monotonic()
    lab.setup()
    lab.install_plugin()
    lab.start_kme()
    eq(lab.link()["rate"], QKD_RATE, "the simulated link's rate (bit/s)")
    lab.start_linkd()
    try:
        wait_for(lab.full, 120, step=0.5, what="all four directions at the high watermark")
    except TimeoutError:
        diag(f"levels: {fmt_levels()}; linkd: {lab.linkd_status()}")
        raise
    diag(f"filled in {time.monotonic() - t0:.1f} s: {fmt_levels()}")
    for n, r in lab.routers.items():
        p = r.pool()
        eq((p["out"]["capacity"], p["out"]["low"], p["out"]["high"], p["out"]["max_age"],
            p["out"]["key_size"]),
           (POOL_CFG["capacity"], POOL_CFG["low_watermark"], POOL_CFG["high_watermark"],
            POOL_CFG["max_age"], 32), f"{n}'s pool as linkd's configuration says")
        # linkd rewrites its status file every second
        try:
            wait_for(lambda: lab.linkd[n].status().get("out_added") == r.pool()["out"]["added"],
                     5, what="linkd's status")
        except TimeoutError:
            eq(lab.linkd[n].status().get("out_added"), r.pool()["out"]["added"],
               f"{n}: keys added to the outbound side: linkd's status vs the kernel")
        s = lab.linkd[n].status()
        check(s.get("source_ok") and s.get("peer_out_connected") and
              s.get("peer_in_connected"), f"{n}: linkd status {s}")


@test(f"charon on both routers ({METHOD}: {ESP_PROPOSAL}), SA up, timed re-keys (CHILD "
      f"{CHILD_REKEY} s, IKE {IKE_REKEY} s) with ping running: every re-key keyed with a "
      f"QKD key, the same ID on both routers, one key per exchange on each side, "
      f"{FOLLOWUPS} IKE_FOLLOWUP_KE per re-key, no failure")
def _():
    T.rekey = {"ike": IKE_REKEY, "child": CHILD_REKEY}
    for r in (T, O):
        r.start()
        r.swanctl("--load-all", "--noprompt", "--file", r.swanctl_conf)
    # every snapshot is checked against the one before: the first one
    # is taken before any exchange
    zero = snapshot((T.mark(), O.mark()))
    rc, out = T.initiate(timeout=60)
    check(rc == 0, f"swanctl --initiate failed ({rc}):\n{out[-2000:]}")
    wait_for(lambda: T.child_installed() and O.child_installed(), 30,
             what="the CHILD_SA on both routers")
    base = snapshot(zero["end"], zero, new_ike=1)
    account(zero, base, "set-up")
    # the IKE_SA's exchange, and the CHILD_SA re-keys (every 3 s) that
    # completed while the snapshot waited for a quiet moment
    early = len(re.findall(r"rekeyed CHILD_SA ", base["text"]["tokyo"]))
    if early:
        diag(f"set-up: {early} CHILD_SA re-keys before the first snapshot")
    eq(len(T.acks(base["text"]["tokyo"], "initiator")), 1 + early,
       "QKD-keyed qkd exchanges of the new IKE_SA and its early re-keys (tokyo)")
    state["pinger"] = lab.ping_live(PING_INTERVAL)
    state["up"] = True
    a = snapshot(base["end"], base)
    time.sleep(NORMAL)
    b = snapshot(a["end"], a)
    t = account(a, b, "normal")
    diag(f"normal, {NORMAL} s: {t['rekeys']} re-keys, {t['qkd']} QKD-keyed; {fmt_levels()}")
    check(t["rekeys"] >= NORMAL // CHILD_REKEY - 2, f"only {t['rekeys']} re-keys")
    eq((t["qkd"], t["mlkem"], t["failed"]), (t["rekeys"], 0, 0),
       "re-keys QKD-keyed, ML-KEM only, failed")
    # the method's cost in exchanges: one round per additional key exchange
    eq(len(FOLLOWUP_RE.findall(b["text"]["tokyo"])), FOLLOWUPS * t["rekeys"],
       f"tokyo's IKE_FOLLOWUP_KE requests ({FOLLOWUPS} per re-key)")
    sas = T.sas()
    want = "KE1_(65003)" if METHOD == "combined" else "KE2_(65001)"
    check(want in sas and (METHOD != "combined" or "KE2_" not in sas),
          f"the SAs are not keyed with {want} alone:\n{sas}")
    no_failures(b, "normal")
    state["snaps"].append(("normal", a, b))


def initiated(start):
    tt, ot = texts(start)
    return [e for e in exchanges(T, tt) + exchanges(O, ot) if e[0] == "initiator"]


@test("QKD link cut: the pools drain to empty, re-keys go on over x25519 + ML-KEM "
      "(fallbacks logged on both routers), zero failures")
@need_up
def _():
    a = state["snaps"][-1][2]
    t_cut = time.monotonic()
    lab.cut()
    try:
        wait_for(lab.empty, POOL_CFG["max_age"] + 30, step=0.5, what="empty pools")
    except TimeoutError:
        diag(f"levels: {fmt_levels()}")
        raise
    diag(f"pools empty {time.monotonic() - t_cut:.1f} s after the cut")
    mid = snapshot(a["end"], a)
    wait_for(lambda: len(initiated(mid["end"])) >= MIN_FALLBACKS,
             MIN_FALLBACKS * CHILD_REKEY + 30,
             what=f"{MIN_FALLBACKS} re-keys with empty pools")
    b = snapshot(a["end"], a)
    t = account(a, b, "outage")
    # the re-keys once the pools were empty: from the middle snapshot on
    tt, ot = texts(mid["end"], b["end"])
    tail = tally(lab, tt, ot)
    diag(f"outage: {t['rekeys']} re-keys ({t['qkd']} QKD-keyed while draining, "
         f"{t['mlkem']} ML-KEM only); with the pools empty: {tail['rekeys']}")
    check(tail["rekeys"] >= MIN_FALLBACKS, f"only {tail['rekeys']} re-keys with empty pools")
    eq((tail["qkd"], tail["mlkem"], tail["failed"]), (0, tail["rekeys"], 0),
       "with the pools empty: re-keys QKD-keyed, ML-KEM only, failed")
    tf = [e for e in exchanges(T, tt) if e[0] == "initiator"]
    of = [e for e in exchanges(O, ot) if e[0] == "responder"]
    eq({e[1:] for e in tf}, {("fallback", "pool empty")}, "tokyo's fallbacks (outcome, reason)")
    eq({e[1:] for e in of}, {("fallback", "no offer")}, "osaka's fallbacks (outcome, reason)")
    eq(t["failed"], 0, "failed re-keys")
    no_failures(b, "outage")
    for n, lk in lab.linkd.items():
        check("QKD link down" in lk.log_text(), f"{n}: linkd did not log the outage")
        check(not lk.status().get("source_ok", True), f"{n}: linkd status: source_ok")
    for n in lab.routers:
        ke = b["pools"][n]["out"].get("ke")
        if ke:
            diag(f"{n}: qkdctl dump ke_* counters {ke}")
    state["snaps"].append(("outage", a, b))


@test("QKD link restored: the pools refill through linkd and the first re-key after the "
      "refill is QKD-keyed again")
@need_up
def _():
    a = state["snaps"][-1][2]
    t_restore = time.monotonic()
    lab.restore()
    # linkd retries the KME with a backoff of up to 60 s
    wait_for(lambda: lab.levels()["tokyo"]["out"][0] > 0, 90, step=0.25,
             what="tokyo's outbound side to refill")
    t_refill = time.monotonic()
    at_refill = (len(T.log_text()), len(O.log_text()))
    diag(f"refill {t_refill - t_restore:.1f} s after the restore (linkd's backoff)")

    def first_after():
        ev = initiated(at_refill)
        # an exchange that found the pool empty just before the refill may
        # log just after it: that one does not count
        if ev and ev[0][1:] == ("fallback", "pool empty"):
            ev = ev[1:]
        return ev[0] if ev else None
    first = wait_for(first_after, 3 * CHILD_REKEY + 30, step=0.2,
                     what="a re-key after the refill")
    t_first = time.monotonic()
    wait_for(lab.full, 60, step=0.5, what="the pools back at the high watermark")
    b = snapshot(a["end"], a)
    t = account(a, b, "restored")
    diag(f"first re-key after the refill: {first[1]} ({t_first - t_refill:.1f} s after "
         f"it); restored: {t['rekeys']} re-keys, {t['qkd']} QKD-keyed, {t['mlkem']} "
         f"ML-KEM only; {fmt_levels()}")
    eq(first[1], "qkd", "the first re-key after the refill")
    eq(t["failed"], 0, "failed re-keys")
    no_failures(b, "restored")
    state["snaps"].append(("restored", a, b))


@test(f"the whole run: zero failed re-keys, ping loss <= {MAX_PING_LOSS:.0%}, the phases' "
      "counts add up")
@need_up
def _():
    sent, recv = state["pinger"].stop()
    state["pinger"] = None
    rows = []
    tot = {"rekeys": 0, "qkd": 0, "mlkem": 0, "failed": 0}
    for name, a, b in state["snaps"]:
        t = tally(lab, b["text"]["tokyo"], b["text"]["osaka"])
        rows.append(f"{name:9} {t['rekeys']:7} {t['qkd']:5} {t['mlkem']:7} {t['failed']:7}")
        for k in tot:
            tot[k] += t[k]
    diag("phase     re-keys   QKD  ML-KEM  failed")
    for r in rows:
        diag(r)
    diag(f"{'total':9} {tot['rekeys']:7} {tot['qkd']:5} {tot['mlkem']:7} {tot['failed']:7}")
    diag(f"ping: {sent} sent, {sent - recv} lost")
    eq(tot["failed"], 0, "failed re-keys")
    first, last = state["snaps"][0][1], state["snaps"][-1][2]
    eq(rekey_counters(last) - rekey_counters(first), tot["rekeys"],
       "re-keys over the run (charon's counters) vs the phases' sum")
    check(sent > 0 and sent - recv <= sent * MAX_PING_LOSS,
          f"ping lost {sent - recv} of {sent} (bound {MAX_PING_LOSS:.0%})")


def take_all(fam, x, y):
    """Take every key of x's outbound side and the same IDs from y's inbound
    side (the kernel's ynl, a test-only path); the materials must match."""
    px = fam[x].do("pool-get", {"name": lab.routers[x].peer})
    py = fam[y].do("pool-get", {"name": lab.routers[y].peer})
    mats = []
    for _ in range(px["stats-out"]["level"]):
        ko = fam[x].do("key-take", {"id": px["id"], "direction": "out"})["key"][0]
        ki = fam[y].do("key-take", {"id": py["id"], "direction": "in",
                                    "key-id": ko["id"]})["key"][0]
        check(ki["material"] == ko["material"],
              f"key {ko['id'].hex()}: material differs between {x} and {y}")
        mats.append(ko["material"])
    return mats


@test("no key material in any log: both linkd, both charons, the simulator, the kernel")
@need_up
def _():
    # stop re-keying; let linkd bring each outbound side back to its low
    # watermark at least (a re-key may just have taken it below, and keys
    # age out), then stop filling: nothing moves while the pools are emptied
    lab.down()
    wait_for(lambda: all(r.pool()["out"]["level"] >= POOL_CFG["low_watermark"]
                         for r in lab.routers.values()), 90,
             what="both outbound sides at their low watermark or above")
    lab.cut()
    wait_for(lambda: all(s.get("master_state") == "idle" and not s.get("journal_open")
                         for s in lab.linkd_status().values()), 60, what="linkd idle")
    fam = {n: in_ns(r.ns, family) for n, r in lab.routers.items()}
    mats = take_all(fam, "tokyo", "osaka") + take_all(fam, "osaka", "tokyo")
    log_materials(mats)
    check(len(mats) >= POOL_CFG["high_watermark"],
          f"only {len(mats)} keys to search for")
    logs = {f"{n} linkd": lk.log_text() for n, lk in lab.linkd.items()}
    logs.update({f"{n} charon": r.log_text() for n, r in lab.routers.items()})
    with open(lab.sim_log, errors="replace") as f:
        logs["kme-sim"] = f.read()
    logs["dmesg"] = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    for where, text in logs.items():
        low = text.lower()
        for m in mats:
            for enc in (m.hex(), m[:8].hex(), base64.b64encode(m).decode()[:16]):
                check(enc.lower() not in low, f"key material in the {where} log")
    diag(f"{len(mats)} key materials (identical on both routers) searched in "
         f"{sum(len(t) for t in logs.values())} bytes of logs")


def finish(failed):
    if state["pinger"]:
        state["pinger"].stop()
    lab.finish(failed)


if __name__ == "__main__":
    main(finish)
