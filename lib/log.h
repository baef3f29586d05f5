/* log.h - diagnostics on stderr, results on stdout.
 *
 * Messages follow "prog: failed action 'subject': errno text".  Library
 * code reports with error() and returns -1; only main() decides to exit.
 */
#ifndef SI_LOG_H
#define SI_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_QUIET = -1,	/* errors only */
	LOG_NORMAL = 0,	/* warnings, progress, summaries */
	LOG_VERBOSE = 1,	/* what is being done */
	LOG_DEBUG = 2,
};

/* Sets the program name used as message prefix (basename of argv0). */
void log_init(const char *argv0);
const char *log_prog(void);
void log_set_level(int level);
int log_level(void);
/* Prefix every line with a monotonic timestamp (for daemons and tests). */
void log_set_timestamps(int on);

/* Called with each error, warning and notice printed ("error",
 * "warning", "notice") and its text without the program's name, in the
 * thread that logs; not for messages logged from inside the hook.  fn
 * NULL: none. */
typedef void log_hook_fn(void *ctx, const char *level, const char *msg);
void log_set_hook(log_hook_fn *fn, void *ctx);

/* Returns -1 so callers can "return error(...)". */
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like error(), with ": strerror(errno)" appended. */
int error_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warning_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Normal-level notices (progress, summaries) on stderr. */
void notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The text of the last error() or error_errno() (without the program's
 * name), or NULL; owned by log.c, valid until the next error. */
const char *log_last_error(void);
/* Prints the message and exits with status; for main() only. */
void die(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* Flushes stdout and reports a write error; returns 0 or -1. */
int log_flush_stdout(void);

#endif
