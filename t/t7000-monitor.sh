#!/bin/bash
test_description='si_monitor: real si_boel installs report to it; SystemImager 4 lines; stale installs; a restart loses nothing; bad input refused; a dead or slow monitor costs an install nothing'
# The whole script runs in a network namespace of its own, whose loopback
# is slowed to 16 Mbit/s (tc; an MTU of 1500, under the bucket), so that an 8 MB image takes seconds and
# reports several percents.
if [ -z "${T7000_NETNS:-}" ] && [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
	T7000_NETNS=1 exec unshare -n "$BASH" "$0" "$@"
fi
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-seeder.sh"
require_root
[ -n "${T7000_NETNS:-}" ] || skip_all "needs a network namespace (unshare -n)"
require_cmd sqlite3 tc ip

DB=$TRASH/monitor.db

# sq SQL: a query on the monitor's database with the sqlite3 shell.
sq() { sqlite3 -readonly "$DB" "$1"; }

# start_monitor [OPTIONS]: si_monitor on 127.0.0.1 (MPORT and LPORT when
# set, else any ports; then set from its readiness line).
start_monitor() {
	si_monitor --database "$DB" --address 127.0.0.1 --port "${MPORT:-0}" \
		--legacy-port "${LPORT:-0}" -v "$@" >>"$TRASH/monitor.out" \
		2>>"$TRASH/monitor.err" &
	MONITOR_PID=$!
	test_atexit "kill_pid $MONITOR_PID"
	wait_for 10 grep -q "ready:" "$TRASH/monitor.out" || {
		cat "$TRASH/monitor.err"; return 1; }
	MPORT=$(sed -n 's/.*JSON reports on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$TRASH/monitor.out" | tail -n 1)
	LPORT=$(sed -n 's/.*lines on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$TRASH/monitor.out" | tail -n 1)
	[ -n "$MPORT" ] && [ -n "$LPORT" ]
}

# install NAME MAC [ARGS]: si_boel installs img into NAME as host NAME;
# output in NAME.out and NAME.err, its milliseconds in NAME.ms.
install() {
	local name=$1 mac=$2 t0=$(date +%s%N) rc; shift 2
	mkdir -p "$name" || return 1
	TMPDIR="$TRASH" timeout 120 si_boel --target "$name" --imageserver "127.0.0.1:$RSYNC_PORT" \
		--image img --hostname "$name" --mac "$mac" --cmdline /dev/null \
		--listen 127.0.0.1:0 --no-seed-wait --retry-delay 0.2 \
		--polling-time 1 --stall-timeout 20 "$@" >"$name.out" 2>"$name.err"
	rc=$?
	echo $(( ($(date +%s%N) - t0) / 1000000 )) >"$name.ms"
	return $rc
}

# statuses MAC: the statuses of the node's last install, in order.
statuses() {
	sq "SELECT group_concat(status, ' ') FROM (SELECT h.status FROM history h
	    WHERE h.install_id = (SELECT install_id FROM nodes WHERE mac = '$1')
	    AND h.status IS NOT NULL ORDER BY h.id)"
}

# ascending LIST: the numbers are in order; the first is 0, the last 101.
ascending() {
	python3 -c '
import sys
v = [int(x) for x in sys.argv[1].split()]
assert v and v[0] == 0 and v[-1] == 101, v
assert v == sorted(v), v
assert 100 in v, v
assert len([x for x in v if 0 < x < 100]) >= 2, v
' "$1"
}

# node_json MAC KEY: KEY of the node in si_monitor --status --json.
node_json() {
	si_monitor --database "$DB" --status --json | python3 -c '
import json, sys
nodes = {n["mac"]: n for n in json.load(sys.stdin)}
v = nodes[sys.argv[1]][sys.argv[2]] if sys.argv[1] in nodes else "(no node)"
print("null" if v is None else v)' "$1" "$2"
}

# json_is MAC KEY VALUE, json_ge MAC KEY NUMBER: for wait_for, which
# runs them again and again.
json_is() { test "$(node_json "$1" "$2")" = "$3"; }
json_ge() { v=$(node_json "$1" "$2") && [ "$v" -ge "$3" ] 2>/dev/null; }

alive() { kill -0 "$MONITOR_PID"; }

test_expect_success 'an 8 MB image, si_seeder and si_monitor on a slow loopback' '
	ip link set lo mtu 1500 up &&
	tc qdisc add dev lo root tbf rate 16mbit burst 16kb latency 100ms &&
	mkdir -p "$BASE/images/img/data" "$BASE/images/img/etc" &&
	echo img >"$BASE/images/img/etc/hostname" &&
	printf "BT_TRACKER_PORT=%s\n" "$TPORT" >"$BASE/etc/bittorrent.conf" &&
	head -c 8388608 /dev/urandom >"$BASE/images/img/data/blob" &&
	si_installbtimage --base "$BASE" --address 127.0.0.1 --images img -q &&
	start_seeder &&
	start_monitor --stale-timeout 3 --max-per-address 4 &&
	grep -q "database $DB$" monitor.out
'

test_expect_success 'an install reports 0, percents in order, 100, 101, its figures and log' '
	install n1 52:54:00:70:00:01 --monitor-server "127.0.0.1:$MPORT"; rc=$?;
	cat n1.err; test $rc = 0 &&
	grep "reporting to the monitor 127.0.0.1:$MPORT as 52:54:00:70:00:01" n1.err &&
	S=$(statuses 52:54:00:70:00:01) && echo "statuses: $S" &&
	ascending "$S" &&
	test "$(sq "SELECT hostname, image, version, status, total FROM nodes WHERE mac = '\''52:54:00:70:00:01'\''")" = \
		"n1|img|1|101|$(stat -c %s "$BASE/tarballs/image-img.tar.gz")" &&
	test "$(sq "SELECT result, image, last_status, ended IS NOT NULL FROM installs WHERE mac = '\''52:54:00:70:00:01'\''")" = "imaged|img|101|1" &&
	test "$(sq "SELECT max(downloaded) > 1000000 AND max(extracted) > 1000000 FROM history WHERE mac = '\''52:54:00:70:00:01'\''")" = 1 &&
	sq "SELECT text FROM logs WHERE mac = '\''52:54:00:70:00:01'\''" >n1.logs &&
	grep "staging in" n1.logs && grep "image: image-img.tar.gz installed" n1.logs &&
	test "$(node_json 52:54:00:70:00:01 state)" = finalizing &&
	test "$(node_json 52:54:00:70:00:01 ip)" = 127.0.0.1 &&
	test "$(node_json 52:54:00:70:00:01 stale)" = 0
'

test_expect_success 'the table: the node with its state, image and address' '
	si_monitor --database "$DB" --status >table &&
	cat table &&
	grep -E "^n1 +52:54:00:70:00:01 +127\.0\.0\.1 +img +finalizing " table &&
	grep "^1 nodes: 1 imaged or later, 0 failed, 0 stale$" table &&
	timeout -s INT 3 si_monitor --database "$DB" --follow --interval 0.5 >follow;
	test $(grep -c "^n1 " follow) -ge 3 &&
	test $(grep -c "si_monitor --follow, every 0.5 s" follow) -ge 3
'

test_expect_success 'a SystemImager 4 line on the legacy port is stored' '
	echo "mac=00:0C:29:AB:CD:EF:ip=10.0.0.5:host=old5:cpu=Xeon:ncpus=8:kernel=2.6.32:mem=16000:os=rhel6:tmpfs=1:time=33:status=42:speed=1234" |
		monitor-peer.py send 127.0.0.1 "$LPORT" &&
	wait_for 5 json_is 00:0c:29:ab:cd:ef status 42 &&
	test "$(node_json 00:0c:29:ab:cd:ef hostname)" = old5 &&
	test "$(node_json 00:0c:29:ab:cd:ef image)" = rhel6 &&
	test "$(node_json 00:0c:29:ab:cd:ef ip)" = 10.0.0.5 &&
	test "$(node_json 00:0c:29:ab:cd:ef down_rate)" = 1234000 &&
	test "$(statuses 00:0c:29:ab:cd:ef)" = 42
'

test_expect_success 'an install that stops reporting becomes stale, and comes back' '
	printf "%s\n" "{\"type\":\"hello\",\"mac\":\"52:54:00:70:00:09\",\"hostname\":\"quiet\",\"image\":\"img\"}" \
		"{\"type\":\"state\",\"status\":0}" "{\"type\":\"progress\",\"status\":10,\"percent\":10.5}" |
		monitor-peer.py send 127.0.0.1 "$MPORT" &&
	wait_for 5 json_is 52:54:00:70:00:09 status 10 &&
	test "$(node_json 52:54:00:70:00:09 stale)" = 0 &&
	wait_for 15 json_is 52:54:00:70:00:09 stale 1 &&
	test "$(node_json 52:54:00:70:00:09 result)" = stale &&
	sq "SELECT message FROM history WHERE mac = '\''52:54:00:70:00:09'\''" | grep "^stale: no report for [0-9]* s$" &&
	grep -E "[0-9]+ installs? stale: no report for 3 s" monitor.err &&
	si_monitor --database "$DB" --status >table && cat table &&
	grep -E "^quiet .* STALE 10% " table &&
	test "$(node_json 52:54:00:70:00:01 stale)" = 0 &&
	test "$(node_json 00:0c:29:ab:cd:ef stale)" = 1 &&
	echo "{\"type\":\"progress\",\"mac\":\"52:54:00:70:00:09\",\"status\":20}" |
		monitor-peer.py send 127.0.0.1 "$MPORT" &&
	wait_for 5 json_is 52:54:00:70:00:09 status 20 &&
	test "$(node_json 52:54:00:70:00:09 stale)" = 0 &&
	test "$(node_json 52:54:00:70:00:09 result)" = running
'

test_expect_success 'bad input is refused and logged; the daemon keeps serving' '
	printf "%s\n" "not json" "{\"type\":\"state\",\"status\":1" "{\"type\":\"nope\"}" \
		"{\"type\":\"state\",\"status\":5}" \
		"{\"type\":\"hello\",\"mac\":\"52:54:00:70:00:0a\",\"hostname\":\"odd\",\"shoe_size\":44,\"nested\":{\"a\":[1,2]}}" \
		"{\"type\":\"state\",\"status\":7,\"mac\":\"52:54:00:70:00:0b\"}" \
		"{\"type\":\"state\",\"status\":3,\"colour\":\"blue\"}" |
		monitor-peer.py send 127.0.0.1 "$MPORT" &&
	wait_for 5 json_is 52:54:00:70:00:0a status 3 &&
	test "$(node_json 52:54:00:70:00:0a hostname)" = odd &&
	test "$(node_json 52:54:00:70:00:0b status)" = "(no node)" &&
	grep "refused a report from 127.0.0.1: malformed JSON: expected an object at byte 0 (.not json.)" monitor.err &&
	grep "refused a report from 127.0.0.1: malformed JSON: expected .,. or .}. at byte 26" monitor.err &&
	grep "refused a report from 127.0.0.1: unknown type .nope." monitor.err &&
	grep "refused a report from 127.0.0.1: no .mac. and no hello before" monitor.err &&
	grep "refused a report from 127.0.0.1: MAC 52:54:00:70:00:0b on the connection of 52:54:00:70:00:0a" monitor.err &&
	alive
'

test_expect_success 'a 1 MB line drops its connection; the daemon keeps serving' '
	python3 -c "import sys; sys.stdout.write(\"{\\\"type\\\":\\\"log\\\",\\\"text\\\":\\\"\" + \"x\" * 1048576 + \"\\\"}\\n\")" >big &&
	monitor-peer.py send 127.0.0.1 "$MPORT" 1 <big;
	grep "refused a report from 127.0.0.1: a line longer than 64 KiB: connection dropped" monitor.err &&
	alive &&
	echo "{\"type\":\"progress\",\"mac\":\"52:54:00:70:00:0a\",\"status\":4}" |
		monitor-peer.py send 127.0.0.1 "$MPORT" &&
	wait_for 5 json_is 52:54:00:70:00:0a status 4 &&
	test "$(sq "SELECT count(*) FROM logs WHERE length(text) > 65536")" = 0
'

test_expect_success 'too many connections from one address: the extra ones are refused' '
	monitor-peer.py conns 127.0.0.1 "$MPORT" 7 1 >conns.closed &&
	test "$(cat conns.closed)" = 3 &&
	grep "refused a connection from 127.0.0.1: too many connections from this address" monitor.err &&
	alive &&
	echo "mac=52:54:00:70:00:0c:status=9" | monitor-peer.py send 127.0.0.1 "$LPORT" &&
	wait_for 5 json_is 52:54:00:70:00:0c status 9
'

test_expect_success 'the monitor killed mid-install and restarted: nothing lost, the node reconnects' '
	(install n2 52:54:00:70:00:02 --monitor-server "127.0.0.1:$MPORT"; echo $? >n2.rc) &
	wait_for 30 json_ge 52:54:00:70:00:02 status 1 &&
	kill -KILL $MONITOR_PID && wait $MONITOR_PID 2>/dev/null;
	BEFORE=$(statuses 52:54:00:70:00:02) && echo "before: $BEFORE" &&
	test "$(sq "SELECT count(*) FROM nodes")" = 6
	start_monitor --stale-timeout 3 --max-per-address 4 &&
	wait_for 60 test -s n2.rc && test "$(cat n2.rc)" = 0 &&
	cat n2.err &&
	wait_for 10 json_is 52:54:00:70:00:02 status 101 &&
	S=$(statuses 52:54:00:70:00:02) && echo "statuses: $S" &&
	ascending "$S" &&
	case "$S" in "$BEFORE"*) ;; *) false ;; esac &&
	test "$(sq "SELECT count(*) FROM installs WHERE mac = '\''52:54:00:70:00:02'\''")" = 1 &&
	test "$(node_json 52:54:00:70:00:01 state)" = finalizing &&
	test "$(node_json 00:0c:29:ab:cd:ef hostname)" = old5 &&
	test "$(sq "SELECT count(*) FROM nodes")" = 6
