#!/bin/bash
test_description='boot to boot: a BIOS and a UEFI VM with blank disks PXE-boot from si_mkbootserver (dnsmasq, iPXE, HTTP), install a Debian golden client from the swarm, and their next power-on boots the installed Debian from disk, each with its own name, machine id and SSH host keys, reporting its first boot; a layout the firmware cannot boot is refused with nothing written'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-boel.sh"
. "$TEST_DIR/lib-image.sh"

require_root
require_cmd qemu-system-x86_64 dpkg-deb cpio zstd sfdisk losetup partx \
	blkid rsync python3 ip timeout si_seeder si_installbtimage mkfs.fat \
	dnsmasq si_mkbootserver si_mkclientnetboot
[ -e /dev/net/tun ] || skip_all "needs /dev/net/tun"
[ -x "$SRC_DIR/boel/si_boel" ] || skip_all "needs si_boel built (make)"
[ -r "$OVMF_CODE" ] && [ -r "$OVMF_VARS" ] || skip_all "needs OVMF ($OVMF_CODE; package ovmf)"
[ -r /usr/lib/ipxe/undionly.kpxe ] && [ -r /usr/lib/ipxe/snponly.efi ] ||
	skip_all "needs iPXE (package ipxe)"
BOOT_ROOT=${SI_BOOT_ROOT:-/var/cache/swarmimager/boot/bookworm-boot}
debian_boot_root "$BOOT_ROOT" || skip_all "no bootable Debian root (debootstrap failed)"

B=$TRASH/base
BOEL_DIR=$B/boot
BOEL_VM_MEM=1024
BOEL_VM_TIMEOUT=600
ROOT_UUID=2b7c1e5a-0d3f-4c8e-9a61-7f2e3d4c5b01
OLD_UUID=2b7c1e5a-0d3f-4c8e-9a61-7f2e3d4c5b02
ESP_UUID=E5F1-0001
LINUX=0FC63DAF-8483-4772-8E79-3D69D8477DE4
EXT4_FEATURES=has_journal,ext_attr,resize_inode,dir_index,filetype,extent,64bit,flex_bg,sparse_super,large_file,huge_file,dir_nlink,extra_isize,metadata_csum

# The golden client's layout for a 1 GiB disk, bootable both ways: GPT
# with a 1 MiB BIOS boot partition and a 64 MiB ESP at /boot/efi, then
# the ext4 root.  And an older image made for BIOS only (no ESP).
write_layouts() {
	cat >"$B/images/.gold.disklayout" <<-EOF
	# swarmimager disklayout 1
	host name=gold firmware=uefi
	disk dev=/dev/vda size=1073741824 sector_size=512 table=gpt
	part disk=/dev/vda num=1 dev=/dev/vda1 start=2048 sectors=2048 size=1048576 type=21686148-6449-6E6F-744E-656564454649 name=bios grow=0
	part disk=/dev/vda num=2 dev=/dev/vda2 start=4096 sectors=131072 size=67108864 type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B name=EFI\\040system grow=0
	part disk=/dev/vda num=3 dev=/dev/vda3 start=135168 sectors=1959936 size=1003487232 type=$LINUX name=root grow=1
	fs dev=/dev/vda2 type=vfat uuid=$ESP_UUID mount=/boot/efi options=umask=0077 version=FAT32
	fs dev=/dev/vda3 type=ext4 uuid=$ROOT_UUID mount=/ options=errors=remount-ro block_size=4096 inode_size=256 features=$EXT4_FEATURES
	fstab spec=UUID=$ROOT_UUID file=/ type=ext4 options=errors=remount-ro freq=0 passno=1
	fstab spec=UUID=$ESP_UUID file=/boot/efi type=vfat options=umask=0077 freq=0 passno=1
	EOF
	cat >"$B/images/.old.disklayout" <<-EOF
	# swarmimager disklayout 1
	host name=oldgold firmware=bios
	disk dev=/dev/vda size=268435456 sector_size=512 table=gpt
	part disk=/dev/vda num=1 dev=/dev/vda1 start=2048 sectors=2048 size=1048576 type=21686148-6449-6E6F-744E-656564454649 name=bios grow=0
	part disk=/dev/vda num=2 dev=/dev/vda2 start=4096 sectors=450560 size=230686720 type=$LINUX name=root grow=1
	fs dev=/dev/vda2 type=ext4 uuid=$OLD_UUID mount=/
	EOF
}

# The cluster: a BIOS node whose card has iPXE in its ROM, a UEFI node
# whose firmware PXE-boots without one (so it loads iPXE by TFTP), and a
# UEFI node listed for the BIOS-only image.
write_cluster() {
	mkdir -p "$B/scripts" &&
	cat >"$B/scripts/cluster.txt" <<-EOF
	# host:group:image:override:MAC
	n-bios:compute:gold::$(boel_mac 1)
	n-uefi:compute:gold::$(boel_mac 2)
	n-misfit:compute:old::$(boel_mac 3)
	EOF
}

