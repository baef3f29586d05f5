#!/bin/bash
test_description='si_installbtimage: every file type survives pack + GNU tar extraction'
. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIR"/lib/pack-tree.sh
require_root
require_cmd tar zstd setfacl setfattr python3

B=$TRASH/base
IMG=$B/images/rootfs
TAR_X() { tar --numeric-owner --xattrs --xattrs-include='*' --acls -xpf "$@"; }

test_expect_success 'build a tree with every kind of entry' '
	make_rootfs_tree "$IMG" &&
	mkdir -p "$B"/overrides/site/etc &&
	echo override >"$B"/overrides/site/etc/motd &&
	chmod 700 "$B"/overrides/site
'

test_expect_success 'pack it (gzip by default), socket skipped with a warning' '
	si_installbtimage --base "$B" --address 127.0.0.1 >out 2>err &&
	cat out err &&
	grep -q "^image-rootfs.tar.gz packed size=[0-9]* entries=[0-9]* info-hash=[0-9a-f]\{40\}$" out &&
	grep -q "^override-site.tar.gz packed " out &&
	grep -q "warning: skipping socket .*run/sock" err &&
	test -f "$B"/tarballs/image-rootfs.tar.gz &&
	test -f "$B"/tarballs/image-rootfs.manifest &&
	test -f "$B"/torrents/image-rootfs.tar.gz.torrent
'

test_expect_success 'tarballs are mode 0600, member paths relative' '
	test "$(stat -c %a "$B"/tarballs/image-rootfs.tar.gz)" = 600 &&
	test "$(stat -c %a "$B"/tarballs/override-site.tar.gz)" = 600 &&
	tar -tf "$B"/tarballs/image-rootfs.tar.gz >list &&
	! grep -q "^/" list && ! grep -q "^\./." list &&
	grep -qx "etc/passwd" list && grep -qx "usr/bin/prog" list &&
	tar -tvf "$B"/tarballs/image-rootfs.tar.gz >listv &&
	grep -q "^-rwsr-xr-x 0/0 .* usr/bin/prog$" listv &&
	grep -q "^h.* var/lib/x/prog-across link to usr/bin/prog$" listv &&
	grep -q "^crw-rw-rw- 0/0 *1,3 .* dev/null$" listv &&
	grep -q "^-rw-r--r-- 7/8 .* etc/empty$" listv &&
	! grep -q "run/sock" list
'

test_expect_success 'hard links are stored once' '
	# prog is 300000 random bytes: stored once the gzip stays < 2 copies
	test $(stat -c %s "$B"/tarballs/image-rootfs.tar.gz) -lt 500000 &&
	test $(grep -c "link to usr/bin/prog$" listv) = 2
'

test_expect_success 'GNU tar extracts a tree identical to the image' '
	mkdir x && TAR_X "$B"/tarballs/image-rootfs.tar.gz -C x &&
	tree_diff --exclude run/sock "$IMG" x &&
	test "$(stat -c %a x)" = "$(stat -c %a "$IMG")"
'

test_expect_success 'extracted details: sparse, ACL, xattr, names' '
	test $(stat -c %b x/var/lib/x/sparse) -lt 1024 &&
	getfacl -n x/etc/empty | grep -q "^user:4321:rw-" &&
	getfacl -n x/var/lib/x | grep -q "^default:user:4321:rwx" &&
	test "$(getfattr --only-values -n user.comment x/etc/passwd)" = "hello world" &&
	test -f "x/home/u/new"$'"'"'\n'"'"'"line" &&
	test -f "x/home/u/latin1-"$'"'"'\xe9\xff'"'"'
'

test_expect_success 'the manifest matches the tree (independent check)' '
	python3 "$TEST_DIR"/lib/manifest-check.py "$IMG" "$B"/tarballs/image-rootfs.manifest &&
	python3 "$TEST_DIR"/lib/manifest-check.py --no-root "$B"/overrides/site "$B"/tarballs/override-site.manifest &&
	test "$(stat -c %a "$B"/tarballs/image-rootfs.manifest)" = 600
'

