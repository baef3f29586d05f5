/* Unit tests of lib/bt.cc: torrent creation, parsing, and a real transfer
 * between two libtorrent sessions on loopback, with the verified prefix. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt.h"
#include "log.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/si-unit-bt-XXXXXX";

static char *make_file(const char *name, size_t size)
{
	char *path = path_join(dir, name);
	char *buf = xmalloc(size);
	int fd;

	srand(42);
	for (size_t i = 0; i < size; i++)
		buf[i] = rand();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	write_all(fd, buf, size);
	close(fd);
	free(buf);
	return path;
}

static char *make_torrent(const char *file, struct bt_info *info)
{
	const char *trackers[] = { "http://127.0.0.1:1/announce", NULL };
	struct bt_create_config c = { file, trackers, NULL, 16384, NULL };
	char err[256], *buf, *out;
	size_t len;

	if (bt_create_torrent(&c, &buf, &len, info, err, sizeof(err)) < 0) {
		printf("# %s\n", err);
		return NULL;
	}
	out = xasprintf("%s.torrent", file);
	write_file_atomic(out, buf, len, 0644);
	free(buf);
	return out;
}

static void test_create(void)
{
	char *file = make_file("data.bin", 1000000), *tor, err[256];
	struct bt_info a, b, c;

	tor = make_torrent(file, &a);
	ok(tor != NULL, "creates a torrent");
	ok(a.num_pieces == (1000000 + 16383) / 16384, "piece count %d", a.num_pieces);
	ok(strlen(a.info_hash) == 40, "info-hash is hex SHA-1");
	is_str(a.name, "data.bin", "name is the file name");
	ok(bt_torrent_file_info(tor, &b, err, sizeof(err)) == 0 &&
	   !strcmp(a.info_hash, b.info_hash), "parses back to the same hash");
	sleep(1);
	free(make_torrent(file, &c));
	is_str(c.info_hash, a.info_hash, "same file, same info-hash later");

	char *bad = path_join(dir, "bad.torrent");
	write_file_atomic(bad, "d4:infod4:name3:abce", 20, 0644);
	ok(bt_torrent_file_info(bad, &b, err, sizeof(err)) < 0 &&
	   strstr(err, "bad.torrent"), "malformed torrent refused: %s", err);
	free(bad);
	free(tor);
	free(file);
}

/* bt_torrent_piece_ok: what si_boel uses to tell landed data from data
 * libtorrent has verified but not written yet. */
static void test_piece_ok(struct bt_torrent *t, const char *file,
			  const struct bt_info *info)
{
	int last = info->num_pieces - 1, plen = info->piece_length;
	long last_len = (long)(info->total_size - (int64_t)last * plen);
	char *buf = xmalloc(plen);
	int fd = open(file, O_RDONLY);

	ok(pread(fd, buf, plen, 0) == plen, "read piece 0");
	ok(bt_torrent_piece_ok(t, 0, buf, plen) == 1, "piece 0 matches its hash");
	ok(bt_torrent_piece_ok(t, 1, buf, plen) == 0, "not as piece 1");
	buf[100] ^= 1;
	ok(bt_torrent_piece_ok(t, 0, buf, plen) == 0, "one flipped bit: no match");
	memset(buf, 0, plen);
	ok(bt_torrent_piece_ok(t, 0, buf, plen) == 0, "zeros (not written yet): no match");
	ok(pread(fd, buf, last_len, (off_t)last * plen) == last_len, "read the last piece");
	ok(bt_torrent_piece_ok(t, last, buf, last_len) == 1, "the short last piece matches");
	ok(bt_torrent_piece_ok(t, last, buf, plen) == 0, "a wrong length never matches");
	ok(bt_torrent_piece_ok(t, -1, buf, plen) == 0 &&
	   bt_torrent_piece_ok(t, info->num_pieces, buf, plen) == 0,
	   "pieces out of range never match");
	close(fd);
	free(buf);
}

static void test_transfer(void)
{
	char *file = make_file("img.bin", 3000000), *tor, err[256];
	char *seeddir = dir, *leechdir = path_join(dir, "leech");
	struct bt_session_config cfg;
	struct bt_session *seed, *leech;
	struct bt_torrent *ts, *tl;
	struct bt_info info;
	struct bt_stats st;
	struct bt_event ev[64];
	int finished = 0, pieces = 0, prefix_monotonic = 1;
	int64_t last_prefix = 0;
	double end;

	mkdir(leechdir, 0755);
	tor = make_torrent(file, &info);
	bt_session_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.profile = BT_PROFILE_SEEDER;
	seed = bt_session_new(&cfg, err, sizeof(err));
	cfg.profile = BT_PROFILE_NODE;
	leech = bt_session_new(&cfg, err, sizeof(err));
	ok(seed && leech, "two sessions start");
	ts = bt_torrent_add(seed, tor, seeddir, BT_ADD_SEED, err, sizeof(err));
	tl = bt_torrent_add(leech, tor, leechdir, BT_ADD_SEQUENTIAL, err, sizeof(err));
	ok(ts && tl, "torrents added");
	ok(bt_session_listen_port(seed) > 0, "seeder listens");
	ok(bt_torrent_connect(tl, "127.0.0.1", bt_session_listen_port(seed),
			      err, sizeof(err)) == 0, "direct connect");
	end = now_monotonic() + 30;
	while (!finished && now_monotonic() < end) {
		int n = bt_session_poll(leech, 100, ev, 64);

		for (int i = 0; i < n; i++) {
			if (ev[i].type == BT_EV_PIECE)
				pieces++;
			if (ev[i].type == BT_EV_FINISHED)
				finished = 1;
		}
		bt_session_poll(seed, 0, ev, 64);
		bt_torrent_stats(tl, &st, 0);
		if (st.verified_prefix < last_prefix)
			prefix_monotonic = 0;
		last_prefix = st.verified_prefix;
	}
	ok(finished, "download finished");
	ok(pieces == info.num_pieces, "a piece event per piece (%d)", pieces);
	bt_torrent_stats(tl, &st, 0);
	ok(st.verified_prefix == info.total_size, "prefix covers the file");
	ok(prefix_monotonic, "prefix only grows");
	char *got = path_join(leechdir, "img.bin"), a[65], b[65];
	sha256_file(file, a);
	sha256_file(got, b);
	is_str(b, a, "same bytes");
	bt_torrent_stats(ts, &st, 0);
	ok(st.payload_up >= info.total_size, "seeder uploaded it all");
	test_piece_ok(tl, got, &info);
	bt_session_free(leech);
	bt_session_free(seed);
	free(got);
	free(tor);
	free(file);
	free(leechdir);
}

int main(int argc, char **argv)
{
	(void)argc;
	log_init(argv[0]);
	if (!mkdtemp(dir))
		return 1;
	test_create();
	test_transfer();
	remove_tree(dir);
	return tap_done();
}
