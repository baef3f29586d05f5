/* si_getimage - capture a golden client's root into BASE/images/NAME.
 *
 * The golden client runs si_prepareclient: its disk layout is in
 * /etc/swarmimager/disklayout.conf and a temporary rsync daemon exports
 * its root as module "root".  We fetch the layout, pull the tree with
 * rsync (excluding the default list, the client's non-local mounts and
 * swap files, and the user's excludes), record the settings beside the
 * image (lib/image.h) and upload a marker into the client's
 * "swarmimager-done" module so that its daemon stops.
 * See docs/man/si_getimage.8.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "disklayout.h"
#include "image.h"
#include "fetch.h"
#include "identity.h"
#include "log.h"
#include "opts.h"
#include "paths.h"
#include "util.h"

#define LAYOUT_PATH "etc/swarmimager/disklayout.conf"

/* Used only when BASE/etc/getimage.exclude (normally installed from the
 * repository's etc/getimage.exclude) is missing. */
static const char *const fallback_excludes[] = {
	"/proc/*", "/sys/*", "/dev/*", "/run/*", "/tmp/*", "/var/tmp/*",
	NULL
};

struct getimage {
	struct si_paths paths;
	char *host, *name, *post_install;
	int port, timeout;
	char **excludes, **exclude_files;
	size_t nexcludes, nexclude_files;
	char *url;		/* rsync://HOST:PORT */
	char *work;		/* BASE/run/getimage.XXXXXX */
	char *layout_text;
	struct disklayout layout;
	enum image_state before;
};

struct stats {
	uint64_t files, size, received, literal;
};

enum { OPT_EXCLUDE = 1, OPT_EXCLUDE_FILE };

static int add_option(int val, const char *arg, void *data)
{
	struct getimage *g = data;
	char ***list = val == OPT_EXCLUDE ? &g->excludes : &g->exclude_files;
	size_t *n = val == OPT_EXCLUDE ? &g->nexcludes : &g->nexclude_files;

	*list = xrealloc(*list, (*n + 2) * sizeof(**list));
	(*list)[(*n)++] = xstrdup(arg);
	(*list)[*n] = NULL;
	return 0;
}

/* Connects to HOST:PORT within the timeout: tells "nobody there" from
 * "no daemon" before rsync gets a chance to hang or mumble. */
static int probe_client(const struct getimage *g)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char port[16];
	int rc, err = ETIMEDOUT;

	snprintf(port, sizeof(port), "%d", g->port);
	rc = getaddrinfo(g->host, port, &hints, &res);
	if (rc)
		return error("cannot resolve golden client '%s': %s", g->host,
			     gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
				SOCK_CLOEXEC, 0);
		struct pollfd pfd = { fd, POLLOUT, 0 };
		socklen_t len = sizeof(err);

		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			err = 0;
		else if (errno != EINPROGRESS)
			err = errno;
		else if (poll(&pfd, 1, g->timeout * 1000) <= 0)
			err = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		close(fd);
		if (!err)
			break;
	}
	freeaddrinfo(res);
	if (!err)
		return 0;
	if (err == ECONNREFUSED)
		return error("no rsync daemon on golden client %s port %d: run "
			     "si_prepareclient --server THIS_SERVER on it first",
			     g->host, g->port);
	if (err == ETIMEDOUT)
		return error("cannot reach golden client %s port %d: no answer "
			     "within %d s", g->host, g->port, g->timeout);
	errno = err;
	return error_errno("cannot reach golden client %s port %d", g->host,
			   g->port);
}

static char *first_line(const char *s)
{
	s += strspn(s, "\n");
	return strndup(s, strcspn(s, "\n"));
}

/* Explains a failed rsync of the layout in the user's terms. */
static int layout_error(const struct getimage *g, int rc, const char *err)
{
	char *line;
	int ret;

	if (strstr(err, "Unknown module"))
		return error("golden client %s port %d runs an rsync daemon "
			     "without a 'root' module: run si_prepareclient "
			     "on it first", g->host, g->port);
	if (strstr(err, "access denied"))
		return error("golden client %s refuses this server: run "
			     "si_prepareclient --server ADDRESS_OF_THIS_SERVER",
			     g->host);
	if (strstr(err, "No such file") || rc == 23)
		return error("golden client %s has no disk layout (/%s): run "
			     "si_prepareclient on it first", g->host,
			     LAYOUT_PATH);
	line = first_line(err);
	ret = error("cannot fetch the disk layout from %s (rsync exit %d): %s",
		    g->host, rc, line);
	free(line);
	return ret;
}

