# lib-cluster.sh - an emulated cluster in network namespaces (needs root).
#
# One namespace holds a Linux bridge (the switch); the image server and N
# nodes are namespaces, each with one veth ("eth0") into the bridge.  Both
# ends of every host link are shaped with `tc tbf` at the link rate: the
# host side limits its upload, the bridge side its download, like a
# full-duplex NIC.  Addresses are 10.X.0.1 (server) and 10.X.1.K (node nK)
# in a /16 that exists only inside these namespaces; there is no default
# route and IPv6 is off, so nothing leaves them.  The filesystem is shared
# with the caller: only the network is separate.
#
#   . "$TEST_DIR/lib-cluster.sh"   (after test-lib.sh in tests)
#   cluster_up demo 4 20mbit     server, n1..n4 at 20 Mbit/s each way
#   cluster_exec n1 ping -c1 "$(cluster_ip server)"
#   cluster_down                 (also run from the exit trap)
#
# Functions (all return non-zero with a one-line message on error):
#   cluster_up NAME N RATE       create or resize (idempotent) the cluster
#   cluster_down                 remove every namespace made; kill their processes
#   cluster_hosts / cluster_nodes    "server n1 .. nN" / "n1 .. nN"
#   cluster_ns HOST              namespace name of HOST (server, nK, switch)
#   cluster_ip HOST              IPv4 address of HOST
#   cluster_exec HOST CMD...     run CMD in HOST's namespace (proxies unset)
#   cluster_set_rate HOST RATE   reshape HOST's link (both directions)
#   cluster_link_down HOST / cluster_link_up HOST    cut / restore HOST's link
#   cluster_tx_bytes HOST / cluster_rx_bytes HOST    bytes sent / received on eth0
#   cluster_pids [HOST...]       PIDs running in the namespaces (default all)
#   cluster_kill_all [HOST...]   TERM then KILL those PIDs (bounded)
#
# Namespace names are "NAME-ID-HOST" with ID from $TEST_UID (tests) or
# the shell's PID, so concurrent runs never collide.  Cleanup is registered
# with test_atexit when test-lib.sh is loaded, else as an EXIT/INT/TERM
# trap when the caller has none (callers with their own trap must call
# cluster_down from it).

CLUSTER_NAME=
CLUSTER_PREFIX=
CLUSTER_N=0
CLUSTER_RATE=
CLUSTER_NET=
CLUSTER_ID=${CLUSTER_ID:-${TEST_UID:-$(printf '%x' $$)}}
_cluster_trap_set=

_cluster_err() { echo "lib-cluster: $*" >&2; return 1; }

cluster_ns() {
	[ -n "$CLUSTER_PREFIX" ] || { _cluster_err "no cluster is up"; return 1; }
	echo "$CLUSTER_PREFIX-$1"
}

cluster_nodes() {
	local i
	for (( i = 1; i <= CLUSTER_N; i++ )); do printf 'n%d ' "$i"; done
	echo
}

cluster_hosts() { echo "server $(cluster_nodes)"; }

cluster_ip() {
	case $1 in
	server) echo "$CLUSTER_NET.0.1" ;;
	n[0-9]*) echo "$CLUSTER_NET.1.${1#n}" ;;
	*) _cluster_err "unknown host '$1'" ;;
	esac
}

# _cluster_port HOST: the bridge-side interface of HOST's link.
_cluster_port() { echo "v$1"; }

cluster_exec() {
	local ns
	ns=$(cluster_ns "$1") || return 1
	shift
	ip netns exec "$ns" env -u http_proxy -u https_proxy -u HTTP_PROXY \
		-u HTTPS_PROXY -u ALL_PROXY -u all_proxy -u no_proxy "$@"
}

