#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The strongSwan plugin `qkd` in a real kernel: two routers re-keying
IPsec SAs with QKD keys from the qkdpool module, ESP through XFRM.

  netns host-tokyo    netns router-tokyo                 netns router-osaka    netns host-osaka
  +-----------+      +---------------------+            +---------------------+      +-----------+
  | lan0      |      | lan0          wan0  |  backhaul  | wan0          lan0  |      |      lan0 |
  | 10.10.1.2 +------+ 10.10.1.1 192.0.2.1 +============+ 192.0.2.2 10.20.1.1 +------+ 10.20.1.2 |
  +-----------+ veth | charon (own mount ns,|   veth     | charon (own mount ns,| veth +-----------+
                     |  private /run, vici) |  IKE, ESP  |  private /run, vici) |
                     | pool "osaka"         |            | pool "tokyo"         |
                     |  out: T->O keys ------- same IDs, same material --> in   |
                     |  in:  O->T keys <------ same IDs, same material --- out  |
                     +---------------------+            +---------------------+

Both charons load the qkd plugin (send_vendor_id = yes) and run the
connection "lab" (PSK) with IKE proposal
aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke2_qkd and ESP proposal
aes256gcm16-x25519-ke1_mlkem768-ke2_qkd.  Keys are random (os.urandom),
added with `qkdctl keys add --from FILE`, never printed.

What is checked, with values: the SA comes up and ping goes through ESP
(XFRM state counters); every qkd exchange takes exactly one key on each
side with the same key ID (the plugin's log lines on both routers, the
pools' taken counters, charon's re-key counters); timed re-keys with ping
running: no failure, no lost ping; drained pools: re-keys go on over
x25519 + ML-KEM with the fallback logged; refilled: QKD again; `require`:
refused while empty (initiator and responder side), up once keys are
back; a key whose material differs on one router: a NAK (tag mismatch),
nothing consumed there, ESP keeps working; both routers re-keying at the
same moment: no key used twice; no key material in any log.

Needs: the qkdpool module loaded (run.sh does it), build/userspace/qkdctl,
build/strongswan-plugin/trixie/libstrongswan-qkd.so and -qkd-mlkem.so
(tools/inroot.sh make -C /src/strongswan-plugin), esp4/xfrm_user in the kernel.
"""

import os
import re
import time

from qkdlab.tap import check, diag, eq, main, test
from qkdlab.pools import log_materials

from qkdlab.proc import wait_for
from qkdlab.routers import Lab, PLUGIN, QKDCTL, hexid, leaked

# timed re-keys (tokyo initiates; osaka never re-keys on its own, so that
# every exchange has one initiator and the counts are exact)
CHILD_REKEY = 5
IKE_REKEY = 15
TIMED = 36          # seconds of timed re-keys
PING_INTERVAL = 0.2
MAX_PING_LOSS = 0.01

lab = Lab()
T, O = lab.tokyo, lab.osaka
KEYS = {"t2o": {}, "o2t": {}}        # key ID -> material, per direction
MATERIALS = []
state = {"up": False}


def new_keys(direction, n):
    """n random keys for one direction (t2o: tokyo's out and osaka's in)."""
    ks = [(os.urandom(16), os.urandom(32)) for _ in range(n)]
    for kid, mat in ks:
        KEYS[direction][hexid(kid)] = mat
        MATERIALS.append(mat)
    log_materials(m for _, m in ks)
    return ks


def fill(n):
    """The same n fresh keys on both ends of each direction: the receiving
    router's inbound side first, then the sender's outbound side, as
    qkd-linkd does.  The other order opens a window in which a timed re-key
    offers a key the peer does not hold yet: a NAK (unknown key ID), one
    outbound key burnt, and an orphan inbound key on the peer."""
    t2o, o2t = new_keys("t2o", n), new_keys("o2t", n)
    O.add_keys("in", t2o)
    T.add_keys("out", t2o)
    T.add_keys("in", o2t)
    O.add_keys("out", o2t)


def flush_all():
    T.flush()
    O.flush()


def taken():
    """Taken counters: {"T.out": n, "T.in": n, "O.out": n, "O.in": n}."""
    t, o = T.pool(), O.pool()
    return {"T.out": t["out"]["taken"], "T.in": t["in"]["taken"],
            "O.out": o["out"]["taken"], "O.in": o["in"]["taken"]}


def delta(a, b):
    return {k: b[k] - a[k] for k in a}


def outcomes(r, role, text):
    """Finished qkd exchanges of one role in text: ACKs and fallbacks."""
    return len(r.acks(text, role)) + len(r.fallbacks(text, role))


def settle(pt, po, timeout=60):
    """Wait until every qkd exchange started since the marks pt/po has
    finished on both sides: initiator outcomes == responder outcomes of the
    peer, both ways, and nothing moved for a second."""
    last = [None, 0.0]

    def done():
        tt, ot = T.since(pt), O.since(po)
        now = (outcomes(T, "initiator", tt), outcomes(O, "responder", ot),
               outcomes(O, "initiator", ot), outcomes(T, "responder", tt))
        if now != last[0]:
            last[0], last[1] = now, time.monotonic()
            return False
        return (now[0] == now[1] and now[2] == now[3]
                and time.monotonic() - last[1] >= 1.0
                and not T.busy() and not O.busy())
    t0 = time.monotonic()
    try:
        wait_for(done, timeout, step=0.25, what="the qkd exchanges to finish on both routers")
    finally:
        if time.monotonic() - t0 > 5:
            diag(f"settling took {time.monotonic() - t0:.1f} s; busy: "
                 f"tokyo {T.busy()}, osaka {O.busy()}")
            for r in (T, O):
                if r.busy():
                    diag(f"{r.name}: " + r.sas())


NAK_REASONS = ("unknown key ID", "tag mismatch")


def offers_naked(r, text):
    """Offers of r answered with a NAK: each burnt one outbound key."""
    return [f for f in r.fallbacks(text, "initiator") if f[2] in NAK_REASONS]


def events(pt, po):
    """charon's re-key, expiry and qkd lines since the marks, for a diagnostic."""
    pat = ("qkd:", "rekey", "expire", "establish", "deleting", "closing",
           "TEMPORARY_FAILURE", "retransmit", "INVALID_KE")
    return "\n".join(f"{r.name}: {ln}" for r, txt in ((T, T.since(pt)), (O, O.since(po)))
                     for ln in txt.splitlines() if any(p in ln for p in pat))


