/* fetch.h - rsync from the image server, checked and retried.
 *
 * rsync runs as a child process (fork/exec, every fd >= 3 closed in the
 * child: libtorrent 2.0.8 leaks descriptors).  A failed run is retried
 * with a bounded exponential backoff; each failure is reported with the
 * meaning of rsync's exit status.
 */
#ifndef SI_FETCH_H
#define SI_FETCH_H

/* An rsync session is a dozen small request/answer exchanges, and with
 * Nagle's algorithm on at either end each can wait for the other end's
 * delayed ACK (40 ms): fetching one small file from a daemon took 146 ms on
 * an idle link, 41 ms with TCP_NODELAY at both ends, and a cluster's nodes
 * fetch a few files before their download starts.  Every rsync run against
 * a daemon passes RSYNC_NODELAY (rsync applies it to daemon connections
 * only); every daemon configuration we write holds RSYNCD_NODELAY. */
#define RSYNC_NODELAY "--sockopts=TCP_NODELAY"
#define RSYNCD_NODELAY "socket options = TCP_NODELAY\n"

struct fetch_retry {
	int tries;		/* attempts in all (>= 1) */
	double delay;		/* seconds before the second attempt */
	double max_delay;	/* the delay doubles up to this */
	int quiet;		/* no messages: the caller tries again later */
};

/* 5 tries, 1, 2, 4, 8 s apart. */
void fetch_retry_init(struct fetch_retry *r);

/* Returns the meaning of an rsync exit status ("error in socket I/O"). */
const char *fetch_rsync_strerror(int status);

/* Builds "rsync://HOST[:PORT]/PATH" from IMAGESERVER ("host" or
 * "host:port"; "[v6addr]:port" too).  The caller frees it. */
char *fetch_url(const char *imageserver, const char *path);

/* Splits IMAGESERVER into a newly allocated host (the caller frees it) and
 * the rsync port (0 = default).  Returns 0 or -1 with a message. */
int fetch_parse_server(const char *imageserver, char **host, int *port);

/* Runs "rsync RSYNC_NODELAY ARGS... SRC DST" (args NULL-terminated, may
 * be NULL) until it exits 0 or the tries run out.  With out != NULL,
 * rsync's stdout is collected into a malloc()ed NUL-terminated *out the
 * caller frees.  Returns 0, or -1 with a message naming what failed and
 * the last exit status.  what names the transfer in messages
 * ("torrents"). */
int fetch_rsync(const char *what, const char *const *args, const char *src,
		const char *dst, const struct fetch_retry *r, char **out);

#endif
