#!/bin/bash
test_description='si_boel: three nodes install at once, with overrides, and leave when nobody needs them'
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-server.sh"
require_root
require_cmd rsync opentracker mktorrent aria2c python3

# Overrides: each writes etc/motd; the last applied wins.
make_override() {
	mkdir -p "$SRV/overrides/$1/etc" &&
	echo "$1" >"$SRV/overrides/$1/etc/motd" &&
	echo "only $1" >"$SRV/overrides/$1/etc/only-$1"
}

test_expect_success 'server with an image and overrides' '
	server_fixture_init &&
	fixture_image_tree "$SRV/images/img" &&
	fixture_big_tree "$SRV/images/img" 12 &&
	fixture_pack image img &&
	for o in img global compute n1 n2 n3 extra; do make_override $o || return 1; done &&
	for o in img global n1 n2 extra; do fixture_pack override $o || return 1; done &&
	printf "%s\n" "# host:group:image:override" "*:all::global" \
		"n1:compute:img:compute" "n2:compute:img:compute" >"$SRV/scripts/cluster.txt" &&
	start_server_fixture 3M
'

expected() {
	rm -rf "exp-$1" && cp -a "$SRV/images/img" "exp-$1" && shift &&
	for o in "$@"; do
		cp -a "$SRV/overrides/$o/." "exp-${exp_node}/" || return 1
	done
}

test_expect_success 'three nodes install concurrently' '
	for n in n1 n2 n3; do
		( boel "t-$n" --image img --hostname $n --overrides extra \
			--upload-min 0 >"$n.out" 2>"$n.err"; echo $? >"$n.rc" ) &
	done
	wait_for 90 test -s n1.rc -a -s n2.rc -a -s n3.rc &&
	for n in n1 n2 n3; do
		cat $n.err; test "$(cat $n.rc)" = 0 || return 1
	done
'

test_expect_success 'each target equals the image plus its overrides, in order' '
	exp_node=n1 expected n1 img global compute n1 extra &&
	exp_node=n2 expected n2 img global compute n2 extra &&
	exp_node=n3 expected n3 img global n3 extra &&
	for n in n1 n2 n3; do
		tree_diff "exp-$n" "t-$n" --exclude etc/swarmimager || return 1
		test "$(cat t-$n/etc/motd)" = extra || return 1
	done &&
	grep "^OVERRIDES=\"img global compute n1 extra\"" t-n1/etc/swarmimager/installed &&
	grep "^OVERRIDES=\"img global n3 extra\"" t-n3/etc/swarmimager/installed
'

test_expect_success 'overrides without a torrent came by rsync' '
	grep "override 3/5 (group compute): compute by rsync" n1.err &&
	grep "override 3/4 (hostname): n3 by rsync" n3.err &&
	grep "override 4/5 (hostname): override-n1.tar.gz installed" n1.err
'

test_expect_success 'every node left because nobody needed it any more' '
	for n in n1 n2 n3; do
		grep "leaving the swarm: no peer interested" $n.err || return 1
		grep "installed image img" $n.out || return 1
	done
'

test_expect_success 'staging removed' '
	! ls -d /dev/shm/si_boel.* 2>/dev/null | xargs -r -n1 sh -c "grep -l img \$0/* 2>/dev/null" | grep .
'
test_done
