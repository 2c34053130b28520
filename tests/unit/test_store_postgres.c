/*
 * What only the postgres store promises (<provauth/store.h>,
 * provauth_store_postgres_open), on a private server
 * (tests/support/pg_server.h), each test on a database of its own: a
 * database administrator reading every table sees no secret in any
 * encoding; a wrong or missing key, a newer schema and no_create change
 * nothing; eight processes creating the schema at once all succeed;
 * put_many and put_verbatim are all or nothing; a lease frees itself when
 * its holder's process dies, and waiters are woken by puts and releases from
 * other processes, not by the timeout; a server restarted under the store
 * gives clean PROVAUTH_EIO failures naming the server, then success; and the
 * database password never reaches a message.
 */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <CUnit/Basic.h>
#include <libpq-fe.h>
#include "internal.h"
#include "../support/pa_test.h"
#include "../support/pg_server.h"

/* ---- fixtures ---- */

static char tmpdir[] = "/tmp/provauth-pgstore-XXXXXX";
static int key_counter;

static int suite_init(void)
{
	/* The tests choose their key source; one from the caller's environment would skew them. */
	unsetenv("PROVAUTH_STORE_KEY");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_cleanup(void)
{
	return pa_test_rmtree(tmpdir);
}

/* A key file path of its own under the suite's directory, not created. */
static char *fresh_key_path(void)
{
	return pa_sprintf("%s/key-%d", tmpdir, ++key_counter);
}

static int open_store(provauth_store **out, const char *url, const char *key_file)
{
	provauth_postgres_options opts = PROVAUTH_POSTGRES_OPTIONS_INIT;

	opts.key_file = key_file;
	return provauth_store_postgres_open(out, url, &opts);
}

/* The message names the server: its address and its port. */
static int error_names_server(void)
{
	char port[16];

	snprintf(port, sizeof(port), "%d", pa_pg_port());
	return pa_test_error_has("127.0.0.1") && pa_test_error_has(port);
}

/* The server's password never appears in the last error. */
static int error_has_no_password(void)
{
	char *password = pa_pg_server_password();
	int ok = password && strlen(password) >= 16 && !pa_test_error_has(password);

	free(password);
	return ok;
}

static void child_exit(int ok)
{
	_exit(ok ? 0 : 1);
}

static int wait_child(pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) != pid)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int write_key(const char *path, unsigned char fill)
{
	unsigned char key[32];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ssize_t n;

	if (fd < 0)
		return -1;
	memset(key, fill, sizeof(key));
	n = write(fd, key, sizeof(key));
	close(fd);
	return n == (ssize_t)sizeof(key) ? 0 : -1;
}

/* ---- reading the database as its administrator would ---- */

static PGconn *dba(const char *url)
{
	PGconn *c = PQconnectdb(url);

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "dba connection: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* Every table of the database that is not PostgreSQL's own. */
static PGresult *user_tables(PGconn *c)
{
	return PQexec(c, "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) "
	                 "FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
	                 "AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1");
}

/*
 * Every row of every table as text, in a stable order: the database as a
 * snapshot, to prove that a refused open changed nothing. malloc, or NULL.
 */
static char *dump_database(const char *url)
{
	PGconn *c = dba(url);
	PGresult *tables, *rows;
	char *out = pa_strdup(""), *more;
	int i, j;

	if (!c || !out) {
		PQfinish(c);
		free(out);
		return NULL;
	}
	tables = user_tables(c);
	for (i = 0; out && i < PQntuples(tables); i++) {
		char *sql = pa_sprintf("SELECT r::text FROM %s r ORDER BY 1", PQgetvalue(tables, i, 0));

		rows = sql ? PQexec(c, sql) : NULL;
		free(sql);
		more = pa_sprintf("%s== %s\n", out, PQgetvalue(tables, i, 0));
		free(out);
		out = more;
		for (j = 0; out && j < PQntuples(rows); j++) {
			more = pa_sprintf("%s%s\n", out, PQgetvalue(rows, j, 0));
			free(out);
			out = more;
		}
		PQclear(rows);
	}
	PQclear(tables);
	PQfinish(c);
	return out;
}

static int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Case-insensitive search of needle in the len bytes at hay. */
static int bytes_contain(const unsigned char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle), i, j;

	for (i = 0; n && i + n <= len; i++) {
		for (j = 0; j < n && tolower(hay[i + j]) == tolower((unsigned char)needle[j]); j++)
			;
		if (j == n)
			return 1;
	}
	return 0;
}

static int base64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/*
 * Whether a run of base64 (standard or URL-safe alphabet) in text decodes,
 * from any of the four alignments, to something holding needle.
 */
