/* bt.h - the pure-C face of libtorrent (lib/bt.cc is the only C++ file).
 *
 * One struct bt_session per process holds any number of torrents.  All
 * functions catch every exception: they return -1 or NULL and put a message
 * into err (which may be NULL; errlen bytes).  Nothing here exits, logs or
 * decides policy; that stays in C.  Events (piece verified, finished,
 * tracker and file errors, ...) are drained with bt_session_poll() and
 * copied into plain structs.
 */
#ifndef SI_BT_H
#define SI_BT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bt_session;
struct bt_torrent;

enum bt_profile {
	BT_PROFILE_NODE = 0,	/* an installing node: downloads, then seeds */
	BT_PROFILE_SEEDER = 1,	/* the image server: seeds many torrents */
};

struct bt_session_config {
	/* "IP:PORT" or "IP:PORT,IP:PORT"; port 0 picks a free one. */
	const char *listen;
	enum bt_profile profile;
	long upload_rate_limit;		/* bytes/s, 0 = unlimited */
	long download_rate_limit;	/* bytes/s, 0 = unlimited */
	int unchoke_slots;		/* 0 = libtorrent's default, -1 = all */
	/* libtorrent exempts private-range addresses from unchoke slots and
	 * rate limits (its "local" peer class); set to put every peer in the
	 * global class so that those knobs work on a LAN. */
	int all_peers_global;
	int connections_limit;		/* 0 = default */
	int peer_exchange;		/* 1 = ut_pex on (default) */
	/* 1 = at most one connection per remote IP address (peers on
	 * distinct hosts); 0 (default) = any number (peers on one host). */
	int one_connection_per_ip;
	/* branch swarm: 1 (default) = downloads follow a striping seed's
	 * schedule (BT_ADD_STRIPE_SEED): fetch from it only the pieces it
	 * announces, everything else from other nodes.  Inert with any other
	 * seed. */
	int stripe_node;
	/* branch stripe2: a striping seed's schedule (seed side only).
	 * stripe_depth = announced-but-unfinished pieces per node (0 = the
	 * default, 2); stripe_options = BT_STRIPE_* bits (bt_session_config_init
	 * sets BT_STRIPE_DEFAULT; 0 = the first schedule of branch swarm). */
	int stripe_depth;
	unsigned stripe_options;
	/* session 4, seeder profile: offer the info dictionary (BEP 9) in at
	 * most two extension handshakes a second (bt_fetch_torrent()). */
	int metadata_gate;
};

/* Fills c with the LAN defaults (uTP, DHT, LSD, UPnP off; no encryption,
 * an encrypted handshake answered in plaintext). */
void bt_session_config_init(struct bt_session_config *c);
/* Starts a session.  Returns NULL and a message on failure. */
struct bt_session *bt_session_new(const struct bt_session_config *c,
				  char *err, size_t errlen);
/* Stops every torrent and frees the session and its torrents; NULL ok.
 * Waits at most a second or two for trackers to hear "stopped". */
void bt_session_free(struct bt_session *s);
/* Returns the TCP port the session listens on, or -1. */
int bt_session_listen_port(struct bt_session *s);
/* Payload and total bytes sent and received by the whole session. */
struct bt_session_totals {
	int64_t payload_up, payload_down;
};
int bt_session_totals(struct bt_session *s, struct bt_session_totals *t);

/* What a .torrent says about itself. */
struct bt_info {
	char name[256];		/* the file name inside the torrent */
	char info_hash[41];	/* v1 SHA-1, lowercase hex */
	int64_t total_size;
	int piece_length;
	int num_pieces;
	int num_files;
	/* What the tarball holds once extracted, as si_installbtimage
	 * recorded it (BT_UNPACKED_KEY); 0 when the torrent does not say. */
	int64_t unpacked_bytes;		/* file data */
	int64_t unpacked_entries;	/* archive members */
};
/* The top-level key of a .torrent (outside the info dictionary, so the
 * info-hash does not depend on it) holding { bytes, entries }. */