'

test_expect_success 'a reinstall of a node is a second install with its own history' '
	install n1 52:54:00:70:00:01 --monitor-server "127.0.0.1:$MPORT" &&
	test "$(sq "SELECT group_concat(result, \" \") FROM (SELECT result FROM installs WHERE mac = '\''52:54:00:70:00:01'\'' ORDER BY id)")" = "imaged imaged" &&
	ascending "$(statuses 52:54:00:70:00:01)" &&
	test "$(node_json 52:54:00:70:00:01 installs)" = 2
'

test_expect_success 'a failed install: its negative status and message, listed first' '
	mkdir -p n3 &&
	expect_exit 1 si_boel --target n3 --imageserver "127.0.0.1:$RSYNC_PORT" \
		--image nosuch --hostname n3 --mac 52:54:00:70:00:03 --cmdline /dev/null \
		--listen 127.0.0.1:0 --no-seed-wait --retry-delay 0.2 \
		--monitor-server "127.0.0.1:$MPORT" >n3.out 2>n3.err &&
	wait_for 5 json_is 52:54:00:70:00:03 status -1 &&
	node_json 52:54:00:70:00:03 message | grep "no image .nosuch." &&
	test "$(node_json 52:54:00:70:00:03 result)" = failed &&
	si_monitor --database "$DB" --status >table && cat table &&
	sed -n 2p table | grep -E "^n3 .* FAILED\(-1\) .*no image" &&
	tail -n 1 table | grep "1 failed"
