/* Unit tests of lib/delta.c (the index format) and lib/exclude.c. */
#include <stdlib.h>
#include <string.h>

#include "delta.h"
#include "exclude.h"
#include "log.h"
#include "tap.h"
#include "util.h"

static const char SHA_A[] =
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void test_index_round_trip(void)
{
	struct delta_op ops[3] = {
		{ .kind = DELTA_REMOVE, .type = '-', .path = "var/old dir" },
		{ .kind = DELTA_SYMLINK, .type = 'l', .path = "we\tird\nname\\x",
		  .mode = 0777, .uid = 1, .gid = 2, .mtime = 1700000000,
		  .target = "-" },
		{ .kind = DELTA_PATCH, .type = 'f', .path = "usr/lib/\xc3\xa9t\xe9",
		  .mode = 04755, .size = 10, .payload = "data/000002",
		  .payload_size = 3, .xattrs = "user.a=00ff" },
	};
	struct delta_index in = { .image = "img", .to = "v 2", .ops = ops,
				  .n = 3 }, out;
	size_t len;
	char *text;

	memcpy(ops[2].old_sha, SHA_A, 65);
	memcpy(ops[2].new_sha, SHA_A, 65);
	memcpy(ops[2].payload_sha, SHA_A, 65);
	text = delta_index_format(&in, &len);
	ok(!strchr(text + strlen(DELTA_MAGIC) + 1, '\r'), "formats");
	ok(delta_index_parse("t", text, len, &out) == 0, "parses its output");
	ok(out.n == 3, "three operations");
	is_str(out.image, "img", "image label");
	ok(out.from == NULL, "absent label stays NULL");
	is_str(out.to, "v 2", "to label");
	is_str(out.ops[0].path, "var/old dir", "path with a space");
	is_str(out.ops[1].path, "we\tird\nname\\x", "tab, newline, backslash");
	is_str(out.ops[1].target, "-", "a literal '-' target");
	is_str(out.ops[2].path, "usr/lib/\xc3\xa9t\xe9", "non-ASCII bytes");
	ok(out.ops[2].mode == 04755 && out.ops[2].size == 10, "mode, size");
	is_str(out.ops[2].old_sha, SHA_A, "old digest");
	is_str(out.ops[2].xattrs, "user.a=00ff", "xattrs");
	ok(out.ops[1].mtime == 1700000000 && out.ops[1].uid == 1 &&
	   out.ops[1].gid == 2, "owner and time");
	delta_index_release(&out);

	text[strlen(DELTA_MAGIC) + 3] ^= 1;
	ok(delta_index_parse("t", text, len, &out) < 0,
	   "a flipped byte fails the checksum");
	text[strlen(DELTA_MAGIC) + 3] ^= 1;
	ok(delta_index_parse("t", text, len - 1, &out) < 0, "truncation fails");
	free(text);

	ops[0].path = "../etc/passwd";
	text = delta_index_format(&in, &len);
	ok(delta_index_parse("t", text, len, &out) < 0, "'..' is refused");
	free(text);
	ops[0].path = "/etc/passwd";
	text = delta_index_format(&in, &len);
	ok(delta_index_parse("t", text, len, &out) < 0,
	   "absolute paths are refused");
	free(text);
}

static void test_exclude(void)
{
	struct exclude_list l;

	exclude_init(&l);
	exclude_add(&l, "# comment");
	exclude_add(&l, "/proc/*");
	exclude_add(&l, "/etc/ssh/ssh_host_*");
	exclude_add(&l, "/etc/hostname");
	exclude_add(&l, "+ /var/log/keep");
	exclude_add(&l, "- /var/log/*");
	exclude_add(&l, "*.swp");
	exclude_add(&l, "cache/");
	exclude_add(&l, "lib/tmp");
	ok(l.n == 8, "comments skipped, rules kept");
	ok(!exclude_match(&l, "proc", 1), "/proc/* keeps /proc itself");
	ok(exclude_match(&l, "proc/1/status", 0), "but not what is inside");
	ok(exclude_match(&l, "etc/ssh/ssh_host_rsa_key", 0), "glob");
	ok(!exclude_match(&l, "etc/ssh/sshd_config", 0), "glob is anchored");
	ok(exclude_match(&l, "etc/hostname", 0), "a file");
	ok(!exclude_match(&l, "srv/etc/hostname", 0), "anchored at the root");
	ok(!exclude_match(&l, "var/log/keep", 0), "'+' rule first wins");
	ok(exclude_match(&l, "var/log/syslog", 0), "'-' rule");
	ok(exclude_match(&l, "home/u/.x.swp", 0), "unanchored name, any depth");
	ok(exclude_match(&l, "var/cache/a/b", 0), "dir-only rule by ancestor");
	ok(!exclude_match(&l, "var/cache", 0), "dir-only rule skips a file");
	ok(exclude_match(&l, "usr/lib/tmp/x", 0), "unanchored with a slash");
	ok(!exclude_match(&l, "usr/xlib/tmp", 0), "matches whole components");
	exclude_release(&l);
}

int main(int argc, char **argv)
{
	log_init(argc ? argv[0] : "delta");
	test_index_round_trip();
	test_exclude();
	return tap_done();
}
