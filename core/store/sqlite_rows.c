/*
 * The sqlite store's rows: get, list, put, put_many and remove, each under
 * the store's mutex for the whole operation.
 *
 * At rest: the secret fields are encoded (record.c) and sealed (seal.c) with
 * the row's id, provider, email and revision as associated data (id and
 * provider only before schema 3), so a blob moved to another row, an older
 * blob of the same row put back, or an email edited behind our back does
 * not open: that account is refused, the others stay usable.
 */
#include "config.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store/record.h"
#include "store/seal.h"
#include "store/sqlite_private.h"

/* ---- sealing rows ---- */


/*
 * Associated data. Before schema 3: id NUL provider. From schema 3: the
 * full binding every sealing backend shares (account_seal.c).
 */
static int row_ad(char **out, size_t *len, int64_t schema, const char *id, const char *provider,
                  const char *email, uint64_t revision)
{
	size_t a, b;

	if (schema >= PA_SQL_SCHEMA_FULL_BINDING)
		return pa_account_seal_ad(out, len, id, provider, email, revision);
	a = strlen(id);
	b = strlen(provider);
	if (!(*out = malloc(a + 1 + b + 1)))
		return pa_error_oom();
	memcpy(*out, id, a + 1);
	memcpy(*out + a + 1, provider, b + 1);
	*len = a + 1 + b;
	return 0;
}

/* Seals a's secrets for the row it will have once written: revision a->revision + 1. */
int pa_sql_seal_secrets(sql_store *st, unsigned char **blob, size_t *blob_len, const provauth_account *a)
{
	/* Writes happen only at the current schema, whose binding is the shared one. */
	assert(st->schema >= PA_SQL_SCHEMA_FULL_BINDING);
	return pa_account_seal(blob, blob_len, st->key.bytes, a, a->revision + 1, st->where);
}

/* Opens a row's secrets into a, whose id, provider, email and revision are the row's. */
static int unseal_secrets(const sql_store *st, int64_t schema, provauth_account *a, const unsigned char *blob,
                          size_t blob_len)
{
	unsigned char *plain = NULL;
	size_t plain_len = 0, ad_len = 0;
	char *ad = NULL;
	int rc;

	if (schema >= PA_SQL_SCHEMA_FULL_BINDING)
		return pa_account_unseal(a, st->key.bytes, blob, blob_len, st->where);
	if ((rc = row_ad(&ad, &ad_len, schema, a->id, a->provider, a->email, a->revision)) < 0)
		return rc;
	if ((rc = pa_unseal(&plain, &plain_len, st->key.bytes, ad, ad_len, blob, blob_len)) < 0) {
		/* The key opened the key check: a row that does not open was changed. */
		rc = pa_error_set(PROVAUTH_ECRYPTO,
		                  "%s: account %s: its record was changed outside provauth (email, provider, "
		                  "revision or sealed secrets do not match, e.g. edited or an older copy put "
		                  "back); refusing to use it: remove the account and add it again",
		                  st->where, a->id);
	} else if ((rc = pa_record_decode(a, plain, plain_len)) < 0) {
		rc = pa_error_prefix(rc, "%s: account %s", st->where, a->id);
	}
	if (plain) {
		pa_wipe(plain, plain_len);
		free(plain);
	}
	free(ad);
	return rc;
}

/*
 * Reading a row is two steps, so the store's mutex is held only for the
 * first: pa_sql_row_read copies the columns (the secrets still sealed),
 * pa_sql_row_open unseals them with no database state. Opening is most of
 * a read's cost, and every thread of the process waits on that mutex.
 */
