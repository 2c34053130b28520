/*
 * put_many (<provauth/store.h> version 2) and provauth_account_put_many:
 * the contract run against both built-in stores (revisions on success;
 * all-or-nothing on a conflict, a missing id, a duplicate id or a bad entry,
 * with the accounts passed in left as they were and the error naming the
 * account), what only the sqlite store adds (the file unchanged by a failed
 * batch, the batch durable across a reopen, threads), and the manager's
 * side: validation, cache eviction, and host stores of version 1 and of
 * versions it must refuse. The crash test is tests/integration/test_store_batch_crash.c.
 */
#include "config.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <CUnit/Basic.h>
#include <sqlite3.h>
#include "internal.h"
#include "scripted_provider.h"
#include "../support/pa_test.h"

#define SECRET_PW "pw-SECRET-put-many"
#define SECRET_JWT "jwt-SECRET-put-many"
#define SECRET_COOKIE "cookie-SECRET-put-many"
#define SECRET_REFRESH "refresh-SECRET-put-many"
/* A value put_many never writes: proves a failed batch left updated_at alone. */
#define SENTINEL_TIME 12345

static char tmpdir[] = "/tmp/provauth-putmany-XXXXXX";
static int db_counter;
static char db_path[256];

typedef struct backend {
	const char *name;
	int sqlite;
} backend;

static const backend backends[] = { { "memory", 0 }, { "sqlite", 1 } };
static const backend *cur;

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

static int init_memory(void)
{
	cur = &backends[0];
	return suite_init();
}

static int init_sqlite(void)
{
	cur = &backends[1];
	return suite_init();
}

/* A fresh store of the suite's backend; db_path names the sqlite file. */
static provauth_store *fresh_store(void)
{
	provauth_store *st = NULL;

	snprintf(db_path, sizeof(db_path), "%s/db-%d/accounts.db", tmpdir, ++db_counter);
	if (cur->sqlite) {
		CU_ASSERT_FATAL(provauth_store_sqlite_open(&st, db_path, NULL) == 0);
	} else {
		CU_ASSERT_FATAL(provauth_store_memory_new(&st) == 0);
	}
	return st;
}

/* An account carrying every kind of secret, so messages can be checked for all of them. */
static provauth_account *make_account(const char *id)
{
	provauth_account *a = NULL;

	CU_ASSERT_FATAL(provauth_account_new(&a, id, "scripted") == 0);
	CU_ASSERT_FATAL(provauth_account_set(&a->email, "user@example.com") == 0);
	CU_ASSERT_FATAL(provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, SECRET_PW, 0) == 0);
	CU_ASSERT_FATAL(provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, SECRET_JWT, 0) == 0);
	CU_ASSERT_FATAL(provauth_account_set_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL, SECRET_REFRESH, 0) == 0);
	CU_ASSERT_FATAL(provauth_account_set_cookie(a, "_ai_token", SECRET_COOKIE) == 0);
	a->updated_at = SENTINEL_TIME;
	return a;
}

static void free_all(provauth_account **a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		provauth_account_free(a[i]);
}

static void assert_no_secret(const char *msg)
{
	CU_ASSERT_PTR_NULL(strstr(msg, SECRET_PW));
	CU_ASSERT_PTR_NULL(strstr(msg, SECRET_JWT));
	CU_ASSERT_PTR_NULL(strstr(msg, SECRET_COOKIE));
	CU_ASSERT_PTR_NULL(strstr(msg, SECRET_REFRESH));
}

/* Every stored account as one text: ids, revisions, times and every field. */
static char *snapshot(provauth_store *st)
{
	provauth_account **list = NULL;
	size_t n = 0, i, len = 0;
	char *out = NULL;

	CU_ASSERT_FATAL(st->list(st, &list, &n, NULL) == 0);
	for (i = 0; i < n; i++) {
		const provauth_account *a = list[i];
		char *line = pa_sprintf("%s|%s|%s|%s|%s|%s|%s|%llu|%lld|%zu;", a->id, a->provider, a->email ? a->email : "",
		                        PA_CRED(a, PASSWORD) ? PA_CRED(a, PASSWORD) : "", PA_CRED(a, JWT) ? PA_CRED(a, JWT) : "",
		                        PA_CRED(a, REFRESH_TOKEN) ? PA_CRED(a, REFRESH_TOKEN) : "", a->metadata ? a->metadata : "",
		                        (unsigned long long)a->revision, (long long)a->updated_at,
		                        pa_test_count(a, PROVAUTH_CRED_COOKIE));
		char *grown;
		CU_ASSERT_FATAL(line != NULL);
		grown = realloc(out, len + strlen(line) + 1);
		CU_ASSERT_FATAL(grown != NULL);
		out = grown;
		memcpy(out + len, line, strlen(line) + 1);
		len += strlen(line);
		free(line);
	}
	provauth_account_list_free(list, n);
	return out ? out : pa_strdup("");
}

