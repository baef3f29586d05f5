/* delta_apply.c - applies a delta package to a tree, restartably.
 *
 * Every change lands by rename from a temporary name beside its target
 * (".si-delta.BASENAME", the same on every run), with owner, mode, xattrs
 * and times already set, and every result is checked against the index's
 * digest before the rename.  An interrupted run leaves each path either
 * old or new, and a re-run skips what is already new.  Directories get
 * their metadata last, deepest first. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <librsync.h>
#include <openssl/evp.h>

#include "delta.h"
#include "fetch.h"
#include "log.h"
#include "util.h"

extern char **environ;

struct applier {
	const struct delta_apply_opts *o;
	struct delta_stats *st;
	const char *pkg;
	char *root_real;
	struct archive *a;
	const struct delta_op **dirs;	/* directory metadata, set last */
	size_t ndirs;
	long abort_after, done;
};

/* A file being written: temp name, digest, size. */
struct outfile {
	int fd;
	const char *path;
	EVP_MD_CTX *md;
	int64_t size;
};

static int out_sink(void *arg, const void *buf, size_t len)
{
	struct outfile *f = arg;

	if (write_all(f->fd, buf, len) < 0)
		return error_errno("cannot write '%s'", f->path);
	EVP_DigestUpdate(f->md, buf, len);
	f->size += len;
	return 0;
}

