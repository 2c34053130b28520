/*
 * The settings file: read from disk within the size limit, and judged for
 * who else can change it. Settings others can change decide where
 * passwords go and which plugins run, so a secret written literally in
 * such a file is refused.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "settings/settings_private.h"

/* The first secret written in the file itself (not all through ${VAR}), or NULL. */
static const provauth_setting *literal_secret(const provauth_setting *n, const char *key)
{
	const provauth_setting *hit;
	size_t i;

	if (!n)
		return NULL;
	switch (n->kind) {
	case NODE_SCALAR:
		return key && pa_key_is_secret(key) && n->literal && n->value && *n->value ? n : NULL;
	case NODE_MAP:
		for (i = 0; i < n->count; i++)
			if ((hit = literal_secret(n->entries[i].value, n->entries[i].key)))
				return hit;
		return NULL;
	case NODE_SEQ:
		for (i = 0; i < n->count; i++)
			if ((hit = literal_secret(n->items[i], key)))
				return hit;
		return NULL;
	default:
		return NULL;
	}
}

/*
 * Settings that another user can change decide where passwords and tokens
 * are sent (a provider's base_url) and which plugins run: a warning for
 * every program that loads them, and a refusal when they also hold a
 * secret written literally, which that user could read or redirect.
 */
int pa_settings_check_place(provauth_settings *s, const char *unsafe)
{
	const provauth_setting *hit;

	if (!unsafe)
		return 0;
	if ((hit = literal_secret(s->root, NULL)))
		return node_fail(hit, "a secret is written in a settings file that other users can change (%s); "
		                 "refused: make the file and its directory writable by you only, or take the "
		                 "secret from the environment with ${VAR}", unsafe);
	return pa_settings_add_warning(s, pa_sprintf("%s: other users can change this settings file (%s), "
	                                             "and with it where passwords and tokens are sent; make "
	                                             "the file and its directory writable by you only",
	                                             s->source, unsafe));
}

/* Whether `dir` is writable by every user; its mode in *mode. */
static int dir_world_writable(const char *dir, mode_t *mode)
{
	struct stat st;

	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return 0;
	*mode = st.st_mode;
	return (st.st_mode & S_IWOTH) != 0;
}

/*
 * Why other users can change the settings file at `path` (open as `st`):
 * the file itself writable by all, or its directory (that of the name
 * given, and that of the file a symlink leads to) writable by all, sticky
 * or not (in a sticky one they may have put the file there). NULL when
 * none of these holds (or memory ran out: the check is advice, not a lock).
 */
static char *unsafe_place(const char *path, const struct stat *st)
{
	char *copy, *real, *slash, *why = NULL;
	char *dirs[2];
	mode_t mode = 0;
	size_t i;

	if (st->st_mode & S_IWOTH)
		return pa_sprintf("the file is writable by every user, mode %04o", (unsigned)(st->st_mode & 07777));
	copy = pa_strdup(path);
	real = realpath(path, NULL);
	if (!copy)
		return NULL;
	dirs[0] = copy;
	dirs[1] = real;
	for (i = 0; i < 2 && !why; i++) {
		char *d = dirs[i];
		if (!d)
			continue;
		if ((slash = strrchr(d, '/')) == d)
			slash[1] = '\0';   /* "/x": the root */
		else if (slash)
			*slash = '\0';
		else
			d = (char *)".";
		if (dir_world_writable(d, &mode))
			why = pa_sprintf("its directory %s is writable by every user, mode %04o", d,
			                 (unsigned)(mode & 07777));
	}
	free(copy);
	free(real);
	return why;
}

int provauth_settings_load(provauth_settings **out, const char *path)
{
	char *unsafe = NULL;
	struct stat st;
	char *buf;
	size_t len = 0;
	int fd, rc;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_settings_load: out is NULL");
	*out = NULL;
	if (!path)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_settings_load: no settings file given (path is NULL)");
	/* O_NONBLOCK: a FIFO given by mistake must not hang the caller. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
		return pa_error_set(errno == ENOENT ? PROVAUTH_ENOTFOUND : PROVAUTH_EIO,
		                    "%s: cannot open settings file: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = pa_error_set(PROVAUTH_EIO, "%s: cannot stat settings file: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return pa_error_set(PROVAUTH_ECONFIG, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > PA_YAML_MAX_BYTES) {
		close(fd);
		return pa_error_set(PROVAUTH_ECONFIG, "%s: settings file is too large (%lld bytes; "
		                    "the limit is 1 MiB)", path, (long long)st.st_size);
	}
	/* Read at most one byte past the limit: the file may grow after fstat. */
	if (!(buf = malloc(PA_YAML_MAX_BYTES + 1))) {
		close(fd);
		return pa_error_oom();
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, PA_YAML_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = pa_error_set(PROVAUTH_EIO, "%s: cannot read settings file: %s", path, strerror(errno));
			goto done;
		}
		if (n == 0 || (len += (size_t)n) > PA_YAML_MAX_BYTES)
			break;
	}
	unsafe = unsafe_place(path, &st);
	rc = pa_settings_build(out, buf, len, path, 1, st.st_mode, unsafe);
done:
	free(unsafe);
	pa_wipe(buf, len);
	free(buf);
	close(fd);
	return rc;
}

