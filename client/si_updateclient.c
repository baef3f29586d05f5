/* si_updateclient - brings an installed node to the current image without
 * reinstalling it (SystemImager-compatible).
 *
 *   si_updateclient --server HOST[:PORT] [--image NAME] [--override NAME]...
 *                   [--directory D] [--dry-run] [--no-delete] [--yes] ...
 *
 * rsync mode: syncs D from rsync://HOST[:PORT]/images/NAME/ (-aHAXS
 * --numeric-ids --delete, minus the exclude file), then applies each
 * override from rsync://HOST/overrides/NAME/ without delete.  Delta mode
 * (--delta FILE): applies a delta package (si_mkdelta) instead of the
 * image sync, fetching drifted files whole from the server.  Either way it
 * records last, atomically, where D now is in D/etc/swarmimager/updated.
 * Without --image the image (and overrides) come from the server's
 * scripts/cluster.txt, by host name. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netdb.h>
#include <sys/socket.h>

#include "config.h"
#include "delta.h"
#include "exclude.h"
#include "fetch.h"
#include "linger.h"
#include "log.h"
#include "opts.h"
#include "swarm.h"
#include "util.h"
#include "version.h"

#define DEFAULT_EXCLUDE_FILE "/etc/swarmimager/updateclient.local.exclude"
#define RECORD_FILE "etc/swarmimager/updated"

extern char **environ;

/* Used when the exclude file is missing: never touch live file systems. */
static const char *builtin_excludes[] = {
	"/proc/*", "/sys/*", "/dev/*", "/run/*", "/tmp/*", "/var/log/*",
	"/etc/fstab", "/etc/hostname", "/etc/hosts", "/etc/machine-id",
	"/etc/ssh/ssh_host_*", "/etc/swarmimager/installed",
};

struct uc_opts {
	char *server, *image, *directory, *exclude_file, *hostname, *delta;
	char **overrides;
	size_t noverrides;
	int explicit_overrides;
	int dry_run, no_delete, no_bootloader, reboot, yes;
	char *url;		/* rsync://HOST[:PORT] */
	char *version;		/* known version (delta mode) */
	struct exclude_list ex;
	int ex_from_file;
	/* the delta over BitTorrent */
	int rsync_only, no_seed_wait, linger_samples;
	double linger_max, stall_timeout;
	long upload_min;		/* KB/s */
	char *listen;
	struct swarm *sw;
	char *work;			/* fetched torrents and the delta */
	long have, target;		/* versions: recorded, the server's */
};

enum { OPT_OVERRIDE = 1 };

/* Runs argv; with out, captures its stdout (and silences its stderr).
 * Returns the exit status, or -1 with a message. */
