#!/bin/bash
test_description='si_updateclient in rsync mode against a real rsync daemon'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-update.sh"
require_root
require_cmd rsync python3

EXCL="$SRC_DIR/etc/updateclient.local.exclude"
UC="--exclude-file=$EXCL --no-bootloader"

# make_node DIR: an installed node at v1 with local state: its own
# hostname (excluded), a home directory (excluded), a stray file (not).
make_node() {
	cp -a v1 "$1" &&
	echo node1 >"$1/etc/hostname" &&
	mkdir -p "$1/home/user" && echo mine >"$1/home/user/notes" &&
	mkdir -p "$1/srv" && echo stray >"$1/srv/local.txt"
}
# node_is_v2 DIR: the image's tree except what the excludes protect.
node_is_v2() {
	local d=$1; shift
	tree_diff "$d" base/images/img --exclude etc/hostname --exclude home \
		--exclude etc/swarmimager "$@"
}

test_expect_success 'setup: image, override, cluster table, rsync daemon' '
	make_v1 v1 && make_v2 v1 v2 >/dev/null &&
	mkdir -p base/images base/overrides/ov1/etc base/scripts &&
	cp -a v2 base/images/img && mkdir base/images/img/home &&
	echo "from the override" >base/overrides/ov1/etc/app.conf &&
	echo "motd" >base/overrides/ov1/etc/motd &&
	printf "%s\n" "# host:group:image:override" "node7:compute:img:ov1" \
		"other:compute:nope:" >base/scripts/cluster.txt &&
	start_rsyncd "$TRASH/base"
'

test_expect_success '--dry-run lists changes and changes nothing' '
	make_node n0 && cp -a n0 n0.before &&
	si_updateclient --server "$SERVER" --image img --directory n0 $UC \
		--dry-run >dry.out 2>dry.err &&
	cat dry.out && grep -q "usr/lib/big0.bin" dry.out &&
	grep -q "deleting *srv/local.txt" dry.out &&
	tree_diff n0 n0.before
'

test_expect_success 'an update syncs the image, honours excludes, records it' '
	make_node n1 &&
	si_updateclient --server "$SERVER" --image img --directory n1 $UC --yes &&
	node_is_v2 n1 &&
	test "$(cat n1/etc/hostname)" = node1 &&
	test "$(cat n1/home/user/notes)" = mine &&
	! test -e n1/srv/local.txt &&
	grep -qx IMAGE=img n1/etc/swarmimager/updated &&
	grep -qx SERVER=$SERVER n1/etc/swarmimager/updated &&
	grep -qx METHOD=rsync n1/etc/swarmimager/updated &&
	grep -Eq "^TIME=[0-9-]+T[0-9:]+Z\$" n1/etc/swarmimager/updated
'

test_expect_success '--no-delete keeps files the image does not have' '
	make_node n2 &&
	si_updateclient --server "$SERVER" --image img --directory n2 $UC \
		--yes --no-delete &&
	test "$(cat n2/srv/local.txt)" = stray &&
	tree_diff n2 base/images/img --exclude etc/hostname --exclude home \
		--exclude etc/swarmimager --exclude srv --exclude var/old \
		--exclude usr/share/d05/f005.txt &&
	test -e n2/var/old/sub/gone2.txt
'

test_expect_success 'overrides are applied after the image, without delete' '
	make_node n3 &&
	si_updateclient --server "$SERVER" --image img --override ov1 \
		--directory n3 $UC --yes &&
	test "$(cat n3/etc/app.conf)" = "from the override" &&
	test "$(cat n3/etc/motd)" = motd &&
	node_is_v2 n3 --exclude etc/app.conf --exclude etc/motd &&
	grep -qx OVERRIDES=ov1 n3/etc/swarmimager/updated
'

test_expect_success 'without --image the cluster table gives image and overrides' '
	make_node n4 &&
	si_updateclient --server "$SERVER" --hostname node7.example.org \
		--directory n4 $UC --yes 2>table.err &&
	grep -q "uses image .img. (cluster table)" table.err &&
	test "$(cat n4/etc/app.conf)" = "from the override" &&
	grep -qx IMAGE=img n4/etc/swarmimager/updated &&
	grep -qx OVERRIDES=ov1 n4/etc/swarmimager/updated
'

test_expect_success 'a host missing from the cluster table: clear error, nothing changed' '
	make_node n5 && cp -a n5 n5.before &&
	expect_exit 1 si_updateclient --server "$SERVER" --hostname stranger \
		--directory n5 $UC --yes 2>err && cat err &&
	grep -q "host .stranger. is not in the cluster table" err &&
	tree_diff n5 n5.before
'

test_expect_success 'an unknown image: clear error, nothing changed' '
	expect_exit 1 si_updateclient --server "$SERVER" --image nope \
		--directory n5 $UC --yes 2>err && cat err &&
	grep -q "image .nope. not found on the server" err &&
	expect_exit 1 si_updateclient --server "$SERVER" --image img \
		--override nope --directory n5 $UC --yes 2>err && cat err &&
	grep -q "override .nope. not found on the server" err &&
	tree_diff n5 n5.before
'

test_expect_success 'an unreachable server: clear error, exit 1' '
	port=$(free_port) &&
	expect_exit 1 si_updateclient --server 127.0.0.1:$port --image img \
		--directory n5 $UC --yes 2>err && cat err &&
	grep -q "cannot reach the rsync server .127.0.0.1:$port." err &&
	test $(wc -l <err) -eq 1 && tree_diff n5 n5.before
'

test_expect_success 'no --yes and no terminal: refused, exit 2' '
	expect_exit 2 si_updateclient --server "$SERVER" --image img \
		--directory n5 $UC </dev/null 2>err && cat err &&
	grep -q "refusing to update .n5. without --yes" err &&
	tree_diff n5 n5.before
'

test_expect_success 'usage errors: exit 2' '
	expect_exit 2 si_updateclient --image img --directory n5 --yes &&
	expect_exit 2 si_updateclient --server "$SERVER" --image ../x --yes &&
	expect_exit 2 si_updateclient --server "$SERVER" --bogus &&
	expect_exit 1 si_updateclient --server "$SERVER" --image img \
		--directory n5 --exclude-file nope.exclude --yes 2>err &&
	grep -q "cannot open exclude file .nope.exclude." err
'

test_done
