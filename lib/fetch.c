/* fetch.c - see fetch.h */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "log.h"
#include "util.h"

void fetch_retry_init(struct fetch_retry *r)
{
	r->tries = 5;
	r->delay = 1;
	r->max_delay = 8;
	r->quiet = 0;
}

const char *fetch_rsync_strerror(int status)
{
	switch (status) {
	case 0: return "success";
	case 1: return "syntax or usage error";
	case 2: return "protocol incompatibility";
	case 3: return "errors selecting input/output files, dirs";
	case 4: return "requested action not supported";
	case 5: return "error starting client-server protocol (no such module?)";
	case 6: return "daemon unable to append to log-file";
	case 10: return "error in socket I/O (server unreachable?)";
	case 11: return "error in file I/O";
	case 12: return "error in rsync protocol data stream";
	case 13: return "errors with program diagnostics";
	case 14: return "error in IPC code";
	case 20: return "received SIGUSR1 or SIGINT";
	case 21: return "some error returned by waitpid()";
	case 22: return "error allocating core memory buffers";
	case 23: return "partial transfer due to error (missing files?)";
	case 24: return "partial transfer due to vanished source files";
	case 25: return "the --max-delete limit stopped deletions";
	case 30: return "timeout in data send/receive";
	case 35: return "timeout waiting for daemon connection";
	case 127: return "rsync not found";
	}
	return "unknown error";
}

int fetch_parse_server(const char *imageserver, char **host, int *port)
{
	const char *colon, *end;
	long p = 0;

	*host = NULL;
	*port = 0;
	if (!imageserver || !*imageserver)
		return error("IMAGESERVER is not set");
	if (*imageserver == '[') {
		end = strchr(imageserver, ']');
		if (!end)
			return error("malformed IMAGESERVER '%s'", imageserver);
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] && !colon)
			return error("malformed IMAGESERVER '%s'", imageserver);
		*host = strndup(imageserver + 1, end - imageserver - 1);
	} else {
		colon = strchr(imageserver, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;	/* a bare IPv6 address */
		*host = colon ? strndup(imageserver, colon - imageserver)
			      : xstrdup(imageserver);
	}
	if (!*host)
		return error("out of memory");
	if (!**host || strpbrk(*host, " /\t@")) {
		free(*host);
		*host = NULL;
		return error("malformed IMAGESERVER '%s'", imageserver);
	}
	if (colon && parse_long(colon + 1, 1, 65535, &p) < 0) {
		free(*host);
		*host = NULL;
		return error("malformed port in IMAGESERVER '%s'", imageserver);
	}
	*port = (int)p;
	return 0;
}

char *fetch_url(const char *imageserver, const char *path)
{
	char *host;
	int port;
	char *url;

	if (fetch_parse_server(imageserver, &host, &port) < 0)
		return NULL;
	if (strchr(host, ':'))
		url = port ? xasprintf("rsync://[%s]:%d/%s", host, port, path)
			   : xasprintf("rsync://[%s]/%s", host, path);
	else
		url = port ? xasprintf("rsync://%s:%d/%s", host, port, path)
			   : xasprintf("rsync://%s/%s", host, path);
	free(host);
	return url;
}

static char *slurp_fd(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = xmalloc(cap);
	ssize_t n;

	for (;;) {
		if (len + 1 >= cap)
			buf = xrealloc(buf, cap *= 2);
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	return buf;
}

/* Runs rsync once; returns its exit status (127 if it cannot run, -1 if
 * killed by a signal).  With quiet, rsync's messages go to /dev/null. */
static int run_once(const char *const *argv, char **out, int quiet)
{
	int pfd[2] = { -1, -1 }, status;
	pid_t pid;

	if (out && pipe(pfd) < 0)
		return error_errno("cannot create a pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		error_errno("cannot fork");
		if (out) {
			close(pfd[0]);
			close(pfd[1]);
		}
		return -1;
	}
	if (pid == 0) {
		if (quiet) {
			int null = open("/dev/null", O_WRONLY);

			if (null >= 0)
				dup2(null, 2);
		}
		if (out) {
			dup2(pfd[1], 1);
		}
		close_fds_from(3, -1);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "%s: cannot run '%s': %s\n", log_prog(),
			argv[0], strerror(errno));
		_exit(127);
	}
	if (out) {
		close(pfd[1]);
		*out = slurp_fd(pfd[0]);
		close(pfd[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return error_errno("cannot wait for rsync");
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return -1;
}

static void sleep_seconds(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int fetch_rsync(const char *what, const char *const *args, const char *src,
		const char *dst, const struct fetch_retry *r, char **out)
{
	const char *argv[64];
	double delay = r->delay;
	int n = 0, status = -1;

	argv[n++] = "rsync";
	argv[n++] = RSYNC_NODELAY;
	for (int i = 0; args && args[i] && n < 60; i++)
		argv[n++] = args[i];
	argv[n++] = src;
	if (dst)
		argv[n++] = dst;
	argv[n] = NULL;
	for (int attempt = 1; attempt <= r->tries; attempt++) {
		if (out) {
			free(*out);
			*out = NULL;
		}
		verbose("fetching %s: rsync %s%s%s (try %d of %d)", what, src,
			dst ? " " : "", dst ? dst : "", attempt, r->tries);
		status = run_once(argv, out, r->quiet);
		if (status == 0)
			return 0;
		if (attempt == r->tries)
			break;
		if (!r->quiet)
			warning("cannot fetch %s from '%s': rsync exit %d "
				"(%s); retrying in %g s (try %d of %d)", what,
				src, status, status < 0 ? "killed by a signal" :
				fetch_rsync_strerror(status), delay,
				attempt + 1, r->tries);
		sleep_seconds(delay);
		delay = delay * 2 > r->max_delay ? r->max_delay : delay * 2;
	}
	if (out) {
		free(*out);
		*out = NULL;
	}
	if (r->quiet) {
		verbose("cannot fetch %s from '%s': rsync exit %d", what, src,
			status);
		return -1;
	}
	return error("cannot fetch %s from '%s': rsync exit %d (%s), "
		     "gave up after %d tries", what, src, status,
		     status < 0 ? "killed by a signal" :
		     fetch_rsync_strerror(status), r->tries);
}
