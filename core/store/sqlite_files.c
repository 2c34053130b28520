/*
 * The sqlite store's files: the database, created 0600 or judged for who
 * may change it, its -wal and -shm, and the lock that serialises opening.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "store/sqlite_private.h"

/*
 * The database and its side files are looked at through O_PATH descriptors.
 * Another connection of this process (a daemon's previous world, a host's
 * second manager) may hold SQLite's POSIX locks on them, and closing any
 * ordinary descriptor of a file drops every such lock the process holds:
 * other processes would then think nobody uses the store, rebuild its
 * -shm index and stop seeing this process's commits (SQLite's "how to
 * corrupt" list, 2.2). Closing an O_PATH descriptor drops no lock, and
 * fstat answers on it: the checks stay on the descriptor, not the name.
 */
#ifdef O_PATH
#define LOOK_FLAGS (O_PATH | O_CLOEXEC)
#else
#define LOOK_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
#endif


/*
 * Opens the database file, creating it 0600 when absent so sqlite never
 * creates it with the umask's mode (its -wal and -shm files copy the
 * database's mode). An existing file keeps the mode its owner gave it: never
 * widened, never silently changed, but refused when another user owns it or
 * can write it. Runs under the open lock, so a file found empty was not just
 * created by another opener still setting it up: a 0-byte file we did not
 * create is refused (it is not a store, and making one in it would hide
 * whatever emptied it). *created tells the caller it may remove the file
 * again if the open fails.
 */
int pa_sql_ensure_file(const sql_store *st, int *created)
{
	struct stat sb;
	int fd, rc;

	*created = 0;
	fd = open(st->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd >= 0) {
		close(fd);
		*created = 1;
		pa_store_sync_dir(st->path);
		return 0;
	}
	if (errno != EEXIST)
		return pa_error_set(PROVAUTH_EIO, "%s: cannot create the file: %s", st->where, strerror(errno));
	/* O_PATH (or non-blocking): a FIFO planted at the path must not hang us; it is refused below. */
	if ((fd = open(st->path, LOOK_FLAGS)) < 0)
		return pa_error_set(PROVAUTH_EIO, "%s: %s", st->where, strerror(errno));
	if (fstat(fd, &sb) != 0)
		rc = pa_error_set(PROVAUTH_EIO, "%s: %s", st->where, strerror(errno));
	else if (!S_ISREG(sb.st_mode))
		rc = pa_error_set(PROVAUTH_ESTORE, "%s: not a regular file", st->where);
	else if ((rc = pa_store_check_stat(st->where, st->path, &sb, PROVAUTH_ESTORE)) < 0)
		;
	else if (sb.st_size == 0)
		rc = pa_error_set(PROVAUTH_ESTORE,
		                  "%s: the file is empty (0 bytes) and was not created by this process; refusing "
		                  "to make a new store in it (remove it to start an empty store)", st->where);
	close(fd);
	return rc;
}

/* The -wal and -shm files, when present, are part of the database: same rules as the file. */
int pa_sql_check_side_files(const sql_store *st)
{
	static const char *const suffixes[] = { "-wal", "-shm" };
	size_t i;
	int rc = 0;

	for (i = 0; i < PA_ARRAY_LEN(suffixes) && rc == 0; i++) {
		char *side = pa_sprintf("%s%s", st->path, suffixes[i]);
		int fd;

		if (!side)
			return pa_error_oom();
		fd = open(side, LOOK_FLAGS | O_NOFOLLOW);
		if (fd < 0) {
			if (errno != ENOENT)
				rc = pa_error_set(PROVAUTH_ESTORE, "%s: %s: %s", st->where, side, strerror(errno));
		} else {
			struct stat sb;
			if (fstat(fd, &sb) != 0)
				rc = pa_error_set(PROVAUTH_EIO, "%s: %s: %s", st->where, side, strerror(errno));
			else if (!S_ISREG(sb.st_mode))
				rc = pa_error_set(PROVAUTH_ESTORE, "%s: %s is not a regular file", st->where, side);
			else
				rc = pa_store_check_stat(st->where, side, &sb, PROVAUTH_ESTORE);
			close(fd);
		}
		free(side);
	}
	return rc;
}

/* After a failed open of a file this process created: nothing of value is in it, and left empty it would be refused. */
void pa_sql_remove_created(const sql_store *st)
{
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(suffixes); i++) {
		char *f = pa_sprintf("%s%s", st->path, suffixes[i]);
		if (f)
			unlink(f);
		free(f);
	}
}
/*
 * Opening (schema check, key check, the switch to WAL, migrations) runs under
 * an flock(2) on the store's directory. Several processes opening a new store
 * at once would otherwise race through the WAL switch, which SQLite refuses
 * without waiting when two connections could deadlock on the lock upgrade.
 * The directory is locked, not the database file: closing any descriptor of
 * the file would drop the POSIX locks SQLite holds on it.
 */
int pa_sql_lock_for_open(const sql_store *st, int *fd_out)
{
	int64_t deadline = pa_monotonic_ms() + st->busy_ms;
	struct timespec pause = { 0, 5 * 1000000L };
	char *dir = pa_strdup(st->path), *slash;
	int fd;

	*fd_out = -1;
	if (!dir)
		return pa_error_oom();
	if ((slash = strrchr(dir, '/')))
		*(slash == dir ? slash + 1 : slash) = '\0';
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return pa_error_set(PROVAUTH_EIO, "%s: cannot open its directory: %s", st->where, strerror(errno));
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			close(fd);
			return pa_error_set(PROVAUTH_EIO, "%s: cannot lock its directory: %s", st->where, strerror(errno));
		}
		if (pa_monotonic_ms() >= deadline) {
			close(fd);
			return pa_error_set(PROVAUTH_EBUSY, "%s: another process kept it locked for %d ms while opening it",
			                    st->where, st->busy_ms);
		}
		nanosleep(&pause, NULL);
	}
	*fd_out = fd;
	return 0;
}
