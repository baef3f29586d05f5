/* diskprobe.c - see diskprobe.h */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "command.h"
#include "diskprobe.h"
#include "log.h"
#include "util.h"

int diskprobe_local_fstype(const char *type)
{
	static const char *local[] = {
		"ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "msdos",
		"exfat", "f2fs", "jfs", "reiserfs", "ntfs", "ntfs3", "hfsplus",
		"nilfs2", "zfs", "bcachefs",
	};

	for (size_t i = 0; i < ARRAY_SIZE(local); i++)
		if (!strcmp(type, local[i]))
			return 1;
	return 0;
}

/* Reads a small sysfs number; returns 0 when absent. */
static uint64_t sys_u64(dev_t rdev, const char *what)
{
	char *path = xasprintf("/sys/dev/block/%u:%u/%s", major(rdev),
			       minor(rdev), what);
	char *text = read_file(path, NULL, 1);
	uint64_t v = 0;

	if (text)
		v = strtoull(text, NULL, 10);
	free(text);
	free(path);
	return v;
}

/* Returns "KEY=value\n" lines' value for key from blkid export output,
 * newly allocated, or NULL. */
static char *export_get(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ?
	     strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, key, kl) && l[kl] == '=') {
			const char *v = l + kl + 1;
			size_t n = strcspn(v, "\n");
			char *out = xmalloc(n + 1), *o = out;

			/* blkid -o export escapes shell specials with '\'. */
			for (size_t i = 0; i < n; i++) {
				if (v[i] == '\\' && i + 1 < n)
					i++;
				*o++ = v[i];
			}
			*o = '\0';
			return out;
		}
	}
	return NULL;
}

/* Returns the value after "key:" in tune2fs -l output, trimmed, or NULL. */
static char *tune2fs_get(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ?
	     strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, key, kl) && l[kl] == ':') {
			const char *v = l + kl + 1;

			v += strspn(v, " \t");
			return strndup(v, strcspn(v, "\n"));
		}
	}
	return NULL;
}

static void probe_ext(struct dl_fs *fs)
{
	const char *argv[] = { "tune2fs", "-l", fs->dev, NULL };
	char *out, *err, *v;

	if (command_run(argv, &out, &err) != 0) {
		warning("cannot read ext parameters of '%s' with tune2fs",
			fs->dev);
		goto out;
	}
	if ((v = tune2fs_get(out, "Block size")))
		fs->block_size = strtoul(v, NULL, 10);
	free(v);
	if ((v = tune2fs_get(out, "Inode size")))
		fs->inode_size = strtoul(v, NULL, 10);
	free(v);
	if ((v = tune2fs_get(out, "Filesystem features"))) {
		for (char *p = v; *p; p++)
			if (*p == ' ')
				*p = ',';
		fs->features = v;
	}
out:
	free(out);
	free(err);
}

/* Records the filesystem on dev, if blkid finds one.  Returns the record
 * or NULL. */
static struct dl_fs *probe_fs(struct disklayout *dl, const char *dev)
{
	const char *argv[] = { "blkid", "-p", "-o", "export", dev, NULL };
	char *out, *err, *type, *v;
	struct dl_fs *fs = NULL;
	int rc = command_run(argv, &out, &err);

	/* Exit 2 and silence: nothing found. */
	if (rc < 0)
		goto out;
	if (rc != 0) {
		if (rc != 2 || (err && *err)) {
			err[strcspn(err, "\n")] = '\0';
			warning("cannot probe '%s' with blkid: %s", dev, err);
		}
		goto out;
	}
	type = export_get(out, "TYPE");
	if (!type)
		goto out;
	fs = disklayout_add_fs(dl);
	fs->dev = xstrdup(dev);
	fs->type = type;
	fs->uuid = export_get(out, "UUID");
	fs->label = export_get(out, "LABEL");
	fs->version = export_get(out, "VERSION");
	if ((v = export_get(out, "BLOCK_SIZE")))
		fs->block_size = strtoul(v, NULL, 10);
	free(v);
	if (!strncmp(type, "ext", 3))
		probe_ext(fs);
out:
	free(out);
	free(err);
	return fs;
}

/* Splits one sfdisk --dump partition line's fields ("start= 2048,
 * size= 10, type=83, name=\"x, y\"") and fills p. */
