/* si_seeder - the image server's one long-running process.
 *
 * Seeds every torrent of BASE/torrents (data in BASE/tarballs) from one
 * libtorrent session, keeps opentracker running with a whitelist of exactly
 * those torrents, and serves the torrents, overrides, scripts and images
 * directories through a read-only rsync daemon.  Torrents added, changed or
 * removed are picked up by a rescan every two seconds.  It prints one
 * readiness line on stdout once everything listens, writes
 * BASE/torrents/seeder.cfg so that nodes learn its ports, restarts a child
 * that dies, and stops everything it started on SIGTERM or SIGINT.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt.h"
#include "child.h"
#include "config.h"
#include "log.h"
#include "opts.h"
#include "paths.h"
#include "port.h"
#include "rsyncd.h"
#include "tracker.h"
#include "util.h"

#define RESCAN_INTERVAL 2.0	/* seconds between scans of torrents/ */
#define STATUS_INTERVAL 10.0	/* seconds between status lines */
#define START_TIMEOUT 15.0	/* seconds for everything to listen */
#define STOP_TIMEOUT 5.0	/* seconds for a child to stop on SIGTERM */
#define SEEDER_CFG "seeder.cfg"

enum seed_state {
	SEED_OK = 1,	/* seeded (or about to be added) */
	SEED_BAD,	/* the .torrent cannot be used */
	SEED_NODATA,	/* its tarball is missing or has the wrong size */
};

/* One .torrent file of BASE/torrents. */
struct seed {
	char *file;		/* name in torrents/ */
	char *path;		/* torrents/NAME */
	struct stat sig;	/* the file as last read */
	int seen;		/* found by the current scan */
	enum seed_state state;
	struct bt_info info;
	struct bt_torrent *t;	/* in the session, or NULL */
	char *head;		/* the head we wrote for it (write_head) */
	char *problem;		/* last reported problem (reported once) */
	int tracker_errors;	/* in a row, for the reannounce backoff */
	double reannounce_at;	/* 0: none due */
};

struct seeder {
	struct si_paths paths;
	const char *address;
	int bt_port, tracker_port, rsync_port;
	int no_tracker, no_rsync;
	unsigned add_flags;	/* --schedule: BT_ADD_SEED and the rest */
	int stripe_depth;	/* --stripe-depth, 0 = libtorrent shim's default */
	int heads;		/* --torrent-heads: write_head() */

	struct bt_session *ses;
	struct seed **seeds;
	size_t nseeds;
	int64_t uploaded_gone;	/* payload of torrents no longer seeded */

	struct child tracker, rsyncd;
	char *tracker_dir, *rsyncd_conf, *cfg_path, *lock_path;
	int tracker_ready;	/* the running tracker answers */
	int hup_pending;	/* whitelist changed since the tracker read it */
	int cfg_written;
	int lock_fd;
	double sync_at;		/* when to add newly whitelisted torrents */
};

static volatile sig_atomic_t got_stop, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = sig;
}

static void setup_signals(void)
{
	daemon_signals(on_signal, 1);
}

/* ---- the torrents directory ---- */