def no_failures(pt, po):
    rt, ro = T.retransmits(T.since(pt)), O.retransmits(O.since(po))
    if rt or ro:
        diag(f"retransmits (slow VM, not failures): tokyo {rt}, osaka {ro}")
    f = [("tokyo", ln) for ln in T.failures(T.since(pt))] + \
        [("osaka", ln) for ln in O.failures(O.since(po))]
    check(not f, "charon logged failures:\n" + "\n".join(f"{r}: {ln}" for r, ln in f[:20]))


def sa_up(timeout=30):
    """The IKE_SA ESTABLISHED and the CHILD_SA INSTALLED on both routers
    (a timed re-key may be under way: wait for it)."""
    try:
        wait_for(lambda: T.ike_established() and O.ike_established() and
                 T.child_installed() and O.child_installed(), timeout,
                 what="the SAs on both routers")
    except TimeoutError:
        diag(f"the SAs after {timeout} s; tokyo:\n{T.sas()}\nosaka:\n{O.sas()}")
        check(T.ike_established() and O.ike_established(), "IKE_SA not ESTABLISHED on both")
        check(T.child_installed() and O.child_installed(), "CHILD_SA net not INSTALLED on both")




def snapshot(pt, po, timeout=120):
    """Taken counters and both logs since the marks, read while no qkd
    exchange is in flight: the counters the same before and after a quiet
    second, the logs unchanged over it, every initiator outcome answered.
    Timed re-keys keep coming, and under TCG on a loaded host one can take
    seconds: hence the long timeout, and on a timeout the reason the last
    try was not quiet."""
    why = {"last": "never tried"}

    def quiet():
        if T.busy() or O.busy():
            why["last"] = "an exchange under way"
            return None
        a, c = taken(), (T.counters(), O.counters())
        tt, ot = T.since(pt), O.since(po)
        time.sleep(1)
        if (T.since(pt), O.since(po)) != (tt, ot) or taken() != a or \
           (T.counters(), O.counters()) != c or T.busy() or O.busy():
            why["last"] = "logs, keys taken or counters moved within the second"
            return None
        bal = (outcomes(T, "initiator", tt), outcomes(O, "responder", ot),
               outcomes(O, "initiator", ot), outcomes(T, "responder", tt))
        if bal[0] != bal[1] or bal[2] != bal[3]:
            why["last"] = (f"outcomes unbalanced: tokyo initiator {bal[0]} / osaka "
                           f"responder {bal[1]}, osaka initiator {bal[2]} / tokyo "
                           f"responder {bal[3]}")
            return None
        return a, tt, ot, c[0], c[1]
    try:
        return wait_for(quiet, timeout, step=0.1, what="a moment without qkd exchanges")
    except TimeoutError as e:
        diag("charon's events since the marks:\n" + events(pt, po))
        raise TimeoutError(f"{e}; last try: {why['last']}") from None