static int base64_contains(const char *text, const char *needle)
{
	size_t len = strlen(text), start = 0, end, off, i;
	unsigned char *buf = malloc(len + 1);
	int found = 0;

	while (buf && !found && start < len) {
		while (start < len && base64_value((unsigned char)text[start]) < 0)
			start++;
		end = start;
		while (end < len && base64_value((unsigned char)text[end]) >= 0)
			end++;
		for (off = 0; off < 4 && !found && start + off < end; off++) {
			size_t n = 0, bits = 0;
			unsigned int acc = 0;

			for (i = start + off; i < end; i++) {
				acc = (acc << 6) | (unsigned int)base64_value((unsigned char)text[i]);
				bits += 6;
				if (bits >= 8) {
					bits -= 8;
					buf[n++] = (unsigned char)(acc >> bits);
				}
			}
			found = bytes_contain(buf, n, needle);
		}
		start = end;
	}
	free(buf);
	return found;
}

/*
 * Whether one value read from the database reveals needle: as text in any
 * case, as hex digits of it, inside a bytea (shown as \x...), or in base64.
 */
static int value_reveals(const char *value, const char *needle)
{
	size_t len = strlen(value), i, n;
	unsigned char *bytes;
	char *hex = malloc(strlen(needle) * 2 + 1);
	int found;

	if (!hex)
		return 1;
	for (i = 0; needle[i]; i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)needle[i]);
	found = bytes_contain((const unsigned char *)value, len, needle) ||
	        bytes_contain((const unsigned char *)value, len, hex) || base64_contains(value, needle);
	free(hex);
	if (found || len < 2 || value[0] != '\\' || value[1] != 'x')
		return found;
	bytes = malloc(len / 2 + 1);
	if (!bytes)
		return 1;
	for (i = 2, n = 0; i + 1 < len && hex_digit(value[i]) >= 0 && hex_digit(value[i + 1]) >= 0; i += 2)
		bytes[n++] = (unsigned char)(hex_digit(value[i]) * 16 + hex_digit(value[i + 1]));
	bytes[n] = '\0';
	found = bytes_contain(bytes, n, needle) || base64_contains((const char *)bytes, needle);
	free(bytes);
	return found;
}

/* ---- sealing at rest ---- */

static void test_no_clear_text(void)
{
	char *url = pa_pg_fresh_database(), *key = fresh_key_path(), *password = pa_pg_server_password();
	provauth_account *a = pa_test_store_account("acct-one", "pixverse"), *b = pa_test_store_account("acct-two", "pixiv");
	provauth_account *batch[1];
	provauth_store *s = NULL;
	PGconn *c;
	PGresult *tables;
	int i, j, k, ids_seen = 0, values = 0;
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(url);
	CU_ASSERT_PTR_NOT_NULL_FATAL(password);
	CU_ASSERT_EQUAL_FATAL(open_store(&s, url, key), 0);
	CU_ASSERT_EQUAL(s->put(s, a), 0);
	/* A rewrite seals again: no clear text left behind by an update either. */
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, "eyJ.jwt-Secret.sig", 7), 0);
	CU_ASSERT_EQUAL(s->put(s, a), 0);
	batch[0] = b;
	CU_ASSERT_EQUAL(s->put_many(s, batch, 1), 0);
	CU_ASSERT_EQUAL(s->lease_acquire(s, "acct-one", "owner-a", 10000), 0);
	provauth_store_free(s);

	c = dba(url);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	tables = user_tables(c);
	CU_ASSERT(PQntuples(tables) >= 1);
	for (i = 0; i < PQntuples(tables); i++) {
		char *sql = pa_sprintf("SELECT * FROM %s", PQgetvalue(tables, i, 0));
		PGresult *rows = PQexec(c, sql);

		CU_ASSERT_EQUAL(PQresultStatus(rows), PGRES_TUPLES_OK);
		for (j = 0; j < PQntuples(rows); j++)
			for (k = 0; k < PQnfields(rows); k++) {
				const char *v = PQgetvalue(rows, j, k);

				values++;
				ids_seen += strcmp(v, "acct-one") == 0 || strcmp(v, "acct-two") == 0;
				for (n = 0; n < PA_TEST_STORE_SECRETS; n++)
					if (value_reveals(v, pa_test_store_secrets[n])) {
						CU_FAIL("a secret in clear text");
						fprintf(stderr, "%s, row %d, column %s reveals %s\n", PQgetvalue(tables, i, 0), j,
						        PQfname(rows, k), pa_test_store_secrets[n]);
					}
				CU_ASSERT(!value_reveals(v, password));
			}
		PQclear(rows);
		free(sql);
	}
	/* The scan saw the accounts (so it would have seen their secrets). */
	CU_ASSERT(ids_seen >= 2);
	CU_ASSERT(values > 10);
	PQclear(tables);
	PQfinish(c);
	provauth_account_free(a);
	provauth_account_free(b);
	free(password);
	free(key);
	free(url);
}