static void parse_sfdisk_fields(struct dl_part *p, const char *s)
{
	while (*s) {
		const char *k = s + strspn(s, " ,"), *eq, *v;
		char *val;
		size_t kl, vl;

		if (!*k)
			break;
		kl = strcspn(k, "=,");
		eq = k + kl;
		if (*eq != '=') {	/* a flag such as "bootable" */
			if (kl == 8 && !strncmp(k, "bootable", 8))
				p->bootable = 1;
			s = eq;
			continue;
		}
		v = eq + 1 + strspn(eq + 1, " ");
		if (*v == '"') {
			vl = strcspn(v + 1, "\"");
			val = strndup(v + 1, vl);
			s = v + 1 + vl + (v[1 + vl] == '"');
		} else {
			vl = strcspn(v, ",");
			while (vl && v[vl - 1] == ' ')
				vl--;
			val = strndup(v, vl);
			s = v + strcspn(v, ",");
		}
#define KEY(n) (kl == strlen(n) && !strncmp(k, n, kl))
		if (KEY("start"))
			p->start = strtoull(val, NULL, 10);
		else if (KEY("size"))
			p->sectors = strtoull(val, NULL, 10);
		else if (KEY("type") && !p->type)
			p->type = xstrdup(val);
		else if (KEY("uuid") && !p->uuid)
			p->uuid = xstrdup(val);
		else if (KEY("name") && !p->name)
			p->name = xstrdup(val);
		else if (KEY("attrs") && !p->attrs)
			p->attrs = xstrdup(val);
#undef KEY
		free(val);
	}
}

static int part_number(const char *dev)
{
	size_t n = strlen(dev);

	while (n && isdigit((unsigned char)dev[n - 1]))
		n--;
	return atoi(dev + n);
}

static const char *header_value(const char *line, const char *key)
{
	size_t kl = strlen(key);

	if (strncmp(line, key, kl) || line[kl] != ':')
		return NULL;
	return line + kl + 1 + strspn(line + kl + 1, " ");
}

/* Parses sfdisk --dump of disk d. */
static void parse_sfdisk(struct disklayout *dl, struct dl_disk *d,
			 char *text)
{
	char *save = NULL;
	const char *v;

	for (char *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char *sep = strstr(l, " : ");

		if ((v = header_value(l, "label"))) {
			free(d->table);
			d->table = xstrdup(v);
		} else if ((v = header_value(l, "label-id"))) {
			d->id = xstrdup(v);
		} else if ((v = header_value(l, "first-lba"))) {
			d->first_lba = strtoull(v, NULL, 10);
		} else if ((v = header_value(l, "last-lba"))) {
			d->last_lba = strtoull(v, NULL, 10);
		} else if ((v = header_value(l, "sector-size"))) {
			d->sector_size = strtoul(v, NULL, 10);
		} else if (sep && l[0] == '/') {
			struct dl_part *p = disklayout_add_part(dl);

			*sep = '\0';
			p->disk = xstrdup(d->dev);
			p->dev = xstrdup(l);
			p->num = part_number(l);
			parse_sfdisk_fields(p, sep + 3);
			p->size = p->sectors * d->sector_size;
		}
	}
}

static int is_extended(const char *type)
{
	return !strcasecmp(type, "5") || !strcasecmp(type, "f") ||
		!strcasecmp(type, "85");
}

/* The last partition of a disk may grow to fill a bigger disk (and the
 * extended partition holding it), unless it is swap. */
static void mark_grow(struct disklayout *dl, size_t first)
{
	struct dl_part *last = NULL;

	for (size_t i = first; i < dl->nparts; i++)
		if (!is_extended(dl->parts[i].type) &&
		    (!last || dl->parts[i].start > last->start))
			last = &dl->parts[i];
	if (!last)
		return;
	const struct dl_fs *fs = disklayout_fs(dl, last->dev);

	if (fs && !strcmp(fs->type, "swap"))
		return;
	last->grow = 1;
	for (size_t i = first; i < dl->nparts; i++) {
		struct dl_part *e = &dl->parts[i];

		if (is_extended(e->type) && last->start >= e->start &&
		    last->start < e->start + e->sectors)
			e->grow = 1;
	}
}

static int probe_disk(struct disklayout *dl, const char *dev)
{
	const char *argv[] = { "sfdisk", "--dump", dev, NULL };
	struct dl_disk *d;
	struct stat st;
	char *out, *err;
	size_t first;
	int rc;

	if (stat(dev, &st) < 0)
		return error_errno("cannot probe disk '%s'", dev);
	if (!S_ISBLK(st.st_mode))
		return error("cannot probe disk '%s': not a block device", dev);
	d = disklayout_add_disk(dl);
	d->dev = xstrdup(dev);
	d->size = sys_u64(st.st_rdev, "size") * 512;
	d->sector_size = sys_u64(st.st_rdev, "queue/logical_block_size");
	if (!d->sector_size)
		d->sector_size = 512;
	rc = command_run(argv, &out, &err);
	if (rc < 0)
		return -1;
	first = dl->nparts;
	if (rc == 0) {
		d->table = xstrdup("none");
		parse_sfdisk(dl, d, out);
	} else {
		d->table = xstrdup("none");
		verbose("no partition table on '%s'", dev);
	}
	free(out);
	free(err);
	/* probe_fs() adds records: copy the name before each call. */
	for (size_t i = first; i < dl->nparts; i++) {
		char *pdev = xstrdup(dl->parts[i].dev);

		probe_fs(dl, pdev);
		free(pdev);
	}
	if (first == dl->nparts)
		probe_fs(dl, dev);	/* a filesystem on the whole disk */
	mark_grow(dl, first);
	return 0;
}

