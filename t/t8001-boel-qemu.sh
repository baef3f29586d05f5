#!/bin/bash
test_description='the BOEL environment boots in qemu, brings up the network, partitions and fills its disk, and powers off'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-boel.sh"

require_root
require_cmd qemu-system-x86_64 dpkg-deb cpio zstd sfdisk losetup partx e2fsck debugfs \
	blkid rsync python3 ip timeout
[ -e /dev/net/tun ] || skip_all "needs /dev/net/tun"

BOEL_DIR=$TRASH/boel
disk_size=64M

# The install script each VM fetches over HTTP and runs (SI_SCRIPT): it
# fetches a partition layout over HTTP and a payload over rsync, partitions
# the virtual disk (GPT: 32 MiB ext4, the rest swap), makes the
# filesystems, writes files and unmounts.
write_www() {
	mkdir -p www &&
	printf 'label: gpt\n,32M,L\n,,S\n' >www/layout &&
	head -c 300000 /dev/urandom >www/payload &&
	cat >www/install.sh <<-'EOF'
	set -e
	echo "script: node $NODE"
	wget -q -O /tmp/layout "http://$SERVER:8080/layout"
	rsync -q "rsync://$SERVER/data/payload" /tmp/payload
	sfdisk -q /dev/vda </tmp/layout
	i=0
	while [ ! -b /dev/vda2 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	mkfs.ext4 -q -F -L boelroot /dev/vda1
	mkswap -L boelswap /dev/vda2 >/dev/null
	mount -t ext4 /dev/vda1 /a
	cp /tmp/payload /a/payload
	echo "$NODE" >/a/node
	cp /run/boel/boel.cfg /a/boel.cfg
	ip -4 addr show >/a/net
	umount /a
	echo "script: ok"
	EOF
}

# The reference layout: the same sfdisk script applied by the host's sfdisk
# to an image file; dumps are compared without names and random ids.
normalize_dump() {
	sed -e '/^label-id:/d' -e '/^device:/d' -e 's|^[^ ]*\([0-9]\) :|p\1 :|' \
		-e 's/, *uuid=[0-9A-F-]*//'
}

# check_disk NAME IMAGE ADDR: the disk of VM NAME holds what its script made.
check_disk() {
	local name=$1 img=$2
	disk_attach "$img" &&
	sfdisk --dump "$DISK_DEV" | normalize_dump >"$name.layout" &&
	test_cmp ref.layout "$name.layout" &&
	e2fsck -fn "${DISK_DEV}p1" &&
	test "$(blkid -o value -s TYPE "${DISK_DEV}p2")" = swap &&
	test "$(blkid -o value -s LABEL "${DISK_DEV}p1")" = boelroot &&
	debugfs -R 'cat /node' "${DISK_DEV}p1" >"$name.node" 2>/dev/null &&
	echo "$name" >"$name.node.expect" &&
	test_cmp "$name.node.expect" "$name.node" &&
	debugfs -R 'dump /payload '"$TRASH/$name.payload" "${DISK_DEV}p1" 2>/dev/null &&
	cmp www/payload "$name.payload" &&
	debugfs -R 'cat /net' "${DISK_DEV}p1" 2>/dev/null >"$name.net" &&
	grep "inet $3/24" "$name.net" &&
	debugfs -R 'cat /boel.cfg' "${DISK_DEV}p1" 2>/dev/null >"$name.cfg" &&
	grep "^NODE='$name'\$" "$name.cfg" &&
	grep "^SI_POST_ACTION='poweroff'\$" "$name.cfg" &&
	losetup -d "$DISK_DEV"
}

test_expect_success 'mkboel builds the environment' '
	boel_build "$BOEL_DIR" --compress zstd:9 &&
	test -s "$BOEL_DIR/vmlinuz" && test -s "$BOEL_DIR/initrd.img" &&
	cat "$BOEL_DIR/mkboel.out"
'
say "$(cat "$BOEL_DIR/mkboel.out" 2>/dev/null)"

test_expect_success 'a namespace with a bridge, HTTP, rsync and DHCP servers' '
	write_www &&
	truncate -s $disk_size ref.img &&
	sfdisk -q ref.img <www/layout &&
	sfdisk --dump ref.img | normalize_dump >ref.layout &&
	grep "^p2 :" ref.layout &&
	boel_netns &&
	boel_http "$TRASH/www" &&
	boel_rsyncd "$TRASH/www" &&
	boel_dhcpd
'

common="SERVER=$BOEL_SERVER SI_SCRIPT=http://$BOEL_SERVER:8080/install.sh SI_POST_ACTION=poweroff SI_ERROR_ACTION=poweroff"

test_expect_success 'one VM (static ip=): network, partitions, files, poweroff' '
	truncate -s $disk_size vm1.img &&
	boel_vm_start vm1 1 vm1.img NODE=vm1 \
		ip=$BOEL_NET.11::$BOEL_SERVER:255.255.255.0:vm1:eth0:none $common &&
	boel_vm_wait vm1 &&
	grep "boel: network eth0 $BOEL_NET.11/24 gateway $BOEL_SERVER (static)" vm1.log &&
	grep "script: ok" vm1.log &&
	grep "boel: done" vm1.log &&
	grep "boel: powering off" vm1.log &&
	check_disk vm1 vm1.img $BOEL_NET.11
'
say "one VM: boot to poweroff $(cat vm1.secs 2>/dev/null) s ($(grep -o 'done ([0-9.]* s after boot)' vm1.log 2>/dev/null))"

test_expect_success 'four VMs at once (DHCP and static), each installs its disk' '
	for i in 2 3 4 5; do truncate -s $disk_size vm$i.img || return 1; done &&
	boel_vm_start vm2 2 vm2.img NODE=vm2 $common &&
	boel_vm_start vm3 3 vm3.img NODE=vm3 ip=dhcp $common &&
	boel_vm_start vm4 4 vm4.img NODE=vm4 IPADDR=$BOEL_NET.14 NETMASK=255.255.255.0 $common &&
	boel_vm_start vm5 5 vm5.img NODE=vm5 \
		ip=$BOEL_NET.15:::24::eth0:none $common &&
	boel_vm_wait vm2 vm3 vm4 vm5 &&
	a2=$(sed -n "s/.*network eth0 \([0-9.]*\)\/24 .*(dhcp).*/\1/p" vm2.log) &&
	a3=$(sed -n "s/.*network eth0 \([0-9.]*\)\/24 .*(dhcp).*/\1/p" vm3.log) &&
	test -n "$a2" && test -n "$a3" && test "$a2" != "$a3" &&
	grep "network eth0 $BOEL_NET.14/24 (static)" vm4.log &&
	grep "network eth0 $BOEL_NET.15/24 (static)" vm5.log &&
	check_disk vm2 vm2.img "$a2" &&
	check_disk vm3 vm3.img "$a3" &&
	check_disk vm4 vm4.img $BOEL_NET.14 &&
	check_disk vm5 vm5.img $BOEL_NET.15
'
say "four VMs at once: $(cat vm2.secs vm3.secs vm4.secs vm5.secs 2>/dev/null | tr '\n' ' ')s"

# Two failing runs at once: a script that cannot be fetched, and a boot
# with nothing to run (no script; si_boel only once it is built: then it
# runs and fails for want of an image server).
test_expect_success 'failures: the error action runs, the disk is left alone' '
	truncate -s $disk_size vm6.img vm7.img &&
	boel_vm_start vm6 6 vm6.img NODE=vm6 ip=$BOEL_NET.16:::24::: SERVER=$BOEL_SERVER \
		SI_SCRIPT=http://$BOEL_SERVER:8080/missing.sh \
		SI_POST_ACTION=reboot SI_ERROR_ACTION=poweroff &&
	boel_vm_start vm7 7 vm7.img ip=off SI_ERROR_ACTION=reboot &&
	boel_vm_wait vm6 vm7 &&
	grep "boel: cannot fetch http://$BOEL_SERVER:8080/missing.sh" vm6.log &&
	grep "boel: failed (exit 1," vm6.log &&
	grep "boel: powering off" vm6.log &&
	! grep "boel: done" vm6.log &&
	grep "boel: network: off" vm7.log &&
	if [ -x "$SRC_DIR/boel/si_boel" ]; then
		grep "boel: running si_boel" vm7.log &&
		grep "^si_boel: " vm7.log
	else
		grep "boel: nothing to run: no si_boel, no SI_SCRIPT, no SI_INIT_CMD" vm7.log
	fi &&
	grep "boel: failed (exit [12]," vm7.log &&
	grep "boel: rebooting" vm7.log &&
	test -z "$(tr -d "\\000" <vm6.img | head -c 1)" &&
	test -z "$(tr -d "\\000" <vm7.img | head -c 1)"
'

test_done
