#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The Debian packages of `make deb` (build/deb/trixie/) installed in the
VM as an operator would install them, and the lab run from what they
installed:

- dpkg -i of every package but the debug symbols: DKMS builds qkdpool for
  the running kernel from /usr/src, modprobe loads that build (from
  updates/dkms), systemd-modules-load loads it from the package's
  modules-load.d entry (what a boot does), and a mem_limit in
  /etc/modprobe.d reaches the module;
- the packages put nothing under /etc but the plugins' strongswan.d
  snippets (conffiles); systemd-analyze verify passes on every unit;
- the two-router lab of test_lab.py with /usr/sbin/qkd-linkd (its
  configuration checked first with -t, as the unit's ExecStartPre does),
  /usr/sbin/qkdctl and the plugins in /usr/lib/ipsec/plugins: the pools
  fill, the SA comes up and CHILD_SAs re-key QKD-keyed, the logs, the
  pools' counters and charon's counters telling the same story;
- qkd-metrics.service's command writes the metrics of a router with
  pools into node_exporter's textfile directory, and promtool check
  metrics passes on them;
- dpkg --purge takes everything away again, the DKMS build included; the
  repository's module is loaded back for the tests after this file.

The module loaded by run.sh is unloaded first: this file ends with it
loaded again.  Needs `make deb` first (make check runs it)."""

import glob
import os
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEB_DIR = os.path.join(REPO, "build/deb/trixie")
# the lab runs what the packages installed (qkdlab reads these at import)
os.environ["QKD_LINKD"] = "/usr/sbin/qkd-linkd"
os.environ["QKDCTL"] = "/usr/sbin/qkdctl"

from qkdlab.tap import check, diag, eq, main, test

from qkdlab.proc import wait_for
from qkdlab.qkdnet import QkdLab, snapshot

KO = os.environ.get("QKD_KO", os.path.join(REPO, "kmod/qkdpool.ko"))
PACKAGES = ["qkdpool-dkms", "libqkd0", "libqkd-dev", "qkdctl", "qkd-linkd",
            "strongswan-plugin-qkd"]
PLUGIN_DIR = "/usr/lib/ipsec/plugins"
UNITS = ["/usr/lib/systemd/system/" + u for u in
         ("qkd-linkd.service", "qkd-metrics.service", "qkd-metrics.timer")]
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
MEM_LIMIT = 64 << 20
REKEYS = 3
state = {"installed": False}


def run(*cmd, timeout=600):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def loaded():
    return os.path.exists("/sys/module/qkdpool")


def unload():
    if loaded():
        rc, out = run("rmmod", "qkdpool")
        check(rc == 0, f"rmmod qkdpool: {out}")


def need_installed():
    check(state["installed"], "the packages are not installed (see the first test)")


@test("packages: dpkg -i of every package but the debug symbols; DKMS builds qkdpool "
      "for the running kernel and modprobe loads that build from updates/dkms")
def _():
    debs = sorted(p for p in glob.glob(os.path.join(DEB_DIR, "*.deb"))
                  if "-dbgsym_" not in p)
    names = sorted(os.path.basename(p).split("_")[0] for p in debs)
    eq(names, sorted(PACKAGES), f"the packages in {DEB_DIR} (make deb)")
    unload()
    t0 = time.monotonic()
    rc, out = run("dpkg", "-i", *debs, timeout=900)
    check(rc == 0, f"dpkg -i failed ({rc}):\n{out[-3000:]}")
    state["installed"] = True
    diag(f"dpkg -i (the DKMS build included): {time.monotonic() - t0:.1f} s")
    kver = os.uname().release
    rc, out = run("dkms", "status", "qkdpool")
    diag("dkms status: " + out.strip())
    check(f"{kver}" in out and "installed" in out,
          f"dkms status does not show qkdpool installed for {kver}: {out}")
    rc, out = run("modprobe", "qkdpool")
    check(rc == 0, f"modprobe qkdpool: {out}")
    rc, path = run("modinfo", "-n", "qkdpool")
    check(rc == 0 and "/updates/dkms/" in path and kver in path,
          f"modinfo -n qkdpool: {path.strip()} (not DKMS's build for {kver})")
    diag(f"modprobe loaded {path.strip()}")


@test("packages: systemd-modules-load loads qkdpool from the package's modules-load.d "
      "(the boot path); a mem_limit in /etc/modprobe.d reaches the module")
def _():
    need_installed()
    unload()
    rc, out = run("/usr/lib/systemd/systemd-modules-load")
    check(rc == 0 and loaded(), f"systemd-modules-load ({rc}) left qkdpool unloaded: {out}")
    with open("/sys/module/qkdpool/parameters/mem_limit") as f:
        default = int(f.read())
    conf = "/etc/modprobe.d/qkdpool.conf"
    with open(conf, "w") as f:
        f.write(f"options qkdpool mem_limit={MEM_LIMIT}\n")
    try:
        unload()
        rc, out = run("modprobe", "qkdpool")
        check(rc == 0, f"modprobe qkdpool with {conf}: {out}")
        with open("/sys/module/qkdpool/parameters/mem_limit") as f:
            eq(int(f.read()), MEM_LIMIT, f"mem_limit with {conf}")
    finally:
        os.unlink(conf)
    unload()
    rc, out = run("modprobe", "qkdpool")
    check(rc == 0, f"modprobe qkdpool: {out}")
    with open("/sys/module/qkdpool/parameters/mem_limit") as f:
        eq(int(f.read()), default, "mem_limit back at its default without the file")
    diag(f"mem_limit: default {default}, {MEM_LIMIT} from {conf}")


@test("packages: nothing under /etc but the plugins' strongswan.d snippets, which are "
      "conffiles; systemd-analyze verify passes on every unit")
def _():
    need_installed()
    etc = {}
    for pkg in PACKAGES:
        rc, out = run("dpkg", "-L", pkg)
        check(rc == 0, f"dpkg -L {pkg}: {out}")
        files = [ln for ln in out.splitlines()
                 if ln.startswith("/etc/") and os.path.isfile(ln)]
        if files:
            etc[pkg] = sorted(files)
    eq(list(etc), ["strongswan-plugin-qkd"], "the packages with files under /etc")
    rc, out = run("dpkg-query", "-W", "-f=${Conffiles}", "strongswan-plugin-qkd")
    conffiles = sorted(ln.split()[0] for ln in out.splitlines() if ln.strip())
    eq(conffiles, etc["strongswan-plugin-qkd"], "the plugin package's conffiles")
    for unit in UNITS:
        rc, out = run("systemd-analyze", "verify", "--man=no", unit)
        check(rc == 0 and not out.strip(), f"systemd-analyze verify {unit} ({rc}):\n{out}")


lab = None


@test(f"packages: the lab from the installed binaries (/usr/sbin/qkd-linkd, "
      f"/usr/sbin/qkdctl, {PLUGIN_DIR}): linkd's configuration passes -t, the pools fill, "
      f"the SA comes up and {REKEYS} CHILD re-keys are QKD-keyed, logs and counters agree")
def _():
    global lab
    need_installed()
    for name in ("qkd", "qkd-mlkem"):
        path = f"{PLUGIN_DIR}/libstrongswan-{name}.so"
        rc, out = run("dpkg", "-S", path)
        check(rc == 0 and out.startswith("strongswan-plugin-qkd:"),
              f"{path} is not the package's: {out.strip()}")
    lab = QkdLab()
    T, O = lab.tokyo, lab.osaka
    lab.setup()
    lab.start_kme()
    for n, lk in lab.linkd.items():
        os.makedirs(lk.dir, exist_ok=True)
        lk.write_conf(lab.pool_cfg)
        rc, out = run("ip", "netns", "exec", lk.r.ns, "/usr/sbin/qkd-linkd", "-t",
                      "-c", lk.conf)
        check(rc == 0, f"{n}: qkd-linkd -t (the unit's ExecStartPre) ({rc}): {out}")
    lab.start_linkd()
    # the process is ip netns exec until it has exec'd qkd-linkd
    for n, lk in lab.linkd.items():
        def exe():
            try:
                return os.readlink(f"/proc/{lk.proc.pid}/exe")
            except OSError:
                return None
        try:
            wait_for(lambda: exe() == "/usr/sbin/qkd-linkd", 10, step=0.1,
                     what=f"{n}'s qkd-linkd to run")
        except TimeoutError:
            eq(exe(), "/usr/sbin/qkd-linkd", f"{n}'s qkd-linkd binary")
    wait_for(lab.full, 120, step=0.5, what="all four directions at the high watermark")
    for r in (T, O):
        r.start()
        r.swanctl("--load-all", "--noprompt", "--file", r.swanctl_conf)
        with open(r.log) as f:
            said = [ln for ln in f if "loaded plugins:" in ln]
        check(said and " qkd " in said[-1] + " ",
              f"{r.name}: charon did not say it loaded qkd: {said}")
    zero = snapshot(lab, (T.mark(), O.mark()))
    rc, out = T.initiate(timeout=60)
    check(rc == 0, f"swanctl --initiate failed ({rc}):\n{out[-2000:]}")
    wait_for(lambda: T.child_installed() and O.child_installed(), 30,
             what="the CHILD_SA on both routers")
    up = snapshot(lab, zero["end"], zero, new_ike=1)
    check(not up["problems"], "set-up: " + "; ".join(up["problems"]))
    for _ in range(REKEYS):
        m = T.mark()
        T.rekey_child()
        wait_for(lambda: len(T.acks(T.since(m), "initiator")) +
                 len(T.fallbacks(T.since(m), "initiator")) >= 1, 30,
                 what="the CHILD re-key's qkd exchange")
    end = snapshot(lab, up["end"], up)
    check(not end["problems"], "re-keys: " + "; ".join(end["problems"]))
    t = end["tally"]
    eq((t["rekeys"], t["qkd"], t["mlkem"], t["failed"]), (REKEYS, REKEYS, 0, 0),
       "re-keys, QKD-keyed, ML-KEM only, failed")


@test("packages: qkd-metrics.service's command writes tokyo's metrics into "
      f"{TEXTFILE_DIR}; promtool check metrics passes on them, and they hold "
      "the pool's series")
def _():
    need_installed()
    check(lab is not None and lab.tokyo.proc is not None, "the lab is not up")
    with open("/usr/lib/systemd/system/qkd-metrics.service") as f:
        cmd = [ln.split("=", 1)[1].strip() for ln in f if ln.startswith("ExecStart=")]
    eq(len(cmd), 1, "ExecStart lines of qkd-metrics.service")
    check(cmd[0].startswith("/bin/sh -c '") and cmd[0].endswith("'"),
          f"ExecStart is not a sh -c '...' line: {cmd[0]}")
    os.makedirs(TEXTFILE_DIR, exist_ok=True)
    prom = os.path.join(TEXTFILE_DIR, "qkd.prom")
    rc, out = run("ip", "netns", "exec", lab.tokyo.ns, "sh", "-c", cmd[0][len("/bin/sh -c '"):-1])
    check(rc == 0, f"the service's command ({rc}): {out}")
    eq(sorted(os.listdir(TEXTFILE_DIR)), ["qkd.prom"], f"files in {TEXTFILE_DIR}")
    with open(prom) as f:
        text = f.read()
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 0, f"promtool check metrics ({p.returncode}):\n{p.stdout}{p.stderr}")
    for series in ('qkd_pool_keys{pool="osaka",direction="out"}',
                   'qkd_pool_key_exchanges_total{pool="osaka",outcome="qkd"}'):
        check(series in text, f"{series} not in {prom}")
    diag(f"{prom}: {len(text.splitlines())} lines, promtool check metrics clean")


@test("packages: the lab torn down; dpkg --purge removes every package, DKMS's build "
      "and the conffiles with them; the repository's module loaded back")
def _():
    try:
        if lab is not None:
            lab.teardown()
    finally:
        unload()
        rc, out = run("dpkg", "--purge", *PACKAGES, timeout=300)
        check(rc == 0, f"dpkg --purge ({rc}):\n{out[-2000:]}")
        rc, out = run("insmod", KO)
        check(rc == 0, f"insmod {KO}: {out}")
    left = [p for p in (f"{PLUGIN_DIR}/libstrongswan-qkd.so", "/usr/sbin/qkd-linkd",
                        "/etc/strongswan.d/charon/qkd.conf", "/usr/src/qkdpool-0.1.0")
            if os.path.exists(p)]
    left += glob.glob(f"/lib/modules/{os.uname().release}/updates/dkms/qkdpool.ko*")
    eq(left, [], "files left after dpkg --purge")


if __name__ == "__main__":
    main()
