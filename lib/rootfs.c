/* rootfs.c - see rootfs.h */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "rootfs.h"
#include "util.h"

int rootfs_open_dir(const char *root, const char *rel, mode_t mode)
{
	char *copy = xstrdup(rel), *save = NULL, *c;
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), next, err;

	for (c = strtok_r(copy, "/", &save); c && fd >= 0;
	     c = strtok_r(NULL, "/", &save)) {
		if (mode && mkdirat(fd, c, mode) < 0 && errno != EEXIST) {
			next = -1;
		} else {
			next = openat(fd, c, O_RDONLY | O_DIRECTORY |
				      O_NOFOLLOW | O_CLOEXEC);
			/* O_NOFOLLOW|O_DIRECTORY on a symlink says ENOTDIR on
			 * some kernels: say what it is. */
			if (next < 0 && errno == ENOTDIR) {
				struct stat st;

				if (fstatat(fd, c, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				    S_ISLNK(st.st_mode))
					errno = ELOOP;
				else
					errno = ENOTDIR;
			}
		}
		err = errno;
		close(fd);
		fd = next;
		errno = err;
	}
	free(copy);
	return fd;
}

/* Opens the directory holding REL (creating it with mode when not 0) and
 * points *base at REL's last component.  Returns the descriptor, or -1
 * (errno set). */
static int open_parent(const char *root, const char *rel, mode_t mode,
		       const char **base)
{
	const char *slash = strrchr(rel, '/');
	char *dir = slash ? strndup(rel, slash - rel) : xstrdup("");
	int fd;

	*base = slash ? slash + 1 : rel;
	fd = rootfs_open_dir(root, dir, mode);
	free(dir);
	return fd;
}

static int fail(const char *what, const char *root, const char *rel)
{
	return error_errno("cannot %s '%s/%s'", what, root, rel);
}

int rootfs_lstat(const char *root, const char *rel, struct stat *st)
{
	const char *base;
	int dfd = open_parent(root, rel, 0, &base), ret = 0;

	if (dfd < 0)
		return errno == ENOENT ? 1 : fail("open the directory of", root,
						  rel);
	if (fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW) < 0)
		ret = errno == ENOENT ? 1 : fail("stat", root, rel);
	close(dfd);
	return ret;
}

int rootfs_read(const char *root, const char *rel, char **text, size_t *len)
{
	const char *base;
	int dfd = open_parent(root, rel, 0, &base), fd, ret = -1;
	struct stat st;
	size_t got = 0;
	ssize_t n;

	*text = NULL;
	if (dfd < 0)
		return errno == ENOENT ? 1 : fail("open the directory of", root,
						  rel);
	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return errno == ENOENT ? 1 : fail("open", root, rel);
	if (fstat(fd, &st) < 0) {
		fail("read", root, rel);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		fail("read", root, rel);
		goto out;
	}
	*text = xmalloc((size_t)st.st_size + 1);
	errno = 0;
	while (got < (size_t)st.st_size &&
	       (n = read(fd, *text + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	if (got < (size_t)st.st_size) {
		if (!errno)
			errno = EIO;
		fail("read", root, rel);
		free(*text);
		*text = NULL;
		goto out;
	}
	(*text)[got] = '\0';
	if (len)
		*len = got;
	ret = 0;
out:
	close(fd);
	return ret;
}

int rootfs_write(const char *root, const char *rel, const void *buf,
		 size_t len, mode_t mode)
{
	const char *base;
	int dfd = open_parent(root, rel, 0755, &base), fd, ret = -1;
	struct stat old;
	char *tmp;

	if (dfd < 0)
		return fail("open the directory of", root, rel);
	tmp = xasprintf(".%s.si_boel.%ld", base, (long)getpid());
	unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, mode);
	if (fd < 0) {
		fail("create a temporary file for", root, rel);
		goto out;
	}
	if (fstatat(dfd, base, &old, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(old.st_mode)) {
		if (fchown(fd, old.st_uid, old.st_gid) < 0 && geteuid() == 0)
			warning_errno("cannot keep the owner of '%s/%s'", root,
				      rel);
		mode = old.st_mode & 07777;
	}
	if (fchmod(fd, mode) < 0 || write_all(fd, buf, len) < 0 ||
	    fsync(fd) < 0) {
		fail("write", root, rel);
		close(fd);
	} else if (close(fd) < 0 || renameat(dfd, tmp, dfd, base) < 0) {
		fail("write", root, rel);
	} else {
		fsync(dfd);
		ret = 0;
	}
	if (ret < 0)
		unlinkat(dfd, tmp, 0);
out:
	free(tmp);
	close(dfd);
	return ret;
}

int rootfs_truncate(const char *root, const char *rel)
{
	const char *base;
	int dfd = open_parent(root, rel, 0, &base), fd, ret = 0;
	struct stat st;

	if (dfd < 0)
		return errno == ENOENT ? 1 : fail("open the directory of", root,
						  rel);
	fd = openat(dfd, base, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return errno == ENOENT ? 1 : fail("open", root, rel);
	if (fstat(fd, &st) < 0) {
		ret = fail("truncate", root, rel);
	} else if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		ret = fail("truncate", root, rel);
	} else if (st.st_size && (ftruncate(fd, 0) < 0 || fsync(fd) < 0)) {
		ret = fail("truncate", root, rel);
	}
	close(fd);
	return ret;
}

int rootfs_unlink(const char *root, const char *rel)
{
	const char *base;
	int dfd = open_parent(root, rel, 0, &base), ret = 0;

	if (dfd < 0)
		return errno == ENOENT ? 1 : fail("open the directory of", root,
						  rel);
	if (unlinkat(dfd, base, 0) < 0)
		ret = errno == ENOENT ? 1 : fail("remove", root, rel);
	close(dfd);
	return ret;
}

int rootfs_symlink(const char *root, const char *rel, const char *target)
{
	const char *base;
	int dfd = open_parent(root, rel, 0755, &base), ret = 0;
	char *tmp;

	if (dfd < 0)
		return fail("open the directory of", root, rel);
	tmp = xasprintf(".%s.si_boel.%ld", base, (long)getpid());
	unlinkat(dfd, tmp, 0);
	if (symlinkat(target, dfd, tmp) < 0 ||
	    renameat(dfd, tmp, dfd, base) < 0) {
		ret = fail("make the symlink", root, rel);
		unlinkat(dfd, tmp, 0);
	}
	free(tmp);
	close(dfd);
	return ret;
}
