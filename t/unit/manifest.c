/* Unit tests of lib/manifest.c: escaping, formatting, parsing, diffs. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manifest.h"
#include "tap.h"
#include "util.h"

static void test_escape(void)
{
	const char *odd = "a b\tc\nd\\e\001f\377g\303\251";
	char *e = manifest_escape(odd), *u;

	is_str(e, "a b\\tc\\nd\\\\e\\001f\\377g\\303\\251", "escapes");
	u = manifest_unescape(e);
	is_str(u, odd, "unescape inverts escape");
	free(e);
	free(u);
	ok(manifest_unescape("bad\\x") == NULL, "a bad escape is refused");
	ok(manifest_unescape("nul\\000") == NULL, "a NUL byte is refused");
	ok(manifest_unescape("end\\") == NULL, "a trailing backslash is refused");
}

static struct manifest_entry *add(struct manifest *m, const char *path,
				  char type, uint64_t size, const char *target)
{
	struct manifest_entry *e = manifest_add(m, path, type);

	e->mode = type == 'l' ? 0777 : 0644;
	e->uid = 1000;
	e->gid = 100;
	e->size = size;
	e->mtime = 1234567890;
	if (type == 'f')
		memset(e->sha256, 'a', 64);
	manifest_set_target(e, target);
	return e;
}

static int count_cb(enum manifest_change what, const struct manifest_entry *o,
		    const struct manifest_entry *n, void *data)
{
	char *log = data;
	const struct manifest_entry *e = n ? n : o;

	strcat(log, what == MANIFEST_ADDED ? "+" :
		    what == MANIFEST_REMOVED ? "-" : "~");
	strcat(log, e->path);
	strcat(log, " ");
	return 0;
}

static void test_roundtrip(void)
{
	struct manifest m, p, q;
	size_t len;
	char *text, log[256] = "";

	manifest_init(&m);
	add(&m, "z", 'f', 3, NULL);
	add(&m, "a/b", 'l', 0, "-");
	add(&m, ".", 'd', 0, NULL);
	add(&m, "a\nb", 'h', 3, "z");
	add(&m, "dev/null", 'c', 0, "1:3");
	manifest_sort(&m);
	is_str(m.v[0].path, ".", "sorted bytewise ('.' < 'a')");
	is_str(m.v[1].path, "a\nb", "sorted bytewise ('\\n' < '/')");
	text = manifest_format(&m, &len);
	ok(strstr(text, "a\\nb\th\t0644\t1000\t100\t3\t1234567890\t-\tz\n") != NULL,
	   "a hard link line");
	ok(strstr(text, "a/b\tl\t0777\t1000\t100\t0\t1234567890\t-\t\\055\n") != NULL,
	   "a target of '-' is escaped");
	manifest_init(&p);
	ok(manifest_parse(&p, text, len, "t") == 0, "parses its own output");
	ok(p.n == m.n, "same number of entries");
	for (size_t i = 0; i < p.n && i < m.n; i++)
		ok(manifest_entry_equal(&p.v[i], &m.v[i]), "entry %zu equal", i);
	ok(manifest_find(&p, "dev/null") && !strcmp(manifest_find(&p, "dev/null")->target, "1:3"),
	   "find");
	ok(!manifest_find(&p, "nope"), "find a missing path");
	is_str(manifest_find(&p, "a/b")->target, "-", "target '-' round trip");

	manifest_init(&q);
	manifest_parse(&q, text, len, "t");
	strcpy(q.v[4].sha256, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	add(&q, "zz", 'p', 0, NULL);
	free(q.v[0].path);
	q.v[0].path = xstrdup("0");	/* "." removed, "0" added */
	manifest_sort(&q);
	manifest_diff(&p, &q, count_cb, log);
	is_str(log, "-. +0 ~z +zz ", "diff");
	free(text);
	manifest_release(&m);
	manifest_release(&p);
	manifest_release(&q);
}

static void test_errors(void)
{
	struct manifest m;
	const char *bad[] = {
		"no header\n",
		"# swarmimager manifest 1\nx\tf\t0644\t0\t0\t0\t0\t-\t-\n",
		"# swarmimager manifest 1\nx\tq\t0644\t0\t0\t0\t0\t-\t-\n",
		"# swarmimager manifest 1\nx\td\t644\t0\t0\t0\t0\t-\t-\n",
		"# swarmimager manifest 1\nx\td\t0644\t0\t0\t0\t0\t-\n",
		"# swarmimager manifest 1\nx\td\t0644\t-1\t0\t0\t0\t-\t-\n",
		"# swarmimager manifest 1\nb\td\t0644\t0\t0\t0\t0\t-\t-\na\td\t0644\t0\t0\t0\t0\t-\t-\n",
		"# swarmimager manifest 1\nx\td\t0644\t0\t0\t0\t0\t-\t-",
	};
	const char *why[] = { "header", "f without sha256", "type", "mode digits",
			      "field count", "negative uid", "unsorted",
			      "truncated" };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		manifest_init(&m);
		ok(manifest_parse(&m, bad[i], strlen(bad[i]), "t") < 0,
		   "refuses: %s", why[i]);
		manifest_release(&m);
	}
}

int main(void)
{
	test_escape();
	test_roundtrip();
	test_errors();
	return tap_done();
}
