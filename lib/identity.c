/* identity.c - see identity.h */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "identity.h"
#include "log.h"
#include "rootfs.h"
#include "util.h"

#define HOSTS_ADDR "127.0.1.1"

int identity_hostname_valid(const char *name)
{
	size_t label = 0;
	const char *p;

	if (!name || !*name || strlen(name) > 253)
		return 0;
	for (p = name; ; p++) {
		if (*p == '.' || !*p) {
			if (!label || p[-1] == '-')
				return 0;
			if (!*p)
				return 1;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-') ||
		    (*p == '-' && !label) || ++label > 63)
			return 0;
	}
}

/* Whether line (up to its newline) is an /etc/hosts entry for addr. */
static int is_addr_line(const char *line, const char *addr)
{
	size_t n = strlen(addr);

	line += strspn(line, " \t");
	return !strncmp(line, addr, n) && strchr(" \t\n", line[n]);
}

static void append(char **out, size_t *len, const char *s, size_t n)
{
	*out = xrealloc(*out, *len + n + 1);
	memcpy(*out + *len, s, n);
	*len += n;
	(*out)[*len] = '\0';
}

char *identity_hosts_text(const char *old, const char *hostname)
{
	size_t short_len = strcspn(hostname, "."), len = 0;
	char *entry, *out = NULL;
	const char *l, *next;
	int have = 0, localhost = 0, done = 0;

	entry = hostname[short_len] ?
		xasprintf(HOSTS_ADDR "\t%s\t%.*s\n", hostname, (int)short_len,
			  hostname) :
		xasprintf(HOSTS_ADDR "\t%s\n", hostname);
	old = old ? old : "";
	for (l = old; *l; l = next) {
		next = l + strcspn(l, "\n");
		next += *next == '\n';
		have |= is_addr_line(l, HOSTS_ADDR);
		localhost |= is_addr_line(l, "127.0.0.1");
	}
	append(&out, &len, "", 0);
	if (!have && !localhost) {
		append(&out, &len, entry, strlen(entry));
		done = 1;
	}
	for (l = old; *l; l = next) {
		next = l + strcspn(l, "\n");
		next += *next == '\n';
		if (is_addr_line(l, HOSTS_ADDR)) {
			if (!done)
				append(&out, &len, entry, strlen(entry));
			done = 1;
			continue;
		}
		append(&out, &len, l, next - l);
		if (next[-1] != '\n')
			append(&out, &len, "\n", 1);
		if (!have && !done && is_addr_line(l, "127.0.0.1")) {
			append(&out, &len, entry, strlen(entry));
			done = 1;
		}
	}
	free(entry);
	return out;
}

/* Whether REL under root is a regular file to change: 1 yes, 0 no (missing,
 * or not a regular file: warned), -1 error. */
static int changeable(const char *root, const char *rel, struct stat *st)
{
	int rc = rootfs_lstat(root, rel, st);

	if (rc < 0)
		return -1;
	if (rc == 1)
		return 0;
	if (!S_ISREG(st->st_mode)) {
		warning("'%s/%s' is %s: left as the image has it", root, rel,
			S_ISLNK(st->st_mode) ? "a symlink" : "not a file");
		return 0;
	}
	return 1;
}

static int write_hostname(const struct identity_opts *o,
			  struct identity_result *res)
{
	const char *name = o->hostname;
	char *text = NULL, *hosts;
	struct stat st;
	int rc;