static void rsync_common(const char **argv, int *n, const struct getimage *g,
			 char **contimeout, char **iotimeout)
{
	*contimeout = xasprintf("--contimeout=%d", g->timeout);
	*iotimeout = xasprintf("--timeout=%d", g->timeout < 60 ? 60 :
			       g->timeout);
	argv[(*n)++] = "rsync";
	argv[(*n)++] = RSYNC_NODELAY;
	argv[(*n)++] = *contimeout;
	argv[(*n)++] = *iotimeout;
}

static int fetch_layout(struct getimage *g)
{
	char *src = xasprintf("%s/root/%s", g->url, LAYOUT_PATH);
	char *dst = path_join(g->work, "disklayout.conf"), *ct, *it, *err;
	const char *argv[8];
	int n = 0, rc, ret = -1;

	rsync_common(argv, &n, g, &ct, &it);
	argv[n++] = src;
	argv[n++] = dst;
	argv[n] = NULL;
	rc = command_run(argv, NULL, &err);
	if (rc > 0)
		layout_error(g, rc, err);
	else if (rc == 0 && (g->layout_text = read_file(dst, NULL, 0)) &&
		 disklayout_parse(&g->layout, g->layout_text, "disk layout of "
				  "the golden client") == 0)
		ret = 0;
	free(err);
	free(src);
	free(dst);
	free(ct);
	free(it);
	return ret;
}

