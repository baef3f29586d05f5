/* Unit tests of lib/json.c (the flat-object parser and writer) and
 * lib/monitor_proto.c (the JSON reports and SystemImager 4's lines);
 * the daemon and the client against real sockets are in
 * t/t7000-monitor.sh. */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "monitor_proto.h"
#include "tap.h"

static int parses(const char *s)
{
	struct json_obj o;
	char err[128];
	int ret = json_parse(s, strlen(s), &o, err, sizeof(err));

	json_obj_release(&o);
	return ret == 0;
}

static void refused(const char *s, const char *why)
{
	struct json_obj o;
	char err[128] = "";

	ok(json_parse(s, strlen(s), &o, err, sizeof(err)) < 0 &&
	   strstr(err, why), "refuses %s (%s)", s, err);
	json_obj_release(&o);
}

static void test_json(void)
{
	const char *s = " {\"a\":\"x\\\"y\\u00e9\\ud83d\\ude00\\n\", \"n\":-12.5e1,"
		"\"t\":true,\"f\":false,\"z\":null,\"deep\":{\"k\":[1,{\"q\":[]},"
		"\"s\"]},\"a\":\"last\"} \n";
	struct json_obj o;
	char err[128];
	double v = 0;
	const struct json_field *f;

	ok(json_parse(s, strlen(s), &o, err, sizeof(err)) == 0,
	   "an object with every kind of value parses");
	ok(o.n == 7, "seven members, the nested one kept as a name (%zu)", o.n);
	is_str(o.v[0].str, "x\"y\xc3\xa9\xf0\x9f\x98\x80\n",
	       "escapes, \\u and a surrogate pair decoded to UTF-8");
	is_str(json_get_str(&o, "a"), "last", "a repeated key: the last wins");
	ok(json_get_num(&o, "n", &v) == 0 && v == -125, "a number (%g)", v);
	f = json_get(&o, "t");
	ok(f && f->type == JSON_BOOL && f->num == 1, "true");
	f = json_get(&o, "z");
	ok(f && f->type == JSON_NULL, "null");
	f = json_get(&o, "deep");
	ok(f && f->type == JSON_NESTED, "a nested value is skipped");
	ok(json_get_str(&o, "n") == NULL && json_get_num(&o, "a", &v) < 0 &&
	   json_get(&o, "nope") == NULL, "wrong types and absent keys");
	json_obj_release(&o);

	ok(parses("{}") && parses("{\"a\":[]}"), "empty object and array");
	ok(parses("{\"a\":0.5}") && parses("{\"a\":1E+3}"), "numbers");
	refused("", "expected an object");
	refused("[1]", "expected an object");
	refused("{\"a\":1", "expected ',' or '}'");
	refused("{\"a\":1,}", "expected a member name");
	refused("{\"a\" 1}", "expected ':'");
	refused("{\"a\":01}", "expected ',' or '}'");
	refused("{\"a\":-}", "bad number");
	refused("{\"a\":1.}", "bad number");
	refused("{\"a\":1e999}", "out of range");
	refused("{\"a\":tru}", "unexpected");
	refused("{\"a\":\"x}", "unterminated string");
	refused("{\"a\":\"\\x\"}", "bad escape");
	refused("{\"a\":\"\\u00zz\"}", "bad \\u escape");
	refused("{\"a\":\"\\u0000\"}", "\\u0000");
	refused("{\"a\":\"\\ud800\"}", "lone high surrogate");
	refused("{\"a\":\"\\udc00\"}", "lone low surrogate");
	refused("{\"a\":\"tab\there\"}", "control character");
	refused("{\"a\":1} {}", "text after the object");
	refused("{\"a\":[1,2}", "expected ',' or ']'");
	refused("{\"a\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}", "nested more than");
	{
		char big[64] = "{\"a\":1";

		ok(json_parse(big, 4, &o, err, sizeof(err)) < 0,
		   "the length counts, not the NUL");
		json_obj_release(&o);
	}
}

