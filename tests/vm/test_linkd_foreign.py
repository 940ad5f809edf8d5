#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""qkd-linkd against foreign KMEs: the lab of test_linkd.py with the
simulator in the modes that vendors' KMEs show (kme_sim.py, FOREIGN KME
MODES), switched at run time:

  1. upper-case UUID key IDs, matched exactly; dec_keys by POST only;
     status without stored_key_count, max_key_per_request, max_key_size,
     min_key_size;
  2. key IDs that are not UUIDs ("QKD:" + base64, with + / =), matched
     exactly; dec_keys by GET only (qkd-linkd's default POST is refused
     with 405: dec_keys_method = auto switches); status numbers as strings.

Each round fills both routers' pools both ways from empty, then takes
every key on both routers: the same key ID gives the same material on
both, nothing is one-sided.  The logs show the foreign behaviour noticed
(warnings) and no error."""

import time

import qkdlab.linkpair as L
from qkdlab.tap import check, diag, main, test

OFF = {q: False for q in ("status_missing_fields", "numbers_as_strings",
                          "status_error", "uppercase_ids", "non_uuid_ids",
                          "dec_post_only", "dec_get_only", "empty_400",
                          "unknown_500_nobody", "dec_keeps")}
# Error lines no round may show: a refused offer, a rejected answer.
BAD = ("peer refused offer", "answer rejected", "did not answer offer",
       "protocol error")


def quirks(**q):
    body = dict(OFF)
    body.update(q)
    out = L.ctl("POST", "/quirks", body)
    check({k for k, v in out.items() if v} == set(q), f"simulator modes: {out}")


def errors(x, since):
    """x's error lines (journal priority 3) since offset @since, but for
    the QKD link cuts the rounds make themselves."""
    return [ln for ln in L.log_text(x)[since:].splitlines()
            if ln.startswith("<3>") and "QKD link down" not in ln]


def marks():
    return {x: len(L.log_text(x)) for x in "ab"}


def fill_round(what, expect, before):
    """From the current (drained, link cut) state: restore, fill both
    ways, reconcile; @expect: texts each router's log must show since
    the offsets @before."""
    t0 = time.monotonic()
    L.ctl("POST", f"/links/{L.LINK}/restore")
    L.wait(L.full, 120, f"{what}: both routers full both ways")
    diag(f"{what}: all four directions at the high watermark in "
         f"{time.monotonic() - t0:.1f} s; levels {L.levels()}")
    L.reconcile(what)
    for x in "ab":
        new = L.log_text(x)[before[x]:]
        for b in BAD:
            check(b not in new, f"{x}: '{b}' in the log during {what}:\n{new[-3000:]}")
        errs = errors(x, before[x])
        check(not errs, f"{x}: error lines during {what}: {errs[:5]}")
        for e in expect:
            check(e in new, f"{x}: no '{e}' in the log during {what}:\n{new[-3000:]}")
        diag(f"{x}: " + "; ".join(ln for ln in new.splitlines()
                                 if any(e in ln for e in expect))[:400])


@test("linkd foreign: set-up: the lab of test_linkd.py, the simulator's link cut")
def _():
    L.up()
    L.ctl("POST", f"/links/{L.LINK}/cut")
    quirks(uppercase_ids=True, dec_post_only=True, status_missing_fields=True)
    L.start("a")
    L.start("b")
    L.wait(lambda: all("connected to peer" in L.log_text(x) for x in "ab"), 60,
           "both peer channels up")


@test("linkd foreign: upper-case key IDs, POST-only dec_keys, status fields missing: pools fill both ways, same material for the same ID")
def _():
    fill_round("upper-case IDs, POST only, status fields missing",
               ["'max_key_per_request' missing"], {"a": 0, "b": 0})


@test("linkd foreign: non-UUID key IDs, GET-only dec_keys, status numbers as strings: pools fill both ways, same material for the same ID")
def _():
    # reconcile() left the link restored: cut it before the modes change.
    L.ctl("POST", f"/links/{L.LINK}/cut")
    L.wait(lambda: L.idle("a") and L.idle("b"), 90, "masters idle")
    L.consume("a")
    L.consume("b")
    before = marks()
    quirks(non_uuid_ids=True, dec_get_only=True, numbers_as_strings=True)
    fill_round("non-UUID IDs, GET only, numbers as strings",
               ["asking dec_keys by GET"], before)
    # reconcile() ended with a restore after a cut: a master that probed
    # during the cut says so until its next probe (within a second or two).
    for x in "ab":
        L.wait(lambda: L.status(x).get("source_ok", True), 15,
               f"{x}: status to say the KME is fine after the restore")


if __name__ == "__main__":
    main(lambda failed: L.cleanup())
