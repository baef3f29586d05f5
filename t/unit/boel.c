/* Unit tests of si_boel's library pieces: lib/override.c (SystemImager's
 * order), lib/linger.c (when to leave), lib/fetch.c (IMAGESERVER parsing),
 * lib/stage.c (room arithmetic and refusal). */
#include <stdlib.h>
#include <string.h>

#include "fetch.h"
#include "linger.h"
#include "log.h"
#include "override.h"
#include "stage.h"
#include "tap.h"
#include "util.h"

static char *joined(const struct override_list *l)
{
	char *s = xstrdup("");

	for (size_t i = 0; i < l->n; i++) {
		char *old = s;

		s = xasprintf("%s%s%s", old, i ? " " : "", l->v[i].name);
		free(old);
	}
	return s;
}

static void test_override(void)
{
	const char *txt = "# host:group:image:override\n"
			  "*:all::global\n"
			  "n1:low:img:\n"
			  "n2:other:img:other\n"
			  " n1 : high : img : highov # comment\n"
			  "n1:dup:img:global\n";
	struct override_query q = { "img", "n1", "g1,g2", "x1 x2", txt };
	struct override_list l = { NULL, 0 };
	char *s, *img;

	ok(override_choose(&q, &l) == 0, "chooses");
	s = joined(&l);
	is_str(s, "img global low highov g1 g2 n1 x1 x2", "SystemImager order");
	free(s);
	ok(l.n == 9 && !l.v[0].required && l.v[8].required,
	   "only OVERRIDES are required");
	is_str(l.v[1].why, "global", "global reason");
	is_str(l.v[3].why, "group high", "group reason");
	override_list_release(&l);

	q.explicit_list = "../etc";
	ok(override_choose(&q, &l) < 0, "bad explicit name refused");
	override_list_release(&l);

	img = override_image_for_host(txt, "n2");
	is_str(img, "img", "image of a host from cluster.txt");
	free(img);
	ok(override_image_for_host(txt, "n9") == NULL, "unknown host: no image");
}

static void test_linger(void)
{
	struct linger_state l;
	int t;

	linger_start(&l, 3, 50000, 100, 0);
	ok(!linger_sample(&l, 1, 1, 100000) && !linger_sample(&l, 2, 0, 100000) &&
	   !linger_sample(&l, 3, 0, 100000), "two idle samples are not enough");
	ok(linger_sample(&l, 4, 0, 100000) && strstr(l.reason, "no peer interested"),
	   "three idle samples: %s", l.reason);

	linger_start(&l, 3, 50000, 100, 0);
	for (t = 1; t < 10 && !linger_sample(&l, t, 2, 1000); t++)
		;
	ok(t == 3 && strstr(l.reason, "upload below 50 KB/s"),
	   "slow upload ends it after 3 samples: %s", l.reason);

	linger_start(&l, 3, 0, 5, 0);
	for (t = 1; t < 10 && !linger_sample(&l, t, 2, 0); t++)
		;
	ok(t == 5 && strstr(l.reason, "maximum of 5 s"),
	   "upload_min 0 never ends it; the maximum does: %s", l.reason);
}

static void test_fetch(void)
{
	char *host, *url;
	int port;

	ok(fetch_parse_server("10.0.0.1:8730", &host, &port) == 0 &&
	   !strcmp(host, "10.0.0.1") && port == 8730, "host:port");
	free(host);
	ok(fetch_parse_server("server", &host, &port) == 0 && port == 0,
	   "host alone");
	free(host);
	ok(fetch_parse_server("[fd00::1]:873", &host, &port) == 0 &&
	   !strcmp(host, "fd00::1") && port == 873, "[v6]:port");
	free(host);
	ok(fetch_parse_server("a:0", &host, &port) < 0, "port 0 refused");
	ok(fetch_parse_server("a b", &host, &port) < 0, "space refused");
	url = fetch_url("s:99", "torrents/");
	is_str(url, "rsync://s:99/torrents/", "rsync URL");
	free(url);
	is_str(fetch_rsync_strerror(10), "error in socket I/O (server unreachable?)",
	       "exit status meaning");
}

static void test_stage(void)
{
	struct stage_request r = {
		.size = 1000, .explicit_dir = "/dev/shm", .free_override = 0,
	};
	const char *kind;
	char *dir;

	ok(stage_needed(1000) == 1000 + (100u << 20), "breathing room 100 MiB");
	ok(stage_needed(10ULL << 30) == (11ULL << 30), "or 10%%");
	ok(stage_choose(&r, &kind) == NULL, "no room: refused");
	r.free_override = -1;
	dir = stage_choose(&r, &kind);
	ok(dir && !strncmp(dir, "/dev/shm/si_boel.", 17) &&
	   !strcmp(kind, "explicit"), "explicit place: %s", dir ? dir : "-");
	if (dir)
		remove_tree(dir);
	free(dir);
}

/* RAM staging needs the node's memory too: with 150 MiB (the override
 * stands for free space and MemAvailable alike) a tarball of 1000 bytes
 * needs its breathing room and 256 MiB kept: the target is chosen. */
static void test_stage_memory(void)
{
	char tmpl[] = "/var/tmp/si-unit-stage.XXXXXX", *target = mkdtemp(tmpl);
	struct stage_request r = {
		.size = 1000, .target = target, .free_override = 150 << 20,
	};
	const char *kind = "";
	char *dir = target ? stage_choose(&r, &kind) : NULL;

	ok(dir && !strcmp(kind, "target") && !strncmp(dir, target, strlen(target)),
	   "too little memory for RAM: staged on the target (%s, %s)", kind,
	   dir ? dir : "-");
	r.free_override = (int64_t)(400ULL << 20);
	free(dir);
	dir = target ? stage_choose(&r, &kind) : NULL;
	ok(dir && !strcmp(kind, "ram"), "with 400 MiB: RAM (%s)", kind);
	if (dir)
		remove_tree(dir);
	free(dir);
	if (target)
		remove_tree(target);
}

static void test_target_room(void)
{
	struct stage_request r = {
		.size = 1000, .unpacked = 10 << 20, .entries = 100,
		.target = "/tmp", .free_override = 10 << 20,
	};

	ok(stage_target_needed(&r) == (10 << 20) + 100 * 4096,
	   "the image's data plus a block an entry");
	ok(stage_check_target(&r, "/proc") < 0,
	   "the data fits, the blocks do not: refused");
	r.free_override = 20 << 20;
	ok(stage_check_target(&r, "/proc") == 0, "room enough: ok");
	ok(stage_check_target(&r, "/tmp") < 0,
	   "staged on the target as well: the tarball's room counts too");
	r.free_override = 200 << 20;
	ok(stage_check_target(&r, "/tmp") == 0, "... and fits in 200 MiB");
	r.unpacked = 0;
	r.free_override = 0;
	ok(stage_check_target(&r, "/proc") == 0, "unknown sizes: not checked");
}

int main(int argc, char **argv)
{
	(void)argc;
	log_init(argv[0]);
	log_set_level(LOG_QUIET);
	test_override();
	test_linger();
	test_fetch();
	test_stage();
	test_stage_memory();
	test_target_room();
	return tap_done();
}
