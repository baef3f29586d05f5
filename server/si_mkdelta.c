/* si_mkdelta - builds a delta package between two image tarballs.
 *
 *   si_mkdelta --from-tarball OLD.tar.gz --to-tarball NEW.tar.gz -o D.tar
 *   si_mkdelta [--base DIR] --image NAME --from V1 [--to V2]
 *
 * The package (lib/delta.c, docs/delta-format.md) turns a tree at OLD into
 * one at NEW with si_updateclient.  The second form takes the kept
 * versions of an image on the server (lib/version.h) and writes
 * BASE/tarballs/delta-NAME-vV1-vV2.tar with its torrent in BASE/torrents,
 * which si_seeder then seeds.  One summary line on stdout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "delta.h"
#include "log.h"
#include "opts.h"
#include "paths.h"
#include "torrent.h"
#include "util.h"
#include "version.h"

struct mkdelta_opts {
	char *from_tarball, *to_tarball, *out;
	char *image, *from_version, *to_version;
	char *base, *tracker, *address;
	long from, to;
	int zstd;
};

static int make(const struct mkdelta_opts *o);

static void print_summary(const struct mkdelta_opts *o,
			  const struct delta_stats *st, double secs)
{
	char pkg[32], img[32];

	human_bytes(pkg, sizeof(pkg), (double)st->package_bytes);
	human_bytes(img, sizeof(img), (double)st->new_bytes);
	printf("%s: wrote '%s': %zu operations (%zu patched, %zu whole, "
	       "%zu removed, %zu metadata, %zu dirs, %zu links), %s for an "
	       "image of %s (%.2f%%) in %.1f s\n", log_prog(), o->out, st->ops,
	       st->patched, st->whole, st->removed, st->meta, st->dirs,
	       st->links, pkg, img,
	       st->new_bytes ? 100.0 * st->package_bytes / st->new_bytes : 0.0,
	       secs);
}

/* Writes the torrent of the package o->out into torrents/. */
static int write_delta_torrent(const struct mkdelta_opts *o,
			       const struct si_paths *paths,
			       const char *announce)
{
	const char *tarname = strrchr(o->out, '/') + 1;
	char *final = xasprintf("%s/%s.torrent", paths->torrents, tarname);
	char *comment = xasprintf("swarmimager delta %s version %ld to %ld",
				  o->image, o->from, o->to);
	struct torrent_spec ts = {
		.file = o->out, .tarname = tarname, .announce = announce,
		.comment = comment,
	};
	struct atomic_file af = { .fd = -1 };
	struct bt_info info;
	int ret = -1;

	if (mkdir_p(paths->torrents, 0755) == 0 &&
	    torrent_write(&ts, &af, final, &info) == 0 &&
	    atomic_commit(&af) == 0) {
		printf("%s: wrote '%s' (info-hash %s)\n", log_prog(), final,
		       info.info_hash);
		ret = 0;
	}
	free(final);
	free(comment);
	return ret;
}

/* --image mode: maps the versions to the kept tarballs, names the
 * package, and checks the tracker settings before any work. */
static int setup_image(struct mkdelta_opts *o, struct si_paths *paths,
		       char **announce)
{
	struct config conf;
	char *file;
	long cur;
	int r;

	paths_init(paths, o->base, NULL);
	config_init(&conf);
	file = path_join(paths->etc, "bittorrent.conf");
	r = config_load_file(&conf, file, 0, 1);
	free(file);
	*announce = r < 0 ? NULL : torrent_announce(&conf, paths->etc,
						      o->tracker, o->address);
	config_release(&conf);
	if (!*announce)
		return -1;
	if (!o->to) {
		cur = version_current(paths->tarballs, o->image);
		if (cur <= 0)
			return cur < 0 ? -1 : error("image '%s' has no version "
				"in '%s' (pack it with si_installbtimage)",
				o->image, paths->tarballs);
		o->to = cur;
	}
	if (o->from == o->to)
		return error("--from and --to are both version %ld", o->to);
	o->from_tarball = version_find_tarball(paths->tarballs, o->image,
					       o->from);
	o->to_tarball = o->from_tarball ?
		version_find_tarball(paths->tarballs, o->image, o->to) : NULL;
	if (!o->to_tarball)
		return -1;
	o->from_version = xasprintf("%ld", o->from);
	o->to_version = xasprintf("%ld", o->to);
	file = version_delta_name(o->image, o->from, o->to);
	o->out = xasprintf("%s/%s%s", paths->tarballs, file,
			   o->zstd ? ".zst" : "");
	free(file);
	return 0;
}

