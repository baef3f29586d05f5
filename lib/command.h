/* command.h - running external tools (sfdisk, blkid, rsync ...): fork and
 * exec with captured output, and background daemons stopped by PID.
 */
#ifndef SI_COMMAND_H
#define SI_COMMAND_H

#include <sys/types.h>

/* Runs argv[0] (searched in PATH) with argv and waits for it.  When out is
 * not NULL, its standard output is collected into *out (malloc()ed,
 * NUL-terminated, the caller frees it); likewise stderr into *err, else
 * stderr is inherited.  stdin is /dev/null.  Returns the exit status
 * (0..255), 128 + the signal number when killed, or -1 with a message
 * when it could not be run at all (then *out and *err are NULL). */
int command_run(const char *const *argv, char **out, char **err);

/* Like command_run(), with stdin reading input (a string of at most
 * 60000 bytes) instead of /dev/null; NULL input: /dev/null. */
int command_run_input(const char *const *argv, const char *input,
		      char **out, char **err);

/* Starts argv in the background, stdin from /dev/null and stdout and
 * stderr appended to logfile (NULL: inherited).  Returns the PID or -1
 * with a message. */
pid_t command_start(const char *const *argv, const char *logfile);

/* Stops a child started by command_start(): SIGTERM, then SIGKILL after
 * grace_ms, and reaps it.  Returns its exit status as command_run()
 * does, or -1 if it was already reaped. */
int command_stop(pid_t pid, int grace_ms);

/* Non-blocking check: returns -2 while pid runs, else its status as
 * command_run() returns it (the child is reaped). */
int command_poll(pid_t pid);

/* Returns the argv as one line for messages ("rsync -a x y"), newly
 * allocated. */
char *command_line(const char *const *argv);

#endif
