#!/bin/bash
test_description='four qemu VMs boot BOEL, partition and format their blank disks from the image layout, install the image from the swarm, power off'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-boel.sh"

require_root
require_cmd qemu-system-x86_64 dpkg-deb cpio zstd sfdisk losetup partx e2fsck \
	blkid rsync python3 ip timeout opentracker si_seeder si_installbtimage
[ -e /dev/net/tun ] || skip_all "needs /dev/net/tun"
[ -x "$SRC_DIR/boel/si_boel" ] || skip_all "needs si_boel built (make)"

BOEL_DIR=$TRASH/boel
BOEL_VM_MEM=768
BOEL_VM_TIMEOUT=240
B=$TRASH/base
ROOT_UUID=3d0f6a52-8c1e-4b7a-9f20-5e6d7c8b9a01
SWAP_UUID=7e1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b
ROOT_PUUID=0B1C2D3E-4F50-4617-8829-3A4B5C6D7E8F

# The layout si_getimage keeps beside the image (BASE/images/.NAME.disklayout)
# for a 256 MiB disk: GPT, 32 MiB swap, then an ext4 root that may grow.
write_layout() {
	cat >"$1" <<-EOF
	# swarmimager disklayout 1
	host name=gold
	disk dev=/dev/vda size=268435456 sector_size=512 table=gpt id=5A6B7C8D-9E0F-4A1B-8C2D-3E4F5A6B7C8D first_lba=2048 last_lba=524254
	part disk=/dev/vda num=1 dev=/dev/vda1 start=2048 sectors=65536 size=33554432 type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F name=swap grow=0
	part disk=/dev/vda num=2 dev=/dev/vda2 start=67584 sectors=454656 size=232783872 type=0FC63DAF-8483-4772-8E79-3D69D8477DE4 uuid=$ROOT_PUUID name=root grow=1
	fs dev=/dev/vda1 type=swap uuid=$SWAP_UUID mount=swap options=sw
	fs dev=/dev/vda2 type=ext4 uuid=$ROOT_UUID label=root mount=/ options=errors=remount-ro block_size=4096 inode_size=256 features=has_journal,ext_attr,resize_inode,dir_index,filetype,extent,64bit,flex_bg,sparse_super,large_file,huge_file,dir_nlink,extra_isize,metadata_csum
	fstab spec=UUID=$ROOT_UUID file=/ type=ext4 options=errors=remount-ro freq=0 passno=1
	EOF
}

# The image: the usual kinds of entries plus 6 MB of incompressible data,
# so that the nodes have pieces to trade.
make_image() {
	local d=$B/images/img i
	mkdir -p "$d"/etc "$d"/usr/bin "$d"/var/empty "$d"/home/user "$d"/data "$B"/etc &&
	echo "root:x:0:0:root:/root:/bin/sh" >"$d/etc/passwd" &&
	echo "installed by BOEL" >"$d/etc/issue" &&
	head -c 300000 /dev/urandom >"$d/usr/bin/tool" && chmod 755 "$d/usr/bin/tool" &&
	ln "$d/usr/bin/tool" "$d/usr/bin/tool-link" &&
	ln -s ../usr/bin/tool "$d/etc/tool.sym" &&
	echo secret >"$d/etc/shadow" && chmod 640 "$d/etc/shadow" &&
	echo notes >"$d/home/user/notes" && chown -R 1000:1000 "$d/home/user" &&
	chmod 1777 "$d/var/empty" &&
	for i in 1 2 3 4 5 6; do
		head -c 1048576 /dev/urandom >"$d/data/f$i" || return 1
	done &&
	write_layout "$B/images/.img.disklayout" &&
	if [ -n "$have_grub" ]; then make_grub_image "$B/images/grubimg" || return 1; fi &&
	echo "BT_TRACKER_PORT=6969" >"$B/etc/bittorrent.conf" &&
	si_installbtimage --base "$B" --address "$BOEL_SERVER" \
		>pack.out 2>pack.err || { cat pack.err; return 1; }
}

# GRUB for the boot-from-disk check: Debian's grub packages (and the two
# libraries grub-install needs that the host lacks), fetched once with
# apt-get download into a cache as mkboel does; skipped without them.
GRUB_CACHE=${SI_GRUB_CACHE:-/var/cache/swarmimager/grubtest}
GRUB_DEBS="grub-pc-bin grub-common grub2-common libefiboot1 libefivar1"
grub_debs() {
	local p
	mkdir -p "$GRUB_CACHE" || return 1
	for p in $GRUB_DEBS; do
		ls "$GRUB_CACHE/${p}_"*_amd64.deb >/dev/null 2>&1 ||
		(cd "$GRUB_CACHE" && timeout 120 apt-get -q=2 \
			-o APT::Sandbox::User=root download "$p" >/dev/null 2>&1) ||
			return 1
	done
}

