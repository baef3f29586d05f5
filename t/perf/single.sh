# single.sh - the benchmark's "single" scenario, sourced by bench.sh: one
# node installs the image from a server on the same machine over loopback,
# with no shaping and no namespaces, so that nothing but the programs
# themselves limits it.  Side by side, each into a fresh ext4 file system
# on a loop device (a new disk, as a node's is; page cache dropped first):
#   floor        zstd -dc (or gzip -dc) TARBALL | tar -x   (extraction only)
#   rsync        rsync -aHS --numeric-ids from an rsync daemon serving the
#                image tree (SystemImager's transport)
#   swarmimager  si_seeder serving the packed image, si_boel --no-seed-wait
#                installing it (staging on the target file system)
# Each is timed and measured by t/perf/peakmem (CPU seconds, anonymous
# and file-backed peaks), the tree compared with the image (treediff.py).
# Rows go to the CSV with scenario "single", rate "loopback" and, as the
# ideal, the floor's time.

SINGLE_LOOP=

_single_umount() {
	[ -n "$SINGLE_LOOP" ] || return 0
	umount "$SINGLE_WORK/mnt" 2>/dev/null
	losetup -d "$SINGLE_LOOP" 2>/dev/null
	SINGLE_LOOP=
}

# _single_fresh: an empty ext4 mounted on $SINGLE_WORK/mnt, caches
# dropped: four times what the staged tarball and the tree take, at least
# 1 GiB (a sparse file).  A node's disk is larger than its image, and
# ext4 filled to half (the tree and the staged tarball side by side)
# allocated slowly enough to cost si_boel 1.5 s of 4.7 on a 1 GB root.
_single_fresh() {
	local mb=$(( (IMAGE_SIZE + UNPACKED_BYTES + UNPACKED_ENTRIES * 4096) * 4 / 1048576 ))
	[ "$mb" -ge 1024 ] || mb=1024
	_single_umount
	rm -f "$SINGLE_WORK/fs.img" && truncate -s "${mb}M" "$SINGLE_WORK/fs.img" &&
	mkfs.ext4 -q -F "$SINGLE_WORK/fs.img" &&
	SINGLE_LOOP=$(losetup -f --show --direct-io=on "$SINGLE_WORK/fs.img") &&
	mkdir -p "$SINGLE_WORK/mnt" && mount "$SINGLE_LOOP" "$SINGLE_WORK/mnt" &&
	mkdir "$SINGLE_WORK/mnt/t" || return 1
	sync && echo 3 >/proc/sys/vm/drop_caches
}

# _single_run METHOD CMD...: CMD under peakmem; appends the CSV row.
_single_run() {
	local m=$1 rc status=ok fig wall cpu anon file hwm note=""
	shift
	"$PERF_DIR/peakmem" -o "$SINGLE_WORK/$m.mem" -- "$@" >"$SINGLE_WORK/$m.log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		status=failed note="exit $rc: $(tail -n 2 "$SINGLE_WORK/$m.log" | tr '\n' ' ')"
	elif ! python3 "$SRC_DIR/t/lib/treediff.py" "$SINGLE_TREE" "$SINGLE_WORK/mnt/t" \
		--exclude etc/swarmimager --exclude etc/hostname --exclude etc/hosts \
		--exclude etc/machine-id --exclude var/lib/dbus/machine-id \
		>>"$SINGLE_WORK/$m.log" 2>&1; then
		status=corrupt note="the tree differs from the image"
	fi
	fig=$(tr ' ' '\n' <"$SINGLE_WORK/$m.mem" | awk -F= '{ v[$1] = $2 } END {
		printf "%.2f %.2f %.1f %.1f %.1f\n", v["wall_s"], v["cpu_s"], v["anon_kb"] / 1024,
			(v["file_kb"] + v["shmem_kb"]) / 1024, v["hwm_kb"] / 1024 }')
	read -r wall cpu anon file hwm <<<"$fig"
	[ "$m" != floor ] || SINGLE_FLOOR=$wall
	IDEAL=$SINGLE_FLOOR BENCH_RATE=loopback csv_row "$m" single 1 "$status" "$wall" "$wall" "" "" "" "" "" \
		"$([ $status = ok ] && echo 1 || echo 0)" "$([ $status = ok ] && echo 0 || echo 1)" \
		"${note:-peak RSS $hwm MB}" "$cpu,$anon,$file"
	say "single $m: $status wall=${wall}s cpu=${cpu}s anon=${anon}MB file=${file}MB (floor ${SINGLE_FLOOR}s) $note"
}

# _single_port: a free TCP port on 127.0.0.1.
_single_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

