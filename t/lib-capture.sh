# lib-capture.sh - helpers of the capture tests (t1xxx), sourced after
# test-lib.sh.

# make_golden_tree DIR: a small root tree with what a capture must keep:
# owners, modes (setuid, sticky), times, hard links, symlinks (relative,
# absolute, dangling), a sparse file, xattrs and an ACL, device nodes, a
# FIFO, a file name with a space and one with a newline, many small files
# and a few big ones (~11 MB of data); plus junk in proc/ and tmp/ that
# the default exclude list drops.
make_golden_tree() {
	local d=$1 i
	mkdir -p "$d"/{etc,usr/bin,usr/lib,var/lib,var/log,home/user,srv/dev,proc,tmp,sys,mnt/scratch} &&
	echo golden >"$d/etc/hostname" &&
	printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1234:5678::/home/user:/bin/sh\n' >"$d/etc/passwd" &&
	head -c 2000000 /dev/urandom >"$d/usr/bin/tool" &&
	chmod 4755 "$d/usr/bin/tool" &&
	ln "$d/usr/bin/tool" "$d/usr/bin/tool-hardlink" &&
	head -c 8000000 /dev/urandom >"$d/usr/lib/big.so" &&
	ln -s usr/lib "$d/lib" &&
	ln -s /usr/bin/tool "$d/etc/alternative" &&
	ln -s /nowhere/at/all "$d/etc/dangling" &&
	truncate -s 64M "$d/var/lib/sparse.img" &&
	printf 'data in the middle' | dd of="$d/var/lib/sparse.img" bs=1M seek=30 conv=notrunc status=none &&
	echo secret >"$d/home/user/notes" &&
	chown -R 1234:5678 "$d/home/user" &&
	chmod 700 "$d/home/user" &&
	setfattr -n user.swarm -v "hello world" "$d/home/user/notes" &&
	setfacl -m u:4321:r "$d/etc/hostname" &&
	mknod "$d/srv/dev/null-copy" c 1 3 &&
	mknod "$d/srv/dev/loop-copy" b 7 200 &&
	mkfifo "$d/srv/fifo" &&
	chmod 1777 "$d/srv" &&
	echo spaced >"$d/srv/with space" &&
	echo newline >"$d/srv/with
newline" &&
	for i in $(seq 1 200); do echo "log line $i" >"$d/var/log/f$i.log"; done &&
	touch -d "2001-02-03 04:05:06" "$d/etc/passwd" &&
	echo "not a real proc file" >"$d/proc/cpuinfo" &&
	echo junk >"$d/tmp/junk"
}

# ns_pair NAME: two namespaces $NS_SRV and $NS_CLI joined by a veth,
# server 10.231.0.1, client 10.231.0.2 (private to those namespaces);
# removed at exit.
ns_pair() {
	NS_SRV="si-cap-$TEST_UID-$1-srv"
	NS_CLI="si-cap-$TEST_UID-$1-cli"
	VETH_SRV="sc$TEST_UID$1s"
	VETH_CLI="sc$TEST_UID$1c"
	ip netns add "$NS_SRV" &&
	test_atexit "ip netns del $NS_SRV" &&
	ip netns add "$NS_CLI" &&
	test_atexit "ip netns del $NS_CLI" &&
	ip link add "$VETH_SRV" netns "$NS_SRV" type veth peer name "$VETH_CLI" netns "$NS_CLI" &&
	ip -n "$NS_SRV" addr add 10.231.0.1/24 dev "$VETH_SRV" &&
	ip -n "$NS_CLI" addr add 10.231.0.2/24 dev "$VETH_CLI" &&
	ip -n "$NS_SRV" link set lo up &&
	ip -n "$NS_CLI" link set lo up &&
	ip -n "$NS_SRV" link set "$VETH_SRV" up &&
	ip -n "$NS_CLI" link set "$VETH_CLI" up
}
in_srv() { ip netns exec "$NS_SRV" "$@"; }
in_cli() { ip netns exec "$NS_CLI" "$@"; }

# srv_rx_bytes: bytes received so far by the server's end of the link.
srv_rx_bytes() { in_srv cat "/sys/class/net/$VETH_SRV/statistics/rx_bytes"; }

# start_prepare NAME ARGS...: si_prepareclient in the client namespace in
# the background (log NAME.log); waits for its "ready" line.
start_prepare() {
	local name=$1; shift
	start_bg "$name" ip netns exec "$NS_CLI" si_prepareclient -y "$@" &&
	wait_for_line 15 "$name.log" "si_prepareclient: ready: "
}

# conf_value FILE KEY: the value of KEY='value' in an image settings file.
conf_value() { sed -n "s/^$2='\\(.*\\)'\$/\\1/p" "$1"; }
