#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The module's cap on key memory (parameter mem_limit, bytes).

First at the default cap: pools of the largest size are created until one is
refused with ENOSPC (the cap must hold well before the VM's memory runs
out).  Then the module is reloaded with mem_limit=2000000: a few default
pools fit, the next is refused, a deleted pool gives its memory back, and a
pool-set that would grow past the cap is refused and changes nothing.  The
module is reloaded with its defaults at the end."""

import errno
import os
import subprocess

from qkdlab.tap import check, diag, eq, main, test
from qkdlab.pools import clean_pools, expect_error, family, keys, reset_family_cache, settled

KO = os.environ.get("QKD_KO", "/src/kmod/qkdpool.ko")
PARAM = "/sys/module/qkdpool/parameters/mem_limit"
fams = [family()]
clean_pools(fams[0])


def fam():
    return fams[-1]


def reload(*params):
    fam().sock.close()
    subprocess.run(["rmmod", "qkdpool"], check=True)
    subprocess.run(["insmod", KO, *params], check=True)
    reset_family_cache()
    fams.append(family())


def fill_until_enospc(attrs, limit):
    made = []
    for i in range(limit):
        a = dict(attrs, name=f"mem-{i}")
        try:
            made.append(fam().do("pool-new", a)["id"])
        except Exception as e:          # noqa: BLE001
            return made, e
    return made, None


@test("memlimit: the default cap refuses the largest pools before memory runs out")
def _():
    limit = int(open(PARAM).read())
    diag(f"default mem_limit {limit} bytes")
    big = {"capacity": 1048576, "key-size": 64}
    made, err = fill_until_enospc(big, 8)
    diag(f"{len(made)} pools of 1048576 x 64-byte keys fit")
    check(err is not None, f"{len(made)} pools of 2 x 1048576 x 64 bytes accepted")
    expect_error(lambda: (_ for _ in ()).throw(err), errno.ENOSPC,
                 msg=("limit", "memory"), what="pool over the default cap")
    check(len(made) * 2 * 1048576 * 64 <= limit,
          f"{len(made)} pools hold more key material than mem_limit {limit}")
    for p in made:
        fam().do("pool-del", {"id": p})


@test("memlimit: mem_limit=2000000 bounds the pools, memory comes back on delete")
def _():
    reload("mem_limit=2000000")
    eq(int(open(PARAM).read()), 2000000, "mem_limit parameter")
    made, err = fill_until_enospc({}, 20)
    diag(f"{len(made)} default pools fit in 2000000 bytes")
    check(err is not None, f"{len(made)} default pools fit in 2000000 bytes")
    check(1 <= len(made) <= 5, f"{len(made)} default pools (4096 x 2 x 32 bytes) fit")
    expect_error(lambda: (_ for _ in ()).throw(err), errno.ENOSPC,
                 msg=("limit", "memory"), what="pool over mem_limit")
    eq(len(fam().dump("pool-get", {})), len(made), "pools after the refusal")
    # a pool-set growing a pool past the cap is refused, the pool unchanged
    p = made[0]
    fam().do("key-add", {"id": p, "direction": "out", "key": keys("MEML", 0, 100)})
    before = fam().do("pool-get", {"id": p})
    expect_error(lambda: fam().do("pool-set", {"id": p, "capacity": 100000}),
                 errno.ENOSPC, msg=("limit", "memory"), what="pool-set past mem_limit")
    after = fam().do("pool-get", {"id": p})
    eq(settled(after), settled(before), "pool after a refused pool-set")
    r = fam().do("key-take", {"id": p, "direction": "out"})
    eq(r["key"][0]["id"], keys("MEML", 0, 1)[0]["id"], "keys survive a refused resize")
    # memory comes back
    fam().do("pool-del", {"id": made[-1]})
    again = fam().do("pool-new", {"name": "mem-again"})["id"]
    check(again >= 1, "pool after freeing one")
    expect_error(lambda: fam().do("pool-new", {"name": "mem-over"}), errno.ENOSPC,
                 msg=("limit", "memory"), what="pool over mem_limit again")


@test("memlimit: module reloads with its default parameters")
def _():
    reload()
    check(int(open(PARAM).read()) > 2000000, "default mem_limit after reload")
    eq(fam().dump("pool-get", {}), [], "pools after reload")


main()
