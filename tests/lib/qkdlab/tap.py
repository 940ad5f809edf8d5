# SPDX-License-Identifier: GPL-2.0
"""TAP for the VM tests: each test file registers functions with
@test("name") and calls main(); it prints unnumbered TAP lines ("ok - name",
"not ok - name", "ok - name # SKIP why", "# ...") that tests/vm/run.sh
numbers across files.  A test fails by raising (check(), eq() raise Fail,
whose message is printed alone; anything else prints its traceback) and
skips by raising Skip."""

import sys
import time
import traceback


class Skip(Exception):
    pass


class Fail(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def eq(got, want, what):
    if got != want:
        raise Fail(f"{what}: expected {want!r}, got {got!r}")


_tests = []


def test(name):
    def reg(fn):
        _tests.append((name, fn))
        return fn
    return reg


def diag(text):
    for ln in str(text).splitlines():
        print("# " + ln, flush=True)


def main(finish=None):
    """Run the registered tests, print their TAP lines, exit 1 if any
    failed.  finish(failed), when given, runs last (logs, teardown)."""
    failed = 0
    for name, fn in _tests:
        t0 = time.monotonic()
        try:
            fn()
        except Skip as s:
            print(f"ok - {name} # SKIP {s}", flush=True)
            continue
        except Exception as e:          # noqa: BLE001
            failed += 1
            print(f"not ok - {name}", flush=True)
            if isinstance(e, Fail):
                diag(str(e))
            else:
                diag("".join(traceback.format_exception(e)).rstrip())
            continue
        dt = time.monotonic() - t0
        print(f"ok - {name}", flush=True)
        if dt > 5:
            diag(f"{name}: {dt:.1f} s")
    if finish is not None:
        finish(failed > 0)
    sys.exit(1 if failed else 0)
