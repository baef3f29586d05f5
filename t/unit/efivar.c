/* Unit tests of lib/efivar.c: load options parsed, and the boot order
 * made network-first, on variables in a plain directory laid out as
 * efivarfs lays them out (4 bytes of attributes, then the data). */
#include <stdlib.h>
#include <unistd.h>

#include "efivar.h"
#include "log.h"
#include "tap.h"
#include "util.h"

/* A load option: attributes, path length, UTF-16 description, path. */
static size_t make_option(uint8_t *buf, const char *desc, int network)
{
	/* PciRoot ACPI node, then a MAC node or a hard drive node, end. */
	static const uint8_t acpi[] = { 0x02, 0x01, 12, 0, 0xd0, 0x41, 0x03,
					0x0a, 0, 0, 0, 0 };
	uint8_t node[36] = { 0 };
	static const uint8_t end[] = { 0x7f, 0xff, 4, 0 };
	size_t i = 0, fplen;

	node[0] = network ? 0x03 : 0x04;
	node[1] = network ? 0x0b : 0x01;
	node[2] = sizeof(node);
	fplen = sizeof(acpi) + sizeof(node) + sizeof(end);
	memset(buf, 0, 6);
	buf[0] = 1;	/* active */
	buf[4] = (uint8_t)fplen;
	i = 6;
	for (const char *p = desc; *p; p++) {
		buf[i++] = (uint8_t)*p;
		buf[i++] = 0;
	}
	buf[i++] = 0;
	buf[i++] = 0;
	memcpy(buf + i, acpi, sizeof(acpi));
	i += sizeof(acpi);
	memcpy(buf + i, node, sizeof(node));
	i += sizeof(node);
	memcpy(buf + i, end, sizeof(end));
	return i + sizeof(end);
}

static void put(const char *dir, const char *name, const void *d, size_t n)
{
	ok(efivar_write(dir, name, d, n) == 0, "wrote %s", name);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/si-unit-efivar-XXXXXX", desc[64], *cmd;
	uint8_t opt[256], *back;
	size_t n, len;
	int net;
	uint16_t order[] = { 0x0005, 0x0002, 0x0003, 0x0001 }, cur = 0x0002;
	uint16_t want[] = { 0x0002, 0x0005, 0x0003, 0x0001 }, got[4];

	(void)argc;
	log_init(argv[0]);
	ok(mkdtemp(dir) != NULL, "a variables directory");
	n = make_option(opt, "UEFI PXEv4 (MAC:525400AA0002)", 1);
	ok(efivar_parse_option(opt, n, desc, sizeof(desc), &net) == 0 && net &&
	   !strcmp(desc, "UEFI PXEv4 (MAC:525400AA0002)"),
	   "a network option: its description and MAC node");
	put(dir, "Boot0002", opt, n);
	n = make_option(opt, "debian", 0);
	ok(efivar_parse_option(opt, n, desc, sizeof(desc), &net) == 0 && !net &&
	   !strcmp(desc, "debian"), "a disk option is no network boot");
	ok(efivar_parse_option(opt, 7, desc, sizeof(desc), &net) < 0,
	   "a truncated option is refused");
	put(dir, "Boot0005", opt, n);
	n = make_option(opt, "UEFI PXEv6", 1);
	put(dir, "Boot0003", opt, n);
	n = make_option(opt, "UiApp", 0);
	put(dir, "Boot0001", opt, n);

	ok(efivar_keep_network_first(dir, "debian") == 0,
	   "no BootCurrent: nothing changed");
	put(dir, "BootOrder", order, sizeof(order));
	put(dir, "BootCurrent", &cur, sizeof(cur));
	ok(efivar_keep_network_first(dir, "debian") == 1, "the order changed");
	ok(efivar_read(dir, "BootOrder", &back, &len) == 0 && len == 8,
	   "read back");
	memcpy(got, back, sizeof(got));
	free(back);
	ok(!memcmp(got, want, sizeof(want)),
	   "this boot's network entry, then debian, then the rest in order "
	   "(%04x %04x %04x %04x)", got[0], got[1], got[2], got[3]);
	ok(efivar_keep_network_first(dir, "debian") == 0,
	   "a second time: nothing to do");
	cur = 0x0005;
	put(dir, "BootCurrent", &cur, sizeof(cur));
	ok(efivar_keep_network_first(dir, "debian") == 0,
	   "booted from the disk: the order is left alone");
	cmd = xasprintf("rm -rf '%s'", dir);
	ok(system(cmd) == 0, "cleaned up");
	free(cmd);
	return tap_done();
}