int pa_sql_row_read(sql_store *st, pa_sql_row *row, sqlite3_stmt *s)
{
	const char *id = (const char *)sqlite3_column_text(s, 0);
	const char *provider = (const char *)sqlite3_column_text(s, 1);
	const char *metadata;
	const void *blob;
	int rc, blob_len;

	memset(row, 0, sizeof(*row));
	if (!id || !provider)
		return pa_error_set(PROVAUTH_ESTORE, "%s: an account row has no id or provider", st->where);
	if ((rc = provauth_account_new(&row->account, id, provider)) < 0)
		return rc;
	metadata = (const char *)sqlite3_column_text(s, 3);
	if ((rc = pa_set_string(&row->account->email, (const char *)sqlite3_column_text(s, 2))) < 0 ||
	    (rc = pa_set_string(&row->account->metadata, metadata ? metadata : "{}")) < 0)
		goto fail;
	row->account->revision = (uint64_t)sqlite3_column_int64(s, 4);
	row->account->updated_at = sqlite3_column_int64(s, 5);
	row->expiry = sqlite3_column_int64(s, 6);
	row->schema = st->schema;
	blob = sqlite3_column_blob(s, 7);
	blob_len = sqlite3_column_bytes(s, 7);
	if (blob_len > 0) {
		if (!(row->blob = malloc((size_t)blob_len))) {
			rc = pa_error_oom();
			goto fail;
		}
		memcpy(row->blob, blob, (size_t)blob_len);
		row->blob_len = (size_t)blob_len;
	}
	if (sqlite3_column_count(s) > PA_SQL_ACCOUNT_COLUMN_COUNT &&
	    (rc = pa_sql_read_state(s, PA_SQL_ACCOUNT_COLUMN_COUNT, &row->account->state)) < 0)
		goto fail;
	return 0;
fail:
	pa_sql_row_clear(row);
	return rc;
}

int pa_sql_row_open(const sql_store *st, provauth_account **out, pa_sql_row *row)
{
	provauth_account *a = row->account;
	const char *token;
	int rc;

	*out = NULL;
	if ((rc = unseal_secrets(st, row->schema, a, row->blob, row->blob_len)) < 0)
		return rc;
	/* A version 1 record kept the access token's expiry in the row alone. */
	token = provauth_account_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL);
	if (token && row->expiry && !provauth_account_credential_expires(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL) &&
	    (rc = provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, token, row->expiry)) < 0)
		return rc;
	row->account = NULL;
	pa_sql_row_clear(row);
	*out = a;
	return 0;
}

void pa_sql_row_clear(pa_sql_row *row)
{
	provauth_account_free(row->account);
	free(row->blob);
	memset(row, 0, sizeof(*row));
}

int pa_sql_row_account(sql_store *st, provauth_account **out, sqlite3_stmt *s)
{
	pa_sql_row row;
	int rc;

	*out = NULL;
	if ((rc = pa_sql_row_read(st, &row, s)) < 0)
		return rc;
	if ((rc = pa_sql_row_open(st, out, &row)) < 0)
		pa_sql_row_clear(&row);
	return rc;
}

/* ---- the store interface ---- */

/*
 * The account in the first row of cached statement `sql`, its parameters
 * bound from params[0..n-1]: read under the mutex and unsealed with it given
 * back (the other threads need not wait for the crypto). No row:
 * PROVAUTH_ENOTFOUND naming params[0]: the id, or the provider `by_email`.
 */
static int one_account(sql_store *st, provauth_account **out, const char *sql, const char *const *params, int n,
                       const char *doing, int by_email)
{
	sqlite3_stmt *q = NULL;
	pa_sql_row row;
	int rc, i, found = 0;

	pa_sql_lock(st);
	if ((rc = pa_sql_prepare_cached(st, &q, sql)) < 0)
		goto out;
	for (i = 0; i < n; i++)
		sqlite3_bind_text(q, i + 1, params[i], -1, SQLITE_TRANSIENT);
	switch ((rc = sqlite3_step(q))) {
	case SQLITE_ROW:
		found = (rc = pa_sql_row_read(st, &row, q)) == 0;
		break;
	case SQLITE_DONE:
		rc = by_email ? pa_error_set(PROVAUTH_ENOTFOUND, "%s: no %s account with that email", st->where, params[0])
		             : pa_error_set(PROVAUTH_ENOTFOUND, "%s: no account %s", st->where, params[0]);
		break;
	default:
		rc = pa_sql_error(st, rc, doing);
	}
out:
	pa_sql_release(st, q);
	rc = pa_sql_unlock(st, rc);
	if (found && (rc = pa_sql_row_open(st, out, &row)) < 0)
		pa_sql_row_clear(&row);
	return rc;
}