/* The bytes of a file ("" when absent), for the sqlite store's file and its WAL. */
static char *file_bytes(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long size;

	*len = 0;
	if (!f)
		return pa_strdup("");
	CU_ASSERT_FATAL(fseek(f, 0, SEEK_END) == 0);
	size = ftell(f);
	rewind(f);
	buf = malloc((size_t)size + 1);
	CU_ASSERT_FATAL(buf != NULL);
	*len = fread(buf, 1, (size_t)size, f);
	fclose(f);
	return buf;
}

/* ------------------------------------------------------------------------ */
/* The contract, on both stores                                             */
/* ------------------------------------------------------------------------ */

static void test_inserts_then_updates(void)
{
	provauth_store *st = fresh_store();
	provauth_account *a[3], *b[3], *got = NULL;
	time_t t0 = time(NULL);
	size_t i;

	a[0] = make_account("acct-c");
	a[1] = make_account("acct-a");
	a[2] = make_account("acct-b");
	CU_ASSERT_EQUAL_FATAL(st->put_many(st, a, 3), 0);
	for (i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(a[i]->revision, 1);
		CU_ASSERT(a[i]->updated_at >= t0 && a[i]->updated_at <= time(NULL));
	}
	CU_ASSERT_EQUAL_FATAL(st->get(st, &got, "acct-a"), 0);
	CU_ASSERT_EQUAL(got->revision, 1);
	CU_ASSERT_STRING_EQUAL(PA_CRED(got, PASSWORD), SECRET_PW);
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(got, PROVAUTH_CRED_COOKIE, "_ai_token"), SECRET_COOKIE);
	provauth_account_free(got);

	/* Two updates at the revision just returned and one insert, in one batch. */
	b[0] = a[2];
	CU_ASSERT_FATAL(provauth_account_set_credential(b[0], PROVAUTH_CRED_JWT, NULL, "jwt-SECRET-new", 0) == 0);
	b[1] = make_account("acct-d");
	b[2] = a[0];
	CU_ASSERT_EQUAL_FATAL(st->put_many(st, b, 3), 0);
	CU_ASSERT_EQUAL(b[0]->revision, 2);
	CU_ASSERT_EQUAL(b[1]->revision, 1);
	CU_ASSERT_EQUAL(b[2]->revision, 2);
	CU_ASSERT_EQUAL_FATAL(st->get(st, &got, "acct-b"), 0);
	CU_ASSERT_EQUAL(got->revision, 2);
	CU_ASSERT_STRING_EQUAL(PA_CRED(got, JWT), "jwt-SECRET-new");
	provauth_account_free(got);
	/* A single put sees the batch's revisions. */
	a[1]->revision = 1;
	CU_ASSERT_EQUAL(st->put(st, a[1]), 0);
	CU_ASSERT_EQUAL(a[1]->revision, 2);
	b[0]->revision = 1;
	CU_ASSERT_EQUAL(st->put(st, b[0]), PROVAUTH_ECONFLICT);
	{
		provauth_account **list = NULL;
		size_t n = 0;
		CU_ASSERT_EQUAL_FATAL(st->list(st, &list, &n, NULL), 0);
		CU_ASSERT_EQUAL_FATAL(n, 4);
		CU_ASSERT_STRING_EQUAL(list[0]->id, "acct-a");
		CU_ASSERT_STRING_EQUAL(list[3]->id, "acct-d");
		provauth_account_list_free(list, n);
	}
	free_all(a, 3);
	provauth_account_free(b[1]);
	provauth_store_free(st);
}

/*
 * A batch that fails in the middle: nothing written, nothing in the
 * caller's accounts changed, the message names the account and no secret.
 * `bad` is what makes the middle account fail; `want` the code.
 */
enum fault { F_STALE, F_EXISTS, F_MISSING, F_DUPLICATE, F_NO_PROVIDER };

