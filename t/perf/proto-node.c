/* proto-node - one installing node of the swarm scheduling prototype.
 *
 *   proto-node [-s] [-S] TORRENT DIR LISTEN_IP:PORT PEER_IP:PORT...
 *
 * Downloads TORRENT into DIR (-s: sequential order; -S: ignore a striping
 * seed's schedule, like a stock client), connecting to every
 * PEER (the seed first), prints "done EPOCH_MS PREFIX_LAG" when complete,
 * keeps seeding until SIGTERM, then prints one "node: ..." line.
 * PREFIX_LAG is the mean time in ms between a piece's arrival and the
 * moment the verified prefix covers it (what streaming extraction waits).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bt.h"
#include "log.h"
#include "util.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig) { stop = sig; }

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int connect_all(struct bt_torrent *t, char **peers, int n)
{
	char err[256], ip[64];

	for (int i = 0; i < n; i++) {
		char *colon = strrchr(peers[i], ':');

		if (!colon || colon - peers[i] >= (long)sizeof(ip))
			return error("bad peer '%s'", peers[i]);
		memcpy(ip, peers[i], colon - peers[i]);
		ip[colon - peers[i]] = '\0';
		if (bt_torrent_connect(t, ip, atoi(colon + 1), err, sizeof(err)) < 0)
			return error("%s", err);
	}
	return 0;
}

static int run(struct bt_session *s, struct bt_torrent *t, char **peers,
	       int npeers)
{
	struct bt_event ev[64];
	struct bt_stats st;
	struct bt_info info;
	long long *got, lag = 0, last_connect = 0;
	int prefix = 0, done = 0;

	bt_torrent_info(t, &info);
	got = xcalloc(info.num_pieces, sizeof(*got));
	while (!stop) {
		int n = bt_session_poll(s, 200, ev, 64);

		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			if (ev[i].type == BT_EV_PIECE && ev[i].piece >= 0 &&
			    ev[i].piece < info.num_pieces)
				got[ev[i].piece] = now_ms();
			if (ev[i].type == BT_EV_FINISHED && !done) {
				done = 1;
				printf("done %lld %lld\n", now_ms(),
				       lag / (info.num_pieces ? info.num_pieces : 1));
				fflush(stdout);
			}
		}
		while (prefix < info.num_pieces && got[prefix])
			lag += now_ms() - got[prefix++];
		/* peers that were not up yet: retry while downloading */
		if (!done && now_ms() - last_connect > 2000) {
			bt_torrent_stats(t, &st, 0);
			if (st.num_peers < npeers)
				connect_all(t, peers, npeers);
			last_connect = now_ms();
		}
	}
	bt_torrent_stats(t, &st, 0);
	printf("node: payload_up %lld payload_down %lld\n",
	       (long long)st.payload_up, (long long)st.payload_down);
	fflush(stdout);
	free(got);
	return 0;
}

int main(int argc, char **argv)
{
	struct bt_session_config c;
	struct bt_session *s;
	struct bt_torrent *t;
	char err[512];
	unsigned flags = 0;
	int a = 1, rc, stock = 0;

	log_init(argv[0]);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	for (; a < argc && argv[a][0] == '-'; a++) {
		if (!strcmp(argv[a], "-s"))
			flags |= BT_ADD_SEQUENTIAL;
		else if (!strcmp(argv[a], "-S"))
			stock = 1;	/* behave like a stock client */
		else
			die(2, "proto-node: unknown option '%s'", argv[a]);
	}
	if (argc - a < 4)
		die(2, "usage: proto-node [-s] [-S] TORRENT DIR IP:PORT PEER...");
	bt_session_config_init(&c);
	c.stripe_node = !stock;
	c.listen = argv[a + 2];
	s = bt_session_new(&c, err, sizeof(err));
	if (!s)
		die(1, "%s", err);
	t = bt_torrent_add(s, argv[a], argv[a + 1], flags, err, sizeof(err));
	if (!t)
		die(1, "%s", err);
	if (connect_all(t, argv + a + 3, argc - a - 3) < 0)
		die(1, "cannot connect");
	rc = run(s, t, argv + a + 3, argc - a - 3);
	bt_session_free(s);
	return rc ? 1 : 0;
}
