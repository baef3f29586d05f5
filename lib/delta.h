/* delta.h - delta packages: what changed from one image tarball to the next.
 *
 * A delta package is a tar (optionally zstd) whose first member,
 * DELTA-INDEX, lists one operation per line (see docs/delta-format.md),
 * followed by the payloads of the operations that need data, in index
 * order: librsync deltas ("patch") and whole new files ("whole").
 *
 *   delta_make()   builds one from two image tarballs (one pass each);
 *   delta_load()   reads and verifies one (index checksum, every payload's
 *                  size and SHA-256) without changing anything;
 *   delta_apply()  brings a tree at the old version to the new one, file by
 *                  file with rename-into-place, so that an interrupted run
 *                  can simply be re-run.
 */
#ifndef SI_DELTA_H
#define SI_DELTA_H

#include <stdint.h>
#include <sys/types.h>

#define DELTA_INDEX_NAME "DELTA-INDEX"
#define DELTA_MAGIC "# swarmimager delta 1"

enum delta_kind {
	DELTA_REMOVE,	/* remove path (and anything below it) */
	DELTA_MKDIR,	/* create directory; metadata set at the end */
	DELTA_WHOLE,	/* new content = payload */
	DELTA_PATCH,	/* new content = librsync patch(old content, payload) */
	DELTA_META,	/* metadata only (content, if a file, is new_sha) */
	DELTA_SYMLINK,	/* symlink to target */
	DELTA_HARDLINK,	/* hard link to the path target */
	DELTA_NODE,	/* device or fifo; target "major:minor" or "-" */
};

struct delta_op {
	enum delta_kind kind;
	char type;		/* new entry's type: f d l h c b p ('-' remove) */
	char *path;		/* relative to the root, no "./", no ".." */
	unsigned mode;		/* permission bits (07777) */
	uid_t uid;
	gid_t gid;
	int64_t mtime;
	int64_t size;		/* new size of a regular file, else 0 */
	char old_sha[65];	/* patch: digest of the base; else "" */
	char new_sha[65];	/* whole/patch/meta of a file: result digest */
	char *payload;		/* member name in the package, NULL if none */
	int64_t payload_size;
	char payload_sha[65];
	char *target;		/* symlink target, hard-link path, node dev */
	char *xattrs;		/* "name=hex;name=hex" sorted, NULL if none */
};

/* A loaded index.  The labels are free text given at creation (NULL when
 * absent); the lead maps versions to them. */
struct delta_index {
	char *image, *from, *to;
	struct delta_op *ops;
	size_t n;
};

void delta_index_release(struct delta_index *idx);
const char *delta_kind_name(enum delta_kind k);

struct delta_stats {
	size_t ops, removed, dirs, whole, patched, meta, links, nodes;
	size_t skipped;		/* already at the new state */
	size_t fetched;		/* drifted files fetched whole */
	size_t excluded;
	uint64_t old_bytes, new_bytes;	/* regular-file bytes of each image */
	uint64_t payload_bytes;		/* bytes of payloads */
	uint64_t package_bytes;		/* size of the package file */
};

/* What delta_make() needs: two tarballs (any format/filter libarchive
 * reads; member paths relative to the root, "./" prefixes tolerated) and
 * the package to write (atomically).  Labels are optional. */
struct delta_make_opts {
	const char *old_tarball, *new_tarball, *out;
	const char *image, *from, *to;	/* labels recorded in the index */
	int zstd;			/* compress the package with zstd */
};

/* Builds the package.  Returns 0 or -1 with a message; st may be NULL. */
int delta_make(const struct delta_make_opts *o, struct delta_stats *st);

/* Reads the package at path into idx and verifies the index checksum and
 * every payload (size, SHA-256, order).  Returns 0, or -1 with a message
 * ("delta 'x' is corrupt: ...") and idx released. */
int delta_load(const char *path, struct delta_index *idx);

/* Reads and checks only the index (labels, operations), not the payloads:
 * cheap, for deciding whether to apply.  Returns 0 or -1 with a message. */
int delta_read_index(const char *path, struct delta_index *idx);

/* Fetches the new version of path (relative) whole into the file dest
 * (which it creates or truncates).  Returns 0 or -1 with a message. */
typedef int delta_fetch_fn(void *arg, const char *path, const char *dest);
/* Returns 1 when path (relative; is_dir for directories) must be left
 * alone. */
typedef int delta_exclude_fn(void *arg, const char *path, int is_dir);

struct delta_apply_opts {
	const char *root;		/* the tree at the old version */
	int dry_run;			/* print the operations, change nothing */
	int no_delete;			/* skip removals */
	delta_fetch_fn *fetch;		/* NULL: a drifted file is an error */
	void *fetch_arg;
	delta_exclude_fn *exclude;	/* NULL: nothing excluded */
	void *exclude_arg;
};

/* Verifies the package (delta_load), then applies it to o->root: bases are
 * verified before patching, results before renaming into place, drifted
 * files are fetched whole through o->fetch.  A corrupt package changes
 * nothing.  Returns 0 when every operation succeeded (the caller may then
 * record the new version), -1 with messages otherwise.  idx_out, if not
 * NULL, receives the index (release it). */
int delta_apply(const char *path, const struct delta_apply_opts *o,
		struct delta_stats *st, struct delta_index *idx_out);

/* A delta_fetch_fn for the rsync fallback: arg is the URL of the image
 * tree, e.g. "rsync://HOST:PORT/images/NAME"; runs rsync to copy
 * URL/path to dest.  Returns 0 or -1 with a message. */
int delta_fetch_rsync(void *arg, const char *path, const char *dest);

/* Shared by the delta_* files. */
/* Serializes idx as DELTA-INDEX text (with its end line and checksum) into
 * a new buffer the caller frees; *len gets its length. */
char *delta_index_format(const struct delta_index *idx, size_t *len);
/* Parses DELTA-INDEX text.  Returns 0 or -1 with a message naming what. */
int delta_index_parse(const char *what, const char *buf, size_t len,
		      struct delta_index *idx);
/* Runs a librsync job over len bytes of in (eof: no more input after
 * them), passing every output byte to sink.  Returns 0 or -1 with a
 * message. */
struct rs_job;
int delta_rs_feed(struct rs_job *job, const void *in, size_t len, int eof,
		  int (*sink)(void *arg, const void *buf, size_t len),
		  void *sink_arg);
/* Opens the package at path and reads its index member into a new *buf
 * (the caller frees it).  Returns the libarchive reader positioned after
 * the index (archive_read_free() it), or NULL with a message. */
struct archive;
struct archive *delta_open_package(const char *path, char **buf, size_t *len);

#endif
