/* extract.c - see extract.h */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extract.h"
#include "log.h"
#include "util.h"

struct source {
	extract_read_fn fn;
	void *ctx;
};

static la_ssize_t source_read(struct archive *a, void *data,
			      const void **buf)
{
	struct source *s = data;
	ssize_t n = s->fn(s->ctx, buf);

	if (n < 0) {
		archive_set_error(a, EIO, "reading the tarball failed");
		return -1;
	}
	return n;
}

static int write_flags(void)
{
	int flags = ARCHIVE_EXTRACT_SECURE_NODOTDOT |
		    ARCHIVE_EXTRACT_SECURE_SYMLINKS |
		    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
		    ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
		    ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_XATTR |
		    ARCHIVE_EXTRACT_FFLAGS | ARCHIVE_EXTRACT_SPARSE;

	/* Not ARCHIVE_EXTRACT_UNLINK: with it, libarchive replaces a symlink
	 * in the way of an entry's path instead of refusing the entry. */
	if (geteuid() == 0)
		flags |= ARCHIVE_EXTRACT_OWNER;
	return flags;
}

/* Grades r for the entry: returns 0 to go on, 1 to skip, -1 to stop. */
static int grade(int r, struct archive *a, const char *what,
		 const char *path, struct extract_result *res, int *marked)
{
	if (r >= ARCHIVE_OK)
		return 0;
	if (r == ARCHIVE_WARN) {
		warning("%s: '%s': %s", what, path, archive_error_string(a));
		if (!*marked)
			res->warnings++;
		*marked = 1;
		return 0;
	}
	if (r == ARCHIVE_FATAL) {
		error("%s: '%s': %s", what, path, archive_error_string(a));
		res->fatal = 1;
		return -1;
	}
	error("%s: cannot extract '%s': %s", what, path,
	      archive_error_string(a));
	res->failed++;
	return 1;
}

static int copy_data(struct archive *in, struct archive *out,
		     const char *what, const char *path,
		     struct extract_result *res, int *marked)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	int r, g;

	for (;;) {
		r = archive_read_data_block(in, &buf, &size, &offset);
		if (r == ARCHIVE_EOF)
			return 0;
		if ((g = grade(r, in, what, path, res, marked)) != 0)
			return g;
		if (r < ARCHIVE_OK)
			continue;
		r = (int)archive_write_data_block(out, buf, size, offset);
		if ((g = grade(r, out, what, path, res, marked)) != 0)
			return g;
		res->bytes += size;
	}
}

static int one_entry(struct archive *in, struct archive *out,
		     struct archive_entry *e, const char *what,
		     struct extract_result *res, int *marked)
{
	const char *path = archive_entry_pathname(e);
	int r, g;

	if (!path)
		path = "?";
	r = archive_write_header(out, e);
	if ((g = grade(r, out, what, path, res, marked)) != 0)
		return g;
	g = copy_data(in, out, what, path, res, marked);
	if (g != 0)
		return g;
	r = archive_write_finish_entry(out);
	if ((g = grade(r, out, what, path, res, marked)) != 0)
		return g;
	res->entries++;
	return 0;
}

static int extract_loop(struct archive *in, struct archive *out,
			const char *what, struct extract_result *res)
{
	struct archive_entry *e;
	int r;

	for (;;) {
		int marked = 0, g;

		r = archive_read_next_header(in, &e);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r == ARCHIVE_FATAL || r == ARCHIVE_RETRY) {
			error("%s: %s", what, archive_error_string(in));
			res->fatal = 1;
			return -1;
		}
		if (r == ARCHIVE_WARN) {
			warning("%s: %s", what, archive_error_string(in));
			res->warnings++;
			marked = 1;
		} else if (r == ARCHIVE_FAILED) {
			error("%s: %s", what, archive_error_string(in));
			res->failed++;
			continue;
		}
		g = one_entry(in, out, e, what, res, &marked);
		if (g < 0)
			return -1;
	}
}

int extract_stream(const char *what, extract_read_fn fn, void *ctx,
		   const char *root, struct extract_result *res)
{
	struct source src = { fn, ctx };
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = -1;

	memset(res, 0, sizeof(*res));
	if (!in || !out || cwd < 0) {
		error_errno("cannot start extracting %s", what);
		goto out;
	}
	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	archive_read_support_format_gnutar(in);
	archive_write_disk_set_options(out, write_flags());
	/* No user/group lookup: owners are the numeric ids of the tarball. */
	if (chdir(root) < 0) {
		error_errno("cannot enter the target '%s'", root);
		goto out;
	}
	if (archive_read_open(in, &src, NULL, source_read, NULL) != ARCHIVE_OK) {
		error("%s: %s", what, archive_error_string(in));
		res->fatal = 1;
	} else if (extract_loop(in, out, what, res) == 0) {
		if (archive_write_close(out) != ARCHIVE_OK) {
			error("%s: %s", what, archive_error_string(out));
			res->failed++;
		}
	}
	if (fchdir(cwd) < 0)
		error_errno("cannot return to the working directory");
	ret = res->fatal || res->failed || res->warnings ? -1 : 0;
out:
	if (cwd >= 0)
		close(cwd);
	archive_read_free(in);
	archive_write_free(out);
	return ret;
}
