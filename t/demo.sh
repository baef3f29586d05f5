#!/bin/bash
# demo.sh - SwarmImager end to end on an emulated cluster (`make demo`, root).
#
# 1. A golden image: Debian bookworm minbase made with debootstrap from the
#    apt mirror of /etc/apt (cached in $DEMO_CACHE), else a generated tree
#    of real files of this machine (documentation, Python's library).
# 2. si_installbtimage packs it (tarball, manifest, torrent).
# 3. An emulated cluster (t/lib-cluster.sh): a server and DEMO_NODES nodes
#    in network namespaces, every link shaped at DEMO_RATE.
# 4. si_seeder serves the image in the server's namespace; si_boel installs
#    it on every node at once over BitTorrent into a directory per node.
# 5. A live table (node, percent, rates, state), then a summary: per-node
#    time, bytes the server sent, and the time against the ideal
#    (image size / link rate: one copy over one link).
# Everything (processes, namespaces, work directory) is removed at the end,
# also on Ctrl-C.
#
# Settings (environment):
#   DEMO_NODES=8            nodes
#   DEMO_RATE=100mbit       link rate of every host (tc syntax)
#   DEMO_IMAGE=auto         auto (debootstrap, else generated), debootstrap,
#                           generated
#   DEMO_SCHEDULE=stripe    si_seeder --schedule (stripe, plain, super)
#   DEMO_COMPRESS=zstd      si_installbtimage --compress (zstd, gzip, none)
#   DEMO_CACHE=/var/cache/swarmimager/demo   the image and its packing
#   DEMO_MIRROR=            Debian mirror (default: the first deb.debian.org-
#                           style URI of /etc/apt/sources*)
#   DEMO_KEEP=1             keep the work directory (logs)
set -u
DEMO_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$DEMO_DIR/.." && pwd)
PATH="$SRC_DIR/server:$SRC_DIR/client:$SRC_DIR/boel:$PATH"
export LC_ALL=C PATH

DEMO_NODES=${DEMO_NODES:-8}
DEMO_RATE=${DEMO_RATE:-100mbit}
DEMO_IMAGE=${DEMO_IMAGE:-auto}
DEMO_SCHEDULE=${DEMO_SCHEDULE:-stripe}
DEMO_COMPRESS=${DEMO_COMPRESS:-zstd}
DEMO_CACHE=${DEMO_CACHE:-/var/cache/swarmimager/demo}
DEMO_MIRROR=${DEMO_MIRROR:-}

die() { echo "demo: $*" >&2; exit 1; }
say() { printf '%s demo: %s\n' "$(date +%T)" "$*"; }

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (network namespaces, tc, debootstrap, installing as" \
		"root): run 'sudo make demo'" >&2
	exit 1
fi
[[ $DEMO_NODES =~ ^[0-9]+$ ]] && [ "$DEMO_NODES" -ge 1 ] && [ "$DEMO_NODES" -le 64 ] ||
	die "DEMO_NODES must be 1 to 64"
case $DEMO_IMAGE in auto|debootstrap|generated) ;; *) die "DEMO_IMAGE: auto, debootstrap or generated" ;; esac
case $DEMO_SCHEDULE in stripe|plain|super) ;; *) die "DEMO_SCHEDULE: stripe, plain or super" ;; esac
case $DEMO_COMPRESS in zstd) TARBALL=image-demo.tar.zst ;; gzip) TARBALL=image-demo.tar.gz ;;
none) TARBALL=image-demo.tar ;; *) die "DEMO_COMPRESS: zstd, gzip or none" ;; esac
for c in si_installbtimage si_seeder si_boel ip tc opentracker rsync; do
	command -v $c >/dev/null || die "needs $c (make; make deps)"
done
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
. "$DEMO_DIR/lib-cluster.sh"
. "$DEMO_DIR/lib-image.sh"

WORK=
SEEDER_PID=
NODE_PIDS=()

cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in $SEEDER_PID "${NODE_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	cluster_down >/dev/null 2>&1 || cluster_down
	for p in $SEEDER_PID "${NODE_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	if [ -n "$WORK" ]; then
		if [ -n "${DEMO_KEEP:-}" ]; then echo "demo: work directory kept: $WORK"
		else rm -rf "$WORK"; fi
	fi
	[ "$rc" -ne 130 ] || echo "demo: interrupted; cleaned up" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the golden image ----------------------------------------------------

