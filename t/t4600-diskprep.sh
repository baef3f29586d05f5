#!/bin/bash
test_description='si_boel --prepare-disks: partitions, filesystems, mounts and fstab from a recorded layout, on loop devices'
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-server.sh"
require_root
require_cmd rsync opentracker mktorrent aria2c python3 sfdisk losetup partx \
	blkid e2fsck mkfs.ext4 mkswap mkfs.fat fsck.fat debugfs dumpe2fs

EXT4_FEATURES=has_journal,ext_attr,resize_inode,dir_index,filetype,extent,64bit,flex_bg,sparse_super,large_file,huge_file,dir_nlink,extra_isize,metadata_csum
GPT_ID=4B6A8E3C-1D2E-4F50-8A9B-0C1D2E3F4A5B
SWAP_PUUID=11111111-2222-4333-8444-555555555555
ROOT_PUUID=66666666-7777-4888-9999-AAAAAAAAAAAA
ROOT_UUID=0c6b1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3
SWAP_UUID=9a8b7c6d-5e4f-4321-8765-0fedcba98765
VAR_UUID=1b2c3d4e-5f60-4718-9a2b-3c4d5e6f7081

# GPT: 8 MiB swap, then root (32 MiB recorded, grows to fill the disk).
write_gpt_layout() {
	cat >"$1" <<-EOF
	# swarmimager disklayout 1
	host name=gold
	disk dev=/dev/vda size=50331648 sector_size=512 table=gpt id=$GPT_ID first_lba=2048 last_lba=98270
	part disk=/dev/vda num=1 dev=/dev/vda1 start=2048 sectors=16384 size=8388608 type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F uuid=$SWAP_PUUID name=swap grow=0
	part disk=/dev/vda num=2 dev=/dev/vda2 start=18432 sectors=65536 size=33554432 type=0FC63DAF-8483-4772-8E79-3D69D8477DE4 uuid=$ROOT_PUUID name=root\\040fs grow=1
	fs dev=/dev/vda1 type=swap uuid=$SWAP_UUID label=sw mount=swap options=sw version=1
	fs dev=/dev/vda2 type=ext4 uuid=$ROOT_UUID label=root mount=/ options=errors=remount-ro version=1.0 block_size=4096 inode_size=256 features=$EXT4_FEATURES,needs_recovery
	mount path=/ type=ext4 source=/dev/vda2 options=rw,relatime local=1
	fstab spec=UUID=$ROOT_UUID file=/ type=ext4 options=errors=remount-ro freq=0 passno=1
	fstab spec=UUID=$SWAP_UUID file=none type=swap options=sw freq=0 passno=0
	fstab spec=tmpfs file=/tmp type=tmpfs options=size=10% freq=0 passno=0
	EOF
}

# MBR: bootable root, a FAT32 /boot/efi, an extended partition holding
# /var (a logical partition, mounted deeper); no swap.
# The FAT filesystem is mounted only where the kernel can (vfat module).
EFI_MOUNT=
if grep -qw vfat /proc/filesystems || modprobe vfat 2>/dev/null; then
	EFI_MOUNT="mount=/boot/efi options=umask=0077"
fi
write_mbr_layout() {
	cat >"$1" <<-EOF
	# swarmimager disklayout 1
	disk dev=/dev/sda size=50331648 sector_size=512 table=dos id=0x1234abcd
	part disk=/dev/sda num=1 dev=/dev/sda1 start=2048 sectors=40960 size=20971520 type=83 bootable=1
	part disk=/dev/sda num=2 dev=/dev/sda2 start=43008 sectors=73728 size=37748736 type=ef
	part disk=/dev/sda num=3 dev=/dev/sda3 start=116736 sectors=40960 size=20971520 type=5 grow=1
	part disk=/dev/sda num=5 dev=/dev/sda5 start=118784 sectors=38912 size=19922944 type=83 grow=1
	fs dev=/dev/sda1 type=ext4 label=mbrroot mount=/ options=defaults
	fs dev=/dev/sda2 type=vfat uuid=ABCD-1234 label=EFI $EFI_MOUNT version=FAT32
	fs dev=/dev/sda5 type=ext4 uuid=$VAR_UUID mount=/var options=noatime
	EOF
}

