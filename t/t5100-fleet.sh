#!/bin/bash
test_description='fleet update: image versions, a delta seeded over BitTorrent to 4 emulated nodes'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-update.sh"
. "$TEST_DIR/lib-cluster.sh"
require_root
require_cmd rsync tar python3 opentracker ip tc

BASE=$TRASH/base
NODES="n1 n2 n3 n4"
mkdir -p "$BASE/images" "$BASE/overrides" "$BASE/scripts" "$TRASH/tmp"
: >none.exclude
export TMPDIR=$TRASH/tmp

# reset_node N: node N at v1 as si_boel leaves it (extracted v1 tarball
# and an "installed" record at version 1).
reset_node() {
	rm -rf "nodes/$1" && mkdir -p "nodes/$1" &&
	tar -C "nodes/$1" --numeric-owner --xattrs --xattrs-include='*' \
		-xpzf "$BASE/tarballs/versions/image-img.v1.tar.gz" &&
	mkdir -p "nodes/$1/etc/swarmimager" &&
	printf 'IMAGENAME=img\nIMAGE_VERSION=1\n' \
		>"nodes/$1/etc/swarmimager/installed"
}

# update N [OPTS]: si_updateclient on node N's tree, from inside N.
update() {
	local n=$1; shift
	cluster_exec "$n" si_updateclient --server "$SIP:873" --image img \
		--directory "$TRASH/nodes/$n" --exclude-file "$TRASH/none.exclude" \
		--no-bootloader --yes --linger-max 15 "$@"
}
# n1's name is its own (si_boel wrote it), not the image's.
same_as_v2() { tree_diff "nodes/$1" v2 --exclude etc/swarmimager --exclude etc/hostname; }

test_expect_success 'setup: cluster of 4 at 20 Mbit/s, image v1 packed as version 1' '
	cluster_up t5100 4 20mbit && SIP=$(cluster_ip server) &&
	make_v1 v1 && cp -a v1 "$BASE/images/img" &&
	si_installbtimage --base "$BASE" --address "$SIP" -q >pack1.out &&
	echo 1 >want && test_cmp want "$BASE/tarballs/image-img.version" &&
	test "$BASE/tarballs/image-img.tar.gz" -ef \
		"$BASE/tarballs/versions/image-img.v1.tar.gz" &&
	test "$BASE/tarballs/image-img.manifest" -ef \
		"$BASE/tarballs/versions/image-img.v1.manifest" &&
	grep -aq "swarmimager image img version 1" \
		"$BASE/torrents/image-img.tar.gz.torrent"
'

test_expect_success 'packing an unchanged image keeps its version' '
	si_installbtimage --base "$BASE" --address "$SIP" >pack1b.out &&
	grep -q "^image-img.tar.gz unchanged " pack1b.out &&
	test_cmp want "$BASE/tarballs/image-img.version"
'

test_expect_success 'the seeder starts in the server namespace' '
	cluster_exec server si_seeder --base "$BASE" --address "$SIP" \
		--bt-port 6881 --tracker-port 6969 --rsync-port 873 \
		>seeder.out 2>seeder.err &
	echo $! >seeder.pid && test_atexit "kill_pid $(cat seeder.pid)" &&
	wait_for 20 grep -q "ready:" seeder.out
'

test_expect_success 'n1 installed by si_boel records IMAGE_VERSION=1' '
	mkdir -p nodes/n1 stage1 &&
	cluster_exec n1 si_boel -t "$TRASH/nodes/n1" -s "$SIP:873" -i img \
		--staging "$TRASH/stage1" --no-seed-wait -q >boel.out 2>boel.err &&
	grep -qx IMAGE_VERSION=1 nodes/n1/etc/swarmimager/installed &&
	tree_diff nodes/n1 v1 --exclude etc/swarmimager --exclude etc/hostname
'

test_expect_success 'n2..n4 at v1 (extracted version 1, installed record)' '
	for n in n2 n3 n4; do reset_node $n || return 1; done &&
	tree_diff nodes/n2 v1 --exclude etc/swarmimager
'

test_expect_success 'image changed (~1%), packed as version 2; delta v1->v2 and its torrent' '
	make_v2 v1 v2 >changed-bytes &&
	rm -rf "$BASE/images/img" && cp -a v2 "$BASE/images/img" &&
	si_installbtimage --base "$BASE" --address "$SIP" -q &&
	echo 2 >want && test_cmp want "$BASE/tarballs/image-img.version" &&
	test -f "$BASE/tarballs/versions/image-img.v1.tar.gz" &&
	test "$BASE/tarballs/image-img.tar.gz" -ef \
		"$BASE/tarballs/versions/image-img.v2.tar.gz" &&
	grep -aq "swarmimager image img version 2" \
		"$BASE/torrents/image-img.tar.gz.torrent" &&
	si_mkdelta --base "$BASE" --image img --from 1 --address "$SIP" >mk.out &&
	cat mk.out &&
	test -f "$BASE/tarballs/delta-img-v1-v2.tar" &&
	test -f "$BASE/torrents/delta-img-v1-v2.tar.torrent" &&
	tar -xOf "$BASE/tarballs/delta-img-v1-v2.tar" DELTA-INDEX >index &&
	grep -qx "@from	1" index && grep -qx "@to	2" index &&
	img=$(du -sb --apparent-size v2 | cut -f1) &&
	pkg=$(stat -c %s "$BASE/tarballs/delta-img-v1-v2.tar") &&
	echo "image $img bytes, delta package $pkg bytes ($((pkg * 10000 / img))/10000 of the image)" >figures
