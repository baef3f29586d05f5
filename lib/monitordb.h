/* monitordb.h - si_monitor's store: nodes, their installs and each
 * install's history and log lines, in SQLite (WAL, one transaction a
 * report, so a restart loses nothing).  Only si_monitor links it (and
 * -lsqlite3).  The schema is in monitordb.c and docs/monitor-protocol.md.
 */
#ifndef SI_MONITORDB_H
#define SI_MONITORDB_H

#include "monitor_proto.h"

struct monitordb;

enum monitordb_mode {
	MONITORDB_WRITE,	/* the daemon: creates the file and schema */
	MONITORDB_READ,		/* --status: read-only, the file must exist */
};

/* Opens (and for MONITORDB_WRITE creates) the database at path.  Returns
 * it, or NULL with a message.  Closed with monitordb_close(). */
struct monitordb *monitordb_open(const char *path, enum monitordb_mode mode);
void monitordb_close(struct monitordb *db);

/* Stores report r that came from peer (an address) at now (s since
 * 1970), in one transaction: the node's identity and figures, a new
 * install on status 0 (or the first report, or a percent after an install
 * ended), a history row for each change of status, log lines (at most
 * 1000 an install).  A report without a MAC uses the one in hello (the
 * connection's), else it is refused.  Returns 0, or -1 with a message. */
int monitordb_record(struct monitordb *db, const struct monitor_report *r,
		     const char *peer, double now);

/* Marks stale the running installs whose node sent nothing since
 * now - timeout (the node's record says so until it reports again);
 * *marked counts them.  Returns 0 or -1 with a message. */
int monitordb_mark_stale(struct monitordb *db, double now, double timeout,
			 int *marked);

/* One node as --status shows it. */
struct monitordb_node {
	char *mac, *ip, *hostname, *image, *version, *message, *result;
	int status;		/* MONITOR_NO_STATUS when never said */
	double percent, down_rate, up_rate;	/* -1 when unknown */
	long long downloaded, extracted, total, uploaded;
	long peers;
	double first_seen, last_seen, started;	/* started: the install's */
	int stale;
	long long installs;	/* how many this node had */
};

/* Every node, failed ones first, then stale ones, then by host name.
 * Returns 0 with *v (freed with monitordb_nodes_free()) and *n, or -1
 * with a message. */
int monitordb_nodes(struct monitordb *db, struct monitordb_node **v,
		    size_t *n);
void monitordb_nodes_free(struct monitordb_node *v, size_t n);

#endif
