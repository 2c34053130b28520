/*
 * The "sqlite" store: one SQLite file shared by every process of a host.
 *
 * Concurrency: one connection per store, opened SQLITE_OPEN_NOMUTEX and
 * guarded by our own mutex held for a whole operation, because an operation
 * is several statements (BEGIN IMMEDIATE ... COMMIT) and sqlite3_changes()
 * and sqlite3_errmsg() are per connection. Between processes, WAL mode and
 * BEGIN IMMEDIATE serialise writers; the busy timeout makes them wait.
 *
 * At rest: the secret fields are encoded (record.c) and sealed (seal.c) with
 * the row's id, provider, email and revision as associated data (id and
 * provider only before schema 3), so a blob moved to another row, an older
 * blob of the same row put back, or an email edited behind our back does
 * not open: that account is refused, the others stay usable. A sealed known plaintext in meta.key_check lets open
 * tell a wrong key from a damaged row before anything is written.
 *
 * Open never writes to a file it cannot vouch for: a non-database, a damaged
 * file, a newer schema, someone else's SQLite database or a wrong key all fail
 * before the first write.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "internal.h"
#include "store/record.h"
#include "store/seal.h"
#include "store/private.h"

#define DEFAULT_BUSY_MS 5000
#define KEY_CHECK_AD "provauth store key check"
#define KEY_CHECK_TEXT "provauth store key check v1"

/*
 * Schema migrations: migrations[i] takes the schema from version i to i + 1,
 * inside the same transaction that sets PRAGMA user_version. A new version
 * appends a step; existing steps never change.
 */
static const char *const migrations[] = {
	/* 1: accounts with sealed secrets, cross-process leases, store metadata. */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value BLOB NOT NULL);"
	"CREATE TABLE accounts ("
	"  id TEXT PRIMARY KEY,"
	"  provider TEXT NOT NULL,"
	"  email TEXT,"
	"  metadata TEXT NOT NULL,"
	"  revision INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  access_expires_at INTEGER,"
	"  secrets BLOB NOT NULL);"
	"CREATE INDEX accounts_by_provider ON accounts (provider, id);"
	/* Leases are not tied to accounts by a foreign key: a lease may guard work on an id in any state. */
	"CREATE TABLE leases ("
	"  account_id TEXT PRIMARY KEY,"
	"  owner TEXT,"
	"  expires_at_ms INTEGER);",
	/*
	 * 2: the lease holder's process identity, so a lease whose holder died on
	 * this host is taken over at once instead of after its TTL.
	 */
	"ALTER TABLE leases ADD COLUMN holder_pid INTEGER;"
	"ALTER TABLE leases ADD COLUMN holder_boot_id TEXT;"
	"ALTER TABLE leases ADD COLUMN holder_pidns INTEGER;"
	"ALTER TABLE leases ADD COLUMN holder_start INTEGER;",
	/*
	 * 3: the sealed secrets bind email and revision too. The rows are
	 * re-sealed by reseal_rows, in the same transaction.
	 */
	"INSERT INTO meta (key, value) VALUES ('sealed_binding', 'id provider email revision');",
};

/* The schema from which rows are sealed with the full binding. */
#define SCHEMA_FULL_BINDING 3

#define SCHEMA_VERSION ((int)PA_ARRAY_LEN(migrations))

typedef struct sql_store {
	provauth_store base;
	pthread_mutex_t lock;
	sqlite3 *db;
	char *path;
	char *where;          /* "store <path>" for messages */
	int busy_ms;
	int64_t schema;       /* the file's schema version: it says how rows are bound */
	pa_store_key key;
} sql_store;

#define ACCOUNT_COLUMNS "id, provider, email, metadata, revision, updated_at, access_expires_at, secrets"

/* ---- errors and statements ---- */

static int db_error(sql_store *st, int rc, const char *doing)
{
	const char *msg = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return pa_error_set(PROVAUTH_ESTORE,
		                    "%s: %s (not a provauth store, or damaged; the file was left as it is)",
		                    st->where, msg);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return pa_error_set(PROVAUTH_EIO, "%s: still locked by another connection after %d ms while %s",
		                    st->where, st->busy_ms, doing);
	default:
		return pa_error_set(PROVAUTH_EIO, "%s: %s: %s", st->where, doing, msg);
	}
}

static int prepare(sql_store *st, sqlite3_stmt **stmt, const char *sql)
{
	int rc = sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL);

	if (rc != SQLITE_OK) {
		sqlite3_finalize(*stmt);
		*stmt = NULL;
		return db_error(st, rc, "preparing a query");
	}
	return 0;
}

