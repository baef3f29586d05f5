/* version.h - image versions on the server (si_installbtimage, si_mkdelta)
 * and how nodes learn them (si_boel, si_updateclient).
 *
 * Each pack of image NAME gets the next number N:
 *   BASE/tarballs/image-NAME.version                 "N\n"
 *   BASE/tarballs/versions/image-NAME.vN.tar.gz      hard link to the tarball
 *   BASE/tarballs/versions/image-NAME.vN.manifest    hard link to the manifest
 *   BASE/torrents/image-NAME.tar.gz.torrent          comment
 *                                   "swarmimager image NAME version N"
 * and a delta from V1 to V2 is BASE/tarballs/delta-NAME-vV1-vV2.tar with
 * its torrent BASE/torrents/delta-NAME-vV1-vV2.tar.torrent.
 */
#ifndef SI_VERSION_H
#define SI_VERSION_H

#define VERSION_DIR "versions"

/* The current version of image name in tarballs: N >= 1, 0 when none is
 * recorded, -1 with a message when the file is unreadable or malformed. */
long version_current(const char *tarballs, const char *name);
/* Writes tarballs/image-NAME.version under a temporary name dest_tmp (to
 * be renamed over version_file()).  Returns 0 or -1 with a message. */
char *version_file(const char *tarballs, const char *name);

/* "swarmimager image NAME version N" (the caller frees it). */
char *version_comment(const char *name, long v);
/* The version a torrent comment gives for image name, 0 if none. */
long version_from_comment(const char *comment, const char *name);
/* Reads the version from an image torrent: N, 0 if it has none, -1 with a
 * message when the torrent cannot be read. */
long version_of_torrent(const char *torrent, const char *name);

/* tarballs/versions/image-NAME.vN + suffix (".tar.gz", ".manifest").  The
 * caller frees it. */
char *version_path(const char *tarballs, const char *name, long v,
		   const char *suffix);
/* The kept tarball of version v (any compression), or NULL with a message
 * listing the versions kept. */
char *version_find_tarball(const char *tarballs, const char *name, long v);
/* Removes the kept tarballs and manifests of versions below current-keep+1
 * (keep >= 1).  Returns how many versions went, or -1 with a message. */
int version_prune(const char *tarballs, const char *name, long current,
		  long keep);

/* "delta-NAME-vA-vB.tar" (the caller frees it). */
char *version_delta_name(const char *name, long from, long to);

#endif