_single_seeder_up() {
	local b=$SINGLE_WORK/base i
	SINGLE_TPORT=$(_single_port)
	mkdir -p "$b/etc" && printf 'BT_TRACKER_PORT=%s\n' "$SINGLE_TPORT" >"$b/etc/bittorrent.conf" &&
	si_installbtimage --base "$b" --address 127.0.0.1 --images single \
		--compress "${SI_BENCH_COMPRESS:-zstd}" ${SI_BENCH_PACK_OPTS:-} -q >"$SINGLE_WORK/pack.log" 2>&1 ||
		{ say "single: cannot pack the image: $(tail -n 2 "$SINGLE_WORK/pack.log")"; return 1; }
	si_seeder --base "$b" --address 127.0.0.1 --bt-port 0 --tracker-port "$SINGLE_TPORT" \
		--rsync-port 0 ${SI_BENCH_SEEDER_OPTS:-} >"$SINGLE_WORK/seeder.out" 2>"$SINGLE_WORK/seeder.err" &
	SINGLE_SEEDER=$!
	BENCH_BG_PIDS+=("$SINGLE_SEEDER")
	for i in $(seq 200); do
		grep -q '^si_seeder: ready:' "$SINGLE_WORK/seeder.out" 2>/dev/null && break
		kill -0 "$SINGLE_SEEDER" 2>/dev/null || break
		sleep 0.1
	done
	SINGLE_RSYNC_PORT=$(sed -n 's/.* rsync 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$SINGLE_WORK/seeder.out")
	[ -n "$SINGLE_RSYNC_PORT" ] || { say "single: si_seeder did not start: $(tail -n 2 "$SINGLE_WORK/seeder.err")"; return 1; }
}

_single_rsyncd_up() {
	local i
	SINGLE_RPORT=$(_single_port)
	printf 'use chroot = no\nuid = root\ngid = root\n[tree]\npath = %s\nread only = yes\n' \
		"$SINGLE_TREE" >"$SINGLE_WORK/rsyncd.conf"
	rsync --daemon --no-detach --address=127.0.0.1 --port="$SINGLE_RPORT" \
		--config="$SINGLE_WORK/rsyncd.conf" >"$SINGLE_WORK/rsyncd.log" 2>&1 &
	BENCH_BG_PIDS+=($!)
	for i in $(seq 100); do
		ss -Htln | awk -v p=":$SINGLE_RPORT" '$4 ~ p"$" { f = 1 } END { exit !f }' && return 0
		sleep 0.1
	done
	say "single: the rsync daemon did not start"; return 1
}

# run_single: the scenario (needs root: loop devices, mounts).
run_single() {
	local m dc
	SINGLE_WORK="$WORK/single" SINGLE_FLOOR=
	rm -rf "$SINGLE_WORK" && mkdir -p "$SINGLE_WORK/base/images" || die "cannot create '$SINGLE_WORK'"
	SINGLE_TREE="$SINGLE_WORK/base/images/single"
	mkdir "$SINGLE_TREE" && tar --numeric-owner -xpf "$BENCH_IMAGE_FILE" -C "$SINGLE_TREE" ||
		die "cannot extract the image"
	_single_seeder_up && _single_rsyncd_up || return 0
	case $BENCH_IMAGE_NAME in *.zst) dc="zstd -dc" ;; *.gz) dc="gzip -dc" ;; *.xz) dc="xz -dc" ;; *) dc=cat ;; esac
	for m in floor rsync swarmimager; do
		_single_fresh || { say "single: cannot make a file system"; break; }
		case $m in
		floor) _single_run floor sh -c "$dc '$BENCH_IMAGE_FILE' | tar --numeric-owner -xpf - -C '$SINGLE_WORK/mnt/t'" ;;
		rsync) _single_run rsync rsync -aHS --numeric-ids "rsync://127.0.0.1:$SINGLE_RPORT/tree/" "$SINGLE_WORK/mnt/t/" ;;
		swarmimager)
			mkdir -p "$SINGLE_WORK/mnt/stage" &&
			_single_run swarmimager env TMPDIR="$SINGLE_WORK" si_boel --target "$SINGLE_WORK/mnt/t" \
				--imageserver "127.0.0.1:$SINGLE_RSYNC_PORT" --image single --hostname single \
				--cmdline /dev/null --no-seed-wait --listen 127.0.0.1:0 \
				--staging "$SINGLE_WORK/mnt/stage" ${SI_BENCH_BOEL_OPTS:-} ;;
		esac
		[ -z "${BENCH_KEEP:-}" ] || cp "$SINGLE_WORK/$m.log" "$WORK/single-$m.log" 2>/dev/null
	done
	_single_umount
	_kill_pids "${BENCH_BG_PIDS[@]}"
	BENCH_BG_PIDS=()
	rm -rf "$SINGLE_WORK"
}