static void fail_in_middle(enum fault fault, int want)
{
	provauth_store *st = fresh_store();
	provauth_account *seed[3], *batch[4];
	uint64_t rev_before[4];
	char *before, *after, *file0 = NULL, *wal0 = NULL, *file1, *wal1, wal_path[300];
	size_t file0_len = 0, wal0_len = 0, file1_len, wal1_len, i;
	const char *bad_id = "acct-b";
	const char *msg;

	seed[0] = make_account("acct-a");
	seed[1] = make_account("acct-b");
	seed[2] = make_account("acct-c");
	CU_ASSERT_EQUAL_FATAL(st->put_many(st, seed, 3), 0);
	/* acct-b moves on to revision 2 behind the caller's back. */
	CU_ASSERT_EQUAL_FATAL(st->put(st, seed[1]), 0);

	batch[0] = make_account("acct-new1");
	batch[1] = make_account("acct-a");
	batch[1]->revision = 1;
	batch[2] = make_account(bad_id);
	batch[3] = make_account("acct-new2");
	switch (fault) {
	case F_STALE:
		batch[2]->revision = 1;
		break;
	case F_EXISTS:
		batch[2]->revision = 0;
		break;
	case F_MISSING:
		bad_id = "acct-gone";
		CU_ASSERT_FATAL(provauth_account_set(&batch[2]->id, bad_id) == 0);
		batch[2]->revision = 7;
		break;
	case F_DUPLICATE:
		bad_id = "acct-new1";
		CU_ASSERT_FATAL(provauth_account_set(&batch[2]->id, bad_id) == 0);
		batch[2]->revision = 0;
		break;
	case F_NO_PROVIDER:
		CU_ASSERT_FATAL(provauth_account_set(&batch[2]->provider, "") == 0);
		batch[2]->revision = 2;
		break;
	}
	for (i = 0; i < 4; i++)
		rev_before[i] = batch[i]->revision;

	before = snapshot(st);
	snprintf(wal_path, sizeof(wal_path), "%s-wal", db_path);
	if (cur->sqlite) {
		file0 = file_bytes(db_path, &file0_len);
		wal0 = file_bytes(wal_path, &wal0_len);
	}
	provauth_error_clear();
	CU_ASSERT_EQUAL(st->put_many(st, batch, 4), want);
	msg = provauth_last_error();
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, bad_id));
	assert_no_secret(msg);
	if (pa_test_verbose)
		fprintf(stderr, "\n    %s\n", msg);

	for (i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(batch[i]->revision, rev_before[i]);
		CU_ASSERT_EQUAL(batch[i]->updated_at, SENTINEL_TIME);
	}
	after = snapshot(st);
	CU_ASSERT_STRING_EQUAL(after, before);
	if (cur->sqlite) {
		file1 = file_bytes(db_path, &file1_len);
		wal1 = file_bytes(wal_path, &wal1_len);
		CU_ASSERT(file1_len == file0_len && memcmp(file0, file1, file0_len) == 0);
		CU_ASSERT(wal1_len == wal0_len && memcmp(wal0, wal1, wal0_len) == 0);
		free(file1);
		free(wal1);
	}
	/* The store still takes the good part of the batch afterwards. */
	batch[2]->revision = rev_before[2];
	CU_ASSERT_EQUAL(st->put_many(st, batch, 2), 0);
	CU_ASSERT_EQUAL(batch[1]->revision, 2);

	free(before);
	free(after);
	free(file0);
	free(wal0);
	free_all(seed, 3);
	free_all(batch, 4);
	provauth_store_free(st);
}

static void test_conflict_in_middle(void)
{
	fail_in_middle(F_STALE, PROVAUTH_ECONFLICT);
}

static void test_insert_existing_in_middle(void)
{
	fail_in_middle(F_EXISTS, PROVAUTH_ECONFLICT);
}

static void test_missing_in_middle(void)
{
	fail_in_middle(F_MISSING, PROVAUTH_ENOTFOUND);
}

static void test_duplicate_id(void)
{
	fail_in_middle(F_DUPLICATE, PROVAUTH_EINVAL);
}

static void test_invalid_entry(void)
{
	fail_in_middle(F_NO_PROVIDER, PROVAUTH_EINVAL);
}

