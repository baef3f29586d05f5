#!/bin/bash
test_description='si_seeder: torrents added, changed or removed while it runs; bad torrents logged once'
. "$(dirname "$0")/test-lib.sh" && . "$TEST_DIR/lib-seeder.sh"

test_expect_success 'setup: one good image, three unusable torrents' '
	make_image alpha 1000 &&
	printf "d4:infod4:name3:abce" >"$BASE/torrents/junk.torrent" &&
	make_image short 200 &&
	truncate -s 1000 "$BASE/tarballs/image-short.tar.gz" &&
	make_image late 300 &&
	mv "$BASE/tarballs/image-late.tar.gz" late.tar.gz &&
	echo stale >"$BASE/torrents/image-gone.tar.gz.torrent.head" &&
	start_seeder &&
	grep -q " torrents 1\$" seeder.out
'

test_expect_success 'only the good torrent is whitelisted and served' '
	info_hash "$BASE/torrents/image-alpha.tar.gz.torrent" >expect &&
	whitelist >actual &&
	test_cmp expect actual &&
	fetch alpha
'

# head_hash FILE: the info-hash in a torrent head (si_boel fetches the head
# and the info dictionary from its peers).
head_hash() {
	python3 -c "import sys; d = open(sys.argv[1], \"rb\").read()
i = d.index(b\"9:info-hash20:\") + 14; print(d[i:i + 20].hex())" "$1"
}

test_expect_success 'the seeded torrent has a head, the others none; a stale head went' '
	head_hash "$BASE/torrents/image-alpha.tar.gz.torrent.head" >actual &&
	test_cmp expect actual &&
	ls "$BASE/torrents" | grep "\.head$" >heads &&
	echo image-alpha.tar.gz.torrent.head >want &&
	test_cmp want heads
'

test_expect_success 'each unusable torrent is reported with its reason' '
	grep "junk.torrent" seeder.err | grep -q "cannot load torrent" &&
	grep -q "size of .*image-short.tar.gz. (1000 bytes) does not match torrent .image-short.tar.gz.torrent." seeder.err &&
	grep -q "cannot use .*image-late.tar.gz. for torrent .image-late.tar.gz.torrent.: No such file" seeder.err
'

test_expect_success 'a torrent added while running is seeded without restart' '
	make_image gamma 500 &&
	wait_for 15 grep -q "seeding .image-gamma.tar.gz." seeder.err &&
	info_hash "$BASE/torrents/image-gamma.tar.gz.torrent" >gamma.hash &&
	whitelist | grep -qx "$(cat gamma.hash)" &&
	wait_for 10 tracker_allows "$(cat gamma.hash)" &&
	fetch gamma
'

test_expect_success 'a head that cannot be written: said, the torrent seeded all the same' '
	mkdir "$BASE/torrents/image-delta.tar.gz.torrent.head" &&
	make_image delta 200 &&
	wait_for 15 grep -q "seeding .image-delta.tar.gz." seeder.err &&
	grep "cannot rename .*image-delta.tar.gz.torrent.head" seeder.err &&
	fetch delta &&
	rm "$BASE/torrents/image-delta.tar.gz.torrent" &&
	wait_for 15 grep -q "torrent .image-delta.tar.gz.torrent. removed" seeder.err &&
	rmdir "$BASE/torrents/image-delta.tar.gz.torrent.head"
'

test_expect_success 'bad torrents were logged once only, over several rescans' '
	[ "$(grep -c "junk.torrent" seeder.err)" -eq 1 ] &&
	[ "$(grep -c "image-short.tar.gz" seeder.err)" -eq 1 ] &&
	[ "$(grep -c "image-late.tar.gz" seeder.err)" -eq 1 ]
'

test_expect_success 'a tarball that appears later gets seeded' '
	mv late.tar.gz "$BASE/tarballs/image-late.tar.gz" &&
	wait_for 15 grep -q "seeding .image-late.tar.gz." seeder.err &&
	fetch late
'

test_expect_success 'a changed torrent (same name, new info-hash) is reseeded' '
	old=$(info_hash "$BASE/torrents/image-alpha.tar.gz.torrent") &&
	make_image alpha 700 &&
	new=$(info_hash "$BASE/torrents/image-alpha.tar.gz.torrent") &&
	[ "$old" != "$new" ] &&
	wait_for 15 grep -q "torrent .image-alpha.tar.gz.torrent. changed ($new, was $old)" seeder.err &&
	wait_for 10 sh -c "grep -qx $new $BASE/run/tracker/whitelist" &&
	! whitelist | grep -qx "$old" &&
	wait_for 10 tracker_allows "$new" &&
	! tracker_allows "$old" &&
	wait_for 10 eval "test \"\$(head_hash \"$BASE/torrents/image-alpha.tar.gz.torrent.head\" 2>/dev/null)\" = $new" &&
	fetch alpha
'

test_expect_success 'a removed torrent leaves the whitelist and the tracker' '
	rm "$BASE/torrents/image-gamma.tar.gz.torrent" &&
	wait_for 15 grep -q "torrent .image-gamma.tar.gz.torrent. removed" seeder.err &&
	! whitelist | grep -qx "$(cat gamma.hash)" &&
	wait_for 10 tracker_refuses "$(cat gamma.hash)" &&
	! test -e "$BASE/torrents/image-gamma.tar.gz.torrent.head"
'

test_expect_success 'a malformed torrent replacing a good one is reported, others serve on' '
	printf "garbage" >"$BASE/torrents/image-late.tar.gz.torrent.new" &&
	mv "$BASE/torrents/image-late.tar.gz.torrent.new" "$BASE/torrents/image-late.tar.gz.torrent" &&
	wait_for 15 grep -q "cannot load torrent .*image-late.tar.gz.torrent" seeder.err &&
	whitelist >wl && [ "$(wc -l <wl)" -eq 1 ] &&
	fetch alpha &&
	kill -0 "$SEEDER_PID"
'

test_expect_success 'with every torrent gone the tracker refuses them all' '
	h=$(info_hash "$BASE/torrents/image-alpha.tar.gz.torrent") &&
	tracker_allows "$h" &&
	rm "$BASE"/torrents/*.torrent &&
	wait_for 15 grep -q "tracker whitelist now has 0 info-hashes" seeder.err &&
	[ -z "$(whitelist)" ] &&
	wait_for 10 tracker_refuses "$h"
'

test_done
