/* report.h - telling the image server how a node's install went: one
 * HTTP/1.0 GET of SI_REPORT_URL with the node's status as query
 * parameters (mac, status, hostname, image, ...), SystemImager's status
 * codes.  Best-effort: a dead server costs at most the timeout, and the
 * caller only warns.
 */
#ifndef SI_REPORT_H
#define SI_REPORT_H

#include <stddef.h>

/* SystemImager's status codes (si_monitor's). */
enum report_status {
	REPORT_FAILED = -1,	/* any negative value: failed */
	REPORT_IMAGED = 100,	/* installed */
	REPORT_REBOOTED = 102,	/* the installed system came up */
};

struct report_param {
	const char *key;
	const char *value;	/* NULL: the parameter is left out */
};

/* The parts of http://HOST[:PORT][/PATH[?QUERY]]. */
struct report_url {
	char *host;
	char *port;	/* "80" when none is given */
	char *target;	/* "/PATH[?QUERY]", "/" when none is given */
};

/* Parses url into u (released with report_url_release()).  Only http, a
 * host of letters, digits, '.', '-' (a name or IPv4 address), a port
 * 1-65535, and a path and query of printable characters other than
 * space, '#', quotes and '\\' (the URL goes into a shell file on the
 * node).  Returns 0, or -1 with the reason in err (no message printed). */
int report_url_parse(const char *url, struct report_url *u, char *err,
		     size_t errlen);
void report_url_release(struct report_url *u);

/* Returns "k1=v1&k2=v2" for the n pairs with a value, each key and value
 * percent-encoded but for RFC 3986's unreserved characters (letters,
 * digits, "-._~").  The caller frees it. */
char *report_query(const struct report_param *p, size_t n);

/* GETs url with the query of p appended (after '&' when url has a query)
 * as HTTP/1.0, giving the connection and the answer's status line
 * timeout_ms in all.  Returns 0 when the server answers 2xx, else -1 with
 * the reason in err (no message printed). */
int report_get(const char *url, const struct report_param *p, size_t n,
	       int timeout_ms, char *err, size_t errlen);

#endif
