/* monitor_proto.h - what nodes tell si_monitor, on the wire: one JSON
 * object a line (docs/monitor-protocol.md, port MONITOR_PORT) and
 * SystemImager 4's "mac=..:ip=..:status=N:speed=KBps" lines (port
 * MONITOR_LEGACY_PORT), both parsed into one struct monitor_report.
 * Writing the JSON lines is here too, so both ends share the names.
 */
#ifndef SI_MONITOR_PROTO_H
#define SI_MONITOR_PROTO_H

#include "json.h"

#define MONITOR_PORT 8182		/* the JSON protocol */
#define MONITOR_LEGACY_PORT 8181	/* SystemImager 4's lines */
#define MONITOR_PROTO_VERSION 1
/* Longest line either side accepts: a longer one drops the connection. */
#define MONITOR_MAX_LINE 65536

/* SystemImager's status codes, and ours (106-109). */
enum monitor_status {
	MONITOR_ST_FAILED = -1,		/* any negative value */
	MONITOR_ST_INIT = 0,		/* 1-99: percent downloaded */
	MONITOR_ST_IMAGED = 100,
	MONITOR_ST_FINALIZING = 101,
	MONITOR_ST_REBOOTED = 102,
	MONITOR_ST_BEEPING = 103,
	MONITOR_ST_REBOOTING = 104,
	MONITOR_ST_SHUTDOWN = 105,
	MONITOR_ST_SHELL = 106,
	MONITOR_ST_EXTRACTING = 107,
	MONITOR_ST_PREINSTALL = 108,
	MONITOR_ST_POSTINSTALL = 109,
	MONITOR_ST_MIN = -999,
	MONITOR_ST_MAX = 109,
};

enum monitor_type {
	MONITOR_HELLO = 1,	/* who the node is; first on a connection */
	MONITOR_STATE,		/* a status change */
	MONITOR_PROGRESS,	/* the download's figures */
	MONITOR_LOG,		/* one of the node's log lines */
	MONITOR_LEGACY,		/* a SystemImager 4 line: identity + status */
};

/* Numbers a report may leave out are -1. */
struct monitor_report {
	enum monitor_type type;
	char mac[18];		/* lower case, "" when the line has none */
	char *ip, *hostname, *image, *version, *message, *level, *text;
	int status;		/* -1000 when absent */
	double time;		/* the node's clock (s since 1970), -1 */
	double percent;
	long long downloaded, extracted, total, uploaded;
	double down_rate, up_rate;	/* bytes/s */
	long peers;
};
#define MONITOR_NO_STATUS (-1000)

/* The name of a status ("imaged", "42%", "failed"), in buf. */
const char *monitor_status_name(int status, char *buf, size_t size);

/* Parses one JSON line (without its newline).  Unknown members are
 * ignored; a known member of the wrong type, a bad MAC, a status out of
 * MONITOR_ST_MIN..MAX or an unknown type is refused.  Strings are cut at
 * 255 bytes (message, text at 4096).  Returns 0, or -1 with the reason in
 * err.  r is released with monitor_report_release() in both cases. */
int monitor_parse_json(const char *line, size_t len,
		       struct monitor_report *r, char *err, size_t errlen);
/* Parses one SystemImager 4 line: key=value fields separated by ':'
 * (a MAC's own colons stay in its value).  mac and status are needed;
 * host, ip, os (the image) and speed (KB/s) are kept.  Returns 0 or -1
 * with the reason in err. */
int monitor_parse_legacy(const char *line, struct monitor_report *r,
			 char *err, size_t errlen);
void monitor_report_init(struct monitor_report *r);
void monitor_report_release(struct monitor_report *r);

/* The JSON line (no newline) for r, as a node sends it; the members with
 * a value only.  The caller frees it. */
char *monitor_format(const struct monitor_report *r);

#endif
