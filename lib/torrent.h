/* torrent.h - writing the server's .torrent files (si_installbtimage,
 * si_mkdelta): the announce URL from the settings, web seeds, and one
 * torrent per tarball written under a temporary name.
 */
#ifndef SI_TORRENT_H
#define SI_TORRENT_H

#include "bt.h"
#include "util.h"

struct config;

/* The announce URL: tracker when given, else http://IP:PORT/announce with
 * PORT from BT_TRACKER_PORT (default 6969) and IP from address, else from
 * the interface BT_INTERFACE.  etc names the settings directory in
 * messages.  Returns a new string, or NULL with a message. */
char *torrent_announce(const struct config *conf, const char *etc,
		       const char *tracker, const char *address);

/* The web seed URL of tarname under base_url (NULL when base_url is NULL).
 * The caller frees it. */
char *torrent_web_seed(const char *base_url, const char *tarname);

struct torrent_spec {
	const char *file;	/* the data file to hash */
	const char *tarname;	/* its name as served (for the web seed) */
	const char *announce;
	const char *web_seed;	/* base URL or NULL */
	const char *comment;	/* or NULL */
	int piece_size;		/* bytes; 0 = torrent_piece_size() */
	int64_t unpacked_bytes;	/* recorded in the torrent when > 0 */
	int64_t unpacked_entries;
};

/* The piece size for a file of size bytes on a LAN swarm: 16 KiB, doubled
 * until the torrent holds at most 65536 pieces.  Small pieces keep the
 * stripe schedule's tail short (nodes x queue depth x piece size, see
 * docs/perf/swarm-scheduling.md); libtorrent's automatic choice (256 KiB
 * for a 60 MB image) made the last nodes wait for pieces in transit. */
int torrent_piece_size(int64_t size);
/* Parses a piece size: a power of two from 16 KiB to 16 MiB, in bytes or
 * with a K or M suffix, or "auto" (0).  Returns 0 or -1 (no message). */
int torrent_piece_size_parse(const char *s, int *out);

/* Hashes s->file and writes the torrent into af, opened on final (not
 * committed: atomic_commit() or atomic_abort() it).  Fills info.
 * Returns 0 or -1 with a message. */
int torrent_write(const struct torrent_spec *s, struct atomic_file *af,
		  const char *final, struct bt_info *info);

#endif
