/*
 * Issue 13, point 5: what is not secret is still bound to the sealed
 * secrets. An account's email, provider or revision edited in the database,
 * or an older sealed blob of the same account put back, makes that account
 * refused with a message naming it; a listing names it and goes on with the
 * rest. Stores of the older schema are migrated: their rows are re-sealed
 * with the new binding.
 */
#include "config.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CUnit/Basic.h>
#include <sqlite3.h>
#include <provauth/store.h>
#include "internal.h"
#include "store/record.h"
#include "store/seal.h"
#include "../support/pa_test.h"

static char tmpdir[] = "/tmp/provauth-integrity-XXXXXX";
static int db_counter;

static int suite_init(void)
{
	unsetenv("PROVAUTH_STORE_KEY");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_cleanup(void)
{
	int rc = pa_test_rmtree(tmpdir);
	memcpy(tmpdir + strlen(tmpdir) - 6, "XXXXXX", 6);
	return rc;
}

static char *fresh_path(void)
{
	return pa_sprintf("%s/db-%d/accounts.db", tmpdir, ++db_counter);
}

static provauth_account *make_account(const char *id, const char *email)
{
	provauth_account *a;

	if (provauth_account_new(&a, id, "pixverse") < 0)
		return NULL;
	provauth_account_set(&a->email, email);
	provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, "pw-Secret-4711", 0);
	provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, "eyJ.jwt-Secret.sig", 0);
	return a;
}

static int error_has(const char *what)
{
	return strstr(provauth_last_error(), what) != NULL;
}

