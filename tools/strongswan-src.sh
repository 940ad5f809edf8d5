#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Unpack and configure Debian's strongSwan source package of exactly the
# version of the installed libstrongswan, so that the qkd plugin is built
# against the same headers and the same config.h as Debian's charon.  Runs
# inside the trixie build root (tools/inroot.sh tools/strongswan-src.sh).
#
# Why the source and Debian's configure line: there is no strongSwan -dev
# package, and strongSwan's plugin loader checks no ABI.  Debian configures
# with --enable-mediation, which defines ME in config.h and changes the
# layout of daemon_t, ike_sa_t and peer_cfg_t; Debian's patches change other
# structures.  A plugin built against anything else corrupts memory
# silently.  The configure arguments are read from debian/rules
# (CONFIGUREARGS, as override_dh_auto_configure passes them), behind the
# arguments dh_auto_configure itself adds (debhelper compat 12), with
# dpkg-buildflags' flags in the environment.
#
# Prints the configured source tree's path.  Cached per version in
# $QKD_SWAN_CACHE/<version> (default /var/cache/qkd-strongswan): a rerun
# prints the path at once.
#
# Usage: tools/strongswan-src.sh [--force]
# Needs: dpkg-dev, and the packages that Debian's configure line checks
# for (see Documentation/strongswan-plugin.rst).
set -euo pipefail

cache=${QKD_SWAN_CACHE:-/var/cache/qkd-strongswan}
log() { echo "strongswan-src: $*" >&2; }

version=$(dpkg-query -W -f='${Version}' libstrongswan 2>/dev/null || true)
status=$(dpkg-query -W -f='${db:Status-Status}' libstrongswan 2>/dev/null || true)
if [ -z "$version" ] || [ "$status" != installed ]; then
	log "libstrongswan is not installed (apt-get install libstrongswan)"
	exit 1
fi
dir=$cache/$version
if [ "${1:-}" = --force ]; then
	rm -rf "$dir"
elif [ -f "$dir/.qkd-configured" ]; then
	cat "$dir/.qkd-configured"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -f "$dir/.qkd-configured" ]; then
	cat "$dir/.qkd-configured"
	exit 0
fi

tmp=$(mktemp -d "$cache/.building.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# The same version is often in two suites (trixie and trixie-security) and
# a mirror may hold its files in only one of them: try all the deb-src lines
# at once first, then each one alone.
fetch_source() {
	apt-get source -qq --only-source "strongswan=$version" >fetch.log 2>&1 && return 0
	local line n=0
	while read -r line; do
		n=$((n + 1))
		echo "$line" >"sources.$n.list"
		rm -rf strongswan-*/ strongswan_*
		apt-get -o Dir::Etc::SourceList="$tmp/sources.$n.list" \
			-o Dir::Etc::SourceParts=/nonexistent \
			source -qq --only-source "strongswan=$version" >>fetch.log 2>&1 && return 0
	done < <(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		grep -E '^[[:space:]]*deb-src[[:space:]]')
	return 1
}
log "fetching strongswan=$version"
if ! fetch_source; then
	tail -n 20 fetch.log >&2
	log "apt-get source strongswan=$version failed (deb-src lines? apt-get update?)"
	exit 1
fi
src=$(find . -maxdepth 1 -type d -name 'strongswan-*' | head -n 1)
[ -n "$src" ] && [ -f "$src/debian/rules" ] || { log "no unpacked source"; exit 1; }

# Debian's own arguments: evaluate debian/rules' CONFIGUREARGS with make,
# so the architecture conditionals (rdrand, aesni, nm, systemd, ...) are
# applied exactly as in the package build.
cat >print-args.mk <<'MK'
qkd-print-configureargs:
	@echo $(CONFIGUREARGS)
MK
args=$(cd "$src" && make -s --no-print-directory -f debian/rules \
	-f ../print-args.mk qkd-print-configureargs)
case " $args " in
*" --enable-mediation "*) ;;
*) log "debian/rules has no --enable-mediation: check the ME assumption"; exit 1 ;;
esac

# What dh_auto_configure (debhelper compat 12, autoconf) adds before them.
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
gnu_type=$(dpkg-architecture -qDEB_BUILD_GNU_TYPE)
dh_args=(--build="$gnu_type" --prefix=/usr '--includedir=${prefix}/include'
	'--mandir=${prefix}/share/man' '--infodir=${prefix}/share/info'
	--sysconfdir=/etc --localstatedir=/var --disable-option-checking
	--disable-silent-rules "--libdir=\${prefix}/lib/$multiarch"
	--runstatedir=/run --disable-maintainer-mode
	--disable-dependency-tracking)

log "configuring with Debian's arguments"
# shellcheck disable=SC2046,SC2086 # the flags are words, as in dh
if ! (cd "$src" && export DEB_BUILD_MAINT_OPTIONS=hardening=+all &&
	eval "$(dpkg-buildflags --export=sh)" &&
	./configure "${dh_args[@]}" $args) >configure.log 2>&1; then
	tail -n 20 configure.log >&2
	log "configure failed: a build dependency is missing (see above)"
	exit 1
fi
grep -q '^#define ME ' "$src/config.h" ||
	{ log "config.h does not define ME"; exit 1; }
echo "./configure ${dh_args[*]} $args" >"$src/.qkd-configure-args"
mv configure.log fetch.log "$src/"

rm -rf "$dir"
mkdir -p "$dir"
mv "$src" "$dir/"
echo "$dir/${src#./}" >"$dir/.qkd-configured"
log "configured in $dir/${src#./}"
cat "$dir/.qkd-configured"
