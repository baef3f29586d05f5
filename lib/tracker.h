/* tracker.h - the opentracker we run beside the seeder: its command line,
 * its whitelist, and whether it answers.
 *
 * Debian's opentracker is whitelist-only and, started as root, chroots to
 * its -d directory and drops to "nobody".  We give it a directory of its
 * own (BASE/run/tracker) holding only the whitelist, run it with that
 * directory as working directory and name the whitelist relatively, so the
 * same path is valid before and after the chroot.  SIGHUP reloads it.
 */
#ifndef SI_TRACKER_H
#define SI_TRACKER_H

#include <stddef.h>

#include "child.h"

#define TRACKER_PROGRAM "opentracker"
#define TRACKER_WHITELIST "whitelist"

/* Prepares (does not start) the tracker child listening on addr:port over
 * TCP and UDP, chrooted (when root) to dir, which holds the whitelist. */
void tracker_child_init(struct child *c, const char *addr, int port,
			const char *dir);

/* Writes the whitelist dir/whitelist atomically (mode 0644: the tracker
 * reads it as nobody): one lowercase hex info-hash a line, sorted, each
 * once.  Returns 1 when the file changed, 0 when it already had exactly
 * this content, -1 with a message. */
int tracker_write_whitelist(const char *dir, const char *const *hashes,
			    size_t n);

/* Returns 1 when the tracker at addr:port answers an HTTP scrape within
 * timeout_ms (it has finished starting: signals are safe to send), else 0. */
int tracker_responds(const char *addr, int port, int timeout_ms);

#endif
