/* si_mkbootserver - the network boot server: sets up and supervises a
 * dnsmasq that answers DHCP (full, or proxy-DHCP beside the site's own
 * server) and serves iPXE by TFTP, and itself serves over HTTP the iPXE
 * scripts that decide each node's boot, BOEL's kernel and initrd, and the
 * nodes' reports.
 *
 * Which node boots what comes from the cluster table (BASE/scripts/
 * cluster.txt, with each host's MAC) and the boot states of BASE/netboot
 * (set by si_mkclientnetboot): a node marked for installation gets BOEL
 * with its settings on the kernel command line; once it reports status
 * 100 (imaged) its next boot is from its disk.  See netboot.h for the
 * chain and si_mkbootserver(8).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <microhttpd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "cluster.h"
#include "log.h"
#include "netboot.h"
#include "opts.h"
#include "paths.h"
#include "port.h"
#include "util.h"

#define RESCAN_INTERVAL 2.0	/* seconds between looks at cluster.txt */
#define STOP_TIMEOUT 5.0
#define START_TIMEOUT 10.0	/* seconds for dnsmasq to listen */

struct options {
	char *base, *interface, *address, *dhcp_range, *http_port, *boel_dir;
	char *imageserver, *default_boot, *unknown_image, *kernel_args;
	char *monitor, *dnsmasq, *ipxe_dir;
	int proxy, print_config;
};

struct bootserver {
	struct si_paths paths;
	const struct options *o;
	const char *address, *imageserver;
	char *addr_buf, *base_url, *run, *tftp, *conf, *hosts, *leases;
	char *pidfile, *cluster_path, *state_dir, *reports, *vmlinuz, *initrd;
	int http_port;
	enum netboot_next default_next;
	struct netboot_server ns;
	struct child dnsmasq;
	struct MHD_Daemon *http;
	pthread_mutex_t lock;		/* table, reports */
	struct cluster_table table;
	struct timespec cluster_mtime;
	int have_cluster;
};

static volatile sig_atomic_t got_stop;

static void on_signal(int sig)
{
	got_stop = sig;
}

static void setup_signals(void)
{
	daemon_signals(on_signal, 0);
}

/* ---- the cluster table ---- */

/* Reads cluster.txt when it changed.  A table that does not parse keeps
 * the last good one.  Returns 1 when the table changed, 0 when not, -1
 * on a first read that failed. */
static int load_cluster(struct bootserver *bs, int first)
{
	struct cluster_table t = { 0 };
	struct stat st;
	char *text;
	int ret;

	if (stat(bs->cluster_path, &st) < 0) {
		if (errno != ENOENT)
			warning_errno("cannot read '%s'", bs->cluster_path);
		else if (first)
			warning("no %s: every node is unknown",
				bs->cluster_path);
		st.st_mtim.tv_sec = st.st_mtim.tv_nsec = 0;
	}
	if (!first && st.st_mtim.tv_sec == bs->cluster_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == bs->cluster_mtime.tv_nsec)
		return 0;
	bs->cluster_mtime = st.st_mtim;
	text = st.st_mtim.tv_sec ? read_file(bs->cluster_path, NULL, 1) : NULL;
	ret = cluster_parse(&t, text ? text : "", bs->cluster_path);
	free(text);
	if (ret < 0) {
		cluster_release(&t);
		if (first)
			return -1;
		warning("keeping the cluster table read before");
		return 0;
	}
	pthread_mutex_lock(&bs->lock);
	cluster_release(&bs->table);
	bs->table = t;
	pthread_mutex_unlock(&bs->lock);
	if (!first)
		notice("read %s again: %zu hosts", bs->cluster_path, t.n);
	return 1;
}

static int write_hosts(struct bootserver *bs)
{
	char *s;
	int ret;

	pthread_mutex_lock(&bs->lock);
	s = netboot_dhcp_hosts(&bs->table);
	pthread_mutex_unlock(&bs->lock);
	ret = write_file_atomic(bs->hosts, s, strlen(s), 0644);
	free(s);
	return ret;
}

