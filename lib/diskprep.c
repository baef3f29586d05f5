/* diskprep.c - see diskprep.h */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "diskprep.h"
#include "efivar.h"
#include "log.h"
#include "opts.h"
#include "util.h"

void diskprep_init(struct diskprep *dp)
{
	memset(dp, 0, sizeof(*dp));
}

void diskprep_release(struct diskprep *dp)
{
	if (!dp)
		return;
	for (size_t i = 0; dp->dl && i < dp->dl->ndisks; i++)
		free(dp->disks ? dp->disks[i] : NULL);
	for (size_t i = 0; dp->fss && i < dp->dl->nfss; i++) {
		free(dp->fss[i].dev);
		free(dp->fss[i].uuid);
	}
	for (size_t i = 0; i < dp->nmounted; i++)
		free(dp->mounted[i]);
	for (size_t i = 0; i < dp->nbound; i++)
		free(dp->bound[i]);
	free(dp->disks);
	free(dp->disk_size);
	free(dp->disk_ss);
	free(dp->fss);
	free(dp->mounted);
	free(dp->bound);
	free(dp->root);
	free(dp->sys);
	free(dp->esp_dev);
	memset(dp, 0, sizeof(*dp));
}

char *diskprep_partdev(const char *disk, int num)
{
	size_t n = strlen(disk);

	return xasprintf("%s%s%d", disk,
			 n && isdigit((unsigned char)disk[n - 1]) ? "p" : "",
			 num);
}

static const char *base_name(const char *dev)
{
	const char *s = strrchr(dev, '/');

	return s ? s + 1 : dev;
}

/* Reads a number from a sysfs file; returns 0 or -1 (no message). */
static int sys_u64(const char *path, uint64_t *v)
{
	char *t = read_file(path, NULL, 1);
	char *end;
	int ret = -1;

	if (t) {
		errno = 0;
		*v = strtoull(t, &end, 10);
		ret = errno || end == t ? -1 : 0;
	}
	free(t);
	return ret;
}

/* --- mapping the recorded disks to the node's ------------------------ */

/* Disks never chosen by a name prefix (an explicit name still works). */
static int virtual_disk(const char *n)
{
	static const char *skip[] = { "loop", "ram", "zram", "sr", "fd",
				      "dm-", "md", "nbd", NULL };

	for (int i = 0; skip[i]; i++)
		if (!strncmp(n, skip[i], strlen(skip[i])))
			return 1;
	return 0;
}

/* The kernel's order of disk names: sdb before sdaa, nvme2n1 before
 * nvme10n1 (shorter first, then bytewise). */
static int cmp_disk(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t lx = strlen(x), ly = strlen(y);

	return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x, y);
}

static void add_name(char ***v, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i], name))
			return;
	*v = xrealloc(*v, (*n + 1) * sizeof(char *));
	(*v)[(*n)++] = xstrdup(name);
}

/* Appends the disks named by one DISKORDER word to v. */
static void order_word(struct diskprep *dp, const char *w, char ***v,
		       size_t *n)
{
	char *blk = path_join(dp->sys, "block"), *p;
	char **found = NULL;
	size_t nf = 0;
	struct dirent *de;
	DIR *d;

	if (!strncmp(w, "/dev/", 5))
		w += 5;
	p = path_join(blk, w);
	if (*w && !strchr(w, '/') && access(p, F_OK) == 0) {
		add_name(v, n, w);
		goto out;
	}
	d = opendir(blk);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || strncmp(de->d_name, w, strlen(w)) ||
		    virtual_disk(de->d_name))
			continue;
		found = xrealloc(found, (nf + 1) * sizeof(char *));
		found[nf++] = xstrdup(de->d_name);
	}
	if (d)
		closedir(d);
	qsort(found, nf, sizeof(char *), cmp_disk);
	for (size_t i = 0; i < nf; i++) {
		add_name(v, n, found[i]);
		free(found[i]);
	}
	free(found);
out:
	free(p);
	free(blk);
}

/* Chooses the node's disks for the layout's, in DISKORDER order. */
static int map_disks(struct diskprep *dp, const char *order)
{
	const struct disklayout *dl = dp->dl;
	char **words = NULL, **v = NULL, *have;
	size_t nw = 0, n = 0;

	opts_split_list(order ? order : DISKPREP_ORDER, &words, &nw);
	for (size_t i = 0; i < nw; i++)
		order_word(dp, words[i], &v, &n);
	opts_free_list(words);
	if (n < dl->ndisks) {
		have = xstrdup("");
		for (size_t i = 0; i < n; i++) {
			char *old = have;

			have = xasprintf("%s%s/dev/%s", old, i ? ", " : "", v[i]);
			free(old);
		}
		error("the layout has %zu disk(s), this node has %zu "
		      "(DISKORDER=%s): %s", dl->ndisks, n,
		      order ? order : DISKPREP_ORDER, n ? have : "none");
		free(have);
	}
	for (size_t i = 0; i < n; i++) {
		if (i < dl->ndisks && n >= dl->ndisks)
			dp->disks[i] = xasprintf("/dev/%s", v[i]);
		free(v[i]);
	}
	free(v);
	return n < dl->ndisks ? -1 : 0;
}

/* --- checks ---------------------------------------------------------- */