static void test_out(void)
{
	struct json_out j;
	struct json_obj o;
	char err[128];

	json_out_init(&j);
	json_out_str(&j, "s", "q\"b\\c\n\x01\xc3\xa9\xff");
	json_out_int(&j, "i", -42);
	json_out_num(&j, "d", 2.5);
	json_out_str(&j, "n", NULL);
	is_str(json_out_end(&j), "{\"s\":\"q\\\"b\\\\c\\u000a\\u0001\xc3\xa9"
	       "\xef\xbf\xbd\",\"i\":-42,\"d\":2.5,\"n\":null}",
	       "writer: escapes, UTF-8 kept, a bad byte replaced");
	ok(json_parse(j.buf, j.len, &o, err, sizeof(err)) == 0 &&
	   !strcmp(json_get_str(&o, "s"), "q\"b\\c\n\x01\xc3\xa9\xef\xbf\xbd"),
	   "what it writes parses back");
	json_obj_release(&o);
	json_out_release(&j);
}

static void report_refused(const char *s, const char *why)
{
	struct monitor_report r;
	char err[128] = "";

	ok(monitor_parse_json(s, strlen(s), &r, err, sizeof(err)) < 0 &&
	   strstr(err, why), "report refused: %s (%s)", s, err);
	monitor_report_release(&r);
}

static void test_reports(void)
{
	const char *s = "{\"type\":\"progress\",\"mac\":\"52:54:00:AA:BB:CC\","
		"\"status\":42,\"percent\":42.5,\"downloaded\":1000,"
		"\"extracted\":900,\"total\":2000,\"uploaded\":10,"
		"\"down_rate\":100.5,\"up_rate\":3,\"peers\":4,\"time\":1.5,"
		"\"future\":{\"x\":[1]},\"also\":\"ignored\"}";
	struct monitor_report r, r2;
	char err[128], *line;

	ok(monitor_parse_json(s, strlen(s), &r, err, sizeof(err)) == 0,
	   "a progress report parses, unknown members ignored");
	ok(r.type == MONITOR_PROGRESS && r.status == 42 && r.percent == 42.5 &&
	   r.downloaded == 1000 && r.extracted == 900 && r.total == 2000 &&
	   r.uploaded == 10 && r.down_rate == 100.5 && r.up_rate == 3 &&
	   r.peers == 4 && r.time == 1.5, "its figures");
	is_str(r.mac, "52:54:00:aa:bb:cc", "its MAC, in lower case");
	line = monitor_format(&r);
	ok(monitor_parse_json(line, strlen(line), &r2, err, sizeof(err)) == 0 &&
	   r2.status == 42 && r2.downloaded == 1000 && r2.peers == 4 &&
	   !strcmp(r2.mac, r.mac), "formatted and parsed back: %s", line);
	free(line);
	monitor_report_release(&r2);
	monitor_report_release(&r);

	s = "{\"type\":\"hello\",\"mac\":\"52:54:00:00:00:01\",\"hostname\":"
	    "\"n1\",\"image\":\"img\",\"version\":\"3\",\"ip\":null}";
	ok(monitor_parse_json(s, strlen(s), &r, err, sizeof(err)) == 0 &&
	   r.type == MONITOR_HELLO && !strcmp(r.hostname, "n1") &&
	   !strcmp(r.image, "img") && !strcmp(r.version, "3") && !r.ip &&
	   r.status == MONITOR_NO_STATUS, "a hello");
	monitor_report_release(&r);
	s = "{\"type\":\"state\",\"status\":-1,\"message\":\"cannot 'x'\"}";
	ok(monitor_parse_json(s, strlen(s), &r, err, sizeof(err)) == 0 &&
	   r.status == -1 && !strcmp(r.message, "cannot 'x'") && !r.mac[0],
	   "a failure with its message, no MAC (the hello's)");
	monitor_report_release(&r);
	report_refused("{\"mac\":\"52:54:00:00:00:01\"}", "no string member 'type'");
	report_refused("{\"type\":\"bogus\"}", "unknown type 'bogus'");
	report_refused("{\"type\":\"hello\",\"mac\":\"xx\"}", "not a MAC");
	report_refused("{\"type\":\"state\"}", "without 'status'");
	report_refused("{\"type\":\"state\",\"status\":110}", "out of range");
	report_refused("{\"type\":\"state\",\"status\":1.5}", "out of range");
	report_refused("{\"type\":\"state\",\"status\":\"5\"}", "out of range");
	report_refused("{\"type\":\"progress\",\"percent\":101}", "over 100");
	report_refused("{\"type\":\"progress\",\"downloaded\":-1}", "not a number");
	report_refused("{\"type\":\"hello\",\"hostname\":5}", "not a string");
	report_refused("{\"type\":\"log\"}", "without 'text'");
	report_refused("{\"type\":\"state\",\"status\":1", "expected ','");
	{
		char big[400] = "{\"type\":\"hello\",\"hostname\":\"";
		size_t n = strlen(big);

		memset(big + n, 'h', 300);
		strcpy(big + n + 300, "\"}");
		ok(monitor_parse_json(big, strlen(big), &r, err, sizeof(err)) == 0 &&
		   strlen(r.hostname) == 255, "a long host name is cut at 255");
		monitor_report_release(&r);
	}
}

