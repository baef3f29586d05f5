/* Unit tests of lib/report.c (URL parsing, query encoding) and
 * lib/netif.c (MAC parsing); report_get() and netif_mac() against real
 * sockets and interfaces are in t/t4020-boel-report.sh. */
#include <stdlib.h>
#include <string.h>

#include "netif.h"
#include "report.h"
#include "tap.h"

static void url_is(const char *url, const char *host, const char *port,
		   const char *target)
{
	struct report_url u;
	char err[128];

	ok(report_url_parse(url, &u, err, sizeof(err)) == 0, "parses %s", url);
	is_str(u.host, host, "host of %s", url);
	is_str(u.port, port, "port of %s", url);
	is_str(u.target, target, "target of %s", url);
	report_url_release(&u);
}

static void url_bad(const char *url, const char *why)
{
	struct report_url u;
	char err[128] = "";

	ok(report_url_parse(url, &u, err, sizeof(err)) < 0 && strstr(err, why),
	   "refuses %s (%s)", url, err);
	report_url_release(&u);
}

int main(void)
{
	struct report_param p[] = {
		{ "mac", "52:54:00:aa:bb:cc" }, { "status", "-1" },
		{ "skipped", NULL }, { "message", "cannot 'x': a/b & c=d+e%" },
		{ "ssh", "SHA256:ab+/c=,SHA256:x" }, { "empty", "" },
	};
	char mac[NETIF_MAC_LEN], *q;

	url_is("http://10.80.0.1:8070/report", "10.80.0.1", "8070", "/report");
	url_is("http://boot.example.org", "boot.example.org", "80", "/");
	url_is("http://h/r?site=a%20b&x=1", "h", "80", "/r?site=a%20b&x=1");
	url_bad("https://h/", "expected http://");
	url_bad("http://:80/", "no host");
	url_bad("http://h:0/", "port");
	url_bad("http://h:65536/", "port");
	url_bad("http://user@h/", "unexpected '@'");
	url_bad("http://h/a b", "space");
	url_bad("http://h/a'b", "quote");

	q = report_query(p, sizeof(p) / sizeof(p[0]));
	is_str(q, "mac=52%3A54%3A00%3Aaa%3Abb%3Acc&status=-1&message=cannot"
	       "%20%27x%27%3A%20a%2Fb%20%26%20c%3Dd%2Be%25&ssh=SHA256%3Aab%2B"
	       "%2Fc%3D%2CSHA256%3Ax&empty=",
	       "query: unreserved characters kept, the rest %%XX, NULL values "
	       "left out");
	free(q);
	q = report_query(p, 0);
	is_str(q, "", "no parameters: an empty query");
	free(q);

	ok(netif_mac_parse("52:54:00:AA:bb:0C", mac) == 0, "a MAC parses");
	is_str(mac, "52:54:00:aa:bb:0c", "in lower case");
	ok(netif_mac_parse("52:54:00:aa:bb", mac) < 0 &&
	   netif_mac_parse("52-54-00-aa-bb-cc", mac) < 0 &&
	   netif_mac_parse("52:54:00:aa:bb:cg", mac) < 0 &&
	   netif_mac_parse("52:54:00:aa:bb:cc:", mac) < 0 &&
	   netif_mac_parse(NULL, mac) < 0, "short, dashed, non-hex, long refused");
	return tap_done();
}
