#!/bin/bash
test_description='si_boel: one node installs an image over BitTorrent'
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-server.sh"
require_root
require_cmd rsync opentracker mktorrent aria2c python3

test_expect_success 'server fixture' '
	server_fixture_init &&
	fixture_image_tree "$SRV/images/img" &&
	fixture_pack image img &&
	start_server_fixture
'

test_expect_success 'install into an empty target' '
	boel t1 --image img --hostname n1 >out 2>err; rc=$?; cat out err;
	test $rc -eq 0 &&
	tree_diff "$SRV/images/img" t1 --exclude etc/swarmimager &&
	grep "^IMAGENAME=img$" t1/etc/swarmimager/installed &&
	grep "installed image img" out
'
test_done
