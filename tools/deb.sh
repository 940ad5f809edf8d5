#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the Debian packages (debian/control) inside the build root of each
# suite and check them with lintian: `make deb`.
#
# The source tree (tracked and new files, not build/) is copied to
# build/deb/SUITE/src/qkd-ipsec-VERSION and built there with
# dpkg-buildpackage, so a build never writes into the repository.  The
# packages land in build/deb/SUITE/; lintian's report in
# build/deb/SUITE/lintian.txt.  Exit status: 0 when every suite built and
# lintian reported no error or warning (tags overridden in debian/ with a
# reason do not count).
#
# Usage: tools/deb.sh [SUITE...]      (default: trixie; forky too when its
#                                      root can be made)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(trixie)
version=$(dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null ||
	  sed -n '1s/.*(\(.*\)).*/\1/p' debian/changelog)

status=0
for suite in "${suites[@]}"; do
	out=build/deb/$suite
	src=$out/src/qkd-ipsec-$version
	rm -rf "$out"
	mkdir -p "$src"
	git ls-files -z -co --exclude-standard |
		grep -zv '^build/' | xargs -0 cp --parents -t "$src"
	echo "deb: building the packages for $suite in $src"
	if ! QKD_SUITE=$suite tools/inroot.sh bash -c '
		set -e
		cd "/src/$1"
		dpkg-buildpackage -b -us -uc --no-sign >../../build.log 2>&1 ||
			{ tail -n 40 ../../build.log; exit 1; }' _ "$src"; then
		echo "deb: $suite: dpkg-buildpackage failed (log: $out/build.log)"
		status=1
		continue
	fi
	mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
	QKD_SUITE=$suite tools/inroot.sh bash -c '
		cd "/src/$1" && runuser -u nobody -- lintian --info --display-info --pedantic \
			--fail-on error,warning *.changes' _ "$out" \
		>"$out/lintian.txt" 2>&1 || status=1
	ls -l "$out"/*.deb | awk '{ printf "deb: %8d  %s\n", $5, $9 }'
	echo "deb: $suite: lintian: $(grep -c '^[EW]:' "$out/lintian.txt" || true) errors and warnings," \
	     "$(grep -c '^[IP]:' "$out/lintian.txt" || true) info and pedantic tags ($out/lintian.txt)"
done
exit $status
