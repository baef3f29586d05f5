#!/bin/bash
# fleet-update.sh - a fleet update on the emulated cluster (root): N nodes
# at version 1 of a generated image go to version 2 (about 1% of the bytes
# changed), once by the delta over BitTorrent (si_mkdelta + si_seeder +
# si_updateclient), once by si_updateclient --rsync-only from the server's
# rsync daemon, all N nodes at once each time.  Prints a markdown table:
# time until the last node recorded the new version, time until the last
# process left (the delta's nodes linger as seeds), bytes the server sent
# (cluster_tx_bytes), and /proc/pressure/cpu before and after (the machine
# is shared).
#
# Settings (environment): FLEET_NODES=16 FLEET_RATE=20mbit FLEET_SIZE=60
# (MB) FLEET_WORK=/var/tmp/si-fleet-update (removed at the end unless
# FLEET_KEEP=1).
set -u
PERF_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$PERF_DIR/../.." && pwd)
PATH="$SRC_DIR/server:$SRC_DIR/client:$SRC_DIR/boel:$PATH"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export LC_ALL=C TZ=UTC PATH

N=${FLEET_NODES:-16}
RATE=${FLEET_RATE:-20mbit}
SIZE=${FLEET_SIZE:-60}
W=${FLEET_WORK:-/var/tmp/si-fleet-update.$$}
BASE=$W/base
SEEDER_PID=

