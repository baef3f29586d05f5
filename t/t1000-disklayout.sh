#!/bin/bash
test_description='si_prepareclient records the layout of a loop-device disk as sfdisk and blkid see it'
. "$(dirname "$0")/test-lib.sh"

require_root
require_cmd losetup sfdisk blkid mkfs.ext4 mkswap partx si_prepareclient

# layout_field RECORD KEY VALUE FIELD: prints FIELD of the first RECORD line
# whose KEY is VALUE (values unescaped: \040 -> space).
layout_field() {
	awk -v rec="$1" -v key="$2" -v val="$3" -v want="$4" '
		$1 == rec {
			found = 0; out = ""
			for (i = 2; i <= NF; i++) {
				k = substr($i, 1, index($i, "=") - 1)
				v = substr($i, index($i, "=") + 1)
				gsub(/\\040/, " ", v)
				if (k == key && v == val) found = 1
				if (k == want) out = v
			}
			if (found) { print out; exit }
		}' root/etc/swarmimager/disklayout.conf
}

test_expect_success 'a GPT loop disk with ext4, swap and an empty partition' '
	truncate -s 96M disk.img &&
	LOOP=$(losetup -P -f --show disk.img) &&
	echo "$LOOP" >loopdev &&
	test_atexit "losetup -d $LOOP" &&
	printf "label: gpt\nsize=24M, type=L, name=\"root fs\"\nsize=8M, type=S, name=swap\ntype=L, name=data\n" |
		sfdisk -q "$LOOP" &&
	{ partx -a "$LOOP" 2>/dev/null || partx -u "$LOOP"; } &&
	wait_for 10 test -b "${LOOP}p3" &&
	mkfs.ext4 -q -L rootlabel -b 4096 "${LOOP}p1" &&
	mkswap -L swaplabel "${LOOP}p2" >/dev/null &&
	mkdir -p root/etc &&
	U=$(blkid -p -o value -s UUID "${LOOP}p1") &&
	printf "UUID=%s / ext4 errors=remount-ro 0 1\nLABEL=swaplabel none swap sw 0 0\n" "$U" >root/etc/fstab
'
LOOP=$(cat loopdev 2>/dev/null)

test_expect_success 'si_prepareclient --no-rsyncd records it' '
	si_prepareclient -y --no-rsyncd --root root --disk "$LOOP" 2>err &&
	head -n 1 root/etc/swarmimager/disklayout.conf >head &&
	echo "# swarmimager disklayout 1" >expect &&
	test_cmp expect head &&
	test $(grep -c "^disk " root/etc/swarmimager/disklayout.conf) = 1 &&
	test $(grep -c "^part " root/etc/swarmimager/disklayout.conf) = 3
'

test_expect_success 'disk record matches sfdisk --json and the device size' '
	sfdisk --json "$LOOP" >sf.json &&
	python3 -c "
