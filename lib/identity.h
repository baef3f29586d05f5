/* identity.h - what makes an installed node itself rather than a copy of
 * the golden client: its host name (/etc/hostname, /etc/hosts), its
 * machine id (/etc/machine-id) and its SSH host keys.
 *
 * si_boel applies this after extracting the image and before the
 * overrides, so that an override (a node's own host keys in its host
 * override, say) wins.  Files the image lacks are not made: an image
 * without /etc/hostname leaves the name to DHCP.  si_getimage asks what a
 * captured tree holds of the golden client's identity, to warn.
 */
#ifndef SI_IDENTITY_H
#define SI_IDENTITY_H

/* What to make the node's own (bits). */
enum identity_what {
	IDENTITY_HOSTNAME = 1 << 0,	/* HOSTNAME into etc/hostname, etc/hosts */
	IDENTITY_MACHINE_ID = 1 << 1,	/* etc/machine-id emptied */
	IDENTITY_SSH_HOSTKEYS = 1 << 2,	/* etc/ssh/ssh_host_*_key{,.pub} removed */
};

struct identity_opts {
	const char *root;	/* the installed root */
	const char *hostname;	/* the node's name, or NULL: none known */
	unsigned what;		/* enum identity_what bits */
};

struct identity_result {
	int hostname_written;	/* etc/hostname or etc/hosts changed */
	int machine_id_reset;	/* etc/machine-id emptied or dbus's removed */
	int ssh_keys_removed;	/* host key files removed */
};

/* Applies what o asks for, saying each change (notice).  A file that is a
 * symlink is left alone with a warning (var/lib/dbus/machine-id linked to
 * /etc/machine-id silently: that is how Debian ships it).  Fills res (may
 * be NULL).  Returns 0, or -1 with a message when the root cannot be read
 * or written. */
int identity_apply(const struct identity_opts *o, struct identity_result *res);

/* Returns 1 if name is a host name systemd and the resolver accept: dot-
 * separated labels of letters, digits and '-' (not first or last), 1-63
 * characters each, 253 in all. */
int identity_hostname_valid(const char *name);

/* Returns old (the contents of /etc/hosts, may be NULL) with its 127.0.1.1
 * line naming hostname, as Debian's installer writes it ("127.0.1.1\tn1",
 * or "127.0.1.1\tn1.example.org\tn1" for a name with a domain): the first
 * 127.0.1.1 line is replaced and later ones dropped; without one, the line
 * goes after the first 127.0.0.1 line, else first.  Every other line is
 * kept.  The caller frees the result. */
char *identity_hosts_text(const char *old, const char *hostname);

/* What the tree at dir holds of a machine's identity (bits): a non-empty
 * etc/machine-id (IDENTITY_MACHINE_ID), SSH host keys
 * (IDENTITY_SSH_HOSTKEYS).  Returns 0 when neither, or on errors. */
unsigned identity_captured(const char *dir);

#endif
