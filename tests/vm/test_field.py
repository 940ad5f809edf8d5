#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The strongSwan plugin `qkd` in the field: peers known only by their
identity, routers behind a NAT, two peers behind one NAT address, and the
qkdpool module reloaded under running charons.

Topology A (tests 1 and 4): the two routers of test_plugin.py.

  netns host-tokyo    netns router-tokyo                 netns router-osaka    netns host-osaka
  +-----------+      +---------------------+            +---------------------+      +-----------+
  | lan0      |      | lan0          wan0  |  backhaul  | wan0          lan0  |      |      lan0 |
  | 10.10.1.2 +------+ 10.10.1.1 192.0.2.1 +============+ 192.0.2.2 10.20.1.1 +------+ 10.20.1.2 |
  +-----------+ veth | charon, pool "osaka"|   veth     | charon, pool "tokyo"| veth +-----------+
                     | remote.id osaka or  |            | remote.id = %any    |
                     |           %any      |            | peers.tokyo.id=tokyo|
                     +---------------------+            +---------------------+

Topology B (tests 2 and 3): tokyo and nagoya behind one NAT address.

  host-tokyo 10.10.1.2
      |
  router-tokyo                 netns nat                        netns router-osaka       host-osaka
  lan0 10.10.1.1            +-----------------------+            +---------------------+  10.20.1.2
  wan0 172.16.1.1 ----------+ in-tokyo  172.16.1.254 |            | wan0 192.0.2.2      |      |
  pool "osaka"              |                       |  backhaul  | lan0 10.20.1.1 -----+------+
                            |   nft masquerade      +============+ pools "tokyo" and   |
  router-nagoya             |   wan0 192.0.2.100    |            |  "nagoya", each     |
  lan0 10.30.1.1            |                       |            |  peers section by id|
  wan0 172.16.2.1 ----------+ in-nagoya 172.16.2.254 |            |  (addrs: the real   |
  pool "osaka"              +-----------------------+            |  172.16.x.1, never  |
      |                                                          |  seen); remote.id = |
  host-nagoya 10.30.1.2                                          |  %any               |
                                                                 +---------------------+

osaka sees both peers' IKE and ESP from 192.0.2.100: charon detects the
NAT and floats to UDP 4500, ESP travels in UDP (XFRM espinudp states).
Every pool is filled by the test with random keys of known IDs
(Router.add_keys), the receiving side first; nothing prints key material.

What is checked, with values, on every router's log AND the pools'
counters (qkdctl dump), not on "SA up":
1. osaka with remote.id = %any, then both routers with %any: IKE_SA and
   CHILD_SA re-keys initiated from each side, every one keyed with a QKD
   key: the same key IDs in the initiator's and the responder's lines, no
   fallback, each pool's taken counters up by exactly the exchanges in the
   right direction, charon's re-key counters agree.
