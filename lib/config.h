/* config.h - SystemImager-style settings: shell "KEY=value" files
 * (bittorrent.conf, local.cfg) and KEY=value words of a kernel command line.
 */
#ifndef SI_CONFIG_H
#define SI_CONFIG_H

#include <stddef.h>

struct config_entry {
	char *key;
	char *value;
	char *source;	/* "file:line", "cmdline" or "option" */
};

struct config {
	struct config_entry *v;
	size_t n;
};

void config_init(struct config *c);
void config_release(struct config *c);

/* Sets key to value (replacing an earlier value); copies all strings. */
void config_set(struct config *c, const char *key, const char *value,
		const char *source);
/* Sets key only when it has no value yet (for lower-precedence sources). */
void config_set_default(struct config *c, const char *key, const char *value,
			const char *source);
/* Returns the value of key or NULL; owned by c. */
const char *config_get(const struct config *c, const char *key);
const struct config_entry *config_find(const struct config *c, const char *key);

/* Parses a shell-like file: KEY=value lines, '#' comments, optional
 * "export ", single or double quotes.  With overwrite=0 existing keys are
 * kept (lower precedence).  Returns 0, 1 when the file does not exist and
 * !must_exist, or -1 with a message naming file and line. */
int config_load_file(struct config *c, const char *path, int must_exist,
		     int overwrite);
/* Parses kernel command line words; only words KEY=value whose KEY is upper
 * case are kept (console=, root= and the like are not ours).  Returns 0 or
 * -1 with a message. */
int config_load_cmdline(struct config *c, const char *path, int overwrite);
/* Same from a string.  Returns 0. */
int config_parse_cmdline(struct config *c, const char *line, int overwrite);

#endif
