/* report.c - see report.h */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "report.h"
#include "util.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

void report_url_release(struct report_url *u)
{
	free(u->host);
	free(u->port);
	free(u->target);
	u->host = u->port = u->target = NULL;
}

int report_url_parse(const char *url, struct report_url *u, char *err,
		     size_t errlen)
{
	const char *p = url, *host, *slash;
	size_t hlen;
	long port = 80;

	memset(u, 0, sizeof(*u));
	if (strncmp(p, "http://", 7))
		return fail(err, errlen, "expected http://HOST[:PORT]/PATH");
	host = p + 7;
	hlen = strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"
		      "XYZ0123456789.-");
	if (!hlen || host[0] == '.' || host[0] == '-')
		return fail(err, errlen, "no host name or IPv4 address after "
			    "http://");
	p = host + hlen;
	if (*p == ':') {
		char *end;

		port = strtol(p + 1, &end, 10);
		if (end == p + 1 || port < 1 || port > 65535)
			return fail(err, errlen, "the port is not 1-65535");
		p = end;
	}
	if (*p && *p != '/')
		return fail(err, errlen, "unexpected '%c' after the host", *p);
	for (slash = p; *slash; slash++)
		if (*slash <= ' ' || *slash > '~' || strchr("#'\"\\`", *slash))
			return fail(err, errlen, "the path has a space, a control "
				    "character, '#', a quote or '\\'");
	u->host = strndup(host, hlen);
	u->port = xasprintf("%ld", port);
	u->target = xstrdup(*p ? p : "/");
	return 0;
}

static void encode(char **out, size_t *len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		*out = xrealloc(*out, *len + 4);
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c)) {
			(*out)[(*len)++] = (char)c;
		} else {
			(*out)[(*len)++] = '%';
			(*out)[(*len)++] = hex[c >> 4];
			(*out)[(*len)++] = hex[c & 15];
		}
		(*out)[*len] = '\0';
	}
}

char *report_query(const struct report_param *p, size_t n)
{
	char *out = xstrdup("");
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		if (!p[i].value)
			continue;
		if (len) {
			out = xrealloc(out, len + 2);
			out[len++] = '&';
			out[len] = '\0';
		}
		encode(&out, &len, p[i].key);
		out = xrealloc(out, len + 2);
		out[len++] = '=';
		out[len] = '\0';
		encode(&out, &len, p[i].value);
	}
	return out;
}

static int ms_left(double deadline)
{
	double left = deadline - now_monotonic();

	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

/* Waits until fd is ready for events before the deadline.  Returns 0, or
 * -1 with errno (ETIMEDOUT when time ran out). */
static int wait_fd(int fd, short events, double deadline)
{
	struct pollfd pfd = { fd, events, 0 };
	int n, left;

	for (;;) {
		left = ms_left(deadline);
		if (!left) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&pfd, 1, left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* Connects to one of the host's addresses before the deadline.  Returns
 * the non-blocking socket, or -1 with errno. */
static int connect_host(const struct report_url *u, double deadline,
			char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int rc = getaddrinfo(u->host, u->port, &hints, &res), fd = -1, e = 0;
	socklen_t len = sizeof(e);

	if (rc)
		return fail(err, errlen, "cannot resolve '%s': %s", u->host,
			    gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, 0);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS)
			e = errno;
		else if (wait_fd(fd, POLLOUT, deadline) < 0)
			e = errno;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
			e = errno;
		if (!e)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return fail(err, errlen, "cannot connect to %s port %s: %s",
			    u->host, u->port, e == ETIMEDOUT ? "no answer in "
			    "time" : strerror(e));
	return fd;
}

static int send_all(int fd, const char *buf, size_t len, double deadline)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return -1;
		} else if (wait_fd(fd, POLLOUT, deadline) < 0) {
			return -1;
		}
	}
	return 0;
}

/* Reads the status line ("HTTP/1.x NNN reason").  Returns the status code,
 * or -1 with the reason in err. */
static int read_status(int fd, double deadline, char *err, size_t errlen)
{
	char line[256];
	size_t got = 0;
	int code;

	while (got < sizeof(line) - 1 && !memchr(line, '\n', got)) {
		ssize_t n = recv(fd, line + got, sizeof(line) - 1 - got, 0);

		if (n > 0)
			got += (size_t)n;
		else if (n == 0)
			break;
		else if (errno != EAGAIN && errno != EINTR)
			return fail(err, errlen, "cannot read the answer: %s",
				    strerror(errno));
		else if (wait_fd(fd, POLLIN, deadline) < 0)
			return fail(err, errlen, "no answer in time");
	}
	line[got] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (sscanf(line, "HTTP/%*d.%*d %3d", &code) != 1 || code < 100)
		return fail(err, errlen, "not an HTTP answer: '%.60s'", line);
	return code;
}

int report_get(const char *url, const struct report_param *p, size_t n,
	       int timeout_ms, char *err, size_t errlen)
{
	double deadline = now_monotonic() + timeout_ms / 1000.0;
	struct report_url u;
	char *query, *req;
	int fd, code, ret = -1;

	if (report_url_parse(url, &u, err, errlen) < 0)
		return -1;
	query = report_query(p, n);
	req = xasprintf("GET %s%s%s HTTP/1.0\r\nHost: %s%s%s\r\n"
			"User-Agent: swarmimager\r\nConnection: close\r\n\r\n",
			u.target, !*query ? "" : strchr(u.target, '?') ? "&" : "?",
			query, u.host, strcmp(u.port, "80") ? ":" : "",
			strcmp(u.port, "80") ? u.port : "");
	fd = connect_host(&u, deadline, err, errlen);
	if (fd < 0)
		goto out;
	if (send_all(fd, req, strlen(req), deadline) < 0) {
		fail(err, errlen, "cannot send the request: %s",
		     errno == ETIMEDOUT ? "no room in time" : strerror(errno));
	} else if ((code = read_status(fd, deadline, err, errlen)) < 0) {
		/* err says why */
	} else if (code < 200 || code > 299) {
		fail(err, errlen, "the server answered HTTP %d", code);
	} else {
		ret = 0;
	}
	close(fd);
out:
	free(query);
	free(req);
	report_url_release(&u);
	return ret;
}
