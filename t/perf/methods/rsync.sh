# rsync.sh - SystemImager's default transport: every node pulls the tarball
# from one rsync daemon on the server (unicast).  See README.md.

RSYNC_PORT=873

# BENCH_RSYNC_MAX_N: above this node count rsync is not run (its time is
# N x size/rate, linear in N: at 32 nodes and 20 Mbit/s a 30 MB image
# takes over 6 minutes), to keep a whole benchmark within half an hour.
method_rsync_check() {
	command -v rsync >/dev/null || { echo "rsync missing"; return 1; }
	if [ -n "${BENCH_RSYNC_MAX_N:-}" ] && [ "$BENCH_N" -gt "$BENCH_RSYNC_MAX_N" ]; then
		echo "not run above N=$BENCH_RSYNC_MAX_N (BENCH_RSYNC_MAX_N): unicast time is N x size/rate"
		return 1
	fi
}

method_rsync_start() {
	cat >"$BENCH_WORK/rsyncd.conf" <<-CONF || return 1
	use chroot = no
	uid = root
	gid = root
	max connections = 0
	[image]
	path = $(dirname "$BENCH_IMAGE_FILE")
	read only = yes
	CONF
	bench_bg rsyncd server rsync --daemon --no-detach --config="$BENCH_WORK/rsyncd.conf" \
		--address="$(cluster_ip server)" --port=$RSYNC_PORT &&
	bench_wait 15 bench_listening server $RSYNC_PORT
}

method_rsync_node() {	# NODE DIR
	bench_measure "$1" rsync -a --timeout=60 \
		"rsync://$(cluster_ip server):$RSYNC_PORT/image/$BENCH_IMAGE_NAME" "$2/"
}
