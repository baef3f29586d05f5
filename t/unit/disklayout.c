/* Unit tests of lib/disklayout.c: the reader on a fixed text, the
 * writer/reader round trip, escaping, and malformed input. */
#include <stdlib.h>

#include "disklayout.h"
#include "log.h"
#include "tap.h"
#include "util.h"

static const char sample[] =
	DISKLAYOUT_HEADER "\n"
	"# written by hand\n"
	"host name=gold\n"
	"\n"
	"disk dev=/dev/vda size=10737418240 sector_size=512 table=gpt "
	"id=C1CF1FDF-2801-464E-B5B8-7B0E54AF271D first_lba=2048 "
	"last_lba=20971486\n"
	"part disk=/dev/vda num=1 dev=/dev/vda1 start=2048 sectors=1048576 "
	"size=536870912 type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B "
	"name=EFI\\040system attrs=RequiredPartition\n"
	"part disk=/dev/vda num=2 dev=/dev/vda2 start=1050624 sectors=2097152 "
	"size=1073741824 type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F\n"
	"part disk=/dev/vda num=3 dev=/dev/vda3 start=3147776 sectors=17823711 "
	"size=9125740032 type=0FC63DAF-8483-4772-8E79-3D69D8477DE4 grow=1 "
	"future=ignored\n"
	"fs dev=/dev/vda1 type=vfat uuid=ABCD-1234 mount=/boot/efi "
	"version=FAT32\n"
	"fs dev=/dev/vda2 type=swap uuid=4818c96f mount=swap\n"
	"fs dev=/dev/vda3 type=ext4 uuid=ebc019c7 label=root mount=/ "
	"options=errors=remount-ro block_size=4096 inode_size=256 "
	"features=has_journal,extent\n"
	"mount path=/ type=ext4 source=/dev/vda3 options=rw,relatime local=1\n"
	"mount path=/srv/nfs type=nfs4 source=server:/export options=rw local=0\n"
	"swapfile path=/swapfile size=1048576\n"
	"fstab spec=UUID=ebc019c7 file=/ type=ext4 options=defaults freq=0 "
	"passno=1\n"
	"newrecord a=b\n";

static void test_parse(void)
{
	struct disklayout dl;

	disklayout_init(&dl);
	ok(disklayout_parse(&dl, sample, "sample") == 0, "parses a layout");
	is_str(dl.host, "gold", "host");
	ok(dl.ndisks == 1 && dl.nparts == 3 && dl.nfss == 3 &&
	   dl.nmounts == 2 && dl.nswapfiles == 1 && dl.nfstab == 1,
	   "record counts");
	ok(dl.disks[0].size == 10737418240ULL && dl.disks[0].sector_size == 512,
	   "disk size and sector size");
	is_str(dl.disks[0].table, "gpt", "table type");
	ok(dl.disks[0].first_lba == 2048 && dl.disks[0].last_lba == 20971486,
	   "usable area");
	is_str(dl.parts[0].name, "EFI system", "escaped space in a name");
	ok(dl.parts[2].grow == 1 && dl.parts[0].grow == 0, "grow flag");
	ok(dl.parts[2].start == 3147776 && dl.parts[2].sectors == 17823711,
	   "start and sectors");
	ok(dl.parts[1].uuid == NULL, "absent field is NULL");
	const struct dl_fs *fs = disklayout_fs(&dl, "/dev/vda3");
	ok(fs && !strcmp(fs->mount, "/") && fs->block_size == 4096 &&
	   fs->inode_size == 256, "fs lookup");
	is_str(fs ? fs->options : NULL, "errors=remount-ro", "'=' inside a value");
	ok(disklayout_disk(&dl, "/dev/vda") && !disklayout_disk(&dl, "/dev/sdz"),
	   "disk lookup");
	ok(dl.mounts[1].local == 0 && !strcmp(dl.mounts[1].type, "nfs4"),
	   "non-local mount");
	ok(dl.fstab[0].passno == 1 && !strcmp(dl.fstab[0].spec, "UUID=ebc019c7"),
	   "fstab entry");
	ok(dl.firmware == NULL, "a layout without firmware: NULL");
	const struct dl_fs *efs;
	const struct dl_part *esp = disklayout_esp(&dl, &efs);
	ok(esp == &dl.parts[0] && efs && !strcmp(efs->mount, "/boot/efi"),
	   "the ESP and its filesystem");
	ok(disklayout_bios_boot(&dl) == NULL, "no BIOS boot partition");
	disklayout_release(&dl);
}

static const char *host_of(const char *line, const char **firmware,
			   struct disklayout *dl)
{
	char *text = xasprintf(DISKLAYOUT_HEADER "\n%s\n", line);

	disklayout_init(dl);
	if (disklayout_parse(dl, text, "host") < 0)
		dl->host = xstrdup("(error)");
	free(text);
	*firmware = dl->firmware;
	return dl->host;
}

static void test_firmware(void)
{
	struct disklayout dl;
	const char *fw;
	char *t;

	is_str(host_of("host name=gold firmware=uefi", &fw, &dl), "gold",
	       "host with firmware: name");
	is_str(fw, "uefi", "host with firmware: firmware");
	disklayout_release(&dl);
	is_str(host_of("host firmware=bios name=n\\0401 later=x", &fw, &dl),
	       "n 1", "fields in any order, unknown ones ignored");
	is_str(fw, "bios", "firmware bios");
	disklayout_release(&dl);
	is_str(host_of("host name= firmware=uefi", &fw, &dl), NULL,
	       "an empty name is unknown");
	is_str(fw, "uefi", "firmware without a name");
	disklayout_release(&dl);
	log_set_level(LOG_QUIET - 1);
	is_str(host_of("host firmware=uefi", &fw, &dl), "(error)",
	       "host without name: refused, as the first version does");
	log_set_level(LOG_NORMAL);
	disklayout_release(&dl);

	/* The writer puts name= first: a first-version reader takes the
	 * name from the first "name=" up to the next space. */
	disklayout_init(&dl);
	dl.host = xstrdup("gold");
	dl.firmware = xstrdup("uefi");
	t = disklayout_format(&dl, NULL);
	ok(strstr(t, "\nhost name=gold firmware=uefi\n") != NULL,
	   "written as 'host name=gold firmware=uefi'");
	free(t);
	free(dl.host);
	dl.host = NULL;
	t = disklayout_format(&dl, NULL);
	ok(strstr(t, "\nhost name= firmware=uefi\n") != NULL,
	   "an unknown name is written empty");
	free(t);
	disklayout_release(&dl);
}

