#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what the host (Debian 12 or later) needs to make the build root
# and boot the test VM, if anything is missing.  Runs as root.
set -euo pipefail

pkgs="debootstrap qemu-system-x86 cpio xz-utils zstd make pyflakes3"
missing=
for p in $pkgs; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -n "$missing" ] || exit 0
echo "host-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