static void test_empty_batch(void)
{
	provauth_store *st = fresh_store();
	provauth_account *one = make_account("acct-a"), *batch[2] = { NULL, NULL };
	char *before;

	CU_ASSERT_EQUAL(st->put_many(st, NULL, 0), 0);
	CU_ASSERT_EQUAL(st->put_many(st, &one, 0), 0);
	CU_ASSERT_EQUAL(one->revision, 0);
	CU_ASSERT_EQUAL(one->updated_at, SENTINEL_TIME);
	before = snapshot(st);
	CU_ASSERT_STRING_EQUAL(before, "");
	free(before);
	/* A NULL array or entry with n > 0 is refused, not dereferenced. */
	CU_ASSERT_EQUAL(st->put_many(st, NULL, 2), PROVAUTH_EINVAL);
	batch[0] = one;
	CU_ASSERT_EQUAL(st->put_many(st, batch, 2), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(one->revision, 0);
	provauth_account_free(one);
	provauth_store_free(st);
}

/* A large batch interleaved with existing ids, in no particular order: the store stays sorted and complete. */
static void test_large_interleaved(void)
{
	enum { N = 600 };
	provauth_store *st = fresh_store();
	provauth_account *even[N / 2], *odd[N / 2], **list = NULL;
	size_t i, n = 0;
	char id[32];

	for (i = 0; i < N / 2; i++) {
		snprintf(id, sizeof(id), "id-%05zu", 2 * i);
		even[i] = make_account(id);
		/* 7 is coprime with N / 2: a permutation of the odd ids. */
		snprintf(id, sizeof(id), "id-%05zu", 2 * ((i * 7) % (N / 2)) + 1);
		odd[i] = make_account(id);
	}
	CU_ASSERT_EQUAL_FATAL(st->put_many(st, even, N / 2), 0);
	/* Updates of existing accounts mixed into the inserts. */
	provauth_account_free(odd[10]);
	provauth_account_free(odd[200]);
	odd[10] = even[3];
	odd[200] = even[250];
	CU_ASSERT_EQUAL_FATAL(st->put_many(st, odd, N / 2), 0);
	CU_ASSERT_EQUAL(even[3]->revision, 2);
	CU_ASSERT_EQUAL(odd[11]->revision, 1);
	CU_ASSERT_EQUAL_FATAL(st->list(st, &list, &n, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(n, N - 2);
	for (i = 1; i < n; i++)
		CU_ASSERT(strcmp(list[i - 1]->id, list[i]->id) < 0);
	for (i = 0; i < n; i++) {
		provauth_account *got = NULL;
		CU_ASSERT_EQUAL(st->get(st, &got, list[i]->id), 0);
		provauth_account_free(got);
	}
	provauth_account_list_free(list, n);
	for (i = 0; i < N / 2; i++) {
		provauth_account_free(even[i]);
		if (i != 10 && i != 200)
			provauth_account_free(odd[i]);
	}
	provauth_store_free(st);
}

/*
 * Threads batching at once: each inserts its own accounts and bumps one
 * shared account in the same batch, retrying on a conflict. Every batch
 * that succeeded bumped the shared revision exactly once.
 */
typedef struct worker {
	provauth_store *st;
	int index;
	int committed;
	int conflicts;
} worker;

#define THREADS 4
#define ROUNDS 15

static void *batch_worker(void *arg)
{
	worker *w = arg;
	int round;

	for (round = 0; round < ROUNDS; round++) {
		provauth_account *batch[3] = { NULL, NULL, NULL };
		char id[48];
		int k;

		for (;;) {
			if (w->st->get(w->st, &batch[0], "shared") != 0)
				return NULL;
			for (k = 1; k < 3; k++) {
				snprintf(id, sizeof(id), "t%d-r%02d-%d", w->index, round, k);
				if (provauth_account_new(&batch[k], id, "scripted") != 0)
					return NULL;
			}
			k = w->st->put_many(w->st, batch, 3);
			free_all(batch, 3);
			if (k == 0) {
				w->committed++;
				break;
			}
			if (k != PROVAUTH_ECONFLICT)
				return NULL;
			w->conflicts++;
		}
	}
	return NULL;
}

static void test_threads(void)
{
	provauth_store *st = fresh_store();
	provauth_account *shared = make_account("shared"), *got = NULL, **list = NULL;
	pthread_t th[THREADS];
	worker w[THREADS];
	size_t n = 0;
	int i, total = 0;

	CU_ASSERT_EQUAL_FATAL(st->put_many(st, &shared, 1), 0);
	for (i = 0; i < THREADS; i++) {
		w[i].st = st;
		w[i].index = i;
		w[i].committed = w[i].conflicts = 0;
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, batch_worker, &w[i]) == 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(w[i].committed, ROUNDS);
		total += w[i].committed;
	}
	CU_ASSERT_EQUAL_FATAL(st->get(st, &got, "shared"), 0);
	CU_ASSERT_EQUAL(got->revision, 1 + (uint64_t)total);
	CU_ASSERT_EQUAL(st->list(st, &list, &n, NULL), 0);
	CU_ASSERT_EQUAL(n, 1 + 2 * THREADS * ROUNDS);
	provauth_account_list_free(list, n);
	provauth_account_free(got);
	provauth_account_free(shared);
	provauth_store_free(st);
}

/* ------------------------------------------------------------------------ */
/* sqlite only                                                               */
/* ------------------------------------------------------------------------ */

/* The batch is on disk, sealed: a second connection (another process, in effect) reads it back. */
static void test_sqlite_durable_and_sealed(void)
{
	provauth_store *st, *other = NULL;
	provauth_account *a[2], *got = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int rows = 0;

	cur = &backends[1];
	st = fresh_store();
	a[0] = make_account("acct-x");
	a[1] = make_account("acct-y");
	CU_ASSERT_EQUAL_FATAL(st->put_many(st, a, 2), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_store_sqlite_open(&other, db_path, NULL), 0);
	CU_ASSERT_EQUAL(other->get(other, &got, "acct-y"), 0);
	if (got) {
		CU_ASSERT_EQUAL(got->revision, 1);
		CU_ASSERT_STRING_EQUAL(PA_CRED(got, REFRESH_TOKEN), SECRET_REFRESH);
	}
	provauth_account_free(got);
	provauth_store_free(other);
	provauth_store_free(st);

	/* No secret in the file in the clear. */
	CU_ASSERT_FATAL(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	CU_ASSERT_FATAL(sqlite3_prepare_v2(db, "SELECT secrets FROM accounts", -1, &q, NULL) == SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *blob = sqlite3_column_blob(q, 0);
		int len = sqlite3_column_bytes(q, 0);
		CU_ASSERT(len > 0 && memmem(blob, (size_t)len, SECRET_PW, strlen(SECRET_PW)) == NULL);
		rows++;
	}
	CU_ASSERT_EQUAL(rows, 2);
	sqlite3_finalize(q);
	sqlite3_close(db);
	free_all(a, 2);
}

/* ------------------------------------------------------------------------ */
/* Through the manager                                                      */
/* ------------------------------------------------------------------------ */

static provauth_manager *manager_on(provauth_store *st)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	static const char yaml[] = "providers:\n  scripted:\n    auto_reauth_enabled: false\n";

	CU_ASSERT_FATAL(provauth_settings_parse(&s, yaml, strlen(yaml), "test.yaml") == 0);
	opts.store = st;
	opts.log = pa_test_log_capture;
	opts.skip_plugins = 1;
	if (provauth_manager_new(&m, s, &opts) == 0) {
		CU_ASSERT_FATAL(provauth_manager_add_provider(m, &scripted_provider) == 0);
	}
	provauth_settings_free(s);
	return m;
}

static int puts_seen, put_manys_seen;

static long count_ops(pa_fwd_op op, void *payload)
{
	(void)payload;
	puts_seen += op == PA_FWD_PUT;
	put_manys_seen += op == PA_FWD_PUT_MANY;
	return 0;
}

static provauth_store *counting_store(unsigned int version)
{
	static const pa_fwd_hooks hooks = { count_ops, NULL, NULL };
	provauth_store *inner = NULL, *st = NULL;

	CU_ASSERT_FATAL(provauth_store_memory_new(&inner) == 0);
	CU_ASSERT_FATAL(pa_fwd_store_new_version(&st, inner, &hooks, version) == 0);
	puts_seen = put_manys_seen = 0;
	return st;
}

static void test_manager_put_many(void)
{
	provauth_store *st = counting_store(PROVAUTH_STORE_VERSION);
	provauth_manager *m = manager_on(st);
	provauth_account *a[3], *bad[2];
	const char *msg;

	CU_ASSERT_FATAL(m != NULL);
	a[0] = make_account("m-1");
	a[1] = make_account("m-2");
	a[2] = make_account("m-3");
	CU_ASSERT_EQUAL(provauth_account_put_many(m, a, 3), 0);
	CU_ASSERT_EQUAL(put_manys_seen, 1);
	CU_ASSERT_EQUAL(puts_seen, 0);
	CU_ASSERT_EQUAL(a[2]->revision, 1);
	CU_ASSERT_EQUAL(provauth_account_put_many(m, NULL, 0), 0);
	CU_ASSERT_EQUAL(put_manys_seen, 1);

	/* m-2 stale: the manager's message says nothing was written and names the account. */
	a[1]->revision = 0;
	CU_ASSERT_EQUAL(provauth_account_put_many(m, a, 3), PROVAUTH_ECONFLICT);
	msg = provauth_last_error();
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "none written"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "m-2"));
	assert_no_secret(msg);
	CU_ASSERT_EQUAL(a[0]->revision, 1);

	/* What provauth_account_put refuses, put_many refuses, naming the entry; the store is not asked. */
	bad[0] = a[0];
	bad[1] = NULL;
	CU_ASSERT_EQUAL(provauth_account_put_many(m, bad, 2), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "entry 1 of 2"));
	CU_ASSERT_EQUAL(provauth_account_put_many(m, NULL, 1), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_account_put_many(NULL, a, 1), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(put_manys_seen, 2);
	free_all(a, 3);
	provauth_manager_free(m);
	provauth_store_free(st);
}