/* ---- HTTP ---- */

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code,
				  char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(text), text, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_file(struct MHD_Connection *c, const char *path)
{
	struct MHD_Response *r;
	struct stat st;
	enum MHD_Result ret;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		warning_errno("cannot open '%s'", path);
		if (fd >= 0)
			close(fd);
		return reply_text(c, MHD_HTTP_NOT_FOUND,
				  xasprintf("cannot open %s\n", path));
	}
	r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	MHD_add_response_header(r, "Content-Type", "application/octet-stream");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static const char *peer(struct MHD_Connection *c, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr_in *sin;

	if (!i || !i->client_addr || i->client_addr->sa_family != AF_INET)
		return "?";
	sin = (const struct sockaddr_in *)(const void *)i->client_addr;
	return inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)size);
}

/* The script of the node with MAC: BOEL or its disk. */
static char *node_script(struct bootserver *bs, const char *mac,
			 const char *from)
{
	const struct cluster_host *h;
	struct netboot_state st;
	struct netboot_boot b = { 0 };
	enum netboot_next next;
	char *key, *host = NULL, *image = NULL, *script;
	int fd;

	pthread_mutex_lock(&bs->lock);
	h = cluster_by_mac(&bs->table, mac);
	if (h) {
		host = xstrdup(h->name);
		image = h->image ? xstrdup(h->image) : NULL;
	}
	pthread_mutex_unlock(&bs->lock);
	key = netboot_node_key(host, mac);
	fd = netboot_lock(bs->state_dir);
	if (fd < 0 || netboot_state_load(bs->state_dir, key, &st) < 0)
		memset(&st, 0, sizeof(st));
	netboot_unlock(fd);
	next = st.next != NETBOOT_UNSET ? st.next :
		host ? bs->default_next :
		bs->o->unknown_image ? NETBOOT_INSTALL : NETBOOT_LOCAL;
	if (st.image) {
		free(image);
		image = xstrdup(st.image);
	} else if (!host && bs->o->unknown_image)
		image = xstrdup(bs->o->unknown_image);
	if (next == NETBOOT_INSTALL && (host || image)) {
		b.base_url = bs->base_url;
		b.imageserver = bs->imageserver;
		b.image = image;
		b.hostname = host;
		b.mac = mac;
		b.monitor = bs->o->monitor;
		b.kernel_args = bs->o->kernel_args;
		script = netboot_ipxe_install(&b);
		notice("%s (%s, %s): boots BOEL to install %s", key, mac, from,
		       image ? image : "the image of cluster.txt");
	} else {
		script = netboot_ipxe_local(key);
		notice("%s (%s, %s): boots from its disk%s", key, mac, from,
		       host ? "" : " (not in the cluster table)");
	}
	netboot_state_release(&st);
	free(key);
	free(host);
	free(image);
	return script;
}

static const char *arg(struct MHD_Connection *c, const char *key)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
						    key);

	return v && *v ? v : NULL;
}

static enum MHD_Result report_kv(void *cls, enum MHD_ValueKind kind, const char *key,
		     const char *value)
{
	FILE *f = cls;

	(void)kind;
	if (strcmp(key, "mac") && strcmp(key, "status"))
		fprintf(f, " %s=%s", key, value ? value : "");
	return MHD_YES;
}

/* GET /report?mac=..&status=N[&...]: the status of a node (SystemImager's
 * codes); 100 turns its next boot to the disk. */
