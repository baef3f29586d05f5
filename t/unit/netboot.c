/* Unit tests of lib/cluster.c (the cluster table with MACs) and
 * lib/netboot.c (dnsmasq configuration, iPXE scripts, boot states). */
#include <stdlib.h>
#include <unistd.h>

#include "cluster.h"
#include "log.h"
#include "netboot.h"
#include "tap.h"
#include "util.h"

static void test_table(void)
{
	struct cluster_table t = { 0 };
	const struct cluster_host *h;
	char mac[18];

	ok(cluster_mac("52-54-00-AB-cd-EF", mac) == 0 &&
	   !strcmp(mac, "52:54:00:ab:cd:ef"), "a MAC with hyphens, any case");
	ok(cluster_mac("52:54:00:ab:cd", mac) < 0, "five pairs are no MAC");
	ok(cluster_mac("52:54:00:ab:cd:ef:", mac) < 0, "nor a trailing colon");
	ok(cluster_parse(&t,
		"# host:group:image:override:mac[:ip]\n"
		"*:::site\n"
		"node1:compute:img::52:54:00:00:00:01:10.0.0.21\n"
		" node2 : compute : img : : 52-54-00-00-00-02  # no address\n"
		"node2:gpu::gpu-drivers\n"
		"node3:compute\n", "t") == 0, "parses an extended table");
	ok(t.n == 3, "three hosts, the global line is none (%zu)", t.n);
	h = cluster_by_mac(&t, "52:54:00:00:00:01");
	ok(h && !strcmp(h->name, "node1") && h->ip &&
	   !strcmp(h->ip, "10.0.0.21"), "MAC and address of node1");
	h = cluster_by_mac(&t, "52-54-00-00-00-02");
	ok(h && !strcmp(h->name, "node2") && !h->ip && !strcmp(h->image, "img")
	   && !strcmp(h->group, "compute"), "node2 by a MAC in the other form");
	h = cluster_by_name(&t, "node3");
	ok(h && !*h->mac && !h->image, "node3 has neither MAC nor image");
	cluster_release(&t);

	ok(cluster_parse(&t, "a:g:i::52:54:00:00:00:01\nb:g:i::52:54:00:00:00:01\n",
			 "t") < 0, "a MAC given to two hosts is refused");
	cluster_release(&t);
	ok(cluster_parse(&t, "a:g:i::52:54:00:00:00:01\na:h:i::52:54:00:00:00:09\n",
			 "t") < 0, "two MACs for one host are refused");
	cluster_release(&t);
	ok(cluster_parse(&t, "a:g:i::52:54:00:00:00:01:10.0.0\n", "t") < 0,
	   "a bad address is refused");
	cluster_release(&t);
	ok(cluster_parse(&t, "a:g:i::zz:54:00:00:00:01\n", "t") < 0,
	   "a bad MAC is refused");
	cluster_release(&t);
	ok(cluster_parse(&t, "a:g:i:ov\n", "t") == 0 && t.n == 1,
	   "a four-field table still parses");
	cluster_release(&t);
}

static void test_dnsmasq(void)
{
	struct netboot_server s = { "br0", "10.0.0.1", 8070,
		"10.0.0.100,10.0.0.150", "/r/tftp", "/r/leases", "/r/hosts" };
	char *c = netboot_dnsmasq_conf(&s);

	ok(strstr(c, "\ninterface=br0\nbind-interfaces\n") &&
	   strstr(c, "\nport=0\n"), "bound to the interface, no DNS");
	ok(strstr(c, "\ndhcp-range=10.0.0.100,10.0.0.150,1h\n") &&
	   !strstr(c, "proxy"), "full DHCP with the range");
	ok(strstr(c, "dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe\n") &&
	   strstr(c, "dhcp-boot=tag:!ipxe,tag:efi64,snponly.efi\n"),
	   "firmware PXE gets iPXE for its architecture");
	ok(strstr(c, "dhcp-boot=tag:ipxe,http://10.0.0.1:8070/boot.ipxe\n") &&
	   strstr(c, "dhcp-userclass=set:ipxe,iPXE\n"),
	   "iPXE gets the script: no chain-load loop");
	free(c);
	s.dhcp_range = NULL;
	c = netboot_dnsmasq_conf(&s);
	ok(strstr(c, "\ndhcp-range=10.0.0.1,proxy\n") &&
	   strstr(c, "pxe-service=tag:!ipxe,x86PC,\"SwarmImager\",undionly.kpxe\n") &&
	   strstr(c, "pxe-service=tag:!ipxe,X86-64_EFI,\"SwarmImager\",snponly.efi\n"),
	   "proxy-DHCP answers PXE only");
	ok(strstr(c, "pxe-service=tag:ipxe,x86PC,\"SwarmImager\","
		  "http://10.0.0.1:8070/boot.ipxe\n") && !strstr(c, "dhcp-boot"),
	   "proxy-DHCP sends iPXE to the script through the PXE menu");
	free(c);
}

