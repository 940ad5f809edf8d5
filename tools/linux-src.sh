#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Inside the build root: print the path of Debian's kernel source tree,
# unpacking /usr/src/linux-source-*.tar.xz the first time.  The tree stays
# in the (cached) root, so later runs reuse it.
set -euo pipefail
tarball=$(ls /usr/src/linux-source-*.tar.xz | sort -V | tail -n 1)
tree=${tarball%.tar.xz}
# KUnit and the debug kernel may ask at once: one unpacks, the other waits.
exec 8>"$tarball.lock"
flock 8
if [ ! -f "$tree/.qkd-unpacked" ]; then
	rm -rf "$tree"
	tar -C /usr/src -xf "$tarball"
	touch "$tree/.qkd-unpacked"
fi
echo "$tree"
