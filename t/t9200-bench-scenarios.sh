#!/bin/bash
test_description='the deployment benchmark on 3 emulated nodes: a node on a slower link is slowed, a killed node does not stop the others, a stock client (aria2c) joins the SwarmImager swarm and finishes, a late node leaves the pieces most peers hold for later, with --torrent-heads every node takes the torrent from the swarm, one node on loopback is measured against the floor and rsync, per-node CPU and memory are recorded, and the reports say so'
. "$(dirname "$0")/test-lib.sh"
require_root
require_cmd ip tc opentracker rsync aria2c python3

OUT=$TRASH/perf
# bench.sh names its namespaces bench-<its PID>-HOST.
leftover() { ip netns list | grep -q "^bench-$1-"; }

test_expect_success 'bench.sh runs single, fast, base, slow3, die and stock at N=3 (a 4 MB image)' '
	BENCH_NODES=3 BENCH_METHODS=swarmimager BENCH_SCENARIOS="single fast base slow3 die stock" \
	BENCH_FAST_NODES=2 BENCH_FAST_RATE=200mbit \
	BENCH_SCENARIO_N=3 BENCH_IMAGE=synthetic BENCH_SIZE=4 BENCH_RATE=20mbit BENCH_DIE_AT=1 \
	BENCH_OUT="$OUT" BENCH_CACHE="$TRASH/cache" \
		"$SRC_DIR/t/perf/bench.sh" >bench.out 2>&1 &
	pid=$! &&
	wait $pid; rc=$?
	cat bench.out &&
	test $rc = 0 && ! leftover $pid &&
	CSV=$(ls "$OUT"/bench-*[0-9].csv) && test -s "$CSV" &&
	NODES=$(ls "$OUT"/bench-*-nodes.csv)
'

# field NAME SCENARIO [METHOD]: a column of results.csv by its header name.
field() {
	awk -F, -v f="$1" -v s="$2" -v m="${3:-swarmimager}" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		$2 == m && $3 == s { print $c[f] }' "$CSV"
}

test_expect_success 'base: all 3 nodes installed and checked' '
	test "$(field status base)" = ok && test "$(field ok_nodes base)" = 3
'

# peakmem ran around every si_boel: figures that are not there would be
# empty fields; si_boel uses CPU and some memory of each kind.
test_expect_success 'base: the nodes mean CPU seconds and memory peaks are recorded' '
	cpu=$(field node_cpu_s base) && anon=$(field node_anon_mb base) &&
	file=$(field node_file_mb base) &&
	echo "cpu $cpu s, anon $anon MB, file $file MB" &&
	awk -v c="$cpu" -v a="$anon" -v f="$file" "BEGIN { exit !(c > 0 && a > 0 && f > 0) }"
'

test_expect_success 'single: floor, rsync and si_boel installed the image on loopback' '
	for m in floor rsync swarmimager; do
		test "$(field status single $m)" = ok || return 1
		test -n "$(field all_done_s single $m)" || return 1
	done &&
	test "$(field ideal_s single swarmimager)" = "$(field all_done_s single floor)" &&
	grep -q "^## One node on loopback, no shaping (single)" "$OUT/latest.md" &&
	grep -q "^| SwarmImager | .* s | [0-9.]* | .* MB | .* MB | ok" "$OUT/latest.md"
'

test_expect_success 'fast: 2 nodes at 200 Mbit/s installed' '
	test "$(field status fast)" = ok && test "$(field ok_nodes fast)" = 2 &&
	test "$(field rate fast)" = 200mbit &&
	grep -q "^## Fast links: 200mbit each way (fast)" "$OUT/latest.md"
'

# n3's link at a third of 20 Mbit/s: it cannot have the image in less
# than 3 times the ideal (a lower bound the link enforces, not a timing).
test_expect_success 'slow3: n3 on a link three times slower took over twice the ideal; all 3 installed' '
	test "$(field status slow3)" = ok && test "$(field ok_nodes slow3)" = 3 &&
	IDEAL=$(field ideal_s slow3) &&
	SLOW=$(field special_done_s slow3) &&
	echo "ideal $IDEAL s, n3 $SLOW s" &&
	awk -v s="$SLOW" -v i="$IDEAL" "BEGIN { exit !(i > 0 && s > 2 * i) }"
'

test_expect_success 'die: n3 was killed part-way, the 2 others installed' '
	grep -q "swarmimager die N=3: killed n3 at 1s" bench.out &&
	test "$(field status die)" = ok && test "$(field ok_nodes die)" = 2 &&
	grep -q ",swarmimager,die,3,n3,.*,killed$" "$NODES" &&
	test -n "$(field others_done_s die)"
'

test_expect_success 'stock: aria2c on n3 got the tarball from the swarm; the si_boel nodes installed' '
	test "$(field status stock)" = ok && test "$(field ok_nodes stock)" = 3 &&
	test -n "$(field special_done_s stock)" &&
	grep -q ",swarmimager,stock,3,n3,.*,ok$" "$NODES"
'

test_expect_success 'the report has a section per scenario' '
	grep -q "^## One node on a link three times slower (n3)" "$OUT/latest.md" &&
	grep -q "^## One node (n3) killed part-way" "$OUT/latest.md" &&
	grep -q "^## One node (n3) runs a stock client" "$OUT/latest.md" &&
	grep -q "| SwarmImager | 3 |.* killed |" "$OUT/latest.md"
'

# A late node (n3 starts 4 s after the others, about half-way through the
# 6.4 s the image takes at 5 Mbit/s) follows the swarm first and fetches
# the pieces the others already hold at the end (lib/bt.cc,
# bt_torrent_catch_up).
test_expect_success 'late: n3 joins half-way, holds back the old pieces, all 3 install' '
	SI_BENCH_SEEDER_OPTS=--torrent-heads \
	BENCH_NODES=3 BENCH_METHODS=swarmimager BENCH_SCENARIOS=late \
	BENCH_SCENARIO_N=3 BENCH_IMAGE=synthetic BENCH_SIZE=4 BENCH_RATE=5mbit BENCH_LATE_DELAY=4 \
	BENCH_OUT="$OUT/late" BENCH_CACHE="$TRASH/cache" BENCH_KEEP=1 \
		"$SRC_DIR/t/perf/bench.sh" >late.out 2>&1 &
	pid=$! &&
	wait $pid; rc=$?
	cat late.out &&
	test $rc = 0 && ! leftover $pid &&
	KEPT=$(sed -n "s/^bench: work directory kept: //p" late.out) &&
	test -d "$KEPT" &&
	LOGS=$KEPT/run.kept/swarmimager-late-3/nodes &&
	cat "$LOGS/n3.log" &&
	grep -q "ok=3/3" late.out &&
	grep -Eq "joined late: [0-9]+ pieces most peers hold are left for later" "$LOGS/n3.log" &&
	grep -q "fetching the [0-9]* pieces left for later" "$LOGS/n3.log" &&
	! grep -q "joined late" "$LOGS/n1.log" "$LOGS/n2.log" &&
	for n in n1 n2 n3; do
		grep -Eq "image-bench\.tar[.a-z]*\.torrent: from the swarm in" "$LOGS/$n.log" ||
			return 1
	done
'
rm -rf "${KEPT:-/nonexistent}"

test_done