static void test_scripts(void)
{
	struct netboot_boot b = { "http://10.0.0.1:8070", "10.0.0.1", "img",
		"node1", "52:54:00:00:00:01", NULL, "console=ttyS0" };
	char *s = netboot_ipxe_install(&b);

	ok(!strncmp(s, "#!ipxe\n", 7), "an iPXE script");
	ok(strstr(s, "kernel http://10.0.0.1:8070/boel/vmlinuz initrd=initrd.img "
		  "ip=dhcp IMAGESERVER=10.0.0.1 IMAGENAME=img HOSTNAME=node1 "
		  "SI_MAC=52:54:00:00:00:01 "
		  "SI_REPORT_URL=http://10.0.0.1:8070/report console=ttyS0 "
		  "|| goto retry\n") != NULL, "BOEL with the node's settings");
	ok(strstr(s, "initrd http://10.0.0.1:8070/boel/initrd.img") != NULL,
	   "the initrd over HTTP");
	free(s);
	b.image = b.hostname = NULL;
	s = netboot_ipxe_install(&b);
	ok(!strstr(s, "IMAGENAME") && !strstr(s, "HOSTNAME"),
	   "an unknown node is not named");
	free(s);
	s = netboot_ipxe_local("node1");
	ok(strstr(s, "\nexit 1\n") != NULL, "local boot exits to the firmware, "
	   "with a failure so that UEFI tries the next device");
	free(s);
	s = netboot_ipxe_chain("http://h:1");
	is_str(s, "#!ipxe\nchain http://h:1/node/${netX/mac:hexhyp}\n",
	       "the first script asks by MAC");
	free(s);
}

static void test_state(void)
{
	char dir[] = "/tmp/si-unit-netboot-XXXXXX";
	struct netboot_state st = { 0 }, back;
	char *k;

	ok(mkdtemp(dir) != NULL, "a state directory");
	ok(netboot_state_load(dir, "node1", &back) == 0 &&
	   back.next == NETBOOT_UNSET && !back.has_status,
	   "no file is an empty state");
	st.next = NETBOOT_INSTALL;
	st.image = "img";
	st.has_status = 1;
	st.status = -1;
	st.status_time = 1700000000;
	st.status_message = "disk \"vda\" too small; $HOME\nnext";
	ok(netboot_state_save(dir, "node1", &st) == 0, "saved");
	ok(netboot_state_load(dir, "node1", &back) == 0, "loaded");
	ok(back.next == NETBOOT_INSTALL && back.image &&
	   !strcmp(back.image, "img") && back.status == -1 &&
	   back.status_time == 1700000000, "the same state back");
	is_str(back.status_message, "disk \"vda\" too small; $HOME next",
	       "a message with quotes, $ and a newline survives");
	netboot_state_release(&back);
	k = netboot_node_key(NULL, "52:54:00:00:00:01");
	is_str(k, "mac-52-54-00-00-00-01", "an unknown node's key");
	free(k);
	{
		char *cmd = xasprintf("rm -rf '%s'", dir);

		ok(system(cmd) == 0, "cleaned up");
		free(cmd);
	}
}

int main(int argc, char **argv)
{
	(void)argc;
	log_init(argv[0]);
	log_set_level(-1);
	test_table();
	test_dnsmasq();
	test_scripts();
	test_state();
	return tap_done();
}