static enum MHD_Result report(struct bootserver *bs, struct MHD_Connection *c,
			      const char *from)
{
	const char *mac_arg = arg(c, "mac"), *status = arg(c, "status");
	const char *msg = arg(c, "message");
	const struct cluster_host *h;
	struct netboot_state st;
	char mac[18], *key, *line, *rest;
	size_t len;
	long code;
	FILE *f;
	int fd;

	if (!mac_arg || cluster_mac(mac_arg, mac) < 0 || !status ||
	    parse_long(status, -1000, 1000, &code) < 0)
		return reply_text(c, MHD_HTTP_BAD_REQUEST, xstrdup(
			"needs mac=MAC and status=N\n"));
	pthread_mutex_lock(&bs->lock);
	h = cluster_by_mac(&bs->table, mac);
	key = netboot_node_key(h ? h->name : NULL, mac);
	pthread_mutex_unlock(&bs->lock);
	f = open_memstream(&rest, &len);
	if (!f)
		die(1, "out of memory");
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, report_kv, f);
	fclose(f);
	notice("%s (%s, %s): status %ld%s%s", key, mac, from, code,
	       code == NETBOOT_STATUS_IMAGED ? " (imaged)" :
	       code == NETBOOT_STATUS_REBOOTED ? " (rebooted)" :
	       code < 0 ? " (failed)" : "", rest);
	fd = netboot_lock(bs->state_dir);
	if (fd >= 0 && netboot_state_load(bs->state_dir, key, &st) == 0) {
		st.has_status = 1;
		st.status = code;
		st.status_time = time(NULL);
		free(st.status_message);
		st.status_message = msg ? xstrdup(msg) : NULL;
		if (code == NETBOOT_STATUS_IMAGED)
			st.next = NETBOOT_LOCAL;
		netboot_state_save(bs->state_dir, key, &st);
		netboot_state_release(&st);
	}
	line = xasprintf("%lld node=%s mac=%s from=%s status=%ld%s\n",
			 (long long)time(NULL), key, mac, from, code, rest);
	if (fd >= 0) {
		int rfd = open(bs->reports, O_WRONLY | O_APPEND | O_CREAT |
			       O_CLOEXEC, 0644);

		if (rfd < 0 || write_all(rfd, line, strlen(line)) < 0)
			warning_errno("cannot append to '%s'", bs->reports);
		if (rfd >= 0)
			close(rfd);
	}
	netboot_unlock(fd);
	free(line);
	free(rest);
	free(key);
	return reply_text(c, MHD_HTTP_OK, xstrdup("ok\n"));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct bootserver *bs = cls;
	char from[INET_ADDRSTRLEN], mac[18];

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				  xstrdup("GET only\n"));
	peer(c, from, sizeof(from));
	if (!strcmp(url, "/boot.ipxe"))
		return reply_text(c, MHD_HTTP_OK,
				  netboot_ipxe_chain(bs->base_url));
	if (!strncmp(url, "/node/", 6)) {
		if (cluster_mac(url + 6, mac) < 0)
			return reply_text(c, MHD_HTTP_NOT_FOUND,
					  xstrdup("no such MAC\n"));
		return reply_text(c, MHD_HTTP_OK, node_script(bs, mac, from));
	}
	if (!strcmp(url, "/boel/vmlinuz"))
		return reply_file(c, bs->vmlinuz);
	if (!strcmp(url, "/boel/initrd.img"))
		return reply_file(c, bs->initrd);
	if (!strcmp(url, "/report"))
		return report(bs, c, from);
	return reply_text(c, MHD_HTTP_NOT_FOUND, xasprintf("no %s here\n", url));
}

static int start_http(struct bootserver *bs)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)bs->http_port) };

	inet_pton(AF_INET, bs->address, &sin.sin_addr);
	bs->http = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD |
				    MHD_USE_ERROR_LOG, 0, NULL, NULL,
				    on_request, bs,
				    MHD_OPTION_SOCK_ADDR, &sin,
				    MHD_OPTION_CONNECTION_TIMEOUT, 60u,
				    MHD_OPTION_END);
	if (!bs->http)
		return error("cannot serve HTTP on %s:%d (is the port in use?)",
			     bs->address, bs->http_port);
	return 0;
}

/* ---- setup ---- */

static int copy_file(const char *from, const char *to)
{
	size_t len;
	char *data = read_file(from, &len, 0);
	int ret;

	if (!data)
		return -1;
	ret = write_file_atomic(to, data, len, 0644);
	free(data);
	return ret;
}

/* The TFTP root holds the first-stage loaders and nothing else. */
static int make_tftp_root(struct bootserver *bs)
{
	const char *loaders[] = { NETBOOT_BIOS_LOADER, NETBOOT_EFI_LOADER };
	const char *dir = bs->o->ipxe_dir ? bs->o->ipxe_dir : "/usr/lib/ipxe";

	if (mkdir_p(bs->tftp, 0755) < 0 || chmod(bs->run, 0755) < 0)
		return error_errno("cannot make '%s'", bs->tftp);
	for (size_t i = 0; i < ARRAY_SIZE(loaders); i++) {
		char *from = path_join(dir, loaders[i]);
		char *to = path_join(bs->tftp, loaders[i]);
		int ret = 0;

		if (access(from, R_OK) < 0)
			ret = error("no iPXE loader '%s' (install Debian's "
				    "ipxe package, or give --ipxe-dir)", from);
		else
			ret = copy_file(from, to);
		free(from);
		free(to);
		if (ret < 0)
			return -1;
	}
	return 0;
}