static int exec(sql_store *st, const char *sql, const char *doing)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_error(st, rc, doing);
}

static int begin(sql_store *st)
{
	return exec(st, "BEGIN IMMEDIATE", "starting a transaction");
}

static void rollback(sql_store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Ends the transaction begun by begin(): commits when rc is 0, else rolls back. Returns the outcome. */
static int finish(sql_store *st, int rc)
{
	if (rc == 0)
		rc = exec(st, "COMMIT", "committing");
	if (rc < 0)
		rollback(st);
	return rc;
}

/* Binds text, or NULL for a NULL string. */
static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
}

/* ---- sealing rows ---- */

/*
 * Associated data. Before schema 3: id NUL provider. From schema 3: a label,
 * then id, provider, email ("-" when absent, "=" then the email otherwise,
 * so absent and empty differ) and the decimal revision, NUL-separated.
 * None holds a NUL, so the split is unambiguous.
 */
static int row_ad(char **out, size_t *len, int64_t schema, const char *id, const char *provider,
                  const char *email, uint64_t revision)
{
	if (schema < SCHEMA_FULL_BINDING) {
		size_t a = strlen(id), b = strlen(provider);

		if (!(*out = malloc(a + 1 + b + 1)))
			return pa_error_oom();
		memcpy(*out, id, a + 1);
		memcpy(*out + a + 1, provider, b + 1);
		*len = a + 1 + b;
		return 0;
	}
	if (!(*out = pa_sprintf("provauth account v3%c%s%c%s%c%s%s%c%llu", 0, id, 0, provider, 0,
	                        email ? "=" : "-", email ? email : "", 0, (unsigned long long)revision)))
		return pa_error_oom();
	/* pa_sprintf's length ends at the first NUL: count the parts instead. */
	*len = strlen("provauth account v3") + 1 + strlen(id) + 1 + strlen(provider) + 1 + 1 +
	       (email ? strlen(email) : 0) + 1 + (size_t)snprintf(NULL, 0, "%llu", (unsigned long long)revision);
	return 0;
}

/* Seals a's secrets for the row it will have once written: revision a->revision + 1. */
static int seal_secrets(sql_store *st, unsigned char **blob, size_t *blob_len, const provauth_account *a)
{
	unsigned char *plain = NULL;
	size_t plain_len = 0, ad_len;
	char *ad = NULL;
	int rc;

	if ((rc = pa_record_encode(&plain, &plain_len, a)) < 0 ||
	    (rc = row_ad(&ad, &ad_len, st->schema, a->id, a->provider, a->email, a->revision + 1)) < 0 ||
	    (rc = pa_seal(blob, blob_len, st->key.bytes, ad, ad_len, plain, plain_len)) < 0)
		rc = pa_error_prefix(rc, "%s: account %s", st->where, a->id);
	pa_wipe(plain, plain_len);
	free(plain);
	free(ad);
	return rc;
}