import json, sys
t = json.load(open(\"sf.json\"))[\"partitiontable\"]
print(t[\"label\"], t[\"id\"], t[\"firstlba\"], t[\"lastlba\"], t.get(\"sectorsize\", 512))
" >expect &&
	echo "$(layout_field disk dev $LOOP table) $(layout_field disk dev $LOOP id)" \
	     "$(layout_field disk dev $LOOP first_lba) $(layout_field disk dev $LOOP last_lba)" \
	     "$(layout_field disk dev $LOOP sector_size)" >actual &&
	test_cmp expect actual &&
	test "$(layout_field disk dev $LOOP size)" = "$(blockdev --getsize64 $LOOP)"
'

test_expect_success 'each partition matches sfdisk field by field' '
	python3 -c "
import json
t = json.load(open(\"sf.json\"))[\"partitiontable\"]
for p in t[\"partitions\"]:
    print(p[\"node\"], p[\"start\"], p[\"size\"], p[\"size\"] * t.get(\"sectorsize\", 512),
          p[\"type\"], p[\"uuid\"], p.get(\"name\", \"\"))
" >expect &&
	for n in 1 2 3; do
		d=${LOOP}p$n &&
		echo "$d $(layout_field part dev $d start) $(layout_field part dev $d sectors)" \
		     "$(layout_field part dev $d size) $(layout_field part dev $d type)" \
		     "$(layout_field part dev $d uuid) $(layout_field part dev $d name)" || return 1
	done >actual &&
	test_cmp expect actual &&
	test "$(layout_field part dev ${LOOP}p3 num)" = 3 &&
	test "$(layout_field part dev ${LOOP}p1 disk)" = "$LOOP"
'

test_expect_success 'the host record names the firmware this machine booted with' '
	if test -d /sys/firmware/efi; then fw=uefi; else fw=bios; fi &&
	grep "^host name=$(hostname) firmware=$fw$" root/etc/swarmimager/disklayout.conf
'

test_expect_success 'the last partition grows, the others do not' '
	test "$(layout_field part dev ${LOOP}p3 grow)" = 1 &&
	test "$(layout_field part dev ${LOOP}p1 grow)" = 0 &&
	test "$(layout_field part dev ${LOOP}p2 grow)" = 0
'

test_expect_success 'filesystems match blkid' '
	for d in ${LOOP}p1 ${LOOP}p2; do
		echo "$(blkid -p -o value -s TYPE $d) $(blkid -p -o value -s UUID $d) $(blkid -p -o value -s LABEL $d)" || return 1
	done >expect &&
	for d in ${LOOP}p1 ${LOOP}p2; do
		echo "$(layout_field fs dev $d type) $(layout_field fs dev $d uuid) $(layout_field fs dev $d label)" || return 1
	done >actual &&
	test_cmp expect actual &&
	test -z "$(layout_field fs dev ${LOOP}p3 type)"
'

test_expect_success 'ext4 creation parameters match tune2fs' '
	test "$(layout_field fs dev ${LOOP}p1 block_size)" = 4096 &&
	tune2fs -l ${LOOP}p1 | sed -n "s/^Inode size:[[:space:]]*//p" >expect &&
	layout_field fs dev ${LOOP}p1 inode_size >actual &&
	test_cmp expect actual &&
	tune2fs -l ${LOOP}p1 | sed -n "s/^Filesystem features: *//p" | tr " " "," >expect &&
	layout_field fs dev ${LOOP}p1 features >actual &&
	test_cmp expect actual
'

test_expect_success 'mount points and options come from fstab (UUID= and LABEL=)' '
	test "$(layout_field fs dev ${LOOP}p1 mount)" = / &&
	test "$(layout_field fs dev ${LOOP}p1 options)" = errors=remount-ro &&
	test "$(layout_field fs dev ${LOOP}p2 mount)" = swap &&
	test "$(grep -c "^fstab " root/etc/swarmimager/disklayout.conf)" = 2
'

test_expect_success 'a mounted filesystem under the root is recorded as local' '
	mkdir -p root/mnt/data &&
	mount "${LOOP}p1" root/mnt/data &&
	test_atexit "umount $TRASH/root/mnt/data" &&
	si_prepareclient -y --no-rsyncd --root root --disk "$LOOP" 2>err &&
	umount root/mnt/data &&
	grep "^mount path=/mnt/data type=ext4 source=${LOOP}p1 .* local=1$" \
		root/etc/swarmimager/disklayout.conf
'

test_expect_success '--exclude-disk leaves the disk out' '
	si_prepareclient -y --no-rsyncd --root root --disk "$LOOP" \
		--exclude-disk "$LOOP" 2>err &&
	! grep -q "^disk " root/etc/swarmimager/disklayout.conf &&
	! grep -q "^part " root/etc/swarmimager/disklayout.conf
'

test_expect_success 'a DOS disk: bootable flag, hex types, the extended partition grows with its last logical one' '
	truncate -s 64M dos.img &&
	LOOP2=$(losetup -P -f --show dos.img) &&
	test_atexit "losetup -d $LOOP2" &&
	printf "label: dos\nsize=16M, type=83, bootable\nsize=8M, type=82\ntype=5\nsize=8M, type=83\ntype=83\n" |
		sfdisk -q "$LOOP2" &&
	{ partx -a "$LOOP2" 2>/dev/null || partx -u "$LOOP2"; } &&
	mkdir -p dosroot &&
	si_prepareclient -y --no-rsyncd --root dosroot --disk "$LOOP2" 2>err &&
	L=dosroot/etc/swarmimager/disklayout.conf &&
	grep "^disk dev=$LOOP2 .*table=dos id=0x" $L &&
	grep "^part disk=$LOOP2 num=1 .*type=83 bootable=1 grow=0$" $L &&
	grep "^part disk=$LOOP2 num=2 .*type=82 bootable=0 grow=0$" $L &&
	grep "^part disk=$LOOP2 num=3 .*type=5 bootable=0 grow=1$" $L &&
	grep "^part disk=$LOOP2 num=5 .*type=83 bootable=0 grow=0$" $L &&
	grep "^part disk=$LOOP2 num=6 .*type=83 bootable=0 grow=1$" $L &&
	sfdisk --json "$LOOP2" | python3 -c "
import json, sys
t = json.load(sys.stdin)[\"partitiontable\"]
for p in t[\"partitions\"]:
    print(p[\"node\"], p[\"start\"], p[\"size\"])
" >expect &&
	sed -n "s/^part .* dev=\([^ ]*\) start=\([0-9]*\) sectors=\([0-9]*\) .*/\1 \2 \3/p" $L >actual &&
	test_cmp expect actual
'

test_expect_success 'a layout that is not a block device is refused clearly' '
	expect_exit 1 si_prepareclient -y --no-rsyncd --root root --disk disk.img 2>err &&
	grep "cannot probe disk .disk.img.: not a block device" err
'

test_expect_success 'without -y and without a terminal it asks nothing and stops' '
	expect_exit 1 si_prepareclient --no-rsyncd --root root 2>err </dev/null &&
	grep "give -y" err
'

test_expect_success 'usage errors exit 2' '
	expect_exit 2 si_prepareclient -y 2>err &&
	grep -- "--server HOST is required" err &&
	expect_exit 2 si_prepareclient -y --server x --port 0 2>err &&
	expect_exit 2 si_prepareclient --bogus 2>err
'

test_done
