# SPDX-License-Identifier: GPL-2.0
"""What the two demos (lab_demo.py, network_demo.py) print the same way:
lines flushed at once (the VM's console is a pipe), phase banners with
the seconds since the demo started, and the wait that keeps the live line
going while it waits."""

import time

T0 = time.monotonic()   # the demo's start: banners, live lines, the timeline


def say(text=""):
    print(text, flush=True)


def banner(text):
    say()
    say("=" * 78)
    say(f"  [{time.monotonic() - T0:5.0f} s]  {text}")
    say("=" * 78)


def watch(until, timeout, what, live_line, every, step):
    """Call live_line() every `every` s until until() is true (asked every
    step s) and return its value; raises TimeoutError after timeout s."""
    deadline = time.monotonic() + timeout
    nxt = 0.0
    while True:
        now = time.monotonic()
        if now >= nxt:
            live_line()
            nxt = now + every
        v = until()
        if v:
            return v
        if now >= deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)
