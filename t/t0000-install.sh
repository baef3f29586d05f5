#!/bin/bash
test_description='make install puts programs, man pages, unit, settings and example overrides in place'
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'make install DESTDIR= prefix=' '
	make -C "$SRC_DIR" --no-print-directory install DESTDIR="$TRASH/stage" \
		prefix=/usr >make.log 2>&1
'

test_expect_success 'every program is installed and runs' '
	for p in "$SRC_DIR"/server/si_*.c "$SRC_DIR"/client/si_*.c "$SRC_DIR"/boel/si_*.c; do
		p=$(basename "$p" .c) &&
		test -x stage/usr/sbin/$p &&
		stage/usr/sbin/$p --version | grep -q "^$p (SwarmImager)" || return 1
	done &&
	test -x stage/usr/sbin/mkboel
'

test_expect_success 'a man page for every program' '
	for p in stage/usr/sbin/*; do
		test -f stage/usr/share/man/man8/$(basename $p).8 || { echo "no man page: $p"; return 1; }
	done
'

test_expect_success 'systemd unit points at the installed seeder' '
	grep -q "^ExecStart=/usr/sbin/si_seeder" stage/lib/systemd/system/si_seeder.service
'

test_expect_success 'settings and example overrides' '
	test -f stage/etc/swarmimager/bittorrent.conf &&
	test -f stage/etc/swarmimager/updateclient.local.exclude &&
	test -f stage/usr/share/swarmimager/overrides/example/etc/ssh/sshd_config.d/50-cluster.conf
'

test_expect_success 'an existing settings file is not overwritten' '
	echo "BT_TRACKER_PORT=7000" >stage/etc/swarmimager/bittorrent.conf &&
	make -C "$SRC_DIR" --no-print-directory install DESTDIR="$TRASH/stage" \
		prefix=/usr >make.log 2>&1 &&
	grep -q 7000 stage/etc/swarmimager/bittorrent.conf
'

test_done
