/* disklayout.c - see disklayout.h and docs/disklayout.md */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "disklayout.h"
#include "log.h"
#include "util.h"

/* One table per record type drives both the writer and the reader. */
enum fkind { F_STR, F_U64, F_UINT, F_INT };

struct field {
	const char *key;
	enum fkind kind;
	size_t off;
	int required;
};

#define S(T, m, r) { #m, F_STR, offsetof(struct T, m), r }
#define U64(T, m, r) { #m, F_U64, offsetof(struct T, m), r }
#define UI(T, m, r) { #m, F_UINT, offsetof(struct T, m), r }
#define I(T, m, r) { #m, F_INT, offsetof(struct T, m), r }

static const struct field disk_fields[] = {
	S(dl_disk, dev, 1), U64(dl_disk, size, 1), UI(dl_disk, sector_size, 1),
	S(dl_disk, table, 1), S(dl_disk, id, 0), U64(dl_disk, first_lba, 0),
	U64(dl_disk, last_lba, 0),
};
static const struct field part_fields[] = {
	S(dl_part, disk, 1), I(dl_part, num, 1), S(dl_part, dev, 1),
	U64(dl_part, start, 1), U64(dl_part, sectors, 1), U64(dl_part, size, 1),
	S(dl_part, type, 1), S(dl_part, uuid, 0), S(dl_part, name, 0),
	S(dl_part, attrs, 0), I(dl_part, bootable, 0), I(dl_part, grow, 0),
};
static const struct field fs_fields[] = {
	S(dl_fs, dev, 1), S(dl_fs, type, 1), S(dl_fs, uuid, 0),
	S(dl_fs, label, 0), S(dl_fs, mount, 0), S(dl_fs, options, 0),
	S(dl_fs, version, 0), UI(dl_fs, block_size, 0),
	UI(dl_fs, inode_size, 0), S(dl_fs, features, 0),
};
static const struct field mount_fields[] = {
	S(dl_mount, path, 1), S(dl_mount, type, 1), S(dl_mount, source, 0),
	S(dl_mount, options, 0), I(dl_mount, local, 1),
};
static const struct field swapfile_fields[] = {
	S(dl_swapfile, path, 1), U64(dl_swapfile, size, 0),
};
static const struct field fstab_fields[] = {
	S(dl_fstab, spec, 1), S(dl_fstab, file, 1), S(dl_fstab, type, 1),
	S(dl_fstab, options, 0), I(dl_fstab, freq, 0), I(dl_fstab, passno, 0),
};

struct rectype {
	const char *name;
	const struct field *fields;
	size_t nfields;
	size_t size;		/* of one element */
	size_t arr, cnt;	/* offsets of the array and count in struct
				 * disklayout */
};

static const struct rectype rectypes[] = {
	{ "disk", disk_fields, ARRAY_SIZE(disk_fields), sizeof(struct dl_disk),
	  offsetof(struct disklayout, disks), offsetof(struct disklayout, ndisks) },
	{ "part", part_fields, ARRAY_SIZE(part_fields), sizeof(struct dl_part),
	  offsetof(struct disklayout, parts), offsetof(struct disklayout, nparts) },
	{ "fs", fs_fields, ARRAY_SIZE(fs_fields), sizeof(struct dl_fs),
	  offsetof(struct disklayout, fss), offsetof(struct disklayout, nfss) },
	{ "mount", mount_fields, ARRAY_SIZE(mount_fields), sizeof(struct dl_mount),
	  offsetof(struct disklayout, mounts), offsetof(struct disklayout, nmounts) },
	{ "swapfile", swapfile_fields, ARRAY_SIZE(swapfile_fields),
	  sizeof(struct dl_swapfile), offsetof(struct disklayout, swapfiles),
	  offsetof(struct disklayout, nswapfiles) },
	{ "fstab", fstab_fields, ARRAY_SIZE(fstab_fields), sizeof(struct dl_fstab),
	  offsetof(struct disklayout, fstab), offsetof(struct disklayout, nfstab) },
};

