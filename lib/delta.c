/* delta.c - the delta package format: DELTA-INDEX text, its checksum, and
 * reading + verifying a package (delta_load).  See docs/delta-format.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <librsync.h>
#include <openssl/evp.h>

#include "delta.h"
#include "log.h"
#include "util.h"

static const char *kind_names[] = {
	[DELTA_REMOVE] = "remove", [DELTA_MKDIR] = "mkdir",
	[DELTA_WHOLE] = "whole", [DELTA_PATCH] = "patch",
	[DELTA_META] = "meta", [DELTA_SYMLINK] = "symlink",
	[DELTA_HARDLINK] = "hardlink", [DELTA_NODE] = "node",
};

const char *delta_kind_name(enum delta_kind k)
{
	return (unsigned)k < ARRAY_SIZE(kind_names) ? kind_names[k] : "?";
}

void delta_index_release(struct delta_index *idx)
{
	if (!idx)
		return;
	for (size_t i = 0; i < idx->n; i++) {
		struct delta_op *op = &idx->ops[i];

		free(op->path);
		free(op->payload);
		free(op->target);
		free(op->xattrs);
	}
	free(idx->ops);
	free(idx->image);
	free(idx->from);
	free(idx->to);
	memset(idx, 0, sizeof(*idx));
}

/* A growing text buffer. */
struct sbuf {
	char *buf;
	size_t len, cap;
};

