/* si_mvimage - rename an image.
 *
 * Renames the tree, its disk layout and settings, and its tarballs and
 * manifests; removes its torrents (they name the old tarball: run
 * si_installbtimage to seed the image under its new name).  Both names
 * are marked busy meanwhile.  See docs/man/si_mvimage.8.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image.h"
#include "log.h"
#include "opts.h"
#include "paths.h"
#include "util.h"

static int move(const char *from, const char *to)
{
	if (rename(from, to) < 0 && errno != ENOENT)
		return error_errno("cannot rename '%s' to '%s'", from, to);
	return 0;
}

/* tarballs/image-FROM.tar.gz -> tarballs/image-TO.tar.gz and the like. */
static int move_artifacts(const struct si_paths *p, const char *from,
			  const char *to)
{
	char **list = image_artifacts(p, from, NULL);
	char *prefix = xasprintf("image-%s", from);
	int ret = 0;

	for (size_t i = 0; list[i] && !ret; i++) {
		char *file = strrchr(list[i], '/') + 1, *dst;

		if (strstr(file, ".torrent")) {
			if (unlink(list[i]) < 0 && errno != ENOENT)
				ret = error_errno("cannot remove '%s'", list[i]);
			continue;
		}
		dst = xasprintf("%.*simage-%s%s", (int)(file - list[i]),
				list[i], to, file + strlen(prefix));
		ret = move(list[i], dst);
		free(dst);
	}
	opts_free_list(list);
	free(prefix);
	return ret;
}

static int mvimage(const struct si_paths *p, const char *from,
		   const char *to)
{
	char *sdir = image_dir(p, from), *ddir = image_dir(p, to);
	char *slay = image_layout_path(p, from), *dlay = image_layout_path(p, to);
	char *sconf = image_conf_path(p, from);
	struct image_info info;
	enum image_state s = image_state(p, from, NULL);
	int ret = -1, rc;

	if (s == IMAGE_ABSENT || s == IMAGE_BUSY) {
		error(s == IMAGE_BUSY ? "image '%s' is in use" :
		      "no image '%s'", from);
		goto out;
	}
	if (image_state(p, to, NULL) != IMAGE_ABSENT) {
		error("image '%s' already exists", to);
		goto out;
	}
	if (image_lock(p, to) < 0)
		goto out;
	if (image_lock(p, from) < 0) {
		image_unlock(p, to);
		goto out;
	}
	rc = image_info_load(p, from, &info);
	if (rc < 0 || move(sdir, ddir) < 0 || move(slay, dlay) < 0 ||
	    move_artifacts(p, from, to) < 0 ||
	    (rc == 0 && image_info_save(p, to, &info) < 0) ||
	    (rc == 0 && unlink(sconf) < 0)) {
		error("image '%s' only partly renamed to '%s'", from, to);
	} else {
		/* An incomplete image stays marked incomplete. */
		ret = s == IMAGE_COMPLETE ? image_unlock(p, to) : 0;
		if (!ret)
			ret = image_unlock(p, from);
		if (!ret)
			notice("renamed image '%s' to '%s'", from, to);
	}
	if (rc == 0)
		image_info_release(&info);
out:
	free(sdir);
	free(ddir);
	free(slay);
	free(dlay);
	free(sconf);
	return ret;
}

int main(int argc, const char **argv)
{
	return image_main_two_names(argc, argv, "[OPTIONS] OLDNAME NEWNAME",
				    "need the old and the new image name", mvimage);
}
