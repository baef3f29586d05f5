/* config.c - see config.h */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "util.h"

void config_init(struct config *c)
{
	c->v = NULL;
	c->n = 0;
}

void config_release(struct config *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].value);
		free(c->v[i].source);
	}
	free(c->v);
	config_init(c);
}

const struct config_entry *config_find(const struct config *c, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].key, key))
			return &c->v[i];
	return NULL;
}

const char *config_get(const struct config *c, const char *key)
{
	const struct config_entry *e = config_find(c, key);

	return e ? e->value : NULL;
}

static void set(struct config *c, const char *key, const char *value,
		const char *source, int overwrite)
{
	struct config_entry *e = (struct config_entry *)config_find(c, key);

	if (e && !overwrite)
		return;
	if (!e) {
		c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
		e = &c->v[c->n++];
		e->key = xstrdup(key);
	} else {
		free(e->value);
		free(e->source);
	}
	e->value = xstrdup(value);
	e->source = xstrdup(source ? source : "option");
}

void config_set(struct config *c, const char *key, const char *value,
		const char *source)
{
	set(c, key, value, source, 1);
}

void config_set_default(struct config *c, const char *key, const char *value,
			const char *source)
{
	set(c, key, value, source, 0);
}

static int valid_key(const char *k, size_t len)
{
	if (!len || !(isalpha((unsigned char)k[0]) || k[0] == '_'))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!(isalnum((unsigned char)k[i]) || k[i] == '_'))
			return 0;
	return 1;
}

/* Unquotes a shell value in place: 'x', "x" (with \" \\ \$), or a bare
 * word ending at unquoted whitespace or '#'.  Returns -1 on an unclosed
 * quote. */
static int unquote(char *s, char **out)
{
	char *w = s, *r = s;

	while (*r && !isspace((unsigned char)*r) && *r != '#') {
		if (*r == '\'') {
			char *q = strchr(r + 1, '\'');

			if (!q)
				return -1;
			memmove(w, r + 1, q - r - 1);
			w += q - r - 1;
			r = q + 1;
		} else if (*r == '"') {
			for (r++; *r && *r != '"'; r++) {
				if (*r == '\\' && r[1] && strchr("\"\\$`", r[1]))
					r++;
				*w++ = *r;
			}
			if (*r != '"')
				return -1;
			r++;
		} else {
			*w++ = *r++;
		}
	}
	while (isspace((unsigned char)*r))
		r++;
	if (*r && *r != '#')
		return -1;
	*w = '\0';
	*out = s;
	return 0;
}

int config_load_file(struct config *c, const char *path, int must_exist,
		     int overwrite)
{
	char *buf = read_file(path, NULL, !must_exist), *line, *next;
	int lineno = 0, ret = 0;

	if (!buf)
		return must_exist ? -1 : 1;
	for (line = buf; line && !ret; line = next) {
		char *eq, *key, *val, *src;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		while (isspace((unsigned char)*line))
			line++;
		if (!*line || *line == '#')
			continue;
		if (!strncmp(line, "export ", 7))
			line += 7;
		eq = strchr(line, '=');
		key = line;
		if (!eq || !valid_key(key, eq - key)) {
			ret = error("%s:%d: expected KEY=value, found '%s'",
				    path, lineno, line);
			break;
		}
		*eq = '\0';
		if (unquote(eq + 1, &val) < 0) {
			ret = error("%s:%d: cannot parse the value of %s",
				    path, lineno, key);
			break;
		}
		src = xasprintf("%s:%d", path, lineno);
		set(c, key, val, src, overwrite);
		free(src);
	}
	free(buf);
	return ret;
}

int config_parse_cmdline(struct config *c, const char *line, int overwrite)
{
	char *copy = xstrdup(line), *save = NULL, *w;

	for (w = strtok_r(copy, " \t\n", &save); w;
	     w = strtok_r(NULL, " \t\n", &save)) {
		char *eq = strchr(w, '=');
		int upper = 1;

		if (!eq || !valid_key(w, eq - w))
			continue;
		for (char *k = w; k < eq; k++)
			if (islower((unsigned char)*k))
				upper = 0;
		if (!upper)
			continue;
		*eq = '\0';
		set(c, w, eq + 1, "cmdline", overwrite);
	}
	free(copy);
	return 0;
}

int config_load_cmdline(struct config *c, const char *path, int overwrite)
{
	char *buf = read_file(path, NULL, 0);

	if (!buf)
		return -1;
	config_parse_cmdline(c, buf, overwrite);
	free(buf);
	return 0;
}