static int run_cmd(char *const argv[], char **out)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2] = { -1, -1 }, status, err;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	if (out) {
		if (pipe2(pipefd, O_CLOEXEC) < 0)
			return error_errno("cannot create a pipe");
		posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	}
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	fflush(stdout);
	err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (out) {
		close(pipefd[1]);
		if (!err) {
			size_t len = 0, cap = 4096;
			ssize_t n;

			*out = xmalloc(cap);
			while ((n = read(pipefd[0], *out + len, cap - len - 1)) != 0) {
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0)
					break;
				len += n;
				if (len + 1 >= cap)
					*out = xrealloc(*out, cap *= 2);
			}
			(*out)[len] = '\0';
		}
		close(pipefd[0]);
	}
	if (err) {
		errno = err;
		return error_errno("cannot run %s", argv[0]);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The names (directories) in an rsync daemon module, one per line. */
static int list_module(const struct uc_opts *o, const char *module,
		       char **names)
{
	char *url = xasprintf("%s/%s/", o->url, module), *out = NULL;
	char *argv[] = { "rsync", RSYNC_NODELAY, "--contimeout=15",
			 "--timeout=60", "--list-only", url, NULL };
	int rc = run_cmd(argv, &out);

	free(url);
	if (rc) {
		free(out);
		if (rc == 5 || rc == 10 || rc == 35)
			error("cannot reach the rsync server '%s' (rsync exit %d)",
			      o->server, rc);
		else if (rc > 0)
			error("cannot list module '%s' of the rsync server '%s' "
			      "(rsync exit %d)", module, o->server, rc);
		return -1;
	}
	*names = out;
	return 0;
}

/* 1 when name is a directory in the listing. */
static int listed(const char *listing, const char *name)
{
	const char *line = listing;

	while (line && *line) {
		const char *eol = strchrnul(line, '\n'), *sp = eol;

		while (sp > line && sp[-1] != ' ')
			sp--;
		if (line[0] == 'd' && (size_t)(eol - sp) == strlen(name) &&
		    !strncmp(sp, name, eol - sp))
			return 1;
		line = *eol ? eol + 1 : eol;
	}
	return 0;
}

static void add_override(struct uc_opts *o, const char *name)
{
	for (size_t i = 0; i < o->noverrides; i++)
		if (!strcmp(o->overrides[i], name))
			return;
	opts_split_list(name, &o->overrides, &o->noverrides);
}

/* Finds the image and overrides of this host in scripts/cluster.txt. */
static int from_cluster_table(struct uc_opts *o)
{
	char tmpl[] = "/tmp/si_updateclient.XXXXXX";
	char *dir = mkdtemp(tmpl), *file, *url, *buf, *save = NULL, *line;
	char **found = NULL;
	size_t nfound = 0;
	size_t hl = strcspn(o->hostname, ".");
	int rc;

	if (!dir)
		return error_errno("cannot create a temporary directory");
	file = path_join(dir, "cluster.txt");
	url = xasprintf("%s/scripts/cluster.txt", o->url);
	char *argv[] = { "rsync", RSYNC_NODELAY, "-q", "--contimeout=15",
			 "--timeout=60", url, file, NULL };
	rc = run_cmd(argv, NULL);
	buf = rc ? NULL : read_file(file, NULL, 0);
	remove_tree(dir);
	free(file);
	free(url);
	if (!buf)
		return error("cannot fetch the cluster table 'scripts/cluster.txt'"
			     " from '%s'%s", o->server,
			     rc > 0 ? " (see the rsync message above)" : "");
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[4] = { 0 }, *s = line;

		if (*line == '#')
			continue;
		for (int i = 0; i < 4 && s; i++) {
			f[i] = s;
			s = strchr(s, ':');
			if (s)
				*s++ = '\0';
		}
		if (!f[2] || (strcmp(f[0], o->hostname) &&
			      (strlen(f[0]) != hl || strncmp(f[0], o->hostname, hl))))
			continue;
		if (!o->image && *f[2])
			o->image = xstrdup(f[2]);
		if (f[3] && *f[3]) {
			found = xrealloc(found, (nfound + 1) * sizeof(*found));
			found[nfound++] = xstrdup(f[3]);
		}
	}
	free(buf);
	/* Cluster-derived overrides come first, explicit ones last (win). */
	char **explicit = o->overrides;
	size_t nexplicit = o->noverrides;
	o->overrides = NULL;
	o->noverrides = 0;
	for (size_t i = 0; i < nfound; i++) {
		add_override(o, found[i]);
		free(found[i]);
	}
	free(found);
	for (size_t i = 0; i < nexplicit; i++)
		add_override(o, explicit[i]);
	opts_free_list(explicit);
	if (!o->image)
		return error("host '%s' is not in the cluster table of '%s' "
			     "(give --image)", o->hostname, o->server);
	notice("host '%s' uses image '%s' (cluster table)", o->hostname,
	       o->image);
	return 0;
}

/* Checks the image and the explicit overrides exist before any change;
 * drops missing cluster-derived overrides with a warning. */
static int check_server(struct uc_opts *o, int need_image)
{
	char *images = NULL, *overrides = NULL;
	int ret = 0;

	if (need_image && list_module(o, "images", &images) < 0)
		return -1;
	if (need_image && !listed(images, o->image))
		ret = error("image '%s' not found on the server '%s'", o->image,
			    o->server);
	if (!ret && o->noverrides && list_module(o, "overrides", &overrides) < 0)
		ret = -1;
	for (size_t i = 0; !ret && i < o->noverrides; i++) {
		if (listed(overrides, o->overrides[i]))
			continue;
		if (o->explicit_overrides)
			ret = error("override '%s' not found on the server '%s'",
				    o->overrides[i], o->server);
		else {
			warning("override '%s' not found on the server: skipped",
				o->overrides[i]);
			free(o->overrides[i]);
			memmove(o->overrides + i, o->overrides + i + 1,
				(o->noverrides - i) * sizeof(char *));
			o->noverrides--;
			i--;
		}
	}
	free(images);
	free(overrides);
	return ret;
}

