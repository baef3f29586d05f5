#!/bin/bash
# bench.sh - deployment benchmark on an emulated cluster (root; `make bench`).
#
# For each node count, one emulated cluster (t/lib-cluster.sh) is built and
# every method delivers the same image tarball from the server to all nodes;
# then scenarios at BENCH_SCENARIO_N nodes: one node on a link ten times
# slower ("slow"), or three times ("slow3": not slow enough to be left
# behind, it must not hold the others to its pace), a quarter of the nodes
# joining late ("late"), the last
# node killed (SIGKILL) part-way ("die"), and the last node running a stock
# BitTorrent client (aria2c) in the method's swarm ("stock", methods with a
# stock_node hook only).  Each node's
# completion is timed by this script in the same way for every method (the
# monotonic time when the method's node function returns) and its copy is
# checked (sha256) after the run.  Results: CSV, markdown and PNG in
# docs/perf/ (bench-DATE.* and latest.md).
#
# Settings (environment):
#   BENCH_NODES="1 2 4 8 16 32"   node counts of the base scenario
#   BENCH_RATE=50mbit             link rate of every host (default 20mbit
#                                 when a count above 16 is asked: CPU bound)
#   BENCH_IMAGE=debian            the image: debian (Debian bookworm
#                                 minbase made with `debootstrap --variant=
#                                 minbase bookworm` from /etc/apt's mirror,
#                                 cached in BENCH_ROOT; t/lib-image.sh),
#                                 synthetic (t/perf/mkimage.py, BENCH_SIZE
#                                 MB) or a tarball's path
#   BENCH_COPIES=1                debian: the root this many times over
#                                 (6: about 1 GB, 40,000 entries)
#   BENCH_ROOT=/var/cache/swarmimager/demo/bookworm-minbase  (shared with
#                                 `make demo`)
#   BENCH_SIZE=60                 synthetic image size in MB (10^6 bytes)
#   BENCH_METHODS="rsync aria2 aria2seed udpcast swarmimager"
#   BENCH_SCENARIOS="base slow slow3 late die stock"  (also: single, fast)
#                                 single: one node on loopback, no shaping,
#                                 no namespaces: si_seeder + si_boel against
#                                 the floor (zstd -dc | tar -x) and an
#                                 rsync daemon of the tree, each into a
#                                 fresh ext4 on a loop device (t/perf/
#                                 single.sh); fast: BENCH_FAST_NODES at
#                                 BENCH_FAST_RATE
#   BENCH_FAST_NODES="1 2 4"      node counts of the fast scenario
#   BENCH_FAST_RATE=1gbit         its link rate
#   BENCH_SCENARIO_N=16           node count of the scenarios (capped at the
#                                 largest of BENCH_NODES)
#   BENCH_LATE_DELAY=5            seconds the late quarter waits
#   BENCH_DIE_AT=                 seconds after the start when the last node
#                                 is killed (default 40% of the ideal time)
#   BENCH_TIMEOUT=                seconds per run (default from the ideal)
#   BENCH_OUT=docs/perf           where reports go
#   BENCH_CACHE=/var/tmp/swarmimager-bench   generated images are kept here
#   BENCH_RSYNC_MAX_N=            skip rsync above this node count (it is
#                                 linear in N and slow)
#   BENCH_KEEP=1                  keep the work directory (logs) at the end
#   BENCH_TMPFS=auto              runs' files (the nodes' disks) on a tmpfs
#                                 sized from the image (staged tarball,
#                                 unpacked tree, a block per entry) when
#                                 memory allows, else on a fresh ext4 for
#                                 each run (a loop device); 1: a tmpfs or
#                                 a clear refusal; 0: the fresh ext4
#   BENCH_NOTE="text"             a note printed at the top of the report
# Methods are t/perf/methods/NAME.sh; see t/perf/methods/README.md.
set -u
PERF_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$PERF_DIR/../.." && pwd)
PATH="$SRC_DIR/server:$SRC_DIR/client:$SRC_DIR/boel:$PATH"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export LC_ALL=C TZ=UTC PATH SRC_DIR PERF_DIR

