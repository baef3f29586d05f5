/* si_cpimage - copy a complete image under a new name.
 *
 * Copies the tree with rsync (owners, modes, times, hard links, sparse
 * files, ACLs, xattrs, devices), then the disk layout, and writes the new
 * settings last, so a failed copy never looks complete; a failed copy
 * leaves nothing behind.  Tarballs and torrents are not copied: run
 * si_installbtimage for the new image.  See docs/man/si_cpimage.8.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "command.h"
#include "image.h"
#include "log.h"
#include "opts.h"
#include "paths.h"
#include "util.h"

static int copy_file(const char *from, const char *to)
{
	size_t len;
	char *text = read_file(from, &len, 1);
	int ret;

	if (!text)
		return errno == ENOENT ? 0 : -1;
	ret = write_file_atomic(to, text, len, 0644);
	free(text);
	return ret;
}

static int copy_tree(const char *from, const char *to)
{
	char *src = xasprintf("%s/", from), *dst = xasprintf("%s/", to);
	const char *argv[] = { "rsync", "-aHSAX", "--numeric-ids", src, dst,
			       NULL };
	int rc = command_run(argv, NULL, NULL);

	free(src);
	free(dst);
	if (rc > 0)
		return error("cannot copy '%s' to '%s': rsync failed with "
			     "exit %d", from, to, rc);
	return rc;
}

static int cpimage(const struct si_paths *p, const char *from,
		   const char *to)
{
	char *sdir = image_dir(p, from), *ddir = image_dir(p, to);
	char *slay = image_layout_path(p, from), *dlay = image_layout_path(p, to);
	struct image_info info;
	int ret = -1;

	if (image_state(p, from, NULL) != IMAGE_COMPLETE) {
		error("image '%s' does not exist or is not complete", from);
		goto out;
	}
	if (image_state(p, to, NULL) != IMAGE_ABSENT) {
		error("image '%s' already exists", to);
		goto out;
	}
	if (image_lock(p, to) < 0)
		goto out;
	if (image_info_load(p, from, &info) != 0) {
		error("cannot read the settings of image '%s'", from);
		image_unlock(p, to);
		goto out;
	}
	free(info.copied_from);
	info.copied_from = xstrdup(from);
	if (mkdir(ddir, 0755) < 0)
		error_errno("cannot create directory '%s'", ddir);
	else if (copy_tree(sdir, ddir) == 0 && copy_file(slay, dlay) == 0 &&
		 image_info_save(p, to, &info) == 0)
		ret = image_unlock(p, to);
	if (ret < 0) {
		remove_tree(ddir);
		unlink(dlay);
		image_unlock(p, to);
		error("image '%s' not created", to);
	} else {
		notice("copied image '%s' to '%s'", from, to);
	}
	image_info_release(&info);
out:
	free(sdir);
	free(ddir);
	free(slay);
	free(dlay);
	return ret;
}

int main(int argc, const char **argv)
{
	return image_main_two_names(argc, argv, "[OPTIONS] SOURCE DESTINATION",
				    "need a source and a destination image", cpimage);
}
