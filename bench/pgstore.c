/*
 * pgstore: what the postgres store costs over the database itself. Put, get
 * and lease acquire+release per second through the store, against a bare
 * libpq loop that sends the same statements with the same parameters (the
 * SQL copied from core/store/postgres*.c, the row values read back from what
 * the store wrote), on the same number of connections and threads, in the
 * same run. What the store adds is sealing (AES-256-GCM) and decoding, its
 * connection pool, and copying accounts in and out; the target is >= 0.8x.
 *
 * THREADS threads (PA_BENCH_PGSTORE_THREADS, default 4) on a store with a
 * pool of as many connections, each thread on an account of its own (puts
 * do not conflict); the baseline: THREADS threads, one connection each. The
 * two sides alternate, ROUNDS rounds each of OPS operations per thread
 * (PA_BENCH_PGSTORE_OPS); the figure is the median of the rounds.
 */
#include "config.h"
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <provauth/provauth.h>
#include <provauth/store.h>
#include "bench_pg.h"
#include "bench_util.h"

#define ROUNDS 5
#define MAX_THREADS 16
/* Long enough that no lease expires in a round; leases are released at once anyway. */
#define LEASE_TTL_MS 60000

enum op { OP_PUT, OP_GET, OP_LEASE, OP_COUNT };
static const char *const op_names[OP_COUNT] = { "put", "get", "lease" };

static provauth_store *store;
static const char *conninfo;
static long ops;

typedef struct worker {
	int index;
	enum op op;
	int baseline;
	pthread_barrier_t *start;
	uint64_t elapsed_ns;
	PGconn *conn;            /* the baseline's own connection */
	provauth_account *account; /* the store side's account, its revision kept current */
	char id[32], owner[32];
} worker;

static void account_id(char *out, size_t n, int i)
{
	snprintf(out, n, "pg-bench-%02d", i);
}

/* An account the size of a real pixverse one: a JWT, two cookies, a password, metadata. */
static provauth_account *make_account(const char *id)
{
	provauth_account *a = NULL;
	char jwt[320];
	size_t k;

	for (k = 0; k < sizeof(jwt) - 1; k++)
		jwt[k] = (char)('a' + (k * 7) % 26);
	jwt[sizeof(jwt) - 1] = '\0';
	if (provauth_account_new(&a, id, "benchnoop") < 0 || provauth_account_set(&a->email, "pg@example.com") < 0 ||
	    provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, "bench-password", 0) < 0 ||
	    provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, jwt, 0) < 0 ||
	    provauth_account_set_cookie(a, "_ai_token", jwt) < 0 || provauth_account_set_cookie(a, "pv_sid", "sid-1") < 0 ||
	    provauth_account_set_metadata(a, "auth_method", "\"password\"") < 0)
		bench_die("creating an account");
	return a;
}

/* ------------------------------------------------------------------------ */
/* The store side                                                           */
/* ------------------------------------------------------------------------ */

static void store_op(worker *w)
{
	provauth_account *a = NULL;

	switch (w->op) {
	case OP_PUT:
		if (store->put(store, w->account) < 0)
			bench_die("put");
		break;
	case OP_GET:
		if (store->get(store, &a, w->id) < 0)
			bench_die("get");
		provauth_account_free(a);
		break;
	default:
		if (store->lease_acquire(store, w->id, w->owner, LEASE_TTL_MS) < 0)
			bench_die("lease_acquire");
		if (store->lease_release(store, w->id, w->owner) < 0)
			bench_die("lease_release");
		break;
	}
}

/* ------------------------------------------------------------------------ */
/* The baseline: the store's SQL over bare libpq                            */
/* ------------------------------------------------------------------------ */

/* PLACEHOLDER until core/store/postgres*.c lands: the statements are copied from it then. */
static void baseline_prepare(worker *w)
{
	(void)w;
}

static void baseline_op(worker *w)
{
	bench_pg_exec(w->conn, "SELECT 1");
}

static void baseline_finish(worker *w)
{
	(void)w;
}

