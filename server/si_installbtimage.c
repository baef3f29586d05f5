/* si_installbtimage - pack images and overrides into tarballs, manifests
 * and torrents for the seeder.
 *
 * For each image (or override) NAME: scan BASE/images/NAME, compare the
 * tree's stamp with the one stored beside the last tarball, and when it
 * changed (or --update) pack it into BASE/tarballs/image-NAME.tar.gz with
 * its manifest, and write BASE/torrents/image-NAME.tar.gz.torrent.
 * Everything is prepared under temporary names first and renamed into
 * place only when all of it is complete.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt.h"
#include "config.h"
#include "log.h"
#include "manifest.h"
#include "opts.h"
#include "paths.h"
#include "tarball.h"
#include "torrent.h"
#include "util.h"
#include "version.h"

#define STAMP_HEADER "# swarmimager stamp 1"
#define TMP_PREFIX ".si_installbtimage."

struct job {
	const char *kind;	/* "image" or "override" */
	char *name;
	char *src;		/* BASE/images/NAME */
};

struct options {
	char *base, *images, *overrides, *compress, *tracker, *address;
	char *web_seed;
	char *piece_size;
	int update, level, keep_versions;
};

struct ctx {
	struct si_paths paths;
	struct config conf;
	enum tarball_compress compress;
	int update, level;
	int piece_size;		/* bytes; 0 = torrent_piece_size() */
	long keep_versions;	/* 0 = keep every version */
	char *announce;
	char *web_seed;		/* base URL, or NULL */
	struct job *jobs;
	size_t njobs;
};

/* What the last run recorded beside a tarball. */
struct stamp {
	char tree[65], compress[16], info_hash[41];
	char *announce, *web_seed;
	uint64_t size, ino, entries;
	uint64_t unpacked;	/* the entries' file data, bytes */
	int64_t mtime_ns;
};

static void stamp_release(struct stamp *s)
{
	free(s->announce);
	free(s->web_seed);
	memset(s, 0, sizeof(*s));
}

/* Reads a stamp file; returns 0, or -1 when missing or unreadable (the
 * tarball is then simply re-packed). */
static int stamp_load(struct stamp *s, const char *path)
{
	char *buf = read_file(path, NULL, 1), *line, *next;
	int fields = 0;

	memset(s, 0, sizeof(*s));
	if (!buf)
		return -1;
	if (strncmp(buf, STAMP_HEADER "\n", strlen(STAMP_HEADER) + 1)) {
		free(buf);
		return -1;
	}
	for (line = strchr(buf, '\n') + 1; *line; line = next) {
		char *val;

		next = strchr(line, '\n');
		if (!next)
			break;
		*next++ = '\0';
		val = strchr(line, ' ');
		if (!val)
			continue;
		*val++ = '\0';
		if (!strcmp(line, "tree") && strlen(val) == 64)
			fields += !!strcpy(s->tree, val);
		else if (!strcmp(line, "compress") && strlen(val) < 16)
			fields += !!strcpy(s->compress, val);
		else if (!strcmp(line, "info-hash") && strlen(val) == 40)
			fields += !!strcpy(s->info_hash, val);
		else if (!strcmp(line, "announce") && !s->announce)
			fields += !!(s->announce = xstrdup(val));
		else if (!strcmp(line, "web-seed") && !s->web_seed)
			fields += !!(s->web_seed = xstrdup(val));
		else if (!strcmp(line, "entries"))
			fields += sscanf(val, "%" SCNu64, &s->entries) == 1;
		else if (!strcmp(line, "unpacked"))
			fields += sscanf(val, "%" SCNu64, &s->unpacked) == 1;
		else if (!strcmp(line, "tarball"))
			fields += sscanf(val, "%" SCNu64 " %" SCNd64 " %" SCNu64,
					 &s->size, &s->mtime_ns, &s->ino) == 3;
	}
	free(buf);
	if (fields != 8) {
		stamp_release(s);
		return -1;
	}
	return 0;
}

static char *stamp_format(const struct stamp *s)
{
	return xasprintf("%s\ntree %s\ncompress %s\ntarball %" PRIu64 " %" PRId64
			 " %" PRIu64 "\nentries %" PRIu64 "\nunpacked %" PRIu64
			 "\ninfo-hash %s\nannounce %s\nweb-seed %s\n",
			 STAMP_HEADER, s->tree, s->compress, s->size,
			 s->mtime_ns, s->ino, s->entries, s->unpacked,
			 s->info_hash, s->announce, s->web_seed);
}

