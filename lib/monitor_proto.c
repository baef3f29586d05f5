/* monitor_proto.c - see monitor_proto.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor_proto.h"
#include "netif.h"
#include "util.h"

#define SHORT_MAX 255
#define LONG_MAX_TEXT 4096

static const char *type_names[] = {
	[MONITOR_HELLO] = "hello", [MONITOR_STATE] = "state",
	[MONITOR_PROGRESS] = "progress", [MONITOR_LOG] = "log",
	[MONITOR_LEGACY] = "legacy",
};

const char *monitor_status_name(int status, char *buf, size_t size)
{
	static const char *names[] = {
		"imaged", "finalizing", "rebooted", "beeping", "rebooting",
		"shutdown", "shell", "extracting", "preinstall", "postinstall",
	};

	if (status == MONITOR_NO_STATUS)
		snprintf(buf, size, "-");
	else if (status < 0)
		snprintf(buf, size, "failed(%d)", status);
	else if (status == 0)
		snprintf(buf, size, "init");
	else if (status < 100)
		snprintf(buf, size, "%d%%", status);
	else if (status <= MONITOR_ST_MAX)
		snprintf(buf, size, "%s", names[status - 100]);
	else
		snprintf(buf, size, "status %d", status);
	return buf;
}

void monitor_report_init(struct monitor_report *r)
{
	memset(r, 0, sizeof(*r));
	r->status = MONITOR_NO_STATUS;
	r->time = r->percent = r->down_rate = r->up_rate = -1;
	r->downloaded = r->extracted = r->total = r->uploaded = -1;
	r->peers = -1;
}

void monitor_report_release(struct monitor_report *r)
{
	if (!r)
		return;
	free(r->ip); free(r->hostname); free(r->image); free(r->version);
	free(r->message); free(r->level); free(r->text);
	monitor_report_init(r);
}

/* A copy of s cut at max bytes (not inside a UTF-8 sequence). */
static char *cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	char *c = xmalloc(n + 1);

	memcpy(c, s, n);
	c[n] = '\0';
	return c;
}

static int refuse(char *err, size_t errlen, const char *what, const char *key)
{
	snprintf(err, errlen, "%s '%s'", what, key);
	return -1;
}

static const struct { const char *key; size_t off, max; } str_fields[] = {
	{ "ip", offsetof(struct monitor_report, ip), SHORT_MAX },
	{ "hostname", offsetof(struct monitor_report, hostname), SHORT_MAX },
	{ "image", offsetof(struct monitor_report, image), SHORT_MAX },
	{ "version", offsetof(struct monitor_report, version), SHORT_MAX },
	{ "message", offsetof(struct monitor_report, message), LONG_MAX_TEXT },
	{ "level", offsetof(struct monitor_report, level), SHORT_MAX },
	{ "text", offsetof(struct monitor_report, text), LONG_MAX_TEXT },
};

static const struct { const char *key; size_t off; int is_ll; } num_fields[] = {
	{ "time", offsetof(struct monitor_report, time), 0 },
	{ "percent", offsetof(struct monitor_report, percent), 0 },
	{ "downloaded", offsetof(struct monitor_report, downloaded), 1 },
	{ "extracted", offsetof(struct monitor_report, extracted), 1 },
	{ "total", offsetof(struct monitor_report, total), 1 },
	{ "uploaded", offsetof(struct monitor_report, uploaded), 1 },
	{ "down_rate", offsetof(struct monitor_report, down_rate), 0 },
	{ "up_rate", offsetof(struct monitor_report, up_rate), 0 },
};

/* The members of o that the protocol knows, into r. */
static int take_fields(const struct json_obj *o, struct monitor_report *r,
		       char *err, size_t errlen)
{
	const struct json_field *f;
	double v;

	for (size_t i = 0; i < ARRAY_SIZE(str_fields); i++) {
		if (!(f = json_get(o, str_fields[i].key)) || f->type == JSON_NULL)
			continue;
		if (f->type != JSON_STRING)
			return refuse(err, errlen, "not a string:",
				      str_fields[i].key);
		*(char **)((char *)r + str_fields[i].off) =
			cut(f->str, str_fields[i].max);
	}
	for (size_t i = 0; i < ARRAY_SIZE(num_fields); i++) {
		if (!(f = json_get(o, num_fields[i].key)) || f->type == JSON_NULL)
			continue;
		if (f->type != JSON_NUMBER || f->num < 0 || f->num > 9e18)
			return refuse(err, errlen, "not a number >= 0:",
				      num_fields[i].key);
		if (num_fields[i].is_ll)
			*(long long *)((char *)r + num_fields[i].off) =
				(long long)f->num;
		else
			*(double *)((char *)r + num_fields[i].off) = f->num;
	}
	if (json_get_num(o, "peers", &v) == 0)
		r->peers = v < 0 || v > 1e9 ? -1 : (long)v;
	if ((f = json_get(o, "status")) && f->type != JSON_NULL) {
		if (f->type != JSON_NUMBER || f->num != (double)(int)f->num ||
		    f->num < MONITOR_ST_MIN || f->num > MONITOR_ST_MAX)
			return refuse(err, errlen, "status out of range in",
				      "status");
		r->status = (int)f->num;
	}
	if (r->percent > 100)
		return refuse(err, errlen, "over 100:", "percent");
	return 0;
}

