#!/bin/bash
test_description='delta packages: si_mkdelta, apply, restart, drift, corruption'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-update.sh"
require_root
require_cmd rsync tar python3

: >none.exclude
XOPTS="--exclude-file=$TRASH/none.exclude --no-bootloader --yes"

# apply_to DIR [OPTS]: si_updateclient --delta d.tar on DIR.
apply_to() {
	local dir=$1; shift
	si_updateclient --delta "$TRASH/d.tar" --directory "$dir" $XOPTS "$@"
}
same_as_v2() { tree_diff "$1" v2 --exclude etc/swarmimager; }

test_expect_success 'setup: v1, v2 (~1% changed) and their GNU tar tarballs' '
	make_v1 v1 && make_v2 v1 v2 >changed-bytes &&
	make_tarball v1 "$TRASH/v1.tar.gz" && make_tarball v2 "$TRASH/v2.tar.gz" &&
	! tree_diff v1 v2 >/dev/null
'

test_expect_success 'si_mkdelta builds a package a small fraction of the image' '
	start=$(date +%s%N) &&
	si_mkdelta --from-tarball v1.tar.gz --to-tarball v2.tar.gz -o d.tar \
		--image img --from-version 1 --to-version 2 >mk.out &&
	ms=$(( ($(date +%s%N) - start) / 1000000 )) &&
	cat mk.out &&
	grep -q "^si_mkdelta: wrote .d.tar.: " mk.out &&
	img=$(du -sb --apparent-size v2 | cut -f1) &&
	changed=$(cat changed-bytes) &&
	pkg=$(stat -c %s d.tar) &&
	echo "image $img bytes ($changed changed), tarball $(stat -c %s v2.tar.gz), delta $pkg bytes ($((pkg * 1000 / img))/1000), built in $ms ms" >figures &&
	cat figures && test "$pkg" -lt $((img / 20)) &&
	tar -tf d.tar >members && head -n 1 members >first &&
	echo DELTA-INDEX >want && test_cmp want first &&
	tar -xOf d.tar DELTA-INDEX >index &&
	grep -q "^patch	usr/lib/big0.bin	" index &&
	grep -q "^patch	usr/lib/big2.bin	" index &&
	grep -q "^remove	var/old	" index &&
	grep -q "^symlink	current	" index &&
	grep -q "^hardlink	usr/lib/big1.link	" index &&
	grep -q "^meta	usr/share/d13/f013.txt	" index &&
	grep -q "^meta	usr/share/d12/f012.txt	f	0755	" index &&
	grep -q "^meta	usr/share/d14/f014.txt	.*user.si.test=76616c756501\$" index &&
	grep -q "^@to	2\$" index &&
	tail -n 1 index | grep -Eq "^end	[0-9]+	[0-9a-f]{64}\$"
'
say "$(cat figures 2>/dev/null)"

test_expect_success 'a zstd package works the same' '
	si_mkdelta --from-tarball v1.tar.gz --to-tarball v2.tar.gz -o dz.tar.zst \
		--zstd --image img >/dev/null &&
	zstd -dc dz.tar.zst | tar -t | head -n 1 | grep -qx DELTA-INDEX &&
	cp -a v1 tz && si_updateclient --delta "$TRASH/dz.tar.zst" --directory tz $XOPTS &&
	same_as_v2 tz
'

test_expect_success 'applying to a copy of v1 gives v2 and records the version' '
	cp -a v1 t1 &&
	start=$(date +%s%N) && apply_to t1 2>apply.err &&
	echo "applied in $(( ($(date +%s%N) - start) / 1000000 )) ms" >>figures &&
	cat apply.err && same_as_v2 t1 &&
	grep -qx IMAGE=img t1/etc/swarmimager/updated &&
	grep -qx VERSION=2 t1/etc/swarmimager/updated &&
	grep -qx METHOD=delta t1/etc/swarmimager/updated &&
	! ls -A t1 | grep -q si-delta
'
say "$(tail -n 1 figures 2>/dev/null)"

test_expect_success 'applying again changes nothing and succeeds' '
	apply_to t1 2>again.err && grep -q "0 patched, 0 whole" again.err &&
	same_as_v2 t1
'

test_expect_success 'a node recorded at another version is refused' '
	cp -a t1 t7 && sed -i "s/^VERSION=.*/VERSION=0/" t7/etc/swarmimager/updated &&
	cp -a t7 t7.before &&
	expect_exit 1 apply_to t7 2>ver.err && cat ver.err &&
	grep -q "goes from version .1. but .*t7. is at .0." ver.err &&
	tree_diff t7 t7.before
'

test_expect_success 'dry run lists the operations and changes nothing' '
	cp -a v1 tdry && apply_to tdry --dry-run >dry.out &&
	grep -qx "patch usr/lib/big0.bin" dry.out &&
	grep -qx "remove var/old" dry.out &&
	tree_diff tdry v1