/* The scanner itself finds what it is meant to find, or the test above proves nothing. */
static void test_scanner_finds_encodings(void)
{
	CU_ASSERT(value_reveals("x pw-Secret-4711 y", "pw-Secret-4711"));
	CU_ASSERT(value_reveals("PW-SECRET-4711", "pw-Secret-4711"));
	/* hex of "pw-Secret-4711", in text and inside a bytea */
	CU_ASSERT(value_reveals("7077-2d536563726574-2d34373131", "Secret"));
	CU_ASSERT(value_reveals("\\x00ff70772d5365637265742d34373131", "pw-Secret-4711"));
	/* base64 at each alignment: "pw-Secret-4711", "xpw-Secret-4711", "xxpw-Secret-4711" */
	CU_ASSERT(value_reveals("{\"v\":\"cHctU2VjcmV0LTQ3MTE=\"}", "pw-Secret-4711"));
	CU_ASSERT(value_reveals("eHB3LVNlY3JldC00NzEx", "pw-Secret-4711"));
	CU_ASSERT(value_reveals("eHhwdy1TZWNyZXQtNDcxMQ", "pw-Secret-4711"));
	/* base64 inside a bytea */
	CU_ASSERT(value_reveals("\\x634863745532566a636d56304c5451334d54453d", "pw-Secret-4711"));
	CU_ASSERT(!value_reveals("\\x8a3f00c1d2e3f4a5b6c7d8e9f0", "pw-Secret-4711"));
	CU_ASSERT(!value_reveals("pw-Secret-4710", "pw-Secret-4711"));
}

/* A store at url holding one account, sealed under a key written to key_file. */
static int populated_store(const char *url, const char *key_file)
{
	provauth_account *a = pa_test_store_account("acct-one", "pixverse");
	provauth_store *s = NULL;
	int rc = a ? open_store(&s, url, key_file) : -1;

	if (rc == 0)
		rc = s->put(s, a);
	provauth_store_free(s);
	provauth_account_free(a);
	return rc;
}

static void test_wrong_key(void)
{
	char *url = pa_pg_fresh_database(), *key = fresh_key_path(), *other = fresh_key_path(), *before, *after;
	provauth_postgres_options opts = PROVAUTH_POSTGRES_OPTIONS_INIT;
	provauth_store *s = NULL;
	provauth_account *got = NULL;
	unsigned char raw[32];

	CU_ASSERT_PTR_NOT_NULL_FATAL(url);
	CU_ASSERT_EQUAL_FATAL(populated_store(url, key), 0);
	before = dump_database(url);
	CU_ASSERT_PTR_NOT_NULL_FATAL(before);
	CU_ASSERT_EQUAL_FATAL(write_key(other, 0x5a), 0);
	CU_ASSERT_EQUAL(open_store(&s, url, other), PROVAUTH_ECRYPTO);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT(pa_test_error_has_no_secret());
	CU_ASSERT(error_has_no_password());
	memset(raw, 0xa5, sizeof(raw));
	opts.key = raw;
	CU_ASSERT_EQUAL(provauth_store_postgres_open(&s, url, &opts), PROVAUTH_ECRYPTO);
	after = dump_database(url);
	CU_ASSERT_PTR_NOT_NULL_FATAL(after);
	CU_ASSERT_STRING_EQUAL(after, before);
	/* The right key still opens everything. */
	CU_ASSERT_EQUAL_FATAL(open_store(&s, url, key), 0);
	CU_ASSERT_EQUAL(s->get(s, &got, "acct-one"), 0);
	CU_ASSERT_STRING_EQUAL(got ? PA_CRED(got, REFRESH_TOKEN) : "", "refresh-Secret-0815");
	provauth_account_free(got);
	provauth_store_free(s);
	free(after);
	free(before);
	free(other);
	free(key);
	free(url);
}

/* Another host pointing at the same database without the key file must not make a key of its own. */
static void test_second_host_without_key(void)
{
	char *url = pa_pg_fresh_database(), *key = fresh_key_path(), *absent = fresh_key_path(), *before, *after;
	provauth_store *s = NULL;
	struct stat st;

	CU_ASSERT_PTR_NOT_NULL_FATAL(url);
	CU_ASSERT_EQUAL_FATAL(populated_store(url, key), 0);
	before = dump_database(url);
	CU_ASSERT_PTR_NOT_NULL_FATAL(before);
	CU_ASSERT_EQUAL(open_store(&s, url, absent), PROVAUTH_ECRYPTO);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_EQUAL(stat(absent, &st), -1);
	CU_ASSERT(pa_test_error_has(absent));
	after = dump_database(url);
	CU_ASSERT_PTR_NOT_NULL_FATAL(after);
	CU_ASSERT_STRING_EQUAL(after, before);
	/* No key given at all (no key, no key file, no PROVAUTH_STORE_KEY): refused too. */
	CU_ASSERT(provauth_store_postgres_open(&s, url, NULL) < 0);
	CU_ASSERT_PTR_NULL(s);
	free(after);
	free(before);
	free(absent);
	free(key);
	free(url);
}

