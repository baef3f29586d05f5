#!/bin/bash
test_description='whole cluster: 8 emulated nodes install one image at once from si_seeder with si_boel; the server sends far less than 8 copies'
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-server.sh" &&
. "$TEST_DIR/lib-cluster.sh"
require_root
require_cmd ip tc opentracker rsync python3

N=8
RATE=20mbit
BASE=$TRASH/base

# installed NODE: si_boel on NODE says the image is installed.
installed() { grep -q "seeding until nobody needs us" "$1.err"; }
all_installed() {
	local n
	for n in $(cluster_nodes); do installed $n || return 1; done
}
all_exited() {
	local n
	for n in $(cluster_nodes); do test -s $n.rc || return 1; done
}
now() { date +%s.%N; }
# si_boel_ports [FILE]: the TCP ports si_boel listens on in an `ss -Hltnp`
# listing, one a line.
si_boel_ports() {
	awk '/"si_boel"/ { sub(/.*:/, "", $4); print $4 }' "$@" | sort -u
}
bt_ports() { cluster_exec "$1" ss -Hltnp | si_boel_ports; }

test_expect_success "an emulated cluster: server and $N nodes at $RATE" '
	cluster_up inst "$N" "$RATE"
'

test_expect_success 'an image of about 8 MB, packed by si_installbtimage' '
	mkdir -p "$BASE/images" &&
	fixture_image_tree "$BASE/images/img" &&
	mkdir -p "$BASE/images/img/data" &&
	for i in 1 2 3 4 5 6 7 8; do
		head -c 1000000 /dev/urandom >"$BASE/images/img/data/f$i" || return 1
	done &&
	si_installbtimage --base "$BASE" --address "$(cluster_ip server)" \
		--images img -q >pack.out &&
	grep -q "packed" pack.out &&
	SIZE=$(stat -c %s "$BASE/tarballs/image-img.tar.gz") &&
	echo "tarball $SIZE bytes"
'

test_expect_success 'si_seeder serves it in the server namespace' '
	cluster_exec server si_seeder --base "$BASE" --address "$(cluster_ip server)" \
		>seeder.out 2>seeder.err &
	SEEDER_PID=$! &&
	test_atexit "kill_pid $SEEDER_PID" &&
	wait_for_line 20 seeder.out "^si_seeder: ready: .* torrents 1$"
'

test_expect_success "$N nodes install the image concurrently" '
	TX0=$(cluster_tx_bytes server) &&
	T0=$(now) &&
	for n in $(cluster_nodes); do
		mkdir -p "$n/root" "$n/tmp" &&
		( cluster_exec $n env TMPDIR="$TRASH/$n/tmp" si_boel \
			--target "$TRASH/$n/root" --imageserver "$(cluster_ip server)" \
			--image img --hostname $n --cmdline /dev/null \
			--staging "$TRASH/$n/tmp" --polling-time 1 --upload-min 0 \
			--linger-max 30 --stall-timeout 30 >$n.out 2>$n.err
		  echo $? >$n.rc ) &
	done
	for n in $(cluster_nodes); do
		wait_for 20 eval "bt_ports $n | grep -q ." &&
		cluster_exec $n ss -Hltnp >$n.listen || return 1
	done &&
	wait_for 60 eval "all_installed || all_exited" &&
	T1=$(now) &&
	TX1=$(cluster_tx_bytes server) &&
	wait_for 40 all_exited &&
	for n in $(cluster_nodes); do
		test "$(cat $n.rc)" = 0 || { tail -n 5 $n.err; return 1; }
	done
'

# libtorrent listens on 0.0.0.0 with a socket per address (lo, eth0); on
# port 0 each had a port of its own, and peers were told loopback's.  Its
# listen queue was 5: all nodes connecting to one at once lost SYNs.
test_expect_success 'each node listens on one port on all its addresses, queue 256' '
	for n in $(cluster_nodes); do
		ports=$(si_boel_ports $n.listen) && [ -n "$ports" ] &&
		[ "$(echo "$ports" | wc -l)" -eq 1 ] &&
		! awk "/\"si_boel\"/ && \$3 < 256 { bad = 1 } END { exit !bad }" $n.listen ||
			{ cat $n.listen; return 1; }
	done
'

test_expect_success 'every node holds the image' '
	for n in $(cluster_nodes); do
		tree_diff "$BASE/images/img" "$n/root" --exclude etc/swarmimager || return 1
		test -s "$n/root/etc/swarmimager/installed" || return 1
	done
'

test_expect_success 'the server sent far less than one copy per node' '
	ideal=$(awk -v s="$SIZE" "BEGIN { printf \"%.2f\", s * 8 / 20e6 }") &&
	ratio=$(awk -v a="$TX0" -v b="$TX1" -v s="$SIZE" "BEGIN { printf \"%.2f\", (b - a) / s }") &&
	secs=$(awk -v a="$T0" -v b="$T1" "BEGIN { printf \"%.1f\", b - a }") &&
	x=$(awk -v a="$secs" -v b="$ideal" "BEGIN { printf \"%.2f\", a / b }") &&
	FIG="all $N nodes installed in $secs s (ideal $ideal s: ${x}x); server sent $((TX1 - TX0)) bytes = $ratio image sizes" &&
	echo "$FIG" &&
	awk -v r="$ratio" "BEGIN { exit !(r < 2.5) }"
'
say "${FIG:-no figures}"

test_expect_success 'every node left because nobody needed it' '
	for n in $(cluster_nodes); do
		grep "leaving the swarm: no peer interested" $n.err || return 1
	done
'

test_expect_success 'cleanup leaves no namespace behind' '
	kill_pid $SEEDER_PID &&
	cluster_down &&
	! ls /run/netns | grep "^inst-$TEST_UID-"
'
test_done
