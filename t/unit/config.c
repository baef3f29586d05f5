/* Unit tests of lib/config.c and the parsers of lib/util.c. */
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "tap.h"
#include "util.h"

static void test_file(void)
{
	char path[] = "/tmp/si-unit-config-XXXXXX";
	int fd = mkstemp(path);
	const char *text =
		"# bittorrent.conf\n"
		"BT_TRACKER_PORT=6969\n"
		"export BT_INTERFACE=\"eth0\"   # the NIC\n"
		"BT_IMAGES='a b'\n"
		"\n"
		"EMPTY=\n";
	struct config c;

	write_all(fd, text, strlen(text));
	close(fd);
	config_init(&c);
	ok(config_load_file(&c, path, 1, 1) == 0, "loads a shell-like file");
	is_str(config_get(&c, "BT_TRACKER_PORT"), "6969", "bare value");
	is_str(config_get(&c, "BT_INTERFACE"), "eth0", "export and quotes");
	is_str(config_get(&c, "BT_IMAGES"), "a b", "single quotes keep spaces");
	is_str(config_get(&c, "EMPTY"), "", "empty value");
	ok(config_get(&c, "NOPE") == NULL, "missing key is NULL");

	config_set_default(&c, "BT_TRACKER_PORT", "1", "x");
	is_str(config_get(&c, "BT_TRACKER_PORT"), "6969",
	       "a default does not override");
	config_release(&c);

	fd = open(path, O_WRONLY | O_TRUNC);
	write_all(fd, "GOOD=1\nthis is not valid\n", 25);
	close(fd);
	config_init(&c);
	log_set_level(LOG_QUIET - 1);
	ok(config_load_file(&c, path, 1, 1) < 0, "a malformed line is an error");
	config_release(&c);
	unlink(path);

	config_init(&c);
	ok(config_load_file(&c, path, 0, 1) == 1, "a missing optional file is 1");
	ok(config_load_file(&c, path, 1, 1) < 0, "a missing required file is -1");
	log_set_level(LOG_NORMAL);
	config_release(&c);
}

static void test_cmdline(void)
{
	struct config c;

	config_init(&c);
	config_set(&c, "IMAGENAME", "fromcfg", "local.cfg");
	config_parse_cmdline(&c, "BOOT_IMAGE=/vmlinuz console=ttyS0 "
			     "IMAGESERVER=10.0.0.1 IMAGENAME=fromcmd quiet\n", 0);
	is_str(config_get(&c, "IMAGESERVER"), "10.0.0.1", "KEY=value word");
	is_str(config_get(&c, "IMAGENAME"), "fromcfg",
	       "lower precedence does not override");
	ok(config_get(&c, "console") == NULL, "lower-case words are not ours");
	ok(config_get(&c, "quiet") == NULL, "plain words are ignored");
	config_release(&c);
}

static void test_parsers(void)
{
	uint64_t v;
	long l;
	int b;

	ok(parse_size("100", &v) == 0 && v == 100, "size plain");
	ok(parse_size("64k", &v) == 0 && v == 65536, "size k");
	ok(parse_size("2MiB", &v) == 0 && v == 2 << 20, "size MiB");
	ok(parse_size("1G", &v) == 0 && v == 1ULL << 30, "size G");
	ok(parse_size("-1", &v) < 0, "negative size refused");
	ok(parse_size("12x", &v) < 0, "junk size refused");
	ok(parse_long("42", 0, 100, &l) == 0 && l == 42, "long");
	ok(parse_long("420", 0, 100, &l) < 0, "long out of range");
	ok(parse_bool("Y", &b) == 0 && b == 1, "bool y");
	ok(parse_bool("no", &b) == 0 && b == 0, "bool no");
	ok(parse_bool("maybe", &b) < 0, "bool junk");
	ok(valid_name("debian-12.1_x86+64"), "plain image name");
	ok(!valid_name("../etc"), "name with ..");
	ok(!valid_name("a/b"), "name with /");
	ok(!valid_name(".hidden"), "name starting with a dot");
	ok(!valid_name(""), "empty name");
}

int main(int argc, char **argv)
{
	(void)argc;
	log_init(argv[0]);
	test_file();
	test_cmdline();
	test_parsers();
	return tap_done();
}
