/* rsyncd.h - the read-only rsync daemon we run beside the seeder: its
 * generated rsyncd.conf and its command line.
 */
#ifndef SI_RSYNCD_H
#define SI_RSYNCD_H

#include <stddef.h>

#include "child.h"

#define RSYNCD_PROGRAM "rsync"
/* Connections the daemon's socket queues (rsync's default is 5): a whole
 * cluster's nodes start at once, and a SYN dropped from a full queue is
 * sent again 1 s later, then 3 s (a node of 32 started 3 s late). */
#define RSYNCD_BACKLOG 256

struct rsyncd_module {
	const char *name;	/* "torrents" */
	const char *path;	/* the directory it exports */
	const char *comment;
	const char *exclude;	/* rsync exclude patterns or NULL */
};

struct rsyncd_config {
	const char *address;	/* bind address */
	int port;
	const char *log_file;	/* NULL: the daemon's stderr */
	int as_root;		/* chroot to each module and read as uid 0
				 * (numeric ids are then kept) */
	const struct rsyncd_module *modules;
	size_t nmodules;
};

/* Writes the configuration to path atomically.  Every module is read-only
 * and sends numeric ids; symlinks are sent as they are.  Returns 0 or -1
 * with a message (also when a value cannot be written in rsyncd.conf
 * syntax, e.g. a path with a newline). */
int rsyncd_write_conf(const char *path, const struct rsyncd_config *c);

/* Prepares (does not start) "rsync --daemon --no-detach --config=conf". */
void rsyncd_child_init(struct child *c, const char *conf);

#endif
