/* util.h - small helpers shared by every program: memory, paths, files
 * written atomically, time and sizes.
 */
#ifndef SI_UTIL_H
#define SI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that cannot fail (aborts with a message on exhaustion). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Returns a newly allocated formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Appends the formatted text to *buf (NULL or NUL-terminated, *len bytes
 * long), growing it; cannot fail (aborts on exhaustion, as above). */
void xappendf(char **buf, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Returns "a/b" newly allocated (no double slash); the caller frees it. */
char *path_join(const char *a, const char *b);

/* Creates a directory and its parents (mode for the new ones).
 * Returns 0 or -1 with a message. */
int mkdir_p(const char *path, mode_t mode);
/* Removes a tree (like rm -rf, not following symlinks).  Returns 0 or -1. */
int remove_tree(const char *path);
/* fsync()s the directory holding path.  Returns 0 or -1. */
int fsync_parent(const char *path);
/* Reads a whole file into a NUL-terminated buffer the caller frees.
 * Returns NULL with a message (unless quiet and ENOENT). */
char *read_file(const char *path, size_t *len, int quiet_enoent);

/* A file written under a temporary name beside its final name and renamed
 * into place only by atomic_commit(), so that a failure never leaves a
 * half-written file under the final name. */
struct atomic_file {
	char *path;	/* final name */
	char *tmp;	/* temporary name in the same directory */
	int fd;
};
/* Opens path.tmp.XXXXXX with mode.  Returns 0 or -1 with a message. */
int atomic_open(struct atomic_file *af, const char *path, mode_t mode);
/* Writes all of buf.  Returns 0 or -1 with a message. */
int atomic_write(struct atomic_file *af, const void *buf, size_t len);
/* fsync, close, rename over path, fsync the directory.  Returns 0 or -1;
 * on failure the temporary file is removed. */
int atomic_commit(struct atomic_file *af);
/* Closes and removes the temporary file; safe after commit or on a zeroed
 * struct. */
void atomic_abort(struct atomic_file *af);
/* Writes a whole buffer atomically to path.  Returns 0 or -1. */
int write_file_atomic(const char *path, const void *buf, size_t len,
		      mode_t mode);

/* Writes all of buf to fd, retrying short writes.  Returns 0 or -1 (errno). */
int write_all(int fd, const void *buf, size_t len);

/* Seconds since an arbitrary point (CLOCK_MONOTONIC). */
double now_monotonic(void);
/* Formats a byte count as "12.3 MiB" into buf.  Returns buf. */
char *human_bytes(char *buf, size_t size, double bytes);

/* Parses a size such as "100", "64k", "2M", "1G" (powers of 1024) into
 * *out.  Returns 0 or -1 (no message). */
int parse_size(const char *s, uint64_t *out);
/* Parses a decimal integer in [min, max].  Returns 0 or -1 (no message). */
int parse_long(const char *s, long min, long max, long *out);
/* Parses y/yes/1/true and n/no/0/false.  Returns 0 or -1 (no message). */
int parse_bool(const char *s, int *out);

/* Returns 1 if name is a plain name usable as an image or override name:
 * letters, digits, '.', '_', '-', '+', not starting with '.' or '-'. */
int valid_name(const char *name);

/* Lowercase hex of a SHA-256 of the file at path into hex[65].
 * Returns 0 or -1 with a message. */
int sha256_file(const char *path, char hex[65]);

/* Closes every file descriptor >= 3 except keep (or -1); for children. */
void close_fds_from(int lowfd, int keep);

/* A daemon's signals: SIGTERM and SIGINT call handler, SIGHUP too when
 * hup is set (else it is ignored, as SIGPIPE always is). */
void daemon_signals(void (*handler)(int), int hup);

#endif