# new_disk NAME SIZE: a loop device over a sparse file NAME.img, with
# partition scanning; DISK_DEV names it; detached at exit.
new_disk() {
	truncate -s "$2" "$1.img" &&
	DISK_DEV=$(losetup -P --show -f "$1.img") || return 1
	test_atexit "losetup -d $DISK_DEV"
}

# part N: the partition device N of $DISK_DEV.
part() { echo "${DISK_DEV}p$1"; }

# check_tree DEV [VARDEV]: the filesystem holds the image (and our fstab).
check_tree() {
	mkdir -p mnt &&
	mount -o ro "$1" mnt && test_atexit "umount $TRASH/mnt" &&
	if [ -n "${2:-}" ]; then
		mount -o ro "$2" mnt/var && test_atexit "umount $TRASH/mnt/var"
	fi &&
	tree_diff "$SRV/images/img" mnt --exclude etc/swarmimager \
		--exclude etc/fstab --exclude lost+found --exclude var/lost+found \
		--exclude boot &&
	grep "^IMAGENAME=img$" mnt/etc/swarmimager/installed &&
	cp mnt/etc/fstab fstab.out &&
	if [ -n "${2:-}" ]; then umount mnt/var; fi &&
	umount mnt
}

test_expect_success 'server fixture with an image and its layout' '
	server_fixture_init &&
	fixture_image_tree "$SRV/images/img" &&
	fixture_pack image img &&
	write_gpt_layout "$SRV/images/.img.disklayout" &&
	fixture_image_tree "$SRV/images/efiimg" &&
	mkdir -p "$SRV/images/efiimg/boot/efi/EFI/gold" &&
	echo "configfile (hd0,gpt2)/boot/grub/grub.cfg" >"$SRV/images/efiimg/boot/efi/EFI/gold/grub.cfg" &&
	fixture_pack image efiimg &&
	start_server_fixture
'

test_expect_success 'GPT: swap and a growing ext4 root, then the image' '
	new_disk gpt 64M &&
	mkdir -p t1 &&
	boel t1 --image img --no-seed-wait --prepare-disks --disks $DISK_DEV \
		>out1 2>err1; rc=$?; cat out1 err1;
	test $rc -eq 0 &&
	grep "installed image img" out1 &&
	! grep -q " $TRASH/t1" /proc/self/mounts &&
	sfdisk --dump $DISK_DEV >dump1 && cat dump1 &&
	grep "^label: gpt$" dump1 &&
	grep "^label-id: $GPT_ID$" dump1 &&
	grep "^$(part 1) : start= *2048, size= *16384, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, uuid=$SWAP_PUUID, name=\"swap\"$" dump1 &&
	last=$(sed -n "s/^last-lba: //p" dump1) &&
	grep "^$(part 2) : start= *18432, size= *$(( (last + 1) / 2048 * 2048 - 18432 )), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=$ROOT_PUUID, name=\"root fs\"$" dump1 &&
	e2fsck -fn $(part 2) &&
	test "$(blkid -p -o value -s UUID $(part 2))" = $ROOT_UUID &&
	test "$(blkid -p -o value -s LABEL $(part 2))" = root &&
	test "$(blkid -p -o value -s TYPE $(part 1))" = swap &&
	test "$(blkid -p -o value -s UUID $(part 1))" = $SWAP_UUID &&
	dumpe2fs -h $(part 2) 2>/dev/null | grep -E "^Inode size:[[:space:]]*256$" &&
	check_tree $(part 2) &&
	cat fstab.out &&
	grep -P "^UUID=$ROOT_UUID\t/\text4\terrors=remount-ro\t0\t1$" fstab.out &&
	grep -P "^UUID=$SWAP_UUID\tnone\tswap\tsw\t0\t0$" fstab.out &&
	grep -P "^tmpfs\t/tmp\ttmpfs\tsize=10%\t0\t0$" fstab.out &&
	test $(grep -c "^UUID=" fstab.out) = 2
