/* stage.h - where to put a downloaded tarball before (or while) it is
 * extracted.
 *
 * An explicit directory (BITTORRENT_STAGING) wins; else RAM (a tmpfs or
 * ramfs such as /dev/shm or /tmp) when the tarball plus a breathing room
 * fits; else the target's filesystem; else any mounted filesystem with
 * room (/proc/self/mounts).  Nothing fits: an error saying how much is
 * needed and where we looked, before anything is downloaded.
 */
#ifndef SI_STAGE_H
#define SI_STAGE_H

#include <stdint.h>

struct stage_request {
	uint64_t size;		/* the tarball's size */
	const char *explicit_dir;	/* BITTORRENT_STAGING or NULL */
	const char *target;	/* the target root */
	int64_t free_override;	/* >= 0: pretend every place has this much
				 * free space (tests) */
};

/* Bytes needed for size: the size plus max(100 MiB, 10%). */
uint64_t stage_needed(uint64_t size);

/* Chooses a place and creates a private directory in it (mode 0700).
 * Returns the new directory's absolute path (the caller frees it and
 * removes it with remove_tree), or NULL with a message.  *kind gets a
 * short word for logs: "explicit", "ram", "target", "mount". */
char *stage_choose(const struct stage_request *req, const char **kind);

#endif
