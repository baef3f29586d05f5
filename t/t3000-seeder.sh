#!/bin/bash
test_description='si_seeder: readiness, rsync modules, a stock client downloads through the tracker, clean stop'
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-seeder.sh"

test_expect_success 'usage errors exit 2' '
	expect_exit 2 si_seeder --base "$BASE" --bt-port 70000 2>err &&
	grep -q "invalid BitTorrent port .70000." err &&
	expect_exit 2 si_seeder --base "$BASE" --address not-an-ip 2>err &&
	grep -q "invalid address" err &&
	expect_exit 2 si_seeder --base "$BASE" extra 2>err &&
	expect_exit 2 si_seeder --no-such-option 2>err
'

test_expect_success 'two servers on one port are refused before anything is made' '
	expect_exit 1 si_seeder --base "$TRASH/nobase" --bt-port 7000 \
		--tracker-port 7000 2>err &&
	grep -q "ports must differ (7000)" err &&
	[ ! -e "$TRASH/nobase" ]
'

test_expect_success 'a bad port in bittorrent.conf is refused' '
	echo "BT_TRACKER_PORT=http" >"$BASE/etc/bittorrent.conf" &&
	expect_exit 1 si_seeder --base "$BASE" 2>err &&
	grep -q "invalid BT_TRACKER_PORT .http. in .*bittorrent.conf:1" err &&
	echo "BT_TORRENT_HEADS=maybe" >"$BASE/etc/bittorrent.conf" &&
	expect_exit 1 si_seeder --base "$BASE" 2>err &&
	grep -q "invalid BT_TORRENT_HEADS .maybe. in .*bittorrent.conf:1 (yes or no)" err &&
	rm "$BASE/etc/bittorrent.conf"
'

test_expect_success '--torrent-heads and --no-torrent-heads together are refused' '
	expect_exit 2 si_seeder --base "$BASE" --torrent-heads --no-torrent-heads 2>err &&
	grep -q "contradict" err
'

test_expect_success 'starts with two images and prints one readiness line' '
	make_image alpha 2000 &&
	make_image beta 300 &&
	start_seeder &&
	test_line_count=$(wc -l <seeder.out) &&
	[ "$test_line_count" -eq 1 ] &&
	grep -Eq "^si_seeder: ready: bittorrent 127\.0\.0\.1:[0-9]+ tracker 127\.0\.0\.1:$TPORT rsync 127\.0\.0\.1:[0-9]+ torrents 2\$" seeder.out
'

test_expect_success 'a torrent head for each torrent by default' '
	ls "$BASE/torrents" | grep "\.head$" >heads &&
	printf "image-%s.tar.gz.torrent.head\n" alpha beta >want &&
	test_cmp want heads
'

test_expect_success 'seeder.cfg tells the ports' '
	printf "BT_SEEDER_PORT=%s\nBT_TRACKER_PORT=%s\n" "$BT_PORT" "$TPORT" >expect &&
	grep -v "^#" "$BASE/torrents/seeder.cfg" >actual &&
	test_cmp expect actual &&
	( . "$BASE/torrents/seeder.cfg" && [ "$BT_SEEDER_PORT" = "$BT_PORT" ] )
'

test_expect_success 'the tracker whitelist holds exactly the torrents' '
	{ info_hash "$BASE/torrents/image-alpha.tar.gz.torrent" &&
	  info_hash "$BASE/torrents/image-beta.tar.gz.torrent"; } | sort >expect &&
	whitelist >actual &&
	test_cmp expect actual
'

test_expect_success 'everything listens where it said' '
	listens t "$BT_PORT" &&
	listens t "$TPORT" &&
	listens u "$TPORT" &&
	listens t "$RSYNC_PORT"
'

# backlog PORT: the listen queue of the TCP socket on 127.0.0.1:PORT.
backlog() {
	ss -Hltn "sport = :$1" | awk '$4 ~ /^127\.0\.0\.1/ { print $3 }'
}

# A whole cluster starts at once: with rsync'"'"'s default queue of 5 a node's
# dropped SYN was sent again 1 s later, then 3 s.
test_expect_success 'the rsync daemon and BitTorrent queue 256 connections' '
	[ "$(backlog "$RSYNC_PORT")" -ge 256 ] &&
	[ "$(backlog "$BT_PORT")" -ge 256 ]
'

# An rsync session is many small exchanges; with Nagle's algorithm on,
# each could wait for the client's delayed ACK (40 ms).  rsync sets its
# "socket options" on the listening socket, and the connections it accepts
# inherit them.  The control: BitTorrent keeps Nagle (its many small
# messages then share packets; TCP_NODELAY there was slower at N=32, see
# docs/perf/swarm-scheduling.md, session 6).
test_expect_success 'the rsync daemon answers with TCP_NODELAY' '
	pid=$(child_pid rsync) && [ -n "$pid" ] &&
	[ "$(python3 "$TEST_DIR/lib/nodelay.py" "$pid" "$RSYNC_PORT")" = 1 ] &&
	[ "$(python3 "$TEST_DIR/lib/nodelay.py" "$SEEDER_PID" "$BT_PORT")" = 0 ]
