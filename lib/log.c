/* log.c - see log.h */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *prog = "swarmimager";
static int level = LOG_NORMAL;
static int timestamps;
static char last_error[512];
static log_hook_fn *hook;
static void *hook_ctx;
static int in_hook;

void log_init(const char *argv0)
{
	const char *slash;

	if (!argv0)
		return;
	slash = strrchr(argv0, '/');
	prog = slash ? slash + 1 : argv0;
}

const char *log_prog(void) { return prog; }
void log_set_level(int l) { level = l; }
int log_level(void) { return level; }
void log_set_timestamps(int on) { timestamps = on; }

void log_set_hook(log_hook_fn *fn, void *ctx)
{
	hook = fn;
	hook_ctx = ctx;
}

const char *log_last_error(void)
{
	return last_error[0] ? last_error : NULL;
}

static void vreport(const char *kind, const char *fmt, va_list ap, int err,
		    int is_error, const char *name)
{
	char buf[4096];
	int n = 0, start;

	if (timestamps) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		n = snprintf(buf, sizeof(buf), "[%ld.%03ld] ", (long)ts.tv_sec,
			     ts.tv_nsec / 1000000);
	}
	n += snprintf(buf + n, sizeof(buf) - n, "%s: %s", prog, kind);
	start = n;
	if (n < (int)sizeof(buf))
		n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (err && n < (int)sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(err));
	if (n >= (int)sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n] = '\0';
	if (is_error)
		snprintf(last_error, sizeof(last_error), "%s", buf + start);
	if (hook && name && !in_hook) {
		in_hook = 1;
		hook(hook_ctx, name, buf + start);
		in_hook = 0;
	}
	buf[n++] = '\n';
	/* One write per line so concurrent processes do not interleave. */
	fflush(stdout);
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nowhere left to report it */
	}
}

#define REPORT_AS(kind, err, is_error, name) do { \
	va_list ap; \
	va_start(ap, fmt); \
	vreport(kind, fmt, ap, err, is_error, name); \
	va_end(ap); \
} while (0)
#define REPORT(kind, err, name) REPORT_AS(kind, err, 0, name)

int error(const char *fmt, ...)
{
	REPORT_AS("", 0, 1, "error");
	return -1;
}

int error_errno(const char *fmt, ...)
{
	int err = errno;

	REPORT_AS("", err, 1, "error");
	errno = err;
	return -1;
}

void warning(const char *fmt, ...)
{
	if (level >= LOG_NORMAL)
		REPORT("warning: ", 0, "warning");
}

void warning_errno(const char *fmt, ...)
{
	int err = errno;

	if (level >= LOG_NORMAL)
		REPORT("warning: ", err, "warning");
	errno = err;
}

void notice(const char *fmt, ...)
{
	if (level >= LOG_NORMAL)
		REPORT("", 0, "notice");
}

void verbose(const char *fmt, ...)
{
	if (level >= LOG_VERBOSE)
		REPORT("", 0, NULL);
}

void debug(const char *fmt, ...)
{
	if (level >= LOG_DEBUG)
		REPORT("debug: ", 0, NULL);
}

void die(int status, const char *fmt, ...)
{
	REPORT("", 0, "error");
	exit(status);
}

int log_flush_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		return error_errno("cannot write to standard output");
	return 0;
}
