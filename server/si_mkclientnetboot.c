/* si_mkclientnetboot - chooses what nodes boot from the network next:
 * BOEL to (re)install them (--netboot), or their own disks (--localboot),
 * and lists the nodes with their boot state and last report (--list).
 *
 * The marks are the state files of BASE/netboot (netboot.h), read by
 * si_mkbootserver at each boot; a node that reports a finished install
 * is turned to --localboot by the server itself.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "log.h"
#include "netboot.h"
#include "opts.h"
#include "paths.h"
#include "util.h"

struct options {
	char *base, *image, *clients;
	int netboot, localboot, all, list;
};

/* The state keys of the nodes named (host names or MACs), checked
 * against the table before anything is written. */
static char **resolve(const struct cluster_table *t, char **names, size_t n)
{
	char **keys = xcalloc(n + 1, sizeof(*keys));
	char mac[18];
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		const struct cluster_host *h = cluster_by_name(t, names[i]);

		if (!h && cluster_mac(names[i], mac) == 0) {
			h = cluster_by_mac(t, mac);
			keys[i] = netboot_node_key(h ? h->name : NULL, mac);
		} else if (h)
			keys[i] = xstrdup(h->name);
		else {
			error("no host '%s' in the cluster table (give its "
			      "name or MAC)", names[i]);
			bad = 1;
		}
		if (h && !*h->mac)
			warning("host '%s' has no MAC in the cluster table: "
				"the boot server cannot recognize it", h->name);
	}
	if (!bad)
		return keys;
	opts_free_list(keys);
	return NULL;
}

static int mark(const char *dir, char **keys, enum netboot_next next,
		const char *image)
{
	int fd = netboot_lock(dir), ret = 0;

	if (fd < 0)
		return -1;
	for (size_t i = 0; keys[i] && !ret; i++) {
		struct netboot_state st;

		if (netboot_state_load(dir, keys[i], &st) < 0) {
			ret = -1;
			break;
		}
		st.next = next;
		if (image) {
			free(st.image);
			st.image = xstrdup(image);
		}
		ret = netboot_state_save(dir, keys[i], &st);
		if (!ret)
			printf("%s: next boot: %s%s%s\n", keys[i],
			       next == NETBOOT_INSTALL ? "install" : "local disk",
			       st.image && next == NETBOOT_INSTALL ? " " : "",
			       st.image && next == NETBOOT_INSTALL ?
			       st.image : "");
		netboot_state_release(&st);
	}
	netboot_unlock(fd);
	return ret;
}

static const char *status_name(long s)
{
	if (s < 0)
		return "failed";
	if (s == 0)
		return "starting";
	if (s < 100)
		return "installing";
	switch (s) {
	case 100: return "imaged";
	case 101: return "finalizing";
	case 102: return "rebooted";
	case 103: return "beeping";
	case 104: return "rebooting";
	case 105: return "shutdown";
	case 106: return "shell";
	case 107: return "extracting";
	case 108: return "preinstall";
	case 109: return "postinstall";
	}
	return "?";
}

static void list(const char *dir, const struct cluster_table *t)
{
	printf("%-16s %-17s %-15s %-12s %-8s %s\n", "HOST", "MAC", "ADDRESS",
	       "IMAGE", "NEXT", "LAST REPORT");
	for (size_t i = 0; i < t->n; i++) {
		const struct cluster_host *h = &t->v[i];
		struct netboot_state st;
		char when[32] = "";
		struct tm tm;

		if (netboot_state_load(dir, h->name, &st) < 0)
			continue;
		if (st.has_status && localtime_r(&st.status_time, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%-16s %-17s %-15s %-12s %-8s", h->name,
		       *h->mac ? h->mac : "-", h->ip ? h->ip : "-",
		       st.image ? st.image : h->image ? h->image : "-",
		       st.next == NETBOOT_UNSET ? "(default)" :
		       netboot_next_name(st.next));
		if (st.has_status)
			printf(" %ld %s %s%s%s", st.status,
			       status_name(st.status), when,
			       st.status_message ? ": " : "",
			       st.status_message ? st.status_message : "");
		putchar('\n');
		netboot_state_release(&st);
	}
}

static int load_table(const struct si_paths *p, struct cluster_table *t)
{
	char *path = path_join(p->scripts, "cluster.txt");
	char *text = read_file(path, NULL, 1);
	int ret = cluster_parse(t, text ? text : "", path);

	if (!text && !ret)
		warning("no cluster table '%s'", path);
	free(text);
	free(path);
	return ret;
}

int main(int argc, const char **argv)
{
	struct options o = { 0 };
	struct poptOption table[] = {
		OPTS_BASE(o.base),
		{ "netboot", 'n', POPT_ARG_NONE, &o.netboot, 0,
		  "the nodes' next network boot installs them", NULL },
		{ "localboot", 'l', POPT_ARG_NONE, &o.localboot, 0,
		  "the nodes' next boots are from their disks", NULL },
		{ "image", '\0', POPT_ARG_STRING, &o.image, 0,
		  "with --netboot: install this image instead of the "
		  "cluster table's", "NAME" },
		{ "clients", '\0', POPT_ARG_STRING, &o.clients, 0,
		  "the nodes (names or MACs, comma or space separated)",
		  "LIST" },
		{ "all", 'a', POPT_ARG_NONE, &o.all, 0,
		  "every host of the cluster table", NULL },
		{ "list", '\0', POPT_ARG_NONE, &o.list, 0,
		  "list the nodes with their next boot and last report", NULL },
		OPTS_COMMON,
		POPT_TABLEEND
	};
	struct cluster_table t = { 0 };
	struct si_paths p;
	poptContext con;
	char **names = NULL, **keys = NULL, *dir;
	const char **rest;
	size_t n = 0;
	int ret = 0;

	log_init(argv[0]);
	con = opts_parse(argc, argv, table, "[OPTION...] [HOST|MAC...]", -1,
			 NULL, NULL);
	if (o.netboot + o.localboot + o.list != 1)
		opts_usage_error(con, "give one of --netboot, --localboot "
				 "and --list");
	if (o.image && !o.netboot)
		opts_usage_error(con, "--image goes with --netboot");
	if (o.image && !valid_name(o.image))
		opts_usage_error(con, "invalid image name '%s'", o.image);
	paths_init(&p, o.base, NULL);
	dir = path_join(p.base, NETBOOT_DIR);
	if (load_table(&p, &t) < 0)
		exit(1);
	if (o.list) {
		list(dir, &t);
		goto out;
	}
	if (o.clients)
		opts_split_list(o.clients, &names, &n);
	for (rest = poptGetArgs(con); rest && *rest; rest++)
		opts_split_list(*rest, &names, &n);
	for (size_t i = 0; o.all && i < t.n; i++)
		opts_split_list(t.v[i].name, &names, &n);
	if (!n)
		opts_usage_error(con, "no nodes named (HOST..., --clients or "
				 "--all)");
	keys = resolve(&t, names, n);
	ret = keys ? mark(dir, keys, o.netboot ? NETBOOT_INSTALL :
			  NETBOOT_LOCAL, o.image) : -1;
out:
	opts_free_list(names);
	opts_free_list(keys);
	cluster_release(&t);
	free(dir);
	paths_release(&p);
	poptFreeContext(con);
	free(o.base); free(o.image); free(o.clients);
	if (log_flush_stdout() < 0)
		ret = -1;
	return ret < 0 ? 1 : 0;
}
