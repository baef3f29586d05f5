/* cluster.c - see cluster.h */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "log.h"
#include "util.h"

static char *trim(char *s)
{
	size_t n;

	s += strspn(s, " \t");
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

int cluster_split(char *line, char *f[CLUSTER_FIELDS])
{
	char *hash = strchr(line, '#');

	if (hash)
		*hash = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	while (*line == ' ' || *line == '\t')
		line++;
	if (!*line)
		return 0;
	for (int i = 0; i < CLUSTER_FIELDS; i++) {
		char *c = line && i < CLUSTER_FIELDS - 1 ? strchr(line, ':')
			: NULL;

		f[i] = line ? line : "";
		if (c)
			*c++ = '\0';
		line = c;
	}
	for (int i = 0; i < CLUSTER_FIELDS; i++)
		f[i] = trim(f[i]);
	return 1;
}

int cluster_mac(const char *s, char out[18])
{
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;

		if (!isxdigit((unsigned char)p[0]) ||
		    !isxdigit((unsigned char)p[1]))
			return -1;
		if (i < 5 ? p[2] != ':' && p[2] != '-' : p[2] != '\0')
			return -1;
		out[3 * i] = (char)tolower((unsigned char)p[0]);
		out[3 * i + 1] = (char)tolower((unsigned char)p[1]);
		out[3 * i + 2] = i < 5 ? ':' : '\0';
	}
	return 0;
}

static struct cluster_host *host_get(struct cluster_table *t, const char *name)
{
	struct cluster_host *h;

	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].name, name))
			return &t->v[i];
	t->v = xrealloc(t->v, (t->n + 1) * sizeof(*t->v));
	h = &t->v[t->n++];
	memset(h, 0, sizeof(*h));
	h->name = xstrdup(name);
	return h;
}

/* The fifth field: "MAC" or "MAC:IPV4". */
static int parse_rest(struct cluster_table *t, struct cluster_host *h,
		      char *rest, const char *name, int lineno)
{
	char mac[18], *ip = NULL;
	struct in_addr a;

	if (strlen(rest) > 17) {
		if (rest[17] != ':')
			return error("%s:%d: bad MAC address '%s'", name,
				     lineno, rest);
		rest[17] = '\0';
		ip = trim(rest + 18);
	}
	if (cluster_mac(rest, mac) < 0)
		return error("%s:%d: bad MAC address '%s' (six hexadecimal "
			     "pairs, e.g. 52:54:00:12:34:56)", name, lineno,
			     rest);
	if (ip && inet_pton(AF_INET, ip, &a) != 1)
		return error("%s:%d: bad IPv4 address '%s' for '%s'", name,
			     lineno, ip, h->name);
	for (size_t i = 0; i < t->n; i++)
		if (&t->v[i] != h && !strcmp(t->v[i].mac, mac))
			return error("%s:%d: MAC %s given to '%s' and '%s'",
				     name, lineno, mac, t->v[i].name, h->name);
	if (*h->mac && strcmp(h->mac, mac))
		return error("%s:%d: host '%s' has two MACs, %s and %s", name,
			     lineno, h->name, h->mac, mac);
	memcpy(h->mac, mac, sizeof(mac));
	if (ip && h->ip && strcmp(h->ip, ip))
		return error("%s:%d: host '%s' has two addresses, %s and %s",
			     name, lineno, h->name, h->ip, ip);
	if (ip && !h->ip)
		h->ip = xstrdup(ip);
	return 0;
}

int cluster_parse(struct cluster_table *t, const char *text, const char *name)
{
	char *copy = xstrdup(text), *line = copy, *next, *f[CLUSTER_FIELDS];
	int lineno = 0, ret = 0;

	for (; line && !ret; line = next) {
		struct cluster_host *h;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (!cluster_split(line, f) || !strcmp(f[0], "*") || !*f[0])
			continue;
		if (!valid_name(f[0])) {
			ret = error("%s:%d: invalid host name '%s'", name,
				    lineno, f[0]);
			break;
		}
		h = host_get(t, f[0]);
		if (*f[1] && !h->group)
			h->group = xstrdup(f[1]);
		if (*f[2] && !h->image)
			h->image = xstrdup(f[2]);
		if (*f[4])
			ret = parse_rest(t, h, f[4], name, lineno);
	}
	free(copy);
	return ret;
}

void cluster_release(struct cluster_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].image);
		free(t->v[i].group);
		free(t->v[i].ip);
	}
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

const struct cluster_host *cluster_by_mac(const struct cluster_table *t,
					  const char *mac)
{
	char m[18];

	if (cluster_mac(mac, m) < 0)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].mac, m))
			return &t->v[i];
	return NULL;
}

const struct cluster_host *cluster_by_name(const struct cluster_table *t,
					   const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].name, name))
			return &t->v[i];
	return NULL;
}