static const char sql_get_account[] =
	"SELECT " PA_SQL_ACCOUNT_COLUMNS ", " PA_SQL_STATE_COLUMNS " FROM accounts WHERE id = ?1";

int pa_sql_get(provauth_store *s, provauth_account **out, const char *id)
{
	sql_store *st = (sql_store *)s;
	int rc;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "%s: get needs somewhere to put the account", st->where);
	*out = NULL;
	if ((rc = pa_store_check_id(st->where, id)) < 0)
		return rc;
	return one_account(st, out, sql_get_account, &id, 1, "reading an account", 0);
}

/* NOCASE folds ASCII only, as strcasecmp does; id orders as BINARY, as list does. */
static const char sql_find_email[] =
	"SELECT " PA_SQL_ACCOUNT_COLUMNS ", " PA_SQL_STATE_COLUMNS " FROM accounts"
	" WHERE provider = ?1 AND email = ?2 COLLATE NOCASE ORDER BY id LIMIT 1";

int pa_sql_find_email(provauth_store *s, provauth_account **out, const char *provider, const char *email)
{
	sql_store *st = (sql_store *)s;
	const char *params[] = { provider, email };

	if (!out || !provider || !email)
		return pa_error_set(PROVAUTH_EINVAL, "%s: find_email needs an out, a provider and an email", st->where);
	*out = NULL;
	return one_account(st, out, sql_find_email, params, 2, "finding an account by email", 1);
}

/*
 * list and list_checked. With `damaged`, a row that cannot be used (changed
 * outside provauth, undecodable) is named there instead of failing the list.
 */
static const char sql_list_accounts[] =
	"SELECT " PA_SQL_ACCOUNT_COLUMNS ", " PA_SQL_STATE_COLUMNS " FROM accounts ORDER BY id";
static const char sql_list_provider_accounts[] =
	"SELECT " PA_SQL_ACCOUNT_COLUMNS ", " PA_SQL_STATE_COLUMNS " FROM accounts WHERE provider = ?1 ORDER BY id";

/* Adds the id of a row that cannot be used to *damaged, or fails when the caller wants no such list. */
static int row_damaged(char ***damaged, size_t *ndamaged, const char *id, int rc)
{
	if (!damaged || (rc != PROVAUTH_ECRYPTO && rc != PROVAUTH_ESTORE))
		return rc;
	return pa_store_add_damaged(damaged, ndamaged, id);
}

