/* tarball.c - see tarball.h */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "log.h"
#include "manifest.h"
#include "tarball.h"
#include "util.h"

#define BUF_SIZE (1 << 20)

static const struct {
	const char *name;
	enum tarball_compress c;
} compress_names[] = {
	{ "gzip", TARBALL_GZIP }, { "gz", TARBALL_GZIP },
	{ "y", TARBALL_GZIP }, { "yes", TARBALL_GZIP },
	{ "zstd", TARBALL_ZSTD }, { "zst", TARBALL_ZSTD },
	{ "none", TARBALL_NONE }, { "no", TARBALL_NONE },
	{ "n", TARBALL_NONE },
};

int tarball_compress_parse(const char *s, enum tarball_compress *c)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(compress_names); i++) {
		if (!strcasecmp(s, compress_names[i].name)) {
			*c = compress_names[i].c;
			return 0;
		}
	}
	return -1;
}

const char *tarball_compress_name(enum tarball_compress c)
{
	return c == TARBALL_ZSTD ? "zstd" : c == TARBALL_NONE ? "none" : "gzip";
}

const char *tarball_suffix(enum tarball_compress c)
{
	return c == TARBALL_ZSTD ? ".tar.zst" : c == TARBALL_NONE ? ".tar" :
	       ".tar.gz";
}

/* ---- scanning ---- */

static void add_node(struct tarball_tree *t, const char *path,
		     const struct stat *st)
{
	struct tarball_node *n;

	if (t->n == t->alloc) {
		t->alloc = t->alloc ? t->alloc * 2 : 1024;
		t->v = xrealloc(t->v, t->alloc * sizeof(*t->v));
	}
	n = &t->v[t->n++];
	n->path = xstrdup(path);
	n->mode = st->st_mode;
	n->uid = st->st_uid;
	n->gid = st->st_gid;
	n->size = S_ISREG(st->st_mode) || S_ISLNK(st->st_mode) ? st->st_size : 0;
	n->ino = st->st_ino;
	n->rdev = st->st_rdev;
	n->mtime_ns = st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
	n->ctime_ns = st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
}

struct scan {
	struct tarball_tree *t;
	dev_t dev;
};

static int scan_dir(struct scan *s, int dfd, const char *rel);

/* Looks at one directory entry; recurses into directories. */
static int scan_entry(struct scan *s, int dfd, const char *rel,
		      const char *name)
{
	char *path = *rel ? xasprintf("%s/%s", rel, name) : xstrdup(name);
	struct stat st;
	int fd, ret = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			goto out;	/* vanished: not in the tree any more */
		ret = error_errno("cannot stat '%s/%s'", s->t->root, path);
		goto out;
	}
	if (S_ISSOCK(st.st_mode)) {
		warning("skipping socket '%s/%s'", s->t->root, path);
		s->t->skipped++;
		goto out;
	}
	if (st.st_dev != s->dev && !S_ISDIR(st.st_mode)) {
		verbose("skipping '%s/%s': on another file system",
			s->t->root, path);
		s->t->skipped++;
		goto out;
	}
	add_node(s->t, path, &st);
	if (!S_ISDIR(st.st_mode))
		goto out;
	if (st.st_dev != s->dev) {
		verbose("not crossing the mount point '%s/%s'", s->t->root, path);
		s->t->skipped++;
		goto out;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		ret = error_errno("cannot open directory '%s/%s'", s->t->root,
				  path);
	else
		ret = scan_dir(s, fd, path);
out:
	free(path);
	return ret;
}

/* Scans the directory open as dfd (closed here) whose path is rel. */
static int scan_dir(struct scan *s, int dfd, const char *rel)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int ret = 0;

	if (!d) {
		close(dfd);
		return error_errno("cannot read directory '%s/%s'", s->t->root,
				   rel);
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((ret = scan_entry(s, dirfd(d), rel, de->d_name)) < 0)
			break;
	}
	if (!de && errno)
		ret = error_errno("cannot read directory '%s/%s'", s->t->root,
				  rel);
	closedir(d);
	return ret;
}

/* The root first, then bytewise order (a directory always comes before
 * what it holds, since its path is a prefix of theirs). */
static int cmp_node(const void *a, const void *b)
{
	const struct tarball_node *x = a, *y = b;

	if (!strcmp(x->path, "."))
		return -1;
	if (!strcmp(y->path, "."))
		return 1;
	return strcmp(x->path, y->path);
}