# image_debootstrap: bookworm minbase, made once into the cache
# (t/lib-image.sh).
image_debootstrap() {
	local tree="$DEMO_CACHE/bookworm-minbase"
	debian_root "$tree" "$DEMO_MIRROR" 2>&1 | sed 's/^/demo: /' || return 1
	[ -e "$tree/$SI_ROOT_MARK" ] || return 1
	IMAGE_TREE=$tree IMAGE_KIND="Debian bookworm minbase (debootstrap)"
}

# image_generated: real files of this machine (directories added until
# past 80 MB: about 140 MB with Python's library).
image_generated() {
	local tree="$DEMO_CACHE/generated" d
	if [ ! -e "$tree/$SI_ROOT_MARK" ]; then
		say "generating an image tree from this machine's files (cached in $tree)"
		rm -rf "$tree.tmp" && mkdir -p "$tree.tmp"/{etc,tmp,var/log,root,home,dev,proc,sys} || return 1
		for d in /etc/ssl/certs /usr/share/doc /usr/share/common-licenses /usr/share/zoneinfo \
			/usr/lib/python3* /usr/bin /usr/lib/x86_64-linux-gnu/perl-base; do
			[ -e "$d" ] || continue
			cp -a --parents "$d" "$tree.tmp" 2>/dev/null
			[ "$(du -sm "$tree.tmp" | cut -f1)" -lt 80 ] || break
		done
		cp -a /etc/passwd /etc/group /etc/hostname /etc/os-release "$tree.tmp/etc/" 2>/dev/null
		chmod 1777 "$tree.tmp/tmp" && chmod 700 "$tree.tmp/root" &&
		touch "$tree.tmp/$SI_ROOT_MARK" &&
		rm -rf "$tree" && mv "$tree.tmp" "$tree" || return 1
	fi
	IMAGE_TREE=$tree IMAGE_KIND="generated from this machine's files"
}

# pack: the image in the persistent pack base (si_installbtimage packs only
# what changed; a new server address only rewrites the torrent).
pack() {
	local pb="$DEMO_CACHE/pack"
	mkdir -p "$pb/images" || return 1
	if [ "$(readlink "$pb/images/demo.src" 2>/dev/null)" != "$IMAGE_TREE" ]; then
		rm -rf "$pb/images/demo" && cp -a "$IMAGE_TREE" "$pb/images/demo" &&
		rm -f "$pb/images/demo/$SI_ROOT_MARK" &&
		ln -sfn "$IMAGE_TREE" "$pb/images/demo.src" || return 1
	fi
	say "packing with si_installbtimage"
	si_installbtimage --base "$pb" --address "$(cluster_ip server)" --images demo \
		--compress "$DEMO_COMPRESS" -q | sed 's/^/    /' && [ "${PIPESTATUS[0]}" = 0 ] || return 1
	PACK=$pb
	IMAGE_SIZE=$(stat -c %s "$pb/tarballs/$TARBALL")
}

# ---- the run -------------------------------------------------------------

rate_bps() {
	awk -v r="$1" 'BEGIN { m = 1; u = r; sub(/^[0-9.]+/, "", u); v = substr(r, 1, length(r) - length(u))
		if (u ~ /^k/) m = 1e3; else if (u ~ /^m/) m = 1e6; else if (u ~ /^g/) m = 1e9
		if (u ~ /bps$/) m *= 8
		printf "%.0f\n", v * m }'
}

start_server() {
	local b="$WORK/base" f
	mkdir -p "$b"/{tarballs,torrents,images,overrides,scripts,etc} || return 1
	for f in "$TARBALL" image-demo.manifest; do
		ln "$PACK/tarballs/$f" "$b/tarballs/$f" 2>/dev/null ||
			cp "$PACK/tarballs/$f" "$b/tarballs/$f" || return 1
	done
	cp "$PACK/torrents/$TARBALL.torrent" "$b/torrents/" || return 1
	cluster_exec server si_seeder --base "$b" --address "$(cluster_ip server)" \
		--schedule "$DEMO_SCHEDULE" >"$WORK/seeder.out" 2>"$WORK/seeder.err" &
	SEEDER_PID=$!
	local i
	for i in $(seq 1 200); do
		grep -q '^si_seeder: ready:' "$WORK/seeder.out" 2>/dev/null && break
		kill -0 "$SEEDER_PID" 2>/dev/null || break
		sleep 0.1
	done
	grep -q '^si_seeder: ready:' "$WORK/seeder.out" ||
		{ tail -n 5 "$WORK/seeder.err" >&2; return 1; }
	say "$(cat "$WORK/seeder.out") (schedule $DEMO_SCHEDULE)"
}