void disklayout_init(struct disklayout *dl)
{
	memset(dl, 0, sizeof(*dl));
}

static void **arrp(struct disklayout *dl, const struct rectype *rt)
{
	return (void **)((char *)dl + rt->arr);
}

static size_t *cntp(struct disklayout *dl, const struct rectype *rt)
{
	return (size_t *)((char *)dl + rt->cnt);
}

void disklayout_release(struct disklayout *dl)
{
	for (size_t t = 0; t < ARRAY_SIZE(rectypes); t++) {
		const struct rectype *rt = &rectypes[t];
		char *arr = *arrp(dl, rt);

		for (size_t i = 0; i < *cntp(dl, rt); i++)
			for (size_t f = 0; f < rt->nfields; f++)
				if (rt->fields[f].kind == F_STR)
					free(*(char **)(arr + i * rt->size +
							rt->fields[f].off));
		free(arr);
	}
	free(dl->host);
	free(dl->firmware);
	memset(dl, 0, sizeof(*dl));
}

static void *add(struct disklayout *dl, const struct rectype *rt)
{
	void **arr = arrp(dl, rt);
	size_t *n = cntp(dl, rt);
	char *p;

	*arr = xrealloc(*arr, (*n + 1) * rt->size);
	p = (char *)*arr + (*n)++ * rt->size;
	memset(p, 0, rt->size);
	return p;
}

static const struct rectype *rectype(const char *name)
{
	for (size_t t = 0; t < ARRAY_SIZE(rectypes); t++)
		if (!strcmp(rectypes[t].name, name))
			return &rectypes[t];
	return NULL;
}

struct dl_disk *disklayout_add_disk(struct disklayout *dl)
{ return add(dl, rectype("disk")); }
struct dl_part *disklayout_add_part(struct disklayout *dl)
{ return add(dl, rectype("part")); }
struct dl_fs *disklayout_add_fs(struct disklayout *dl)
{ return add(dl, rectype("fs")); }
struct dl_mount *disklayout_add_mount(struct disklayout *dl)
{ return add(dl, rectype("mount")); }
struct dl_swapfile *disklayout_add_swapfile(struct disklayout *dl)
{ return add(dl, rectype("swapfile")); }
struct dl_fstab *disklayout_add_fstab(struct disklayout *dl)
{ return add(dl, rectype("fstab")); }

char *disklayout_escape(const char *s)
{
	char *out = xmalloc(4 * strlen(s) + 1), *o = out;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == '\\')
			o += sprintf(o, "\\%03o", *p);
		else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

void disklayout_unescape(char *s)
{
	char *o = s;

	for (char *p = s; *p; ) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' &&
		    p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 |
				      (p[3] - '0'));
			p += 4;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
}

/* Appends to a growing string. */
struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

static void format_record(struct sbuf *b, const struct rectype *rt,
			  const char *elem)
{
	sb_add(b, rt->name);
	for (size_t f = 0; f < rt->nfields; f++) {
		const struct field *fd = &rt->fields[f];
		const char *p = elem + fd->off;
		char num[32], *esc;

		switch (fd->kind) {
		case F_STR:
			if (!*(char *const *)p)
				continue;
			esc = disklayout_escape(*(char *const *)p);
			sb_add(b, " ");
			sb_add(b, fd->key);
			sb_add(b, "=");
			sb_add(b, esc);
			free(esc);
			continue;
		case F_U64:
			if (!fd->required && !*(const uint64_t *)p)
				continue;
			snprintf(num, sizeof(num), "%" PRIu64,
				 *(const uint64_t *)p);
			break;
		case F_UINT:
			if (!fd->required && !*(const unsigned *)p)
				continue;
			snprintf(num, sizeof(num), "%u", *(const unsigned *)p);
			break;
		case F_INT:
			snprintf(num, sizeof(num), "%d", *(const int *)p);
			break;
		}
		sb_add(b, " ");
		sb_add(b, fd->key);
		sb_add(b, "=");
		sb_add(b, num);
	}
	sb_add(b, "\n");
}

