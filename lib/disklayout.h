/* disklayout.h - the disk layout of a golden client (docs/disklayout.md).
 *
 * si_prepareclient records it into /etc/swarmimager/disklayout.conf of the
 * client; si_getimage keeps a copy beside the image; the installer reads it
 * to partition and format a node's disks.  The text format is one record
 * per line: a record type, then key=value fields separated by spaces, the
 * values escaped like fstab (\ooo octal for spaces, control bytes,
 * backslashes and bytes above 0x7e).  The first line is
 * "# swarmimager disklayout 1"; unknown record types and keys are ignored
 * so that later versions can add fields.  Sizes are in bytes ("size"),
 * positions in the disk's logical sectors ("start", "sectors").
 */
#ifndef SI_DISKLAYOUT_H
#define SI_DISKLAYOUT_H

#include <stdint.h>
#include <stddef.h>

#define DISKLAYOUT_HEADER "# swarmimager disklayout 1"

/* A whole disk: "disk dev=/dev/sda size=... sector_size=512 table=gpt ..." */
struct dl_disk {
	char *dev;		/* device on the golden client, e.g. /dev/sda */
	uint64_t size;		/* bytes */
	unsigned sector_size;	/* logical sector size in bytes */
	char *table;		/* "gpt", "dos" or "none" */
	char *id;		/* GPT disk GUID / DOS disk id, or NULL */
	uint64_t first_lba, last_lba;	/* usable sectors, 0 when unknown */
};

/* A partition: "part disk=/dev/sda num=1 dev=/dev/sda1 start=2048 ..." */
struct dl_part {
	char *disk;		/* dev of the disk holding it */
	char *dev;		/* its device on the golden client */
	int num;		/* partition number (1-based) */
	uint64_t start, sectors;	/* in the disk's logical sectors */
	uint64_t size;		/* bytes (sectors * sector_size) */
	char *type;		/* GPT type GUID, or DOS type in hex ("83") */
	char *uuid;		/* GPT partition GUID, or NULL */
	char *name;		/* GPT partition name, or NULL */
	char *attrs;		/* GPT attributes as sfdisk prints them, or NULL */
	int bootable;		/* DOS active flag */
	int grow;		/* 1: may grow to fill the rest of a bigger disk */
};

/* A filesystem or swap area on a disk or partition:
 * "fs dev=/dev/sda1 type=ext4 uuid=... label=... mount=/ ..." */
struct dl_fs {
	char *dev;
	char *type;		/* ext4, xfs, vfat, swap, ... (blkid TYPE) */
	char *uuid, *label;	/* NULL when absent */
	char *mount;		/* mount point (relative to the captured
				 * root), "swap" for swap, NULL if none */
	char *options;		/* mount options from fstab, or NULL */
	char *version;		/* blkid VERSION (FAT32, 1.0 ...), or NULL */
	unsigned block_size;	/* 0 when unknown */
	unsigned inode_size;	/* ext*: 0 when unknown */
	char *features;		/* ext*: comma-separated features, or NULL */
};

/* A mounted filesystem at capture time:
 * "mount path=/proc type=proc source=proc options=rw local=0" */
struct dl_mount {
	char *path;		/* relative to the captured root, starts with / */
	char *type, *source, *options;
	int local;		/* 1: a local disk filesystem, part of the
				 * image; 0: network, virtual or memory
				 * filesystem (si_getimage excludes it) */
};

/* An active swap file: "swapfile path=/swapfile size=..." */
struct dl_swapfile {
	char *path;		/* relative to the captured root */
	uint64_t size;
};

/* An /etc/fstab line: "fstab spec=UUID=... file=/ type=ext4 ..." */
struct dl_fstab {
	char *spec, *file, *type, *options;
	int freq, passno;
};

/* Partition types that matter for booting (GPT type GUIDs as sfdisk
 * prints them; DOS types in hex). */
#define DL_TYPE_ESP		"C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
#define DL_TYPE_ESP_DOS		"ef"
#define DL_TYPE_BIOS_BOOT	"21686148-6449-6E6F-744E-656564454649"

struct disklayout {
	char *host;		/* "host" record: the golden client's name */
	char *firmware;		/* "host" record: "uefi" or "bios" (what
				 * the golden client booted with), NULL when
				 * not recorded; other words are kept as
				 * they are, for later versions */
	struct dl_disk *disks;		size_t ndisks;
	struct dl_part *parts;		size_t nparts;
	struct dl_fs *fss;		size_t nfss;
	struct dl_mount *mounts;	size_t nmounts;
	struct dl_swapfile *swapfiles;	size_t nswapfiles;
	struct dl_fstab *fstab;		size_t nfstab;
};

void disklayout_init(struct disklayout *dl);
void disklayout_release(struct disklayout *dl);

/* Appenders: return a zeroed new element owned by dl (strings set by the
 * caller are malloc()ed and freed by disklayout_release). */
struct dl_disk *disklayout_add_disk(struct disklayout *dl);
struct dl_part *disklayout_add_part(struct disklayout *dl);
struct dl_fs *disklayout_add_fs(struct disklayout *dl);
struct dl_mount *disklayout_add_mount(struct disklayout *dl);
struct dl_swapfile *disklayout_add_swapfile(struct disklayout *dl);
struct dl_fstab *disklayout_add_fstab(struct disklayout *dl);

/* Returns the whole text of dl (header line first, then comment lines
 * when comment is not NULL), newly allocated; the caller frees it. */
char *disklayout_format(const struct disklayout *dl, const char *comment);
/* Parses text (name for messages).  Returns 0, or -1 with a message
 * naming the line (dl then holds what came before). */
int disklayout_parse(struct disklayout *dl, const char *text,
		     const char *name);
/* Reads and parses a file.  Returns 0 or -1 with a message. */
int disklayout_load(struct disklayout *dl, const char *path);

/* Lookups; return NULL when absent.  Owned by dl. */
const struct dl_disk *disklayout_disk(const struct disklayout *dl,
				      const char *dev);
const struct dl_fs *disklayout_fs(const struct disklayout *dl,
				  const char *dev);

/* The EFI system partition: the first partition of type DL_TYPE_ESP
 * (GPT) or "ef" (DOS) that holds a vfat filesystem; *fs (when fs is not
 * NULL) gets that filesystem.  Returns NULL (and *fs NULL) when there is
 * none.  Owned by dl. */
const struct dl_part *disklayout_esp(const struct disklayout *dl,
				     const struct dl_fs **fs);
/* The first GPT BIOS boot partition (DL_TYPE_BIOS_BOOT, where GRUB for
 * BIOS embeds its core image), or NULL.  Owned by dl. */
const struct dl_part *disklayout_bios_boot(const struct disklayout *dl);

/* Escapes a value for the format (spaces, control bytes, '\\' and bytes
 * >= 0x7f as \ooo), newly allocated; the caller frees it.
 * disklayout_unescape() undoes it in place. */
char *disklayout_escape(const char *s);
void disklayout_unescape(char *s);

#endif