static int confirm(const struct uc_opts *o)
{
	char answer[64];

	if (o->yes || o->dry_run)
		return 0;
	if (!isatty(STDIN_FILENO))
		return error("refusing to update '%s' without --yes (standard "
			     "input is not a terminal to ask)", o->directory);
	fprintf(stderr, "%s: this updates '%s' to image '%s'%s. Continue? "
		"[y/N] ", log_prog(), o->directory, o->image,
		o->no_delete ? "" : ", deleting what the image does not have");
	if (!fgets(answer, sizeof(answer), stdin) ||
	    (answer[0] != 'y' && answer[0] != 'Y'))
		return error("not updating '%s'", o->directory);
	return 0;
}

/* Appends the rsync options shared by image and override syncs. */
static size_t rsync_base_args(const struct uc_opts *o, char **argv)
{
	size_t n = 0;

	argv[n++] = "rsync";
	argv[n++] = RSYNC_NODELAY;
	argv[n++] = "-aHAXS";
	argv[n++] = "--numeric-ids";
	argv[n++] = "--contimeout=15";
	argv[n++] = "--timeout=300";
	if (o->dry_run) {
		argv[n++] = "--dry-run";
		argv[n++] = "--itemize-changes";
	} else if (log_level() >= LOG_VERBOSE)
		argv[n++] = "--itemize-changes";
	return n;
}

static int rsync_image(const struct uc_opts *o)
{
	char *argv[64], *src = xasprintf("%s/images/%s/", o->url, o->image);
	char *dst = xasprintf("%s/", o->directory), *exf = NULL;
	char *rec = xasprintf("--exclude=/%s", RECORD_FILE);
	size_t n = rsync_base_args(o, argv);
	int rc;

	if (!o->no_delete)
		argv[n++] = "--delete";
	argv[n++] = rec;
	if (o->ex_from_file)
		argv[n++] = exf = xasprintf("--exclude-from=%s", o->exclude_file);
	else
		for (size_t i = 0; i < ARRAY_SIZE(builtin_excludes); i++)
			argv[n++] = xasprintf("--exclude=%s", builtin_excludes[i]);
	argv[n++] = src;
	argv[n++] = dst;
	argv[n] = NULL;
	notice("syncing '%s' from image '%s'%s", o->directory, o->image,
	       o->dry_run ? " (dry run)" : "");
	rc = run_cmd(argv, NULL);
	if (!o->ex_from_file)
		for (size_t i = 0; i < ARRAY_SIZE(builtin_excludes); i++)
			free(argv[n - 2 - ARRAY_SIZE(builtin_excludes) + i]);
	free(exf); free(rec); free(src); free(dst);
	if (rc)
		return rc < 0 ? -1 : error("syncing image '%s' failed (rsync "
					   "exit %d)", o->image, rc);
	return 0;
}

static int rsync_overrides(const struct uc_opts *o)
{
	for (size_t i = 0; i < o->noverrides; i++) {
		char *argv[16];
		size_t n = rsync_base_args(o, argv);
		char *src = xasprintf("%s/overrides/%s/", o->url, o->overrides[i]);
		char *dst = xasprintf("%s/", o->directory);
		int rc;

		argv[n++] = src;
		argv[n++] = dst;
		argv[n] = NULL;
		notice("applying override '%s'", o->overrides[i]);
		rc = run_cmd(argv, NULL);
		free(src);
		free(dst);
		if (rc)
			return rc < 0 ? -1 : error("applying override '%s' "
						   "failed (rsync exit %d)",
						   o->overrides[i], rc);
	}
	return 0;
}

static int exclude_cb(void *arg, const char *path, int is_dir)
{
	return exclude_match(arg, path, is_dir) ||
	       !strcmp(path, RECORD_FILE);
}

/* What the node records say about its version (NULL if unknown). */
static char *recorded_version(const struct uc_opts *o)
{
	char *path = path_join(o->directory, RECORD_FILE), *v = NULL;
	struct config c;

	config_init(&c);
	if (config_load_file(&c, path, 0, 1) == 0 && config_get(&c, "VERSION"))
		v = xstrdup(config_get(&c, "VERSION"));
	config_release(&c);
	free(path);
	return v;
}

