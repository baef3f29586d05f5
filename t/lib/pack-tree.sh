# pack-tree.sh - builds test trees for the t2xxx (tarball/torrent) tests.
# Sourced after test-lib.sh.

# make_rootfs_tree DIR: a tree holding every kind of entry a root file
# system has (needs root for devices and owners).
make_rootfs_tree() {
	local d=$1
	mkdir -p "$d"/etc "$d"/usr/bin "$d"/var/lib/x "$d"/dev "$d"/tmp "$d"/run "$d"/home/u &&
	printf 'root:x:0:0::/root:/bin/sh\n' >"$d"/etc/passwd &&
	: >"$d"/etc/empty &&
	head -c 300000 /dev/urandom >"$d"/usr/bin/prog &&
	seq 1 20000 >"$d"/var/lib/x/numbers &&
	# a large sparse file: data at the start, the middle and the end
	truncate -s 256M "$d"/var/lib/x/sparse &&
	printf 'start' | dd of="$d"/var/lib/x/sparse conv=notrunc status=none &&
	printf 'middle' | dd of="$d"/var/lib/x/sparse bs=1M seek=100 conv=notrunc status=none &&
	printf 'end' | dd of="$d"/var/lib/x/sparse bs=1 seek=$((256*1024*1024 - 3)) conv=notrunc status=none &&
	# hard links, one in the same directory, one across directories
	ln "$d"/usr/bin/prog "$d"/usr/bin/prog-same &&
	ln "$d"/usr/bin/prog "$d"/var/lib/x/prog-across &&
	# symlinks: relative, absolute, dangling, to a directory
	ln -s prog "$d"/usr/bin/rel-link &&
	ln -s /etc/passwd "$d"/etc/abs-link &&
	ln -s ../nowhere/at/all "$d"/etc/dangling &&
	ln -s usr/bin "$d"/bin &&
	# devices and a fifo; a socket (must be skipped with a warning)
	mknod -m 666 "$d"/dev/null c 1 3 &&
	mknod -m 660 "$d"/dev/loop9 b 7 9 &&
	mkfifo -m 600 "$d"/run/fifo &&
	python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$d"/run/sock &&
	# extended attributes and ACLs
	setfattr -n user.comment -v 'hello world' "$d"/etc/passwd &&
	setfattr -n user.bin -v 0x00ff10 "$d"/usr/bin/prog &&
	setfacl -m u:4321:rw,g:4322:r "$d"/etc/empty &&
	setfacl -d -m u:4321:rwx "$d"/var/lib/x &&
	# odd names
	echo space >"$d/home/u/with space" &&
	echo nl >"$d/home/u/new"$'\n'"line" &&
	echo tab >"$d/home/u/tab"$'\t'"name" &&
	echo bin >"$d/home/u/latin1-"$'\xe9\xff' &&
	echo utf8 >"$d/home/u/caf"$'\xc3\xa9' &&
	echo bs >"$d/home/u/back\\slash" &&
	echo dash >"$d/home/u/-" &&
	# modes and owners (numeric, no passwd entries)
	chmod 4755 "$d"/usr/bin/prog &&
	chmod 2711 "$d"/var/lib/x/numbers &&
	chmod 1777 "$d"/tmp &&
	chmod 700 "$d"/home/u &&
	chown -R 54321:54322 "$d"/home/u &&
	chown 7:8 "$d"/etc/empty &&
	chown -h 9:10 "$d"/etc/abs-link &&
	# old times
	touch -d '1980-02-03 04:05:06' "$d"/etc/passwd &&
	touch -h -d '1999-12-31 23:59:59' "$d"/etc/dangling &&
	touch -d '2001-09-09 01:46:40' "$d"/usr/bin/prog
}

# make_small_tree DIR: a few plain files (no root needed).
make_small_tree() {
	local d=$1
	mkdir -p "$d"/etc "$d"/usr/share &&
	echo one >"$d"/etc/one &&
	seq 1 5000 >"$d"/usr/share/numbers &&
	ln -s one "$d"/etc/link
}
