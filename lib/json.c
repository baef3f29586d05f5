/* json.c - see json.h.  RFC 8259 for one flat object: the parser keeps
 * the top level's members and skips nested values, which it still
 * checks. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

#define JSON_MAX_DEPTH 16

struct parser {
	const char *start, *p, *end;
	char *err;
	size_t errlen;
};

static int fail(struct parser *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!ps->errlen)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(ps->err, ps->errlen, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < ps->errlen)
		snprintf(ps->err + n, ps->errlen - n, " at byte %zu",
			 (size_t)(ps->p - ps->start));
	return -1;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *d, unsigned cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | cp >> 6);
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | cp >> 12);
		d[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | cp >> 18);
	d[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	d[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One \u escape (and its low surrogate) at ps->p, past the 'u'. */
static int unicode_escape(struct parser *ps, unsigned *cp)
{
	unsigned lo;

	if (ps->end - ps->p < 4 || hex4(ps->p, cp) < 0)
		return fail(ps, "bad \\u escape");
	ps->p += 4;
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		return fail(ps, "lone low surrogate");
	if (*cp >= 0xd800 && *cp <= 0xdbff) {
		if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
		    hex4(ps->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
			return fail(ps, "lone high surrogate");
		ps->p += 6;
		*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (*cp == 0)
		return fail(ps, "\\u0000 in a string");
	return 0;
}

/* A string at ps->p (its opening quote); into *out when out is set. */
static int parse_string(struct parser *ps, char **out)
{
	char *d = NULL;
	size_t n = 0;
	unsigned cp;

	ps->p++;
	if (out)
		d = xmalloc((size_t)(ps->end - ps->p) + 1);
	while (ps->p < ps->end && *ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p++;
		char tmp[4];
		size_t k = 1;

		tmp[0] = (char)c;
		if (c < 0x20) {
			free(d);
			return fail(ps, "control character in a string");
		}
		if (c == '\\') {
			if (ps->p >= ps->end)
				break;
			c = (unsigned char)*ps->p++;
			switch (c) {
			case '"': case '\\': case '/': tmp[0] = (char)c; break;
			case 'b': tmp[0] = '\b'; break;
			case 'f': tmp[0] = '\f'; break;
			case 'n': tmp[0] = '\n'; break;
			case 'r': tmp[0] = '\r'; break;
			case 't': tmp[0] = '\t'; break;
			case 'u':
				if (unicode_escape(ps, &cp) < 0) {
					free(d);
					return -1;
				}
				k = put_utf8(tmp, cp);
				break;
			default:
				free(d);
				return fail(ps, "bad escape '\\%c'", c);
			}
		}
		if (d) {
			memcpy(d + n, tmp, k);
			n += k;
		}
	}
	if (ps->p >= ps->end) {
		free(d);
		return fail(ps, "unterminated string");
	}
	ps->p++;
	if (d) {
		d[n] = '\0';
		*out = d;
	}
	return 0;
}

static int parse_number(struct parser *ps, double *out)
{
	const char *s = ps->p;
	char buf[64];
	size_t n;

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
		return fail(ps, "bad number");
	if (*ps->p == '0')
		ps->p++;
	else
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return fail(ps, "bad number");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return fail(ps, "bad number");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	n = (size_t)(ps->p - s);
	if (n >= sizeof(buf))
		return fail(ps, "number too long");
	memcpy(buf, s, n);
	buf[n] = '\0';
	*out = strtod(buf, NULL);
	if (!isfinite(*out))
		return fail(ps, "number out of range");
	return 0;
}

static int literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return fail(ps, "unexpected '%c'", *ps->p);
	ps->p += n;
	return 0;
}

static int skip_value(struct parser *ps, int depth);

/* An object or array at ps->p, checked and thrown away. */
static int skip_nested(struct parser *ps, int depth)
{
	char close = *ps->p == '{' ? '}' : ']';
	int first = 1;

	if (depth >= JSON_MAX_DEPTH)
		return fail(ps, "nested more than %d levels", JSON_MAX_DEPTH);
	ps->p++;
	for (;;) {
		skip_ws(ps);
		if (ps->p >= ps->end)
			return fail(ps, "unterminated %s",
				    close == '}' ? "object" : "array");
		if (*ps->p == close && first) {
			ps->p++;
			return 0;
		}
		if (close == '}') {
			if (*ps->p != '"' || parse_string(ps, NULL) < 0)
				return fail(ps, "expected a member name");
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p++ != ':')
				return fail(ps, "expected ':'");
		}
		if (skip_value(ps, depth + 1) < 0)
			return -1;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			first = 0;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return 0;
		}
		return fail(ps, "expected ',' or '%c'", close);
	}
}

