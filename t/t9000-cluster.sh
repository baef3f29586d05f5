#!/bin/bash
test_description='emulated cluster: namespaces, shaped links, isolation, cleanup'
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-cluster.sh"

require_root
require_cmd ip tc ping python3

# xfer FROM TO BYTES: sends BYTES over TCP from FROM to TO; prints
# "BYTES SECONDS" as the receiver saw them.
xfer() {
	local from=$1 to=$2 bytes=$3 port=5001 pid
	rm -f recv.out recv.err
	cluster_exec "$to" netxfer.py recv "$(cluster_ip "$to")" $port 30 \
		>recv.out 2>recv.err &
	pid=$!
	wait_for_line 10 recv.err listening &&
	cluster_exec "$from" netxfer.py send "$(cluster_ip "$to")" $port "$bytes" 30 &&
	wait "$pid" &&
	cat recv.out
}

# slower_than SECONDS "BYTES SECONDS": the transfer was whole and slower.
whole_and_slower() {
	set -- "$1" "$2" $3
	[ "$3" -eq "$2" ] && awk -v t="$4" -v min="$1" 'BEGIN { exit !(t > min) }'
}

test_expect_success 'bad arguments are refused with one line, nothing made' '
	! cluster_up Bad 4 20mbit 2>err && grep "bad cluster name" err &&
	! cluster_up ok 0 20mbit 2>err && grep "bad node count" err &&
	! cluster_up ok 2 fast 2>err && grep "bad rate" err &&
	test $(wc -l <err) = 1 &&
	! ip netns list | grep -q -- "-$CLUSTER_ID-"
'

test_expect_success 'up: a switch, a server and 4 nodes' '
	cluster_up t9000 4 20mbit &&
	test "$(cluster_nodes)" = "n1 n2 n3 n4 " &&
	test $(ip netns list | grep -c "^t9000-$CLUSTER_ID-") = 6 &&
	tc -n $(cluster_ns n2) qdisc show dev eth0 | grep "tbf.*rate 20Mbit" &&
	tc -n $(cluster_ns switch) qdisc show dev vn2 | grep "tbf.*rate 20Mbit"
'

test_expect_success 'up again is idempotent, grows and shrinks' '
	cluster_up t9000 4 20mbit &&
	test $(ip netns list | grep -c "^t9000-$CLUSTER_ID-") = 6 &&
	cluster_up t9000 5 20mbit &&
	cluster_exec n5 ping -c1 -W5 $(cluster_ip server) &&
	cluster_up t9000 4 20mbit &&
	test $(ip netns list | grep -c "^t9000-$CLUSTER_ID-") = 6 &&
	! test -e /run/netns/$(cluster_ns n5)
'

test_expect_success 'nodes and server reach each other' '
	cluster_exec n1 ping -c1 -W5 $(cluster_ip n4) &&
	cluster_exec n4 ping -c1 -W5 $(cluster_ip server) &&
	cluster_exec server ping -c1 -W5 $(cluster_ip n3)
'

test_expect_success 'server to node transfer is shaped (4 MB at 20 Mbit/s > 1 s)' '
	before=$(cluster_tx_bytes server) &&
	xfer server n1 4000000 >res &&
	say "server->n1: $(cat res)" &&
	whole_and_slower 1.0 4000000 "$(cat res)" &&
	after=$(cluster_tx_bytes server) &&
	test $((after - before)) -ge 4000000 &&
	test $((after - before)) -lt 4600000
'

test_expect_success 'node upload is shaped too (node to server)' '
	xfer n2 server 4000000 >res &&
	say "n2->server: $(cat res)" &&
	whole_and_slower 1.0 4000000 "$(cat res)"
'

test_expect_success 'set_rate reshapes one link both ways' '
	cluster_set_rate n3 2mbit &&
	tc -n $(cluster_ns n3) qdisc show dev eth0 | grep "rate 2Mbit" &&
	tc -n $(cluster_ns switch) qdisc show dev vn3 | grep "rate 2Mbit" &&
	xfer server n3 1000000 >res &&
	say "server->n3 at 2mbit: $(cat res)" &&
	whole_and_slower 2.0 1000000 "$(cat res)" &&
	cluster_set_rate n3 20mbit &&
	! cluster_set_rate n9 1mbit 2>err && grep "no host" err
'

test_expect_success 'isolation: no default route, no IPv6, own loopback' '
	! cluster_exec server ip route | grep -q default &&
	! cluster_exec n1 ip route | grep -q default &&
	test "$(cluster_exec server ip -6 addr)" = "" &&
	test "$(cluster_exec n1 ip -6 addr)" = "" &&
	! cluster_exec n1 ping -c1 -W1 8.8.8.8 2>err && grep -i unreachable err &&
	port=$(free_port) &&
	start_bg outside python3 -c "
import socket, time
s = socket.socket(); s.bind((\"127.0.0.1\", $port)); s.listen(1); time.sleep(60)" &&
	wait_for 10 sh -c "ss -Htln | grep -q 127.0.0.1:$port" &&
	! cluster_exec n1 python3 -c "
import socket; socket.create_connection((\"127.0.0.1\", $port), timeout=3)" 2>err &&
	grep -i refused err
'

test_expect_success 'link down cuts a host off, link up restores it' '
	cluster_link_down n2 &&
	! cluster_exec n1 ping -c1 -W1 $(cluster_ip n2) &&
	cluster_link_up n2 &&
	wait_for 10 cluster_exec n1 ping -c1 -W1 $(cluster_ip n2) &&
	tc -n $(cluster_ns n2) qdisc show dev eth0 | grep "tbf.*rate 20Mbit"
'

test_expect_success 'down kills processes inside and removes every namespace' '
	cluster_exec n1 sleep 600 &
	sleeper=$! &&
	wait_for 10 sh -c "test -n \"\$(ip netns pids $(cluster_ns n1))\"" &&
	prefix=$CLUSTER_PREFIX &&
	cluster_down &&
	! ip netns list | grep -q "^$prefix-" &&
	! ls /run/netns | grep -q "^$prefix-" &&
	wait_for 10 sh -c "! kill -0 $sleeper" &&
	cluster_down
'

test_expect_success 'a script killed by TERM or INT removes its cluster' '
	ok=0 &&
	for sig in TERM INT; do
		rm -f child.out &&
		{ CLUSTER_ID=c$TEST_UID env --default-signal=INT bash -c "
			. \"$TEST_DIR/lib-cluster.sh\" &&
			cluster_up sig 2 10mbit && echo up &&
			{ cluster_exec n1 sleep 600 & wait; }" >child.out 2>&1 & } &&
		child=$! &&
		wait_for_line 20 child.out "^up" &&
		test $(ip netns list | grep -c "^sig-c$TEST_UID-") = 4 &&
		kill -$sig $child &&
		wait_for 20 sh -c "! kill -0 $child" &&
		! ip netns list | grep -q "^sig-c$TEST_UID-" &&
		ok=$((ok + 1)) || break
	done &&
	test $ok = 2
'

test_done
