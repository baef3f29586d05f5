/* netif.h - the node's network interfaces: which one reaches the image
 * server, and its MAC address (how the server knows a node).
 */
#ifndef SI_NETIF_H
#define SI_NETIF_H

#define NETIF_MAC_LEN 18	/* "aa:bb:cc:dd:ee:ff" and its NUL */

/* Fills mac with the MAC address of the interface the kernel would use to
 * reach ip (a numeric address; NULL to skip), else of the first interface
 * that is up, not a loopback, and has an IPv4 address; and ifname (at least
 * IF_NAMESIZE bytes; may be NULL) with its name.  Returns 0, or -1 when no
 * interface fits (no message). */
int netif_mac(const char *ip, char mac[NETIF_MAC_LEN], char *ifname);

/* Checks that s is six colon-separated hexadecimal pairs and writes it in
 * lower case into mac.  Returns 0 or -1. */
int netif_mac_parse(const char *s, char mac[NETIF_MAC_LEN]);

#endif