'

test_expect_success 'MBR from --disklayout: extended and logical partitions, /var mounted under /' '
	write_mbr_layout mbr.layout &&
	new_disk mbr 96M &&
	mkdir -p t2 &&
	boel t2 --image img --no-seed-wait --disklayout mbr.layout \
		--disks $DISK_DEV >out2 2>err2; rc=$?; cat out2 err2;
	test $rc -eq 0 &&
	sfdisk --dump $DISK_DEV >dump2 && cat dump2 &&
	grep "^label: dos$" dump2 &&
	grep "^label-id: 0x1234abcd$" dump2 &&
	grep "^$(part 1) : start= *2048, size= *40960, type=83, bootable$" dump2 &&
	grep "^$(part 2) : start= *43008, size= *73728, type=ef$" dump2 &&
	grep "^$(part 3) : start= *116736, size= *79872, type=5$" dump2 &&
	grep "^$(part 5) : start= *118784, size= *77824, type=83$" dump2 &&
	test "$(blkid -p -o value -s UUID $(part 2))" = ABCD-1234 &&
	test "$(blkid -p -o value -s VERSION $(part 2))" = FAT32 &&
	test "$(blkid -p -o value -s LABEL $(part 2))" = EFI &&
	fsck.fat -n $(part 2) &&
	e2fsck -fn $(part 1) && e2fsck -fn $(part 5) &&
	test "$(blkid -p -o value -s LABEL $(part 1))" = mbrroot &&
	test "$(blkid -p -o value -s UUID $(part 5))" = $VAR_UUID &&
	grep "mounted $(part 5) on $TRASH/t2/var" err2 &&
	check_tree $(part 1) $(part 5) &&
	rootuuid=$(blkid -p -o value -s UUID $(part 1)) &&
	grep -P "^UUID=$rootuuid\t/\text4\tdefaults\t0\t1$" fstab.out &&
	grep -P "^UUID=$VAR_UUID\t/var\text4\tnoatime\t0\t2$" fstab.out &&
	if [ -n "$EFI_MOUNT" ]; then
		grep -P "^UUID=ABCD-1234\t/boot/efi\tvfat\tumask=0077\t0\t0$" fstab.out
	else
		! grep ABCD-1234 fstab.out
	fi
'

test_expect_success 'a failure after the disks are ready: unmounted cleanly, no completion record' '
	new_disk late 64M &&
	mkdir -p t7 &&
	boel t7 --image img --no-seed-wait --prepare-disks --disks $DISK_DEV \
		--overrides nosuch >out7 2>err7; rc=$?; cat out7 err7;
	test $rc -eq 1 &&
	grep "override .nosuch. (from OVERRIDES) is not on the server" err7 &&
	grep "no completion record" out7 &&
	! test -e t7/etc &&
	e2fsck -fn $(part 2) &&
	debugfs -R "stat /etc/issue" $(part 2) 2>/dev/null | grep -q "Size: 8" &&
	! debugfs -R "stat /etc/swarmimager/installed" $(part 2) 2>&1 | grep -q "Inode:"
'

test_expect_success 'a disk too small for the layout: refused, left untouched' '
	new_disk small 24M &&
	printf "label: dos\n,8M,83\n" | sfdisk -q $DISK_DEV &&
	sfdisk --dump $DISK_DEV >before3 &&
	mkdir -p t3 &&
	boel t3 --image img --no-seed-wait --prepare-disks --disks $DISK_DEV \
		>out3 2>err3; rc=$?; cat out3 err3;
	test $rc -eq 1 &&
	grep "si_boel: disk $DISK_DEV is too small for the layout of /dev/vda: it needs 43008512 bytes (41.0 MiB), $DISK_DEV has 25165824 bytes (24.0 MiB)" err3 &&
	grep "no completion record" out3 &&
	sfdisk --dump $DISK_DEV >after3 &&
	test_cmp before3 after3 &&
	! test -e t3/etc/swarmimager/installed &&
	! grep -q "$DISK_DEV" /proc/self/mounts
