/* torrent.c - writing the server's .torrent files (see torrent.h). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "torrent.h"

/* Returns the IPv4 address of interface ifname as a new string, or NULL
 * with a message. */
static char *interface_address(const char *ifname)
{
	struct ifaddrs *ifa, *i;
	char *ret = NULL, buf[INET_ADDRSTRLEN];

	if (getifaddrs(&ifa) < 0) {
		error_errno("cannot list network interfaces");
		return NULL;
	}
	for (i = ifa; i && !ret; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    strcmp(i->ifa_name, ifname))
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
			  buf, sizeof(buf));
		ret = xstrdup(buf);
	}
	freeifaddrs(ifa);
	if (!ret)
		error("cannot find an IPv4 address on interface '%s' "
		      "(BT_INTERFACE; or use --address or --tracker)", ifname);
	return ret;
}

char *torrent_announce(const struct config *conf, const char *etc,
		       const char *tracker, const char *address)
{
	const char *port_s = config_get(conf, "BT_TRACKER_PORT");
	const char *ifname = config_get(conf, "BT_INTERFACE");
	struct in_addr in;
	char *ip, *ret;
	long port = 6969;

	if (tracker)
		return xstrdup(tracker);
	if (port_s && *port_s && parse_long(port_s, 1, 65535, &port) < 0) {
		error("%s: bad BT_TRACKER_PORT '%s'",
		      config_find(conf, "BT_TRACKER_PORT")->source, port_s);
		return NULL;
	}
	if (address) {
		if (inet_pton(AF_INET, address, &in) != 1) {
			error("bad --address '%s': not an IPv4 address", address);
			return NULL;
		}
		ip = xstrdup(address);
	} else if (ifname && *ifname) {
		if (!(ip = interface_address(ifname)))
			return NULL;
	} else {
		error("cannot tell the tracker's address: set BT_INTERFACE in "
		      "%s/bittorrent.conf, or use --address or --tracker", etc);
		return NULL;
	}
	ret = xasprintf("http://%s:%ld/announce", ip, port);
	free(ip);
	return ret;
}

char *torrent_web_seed(const char *base_url, const char *tarname)
{
	size_t l;

	if (!base_url)
		return NULL;
	l = strlen(base_url);
	return xasprintf("%s%s%s", base_url,
			 l && base_url[l - 1] == '/' ? "" : "/", tarname);
}

int torrent_piece_size(int64_t size)
{
	int piece = 16 * 1024;

	while (size / piece > 65536 && piece < 16 * 1024 * 1024)
		piece *= 2;
	return piece;
}

int torrent_piece_size_parse(const char *s, int *out)
{
	char *end;
	unsigned long long v;

	if (!strcmp(s, "auto")) {
		*out = 0;
		return 0;
	}
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if ((*end == 'k' || *end == 'K') && end[1] == '\0')
		v <<= 10;
	else if ((*end == 'm' || *end == 'M') && end[1] == '\0')
		v <<= 20;
	else if (*end)
		return -1;
	if (v < 16 * 1024 || v > 16 * 1024 * 1024 || (v & (v - 1)))
		return -1;
	*out = (int)v;
	return 0;
}

int torrent_write(const struct torrent_spec *s, struct atomic_file *af,
		  const char *final, struct bt_info *info)
{
	const char *trackers[] = { s->announce, NULL };
	char *seed = torrent_web_seed(s->web_seed, s->tarname);
	const char *seeds[] = { seed, NULL };
	struct bt_create_config bc = {
		.file = s->file, .trackers = trackers,
		.web_seeds = seed ? seeds : NULL, .comment = s->comment,
		.unpacked_bytes = s->unpacked_bytes,
		.unpacked_entries = s->unpacked_entries,
	};
	char err[512], *buf = NULL;
	struct stat st;
	size_t len;
	int ret = -1;

	bc.piece_size = s->piece_size;
	if (!bc.piece_size)
		bc.piece_size = torrent_piece_size(stat(s->file, &st) == 0 ?
						   st.st_size : 0);
	if (bt_create_torrent(&bc, &buf, &len, info, err, sizeof(err)) < 0) {
		error("%s", err);
		goto out;
	}
	if (atomic_open(af, final, 0644) < 0)
		goto out;
	if (atomic_write(af, buf, len) < 0) {
		atomic_abort(af);
		goto out;
	}
	ret = 0;
out:
	free(buf);
	free(seed);
	return ret;
}
