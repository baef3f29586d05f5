/* si_monitor - where the nodes report their installs: a daemon storing
 * every node, install and status change in SQLite (lib/monitordb.c), fed
 * by si_boel's JSON lines (lib/monitor_proto.h, MONITOR_PORT) and by
 * SystemImager 4's one-line reports (MONITOR_LEGACY_PORT); and, with
 * --status, the table of the nodes, once or following.
 *
 * One thread, one poll() loop over the two listeners and every
 * connection.  Bad input is refused with a logged line and never stops
 * the daemon: a malformed or unknown report is skipped, a line longer
 * than MONITOR_MAX_LINE drops its connection, an address with too many
 * connections gets no more.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "monitor_proto.h"
#include "monitor_view.h"
#include "monitordb.h"
#include "opts.h"
#include "paths.h"
#include "port.h"
#include "util.h"

#define DEFAULT_STALE 120	/* s without a report: a running install is stale */
#define DEFAULT_PER_ADDRESS 16	/* connections from one address */
#define DEFAULT_MAX_CONNS 4096
#define REFUSALS_LOGGED 5	/* a connection's refusals logged in full */
#define REFUSALS_MAX 100	/* then it is dropped */

struct options {
	char *base, *database, *address, *port, *legacy_port;
	double stale_timeout, interval;
	int per_address, max_conns;
	int status, follow, json;
};

enum conn_kind { CONN_JSON, CONN_LEGACY };

struct conn {
	int fd;
	enum conn_kind kind;
	char peer[INET6_ADDRSTRLEN];
	char *buf;
	size_t len;
	char mac[18];		/* from the connection's hello */
	int refusals;
};

struct monitor {
	const struct options *o;
	struct monitordb *db;
	char *db_path;
	int listen_fd[2];	/* CONN_JSON, CONN_LEGACY; -1 when off */
	struct conn *c;
	size_t n;
	long reports, refused;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void setup_signals(void)
{
	daemon_signals(on_signal, 0);
}

static double wall_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --- listening --------------------------------------------------------- */

/* A non-blocking listener on address:port (port "0": any).  Returns the
 * socket and the port it got in *bound, or -1 with a message. */
static int listen_on(const char *address, const char *port, int *bound)
{
	struct sockaddr_storage ss;
	socklen_t len;
	long p;
	int fd, one = 1;

	if (parse_long(port, 0, 65535, &p) < 0)
		return error("invalid port '%s'", port);
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, address, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)p);
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, address,
			     &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)p);
		len = sizeof(struct sockaddr_in6);
	} else {
		return error("invalid address '%s' (a numeric IPv4 or IPv6 "
			     "address)", address);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_errno("cannot make a socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 512) < 0) {
		error_errno("cannot listen on %s:%s", address, port);
		close(fd);
		return -1;
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*bound = ntohs(ss.ss_family == AF_INET ?
		       ((struct sockaddr_in *)&ss)->sin_port :
		       ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static void peer_name(const struct sockaddr_storage *ss, char *buf,
		      size_t size)
{
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
			  buf, size);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr,
			  buf, size);
	else
		snprintf(buf, size, "?");
}

static size_t conns_from(const struct monitor *m, const char *peer)
{
	size_t k = 0;

	for (size_t i = 0; i < m->n; i++)
		k += !strcmp(m->c[i].peer, peer);
	return k;
}

static void accept_all(struct monitor *m, enum conn_kind kind)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char peer[INET6_ADDRSTRLEN];
		int fd = accept4(m->listen_fd[kind], (struct sockaddr *)&ss,
				 &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				warning_errno("cannot accept a connection");
			return;
		}
		peer_name(&ss, peer, sizeof(peer));
		if (m->n >= (size_t)m->o->max_conns ||
		    conns_from(m, peer) >= (size_t)m->o->per_address) {
			warning("refused a connection from %s: %s", peer,
				m->n >= (size_t)m->o->max_conns ?
				"too many connections" :
				"too many connections from this address");
			m->refused++;
			close(fd);
			continue;
		}
		m->c = xrealloc(m->c, (m->n + 1) * sizeof(*m->c));
		m->c[m->n] = (struct conn){ .fd = fd, .kind = kind };
		m->c[m->n].buf = xmalloc(MONITOR_MAX_LINE);
		snprintf(m->c[m->n].peer, sizeof(m->c[m->n].peer), "%s", peer);
		m->n++;
		verbose("connection from %s (%s)", peer,
			kind == CONN_JSON ? "JSON" : "SystemImager lines");
	}
}

