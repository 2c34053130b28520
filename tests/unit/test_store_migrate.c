/*
 * Store schema 4: the core's account state moves from metadata keys into
 * columns of its own. Checked on stores the provauth of schemas 1, 2 and 3
 * really wrote (tests/fixtures/stores, see its README), and under SIGKILL:
 * a child migrating a large store is killed at random points, and the
 * store must then open, finish migrating and hold every account intact.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <provauth/provauth.h>
#include <provauth/store.h>
#include "internal.h"
#include "../support/pa_test.h"
#include "../fixtures/stores/accounts.h"

static char dir[256];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/pa-migrate-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode), rc = 0;

	if (in < 0 || out < 0)
		rc = -1;
	while (rc == 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			rc = -1;
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0)
		rc = -1;
	return rc;
}

/* The whole file, malloc()ed (NULL when absent), for "nothing changed" checks. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	*len = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n)
		*len = (size_t)n;
	fclose(f);
	return buf;
}

/* The first column of the first row of `sql`, read straight from the file; -1 when it fails. */
static int64_t query_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int64_t v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

static int64_t user_version(const char *path)
{
	return query_int(path, "PRAGMA user_version");
}

static int raw_sql(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static int open_store(provauth_store **s, const char *path, const char *key_file)
{
	provauth_sqlite_options opts = PROVAUTH_SQLITE_OPTIONS_INIT;

	opts.key_file = key_file;
	return provauth_store_sqlite_open(s, path, &opts);
}

/* ---- the fixture stores ---- */

static int str_is(const char *got, const char *want)
{
	return want ? got && strcmp(got, want) == 0 : got == NULL;
}

/* Every field of the account equals the fixture's, the state typed, the metadata the provider's alone. */
static void check_fixture(const provauth_account *a, const fixture_account *f)
{
	size_t i, n;

	CU_ASSERT(str_is(a->provider, f->provider));
	CU_ASSERT(str_is(a->email, f->email));
	CU_ASSERT(str_is(PA_CRED(a, PASSWORD), f->password));
	CU_ASSERT(str_is(PA_CRED(a, JWT), f->jwt_token));
	CU_ASSERT(str_is(PA_CRED(a, REFRESH_TOKEN), f->refresh_token));
	CU_ASSERT(str_is(PA_CRED(a, ACCESS_TOKEN), f->access_token));
	/* Stored in the row by schemas 1-3; the access token's own expiry since record version 2. */
	CU_ASSERT_EQUAL(PA_CRED_EXPIRES(a, ACCESS_TOKEN), f->access_token ? f->access_expires_at : 0);
	for (n = 0; f->cookies[n][0]; n++)
		CU_ASSERT(str_is(provauth_account_cookie(a, f->cookies[n][0]), f->cookies[n][1]));
	CU_ASSERT_EQUAL(pa_test_count(a, PROVAUTH_CRED_COOKIE), n);
	for (n = 0; f->api_keys[n][0]; n++)
		CU_ASSERT(str_is(provauth_account_api_key(a, f->api_keys[n][0]), f->api_keys[n][1]));
	CU_ASSERT_EQUAL(pa_test_count(a, PROVAUTH_CRED_API_KEY), n);
	CU_ASSERT_STRING_EQUAL(pa_account_metadata(a), f->want_metadata);
	CU_ASSERT_STRING_EQUAL(provauth_auth_method_name(a->state.auth_method), f->want_auth_method);
	CU_ASSERT(str_is(a->state.health.state, f->want_health_state));
	CU_ASSERT(str_is(a->state.health.reason, f->want_health_reason));
	CU_ASSERT(str_is(a->state.health.code, f->want_health_code));
	CU_ASSERT(str_is(a->state.health.message, f->want_health_message));
	CU_ASSERT_EQUAL(a->state.health.at, f->want_health_at);
	CU_ASSERT_EQUAL(a->state.last_reauth_at, f->want_last_reauth_at);
	CU_ASSERT(str_is(a->state.refresh_refused, f->want_refresh_refused));
	CU_ASSERT_EQUAL(a->state.refresh_refused_at, f->want_refresh_refused_at);
	CU_ASSERT_EQUAL(a->revision, 1);
	for (i = 0; i < 4; i++)
		CU_ASSERT_PTR_NULL(strstr(pa_account_metadata(a), (const char *[]){ "auth_method", "session_health",
		                                                                     "last_reauth_at",
		                                                                     "refresh_refused" }[i]));
}

static void migrate_fixture(int schema)
{
	const char *src = getenv("PA_SRCDIR");
	char from[512], path[512], key[512];
	provauth_store *s = NULL;
	provauth_account **list = NULL, *a = NULL;
	size_t count = 0, i, len1, len2;
	char *before, *after;

	CU_ASSERT_PTR_NOT_NULL_FATAL(src);
	make_dir();
	snprintf(path, sizeof(path), "%s/store.db", dir);
	snprintf(key, sizeof(key), "%s/store.key", dir);
	snprintf(from, sizeof(from), "%s/tests/fixtures/stores/schema%d.db", src, schema);
	CU_ASSERT_EQUAL_FATAL(copy_file(from, path, 0600), 0);
	snprintf(from, sizeof(from), "%s/tests/fixtures/stores/schema%d.key", src, schema);
	CU_ASSERT_EQUAL_FATAL(copy_file(from, key, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(user_version(path), schema);

	CU_ASSERT_EQUAL_FATAL(open_store(&s, path, key), 0);
	CU_ASSERT_EQUAL(user_version(path), 5);
	CU_ASSERT_EQUAL(s->list(s, &list, &count, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(count, FIXTURE_ACCOUNT_COUNT);
	/* Listed by id; the fixture table is not, so look each one up. */
	for (i = 0; i < FIXTURE_ACCOUNT_COUNT; i++) {
		CU_ASSERT_EQUAL_FATAL(s->get(s, &a, fixture_accounts[i].id), 0);
		check_fixture(a, &fixture_accounts[i]);
		provauth_account_free(a);
		a = NULL;
	}
	provauth_account_list_free(list, count);
	/* A migrated account is written back in the current format and reads the same. */
	CU_ASSERT_EQUAL_FATAL(s->get(s, &a, "acct-pw"), 0);
	CU_ASSERT_EQUAL(s->put(s, a), 0);
	provauth_account_free(a);
	CU_ASSERT_EQUAL_FATAL(s->get(s, &a, "acct-pw"), 0);
	CU_ASSERT_EQUAL(a->revision, 2);
	a->revision = 1;
	check_fixture(a, &fixture_accounts[0]);
	provauth_account_free(a);
	provauth_store_free(s);

	/* Migrated once: opening again changes nothing on disk. */
	before = slurp(path, &len1);
	CU_ASSERT_EQUAL_FATAL(open_store(&s, path, key), 0);
	CU_ASSERT_EQUAL(user_version(path), 5);
	provauth_store_free(s);
	after = slurp(path, &len2);
	CU_ASSERT(before && after && len1 == len2 && memcmp(before, after, len1) == 0);
	free(before);
	free(after);

	/* A newer schema is still refused, untouched. */
	CU_ASSERT_EQUAL_FATAL(raw_sql(path, "PRAGMA user_version = 6"), SQLITE_OK);
	before = slurp(path, &len1);
	CU_ASSERT_EQUAL(open_store(&s, path, key), PROVAUTH_ESTORE);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "schema version 6 is newer"));
	after = slurp(path, &len2);
	CU_ASSERT(before && after && len1 == len2 && memcmp(before, after, len1) == 0);
	free(before);
	free(after);
	CU_ASSERT_EQUAL(pa_test_rmtree(dir), 0);
}

static void test_from_schema1(void)
{
	migrate_fixture(1);
}

static void test_from_schema2(void)
{
	migrate_fixture(2);
}

static void test_from_schema3(void)
{
	migrate_fixture(3);
}

/*
 * Rows the migration cannot make sense of lose nothing: metadata the core
 * could never read stays byte for byte, and a row whose seal no longer
 * opens (its email edited) is migrated around, still named as damaged.
 */
static void test_odd_rows(void)
{
	const char *src = getenv("PA_SRCDIR");
	char from[512], path[512], key[512];
	provauth_store *s = NULL;
	provauth_account **list = NULL, *a = NULL;
	char **damaged = NULL;
	size_t count = 0, ndamaged = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(src);
	make_dir();
	snprintf(path, sizeof(path), "%s/store.db", dir);
	snprintf(key, sizeof(key), "%s/store.key", dir);
	snprintf(from, sizeof(from), "%s/tests/fixtures/stores/schema3.db", src);
	CU_ASSERT_EQUAL_FATAL(copy_file(from, path, 0600), 0);
	snprintf(from, sizeof(from), "%s/tests/fixtures/stores/schema3.key", src);
	CU_ASSERT_EQUAL_FATAL(copy_file(from, key, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(raw_sql(path, "UPDATE accounts SET metadata = 'not json {\"auth_method\":1}'"
	                                    " WHERE id = 'acct-plain';"
	                                    "UPDATE accounts SET email = 'edited@example.com' WHERE id = 'acct-pw'"),
	                      SQLITE_OK);

	CU_ASSERT_EQUAL_FATAL(open_store(&s, path, key), 0);
	CU_ASSERT_EQUAL(user_version(path), 5);
	CU_ASSERT_EQUAL_FATAL(s->get(s, &a, "acct-plain"), 0);
	CU_ASSERT_STRING_EQUAL(a->metadata, "not json {\"auth_method\":1}");
	CU_ASSERT_EQUAL(a->state.auth_method, PROVAUTH_AUTH_UNKNOWN);
	CU_ASSERT_PTR_NULL(a->state.health.state);
	CU_ASSERT(str_is(provauth_account_cookie(a, "_ai_token"), "cookie-Secret-plain"));
	provauth_account_free(a);
	a = NULL;
	CU_ASSERT_EQUAL(s->get(s, &a, "acct-pw"), PROVAUTH_ECRYPTO);
	CU_ASSERT_EQUAL_FATAL(s->list_checked(s, &list, &count, &damaged, &ndamaged, NULL), 0);
	CU_ASSERT_EQUAL(count, FIXTURE_ACCOUNT_COUNT - 1);
	CU_ASSERT_EQUAL_FATAL(ndamaged, 1);
	CU_ASSERT_STRING_EQUAL(damaged[0], "acct-pw");
	/* The damaged row's state moved all the same: it is not what the seal binds. */
	CU_ASSERT_EQUAL(query_int(path, "SELECT count(*) FROM accounts WHERE id = 'acct-pw' AND auth_method = 'password'"
	                                " AND health_code = '10005' AND last_reauth_at = 1699990000"
	                                " AND metadata NOT LIKE '%auth_method%'"), 1);
	provauth_account_list_free(list, count);
	provauth_damaged_list_free(damaged, ndamaged);
	provauth_store_free(s);
	CU_ASSERT_EQUAL(pa_test_rmtree(dir), 0);
}

/* ---- SIGKILL in the middle of migrating a large store ---- */

#define BIG_COUNT 20000
#define CRASH_TRIALS 10

/* The account number i of the large store, its state set as the core sets it. */
static provauth_account *big_account(size_t i)
{
	provauth_account *a = NULL;
	char id[32], v[96];

	snprintf(id, sizeof(id), "acct-%06zu", i);
	if (provauth_account_new(&a, id, i % 3 == 2 ? "pixiv" : "pixverse") < 0)
		abort();
	snprintf(v, sizeof(v), "u%zu@example.com", i);
	provauth_account_set(&a->email, v);
	snprintf(v, sizeof(v), "pw-Secret-%zu", i);
	provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, v, 0);
	snprintf(v, sizeof(v), "refresh-Secret-%zu", i);
	provauth_account_set_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL, v, 0);
	snprintf(v, sizeof(v), "cookie-Secret-%zu", i);
	provauth_account_set_cookie(a, "_ai_token", v);
	snprintf(v, sizeof(v), "access-Secret-%zu", i);
	provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, v, 1700000000 + (int64_t)i);
	snprintf(v, sizeof(v), "\"%zu\"", i);
	provauth_account_set_metadata(a, "user_id", v);
	a->state.auth_method = (provauth_auth_method)(i % 3);
	if (i % 2) {
		snprintf(v, sizeof(v), "msg %zu", i);
		pa_health_set(&a->state.health, "invalid", "logged_elsewhere", i % 4 == 1 ? "10005" : NULL,
		              1700000000 + (int64_t)i, v);
	}
	a->state.last_reauth_at = i % 5 ? 1690000000 + (int64_t)i : 0;
	if (i % 7 == 0) {
		snprintf(v, sizeof(v), "sha256:%016zx", i);
		pa_set_string(&a->state.refresh_refused, v);
		a->state.refresh_refused_at = 1700000000 + (int64_t)i;
	}
	return a;
}

/*
 * Schema 3's rows from the current schema's: the state back into metadata
 * keys the way the core of schema 3 wrote them, the columns and the pool's
 * tables (schema 5) dropped, user_version 3.
 * The sealed blobs bind id, provider, email and revision only, which this
 * leaves alone: the result is what schema 3's provauth would have written
 * (the fixture test proves the migration on stores it really wrote; this
 * builds 20,000 rows quickly).
 */
static const char to_schema3[] =
	"BEGIN;"
	"UPDATE accounts SET metadata = json_set(metadata, '$.auth_method', auth_method) WHERE auth_method IS NOT NULL;"
	"UPDATE accounts SET metadata = json_set(metadata, '$.session_health',"
	"  json_object('state', health_state, 'reason', health_reason, 'code', health_code, 'at', health_at,"
	"              'message', health_message)) WHERE health_state IS NOT NULL;"
	"UPDATE accounts SET metadata = json_set(metadata, '$.last_reauth_at', last_reauth_at)"
	"  WHERE last_reauth_at IS NOT NULL;"
	"UPDATE accounts SET metadata = json_set(metadata, '$.refresh_refused',"
	"  json_object('token', refresh_refused, 'at', refresh_refused_at)) WHERE refresh_refused IS NOT NULL;"
	"ALTER TABLE accounts DROP COLUMN auth_method;"
	"ALTER TABLE accounts DROP COLUMN health_state;"
	"ALTER TABLE accounts DROP COLUMN health_reason;"
	"ALTER TABLE accounts DROP COLUMN health_code;"
	"ALTER TABLE accounts DROP COLUMN health_at;"
	"ALTER TABLE accounts DROP COLUMN health_message;"
	"ALTER TABLE accounts DROP COLUMN last_reauth_at;"
	"ALTER TABLE accounts DROP COLUMN refresh_refused;"
	"ALTER TABLE accounts DROP COLUMN refresh_refused_at;"
	"DROP TABLE pool_reservations;"
	"DROP TABLE pool_credits;"
	"DROP TABLE pool;"
	"PRAGMA user_version = 3;"
	"COMMIT;";

static void make_big_schema3(const char *path, const char *key)
{
	provauth_store *s = NULL;
	provauth_account *batch[500];
	size_t i, j;

	CU_ASSERT_EQUAL_FATAL(open_store(&s, path, key), 0);
	for (i = 0; i < BIG_COUNT; i += PA_ARRAY_LEN(batch)) {
		for (j = 0; j < PA_ARRAY_LEN(batch); j++)
			batch[j] = big_account(i + j);
		CU_ASSERT_EQUAL_FATAL(s->put_many(s, batch, PA_ARRAY_LEN(batch)), 0);
		for (j = 0; j < PA_ARRAY_LEN(batch); j++)
			provauth_account_free(batch[j]);
	}
	provauth_store_free(s);
	CU_ASSERT_EQUAL_FATAL(raw_sql(path, to_schema3), SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(user_version(path), 3);
}

/* Every account as written: secrets, provider data and typed state. */
static size_t check_big(const char *path, const char *key)
{
	provauth_store *s = NULL;
	provauth_account **list = NULL;
	size_t count = 0, i, bad = 0;

	CU_ASSERT_EQUAL_FATAL(open_store(&s, path, key), 0);
	CU_ASSERT_EQUAL(user_version(path), 5);
	CU_ASSERT_EQUAL_FATAL(s->list(s, &list, &count, NULL), 0);
	CU_ASSERT_EQUAL(count, BIG_COUNT);
	for (i = 0; i < count && i < BIG_COUNT; i++) {
		provauth_account *want = big_account(i);

		want->revision = list[i]->revision;
		want->updated_at = list[i]->updated_at;
		if (!pa_account_same_credentials(list[i], want) || list[i]->revision != 1)
			bad++;
		provauth_account_free(want);
	}
	provauth_account_list_free(list, count);
	provauth_store_free(s);
	return bad;
}

static int64_t now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* Opens (so migrates) the store in a child; returns its pid, once it is about to open. */
static pid_t migrate_in_child(const char *path, const char *key)
{
	int ready[2];
	pid_t pid;
	char c = 0;

	if (pipe(ready) < 0)
		return -1;
	if ((pid = fork()) == 0) {
		provauth_store *s = NULL;

		close(ready[0]);
		(void)!write(ready[1], "x", 1);
		_exit(open_store(&s, path, key) == 0 ? 0 : 1);
	}
	close(ready[1]);
	if (pid > 0 && read(ready[0], &c, 1) != 1)
		pid = -1;
	close(ready[0]);
	return pid;
}

static void test_sigkill_mid_migration(void)
{
	char pristine[512], key[512], path[512];
	unsigned char r[4];
	int64_t t0, full_us;
	int status, trial, interrupted = 0, mid_write = 0;
	pid_t pid;

	make_dir();
	snprintf(pristine, sizeof(pristine), "%s/pristine.db", dir);
	snprintf(key, sizeof(key), "%s/store.key", dir);
	snprintf(path, sizeof(path), "%s/store.db", dir);
	make_big_schema3(pristine, key);

	/* How long a whole migration takes here, so the kills land inside one. */
	CU_ASSERT_EQUAL_FATAL(copy_file(pristine, path, 0600), 0);
	t0 = now_us();
	pid = migrate_in_child(path, key);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
	full_us = now_us() - t0;
	CU_ASSERT_FATAL(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT_EQUAL(check_big(path, key), 0);

	/*
	 * Ten kills at least, and more (up to forty) until half of the first
	 * ten's worth landed inside a migration and one while it wrote: how
	 * long a migration takes moves with the machine's load, so the first
	 * measure can be off either way.
	 */
	for (trial = 0; trial < CRASH_TRIALS ||
	                ((mid_write == 0 || interrupted < CRASH_TRIALS / 2) && trial < 4 * CRASH_TRIALS);
	     trial++) {
		int64_t at;

		unlink(path);
		CU_ASSERT_EQUAL_FATAL(copy_file(pristine, path, 0600), 0);
		CU_ASSERT_EQUAL_FATAL(pa_random_bytes(r, sizeof(r)), 0);
		/* Anywhere from the open's start to 90% of a whole migration. */
		at = (int64_t)(((uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3]) %
		               (uint64_t)(full_us * 9 / 10 + 1));
		pid = migrate_in_child(path, key);
		CU_ASSERT_FATAL(pid > 0);
		usleep((useconds_t)at);
		kill(pid, SIGKILL);
		CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
		/* It finished before the kill: a migration takes less than that here now. */
		if (WIFEXITED(status) && at > 0 && at < full_us)
			full_us = at;
		if (WIFSIGNALED(status) && user_version(path) == 3) {
			struct stat wal;
			char wal_path[600];

			interrupted++;
			/* Pages of the unfinished transaction already on disk: killed while writing it. */
			snprintf(wal_path, sizeof(wal_path), "%s-wal", path);
			if (stat(wal_path, &wal) == 0 && wal.st_size > 0)
				mid_write++;
		}
		/* Opens, finishes migrating, and every account is as written. */
		CU_ASSERT_EQUAL(check_big(path, key), 0);
		unlink(path);
	}
	if (pa_test_verbose)
		fprintf(stderr, "\n    a whole migration: %lld ms; %d of %d kills left schema 3 behind, %d of them "
		        "with the unfinished migration's pages in the -wal\n", (long long)(full_us / 1000), interrupted,
		        trial, mid_write);
	/* The kills did land in the middle of migrations, not after them. */
	CU_ASSERT(interrupted >= CRASH_TRIALS / 2);
	CU_ASSERT(mid_write >= 1);
	CU_ASSERT_EQUAL(pa_test_rmtree(dir), 0);
}

int main(int argc, char **argv)
{
	static const pa_test fixtures[] = {
		{ "schema 1 store as written by its provauth", test_from_schema1 },
		{ "schema 2 store as written by its provauth", test_from_schema2 },
		{ "schema 3 store as written by its provauth", test_from_schema3 },
		{ "unreadable metadata and a damaged row lose nothing", test_odd_rows },
		PA_TEST_END,
	};
	static const pa_test crash[] = {
		{ "SIGKILL while migrating 20,000 accounts", test_sigkill_mid_migration },
		PA_TEST_END,
	};
	static const pa_test_suite suites[] = {
		{ "migration to schema 4 from real older stores", NULL, NULL, fixtures },
		{ "migration to schema 4 under SIGKILL", NULL, NULL, crash },
		PA_TEST_SUITE_END,
	};

	return pa_test_run(argc, argv, suites);
}
