#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run a command inside a build root (tools/mkroot.sh), with this repository
# at /src: the trixie root, or the one QKD_SUITE names (forky).  Each call
# gets its own private mount namespace, so parallel calls do not see each
# other's mounts and nothing is left mounted when it ends.
#
# Usage: tools/inroot.sh COMMAND [ARG...]     (run from anywhere)
#        QKD_SUITE=forky tools/inroot.sh COMMAND [ARG...]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
root=$("$repo/tools/mkroot.sh" "${QKD_SUITE:-trixie}")
export QKD_ROOT=$root QKD_REPO=$repo

exec unshare --mount --propagation private -- /bin/bash -c '
	set -e
	mount -t proc proc "$QKD_ROOT/proc"
	mount --rbind /dev "$QKD_ROOT/dev"
	mount -t sysfs sysfs "$QKD_ROOT/sys"
	mkdir -p "$QKD_ROOT/src"
	mount --bind "$QKD_REPO" "$QKD_ROOT/src"
	cd "$QKD_ROOT"
	exec chroot "$QKD_ROOT" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 /bin/bash -c "cd /src && exec \"\$@\"" inroot "$@"
' inroot "$@"
