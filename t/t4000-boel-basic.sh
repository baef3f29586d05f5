#!/bin/bash
test_description='si_boel: one node installs an image over BitTorrent'
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-server.sh"
require_root
require_cmd rsync opentracker mktorrent aria2c python3 strace

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
test_expect_success 'settings: options > local.cfg > kernel command line' '
	echo "BOOT_IMAGE=/vmlinuz console=ttyS0 IMAGESERVER=$IMAGESERVER IMAGENAME=bogus BITTORRENT_SEED_WAIT=y HOSTNAME=cmd" >cmdline &&
	printf "%s\n" "# local.cfg" "IMAGENAME=img" "HOSTNAME=cfg" "BITTORRENT_POLLING_TIME=2" >local.cfg &&
	mkdir -p t2 &&
	si_boel --target t2 --cmdline cmdline --config local.cfg \
		--listen 127.0.0.1:0 --seed-wait n -v >out2 2>err2; rc=$?; cat err2;
	test $rc = 0 &&
	grep "^IMAGENAME=img$" t2/etc/swarmimager/installed &&
	grep "leaving the swarm: BITTORRENT_SEED_WAIT=n" err2 &&
	grep "no override .cfg. on the server" err2 &&
	tree_diff "$SRV/images/img" t2 --exclude etc/swarmimager
'

test_expect_success 'reinstall over an existing target; a failed one leaves no record' '
	echo stale >t1/etc/issue && echo extra >t1/stray &&
	boel t1 --image img --no-seed-wait >out3 2>err3 &&
	test "$(cat t1/etc/issue)" = "image 1" && test -f t1/etc/swarmimager/installed &&
	expect_exit 1 boel t1 --image nosuch --no-seed-wait >out4 2>err4 &&
	! test -e t1/etc/swarmimager/installed &&
	grep "no completion record" out4
'

# An rsync session is many small exchanges; with Nagle's algorithm on,
# each could wait for the daemon's delayed ACK (40 ms).
test_expect_success 'every rsync it runs sets TCP_NODELAY' '
	mkdir -p trace &&
	BOEL_WRAP="strace -f -ff -qq -e trace=execve,setsockopt -o trace/p" \
		boel t6 --image img --hostname n1 --no-seed-wait >out6 2>err6 &&
	tree_diff "$SRV/images/img" t6 --exclude etc/swarmimager &&
	runs=0 &&
	for f in trace/p.*; do
		grep -q "execve(\"[^\"]*/rsync\".* = 0\$" "$f" || continue
		runs=$((runs + 1))
		grep -q "TCP_NODELAY, \[1\]" "$f" || { echo "no TCP_NODELAY in $f"; return 1; }
	done &&
	echo "$runs rsync runs" && [ "$runs" -ge 3 ]
'

# libtorrent 2.0.8 parses OpenSSL's CA bundle in every session it starts
# (25 ms of CPU per node, all nodes starting at once); SwarmImager's
# sessions leave it to the hashed directory, unless the user names a CA
# file or a CA directory of their own.
test_expect_success 'the BitTorrent session skips the system CA bundle, not a CA file or directory of the user' '
	set -- $(python3 -c "import ssl, os
p = ssl.get_default_verify_paths().openssl_cafile
print(p, os.path.realpath(p))") &&
	def=$1 real=$2 && test -n "$real" &&
	: >my-ca.pem && mkdir -p my-ca.d &&
	for v in unset system file dir; do
		rm -rf t7 &&
		(unset SSL_CERT_FILE SSL_CERT_DIR;
		 case $v in
		 system) export SSL_CERT_FILE="$real" ;;
		 file) export SSL_CERT_FILE="$TRASH/my-ca.pem" ;;
		 dir) export SSL_CERT_DIR="$TRASH/my-ca.d" ;;
		 esac;
		 BOEL_WRAP="strace -f -qq -e trace=openat -o trace7" \
			boel t7 --image img --hostname n1 --no-seed-wait) \
			>out7 2>err7 &&
		tree_diff "$SRV/images/img" t7 --exclude etc/swarmimager &&
		grep -c -F -e "\"$def\"" -e "\"$real\"" -e my-ca.pem trace7 >opened7;
		echo "$v: $(cat opened7) opened" &&
		case $v in
		file|dir) test "$(cat opened7)" -ge 1 ;;
		*) test "$(cat opened7)" = 0 ;;
		esac || return 1
	done
'

test_expect_success 'download-then-extract (--no-overlap) gives the same tree' '
	boel t5 --image img --no-overlap --no-seed-wait >out5 2>err5 &&
	grep "extraction alone" err5 &&
	tree_diff "$SRV/images/img" t5 --exclude etc/swarmimager
'
test_done