static void sb_add(struct sbuf *sb, const char *s, size_t n)
{
	if (sb->len + n + 1 > sb->cap) {
		sb->cap = (sb->len + n + 1) * 2;
		sb->buf = xrealloc(sb->buf, sb->cap);
	}
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

static void sb_puts(struct sbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

static void sb_printf(struct sbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		die(1, "out of memory");
	va_end(ap);
	sb_puts(sb, s);
	free(s);
}

/* Field escaping as in the manifests: \\ \t \n and non-printable bytes as
 * \ooo; NULL (or "") is "-", and a literal "-" is written \055. */
static void sb_field(struct sbuf *sb, const char *s)
{
	if (!s || !*s) {
		sb_puts(sb, "-");
		return;
	}
	if (!strcmp(s, "-")) {
		sb_puts(sb, "\\055");
		return;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char tmp[8];

		if (*p == '\\')
			sb_puts(sb, "\\\\");
		else if (*p == '\t')
			sb_puts(sb, "\\t");
		else if (*p == '\n')
			sb_puts(sb, "\\n");
		else if (*p < 0x20 || *p >= 0x7f) {
			snprintf(tmp, sizeof(tmp), "\\%03o", *p);
			sb_puts(sb, tmp);
		} else
			sb_add(sb, (const char *)p, 1);
	}
}

/* Returns the unescaped field (NULL for "-"), or sets *bad. */
static char *unescape(const char *s, int *bad)
{
	char *out, *o;

	if (!strcmp(s, "-"))
		return NULL;
	out = o = xmalloc(strlen(s) + 1);
	while (*s) {
		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		s++;
		if (*s == '\\' || *s == 't' || *s == 'n') {
			*o++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : '\\';
			s++;
		} else if (s[0] >= '0' && s[0] <= '3' && s[1] >= '0' &&
			   s[1] <= '7' && s[2] >= '0' && s[2] <= '7') {
			*o++ = (char)((s[0] - '0') * 64 + (s[1] - '0') * 8 +
				      (s[2] - '0'));
			s += 3;
		} else {
			*bad = 1;
			break;
		}
	}
	*o = '\0';
	if (*bad || !*out || memchr(out, 0, o - out)) {
		*bad = 1;
		free(out);
		return NULL;
	}
	return out;
}

static void sha256_buf(const void *buf, size_t len, char hex[65])
{
	unsigned char md[32];
	unsigned mdlen;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, buf, len);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
}

char *delta_index_format(const struct delta_index *idx, size_t *len)
{
	struct sbuf sb = { 0 };
	char sum[65];

	sb_printf(&sb, "%s\n", DELTA_MAGIC);
	const char *labels[][2] = { { "@image", idx->image },
				    { "@from", idx->from },
				    { "@to", idx->to } };
	for (size_t i = 0; i < ARRAY_SIZE(labels); i++) {
		if (!labels[i][1])
			continue;
		sb_printf(&sb, "%s\t", labels[i][0]);
		sb_field(&sb, labels[i][1]);
		sb_puts(&sb, "\n");
	}
	for (size_t i = 0; i < idx->n; i++) {
		const struct delta_op *op = &idx->ops[i];

		sb_printf(&sb, "%s\t", delta_kind_name(op->kind));
		sb_field(&sb, op->path);
		sb_printf(&sb, "\t%c\t%04o\t%lu\t%lu\t%" PRId64 "\t%" PRId64 "\t",
			  op->type, op->mode, (unsigned long)op->uid,
			  (unsigned long)op->gid, op->mtime, op->size);
		sb_field(&sb, op->old_sha);
		sb_puts(&sb, "\t");
		sb_field(&sb, op->new_sha);
		sb_puts(&sb, "\t");
		sb_field(&sb, op->payload);
		sb_printf(&sb, "\t%" PRId64 "\t", op->payload_size);
		sb_field(&sb, op->payload_sha);
		sb_puts(&sb, "\t");
		sb_field(&sb, op->target);
		sb_puts(&sb, "\t");
		sb_field(&sb, op->xattrs);
		sb_puts(&sb, "\n");
	}
	sha256_buf(sb.buf, sb.len, sum);
	sb_printf(&sb, "end\t%zu\t%s\n", idx->n, sum);
	*len = sb.len;
	return sb.buf;
}

static int is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/* A relative path without "..", ".", empty components or a leading '/'. */
static int safe_path(const char *p)
{
	const char *c = p;

	if (!p || !*p || *p == '/')
		return 0;
	while (*c) {
		const char *e = strchrnul(c, '/');
		size_t n = e - c;

		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		c = *e ? e + 1 : e;
		if (*e && !*c)
			return 0;
	}
	return 1;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;

	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

static int kind_from_name(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(kind_names); i++)
		if (!strcmp(s, kind_names[i]))
			return (int)i;
	return -1;
}

static int copy_sha(char dst[65], const char *field, int *bad)
{
	if (!strcmp(field, "-")) {
		dst[0] = '\0';
		return 0;
	}
	if (!is_hex64(field)) {
		*bad = 1;
		return -1;
	}
	memcpy(dst, field, 65);
	return 0;
}

/* Parses one operation line (fields split in place). */
static int parse_op(char *line, struct delta_op *op)
{
	char *f[16];
	int n = 0, bad = 0, k;
	int64_t v[5];
	char *save = NULL;

	memset(op, 0, sizeof(*op));
	for (char *t = strtok_r(line, "\t", &save); t && n < 16;
	     t = strtok_r(NULL, "\t", &save))
		f[n++] = t;
	if (n != 15 || (k = kind_from_name(f[0])) < 0 || strlen(f[2]) != 1 ||
	    !strchr("fdlhcbp-", f[2][0]))
		return -1;
	op->kind = k;
	op->type = f[2][0];
	for (int i = 0; i < 5; i++)
		if (parse_i64(f[3 + i], &v[i]) < 0 || (i < 3 && v[i] < 0))
			return -1;
	char *end;
	unsigned long mode = strtoul(f[3], &end, 8);
	if (*end || mode > 07777 || v[4] < 0)
		return -1;
	op->mode = mode;
	op->uid = (uid_t)v[1];
	op->gid = (gid_t)v[2];
	op->mtime = v[3];
	op->size = v[4];
	copy_sha(op->old_sha, f[8], &bad);
	copy_sha(op->new_sha, f[9], &bad);
	op->path = unescape(f[1], &bad);
	op->payload = unescape(f[10], &bad);
	if (parse_i64(f[11], &op->payload_size) < 0 || op->payload_size < 0)
		bad = 1;
	copy_sha(op->payload_sha, f[12], &bad);
	op->target = unescape(f[13], &bad);
	op->xattrs = unescape(f[14], &bad);
	if (bad || !safe_path(op->path))
		return -1;
	if (op->payload && (!safe_path(op->payload) || !op->payload_sha[0]))
		return -1;
	if ((op->kind == DELTA_WHOLE || op->kind == DELTA_PATCH) &&
	    (!op->payload || !op->new_sha[0]))
		return -1;
	if (op->kind == DELTA_PATCH && !op->old_sha[0])
		return -1;
	if ((op->kind == DELTA_SYMLINK && !op->target) ||
	    (op->kind == DELTA_HARDLINK && !safe_path(op->target)))
		return -1;
	return 0;
}

static void free_op(struct delta_op *op)
{
	free(op->path);
	free(op->payload);
	free(op->target);
	free(op->xattrs);
	memset(op, 0, sizeof(*op));
}

static int parse_label(struct delta_index *idx, char *line)
{
	char *tab = strchr(line, '\t');
	char **slot;
	int bad = 0;

	if (!tab)
		return -1;
	*tab = '\0';
	if (!strcmp(line, "@image"))
		slot = &idx->image;
	else if (!strcmp(line, "@from"))
		slot = &idx->from;
	else if (!strcmp(line, "@to"))
		slot = &idx->to;
	else
		return 0;	/* unknown labels are for newer readers */
	free(*slot);
	*slot = unescape(tab + 1, &bad);
	return bad ? -1 : 0;
}

int delta_index_parse(const char *what, const char *buf, size_t len,
		      struct delta_index *idx)
{
	const char *end_line, *p;
	char sum[65], *copy, *save = NULL, *line;
	size_t cap = 0, lineno = 1, count;
	int ret = 0;

	memset(idx, 0, sizeof(*idx));
	if (len < strlen(DELTA_MAGIC) + 1 || memchr(buf, '\0', len) ||
	    strncmp(buf, DELTA_MAGIC "\n", strlen(DELTA_MAGIC) + 1))
		return error("delta '%s' is corrupt: not a delta index", what);
	if (buf[len - 1] != '\n')
		return error("delta '%s' is corrupt: index truncated", what);
	/* The last line is "end\tN\tSHA256 of everything before it". */
	for (p = buf + len - 1; p > buf && p[-1] != '\n'; p--)
		;
	end_line = p;
	sha256_buf(buf, end_line - buf, sum);
	copy = xmalloc(len + 1);
	memcpy(copy, buf, len);
	copy[len] = '\0';
	char *endc = copy + (end_line - buf), *t2 = strrchr(endc, '\t');
	if (strncmp(endc, "end\t", 4) || sscanf(endc + 4, "%zu", &count) != 1 ||
	    !t2 || strlen(t2 + 1) != 65 || strncmp(t2 + 1, sum, 64)) {
		free(copy);
		return error("delta '%s' is corrupt: index checksum mismatch",
			     what);
	}
	*endc = '\0';
	strtok_r(copy, "\n", &save);	/* the magic line */
	while ((line = strtok_r(NULL, "\n", &save))) {
		lineno++;
		if (line[0] == '#')
			continue;
		if (line[0] == '@') {
			if (parse_label(idx, line) < 0) {
				ret = error("delta '%s' is corrupt: bad index line %zu",
					    what, lineno);
				break;
			}
			continue;
		}
		if (idx->n == cap)
			idx->ops = xrealloc(idx->ops,
					    (cap = cap ? cap * 2 : 64) *
						    sizeof(*idx->ops));
		if (parse_op(line, &idx->ops[idx->n]) < 0) {
			free_op(&idx->ops[idx->n]);
			ret = error("delta '%s' is corrupt: bad index line %zu",
				    what, lineno);
			break;
		}
		idx->n++;
	}
	free(copy);
	if (!ret && count != idx->n)
		ret = error("delta '%s' is corrupt: index has %zu operations, "
			    "its end line says %zu", what, idx->n, count);
	if (ret)
		delta_index_release(idx);
	return ret;
}

int delta_rs_feed(struct rs_job *job, const void *in, size_t len, int eof,
		  int (*sink)(void *arg, const void *buf, size_t len),
		  void *sink_arg)
{
	char out[1 << 16];
	rs_buffers_t b = { .next_in = (char *)in, .avail_in = len,
			   .eof_in = eof };

	for (;;) {
		b.next_out = out;
		b.avail_out = sizeof(out);
		rs_result r = rs_job_iter(job, &b);
		size_t produced = sizeof(out) - b.avail_out;

		if (produced && sink(sink_arg, out, produced) < 0)
			return -1;
		if (r == RS_DONE)
			return 0;
		if (r != RS_BLOCKED)
			return error("librsync: %s", rs_strerror(r));
		if (!eof && !b.avail_in && b.avail_out)
			return 0;
	}
}

/* Reads the current member's data, hashing it.  Returns 0 or -1. */
static int hash_member(struct archive *a, const char *what, int64_t *size,
		       char hex[65])
{
	unsigned char buf[1 << 16], md[32];
	unsigned mdlen;
	la_ssize_t n;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ret = 0;

	*size = 0;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
		EVP_DigestUpdate(ctx, buf, n);
		*size += n;
	}
	if (n < 0)
		ret = error("cannot read delta '%s': %s", what,
			    archive_error_string(a));
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	return ret;
}