/* "/a b/c*" -> "/a b/c\*" : mount points are literal paths. */
static char *pattern_escape(const char *s)
{
	char *out = xmalloc(2 * strlen(s) + 1), *o = out;

	for (; *s; s++) {
		if (strchr("*?[\\", *s))
			*o++ = '\\';
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

/* The exclude options: files, the user's patterns, the client's mounts
 * that are not local disk filesystems, and its swap files. */
static char **exclude_args(struct getimage *g)
{
	char *deflt = path_join(g->paths.etc, "getimage.exclude"), **args = NULL;
	size_t n = 0;
	char *a;

#define ADD(s) do { args = xrealloc(args, (n + 2) * sizeof(*args)); \
		args[n++] = (s); args[n] = NULL; } while (0)
	if (access(deflt, R_OK) == 0) {
		ADD(xasprintf("--exclude-from=%s", deflt));
	} else {
		warning("no default exclude file '%s': excluding only the "
			"built-in minimum", deflt);
		for (size_t i = 0; fallback_excludes[i]; i++)
			ADD(xasprintf("--exclude=%s", fallback_excludes[i]));
	}
	free(deflt);
	for (size_t i = 0; i < g->nexclude_files; i++)
		ADD(xasprintf("--exclude-from=%s", g->exclude_files[i]));
	for (size_t i = 0; i < g->nexcludes; i++)
		ADD(xasprintf("--exclude=%s", g->excludes[i]));
	for (size_t i = 0; i < g->layout.nmounts; i++) {
		const struct dl_mount *m = &g->layout.mounts[i];

		if (m->local)
			continue;
		if (!strcmp(m->path, "/")) {
			warning("the golden client's root is a %s filesystem",
				m->type);
			continue;
		}
		a = pattern_escape(m->path);
		verbose("excluding %s (%s mount)", m->path, m->type);
		ADD(xasprintf("--exclude=%s/*", a));
		free(a);
	}
	for (size_t i = 0; i < g->layout.nswapfiles; i++) {
		a = pattern_escape(g->layout.swapfiles[i].path);
		verbose("excluding swap file %s", g->layout.swapfiles[i].path);
		ADD(xasprintf("--exclude=%s", a));
		free(a);
	}
#undef ADD
	return args;
}

static uint64_t stat_number(const char *out, const char *label)
{
	const char *p = strstr(out, label);
	uint64_t v = 0;

	if (!p)
		return 0;
	for (p += strlen(label); *p == ' '; p++)
		;
	for (; *p && *p != ' ' && *p != '\n' && *p != '('; p++)
		if (*p >= '0' && *p <= '9')
			v = v * 10 + (*p - '0');
	return v;
}

static int pull_tree(struct getimage *g, struct stats *st)
{
	char **ex = exclude_args(g), *ct, *it, *out;
	char *src = xasprintf("%s/root/", g->url);
	char *dir = image_dir(&g->paths, g->name);
	char *dst = xasprintf("%s/", dir);
	const char **argv;
	size_t nex = 0;
	int n = 0, rc;

	while (ex[nex])
		nex++;
	argv = xcalloc(nex + 16, sizeof(*argv));
	rsync_common(argv, &n, g, &ct, &it);
	argv[n++] = "-aHSAX";
	argv[n++] = "--numeric-ids";
	argv[n++] = "--delete";
	argv[n++] = "--delete-excluded";
	argv[n++] = "--stats";
	for (size_t i = 0; i < nex; i++)
		argv[n++] = ex[i];
	argv[n++] = src;
	argv[n++] = dst;
	argv[n] = NULL;
	if (log_level() >= LOG_VERBOSE) {
		char *line = command_line(argv);

		verbose("running %s", line);
		free(line);
	}
	rc = command_run(argv, &out, NULL);
	if (out) {
		if (log_level() >= LOG_VERBOSE)
			fputs(out, stderr);
		st->files = stat_number(out, "Number of files:");
		st->size = stat_number(out, "Total file size:");
		st->literal = stat_number(out, "Literal data:");
		st->received = stat_number(out, "Total bytes received:");
	}
	if (rc == 24) {
		warning("some files vanished on the golden client during the "
			"transfer");
		rc = 0;
	}
	if (rc > 0)
		error("cannot capture image '%s': rsync failed with exit %d "
		      "(see the messages above)", g->name, rc);
	free(out);
	free(argv);
	opts_free_list(ex);
	free(src);
	free(dir);
	free(dst);
	free(ct);
	free(it);
	return rc == 0 ? 0 : -1;
}

/* Writes the layout and the settings: the image is complete after this. */
static int register_image(struct getimage *g, const struct stats *st)
{
	struct image_info old, info = { 0 };
	char *layout = image_layout_path(&g->paths, g->name);
	int ret;

	image_info_load(&g->paths, g->name, &old);
	ret = write_file_atomic(layout, g->layout_text,
				strlen(g->layout_text), 0644);
	free(layout);
	if (ret < 0)
		goto out;
	info.source = g->host;
	info.source_port = g->port;
	info.retrieved = (long long)time(NULL);
	info.post_install = g->post_install ? g->post_install :
		old.post_install ? old.post_install : "reboot";
	info.files = st->files;
	info.size = st->size;
	info.received = st->received;
	info.literal = st->literal;
	ret = image_info_save(&g->paths, g->name, &info);
out:
	image_info_release(&old);
	return ret;
}

/* One warning a capture when the tree holds the golden client's machine
 * id or SSH host keys: si_boel resets them on every node, and the user
 * should know how to keep them if that is what they want. */
static void warn_identity(const struct getimage *g, const char *dir)
{
	unsigned what = identity_captured(dir);
	int id = !!(what & IDENTITY_MACHINE_ID);
	int keys = !!(what & IDENTITY_SSH_HOSTKEYS);
	const char *them = keys ? "them" : "it";

	if (!what)
		return;
	warning("image '%s' holds the golden client's %s%s%s: si_boel resets "
		"%s on every node it installs (keep %s with %s%s%s%s)", g->name,
		id ? "machine id (etc/machine-id)" : "", id && keys ? " and " : "",
		keys ? "SSH host keys (etc/ssh/ssh_host_*_key)" : "", them, them,
		id ? "SI_MACHINE_ID_RESET=n" : "", id && keys ? " and " : "",
		keys ? "SI_SSH_HOSTKEYS_RESET=n" : "",
		keys ? "; a node's own host keys in its host override, "
		"overrides/HOSTNAME/etc/ssh/, are kept" : "");
}

/* Tells the golden client's daemon that we are done. */
static void signal_client(struct getimage *g)
{
	char host[256] = "image server", date[64], *text, *ct, *it;
	char *marker = path_join(g->work, "complete");
	char *dst = xasprintf("%s/swarmimager-done/", g->url);
	const char *argv[8];
	time_t now = time(NULL);
	int n = 0, rc;

	gethostname(host, sizeof(host) - 1);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	text = xasprintf("image %s captured by %s at %s\n", g->name, host,
			 date);
	if (write_file_atomic(marker, text, strlen(text), 0644) == 0) {
		rsync_common(argv, &n, g, &ct, &it);
		argv[n++] = marker;
		argv[n++] = dst;
		argv[n] = NULL;
		rc = command_run(argv, NULL, NULL);
		if (rc != 0)
			warning("cannot tell the golden client that the capture "
				"is complete (rsync exit %d): stop its "
				"si_prepareclient by hand", rc);
		free(ct);
		free(it);
	}
	free(text);
	free(marker);
	free(dst);
}

/* After a failure: a new image leaves nothing behind; an existing one
 * keeps its tree and marker (incomplete until a capture succeeds). */
static void abandon(struct getimage *g)
{
	char *dir, *layout;

	if (g->before != IMAGE_ABSENT) {
		error("image '%s' stays incomplete: run si_getimage again to "
		      "finish it", g->name);
		return;
	}
	dir = image_dir(&g->paths, g->name);
	layout = image_layout_path(&g->paths, g->name);
	remove_tree(dir);
	unlink(layout);
	image_unlock(&g->paths, g->name);
	error("image '%s' not created", g->name);
	free(dir);
	free(layout);
}

static int getimage(struct getimage *g)
{
	struct stats st = { 0 };
	char *dir = NULL, *tmpl;
	int ret = -1;

	if (probe_client(g) < 0)
		return -1;
	if (mkdir_p(g->paths.run, 0755) < 0 || mkdir_p(g->paths.images, 0755) < 0)
		return -1;
	tmpl = path_join(g->paths.run, "getimage.XXXXXX");
	if (!mkdtemp(tmpl)) {
		error_errno("cannot create directory '%s'", tmpl);
		free(tmpl);
		return -1;
	}
	g->work = tmpl;
	if (fetch_layout(g) < 0)
		goto out;
	g->before = image_state(&g->paths, g->name, NULL);
	if (image_lock(&g->paths, g->name) < 0)
		goto out;
	dir = image_dir(&g->paths, g->name);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		error_errno("cannot create directory '%s'", dir);
		abandon(g);
		goto out;
	}
	notice("capturing %s into '%s'", g->host, dir);
	if (pull_tree(g, &st) < 0 || register_image(g, &st) < 0 ||
	    image_unlock(&g->paths, g->name) < 0) {
		abandon(g);
		goto out;
	}
	signal_client(g);
	warn_identity(g, dir);
	printf("captured image %s from %s: files=%llu size=%llu "
	       "received=%llu literal=%llu\n", g->name, g->host,
	       (unsigned long long)st.files, (unsigned long long)st.size,
	       (unsigned long long)st.received,
	       (unsigned long long)st.literal);
	ret = log_flush_stdout();
out:
	free(dir);
	remove_tree(g->work);
	return ret;
}

