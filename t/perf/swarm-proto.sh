#!/bin/bash
# swarm-proto.sh - compare swarm schedules on an emulated cluster.
#
#   t/perf/swarm-proto.sh [-n NODES] [-r MBIT] [-s MB] [-p PIECE_KIB]
#                         [-k] VARIANT...
#
# One bridge namespace (the switch), one server namespace and NODES node
# namespaces, each linked by a veth pair shaped with tbf at MBIT on both
# ends.  For each VARIANT (plain, super, stripe, stripe1 = the first
# striping schedule; "+oN" / "+dN" after stripe set its BT_STRIPE_* options
# and depth, e.g. stripe+o1+d3; suffixes: "-seq" makes the nodes download
# sequentially, "-stock" makes node 1 ignore the striping schedule like a
# stock client, "-slow" puts node 1 on a link ten times slower, "-late"
# starts the last quarter of the nodes 5 s late, "-die" kills node N at
# 40% of the ideal time (-slow does not wait for the slow node); e.g. stripe-seq, stripe-slow) it seeds a random MB-sized
# file from the server with t/perf/proto-seed, starts every node's
# t/perf/proto-node at once and prints one line: time until all nodes are
# done, the same for the regular nodes (not slow, late or dead; "reg")
# and the late nodes (from their start), the server's sent bytes (veth counters) in image
# sizes, the nodes' mean upload utilisation, and the CPU pressure
# (/proc/pressure/cpu "some") over the run.  Needs root.  Everything it
# creates carries a unique id and is removed on exit; processes are stopped
# by PID only.  -k keeps the work directory.
set -u
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD

N=8 RATE=20 SIZE=30 PIECE=0 KEEP=
while getopts n:r:s:p:k o; do
	case $o in
	n) N=$OPTARG ;; r) RATE=$OPTARG ;; s) SIZE=$OPTARG ;;
	p) PIECE=$OPTARG ;; k) KEEP=1 ;;
	*) echo "usage: $0 [-n N] [-r MBIT] [-s MB] [-p KIB] [-k] VARIANT..." >&2
	   exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- plain super stripe
[ "$(id -u)" = 0 ] || { echo "swarm-proto: needs root" >&2; exit 2; }
for p in proto-seed proto-node; do
	[ -x t/perf/$p ] || { echo "swarm-proto: build t/perf/$p first (make)" >&2; exit 2; }
done

ID=sp$$$RANDOM
W=/dev/shm/$ID
BR=$ID-br SRV=$ID-srv
PIDS=()
NSS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	[ -n "$KEEP" ] && echo "# kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# nsx NS CMD...: run CMD in namespace NS (exec: "nsx ... &" gives CMD's PID)
nsx() { local ns=$1; shift; exec ip netns exec "$ns" env -u http_proxy -u https_proxy "$@"; }

# host NS IP PORTNAME: a namespace wired to the bridge, shaped both ways.
host() {
	ip netns add "$1" && NSS+=("$1") &&
	ip link add "$3" netns "$BR" type veth peer name eth0 netns "$1" &&
	ip -n "$BR" link set "$3" master br0 up &&
	(nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1) &&
	ip -n "$1" addr add "$2/16" dev eth0 &&
	ip -n "$1" link set lo up && ip -n "$1" link set eth0 up &&
	tc -n "$1" qdisc add dev eth0 root tbf rate "${RATE}mbit" burst 128kb latency 50ms &&
	tc -n "$BR" qdisc add dev "$3" root tbf rate "${RATE}mbit" burst 128kb latency 50ms
}

node_ip() { echo "10.77.$(($1 / 200 + 1)).$(($1 % 200 + 10))"; }

setup() {
	ip netns add "$BR" && NSS+=("$BR") &&
	ip -n "$BR" link add br0 type bridge stp_state 0 &&
	ip -n "$BR" link set br0 up &&
	host "$SRV" 10.77.0.1 vs || return 1
	for i in $(seq 1 "$N"); do
		host "$ID-n$i" "$(node_ip "$i")" "v$i" || return 1
	done
	mkdir -p "$W/img" &&
	head -c "${SIZE}M" /dev/urandom > "$W/img/image.tar" &&
	t/perf/proto-seed make "$W/img/image.tar" "$W/image.torrent" "$PIECE" > "$W/make.out" &&
	cat "$W/make.out" | sed 's/^/# /'
}

