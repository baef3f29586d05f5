/* manifest.c - see manifest.h */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manifest.h"
#include "util.h"

void manifest_init(struct manifest *m)
{
	m->v = NULL;
	m->n = m->alloc = 0;
}

void manifest_release(struct manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].path);
		free(m->v[i].target);
	}
	free(m->v);
	manifest_init(m);
}

struct manifest_entry *manifest_add(struct manifest *m, const char *path,
				    char type)
{
	struct manifest_entry *e;

	if (m->n == m->alloc) {
		m->alloc = m->alloc ? m->alloc * 2 : 256;
		m->v = xrealloc(m->v, m->alloc * sizeof(*m->v));
	}
	e = &m->v[m->n++];
	memset(e, 0, sizeof(*e));
	e->path = xstrdup(path);
	e->type = type;
	strcpy(e->sha256, "-");
	return e;
}

void manifest_set_target(struct manifest_entry *e, const char *target)
{
	free(e->target);
	e->target = target ? xstrdup(target) : NULL;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct manifest_entry *x = a, *y = b;

	return strcmp(x->path, y->path);
}

void manifest_sort(struct manifest *m)
{
	if (m->n > 1)
		qsort(m->v, m->n, sizeof(*m->v), cmp_entry);
}

const struct manifest_entry *manifest_find(const struct manifest *m,
					   const char *path)
{
	struct manifest_entry key = { .path = (char *)path };

	if (!m->n)
		return NULL;
	return bsearch(&key, m->v, m->n, sizeof(*m->v), cmp_entry);
}

char *manifest_escape(const char *s)
{
	size_t len = strlen(s);
	char *out = xmalloc(4 * len + 1), *w = out;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\') {
			*w++ = '\\';
			*w++ = '\\';
		} else if (*p == '\t') {
			*w++ = '\\';
			*w++ = 't';
		} else if (*p == '\n') {
			*w++ = '\\';
			*w++ = 'n';
		} else if (*p < 0x20 || *p >= 0x7f) {
			w += sprintf(w, "\\%03o", *p);
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	return out;
}

