#!/bin/bash
test_description='si_lsimage, si_cpimage, si_mvimage and si_rmimage'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-capture.sh"

require_root
require_cmd rsync setfattr setfacl si_prepareclient si_getimage si_lsimage \
	si_cpimage si_mvimage si_rmimage

BASE=$TRASH/base
G=$TRASH/golden

# artifacts NAME: stand-ins for what si_installbtimage makes of an image.
artifacts() {
	mkdir -p "$BASE/tarballs" "$BASE/torrents" &&
	echo tar >"$BASE/tarballs/image-$1.tar.gz" &&
	echo manifest >"$BASE/tarballs/image-$1.manifest" &&
	echo torrent >"$BASE/torrents/image-$1.tar.gz.torrent"
}

test_expect_success 'setup: capture one image over loopback' '
	make_golden_tree "$G" &&
	mkdir -p "$BASE/etc" && cp "$SRC_DIR/etc/getimage.exclude" "$BASE/etc/" &&
	PORT=$(free_port) &&
	start_bg prep si_prepareclient -y --server 127.0.0.1 --root "$G" \
		--port $PORT --timeout 60 &&
	wait_for_line 15 prep.log "si_prepareclient: ready: " &&
	si_getimage --golden-client 127.0.0.1 --port $PORT --image one \
		--base "$BASE" >out 2>err
'

test_expect_success 'si_lsimage lists it with date and size, no tarball yet' '
	si_lsimage --base "$BASE" >ls &&
	head -n 1 ls | grep "^IMAGE  *STATE  *RETRIEVED (UTC)  *SIZE  *TARBALL  *TORRENT$" &&
	grep "^one  *complete  *$(date -u +%Y-%m-%d) [0-9:]*  *[0-9.]* [KM]iB  *-  *-$" ls &&
	test $(wc -l <ls) = 2
'

test_expect_success 'si_lsimage shows tarball and torrent state' '
	artifacts one &&
	si_lsimage --base "$BASE" one >ls &&
	grep "^one .* current  *yes$" ls &&
	touch -d "2001-01-01" "$BASE/tarballs/image-one.tar.gz" &&
	si_lsimage --base "$BASE" one >ls &&
	grep "^one .* stale  *yes$" ls
'

test_expect_success 'si_lsimage -v adds source, post-install and files' '
	si_lsimage -v --base "$BASE" one >ls &&
	grep "^    source: 127.0.0.1 port $PORT$" ls &&
	grep "^    post-install: reboot$" ls &&
	grep "^    file: $BASE/tarballs/image-one.tar.gz$" ls &&
	grep "^    file: $BASE/torrents/image-one.tar.gz.torrent$" ls
'

test_expect_success 'si_cpimage copies tree and settings' '
	si_cpimage --base "$BASE" one two 2>err &&
	tree_diff "$BASE/images/one" "$BASE/images/two" &&
	cmp "$BASE/images/.one.disklayout" "$BASE/images/.two.disklayout" &&
	test "$(conf_value "$BASE/images/.two.conf" IMAGE_COPIED_FROM)" = one &&
	test "$(conf_value "$BASE/images/.two.conf" IMAGE_NAME)" = two &&
	si_lsimage --base "$BASE" two >ls &&
	grep "^two  *complete .* -  *-$" ls
'

test_expect_success 'si_cpimage refuses an existing destination and a missing source' '
	expect_exit 1 si_cpimage --base "$BASE" one two 2>err &&
	grep "image .two. already exists" err &&
	expect_exit 1 si_cpimage --base "$BASE" nosuch three 2>err &&
	grep "image .nosuch. does not exist" err &&
	test ! -e "$BASE/images/three"
'

test_expect_success 'si_mvimage renames tree, settings, tarball and manifest; drops the torrent' '
	si_mvimage --base "$BASE" one uno 2>err &&
	test ! -e "$BASE/images/one" && test ! -e "$BASE/images/.one.conf" &&
	test ! -e "$BASE/images/.one.disklayout" &&
	tree_diff "$BASE/images/two" "$BASE/images/uno" &&
	test "$(conf_value "$BASE/images/.uno.conf" IMAGE_NAME)" = uno &&
	test -e "$BASE/tarballs/image-uno.tar.gz" &&
	test -e "$BASE/tarballs/image-uno.manifest" &&
	test ! -e "$BASE/tarballs/image-one.tar.gz" &&
	test ! -e "$BASE/torrents/image-one.tar.gz.torrent" &&
	test ! -e "$BASE/torrents/image-uno.tar.gz.torrent" &&
	si_lsimage --base "$BASE" >ls &&
	grep "^uno  *complete " ls && ! grep "^one " ls
'

test_expect_success 'an image in use is left alone' '
	sleep 30 & busy=$! &&
	test_atexit "kill $busy" &&
	echo "pid=$busy" >"$BASE/images/.two.capturing" &&
	si_lsimage --base "$BASE" two >ls &&
	grep "^two  *busy " ls &&
	expect_exit 1 si_rmimage --base "$BASE" two 2>err &&
	grep "image .two. is in use by process $busy" err &&
	expect_exit 1 si_mvimage --base "$BASE" two deux 2>err &&
	test -d "$BASE/images/two" &&
	kill $busy && wait $busy;
	si_lsimage --base "$BASE" two >ls &&
	grep "^two  *incomplete " ls
'

test_expect_success 'si_rmimage removes tree, settings, tarball, manifest and torrent' '
	artifacts two &&
	si_rmimage --base "$BASE" two 2>err &&
	grep "removed image .two." err &&
	for f in images/two images/.two.conf images/.two.disklayout images/.two.capturing \
		tarballs/image-two.tar.gz tarballs/image-two.manifest \
		torrents/image-two.tar.gz.torrent; do
		test ! -e "$BASE/$f" || { echo "left: $f"; return 1; }
	done &&
	si_lsimage --base "$BASE" >ls &&
	test $(wc -l <ls) = 2 && grep "^uno " ls
'

test_expect_success 'missing images: exit 1 (or nothing with --force)' '
	expect_exit 1 si_rmimage --base "$BASE" nosuch 2>err &&
	grep "no image .nosuch." err &&
	si_rmimage -f --base "$BASE" nosuch &&
	expect_exit 1 si_lsimage --base "$BASE" nosuch 2>err &&
	expect_exit 1 si_mvimage --base "$BASE" nosuch x 2>err
'

test_expect_success 'names that are not plain names are usage errors' '
	for n in ../uno a/b .uno ""; do
		expect_exit 2 si_rmimage --base "$BASE" "$n" 2>err &&
		grep "invalid image name" err &&
		expect_exit 2 si_cpimage --base "$BASE" uno "$n" 2>err &&
		expect_exit 2 si_mvimage --base "$BASE" "$n" uno 2>err &&
		expect_exit 2 si_lsimage --base "$BASE" "$n" 2>err || return 1
	done &&
	expect_exit 2 si_cpimage --base "$BASE" uno 2>err &&
	expect_exit 2 si_rmimage --base "$BASE" 2>err &&
	test -d "$BASE/images/uno"
'

test_expect_success 'si_rmimage the last one leaves an empty list' '
	si_rmimage --base "$BASE" uno &&
	test -z "$(ls -A "$BASE/images")" &&
	si_lsimage --base "$BASE" >ls &&
	test $(wc -l <ls) = 1
'

test_done
