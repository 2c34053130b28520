/*
 * The sqlite store's columns for the core's own state of an account
 * (provauth_account.state, schema 4): binding and reading them, and the
 * schema 4 migration that moves each row's state out of its metadata JSON,
 * where schemas 1 to 3 kept it, into them.
 *
 * The state is not secret, so it lives in plain columns rather than the
 * sealed blob: moving it changes neither the blob nor what the blob is bound
 * to (id, provider, email, revision), and no row needs re-sealing.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "store/sqlite_private.h"

static void bind_int_or_null(sqlite3_stmt *q, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(q, i, v);
	else
		sqlite3_bind_null(q, i);
}

void pa_sql_bind_state(sqlite3_stmt *q, int first, const provauth_account_state *s)
{
	pa_sql_bind_text(q, first, s->auth_method == PROVAUTH_AUTH_UNKNOWN ? NULL
	                           : provauth_auth_method_name(s->auth_method));
	pa_sql_bind_text(q, first + 1, s->health.state);
	pa_sql_bind_text(q, first + 2, s->health.reason);
	pa_sql_bind_text(q, first + 3, s->health.code);
	bind_int_or_null(q, first + 4, s->health.at);
	pa_sql_bind_text(q, first + 5, s->health.message);
	bind_int_or_null(q, first + 6, s->last_reauth_at);
	pa_sql_bind_text(q, first + 7, s->refresh_refused);
	bind_int_or_null(q, first + 8, s->refresh_refused_at);
}

static const char *column_text(sqlite3_stmt *q, int i)
{
	return (const char *)sqlite3_column_text(q, i);
}

int pa_sql_read_state(sqlite3_stmt *q, int first, provauth_account_state *s)
{
	s->auth_method = provauth_auth_method_parse(column_text(q, first));
	if (pa_health_set(&s->health, column_text(q, first + 1), column_text(q, first + 2),
	                  column_text(q, first + 3), sqlite3_column_int64(q, first + 4),
	                  column_text(q, first + 5)) < 0 ||
	    pa_set_string(&s->refresh_refused, column_text(q, first + 7)) < 0)
		return pa_error_oom();
	s->last_reauth_at = sqlite3_column_int64(q, first + 6);
	s->refresh_refused_at = sqlite3_column_int64(q, first + 8);
	return 0;
}

#define SQL_MOVE_STATE \
	"UPDATE accounts SET metadata = ?1, auth_method = ?2, health_state = ?3, health_reason = ?4," \
	" health_code = ?5, health_at = ?6, health_message = ?7, last_reauth_at = ?8, refresh_refused = ?9," \
	" refresh_refused_at = ?10 WHERE id = ?11"

/*
 * Inside the migration to schema 4: every row's state keys move from its
 * metadata into the state columns, read exactly as the core read them
 * (pa_account_state_from_metadata). Metadata the core could never read, or
 * that holds no state, is left as it is: it loses nothing it had. Only the
 * metadata and state columns are written, so the sealed secrets stay
 * byte for byte what they were.
 */
int pa_sql_move_state(sql_store *st)
{
	sqlite3_stmt *q = NULL, *upd = NULL;
	int rc;

	if ((rc = pa_sql_prepare(st, &q, "SELECT id, provider, metadata FROM accounts ORDER BY id")) < 0 ||
	    (rc = pa_sql_prepare(st, &upd, SQL_MOVE_STATE)) < 0)
		goto out;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *id = column_text(q, 0), *provider = column_text(q, 1), *metadata = column_text(q, 2);
		provauth_account *a = NULL;
		int moved = 0;

		/* A row without id or provider is refused by every read already; it stays as it is. */
		if (!id || !*id || !provider || !*provider || !metadata)
			continue;
		if ((rc = provauth_account_new(&a, id, provider)) < 0 || (rc = pa_set_string(&a->metadata, metadata)) < 0 ||
		    (rc = pa_account_state_from_metadata(a, &moved)) < 0) {
			provauth_account_free(a);
			goto out;
		}
		if (moved) {
			pa_sql_bind_text(upd, 1, a->metadata);
			pa_sql_bind_state(upd, 2, &a->state);
			pa_sql_bind_text(upd, 11, a->id);
			rc = sqlite3_step(upd);
			sqlite3_reset(upd);
			sqlite3_clear_bindings(upd);
		} else {
			rc = SQLITE_DONE;
		}
		provauth_account_free(a);
		if (rc != SQLITE_DONE) {
			rc = pa_sql_error(st, rc, "moving account state into its columns");
			goto out;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : pa_sql_error(st, rc, "moving account state into its columns");
out:
	sqlite3_finalize(q);
	sqlite3_finalize(upd);
	return rc;
}
