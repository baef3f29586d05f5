/* netboot.c - see netboot.h */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "netboot.h"
#include "util.h"

/* Text is built with open_memstream(); it cannot fail short of memory. */
static FILE *text_open(char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);

	if (!f)
		die(1, "out of memory");
	return f;
}

static char *text_close(FILE *f, char **buf)
{
	if (fclose(f) != 0)
		die(1, "out of memory");
	return *buf;
}

char *netboot_dnsmasq_conf(const struct netboot_server *s)
{
	char *buf, *url = xasprintf("http://%s:%d/boot.ipxe", s->address,
				    s->http_port);
	size_t len;
	FILE *f = text_open(&buf, &len);

	fprintf(f, "# Written by si_mkbootserver at each start: edits are lost.\n"
		"# No DNS; DHCP and TFTP on %s only.\n"
		"port=0\nno-resolv\nno-hosts\n"
		"interface=%s\nbind-interfaces\n"
		"log-facility=-\nlog-dhcp\n"
		"dhcp-leasefile=%s\ndhcp-hostsfile=%s\n"
		"enable-tftp\ntftp-root=%s\n",
		s->interface, s->interface, s->leases, s->hosts_file,
		s->tftp_root);
	/* iPXE says so in its user class (and option 175); the firmware's
	 * own PXE gets iPXE by TFTP, for its architecture (RFC 4578:
	 * 7 and 9 are x86-64 UEFI). */
	fputs("dhcp-userclass=set:ipxe,iPXE\n"
	      "dhcp-match=set:ipxe,175\n"
	      "dhcp-match=set:efi64,option:client-arch,7\n"
	      "dhcp-match=set:efi64,option:client-arch,9\n", f);
	if (s->dhcp_range) {
		fprintf(f, "# Full DHCP: addresses from the range, fixed ones "
			"from the cluster table.\n"
			"dhcp-range=%s,1h\n"
			"dhcp-boot=tag:!ipxe,tag:!efi64," NETBOOT_BIOS_LOADER "\n"
			"dhcp-boot=tag:!ipxe,tag:efi64," NETBOOT_EFI_LOADER "\n",
			s->dhcp_range);
		/* iPXE itself: the script, over HTTP.  Without this a node
		 * would load iPXE again and again. */
		fprintf(f, "dhcp-boot=tag:ipxe,%s\n", url);
	} else {
		/* In proxy-DHCP a boot file goes through the PXE menu (boot
		 * server discovery), iPXE's included. */
		static const char *const csa[] = { "x86PC", "X86-64_EFI",
						   "BC_EFI" };

		fprintf(f, "# Proxy-DHCP: the site's DHCP server hands out the "
			"addresses; we answer PXE only.\n"
			"dhcp-range=%s,proxy\n"
			"pxe-prompt=\"SwarmImager\",0\n", s->address);
		for (size_t i = 0; i < ARRAY_SIZE(csa); i++)
			fprintf(f, "pxe-service=tag:!ipxe,%s,\"SwarmImager\",%s\n"
				"pxe-service=tag:ipxe,%s,\"SwarmImager\",%s\n",
				csa[i], i ? NETBOOT_EFI_LOADER :
				NETBOOT_BIOS_LOADER, csa[i], url);
	}
	free(url);
	return text_close(f, &buf);
}

char *netboot_dhcp_hosts(const struct cluster_table *t)
{
	char *buf;
	size_t len;
	FILE *f = text_open(&buf, &len);

	for (size_t i = 0; i < t->n; i++) {
		const struct cluster_host *h = &t->v[i];

		if (!*h->mac)
			continue;
		fprintf(f, "%s,%s%s%s\n", h->mac, h->name, h->ip ? "," : "",
			h->ip ? h->ip : "");
	}
	return text_close(f, &buf);
}

char *netboot_ipxe_chain(const char *base_url)
{
	return xasprintf("#!ipxe\n"
			 "chain %s/node/${netX/mac:hexhyp}\n", base_url);
}

char *netboot_ipxe_install(const struct netboot_boot *b)
{
	char *buf;
	size_t len;
	FILE *f = text_open(&buf, &len);
	const char *who = b->hostname ? b->hostname : b->mac;

	fprintf(f, "#!ipxe\n"
		"echo SwarmImager: %s (%s): installing %s%s\n"
		"kernel %s/boel/vmlinuz initrd=initrd.img ip=dhcp "
		"IMAGESERVER=%s", who, b->mac, b->image ? "image " : "the image "
		"of cluster.txt", b->image ? b->image : "", b->base_url,
		b->imageserver);
	if (b->image)
		fprintf(f, " IMAGENAME=%s", b->image);
	if (b->hostname)
		fprintf(f, " HOSTNAME=%s", b->hostname);
	if (b->monitor)
		fprintf(f, " MONITOR_SERVER=%s", b->monitor);
	fprintf(f, " SI_MAC=%s SI_REPORT_URL=%s/report", b->mac, b->base_url);
	if (b->kernel_args && *b->kernel_args)
		fprintf(f, " %s", b->kernel_args);
	/* A failed fetch retries rather than falling through to the disk:
	 * the node was marked for installation. */
	fprintf(f, " || goto retry\n"
		"initrd %s/boel/initrd.img || goto retry\n"
		"boot || goto retry\n"
		":retry\n"
		"echo SwarmImager: cannot load BOEL from %s; again in 10 s\n"
		"sleep 10\n"
		"chain %s/node/%s\n", b->base_url, b->base_url, b->base_url,
		b->mac);
	return text_close(f, &buf);
}