'

test_expect_success 'a mounted disk is refused' '
	new_disk busy 64M &&
	printf "label: dos\n,,83\n" | sfdisk -q $DISK_DEV &&
	{ test -b $(part 1) || partx -a $DISK_DEV; } &&
	mkfs.ext4 -q $(part 1) && mkdir -p busy && mount $(part 1) busy &&
	test_atexit "umount $TRASH/busy" &&
	mkdir -p t4 &&
	boel t4 --image img --no-seed-wait --prepare-disks --disks $DISK_DEV \
		>out4 2>err4; rc=$?; cat err4;
	test $rc -eq 1 &&
	grep "si_boel: refusing to touch disk $DISK_DEV: it is mounted (on .$TRASH/busy.)" err4 &&
	umount busy && e2fsck -fn $(part 1)
'

test_expect_success 'without a layout on the server: DISKS=auto installs into the target as it is, DISKS=yes fails' '
	mv "$SRV/images/.img.disklayout" img.layout &&
	mkdir -p t5 &&
	boel t5 --image img --no-seed-wait --set DISKS=auto >out5 2>err5;
	rc=$?; cat err5; test $rc -eq 0 &&
	grep "no disk layout for image img on the server" err5 &&
	expect_exit 1 boel t5b --image img --no-seed-wait --prepare-disks >out5b 2>err5b;
	rc=$?; mv img.layout "$SRV/images/.img.disklayout"; cat err5b; test $rc = 0 &&
	grep "si_boel: no disk layout for image img on .$IMAGESERVER. (no images/.img.disklayout)" err5b &&
	tree_diff "$SRV/images/img" t5 --exclude etc/swarmimager
'

# Boot layouts on one GPT disk: BIOS (a BIOS boot partition), UEFI (an
# ESP at /boot/efi).
BIOSBOOT=21686148-6449-6E6F-744E-656564454649
ESP=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
LINUX=0FC63DAF-8483-4772-8E79-3D69D8477DE4
write_bios_layout() {
	cat >"$1" <<-EOF
	# swarmimager disklayout 1
	host name=gold firmware=bios
	disk dev=/dev/vda size=50331648 sector_size=512 table=gpt
	part disk=/dev/vda num=1 dev=/dev/vda1 start=2048 sectors=2048 size=1048576 type=$BIOSBOOT name=bios grow=0
	part disk=/dev/vda num=2 dev=/dev/vda2 start=4096 sectors=65536 size=33554432 type=$LINUX grow=1
	fs dev=/dev/vda2 type=ext4 uuid=$ROOT_UUID mount=/
	EOF
}
ESP_UUID=5A5A-0001
write_uefi_layout() {
	cat >"$1" <<-EOF
	# swarmimager disklayout 1
	host name=gold firmware=uefi
	disk dev=/dev/vda size=50331648 sector_size=512 table=gpt
	part disk=/dev/vda num=1 dev=/dev/vda1 start=2048 sectors=32768 size=16777216 type=$ESP name=EFI\\040system grow=0
	part disk=/dev/vda num=2 dev=/dev/vda2 start=34816 sectors=65536 size=33554432 type=$LINUX grow=1
	fs dev=/dev/vda1 type=vfat uuid=$ESP_UUID mount=/boot/efi options=umask=0077 version=FAT16
	fs dev=/dev/vda2 type=ext4 uuid=$ROOT_UUID mount=/
	EOF
}

test_expect_success 'a UEFI node and a BIOS-only layout: refused before the disk is touched' '
	write_bios_layout bios.layout &&
	new_disk fwbios 64M &&
	printf "label: dos\n,8M,83\n" | sfdisk -q $DISK_DEV &&
	sfdisk --dump $DISK_DEV >before8 &&
	mkdir -p t8 &&
	boel t8 --image img --no-seed-wait --disklayout bios.layout \
		--disks $DISK_DEV --set SI_FIRMWARE=uefi >out8 2>err8; rc=$?; cat out8 err8;
	test $rc -eq 1 &&
	grep "si_boel: this node boots with UEFI firmware (SI_FIRMWARE)" err8 &&
	grep "si_boel: cannot install for this node.s UEFI firmware: the layout of gold (recorded firmware=bios, a BIOS boot partition) has no EFI system partition (type $ESP, or ef on DOS, with vfat); boot the node in legacy BIOS mode, capture a golden client that has an ESP mounted at /boot/efi, or set SI_FIRMWARE=bios to install for BIOS anyway" err8 &&
	! grep "partitioning" err8 &&
	sfdisk --dump $DISK_DEV >after8 && test_cmp before8 after8 &&
	! test -e t8/etc
