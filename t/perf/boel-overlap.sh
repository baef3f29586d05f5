#!/bin/bash
# boel-overlap.sh [MB] [RUNS]: wall time and peak RSS of si_boel installing
# the same image (about MB megabytes: 3/4 base64 text, 1/4 random) over
# loopback from the test server fixture, overlapped vs download-then-extract.
# Root; uses t/lib-server.sh; prints one line per run.
mb=${1:-200} runs=${2:-2}
tdir=$(cd "$(dirname "$0")/.." && pwd)
. "$tdir/test-lib.sh" && . "$tdir/lib-server.sh"
PATH=$tdir/../boel:$tdir/lib:$PATH TEST_DIR=$tdir
exec 3>&1
server_fixture_init
mkdir -p "$SRV/images/big/data"
for i in $(seq 1 $((mb * 3 / 4 / 4))); do
	head -c 3145728 /dev/urandom | base64 >"$SRV/images/big/data/t$i"
done
for i in $(seq 1 $((mb / 4))); do
	head -c 1048576 /dev/urandom >"$SRV/images/big/data/r$i"
done
fixture_pack image big
start_server_fixture
ls -l "$SRV/tarballs/image-big.tar.gz" >&3
for r in $(seq 1 "$runs"); do
	for mode in --overlap --no-overlap; do
		rm -rf tgt && mkdir tgt && sync
		/usr/bin/time -v -o time.txt si_boel --target tgt \
			--imageserver "$IMAGESERVER" --image big --cmdline /dev/null \
			--listen 127.0.0.1:0 --no-seed-wait $mode >out 2>err
		echo "run $r $mode: rc=$? wall=$(awk -F': ' '/Elapsed/ {print $2}' time.txt)" \
			"maxrss_kb=$(awk -F': ' '/Maximum resident/ {print $2}' time.txt)" \
			"$(grep -o 'installed: .*' err | head -1)" >&3
	done
done
tree_diff "$SRV/images/big" tgt --exclude etc >&3 && echo "trees equal" >&3
test_done
