# swarmimager.sh - SwarmImager's own transport: si_seeder on the server
# (striped seed, its opentracker and rsync daemon), si_boel on the nodes
# installing the image into a target directory (download and extraction
# overlapped), lingering as seeds until nobody is interested.  See
# README.md.
#
# The image: the bench tarball is extracted once with GNU tar into an image
# tree, which si_installbtimage packs (tarball, manifest, torrent announcing
# the server's namespace address); that tree is also the reference the
# installed trees are compared with.  Every run gets a fresh server base
# holding hard links to (or copies of) the packed files.
#
# A node's time is the moment si_boel says the image is installed (its
# "seeding until nobody needs us" line, which follows the extraction and
# the overrides); si_boel goes on seeding in the background until nobody
# is interested or the run ends.  Settings: SI_BENCH_SCHEDULE=stripe|plain|
# super (si_seeder --schedule, default stripe), SI_BENCH_COMPRESS=zstd|gzip|
# none (si_installbtimage --compress, default zstd), SI_BENCH_OVERLAP=y|n,
# SI_BENCH_STRIPE_DEPTH (si_seeder --stripe-depth), SI_BENCH_SEEDER_OPTS (more
# si_seeder options, e.g. --no-torrent-heads), SI_BENCH_PACK_OPTS (more
# si_installbtimage options, e.g. --piece-size 64K), SI_BENCH_BOEL_OPTS
# (more si_boel options, e.g. -v).  Node logs carry the
# seconds since the node started.

SI_BENCH_SCHEDULE=${SI_BENCH_SCHEDULE:-stripe}
SI_BENCH_COMPRESS=${SI_BENCH_COMPRESS:-zstd}
case $SI_BENCH_COMPRESS in
gzip) SI_BENCH_TAR=image-bench.tar.gz ;;
zstd) SI_BENCH_TAR=image-bench.tar.zst ;;
none) SI_BENCH_TAR=image-bench.tar ;;
*) echo "SI_BENCH_COMPRESS: gzip, zstd or none" >&2; SI_BENCH_TAR=unknown ;;
esac
SI_BENCH_OVERLAP=${SI_BENCH_OVERLAP:-y}

method_swarmimager_check() {
	local p
	for p in si_installbtimage si_seeder si_boel opentracker rsync tar; do
		command -v $p >/dev/null || { echo "$p missing (make; make deps)"; return 1; }
	done
}

# _si_bench_pack: the packed image, made once per benchmark (and again
# when the image or the server address changes) in $SI_BENCH_PACKED.
_si_bench_pack() {
	local key="$BENCH_IMAGE_SHA256 $(cluster_ip server) $SI_BENCH_COMPRESS ${SI_BENCH_PACK_OPTS:-}" tree
	SI_BENCH_PACKED="$(dirname "$BENCH_IMAGE_FILE")/swarmimager"
	tree="$SI_BENCH_PACKED/images/bench"
	[ "$(cat "$SI_BENCH_PACKED/key" 2>/dev/null)" = "$key" ] && return 0
	rm -rf "$SI_BENCH_PACKED" && mkdir -p "$tree" || return 1
	tar --numeric-owner -xpf "$BENCH_IMAGE_FILE" -C "$tree" || return 1
	si_installbtimage --base "$SI_BENCH_PACKED" --address "$(cluster_ip server)" \
		--images bench --compress "$SI_BENCH_COMPRESS" ${SI_BENCH_PACK_OPTS:-} -q || return 1
	echo "$key" >"$SI_BENCH_PACKED/key"
	echo "swarmimager: packed $(stat -c %s "$SI_BENCH_PACKED/tarballs/$SI_BENCH_TAR") bytes" \
		"(bench tarball $BENCH_IMAGE_SIZE bytes)"
}