BENCH_NODES=${BENCH_NODES:-"1 2 4 8 16 32"}
BENCH_SIZE=${BENCH_SIZE:-60}
BENCH_IMAGE=${BENCH_IMAGE:-debian}
BENCH_COPIES=${BENCH_COPIES:-1}
BENCH_ROOT=${BENCH_ROOT:-/var/cache/swarmimager/demo/bookworm-minbase}
BENCH_FAST_NODES=${BENCH_FAST_NODES:-"1 2 4"}
BENCH_FAST_RATE=${BENCH_FAST_RATE:-1gbit}
BENCH_METHODS=${BENCH_METHODS:-"rsync aria2 aria2seed udpcast swarmimager"}
BENCH_SCENARIOS=${BENCH_SCENARIOS:-"base slow slow3 late die stock"}
BENCH_SCENARIO_N=${BENCH_SCENARIO_N:-16}
BENCH_LATE_DELAY=${BENCH_LATE_DELAY:-5}
BENCH_DIE_AT=${BENCH_DIE_AT:-}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-}
BENCH_OUT=${BENCH_OUT:-$SRC_DIR/docs/perf}
BENCH_CACHE=${BENCH_CACHE:-/var/tmp/swarmimager-bench}

die() { echo "bench: $*" >&2; exit 1; }
say() { printf '%s bench: %s\n' "$(date +%T)" "$*" >&2; }

# ---- helpers for methods -------------------------------------------------
BENCH_BG_PIDS=()

# bench_bg NAME HOST CMD...: runs CMD in HOST's namespace in the background,
# output in $BENCH_WORK/NAME.log; killed after the run.
bench_bg() {
	local name=$1 host=$2; shift 2
	cluster_exec "$host" "$@" >"$BENCH_WORK/$name.log" 2>&1 &
	BENCH_BG_PIDS+=($!)
}

# bench_wait SECONDS CMD...: polls CMD every 0.1 s, fails after SECONDS.
bench_wait() {
	local limit=$1 end; shift
	end=$(( $(date +%s) + limit ))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || { echo "bench: timed out waiting for: $*" >&2; return 1; }
		sleep 0.1
	done
}

# bench_measure NODE CMD...: CMD in NODE's namespace under t/perf/peakmem,
# which leaves its CPU seconds and peak memory (anonymous, file-backed) in
# $BENCH_WORK/nodes/NODE.mem when CMD exits (also when the run ends and
# kills it).
bench_measure() {
	local node=$1; shift
	cluster_exec "$node" "$PERF_DIR/peakmem" -i 100 -o "$BENCH_WORK/nodes/$node.mem" -- "$@"
}

