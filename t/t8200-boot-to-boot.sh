#!/bin/bash
test_description='BOEL installs a bootable Debian for BIOS and for UEFI (OVMF), and each disk boots to a login prompt'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-boel.sh"
. "$TEST_DIR/lib-image.sh"

require_root
require_cmd qemu-system-x86_64 dpkg-deb cpio zstd sfdisk losetup partx \
	blkid rsync python3 ip timeout si_seeder si_installbtimage mkfs.fat
[ -e /dev/net/tun ] || skip_all "needs /dev/net/tun"
[ -x "$SRC_DIR/boel/si_boel" ] || skip_all "needs si_boel built (make)"
OVMF_CODE=${SI_OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
OVMF_VARS=${SI_OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
[ -r "$OVMF_CODE" ] && [ -r "$OVMF_VARS" ] || skip_all "needs OVMF ($OVMF_CODE; package ovmf)"
BOOT_ROOT=${SI_BOOT_ROOT:-/var/cache/swarmimager/boot/bookworm-boot}
debian_boot_root "$BOOT_ROOT" || skip_all "no bootable Debian root (debootstrap failed)"

BOEL_DIR=$TRASH/boel
BOEL_VM_MEM=1024
BOEL_VM_TIMEOUT=600
B=$TRASH/base
ROOT_BIOS=2b7c1e5a-0d3f-4c8e-9a61-7f2e3d4c5b01
ROOT_UEFI=2b7c1e5a-0d3f-4c8e-9a61-7f2e3d4c5b02
ESP_UUID=E5F1-0001
LINUX=0FC63DAF-8483-4772-8E79-3D69D8477DE4
EXT4_FEATURES=has_journal,ext_attr,resize_inode,dir_index,filetype,extent,64bit,flex_bg,sparse_super,large_file,huge_file,dir_nlink,extra_isize,metadata_csum

# The golden clients' layouts for a 1 GiB disk: GPT with a 1 MiB BIOS boot
# partition (BIOS), GPT with a 64 MiB ESP at /boot/efi (UEFI); ext4 roots.
write_layouts() {
	cat >"$B/images/.goldbios.disklayout" <<-EOF
	# swarmimager disklayout 1
	host name=gold firmware=bios
	disk dev=/dev/vda size=1073741824 sector_size=512 table=gpt
	part disk=/dev/vda num=1 dev=/dev/vda1 start=2048 sectors=2048 size=1048576 type=21686148-6449-6E6F-744E-656564454649 name=bios grow=0
	part disk=/dev/vda num=2 dev=/dev/vda2 start=4096 sectors=2091008 size=1070596096 type=$LINUX name=root grow=1
	fs dev=/dev/vda2 type=ext4 uuid=$ROOT_BIOS mount=/ options=errors=remount-ro block_size=4096 inode_size=256 features=$EXT4_FEATURES
	fstab spec=UUID=$ROOT_BIOS file=/ type=ext4 options=errors=remount-ro freq=0 passno=1
	EOF
	cat >"$B/images/.golduefi.disklayout" <<-EOF
	# swarmimager disklayout 1
	host name=gold firmware=uefi
	disk dev=/dev/vda size=1073741824 sector_size=512 table=gpt
	part disk=/dev/vda num=1 dev=/dev/vda1 start=2048 sectors=131072 size=67108864 type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B name=EFI\\040system grow=0
	part disk=/dev/vda num=2 dev=/dev/vda2 start=133120 sectors=1961984 size=1004535808 type=$LINUX name=root grow=1
	fs dev=/dev/vda1 type=vfat uuid=$ESP_UUID mount=/boot/efi options=umask=0077 version=FAT32
	fs dev=/dev/vda2 type=ext4 uuid=$ROOT_UEFI mount=/ options=errors=remount-ro block_size=4096 inode_size=256 features=$EXT4_FEATURES
	fstab spec=UUID=$ROOT_UEFI file=/ type=ext4 options=errors=remount-ro freq=0 passno=1
	fstab spec=UUID=$ESP_UUID file=/boot/efi type=vfat options=umask=0077 freq=0 passno=1
	EOF
}

# boot_disk NAME DISK [QEMU ARGS]: boots DISK by itself, no network;
# console in NAME.log; NAME.secs: seconds from qemu's start to the login
# prompt.
boot_disk() {
	local name=$1 disk=$2 t0; shift 2
	t0=$(date +%s%N)
	start_bg "$name" timeout -k 5 300 qemu-system-x86_64 -machine q35 \
		-accel "$QEMU_ACCEL" -m 768 -nographic -nodefaults -no-reboot \
		-serial stdio -drive "file=$disk,if=virtio,format=raw" -net none "$@" &&
	wait_for_line 290 "$name.log" "gold login:" &&
	echo "$(date +%s%N) $t0" | awk '{printf "%.1f\n", ($1 - $2) / 1e9}' >"$name.secs" &&
	kill_pid "$(cat "$name.pid")"
}

test_expect_success 'mkboel builds the environment' '
	boel_build "$BOEL_DIR" --compress zstd:3
'

test_expect_success 'image server: the Debian golden client twice, with a BIOS and a UEFI layout' '
	mkdir -p "$B/images" "$B/etc" &&
	cp -a "$BOOT_ROOT" "$B/images/goldbios" &&
	cp -a "$BOOT_ROOT" "$B/images/golduefi" &&
	rm -f "$B"/images/gold*/$SI_ROOT_MARK &&
	write_layouts &&
	echo "BT_TRACKER_PORT=6969" >"$B/etc/bittorrent.conf" &&
	si_installbtimage --base "$B" --address "$BOEL_SERVER" --compress zstd \
		>pack.out 2>pack.err || { cat pack.err; return 1; }
	boel_netns &&
	start_bg seeder ip netns exec "$BOEL_NS" si_seeder --base "$B" \
		--address "$BOEL_SERVER" --tracker-port 6969 --rsync-port 873 \
		--bt-port 0 &&
	wait_for_line 30 seeder.log "si_seeder: ready:"
'

boot="IMAGESERVER=$BOEL_SERVER SI_POST_ACTION=poweroff SI_ERROR_ACTION=poweroff BITTORRENT_SEED_WAIT=n"

test_expect_success 'BOEL on BIOS and on UEFI firmware installs each image with its boot loader' '
	truncate -s 1G bios.img uefi.img &&
	cp "$OVMF_VARS" uefi.vars &&
	boel_vm_start instbios 1 bios.img ip=$BOEL_NET.11::$BOEL_SERVER:255.255.255.0::eth0:none \
		IMAGENAME=goldbios $boot &&
	BOEL_VM_ARGS="-drive if=pflash,format=raw,readonly=on,file=$OVMF_CODE -drive if=pflash,format=raw,file=uefi.vars" \
		boel_vm_start instuefi 2 uefi.img ip=$BOEL_NET.12::$BOEL_SERVER:255.255.255.0::eth0:none \
		IMAGENAME=golduefi $boot &&
	boel_vm_wait instbios instuefi &&
	grep "si_boel: this node boots with BIOS firmware (no /sys/firmware/efi)" instbios.log &&
	grep "si_boel: installing GRUB (i386-pc) on /dev/vda" instbios.log &&
	grep "si_boel: installed image goldbios into /a" instbios.log &&
	grep "si_boel: this node boots with UEFI firmware (/sys/firmware/efi exists)" instuefi.log &&
	grep "si_boel: mounted /dev/vda1 on /a/boot/efi" instuefi.log &&
	grep "si_boel: installing GRUB (x86_64-efi) in the EFI system partition /dev/vda1 at /boot/efi (EFI/BOOT/BOOTX64.EFI)" instuefi.log &&
	grep "si_boel: registering the UEFI boot entry .debian." instuefi.log &&
	! grep "no UEFI boot entry" instuefi.log &&
	grep "si_boel: installed image golduefi into /a" instuefi.log
'
say "install: BIOS $(cat instbios.secs 2>/dev/null) s, UEFI $(cat instuefi.secs 2>/dev/null) s (BOEL boot to poweroff)"

test_expect_success 'the BIOS disk boots to a login prompt' '
	boot_disk bootbios bios.img &&
	grep -a "Reached target.*Multi-User System" bootbios.log
'

test_expect_success 'the UEFI disk boots to a login prompt from its NVRAM entry' '
	boot_disk bootuefi uefi.img \
		-drive if=pflash,format=raw,readonly=on,file=$OVMF_CODE \
		-drive if=pflash,format=raw,file=uefi.vars &&
	grep -a "BdsDxe: starting Boot[0-9A-F]* \"debian\"" bootuefi.log &&
	grep -a "Reached target.*Multi-User System" bootuefi.log
'

test_expect_success 'the UEFI disk boots with empty NVRAM too (EFI/BOOT/BOOTX64.EFI)' '
	cp "$OVMF_VARS" fresh.vars &&
	boot_disk bootfresh uefi.img \
		-drive if=pflash,format=raw,readonly=on,file=$OVMF_CODE \
		-drive if=pflash,format=raw,file=fresh.vars &&
	! grep -a "BdsDxe: starting Boot[0-9A-F]* \"debian\"" bootfresh.log &&
	grep -a "BdsDxe: starting Boot" bootfresh.log &&
	grep -a "Reached target.*Multi-User System" bootfresh.log
'
say "boot to login: BIOS $(cat bootbios.secs 2>/dev/null) s, UEFI $(cat bootuefi.secs 2>/dev/null) s (NVRAM entry), $(cat bootfresh.secs 2>/dev/null) s (removable path)"

test_done
