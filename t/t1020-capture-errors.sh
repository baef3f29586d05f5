#!/bin/bash
test_description='si_getimage refuses bad names and leaves nothing half-registered on a full filesystem'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-capture.sh"

require_root
require_cmd rsync si_prepareclient si_getimage si_lsimage

BASE=$TRASH/base
G=$TRASH/golden

# prepare NAME: si_prepareclient for 127.0.0.1 on a fresh port ($PORT).
prepare() {
	PORT=$(free_port) &&
	start_bg "$1" si_prepareclient -y --server 127.0.0.1 --root "$G" \
		--port $PORT --timeout 60 &&
	wait_for_line 15 "$1.log" "si_prepareclient: ready: "
}

test_expect_success 'setup' '
	mkdir -p "$G/etc" "$BASE/etc" "$BASE/images" &&
	cp "$SRC_DIR/etc/getimage.exclude" "$BASE/etc/" &&
	echo small >"$G/etc/hostname"
'

test_expect_success 'image names with / or .. or a leading dot are usage errors' '
	for n in a/b ../x .. .hidden -opt "" "sp ace"; do
		expect_exit 2 si_getimage --golden-client 127.0.0.1 --image "$n" \
			--base "$BASE" 2>err &&
		grep "invalid image name" err || return 1
	done &&
	test -z "$(ls -A "$BASE/images")"
'

test_expect_success 'other usage errors exit 2' '
	expect_exit 2 si_getimage --image x --base "$BASE" 2>err &&
	expect_exit 2 si_getimage --golden-client h --image x --post-install dance 2>err &&
	grep "invalid post-install action" err &&
	expect_exit 2 si_getimage --golden-client h --image x extra 2>err
'

test_expect_success 'a daemon that is not si_prepareclient is recognized' '
	mkdir -p other &&
	printf "use chroot = no\n[stuff]\npath = %s\n" "$TRASH/other" >rsyncd.conf &&
	P=$(free_port) &&
	start_bg plain rsync --daemon --no-detach --config=rsyncd.conf --port=$P --address=127.0.0.1 &&
	wait_for 10 sh -c "ss -Htln | grep -q 127.0.0.1:$P" &&
	expect_exit 1 si_getimage --golden-client 127.0.0.1 --port $P --image x \
		--base "$BASE" 2>err &&
	grep "without a .root. module: run si_prepareclient" err &&
	kill_pid $(cat plain.pid) &&
	printf "use chroot = no\n[root]\npath = %s\n" "$TRASH/other" >rsyncd.conf &&
	start_bg plain2 rsync --daemon --no-detach --config=rsyncd.conf --port=$P --address=127.0.0.1 &&
	wait_for 10 sh -c "ss -Htln | grep -q 127.0.0.1:$P" &&
	expect_exit 1 si_getimage --golden-client 127.0.0.1 --port $P --image x \
		--base "$BASE" 2>err &&
	grep "golden client 127.0.0.1 has no disk layout (/etc/swarmimager/disklayout.conf): run si_prepareclient" err &&
	test -z "$(ls -A "$BASE/images")" &&
	kill_pid $(cat plain2.pid)
'

test_expect_success 'a small image fits' '
	prepare prep1 &&
	si_getimage --golden-client 127.0.0.1 --port $PORT --image small \
		--base "$BASE" >out 2>err &&
	si_lsimage --base "$BASE" >ls &&
	grep "^small  *complete " ls
'

test_expect_success 'si_prepareclient refuses a port in use; SIGTERM stops its daemon' '
	prepare prep9 &&
	expect_exit 1 si_prepareclient -y --server 127.0.0.1 --root "$G" \
		--port $PORT 2>err &&
	grep "port $PORT is in use" err &&
	kill_pid $(cat prep9.pid) &&
	grep "interrupted by signal 15" prep9.log &&
	! ss -Htln | grep -q ":$PORT "
'

test_expect_success 'setup: a 3 MB tmpfs on BASE/images holding a small image' '
	mount -t tmpfs -o size=3m tmpfs "$BASE/images" &&
	test_atexit "umount $BASE/images" &&
	prepare prep2 &&
	si_getimage --golden-client 127.0.0.1 --port $PORT --image grow \
		--base "$BASE" >out 2>err &&
	cp "$BASE/images/.grow.conf" conf.before &&
	head -c 6000000 /dev/urandom >"$G/etc/big"
'

test_expect_success 'a new image on a full filesystem: failure, nothing left' '
	prepare prep3 &&
	expect_exit 1 si_getimage --golden-client 127.0.0.1 --port $PORT \
		--image big --base "$BASE" >out 2>err &&
	grep "No space left on device" err &&
	grep "image .big. not created" err &&
	test ! -e "$BASE/images/big" &&
	test -z "$(ls -A "$BASE/images" | grep big)" &&
	si_lsimage --base "$BASE" >ls &&
	! grep "^big " ls &&
	kill -0 $(cat prep3.pid)
'

test_expect_success 'an existing image that cannot be updated is shown incomplete' '
	expect_exit 1 si_getimage --golden-client 127.0.0.1 --port $PORT \
		--image grow --base "$BASE" >out 2>err &&
	grep "image .grow. stays incomplete" err &&
	cmp conf.before "$BASE/images/.grow.conf" &&
	test -e "$BASE/images/.grow.capturing" &&
	si_lsimage --base "$BASE" >ls &&
	grep "^grow  *incomplete " ls
'

test_expect_success 'a later successful capture completes it again' '
	rm "$G/etc/big" &&
	si_getimage --golden-client 127.0.0.1 --port $PORT --image grow \
		--base "$BASE" >out 2>err &&
	test ! -e "$BASE/images/.grow.capturing" &&
	si_lsimage --base "$BASE" >ls &&
	grep "^grow  *complete " ls &&
	pid=$(cat prep3.pid) &&
	wait_for 10 sh -c "! kill -0 $pid"
'

test_done
