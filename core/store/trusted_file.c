/*
 * Files a host trusts as the library trusts its own (provauthd's TLS
 * certificate and key): the whole path checked as the store's files are,
 * then the open descriptor itself (owner, mode, a regular file), so what
 * is read is what was checked.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"
#include "store/private.h"

static int read_checked(char **out, size_t *len, const char *path, unsigned flags, size_t max, int fd)
{
	struct stat sb;
	char *buf;
	size_t got = 0;
	int rc;

	if (fstat(fd, &sb) != 0)
		return pa_error_set(PROVAUTH_EIO, "%s: %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return pa_error_set(PROVAUTH_ECONFIG, "%s is not a regular file", path);
	if ((rc = pa_store_check_stat("provauth", path, &sb, PROVAUTH_ECONFIG)) < 0)
		return rc;
	if ((flags & PROVAUTH_TRUST_SECRET) && (sb.st_mode & 077))
		return pa_error_set(PROVAUTH_ECONFIG, "%s holds a secret and is accessible by group or others "
		                    "(mode %04o); run: chmod 600 %s", path, (unsigned)(sb.st_mode & 07777), path);
	if ((uint64_t)sb.st_size > max)
		return pa_error_set(PROVAUTH_ECONFIG, "%s is too large (%lld bytes; at most %zu)", path,
		                    (long long)sb.st_size, max);
	if (!(buf = malloc(max + 1)))
		return pa_error_oom();
	for (;;) {
		ssize_t n = read(fd, buf + got, max + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = pa_error_set(PROVAUTH_EIO, "cannot read %s: %s", path, strerror(errno));
			pa_wipe(buf, got);
			free(buf);
			return rc;
		}
		if (n == 0)
			break;
		if ((got += (size_t)n) > max) {
			pa_wipe(buf, got);
			free(buf);
			return pa_error_set(PROVAUTH_ECONFIG, "%s grew past %zu bytes while being read", path, max);
		}
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

int provauth_trusted_file_read(char **out, size_t *len, const char *path, unsigned flags, size_t max)
{
	int fd, rc;

	if (!out || !len || !path || !*path)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_trusted_file_read: out, len and path are required");
	*out = NULL;
	*len = 0;
	/* A directory another user can change lets them swap the file after the check. */
	if ((rc = pa_store_check_dirs("provauth", path)) < 0)
		return rc == PROVAUTH_ESTORE ? PROVAUTH_ECONFIG : rc;
	/* O_NONBLOCK: a FIFO put in its place must not hang the caller. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
		return pa_error_set(errno == ENOENT ? PROVAUTH_ENOTFOUND : PROVAUTH_EIO, "cannot open %s: %s", path,
		                    strerror(errno));
	rc = read_checked(out, len, path, flags, max, fd);
	close(fd);
	return rc;
}
