/* tracker.c - see tracker.h */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "port.h"
#include "tracker.h"
#include "util.h"

void tracker_child_init(struct child *c, const char *addr, int port,
			const char *dir)
{
	char p[16];
	const char *argv[] = {
		TRACKER_PROGRAM, "-i", addr, "-p", p, "-P", p, "-d", dir,
		"-w", TRACKER_WHITELIST, NULL
	};

	snprintf(p, sizeof(p), "%d", port);
	child_init(c, "opentracker", argv, dir);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int tracker_write_whitelist(const char *dir, const char *const *hashes,
			    size_t n)
{
	const char **v = xcalloc(n + 1, sizeof(*v));
	char *path = path_join(dir, TRACKER_WHITELIST), *old, *buf;
	size_t len = 0;
	int ret;

	memcpy(v, hashes, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_str);
	buf = xmalloc(n * 42 + 64);
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(v[i], v[i - 1]))
			continue;
		len += sprintf(buf + len, "%s\n", v[i]);
	}
	/* opentracker cannot load an empty file (it keeps its old list):
	 * say "nothing" with a line that is not a hash. */
	if (!len)
		len = sprintf(buf, "# no torrents\n");
	old = read_file(path, NULL, 1);
	if (old && strlen(old) == len && !memcmp(old, buf, len))
		ret = 0;
	else
		ret = write_file_atomic(path, buf, len, 0644) < 0 ? -1 : 1;
	free(old);
	free(buf);
	free(path);
	free(v);
	return ret;
}

int tracker_responds(const char *addr, int port, int timeout_ms)
{
	/* A scrape of one (unknown) hash: answered quietly, unlike a full
	 * scrape, which opentracker logs. */
	static const char req[] =
		"GET /scrape?info_hash=%00%00%00%00%00%00%00%00%00%00"
		"%00%00%00%00%00%00%00%00%00%00 HTTP/1.0\r\n\r\n";
	char host[128], serv[16], reply[16];
	struct addrinfo hints, *ai = NULL;
	struct pollfd pfd;
	int fd = -1, ok = 0;
	size_t got = 0;
	double end = now_monotonic() + timeout_ms / 1000.0;

	if (!port_accepts(addr, port, timeout_ms))
		return 0;
	snprintf(host, sizeof(host), "%s",
		 !strcmp(addr, "0.0.0.0") ? "127.0.0.1" :
		 !strcmp(addr, "::") ? "::1" : addr);
	snprintf(serv, sizeof(serv), "%d", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, serv, &hints, &ai) != 0)
		return 0;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    write_all(fd, req, sizeof(req) - 1) < 0)
		goto out;
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (got < 8) {
		int left = (int)((end - now_monotonic()) * 1000);
		ssize_t r;

		if (left <= 0 || poll(&pfd, 1, left) != 1)
			goto out;
		r = read(fd, reply + got, sizeof(reply) - got);
		if (r <= 0)
			goto out;
		got += r;
	}
	ok = !memcmp(reply, "HTTP/1.", 7);
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return ok;
}