/* Opens a row's secrets into a, whose id, provider, email and revision are the row's. */
static int unseal_secrets(sql_store *st, provauth_account *a, const unsigned char *blob, size_t blob_len)
{
	unsigned char *plain = NULL;
	size_t plain_len = 0, ad_len;
	char *ad = NULL;
	int rc;

	if ((rc = row_ad(&ad, &ad_len, st->schema, a->id, a->provider, a->email, a->revision)) < 0)
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

/* Builds an account from a row of ACCOUNT_COLUMNS. */
static int row_account(sql_store *st, provauth_account **out, sqlite3_stmt *s)
{
	const char *id = (const char *)sqlite3_column_text(s, 0);
	const char *provider = (const char *)sqlite3_column_text(s, 1);
	const char *metadata;
	const unsigned char *blob;
	provauth_account *a = NULL;
	int rc, blob_len;

	*out = NULL;
	if (!id || !provider)
		return pa_error_set(PROVAUTH_ESTORE, "%s: an account row has no id or provider", st->where);
	if ((rc = provauth_account_new(&a, id, provider)) < 0)
		return rc;
	metadata = (const char *)sqlite3_column_text(s, 3);
	if ((rc = pa_set_string(&a->email, (const char *)sqlite3_column_text(s, 2))) < 0 ||
	    (rc = pa_set_string(&a->metadata, metadata ? metadata : "{}")) < 0)
		goto fail;
	a->revision = (uint64_t)sqlite3_column_int64(s, 4);
	a->updated_at = sqlite3_column_int64(s, 5);
	a->access_expires_at = sqlite3_column_int64(s, 6);
	blob = sqlite3_column_blob(s, 7);
	blob_len = sqlite3_column_bytes(s, 7);
	if ((rc = unseal_secrets(st, a, blob, (size_t)blob_len)) < 0)
		goto fail;
	*out = a;
	return 0;
fail:
	provauth_account_free(a);
	return rc;
}

/* ---- the store interface ---- */

static int sql_get(provauth_store *s, provauth_account **out, const char *id)
{
	sql_store *st = (sql_store *)s;
	sqlite3_stmt *q = NULL;
	int rc;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "%s: get needs somewhere to put the account", st->where);
	*out = NULL;
	if ((rc = pa_store_check_id(st->where, id)) < 0)
		return rc;
	pthread_mutex_lock(&st->lock);
	if ((rc = prepare(st, &q, "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE id = ?1")) < 0)
		goto out;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
	switch ((rc = sqlite3_step(q))) {
	case SQLITE_ROW:
		rc = row_account(st, out, q);
		break;
	case SQLITE_DONE:
		rc = pa_error_set(PROVAUTH_ENOTFOUND, "%s: no account %s", st->where, id);
		break;
	default:
		rc = db_error(st, rc, "reading an account");
	}
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Adds a copy of id to a damaged list. */
static int add_damaged(char ***ids, size_t *n, const char *id)
{
	char **grown = realloc(*ids, (*n + 1) * sizeof(**ids));

	if (!grown)
		return pa_error_oom();
	*ids = grown;
	if (!(grown[*n] = pa_strdup(id)))
		return pa_error_oom();
	(*n)++;
	return 0;
}

/*
 * list and list_checked. With `damaged`, a row that cannot be used (changed
 * outside provauth, undecodable) is named there instead of failing the list.
 */
static int list_rows(sql_store *st, provauth_account ***out, size_t *count, char ***damaged, size_t *ndamaged,
                     const char *provider)
{
	provauth_account **list = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *q = NULL;
	int rc;

	pthread_mutex_lock(&st->lock);
	rc = prepare(st, &q, provider
	                     ? "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE provider = ?1 ORDER BY id"
	                     : "SELECT " ACCOUNT_COLUMNS " FROM accounts ORDER BY id");
	if (rc < 0)
		goto out;
	if (provider)
		sqlite3_bind_text(q, 1, provider, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			provauth_account **grown = realloc(list, ncap * sizeof(*grown));
			if (!grown) {
				rc = pa_error_oom();
				goto out;
			}
			list = grown;
			cap = ncap;
		}
		if ((rc = row_account(st, &list[n], q)) == 0) {
			n++;
			continue;
		}
		if (!damaged || (rc != PROVAUTH_ECRYPTO && rc != PROVAUTH_ESTORE))
			goto out;
		if ((rc = add_damaged(damaged, ndamaged, (const char *)sqlite3_column_text(q, 0))) < 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : db_error(st, rc, "listing accounts");
	/* An empty list is still an array, so callers can tell it from a failure. */
	if (rc == 0 && !list && !(list = calloc(1, sizeof(*list))))
		rc = pa_error_oom();
out:
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	if (rc < 0) {
		provauth_account_list_free(list, n);
		return rc;
	}
	*out = list;
	*count = n;
	return 0;
}

static int sql_list(provauth_store *s, provauth_account ***out, size_t *count, const char *provider)
{
	sql_store *st = (sql_store *)s;
	int rc;

	if ((rc = pa_store_check_list(st->where, out, count)) < 0)
		return rc;
	return list_rows(st, out, count, NULL, NULL, provider);
}

static int sql_list_checked(provauth_store *s, provauth_account ***out, size_t *count, char ***damaged,
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

	if ((rc = prepare(st, &q, "SELECT revision FROM accounts WHERE id = ?1")) < 0)
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
		rc = db_error(st, rc, "reading an account");
	sqlite3_finalize(q);
	return rc;
}

#define SQL_INSERT \
	"INSERT INTO accounts (provider, email, metadata, updated_at, access_expires_at," \
	" secrets, id, revision) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)"
#define SQL_UPDATE \
	"UPDATE accounts SET provider = ?1, email = ?2, metadata = ?3, updated_at = ?4," \
	" access_expires_at = ?5, secrets = ?6, revision = revision + 1" \
	" WHERE id = ?7 AND revision = ?8"

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
	int rc;

	snprintf(doing, sizeof(doing), "writing account %s", account->id);
	bind_text(q, 1, account->provider);
	bind_text(q, 2, account->email);
	bind_text(q, 3, pa_account_metadata(account));
	sqlite3_bind_int64(q, 4, now);
	if (account->access_expires_at)
		sqlite3_bind_int64(q, 5, account->access_expires_at);
	else
		sqlite3_bind_null(q, 5);
	bind_text(q, 7, account->id);
	if (account->revision)
		sqlite3_bind_int64(q, 8, (sqlite3_int64)account->revision);
	/* The sealed blob is the one value that can exceed sqlite's limits; a NULL would hide that. */
	if ((rc = sqlite3_bind_blob(q, 6, blob, (int)blob_len, SQLITE_STATIC)) != SQLITE_OK) {
		rc = db_error(st, rc, doing);
		goto out;
	}
	rc = sqlite3_step(q);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		rc = pa_error_set(PROVAUTH_ECONFLICT, "%s: account %s already exists", st->where, account->id);
	else if (rc != SQLITE_DONE)
		rc = db_error(st, rc, doing);
	else if (sqlite3_changes(st->db) != 1)
		rc = explain_miss(st, account->id, account->revision);
	else
		rc = 0;
out:
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

static int sql_put(provauth_store *s, provauth_account *account)
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
	if ((rc = seal_secrets(st, &blob, &blob_len, account)) < 0)
		return rc;
	pthread_mutex_lock(&st->lock);
	if ((rc = begin(st)) < 0)
		goto out;
	if ((rc = prepare(st, &q, account->revision == 0 ? SQL_INSERT : SQL_UPDATE)) == 0)
		rc = write_row(st, q, account, blob, blob_len, now);
	sqlite3_finalize(q);
	rc = finish(st, rc);
out:
	pthread_mutex_unlock(&st->lock);
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
static int sql_put_many(provauth_store *s, provauth_account *const *accounts, size_t n)
{
	sql_store *st = (sql_store *)s;
	sqlite3_stmt *ins = NULL, *upd = NULL;
	int64_t now = (int64_t)time(NULL);
	size_t i;
	int rc;

	if ((rc = pa_store_check_batch(st->where, accounts, n)) < 0 || n == 0)
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = check_revision(st, accounts[i])) < 0)
			return rc;
	pthread_mutex_lock(&st->lock);
	if ((rc = begin(st)) < 0)
		goto out;
	if ((rc = prepare(st, &ins, SQL_INSERT)) < 0 || (rc = prepare(st, &upd, SQL_UPDATE)) < 0)
		goto done;
	for (i = 0; i < n && rc == 0; i++) {
		unsigned char *blob = NULL;
		size_t blob_len = 0;

		if ((rc = seal_secrets(st, &blob, &blob_len, accounts[i])) < 0)
			break;
		rc = write_row(st, accounts[i]->revision == 0 ? ins : upd, accounts[i], blob, blob_len, now);
		pa_wipe(blob, blob_len);
		free(blob);
	}
done:
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	rc = finish(st, rc);
out:
	pthread_mutex_unlock(&st->lock);
	if (rc < 0)
		return rc;
	for (i = 0; i < n; i++) {
		accounts[i]->revision++;
		accounts[i]->updated_at = now;
	}
	return 0;
}

