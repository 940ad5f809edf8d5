#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Generate the uapi header, the kernel's netlink policies and the API
# reference (Documentation/netlink/qkd.rst) from the YAML spec with the kernel's own generator (tools/net/ynl/ynl-gen-c.py from
# Debian's linux-source), inside the build root.  With --check, generate
# into a temporary directory and fail if the committed files differ.
#
# Usage: tools/ynl-regen.sh [--check]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-}

exec "$repo/tools/inroot.sh" /bin/bash -c '
	set -euo pipefail
	ksrc=$(/src/tools/linux-src.sh)
	# ynl finds its schema next to the spec, so the spec is read from the
	# kernel tree.
	cp /src/Documentation/netlink/specs/qkd.yaml "$ksrc/Documentation/netlink/specs/qkd.yaml"
	out=/src
	if [ "$1" = --check ]; then
		out=$(mktemp -d)
		mkdir -p "$out/include/uapi/linux" "$out/kmod" "$out/Documentation/netlink"
	fi
	cd "$ksrc"
	gen() { python3 tools/net/ynl/ynl-gen-c.py --spec Documentation/netlink/specs/qkd.yaml "$@"; }
	gen --mode uapi --header -o "$out/include/uapi/linux/qkd.h"
	gen --mode kernel --header -o "$out/kmod/netlink-gen.h"
	gen --mode kernel --source -o "$out/kmod/netlink-gen.c"
	# The API reference is rendered from the spec too, never by hand.
	python3 tools/net/ynl/ynl-gen-rst.py -i Documentation/netlink/specs/qkd.yaml \
		-o "$out/Documentation/netlink/qkd.rst"
	if [ "$1" = --check ]; then
		status=0
		for f in include/uapi/linux/qkd.h kmod/netlink-gen.h kmod/netlink-gen.c \
				 Documentation/netlink/qkd.rst; do
			if ! cmp -s "$out/$f" "/src/$f"; then
				echo "$f is out of date with the spec: run make regen" >&2
				status=1
			fi
		done
		rm -rf "$out"
		exit $status
	fi
' ynl-regen "$mode"