# start_node NODE: si_boel in NODE's namespace; stderr lines time-stamped
# into NODE.log, the summary in NODE.out, the exit status in NODE.rc.
start_node() {
	local n=$1 d="$WORK/$1"
	mkdir -p "$d/root" "$d/stage" "$d/tmp" || return 1
	( ( cluster_exec "$n" env TMPDIR="$d/tmp" si_boel --target "$d/root" \
		--imageserver "$(cluster_ip server)" --image demo --hostname "$n" \
		--cmdline /dev/null --staging "$d/stage" --polling-time 1 \
		--upload-min 0 --linger-max 60 2>&1 >"$WORK/$n.out"
	    echo $? >"$WORK/$n.rc" ) |
	  while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done \
		>"$WORK/$n.log" ) &
	NODE_PIDS+=($!)
}

# node_row NODE: "pct down up state" from NODE's log.
node_row() {
	awk -v rcf="$WORK/$1.rc" '
		/ of .*, down .*\/s, up .*\/s/ {
			if (match($0, /[0-9.]+% of/)) pct = substr($0, RSTART, RLENGTH - 4)
			if (match($0, /down [^,]*\/s/)) down = substr($0, RSTART + 5, RLENGTH - 7)
			if (match($0, /up [^,]*\/s/)) up = substr($0, RSTART + 3, RLENGTH - 5)
			if (match($0, /extracted [0-9.]+%/)) ext = substr($0, RSTART + 10, RLENGTH - 11)
			if (match($0, /[0-9]+ peers/)) peers = substr($0, RSTART, RLENGTH - 6)
			state = (pct + 0 < 100) ? "downloading" : "extracting"
		}
		/staging in/ && state == "" { state = "starting" }
		/seeding until nobody needs us/ { state = "seeding"; pct = 100; ext = 100; down = "-"; up = "-" }
		/leaving the swarm/ { state = "left" }
		END {
			if ((getline rc < rcf) > 0) state = (rc == 0 ? "installed" : "FAILED")
			if (state == "") state = "starting"
			printf "%s|%s|%s|%s|%s|%s\n", pct == "" ? 0 : pct, down == "" ? "-" : down,
				up == "" ? "-" : up, ext == "" ? "-" : ext, peers == "" ? "-" : peers, state
		}' "$WORK/$1.log" 2>/dev/null
}

TABLE_LINES=0
show_table() {	# ELAPSED
	local n row pct down up ext peers state out
	out=$(printf '%-5s %7s %12s %12s %9s %5s  %-11s\n' node percent down up extracted peers state
	for n in $(cluster_nodes); do
		row=$(node_row "$n")
		IFS='|' read -r pct down up ext peers state <<<"$row"
		printf '%-5s %6s%% %10s/s %10s/s %8s%% %5s  %-11s\n' "$n" "$pct" "$down" "$up" "$ext" "$peers" "$state"
	done | sed 's|  -/s|   - |g; s| -%| - |')
	if [ -t 1 ]; then
		[ "$TABLE_LINES" -eq 0 ] || printf '\033[%dA' "$TABLE_LINES"
		printf '\033[K%s\n' "t = ${1} s"
		printf '%s\n' "$out" | sed 's/^/\x1b[K/'
		TABLE_LINES=$(( $(printf '%s\n' "$out" | wc -l) + 1 ))
	else
		echo "t = ${1} s"
		printf '%s\n' "$out"
	fi
}

all_rc() { local n; for n in $(cluster_nodes); do [ -s "$WORK/$n.rc" ] || return 1; done; }
all_installed() {
	local n
	for n in $(cluster_nodes); do
		grep -q 'seeding until nobody needs us' "$WORK/$n.log" 2>/dev/null ||
			[ -s "$WORK/$n.rc" ] || return 1
	done
}

