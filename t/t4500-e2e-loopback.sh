#!/bin/bash
test_description='end to end on loopback, our programs only: si_installbtimage packs, si_seeder serves, three si_boel install at once'
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-server.sh"
require_root
require_cmd opentracker rsync python3

BASE=$TRASH/base
TPORT=$(free_port)

# gone PID: the process exited (a zombie not reaped yet counts).
gone() { ! ps -o stat= -p "$1" | grep -q "^[^Z]"; }

# bytes "12.3 MiB" -> an integer number of bytes (human_bytes's units).
bytes() {
	awk -v n="$1" -v u="$2" 'BEGIN { m = 1
		if (u == "KiB") m = 1024; else if (u == "MiB") m = 1048576
		else if (u == "GiB") m = 1073741824
		printf "%.0f\n", n * m }'
}

test_expect_success 'si_installbtimage packs an image tree' '
	mkdir -p "$BASE/etc" "$BASE/images" &&
	printf "BT_TRACKER_PORT=%s\nBT_TORRENT_HEADS=yes\n" "$TPORT" \
		>"$BASE/etc/bittorrent.conf" &&
	fixture_image_tree "$BASE/images/img" &&
	echo cert >"$BASE/images/img/etc/NetLock_Arany_=Class_Gold=_F$(printf "\305\221")tan$(printf "\303\272")s$(printf "\303\255")tv$(printf "\303\241")ny.pem" &&
	echo latin1 >"$BASE/images/img/etc/caf$(printf "\351")" &&
	mkdir -p "$BASE/images/img/data" &&
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		head -c 1048576 /dev/urandom >"$BASE/images/img/data/f$i" || return 1
	done &&
	si_installbtimage --base "$BASE" --address 127.0.0.1 --images img \
		>pack.out 2>pack.err &&
	cat pack.out &&
	grep -q "image-img.tar.gz packed" pack.out &&
	test -s "$BASE/torrents/image-img.tar.gz.torrent"
'

test_expect_success 'a bad --schedule is a usage error' '
	expect_exit 2 si_seeder --base "$BASE" --schedule fast 2>err &&
	grep "invalid schedule .fast." err
'

test_expect_success 'si_seeder serves it on loopback' '
	si_seeder --base "$BASE" --address 127.0.0.1 --bt-port 0 \
		--tracker-port "$TPORT" --rsync-port 0 -v \
		>seeder.out 2>seeder.err &
	SEEDER_PID=$! &&
	test_atexit "kill_pid $SEEDER_PID" &&
	wait_for_line 20 seeder.out "^si_seeder: ready: .* torrents 1$" &&
	RSYNC_PORT=$(sed -n "s/.* rsync 127\.0\.0\.1:\([0-9]*\) .*/\1/p" seeder.out) &&
	test -n "$RSYNC_PORT"
'

# The host name is the kernel's unset "(none)", as in the boot environment:
# that is no name, not an invalid one.
test_expect_success 'an unknown image fails clearly, nothing installed' '
	mkdir t-bad &&
	expect_exit 1 unshare --uts sh -c "echo \"(none)\" >/proc/sys/kernel/hostname && exec \"\$@\"" - \
		env TMPDIR="$TRASH" si_boel --target t-bad \
		--imageserver "127.0.0.1:$RSYNC_PORT" --image nope \
		--cmdline /dev/null --no-seed-wait --retry-delay 0.2 \
		>bad.out 2>bad.err &&
	grep "no image .nope.* the server has: image-img.tar.gz.torrent" bad.err &&
	grep FAILED bad.out &&
	! grep HOSTNAME bad.err &&
	test -z "$(ls t-bad)"
'

test_expect_success 'three si_boel install it concurrently' '
	for n in n1 n2 n3; do
		mkdir -p "t-$n" &&
		( TMPDIR="$TRASH" si_boel --target "t-$n" \
			--imageserver "127.0.0.1:$RSYNC_PORT" --image img \
			--hostname $n --cmdline /dev/null --listen 127.0.0.1:0 \
			--polling-time 1 --upload-min 0 --linger-max 20 \
			--stall-timeout 20 >$n.out 2>$n.err
		  echo $? >$n.rc ) &
	done
	wait_for 25 test -s n1.rc -a -s n2.rc -a -s n3.rc &&
	for n in n1 n2 n3; do
		cat $n.out; test "$(cat $n.rc)" = 0 || { cat $n.err; return 1; }
	done
'

# The torrent's piece hashes came from the seeder (two nodes a second) or
# from the nodes that had them, not by rsync: only its head did.
test_expect_success 'each node took the torrent from the swarm' '
	test -s "$BASE/torrents/image-img.tar.gz.torrent.head" &&
	for n in n1 n2 n3; do
		grep "image-img.tar.gz.torrent: from the swarm in" $n.err || return 1
	done
'

test_expect_success 'each target equals the image' '
	for n in n1 n2 n3; do
		tree_diff "$BASE/images/img" "t-$n" --exclude etc/swarmimager || return 1
		grep "^IMAGENAME=.\?img" "t-$n/etc/swarmimager/installed" || return 1
	done
'

test_expect_success 'each node left the swarm because nobody needed it' '
	for n in n1 n2 n3; do
		grep "leaving the swarm: no peer interested" $n.err || return 1
	done
'

test_expect_success 'the nodes served each other (striped seed)' '
	size=$(stat -c %s "$BASE/tarballs/image-img.tar.gz") &&
	up=0 &&
	for n in n1 n2 n3; do
		set -- $(sed -n "s/.*(down .*, up \([0-9.]*\) \([KMG]*i*B\),.*/\1 \2/p" $n.out) &&
		test $# = 2 &&
		up=$((up + $(bytes "$1" "$2"))) || return 1
	done &&
	say "nodes uploaded $up bytes, image $size bytes" &&
	test "$up" -gt "$size"
'

test_expect_success 'a bad torrent head: the node fetches the whole torrent' '
	head=$BASE/torrents/image-img.tar.gz.torrent.head &&
	cp "$head" head.saved &&
	echo garbage >"$head" &&
	mkdir t-n4 &&
	TMPDIR="$TRASH" si_boel --target t-n4 \
		--imageserver "127.0.0.1:$RSYNC_PORT" --image img \
		--hostname n4 --cmdline /dev/null --listen 127.0.0.1:0 \
		--no-seed-wait >n4.out 2>n4.err; rc=$?
	cp head.saved "$head" &&
	cat n4.err && test $rc = 0 &&
	grep "image-img.tar.gz.torrent.head: not a torrent head" n4.err &&
	grep "fetching the image.s torrent from the server instead" n4.err &&
	tree_diff "$BASE/images/img" t-n4 --exclude etc/swarmimager
'

test_expect_success 'the seeder stops cleanly, its heads gone' '
	kill -TERM $SEEDER_PID && wait_for 10 gone $SEEDER_PID &&
	wait $SEEDER_PID &&
	test ! -e "$BASE/torrents/seeder.cfg" &&
	test ! -e "$BASE/torrents/image-img.tar.gz.torrent.head"
'
test_done
