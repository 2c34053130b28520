/*
 * scale: a sqlite store of 100,000 accounts. Reports the rate of creating
 * accounts both ways, measured in the same run on small fresh stores: one
 * version-checked, durable put each (put_per_s) and put_many batches of
 * BATCH accounts, one durable transaction each (put_many_per_s, and their
 * ratio put_many_x); then the time to open the store and a manager on it, to
 * get one account and to list them all, and the memory one cached session
 * costs (heap and RSS growth over 10,000 sessions built through
 * run_with_session).
 *
 * With a PostgreSQL server (PA_PG_URL, which ./dev bench sets), the same
 * 100,000 accounts are migrated into an empty postgres store as `provauth
 * store migrate` does (read them all from sqlite, one all-or-nothing
 * put_verbatim), and the postgres store is then opened, read and listed
 * like the sqlite one: pg_migrate_ms, pg_open_ms, pg_get_us_median,
 * pg_list_all_ms.
 *
 * The 100,000-account store is generated with put_many once into
 * PA_BENCH_CACHE (./dev bench: the build directory's bench-cache/) and
 * reused: it is 100 MB that need not be written again on every run.
 */
#include "config.h"
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <provauth/provauth.h>
#include <provauth/plugin.h>
#include <provauth/store.h>
#include "bench_pg.h"
#include "bench_util.h"

static int noop(const provauth_session *s, provauth_failure *f, void *payload)
{
	(void)s; (void)f; (void)payload;
	return 0;
}

static void account_id(char *out, size_t n, long i)
{
	snprintf(out, n, "acct-%08ld", i);
}

static void cache_session(provauth_manager *m, long i)
{
	char id[32];

	account_id(id, sizeof(id), i);
	if (provauth_run_with_session(m, id, "noop", noop, NULL) != 0)
		bench_die("run_with_session");
}

/* Accounts per put_many transaction, when creating and generating. */
#define BATCH 1000

/* An account the size of a real pixverse one: a JWT, two cookies, metadata. */
static provauth_account *make_account(long i)
{
	provauth_account *a = NULL;
	char id[32], email[64], jwt[320];
	size_t k;

	account_id(id, sizeof(id), i);
	snprintf(email, sizeof(email), "user%ld@example.com", i);
	for (k = 0; k < sizeof(jwt) - 1; k++)
		jwt[k] = (char)('a' + (k * 7 + (size_t)i) % 26);
	jwt[sizeof(jwt) - 1] = '\0';
	if (provauth_account_new(&a, id, "benchnoop") < 0 || provauth_account_set(&a->email, email) < 0 ||
	    provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, "bench-password", 0) < 0 ||
	    provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, jwt, 0) < 0 ||
	    provauth_account_set_cookie(a, "_ai_token", jwt) < 0 ||
	    provauth_account_set_cookie(a, "pv_sid", "sid-12345") < 0 ||
	    provauth_account_set_metadata(a, "auth_method", "\"password\"") < 0)
		bench_die("creating an account");
	return a;
}

/* Accounts first..first+n-1 in one put_many. */
static void put_batch(provauth_store *st, long first, long n)
{
	provauth_account **batch = calloc((size_t)n, sizeof(*batch));
	long i;

	if (!batch)
		bench_die("out of memory");
	for (i = 0; i < n; i++)
		batch[i] = make_account(first + i);
	if (st->put_many(st, batch, (size_t)n) < 0)
		bench_die("put_many");
	for (i = 0; i < n; i++)
		provauth_account_free(batch[i]);
	free(batch);
}

/* Accounts 0..n-1, BATCH to a transaction. */
static void put_batches(provauth_store *st, long n)
{
	long i;

	for (i = 0; i < n; i += BATCH)
		put_batch(st, i, n - i < BATCH ? n - i : BATCH);
}

static provauth_store *open_store(const char *path, const char *key)
{
	provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;
	provauth_store *st = NULL;

	so.key_file = key;
	if (provauth_store_sqlite_open(&st, path, &so) < 0)
		bench_die(path);
	return st;
}

static void remove_store(const char *path, const char *key)
{
	char aux[1100];

	unlink(path);
	snprintf(aux, sizeof(aux), "%s-wal", path);
	unlink(aux);
	snprintf(aux, sizeof(aux), "%s-shm", path);
	unlink(aux);
	unlink(key);
}

/*
 * Accounts per second into a fresh store on the cache's disk: n puts one by
 * one, or n accounts in put_many batches of BATCH. Building the accounts is
 * part of both figures, as it is for a host.
 */