/* Collects "M:m" of a disk and its partitions. */
static char **disk_devnums(struct diskprep *dp, const char *name, size_t *n)
{
	char *dir = xasprintf("%s/block/%s", dp->sys, name), *p, *t;
	char **v = NULL;
	struct dirent *de;
	DIR *d = opendir(dir);

	*n = 0;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (strncmp(de->d_name, name, strlen(name)))
			continue;
		p = xasprintf("%s/%s/dev", dir, de->d_name);
		if ((t = read_file(p, NULL, 1))) {
			t[strcspn(t, "\n")] = '\0';
			v = xrealloc(v, (*n + 1) * sizeof(char *));
			v[(*n)++] = t;
		}
		free(p);
	}
	if (d)
		closedir(d);
	p = xasprintf("%s/dev", dir);
	if ((t = read_file(p, NULL, 1))) {
		t[strcspn(t, "\n")] = '\0';
		v = xrealloc(v, (*n + 1) * sizeof(char *));
		v[(*n)++] = t;
	}
	free(p);
	free(dir);
	return v;
}

static int in_list(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

/* Returns a mount point of one of the devices (numbers in v), or NULL. */
static char *mounted_on(char **v, size_t n)
{
	char *mi = read_file("/proc/self/mountinfo", NULL, 0), *save = NULL;
	char *line, *found = NULL;

	for (line = mi ? strtok_r(mi, "\n", &save) : NULL; line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		char num[32], point[4096];

		if (sscanf(line, "%*s %*s %31s %*s %4095s", num, point) == 2 &&
		    in_list(v, n, num))
			found = xstrdup(point);
	}
	free(mi);
	return found;
}

static char *swap_on(char **v, size_t n)
{
	char *sw = read_file("/proc/swaps", NULL, 1), *save = NULL;
	char *line, *found = NULL;

	for (line = sw ? strtok_r(sw, "\n", &save) : NULL; line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		char path[4096], num[32];
		struct stat st;

		if (sscanf(line, "%4095s", path) != 1 || stat(path, &st) < 0 ||
		    !S_ISBLK(st.st_mode))
			continue;
		snprintf(num, sizeof(num), "%u:%u", major(st.st_rdev),
			 minor(st.st_rdev));
		if (in_list(v, n, num))
			found = xstrdup(path);
	}
	free(sw);
	return found;
}

/* Returns the first holder (dm, md ...) of the disk or a partition. */
static char *held_by(struct diskprep *dp, const char *name)
{
	char *dir = xasprintf("%s/block/%s", dp->sys, name), *found = NULL;
	struct dirent *de, *he;
	DIR *d = opendir(dir);

	while (d && !found && (de = readdir(d))) {
		char *h;
		DIR *hd;

		if (strcmp(de->d_name, "holders") &&
		    strncmp(de->d_name, name, strlen(name)))
			continue;
		h = strcmp(de->d_name, "holders") ?
			xasprintf("%s/%s/holders", dir, de->d_name) :
			xasprintf("%s/holders", dir);
		hd = opendir(h);
		while (hd && !found && (he = readdir(hd)))
			if (he->d_name[0] != '.')
				found = xstrdup(he->d_name);
		if (hd)
			closedir(hd);
		free(h);
	}
	if (d)
		closedir(d);
	free(dir);
	return found;
}

static int check_free(struct diskprep *dp, const char *disk)
{
	const char *name = base_name(disk);
	size_t n;
	char **v = disk_devnums(dp, name, &n), *what;
	int ret = 0;

	if ((what = mounted_on(v, n)))
		ret = error("refusing to touch disk %s: it is mounted (on "
			    "'%s')", disk, what);
	else if ((what = swap_on(v, n)))
		ret = error("refusing to touch disk %s: it is in use as swap "
			    "('%s')", disk, what);
	else if ((what = held_by(dp, name)))
		ret = error("refusing to touch disk %s: it is in use by %s",
			    disk, what);
	free(what);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return ret;
}

/* Bytes the layout needs on disk i (in the node's sectors). */
static uint64_t bytes_needed(struct diskprep *dp, size_t i)
{
	const struct dl_disk *d = &dp->dl->disks[i];
	uint64_t end = 0;

	for (size_t k = 0; k < dp->dl->nparts; k++) {
		const struct dl_part *p = &dp->dl->parts[k];

		if (strcmp(p->disk, d->dev))
			continue;
		if ((p->start + p->sectors) * d->sector_size > end)
			end = (p->start + p->sectors) * d->sector_size;
	}
	/* The backup GPT: 33 sectors at the end. */
	if (!strcmp(d->table, "gpt"))
		end += 33 * (uint64_t)d->sector_size;
	return end;
}

static int check_disk(struct diskprep *dp, size_t i)
{
	const struct dl_disk *d = &dp->dl->disks[i];
	const char *disk = dp->disks[i], *name = base_name(disk);
	char *p, h1[32], h2[32];
	uint64_t sectors, ss, need;

	if (strcmp(d->table, "gpt") && strcmp(d->table, "dos"))
		return error("cannot prepare %s: partition table '%s' of %s "
			     "is not supported (gpt or dos)", disk, d->table,
			     d->dev);
	if (!d->sector_size)
		return error("the layout gives no sector size for %s", d->dev);
	p = xasprintf("%s/block/%s/size", dp->sys, name);
	if (sys_u64(p, &sectors) < 0) {
		free(p);
		return error("cannot use '%s': not a whole disk", disk);
	}
	free(p);
	p = xasprintf("%s/block/%s/queue/logical_block_size", dp->sys, name);
	if (sys_u64(p, &ss) < 0 || !ss)
		ss = 512;
	free(p);
	dp->disk_size[i] = sectors * 512;
	dp->disk_ss[i] = (unsigned)ss;
	need = bytes_needed(dp, i);
	if (dp->disk_size[i] < need)
		return error("disk %s is too small for the layout of %s: it "
			     "needs %llu bytes (%s), %s has %llu bytes (%s)",
			     disk, d->dev, (unsigned long long)need,
			     human_bytes(h1, sizeof(h1), (double)need), disk,
			     (unsigned long long)dp->disk_size[i],
			     human_bytes(h2, sizeof(h2),
					 (double)dp->disk_size[i]));
	return check_free(dp, disk);
}

/* The index of the layout disk holding dev (a disk or a partition), and
 * the partition number (0: the whole disk). */
static int locate(const struct disklayout *dl, const char *dev, int *num)
{
	for (size_t i = 0; i < dl->ndisks; i++)
		if (!strcmp(dl->disks[i].dev, dev)) {
			*num = 0;
			return (int)i;
		}
	for (size_t k = 0; k < dl->nparts; k++) {
		if (strcmp(dl->parts[k].dev, dev))
			continue;
		for (size_t i = 0; i < dl->ndisks; i++)
			if (!strcmp(dl->disks[i].dev, dl->parts[k].disk)) {
				*num = dl->parts[k].num;
				return (int)i;
			}
	}
	return -1;
}

static int fs_supported(const char *type)
{
	static const char *ok[] = { "ext2", "ext3", "ext4", "vfat", "swap",
				    "xfs", "btrfs", NULL };

	for (int i = 0; ok[i]; i++)
		if (!strcmp(type, ok[i]))
			return 1;
	return 0;
}

static int plan_fs(struct diskprep *dp)
{
	const struct disklayout *dl = dp->dl;
	int root = 0, num, i;

	for (size_t k = 0; k < dl->nfss; k++) {
		const struct dl_fs *f = &dl->fss[k];

		if ((i = locate(dl, f->dev, &num)) < 0)
			return error("filesystem on %s: no such disk or "
				     "partition in the layout", f->dev);
		if (!fs_supported(f->type))
			return error("cannot make '%s' on %s (%s): not "
				     "supported (ext2/3/4, vfat, swap, xfs, "
				     "btrfs)", f->type, f->dev,
				     f->mount ? f->mount : "not mounted");
		if (num == 0 && strcmp(dl->disks[i].table, "none"))
			return error("filesystem on %s: the disk has a "
				     "partition table", f->dev);
		dp->fss[k].fs = f;
		dp->fss[k].dev = num ? diskprep_partdev(dp->disks[i], num) :
			xstrdup(dp->disks[i]);
		if (f->mount && f->mount[0] == '/' && strcmp(f->type, "swap")) {
			if (strstr(f->mount, "/../") || strstr(f->mount, "/./"))
				return error("bad mount point '%s'", f->mount);
			root |= !strcmp(f->mount, "/");
		}
	}
	if (!root)
		return error("the layout has no filesystem mounted at /");
	return 0;
}

/* --- firmware and boot ------------------------------------------------ */

const char *diskprep_firmware_name(enum diskprep_firmware fw)
{
	return fw == DISKPREP_FW_UEFI ? "uefi" : "bios";
}

/* The node's firmware: SI_FIRMWARE when it says, else SYS/firmware/efi. */
static int node_firmware(struct diskprep *dp, const char *want)
{
	char *efi = path_join(dp->sys, "firmware/efi");
	struct stat st;
	int uefi = stat(efi, &st) == 0 && S_ISDIR(st.st_mode);

	free(efi);
	if (want && !strcmp(want, "uefi"))
		dp->firmware = DISKPREP_FW_UEFI;
	else if (want && !strcmp(want, "bios"))
		dp->firmware = DISKPREP_FW_BIOS;
	else if (want && *want && strcmp(want, "auto"))
		return error("invalid SI_FIRMWARE='%s': expected auto, bios "
			     "or uefi", want);
	else
		dp->firmware = uefi ? DISKPREP_FW_UEFI : DISKPREP_FW_BIOS;
	notice("this node boots with %s firmware (%s)",
	       dp->firmware == DISKPREP_FW_UEFI ? "UEFI" : "BIOS",
	       want && strcmp(want, "auto") ? "SI_FIRMWARE" :
	       uefi ? "/sys/firmware/efi exists" : "no /sys/firmware/efi");
	return 0;
}

/* What the layout boots with, for messages: "firmware=uefi", "no
 * firmware recorded". */
static const char *fw_recorded(const struct disklayout *dl, char *buf,
			       size_t n)
{
	if (dl->firmware)
		snprintf(buf, n, "recorded firmware=%s", dl->firmware);
	else
		snprintf(buf, n, "no firmware recorded");
	return buf;
}

static int plan_uefi(struct diskprep *dp, const struct dl_part *esp)
{
	const struct disklayout *dl = dp->dl;
	char fw[64];

	if (!esp)
		return error("cannot install for this node's UEFI firmware: "
			     "the layout of %s (%s%s) has no EFI system "
			     "partition (type %s, or ef on DOS, with vfat); "
			     "boot the node in legacy BIOS mode, capture a "
			     "golden client that has an ESP mounted at "
			     "/boot/efi, or set SI_FIRMWARE=bios to install "
			     "for BIOS anyway", dl->host ? dl->host : "the image",
			     fw_recorded(dl, fw, sizeof(fw)),
			     disklayout_bios_boot(dl) ?
			     ", a BIOS boot partition" : "", DL_TYPE_ESP);
	if (!dp->esp->mount || dp->esp->mount[0] != '/' ||
	    !strcmp(dp->esp->mount, "/"))
		return error("cannot install for this node's UEFI firmware: "
			     "the EFI system partition %s of the layout has no "
			     "mount point (want mount=/boot/efi)", esp->dev);
	notice("the layout boots with UEFI (%s): EFI system partition %s "
	       "at %s", fw_recorded(dl, fw, sizeof(fw)), esp->dev,
	       dp->esp->mount);
	return 0;
}

static int plan_bios(struct diskprep *dp, const struct dl_part *esp,
		     const struct dl_part *bb)
{
	const struct disklayout *dl = dp->dl;
	const struct dl_disk *d = &dl->disks[dp->boot_disk];
	int uefi_only = dl->firmware ? !strcmp(dl->firmware, "uefi") : !!esp;
	char fw[64];

	if (strcmp(d->table, "gpt") || bb) {
		notice("the layout boots with BIOS (%s): GRUB on %s%s%s",
		       fw_recorded(dl, fw, sizeof(fw)), dp->disks[dp->boot_disk],
		       bb ? ", BIOS boot partition " : " (DOS)",
		       bb ? bb->dev : "");
		return 0;
	}
	if (uefi_only)
		return error("cannot install for this node's BIOS firmware: "
			     "the layout of %s (%s%s) has a GPT disk %s "
			     "without a BIOS boot partition (type %s), where "
			     "GRUB for BIOS must go; boot the node with UEFI, "
			     "add a 1 MiB BIOS boot partition to the golden "
			     "client's disk and capture it again, or set "
			     "SI_FIRMWARE=uefi to install for UEFI anyway",
			     dl->host ? dl->host : "the image",
			     fw_recorded(dl, fw, sizeof(fw)),
			     esp ? ", an EFI system partition" : "", d->dev,
			     DL_TYPE_BIOS_BOOT);
	warning("the layout (%s) has a GPT disk %s without a BIOS boot "
		"partition: GRUB for BIOS may not install", fw_recorded(dl, fw,
		sizeof(fw)), d->dev);
	return 0;
}

/* Decides the node's firmware and whether the layout can boot with it. */
static int plan_boot(struct diskprep *dp, const char *want)
{
	const struct disklayout *dl = dp->dl;
	const struct dl_part *esp = disklayout_esp(dl, &dp->esp);
	const struct dl_part *bb = disklayout_bios_boot(dl);
	int num, i;

	if (node_firmware(dp, want) < 0)
		return -1;
	dp->boots = dl->firmware || esp || bb;
	if (!dp->boots) {
		verbose("the layout records no firmware, EFI system partition "
			"or BIOS boot partition: no boot checks");
		return 0;
	}
	if (bb && (i = locate(dl, bb->dev, &num)) >= 0)
		dp->boot_disk = (size_t)i;
	for (size_t k = 0; esp && k < dl->nfss; k++)
		if (&dl->fss[k] == dp->esp)
			dp->esp_dev = xstrdup(dp->fss[k].dev);
	return dp->firmware == DISKPREP_FW_UEFI ? plan_uefi(dp, esp) :
		plan_bios(dp, esp, bb);
}

int diskprep_plan(struct diskprep *dp, const struct disklayout *dl,
		  const struct diskprep_opts *o)
{
	dp->dl = dl;
	dp->root = xstrdup(o->root);
	dp->sys = xstrdup(o->sys ? o->sys : "/sys");
	dp->disks = xcalloc(dl->ndisks + 1, sizeof(char *));
	dp->disk_size = xcalloc(dl->ndisks + 1, sizeof(uint64_t));
	dp->disk_ss = xcalloc(dl->ndisks + 1, sizeof(unsigned));
	dp->fss = xcalloc(dl->nfss + 1, sizeof(*dp->fss));
	if (!dl->ndisks)
		return error("the layout records no disk");
	if (map_disks(dp, o->order) < 0)
		return -1;
	for (size_t i = 0; i < dl->ndisks; i++)
		if (check_disk(dp, i) < 0)
			return -1;
	if (plan_fs(dp) < 0 || plan_boot(dp, o->firmware) < 0)
		return -1;
	for (size_t i = 0; i < dl->ndisks; i++) {
		char h[32];

		notice("disk %s (%s) for %s of the layout (%s)", dp->disks[i],
		       human_bytes(h, sizeof(h), (double)dp->disk_size[i]),
		       dl->disks[i].dev, dl->disks[i].table);
	}
	return 0;
}

/* --- partitioning ---------------------------------------------------- */

/* Appends t to *s and frees t. */
static void cat(char **s, char *t)
{
	char *old = *s;

	*s = xasprintf("%s%s", old, t);
	free(old);
	free(t);
}

/* The sfdisk script for disk i. */
static char *sfdisk_script(struct diskprep *dp, size_t i)
{
	const struct dl_disk *d = &dp->dl->disks[i];
	uint64_t lss = d->sector_size, nss = dp->disk_ss[i];
	char *s = xasprintf("label: %s\nunit: sectors\n", d->table);

	if (d->id)
		cat(&s, xasprintf("label-id: %s\n", d->id));
	for (size_t k = 0; k < dp->dl->nparts; k++) {
		const struct dl_part *p = &dp->dl->parts[k];
		char *dev;

		if (strcmp(p->disk, d->dev))
			continue;
		dev = diskprep_partdev(dp->disks[i], p->num);
		cat(&s, xasprintf("%s : start=%llu", dev,
				  (unsigned long long)(p->start * lss / nss)));
		free(dev);
		if (!p->grow)
			cat(&s, xasprintf(", size=%llu", (unsigned long long)
					  (p->sectors * lss / nss)));
		cat(&s, xasprintf(", type=%s", p->type));
		if (p->uuid)
			cat(&s, xasprintf(", uuid=%s", p->uuid));
		if (p->name && !strchr(p->name, '"'))
			cat(&s, xasprintf(", name=\"%s\"", p->name));
		if (p->attrs && !strchr(p->attrs, '"'))
			cat(&s, xasprintf(", attrs=\"%s\"", p->attrs));
		cat(&s, xstrdup(p->bootable ? ", bootable\n" : "\n"));
	}
	return s;
}

/* Runs argv; on failure reports its stderr, as a warning when warn is
 * set.  Returns 0 or -1. */
static int run(const char *what, const char *const *argv, const char *input,
	       int warn)
{
	char *err = NULL, *out = NULL, *line = command_line(argv);
	int rc;

	verbose("running %s", line);
	rc = command_run_input(argv, input, &out, &err);
	if (out && *out)
		debug("%s: %s", argv[0], out);
	free(out);
	if (rc > 0) {
		char *e = err ? err : xstrdup("");

		while (*e && e[strlen(e) - 1] == '\n')
			e[strlen(e) - 1] = '\0';
		if (warn)
			warning("cannot %s: '%s' exited with %d%s%s", what,
				line, rc, *e ? ": " : "", e);
		else
			error("cannot %s: '%s' exited with %d%s%s", what, line,
			      rc, *e ? ": " : "", e);
		err = e;
	}
	free(err);
	free(line);
	return rc ? -1 : 0;
}

/* Whether the partition device exists with the expected size. */
static int part_ready(struct diskprep *dp, const char *dev, uint64_t sectors,
		      int grow)
{
	char *p = xasprintf("%s/class/block/%s/size", dp->sys, base_name(dev));
	struct stat st;
	uint64_t n;
	int ok = sys_u64(p, &n) == 0 && (grow || n == sectors);

	free(p);
	if (ok && stat(dev, &st) < 0) {
		/* A /dev without devtmpfs: make the node ourselves. */
		unsigned ma, mi;
		char *t;

		p = xasprintf("%s/class/block/%s/dev", dp->sys, base_name(dev));
		t = read_file(p, NULL, 1);
		if (t && sscanf(t, "%u:%u", &ma, &mi) == 2)
			mknod(dev, S_IFBLK | 0660, makedev(ma, mi));
		free(t);
		free(p);
	}
	return ok && stat(dev, &st) == 0 && S_ISBLK(st.st_mode);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Waits (10 s at most) for every partition device of disk i; asks the
 * kernel with partx when it does not see them by itself (loop devices). */
static int wait_parts(struct diskprep *dp, size_t i)
{
	const struct dl_disk *d = &dp->dl->disks[i];
	const char *disk = dp->disks[i];

	for (int t = 0; t < 200; t++) {
		int all = 1;

		for (size_t k = 0; k < dp->dl->nparts && all; k++) {
			const struct dl_part *p = &dp->dl->parts[k];
			char *dev;

			if (strcmp(p->disk, d->dev))
				continue;
			dev = diskprep_partdev(disk, p->num);
			/* An extended DOS partition shows as 1 KiB. */
			all = part_ready(dp, dev, p->sectors * d->sector_size /
					 dp->disk_ss[i] * dp->disk_ss[i] / 512,
					 p->grow || !strcmp(p->type, "5") ||
					 !strcmp(p->type, "f") ||
					 !strcmp(p->type, "85"));
			free(dev);
		}
		if (all)
			return 0;
		if (t == 20 || t == 100) {
			const char *u[] = { "partx", "-u", disk, NULL };
			const char *a[] = { "partx", "-a", disk, NULL };

			char *o1 = NULL, *e1 = NULL, *o2 = NULL, *e2 = NULL;

			verbose("asking the kernel for the partitions of %s", disk);
			command_run(u, &o1, &e1);
			command_run(a, &o2, &e2);
			free(o1);
			free(e1);
			free(o2);
			free(e2);
		}
		sleep_ms(50);
	}
	return error("the partitions of %s do not appear (tried partx)", disk);
}

static int partition(struct diskprep *dp, size_t i)
{
	const char *argv[] = { "sfdisk", "--quiet", "--wipe", "always",
			       "--wipe-partitions", "always",
			       dp->disks[i], NULL };
	const char *rr[] = { "blockdev", "--rereadpt", dp->disks[i], NULL };
	char *script = sfdisk_script(dp, i);
	int ret;

	debug("sfdisk script for %s:\n%s", dp->disks[i], script);
	notice("partitioning %s (%s)", dp->disks[i], dp->dl->disks[i].table);
	ret = run("partition the disk", argv, script, 0);
	free(script);
	if (ret < 0)
		return -1;
	/* sfdisk re-reads the table only on the disks it can; loop devices
	 * without partition scanning are left to partx in wait_parts(). */
	char *o = NULL, *e = NULL;

	if (command_run(rr, &o, &e) != 0)
		verbose("re-reading the partition table of %s failed",
			dp->disks[i]);
	free(o);
	free(e);
	return wait_parts(dp, i);
}

/* --- filesystems ----------------------------------------------------- */

/* ext* features for mke2fs -O: the recorded list minus the states that
 * are not features one can ask for. */
static char *ext_features(const char *features)
{
	char *copy = xstrdup(features), *save = NULL, *w;
	char *s = xstrdup("none");

	for (w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		char *old = s;

		if (!strcmp(w, "needs_recovery") || !strcmp(w, "orphan_present"))
			continue;
		s = xasprintf("%s,%s", old, w);
		free(old);
	}
	free(copy);
	return s;
}

static int make_fs(struct diskprep_fs *f)
{
	const struct dl_fs *r = f->fs;
	const char *argv[24];
	char *prog = NULL, *bs = NULL, *is = NULL, *feat = NULL, *volid = NULL;
	int n = 0, ret;

	if (!strcmp(r->type, "swap")) {
		argv[n++] = "mkswap";
		argv[n++] = "-f";
	} else if (!strncmp(r->type, "ext", 3)) {
		argv[n++] = prog = xasprintf("mkfs.%s", r->type);
		argv[n++] = "-F";
		argv[n++] = "-q";
		if (r->block_size) {
			argv[n++] = "-b";
			argv[n++] = bs = xasprintf("%u", r->block_size);
		}
		if (r->inode_size) {
			argv[n++] = "-I";
			argv[n++] = is = xasprintf("%u", r->inode_size);
		}
		if (r->features) {
			argv[n++] = "-O";
			argv[n++] = feat = ext_features(r->features);
		}
	} else if (!strcmp(r->type, "vfat")) {
		argv[n++] = "mkfs.fat";
		if (r->version && !strncmp(r->version, "FAT", 3)) {
			argv[n++] = "-F";
			argv[n++] = r->version + 3;
		}
		if (r->uuid && strlen(r->uuid) == 9 && r->uuid[4] == '-') {
			volid = xasprintf("%.4s%s", r->uuid, r->uuid + 5);
			argv[n++] = "-i";
			argv[n++] = volid;
		}
		if (r->label) {
			argv[n++] = "-n";
			argv[n++] = r->label;
		}
	} else {
		argv[n++] = prog = xasprintf("mkfs.%s", r->type);
		argv[n++] = "-f";
		if (r->uuid && !strcmp(r->type, "xfs")) {
			argv[n++] = "-m";
			argv[n++] = volid = xasprintf("uuid=%s", r->uuid);
		}
	}
	if (r->uuid && strcmp(r->type, "vfat") && strcmp(r->type, "xfs")) {
		argv[n++] = "-U";
		argv[n++] = r->uuid;
	}
	if (r->label && strcmp(r->type, "vfat")) {
		argv[n++] = "-L";
		argv[n++] = r->label;
	}
	argv[n++] = f->dev;
	argv[n] = NULL;
	notice("making %s on %s%s%s", r->type, f->dev,
	       r->mount ? " for " : "", r->mount ? r->mount : "");
	ret = run("make a filesystem", argv, NULL, 0);
	free(prog);
	free(bs);
	free(is);
	free(feat);
	free(volid);
	return ret;
}

/* Reads the UUID back: the one asked for, or a new one when none was. */
static int read_uuid(struct diskprep_fs *f)
{
	const char *argv[] = { "blkid", "-p", "-s", "UUID", "-o", "value",
			       f->dev, NULL };
	char *out = NULL;
	int rc = command_run(argv, &out, NULL);

	if (rc != 0 || !out || !*out) {
		free(out);
		return error("cannot read the UUID of %s (blkid exited %d)",
			     f->dev, rc);
	}
	out[strcspn(out, "\n")] = '\0';
	f->uuid = out;
	return 0;
}

/* --- mounting -------------------------------------------------------- */

static int depth(const char *path)
{
	int n = 0;

	for (const char *p = path; *p; p++)
		n += *p == '/' && p[1] && p[1] != '/';
	return n;
}

static int mountable(const struct dl_fs *f)
{
	return f->mount && f->mount[0] == '/' && strcmp(f->type, "swap");
}

static void note_mount(char ***v, size_t *n, const char *path)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(char *));
	(*v)[(*n)++] = xstrdup(path);
}