static void md_hex(EVP_MD_CTX *md, char hex[65])
{
	unsigned char d[32];
	unsigned len;

	EVP_DigestFinal_ex(md, d, &len);
	for (unsigned i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
}

static char *tmp_for(const char *full)
{
	const char *slash = strrchr(full, '/');
	int dlen = (int)(slash - full);

	return xasprintf("%.*s/.si-delta.%.200s", dlen, full, slash + 1);
}

/* Refuses paths whose directory resolves outside the root (a symlink in
 * the tree pointing elsewhere), creating missing parents.  Returns 0/-1. */
static int prepare_parent(struct applier *ap, const char *full, int create)
{
	char *dir = xstrdup(full), *s = strrchr(dir, '/'), *real = NULL;
	int ret = 0;
	size_t rl = strlen(ap->root_real);

	*s = '\0';
	while (!(real = realpath(dir, NULL)) && errno == ENOENT &&
	       (s = strrchr(dir, '/')) && s > dir)
		*s = '\0';
	if (!real)
		ret = error_errno("cannot resolve '%s'", dir);
	else if (strncmp(real, ap->root_real, rl) ||
		 (real[rl] && real[rl] != '/' && strcmp(ap->root_real, "/")))
		ret = error("refusing '%s': its directory leads outside '%s'",
			    full, ap->o->root);
	free(real);
	free(dir);
	if (!ret && create) {
		dir = xstrdup(full);
		*strrchr(dir, '/') = '\0';
		ret = mkdir_p(dir, 0755);
		free(dir);
	}
	return ret;
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Sets exactly the listed xattrs (the system.* namespace is left alone). */
static int set_xattrs(const char *path, const char *list)
{
	char names[65536];
	ssize_t n = llistxattr(path, names, sizeof(names));
	int ret = 0;

	for (ssize_t i = 0; n > 0 && i < n; i += strlen(names + i) + 1) {
		const char *nm = names + i;
		size_t l = strlen(nm);
		const char *hit = list ? strstr(list, nm) : NULL;

		if (!strncmp(nm, "system.", 7))
			continue;
		while (hit && !((hit == list || hit[-1] == ';') && hit[l] == '='))
			hit = strstr(hit + 1, nm);
		if (!hit && lremovexattr(path, nm) < 0)
			ret = error_errno("cannot remove xattr '%s' of '%s'", nm,
					  path);
	}
	for (const char *p = list; p && *p;) {
		const char *eq = strchr(p, '='), *end = strchrnul(p, ';');
		if (!eq || eq > end)
			return error("bad xattr list for '%s'", path);
		char *name = strndup(p, eq - p);
		size_t vlen = (end - eq - 1) / 2;
		unsigned char *val = xmalloc(vlen + 1);
		for (size_t k = 0; k < vlen; k++)
			val[k] = (unsigned char)(hexval(eq[1 + 2 * k]) * 16 +
						 hexval(eq[2 + 2 * k]));
		if (lsetxattr(path, name, val, vlen, 0) < 0)
			ret = error_errno("cannot set xattr '%s' of '%s'", name,
					  path);
		free(name);
		free(val);
		p = *end ? end + 1 : end;
	}
	return ret;
}

/* Owner, mode, xattrs, then times, on path (not following a symlink). */
static int set_meta(const char *path, const struct delta_op *op)
{
	struct timespec ts[2] = { { op->mtime, 0 }, { op->mtime, 0 } };
	int is_link = op->type == 'l';

	if (lchown(path, op->uid, op->gid) < 0)
		return error_errno("cannot set the owner of '%s'", path);
	if (!is_link && chmod(path, op->mode) < 0)
		return error_errno("cannot set the mode of '%s'", path);
	if (!is_link && set_xattrs(path, op->xattrs) < 0)
		return -1;
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno("cannot set the times of '%s'", path);
	return 0;
}

/* Moves tmp over full (a directory in the way is removed first). */
static int rename_into(const char *tmp, const char *full)
{
	struct stat sb;

	if (lstat(full, &sb) == 0 && S_ISDIR(sb.st_mode) && remove_tree(full) < 0)
		return -1;
	if (rename(tmp, full) < 0)
		return error_errno("cannot rename '%s' to '%s'", tmp, full);
	return 0;
}

/* 1 when full is a regular file of the op's size with its new digest. */
static int has_digest(const char *full, int64_t size, const char *sha)
{
	struct stat sb;
	char hex[65];

	if (lstat(full, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (size >= 0 && sb.st_size != size))
		return 0;
	if (sha256_file(full, hex) < 0)
		return 0;
	return !strcmp(hex, sha);
}

/* Brings a drifted file to its new content through the fetch callback. */
static int fetch_whole(struct applier *ap, const struct delta_op *op,
		       const char *full, const char *tmp)
{
	if (!ap->o->fetch)
		return error("'%s' has changed locally (not the delta's base) "
			     "and there is no server to fetch it from", full);
	notice("'%s' has changed locally: fetching it whole", op->path);
	unlink(tmp);
	if (ap->o->fetch(ap->o->fetch_arg, op->path, tmp) < 0) {
		unlink(tmp);
		return -1;
	}
	if (!has_digest(tmp, op->size, op->new_sha)) {
		unlink(tmp);
		return error("the fetched copy of '%s' is not the delta's new "
			     "version (is the server's image at another version?)",
			     op->path);
	}
	if (set_meta(tmp, op) < 0 || rename_into(tmp, full) < 0) {
		unlink(tmp);
		return -1;
	}
	ap->st->fetched++;
	return 0;
}

static rs_result base_copy(void *arg, rs_long_t pos, size_t *len, void **buf)
{
	ssize_t n = pread(*(int *)arg, *buf, *len, pos);

	if (n < 0)
		return RS_IO_ERROR;
	if (n == 0)
		return RS_INPUT_ENDED;
	*len = (size_t)n;
	return RS_DONE;
}

/* Writes the new content into tmp: the payload itself (base_fd < 0) or the
 * payload as a librsync patch of base_fd; verifies it. */
static int write_content(struct applier *ap, const struct delta_op *op,
			 const char *tmp, int base_fd)
{
	struct outfile f = { .path = tmp };
	rs_job_t *job = NULL;
	char buf[1 << 16], hex[65];
	la_ssize_t n;
	int ret = 0;

	unlink(tmp);
	f.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (f.fd < 0)
		return error_errno("cannot create '%s'", tmp);
	f.md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(f.md, EVP_sha256(), NULL);
	if (base_fd >= 0)
		job = rs_patch_begin(base_copy, &base_fd);
	while (!ret && (n = archive_read_data(ap->a, buf, sizeof(buf))) > 0)
		ret = job ? delta_rs_feed(job, buf, n, 0, out_sink, &f) :
			    out_sink(&f, buf, n);
	if (!ret && n < 0)
		ret = error("cannot read delta '%s': %s", ap->pkg,
			    archive_error_string(ap->a));
	if (!ret && job)
		ret = delta_rs_feed(job, NULL, 0, 1, out_sink, &f);
	if (job)
		rs_job_free(job);
	md_hex(f.md, hex);
	EVP_MD_CTX_free(f.md);
	if (close(f.fd) < 0 && !ret)
		ret = error_errno("cannot write '%s'", tmp);
	if (!ret && (f.size != op->size || strcmp(hex, op->new_sha)))
		ret = error("delta '%s' is corrupt: the result for '%s' does "
			    "not match its digest", ap->pkg, op->path);
	if (!ret)
		ret = set_meta(tmp, op);
	if (ret)
		unlink(tmp);
	return ret;
}

static int do_content(struct applier *ap, const struct delta_op *op,
		      const char *full, const char *tmp)
{
	struct stat sb;
	int base_fd, ret;

	if (lstat(full, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    (op->kind == DELTA_PATCH || sb.st_nlink == 1) &&
	    has_digest(full, op->size, op->new_sha)) {
		ap->st->skipped++;
		return set_meta(full, op);
	}
	if (op->kind == DELTA_WHOLE) {
		ret = write_content(ap, op, tmp, -1);
		if (!ret && !(ret = rename_into(tmp, full)))
			ap->st->whole++;
		return ret;
	}
	if (!has_digest(full, -1, op->old_sha))
		return fetch_whole(ap, op, full, tmp);
	base_fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (base_fd < 0)
		return error_errno("cannot open '%s'", full);
	ret = write_content(ap, op, tmp, base_fd);
	close(base_fd);
	if (!ret && !(ret = rename_into(tmp, full)))
		ap->st->patched++;
	return ret;
}

static int same_symlink(const char *full, const char *target)
{
	char buf[PATH_MAX + 1];
	ssize_t n = readlink(full, buf, sizeof(buf) - 1);

	if (n < 0)
		return 0;
	buf[n] = '\0';
	return !strcmp(buf, target);
}

static int do_symlink(struct applier *ap, const struct delta_op *op,
		      const char *full, const char *tmp)
{
	if (same_symlink(full, op->target)) {
		ap->st->skipped++;
		return set_meta(full, op);
	}
	unlink(tmp);
	if (symlink(op->target, tmp) < 0)
		return error_errno("cannot create symlink '%s'", tmp);
	if (set_meta(tmp, op) < 0 || rename_into(tmp, full) < 0) {
		unlink(tmp);
		return -1;
	}
	ap->st->links++;
	return 0;
}

static int do_hardlink(struct applier *ap, const struct delta_op *op,
		       const char *full, const char *tmp)
{
	char *tfull = path_join(ap->o->root, op->target);
	struct stat a, b;
	int ret = 0;

	if (prepare_parent(ap, tfull, 0) < 0 || lstat(tfull, &b) < 0) {
		ret = error_errno("cannot link '%s' to '%s'", full, tfull);
	} else if (lstat(full, &a) == 0 && a.st_dev == b.st_dev &&
		   a.st_ino == b.st_ino) {
		ap->st->skipped++;
	} else {
		unlink(tmp);
		if (link(tfull, tmp) < 0)
			ret = error_errno("cannot link '%s' to '%s'", tmp, tfull);
		else if (rename_into(tmp, full) < 0) {
			unlink(tmp);
			ret = -1;
		} else
			ap->st->links++;
	}
	free(tfull);
	return ret;
}

static mode_t node_type(char t)
{
	return t == 'c' ? S_IFCHR : t == 'b' ? S_IFBLK : S_IFIFO;
}

static int do_node(struct applier *ap, const struct delta_op *op,
		   const char *full, const char *tmp)
{
	unsigned long maj = 0, min = 0;
	struct stat sb;

	if (op->target && sscanf(op->target, "%lu:%lu", &maj, &min) != 2)
		return error("bad device numbers for '%s'", op->path);
	if (lstat(full, &sb) == 0 && (sb.st_mode & S_IFMT) == node_type(op->type) &&
	    (op->type == 'p' || sb.st_rdev == makedev(maj, min))) {
		ap->st->skipped++;
		return set_meta(full, op);
	}
	unlink(tmp);
	if (mknod(tmp, node_type(op->type) | 0600, makedev(maj, min)) < 0)
		return error_errno("cannot create '%s'", tmp);
	if (set_meta(tmp, op) < 0 || rename_into(tmp, full) < 0) {
		unlink(tmp);
		return -1;
	}
	ap->st->nodes++;
	return 0;
}

static int do_mkdir(struct applier *ap, const struct delta_op *op,
		    const char *full)
{
	struct stat sb;

	ap->dirs[ap->ndirs++] = op;
	if (lstat(full, &sb) == 0) {
		if (S_ISDIR(sb.st_mode))
			return 0;
		if (unlink(full) < 0)
			return error_errno("cannot remove '%s'", full);
	}
	if (mkdir(full, 0700) < 0)
		return error_errno("cannot create directory '%s'", full);
	ap->st->dirs++;
	return 0;
}

static int do_meta(struct applier *ap, const struct delta_op *op,
		   const char *full, const char *tmp)
{
	struct stat sb;

	switch (op->type) {
	case 'd':
		ap->dirs[ap->ndirs++] = op;
		return 0;
	case 'f':
		if (!has_digest(full, op->size, op->new_sha))
			return fetch_whole(ap, op, full, tmp);
		break;
	case 'l':
		if (lstat(full, &sb) < 0 || !S_ISLNK(sb.st_mode) ||
		    !same_symlink(full, op->target))
			return do_symlink(ap, op, full, tmp);
		break;
	default:
		if (lstat(full, &sb) < 0 ||
		    (sb.st_mode & S_IFMT) != node_type(op->type))
			return do_node(ap, op, full, tmp);
	}
	ap->st->meta++;
	return set_meta(full, op);
}

/* Removes the tree at full (rel below the root) except excluded entries,
 * like rsync --delete: a directory holding one stays.  Returns 0, 1 when
 * something was kept, -1 on error. */
static int remove_except(struct applier *ap, const char *full, const char *rel)
{
	struct stat sb;
	int kept = 0;

	if (lstat(full, &sb) < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 :
			error_errno("cannot stat '%s'", full);
	if (S_ISDIR(sb.st_mode)) {
		DIR *d = opendir(full);
		struct dirent *de;

		if (!d)
			return error_errno("cannot open directory '%s'", full);
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			char *cf = path_join(full, de->d_name);
			char *cr = path_join(rel, de->d_name);
			int r;

			if (ap->o->exclude &&
			    ap->o->exclude(ap->o->exclude_arg, cr,
					   de->d_type == DT_DIR)) {
				verbose("excluded, kept: %s", cr);
				r = 1;
			} else
				r = remove_except(ap, cf, cr);
			free(cf);
			free(cr);
			if (r < 0) {
				closedir(d);
				return -1;
			}
			kept |= r;
		}
		closedir(d);
		if (kept)
			return 1;
		if (rmdir(full) < 0)
			return error_errno("cannot remove '%s'", full);
		return 0;
	}
	if (unlink(full) < 0)
		return error_errno("cannot remove '%s'", full);
	return 0;
}

static int do_remove(struct applier *ap, const struct delta_op *op,
		     const char *full)
{
	int r;

	if (ap->o->no_delete)
		return 0;
	r = remove_except(ap, full, op->path);
	if (r < 0)
		return -1;
	ap->st->removed++;
	return 0;
}

/* Reads the payload member of op (it must come next). */
static int next_payload(struct applier *ap, const struct delta_op *op)
{
	struct archive_entry *e;
	int r = archive_read_next_header(ap->a, &e);

	if ((r != ARCHIVE_OK && r != ARCHIVE_WARN) ||
	    strcmp(archive_entry_pathname(e), op->payload))
		return error("delta '%s' is corrupt: payload '%s' missing",
			     ap->pkg, op->payload);
	return 0;
}

static int apply_op(struct applier *ap, const struct delta_op *op)
{
	char *full = path_join(ap->o->root, op->path), *tmp = tmp_for(full);
	int ret;

	if (op->payload && next_payload(ap, op) < 0) {
		ret = -1;
		goto out;
	}
	if (ap->o->exclude &&
	    ap->o->exclude(ap->o->exclude_arg, op->path, op->type == 'd')) {
		verbose("excluded: %s", op->path);
		ap->st->excluded++;
		ret = 0;
		goto out;
	}
	if (ap->o->dry_run) {
		if (!(op->kind == DELTA_REMOVE && ap->o->no_delete))
			printf("%s %s\n", delta_kind_name(op->kind), op->path);
		ret = 0;
		goto out;
	}
	ret = prepare_parent(ap, full, op->kind != DELTA_REMOVE);
	if (ret)
		goto out;
	unlink(tmp);	/* left by an interrupted run */
	verbose("%s %s", delta_kind_name(op->kind), op->path);
	switch (op->kind) {
	case DELTA_REMOVE: ret = do_remove(ap, op, full); break;
	case DELTA_MKDIR: ret = do_mkdir(ap, op, full); break;
	case DELTA_WHOLE:
	case DELTA_PATCH: ret = do_content(ap, op, full, tmp); break;
	case DELTA_META: ret = do_meta(ap, op, full, tmp); break;
	case DELTA_SYMLINK: ret = do_symlink(ap, op, full, tmp); break;
	case DELTA_HARDLINK: ret = do_hardlink(ap, op, full, tmp); break;
	case DELTA_NODE: ret = do_node(ap, op, full, tmp); break;
	}
out:
	free(full);
	free(tmp);
	return ret;
}

static int cmp_dir_desc(const void *a, const void *b)
{
	return -strcmp((*(const struct delta_op *const *)a)->path,
		       (*(const struct delta_op *const *)b)->path);
}

static int finish_dirs(struct applier *ap)
{
	int ret = 0;

	qsort(ap->dirs, ap->ndirs, sizeof(*ap->dirs), cmp_dir_desc);
	for (size_t i = 0; i < ap->ndirs; i++) {
		char *full = path_join(ap->o->root, ap->dirs[i]->path);
		struct stat sb;

		if (lstat(full, &sb) < 0 && mkdir_p(full, 0700) < 0)
			ret = -1;
		else if (set_meta(full, ap->dirs[i]) < 0)
			ret = -1;
		free(full);
	}
	return ret;
}

static int apply_all(struct applier *ap, const struct delta_index *idx)
{
	char *buf;
	size_t len;
	int failed = 0;

	ap->a = delta_open_package(ap->pkg, &buf, &len);
	if (!ap->a)
		return -1;
	free(buf);
	ap->dirs = xcalloc(idx->n + 1, sizeof(*ap->dirs));
	for (size_t i = 0; i < idx->n; i++) {
		if (apply_op(ap, &idx->ops[i]) < 0)
			failed = 1;	/* go on: a re-run redoes only the rest */
		ap->st->ops++;
		if (ap->abort_after && ++ap->done >= ap->abort_after)
			raise(SIGKILL);	/* test hook: an interrupted run */
	}
	if (!ap->o->dry_run && finish_dirs(ap) < 0)
		failed = 1;
	free(ap->dirs);
	archive_read_free(ap->a);
	return failed ? -1 : 0;
}

int delta_apply(const char *path, const struct delta_apply_opts *o,
		struct delta_stats *stp, struct delta_index *idx_out)
{
	struct delta_stats dummy;
	struct delta_index idx;
	struct applier ap = { .o = o, .st = stp ? stp : &dummy, .pkg = path };
	const char *hook = getenv("SI_DELTA_ABORT_AFTER");
	long k;
	int ret;

	memset(ap.st, 0, sizeof(*ap.st));
	if (idx_out)
		memset(idx_out, 0, sizeof(*idx_out));
	if (delta_load(path, &idx) < 0)
		return -1;
	ap.root_real = realpath(o->root, NULL);
	if (!ap.root_real) {
		delta_index_release(&idx);
		return error_errno("cannot resolve '%s'", o->root);
	}
	if (hook && parse_long(hook, 1, LONG_MAX, &k) == 0)
		ap.abort_after = k;
	ret = apply_all(&ap, &idx);
	if (!ret && !o->dry_run) {
		int fd = open(ap.root_real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0 || syncfs(fd) < 0)
			ret = error_errno("cannot sync '%s'", o->root);
		if (fd >= 0)
			close(fd);
	}
	free(ap.root_real);
	if (idx_out && !ret)
		*idx_out = idx;
	else
		delta_index_release(&idx);
	return ret;
}

int delta_fetch_rsync(void *arg, const char *path, const char *dest)
{
	char *src = xasprintf("%s/%s", (const char *)arg, path);
	char *argv[] = { "rsync", RSYNC_NODELAY, "-q", "--numeric-ids",
			 "--timeout=60", src, (char *)dest, NULL };
	pid_t pid;
	int status, err;

	err = posix_spawnp(&pid, "rsync", NULL, NULL, argv, environ);
	if (err) {
		errno = err;
		free(src);
		return error_errno("cannot run rsync");
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		error("cannot fetch '%s': rsync failed (%s %d)", src,
		      WIFEXITED(status) ? "exit" : "signal",
		      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		free(src);
		return -1;
	}
	free(src);
	return 0;
}