static void test_boot_parts(void)
{
	static const char text[] =
		DISKLAYOUT_HEADER "\n"
		"disk dev=/dev/sda size=1073741824 sector_size=512 table=dos\n"
		"part disk=/dev/sda num=1 dev=/dev/sda1 start=2048 sectors=2048 "
		"size=1048576 type=ef\n"
		"part disk=/dev/sda num=2 dev=/dev/sda2 start=4096 sectors=2048 "
		"size=1048576 type=0xEF\n"
		"disk dev=/dev/sdb size=1073741824 sector_size=512 table=gpt\n"
		"part disk=/dev/sdb num=1 dev=/dev/sdb1 start=2048 sectors=2048 "
		"size=1048576 type=21686148-6449-6e6f-744e-656564454649\n"
		"fs dev=/dev/sda1 type=ext4\n"
		"fs dev=/dev/sda2 type=vfat\n";
	struct disklayout dl;
	const struct dl_fs *f;

	disklayout_init(&dl);
	ok(disklayout_parse(&dl, text, "boot") == 0, "parses");
	ok(disklayout_esp(&dl, &f) == &dl.parts[1] && f == &dl.fss[1],
	   "ESP: type ef (any case, 0x) with vfat; not type ef with ext4");
	ok(disklayout_bios_boot(&dl) == &dl.parts[2],
	   "BIOS boot partition: type GUID in lower case");
	disklayout_release(&dl);
	disklayout_init(&dl);
	ok(disklayout_esp(&dl, &f) == NULL && f == NULL, "empty layout: no ESP");
	disklayout_release(&dl);
}

static void test_roundtrip(void)
{
	struct disklayout a, b;
	struct dl_disk *d;
	struct dl_part *p;
	struct dl_fs *f;
	char *t1, *t2;

	disklayout_init(&a);
	a.host = xstrdup("node 1");
	d = disklayout_add_disk(&a);
	d->dev = xstrdup("/dev/sda");
	d->size = 1ULL << 40;
	d->sector_size = 4096;
	d->table = xstrdup("dos");
	d->id = xstrdup("0x1234abcd");
	p = disklayout_add_part(&a);
	p->disk = xstrdup("/dev/sda");
	p->dev = xstrdup("/dev/sda1");
	p->num = 1;
	p->start = 256;
	p->sectors = 1000;
	p->size = 4096000;
	p->type = xstrdup("83");
	p->bootable = 1;
	f = disklayout_add_fs(&a);
	f->dev = xstrdup("/dev/sda1");
	f->type = xstrdup("ext4");
	f->label = xstrdup("tab\there\\ and \xc3\xa9");
	t1 = disklayout_format(&a, "line one\nline two");
	ok(strstr(t1, "# line two\n") != NULL, "comment lines");
	ok(strstr(t1, "label=tab\\011here\\134\\040and\\040\\303\\251") != NULL,
	   "escapes tab, backslash, space and 8-bit bytes");
	disklayout_init(&b);
	ok(disklayout_parse(&b, t1, "t1") == 0, "parses its own output");
	t2 = disklayout_format(&b, "line one\nline two");
	is_str(t2, t1, "round trip is exact");
	is_str(b.fss[0].label, "tab\there\\ and \xc3\xa9", "label restored");
	ok(b.parts[0].bootable == 1 && b.disks[0].sector_size == 4096,
	   "numbers restored");
	is_str(b.host, "node 1", "host restored");
	free(t1);
	free(t2);
	disklayout_release(&a);
	disklayout_release(&b);
}

static int parse_fails(const char *text)
{
	struct disklayout dl;
	int ret;

	disklayout_init(&dl);
	ret = disklayout_parse(&dl, text, "bad");
	disklayout_release(&dl);
	return ret < 0;
}

static void test_errors(void)
{
	log_set_level(LOG_QUIET - 1);
	ok(parse_fails(""), "empty text refused");
	ok(parse_fails("# some other file\n"), "wrong header refused");
	ok(parse_fails(DISKLAYOUT_HEADER "\ndisk dev=/dev/sda size=12\n"),
	   "missing required field refused");
	ok(parse_fails(DISKLAYOUT_HEADER "\ndisk dev=/dev/sda size=-1 "
		       "sector_size=512 table=gpt\n"), "negative size refused");
	ok(parse_fails(DISKLAYOUT_HEADER "\nfs dev=/dev/sda1 type=ext4 "
		       "block_size=4k\n"), "non-numeric size refused");
	ok(parse_fails(DISKLAYOUT_HEADER "\nfs dev=/dev/sda1 type\n"),
	   "field without '=' refused");
	ok(!parse_fails(DISKLAYOUT_HEADER "\n"), "no records is fine");
	log_set_level(LOG_NORMAL);
}

int main(int argc, char **argv)
{
	(void)argc;
	log_init(argv[0]);
	test_parse();
	test_roundtrip();
	test_firmware();
	test_boot_parts();
	test_errors();
	return tap_done();
}