static int list_rows(sql_store *st, provauth_account ***out, size_t *count, char ***damaged, size_t *ndamaged,
                     const char *provider)
{
	provauth_account **list = NULL;
	pa_sql_row *rows = NULL;
	size_t nrows = 0, cap = 0, n = 0, i;
	sqlite3_stmt *q = NULL;
	int rc;

	/* The rows are copied under the mutex and unsealed after it (pa_sql_row_read): a scan of
	 * thousands of accounts would otherwise hold every other thread's store call that long. */
	pa_sql_lock(st);
	if ((rc = pa_sql_prepare_cached(st, &q, provider ? sql_list_provider_accounts : sql_list_accounts)) < 0)
		goto out;
	if (provider)
		sqlite3_bind_text(q, 1, provider, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (nrows == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			pa_sql_row *grown = realloc(rows, ncap * sizeof(*grown));
			if (!grown) {
				rc = pa_error_oom();
				goto out;
			}
			rows = grown;
			cap = ncap;
		}
		if ((rc = pa_sql_row_read(st, &rows[nrows], q)) == 0) {
			nrows++;
			continue;
		}
		if ((rc = row_damaged(damaged, ndamaged, (const char *)sqlite3_column_text(q, 0), rc)) < 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : pa_sql_error(st, rc, "listing accounts");
out:
	pa_sql_release(st, q);
	rc = pa_sql_unlock(st, rc);
	/* An empty list is still an array, so callers can tell it from a failure. */
	if (rc == 0 && !(list = calloc(nrows ? nrows : 1, sizeof(*list))))
		rc = pa_error_oom();
	for (i = 0; i < nrows; i++) {
		int orc;

		if (rc == 0 && (orc = pa_sql_row_open(st, &list[n], &rows[i])) == 0) {
			n++;
			continue;
		}
		if (rc == 0)
			rc = row_damaged(damaged, ndamaged, rows[i].account->id, orc);
		pa_sql_row_clear(&rows[i]);
	}
	free(rows);
	if (rc < 0) {
		provauth_account_list_free(list, n);
		return rc;
	}
	*out = list;
	*count = n;
	return 0;
}

int pa_sql_list(provauth_store *s, provauth_account ***out, size_t *count, const char *provider)
{
	sql_store *st = (sql_store *)s;
	int rc;

	if ((rc = pa_store_check_list(st->where, out, count)) < 0)
		return rc;
	return list_rows(st, out, count, NULL, NULL, provider);
}

int pa_sql_list_checked(provauth_store *s, provauth_account ***out, size_t *count, char ***damaged,
                        size_t *damaged_count, const char *provider)
{
	sql_store *st = (sql_store *)s;
	int rc;

	if ((rc = pa_store_check_list(st->where, out, count)) < 0)
		return rc;
	if (!damaged || !damaged_count)
		return pa_error_set(PROVAUTH_EINVAL, "%s: list_checked needs somewhere to put damaged ids", st->where);
	*damaged = NULL;
	*damaged_count = 0;
	if ((rc = list_rows(st, out, count, damaged, damaged_count, provider)) < 0) {
		provauth_damaged_list_free(*damaged, *damaged_count);
		*damaged = NULL;
		*damaged_count = 0;
	}
	return rc;
}

/* Inside the transaction: tells ENOTFOUND from ECONFLICT after a write matched no row. */
static int explain_miss(sql_store *st, const char *id, uint64_t expected)
{
	sqlite3_stmt *q = NULL;
	int rc;

	PA_SQL_ASSERT_HELD(st);
	if ((rc = pa_sql_prepare(st, &q, "SELECT revision FROM accounts WHERE id = ?1")) < 0)
		return rc;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		rc = pa_error_set(PROVAUTH_ECONFLICT,
		                  "%s: account %s changed since it was read (revision %llu, stored %llu)",
		                  st->where, id, (unsigned long long)expected,
		                  (unsigned long long)sqlite3_column_int64(q, 0));
	else if (rc == SQLITE_DONE)
		rc = pa_error_set(PROVAUTH_ENOTFOUND, "%s: no account %s", st->where, id);
	else
		rc = pa_sql_error(st, rc, "reading an account");
	sqlite3_finalize(q);
	return rc;
}

#define SQL_INSERT \
	"INSERT INTO accounts (provider, email, metadata, updated_at, access_expires_at," \
	" secrets, id, revision, " PA_SQL_STATE_COLUMNS ")" \
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
#define SQL_UPDATE \
	"UPDATE accounts SET provider = ?1, email = ?2, metadata = ?3, updated_at = ?4," \
	" access_expires_at = ?5, secrets = ?6, revision = revision + 1," \
	" auth_method = ?9, health_state = ?10, health_reason = ?11, health_code = ?12, health_at = ?13," \
	" health_message = ?14, last_reauth_at = ?15, refresh_refused = ?16, refresh_refused_at = ?17" \
	" WHERE id = ?7 AND revision = ?8"
/* put_verbatim: the revision (?8) and the write time (?4) are the account's own. */
#define SQL_INSERT_VERBATIM \
	"INSERT INTO accounts (provider, email, metadata, updated_at, access_expires_at," \
	" secrets, id, revision, " PA_SQL_STATE_COLUMNS ")" \
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
/* The first parameter of PA_SQL_STATE_COLUMNS in all three statements. */
#define SQL_STATE_FIRST 9
/* Kept prepared (pa_sql_prepare_cached): a put runs on every refresh. */
static const char sql_insert[] = SQL_INSERT;
static const char sql_update[] = SQL_UPDATE;

static int check_revision(sql_store *st, const provauth_account *a)
{
	if (a->revision > (uint64_t)INT64_MAX - 1)
		return pa_error_set(PROVAUTH_EINVAL, "%s: account %s: revision out of range", st->where, a->id);
	return 0;
}

/*
 * Inside a transaction: one account's row through q (SQL_INSERT when its
 * revision is 0, else SQL_UPDATE), with its already sealed secrets. Leaves q
 * reset for the next account.
 */
static int write_row(sql_store *st, sqlite3_stmt *q, const provauth_account *account, const unsigned char *blob,
                     size_t blob_len, int64_t now)
{
	char doing[160];
	int64_t expiry;
	int rc;

	/* sqlite3_changes() below must be this statement's: nobody else may use the connection. */
	PA_SQL_ASSERT_HELD(st);
	/* A blob from pa_seal: its header and tag, and no more than sqlite's int can count. */
	assert(blob_len >= PA_SEAL_OVERHEAD && blob_len <= INT_MAX);
	snprintf(doing, sizeof(doing), "writing account %s", account->id);
	pa_sql_bind_text(q, 1, account->provider);
	pa_sql_bind_text(q, 2, account->email);
	pa_sql_bind_text(q, 3, pa_account_metadata(account));
	sqlite3_bind_int64(q, 4, now);
	/* Not secret, and what refresh-ahead looks at: the access token's expiry has a column of its own. */
	if ((expiry = provauth_account_credential_expires(account, PROVAUTH_CRED_ACCESS_TOKEN, NULL)))
		sqlite3_bind_int64(q, 5, expiry);
	else
		sqlite3_bind_null(q, 5);
	pa_sql_bind_text(q, 7, account->id);
	if (account->revision)
		sqlite3_bind_int64(q, 8, (sqlite3_int64)account->revision);
	pa_sql_bind_state(q, SQL_STATE_FIRST, &account->state);
	/* The sealed blob is the one value that can exceed sqlite's limits; a NULL would hide that. */
	if ((rc = sqlite3_bind_blob(q, 6, blob, (int)blob_len, SQLITE_STATIC)) != SQLITE_OK) {
		rc = pa_sql_error(st, rc, doing);
		goto out;
	}
	rc = sqlite3_step(q);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		rc = pa_error_set(PROVAUTH_ECONFLICT, "%s: account %s already exists", st->where, account->id);
	else if (rc != SQLITE_DONE)
		rc = pa_sql_error(st, rc, doing);
	else if (sqlite3_changes(st->db) != 1)
		rc = explain_miss(st, account->id, account->revision);
	else
		rc = 0;
out:
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

int pa_sql_put(provauth_store *s, provauth_account *account)
{
	sql_store *st = (sql_store *)s;
	unsigned char *blob = NULL;
	size_t blob_len = 0;
	sqlite3_stmt *q = NULL;
	int64_t now = (int64_t)time(NULL);
	int rc;

	if ((rc = pa_store_check_account(st->where, account)) < 0 || (rc = check_revision(st, account)) < 0)
		return rc;
	/* Sealed before locking: the crypto needs no database state. */
	if ((rc = pa_sql_seal_secrets(st, &blob, &blob_len, account)) < 0)
		return rc;
	pa_sql_lock(st);
	if ((rc = pa_sql_begin(st)) < 0)
		goto out;
	if ((rc = pa_sql_prepare_cached(st, &q, account->revision == 0 ? sql_insert : sql_update)) == 0)
		rc = write_row(st, q, account, blob, blob_len, now);
	pa_sql_release(st, q);
	rc = pa_sql_finish(st, rc);
out:
	rc = pa_sql_unlock(st, rc);
	pa_wipe(blob, blob_len);
	free(blob);
	if (rc < 0)
		return rc;
	account->revision++;
	account->updated_at = now;
	return 0;
}

/*
 * One BEGIN IMMEDIATE ... COMMIT for the whole batch, so one fsync. Each
 * account is sealed inside the transaction, just before its row is written:
 * memory stays at one sealed record however large the batch, and the
 * connection's mutex is held for the batch in any case. The first failing
 * row rolls everything back; the accounts change only after the commit.
 */
static int put_batch(sql_store *st, provauth_account *const *accounts, size_t n, int verbatim)
{
	sqlite3_stmt *ins = NULL, *upd = NULL;
	int64_t now = (int64_t)time(NULL);
	size_t i;
	int rc;

	rc = verbatim ? pa_store_check_verbatim(st->where, accounts, n) : pa_store_check_batch(st->where, accounts, n);
	if (rc < 0 || n == 0)
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = check_revision(st, accounts[i])) < 0)
			return rc;
	pa_sql_lock(st);
	if ((rc = pa_sql_begin(st)) < 0)
		goto out;
	if ((rc = pa_sql_prepare(st, &ins, verbatim ? SQL_INSERT_VERBATIM : SQL_INSERT)) < 0 ||
	    (!verbatim && (rc = pa_sql_prepare(st, &upd, SQL_UPDATE)) < 0))
		goto done;
	for (i = 0; i < n && rc == 0; i++) {
		const provauth_account *a = accounts[i];
		/* A copy keeps its revision and write time; any other write makes the next ones. */
		uint64_t revision = verbatim ? a->revision : a->revision + 1;
		unsigned char *blob = NULL;
		size_t blob_len = 0;

		if ((rc = pa_account_seal(&blob, &blob_len, st->key.bytes, a, revision, st->where)) < 0)
			break;
		rc = write_row(st, verbatim || a->revision == 0 ? ins : upd, a, blob, blob_len,
		               verbatim ? a->updated_at : now);
		pa_wipe(blob, blob_len);
		free(blob);
	}
done:
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	rc = pa_sql_finish(st, rc);
out:
	rc = pa_sql_unlock(st, rc);
	if (rc < 0 || verbatim)
		return rc;
	for (i = 0; i < n; i++) {
		accounts[i]->revision++;
		accounts[i]->updated_at = now;
	}
	return 0;
}

int pa_sql_put_many(provauth_store *s, provauth_account *const *accounts, size_t n)
{
	return put_batch((sql_store *)s, accounts, n, 0);
}

/* Like put_many, but each row keeps the account's revision and updated_at, and must be new. */
int pa_sql_put_verbatim(provauth_store *s, provauth_account *const *accounts, size_t n)
{
	return put_batch((sql_store *)s, accounts, n, 1);
}

int pa_sql_remove(provauth_store *s, const char *id, uint64_t expected_revision)
{
	sql_store *st = (sql_store *)s;
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = pa_store_check_id(st->where, id)) < 0)
		return rc;
	pa_sql_lock(st);
	if ((rc = pa_sql_begin(st)) < 0)
		goto out;
	if ((rc = pa_sql_prepare(st, &q, "DELETE FROM accounts WHERE id = ?1 AND (?2 = 0 OR revision = ?2)")) < 0)
		goto done;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)expected_revision);
	rc = sqlite3_step(q);
	if (rc != SQLITE_DONE)
		rc = pa_sql_error(st, rc, "removing an account");
	else if (sqlite3_changes(st->db) != 1)
		rc = explain_miss(st, id, expected_revision);
	else
		rc = 0;
done:
	sqlite3_finalize(q);
	rc = pa_sql_finish(st, rc);
out:
	rc = pa_sql_unlock(st, rc);
	return rc;
}