# start_bootserver MODE...: si_mkbootserver on br0 with the given options.
start_bootserver() {
	start_bg bootserver ip netns exec "$BOEL_NS" si_mkbootserver \
		--base "$B" --interface br0 "$@" --kernel-args \
		"console=ttyS0 quiet panic=-1 SI_POST_ACTION=poweroff SI_ERROR_ACTION=poweroff" &&
	wait_for_line 20 bootserver.log "si_mkbootserver: ready:"
}

# secs NAME: seconds from NAME's power-on to now.
secs() {
	echo "$(date +%s%N) $(cat "$1.start")" | awk '{printf "%.1f", ($1 - $2) / 1e9}'
}

# first_boot NAME...: waits for each installed system's login prompt on
# its console and its first-boot report (status 102, sent by a unit of
# multi-user.target: systemd's own "Reached target" line is not always on
# the console once the getty runs); NAME.boot: seconds from its power-on
# to both, noted when seen.  Then powers the VMs off.
first_boot() {
	local name left=("$@") still i
	for i in $(seq 1 2000); do
		[ "${#left[@]}" -gt 0 ] || break
		still=()
		for name in "${left[@]}"; do
			if grep -aq "$name login:" "$name.log" &&
			   grep -q "node=$name .*status=102" "$B/netboot/reports.log"; then
				secs "$name" >"$name.boot"
				kill_pid "$(cat "$name.pid")"
			else
				kill -0 "$(cat "$name.pid")" 2>/dev/null || {
					echo "VM $name ended before its first boot" >&2
					tail -n 30 "$name.log" >&2
					return 1
				}
				still+=("$name")
			fi
		done
		left=(${still[@]+"${still[@]}"})
		[ "${#left[@]}" -eq 0 ] || sleep 0.2
	done
	[ "${#left[@]}" -eq 0 ] || { echo "no first boot of ${left[*]}" >&2; return 1; }
}

# report_field NAME KEY: the value of KEY in NAME's status 102 report.
report_field() {
	grep "node=$1 .*status=102" "$B/netboot/reports.log" | tail -n 1 |
		tr ' ' '\n' | sed -n "s/^$2=//p"
}

test_expect_success 'mkboel builds BOEL where the boot server serves it from' '
	boel_build "$BOEL_DIR" --compress zstd:3 &&
	test -s "$BOEL_DIR/vmlinuz" && test -s "$BOEL_DIR/initrd.img"
'
say "$(grep "^mkboel: kernel" "$BOEL_DIR/mkboel.out" 2>/dev/null)"

test_expect_success 'image server: the Debian golden client and a BIOS-only image, seeded' '
	mkdir -p "$B/images/old/etc" "$B/etc" &&
	cp -a "$BOOT_ROOT" "$B/images/gold" &&
	rm -f "$B/images/gold/$SI_ROOT_MARK" &&
	echo "an image for BIOS machines" >"$B/images/old/etc/issue" &&
	write_layouts && write_cluster &&
	echo "BT_TRACKER_PORT=6969" >"$B/etc/bittorrent.conf" &&
	si_installbtimage --base "$B" --address "$BOEL_SERVER" --compress zstd \
		>pack.out 2>pack.err || { cat pack.err; return 1; }
	boel_netns &&
	start_bg seeder ip netns exec "$BOEL_NS" si_seeder --base "$B" \
		--address "$BOEL_SERVER" --tracker-port 6969 --rsync-port 873 \
		--bt-port 0 &&
	wait_for_line 30 seeder.log "si_seeder: ready:"
'

test_expect_success 'si_mkbootserver (full DHCP) and si_mkclientnetboot: three nodes marked for installation' '
	start_bootserver --dhcp-range $BOEL_NET.100,$BOEL_NET.150 &&
	grep "full DHCP" bootserver.log &&
	si_mkclientnetboot --base "$B" --netboot n-bios n-uefi n-misfit >mark.out &&
	grep "^n-bios: next boot: install$" mark.out &&
	si_mkclientnetboot --base "$B" --list >list.out &&
	grep "^n-uefi .*$(boel_mac 2) .*gold .*install" list.out
'

