/* Unit tests of lib/diskprep.c without touching a disk: partition device
 * names, and diskprep_plan() against a made-up sysfs tree (disk order,
 * sizes, refusals). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disklayout.h"
#include "diskprep.h"
#include "log.h"
#include "tap.h"
#include "util.h"

static void test_partdev(void)
{
	static const char *cases[][2] = {
		{ "/dev/vda", "/dev/vda1" }, { "/dev/sda", "/dev/sda1" },
		{ "/dev/nvme0n1", "/dev/nvme0n1p1" },
		{ "/dev/loop0", "/dev/loop0p1" },
		{ "/dev/mmcblk0", "/dev/mmcblk0p1" },
		{ "/dev/xvdb", "/dev/xvdb1" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *p = diskprep_partdev(cases[i][0], 1);

		is_str(p, cases[i][1], "partition 1 of %s", cases[i][0]);
		free(p);
	}
}

/* A fake /sys/block/NAME with size (512-byte sectors) and a dev number
 * nobody has mounted. */
static void fake_disk(const char *sys, const char *name, unsigned long long
		      sectors, int minor)
{
	char *d = xasprintf("%s/block/%s/queue", sys, name), *f, *t;

	mkdir_p(d, 0755);
	free(d);
	f = xasprintf("%s/block/%s/size", sys, name);
	t = xasprintf("%llu\n", sectors);
	write_file_atomic(f, t, strlen(t), 0644);
	free(f);
	free(t);
	f = xasprintf("%s/block/%s/dev", sys, name);
	t = xasprintf("250:%d\n", minor);
	write_file_atomic(f, t, strlen(t), 0644);
	free(f);
	free(t);
}

static const char *layout =
	"# swarmimager disklayout 1\n"
	"disk dev=/dev/sda size=1073741824 sector_size=512 table=gpt\n"
	"disk dev=/dev/sdb size=1073741824 sector_size=512 table=dos\n"
	"part disk=/dev/sda num=1 dev=/dev/sda1 start=2048 sectors=204800 "
	"size=104857600 type=0FC63DAF-8483-4772-8E79-3D69D8477DE4 grow=1\n"
	"part disk=/dev/sdb num=1 dev=/dev/sdb1 start=2048 sectors=2048 "
	"size=1048576 type=83\n"
	"fs dev=/dev/sda1 type=ext4 mount=/\n"
	"fs dev=/dev/sdb1 type=vfat mount=/boot/efi\n";

static int plan_fw(const char *sys, const char *text, const char *order,
		   const char *firmware, char **d0, char **d1,
		   enum diskprep_firmware *fw)
{
	struct disklayout dl;
	struct diskprep dp;
	struct diskprep_opts o = { "/nonexistent-root", order, sys, firmware };
	int ret;

	disklayout_init(&dl);
	diskprep_init(&dp);
	ret = disklayout_parse(&dl, text, "test");
	if (!ret)
		ret = diskprep_plan(&dp, &dl, &o);
	*d0 = dp.disks && dp.disks[0] ? xstrdup(dp.disks[0]) : NULL;
	*d1 = dp.disks && dl.ndisks > 1 && dp.disks[1] ?
		xstrdup(dp.disks[1]) : NULL;
	if (fw)
		*fw = dp.firmware;
	diskprep_release(&dp);
	disklayout_release(&dl);
	return ret;
}

static int plan(const char *sys, const char *text, const char *order,
		char **d0, char **d1)
{
	return plan_fw(sys, text, order, NULL, d0, d1, NULL);
}

/* Boot layouts on one disk (sda): BIOS (GPT, BIOS boot partition), UEFI
 * (GPT, ESP at /boot/efi), data only (GPT, neither). */
#define GPT_DISK "disk dev=/dev/sda size=1073741824 sector_size=512 table=gpt\n"
#define ROOT_PART(n) "part disk=/dev/sda num=" #n " dev=/dev/sda" #n \
	" start=206848 sectors=204800 size=104857600 " \
	"type=0FC63DAF-8483-4772-8E79-3D69D8477DE4 grow=1\n" \
	"fs dev=/dev/sda" #n " type=ext4 mount=/\n"
static const char *bios_layout =
	"# swarmimager disklayout 1\nhost name=gold firmware=bios\n" GPT_DISK
	"part disk=/dev/sda num=1 dev=/dev/sda1 start=2048 sectors=2048 "
	"size=1048576 type=21686148-6449-6E6F-744E-656564454649\n" ROOT_PART(2);
static const char *uefi_layout =
	"# swarmimager disklayout 1\nhost name=gold firmware=uefi\n" GPT_DISK
	"part disk=/dev/sda num=1 dev=/dev/sda1 start=2048 sectors=204800 "
	"size=104857600 type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n"
	"fs dev=/dev/sda1 type=vfat mount=/boot/efi\n" ROOT_PART(2);
static const char *data_layout =
	"# swarmimager disklayout 1\nhost name=gold\n" GPT_DISK ROOT_PART(1);

static int boot_plan(const char *sys, const char *text, const char *fw,
		     enum diskprep_firmware *node)
{
	char *d0, *d1;
	int ret = plan_fw(sys, text, "sda", fw, &d0, &d1, node);

	free(d0);
	free(d1);
	return ret;
}