/* A session cached before the batch is not used after it: the batch's new token is. */
static void test_manager_evicts(void)
{
	scripted_server *srv = scripted_server_new();
	provauth_store *st = counting_store(PROVAUTH_STORE_VERSION);
	provauth_manager *m;
	provauth_account *a[2], *got = NULL;
	const char *token;
	int builds, ops;

	CU_ASSERT_FATAL(srv != NULL);
	scripted_use_server(srv);
	m = manager_on(st);
	CU_ASSERT_FATAL(m != NULL);
	a[0] = make_account("ev-1");
	a[1] = make_account("ev-2");
	CU_ASSERT_FATAL(provauth_account_set_credential(a[0], PROVAUTH_CRED_JWT, NULL, "jwt-SECRET-0", 0) == 0);
	CU_ASSERT_FATAL(provauth_account_set_credential(a[1], PROVAUTH_CRED_JWT, NULL, "jwt-SECRET-0", 0) == 0);
	CU_ASSERT_EQUAL_FATAL(provauth_account_put_many(m, a, 2), 0);
	CU_ASSERT_EQUAL(provauth_run_with_session(m, "ev-1", "op", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(provauth_run_with_session(m, "ev-1", "op", scripted_op, NULL), 0);
	CU_ASSERT_EQUAL(atomic_load(&srv->builds), 1);

	/* The server now accepts another token only; the batch stores it. */
	token = scripted_server_kick(srv);
	CU_ASSERT_FATAL(provauth_account_set_credential(a[0], PROVAUTH_CRED_JWT, NULL, token, 0) == 0);
	CU_ASSERT_FATAL(provauth_account_set_credential(a[1], PROVAUTH_CRED_JWT, NULL, token, 0) == 0);
	CU_ASSERT_EQUAL_FATAL(provauth_account_put_many(m, a, 2), 0);
	builds = atomic_load(&srv->builds);
	ops = atomic_load(&srv->ops);
	CU_ASSERT_EQUAL(provauth_run_with_session(m, "ev-1", "op", scripted_op, NULL), 0);
	/* One new session from the stored token, one request: no failed attempt with the old session. */
	CU_ASSERT_EQUAL(atomic_load(&srv->builds), builds + 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->ops), ops + 1);
	CU_ASSERT_EQUAL(atomic_load(&srv->logins), 0);
	CU_ASSERT_EQUAL(provauth_account_get(&got, m, "ev-1"), 0);
	CU_ASSERT_EQUAL(got ? got->revision : 0, 2);
	provauth_account_free(got);
	free_all(a, 2);
	provauth_manager_free(m);
	provauth_store_free(st);
	scripted_server_free(srv);
}

/* A host store built against version 1: everything works, and a batch is never written piecemeal. */
static void test_manager_version1_store(void)
{
	provauth_store *st = counting_store(1);
	provauth_manager *m = manager_on(st);
	provauth_account *a[2], *got = NULL, **list = NULL;
	size_t n = 0;

	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_PTR_NULL(st->put_many);
	a[0] = make_account("v1-a");
	a[1] = make_account("v1-b");
	CU_ASSERT_EQUAL(provauth_account_put_many(m, a, 0), 0);
	CU_ASSERT_EQUAL(provauth_account_put_many(m, a, 2), PROVAUTH_EUNSUPPORTED);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "nothing was written"));
	CU_ASSERT_EQUAL(puts_seen, 0);
	CU_ASSERT_EQUAL(a[0]->revision, 0);
	CU_ASSERT_EQUAL(provauth_account_list(&list, &n, m, NULL), 0);
	CU_ASSERT_EQUAL(n, 0);
	provauth_account_list_free(list, n);
	/* One account is one put: atomic on any store. */
	CU_ASSERT_EQUAL(provauth_account_put_many(m, a, 1), 0);
	CU_ASSERT_EQUAL(puts_seen, 1);
	CU_ASSERT_EQUAL(a[0]->revision, 1);
	CU_ASSERT_EQUAL(provauth_account_put(m, a[1]), 0);
	CU_ASSERT_EQUAL(provauth_account_get(&got, m, "v1-b"), 0);
	provauth_account_free(got);
	free_all(a, 2);
	provauth_manager_free(m);
	provauth_store_free(st);
}

