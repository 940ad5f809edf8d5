#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Run last: no key material of any earlier test (logged by qkdlab.pools.keys in
/tmp/qkd-test-materials) appears in the kernel log, in any hex spelling
(aabbcc, aa bb cc, aa:bb:cc, upper case)."""

import os
import re
import subprocess

from qkdlab.tap import check, diag, main, test
from qkdlab.pools import MATERIALS_LOG


# test_bulk.py logs 100,500 materials when it ran before (every run of the
# whole list; not make check's debugvm part, tests/vm/DEBUGK_TESTS); the
# other tests log a few thousand.
_RAN = os.environ.get("QKD_TESTS")
WANT = 100000 if _RAN is None or "test_bulk.py" in _RAN.split() else 1000


@test("log: no key material in dmesg")
def _():
    check(os.path.exists(MATERIALS_LOG), "no materials were logged by the tests")
    prefixes = set()
    with open(MATERIALS_LOG) as f:
        for ln in f:
            prefixes.add(ln[:16])
    check(len(prefixes) > WANT, f"only {len(prefixes)} materials logged (expected more "
          f"than {WANT})")
    log = subprocess.run(["dmesg"], capture_output=True, text=True, check=True).stdout
    ours = [ln for ln in log.splitlines() if "qkd" in ln.lower()]
    diag(f"{len(log.splitlines())} kernel log lines, {len(ours)} about qkd")
    for ln in ours[:10]:
        diag(ln)
    flat = re.sub(r"[\s:\-]", "", log.lower())
    for i in range(len(flat) - 15):
        if flat[i:i + 16] in prefixes:
            raise AssertionError(f"key material {flat[i:i + 16]}... in dmesg "
                                 f"near {flat[max(0, i - 40):i + 40]!r}")


main()