# bytes received by bridge port $1 (= sent by that host)
port_bytes() { cat "/sys/class/net/$1/statistics/rx_bytes"; }
counters() {
	(nsx "$BR" bash -c 'cd /sys/class/net; for p in vs $(seq -f "v%g" 1 '"$N"'); do
		cat $p/statistics/rx_bytes; done') | tr '\n' ' '
}
psi_some() { awk '/^some/ { sub("total=", "", $5); print $5 }' /proc/pressure/cpu; }
now_ms() { date +%s%3N; }

# start_node I: starts node I's proto-node in the background (sets NPID[I])
start_node() {
	local i=$1
	mkdir -p "$W/n$i"
	nsx "$ID-n$i" t/perf/proto-node $SEQ $([ "$i" = 1 ] && echo $STOCK) "$W/image.torrent" "$W/n$i" \
		"$(node_ip "$i"):6881" 10.77.0.1:6881 "${PEERS[@]}" \
		> "$W/n$i.out.$V" 2>&1 &
	NPID[$i]=$!
	PIDS+=($!)
}

run_variant() {
	local v=$1 mode=${1%%-*} slow= late= die= i pid ready t0 t_end
	local base=${mode%%+*} sopts= sdepth=
	case $mode in *+o*) sopts=${mode#*+o}; sopts=${sopts%%+*} ;; esac
	case $mode in *+d*) sdepth=${mode#*+d}; sdepth=${sdepth%%+*} ;; esac
	V=$v SEQ= STOCK= PEERS=() NPID=()
	case $v in *-seq*) SEQ=-s ;; esac
	case $v in *-stock*) STOCK=-S ;; esac
	case $v in *-slow*) slow=1 ;; esac
	case $v in *-late*) late=$((N - N / 4 + 1)) ;; esac	# nodes late..N
	case $v in *-die*) die=$N ;; esac
	local r1=$RATE
	[ -n "$slow" ] && r1=$(awk -v r="$RATE" 'BEGIN { print r / 10 }')
	tc -n "$ID-n1" qdisc change dev eth0 root tbf rate "${r1}mbit" burst 128kb latency 50ms
	tc -n "$BR" qdisc change dev v1 root tbf rate "${r1}mbit" burst 128kb latency 50ms
	rm -rf "$W"/n* "$W"/*.out.*
	PROTO_STRIPE_OPTS=$sopts PROTO_STRIPE_DEPTH=$sdepth \
	nsx "$SRV" t/perf/proto-seed "$base" "$W/image.torrent" "$W/img" 10.77.0.1:6881 \
		> "$W/seed.out.$v" 2>&1 &
	local spid=$!
	PIDS+=("$spid")
	for i in $(seq 1 100); do
		grep -q '^ready' "$W/seed.out.$v" && break
		sleep 0.1
	done
	grep -q '^ready' "$W/seed.out.$v" || { echo "seed failed: $(cat "$W/seed.out.$v")"; return 1; }
	for i in $(seq 1 "$N"); do PEERS+=("$(node_ip "$i"):6881"); done
	local c0 p0
	c0=($(counters)); p0=$(psi_some)
	# the server's sent bytes every 100 ms (when its link starts/stops)
	(nsx "$BR" bash -c 'while :; do echo "$(date +%s%3N) $(cat /sys/class/net/vs/statistics/rx_bytes)"; sleep 0.1; done') \
		> "$W/srv.$v" 2>/dev/null &
	local smp=$!
	PIDS+=("$smp")
	t0=$(now_ms)
	for i in $(seq 1 "$N"); do
		[ -n "$late" ] && [ "$i" -ge "$late" ] && continue
		start_node "$i"
	done
	# bounded wait: 10 x the ideal time + 30 s
	local ideal_ms=$((SIZE * 1048576 * 8 / RATE / 1000))
	local limit=$((ideal_ms * 10 + 30000)) done_n=0 want=$N late_started= killed=
	[ -n "$die" ] && want=$((N - 1))
	# the slow node needs ~10 x the ideal: wait for the others only
	[ -n "$slow" ] && want=$((want - 1))
	while :; do
		local el=$(($(now_ms) - t0))
		if [ -n "$late" ] && [ -z "$late_started" ] && [ "$el" -ge 5000 ]; then
			for i in $(seq "$late" "$N"); do start_node "$i"; done
			late_started=1
		fi
		if [ -n "$die" ] && [ -z "$killed" ] && [ "$el" -ge $((ideal_ms * 4 / 10)) ]; then
			kill -9 "${NPID[$die]}" 2>/dev/null
			killed=1
		fi
		done_n=$(cat "$W"/n*.out."$v" 2>/dev/null | grep -c '^done')
		[ "$done_n" -ge "$want" ] && break
		[ "$el" -gt "$limit" ] && break
		sleep 0.1
	done
	t_end=$(now_ms)
	local c1 p1
	c1=($(counters)); p1=$(psi_some)
	for pid in "${NPID[@]}" "$spid" "$smp"; do kill "$pid" 2>/dev/null; done
	for pid in "${NPID[@]}" "$spid" "$smp"; do wait "$pid" 2>/dev/null; done
	# server link: ms from t0 until 2% and 98% of its bytes were sent
	local srvt
	srvt=$(awk -v t0="$t0" 'NR == 1 { b0 = $2 } { t[NR] = $1; b[NR] = $2 - b0 }
		END { for (i = 1; i <= NR; i++) {
			if (s == "" && b[i] >= 0.02 * b[NR]) s = t[i] - t0
			if (e == "" && b[i] >= 0.98 * b[NR]) e = t[i] - t0 }
		      printf "%.1f-%.1fs", s / 1000, e / 1000 }' "$W/srv.$v")
	local bad=0
	for i in $(seq 1 "$N"); do
		[ "$i" = "$die" ] && continue
		[ -n "$slow" ] && [ "$i" = 1 ] && ! grep -q '^done' "$W/n1.out.$v" && continue
		cmp -s "$W/img/image.tar" "$W/n$i/image.tar" || bad=$((bad + 1))
	done
	# per node: "I DONE_MS_SINCE_T0 KIND" (reg = on time, normal link)
	local times
	times=$(for i in $(seq 1 "$N"); do
		k=reg
		[ -n "$slow" ] && [ "$i" = 1 ] && k=slow
		[ -n "$late" ] && [ "$i" -ge "$late" ] && k=late
		[ "$i" = "$die" ] && k=dead
		awk -v t0="$t0" -v i="$i" -v k="$k" '/^done/ { print i, $2 - t0, k }' "$W/n$i.out.$v"
	done)
	local lags
	lags=$(cat "$W"/n*.out."$v" | awk '/^done/ { s += $3; n++ } END { if (n) printf "%d", s / n }')
	local size_b
	size_b=$(stat -c %s "$W/img/image.tar")
	echo "$times" | awk -v v="$v" -v n="$N" -v rate="$RATE" -v size="$size_b" \
	    -v srvt="$srvt" -v done_n="$done_n" -v want="$want" -v bad="$bad" \
	    -v p0="$p0" -v p1="$p1" -v t0="$t0" -v t1="$t_end" -v lag="$lags" \
	    -v c0="${c0[*]}" -v c1="${c1[*]}" -v seedl="$(grep '^seed:' "$W/seed.out.$v")" '
	NF == 3 {
		t = $2
		if (t > last) last = t
		if (first == "" || t < first) first = t
		if ($3 == "reg") { if (t > reg) reg = t; if (rfirst == "" || t < rfirst) rfirst = t }
		if ($3 == "late" && t - 5000 > lt) lt = t - 5000
		if ($3 == "slow") sl = t
	}
	END {
		split(c0, a, " "); split(c1, b, " ")
		ideal = size * 8 / (rate * 1e6)
		all = last / 1000
		srv = (b[1] - a[1]) / size
		up = 0
		for (i = 2; i <= n + 1; i++) up += b[i] - a[i]
		util = up / n / (rate * 1e6 / 8 * all)
		cpu = (p1 - p0) / ((t1 - t0) * 1000) * 100
		split(seedl, s, " ")
		extra = ""
		if (lt) extra = extra sprintf(" late(from start) %.2fs (%4.2fx)", lt / 1000, lt / 1000 / ideal)
		if (sl) extra = extra sprintf(" slow %.2fs", sl / 1000)
		printf "%-22s N=%-3d ideal %5.1fs all %6.2fs (%4.2fx) reg %6.2fs (%4.2fx) reg-spread %5.2fs server %s %4.2f sizes (payload %4.2f) node-up %3.0f%% cpu-some %3.0f%% prefix-lag %sms fresh %s repeat %s orphan %s endgame %s stock %s done %d/%d bad %d%s\n",
			v, n, ideal, all, all / ideal, reg / 1000, reg / 1000 / ideal, (reg - rfirst) / 1000,
			srvt, srv, s[3] / size, util * 100, cpu, lag, s[5], s[7], s[15], s[17], s[11], done_n, want, bad, extra
	}'
}

setup || { echo "swarm-proto: setup failed" >&2; exit 1; }
for v in "$@"; do
	run_variant "$v"
done
