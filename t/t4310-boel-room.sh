#!/bin/bash
test_description='a target too small: refused before any download when the torrent says what the image unpacks to, else one clear write error with its errno'
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-seeder.sh"
require_root

# small DIR KBYTES: a tmpfs of that size on DIR (removed at exit).
small() {
	mkdir -p "$1" && mount -t tmpfs -o "size=$2k" tmpfs "$1" &&
	test_atexit "umount '$1'"
}

# boel_install NAME TARGET: si_boel installs image NAME into TARGET, staging
# in its own directory elsewhere; output in NAME-TARGET.{out,err}.
boel_install() {
	mkdir -p "stage-$2" &&
	TMPDIR="$TRASH" si_boel --target "$2" --staging "$TRASH/stage-$2" \
		--imageserver "127.0.0.1:$RSYNC_PORT" --image "$1" \
		--hostname n1 --cmdline /dev/null --listen 127.0.0.1:0 \
		--no-seed-wait --retry-delay 0.2 >"$2.out" 2>"$2.err"
}

test_expect_success 'an image of 4 MB, and one whose torrent records no sizes' '
	mkdir -p "$BASE/etc" "$BASE/images/img/data" "$BASE/images/img/etc" &&
	echo img >"$BASE/images/img/etc/hostname" &&
	printf "BT_TRACKER_PORT=%s\n" "$TPORT" >"$BASE/etc/bittorrent.conf" &&
	for i in 1 2 3 4; do
		head -c 1048576 /dev/urandom >"$BASE/images/img/data/f$i" || return 1
	done &&
	cp -a "$BASE/images/img" "$BASE/images/stock" &&
	si_installbtimage --base "$BASE" --address 127.0.0.1 --images img,stock -q &&
	python3 - "$BASE/torrents/image-stock.tar.gz.torrent" <<-\PY
	import sys
	p = sys.argv[1]; d = open(p, "rb").read()
	key = b"20:swarmimager unpacked"
	i = d.index(key); j = i + len(key)
	assert d[j:j + 1] == b"d"
	depth, k = 0, j
	while True:
	    c = d[k:k + 1]
	    if c in (b"d", b"l"): depth += 1; k += 1
	    elif c == b"e":
	        depth -= 1; k += 1
	        if depth == 0: break
	    elif c == b"i": k = d.index(b"e", k) + 1
	    else:
	        n = d.index(b":", k); k = n + 1 + int(d[k:n])
	open(p, "wb").write(d[:i] + d[k:])
	PY
	! grep -q "swarmimager unpacked" "$BASE/torrents/image-stock.tar.gz.torrent" &&
	grep -q "swarmimager unpacked" "$BASE/torrents/image-img.tar.gz.torrent"
'

test_expect_success 'si_seeder serves them on loopback' '
	start_seeder && grep -q "^si_seeder: ready: .* torrents 2$" seeder.out
'

test_expect_success 'a 2 MB target: one clear error before anything is downloaded' '
	small tiny 2048 &&
	expect_exit 1 boel_install img tiny &&
	cat tiny.err &&
	grep "not enough room on the target .*tiny.: the image unpacks to 4.0 MiB in [0-9]* entries (.* with a block an entry), .* free; use a bigger disk" tiny.err &&
	test "$(grep -c "not enough room" tiny.err)" = 1 &&
	! grep "%" tiny.err &&
	test -z "$(ls -A tiny)" &&
	test -z "$(ls -A stage-tiny)" &&
	grep FAILED tiny.out
'

test_expect_success 'room but too few inodes: refused before any download' '
	mkdir -p few && mount -t tmpfs -o size=16m,nr_inodes=4 tmpfs few &&
	test_atexit "umount $TRASH/few" &&
	expect_exit 1 boel_install img few &&
	cat few.err &&
	grep "not enough inodes on the target .*few.: the image has [0-9]* entries, [0-3] inodes free; make the file system with more (mkfs -N)" few.err &&
	test -z "$(ls -A few)"
'

test_expect_success 'staged on the target too: the extracted image counts as well' '
	small both 8192 &&
	expect_exit 1 env TMPDIR="$TRASH" si_boel --target both \
		--imageserver "127.0.0.1:$RSYNC_PORT" --image img --hostname n1 \
		--cmdline /dev/null --listen 127.0.0.1:0 --no-seed-wait \
		--staging "$TRASH/both" --staging-free-override 110000000 \
		>both.out 2>both.err &&
	cat both.err &&
	grep "no room to stage 4.0 MiB: need 104.0 MiB (the tarball plus a breathing room, and on the target.s file system the extracted image.s 4.0 MiB); looked at .*both (104.9 MiB free)" both.err &&
	test -z "$(ls -A both)"
'

test_expect_success 'room enough: installed' '
	small roomy 16384 &&
	boel_install img roomy &&
	tree_diff "$BASE/images/img" roomy --exclude etc/swarmimager --exclude etc/hostname
'

# No sizes to check against: the target fills up during the extraction.
test_expect_success 'no sizes recorded, a 2 MB target: one write error with its errno, exit 1' '
	small full 2048 &&
	expect_exit 1 boel_install stock full &&
	cat full.err &&
	grep "cannot write .data/f[0-9].: No space left on device" full.err &&
	test "$(grep -c "No space left on device" full.err)" = 1 &&
	! grep "Write failed" full.err &&
	grep FAILED full.out &&
	test ! -e full/etc/swarmimager/installed
'

test_done