static void test_newer_schema(void)
{
	char *url = pa_pg_fresh_database(), *key = fresh_key_path(), *before, *after;
	provauth_store *s = NULL;
	long long version = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(url);
	CU_ASSERT_EQUAL_FATAL(populated_store(url, key), 0);
	CU_ASSERT_EQUAL_FATAL(pa_pg_query_int(url, "SELECT value::bigint FROM provauth_meta "
	                                           "WHERE key = 'schema_version'", &version), 0);
	CU_ASSERT(version >= 1);
	CU_ASSERT_EQUAL_FATAL(pa_pg_run_sql(url, "UPDATE provauth_meta SET value = '999' "
	                                         "WHERE key = 'schema_version'"), 0);
	before = dump_database(url);
	CU_ASSERT_PTR_NOT_NULL_FATAL(before);
	CU_ASSERT_EQUAL(open_store(&s, url, key), PROVAUTH_ESTORE);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT(pa_test_error_has("999"));
	after = dump_database(url);
	CU_ASSERT_PTR_NOT_NULL_FATAL(after);
	CU_ASSERT_STRING_EQUAL(after, before);
	free(after);
	free(before);
	free(key);
	free(url);
}

static void test_no_create(void)
{
	char *url = pa_pg_fresh_database(), *key = fresh_key_path();
	provauth_postgres_options opts = PROVAUTH_POSTGRES_OPTIONS_INIT;
	provauth_store *s = NULL;
	long long tables = -1;
	struct stat st;

	CU_ASSERT_PTR_NOT_NULL_FATAL(url);
	opts.key_file = key;
	opts.no_create = 1;
	CU_ASSERT_EQUAL(provauth_store_postgres_open(&s, url, &opts), PROVAUTH_ENOTFOUND);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_EQUAL(pa_pg_query_int(url, "SELECT count(*) FROM information_schema.tables "
	                                     "WHERE table_schema = 'public'", &tables), 0);
	CU_ASSERT_EQUAL(tables, 0);
	CU_ASSERT_EQUAL(stat(key, &st), -1);
	/* Once created, no_create opens it. */
	CU_ASSERT_EQUAL_FATAL(populated_store(url, key), 0);
	CU_ASSERT_EQUAL(provauth_store_postgres_open(&s, url, &opts), 0);
	provauth_store_free(s);
	free(key);
	free(url);
}

#define OPENERS 8

static void test_concurrent_create(void)
{
	char *url = pa_pg_fresh_database(), *key = fresh_key_path();
	provauth_store *s = NULL;
	provauth_account **list = NULL;
	pid_t pids[OPENERS];
	int go[2], i, failed = 0;
	long long tables = -1, again = -1;
	size_t n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(url);
	CU_ASSERT_EQUAL_FATAL(pipe(go), 0);
	for (i = 0; i < OPENERS; i++) {
		pids[i] = fork();
		CU_ASSERT_FATAL(pids[i] >= 0);
		if (pids[i] == 0) {
			provauth_store *cs = NULL;
			char id[16], c;
			provauth_account *a;
			int ok;

			close(go[1]);
			snprintf(id, sizeof(id), "proc-%d", i);
			a = pa_test_store_account(id, "pixverse");
			/* All children start together when the pipe closes. */
			ok = read(go[0], &c, 1) == 0 && open_store(&cs, url, key) == 0 && cs->put(cs, a) == 0;
			if (!ok)
				fprintf(stderr, "child %d: %s\n", i, provauth_last_error());
			provauth_account_free(a);
			provauth_store_free(cs);
			free(url);
			free(key);
			child_exit(ok);
		}
	}
	close(go[0]);
	close(go[1]);
	for (i = 0; i < OPENERS; i++)
		if (wait_child(pids[i]) != 0)
			failed++;
	CU_ASSERT_EQUAL(failed, 0);
	CU_ASSERT_EQUAL(pa_pg_query_int(url, "SELECT count(*) FROM information_schema.tables "
	                                     "WHERE table_schema = 'public'", &tables), 0);
	CU_ASSERT(tables >= 1);
	CU_ASSERT_EQUAL_FATAL(open_store(&s, url, key), 0);
	CU_ASSERT_EQUAL(s->list(s, &list, &n, NULL), 0);
	CU_ASSERT_EQUAL(n, OPENERS);
	provauth_account_list_free(list, n);
	provauth_store_free(s);
	/* One schema: opening again created nothing more. */
	CU_ASSERT_EQUAL(pa_pg_query_int(url, "SELECT count(*) FROM information_schema.tables "
	                                     "WHERE table_schema = 'public'", &again), 0);
	CU_ASSERT_EQUAL(again, tables);
	free(key);
	free(url);
}

