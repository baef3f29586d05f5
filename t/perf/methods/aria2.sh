# aria2.sh - a stock BitTorrent client: aria2c seeds on the server,
# opentracker (whitelist of the one torrent) tracks, aria2c downloads on
# every node.  "aria2": nodes leave when done (--seed-time=0);
# "aria2seed": nodes keep seeding until the run ends.  See README.md.

ARIA2_TRACKER_PORT=6969
ARIA2_BT_PORT=6881
# What every aria2c gets: no DHT/LPD/IPv6 (nothing to find outside), no
# progress output, no preallocation.  The rest stays stock.
ARIA2_OPTS=(--enable-dht=false --enable-dht6=false --bt-enable-lpd=false
	--disable-ipv6=true --listen-port=$ARIA2_BT_PORT --summary-interval=0
	--console-log-level=warn --file-allocation=none --check-certificate=false)

method_aria2_check() {
	local c
	for c in aria2c opentracker mktorrent; do
		command -v $c >/dev/null || { echo "$c missing"; return 1; }
	done
}

method_aria2_start() {
	local hash
	mktorrent -a "http://$(cluster_ip server):$ARIA2_TRACKER_PORT/announce" \
		-o "$BENCH_WORK/image.torrent" "$BENCH_IMAGE_FILE" >/dev/null || return 1
	hash=$(aria2c -S "$BENCH_WORK/image.torrent" | awk '/^Info Hash:/ { print $3 }')
	[ -n "$hash" ] || { echo "no info hash"; return 1; }
	# opentracker refuses to run as root: it chroots into the directory
	# and reads the whitelist there as nobody.
	mkdir -p "$BENCH_WORK/tracker" && chmod 755 "$BENCH_WORK/tracker" &&
	echo "$hash" >"$BENCH_WORK/tracker/whitelist.txt" &&
	chmod 644 "$BENCH_WORK/tracker/whitelist.txt" || return 1
	cat >"$BENCH_WORK/opentracker.conf" <<-CONF || return 1
	access.whitelist whitelist.txt
	tracker.rootdir $BENCH_WORK/tracker
	tracker.user nobody
	CONF
	bench_bg opentracker server opentracker -f "$BENCH_WORK/opentracker.conf" \
		-i "$(cluster_ip server)" -p $ARIA2_TRACKER_PORT -P $ARIA2_TRACKER_PORT &&
	bench_wait 15 bench_listening server $ARIA2_TRACKER_PORT &&
	bench_bg seeder server aria2c "${ARIA2_OPTS[@]}" --seed-ratio=0.0 \
		--bt-seed-unverified=true --dir="$(dirname "$BENCH_IMAGE_FILE")" \
		"$BENCH_WORK/image.torrent" &&
	bench_wait 15 bench_listening server $ARIA2_BT_PORT
}

# _aria2_node NODE DIR OPTION...: aria2c in NODE's namespace; returns when
# its completion hook fires (the file is complete and verified piece by
# piece), not when aria2c exits: a leaving aria2c spends seconds in its
# shutdown (tracker "stopped" event, connections), which is not download
# time.  aria2c goes on alone (exits, or seeds until the run ends).
_aria2_node() {
	local node=$1 dir=$2 fifo="$2/.done" hook="$BENCH_WORK/done-hook.sh" line
	shift 2
	[ -x "$hook" ] || { printf '#!/bin/sh\necho done >"$(dirname "$3")/.done"\n' >"$hook.$node" &&
		chmod +x "$hook.$node" && mv "$hook.$node" "$hook"; } || return 1
	mkfifo "$fifo" && exec 4<>"$fifo" || return 1
	# The hook writes "done"; aria2c's exit writes "exit STATUS".
	{ bench_measure "$node" aria2c "${ARIA2_OPTS[@]}" "$@" --dir="$dir" \
		--on-bt-download-complete="$hook" "$BENCH_WORK/image.torrent"
	  echo "exit $?" >&4; } &
	read -r -t "$BENCH_TIMEOUT" -u 4 line
	exec 4<&-
	echo "bench: aria2c on $node: ${line:-timed out}"
	[ "$line" = done ] || [ "$line" = "exit 0" ]
}

method_aria2_node() { _aria2_node "$1" "$2" --seed-time=0; }

method_aria2seed_check() { method_aria2_check; }
method_aria2seed_start() { method_aria2_start; }
method_aria2seed_node() { _aria2_node "$1" "$2" --seed-ratio=0.0; }
