#!/bin/bash
test_description='mkboel builds a self-contained installer environment; bad input fails cleanly'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-boel.sh"

# Root for the shared package cache and chroot.
require_root
require_cmd dpkg-deb cpio zstd xz readelf chroot apt-get

# unpack_initrd IMG DIR: unpacks a zstd or xz newc initramfs.
unpack_initrd() {
	mkdir -p "$2" &&
	case "$(head -c 6 "$1" | od -An -tx1 | tr -d ' ')" in
	28b52ffd*) zstd -dc "$1" ;;
	fd377a585a00) xz -dc "$1" ;;
	*) echo "unknown compression of $1" >&2; return 1 ;;
	esac | (cd "$2" && cpio -id --quiet)
}

test_expect_success 'builds the environment with extra binaries and modules' '
	boel_build out --add /usr/bin/stat --module xfs &&
	grep "^mkboel: kernel .*: vmlinuz [0-9]* bytes, initrd.img [0-9]* bytes (zstd" out/mkboel.out &&
	test "$(od -An -c -j 514 -N 4 out/vmlinuz | tr -d " ")" = HdrS &&
	unpack_initrd out/initrd.img root &&
	! ls out/.*tmp* 2>/dev/null
'
say "$(cat out/mkboel.out 2>/dev/null)"

test_expect_success 'the tree: /init, busybox, merged /usr, real tools over applets' '
	test -x root/init &&
	root/usr/bin/busybox sh -n root/init &&
	root/usr/bin/busybox sh -n root/etc/boel/udhcpc.script &&
	test "$(readlink root/sbin)" = usr/sbin &&
	test "$(readlink root/usr/bin/wget)" = /usr/bin/busybox &&
	test "$(readlink root/usr/sbin/mkfs.ext4)" = mke2fs &&
	test -f root/usr/sbin/mke2fs && ! test -L root/usr/sbin/mke2fs &&
	test -f root/usr/sbin/sfdisk && ! test -L root/usr/sbin/sfdisk &&
	test -f root/usr/bin/stat && ! test -L root/usr/bin/stat &&
	test -f root/usr/bin/rsync
'

# Frozen: each program runs chrooted in the tree, where nothing of the
# host is visible; readelf (not ldd) checks every NEEDED library is there.
test_expect_success 'every program runs inside the tree alone (frozen)' '
	chroot root /usr/sbin/sfdisk --version &&
	chroot root /usr/sbin/mkfs.ext4 -V &&
	chroot root /usr/sbin/blkid -V &&
	chroot root /usr/sbin/mkswap --version &&
	chroot root /usr/bin/rsync --version &&
	chroot root /usr/bin/stat --version | grep -i coreutils &&
	chroot root /usr/bin/busybox true &&
	if [ -e root/usr/sbin/si_boel ]; then
		chroot root /usr/sbin/si_boel --help >/dev/null
	fi &&
	find root -type f | while read -r f; do
		readelf -d "$f" 2>/dev/null | sed -n "s/.*(NEEDED).*\[\(.*\)\]/\1/p" |
		while read -r lib; do
			test -f "root/usr/lib/x86_64-linux-gnu/$lib" ||
			test -f "root/usr/lib64/$lib" ||
				{ echo "$f needs $lib: missing"; exit 1; }
		done || exit 1
	done
'

test_expect_success 'kernel modules with their dependencies and modules.dep' '
	kv=$(ls root/usr/lib/modules) &&
	dep=root/usr/lib/modules/$kv/modules.dep &&
	for m in virtio_pci virtio_blk virtio_net e1000 ahci ext4 vfat xfs; do
		grep -q "/$m.ko:" "$dep" || { echo "no $m"; return 1; }
	done &&
	grep "/ext4.ko:.*jbd2.ko" "$dep" &&
	sed "s/[: ]\+/\n/g" "$dep" | grep . | sort -u | while read -r f; do
		test -f "root/usr/lib/modules/$kv/$f" || { echo "missing $f"; exit 1; }
	done &&
	grep -x ext4 root/etc/boel/modules && grep -x xfs root/etc/boel/modules
'

test_expect_success '--offline, xz, --include: builds from the cache alone' '
	mkdir -p extra/etc/boel &&
	echo "echo local" >extra/etc/boel/local.sh &&
	boel_build xzout --offline --no-si-boel --compress xz:1 --include extra &&
	grep "(xz;" xzout/mkboel.out &&
	xz -t xzout/initrd.img &&
	cmp out/vmlinuz xzout/vmlinuz &&
	unpack_initrd xzout/initrd.img xzroot &&
	test -x xzroot/init && ! test -e xzroot/usr/sbin/si_boel &&
	test_cmp extra/etc/boel/local.sh xzroot/etc/boel/local.sh
'

test_expect_success 'usage errors exit 2 with one line and a hint' '
	expect_exit 2 mkboel --bogus 2>err &&
	grep "^mkboel: unknown option .--bogus.$" err &&
	expect_exit 2 mkboel --compress lzma 2>err &&
	grep "^mkboel: unknown compression .lzma." err &&
	expect_exit 2 mkboel -o 2>err &&
	grep "needs an argument" err &&
	expect_exit 2 mkboel extra 2>err &&
	grep "unexpected argument" err &&
	expect_exit 0 mkboel --help >help &&
	grep "^Usage: mkboel" help
'

test_expect_success 'failures exit 1, say why, and leave the output untouched' '
	cp out/initrd.img keep.img &&
	expect_exit 1 mkboel -o out --cache "$MKBOEL_CACHE" --add /nonexistent/prog 2>err &&
	grep "^mkboel: cannot add ./nonexistent/prog.: not an executable file$" err &&
	expect_exit 1 mkboel -o out --cache "$MKBOEL_CACHE" --module no_such_module 2>err &&
	grep "^mkboel: cannot find kernel module .no_such_module." err &&
	expect_exit 1 mkboel -o out --cache "$MKBOEL_CACHE" --offline \
		--kernel-version 9.9.9-99-amd64 2>err &&
	grep "^mkboel: cannot find package .linux-image-9.9.9-99-amd64." err &&
	expect_exit 1 mkboel -o out --si-boel /nonexistent/si_boel 2>err &&
	grep "^mkboel: cannot find si_boel" err &&
	expect_exit 1 mkboel -o "$TRASH/nodir" 2>err &&
	grep "^mkboel: cannot use output directory" err &&
	cmp keep.img out/initrd.img &&
	! ls out/.*tmp* 2>/dev/null
'

test_done