# node_figures: "CPU_S ANON_MB FILE_MB" over the run's nodes: mean CPU
# seconds per node, the largest anonymous and file-backed (file + shmem)
# peaks; empty fields when no node was measured.
node_figures() {
	cat "$BENCH_WORK"/nodes/*.mem 2>/dev/null | awk '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		n++; cpu += v["cpu_s"]
		if (v["anon_kb"] > anon) anon = v["anon_kb"]
		f = v["file_kb"] + v["shmem_kb"]; if (f > file) file = f }
		END { if (n) printf "%.2f %.1f %.1f\n", cpu / n, anon / 1024, file / 1024
		      else print ", ," }' | tr ' ' ','
}

# bench_listening HOST PORT [tcp|udp]: something listens there.
bench_listening() {
	local opt=-Htln
	[ "${3:-tcp}" = udp ] && opt=-Huln
	cluster_exec "$1" ss $opt | awk -v p=":$2" '$4 ~ p"$" { f = 1 } END { exit !f }'
}

_kill_pids() {	# PID...: TERM, then KILL after 3 s
	local i p alive
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null
	for i in $(seq 1 30); do
		alive=
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ -n "$alive" ] || break
		sleep 0.1
	done
	kill -KILL "$@" 2>/dev/null
	for p in "$@"; do wait "$p" 2>/dev/null; done
	return 0
}

# ---- measurements --------------------------------------------------------
uptime_now() { local u _; read -r u _ </proc/uptime; echo "$u"; }
cpu_sample() { awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i;
	print t, $5 + $6; exit }' /proc/stat; }
psi_sample() { awk -F'total=' '/^some/ { print $2 }' /proc/pressure/cpu 2>/dev/null || echo 0; }
rate_bps() {
	awk -v r="$1" 'BEGIN { m = 1; u = r; sub(/^[0-9.]+/, "", u); v = substr(r, 1, length(r) - length(u))
		if (u ~ /^k/) m = 1e3; else if (u ~ /^m/) m = 1e6; else if (u ~ /^g/) m = 1e9
		if (u ~ /bps$/) m *= 8
		printf "%.0f\n", v * m }'
}

# ---- one run -------------------------------------------------------------
NODE_PIDS=()

# run_one METHOD SCENARIO N: one delivery; appends a row to the CSVs.
run_one() {
	local m=$1 scen=$2 n=$3 reason node late= special= deadline now killer=
	local t0 t1 c0 c1 p0 p1 x0 x1 line pending start rc ok cpu psi sent i
	declare -A endt=() rcs=() startt=()
	export BENCH_METHOD=$m BENCH_SCENARIO=$scen BENCH_N=$n
	export BENCH_WORK="$WORK/run/$m-$scen-$n"
	export BENCH_NODE_LIST
	BENCH_NODE_LIST=$(cluster_nodes)
	fresh_storage
	rm -rf "$BENCH_WORK" && mkdir -p "$BENCH_WORK" || die "cannot create '$BENCH_WORK'"
	for node in $BENCH_NODE_LIST; do mkdir -p "$BENCH_WORK/nodes/$node"; done
	case $scen in
	slow|slow3) special="n$n" ;;
	late) for (( i = n - (n + 3) / 4 + 1; i <= n; i++ )); do late+="n$i "; done
	      special=$late ;;
	die|stock) special="n$n" ;;
	esac
	export BENCH_TIMEOUT=${BENCH_TIMEOUT_SET:-$(auto_timeout "$n" "$scen")}
	if [ "$scen" = stock ] && ! declare -F "method_${m}_stock_node" >/dev/null; then
		reason="the method has no swarm a stock client could join"
		say "$m $scen N=$n: skipped: $reason"
		csv_row "$m" "$scen" "$n" skipped "" "" "" "" "" "" "" 0 "$n" "$reason"
		return 0
	fi
	if declare -F "method_${m}_check" >/dev/null && ! reason=$("method_${m}_check" 2>&1); then
		say "$m $scen N=$n: skipped: $reason"
		csv_row "$m" "$scen" "$n" skipped "" "" "" "" "" "" "" 0 "$n" "$reason"
		return 0
	fi
	say "$m $scen N=$n: start (timeout ${BENCH_TIMEOUT}s)"
	BENCH_BG_PIDS=()
	if ! "method_${m}_start" >"$BENCH_WORK/start.log" 2>&1; then
		say "$m $scen N=$n: method start failed: $(tail -n 3 "$BENCH_WORK/start.log" | tr '\n' ' ')"
		csv_row "$m" "$scen" "$n" failed "" "" "" "" "" "" "" 0 "$n" "start failed"
		finish_run "$m"
		return 0
	fi
	rm -rf "$WORK/done" && mkdir "$WORK/done" || die "cannot make $WORK/done"
	c0=$(cpu_sample) p0=$(psi_sample) x0=$(cluster_tx_bytes server)
	t0=$(uptime_now)
	NODE_PIDS=()
	for node in $BENCH_NODE_LIST; do
		case " $late " in *" $node "*) continue ;; esac
		launch_node "$m" "$node" 0
	done
	if declare -F "method_${m}_go" >/dev/null; then
		"method_${m}_go" >>"$BENCH_WORK/start.log" 2>&1 ||
			say "$m: go hook failed: $(tail -n 2 "$BENCH_WORK/start.log" | tr '\n' ' ')"
	fi
	for node in $late; do launch_node "$m" "$node" "$BENCH_LATE_DELAY"; done
	if [ "$scen" = die ]; then
		# Every process of the node's namespace, at once, without warning.
		( sleep "$BENCH_DIE_AT_S"; kill -KILL $(cluster_pids "$special") 2>/dev/null
		  say "$m $scen N=$n: killed $special at ${BENCH_DIE_AT_S}s" ) &
		killer=$!
	fi
	pending=$n
	deadline=$(awk -v t="$t0" -v d="$BENCH_TIMEOUT" 'BEGIN { printf "%d", t + d }')
	# Each node leaves "NODE START END RC" in done/NODE (launch_node).  Not
	# a FIFO read with `read -t`: a timeout in the middle of a line lost
	# its first bytes, and a node that had finished was counted as timed
	# out (twice in ~40 runs).
	while [ "$pending" -gt 0 ]; do
		for f in "$WORK/done"/*; do
			[ -f "$f" ] || continue
			read -r node s e rc <"$f"
			startt[$node]=$s endt[$node]=$e rcs[$node]=$rc
			rm -f "$f"
			pending=$((pending - 1))
		done
		[ "$pending" -gt 0 ] || break
		sleep 0.2
		now=$(uptime_now)
		[ "${now%.*}" -lt "$deadline" ] || { say "$m $scen N=$n: timed out, $pending nodes unfinished"; break; }
	done
	t1=$(uptime_now) c1=$(cpu_sample) p1=$(psi_sample) x1=$(cluster_tx_bytes server)
	[ -z "$killer" ] || { kill "$killer" 2>/dev/null; wait "$killer" 2>/dev/null; }
	finish_run "$m"
	# Per node: verify, then record.
	ok=0
	for node in $BENCH_NODE_LIST; do
		rc=${rcs[$node]:-timeout}
		if [ "$scen" = die ] && [ "$node" = "$special" ]; then
			rc=killed
		elif [ "$rc" = 0 ] && verify_node "$m" "$node" "$scen"; then
			ok=$((ok + 1)) rc=ok
		elif [ "$rc" = 0 ]; then
			rc=corrupt
		fi
		printf '%s,%s,%s,%s,%s,%s,%s,%s\n' "$RUN_ID" "$m" "$scen" "$n" "$node" \
			"$(sub "${startt[$node]:-}" "$t0")" "$(sub "${endt[$node]:-}" "$t0")" \
			"$rc" >>"$WORK/nodes.csv"
	done
	cpu=$(echo "$c0 $c1" | awk '{ d = $3 - $1; printf "%.0f", (d > 0 ? 100 * (d - ($4 - $2)) / d : 0) }')
	psi=$(awk -v a="$p0" -v b="$p1" -v t0="$t0" -v t1="$t1" 'BEGIN { w = (t1 - t0) * 1e6;
		printf "%.0f", (w > 0 ? 100 * (b - a) / w : 0) }')
	sent=$(awk -v a="$x0" -v b="$x1" -v s="$IMAGE_SIZE" 'BEGIN { printf "%.2f", (b - a) / s }')
	summarize "$m" "$scen" "$n" "$ok" "$special" "$cpu" "$psi" "$sent" "$(node_figures)"
	rm -rf "$BENCH_WORK/nodes"/*/
}