2. NAT: within NAT_QKD_WITHIN s of initiate the IKE_SA and its CHILD_SA in
   place are QKD-keyed on both routers (a first exchange that fell back and
   the plugin's re-key after IKE_AUTH are accepted), no key from osaka's
   pool for nagoya, NAT-T in place (ports, XFRM encapsulation counting
   packets); then re-keys all QKD-keyed, the ke counters without fallback.
3. two peers behind the NAT address: each one's exchanges use only keys of
   its own pool on osaka (key IDs against the IDs the test put in).
4. module reload under running charons: pools re-created and refilled,
   CHILD re-keys QKD-keyed again within RELOAD_WITHIN s, charon's pids
   unchanged, the plugin logged the module coming back.
5. no key material in any log.

Needs: the qkdpool module loaded (run.sh), build/userspace/qkdctl, the
plugin (build/strongswan-plugin/libstrongswan-qkd.so), esp4/xfrm_user, and
nft in the VM's root (the nftables package) for topology B.
"""

import os
import re
import subprocess
import time

from qkdlab.tap import check, diag, eq, main, test
from qkdlab.pools import log_materials

from qkdlab.proc import sh, wait_for
from qkdlab.routers import Lab, NAT_ADDR, NAT_NS, PLUGIN, QKDCTL, hexid, leaked

# the plugin's line when the qkdpool module (its generic netlink family)
# comes back after a reload, e.g. "qkd: the qkdpool module is back ..."
RELOAD_RE = re.compile(r"qkd: .*(module is back|family.*(back|again|reopen|new id)|"
                       r"reload)", re.I)
# seconds from insmod until a CHILD re-key is QKD-keyed again
RELOAD_WITHIN = 30
# seconds from initiate (behind the NAT) until the SAs in place are QKD-keyed
NAT_QKD_WITHIN = 15
# re-keys of each kind from each side in test 1
REKEYS = 3
FILL = 60           # keys per direction at set-up and after the reload

KEYS = {}           # (initiator, responder): {key ID: material}
MATERIALS = []
LOGS = []           # the logs of a topology torn down, for the leak check
state = {"lab": None, "connected": set()}     # peers with an SA to osaka


def expect():
    """IKE_SAs osaka holds when no exchange is under way (Router.busy)."""
    return {"osaka": max(1, len(state["connected"]))}


def lab():
    lb = state["lab"]
    if lb is None:
        raise AssertionError("the lab is not up (see the set-up test before)")
    return lb


# ------------------------------------------------------------- keys

def new_keys(a, b, n):
    ks = [(os.urandom(16), os.urandom(32)) for _ in range(n)]
    for kid, mat in ks:
        KEYS.setdefault((a, b), {})[hexid(kid)] = mat
        MATERIALS.append(mat)
    log_materials(m for _, m in ks)
    return ks


def fill(a, b, n=FILL):
    """n fresh keys each way between routers a and b: the receiving side's
    inbound first, then the sender's outbound (as qkd-linkd does)."""
    ra, rb = lab().routers[a], lab().routers[b]
    ab, ba = new_keys(a, b, n), new_keys(b, a, n)
    rb.add_keys("in", ab, pool=a)
    ra.add_keys("out", ab, pool=b)
    ra.add_keys("in", ba, pool=b)
    rb.add_keys("out", ba, pool=a)


def owner(kid):
    """(initiator, responder) whose keys hold kid, or None."""
    for k, v in KEYS.items():
        if kid in v:
            return k
    return None


def taken():
    """{(router, pool, direction): taken} of every pool in the lab."""
    res = {}
    for r in lab().routers.values():
        for p in r.peers:
            for d, row in r.pool(p).items():
                res[(r.name, p, d)] = row["taken"]
    return res


def delta(a, b):
    return {k: b[k] - a[k] for k in a if b[k] != a[k]}


def want_taken(pairs):
    """The taken counters' rise for {(initiator, responder): exchanges}:
    the initiator's outbound side of its pool for the responder, the
    responder's inbound side of its pool for the initiator."""
    w = {}
    for (i, r), n in pairs.items():
        if n:
            w[(i, r, "out")] = w.get((i, r, "out"), 0) + n
            w[(r, i, "in")] = w.get((r, i, "in"), 0) + n
    return w


def ke(r, pool):
    """The pool's ke-stats (qkdctl dump columns 22-25) and its exchanges
    without QKD by reason (columns 26-35, keys "reason:<name>"), or None."""
    row = r.pool(pool)["out"]
    if "ke" not in row:
        return None
    res = dict(row["ke"])
    res.update({f"reason:{k}": v for k, v in row.get("reasons", {}).items()})
    return res


# ---------------------------------------------------- logs and marks

def marks():
    return {n: r.mark() for n, r in lab().routers.items()}


def texts(m):
    return {n: r.since(m[n]) for n, r in lab().routers.items()}


def outcomes(r, text, role):
    return len(r.acks(text, role)) + len(r.fallbacks(text, role))


def settle(m, timeout=60, expect=None):
    """Every qkd exchange since the marks m finished on both sides (the
    initiators' outcome lines as many as the responders'), no router busy,
    nothing new for a second.  expect: {router: IKE_SAs it holds}."""
    L = lab()
    expect = expect or {}
    last = [None, 0.0]

    def done():
        t = texts(m)
        now = tuple((outcomes(r, t[n], "initiator"), outcomes(r, t[n], "responder"))
                    for n, r in L.routers.items())
        if now != last[0]:
            last[0], last[1] = now, time.monotonic()
            return False
        return (sum(x[0] for x in now) == sum(x[1] for x in now)
                and time.monotonic() - last[1] >= 1.0
                and not any(r.busy(expect.get(n, 1)) for n, r in L.routers.items()))
    try:
        wait_for(done, timeout, step=0.25, what="the qkd exchanges to finish")
    except TimeoutError:
        diag("qkd lines since the marks:\n" + qkd_lines(m))
        for r in L.routers.values():
            diag(f"{r.name}: " + r.sas())
        raise


def qkd_lines(m, limit=60):
    t = texts(m)
    out = [f"{n}: {ln.split('] ', 1)[-1]}" for n in t for ln in t[n].splitlines()
           if "qkd:" in ln or "rekey" in ln.lower() or "NAT" in ln]
    return "\n".join(out[-limit:])


class Problems(list):
    """Assertions collected over a test, reported together: a plugin
    engineer sees every one that fails, not only the first."""

    def __init__(self):
        super().__init__()
        self.t0 = time.monotonic()

    def soft(self, cond, msg):
        if not cond:
            self.append(msg)
        return cond

    def soft_eq(self, got, want, what):
        return self.soft(got == want, f"{what}: got {got!r}, expected {want!r}")

    def done(self, m=None):
        diag(f"{time.monotonic() - self.t0:.1f} s, {len(self)} assertions failed")
        if self and m is not None:
            diag("qkd lines since the marks:\n" + qkd_lines(m))
        check(not self, "\n".join(self))


def exchanges_check(P, m, t0, pairs, what):
    """The exchanges since the marks m (taken counters t0 then) were the
    qkd exchanges {(initiator, responder): n}, every one QKD-keyed: the
    initiator's key IDs are the responder's, from the keys the test put
    in for that pair, named with the right pools; no fallback; taken
    counters up by exactly that."""
    L = lab()
    t = texts(m)
    for (i, r), n in pairs.items():
        ri, rr = L.routers[i], L.routers[r]
        ia = [a for a in ri.acks(t[i], "initiator") if a[2] == r]
        ra = [a for a in rr.acks(t[r], "responder") if owner(a[1]) == (i, r)]
        P.soft_eq(len(ia), n, f"{what}: {i}'s QKD-keyed exchanges as initiator to {r}")
        P.soft_eq(sorted(a[1] for a in ra), sorted(a[1] for a in ia),
                  f"{what}: key IDs of {r}'s responder lines vs {i}'s initiator lines")
        P.soft({a[2] for a in ra} <= {i},
               f"{what}: {r} took {i}'s keys from pools {sorted({a[2] for a in ra})}")
        bad = [a[1] for a in ia if owner(a[1]) != (i, r)]
        P.soft(not bad, f"{what}: {i} used key IDs not put in for {i}->{r}: {bad}")
    for n, r in L.routers.items():
        stray = [a for a in r.acks(t[n]) if owner(a[1]) is None]
        P.soft(not stray, f"{what}: {n} logged key IDs the test never added: {stray}")
        fb = r.fallbacks(t[n])
        P.soft(not fb, f"{what}: {n} fell back: {fb}")
        fl = r.failures(t[n])
        P.soft(not fl, f"{what}: {n}'s charon logged failures: {fl[:5]}")
    P.soft_eq(delta(t0, taken()), want_taken(pairs), f"{what}: keys taken (pool counters)")


def sas_qkd(names):
    """For each router in names: its IKE_SAs and CHILD_SAs in place and
    how each was keyed; returns (all QKD-keyed, description)."""
    ok, desc = True, []
    for n in names:
        k = lab().routers[n].sa_keys()
        if not k["ike"] or not k["child"]:
            ok = False
        for kind in ("ike", "child"):
            for e in k[kind]:
                good = owner(e[-1]) is not None
                ok = ok and good
                desc.append(f"{n} {kind} {e[:-1]}: {e[-1]}")
    return ok, "\n".join(desc)


def pids():
    return {n: r.proc.pid for n, r in lab().routers.items()}


def alive(n):
    r = lab().routers[n]
    try:
        with open(f"/proc/{r.proc.pid}/comm") as f:
            return r.proc.poll() is None and f.read().strip() == "charon"
    except OSError:
        return False


def up(names):
    """Set up a lab's routers: plugin, pools (filled with keys of known
    IDs), charons, connections."""
    L = lab()
    check(os.path.exists(PLUGIN), f"no plugin at {PLUGIN}")
    check(os.path.exists(QKDCTL), f"no qkdctl at {QKDCTL}")
    t = [time.monotonic()]
    L.setup()
    L.install_plugin()
    t.append(time.monotonic())
    for r in L.routers.values():
        r.add_pools()
    for n in names:
        fill(n, "osaka")
    t.append(time.monotonic())
    for r in L.routers.values():
        r.start()
        r.swanctl("--load-all", "--noprompt", "--file", r.swanctl_conf)
    t.append(time.monotonic())
    diag("set-up: namespaces %.1f s, pools %.1f s, charons %.1f s"
         % tuple(t[i + 1] - t[i] for i in range(3)))


def down_lab():
    L = state["lab"]
    if L is None:
        return
    for r in L.routers.values():
        LOGS.append(r.log_text())
    try:
        L.teardown()
    except Exception as e:      # noqa: BLE001
        diag(f"teardown: {e}")
    state["lab"] = None


def ping_esp(src, count=5):
    """ping host-src -> host-osaka; the ESP states of src and osaka count
    the packets (with their UDP encapsulation); returns {router: {spi:
    (direction, packets grown, encap)}}."""
    L = lab()
    rs = (L.routers[src], L.osaka)
    before = {r.name: r.xfrm_encap() for r in rs}
    sent, recv = L.ping(count, src=src)
    after = {r.name: r.xfrm_encap() for r in rs}
    eq((sent, recv), (count, count), f"ping host-{src} -> host-osaka (sent, received)")
    res = {}
    for r in rs:
        res[r.name] = {spi: (d, pk - before[r.name][spi][1], enc)
                       for spi, (d, pk, enc) in after[r.name].items()
                       if spi in before[r.name]}
    return res


# ================================================ topology A: identities

@test("field lab A: tokyo and osaka, pools with keys of known IDs, two charons")
def _():
    down_lab()
    state["lab"] = Lab()
    up(["tokyo"])


# what the initiator logs when it cannot know its peer's pool before IKE_AUTH
# (remote.id = %any and the peers section bound to an identity): it offers
# nothing, and the plugin re-keys onto the pool right after IKE_AUTH
KICK_RE = re.compile(r"qkd: IKE_SA \S+ of \S+ was keyed before IKE_AUTH without a QKD "
                     r"key of its pool '([^']+)' \(([^)]*)\): re-keying it and its first "
                     r"CHILD_SA")


def identity_round(what, unknown_before_auth=False):
    """Initiate from tokyo, then REKEYS IKE and CHILD re-keys from each
    side; every exchange QKD-keyed and counted.  With unknown_before_auth
    (tokyo's remote.id = %any), tokyo cannot know osaka's pool before
    IKE_AUTH: its first exchange offers nothing (no key burnt) and the
    plugin re-keys the IKE_SA and the CHILD_SA onto QKD right after; the
    rounds are counted from there."""
    L = lab()
    T, O = L.tokyo, L.osaka
    P = Problems()
    m, t0 = marks(), taken()
    c0 = {n: r.counters() for n, r in L.routers.items()}
    setups = 1
    k0 = ke(O, "tokyo")
    try:
        rc, out = T.initiate()
        check(rc == 0, f"{what}: swanctl --initiate failed ({rc}):\n{out[-1500:]}")
        settle(m)
        if unknown_before_auth:
            tx = texts(m)
            eq([f[2] for f in T.fallbacks(tx["tokyo"])],
               ["peer not known before IKE_AUTH"], f"{what}: tokyo's set-up fallback")
            eq([f[2] for f in O.fallbacks(tx["osaka"])], ["no offer"],
               f"{what}: osaka's set-up fallback")
            kicks = [k.groups() for k in KICK_RE.finditer(tx["tokyo"])]
            if kicks != [("osaka", "peer not known before IKE_AUTH")]:
                diag(qkd_lines(m))
            eq(kicks, [("osaka", "peer not known before IKE_AUTH")],
               f"{what}: tokyo's re-key after IKE_AUTH")
            k = ke(O, "tokyo")
            if k is not None:
                eq((k["ke_fallback"] - k0["ke_fallback"],
                    k.get("reason:no_offer", 0) - k0.get("reason:no_offer", 0)),
                   (1, 1), f"{what}: osaka's pool 'tokyo': fallbacks, of which 'no offer'")
            t_kick = time.monotonic()
            wait_for(lambda: sas_qkd(["tokyo", "osaka"])[0], 30,
                     what=f"{what}: the SAs re-keyed onto QKD after IKE_AUTH")
            diag(f"{what}: IKE_SA and CHILD_SA QKD-keyed "
                 f"{time.monotonic() - t_kick:.1f} s after the set-up")
            settle(m)
            # the set-up took no key (nothing offered); the re-keys after
            # IKE_AUTH (IKE_SA, CHILD_SA) one each, tokyo initiating
            eq(delta(t0, taken()), {("tokyo", "osaka", "out"): 2,
                                    ("osaka", "tokyo", "in"): 2},
               f"{what}: keys taken by the set-up and the re-keys after IKE_AUTH")
            m, t0 = marks(), taken()
            c0 = {n: r.counters() for n, r in L.routers.items()}
            setups = 0
        for _ in range(REKEYS):
            for r in (T, O):
                r.rekey_ike()
                settle(m)
                r.rekey_child()
                settle(m)
        round_checks(P, m, t0, c0, what, setups)
    finally:
        # the next test starts without an SA, whatever failed here
        L.down()
    P.done(m)
    diag(f"{what}: {setups + 4 * REKEYS} exchanges QKD-keyed, the same key IDs on both "
         "routers")


def round_checks(P, m, t0, c0, what, setups=1):
    L = lab()
    exchanges_check(P, m, t0, {("tokyo", "osaka"): setups + 2 * REKEYS,
                               ("osaka", "tokyo"): 2 * REKEYS}, what)
    c = {n: r.counters() for n, r in L.routers.items()}
    P.soft_eq({n: (c[n]["ike-rekey-init"] - c0[n]["ike-rekey-init"],
                   c[n]["child-rekey"] - c0[n]["child-rekey"]) for n in c},
              {"tokyo": (REKEYS, 2 * REKEYS), "osaka": (REKEYS, 2 * REKEYS)},
              f"{what}: charon counters (IKE re-keys initiated, CHILD re-keys)")
    ok, desc = sas_qkd(["tokyo", "osaka"])
    P.soft(ok, f"{what}: SAs in place not all QKD-keyed:\n{desc}")


@test(f"identity: osaka's remote.id = %any, {REKEYS} IKE_SA and {REKEYS} CHILD_SA re-keys "
      "from each side: every exchange QKD-keyed on both routers (same key IDs), no fallback, "
      "taken counters up by exactly the exchanges in each direction")
def _():
    L = lab()
    L.osaka.remote_id = "%any"
    L.osaka.load()
    identity_round("osaka %any")


@test(f"identity: remote.id = %any on both routers: the set-up offers no key (tokyo cannot "
      f"know osaka's pool before IKE_AUTH) and is re-keyed onto QKD at once; then {REKEYS} "
      f"IKE_SA and {REKEYS} CHILD_SA re-keys from each side: every exchange QKD-keyed, "
      "counters exact")
def _():
    L = lab()
    for r in (L.tokyo, L.osaka):
        r.remote_id = "%any"
        r.load()
    identity_round("both %any", unknown_before_auth=True)


@test(f"module reload under running charons: rmmod/insmod, pools re-created and refilled, "
      f"CHILD re-keys QKD-keyed again within {RELOAD_WITHIN} s, charon pids unchanged, "
      "the plugin logged the module coming back")
def _():
    L = lab()
    T, O = L.tokyo, L.osaka
    P = Problems()
    if T.sas().strip() or O.sas().strip():
        L.down()
    # marks before the initiate: with remote.id = %any left by the test
    # before, the plugin re-keys the new SAs onto QKD right after IKE_AUTH,
    # so exchanges may be in flight when swanctl returns; marks taken then
    # could split one exchange's two outcome lines
    m0 = marks()
    rc, out = T.initiate()
    check(rc == 0, f"swanctl --initiate failed ({rc}):\n{out[-1500:]}")
    wait_for(lambda: sas_qkd(["tokyo", "osaka"])[0], 30,
             what="the SAs QKD-keyed before the reload")
    settle(m0)
    p0 = pids()
    m = marks()
    t_ins = L.reload_module()
    for r in L.routers.values():
        for p in r.peers:
            eq((r.pool(p)["out"]["level"], r.pool(p)["out"]["taken"]), (0, 0),
               f"{r.name}'s new pool '{p}' (level, taken)")
    fill("tokyo", "osaka")
    t0 = taken()
    n, took = 0, None
    while time.monotonic() - t_ins < RELOAD_WITHIN:
        mm = marks()
        T.rekey_child()
        n += 1
        settle(mm)
        if T.acks(T.since(mm["tokyo"]), "initiator"):
            took = time.monotonic() - t_ins
            break
    t = texts(m)
    if took is None:
        P.append(f"no QKD-keyed CHILD re-key within {RELOAD_WITHIN} s of insmod ({n} tried)")
    else:
        diag(f"module reload: QKD-keyed again {took:.1f} s after insmod, "
             f"on CHILD re-key {n} (the ones before fell back)")
    # the re-keys after the first QKD-keyed one are QKD-keyed both ways
    m2, t2 = marks(), taken()
    T.rekey_child()
    settle(m2)
    O.rekey_child()
    settle(m2)
    exchanges_check(P, m2, t2, {("tokyo", "osaka"): 1, ("osaka", "tokyo"): 1},
                    "after the reload")
    fb = {nm: L.routers[nm].fallbacks(t[nm]) for nm in t}
    diag("fallbacks between insmod and the first QKD-keyed re-key: " + repr(fb))
    d, tk = delta(t0, taken()), T.acks(texts(m)["tokyo"], "initiator")
    P.soft(d.get(("tokyo", "osaka", "out"), 0) >= len(tk),
           f"tokyo's outbound taken {d} below its QKD-keyed offers {len(tk)}")
    P.soft_eq(pids(), p0, "charon pids (no restart)")
    P.soft(all(alive(nm) for nm in L.routers), "a charon is not running")
    for nm in ("tokyo", "osaka"):
        lines = [ln for ln in texts(m)[nm].splitlines() if RELOAD_RE.search(ln)]
        P.soft(lines, f"{nm}: no qkd line about the module coming back "
                      f"(RELOAD_RE {RELOAD_RE.pattern!r})")
        if lines:
            diag(f"{nm}: " + lines[0].split("] ", 1)[-1])
    P.done(m)


# what the plugin logs, once, about a CHILD_SA config that demands qkd in
# every ESP proposal while the IKE proposals do not (qkd_config_check.c)
MIXED_RE = re.compile(r"qkd: WARNING: every ESP proposal of CHILD_SA 'net' of "
                      r"connection 'lab' demands the qkd key exchange, but its IKE "
                      r"proposals do not")
MIXED_SCAN = 5      # seconds between the plugin's scans of the loaded configs


@test("mixed configs: an ESP proposal demanding ke2_qkd under IKE proposals without it "
      "is warned about once, at load; ke2_qkd-ke2_none in ESP and qkd in both are not")
def _():
    L = lab()
    T = L.routers["tokyo"]
    saved = (T.proposals, T.esp_proposals)
    variants = [
        # (IKE, ESP, warned)
        ("aes256gcm16-prfsha384-x25519-ke1_mlkem768", saved[1], True),
        ("aes256gcm16-prfsha384-x25519-ke1_mlkem768",
         "aes256gcm16-x25519-ke1_mlkem768-ke2_qkd-ke2_none", False),
        saved + (False,),
    ]
    try:
        for ike, esp, warned in variants:
            T.proposals, T.esp_proposals = ike, esp
            pos = T.mark()
            T.load()
            # two scans: the warning comes within one, and only once
            time.sleep(2 * MIXED_SCAN + 1)
            n = len(MIXED_RE.findall(T.since(pos)))
            diag(f"IKE {ike}, ESP {esp}: {n} warning(s)")
            eq(n, 1 if warned else 0, f"warnings for IKE {ike}, ESP {esp}")
    finally:
        T.proposals, T.esp_proposals = saved
        T.load()


@test("field lab A torn down")
def _():
    L = lab()
    L.down()
    down_lab()


# ============================================ topology B: behind a NAT

@test("field lab B: tokyo and nagoya behind one NAT address (nft masquerade), osaka with "
      "pools 'tokyo' and 'nagoya' bound by id, addrs the real addresses it never sees")
def _():
    down_lab()
    state["connected"] = set()
    state["lab"] = Lab(extra=("nagoya",), nat=("tokyo", "nagoya"))
    L = lab()
    up(["tokyo", "nagoya"])
    eq(L.osaka.peers, ["tokyo", "nagoya"], "osaka's peers")
    for p in ("tokyo", "nagoya"):
        sec = L.osaka.qkd_peer(p)
        eq((sec.get("id"), sec.get("addrs")), (p, L.routers[p].wan),
           f"osaka's peers.{p} (id, addrs)")


def nat_t(P, peer, what):
    """NAT-T on the peer's SAs: osaka sees the peer at NAT_ADDR, not on
    port 500; the CHILD_SAs are TUNNEL-in-UDP on both; ESP goes in UDP
    (the XFRM states' encapsulation) and counts the pings; the NAT
    forwarded UDP 4500."""
    L = lab()
    O = L.osaka
    sas = [s for s in O.list_sas() if s["remote_id"] == peer]
    if not P.soft(len(sas) == 1, f"{what}: osaka's IKE_SAs with {peer}: {sas}"):
        return
    s = sas[0]
    P.soft_eq((s["remote_host"], s["remote_port"] != 500), (NAT_ADDR, True),
              f"{what}: osaka sees {peer} at (address, not port 500)")
    diag(f"{what}: swanctl --list-sas on osaka: remote '{peer}' @ "
         f"{s['remote_host']}[{s['remote_port']}], CHILD_SA modes "
         f"{[c['mode'] for c in s['children']]}")
    ps = [x for x in L.routers[peer].list_sas()]
    for who, lst in ((peer, ps), ("osaka", sas)):
        modes = [c["mode"] for x in lst for c in x["children"]]
        P.soft(modes and all(md == "TUNNEL-in-UDP" for md in modes),
               f"{what}: {who}'s CHILD_SA modes {modes}, expected TUNNEL-in-UDP")
    n0 = L.nat_counters()
    g = ping_esp(peer, 5)
    n1 = L.nat_counters()
    for who, st in g.items():
        for d in ("out", "in"):
            pk = sum(v[1] for v in st.values() if v[0] == d and v[2])
            P.soft(pk >= 5, f"{what}: {who}'s UDP-encapsulated ESP states ({d}) counted "
                            f"{pk} packets, expected >= 5: {st}")
    encs = {who: sorted({v[2] for v in st.values() if v[2]}) for who, st in g.items()}
    diag(f"{what}: ESP in UDP, XFRM encap ports {encs}; ESP packets "
         f"{ {w: sum(v[1] for v in st.values()) for w, st in g.items()} }; NAT udp 4500 "
         f"in/out +{n1['udp4500_in'] - n0['udp4500_in']}/"
         f"+{n1['udp4500_out'] - n0['udp4500_out']}")
    P.soft(n1["udp4500_out"] - n0["udp4500_out"] >= 5,
           f"{what}: the NAT forwarded {n1['udp4500_out'] - n0['udp4500_out']} "
           "packets from UDP 4500 inside, expected >= 5")


def initiate_behind_nat(P, peer, what):
    """peer initiates to osaka; within NAT_QKD_WITHIN s its IKE_SA and
    CHILD_SA in place are QKD-keyed on both routers.  Checks what the
    exchanges took; returns the marks."""
    L = lab()
    R = L.routers[peer]
    others = [p for p in L.osaka.peers if p != peer]
    m, t0 = marks(), taken()
    start = time.monotonic()
    rc, out = R.initiate()
    check(rc == 0, f"{what}: swanctl --initiate failed ({rc}):\n{out[-1500:]}")
    desc = {"last": ""}

    def keyed():
        ok, d = sas_qkd([peer])
        mine = [ln for ln in d.splitlines()]
        k = L.osaka.sa_keys()
        sa_o = [s["uid"] for s in L.osaka.list_sas() if s["remote_id"] == peer]
        oi = [e for e in k["ike"] if e[0] in sa_o]
        oc = [e for e in k["child"] if e[0] in sa_o]
        ok = ok and oi and oc and all(owner(e[-1]) for e in oi + oc)
        desc["last"] = "\n".join(mine + [f"osaka ike {e[:-1]}: {e[-1]}" for e in oi] +
                                 [f"osaka child {e[:-1]}: {e[-1]}" for e in oc])
        return ok
    try:
        wait_for(keyed, NAT_QKD_WITHIN - (time.monotonic() - start), step=0.3,
                 what="QKD-keyed SAs")
        diag(f"{what}: IKE_SA and CHILD_SA QKD-keyed on both routers "
             f"{time.monotonic() - start:.1f} s after initiate")
    except TimeoutError:
        P.append(f"{what}: the SAs in place not QKD-keyed within {NAT_QKD_WITHIN} s of "
                 f"initiate:\n{desc['last']}")
    state["connected"].add(peer)
    settle(m, expect=expect())
    t = texts(m)
    d = delta(t0, taken())
    # no key taken from another peer's pool on osaka, nor by another peer
    wrong = {k: v for k, v in d.items()
             if k[0] in others or (k[0] == "osaka" and k[1] in others)}
    P.soft(not wrong, f"{what}: keys taken from pools not {peer}'s: {wrong}")
    # the initiator's offers and the responder's keys agree with the logs
    ini = R.acks(t[peer], "initiator")
    naks = [f for f in R.fallbacks(t[peer], "initiator")
            if f[2] in ("unknown key ID", "tag mismatch", "no pool")]
    resp = [a for a in L.osaka.acks(t["osaka"], "responder")]
    P.soft_eq(sorted(a[1] for a in resp), sorted(a[1] for a in ini),
              f"{what}: osaka's responder key IDs vs {peer}'s")
    P.soft({a[2] for a in resp} <= {peer}, f"{what}: osaka used pools {resp}")
    P.soft(d.get((peer, "osaka", "out"), 0) <= len(ini) + len(naks),
           f"{what}: {peer} took {d.get((peer, 'osaka', 'out'), 0)} outbound keys for "
           f"{len(ini)} ACKed and {len(naks)} NAKed offers")
    P.soft_eq(d.get(("osaka", peer, "in"), 0), len(resp),
              f"{what}: osaka's inbound keys taken from pool '{peer}' vs its ACKs")
    fb = {n: L.routers[n].fallbacks(t[n]) for n in (peer, "osaka")}
    if any(fb.values()):
        diag(f"{what}: fallbacks while setting up (accepted if re-keyed onto QKD "
             f"at once): {fb}")
    return m


def osaka_rekey(peer, kind, what, tries=5):
    """Re-key osaka's IKE_SA or CHILD_SA with peer by unique ID (osaka may
    serve two peers), listed right before: an SA's ID changes as it is
    re-keyed, and vici answers "no matching SAs" for an SA that is being
    replaced at that moment; then list again."""
    O = lab().osaka
    for i in range(tries):
        sa = [s for s in O.list_sas() if s["remote_id"] == peer
              and s["state"] == "ESTABLISHED"]
        # an old CHILD_SA lingers (REKEYED, DELETING) after a re-key: vici
        # accepts a re-key of it, which then does nothing
        children = [c for c in sa[0]["children"] if c["state"] == "INSTALLED"] if sa else []
        if len(sa) != 1 or (kind == "child" and not children):
            diag(f"{what}: osaka's SA with {peer} not ready: {sa}")
            time.sleep(1)
            continue
        args = (("--ike-id", sa[0]["uid"]) if kind == "ike" else
                ("--child-id", children[0]["uid"]))
        p = subprocess.run(["swanctl", "--rekey", *map(str, args), "--uri",
                            f"unix://{O.vici}"], capture_output=True, text=True,
                           timeout=60)
        out = p.stdout + p.stderr
        if p.returncode == 0:
            return
        check("no matching SAs" in out, f"{what}: osaka's {kind} re-key: {out[-500:]}")
        said = [ln for ln in out.splitlines() if "rekey" in ln]
        diag(f"{what}: osaka's {kind} re-key by ID {args[1]}: {' '.join(said)}; "
             "listing again")
        time.sleep(1)
    raise AssertionError(f"{what}: osaka could not re-key its {kind} SA with {peer}")


def rekeys_behind_nat(P, peer, what, n=2):
    """n CHILD and n IKE re-keys from peer, one of each from osaka (by
    unique ID: osaka may serve two peers); all QKD-keyed, exact counts,
    no fallback in the ke counters."""
    L = lab()
    R, O = L.routers[peer], L.osaka
    settle(marks(), expect=expect())
    m, t0 = marks(), taken()
    k0 = {(peer, "osaka"): ke(R, "osaka"), ("osaka", peer): ke(O, peer)}
    for _ in range(n):
        R.rekey_child()
        settle(m, expect=expect())
        R.rekey_ike()
        settle(m, expect=expect())
    osaka_rekey(peer, "child", what)
    settle(m, expect=expect())
    osaka_rekey(peer, "ike", what)
    settle(m, expect=expect())
    exchanges_check(P, m, t0, {(peer, "osaka"): 2 * n, ("osaka", peer): 2}, what)
    ok, desc = sas_qkd([peer])
    P.soft(ok, f"{what}: {peer}'s SAs in place not all QKD-keyed:\n{desc}")
    # the pools' key exchange counters: every exchange qkd, no fallback,
    # no reason counted
    for (r, p), k in k0.items():
        k1 = ke(L.routers[r], p)
        if k is None or k1 is None:
            diag(f"{what}: no ke-stats columns in {r}'s qkdctl dump of '{p}'")
            continue
        got = {c: k1[c] - k[c] for c in k}
        want = {c: 0 for c in k}
        want["ke_qkd"] = 2 * n + 2
        P.soft_eq(got, want, f"{what}: {r}'s ke-stats and reasons of pool '{p}'")


@test(f"NAT: tokyo behind the NAT, osaka's peers.tokyo bound by id only: within "
      f"{NAT_QKD_WITHIN} s of initiate the IKE_SA and CHILD_SA in place QKD-keyed on both "
      "routers, no key from osaka's pool 'nagoya', NAT-T with ESP in UDP counting packets; "
      "CHILD and IKE re-keys from each side all QKD-keyed, no fallback counted")
def _():
    P = Problems()
    m = initiate_behind_nat(P, "tokyo", "NAT tokyo")
    nat_t(P, "tokyo", "NAT tokyo")
    diag("NAT mappings (inside src:sport -> dst:dport as :mapped): " +
         ", ".join(f"{a}:{b}->{c}:{d} as :{e}" for a, b, c, d, e in lab().nat_mappings()
                   if d in (500, 4500)))
    try:
        rekeys_behind_nat(P, "tokyo", "NAT tokyo re-keys")
    except AssertionError as e:
        P.append(f"NAT tokyo re-keys: {e}")
    P.done(m)


@test("two peers behind one NAT address: nagoya joins; each peer's IKE_SA and CHILD_SA "
      "exchanges on osaka use only keys of its own pool (key IDs against the IDs put in), "
      "all QKD-keyed, both peers' ESP through NAT-T")
def _():
    L = lab()
    O = L.osaka
    P = Problems()
    m = initiate_behind_nat(P, "nagoya", "NAT nagoya")
    nat_t(P, "nagoya", "NAT nagoya")
    try:
        rekeys_behind_nat(P, "nagoya", "NAT nagoya re-keys", n=1)
        rekeys_behind_nat(P, "tokyo", "NAT tokyo again", n=1)
    except AssertionError as e:
        P.append(f"NAT re-keys: {e}")
    # every key ID in osaka's log since nagoya came: from the pair it
    # was put in for, named with that peer's pool; one pool per IKE_SA
    t = O.since(m["osaka"])
    by_sa = {}
    for role, kid, pool, sa in O.acks(t):
        o = owner(kid)
        peer = None if o is None else (o[0] if o[1] == "osaka" else o[1])
        P.soft(peer == pool, f"osaka: key {kid} ({role}, {sa}) of pool '{pool}' was put in "
                             f"for {o}")
        by_sa.setdefault(sa, set()).add(pool)
    mixed = {sa: p for sa, p in by_sa.items() if len(p) > 1}
    P.soft(not mixed, f"osaka: IKE_SAs keyed from several pools: {mixed}")
    diag(f"osaka: {len(O.acks(t))} QKD-keyed exchanges over {len(by_sa)} IKE_SAs, pools "
         f"{sorted({p for v in by_sa.values() for p in v})}")
    live = {s["remote_id"] for s in O.list_sas() if s["state"] == "ESTABLISHED"}
    P.soft_eq(live, {"tokyo", "nagoya"}, "osaka's IKE_SAs in place (remote identities)")
    P.soft_eq(sorted({s["remote_host"] for s in O.list_sas()}), [NAT_ADDR],
              "osaka sees both peers at")
    ok, desc = sas_qkd(["tokyo", "nagoya", "osaka"])
    P.soft(ok, f"SAs in place not all QKD-keyed:\n{desc}")
    P.done(m)


@test("field lab B torn down; no key material in any charon log (both topologies)")
def _():
    down_lab()
    logs = "".join(LOGS)
    found = leaked(MATERIALS, logs)
    check(not found, f"{len(found)} key materials found in the charon logs")
    diag(f"{len(MATERIALS)} materials checked against {len(logs)} bytes of logs")


def finish(failed):
    L = state["lab"]
    if L is not None and (failed or os.environ.get("QKD_PLUGIN_LOGS")):
        for r in L.routers.values():
            diag(f"--- {r.name}'s charon log (end)")
            diag("\n".join(r.log_text().splitlines()[-60:]))
    if L is not None and L.nat:
        try:
            diag(sh("nft", "list", "ruleset", ns=NAT_NS))
        except Exception:       # noqa: BLE001
            pass
    down_lab()


if __name__ == "__main__":
    main(finish)
