/* si_boel - install a target root from the image server over BitTorrent.
 *
 * Settings (options > --config local.cfg > kernel command line) name the
 * image server and the image; the torrents come over rsync, the image
 * tarball over BitTorrent (tracker, the server's seeder directly, peer
 * exchange) into a staging place, extracted securely into the target while
 * it downloads; then the node's own name, machine id and SSH host keys
 * (lib/identity.c) and its first-boot units (lib/firstboot.c); then the
 * overrides in SystemImager's order; then the node seeds until nobody
 * needs it, writes a completion record last, and reports the outcome to
 * SI_REPORT_URL (lib/report.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "disklayout.h"
#include "diskprep.h"
#include "extract.h"
#include "fetch.h"
#include "firstboot.h"
#include "identity.h"
#include "linger.h"
#include "version.h"
#include "log.h"
#include "monitor_client.h"
#include "netif.h"
#include "opts.h"
#include "override.h"
#include "report.h"
#include "rootfs.h"
#include "stage.h"
#include "swarm.h"
#include "util.h"

#define RECORD_DIR "etc/swarmimager"
#define RECORD_NAME "installed"
/* Milliseconds a connection to MONITOR_SERVER may take, and what the
 * monitor is given at the end to take the last reports. */
#define MONITOR_CONNECT_MS 3000
#define MONITOR_FLUSH_MS 2000
/* Milliseconds a status report to SI_REPORT_URL may take in all. */
#define REPORT_TIMEOUT_MS 5000
/* Seconds to wait for the image's torrent from the swarm before fetching
 * it from the server: peers send it within a second when all is well. */
#define TORRENT_FETCH_TIMEOUT 5

/* SystemImager's monitor status codes. */
enum {
	STATUS_FAILED = -1,
	STATUS_STARTING = 0,
	STATUS_IMAGED = 100,
	STATUS_FINALIZING = 101,
};

struct settings {
	const char *imageserver, *imagename, *overrides, *staging;
	const char *hostname, *groupname, *monitor_server;
	const char *disks, *diskorder;	/* DISKS=auto|yes|no, DISKORDER */
	const char *firmware;	/* SI_FIRMWARE=auto|bios|uefi */
	const char *report_url;		/* SI_REPORT_URL */
	char mac[NETIF_MAC_LEN];	/* SI_MAC, lower case, or "" */
	int mac_looked;			/* node_mac() looked for one */
	int seed_wait, overlap;
	int hostname_write, machine_id_reset, ssh_hostkeys_reset, firstboot;
	long upload_min;	/* KB/s */
	long polling_time;	/* s */
};

