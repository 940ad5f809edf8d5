#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The counts of a KUnit run for tools/kunit.sh, the same whether the suites
ran under UML (kunit.py run) or on the debug kernel in the VM (kunit.py
parse): every test case counted, each parameter of a parameterised case
as one; a kernel splat after the KTAP started, a non-zero exit of the run
or no test at all is a failure, never zero tests.

Usage: kunit-counts.py JSON LOG RC COUNTS
  JSON    kunit.py's --json output (missing or empty: no test parsed)
  LOG     the kernel log the KTAP came from (for splats)
  RC      the exit status of the run
  COUNTS  written: one line "PASSED FAILED SKIPPED"
Prints the failed cases, the splats and "kunit: N passed, N failed, N
skipped"; exits 1 when anything failed.
"""
import json
import re
import sys

json_path, log_path, rc, counts_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
passed = failed = skipped = 0

def walk(group):
    global passed, failed, skipped
    for case in group.get("test_cases", []):
        st = case.get("status")
        if st == "PASS":
            passed += 1
        elif st == "SKIP":
            skipped += 1
        else:
            failed += 1
            print(f"kunit: FAILED {group.get('name')}.{case.get('name')}: {st}")
    for sub in group.get("sub_groups", []):
        walk(sub)

try:
    with open(json_path) as f:
        walk(json.load(f))
except (OSError, ValueError):
    pass

# Sanitizer and kernel splats that do not fail a KUnit case by themselves,
# from the moment the tests start (UML's boot has a WARNING of its own when
# no virtio PCI device is given).
splats = []
try:
    with open(log_path, errors="replace") as f:
        started = False
        for line in f:
            started = started or re.search(r"\bK?TAP version", line)
            if started and re.search(r"UBSAN:|BUG:|WARNING:|Oops|Kernel panic", line):
                splats.append(line.rstrip())
except OSError:
    pass
for line in splats:
    print(f"kunit: kernel log: {line}")
# A splat fails the run; it counts as one more failure unless a case
# failed already (KASAN fails the case it hit).
if splats and failed == 0:
    failed = 1
# A failed build, a crash or no test at all is a failure, never zero tests.
if (rc != 0 or passed + skipped == 0) and failed == 0:
    print(f"kunit: kunit.py exited {rc} with {passed + skipped} tests run")
    failed = 1

with open(counts_path, "w") as f:
    f.write(f"{passed} {failed} {skipped}\n")
print(f"kunit: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
