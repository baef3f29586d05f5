/* paths.h - where the image server keeps things.
 *
 * Everything lives under one base directory (default
 * /var/lib/swarmimager), with settings in a configuration directory
 * (default /etc/swarmimager; BASE/etc when a base is given), so that tests
 * and demos use trees of their own:
 *   BASE/images/NAME       image trees (captured roots)
 *   BASE/overrides/NAME    override trees
 *   BASE/scripts           cluster.txt and other install-time files
 *   BASE/tarballs          image-NAME.tar.gz, override-NAME.tar.gz + manifests
 *   BASE/torrents          one .torrent per tarball
 *   BASE/run               the seeder's generated files (rsyncd.conf, ...)
 */
#ifndef SI_PATHS_H
#define SI_PATHS_H

#define SI_DEFAULT_BASE "/var/lib/swarmimager"
#define SI_DEFAULT_ETC "/etc/swarmimager"

/* The --base option every server program has, for its popt table. */
#define OPTS_BASE(var) \
	{ "base", '\0', POPT_ARG_STRING, &(var), 0, \
	  "the server's base directory (default $SI_BASE or " \
	  SI_DEFAULT_BASE ")", "DIR" }

struct si_paths {
	char *base, *etc;
	char *images, *overrides, *scripts, *tarballs, *torrents, *run;
};

/* Fills p from base (NULL: $SI_BASE or the default) and etc (NULL:
 * $SI_ETC, else BASE/etc when a base was given, else the default). */
void paths_init(struct si_paths *p, const char *base, const char *etc);
void paths_release(struct si_paths *p);
/* Creates the directories of the layout.  Returns 0 or -1 with a message. */
int paths_create(const struct si_paths *p);

#endif