/* Reports a problem of a seed once: again only when it changes. */
static void seed_problem(struct seed *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void seed_problem(struct seed *s, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = xstrdup(fmt);
	va_end(ap);
	if (!s->problem || strcmp(s->problem, msg))
		warning("%s; not seeding it", msg);
	free(s->problem);
	s->problem = msg;
}

static int64_t seed_uploaded(struct seed *s)
{
	struct bt_stats st;

	return s->t && bt_torrent_stats(s->t, &st, 0) == 0 ? st.payload_up : 0;
}

static void seed_drop_torrent(struct seeder *sd, struct seed *s)
{
	if (s->head && unlink(s->head) < 0 && errno != ENOENT)
		warning_errno("cannot remove '%s'", s->head);
	free(s->head);
	s->head = NULL;
	if (!s->t)
		return;
	sd->uploaded_gone += seed_uploaded(s);
	bt_torrent_remove(s->t);
	s->t = NULL;
}

static void seed_free(struct seeder *sd, struct seed *s)
{
	seed_drop_torrent(sd, s);
	free(s->file);
	free(s->path);
	free(s->problem);
	free(s);
}

static struct seed *seed_find(struct seeder *sd, const char *file)
{
	for (size_t i = 0; i < sd->nseeds; i++)
		if (!strcmp(sd->seeds[i]->file, file))
			return sd->seeds[i];
	return NULL;
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* (Re)reads a .torrent that is new or changed on disk. */
static void seed_read(struct seeder *sd, struct seed *s)
{
	struct bt_info info;
	char err[512];

	if (bt_torrent_file_info(s->path, &info, err, sizeof(err)) < 0) {
		seed_drop_torrent(sd, s);
		s->state = SEED_BAD;
		seed_problem(s, "%s", err);
		return;
	}
	if (s->info.info_hash[0] && strcmp(info.info_hash, s->info.info_hash)) {
		notice("torrent '%s' changed (%s, was %s)", s->file,
		       info.info_hash, s->info.info_hash);
		seed_drop_torrent(sd, s);
	}
	s->info = info;
	s->state = SEED_OK;
}

/* Another usable seed with the same info-hash (libtorrent refuses it). */
static struct seed *seed_duplicate(struct seeder *sd, struct seed *s)
{
	for (size_t i = 0; i < sd->nseeds; i++) {
		struct seed *o = sd->seeds[i];

		if (o != s && o->state == SEED_OK &&
		    !strcmp(o->info.info_hash, s->info.info_hash))
			return o;
	}
	return NULL;
}

/* --torrent-heads: writes torrents/NAME.torrent.head, the torrent without
 * its piece hashes (bt_torrent_head()): a node fetches it and the rest from
 * its peers, not from the server's link.  Without it nodes fetch the whole
 * torrent.  On by default since session 5: a stock client in the swarm
 * now costs the others 0.5-1 s, not 3-4 s (docs/perf/swarm-scheduling.md). */
static void write_head(struct seed *s)
{
	char err[512], *buf, *path = xasprintf("%s.head", s->path);
	size_t len;

	if (bt_torrent_head(s->path, &buf, &len, err, sizeof(err)) < 0) {
		warning("%s; nodes fetch the whole torrent", err);
	} else {
		if (write_file_atomic(path, buf, len, 0644) == 0) {
			s->head = path;
			path = NULL;
		}
		free(buf);
	}
	free(path);
}

/* Decides whether a readable torrent can be seeded from its tarball. */
static void seed_check_data(struct seeder *sd, struct seed *s)
{
	struct seed *dup;
	struct stat st;
	char *data;

	if (s->state == SEED_BAD)
		return;
	s->state = SEED_NODATA;
	if (s->info.num_files != 1 || strchr(s->info.name, '/') ||
	    s->info.name[0] == '.') {
		seed_drop_torrent(sd, s);
		seed_problem(s, "torrent '%s' does not describe one tarball",
			     s->path);
		return;
	}
	data = path_join(sd->paths.tarballs, s->info.name);
	errno = 0;
	if (stat(data, &st) < 0 || !S_ISREG(st.st_mode)) {
		seed_drop_torrent(sd, s);
		seed_problem(s, "cannot use '%s' for torrent '%s': %s", data,
			     s->file, errno ? strerror(errno) : "not a file");
	} else if ((int64_t)st.st_size != s->info.total_size) {
		seed_drop_torrent(sd, s);
		seed_problem(s, "size of '%s' (%lld bytes) does not match "
			     "torrent '%s' (%lld bytes)", data,
			     (long long)st.st_size, s->file,
			     (long long)s->info.total_size);
	} else if (!s->t && (dup = seed_duplicate(sd, s))) {
		seed_problem(s, "torrent '%s' is the same as '%s' (%s)",
			     s->file, dup->file, s->info.info_hash);
	} else {
		s->state = SEED_OK;
	}
	free(data);
}

static int is_torrent_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 8 && !strcmp(name + n - 8, ".torrent") &&
	       !strstr(name, ".tmp.");
}

/* Notes one directory entry of torrents/. */
static void scan_entry(struct seeder *sd, const char *name)
{
	struct seed *s = seed_find(sd, name);
	char *path = path_join(sd->paths.torrents, name);
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		free(path);
		return;	/* vanished meanwhile, or not a file: as if absent */
	}
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		s->file = xstrdup(name);
		s->path = path;
		path = NULL;
		sd->seeds = xrealloc(sd->seeds,
				     (sd->nseeds + 1) * sizeof(*sd->seeds));
		sd->seeds[sd->nseeds++] = s;
	}
	s->seen = 1;
	if (!s->state || !same_file(&st, &s->sig)) {
		s->sig = st;
		seed_read(sd, s);
	}
	free(path);
}

