#!/bin/bash
test_description='si_seeder: ports in use fail cleanly; dead children are restarted; SIGINT stops'
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-seeder.sh"

# hold_port PORT: a plain TCP listener on 127.0.0.1:PORT until the end.
hold_port() {
	start_bg "hold-$1" python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("listening", flush=True)
time.sleep(300)' "$1" &&
	wait_for_line 10 "$TRASH/hold-$1.log" listening
}

# no_leftovers: nothing runs that was started for this base.
no_leftovers() {
	! pgrep -f -- "$BASE/run" >/dev/null
}

test_expect_success 'setup' '
	make_image alpha 500
'

test_expect_success 'tracker port in use: one clear line, exit 1, nothing left' '
	hold_port "$TPORT" &&
	expect_exit 1 si_seeder --base "$BASE" --address 127.0.0.1 --bt-port 0 \
		--tracker-port "$TPORT" --rsync-port 0 >out 2>err &&
	cat err &&
	[ "$(wc -l <err)" -eq 1 ] &&
	grep -q "^si_seeder: cannot listen on tracker port 127.0.0.1:$TPORT: Address already in use\$" err &&
	[ ! -s out ] &&
	[ ! -e "$BASE/torrents/seeder.cfg" ] &&
	no_leftovers &&
	kill_pid "$(cat hold-$TPORT.pid)"
'

test_expect_success 'BitTorrent and rsync ports in use: named in the error' '
	p=$(free_port) && hold_port "$p" &&
	expect_exit 1 si_seeder --base "$BASE" --address 127.0.0.1 --bt-port "$p" \
		--tracker-port 0 --rsync-port 0 >out 2>err &&
	grep -q "cannot listen on BitTorrent port 127.0.0.1:$p" err &&
	expect_exit 1 si_seeder --base "$BASE" --address 127.0.0.1 --bt-port 0 \
		--tracker-port 0 --rsync-port "$p" >out 2>err &&
	grep -q "cannot listen on rsync port 127.0.0.1:$p" err &&
	[ ! -s out ] && no_leftovers && [ ! -e "$BASE/torrents/seeder.cfg" ]
'

test_expect_success 'an opentracker failing at start-up is an error, nothing left' '
	mkdir -p fakebin && ln -sf /bin/false fakebin/opentracker &&
	PATH="$TRASH/fakebin:$PATH" expect_exit 1 si_seeder --base "$BASE" \
		--address 127.0.0.1 --bt-port 0 --tracker-port 0 --rsync-port 0 \
		>out 2>err &&
	grep -q "opentracker (pid [0-9]*) exited with status 1 while starting" err &&
	[ ! -s out ] && no_leftovers && [ ! -e "$BASE/torrents/seeder.cfg" ]
'

test_expect_success 'start the seeder' '
	start_seeder &&
	fetch alpha
'

test_expect_success 'a killed opentracker is restarted, logged, and serves again' '
	old=$(child_pid opentracker) && [ -n "$old" ] &&
	kill -KILL "$old" &&
	wait_for 10 grep -q "opentracker (pid $old) killed by signal 9" seeder.err &&
	wait_for 10 grep -q "restarted opentracker" seeder.err &&
	new=$(child_pid opentracker) && [ -n "$new" ] && [ "$new" != "$old" ] &&
	wait_for 10 grep -q "opentracker is back" seeder.err &&
	tracker_allows "$(info_hash "$BASE/torrents/image-alpha.tar.gz.torrent")" &&
	fetch alpha
'

test_expect_success 'a killed rsync daemon is restarted' '
	old=$(child_pid rsync) && [ -n "$old" ] &&
	kill -KILL "$old" &&
	wait_for 10 grep -q "rsync daemon (pid $old) killed by signal 9" seeder.err &&
	wait_for 10 grep -q "restarted rsync daemon" seeder.err &&
	wait_for 10 rsync "rsync://127.0.0.1:$RSYNC_PORT/torrents/" &&
	[ "$(child_pid rsync)" != "$old" ]
'

test_expect_success 'SIGINT stops everything and exits 0' '
	kids=$(seeder_children) &&
	kill -INT "$SEEDER_PID" &&
	wait_for 15 sh -c "! kill -0 $SEEDER_PID" &&
	{ wait "$SEEDER_PID"; rc=$?; } ;
	[ "$rc" -eq 0 ] &&
	for k in $kids; do ! kill -0 "$k" 2>/dev/null || return 1; done &&
	no_leftovers &&
	[ ! -e "$BASE/torrents/seeder.cfg" ]
'

test_done