static void test_firmware(void)
{
	char tmpl[] = "/tmp/diskprep-unit.XXXXXX", *sys = mkdtemp(tmpl);
	char *efi, *bad;
	enum diskprep_firmware fw = 0;

	if (!sys) {
		ok(0, "cannot create a temporary directory");
		return;
	}
	fake_disk(sys, "sda", 2097152, 0);
	ok(boot_plan(sys, bios_layout, NULL, &fw) == 0 &&
	   fw == DISKPREP_FW_BIOS, "no /sys/firmware/efi: BIOS; BIOS layout fine");
	ok(boot_plan(sys, uefi_layout, NULL, &fw) < 0,
	   "BIOS node, UEFI layout on GPT without a BIOS boot partition: refused");
	ok(boot_plan(sys, data_layout, NULL, &fw) == 0, "BIOS node, data only: fine");
	ok(boot_plan(sys, bios_layout, "uefi", &fw) < 0 &&
	   fw == DISKPREP_FW_UEFI, "SI_FIRMWARE=uefi: BIOS-only layout refused");
	ok(boot_plan(sys, uefi_layout, "uefi", &fw) == 0, "SI_FIRMWARE=uefi: UEFI layout");
	ok(boot_plan(sys, data_layout, "uefi", &fw) == 0, "SI_FIRMWARE=uefi: data only");
	ok(boot_plan(sys, bios_layout, "maybe", &fw) < 0, "bad SI_FIRMWARE refused");

	efi = xasprintf("%s/firmware/efi", sys);
	mkdir_p(efi, 0755);
	ok(boot_plan(sys, uefi_layout, NULL, &fw) == 0 && fw == DISKPREP_FW_UEFI,
	   "/sys/firmware/efi: UEFI; UEFI layout fine");
	ok(boot_plan(sys, bios_layout, "auto", &fw) < 0,
	   "UEFI node, BIOS-only layout: refused");
	ok(boot_plan(sys, data_layout, NULL, &fw) == 0, "UEFI node, data only: fine");
	ok(boot_plan(sys, uefi_layout, "bios", &fw) < 0 && fw == DISKPREP_FW_BIOS,
	   "SI_FIRMWARE=bios wins over /sys/firmware/efi");
	ok(boot_plan(sys, bios_layout, "bios", &fw) == 0, "SI_FIRMWARE=bios: BIOS layout");
	bad = xstrdup(uefi_layout);
	memcpy(strstr(bad, "mount=/boot/efi"), "options=umask=", 14);
	ok(boot_plan(sys, bad, NULL, &fw) < 0, "an ESP without a mount point: refused");
	free(bad);
	bad = xstrdup(uefi_layout);
	memcpy(strstr(bad, " firmware=uefi"), "              ", 14);
	ok(boot_plan(sys, bad, NULL, &fw) == 0,
	   "no firmware recorded, an ESP: boots on UEFI");
	ok(boot_plan(sys, bad, "bios", &fw) < 0,
	   "no firmware recorded, an ESP, GPT without BIOS boot: refused on BIOS");
	free(bad);
	bad = xstrdup(bios_layout);
	memcpy(strstr(bad, "firmware=bios"), "firmware=uefi", 13);
	ok(boot_plan(sys, bad, NULL, &fw) < 0,
	   "firmware=uefi recorded, no ESP: refused on UEFI");
	free(bad);
	free(efi);
	remove_tree(sys);
}

static void test_plan(void)
{
	char tmpl[] = "/tmp/diskprep-unit.XXXXXX", *sys = mkdtemp(tmpl);
	char *d0, *d1, *bad;

	if (!sys) {
		ok(0, "cannot create a temporary directory");
		return;
	}
	fake_disk(sys, "sdb", 2097152, 1);	/* 1 GiB */
	fake_disk(sys, "sda", 2097152, 0);
	fake_disk(sys, "sdaa", 2097152, 2);	/* the 27th disk: after sdb */
	fake_disk(sys, "vda", 409600, 3);	/* 200 MiB */
	fake_disk(sys, "loop0", 2097152, 4);

	ok(plan(sys, layout, "sd", &d0, &d1) == 0, "two disks by prefix");
	is_str(d0, "/dev/sda", "first disk in natural order");
	is_str(d1, "/dev/sdb", "second disk: sdb before sdaa");
	free(d0);
	free(d1);
	ok(plan(sys, layout, "sdb,/dev/sda", &d0, &d1) == 0, "explicit order");
	is_str(d0, "/dev/sdb", "first as named");
	is_str(d1, "/dev/sda", "second as named");
	free(d0);
	free(d1);
	ok(plan(sys, layout, "vd", &d0, &d1) < 0, "too few disks: refused");
	free(d0);
	free(d1);
	ok(plan(sys, layout, "lo", &d0, &d1) < 0,
	   "loop devices are not taken by a prefix");
	free(d0);
	free(d1);
	ok(plan(sys, layout, "vda,sda", &d0, &d1) == 0,
	   "200 MiB is enough for a 100 MiB growing partition");
	free(d0);
	free(d1);
	bad = xasprintf("%s", layout);
	memcpy(strstr(bad, "sectors=204800"), "sectors=504800", 14);
	ok(plan(sys, bad, "vda,sda", &d0, &d1) < 0,
	   "a disk smaller than the layout: refused");
	free(d0);
	free(d1);
	free(bad);
	bad = xasprintf("%sfs dev=/dev/sdb1 type=crypto_LUKS\n", layout);
	ok(plan(sys, bad, "sd", &d0, &d1) < 0, "LUKS: refused");
	free(d0);
	free(d1);
	free(bad);
	bad = xstrdup(layout);
	memcpy(strstr(bad, "mount=/\n"), "mount=-\n", 8);
	ok(plan(sys, bad, "sd", &d0, &d1) < 0, "no root filesystem: refused");
	free(d0);
	free(d1);
	free(bad);
	remove_tree(sys);
}

int main(int argc, char **argv)
{
	(void)argc;
	log_init(argv[0]);
	log_set_level(LOG_QUIET);
	test_partdev();
	test_plan();
	test_firmware();
	return tap_done();
}