char *manifest_unescape(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *w = out;

	for (const char *p = s; *p; p++) {
		if (*p != '\\') {
			*w++ = *p;
			continue;
		}
		p++;
		if (*p == '\\')
			*w++ = '\\';
		else if (*p == 't')
			*w++ = '\t';
		else if (*p == 'n')
			*w++ = '\n';
		else if (p[0] >= '0' && p[0] <= '3' && p[1] >= '0' &&
			 p[1] <= '7' && p[2] >= '0' && p[2] <= '7') {
			int c = (p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0');

			if (!c)
				goto bad;
			*w++ = (char)c;
			p += 2;
		} else {
			goto bad;
		}
	}
	*w = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

static char *escape_target(const char *t)
{
	if (!t)
		return xstrdup("-");
	if (!strcmp(t, "-"))
		return xstrdup("\\055");
	return manifest_escape(t);
}

char *manifest_format(const struct manifest *m, size_t *lenp)
{
	size_t cap = 4096 + m->n * 160, len = 0;
	char *buf = xmalloc(cap);

	len = snprintf(buf, cap, "%s\n", MANIFEST_HEADER);
	for (size_t i = 0; i < m->n; i++) {
		const struct manifest_entry *e = &m->v[i];
		char *path = manifest_escape(e->path);
		char *target = escape_target(e->target);
		size_t need = strlen(path) + strlen(target) + 200;
		int n;

		if (len + need > cap) {
			cap = (len + need) * 2;
			buf = xrealloc(buf, cap);
		}
		n = snprintf(buf + len, cap - len,
			     "%s\t%c\t%04o\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu64
			     "\t%" PRId64 "\t%s\t%s\n", path, e->type,
			     e->mode & 07777, e->uid, e->gid, e->size,
			     e->mtime, e->sha256, target);
		len += n;
		free(path);
		free(target);
	}
	*lenp = len;
	return buf;
}

int manifest_write(const struct manifest *m, const char *path, int mode)
{
	size_t len;
	char *buf = manifest_format(m, &len);
	int ret = write_file_atomic(path, buf, len, mode);

	free(buf);
	return ret;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int valid_sha(const char *s, char type)
{
	if (type != 'f')
		return !strcmp(s, "-");
	if (strlen(s) != 64)
		return 0;
	return strspn(s, "0123456789abcdef") == 64;
}

/* Parses one line (modified in place) into a new entry of m. */
static int parse_line(struct manifest *m, char *line, const char *name,
		      int lineno)
{
	char *f[10], *end, *path, *target = NULL;
	uint64_t uid, gid, size, mtime_u;
	long mode;
	int n = 0;
	struct manifest_entry *e;

	for (char *p = line; n < 10; n++) {
		f[n] = p;
		p = strchr(p, '\t');
		if (!p) {
			n++;
			break;
		}
		*p++ = '\0';
	}
	if (n != 9)
		return error("%s:%d: expected 9 fields, found %d", name,
			     lineno, n);
	if (strlen(f[1]) != 1 || !strchr("fdlhcbp", f[1][0]))
		return error("%s:%d: bad type '%s'", name, lineno, f[1]);
	errno = 0;
	mode = strtol(f[2], &end, 8);
	if (strlen(f[2]) != 4 || *end || mode < 0)
		return error("%s:%d: bad mode '%s'", name, lineno, f[2]);
	if (parse_u64(f[3], UINT32_MAX, &uid) < 0 ||
	    parse_u64(f[4], UINT32_MAX, &gid) < 0 ||
	    parse_u64(f[5], UINT64_MAX, &size) < 0)
		return error("%s:%d: bad owner or size", name, lineno);
	if (f[6][0] == '-' ? parse_u64(f[6] + 1, INT64_MAX, &mtime_u) :
	    parse_u64(f[6], INT64_MAX, &mtime_u))
		return error("%s:%d: bad mtime '%s'", name, lineno, f[6]);
	if (!valid_sha(f[7], f[1][0]))
		return error("%s:%d: bad sha256 '%s'", name, lineno, f[7]);
	path = manifest_unescape(f[0]);
	if (!path || !*path)
		return error("%s:%d: bad path", name, lineno);
	if (strcmp(f[8], "-") && !(target = manifest_unescape(f[8]))) {
		free(path);
		return error("%s:%d: bad target", name, lineno);
	}
	e = manifest_add(m, path, f[1][0]);
	e->mode = mode;
	e->uid = uid;
	e->gid = gid;
	e->size = size;
	e->mtime = f[6][0] == '-' ? -(int64_t)mtime_u : (int64_t)mtime_u;
	strcpy(e->sha256, f[7]);
	e->target = target;
	free(path);
	return 0;
}

int manifest_parse(struct manifest *m, const char *buf, size_t len,
		   const char *name)
{
	char *copy = xmalloc(len + 1), *line, *next;
	int lineno = 1, ret = 0;

	memcpy(copy, buf, len);
	copy[len] = '\0';
	if (strlen(copy) != len) {
		free(copy);
		return error("%s: not a manifest (NUL byte)", name);
	}
	next = strchr(copy, '\n');
	if (!next || (size_t)(next - copy) != strlen(MANIFEST_HEADER) ||
	    strncmp(copy, MANIFEST_HEADER, next - copy)) {
		free(copy);
		return error("%s: not a manifest (expected '%s' first)", name,
			     MANIFEST_HEADER);
	}
	for (line = next + 1; *line && !ret; line = next) {
		lineno++;
		next = strchr(line, '\n');
		if (!next) {
			ret = error("%s:%d: truncated line", name, lineno);
			break;
		}
		*next++ = '\0';
		ret = parse_line(m, line, name, lineno);
		if (!ret && m->n > 1 &&
		    strcmp(m->v[m->n - 2].path, m->v[m->n - 1].path) >= 0)
			ret = error("%s:%d: paths not sorted or duplicated",
				    name, lineno);
	}
	free(copy);
	return ret;
}

int manifest_load(struct manifest *m, const char *path)
{
	size_t len;
	char *buf = read_file(path, &len, 0);
	int ret;

	if (!buf)
		return -1;
	ret = manifest_parse(m, buf, len, path);
	free(buf);
	return ret;
}

static int str_eq(const char *a, const char *b)
{
	return a && b ? !strcmp(a, b) : a == b;
}

int manifest_entry_equal(const struct manifest_entry *a,
			 const struct manifest_entry *b)
{
	return !strcmp(a->path, b->path) && a->type == b->type &&
	       a->mode == b->mode && a->uid == b->uid && a->gid == b->gid &&
	       a->size == b->size && a->mtime == b->mtime &&
	       !strcmp(a->sha256, b->sha256) && str_eq(a->target, b->target);
}

int manifest_diff(const struct manifest *o, const struct manifest *n,
		  int (*fn)(enum manifest_change what,
			    const struct manifest_entry *old_e,
			    const struct manifest_entry *new_e, void *data),
		  void *data)
{
	size_t i = 0, j = 0;
	int r = 0;

	while (!r && (i < o->n || j < n->n)) {
		int c = i == o->n ? 1 : j == n->n ? -1 :
			strcmp(o->v[i].path, n->v[j].path);

		if (c < 0) {
			r = fn(MANIFEST_REMOVED, &o->v[i++], NULL, data);
		} else if (c > 0) {
			r = fn(MANIFEST_ADDED, NULL, &n->v[j++], data);
		} else {
			if (!manifest_entry_equal(&o->v[i], &n->v[j]))
				r = fn(MANIFEST_CHANGED, &o->v[i], &n->v[j],
				       data);
			i++;
			j++;
		}
	}
	return r;
}