static int write_config(struct bootserver *bs)
{
	char *conf = netboot_dnsmasq_conf(&bs->ns);
	int ret = write_file_atomic(bs->conf, conf, strlen(conf), 0644);

	free(conf);
	if (!ret && access(bs->leases, F_OK) < 0)
		ret = write_file_atomic(bs->leases, "", 0, 0644);
	return ret < 0 || write_hosts(bs) < 0 ? -1 : 0;
}

static int dnsmasq_listening(void)
{
	FILE *f = fopen("/proc/net/udp", "r");
	char line[256];
	int found = 0;

	if (!f)
		return 0;
	/* Port 67 bound in this network namespace ("sl: ADDR:PORT ..."). */
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned addr, port;

		found = sscanf(line, " %*u: %8X:%4X", &addr, &port) == 2 &&
			port == 67;
	}
	fclose(f);
	return found;
}

static int start_dnsmasq(struct bootserver *bs)
{
	char *conf_arg = xasprintf("--conf-file=%s", bs->conf);
	char *pid_arg = xasprintf("--pid-file=%s", bs->pidfile);
	const char *argv[] = { bs->o->dnsmasq ? bs->o->dnsmasq : "dnsmasq",
			       "--keep-in-foreground", conf_arg, pid_arg, NULL };
	double until = now_monotonic() + START_TIMEOUT;
	char how[96];
	int ret = 0;

	child_init(&bs->dnsmasq, "dnsmasq", argv, NULL);
	free(conf_arg);
	free(pid_arg);
	if (child_start(&bs->dnsmasq) < 0)
		return -1;
	while (!dnsmasq_listening()) {
		if (child_reap(&bs->dnsmasq)) {
			child_status_str(bs->dnsmasq.last_status, how,
					 sizeof(how));
			return error("dnsmasq %s while starting (its messages "
				     "are above; configuration %s)", how,
				     bs->conf);
		}
		if (now_monotonic() > until || got_stop) {
			ret = error("dnsmasq does not listen on port 67 after "
				    "%.0f s", START_TIMEOUT);
			break;
		}
		usleep(50 * 1000);
	}
	return ret;
}

static void supervise(struct bootserver *bs)
{
	pid_t pid = bs->dnsmasq.pid;
	char how[96];

	if (child_reap(&bs->dnsmasq)) {
		child_status_str(bs->dnsmasq.last_status, how, sizeof(how));
		warning("dnsmasq (pid %d) %s; restarting it in %.1f s",
			(int)pid, how, bs->dnsmasq.restart_at - now_monotonic());
	}
	if (child_tick(&bs->dnsmasq) > 0)
		notice("restarted dnsmasq (pid %d, restart %d)",
		       (int)bs->dnsmasq.pid, bs->dnsmasq.restarts);
}

static void run(struct bootserver *bs)
{
	double next_scan = now_monotonic() + RESCAN_INTERVAL;

	while (!got_stop) {
		usleep(200 * 1000);
		supervise(bs);
		if (now_monotonic() < next_scan)
			continue;
		next_scan = now_monotonic() + RESCAN_INTERVAL;
		if (load_cluster(bs, 0) > 0 && write_hosts(bs) == 0)
			child_signal(&bs->dnsmasq, SIGHUP);
	}
	notice("stopping (signal %d)", (int)got_stop);
}

/* The first IPv4 address of the interface, newly allocated, or NULL. */
static char *interface_address(const char *ifname)
{
	struct ifaddrs *ifa, *i;
	char buf[INET_ADDRSTRLEN], *found = NULL;

	if (getifaddrs(&ifa) < 0)
		return NULL;
	for (i = ifa; i && !found; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    !strcmp(i->ifa_name, ifname) &&
		    inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)
					  i->ifa_addr)->sin_addr, buf,
			      sizeof(buf)))
			found = xstrdup(buf);
	freeifaddrs(ifa);
	return found;
}

/* "START,END[,NETMASK]" with IPv4 addresses. */
static int valid_range(const char *s)
{
	char *copy = xstrdup(s), *save = NULL, *w;
	struct in_addr a;
	int n = 0, ok = 1;

	for (w = strtok_r(copy, ",", &save); w && ok;
	     w = strtok_r(NULL, ",", &save))
		ok = inet_pton(AF_INET, w, &a) == 1 && ++n <= 3;
	free(copy);
	return ok && n >= 2;
}