# The bucket holds 128 KB, or 2 ms at the rate when that is more: at
# 1 Gbit/s a 128 KB bucket refilled too rarely for one TCP stream to get
# more than about half the link.
_cluster_tbf() {	# NS DEV RATE
	local burst
	burst=$(awk -v r="$3" 'BEGIN { m = 1; u = r; sub(/^[0-9.]+/, "", u); v = substr(r, 1, length(r) - length(u))
		if (u ~ /^k/) m = 1e3; else if (u ~ /^m/) m = 1e6; else if (u ~ /^g/) m = 1e9
		if (u ~ /bps$/) m *= 8
		b = v * m / 8 * 0.002 / 1024; printf "%d\n", (b > 128 ? b : 128) }')
	tc -n "$1" qdisc replace dev "$2" root tbf rate "$3" burst "${burst}kb" latency 50ms
}

_cluster_check_rate() {
	[[ $1 =~ ^[0-9]+(\.[0-9]+)?([kmg]?bit|[kmg]?bps)$ ]] ||
		_cluster_err "bad rate '$1' (like 20mbit)"
}

cluster_set_rate() {
	local host=$1 rate=$2
	_cluster_check_rate "$rate" || return 1
	[ -e "/run/netns/$(cluster_ns "$host")" ] || _cluster_err "no host '$host'" || return 1
	_cluster_tbf "$(cluster_ns "$host")" eth0 "$rate" &&
	_cluster_tbf "$(cluster_ns switch)" "$(_cluster_port "$host")" "$rate" ||
		_cluster_err "cannot shape the link of '$host'"
}

cluster_link_down() {
	ip -n "$(cluster_ns switch)" link set "$(_cluster_port "$1")" down ||
		_cluster_err "cannot cut the link of '$1'"
}

cluster_link_up() {
	ip -n "$(cluster_ns switch)" link set "$(_cluster_port "$1")" up ||
		_cluster_err "cannot restore the link of '$1'"
}

# _cluster_bytes HOST RX|TX: the eth0 counter from `ip -s link`.
_cluster_bytes() {
	ip -n "$(cluster_ns "$1")" -s link show dev eth0 2>/dev/null |
		awk -v want="$2:" '$1 == want { getline; print $1; found = 1; exit }
			END { exit !found }' ||
		_cluster_err "cannot read the counters of '$1'"
}
cluster_tx_bytes() { _cluster_bytes "$1" TX; }
cluster_rx_bytes() { _cluster_bytes "$1" RX; }

# _cluster_our_ns: every namespace of this cluster, existing now.
_cluster_our_ns() {
	[ -n "$CLUSTER_PREFIX" ] || return 0
	local f
	for f in /run/netns/"$CLUSTER_PREFIX"-*; do
		[ -e "$f" ] && echo "${f##*/}"
	done
	return 0
}

