/* stage.c - see stage.h */
#include <errno.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "log.h"
#include "stage.h"
#include "util.h"

#define TMPFS_MAGIC_ 0x01021994
#define RAMFS_MAGIC_ 0x858458f6
#define BREATHING (100ULL << 20)

uint64_t stage_needed(uint64_t size)
{
	uint64_t extra = size / 10;

	return size + (extra > BREATHING ? extra : BREATHING);
}

uint64_t stage_target_needed(const struct stage_request *req)
{
	return req->unpacked ? req->unpacked + req->entries * 4096 : 0;
}

/* Whether a and b are on one file system. */
static int same_fs(const char *a, const char *b)
{
	struct stat sa, sb;

	return a && b && !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev;
}

/* The memory the kernel says is available without swapping, or -1. */
static int64_t mem_available(const struct stage_request *req)
{
	FILE *f;
	char line[128];
	long long kb = -1;

	if (req->free_override >= 0)
		return req->free_override;
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

/* Free bytes for an unprivileged-looking writer at dir, or -1. */
static int64_t free_bytes(const char *dir, const struct stage_request *req)
{
	struct statvfs vfs;

	if (statvfs(dir, &vfs) < 0)
		return -1;
	if (vfs.f_flag & ST_RDONLY)
		return -1;
	if (req->free_override >= 0)
		return req->free_override;
	return (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
}

static int is_ram(const char *dir)
{
	struct statfs fs;

	if (statfs(dir, &fs) < 0)
		return 0;
	return (unsigned long)fs.f_type == TMPFS_MAGIC_ ||
	       (unsigned long)fs.f_type == RAMFS_MAGIC_;
}

static char *make_private(const char *dir, const char *name)
{
	char *tmpl = path_join(dir, name), *abs;

	if (!mkdtemp(tmpl)) {
		error_errno("cannot create a staging directory in '%s'", dir);
		free(tmpl);
		return NULL;
	}
	abs = realpath(tmpl, NULL);
	if (!abs) {
		error_errno("cannot resolve '%s'", tmpl);
		rmdir(tmpl);
		free(tmpl);
		return NULL;
	}
	free(tmpl);
	return abs;
}

struct looked {
	char *text;
};

static void note_place(struct looked *l, const char *dir, int64_t avail)
{
	char h[32], *old = l->text;

	if (avail < 0)
		l->text = xasprintf("%s%s%s (unusable)", old ? old : "",
				    old ? ", " : "", dir);
	else
		l->text = xasprintf("%s%s%s (%s free)", old ? old : "",
				    old ? ", " : "", dir,
				    human_bytes(h, sizeof(h), (double)avail));
	free(old);
}

/* RAM would leave the node too little memory. */
static void note_memory(struct looked *l, const char *dir, int64_t mem)
{
	char h[32], h2[32], *old = l->text;

	l->text = xasprintf("%s%s%s (RAM: %s of memory available, %s kept for "
			    "the rest)", old ? old : "", old ? ", " : "", dir,
			    human_bytes(h, sizeof(h), (double)mem),
			    human_bytes(h2, sizeof(h2), (double)STAGE_RAM_RESERVE));
	free(old);
}

/* Tries dir: returns a private directory when it has room for the tarball
 * (and, on the target's file system, for the extracted image too). */
static char *try_place(const struct stage_request *req, const char *dir,
		       const char *name, struct looked *l)
{
	int64_t avail = free_bytes(dir, req);
	uint64_t need = stage_needed(req->size);

	if (same_fs(dir, req->target))
		need += stage_target_needed(req);
	note_place(l, dir, avail);
	if (avail < 0 || (uint64_t)avail < need)
		return NULL;
	if (access(dir, W_OK) < 0)
		return NULL;
	return make_private(dir, name);
}

static const char *skip_fstypes[] = {
	"proc", "sysfs", "devpts", "cgroup", "cgroup2", "securityfs",
	"debugfs", "tracefs", "pstore", "bpf", "mqueue", "hugetlbfs",
	"configfs", "fusectl", "autofs", "binfmt_misc", "efivarfs",
	"squashfs", "iso9660", "nsfs", "rpc_pipefs", "nfsd", NULL,
};

static int skipped_type(const char *type)
{
	for (int i = 0; skip_fstypes[i]; i++)
		if (!strcmp(type, skip_fstypes[i]))
			return 1;
	return 0;
}

static char *try_mounts(const struct stage_request *req, struct looked *l)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *m;
	char *dir = NULL;

	if (!f)
		return NULL;
	while (!dir && (m = getmntent(f))) {
		if (skipped_type(m->mnt_type) || hasmntopt(m, "ro"))
			continue;
		dir = try_place(req, m->mnt_dir, ".si_boel-stage.XXXXXX", l);
	}
	endmntent(f);
	return dir;
}

char *stage_choose(const struct stage_request *req, const char **kind)
{
	static const char *ram[] = { "/dev/shm", "/tmp", "/run", NULL };
	struct looked l = { NULL };
	char h[32], h2[32], h3[32], *dir = NULL;
	int64_t mem;

	if (req->explicit_dir) {
		*kind = "explicit";
		dir = try_place(req, req->explicit_dir, "si_boel.XXXXXX", &l);
		goto out;
	}
	*kind = "ram";
	mem = mem_available(req);
	for (int i = 0; !dir && ram[i]; i++) {
		if (!is_ram(ram[i]))
			continue;
		if (mem >= 0 && (uint64_t)mem < stage_needed(req->size) +
						STAGE_RAM_RESERVE) {
			note_memory(&l, ram[i], mem);
			break;
		}
		dir = try_place(req, ram[i], "si_boel.XXXXXX", &l);
	}
	if (!dir && req->target) {
		*kind = "target";
		dir = try_place(req, req->target, ".si_boel-stage.XXXXXX", &l);
	}
	if (!dir) {
		*kind = "mount";
		dir = try_mounts(req, &l);
	}
out:
	if (!dir)
		error("no room to stage %s: need %s (the tarball plus a "
		      "breathing room%s%s); looked at %s",
		      human_bytes(h, sizeof(h), (double)req->size),
		      human_bytes(h2, sizeof(h2), (double)stage_needed(req->size)),
		      stage_target_needed(req) ? ", and on the target's file "
		      "system the extracted image's " : "",
		      stage_target_needed(req) ? human_bytes(h3, sizeof(h3),
				(double)stage_target_needed(req)) : "",
		      l.text ? l.text : "nothing");
	free(l.text);
	return dir;
}

int stage_check_target(const struct stage_request *req, const char *stage_dir)
{
	uint64_t need = stage_target_needed(req), files;
	int staged = same_fs(stage_dir, req->target);
	struct statvfs vfs;
	int64_t avail;
	char a[32], b[32], c[32], d[32];

	if (!need || !req->target)
		return 0;
	if (statvfs(req->target, &vfs) < 0)
		return error_errno("cannot check the room on the target '%s'",
				   req->target);
	avail = req->free_override >= 0 ? req->free_override :
		(int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
	if (staged)
		need += stage_needed(req->size);
	if ((uint64_t)avail < need)
		return error("not enough room on the target '%s': the image "
			     "unpacks to %s in %llu entries (%s with a block an "
			     "entry)%s%s, %s free; use a bigger disk%s",
			     req->target,
			     human_bytes(a, sizeof(a), (double)req->unpacked),
			     (unsigned long long)req->entries,
			     human_bytes(b, sizeof(b), (double)stage_target_needed(req)),
			     staged ? ", plus the staged tarball: " : "",
			     staged ? human_bytes(c, sizeof(c), (double)need) : "",
			     human_bytes(d, sizeof(d), (double)avail),
			     staged ? " or stage elsewhere (--staging, "
				      "BITTORRENT_STAGING)" : "");
	files = vfs.f_files ? (uint64_t)vfs.f_favail : UINT64_MAX;
	if (req->free_override < 0 && files < req->entries)
		return error("not enough inodes on the target '%s': the image "
			     "has %llu entries, %llu inodes free; make the file "
			     "system with more (mkfs -N)", req->target,
			     (unsigned long long)req->entries,
			     (unsigned long long)files);
	return 0;
}
