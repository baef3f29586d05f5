#!/bin/bash
test_description='si_boel: overrides chosen and applied in SystemImager order'
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-server.sh"
require_root
require_cmd rsync opentracker mktorrent aria2c python3

ORDER="img global low highov grp-a n1 x1 x2"

test_expect_success 'server with an image and many overrides' '
	server_fixture_init &&
	fixture_image_tree "$SRV/images/img" &&
	fixture_pack image img &&
	fixture_image_tree "$SRV/images/other" 2 &&
	fixture_pack image other &&
	for o in $ORDER other unused; do
		mkdir -p "$SRV/overrides/$o/etc" &&
		echo "$o" >"$SRV/overrides/$o/etc/motd" &&
		echo "$o" >"$SRV/overrides/$o/etc/layer-$o" || return 1
	done &&
	chown 123:456 "$SRV/overrides/low/etc/layer-low" &&
	chmod 600 "$SRV/overrides/low/etc/layer-low" &&
	for o in img highov n1 x2; do fixture_pack override $o || return 1; done &&
	cat >"$SRV/scripts/cluster.txt" <<-EOF &&
	# host:group:image:override
	*:all::global
	n1:low:img:
	n2:other:img:other
	n1:high:img:highov
	EOF
	start_server_fixture
'

test_expect_success 'image from cluster.txt, overrides in order, last wins' '
	boel t1 --hostname n1 --groupname grp-a --overrides x1,x2 >o1 2>e1; rc=$?
	cat e1 o1; test $rc = 0 &&
	grep -Eo "override [0-9]/[0-9] \([^)]*\): [^ ]+ (installed|by rsync)" e1 |
		sed "s/.*: //; s/ .*//; s/override-//; s/\.tar\.gz//" >got &&
	printf "%s\n" $ORDER >want && test_cmp want got &&
	test "$(cat t1/etc/motd)" = x2 &&
	for o in $ORDER; do test "$(cat t1/etc/layer-$o)" = $o || return 1; done &&
	! test -e t1/etc/layer-other && ! test -e t1/etc/layer-unused &&
	test "$(stat -c %u:%g:%a t1/etc/layer-low)" = 123:456:600 &&
	grep "^OVERRIDES=\"$ORDER\"$" t1/etc/swarmimager/installed &&
	grep "^IMAGENAME=img$" t1/etc/swarmimager/installed
'

# A node fetches its own image's torrent and the overrides', not every
# image's (megabytes each on a server with many large images).
test_expect_success 'only the chosen image torrent was fetched' '
	grep " send .* torrents () image-img.tar.gz.torrent" "$SRV/run/rsyncd.log" &&
	grep " send .* torrents () override-x2.tar.gz.torrent" "$SRV/run/rsyncd.log" &&
	! grep "image-other" "$SRV/run/rsyncd.log"
'

test_expect_success 'the result equals image + overrides copied in order (cp -a)' '
	cp -a "$SRV/images/img" exp &&
	for o in $ORDER; do cp -a "$SRV/overrides/$o/." exp/ || return 1; done &&
	tree_diff exp t1 --exclude etc/swarmimager
'

test_expect_success 'missing optional overrides are skipped with a note' '
	boel t2 --image img --hostname lonely --no-seed-wait >o2 2>e2 &&
	grep "no override .lonely. on the server, skipped" e2 &&
	grep "override 2/3 (global): override-global\|override 2/3 (global): global" e2
'

test_expect_success 'a missing explicit override fails the install' '
	expect_exit 1 boel t3 --image img --hostname n9 --overrides nosuch \
		--no-seed-wait >o3 2>e3 &&
	grep "override .nosuch. (from OVERRIDES) is not on the server" e3 &&
	grep "no completion record" o3 &&
	! test -e t3/etc/swarmimager/installed
'

test_expect_success 'no IMAGENAME anywhere: clear error' '
	expect_exit 1 boel t4 --hostname n9 >o4 2>e4 &&
	grep "IMAGENAME is not set and cluster.txt names no image for .n9." e4
'
test_done