# launch_node METHOD NODE DELAY: the timed wrapper around method_M_node.
launch_node() {
	local m=$1 node=$2 delay=$3
	(
		[ "$delay" = 0 ] || sleep "$delay"
		s=$(uptime_now)
		f="method_${m}_node"
		[ "$BENCH_SCENARIO $node" != "stock n$BENCH_N" ] || f="method_${m}_stock_node"
		"$f" "$node" "$BENCH_WORK/nodes/$node" \
			>"$BENCH_WORK/nodes/$node.log" 2>&1 </dev/null
		rc=$?
		e=$(uptime_now)
		echo "$node $s $e $rc" >"$WORK/done/.$node" &&
		mv "$WORK/done/.$node" "$WORK/done/$node"
	) &
	NODE_PIDS+=($!)
}

verify_node() {	# METHOD NODE SCENARIO
	local dir="$BENCH_WORK/nodes/$2" sum
	if [ "$3 $2" = "stock n$BENCH_N" ]; then
		"method_${1}_stock_verify" "$2" "$dir" >>"$BENCH_WORK/nodes/$2.log" 2>&1
		return
	fi
	if declare -F "method_${1}_verify" >/dev/null; then
		"method_${1}_verify" "$2" "$dir" >>"$BENCH_WORK/nodes/$2.log" 2>&1
		return
	fi
	sum=$(sha256sum <"$dir/$BENCH_IMAGE_NAME" 2>/dev/null) &&
	[ "${sum%% *}" = "$BENCH_IMAGE_SHA256" ]
}

finish_run() {	# METHOD
	if declare -F "method_${1}_stop" >/dev/null; then
		"method_${1}_stop" >>"$BENCH_WORK/start.log" 2>&1
	fi
	_kill_pids "${BENCH_BG_PIDS[@]}" "${NODE_PIDS[@]}"
	BENCH_BG_PIDS=() NODE_PIDS=()
	cluster_kill_all
}