'

test_expect_success 'an interrupted apply (killed after K operations) finishes on re-run' '
	cp -a v1 t2 &&
	n=$(grep -c -v "^[#@]" index) && k=$(( n / 2 )) &&
	{ SI_DELTA_ABORT_AFTER=$k apply_to t2; test $? -eq 137; } &&
	! test -e t2/etc/swarmimager/updated &&
	! same_as_v2 t2 >/dev/null &&
	: a kill inside a write leaves a temporary file: &&
	echo partial >t2/usr/lib/.si-delta.big2.bin &&
	apply_to t2 && same_as_v2 t2 &&
	grep -qx VERSION=2 t2/etc/swarmimager/updated
'

test_expect_success 'a locally drifted file without a server: error, no record' '
	cp -a v1 t3 && echo "local edit" >>t3/usr/lib/big0.bin &&
	expect_exit 1 apply_to t3 2>drift.err && cat drift.err &&
	grep -q "big0.bin.* has changed locally" drift.err &&
	! test -e t3/etc/swarmimager/updated
'

test_expect_success 'a drifted file is fetched whole from a real rsync daemon' '
	mkdir -p base/images base/overrides base/scripts &&
	cp -a v2 base/images/img &&
	start_rsyncd "$TRASH/base" &&
	echo "local edit" >>t3/etc/app.conf &&
	apply_to t3 --server "$SERVER" 2>fetch.err && cat fetch.err &&
	grep -q "big0.bin.* fetching it whole" fetch.err &&
	grep -q "app.conf.* fetching it whole" fetch.err &&
	same_as_v2 t3 && grep -qx SERVER=$SERVER t3/etc/swarmimager/updated
'

test_expect_success 'excluded paths are left alone by a delta' '
	cp -a v1 t4 && echo "/etc/app.conf" >app.exclude &&
	si_updateclient --delta d.tar --directory t4 --exclude-file app.exclude \
		--no-bootloader --yes &&
	tree_diff t4 v2 --exclude etc/swarmimager --exclude etc/app.conf &&
	cmp t4/etc/app.conf v1/etc/app.conf
'

test_expect_success 'a removed directory keeps its excluded contents' '
	cp -a v1 t6 && echo "/var/old/sub/gone2.txt" >sub.exclude &&
	si_updateclient --delta d.tar --directory t6 --exclude-file sub.exclude \
		--no-bootloader --yes &&
	test -f t6/var/old/sub/gone2.txt && ! test -e t6/var/old/gone.txt &&
	tree_diff t6 v2 --exclude etc/swarmimager --exclude var/old
'

# flip_member TAR MEMBER: flips one byte in the middle of MEMBER'"'"'s data.
flip_member() {
	python3 - "$1" "$2" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    m = t.getmember(sys.argv[2])
    off = m.offset_data + m.size // 2
with open(sys.argv[1], "r+b") as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0x55]))
PY
}

test_expect_success 'a corrupted payload is refused and nothing changes' '
	cp d.tar d.good &&
	p=$(grep "^patch	usr/lib/big2.bin	" index | cut -f11) &&
	flip_member d.tar "$p" && cp -a v1 t5 &&
	expect_exit 1 apply_to t5 2>corrupt.err && cat corrupt.err &&
	grep -q "is corrupt: payload .$p. .* does not match" corrupt.err &&
	tree_diff t5 v1
'

test_expect_success 'a corrupted index is refused and nothing changes' '
	cp d.good d.tar && flip_member d.tar DELTA-INDEX &&
	expect_exit 1 apply_to t5 2>corrupt2.err && cat corrupt2.err &&
	grep -q "is corrupt" corrupt2.err && tree_diff t5 v1 &&
	cp d.good d.tar
'

test_expect_success 'a truncated package is refused' '
	head -c $(( $(stat -c %s d.good) / 2 )) d.good >d.tar &&
	expect_exit 1 apply_to t5 2>trunc.err && cat trunc.err &&
	tree_diff t5 v1 && cp d.good d.tar
'

test_expect_success 'si_mkdelta: bad input' '
	expect_exit 2 si_mkdelta --from-tarball v1.tar.gz -o x.tar &&
	expect_exit 2 si_mkdelta --bogus &&
	expect_exit 1 si_mkdelta --from-tarball nope.tar.gz \
		--to-tarball v2.tar.gz -o x.tar 2>bad.err &&
	grep -q "cannot open tarball .nope.tar.gz." bad.err &&
	echo "not a tarball" >junk.tar.gz &&
	expect_exit 1 si_mkdelta --from-tarball junk.tar.gz \
		--to-tarball v2.tar.gz -o x.tar &&
	! test -e x.tar && ! ls -A | grep -q si-mkdelta
'

test_done
