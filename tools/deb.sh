#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the Debian packages (debian/control) inside the build root of each
# suite and check them with lintian: `make deb`.
#
# The source tree (tracked and new files, not build/) is copied to
# build/deb/SUITE/src/qkd-ipsec-VERSION and built there with
# dpkg-buildpackage, so a build never writes into the repository.  The
# packages land in build/deb/SUITE/, lintian's report in
# build/deb/SUITE/lintian.txt.  Each suite prints two result lines,
# "deb: PASS|FAIL SUITE packages built" and "deb: PASS|FAIL SUITE lintian"
# (no error or warning; tags overridden in debian/ with a reason do not
# count).  Exit status 0 when every line is PASS.
#
# Usage: tools/deb.sh [--if-stale] [SUITE...]   (default: trixie forky)
#   --if-stale  skip a suite whose packages were built from the same tree
#               (build/deb/SUITE/tree.sha256)
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
if_stale=0
if [ "${1:-}" = --if-stale ]; then
	if_stale=1
	shift
fi
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(trixie forky)
# the host's packages and the roots, as every build (tools/build.sh)
for suite in "${suites[@]}"; do
	case $suite in
	trixie) tools/build.sh root || exit 1 ;;
	*) tools/build.sh "$suite-root" || exit 1 ;;
	esac
done
version=$(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)

tree_files() { git ls-files -z -co --exclude-standard | grep -zv '^build/'; }
tree=$(tree_files | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)

status=0
result() {
	echo "deb: $1 $2"
	[ "$1" = PASS ] || status=1
}

for suite in "${suites[@]}"; do
	out=build/deb/$suite
	if [ $if_stale -eq 1 ] && [ "$(cat "$out/tree.sha256" 2>/dev/null)" = "$tree" ]; then
		echo "deb: $suite: the packages in $out are of this tree"
		continue
	fi
	src=$out/src/qkd-ipsec-$version
	rm -rf "$out"
	mkdir -p "$src"
	tree_files | xargs -0 cp --parents -t "$src"
	echo "deb: building the packages for $suite in $src"
	if ! QKD_SUITE=$suite tools/inroot.sh bash -c '
		cd "/src/$1" &&
		dpkg-buildpackage -b -us -uc --no-sign >../../build.log 2>&1 ||
			{ tail -n 40 ../../build.log; exit 1; }' _ "$src"; then
		result FAIL "$suite packages built (log: $out/build.log)"
		continue
	fi
	mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
	ls -l "$out"/*.deb | awk '{ printf "deb: %8d  %s\n", $5, $9 }'
	result PASS "$suite packages built"
	# lintian refuses to run as root without complaint; nobody reads all
	QKD_SUITE=$suite tools/inroot.sh bash -c '
		cd "/src/$1" && runuser -u nobody -- lintian --info --display-info \
			--pedantic --fail-on error,warning *.changes' _ "$out" \
		>"$out/lintian.txt" 2>&1
	lint=$?
	tags=$(grep -c '^[EWIP]:' "$out/lintian.txt")
	if [ $lint -eq 0 ]; then
		result PASS "$suite lintian ($tags info and pedantic tags: $out/lintian.txt)"
	else
		sed -n '/^[EW]:/p' "$out/lintian.txt" | head -n 20
		result FAIL "$suite lintian (see $out/lintian.txt)"
	fi
	echo "$tree" >"$out/tree.sha256"
done
exit $status