static void compute_stamp(struct tarball_tree *t)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char out[32];
	unsigned len;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (size_t i = 0; i < t->n; i++) {
		const struct tarball_node *n = &t->v[i];
		char buf[256];
		int l;

		EVP_DigestUpdate(md, n->path, strlen(n->path) + 1);
		l = snprintf(buf, sizeof(buf),
			     "%o %" PRIu32 " %" PRIu32 " %" PRIu64 " %" PRId64
			     " %" PRId64 " %" PRIu64 " %" PRIu64 "\n",
			     (unsigned)n->mode, n->uid, n->gid, n->size,
			     n->mtime_ns, n->ctime_ns, n->ino, n->rdev);
		EVP_DigestUpdate(md, buf, l);
	}
	EVP_DigestFinal_ex(md, out, &len);
	EVP_MD_CTX_free(md);
	for (unsigned i = 0; i < 32; i++)
		sprintf(t->stamp + 2 * i, "%02x", out[i]);
}

int tarball_scan(struct tarball_tree *t, const char *root, unsigned flags)
{
	struct scan s = { .t = t };
	struct stat st;
	int fd;

	memset(t, 0, sizeof(*t));
	t->root = xstrdup(root);
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		error_errno("cannot open directory '%s'", root);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	s.dev = st.st_dev;
	if (!(flags & TARBALL_NO_ROOT))
		add_node(t, ".", &st);
	if (scan_dir(&s, fd, "") < 0)
		return -1;
	qsort(t->v, t->n, sizeof(*t->v), cmp_node);
	compute_stamp(t);
	return 0;
}

void tarball_tree_release(struct tarball_tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].path);
	free(t->v);
	free(t->root);
	memset(t, 0, sizeof(*t));
}

/* ---- hard links: (dev, ino) -> first path, open addressing ---- */

struct link_slot {
	dev_t dev;
	ino_t ino;
	const char *path;
};

struct links {
	struct link_slot *v;
	size_t cap, n;
};

static size_t link_hash(dev_t dev, ino_t ino, size_t cap)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev;

	return (h ^ (h >> 29)) & (cap - 1);
}

/* Returns the first path seen for (dev, ino), or records path and
 * returns NULL. */
static const char *links_check(struct links *l, dev_t dev, ino_t ino,
			       const char *path)
{
	size_t i;

	if (2 * (l->n + 1) > l->cap) {
		struct links bigger = { .cap = l->cap ? l->cap * 2 : 64 };

		bigger.v = xcalloc(bigger.cap, sizeof(*bigger.v));
		for (size_t j = 0; j < l->cap; j++) {
			if (!l->v[j].path)
				continue;
			i = link_hash(l->v[j].dev, l->v[j].ino, bigger.cap);
			while (bigger.v[i].path)
				i = (i + 1) & (bigger.cap - 1);
			bigger.v[i] = l->v[j];
		}
		bigger.n = l->n;
		free(l->v);
		*l = bigger;
	}
	for (i = link_hash(dev, ino, l->cap); l->v[i].path;
	     i = (i + 1) & (l->cap - 1))
		if (l->v[i].dev == dev && l->v[i].ino == ino)
			return l->v[i].path;
	l->v[i].dev = dev;
	l->v[i].ino = ino;
	l->v[i].path = path;
	l->n++;
	return NULL;
}

/* ---- packing ---- */

struct packer {
	const struct tarball_tree *t;
	const struct tarball_options *o;
	struct tarball_result *r;
	struct manifest *m;
	struct archive *a, *disk;
	struct links links;
	int fd, write_errno;
	char *buf;
	EVP_MD_CTX *md;
	double start, last_progress, interval;
};

static la_ssize_t write_cb(struct archive *a, void *data, const void *buf,
			   size_t len)
{
	struct packer *p = data;

	if (write_all(p->fd, buf, len) < 0) {
		p->write_errno = errno;
		archive_set_error(a, errno, "%s", strerror(errno));
		return -1;
	}
	p->r->bytes_out += len;
	return len;
}

static int archive_fail(struct packer *p, const char *what)
{
	if (p->write_errno) {
		errno = p->write_errno;
		return error_errno("cannot write '%s'", p->o->name);
	}
	return error("cannot %s '%s': %s", what, p->o->name,
		     archive_error_string(p->a));
}

static void progress(struct packer *p)
{
	double now = now_monotonic();
	struct tarball_progress pr;

	if (!p->o->progress || now - p->last_progress < p->interval)
		return;
	p->last_progress = now;
	pr.bytes_in = p->r->bytes_in;
	pr.bytes_out = p->r->bytes_out;
	pr.entries = p->r->entries;
	pr.elapsed = now - p->start;
	p->o->progress(&pr, p->o->progress_data);
}

/* Hashes and archives len bytes of buf. */
static int emit(struct packer *p, const char *buf, size_t len)
{
	EVP_DigestUpdate(p->md, buf, len);
	while (len) {
		la_ssize_t n = archive_write_data(p->a, buf, len);

		if (n <= 0)
			return archive_fail(p, "write");
		buf += n;
		len -= n;
	}
	progress(p);
	return 0;
}