#define BT_UNPACKED_KEY "swarmimager unpacked"
/* Parses and checks a .torrent file.  Returns 0 or -1 with a message. */
int bt_torrent_file_info(const char *path, struct bt_info *info,
			 char *err, size_t errlen);

struct bt_create_config {
	const char *file;		/* the single file to describe */
	const char *const *trackers;	/* NULL-terminated announce URLs */
	const char *const *web_seeds;	/* NULL-terminated, may be NULL */
	int piece_size;			/* 0 = automatic */
	const char *comment;		/* may be NULL */
	int64_t unpacked_bytes;		/* recorded when > 0 (bt_info) */
	int64_t unpacked_entries;
};
/* Hashes the file and builds a v1 torrent without a creation date (the
 * same file always gives the same info-hash).  Returns 0 and a malloc()ed
 * bencoded buffer the caller frees, or -1 with a message. */
int bt_create_torrent(const struct bt_create_config *c, char **buf,
		      size_t *len, struct bt_info *info,
		      char *err, size_t errlen);

enum bt_add_flags {
	BT_ADD_SEED = 1 << 0,		/* data complete and known good: seed
					 * without re-hashing anything */
	BT_ADD_SEQUENTIAL = 1 << 1,	/* fetch pieces roughly in order */
	BT_ADD_SUPER_SEED = 1 << 2,
	BT_ADD_UPLOAD_ONLY = 1 << 3,
	/* With BT_ADD_SEED: striped seeding (branch swarm, see the end of
	 * this file); ignored otherwise. */
	BT_ADD_STRIPE_SEED = 1 << 4,
};
/* Adds a torrent whose data lives in save_path/NAME.  Returns the torrent
 * (owned by the session) or NULL with a message. */
struct bt_torrent *bt_torrent_add(struct bt_session *s,
				  const char *torrent_path,
				  const char *save_path, unsigned flags,
				  char *err, size_t errlen);
/* Removes the torrent from the session and frees it (the data stays). */
void bt_torrent_remove(struct bt_torrent *t);
/* Connects to a peer directly (the image server's seeder, say).
 * Returns 0 or -1 with a message. */
int bt_torrent_connect(struct bt_torrent *t, const char *ip, int port,
		       char *err, size_t errlen);
/* Static facts about an added torrent. */
int bt_torrent_info(struct bt_torrent *t, struct bt_info *info);
/* An opaque C pointer carried with the torrent (for events). */
void bt_torrent_set_user(struct bt_torrent *t, void *user);
void *bt_torrent_user(struct bt_torrent *t);
/* Turns sequential download on or off.  Returns 0 or -1. */
int bt_torrent_set_sequential(struct bt_torrent *t, int on);
/* Piece priority 0 (skip) .. 7 (top), 4 is the default.  Returns 0/-1. */
int bt_torrent_piece_priority(struct bt_torrent *t, int piece, int prio);
/* Asks for piece by a deadline in ms from now (0 = as soon as possible).
 * Returns 0 or -1. */
int bt_torrent_piece_deadline(struct bt_torrent *t, int piece, int ms);

enum bt_state {
	BT_STATE_CHECKING = 1,
	BT_STATE_DOWNLOADING = 2,
	BT_STATE_SEEDING = 3,
	BT_STATE_ERROR = 4,
	BT_STATE_PAUSED = 5,
	BT_STATE_OTHER = 6,
};

struct bt_stats {
	enum bt_state state;
	double progress;		/* 0..1 */
	int64_t total_done;		/* verified bytes we have */
	int64_t total_wanted;
	int64_t verified_prefix;	/* bytes from offset 0 all verified */
	int pieces_have;
	int64_t payload_up, payload_down;	/* bytes since added */
	int upload_rate, download_rate;		/* payload bytes/s */
	int num_peers, num_seeds;
	int peers_interested;		/* connected peers wanting our data */
	int64_t tracker_complete;	/* scrape counts, -1 unknown */
	int64_t tracker_incomplete;
	char error[256];		/* set when state is BT_STATE_ERROR */
};
/* Fills st.  With peers=1 also counts interested peers (costlier).
 * Returns 0 or -1 if the torrent is gone. */