'

test_expect_success 'a BIOS node and a UEFI layout on GPT without a BIOS boot partition: refused' '
	write_uefi_layout uefi.layout &&
	new_disk fwuefi 64M &&
	mkdir -p t9 &&
	boel t9 --image img --no-seed-wait --disklayout uefi.layout \
		--disks $DISK_DEV --set SI_FIRMWARE=bios >out9 2>err9; rc=$?; cat err9;
	test $rc -eq 1 &&
	grep "si_boel: cannot install for this node.s BIOS firmware: the layout of gold (recorded firmware=uefi, an EFI system partition) has a GPT disk /dev/vda without a BIOS boot partition (type $BIOSBOOT), where GRUB for BIOS must go; boot the node with UEFI, add a 1 MiB BIOS boot partition to the golden client.s disk and capture it again, or set SI_FIRMWARE=uefi to install for UEFI anyway" err9 &&
	test -z "$(tr -d "\\000" <fwuefi.img | head -c 1)"
'

# The ESP is mounted only where the kernel can (vfat, as above).
if [ -z "$EFI_MOUNT" ]; then
	test_skip "a UEFI node and a UEFI layout: the ESP made and mounted at /boot/efi" "no vfat in this kernel"
else
test_expect_success 'a UEFI node and a UEFI layout: the ESP made and mounted at /boot/efi before the image' '
	mkdir -p t10 &&
	boel t10 --image efiimg --no-seed-wait --disklayout uefi.layout \
		--disks $DISK_DEV --set SI_FIRMWARE=uefi >out10 2>err10; rc=$?; cat out10 err10;
	test $rc -eq 0 &&
	grep "si_boel: the layout boots with UEFI (recorded firmware=uefi): EFI system partition /dev/vda1 at /boot/efi" err10 &&
	grep "si_boel: making vfat on $(part 1) for /boot/efi" err10 &&
	grep "si_boel: mounted $(part 1) on $TRASH/t10/boot/efi" err10 &&
	test "$(blkid -p -o value -s TYPE $(part 1))" = vfat &&
	test "$(blkid -p -o value -s UUID $(part 1))" = $ESP_UUID &&
	test "$(blkid -p -o value -s VERSION $(part 1))" = FAT16 &&
	fsck.fat -n $(part 1) &&
	mkdir -p esp && mount -o ro $(part 1) esp && test_atexit "umount $TRASH/esp" &&
	test_cmp "$SRV/images/efiimg/boot/efi/EFI/gold/grub.cfg" esp/EFI/gold/grub.cfg &&
	umount esp &&
	mkdir -p root10 && mount -o ro $(part 2) root10 && test_atexit "umount $TRASH/root10" &&
	test -d root10/boot/efi && ! test -e root10/boot/efi/EFI &&
	grep -P "^UUID=$ESP_UUID\t/boot/efi\tvfat\tumask=0077\t0\t0$" root10/etc/fstab &&
	umount root10
'
fi

test_expect_success 'bad settings are usage errors' '
	expect_exit 2 boel t6 --image img --set SI_FIRMWARE=efi 2>err6 &&
	grep "invalid SI_FIRMWARE=.efi.* expected auto, bios or uefi" err6 &&
	expect_exit 2 boel t6 --image img --set DISKS=maybe 2>err6 &&
	grep "invalid DISKS=.maybe." err6 &&
	expect_exit 2 boel t6 --image img --prepare-disks --no-prepare-disks 2>err7 &&
	grep "conflict" err7
'

test_done
