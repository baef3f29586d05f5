/* monitor_view.h - the nodes as si_monitor --status shows them: a table
 * for a terminal (failed nodes first, then stale ones) and the same as
 * JSON, for scripts and, later, the web page.
 */
#ifndef SI_MONITOR_VIEW_H
#define SI_MONITOR_VIEW_H

#include <stddef.h>

#include "monitordb.h"

/* The table of the n nodes at now (s since 1970), with a header and a
 * summary line.  The caller frees it. */
char *monitor_view_table(const struct monitordb_node *v, size_t n,
			 double now);
/* A JSON array, one object a node (its members in
 * docs/monitor-protocol.md), one a line.  The caller frees it. */
char *monitor_view_json(const struct monitordb_node *v, size_t n,
			double now);

#endif
