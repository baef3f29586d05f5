/* exclude.c - see exclude.h */
#define _GNU_SOURCE
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "exclude.h"
#include "log.h"
#include "util.h"

void exclude_init(struct exclude_list *l)
{
	l->v = NULL;
	l->n = 0;
}

void exclude_release(struct exclude_list *l)
{
	for (size_t i = 0; l && i < l->n; i++)
		free(l->v[i].pattern);
	if (l)
		free(l->v);
	exclude_init(l);
}

void exclude_add(struct exclude_list *l, const char *line)
{
	struct exclude_rule r = { 0 };
	size_t n;

	while (*line == ' ' || *line == '\t')
		line++;
	if (!*line || *line == '#' || *line == ';')
		return;
	if ((line[0] == '-' || line[0] == '+') && line[1] == ' ') {
		r.include = line[0] == '+';
		line += 2;
	}
	n = strcspn(line, "\r\n");
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	if (n && line[n - 1] == '/') {
		r.dir_only = 1;
		n--;
	}
	if (*line == '/') {
		r.anchored = 1;
		line++;
		n--;
	}
	if (!n)
		return;
	r.pattern = strndup(line, n);
	r.slash = strchr(r.pattern, '/') != NULL;
	r.starstar = strstr(r.pattern, "**") != NULL;
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = r;
}

int exclude_load_file(struct exclude_list *l, const char *path)
{
	char *buf = read_file(path, NULL, 0), *save = NULL, *line;

	if (!buf)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		exclude_add(l, line);
	free(buf);
	return 0;
}

static int rule_matches(const struct exclude_rule *r, const char *p,
			int is_dir)
{
	int flags = r->starstar ? 0 : FNM_PATHNAME;
	const char *s;

	if (r->dir_only && !is_dir)
		return 0;
	if (r->anchored)
		return fnmatch(r->pattern, p, flags) == 0;
	if (!r->slash) {
		s = strrchr(p, '/');
		return fnmatch(r->pattern, s ? s + 1 : p, flags) == 0;
	}
	for (s = p; s; s = strchr(s, '/'), s = s ? s + 1 : NULL)
		if (fnmatch(r->pattern, s, flags) == 0)
			return 1;
	return 0;
}

/* First matching rule: 1 exclude, 0 include or no match. */
static int excluded_here(const struct exclude_list *l, const char *p,
			 int is_dir)
{
	for (size_t i = 0; i < l->n; i++)
		if (rule_matches(&l->v[i], p, is_dir))
			return !l->v[i].include;
	return 0;
}

int exclude_match(const struct exclude_list *l, const char *path, int is_dir)
{
	char *p = xstrdup(path);
	int ret = 0;

	for (char *s = strchr(p, '/'); s && !ret; s = strchr(s + 1, '/')) {
		*s = '\0';
		ret = excluded_here(l, p, 1);
		*s = '/';
	}
	if (!ret)
		ret = excluded_here(l, p, is_dir);
	free(p);
	return ret;
}