struct boel {
	/* options */
	char *target, *config_file, *cmdline_file, *listen, *layout_file;
	double linger_max, retry_delay, stall_timeout;
	int linger_samples, retries;
	long long staging_free;		/* -1 = real free space */
	long upload_limit;
	struct config cfg;
	struct settings s;
	/* state */
	char *root;		/* the target, absolute */
	char *work;		/* private directory for torrents, scripts */
	char *host, *seeder_ip;
	int seeder_port;
	char *cluster_txt;
	int cluster_fetched;	/* cluster.txt fetched, or known missing */
	char *overrides_listing;
	int listed_overrides;
	struct swarm_dl *reading;	/* the download being extracted */
	int64_t read_bytes, prefetch_at;	/* prefetch() at half the image */
	struct fetch_retry retry;
	struct swarm *sw;
	struct swarm_dl **dls;
	char **stage_dirs;
	size_t n_dls, n_stage;
	char info_hash[41];
	long image_version;	/* from the torrent's comment, 0 unknown */
	char *applied;		/* names of the overrides applied */
	double started;
	struct disklayout dl;
	struct diskprep dp;
	int prepared;		/* disks prepared and mounted */
	int overlap_opt, no_overlap_opt;
	struct monitor_client *mon;	/* MONITOR_SERVER's, or NULL */
	char mon_mac[NETIF_MAC_LEN];	/* the MAC it knows us by */
	int64_t image_total;		/* the image tarball's size */
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

/* What MONITOR_SERVER knows this node as: its MAC (SI_MAC, else the
 * interface that reaches the monitor when it is named by address, else
 * the first one up), name, image and the image's version once known. */
static void monitor_identify(struct boel *b)
{
	struct monitor_report r;
	char version[24];

	monitor_report_init(&r);
	memcpy(r.mac, b->mon_mac, sizeof(r.mac));
	r.hostname = (char *)b->s.hostname;
	r.image = (char *)b->s.imagename;
	if (b->image_version > 0) {
		snprintf(version, sizeof(version), "%ld", b->image_version);
		r.version = version;
	}
	monitor_hello(b->mon, &r);
}

/* si_boel's notices, warnings and errors go to the monitor too. */
static void monitor_log_hook(void *ctx, const char *level, const char *msg)
{
	struct boel *b = ctx;
	struct monitor_report r;

	monitor_report_init(&r);
	r.type = MONITOR_LOG;
	r.level = (char *)level;
	r.text = (char *)msg;
	monitor_send(b->mon, &r);
}

/* Starts reporting to MONITOR_SERVER (lib/monitor_client.c): a thread of
 * its own, so that a slow or dead monitor costs the install nothing. */
static void monitor_start(struct boel *b)
{
	char *host = NULL;
	int port;
	struct in_addr a;

	if (!b->s.monitor_server)
		return;
	b->mon = monitor_new(b->s.monitor_server, MONITOR_CONNECT_MS);
	if (!b->mon) {
		warning("not reporting to MONITOR_SERVER '%s'",
			b->s.monitor_server);
		return;
	}
	if (b->s.mac[0]) {
		memcpy(b->mon_mac, b->s.mac, sizeof(b->mon_mac));
	} else if (fetch_parse_server(b->s.monitor_server, &host, &port) < 0 ||
		   netif_mac(inet_pton(AF_INET, host, &a) == 1 ? host : NULL,
			     b->mon_mac, NULL) < 0) {
		warning("no network interface with a MAC address: the monitor "
			"gets no reports (set SI_MAC)");
		monitor_free(b->mon, 0);
		b->mon = NULL;
	}
	free(host);
	if (!b->mon)
		return;
	notice("reporting to the monitor %s as %s", b->s.monitor_server,
	       b->mon_mac);
	monitor_identify(b);
	log_set_hook(monitor_log_hook, b);
}

static void monitor_stop(struct boel *b)
{
	long sent, dropped;

	if (!b->mon)
		return;
	log_set_hook(NULL, NULL);
	monitor_counts(b->mon, &sent, &dropped);
	monitor_free(b->mon, MONITOR_FLUSH_MS);
	b->mon = NULL;
	verbose("monitor: %ld lines sent, %ld dropped", sent, dropped);
}

/* A status change for the monitor (SystemImager's codes: <0 error with
 * its message, 0 starting, 1-99 percent, 100 imaged, 101 finalizing),
 * sent at once. */
static void report_status(struct boel *b, int status, const char *message)
{
	struct monitor_report r;

	debug("status %d", status);
	if (!b->mon)
		return;
	monitor_report_init(&r);
	r.type = MONITOR_STATE;
	r.status = status;
	r.message = (char *)message;
	monitor_send(b->mon, &r);
}

/* The download's progress lines (every BITTORRENT_POLLING_TIME seconds):
 * the image's percent is its status, 1 to 99, with the figures. */
static void on_progress(void *ctx, const char *label, double percent,
			long down, long up)
{
	struct boel *b = ctx;
	struct swarm_totals t;
	struct monitor_report r;
	int st = (int)percent;

	if (!b->mon || strncmp(label, "image-", 6))
		return;
	swarm_totals(b->sw, &t);
	monitor_report_init(&r);
	r.type = MONITOR_PROGRESS;
	r.status = st < 1 ? 1 : st > 99 ? 99 : st;
	r.percent = percent < 0 ? 0 : percent > 100 ? 100 : percent;
	r.downloaded = t.down;
	r.uploaded = t.up;
	r.extracted = b->reading ? b->read_bytes : 0;
	r.total = b->image_total;
	r.down_rate = (double)down;
	r.up_rate = (double)up;
	r.peers = t.peers;
	monitor_send(b->mon, &r);
}

/* --- settings ------------------------------------------------------- */

static const char *known_keys[] = {
	"IMAGESERVER", "IMAGENAME", "OVERRIDES", "BITTORRENT_STAGING",
	"BITTORRENT_SEED_WAIT", "BITTORRENT_UPLOAD_MIN",
	"BITTORRENT_POLLING_TIME", "HOSTNAME", "GROUPNAME", "MONITOR_SERVER",
	"BITTORRENT_OVERLAP", "DISKS", "DISKORDER", "SI_FIRMWARE",
	"SI_HOSTNAME_WRITE", "SI_MACHINE_ID_RESET", "SI_SSH_HOSTKEYS_RESET",
	"SI_REPORT_URL", "SI_MAC", "SI_FIRSTBOOT", NULL,
};

static int bad_value(const struct config *c, const char *key,
		     const char *why)
{
	const struct config_entry *e = config_find(c, key);

	return error("invalid %s='%s' (from %s): %s", key, e->value,
		     e->source, why);
}

static int valid_list(const char *s)
{
	char **w = NULL;
	size_t n = 0;
	int ok = 1;

	opts_split_list(s, &w, &n);
	for (size_t i = 0; i < n; i++)
		ok &= valid_name(w[i]);
	opts_free_list(w);
	return ok;
}

static int check_bool(const struct config *c, const char *key, int *out,
		      int dflt)
{
	const char *v = config_get(c, key);

	*out = dflt;
	if (v && parse_bool(v, out) < 0)
		return bad_value(c, key, "expected y or n");
	return 0;
}

static int check_long(const struct config *c, const char *key, long min,
		      long max, long *out, long dflt)
{
	const char *v = config_get(c, key);

	*out = dflt;
	if (v && parse_long(v, min, max, out) < 0) {
		char *why = xasprintf("expected a number from %ld to %ld",
				      min, max);
		bad_value(c, key, why);
		free(why);
		return -1;
	}
	return 0;
}

static int check_report(struct boel *b)
{
	const struct config *c = &b->cfg;
	struct settings *s = &b->s;
	const char *mac = config_get(c, "SI_MAC");
	struct report_url u;
	char why[128];

	s->report_url = config_get(c, "SI_REPORT_URL");
	if (s->report_url && !*s->report_url)
		s->report_url = NULL;
	if (s->report_url) {
		if (report_url_parse(s->report_url, &u, why, sizeof(why)) < 0)
			return bad_value(c, "SI_REPORT_URL", why);
		report_url_release(&u);
	}
	if (mac && netif_mac_parse(mac, s->mac) < 0)
		return bad_value(c, "SI_MAC", "expected a MAC address "
				 "(52:54:00:aa:bb:cc)");
	return 0;
}

/* Checks every known setting.  Returns 0 or -1 (a usage error). */
static int check_settings(struct boel *b)
{
	const struct config *c = &b->cfg;
	struct settings *s = &b->s;
	char *host;
	int port;

	s->imageserver = config_get(c, "IMAGESERVER");
	s->imagename = config_get(c, "IMAGENAME");
	s->overrides = config_get(c, "OVERRIDES");
	s->staging = config_get(c, "BITTORRENT_STAGING");
	s->hostname = config_get(c, "HOSTNAME");
	s->groupname = config_get(c, "GROUPNAME");
	s->monitor_server = config_get(c, "MONITOR_SERVER");
	s->disks = config_get(c, "DISKS");
	s->diskorder = config_get(c, "DISKORDER");
	s->firmware = config_get(c, "SI_FIRMWARE");
	if (s->firmware && strcmp(s->firmware, "auto") &&
	    strcmp(s->firmware, "bios") && strcmp(s->firmware, "uefi"))
		return bad_value(c, "SI_FIRMWARE", "expected auto, bios or uefi");
	if (s->disks && strcmp(s->disks, "auto") && strcmp(s->disks, "yes") &&
	    strcmp(s->disks, "no"))
		return bad_value(c, "DISKS", "expected auto, yes or no");
	if (s->diskorder && (!*s->diskorder ||
			     strpbrk(s->diskorder, "\"'\\$*?[")))
		return bad_value(c, "DISKORDER", "expected a list of disks or "
				 "disk name prefixes (vda,sda or vd,sd)");
	if (!s->imageserver)
		return error("IMAGESERVER is not set (option --imageserver, "
			     "local.cfg or the kernel command line)");
	if (fetch_parse_server(s->imageserver, &host, &port) < 0)
		return -1;
	free(host);
	if (s->imagename && !valid_name(s->imagename))
		return bad_value(c, "IMAGENAME", "not a valid image name");
	if (s->overrides && !valid_list(s->overrides))
		return bad_value(c, "OVERRIDES", "not a list of override names");
	if (s->groupname && !valid_list(s->groupname))
		return bad_value(c, "GROUPNAME", "not a list of group names");
	if (s->hostname && !valid_name(s->hostname))
		return bad_value(c, "HOSTNAME", "not a valid host name");
	if (s->staging && s->staging[0] != '/')
		return bad_value(c, "BITTORRENT_STAGING",
				 "expected an absolute directory");
	if (check_report(b) < 0)
		return -1;
	if (s->monitor_server && (!*s->monitor_server ||
				  strpbrk(s->monitor_server, " /@")))
		return bad_value(c, "MONITOR_SERVER", "expected HOST[:PORT]");
	if (check_bool(c, "BITTORRENT_SEED_WAIT", &s->seed_wait, 1) < 0 ||
	    check_bool(c, "BITTORRENT_OVERLAP", &s->overlap, 1) < 0 ||
	    check_bool(c, "SI_HOSTNAME_WRITE", &s->hostname_write, 1) < 0 ||
	    check_bool(c, "SI_MACHINE_ID_RESET", &s->machine_id_reset, 1) < 0 ||
	    check_bool(c, "SI_SSH_HOSTKEYS_RESET", &s->ssh_hostkeys_reset,
		       1) < 0 ||
	    check_bool(c, "SI_FIRSTBOOT", &s->firstboot, 1) < 0 ||
	    check_long(c, "BITTORRENT_UPLOAD_MIN", 0, 10000000,
		       &s->upload_min, 50) < 0 ||
	    check_long(c, "BITTORRENT_POLLING_TIME", 1, 3600,
		       &s->polling_time, 5) < 0)
		return -1;
	for (size_t i = 0; i < c->n; i++) {
		int known = 0;

		for (int k = 0; known_keys[k]; k++)
			known |= !strcmp(c->v[i].key, known_keys[k]);
		if (!known)
			debug("ignoring %s (from %s)", c->v[i].key,
			      c->v[i].source);
	}
	return 0;
}

/* --- fetching torrents, scripts, override lists ---------------------- */

/* Fetches what the filter rules (a NULL-terminated list; "--exclude=*"
 * follows them) select from the torrents module into work/torrents/. */
static int rsync_torrents(struct boel *b, const char *what,
			  const char *const *rules)
{
	const char *args[8] = { "-rt", "--timeout=60" };
	char *url = fetch_url(b->s.imageserver, "torrents/");
	char *dst = path_join(b->work, "torrents/");
	size_t n = 2;
	int ret;

	while (*rules && n < ARRAY_SIZE(args) - 2)
		args[n++] = *rules++;
	args[n++] = "--exclude=*";
	args[n] = NULL;
	ret = fetch_rsync(what, args, url, dst, &b->retry, NULL);
	free(url);
	free(dst);
	return ret;
}

/* seeder.cfg, the overrides' torrents and the head of IMAGENAME's torrent
 * when it is known (called again once cluster.txt named it): not the
 * other images' torrents, which can be megabytes each on a server with
 * many large images.  Names are valid_name()s: no glob characters. */
static int fetch_torrents(struct boel *b)
{
	/* The image's torrent head: the rest comes from the swarm
	 * (image_torrent()). */
	char *image = b->s.imagename ?
		xasprintf("--include=image-%s.tar*.torrent.head",
			  b->s.imagename) :
		xstrdup("--exclude=image-*");
	const char *rules[] = { "--include=seeder.cfg",
				"--include=override-*.torrent", image, NULL };
	int ret = rsync_torrents(b, "the torrents", rules);

	free(image);
	return ret;
}

/* cluster.txt is optional: a server without it has no groups.  Fetched
 * when first needed (an image from it, or the overrides), not before the
 * download: one rsync session less on the server's link while every node
 * starts at once.  With quiet (prefetch()), one try, and a failure says
 * nothing and leaves the fetch to the next call; otherwise the usual
 * retries, as for the overrides' list (one failed try would leave the node
 * without its group overrides).  rsync succeeds on a server without
 * cluster.txt, so a failure is an unreachable daemon. */
static void fetch_cluster(struct boel *b, int quiet)
{
	const char *args[] = { "-rt", "--timeout=60", "--include=cluster.txt",
			       "--exclude=*", NULL };
	struct fetch_retry r = b->retry;
	char *url, *dst, *file;

	if (b->cluster_fetched)
		return;
	url = fetch_url(b->s.imageserver, "scripts/");
	dst = path_join(b->work, "scripts/");
	file = path_join(b->work, "scripts/cluster.txt");
	if (quiet)
		r.tries = 1;
	r.quiet = quiet;
	if (fetch_rsync("scripts/cluster.txt", args, url, dst, &r, NULL) == 0) {
		b->cluster_txt = read_file(file, NULL, 1);
		b->cluster_fetched = 1;
	} else if (!quiet) {
		notice("no cluster.txt from the server: no group overrides");
		b->cluster_fetched = 1;
	}
	free(url);
	free(dst);
	free(file);
}

static int list_overrides(struct boel *b, const struct fetch_retry *r)
{
	const char *args[] = { "--list-only", "--timeout=60", NULL };
	char *url;
	int ret;

	if (b->listed_overrides)
		return 0;
	url = fetch_url(b->s.imageserver, "overrides/");
	ret = fetch_rsync("the list of overrides", args, url, NULL, r,
			  &b->overrides_listing);
	free(url);
	b->listed_overrides = ret == 0;
	return ret;
}

/* Whether NAME is a directory in the overrides module listing. */
static int override_listed(struct boel *b, const char *name)
{
	char *copy, *save = NULL, *line;
	int found = 0;

	if (!b->overrides_listing)
		return 0;
	copy = xstrdup(b->overrides_listing);
	for (line = strtok_r(copy, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		char *last = strrchr(line, ' ');

		found = line[0] == 'd' && last && !strcmp(last + 1, name);
	}
	free(copy);
	return found;
}

static void read_seeder_cfg(struct boel *b)
{
	char *file = path_join(b->work, "torrents/seeder.cfg");
	struct config c;
	const char *v;
	long port;

	config_init(&c);
	if (config_load_file(&c, file, 0, 1) != 0) {
		notice("no seeder.cfg in the torrents: relying on the tracker");
	} else if ((v = config_get(&c, "BT_SEEDER_PORT")) &&
		   parse_long(v, 1, 65535, &port) == 0) {
		b->seeder_port = (int)port;
	} else {
		warning("seeder.cfg has no valid BT_SEEDER_PORT: relying on "
			"the tracker");
	}
	config_release(&c);
	free(file);
}

static int resolve_server(struct boel *b)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char ip[64];
	int port, rc;

	if (fetch_parse_server(b->s.imageserver, &b->host, &port) < 0)
		return -1;
	rc = getaddrinfo(b->host, NULL, &hints, &res);
	if (rc)
		return error("cannot resolve '%s': %s", b->host,
			     gai_strerror(rc));
	rc = getnameinfo(res->ai_addr, res->ai_addrlen, ip, sizeof(ip), NULL,
			 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	if (rc)
		return error("cannot resolve '%s': %s", b->host,
			     gai_strerror(rc));
	b->seeder_ip = xstrdup(ip);
	return 0;
}

/* Returns the path of the torrent (suffix "") or torrent head (".head")
 * of PREFIX-NAME (image or override), trying the known compressions, or
 * NULL. */
static char *find_file(struct boel *b, const char *prefix, const char *name,
		       const char *suffix)
{
	static const char *ext[] = { ".tar.gz", ".tar.zst", ".tar.xz",
				     ".tar", NULL };

	for (int i = 0; ext[i]; i++) {
		char *p = xasprintf("%s/torrents/%s-%s%s.torrent%s", b->work,
				    prefix, name, ext[i], suffix);

		if (access(p, R_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

static char *find_torrent(struct boel *b, const char *prefix,
			  const char *name)
{
	return find_file(b, prefix, name, "");
}

/* The image's torrent: its head came from the server (fetch_torrents())
 * and the info dictionary, nearly all of its bytes, comes from the nodes
 * that have it (the seeder serves it to two nodes a second).  Without a
 * head (an older server, or no seeder), or when no peer sends it in time,
 * the whole torrent comes from the server.  Returns its path or NULL. */
static char *image_torrent(struct boel *b)
{
	const char *name = b->s.imagename;
	const char *rules[] = { NULL, NULL };
	char *tor = find_torrent(b, "image", name), *head;
	double t0 = now_monotonic();
	int ret;

	if (tor)
		return tor;
	head = find_file(b, "image", name, ".head");
	if (head && b->seeder_port) {
		tor = xstrdup(head);
		tor[strlen(tor) - 5] = '\0';	/* less ".head" */
		if (swarm_fetch_torrent(b->sw, head, tor,
					TORRENT_FETCH_TIMEOUT * 1000) == 0) {
			notice("%s: from the swarm in %.2f s",
				strrchr(tor, '/') + 1, now_monotonic() - t0);
			free(head);
			return tor;
		}
		notice("fetching the image's torrent from the server instead");
		free(tor);
	}
	free(head);
	rules[0] = tor = xasprintf("--include=image-%s.tar*.torrent", name);
	ret = rsync_torrents(b, "the image's torrent", rules);
	free(tor);
	return ret < 0 ? NULL : find_torrent(b, "image", name);
}

/* Lists the images the server offers, for the error message: the image
 * torrents in the torrents module's listing. */
static char *images_offered(struct boel *b)
{
	const char *args[] = { "--list-only", "--timeout=60", NULL };
	char *url = fetch_url(b->s.imageserver, "torrents/");
	char *out = NULL, *list = NULL, *save = NULL, *line;

	if (fetch_rsync("the list of torrents", args, url, NULL, &b->retry,
			&out) < 0) {
		free(url);
		return xstrdup("(cannot list the torrents)");
	}
	free(url);
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *name = strrchr(line, ' '), *old = list;
		size_t len;

		name = name ? name + 1 : line;
		len = strlen(name);
		if (strncmp(name, "image-", 6) || len < 8 ||
		    strcmp(name + len - 8, ".torrent"))
			continue;
		list = xasprintf("%s%s%s", old ? old : "", old ? ", " : "",
				 name);
		free(old);
	}
	free(out);
	return list ? list : xstrdup("no image torrents at all");
}

/* --- installing tarballs -------------------------------------------- */

/* What the overrides need from the server (cluster.txt, the list of the
 * overrides module), fetched half-way through the image: these rsync
 * sessions then cost the install nothing (0.35 s at the end with 32 nodes
 * on one server, docs/perf/swarm-scheduling.md), while fetching them
 * before the download delays every node's start.  A failure here is
 * silent: apply_overrides() tries again and reports. */
static void prefetch(struct boel *b)
{
	struct fetch_retry once = b->retry;

	fetch_cluster(b, 1);
	once.tries = 1;
	once.quiet = 1;
	list_overrides(b, &once);
}

static ssize_t read_or_stop(void *ctx, const void **buf)
{
	struct boel *b = ctx;
	ssize_t n;

	if (interrupted)
		return error("interrupted by signal %d", (int)interrupted);
	n = swarm_read(b->reading, buf);
	if (n > 0) {
		b->read_bytes += n;
		if (b->prefetch_at > 0 && b->read_bytes >= b->prefetch_at) {
			b->prefetch_at = 0;
			prefetch(b);
		}
	}
	return n;
}

static int wait_complete(struct boel *b, struct swarm_dl *d)
{
	for (;;) {
		if (interrupted)
			return error("interrupted by signal %d", (int)interrupted);
		if (swarm_dl_failed(d))
			return error("%s", swarm_dl_failed(d));
		if (swarm_dl_finished(d))
			return 0;
		swarm_pump(b->sw, 200);
	}
}

/* Downloads one torrent into a chosen staging place and extracts it into
 * the target.  Returns 0 or -1. */
static int install_torrent(struct boel *b, const char *torrent,
			   const char *what)
{
	struct stage_request req = { 0 };
	struct extract_result res;
	struct bt_info info;
	struct swarm_dl *d;
	const char *kind;
	char err[512], h[32], *dir;
	double t0 = now_monotonic(), t1;

	if (bt_torrent_file_info(torrent, &info, err, sizeof(err)) < 0)
		return error("%s", err);
	req.size = (uint64_t)info.total_size;
	req.unpacked = (uint64_t)info.unpacked_bytes;
	req.entries = (uint64_t)info.unpacked_entries;
	req.explicit_dir = b->s.staging;
	req.target = b->root;
	req.free_override = b->staging_free;
	dir = stage_choose(&req, &kind);
	if (!dir)
		return -1;
	b->stage_dirs = xrealloc(b->stage_dirs, (b->n_stage + 1) * sizeof(char *));
	b->stage_dirs[b->n_stage++] = dir;
	if (stage_check_target(&req, dir) < 0)
		return -1;
	notice("%s: %s (%s), staging in %s (%s)%s", what, info.name,
	       human_bytes(h, sizeof(h), (double)info.total_size), dir, kind,
	       b->s.overlap ? ", extracting while downloading" : "");
	d = swarm_add(b->sw, torrent, dir, b->s.overlap);
	if (!d)
		return -1;
	b->dls = xrealloc(b->dls, (b->n_dls + 1) * sizeof(*b->dls));
	b->dls[b->n_dls++] = d;
	if (!b->s.overlap && wait_complete(b, d) < 0)
		return -1;
	t1 = now_monotonic();
	b->reading = d;
	b->read_bytes = 0;
	b->prefetch_at = !strcmp(what, "image") ? info.total_size / 2 : 0;
	if (extract_stream(info.name, read_or_stop, b, b->root, &res) < 0) {
		if (res.fatal || interrupted)
			return error("cannot install %s '%s'", what, info.name);
		return error("%s '%s': %d entries failed, %d with warnings",
			     what, info.name, res.failed, res.warnings);
	}
	if (wait_complete(b, d) < 0)
		return -1;
	notice("%s: %s installed: %lld entries, %s in %.1f s (extraction "
	       "%s %.1f s)", what, info.name, (long long)res.entries,
	       human_bytes(h, sizeof(h), (double)res.bytes),
	       now_monotonic() - t0, b->s.overlap ? "overlapped," : "alone",
	       now_monotonic() - t1);
	return 0;
}

static int rsync_override(struct boel *b, const char *name)
{
	const char *args[] = { "-aHAX", "--numeric-ids", "--timeout=60", NULL };
	char *path = xasprintf("overrides/%s/", name);
	char *url = fetch_url(b->s.imageserver, path);
	char *what = xasprintf("override '%s'", name);
	char *dst = xasprintf("%s/", b->root);
	int ret = fetch_rsync(what, args, url, dst, &b->retry, NULL);

	free(path);
	free(url);
	free(what);
	free(dst);
	return ret;
}

static void note_applied(struct boel *b, const char *name)
{
	char *old = b->applied;

	b->applied = xasprintf("%s%s%s", old ? old : "", old ? " " : "", name);
	free(old);
}

static int apply_overrides(struct boel *b)
{
	struct override_query q = {
		b->s.imagename, b->s.hostname, b->s.groupname, b->s.overrides,
		NULL,
	};
	struct override_list l = { NULL, 0 };
	int ret = 0;

	fetch_cluster(b, 0);
	q.cluster_txt = b->cluster_txt;

	if (override_choose(&q, &l) < 0)
		return -1;
	for (size_t i = 0; i < l.n && !ret; i++) {
		const char *name = l.v[i].name;
		char *tor = find_torrent(b, "override", name), *what;

		if (interrupted) {
			ret = error("interrupted by signal %d", (int)interrupted);
			break;
		}
		what = xasprintf("override %zu/%zu (%s)", i + 1, l.n, l.v[i].why);
		if (tor) {
			ret = install_torrent(b, tor, what);
		} else if (list_overrides(b, &b->retry) < 0) {
			ret = -1;
		} else if (override_listed(b, name)) {
			notice("%s: %s by rsync (no torrent)", what, name);
			ret = rsync_override(b, name);
		} else if (l.v[i].required) {
			ret = error("override '%s' (from OVERRIDES) is not on "
				    "the server", name);
		} else {
			notice("%s: no override '%s' on the server, skipped",
			       what, name);
			free(what);
			free(tor);
			continue;
		}
		if (!ret)
			note_applied(b, name);
		free(what);
		free(tor);
	}
	override_list_release(&l);
	return ret;
}

/* --- lingering and finishing ----------------------------------------- */

static void linger(struct boel *b)
{
	struct swarm_totals t;
	struct linger_state l;
	double now;

	if (!b->s.seed_wait || b->linger_max <= 0) {
		notice("leaving the swarm: BITTORRENT_SEED_WAIT=n");
		return;
	}
	notice("seeding until nobody needs us (at most %.0f s)", b->linger_max);
	linger_start(&l, b->linger_samples, b->s.upload_min * 1000,
		     b->linger_max, now_monotonic());
	for (;;) {
		double next = now_monotonic() + 1;

		while ((now = now_monotonic()) < next && !interrupted)
			swarm_pump(b->sw, (int)((next - now) * 1000) + 1);
		if (interrupted) {
			notice("leaving the swarm: interrupted");
			return;
		}
		swarm_totals(b->sw, &t);
		debug("linger: %d peers, %d interested, up %ld B/s", t.peers,
		      t.interested, t.up_rate);
		if (linger_sample(&l, now, t.interested, t.up_rate))
			break;
	}
	notice("leaving the swarm: %s", l.reason);
}

/* Opens (creating) dir under root without following symlinks. */
static int open_record_dir(const char *root)
{
	char *copy = xstrdup(RECORD_DIR), *save = NULL, *c;
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), next;

	for (c = strtok_r(copy, "/", &save); c && fd >= 0;
	     c = strtok_r(NULL, "/", &save)) {
		if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST) {
			close(fd);
			fd = -1;
			break;
		}
		next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			      O_CLOEXEC);
		close(fd);
		fd = next;
	}
	free(copy);
	return fd;
}

static int write_record(struct boel *b)
{
	char tstamp[64], tmp[64], *text;
	time_t now = time(NULL);
	struct tm tm;
	int dfd = open_record_dir(b->root), fd, ret = -1;
	char *ver = b->image_version > 0 ?
		    xasprintf("%ld", b->image_version) : NULL;

	if (dfd < 0)
		return error_errno("cannot open '%s/%s'", b->root, RECORD_DIR);
	gmtime_r(&now, &tm);
	strftime(tstamp, sizeof(tstamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	text = xasprintf("# written by si_boel when the install succeeded\n"
			 "IMAGENAME=%s\nIMAGE_INFO_HASH=%s\nIMAGESERVER=%s\n"
			 "OVERRIDES=\"%s\"\nINSTALLED=%s\nINSTALLED_EPOCH=%lld\n"
			 "%s%s%s",
			 b->s.imagename, b->info_hash, b->s.imageserver,
			 b->applied ? b->applied : "", tstamp, (long long)now,
			 ver ? "IMAGE_VERSION=" : "", ver ? ver : "",
			 ver ? "\n" : "");
	snprintf(tmp, sizeof(tmp), ".%s.tmp.%ld", RECORD_NAME, (long)getpid());
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
	if (fd < 0) {
		error_errno("cannot create '%s/%s/%s'", b->root, RECORD_DIR, tmp);
	} else if (write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		error_errno("cannot write '%s/%s/%s'", b->root, RECORD_DIR, tmp);
		close(fd);
		unlinkat(dfd, tmp, 0);
	} else if (close(fd) < 0 || renameat(dfd, tmp, dfd, RECORD_NAME) < 0) {
		error_errno("cannot write '%s/%s/%s'", b->root, RECORD_DIR,
			    RECORD_NAME);
		unlinkat(dfd, tmp, 0);
	} else {
		fsync(dfd);
		ret = 0;
	}
	close(dfd);
	free(text);
	free(ver);
	return ret;
}

/* An old record would make a failed reinstall look complete. */
static int remove_old_record(struct boel *b)
{
	char *p = xasprintf("%s/%s/%s", b->root, RECORD_DIR, RECORD_NAME);
	int ret = 0;

	if (unlink(p) < 0 && errno != ENOENT && errno != ENOTDIR)
		ret = error_errno("cannot remove the old record '%s'", p);
	free(p);
	return ret;
}

static void cleanup(struct boel *b)
{
	swarm_free(b->sw);
	b->sw = NULL;
	for (size_t i = 0; i < b->n_stage; i++) {
		remove_tree(b->stage_dirs[i]);
		free(b->stage_dirs[i]);
	}
	b->n_stage = 0;
	if (b->work)
		remove_tree(b->work);
}

static int prepare(struct boel *b)
{
	struct swarm_config sc = { 0 };
	const char *tmp = getenv("TMPDIR");
	char *tmpl;

	b->root = realpath(b->target, NULL);
	if (!b->root)
		return error_errno("cannot use the target '%s'", b->target);
	if (remove_old_record(b) < 0)
		return -1;
	tmpl = path_join(tmp && *tmp ? tmp : "/tmp", "si_boel-work.XXXXXX");
	if (!mkdtemp(tmpl)) {
		error_errno("cannot create '%s'", tmpl);
		free(tmpl);
		return -1;
	}
	b->work = tmpl;
	if (resolve_server(b) < 0 || fetch_torrents(b) < 0)
		return -1;
	read_seeder_cfg(b);
	sc.listen = b->listen;
	sc.seeder_ip = b->seeder_port ? b->seeder_ip : NULL;
	sc.seeder_port = b->seeder_port;
	sc.reconnect_interval = 3;
	sc.progress_interval = (double)b->s.polling_time;
	sc.stall_timeout = b->stall_timeout;
	sc.upload_rate_limit = b->upload_limit;
	sc.progress = on_progress;
	sc.progress_ctx = b;
	b->sw = swarm_new(&sc);
	return b->sw ? 0 : -1;
}

/* --- preparing the disks ------------------------------------------- */

/* Whether the server's images module lists .NAME.disklayout (network
 * errors are retried and fail; a missing file is not an error). */
static int layout_listed(struct boel *b, const char *file, int *listed)
{
	const char *args[] = { "--list-only", "--timeout=60", NULL };
	char *url = fetch_url(b->s.imageserver, "images/"), *out = NULL;
	char *save = NULL, *line;
	int ret = fetch_rsync("the list of images", args, url, NULL, &b->retry,
			      &out);

	*listed = 0;
	for (line = ret ? NULL : strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *last = strrchr(line, ' ');

		*listed |= line[0] == '-' && last && !strcmp(last + 1, file);
	}
	free(out);
	free(url);
	return ret;
}

/* Loads the layout from --disklayout, else fetches the image's from the
 * server (images/.NAME.disklayout).  Returns 1 when there is one, 0 when
 * DISKS=auto and the server has none, -1 on errors. */
static int load_layout(struct boel *b, int required)
{
	const char *args[] = { "-t", "--timeout=60", NULL };
	char *file, *path, *url, *dst;
	int ret, listed;

	if (b->layout_file)
		return disklayout_load(&b->dl, b->layout_file) < 0 ? -1 : 1;
	file = xasprintf(".%s.disklayout", b->s.imagename);
	path = xasprintf("images/%s", file);
	url = fetch_url(b->s.imageserver, path);
	dst = xasprintf("%s/%s.disklayout", b->work, b->s.imagename);
	if (layout_listed(b, file, &listed) < 0) {
		ret = -1;
	} else if (!listed && !required) {
		notice("no disk layout for image %s on the server: installing "
		       "into %s as it is (DISKS=auto)", b->s.imagename, b->root);
		ret = 0;
	} else if (!listed) {
		ret = error("no disk layout for image %s on '%s' (no %s)",
			    b->s.imagename, b->s.imageserver, path);
	} else {
		ret = fetch_rsync(path, args, url, dst, &b->retry, NULL);
		if (!ret)
			ret = disklayout_load(&b->dl, dst) < 0 ? -1 : 1;
	}
	free(file);
	free(path);
	free(url);
	free(dst);
	return ret;
}

/* Mounts made from here on stay in a private mount namespace: nobody
 * else's namespace holds a copy that would keep a filesystem alive after
 * our unmount, and the kernel unmounts them if we die. */
static void private_mounts(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		warning_errno("cannot make a private mount namespace; the "
			      "target's mounts are visible to all");
	else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		warning_errno("cannot make the mounts private");
}

static int prepare_disks(struct boel *b)
{
	const char *mode = b->s.disks ? b->s.disks :
		b->layout_file ? "yes" : "no";
	struct diskprep_opts o = { b->root, b->s.diskorder, NULL,
				   b->s.firmware };
	int have;

	if (!strcmp(mode, "no"))
		return 0;
	have = load_layout(b, !strcmp(mode, "yes"));
	if (have <= 0)
		return have;
	notice("preparing the disks from the layout of image %s%s%s%s",
	       b->s.imagename, b->dl.host ? " (captured from " : "",
	       b->dl.host ? b->dl.host : "", b->dl.host ? ")" : "");
	if (diskprep_plan(&b->dp, &b->dl, &o) < 0)
		return -1;
	private_mounts();
	b->prepared = 1;
	return diskprep_apply(&b->dp);
}

static int finish_disks(struct boel *b)
{
	int boot;

	if (!b->prepared)
		return 0;
	return diskprep_bootloader(&b->dp, &boot);
}

/* SI_MAC, else the MAC of the interface that reaches the image server,
 * else of the first one up with an address; "" when there is none. */
static const char *node_mac(struct boel *b)
{
	char ifname[64];

	if (!b->s.mac[0] && !b->s.mac_looked) {
		b->s.mac_looked = 1;
		if (netif_mac(b->seeder_ip, b->s.mac, ifname) == 0)
			verbose("this node is %s (%s)", b->s.mac, ifname);
		else
			warning("no network interface with a MAC address: "
				"reporting without one (set SI_MAC)");
	}
	return b->s.mac;
}

/* Tells SI_REPORT_URL the install's status, best-effort: a dead server
 * costs REPORT_TIMEOUT_MS and a warning, never the install. */
static void report_http(struct boel *b, int status, const char *message)
{
	char st[16], err[256];
	const char *mac;

	if (!b->s.report_url)
		return;
	mac = node_mac(b);
	snprintf(st, sizeof(st), "%d", status);
	{
		struct report_param p[] = {
			{ "mac", *mac ? mac : NULL }, { "status", st },
			{ "hostname", b->s.hostname },
			{ "image", b->s.imagename }, { "message", message },
		};

		if (report_get(b->s.report_url, p, ARRAY_SIZE(p),
			       REPORT_TIMEOUT_MS, err, sizeof(err)) == 0)
			notice("reported status %d to %s", status,
			       b->s.report_url);
		else
			warning("cannot report status %d to %s: %s", status,
				b->s.report_url, err);
	}
}

/* The image is the golden client's: its name, machine id and SSH host
 * keys become the node's own here, before the overrides, so that what an
 * override holds (a node's own host keys) wins. */
static int make_own(struct boel *b)
{
	struct identity_opts o = { b->root, b->s.hostname, 0 };
	struct identity_result r;
	struct stat st;

	if (b->s.hostname_write)
		o.what |= IDENTITY_HOSTNAME;
	if (b->s.machine_id_reset)
		o.what |= IDENTITY_MACHINE_ID;
	if (b->s.ssh_hostkeys_reset)
		o.what |= IDENTITY_SSH_HOSTKEYS;
	if (identity_apply(&o, &r) < 0)
		return -1;
	/* Debian's ssh.service does not make missing host keys. */
	if (b->s.ssh_hostkeys_reset &&
	    (r.ssh_keys_removed ||
	     rootfs_lstat(b->root, "usr/sbin/sshd", &st) == 0) &&
	    firstboot_install_hostkeys(b->root) < 0)
		return -1;
	return 0;
}

/* The first boot's report (status 102), when SI_REPORT_URL names a server
 * and SI_FIRSTBOOT allows it; before the overrides, which may mask it. */
static int install_firstboot(struct boel *b)
{
	struct firstboot_conf c = { b->s.report_url, NULL, b->s.imagename,
				    b->s.hostname };
	int ret;

	if (!b->s.report_url)
		return 0;
	if (!b->s.firstboot) {
		notice("SI_FIRSTBOOT=n: the first boot does not report");
		return 0;
	}
	c.mac = node_mac(b);
	ret = firstboot_install_report(b->root, &c);
	if (ret == 0)
		notice("the first boot reports to %s (%s)", b->s.report_url,
		       FIRSTBOOT_REPORT_UNIT);
	return ret < 0 ? -1 : 0;
}

static int install(struct boel *b)
{
	char *tor, *found;
	struct bt_info info;
	char err[512];
	int ret;

	monitor_start(b);
	report_status(b, STATUS_STARTING, NULL);
	if (prepare(b) < 0)
		return -1;
	if (!b->s.imagename) {
		char *img;

		fetch_cluster(b, 0);
		img = override_image_for_host(b->cluster_txt, b->s.hostname);
		if (!img)
			return error("IMAGENAME is not set and cluster.txt "
				     "names no image for '%s'", b->s.hostname);
		config_set(&b->cfg, "IMAGENAME", img, "cluster.txt");
		free(img);
		b->s.imagename = config_get(&b->cfg, "IMAGENAME");
		if (!valid_name(b->s.imagename))
			return error("cluster.txt names an invalid image "
				     "'%s' for '%s'", b->s.imagename,
				     b->s.hostname);
		if (fetch_torrents(b) < 0)
			return -1;
	}
	tor = image_torrent(b);
	if (!tor) {
		found = images_offered(b);
		error("no image '%s' on '%s' (no image-%s.tar.gz.torrent, "
		      ".tar.zst, .tar.xz or .tar); the server has: %s",
		      b->s.imagename, b->s.imageserver, b->s.imagename, found);
		free(found);
		return -1;
	}
	if (bt_torrent_file_info(tor, &info, err, sizeof(err)) < 0) {
		free(tor);
		return error("%s", err);
	}
	memcpy(b->info_hash, info.info_hash, sizeof(b->info_hash));
	b->image_version = version_of_torrent(tor, b->s.imagename);
	b->image_total = info.total_size;
	if (b->mon)
		monitor_identify(b);	/* the image and its version */
	ret = prepare_disks(b);
	if (!ret)
		ret = install_torrent(b, tor, "image");
	free(tor);
	if (ret < 0)
		return -1;
	if (b->prepared && diskprep_fstab(&b->dp) < 0)
		return -1;
	if (make_own(b) < 0 || install_firstboot(b) < 0)
		return -1;
	report_status(b, STATUS_IMAGED, NULL);
	if (apply_overrides(b) < 0 || finish_disks(b) < 0)
		return -1;
	report_status(b, STATUS_FINALIZING, NULL);
	linger(b);
	if (interrupted)
		return error("interrupted by signal %d", (int)interrupted);
	return 0;
}

/* --- options and main ------------------------------------------------ */

enum {
	OPT_SERVER = 1, OPT_IMAGE, OPT_OVERRIDES, OPT_STAGING, OPT_HOST,
	OPT_GROUP, OPT_MONITOR, OPT_SEED_WAIT, OPT_UPLOAD_MIN, OPT_POLLING,
	OPT_SET, OPT_DISKORDER, OPT_REPORT_URL, OPT_MAC,
};

static const char *opt_keys[] = {
	[OPT_SERVER] = "IMAGESERVER", [OPT_IMAGE] = "IMAGENAME",
	[OPT_OVERRIDES] = "OVERRIDES", [OPT_STAGING] = "BITTORRENT_STAGING",
	[OPT_HOST] = "HOSTNAME", [OPT_GROUP] = "GROUPNAME",
	[OPT_MONITOR] = "MONITOR_SERVER", [OPT_SEED_WAIT] = "BITTORRENT_SEED_WAIT",
	[OPT_UPLOAD_MIN] = "BITTORRENT_UPLOAD_MIN",
	[OPT_POLLING] = "BITTORRENT_POLLING_TIME",
	[OPT_DISKORDER] = "DISKORDER", [OPT_REPORT_URL] = "SI_REPORT_URL",
	[OPT_MAC] = "SI_MAC",
};

static int handle_opt(int val, const char *arg, void *data)
{
	struct boel *b = data;
	const char *eq;

	if (val == OPT_SET) {
		eq = arg ? strchr(arg, '=') : NULL;
		if (!eq || eq == arg)
			return error("--set expects KEY=VALUE, not '%s'",
				     arg ? arg : "");
		char *key = strndup(arg, eq - arg);
		config_set(&b->cfg, key, eq + 1, "option");
		free(key);
		return 0;
	}
	if (val <= 0 || val >= (int)ARRAY_SIZE(opt_keys) || !opt_keys[val])
		return -1;
	config_set(&b->cfg, opt_keys[val], arg, "option");
	return 0;
}

static void parse_options(struct boel *b, int argc, const char **argv)
{
	int no_overlap = 0, overlap = 0, no_seed_wait = 0, disks = 0,
	    no_disks = 0, no_hostname = 0, no_machine_id = 0, no_hostkeys = 0,
	    no_firstboot = 0;
	struct poptOption table[] = {
		{ "target", 't', POPT_ARG_STRING, &b->target, 0,
		  "install into DIR (SystemImager uses /a)", "DIR" },
		{ "imageserver", 's', POPT_ARG_STRING, NULL, OPT_SERVER,
		  "the image server (IMAGESERVER)", "HOST[:PORT]" },
		{ "image", 'i', POPT_ARG_STRING, NULL, OPT_IMAGE,
		  "the image to install (IMAGENAME)", "NAME" },
		{ "overrides", 'o', POPT_ARG_STRING, NULL, OPT_OVERRIDES,
		  "extra overrides, applied last (OVERRIDES)", "A,B" },
		{ "staging", '\0', POPT_ARG_STRING, NULL, OPT_STAGING,
		  "stage tarballs in DIR (BITTORRENT_STAGING)", "DIR" },
		{ "hostname", '\0', POPT_ARG_STRING, NULL, OPT_HOST,
		  "this node's name (HOSTNAME)", "NAME" },
		{ "groupname", '\0', POPT_ARG_STRING, NULL, OPT_GROUP,
		  "this node's groups (GROUPNAME)", "A,B" },
		{ "monitor-server", '\0', POPT_ARG_STRING, NULL, OPT_MONITOR,
		  "where to report progress (MONITOR_SERVER)", "HOST[:PORT]" },
		{ "seed-wait", '\0', POPT_ARG_STRING, NULL, OPT_SEED_WAIT,
		  "linger as a seed after installing (BITTORRENT_SEED_WAIT)", "y|n" },
		{ "no-seed-wait", '\0', POPT_ARG_NONE, &no_seed_wait, 0,
		  "leave the swarm at once", NULL },
		{ "upload-min", '\0', POPT_ARG_STRING, NULL, OPT_UPLOAD_MIN,
		  "leave when upload stays below this (BITTORRENT_UPLOAD_MIN)", "KB/s" },
		{ "polling-time", '\0', POPT_ARG_STRING, NULL, OPT_POLLING,
		  "seconds between progress lines (BITTORRENT_POLLING_TIME)", "S" },
		{ "prepare-disks", '\0', POPT_ARG_NONE, &disks, 0,
		  "partition, format and mount the disks from the image's "
		  "layout (DISKS=yes)", NULL },
		{ "no-prepare-disks", '\0', POPT_ARG_NONE, &no_disks, 0,
		  "install into the target as it is (DISKS=no)", NULL },
		{ "disks", '\0', POPT_ARG_STRING, NULL, OPT_DISKORDER,
		  "the node's disks or name prefixes, in layout order "
		  "(DISKORDER)", "vda,sda" },
		{ "disklayout", '\0', POPT_ARG_STRING, &b->layout_file, 0,
		  "use this layout instead of the server's", "FILE" },
		{ "report-url", '\0', POPT_ARG_STRING, NULL, OPT_REPORT_URL,
		  "tell this server how the install went, and the first boot "
		  "(SI_REPORT_URL)", "http://HOST:PORT/PATH" },
		{ "mac", '\0', POPT_ARG_STRING, NULL, OPT_MAC,
		  "this node's MAC address in reports (SI_MAC)",
		  "52:54:00:aa:bb:cc" },
		{ "no-firstboot", '\0', POPT_ARG_NONE, &no_firstboot, 0,
		  "no report from the installed system's first boot "
		  "(SI_FIRSTBOOT=n)", NULL },
		{ "no-hostname-write", '\0', POPT_ARG_NONE, &no_hostname, 0,
		  "leave /etc/hostname and /etc/hosts as the image has them "
		  "(SI_HOSTNAME_WRITE=n)", NULL },
		{ "no-machine-id-reset", '\0', POPT_ARG_NONE, &no_machine_id, 0,
		  "keep the image's /etc/machine-id (SI_MACHINE_ID_RESET=n)",
		  NULL },
		{ "no-ssh-hostkeys-reset", '\0', POPT_ARG_NONE, &no_hostkeys, 0,
		  "keep the image's SSH host keys (SI_SSH_HOSTKEYS_RESET=n)",
		  NULL },
		{ "set", '\0', POPT_ARG_STRING, NULL, OPT_SET,
		  "set any setting", "KEY=VALUE" },
		{ "config", 'c', POPT_ARG_STRING, &b->config_file, 0,
		  "read settings from a local.cfg", "FILE" },
		{ "cmdline", '\0', POPT_ARG_STRING, &b->cmdline_file, 0,
		  "read KEY=value words from FILE (default /proc/cmdline)", "FILE" },
		{ "no-overlap", '\0', POPT_ARG_NONE, &no_overlap, 0,
		  "download completely, then extract", NULL },
		{ "overlap", '\0', POPT_ARG_NONE, &overlap, 0,
		  "extract while downloading (the default)", NULL },
		{ "linger-max", '\0', POPT_ARG_DOUBLE, &b->linger_max, 0,
		  "seed at most this long after installing (300)", "S" },
		{ "linger-samples", '\0', POPT_ARG_INT, &b->linger_samples, 0,
		  "samples (1 s) a leaving condition must hold (3)", "N" },
		{ "retries", '\0', POPT_ARG_INT, &b->retries, 0,
		  "rsync attempts (5)", "N" },
		{ "retry-delay", '\0', POPT_ARG_DOUBLE, &b->retry_delay, 0,
		  "seconds before the first retry, doubling (1)", "S" },
		{ "stall-timeout", '\0', POPT_ARG_DOUBLE, &b->stall_timeout, 0,
		  "fail a download without new data for this long (300)", "S" },
		{ "listen", '\0', POPT_ARG_STRING, &b->listen, 0,
		  "BitTorrent listen address (0.0.0.0:0)", "IP:PORT" },
		{ "upload-limit", '\0', POPT_ARG_LONG, &b->upload_limit, 0,
		  "cap this node's upload (bytes/s; tests)", "BYTES" },
		{ "staging-free-override", '\0', POPT_ARG_LONGLONG,
		  &b->staging_free, 0,
		  "pretend every staging place has this much room (tests)", "BYTES" },
		OPTS_COMMON,
		POPT_TABLEEND
	};
	poptContext con = opts_parse(argc, argv, table,
				     "--target DIR [OPTION...]", 0,
				     handle_opt, b);

	if (!b->target)
		opts_usage_error(con, "--target DIR is required");
	if (overlap && no_overlap)
		opts_usage_error(con, "--overlap and --no-overlap conflict");
	if (overlap || no_overlap)
		config_set(&b->cfg, "BITTORRENT_OVERLAP", overlap ? "y" : "n",
			   "option");
	if (no_seed_wait)
		config_set(&b->cfg, "BITTORRENT_SEED_WAIT", "n", "option");
	if (no_hostname)
		config_set(&b->cfg, "SI_HOSTNAME_WRITE", "n", "option");
	if (no_machine_id)
		config_set(&b->cfg, "SI_MACHINE_ID_RESET", "n", "option");
	if (no_hostkeys)
		config_set(&b->cfg, "SI_SSH_HOSTKEYS_RESET", "n", "option");
	if (no_firstboot)
		config_set(&b->cfg, "SI_FIRSTBOOT", "n", "option");
	if (disks && no_disks)
		opts_usage_error(con, "--prepare-disks and --no-prepare-disks "
				 "conflict");
	if (disks || no_disks)
		config_set(&b->cfg, "DISKS", disks ? "yes" : "no", "option");
	if (b->retries < 1 || b->retries > 100 || b->retry_delay < 0 ||
	    b->linger_max < 0 || b->linger_samples < 1 ||
	    b->stall_timeout <= 0 || b->upload_limit < 0)
		opts_usage_error(con, "--retries, --retry-delay, --linger-*, "
				 "--stall-timeout or --upload-limit out of range");
	poptFreeContext(con);
}

static int load_settings(struct boel *b)
{
	char host[256];

	if (b->config_file && config_load_file(&b->cfg, b->config_file, 1, 0) < 0)
		return -1;
	if (config_load_cmdline(&b->cfg, b->cmdline_file ? b->cmdline_file
				: "/proc/cmdline", 0) < 0)
		return -1;
	/* A kernel nobody named says "(none)" (the boot environment before
	 * DHCP or the command line named it): that is no name. */
	if (!config_get(&b->cfg, "HOSTNAME") &&
	    gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		host[strcspn(host, ".")] = '\0';
		/* An unnamed kernel says "(none)": no host name then. */
		if (valid_name(host))
			config_set(&b->cfg, "HOSTNAME", host, "gethostname");
	}
	return check_settings(b);
}

static void boel_init(struct boel *b)
{
	memset(b, 0, sizeof(*b));
	config_init(&b->cfg);
	disklayout_init(&b->dl);
	diskprep_init(&b->dp);
	b->linger_max = 300;
	b->linger_samples = 3;
	b->retries = 5;
	b->retry_delay = 1;
	b->stall_timeout = 300;
	b->staging_free = -1;
}

static void summary(struct boel *b, int ok)
{
	char h[32], u[32];
	int64_t down = 0, up = 0;

	if (b->sw) {
		struct swarm_totals t;

		swarm_totals(b->sw, &t);
		down = t.down;
		up = t.up;
	}
	if (ok)
		printf("si_boel: installed image %s into %s in %.1f s "
		       "(down %s, up %s, overrides: %s)\n", b->s.imagename,
		       b->root, now_monotonic() - b->started,
		       human_bytes(h, sizeof(h), (double)down),
		       human_bytes(u, sizeof(u), (double)up),
		       b->applied ? b->applied : "none");
	else
		printf("si_boel: install of image %s into %s FAILED after "
		       "%.1f s; no completion record written\n",
		       b->s.imagename ? b->s.imagename : "?",
		       b->root ? b->root : b->target,
		       now_monotonic() - b->started);
}

int main(int argc, const char **argv)
{
	struct boel b;
	struct sigaction sa = { .sa_handler = on_signal };
	int ok;

	log_init(argv[0]);
	/* Pax headers hold UTF-8 names (si_installbtimage packs under
	 * C.UTF-8): in the C locale libarchive cannot convert them and warns,
	 * which fails the install.  Other bytes are stored raw. */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		setlocale(LC_CTYPE, "");
	boel_init(&b);
	parse_options(&b, argc, argv);
	if (load_settings(&b) < 0)
		exit(2);
	b.retry.tries = b.retries;
	b.retry.delay = b.retry_delay;
	b.retry.max_delay = b.retry_delay * 8;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	b.started = now_monotonic();
	ok = install(&b) == 0;
	if (ok)
		ok = write_record(&b) == 0;
	if (ok) {
		report_http(&b, STATUS_IMAGED, NULL);
	} else {
		char *why = xstrdup(log_last_error() ? log_last_error() :
				    "the install failed");

		report_status(&b, STATUS_FAILED, why);
		report_http(&b, STATUS_FAILED, why);
		free(why);
	}
	summary(&b, ok);
	monitor_stop(&b);
	cleanup(&b);
	if (b.prepared && diskprep_umount(&b.dp) < 0) {
		error("the disks were not all unmounted");
		ok = 0;
	}
	diskprep_release(&b.dp);
	disklayout_release(&b.dl);
	if (log_flush_stdout() < 0)
		ok = 0;
	return ok ? 0 : 1;
}