int bt_torrent_stats(struct bt_torrent *t, struct bt_stats *st, int peers);

/* bt_stats' verified_prefix without asking libtorrent: kept up to date by
 * bt_session_poll() as it reports verified pieces. */
int64_t bt_torrent_verified_prefix(struct bt_torrent *t);

/* Whether DATA (LEN bytes) is piece PIECE, by its hash in the torrent.
 * libtorrent 2.0 reports a piece verified (BT_EV_PIECE, BT_EV_FINISHED)
 * before its disk write has landed: whoever reads the staged file checks
 * what it read with this, and waits while it does not match. */
int bt_torrent_piece_ok(struct bt_torrent *t, int piece, const void *data,
			long len);

enum bt_event_type {
	BT_EV_PIECE = 1,	/* piece verified (torrent, piece) */
	BT_EV_FINISHED,		/* all wanted pieces verified */
	BT_EV_HASH_FAILED,	/* a piece failed its hash (piece) */
	BT_EV_CHECKED,		/* existing data checked */
	BT_EV_TORRENT_ERROR,	/* torrent paused by an error (msg) */
	BT_EV_FILE_ERROR,	/* read/write error on the data (msg) */
	BT_EV_TRACKER_ERROR,	/* tracker failed (msg) */
	BT_EV_TRACKER_REPLY,	/* tracker answered (piece = peers given) */
	BT_EV_PEER_CONNECT,	/* (msg = address) */
	BT_EV_PEER_DISCONNECT,	/* (msg = address and reason) */
	BT_EV_LISTEN_FAILED,	/* (msg) */
	BT_EV_LISTEN_OK,	/* (piece = port) */
	BT_EV_DROPPED,		/* alerts were dropped (queue full) */
};

struct bt_event {
	enum bt_event_type type;
	struct bt_torrent *torrent;	/* NULL for session events */
	int piece;
	char msg[256];
};

/* Waits up to timeout_ms for events and copies at most max of them into
 * ev.  Returns how many (0 on timeout).  Events beyond max are kept for
 * the next call. */
int bt_session_poll(struct bt_session *s, int timeout_ms,
		    struct bt_event *ev, int max);

/* Human-readable name of an event type. */
const char *bt_event_name(enum bt_event_type type);

/* ---- branch swarm: swarm scheduling ----
 * BT_ADD_STRIPE_SEED makes a seed send each piece about once: to nodes
 * whose session has stripe_node on it announces fresh pieces a few at a
 * time (one stripe per node, in piece order) instead of its full bitfield,
 * so nodes fetch everything else from each other; pieces of nodes that
 * left or stalled (3 s) are announced again; stock clients see a normal
 * seed, unchoked one second in every (downloading nodes + 1) while nodes
 * download (session 5).  docs/perf/swarm-scheduling.md has the
 * measurements. */
struct bt_stripe_stats {
	int64_t fresh_pieces;	/* pieces announced for the first time */
	int64_t repeat_pieces;	/* pieces announced again (rescues) */
	int64_t haves;		/* have messages sent */
	int64_t stock_peers;	/* peers served as a plain seed */
	int unsent_pieces;	/* pieces never announced yet */
	/* branch stripe2 */
	int64_t orphan_pieces;	/* re-announced: owner left or is slow */
	int64_t endgame_pieces;	/* extra copies sent to idle nodes at the end */
	int slow_peers;		/* nodes currently judged slow */
	/* session 5: times a stock client was choked because nodes were
	 * downloading (it is unchoked one second in every nodes + 1) */
	int64_t stock_chokes;
	/* session 8: times a node was refused fresh pieces because its
	 * backlog was ahead of the others' (BT_STRIPE_BALANCE) */
	int64_t balance_holds;
};

