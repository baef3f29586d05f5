# swarmimager.sh - SwarmImager's own transport (si_seeder on the server,
# si_boel on the nodes).  To be filled in by the lead once si_seeder and
# si_boel exist; the interface is in README.md.  Until then the method
# reports itself unavailable and the benchmark records it as skipped.

method_swarmimager_check() {
	local p
	for p in si_installbtimage si_seeder si_boel; do
		command -v $p >/dev/null || { echo "$p not built yet"; return 1; }
	done
	echo "method_swarmimager not written yet"
	return 1
}

method_swarmimager_start() {
	# Lay out a server base with the image tarball (BENCH_IMAGE), its
	# torrent and manifest, start si_seeder in the server namespace with
	# bench_bg and wait (bench_wait) for its "ready" line.
	return 1
}

method_swarmimager_node() {	# NODE DIR
	# Run si_boel in the node's namespace: cluster_exec "$1" si_boel ...
	# with IMAGESERVER=$(cluster_ip server); leave $2/$BENCH_IMAGE_NAME
	# (or define method_swarmimager_verify to check an installed tree).
	return 1
}