sub() { [ -n "$1" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

auto_timeout() {	# N SCENARIO
	awk -v n="$1" -v s="$2" -v i="$IDEAL" -v d="$BENCH_LATE_DELAY" 'BEGIN {
		t = 60 + 3 * n * i; if (s == "slow") t += 30 * i; if (s == "slow3") t += 10 * i; if (s == "late") t += d
		if (s == "stock") t += 10 * i
		printf "%d", t }'
}

# summarize M SCEN N OK SPECIAL CPU PSI SENT NODEFIGS: the run's row from
# its node rows.
summarize() {
	local m=$1 scen=$2 n=$3 ok=$4 special=$5
	awk -F, -v m="$m" -v s="$scen" -v n="$n" -v sp=" $special " -v id="$RUN_ID" '
		$1 == id && $2 == m && $3 == s && $4 == n {
			if ($8 == "killed") next
			if ($8 != "ok") { bad++; next }
			d = $7 - $6; sum += d; cnt++
			if ($7 > all) all = $7
			if (index(sp, " " $5 " ")) { if ($7 > spec) spec = $7; hs = 1 }
			else if ($7 > oth) oth = $7
		}
		END {
			printf "%s,%s,%s,%s,%s,%s", (bad ? "incomplete" : "ok"),
				cnt ? sprintf("%.2f", all) : "",
				cnt ? sprintf("%.2f", sum / cnt) : "",
				sp != "  " && cnt ? sprintf("%.2f", oth) : "",
				hs ? sprintf("%.2f", spec) : "", ""
		}' "$WORK/nodes.csv" | {
		IFS=, read -r status all mean oth spec _
		csv_row "$m" "$scen" "$n" "$status" "$all" "$mean" "$oth" "$spec" "$6" "$7" "$8" "$ok" $((n - ok)) "" "$9"
		say "$m $scen N=$n: $status all=${all}s mean=${mean}s others=${oth:--} special=${spec:--} server_sent=${8}x cpu=${6}% psi=${7}% ok=$ok/$n node cpu_s,anon_mb,file_mb=$9"
	}
}

# csv_row METHOD SCEN N STATUS ALL MEAN OTHERS SPECIAL CPU PSI SENT OK FAILED NOTE [NODEFIGS]
# (NODEFIGS: node_figures' "CPU_S,ANON_MB,FILE_MB")
csv_row() {
	printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"%s",%s\n' \
		"$RUN_ID" "$1" "$2" "$3" "$BENCH_RATE" "$IMAGE_SIZE" "$IDEAL" "$4" "$5" "$6" "$7" "$8" \
		"$9" "${10}" "${11}" "${12}" "${13}" "${14//\"/}" "${15:-,,}" >>"$WORK/results.csv"
}

# ---- setup, scenarios, report ------------------------------------------------
# debian_tarball COPIES OUT: the Debian root (t/lib-image.sh), COPIES
# times over (copies 2.. under srv/copyK, real files, not hard links), as
# a zstd tarball made by GNU tar.
debian_tarball() {
	local copies=$1 out=$2 root=$BENCH_ROOT stage k
	debian_root "$root" || return 1
	say "packing the Debian root x$copies into $out (once)"
	stage="$out.tree"
	rm -rf "$stage" && cp -a "$root" "$stage" && rm -f "$stage/$SI_ROOT_MARK" || return 1
	for (( k = 2; k <= copies; k++ )); do
		mkdir -p "$stage/srv" && cp -a "$root" "$stage/srv/copy$k" &&
		rm -f "$stage/srv/copy$k/$SI_ROOT_MARK" || return 1
	done
	tar --numeric-owner --zstd -cf "$out.tmp" -C "$stage" . && mv "$out.tmp" "$out"
	local rc=$?
	rm -rf "$stage" "$out.tmp"
	return $rc
}

# unpacked TARBALL: "BYTES ENTRIES" of its members (file data, count),
# cached beside it.
unpacked() {
	[ -s "$1.unpacked" ] && { cat "$1.unpacked"; return 0; }
	tar --numeric-owner -tvf "$1" | awk '{ b += $3; n++ } END { printf "%.0f %d\n", b, n }' \
		>"$1.unpacked.tmp" && mv "$1.unpacked.tmp" "$1.unpacked" && cat "$1.unpacked"
}

