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

/* Tries dir: returns a private directory when it has room. */
static char *try_place(const struct stage_request *req, const char *dir,
		       const char *name, struct looked *l)
{
	int64_t avail = free_bytes(dir, req);

	note_place(l, dir, avail);
	if (avail < 0 || (uint64_t)avail < stage_needed(req->size))
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
	char h[32], h2[32], *dir = NULL;

	if (req->explicit_dir) {
		*kind = "explicit";
		dir = try_place(req, req->explicit_dir, "si_boel.XXXXXX", &l);
		goto out;
	}
	*kind = "ram";
	for (int i = 0; !dir && ram[i]; i++)
		if (is_ram(ram[i]))
			dir = try_place(req, ram[i], "si_boel.XXXXXX", &l);
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
		      "breathing room); looked at %s",
		      human_bytes(h, sizeof(h), (double)req->size),
		      human_bytes(h2, sizeof(h2), (double)stage_needed(req->size)),
		      l.text ? l.text : "nothing");
	free(l.text);
	return dir;
}