static int apply_delta(struct uc_opts *o)
{
	struct delta_apply_opts ao = {
		.root = o->directory, .dry_run = o->dry_run,
		.no_delete = o->no_delete, .exclude = exclude_cb,
		.exclude_arg = &o->ex,
	};
	struct delta_index idx;
	struct delta_stats st;
	char *base = NULL, *have = recorded_version(o);
	int ret;

	if (delta_read_index(o->delta, &idx) < 0) {
		free(have);
		return -1;
	}
	if (!o->image && idx.image)
		o->image = xstrdup(idx.image);
	if (o->image && idx.image && strcmp(o->image, idx.image))
		ret = error("delta '%s' is for image '%s', not '%s'", o->delta,
			    idx.image, o->image);
	else if (have && idx.from && strcmp(have, idx.from) &&
		 (!idx.to || strcmp(have, idx.to)))
		ret = error("delta '%s' goes from version '%s' but '%s' is at "
			    "'%s'", o->delta, idx.from, o->directory, have);
	else
		ret = 0;
	delta_index_release(&idx);
	free(have);
	if (ret)
		return -1;
	if (o->url && o->image) {
		base = xasprintf("%s/images/%s", o->url, o->image);
		ao.fetch = delta_fetch_rsync;
		ao.fetch_arg = base;
	}
	notice("applying delta '%s' to '%s'%s", o->delta, o->directory,
	       o->dry_run ? " (dry run)" : "");
	ret = delta_apply(o->delta, &ao, &st, &idx);
	free(base);
	if (ret < 0)
		return error("delta '%s' not fully applied: fix the errors above "
			     "and run again (what is done stays done)", o->delta);
	if (idx.to)
		o->version = xstrdup(idx.to);
	delta_index_release(&idx);
	notice("delta applied: %zu patched, %zu whole, %zu fetched whole, "
	       "%zu removed, %zu metadata, %zu already done, %zu excluded",
	       st.patched, st.whole, st.fetched, st.removed, st.meta, st.skipped,
	       st.excluded);
	return 0;
}

/* --- the delta over BitTorrent ------------------------------------- */

/* The version of o->image this node is at: "updated" (VERSION) when it
 * names the image, else si_boel's "installed" (IMAGE_VERSION); 0 if
 * unknown. */
static long node_version(const struct uc_opts *o)
{
	static const struct { const char *file, *image, *version; } recs[] = {
		{ RECORD_FILE, "IMAGE", "VERSION" },
		{ "etc/swarmimager/installed", "IMAGENAME", "IMAGE_VERSION" },
	};
	long v = 0;

	for (size_t i = 0; i < ARRAY_SIZE(recs) && !v; i++) {
		char *path = path_join(o->directory, recs[i].file);
		const char *img, *ver;
		struct config c;

		config_init(&c);
		if (config_load_file(&c, path, 0, 1) == 0 &&
		    (img = config_get(&c, recs[i].image)) &&
		    !strcmp(img, o->image) &&
		    (ver = config_get(&c, recs[i].version)) &&
		    parse_long(ver, 1, 1000000000, &v) < 0)
			v = 0;
		config_release(&c);
		free(path);
	}
	return v;
}

/* The first of work/torrents/PREFIX{.tar.gz,.tar.zst,.tar.xz,.tar}.torrent
 * (or PREFIX.torrent, PREFIX.zst.torrent for a delta) that exists. */
static char *find_torrent(const struct uc_opts *o, const char *prefix,
			  const char *const *suffixes)
{
	for (size_t i = 0; suffixes[i]; i++) {
		char *p = xasprintf("%s/torrents/%s%s.torrent", o->work, prefix,
				    suffixes[i]);

		if (!access(p, R_OK))
			return p;
		free(p);
	}
	return NULL;
}

/* The image server's numeric address (the seeder's). */
static char *server_ip(const char *server)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char ip[64], *host;
	int port, rc;

	if (fetch_parse_server(server, &host, &port) < 0)
		return NULL;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (!rc) {
		rc = getnameinfo(res->ai_addr, res->ai_addrlen, ip, sizeof(ip),
				 NULL, 0, NI_NUMERICHOST);
		freeaddrinfo(res);
	}
	if (rc)
		error("cannot resolve '%s': %s", host, gai_strerror(rc));
	free(host);
	return rc ? NULL : xstrdup(ip);
}