cleanup() {
	[ -n "$SEEDER_PID" ] && kill "$SEEDER_PID" 2>/dev/null && wait "$SEEDER_PID"
	cluster_down
	[ "${FLEET_KEEP:-}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
. "$SRC_DIR/t/lib-cluster.sh"

die() { echo "fleet-update: $*" >&2; exit 1; }
now() { date +%s.%N; }
pressure() { sed -n 's/^some avg10=\([0-9.]*\) avg60=\([0-9.]*\).*/avg10 \1 avg60 \2/p' /proc/pressure/cpu; }

# make_image DIR MB: ~MB of random data, 60% in 2 MB files, the rest in
# files of 1-20 KB over 50 directories.
make_image() {
	python3 - "$1" "$2" <<'PY'
import os, random, sys
root, mb = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1)
os.makedirs(root)
big = mb * 6 // 10 // 2
for i in range(big):
    os.makedirs(f"{root}/usr/lib", exist_ok=True)
    open(f"{root}/usr/lib/big{i:03d}.so", "wb").write(rnd.randbytes(2_000_000))
left, i = mb * 1_000_000 * 4 // 10, 0
while left > 0:
    d = f"{root}/usr/share/d{i % 50:02d}"
    os.makedirs(d, exist_ok=True)
    n = rnd.randint(1000, 20000)
    open(f"{d}/f{i:05d}", "wb").write(rnd.randbytes(n))
    left -= n; i += 1
os.makedirs(f"{root}/etc")
open(f"{root}/etc/version", "w").write("1\n")
PY
}

# change_image DIR: about 1% of the bytes: 4 KB rewritten in every big
# file, 1% of the small files rewritten, a few new files, a few removed.
change_image() {
	python3 - "$1" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(2)
changed = 0
for f in sorted(os.listdir(f"{root}/usr/lib")):
    with open(f"{root}/usr/lib/{f}", "r+b") as h:
        h.seek(rnd.randrange(1_900_000)); h.write(rnd.randbytes(4096)); changed += 4096
small = sorted(os.path.join(d, f) for d, _, fs in os.walk(f"{root}/usr/share") for f in fs)
for p in rnd.sample(small, len(small) // 100):
    n = os.path.getsize(p); open(p, "wb").write(rnd.randbytes(n)); changed += n
for p in rnd.sample(small, 5):
    if os.path.exists(p): os.remove(p)
os.makedirs(f"{root}/opt/new")
for i in range(10):
    open(f"{root}/opt/new/n{i}", "wb").write(rnd.randbytes(20000)); changed += 20000
open(f"{root}/etc/version", "w").write("2\n")
print(changed)
PY
}

reset_nodes() {
	local k
	for (( k = 1; k <= N; k++ )); do
		rm -rf "$W/nodes/n$k" && cp -a "$W/v1" "$W/nodes/n$k" &&
		mkdir -p "$W/nodes/n$k/etc/swarmimager" &&
		printf 'IMAGENAME=img\nIMAGE_VERSION=1\n' \
			>"$W/nodes/n$k/etc/swarmimager/installed" || return 1
	done
}

# run_fleet LABEL OPTS...: all nodes at once; prints a table row.
run_fleet() {
	local label=$1 k t0 t1 last=0 tx0 tx1 pids=() fail=0 p0 p1 m
	shift
	reset_nodes || die "cannot reset the nodes"
	sync
	p0=$(pressure)
	tx0=$(cluster_tx_bytes server)
	t0=$(now)
	for (( k = 1; k <= N; k++ )); do
		cluster_exec "n$k" si_updateclient --server "$SIP:873" --image img \
			--directory "$W/nodes/n$k" --exclude-file "$W/none.exclude" \
			--no-bootloader --yes "$@" >"$W/$label-n$k.log" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || fail=$((fail + 1)); done
	t1=$(now)
	tx1=$(cluster_tx_bytes server)
	p1=$(pressure)
	for (( k = 1; k <= N; k++ )); do
		m=$(stat -c %.9Y "$W/nodes/n$k/etc/swarmimager/updated" 2>/dev/null) ||
			{ fail=$((fail + 1)); continue; }
		last=$(echo "$m $last" | awk '{ print ($1 > $2) ? $1 : $2 }')
		python3 "$SRC_DIR/t/lib/treediff.py" "$W/nodes/n$k" "$W/v2" \
			--exclude etc/swarmimager >/dev/null || fail=$((fail + 1))
	done
	printf '| %s | %d | %.1f | %.1f | %d | %s | %s | %d |\n' "$label" "$N" \
		"$(echo "$last $t0" | awk '{ print $1 - $2 }')" \
		"$(echo "$t1 $t0" | awk '{ print $1 - $2 }')" \
		$((tx1 - tx0)) "$p0" "$p1" "$fail"
}

[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
mkdir -p "$W/nodes" "$BASE/images" "$BASE/overrides" "$BASE/scripts" "$W/tmp" || exit 1
export TMPDIR=$W/tmp
: >"$W/none.exclude"
cluster_up fleet "$N" "$RATE" || exit 1
SIP=$(cluster_ip server)
echo "fleet-update: generating a $SIZE MB image" >&2
make_image "$W/v1" "$SIZE" || die "cannot make the image"
cp -a "$W/v1" "$BASE/images/img" &&
si_installbtimage --base "$BASE" --address "$SIP" -q >/dev/null || die "pack v1"
cp -a "$W/v1" "$W/v2" && changed=$(change_image "$W/v2") || die "change"
rm -rf "$BASE/images/img" && cp -a "$W/v2" "$BASE/images/img" &&
si_installbtimage --base "$BASE" --address "$SIP" -q >/dev/null || die "pack v2"
si_mkdelta --base "$BASE" --image img --from 1 --address "$SIP" >"$W/mkdelta.out" ||
	die "si_mkdelta failed"
cluster_exec server si_seeder --base "$BASE" --address "$SIP" --bt-port 6881 \
	--tracker-port 6969 --rsync-port 873 >"$W/seeder.out" 2>"$W/seeder.err" &
SEEDER_PID=$!
for (( i = 0; i < 100; i++ )); do
	grep -q ready: "$W/seeder.out" && break
	sleep 0.2
done
grep -q ready: "$W/seeder.out" || die "si_seeder not ready"
img=$(du -sb --apparent-size "$W/v2" | cut -f1)
tgz=$(stat -c %s "$BASE/tarballs/image-img.tar.gz")
pkg=$(stat -c %s "$BASE/tarballs/delta-img-v1-v2.tar")
echo "image: $img bytes in $(find "$W/v2" | wc -l) entries (tarball $tgz), changed $changed bytes; delta package $pkg bytes ($(awk -v a="$pkg" -v b="$img" 'BEGIN { printf "%.2f", 100 * a / b }')% of the image)"
echo "$N nodes, links $RATE, $(nproc) CPUs; $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| method | nodes | last record (s) | all exited (s) | server sent (bytes) | CPU pressure before | after | failed |"
echo "|---|---|---|---|---|---|---|---|"
run_fleet delta-swarm --linger-max 60
run_fleet rsync --rsync-only