static int mount_all(struct diskprep *dp)
{
	const struct disklayout *dl = dp->dl;

	for (int dep = 0; dep < 64; dep++) {
		for (size_t k = 0; k < dl->nfss; k++) {
			struct diskprep_fs *f = &dp->fss[k];
			char *at;

			if (!mountable(f->fs) || depth(f->fs->mount) != dep)
				continue;
			at = strcmp(f->fs->mount, "/") ? path_join(dp->root,
				f->fs->mount) : xstrdup(dp->root);
			if (mkdir_p(at, 0755) < 0) {
				free(at);
				return -1;
			}
			if (mount(f->dev, at, f->fs->type, 0, NULL) < 0) {
				error_errno("cannot mount %s (%s) on '%s'",
					    f->dev, f->fs->type, at);
				free(at);
				return -1;
			}
			notice("mounted %s on %s", f->dev, at);
			note_mount(&dp->mounted, &dp->nmounted, at);
			free(at);
		}
	}
	return 0;
}

int diskprep_apply(struct diskprep *dp)
{
	for (size_t i = 0; i < dp->dl->ndisks; i++)
		if (partition(dp, i) < 0)
			return -1;
	for (size_t k = 0; k < dp->dl->nfss; k++)
		if (make_fs(&dp->fss[k]) < 0 || read_uuid(&dp->fss[k]) < 0)
			return -1;
	return mount_all(dp);
}