static int seeder_port(const struct uc_opts *o)
{
	char *file = xasprintf("%s/torrents/seeder.cfg", o->work);
	const char *v;
	struct config c;
	long port = 0;

	config_init(&c);
	if (config_load_file(&c, file, 0, 1) != 0 ||
	    !(v = config_get(&c, "BT_SEEDER_PORT")) ||
	    parse_long(v, 1, 65535, &port) < 0) {
		notice("no seeder.cfg with BT_SEEDER_PORT in the torrents: "
		       "relying on the tracker");
		port = 0;
	}
	config_release(&c);
	free(file);
	return (int)port;
}

/* 1 when the server's rsync daemon exports module (a SystemImager server
 * has no torrents module), 0 when not or unreachable. */
static int has_module(const struct uc_opts *o, const char *module)
{
	char *url = xasprintf("%s/", o->url), *out = NULL, *line, *save = NULL;
	char *argv[] = { "rsync", RSYNC_NODELAY, "--contimeout=15",
			 "--timeout=60", "--list-only", url, NULL };
	size_t l = strlen(module);
	int found = 0;

	if (run_cmd(argv, &out) == 0)
		for (line = strtok_r(out, "\n", &save); line && !found;
		     line = strtok_r(NULL, "\n", &save))
			found = !strncmp(line, module, l) &&
				(line[l] == ' ' || line[l] == '\t');
	free(out);
	free(url);
	return found;
}

/* Fetches the torrents of o->image and its deltas.  Returns the delta
 * torrent from the node's version to the server's, or NULL (with a
 * notice: rsync mode then) when there is none; *failed on errors. */
static char *find_delta(struct uc_opts *o, int *failed)
{
	static const char *const img_sfx[] = { ".tar.gz", ".tar.zst", ".tar.xz",
					       ".tar", NULL };
	static const char *const delta_sfx[] = { "", ".zst", NULL };
	char *inc_img = xasprintf("--include=image-%s.tar*.torrent", o->image);
	char *inc_delta = xasprintf("--include=delta-%s-v*.torrent", o->image);
	const char *args[] = { "-rt", "--timeout=60", inc_img, inc_delta,
			       "--include=seeder.cfg", "--exclude=*", NULL };
	char *url = fetch_url(o->server, "torrents/"), *dst, *tor, *name;
	struct fetch_retry retry;
	int rc;

	*failed = 0;
	if (!has_module(o, "torrents")) {
		notice("the server '%s' has no torrents module: syncing with "
		       "rsync", o->server);
		free(url); free(inc_img); free(inc_delta);
		return NULL;
	}
	fetch_retry_init(&retry);
	retry.tries = 3;
	dst = xasprintf("%s/torrents/", o->work);
	rc = fetch_rsync("the torrents", args, url, dst, &retry, NULL);
	free(url); free(dst); free(inc_img); free(inc_delta);
	if (rc < 0) {
		*failed = 1;
		return NULL;
	}
	name = xasprintf("image-%s", o->image);
	tor = find_torrent(o, name, img_sfx);
	free(name);
	o->target = tor ? version_of_torrent(tor, o->image) : 0;
	free(tor);
	if (o->target <= 0) {
		notice("the server's torrent of image '%s' names no version: "
		       "syncing with rsync", o->image);
		return NULL;
	}
	o->have = node_version(o);
	if (!o->have) {
		notice("'%s' records no version of image '%s': syncing with "
		       "rsync", o->directory, o->image);
		return NULL;
	}
	if (o->target == o->have) {
		notice("'%s' is at version %ld of image '%s' already: checking "
		       "with rsync", o->directory, o->have, o->image);
		return NULL;
	}
	name = version_delta_name(o->image, o->have, o->target);
	tor = find_torrent(o, name, delta_sfx);
	if (!tor)
		notice("no delta %s on the server (version %ld to %ld): "
		       "syncing with rsync", name, o->have, o->target);
	free(name);
	return tor;
}

/* Downloads the delta torrent over the swarm into o->work; sets o->delta.
 * The session (o->sw) stays up to seed it. */
