# lib-server.sh - an image server for si_boel tests, made of real,
# independent parts: GNU tar (tarballs), mktorrent (torrents), opentracker
# (whitelist-only tracker), an rsync daemon (modules torrents, overrides,
# scripts, images) and aria2c as the seeder.  Source it after test-lib.sh.
#
#   server_fixture_init           ports and the layout under $SRV
#   fixture_image_tree DIR        a small tree with the usual kinds of entries
#   fixture_pack KIND NAME [DIR]  tar DIR (default $SRV/images/NAME or
#                                 $SRV/overrides/NAME) into
#                                 tarballs/KIND-NAME.tar.gz, plus its torrent
#   fixture_torrent FILE          torrent of a tarball; whitelists it
#   start_server_fixture [RATE]   tracker, rsync daemon, seeder (upload RATE,
#                                 e.g. 2M; default unlimited), seeder.cfg
#   start_tracker / stop_tracker, start_rsyncd / stop_rsyncd,
#   start_seeder [RATE] / stop_seeder
#
# Switching to si_seeder later: start_server_fixture runs
# `si_seeder --base $SRV --address 127.0.0.1 ...` and waits for its ready
# line instead of the three start_* calls (seeder.cfg is then its own).

server_fixture_init() {
	SRV=$TRASH/srv
	mkdir -p "$SRV"/images "$SRV"/overrides "$SRV"/scripts \
		"$SRV"/tarballs "$SRV"/torrents "$SRV"/run || return 1
	TRACKER_PORT=$(free_port) && RSYNC_PORT=$(free_port) &&
	SEEDER_PORT=$(free_port) || return 1
	while [ "$RSYNC_PORT" = "$TRACKER_PORT" ]; do RSYNC_PORT=$(free_port); done
	while [ "$SEEDER_PORT" = "$TRACKER_PORT" ] ||
	      [ "$SEEDER_PORT" = "$RSYNC_PORT" ]; do SEEDER_PORT=$(free_port); done
	IMAGESERVER=127.0.0.1:$RSYNC_PORT
	: >"$SRV/run/whitelist" && chmod 644 "$SRV/run/whitelist"
	export SRV TRACKER_PORT RSYNC_PORT SEEDER_PORT IMAGESERVER
}

# fixture_image_tree DIR [SEED]: files of several sizes, modes and owners,
# a symlink, a hard link, an empty dir, a sparse file.
fixture_image_tree() {
	local d=$1 seed=${2:-1}
	mkdir -p "$d"/etc "$d"/usr/bin "$d"/var/empty "$d"/home/user &&
	echo "root:x:0:0:root:/root:/bin/sh" >"$d/etc/passwd" &&
	echo "image $seed" >"$d/etc/issue" &&
	head -c 300000 /dev/urandom >"$d/usr/bin/tool" &&
	chmod 755 "$d/usr/bin/tool" &&
	ln "$d/usr/bin/tool" "$d/usr/bin/tool-link" &&
	ln -s ../usr/bin/tool "$d/etc/tool.sym" &&
	ln -s /usr/share/zoneinfo/UTC "$d/etc/localtime" &&
	echo secret >"$d/etc/shadow" && chmod 640 "$d/etc/shadow" &&
	echo "user file" >"$d/home/user/notes" &&
	chown -R 1000:1000 "$d/home/user" &&
	chmod 1777 "$d/var/empty" &&
	truncate -s 2M "$d/var/sparse" &&
	printf 'x' | dd of="$d/var/sparse" bs=1 seek=1000000 conv=notrunc 2>/dev/null &&
	touch -d '2020-01-02 03:04:05' "$d/etc/passwd"
}

# fixture_big_tree DIR MB: about MB megabytes of incompressible files.
fixture_big_tree() {
	local d=$1 mb=$2 i
	mkdir -p "$d/data" || return 1
	for i in $(seq 1 "$mb"); do
		head -c 1048576 /dev/urandom >"$d/data/f$i" || return 1
	done
}

# fixture_tar SRCDIR OUT: GNU tar, member paths "etc/passwd" style.
fixture_tar() {
	local src=$1 out=$2
	(cd "$src" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort |
	 tar --numeric-owner --xattrs --acls --sparse -czf "$out" -T -)
}

fixture_pack() {
	local kind=$1 name=$2 src=${3:-}
	if [ -z "$src" ]; then
		if [ "$kind" = image ]; then src=$SRV/images/$name
		else src=$SRV/overrides/$name; fi
	fi
	fixture_tar "$src" "$SRV/tarballs/$kind-$name.tar.gz" &&
	chmod 600 "$SRV/tarballs/$kind-$name.tar.gz" &&
	fixture_torrent "$SRV/tarballs/$kind-$name.tar.gz"
}

