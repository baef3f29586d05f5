#!/bin/bash
test_description='si_boel: installs finish despite a dead tracker, a restarting seeder, a dying peer, a late rsync daemon'
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-server.sh"
require_root
require_cmd rsync opentracker mktorrent aria2c python3

# A progress line between 1% and 89.9%: the download under way, with at
# least 0.6 s of it left.  Not 3-79.9%: a seeder idle for a few seconds
# lets libtorrent send up to 3 s of its rate limit at once (its bandwidth
# channel keeps that much quota), and under load the line after 0.0% came
# at 80.1% (a make check of session 7).
MID='image-img\.tar\.gz: +([1-8][0-9]|[1-9])\.[0-9]%'

test_expect_success 'server fixture, upload slowed to 1 MiB/s' '
	server_fixture_init &&
	fixture_image_tree "$SRV/images/img" &&
	fixture_big_tree "$SRV/images/img" 6 &&
	fixture_pack image img &&
	start_server_fixture 1M
'

# run_node NAME ARGS...: si_boel in the background; NAME.rc when done.
run_node() {
	local n=$1; shift
	rm -rf "t-$n" "$n.rc"
	( boel "t-$n" --image img --hostname "$n" "$@" >"$n.out" 2>"$n.err"
	  echo $? >"$n.rc" ) &
	echo $! >"$n.pid"
}
node_ok() {
	wait_for 90 test -s "$1.rc" && cat "$1.err" &&
	test "$(cat "$1.rc")" = 0 &&
	tree_diff "$SRV/images/img" "t-$1" --exclude etc/swarmimager &&
	test -f "t-$1/etc/swarmimager/installed"
}

test_expect_success 'tracker killed mid-download' '
	run_node a --no-seed-wait &&
	wait_for_line 30 a.err "$MID" &&
	stop_tracker &&
	node_ok a
'

test_expect_success 'seeder restarted mid-download' '
	run_node b --no-seed-wait &&
	wait_for_line 30 b.err "$MID" &&
	stop_seeder && sleep 1 && start_seeder 1M &&
	node_ok b &&
	grep -E "image-img.tar.gz: +100.0%|installed image img" b.err b.out
'

test_expect_success 'one node killed mid-download, the others finish' '
	run_node c1 && run_node c2 && run_node c3 &&
	wait_for_line 30 c2.err "$MID" &&
	kill -KILL $(pgrep -P $(cat c2.pid) si_boel) &&
	node_ok c1 && node_ok c3 &&
	wait_for 10 test -s c2.rc && test "$(cat c2.rc)" != 0 &&
	! test -e t-c2/etc/swarmimager/installed &&
	rm -rf $(sed -n "s/.*staging in \([^ ]*\) .*/\1/p" c2.err)
'

test_expect_success 'SIGTERM mid-download: clean failure, staging removed' '
	run_node f --no-seed-wait &&
	wait_for_line 30 f.err "$MID" &&
	stage=$(sed -n "s/.*staging in \([^ ]*\) .*/\1/p" f.err | head -1) &&
	test -d "$stage" &&
	kill -TERM $(pgrep -P $(cat f.pid) si_boel) &&
	wait_for 10 test -s f.rc && test "$(cat f.rc)" = 1 &&
	grep "interrupted by signal 15" f.err &&
	grep "no completion record" f.out &&
	! test -e "$stage" && ! test -e t-f/etc/swarmimager/installed
'

test_expect_success 'rsync daemon up only after two failed fetches' '
	stop_rsyncd &&
	run_node d --no-seed-wait --retry-delay 1 &&
	wait_for_line 10 d.err "retrying in 2 s \(try 3 of 5\)" &&
	start_rsyncd &&
	node_ok d &&
	test $(grep -c "cannot fetch the torrents.*rsync exit 10 (error in socket I/O" d.err) = 2
'

# rsyncd_down_until NAME PATTERN: node NAME installs (-v) with the rsync
# daemon stopped from its download's start until its log matches PATTERN;
# the daemon starts again while si_boel is held (SIGSTOP), since the rest
# of its install may take less time than the restart (it did once, under
# load).  Then the node must succeed.
rsyncd_down_until() {
	local n=$1 pid
	run_node "$n" --no-seed-wait -v &&
	wait_for_line 30 "$n.err" "staging in" &&
	stop_rsyncd &&
	wait_for_line 60 "$n.err" "$2" &&
	pid=$(pgrep -P "$(cat "$n.pid")" si_boel) &&
	kill -STOP $pid && start_rsyncd && kill -CONT $pid &&
	node_ok "$n"
}

# Half-way through the image si_boel fetches cluster.txt and the list of
# the overrides (prefetch); an rsync daemon down then costs nothing: the
# overrides step fetches them again, and only it would report.
test_expect_success 'rsync daemon down half-way: the prefetch fails quietly, the overrides fetch again' '
	rsyncd_down_until g "cannot fetch the list of overrides from .*: rsync exit" &&
	! grep -E "warning: cannot fetch|error|no cluster.txt" g.err &&
	test $(grep -c "fetching scripts/cluster.txt" g.err) = 2 &&
	test $(grep -c "fetching the list of overrides" g.err) = 2 &&
	grep -A9 "cannot fetch the list of overrides" g.err | grep -q "image: image-img.tar.gz installed" &&
	grep -A9 "image: image-img.tar.gz installed" g.err | grep -q "fetching the list of overrides"
'

test_expect_success 'rsync daemon still down when the install ends: cluster.txt is fetched again' '
	rsyncd_down_until h "cannot fetch scripts/cluster.txt from .*retrying" &&
	! grep "no cluster.txt" h.err &&
	grep -q "fetching scripts/cluster.txt: .*(try 2 of 5)" h.err
'

test_expect_success 'gives up after the last try and says why' '
	stop_rsyncd &&
	rm -rf t-e && mkdir t-e &&
	expect_exit 1 boel t-e --image img --retries 2 --retry-delay 0.1 2>e.err >e.out &&
	cat e.err &&
	grep "gave up after 2 tries" e.err &&
	grep "FAILED.*no completion record" e.out &&
	! test -e t-e/etc
'
test_done