/* ---- batches ---- */

static void test_put_many_all_or_nothing(void)
{
	char *url = pa_pg_fresh_database(), *key = fresh_key_path();
	provauth_account *one = pa_test_store_account("acct-one", "pixverse"), *two = pa_test_store_account("acct-two", "pixverse");
	provauth_account *stale = pa_test_store_account("acct-one", "pixverse"), *got = NULL;
	provauth_account *batch[2];
	provauth_store *s = NULL;
	long long rows = -1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(url);
	CU_ASSERT_EQUAL_FATAL(open_store(&s, url, key), 0);
	CU_ASSERT_EQUAL_FATAL(s->put(s, one), 0);
	/* A new account and a stale insert of an existing one: neither is written. */
	batch[0] = two;
	batch[1] = stale;
	CU_ASSERT_EQUAL(s->put_many(s, batch, 2), PROVAUTH_ECONFLICT);
	CU_ASSERT(pa_test_error_has("acct-one"));
	CU_ASSERT_EQUAL(two->revision, 0);
	CU_ASSERT_EQUAL(s->get(s, &got, "acct-two"), PROVAUTH_ENOTFOUND);
	CU_ASSERT_EQUAL(pa_pg_query_int(url, "SELECT count(*) FROM provauth_accounts", &rows), 0);
	CU_ASSERT_EQUAL(rows, 1);
	/* The same id twice: refused before anything is written. */
	batch[1] = two;
	CU_ASSERT_EQUAL(s->put_many(s, batch, 2), PROVAUTH_EINVAL);
	CU_ASSERT(pa_test_error_has("acct-two"));
	CU_ASSERT_EQUAL(s->get(s, &got, "acct-two"), PROVAUTH_ENOTFOUND);
	/* Fixed: both go in, each with a new revision. */
	batch[1] = one;
	CU_ASSERT_EQUAL(s->put_many(s, batch, 2), 0);
	CU_ASSERT_EQUAL(two->revision, 1);
	CU_ASSERT_EQUAL(one->revision, 2);
	CU_ASSERT_EQUAL(pa_pg_query_int(url, "SELECT count(*) FROM provauth_accounts", &rows), 0);
	CU_ASSERT_EQUAL(rows, 2);
	provauth_store_free(s);
	provauth_account_free(one);
	provauth_account_free(two);
	provauth_account_free(stale);
	free(key);
	free(url);
}

