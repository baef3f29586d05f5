/* Unit tests of lib/bt.cc: torrent creation, parsing, and a real transfer
 * between two libtorrent sessions on loopback, with the verified prefix. */
#define _GNU_SOURCE	/* memmem */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt.h"
#include "log.h"
#include "swarm.h"
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
	struct bt_create_config c = {
		.file = file, .trackers = trackers, .piece_size = 16384,
	};
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

/* A session of PROFILE listening on a free loopback port, or NULL. */
static struct bt_session *loopback_session(enum bt_profile profile)
{
	struct bt_session_config cfg;
	char err[256];

	bt_session_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.profile = profile;
	return bt_session_new(&cfg, err, sizeof(err));
}

static void test_transfer(void)
{
	char *file = make_file("img.bin", 3000000), *tor, err[256];
	char *seeddir = dir, *leechdir = path_join(dir, "leech");
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
	seed = loopback_session(BT_PROFILE_SEEDER);
	leech = loopback_session(BT_PROFILE_NODE);
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

/* A loopback seed of a SIZE-byte file NAME and a swarm node downloading it
 * into nodedir (landing = swarm_config.landing_timeout).  Returns the
 * download, or NULL; *seed, *sw and *tor are the caller's to free. */
static struct swarm_dl *seeded_swarm(const char *name, size_t size,
				     const char *nodedir, double landing,
				     struct bt_session **seed,
				     struct swarm **sw, char **tor)
{
	char *file = make_file(name, size), err[256];
	struct swarm_config sc = { 0 };
	struct bt_info info;
	struct swarm_dl *d = NULL;

	mkdir(nodedir, 0755);
	*sw = NULL;
	*tor = make_torrent(file, &info);
	*seed = loopback_session(BT_PROFILE_SEEDER);
	if (*seed && bt_torrent_add(*seed, *tor, dir, BT_ADD_SEED, err,
				    sizeof(err))) {
		sc.listen = "127.0.0.1:0";
		sc.seeder_ip = "127.0.0.1";
		sc.seeder_port = bt_session_listen_port(*seed);
		sc.reconnect_interval = 1;
		sc.progress_interval = 3600;
		sc.stall_timeout = 60;
		sc.landing_timeout = landing;
		*sw = swarm_new(&sc);
		d = *sw ? swarm_add(*sw, *tor, nodedir, 1) : NULL;
	}
	free(file);
	return d;
}

/* Session 6: swarm_pump() returns once the verified prefix grows (or the
 * download ends), not after the time it was given: the extraction waiting
 * on the last piece saw it up to 100 ms late, the end up to 200 ms. */
static void test_pump_wakes(void)
{
	char *nodedir = path_join(dir, "wake-node"), *tor;
	struct bt_session *seed;
	struct swarm *sw;
	struct swarm_dl *d;
	double t0, longest = 0, end;
	int calls = 0;

	d = seeded_swarm("wake.bin", 2000000, nodedir, 0, &seed, &sw, &tor);
	ok(d != NULL, "a seed and a swarm node");
	end = now_monotonic() + 60;
	while (d && !swarm_dl_finished(d) && !swarm_dl_failed(d) &&
	       now_monotonic() < end) {
		t0 = now_monotonic();
		swarm_pump(sw, 20000);
		if (now_monotonic() - t0 > longest)
			longest = now_monotonic() - t0;
		calls++;
	}
	ok(d && swarm_dl_finished(d), "the node has the file (%d pumps of "
	   "up to 20 s)", calls);
	ok(calls > 1 && longest < 10, "each pump returned when the prefix "
	   "grew or the download ended (longest %.2f s)", longest);
	swarm_free(sw);
	bt_session_free(seed);
	free(tor);
	free(nodedir);
}

/* Session 8: a piece libtorrent verified that never reads back right from
 * the staged file (here: overwritten after the download) fails the read
 * after landing_timeout, in the streaming reader and in
 * swarm_wait_complete(), instead of waiting for ever. */
static void test_not_landed(void)
{
	char *nodedir = path_join(dir, "land-node"), *tor;
	struct bt_session *seed;
	struct swarm *sw;
	struct swarm_dl *d;
	const void *buf;
	int64_t got = 0;
	ssize_t n = 0;
	double t0, end;
	int fd = -1;
	unsigned char c;

	d = seeded_swarm("land.bin", 300000, nodedir, 1, &seed, &sw, &tor);
	end = now_monotonic() + 60;
	while (d && !swarm_dl_finished(d) && !swarm_dl_failed(d) &&
	       now_monotonic() < end)
		swarm_pump(sw, 1000);
	ok(d && swarm_dl_finished(d), "the node has the file");
	if (d)
		fd = open(swarm_dl_file(d), O_RDWR);
	/* a byte of piece 2 (16 KiB pieces) flipped behind libtorrent */
	ok(fd >= 0 && pread(fd, &c, 1, 2 * 16384 + 100) == 1 &&
	   (c ^= 0xff, pwrite(fd, &c, 1, 2 * 16384 + 100) == 1) &&
	   close(fd) == 0, "a byte of piece 2 flipped");
	t0 = now_monotonic();
	while (d && (n = swarm_read(d, &buf)) > 0)
		got += n;
	ok(n < 0 && got == 2 * 16384, "the reader handed out pieces 0 and 1 "
	   "(%lld bytes), then failed", (long long)got);
	ok(now_monotonic() - t0 >= 1 && now_monotonic() - t0 < 10,
	   "after the landing timeout (%.1f s)", now_monotonic() - t0);
	t0 = now_monotonic();
	ok(d && swarm_wait_complete(d) < 0 && now_monotonic() - t0 >= 1,
	   "swarm_wait_complete() fails too (%.1f s)", now_monotonic() - t0);
	swarm_free(sw);
	bt_session_free(seed);
	free(tor);
	free(nodedir);
}

/* Session 4: the torrent from the swarm (BEP 9). */
struct fetcher {
	const char *head;
	size_t head_len;
	int port;
	int timeout_ms;
	int ok;
	double secs;
	char *buf;
	size_t len;
	char err[256];
};

static void *fetch_thread(void *arg)
{
	struct fetcher *f = arg;
	struct bt_session_config cfg;
	struct bt_session *s;
	char *save = path_join(dir, "fetch");

	bt_session_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	mkdir(save, 0755);
	s = bt_session_new(&cfg, f->err, sizeof(f->err));
	double t0 = now_monotonic();
	if (s)
		f->ok = bt_fetch_torrent(s, f->head, f->head_len, "127.0.0.1",
					 f->port, save, f->timeout_ms, &f->buf,
					 &f->len, f->err, sizeof(f->err)) == 0;
	f->secs = now_monotonic() - t0;
	bt_session_free(s);
	free(save);
	return NULL;
}

/* Runs n fetchers at once against port; returns how many got it, each
 * byte for byte the torrent (tor_buf). */
static int fetch_many(int n, const char *head, size_t head_len, int port,
		      int timeout_ms, const char *tor_buf, size_t tor_len,
		      int *same)
{
	struct fetcher f[8];
	pthread_t th[8];
	int got = 0;

	*same = 1;
	for (int i = 0; i < n; i++) {
		f[i] = (struct fetcher){ .head = head, .head_len = head_len,
					 .port = port, .timeout_ms = timeout_ms };
		pthread_create(&th[i], NULL, fetch_thread, &f[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (f[i].ok) {
			printf("# fetcher %d: %.2f s\n", i, f[i].secs);
			got++;
			if (f[i].len != tor_len || memcmp(f[i].buf, tor_buf, tor_len))
				*same = 0;
		} else {
			printf("# fetcher %d: %s\n", i, f[i].err);
		}
		free(f[i].buf);
	}
	return got;
}

static void test_fetch_torrent(void)
{
	char *file = make_file("meta.bin", 3000000), *tor, err[256];
	char *head, *tor_buf, *bad = path_join(dir, "not-a-torrent");
	struct bt_session_config cfg;
	struct bt_session *seeder, *node;
	struct bt_torrent *ts, *tn;
	struct bt_info info;
	size_t head_len, tor_len;
	int same, got;

	tor = make_torrent(file, &info);
	tor_buf = read_file(tor, &tor_len, 0);
	ok(bt_torrent_head(tor, &head, &head_len, err, sizeof(err)) == 0,
	   "makes the head of a torrent");
	ok(head_len < 300 && tor_len > 3000, "the head is %zu bytes, the "
	   "torrent %zu", head_len, tor_len);
	ok(memmem(head, head_len, "9:info-hash20:", 14) &&
	   !memmem(head, head_len, "4:infod", 7), "info-hash, no info dictionary");
	{
		char *hb = NULL;
		size_t hl;

		write_file_atomic(bad, "d4:infod4:name3:abc", 19, 0644);
		ok(bt_torrent_head(bad, &hb, &hl, err, sizeof(err)) < 0 &&
		   strstr(err, "not-a-torrent"), "no head of a malformed "
		   "torrent: %s", err);
		write_file_atomic(bad, "d3:fooi1ee", 10, 0644);
		ok(bt_torrent_head(bad, &hb, &hl, err, sizeof(err)) < 0 &&
		   strstr(err, "no info dictionary"), "nor of one without "
		   "an info dictionary: %s", err);
	}

	bt_session_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.profile = BT_PROFILE_SEEDER;
	cfg.metadata_gate = 1;
	seeder = bt_session_new(&cfg, err, sizeof(err));
	cfg.profile = BT_PROFILE_NODE;
	cfg.metadata_gate = 0;
	node = bt_session_new(&cfg, err, sizeof(err));
	ts = seeder ? bt_torrent_add(seeder, tor, dir, BT_ADD_SEED |
				     BT_ADD_STRIPE_SEED, err, sizeof(err)) : NULL;
	/* Added as a download of data it has: a node that completed. */
	tn = node ? bt_torrent_add(node, tor, dir, 0, err, sizeof(err)) : NULL;
	ok(ts && tn, "a seeder and a node seed it");
	{
		char *buf = NULL;
		size_t len;

		ok(bt_fetch_torrent(node, "d3:fooi1ee", 10, NULL, 0, dir, 100,
				    &buf, &len, err, sizeof(err)) < 0 &&
		   strstr(err, "not a torrent head"), "a bad head: %s", err);
		free(buf);
	}
	/* Four nodes at once, nobody else: the seeder offers it to two a
	 * second, and fetchers do not serve each other. */
	got = fetch_many(4, head, head_len, bt_session_listen_port(seeder),
			 2000, tor_buf, tor_len, &same);
	ok(got == 2, "the seeder sent it to %d of 4 nodes at once (2)", got);
	ok(same, "each got the very torrent, byte for byte");
	/* The seeder names the nodes that have it to the nodes it does not
	 * send it to. */
	ok(bt_torrent_connect(tn, "127.0.0.1", bt_session_listen_port(seeder),
			      err, sizeof(err)) == 0, "the node joins the seeder");
	{
		struct bt_event ev[64];
		double end = now_monotonic() + 1;

		while (now_monotonic() < end) {
			bt_session_poll(node, 50, ev, 64);
			bt_session_poll(seeder, 0, ev, 64);
		}
	}
	got = fetch_many(4, head, head_len, bt_session_listen_port(seeder),
			 3000, tor_buf, tor_len, &same);
	ok(got == 4 && same, "with a node in the swarm all %d of 4 got it "
	   "(2 from the seeder, 2 from the node it names)", got);
	/* A node that has the torrent serves anyone. */
	got = fetch_many(4, head, head_len, bt_session_listen_port(node),
			 5000, tor_buf, tor_len, &same);
	ok(got == 4 && same, "a node sent it to %d of 4 at once", got);
	sleep(1);
	got = fetch_many(1, head, head_len, bt_session_listen_port(seeder),
			 5000, tor_buf, tor_len, &same);
	ok(got == 1 && same, "a second later the seeder sends it again");

	bt_session_free(node);
	bt_session_free(seeder);
	free(head);
	free(tor_buf);
	free(bad);
	free(tor);
	free(file);
}

/* A striping seed and the nodes of spec in a full mesh on loopback. */
struct node_spec {
	long up, down;	/* rate limits, bytes/s (0 = none) */
	int stock;	/* a stock client: no stripe_node plugin */
};

/* Seeds a SIZE-byte file NAME at seed_up bytes/s to the n nodes of spec
 * and waits (60 s at most) until they all have it.  done[i] is when node
 * i finished (seconds after the start, -1 = never); ss and sent (image
 * sizes the seed uploaded) describe the seed.  Returns how many did. */
static int run_swarm(const char *name, size_t size, long seed_up,
		     const struct node_spec *spec, int n, double *done,
		     struct bt_stripe_stats *ss, double *sent)
{
	char *file = make_file(name, size), *tor, err[256];
	struct bt_session_config cfg;
	struct bt_session *seeder, *node[8] = { 0 };
	struct bt_torrent *ts, *t[8] = { 0 };
	struct bt_event ev[64];
	struct bt_info info;
	struct bt_stats st;
	int finished = 0;
	double t0, end;

	memset(ss, 0, sizeof(*ss));
	*sent = 0;
	if (n > 8)
		n = 8;	/* node[], t[] */
	for (int i = 0; i < n; i++)
		done[i] = -1;
	tor = make_torrent(file, &info);
	bt_session_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.profile = BT_PROFILE_SEEDER;
	cfg.upload_rate_limit = seed_up;
	cfg.all_peers_global = 1;	/* rate limits apply on loopback */
	seeder = bt_session_new(&cfg, err, sizeof(err));
	ts = seeder ? bt_torrent_add(seeder, tor, dir, BT_ADD_SEED |
				     BT_ADD_STRIPE_SEED, err, sizeof(err)) : NULL;
	for (int i = 0; i < n; i++) {
		char *d = xasprintf("%s/%s-%d", dir, name, i);

		mkdir(d, 0755);
		bt_session_config_init(&cfg);
		cfg.listen = "127.0.0.1:0";
		cfg.upload_rate_limit = spec[i].up;
		cfg.download_rate_limit = spec[i].down;
		cfg.all_peers_global = 1;
		cfg.stripe_node = !spec[i].stock;
		node[i] = bt_session_new(&cfg, err, sizeof(err));
		t[i] = node[i] ? bt_torrent_add(node[i], tor, d, 0, err,
						sizeof(err)) : NULL;
		free(d);
		if (!ts || !t[i]) {
			printf("# %s\n", err);
			goto out;
		}
		bt_torrent_connect(t[i], "127.0.0.1",
				   bt_session_listen_port(seeder), err, sizeof(err));
		for (int j = 0; j < i; j++)
			bt_torrent_connect(t[i], "127.0.0.1",
					   bt_session_listen_port(node[j]),
					   err, sizeof(err));
	}
	t0 = now_monotonic();
	end = t0 + 60;
	while (finished < n && now_monotonic() < end) {
		bt_session_poll(seeder, 20, ev, 64);
		for (int i = 0; i < n; i++) {
			int k = bt_session_poll(node[i], 0, ev, 64);

			for (int e = 0; e < k; e++)
				if (ev[e].type == BT_EV_FINISHED && done[i] < 0) {
					done[i] = now_monotonic() - t0;
					finished++;
				}
		}
	}
	bt_torrent_stripe_stats(ts, ss);
	if (bt_torrent_stats(ts, &st, 0) == 0)
		*sent = (double)st.payload_up / info.total_size;
out:
	for (int i = 0; i < n; i++)
		bt_session_free(node[i]);
	bt_session_free(seeder);
	free(tor);
	free(file);
	return finished;
}

/* Session 5: a stock client (no stripe_node) asks a striping seed for
 * anything; while a node downloads, the seed unchokes it one second in
 * two (one node + 1) and it takes the rest from the node. */
static void test_stock_throttle(void)
{
	/* 4 s for the image at 250 KB/s: the node downloads over several
	 * ticks */
	struct node_spec spec[] = { { 0, 0, 0 }, { 0, 0, 1 } };
	struct bt_stripe_stats ss;
	double done[2], sent;

	ok(run_swarm("stock.bin", 1000000, 250000, spec, 2, done, &ss,
		     &sent) == 2, "a node and a stock client finished");
	printf("# seed sent %.2f image sizes\n", sent);
	ok(ss.stock_peers == 1 && ss.stock_chokes >= 1, "the seed choked the "
	   "stock client %lld times while the node downloaded",
	   (long long)ss.stock_chokes);
}

/* Session 8, BT_STRIPE_BALANCE: a node whose fresh pieces spread slowly
 * (its uplink) gets no new ones until they have; a node that merely
 * downloads slowly holds nobody back (session 7's shares did: the other
 * node of two finished with it). */
static void test_balance(void)
{
	struct node_spec two[] = { { 0, 0, 0 }, { 0, 100000, 0 } };
	struct node_spec four[] = { { 0, 0, 0 }, { 0, 0, 0 }, { 0, 0, 0 },
				    { 25000, 0, 0 } };
	struct bt_stripe_stats ss;
	double done[4], sent;

	ok(run_swarm("two.bin", 1000000, 250000, two, 2, done, &ss,
		     &sent) == 2, "two nodes finished");
	/* Of two nodes neither is ahead of the (upper) median: no hold, so
	 * the slow one cannot pace the other.  How much earlier the fast one
	 * finishes depends on how many fresh pieces the slow one still had
	 * to pass on (7.5 to 11 s against 12.5 s seen): not asserted. */
	ok(ss.balance_holds == 0, "of two nodes, the one held to 100 KB/s "
	   "holds nobody back (%lld holds)", (long long)ss.balance_holds);
	ok(done[0] >= 0 && done[0] < done[1], "the other finished first: "
	   "%.1f s against %.1f s", done[0], done[1]);
	ok(run_swarm("four.bin", 1000000, 250000, four, 4, done, &ss,
		     &sent) == 4, "four nodes finished");
	printf("# %.1f %.1f %.1f s, the node uploading at 25 KB/s %.1f s; "
	       "seed sent %.2f image sizes\n", done[0], done[1], done[2],
	       done[3], sent);
	ok(ss.balance_holds >= 1, "the node uploading at 25 KB/s was held "
	   "%lld times", (long long)ss.balance_holds);
}

int main(int argc, char **argv)
{
	(void)argc;
	log_init(argv[0]);
	if (!mkdtemp(dir))
		return 1;
	test_create();
	test_transfer();
	test_fetch_torrent();
	test_stock_throttle();
	test_balance();
	test_pump_wakes();
	test_not_landed();
	remove_tree(dir);
	return tap_done();
}