/* Removes NAME if it is a torrent head (write_head()) whose torrent is
 * gone: left by a seeder that was killed. */
static void remove_stale_head(struct seeder *sd, const char *name)
{
	size_t n = strlen(name);
	char *path, *tor;

	if (n < 14 || strcmp(name + n - 13, ".torrent.head"))
		return;
	path = path_join(sd->paths.torrents, name);
	tor = xstrdup(path);
	tor[strlen(tor) - 5] = '\0';
	/* With heads off (--no-torrent-heads) every head is stale. */
	if ((!sd->heads || (access(tor, F_OK) < 0 && errno == ENOENT)) &&
	    unlink(path) < 0 && errno != ENOENT)
		warning_errno("cannot remove '%s'", path);
	free(tor);
	free(path);
}

/* Rescans torrents/.  Returns 0 or -1 when the directory is unreadable
 * (the seeds stay as they were). */
static int scan(struct seeder *sd)
{
	DIR *d = opendir(sd->paths.torrents);
	struct dirent *de;
	size_t i, j;

	if (!d)
		return error_errno("cannot open directory '%s'",
				   sd->paths.torrents);
	for (i = 0; i < sd->nseeds; i++)
		sd->seeds[i]->seen = 0;
	while ((de = readdir(d)))
		if (is_torrent_name(de->d_name))
			scan_entry(sd, de->d_name);
		else
			remove_stale_head(sd, de->d_name);
	closedir(d);
	for (i = j = 0; i < sd->nseeds; i++) {
		struct seed *s = sd->seeds[i];

		if (s->seen) {
			sd->seeds[j++] = s;
			continue;
		}
		if (s->t)
			notice("torrent '%s' removed; no longer seeding %s",
			       s->file, s->info.info_hash);
		seed_free(sd, s);
	}
	sd->nseeds = j;
	for (i = 0; i < sd->nseeds; i++)
		seed_check_data(sd, sd->seeds[i]);
	return 0;
}

static size_t seeds_ok(const struct seeder *sd)
{
	size_t n = 0;

	for (size_t i = 0; i < sd->nseeds; i++)
		n += sd->seeds[i]->state == SEED_OK;
	return n;
}

/* ---- the tracker ---- */

static void reload_tracker(struct seeder *sd)
{
	if (child_signal(&sd->tracker, SIGHUP) < 0) {
		warning_errno("cannot signal opentracker (pid %d)",
			      (int)sd->tracker.pid);
		return;
	}
	verbose("asked opentracker (pid %d) to reload its whitelist",
		(int)sd->tracker.pid);
	sd->hup_pending = 0;
}

/* Rewrites the whitelist with the usable torrents; asks the tracker to
 * reload it when it changed.  Returns 0 or -1. */
static int update_whitelist(struct seeder *sd)
{
	const char **hashes;
	size_t n = 0;
	int changed;

	if (sd->no_tracker)
		return 0;
	hashes = xcalloc(sd->nseeds + 1, sizeof(*hashes));
	for (size_t i = 0; i < sd->nseeds; i++)
		if (sd->seeds[i]->state == SEED_OK)
			hashes[n++] = sd->seeds[i]->info.info_hash;
	changed = tracker_write_whitelist(sd->tracker_dir, hashes, n);
	free(hashes);
	if (changed < 0)
		return -1;
	if (changed) {
		verbose("tracker whitelist now has %zu info-hashes", n);
		sd->hup_pending = 1;
	}
	if (sd->hup_pending && sd->tracker_ready)
		reload_tracker(sd);
	return 0;
}

static void reannounce_all(struct seeder *sd)
{
	for (size_t i = 0; i < sd->nseeds; i++)
		if (sd->seeds[i]->t)
			bt_torrent_reannounce(sd->seeds[i]->t);
}

/* Notices a tracker that finished (re)starting. */
static void check_tracker_ready(struct seeder *sd)
{
	if (sd->no_tracker || sd->tracker_ready || sd->tracker.pid <= 0 ||
	    !tracker_responds(sd->address, sd->tracker_port, 100))
		return;
	sd->tracker_ready = 1;
	if (sd->tracker.restarts)
		notice("opentracker is back (pid %d)", (int)sd->tracker.pid);
	if (sd->hup_pending)
		reload_tracker(sd);
	/* A new tracker knows no peers: tell it about us now. */
	reannounce_all(sd);
}

