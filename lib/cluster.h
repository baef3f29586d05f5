/* cluster.h - the cluster table, BASE/scripts/cluster.txt.
 *
 * One line per host and group, SystemImager's "host:group:image:override",
 * extended compatibly with the host's boot network card and address:
 *
 *   host:group:image:override:MAC[:IPV4]
 *
 * MAC is six hexadecimal pairs separated by ':' or '-' (any case), IPV4 an
 * optional fixed address for the boot server's DHCP.  '#' starts a
 * comment; spaces around fields are ignored; a host on several lines (one
 * per group) needs its MAC on one of them only.  Readers that know four
 * fields ignore the rest of the line.
 */
#ifndef SI_CLUSTER_H
#define SI_CLUSTER_H

#include <stddef.h>

#define CLUSTER_FIELDS 5	/* host, group, image, override, rest */

/* Splits one line in place into CLUSTER_FIELDS fields (missing ones "",
 * the fifth is the rest of the line, colons included), trimmed.  Returns
 * 1, or 0 for a blank or comment line. */
int cluster_split(char *line, char *f[CLUSTER_FIELDS]);

/* Normalizes a MAC address ("52-54-00-AB-CD-EF") to lower-case colon form
 * in out ("52:54:00:ab:cd:ef").  Returns 0, or -1 when s is not one. */
int cluster_mac(const char *s, char out[18]);

/* A host of the table with what the boot server needs of it. */
struct cluster_host {
	char *name;
	char *image;	/* first image named on its lines, or NULL */
	char *group;	/* first group, or NULL */
	char mac[18];	/* "" when none */
	char *ip;	/* fixed address, or NULL */
};

struct cluster_table {
	struct cluster_host *v;
	size_t n;
};

/* Parses the text of cluster.txt (name for messages) into t (zeroed).
 * Lines for "*" (global overrides) name no host.  Returns 0, or -1 with a
 * message naming the line for a bad MAC or address, a MAC given to two
 * hosts, or two MACs for one host (t then holds what came before). */
int cluster_parse(struct cluster_table *t, const char *text, const char *name);
void cluster_release(struct cluster_table *t);

/* Lookups; NULL when absent.  Owned by t. */
const struct cluster_host *cluster_by_mac(const struct cluster_table *t,
					  const char *mac);
const struct cluster_host *cluster_by_name(const struct cluster_table *t,
					   const char *name);

#endif
