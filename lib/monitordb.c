/* monitordb.c - see monitordb.h.  Times are seconds since 1970 (REAL) as
 * the monitor received the report; the node's own clock goes into
 * history.node_time. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "monitordb.h"
#include "util.h"

#define LOG_LINES_MAX 1000	/* per install: a chatty node fills no disk */

struct monitordb {
	sqlite3 *db;
	char *path;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS nodes ("
	" mac TEXT PRIMARY KEY, ip TEXT, hostname TEXT, image TEXT,"
	" version TEXT, status INTEGER, message TEXT, percent REAL,"
	" downloaded INTEGER, extracted INTEGER, total INTEGER,"
	" uploaded INTEGER, down_rate REAL, up_rate REAL, peers INTEGER,"
	" first_seen REAL NOT NULL, last_seen REAL NOT NULL,"
	" install_id INTEGER, stale INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS installs ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, mac TEXT NOT NULL,"
	" image TEXT, version TEXT, started REAL NOT NULL, ended REAL,"
	" result TEXT NOT NULL DEFAULT 'running', last_status INTEGER,"
	" log_lines INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS history ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, install_id INTEGER NOT NULL,"
	" mac TEXT NOT NULL, time REAL NOT NULL, node_time REAL,"
	" status INTEGER, message TEXT, downloaded INTEGER,"
	" extracted INTEGER);"
	"CREATE INDEX IF NOT EXISTS history_install ON history(install_id);"
	"CREATE TABLE IF NOT EXISTS logs ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, install_id INTEGER,"
	" mac TEXT NOT NULL, time REAL NOT NULL, level TEXT, text TEXT);"
	"CREATE INDEX IF NOT EXISTS logs_install ON logs(install_id);";

static int db_error(struct monitordb *db, const char *what)
{
	return error("cannot %s in '%s': %s", what, db->path,
		     sqlite3_errmsg(db->db));
}

static int exec(struct monitordb *db, const char *sql, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(db->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		error("cannot %s in '%s': %s", what, db->path,
		      msg ? msg : sqlite3_errmsg(db->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

struct monitordb *monitordb_open(const char *path, enum monitordb_mode mode)
{
	struct monitordb *db = xcalloc(1, sizeof(*db));
	int flags = mode == MONITORDB_WRITE ?
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE :
		SQLITE_OPEN_READONLY;

	db->path = xstrdup(path);
	if (sqlite3_open_v2(path, &db->db, flags | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		error("cannot open the database '%s': %s", path,
		      db->db ? sqlite3_errmsg(db->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db->db, 2000);
	if (mode == MONITORDB_WRITE &&
	    (exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
		  "turn on WAL") < 0 ||
	     exec(db, schema, "create the tables") < 0))
		goto fail;
	if (mode == MONITORDB_READ &&
	    exec(db, "SELECT 1 FROM nodes LIMIT 1;", "read the nodes") < 0)
		goto fail;
	return db;
fail:
	monitordb_close(db);
	return NULL;
}

void monitordb_close(struct monitordb *db)
{
	if (!db)
		return;
	sqlite3_close(db->db);
	free(db->path);
	free(db);
}

static sqlite3_stmt *prepare(struct monitordb *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_error(db, "prepare a statement");
		return NULL;
	}
	return st;
}

static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_ll(sqlite3_stmt *st, int i, long long v)
{
	if (v >= 0)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static void bind_dbl(sqlite3_stmt *st, int i, double v)
{
	if (v >= 0)
		sqlite3_bind_double(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

/* Steps st to its end and finalizes it.  Returns 0 or -1 (message). */
static int run(struct monitordb *db, sqlite3_stmt *st, const char *what)
{
	int rc;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_error(db, what);
}

/* What the database knows of a node before this report. */
struct before {
	int known;
	long long install_id;	/* 0: none */
	int status;		/* MONITOR_NO_STATUS: never said */
	char result[16];	/* the install's */
};

static int load_before(struct monitordb *db, const char *mac,
		       struct before *b)
{
	sqlite3_stmt *st = prepare(db, "SELECT n.install_id, n.status, "
				   "i.result FROM nodes n LEFT JOIN installs i "
				   "ON i.id = n.install_id WHERE n.mac = ?");
	int rc;

	memset(b, 0, sizeof(*b));
	b->status = MONITOR_NO_STATUS;
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, mac, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *res = sqlite3_column_text(st, 2);

		b->known = 1;
		b->install_id = sqlite3_column_int64(st, 0);
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			b->status = sqlite3_column_int(st, 1);
		snprintf(b->result, sizeof(b->result), "%s",
			 res ? (const char *)res : "");
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 :
		db_error(db, "read a node");
}

/* The node's row, with what r says of its identity and figures. */
static int upsert_node(struct monitordb *db, const struct monitor_report *r,
		       const char *mac, const char *peer, double now)
{
	sqlite3_stmt *st = prepare(db,
		"INSERT INTO nodes (mac, ip, hostname, image, version, "
		" down_rate, up_rate, peers, downloaded, extracted, total, "
		" uploaded, percent, first_seen, last_seen, stale) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
		" ?14, ?14, 0) ON CONFLICT(mac) DO UPDATE SET "
		" ip = coalesce(?2, ip), hostname = coalesce(?3, hostname),"
		" image = coalesce(?4, image), version = coalesce(?5, version),"
		" down_rate = coalesce(?6, down_rate),"
		" up_rate = coalesce(?7, up_rate), peers = coalesce(?8, peers),"
		" downloaded = coalesce(?9, downloaded),"
		" extracted = coalesce(?10, extracted),"
		" total = coalesce(?11, total),"
		" uploaded = coalesce(?12, uploaded),"
		" percent = coalesce(?13, percent),"
		" last_seen = ?14, stale = 0");

	if (!st)
		return -1;
	bind_str(st, 1, mac);
	bind_str(st, 2, r->ip ? r->ip : peer);
	bind_str(st, 3, r->hostname);
	bind_str(st, 4, r->image);
	bind_str(st, 5, r->version);
	bind_dbl(st, 6, r->down_rate);
	bind_dbl(st, 7, r->up_rate);
	bind_ll(st, 8, r->peers);
	bind_ll(st, 9, r->downloaded);
	bind_ll(st, 10, r->extracted);
	bind_ll(st, 11, r->total);
	bind_ll(st, 12, r->uploaded);
	bind_dbl(st, 13, r->percent);
	sqlite3_bind_double(st, 14, now);
	return run(db, st, "store a node");
}

/* Whether status starts a new install after what was before. */
static int starts_install(const struct before *b, int status)
{
	if (!b->install_id)
		return 1;
	if (status == MONITOR_ST_INIT)
		return b->status != MONITOR_ST_INIT;
	/* A percent again after the install ended: a new one. */
	return status > 0 && status < MONITOR_ST_IMAGED &&
	       strcmp(b->result, "running") && strcmp(b->result, "stale");
}

static int new_install(struct monitordb *db, const char *mac,
		       const struct monitor_report *r, double now,
		       long long *id)
{
	sqlite3_stmt *st = prepare(db, "INSERT INTO installs (mac, image, "
		"version, started) VALUES (?, (SELECT coalesce(?, image) FROM "
		"nodes WHERE mac = ?1), (SELECT coalesce(?, version) FROM "
		"nodes WHERE mac = ?1), ?)");

	if (!st)
		return -1;
	bind_str(st, 1, mac);
	bind_str(st, 2, r->image);
	bind_str(st, 3, r->version);
	sqlite3_bind_double(st, 4, now);
	if (run(db, st, "start an install") < 0)
		return -1;
	*id = sqlite3_last_insert_rowid(db->db);
	/* An install still running on the node ends: it started again. */
	st = prepare(db, "UPDATE installs SET result = 'restarted', ended = ? "
		     "WHERE mac = ? AND id != ? AND result IN ('running', "
		     "'stale')");
	if (!st)
		return -1;
	sqlite3_bind_double(st, 1, now);
	bind_str(st, 2, mac);
	sqlite3_bind_int64(st, 3, *id);
	if (run(db, st, "end an install") < 0)
		return -1;
	st = prepare(db, "UPDATE nodes SET install_id = ? WHERE mac = ?");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, *id);
	bind_str(st, 2, mac);
	return run(db, st, "start an install");
}

static int add_history(struct monitordb *db, long long id, const char *mac,
		       double now, const struct monitor_report *r,
		       const char *message)
{
	sqlite3_stmt *st = prepare(db, "INSERT INTO history (install_id, mac, "
		"time, node_time, status, message, downloaded, extracted) "
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?)");

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_str(st, 2, mac);
	sqlite3_bind_double(st, 3, now);
	bind_dbl(st, 4, r ? r->time : -1);
	if (r && r->status != MONITOR_NO_STATUS)
		sqlite3_bind_int(st, 5, r->status);
	else
		sqlite3_bind_null(st, 5);
	bind_str(st, 6, message);
	bind_ll(st, 7, r ? r->downloaded : -1);
	bind_ll(st, 8, r ? r->extracted : -1);
	return run(db, st, "add to the history");
}

/* A status: maybe a new install, the install's result, a history row. */
static int record_status(struct monitordb *db, const struct monitor_report *r,
			 const char *mac, const struct before *b, double now)
{
	long long id = b->install_id;
	int s = r->status, changed = s != b->status || s < 0;
	sqlite3_stmt *st;

	if (starts_install(b, s)) {
		if (new_install(db, mac, r, now, &id) < 0)
			return -1;
		changed = 1;
	}
	st = prepare(db, "UPDATE installs SET last_status = ?1, "
		"image = coalesce(?3, image), version = coalesce(?4, version), "
		"result = CASE WHEN ?1 < 0 THEN 'failed' "
		" WHEN ?1 >= 100 AND result IN ('running', 'stale') THEN 'imaged' "
		" WHEN result = 'stale' THEN 'running' ELSE result END, "
		"ended = CASE WHEN (?1 < 0 OR ?1 >= 100) AND ended IS NULL "
		" THEN ?2 ELSE ended END WHERE id = ?5");
	if (!st)
		return -1;
	sqlite3_bind_int(st, 1, s);
	sqlite3_bind_double(st, 2, now);
	bind_str(st, 3, r->image);
	bind_str(st, 4, r->version);
	sqlite3_bind_int64(st, 5, id);
	if (run(db, st, "update an install") < 0)
		return -1;
	st = prepare(db, "UPDATE nodes SET status = ?1, message = ?2, "
		     "percent = CASE WHEN ?1 >= 100 THEN 100 WHEN ?1 > 0 "
		     "THEN coalesce(?3, ?1) WHEN ?1 = 0 THEN 0 ELSE percent END "
		     "WHERE mac = ?4");
	if (!st)
		return -1;
	sqlite3_bind_int(st, 1, s);
	bind_str(st, 2, s < 0 ? r->message : NULL);
	bind_dbl(st, 3, r->percent);
	bind_str(st, 4, mac);
	if (run(db, st, "update a node") < 0)
		return -1;
	return changed ? add_history(db, id, mac, now, r, r->message) : 0;
}

static int record_log(struct monitordb *db, const struct monitor_report *r,
		      const char *mac, const struct before *b, double now)
{
	sqlite3_stmt *st = prepare(db, "INSERT INTO logs (install_id, mac, "
		"time, level, text) SELECT ?1, ?2, ?3, ?4, ?5 WHERE "
		"coalesce((SELECT log_lines FROM installs WHERE id = ?1), 0) < ?6");

	if (!st)
		return -1;
	if (b->install_id)
		sqlite3_bind_int64(st, 1, b->install_id);
	else
		sqlite3_bind_null(st, 1);
	bind_str(st, 2, mac);
	sqlite3_bind_double(st, 3, now);
	bind_str(st, 4, r->level);
	bind_str(st, 5, r->text);
	sqlite3_bind_int(st, 6, LOG_LINES_MAX);
	if (run(db, st, "add a log line") < 0)
		return -1;
	if (!b->install_id)
		return 0;
	st = prepare(db, "UPDATE installs SET log_lines = log_lines + 1 "
		     "WHERE id = ?");
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, b->install_id);
	return run(db, st, "count a log line");
}

int monitordb_record(struct monitordb *db, const struct monitor_report *r,
		     const char *peer, double now)
{
	struct before b;
	const char *mac = r->mac;
	int ret;

	if (!mac[0])
		return error("a report without a MAC address (no hello)");
	if (exec(db, "BEGIN IMMEDIATE", "begin a transaction") < 0)
		return -1;
	ret = load_before(db, mac, &b);
	if (!ret)
		ret = upsert_node(db, r, mac, peer, now);
	if (!ret && b.install_id && !strcmp(b.result, "stale") &&
	    r->status == MONITOR_NO_STATUS) {
		sqlite3_stmt *st = prepare(db, "UPDATE installs SET result = "
					   "'running' WHERE id = ?");
		if (st)
			sqlite3_bind_int64(st, 1, b.install_id);
		ret = run(db, st, "update an install");
	}
	if (!ret && r->status != MONITOR_NO_STATUS)
		ret = record_status(db, r, mac, &b, now);
	if (!ret && r->type == MONITOR_LOG)
		ret = record_log(db, r, mac, &b, now);
	if (ret < 0) {
		exec(db, "ROLLBACK", "roll back");
		return -1;
	}
	return exec(db, "COMMIT", "commit a report");
}

int monitordb_mark_stale(struct monitordb *db, double now, double timeout,
			 int *marked)
{
	sqlite3_stmt *st;
	int ret;

	*marked = 0;
	if (exec(db, "BEGIN IMMEDIATE", "begin a transaction") < 0)
		return -1;
	st = prepare(db, "INSERT INTO history (install_id, mac, time, message) "
		"SELECT n.install_id, n.mac, ?1, 'stale: no report for ' || "
		"CAST(CAST(?1 - n.last_seen AS INTEGER) AS TEXT) || ' s' "
		"FROM nodes n JOIN installs i ON i.id = n.install_id "
		"WHERE i.result = 'running' AND n.last_seen < ?1 - ?2");
	if (st) {
		sqlite3_bind_double(st, 1, now);
		sqlite3_bind_double(st, 2, timeout);
	}
	ret = run(db, st, "mark installs stale");
	*marked = ret ? 0 : sqlite3_changes(db->db);
	if (!ret && *marked) {
		st = prepare(db, "UPDATE installs SET result = 'stale' WHERE "
			"result = 'running' AND id IN (SELECT install_id FROM "
			"nodes WHERE last_seen < ?1 - ?2)");
		if (st) {
			sqlite3_bind_double(st, 1, now);
			sqlite3_bind_double(st, 2, timeout);
		}
		ret = run(db, st, "mark installs stale");
	}
	if (!ret && *marked)
		ret = exec(db, "UPDATE nodes SET stale = 1 WHERE install_id IN "
			   "(SELECT id FROM installs WHERE result = 'stale')",
			   "mark nodes stale");
	if (ret < 0) {
		exec(db, "ROLLBACK", "roll back");
		return -1;
	}
	return exec(db, "COMMIT", "commit");
}

static char *col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? xstrdup((const char *)s) : NULL;
}

static double col_dbl(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 :
		sqlite3_column_double(st, i);
}

static long long col_ll(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 :
		sqlite3_column_int64(st, i);
}

static void read_node(sqlite3_stmt *st, struct monitordb_node *n)
{
	n->mac = col_str(st, 0);
	n->ip = col_str(st, 1);
	n->hostname = col_str(st, 2);
	n->image = col_str(st, 3);
	n->version = col_str(st, 4);
	n->status = sqlite3_column_type(st, 5) == SQLITE_NULL ?
		MONITOR_NO_STATUS : sqlite3_column_int(st, 5);
	n->message = col_str(st, 6);
	n->percent = col_dbl(st, 7);
	n->downloaded = col_ll(st, 8);
	n->extracted = col_ll(st, 9);
	n->total = col_ll(st, 10);
	n->uploaded = col_ll(st, 11);
	n->down_rate = col_dbl(st, 12);
	n->up_rate = col_dbl(st, 13);
	n->peers = (long)col_ll(st, 14);
	n->first_seen = col_dbl(st, 15);
	n->last_seen = col_dbl(st, 16);
	n->stale = sqlite3_column_int(st, 17);
	n->result = col_str(st, 18);
	n->started = col_dbl(st, 19);
	n->installs = sqlite3_column_int64(st, 20);
}

int monitordb_nodes(struct monitordb *db, struct monitordb_node **v,
		    size_t *n)
{
	sqlite3_stmt *st = prepare(db, "SELECT n.mac, n.ip, n.hostname, "
		"n.image, n.version, n.status, n.message, n.percent, "
		"n.downloaded, n.extracted, n.total, n.uploaded, n.down_rate, "
		"n.up_rate, n.peers, n.first_seen, n.last_seen, n.stale, "
		"i.result, i.started, (SELECT count(*) FROM installs WHERE "
		"mac = n.mac) FROM nodes n LEFT JOIN installs i ON "
		"i.id = n.install_id ORDER BY CASE WHEN n.status < 0 OR "
		"i.result = 'failed' THEN 0 WHEN n.stale THEN 1 ELSE 2 END, "
		"n.hostname, n.mac");
	int rc;

	*v = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		read_node(st, &(*v)[(*n)++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		monitordb_nodes_free(*v, *n);
		*v = NULL;
		*n = 0;
		return db_error(db, "read the nodes");
	}
	return 0;
}

void monitordb_nodes_free(struct monitordb_node *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].mac); free(v[i].ip); free(v[i].hostname);
		free(v[i].image); free(v[i].version); free(v[i].message);
		free(v[i].result);
	}
	free(v);
}
