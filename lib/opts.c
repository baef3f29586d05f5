/* opts.c - see opts.h */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "opts.h"
#include "util.h"

enum { OPT_VERBOSE = 0x7f01, OPT_QUIET, OPT_VERSION };

struct poptOption opts_common_table[] = {
	{ "verbose", 'v', POPT_ARG_NONE, NULL, OPT_VERBOSE,
	  "say more (repeat for debugging output)", NULL },
	{ "quiet", 'q', POPT_ARG_NONE, NULL, OPT_QUIET,
	  "print errors only", NULL },
	{ "version", '\0', POPT_ARG_NONE, NULL, OPT_VERSION,
	  "print the version and exit", NULL },
	POPT_AUTOHELP
	POPT_TABLEEND
};

static poptContext usage_con;

void opts_usage_error(poptContext con, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", log_prog());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (con)
		poptPrintUsage(con, stderr, 0);
	exit(2);
}

poptContext opts_parse(int argc, const char **argv,
		       const struct poptOption *table, const char *synopsis,
		       int max_args,
		       int (*handle)(int val, const char *arg, void *data),
		       void *data)
{
	poptContext con = poptGetContext(log_prog(), argc, argv, table, 0);
	const char **args;
	int rc, level = LOG_NORMAL, n = 0;

	usage_con = con;
	if (synopsis)
		poptSetOtherOptionHelp(con, synopsis);
	while ((rc = poptGetNextOpt(con)) > 0) {
		switch (rc) {
		case OPT_VERBOSE:
			level = level < LOG_NORMAL ? LOG_VERBOSE : level + 1;
			break;
		case OPT_QUIET:
			level = LOG_QUIET;
			break;
		case OPT_VERSION:
			printf("%s (SwarmImager) %s\n", log_prog(), SI_VERSION);
			exit(0);
		default: {
			char *arg = poptGetOptArg(con);	/* ours to free */
			int bad = !handle || handle(rc, arg, data) < 0;

			free(arg);
			if (bad)
				opts_usage_error(con, "invalid use of %s",
						 poptBadOption(con, 0));
		}
		}
	}
	if (rc < -1)
		opts_usage_error(con, "%s: %s",
				 poptBadOption(con, POPT_BADOPTION_NOALIAS),
				 poptStrerror(rc));
	log_set_level(level);
	args = poptGetArgs(con);
	while (args && args[n])
		n++;
	if (max_args >= 0 && n > max_args)
		opts_usage_error(con, "unexpected argument '%s'",
				 args[max_args]);
	return con;
}

void opts_split_list(const char *s, char ***list, size_t *n)
{
	char *copy = xstrdup(s), *save = NULL, *w;
	size_t cnt = *n;

	for (w = strtok_r(copy, ", \t", &save); w;
	     w = strtok_r(NULL, ", \t", &save)) {
		*list = xrealloc(*list, (cnt + 2) * sizeof(**list));
		(*list)[cnt++] = xstrdup(w);
		(*list)[cnt] = NULL;
	}
	*n = cnt;
	free(copy);
}

void opts_free_list(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}