static int download_delta(struct uc_opts *o, const char *torrent)
{
	struct swarm_config sc = { 0 };
	char *ip = server_ip(o->server);
	struct swarm_dl *d;
	double t0 = now_monotonic();
	char h[32];

	if (!ip)
		return -1;
	sc.listen = o->listen;
	sc.seeder_port = seeder_port(o);
	sc.seeder_ip = sc.seeder_port ? ip : NULL;
	sc.reconnect_interval = 3;
	sc.progress_interval = 5;
	sc.stall_timeout = o->stall_timeout;
	o->sw = swarm_new(&sc);
	free(ip);
	if (!o->sw)
		return -1;
	d = swarm_add(o->sw, torrent, o->work, 0);
	if (!d || swarm_wait_complete(d) < 0)
		return -1;
	o->delta = xstrdup(swarm_dl_file(d));
	notice("downloaded delta '%s' (%s) over BitTorrent in %.1f s",
	       swarm_dl_info(d)->name,
	       human_bytes(h, sizeof(h), (double)swarm_dl_info(d)->total_size),
	       now_monotonic() - t0);
	return 0;
}

static int apply_delta(struct uc_opts *o);

/* Updates by the server's delta from the node's version, over
 * BitTorrent.  Returns 1 when applied, 0 when there is no such delta (the
 * caller syncs with rsync), -1 on failure. */
static int swarm_delta(struct uc_opts *o)
{
	const char *tmp = getenv("TMPDIR");
	char *tor;
	int failed, ret;

	o->work = path_join(tmp && *tmp ? tmp : "/tmp",
			    "si_updateclient-work.XXXXXX");
	if (!mkdtemp(o->work))
		return error_errno("cannot create '%s'", o->work);
	tor = find_delta(o, &failed);
	if (!tor)
		return failed ? -1 : 0;
	notice("updating '%s' from version %ld to %ld of image '%s' by delta "
	       "over BitTorrent", o->directory, o->have, o->target, o->image);
	ret = download_delta(o, tor) < 0 || apply_delta(o) < 0 ? -1 : 1;
	free(tor);
	return ret;
}

/* Seeds the delta until nobody needs it (lib/linger.h). */
static void linger(struct uc_opts *o)
{
	struct swarm_totals t;
	struct linger_state l;
	double now;

	if (!o->sw)
		return;
	if (o->no_seed_wait || o->linger_max <= 0) {
		notice("leaving the swarm at once (--no-seed-wait)");
		return;
	}
	notice("seeding the delta until nobody needs it (at most %.0f s)",
	       o->linger_max);
	linger_start(&l, o->linger_samples, o->upload_min * 1000,
		     o->linger_max, now_monotonic());
	for (;;) {
		double next = now_monotonic() + 1;

		while ((now = now_monotonic()) < next)
			swarm_pump(o->sw, (int)((next - now) * 1000) + 1);
		swarm_totals(o->sw, &t);
		debug("linger: %d peers, %d interested, up %ld B/s", t.peers,
		      t.interested, t.up_rate);
		if (linger_sample(&l, now, t.interested, t.up_rate))
			break;
	}
	swarm_totals(o->sw, &t);
	notice("leaving the swarm: %s (uploaded %lld bytes)", l.reason,
	       (long long)t.up);
}

static int write_record(const struct uc_opts *o)
{
	char *dir = path_join(o->directory, "etc/swarmimager");
	char *path = path_join(o->directory, RECORD_FILE), *text, *ovr = NULL;
	char stamp[64];
	time_t now = time(NULL);
	int ret;

	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	for (size_t i = 0; i < o->noverrides; i++) {
		char *t = xasprintf("%s%s%s", ovr ? ovr : "", ovr ? "," : "",
				    o->overrides[i]);
		free(ovr);
		ovr = t;
	}
	text = xasprintf("# written by si_updateclient\nIMAGE=%s\n%s%s%s"
			 "OVERRIDES=%s\nSERVER=%s\nMETHOD=%s\nTIME=%s\n",
			 o->image, o->version ? "VERSION=" : "",
			 o->version ? o->version : "", o->version ? "\n" : "",
			 ovr ? ovr : "", o->server ? o->server : "",
			 o->delta ? "delta" : "rsync", stamp);
	ret = mkdir_p(dir, 0755);
	if (!ret)
		ret = write_file_atomic(path, text, strlen(text), 0644);
	free(text); free(ovr); free(dir); free(path);
	return ret;
}