/* --- reports ----------------------------------------------------------- */

/* The start of line, printable, for a refusal's message. */
static void excerpt(const char *line, char *buf, size_t size)
{
	size_t n = 0;

	for (; *line && n + 5 < size; line++)
		buf[n++] = *line >= 0x20 && *line < 0x7f ? *line : '?';
	if (*line) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
}

static void refuse(struct monitor *m, struct conn *c, const char *why,
		   const char *line)
{
	char ex[64] = "";

	m->refused++;
	if (line)
		excerpt(line, ex, sizeof(ex));
	if (++c->refusals <= REFUSALS_LOGGED)
		warning("refused a report from %s: %s%s%s%s", c->peer, why,
			line ? " ('" : "", ex, line ? "')" : "");
	else if (c->refusals == REFUSALS_LOGGED + 1)
		warning("refused more reports from %s: not logged any more",
			c->peer);
}

/* One line of a connection (without its newline, NUL-terminated). */
static void handle_line(struct monitor *m, struct conn *c, char *line,
			size_t len)
{
	struct monitor_report r;
	char err[256];
	int ret;

	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	if (!len)
		return;
	if (memchr(line, '\0', len)) {
		refuse(m, c, "a NUL byte in the line", NULL);
		return;
	}
	ret = c->kind == CONN_JSON ?
		monitor_parse_json(line, len, &r, err, sizeof(err)) :
		monitor_parse_legacy(line, &r, err, sizeof(err));
	if (ret == 0 && c->kind == CONN_JSON) {
		if (r.type == MONITOR_HELLO && !r.mac[0]) {
			snprintf(err, sizeof(err), "a hello without 'mac'");
			ret = -1;
		} else if (r.type == MONITOR_HELLO) {
			memcpy(c->mac, r.mac, sizeof(c->mac));
		} else if (!r.mac[0] && c->mac[0]) {
			memcpy(r.mac, c->mac, sizeof(r.mac));
		} else if (c->mac[0] && strcmp(r.mac, c->mac)) {
			snprintf(err, sizeof(err), "MAC %s on the connection "
				 "of %s", r.mac, c->mac);
			ret = -1;
		} else if (!r.mac[0]) {
			snprintf(err, sizeof(err), "no 'mac' and no hello "
				 "before");
			ret = -1;
		}
	}
	if (ret < 0)
		refuse(m, c, err, line);
	else if (monitordb_record(m->db, &r, c->peer, wall_time()) < 0)
		m->refused++;	/* the database said why */
	else
		m->reports++;
	monitor_report_release(&r);
}

static void drop(struct monitor *m, size_t i)
{
	close(m->c[i].fd);
	free(m->c[i].buf);
	m->c[i] = m->c[--m->n];
}

/* Reads what connection i has; returns -1 when it is to be dropped. */
static int read_conn(struct monitor *m, size_t i)
{
	struct conn *c = &m->c[i];

	for (;;) {
		ssize_t n = read(c->fd, c->buf + c->len,
				 MONITOR_MAX_LINE - 1 - c->len);
		char *nl, *start;

		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ||
			       errno == EINTR ? 0 : -1;
		c->len += (size_t)n;
		start = c->buf;
		while ((nl = memchr(start, '\n', c->len - (size_t)(start - c->buf)))) {
			*nl = '\0';
			handle_line(m, c, start, (size_t)(nl - start));
			start = nl + 1;
		}
		c->len -= (size_t)(start - c->buf);
		memmove(c->buf, start, c->len);
		if (c->len >= MONITOR_MAX_LINE - 1) {
			refuse(m, c, "a line longer than 64 KiB: connection "
			       "dropped", NULL);
			return -1;
		}
		if (c->refusals >= REFUSALS_MAX) {
			warning("dropped the connection of %s: %d refused "
				"reports", c->peer, c->refusals);
			return -1;
		}
	}
}

