# SPDX-License-Identifier: GPL-2.0
"""Commands, network namespaces, waiting and stopping processes, the KME
simulator's control interface."""

import json
import os
import subprocess
import time
import urllib.request


def sh(*cmd, check=True, timeout=60, ns=None, stdin=None):
    """Run a command (in a network namespace); returns its stdout."""
    argv = [str(c) for c in cmd]
    if ns:
        argv = ["ip", "netns", "exec", ns] + argv
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       input=stdin)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}: "
                           f"{(p.stderr or p.stdout).strip()}")
    return p.stdout


def wait_for(cond, timeout, step=0.2, what="condition"):
    """Poll cond() until it is true (returns its value) or timeout seconds
    pass (raises TimeoutError naming what)."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def stop_process(proc):
    """SIGTERM proc and wait; SIGKILL it after 20 s.  None or an exited
    process is left as it is."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def sim_control(ns, method, path, body=None, addr="127.0.0.1:9000"):
    """A call of the KME simulator's control interface (JSON), which
    listens on addr in namespace ns; returns the decoded answer or None."""
    def call():
        data = json.dumps(body).encode() if body is not None else \
            (b"" if method == "POST" else None)
        req = urllib.request.Request(f"http://{addr}{path}", data=data, method=method)
        with urllib.request.urlopen(req, timeout=30) as r:
            txt = r.read()
            return json.loads(txt) if txt else None
    return in_ns(ns, call)


def in_ns(ns, fn):
    """fn() with this thread in network namespace ns; sockets made there
    stay there (the simulator's control socket listens on that namespace's
    loopback only; a pool family opened there sees that namespace's pools)."""
    back = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        os.setns(fd, os.CLONE_NEWNET)
        return fn()
    finally:
        os.setns(back, os.CLONE_NEWNET)
        os.close(fd)
        os.close(back)
