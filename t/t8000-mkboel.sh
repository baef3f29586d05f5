#!/bin/bash
test_description='mkboel builds a self-contained installer environment; bad input fails cleanly'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-boel.sh"

# Root for the shared package cache and chroot.
require_root
require_cmd dpkg-deb cpio zstd xz readelf chroot apt-get

# unpack_cat IMG: writes the cpio archive of a zstd or xz initramfs.
unpack_cat() {
	case "$(head -c 6 "$1" | od -An -tx1 | tr -d ' ')" in
	28b52ffd*) zstd -dc "$1" ;;
	fd377a585a00) xz -dc "$1" ;;
	*) echo "unknown compression of $1" >&2; return 1 ;;
	esac
}

# unpack_initrd IMG DIR: unpacks a zstd or xz newc initramfs.
unpack_initrd() {
	mkdir -p "$2" &&
	unpack_cat "$1" | (cd "$2" && cpio -id --quiet)
}

# mib FILE: the size of FILE as mkboel prints it.
mib() { stat -c %s "$1" | awk '{ printf "%.1f MiB", $1 / 1048576 }'; }

test_expect_success 'builds the environment with extra binaries and modules' '
	boel_build out --add /usr/bin/stat --module xfs &&
	grep "^mkboel: kernel .*: vmlinuz [0-9.]* MiB, initrd.img [0-9.]* MiB (zstd, [0-9.]* MiB unpacked), total [0-9.]* MiB; [0-9]* modules ([0-9]* hardware drivers), [0-9]* firmware files" out/mkboel.out &&
	grep -F "vmlinuz $(mib out/vmlinuz), initrd.img $(mib out/initrd.img) (" out/mkboel.out &&
	test "$(od -An -c -j 514 -N 4 out/vmlinuz | tr -d " ")" = HdrS &&
	unpack_initrd out/initrd.img root &&
	! ls out/.*tmp* 2>/dev/null
'
say "$(cat out/mkboel.out 2>/dev/null)"

# The budget: initrd.img (zstd:19, the default drivers and firmware) at
# most 32 MiB, and its unpacked tree, which a node holds in RAM for the
# whole installation, at most 128 MiB (see mkboel(8), SIZE).  This build
# has xfs and stat beyond the defaults, so a default one is smaller still.
test_expect_success 'initrd.img and its unpacked tree stay within the budget' '
	isize=$(stat -c %s out/initrd.img) &&
	usize=$(du -sb root | cut -f1) &&
	echo "initrd.img $isize bytes, unpacked $usize bytes" &&
	test "$isize" -le $((32 * 1024 * 1024)) &&
	test "$usize" -le $((128 * 1024 * 1024))
'

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

# The drivers of common servers' NICs and storage controllers, by file
# name in the archive as cpio lists it.
SERVER_DRIVERS="igb igc e1000e ixgbe i40e ice bnxt_en tg3 bnx2 bnx2x mlx4_en
	mlx5_core qede be2net cxgb4 ena vmxnet3 hv_netvsc xen-netfront virtio_net
	megaraid_sas mpt3sas hpsa smartpqi aacraid vmw_pvscsi hv_storvsc
	xen-blkfront virtio_blk virtio_scsi nvme ahci sd_mod"

test_expect_success 'the server NIC and storage drivers are in the archive' '
	unpack_cat out/initrd.img | cpio -t --quiet >list &&
	for m in $SERVER_DRIVERS; do
		grep -q "^usr/lib/modules/[^/]*/kernel/.*/$m\.ko$" list ||
			{ echo "no $m in initrd.img"; return 1; }
	done &&
	kv=$(ls root/usr/lib/modules) &&
	grep -q "^alias pci:v00008086d00001533.* igb$" root/usr/lib/modules/$kv/modules.alias &&
	grep -q "^alias pci:v00001000d00000097.* mpt3sas$" root/usr/lib/modules/$kv/modules.alias
'

# /init loads the hardware drivers by modalias (so a VM does not get forty
# of them); the modules by name are those that have no device.
test_expect_success 'hardware drivers are loaded by modalias, the rest by name' '
	grep -x igb root/etc/boel/drivers && grep -x megaraid_sas root/etc/boel/drivers &&
	grep -x xen_blkfront root/etc/boel/drivers &&
	! grep -x igb root/etc/boel/modules && ! grep -x virtio_net root/etc/boel/modules &&
	grep -x sd_mod root/etc/boel/modules && grep -x xfs root/etc/boel/modules &&
	grep -q "find /sys/devices -name modalias" root/init &&
	grep -q "modprobe -q -a" root/init
'

# readelf, not what mkboel uses, reads what each module declares.
declared_firmware() {
	find root/usr/lib/modules -name "*.ko" -exec readelf -p .modinfo {} + |
		sed -n "s/^ *\[ *[0-9a-f]*\] *firmware=//p" | sort -u
}

if grep -q "firmware.*\(unavailable\|left out\)" out/mkboel.err 2>/dev/null; then
	test_skip 'the declared firmware files, from the firmware packages' \
		"$(grep -m 1 firmware out/mkboel.err)"
else
test_expect_success 'the declared firmware files, from the firmware packages' '
	declared_firmware >declared &&
	(cd root/usr/lib/firmware && find . -type f | sed "s|^\./||" | sort) >copied &&
	comm -13 declared copied >undeclared &&
	test_cmp /dev/null undeclared &&
	for f in tigon/tg3.bin bnx2/bnx2-mips-09-6.2.1b.fw bnx2x/bnx2x-e2-7.13.21.0.fw \
		cxgb4/t6fw.bin qed/qed_init_values_zipped-8.59.1.0.bin intel/ice/ddp/ice.pkg; do
		grep -qx "$f" declared || continue
		grep -qx "$f" copied || { echo "no $f"; return 1; }
	done &&
	grep -qx tigon/tg3.bin copied &&
	test "$(wc -l <copied)" -eq "$(sed -n "s/.* \([0-9]*\) firmware files.*/\1/p" out/mkboel.out)" &&
	deb=$(ls "$MKBOEL_CACHE"/firmware-misc-nonfree_*.deb | sort -V | tail -n 1) &&
	dpkg-deb -x "$deb" fwpkg &&
	cmp fwpkg/lib/firmware/intel/ice/ddp/ice.pkg root/usr/lib/firmware/intel/ice/ddp/ice.pkg &&
	cmp fwpkg/lib/firmware/tigon/tg3.bin root/usr/lib/firmware/tigon/tg3.bin
'
fi

test_expect_success '--offline, xz, --include, --no-firmware: builds from the cache alone' '
	mkdir -p extra/etc/boel &&
	echo "echo local" >extra/etc/boel/local.sh &&
	boel_build xzout --offline --no-si-boel --compress xz:1 --include extra \
		--firmware --no-firmware &&
	grep "(xz," xzout/mkboel.out &&
	grep " 0 firmware files" xzout/mkboel.out &&
	xz -t xzout/initrd.img &&
	cmp out/vmlinuz xzout/vmlinuz &&
	unpack_initrd xzout/initrd.img xzroot &&
	test -x xzroot/init && ! test -e xzroot/usr/sbin/si_boel &&
	! test -e xzroot/usr/lib/firmware &&
	test -f xzroot/usr/lib/modules/*/kernel/drivers/net/ethernet/broadcom/tg3.ko &&
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