static int emit_zeros(struct packer *p, int64_t len)
{
	static const char zeros[1 << 16];

	while (len > 0) {
		size_t n = len > (int64_t)sizeof(zeros) ? sizeof(zeros) : (size_t)len;

		if (emit(p, zeros, n) < 0)
			return -1;
		len -= n;
	}
	return 0;
}

/* Copies the file's data (size bytes, holes as the entry's sparse map
 * says) into the archive, hashing it into hex. */
static int copy_data(struct packer *p, int fd, struct archive_entry *e,
		     const char *path, int64_t size, char hex[65])
{
	int nsparse = archive_entry_sparse_reset(e);
	int64_t pos = 0, off, len;
	unsigned char md[32];
	unsigned mdlen;

	EVP_DigestInit_ex(p->md, EVP_sha256(), NULL);
	while (pos < size) {
		if (nsparse <= 0) {
			off = pos;
			len = size - pos;
		} else if (archive_entry_sparse_next(e, &off, &len) != ARCHIVE_OK) {
			off = size;
			len = 0;
		}
		if (off > size)
			off = size;
		if (off > pos && emit_zeros(p, off - pos) < 0)
			return -1;
		pos = off > pos ? off : pos;
		while (pos < off + len && pos < size) {
			int64_t want = off + len - pos;
			ssize_t n;

			if (want > size - pos)
				want = size - pos;
			if (want > BUF_SIZE)
				want = BUF_SIZE;
			n = pread(fd, p->buf, want, pos);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return error_errno("cannot read '%s'", path);
			if (n == 0) {
				warning("'%s' shrank while being packed", path);
				p->r->warnings++;
				if (emit_zeros(p, size - pos) < 0)
					return -1;
				pos = size;
				break;
			}
			if (emit(p, p->buf, n) < 0)
				return -1;
			pos += n;
			p->r->bytes_in += n;
		}
	}
	EVP_DigestFinal_ex(p->md, md, &mdlen);
	for (unsigned i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	return 0;
}

static char manifest_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return 'f';
	case S_IFDIR: return 'd';
	case S_IFLNK: return 'l';
	case S_IFCHR: return 'c';
	case S_IFBLK: return 'b';
	case S_IFIFO: return 'p';
	}
	return '?';
}

static void add_manifest(struct packer *p, const char *path,
			 const struct stat *st, struct archive_entry *e,
			 const char *hardlink, const char *hex)
{
	struct manifest_entry *me;

	if (!p->m)
		return;
	me = manifest_add(p->m, path, hardlink ? 'h' : manifest_type(st->st_mode));
	me->mode = st->st_mode & 07777;
	me->uid = st->st_uid;
	me->gid = st->st_gid;
	me->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
	me->mtime = st->st_mtim.tv_sec;
	if (hardlink) {
		manifest_set_target(me, hardlink);
	} else if (S_ISREG(st->st_mode)) {
		strcpy(me->sha256, hex);
	} else if (S_ISLNK(st->st_mode)) {
		manifest_set_target(me, archive_entry_symlink(e));
	} else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		char dev[64];

		snprintf(dev, sizeof(dev), "%u:%u", major(st->st_rdev),
			 minor(st->st_rdev));
		manifest_set_target(me, dev);
	}
}

/* Opens a regular file for reading without updating its atime. */
static int open_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);

	if (fd < 0 && errno == EPERM)
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

/* Fills e from the file (metadata, xattrs, ACLs, sparse map). */
static int read_metadata(struct packer *p, struct archive_entry *e,
			 const char *full, int fd, const struct stat *st)
{
	int r = archive_read_disk_entry_from_file(p->disk, e, fd, st);

	if (r < ARCHIVE_WARN)
		return error("cannot read the attributes of '%s': %s", full,
			     archive_error_string(p->disk));
	if (r == ARCHIVE_WARN) {
		warning("%s: %s", full, archive_error_string(p->disk));
		p->r->warnings++;
	}
	/* Only what extraction restores, so that a tree gives the same
	 * bytes each time (reading a file changes its atime). */
	archive_entry_unset_atime(e);
	archive_entry_unset_ctime(e);
	archive_entry_unset_birthtime(e);
	archive_entry_set_uname(e, NULL);
	archive_entry_set_gname(e, NULL);
	return 0;
}