static void check_stale(struct monitor *m)
{
	int marked;

	if (monitordb_mark_stale(m->db, wall_time(), m->o->stale_timeout,
				 &marked) == 0 && marked)
		notice("%d install%s stale: no report for %.0f s", marked,
		       marked == 1 ? "" : "s", m->o->stale_timeout);
}

static void serve(struct monitor *m)
{
	struct pollfd *p = NULL;
	double next_stale = 0;

	while (!stop_signal) {
		size_t np = 0, nl;
		int n;

		p = xrealloc(p, (m->n + 2) * sizeof(*p));
		for (int k = 0; k < 2; k++)
			if (m->listen_fd[k] >= 0)
				p[np++] = (struct pollfd){ m->listen_fd[k], POLLIN, 0 };
		nl = np;
		for (size_t i = 0; i < m->n; i++)
			p[np++] = (struct pollfd){ m->c[i].fd, POLLIN, 0 };
		n = poll(p, np, 1000);
		if (n < 0 && errno != EINTR) {
			error_errno("cannot poll");
			break;
		}
		if (now_monotonic() >= next_stale) {
			check_stale(m);
			next_stale = now_monotonic() + 1;
		}
		if (n <= 0)
			continue;
		/* Connections from the last: drop() moves the last one into
		 * the slot it empties, which is done already. */
		for (size_t k = np; k-- > nl;) {
			if (!p[k].revents)
				continue;
			if (read_conn(m, k - nl) < 0) {
				verbose("connection from %s closed",
					m->c[k - nl].peer);
				drop(m, k - nl);
			}
		}
		for (size_t k = 0; k < nl; k++)
			for (int kind = 0; kind < 2; kind++)
				if (p[k].fd == m->listen_fd[kind] && p[k].revents)
					accept_all(m, (enum conn_kind)kind);
	}
	free(p);
}

/* --- the status view --------------------------------------------------- */

static int print_status(const struct options *o, const char *path)
{
	struct monitordb *db = monitordb_open(path, MONITORDB_READ);
	struct monitordb_node *v;
	size_t n;
	char *text;

	if (!db)
		return -1;
	if (monitordb_nodes(db, &v, &n) < 0) {
		monitordb_close(db);
		return -1;
	}
	text = o->json ? monitor_view_json(v, n, wall_time()) :
		monitor_view_table(v, n, wall_time());
	fputs(text, stdout);
	free(text);
	monitordb_nodes_free(v, n);
	monitordb_close(db);
	return 0;
}

