/* stage.h - where to put a downloaded tarball before (or while) it is
 * extracted.
 *
 * An explicit directory (BITTORRENT_STAGING) wins; else RAM (a tmpfs or
 * ramfs such as /dev/shm or /tmp) when the tarball plus a breathing room
 * fits in it and in the memory the node has left (MemAvailable less
 * STAGE_RAM_RESERVE for si_boel, the kernel and the page cache of the
 * extraction); else the target's filesystem when it holds the tarball
 * and the extracted image; else any mounted filesystem with room
 * (/proc/self/mounts).  Nothing fits: an error saying how much is needed
 * and where we looked, before anything is downloaded.
 *
 * The target must hold the extracted image: its file data plus a 4 KiB
 * block an entry (the partial last block of each file, directories,
 * inodes' share), and an inode an entry; and the staged tarball as well
 * when it is staged there.  Unknown sizes (a torrent that does not record
 * them) are not checked.
 */
#ifndef SI_STAGE_H
#define SI_STAGE_H

#include <stdint.h>

struct stage_request {
	uint64_t size;		/* the tarball's size */
	uint64_t unpacked;	/* its members' file data, 0 = unknown */
	uint64_t entries;	/* its members */
	const char *explicit_dir;	/* BITTORRENT_STAGING or NULL */
	const char *target;	/* the target root */
	int64_t free_override;	/* >= 0: pretend every place has this much
				 * free space and memory (tests) */
};

/* Memory kept for everything but a RAM-staged tarball. */
#define STAGE_RAM_RESERVE (256ULL << 20)

/* Bytes needed for size: the size plus max(100 MiB, 10%). */
uint64_t stage_needed(uint64_t size);
/* Bytes the extracted image takes on the target (0 when unknown). */
uint64_t stage_target_needed(const struct stage_request *req);

/* Chooses a place and creates a private directory in it (mode 0700).
 * Returns the new directory's absolute path (the caller frees it and
 * removes it with remove_tree), or NULL with a message.  *kind gets a
 * short word for logs: "explicit", "ram", "target", "mount". */
char *stage_choose(const struct stage_request *req, const char **kind);

/* Checks that the target holds the extracted image (and the tarball, when
 * stage_dir is on the target's file system).  Returns 0, or -1 with one
 * message naming the path, the sizes and what to do. */
int stage_check_target(const struct stage_request *req, const char *stage_dir);

#endif
