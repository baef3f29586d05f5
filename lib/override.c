/* override.c - see override.h */
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "log.h"
#include "opts.h"
#include "override.h"
#include "util.h"

static int add(struct override_list *l, const char *name, const char *why,
	       int required)
{
	if (!valid_name(name))
		return error("invalid override name '%s' (%s)", name, why);
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, name)) {
			l->v[i].required |= required;
			return 0;
		}
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n].name = xstrdup(name);
	l->v[l->n].why_buf = xstrdup(why);
	l->v[l->n].why = l->v[l->n].why_buf;
	l->v[l->n].required = required;
	l->n++;
	return 0;
}

/* Adds the overrides of the lines matching host (or "*" when host is
 * NULL). */
static int add_cluster(struct override_list *l, const char *txt,
		       const char *host)
{
	char *copy = xstrdup(txt), *save = NULL, *line, *why;
	int ret = 0;

	for (line = strtok_r(copy, "\n", &save); line && !ret;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[CLUSTER_FIELDS];

		if (!cluster_split(line, f))
			continue;
		if (host ? strcmp(f[0], host) : strcmp(f[0], "*"))
			continue;
		const char *name = *f[3] ? f[3] : f[1];
		if (!*name)
			continue;
		why = host ? xasprintf("group %s", *f[1] ? f[1] : "?")
			   : xstrdup("global");
		ret = add(l, name, why, 0);
		free(why);
	}
	free(copy);
	return ret;
}

static int add_words(struct override_list *l, const char *s,
		     const char *kind, int required)
{
	char **w = NULL, *why;
	size_t n = 0;
	int ret = 0;

	if (!s)
		return 0;
	opts_split_list(s, &w, &n);
	for (size_t i = 0; i < n && !ret; i++) {
		why = xasprintf("%s %s", kind, w[i]);
		ret = add(l, w[i], why, required);
		free(why);
	}
	opts_free_list(w);
	return ret;
}

int override_choose(const struct override_query *q,
		    struct override_list *l)
{
	if (q->image && add(l, q->image, "image", 0) < 0)
		return -1;
	if (q->cluster_txt && add_cluster(l, q->cluster_txt, NULL) < 0)
		return -1;
	if (q->cluster_txt && q->hostname &&
	    add_cluster(l, q->cluster_txt, q->hostname) < 0)
		return -1;
	if (add_words(l, q->groups, "group", 0) < 0)
		return -1;
	if (q->hostname && *q->hostname && add(l, q->hostname, "hostname", 0) < 0)
		return -1;
	return add_words(l, q->explicit_list, "OVERRIDES", 1);
}

void override_list_release(struct override_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].why_buf);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

char *override_image_for_host(const char *txt, const char *host)
{
	char *copy, *save = NULL, *line, *found = NULL;

	if (!txt || !host)
		return NULL;
	copy = xstrdup(txt);
	for (line = strtok_r(copy, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[CLUSTER_FIELDS];

		if (cluster_split(line, f) && !strcmp(f[0], host) && *f[2])
			found = xstrdup(f[2]);
	}
	free(copy);
	return found;
}