/* --- fstab ----------------------------------------------------------- */

static const struct dl_fstab *recorded(const struct disklayout *dl,
				       const char *file)
{
	for (size_t i = 0; i < dl->nfstab; i++)
		if (!strcmp(dl->fstab[i].file, file))
			return &dl->fstab[i];
	return NULL;
}

static void fstab_line(char **s, const char *spec, const char *file,
		       const char *type, const char *options, int freq,
		       int passno)
{
	char *e[4] = { disklayout_escape(spec), disklayout_escape(file),
		       disklayout_escape(type), disklayout_escape(options) };
	char *old = *s;

	*s = xasprintf("%s%s\t%s\t%s\t%s\t%d\t%d\n", old, e[0], e[1], e[2],
		       e[3], freq, passno);
	free(old);
	for (int i = 0; i < 4; i++)
		free(e[i]);
}

int diskprep_fstab(struct diskprep *dp)
{
	const struct disklayout *dl = dp->dl;
	char *s = xstrdup("# /etc/fstab: written by si_boel from the disk "
			  "layout (UUID= of the filesystems it made)\n");
	char *etc = path_join(dp->root, "etc"), *path;
	int ret;

	for (size_t k = 0; k < dl->nfss; k++) {
		const struct diskprep_fs *f = &dp->fss[k];
		const struct dl_fstab *r;
		char *spec;
		int swap = !strcmp(f->fs->type, "swap");

		if (!swap && !mountable(f->fs))
			continue;
		r = swap ? NULL : recorded(dl, f->fs->mount);
		spec = xasprintf("UUID=%s", f->uuid);
		fstab_line(&s, spec, swap ? "none" : f->fs->mount, f->fs->type,
			   f->fs->options ? f->fs->options :
			   swap ? "sw" : "defaults", r ? r->freq : 0,
			   r ? r->passno : swap || !strcmp(f->fs->type, "vfat") ?
			   0 : !strcmp(f->fs->mount, "/") ? 1 : 2);
		free(spec);
	}
	/* The other recorded lines: network, memory filesystems, binds. */
	for (size_t i = 0; i < dl->nfstab; i++) {
		const struct dl_fstab *r = &dl->fstab[i];
		int made = !strcmp(r->type, "swap");

		for (size_t k = 0; k < dl->nfss && !made; k++)
			made = mountable(dp->fss[k].fs) &&
				!strcmp(dp->fss[k].fs->mount, r->file);
		if (!made)
			fstab_line(&s, r->spec, r->file, r->type, r->options,
				   r->freq, r->passno);
	}
	path = path_join(etc, "fstab");
	ret = mkdir_p(etc, 0755) < 0 ? -1 :
		write_file_atomic(path, s, strlen(s), 0644);
	if (!ret)
		notice("wrote %s", path);
	free(path);
	free(etc);
	free(s);
	return ret;
}

