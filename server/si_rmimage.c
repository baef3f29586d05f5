/* si_rmimage - remove images with everything derived from them.
 *
 * Removes, in this order, the settings (so the image stops looking
 * complete at once), the torrents (a running si_seeder notices and stops
 * seeding them), the tarballs and manifests, the tree, the disk layout
 * and the marker.  See docs/man/si_rmimage.8.
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

static int remove_file(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		return error_errno("cannot remove '%s'", path);
	verbose("removed '%s'", path);
	return 0;
}

static int remove_list(char **list)
{
	int ret = 0;

	for (size_t i = 0; list[i]; i++)
		if (remove_file(list[i]) < 0)
			ret = -1;
	opts_free_list(list);
	return ret;
}

static int rmimage(const struct si_paths *p, const char *name, int force)
{
	char *conf, *dir, *layout;
	pid_t pid;
	enum image_state s = image_state(p, name, &pid);
	int ret = 0;

	if (s == IMAGE_ABSENT) {
		if (force)
			return 0;
		return error("no image '%s' in '%s'", name, p->images);
	}
	if (s == IMAGE_BUSY)
		return error("image '%s' is in use by process %ld", name,
			     (long)pid);
	if (image_lock(p, name) < 0)
		return -1;
	conf = image_conf_path(p, name);
	dir = image_dir(p, name);
	layout = image_layout_path(p, name);
	if (remove_file(conf) < 0 ||
	    remove_list(image_artifacts(p, name, "torrent")) < 0 ||
	    remove_list(image_artifacts(p, name, "tarball")) < 0 ||
	    remove_list(image_artifacts(p, name, "manifest")) < 0 ||
	    remove_tree(dir) < 0 || remove_file(layout) < 0)
		ret = error("image '%s' only partly removed", name);
	else
		ret = image_unlock(p, name);
	if (!ret)
		notice("removed image '%s'", name);
	free(conf);
	free(dir);
	free(layout);
	return ret;
}

int main(int argc, const char **argv)
{
	char *base = NULL;
	int force = 0, ret = 0;
	const char **args;
	struct si_paths p;
	struct poptOption table[] = {
		OPTS_BASE(base),
		{ "force", 'f', POPT_ARG_NONE, &force, 0,
		  "no error for images that do not exist", NULL },
		OPTS_COMMON,
		POPT_TABLEEND
	};
	poptContext con;

	log_init(argv[0]);
	con = opts_parse(argc, argv, table, "[OPTIONS] IMAGE...", -1, NULL,
			 NULL);
	args = poptGetArgs(con);
	if (!args || !args[0])
		opts_usage_error(con, "which image?");
	for (size_t i = 0; args[i]; i++)
		if (!valid_name(args[i]))
			opts_usage_error(con, "invalid image name '%s'", args[i]);
	paths_init(&p, base, NULL);
	for (size_t i = 0; args[i]; i++)
		if (rmimage(&p, args[i], force) < 0)
			ret = -1;
	poptFreeContext(con);
	paths_release(&p);
	free(base);
	return ret < 0 ? 1 : 0;
}
