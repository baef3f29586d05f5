/* rootfs.h - reading and writing files inside an installed root (si_boel's
 * target) without following symlinks out of it.
 *
 * The target's tree comes from an image: a symlink at /a/etc/hostname
 * pointing at /etc/hostname would, followed, change the installer's own
 * file.  Every path here is relative to the root and walked one component
 * at a time with O_NOFOLLOW: a symlink on the way is refused (ELOOP), never
 * followed.  Messages name ROOT/REL.
 */
#ifndef SI_ROOTFS_H
#define SI_ROOTFS_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Opens the directory REL under ROOT ("" is ROOT itself), creating missing
 * components with mode when mode is not 0.  Returns the descriptor, or -1
 * with errno set and no message (the caller decides how bad that is). */
int rootfs_open_dir(const char *root, const char *rel, mode_t mode);

/* lstat()s REL under ROOT without following symlinks on the way.
 * Returns 0, 1 when it (or a directory on the way) does not exist, -1 with
 * a message. */
int rootfs_lstat(const char *root, const char *rel, struct stat *st);

/* Reads the regular file REL under ROOT into a NUL-terminated buffer the
 * caller frees (*len its size when len is not NULL).  Returns 1 when the
 * file does not exist, 0 read, -1 with a message (a symlink or a
 * directory included). */
int rootfs_read(const char *root, const char *rel, char **text, size_t *len);

/* Writes REL under ROOT atomically (a temporary file beside it, renamed
 * over it), creating missing directories (0755).  A file it replaces keeps
 * its owner and mode; a new one gets mode and root's owner.  Returns 0 or
 * -1 with a message. */
int rootfs_write(const char *root, const char *rel, const void *buf,
		 size_t len, mode_t mode);

/* Truncates the regular file REL under ROOT to 0 bytes, keeping its inode,
 * owner and mode.  Returns 0, 1 when it does not exist, -1 with a message. */
int rootfs_truncate(const char *root, const char *rel);

/* Removes REL under ROOT (a file or a symlink, not a directory).  Returns
 * 0, 1 when it does not exist, -1 with a message. */
int rootfs_unlink(const char *root, const char *rel);

/* Makes REL under ROOT a symlink to target, replacing a file or symlink
 * there, creating missing directories (0755).  Returns 0 or -1 with a
 * message. */
int rootfs_symlink(const char *root, const char *rel, const char *target);

#endif