static int sql_remove(provauth_store *s, const char *id, uint64_t expected_revision)
{
	sql_store *st = (sql_store *)s;
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = pa_store_check_id(st->where, id)) < 0)
		return rc;
	pthread_mutex_lock(&st->lock);
	if ((rc = begin(st)) < 0)
		goto out;
	if ((rc = prepare(st, &q, "DELETE FROM accounts WHERE id = ?1 AND (?2 = 0 OR revision = ?2)")) < 0)
		goto done;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)expected_revision);
	rc = sqlite3_step(q);
	if (rc != SQLITE_DONE)
		rc = db_error(st, rc, "removing an account");
	else if (sqlite3_changes(st->db) != 1)
		rc = explain_miss(st, id, expected_revision);
	else
		rc = 0;
done:
	sqlite3_finalize(q);
	rc = finish(st, rc);
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

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

static int sql_lease_acquire(provauth_store *s, const char *id, const char *owner, int64_t ttl_ms)
{
	sql_store *st = (sql_store *)s;
	sqlite3_stmt *q = NULL;
	pa_lease_holder me, holder;
	int64_t now = pa_store_wall_ms();
	int rc;

	if ((rc = pa_store_check_lease(st->where, id, owner, ttl_ms)) < 0)
		return rc;
	pa_lease_holder_self(&me);
	pthread_mutex_lock(&st->lock);
	if ((rc = begin(st)) < 0)
		goto out;
	if ((rc = prepare(st, &q, "SELECT owner, expires_at_ms, holder_pid, holder_boot_id, holder_pidns,"
	                          " holder_start FROM leases WHERE account_id = ?1")) < 0)
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
		rc = db_error(st, rc, "reading a lease");
		goto done;
	}
	sqlite3_finalize(q);
	q = NULL;
	if ((rc = prepare(st, &q, "INSERT OR REPLACE INTO leases (account_id, owner, expires_at_ms, holder_pid,"
	                          " holder_boot_id, holder_pidns, holder_start) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")) < 0)
		goto done;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 2, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 3, ttl_ms > INT64_MAX - now ? INT64_MAX : now + ttl_ms);
	sqlite3_bind_int64(q, 4, me.pid);
	bind_text(q, 5, me.boot_id[0] ? me.boot_id : NULL);
	sqlite3_bind_int64(q, 6, me.pidns);
	sqlite3_bind_int64(q, 7, me.start);
	rc = sqlite3_step(q);
	rc = rc == SQLITE_DONE ? 0 : db_error(st, rc, "writing a lease");
