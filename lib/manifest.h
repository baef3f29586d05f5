/* manifest.h - the list of what a tarball holds, one line per entry.
 *
 * Format (version 1), written beside each tarball as NAME.manifest:
 *   # swarmimager manifest 1
 *   PATH<TAB>TYPE<TAB>MODE<TAB>UID<TAB>GID<TAB>SIZE<TAB>MTIME<TAB>SHA256<TAB>TARGET
 * PATH is relative to the image root ("etc/passwd"; the root itself is
 * "."); TYPE one of f d l h c b p; MODE four octal digits (permission,
 * setuid/setgid/sticky bits); SIZE the file size for f and h, 0 otherwise;
 * MTIME whole seconds; SHA256 lowercase hex for f, "-" otherwise; TARGET
 * the symlink target (l), the path the entry is a hard link to (h),
 * "MAJOR:MINOR" (c, b), "-" otherwise.  PATH and TARGET escape '\\' as
 * "\\\\", TAB as "\\t", newline as "\\n", and every other byte below 0x20 or
 * from 0x7f up as "\\ooo" (three octal digits), so a line never holds a raw
 * TAB, newline or non-ASCII byte.  A literal "-" target is written "\\055"
 * so that it is not mistaken for "none".  Lines are sorted by the
 * unescaped PATH, bytewise (strcmp).
 */
#ifndef SI_MANIFEST_H
#define SI_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define MANIFEST_HEADER "# swarmimager manifest 1"

struct manifest_entry {
	char *path;		/* unescaped, owned by the manifest */
	char type;		/* 'f' 'd' 'l' 'h' 'c' 'b' 'p' */
	unsigned mode;		/* 07777 bits */
	uint32_t uid, gid;
	uint64_t size;
	int64_t mtime;
	char sha256[65];	/* hex for 'f', "-" otherwise */
	char *target;		/* unescaped; NULL when "-" */
};

struct manifest {
	struct manifest_entry *v;
	size_t n, alloc;
};

void manifest_init(struct manifest *m);
/* Frees every entry and the array; m is empty afterwards.  NULL ok. */
void manifest_release(struct manifest *m);
/* Appends an entry for path (copied) with sha256 "-" and no target, and
 * returns it (owned by m, valid until the next manifest_add). */
struct manifest_entry *manifest_add(struct manifest *m, const char *path,
				    char type);
/* Sets e's target to a copy of target (NULL: none). */
void manifest_set_target(struct manifest_entry *e, const char *target);
/* Sorts the entries by path, bytewise. */
void manifest_sort(struct manifest *m);
/* Returns the entry for path in a sorted manifest, or NULL. */
const struct manifest_entry *manifest_find(const struct manifest *m,
					   const char *path);

/* Returns the escaped form of s (see above), newly allocated. */
char *manifest_escape(const char *s);
/* Unescapes s into a new string; returns NULL if s is malformed (a bad
 * escape or an escape giving a NUL byte). */
char *manifest_unescape(const char *s);

/* Returns the whole manifest text (header and sorted lines) in a new
 * buffer; *len gets its length.  m must be sorted. */
char *manifest_format(const struct manifest *m, size_t *len);
/* Writes m (sorted) atomically to path with mode.  Returns 0 or -1 with
 * a message. */
int manifest_write(const struct manifest *m, const char *path, int mode);
/* Parses manifest text (name is used in messages) and appends its
 * entries to m.  Returns 0 or -1 with a message "NAME:LINE: ...". */
int manifest_parse(struct manifest *m, const char *buf, size_t len,
		   const char *name);
/* Reads a manifest file into m (appending).  Returns 0 or -1 with a
 * message. */
int manifest_load(struct manifest *m, const char *path);

/* What changed from one entry to another in manifest_diff(). */
enum manifest_change {
	MANIFEST_ADDED = 1,	/* only in the new manifest */
	MANIFEST_REMOVED,	/* only in the old manifest */
	MANIFEST_CHANGED,	/* in both, some field differs */
};
/* Returns 1 if the two entries describe the same thing (every field
 * equal, path included), 0 otherwise. */
int manifest_entry_equal(const struct manifest_entry *a,
			 const struct manifest_entry *b);
/* Walks two sorted manifests in path order and calls fn for every path
 * added, removed or changed (old or new is NULL for added/removed).
 * Stops and returns fn's value when it is non-zero; returns 0 at the
 * end. */
int manifest_diff(const struct manifest *old_m, const struct manifest *new_m,
		  int (*fn)(enum manifest_change what,
			    const struct manifest_entry *old_e,
			    const struct manifest_entry *new_e, void *data),
		  void *data);

#endif