/* Every whole disk of the machine, from /sys/block (no loop, ram, zram,
 * optical, floppy, device-mapper or md devices). */
static char **list_disks(size_t *n)
{
	static const char *skip[] = { "loop", "ram", "zram", "sr", "fd", "dm-",
				      "md", "nbd" };
	DIR *d = opendir("/sys/block");
	struct dirent *de;
	char **list = NULL;

	*n = 0;
	if (!d) {
		warning_errno("cannot list disks in '/sys/block'");
		return NULL;
	}
	while ((de = readdir(d))) {
		size_t i;

		if (de->d_name[0] == '.')
			continue;
		for (i = 0; i < ARRAY_SIZE(skip); i++)
			if (!strncmp(de->d_name, skip[i], strlen(skip[i])))
				break;
		if (i < ARRAY_SIZE(skip))
			continue;
		list = xrealloc(list, (*n + 2) * sizeof(*list));
		list[(*n)++] = xasprintf("/dev/%s", de->d_name);
		list[*n] = NULL;
	}
	closedir(d);
	return list;
}

static int same_device(const char *a, const char *b)
{
	struct stat sa, sb;

	if (!strcmp(a, b))
		return 1;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
		S_ISBLK(sa.st_mode) && S_ISBLK(sb.st_mode) &&
		sa.st_rdev == sb.st_rdev;
}

/* Returns path relative to root ("/" for root itself), newly allocated,
 * or NULL if path is not under root. */
static char *under_root(const char *root, const char *path)
{
	size_t rl = strlen(root);

	if (!strcmp(root, "/"))
		return xstrdup(path);
	if (strncmp(path, root, rl) || (path[rl] && path[rl] != '/'))
		return NULL;
	return xstrdup(path[rl] ? path + rl : "/");
}

/* Reads /proc/self/mountinfo: the mounts under root. */
static int probe_mounts(struct disklayout *dl, const char *root)
{
	char *text = read_file("/proc/self/mountinfo", NULL, 0), *save = NULL;

	if (!text)
		return -1;
	for (char *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char *f[6], *w, *s2 = NULL, *dash = strstr(l, " - "), *rel;
		int n = 0;

		if (!dash)
			continue;
		*dash = '\0';
		for (w = strtok_r(l, " ", &s2); w && n < 6;
		     w = strtok_r(NULL, " ", &s2))
			f[n++] = w;
		if (n < 6)
			continue;
		char *type = strtok_r(dash + 3, " ", &s2);
		char *source = strtok_r(NULL, " ", &s2);

		if (!type)
			continue;
		disklayout_unescape(f[4]);
		rel = under_root(root, f[4]);
		if (!rel)
			continue;
		struct dl_mount *m = disklayout_add_mount(dl);

		m->path = rel;
		m->type = xstrdup(type);
		if (source) {
			disklayout_unescape(source);
			m->source = xstrdup(source);
		}
		m->options = xstrdup(f[5]);
		/* A bind mount shows a tree that is in the image already
		 * (btrfs subvolumes look alike and are real mounts). */
		m->local = diskprobe_local_fstype(type) &&
			(!strcmp(f[3], "/") || !strcmp(type, "btrfs"));
	}
	free(text);
	return 0;
}

static void probe_swapfiles(struct disklayout *dl, const char *root)
{
	char *text = read_file("/proc/swaps", NULL, 1), *save = NULL;

	if (!text)
		return;
	for (char *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char path[4096], type[32];
		unsigned long long kb;

		if (sscanf(l, "%4095s %31s %llu", path, type, &kb) != 3 ||
		    strcmp(type, "file"))
			continue;
		disklayout_unescape(path);
		char *rel = under_root(root, path);

		if (rel) {
			struct dl_swapfile *s = disklayout_add_swapfile(dl);

			s->path = rel;
			s->size = kb * 1024;
		}
	}
	free(text);
}

