/* firstboot.h - what an installed node does at its first boot, written
 * into its root by si_boel: systemd units and their settings.
 *
 *   swarmimager-hostkeys.service   ssh-keygen -A before the SSH server,
 *                                  for a root whose host keys were removed
 *   swarmimager-firstboot.service  runs /usr/lib/swarmimager/firstboot once
 *                                  the network is up: reports status 102 to
 *                                  SI_REPORT_URL, then disables itself
 *
 * The texts are the files of boel/firstboot/, built in.  A unit whose
 * place in the image is a symlink (masked: a link to /dev/null) is left
 * alone and not enabled.
 */
#ifndef SI_FIRSTBOOT_H
#define SI_FIRSTBOOT_H

#define FIRSTBOOT_UNIT_DIR "etc/systemd/system"
#define FIRSTBOOT_WANTS_DIR FIRSTBOOT_UNIT_DIR "/multi-user.target.wants"
#define FIRSTBOOT_REPORT_UNIT "swarmimager-firstboot.service"
#define FIRSTBOOT_HOSTKEYS_UNIT "swarmimager-hostkeys.service"
#define FIRSTBOOT_SCRIPT "usr/lib/swarmimager/firstboot"
#define FIRSTBOOT_CONF "etc/swarmimager/firstboot.conf"

/* What the first boot reports besides its own findings (host name,
 * machine id, host key fingerprints).  Values go into a shell file in
 * single quotes: none may hold a quote (si_boel checked them). */
struct firstboot_conf {
	const char *report_url;	/* SI_REPORT_URL */
	const char *mac;	/* SI_MAC, or "" */
	const char *image;	/* IMAGENAME */
	const char *hostname;	/* HOSTNAME, or NULL */
};

/* Writes swarmimager-hostkeys.service into root and enables it.  Returns
 * 0, 1 when the image masks it, -1 with a message. */
int firstboot_install_hostkeys(const char *root);

/* Writes the report script, its settings and swarmimager-firstboot.service
 * into root and enables it.  Returns 0, 1 when the image masks the unit
 * (nothing written), -1 with a message. */
int firstboot_install_report(const char *root, const struct firstboot_conf *c);

#endif