/* Packs one scanned node.  Returns 0 or -1. */
static int pack_node(struct packer *p, const struct tarball_node *n)
{
	char *full = strcmp(n->path, ".") ? path_join(p->t->root, n->path) :
		     xstrdup(p->t->root);
	struct archive_entry *e = NULL;
	const char *hardlink = NULL;
	char hex[65] = "-";
	struct stat st;
	int fd = -1, ret = -1;

	if (lstat(full, &st) < 0) {
		if (errno != ENOENT) {
			error_errno("cannot stat '%s'", full);
			goto out;
		}
		warning("'%s' vanished while being packed", full);
		p->r->warnings++;
		ret = 0;
		goto out;
	}
	if ((st.st_mode & S_IFMT) != (n->mode & S_IFMT)) {
		warning("'%s' changed type while being packed", full);
		p->r->warnings++;
		if (S_ISSOCK(st.st_mode)) {
			ret = 0;
			goto out;
		}
	}
	if (S_ISREG(st.st_mode)) {
		fd = open_file(full);
		if (fd < 0 || fstat(fd, &st) < 0) {
			error_errno("cannot open '%s'", full);
			goto out;
		}
	}
	e = archive_entry_new2(p->a);
	archive_entry_copy_pathname(e, n->path);
	archive_entry_copy_sourcepath(e, full);
	if (read_metadata(p, e, full, fd, &st) < 0)
		goto out;
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
		hardlink = links_check(&p->links, st.st_dev, st.st_ino, n->path);
	if (hardlink) {
		archive_entry_set_hardlink(e, hardlink);
		archive_entry_set_size(e, 0);
		archive_entry_sparse_clear(e);
	}
	if (archive_write_header(p->a, e) < ARCHIVE_WARN) {
		archive_fail(p, "write");
		goto out;
	}
	if (S_ISREG(st.st_mode) && !hardlink &&
	    copy_data(p, fd, e, full, st.st_size, hex) < 0)
		goto out;
	if (archive_write_finish_entry(p->a) < ARCHIVE_WARN) {
		archive_fail(p, "write");
		goto out;
	}
	p->r->entries++;
	add_manifest(p, n->path, &st, e, hardlink, hex);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	archive_entry_free(e);
	free(full);
	return ret;
}

static int set_filter(struct packer *p)
{
	struct archive *a = p->a;
	const char *mod = NULL;
	char level[16];
	int r = ARCHIVE_OK;

	switch (p->o->compress) {
	case TARBALL_GZIP:
		r = archive_write_add_filter_gzip(a);
		mod = "gzip";
		/* no timestamp: the same tree gives the same bytes */
		if (r == ARCHIVE_OK)
			r = archive_write_set_filter_option(a, mod, "timestamp",
							    NULL);
		break;
	case TARBALL_ZSTD:
		r = archive_write_add_filter_zstd(a);
		mod = "zstd";
		break;
	case TARBALL_NONE:
		break;
	}
	if (r == ARCHIVE_OK && mod && p->o->level) {
		snprintf(level, sizeof(level), "%d", p->o->level);
		r = archive_write_set_filter_option(a, mod, "compression-level",
						    level);
	}
	if (r != ARCHIVE_OK)
		return error("cannot set up %s compression: %s",
			     tarball_compress_name(p->o->compress),
			     archive_error_string(a));
	return 0;
}

static int open_archive(struct packer *p)
{
	p->a = archive_write_new();
	p->disk = archive_read_disk_new();
	if (!p->a || !p->disk)
		return error("cannot set up libarchive: out of memory");
	if (archive_write_set_format_pax_restricted(p->a) != ARCHIVE_OK ||
	    archive_write_set_format_option(p->a, "pax", "xattrheader",
					    "SCHILY") != ARCHIVE_OK)
		return error("cannot set up the pax format: %s",
			     archive_error_string(p->a));
	if (set_filter(p) < 0)
		return -1;
	archive_write_set_bytes_per_block(p->a, 64 * 1024);
	archive_write_set_bytes_in_last_block(p->a, 1);
	if (archive_write_open(p->a, p, NULL, write_cb, NULL) != ARCHIVE_OK)
		return archive_fail(p, "create");
	return 0;
}

int tarball_write(const struct tarball_tree *t, int fd,
		  const struct tarball_options *o, struct manifest *m,
		  struct tarball_result *r)
{
	struct packer p = {
		.t = t, .o = o, .r = r, .m = m, .fd = fd,
		.interval = o->progress_interval > 0 ? o->progress_interval : 3,
	};
	int ret = -1;

	memset(r, 0, sizeof(*r));
	p.start = p.last_progress = now_monotonic();
	p.buf = xmalloc(BUF_SIZE);
	p.md = EVP_MD_CTX_new();
	if (open_archive(&p) < 0)
		goto out;
	for (size_t i = 0; i < t->n; i++)
		if (pack_node(&p, &t->v[i]) < 0)
			goto out;
	if (archive_write_close(p.a) != ARCHIVE_OK) {
		archive_fail(&p, "finish");
		goto out;
	}
	if (m)
		manifest_sort(m);
	ret = 0;
out:
	if (p.a)
		archive_write_free(p.a);
	if (p.disk)
		archive_read_free(p.disk);
	EVP_MD_CTX_free(p.md);
	free(p.links.v);
	free(p.buf);
	return ret;
}
