/* netif.c - see netif.h */
#define _GNU_SOURCE
#include <ctype.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netif.h"

int netif_mac_parse(const char *s, char mac[NETIF_MAC_LEN])
{
	if (!s || strlen(s) != NETIF_MAC_LEN - 1)
		return -1;
	for (int i = 0; i < NETIF_MAC_LEN - 1; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return -1;
		mac[i] = (char)tolower((unsigned char)s[i]);
	}
	mac[NETIF_MAC_LEN - 1] = '\0';
	return 0;
}

/* The local address the kernel picks to reach ip, numeric, into buf. */
static int source_address(const char *ip, char *buf, size_t len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICHOST }, *res;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd, ret = -1;

	if (!ip || getaddrinfo(ip, "9", &hints, &res))
		return -1;
	fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	/* A datagram socket's connect() only picks the route. */
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, sl, buf, len, NULL, 0,
			NI_NUMERICHOST) == 0)
		ret = 0;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return ret;
}

static int has_address(const struct ifaddrs *a, const char *ip)
{
	char buf[NI_MAXHOST];
	socklen_t sl;

	if (!a->ifa_addr || (a->ifa_addr->sa_family != AF_INET &&
			     a->ifa_addr->sa_family != AF_INET6))
		return 0;
	sl = a->ifa_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
		sizeof(struct sockaddr_in6);
	return getnameinfo(a->ifa_addr, sl, buf, sizeof(buf), NULL, 0,
			   NI_NUMERICHOST) == 0 && !strcmp(buf, ip);
}

/* The MAC of interface name from the AF_PACKET entries. */
static int mac_of(const struct ifaddrs *all, const char *name,
		  char mac[NETIF_MAC_LEN])
{
	for (const struct ifaddrs *a = all; a; a = a->ifa_next) {
		const struct sockaddr_ll *ll = (const void *)a->ifa_addr;
		const unsigned char *m;

		if (!ll || ll->sll_family != AF_PACKET || ll->sll_halen != 6 ||
		    strcmp(a->ifa_name, name))
			continue;
		m = ll->sll_addr;
		if (!(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
			return -1;
		snprintf(mac, NETIF_MAC_LEN, "%02x:%02x:%02x:%02x:%02x:%02x",
			 m[0], m[1], m[2], m[3], m[4], m[5]);
		return 0;
	}
	return -1;
}

static int fits(const struct ifaddrs *a)
{
	return (a->ifa_flags & IFF_UP) && !(a->ifa_flags & IFF_LOOPBACK);
}

int netif_mac(const char *ip, char mac[NETIF_MAC_LEN], char *ifname)
{
	struct ifaddrs *all, *a, *found = NULL;
	char src[NI_MAXHOST];

	if (getifaddrs(&all) < 0)
		return -1;
	if (source_address(ip, src, sizeof(src)) == 0)
		for (a = all; a && !found; a = a->ifa_next)
			if (fits(a) && has_address(a, src) &&
			    mac_of(all, a->ifa_name, mac) == 0)
				found = a;
	for (a = all; a && !found; a = a->ifa_next)
		if (fits(a) && a->ifa_addr && a->ifa_addr->sa_family == AF_INET &&
		    mac_of(all, a->ifa_name, mac) == 0)
			found = a;
	if (found && ifname)
		snprintf(ifname, IF_NAMESIZE, "%s", found->ifa_name);
	freeifaddrs(all);
	return found ? 0 : -1;
}