/* ---- the BitTorrent session ---- */

/* Adds to the session every usable torrent not in it yet. */
static void sync_torrents(struct seeder *sd)
{
	for (size_t i = 0; i < sd->nseeds; i++) {
		struct seed *s = sd->seeds[i];
		char err[512];

		if (s->state != SEED_OK || s->t)
			continue;
		s->t = bt_torrent_add(sd->ses, s->path, sd->paths.tarballs,
				      sd->add_flags, err, sizeof(err));
		if (!s->t) {
			s->state = SEED_BAD;
			seed_problem(s, "%s", err);
			continue;
		}
		bt_torrent_set_user(s->t, s);
		if (sd->heads)
			write_head(s);
		free(s->problem);
		s->problem = NULL;
		s->tracker_errors = 0;
		s->reannounce_at = 0;
		notice("seeding '%s' (%s, %lld bytes)", s->info.name,
		       s->info.info_hash, (long long)s->info.total_size);
	}
}

static void on_tracker_error(struct seeder *sd, struct seed *s,
			     const char *msg)
{
	double delay = 1;

	verbose("tracker refused or failed for '%s': %s", s->file, msg);
	/* Our own tracker may just not have reloaded its whitelist yet, or
	 * be restarting: try again soon, backing off up to a minute. */
	if (sd->no_tracker)
		return;
	for (int i = 0; i < s->tracker_errors && delay < 60; i++)
		delay *= 2;
	s->tracker_errors++;
	s->reannounce_at = now_monotonic() + (delay > 60 ? 60 : delay);
}

static void handle_event(struct seeder *sd, const struct bt_event *e)
{
	struct seed *s = e->torrent ? bt_torrent_user(e->torrent) : NULL;

	switch (e->type) {
	case BT_EV_TRACKER_ERROR:
		if (s)
			on_tracker_error(sd, s, e->msg);
		break;
	case BT_EV_TRACKER_REPLY:
		if (s) {
			debug("tracker answered for '%s' (%d peers)", s->file,
			      e->piece);
			s->tracker_errors = 0;
			s->reannounce_at = 0;
		}
		break;
	case BT_EV_TORRENT_ERROR:
	case BT_EV_FILE_ERROR:
	case BT_EV_HASH_FAILED:
		warning("%s: %s", s ? s->file : "session", e->msg);
		break;
	case BT_EV_LISTEN_FAILED:
	case BT_EV_DROPPED:
		warning("BitTorrent session: %s", e->msg);
		break;
	case BT_EV_PEER_CONNECT:
	case BT_EV_PEER_DISCONNECT:
		debug("%s %s: %s", bt_event_name(e->type),
		      s ? s->file : "-", e->msg);
		break;
	default:
		break;
	}
}

/* Drains libtorrent's events, waiting up to timeout_ms for the first. */
static void poll_session(struct seeder *sd, int timeout_ms)
{
	struct bt_event ev[64];
	int n;

	n = bt_session_poll(sd->ses, timeout_ms, ev, ARRAY_SIZE(ev));
	for (int i = 0; i < n; i++)
		handle_event(sd, &ev[i]);
	while (n == (int)ARRAY_SIZE(ev)) {
		n = bt_session_poll(sd->ses, 0, ev, ARRAY_SIZE(ev));
		for (int i = 0; i < n; i++)
			handle_event(sd, &ev[i]);
	}
}

static void due_reannounces(struct seeder *sd)
{
	double now = now_monotonic();

	for (size_t i = 0; i < sd->nseeds; i++) {
		struct seed *s = sd->seeds[i];

		if (s->t && s->reannounce_at && now >= s->reannounce_at &&
		    sd->tracker_ready) {
			s->reannounce_at = 0;
			bt_torrent_reannounce(s->t);
		}
	}
}

