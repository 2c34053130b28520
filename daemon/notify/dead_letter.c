/*
 * The dead letter: deliveries that gave up (or were still queued at stop),
 * one JSON line each, for an operator to replay. Created 0600 and never
 * through a symlink: the file may sit in a directory others can write.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "notify.h"

int pad_dead_letter_append(const char *path, const char *line)
{
	size_t len = strlen(line);
	char *buf;
	ssize_t w;
	int fd, rc = 0;

	if (!path || !*path)
		return PROVAUTH_EINVAL;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return PROVAUTH_EIO;
	if (!(buf = malloc(len + 1))) {
		close(fd);
		return PROVAUTH_ENOMEM;
	}
	memcpy(buf, line, len);
	buf[len] = '\n';
	/* One write: O_APPEND places it whole at the end, whoever else appends. */
	do
		w = write(fd, buf, len + 1);
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)(len + 1))
		rc = PROVAUTH_EIO;
	if (fsync(fd) < 0)
		rc = PROVAUTH_EIO;
	free(buf);
	if (close(fd) < 0)
		rc = PROVAUTH_EIO;
	return rc;
}
