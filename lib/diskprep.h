/* diskprep.h - preparing a node's disks from a recorded disk layout
 * (docs/disklayout.md): map the recorded disks to the node's, check that
 * they are free and big enough, partition them with sfdisk, make the
 * filesystems and swap areas, mount them under the target root, write the
 * target's fstab, install a bootloader, and unmount everything again.
 *
 * Every check is done by diskprep_plan() before anything is written.
 */
#ifndef SI_DISKPREP_H
#define SI_DISKPREP_H

#include <stddef.h>
#include <stdint.h>

#include "disklayout.h"

/* The default DISKORDER: disk name prefixes, tried in this order. */
#define DISKPREP_ORDER "vd,sd,nvme,xvd,hd,mmcblk"

struct diskprep_opts {
	const char *root;	/* the target root, absolute */
	const char *order;	/* DISKORDER: comma-separated disk names
				 * ("vda", "/dev/loop3") or name prefixes
				 * ("sd"); NULL: DISKPREP_ORDER */
	const char *sys;	/* sysfs root ("/sys"; tests) */
};

struct diskprep_fs {
	const struct dl_fs *fs;	/* the record (owned by the layout) */
	char *dev;		/* the node's device (/dev/vda2) */
	char *uuid;		/* as made (read back with blkid) */
};

struct diskprep {
	const struct disklayout *dl;	/* borrowed */
	char *root, *sys;
	char **disks;		/* node disk for each dl->disks[i] (/dev/vda) */
	uint64_t *disk_size;	/* bytes */
	unsigned *disk_ss;	/* logical sector size */
	struct diskprep_fs *fss;	/* one per dl->fss[i] */
	char **mounted;		/* mount points, in mount order */
	size_t nmounted;
	char **bound;		/* bind mounts for the bootloader's chroot */
	size_t nbound;
};

/* Returns the device of partition num of disk: "/dev/vda" 1 ->
 * "/dev/vda1", "/dev/nvme0n1" 1 -> "/dev/nvme0n1p1", "/dev/loop0" 1 ->
 * "/dev/loop0p1" (a 'p' when the disk name ends in a digit).  Newly
 * allocated; the caller frees it. */
char *diskprep_partdev(const char *disk, int num);

/* Maps dl's disks to the node's (in DISKORDER order), and checks that
 * each is a whole disk, not mounted, not used as swap or by another
 * device (holders), big enough for the layout, and that every table and
 * filesystem type can be made.  Writes nothing.  Returns 0 or -1 with a
 * message; dp must be released either way. */
int diskprep_plan(struct diskprep *dp, const struct disklayout *dl,
		  const struct diskprep_opts *o);

/* Partitions every disk (sfdisk), waits for the partition devices, makes
 * the filesystems and swap areas, mounts them under root (shortest mount
 * point first).  Returns 0 or -1 with a message (what was mounted stays
 * recorded for diskprep_umount()). */
int diskprep_apply(struct diskprep *dp);

/* Writes root/etc/fstab (UUID= entries for the filesystems and swap made,
 * then the recorded fstab's other lines: network, memory filesystems).
 * Returns 0 or -1 with a message. */
int diskprep_fstab(struct diskprep *dp);

/* Installs GRUB for BIOS on the first disk with the target's own
 * grub-install (chroot, /dev /proc /sys bound) and writes its
 * configuration, when root/usr/sbin/grub-install exists; *done says
 * whether it did.  Returns 0 or -1 with a message. */
int diskprep_bootloader(struct diskprep *dp, int *done);

/* Unmounts everything mounted, deepest first.  Returns 0 or -1 with a
 * message (it tries every mount). */
int diskprep_umount(struct diskprep *dp);

void diskprep_init(struct diskprep *dp);
/* Frees dp (does not unmount). */
void diskprep_release(struct diskprep *dp);

#endif
