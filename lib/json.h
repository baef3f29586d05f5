/* json.h - the flat JSON objects of the monitor protocol
 * (docs/monitor-protocol.md): one object a line whose members are
 * strings, numbers, true, false or null.  Nested objects and arrays are
 * parsed and skipped (a later version's fields), never kept.  No
 * dependency: the node's installer links this too.
 */
#ifndef SI_JSON_H
#define SI_JSON_H

#include <stddef.h>

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_NESTED,	/* an object or array, skipped */
};

struct json_field {
	char *key;
	enum json_type type;
	char *str;	/* JSON_STRING: decoded UTF-8 without NULs */
	double num;	/* JSON_NUMBER; JSON_BOOL: 0 or 1 */
};

struct json_obj {
	struct json_field *v;
	size_t n;
};

/* Parses the len bytes at s (no NUL needed) as one object, optionally
 * surrounded by white space, into o (released with json_obj_release(),
 * also after a failure).  Refused: nesting deeper than 16 levels, \u0000
 * in a string, lone surrogates, text after the object.  A repeated key
 * is kept twice; json_get() finds the last.  Returns 0, or -1 with the
 * reason in err (no message). */
int json_parse(const char *s, size_t len, struct json_obj *o, char *err,
	       size_t errlen);
void json_obj_release(struct json_obj *o);

/* The member named key, or NULL; the last one when a key repeats. */
const struct json_field *json_get(const struct json_obj *o, const char *key);
/* The member's string, or NULL when absent or not a string. */
const char *json_get_str(const struct json_obj *o, const char *key);
/* Sets *out to the member's number; returns 0, or -1 when absent or not a
 * number (*out untouched). */
int json_get_num(const struct json_obj *o, const char *key, double *out);

/* A growing output line. */
struct json_out {
	char *buf;
	size_t len, cap;
	int members;
};
/* Starts an object: "{".  The buffer is the caller's to free (buf). */
void json_out_init(struct json_out *j);
void json_out_str(struct json_out *j, const char *key, const char *value);
void json_out_num(struct json_out *j, const char *key, double value);
void json_out_int(struct json_out *j, const char *key, long long value);
/* Closes the object: "}" (no newline).  Returns buf. */
const char *json_out_end(struct json_out *j);
/* Appends s as a quoted JSON string (control characters, quote and
 * backslash escaped; invalid UTF-8 bytes become U+FFFD). */
void json_out_quoted(struct json_out *j, const char *s);
void json_out_release(struct json_out *j);

#endif
