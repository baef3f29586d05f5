#!/bin/bash
test_description='si_installbtimage: bad input fails clearly, nothing half-written'
. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIR"/lib/pack-tree.sh

B=$TRASH/base
TB=$B/tarballs/image-small.tar.gz
run() { si_installbtimage --base "$B" --address 127.0.0.1 "$@"; }
# snapshot: what tarballs/ and torrents/ hold, with inodes and checksums
snap() {
	(cd "$B" && find tarballs torrents -type f | sort | while read -r f; do
		echo "$f $(stat -c '%i %s %Y' "$f") $(sha256sum <"$f" | cut -c1-16)"
	done)
}
# first line of stderr only, and exactly one line
one_line() { test "$(wc -l <"$1")" = 1 && cat "$1"; }

test_expect_success 'setup' '
	make_small_tree "$B"/images/small &&
	run >out && grep -q "^image-small.tar.gz packed" out &&
	snap >good
'

test_expect_success 'unknown option: exit 2' '
	expect_exit 2 si_installbtimage --base "$B" --bogus 2>err &&
	head -n 1 err | grep -q "^si_installbtimage: --bogus: unknown option" &&
	expect_exit 2 si_installbtimage --base "$B" extra-arg 2>err &&
	head -n 1 err | grep -q "unexpected argument .extra-arg." &&
	expect_exit 2 si_installbtimage --base "$B" --compress=lzma 2>err &&
	head -n 1 err | grep -q "unknown compression .lzma." &&
	expect_exit 2 si_installbtimage --base "$B" --piece-size 100K 2>err &&
	head -n 1 err | grep -q "bad --piece-size .100K. (auto, or a power of two from 16K to 16M)" &&
	expect_exit 2 si_installbtimage --base "$B" --piece-size 32M 2>err &&
	head -n 1 err | grep -q "bad --piece-size .32M."
'

test_expect_success 'image names with / or .. are refused: exit 2' '
	for n in ../small a/b .. /etc .hidden; do
		expect_exit 2 run --images "$n" 2>err || return 1
		one_line err | grep -q "^si_installbtimage: --images: invalid image name" || return 1
	done &&
	expect_exit 2 run --overrides ../x 2>err &&
	one_line err | grep -q "invalid override name .\.\./x." &&
	snap >now && test_cmp good now
'

test_expect_success 'a missing image: exit 1, the others still done' '
	expect_exit 1 run --images nope,small >out 2>err &&
	one_line err | grep -q "^si_installbtimage: cannot open image .nope.: .*images/nope.: No such file or directory$" &&
	grep -q "^image-small.tar.gz unchanged" out &&
	test ! -e "$B"/tarballs/image-nope.tar.gz &&
	: >"$B"/images/afile &&
	expect_exit 1 run --images afile 2>err &&
	one_line err | grep -q "not a directory" &&
	snap >now && test_cmp good now
'

test_expect_success 'a bad BT_COMPRESS: exit 1' '
	mkdir -p "$B"/etc && echo BT_COMPRESS=rar >"$B"/etc/bittorrent.conf &&
	expect_exit 1 run 2>err &&
	one_line err | grep -q "bittorrent.conf:1: unknown compression .rar." &&
	rm "$B"/etc/bittorrent.conf
'

test_expect_success 'a bad BT_PIECE_SIZE: exit 1, nothing written' '
	mkdir -p "$B"/etc && echo BT_PIECE_SIZE=3000 >"$B"/etc/bittorrent.conf &&
	expect_exit 1 run 2>err &&
	one_line err | grep -q "bittorrent.conf:1: bad piece size .3000." &&
	rm "$B"/etc/bittorrent.conf &&
	snap >now && test_cmp good now
'

test_expect_success 'leftovers of an interrupted run are removed' '
	mkdir "$B"/tarballs/.si_installbtimage.image-small.Ab12Cd &&
	: >"$B"/tarballs/.si_installbtimage.image-small.Ab12Cd/image-small.tar.gz &&
	: >"$B"/torrents/image-small.tar.gz.torrent.tmp.a1B2c3 &&
	: >"$B"/torrents/keep.tmp.a1B2c3 &&
	run >out &&
	test ! -e "$B"/tarballs/.si_installbtimage.image-small.Ab12Cd &&
	test ! -e "$B"/torrents/image-small.tar.gz.torrent.tmp.a1B2c3 &&
	test -e "$B"/torrents/keep.tmp.a1B2c3 && rm "$B"/torrents/keep.tmp.a1B2c3
'

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
test_expect_success 'an unreadable file (as an unprivileged user): exit 1, old tarball intact' '
	NB=$TRASH/nobody &&
	make_small_tree "$NB"/images/img &&
	echo secret >"$NB"/images/img/etc/secret &&
	chown -R 65534:65534 "$NB" && chown 0:0 "$NB"/images/img/etc/secret &&
	nrun() { setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$SRC_DIR"/server/si_installbtimage --base "$NB" --address 127.0.0.1 "$@"; } &&
	nrun >out && grep -q "^image-img.tar.gz packed" out &&
	(B=$NB; snap) >ngood &&
	chmod 000 "$NB"/images/img/etc/secret &&
	expect_exit 1 nrun 2>err &&
	one_line err | grep -q "^si_installbtimage: cannot open .*images/img/etc/secret.: Permission denied$" &&
	(B=$NB; snap) >nnow && test_cmp ngood nnow &&
	(cd "$NB" && ls -A tarballs torrents) >ls && ! grep -q tmp ls
'
else
	test_skip 'unreadable file' 'needs root and setpriv'
fi

if [ "$(id -u)" = 0 ]; then
test_expect_success 'tarball directory full: exit 1, old tarball intact, no temporaries' '
	FB=$TRASH/full &&
	make_small_tree "$FB"/images/img &&
	mkdir -p "$FB"/tarballs &&
	mount -t tmpfs -o size=1m,mode=700 si-test-$TEST_UID "$FB"/tarballs &&
	test_atexit "umount \"$FB/tarballs\"" &&
	si_installbtimage --base "$FB" --address 127.0.0.1 >out &&
	(B=$FB; snap) >fgood &&
	head -c 3000000 /dev/urandom >"$FB"/images/img/big &&
	expect_exit 1 si_installbtimage --base "$FB" --address 127.0.0.1 2>err &&
	one_line err | grep -q "^si_installbtimage: cannot write .*tarballs/image-img.tar.gz.: No space left on device$" &&
	(B=$FB; snap) >fnow && test_cmp fgood fnow &&
	(cd "$FB" && ls -A tarballs torrents) >ls && ! grep -q tmp ls &&
	test "$(df --output=used -k "$FB"/tarballs | tail -n 1)" -lt 100
'
else
	test_skip 'tarball directory full' 'needs root'
fi

test_done