test_expect_success 'manifest lines for a few entries, by hand' '
	M="$B"/tarballs/image-rootfs.manifest &&
	head -n 1 "$M" | grep -qx "# swarmimager manifest 1" &&
	sum=$(sha256sum "$IMG"/usr/bin/prog | cut -d" " -f1) &&
	mt=$(stat -c %Y "$IMG"/usr/bin/prog) &&
	grep -qxF "usr/bin/prog	f	4755	0	0	300000	$mt	$sum	-" "$M" &&
	grep -qx "usr/bin/prog-same	h	4755	0	0	300000	$mt	-	usr/bin/prog" "$M" &&
	grep -qx "var/lib/x/prog-across	h	.*	usr/bin/prog" "$M" &&
	grep -qx "etc/passwd	f	0644	0	0	26	318398706	$(sha256sum <"$IMG"/etc/passwd | cut -d" " -f1)	-" "$M" &&
	grep -qx "etc/dangling	l	0777	0	0	0	946684799	-	../nowhere/at/all" "$M" &&
	grep -qx "dev/loop9	b	0660	0	0	0	[0-9]*	-	7:9" "$M" &&
	grep -qx "run/fifo	p	0600	.*	-	-" "$M" &&
	grep -qx "tmp	d	1777	0	0	0	[0-9]*	-	-" "$M" &&
	grep -qF "home/u/new\nline	f	0644	54321	54322	3	" "$M" &&
	grep -qF "home/u/latin1-\351\377	f	" "$M" &&
	grep -qF "home/u/back\\\\slash	f	" "$M" &&
	grep -qF "home/u/tab\tname	f	" "$M" &&
	! grep -q "run/sock" "$M" &&
	sz=$(stat -c %s "$IMG"/var/lib/x/sparse) &&
	grep -q "^var/lib/x/sparse	f	0644	0	0	$sz	[0-9]*	$(sha256sum <"$IMG"/var/lib/x/sparse | cut -d" " -f1)	-$" "$M"
'

test_expect_success 'the override tarball has no root entry' '
	tar -tf "$B"/tarballs/override-site.tar.gz >olist &&
	test_cmp - olist <<-EOT
	etc/
	etc/motd
	EOT
'

test_expect_success 'mount points inside an image are not crossed' '
	M=$B/images/mounts &&
	mkdir -p "$M"/mnt "$M"/etc && echo x >"$M"/etc/x &&
	mount -t tmpfs -o size=1m si-test-$TEST_UID "$M"/mnt &&
	test_atexit "umount \"$M/mnt\"" &&
	echo inside >"$M"/mnt/inside && mkdir "$M"/mnt/d &&
	si_installbtimage --base "$B" --address 127.0.0.1 --images mounts -v >out 2>err &&
	grep -q "not crossing the mount point .*mnt" err &&
	tar -tf "$B"/tarballs/image-mounts.tar.gz >mlist &&
	grep -qx "mnt/" mlist && grep -qx "etc/x" mlist &&
	! grep -q "inside\|mnt/d" mlist &&
	grep -q "^mnt	d	" "$B"/tarballs/image-mounts.manifest &&
	umount "$M"/mnt
'

test_expect_success 'zstd variant extracts with GNU tar --zstd' '
	si_installbtimage --base "$B" --address 127.0.0.1 --images rootfs --compress zstd >out &&
	grep -q "^image-rootfs.tar.zst packed" out &&
	zstd -t -q "$B"/tarballs/image-rootfs.tar.zst &&
	test ! -e "$B"/tarballs/image-rootfs.tar.gz &&
	test ! -e "$B"/torrents/image-rootfs.tar.gz.torrent &&
	test -f "$B"/torrents/image-rootfs.tar.zst.torrent &&
	rm -rf x && mkdir x && TAR_X "$B"/tarballs/image-rootfs.tar.zst --zstd -C x &&
	tree_diff --exclude run/sock "$IMG" x
'

test_expect_success 'uncompressed variant extracts with GNU tar' '
	si_installbtimage --base "$B" --address 127.0.0.1 --images rootfs --compress=none >out &&
	grep -q "^image-rootfs.tar packed" out &&
	test "$(head -c 262 "$B"/tarballs/image-rootfs.tar | tail -c 5)" = ustar &&
	rm -rf x && mkdir x && TAR_X "$B"/tarballs/image-rootfs.tar -C x &&
	tree_diff --exclude run/sock "$IMG" x
'

test_expect_success 'BT_COMPRESS in bittorrent.conf; a bare --compress means gzip' '
	mkdir -p "$B"/etc && echo BT_COMPRESS=zstd >"$B"/etc/bittorrent.conf &&
	si_installbtimage --base "$B" --address 127.0.0.1 --images rootfs >out &&
	grep -q "^image-rootfs.tar.zst packed" out &&
	si_installbtimage --base "$B" --address 127.0.0.1 --images rootfs --compress >out &&
	grep -q "^image-rootfs.tar.gz packed" out &&
	test ! -e "$B"/tarballs/image-rootfs.tar.zst
'

test_done
