/* port.h - TCP/UDP ports of the servers we run: is one free, pick a free
 * one, does one accept connections.  Addresses are numeric IPv4 or IPv6;
 * a wildcard address (0.0.0.0, ::) is probed through loopback.
 */
#ifndef SI_PORT_H
#define SI_PORT_H

#include <stddef.h>

enum port_proto {
	PORT_TCP = 1 << 0,
	PORT_UDP = 1 << 1,
};

/* Checks that port can be bound on addr for each protocol in protos (TCP
 * with SO_REUSEADDR, as servers do).  Returns 0, or -1 with the message
 * "cannot listen on WHAT port ADDR:PORT: reason". */
int port_check_free(const char *what, const char *addr, int port,
		    unsigned protos);

/* Returns a port that the system reports free on addr for every protocol
 * in protos, or -1 with a message.  Another process may take it before we
 * do; callers check again when they bind. */
int port_pick(const char *what, const char *addr, unsigned protos);

/* Returns 1 when a TCP connection to addr:port succeeds within timeout_ms,
 * else 0. */
int port_accepts(const char *addr, int port, int timeout_ms);

/* Formats "ADDR:PORT" (IPv6 as "[ADDR]:PORT") into buf.  Returns buf. */
char *port_format(char *buf, size_t size, const char *addr, int port);

/* Returns 0 when addr is a numeric IPv4 or IPv6 address, else -1 (no
 * message). */
int port_parse_addr(const char *addr);

#endif