static int follow(const struct options *o, const char *path)
{
	while (!stop_signal) {
		struct timespec ts;
		time_t t = time(NULL);
		char when[64];

		strftime(when, sizeof(when), "%F %T", localtime(&t));
		if (!o->json)
			printf("\033[H\033[2J%s  si_monitor --follow, every %g s\n",
			       when, o->interval);
		if (print_status(o, path) < 0)
			return -1;
		if (log_flush_stdout() < 0)
			return -1;
		ts.tv_sec = (time_t)o->interval;
		ts.tv_nsec = (long)((o->interval - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* --- options and main -------------------------------------------------- */

static char *database_path(const struct options *o)
{
	struct si_paths p;
	char *path, *dir;

	if (o->database)
		return xstrdup(o->database);
	paths_init(&p, o->base, NULL);
	dir = path_join(p.base, "monitor");
	path = path_join(dir, "monitor.db");
	free(dir);
	paths_release(&p);
	return path;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int start(struct monitor *m, const struct options *o)
{
	const char *ports[2] = { o->port, o->legacy_port };
	int bound[2] = { 0, 0 };
	char *dir, *slash;

	memset(m, 0, sizeof(*m));
	m->o = o;
	m->listen_fd[0] = m->listen_fd[1] = -1;
	m->db_path = database_path(o);
	dir = xstrdup(m->db_path);
	if ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		if (mkdir_p(dir, 0755) < 0) {
			free(dir);
			return -1;
		}
	}
	free(dir);
	m->db = monitordb_open(m->db_path, MONITORDB_WRITE);
	if (!m->db)
		return -1;
	raise_fd_limit();
	for (int k = 0; k < 2; k++)
		if (strcmp(ports[k], "off") &&
		    (m->listen_fd[k] = listen_on(o->address, ports[k],
						 &bound[k])) < 0)
			return -1;
	printf("si_monitor: ready: JSON reports on %s:%d, SystemImager lines "
	       "on %s:%d, database %s\n", o->address, bound[0], o->address,
	       bound[1], m->db_path);
	fflush(stdout);
	return 0;
}

static void release(struct monitor *m)
{
	while (m->n)
		drop(m, m->n - 1);
	free(m->c);
	for (int k = 0; k < 2; k++)
		if (m->listen_fd[k] >= 0)
			close(m->listen_fd[k]);
	monitordb_close(m->db);
	free(m->db_path);
}

static int daemon_main(const struct options *o)
{
	struct monitor m;
	int ret = start(&m, o);

	if (ret == 0) {
		serve(&m);
		notice("stopping on signal %d: %ld reports stored, %ld refused",
		       (int)stop_signal, m.reports, m.refused);
	}
	release(&m);
	return ret;
}

int main(int argc, const char **argv)
{
	struct options o = { .stale_timeout = DEFAULT_STALE, .interval = 2,
			     .per_address = DEFAULT_PER_ADDRESS,
			     .max_conns = DEFAULT_MAX_CONNS };
	struct poptOption table[] = {
		OPTS_BASE(o.base),
		{ "database", 'd', POPT_ARG_STRING, &o.database, 0,
		  "the SQLite database (default BASE/monitor/monitor.db)", "FILE" },
		{ "address", 'a', POPT_ARG_STRING, &o.address, 0,
		  "listen on this address (default 0.0.0.0: all)", "IP" },
		{ "port", 'p', POPT_ARG_STRING, &o.port, 0,
		  "port of the JSON reports (8182; 0 any)", "PORT" },
		{ "legacy-port", '\0', POPT_ARG_STRING, &o.legacy_port, 0,
		  "port of SystemImager 4's lines (8181; off: none)", "PORT" },
		{ "stale-timeout", '\0', POPT_ARG_DOUBLE, &o.stale_timeout, 0,
		  "a running install without reports for S s is stale (120)", "S" },
		{ "max-per-address", '\0', POPT_ARG_INT, &o.per_address, 0,
		  "connections one address may hold (16)", "N" },
		{ "max-connections", '\0', POPT_ARG_INT, &o.max_conns, 0,
		  "connections in all (4096)", "N" },
		{ "status", 's', POPT_ARG_NONE, &o.status, 0,
		  "print the nodes from the database and exit", NULL },
		{ "follow", 'f', POPT_ARG_NONE, &o.follow, 0,
		  "print the nodes every --interval seconds, like watch", NULL },
		{ "interval", '\0', POPT_ARG_DOUBLE, &o.interval, 0,
		  "seconds between --follow's tables (2)", "S" },
		{ "json", '\0', POPT_ARG_NONE, &o.json, 0,
		  "--status and --follow print JSON", NULL },
		OPTS_COMMON,
		POPT_TABLEEND
	};
	poptContext con;
	int ret;

	log_init(argv[0]);
	con = opts_parse(argc, argv, table, "[--status|--follow [--json]] "
			 "[OPTION...]", 0, NULL, NULL);
	if (o.stale_timeout <= 0 || o.interval <= 0 || o.per_address < 1 ||
	    o.max_conns < 1)
		opts_usage_error(con, "--stale-timeout, --interval, "
				 "--max-per-address and --max-connections "
				 "must be positive");
	if (!o.address)
		o.address = xstrdup("0.0.0.0");
	if (!o.port)
		o.port = xasprintf("%d", MONITOR_PORT);
	if (!o.legacy_port)
		o.legacy_port = xasprintf("%d", MONITOR_LEGACY_PORT);
	if (port_parse_addr(o.address) < 0)
		opts_usage_error(con, "invalid address '%s' (a numeric IPv4 "
				 "or IPv6 address)", o.address);
	setup_signals();
	if (o.status || o.follow) {
		char *path = database_path(&o);

		ret = o.follow ? follow(&o, path) : print_status(&o, path);
		free(path);
	} else {
		log_set_timestamps(1);
		ret = daemon_main(&o);
	}
	poptFreeContext(con);
	free(o.base); free(o.database); free(o.address); free(o.port);
	free(o.legacy_port);
	if (log_flush_stdout() < 0)
		ret = -1;
	return ret < 0 ? 1 : 0;
}
