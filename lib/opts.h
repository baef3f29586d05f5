/* opts.h - popt conventions shared by every program.
 *
 * Each program has one struct poptOption table ending with
 * POPT_TABLEEND; it includes OPTS_COMMON for -v/-q/--version and
 * POPT_AUTOHELP.  opts_parse() runs the popt loop: an unknown or malformed
 * option prints poptBadOption + poptStrerror and exits 2.
 */
#ifndef SI_OPTS_H
#define SI_OPTS_H

#include <popt.h>

#define SI_VERSION "0.1"

extern struct poptOption opts_common_table[];
#define OPTS_COMMON \
	{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, opts_common_table, 0, \
	  "Common options:", NULL }

/* Parses argv with table; exits 2 on usage errors and 0 after --version.
 * When max_args >= 0, more leftover arguments than that is a usage error.
 * Returns the context (leftover arguments via poptGetArgs); the caller
 * frees it with poptFreeContext().  val handler: options with a non-zero
 * val are passed to handle(val, arg, data), which returns 0 or -1 (usage
 * error, already reported); arg is freed after the call: copy what you keep. */
poptContext opts_parse(int argc, const char **argv,
		       const struct poptOption *table, const char *synopsis,
		       int max_args,
		       int (*handle)(int val, const char *arg, void *data),
		       void *data);

/* Reports a usage error and exits 2. */
void opts_usage_error(poptContext con, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* Splits "a,b c" on commas and spaces into a NULL-terminated array of
 * new strings, appending to *list (which may be NULL); *n counts them.
 * Frees nothing; release with opts_free_list(). */
void opts_split_list(const char *s, char ***list, size_t *n);
void opts_free_list(char **list);

#endif
