# udpcast.sh - multicast with udpcast: every node starts udp-receiver, then
# the server's udp-sender waits for all N receivers (repeating its hello)
# and sends the image once.  See README.md.

UDPCAST_PORTBASE=9000

method_udpcast_check() {
	command -v udp-sender >/dev/null && command -v udp-receiver >/dev/null ||
		{ echo "udpcast missing"; return 1; }
}

method_udpcast_start() { :; }

# After the first nodes started (receivers first, then the sender).
method_udpcast_go() {
	bench_bg udp-sender server udp-sender --interface eth0 --file "$BENCH_IMAGE_FILE" \
		--nokbd --portbase $UDPCAST_PORTBASE --min-receivers "$BENCH_N" \
		--max-wait "$BENCH_TIMEOUT" --rexmit-hello-interval 500 --no-progress
}

method_udpcast_node() {	# NODE DIR
	bench_measure "$1" udp-receiver --interface eth0 --file "$2/$BENCH_IMAGE_NAME" \
		--nokbd --portbase $UDPCAST_PORTBASE --start-timeout "$BENCH_TIMEOUT" \
		--exit-wait 500
}
