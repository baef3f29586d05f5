/* version.c - image versions on the server (see version.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt.h"
#include "log.h"
#include "util.h"
#include "version.h"

static const char *suffixes[] = { ".tar.gz", ".tar.zst", ".tar", ".tar.xz" };

char *version_file(const char *tarballs, const char *name)
{
	return xasprintf("%s/image-%s.version", tarballs, name);
}

long version_current(const char *tarballs, const char *name)
{
	char *path = version_file(tarballs, name), *buf, *nl;
	long v = 0;

	buf = read_file(path, NULL, 1);
	if (!buf) {
		v = errno == ENOENT ? 0 : -1;
		if (v < 0)
			error_errno("cannot read '%s'", path);
		free(path);
		return v;
	}
	if ((nl = strchr(buf, '\n')))
		*nl = '\0';
	if (parse_long(buf, 1, 1000000000, &v) < 0)
		v = error("'%s' does not hold a version number", path);
	free(buf);
	free(path);
	return v;
}

char *version_comment(const char *name, long v)
{
	return xasprintf("swarmimager image %s version %ld", name, v);
}

long version_from_comment(const char *comment, const char *name)
{
	char *want = xasprintf("swarmimager image %s version ", name);
	size_t l = strlen(want);
	long v = 0;

	if (!strncmp(comment, want, l) &&
	    parse_long(comment + l, 1, 1000000000, &v) < 0)
		v = 0;
	free(want);
	return v;
}

long version_of_torrent(const char *torrent, const char *name)
{
	char comment[256], err[512];

	if (bt_torrent_file_comment(torrent, comment, sizeof(comment), err,
				    sizeof(err)) < 0)
		return error("%s", err);
	return version_from_comment(comment, name);
}

char *version_path(const char *tarballs, const char *name, long v,
		   const char *suffix)
{
	return xasprintf("%s/" VERSION_DIR "/image-%s.v%ld%s", tarballs, name,
			 v, suffix);
}

/* The version of a kept file "image-NAME.vN.SUFFIX", else 0. */
static long kept_version(const char *file, const char *name)
{
	char *prefix = xasprintf("image-%s.v", name);
	size_t l = strlen(prefix);
	long v = 0;

	if (!strncmp(file, prefix, l)) {
		char *end;

		errno = 0;
		v = strtol(file + l, &end, 10);
		if (errno || end == file + l || *end != '.' || v < 1)
			v = 0;
	}
	free(prefix);
	return v;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/* Lists the kept versions of name as "1 2 5" into a new string. */
static char *kept_list(const char *tarballs, const char *name)
{
	char *dir = path_join(tarballs, VERSION_DIR), *list = xstrdup("");
	DIR *d = opendir(dir);
	struct dirent *de;
	long *v = NULL;
	size_t n = 0;

	while (d && (de = readdir(d))) {
		long k = kept_version(de->d_name, name);

		if (!k || !strstr(de->d_name, ".manifest"))
			continue;
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = k;
	}
	if (d)
		closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_long);
	for (size_t i = 0; i < n; i++) {
		char *t = xasprintf("%s%s%ld", list, *list ? " " : "", v[i]);

		free(list);
		list = t;
	}
	free(v);
	free(dir);
	return list;
}

char *version_find_tarball(const char *tarballs, const char *name, long v)
{
	char *list;

	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		char *p = version_path(tarballs, name, v, suffixes[i]);

		if (!access(p, R_OK))
			return p;
		free(p);
	}
	list = kept_list(tarballs, name);
	error("version %ld of image '%s' is not kept in '%s/" VERSION_DIR
	      "' (kept: %s)", v, name, tarballs, *list ? list : "none");
	free(list);
	return NULL;
}

int version_prune(const char *tarballs, const char *name, long current,
		  long keep)
{
	char *dir = path_join(tarballs, VERSION_DIR);
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d) {
		free(dir);
		return errno == ENOENT ? 0 :
		       error_errno("cannot open '%s/" VERSION_DIR "'", tarballs);
	}
	while ((de = readdir(d))) {
		long v = kept_version(de->d_name, name);
		char *p;

		if (!v || v > current - keep)
			continue;
		p = path_join(dir, de->d_name);
		if (unlink(p) < 0)
			warning_errno("cannot remove '%s'", p);
		else {
			verbose("removed old version '%s'", p);
			n += !!strstr(de->d_name, ".manifest");
		}
		free(p);
	}
	closedir(d);
	free(dir);
	return n;
}

char *version_delta_name(const char *name, long from, long to)
{
	return xasprintf("delta-%s-v%ld-v%ld.tar", name, from, to);
}