def quiet_mark(timeout=120):
    """Marks in both logs, with the taken counters and tokyo's charon
    counters that go with them, read at a quiet moment: no exchange under
    way and nothing logged, taken or counted for a second.  While timed
    re-keys run, marks read at any other moment can fall between an
    exchange's log line and its counter bump: counted in one and not the
    other."""
    def attempt():
        if T.busy() or O.busy():
            return None
        a, c = taken(), T.counters()
        pt, po = T.mark(), O.mark()
        time.sleep(1)
        if T.since(pt) or O.since(po) or taken() != a or T.counters() != c or \
           T.busy() or O.busy():
            return None
        return pt, po, a, c
    return wait_for(attempt, timeout, step=0.1, what="a quiet moment to start counting")


def ids_match(a_acks, b_acks, keyset, what):
    """The initiator's key IDs are the responder's, in order, all from keyset,
    none twice."""
    ia = [a[1] for a in a_acks]
    ib = [b[1] for b in b_acks]
    eq(sorted(ia), sorted(ib), f"{what}: initiator's and responder's key IDs")
    eq(len(set(ia)), len(ia), f"{what}: key IDs used more than once")
    unknown = [i for i in ia if i not in KEYS[keyset]]
    check(not unknown, f"{what}: key IDs not among the keys added: {unknown}")


def need_up(fn):
    def run():
        if not state["up"]:
            raise AssertionError("the lab is not up (see the first test)")
        fn()
    run.__name__ = fn.__name__
    return run


@test("plugin lab: 4 namespaces, pools with the same random keys on both routers, "
      "two charons loading the qkd plugin")
def _():
    check(os.path.exists(PLUGIN), f"no plugin at {PLUGIN}: build it with "
          "tools/inroot.sh make -C /src/strongswan-plugin")
    check(os.path.exists(QKDCTL), f"no qkdctl at {QKDCTL}: build it with "
          "tools/inroot.sh make -C /src/userspace")
    lab.setup()
    lab.install_plugin()
    for r in (T, O):
        r.qkdctl("pool", "add", r.peer, "key-size", "32", "capacity", "1024")
    fill(60)
    t, o = T.pool(), O.pool()
    eq((t["out"]["level"], t["in"]["level"], o["out"]["level"], o["in"]["level"]),
       (60, 60, 60, 60), "pool levels (tokyo out/in, osaka out/in)")
    for r in (T, O):
        r.start()
        r.swanctl("--load-all", "--noprompt", "--file", r.swanctl_conf)
    algs = T.swanctl("--list-algs")
    ke = [ln.strip() for ln in algs.splitlines() if "[qkd" in ln]
    diag("tokyo's charon: " + " ".join(ke))
    check(any("ML_KEM_768[qkd-mlkem]" in k for k in ke),
          "ML_KEM_768 from the qkd-mlkem plugin not listed")
    check(any("65001" in k or "QKD" in k for k in ke), "the qkd method (65001) not listed")
    state["up"] = True


@test("SA up with x25519 + ML-KEM-768 + qkd: one key taken on each router, the same key ID")
@need_up
def _():
    pt, po = T.mark(), O.mark()
    b = taken()
    rc, out = T.initiate(timeout=60)
    check(rc == 0, f"swanctl --initiate failed ({rc}):\n{out[-2000:]}")
    settle(pt, po)
    sa_up()
    sas = T.sas()
    diag("\n".join(ln for ln in sas.splitlines() if "KE" in ln or "AES" in ln))
    check("KE1_ML_KEM_768" in sas, "IKE_SA not keyed with KE1_ML_KEM_768")
    ta, oa = T.acks(T.since(pt), "initiator"), O.acks(O.since(po), "responder")
    eq((len(ta), len(oa)), (1, 1), "qkd key log lines (tokyo initiator, osaka responder)")
    ids_match(ta, oa, "t2o", "IKE_SA")
    eq((ta[0][2], oa[0][2]), ("osaka", "tokyo"), "pools named in the log lines")
    eq(delta(b, taken()), {"T.out": 1, "T.in": 0, "O.out": 0, "O.in": 1}, "keys taken")
    no_failures(pt, po)
    diag(f"IKE_SA keyed with QKD key {ta[0][1]} on both routers")


@test("ping host-tokyo -> host-osaka goes through ESP (ip -s xfrm state counters)")
@need_up
def _():
    got = lab.esp_ping(10)
    diag(f"ESP packets: {got}")


@test("CHILD_SA re-keyed from each side and the IKE_SA re-keyed: one key per exchange, "
      "same ID on both routers, each direction from its own keys")