char *netboot_ipxe_local(const char *who)
{
	/* "exit" hands the boot back to the firmware, which goes on to the
	 * next boot device: the disk.  With a failure status: UEFI's boot
	 * manager takes a success for a finished boot and stops at its
	 * menu. */
	return xasprintf("#!ipxe\n"
			 "echo SwarmImager: %s: booting from the local disk\n"
			 "exit 1\n", who);
}

const char *netboot_next_name(enum netboot_next n)
{
	return n == NETBOOT_INSTALL ? "install" : n == NETBOOT_LOCAL ?
		"local" : "";
}

int netboot_next_parse(const char *s, enum netboot_next *n)
{
	if (!strcmp(s, "install") || !strcmp(s, "netboot"))
		*n = NETBOOT_INSTALL;
	else if (!strcmp(s, "local") || !strcmp(s, "localboot"))
		*n = NETBOOT_LOCAL;
	else
		return -1;
	return 0;
}

char *netboot_node_key(const char *hostname, const char *mac)
{
	char *k;

	if (hostname)
		return xstrdup(hostname);
	k = xasprintf("mac-%s", mac);
	for (char *p = k; *p; p++)
		if (*p == ':')
			*p = '-';
	return k;
}

int netboot_state_load(const char *dir, const char *key,
		       struct netboot_state *s)
{
	char *path = path_join(dir, key);
	const char *v;
	struct config c;
	int ret;

	memset(s, 0, sizeof(*s));
	config_init(&c);
	ret = config_load_file(&c, path, 0, 1) < 0 ? -1 : 0;
	if (!ret && (v = config_get(&c, "next")) && *v &&
	    netboot_next_parse(v, &s->next) < 0)
		ret = error("%s: invalid next '%s' (install or local)", path, v);
	if (!ret && (v = config_get(&c, "image")) && *v)
		s->image = xstrdup(v);
	if (!ret && (v = config_get(&c, "status")) && *v) {
		s->has_status = 1;
		s->status = strtol(v, NULL, 10);
		v = config_get(&c, "status_time");
		s->status_time = v ? (time_t)strtoll(v, NULL, 10) : 0;
		v = config_get(&c, "status_message");
		s->status_message = v && *v ? xstrdup(v) : NULL;
	}
	config_release(&c);
	free(path);
	return ret;
}

/* A value on one line: no newline, no quote that the reader would take. */
static void put_value(FILE *f, const char *key, const char *v)
{
	fprintf(f, "%s=\"", key);
	for (; *v; v++)
		if (*v == '"' || *v == '\\' || *v == '$' || *v == '`')
			fprintf(f, "\\%c", *v);
		else
			fputc(*v == '\n' || *v == '\r' ? ' ' : *v, f);
	fputs("\"\n", f);
}

int netboot_state_save(const char *dir, const char *key,
		       const struct netboot_state *s)
{
	char *buf, *path;
	size_t len;
	FILE *f = text_open(&buf, &len);
	int ret;

	fputs("# swarmimager boot state (si_mkclientnetboot, si_mkbootserver)\n", f);
	if (s->next != NETBOOT_UNSET)
		fprintf(f, "next=%s\n", netboot_next_name(s->next));
	if (s->image)
		put_value(f, "image", s->image);
	if (s->has_status) {
		fprintf(f, "status=%ld\nstatus_time=%lld\n", s->status,
			(long long)s->status_time);
		if (s->status_message)
			put_value(f, "status_message", s->status_message);
	}
	text_close(f, &buf);
	path = path_join(dir, key);
	ret = mkdir_p(dir, 0755) < 0 ? -1 :
		write_file_atomic(path, buf, strlen(buf), 0644);
	free(path);
	free(buf);
	return ret;
}

void netboot_state_release(struct netboot_state *s)
{
	free(s->image);
	free(s->status_message);
	memset(s, 0, sizeof(*s));
}

int netboot_lock(const char *dir)
{
	char *path = path_join(dir, ".lock");
	int fd = -1;

	if (mkdir_p(dir, 0755) == 0) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			error_errno("cannot open '%s'", path);
		else if (flock(fd, LOCK_EX) < 0) {
			error_errno("cannot lock '%s'", path);
			close(fd);
			fd = -1;
		}
	}
	free(path);
	return fd;
}

void netboot_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
