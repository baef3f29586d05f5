/* extract.h - streaming, secure extraction of a tarball into a root.
 *
 * The tarball comes through a read function, so the caller can hand out
 * only the verified prefix of a file still being downloaded.  Extraction
 * uses libarchive's secure flags (no "..", no writing through symlinks, no
 * absolute paths) and, as root, restores owners (numeric), modes, times,
 * ACLs, xattrs, file flags and holes.  Results are graded like bsdtar: a
 * warning continues but fails the run at the end, a failed entry is
 * skipped and fails the run, a fatal error stops.
 */
#ifndef SI_EXTRACT_H
#define SI_EXTRACT_H

#include <stdint.h>
#include <sys/types.h>

/* Returns the bytes available at *buf (owned by the source, valid until
 * the next call), 0 at the end, or -1 with a message. */
typedef ssize_t (*extract_read_fn)(void *ctx, const void **buf);

struct extract_result {
	int64_t entries;	/* entries written */
	int64_t bytes;		/* payload bytes written */
	int warnings;		/* entries with warnings */
	int failed;		/* entries skipped */
	int fatal;		/* extraction stopped */
};

/* Extracts everything the source yields into the directory root (which
 * must exist).  Returns 0 when every entry was written cleanly, or -1
 * (details in *res; messages already printed).  what names the tarball in
 * messages. */
int extract_stream(const char *what, extract_read_fn fn, void *ctx,
		   const char *root, struct extract_result *res);

#endif
