/* si_lsimage - list the images of the server with their state.
 *
 * One line per image: name, state (complete, incomplete, busy),
 * retrieval time, size, tarball state (current, stale or -) and whether a
 * torrent exists.  -v adds the source, post-install action, file count,
 * disks of the recorded layout and the derived files.
 * See docs/man/si_lsimage.8.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "disklayout.h"
#include "image.h"
#include "log.h"
#include "opts.h"
#include "paths.h"
#include "util.h"

static const char *state_name(enum image_state s)
{
	switch (s) {
	case IMAGE_COMPLETE: return "complete";
	case IMAGE_BUSY: return "busy";
	case IMAGE_INCOMPLETE: return "incomplete";
	default: return "absent";
	}
}

/* "current" when the newest tarball is not older than the capture. */
static const char *tarball_state(const struct si_paths *p, const char *name,
				 long long retrieved)
{
	char **tar = image_artifacts(p, name, "tarball");
	const char *s = "-";
	struct stat st;

	for (size_t i = 0; tar[i]; i++) {
		if (stat(tar[i], &st) < 0)
			continue;
		s = (long long)st.st_mtime >= retrieved ? "current" : "stale";
		if (!strcmp(s, "current"))
			break;
	}
	opts_free_list(tar);
	return s;
}

static void show_details(const struct si_paths *p, const char *name,
			 const struct image_info *info, pid_t pid)
{
	char *layout = image_layout_path(p, name), **files;
	struct disklayout dl;

	if (pid)
		printf("    in use by process %ld\n", (long)pid);
	if (info->source)
		printf("    source: %s port %d\n", info->source,
		       info->source_port);
	if (info->copied_from)
		printf("    copied from: %s\n", info->copied_from);
	if (info->post_install)
		printf("    post-install: %s\n", info->post_install);
	if (info->files)
		printf("    files: %llu, last capture received %llu bytes "
		       "(%llu literal)\n", (unsigned long long)info->files,
		       (unsigned long long)info->received,
		       (unsigned long long)info->literal);
	disklayout_init(&dl);
	if (access(layout, F_OK) == 0 && disklayout_load(&dl, layout) == 0) {
		for (size_t i = 0; i < dl.ndisks; i++)
			printf("    disk: %s %llu bytes, %s table\n",
			       dl.disks[i].dev,
			       (unsigned long long)dl.disks[i].size,
			       dl.disks[i].table);
		for (size_t i = 0; i < dl.nfss; i++)
			printf("    filesystem: %s %s%s%s\n", dl.fss[i].dev,
			       dl.fss[i].type, dl.fss[i].mount ? " on " : "",
			       dl.fss[i].mount ? dl.fss[i].mount : "");
	}
	disklayout_release(&dl);
	files = image_artifacts(p, name, NULL);
	for (size_t i = 0; files[i]; i++)
		printf("    file: %s\n", files[i]);
	opts_free_list(files);
	free(layout);
}

static int list_one(const struct si_paths *p, const char *name)
{
	struct image_info info;
	pid_t pid;
	enum image_state s = image_state(p, name, &pid);
	char date[32] = "-", size[32] = "-", **tor;

	if (s == IMAGE_ABSENT)
		return error("no image '%s' in '%s'", name, p->images);
	if (image_info_load(p, name, &info) < 0)
		memset(&info, 0, sizeof(info));
	if (s == IMAGE_COMPLETE && info.retrieved) {
		time_t t = (time_t)info.retrieved;

		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", gmtime(&t));
	}
	if (s == IMAGE_COMPLETE)
		human_bytes(size, sizeof(size), (double)info.size);
	tor = image_artifacts(p, name, "torrent");
	printf("%-24s %-10s %-19s %10s %-7s %s\n", name, state_name(s), date,
	       size, tarball_state(p, name, info.retrieved),
	       tor[0] ? "yes" : "-");
	opts_free_list(tor);
	if (log_level() >= LOG_VERBOSE)
		show_details(p, name, &info, pid);
	image_info_release(&info);
	return 0;
}

int main(int argc, const char **argv)
{
	char *base = NULL, **names;
	const char **args;
	struct si_paths p;
	size_t n;
	int ret = 0;
	struct poptOption table[] = {
		OPTS_BASE(base),
		OPTS_COMMON,
		POPT_TABLEEND
	};
	poptContext con;

	log_init(argv[0]);
	con = opts_parse(argc, argv, table, "[OPTIONS] [IMAGE...]", -1, NULL,
			 NULL);
	args = poptGetArgs(con);
	for (size_t i = 0; args && args[i]; i++)
		if (!valid_name(args[i]))
			opts_usage_error(con, "invalid image name '%s'", args[i]);
	paths_init(&p, base, NULL);
	printf("%-24s %-10s %-19s %10s %-7s %s\n", "IMAGE", "STATE",
	       "RETRIEVED (UTC)", "SIZE", "TARBALL", "TORRENT");
	if (args) {
		for (size_t i = 0; args[i]; i++)
			if (list_one(&p, args[i]) < 0)
				ret = -1;
	} else if ((names = image_list(&p, &n))) {
		for (size_t i = 0; i < n; i++)
			if (list_one(&p, names[i]) < 0)
				ret = -1;
		opts_free_list(names);
	} else {
		ret = -1;
	}
	if (log_flush_stdout() < 0)
		ret = -1;
	poptFreeContext(con);
	paths_release(&p);
	free(base);
	return ret < 0 ? 1 : 0;
}
