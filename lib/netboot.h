/* netboot.h - what the boot server hands out: the dnsmasq configuration
 * (DHCP or proxy-DHCP, TFTP of iPXE only), the iPXE scripts that boot a
 * node into BOEL or on from its own disk, and each node's boot state.
 *
 * The chain: the node's firmware PXE (or its NIC's iPXE ROM) asks DHCP;
 * firmware that is not iPXE gets iPXE by TFTP (undionly.kpxe for BIOS,
 * snponly.efi for UEFI); iPXE (user class "iPXE") is sent to
 * http://SERVER:PORT/boot.ipxe, which chains to /node/MAC, which answers
 * with the node's script: BOEL's kernel and initrd over HTTP with its
 * settings on the command line, or "exit" to the next boot device.
 *
 * A node's state is a KEY=value file BASE/netboot/NODE (NODE: its host
 * name in cluster.txt, else "mac-52-54-00-12-34-56"):
 *   next=install|local   what its next network boot does
 *   image=NAME           what it installs when next=install (optional)
 *   status=N, status_time=EPOCH, status_message=TEXT   its last report
 * A report of status 100 (imaged) turns next to local: "net boot once".
 */
#ifndef SI_NETBOOT_H
#define SI_NETBOOT_H

#include <stddef.h>
#include <time.h>

#include "cluster.h"

#define NETBOOT_HTTP_PORT 8070
#define NETBOOT_DIR "netboot"		/* under BASE */
#define NETBOOT_BIOS_LOADER "undionly.kpxe"
#define NETBOOT_EFI_LOADER "snponly.efi"
#define NETBOOT_STATUS_IMAGED 100
#define NETBOOT_STATUS_REBOOTED 102

/* What the dnsmasq configuration is made of. */
struct netboot_server {
	const char *interface;	/* the boot network's interface */
	const char *address;	/* our IPv4 address on it (HTTP, TFTP) */
	int http_port;
	const char *dhcp_range;	/* "START,END[,NETMASK]": full DHCP;
				 * NULL: proxy-DHCP */
	const char *tftp_root;
	const char *leases;	/* dnsmasq's lease file */
	const char *hosts_file;	/* dhcp-hostsfile (reservations) */
};

/* Returns dnsmasq.conf, newly allocated. */
char *netboot_dnsmasq_conf(const struct netboot_server *s);
/* Returns the dhcp-hostsfile lines ("MAC,NAME[,IP]") of the hosts of t
 * that have a MAC, newly allocated. */
char *netboot_dhcp_hosts(const struct cluster_table *t);

/* What a node's BOEL is told on its kernel command line. */
struct netboot_boot {
	const char *base_url;	/* "http://10.0.0.1:8070" */
	const char *imageserver;
	const char *image;	/* NULL: si_boel takes it from cluster.txt */
	const char *hostname;	/* NULL for an unknown node */
	const char *mac;	/* colon form */
	const char *monitor;	/* MONITOR_SERVER, or NULL */
	const char *kernel_args;	/* more words, or NULL */
};

/* The scripts, newly allocated.  who names the node in messages. */
char *netboot_ipxe_chain(const char *base_url);
char *netboot_ipxe_install(const struct netboot_boot *b);
char *netboot_ipxe_local(const char *who);

enum netboot_next { NETBOOT_UNSET, NETBOOT_INSTALL, NETBOOT_LOCAL };

struct netboot_state {
	enum netboot_next next;
	char *image;		/* or NULL */
	int has_status;
	long status;
	time_t status_time;
	char *status_message;	/* or NULL */
};

/* "install", "local" or "" (unset). */
const char *netboot_next_name(enum netboot_next n);
/* Parses "install"/"netboot" or "local"/"localboot".  Returns 0 or -1. */
int netboot_next_parse(const char *s, enum netboot_next *n);

/* The state file's name for a node: its host name, else "mac-" and the
 * MAC with hyphens.  Newly allocated. */
char *netboot_node_key(const char *hostname, const char *mac);

/* Loads dir/key into s (zeroed first; an absent file is an empty state).
 * Returns 0 or -1 with a message. */
int netboot_state_load(const char *dir, const char *key,
		       struct netboot_state *s);
/* Writes dir/key atomically.  Returns 0 or -1 with a message. */
int netboot_state_save(const char *dir, const char *key,
		       const struct netboot_state *s);
void netboot_state_release(struct netboot_state *s);

/* Takes the lock of dir (created when missing) that serializes state
 * updates.  Returns a descriptor to pass to netboot_unlock(), or -1 with
 * a message. */
int netboot_lock(const char *dir);
void netboot_unlock(int fd);

#endif
