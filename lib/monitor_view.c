/* monitor_view.c - see monitor_view.h */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "monitor_view.h"
#include "util.h"

/* The state column: "FAILED(-1)", "STALE 42%", "imaged", "42%". */
static void state(const struct monitordb_node *n, char *buf, size_t size)
{
	char st[32];

	monitor_status_name(n->status, st, sizeof(st));
	if (n->status < 0 && n->status != MONITOR_NO_STATUS)
		snprintf(buf, size, "FAILED(%d)", n->status);
	else if (n->stale)
		snprintf(buf, size, "STALE %s", st);
	else
		snprintf(buf, size, "%s", st);
}

static void rate(double r, char *buf, size_t size)
{
	if (r < 0) {
		snprintf(buf, size, "-");
		return;
	}
	human_bytes(buf, size, r);
	strncat(buf, "/s", size - strlen(buf) - 1);
}

static void age(double secs, char *buf, size_t size)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		snprintf(buf, size, "%.0fs", secs);
	else if (secs < 7200)
		snprintf(buf, size, "%.0fm", secs / 60);
	else
		snprintf(buf, size, "%.0fh", secs / 3600);
}

char *monitor_view_table(const struct monitordb_node *v, size_t n,
			 double now)
{
	char *out = NULL;
	size_t len = 0, failed = 0, stale = 0, done = 0;

	xappendf(&out, &len, "%-16s %-17s %-15s %-16s %-14s %10s %10s %5s %5s  %s\n",
	       "HOST", "MAC", "IP", "IMAGE", "STATE", "DOWN", "UP", "PEERS",
	       "AGE", "MESSAGE");
	for (size_t i = 0; i < n; i++) {
		const struct monitordb_node *x = &v[i];
		char st[48], down[32], up[32], ag[16], peers[16];

		state(x, st, sizeof(st));
		rate(x->down_rate, down, sizeof(down));
		rate(x->up_rate, up, sizeof(up));
		age(now - x->last_seen, ag, sizeof(ag));
		snprintf(peers, sizeof(peers), x->peers >= 0 ? "%ld" : "-",
			 x->peers);
		failed += x->status < 0 && x->status != MONITOR_NO_STATUS;
		stale += x->stale;
		done += x->status >= MONITOR_ST_IMAGED;
		xappendf(&out, &len, "%-16s %-17s %-15s %-16s %-14s %10s %10s "
		       "%5s %5s  %s\n", x->hostname ? x->hostname : "-",
		       x->mac, x->ip ? x->ip : "-", x->image ? x->image : "-",
		       st, down, up, peers, ag, x->message ? x->message : "");
	}
	xappendf(&out, &len, "%zu nodes: %zu imaged or later, %zu failed, "
	       "%zu stale\n", n, done, failed, stale);
	return out;
}

static void num_or_null(struct json_out *j, const char *key, double v)
{
	if (v >= 0)
		json_out_num(j, key, v);
	else
		json_out_str(j, key, NULL);
}

char *monitor_view_json(const struct monitordb_node *v, size_t n,
			double now)
{
	char *out = NULL;
	size_t len = 0;

	xappendf(&out, &len, "[");
	for (size_t i = 0; i < n; i++) {
		const struct monitordb_node *x = &v[i];
		struct json_out j;
		char st[32];

		json_out_init(&j);
		json_out_str(&j, "mac", x->mac);
		json_out_str(&j, "hostname", x->hostname);
		json_out_str(&j, "ip", x->ip);
		json_out_str(&j, "image", x->image);
		json_out_str(&j, "version", x->version);
		if (x->status != MONITOR_NO_STATUS)
			json_out_int(&j, "status", x->status);
		else
			json_out_str(&j, "status", NULL);
		json_out_str(&j, "state", monitor_status_name(x->status, st,
							      sizeof(st)));
		json_out_str(&j, "message", x->message);
		json_out_str(&j, "result", x->result);
		json_out_int(&j, "stale", x->stale);
		num_or_null(&j, "percent", x->percent);
		num_or_null(&j, "downloaded", (double)x->downloaded);
		num_or_null(&j, "extracted", (double)x->extracted);
		num_or_null(&j, "total", (double)x->total);
		num_or_null(&j, "uploaded", (double)x->uploaded);
		num_or_null(&j, "down_rate", x->down_rate);
		num_or_null(&j, "up_rate", x->up_rate);
		num_or_null(&j, "peers", (double)x->peers);
		num_or_null(&j, "first_seen", x->first_seen);
		num_or_null(&j, "last_seen", x->last_seen);
		num_or_null(&j, "age", now - x->last_seen);
		num_or_null(&j, "started", x->started);
		json_out_int(&j, "installs", x->installs);
		xappendf(&out, &len, "%s%s", i ? ",\n" : "\n", json_out_end(&j));
		json_out_release(&j);
	}
	xappendf(&out, &len, "%s]\n", n ? "\n" : "");
	return out;
}