'

test_expect_success 'a baseline install without a monitor' '
	install base 52:54:00:70:00:10 && cat base.ms
'

# slower NAME SECONDS: NAME's install took less than SECONDS more than
# the baseline's.
slower() {
	echo "$1: $(cat "$1.ms") ms, baseline $(cat base.ms) ms" &&
	test "$(cat "$1.ms")" -lt $(( $(cat base.ms) + $2 * 1000 ))
}

test_expect_success 'a monitor nobody listens on costs the install nothing' '
	install closed 52:54:00:70:00:11 --monitor-server "127.0.0.1:$(free_port)" &&
	slower closed 2
'

# An address on a link where nobody answers ARP: a connection waits
# until the kernel gives up on the neighbour.
test_expect_success 'a monitor that never answers: the install goes on' '
	ip link add bh0 type veth peer name bh1 &&
	ip addr add 10.77.0.2/24 dev bh0 &&
	ip link set bh0 up && ip link set bh1 up &&
	install dropped 52:54:00:70:00:12 --monitor-server 10.77.0.1 &&
	slower dropped 2
'

test_expect_success 'a monitor that accepts and never reads: the install goes on' '
	start_bg sink monitor-peer.py sink &&
	wait_for_line 10 "$TRASH/sink.log" "^listening " &&
	SPORT=$(sed -n "s/^listening 127.0.0.1:\([0-9]*\)$/\1/p" "$TRASH/sink.log") &&
	install sunk 52:54:00:70:00:13 --monitor-server "127.0.0.1:$SPORT" &&
	slower sunk 3
'

test_expect_success 'SIGTERM stops the daemon with a summary, exit 0' '
	kill -TERM $MONITOR_PID && wait $MONITOR_PID; rc=$?; test $rc = 0 &&
	grep "stopping on signal 15: [0-9]* reports stored, [0-9]* refused" monitor.err
'

test_expect_success 'usage errors exit 2; --status without a database exits 1' '
	expect_exit 2 si_monitor --bogus 2>err && grep "bogus" err &&
	expect_exit 2 si_monitor --stale-timeout 0 2>err &&
	expect_exit 2 si_monitor --address nowhere 2>err && grep "invalid address" err &&
	expect_exit 1 si_monitor --database "$TRASH/none.db" --status 2>err &&
	grep "cannot open the database" err &&
	expect_exit 2 si_boel --target x --imageserver 127.0.0.1 --monitor-server "a b" 2>err &&
	grep "invalid MONITOR_SERVER" err
'

test_done
