#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Trusted-node relay (Documentation/relay.rst): a chain of four routers,
tokyo - nagoya - osaka - kobe, each running qkd-linkd with the KME
simulator serving each QKD link (picture in tests/lib/qkdlab/relaynet.py).

What runs today: the chain itself.  Every node's configuration declares
the [topology], its links' relay settings and (at the ends) the
end-to-end pool; qkd-linkd accepts it, every link pool fills both ways,
and the same key ID gives the same material at both ends of every link
(test-only path: the kernel's ynl, as test_linkd.py).  Relaying over it
is not wired into the daemon yet (relay.rst, "Status")."""

import base64
import json
import subprocess

from qkdlab.relaynet import (LINKD, NODES, cleanup, conf, consume, link_levels,
                             links_full, log_text, materials, start, status, up,
                             wait)
from qkdlab.tap import check, diag, eq, main, test


@test("relay: set-up: five namespaces, certificates, simulator with three links")
def _():
    up()


@test("relay: every node's [topology] and relay settings are accepted (-t)")
def _():
    for x in NODES:
        p = subprocess.run([LINKD, "-t", "-c", conf(x)], capture_output=True,
                           text=True)
        eq(p.returncode, 0, f"{x}: -t: {p.stderr}")
    # The far end named twice is refused with its line.
    path = conf(NODES[0])
    with open(path, "a") as f:
        f.write(f"\n[relay again]\npeer = {NODES[-1]}\n")
    p = subprocess.run([LINKD, "-t", "-c", path], capture_output=True, text=True)
    eq(p.returncode, 1, "two end-to-end pools with one peer")
    check(f"peer {NODES[-1]} is relay {NODES[-1]}'s too" in p.stderr,
          f"stderr: {p.stderr!r}")


@test("relay: the chain's link pools fill both ways on every link")
def _():
    for x in NODES:
        start(x)
    wait(links_full, 300, "every link pool above its high watermark both ways")
    diag(f"link levels (x out, y in, y out, x in) per link: {link_levels()}")
    for x in NODES:
        check("connected to peer" in log_text(x), f"{x}: no peer connection logged")


@test("relay: each link's keys are identical at its two ends")
def _():
    for i in range(len(NODES) - 1):
        x, y = NODES[i], NODES[i + 1]
        n = consume(x, y, y, x, 32) + consume(y, x, x, y, 32)
        eq(n, 64, f"link {x}-{y}: key pairs compared")


@test("relay: no key material in any node's log or status file")
def _():
    check(materials, "no material was taken")
    text = "".join(log_text(x) + json.dumps(status(x)) for x in NODES)
    for m in materials:
        for enc in (m.hex(), base64.b64encode(m).decode()[:16], m[:8].hex()):
            check(enc not in text, "key material found in a log or status file")
    diag(f"{len(materials)} materials searched in {len(NODES)} logs")


def finish(failed):
    cleanup()


main(finish)