/* branch stripe2: options of the striping seed (bt_session_config). */
enum bt_stripe_options {
	/* a node whose download rate (its have messages per second) is far
	 * below the other nodes' gets no fresh pieces, and pieces only slow
	 * or departed nodes hold are announced again to a fast node at once */
	BT_STRIPE_SLOW = 1 << 0,
	/* near the end each node gets one piece at a time (a short tail) */
	BT_STRIPE_TAPER = 1 << 1,
	/* once every piece is out, the idle server sends the rarest pieces to
	 * idle nodes (bounded: a few percent of the image) */
	BT_STRIPE_ENDGAME = 1 << 2,
	/* a node whose fresh pieces spread more slowly than the other nodes'
	 * (its uplink is busier or slower) gets no new fresh piece until they
	 * have spread: the last node finishes closer to the first */
	BT_STRIPE_BALANCE = 1 << 3,
	BT_STRIPE_DEFAULT = BT_STRIPE_SLOW | BT_STRIPE_TAPER | BT_STRIPE_ENDGAME |
			    BT_STRIPE_BALANCE,
};
/* Fills st for a torrent added with BT_ADD_STRIPE_SEED.  Returns 0, or -1
 * (st zeroed) for any other torrent. */
int bt_torrent_stripe_stats(struct bt_torrent *t, struct bt_stripe_stats *st);

/* Session 3: a node that joins a swarm well under way (most peers already
 * hold a good part of the image) first follows the pieces the swarm is
 * passing on now and holds back the pieces most peers hold, until the first
 * node is complete, it has everything else, or it stalls: the early nodes'
 * uploads keep feeding each other instead of the late node's backlog.  Call
 * it regularly while downloading (it acts at most twice a second); returns
 * 1 while pieces are held back.  bt_torrent_catch_up_held() says how many
 * pieces were held back (0 when none). */
int bt_torrent_catch_up(struct bt_torrent *t);
int bt_torrent_catch_up_held(struct bt_torrent *t);

/* Announces the torrent to its trackers now, even within the tracker's
 * minimum interval (after the tracker restarted or refused us).
 * Returns 0 or -1. */
int bt_torrent_reannounce(struct bt_torrent *t);

/* ---- branch fleet: image versions ----
 * Copies the torrent's comment field ("" when none) into buf (len bytes,
 * truncated).  si_installbtimage writes "swarmimager image NAME version N"
 * there.  Returns 0 or -1 with a message. */
int bt_torrent_file_comment(const char *path, char *buf, size_t len,
			    char *err, size_t errlen);

/* ---- session 4: the torrent from the swarm (BEP 9) ----
 * A torrent's head is the torrent without its info dictionary (the piece
 * hashes, nearly all of its bytes) plus "info-hash": 20 bytes.  si_seeder
 * writes one next to each torrent it seeds (unless --no-torrent-heads); a
 * node fetches the head from the image server and the info dictionary from
 * its peers.  A session with metadata_gate offers the info dictionary of
 * its torrents in at most two extension handshakes a second (the first
 * nodes; they then serve the rest); other sessions serve it to anyone, as
 * libtorrent does. */

/* Makes the head of the .torrent at torrent_path: 0 and a malloc()ed
 * buffer, or -1 with a message. */
int bt_torrent_head(const char *torrent_path, char **buf, size_t *len,
		    char *err, size_t errlen);
/* Fetches the info dictionary of the torrent whose head is head (head_len
 * bytes) from the swarm (its tracker, and the seeder at seeder_ip:port
 * when not NULL), waiting at most timeout_ms, and returns the whole
 * torrent: 0 and a malloc()ed buffer, or -1 with a message.  Events of
 * other torrents that arrive meanwhile are kept for bt_session_poll(). */
int bt_fetch_torrent(struct bt_session *s, const char *head, size_t head_len,
		     const char *seeder_ip, int seeder_port,
		     const char *save_path, int timeout_ms, char **buf,
		     size_t *len, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
