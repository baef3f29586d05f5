/* Unit tests of lib/identity.c (the /etc/hosts rewrite, host name rules,
 * what a tree holds) and lib/rootfs.c (no symlink followed out of the
 * root), on scratch trees under $TMPDIR. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "identity.h"
#include "log.h"
#include "rootfs.h"
#include "tap.h"
#include "util.h"

static void hosts_is(const char *old, const char *name, const char *want,
		     const char *title)
{
	char *got = identity_hosts_text(old, name);

	is_str(got, want, "%s", title);
	free(got);
}

static void test_hosts(void)
{
	hosts_is("127.0.0.1\tlocalhost\n127.0.1.1\tgolden.example.org\tgolden\n"
		 "\n# The following lines are desirable for IPv6 capable hosts\n"
		 "::1     localhost ip6-localhost ip6-loopback\n"
		 "10.0.0.5 golden-ipmi\n", "n1",
		 "127.0.0.1\tlocalhost\n127.0.1.1\tn1\n"
		 "\n# The following lines are desirable for IPv6 capable hosts\n"
		 "::1     localhost ip6-localhost ip6-loopback\n"
		 "10.0.0.5 golden-ipmi\n",
		 "Debian's file: the 127.0.1.1 line replaced, the rest kept");
	hosts_is("127.0.0.1 localhost\n::1 localhost\n", "n2.example.org",
		 "127.0.0.1 localhost\n127.0.1.1\tn2.example.org\tn2\n"
		 "::1 localhost\n",
		 "no 127.0.1.1 line: added after 127.0.0.1, with the short name");
	hosts_is("  127.0.1.1 a\n127.0.1.1 b\n#127.0.1.1 c\n127.0.1.10 d", "n3",
		 "127.0.1.1\tn3\n#127.0.1.1 c\n127.0.1.10 d\n",
		 "later 127.0.1.1 lines dropped; comments and 127.0.1.10 kept");
	hosts_is("# 127.0.0.1 in a comment\n", "n4",
		 "127.0.1.1\tn4\n# 127.0.0.1 in a comment\n",
		 "no localhost line: first");
	hosts_is("", "n5", "127.0.1.1\tn5\n", "empty file");
}

static void test_hostname_valid(void)
{
	ok(identity_hostname_valid("n1") && identity_hostname_valid("a-b.c0"),
	   "plain and dotted names");
	ok(!identity_hostname_valid("n_1") && !identity_hostname_valid("-a") &&
	   !identity_hostname_valid("a-") && !identity_hostname_valid("a..b") &&
	   !identity_hostname_valid("a.") && !identity_hostname_valid("") &&
	   !identity_hostname_valid("a+b") && !identity_hostname_valid(NULL),
	   "underscore, edge dashes, empty labels, '+' refused");
	ok(identity_hostname_valid("x23456789012345678901234567890123456789012"
				   "345678901234567890123") &&
	   !identity_hostname_valid("x234567890123456789012345678901234567890"
				    "12345678901234567890123x"),
	   "63 characters a label, not 64");
}

static int put(const char *root, const char *rel, const char *text)
{
	char *p = path_join(root, rel);
	int ret = write_file_atomic(p, text, strlen(text), 0644);

	free(p);
	return ret;
}

static char *get(const char *root, const char *rel)
{
	char *p = path_join(root, rel), *t = read_file(p, NULL, 1);

	free(p);
	return t;
}

static int exists(const char *root, const char *rel)
{
	char *p = path_join(root, rel);
	struct stat st;
	int ret = lstat(p, &st) == 0;

	free(p);
	return ret;
}

static void test_apply(const char *tmp)
{
	char *root = path_join(tmp, "root"), *outside = path_join(tmp, "outside");
	char *p, *t;
	struct identity_opts o = { root, "n7", IDENTITY_HOSTNAME |
				   IDENTITY_MACHINE_ID | IDENTITY_SSH_HOSTKEYS };
	struct identity_result r;

	p = path_join(root, "etc/ssh");
	mkdir_p(p, 0755);
	free(p);
	p = path_join(root, "var/lib/dbus");
	mkdir_p(p, 0755);
	free(p);
	put(tmp, "outside", "not the target's\n");
	put(root, "etc/hostname", "golden\n");
	p = path_join(root, "etc/hostname");
	chmod(p, 0604);
	free(p);
	put(root, "etc/machine-id", "0123456789abcdef0123456789abcdef\n");
	put(root, "var/lib/dbus/machine-id", "0123456789abcdef0123456789abcdef\n");
	put(root, "etc/ssh/ssh_host_ed25519_key", "k\n");
	put(root, "etc/ssh/ssh_host_ed25519_key.pub", "k\n");
	put(root, "etc/ssh/ssh_host_rsa_key-cert.pub", "c\n");
	put(root, "etc/ssh/sshd_config", "c\n");
	p = path_join(root, "etc/hosts");
	ok(symlink(outside, p) == 0, "etc/hosts: an absolute symlink out of the root");
	free(p);

	ok(identity_apply(&o, &r) == 0, "applies");
	t = get(root, "etc/hostname");
	is_str(t, "n7\n", "etc/hostname holds the name");
	free(t);
	p = path_join(root, "etc/hostname");
	{
		struct stat st;

		ok(stat(p, &st) == 0 && (st.st_mode & 07777) == 0604,
		   "etc/hostname keeps its mode");
	}
	free(p);
	t = get(tmp, "outside");
	is_str(t, "not the target's\n", "the symlinked etc/hosts: nothing "
	       "written through it");
	free(t);
	t = get(root, "etc/machine-id");
	is_str(t, "", "etc/machine-id empty");
	free(t);
	ok(!exists(root, "var/lib/dbus/machine-id"), "dbus's copy removed");
	ok(!exists(root, "etc/ssh/ssh_host_ed25519_key") &&
	   !exists(root, "etc/ssh/ssh_host_ed25519_key.pub") &&
	   exists(root, "etc/ssh/ssh_host_rsa_key-cert.pub") &&
	   exists(root, "etc/ssh/sshd_config"),
	   "host keys removed, certificates and configuration kept");
	ok(r.hostname_written && r.machine_id_reset && r.ssh_keys_removed == 2,
	   "the result counts what changed");

	p = path_join(root, "var/lib/dbus/machine-id");
	ok(symlink("/etc/machine-id", p) == 0, "dbus's machine-id a symlink");
	free(p);
	o.what = IDENTITY_MACHINE_ID;
	ok(identity_apply(&o, &r) == 0 && !r.machine_id_reset &&
	   exists(root, "var/lib/dbus/machine-id"),
	   "a symlinked dbus machine-id stays, an empty one is no change");

	ok(rootfs_write(root, "etc/hosts", "x", 1, 0644) == 0 &&
	   (t = get(tmp, "outside")) && !strcmp(t, "not the target's\n"),
	   "rootfs_write replaces a symlink, not its target");
	free(t);
	p = path_join(root, "lnk");
	symlink(tmp, p);
	free(p);
	ok(rootfs_write(root, "lnk/escaped", "x", 1, 0644) < 0 &&
	   !exists(tmp, "escaped"), "no directory followed out of the root");

	ok(identity_captured(root) == 0, "the reset tree holds no identity");
	put(root, "etc/machine-id", "feed\n");
	ok(identity_captured(root) == IDENTITY_MACHINE_ID, "a machine id seen");
	put(root, "etc/ssh/ssh_host_ecdsa_key.pub", "k\n");
	ok(identity_captured(root) == (IDENTITY_MACHINE_ID |
				       IDENTITY_SSH_HOSTKEYS), "host keys seen");
	free(root);
	free(outside);
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	char *tmp = path_join(t && *t ? t : "/tmp", "si-unit-identity.XXXXXX");

	log_init("identity");
	log_set_level(LOG_QUIET);
	test_hosts();
	test_hostname_valid();
	if (mkdtemp(tmp)) {
		test_apply(tmp);
		remove_tree(tmp);
	} else {
		ok(0, "cannot make a scratch directory");
	}
	free(tmp);
	return tap_done();
}