static void refused(provauth_store *st, const char *want)
{
	provauth_manager *m = manager_on(st);

	CU_ASSERT_PTR_NULL(m);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), want));
	if (!strstr(provauth_last_error(), want))
		fprintf(stderr, "\n    got: %s\n", provauth_last_error());
	provauth_manager_free(m);
}

static void test_manager_refuses_versions(void)
{
	provauth_store *st = counting_store(PROVAUTH_STORE_VERSION);
	char want[64];

	st->version = 0;
	refused(st, "store version 0 unknown");
	st->version = PROVAUTH_STORE_VERSION + 1;
	snprintf(want, sizeof(want), "store version %d unknown", PROVAUTH_STORE_VERSION + 1);
	refused(st, want);
	st->version = 2;
	st->put_many = NULL;
	refused(st, "has no put_many");
	provauth_store_free(st);
}

/* ------------------------------------------------------------------------ */
/* put_verbatim: the copy a store migration makes                           */
/* ------------------------------------------------------------------------ */

static void test_put_verbatim(void)
{
	provauth_store *st = fresh_store();
	provauth_account *a[3], *got = NULL, *dup[2];
	static const uint64_t revisions[] = { 5, 1, 42 };
	char *before, *after;
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(st->put_verbatim);
	a[0] = make_account("v-a");
	a[1] = make_account("v-b");
	a[2] = make_account("v-c");
	for (i = 0; i < 3; i++)
		a[i]->revision = revisions[i];
	CU_ASSERT_EQUAL_FATAL(st->put_verbatim(st, a, 3), 0);
	/* Revision and write time are the copied ones, and the secrets open. */
	for (i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(a[i]->revision, revisions[i]);
		CU_ASSERT_EQUAL_FATAL(st->get(st, &got, a[i]->id), 0);
		CU_ASSERT_EQUAL(got->revision, revisions[i]);
		CU_ASSERT_EQUAL(got->updated_at, SENTINEL_TIME);
		CU_ASSERT_STRING_EQUAL(PA_CRED(got, REFRESH_TOKEN), SECRET_REFRESH);
		CU_ASSERT_STRING_EQUAL(provauth_account_credential(got, PROVAUTH_CRED_COOKIE, "_ai_token"), SECRET_COOKIE);
		provauth_account_free(got);
		got = NULL;
	}
	/* A copied account is an ordinary one afterwards: put follows its revision. */
	CU_ASSERT_EQUAL(st->put(st, a[2]), 0);
	CU_ASSERT_EQUAL(a[2]->revision, 43);

	/* An id already there fails the whole batch, naming it, and writes nothing. */
	before = snapshot(st);
	dup[0] = make_account("v-new");
	dup[0]->revision = 3;
	dup[1] = make_account("v-b");
	dup[1]->revision = 9;
	CU_ASSERT_EQUAL(st->put_verbatim(st, dup, 2), PROVAUTH_ECONFLICT);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "v-b"));
	assert_no_secret(provauth_last_error());
	CU_ASSERT_EQUAL(st->get(st, &got, "v-new"), PROVAUTH_ENOTFOUND);
	after = snapshot(st);
	CU_ASSERT_STRING_EQUAL(before, after);
	free(after);

	/* Revision 0 is not a copy; one id twice cannot be. */
	dup[1]->revision = 0;
	CU_ASSERT_EQUAL(st->put_verbatim(st, dup, 2), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "revision 0"));
	provauth_account_free(dup[1]);
	dup[1] = make_account("v-new");
	dup[1]->revision = 2;
	CU_ASSERT_EQUAL(st->put_verbatim(st, dup, 2), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "more than once"));
	after = snapshot(st);
	CU_ASSERT_STRING_EQUAL(before, after);
	free(after);
	free(before);
	CU_ASSERT_EQUAL(st->put_verbatim(st, NULL, 0), 0);
	free_all(dup, 2);
	free_all(a, 3);
	provauth_store_free(st);
}