static double put_rate(const char *dir, long n, int batched)
{
	char path[1024], key[1024];
	provauth_store *st;
	uint64_t t0;
	long i;

	snprintf(path, sizeof(path), "%s/put-rate.db", dir);
	snprintf(key, sizeof(key), "%s/put-rate.key", dir);
	st = open_store(path, key);
	t0 = bench_now_ns();
	if (batched) {
		put_batches(st, n);
	} else {
		for (i = 0; i < n; i++) {
			provauth_account *a = make_account(i);
			if (st->put(st, a) < 0)
				bench_die("put");
			provauth_account_free(a);
		}
	}
	t0 = bench_now_ns() - t0;
	provauth_store_free(st);
	remove_store(path, key);
	return (double)n / ((double)t0 / 1e9);
}

/*
 * Generates the store once, with put_many, under a temporary name renamed
 * into place after the store is closed (so its WAL is checkpointed and gone):
 * a killed run leaves no half store behind.
 */
static int ensure_store(const char *path, const char *key, long n, double *created_s)
{
	char tmp[1100];
	provauth_store *st;
	struct stat sb;
	uint64_t t0;

	*created_s = -1;
	if (stat(path, &sb) == 0)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.partial", path);
	remove_store(tmp, key);
	fprintf(stderr, "scale: generating %ld accounts (once; cached as %s)\n", n, path);
	st = open_store(tmp, key);
	t0 = bench_now_ns();
	put_batches(st, n);
	*created_s = (double)(bench_now_ns() - t0) / 1e9;
	provauth_store_free(st);
	if (rename(tmp, path) != 0) {
		fprintf(stderr, "bench: could not put the generated store at %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Median µs of 200 gets of accounts spread over the n, through the account API of manager m. */
static double get_median_us(provauth_manager *m, long n)
{
	provauth_account *a = NULL;
	double us[200];
	char id[32];
	uint64_t t0;
	long i;

	for (i = 0; i < 200; i++) {
		account_id(id, sizeof(id), (i * 7919) % n);
		t0 = bench_now_ns();
		if (provauth_account_get(&a, m, id) < 0)
			bench_die("get");
		us[i] = (double)(bench_now_ns() - t0) / 1e3;
		provauth_account_free(a);
	}
	return bench_median(us, 200);
}

/* A manager on st with the no-op provider, as a host opens one. */
static provauth_manager *manager_on(provauth_store *st)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;

	if (provauth_settings_default(&s) < 0)
		bench_die("settings");
	opts.store = st;
	opts.log = bench_log_quiet;
	opts.skip_plugins = 1;
	if (provauth_manager_new(&m, s, &opts) < 0 || provauth_manager_add_provider(m, &bench_noop_provider) < 0)
		bench_die("manager");
	provauth_settings_free(s);
	return m;
}

/*
 * The postgres part: migrate the n accounts of the sqlite store `from` into
 * an empty postgres store, then open, get and list there. Appends its
 * figures to out.
 */
static void scale_postgres(char *out, size_t size, provauth_store *from, const char *url, long n)
{
	provauth_account **list = NULL;
	provauth_store *st;
	provauth_manager *m;
	char *conninfo = bench_pg_fresh_database(url, "provauth_bench_scale");
	double read_ms, write_ms, open_ms, get_us, list_ms;
	size_t count = 0;
	uint64_t t0;

	/* The schema is created by this first open, outside the figures. */
	st = bench_pg_store_open(conninfo, 0);
	t0 = bench_now_ns();
	if (from->list(from, &list, &count, NULL) < 0)
		bench_die("reading the sqlite store");
	read_ms = (double)(bench_now_ns() - t0) / 1e6;
	t0 = bench_now_ns();
	if (st->put_verbatim(st, (provauth_account *const *)list, count) < 0)
		bench_die("put_verbatim into postgres");
	write_ms = (double)(bench_now_ns() - t0) / 1e6;
	provauth_account_list_free(list, count);
	provauth_store_free(st);

	t0 = bench_now_ns();
	st = bench_pg_store_open(conninfo, 0);
	m = manager_on(st);
	open_ms = (double)(bench_now_ns() - t0) / 1e6;
	get_us = get_median_us(m, n);
	t0 = bench_now_ns();
	if (provauth_account_list(&list, &count, m, NULL) < 0)
		bench_die("list postgres");
	list_ms = (double)(bench_now_ns() - t0) / 1e6;
	provauth_account_list_free(list, count);
	if ((long)count != n) {
		fprintf(stderr, "bench: postgres listed %zu accounts, expected %ld\n", count, n);
		exit(1);
	}
	snprintf(out, size,
	         " pg_migrate_ms=%.0f pg_migrate_read_ms=%.0f pg_migrate_write_ms=%.0f pg_open_ms=%.1f "
	         "pg_get_us_median=%.1f pg_list_all_ms=%.0f pg_list_us_per_account=%.1f",
	         read_ms + write_ms, read_ms, write_ms, open_ms, get_us, list_ms, list_ms * 1000.0 / (double)n);
	provauth_manager_free(m);
	provauth_store_free(st);
	free(conninfo);
}

static double better(double a, double b)
{
	return a > b ? a : b;
}

int main(void)
{
	provauth_manager *m = NULL;
	provauth_account **list = NULL;
	provauth_store *st;
	const char *cache = getenv("PA_BENCH_CACHE"), *pg_url;
	long n = bench_env_long("PA_BENCH_SCALE_ACCOUNTS", 100000);
	long cached = bench_env_long("PA_BENCH_SCALE_SESSIONS", 10000);
	char path[1024], key[1024], gen[32], pg_figures[512] = "";
	double rate, batch_rate, created_s, open_ms, get_us, list_ms, per_session, heap_per_session;
	size_t heap0, heap1;
	size_t count = 0;
	long rss0, rss1, i;
	uint64_t t0;

	if (!cache) {
		fprintf(stderr, "bench: PA_BENCH_CACHE must name a directory for the generated store\n");
		return 2;
	}
	if (mkdir(cache, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "bench: mkdir %s: %s\n", cache, strerror(errno));
		return 1;
	}
	if (2 * cached > n)
		cached = n / 2;
	/* The two ways alternate, twice each, so a change in load touches both; the better run of each counts. */
	rate = put_rate(cache, 500, 0);
	batch_rate = put_rate(cache, 20 * BATCH, 1);
	rate = better(rate, put_rate(cache, 500, 0));
	batch_rate = better(batch_rate, put_rate(cache, 20 * BATCH, 1));
	snprintf(path, sizeof(path), "%s/scale-%ld.db", cache, n);
	snprintf(key, sizeof(key), "%s/scale-%ld.key", cache, n);
	if (ensure_store(path, key, n, &created_s) < 0)
		return 1;

	t0 = bench_now_ns();
	st = open_store(path, key);
	m = manager_on(st);
	open_ms = (double)(bench_now_ns() - t0) / 1e6;
	get_us = get_median_us(m, n);

	/*
	 * Sessions hold their account snapshot. First pass: RSS and heap growth
	 * over `cached` new sessions, which includes sqlite's page cache filling
	 * up (an upper bound). Then the list reads every page, so the page cache
	 * is at its cap, and a second pass over other accounts gives the heap
	 * bytes that one session really keeps (mallinfo2).
	 */
	rss0 = bench_rss_kib();
	for (i = 0; i < cached; i++)
		cache_session(m, i);
	rss1 = bench_rss_kib();
	per_session = (double)(rss1 - rss0) * 1024.0 / (double)cached;

	t0 = bench_now_ns();
	if (provauth_account_list(&list, &count, m, NULL) < 0)
		bench_die("list");
	list_ms = (double)(bench_now_ns() - t0) / 1e6;
	provauth_account_list_free(list, count);
	if ((long)count != n) {
		fprintf(stderr, "bench: listed %zu accounts, expected %ld\n", count, n);
		return 1;
	}

	heap0 = mallinfo2().uordblks;
	for (i = cached; i < 2 * cached; i++)
		cache_session(m, i);
	heap1 = mallinfo2().uordblks;
	heap_per_session = ((double)heap1 - (double)heap0) / (double)cached;

	if ((pg_url = bench_pg_server("scale")))
		scale_postgres(pg_figures, sizeof(pg_figures), st, pg_url, n);

	if (created_s < 0)
		snprintf(gen, sizeof(gen), "cached");
	else
		snprintf(gen, sizeof(gen), "%.1f", created_s);
	printf("scale accounts=%ld put_per_s=%.0f put_many_per_s=%.0f put_many_x=%.1f batch=%d generate_s=%s "
	       "open_ms=%.1f get_us_median=%.1f list_all_ms=%.0f list_us_per_account=%.1f cached_sessions=%ld "
	       "rss_bytes_per_session=%.0f heap_bytes_per_session=%.0f%s\n",
	       n, rate, batch_rate, batch_rate / rate, BATCH, gen, open_ms,
	       get_us, list_ms, list_ms * 1000.0 / (double)n, cached, per_session, heap_per_session, pg_figures);
	provauth_manager_free(m);
	provauth_store_free(st);
	return 0;
}
