#!/bin/bash
test_description='si_getimage captures a golden client over a veth link, then only its changes'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-capture.sh"

require_root
require_cmd ip rsync setfattr setfacl si_prepareclient si_getimage si_lsimage

BASE=$TRASH/base
G=$TRASH/golden
IMG=$BASE/images/gold
PORT=$(( 20000 + RANDOM % 20000 ))
# What the default list and the recorded tmpfs mount leave out.
EXCL="--exclude proc --exclude tmp --exclude sys --exclude mnt/scratch --exclude var/log/skip.me --exclude home/user/.cache"

test_expect_success 'setup: namespaces, golden tree with a tmpfs mounted in it' '
	ns_pair a &&
	make_golden_tree "$G" &&
	mkdir -p "$G/home/user/.cache" && echo cached >"$G/home/user/.cache/x" &&
	echo skip >"$G/var/log/skip.me" &&
	mount -t tmpfs -o size=4m tmpfs "$G/mnt/scratch" &&
	test_atexit "umount $G/mnt/scratch" &&
	echo "scratch data" >"$G/mnt/scratch/must-not-be-captured" &&
	mkdir -p "$BASE/etc" &&
	cp "$SRC_DIR/etc/getimage.exclude" "$BASE/etc/" &&
	echo "/var/log/skip.me" >user.exclude
'

test_expect_success 'si_prepareclient starts its daemon for the server only' '
	start_prepare prep1 --server 10.231.0.1 --root "$G" --port $PORT --timeout 60 &&
	grep "^mount path=/mnt/scratch type=tmpfs .*local=0$" "$G/etc/swarmimager/disklayout.conf"
'

test_expect_success 'si_getimage pulls the tree over the link' '
	in_srv si_getimage --golden-client 10.231.0.2 --port $PORT --image gold \
		--base "$BASE" --exclude-file user.exclude --post-install poweroff \
		>out1 2>err1 &&
	grep "^captured image gold from 10.231.0.2: files=" out1
'

test_expect_success 'the image equals the tree minus the excludes (independent comparison)' '
	tree_diff "$G" "$IMG" $EXCL
'

test_expect_success 'excluded directories stay as empty mount points' '
	for d in proc tmp sys mnt/scratch; do
		test -d "$IMG/$d" && test -z "$(ls -A "$IMG/$d")" || return 1
	done &&
	test ! -e "$IMG/var/log/skip.me" &&
	test ! -e "$IMG/home/user/.cache/x" &&
	test -e "$IMG/home/user/.cache"
'

test_expect_success 'the golden client stopped its daemon when told the capture was done' '
	pid=$(cat prep1.pid) &&
	wait_for 10 sh -c "! kill -0 $pid" &&
	wait $pid &&
	grep "the image server is done: image gold captured" prep1.log &&
	! in_cli ss -Htln | grep -q ":$PORT "
'

test_expect_success 'settings and disk layout recorded beside the image, outside the tree' '
	test "$(conf_value "$BASE/images/.gold.conf" IMAGE_SOURCE)" = 10.231.0.2 &&
	test "$(conf_value "$BASE/images/.gold.conf" IMAGE_POST_INSTALL)" = poweroff &&
	test "$(conf_value "$BASE/images/.gold.conf" IMAGE_RETRIEVED_EPOCH)" -gt $(( $(date +%s) - 300 )) &&
	cmp "$G/etc/swarmimager/disklayout.conf" "$BASE/images/.gold.disklayout" &&
	test ! -e "$BASE/images/.gold.capturing" &&
	si_lsimage --base "$BASE" >ls &&
	grep "^gold  *complete " ls
'

test_expect_success 'a second capture after a few changes moves only the changes' '
	echo "changed" >>"$G/etc/hostname" &&
	echo "new file" >"$G/home/user/new" &&
	rm "$G/var/log/f7.log" &&
	printf "patch" | dd of="$G/usr/lib/big.so" bs=1 seek=4000000 conv=notrunc status=none &&
	start_prepare prep2 --server 10.231.0.1 --root "$G" --port $PORT --timeout 60 &&
	rx0=$(srv_rx_bytes) &&
	in_srv si_getimage --golden-client 10.231.0.2 --port $PORT --image gold \
		--base "$BASE" --exclude-file user.exclude >out2 2>err2 &&
	rx1=$(srv_rx_bytes) &&
	size=$(du -sb --apparent-size "$G/usr" | cut -f1) &&
	received=$(sed -n "s/.* received=\([0-9]*\) .*/\1/p" out2) &&
	literal=$(sed -n "s/.* literal=\([0-9]*\)$/\1/p" out2) &&
	echo "tree $size received $received literal $literal link $((rx1 - rx0))" &&
	test "$received" -gt 0 && test "$received" -lt $((size / 20)) &&
	test "$literal" -lt 200000 &&
	test $((rx1 - rx0)) -lt $((size / 20))
'

test_expect_success 'the updated image equals the changed tree' '
	tree_diff "$G" "$IMG" $EXCL &&
	test ! -e "$IMG/var/log/f7.log" &&
	test "$(conf_value "$BASE/images/.gold.conf" IMAGE_POST_INSTALL)" = poweroff
'

test_expect_success 'unreachable golden client: bounded wait, clear message' '
	start=$(date +%s) &&
	expect_exit 1 in_srv si_getimage --golden-client 10.231.0.9 --port $PORT \
		--image other --base "$BASE" --timeout 3 2>err &&
	test $(( $(date +%s) - start )) -le 10 &&
	grep "cannot reach golden client 10.231.0.9 port $PORT" err &&
	test ! -e "$BASE/images/other" && test ! -e "$BASE/images/.other.conf"
'

test_expect_success 'golden client without a daemon: run si_prepareclient first' '
	expect_exit 1 in_srv si_getimage --golden-client 10.231.0.2 --port $PORT \
		--image other --base "$BASE" 2>err &&
	grep "no rsync daemon on golden client 10.231.0.2 port $PORT: run si_prepareclient" err &&
	test ! -e "$BASE/images/other"
'

test_expect_success 'a daemon for another server refuses us, and says why' '
	start_prepare prep3 --server 10.231.0.77 --root "$G" --port $PORT --timeout 60 &&
	expect_exit 1 in_srv si_getimage --golden-client 10.231.0.2 --port $PORT \
		--image other --base "$BASE" 2>err &&
	grep "golden client 10.231.0.2 refuses this server" err &&
	test ! -e "$BASE/images/other" &&
	kill_pid $(cat prep3.pid)
'

test_done