# make_grub_image DIR: a tiny system that carries GRUB: the packages
# unpacked, the host's libraries of grub-install and grub-probe, busybox
# as /bin/sh, and an update-grub that writes a grub.cfg printing a marker
# with the UUID of the filesystem GRUB booted from (a stand-in for the
# distribution's grub-mkconfig, which needs a full userland).
make_grub_image() {
	local g=$1 deb lib bb
	mkdir -p "$g"/usr/bin "$g"/usr/sbin "$g"/usr/lib/x86_64-linux-gnu \
		"$g"/usr/lib64 "$g"/boot/grub "$g"/etc "$g"/tmp "$g"/dev \
		"$g"/proc "$g"/sys &&
	for d in bin sbin lib lib64; do ln -s "usr/$d" "$g/$d" || return 1; done &&
	for deb in "$GRUB_CACHE"/*.deb; do dpkg-deb -x "$deb" "$g" || return 1; done &&
	for lib in $(LD_LIBRARY_PATH=$g/usr/lib/x86_64-linux-gnu ldd \
			"$g/usr/sbin/grub-install" "$g/usr/sbin/grub-probe" |
			awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u); do
		case "$lib" in "$g"/*) continue ;; esac
		cp -L "$lib" "$g/usr/lib/x86_64-linux-gnu/$(basename "$lib")" || return 1
	done &&
	cp -L /lib64/ld-linux-x86-64.so.2 "$g/usr/lib64/" &&
	bb=$(ls -1 "$MKBOEL_CACHE"/busybox-static_*.deb | sort -V | tail -n 1) &&
	dpkg-deb -x "$bb" "$TRASH/bbx" && cp "$TRASH/bbx/bin/busybox" "$g/usr/bin/busybox" &&
	ln -s busybox "$g/usr/bin/sh" &&
	rm -f "$g/usr/sbin/update-grub" &&
	cat >"$g/usr/sbin/update-grub" <<-'EOF' &&
	#!/bin/sh
	/usr/bin/busybox cat >/boot/grub/grub.cfg <<'CFG'
	serial --unit=0 --speed=115200
	terminal_input serial
	terminal_output serial
	probe --set=uuid --fs-uuid $root
	echo "swarmimager-grub-marker root=$uuid"
	sleep 1
	halt
	CFG
	EOF
	chmod 755 "$g/usr/sbin/update-grub" &&
	cat >"$B/images/.grubimg.disklayout" <<-EOF
	# swarmimager disklayout 1
	disk dev=/dev/vda size=134217728 sector_size=512 table=gpt
	part disk=/dev/vda num=1 dev=/dev/vda1 start=2048 sectors=2048 size=1048576 type=21686148-6449-6E6F-744E-656564454649 name=bios grow=0
	part disk=/dev/vda num=2 dev=/dev/vda2 start=4096 sectors=225280 size=115343360 type=0FC63DAF-8483-4772-8E79-3D69D8477DE4 grow=1
	fs dev=/dev/vda2 type=ext4 uuid=$GRUB_UUID label=grubroot mount=/
	EOF
}
GRUB_UUID=5f4e3d2c-1b0a-4987-a6b5-c4d3e2f1a0b9
have_grub=
grub_debs && have_grub=1

# The partition table every good node must have (sizes in sectors).
expect_dump() {
	local last=$1
	echo "label: gpt"
	echo "label-id: 5A6B7C8D-9E0F-4A1B-8C2D-3E4F5A6B7C8D"
	echo "p1 : start=2048, size=65536, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=\"swap\""
	echo "p2 : start=67584, size=$(( (last + 1) / 2048 * 2048 - 67584 )), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=$ROOT_PUUID, name=\"root\""
}
normalize_dump() {
	sed -n -e 's/^label: /label: /p' -e 's/^label-id: /label-id: /p' \
		-e 's|^[^ ]*\([0-9]\) : |p\1 : |p' | sed -e 's/= */=/g' \
		-e 's/^\(p1 .*\), uuid=[0-9A-F-]*/\1/'
}

# check_disk NAME: the VM's disk holds the layout and the image.
check_disk() {
	local name=$1 last
	disk_attach "$name.img" &&
	sfdisk --dump "$DISK_DEV" >"$name.dump" &&
	last=$(sed -n 's/^last-lba: //p' "$name.dump") &&
	expect_dump "$last" >"$name.expect" &&
	normalize_dump <"$name.dump" >"$name.layout" &&
	test_cmp "$name.expect" "$name.layout" &&
	e2fsck -fn "${DISK_DEV}p2" >"$name.fsck" 2>&1 &&
	test "$(blkid -p -o value -s UUID "${DISK_DEV}p2")" = $ROOT_UUID &&
	test "$(blkid -p -o value -s UUID "${DISK_DEV}p1")" = $SWAP_UUID &&
	mkdir -p "$name.mnt" &&
	mount -o ro "${DISK_DEV}p2" "$name.mnt" &&
	tree_diff "$B/images/img" "$name.mnt" --exclude etc/swarmimager \
		--exclude etc/fstab --exclude lost+found &&
	grep "^IMAGENAME=img$" "$name.mnt/etc/swarmimager/installed" &&
	grep -P "^UUID=$ROOT_UUID\t/\text4\terrors=remount-ro\t0\t1$" "$name.mnt/etc/fstab" &&
	grep -P "^UUID=$SWAP_UUID\tnone\tswap\tsw\t0\t0$" "$name.mnt/etc/fstab" &&
	umount "$name.mnt" &&
	losetup -d "$DISK_DEV"
}

