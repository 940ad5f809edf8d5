#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Make a throw-away test PKI for the KME simulator with the openssl CLI:
# a test CA, one server certificate per KME, one client certificate per SAE
# (the SAE ID is the certificate's CN and also a DNS SAN), and a second,
# unrelated "rogue" CA with a server and a client certificate signed by it
# (for the wrong-CA tests).  Keys are EC P-256 (fast to make).  Nothing made
# here is ever committed: tests call this at test time into a temp dir.
#
# Usage: mkcerts.sh DIR NAME...
#   NAME is  kme:ID[,SAN...]   a KME server certificate, CN=ID, with the SANs
#                              DNS:localhost, IP:127.0.0.1, IP:::1 and any
#                              extra SAN given (e.g. kme:KME_A,IP:10.0.0.1)
#        or  sae:ID            an SAE client certificate, CN=ID
#
# Writes into DIR (created if needed):
#   ca.crt ca.key                    the test CA (kept if DIR already has one)
#   ID.crt ID.key                    each KME's and SAE's certificate and key
#   rogue-ca.crt rogue-ca.key        an unrelated CA
#   rogue-server.crt rogue-server.key  server cert (localhost, 127.0.0.1) from it
#   rogue-client.crt rogue-client.key  client cert (CN=rogue) from it
#
# Example: mkcerts.sh /tmp/pki kme:KME_A kme:KME_B sae:SAE_A sae:SAE_B
set -euo pipefail

usage() { sed -n '3,/^set -e/p' "$0" | sed -e '/^set -e/d' -e 's/^# \{0,1\}//'; }

if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
	usage
	[ $# -ge 1 ] && exit 0
	exit 2
fi

dir=$1
shift
mkdir -p "$dir"
cd "$dir"
umask 077

days=30
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# mkca NAME CN
mkca() {
	newkey "$1.key"
	openssl req -new -x509 -key "$1.key" -out "$1.crt" -days "$days" \
		-subj "/O=qkd-ipsec test/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# mkcert CA NAME CN KIND(server|client) SANS
mkcert() {
	local ca=$1 name=$2 cn=$3 kind=$4 sans=$5 eku
	if [ "$kind" = server ]; then eku=serverAuth; else eku=clientAuth; fi
	newkey "$name.key"
	openssl req -new -key "$name.key" -out "$tmp/$name.csr" \
		-subj "/O=qkd-ipsec test/CN=$cn" 2>/dev/null
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=$eku"
		echo "subjectAltName=$sans"
	} >"$tmp/$name.ext"
	openssl x509 -req -in "$tmp/$name.csr" -CA "$ca.crt" -CAkey "$ca.key" \
		-CAcreateserial -CAserial "$tmp/$ca.srl" -days "$days" \
		-extfile "$tmp/$name.ext" -out "$name.crt" 2>/dev/null
}

check_id() {
	case $1 in
	'' | *[!A-Za-z0-9._-]*)
		echo "mkcerts.sh: bad ID '$1' (letters, digits, . _ - only)" >&2
		exit 2 ;;
	ca | ca.* | rogue-*)
		echo "mkcerts.sh: ID '$1' is reserved" >&2
		exit 2 ;;
	esac
}

# An existing CA in DIR is kept, so that certificates can be added later.
if ! [ -f ca.crt ] || ! [ -f ca.key ]; then
	mkca ca "qkd-ipsec test CA"
fi
if ! [ -f rogue-ca.crt ] || ! [ -f rogue-ca.key ]; then
	mkca rogue-ca "rogue test CA"
fi
mkcert rogue-ca rogue-server localhost server "DNS:localhost,IP:127.0.0.1,IP:::1"
mkcert rogue-ca rogue-client rogue client "DNS:rogue"

for arg in "$@"; do
	case $arg in
	kme:*)
		spec=${arg#kme:}
		id=${spec%%,*}
		extra=
		[ "$spec" != "$id" ] && extra=,${spec#*,}
		check_id "$id"
		mkcert ca "$id" "$id" server "DNS:localhost,IP:127.0.0.1,IP:::1$extra"
		;;
	sae:*)
		id=${arg#sae:}
		check_id "$id"
		mkcert ca "$id" "$id" client "DNS:$id"
		;;
	*)
		echo "mkcerts.sh: bad argument '$arg' (kme:ID[,SAN...] or sae:ID)" >&2
		exit 2 ;;
	esac
done
chmod 644 ./*.crt