/* Opens the package and reads its index member into *buf.  Returns the
 * archive positioned after the index, or NULL with a message. */
struct archive *delta_open_package(const char *path, char **buf, size_t *len)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct sbuf sb = { 0 };
	char chunk[1 << 16];
	la_ssize_t n;

	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		error("cannot open delta '%s': %s", path,
		      archive_error_string(a));
		goto fail;
	}
	if (archive_read_next_header(a, &e) != ARCHIVE_OK ||
	    strcmp(archive_entry_pathname(e), DELTA_INDEX_NAME)) {
		error("delta '%s' is corrupt: it does not start with %s", path,
		      DELTA_INDEX_NAME);
		goto fail;
	}
	if (archive_entry_size(e) > (1 << 30)) {
		error("delta '%s' is corrupt: index too large", path);
		goto fail;
	}
	sb_add(&sb, "", 0);
	while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0)
		sb_add(&sb, chunk, n);
	if (n < 0) {
		error("cannot read delta '%s': %s", path,
		      archive_error_string(a));
		goto fail;
	}
	*buf = sb.buf;
	*len = sb.len;
	return a;
fail:
	free(sb.buf);
	archive_read_free(a);
	return NULL;
}

int delta_read_index(const char *path, struct delta_index *idx)
{
	char *buf = NULL;
	size_t len;
	struct archive *a = delta_open_package(path, &buf, &len);
	int ret;

	memset(idx, 0, sizeof(*idx));
	if (!a)
		return -1;
	ret = delta_index_parse(path, buf, len, idx);
	free(buf);
	archive_read_free(a);
	return ret;
}