@need_up
def _():
    pt, po = T.mark(), O.mark()
    b = taken()
    ct0, co0 = T.counters(), O.counters()
    T.rekey_child()
    settle(pt, po)
    O.rekey_child()
    settle(pt, po)
    T.rekey_ike()
    settle(pt, po)
    tt, ot = T.since(pt), O.since(po)
    ids_match(T.acks(tt, "initiator"), O.acks(ot, "responder"), "t2o", "tokyo -> osaka")
    ids_match(O.acks(ot, "initiator"), T.acks(tt, "responder"), "o2t", "osaka -> tokyo")
    eq((len(T.acks(tt, "initiator")), len(O.acks(ot, "initiator"))), (2, 1),
       "qkd exchanges initiated (tokyo, osaka)")
    eq(delta(b, taken()), {"T.out": 2, "T.in": 1, "O.out": 1, "O.in": 2}, "keys taken")
    ct, co = T.counters(), O.counters()
    eq((ct["child-rekey"] - ct0["child-rekey"], ct["ike-rekey-init"] - ct0["ike-rekey-init"],
        co["ike-rekey-resp"] - co0["ike-rekey-resp"]), (2, 1, 1),
       "charon counters: CHILD re-keys, IKE re-keys (tokyo init, osaka resp)")
    check(not T.fallbacks(tt) and not O.fallbacks(ot), "a qkd exchange fell back")
    no_failures(pt, po)
    sa_up()
    lab.esp_ping(5)


@test(f"timed re-keys (CHILD {CHILD_REKEY} s, IKE {IKE_REKEY} s) for {TIMED} s with ping "
      "running: zero failures, keys taken == qkd exchanges on both routers, no ping lost")