test_expect_success 'power-on: the nodes PXE-boot BOEL, two install the image, the misfit is refused' '
	truncate -s 1G bios.img uefi.img misfit.img &&
	pxe_vm_start n-bios 1 bios.img bios ipxe &&
	pxe_vm_start n-uefi 2 uefi.img uefi firmware &&
	pxe_vm_start n-misfit 3 misfit.img uefi ipxe &&
	boel_vm_wait n-bios n-uefi n-misfit &&
	grep -a "SwarmImager: n-bios ($(boel_mac 1)): installing image gold" n-bios.log &&
	grep -a "NBP filename is snponly.efi" n-uefi.log &&
	grep "sent .*/tftp/snponly.efi" bootserver.log &&
	grep -a "SwarmImager: n-uefi ($(boel_mac 2)): installing image gold" n-uefi.log &&
	grep "si_boel: installing GRUB (i386-pc) on /dev/vda" n-bios.log &&
	grep "si_boel: installed image gold into /a" n-bios.log &&
	grep "si_boel: installing GRUB (x86_64-efi) in the EFI system partition /dev/vda2 at /boot/efi" n-uefi.log &&
	grep "si_boel: installed image gold into /a" n-uefi.log &&
	grep "si_boel: UEFI boot order: Boot[0-9A-F]* .UEFI PXEv4 .* first, then .debian." n-uefi.log &&
	grep "node=n-bios .*status=100" "$B/netboot/reports.log" &&
	grep "node=n-uefi .*status=100" "$B/netboot/reports.log" &&
	grep "si_boel: this node boots with UEFI firmware" n-misfit.log &&
	grep "FAILED after" n-misfit.log &&
	grep "node=n-misfit .*status=-1" "$B/netboot/reports.log" &&
	test -z "$(tr -d "\\000" <misfit.img | head -c 1)"
'
for n in n-bios n-uefi n-misfit; do
	say "$n: power-on to BOEL's poweroff $(cat $n.secs 2>/dev/null) s"
done
say "n-misfit: $(grep -a -m1 "cannot install for this node" n-misfit.log 2>/dev/null)"

test_expect_success 'net boot once: the installed nodes boot from disk next, the refused one installs again' '
	si_mkclientnetboot --base "$B" --list >list2.out &&
	grep "^n-bios .* local .*100 imaged" list2.out &&
	grep "^n-uefi .* local .*100 imaged" list2.out &&
	grep "^n-misfit .* install .*-1 failed" list2.out
'

test_expect_success 'second power-on through a proxy-DHCP boot server: each boots the installed Debian from its disk' '
	kill_pid "$(cat bootserver.pid)" &&
	boel_dhcpd &&
	start_bootserver --proxy &&
	grep "proxy-DHCP" bootserver.log &&
	BOEL_VM_TIMEOUT=300 pxe_vm_start n-bios 1 bios.img bios ipxe &&
	BOEL_VM_TIMEOUT=300 pxe_vm_start n-uefi 2 uefi.img uefi firmware &&
	first_boot n-bios n-uefi &&
	grep "n-bios ($(boel_mac 1), .*): boots from its disk" bootserver.log &&
	grep "n-uefi ($(boel_mac 2), .*): boots from its disk" bootserver.log &&
	grep -a "SwarmImager: n-bios: booting from the local disk" n-bios.log &&
	! grep -a "boel: starting" n-bios.log n-uefi.log &&
	grep -a "swarmimager-firstboot: reported status 102" n-bios.log &&
	grep -a "swarmimager-firstboot: reported status 102" n-uefi.log &&
	grep -a "BdsDxe: starting Boot[0-9A-F]* \"debian\"" n-uefi.log
'
say "n-bios: second power-on to login and first-boot report $(cat n-bios.boot 2>/dev/null) s; n-uefi: $(cat n-uefi.boot 2>/dev/null) s"

test_expect_success 'each node is its own: host name, machine id, SSH host keys, in its first-boot report' '
	test "$(report_field n-bios hostname)" = n-bios &&
	test "$(report_field n-uefi hostname)" = n-uefi &&
	id1=$(report_field n-bios machine_id) && id2=$(report_field n-uefi machine_id) &&
	echo "$id1" | grep -Eq "^[0-9a-f]{32}$" && echo "$id2" | grep -Eq "^[0-9a-f]{32}$" &&
	test "$id1" != "$id2" &&
	gold=$(tr -d "\\n" <"$BOOT_ROOT/etc/machine-id") &&
	test "$id1" != "$gold" && test "$id2" != "$gold" &&
	k1=$(report_field n-bios ssh) && k2=$(report_field n-uefi ssh) &&
	test -n "$k1" && test -n "$k2" && test "$k1" != "$k2" &&
	for f in "$BOOT_ROOT"/etc/ssh/ssh_host_*_key.pub; do
		fp=$(ssh-keygen -lf "$f" | cut -d" " -f2) &&
		! echo "$k1 $k2" | grep -qF "$fp" || return 1
	done
'
say "n-bios: machine id $(report_field n-bios machine_id 2>/dev/null), n-uefi: $(report_field n-uefi machine_id 2>/dev/null)"

test_done
