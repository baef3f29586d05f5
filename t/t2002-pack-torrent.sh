#!/bin/bash
test_description='si_installbtimage: torrents (info-hash, announce URL, web seed)'
. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIR"/lib/pack-tree.sh
require_cmd aria2c python3

B=$TRASH/base
T=$B/torrents/image-small.tar.gz.torrent
tinfo() { python3 "$TEST_DIR"/lib/torrent-info.py "$@"; }

test_expect_success 'setup' '
	make_small_tree "$B"/images/small &&
	mkdir -p "$B"/etc &&
	printf "BT_INTERFACE=lo\nBT_TRACKER_PORT=7070\n" >"$B"/etc/bittorrent.conf
'

test_expect_success 'announce URL from BT_INTERFACE and BT_TRACKER_PORT' '
	si_installbtimage --base "$B" >out &&
	hash=$(sed -n "s/^image-small.tar.gz packed .* info-hash=\([0-9a-f]*\)$/\1/p" out) &&
	test ${#hash} = 40 &&
	tinfo "$T" >info &&
	cat info &&
	grep -qx "announce=http://127.0.0.1:7070/announce" info &&
	grep -qx "info-hash=$hash" info &&
	grep -qx "name=image-small.tar.gz" info &&
	grep -qx "length=$(stat -c %s "$B"/tarballs/image-small.tar.gz)" info &&
	grep -qx "creation-date=none" info &&
	grep -qx "files=single" info
'

# The record outside the info dictionary: the manifest's file sizes summed
# (its 6th field) and its entries counted, independently of our code.
test_expect_success 'the torrent records what its tarball unpacks to' '
	M=$B/tarballs/image-small.manifest &&
	want=$(awk -F"\t" "NR > 1 { b += \$6; n++ } END { print b \"/\" n }" "$M") &&
	grep -qx "unpacked=$want" info &&
	echo "unpacked $want"
'

test_expect_success 'aria2c agrees on the info-hash and the announce URL' '
	aria2c -S "$T" >aria &&
	grep -qix "Info Hash: $hash" aria &&
	grep -qx " http://127.0.0.1:7070/announce" aria
'

test_expect_success 'the torrent pieces are those of the tarball' '
	tinfo "$T" "$B"/tarballs/image-small.tar.gz | grep -qx "pieces=ok" &&
	cp "$B"/tarballs/image-small.tar.gz bad.tgz &&
	printf X | dd of=bad.tgz bs=1 seek=100 conv=notrunc status=none &&
	tinfo "$T" bad.tgz | grep -qx "pieces=bad"
'

test_expect_success 'the same tarball gives the same info-hash (forced re-pack)' '
	cp "$B"/tarballs/image-small.tar.gz first.tgz &&
	si_installbtimage --base "$B" --update >out2 &&
	grep -q "^image-small.tar.gz packed .* info-hash=$hash$" out2 &&
	cmp first.tgz "$B"/tarballs/image-small.tar.gz &&
	tinfo "$T" | grep -qx "info-hash=$hash"
'

test_expect_success '--address and --tracker override bittorrent.conf' '
	si_installbtimage --base "$B" --address 10.9.8.7 >out &&
	grep -q "^image-small.tar.gz torrent .*info-hash=$hash$" out &&
	tinfo "$T" | grep -qx "announce=http://10.9.8.7:7070/announce" &&
	si_installbtimage --base "$B" --tracker http://tracker.example:1234/announce >out &&
	tinfo "$T" | grep -qx "announce=http://tracker.example:1234/announce" &&
	tinfo "$T" | grep -qx "info-hash=$hash"
'

test_expect_success '--web-seed adds the tarball URL (info-hash unchanged)' '
	si_installbtimage --base "$B" --address 127.0.0.1 --web-seed http://srv:8080/tarballs >out &&
	tinfo "$T" | grep -qx "url-list=http://srv:8080/tarballs/image-small.tar.gz" &&
	tinfo "$T" | grep -qx "info-hash=$hash" &&
	si_installbtimage --base "$B" --address 127.0.0.1 --web-seed http://srv/x/ >out &&
	tinfo "$T" | grep -qx "url-list=http://srv/x/image-small.tar.gz" &&
	si_installbtimage --base "$B" --address 127.0.0.1 >out &&
	tinfo "$T" | grep -qx "url-list=" &&
	grep -q "^image-small.tar.gz torrent " out
'

test_expect_success 'a wrong BT_INTERFACE or no address at all is a clear error' '
	echo BT_INTERFACE=nosuchif0 >"$B"/etc/bittorrent.conf &&
	expect_exit 1 si_installbtimage --base "$B" 2>err &&
	cat err && grep -q "cannot find an IPv4 address on interface .nosuchif0." err &&
	test $(wc -l <err) = 1 &&
	: >"$B"/etc/bittorrent.conf &&
	expect_exit 1 si_installbtimage --base "$B" 2>err &&
	cat err && grep -q "cannot tell the tracker.s address" err &&
	echo BT_TRACKER_PORT=99999 >"$B"/etc/bittorrent.conf &&
	expect_exit 1 si_installbtimage --base "$B" --address 127.0.0.1 2>err &&
	grep -q "bittorrent.conf:1: bad BT_TRACKER_PORT" err &&
	tinfo "$T" | grep -qx "info-hash=$hash"
'

test_done