/* --- bootloader ------------------------------------------------------ */

static int bind_into(struct diskprep *dp, const char *what)
{
	char *at = path_join(dp->root, what);
	int ret = 0;

	if (mkdir_p(at, 0755) < 0 || mount(what, at, NULL, MS_BIND | MS_REC,
					   NULL) < 0)
		ret = error_errno("cannot bind '%s' on '%s'", what, at);
	else
		note_mount(&dp->bound, &dp->nbound, at);
	free(at);
	return ret;
}

/* The boot entry's name: the image's os-release ID ("debian"), as
 * grub-install wants it (a directory name under EFI/). */
static char *distributor(struct diskprep *dp)
{
	char *p = path_join(dp->root, "etc/os-release");
	char *t = read_file(p, NULL, 1), *id = NULL;

	for (char *l = t; l && *l && !id; l = strchr(l, '\n') ?
	     strchr(l, '\n') + 1 : NULL) {
		size_t n;

		if (strncmp(l, "ID=", 3))
			continue;
		l += 3 + (l[3] == '"');
		n = strspn(l, "abcdefghijklmnopqrstuvwxyz0123456789._-");
		if (n)
			id = strndup(l, n);
	}
	free(t);
	free(p);
	return id ? id : xstrdup("debian");
}

/* Mounts efivarfs on the chroot's /sys/firmware/efi/efivars unless it is
 * there already (the bound /sys brings the node's when it has one).
 * Returns 0, or -1 (no message) when the node has no EFI variables. */