static char *file_in(const char *dir, const char *name)
{
	char *p = path_join(dir, name);

	if (access(p, R_OK) < 0)
		die(1, "no BOEL %s in '%s' (build it with mkboel -o %s, or "
		    "give --boel DIR)", name, dir, dir);
	return p;
}

static void configure(struct bootserver *bs, const struct options *o)
{
	long port = NETBOOT_HTTP_PORT;
	char *boel;

	memset(bs, 0, sizeof(*bs));
	bs->o = o;
	pthread_mutex_init(&bs->lock, NULL);
	paths_init(&bs->paths, o->base, NULL);
	if (!o->interface)
		die(2, "--interface is needed: the boot network's interface");
	if (if_nametoindex(o->interface) == 0)
		die(1, "no network interface '%s'", o->interface);
	bs->address = o->address;
	if (!bs->address) {
		bs->addr_buf = interface_address(o->interface);
		if (!bs->addr_buf)
			die(1, "interface '%s' has no IPv4 address (give "
			    "--address)", o->interface);
		bs->address = bs->addr_buf;
	} else if (port_parse_addr(bs->address) < 0)
		die(2, "invalid address '%s' (a numeric IPv4 address)",
		    bs->address);
	if (o->http_port && parse_long(o->http_port, 1, 65535, &port) < 0)
		die(2, "invalid HTTP port '%s'", o->http_port);
	bs->http_port = (int)port;
	if (o->dhcp_range && o->proxy)
		die(2, "--dhcp-range and --proxy contradict (a range means "
		    "full DHCP)");
	if (o->dhcp_range && !valid_range(o->dhcp_range))
		die(2, "invalid DHCP range '%s' (START,END[,NETMASK], IPv4)",
		    o->dhcp_range);
	bs->default_next = NETBOOT_LOCAL;
	if (o->default_boot && netboot_next_parse(o->default_boot,
						  &bs->default_next) < 0)
		die(2, "invalid default boot '%s' (install or local)",
		    o->default_boot);
	if (o->unknown_image && !valid_name(o->unknown_image))
		die(2, "invalid image name '%s'", o->unknown_image);
	bs->imageserver = o->imageserver ? o->imageserver : bs->address;
	bs->base_url = xasprintf("http://%s:%d", bs->address, bs->http_port);
	boel = o->boel_dir ? xstrdup(o->boel_dir) :
		path_join(bs->paths.base, "boot");
	bs->vmlinuz = file_in(boel, "vmlinuz");
	bs->initrd = file_in(boel, "initrd.img");
	free(boel);
	bs->run = path_join(bs->paths.run, "bootserver");
	bs->tftp = path_join(bs->run, "tftp");
	bs->conf = path_join(bs->run, "dnsmasq.conf");
	bs->hosts = path_join(bs->run, "dhcp-hosts");
	bs->leases = path_join(bs->run, "dnsmasq.leases");
	bs->pidfile = path_join(bs->run, "dnsmasq.pid");
	bs->cluster_path = path_join(bs->paths.scripts, "cluster.txt");
	bs->state_dir = path_join(bs->paths.base, NETBOOT_DIR);
	bs->reports = path_join(bs->state_dir, "reports.log");
	bs->ns.interface = o->interface;
	bs->ns.address = bs->address;
	bs->ns.http_port = bs->http_port;
	bs->ns.dhcp_range = o->dhcp_range;
	bs->ns.tftp_root = bs->tftp;
	bs->ns.leases = bs->leases;
	bs->ns.hosts_file = bs->hosts;
}

static void release(struct bootserver *bs)
{
	if (bs->http)
		MHD_stop_daemon(bs->http);
	child_release(&bs->dnsmasq);
	cluster_release(&bs->table);
	free(bs->addr_buf); free(bs->base_url); free(bs->run); free(bs->tftp);
	free(bs->conf); free(bs->hosts); free(bs->leases); free(bs->pidfile);
	free(bs->cluster_path); free(bs->state_dir); free(bs->reports);
	free(bs->vmlinuz); free(bs->initrd);
	paths_release(&bs->paths);
	pthread_mutex_destroy(&bs->lock);
}

