#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The qkd plugin in two strongSwan versions at once: router tokyo runs
Debian trixie's charon 6.0.1 (the VM's root) with qkd + qkd-mlkem, router
osaka runs Debian forky's charon 6.1.0 (chrooted into the forky root at
/forky) with qkd alone, its ML-KEM from strongSwan's openssl plugin.

  netns host-tokyo    netns router-tokyo                 netns router-osaka    netns host-osaka
  +-----------+      +---------------------+            +---------------------+      +-----------+
  | 10.10.1.2 +------+ 10.10.1.1 192.0.2.1 +============+ 192.0.2.2 10.20.1.1 +------+ 10.20.1.2 |
  +-----------+ veth | charon 6.0.1        |  IKE, ESP  | chroot /forky:      | veth +-----------+
                     |  qkd, qkd-mlkem     |            |  charon 6.1.0       |
                     |  (trixie root)      |            |  qkd; ML-KEM from   |
                     | pool "osaka"        |            |  openssl            |
                     |                     |            | pool "tokyo"        |
                     +---------------------+            +---------------------+
       swanctl (trixie's) talks vici to both, through the lab's directory

What is checked, with values: each charon's version and loaded plugins
(qkd-mlkem only in 6.0.1) and which plugin provides ML-KEM in each; the
SA comes up with x25519 + ML-KEM-768 + qkd; CHILD_SA and IKE_SA re-keys
initiated from each side, each keyed with one QKD key whose ID both
routers log; ping through ESP after each CHILD_SA re-key (XFRM packet
counters); the pools' taken counters equal the keys both logs name; no
failure in either log; no key material in either log.

Needs: the qkdpool module loaded (run.sh does it), build/userspace/qkdctl,
the plugins of both roots (build/strongswan-plugin/trixie/ and .../forky/:
QKD_SUITE=forky tools/inroot.sh make -C /src/strongswan-plugin), and
/forky (tools/vm-run.sh shares the forky root).  Without /forky every test
skips, saying why.
"""

import os

from qkdlab.tap import Skip, check, diag, eq, main, test
from qkdlab.pools import log_materials

from qkdlab.proc import wait_for
from qkdlab.routers import CHARON, Lab, QKDCTL, SWAN_PLUGINS, SWAN_ROOT, hexid, plugin_path

VERSIONS = {"tokyo": ("trixie", "6.0.1"), "osaka": ("forky", "6.1.0")}
MLKEM_FROM = {"trixie": "qkd-mlkem", "forky": "openssl"}

lab = Lab()
T, O = lab.tokyo, lab.osaka
O.swan = "forky"
MATERIALS = []
state = {"up": False, "skip": None}


def fill(n):
    """n fresh random keys per direction, the receiver's inbound side first
    (as qkd-linkd does)."""
    t2o = [(os.urandom(16), os.urandom(32)) for _ in range(n)]
    o2t = [(os.urandom(16), os.urandom(32)) for _ in range(n)]
    for ks in (t2o, o2t):
        MATERIALS.extend(m for _, m in ks)
        log_materials(m for _, m in ks)
    O.add_keys("in", t2o)
    T.add_keys("out", t2o)
    T.add_keys("in", o2t)
    O.add_keys("out", o2t)


def taken():
    t, o = T.pool(), O.pool()
    return {"T.out": t["out"]["taken"], "T.in": t["in"]["taken"],
            "O.out": o["out"]["taken"], "O.in": o["in"]["taken"]}


def needs_lab(fn):
    """Skip when there is no forky root; fail when the lab is not up."""
    def run():
        if state["skip"]:
            raise Skip(state["skip"])
        if not state["up"]:
            raise AssertionError("the lab is not up (see the first test)")
        fn()
    run.__name__ = fn.__name__
    return run


def no_failures(pt, po):
    f = [("tokyo", ln) for ln in T.failures(T.since(pt))] + \
        [("osaka", ln) for ln in O.failures(O.since(po))]
    check(not f, "charon logged failures:\n" + "\n".join(f"{r}: {ln}" for r, ln in f[:20]))


def exchange(ini, action, what, new_ike=False):
    """Run action() (a re-key or the initiation) from router ini and wait
    until both routers logged its qkd exchange and are idle: exactly one
    key, the same ID on both sides, taken from ini's outbound pool and the
    peer's inbound one."""
    resp = O if ini is T else T
    pt, po = T.mark(), O.mark()
    pi, pr = (pt, po) if ini is T else (po, pt)
    before = taken()
    action()

    def done():
        return (ini.acks(ini.since(pi), "initiator") and
                resp.acks(resp.since(pr), "responder") and
                not T.busy() and not O.busy())
    try:
        wait_for(done, 90, step=0.25, what=f"{what}: the qkd exchange on both routers")
    finally:
        ia, ra = ini.acks(ini.since(pi), "initiator"), resp.acks(resp.since(pr), "responder")
        fb = ini.fallbacks(ini.since(pi)) + resp.fallbacks(resp.since(pr))
        if fb:
            diag(f"{what}: fallbacks {fb}")
    eq((len(ia), len(ra)), (1, 1), f"{what}: qkd key lines ({ini.name} initiator, "
       f"{resp.name} responder)")
    eq(ia[0][1], ra[0][1], f"{what}: key ID on both routers")
    eq((ia[0][2], ra[0][2]), (resp.name, ini.name), f"{what}: pools named in the log lines")
    d = {k: v - before[k] for k, v in taken().items()}
    i, r = ini.name[0].upper(), resp.name[0].upper()
    want = {f"{i}.out": 1, f"{i}.in": 0, f"{r}.out": 0, f"{r}.in": 1}
    eq(d, want, f"{what}: keys taken (pool counters)")
    no_failures(pt, po)
    diag(f"{what}: QKD key {ia[0][1]}")




@test("versions lab: tokyo runs trixie's charon 6.0.1 with qkd + qkd-mlkem, osaka runs "
      "forky's charon 6.1.0 chrooted in /forky with qkd alone")
def _():
    if not os.path.exists(SWAN_ROOT["forky"] + CHARON):
        state["skip"] = (f"no forky root at {SWAN_ROOT['forky']} (tools/vm-run.sh shares it "
                         "when tools/mkroot.sh forky succeeds)")
        raise Skip(state["skip"])
    for swan in ("trixie", "forky"):
        for name in SWAN_PLUGINS[swan].split():
            p = plugin_path(swan, name)
            check(os.path.exists(p), f"no plugin at {p}: build it with QKD_SUITE={swan} "
                  "tools/inroot.sh make -C /src/strongswan-plugin")
    check(os.path.exists(QKDCTL), f"no qkdctl at {QKDCTL}")
    lab.setup()
    lab.install_plugin()
    for r in (T, O):
        r.qkdctl("pool", "add", r.peer, "key-size", "32", "capacity", "64")
    fill(20)
    for r in (T, O):
        r.start()
        r.swanctl("--load-all", "--noprompt", "--file", r.swanctl_conf)
    for r in (T, O):
        swan, version = VERSIONS[r.name]
        text = r.log_text()
        check(f"(strongSwan {version}," in text,
              f"{r.name}'s charon is not strongSwan {version}: "
              + next((ln for ln in text.splitlines() if "Starting IKE" in ln), "no start line"))
        loaded = next((ln.split("loaded plugins: ", 1)[1].split()
                       for ln in text.splitlines() if "loaded plugins: " in ln), [])
        for name in SWAN_PLUGINS[swan].split():
            check(name in loaded, f"{r.name}: plugin {name} not loaded: {loaded}")
        if swan == "forky":
            check("qkd-mlkem" not in loaded, f"{r.name}: qkd-mlkem loaded into {version}")
        algs = r.swanctl("--list-algs")
        ke = [ln.strip() for ln in algs.splitlines() if "ML_KEM" in ln or "[qkd" in ln]
        diag(f"{r.name} ({swan}, strongSwan {version}): {' '.join(ke)}")
        for m in ("512", "768", "1024"):
            got = [k for k in ke if k.startswith(f"ML_KEM_{m}[")]
            eq(got, [f"ML_KEM_{m}[{MLKEM_FROM[swan]}]"], f"{r.name}: ML-KEM-{m} providers")
        check(any(k.endswith("[qkd]") and ("65001" in k or "QKD" in k) for k in ke),
              f"{r.name}: the qkd method (65001) not listed")
    state["up"] = True


@test("SA up from tokyo (6.0.1) to osaka (6.1.0): x25519 + ML-KEM-768 + qkd, one key "
      "each side with the same ID, ping through ESP")
@needs_lab
def _():
    def initiate():
        rc, out = T.initiate(timeout=60)
        check(rc == 0, f"swanctl --initiate failed ({rc}):\n{out[-2000:]}")
    exchange(T, initiate, "IKE_SA set-up")
    for r in (T, O):
        sas = r.sas()
        check("KE1_ML_KEM_768" in sas, f"{r.name}: IKE_SA not keyed with KE1_ML_KEM_768:\n{sas}")
        check(r.child_installed(), f"{r.name}: CHILD_SA not INSTALLED:\n{sas}")
    diag(f"ESP packets: {lab.esp_ping(5)}")


@test("CHILD_SA re-keyed from tokyo (6.0.1), then from osaka (6.1.0): QKD each time, "
      "ESP on the new SAs")
@needs_lab
def _():
    for r in (T, O):
        old = set(T.esp_states())
        exchange(r, r.rekey_child, f"CHILD_SA re-key from {r.name}")
        wait_for(lambda: not set(T.esp_states()) & old, 30,
                 what="the old ESP states to go")
        diag(f"after the re-key from {r.name}: ESP packets {lab.esp_ping(5)}")


@test("IKE_SA re-keyed from tokyo (6.0.1), then from osaka (6.1.0): QKD + ML-KEM-768 "
      "each time, the CHILD_SA carried over")
@needs_lab
def _():
    for r in (T, O):
        exchange(r, r.rekey_ike, f"IKE_SA re-key from {r.name}")
        for x in (T, O):
            sas = x.sas()
            check("KE1_ML_KEM_768" in sas, f"{x.name}: new IKE_SA without ML-KEM-768:\n{sas}")
            check(x.child_installed(), f"{x.name}: CHILD_SA lost:\n{sas}")
    lab.esp_ping(5)


@test("both logs: the same key IDs, the pools' counters match them, no key material")
@needs_lab
def _():
    tt, ot = T.log_text(), O.log_text()
    t2o = sorted(a[1] for a in T.acks(tt, "initiator"))
    o2t = sorted(a[1] for a in O.acks(ot, "initiator"))
    eq(t2o, sorted(a[1] for a in O.acks(ot, "responder")), "tokyo's keys as osaka logged them")
    eq(o2t, sorted(a[1] for a in T.acks(tt, "responder")), "osaka's keys as tokyo logged them")
    eq((len(t2o), len(o2t)), (3, 2), "qkd exchanges initiated (tokyo: set-up, CHILD, IKE; "
       "osaka: CHILD, IKE)")
    t = taken()
    eq(t, {"T.out": 3, "T.in": 2, "O.out": 2, "O.in": 3}, "keys taken (pool counters)")
    for r, text in ((T, tt), (O, ot)):
        check(not r.fallbacks(text), f"{r.name}: qkd fell back: {r.fallbacks(text)}")
        for m in MATERIALS:
            for form in (m.hex(), hexid(m)):
                check(form not in text, f"key material in {r.name}'s log")


@test("versions lab torn down")
def _():
    if state["skip"]:
        raise Skip(state["skip"])
    lab.teardown()


if __name__ == "__main__":
    main()
