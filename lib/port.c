/* port.c - see port.h */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "port.h"

/* Fills ss for addr:port; with probe=1 a wildcard becomes loopback. */
static int make_sockaddr(const char *addr, int port, int probe,
			 struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints, *ai;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_family = AF_UNSPEC;
	if (getaddrinfo(addr, NULL, &hints, &ai) != 0)
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (ss->ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_port = htons(port);
		if (probe && in->sin_addr.s_addr == htonl(INADDR_ANY))
			in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_port = htons(port);
		if (probe && IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
			in6->sin6_addr = in6addr_loopback;
	}
	return 0;
}

int port_parse_addr(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return make_sockaddr(addr, 0, 0, &ss, &len);
}

char *port_format(char *buf, size_t size, const char *addr, int port)
{
	snprintf(buf, size, strchr(addr, ':') ? "[%s]:%d" : "%s:%d", addr,
		 port);
	return buf;
}

/* Binds a socket of type on addr:port.  Returns the bound fd or -1
 * (errno set). */
static int bind_one(const char *addr, int port, int type)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (make_sockaddr(addr, port, 0, &ss, &len) < 0) {
		errno = EINVAL;
		return -1;
	}
	fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 1) < 0)) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

int port_check_free(const char *what, const char *addr, int port,
		    unsigned protos)
{
	static const struct { unsigned proto; int type; } kinds[] = {
		{ PORT_TCP, SOCK_STREAM }, { PORT_UDP, SOCK_DGRAM },
	};
	char where[128];

	for (size_t i = 0; i < 2; i++) {
		int fd;

		if (!(protos & kinds[i].proto))
			continue;
		fd = bind_one(addr, port, kinds[i].type);
		if (fd < 0)
			return error_errno("cannot listen on %s port %s%s", what,
					   port_format(where, sizeof(where),
						       addr, port),
					   kinds[i].type == SOCK_DGRAM ?
					   " (UDP)" : "");
		close(fd);
	}
	return 0;
}

int port_pick(const char *what, const char *addr, unsigned protos)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd, port;

		fd = bind_one(addr, 0, protos & PORT_TCP ? SOCK_STREAM :
			      SOCK_DGRAM);
		if (fd < 0)
			return error_errno("cannot find a free %s port on '%s'",
					   what, addr);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
			close(fd);
			return error_errno("cannot find a free %s port on '%s'",
					   what, addr);
		}
		port = ntohs(ss.ss_family == AF_INET ?
			     ((struct sockaddr_in *)&ss)->sin_port :
			     ((struct sockaddr_in6 *)&ss)->sin6_port);
		close(fd);
		if (protos & PORT_UDP && protos & PORT_TCP) {
			fd = bind_one(addr, port, SOCK_DGRAM);
			if (fd < 0)
				continue;
			close(fd);
		}
		return port;
	}
	return error("cannot find a free %s port on '%s'", what, addr);
}

int port_accepts(const char *addr, int port, int timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct pollfd pfd;
	int fd, ok = 0, err = 0;
	socklen_t errlen = sizeof(err);

	if (make_sockaddr(addr, port, 1, &ss, &len) < 0)
		return 0;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		ok = 1;
	} else if (errno == EINPROGRESS) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, timeout_ms) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) == 0 &&
		    err == 0)
			ok = 1;
	}
	close(fd);
	return ok;
}
