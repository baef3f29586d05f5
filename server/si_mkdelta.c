/* si_mkdelta - builds a delta package between two image tarballs.
 *
 *   si_mkdelta --from-tarball OLD.tar.gz --to-tarball NEW.tar.gz -o D.tar
 *
 * The package (lib/delta.c, docs/delta-format.md) turns a tree at OLD into
 * one at NEW with si_updateclient --delta.  One summary line on stdout. */
#include <stdio.h>
#include <stdlib.h>

#include "delta.h"
#include "log.h"
#include "opts.h"
#include "util.h"

struct mkdelta_opts {
	char *from_tarball, *to_tarball, *out;
	char *image, *from_version, *to_version;
	int zstd;
};

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

static int run(const struct mkdelta_opts *o)
{
	struct delta_make_opts mo = {
		.old_tarball = o->from_tarball, .new_tarball = o->to_tarball,
		.out = o->out, .image = o->image, .from = o->from_version,
		.to = o->to_version, .zstd = o->zstd,
	};
	struct delta_stats st;
	double t0 = now_monotonic();

	if (delta_make(&mo, &st) < 0)
		return 1;
	print_summary(o, &st, now_monotonic() - t0);
	return log_flush_stdout() < 0 ? 1 : 0;
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
			 "--from-tarball OLD --to-tarball NEW -o DELTA", 0,
			 NULL, NULL);
	if (!o.from_tarball || !o.to_tarball || !o.out)
		opts_usage_error(con, "--from-tarball, --to-tarball and -o "
				 "are required");
	if (o.image && !valid_name(o.image))
		opts_usage_error(con, "invalid image name '%s'", o.image);
	rc = run(&o);
	poptFreeContext(con);
	free(o.from_tarball); free(o.to_tarball); free(o.out);
	free(o.image); free(o.from_version); free(o.to_version);
	return rc;
}
