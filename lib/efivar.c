/* efivar.c - see efivar.h */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "efivar.h"
#include "log.h"
#include "util.h"

#define ATTR_NV_BS_RT 0x7u	/* non-volatile, boot service, runtime */

static char *var_path(const char *dir, const char *name)
{
	return xasprintf("%s/%s-" EFIVAR_GLOBAL, dir, name);
}

int efivar_read(const char *dir, const char *name, uint8_t **data,
		size_t *len)
{
	char *path = var_path(dir, name);
	size_t n;
	char *raw = read_file(path, &n, 1);

	free(path);
	if (!raw)
		return -1;
	if (n < 4) {
		free(raw);
		errno = EINVAL;
		return -1;
	}
	*len = n - 4;
	*data = xmalloc(*len + 1);
	memcpy(*data, raw + 4, *len);
	free(raw);
	return 0;
}

int efivar_write(const char *dir, const char *name, const void *data,
		 size_t len)
{
	char *path = var_path(dir, name);
	uint8_t *buf = xmalloc(len + 4);
	uint32_t attr = ATTR_NV_BS_RT;
	int fd, flags, ret = 0;

	memcpy(buf, &attr, 4);
	memcpy(buf + 4, data, len);
	/* efivarfs makes its files immutable: clear that first. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 &&
		    (flags & FS_IMMUTABLE_FL)) {
			flags &= ~FS_IMMUTABLE_FL;
			ioctl(fd, FS_IOC_SETFLAGS, &flags);
		}
		close(fd);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	/* One write: efivarfs takes each as the whole variable. */
	if (fd < 0 || write(fd, buf, len + 4) != (ssize_t)(len + 4))
		ret = error_errno("cannot write the UEFI variable '%s'", path);
	if (fd >= 0)
		close(fd);
	free(buf);
	free(path);
	return ret;
}

int efivar_parse_option(const uint8_t *opt, size_t len, char *desc,
			size_t size, int *network)
{
	size_t i = 6, o = 0;
	uint16_t fplen;

	*network = 0;
	if (len < 8)
		return -1;
	memcpy(&fplen, opt + 4, 2);
	for (; i + 1 < len && (opt[i] || opt[i + 1]); i += 2)
		if (o + 1 < size)
			desc[o++] = opt[i + 1] || opt[i] > 126 || opt[i] < 32 ?
				'?' : (char)opt[i];
	desc[size ? o : 0] = '\0';
	if (i + 1 >= len)
		return -1;
	i += 2;
	if (i + fplen > len)
		return -1;
	/* Device path nodes: type, subtype, length (little endian). */
	for (size_t end = i + fplen; i + 4 <= end;) {
		uint16_t nlen = (uint16_t)(opt[i + 2] | opt[i + 3] << 8);

		if (opt[i] == 0x7f || nlen < 4)
			break;
		if (opt[i] == 0x03 && opt[i + 1] == 0x0b)	/* MAC */
			*network = 1;
		i += nlen;
	}
	return 0;
}

/* Description and network flag of Boot####, or -1. */
static int option_info(const char *dir, uint16_t num, char *desc, size_t size,
		       int *network)
{
	char name[16];
	uint8_t *opt;
	size_t len;
	int ret;

	snprintf(name, sizeof(name), "Boot%04X", num);
	if (efivar_read(dir, name, &opt, &len) < 0)
		return -1;
	ret = efivar_parse_option(opt, len, desc, size, network);
	free(opt);
	return ret;
}

int efivar_keep_network_first(const char *dir, const char *label)
{
	uint8_t *cur = NULL, *order = NULL;
	size_t clen, olen, n, k = 0;
	uint16_t current, *v = NULL, *out = NULL;
	char desc[128];
	int network, ret = 0;

	if (efivar_read(dir, "BootCurrent", &cur, &clen) < 0 || clen != 2 ||
	    efivar_read(dir, "BootOrder", &order, &olen) < 0 || olen % 2)
		goto out;	/* not booted by the boot manager */
	memcpy(&current, cur, 2);
	if (option_info(dir, current, desc, sizeof(desc), &network) < 0 ||
	    !network)
		goto out;
	n = olen / 2;
	v = xcalloc(n, sizeof(*v));
	out = xcalloc(n + 1, sizeof(*out));
	memcpy(v, order, olen);
	out[k++] = current;
	for (size_t i = 0; i < n; i++) {
		char d[128];
		int net;

		if (v[i] != current && option_info(dir, v[i], d, sizeof(d),
						   &net) == 0 && !strcmp(d, label))
			out[k++] = v[i];
	}
	for (size_t i = 0; i < n; i++) {
		int seen = 0;

		for (size_t j = 0; j < k && !seen; j++)
			seen = out[j] == v[i];
		if (!seen)
			out[k++] = v[i];
	}
	if (k == n && !memcmp(out, v, olen))
		goto out;
	if (efivar_write(dir, "BootOrder", out, k * 2) < 0) {
		ret = -1;
		goto out;
	}
	notice("UEFI boot order: Boot%04X '%s' (the network, this boot) "
	       "first, then '%s': the boot server decides each boot", current,
	       desc, label);
	ret = 1;
out:
	free(cur);
	free(order);
	free(v);
	free(out);
	return ret;
}