static int run(struct mkdelta_opts *o)
{
	struct si_paths paths = { 0 };
	char *announce = NULL;
	int ret = 1;

	if (o->base || o->from) {
		if (setup_image(o, &paths, &announce) == 0 && make(o) == 0 &&
		    write_delta_torrent(o, &paths, announce) == 0)
			ret = 0;
		free(announce);
		paths_release(&paths);
		return ret || log_flush_stdout() < 0 ? 1 : 0;
	}
	return make(o) || log_flush_stdout() < 0 ? 1 : 0;
}

static int make(const struct mkdelta_opts *o)
{
	struct delta_make_opts mo = {
		.old_tarball = o->from_tarball, .new_tarball = o->to_tarball,
		.out = o->out, .image = o->image, .from = o->from_version,
		.to = o->to_version, .zstd = o->zstd,
	};
	struct delta_stats st;
	double t0 = now_monotonic();

	if (delta_make(&mo, &st) < 0)
		return -1;
	print_summary(o, &st, now_monotonic() - t0);
	return 0;
}

int main(int argc, const char **argv)
{
	struct mkdelta_opts o = { 0 };
	struct poptOption table[] = {
		{ "from-tarball", '\0', POPT_ARG_STRING, &o.from_tarball, 0,
		  "the image tarball nodes have now", "OLD.tar.gz" },
		{ "to-tarball", '\0', POPT_ARG_STRING, &o.to_tarball, 0,
		  "the image tarball to bring them to", "NEW.tar.gz" },
		{ "output", 'o', POPT_ARG_STRING, &o.out, 0,
		  "the delta package to write", "DELTA.tar" },
		{ "zstd", '\0', POPT_ARG_NONE, &o.zstd, 0,
		  "compress the package with zstd", NULL },
		{ "image", '\0', POPT_ARG_STRING, &o.image, 0,
		  "image name recorded in the package", "NAME" },
		OPTS_BASE(o.base),
		{ "from", '\0', POPT_ARG_LONG, &o.from, 0,
		  "with --image: the version the nodes have", "V1" },
		{ "to", '\0', POPT_ARG_LONG, &o.to, 0,
		  "with --image: the version to bring them to (default: the "
		  "current one)", "V2" },
		{ "tracker", '\0', POPT_ARG_STRING, &o.tracker, 0,
		  "the announce URL of the torrent (as si_installbtimage)",
		  "URL" },
		{ "address", '\0', POPT_ARG_STRING, &o.address, 0,
		  "the tracker's IPv4 address (default: BT_INTERFACE's)", "IP" },
		{ "from-version", '\0', POPT_ARG_STRING, &o.from_version, 0,
		  "version label of OLD recorded in the package", "V1" },
		{ "to-version", '\0', POPT_ARG_STRING, &o.to_version, 0,
		  "version label of NEW recorded in the package", "V2" },
		OPTS_COMMON,
		POPT_TABLEEND
	};
	poptContext con;
	int rc;

	log_init(argv[0]);
	con = opts_parse(argc, argv, table,
			 "--from-tarball OLD --to-tarball NEW -o DELTA | --image NAME --from V1 [--to V2]", 0,
			 NULL, NULL);
	if (o.from || o.to || o.base) {
		if (!o.image || !o.from)
			opts_usage_error(con, "--image and --from are required "
					 "to build from kept versions");
		if (o.from_tarball || o.to_tarball || o.out ||
		    o.from_version || o.to_version)
			opts_usage_error(con, "--from/--to/--base do not go with "
					 "--from-tarball, --to-tarball, -o, "
					 "--from-version or --to-version");
		if (o.from < 1 || o.to < 0)
			opts_usage_error(con, "versions are numbers from 1");
	} else if (!o.from_tarball || !o.to_tarball || !o.out)
		opts_usage_error(con, "--from-tarball, --to-tarball and -o "
				 "are required (or --image and --from)");
	if (o.image && !valid_name(o.image))
		opts_usage_error(con, "invalid image name '%s'", o.image);
	rc = run(&o);
	poptFreeContext(con);
	free(o.from_tarball); free(o.to_tarball); free(o.out);
	free(o.image); free(o.from_version); free(o.to_version);
	free(o.base); free(o.tracker); free(o.address);
	return rc;
}