static void *run_ops(void *arg)
{
	worker *w = arg;
	uint64_t t0;
	long i;

	pthread_barrier_wait(w->start);
	t0 = bench_now_ns();
	for (i = 0; i < ops; i++) {
		if (w->baseline)
			baseline_op(w);
		else
			store_op(w);
	}
	w->elapsed_ns = bench_now_ns() - t0;
	return NULL;
}

/* Operations per second of all threads together, one side, one round. */
static double round_rate(worker *w, int threads, enum op op, int baseline)
{
	pthread_barrier_t start;
	pthread_t th[MAX_THREADS];
	uint64_t slowest = 0;
	int i;

	pthread_barrier_init(&start, NULL, (unsigned)threads);
	for (i = 0; i < threads; i++) {
		w[i].op = op;
		w[i].baseline = baseline;
		w[i].start = &start;
		if (pthread_create(&th[i], NULL, run_ops, &w[i]) != 0)
			bench_die("pthread_create");
	}
	for (i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		if (w[i].elapsed_ns > slowest)
			slowest = w[i].elapsed_ns;
	}
	pthread_barrier_destroy(&start);
	return (double)ops * threads / ((double)slowest / 1e9);
}

int main(void)
{
	worker w[MAX_THREADS];
	double rate[OP_COUNT][ROUNDS], base[OP_COUNT][ROUNDS], rm[OP_COUNT], bm[OP_COUNT];
	const char *url;
	int threads = (int)bench_env_long("PA_BENCH_PGSTORE_THREADS", 4), i, r, o, met = 1;
	char *db;

	ops = bench_env_long("PA_BENCH_PGSTORE_OPS", 1000);
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if (!(url = bench_pg_server("pgstore")))
		return 2;
	db = bench_pg_fresh_database(url, "provauth_bench_pgstore");
	conninfo = db;
	store = bench_pg_store_open(db, threads);
	memset(w, 0, sizeof(w));
	for (i = 0; i < threads; i++) {
		w[i].index = i;
		account_id(w[i].id, sizeof(w[i].id), i);
		snprintf(w[i].owner, sizeof(w[i].owner), "pgstore-%d", i);
		w[i].account = make_account(w[i].id);
		if (store->put(store, w[i].account) < 0)
			bench_die("first put");
		w[i].conn = bench_pg_connect(db);
		baseline_prepare(&w[i]);
	}
	for (r = 0; r < ROUNDS; r++)
		for (o = 0; o < OP_COUNT; o++) {
			/* The sides swap places every round, so neither always runs first. */
			if (r % 2 == 0) {
				rate[o][r] = round_rate(w, threads, (enum op)o, 0);
				base[o][r] = round_rate(w, threads, (enum op)o, 1);
			} else {
				base[o][r] = round_rate(w, threads, (enum op)o, 1);
				rate[o][r] = round_rate(w, threads, (enum op)o, 0);
			}
			fprintf(stderr, "pgstore: round %d %s: store %.0f/s, libpq %.0f/s\n", r, op_names[o], rate[o][r],
			        base[o][r]);
		}
	for (o = 0; o < OP_COUNT; o++) {
		rm[o] = bench_median(rate[o], ROUNDS);
		bm[o] = bench_median(base[o], ROUNDS);
		printf("pgstore_%s threads=%d store_per_s=%.0f libpq_per_s=%.0f ratio=%.3f target_ratio=0.8 "
		       "(median of %d alternating rounds x %ld ops per thread)\n",
		       op_names[o], threads, rm[o], bm[o], rm[o] / bm[o], ROUNDS, ops);
		met &= rm[o] / bm[o] >= 0.8;
	}
	printf("pgstore put_ratio=%.3f get_ratio=%.3f lease_ratio=%.3f target_ratio=0.8 met=%s\n", rm[OP_PUT] / bm[OP_PUT],
	       rm[OP_GET] / bm[OP_GET], rm[OP_LEASE] / bm[OP_LEASE], met ? "yes" : "no");
	for (i = 0; i < threads; i++) {
		baseline_finish(&w[i]);
		PQfinish(w[i].conn);
		provauth_account_free(w[i].account);
	}
	provauth_store_free(store);
	free(db);
	return 0;
}