done:
	sqlite3_finalize(q);
	rc = finish(st, rc);
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static int sql_lease_release(provauth_store *s, const char *id, const char *owner)
{
	sql_store *st = (sql_store *)s;
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = pa_store_check_lease(st->where, id, owner, PA_STORE_NO_TTL)) < 0)
		return rc;
	pthread_mutex_lock(&st->lock);
	if ((rc = prepare(st, &q, "DELETE FROM leases WHERE account_id = ?1 AND owner = ?2")) == 0) {
		sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(q, 2, owner, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(q);
		rc = rc == SQLITE_DONE ? 0 : db_error(st, rc, "releasing a lease");
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static void sql_free(provauth_store *s)
{
	sql_store *st = (sql_store *)s;

	if (!st)
		return;
	/* close_v2 so a leftover statement cannot keep the file open forever. */
	sqlite3_close_v2(st->db);
	pa_store_key_clear(&st->key);
	free(st->path);
	free(st->where);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/* ---- files ---- */

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
static int ensure_db_file(const sql_store *st, int *created)
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
	/* Non-blocking: a FIFO planted at the path must not hang us; it is refused below. */
	if ((fd = open(st->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
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
static int check_side_files(const sql_store *st)
{
	static const char *const suffixes[] = { "-wal", "-shm" };
	size_t i;
	int rc = 0;

	for (i = 0; i < PA_ARRAY_LEN(suffixes) && rc == 0; i++) {
		char *side = pa_sprintf("%s%s", st->path, suffixes[i]);
		int fd;

		if (!side)
			return pa_error_oom();
		fd = open(side, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
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
static void remove_created(const sql_store *st)
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

/* ---- opening ---- */

static int query_int(sql_store *st, const char *sql, int64_t *out, const char *doing)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = prepare(st, &q, sql)) < 0)
		return rc;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(q, 0);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = pa_error_set(PROVAUTH_ESTORE, "%s: %s: no answer (damaged file?)", st->where, doing);
	} else {
		rc = db_error(st, rc, doing);
	}
	sqlite3_finalize(q);
	return rc;
}

/*
 * Reads the schema version and refuses files we must not touch. Only reads:
 * it runs before anything is written.
 */
static int inspect(sql_store *st, int64_t *version)
{
	int64_t objects;
	int rc;

	if ((rc = query_int(st, "SELECT count(*) FROM sqlite_master", &objects, "reading the schema")) < 0 ||
	    (rc = query_int(st, "PRAGMA user_version", version, "reading the schema version")) < 0)
		return rc;
	if (*version > SCHEMA_VERSION)
		return pa_error_set(PROVAUTH_ESTORE,
		                    "%s: schema version %lld is newer than this library supports (%d); upgrade provauth",
		                    st->where, (long long)*version, SCHEMA_VERSION);
	if (*version < 0)
		return pa_error_set(PROVAUTH_ESTORE, "%s: schema version %lld is not a provauth schema version",
		                    st->where, (long long)*version);
	if (*version == 0 && objects > 0)
		return pa_error_set(PROVAUTH_ESTORE,
		                    "%s: an SQLite database that is not a provauth store (it holds %lld schema "
		                    "objects and no provauth schema version); refusing to change it",
		                    st->where, (long long)objects);
	return 0;
}

/* 1 when meta.key_check exists and opens with our key, 0 when absent; < 0 on a wrong key. */
static int check_key(sql_store *st)
{
	sqlite3_stmt *q = NULL;
	unsigned char *plain = NULL;
	size_t plain_len = 0;
	int rc;

	if ((rc = prepare(st, &q, "SELECT value FROM meta WHERE key = 'key_check'")) < 0)
		return rc;
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		rc = 0;
	} else if (rc != SQLITE_ROW) {
		rc = db_error(st, rc, "reading the key check");
	} else {
		const unsigned char *blob = sqlite3_column_blob(q, 0);
		size_t len = (size_t)sqlite3_column_bytes(q, 0);

		if (!blob || len < PA_SEAL_OVERHEAD || blob[0] != PA_SEAL_VERSION)
			rc = pa_error_set(PROVAUTH_ESTORE, "%s: the key check record is damaged", st->where);
		else if (pa_unseal(&plain, &plain_len, st->key.bytes, KEY_CHECK_AD, strlen(KEY_CHECK_AD), blob, len) < 0)
			rc = pa_error_set(PROVAUTH_ECRYPTO, "%s: %s does not open this store (wrong key?)",
			                  st->where, st->key.source);
		else if (plain_len != strlen(KEY_CHECK_TEXT) || memcmp(plain, KEY_CHECK_TEXT, plain_len) != 0)
			rc = pa_error_set(PROVAUTH_ESTORE, "%s: the key check record is damaged", st->where);
		else
			rc = 1;
	}
	free(plain);
	sqlite3_finalize(q);
	return rc;
}

static int write_key_check(sql_store *st)
{
	unsigned char *blob = NULL;
	size_t len = 0;
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = pa_seal(&blob, &len, st->key.bytes, KEY_CHECK_AD, strlen(KEY_CHECK_AD), KEY_CHECK_TEXT,
	                  strlen(KEY_CHECK_TEXT))) < 0)
		return pa_error_prefix(rc, "%s", st->where);
	if ((rc = prepare(st, &q, "INSERT INTO meta (key, value) VALUES ('key_check', ?1)")) == 0) {
		sqlite3_bind_blob(q, 1, blob, (int)len, SQLITE_STATIC);
		rc = sqlite3_step(q);
		rc = rc == SQLITE_DONE ? 0 : db_error(st, rc, "writing the key check");
	}
	sqlite3_finalize(q);
	free(blob);
	return rc;
}

/*
 * Inside the migration to schema 3: every row sealed with the old binding is
 * sealed again with the full one. A row that does not open is left as it is:
 * it was damaged already, and stays refused (and named) like any other.
 */
static int reseal_rows(sql_store *st)
{
	sqlite3_stmt *q = NULL, *upd = NULL;
	int rc;

	if ((rc = prepare(st, &q, "SELECT " ACCOUNT_COLUMNS " FROM accounts ORDER BY id")) < 0 ||
	    (rc = prepare(st, &upd, "UPDATE accounts SET secrets = ?1 WHERE id = ?2")) < 0)
		goto out;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		provauth_account *a = NULL;
		unsigned char *blob = NULL;
		size_t blob_len = 0;

		st->schema = SCHEMA_FULL_BINDING - 1;
		rc = row_account(st, &a, q);
		st->schema = SCHEMA_FULL_BINDING;
		if (rc == PROVAUTH_ECRYPTO || rc == PROVAUTH_ESTORE)
			continue;
		if (rc < 0)
			goto out;
		/* seal_secrets binds revision + 1, the revision a put would write; this row keeps its own. */
		a->revision--;
		rc = seal_secrets(st, &blob, &blob_len, a);
		provauth_account_free(a);
		if (rc < 0)
			goto out;
		bind_text(upd, 2, (const char *)sqlite3_column_text(q, 0));
		sqlite3_bind_blob(upd, 1, blob, (int)blob_len, SQLITE_TRANSIENT);
		rc = sqlite3_step(upd);
		sqlite3_reset(upd);
		sqlite3_clear_bindings(upd);
		pa_wipe(blob, blob_len);
		free(blob);
		if (rc != SQLITE_DONE) {
			rc = db_error(st, rc, "re-sealing accounts");
			goto out;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : db_error(st, rc, "re-sealing accounts");
out:
	sqlite3_finalize(q);
	sqlite3_finalize(upd);
	return rc;
}

/* Brings the schema to SCHEMA_VERSION in one transaction; re-checks what another process may have done. */
static int migrate(sql_store *st)
{
	int64_t version;
	char sql[64];
	int rc, have_check = 0;

	if ((rc = begin(st)) < 0)
		return rc;
	if ((rc = inspect(st, &version)) < 0)
		goto out;
	if (version >= 1 && (rc = have_check = check_key(st)) < 0)
		goto out;
	for (; version < SCHEMA_VERSION; version++) {
		if ((rc = exec(st, migrations[version], "migrating the schema")) < 0)
			goto out;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)version + 1);
		if ((rc = exec(st, sql, "migrating the schema")) < 0)
			goto out;
		if (version + 1 == SCHEMA_FULL_BINDING && (rc = reseal_rows(st)) < 0)
			goto out;
	}
	rc = have_check ? 0 : write_key_check(st);
out:
	rc = finish(st, rc);
	if (rc == 0)
		st->schema = SCHEMA_VERSION;
	return rc;
}

/*
 * Even with openers serialized, a process closing its last connection runs a
 * checkpoint under an exclusive lock, and SQLite answers the journal-mode
 * pragma with SQLITE_BUSY at once, without its busy handler. Retry within the
 * busy timeout.
 */
static int step_busy_retry(sql_store *st, sqlite3_stmt *q)
{
	int64_t deadline = pa_monotonic_ms() + st->busy_ms;
	struct timespec pause = { 0, 2 * 1000000L };
	int rc;

	while (((rc = sqlite3_step(q)) & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
		if (pa_monotonic_ms() >= deadline)
			break;
		sqlite3_reset(q);
		nanosleep(&pause, NULL);
	}
	return rc;
}

static int set_pragmas(sql_store *st)
{
	sqlite3_stmt *q = NULL;
	const char *mode;
	int rc;

	if ((rc = prepare(st, &q, "PRAGMA journal_mode = WAL")) < 0)
		return rc;
	rc = step_busy_retry(st, q);
	mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
	if (rc != SQLITE_ROW)
		rc = db_error(st, rc, "switching to WAL journal mode");
	else if (!mode || strcmp(mode, "wal") != 0)
		rc = pa_error_set(PROVAUTH_EIO, "%s: the file system does not support WAL journal mode (got %s)",
		                  st->where, mode ? mode : "nothing");
	else
		rc = 0;
	sqlite3_finalize(q);
	if (rc < 0)
		return rc;
	/* FULL in WAL mode syncs the log at every commit: a put that returned survives a crash. */
	if ((rc = exec(st, "PRAGMA synchronous = FULL", "setting synchronous mode")) < 0 ||
	    (rc = exec(st, "PRAGMA foreign_keys = ON", "enabling foreign keys")) < 0)
		return rc;
	return 0;
}

/*
 * Opening (schema check, key check, the switch to WAL, migrations) runs under
 * an flock(2) on the store's directory. Several processes opening a new store
 * at once would otherwise race through the WAL switch, which SQLite refuses
 * without waiting when two connections could deadlock on the lock upgrade.
 * The directory is locked, not the database file: closing any descriptor of
 * the file would drop the POSIX locks SQLite holds on it.
 */
static int lock_for_open(const sql_store *st, int *fd_out)
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

static int open_db_locked(sql_store *st);

static int open_db(sql_store *st, const provauth_sqlite_options *opts)
{
	int rc, lock_fd, created = 0;

	/* Key material that needs no file is checked first: a bad variable leaves the disk alone. */
	if ((rc = pa_store_key_resolve(&st->key, st->where, st->path, opts ? opts->key : NULL,
	                               opts ? opts->key_file : NULL)) < 0 ||
	    (rc = pa_store_make_parent_dirs(st->where, st->path)) < 0 ||
	    /* Before anything is created in them: a directory another user controls is theirs. */
	    (rc = pa_store_check_dirs(st->where, st->path)) < 0 ||
	    (rc = lock_for_open(st, &lock_fd)) < 0)
		return rc;
	if ((rc = ensure_db_file(st, &created)) == 0 && (rc = check_side_files(st)) == 0)
		rc = open_db_locked(st);
	if (rc < 0 && created) {
		sqlite3_close_v2(st->db);
		st->db = NULL;
		remove_created(st);
	}
	close(lock_fd);
	return rc;
}

/*
 * Without a key check, a store that holds accounts is tried on a sealed row:
 * the key that opens one is the store's key. Nothing is written here.
 */
static int check_key_on_row(sql_store *st)
{
	sqlite3_stmt *q = NULL;
	provauth_account *a = NULL;
	int rc;

	if ((rc = prepare(st, &q, "SELECT " ACCOUNT_COLUMNS " FROM accounts ORDER BY id LIMIT 1")) < 0)
		return rc;
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc != SQLITE_ROW)
		rc = db_error(st, rc, "reading an account");
	else if (row_account(st, &a, q) < 0)
		rc = pa_error_set(PROVAUTH_ECRYPTO, "%s: its key check record is missing and %s does not open "
		                  "its accounts (wrong key?)", st->where, st->key.source);
	else
		rc = 0;
	provauth_account_free(a);
	sqlite3_finalize(q);
	return rc;
}

static int open_db_locked(sql_store *st)
{
	int64_t version, has_check = 0, accounts = 0;
	int rc;

	rc = sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return db_error(st, rc, "opening");
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, st->busy_ms);
	/*
	 * Closing the last connection checkpoints a live -wal into the database
	 * and deletes it: a refused store would not be left as it was. Only a
	 * store that passed every check may checkpoint.
	 */
	if ((rc = sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL)) != SQLITE_OK)
		return db_error(st, rc, "opening");
	if (sqlite3_db_readonly(st->db, "main") == 1)
		return pa_error_set(PROVAUTH_EIO, "%s: the file is not writable", st->where);
	if ((rc = inspect(st, &version)) < 0)
		return rc;
	st->schema = version;
	if (version >= 1 &&
	    ((rc = query_int(st, "SELECT count(*) FROM meta WHERE key = 'key_check'", &has_check,
	                     "reading the key check")) < 0 ||
	     (rc = query_int(st, "SELECT count(*) FROM accounts", &accounts, "counting accounts")) < 0))
		return rc;
	/* A new key is made only for a store with nothing sealed in it: any other needs its old key. */
	if ((rc = pa_store_key_load(&st->key, st->where, !has_check && !accounts)) < 0 ||
	    (has_check && (rc = check_key(st)) < 0) ||
	    (!has_check && accounts && (rc = check_key_on_row(st)) < 0))
		return rc;
	if ((rc = set_pragmas(st)) < 0)
		return rc;
	/* An up-to-date store is not write-locked at every open. */
	if ((version < SCHEMA_VERSION || !has_check) && (rc = migrate(st)) < 0)
		return rc;
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
	return 0;
}