static void print_status(struct seeder *sd)
{
	int64_t up = sd->uploaded_gone;
	int peers = 0, rate = 0;
	size_t n = 0;
	char a[32], b[32];

	for (size_t i = 0; i < sd->nseeds; i++) {
		struct seed *s = sd->seeds[i];
		struct bt_stats st;

		if (!s->t || bt_torrent_stats(s->t, &st, 0) < 0)
			continue;
		n++;
		peers += st.num_peers;
		rate += st.upload_rate;
		up += st.payload_up;
		verbose("  %s: %d peers, upload %s/s, uploaded %s", s->file,
			st.num_peers, human_bytes(a, sizeof(a), st.upload_rate),
			human_bytes(b, sizeof(b), (double)st.payload_up));
		struct bt_stripe_stats ss;

		if (bt_torrent_stripe_stats(s->t, &ss) == 0)
			verbose("  %s: stripe: %lld pieces announced, %lld "
				"again (%lld orphaned, %lld endgame), %d never, "
				"%d slow nodes, %lld stock peers, %lld holds",
				s->file, (long long)ss.fresh_pieces,
				(long long)ss.repeat_pieces,
				(long long)ss.orphan_pieces,
				(long long)ss.endgame_pieces, ss.unsent_pieces,
				ss.slow_peers, (long long)ss.stock_peers,
				(long long)ss.balance_holds);
	}
	notice("status: %zu torrents, %d peers, upload %s/s, uploaded %s", n,
	       peers, human_bytes(a, sizeof(a), rate),
	       human_bytes(b, sizeof(b), (double)up));
}

/* ---- children ---- */

/* Reaps and restarts the children.  During start-up (starting=1) a death
 * is fatal: returns -1 with a message. */
static int supervise(struct seeder *sd, int starting)
{
	struct child *kids[] = { &sd->tracker, &sd->rsyncd };
	char how[96];

	for (size_t i = 0; i < ARRAY_SIZE(kids); i++) {
		struct child *c = kids[i];
		pid_t pid = c->pid;
		int r;

		if (!c->name)
			continue;
		if (child_reap(c)) {
			child_status_str(c->last_status, how, sizeof(how));
			if (c == &sd->tracker)
				sd->tracker_ready = 0;
			if (starting)
				return error("%s (pid %d) %s while starting",
					     c->name, (int)pid, how);
			warning("%s (pid %d) %s; restarting it in %.1f s",
				c->name, (int)pid, how,
				c->restart_at - now_monotonic());
		}
		r = child_tick(c);
		if (r > 0)
			notice("restarted %s (pid %d, restart %d)", c->name,
			       (int)c->pid, c->restarts);
	}
	return 0;
}

static int write_rsyncd_conf(struct seeder *sd)
{
	const struct rsyncd_module mods[] = {
		{ "torrents", sd->paths.torrents, "SwarmImager torrents",
		  "*.tmp.*" },
		{ "overrides", sd->paths.overrides, "SwarmImager overrides",
		  NULL },
		{ "scripts", sd->paths.scripts, "SwarmImager scripts", NULL },
		{ "images", sd->paths.images, "SwarmImager images", NULL },
	};
	char *log = path_join(sd->paths.run, "rsyncd.log");
	struct rsyncd_config c = {
		sd->address, sd->rsync_port, log, geteuid() == 0,
		mods, ARRAY_SIZE(mods)
	};
	int ret = rsyncd_write_conf(sd->rsyncd_conf, &c);

	free(log);
	return ret;
}

/* ---- start, run, stop ---- */

