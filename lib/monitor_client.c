/* monitor_client.c - see monitor_client.h.  The caller's thread only
 * formats a line and queues it under a mutex; the writer thread does all
 * the socket work with non-blocking calls bounded by poll(), woken
 * through a pipe. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "log.h"
#include "monitor_client.h"
#include "util.h"

#define QUEUE_MAX 256		/* lines waiting for the connection */
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define WRITE_STALL_MS 30000	/* no byte taken for so long: reconnect */

struct qline {
	char *s;		/* with its newline */
	int droppable;		/* a progress line: the next one says more */
};

struct monitor_client {
	char *host;
	char port[8];
	int connect_ms;
	pthread_t thread;
	pthread_mutex_t lock;
	int wake[2];		/* the thread polls wake[0] */
	/* under lock */
	char *hello;
	struct qline q[QUEUE_MAX];
	size_t head, n;
	int stop, connected, ever_connected;
	double flush_until;	/* monotonic; with stop */
	long sent, dropped;
};

static double wall_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void wake(struct monitor_client *m)
{
	char c = 1;

	if (write(m->wake[1], &c, 1) < 0) {
		/* full: the thread is awake already */
	}
}

static void drain(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Polls fd for events and the wake pipe for up to ms.  Returns 1 when fd
 * is ready, 0 on a timeout or a wake-up, -1 on an error. */
static int wait_fd(struct monitor_client *m, int fd, short events, int ms)
{
	struct pollfd p[2] = { { m->wake[0], POLLIN, 0 }, { fd, events, 0 } };
	int n = poll(p, fd >= 0 ? 2 : 1, ms);

	if (n < 0)
		return errno == EINTR ? 0 : -1;
	if (p[0].revents)
		drain(m->wake[0]);
	if (fd >= 0 && p[1].revents & (POLLERR | POLLHUP | POLLNVAL))
		return -1;
	return fd >= 0 && (p[1].revents & events) ? 1 : 0;
}

/* Whether the thread should end: stopping, and either the monitor was
 * never reached in this run (an unreachable monitor costs the installer
 * nothing at its end), or nothing is left, or the flush time is over. */
static int give_up(struct monitor_client *m)
{
	int g;

	pthread_mutex_lock(&m->lock);
	g = m->stop && (!m->ever_connected || !m->n ||
			now_monotonic() >= m->flush_until);
	pthread_mutex_unlock(&m->lock);
	return g;
}

static int stopping_now(struct monitor_client *m)
{
	int s;

	pthread_mutex_lock(&m->lock);
	s = m->stop;
	pthread_mutex_unlock(&m->lock);
	return s;
}

/* A non-blocking connection to the monitor within connect_ms, or -1. */
static int connect_once(struct monitor_client *m)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM }, *ai, *a;
	int fd = -1, one = 1;

	if (getaddrinfo(m->host, m->port, &hints, &ai) != 0)
		return -1;
	for (a = ai; a && fd < 0 && !give_up(m); a = a->ai_next) {
		double end = now_monotonic() + m->connect_ms / 1000.0;
		int soerr = 0, r = 0;
		socklen_t len = sizeof(soerr);

		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			if (errno != EINPROGRESS)
				soerr = errno;
			while (!soerr && r == 0 && !give_up(m) &&
			       now_monotonic() < end)
				r = wait_fd(m, fd, POLLOUT, 100);
			if (!soerr && r == 1)
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
			else if (!soerr)
				soerr = ETIMEDOUT;
		}
		if (soerr) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Whether the monitor closed the connection (it never sends). */
