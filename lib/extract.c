/* extract.c - see extract.h */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extract.h"
#include "log.h"
#include "util.h"

/* The decompressed stream, handed from the thread that reads and
 * decompresses the tarball (the caller's) to the thread that writes the
 * entries, in buffers of PIPE_BUF_SIZE: like `zstd -dc | tar -x`, the two
 * halves run on two cores.  At most PIPE_BUFS buffers exist, so memory
 * stays flat whatever the image's size. */
#define PIPE_BUF_SIZE (1 << 20)
#define PIPE_BUFS 8

struct pipe_buf {
	struct pipe_buf *next;
	size_t len;
	char data[PIPE_BUF_SIZE];
};

struct pipe {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pipe_buf *head, *tail;	/* full buffers, oldest first */
	struct pipe_buf *free;		/* empty ones */
	struct pipe_buf *reading;	/* the writer's current buffer */
	int allocated;
	int eof;			/* the reader is done */
	int failed;			/* the reader failed */
	int stopped;			/* the writer stopped */
};

static void pipe_init(struct pipe *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
}

static void free_list(struct pipe_buf *b)
{
	while (b) {
		struct pipe_buf *next = b->next;

		free(b);
		b = next;
	}
}

static void pipe_release(struct pipe *p)
{
	free_list(p->head);
	free_list(p->free);
	free(p->reading);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

/* An empty buffer for the reader, waiting while PIPE_BUFS are full; NULL
 * once the writer stopped. */
static struct pipe_buf *pipe_get(struct pipe *p)
{
	struct pipe_buf *b = NULL;

	pthread_mutex_lock(&p->lock);
	while (!p->stopped && !p->free && p->allocated >= PIPE_BUFS)
		pthread_cond_wait(&p->cond, &p->lock);
	if (!p->stopped) {
		if (p->free) {
			b = p->free;
			p->free = b->next;
		} else {
			p->allocated++;
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (b || p->stopped)
		return b;
	return xmalloc(sizeof(*b));
}

/* Hands b (len bytes) to the writer. */
static void pipe_put(struct pipe *p, struct pipe_buf *b)
{
	pthread_mutex_lock(&p->lock);
	b->next = NULL;
	if (p->tail)
		p->tail->next = b;
	else
		p->head = b;
	p->tail = b;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* The reader's end: failed = 1 when the stream is incomplete. */
static void pipe_close(struct pipe *p, int failed)
{
	pthread_mutex_lock(&p->lock);
	p->eof = 1;
	p->failed = failed;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* The writer's end: wakes a reader waiting for a buffer. */
static void pipe_stop(struct pipe *p)
{
	pthread_mutex_lock(&p->lock);
	p->stopped = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* libarchive's read callback on the writer's side: the next full buffer
 * (the one before goes back to the free list). */
static la_ssize_t pipe_read(struct archive *a, void *data, const void **buf)
{
	struct pipe *p = data;
	struct pipe_buf *b;

	pthread_mutex_lock(&p->lock);
	if (p->reading) {
		p->reading->next = p->free;
		p->free = p->reading;
		p->reading = NULL;
		pthread_cond_broadcast(&p->cond);
	}
	while (!p->head && !p->eof)
		pthread_cond_wait(&p->cond, &p->lock);
	b = p->head;
	if (b) {
		p->head = b->next;
		if (!p->head)
			p->tail = NULL;
		p->reading = b;
	}
	pthread_mutex_unlock(&p->lock);
	if (b) {
		*buf = b->data;
		return (la_ssize_t)b->len;
	}
	if (p->failed) {
		archive_set_error(a, EIO, "reading the tarball failed");
		return -1;
	}
	return 0;
}

/* The caller's read function as a libarchive read callback. */
struct source {
	extract_read_fn fn;
	void *ctx;
	int failed;	/* fn failed (and said why) */
};

static la_ssize_t source_read(struct archive *a, void *data,
			      const void **buf)
{
	struct source *s = data;
	ssize_t n = s->fn(s->ctx, buf);

	if (n < 0) {
		s->failed = 1;
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

/* Whether the error a holds says the target itself cannot take more (full,
 * over quota, read-only, failing): every later entry would fail the same
 * way, so the install stops at the first. */
static int target_broken(struct archive *a)
{
	int e = archive_errno(a);

	return e == ENOSPC || e == EDQUOT || e == EROFS || e == EIO ||
	       e == EFBIG;
}

/* Grades r for the entry: returns 0 to go on, 1 to skip, -1 to stop. */
static int grade(int r, struct archive *a, const char *what,
		 const char *path, struct extract_result *res, int *marked)
{
	if (r >= ARCHIVE_OK)
		return 0;
	if (r < ARCHIVE_OK && a && target_broken(a)) {
		error("%s: cannot write '%s': %s", what, path,
		      strerror(archive_errno(a)));
		res->fatal = 1;
		return -1;
	}
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

/* The writing half: entries from the pipe into the current directory. */
struct writer {
	struct pipe pipe;
	const char *what;
	struct extract_result *res;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();

	if (!in || !out) {
		error("%s: cannot start extracting: out of memory", w->what);
		w->res->fatal = 1;
		goto out;
	}
	archive_read_support_format_tar(in);
	archive_read_support_format_gnutar(in);
	/* No user/group lookup: owners are the numeric ids of the tarball. */
	archive_write_disk_set_options(out, write_flags());
	if (archive_read_open(in, &w->pipe, NULL, pipe_read, NULL) != ARCHIVE_OK) {
		error("%s: %s", w->what, archive_error_string(in));
		w->res->fatal = 1;
	} else if (extract_loop(in, out, w->what, w->res) == 0 &&
		   archive_write_close(out) != ARCHIVE_OK) {
		error("%s: %s", w->what, archive_error_string(out));
		w->res->failed++;
	}
out:
	archive_read_free(in);
	archive_write_free(out);
	pipe_stop(&w->pipe);
	return NULL;
}

/* Fills b from the decompressing archive a.  Returns the bytes read (0 at
 * the end) or -1. */
static ssize_t fill(struct archive *a, struct pipe_buf *b)
{
	size_t len = 0;

	while (len < PIPE_BUF_SIZE) {
		la_ssize_t n = archive_read_data(a, b->data + len,
						 PIPE_BUF_SIZE - len);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (ssize_t)len;
}

/* The reading half, in the caller's thread: the source decompressed (any
 * filter libarchive knows, or none) into the pipe until the end, an error
 * or the writer stopping.  Returns 0 or -1. */
static int decompress(struct writer *w, extract_read_fn fn, void *ctx)
{
	struct source src = { fn, ctx, 0 };
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct pipe_buf *b;
	ssize_t n = -1;

	if (!a)
		return error("%s: cannot start reading: out of memory", w->what);
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open(a, &src, NULL, source_read, NULL) == ARCHIVE_OK &&
	    archive_read_next_header(a, &e) == ARCHIVE_OK) {
		while ((b = pipe_get(&w->pipe))) {
			n = fill(a, b);
			if (n <= 0) {
				free(b);
				break;
			}
			b->len = (size_t)n;
			pipe_put(&w->pipe, b);
		}
	}
	if (n < 0 && !src.failed)
		error("%s: %s", w->what, archive_error_string(a));
	pipe_close(&w->pipe, n < 0);
	archive_read_free(a);
	return n < 0 ? -1 : 0;
}

int extract_stream(const char *what, extract_read_fn fn, void *ctx,
		   const char *root, struct extract_result *res)
{
	struct writer w = { .what = what, .res = res };
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), err;
	pthread_t tid;

	memset(res, 0, sizeof(*res));
	if (cwd < 0)
		return error_errno("cannot start extracting %s", what);
	if (chdir(root) < 0) {
		close(cwd);
		return error_errno("cannot enter the target '%s'", root);
	}
	pipe_init(&w.pipe);
	err = pthread_create(&tid, NULL, writer_main, &w);
	if (err) {
		errno = err;
		error_errno("cannot start extracting %s", what);
		res->fatal = 1;
	} else {
		int r = decompress(&w, fn, ctx);

		pthread_join(tid, NULL);
		if (r < 0)
			res->fatal = 1;
	}
	pipe_release(&w.pipe);
	if (fchdir(cwd) < 0)
		error_errno("cannot return to the working directory");
	close(cwd);
	return res->fatal || res->failed || res->warnings ? -1 : 0;
}