/* Only one seeder per base: the others' files would be ours. */
static int take_lock(struct seeder *sd)
{
	sd->lock_fd = open(sd->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (sd->lock_fd < 0)
		return error_errno("cannot open '%s'", sd->lock_path);
	if (flock(sd->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return error_errno("cannot lock '%s' (is another si_seeder "
				   "running on '%s'?)", sd->lock_path,
				   sd->paths.base);
	return 0;
}

static int port_taken(struct seeder *sd, int port, const int *self)
{
	const int *ports[] = { &sd->bt_port, &sd->tracker_port, &sd->rsync_port };
	const int off[] = { 0, sd->no_tracker, sd->no_rsync };

	for (size_t i = 0; i < ARRAY_SIZE(ports); i++)
		if (ports[i] != self && !off[i] && *ports[i] == port)
			return 1;
	return 0;
}

/* Checks or picks the ports before anything is started. */
static int choose_ports(struct seeder *sd)
{
	struct { const char *what; int *port; unsigned protos; int off; } p[] = {
		{ "BitTorrent", &sd->bt_port, PORT_TCP, 0 },
		{ "tracker", &sd->tracker_port, PORT_TCP | PORT_UDP,
		  sd->no_tracker },
		{ "rsync", &sd->rsync_port, PORT_TCP, sd->no_rsync },
	};

	for (size_t i = 0; i < ARRAY_SIZE(p); i++) {
		int port = *p[i].port;

		if (p[i].off || !port)
			continue;
		if (port_taken(sd, port, p[i].port))
			return error("the BitTorrent, tracker and rsync ports "
				     "must differ (%d)", port);
		if (port_check_free(p[i].what, sd->address, port,
				    p[i].protos) < 0)
			return -1;
	}
	/* Then choose free ports for those given as 0. */
	for (size_t i = 0; i < ARRAY_SIZE(p); i++) {
		int port = 0;

		if (p[i].off || *p[i].port)
			continue;
		for (int tries = 0; tries < 20 &&
		     (!port || port_taken(sd, port, p[i].port)); tries++)
			if ((port = port_pick(p[i].what, sd->address,
					      p[i].protos)) < 0)
				return -1;
		if (port_taken(sd, port, p[i].port))
			return error("cannot find a free %s port", p[i].what);
		*p[i].port = port;
	}
	return 0;
}

static int start_session(struct seeder *sd)
{
	struct bt_session_config c;
	char listen[128], err[512];

	port_format(listen, sizeof(listen), sd->address, sd->bt_port);
	bt_session_config_init(&c);
	c.listen = listen;
	c.profile = BT_PROFILE_SEEDER;
	c.stripe_depth = sd->stripe_depth;
	c.metadata_gate = sd->heads;
	sd->ses = bt_session_new(&c, err, sizeof(err));
	if (!sd->ses)
		return error("%s", err);
	return 0;
}

/* Is everything listening yet?  Returns 1, 0, or -1 when the BitTorrent
 * session cannot listen where asked. */
static int all_listening(struct seeder *sd)
{
	int port = bt_session_listen_port(sd->ses);
	char where[128];

	if (port > 0 && port != sd->bt_port)
		return error("cannot listen on BitTorrent port %s (the session "
			     "got port %d)", port_format(where, sizeof(where),
			     sd->address, sd->bt_port), port);
	if (port <= 0)
		return 0;
	check_tracker_ready(sd);
	if (!sd->no_tracker && !sd->tracker_ready)
		return 0;
	if (!sd->no_rsync && !port_accepts(sd->address, sd->rsync_port, 100))
		return 0;
	return 1;
}

static int write_seeder_cfg(struct seeder *sd)
{
	char *buf = xasprintf("# written by si_seeder (pid %d) while it runs\n"
			      "BT_SEEDER_PORT=%d\n", (int)getpid(), sd->bt_port);
	int ret;

	if (!sd->no_tracker) {
		char *more = xasprintf("%sBT_TRACKER_PORT=%d\n", buf,
				       sd->tracker_port);

		free(buf);
		buf = more;
	}
	ret = write_file_atomic(sd->cfg_path, buf, strlen(buf), 0644);
	free(buf);
	if (!ret)
		sd->cfg_written = 1;
	return ret;
}

static void print_ready(struct seeder *sd)
{
	char bt[128], tr[128] = "off", rs[128] = "off";

	port_format(bt, sizeof(bt), sd->address, sd->bt_port);
	if (!sd->no_tracker)
		port_format(tr, sizeof(tr), sd->address, sd->tracker_port);
	if (!sd->no_rsync)
		port_format(rs, sizeof(rs), sd->address, sd->rsync_port);
	printf("si_seeder: ready: bittorrent %s tracker %s rsync %s "
	       "torrents %zu\n", bt, tr, rs, seeds_ok(sd));
	log_flush_stdout();
}

static int start(struct seeder *sd)
{
	double end;
	int r;

	if (choose_ports(sd) < 0 || paths_create(&sd->paths) < 0 ||
	    mkdir_p(sd->tracker_dir, 0755) < 0 || take_lock(sd) < 0)
		return -1;
	scan(sd);
	if (!sd->no_tracker) {
		if (update_whitelist(sd) < 0)
			return -1;
		sd->hup_pending = 0;	/* read at start */
		tracker_child_init(&sd->tracker, sd->address, sd->tracker_port,
				   sd->tracker_dir);
		if (child_start(&sd->tracker) < 0)
			return -1;
	}
	if (!sd->no_rsync) {
		if (write_rsyncd_conf(sd) < 0)
			return -1;
		rsyncd_child_init(&sd->rsyncd, sd->rsyncd_conf);
		if (child_start(&sd->rsyncd) < 0)
			return -1;
	}
	if (start_session(sd) < 0)
		return -1;
	end = now_monotonic() + START_TIMEOUT;
	while (!(r = all_listening(sd))) {
		if (got_stop)
			return 1;
		if (supervise(sd, 1) < 0)
			return -1;
		if (now_monotonic() > end)
			return error("not everything listens after %.0f s",
				     START_TIMEOUT);
		poll_session(sd, 100);
	}
	if (r < 0)
		return -1;
	sync_torrents(sd);
	if (write_seeder_cfg(sd) < 0)
		return -1;
	print_ready(sd);
	return 0;
}

static void run(struct seeder *sd)
{
	double now = now_monotonic();
	double next_scan = now + RESCAN_INTERVAL, next_status = now + STATUS_INTERVAL;

	while (!got_stop) {
		poll_session(sd, 200);
		supervise(sd, 0);
		check_tracker_ready(sd);
		now = now_monotonic();
		if (got_hup || now >= next_scan) {
			got_hup = 0;
			next_scan = now + RESCAN_INTERVAL;
			scan(sd);
			update_whitelist(sd);
			/* Give the tracker a moment to reload first. */
			sd->sync_at = now + 0.3;
		}
		if (sd->sync_at && now >= sd->sync_at) {
			sd->sync_at = 0;
			sync_torrents(sd);
		}
		due_reannounces(sd);
		if (now >= next_status) {
			next_status = now + STATUS_INTERVAL;
			print_status(sd);
		}
	}
	print_status(sd);	/* the totals, for the record */
	notice("stopping (signal %d)", (int)got_stop);
}

/* Stops everything that was started; safe at any point of start(). */
static void stop(struct seeder *sd)
{
	if (sd->cfg_written && unlink(sd->cfg_path) < 0 && errno != ENOENT)
		warning_errno("cannot remove '%s'", sd->cfg_path);
	sd->cfg_written = 0;
	for (size_t i = 0; i < sd->nseeds; i++)
		seed_free(sd, sd->seeds[i]);
	free(sd->seeds);
	sd->seeds = NULL;
	sd->nseeds = 0;
	bt_session_free(sd->ses);	/* tells the tracker we leave */
	sd->ses = NULL;
	child_release(&sd->tracker);
	child_release(&sd->rsyncd);
	if (sd->lock_fd >= 0)
		close(sd->lock_fd);
	free(sd->tracker_dir);
	free(sd->rsyncd_conf);
	free(sd->cfg_path);
	free(sd->lock_path);
	paths_release(&sd->paths);
}

/* ---- options ---- */

struct options {
	char *base, *address, *bt_port, *tracker_port, *rsync_port, *schedule;
	char *stripe_depth;
	int no_tracker, no_rsync, heads, no_heads;
};

static int port_value(const char *what, const char *opt, const char *conf,
		      const char *key, int def, const struct config *cfg)
{
	const char *v = opt ? opt : config_get(cfg, key);
	long port;

	if (!v || !*v)
		return def;
	if (parse_long(v, 0, 65535, &port) < 0) {
		if (opt)
			die(2, "invalid %s port '%s'", what, v);
		const struct config_entry *e = config_find(cfg, key);

		die(1, "invalid %s '%s' in %s", key, v, e ? e->source : conf);
	}
	return (int)port;
}

/* --schedule: how the torrents are seeded (docs/perf/swarm-scheduling.md).
 * stripe: each piece announced to one node at a time, so that the server
 * sends about one copy; plain: a normal seed; super: libtorrent's super
 * seeding. */
static unsigned schedule_flags(const char *name)
{
	if (!name || !strcmp(name, "stripe"))
		return BT_ADD_SEED | BT_ADD_STRIPE_SEED;
	if (!strcmp(name, "plain"))
		return BT_ADD_SEED;
	if (!strcmp(name, "super"))
		return BT_ADD_SEED | BT_ADD_SUPER_SEED;
	die(2, "invalid schedule '%s' (stripe, plain or super)", name);
}

static void configure(struct seeder *sd, const struct options *o)
{
	struct config cfg;
	char *conf;

	memset(sd, 0, sizeof(*sd));
	sd->lock_fd = -1;
	paths_init(&sd->paths, o->base, NULL);
	conf = path_join(sd->paths.etc, "bittorrent.conf");
	config_init(&cfg);
	if (config_load_file(&cfg, conf, 0, 1) < 0)
		exit(1);
	sd->address = o->address ? o->address : "0.0.0.0";
	if (port_parse_addr(sd->address) < 0)
		die(2, "invalid address '%s' (a numeric IP address is needed)",
		    sd->address);
	sd->bt_port = port_value("BitTorrent", o->bt_port, conf,
				 "BT_SEEDER_PORT", 6881, &cfg);
	sd->tracker_port = port_value("tracker", o->tracker_port, conf,
				      "BT_TRACKER_PORT", 6969, &cfg);
	sd->rsync_port = port_value("rsync", o->rsync_port, conf,
				    "BT_RSYNC_PORT", 873, &cfg);
	sd->no_tracker = o->no_tracker;
	sd->no_rsync = o->no_rsync;
	sd->add_flags = schedule_flags(o->schedule);
	/* Heads by default (session 5); an option wins over the file. */
	sd->heads = 1;
	if (config_get(&cfg, "BT_TORRENT_HEADS") &&
	    parse_bool(config_get(&cfg, "BT_TORRENT_HEADS"), &sd->heads) < 0)
		die(1, "invalid BT_TORRENT_HEADS '%s' in %s (yes or no)",
		    config_get(&cfg, "BT_TORRENT_HEADS"),
		    config_find(&cfg, "BT_TORRENT_HEADS")->source);
	if (o->heads && o->no_heads)
		die(2, "--torrent-heads and --no-torrent-heads contradict");
	if (o->heads || o->no_heads)
		sd->heads = o->heads;
	if (o->stripe_depth) {
		long v;

		if (parse_long(o->stripe_depth, 1, 64, &v) < 0)
			die(2, "invalid stripe depth '%s' (1 to 64)", o->stripe_depth);
		sd->stripe_depth = (int)v;
	}
	sd->tracker_dir = path_join(sd->paths.run, "tracker");
	sd->rsyncd_conf = path_join(sd->paths.run, "rsyncd.conf");
	sd->cfg_path = path_join(sd->paths.torrents, SEEDER_CFG);
	sd->lock_path = path_join(sd->paths.run, "si_seeder.lock");
	config_release(&cfg);
	free(conf);
}

int main(int argc, const char **argv)
{
	struct options o = { 0 };
	struct poptOption table[] = {
		OPTS_BASE(o.base),
		{ "address", '\0', POPT_ARG_STRING, &o.address, 0,
		  "bind everything to this IP address (default 0.0.0.0)", "IP" },
		{ "bt-port", '\0', POPT_ARG_STRING, &o.bt_port, 0,
		  "BitTorrent listen port (default 6881; 0 = any free)", "PORT" },
		{ "tracker-port", '\0', POPT_ARG_STRING, &o.tracker_port, 0,
		  "tracker port (default BT_TRACKER_PORT or 6969)", "PORT" },
		{ "rsync-port", '\0', POPT_ARG_STRING, &o.rsync_port, 0,
		  "rsync daemon port (default 873)", "PORT" },
		{ "no-tracker", '\0', POPT_ARG_NONE, &o.no_tracker, 0,
		  "do not run opentracker", NULL },
		{ "no-rsync", '\0', POPT_ARG_NONE, &o.no_rsync, 0,
		  "do not run the rsync daemon", NULL },
		{ "schedule", '\0', POPT_ARG_STRING, &o.schedule, 0,
		  "how torrents are seeded: stripe (default), plain or super",
		  "NAME" },
		{ "stripe-depth", '\0', POPT_ARG_STRING, &o.stripe_depth, 0,
		  "stripe: pieces each node is given ahead (default 2)", "N" },
		{ "torrent-heads", '\0', POPT_ARG_NONE, &o.heads, 0,
		  "nodes fetch the torrents' piece hashes from each other "
		  "(writes NAME.torrent.head; the default)", NULL },
		{ "no-torrent-heads", '\0', POPT_ARG_NONE, &o.no_heads, 0,
		  "nodes fetch whole torrents from the server", NULL },
		OPTS_COMMON,
		POPT_TABLEEND
	};
	struct seeder sd;
	poptContext con;
	int ret;

	log_init(argv[0]);
	con = opts_parse(argc, argv, table, "[OPTION...]", 0, NULL, NULL);
	setup_signals();
	configure(&sd, &o);
	ret = start(&sd);
	if (ret == 0)
		run(&sd);
	stop(&sd);
	poptFreeContext(con);
	free(o.base); free(o.address); free(o.bt_port);
	free(o.tracker_port); free(o.rsync_port); free(o.schedule);
	free(o.stripe_depth);
	return ret < 0 ? 1 : 0;
}
