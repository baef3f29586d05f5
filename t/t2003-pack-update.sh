#!/bin/bash
test_description='si_installbtimage: re-pack only what changed; --update forces'
. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIR"/lib/pack-tree.sh

B=$TRASH/base
TB=$B/tarballs/image-small.tar.gz
TT=$B/torrents/image-small.tar.gz.torrent
run() { si_installbtimage --base "$B" --address 127.0.0.1 "$@"; }
ident() { stat -c '%i %Y.%y' "$TB" "$TT"; }

test_expect_success 'setup: first pack' '
	make_small_tree "$B"/images/small &&
	make_small_tree "$B"/images/other &&
	run >out && grep -q "^image-small.tar.gz packed" out &&
	grep -q "^image-other.tar.gz packed" out &&
	ident >before
'

test_expect_success 'an unchanged tree is not re-packed' '
	run >out && cat out &&
	grep -q "^image-small.tar.gz unchanged .*entries=7 " out &&
	grep -q "^image-other.tar.gz unchanged" out &&
	ident >after && test_cmp before after
'

test_expect_success 'a touched file triggers a re-pack of that image only' '
	touch "$B"/images/small/etc/one &&
	run >out && cat out &&
	grep -q "^image-small.tar.gz packed" out &&
	grep -q "^image-other.tar.gz unchanged" out &&
	ident >after && ! test_cmp before after >/dev/null &&
	ident >before
'

test_expect_success 'same size and mtime but new content (ctime) re-packs' '
	touch -r "$B"/images/small/etc/one ref &&
	echo ONE >"$B"/images/small/etc/one &&
	touch -r ref "$B"/images/small/etc/one &&
	run --images small >out &&
	grep -q "^image-small.tar.gz packed" out &&
	tar -xOzf "$TB" etc/one | grep -qx ONE &&
	ident >before
'

test_expect_success 'chmod, new file, removed file each re-pack' '
	chmod 600 "$B"/images/small/etc/one &&
	run --images small >out && grep -q "packed" out &&
	echo new >"$B"/images/small/etc/new &&
	run --images small >out && grep -q "packed .*entries=8 " out &&
	rm "$B"/images/small/etc/new &&
	run --images small >out && grep -q "packed .*entries=7 " out &&
	grep -q "^etc/one	f	0600	" "$B"/tarballs/image-small.manifest &&
	run --images small >out && grep -q "unchanged" out &&
	ident >before
'

test_expect_success '--update forces a re-pack' '
	run --images small --update >out &&
	grep -q "^image-small.tar.gz packed" out &&
	ident >after && ! test_cmp before after >/dev/null
'

test_expect_success 'a missing tarball, manifest or stamp means re-pack' '
	rm "$TB" && run --images small >out && grep -q packed out && test -f "$TB" &&
	rm "$B"/tarballs/image-small.manifest && run --images small >out &&
	grep -q packed out && test -f "$B"/tarballs/image-small.manifest &&
	rm "$B"/tarballs/image-small.stamp && run --images small >out &&
	grep -q packed out &&
	run --images small >out && grep -q unchanged out
'

test_expect_success 'a missing torrent is written again without re-packing' '
	ident >before &&
	rm "$TT" && run --images small >out && cat out &&
	grep -q "^image-small.tar.gz torrent " out &&
	test "$(stat -c %i "$TB")" = "$(head -n 1 before | cut -d" " -f1)" &&
	test -f "$TT"
'

test_expect_success 'a changed piece size (--piece-size, BT_PIECE_SIZE) rewrites only the torrent' '
	ident >before &&
	run --images small --piece-size 64K >out && cat out &&
	grep -q "^image-small.tar.gz torrent " out &&
	test "$(stat -c %i "$TB")" = "$(head -n 1 before | cut -d" " -f1)" &&
	python3 "$TEST_DIR"/lib/torrent-info.py "$TT" "$TB" >info &&
	grep -qx "piece-length=65536" info && grep -qx "pieces=ok" info &&
	run --images small --piece-size 64K >out && grep -q "unchanged" out &&
	mkdir -p "$B"/etc && echo BT_PIECE_SIZE=1M >"$B"/etc/bittorrent.conf &&
	run --images small >out && grep -q "^image-small.tar.gz torrent " out &&
	python3 "$TEST_DIR"/lib/torrent-info.py "$TT" >info &&
	grep -qx "piece-length=1048576" info &&
	rm "$B"/etc/bittorrent.conf &&
	run --images small >out && grep -q "^image-small.tar.gz torrent " out &&
	python3 "$TEST_DIR"/lib/torrent-info.py "$TT" >info &&
	grep -qx "piece-length=16384" info
'

test_expect_success 'a changed compression re-packs and drops the old one' '
	run --images small --compress zstd >out &&
	grep -q "^image-small.tar.zst packed" out &&
	test ! -e "$TB" && test ! -e "$TT" &&
	run --images small --compress zstd >out && grep -q unchanged out
'

test_expect_success 'BT_IMAGES and BT_OVERRIDES choose what is packed' '
	make_small_tree "$B"/overrides/ov1 && make_small_tree "$B"/overrides/ov2 &&
	mkdir -p "$B"/etc && printf "BT_IMAGES=other\nBT_OVERRIDES=\"ov2\"\n" >"$B"/etc/bittorrent.conf &&
	run >out && cat out &&
	test "$(cut -d" " -f1,2 out)" = "image-other.tar.gz unchanged
override-ov2.tar.gz packed" &&
	rm "$B"/etc/bittorrent.conf &&
	run --overrides ov1 >out &&
	test "$(cut -d" " -f1,2 out)" = "override-ov1.tar.gz packed"
'

test_expect_success 'no temporary files are left behind' '
	(cd "$B" && ls -A tarballs torrents) >ls &&
	! grep -q "tmp" ls
'

test_done