/* A value at ps->p into f (NULL: checked and skipped). */
static int parse_value(struct parser *ps, struct json_field *f, int depth)
{
	struct json_field dummy;

	if (!f)
		f = &dummy;
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, "expected a value");
	switch (*ps->p) {
	case '"':
		f->type = JSON_STRING;
		return parse_string(ps, f == &dummy ? NULL : &f->str);
	case '{': case '[':
		f->type = JSON_NESTED;
		return skip_nested(ps, depth);
	case 't':
		f->type = JSON_BOOL;
		f->num = 1;
		return literal(ps, "true");
	case 'f':
		f->type = JSON_BOOL;
		f->num = 0;
		return literal(ps, "false");
	case 'n':
		f->type = JSON_NULL;
		return literal(ps, "null");
	default:
		f->type = JSON_NUMBER;
		return parse_number(ps, &f->num);
	}
}

static int skip_value(struct parser *ps, int depth)
{
	return parse_value(ps, NULL, depth);
}

static int parse_member(struct parser *ps, struct json_obj *o)
{
	struct json_field f = { 0 };

	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != '"')
		return fail(ps, "expected a member name");
	if (parse_string(ps, &f.key) < 0)
		return -1;
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p++ != ':') {
		free(f.key);
		return fail(ps, "expected ':'");
	}
	if (parse_value(ps, &f, 1) < 0) {
		free(f.key);
		return -1;
	}
	o->v = xrealloc(o->v, (o->n + 1) * sizeof(*o->v));
	o->v[o->n++] = f;
	return 0;
}

int json_parse(const char *s, size_t len, struct json_obj *o, char *err,
	       size_t errlen)
{
	struct parser ps = { s, s, s + len, err, errlen };

	o->v = NULL;
	o->n = 0;
	skip_ws(&ps);
	if (ps.p >= ps.end || *ps.p != '{')
		return fail(&ps, "expected an object");
	ps.p++;
	skip_ws(&ps);
	if (ps.p < ps.end && *ps.p == '}') {
		ps.p++;
	} else {
		for (;;) {
			if (parse_member(&ps, o) < 0)
				return -1;
			skip_ws(&ps);
			if (ps.p < ps.end && *ps.p == ',') {
				ps.p++;
				continue;
			}
			if (ps.p < ps.end && *ps.p == '}') {
				ps.p++;
				break;
			}
			return fail(&ps, "expected ',' or '}'");
		}
	}
	skip_ws(&ps);
	if (ps.p != ps.end)
		return fail(&ps, "text after the object");
	return 0;
}

void json_obj_release(struct json_obj *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n; i++) {
		free(o->v[i].key);
		free(o->v[i].str);
	}
	free(o->v);
	o->v = NULL;
	o->n = 0;
}

const struct json_field *json_get(const struct json_obj *o, const char *key)
{
	for (size_t i = o->n; i-- > 0;)
		if (!strcmp(o->v[i].key, key))
			return &o->v[i];
	return NULL;
}

const char *json_get_str(const struct json_obj *o, const char *key)
{
	const struct json_field *f = json_get(o, key);

	return f && f->type == JSON_STRING ? f->str : NULL;
}

int json_get_num(const struct json_obj *o, const char *key, double *out)
{
	const struct json_field *f = json_get(o, key);

	if (!f || f->type != JSON_NUMBER)
		return -1;
	*out = f->num;
	return 0;
}

/* --- output ---------------------------------------------------------- */

static void put(struct json_out *j, const char *s, size_t n)
{
	if (j->len + n + 1 > j->cap) {
		j->cap = (j->len + n + 1) * 2;
		j->buf = xrealloc(j->buf, j->cap);
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

void json_out_init(struct json_out *j)
{
	memset(j, 0, sizeof(*j));
	put(j, "{", 1);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 :
		   s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

void json_out_quoted(struct json_out *j, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	put(j, "\"", 1);
	while (*s) {
		char esc[8];
		size_t n;

		if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*s++;
			put(j, esc, 2);
		} else if (*s < 0x20 || *s == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *s++);
			put(j, esc, 6);
		} else if (*s < 0x80) {
			put(j, (const char *)s++, 1);
		} else if ((n = utf8_len(s))) {
			put(j, (const char *)s, n);
			s += n;
		} else {
			put(j, "\xef\xbf\xbd", 3);
			s++;
		}
	}
	put(j, "\"", 1);
}

static void key(struct json_out *j, const char *k)
{
	if (j->members++)
		put(j, ",", 1);
	json_out_quoted(j, k);
	put(j, ":", 1);
}

void json_out_str(struct json_out *j, const char *k, const char *value)
{
	key(j, k);
	if (value)
		json_out_quoted(j, value);
	else
		put(j, "null", 4);
}

void json_out_num(struct json_out *j, const char *k, double value)
{
	char buf[64];
	int n = isfinite(value) ? snprintf(buf, sizeof(buf), "%.15g", value) :
		snprintf(buf, sizeof(buf), "null");

	key(j, k);
	put(j, buf, (size_t)n);
}

void json_out_int(struct json_out *j, const char *k, long long value)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%lld", value);

	key(j, k);
	put(j, buf, (size_t)n);
}

const char *json_out_end(struct json_out *j)
{
	put(j, "}", 1);
	return j->buf;
}

void json_out_release(struct json_out *j)
{
	if (!j)
		return;
	free(j->buf);
	memset(j, 0, sizeof(*j));
}
