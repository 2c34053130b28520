/*
 * Cross-process leases in the sqlite store: who may recover an account
 * now. A lease names its owner and its holder process, so a lease whose
 * holder died on this host is taken over at once instead of after its TTL.
 * Expiry uses the wall clock, which processes share.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "store/sqlite_private.h"

/* Kept prepared (pa_sql_prepare_cached): every recovery takes and gives back a lease. */
static const char sql_read_lease[] =
	"SELECT owner, expires_at_ms, holder_pid, holder_boot_id, holder_pidns, holder_start FROM leases"
	" WHERE account_id = ?1";
static const char sql_write_lease[] =
	"INSERT OR REPLACE INTO leases (account_id, owner, expires_at_ms, holder_pid, holder_boot_id, holder_pidns,"
	" holder_start) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char sql_release_lease[] = "DELETE FROM leases WHERE account_id = ?1 AND owner = ?2";

/*
 * Leases commit without waiting for the disk (pa_sql_unlock_volatile): a
 * lease lives no longer than its holder, and a crash of the host that
 * loses one also ended the process that held it.
 */

/* Reads the holder columns of a leases row (columns first..first+3). */
static void row_holder(pa_lease_holder *h, sqlite3_stmt *q, int first)
{
	const char *boot = (const char *)sqlite3_column_text(q, first + 1);

	memset(h, 0, sizeof(*h));
	h->pid = sqlite3_column_int64(q, first);
	snprintf(h->boot_id, sizeof(h->boot_id), "%s", boot ? boot : "");
	h->pidns = sqlite3_column_int64(q, first + 2);
	h->start = sqlite3_column_int64(q, first + 3);
}

int pa_sql_lease_acquire(provauth_store *s, const char *id, const char *owner, int64_t ttl_ms)
{
	sql_store *st = (sql_store *)s;
	sqlite3_stmt *q = NULL;
	pa_lease_holder me, holder;
	int64_t now = pa_store_wall_ms();
	int rc;

	if ((rc = pa_store_check_lease(st->where, id, owner, ttl_ms)) < 0)
		return rc;
	pa_lease_holder_self(&me);
	pa_sql_lock(st);
	if ((rc = pa_sql_begin(st)) < 0)
		goto out;
	if ((rc = pa_sql_prepare_cached(st, &q, sql_read_lease)) < 0)
		goto done;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const char *holder_owner = (const char *)sqlite3_column_text(q, 0);
		row_holder(&holder, q, 2);
		/* A holder that died on this host cannot finish or release: its TTL would only stall everyone. */
		if (holder_owner && strcmp(holder_owner, owner) != 0 && sqlite3_column_int64(q, 1) > now &&
		    !pa_lease_holder_dead(&holder)) {
			rc = pa_error_set(PROVAUTH_EBUSY, "%s: account %s: lease held by %s", st->where, id,
			                  holder_owner);
			goto done;
		}
	} else if (rc != SQLITE_DONE) {
		rc = pa_sql_error(st, rc, "reading a lease");
		goto done;
	}
	pa_sql_release(st, q);
	q = NULL;
	rc = pa_sql_prepare_cached(st, &q, sql_write_lease);
	if (rc < 0)
		goto done;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 2, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 3, ttl_ms > INT64_MAX - now ? INT64_MAX : now + ttl_ms);
	sqlite3_bind_int64(q, 4, me.pid);
	pa_sql_bind_text(q, 5, me.boot_id[0] ? me.boot_id : NULL);
	sqlite3_bind_int64(q, 6, me.pidns);
	sqlite3_bind_int64(q, 7, me.start);
	rc = sqlite3_step(q);
	rc = rc == SQLITE_DONE ? 0 : pa_sql_error(st, rc, "writing a lease");
done:
	pa_sql_release(st, q);
	rc = pa_sql_finish(st, rc);
out:
	rc = pa_sql_unlock_volatile(st, rc);
	return rc;
}

int pa_sql_lease_release(provauth_store *s, const char *id, const char *owner)
{
	sql_store *st = (sql_store *)s;
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = pa_store_check_lease(st->where, id, owner, PA_STORE_NO_TTL)) < 0)
		return rc;
	pa_sql_lock(st);
	if ((rc = pa_sql_prepare_cached(st, &q, sql_release_lease)) == 0) {
		sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 2, owner, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(q);
		rc = rc == SQLITE_DONE ? 0 : pa_sql_error(st, rc, "releasing a lease");
	}
	pa_sql_release(st, q);
	rc = pa_sql_unlock_volatile(st, rc);
	return rc;
}
