/* override.h - which overrides apply to a node, in SystemImager's order.
 *
 * Later entries win (they are applied later):
 *   1. the override named after the image (IMAGENAME);
 *   2. global overrides: cluster.txt lines whose host is "*";
 *   3. the node's groups: cluster.txt lines for HOSTNAME, in file order
 *      (least to most important), then the groups of GROUPNAME in the
 *      order given; a group's override is the line's fourth field, or the
 *      group's name when that is empty;
 *   4. the override named after HOSTNAME;
 *   5. explicit OVERRIDES, in the order given.
 * cluster.txt lines are "host:group:image:override"; '#' starts a comment.
 * A name chosen twice is applied once, at its first place.  Only entries
 * of step 5 are required; the others are skipped when missing.
 */
#ifndef SI_OVERRIDE_H
#define SI_OVERRIDE_H

#include <stddef.h>

struct override_item {
	char *name;
	const char *why;	/* "image", "global", "group G", ... */
	char *why_buf;
	int required;
};

struct override_list {
	struct override_item *v;
	size_t n;
};

struct override_query {
	const char *image;	/* IMAGENAME */
	const char *hostname;	/* HOSTNAME, may be NULL */
	const char *groups;	/* GROUPNAME: comma/space list, may be NULL */
	const char *explicit_list;	/* OVERRIDES, may be NULL */
	const char *cluster_txt;	/* contents of cluster.txt, may be NULL */
};

/* Fills list (initially zeroed) in the order to apply.  Returns 0, or -1
 * with a message when a name is not a valid override name. */
int override_choose(const struct override_query *q,
		    struct override_list *list);
void override_list_release(struct override_list *list);

/* Looks up HOSTNAME's image in cluster.txt: returns a new string (the
 * caller frees it) or NULL. */
char *override_image_for_host(const char *cluster_txt, const char *hostname);

#endif
