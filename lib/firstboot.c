/* firstboot.c - see firstboot.h */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "firstboot.h"
#include "firstboot-files.h"
#include "log.h"
#include "rootfs.h"
#include "util.h"

/* Writes unit (text) and its multi-user.target.wants link.  Returns 0, 1
 * when the image has a symlink in the unit's place (masked), -1. */
static int install_unit(const char *root, const char *unit, const char *text)
{
	char *rel = xasprintf("%s/%s", FIRSTBOOT_UNIT_DIR, unit);
	char *link = xasprintf("%s/%s", FIRSTBOOT_WANTS_DIR, unit);
	char *dest = xasprintf("/%s", rel);
	struct stat st;
	int ret = rootfs_lstat(root, rel, &st);

	if (ret == 0 && S_ISLNK(st.st_mode)) {
		notice("%s is masked in the image: not installed", unit);
		ret = 1;
	} else if (ret >= 0) {
		ret = rootfs_write(root, rel, text, strlen(text), 0644) < 0 ||
		      rootfs_symlink(root, link, dest) < 0 ? -1 : 0;
	}
	free(rel);
	free(link);
	free(dest);
	return ret;
}

int firstboot_install_hostkeys(const char *root)
{
	return install_unit(root, FIRSTBOOT_HOSTKEYS_UNIT,
			    swarmimager_hostkeys_service);
}

int firstboot_install_report(const char *root, const struct firstboot_conf *c)
{
	char *conf;
	struct stat st;
	int ret = rootfs_lstat(root, FIRSTBOOT_UNIT_DIR "/"
			       FIRSTBOOT_REPORT_UNIT, &st);

	if (ret < 0)
		return -1;
	if (ret == 0 && S_ISLNK(st.st_mode)) {
		notice("%s is masked in the image: the first boot does not "
		       "report", FIRSTBOOT_REPORT_UNIT);
		return 1;
	}
	conf = xasprintf("# Written by si_boel: what swarmimager-firstboot "
			 "reports at this node's first boot.\n"
			 "SI_REPORT_URL='%s'\nSI_MAC='%s'\nIMAGENAME='%s'\n"
			 "INSTALL_HOSTNAME='%s'\n"
			 "# attempts, seconds between them, seconds for each\n"
			 "SI_REPORT_TRIES=6\nSI_REPORT_INTERVAL=10\n"
			 "SI_REPORT_TIMEOUT=5\n", c->report_url,
			 c->mac ? c->mac : "", c->image,
			 c->hostname ? c->hostname : "");
	ret = rootfs_write(root, FIRSTBOOT_SCRIPT, swarmimager_firstboot,
			   strlen(swarmimager_firstboot), 0755) < 0 ||
	      rootfs_write(root, FIRSTBOOT_CONF, conf, strlen(conf), 0644) < 0 ||
	      rootfs_unlink(root, "etc/swarmimager/firstboot.done") < 0 ? -1 :
	      install_unit(root, FIRSTBOOT_REPORT_UNIT,
			   swarmimager_firstboot_service);
	free(conf);
	return ret;
}
