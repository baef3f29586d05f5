/* proto-seed - the image server's side of the swarm scheduling prototype.
 *
 *   proto-seed make FILE OUT.torrent [PIECE_KIB]
 *   proto-seed plain|super|stripe|stripe1 TORRENT DIR LISTEN_IP:PORT
 *
 * stripe is the current striping schedule, stripe1 the first one (branch
 * swarm: depth 3, no BT_STRIPE_* options).  $PROTO_STRIPE_OPTS (a number,
 * BT_STRIPE_* bits) and $PROTO_STRIPE_DEPTH override the schedule.
 *
 * Seeds TORRENT (data in DIR) with the SEEDER profile and the chosen
 * schedule, prints "ready PORT" once listening, and on SIGTERM prints one
 * "seed: ..." line of counters.  Used by t/perf/swarm-proto.sh.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt.h"
#include "log.h"
#include "util.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig) { stop = sig; }

static int make(const char *file, const char *out, int piece_kib)
{
	const char *trackers[] = { NULL };
	struct bt_create_config c = {
		.file = file, .trackers = trackers, .piece_size = piece_kib * 1024,
	};
	struct bt_info info;
	char err[512], *buf;
	size_t len;
	FILE *f;

	if (bt_create_torrent(&c, &buf, &len, &info, err, sizeof(err)) < 0)
		return error("%s", err);
	f = fopen(out, "w");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		free(buf);
		return error_errno("cannot write '%s'", out);
	}
	free(buf);
	printf("pieces %d piece_length %d size %lld\n", info.num_pieces,
	       info.piece_length, (long long)info.total_size);
	return 0;
}

static unsigned mode_flags(const char *mode)
{
	if (!strcmp(mode, "plain"))
		return BT_ADD_SEED;
	if (!strcmp(mode, "super"))
		return BT_ADD_SEED | BT_ADD_SUPER_SEED;
	if (!strcmp(mode, "stripe") || !strcmp(mode, "stripe1"))
		return BT_ADD_SEED | BT_ADD_STRIPE_SEED;
	return 0;
}

static int seed(const char *mode, const char *torrent, const char *dir,
		const char *listen)
{
	struct bt_session_config c;
	struct bt_session *s;
	struct bt_torrent *t;
	struct bt_event ev[64];
	struct bt_stats st;
	struct bt_stripe_stats ss;
	char err[512];
	unsigned flags = mode_flags(mode);
	const char *e;

	bt_session_config_init(&c);
	if (!strcmp(mode, "stripe1")) {
		c.stripe_options = 0;
		c.stripe_depth = 3;
	}
	if ((e = getenv("PROTO_STRIPE_OPTS")) && *e)
		c.stripe_options = (unsigned)atoi(e);
	if ((e = getenv("PROTO_STRIPE_DEPTH")) && *e)
		c.stripe_depth = atoi(e);
	c.listen = listen;
	c.profile = BT_PROFILE_SEEDER;
	s = bt_session_new(&c, err, sizeof(err));
	if (!s)
		return error("%s", err);
	t = bt_torrent_add(s, torrent, dir, flags, err, sizeof(err));
	if (!t) {
		bt_session_free(s);
		return error("%s", err);
	}
	printf("ready %d\n", bt_session_listen_port(s));
	fflush(stdout);
	while (!stop)
		if (bt_session_poll(s, 200, ev, 64) < 0)
			break;
	bt_torrent_stats(t, &st, 0);
	bt_torrent_stripe_stats(t, &ss);
	printf("seed: payload_up %lld fresh %lld repeat %lld haves %lld "
	       "stock %lld unsent %d orphan %lld endgame %lld slow %d\n",
	       (long long)st.payload_up,
	       (long long)ss.fresh_pieces, (long long)ss.repeat_pieces,
	       (long long)ss.haves, (long long)ss.stock_peers, ss.unsent_pieces,
	       (long long)ss.orphan_pieces, (long long)ss.endgame_pieces,
	       ss.slow_peers);
	fflush(stdout);
	bt_session_free(s);
	return 0;
}

int main(int argc, char **argv)
{
	log_init(argv[0]);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (argc >= 4 && !strcmp(argv[1], "make"))
		return make(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 0) ? 1 : 0;
	if (argc != 5 || !mode_flags(argv[1]))
		die(2, "usage: proto-seed make FILE OUT [PIECE_KIB] | "
		    "proto-seed plain|super|stripe|stripe1 TORRENT DIR IP:PORT");
	return seed(argv[1], argv[2], argv[3], argv[4]) ? 1 : 0;
}
