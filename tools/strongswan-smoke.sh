#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A quick check of the qkd plugins in Debian's charon, inside a build root
# (tools/inroot.sh tools/strongswan-smoke.sh; QKD_SUITE=forky for the
# forky root), on any kernel:
#
#   [ charon "tokyo" ] va ---- veth ---- vb [ charon "osaka" ]
#     netns + mount ns,  10.99.0.1      10.99.0.2   netns + mount ns,
#     private /run                                  private /run
#
# Which plugins: qkd always; qkd-mlkem only into a charon without ML-KEM
# of its own (libstrongswan before 6.0.2, e.g. trixie's 6.0.1), as
# Documentation/deploy.rst says.
#
# 1. charon's "loaded plugins" line has qkd (and qkd-mlkem exactly when
#    it is wanted): a loader that refuses the plugin (strongSwan 6.0.3 and
#    later check NAME_plugin_version) fails here.
# 2. `swanctl --list-algs` lists ML_KEM_512/768/1024 from the one expected
#    provider (qkd-mlkem, or strongSwan's openssl plugin) and the qkd method
#    from the qkd plugin.
# 3. An IKE_SA (no CHILD_SA: the host kernel may have no ESP) with
#    aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke2_qkd comes up, and an
#    IKE re-key with the same proposal.  Without the qkdpool module there
#    is no pool, so both sides log the qkd fallback (NONE -> NAK, zero-byte
#    contribution): this checks the method's negotiation, the payload
#    round and that the derivation agrees on both sides after a NAK.
# 4. The same with the combined method, x25519-ke1_mlkem768qkd: one
#    IKE_INTERMEDIATE for the set-up and one IKE_FOLLOWUP_KE for the re-key
#    (not two), the fallback leaving ML-KEM's secret alone on both sides;
#    its ML-KEM comes from the crypto factory, i.e. from the same provider
#    as in 2.  And refused as the first key exchange of an IKE_SA.
#
# Each charon runs in its own network and mount namespace with a private
# /run (charon's pid file and vici socket are fixed paths there) and a
# plugin directory with the plugins bind-mounted over the root's.
# Prints TAP.  Usage: tools/strongswan-smoke.sh [QKD.so [QKD-MLKEM.so]]
# (default: this root's build in build/strongswan-plugin/SUITE).
set -euo pipefail

suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
plugin=${1:-/src/build/strongswan-plugin/$suite/libstrongswan-qkd.so}
mlkem_plugin=${2:-$(dirname "$plugin")/libstrongswan-qkd-mlkem.so}
work=$(mktemp -d /tmp/qkd-smoke.XXXXXX)
pids=()
n=0 failed=0

cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

for so in "$plugin" "$mlkem_plugin"; do
	[ -f "$so" ] || { echo "Bail out! no plugin at $so"; exit 1; }
done
# strongSwan 6.0.2 and later have ML-KEM in the openssl plugin (OpenSSL 3.5
# and later): there qkd-mlkem would be a second provider of the same
# methods, and is not loaded.
swan=$(dpkg-query -W -f='${Version}' libstrongswan)
if dpkg --compare-versions "$swan" ge 6.0.2; then
	load="qkd" mlkem_from=openssl
else
	load="qkd qkd-mlkem" mlkem_from=qkd-mlkem
