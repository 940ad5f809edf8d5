#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Make (or reuse) a Debian build root.  SUITE trixie (Debian 13, the
# default) is the root that every build and test of this project runs in
# and the test VM's root filesystem; SUITE forky (Debian testing, whose
# strongSwan is newer) is a small root in which the strongSwan plugin is
# built and run a second time (Documentation/testing.rst).  Each root is
# cached outside the repository, keyed by its suite and a hash of this
# script and of its package list, so a changed list gives a fresh root and
# an unchanged one is reused.  Nothing depends on the cache existing:
# without it, the root is made from scratch.
#
# Usage: tools/mkroot.sh [SUITE]    print the root's path, making it first
#        QKD_CACHE=/dir tools/mkroot.sh
# Environment: QKD_SUITE (SUITE when none is given), QKD_CACHE (default
# /var/cache/qkd-ipsec), QKD_MIRROR and QKD_SECURITY_MIRROR (default: taken
# from the host's apt sources).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${QKD_CACHE:-/var/cache/qkd-ipsec}
suite=${1:-${QKD_SUITE:-trixie}}
case $suite in
trixie) pkglist=$here/root-packages.txt ;;
forky) pkglist=$here/root-packages-forky.txt ;;
*) echo "mkroot: unknown suite $suite (trixie, forky)" >&2; exit 2 ;;
esac

log() { echo "mkroot: $*" >&2; }

# The mirror is the host's own: users have their own mirrors, so no host
# name is written here.
host_mirror() {
	local want=$1 uri
	uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v s="$want" '$1 == "deb" && $3 == s { print $2; exit }')
	if [ -z "$uri" ]; then
		uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v s="$want" '
			/^URIs:/ { u = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) { print u; exit } }')
	fi
	echo "$uri"
}

mirror=${QKD_MIRROR:-$(host_mirror bookworm)}
secmirror=${QKD_SECURITY_MIRROR:-$(host_mirror bookworm-security)}
[ -n "$mirror" ] || { log "no Debian mirror in the host's apt sources; set QKD_MIRROR"; exit 1; }
[ -n "$secmirror" ] || secmirror=$mirror

key=$(cat "$0" "$pkglist" | sha256sum | cut -c1-16)
root=$cache/$suite-$key
if [ -f "$root/.qkd-root-complete" ]; then
	echo "$root"
	exit 0
fi

# One builder per suite at a time: a second caller waits, then finds the
# root made.
mkdir -p "$cache"
exec 9>"$cache/.mkroot-$suite.lock"
flock 9
if [ -f "$root/.qkd-root-complete" ]; then
	echo "$root"
	exit 0
fi

command -v debootstrap >/dev/null || { log "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.building.XXXXXX")
chmod 755 "$tmp"  # mktemp makes it 0700; users in the root need to enter it
cleanup() { umount -R "$tmp/proc" "$tmp/sys" "$tmp/dev" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

# Bookworm's debootstrap has no script for forky: testing is made like sid.
script=/usr/share/debootstrap/scripts/$suite
[ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid

log "making a $suite root from $mirror in $root (a few minutes)"
start=$SECONDS
debootstrap --variant=minbase --components=main "$suite" "$tmp" "$mirror" "$script" \
	>"$cache/debootstrap-$suite.log" 2>&1 ||
	{ tail -n 30 "$cache/debootstrap-$suite.log" >&2; log "debootstrap failed"; exit 1; }

case $suite in
trixie)
	cat >"$tmp/etc/apt/sources.list" <<SRC
deb $mirror trixie main
deb $mirror trixie-updates main
deb $secmirror trixie-security main
deb-src $mirror trixie main
deb-src $mirror trixie-updates main
deb-src $secmirror trixie-security main
SRC
	;;
forky)
	# A mirror's testing Release file may be past its Valid-Until (it is
	# refreshed only when testing migrates); the signature still holds.
	cat >"$tmp/etc/apt/sources.list" <<SRC
deb [check-valid-until=no] $mirror forky main
deb-src [check-valid-until=no] $mirror forky main
SRC
	;;
esac
# Containers and chroots must not start services.
printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
chmod 755 "$tmp/usr/sbin/policy-rc.d"

mount -t proc proc "$tmp/proc"
mount --rbind /sys "$tmp/sys"
mount --rbind /dev "$tmp/dev"
# The list holds package names and "build-dep SOURCE" lines (apt-get
# build-dep: a source package's build dependencies, whatever its version).
pkgs=$(grep -v -e '^#' -e '^build-dep ' "$pkglist" | xargs)
deps=$(sed -n 's/^build-dep //p' "$pkglist" | xargs)
plog=$cache/root-packages-$suite.log
apt="DEBIAN_FRONTEND=noninteractive apt-get -y -qq --no-install-recommends"
chroot "$tmp" /bin/sh -c "apt-get update -qq && $apt install $pkgs &&
	{ [ -z '$deps' ] || $apt build-dep $deps; }" >"$plog" 2>&1 ||
	{ tail -n 30 "$plog" >&2; log "installing packages failed"; exit 1; }
chroot "$tmp" apt-get clean
umount -R "$tmp/proc" "$tmp/sys" "$tmp/dev"

touch "$tmp/.qkd-root-complete"
rm -rf "$root"
mv "$tmp" "$root"
trap - EXIT
# Roots of other package lists go once nobody has used them for a day: a
# VM or chroot still running in one (a parallel build, an older checkout)
# must not lose its root filesystem under it.
find "$cache" -maxdepth 1 -name "$suite-*" ! -path "$root" -mmin +1440 \
	-exec rm -rf {} + 2>/dev/null || true
log "root ready in $((SECONDS - start)) s"
echo "$root"
