/*
 * The sqlite store's group commit (core/store/sqlite_sync.c): a write
 * returns once its commit is on disk, writers that commit while a sync is
 * under way share the next one, leases and reads never wait for the disk,
 * and a sync the disk refuses fails that write and every later one while
 * reads go on. The store's own counters (sql_store) are read to see it.
 */
#include "config.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <CUnit/Basic.h>
#include "internal.h"
#include "store/sqlite_private.h"
#include "../support/pa_test.h"

#define WRITERS 4

static char tmpdir[] = "/tmp/pa-store-sync-XXXXXX";
static int db_counter;

static int suite_init(void)
{
	unsetenv("PROVAUTH_STORE_KEY");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
	return pa_test_rmtree(tmpdir);
}

static provauth_store *fresh_store(void)
{
	provauth_store *s = NULL;
	char *path = pa_sprintf("%s/db-%d/accounts.db", tmpdir, ++db_counter);

	CU_ASSERT_FATAL(path != NULL);
	CU_ASSERT_FATAL(provauth_store_sqlite_open(&s, path, NULL) == 0);
	free(path);
	return s;
}

static provauth_account *account_named(const char *id)
{
	provauth_account *a = NULL;

	CU_ASSERT_FATAL(provauth_account_new(&a, id, "pixiv") == 0);
	CU_ASSERT_FATAL(provauth_account_set_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL, "rt-sync-test", 0) == 0);
	return a;
}

static uint64_t syncs_of(sql_store *st)
{
	uint64_t n;

	pthread_mutex_lock(&st->sync_mu);
	n = st->syncs;
	pthread_mutex_unlock(&st->sync_mu);
	return n;
}

static void test_writes_sync_leases_do_not(void)
{
	provauth_store *s = fresh_store();
	sql_store *st = (sql_store *)s;
	provauth_account *a = account_named("acc-1"), *back = NULL;
	uint64_t before;

	before = syncs_of(st);
	CU_ASSERT_EQUAL(s->put(s, a), 0);
	CU_ASSERT_EQUAL(syncs_of(st), before + 1);
	CU_ASSERT_EQUAL(st->synced, atomic_load(&st->written));

	before = syncs_of(st);
	CU_ASSERT_EQUAL(s->lease_acquire(s, "acc-1", "me", 60000), 0);
	CU_ASSERT_EQUAL(s->lease_release(s, "acc-1", "me"), 0);
	CU_ASSERT_EQUAL(s->get(s, &back, "acc-1"), 0);
	CU_ASSERT_EQUAL(syncs_of(st), before);
	/* A write that changed nothing needs no sync either. */
	CU_ASSERT_EQUAL(s->remove(s, "no-such-account", 0), PROVAUTH_ENOTFOUND);
	CU_ASSERT_EQUAL(syncs_of(st), before);

	CU_ASSERT_EQUAL(s->remove(s, "acc-1", 0), 0);
	CU_ASSERT_EQUAL(syncs_of(st), before + 1);
	provauth_account_free(back);
	provauth_account_free(a);
	s->free(s);
}

typedef struct writer {
	provauth_store *s;
	int index;
	int rc;
} writer;

static void *write_one(void *arg)
{
	writer *w = arg;
	char id[32];
	provauth_account *a;

	snprintf(id, sizeof(id), "writer-%d", w->index);
	a = account_named(id);
	w->rc = w->s->put(w->s, a);
	provauth_account_free(a);
	return NULL;
}

/*
 * The test plays a leader stuck in its fdatasync (syncing = 1), so the
 * writers commit and queue; once all have committed it lets go, and one
 * sync must cover them all.
 */
static void test_writers_share_one_sync(void)
{
	provauth_store *s = fresh_store();
	sql_store *st = (sql_store *)s;
	pthread_t threads[WRITERS];
	writer w[WRITERS];
	uint64_t written_before, syncs_before;
	int i, spins;

	pthread_mutex_lock(&st->sync_mu);
	st->syncing = 1;
	syncs_before = st->syncs;
	pthread_mutex_unlock(&st->sync_mu);
	written_before = atomic_load(&st->written);
	for (i = 0; i < WRITERS; i++) {
		w[i].s = s;
		w[i].index = i;
		w[i].rc = 1;
		CU_ASSERT_FATAL(pthread_create(&threads[i], NULL, write_one, &w[i]) == 0);
	}
	/* Every writer has committed (and none can have returned: nothing is synced). */
	for (spins = 0; atomic_load(&st->written) < written_before + WRITERS && spins < 10000; spins++)
		usleep(1000);
	CU_ASSERT_EQUAL_FATAL(atomic_load(&st->written), written_before + WRITERS);
	pthread_mutex_lock(&st->sync_mu);
	CU_ASSERT_TRUE(st->synced <= written_before);
	st->syncing = 0;
	pthread_cond_broadcast(&st->sync_cv);
	pthread_mutex_unlock(&st->sync_mu);
	for (i = 0; i < WRITERS; i++) {
		pthread_join(threads[i], NULL);
		CU_ASSERT_EQUAL(w[i].rc, 0);
	}
	CU_ASSERT_EQUAL(syncs_of(st), syncs_before + 1);
	CU_ASSERT_EQUAL(st->synced, written_before + WRITERS);
	s->free(s);
}

static void test_refused_sync_refuses_writes(void)
{
	provauth_store *s = fresh_store();
	sql_store *st = (sql_store *)s;
	provauth_account *a = account_named("acc-1"), *b = account_named("acc-2"), *back = NULL;
	int pipe_fds[2];

	CU_ASSERT_EQUAL_FATAL(s->put(s, a), 0);
	/* A disk that refuses: fdatasync on a pipe fails (EINVAL) as a failing disk fails it (EIO). */
	CU_ASSERT_FATAL(pipe(pipe_fds) == 0);
	CU_ASSERT_FATAL(st->wal_fd >= 0);
	CU_ASSERT_FATAL(dup2(pipe_fds[0], st->wal_fd) == st->wal_fd);
	close(pipe_fds[0]);
	close(pipe_fds[1]);

	CU_ASSERT_EQUAL(s->put(s, b), PROVAUTH_EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "could not be saved to disk"));
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "accounts.db"));
	/* Every later write is refused before it begins; reads go on. */
	CU_ASSERT_EQUAL(s->put(s, a), PROVAUTH_EIO);
	CU_ASSERT_EQUAL(s->remove(s, "acc-1", 0), PROVAUTH_EIO);
	CU_ASSERT_EQUAL(s->lease_acquire(s, "acc-1", "me", 60000), PROVAUTH_EIO);
	CU_ASSERT_EQUAL(s->get(s, &back, "acc-1"), 0);
	CU_ASSERT_PTR_NOT_NULL(back);
	provauth_account_free(back);
	provauth_account_free(a);
	provauth_account_free(b);
	s->free(s);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "writes sync, leases and reads do not", test_writes_sync_leases_do_not },
		{ "writers share one sync", test_writers_share_one_sync },
		{ "a refused sync refuses later writes", test_refused_sync_refuses_writes },
		PA_TEST_END,
	};
	static const pa_test_suite suites[] = {
		{ "store sync", suite_init, suite_clean, tests },
		PA_TEST_SUITE_END,
	};

	return pa_test_run(argc, argv, suites);
}
