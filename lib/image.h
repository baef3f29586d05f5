/* image.h - an image on the server and the metadata kept beside it.
 *
 * An image is the tree BASE/images/NAME.  What the server knows about it
 * lives OUTSIDE the tree (the packer packs the tree whole), as hidden
 * files beside it; names starting with '.' are never valid image names,
 * so they cannot collide with an image:
 *   BASE/images/.NAME.conf        settings, shell KEY=value (below); written
 *                                 last: the image is complete iff it exists
 *                                 and no marker does
 *   BASE/images/.NAME.disklayout  the golden client's disk layout
 *                                 (docs/disklayout.md)
 *   BASE/images/.NAME.capturing   marker "pid=N" while a capture, copy or
 *                                 rename is at work, or after one failed
 * Keys of .NAME.conf: IMAGE_NAME, IMAGE_SOURCE (golden client host),
 * IMAGE_SOURCE_PORT, IMAGE_RETRIEVED (ISO 8601 UTC), IMAGE_RETRIEVED_EPOCH,
 * IMAGE_POST_INSTALL (reboot|shutdown|poweroff|shell), IMAGE_FILES,
 * IMAGE_SIZE (bytes of file data), IMAGE_BYTES_RECEIVED and
 * IMAGE_LITERAL_BYTES (of the last capture), IMAGE_COPIED_FROM.
 */
#ifndef SI_IMAGE_H
#define SI_IMAGE_H

#include <stdint.h>
#include <sys/types.h>

#include "paths.h"

enum image_state {
	IMAGE_ABSENT = 0,	/* nothing of that name */
	IMAGE_INCOMPLETE,	/* a tree without settings, or a failed run */
	IMAGE_BUSY,		/* a live process holds its marker */
	IMAGE_COMPLETE,
};

struct image_info {
	char *name;
	char *source;		/* golden client, or NULL */
	int source_port;
	long long retrieved;	/* seconds since the epoch, 0 unknown */
	char *post_install;	/* reboot, shutdown, poweroff or shell */
	uint64_t files, size, received, literal;
	char *copied_from;	/* si_cpimage's source, or NULL */
};

/* Newly allocated paths of the tree and its metadata files. */
char *image_dir(const struct si_paths *p, const char *name);
char *image_conf_path(const struct si_paths *p, const char *name);
char *image_layout_path(const struct si_paths *p, const char *name);
char *image_marker_path(const struct si_paths *p, const char *name);

/* Returns 1 if action is a valid post-install action. */
int image_valid_post_install(const char *action);

/* Reads .NAME.conf into info (zeroed first).  Returns 0, 1 when the file
 * does not exist, or -1 with a message. */
int image_info_load(const struct si_paths *p, const char *name,
		    struct image_info *info);
/* Writes .NAME.conf atomically from info.  Returns 0 or -1. */
int image_info_save(const struct si_paths *p, const char *name,
		    const struct image_info *info);
void image_info_release(struct image_info *info);

/* The state of an image; *pid gets the marker's live process (else 0). */
enum image_state image_state(const struct si_paths *p, const char *name,
			     pid_t *pid);

/* Takes the image's marker for this process (stale markers of dead
 * processes are taken over).  Returns 0, or -1 with a message when a live
 * process holds it or it cannot be written. */
int image_lock(const struct si_paths *p, const char *name);
/* Removes the marker.  Returns 0 or -1 with a message. */
int image_unlock(const struct si_paths *p, const char *name);

/* Lists the images (trees, settings or markers) of BASE/images, sorted,
 * as a NULL-terminated array the caller frees with opts_free_list().
 * Returns NULL with a message on failure. */
char **image_list(const struct si_paths *p, size_t *n);

/* Existing files derived from the image by the packer and the seeder:
 * tarballs/image-NAME.tar*, image-NAME.manifest and
 * torrents/image-NAME.tar*.torrent.  Returns a NULL-terminated array of
 * paths (free with opts_free_list()); kind selects "tarball",
 * "manifest", "torrent" or NULL for all. */
char **image_artifacts(const struct si_paths *p, const char *name,
		       const char *kind);

/* The main() of the commands that take --base and two image names
 * (si_cpimage SOURCE DESTINATION, si_mvimage OLD NEW): parses the options
 * (exit 2 on usage errors, need says what is missing), refuses names that
 * are not plain, runs fn.  Returns the exit status: 0, or 1 when fn
 * returned -1. */
int image_main_two_names(int argc, const char **argv, const char *synopsis,
			 const char *need,
			 int (*fn)(const struct si_paths *p, const char *a,
				   const char *b));

#endif
