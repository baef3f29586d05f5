/* command.c - see command.h */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "log.h"
#include "util.h"

static int status_of(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

/* In the child: stdin from /dev/null, then exec.  Never returns. */
static void child_exec(const char *const *argv, int in)
{
	int fd = in >= 0 ? in : open("/dev/null", O_RDONLY);

	if (fd >= 0 && fd != STDIN_FILENO) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	signal(SIGPIPE, SIG_DFL);
	close_fds_from(3, -1);
	execvp(argv[0], (char *const *)argv);
	fprintf(stderr, "%s: cannot run '%s': %s\n", log_prog(), argv[0],
		strerror(errno));
	_exit(127);
}

struct capture {
	int fd;
	char *buf;
	size_t len, cap;
};

/* Reads what is available; returns 0 at EOF, 1 if more may come. */
static int capture_read(struct capture *c)
{
	ssize_t n;

	if (c->len + 4096 + 1 > c->cap) {
		c->cap = (c->len + 4096 + 1) * 2;
		c->buf = xrealloc(c->buf, c->cap);
	}
	n = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0;
	c->len += n;
	return 1;
}

static void capture_all(struct capture *c, size_t n)
{
	struct pollfd pfd[2];

	for (;;) {
		size_t k = 0;

		for (size_t i = 0; i < n; i++)
			if (c[i].fd >= 0) {
				pfd[k].fd = c[i].fd;
				pfd[k++].events = POLLIN;
			}
		if (!k)
			break;
		if (poll(pfd, k, -1) < 0 && errno != EINTR)
			break;
		for (size_t i = 0, j = 0; i < n; i++) {
			if (c[i].fd < 0)
				continue;
			if (pfd[j++].revents && !capture_read(&c[i])) {
				close(c[i].fd);
				c[i].fd = -1;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (c[i].fd >= 0)
			close(c[i].fd);
		if (!c[i].buf)
			c[i].buf = xcalloc(1, 1);
		c[i].buf[c[i].len] = '\0';
	}
}

int command_run(const char *const *argv, char **out, char **err)
{
	return command_run_input(argv, NULL, out, err);
}

/* A pipe already holding input, its write end closed: the reader sees
 * input then EOF.  Returns the read end or -1 with a message. */
static int input_pipe(const char *input, const char *prog)
{
	size_t len = strlen(input);
	int p[2];

	if (len > 60000)
		return error("cannot feed %zu bytes to '%s': too long", len,
			     prog);
	if (pipe2(p, O_CLOEXEC) < 0)
		return error_errno("cannot create a pipe for '%s'", prog);
	if (write_all(p[1], input, len) < 0) {
		error_errno("cannot write to '%s'", prog);
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	return p[0];
}

int command_run_input(const char *const *argv, const char *input,
		      char **out, char **err)
{
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, st, in = -1;
	struct capture cap[2];
	size_t n = 0;
	pid_t pid;

	if (out)
		*out = NULL;
	if (err)
		*err = NULL;
	if (input && (in = input_pipe(input, argv[0])) < 0)
		return -1;
	if ((out && pipe2(po, O_CLOEXEC) < 0) ||
	    (err && pipe2(pe, O_CLOEXEC) < 0)) {
		error_errno("cannot create a pipe for '%s'", argv[0]);
		goto fail;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		error_errno("cannot run '%s'", argv[0]);
		goto fail;
	}
	if (pid == 0) {
		if (out)
			dup2(po[1], STDOUT_FILENO);
		if (err)
			dup2(pe[1], STDERR_FILENO);
		child_exec(argv, in);
	}
	if (in >= 0)
		close(in);
	memset(cap, 0, sizeof(cap));
	if (out) {
		close(po[1]);
		cap[n++].fd = po[0];
	}
	if (err) {
		close(pe[1]);
		cap[n++].fd = pe[0];
	}
	capture_all(cap, n);
	n = 0;
	if (out)
		*out = cap[n++].buf;
	if (err)
		*err = cap[n++].buf;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return error_errno("cannot wait for '%s'", argv[0]);
	return status_of(st);
fail:
	if (in >= 0)
		close(in);
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	return -1;
}

pid_t command_start(const char *const *argv, const char *logfile)
{
	int fd = -1;
	pid_t pid;

	if (logfile) {
		fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			  0600);
		if (fd < 0)
			return error_errno("cannot open '%s'", logfile);
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		error_errno("cannot run '%s'", argv[0]);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (pid == 0) {
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		child_exec(argv, -1);
	}
	if (fd >= 0)
		close(fd);
	return pid;
}

int command_poll(pid_t pid)
{
	int st;
	pid_t r = waitpid(pid, &st, WNOHANG);

	if (r == 0)
		return -2;
	if (r < 0)
		return -1;
	return status_of(st);
}

int command_stop(pid_t pid, int grace_ms)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int st;

	if (kill(pid, SIGTERM) < 0 && errno == ESRCH)
		return command_poll(pid);
	for (int waited = 0; waited < grace_ms; waited += 20) {
		st = command_poll(pid);
		if (st != -2)
			return st;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status_of(st);
}

char *command_line(const char *const *argv)
{
	char *s = xstrdup(argv[0]);

	for (size_t i = 1; argv[i]; i++) {
		char *t = xasprintf("%s %s", s, argv[i]);

		free(s);
		s = t;
	}
	return s;
}