fixture_torrent() {
	local f=$1 t
	t=$SRV/torrents/$(basename "$f").torrent
	rm -f "$t"
	mktorrent -d -l 18 -a "http://127.0.0.1:$TRACKER_PORT/announce" \
		-o "$t" "$f" >/dev/null || return 1
	aria2c -S "$t" | awk '/^Info Hash:/ {print $3}' >>"$SRV/run/whitelist"
	[ -n "${TRACKER_PID:-}" ] && kill -HUP "$TRACKER_PID" 2>/dev/null
	return 0
}

_listening() { ss -Htln 2>/dev/null | awk '{print $4}' | grep -q ":$1\$"; }

start_tracker() {
	start_bg tracker opentracker -i 127.0.0.1 -p "$TRACKER_PORT" \
		-P "$TRACKER_PORT" -w "$SRV/run/whitelist" -d / -u nobody &&
	TRACKER_PID=$(cat "$TRASH/tracker.pid") &&
	wait_for 10 _listening "$TRACKER_PORT"
}
stop_tracker() { kill_pid "$TRACKER_PID"; TRACKER_PID=; }

start_rsyncd() {
	cat >"$SRV/run/rsyncd.conf" <<-CONF
	use chroot = no
	uid = 0
	gid = 0
	numeric ids = yes
	max connections = 0
	pid file = $SRV/run/rsyncd.pid
	log file = $SRV/run/rsyncd.log
	transfer logging = yes
	[torrents]
	path = $SRV/torrents
	read only = yes
	[overrides]
	path = $SRV/overrides
	read only = yes
	[scripts]
	path = $SRV/scripts
	read only = yes
	[images]
	path = $SRV/images
	read only = yes
	CONF
	rm -f "$SRV/run/rsyncd.pid"
	start_bg rsyncd rsync --daemon --no-detach --address=127.0.0.1 \
		--port="$RSYNC_PORT" --config="$SRV/run/rsyncd.conf" &&
	RSYNCD_PID=$(cat "$TRASH/rsyncd.pid") &&
	wait_for 10 _listening "$RSYNC_PORT"
}
stop_rsyncd() { kill_pid "$RSYNCD_PID"; RSYNCD_PID=; }

# start_seeder [RATE]: aria2c seeds every torrent from tarballs/.
start_seeder() {
	local rate=${1:-${SEEDER_RATE:-0}}
	start_bg seeder aria2c --enable-dht=false --enable-dht6=false \
		--bt-enable-lpd=false --enable-peer-exchange=true \
		--disable-ipv6=true --listen-port="$SEEDER_PORT" \
		--seed-ratio=0.0 --check-integrity=true \
		--bt-seed-unverified=false --file-allocation=none \
		--max-overall-upload-limit="$rate" --bt-max-peers=0 \
		--summary-interval=0 --console-log-level=notice \
		--auto-save-interval=0 --max-concurrent-downloads=1000 --dir="$SRV/tarballs" \
		$(ls "$SRV"/torrents/*.torrent) &&
	SEEDER_PID=$(cat "$TRASH/seeder.pid") &&
	wait_for 20 _listening "$SEEDER_PORT"
}
stop_seeder() { kill_pid "$SEEDER_PID"; SEEDER_PID=; }

write_seeder_cfg() {
	printf 'BT_SEEDER_PORT=%s\nBT_TRACKER_PORT=%s\n' "$SEEDER_PORT" \
		"$TRACKER_PORT" >"$SRV/torrents/seeder.cfg.tmp" &&
	mv "$SRV/torrents/seeder.cfg.tmp" "$SRV/torrents/seeder.cfg"
}

start_server_fixture() {
	start_tracker && start_rsyncd && start_seeder "${1:-0}" &&
	write_seeder_cfg
}

# boel TARGET [ARGS...]: si_boel with test-friendly defaults; run under
# $BOEL_WRAP (a command and its arguments, e.g. strace ...) when set.
boel() {
	local target=$1; shift
	mkdir -p "$target" &&
	TMPDIR=$TRASH ${BOEL_WRAP-} si_boel --target "$target" --imageserver "$IMAGESERVER" \
		--cmdline /dev/null --listen 127.0.0.1:0 --retry-delay 0.2 \
		--polling-time 1 --linger-max 20 --stall-timeout 30 "$@"
}