static int start(struct bootserver *bs)
{
	if (load_cluster(bs, 1) < 0 || mkdir_p(bs->state_dir, 0755) < 0 ||
	    mkdir_p(bs->run, 0755) < 0 || make_tftp_root(bs) < 0 ||
	    write_config(bs) < 0 || start_http(bs) < 0 ||
	    start_dnsmasq(bs) < 0)
		return -1;
	printf("si_mkbootserver: ready: %s on %s, %s, TFTP %s, dnsmasq pid "
	       "%d, %zu hosts\n", bs->base_url, bs->o->interface,
	       bs->o->dhcp_range ? "full DHCP" : "proxy-DHCP", bs->tftp,
	       (int)bs->dnsmasq.pid, bs->table.n);
	fflush(stdout);
	return 0;
}

int main(int argc, const char **argv)
{
	struct options o = { 0 };
	struct poptOption table[] = {
		OPTS_BASE(o.base),
		{ "interface", 'i', POPT_ARG_STRING, &o.interface, 0,
		  "the boot network's interface (needed)", "IF" },
		{ "address", '\0', POPT_ARG_STRING, &o.address, 0,
		  "our address on it (default: the interface's first)", "IP" },
		{ "dhcp-range", '\0', POPT_ARG_STRING, &o.dhcp_range, 0,
		  "full DHCP, handing out these addresses", "START,END[,MASK]" },
		{ "proxy", '\0', POPT_ARG_NONE, &o.proxy, 0,
		  "proxy-DHCP beside the site's DHCP server (the default)",
		  NULL },
		{ "http-port", '\0', POPT_ARG_STRING, &o.http_port, 0,
		  "HTTP port for scripts, BOEL and reports (default 8070)",
		  "PORT" },
		{ "boel", '\0', POPT_ARG_STRING, &o.boel_dir, 0,
		  "directory with BOEL's vmlinuz and initrd.img "
		  "(default BASE/boot)", "DIR" },
		{ "image-server", '\0', POPT_ARG_STRING, &o.imageserver, 0,
		  "IMAGESERVER the nodes are given (default --address)", "HOST" },
		{ "default-boot", '\0', POPT_ARG_STRING, &o.default_boot, 0,
		  "what a listed node without a mark boots: local (default) "
		  "or install", "WHAT" },
		{ "unknown-image", '\0', POPT_ARG_STRING, &o.unknown_image, 0,
		  "nodes not in the cluster table install this image "
		  "(default: they boot from their disks)", "NAME" },
		{ "kernel-args", '\0', POPT_ARG_STRING, &o.kernel_args, 0,
		  "more words for BOEL's kernel command line", "WORDS" },
		{ "monitor-server", '\0', POPT_ARG_STRING, &o.monitor, 0,
		  "MONITOR_SERVER the nodes are given", "HOST" },
		{ "dnsmasq", '\0', POPT_ARG_STRING, &o.dnsmasq, 0,
		  "the dnsmasq program (default: dnsmasq in PATH)", "PATH" },
		{ "ipxe-dir", '\0', POPT_ARG_STRING, &o.ipxe_dir, 0,
		  "where undionly.kpxe and snponly.efi are (default "
		  "/usr/lib/ipxe)", "DIR" },
		{ "print-config", '\0', POPT_ARG_NONE, &o.print_config, 0,
		  "print the dnsmasq configuration and exit", NULL },
		OPTS_COMMON,
		POPT_TABLEEND
	};
	struct bootserver bs;
	poptContext con;
	int ret;

	log_init(argv[0]);
	con = opts_parse(argc, argv, table, "[OPTION...]", 0, NULL, NULL);
	setup_signals();
	configure(&bs, &o);
	if (o.print_config) {
		char *conf = netboot_dnsmasq_conf(&bs.ns);

		fputs(conf, stdout);
		free(conf);
		ret = 0;
	} else {
		ret = start(&bs);
		if (ret == 0)
			run(&bs);
	}
	release(&bs);
	poptFreeContext(con);
	free(o.base); free(o.interface); free(o.address); free(o.dhcp_range);
	free(o.http_port); free(o.boel_dir); free(o.imageserver);
	free(o.default_boot); free(o.unknown_image); free(o.kernel_args);
	free(o.monitor); free(o.dnsmasq); free(o.ipxe_dir);
	if (log_flush_stdout() < 0)
		ret = -1;
	return ret < 0 ? 1 : 0;
}