static void probe_fstab(struct disklayout *dl, const char *root)
{
	char *path = path_join(root, "etc/fstab");
	char *text = read_file(path, NULL, 1), *save = NULL;

	free(path);
	if (!text)
		return;
	for (char *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char *f[6] = { 0 }, *s2 = NULL;
		int n = 0;

		l += strspn(l, " \t");
		if (*l == '#' || !*l)
			continue;
		for (char *w = strtok_r(l, " \t", &s2); w && n < 6;
		     w = strtok_r(NULL, " \t", &s2))
			f[n++] = w;
		if (n < 3)
			continue;
		struct dl_fstab *e = disklayout_add_fstab(dl);

		for (int i = 0; i < 4 && f[i]; i++)
			disklayout_unescape(f[i]);
		e->spec = xstrdup(f[0]);
		e->file = xstrdup(f[1]);
		e->type = xstrdup(f[2]);
		e->options = xstrdup(f[3] ? f[3] : "defaults");
		e->freq = f[4] ? atoi(f[4]) : 0;
		e->passno = f[5] ? atoi(f[5]) : 0;
	}
	free(text);
}

static int fstab_matches(const struct dl_fstab *e, const struct dl_fs *fs,
			 const struct dl_part *p)
{
	const char *s = e->spec;

	if (!strncmp(s, "UUID=", 5))
		return fs->uuid && !strcasecmp(s + 5, fs->uuid);
	if (!strncmp(s, "LABEL=", 6))
		return fs->label && !strcmp(s + 6, fs->label);
	if (!strncmp(s, "PARTUUID=", 9))
		return p && p->uuid && !strcasecmp(s + 9, p->uuid);
	if (!strncmp(s, "PARTLABEL=", 10))
		return p && p->name && !strcmp(s + 10, p->name);
	return same_device(s, fs->dev);
}

/* Where each filesystem is mounted: the live mount of that device under
 * root, else its fstab entry. */
static void resolve_mounts(struct disklayout *dl)
{
	for (size_t i = 0; i < dl->nfss; i++) {
		struct dl_fs *fs = &dl->fss[i];
		const struct dl_part *p = NULL;

		for (size_t j = 0; j < dl->nparts; j++)
			if (!strcmp(dl->parts[j].dev, fs->dev))
				p = &dl->parts[j];
		for (size_t j = 0; j < dl->nfstab; j++) {
			if (!fstab_matches(&dl->fstab[j], fs, p))
				continue;
			fs->mount = xstrdup(dl->fstab[j].file);
			fs->options = xstrdup(dl->fstab[j].options);
			break;
		}
		for (size_t j = 0; !fs->mount && j < dl->nmounts; j++)
			if (dl->mounts[j].source &&
			    same_device(dl->mounts[j].source, fs->dev))
				fs->mount = xstrdup(dl->mounts[j].path);
		if (!strcmp(fs->type, "swap") &&
		    (!fs->mount || !strcmp(fs->mount, "none"))) {
			free(fs->mount);
			fs->mount = xstrdup("swap");
		}
	}
}

static int excluded(const struct diskprobe_opts *o, const char *dev)
{
	for (size_t i = 0; i < o->nexclude; i++)
		if (same_device(o->exclude[i], dev))
			return 1;
	return 0;
}

const char *diskprobe_firmware(const char *sys)
{
	char *efi = path_join(sys ? sys : "/sys", "firmware/efi");
	struct stat st;
	int uefi = stat(efi, &st) == 0 && S_ISDIR(st.st_mode);

	free(efi);
	return uefi ? "uefi" : "bios";
}

int diskprobe_run(struct disklayout *dl, const struct diskprobe_opts *o)
{
	char host[256] = "";
	char **all = NULL;
	const char *const *disks = o->disks;
	size_t n = o->ndisks;
	int ret = 0;

	if (gethostname(host, sizeof(host) - 1) == 0)
		dl->host = xstrdup(host);
	dl->firmware = xstrdup(diskprobe_firmware(o->sys));
	if (!disks && !strcmp(o->root, "/")) {
		all = list_disks(&n);
		disks = (const char *const *)all;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		if (excluded(o, disks[i])) {
			verbose("not recording excluded disk '%s'", disks[i]);
			continue;
		}
		ret = probe_disk(dl, disks[i]);
	}
	if (!ret)
		ret = probe_mounts(dl, o->root);
	if (!ret) {
		probe_swapfiles(dl, o->root);
		probe_fstab(dl, o->root);
		resolve_mounts(dl);
	}
	for (size_t i = 0; all && all[i]; i++)
		free(all[i]);
	free(all);
	return ret;
}
