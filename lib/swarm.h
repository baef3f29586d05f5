/* swarm.h - a node's downloads over BitTorrent: one libtorrent session
 * (BT_PROFILE_NODE) holding the image and override torrents.
 *
 * Besides the tracker in each torrent, every unfinished download is
 * connected directly to the image server's seeder, again every few
 * seconds (it may restart), so an install goes on when the tracker dies;
 * peer exchange spreads the other nodes.  A download is read while it
 * grows: swarm_read() hands out only the verified contiguous prefix,
 * piece by piece through libtorrent (the staged file may still lack a
 * verified piece's data: 2.0's writes land after the hash check), pumping
 * the session while it waits (single-threaded).  swarm_wait_complete()
 * returns once the staged file itself holds the whole download.
 */
#ifndef SI_SWARM_H
#define SI_SWARM_H

#include <stdint.h>
#include <sys/types.h>

#include "bt.h"

struct swarm_config {
	const char *listen;		/* "IP:PORT"; NULL = 0.0.0.0:0 */
	const char *seeder_ip;		/* NULL: tracker and peers only */
	int seeder_port;
	double reconnect_interval;	/* seconds between seeder connects */
	double progress_interval;	/* seconds between progress lines */
	double stall_timeout;		/* no new verified data: fail */
	/* seconds a verified piece may take to read back right from the
	 * staged file (libtorrent reports pieces before their writes land)
	 * before reading fails; 0 = 30 */
	double landing_timeout;
	long upload_rate_limit;		/* bytes/s, 0 = none */
	/* Called with each progress line's percent (report_status hook). */
	void (*progress)(void *ctx, const char *label, double percent,
			 long down_rate, long up_rate);
	void *progress_ctx;
};

struct swarm;
struct swarm_dl;

/* Starts the session.  Returns NULL with a message. */
struct swarm *swarm_new(const struct swarm_config *c);
/* Removes every torrent and stops the session; NULL ok. */
void swarm_free(struct swarm *sw);

/* Adds torrent_path with its data staged in stage_dir (sequential when
 * asked).  Returns the download (owned by sw) or NULL with a message. */
struct swarm_dl *swarm_add(struct swarm *sw, const char *torrent_path,
			   const char *stage_dir, int sequential);
const struct bt_info *swarm_dl_info(const struct swarm_dl *d);
/* The staged file's path (owned by d). */
const char *swarm_dl_file(const struct swarm_dl *d);

/* 1 when every piece is verified. */
int swarm_dl_finished(const struct swarm_dl *d);
/* The failure message (owned by d) once the download failed, else NULL. */
const char *swarm_dl_failed(const struct swarm_dl *d);
/* Waits until the download is complete.  Returns 0 or -1 with a message
 * (torrent error, stall). */
int swarm_wait_complete(struct swarm_dl *d);
/* An extract_read_fn over the verified prefix (ctx is the swarm_dl). */
ssize_t swarm_read(void *ctx, const void **buf);
/* Removes the torrent from the session (the staged file stays). */
void swarm_remove(struct swarm_dl *d);

/* Payload totals and the upload rate of the whole session, and the number
 * of interested peers over all torrents. */
struct swarm_totals {
	int64_t down, up;
	long up_rate;
	int interested, peers;
};
void swarm_totals(struct swarm *sw, struct swarm_totals *t);

/* Writes to out_path (a path with a '/') the torrent whose head (see
 * bt_torrent_head()) is at head_path, its info dictionary fetched from the
 * swarm within timeout_ms.  Returns 0 or -1 with a message (a warning
 * when no peer sent it: the caller has another way). */
int swarm_fetch_torrent(struct swarm *sw, const char *head_path,
			const char *out_path, int timeout_ms);

/* Lets libtorrent work for at most ms milliseconds (events, reconnects,
 * progress lines), returning early once a download's verified prefix
 * grows or a download finishes or fails: what the callers waiting in a
 * loop wait for.  Returns 0 or -1 if a download failed (message). */
int swarm_pump(struct swarm *sw, int ms);

#endif