static int efivars_into(struct diskprep *dp)
{
	char *at = path_join(dp->root, "sys/firmware/efi/efivars");
	struct stat st;
	int ret = 0;

	if (stat(at, &st) < 0 || !S_ISDIR(st.st_mode))
		ret = -1;
	else if (mount("efivarfs", at, "efivarfs", 0, NULL) == 0)
		note_mount(&dp->bound, &dp->nbound, at);
	else if (errno != EBUSY)
		ret = -1;	/* EBUSY: mounted already */
	free(at);
	return ret;
}

static int install_bios(struct diskprep *dp)
{
	const char *disk = dp->disks[dp->boot_disk];
	const char *inst[] = { "chroot", dp->root, "grub-install",
			       "--target=i386-pc", disk, NULL };

	notice("installing GRUB (i386-pc) on %s", disk);
	return run("install the bootloader", inst, NULL, 0);
}

static int install_uefi(struct diskprep *dp)
{
	char *mods = path_join(dp->root, "usr/lib/grub/x86_64-efi");
	char *efidir = xasprintf("--efi-directory=%s", dp->esp->mount);
	char *id = distributor(dp), *idopt = xasprintf("--bootloader-id=%s", id);
	char *efi = path_join(dp->sys, "firmware/efi");
	const char *removable[] = { "chroot", dp->root, "grub-install",
				    "--target=x86_64-efi", efidir, "--removable",
				    "--no-nvram", NULL };
	const char *entry[] = { "chroot", dp->root, "grub-install",
				"--target=x86_64-efi", efidir, idopt, NULL };
	struct stat st;
	int ret;

	if (stat(mods, &st) < 0 || !S_ISDIR(st.st_mode)) {
		ret = error("cannot install GRUB for UEFI: the image has no "
			    "x86_64-efi GRUB modules ('%s'; Debian's package "
			    "grub-efi-amd64-bin)", mods);
		goto out;
	}
	notice("installing GRUB (x86_64-efi) in the EFI system partition %s "
	       "at %s (EFI/BOOT/BOOTX64.EFI)", dp->esp_dev, dp->esp->mount);
	ret = run("install the bootloader", removable, NULL, 0);
	if (ret < 0)
		goto out;
	if (stat(efi, &st) < 0 || efivars_into(dp) < 0) {
		notice("no EFI variables on this node (%s): no boot entry "
		       "registered; the firmware boots EFI/BOOT/BOOTX64.EFI",
		       efi);
		goto out;
	}
	notice("registering the UEFI boot entry '%s' (EFI/%s/grubx64.efi)",
	       id, id);
	if (run("register a UEFI boot entry", entry, NULL, 1) < 0)
		warning("no UEFI boot entry for %s: the firmware boots "
			"EFI/BOOT/BOOTX64.EFI, the removable media path", id);
	else {
		char *vars = path_join(dp->root, "sys/firmware/efi/efivars");

		/* A warning only: the disk boots either way. */
		if (efivar_keep_network_first(vars, id) < 0)
			warning("the network boot entry may no longer come "
				"first: the node boots its disk directly");
		free(vars);
	}
out:
	free(mods);
	free(efidir);
	free(id);
	free(idopt);
	free(efi);
	return ret;
}