static int peer_closed(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Writes all of s, polling; gives up when the monitor takes nothing for
 * WRITE_STALL_MS or when stopping past the flush deadline. */
static int send_line(struct monitor_client *m, int fd, const char *s)
{
	size_t len = strlen(s), off = 0;
	double stall = now_monotonic() + WRITE_STALL_MS / 1000.0;

	if (peer_closed(fd))
		return -1;
	while (off < len) {
		ssize_t n = send(fd, s + off, len - off, MSG_NOSIGNAL |
				 MSG_DONTWAIT);

		if (n > 0) {
			off += (size_t)n;
			stall = now_monotonic() + WRITE_STALL_MS / 1000.0;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return -1;
		pthread_mutex_lock(&m->lock);
		n = m->stop && now_monotonic() >= m->flush_until;
		pthread_mutex_unlock(&m->lock);
		if (n || now_monotonic() >= stall ||
		    wait_fd(m, fd, POLLOUT, 200) < 0)
			return -1;
	}
	return 0;
}

/* The next line to send (the caller frees it), or NULL when there is
 * none; *done when the thread should end. */
static char *next_line(struct monitor_client *m, int *done)
{
	char *s = NULL;

	pthread_mutex_lock(&m->lock);
	if (m->n) {
		s = m->q[m->head].s;
		m->head = (m->head + 1) % QUEUE_MAX;
		m->n--;
	}
	*done = m->stop && (!s || now_monotonic() >= m->flush_until);
	pthread_mutex_unlock(&m->lock);
	if (*done) {
		free(s);
		s = NULL;
	}
	return s;
}

/* One connection's life: the hello, then the queue until it breaks. */
static void serve(struct monitor_client *m, int fd)
{
	char *s;
	int done = 0;

	pthread_mutex_lock(&m->lock);
	s = m->hello ? xstrdup(m->hello) : NULL;
	m->connected = m->ever_connected = 1;
	pthread_mutex_unlock(&m->lock);
	for (;;) {
		if (s) {
			int ret = send_line(m, fd, s);

			free(s);
			if (ret < 0)
				break;
			pthread_mutex_lock(&m->lock);
			m->sent++;
			pthread_mutex_unlock(&m->lock);
		}
		s = next_line(m, &done);
		if (done)
			break;
		if (!s && (wait_fd(m, fd, POLLIN, 1000) != 0 ||
			   peer_closed(fd)))
			break;	/* the monitor sends nothing: closed */
	}
	pthread_mutex_lock(&m->lock);
	m->connected = 0;
	pthread_mutex_unlock(&m->lock);
	close(fd);
}

static void *writer(void *arg)
{
	struct monitor_client *m = arg;
	int backoff = BACKOFF_MIN_MS;

	while (!give_up(m)) {
		int fd = connect_once(m);
		double tried, until;

		if (fd >= 0) {
			double t0 = now_monotonic();

			serve(m, fd);
			/* A connection that lasted resets the backoff. */
			if (now_monotonic() - t0 > 10)
				backoff = BACKOFF_MIN_MS;
		}
		tried = now_monotonic();
		until = tried + backoff / 1000.0;
		/* Stopping: the last tries come 0.2 s apart. */
		while (!give_up(m) && now_monotonic() <
		       (stopping_now(m) ? tried + 0.2 : until))
			wait_fd(m, -1, 0, 100);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
			  backoff * 2;
	}
	return NULL;
}

struct monitor_client *monitor_new(const char *server, int connect_ms)
{
	struct monitor_client *m;
	char *host;
	int port, err;

	if (fetch_parse_server(server, &host, &port) < 0)
		return NULL;
	m = xcalloc(1, sizeof(*m));
	m->host = host;
	snprintf(m->port, sizeof(m->port), "%d", port ? port : MONITOR_PORT);
	m->connect_ms = connect_ms;
	pthread_mutex_init(&m->lock, NULL);
	if (pipe2(m->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
		error_errno("cannot make a pipe");
		goto fail;
	}
	if ((err = pthread_create(&m->thread, NULL, writer, m)) != 0) {
		errno = err;
		error_errno("cannot start the monitor's thread");
		close(m->wake[0]);
		close(m->wake[1]);
		goto fail;
	}
	return m;
fail:
	pthread_mutex_destroy(&m->lock);
	free(m->host);
	free(m);
	return NULL;
}

/* Queues line (a newline is added), dropping the oldest progress line,
 * else the oldest line, when the queue is full. */
static void enqueue(struct monitor_client *m, char *line, int droppable)
{
	char *s = xasprintf("%s\n", line);

	free(line);
	pthread_mutex_lock(&m->lock);
	if (m->n == QUEUE_MAX) {
		size_t victim = 0;

		for (size_t i = 0; i < m->n; i++)
			if (m->q[(m->head + i) % QUEUE_MAX].droppable) {
				victim = i;
				break;
			}
		free(m->q[(m->head + victim) % QUEUE_MAX].s);
		for (size_t i = victim; i + 1 < m->n; i++)
			m->q[(m->head + i) % QUEUE_MAX] =
				m->q[(m->head + i + 1) % QUEUE_MAX];
		m->n--;
		m->dropped++;
	}
	m->q[(m->head + m->n) % QUEUE_MAX] = (struct qline){ s, droppable };
	m->n++;
	pthread_mutex_unlock(&m->lock);
	wake(m);
}

void monitor_hello(struct monitor_client *m, const struct monitor_report *r)
{
	struct monitor_report c = *r;
	char *line;
	int connected;

	if (!m)
		return;
	c.type = MONITOR_HELLO;
	c.time = wall_time();
	line = monitor_format(&c);
	pthread_mutex_lock(&m->lock);
	free(m->hello);
	m->hello = xasprintf("%s\n", line);
	connected = m->connected;
	pthread_mutex_unlock(&m->lock);
	/* A connection made from now on starts with the new hello. */
	if (connected)
		enqueue(m, line, 0);
	else
		free(line);
}

void monitor_send(struct monitor_client *m, const struct monitor_report *r)
{
	struct monitor_report c = *r;

	if (!m)
		return;
	if (c.time < 0)
		c.time = wall_time();
	enqueue(m, monitor_format(&c), c.type == MONITOR_PROGRESS);
}

void monitor_counts(struct monitor_client *m, long *sent, long *dropped)
{
	pthread_mutex_lock(&m->lock);
	*sent = m->sent;
	*dropped = m->dropped;
	pthread_mutex_unlock(&m->lock);
}

void monitor_free(struct monitor_client *m, int flush_ms)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = 1;
	m->flush_until = now_monotonic() + (m->ever_connected ?
					     flush_ms / 1000.0 : 0);
	pthread_mutex_unlock(&m->lock);
	wake(m);
	pthread_join(m->thread, NULL);
	close(m->wake[0]);
	close(m->wake[1]);
	for (size_t i = 0; i < m->n; i++)
		free(m->q[(m->head + i) % QUEUE_MAX].s);
	free(m->hello);
	free(m->host);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