int monitor_parse_json(const char *line, size_t len,
		       struct monitor_report *r, char *err, size_t errlen)
{
	struct json_obj o;
	const char *type, *mac;
	char why[128];
	int ret = -1;

	monitor_report_init(r);
	if (json_parse(line, len, &o, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "malformed JSON: %s", why);
		goto out;
	}
	type = json_get_str(&o, "type");
	if (!type) {
		refuse(err, errlen, "no string member", "type");
		goto out;
	}
	for (size_t i = MONITOR_HELLO; i <= MONITOR_LOG; i++)
		if (!strcmp(type, type_names[i]))
			r->type = (enum monitor_type)i;
	if (!r->type) {
		refuse(err, errlen, "unknown type", type);
		goto out;
	}
	mac = json_get_str(&o, "mac");
	if (mac && netif_mac_parse(mac, r->mac) < 0) {
		refuse(err, errlen, "not a MAC address:", mac);
		goto out;
	}
	if (take_fields(&o, r, err, errlen) < 0)
		goto out;
	if (r->type == MONITOR_STATE && r->status == MONITOR_NO_STATUS) {
		refuse(err, errlen, "a state without", "status");
		goto out;
	}
	if (r->type == MONITOR_LOG && !r->text) {
		refuse(err, errlen, "a log line without", "text");
		goto out;
	}
	ret = 0;
out:
	json_obj_release(&o);
	return ret;
}

/* The value of a legacy field into r; unknown keys are ignored. */
static int legacy_field(struct monitor_report *r, const char *key,
			const char *val, char *err, size_t errlen)
{
	long n;

	if (!strcmp(key, "mac")) {
		if (netif_mac_parse(val, r->mac) < 0)
			return refuse(err, errlen, "not a MAC address:", val);
	} else if (!strcmp(key, "status")) {
		if (parse_long(val, MONITOR_ST_MIN, MONITOR_ST_MAX, &n) < 0)
			return refuse(err, errlen, "bad status", val);
		r->status = (int)n;
	} else if (!strcmp(key, "speed")) {
		if (parse_long(val, 0, 100000000, &n) == 0)
			r->down_rate = (double)n * 1000;
	} else if (!strcmp(key, "ip") && !r->ip) {
		r->ip = cut(val, SHORT_MAX);
	} else if (!strcmp(key, "host") && !r->hostname) {
		r->hostname = cut(val, SHORT_MAX);
	} else if (!strcmp(key, "os") && !r->image) {
		r->image = cut(val, SHORT_MAX);
	}
	return 0;
}

int monitor_parse_legacy(const char *line, struct monitor_report *r,
			 char *err, size_t errlen)
{
	char *copy = xstrdup(line), *p = copy, *key = NULL, *val = NULL;
	int ret = 0;

	monitor_report_init(r);
	r->type = MONITOR_LEGACY;
	/* "a=1:b=2:mac=52:54:00:..:c=3": a part without '=' continues the
	 * value before it. */
	for (char *part = strsep(&p, ":"); part && !ret; part = strsep(&p, ":")) {
		char *eq = strchr(part, '=');

		if (!eq) {
			if (!val)
				ret = refuse(err, errlen, "no key=value in", line);
			else
				part[-1] = ':';	/* rejoin the value */
			continue;
		}
		if (key)
			ret = legacy_field(r, key, val, err, errlen);
		*eq = '\0';
		key = part;
		val = eq + 1;
	}
	if (!ret && key)
		ret = legacy_field(r, key, val, err, errlen);
	if (!ret && !r->mac[0])
		ret = refuse(err, errlen, "no field", "mac");
	if (!ret && r->status == MONITOR_NO_STATUS)
		ret = refuse(err, errlen, "no field", "status");
	free(copy);
	return ret;
}

char *monitor_format(const struct monitor_report *r)
{
	struct json_out j;
	char *line;

	json_out_init(&j);
	json_out_str(&j, "type", type_names[r->type]);
	if (r->mac[0])
		json_out_str(&j, "mac", r->mac);
	for (size_t i = 0; i < ARRAY_SIZE(str_fields); i++) {
		const char *s = *(char *const *)((const char *)r +
						 str_fields[i].off);
		if (s)
			json_out_str(&j, str_fields[i].key, s);
	}
	if (r->status != MONITOR_NO_STATUS)
		json_out_int(&j, "status", r->status);
	for (size_t i = 0; i < ARRAY_SIZE(num_fields); i++) {
		const char *p = (const char *)r + num_fields[i].off;

		if (num_fields[i].is_ll && *(const long long *)p >= 0)
			json_out_int(&j, num_fields[i].key, *(const long long *)p);
		else if (!num_fields[i].is_ll && *(const double *)p >= 0)
			json_out_num(&j, num_fields[i].key, *(const double *)p);
	}
	if (r->peers >= 0)
		json_out_int(&j, "peers", r->peers);
	if (r->type == MONITOR_HELLO)
		json_out_int(&j, "proto", MONITOR_PROTO_VERSION);
	line = xstrdup(json_out_end(&j));
	json_out_release(&j);
	return line;
}