'
say "$(cat figures 2>/dev/null)"

test_expect_success 'si_mkdelta: unknown version and bad usage' '
	expect_exit 1 si_mkdelta --base "$BASE" --image img --from 7 \
		--address "$SIP" 2>err && cat err &&
	grep -q "version 7 of image .img. is not kept .*(kept: 1 2)" err &&
	! test -e "$BASE/tarballs/delta-img-v7-v2.tar" &&
	expect_exit 2 si_mkdelta --base "$BASE" --image img 2>err &&
	expect_exit 2 si_mkdelta --image img --from 1 -o x.tar 2>err
'

test_expect_success 'the seeder seeds the delta' '
	wait_for 20 sh -c "test -f $BASE/run/tracker/whitelist &&
		test \$(wc -l <$BASE/run/tracker/whitelist) -ge 2"
'

test_expect_success 'all 4 nodes update at once by the delta over the swarm' '
	before=$(cluster_tx_bytes server) && start=$(date +%s%N) &&
	pids= &&
	for n in $NODES; do
		update $n >$n.out 2>$n.err & pids="$pids $!"
	done &&
	ok=0 && for p in $pids; do wait $p || ok=1; done &&
	ms=$(( ($(date +%s%N) - start) / 1000000 )) &&
	sent=$(( $(cluster_tx_bytes server) - before )) &&
	echo "4 nodes updated in $ms ms (lingering included), server sent $sent bytes" >>figures &&
	cat n1.err && test $ok = 0 &&
	for n in $NODES; do
		grep -q "by delta over BitTorrent" $n.err &&
		same_as_v2 $n &&
		grep -qx VERSION=2 nodes/$n/etc/swarmimager/updated &&
		grep -qx METHOD=delta nodes/$n/etc/swarmimager/updated || return 1
	done &&
	! ls tmp | grep -q . 
'
say "$(tail -n 1 figures 2>/dev/null)"

test_expect_success 'at the version already: checked with rsync' '
	update n1 --no-seed-wait 2>again.err &&
	grep -q "is at version 2 of image .img. already" again.err &&
	same_as_v2 n1
'

test_expect_success 'a node killed during apply finishes over the swarm on re-run' '
	reset_node n1 &&
	n=$(grep -c -v "^[#@]" index) && k=$(( n / 2 )) &&
	{ SI_DELTA_ABORT_AFTER=$k update n1 2>kill.err; test $? -eq 137; } &&
	! test -e nodes/n1/etc/swarmimager/updated &&
	! same_as_v2 n1 >/dev/null &&
	update n1 --no-seed-wait 2>rerun.err &&
	grep -q "by delta over BitTorrent" rerun.err &&
	same_as_v2 n1 && grep -qx VERSION=2 nodes/n1/etc/swarmimager/updated
'

test_expect_success 'a locally drifted file is fetched whole from the server' '
	reset_node n2 && echo "local edit" >>nodes/n2/usr/lib/big0.bin &&
	update n2 --no-seed-wait 2>drift.err &&
	grep -q "big0.bin.* fetching it whole" drift.err &&
	same_as_v2 n2
'

test_expect_success 'no recorded version: rsync mode, said so' '
	reset_node n3 && rm nodes/n3/etc/swarmimager/installed &&
	update n3 2>norec.err &&
	grep -q "records no version of image .img.: syncing with rsync" norec.err &&
	same_as_v2 n3 && grep -qx METHOD=rsync nodes/n3/etc/swarmimager/updated &&
	: the tree of the current version came: its version is recorded &&
	grep -qx VERSION=2 nodes/n3/etc/swarmimager/updated
'

test_expect_success 'no delta for the node'"'"'s version: rsync mode, said so' '
	reset_node n4 &&
	sed -i s/IMAGE_VERSION=1/IMAGE_VERSION=5/ nodes/n4/etc/swarmimager/installed &&
	update n4 2>nodelta.err &&
	grep -q "no delta delta-img-v5-v2.tar on the server" nodelta.err &&
	same_as_v2 n4
'

test_expect_success '--keep-versions 2 keeps versions 2 and 3, prunes 1' '
	echo more >"$BASE/images/img/etc/extra" &&
	si_installbtimage --base "$BASE" --address "$SIP" -q --keep-versions 2 &&
	echo 3 >want && test_cmp want "$BASE/tarballs/image-img.version" &&
	! test -e "$BASE/tarballs/versions/image-img.v1.tar.gz" &&
	! test -e "$BASE/tarballs/versions/image-img.v1.manifest" &&
	test -e "$BASE/tarballs/versions/image-img.v2.tar.gz" &&
	test -e "$BASE/tarballs/versions/image-img.v3.manifest"
'

test_done