static void stamp_set_file(struct stamp *s, const struct stat *st)
{
	s->size = st->st_size;
	s->ino = st->st_ino;
	s->mtime_ns = st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

/* ---- settings ---- */

static int setup_announce(struct ctx *c, const struct options *o)
{
	c->announce = torrent_announce(&c->conf, c->paths.etc, o->tracker,
				       o->address);
	return c->announce ? 0 : -1;
}

static int setup_compress(struct ctx *c, const struct options *o)
{
	const char *s = o->compress;
	const char *src = "--compress";

	if (!s) {
		s = config_get(&c->conf, "BT_COMPRESS");
		if (s && *s)
			src = config_find(&c->conf, "BT_COMPRESS")->source;
		else
			s = "gzip";
	}
	if (tarball_compress_parse(s, &c->compress) < 0)
		return error("%s: unknown compression '%s' (gzip, zstd or none)",
			     src, s);
	return 0;
}

/* BT_PIECE_SIZE, unless --piece-size (parsed with the options) was given. */
static int setup_piece_size(struct ctx *c, const struct options *o)
{
	const char *s = config_get(&c->conf, "BT_PIECE_SIZE");

	if (o->piece_size || !s || !*s)
		return 0;
	if (torrent_piece_size_parse(s, &c->piece_size) < 0)
		return error("%s: bad piece size '%s' (auto, or a power of two "
			     "from 16K to 16M)",
			     config_find(&c->conf, "BT_PIECE_SIZE")->source, s);
	return 0;
}

static void add_job(struct ctx *c, const char *kind, const char *name)
{
	struct job *j;

	for (size_t i = 0; i < c->njobs; i++)
		if (!strcmp(c->jobs[i].kind, kind) && !strcmp(c->jobs[i].name, name))
			return;
	c->jobs = xrealloc(c->jobs, (c->njobs + 1) * sizeof(*c->jobs));
	j = &c->jobs[c->njobs++];
	j->kind = kind;
	j->name = xstrdup(name);
	j->src = path_join(!strcmp(kind, "image") ? c->paths.images :
			   c->paths.overrides, name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds a job for every directory under dir (none if dir is missing). */
static int add_all(struct ctx *c, const char *kind, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	if (!d)
		return errno == ENOENT ? 0 :
		       error_errno("cannot open directory '%s'", dir);
	while ((de = readdir(d))) {
		char *p = path_join(dir, de->d_name);
		struct stat st;

		if (valid_name(de->d_name) && !stat(p, &st) && S_ISDIR(st.st_mode)) {
			names = xrealloc(names, (n + 1) * sizeof(*names));
			names[n++] = xstrdup(de->d_name);
		}
		free(p);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		add_job(c, kind, names[i]);
		free(names[i]);
	}
	free(names);
	return 0;
}

/* Adds the jobs of a list; returns 0, or -1 for an invalid name. */
static int add_list(struct ctx *c, const char *kind, const char *list,
		    const char *source)
{
	char **names = NULL;
	size_t n = 0;
	int ret = 0;

	opts_split_list(list, &names, &n);
	for (size_t i = 0; i < n && !ret; i++) {
		if (!valid_name(names[i]))
			ret = error("%s: invalid %s name '%s'", source, kind,
				    names[i]);
		else
			add_job(c, kind, names[i]);
	}
	opts_free_list(names);
	return ret;
}

static int setup_jobs(struct ctx *c)
{
	const char *kinds[] = { "image", "override" };
	const char *keys[] = { "BT_IMAGES", "BT_OVERRIDES" };
	const char *dirs[] = { c->paths.images, c->paths.overrides };

	for (int k = 0; k < 2; k++) {
		const char *list = config_get(&c->conf, keys[k]);
		int r;

		if (list && *list)
			r = add_list(c, kinds[k], list,
				     config_find(&c->conf, keys[k])->source);
		else
			r = add_all(c, kinds[k], dirs[k]);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* ---- packing one tarball ---- */

struct names {
	char *base;		/* image-NAME */
	char *tarname;		/* image-NAME.tar.gz */
	char *tarball, *manifest, *stamp, *torrent;
	char *version;		/* image-NAME.version */
};

static void names_init(struct names *n, const struct ctx *c,
		       const struct job *j)
{
	n->base = xasprintf("%s-%s", j->kind, j->name);
	n->tarname = xasprintf("%s%s", n->base, tarball_suffix(c->compress));
	n->tarball = path_join(c->paths.tarballs, n->tarname);
	n->manifest = xasprintf("%s/%s.manifest", c->paths.tarballs, n->base);
	n->stamp = xasprintf("%s/%s.stamp", c->paths.tarballs, n->base);
	n->torrent = xasprintf("%s/%s.torrent", c->paths.torrents, n->tarname);
	n->version = xasprintf("%s/%s.version", c->paths.tarballs, n->base);
}

static void names_release(struct names *n)
{
	free(n->base); free(n->tarname); free(n->tarball); free(n->manifest);
	free(n->stamp); free(n->torrent); free(n->version);
}

/* Hashes tarball (whose name is the torrent's) into a torrent written to
 * af (opened, not committed), with the image's version (if any) as its
 * comment and what it unpacks to (s: entries, unpacked) for the nodes'
 * room check.  Fills info. */
static int make_torrent(const struct ctx *c, const struct job *j,
			long version, const char *tarball, const char *tarname,
			const struct stamp *s, struct atomic_file *af,
			const char *final, struct bt_info *info)
{
	char *comment = version > 0 ? version_comment(j->name, version) : NULL;
	struct torrent_spec ts = {
		.file = tarball, .tarname = tarname, .announce = c->announce,
		.web_seed = c->web_seed, .comment = comment,
		.piece_size = c->piece_size,
		.unpacked_bytes = (int64_t)s->unpacked,
		.unpacked_entries = (int64_t)s->entries,
	};
	int ret = torrent_write(&ts, af, final, info);

	free(comment);
	return ret;
}

static void summary(const char *tarname, const char *what, uint64_t size,
		    uint64_t entries, const char *info_hash)
{
	printf("%s %s size=%" PRIu64 " entries=%" PRIu64 " info-hash=%s\n",
	       tarname, what, size, entries, info_hash);
}

/* Removes the tarballs and torrents of this image made with another
 * compression, so that clients never pick a stale one. */
static void remove_stale(const struct ctx *c, const struct names *n)
{
	const enum tarball_compress all[] = { TARBALL_GZIP, TARBALL_ZSTD,
					      TARBALL_NONE };

	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		char *t, *tor;

		if (all[i] == c->compress)
			continue;
		t = xasprintf("%s/%s%s", c->paths.tarballs, n->base,
			      tarball_suffix(all[i]));
		tor = xasprintf("%s/%s%s.torrent", c->paths.torrents, n->base,
				tarball_suffix(all[i]));
		if (!unlink(tor))
			verbose("removed stale '%s'", tor);
		if (!unlink(t))
			verbose("removed stale '%s'", t);
		free(t);
		free(tor);
	}
}

static int write_stamp(const char *path, const struct stamp *s)
{
	char *text = stamp_format(s);
	int ret = write_file_atomic(path, text, strlen(text), 0600);

	free(text);
	return ret;
}

/* The tree is unchanged: only (re)writes the torrent when it is missing or
 * its tracker, web seed or piece size changed. */
static int refresh_torrent(const struct ctx *c, const struct job *j,
			   const struct names *n, struct stamp *old,
			   long version)
{
	struct atomic_file af = { .fd = -1 };
	struct bt_info info;
	char *seed = torrent_web_seed(c->web_seed, n->tarname);
	int same = !strcmp(old->announce, c->announce) &&
		   !strcmp(old->web_seed, seed ? seed : "-");
	int piece = c->piece_size ? c->piece_size :
		    torrent_piece_size((int64_t)old->size);
	int ret = -1;

	if (same && !bt_torrent_file_info(n->torrent, &info, NULL, 0) &&
	    !strcmp(info.info_hash, old->info_hash) &&
	    info.piece_length == piece &&
	    (!version || version_of_torrent(n->torrent, j->name) == version)) {
		summary(n->tarname, "unchanged", old->size, old->entries,
			old->info_hash);
		free(seed);
		return 0;
	}
	verbose("%s unchanged; writing its torrent again", n->tarname);
	if (make_torrent(c, j, version, n->tarball, n->tarname, old, &af,
			 n->torrent, &info) < 0)
		goto out;
	if (unlink(n->stamp) < 0 && errno != ENOENT) {
		error_errno("cannot remove '%s'", n->stamp);
		atomic_abort(&af);
		goto out;
	}
	if (atomic_commit(&af) < 0)
		goto out;
	free(old->announce);
	free(old->web_seed);
	old->announce = xstrdup(c->announce);
	old->web_seed = xstrdup(seed ? seed : "-");
	strcpy(old->info_hash, info.info_hash);
	if (write_stamp(n->stamp, old) < 0)
		goto out;
	summary(n->tarname, "torrent", old->size, old->entries, info.info_hash);
	ret = 0;
out:
	free(seed);
	return ret;
}

/* Is the last tarball of this tree still good? */
static int up_to_date(const struct ctx *c, const struct names *n,
		      const struct tarball_tree *t, const struct stamp *s)
{
	struct stat st;

	return !strcmp(s->tree, t->stamp) &&
	       !strcmp(s->compress, tarball_compress_name(c->compress)) &&
	       !stat(n->tarball, &st) && (uint64_t)st.st_size == s->size &&
	       st.st_ino == s->ino &&
	       st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec ==
	       s->mtime_ns && !access(n->manifest, F_OK);
}

struct progress_data {
	const char *name;
};

static void show_progress(const struct tarball_progress *p, void *data)
{
	const struct progress_data *pd = data;
	char in[32], out[32], rate[32];

	human_bytes(in, sizeof(in), p->bytes_in);
	human_bytes(out, sizeof(out), p->bytes_out);
	human_bytes(rate, sizeof(rate), p->elapsed > 0 ?
		    p->bytes_in / p->elapsed : 0);
	notice("%s: %s read, %s written, %" PRIu64 " entries, %s/s", pd->name,
	       in, out, p->entries, rate);
}

/* Packs into dir/TARNAME and dir/BASE.manifest.  Fills r and st (the
 * tarball's final identity). */
static int pack_to(const struct ctx *c, const struct names *n,
		   const struct tarball_tree *t, const char *tmptar,
		   const char *tmpman, struct tarball_result *r,
		   struct stat *st)
{
	struct progress_data pd = { n->tarname };
	struct tarball_options o = {
		.name = n->tarball, .compress = c->compress, .level = c->level,
		.progress = show_progress, .progress_data = &pd,
	};
	struct manifest m;
	int fd, ret = -1;

	manifest_init(&m);
	fd = open(tmptar, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_errno("cannot create '%s'", tmptar);
	if (fchmod(fd, 0600) < 0) {
		error_errno("cannot set mode of '%s'", tmptar);
		goto out;
	}
	if (tarball_write(t, fd, &o, &m, r) < 0)
		goto out;
	if (fsync(fd) < 0 || fstat(fd, st) < 0) {
		error_errno("cannot write '%s'", n->tarball);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		error_errno("cannot write '%s'", n->tarball);
		goto out;
	}
	fd = -1;
	ret = manifest_write(&m, tmpman, 0600);
out:
	if (fd >= 0)
		close(fd);
	manifest_release(&m);
	return ret;
}

/* Renames the prepared files into place: the old stamp goes first so that
 * an interruption here means "re-pack next time". */
static int commit(const struct names *n, const char *tmptar,
		  const char *tmpman, struct atomic_file *af,
		  const char *tmpver, const char *tmpstamp)
{
	if (unlink(n->stamp) < 0 && errno != ENOENT)
		return error_errno("cannot remove '%s'", n->stamp);
	if (rename(tmptar, n->tarball) < 0)
		return error_errno("cannot rename '%s' to '%s'", tmptar,
				   n->tarball);
	if (rename(tmpman, n->manifest) < 0)
		return error_errno("cannot rename '%s' to '%s'", tmpman,
				   n->manifest);
	if (fsync_parent(n->tarball) < 0 || atomic_commit(af) < 0)
		return -1;
	if (tmpver && rename(tmpver, n->version) < 0)
		return error_errno("cannot rename '%s' to '%s'", tmpver,
				   n->version);
	if (tmpstamp && rename(tmpstamp, n->stamp) < 0)
		return error_errno("cannot rename '%s' to '%s'", tmpstamp,
				   n->stamp);
	return fsync_parent(n->stamp);
}

static int is_image(const struct job *j)
{
	return !strcmp(j->kind, "image");
}

/* Keeps version v of the packed files: hard links in tarballs/versions
 * (any stale ones of an earlier failed run replaced), and the new version
 * file *tmpver in dir, renamed into place by commit().  Fills kept[2]
 * (freed by the caller) for removal on failure. */
static int keep_version(const struct ctx *c, const struct job *j, long v,
			const char *dir, const char *tmptar, const char *tmpman,
			char **kept, char **tmpver)
{
	char *vdir = path_join(c->paths.tarballs, VERSION_DIR), *text;
	const char *src[2] = { tmptar, tmpman };
	int ret;

	ret = mkdir_p(vdir, 0700);
	free(vdir);
	if (ret < 0)
		return -1;
	kept[0] = version_path(c->paths.tarballs, j->name, v,
			       tarball_suffix(c->compress));
	kept[1] = version_path(c->paths.tarballs, j->name, v, ".manifest");
	for (int i = 0; i < 2; i++) {
		if (unlink(kept[i]) < 0 && errno != ENOENT)
			return error_errno("cannot remove '%s'", kept[i]);
		if (link(src[i], kept[i]) < 0)
			return error_errno("cannot link '%s' to '%s'", src[i],
					   kept[i]);
	}
	*tmpver = xasprintf("%s/image-%s.version", dir, j->name);
	text = xasprintf("%ld\n", v);
	ret = write_file_atomic(*tmpver, text, strlen(text), 0600);
	free(text);
	return ret;
}

static int repack(const struct ctx *c, const struct job *j,
		  const struct names *n, const struct tarball_tree *t)
{
	char *dir = xasprintf("%s/" TMP_PREFIX "%s.XXXXXX", c->paths.tarballs,
			      n->base);
	char *tmptar = NULL, *tmpman = NULL, *tmpstamp = NULL, *seed = NULL;
	char *tmpver = NULL, *kept[2] = { NULL, NULL };
	struct atomic_file af = { .fd = -1 };
	long version = 0;
	struct stamp s = { .announce = c->announce };
	struct tarball_result r;
	struct bt_info info;
	struct stat st;
	int ret = -1;

	if (!mkdtemp(dir)) {
		error_errno("cannot create a directory in '%s'", c->paths.tarballs);
		free(dir);
		return -1;
	}
	tmptar = path_join(dir, n->tarname);
	tmpman = xasprintf("%s/%s.manifest", dir, n->base);
	tmpstamp = xasprintf("%s/%s.stamp", dir, n->base);
	if (is_image(j)) {
		version = version_current(c->paths.tarballs, j->name);
		if (version < 0)
			goto out;
		version++;
	}
	verbose("packing '%s' into '%s'", t->root, n->tarball);
	if (pack_to(c, n, t, tmptar, tmpman, &r, &st) < 0)
		goto out;
	if (version && keep_version(c, j, version, dir, tmptar, tmpman, kept,
				    &tmpver) < 0)
		goto out;
	s.entries = r.entries;
	s.unpacked = r.bytes_in;
	if (make_torrent(c, j, version, tmptar, n->tarname, &s, &af,
			 n->torrent, &info) < 0)
		goto out;
	seed = torrent_web_seed(c->web_seed, n->tarname);
	strcpy(s.tree, t->stamp);
	strcpy(s.compress, tarball_compress_name(c->compress));
	strcpy(s.info_hash, info.info_hash);
	s.web_seed = seed ? seed : "-";
	stamp_set_file(&s, &st);
	if (r.warnings) {
		warning("%s: the tree changed while being packed; it will be "
			"packed again next time", n->tarname);
	} else {
		char *text = stamp_format(&s);

		ret = write_file_atomic(tmpstamp, text, strlen(text), 0600);
		free(text);
		if (ret < 0)
			goto out;
		ret = -1;
	}
	if (commit(n, tmptar, tmpman, &af, tmpver,
		   r.warnings ? NULL : tmpstamp) < 0)
		goto out;
	summary(n->tarname, "packed", st.st_size, r.entries, info.info_hash);
	if (version)
		notice("%s: image '%s' version %ld", n->tarname, j->name,
		       version);
	ret = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (ret < 0 && kept[i])
			unlink(kept[i]);
		free(kept[i]);
	}
	free(tmpver);
	atomic_abort(&af);
	remove_tree(dir);
	free(dir);
	free(tmptar);
	free(tmpman);
	free(tmpstamp);
	free(seed);
	return ret;
}

static int pack_job(const struct ctx *c, const struct job *j)
{
	struct tarball_tree t = { 0 };
	struct stamp old;
	struct names n;
	struct stat st;
	int ret = -1, have_old;
	long version = 0;

	if (stat(j->src, &st) < 0)
		return error_errno("cannot open %s '%s': '%s'", j->kind, j->name,
				   j->src);
	if (!S_ISDIR(st.st_mode))
		return error("cannot open %s '%s': '%s' is not a directory",
			     j->kind, j->name, j->src);
	names_init(&n, c, j);
	if (tarball_scan(&t, j->src, strcmp(j->kind, "image") ?
			 TARBALL_NO_ROOT : 0) < 0)
		goto out;
	have_old = stamp_load(&old, n.stamp) == 0;
	/* an image packed before versions existed gets its first one */
	if (is_image(j) &&
	    (version = version_current(c->paths.tarballs, j->name)) < 0)
		goto out;
	if (!c->update && have_old && (version || !is_image(j)) &&
	    up_to_date(c, &n, &t, &old))
		ret = refresh_torrent(c, j, &n, &old, version);
	else
		ret = repack(c, j, &n, &t);
	if (have_old)
		stamp_release(&old);
	if (!ret)
		remove_stale(c, &n);
	if (!ret && is_image(j) && c->keep_versions > 0 &&
	    (version = version_current(c->paths.tarballs, j->name)) > 0 &&
	    version_prune(c->paths.tarballs, j->name, version,
			  c->keep_versions) < 0)
		ret = -1;
out:
	tarball_tree_release(&t);
	names_release(&n);
	return ret;
}

static int remove_leftovers(const char *dir);

/* Holds an exclusive lock on the tarballs directory for the whole run and
 * removes what an interrupted run left behind. */
static int lock_and_clean(const struct ctx *c)
{
	char *lock = path_join(c->paths.tarballs, TMP_PREFIX "lock");
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		error_errno("cannot open '%s'", lock);
		free(lock);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		notice("waiting for another si_installbtimage to finish");
		if (flock(fd, LOCK_EX) < 0) {
			error_errno("cannot lock '%s'", lock);
			free(lock);
			return -1;
		}
	}
	free(lock);
	/* fd stays open (and locked) until exit */
	return remove_leftovers(c->paths.tarballs) < 0 ||
	       remove_leftovers(c->paths.torrents) < 0 ? -1 : 0;
}

/* Is name one of our temporaries: a work directory in tarballs/, or a
 * torrent being written (atomic_open's NAME.torrent.tmp.XXXXXX)? */
static int is_leftover(const char *name)
{
	const char *t = strstr(name, ".torrent.tmp.");

	if (!strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)))
		return strcmp(name, TMP_PREFIX "lock") != 0;
	return t && strlen(t) == strlen(".torrent.tmp.XXXXXX");
}

static int remove_leftovers(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return error_errno("cannot open '%s'", dir);
	while ((de = readdir(d))) {
		if (!is_leftover(de->d_name))
			continue;
		char *p = path_join(dir, de->d_name);

		verbose("removing '%s' left by an interrupted run", p);
		remove_tree(p);
		free(p);
	}
	closedir(d);
	return 0;
}

static void ctx_release(struct ctx *c)
{
	for (size_t i = 0; i < c->njobs; i++) {
		free(c->jobs[i].name);
		free(c->jobs[i].src);
	}
	free(c->jobs);
	free(c->announce);
	free(c->web_seed);
	config_release(&c->conf);
	paths_release(&c->paths);
}

static void options_release(struct options *o)
{
	free(o->base); free(o->images); free(o->overrides); free(o->compress);
	free(o->tracker); free(o->address); free(o->web_seed);
	free(o->piece_size);
}

/* ---- options and main ---- */

enum { OPT_COMPRESS = 1, OPT_IMAGES, OPT_OVERRIDES };

static int handle_opt(int val, const char *arg, void *data)
{
	struct options *o = data;

	char **list = val == OPT_IMAGES ? &o->images : &o->overrides, *old;

	if (val == OPT_COMPRESS) {
		free(o->compress);
		o->compress = xstrdup(arg ? arg : "gzip");
		return 0;
	}
	/* repeated --images/--overrides add up */
	old = *list;
	*list = old ? xasprintf("%s,%s", old, arg) : xstrdup(arg);
	free(old);
	return 0;
}

static int setup(struct ctx *c, struct options *o, poptContext con)
{
	enum tarball_compress dummy;
	char *conf;
	int r;

	if (o->compress && tarball_compress_parse(o->compress, &dummy) < 0)
		opts_usage_error(con, "unknown compression '%s' (gzip, zstd "
				 "or none)", o->compress);
	if (o->level < 0 || o->level > 22)
		opts_usage_error(con, "bad --level %d", o->level);
	if (o->piece_size && torrent_piece_size_parse(o->piece_size,
						      &c->piece_size) < 0)
		opts_usage_error(con, "bad --piece-size '%s' (auto, or a power "
				 "of two from 16K to 16M)", o->piece_size);
	paths_init(&c->paths, o->base, NULL);
	c->update = o->update;
	if (o->keep_versions < 0)
		opts_usage_error(con, "bad --keep-versions %d", o->keep_versions);
	c->keep_versions = o->keep_versions;
	c->level = o->level;
	if (o->web_seed)
		c->web_seed = xstrdup(o->web_seed);
	if (o->images && add_list(c, "image", o->images, "--images") < 0)
		exit(2);
	if (o->overrides && add_list(c, "override", o->overrides,
				     "--overrides") < 0)
		exit(2);
	conf = path_join(c->paths.etc, "bittorrent.conf");
	r = config_load_file(&c->conf, conf, 0, 1);
	free(conf);
	if (r < 0 || setup_compress(c, o) < 0 || setup_piece_size(c, o) < 0 ||
	    setup_announce(c, o) < 0)
		return -1;
	if (!o->images && !o->overrides && setup_jobs(c) < 0)
		return -1;
	if (mkdir_p(c->paths.tarballs, 0700) < 0 ||
	    mkdir_p(c->paths.torrents, 0755) < 0)
		return -1;
	return lock_and_clean(c);
}

int main(int argc, const char **argv)
{
	struct options o = { 0 };
	struct poptOption table[] = {
		OPTS_BASE(o.base),
		{ "images", '\0', POPT_ARG_STRING, NULL, OPT_IMAGES,
		  "the images to pack (comma-separated)", "A,B" },
		{ "overrides", '\0', POPT_ARG_STRING, NULL, OPT_OVERRIDES,
		  "the overrides to pack (comma-separated)", "X,Y" },
		{ "compress", '\0', POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL,
		  NULL, OPT_COMPRESS, "gzip (default, also without METHOD), "
		  "zstd or none", "METHOD" },
		{ "level", '\0', POPT_ARG_INT, &o.level, 0,
		  "compression level (default: the compressor's own)", "N" },
		{ "keep-versions", '\0', POPT_ARG_INT, &o.keep_versions, 0,
		  "keep only the last K versions of each image (default: all)",
		  "K" },
		{ "update", '\0', POPT_ARG_NONE, &o.update, 0,
		  "re-pack even when the tree did not change", NULL },
		{ "tracker", '\0', POPT_ARG_STRING, &o.tracker, 0,
		  "the announce URL (default http://ADDRESS:BT_TRACKER_PORT"
		  "/announce)", "URL" },
		{ "address", '\0', POPT_ARG_STRING, &o.address, 0,
		  "the tracker's IPv4 address (default: BT_INTERFACE's)", "IP" },
		{ "web-seed", '\0', POPT_ARG_STRING, &o.web_seed, 0,
		  "HTTP base URL where the tarballs are served too", "URL" },
		{ "piece-size", '\0', POPT_ARG_STRING, &o.piece_size, 0,
		  "the torrents' piece size (default: auto, from the tarball's "
		  "size)", "SIZE" },
		OPTS_COMMON,
		POPT_TABLEEND
	};
	struct ctx c = { 0 };
	poptContext con;
	int failed = 0;

	log_init(argv[0]);
	/* UTF-8 names go into pax headers as they are; other bytes are
	 * stored raw (hdrcharset=BINARY) by libarchive. */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		setlocale(LC_CTYPE, "");
	con = opts_parse(argc, argv, table, "[OPTION...]", 0, handle_opt, &o);
	config_init(&c.conf);
	if (setup(&c, &o, con) < 0) {
		failed = 1;
		goto out;
	}
	if (!c.njobs)
		notice("nothing to pack: no image under '%s'", c.paths.images);
	for (size_t i = 0; i < c.njobs; i++)
		if (pack_job(&c, &c.jobs[i]) < 0)
			failed = 1;
out:
	if (log_flush_stdout() < 0)
		failed = 1;
	ctx_release(&c);
	options_release(&o);
	poptFreeContext(con);
	return failed;
}
