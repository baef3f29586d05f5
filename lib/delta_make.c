/* delta_make.c - builds a delta package from two image tarballs.
 *
 * One sequential pass over each tarball: the old one gives every path's
 * metadata, SHA-256 and librsync signature (in memory); the new one is
 * compared entry by entry, changed files are delta-encoded against the old
 * signature while they stream by, and the payloads wait in a temporary
 * directory beside the output until the index is known and the package
 * (index first, then payloads in index order) is written. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <librsync.h>
#include <openssl/evp.h>

#include "delta.h"
#include "log.h"
#include "util.h"

/* One tarball entry. */
struct fent {
	char *path;
	char type;		/* f d l h c b p */
	unsigned mode;
	uid_t uid;
	gid_t gid;
	int64_t mtime, size;
	char sha[65];		/* regular files */
	char *target;		/* symlink target, hard-link path, "maj:min" */
	char *xattrs;
	unsigned char *sig;	/* old files: librsync signature */
	size_t siglen;
	int has_op;		/* new entries: an operation names it */
	int replaced;		/* new entries: its inode is replaced */
};

/* Entries of one tarball with a path -> entry hash (open addressing). */
struct ftable {
	struct fent *v;
	size_t n, cap;
	size_t *slot;		/* index + 1, 0 = empty */
	size_t nslot;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static void ft_rehash(struct ftable *t)
{
	free(t->slot);
	t->nslot = t->nslot ? t->nslot * 2 : 1024;
	t->slot = xcalloc(t->nslot, sizeof(*t->slot));
	for (size_t i = 0; i < t->n; i++) {
		size_t h = hash_str(t->v[i].path) & (t->nslot - 1);

		while (t->slot[h])
			h = (h + 1) & (t->nslot - 1);
		t->slot[h] = i + 1;
	}
}

static struct fent *ft_find(const struct ftable *t, const char *path)
{
	if (!t->nslot || !path)
		return NULL;
	for (size_t h = hash_str(path) & (t->nslot - 1); t->slot[h];
	     h = (h + 1) & (t->nslot - 1))
		if (!strcmp(t->v[t->slot[h] - 1].path, path))
			return &t->v[t->slot[h] - 1];
	return NULL;
}

/* Adds f (taking its strings); a later entry for the same path wins. */
static struct fent *ft_add(struct ftable *t, struct fent *f)
{
	struct fent *old = ft_find(t, f->path);

	if (old) {
		free(old->path); free(old->target); free(old->xattrs);
		free(old->sig);
		*old = *f;
		return old;
	}
	if (t->n == t->cap)
		t->v = xrealloc(t->v, (t->cap = t->cap ? t->cap * 2 : 1024) *
					      sizeof(*t->v));
	t->v[t->n++] = *f;
	if (t->n * 2 > t->nslot)
		ft_rehash(t);
	else {
		size_t h = hash_str(f->path) & (t->nslot - 1);

		while (t->slot[h])
			h = (h + 1) & (t->nslot - 1);
		t->slot[h] = t->n;
	}
	return &t->v[t->n - 1];
}

static void ft_release(struct ftable *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].path); free(t->v[i].target);
		free(t->v[i].xattrs); free(t->v[i].sig);
	}
	free(t->v);
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

/* "./a/b/" -> "a/b"; returns NULL for the root itself. */
static char *norm_path(const char *p)
{
	size_t n;

	if (!p)
		return NULL;
	for (;;) {
		if (p[0] == '.' && p[1] == '/')
			p += 2;
		else if (p[0] == '/')
			p++;
		else
			break;
	}
	n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	if (!n || (n == 1 && p[0] == '.'))
		return NULL;
	return strndup(p, n);
}