/* What the library says of a store: its own stores in full, anyone else's by name alone. */
static void test_store_info(void)
{
	provauth_store *mem = NULL, *sql, *fwd = NULL;
	provauth_store_info *info = NULL;
	char *key;

	CU_ASSERT_EQUAL_FATAL(provauth_store_memory_new(&mem), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_store_info_get(&info, mem), 0);
	CU_ASSERT_STRING_EQUAL(info->backend, "memory");
	CU_ASSERT_PTR_NULL(info->location);
	CU_ASSERT_PTR_NULL(info->key_file);
	CU_ASSERT_EQUAL(info->schema_version, 0);
	provauth_store_info_free(info);
	provauth_store_free(mem);

	cur = &backends[1];
	sql = fresh_store();
	CU_ASSERT_EQUAL_FATAL(provauth_store_info_get(&info, sql), 0);
	CU_ASSERT_STRING_EQUAL(info->backend, "sqlite");
	CU_ASSERT_STRING_EQUAL(info->location, db_path);
	key = pa_sprintf("%s.key", db_path);
	CU_ASSERT_STRING_EQUAL(info->key_file, key);
	free(key);
	CU_ASSERT_EQUAL(info->schema_version, 5);
	CU_ASSERT_EQUAL(info->version, PROVAUTH_STORE_INFO_VERSION);
	provauth_store_info_free(info);

	/* A host store that calls itself "sqlite" is not taken for one. */
	CU_ASSERT_EQUAL_FATAL(pa_fwd_store_new(&fwd, sql, NULL), 0);
	CU_ASSERT_STRING_EQUAL(fwd->name, "sqlite");
	CU_ASSERT_EQUAL_FATAL(provauth_store_info_get(&info, fwd), 0);
	CU_ASSERT_STRING_EQUAL(info->backend, "sqlite");
	CU_ASSERT_PTR_NULL(info->location);
	CU_ASSERT_EQUAL(info->schema_version, 0);
	provauth_store_info_free(info);
	provauth_store_free(fwd);

	CU_ASSERT_EQUAL(provauth_store_info_get(NULL, NULL), PROVAUTH_EINVAL);
	cur = &backends[0];
}