prepare_image() {
	local cached suffix
	mkdir -p "$WORK/image" "$BENCH_CACHE" || die "cannot create '$WORK/image' or '$BENCH_CACHE'"
	case $BENCH_IMAGE in
	debian)
		cached="$BENCH_CACHE/debian-bookworm-minbase-x$BENCH_COPIES.tar.zst"
		[ -s "$cached" ] || debian_tarball "$BENCH_COPIES" "$cached" ||
			die "cannot make the Debian image (BENCH_IMAGE=synthetic needs no debootstrap)"
		IMAGE_KIND="Debian bookworm minbase (debootstrap)"
		[ "$BENCH_COPIES" = 1 ] || IMAGE_KIND="$IMAGE_KIND, $BENCH_COPIES copies"
		;;
	synthetic)
		cached="$BENCH_CACHE/image-$BENCH_SIZE.tar.gz"
		if [ ! -s "$cached" ]; then
			say "generating a ${BENCH_SIZE} MB image in $cached"
			python3 "$PERF_DIR/mkimage.py" "$BENCH_SIZE" "$cached" || die "cannot generate the image"
		fi
		IMAGE_KIND="synthetic, $BENCH_SIZE MB (t/perf/mkimage.py)"
		;;
	*)
		[ -r "$BENCH_IMAGE" ] || die "cannot read '$BENCH_IMAGE' (BENCH_IMAGE: debian, synthetic or a tarball)"
		cached=$BENCH_IMAGE IMAGE_KIND="$(basename "$BENCH_IMAGE")"
		;;
	esac
	case $cached in
	*.tar.zst) suffix=tar.zst ;; *.tar.gz|*.tgz) suffix=tar.gz ;; *.tar.xz) suffix=tar.xz ;;
	*.tar) suffix=tar ;; *) die "'$cached': not a .tar, .tar.gz, .tar.zst or .tar.xz" ;;
	esac
	export BENCH_IMAGE_NAME=image-bench.$suffix
	export BENCH_IMAGE_FILE="$WORK/image/$BENCH_IMAGE_NAME"
	cp "$cached" "$BENCH_IMAGE_FILE" || die "cannot copy '$cached'"
	read -r UNPACKED_BYTES UNPACKED_ENTRIES < <(unpacked "$cached") ||
		die "cannot list '$cached'"
	IMAGE_SIZE=$(stat -c %s "$BENCH_IMAGE_FILE")
	BENCH_IMAGE_SHA256=$(sha256sum <"$BENCH_IMAGE_FILE") BENCH_IMAGE_SHA256=${BENCH_IMAGE_SHA256%% *}
	export BENCH_IMAGE_SIZE=$IMAGE_SIZE BENCH_IMAGE_SHA256 BENCH_IMAGE_SOURCE=$cached
	export BENCH_UNPACKED_BYTES=$UNPACKED_BYTES BENCH_UNPACKED_ENTRIES=$UNPACKED_ENTRIES
}

cleanup() {
	local rc=$?
	# Nothing may stop the cleaning half-way: namespaces and the tmpfs
	# would be left behind.
	trap - EXIT
	trap '' INT TERM
	_kill_pids "${BENCH_BG_PIDS[@]}" "${NODE_PIDS[@]}"
	_single_umount
	cluster_down
	if [ -n "${RUN_TMPFS:-}" ]; then
		[ -z "${BENCH_KEEP:-}" ] || cp -a "$WORK/run" "$WORK/run.kept" 2>/dev/null
		umount "$WORK/run" 2>/dev/null
	fi
	release_storage
	if [ -n "${BENCH_KEEP:-}" ]; then
		[ -z "${WORK:-}" ] || echo "bench: work directory kept: $WORK" >&2
	else
		[ -z "${WORK:-}" ] || rm -rf "$WORK"
	fi
	exit "$rc"
}

machine() {
	echo "- CPU: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) ($(nproc) cores)"
	echo "- memory: $(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)"
	echo "- kernel: $(uname -sr)"
	echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- image: $IMAGE_KIND: $IMAGE_SIZE bytes packed, $UNPACKED_BYTES bytes in $UNPACKED_ENTRIES entries unpacked"
	echo "- nodes' files: $RUN_STORAGE"
	echo "- tools: $(rsync --version | head -1 | awk '{ print "rsync", $3 }'), $(aria2c --version | head -1), opentracker (Debian), udpcast $(dpkg-query -W -f='${Version}' udpcast 2>/dev/null)"
}

