/* diskprobe.h - gathering a machine's disk layout with the system's own
 * tools: sfdisk --dump (partition tables), blkid -p (filesystems),
 * tune2fs -l (ext* creation parameters), /sys/dev/block (sizes),
 * /proc/self/mountinfo (mounts), /proc/swaps and ROOT/etc/fstab; the
 * firmware the machine booted with from /sys/firmware/efi.
 */
#ifndef SI_DISKPROBE_H
#define SI_DISKPROBE_H

#include <stddef.h>

#include "disklayout.h"

struct diskprobe_opts {
	const char *root;		/* the captured root ("/" normally) */
	const char *const *disks;	/* disks to record; NULL: every disk
					 * of the machine when root is "/",
					 * none otherwise */
	size_t ndisks;
	const char *const *exclude;	/* disks never recorded */
	size_t nexclude;
	const char *sys;		/* sysfs root; NULL: "/sys" (the
					 * firmware: SYS/firmware/efi means
					 * UEFI) */
};

/* Returns "uefi" when SYS/firmware/efi exists (the kernel was started by
 * UEFI firmware), else "bios".  sys NULL: "/sys".  Static. */
const char *diskprobe_firmware(const char *sys);

/* Fills dl (initialized by the caller).  Returns 0, or -1 with a message
 * when a named disk or a tool fails. */
int diskprobe_run(struct disklayout *dl, const struct diskprobe_opts *o);

/* Returns 1 if a filesystem of this type holds local disk data that
 * belongs in an image (ext4, xfs, btrfs, vfat ...), 0 for network,
 * memory and virtual filesystems (nfs, tmpfs, proc ...). */
int diskprobe_local_fstype(const char *type);

#endif