test_expect_success 'mkboel builds the environment with si_boel' '
	boel_build "$BOEL_DIR" --compress zstd:3 &&
	grep "si_boel from" "$BOEL_DIR/mkboel.out"
'
say "$(cat "$BOEL_DIR/mkboel.out" 2>/dev/null)"

test_expect_success 'image server: si_installbtimage, si_seeder in a namespace' '
	make_image &&
	test -s "$B/tarballs/image-img.tar.gz" &&
	boel_netns &&
	start_bg seeder ip netns exec "$BOEL_NS" si_seeder --base "$B" \
		--address "$BOEL_SERVER" --tracker-port 6969 --rsync-port 873 \
		--bt-port 0 &&
	wait_for_line 30 seeder.log "si_seeder: ready:" &&
	grep "torrents $((1 + ${have_grub:-0}))\$" seeder.log
'

boot="IMAGESERVER=$BOEL_SERVER IMAGENAME=img SI_POST_ACTION=poweroff SI_ERROR_ACTION=poweroff BITTORRENT_POLLING_TIME=10"

test_expect_success 'four VMs install their blank disks from the swarm and power off' '
	for i in 1 2 3 4; do
		truncate -s 256M vm$i.img &&
		boel_vm_start vm$i $i vm$i.img \
			ip=$BOEL_NET.1$i::$BOEL_SERVER:255.255.255.0::eth0:none HOSTNAME=node$i $boot ||
			return 1
	done &&
	boel_vm_wait vm1 vm2 vm3 vm4 &&
	for i in 1 2 3 4; do
		grep "si_boel: mounted /dev/vda2 on /a" vm$i.log &&
		grep "si_boel: installed image img into /a" vm$i.log &&
		grep "boel: powering off" vm$i.log || { tail -n 30 vm$i.log; return 1; }
	done &&
	for i in 1 2 3 4; do check_disk vm$i || return 1; done
'
for i in 1 2 3 4; do
	say "vm$i: boot to poweroff $(cat vm$i.secs 2>/dev/null) s; $(grep -o 'installed image img into /a in [0-9.]* s ([^)]*)' vm$i.log 2>/dev/null)"
done

test_expect_success 'a disk too small for the layout: a clear message, failure, no install' '
	truncate -s 128M small.img &&
	boel_vm_start small 9 small.img ip=$BOEL_NET.19:::24::eth0:none $boot &&
	boel_vm_wait small &&
	grep "si_boel: disk /dev/vda is too small for the layout of /dev/vda: it needs 267403776 bytes (255.0 MiB), /dev/vda has 134217728 bytes (128.0 MiB)" small.log &&
	grep "FAILED after" small.log &&
	grep "boel: failed (exit 1," small.log &&
	grep "boel: powering off" small.log &&
	test -z "$(tr -d "\\000" <small.img | head -c 1)"
'

if [ -z "$have_grub" ]; then
	test_skip "a VM installs GRUB and boots from its disk" "no grub packages in $GRUB_CACHE nor from apt"
else
test_expect_success 'an image with GRUB: installed on the disk, the VM boots from it' '
	truncate -s 128M grub.img &&
	boel_vm_start grub 8 grub.img ip=$BOEL_NET.18::$BOEL_SERVER:255.255.255.0::eth0:none \
		IMAGESERVER=$BOEL_SERVER IMAGENAME=grubimg SI_POST_ACTION=poweroff \
		SI_ERROR_ACTION=poweroff BITTORRENT_SEED_WAIT=n &&
	boel_vm_wait grub &&
	grep "si_boel: installing GRUB (i386-pc) on /dev/vda" grub.log &&
	grep "si_boel: installed image grubimg into /a" grub.log &&
	start_bg diskboot timeout -k 5 120 qemu-system-x86_64 -machine q35 \
		-accel "$QEMU_ACCEL" -m 256 -nographic -no-reboot -nodefaults \
		-serial stdio -drive file=grub.img,if=virtio,format=raw -net none &&
	wait_for_line 100 diskboot.log "swarmimager-grub-marker" &&
	grep -a "swarmimager-grub-marker root=$GRUB_UUID" diskboot.log &&
	kill_pid $(cat diskboot.pid)
'
fi
[ -z "$have_grub" ] || say "grub VM: boot BOEL to poweroff $(cat grub.secs 2>/dev/null) s, then boots from its disk to GRUB's marker"

test_done