int main(int argc, const char **argv)
{
	struct getimage g = { .port = 873, .timeout = 10 };
	char *base = NULL;
	int ret;
	struct poptOption table[] = {
		{ "golden-client", '\0', POPT_ARG_STRING, &g.host, 0,
		  "the golden client running si_prepareclient", "HOST" },
		{ "image", '\0', POPT_ARG_STRING, &g.name, 0,
		  "the image to create or update", "NAME" },
		OPTS_BASE(base),
		{ "port", '\0', POPT_ARG_INT, &g.port, 0,
		  "the golden client's rsync daemon port (default 873)", "PORT" },
		{ "exclude", '\0', POPT_ARG_STRING, NULL, OPT_EXCLUDE,
		  "also exclude this rsync pattern (repeatable)", "PATTERN" },
		{ "exclude-file", '\0', POPT_ARG_STRING, NULL, OPT_EXCLUDE_FILE,
		  "also exclude the patterns of FILE (repeatable)", "FILE" },
		{ "post-install", '\0', POPT_ARG_STRING, &g.post_install, 0,
		  "what installed nodes do at the end: reboot (default), "
		  "shutdown, poweroff or shell", "ACTION" },
		{ "timeout", '\0', POPT_ARG_INT, &g.timeout, 0,
		  "seconds to wait for the golden client to answer (default 10)",
		  "SECS" },
		OPTS_COMMON,
		POPT_TABLEEND
	};
	poptContext con;

	log_init(argv[0]);
	con = opts_parse(argc, argv, table,
			 "--golden-client HOST --image NAME [OPTIONS]", 0,
			 add_option, &g);
	if (!g.host || !g.name)
		opts_usage_error(con, "--golden-client and --image are required");
	if (!valid_name(g.name))
		opts_usage_error(con, "invalid image name '%s' (letters, digits, "
				 "'.', '_', '-', '+'; not starting with '.' or "
				 "'-')", g.name);
	if (g.post_install && !image_valid_post_install(g.post_install))
		opts_usage_error(con, "invalid post-install action '%s' (reboot, "
				 "shutdown, poweroff or shell)", g.post_install);
	if (g.port < 1 || g.port > 65535 || g.timeout < 1)
		opts_usage_error(con, "invalid port or timeout");
	poptFreeContext(con);
	paths_init(&g.paths, base, NULL);
	disklayout_init(&g.layout);
	g.url = xasprintf(strchr(g.host, ':') ? "rsync://[%s]:%d" :
			  "rsync://%s:%d", g.host, g.port);
	ret = getimage(&g);
	disklayout_release(&g.layout);
	paths_release(&g.paths);
	opts_free_list(g.excludes);
	opts_free_list(g.exclude_files);
	free(g.layout_text);
	free(g.url);
	free(g.work);
	free(g.host);
	free(g.name);
	free(g.post_install);
	free(base);
	return ret < 0 ? 1 : 0;
}
