/*
 * The sqlite store's sealing key: from the options, PROVAUTH_STORE_KEY, or
 * a key file (by default "<db>.key") that is created on first use.
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

#ifndef HAVE_SECURE_GETENV
# define secure_getenv getenv
#endif

#define KEY_ENV "PROVAUTH_STORE_KEY"

static int hex_value(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* The value is a secret: errors name the variable, never echo it. */
static int key_from_env(pa_store_key *k, const char *where, const char *value)
{
	size_t i;

	if (strlen(value) != 2 * PA_SEAL_KEY_LEN)
		goto bad;
	for (i = 0; i < PA_SEAL_KEY_LEN; i++) {
		int hi = hex_value((unsigned char)value[2 * i]), lo = hex_value((unsigned char)value[2 * i + 1]);
		if (hi < 0 || lo < 0)
			goto bad;
		k->bytes[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
bad:
	pa_wipe(k->bytes, sizeof(k->bytes));
	return pa_error_set(PROVAUTH_ECRYPTO,
	                    "%s: " KEY_ENV " must be exactly 64 hex digits (a 32-byte key); its value is not shown",
	                    where);
}

int pa_store_key_resolve(pa_store_key *k, const char *where, const char *db_path,
                         const unsigned char *key, const char *key_file)
{
	const char *env;
	int rc;

	memset(k, 0, sizeof(*k));
	if (key) {
		memcpy(k->bytes, key, PA_SEAL_KEY_LEN);
		k->source = pa_strdup("the key given in the options");
	} else if (key_file && *key_file) {
		k->file = pa_strdup(key_file);
	} else if ((env = secure_getenv(KEY_ENV)) != NULL && *env) {
		if ((rc = key_from_env(k, where, env)) < 0)
			return rc;
		k->source = pa_strdup("the key in " KEY_ENV);
	} else {
		k->file = pa_sprintf("%s.key", db_path);
	}
	if (!k->source && k->file)
		k->source = pa_sprintf("the key in %s", k->file);
	if (!k->source) {
		pa_store_key_clear(k);
		return pa_error_oom();
	}
	return 0;
}

static int read_key_file(pa_store_key *k, const char *where, int fd)
{
	struct stat sb;
	size_t got = 0;
	int rc, flags;

	if (fstat(fd, &sb) != 0)
		return pa_error_set(PROVAUTH_EIO, "%s: key file %s: %s", where, k->file, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return pa_error_set(PROVAUTH_ECRYPTO, "%s: key file %s is not a regular file", where, k->file);
	/* A key file another user made is a key they know: whatever is sealed with it is theirs. */
	if ((rc = pa_store_check_stat(where, k->file, &sb, PROVAUTH_ECRYPTO)) < 0)
		return rc;
	if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
		return pa_error_set(PROVAUTH_EIO, "%s: key file %s: %s", where, k->file, strerror(errno));
	if (sb.st_mode & 077)
		return pa_error_set(PROVAUTH_ECRYPTO,
		                    "%s: key file %s is accessible by group or others (mode %04o); run: chmod 600 %s",
		                    where, k->file, (unsigned)(sb.st_mode & 07777), k->file);
	if (sb.st_size != PA_SEAL_KEY_LEN)
		return pa_error_set(PROVAUTH_ECRYPTO, "%s: key file %s holds %lld bytes; a store key is exactly %d bytes",
		                    where, k->file, (long long)sb.st_size, PA_SEAL_KEY_LEN);
	while (got < PA_SEAL_KEY_LEN) {
		ssize_t n = read(fd, k->bytes + got, PA_SEAL_KEY_LEN - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			pa_wipe(k->bytes, sizeof(k->bytes));
			return pa_error_set(PROVAUTH_EIO, "%s: cannot read key file %s: %s", where, k->file,
			                    n < 0 ? strerror(errno) : "file shrank while reading");
		}
		got += (size_t)n;
	}
	return 0;
}

static int write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A new random key, published atomically: written and synced under a unique
 * temporary name (mkstemp: O_EXCL, 0600), then hard-linked to its name. link
 * fails when the name exists, where rename would replace it, so when two
 * processes race to create the key one wins and the other reads the winner's
 * key; no key that already sealed data is ever replaced.
 */
static int create_key_file(pa_store_key *k, const char *where)
{
	unsigned char fresh[PA_SEAL_KEY_LEN];
	char *tmp;
	int fd, rc = 0, linked;

	if (!(tmp = pa_sprintf("%s.tmp.XXXXXX", k->file)))
		return pa_error_oom();
	if ((fd = mkstemp(tmp)) < 0) {
		rc = pa_error_set(PROVAUTH_EIO, "%s: cannot create key file %s: %s", where, k->file, strerror(errno));
		free(tmp);
		return rc;
	}
	if ((rc = pa_random_bytes(fresh, sizeof(fresh))) < 0)
		goto fail;
	if (fchmod(fd, 0600) != 0 || write_all(fd, fresh, sizeof(fresh)) != 0 || fsync(fd) != 0) {
		rc = pa_error_set(PROVAUTH_EIO, "%s: cannot write key file %s: %s", where, k->file, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	linked = link(tmp, k->file) == 0;
	if (!linked && errno != EEXIST) {
		rc = pa_error_set(PROVAUTH_EIO, "%s: cannot create key file %s: %s", where, k->file, strerror(errno));
		goto fail;
	}
	unlink(tmp);
	free(tmp);
	if (!linked) {
		pa_wipe(fresh, sizeof(fresh));
		return pa_store_key_load(k, where, 0);
	}
	pa_store_sync_dir(k->file);
	memcpy(k->bytes, fresh, sizeof(fresh));
	pa_wipe(fresh, sizeof(fresh));
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	pa_wipe(fresh, sizeof(fresh));
	return rc;
}

int pa_store_key_load(pa_store_key *k, const char *where, int may_create)
{
	int fd, rc;

	if (!k->file)
		return 0;
	/* The key file's directories, like the store's: whoever can write them can swap the key. */
	if ((rc = pa_store_check_dirs(where, k->file)) < 0)
		return rc;
	/*
	 * O_NONBLOCK: opening a FIFO planted at the key path would otherwise
	 * wait for a writer forever, with the store lock held. read_key_file
	 * refuses anything but a regular file; blocking reads come back after.
	 */
	if ((fd = open(k->file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
		if (errno != ENOENT)
			return pa_error_set(PROVAUTH_EIO, "%s: cannot open key file %s: %s", where, k->file,
			                    strerror(errno));
		if (!may_create)
			return pa_error_set(PROVAUTH_ECRYPTO,
			                    "%s: key file %s does not exist, but the store already holds sealed "
			                    "data; restore the key file (a new key cannot open it)", where, k->file);
		return create_key_file(k, where);
	}
	rc = read_key_file(k, where, fd);
	close(fd);
	return rc;
}

void pa_store_key_clear(pa_store_key *k)
{
	pa_wipe(k->bytes, sizeof(k->bytes));
	free(k->file);
	free(k->source);
	k->file = k->source = NULL;
}
