/*
 * Who may control the sqlite store's files. Like OpenSSH with its keys: a
 * file or directory another local user owns or can write lets that user
 * swap the database or plant a key they know, so it is refused rather than
 * trusted. Root is trusted (it can do anything anyway); so is the caller.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"
#include "store/private.h"

/* "alice (uid 1000)" into buf: the message names a person, the uid settles ambiguity. */
static const char *owner_name(char *buf, size_t len, uid_t uid)
{
	struct passwd pw, *found = NULL;
	char names[1024];

	if (getpwuid_r(uid, &pw, names, sizeof(names), &found) == 0 && found)
		snprintf(buf, len, "%s (uid %ld)", found->pw_name, (long)uid);
	else
		snprintf(buf, len, "uid %ld", (long)uid);
	return buf;
}

int pa_store_check_stat(const char *where, const char *path, const struct stat *sb, int err)
{
	char who[96], me[96];
	int trust = pa_stat_trust(sb);

	if (trust == PA_UNTRUSTED_OWNER)
		return pa_error_set(err, "%s: %s is owned by %s, not by you (%s) or root; refusing to use it",
		                    where, path, owner_name(who, sizeof(who), sb->st_uid),
		                    owner_name(me, sizeof(me), geteuid()));
	if (trust == PA_UNTRUSTED_MODE)
		return pa_error_set(err, "%s: %s (owner %s, mode %04o) is writable by group or others; "
		                    "refusing to use it (chmod go-w %s)",
		                    where, path, owner_name(who, sizeof(who), sb->st_uid),
		                    (unsigned)(sb->st_mode & 07777), path);
	return 0;
}

int pa_store_check_fd(const char *where, const char *path, int fd, int err)
{
	struct stat sb;

	if (fstat(fd, &sb) != 0)
		return pa_error_set(PROVAUTH_EIO, "%s: %s: %s", where, path, strerror(errno));
	return pa_store_check_stat(where, path, &sb, err);
}

int pa_store_check_dirs(const char *where, const char *file)
{
	char *copy = pa_strdup(file), *slash, *real = NULL;
	const char *dir;
	int rc = 0;

	if (!copy)
		return pa_error_oom();
	slash = strrchr(copy, '/');
	if (!slash)
		dir = ".";
	else {
		*(slash == copy ? slash + 1 : slash) = '\0';
		dir = copy;
	}
	/* The real path: a symlinked directory is judged by where it leads, as OpenSSH does. */
	if (!(real = realpath(dir, NULL))) {
		rc = pa_error_set(PROVAUTH_EIO, "%s: directory %s: %s", where, dir, strerror(errno));
		goto out;
	}
	for (;;) {
		struct stat sb;
		int fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0) {
			rc = pa_error_set(PROVAUTH_EIO, "%s: directory %s: %s", where, real, strerror(errno));
			break;
		}
		rc = fstat(fd, &sb) == 0 ? pa_store_check_stat(where, real, &sb, PROVAUTH_ESTORE)
		                         : pa_error_set(PROVAUTH_EIO, "%s: directory %s: %s", where, real,
		                                        strerror(errno));
		close(fd);
		if (rc < 0 || strcmp(real, "/") == 0)
			break;
		slash = strrchr(real, '/');
		*(slash == real ? slash + 1 : slash) = '\0';
	}
out:
	free(real);
	free(copy);
	return rc;
}