int delta_load(const char *path, struct delta_index *idx)
{
	struct archive_entry *e;
	char *buf = NULL, sum[65];
	size_t len, i;
	int64_t size;
	int ret = 0, r;
	struct archive *a = delta_open_package(path, &buf, &len);

	memset(idx, 0, sizeof(*idx));
	if (!a)
		return -1;
	if (delta_index_parse(path, buf, len, idx) < 0) {
		free(buf);
		archive_read_free(a);
		return -1;
	}
	free(buf);
	for (i = 0; i < idx->n && !ret; i++) {
		const struct delta_op *op = &idx->ops[i];

		if (!op->payload)
			continue;
		r = archive_read_next_header(a, &e);
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			ret = error("delta '%s' is corrupt: payload '%s' missing",
				    path, op->payload);
		else if (strcmp(archive_entry_pathname(e), op->payload))
			ret = error("delta '%s' is corrupt: found '%s' where "
				    "payload '%s' belongs", path,
				    archive_entry_pathname(e), op->payload);
		else if (hash_member(a, path, &size, sum) < 0)
			ret = -1;
		else if (size != op->payload_size || strcmp(sum, op->payload_sha))
			ret = error("delta '%s' is corrupt: payload '%s' (for "
				    "'%s') does not match its checksum", path,
				    op->payload, op->path);
	}
	if (!ret && (r = archive_read_next_header(a, &e)) != ARCHIVE_EOF)
		ret = error(r == ARCHIVE_OK ?
			    "delta '%s' is corrupt: unexpected member after "
			    "the payloads" : "delta '%s' is corrupt: bad end",
			    path);
	archive_read_free(a);
	if (ret)
		delta_index_release(idx);
	return ret;
}
