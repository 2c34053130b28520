/*
 * Durable commits for the sqlite store, shared between threads (a group
 * commit).
 *
 * The connection runs synchronous = NORMAL once open: a COMMIT appends its
 * frames to the -wal and returns without an fdatasync. The operation that
 * committed then gives the store's mutex back and waits here until the log
 * is on disk up to its commit. One thread (the leader) calls fdatasync for
 * every commit made before it started; the others that committed meanwhile
 * wait for the next one. Under load N concurrent writers share one sync
 * where synchronous = FULL gave each its own, taken with the mutex held, so
 * readers queued behind every sync as well.
 *
 * Why it is as safe as FULL: an operation still returns only once its
 * commit is on disk. The -wal is one append-only log, so syncing it makes
 * every earlier frame durable too; a commit another thread could read
 * before it was synced is part of that prefix, so anything durable written
 * on the strength of it (by any connection of this host: they share the
 * file) is synced after it. A checkpoint syncs the log itself before it
 * copies frames into the database (sqlite's own rule in NORMAL mode).
 *
 * An fdatasync that fails marks the store broken for writes: Linux may drop
 * the pages it could not write and report the error once, so a later sync
 * that "succeeds" proves nothing. Every later write is refused until the
 * store is opened again; reads go on.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "store/sqlite_private.h"

/* sqlite's commit hook: this connection committed (any statement, in or out of BEGIN). */
static int note_commit(void *arg)
{
	sql_store *st = arg;

	st->committed = 1;
	return 0; /* 0: let the commit go on */
}

int pa_sql_sync_start(sql_store *st)
{
	const char *db_file = sqlite3_db_filename(st->db, "main");
	const char *wal = db_file ? sqlite3_filename_wal(db_file) : NULL;

	if (!wal || !*wal)
		return pa_error_set(PROVAUTH_ESTORE, "%s: sqlite names no write-ahead log for it", st->where);
	if (!(st->wal_path = pa_strdup(wal)))
		return pa_error_oom();
	sqlite3_commit_hook(st->db, note_commit, st);
	/* From here a commit's sync is ours (pa_sql_unlock), done outside the mutex and shared. */
	return pa_sql_exec(st, "PRAGMA synchronous = NORMAL", "setting synchronous mode");
}

/*
 * After the connection is closed. Closing a descriptor drops every POSIX
 * lock this process holds on that file; sqlite locks the database and the
 * -shm in WAL mode, never the -wal, so this one is free to go.
 */
void pa_sql_sync_stop(sql_store *st)
{
	if (st->wal_fd >= 0)
		close(st->wal_fd);
	st->wal_fd = -1;
	free(st->wal_path);
	st->wal_path = NULL;
}

/*
 * The log's descriptor, opened at the first sync (after a commit the file
 * exists). sqlite keeps it while any connection is open, ours included, so
 * it stays the same file: only the last connection to close removes it.
 */
static int wal_fd(sql_store *st, int *fd)
{
	struct stat sb;
	int f;

	if (st->wal_fd >= 0) {
		*fd = st->wal_fd;
		return 0;
	}
	f = open(st->wal_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0)
		return pa_error_set(PROVAUTH_EIO, "%s: cannot open its log %s to save a write: %s", st->where,
		                    st->wal_path, strerror(errno));
	if (fstat(f, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(f);
		return pa_error_set(PROVAUTH_ESTORE, "%s: its log %s is not a regular file", st->where, st->wal_path);
	}
	*fd = st->wal_fd = f;
	return 0;
}

static int broken(sql_store *st, int err)
{
	return pa_error_set(PROVAUTH_EIO,
	                    "%s: an earlier write could not be saved to disk (%s), so what was written since may be "
	                    "lost; no more writes until the store is opened again (after the disk is fixed)",
	                    st->where, strerror(err));
}

/* Waits until the log is on disk up to commit `seq`, leading the sync when nobody is. */
static int sync_to(sql_store *st, uint64_t seq)
{
	int rc = 0;

	pthread_mutex_lock(&st->sync_mu);
	while (st->synced < seq && !st->sync_errno) {
		uint64_t target;
		int fd = -1, err = 0;

		if (st->syncing) {
			pthread_cond_wait(&st->sync_cv, &st->sync_mu);
			continue;
		}
		st->syncing = 1;
		/* Every commit numbered up to here has written its frames: this sync covers them all. */
		target = atomic_load(&st->written);
		pthread_mutex_unlock(&st->sync_mu);
		if ((rc = wal_fd(st, &fd)) == 0 && fdatasync(fd) != 0)
			err = errno;
		pthread_mutex_lock(&st->sync_mu);
		st->syncing = 0;
		st->syncs++;
		if (rc == 0 && !err && target > st->synced)
			st->synced = target;
		else if (err)
			st->sync_errno = err;
		pthread_cond_broadcast(&st->sync_cv);
		if (rc < 0)
			break; /* the log could not be opened: this writer's error, the next one tries again */
	}
	if (rc == 0 && st->synced < seq)
		rc = broken(st, st->sync_errno);
	pthread_mutex_unlock(&st->sync_mu);
	return rc;
}

int pa_sql_unlock(sql_store *st, int rc)
{
	uint64_t seq = 0;
	int committed = st->committed && sqlite3_total_changes64(st->db) != st->changes_at_lock, err;

	st->committed = 0;
	/* Numbered under the mutex, after the COMMIT: a leader that reads `written` sees only finished ones. */
	if (committed)
		seq = atomic_fetch_add(&st->written, 1) + 1;
	st->held = 0;
	pthread_mutex_unlock(&st->lock);
	if (!committed)
		return rc;
	err = sync_to(st, seq);
	return rc < 0 ? rc : err;
}

int pa_sql_unlock_volatile(sql_store *st, int rc)
{
	st->committed = 0;
	st->held = 0;
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int pa_sql_writable(sql_store *st)
{
	int err;

	pthread_mutex_lock(&st->sync_mu);
	err = st->sync_errno;
	pthread_mutex_unlock(&st->sync_mu);
	return err ? broken(st, err) : 0;
}
