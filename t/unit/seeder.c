/* Unit tests of lib/child.c (real processes), lib/port.c (real sockets),
 * the whitelist of lib/tracker.c and the configuration of lib/rsyncd.c. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "port.h"
#include "rsyncd.h"
#include "tap.h"
#include "tracker.h"
#include "util.h"

static char dir[] = "/tmp/si-unit-child-XXXXXX";

static void pause_ms(int ms)
{
	nanosleep(&(struct timespec){ ms / 1000, (ms % 1000) * 1000000L }, NULL);
}

/* Waits up to 5 s for the child to exit and be reaped. */
static int reaped(struct child *c)
{
	for (int i = 0; i < 250; i++) {
		if (child_reap(c))
			return 1;
		pause_ms(20);
	}
	return 0;
}

static void test_child(void)
{
	const char *quick[] = { "sh", "-c", "exit 3", NULL };
	char script[256];
	const char *fds[] = { "sh", "-c", script, NULL };
	struct child c;
	char buf[128], *s, *path;
	int leak = open("/dev/null", O_RDONLY);	/* no O_CLOEXEC: a "leak" */
	double t0;
	pid_t pid;

	snprintf(script, sizeof(script), "if [ -e /proc/$$/fd/%d ]; then "
		 "echo open; else echo closed; fi > fds; echo $$ > pid; "
		 "exec sleep 30", leak);

	child_init(&c, "quick", quick, dir);
	ok(child_start(&c) == 0 && c.pid > 0, "starts a child");
	ok(reaped(&c) && WIFEXITED(c.last_status) &&
	   WEXITSTATUS(c.last_status) == 3, "reaps it with its status");
	is_str(child_status_str(c.last_status, buf, sizeof(buf)),
	       "exited with status 3", "describes the status");
	ok(c.pid == 0 && c.restart_at > 0, "schedules a restart");
	ok(child_tick(&c) == 0, "not before the backoff");
	t0 = now_monotonic();
	while (child_tick(&c) == 0 && now_monotonic() - t0 < 5)
		pause_ms(10);
	ok(c.pid > 0 && c.restarts == 1, "restarted after %.2f s",
	   now_monotonic() - t0);
	ok(reaped(&c) && c.quick_failures == 2 &&
	   c.restart_at - now_monotonic() > 0.6,
	   "the backoff doubles after a second quick failure");
	child_release(&c);

	child_init(&c, "sleeper", fds, dir);
	ok(child_start(&c) == 0, "starts a long-running child");
	path = path_join(dir, "pid");
	for (int i = 0; i < 250 && !(s = read_file(path, NULL, 1)); i++)
		pause_ms(20);
	ok(s && atoi(s) == c.pid, "runs in its working directory");
	free(s);
	free(path);
	path = path_join(dir, "fds");
	s = read_file(path, NULL, 0);
	is_str(s, "closed\n", "inherited descriptor %d closed in the child",
	   leak);
	free(s);
	free(path);
	ok(getpgid(c.pid) == c.pid, "in a process group of its own");
	pid = c.pid;
	child_stop(&c, 5);
	ok(c.pid == 0 && kill(pid, 0) < 0, "stopped and reaped");
	ok(child_tick(&c) == 0 && c.pid == 0, "no restart after a stop");
	child_release(&c);
	close(leak);
}

static void test_port(void)
{
	int port = port_pick("test", "127.0.0.1", PORT_TCP | PORT_UDP);
	int fd, one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char buf[64];

	ok(port > 0, "picks a free port (%d)", port);
	ok(port_check_free("test", "127.0.0.1", port, PORT_TCP | PORT_UDP) == 0,
	   "reports it free");
	ok(!port_accepts("127.0.0.1", port, 200), "nothing accepts there");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 4) == 0,
	   "a listener takes it");
	ok(port_check_free("test", "127.0.0.1", port, PORT_TCP) < 0,
	   "then it is in use");
	ok(port_accepts("127.0.0.1", port, 200) &&
	   port_accepts("0.0.0.0", port, 200), "and accepts (also via 0.0.0.0)");
	close(fd);
	is_str(port_format(buf, sizeof(buf), "::1", 80), "[::1]:80",
	       "formats IPv6 in brackets");
	ok(port_parse_addr("10.0.0.1") == 0 && port_parse_addr("::") == 0 &&
	   port_parse_addr("eth0") < 0, "numeric addresses only");
}

static void test_whitelist(void)
{
	const char *h[] = {
		"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	};
	char *path = path_join(dir, TRACKER_WHITELIST), *s;
	struct stat st;

	ok(tracker_write_whitelist(dir, h, 3) == 1, "writes a whitelist");
	s = read_file(path, NULL, 0);
	is_str(s, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
		  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n", "sorted, once each");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644,
	   "readable by the tracker's user");
	ok(tracker_write_whitelist(dir, h + 1, 2) == 0, "same set: unchanged");
	ok(tracker_write_whitelist(dir, h, 1) == 1, "smaller set: changed");
	ok(tracker_write_whitelist(dir, h, 0) == 1, "empty set: changed");
	free(s);
	s = read_file(path, NULL, 0);
	is_str(s, "# no torrents\n", "an empty whitelist has a comment (opentracker "
	       "cannot load an empty file)");
	free(s);
	free(path);
}

static void test_rsyncd(void)
{
	const struct rsyncd_module mods[] = {
		{ "torrents", "/srv/t", "the torrents", "*.tmp.*" },
		{ "images", "/srv/i", NULL, NULL },
	};
	const struct rsyncd_module bad[] = { { "x", "/a\nb", NULL, NULL } };
	struct rsyncd_config c = { "127.0.0.1", 8873, NULL, 1, mods, 2 };
	char *path = path_join(dir, "rsyncd.conf"), *s;

	ok(rsyncd_write_conf(path, &c) == 0, "writes rsyncd.conf");
	s = read_file(path, NULL, 0);
	ok(s && strstr(s, "address = 127.0.0.1\nport = 8873\n") &&
	   strstr(s, "read only = yes\n") && strstr(s, "numeric ids = yes\n") &&
	   strstr(s, "use chroot = yes\n"), "global settings");
	ok(s && strstr(s, "\n[torrents]\n\tpath = /srv/t\n\tcomment = the torrents\n"
		       "\texclude = *.tmp.*\n\tuid = 0\n\tgid = 0\n") &&
	   strstr(s, "\n[images]\n\tpath = /srv/i\n\tuid = 0\n"), "modules");
	free(s);
	c.as_root = 0;
	rsyncd_write_conf(path, &c);
	s = read_file(path, NULL, 0);
	ok(s && !strstr(s, "uid =") && strstr(s, "use chroot = no\n"),
	   "no uid, no chroot when not root");
	free(s);
	c.modules = bad;
	c.nmodules = 1;
	ok(rsyncd_write_conf(path, &c) < 0, "refuses a path with a newline");
	s = read_file(path, NULL, 0);
	ok(s && strstr(s, "[torrents]"), "and leaves the old file alone");
	free(s);
	free(path);
}

int main(int argc, char **argv)
{
	(void)argc;
	log_init(argv[0]);
	log_set_level(LOG_QUIET);
	if (!mkdtemp(dir))
		die(1, "cannot create '%s'", dir);
	test_child();
	test_port();
	test_whitelist();
	test_rsyncd();
	remove_tree(dir);
	return tap_done();
}
