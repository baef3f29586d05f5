#!/bin/bash
# pack-compress.sh [SRC...]: which compression extracts fastest?
# Copies SRC directories (default /usr/bin /etc /usr/include: ~680 MB of
# binaries, text and many small files) into an image, packs it with
# si_installbtimage using gzip, zstd and none, and extracts each tarball
# into a tmpfs with GNU tar and with bsdtar (libarchive), 3 runs each;
# prints pack time, size, and the best extraction time of each.
# Needs root (extracting owners).  Uses $BENCH_DIR (default /tmp/si-bench).
set -eu
SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$SRC_DIR/server/si_installbtimage
W=${BENCH_DIR:-/tmp/si-bench}
[ $# -gt 0 ] || set -- /usr/bin /etc /usr/include
rm -rf "$W" && mkdir -p "$W"/base/images/bench/usr "$W"/x
for s in "$@"; do cp -a "$s" "$W"/base/images/bench/usr/; done
mount -t tmpfs -o size=4g si-bench "$W"/x
trap 'umount "$W"/x' EXIT
echo "tree: $(du -sh --apparent-size "$W"/base/images/bench | cut -f1)," \
     "$(find "$W"/base/images/bench | wc -l) entries; $(nproc) CPUs"
best() { sort -n | head -n 1; }
t() { local s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc; }
printf '%-6s %9s %10s %12s %12s\n' method pack_s size_MB gnutar_x_s bsdtar_x_s
for c in gzip zstd none; do
	p=$(t "$BIN" --base "$W"/base --address 127.0.0.1 --images bench --compress=$c --update -q)
	f=$(ls "$W"/base/tarballs/image-bench.tar*)
	size=$(( $(stat -c %s "$f") / 1000000 ))
	g=$(for i in 1 2 3; do rm -rf "$W"/x/r; mkdir "$W"/x/r
		t tar --numeric-owner --xattrs --xattrs-include='*' --acls -xpf "$f" -C "$W"/x/r; done | best)
	b=$(for i in 1 2 3; do rm -rf "$W"/x/r; mkdir "$W"/x/r
		t bsdtar --numeric-owner --xattrs --acls -xpf "$f" -C "$W"/x/r; done | best)
	printf '%-6s %9.1f %10d %12.2f %12.2f\n' $c "$p" "$size" "$g" "$b"
done
