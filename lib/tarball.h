/* tarball.h - packing a root tree into a tar archive with libarchive.
 *
 * Two steps: tarball_scan() walks the tree (lstat only, no file is read)
 * and computes a stamp of it, which lets a caller decide cheaply whether
 * the tree changed since the last tarball; tarball_write() then packs the
 * scanned entries in path order (bytewise), reading each file once to
 * both archive it and compute its SHA-256 for the manifest.
 *
 * The archive is POSIX pax (ustar headers plus extended headers only when
 * needed): member paths relative to the root ("etc/passwd"), numeric
 * owners only (no user names), mode, mtime (nanoseconds; no atime or
 * ctime, so that the same tree gives the same bytes), hard links stored
 * once, symlinks as links (physical walk), device nodes, fifos, xattrs
 * (SCHILY.xattr), POSIX ACLs (SCHILY.acl), file flags, sparse files (GNU
 * sparse 1.0).  Sockets are skipped with a warning; directories on
 * another file system are stored empty (mount points are not crossed).
 * Names are stored as raw bytes (pax hdrcharset=BINARY).
 */
#ifndef SI_TARBALL_H
#define SI_TARBALL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct manifest;

enum tarball_compress {
	TARBALL_GZIP = 0,	/* the default, as SystemImager */
	TARBALL_ZSTD,
	TARBALL_NONE,
};

/* Parses "gzip"/"gz"/"y"/"yes", "zstd"/"zst", "none"/"no"/"n" (any case).
 * Returns 0 or -1 (no message). */
int tarball_compress_parse(const char *s, enum tarball_compress *c);
/* "gzip", "zstd" or "none". */
const char *tarball_compress_name(enum tarball_compress c);
/* ".tar.gz", ".tar.zst" or ".tar". */
const char *tarball_suffix(enum tarball_compress c);

/* One scanned entry. */
struct tarball_node {
	char *path;		/* relative path, "." for the root */
	/* lstat at scan time: what the stamp covers */
	mode_t mode;
	uint32_t uid, gid;
	uint64_t size, ino, rdev;
	int64_t mtime_ns, ctime_ns;
};

enum tarball_scan_flags {
	TARBALL_NO_ROOT = 1 << 0,	/* leave out the root directory itself
					 * (overrides must not change the
					 * target root's mode or owner) */
};

struct tarball_tree {
	char *root;			/* the directory scanned */
	struct tarball_node *v;		/* sorted by path, bytewise */
	size_t n;
	char stamp[65];			/* SHA-256 (hex) of the listing */
	unsigned skipped;		/* sockets and foreign-fs entries */
	size_t alloc;
};

/* Walks root (physically, not crossing mount points) and fills t, with
 * the stamp: a SHA-256 over every entry's path, type, mode, uid, gid,
 * size, mtime and ctime (nanoseconds), inode and device number (rdev).
 * Content changes show as size/mtime/ctime changes, replacements as inode
 * changes, metadata (xattr, ACL, chmod, chown) as ctime changes.  Returns
 * 0 or -1 with a message. */
int tarball_scan(struct tarball_tree *t, const char *root, unsigned flags);
/* Frees what t holds; t is zeroed.  Safe on a zeroed struct. */
void tarball_tree_release(struct tarball_tree *t);

struct tarball_progress {
	uint64_t bytes_in;	/* file data read so far */
	uint64_t bytes_out;	/* compressed bytes written so far */
	uint64_t entries;	/* entries written so far */
	double elapsed;		/* seconds since tarball_write started */
};

struct tarball_options {
	const char *name;		/* the output, for messages */
	enum tarball_compress compress;
	int level;			/* compression level, 0 = default */
	/* Called about every progress_interval seconds (if set). */
	void (*progress)(const struct tarball_progress *p, void *data);
	void *progress_data;
	double progress_interval;	/* seconds; 0 = 3 */
};

struct tarball_result {
	uint64_t entries;	/* archive members written */
	uint64_t bytes_in;	/* file data read */
	uint64_t bytes_out;	/* archive bytes written */
	unsigned warnings;	/* entries that changed or vanished while
				 * packing: the stamp is unreliable */
};

/* Packs the scanned tree t into fd (left open; the caller fsyncs and
 * closes it) and, when m is not NULL, appends one manifest entry per
 * archive member (m is sorted on success).  Returns 0 or -1 with a
 * message (a file that cannot be read, a write error); warnings (entries
 * that vanished or changed while being packed) only count in r. */
int tarball_write(const struct tarball_tree *t, int fd,
		  const struct tarball_options *o, struct manifest *m,
		  struct tarball_result *r);

#endif