static void test_put_verbatim(void)
{
	char *url = pa_pg_fresh_database(), *key = fresh_key_path();
	provauth_account *a = pa_test_store_account("acct-a", "pixverse"), *b = pa_test_store_account("acct-b", "pixiv");
	provauth_account *c = pa_test_store_account("acct-c", "pixiv"), *got = NULL;
	provauth_account *batch[2];
	provauth_store *s = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(url);
	CU_ASSERT_EQUAL_FATAL(open_store(&s, url, key), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s->put_verbatim);
	a->revision = 7;
	a->updated_at = 1700000000;
	b->revision = 42;
	b->updated_at = 1600000000;
	batch[0] = a;
	batch[1] = b;
	CU_ASSERT_EQUAL_FATAL(s->put_verbatim(s, batch, 2), 0);
	CU_ASSERT_EQUAL_FATAL(s->get(s, &got, "acct-b"), 0);
	CU_ASSERT_EQUAL(got->revision, 42);
	CU_ASSERT_EQUAL(got->updated_at, 1600000000);
	CU_ASSERT_STRING_EQUAL(PA_CRED(got, PASSWORD), "pw-Secret-4711");
	provauth_account_free(got);
	got = NULL;
	/* An id already there: nothing of the batch is written, and the message names it. */
	c->revision = 3;
	batch[0] = c;
	batch[1] = a;
	CU_ASSERT_EQUAL(s->put_verbatim(s, batch, 2), PROVAUTH_ECONFLICT);
	CU_ASSERT(pa_test_error_has("acct-a"));
	CU_ASSERT_EQUAL(s->get(s, &got, "acct-c"), PROVAUTH_ENOTFOUND);
	/* A revision of 0 cannot be kept. */
	c->revision = 0;
	batch[0] = c;
	CU_ASSERT_EQUAL(s->put_verbatim(s, batch, 1), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(s->get(s, &got, "acct-c"), PROVAUTH_ENOTFOUND);
	/* The kept revision is the one later puts are checked against. */
	CU_ASSERT_EQUAL_FATAL(s->get(s, &got, "acct-a"), 0);
	CU_ASSERT_EQUAL(got->revision, 7);
	CU_ASSERT_EQUAL(s->put(s, got), 0);
	CU_ASSERT(got->revision > 7);
	provauth_account_free(got);
	provauth_store_free(s);
	provauth_account_free(a);
	provauth_account_free(b);
	provauth_account_free(c);
	free(key);
	free(url);
}

/* ---- leases across processes ---- */

/*
 * A child that opens its own store, takes the lease on "acct-one" for a minute,
 * says 'L' on `up`, then obeys one byte at a time on `cmd`: 'p' puts the
 * account again, 'r' releases the lease, 'q' (or the pipe's end) exits.
 * Each command is answered with its byte on `up` once done.
 */
static void lease_holder(const char *url, const char *key, int cmd, int up)
{
	provauth_store *cs = NULL;
	provauth_account *a = NULL;
	char c;
	int ok = open_store(&cs, url, key) == 0 && cs->lease_acquire(cs, "acct-one", "child", 60000) == 0;

	if (!ok || write(up, "L", 1) != 1)
		child_exit(0);
	while (ok && read(cmd, &c, 1) == 1 && c != 'q') {
		/* Later than the parent's wait starts: the wake must come from this, not from before. */
		usleep(300 * 1000);
		if (c == 'p')
			ok = cs->get(cs, &a, "acct-one") == 0 && cs->put(cs, a) == 0;
		else if (c == 'r')
			ok = cs->lease_release(cs, "acct-one", "child") == 0;
		provauth_account_free(a);
		a = NULL;
		ok = ok && write(up, &c, 1) == 1;
	}
	provauth_store_free(cs);
	child_exit(ok);
}

static pid_t start_holder(const char *url, const char *key, int *cmd, int *up)
{
	int to_child[2], from_child[2];
	pid_t pid;
	char c = 0;

	if (pipe(to_child) < 0 || pipe(from_child) < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(to_child[1]);
		close(from_child[0]);
		lease_holder(url, key, to_child[0], from_child[1]);
	}
	close(to_child[0]);
	close(from_child[1]);
	*cmd = to_child[1];
	*up = from_child[0];
	if (pid < 0 || read(*up, &c, 1) != 1 || c != 'L') {
		close(*cmd);
		close(*up);
		if (pid > 0) {
			kill(pid, SIGKILL);
			wait_child(pid);
		}
		return -1;
	}
	return pid;
}

static void test_dead_holder_frees_lease(void)
{
	char *url = pa_pg_fresh_database(), *key = fresh_key_path();
	provauth_store *s = NULL;
	int cmd, up, rc = PROVAUTH_EBUSY;
	int64_t t0, elapsed;
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(url);
	CU_ASSERT_EQUAL_FATAL(populated_store(url, key), 0);
	/* The parent's store is opened after the fork: no connection crosses it. */
	pid = start_holder(url, key, &cmd, &up);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL_FATAL(open_store(&s, url, key), 0);
	CU_ASSERT_EQUAL(s->lease_acquire(s, "acct-one", "parent", 60000), PROVAUTH_EBUSY);
	CU_ASSERT_EQUAL(kill(pid, SIGKILL), 0);
	CU_ASSERT_EQUAL(wait_child(pid), 128);
	t0 = pa_monotonic_ms();
	/* The lease's TTL is a minute: getting it now means the server freed it with the connection. */
	while (pa_monotonic_ms() - t0 < 5000 && (rc = s->lease_acquire(s, "acct-one", "parent", 60000)) == PROVAUTH_EBUSY)
		usleep(20 * 1000);
	elapsed = pa_monotonic_ms() - t0;
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(elapsed < 2000);
	if (elapsed >= 2000)
		fprintf(stderr, "lease freed after %lld ms\n", (long long)elapsed);
	close(cmd);
	close(up);
	provauth_store_free(s);
	free(key);
	free(url);
}

static void test_lease_wait_woken(void)
{
	char *url = pa_pg_fresh_database(), *key = fresh_key_path();
	provauth_store *s = NULL;
	provauth_account *got = NULL;
	uint64_t revision = 0;
	int cmd, up, rc;
	int64_t t0, elapsed;
	pid_t pid;
	char c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(url);
	CU_ASSERT_EQUAL_FATAL(populated_store(url, key), 0);
	pid = start_holder(url, key, &cmd, &up);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL_FATAL(open_store(&s, url, key), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s->lease_wait);

	/* Nothing happens: the wait runs its whole timeout. */
	t0 = pa_monotonic_ms();
	CU_ASSERT_EQUAL(s->lease_wait(s, "acct-one", 500), PROVAUTH_EBUSY);
	CU_ASSERT(pa_monotonic_ms() - t0 >= 450);

	/* A put by the holder wakes us: the caller's loop re-reads until the account changed. */
	CU_ASSERT_EQUAL_FATAL(s->get(s, &got, "acct-one"), 0);
	revision = got->revision;
	provauth_account_free(got);
	got = NULL;
	CU_ASSERT_EQUAL(write(cmd, "p", 1), 1);
	t0 = pa_monotonic_ms();
	for (;;) {
		rc = s->get(s, &got, "acct-one");
		if (rc < 0 || got->revision != revision || pa_monotonic_ms() - t0 > 10000)
			break;
		provauth_account_free(got);
		got = NULL;
		rc = s->lease_wait(s, "acct-one", 10000 - (pa_monotonic_ms() - t0));
		if (rc == PROVAUTH_EBUSY)
			continue;
		if (rc < 0)
			break;
	}
	elapsed = pa_monotonic_ms() - t0;
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(got && got->revision > revision);
	CU_ASSERT(elapsed < 1000);
	provauth_account_free(got);
	CU_ASSERT(read(up, &c, 1) == 1 && c == 'p');

	/* The holder's release wakes us, and the lease is ours at once. */
	CU_ASSERT_EQUAL(s->lease_acquire(s, "acct-one", "parent", 60000), PROVAUTH_EBUSY);
	CU_ASSERT_EQUAL(write(cmd, "r", 1), 1);
	t0 = pa_monotonic_ms();
	while ((rc = s->lease_acquire(s, "acct-one", "parent", 60000)) == PROVAUTH_EBUSY) {
		int64_t left = 10000 - (pa_monotonic_ms() - t0);

		if (left <= 0)
			break;
		s->lease_wait(s, "acct-one", left);
	}
	elapsed = pa_monotonic_ms() - t0;
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(elapsed >= 250);
	CU_ASSERT(elapsed < 1000);
	CU_ASSERT(read(up, &c, 1) == 1 && c == 'r');
	CU_ASSERT_EQUAL(write(cmd, "q", 1), 1);
	CU_ASSERT_EQUAL(wait_child(pid), 0);
	close(cmd);
	close(up);
	provauth_store_free(s);
	free(key);
	free(url);
}

/* ---- a server that goes away ---- */

/* One call of each kind; 0 when every one succeeded, else the first failure. */
static int every_call(provauth_store *s, provauth_account *a)
{
	provauth_account *got = NULL, **list = NULL;
	size_t n = 0;
	int rc;

	rc = s->get(s, &got, a->id);
	provauth_account_free(got);
	if (rc == 0)
		rc = s->put(s, a);
	if (rc == 0) {
		rc = s->list(s, &list, &n, NULL);
		provauth_account_list_free(list, n);
	}
	if (rc == 0)
		rc = s->lease_acquire(s, a->id, "owner-a", 10000);
	if (rc == 0)
		rc = s->lease_release(s, a->id, "owner-a");
	return rc;
}

static void test_server_restart(void)
{
	char *url = pa_pg_fresh_database(), *key = fresh_key_path();
	provauth_account *a = pa_test_store_account("acct-one", "pixverse"), *got = NULL;
	provauth_store *s = NULL;
	uint64_t written;
	int i, rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(url);
	CU_ASSERT_EQUAL_FATAL(open_store(&s, url, key), 0);
	CU_ASSERT_EQUAL_FATAL(s->put(s, a), 0);
	CU_ASSERT_EQUAL(every_call(s, a), 0);

	/* Restarted under the store: a call meets a dead connection and fails cleanly, or reconnects. */
	CU_ASSERT_EQUAL_FATAL(pa_pg_restart(), 0);
	written = a->revision;
	rc = s->put(s, a);
	if (rc != 0) {
		CU_ASSERT_EQUAL(rc, PROVAUTH_EIO);
		CU_ASSERT(error_names_server());
		CU_ASSERT(error_has_no_password());
		CU_ASSERT(pa_test_error_has_no_secret());
		CU_ASSERT_EQUAL(a->revision, written);
	}
	for (i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(every_call(s, a), 0);

	/* Down for a while: every call fails with PROVAUTH_EIO naming the server, nothing else. */
	CU_ASSERT_EQUAL_FATAL(pa_pg_pause(), 0);
	written = a->revision;
	CU_ASSERT_EQUAL(s->get(s, &got, "acct-one"), PROVAUTH_EIO);
	CU_ASSERT(error_names_server());
	CU_ASSERT(error_has_no_password());
	CU_ASSERT_EQUAL(s->put(s, a), PROVAUTH_EIO);
	CU_ASSERT(error_names_server());
	CU_ASSERT(error_has_no_password());
	CU_ASSERT_EQUAL(a->revision, written);
	CU_ASSERT_EQUAL(s->lease_acquire(s, "acct-one", "owner-a", 10000), PROVAUTH_EIO);
	CU_ASSERT(error_names_server());
	CU_ASSERT(error_has_no_password());
	CU_ASSERT_EQUAL_FATAL(pa_pg_resume(), 0);

	/* Back: every call succeeds, and the store holds what was last written. */
	for (i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(every_call(s, a), 0);
	CU_ASSERT_EQUAL_FATAL(s->get(s, &got, "acct-one"), 0);
	CU_ASSERT_EQUAL(got->revision, a->revision);
	provauth_account_free(got);
	provauth_store_free(s);
	provauth_account_free(a);
	free(key);
	free(url);
}

/* ---- the database password ---- */

/* The conninfo of `database` on port `port` with the password written into it, as a careless user might. */
static char *url_with_password(int port, const char *database)
{
	char *password = pa_pg_server_password(), *url;

	if (!password)
		return NULL;
	url = pa_sprintf("postgresql://provauth:%s@127.0.0.1:%d/%s?connect_timeout=5", password, port, database);
	free(password);
	return url;
}

static void test_password_never_in_messages(void)
{
	char *key = fresh_key_path(), *url, *pgpass, *password = pa_pg_server_password();
	provauth_store *s = NULL;
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(password);
	/* Nobody listening. */
	url = url_with_password(1, "provauth");
	CU_ASSERT(open_store(&s, url, key) < 0);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT(pa_test_error_has("127.0.0.1"));
	CU_ASSERT(error_has_no_password());
	free(url);
	/* No such database. */
	url = url_with_password(pa_pg_port(), "no_such_database");
	CU_ASSERT(open_store(&s, url, key) < 0);
	CU_ASSERT(pa_test_error_has("127.0.0.1"));
	CU_ASSERT(error_has_no_password());
	free(url);
	/* The same as a key=value string. */
	url = pa_sprintf("host=127.0.0.1 port=%d dbname=no_such_database user=provauth password=%s", pa_pg_port(),
	                 password);
	CU_ASSERT(open_store(&s, url, key) < 0);
	CU_ASSERT(error_has_no_password());
	free(url);
	/* A wrong password, from a passfile: neither it nor the right one is shown. */
	pgpass = pa_sprintf("%s/wrong-pgpass", tmpdir);
	f = fopen(pgpass, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "127.0.0.1:%d:*:provauth:Wrong-Pass-0815\n", pa_pg_port());
	fclose(f);
	chmod(pgpass, 0600);
	url = pa_sprintf("%s?passfile=%s", pa_pg_url(), pgpass);
	CU_ASSERT(open_store(&s, url, key) < 0);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT(error_names_server());
	CU_ASSERT(error_has_no_password());
	CU_ASSERT(!pa_test_error_has("Wrong-Pass-0815"));
	free(url);
	/* The right password in the URL works, and a server gone later is reported without it. */
	url = url_with_password(pa_pg_port(), "provauth");
	CU_ASSERT_EQUAL_FATAL(open_store(&s, url, key), 0);
	CU_ASSERT_EQUAL_FATAL(pa_pg_pause(), 0);
	CU_ASSERT_EQUAL(s->lease_acquire(s, "acct", "owner", 1000), PROVAUTH_EIO);
	CU_ASSERT(error_names_server());
	CU_ASSERT(error_has_no_password());
	CU_ASSERT_EQUAL_FATAL(pa_pg_resume(), 0);
	provauth_store_free(s);
	free(url);
	free(pgpass);
	free(password);
	free(key);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "the scanner finds every encoding", test_scanner_finds_encodings },
		{ "no secret in clear text in any table", test_no_clear_text },
		{ "a wrong key changes nothing", test_wrong_key },
		{ "a second host without the key is refused", test_second_host_without_key },
		{ "a newer schema is refused untouched", test_newer_schema },
		{ "no_create on an empty database", test_no_create },
		{ "8 processes create the schema at once", test_concurrent_create },
		{ "put_many all or nothing", test_put_many_all_or_nothing },
		{ "put_verbatim keeps revisions, refuses existing ids", test_put_verbatim },
		{ "a SIGKILLed holder's lease frees itself at once", test_dead_holder_frees_lease },
		{ "lease_wait woken by another process's put and release", test_lease_wait_woken },
		{ "server restart: clean failures, then success", test_server_restart },
		{ "the database password never in a message", test_password_never_in_messages },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "postgres only", suite_init, suite_cleanup, tests },
		PA_TEST_SUITE_END
	};
	int rc = pa_pg_start();

	if (rc != 0)
		return rc == 77 ? 77 : 1;
	return pa_test_run(argc, argv, suites);
}
