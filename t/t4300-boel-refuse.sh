#!/bin/bash
test_description='si_boel: bad images and bad settings are refused clearly, nothing written outside the target'
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-server.sh"
require_root
require_cmd rsync opentracker mktorrent aria2c python3

ESC=/tmp/si-escape-$TEST_UID
test_atexit "rm -rf $ESC"

# mktar OUT: a tar.gz from python's tarfile, entries from stdin lines
# "f NAME" (file), "l NAME TARGET" (symlink), "d NAME".
mktar() {
	python3 -c '
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w:gz") as t:
    for line in sys.stdin:
        w = line.split()
        i = tarfile.TarInfo(w[1])
        if w[0] == "f":
            data = ("content of %s\n" % w[1]).encode()
            i.size = len(data); i.mode = 0o644
            t.addfile(i, io.BytesIO(data))
        elif w[0] == "l":
            i.type = tarfile.SYMTYPE; i.linkname = w[2]
            t.addfile(i)
        else:
            i.type = tarfile.DIRTYPE; i.mode = 0o755
            t.addfile(i)
' "$1"
}

test_expect_success 'server with good and bad images' '
	server_fixture_init &&
	fixture_image_tree "$SRV/images/img" &&
	fixture_big_tree "$SRV/images/img" 2 &&
	fixture_pack image img &&
	printf "%s\n" "d etc" "f etc/ok" "f ../escape-$TEST_UID" "f etc/../../escape2-$TEST_UID" |
		mktar "$SRV/tarballs/image-dotdot.tar.gz" &&
	mkdir -p "$ESC" &&
	printf "%s\n" "l etc $ESC" "f etc/passwd" |
		mktar "$SRV/tarballs/image-abslink.tar.gz" &&
	size=$(stat -c %s "$SRV/tarballs/image-img.tar.gz") &&
	head -c $((size / 2)) "$SRV/tarballs/image-img.tar.gz" >"$SRV/tarballs/image-trunc.tar.gz" &&
	cp "$SRV/tarballs/image-img.tar.gz" "$SRV/tarballs/image-corrupt.tar.gz" &&
	for i in dotdot abslink trunc corrupt; do
		fixture_torrent "$SRV/tarballs/image-$i.tar.gz" || return 1
	done &&
	dd if=/dev/zero of="$SRV/tarballs/image-corrupt.tar.gz" bs=1 count=4096 \
		seek=$((size / 3)) conv=notrunc 2>/dev/null &&
	start_server_fixture
'

# refused NAME REGEX [ARGS]: si_boel fails (exit 1) with an error line
# matching REGEX, writes no completion record and says so.
refused() {
	local n=$1 re=$2; shift 2
	rm -rf "t-$n" && mkdir "t-$n" &&
	expect_exit 1 boel "t-$n" --no-seed-wait "$@" >"$n.out" 2>"$n.err"
	rc=$?; cat "$n.err" "$n.out"; test $rc = 0 &&
	grep -E "$re" "$n.err" &&
	grep "FAILED.*no completion record written" "$n.out" &&
	! test -e "t-$n/etc/swarmimager/installed"
}

test_expect_success 'entries with .. are refused, nothing escapes' '
	refused dotdot "\.\." --image dotdot &&
	! test -e "escape-$TEST_UID" && ! test -e "$TRASH/escape2-$TEST_UID" &&
	! test -e "../escape-$TEST_UID" &&
	test -f t-dotdot/etc/ok
'

test_expect_success 'a file through an absolute symlink is refused' '
	refused abslink "symlink" --image abslink &&
	test -z "$(ls -A $ESC)" &&
	test -L t-abslink/etc
'

test_expect_success 'a truncated tarball under a valid torrent fails cleanly' '
	refused trunc "image-trunc.tar.gz: .*([Tt]runcated|[Dd]amaged|unexpected end)" --image trunc
'

test_expect_success 'a tarball changed after its torrent was made fails cleanly' '
	refused corrupt "download of .image-corrupt.tar.gz. failed: no new data for" \
		--image corrupt --stall-timeout 4
'

test_expect_success 'an unknown image is refused, naming what the server has' '
	refused nosuch "no image .nosuch. on .*the server has: .*image-img.tar.gz.torrent" --image nosuch
'

test_expect_success 'staging too small: fails before downloading' '
	mkdir -p tiny &&
	if mount -t tmpfs -o size=1m tmpfs tiny 2>/dev/null; then
		test_atexit "umount $TRASH/tiny"
		set -- --staging "$TRASH/tiny"
	else
		set -- --staging-free-override 1000
	fi &&
	refused small "no room to stage .*need .*looked at" --image img "$@" &&
	! grep "%" small.err &&
	test -z "$(ls -A tiny)"
'

test_expect_success 'usage errors exit 2' '
	expect_exit 2 si_boel --imageserver x --image img 2>u1 &&
	grep -- "--target DIR is required" u1 &&
	expect_exit 2 si_boel --target . --bogus 2>u2 && grep bogus u2 &&
	printf "IMAGESERVER=x\nIMAGENAME=img\nBITTORRENT_UPLOAD_MIN=fast\n" >bad.cfg &&
	expect_exit 2 si_boel --target . --cmdline /dev/null --config bad.cfg 2>u3 &&
	grep "invalid BITTORRENT_UPLOAD_MIN=.fast. (from bad.cfg:3)" u3 &&
	echo "IMAGESERVER=x IMAGENAME=../etc" >cmdline &&
	expect_exit 2 si_boel --target . --cmdline cmdline 2>u4 &&
	grep "invalid IMAGENAME=.../etc. (from cmdline)" u4 &&
	expect_exit 2 si_boel --target . --cmdline /dev/null --image img 2>u5 &&
	grep "IMAGESERVER is not set" u5 &&
	expect_exit 2 si_boel --target . --cmdline /dev/null --imageserver "a:99999" 2>u6 &&
	grep "malformed port" u6
'
test_done