int diskprep_bootloader(struct diskprep *dp, int *done)
{
	char *gi = path_join(dp->root, "usr/sbin/grub-install");
	char *ug = path_join(dp->root, "usr/sbin/update-grub");
	const char *upd[] = { "chroot", dp->root, "update-grub", NULL };
	const char *mkc[] = { "chroot", dp->root, "grub-mkconfig", "-o",
			      "/boot/grub/grub.cfg", NULL };
	int have = access(gi, X_OK) == 0, ret = 0;

	*done = 0;
	if (!have)
		verbose("no %s in the image: no bootloader installed", gi);
	else if (dp->firmware == DISKPREP_FW_UEFI && !dp->esp)
		notice("the layout has no EFI system partition: no boot "
		       "loader installed on this UEFI node");
	else if (bind_into(dp, "/dev") < 0 || bind_into(dp, "/proc") < 0 ||
		 bind_into(dp, "/sys") < 0)
		ret = -1;
	else {
		ret = dp->firmware == DISKPREP_FW_UEFI ? install_uefi(dp) :
			install_bios(dp);
		if (!ret)
			ret = run("write the GRUB configuration",
				  access(ug, X_OK) == 0 ? upd : mkc, NULL, 0);
		*done = !ret;
	}
	free(gi);
	free(ug);
	return ret;
}

/* --- unmounting ------------------------------------------------------ */

static int umount_one(const char *at)
{
	for (int t = 0; t < 50; t++) {
		if (umount2(at, 0) == 0)
			return 0;
		if (errno != EBUSY)
			break;
		sleep_ms(100);
	}
	if (errno == EINVAL || errno == ENOENT)
		return 0;
	error_errno("cannot unmount '%s'", at);
	umount2(at, MNT_DETACH);
	return -1;
}

int diskprep_umount(struct diskprep *dp)
{
	int ret = 0;

	sync();
	while (dp->nbound) {
		char *at = dp->bound[--dp->nbound];

		umount2(at, MNT_DETACH);
		free(at);
	}
	while (dp->nmounted) {
		char *at = dp->mounted[--dp->nmounted];

		if (umount_one(at) < 0)
			ret = -1;
		else
			verbose("unmounted %s", at);
		free(at);
	}
	return ret;
}
