/* monitor_client.h - a node's reports to si_monitor: one persistent TCP
 * connection carrying monitor_proto.h's JSON lines, written by a thread
 * of its own so that the installer never waits for the monitor.  Lines
 * go into a bounded queue (the oldest progress line is dropped first when
 * it is full); the thread connects (3 s at most), sends the node's hello
 * and the queue, and reconnects with a doubling backoff (1 s to 30 s),
 * resending the hello.  Best-effort: nothing here fails an install.
 */
#ifndef SI_MONITOR_CLIENT_H
#define SI_MONITOR_CLIENT_H

#include "monitor_proto.h"

struct monitor_client;

/* Starts reporting to server ("HOST[:PORT]", port MONITOR_PORT when
 * none) with connect_ms for each connection attempt.  Returns the client,
 * or NULL with a message when server is not HOST[:PORT] or the thread
 * cannot start.  The caller frees it with monitor_free(). */
struct monitor_client *monitor_new(const char *server, int connect_ms);
/* The hello (r->type MONITOR_HELLO) sent first on every connection; sent
 * now too.  r is copied. */
void monitor_hello(struct monitor_client *m, const struct monitor_report *r);
/* Queues r (a state, progress or log report) with the current time. */
void monitor_send(struct monitor_client *m, const struct monitor_report *r);
/* Lines sent, and dropped from a full queue, so far. */
void monitor_counts(struct monitor_client *m, long *sent, long *dropped);
/* Gives a connected client up to flush_ms to send what is queued, then
 * stops its thread and frees it.  Accepts NULL. */
void monitor_free(struct monitor_client *m, int flush_ms);

#endif