@need_up
def _():
    lab.down()
    T.rekey = {"ike": IKE_REKEY, "child": CHILD_REKEY}
    T.load()
    pt, po = T.mark(), O.mark()
    b = taken()
    ct0, co0 = T.counters(), O.counters()
    rc, out = T.initiate(timeout=60)
    check(rc == 0, f"swanctl --initiate failed ({rc}):\n{out[-2000:]}")
    pinger = lab.ping_background(PING_INTERVAL)
    t0 = time.monotonic()
    time.sleep(TIMED)
    # a re-key in flight finishes; the pinger still runs meanwhile
    settle(pt, po)
    sent, recv = lab.ping_result(pinger)
    elapsed = time.monotonic() - t0
    # timed re-keys go on: counters and logs of one quiet moment
    now, tt, ot, ct, co = snapshot(pt, po)
    child = ct["child-rekey"] - ct0["child-rekey"]
    ike = ct["ike-rekey-init"] - ct0["ike-rekey-init"]
    ta, oa = T.acks(tt, "initiator"), O.acks(ot, "responder")
    diag(f"{elapsed:.0f} s: {child} CHILD_SA and {ike} IKE_SA re-keys, "
         f"{len(ta)} qkd exchanges; ping {recv}/{sent}")
    no_failures(pt, po)
    check(child >= TIMED // CHILD_REKEY - 2, f"only {child} CHILD_SA re-keys in {TIMED} s")
    check(ike >= TIMED // IKE_REKEY - 1, f"only {ike} IKE_SA re-keys in {TIMED} s")
    eq(co["child-rekey"] - co0["child-rekey"], child, "osaka's CHILD re-key counter")
    eq(co["ike-rekey-resp"] - co0["ike-rekey-resp"], ike, "osaka's IKE re-key counter")
    eq(len(ta), 1 + child + ike, "qkd exchanges == 1 (new IKE_SA) + CHILD + IKE re-keys")
    ids_match(ta, oa, "t2o", "timed re-keys")
    eq(delta(b, now), {"T.out": len(ta), "T.in": 0, "O.out": 0, "O.in": len(ta)},
       "keys taken")
    check(not T.fallbacks(tt) and not O.fallbacks(ot), "a qkd exchange fell back")
    check(sent > 0 and sent - recv <= max(1, int(sent * MAX_PING_LOSS)),
          f"ping lost {sent - recv} of {sent}")
    sa_up()


@test("pools drained (flush): re-keys go on over x25519 + ML-KEM, the fallback logged on "
      "both routers, no key taken, zero failures, ping works")
@need_up
def _():
    before_t, before_o = T.pool(), O.pool()
    flush_all()
    # a re-key that took its key before the flush may still be under way:
    # count from when none is
    pt, po, b, ct0 = quiet_mark()
    t, o = T.pool(), O.pool()
    eq((t["out"]["level"], t["in"]["level"], o["out"]["level"], o["in"]["level"]),
       (0, 0, 0, 0), "levels after the flush")
    # a timed re-key may take a key between the reading and the flush
    eq((t["out"]["flushed"] - before_t["out"]["flushed"] + t["out"]["taken"] - before_t["out"]["taken"],
        o["in"]["flushed"] - before_o["in"]["flushed"] + o["in"]["taken"] - before_o["in"]["taken"]),
       (before_t["out"]["level"], before_o["in"]["level"]),
       "keys flushed + taken since the reading == the levels before the flush")
    # the timed re-keys go on: wait for three of them
    wait_for(lambda: len(T.fallbacks(T.since(pt), "initiator")) >= 3,
             4 * CHILD_REKEY + 30, what="three re-keys without keys")
    now, tt, ot, ct, _ = snapshot(pt, po)
    tf, of = T.fallbacks(tt, "initiator"), O.fallbacks(ot, "responder")
    n = (ct["child-rekey"] - ct0["child-rekey"]) + (ct["ike-rekey-init"] - ct0["ike-rekey-init"])
    diag(f"{len(tf)} re-keys fell back; tokyo: {tf[0][1:3]}, osaka: {of[0][1:3]}")
    if n != len(tf) or len(of) != len(tf):
        diag("charon's events since the marks:\n" + events(pt, po))
    eq(len(of), len(tf), "fallbacks logged (osaka responder vs tokyo initiator)")
    eq(n, len(tf), "re-keys (charon counters) == fallbacks logged")
    eq({(f[1], f[2], f[3]) for f in tf}, {("falling back", "pool empty", "osaka")},
       "tokyo's fallback lines (kind, reason, pool)")
    eq({(f[1], f[2], f[3]) for f in of}, {("falling back", "no offer", "tokyo")},
       "osaka's fallback lines (kind, reason, pool)")
    check(not T.acks(tt) and not O.acks(ot), "a key was used from a flushed pool")
    eq(delta(b, now), {"T.out": 0, "T.in": 0, "O.out": 0, "O.in": 0}, "keys taken")
    t = T.pool()
    eq(t["out"]["state"], "empty", "tokyo's outbound state")
    no_failures(pt, po)
    sa_up()
    lab.esp_ping(5)


@test("pools refilled: the next re-key uses a QKD key again, on both routers")
@need_up
def _():
    pt, po = T.mark(), O.mark()
    b = taken()
    fill(20)
    wait_for(lambda: T.acks(T.since(pt), "initiator"), 2 * IKE_REKEY + 30,
             what="a re-key with a QKD key")
    now, tt, ot, _, _ = snapshot(pt, po)
    # stop the timed re-keys for what follows
    lab.down()
    ta, oa = T.acks(tt, "initiator"), O.acks(ot, "responder")
    ids_match(ta, oa, "t2o", "after the refill")
    # fill() puts each key on the receiving side first: no offer of a key
    # the peer lacks, so every key taken keyed an SA on both routers
    nak = offers_naked(T, tt)
    check(not nak, f"offers NAKed after the refill (each burnt a key): {nak}")
    eq(delta(b, now), {"T.out": len(ta), "T.in": 0, "O.out": 0, "O.in": len(ta)},
       "keys taken")
    no_failures(pt, po)
    diag(f"{len(ta)} re-keys on QKD keys after the refill")


# the plugin's accounting and restore lines (strongswan-plugin/qkd_account.c,
# qkd_restore.c)
CHILD_ACCT_RE = re.compile(r"qkd: CHILD_SA (\S+)\{(\d+)\} SPIs ([0-9a-f]{8})_i ([0-9a-f]{8})_o "
                           r"\((\w+)\) of \S+\[\d+\]: (key (\S+) of pool '[^']*'|no QKD key)")
IKE_ACCT_RE = re.compile(r"qkd: IKE_SA (\S+)\[(\d+)\] SPIs ([0-9a-f]{16})_i ([0-9a-f]{16})_r: "
                         r"(key (\S+) of pool '[^']*'|no QKD key)")
RESTORE_RE = re.compile(r"qkd: pool '([^']*)' refilled: re-keying (\d+) SAs keyed without QKD")


def ke_stats(r):
    """The pool's IKE key exchange counters (qkdctl dump's columns 22-25):
    {"qkd", "fallback", "tag_mismatch", "refused"}."""
    ke = r.pool()["out"].get("ke")
    if ke is None:
        raise AssertionError(f"no ke-stats in {r.name}'s qkdctl dump (an old module?)")
    return {k[len("ke_"):]: v for k, v in ke.items()}


def child_spis_in_xfrm(r, line):
    """A CHILD_SA accounting line's SPIs are r's XFRM states, in and out."""
    spi_i, spi_o = "0x" + line[2], "0x" + line[3]
    st = r.esp_states()
    eq((st.get(spi_i, ("-",))[0], st.get(spi_o, ("-",))[0]), ("in", "out"),
       f"{r.name}: the SPIs {spi_i}/{spi_o} of the accounting line in ip xfrm state "
       f"(states: {sorted(st)})")


@test("restore: after a drain the SAs keyed without QKD are re-keyed onto QKD by the plugin "
      "itself once tokyo's outbound side refills (no swanctl --rekey), logged and counted; "
      "the accounting lines name the SPIs of ip xfrm state")
@need_up
def _():
    # no timed re-keys: every re-key after the refill is the plugin's
    T.rekey = {"ike": 0, "child": 0}
    T.load()
    flush_all()
    # "refilled" is raised at the high watermark: the lab's 1024-key pools
    # never reach the default (768); tokyo's pool gets 10 for this test, and
    # osaka keeps 768, so that only tokyo re-keys (one initiator, exact counts)
    T.qkdctl("pool", "set", T.peer, "low", "2", "high", "10")
    try:
        k0t, k0o = ke_stats(T), ke_stats(O)
        pt, po = T.mark(), O.mark()
        rc, out = T.initiate(timeout=60)
        check(rc == 0, f"swanctl --initiate failed ({rc}):\n{out[-2000:]}")
        settle(pt, po)
        sa_up()
        T.rekey_child()
        settle(pt, po)
        sa_up()
        tt, ot = T.since(pt), O.since(po)
        ti, tc = IKE_ACCT_RE.findall(tt), CHILD_ACCT_RE.findall(tt)
        oc = CHILD_ACCT_RE.findall(ot)
        eq([x[4] for x in ti], ["no QKD key"], "tokyo's IKE_SA accounting (keyed in the drain)")
        eq([x[5] for x in tc], ["no QKD key"] * 2,
           "tokyo's CHILD_SA accounting (IKE_AUTH's, inheriting the IKE_SA's, and the re-key's)")
        child_spis_in_xfrm(T, tc[-1])
        child_spis_in_xfrm(O, oc[-1])
        eq((oc[-1][2], oc[-1][3]), (tc[-1][3], tc[-1][2]), "osaka's SPIs in/out == tokyo's out/in")
        k1t, k1o = ke_stats(T), ke_stats(O)
        eq((k1t["fallback"] - k0t["fallback"], k1o["fallback"] - k0o["fallback"]), (2, 2),
           "ke-stats fallback (tokyo, osaka): IKE_INTERMEDIATE + CHILD re-key")

        # refill: the receiving sides first, tokyo's outbound side last
        pt, po = T.mark(), O.mark()
        b = taken()
        ct0 = T.counters()
        t2o, o2t = new_keys("t2o", 20), new_keys("o2t", 20)
        O.add_keys("in", t2o)
        T.add_keys("in", o2t)
        O.add_keys("out", o2t)
        t0 = time.monotonic()
        T.add_keys("out", t2o)
        wait_for(lambda: len(T.acks(T.since(pt), "initiator")) >= 2, 30,
                 what="the plugin's re-keys onto QKD")
        took = time.monotonic() - t0
        settle(pt, po)
        now, tt, ot, ct, co = snapshot(pt, po)
        diag(f"re-keyed onto QKD {took:.1f} s after the refill")
        rl = RESTORE_RE.findall(tt)
        eq(rl, [("osaka", "2")], "tokyo's restore line (pool, SAs: the CHILD_SA and the IKE_SA)")
        check(not RESTORE_RE.findall(ot), "osaka re-keyed (its pool raised no refilled)")
        diag("tokyo: " + "; ".join(ln.split("qkd: ", 1)[1] for ln in tt.splitlines()
                                  if "qkd: re-keying" in ln))
        eq((ct["child-rekey"] - ct0["child-rekey"], ct["ike-rekey-init"] - ct0["ike-rekey-init"]),
           (1, 1), "charon counters: CHILD and IKE re-keys by tokyo")
        ta, oa = T.acks(tt, "initiator"), O.acks(ot, "responder")
        eq((len(ta), len(oa), len(O.acks(ot, "initiator"))), (2, 2, 0),
           "qkd ACKs (tokyo initiator, osaka responder, osaka initiator)")
        ids_match(ta, oa, "t2o", "restore")
        eq(delta(b, now), {"T.out": 2, "T.in": 0, "O.out": 0, "O.in": 2}, "keys taken")
        k2t, k2o = ke_stats(T), ke_stats(O)
        eq((k2t["qkd"] - k1t["qkd"], k2o["qkd"] - k1o["qkd"]), (2, 2), "ke-stats qkd (tokyo, osaka)")
        tc, ti = CHILD_ACCT_RE.findall(tt), IKE_ACCT_RE.findall(tt)
        eq(len(tc), 1, "tokyo's CHILD_SA accounting lines after the refill")
        eq(len(ti), 1, "tokyo's IKE_SA accounting lines after the refill")
        check(tc[0][6] in [a[1] for a in ta] and ti[0][5] in [a[1] for a in ta],
              f"accounting key IDs {tc[0][6]}, {ti[0][5]} not among the ACKed {ta}")
        child_spis_in_xfrm(T, tc[0])
        sas = T.sas()
        check(ti[0][2] in sas and ti[0][3] in sas,
              f"the IKE_SA's SPIs {ti[0][2]}/{ti[0][3]} not in swanctl --list-sas:\n{sas}")
        no_failures(pt, po)
        lab.esp_ping(5)
        # the next test starts without an SA, as after the refill test
        lab.down()
    finally:
        T.qkdctl("pool", "set", T.peer, "low", "256", "high", "768")


@test("require: no SA while the pool is empty (initiator refuses, responder refuses an "
      "unknown key), clear log lines; the SA comes up once keys are back")
@need_up
def _():
    t_start = time.monotonic()
    for r in (T, O):
        r.policy = "require"
        r.rekey = {"ike": 0, "child": 0}
        r.load()
    flush_all()
    diag(f"require: configured in {time.monotonic() - t_start:.1f} s")
    pt, po = T.mark(), O.mark()
    # 1. the initiator's pool is empty
    t0 = time.monotonic()
    rc, out = T.initiate(timeout=20)
    diag(f"initiate with an empty pool: exit {rc} after {time.monotonic() - t0:.1f} s")
    check(rc != 0, "the SA came up with an empty pool and policy 'require'")
    line = [ln for ln in T.since(pt).splitlines() if "policy is 'require'" in ln]
    if not line:
        diag("tokyo's log: " + " | ".join(T.since(pt).splitlines()[-40:]))
    check(line, "tokyo logged no refusal")
    check("no QKD key (pool empty) in pool 'osaka'" in line[0], f"refusal: {line[0]}")
    diag("tokyo: " + line[0].split("qkd: ", 1)[-1])
    check(not T.ike_established() and not O.ike_established(), "an IKE_SA is up")
    # 2. tokyo has a key, osaka's inbound side does not
    kid_only = new_keys("t2o", 1)
    T.add_keys("out", kid_only)
    po2 = O.mark()
    b = taken()
    missed0 = O.pool()["in"]["missed"]
    t0 = time.monotonic()
    rc, out = T.initiate(timeout=20)
    diag(f"initiate, osaka lacking the key: exit {rc} after {time.monotonic() - t0:.1f} s")
    check(rc != 0, "the SA came up although osaka lacks the key and its policy is 'require'")
    wait_for(lambda: O.fallbacks(O.since(po2), "responder"), 10, what="osaka's refusal")
    f = O.fallbacks(O.since(po2), "responder")[0]
    eq(f[1:], ("failing", "unknown key ID", "tokyo"), "osaka's refusal (kind, reason, pool)")
    diag(f"require: steps 1 and 2 after {time.monotonic() - t_start:.1f} s")
    eq(O.pool()["in"]["missed"] - missed0, 1, "osaka's missed counter")
    eq(delta(b, taken()), {"T.out": 1, "T.in": 0, "O.out": 0, "O.in": 0}, "keys taken")
    check(not T.ike_established() and not O.ike_established(), "an IKE_SA is up")
    # the refusal of 1. left osaka a half-open IKE_SA (nothing told it):
    # gone after strongSwan's half-open timeout, or now
    for r in (T, O):
        r.clear_half_open()
    wait_for(lambda: not T.busy() and not O.busy(), 30, what="no half-open IKE_SA")
    # 3. keys on both sides: up
    fill(10)
    pt, po = T.mark(), O.mark()
    rc, out = T.initiate(timeout=60)
    check(rc == 0, f"no SA with keys back and policy 'require' ({rc}):\n{out[-2000:]}")
    settle(pt, po)
    ta, oa = T.acks(T.since(pt), "initiator"), O.acks(O.since(po), "responder")
    eq((len(ta), len(oa)), (1, 1), "qkd key log lines once keys are back")
    ids_match(ta, oa, "t2o", "require, keys back")
    sa_up()
    lab.esp_ping(5)
    no_failures(pt, po)


@test("a key corrupted on one router: NAK (tag mismatch) and an ALARM logged on both, "
      "counted as tag mismatch, nothing consumed there, the CHILD_SA re-keys on "
      "x25519 + ML-KEM and ESP keeps working")
@need_up
def _():
    for r in (T, O):
        r.policy = "prefer"
        r.load()
    flush_all()
    kid = os.urandom(16)
    good, bad = os.urandom(32), os.urandom(32)
    KEYS["t2o"][hexid(kid)] = good
    MATERIALS.extend([good, bad])
    log_materials([good, bad])
    T.add_keys("out", [(kid, good)])
    O.add_keys("in", [(kid, bad)])
    pt, po = T.mark(), O.mark()
    b = taken()
    rej0 = O.pool()["in"]["rejected"]
    ct0 = T.counters()
    ke0 = {r.name: ke_stats(r) for r in (T, O)}
    t0 = time.monotonic()
    T.rekey_child()
    settle(pt, po)
    diag(f"re-key with the corrupted key: {time.monotonic() - t0:.1f} s")
    tt, ot = T.since(pt), O.since(po)
    tf, of = T.fallbacks(tt, "initiator"), O.fallbacks(ot, "responder")
    eq([f[1:] for f in tf], [("falling back", "tag mismatch", "osaka")], "tokyo's log")
    eq([f[1:] for f in of], [("falling back", "tag mismatch", "tokyo")], "osaka's log")
    check(not T.acks(tt) and not O.acks(ot), "a corrupted key was used")
    for r, text, where in ((T, tt, "rejected by the peer"), (O, ot, "rejected here")):
        alarms = [ln for ln in text.splitlines() if "qkd: ALARM: key " + hexid(kid) in ln]
        eq(len(alarms), 1, f"{r.name}: one ALARM line for the key")
        check(where in alarms[0] and "differs between the routers" in alarms[0],
              f"{r.name}'s ALARM line says what happened: {alarms[0]}")
        ke = ke_stats(r)
        eq({k: ke[k] - ke0[r.name][k] for k in ke},
           {"qkd": 0, "fallback": 1, "tag_mismatch": 1, "refused": 0},
           f"{r.name}'s ke-stats (qkdctl dump)")
    o = O.pool()["in"]
    eq((o["level"], o["rejected"] - rej0), (1, 1),
       "osaka's inbound side: the key still there, one tag rejected")
    eq(delta(b, taken()), {"T.out": 1, "T.in": 0, "O.out": 0, "O.in": 0}, "keys taken")
    eq(T.counters()["child-rekey"] - ct0["child-rekey"], 1, "CHILD_SA re-keyed")
    no_failures(pt, po)
    sa_up()
    lab.esp_ping(5)


@test("both routers re-key at the same moment (CHILD and IKE): no key used twice, each "
      "ACKed ID taken once on each side, ESP keeps working")
@need_up
def _():
    flush_all()
    fill(40)
    pt, po = T.mark(), O.mark()
    b = taken()
    import subprocess
    rounds = [("--child", "net")] * 4 + [("--ike", "lab")] * 2
    for sel in rounds:
        ps = [subprocess.Popen(["swanctl", "--rekey", *sel, "--uri", f"unix://{r.vici}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
              for r in (T, O)]
        for p in ps:
            p.wait(30)
        settle(pt, po)
    tt, ot = T.since(pt), O.since(po)
    t_i, o_r = T.acks(tt, "initiator"), O.acks(ot, "responder")
    o_i, t_r = O.acks(ot, "initiator"), T.acks(tt, "responder")
    ids_match(t_i, o_r, "t2o", "tokyo -> osaka")
    ids_match(o_i, t_r, "o2t", "osaka -> tokyo")
    all_ids = [a[1] for a in t_i + o_i]
    eq(len(set(all_ids)), len(all_ids), "key IDs used more than once")
    d = delta(b, taken())
    diag(f"{len(t_i)} exchanges from tokyo, {len(o_i)} from osaka; taken {d}; "
         f"collisions: {tt.count('collision')} (tokyo), {ot.count('collision')} (osaka)")
    check(len(t_i) >= 1 and len(o_i) >= 1, "not both routers initiated")
    # an exchange lost in a collision may burn the initiator's offer; the
    # responder takes a key only when it ACKs
    eq((d["O.in"], d["T.in"]), (len(o_r), len(t_r)), "responders' keys taken == their ACKs")
    check(d["T.out"] >= len(t_i) and d["O.out"] >= len(o_i),
          f"initiators took fewer keys than they used: {d}")
    check(not T.fallbacks(tt) and not O.fallbacks(ot),
          "a qkd exchange fell back: " + str(T.fallbacks(tt) + O.fallbacks(ot)))
    no_failures(pt, po)
    sa_up()
    lab.esp_ping(5)


@test("no key material in either charon's log")
@need_up
def _():
    logs = T.log_text() + O.log_text()
    found = leaked(MATERIALS, logs)
    check(not found, f"{len(found)} key materials found in the charon logs")
    diag(f"{len(MATERIALS)} materials checked against {len(logs)} bytes of logs")


if __name__ == "__main__":
    main(lambda failed: lab.finish(failed, lines=80, env="QKD_PLUGIN_LOGS"))
