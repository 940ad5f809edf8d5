#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""qkdctl against the live module: every subcommand, its output read back
and compared with what pool-get (the kernel's ynl, not libqkd) reports.

    qkdctl (build/userspace/qkdctl, libqkd linked in)
       |  pool add/set/del, keys add/take, flush      -> changes
       |  show, show --json, dump, metrics            -> parsed, compared
       |  monitor, monitor --json (background)        -> events in order
       v
    qkdpool.ko  <---- ynl pool-get (the truth every output is checked against)

Errors: an unknown pool exits 1 naming the pool; bad usage exits 2; a
caller without CAP_NET_ADMIN is told "needs CAP_NET_ADMIN" and changes
nothing, while show, dump, metrics and monitor work for it.  Finally no
output of any run holds the hex of any key material added here.

QKDCTL overrides the binary (default: the repository's build/userspace).
"""

import json
import math
import os
import pty
import re
import shutil
import signal
import subprocess
import tempfile
import time

from qkdlab import REPO
from qkdlab.tap import Skip, check, diag, eq, main, test
from qkdlab.pools import NlError, clean_pools, cleanup, family, key_id, keys

QKDCTL = os.environ.get("QKDCTL", os.path.join(REPO, "build/userspace/qkdctl"))
TMP = tempfile.mkdtemp(prefix="qkdctl-test.")
os.chmod(TMP, 0o755)
# A copy nobody can run: /src may not be searchable for other users.
CTL_COPY = os.path.join(TMP, "qkdctl")

SETPRIV_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                  "--inh-caps=-all", "--bounding-set=-all", "--"]
SETPRIV_NO_NETADMIN = ["setpriv", "--inh-caps=-net_admin",
                       "--bounding-set=-net_admin", "--"]

fam = family()
OUTPUTS = []            # (argv, stdout, stderr) of every run, for the material check
MATERIALS = []          # every key material added through qkdctl
IDS = {}                # pool name -> ID, as qkdctl reported it


def ctl(*args, stdin=None, prefix=(), env=None, binary=None):
    """Run qkdctl; returns (exit status, stdout, stderr)."""
    argv = list(prefix) + [binary or QKDCTL] + [str(a) for a in args]
    e = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
         "LANG": "C"}
    if env:
        e.update(env)
    p = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                       env=e, timeout=120)
    OUTPUTS.append((argv, p.stdout, p.stderr))
    return p.returncode, p.stdout, p.stderr


def ok_run(*args, **kw):
    rc, out, err = ctl(*args, **kw)
    check(rc == 0, f"qkdctl {' '.join(map(str, args))}: exit {rc}, stderr {err!r}")
    return out, err


def truth(name):
    return fam.do("pool-get", {"name": name})


def all_truth():
    return sorted(fam.dump("pool-get", {}), key=lambda p: p["name"])


def read(*args, **kw):
    """Run a reading qkdctl command between two pool-get dumps and return
    (stdout, pools by name order).  Rates follow a 10 s window: should the
    window turn during the run, the two dumps differ and it runs again."""
    for _ in range(3):
        before = all_truth()
        out, _ = ok_run(*args, **kw)
        after = all_truth()
        if before == after:
            return out, after
    raise AssertionError("the pools kept changing while qkdctl read them")


def key_lines(prefix, start, n, dashes=False):
    """A key file for qkdctl keys add, and the keys in it."""
    ks = keys(prefix, start, n)
    lines = ["# keys " + prefix, ""]
    for i, k in enumerate(ks):
        kid = k["id"].hex()
        if dashes and i % 2:
            kid = f"{kid[:8]}-{kid[8:12]}-{kid[12:16]}-{kid[16:20]}-{kid[20:]}"
        lines.append(f"{kid} {k['material'].hex()}" + ("  # a comment" if i == 3 else ""))
        MATERIALS.append(k["material"])
    return "\n".join(lines) + "\n", ks


def write_keys(path, prefix, start, n, dashes=False):
    text, ks = key_lines(prefix, start, n, dashes)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return ks


STATS = ("level", "state", "added", "taken", "expired", "flushed", "rejected",
         "missed", "bytes-added", "bytes-taken")
STATE_NUM = {"ok": 0, "low": 1, "empty": 2}


def check_settings(p, want, what):
    for k, v in want.items():
        eq(p[k], v, f"{what}: {k}")


# ------------------------------------------------------------ the tests

@test("qkdctl: help lists every subcommand; each has --help; version")
def _():
    if not os.access(QKDCTL, os.X_OK):
        raise AssertionError(f"{QKDCTL} is not built: run make -C userspace (make vmtest does)")
    out, _ = ok_run("--help")
    subs = ("show", "dump", "metrics", "monitor", "pool", "flush", "keys")
    for s in subs:
        check(re.search(rf"^  {s} +\S", out, re.M), f"--help does not list {s}: {out!r}")
        o, _ = ok_run(s, "--help")
        check(o.startswith("usage: qkdctl " + s), f"{s} --help: {o!r}")
    for s in (("pool", "add", "--help"), ("keys", "take", "x", "--help")):
        o, _ = ok_run(*s)
        check(o.startswith("usage: "), f"{' '.join(s)}: {o!r}")
    out, _ = ok_run("--version")
    check(re.fullmatch(r"qkdctl \S+\n", out), f"--version: {out!r}")
    shutil.copy(QKDCTL, CTL_COPY)
    os.chmod(CTL_COPY, 0o755)


@test("qkdctl: no pools: show says how to make one; json, dump, metrics empty")
def _():
    clean_pools(fam)
    # The namespace's exchanges without a pool outlive pools (earlier test
    # files of this boot may have reported some): printed when not zero.
    ns = ns_truth()
    rc, out, err = ctl()
    eq(rc, 0, "qkdctl without arguments")
    if ns["fallback"] + ns["refused"]:
        shown, block = parse_show(out)
        eq(shown, {}, "show with no pools: no pool")
        check_show_ns(block, "show with no pools")
    else:
        eq(out, "", "show output with no pools")
    check("no pools" in err and "pool add" in err, f"show stderr: {err!r}")
    out, _ = ok_run("show", "--json")
    eq(json.loads(out), {"pools": [], "key_exchanges_without_pool": json_ke(ns)},
       "show --json with no pools")
    out, _ = ok_run("dump")
    eq(out, "", "dump with no pools")
    out, _ = ok_run("metrics")
    samples = [ln for ln in out.splitlines() if not ln.startswith("#")]
    eq(samples, [f'{NS_METRIC}{{reason="{k.replace("-", "_")}"}} {v}'
                 for k, v in reasons_of(ns).items()],
       "metric samples with no pools: the namespace's only")
    check(out.count("# TYPE ") > 10, f"metrics without TYPE lines: {out!r}")


@test("qkdctl pool add: settings as given and defaulted, ID reported")
def _():
    for name, args, want in (
            ("alpha", ("capacity", 100, "low", 20, "high", 60, "max-age", "1h"),
             {"key-size": 32, "capacity": 100, "low-watermark": 20,
              "high-watermark": 60, "max-age": 3600}),
            ("beta", ("key-size", 16, "capacity", 10),
             {"key-size": 16, "capacity": 10, "low-watermark": 2,
              "high-watermark": 8, "max-age": 0}),
            ("gamma", (), {"key-size": 32, "capacity": 4096,
                           "low-watermark": 1024, "high-watermark": 3072,
                           "max-age": 0})):
        out, _ = ok_run("pool", "add", name, *args)
        m = re.fullmatch(rf"created pool '{name}' \(id (\d+)\)\n", out)
        check(m, f"pool add {name}: {out!r}")
        p = truth(name)
        eq(int(m.group(1)), p["id"], f"pool add {name}: reported ID")
        check_settings(p, want, f"pool add {name}")
        for d in ("stats-out", "stats-in"):
            eq((p[d]["level"], p[d]["state"]), (0, "empty"), f"{name} {d}")
        IDS[name] = p["id"]


@test("qkdctl pool set: capacity, watermarks, max-age, rename")
def _():
    ok_run("pool", "set", "alpha", "capacity", 200, "low", 40, "high", 150,
           "max-age", "90m")
    check_settings(truth("alpha"), {"capacity": 200, "low-watermark": 40,
                                    "high-watermark": 150, "max-age": 5400},
                   "pool set alpha")
    ok_run("pool", "set", "alpha", "max-age", 0)
    eq(truth("alpha")["max-age"], 0, "max-age back to 0")
    ok_run("pool", "set", "gamma", "name", "delta", "capacity", 64, "low", 8,
           "high", 48)
    p = truth("delta")
    eq(p["id"], IDS["gamma"], "renamed pool keeps its ID")
    check_settings(p, {"capacity": 64, "low-watermark": 8, "high-watermark": 48},
                   "pool set delta")
    try:
        fam.do("pool-get", {"name": "gamma"})
        raise AssertionError("gamma still exists after the rename")
    except NlError:
        pass
    IDS["delta"] = IDS.pop("gamma")


ALPHA_OUT = []
ALPHA_IN = []


@test("qkdctl keys add --from FILE: comments, dashed IDs, counters")
def _():
    path = os.path.join(TMP, "alpha-out.keys")
    ALPHA_OUT.extend(write_keys(path, "CTLo", 0, 120, dashes=True))
    out, _ = ok_run("keys", "add", "alpha", "out", "--from", path)
    eq(out, "added 120 keys to pool 'alpha' (out)\n", "keys add output")
    s = truth("alpha")["stats-out"]
    eq((s["level"], s["added"], s["bytes-added"], s["state"]),
       (120, 120, 120 * 32, "low"), "alpha out after 120 keys (high is 150)")


@test("qkdctl keys add --from - (stdin), more than one batch")
def _():
    text, ks = key_lines("CTLi", 0, 600)
    ALPHA_IN.extend(ks)
    ok_run("pool", "set", "alpha", "capacity", 1000, "low", 100, "high", 500)
    out, _ = ok_run("keys", "add", "alpha", "in", "--from", "-", stdin=text)
    eq(out, "added 600 keys to pool 'alpha' (in)\n", "keys add from stdin")
    s = truth("alpha")["stats-in"]
    eq((s["level"], s["added"], s["state"]), (600, 600, "ok"), "alpha in")
    # beta (key size 16) and delta get a few keys so that every pool differs.
    text, _ = key_lines("CTLb", 0, 10)
    text = "\n".join(ln[:32 + 1 + 32] if ln and not ln.startswith("#") else ln
                     for ln in text.splitlines()) + "\n"
    out, _ = ok_run("keys", "add", "beta", "out", "--from", "-", stdin=text)
    eq(truth("beta")["stats-out"]["level"], 10, "beta out level")
    text, _ = key_lines("CTLd", 0, 5)
    ok_run("keys", "add", "delta", "in", "--from", "-", stdin=text)


@test("qkdctl keys take out: FIFO order, IDs only, counters")
def _():
    out, _ = ok_run("keys", "take", "alpha", "out", "--count", 3)
    eq(out.split(), [k["id"].hex() for k in ALPHA_OUT[:3]], "taken IDs, oldest first")
    out, _ = ok_run("keys", "take", "alpha", "out")
    eq(out.split(), [ALPHA_OUT[3]["id"].hex()], "one more")
    s = truth("alpha")["stats-out"]
    eq((s["level"], s["taken"], s["bytes-taken"]), (116, 4, 4 * 32), "alpha out")


@test("qkdctl keys take in KEY-ID...: by ID, then a miss")
def _():
    want = [ALPHA_IN[7]["id"].hex(), ALPHA_IN[500]["id"].hex()]
    dashed = want[1][:8] + "-" + want[1][8:12] + "-" + want[1][12:16] + "-" + \
        want[1][16:20] + "-" + want[1][20:]
    out, _ = ok_run("keys", "take", "alpha", "in", want[0], dashed)
    eq(out.split(), want, "inbound takes print the IDs")
    rc, out, err = ctl("keys", "take", "alpha", "in", want[0])
    eq(rc, 1, "taking a taken key again")
    check("no such key" in err and "alpha" in err, f"miss stderr: {err!r}")
    s = truth("alpha")["stats-in"]
    eq((s["level"], s["taken"], s["missed"]), (598, 2, 1), "alpha in")


# IKE key exchange outcomes reported with ynl (qkdctl has no command for
# it): every pool a different mix, delta none, so that no column can be
# confused with another.  (outcome, reason or None, how many).
KE_REPORTS = {"alpha": [("qkd", None, 12), ("fallback", "empty", 1), ("fallback", None, 1),
                        ("tag-mismatch", "tag-mismatch", 1), ("refused", "unknown-key", 2),
                        ("refused", "no-offer", 1)],
              "beta": [("tag-mismatch", "tag-mismatch", 3), ("tag-mismatch", None, 1),
                       ("fallback", "version", 2), ("fallback", "pre-auth-mismatch", 1),
                       ("refused", "peer-unknown", 4)],
              "delta": []}
# Exchanges that had no pool: reported without a pool ID, in the namespace.
NS_REPORTS = [("fallback", "no-pool", 3), ("refused", "no-pool", 1),
              ("fallback", "peer-unknown", 2), ("fallback", None, 1)]
REASONS = ("no-offer", "no-pool", "empty", "unknown-key", "tag-mismatch",
           "pool-error", "version", "pre-auth-mismatch", "peer-unknown")
# qkdctl's words for them in show, and its "unspecified" (no reason given)
REASON_TEXT = {"no-offer": "no key offered", "no-pool": "no pool", "empty": "pool empty",
               "unknown-key": "unknown key ID", "tag-mismatch": "tag mismatch",
               "pool-error": "pool error", "version": "unsupported version",
               "pre-auth-mismatch": "pre-auth pool mismatch",
               "peer-unknown": "peer unknown before auth", "unspecified": "unspecified"}
NS_BEFORE = {}


def ke_model(reports):
    ke = {"qkd": 0, "fallback": 0, "tag-mismatch": 0, "refused": 0,
          "reasons": {r: 0 for r in REASONS}}
    for outcome, reason, n in reports:
        if outcome == "qkd":
            ke["qkd"] += n
            continue
        ke["refused" if outcome == "refused" else "fallback"] += n
        if outcome == "tag-mismatch":
            ke["tag-mismatch"] += n
        if reason:
            ke["reasons"][reason] += n
    return ke


def ns_truth():
    return fam.do("ke-stats-get", {})["ke-stats"]


def reasons_of(ke):
    """The reasons as qkdctl prints them: every reason and unspecified."""
    r = dict(ke["reasons"])
    r["unspecified"] = ke["fallback"] + ke["refused"] - sum(ke["reasons"].values())
    return r


def outcomes_of(ke):
    return {k: ke[k] for k in KE_KEYS}


@test("ke-report through ynl, with reasons and without a pool: the counters qkdctl will show")
def _():
    NS_BEFORE.update(ns_truth())
    for name, reps in KE_REPORTS.items():
        pid = IDS[name]
        for outcome, reason, n in reps:
            for _ in range(n):
                attrs = {"id": pid, "ke-outcome": outcome}
                if reason:
                    attrs["ke-reason"] = reason
                fam.do("ke-report", attrs)
    for outcome, reason, n in NS_REPORTS:
        for _ in range(n):
            attrs = {"ke-outcome": outcome}
            if reason:
                attrs["ke-reason"] = reason
            fam.do("ke-report", attrs)
    for name, reps in KE_REPORTS.items():
        eq(truth(name)["ke-stats"], ke_model(reps), f"{name} ke-stats")
    eq(outcomes_of(truth("alpha")["ke-stats"]),
       {"qkd": 12, "fallback": 3, "tag-mismatch": 1, "refused": 3}, "alpha ke-stats")
    eq(reasons_of(truth("beta")["ke-stats"]),
       {"no-offer": 0, "no-pool": 0, "empty": 0, "unknown-key": 0, "tag-mismatch": 3,
        "pool-error": 0, "version": 2, "pre-auth-mismatch": 1, "peer-unknown": 4,
        "unspecified": 1}, "beta reasons")
    ns = ns_truth()
    d = ke_model(NS_REPORTS)
    eq({k: ns[k] - NS_BEFORE[k] for k in KE_KEYS}, outcomes_of(d), "namespace ke-stats")
    eq({r: ns["reasons"][r] - NS_BEFORE["reasons"][r] for r in REASONS}, d["reasons"],
       "namespace reasons")


KE_LINE = re.compile(r"  key exchanges: (\d+) qkd, (\d+) fallback \((\d+) tag mismatch\), "
                     r"(\d+) refused")
KE_KEYS = ("qkd", "fallback", "tag-mismatch", "refused")
NS_LINE = re.compile(r"key exchanges with no pool: (\d+)")
REASONS_PREFIX = "  without QKD by reason: "


def parse_reasons(line):
    """[(reason, count)] in printed order from a "without QKD by reason" line."""
    check(line.startswith(REASONS_PREFIX), f"reasons line {line!r}")
    words = {v: k for k, v in REASON_TEXT.items()}
    got = []
    for item in line[len(REASONS_PREFIX):].split(", "):
        n, _, text = item.partition(" ")
        check(n.isdigit() and text in words, f"reason item {item!r} in {line!r}")
        got.append((words[text], int(n)))
    return got


def shown_reasons(ke):
    """What show must print: the reasons that are not zero, in enum order."""
    return [(k, v) for k, v in reasons_of(ke).items() if v]


SHOW_HEAD = ["dir", "level", "state", "fill/s", "burn/s", "empty in", "added",
             "taken", "expired", "flushed", "rejected", "missed"]


def parse_show(out):
    """({name: {"id", "settings", "out": {...}, "in": {...}, "ke", "reasons"}},
    namespace block {"total", "reasons"} or None) from show."""
    pools = {}
    ns = None
    blocks = out.strip("\n").split("\n\n") if out.strip("\n") else []
    if blocks and NS_LINE.fullmatch(blocks[-1].split("\n")[0]):
        lines = blocks.pop().split("\n")
        check(len(lines) in (1, 2), f"namespace block {lines!r}")
        ns = {"total": int(NS_LINE.fullmatch(lines[0]).group(1)),
              "reasons": parse_reasons(lines[1]) if len(lines) == 2 else []}
    for block in blocks:
        lines = block.split("\n")
        m = re.fullmatch(r"pool: (\S+) \(id (\d+)\)", lines[0])
        check(m, f"show header: {lines[0]!r}")
        m2 = re.fullmatch(r"  key size (\d+) B, capacity (\d+), watermarks low (\d+) "
                          r"high (\d+), max age (\S+)", lines[1])
        check(m2, f"show settings line: {lines[1]!r}")
        table = lines[2:5]
        check(len(lines) in (7, 8),
              f"show lines of {m.group(1)}: settings, table, key exchanges, reasons, "
              f"qkd-linkd: {lines!r}")
        # no qkd-linkd fills these pools (test_linkd.py checks one that does)
        eq(lines.pop(), "  qkd-linkd: -", f"show {m.group(1)}: qkd-linkd's line")
        ke = KE_LINE.fullmatch(lines[5])
        check(ke, f"show key exchange line: {lines[5]!r}")
        check(len({len(t) for t in table}) == 1,
              f"show table not aligned: {table!r}")
        eq(re.split(r" {2,}", table[0].strip()), SHOW_HEAD, "show column titles")
        p = {"id": int(m.group(2)), "settings": tuple(int(x) for x in m2.groups()[:4]),
             "max-age": m2.group(5),
             "ke": dict(zip(KE_KEYS, (int(x) for x in ke.groups()))),
             "reasons": parse_reasons(lines[6]) if len(lines) == 7 else []}
        for row in table[1:]:
            cells = re.split(r" {2,}", row.strip())
            eq(len(cells), len(SHOW_HEAD), f"show row {row!r}")
            p[cells[0]] = dict(zip(SHOW_HEAD, cells))
        pools[m.group(1)] = p
    return pools, ns


def check_show_ns(ns, who="show"):
    t = ns_truth()
    total = t["fallback"] + t["refused"]
    check(total > 0, "the namespace has exchanges without a pool")
    check(ns is not None, f"{who}: no 'key exchanges with no pool' block")
    eq(ns, {"total": total, "reasons": shown_reasons(t)}, f"{who}: namespace block")


def check_show_pool(p, t):
    eq(p["id"], t["id"], "show: id")
    eq(p["settings"], (t["key-size"], t["capacity"], t["low-watermark"],
                       t["high-watermark"]), f"show {t['name']}: settings")
    eq(p["max-age"], "never" if not t["max-age"] else p["max-age"], "max age")
    eq(p["ke"], outcomes_of(t["ke-stats"]), f"show {t['name']}: key exchanges")
    eq(p["reasons"], shown_reasons(t["ke-stats"]), f"show {t['name']}: reasons")
    for d in ("out", "in"):
        s, r = t["stats-" + d], p[d]
        eq(r["level"], f"{s['level']}/{t['capacity']}", f"show {t['name']} {d} level")
        eq(r["state"], s["state"], f"show {t['name']} {d} state")
        for k in ("added", "taken", "expired", "flushed", "rejected", "missed"):
            eq(int(r[k]), s[k], f"show {t['name']} {d} {k}")
        for k in ("fill/s", "burn/s"):
            check(re.fullmatch(r"\d+\.\d{3}", r[k]), f"show rate {k}: {r[k]!r}")
        check(r["empty in"] == "-" or re.fullmatch(r"\d+[smhd](\d\d[smh])?", r["empty in"]),
              f"show empty in: {r['empty in']!r}")
        eq(r["empty in"] == "-", "time-to-empty" not in s,
           f"show {t['name']} {d}: '-' exactly when not draining")


@test("qkdctl show and show POOL: aligned, values equal pool-get, no colour on a pipe")
def _():
    out, ts = read("show")
    check("\x1b" not in out, "colour escapes in show to a pipe")
    shown, ns = parse_show(out)
    eq(list(shown), [t["name"] for t in ts], "show: pools in name order")
    for t in ts:
        check_show_pool(shown[t["name"]], t)
    check_show_ns(ns)
    out, ts = read("show", "alpha")
    one, ns = parse_show(out)
    eq(ns, None, "show alpha: no namespace block")
    eq(list(one), ["alpha"], "show alpha: one pool")
    check_show_pool(one["alpha"], [t for t in ts if t["name"] == "alpha"][0])
    eq(one["alpha"]["in"]["state"], "ok", "alpha in state")
    eq(one["alpha"]["out"]["state"], "low", "alpha out state")
    eq(shown["beta"]["in"]["state"], "empty", "beta in state")
    eq(shown["alpha"]["ke"], {"qkd": 12, "fallback": 3, "tag-mismatch": 1, "refused": 3},
       "alpha key exchanges")
    eq(shown["alpha"]["reasons"],
       [("no-offer", 1), ("empty", 1), ("unknown-key", 2), ("tag-mismatch", 1),
        ("unspecified", 1)], "alpha reasons, in enum order")
    check("  without QKD by reason: 1 no key offered, 1 pool empty, 2 unknown key ID, "
          "1 tag mismatch, 1 unspecified\n" in out, f"alpha reasons line in {out!r}")
    eq([ln for ln in out.split("\n") if ln.startswith("pool: delta")], [], "one pool only")


@test("qkdctl show: colour only on a terminal, NO_COLOR honoured")
def _():
    def on_pty(env):
        master, slave = pty.openpty()
        p = subprocess.Popen([QKDCTL, "show", "alpha"], stdout=slave,
                             stderr=subprocess.DEVNULL, env=env)
        os.close(slave)
        data = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        os.close(master)
        eq(p.wait(timeout=60), 0, "show on a pty")
        text = data.decode()
        OUTPUTS.append((["show on a pty"], text, ""))
        return text
    base = {"PATH": os.environ["PATH"], "TERM": "xterm"}
    check("\x1b[" in on_pty(base), "no colour on a terminal")
    plain = on_pty(dict(base, NO_COLOR="1"))
    check("\x1b" not in plain and "pool: alpha" in plain, f"NO_COLOR: {plain!r}")


JSON_DIR = {"level": "level", "state": "state", "added": "added", "taken": "taken",
            "expired": "expired", "flushed": "flushed", "rejected": "rejected",
            "missed": "missed", "bytes_added": "bytes-added",
            "bytes_taken": "bytes-taken"}


def check_json_pool(j, t):
    for jk, tk in (("id", "id"), ("name", "name"), ("key_size", "key-size"),
                   ("capacity", "capacity"), ("low_watermark", "low-watermark"),
                   ("high_watermark", "high-watermark"), ("max_age", "max-age")):
        eq(j[jk], t[tk], f"json {t['name']}: {jk}")
    for d in ("out", "in"):
        jd, s = j[d], t["stats-" + d]
        eq(set(jd), set(JSON_DIR) | {"fill_rate_per_1000s", "burn_rate_per_1000s",
                                     "time_to_empty"}, f"json {t['name']} {d} fields")
        for jk, tk in JSON_DIR.items():
            eq(jd[jk], s[tk], f"json {t['name']} {d} {jk}")
        for k in ("fill_rate_per_1000s", "burn_rate_per_1000s"):
            check(isinstance(jd[k], int) and jd[k] >= 0, f"json {k}: {jd[k]!r}")
        tte = jd["time_to_empty"]
        check(tte is None or (isinstance(tte, int) and tte >= 0), f"time_to_empty {tte!r}")
        eq(tte is None, "time-to-empty" not in s, f"json {t['name']} {d}: null when not draining")
    eq(j["key_exchanges"], json_ke(t["ke-stats"]), f"json {t['name']}: key_exchanges")
    eq(j["linkd"], None, f"json {t['name']}: no qkd-linkd fills it")


def json_ke(ke):
    """The key_exchanges object qkdctl --json prints for a ke-stats nest."""
    j = {k.replace("-", "_"): v for k, v in outcomes_of(ke).items()}
    j["reasons"] = {k.replace("-", "_"): v for k, v in reasons_of(ke).items()}
    return j


@test("qkdctl show --json [POOL]: valid JSON, every field equal to pool-get")
def _():
    out, ts = read("show", "--json")
    doc = json.loads(out)
    eq(list(doc), ["pools", "key_exchanges_without_pool"], "json top level")
    eq([p["name"] for p in doc["pools"]], [t["name"] for t in ts], "json pools")
    for j, t in zip(doc["pools"], ts):
        check_json_pool(j, t)
    eq(doc["key_exchanges_without_pool"], json_ke(ns_truth()),
       "json key_exchanges_without_pool")
    eq(doc["pools"][0]["key_exchanges"]["reasons"],
       {"no_offer": 1, "no_pool": 0, "empty": 1, "unknown_key": 2, "tag_mismatch": 1,
        "pool_error": 0, "version": 0, "pre_auth_mismatch": 0, "peer_unknown": 0,
        "unspecified": 1}, "json alpha reasons")
    out, ts = read("show", "--json", "beta")
    doc = json.loads(out)
    eq(doc["key_exchanges_without_pool"], None, "show --json beta: no namespace counters")
    eq(len(doc["pools"]), 1, "show --json beta")
    check_json_pool(doc["pools"][0], [t for t in ts if t["name"] == "beta"][0])


DUMP_COLS = ["name", "id", "direction", "key-size", "capacity", "low-watermark",
             "high-watermark", "max-age", "level", "state", "added", "taken",
             "expired", "flushed", "rejected", "missed", "bytes-added",
             "bytes-taken", "fill-rate", "burn-rate", "time-to-empty",
             "ke-qkd", "ke-fallback", "ke-tag-mismatch", "ke-refused"] + \
    ["reason-" + r for r in REASONS] + ["reason-unspecified"]


def check_dump(out, ts):
    lines = out.split("\n")
    eq(lines[-1], "", "dump ends with a newline")
    lines = lines[:-1]
    eq(len(lines), 2 * len(ts), "dump: two lines per pool")
    for i, ln in enumerate(lines):
        cols = ln.split("\t")
        eq(len(cols), 35, f"dump columns of {ln!r}")
        row = dict(zip(DUMP_COLS, cols))
        t = ts[i // 2]
        d = ("out", "in")[i % 2]
        s = t["stats-" + d]
        eq(row["direction"], d, "dump: out then in")
        for k in ("name", "id", "key-size", "capacity", "low-watermark",
                  "high-watermark", "max-age"):
            eq(row[k], str(t[k]), f"dump {t['name']} {k}")
        for k in STATS:
            eq(row[k], str(s[k]), f"dump {t['name']} {d} {k}")
        for k in ("fill-rate", "burn-rate"):
            check(row[k].isdigit(), f"dump {k}: {row[k]!r}")
        tte = row["time-to-empty"]
        check(tte == "-" or tte.isdigit(), f"dump time-to-empty {tte!r}")
        eq(tte == "-", "time-to-empty" not in s, f"dump {t['name']} {d}: '-' when not draining")
        for k in KE_KEYS:       # the pool's, on both of its lines
            eq(row["ke-" + k], str(t["ke-stats"][k]), f"dump {t['name']} {d} ke {k}")
        for k, v in reasons_of(t["ke-stats"]).items():
            eq(row["reason-" + k], str(v), f"dump {t['name']} {d} reason {k}")


@test("qkdctl dump [POOL]: 35 tab-separated columns equal to pool-get")
def _():
    out, ts = read("dump")
    check_dump(out, ts)
    alpha = [ln.split("\t") for ln in out.split("\n") if ln.startswith("alpha\t")]
    eq([c[21:25] for c in alpha], [["12", "3", "1", "3"]] * 2, "alpha key exchange columns")
    eq([c[25:] for c in alpha], [["1", "0", "1", "2", "1", "0", "0", "0", "0", "1"]] * 2,
       "alpha reason columns 26-35")
    out, ts = read("dump", "delta")
    check_dump(out, [t for t in ts if t["name"] == "delta"])


SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-z_]+="(?:[^"\\]|\\.)*",?)*)\} (\S+)')
LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')
KE_METRIC = "qkd_pool_key_exchanges_total"
REASON_METRIC = "qkd_pool_key_exchanges_without_qkd_total"
NS_METRIC = "qkd_key_exchanges_without_pool_total"
# The labels of each family: the key of its samples, in this order.
METRIC_LABELS = {KE_METRIC: ("pool", "outcome"), REASON_METRIC: ("pool", "reason"),
                 NS_METRIC: ("reason",)}
KE_FAMILIES = set(METRIC_LABELS)
# qkd-linkd's health: HELP and TYPE always, samples only for pools a
# qkd-linkd fills (none here; test_linkd.py checks them)
LINKD_FAMILIES = {"qkd_linkd_up", "qkd_linkd_status_age_seconds", "qkd_linkd_kme_up",
                  "qkd_linkd_peer_connected", "qkd_linkd_last_refill_timestamp_seconds",
                  "qkd_linkd_last_error_timestamp_seconds", "qkd_linkd_kme_errors_total",
                  "qkd_linkd_peer_errors_total",
                  # the relay's (relay.rst, "Operations")
                  "qkd_linkd_relay_share_percent", "qkd_linkd_relay_reserve_keys",
                  "qkd_linkd_relay_bucket_keys", "qkd_linkd_relay_link_keys_taken_total",
                  "qkd_linkd_relay_path_info", "qkd_linkd_relay_bottleneck_rate_bits_per_second",
                  "qkd_linkd_relay_path_changes_total",
                  "qkd_linkd_relay_path_change_timestamp_seconds",
                  "qkd_linkd_relay_transfers_total", "qkd_linkd_relay_keys_total",
                  "qkd_linkd_relay_last_error_timestamp_seconds"}
METRIC_TRUTH = {
    "qkd_pool_keys": lambda t, s: s["level"],
    "qkd_pool_capacity_keys": lambda t, s: t["capacity"],
    "qkd_pool_low_watermark_keys": lambda t, s: t["low-watermark"],
    "qkd_pool_high_watermark_keys": lambda t, s: t["high-watermark"],
    "qkd_pool_key_size_bytes": lambda t, s: t["key-size"],
    "qkd_pool_max_age_seconds": lambda t, s: t["max-age"],
    "qkd_pool_state": lambda t, s: STATE_NUM[s["state"]],
    "qkd_pool_keys_added_total": lambda t, s: s["added"],
    "qkd_pool_keys_taken_total": lambda t, s: s["taken"],
    "qkd_pool_keys_expired_total": lambda t, s: s["expired"],
    "qkd_pool_keys_flushed_total": lambda t, s: s["flushed"],
    "qkd_pool_keys_rejected_total": lambda t, s: s["rejected"],
    "qkd_pool_takes_missed_total": lambda t, s: s["missed"],
    "qkd_pool_bytes_added_total": lambda t, s: s["bytes-added"],
    "qkd_pool_bytes_taken_total": lambda t, s: s["bytes-taken"],
    # Rates move with the clock: checked for form, not value.
    "qkd_pool_fill_rate_keys_per_second": None,
    "qkd_pool_burn_rate_keys_per_second": None,
    "qkd_pool_time_to_empty_seconds": None,
}


def parse_metrics(out):
    """{metric: {"help", "type", "samples": {(pool, dir): float}}}, checking
    the exposition format line by line."""
    fams = {}
    cur = None
    check(out.endswith("\n"), "metrics ends with a newline")
    for ln in out.split("\n")[:-1]:
        if ln.startswith("# HELP "):
            name, _, text = ln[7:].partition(" ")
            check(name not in fams, f"metric {name} declared twice")
            check(text.strip(), f"HELP of {name} is empty")
            cur = fams[name] = {"help": text, "type": None, "samples": {}}
            continue
        if ln.startswith("# TYPE "):
            name, _, typ = ln[7:].partition(" ")
            check(cur is not None and name in fams and fams[name] is cur,
                  f"TYPE {name} not right after its HELP")
            check(cur["type"] is None and not cur["samples"], f"TYPE of {name} misplaced")
            check(typ in ("gauge", "counter"), f"{name}: type {typ!r}")
            check(typ != "counter" or name.endswith("_total"),
                  f"counter {name} does not end in _total")
            cur["type"] = typ
            continue
        check(not ln.startswith("#"), f"unexpected comment {ln!r}")
        m = SAMPLE.fullmatch(ln)
        check(m, f"malformed sample line {ln!r}")
        name, labels, val = m.groups()
        lab = LABEL.findall(labels)
        want = METRIC_LABELS.get(name, ("pool", "direction"))
        eq(tuple(k for k, _ in lab), want, f"{name}: labels of {ln!r}")
        if "direction" in want:
            check(lab[1][1] in ("out", "in"), f"direction in {ln!r}")
        if "outcome" in want:
            check(lab[1][1] in ("qkd", "fallback", "tag_mismatch", "refused"),
                  f"outcome in {ln!r}")
        if "reason" in want:
            check(lab[-1][1] in [r.replace("-", "_") for r in REASON_TEXT],
                  f"reason in {ln!r}")
        check(cur is not None and name in fams and fams[name] is cur and cur["type"],
              f"sample of {name} outside its HELP/TYPE block")
        key = tuple(v for _, v in lab)
        check(key not in cur["samples"], f"{name}{key} twice")
        v = float(val)          # accepts +Inf
        check(val == "+Inf" or re.fullmatch(r"\d+(\.\d+)?", val), f"value {val!r}")
        cur["samples"][key] = v
    return fams


@test("qkdctl metrics: Prometheus text parsed back, one series per pool and direction, values equal pool-get")
def _():
    out, ts = read("metrics")
    fams = parse_metrics(out)
    eq(set(fams), set(METRIC_TRUTH) | KE_FAMILIES | LINKD_FAMILIES, "metric names")
    for name in LINKD_FAMILIES:
        eq(fams.pop(name)["samples"], {}, f"{name}: no series without a qkd-linkd")
    ke = fams.pop(KE_METRIC)
    eq(ke["type"], "counter", f"{KE_METRIC} type")
    eq(ke["samples"], {(t["name"], k.replace("-", "_")): float(v)
                       for t in ts for k, v in outcomes_of(t["ke-stats"]).items()},
       f"{KE_METRIC}: one series per pool and outcome, equal to pool-get")
    rs = fams.pop(REASON_METRIC)
    eq(rs["type"], "counter", f"{REASON_METRIC} type")
    eq(rs["samples"], {(t["name"], k.replace("-", "_")): float(v)
                       for t in ts for k, v in reasons_of(t["ke-stats"]).items()},
       f"{REASON_METRIC}: one series per pool and reason, equal to pool-get")
    eq(rs["samples"][("alpha", "unknown_key")], 2.0, "alpha unknown_key")
    eq(sum(v for (p, _), v in rs["samples"].items() if p == "beta"), 11.0,
       "beta: the reasons add up to fallback + refused")
    nsf = fams.pop(NS_METRIC)
    eq(nsf["type"], "counter", f"{NS_METRIC} type")
    eq(nsf["samples"], {(k.replace("-", "_"),): float(v)
                        for k, v in reasons_of(ns_truth()).items()},
       f"{NS_METRIC}: one series per reason, equal to ke-stats-get")
    want_keys = {(t["name"], d) for t in ts for d in ("out", "in")}
    for name, f in fams.items():
        eq(set(f["samples"]), want_keys, f"{name}: series")
        fn = METRIC_TRUTH[name]
        for t in ts:
            for d in ("out", "in"):
                v = f["samples"][(t["name"], d)]
                s = t["stats-" + d]
                if fn:
                    eq(v, float(fn(t, s)), f"{name}{{{t['name']},{d}}}")
                elif name == "qkd_pool_time_to_empty_seconds":
                    eq(math.isinf(v), "time-to-empty" not in s,
                       f"{name}{{{t['name']},{d}}} +Inf when not draining")
                else:
                    check(v >= 0, f"{name}: {v}")
    eq(fams["qkd_pool_keys"]["samples"][("alpha", "in")], 598.0, "alpha in keys")


@test("qkdctl flush POOL [in|out]: counts, counters")
def _():
    out, _ = ok_run("flush", "alpha", "in")
    eq(out, "flushed 598 keys from pool 'alpha' (in)\n", "flush in")
    s = truth("alpha")
    eq((s["stats-in"]["level"], s["stats-in"]["flushed"], s["stats-in"]["state"]),
       (0, 598, "empty"), "alpha in after flush")
    eq(s["stats-out"]["level"], 116, "flush in leaves out alone")
    out, _ = ok_run("flush", "alpha")
    check(re.fullmatch(r"flushed 116 keys from pool 'alpha' \(\S+\)\n", out),
          f"flush both: {out!r}")
    s = truth("alpha")
    eq((s["stats-out"]["level"], s["stats-out"]["flushed"]), (0, 116), "alpha out")


_monitors = []


def start_monitor(*args, prefix=()):
    _monitors.append(None)
    path = os.path.join(TMP, f"monitor-{len(_monitors)}.out")
    f = open(path, "w")
    p = subprocess.Popen(list(prefix) + [QKDCTL if not prefix else CTL_COPY,
                                         "monitor", *args],
                         stdout=f, stderr=subprocess.STDOUT, env={"PATH": os.environ["PATH"]})
    f.close()
    return p, path


def wait_lines(path, pred, n, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        with open(path) as f:
            lines = [ln for ln in f.read().splitlines() if pred(ln)]
        if len(lines) >= n or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def stop_monitor(p, path, argv):
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        rc = "killed: SIGTERM did not stop it"
    with open(path) as f:
        OUTPUTS.append((argv, f.read(), ""))
    return rc


def wait_subscribed(p):
    from qkdlab.pools import wait_subscribed as ws
    check(ws(p.pid, 30), "monitor did not subscribe within 30 s")


@test("qkdctl monitor and monitor --json: refilled, low, empty (once per drain), refilled, removed")
@cleanup("mon")
def _():
    ok_run("pool", "add", "mon", "capacity", 20, "low", 5, "high", 15)
    pid = truth("mon")["id"]
    text_mon, text_path = start_monitor()
    json_mon, json_path = start_monitor("--json")
    try:
        wait_subscribed(text_mon)
        wait_subscribed(json_mon)
        kf = os.path.join(TMP, "mon.keys")
        write_keys(kf, "MONa", 0, 20)
        ok_run("keys", "add", "mon", "out", "--from", kf)           # 0 -> 20: refilled
        ok_run("keys", "take", "mon", "out", "--count", 16)         # -> 4: low
        ok_run("keys", "take", "mon", "out", "--count", 4)          # -> 0: empty
        write_keys(kf, "MONb", 0, 3)
        ok_run("keys", "add", "mon", "out", "--from", kf)           # -> 3: silent
        eq(truth("mon")["stats-out"]["state"], "low", "mon out at 3")
        ok_run("keys", "take", "mon", "out", "--count", 3)          # -> 0: silent
        eq(truth("mon")["stats-out"]["state"], "empty", "mon out drained again")
        write_keys(kf, "MONc", 0, 15)
        ok_run("keys", "add", "mon", "out", "--from", kf)           # -> 15: refilled
        ok_run("pool", "del", "mon")                                # removed, 15 keys
        want = [f"refilled pool=mon id={pid} direction=out count=20",
                f"low pool=mon id={pid} direction=out count=4",
                f"empty pool=mon id={pid} direction=out count=0",
                f"refilled pool=mon id={pid} direction=out count=15",
                f"removed pool=mon id={pid} count=15"]
        got = wait_lines(text_path, lambda ln: "pool=mon " in ln, len(want))
        jgot = wait_lines(json_path, lambda ln: '"pool":"mon"' in ln, len(want))
    finally:
        rc_t = stop_monitor(text_mon, text_path, ["monitor"])
        rc_j = stop_monitor(json_mon, json_path, ["monitor", "--json"])
    time.sleep(1)
    eq(got, want, "monitor lines")
    objs = [json.loads(ln) for ln in jgot]
    jwant = []
    for w in want:
        f = dict(x.split("=") for x in w.split()[1:])
        jwant.append({"event": w.split()[0], "id": pid, "pool": "mon",
                      "direction": f.get("direction"), "count": int(f["count"])})
    eq(objs, jwant, "monitor --json objects")
    eq((rc_t, rc_j), (0, 0), "monitors exit 0 on SIGTERM")
    with open(text_path) as f:
        others = [ln for ln in f.read().splitlines() if "pool=mon " not in ln]
    eq(others, [], "monitor printed nothing else")


@test("qkdctl errors: unknown pool -> exit 1 naming it")
def _():
    kf = os.path.join(TMP, "unknown.keys")
    write_keys(kf, "UNKN", 0, 1)
    for args in (("show", "nosuch"), ("show", "--json", "nosuch"), ("dump", "nosuch"),
                 ("pool", "set", "nosuch", "capacity", 5), ("pool", "del", "nosuch"),
                 ("flush", "nosuch"), ("keys", "add", "nosuch", "out", "--from", kf),
                 ("keys", "take", "nosuch", "out"),
                 ("keys", "take", "nosuch", "in", "00" * 16)):
        rc, out, err = ctl(*args)
        eq(rc, 1, f"qkdctl {' '.join(map(str, args))}: exit")
        check("nosuch" in err and ("not found" in err or "no pool" in err),
              f"qkdctl {' '.join(map(str, args))}: stderr {err!r}")
        check(err.startswith("qkdctl: ") and err.endswith("\n") and err.count("\n") == 1,
              f"one-line message: {err!r}")
        eq(out, "", f"qkdctl {' '.join(map(str, args))}: stdout")


@test("qkdctl errors: kernel refusals exit 1 with the reason")
def _():
    before = all_truth()
    cases = [
        (("pool", "add", "alpha"), ("exists", "pool set")),
        (("pool", "add", "bad", "capacity", 10, "low", 8, "high", 4), ("watermarks",)),
        (("pool", "set", "beta", "capacity", 9), ("below",)),
        (("keys", "take", "alpha", "out"), ("no such key",)),
    ]
    for args, words in cases:
        rc, out, err = ctl(*args)
        eq(rc, 1, f"qkdctl {' '.join(map(str, args))}: exit")
        for w in words:
            check(w in err, f"qkdctl {' '.join(map(str, args))}: {err!r} lacks {w!r}")
    kf = os.path.join(TMP, "bad.keys")
    with open(kf, "w") as f:
        f.write("00112233445566778899aabbccddeeff " + "00" * 16 + "\n")
    rc, _, err = ctl("keys", "add", "alpha", "out", "--from", kf)
    check(rc == 1 and "line 1" in err and "key size" in err, f"short material: {rc} {err!r}")
    with open(kf, "w") as f:
        f.write("zz112233445566778899aabbccddeeff " + "00" * 32 + "\n")
    rc, _, err = ctl("keys", "add", "alpha", "out", "--from", kf)
    check(rc == 1 and "line 1" in err, f"bad ID: {rc} {err!r}")
    rc, _, err = ctl("keys", "add", "alpha", "out", "--from", os.path.join(TMP, "none"))
    check(rc == 1 and "cannot open" in err, f"missing file: {rc} {err!r}")
    write_keys(kf, "FULL", 0, 60)
    rc, _, err = ctl("keys", "add", "delta", "in", "--from", kf)
    check(rc == 1 and "do not fit" in err, f"over capacity: {rc} {err!r}")
    write_keys(kf, "DUPE", 0, 1)
    ok_run("keys", "add", "delta", "out", "--from", kf)
    rc, _, err = ctl("keys", "add", "delta", "in", "--from", kf)
    check(rc == 1 and "already" in err, f"duplicate ID: {rc} {err!r}")
    ok_run("keys", "take", "delta", "out")
    after = all_truth()
    for b, a in zip(before, after):
        for d in ("stats-out", "stats-in"):
            eq(a[d]["level"], b[d]["level"], f"{a['name']} {d} level after refusals")


@test("qkdctl errors: bad usage -> exit 2 with a usage line or a reason")
def _():
    cases = [("bogus",), ("show", "--bogus"), ("show", "a", "b"), ("dump", "-x"),
             ("dump", "a", "b"), ("metrics", "extra"), ("monitor", "--bogus"),
             ("pool",), ("pool", "add"), ("pool", "frob", "x"),
             ("pool", "add", "x", "capacity"), ("pool", "add", "x", "capacity", "abc"),
             ("pool", "add", "x", "colour", "red"), ("pool", "add", "has space"),
             ("pool", "add", "x", "name", "y"), ("pool", "set", "alpha"),
             ("pool", "del", "a", "b"),
             ("flush",), ("flush", "alpha", "sideways"), ("keys",), ("keys", "frob"),
             ("keys", "add", "alpha", "out"), ("keys", "add", "alpha", "up", "--from", "-"),
             ("keys", "take", "alpha", "sideways"), ("keys", "take", "alpha", "in"),
             ("keys", "take", "alpha", "in", "nothex"),
             ("keys", "take", "alpha", "out", "--count", 0),
             ("keys", "take", "alpha", "out", "extra")]
    before = all_truth()
    for args in cases:
        rc, out, err = ctl(*args)
        eq(rc, 2, f"qkdctl {' '.join(map(str, args))}: exit")
        check(err.strip() and ("usage:" in err or err.startswith("qkdctl: ")),
              f"qkdctl {' '.join(map(str, args))}: stderr {err!r}")
        eq(out, "", f"qkdctl {' '.join(map(str, args))}: stdout")
    eq([(t["name"], t["capacity"]) for t in all_truth()],
       [(t["name"], t["capacity"]) for t in before], "pools after usage errors")


def check_unprivileged(prefix, who):
    kf = os.path.join(TMP, "perm.keys")
    write_keys(kf, "PRM" + who[0], 0, 2)
    before = [dict(t) for t in all_truth()]
    for args in (("pool", "add", "intruder"), ("pool", "set", "alpha", "capacity", 7),
                 ("pool", "del", "beta"), ("flush", "beta"), ("flush", "beta", "out"),
                 ("keys", "add", "alpha", "out", "--from", kf),
                 ("keys", "take", "beta", "out"),
                 ("keys", "take", "delta", "in", key_id("CTLd", 0).hex())):
        rc, out, err = ctl(*args, prefix=prefix, binary=CTL_COPY)
        eq(rc, 1, f"{who}: qkdctl {' '.join(map(str, args))}: exit")
        check("needs CAP_NET_ADMIN" in err,
              f"{who}: qkdctl {' '.join(map(str, args))}: stderr {err!r}")
        eq(out, "", f"{who}: qkdctl {' '.join(map(str, args))}: stdout")
    after = all_truth()
    eq([(t["name"], t["capacity"], t["stats-out"]["level"], t["stats-in"]["level"],
         t["stats-out"]["taken"]) for t in after],
       [(t["name"], t["capacity"], t["stats-out"]["level"], t["stats-in"]["level"],
         t["stats-out"]["taken"]) for t in before], f"{who}: pools unchanged")
    # Reading works, and reads the same as root.
    out, ts = read("show", prefix=prefix, binary=CTL_COPY)
    shown, ns = parse_show(out)
    eq(list(shown), [t["name"] for t in ts], f"{who}: show")
    for t in ts:
        check_show_pool(shown[t["name"]], t)
    check_show_ns(ns, f"{who}: show")
    out, ts = read("show", "--json", prefix=prefix, binary=CTL_COPY)
    eq(len(json.loads(out)["pools"]), len(ts), f"{who}: show --json pools")
    for j, t in zip(json.loads(out)["pools"], ts):
        check_json_pool(j, t)
    out, ts = read("dump", prefix=prefix, binary=CTL_COPY)
    check_dump(out, ts)
    out, _ = read("metrics", prefix=prefix, binary=CTL_COPY)
    eq(set(parse_metrics(out)), set(METRIC_TRUTH) | KE_FAMILIES | LINKD_FAMILIES,
       f"{who}: metrics")


@test("qkdctl as nobody: changes refused with 'needs CAP_NET_ADMIN', show/dump/metrics/monitor work")
@cleanup("gone", "intruder")
def _():
    check_unprivileged(SETPRIV_NOBODY, "nobody")
    mon, path = start_monitor("--json", prefix=SETPRIV_NOBODY)
    try:
        wait_subscribed(mon)
        ok_run("pool", "add", "gone", "capacity", 4, "low", 1, "high", 2)
        ok_run("pool", "del", "gone")
        got = wait_lines(path, lambda ln: '"pool":"gone"' in ln, 1)
    finally:
        stop_monitor(mon, path, ["monitor --json as nobody"])
    eq(len(got), 1, "nobody's monitor saw the removal")
    eq(json.loads(got[0])["event"], "removed", "event")


@test("qkdctl as root without CAP_NET_ADMIN: changes refused, reading works")
def _():
    check_unprivileged(SETPRIV_NO_NETADMIN, "root-without-net_admin")


@test("qkdctl pool del: pools gone, removed counted")
def _():
    for name in ("alpha", "beta", "delta"):
        out, err = ok_run("pool", "del", name)
    eq(all_truth(), [], "no pool left")
    out, _ = ok_run("show", "--json")
    eq(json.loads(out), {"pools": [], "key_exchanges_without_pool": json_ke(ns_truth())},
       "show --json after deleting all")
    # The namespace's counters outlive the pools: show prints them alone.
    out, _ = ok_run("show")
    shown, ns = parse_show(out)
    eq(shown, {}, "show after deleting all: no pool")
    check_show_ns(ns, "show without pools")


@test("qkdctl without the module: exit 1, says to modprobe qkdpool")
def _():
    ko = os.environ.get("QKD_KO")
    if not ko:
        raise Skip("QKD_KO not set (run.sh sets it)")
    r = subprocess.run(["rmmod", "qkdpool"], capture_output=True, text=True)
    check(r.returncode == 0, f"rmmod: {r.stderr}")
    try:
        for args in (("show",), ("metrics",), ("pool", "add", "x")):
            rc, out, err = ctl(*args)
            eq(rc, 1, f"qkdctl {' '.join(args)} without the module")
            check("module not loaded" in err and "modprobe qkdpool" in err, f"stderr {err!r}")
    finally:
        r = subprocess.run(["insmod", ko], capture_output=True, text=True)
        from qkdlab.pools import reset_family_cache
        reset_family_cache()
    check(r.returncode == 0, f"insmod: {r.stderr}")
    global fam
    fam = family()


@test("qkdctl: no key material in any output")
def _():
    check(len(MATERIALS) > 700, f"only {len(MATERIALS)} materials added")
    hexes = set()
    for m in MATERIALS:
        hexes.add(m.hex()[:16])
        hexes.add(m.hex()[16:32])
    runs = 0
    for argv, out, err in OUTPUTS:
        runs += 1
        for text in (out, err):
            flat = re.sub(r"[\s:\-]", "", text.lower())
            for i in range(len(flat) - 15):
                if flat[i:i + 16] in hexes:
                    raise AssertionError(f"key material {flat[i:i + 16]}... in the output "
                                         f"of {' '.join(map(str, argv))}")
    diag(f"{runs} qkdctl outputs searched for {len(MATERIALS)} key materials")


try:
    main()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
