/* image.c - see image.h */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "image.h"
#include "log.h"
#include "opts.h"
#include "util.h"

char *image_dir(const struct si_paths *p, const char *name)
{
	return path_join(p->images, name);
}

static char *meta(const struct si_paths *p, const char *name,
		  const char *suffix)
{
	char *base = xasprintf(".%s.%s", name, suffix);
	char *path = path_join(p->images, base);

	free(base);
	return path;
}

char *image_conf_path(const struct si_paths *p, const char *name)
{ return meta(p, name, "conf"); }
char *image_layout_path(const struct si_paths *p, const char *name)
{ return meta(p, name, "disklayout"); }
char *image_marker_path(const struct si_paths *p, const char *name)
{ return meta(p, name, "capturing"); }

int image_valid_post_install(const char *action)
{
	static const char *valid[] = { "reboot", "shutdown", "poweroff",
				       "shell" };

	for (size_t i = 0; action && i < ARRAY_SIZE(valid); i++)
		if (!strcmp(action, valid[i]))
			return 1;
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static uint64_t get_u64(const struct config *c, const char *key)
{
	const char *v = config_get(c, key);

	return v ? strtoull(v, NULL, 10) : 0;
}

int image_info_load(const struct si_paths *p, const char *name,
		    struct image_info *info)
{
	char *path = image_conf_path(p, name);
	struct config c;
	int rc;

	memset(info, 0, sizeof(*info));
	config_init(&c);
	rc = config_load_file(&c, path, 0, 1);
	if (rc == 0) {
		const char *n = config_get(&c, "IMAGE_NAME");

		info->name = xstrdup(n ? n : name);
		info->source = dup_or_null(config_get(&c, "IMAGE_SOURCE"));
		info->source_port = (int)get_u64(&c, "IMAGE_SOURCE_PORT");
		info->retrieved = (long long)get_u64(&c, "IMAGE_RETRIEVED_EPOCH");
		info->post_install =
			dup_or_null(config_get(&c, "IMAGE_POST_INSTALL"));
		info->files = get_u64(&c, "IMAGE_FILES");
		info->size = get_u64(&c, "IMAGE_SIZE");
		info->received = get_u64(&c, "IMAGE_BYTES_RECEIVED");
		info->literal = get_u64(&c, "IMAGE_LITERAL_BYTES");
		info->copied_from =
			dup_or_null(config_get(&c, "IMAGE_COPIED_FROM"));
	}
	config_release(&c);
	free(path);
	return rc;
}

void image_info_release(struct image_info *info)
{
	free(info->name);
	free(info->source);
	free(info->post_install);
	free(info->copied_from);
	memset(info, 0, sizeof(*info));
}

/* Appends KEY='value' (single quotes; a quote inside becomes '"'"'). */
static void put(char **text, const char *key, const char *value)
{
	size_t n = 0;
	char *q, *o, *t;

	if (!value)
		return;
	for (const char *s = value; *s; s++)
		n += *s == '\'' ? 5 : 1;
	q = o = xmalloc(n + 1);
	for (const char *s = value; *s; s++) {
		if (*s == '\'') {
			memcpy(o, "'\"'\"'", 5);
			o += 5;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	t = xasprintf("%s%s='%s'\n", *text, key, q);
	free(q);
	free(*text);
	*text = t;
}

static void put_u64(char **text, const char *key, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	put(text, key, buf);
}

int image_info_save(const struct si_paths *p, const char *name,
		    const struct image_info *info)
{
	char *text = xstrdup("# swarmimager image settings, written by "
			     "the server's tools (see lib/image.h)\n");
	char *path = image_conf_path(p, name), date[64] = "";
	time_t t = (time_t)info->retrieved;
	int ret;

	if (t)
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	put(&text, "IMAGE_NAME", name);
	put(&text, "IMAGE_SOURCE", info->source);
	if (info->source_port)
		put_u64(&text, "IMAGE_SOURCE_PORT", info->source_port);
	if (t) {
		put(&text, "IMAGE_RETRIEVED", date);
		put_u64(&text, "IMAGE_RETRIEVED_EPOCH", info->retrieved);
	}
	put(&text, "IMAGE_POST_INSTALL", info->post_install);
	put_u64(&text, "IMAGE_FILES", info->files);
	put_u64(&text, "IMAGE_SIZE", info->size);
	put_u64(&text, "IMAGE_BYTES_RECEIVED", info->received);
	put_u64(&text, "IMAGE_LITERAL_BYTES", info->literal);
	put(&text, "IMAGE_COPIED_FROM", info->copied_from);
	ret = write_file_atomic(path, text, strlen(text), 0644);
	free(text);
	free(path);
	return ret;
}

/* Returns the PID in the marker if that process lives, else 0. */
static pid_t marker_pid(const char *path, int *exists)
{
	char *text = read_file(path, NULL, 1);
	long pid = 0;

	*exists = text != NULL;
	if (text && sscanf(text, "pid=%ld", &pid) == 1 && pid > 0 &&
	    (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
		free(text);
		return (pid_t)pid;
	}
	free(text);
	return 0;
}

enum image_state image_state(const struct si_paths *p, const char *name,
			     pid_t *pidp)
{
	char *dir = image_dir(p, name), *conf = image_conf_path(p, name);
	char *marker = image_marker_path(p, name);
	struct stat st;
	int has_marker, has_dir = lstat(dir, &st) == 0 && S_ISDIR(st.st_mode);
	int has_conf = access(conf, F_OK) == 0;
	pid_t pid = marker_pid(marker, &has_marker);
	enum image_state s;

	if (pid && pid != getpid())
		s = IMAGE_BUSY;
	else if (has_dir && has_conf && !has_marker)
		s = IMAGE_COMPLETE;
	else if (has_dir || has_conf || has_marker)
		s = IMAGE_INCOMPLETE;
	else
		s = IMAGE_ABSENT;
	if (pidp)
		*pidp = s == IMAGE_BUSY ? pid : 0;
	free(dir);
	free(conf);
	free(marker);
	return s;
}

int image_lock(const struct si_paths *p, const char *name)
{
	char *marker = image_marker_path(p, name), *text = NULL, *tmp;
	int exists, ret = -1, fd;
	pid_t pid;

	for (int tries = 0; tries < 2; tries++) {
		fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0)
			break;
		if (errno != EEXIST) {
			error_errno("cannot create '%s'", marker);
			goto out;
		}
		pid = marker_pid(marker, &exists);
		if (pid) {
			error("image '%s' is in use by process %ld", name,
			      (long)pid);
			goto out;
		}
		/* A dead run's marker: take it over atomically. */
		tmp = xasprintf("%s.stale.%ld", marker, (long)getpid());
		if (rename(marker, tmp) == 0)
			unlink(tmp);
		free(tmp);
	}
	if (fd < 0) {
		error("cannot take the marker '%s'", marker);
		goto out;
	}
	text = xasprintf("pid=%ld\n", (long)getpid());
	if (write_all(fd, text, strlen(text)) < 0) {
		error_errno("cannot write '%s'", marker);
		close(fd);
		unlink(marker);
		goto out;
	}
	close(fd);
	ret = 0;
out:
	free(text);
	free(marker);
	return ret;
}

int image_unlock(const struct si_paths *p, const char *name)
{
	char *marker = image_marker_path(p, name);
	int ret = 0;

	if (unlink(marker) < 0 && errno != ENOENT)
		ret = error_errno("cannot remove '%s'", marker);
	else
		ret = fsync_parent(marker);
	free(marker);
	return ret;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The image name in a directory entry of BASE/images, or NULL. */
static char *entry_name(const char *d)
{
	static const char *suffix[] = { ".conf", ".disklayout", ".capturing" };

	if (d[0] != '.')
		return valid_name(d) ? xstrdup(d) : NULL;
	for (size_t i = 0; i < ARRAY_SIZE(suffix); i++) {
		size_t l = strlen(d), sl = strlen(suffix[i]);

		if (l > sl + 1 && !strcmp(d + l - sl, suffix[i])) {
			char *n = strndup(d + 1, l - sl - 1);

			if (n && valid_name(n))
				return n;
			free(n);
		}
	}
	return NULL;
}

char **image_list(const struct si_paths *p, size_t *np)
{
	DIR *d = opendir(p->images);
	struct dirent *de;
	char **list = NULL;
	size_t n = 0;

	*np = 0;
	if (!d) {
		if (errno == ENOENT)
			return xcalloc(1, sizeof(char *));
		error_errno("cannot open directory '%s'", p->images);
		return NULL;
	}
	while ((de = readdir(d))) {
		char *name = entry_name(de->d_name);
		size_t i;

		if (!name)
			continue;
		for (i = 0; i < n && strcmp(list[i], name); i++)
			;
		if (i < n) {
			free(name);
			continue;
		}
		list = xrealloc(list, (n + 2) * sizeof(*list));
		list[n++] = name;
	}
	closedir(d);
	if (!list)
		return xcalloc(1, sizeof(char *));
	qsort(list, n, sizeof(*list), cmp_str);
	list[n] = NULL;
	*np = n;
	return list;
}

char **image_artifacts(const struct si_paths *p, const char *name,
		       const char *kind)
{
	static const struct { const char *kind, *suffix; int torrents; } f[] = {
		{ "tarball", ".tar", 0 },
		{ "tarball", ".tar.gz", 0 },
		{ "tarball", ".tar.zst", 0 },
		{ "tarball", ".tar.xz", 0 },
		{ "manifest", ".manifest", 0 },
		{ "torrent", ".tar.torrent", 1 },
		{ "torrent", ".tar.gz.torrent", 1 },
		{ "torrent", ".tar.zst.torrent", 1 },
		{ "torrent", ".tar.xz.torrent", 1 },
	};
	char **list = xcalloc(ARRAY_SIZE(f) + 1, sizeof(char *));
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		char *file, *path;

		if (kind && strcmp(kind, f[i].kind))
			continue;
		file = xasprintf("image-%s%s", name, f[i].suffix);
		path = path_join(f[i].torrents ? p->torrents : p->tarballs,
				 file);
		free(file);
		if (access(path, F_OK) == 0)
			list[n++] = path;
		else
			free(path);
	}
	return list;
}

int image_main_two_names(int argc, const char **argv, const char *synopsis,
			 const char *need,
			 int (*fn)(const struct si_paths *p, const char *a,
				   const char *b))
{
	char *base = NULL;
	const char **args;
	struct si_paths p;
	int ret;
	struct poptOption table[] = {
		OPTS_BASE(base),
		OPTS_COMMON,
		POPT_TABLEEND
	};
	poptContext con;

	log_init(argv[0]);
	con = opts_parse(argc, argv, table, synopsis, 2, NULL, NULL);
	args = poptGetArgs(con);
	if (!args || !args[0] || !args[1])
		opts_usage_error(con, "%s", need);
	for (size_t i = 0; i < 2; i++)
		if (!valid_name(args[i]))
			opts_usage_error(con, "invalid image name '%s'", args[i]);
	paths_init(&p, base, NULL);
	ret = fn(&p, args[0], args[1]);
	poptFreeContext(con);
	paths_release(&p);
	free(base);
	return ret < 0 ? 1 : 0;
}