# run_storage: the nodes' files go to a tmpfs when memory allows, else to
# a fresh ext4 made for each run (fresh_storage; a sparse file under
# WORK on a loop device): 32 emulated nodes writing one host's file
# system spend the 2 cores in inode allocation (perf: ext4_new_inode,
# find_inode_bit), and on a file system where trees were just removed
# ext4 searches its recently deleted inodes (recently_deleted: 4 nodes
# took 34 s instead of 5 on the 1 GB root), which real nodes, each with
# its own fresh disk, do not do.
run_storage() {
	local avail maxn=0 n per mode=${BENCH_TMPFS:-auto} counts=
	mkdir -p "$WORK/run" || die "cannot create '$WORK/run'"
	case " $BENCH_SCENARIOS " in *" base "*) counts+=" $BENCH_NODES" ;; esac
	case " $BENCH_SCENARIOS " in *" fast "*) counts+=" $BENCH_FAST_NODES" ;; esac
	case " $BENCH_SCENARIOS " in *" slow "*|*" slow3 "*|*" late "*|*" die "*|*" stock "*)
		counts+=" $BENCH_SCENARIO_N" ;; esac
	for n in $counts; do [ "$n" -le "$maxn" ] || maxn=$n; done
	# Each node: the staged tarball, the installed tree (a 4 KiB block
	# per entry on top of the data), 16 MiB of slack; and 512 MiB more.
	per=$(( (IMAGE_SIZE + UNPACKED_BYTES + UNPACKED_ENTRIES * 4096) / 1024 + 16384 ))
	RUN_NEED=$(( maxn * per + 512 * 1024 ))	# KiB
	avail=$(awk '/^MemAvailable/ { print $2 }' /proc/meminfo)
	if [ "$mode" != 0 ] && [ "$avail" -gt $(( RUN_NEED * 3 / 2 )) ] &&
	   mount -t tmpfs -o "size=${RUN_NEED}k,mode=0755" tmpfs "$WORK/run"; then
		RUN_TMPFS=1 RUN_STORAGE="tmpfs ($(( RUN_NEED / 1024 )) MiB: $(( per / 1024 )) MiB a node)"
	elif [ "$mode" = 1 ]; then
		die "BENCH_TMPFS=1: $maxn nodes need a $(( RUN_NEED / 1024 )) MiB tmpfs ($(( per / 1024 )) MiB each: the image unpacks to $(( UNPACKED_BYTES / 1048576 )) MiB in $UNPACKED_ENTRIES entries), $(( avail / 1024 )) MiB of memory is available; use fewer nodes, a smaller image or BENCH_TMPFS=0"
	else
		RUN_DISK=1 RUN_STORAGE="a fresh ext4 for each run ($(( RUN_NEED * 2 / 1024 )) MiB on a loop device, $(df -T "$WORK" | awk 'NR == 2 { print $2 }') underneath)"
		[ "$mode" = 0 ] && RUN_STORAGE+=", BENCH_TMPFS=0" ||
			RUN_STORAGE+=": $(( RUN_NEED / 1024 )) MiB of tmpfs needed, $(( avail / 1024 )) MiB of memory available"
	fi
}

# fresh_storage: with RUN_DISK, an empty ext4 on $WORK/run (twice what the
# nodes need, a sparse file), the previous one removed.
fresh_storage() {
	[ -n "${RUN_DISK:-}" ] || return 0
	release_storage
	truncate -s "$(( RUN_NEED * 2 ))k" "$WORK/run.img" &&
	mkfs.ext4 -q -F "$WORK/run.img" &&
	RUN_LOOP=$(losetup -f --show --direct-io=on "$WORK/run.img") &&
	mount "$RUN_LOOP" "$WORK/run" || die "cannot make a file system for the nodes"
}

release_storage() {
	[ -n "${RUN_LOOP:-}" ] || return 0
	# The runs' logs (their node directories are gone already).
	[ -z "${BENCH_KEEP:-}" ] || { mkdir -p "$WORK/run.kept" && cp -a "$WORK/run/." "$WORK/run.kept/"; } 2>/dev/null
	umount "$WORK/run" 2>/dev/null
	losetup -d "$RUN_LOOP" 2>/dev/null
	rm -f "$WORK/run.img"
	RUN_LOOP=
}

ideal() { awk -v s="$IMAGE_SIZE" -v r="$(rate_bps "$1")" 'BEGIN { printf "%.2f", s * 8 / r }'; }

# run_fast: the methods at BENCH_FAST_NODES nodes on BENCH_FAST_RATE links
# (scenario "fast"), the rate and ideal of the other scenarios restored.
run_fast() {
	local n m rate=$BENCH_RATE ideal=$IDEAL
	BENCH_RATE=$BENCH_FAST_RATE IDEAL=$(ideal "$BENCH_FAST_RATE")
	for n in $BENCH_FAST_NODES; do
		cluster_up bench "$n" "$BENCH_RATE" || die "cannot build the cluster"
		csv_row ideal fast "$n" ok "$IDEAL" "$IDEAL" "" "" "" "" "" "$n" 0 "image size / link rate"
		for m in $BENCH_METHODS; do run_one "$m" fast "$n"; done
	done
	BENCH_RATE=$rate IDEAL=$ideal
}

