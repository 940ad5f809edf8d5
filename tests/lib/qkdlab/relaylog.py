# SPDX-License-Identifier: GPL-2.0
"""What qkd-linkd's relay log lines say (Documentation/relay.rst,
"Operations"), for the relay's VM tests over any network (relaynet's
chain, trustnet's ring): the transfers an origin sent, where each was
refused, the link keys each hop must have consumed for them, the paths
it logged and the keys the far end removed for ABORTs.  Plain text in,
plain values out: the tests compare them with the pools' counters.

The lines (qkd-linkd -v; relay_node.c):

  relay kobe: transfer 12: 16 keys over tokyo nagoya osaka kobe
  relay kobe: transfer 13: link down at nagoya
  relay kobe: transfer 14: link down at nagoya (late)
  relay kobe: path tokyo nagoya kobe (bottleneck nagoya-kobe, 500000 bit/s)
  relay kobe: no path to kobe: ...
  relay tokyo: transfer 12: ABORT taken, 16 keys removed
"""

import re

SENT_RE = re.compile(r"relay (\S+): transfer (\d+): (\d+) keys over ([A-Za-z0-9._ -]+?)$", re.M)
# a refusal, also one that came after the origin gave the transfer up
REFUSED_RE = re.compile(r"relay (\S+): transfer (\d+): ([a-z ]+) at (\S+)(?: \(late\))?$", re.M)
# group 2 the path, or group 3 "no path"
PATH_RE = re.compile(r"relay (\S+): (?:path ([A-Za-z0-9._ -]+?) \(bottleneck [^)]*\)|"
                     r"(no path) to \S+: .*)$", re.M)
REMOVED_RE = re.compile(r"relay (\S+): transfer \d+: ABORT taken, (\d+) keys removed$", re.M)
# The hop's MAC key and the end-to-end MAC key: link keys a frame of n
# 32-byte keys needs over 32-byte link keys beyond its n (relay.rst,
# "Wire format").
FRAME_EXTRA = 2


def sent(text, pool):
    """[(transfer, keys, [path])] that pool's origin sent, in order."""
    return [(int(t), int(n), p.split()) for name, t, n, p in SENT_RE.findall(text)
            if name == pool]


def refused(text, pool):
    """{transfer: (what, node that refused it)} of pool's transfers."""
    return {int(t): (what, at) for name, t, what, at in REFUSED_RE.findall(text)
            if name == pool}


def hop_need(text, pool, cut=None, extra=FRAME_EXTRA):
    """{(x, y): link keys} the transfers sent in text must have taken on
    each hop direction x -> y (x's outbound, y's inbound): every hop of a
    transfer's path up to the node that refused it (that node took its
    inbound keys and no outbound ones), all of them for the others.  cut,
    a link (x, y) known down for relaying all along (both sides' refills
    failing before text begins): a transfer over it stops at its first
    node even when no line says so (an answer lost with a connection
    says nothing; one that comes after the origin gave the transfer up is
    logged "(late)" with where it stopped, which refused() reads)."""
    need = {}
    ref = refused(text, pool)
    for t, n, path in sent(text, pool):
        stop = path.index(ref[t][1]) if t in ref and ref[t][1] in path else len(path) - 1
        if cut:
            stop = min([stop] + [i for i in range(len(path) - 1)
                                 if {path[i], path[i + 1]} == set(cut)])
        for x, y in zip(path[:stop], path[1:stop + 1]):
            need[(x, y)] = need.get((x, y), 0) + n + extra
    return need


def link_keys_expected(texts, extra=FRAME_EXTRA):
    """{(x, y): link keys} the transfers logged in texts ({origin: its
    log}), of every end-to-end pool, must have taken on hop x -> y:
    hop_need summed (extra=0 counts the relayed keys alone)."""
    exp = {}
    for text in texts.values():
        for pool in {name for name, _, _, _ in SENT_RE.findall(text)}:
            for hop, n in hop_need(text, pool, extra=extra).items():
                exp[hop] = exp.get(hop, 0) + n
    return exp


def through(text, pool):
    """Keys of pool's transfers that no node refused, by path ("a b c")."""
    ref = refused(text, pool)
    out = {}
    for t, n, path in sent(text, pool):
        if t not in ref:
            out[" ".join(path)] = out.get(" ".join(path), 0) + n
    return out


def paths(text, pool):
    """The paths pool's lines set, in order: a list of nodes, or None for
    "no path"."""
    return [m.group(2).split() if m.group(2) else None for m in PATH_RE.finditer(text)
            if m.group(1) == pool]


def removed(text, pool):
    """Inbound keys of pool the far end removed for its origin's ABORTs."""
    return sum(int(n) for name, n in REMOVED_RE.findall(text) if name == pool)
