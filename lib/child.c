/* child.c - see child.h */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "util.h"

/* A child that dies within this many seconds of its start counts as a
 * quick failure; the backoff doubles with each one in a row. */
#define CHILD_QUICK 10.0
#define CHILD_BACKOFF_MIN 0.5
#define CHILD_BACKOFF_MAX 30.0

void child_init(struct child *c, const char *name, const char *const *argv,
		const char *dir)
{
	size_t n = 0;

	memset(c, 0, sizeof(*c));
	c->name = xstrdup(name);
	while (argv[n])
		n++;
	c->argv = xcalloc(n + 1, sizeof(*c->argv));
	for (size_t i = 0; i < n; i++)
		c->argv[i] = xstrdup(argv[i]);
	c->dir = dir ? xstrdup(dir) : NULL;
}

void child_release(struct child *c)
{
	if (!c->name)
		return;
	child_stop(c, 5);
	for (size_t i = 0; c->argv[i]; i++)
		free(c->argv[i]);
	free(c->argv);
	free(c->name);
	free(c->dir);
	memset(c, 0, sizeof(*c));
}

/* Runs in the forked child: no stdio, no allocation, no return. */
static void __attribute__((noreturn)) exec_child(const struct child *c,
						 pid_t parent)
{
	char msg[512];
	sigset_t all;
	int fd, n;

	setpgid(0, 0);
	/* Die with the parent (cleared by the kernel when the child drops
	 * privileges, as opentracker does: then the parent's stop is it). */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != STDIN_FILENO) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	dup2(STDERR_FILENO, STDOUT_FILENO);
	close_fds_from(3, -1);
	if (c->dir && chdir(c->dir) < 0) {
		n = snprintf(msg, sizeof(msg), "%s: cannot change to '%s': %s\n",
			     log_prog(), c->dir, strerror(errno));
		if (write(STDERR_FILENO, msg, n) < 0) {
			/* nothing left to tell */
		}
		_exit(127);
	}
	execvp(c->argv[0], c->argv);
	n = snprintf(msg, sizeof(msg), "%s: cannot run '%s': %s\n",
		     log_prog(), c->argv[0], strerror(errno));
	if (write(STDERR_FILENO, msg, n) < 0) {
		/* nothing left to tell */
	}
	_exit(127);
}

int child_start(struct child *c)
{
	pid_t parent = getpid(), pid;

	if (c->pid > 0)
		return 0;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return error_errno("cannot start %s", c->name);
	if (pid == 0)
		exec_child(c, parent);
	/* Also from here, so that a stop right after the fork finds the
	 * group (one of the two calls wins; the other fails harmlessly). */
	setpgid(pid, pid);
	c->pid = pid;
	c->started = now_monotonic();
	c->restart_at = 0;
	verbose("started %s (pid %d)", c->name, (int)pid);
	return 0;
}

int child_reap(struct child *c)
{
	int status;
	pid_t r;
	double ran, delay;

	if (c->pid <= 0)
		return 0;
	r = waitpid(c->pid, &status, WNOHANG);
	if (r == 0 || (r < 0 && errno == EINTR))
		return 0;
	if (r < 0)
		status = 0;	/* ECHILD: reaped elsewhere; treat as gone */
	/* Whatever it left in its group goes with it. */
	kill(-c->pid, SIGKILL);
	c->pid = 0;
	c->last_status = status;
	ran = now_monotonic() - c->started;
	c->quick_failures = ran < CHILD_QUICK ? c->quick_failures + 1 : 1;
	delay = CHILD_BACKOFF_MIN;
	for (int i = 1; i < c->quick_failures && delay < CHILD_BACKOFF_MAX; i++)
		delay *= 2;
	if (delay > CHILD_BACKOFF_MAX)
		delay = CHILD_BACKOFF_MAX;
	c->restart_at = now_monotonic() + delay;
	return 1;
}

int child_tick(struct child *c)
{
	if (c->pid > 0 || !c->restart_at || now_monotonic() < c->restart_at)
		return 0;
	if (child_start(c) < 0) {
		c->restart_at = now_monotonic() + CHILD_BACKOFF_MAX;
		return -1;
	}
	c->restarts++;
	return 1;
}

static int wait_exit(pid_t pid, double timeout)
{
	double end = now_monotonic() + timeout;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			return 1;
		if (now_monotonic() >= end)
			return 0;
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
}

void child_stop(struct child *c, double timeout)
{
	c->restart_at = 0;
	if (c->pid <= 0)
		return;
	kill(-c->pid, SIGTERM);
	kill(c->pid, SIGTERM);
	if (!wait_exit(c->pid, timeout)) {
		warning("%s (pid %d) did not stop within %.0f s; killing it",
			c->name, (int)c->pid, timeout);
		kill(-c->pid, SIGKILL);
		kill(c->pid, SIGKILL);
		wait_exit(c->pid, 5);
	}
	/* Stragglers of its group (rsync connection handlers). */
	kill(-c->pid, SIGKILL);
	verbose("stopped %s (pid %d)", c->name, (int)c->pid);
	c->pid = 0;
}

int child_signal(struct child *c, int sig)
{
	if (c->pid <= 0)
		return -1;
	return kill(c->pid, sig);
}

char *child_status_str(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "stopped (status 0x%x)", status);
	return buf;
}