summary() {
	local n t0=$1 tx=$2 ideal=$3 inst rc down up worst=0 ok=0
	echo
	echo "SwarmImager demo: $DEMO_NODES nodes at $DEMO_RATE, image $IMAGE_KIND"
	echo "image tarball $(numfmt --to=iec-i --suffix=B "$IMAGE_SIZE") ($IMAGE_SIZE bytes), ideal (size / rate) ${ideal} s, schedule $DEMO_SCHEDULE"
	echo
	printf '| %-4s | %-9s | %-10s | %-10s | %-9s |\n' node installed "downloaded" uploaded result
	printf '|%s|%s|%s|%s|%s|\n' ------ ----------- ------------ ------------ -----------
	for n in $(cluster_nodes); do
		inst=$(awk -v t0="$t0" '/seeding until nobody needs us/ { printf "%.1f s", $1 - t0; exit }' "$WORK/$n.log")
		rc=$(cat "$WORK/$n.rc" 2>/dev/null)
		read -r down up <<<"$(sed -n 's/.*(down \(.*\), up \(.*\), overrides.*/\1|\2/p' "$WORK/$n.out" | tr ' |' '_ ')"
		[ "$rc" = 0 ] && ok=$((ok + 1))
		printf '| %-4s | %9s | %10s | %10s | %-9s |\n' "$n" "${inst:--}" "${down//_/ }" "${up//_/ }" \
			"$([ "$rc" = 0 ] && echo ok || echo "FAILED${rc:+ ($rc)}")"
	done
	worst=$(for n in $(cluster_nodes); do awk -v t0="$t0" '/seeding until nobody needs us/ { printf "%.2f\n", $1 - t0; exit }' "$WORK/$n.log"; done | sort -g | tail -1)
	echo
	echo "all nodes installed in ${worst:-?} s = $(awk -v a="${worst:-0}" -v b="$ideal" 'BEGIN { printf "%.2f", a / b }') x ideal;" \
		"server sent $(numfmt --to=iec-i --suffix=B "$tx") = $(awk -v a="$tx" -v b="$IMAGE_SIZE" 'BEGIN { printf "%.2f", a / b }') image sizes" \
		"(one per node: $DEMO_NODES); $ok/$DEMO_NODES nodes ok"
	echo "(the nodes share this machine's $(nproc) cores: load average $(cut -d' ' -f1-3 /proc/loadavg);" \
		"decompression and extraction of every node run here too)"
	[ "$ok" -eq "$DEMO_NODES" ]
}

main() {
	local t0 tx0 tx=0 now el ideal deadline verified=0 n
	# The nodes' roots and staging in RAM: each real node writes its own
	# disk; here they would all share one.
	WORK=$(mktemp -d /dev/shm/si-demo.XXXXXX 2>/dev/null || mktemp -d /tmp/si-demo.XXXXXX) ||
		die "cannot create a work directory"
	say "emulated cluster: server and $DEMO_NODES nodes at $DEMO_RATE"
	cluster_up demo "$DEMO_NODES" "$DEMO_RATE" || die "cannot build the cluster"
	case $DEMO_IMAGE in
	auto) image_debootstrap || { say "falling back to a generated image"; image_generated; } ;;
	debootstrap) image_debootstrap ;;
	generated) image_generated ;;
	esac || die "cannot make the image"
	say "golden image: $IMAGE_KIND, $(du -sh "$IMAGE_TREE" | cut -f1), $(find "$IMAGE_TREE" | wc -l) entries"
	pack || die "cannot pack the image"
	start_server || die "si_seeder did not start"
	ideal=$(awk -v s="$IMAGE_SIZE" -v r="$(rate_bps "$DEMO_RATE")" 'BEGIN { printf "%.2f", s * 8 / r }')
	deadline=$(awk -v i="$ideal" 'BEGIN { printf "%d", 120 + 20 * i }')
	say "installing on $DEMO_NODES nodes at once (si_boel; ideal ${ideal} s)"
	tx0=$(cluster_tx_bytes server)
	t0=$EPOCHREALTIME
	for n in $(cluster_nodes); do start_node "$n" || die "cannot start $n"; done
	while :; do
		sleep 1
		now=$EPOCHREALTIME
		el=$(awk -v a="$now" -v b="$t0" 'BEGIN { printf "%.0f", a - b }')
		show_table "$el"
		if [ "$tx" = 0 ] && all_installed; then
			tx=$(( $(cluster_tx_bytes server) - tx0 ))
		fi
		all_rc && break
		[ "$el" -lt "$deadline" ] || { say "timed out after ${deadline} s"; break; }
	done
	[ "$tx" != 0 ] || tx=$(( $(cluster_tx_bytes server) - tx0 ))
	for n in $(cluster_nodes); do
		[ "$(cat "$WORK/$n.rc" 2>/dev/null)" = 0 ] || continue
		python3 "$SRC_DIR/t/lib/treediff.py" "$PACK/images/demo" "$WORK/$n/root" \
			--exclude etc/swarmimager --exclude etc/hostname --exclude etc/hosts \
			--exclude etc/machine-id --exclude var/lib/dbus/machine-id \
			>"$WORK/$n.verify" 2>&1 &&
			verified=$((verified + 1)) ||
			{ say "$n: the installed tree differs from the image:"; head -n 5 "$WORK/$n.verify"; }
	done
	say "verified: $verified of $DEMO_NODES installed trees equal the image"
	summary "$t0" "$tx" "$ideal" && [ "$verified" -eq "$DEMO_NODES" ] && return 0
	DEMO_KEEP=1	# the logs tell what went wrong
	return 1
}

main "$@"