int provauth_store_sqlite_open(provauth_store **out, const char *path, const provauth_sqlite_options *opts)
{
	sql_store *st;
	int rc;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "store: no output given");
	*out = NULL;
	if (!path || !*path)
		return pa_error_set(PROVAUTH_EINVAL, "store: a database path is required");
	if (opts && opts->version < 1)
		return pa_error_set(PROVAUTH_EINVAL, "store %s: options version %u is invalid "
		                    "(initialise with PROVAUTH_SQLITE_OPTIONS_INIT)", path, opts->version);
	if (opts && opts->busy_timeout_ms < 0)
		return pa_error_set(PROVAUTH_EINVAL, "store %s: busy_timeout_ms must not be negative", path);
	if (!sqlite3_threadsafe())
		return pa_error_set(PROVAUTH_ESTORE, "store %s: libsqlite3 was built without thread support", path);
	if (!(st = calloc(1, sizeof(*st))))
		return pa_error_oom();
	if (pthread_mutex_init(&st->lock, NULL) != 0) {
		free(st);
		return pa_error_set(PROVAUTH_ERROR, "store %s: cannot create a mutex", path);
	}
	st->busy_ms = opts && opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : DEFAULT_BUSY_MS;
	st->base.version = PROVAUTH_STORE_VERSION;
	st->base.name = "sqlite";
	st->base.get = sql_get;
	st->base.list = sql_list;
	st->base.put = sql_put;
	st->base.remove = sql_remove;
	st->base.lease_acquire = sql_lease_acquire;
	st->base.lease_release = sql_lease_release;
	st->base.free = sql_free;
	st->base.put_many = sql_put_many;
	st->base.list_checked = sql_list_checked;
	if (!(st->path = strdup(path)) || !(st->where = pa_sprintf("store %s", path))) {
		sql_free(&st->base);
		return pa_error_oom();
	}
	if ((rc = open_db(st, opts)) < 0) {
		sql_free(&st->base);
		return rc;
	}
	*out = &st->base;
	return 0;
}
