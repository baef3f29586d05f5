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

/* The firmware a node boots with, decided by diskprep_plan(). */
enum diskprep_firmware {
	DISKPREP_FW_BIOS = 1,	/* legacy BIOS (or UEFI's CSM): GRUB i386-pc */
	DISKPREP_FW_UEFI,	/* UEFI: GRUB x86_64-efi in the ESP */
};

struct diskprep_opts {
	const char *root;	/* the target root, absolute */
	const char *order;	/* DISKORDER: comma-separated disk names
				 * ("vda", "/dev/loop3") or name prefixes
				 * ("sd"); NULL: DISKPREP_ORDER */
	const char *sys;	/* sysfs root ("/sys"; tests) */
	const char *firmware;	/* SI_FIRMWARE: "bios" or "uefi" overrides
				 * the node's firmware; NULL or "auto":
				 * SYS/firmware/efi decides */
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
	enum diskprep_firmware firmware;	/* the node's */
	int boots;		/* the layout has something to boot: a
				 * recorded firmware, an ESP or a BIOS boot
				 * partition */
	size_t boot_disk;	/* GRUB for BIOS goes there: the disk with
				 * the BIOS boot partition, else the first */
	const struct dl_fs *esp;	/* the layout's ESP, or NULL */
	char *esp_dev;		/* the node's ESP device, or NULL */
};

/* Returns "bios" or "uefi".  Static. */
const char *diskprep_firmware_name(enum diskprep_firmware fw);

/* Returns the device of partition num of disk: "/dev/vda" 1 ->
 * "/dev/vda1", "/dev/nvme0n1" 1 -> "/dev/nvme0n1p1", "/dev/loop0" 1 ->
 * "/dev/loop0p1" (a 'p' when the disk name ends in a digit).  Newly
 * allocated; the caller frees it. */
char *diskprep_partdev(const char *disk, int num);

/* Maps dl's disks to the node's (in DISKORDER order), and checks that
 * each is a whole disk, not mounted, not used as swap or by another
 * device (holders), big enough for the layout, and that every table and
 * filesystem type can be made.  Decides the node's firmware and refuses a
 * layout that it cannot boot: a UEFI node needs an ESP with a mount
 * point; a BIOS node a BIOS boot partition when the layout boots with
 * UEFI from GPT.  A layout with nothing to boot (no firmware recorded, no
 * ESP, no BIOS boot partition) is data only and passes.  Writes nothing.  Returns 0 or -1 with a
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

/* Installs GRUB with the target's own grub-install (chroot, /dev /proc
 * /sys bound) and writes its configuration (update-grub, else
 * grub-mkconfig), when root/usr/sbin/grub-install exists; *done says
 * whether it did.  BIOS: i386-pc on the boot disk.  UEFI: x86_64-efi into
 * the ESP twice, first on the removable media path EFI/BOOT/BOOTX64.EFI
 * (no NVRAM; must work), then with a boot entry named after the image's
 * os-release ID (efivarfs mounted in the chroot; a failure there is a
 * warning, firmware without NVRAM entries boots the removable path).
 * Returns 0 or -1 with a message. */
int diskprep_bootloader(struct diskprep *dp, int *done);

/* Unmounts everything mounted, deepest first.  Returns 0 or -1 with a
 * message (it tries every mount). */
int diskprep_umount(struct diskprep *dp);

void diskprep_init(struct diskprep *dp);
/* Frees dp (does not unmount). */
void diskprep_release(struct diskprep *dp);

#endif