/* Encodes an entry's xattrs as "name=hex;..." in libarchive's order,
 * sorted.  Returns NULL when there are none. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *encode_xattrs(struct archive_entry *e)
{
	const char *name;
	const void *val;
	size_t size, n = 0, total = 0;
	char **items = NULL, *out;

	if (archive_entry_xattr_reset(e) <= 0)
		return NULL;
	while (archive_entry_xattr_next(e, &name, &val, &size) == ARCHIVE_OK) {
		char *s = xmalloc(strlen(name) + 2 * size + 2), *o;

		o = s + sprintf(s, "%s=", name);
		for (size_t i = 0; i < size; i++)
			o += sprintf(o, "%02x", ((const unsigned char *)val)[i]);
		items = xrealloc(items, (n + 1) * sizeof(*items));
		items[n++] = s;
		total += strlen(s) + 1;
	}
	qsort(items, n, sizeof(*items), cmp_str);
	out = xmalloc(total + 1);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(out, ";");
		strcat(out, items[i]);
		free(items[i]);
	}
	free(items);
	return out;
}

/* Fills f from a header.  Returns 0, 1 to skip (the root), -1 if odd. */
static int entry_to_fent(struct archive_entry *e, struct fent *f)
{
	memset(f, 0, sizeof(*f));
	f->path = norm_path(archive_entry_pathname(e));
	if (!f->path)
		return 1;
	f->mode = archive_entry_perm(e) & 07777;
	f->uid = archive_entry_uid(e);
	f->gid = archive_entry_gid(e);
	f->mtime = archive_entry_mtime(e);
	f->xattrs = encode_xattrs(e);
	if (archive_entry_hardlink(e)) {
		f->type = 'h';
		f->target = norm_path(archive_entry_hardlink(e));
		return f->target ? 0 : -1;
	}
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		f->type = 'f';
		f->size = archive_entry_size(e);
		break;
	case AE_IFDIR:
		f->type = 'd';
		break;
	case AE_IFLNK:
		f->type = 'l';
		f->target = xstrdup(archive_entry_symlink(e) ?
					    archive_entry_symlink(e) : "");
		break;
	case AE_IFCHR:
	case AE_IFBLK:
		f->type = archive_entry_filetype(e) == AE_IFCHR ? 'c' : 'b';
		f->target = xasprintf("%lu:%lu",
				      (unsigned long)archive_entry_rdevmajor(e),
				      (unsigned long)archive_entry_rdevminor(e));
		break;
	case AE_IFIFO:
		f->type = 'p';
		break;
	default:
		return -1;
	}
	return 0;
}

struct sha_ctx {
	EVP_MD_CTX *md;
};

static void sha_init(struct sha_ctx *c)
{
	c->md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c->md, EVP_sha256(), NULL);
}