static void test_legacy(void)
{
	struct monitor_report r;
	char err[128] = "", st[32];

	ok(monitor_parse_legacy("mac=00:0C:29:AB:CD:EF:ip=10.0.0.5:host=node5:"
				"cpu=Intel(R) Xeon(R):ncpus=8:kernel=2.6.32:"
				"mem=16000:os=rhel6:tmpfs=1:time=33.2:"
				"status=57:speed=1234:extra=x", &r, err,
				sizeof(err)) == 0, "a SystemImager 4 line parses");
	is_str(r.mac, "00:0c:29:ab:cd:ef", "its MAC, colons and all");
	is_str(r.ip, "10.0.0.5", "its address");
	is_str(r.hostname, "node5", "its host name");
	is_str(r.image, "rhel6", "os= is the image");
	ok(r.status == 57 && r.down_rate == 1234000 && r.type == MONITOR_LEGACY,
	   "status, and speed in KB/s as bytes/s");
	monitor_report_release(&r);
	ok(monitor_parse_legacy("status=-3:mac=52:54:00:00:00:09", &r, err,
				sizeof(err)) == 0 && r.status == -3 &&
	   !strcmp(r.mac, "52:54:00:00:00:09"), "a failure, MAC last");
	monitor_report_release(&r);
	ok(monitor_parse_legacy("mac=52:54:00:00:00:09:host=a", &r, err,
				sizeof(err)) < 0 && strstr(err, "status"),
	   "no status refused (%s)", err);
	monitor_report_release(&r);
	ok(monitor_parse_legacy("ip=1.2.3.4:status=5", &r, err,
				sizeof(err)) < 0 && strstr(err, "mac"),
	   "no MAC refused (%s)", err);
	monitor_report_release(&r);
	ok(monitor_parse_legacy("mac=52:54:00:00:00:zz:status=5", &r, err,
				sizeof(err)) < 0 && strstr(err, "MAC"),
	   "a bad MAC refused (%s)", err);
	monitor_report_release(&r);
	ok(monitor_parse_legacy("mac=52:54:00:00:00:01:status=abc", &r, err,
				sizeof(err)) < 0 && strstr(err, "status"),
	   "a bad status refused (%s)", err);
	monitor_report_release(&r);
	ok(monitor_parse_legacy("garbage", &r, err, sizeof(err)) < 0,
	   "garbage refused (%s)", err);
	monitor_report_release(&r);
	is_str(monitor_status_name(0, st, sizeof(st)), "init", "status 0");
	is_str(monitor_status_name(42, st, sizeof(st)), "42%", "status 42");
	is_str(monitor_status_name(100, st, sizeof(st)), "imaged", "status 100");
	is_str(monitor_status_name(109, st, sizeof(st)), "postinstall",
	       "status 109");
	is_str(monitor_status_name(-2, st, sizeof(st)), "failed(-2)",
	       "a negative status");
}

int main(void)
{
	test_json();
	test_out();
	test_reports();
	test_legacy();
	return tap_done();
}