main() {
	local n maxn rate scen_n m when div
	[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
	for c in ip tc python3 sha256sum losetup mkfs.ext4 zstd; do
		command -v "$c" >/dev/null || die "needs $c (make deps)"
	done
	. "$SRC_DIR/t/lib-cluster.sh"
	. "$SRC_DIR/t/lib-image.sh"
	. "$PERF_DIR/single.sh"
	for m in "$PERF_DIR"/methods/*.sh; do . "$m"; done
	for m in $BENCH_METHODS; do
		declare -F "method_${m}_start" >/dev/null && declare -F "method_${m}_node" >/dev/null ||
			die "unknown method '$m' (see t/perf/methods/)"
	done
	maxn=0
	for n in $BENCH_NODES; do
		[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] || die "bad node count '$n'"
		[ "$n" -le "$maxn" ] || maxn=$n
	done
	[ "$maxn" -le 16 ] && rate=50mbit || rate=20mbit
	export BENCH_RATE=${BENCH_RATE:-$rate}
	scen_n=$BENCH_SCENARIO_N
	[ "$scen_n" -le "$maxn" ] || scen_n=$maxn
	BENCH_TIMEOUT_SET=$BENCH_TIMEOUT
	# The exact command, for the report.
	BENCH_COMMAND=$(for v in BENCH_NODES BENCH_RATE BENCH_IMAGE BENCH_COPIES BENCH_SIZE BENCH_METHODS \
		BENCH_SCENARIOS BENCH_SCENARIO_N BENCH_FAST_NODES BENCH_FAST_RATE BENCH_LATE_DELAY \
		BENCH_TIMEOUT BENCH_TMPFS; do
		[ -z "${!v:-}" ] || printf "%s='%s' " "$v" "${!v}"; done; echo "t/perf/bench.sh")
	WORK=$(mktemp -d /var/tmp/si-bench.XXXXXX) || die "cannot create a work directory"
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	when=$(date -u +%Y%m%d-%H%M)
	RUN_ID=$when
	mkdir -p "$BENCH_OUT" || die "cannot create '$BENCH_OUT'"
	CSV="$BENCH_OUT/bench-$when.csv" NODES_CSV="$BENCH_OUT/bench-$when-nodes.csv"
	echo "run,method,scenario,nodes,rate,image_bytes,ideal_s,status,all_done_s,mean_node_s,others_done_s,special_done_s,cpu_pct,cpu_psi_pct,server_sent_images,ok_nodes,failed_nodes,note,node_cpu_s,node_anon_mb,node_file_mb" >"$WORK/results.csv"
	echo "run,method,scenario,nodes,node,start_s,end_s,status" >"$WORK/nodes.csv"
	prepare_image
	IDEAL=$(ideal "$BENCH_RATE")
	say "image $IMAGE_SIZE bytes, rate $BENCH_RATE, ideal ${IDEAL}s, nodes '$BENCH_NODES', methods '$BENCH_METHODS', work $WORK"
	run_storage
	machine >"$WORK/machine.md"
	case " $BENCH_SCENARIOS " in *" single "*) run_single ;; esac
	case " $BENCH_SCENARIOS " in *" fast "*) run_fast ;; esac
	for n in $BENCH_NODES; do
		case " $BENCH_SCENARIOS " in *" base "*) ;; *) break ;; esac
		cluster_up bench "$n" "$BENCH_RATE" || die "cannot build the cluster"
		csv_row ideal base "$n" ok "$IDEAL" "$IDEAL" "" "" "" "" "" "$n" 0 "image size / link rate"
		for m in $BENCH_METHODS; do run_one "$m" base "$n"; done
	done
	BENCH_DIE_AT_S=${BENCH_DIE_AT:-$(awk -v i="$IDEAL" 'BEGIN { printf "%.1f", 0.4 * i }')}
	for scen in slow slow3 late die stock; do
		case " $BENCH_SCENARIOS " in *" $scen "*) ;; *) continue ;; esac
		cluster_up bench "$scen_n" "$BENCH_RATE" || die "cannot build the cluster"
		div=
		case $scen in slow) div=10 ;; slow3) div=3 ;; esac
		[ -n "$div" ] && { cluster_set_rate "n$scen_n" "$(( $(rate_bps "$BENCH_RATE") / div / 1000 ))kbit" || die "cannot slow n$scen_n"; }
		for m in $BENCH_METHODS; do run_one "$m" "$scen" "$scen_n"; done
		[ -n "$div" ] && cluster_set_rate "n$scen_n" "$BENCH_RATE"
	done
	cp "$WORK/results.csv" "$CSV.tmp" && mv "$CSV.tmp" "$CSV" &&
	cp "$WORK/nodes.csv" "$NODES_CSV.tmp" && mv "$NODES_CSV.tmp" "$NODES_CSV" ||
		die "cannot write '$CSV'"
	python3 "$PERF_DIR/report.py" --csv "$CSV" --machine "$WORK/machine.md" \
		--command "$BENCH_COMMAND" --out "$BENCH_OUT" --slow-node "n$scen_n" \
		--note "${BENCH_NOTE:-}" ||
		die "cannot write the report"
	say "report: $BENCH_OUT/bench-$when.md (and latest.md)"
}

main "$@"