method_swarmimager_start() {
	local base="$BENCH_WORK/base" f
	_si_bench_pack || { echo "cannot pack the image"; return 1; }
	mkdir -p "$base/tarballs" "$base/torrents" "$base/images" \
		"$base/overrides" "$base/scripts" "$base/etc" || return 1
	for f in "$SI_BENCH_TAR" image-bench.manifest; do
		ln "$SI_BENCH_PACKED/tarballs/$f" "$base/tarballs/$f" 2>/dev/null ||
			cp -p "$SI_BENCH_PACKED/tarballs/$f" "$base/tarballs/$f" || return 1
	done
	cp "$SI_BENCH_PACKED/torrents/$SI_BENCH_TAR.torrent" "$base/torrents/" || return 1
	# For the "stock" scenario's aria2c (methods/aria2.sh).
	cp "$base/torrents/$SI_BENCH_TAR.torrent" "$BENCH_WORK/image.torrent" || return 1
	bench_bg seeder server si_seeder --base "$base" \
		--address "$(cluster_ip server)" --schedule "$SI_BENCH_SCHEDULE" ${SI_BENCH_STRIPE_DEPTH:+--stripe-depth $SI_BENCH_STRIPE_DEPTH} ${SI_BENCH_SEEDER_OPTS:-} -v &&
	bench_wait 20 grep -q '^si_seeder: ready: .* torrents 1$' "$BENCH_WORK/seeder.log" ||
		{ tail -n 5 "$BENCH_WORK/seeder.log"; return 1; }
}

# method_swarmimager_node NODE DIR: si_boel installs into DIR/root,
# staging in DIR/stage; returns when the image is installed.
method_swarmimager_node() {
	local node=$1 dir=$2 fifo="$2/.done" line overlap=--overlap t0=${EPOCHREALTIME/./} us
	[ "$SI_BENCH_OVERLAP" = y ] || overlap=--no-overlap
	mkdir -p "$dir/root" "$dir/stage" "$dir/tmp" && mkfifo "$fifo" &&
	exec 4<>"$fifo" || return 1
	# The line after the install writes "done"; si_boel's exit "exit RC".
	{ bench_measure "$node" env TMPDIR="$dir/tmp" si_boel --target "$dir/root" \
		--imageserver "$(cluster_ip server)" --image bench \
		--hostname "$node" --cmdline /dev/null --staging "$dir/stage" \
		--seed-wait y --upload-min 0 --polling-time 1 $overlap ${SI_BENCH_BOEL_OPTS:-} 2>&1 |
		while IFS= read -r line; do
			# seconds since this node started, for the log
			us=$(( ${EPOCHREALTIME/./} - t0 ))
			printf '%3d.%02d %s\n' $(( us / 1000000 )) $(( us % 1000000 / 10000 )) "$line"
			case $line in
			*"seeding until nobody needs us"*) echo done >&4 ;;
			esac
		done
	  echo "exit ${PIPESTATUS[0]}" >&4; } &
	read -r -t "$BENCH_TIMEOUT" -u 4 line
	exec 4<&-
	echo "bench: si_boel on $node: ${line:-timed out}"
	[ "$line" = done ] || [ "$line" = "exit 0" ]
}

# The installed tree must equal the image tree (GNU tar's extraction of
# the bench tarball), compared by t/lib/treediff.py, but for the files
# si_boel makes the node's own (its name, its machine id).
method_swarmimager_verify() {
	python3 "$SRC_DIR/t/lib/treediff.py" "$SI_BENCH_PACKED/images/bench" \
		"$2/root" --exclude etc/swarmimager --exclude etc/hostname \
		--exclude etc/hosts --exclude etc/machine-id \
		--exclude var/lib/dbus/machine-id
}

# "stock" scenario: a stock client (aria2c, as in methods/aria2.sh, seeding
# on when done) downloads the tarball from SwarmImager's swarm: the same
# torrent, tracker and seeder as the si_boel nodes.
method_swarmimager_stock_node() { _aria2_node "$1" "$2" --seed-ratio=0.0; }

method_swarmimager_stock_verify() {
	cmp "$SI_BENCH_PACKED/tarballs/$SI_BENCH_TAR" "$2/$SI_BENCH_TAR"
}