char *disklayout_format(const struct disklayout *dl, const char *comment)
{
	struct sbuf b = { 0 };

	sb_add(&b, DISKLAYOUT_HEADER "\n");
	if (comment) {
		char *copy = xstrdup(comment), *save = NULL;

		for (char *l = strtok_r(copy, "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save)) {
			sb_add(&b, "# ");
			sb_add(&b, l);
			sb_add(&b, "\n");
		}
		free(copy);
	}
	/* name first: readers of the first version look for "name=". */
	if (dl->host || dl->firmware) {
		char *esc = disklayout_escape(dl->host ? dl->host : "");

		sb_add(&b, "host name=");
		sb_add(&b, esc);
		free(esc);
		if (dl->firmware) {
			esc = disklayout_escape(dl->firmware);
			sb_add(&b, " firmware=");
			sb_add(&b, esc);
			free(esc);
		}
		sb_add(&b, "\n");
	}
	for (size_t t = 0; t < ARRAY_SIZE(rectypes); t++) {
		const struct rectype *rt = &rectypes[t];
		const char *arr = *arrp((struct disklayout *)dl, rt);

		for (size_t i = 0; i < *cntp((struct disklayout *)dl, rt); i++)
			format_record(&b, rt, arr + i * rt->size);
	}
	return b.s;
}

static int set_field(const struct field *fd, char *elem, char *value)
{
	char *p = elem + fd->off, *end;
	unsigned long long v;
	long l;

	switch (fd->kind) {
	case F_STR:
		disklayout_unescape(value);
		free(*(char **)p);
		*(char **)p = xstrdup(value);
		return 0;
	case F_U64:
	case F_UINT:
		if (!*value || *value == '-')
			return -1;
		errno = 0;
		v = strtoull(value, &end, 10);
		if (errno || *end || (fd->kind == F_UINT && v > UINT_MAX))
			return -1;
		if (fd->kind == F_U64)
			*(uint64_t *)p = v;
		else
			*(unsigned *)p = (unsigned)v;
		return 0;
	case F_INT:
		if (parse_long(value, INT_MIN, INT_MAX, &l) < 0)
			return -1;
		*(int *)p = (int)l;
		return 0;
	}
	return -1;
}

/* Parses the fields of one line (words after the record type). */
static int parse_fields(const struct rectype *rt, char *elem, char *rest,
			const char *name, int lineno)
{
	unsigned long seen = 0;
	char *save = NULL;

	for (char *w = strtok_r(rest, " \t", &save); w;
	     w = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(w, '=');
		size_t f;

		if (!eq || eq == w)
			return error("%s:%d: malformed field '%s' (want key=value)",
				     name, lineno, w);
		*eq = '\0';
		for (f = 0; f < rt->nfields; f++)
			if (!strcmp(rt->fields[f].key, w))
				break;
		if (f == rt->nfields)
			continue;	/* a later version's field */
		if (set_field(&rt->fields[f], elem, eq + 1) < 0)
			return error("%s:%d: bad value for %s: '%s'", name,
				     lineno, w, eq + 1);
		seen |= 1UL << f;
	}
	for (size_t f = 0; f < rt->nfields; f++)
		if (rt->fields[f].required && !(seen & (1UL << f)))
			return error("%s:%d: %s record without %s", name,
				     lineno, rt->name, rt->fields[f].key);
	return 0;
}

/* "host name=NAME [firmware=uefi|bios]": an empty name is unknown. */
static int parse_host(struct disklayout *dl, char *rest, const char *name,
		      int lineno)
{
	char *save = NULL, **to;
	int named = 0;

	for (char *w = strtok_r(rest, " \t", &save); w;
	     w = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(w, '=');

		if (!eq || eq == w)
			return error("%s:%d: malformed field '%s' (want key=value)",
				     name, lineno, w);
		*eq++ = '\0';
		if (!strcmp(w, "name"))
			to = &dl->host, named = 1;
		else if (!strcmp(w, "firmware"))
			to = &dl->firmware;
		else
			continue;	/* a later version's field */
		disklayout_unescape(eq);
		free(*to);
		*to = *eq ? xstrdup(eq) : NULL;
	}
	if (!named)
		return error("%s:%d: host record without name", name, lineno);
	return 0;
}

static int parse_line(struct disklayout *dl, char *line, const char *name,
		      int lineno)
{
	char *rest = line + strcspn(line, " \t");
	const struct rectype *rt;

	if (*rest)
		*rest++ = '\0';
	if (!strcmp(line, "host"))
		return parse_host(dl, rest, name, lineno);
	rt = rectype(line);
	if (!rt)
		return 0;	/* a later version's record */
	return parse_fields(rt, add(dl, rt), rest, name, lineno);
}

int disklayout_parse(struct disklayout *dl, const char *text,
		     const char *name)
{
	char *copy = xstrdup(text), *save = NULL, *line;
	int lineno = 0, ret = 0;
	const char *p;

	/* strtok_r would skip empty lines and lose the numbering. */
	for (line = copy; line && !ret; line = save) {
		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		lineno++;
		if (lineno == 1) {
			if (strcmp(line, DISKLAYOUT_HEADER))
				ret = error("%s:1: not a swarmimager disk layout "
					    "(want '%s')", name,
					    DISKLAYOUT_HEADER);
			continue;
		}
		p = line + strspn(line, " \t");
		if (!*p || *p == '#')
			continue;
		ret = parse_line(dl, (char *)p, name, lineno);
	}
	free(copy);
	return ret;
}

int disklayout_load(struct disklayout *dl, const char *path)
{
	char *text = read_file(path, NULL, 0);
	int ret;

	if (!text)
		return -1;
	ret = disklayout_parse(dl, text, path);
	free(text);
	return ret;
}

const struct dl_disk *disklayout_disk(const struct disklayout *dl,
				      const char *dev)
{
	for (size_t i = 0; i < dl->ndisks; i++)
		if (!strcmp(dl->disks[i].dev, dev))
			return &dl->disks[i];
	return NULL;
}

const struct dl_fs *disklayout_fs(const struct disklayout *dl,
				  const char *dev)
{
	for (size_t i = 0; i < dl->nfss; i++)
		if (!strcmp(dl->fss[i].dev, dev))
			return &dl->fss[i];
	return NULL;
}

/* GPT type GUIDs compare without regard to case; DOS types as hex. */
static int is_type(const struct dl_part *p, const char *gpt, const char *dos)
{
	if (!p->type)
		return 0;
	if (gpt && !strcasecmp(p->type, gpt))
		return 1;
	return dos && !strcasecmp(p->type + (!strncasecmp(p->type, "0x", 2) ?
					     2 : 0), dos);
}

const struct dl_part *disklayout_esp(const struct disklayout *dl,
				     const struct dl_fs **fs)
{
	for (size_t k = 0; k < dl->nparts; k++) {
		const struct dl_part *p = &dl->parts[k];
		const struct dl_fs *f = disklayout_fs(dl, p->dev);

		if (is_type(p, DL_TYPE_ESP, DL_TYPE_ESP_DOS) && f &&
		    !strcmp(f->type, "vfat")) {
			if (fs)
				*fs = f;
			return p;
		}
	}
	if (fs)
		*fs = NULL;
	return NULL;
}

const struct dl_part *disklayout_bios_boot(const struct disklayout *dl)
{
	for (size_t k = 0; k < dl->nparts; k++)
		if (is_type(&dl->parts[k], DL_TYPE_BIOS_BOOT, NULL))
			return &dl->parts[k];
	return NULL;
}
