# lib-seeder.sh - helpers for the si_seeder tests (t/t3xxx), sourced after
# test-lib.sh.  Images are made with GNU tar and torrents with mktorrent,
# both independent of our code; downloads are made by aria2c, a stock
# client that learns the seeder only from the tracker.

require_cmd opentracker rsync aria2c mktorrent tar python3

BASE="$TRASH/base"
TPORT=$(free_port)
mkdir -p "$BASE/tarballs" "$BASE/torrents" "$BASE/images" \
	"$BASE/overrides" "$BASE/scripts" "$BASE/etc"

# make_image NAME KBYTES: packs a tree of random data into
# tarballs/image-NAME.tar.gz and writes torrents/image-NAME.tar.gz.torrent
# (announcing to our tracker port) atomically, as si_installbtimage does.
make_image() {
	local name=$1 kb=$2 src="$TRASH/src-$1"
	local tgz="$BASE/tarballs/image-$name.tar.gz"
	local tor="$BASE/torrents/image-$name.tar.gz.torrent"
	rm -rf "$src" && mkdir -p "$src/etc" &&
	head -c "${kb}k" /dev/urandom >"$src/etc/data" &&
	echo "$name" >"$src/etc/hostname" &&
	tar -C "$src" --numeric-owner -czf "$TRASH/new.tar.gz" etc &&
	mv "$TRASH/new.tar.gz" "$tgz" &&
	rm -f "$TRASH/new.torrent" &&
	mktorrent -a "http://127.0.0.1:$TPORT/announce" -o "$TRASH/new.torrent" \
		"$tgz" >/dev/null &&
	mv "$TRASH/new.torrent" "$tor"
}

# info_hash FILE: the v1 info-hash of a torrent, computed independently.
info_hash() {
	python3 - "$1" <<'PY'
import hashlib, sys
d = open(sys.argv[1], 'rb').read()
def skip(i):
    c = d[i:i+1]
    if c == b'i': return d.index(b'e', i) + 1
    if c in (b'l', b'd'):
        i += 1
        while d[i:i+1] != b'e': i = skip(i)
        return i + 1
    n = d.index(b':', i); return n + 1 + int(d[i:n])
i = 1
while d[i:i+1] != b'e':
    k = skip(i); key = d[d.index(b':', i)+1:k]; v = skip(k)
    if key == b'info': print(hashlib.sha1(d[k:v]).hexdigest()); break
    i = v
PY
}

# start_seeder [OPTIONS...]: starts si_seeder on loopback with free ports
# (stdout in seeder.out, stderr in seeder.err) and waits for its readiness
# line; sets SEEDER_PID, BT_PORT, RSYNC_PORT.
start_seeder() {
	si_seeder --base "$BASE" --address 127.0.0.1 --bt-port 0 \
		--tracker-port "$TPORT" --rsync-port 0 -v "$@" \
		>"$TRASH/seeder.out" 2>"$TRASH/seeder.err" &
	SEEDER_PID=$!
	test_atexit "kill_pid $SEEDER_PID"
	wait_for 20 grep -q 'ready:' "$TRASH/seeder.out" || {
		cat "$TRASH/seeder.err"; return 1; }
	BT_PORT=$(sed -n 's/.* bittorrent 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$TRASH/seeder.out")
	RSYNC_PORT=$(sed -n 's/.* rsync 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$TRASH/seeder.out")
	[ -n "$BT_PORT" ] && [ -n "$RSYNC_PORT" ]
}

# seeder_children: PIDs of the seeder's direct children.
seeder_children() {
	ps -o pid= --ppid "$SEEDER_PID" | tr -d ' '
}

# child_pid NAME: PID of the seeder's child running NAME (opentracker, rsync).
child_pid() {
	ps -o pid=,comm= --ppid "$SEEDER_PID" | awk -v n="$1" '$2 == n { print $1 }'
}

# fetch NAME: gets image-NAME.tar.gz.torrent from the seeder's rsync
# daemon and the tarball with aria2c through the tracker into dl-NAME/,
# then compares it byte for byte with the original; aria2c's log is
# dl-NAME/aria2.log.
fetch() {
	local name=$1 dir="$TRASH/dl-$1" port
	local file="image-$name.tar.gz"
	rm -rf "$dir" && mkdir -p "$dir" &&
	rsync "rsync://127.0.0.1:$RSYNC_PORT/torrents/$file.torrent" "$dir/" &&
	port=$(free_port) &&
	timeout 60 aria2c --dir="$dir" --enable-dht=false --enable-dht6=false \
		--bt-enable-lpd=false --enable-peer-exchange=false \
		--seed-time=0 --bt-tracker-connect-timeout=5 \
		--bt-tracker-timeout=5 --bt-stop-timeout=40 \
		--listen-port="$port" --console-log-level=warn \
		--summary-interval=0 --file-allocation=none \
		--follow-torrent=false --log="$dir/aria2.log" --log-level=debug \
		"$dir/$file.torrent" &&
	cmp "$BASE/tarballs/$file" "$dir/$file"
}

# whitelist: the tracker's whitelist, one hash a line.
whitelist() { grep -v '^#' "$BASE/run/tracker/whitelist"; }

# listens t|u PORT: something listens on 127.0.0.1:PORT (TCP or UDP).
listens() {
	ss -Hln"$1" | awk '{print $4}' | grep -Eq "^127\.0\.0\.1(%[a-z0-9]+)?:$2\$"
}

# tracker_allows HASH: the running tracker accepts an announce of HASH
# (it reloaded its whitelist), asked over HTTP like any client.
tracker_allows() {
	python3 - "$TPORT" "$1" <<'PY'
import sys, urllib.request, urllib.parse
port, h = sys.argv[1], bytes.fromhex(sys.argv[2])
def announce(event):
    # Every byte percent-encoded: urlencode() would turn 0x20 into "+",
    # which opentracker does not decode.
    q = 'info_hash=%s&peer_id=-TEST00-abcdefghijkl&port=9&compact=1&numwant=0' % \
        urllib.parse.quote(h, safe='')
    if event:
        q += '&event=' + event
    url = 'http://127.0.0.1:%s/announce?%s' % (port, q)
    return urllib.request.urlopen(url, timeout=5).read()
# opentracker answers "stopped" even for hashes it refuses: ask as a
# starting peer, then leave again.
reply = announce('started')
refused = b'failure reason' in reply
if refused:
    print('tracker:', reply, file=sys.stderr)
else:
    announce('stopped')
sys.exit(1 if refused else 0)
PY
}
tracker_refuses() { ! tracker_allows "$@"; }
