/* child.h - long-running helper processes (opentracker, rsync --daemon)
 * started and supervised by a server program.
 *
 * Each child runs in a process group of its own (so that its own children,
 * e.g. rsync's per-connection processes, are stopped with it), with stdin
 * on /dev/null, stdout on our stderr (our stdout carries results only) and
 * every file descriptor >= 3 closed (libtorrent 2.0.8 leaks descriptors).
 * A child that dies is restarted by child_tick() after a backoff that grows
 * with quick successive failures.  Nothing here installs signal handlers.
 */
#ifndef SI_CHILD_H
#define SI_CHILD_H

#include <sys/types.h>

struct child {
	char *name;		/* for messages: "opentracker" */
	char **argv;		/* NULL-terminated; argv[0] looked up in PATH */
	char *dir;		/* working directory of the child, or NULL */
	pid_t pid;		/* 0 when not running */
	double started;		/* now_monotonic() of the last start */
	double restart_at;	/* when to start again (0: not scheduled) */
	int quick_failures;	/* deaths soon after a start, in a row */
	int restarts;		/* how many times it was restarted */
	int last_status;	/* wait status of the last exit */
};

/* Copies name, argv and dir into c (nothing is started). */
void child_init(struct child *c, const char *name, const char *const *argv,
		const char *dir);
/* Stops the child if it runs and frees what child_init() copied. */
void child_release(struct child *c);

/* Forks and executes the child.  Returns 0, or -1 with a message when
 * fork fails (an exec failure shows as an exit with status 127). */
int child_start(struct child *c);

/* Reaps the child if it has exited, without blocking.  Returns 1 when it
 * did (c->pid becomes 0, c->last_status is set, and a restart is scheduled
 * with a backoff), 0 when it still runs or was not running. */
int child_reap(struct child *c);

/* Restarts the child when it is down and its backoff has passed.  Returns
 * 1 when it was restarted, 0 when nothing was due, -1 on a fork error. */
int child_tick(struct child *c);

/* Sends SIGTERM to the child's process group, waits up to timeout seconds
 * for the child, then SIGKILLs the group; always reaps it.  No restart
 * is scheduled afterwards.  Safe when not running. */
void child_stop(struct child *c, double timeout);

/* Sends sig to the child (not its group).  Returns 0, or -1 when it does
 * not run or kill() fails. */
int child_signal(struct child *c, int sig);

/* Describes a wait status ("exited with status 1", "killed by signal 9")
 * into buf.  Returns buf. */
char *child_status_str(int status, char *buf, size_t size);

#endif
