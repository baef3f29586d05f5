/* paths.c - see paths.h */
#include <stdlib.h>
#include <string.h>

#include "paths.h"
#include "util.h"

void paths_init(struct si_paths *p, const char *base, const char *etc)
{
	int explicit_base = base != NULL || getenv("SI_BASE") != NULL;

	if (!base)
		base = getenv("SI_BASE");
	if (!base)
		base = SI_DEFAULT_BASE;
	if (!etc)
		etc = getenv("SI_ETC");
	p->base = xstrdup(base);
	p->etc = etc ? xstrdup(etc) :
		explicit_base ? path_join(base, "etc") : xstrdup(SI_DEFAULT_ETC);
	p->images = path_join(base, "images");
	p->overrides = path_join(base, "overrides");
	p->scripts = path_join(base, "scripts");
	p->tarballs = path_join(base, "tarballs");
	p->torrents = path_join(base, "torrents");
	p->run = path_join(base, "run");
}

void paths_release(struct si_paths *p)
{
	free(p->base); free(p->etc); free(p->images); free(p->overrides);
	free(p->scripts); free(p->tarballs); free(p->torrents); free(p->run);
	memset(p, 0, sizeof(*p));
}

int paths_create(const struct si_paths *p)
{
	const char *dirs[] = { p->images, p->overrides, p->scripts,
			       p->tarballs, p->torrents, p->run };

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mkdir_p(dirs[i], 0755) < 0)
			return -1;
	return 0;
}
