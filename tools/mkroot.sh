#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Make (or reuse) the Debian 13 (trixie) build root that every build and
# test of this project runs in.  The root is cached outside the repository,
# keyed by a hash of this script and of the package list, so a changed list
# gives a fresh root and an unchanged one is reused.  Nothing depends on the
# cache existing: without it, the root is made from scratch.
#
# Usage: tools/mkroot.sh            print the root's path, making it first
#        QKD_CACHE=/dir tools/mkroot.sh
# Environment: QKD_CACHE (default /var/cache/qkd-ipsec), QKD_MIRROR and
# QKD_SECURITY_MIRROR (default: taken from the host's apt sources).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${QKD_CACHE:-/var/cache/qkd-ipsec}
pkglist=$here/root-packages.txt

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
root=$cache/trixie-$key
if [ -f "$root/.qkd-root-complete" ]; then
	echo "$root"
	exit 0
fi

# One builder at a time: a second caller waits, then finds the root made.
mkdir -p "$cache"
exec 9>"$cache/.mkroot.lock"
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

log "making a trixie root from $mirror in $root (a few minutes)"
start=$SECONDS
debootstrap --variant=minbase --components=main trixie "$tmp" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
	{ tail -n 30 "$cache/debootstrap.log" >&2; log "debootstrap failed"; exit 1; }

cat >"$tmp/etc/apt/sources.list" <<SRC
deb $mirror trixie main
deb $mirror trixie-updates main
deb $secmirror trixie-security main
deb-src $mirror trixie main
deb-src $mirror trixie-updates main
deb-src $secmirror trixie-security main
SRC
# Containers and chroots must not start services.
printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
chmod 755 "$tmp/usr/sbin/policy-rc.d"

mount -t proc proc "$tmp/proc"
mount --rbind /sys "$tmp/sys"
mount --rbind /dev "$tmp/dev"
pkgs=$(grep -v '^#' "$pkglist" | xargs)
chroot "$tmp" /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq --no-install-recommends $pkgs" >"$cache/root-packages.log" 2>&1 ||
	{ tail -n 30 "$cache/root-packages.log" >&2; log "installing packages failed"; exit 1; }
chroot "$tmp" apt-get clean
umount -R "$tmp/proc" "$tmp/sys" "$tmp/dev"

touch "$tmp/.qkd-root-complete"
rm -rf "$root"
mv "$tmp" "$root"
trap - EXIT
# Roots of other package lists go once nobody has used them for a day: a
# VM or chroot still running in one (a parallel build, an older checkout)
# must not lose its root filesystem under it.
find "$cache" -maxdepth 1 -name 'trixie-*' ! -path "$root" -mmin +1440 \
	-exec rm -rf {} + 2>/dev/null || true
log "root ready in $((SECONDS - start)) s"
echo "$root"