static void after_update(const struct uc_opts *o)
{
	int root = !strcmp(o->directory, "/");

	if (!o->no_bootloader) {
		char *argv[] = { "update-grub", NULL };

		if (!root)
			verbose("bootloader: not reinstalled ('%s' is not /)",
				o->directory);
		else if (run_cmd(argv, NULL) != 0)
			warning("bootloader: update-grub failed or is missing; "
				"reinstall the bootloader by hand");
	}
	if (o->reboot) {
		if (!root) {
			notice("not rebooting: '%s' is not the running system",
			       o->directory);
			return;
		}
		notice("rebooting");
		log_flush_stdout();
		execlp("reboot", "reboot", (char *)NULL);
		warning_errno("cannot run reboot");
	}
}

static int prepare(struct uc_opts *o)
{
	struct stat sb;

	if (stat(o->directory, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return error_errno("cannot use directory '%s'", o->directory);
	if (o->server)
		o->url = xasprintf("rsync://%s", o->server);
	exclude_init(&o->ex);
	if (access(o->exclude_file, F_OK) == 0) {
		if (exclude_load_file(&o->ex, o->exclude_file) < 0)
			return -1;
		o->ex_from_file = 1;
	} else if (strcmp(o->exclude_file, DEFAULT_EXCLUDE_FILE)) {
		return error_errno("cannot open exclude file '%s'",
				   o->exclude_file);
	} else {
		verbose("no '%s': using the built-in excludes", o->exclude_file);
		for (size_t i = 0; i < ARRAY_SIZE(builtin_excludes); i++)
			exclude_add(&o->ex, builtin_excludes[i]);
	}
	if (!o->image && !o->delta && from_cluster_table(o) < 0)
		return -1;
	if (o->server && !o->delta && check_server(o, 1) < 0)
		return -1;
	if (o->server && o->delta && check_server(o, 0) < 0)
		return -1;
	return 0;
}

static int run(struct uc_opts *o)
{
	int r = 0;

	if (prepare(o) < 0)
		return 1;
	if (o->delta) {
		struct delta_index idx;

		if (delta_read_index(o->delta, &idx) < 0)
			return 1;
		if (!o->image && idx.image)
			o->image = xstrdup(idx.image);
		delta_index_release(&idx);
		if (!o->image) {
			error("delta '%s' names no image: give --image", o->delta);
			return 1;
		}
	}
	if (confirm(o) < 0)
		return isatty(STDIN_FILENO) || o->yes ? 1 : 2;
	if (o->delta)
		r = apply_delta(o) < 0 ? -1 : 1;
	else if (!o->rsync_only && !o->dry_run)
		r = swarm_delta(o);
	if (!r) {
		r = rsync_image(o) < 0 ? -1 : 1;
		/* the images module holds the tree of the current version */
		if (o->target > 0 && !o->version)
			o->version = xasprintf("%ld", o->target);
	}
	if (r < 0)
		return 1;
	if (o->url && rsync_overrides(o) < 0)
		return 1;
	if (o->dry_run)
		return log_flush_stdout() < 0;
	if (write_record(o) < 0)
		return 1;
	notice("'%s' is at image '%s'%s%s", o->directory, o->image,
	       o->version ? " version " : "", o->version ? o->version : "");
	linger(o);
	after_update(o);
	return log_flush_stdout() < 0;
}

static int handle(int val, const char *arg, void *data)
{
	struct uc_opts *o = data;

	if (val != OPT_OVERRIDE || !arg)
		return -1;
	opts_split_list(arg, &o->overrides, &o->noverrides);
	o->explicit_overrides = 1;
	return 0;
}

static void release(struct uc_opts *o)
{
	free(o->server); free(o->image); free(o->directory);
	free(o->exclude_file); free(o->hostname); free(o->delta);
	free(o->url); free(o->version); free(o->listen);
	swarm_free(o->sw);
	if (o->work)
		remove_tree(o->work);
	free(o->work);
	opts_free_list(o->overrides);
	exclude_release(&o->ex);
}

int main(int argc, const char **argv)
{
	struct uc_opts o = { 0 };
	struct poptOption table[] = {
		{ "server", '\0', POPT_ARG_STRING, &o.server, 0,
		  "the image server (its rsync daemon)", "HOST[:PORT]" },
		{ "image", '\0', POPT_ARG_STRING, &o.image, 0,
		  "the image to sync to (default: from the cluster table)",
		  "NAME" },
		{ "override", '\0', POPT_ARG_STRING, NULL, OPT_OVERRIDE,
		  "apply this override after the image (repeatable)", "NAME" },
		{ "directory", '\0', POPT_ARG_STRING, &o.directory, 0,
		  "the root to update (default /)", "DIR" },
		{ "delta", '\0', POPT_ARG_STRING, &o.delta, 0,
		  "apply this delta package instead of syncing the image",
		  "FILE" },
		{ "dry-run", 'n', POPT_ARG_NONE, &o.dry_run, 0,
		  "list what would change, change nothing", NULL },
		{ "no-delete", '\0', POPT_ARG_NONE, &o.no_delete, 0,
		  "keep files the image does not have", NULL },
		{ "no-bootloader", '\0', POPT_ARG_NONE, &o.no_bootloader, 0,
		  "do not reinstall the bootloader", NULL },
		{ "reboot", '\0', POPT_ARG_NONE, &o.reboot, 0,
		  "reboot when done", NULL },
		{ "yes", 'y', POPT_ARG_NONE, &o.yes, 0,
		  "do not ask for confirmation", NULL },
		{ "exclude-file", '\0', POPT_ARG_STRING, &o.exclude_file, 0,
		  "rsync exclude rules (default " DEFAULT_EXCLUDE_FILE ")",
		  "FILE" },
		{ "rsync-only", '\0', POPT_ARG_NONE, &o.rsync_only, 0,
		  "sync with rsync even when the server has a delta", NULL },
		{ "no-seed-wait", '\0', POPT_ARG_NONE, &o.no_seed_wait, 0,
		  "do not seed the delta after applying it", NULL },
		{ "linger-max", '\0', POPT_ARG_DOUBLE, &o.linger_max, 0,
		  "seed the delta at most this long (default 120)", "S" },
		{ "linger-samples", '\0', POPT_ARG_INT, &o.linger_samples, 0,
		  "one-second samples a leaving condition must hold "
		  "(default 3)", "N" },
		{ "upload-min", '\0', POPT_ARG_LONG, &o.upload_min, 0,
		  "leave when the upload rate stays below this (KB/s, default "
		  "50, 0 = never)", "KB/s" },
		{ "stall-timeout", '\0', POPT_ARG_DOUBLE, &o.stall_timeout, 0,
		  "fail a delta download without new data for this long "
		  "(default 300)", "S" },
		{ "listen", '\0', POPT_ARG_STRING, &o.listen, 0,
		  "the BitTorrent listen address (default 0.0.0.0:0)",
		  "IP:PORT" },
		{ "hostname", '\0', POPT_ARG_STRING, &o.hostname, 0,
		  "the name to look up in the cluster table (default: this "
		  "host's)", "NAME" },
		OPTS_COMMON,
		POPT_TABLEEND
	};
	poptContext con;
	char host[256];
	int rc;

	log_init(argv[0]);
	o.linger_max = 120;
	o.linger_samples = 3;
	o.upload_min = 50;
	o.stall_timeout = 300;
	con = opts_parse(argc, argv, table,
			 "--server HOST[:PORT] [--image NAME] [OPTIONS]", 0,
			 handle, &o);
	if (!o.server && !o.delta)
		opts_usage_error(con, "--server is required");
	if (o.linger_max < 0 || o.linger_samples < 1 || o.upload_min < 0 ||
	    o.stall_timeout <= 0)
		opts_usage_error(con, "bad --linger-max, --linger-samples, "
				 "--upload-min or --stall-timeout");
	if (o.image && !valid_name(o.image))
		opts_usage_error(con, "invalid image name '%s'", o.image);
	for (size_t i = 0; i < o.noverrides; i++)
		if (!valid_name(o.overrides[i]))
			opts_usage_error(con, "invalid override name '%s'",
					 o.overrides[i]);
	if (o.server && (!*o.server || strpbrk(o.server, "/ ")))
		opts_usage_error(con, "invalid server '%s'", o.server);
	if (!o.directory)
		o.directory = xstrdup("/");
	if (!o.exclude_file)
		o.exclude_file = xstrdup(DEFAULT_EXCLUDE_FILE);
	if (!o.hostname) {
		if (gethostname(host, sizeof(host)) < 0)
			die(1, "cannot get the host name");
		host[sizeof(host) - 1] = '\0';
		o.hostname = xstrdup(host);
	}
	rc = run(&o);
	poptFreeContext(con);
	release(&o);
	return rc;
}