'

test_expect_success 'the rsync daemon exports four read-only modules' '
	rsync "rsync://127.0.0.1:$RSYNC_PORT/" | awk "{print \$1}" >actual &&
	printf "torrents\noverrides\nscripts\nimages\n" >expect &&
	test_cmp expect actual &&
	mkdir -p "$BASE/scripts" && echo "n1:g:alpha:" >"$BASE/scripts/cluster.txt" &&
	rsync "rsync://127.0.0.1:$RSYNC_PORT/scripts/cluster.txt" got.txt &&
	cmp "$BASE/scripts/cluster.txt" got.txt &&
	echo x >up.txt &&
	! rsync up.txt "rsync://127.0.0.1:$RSYNC_PORT/scripts/" 2>err &&
	grep -q "read only" err &&
	[ ! -e "$BASE/scripts/up.txt" ]
'

test_expect_success 'the images module keeps numeric owners and symlinks' '
	mkdir -p "$BASE/images/img/etc" &&
	echo hi >"$BASE/images/img/etc/f" &&
	ln -s /usr/lib/os-release "$BASE/images/img/etc/os-release" &&
	if [ "$(id -u)" -eq 0 ]; then
		chown 4321:4322 "$BASE/images/img/etc/f"
	fi &&
	rsync -a --numeric-ids "rsync://127.0.0.1:$RSYNC_PORT/images/img/" img/ &&
	[ "$(readlink img/etc/os-release)" = /usr/lib/os-release ] &&
	[ "$(stat -c %u:%g img/etc/f)" = "$(stat -c %u:%g "$BASE/images/img/etc/f")" ]
'

test_expect_success 'aria2c downloads both images through the tracker' '
	fetch alpha &&
	fetch beta
'

# aria2c offers an encrypted handshake first; refused, it waited a second
# and tried again in plaintext, with every SwarmImager peer.
test_expect_success 'aria2c'"'"'s encrypted handshake is answered, in plaintext' '
	log="$TRASH/dl-alpha/aria2.log" &&
	grep -q "From: 127\.0\.0\.1:$BT_PORT handshake peerId=-SI" "$log" &&
	cuid=$(sed -n "s/.* CUID#\([0-9]*\) - Connecting to 127\.0\.0\.1:$BT_PORT\$/\1/p" "$log" | head -n 1) &&
	[ -n "$cuid" ] &&
	grep -q "CUID#$cuid - peer prefers plaintext" "$log"
'

test_expect_success 'the status line reports the upload' '
	wait_for 15 grep -Eq "status: 2 torrents, [0-9]+ peers, upload .*, uploaded [0-9.]+ MiB" seeder.err
'

test_expect_success 'a second seeder on the same base refuses' '
	expect_exit 1 si_seeder --base "$BASE" --address 127.0.0.1 --bt-port 0 \
		--tracker-port 0 --rsync-port 0 >out2 2>err2 &&
	grep -q "another si_seeder" err2 &&
	[ ! -s out2 ] &&
	[ -e "$BASE/torrents/seeder.cfg" ]
'

test_expect_success 'SIGTERM stops everything and exits 0' '
	kids=$(seeder_children) &&
	[ $(echo $kids | wc -w) -eq 2 ] &&
	kill -TERM "$SEEDER_PID" &&
	wait_for 15 sh -c "! kill -0 $SEEDER_PID" &&
	{ wait "$SEEDER_PID"; rc=$?; } ;
	[ "$rc" -eq 0 ] &&
	for k in $kids; do ! kill -0 "$k" 2>/dev/null || return 1; done &&
	[ ! -e "$BASE/torrents/seeder.cfg" ] &&
	! listens t "$TPORT" &&
	! listens t "$RSYNC_PORT"
'

# stop_seeder: SIGTERM, and wait for the exit.
stop_seeder() {
	kill -TERM "$SEEDER_PID" && wait_for 15 sh -c "! kill -0 $SEEDER_PID"
}

test_expect_success 'BT_TORRENT_HEADS=no: no heads, a stale one removed' '
	echo stale >"$BASE/torrents/image-alpha.tar.gz.torrent.head" &&
	echo "BT_TORRENT_HEADS=no" >"$BASE/etc/bittorrent.conf" &&
	start_seeder &&
	! ls "$BASE/torrents" | grep "\.head$" &&
	stop_seeder
'

test_expect_success '--no-torrent-heads wins over BT_TORRENT_HEADS=yes' '
	echo "BT_TORRENT_HEADS=yes" >"$BASE/etc/bittorrent.conf" &&
	start_seeder --no-torrent-heads &&
	! ls "$BASE/torrents" | grep "\.head$" &&
	stop_seeder &&
	rm "$BASE/etc/bittorrent.conf"
'

test_done
