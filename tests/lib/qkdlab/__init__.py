# SPDX-License-Identifier: GPL-2.0
"""qkdlab: the one harness of the VM tests, the demo and the benches.

Inside the VM (tools/vm-run.sh puts tests/lib on PYTHONPATH):

    tap        TAP output: @test, main(), check(), eq(), diag(), Skip
    proc       commands, namespaces, waiting, stopping processes
    pools      the pools through the kernel's ynl: family, notifications,
               keys derived from their IDs, errors and their extack
    routers    router namespaces each running charon with the qkd plugin
               (Router, Lab), and the plugin's log lines as regexes
    qkdnet     routers joined by a simulated QKD link: the KME simulator and
               qkd-linkd on each router (QkdLab), tallies of the re-keys
    linkpair   two qkd-linkd without charon and the KME simulator: the
               link manager's tests and bench
    relaynet   trusted nodes' qkd-linkd and the KME simulator for any nodes
               and links (RelayNet): the relay test's chain, the relay
               ring bench
    trustnet   the trusted-node network with IPsec (make demo-network):
               qkd-linkd and charon on every router of a chain or ring
    vici       a strongSwan vici client (the benches' SA control)
"""

import os

# The repository: /src in the VM, else two levels above tests/lib.
REPO = os.environ.get("QKD_REPO") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