cluster_pids() {
	local h ns
	if [ $# -eq 0 ]; then
		for ns in $(_cluster_our_ns); do ip netns pids "$ns" 2>/dev/null; done
	else
		for h in "$@"; do ip netns pids "$(cluster_ns "$h")" 2>/dev/null; done
	fi
	return 0
}

cluster_kill_all() {
	local pids i
	pids=$(cluster_pids "$@")
	[ -n "$pids" ] || return 0
	kill -TERM $pids 2>/dev/null
	for i in $(seq 1 50); do
		pids=$(cluster_pids "$@")
		[ -n "$pids" ] || return 0
		sleep 0.1
	done
	kill -KILL $pids 2>/dev/null
	for i in $(seq 1 30); do
		[ -n "$(cluster_pids "$@")" ] || return 0
		sleep 0.1
	done
	_cluster_err "processes survive in the cluster: $(cluster_pids "$@" | tr '\n' ' ')"
}

# _cluster_ns_add NS: a fresh namespace with loopback up and IPv6 off.
_cluster_ns_add() {
	ip netns add "$1" || return 1
	ip -n "$1" link set lo up &&
	ip netns exec "$1" sh -c 'for k in all default lo; do
		echo 1 >/proc/sys/net/ipv6/conf/$k/disable_ipv6; done 2>/dev/null
		for k in call-iptables call-ip6tables call-arptables; do
		f=/proc/sys/net/bridge/bridge-nf-$k
		[ -w $f ] && echo 0 >$f; done; true'
}

_cluster_host_add() {	# HOST
	local host=$1 ns sw port
	ns=$(cluster_ns "$host") sw=$(cluster_ns switch) port=$(_cluster_port "$host")
	if [ ! -e "/run/netns/$ns" ]; then
		_cluster_ns_add "$ns" &&
		ip -n "$sw" link add "$port" type veth peer name eth0 netns "$ns" &&
		ip -n "$sw" link set "$port" master br0 up &&
		ip -n "$ns" addr add "$(cluster_ip "$host")/16" brd + dev eth0 &&
		ip -n "$ns" link set eth0 up &&
		ip -n "$ns" route add 224.0.0.0/4 dev eth0 ||
			{ _cluster_err "cannot create host '$host'"; return 1; }
	fi
	cluster_set_rate "$host" "$CLUSTER_RATE"
}

_cluster_host_del() {	# HOST
	local ns
	ns=$(cluster_ns "$1")
	[ -e "/run/netns/$ns" ] || return 0
	cluster_kill_all "$1"
	ip netns delete "$ns"
}

_cluster_trap() {
	[ -z "$_cluster_trap_set" ] || return 0
	_cluster_trap_set=1
	if declare -F test_atexit >/dev/null; then
		test_atexit cluster_down
	elif [ -z "$(trap -p EXIT)" ]; then
		trap 'cluster_down' EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
	fi
}

cluster_up() {
	local name=$1 n=$2 rate=$3 i ns f idx
	[ $# -eq 3 ] || { _cluster_err "usage: cluster_up NAME N RATE"; return 1; }
	[[ $name =~ ^[a-z][a-z0-9]{0,15}$ ]] || { _cluster_err "bad cluster name '$name'"; return 1; }
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 250 ] ||
		{ _cluster_err "bad node count '$n' (1 to 250)"; return 1; }
	_cluster_check_rate "$rate" || return 1
	if [ -n "$CLUSTER_NAME" ] && [ "$CLUSTER_NAME" != "$name" ]; then
		_cluster_err "cluster '$CLUSTER_NAME' is already up"; return 1
	fi
	CLUSTER_NAME=$name CLUSTER_PREFIX="$name-$CLUSTER_ID" CLUSTER_RATE=$rate
	CLUSTER_NET="10.$(( 16 + 16#${CLUSTER_ID:0:4} % 200 ))"
	_cluster_trap
	ns=$(cluster_ns switch)
	if [ ! -e "/run/netns/$ns" ]; then
		_cluster_ns_add "$ns" &&
		ip -n "$ns" link add br0 type bridge stp_state 0 forward_delay 0 \
			mcast_snooping 0 &&
		ip -n "$ns" link set br0 up ||
			{ _cluster_err "cannot create the switch"; return 1; }
	fi
	# Shrink: remove nodes beyond N.
	for f in /run/netns/"$CLUSTER_PREFIX"-n*; do
		[ -e "$f" ] || continue
		idx=${f##*-n}
		[ "$idx" -le "$n" ] || _cluster_host_del "n$idx" || return 1
	done
	CLUSTER_N=$n
	_cluster_host_add server || return 1
	for (( i = 1; i <= n; i++ )); do
		_cluster_host_add "n$i" || return 1
	done
}

cluster_down() {
	local ns rc=0 i
	[ -n "$CLUSTER_PREFIX" ] || return 0
	cluster_kill_all || rc=1
	for ns in $(_cluster_our_ns); do
		ip netns delete "$ns" 2>/dev/null || rc=1
	done
	for i in $(seq 1 50); do
		[ -z "$(_cluster_our_ns)" ] && break
		sleep 0.1
	done
	[ -z "$(_cluster_our_ns)" ] || { _cluster_err "namespaces left: $(_cluster_our_ns | tr '\n' ' ')"; rc=1; }
	CLUSTER_N=0 CLUSTER_NAME= CLUSTER_PREFIX=
	return $rc
}