int main(int argc, char **argv)
{
	static const pa_test contract[] = {
		{ "inserts then updates", test_inserts_then_updates },
		{ "conflict in the middle", test_conflict_in_middle },
		{ "insert of an existing id in the middle", test_insert_existing_in_middle },
		{ "missing id in the middle", test_missing_in_middle },
		{ "duplicate id", test_duplicate_id },
		{ "invalid entry", test_invalid_entry },
		{ "empty batch", test_empty_batch },
		{ "large interleaved batch", test_large_interleaved },
		{ "threads", test_threads },
		{ "put_verbatim keeps revisions", test_put_verbatim },
		PA_TEST_END
	};
	static const pa_test sqlite_only[] = {
		{ "durable and sealed", test_sqlite_durable_and_sealed },
		PA_TEST_END
	};
	static const pa_test manager[] = {
		{ "put_many", test_manager_put_many },
		{ "evicts cached sessions", test_manager_evicts },
		{ "version 1 host store", test_manager_version1_store },
		{ "refuses unknown versions", test_manager_refuses_versions },
		{ "store info", test_store_info },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "put_many memory", init_memory, suite_cleanup, contract },
		{ "put_many sqlite", init_sqlite, suite_cleanup, contract },
		{ "put_many sqlite only", init_sqlite, suite_cleanup, sqlite_only },
		{ "put_many manager", init_memory, suite_cleanup, manager },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