	if (!name) {
		notice("no HOSTNAME: /etc/hostname and /etc/hosts left as the "
		       "image has them");
		return 0;
	}
	if (!identity_hostname_valid(name)) {
		warning("HOSTNAME '%s' is no valid host name (letters, digits, "
			"'-', dots between): /etc/hostname and /etc/hosts left "
			"as the image has them", name);
		return 0;
	}
	rc = changeable(o->root, "etc/hostname", &st);
	if (rc > 0) {
		text = xasprintf("%.*s\n", (int)strcspn(name, "."), name);
		rc = rootfs_write(o->root, "etc/hostname", text, strlen(text),
				  0644);
		free(text);
		if (rc < 0)
			return -1;
		res->hostname_written = 1;
	} else if (rc < 0) {
		return -1;
	}
	rc = changeable(o->root, "etc/hosts", &st);
	if (rc > 0) {
		if (rootfs_read(o->root, "etc/hosts", &text, NULL) != 0)
			return -1;
		hosts = identity_hosts_text(text, name);
		rc = strcmp(hosts, text) ? rootfs_write(o->root, "etc/hosts",
				hosts, strlen(hosts), 0644) : 0;
		free(hosts);
		free(text);
		if (rc < 0)
			return -1;
		res->hostname_written = 1;
	} else if (rc < 0) {
		return -1;
	}
	if (res->hostname_written)
		notice("host name %s written into /etc/hostname and /etc/hosts",
		       name);
	else
		notice("the image has no /etc/hostname or /etc/hosts: host "
		       "name %s not written", name);
	return 0;
}

static int reset_machine_id(const struct identity_opts *o,
			    struct identity_result *res)
{
	const char *dbus = "var/lib/dbus/machine-id";
	struct stat st;
	int rc = changeable(o->root, "etc/machine-id", &st);

	if (rc < 0)
		return -1;
	if (rc > 0 && st.st_size > 0) {
		if (rootfs_truncate(o->root, "etc/machine-id") < 0)
			return -1;
		res->machine_id_reset = 1;
	}
	/* Debian links dbus's to /etc/machine-id: a link stays. */
	rc = rootfs_lstat(o->root, dbus, &st);
	if (rc < 0)
		return -1;
	if (rc == 0 && S_ISREG(st.st_mode)) {
		if (rootfs_unlink(o->root, dbus) < 0)
			return -1;
		res->machine_id_reset = 1;
	}
	if (res->machine_id_reset)
		notice("machine id reset: /etc/machine-id emptied (systemd "
		       "makes the node's own at its first boot)");
	return 0;
}

static int is_host_key(const char *name)
{
	return !fnmatch("ssh_host_*_key", name, FNM_PERIOD) ||
	       !fnmatch("ssh_host_*_key.pub", name, FNM_PERIOD);
}

static int remove_host_keys(const struct identity_opts *o,
			    struct identity_result *res)
{
	int fd = rootfs_open_dir(o->root, "etc/ssh", 0), ret = 0;
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || !(d = fdopendir(fd))) {
		error_errno("cannot open '%s/etc/ssh'", o->root);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((e = readdir(d))) {
		if (!is_host_key(e->d_name) ||
		    fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    S_ISDIR(st.st_mode))
			continue;
		if (unlinkat(fd, e->d_name, 0) < 0) {
			ret = error_errno("cannot remove '%s/etc/ssh/%s'",
					  o->root, e->d_name);
			break;
		}
		res->ssh_keys_removed++;
	}
	closedir(d);
	if (res->ssh_keys_removed)
		notice("the image's SSH host keys removed (%d files in "
		       "/etc/ssh): the node makes its own at its first boot",
		       res->ssh_keys_removed);
	return ret;
}

int identity_apply(const struct identity_opts *o, struct identity_result *res)
{
	struct identity_result dummy;

	res = res ? res : &dummy;
	memset(res, 0, sizeof(*res));
	if ((o->what & IDENTITY_HOSTNAME) && write_hostname(o, res) < 0)
		return -1;
	if ((o->what & IDENTITY_MACHINE_ID) && reset_machine_id(o, res) < 0)
		return -1;
	if ((o->what & IDENTITY_SSH_HOSTKEYS) && remove_host_keys(o, res) < 0)
		return -1;
	return 0;
}

unsigned identity_captured(const char *dir)
{
	char *p = path_join(dir, "etc/machine-id");
	unsigned what = 0;
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		what |= IDENTITY_MACHINE_ID;
	free(p);
	p = path_join(dir, "etc/ssh");
	d = opendir(p);
	while (d && (e = readdir(d)))
		if (is_host_key(e->d_name))
			what |= IDENTITY_SSH_HOSTKEYS;
	if (d)
		closedir(d);
	free(p);
	return what;
}