fi
echo "# libstrongswan $swan: loading $load; ML-KEM from $mlkem_from"
mkdir -p "$work/plugins"
cp /usr/lib/ipsec/plugins/*.so "$work/plugins/"
cp "$plugin" "$work/plugins/libstrongswan-qkd.so"
cp "$mlkem_plugin" "$work/plugins/libstrongswan-qkd-mlkem.so"

# One holder process per namespace; charon and swanctl enter it.
for name in tokyo osaka; do
	unshare --net --mount --propagation unchanged sleep infinity &
	pids+=($!)
	echo $! >"$work/$name.pid"
done
sleep 0.2
tpid=$(cat "$work/tokyo.pid") opid=$(cat "$work/osaka.pid")
# made inside tokyo's namespace: nothing touches the caller's
nsenter -t "$tpid" -n ip link add va type veth peer name vb netns "$opid"
nsenter -t "$tpid" -n sh -c 'ip addr add 10.99.0.1/24 dev va && ip link set va up && ip link set lo up'
nsenter -t "$opid" -n sh -c 'ip addr add 10.99.0.2/24 dev vb && ip link set vb up && ip link set lo up'

write_conf() {
	local name=$1 me=$2 peer=$3
	mkdir -p "$work/$name"
	cat >"$work/$name/strongswan.conf" <<CONF
charon {
	load = random nonce openssl pem pkcs1 pubkey x509 kernel-netlink socket-default vici $load
	send_vendor_id = yes
	install_routes = no
	filelog {
		log {
			path = $work/$name/charon.log
			flush_line = yes
			default = 1
			ike = 2
			cfg = 1
		}
	}
	plugins {
		qkd {
			policy = prefer
		}
	}
}
CONF
	cat >"$work/$name/swanctl.conf" <<CONF
connections {
	qkd {
		local_addrs = $me
		remote_addrs = $peer
		proposals = aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke2_qkd
		local { auth = psk
			id = $name }
		remote { auth = psk }
	}
	first {
		local_addrs = $me
		remote_addrs = $peer
		proposals = aes256gcm16-prfsha384-mlkem768qkd
		local { auth = psk
			id = $name }
		remote { auth = psk }
	}
	combo {
		local_addrs = $me
		remote_addrs = $peer
		proposals = aes256gcm16-prfsha384-x25519-ke1_mlkem768qkd
		local { auth = psk
			id = $name }
		remote { auth = psk }
	}
}
secrets {
	ike-1 { secret = qkd-smoke-test-secret }
}
CONF
}
write_conf tokyo 10.99.0.1 10.99.0.2
write_conf osaka 10.99.0.2 10.99.0.1

# charon in the holder's namespaces, with a private /run and our plugins.
start_charon() {
	local name=$1 pid=$2
	nsenter -t "$pid" -n -m -r -w sh -c "
		mount -t tmpfs tmpfs /run &&
		mount --bind $work/plugins /usr/lib/ipsec/plugins &&
		STRONGSWAN_CONF=$work/$name/strongswan.conf exec /usr/lib/ipsec/charon" \
		>"$work/$name/stdout" 2>&1 &
	pids+=($!)
}
swanctl_in() {
	local pid=$1
	shift
	# swanctl loads its plugins from the root's strongswan.conf: quiet
	nsenter -t "$pid" -n -m -r -w swanctl "$@" 2>&1 | grep -v "failed to load"
}
start_charon tokyo "$tpid"
start_charon osaka "$opid"
for _ in $(seq 50); do
	[ -S "/proc/$tpid/root/run/charon.vici" ] && [ -S "/proc/$opid/root/run/charon.vici" ] && break
	sleep 0.2
done

echo "1..13"
loaded=$(grep -ho 'loaded plugins: .*' "$work/tokyo/charon.log" | head -n 1 || true)
echo "# tokyo's charon: $loaded"
grep -h 'qkd' "$work/tokyo/charon.log" | grep -iE 'fail|version|missing' | sed 's/^/# /' || true
# qkd is loaded, and qkd-mlkem exactly when it is wanted
loads_wanted() {
	local got=" ${loaded#loaded plugins: } "
	[[ $got == *" qkd "* ]] || return 1
	if [[ " $load " == *" qkd-mlkem "* ]]; then
		[[ $got == *" qkd-mlkem "* ]]
	else
		[[ $got != *" qkd-mlkem "* ]]
	fi
}
check "charon loads $load" loads_wanted
algs=$(swanctl_in "$tpid" --list-algs 2>&1 || true)
{ echo "$algs" | grep -E 'ML_KEM|65001|qkd' || echo "$algs" | head -n 5; } | sed 's/^/# /'
# each ML-KEM method once, from the expected provider
mlkem_provider() {
	local m
	for m in 512 768 1024; do
		[ "$(grep -c "ML_KEM_$m\[" <<<"$algs")" -eq 1 ] || return 1
		grep -q "ML_KEM_$m\[$mlkem_from\]" <<<"$algs" || return 1
	done
}
check "list-algs: ML_KEM_512/768/1024 from $mlkem_from alone" mlkem_provider
check "list-algs: the qkd method (65001)" sh -c "echo '$algs' | grep -q '(65001)\[qkd\]\|QKD\[qkd\]'"
check "list-algs: mlkem512qkd/768qkd/1024qkd (65002-65004) from qkd" \
	sh -c "for m in 65002 65003 65004; do echo '$algs' | grep -q \"(\$m)\[qkd\]\" || exit 1; done"

for name in tokyo osaka; do
	pid=$tpid
	[ $name = osaka ] && pid=$opid
	STRONGSWAN_CONF=$work/$name/strongswan.conf swanctl_in "$pid" --load-all \
		--file "$work/$name/swanctl.conf" >"$work/$name/load.log" 2>&1 || true
done
init=$(timeout 30 nsenter -t "$tpid" -n -m -r -w swanctl --initiate --ike qkd 2>&1 || true)
echo "$init" | tail -n 3 | sed 's/^/# /'
sas=$(swanctl_in "$tpid" --list-sas --ike qkd 2>&1 || true)
echo "$sas" | sed 's/^/# /'
check "IKE_SA established with x25519 + ML-KEM-768 + qkd" \
	sh -c "echo '$sas' | grep -q ESTABLISHED && echo '$sas' | grep -q 'KE1_ML_KEM_768'"
check "initiator: qkd fell back (no pool), logged without key material" \
	grep -q "qkd: initiator: falling back without a QKD key" "$work/tokyo/charon.log"
check "responder: NAK after NONE" \
	grep -q "qkd: responder: falling back without a QKD key (no offer)" "$work/osaka/charon.log"

rekey=$(timeout 30 nsenter -t "$tpid" -n -m -r -w swanctl --rekey --ike qkd 2>&1 || true)
sleep 2
sas=$(swanctl_in "$tpid" --list-sas --ike qkd 2>&1 || true)
echo "$sas" | sed 's/^/# /'
check "IKE re-key with ke1_mlkem768-ke2_qkd" \
	sh -c "[ \$(grep -c 'qkd: initiator: falling back' '$work/tokyo/charon.log') -ge 2 ] && echo '$sas' | grep -q ESTABLISHED"
# the combined method: ML-KEM and qkd in one additional exchange
log=$work/tokyo/charon.log
# fragments are logged as "[ EF(1/2) ]": count the messages, "[ KE ..."
count() { grep -c "$1 [0-9]* \[ KE" "$2" || true; }
inter=$(count 'generating IKE_INTERMEDIATE request' "$log")
# osaka names the IKE_SA after the first config matching the addresses
# until IKE_AUTH: count its NAKs instead of looking for the name
naks=$(grep -c 'qkd: responder: falling back without a QKD key (no offer)' "$work/osaka/charon.log" || true)
init=$(timeout 30 nsenter -t "$tpid" -n -m -r -w swanctl --initiate --ike combo 2>&1 || true)
echo "$init" | tail -n 3 | sed 's/^/# /'
sas=$(swanctl_in "$tpid" --list-sas --ike combo 2>&1 || true)
echo "$sas" | sed 's/^/# /'
inter=$(( $(count 'generating IKE_INTERMEDIATE request' "$log") - inter ))
check "IKE_SA with x25519-ke1_mlkem768qkd: one IKE_INTERMEDIATE ($inter)" \
	sh -c "echo '$sas' | grep -q ESTABLISHED && echo '$sas' | grep -q '65003' && [ $inter -eq 1 ]"
check "combined: both sides fell back to ML-KEM alone (no pool)" \
	sh -c "grep -q 'qkd: initiator: falling back without a QKD key (.*), pool .*, combo\[' '$log' &&
		[ \$(grep -c 'qkd: responder: falling back without a QKD key (no offer)' '$work/osaka/charon.log') -gt $naks ]"
fkes=$(count 'generating IKE_FOLLOWUP_KE request' "$log")
rekey=$(timeout 30 nsenter -t "$tpid" -n -m -r -w swanctl --rekey --ike combo 2>&1 || true)
sleep 2
sas=$(swanctl_in "$tpid" --list-sas --ike combo 2>&1 || true)
echo "$sas" | sed 's/^/# /'
fkes=$(( $(count 'generating IKE_FOLLOWUP_KE request' "$log") - fkes ))
check "IKE re-key with ke1_mlkem768qkd: one IKE_FOLLOWUP_KE ($fkes)" \
	sh -c "echo '$sas' | grep -q ESTABLISHED && [ $fkes -eq 1 ]"
check "no charon error about qkd or ML-KEM" \
	sh -c "! grep -hiE 'qkd: .*(invalid|refusing)|ML_KEM.*(failed|invalid)|no acceptable proposal|NO_PROPOSAL' '$work'/*/charon.log"

# the combined method as the first key exchange: refused before anything
# is sent (its offer would travel in the clear in IKE_SA_INIT)
timeout 30 nsenter -t "$tpid" -n -m -r -w swanctl --initiate --ike first >/dev/null 2>&1 || true
check "mlkem768qkd refused as the IKE_SA_INIT key exchange" \
	grep -q 'qkd: the mlkem768qkd key exchange of an IKE_SA is allowed as an additional key exchange only' "$log"

if [ "$failed" -ne 0 ]; then
	for name in tokyo osaka; do
		echo "# --- $name charon.log"
		sed 's/^/# /' "$work/$name/charon.log" | tail -n 60
	done
fi
[ "$failed" -eq 0 ]