static int raw_sql(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Copies a row's sealed blob out (get) or back in (put): an attacker's "restore an older copy". */
static int blob_io(const char *path, const char *id, unsigned char **blob, int *len, int put)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int rc = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(db, put ? "UPDATE accounts SET secrets = ?2 WHERE id = ?1"
	                               : "SELECT secrets FROM accounts WHERE id = ?1", -1, &q, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	if (put) {
		sqlite3_bind_blob(q, 2, *blob, *len, SQLITE_STATIC);
		rc = sqlite3_step(q) == SQLITE_DONE && sqlite3_changes(db) == 1 ? 0 : -1;
	} else if (sqlite3_step(q) == SQLITE_ROW) {
		*len = sqlite3_column_bytes(q, 0);
		if ((*blob = malloc((size_t)*len)))
			memcpy(*blob, sqlite3_column_blob(q, 0), (size_t)*len);
		rc = *blob ? 0 : -1;
	}
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	return rc;
}

/* A store with alice and bob, closed again. */
static char *two_accounts(void)
{
	provauth_store *s = NULL;
	provauth_account *a = make_account("acct-alice", "alice@example.com");
	provauth_account *b = make_account("acct-bob", "bob@example.com");
	char *path = fresh_path();

	if (provauth_store_sqlite_open(&s, path, NULL) < 0 || s->put(s, a) < 0 || s->put(s, b) < 0) {
		fprintf(stderr, "two_accounts: %s\n", provauth_last_error());
		free(path);
		path = NULL;
	}
	provauth_store_free(s);
	provauth_account_free(a);
	provauth_account_free(b);
	return path;
}

/* Opens the store and expects alice refused (naming her) and bob intact. */
static void expect_alice_refused(const char *path)
{
	provauth_store *s = NULL;
	provauth_account *got = NULL;

	CU_ASSERT_EQUAL_FATAL(provauth_store_sqlite_open(&s, path, NULL), 0);
	CU_ASSERT_EQUAL(s->get(s, &got, "acct-alice"), PROVAUTH_ECRYPTO);
	CU_ASSERT_PTR_NULL(got);
	CU_ASSERT(error_has("acct-alice"));
	CU_ASSERT(error_has("changed outside provauth"));
	CU_ASSERT(!error_has("Secret"));
	CU_ASSERT_EQUAL(s->get(s, &got, "acct-bob"), 0);
	CU_ASSERT(got && PA_CRED(got, PASSWORD) && strcmp(PA_CRED(got, PASSWORD), "pw-Secret-4711") == 0);
	provauth_account_free(got);
	provauth_store_free(s);
}

static void test_email_edited(void)
{
	char *path = two_accounts();

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	/* The next automatic login would send alice's password under this username. */
	CU_ASSERT_EQUAL_FATAL(raw_sql(path, "UPDATE accounts SET email = 'mallory@example.com' WHERE id = 'acct-alice'"), 0);
	expect_alice_refused(path);
	free(path);
}

static void test_provider_or_revision_edited(void)
{
	char *path = two_accounts();

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL_FATAL(raw_sql(path, "UPDATE accounts SET revision = revision + 7 WHERE id = 'acct-alice'"), 0);
	expect_alice_refused(path);
	free(path);
}

static void test_older_blob_put_back(void)
{
	char *path = two_accounts();
	provauth_store *s = NULL;
	provauth_account *a = NULL;
	unsigned char *old = NULL;
	int len = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL_FATAL(blob_io(path, "acct-alice", &old, &len, 0), 0);
	/* A re-login: new secrets, next revision. */
	CU_ASSERT_EQUAL_FATAL(provauth_store_sqlite_open(&s, path, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(s->get(s, &a, "acct-alice"), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, "eyJ.newer-Secret.sig", 0), 0);
	CU_ASSERT_EQUAL_FATAL(s->put(s, a), 0);
	provauth_account_free(a);
	provauth_store_free(s);
	CU_ASSERT_EQUAL_FATAL(blob_io(path, "acct-alice", &old, &len, 1), 0);
	expect_alice_refused(path);
	free(old);
	free(path);
}

static void test_list_checked_names_damaged(void)
{
	char *path = two_accounts();
	provauth_store *s = NULL;
	provauth_account **list = NULL;
	char **damaged = NULL;
	size_t n = 0, nd = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL_FATAL(raw_sql(path, "UPDATE accounts SET email = 'mallory@example.com' WHERE id = 'acct-alice'"), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_store_sqlite_open(&s, path, NULL), 0);
	CU_ASSERT_FATAL(s->version >= 3 && s->list_checked);
	CU_ASSERT_EQUAL(s->list_checked(s, &list, &n, &damaged, &nd, NULL), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT(n == 1 && strcmp(list[0]->id, "acct-bob") == 0);
	CU_ASSERT_EQUAL(nd, 1);
	CU_ASSERT(nd == 1 && strcmp(damaged[0], "acct-alice") == 0);
	provauth_account_list_free(list, n);
	provauth_damaged_list_free(damaged, nd);
	/* Filtered by provider, the damaged one is still named: it is a pixverse account. */
	CU_ASSERT_EQUAL(s->list_checked(s, &list, &n, &damaged, &nd, "pixiv"), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(nd, 0);
	provauth_account_list_free(list, n);
	provauth_damaged_list_free(damaged, nd);
	provauth_store_free(s);
	free(path);
}

/* ---- migration from schema 2, whose rows were sealed with id and provider only ---- */

#define V2_SCHEMA \
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);" \
	"CREATE TABLE accounts (id TEXT PRIMARY KEY, provider TEXT NOT NULL, email TEXT, metadata TEXT NOT NULL," \
	" revision INTEGER NOT NULL, updated_at INTEGER NOT NULL, access_expires_at INTEGER, secrets BLOB NOT NULL);" \
	"CREATE INDEX accounts_by_provider ON accounts (provider, id);" \
	"CREATE TABLE leases (account_id TEXT PRIMARY KEY, owner TEXT, expires_at_ms INTEGER," \
	" holder_pid INTEGER, holder_boot_id TEXT, holder_pidns INTEGER, holder_start INTEGER);" \
	"PRAGMA user_version = 2;"

static int insert_v2_row(sqlite3 *db, const unsigned char *key, const char *id, const char *email)
{
	provauth_account *a = make_account(id, email);
	unsigned char *plain = NULL, *blob = NULL;
	size_t plain_len = 0, blob_len = 0;
	char ad[128];
	size_t ad_len;
	sqlite3_stmt *q = NULL;
	int rc = -1;

	ad_len = (size_t)snprintf(ad, sizeof(ad), "%s%c%s", id, 0, "pixverse");
	if (!a || pa_record_encode(&plain, &plain_len, a) < 0 ||
	    pa_seal(&blob, &blob_len, key, ad, ad_len, plain, plain_len) < 0)
		goto out;
	if (sqlite3_prepare_v2(db, "INSERT INTO accounts VALUES (?1, 'pixverse', ?2, '{}', 3, 0, NULL, ?3)", -1, &q,
	                       NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, email, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 3, blob, (int)blob_len, SQLITE_STATIC);
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
out:
	sqlite3_finalize(q);
	free(plain);
	free(blob);
	provauth_account_free(a);
	return rc;
}

/*
 * A row as provauth wrote it before record format 2: the record in version
 * 1's fixed tags (password "pw-bob", access token "at-bob"), the access
 * token's expiry in the row's column alone.
 */
static int insert_v1_record_row(sqlite3 *db, const unsigned char *key, const char *id, const char *email)
{
	static const unsigned char v1[] = { 1, 1, 0, 0, 0, 6, 'p', 'w', '-', 'b', 'o', 'b',
	                                    4, 0, 0, 0, 6, 'a', 't', '-', 'b', 'o', 'b' };
	unsigned char *blob = NULL;
	size_t blob_len = 0;
	char ad[128];
	size_t ad_len;
	sqlite3_stmt *q = NULL;
	int rc = -1;

	ad_len = (size_t)snprintf(ad, sizeof(ad), "%s%c%s", id, 0, "pixverse");
	if (pa_seal(&blob, &blob_len, key, ad, ad_len, v1, sizeof(v1)) < 0 ||
	    sqlite3_prepare_v2(db, "INSERT INTO accounts VALUES (?1, 'pixverse', ?2, '{}', 3, 0, 1900000000, ?3)", -1,
	                       &q, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, email, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 3, blob, (int)blob_len, SQLITE_STATIC);
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
out:
	sqlite3_finalize(q);
	free(blob);
	return rc;
}

static char *v2_store(const unsigned char *key)
{
	static const char check_ad[] = "provauth store key check", check_text[] = "provauth store key check v1";
	char *path = fresh_path(), *dir = pa_sprintf("%s/db-%d", tmpdir, db_counter);
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	unsigned char *blob = NULL;
	size_t blob_len = 0;
	int ok = 0;

	if (mkdir(dir, 0700) != 0 || close(open(path, O_CREAT | O_WRONLY, 0600)) != 0 ||
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, V2_SCHEMA, NULL, NULL, NULL) != SQLITE_OK ||
	    pa_seal(&blob, &blob_len, key, check_ad, strlen(check_ad), check_text, strlen(check_text)) < 0 ||
	    sqlite3_prepare_v2(db, "INSERT INTO meta VALUES ('key_check', ?1)", -1, &q, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_blob(q, 1, blob, (int)blob_len, SQLITE_STATIC);
	ok = sqlite3_step(q) == SQLITE_DONE && insert_v2_row(db, key, "acct-alice", "alice@example.com") == 0 &&
	     insert_v2_row(db, key, "acct-bob", "bob@example.com") == 0 &&
	     insert_v1_record_row(db, key, "acct-carol", "carol@example.com") == 0;
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	free(blob);
	free(dir);
	if (!ok) {
		free(path);
		return NULL;
	}
	return path;
}

static void test_migration_reseals(void)
{
	unsigned char key[PA_SEAL_KEY_LEN];
	provauth_sqlite_options opts = PROVAUTH_SQLITE_OPTIONS_INIT;
	provauth_store *s = NULL;
	provauth_account *got = NULL;
	char *path;

	CU_ASSERT_EQUAL_FATAL(pa_random_bytes(key, sizeof(key)), 0);
	path = v2_store(key);
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	opts.key = key;
	CU_ASSERT_EQUAL_FATAL(provauth_store_sqlite_open(&s, path, &opts), 0);
	CU_ASSERT_EQUAL(s->get(s, &got, "acct-alice"), 0);
	CU_ASSERT(got && PA_CRED(got, PASSWORD) && strcmp(PA_CRED(got, PASSWORD), "pw-Secret-4711") == 0);
	CU_ASSERT(got && got->revision == 3);
	provauth_account_free(got);
	got = NULL;
	/* A record written before format 2 loses nothing; its token's expiry comes from the row. */
	CU_ASSERT_EQUAL(s->get(s, &got, "acct-carol"), 0);
	CU_ASSERT(got && pa_streq(PA_CRED(got, PASSWORD), "pw-bob") && pa_streq(PA_CRED(got, ACCESS_TOKEN), "at-bob"));
	CU_ASSERT(got && PA_CRED_EXPIRES(got, ACCESS_TOKEN) == 1900000000 && got->credential_count == 2);
	provauth_account_free(got);
	got = NULL;
	provauth_store_free(s);
	s = NULL;

	/* Migrated rows carry the new binding: an edit of the email is caught. */
	CU_ASSERT_EQUAL_FATAL(raw_sql(path, "UPDATE accounts SET email = 'mallory@example.com' WHERE id = 'acct-alice'"), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_store_sqlite_open(&s, path, &opts), 0);
	CU_ASSERT_EQUAL(s->get(s, &got, "acct-alice"), PROVAUTH_ECRYPTO);
	CU_ASSERT(error_has("acct-alice"));
	CU_ASSERT_EQUAL(s->get(s, &got, "acct-bob"), 0);
	provauth_account_free(got);
	provauth_store_free(s);
	free(path);
}

static const pa_test tests[] = {
	{ "email edited outside provauth", test_email_edited },
	{ "revision edited outside provauth", test_provider_or_revision_edited },
	{ "older sealed blob put back", test_older_blob_put_back },
	{ "list_checked names the damaged account", test_list_checked_names_damaged },
	{ "migration re-seals with the new binding", test_migration_reseals },
	PA_TEST_END
};

int main(int argc, char **argv)
{
	static const pa_test_suite suites[] = {
		{ "sqlite integrity", suite_init, suite_cleanup, tests },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