static void sha_final(struct sha_ctx *c, char hex[65])
{
	unsigned char md[32];
	unsigned len;

	EVP_DigestFinal_ex(c->md, md, &len);
	EVP_MD_CTX_free(c->md);
	c->md = NULL;
	for (unsigned i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
}

struct membuf {
	unsigned char *buf;
	size_t len, cap;
};

static int membuf_sink(void *arg, const void *buf, size_t len)
{
	struct membuf *m = arg;

	if (m->len + len > m->cap)
		m->buf = xrealloc(m->buf, m->cap = (m->len + len) * 2);
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	return 0;
}

/* A payload being written: its file, size and digest. */
struct payload_out {
	int fd;
	const char *path;
	int64_t size;
	struct sha_ctx sha;
};

static int payload_sink(void *arg, const void *buf, size_t len)
{
	struct payload_out *p = arg;

	if (write_all(p->fd, buf, len) < 0)
		return error_errno("cannot write '%s'", p->path);
	EVP_DigestUpdate(p->sha.md, buf, len);
	p->size += len;
	return 0;
}

static struct archive *open_tarball(const char *path)
{
	struct archive *a = archive_read_new();

	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		error("cannot open tarball '%s': %s", path,
		      archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* Reads the next header; returns 1 at the end, 0 with *e, -1 on error.
 * Warnings are reported and otherwise ignored. */
static int next_entry(struct archive *a, const char *path,
		      struct archive_entry **e)
{
	int r = archive_read_next_header(a, e);

	if (r == ARCHIVE_EOF)
		return 1;
	if (r == ARCHIVE_WARN)
		warning("tarball '%s': %s", path, archive_error_string(a));
	else if (r != ARCHIVE_OK)
		return error("cannot read tarball '%s': %s", path,
			     archive_error_string(a));
	return 0;
}

/* Old file: SHA-256 and signature of its data. */
static int scan_old_file(struct archive *a, const char *tarball,
			 struct fent *f)
{
	rs_magic_number magic = RS_BLAKE2_SIG_MAGIC;
	size_t block_len = 0, strong_len = (size_t)-1;
	struct membuf sig = { 0 };
	struct sha_ctx sha;
	char buf[1 << 16];
	la_ssize_t n;
	int ret = 0;

	rs_sig_args(f->size, &magic, &block_len, &strong_len);
	rs_job_t *job = rs_sig_begin(block_len, strong_len, magic);
	sha_init(&sha);
	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
		EVP_DigestUpdate(sha.md, buf, n);
		if (delta_rs_feed(job, buf, n, 0, membuf_sink, &sig) < 0) {
			ret = -1;
			break;
		}
	}
	if (n < 0)
		ret = error("cannot read '%s' in '%s': %s", f->path, tarball,
			    archive_error_string(a));
	if (!ret)
		ret = delta_rs_feed(job, NULL, 0, 1, membuf_sink, &sig);
	rs_job_free(job);
	sha_final(&sha, f->sha);
	f->sig = sig.buf;
	f->siglen = sig.len;
	return ret;
}

static int scan_old(const char *tarball, struct ftable *old,
		    struct delta_stats *st)
{
	struct archive *a = open_tarball(tarball);
	struct archive_entry *e;
	int r, ret = 0;

	if (!a)
		return -1;
	while (!ret && (r = next_entry(a, tarball, &e)) == 0) {
		struct fent f;

		r = entry_to_fent(e, &f);
		if (r) {
			if (r < 0)
				warning("tarball '%s': skipping odd entry '%s'",
					tarball, archive_entry_pathname(e));
			free(f.path); free(f.target); free(f.xattrs);
			continue;
		}
		if (f.type == 'f') {
			ret = scan_old_file(a, tarball, &f);
			st->old_bytes += f.size;
		}
		ft_add(old, &f);
	}
	if (r < 0)
		ret = -1;
	archive_read_free(a);
	return ret;
}

/* The old entry whose content path had: itself, or its hard-link target. */
static const struct fent *old_content(const struct ftable *old,
				      const struct fent *o)
{
	if (o && o->type == 'h')
		o = ft_find(old, o->target);
	return o && o->type == 'f' ? o : NULL;
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int same_meta(const struct fent *a, const struct fent *b)
{
	return a->uid == b->uid && a->gid == b->gid && a->mtime == b->mtime &&
	       (a->type == 'l' || a->mode == b->mode) &&
	       same_str(a->xattrs, b->xattrs);
}

/* The work of building one package. */
struct maker {
	const struct delta_make_opts *o;
	struct delta_stats *st;
	struct ftable old, new;
	struct delta_op *ops;	/* main operations, in new-tarball order */
	size_t nops, cap;
	char *tmpdir;
	char **payload_files;	/* per op: its temporary payload or NULL */
};

static struct delta_op *add_op(struct maker *m, enum delta_kind kind,
			       struct fent *n)
{
	struct delta_op *op;

	if (m->nops == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->ops = xrealloc(m->ops, m->cap * sizeof(*m->ops));
		m->payload_files = xrealloc(m->payload_files,
					    m->cap * sizeof(char *));
	}
	op = &m->ops[m->nops];
	memset(op, 0, sizeof(*op));
	m->payload_files[m->nops++] = NULL;
	op->kind = kind;
	op->type = n->type;
	op->path = xstrdup(n->path);
	op->mode = n->mode;
	op->uid = n->uid;
	op->gid = n->gid;
	op->mtime = n->mtime;
	op->size = n->type == 'f' ? n->size : 0;
	if (n->type == 'f')
		memcpy(op->new_sha, n->sha, 65);
	op->target = n->target ? xstrdup(n->target) : NULL;
	op->xattrs = n->xattrs ? xstrdup(n->xattrs) : NULL;
	n->has_op = 1;
	return op;
}

/* Streams a new regular file: whole copy, digest and (when there is an old
 * version) a librsync delta; then decides what to record. */
static int scan_new_file(struct maker *m, struct archive *a, struct fent *n,
			 const struct fent *o, const struct fent *oc)
{
	char *wpath = xasprintf("%s/p%zu.whole", m->tmpdir, m->nops);
	char *dpath = xasprintf("%s/p%zu.delta", m->tmpdir, m->nops);
	struct payload_out w = { .fd = -1, .path = wpath },
			   d = { .fd = -1, .path = dpath };
	rs_signature_t *sig = NULL;
	rs_job_t *job = NULL;
	char buf[1 << 16];
	la_ssize_t len;
	int ret = 0;

	w.fd = open(wpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w.fd < 0) {
		ret = error_errno("cannot create '%s'", wpath);
		goto out;
	}
	sha_init(&w.sha);
	if (oc && oc->sig) {
		d.fd = open(dpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			    0600);
		if (d.fd < 0) {
			ret = error_errno("cannot create '%s'", dpath);
			goto out;
		}
		sha_init(&d.sha);
		job = rs_loadsig_begin(&sig);
		struct membuf none = { 0 };
		ret = delta_rs_feed(job, oc->sig, oc->siglen, 1, membuf_sink,
				    &none);
		free(none.buf);
		rs_job_free(job);
		job = NULL;
		if (ret || rs_build_hash_table(sig) != RS_DONE) {
			ret = error("cannot load the signature of '%s'", oc->path);
			goto out;
		}
		job = rs_delta_begin(sig);
	}
	while ((len = archive_read_data(a, buf, sizeof(buf))) > 0) {
		if (payload_sink(&w, buf, len) < 0 ||
		    (job && delta_rs_feed(job, buf, len, 0, payload_sink, &d) < 0)) {
			ret = -1;
			goto out;
		}
	}
	if (len < 0) {
		ret = error("cannot read '%s' in '%s': %s", n->path,
			    m->o->new_tarball, archive_error_string(a));
		goto out;
	}
	if (job && delta_rs_feed(job, NULL, 0, 1, payload_sink, &d) < 0) {
		ret = -1;
		goto out;
	}
	sha_final(&w.sha, n->sha);
	n->size = w.size;
	m->st->new_bytes += n->size;
	if (oc && !strcmp(oc->sha, n->sha) && o->type == 'f') {
		if (!same_meta(o, n))
			add_op(m, DELTA_META, n);
		goto out;
	}
	struct delta_op *op;
	struct payload_out *use = &w;
	char **keep = &wpath;
	if (job && oc && strcmp(oc->sha, n->sha) && d.size < w.size) {
		op = add_op(m, DELTA_PATCH, n);
		memcpy(op->old_sha, oc->sha, 65);
		use = &d;
		keep = &dpath;
		m->st->patched++;
	} else {
		op = add_op(m, DELTA_WHOLE, n);
		m->st->whole++;
	}
	n->replaced = 1;
	if (use == &d)
		sha_final(&d.sha, op->payload_sha);
	else
		memcpy(op->payload_sha, n->sha, 65);
	op->payload_size = use->size;
	m->payload_files[m->nops - 1] = *keep;
	*keep = NULL;
out:
	if (job)
		rs_job_free(job);
	if (sig)
		rs_free_sumset(sig);
	if (w.sha.md)
		EVP_MD_CTX_free(w.sha.md);
	if (d.sha.md)
		EVP_MD_CTX_free(d.sha.md);
	if (w.fd >= 0)
		close(w.fd);
	if (d.fd >= 0)
		close(d.fd);
	if (wpath)
		unlink(wpath);
	if (dpath)
		unlink(dpath);
	free(wpath);
	free(dpath);
	return ret;
}

/* Compares one new entry (not a regular file) with the old one. */
static void compare_entry(struct maker *m, struct fent *n, const struct fent *o)
{
	switch (n->type) {
	case 'd':
		if (!o || o->type != 'd')
			add_op(m, DELTA_MKDIR, n);
		else if (!same_meta(o, n))
			add_op(m, DELTA_META, n);
		break;
	case 'l':
		if (!o || o->type != 'l' || strcmp(o->target, n->target))
			add_op(m, DELTA_SYMLINK, n);
		else if (!same_meta(o, n))
			add_op(m, DELTA_META, n);
		break;
	case 'h': {
		const struct fent *t = ft_find(&m->new, n->target);

		if (!o || o->type != 'h' || strcmp(o->target, n->target) ||
		    !t || t->replaced || t->type != 'f')
			add_op(m, DELTA_HARDLINK, n);
		break;
	}
	default:	/* c b p */
		if (!o || o->type != n->type || !same_str(o->target, n->target))
			add_op(m, DELTA_NODE, n);
		else if (!same_meta(o, n))
			add_op(m, DELTA_META, n);
	}
}

static int scan_new(struct maker *m)
{
	const char *tarball = m->o->new_tarball;
	struct archive *a = open_tarball(tarball);
	struct archive_entry *e;
	int r, ret = 0;

	if (!a)
		return -1;
	while (!ret && (r = next_entry(a, tarball, &e)) == 0) {
		struct fent f, *n;

		r = entry_to_fent(e, &f);
		if (r) {
			if (r < 0)
				warning("tarball '%s': skipping odd entry '%s'",
					tarball, archive_entry_pathname(e));
			free(f.path); free(f.target); free(f.xattrs);
			continue;
		}
		n = ft_add(&m->new, &f);
		const struct fent *o = ft_find(&m->old, n->path);
		if (n->type == 'f')
			ret = scan_new_file(m, a, n, o, old_content(&m->old, o));
		else
			compare_entry(m, n, o);
	}
	if (r < 0)
		ret = -1;
	archive_read_free(a);
	return ret;
}

static char *parent_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? strndup(path, s - path) : NULL;
}

static int cmp_desc(const void *a, const void *b)
{
	return -strcmp(*(char *const *)a, *(char *const *)b);
}

/* Paths only in the old tarball, topmost only, deepest first. */
static char **removals(struct maker *m, size_t *count)
{
	char **rm = NULL;
	size_t n = 0;

	for (size_t i = 0; i < m->old.n; i++) {
		const char *p = m->old.v[i].path;
		char *parent;

		if (ft_find(&m->new, p))
			continue;
		parent = parent_of(p);
		int under_removed = parent && ft_find(&m->old, parent) &&
				    !ft_find(&m->new, parent);
		free(parent);
		if (under_removed)
			continue;
		rm = xrealloc(rm, (n + 1) * sizeof(*rm));
		rm[n++] = xstrdup(p);
	}
	if (n)
		qsort(rm, n, sizeof(*rm), cmp_desc);
	*count = n;
	return rm;
}

/* Every directory whose entries change gets its metadata (times) restored
 * at the end of the apply: one meta op per such parent. */
static void parent_metas(struct maker *m, char **rm, size_t nrm)
{
	size_t nmain = m->nops;

	for (size_t i = 0; i < nmain + nrm; i++) {
		char *parent = parent_of(i < nmain ? m->ops[i].path :
						     rm[i - nmain]);
		struct fent *d = ft_find(&m->new, parent);

		if (d && d->type == 'd' && !d->has_op)
			add_op(m, DELTA_META, d);
		free(parent);
	}
}

static int write_member(struct archive *a, const char *name, int64_t size,
			const char *out)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, size);
	archive_entry_set_mtime(e, 0, 0);
	r = archive_write_header(a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return error("cannot write '%s': %s", out,
			     archive_error_string(a));
	return 0;
}

static int copy_payload(struct archive *a, const char *name, const char *src,
			int64_t size, const char *out)
{
	char buf[1 << 16];
	ssize_t n;
	int fd, ret = 0;

	if (write_member(a, name, size, out) < 0)
		return -1;
	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno("cannot open '%s'", src);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (archive_write_data(a, buf, n) != n) {
			ret = error("cannot write '%s': %s", out,
				    archive_error_string(a));
			break;
		}
	if (n < 0)
		ret = error_errno("cannot read '%s'", src);
	close(fd);
	return ret;
}

/* Writes index + payloads to the output atomically. */
static int write_package(struct maker *m, struct delta_index *idx,
			 char **files)
{
	struct atomic_file af;
	struct archive *a;
	size_t len;
	char *text;
	int ret = 0;

	if (atomic_open(&af, m->o->out, 0644) < 0)
		return -1;
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (m->o->zstd && archive_write_add_filter_zstd(a) != ARCHIVE_OK)
		ret = error("cannot compress with zstd: %s",
			    archive_error_string(a));
	if (!ret && archive_write_open_fd(a, af.fd) != ARCHIVE_OK)
		ret = error("cannot write '%s': %s", m->o->out,
			    archive_error_string(a));
	text = delta_index_format(idx, &len);
	if (!ret && !(ret = write_member(a, DELTA_INDEX_NAME, len, m->o->out)) &&
	    archive_write_data(a, text, len) != (la_ssize_t)len)
		ret = error("cannot write '%s': %s", m->o->out,
			    archive_error_string(a));
	free(text);
	for (size_t i = 0; !ret && i < idx->n; i++)
		if (idx->ops[i].payload)
			ret = copy_payload(a, idx->ops[i].payload, files[i],
					   idx->ops[i].payload_size, m->o->out);
	if (!ret && archive_write_close(a) != ARCHIVE_OK)
		ret = error("cannot write '%s': %s", m->o->out,
			    archive_error_string(a));
	archive_write_free(a);
	if (ret) {
		atomic_abort(&af);
		return -1;
	}
	return atomic_commit(&af);
}

/* Final order: removals (deepest first), then the new tarball's order. */
static int assemble(struct maker *m)
{
	struct delta_index idx = { 0 };
	size_t nrm, k = 0;
	char **rm = removals(m, &nrm);
	int ret;

	parent_metas(m, rm, nrm);
	idx.n = nrm + m->nops;
	idx.ops = xcalloc(idx.n, sizeof(*idx.ops));
	char **files = xcalloc(idx.n, sizeof(*files));
	for (size_t i = 0; i < nrm; i++, k++) {
		idx.ops[k].kind = DELTA_REMOVE;
		idx.ops[k].type = '-';
		idx.ops[k].path = rm[i];
	}
	free(rm);
	for (size_t i = 0; i < m->nops; i++, k++) {
		idx.ops[k] = m->ops[i];
		files[k] = m->payload_files[i];
		if (files[k]) {
			idx.ops[k].payload = xasprintf("data/%06zu", k);
			m->st->payload_bytes += idx.ops[k].payload_size;
		}
	}
	m->nops = 0;
	m->st->removed = nrm;
	m->st->ops = idx.n;
	idx.image = m->o->image ? xstrdup(m->o->image) : NULL;
	idx.from = m->o->from ? xstrdup(m->o->from) : NULL;
	idx.to = m->o->to ? xstrdup(m->o->to) : NULL;
	ret = write_package(m, &idx, files);
	for (size_t i = 0; i < idx.n; i++) {
		enum delta_kind kd = idx.ops[i].kind;

		m->st->dirs += kd == DELTA_MKDIR;
		m->st->meta += kd == DELTA_META;
		m->st->links += kd == DELTA_SYMLINK || kd == DELTA_HARDLINK;
		m->st->nodes += kd == DELTA_NODE;
		if (files[i])
			unlink(files[i]);
		free(files[i]);
	}
	free(files);
	delta_index_release(&idx);
	return ret;
}

static char *make_tmpdir(const char *out)
{
	char *slash = strrchr(out, '/');
	char *dir = slash ? strndup(out, slash - out + 1) : xstrdup("");
	char *tmpl = xasprintf("%s.si-mkdelta.XXXXXX", dir);

	free(dir);
	if (!mkdtemp(tmpl)) {
		error_errno("cannot create a temporary directory beside '%s'",
			    out);
		free(tmpl);
		return NULL;
	}
	return tmpl;
}

int delta_make(const struct delta_make_opts *o, struct delta_stats *stp)
{
	struct delta_stats dummy;
	struct maker m = { .o = o, .st = stp ? stp : &dummy };
	struct stat sb;
	int ret;

	memset(m.st, 0, sizeof(*m.st));
	m.tmpdir = make_tmpdir(o->out);
	if (!m.tmpdir)
		return -1;
	ret = scan_old(o->old_tarball, &m.old, m.st);
	if (!ret)
		ret = scan_new(&m);
	if (!ret)
		ret = assemble(&m);
	if (!ret && stat(o->out, &sb) == 0)
		m.st->package_bytes = sb.st_size;
	for (size_t i = 0; i < m.nops; i++) {
		free(m.ops[i].path); free(m.ops[i].target);
		free(m.ops[i].xattrs); free(m.ops[i].payload);
		if (m.payload_files[i])
			unlink(m.payload_files[i]);
		free(m.payload_files[i]);
	}
	free(m.ops);
	free(m.payload_files);
	remove_tree(m.tmpdir);
	free(m.tmpdir);
	ft_release(&m.old);
	ft_release(&m.new);
	return ret;
}
