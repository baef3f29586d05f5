/* exclude.h - rsync-style exclude lists (updateclient.local.exclude).
 *
 * The same file is handed to rsync (--exclude-from) and matched here for
 * delta updates, so the rules follow rsync's for the forms such files use:
 * "#"/";" comments, optional "- "/"+ " prefixes (first matching rule wins),
 * a leading "/" anchors at the root, a trailing "/" matches directories
 * only, "*" "?" "[...]" do not cross "/" ("**" does), a pattern without
 * "/" matches a name at any depth, and an excluded directory excludes all
 * below it.
 */
#ifndef SI_EXCLUDE_H
#define SI_EXCLUDE_H

#include <stddef.h>

struct exclude_rule {
	char *pattern;		/* without "- ", leading "/" or trailing "/" */
	int include;		/* "+ " rule */
	int anchored, dir_only, slash, starstar;
};

struct exclude_list {
	struct exclude_rule *v;
	size_t n;
};

void exclude_init(struct exclude_list *l);
void exclude_release(struct exclude_list *l);
/* Adds one rule line (comments and blank lines are ignored). */
void exclude_add(struct exclude_list *l, const char *line);
/* Adds every line of a file.  Returns 0, or -1 with a message. */
int exclude_load_file(struct exclude_list *l, const char *path);
/* Returns 1 when the relative path (is_dir: a directory) is excluded. */
int exclude_match(const struct exclude_list *l, const char *path, int is_dir);

#endif
