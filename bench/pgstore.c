/*
 * pgstore: what the postgres store costs over the database itself. Put, get
 * and lease acquire+release per second through the store, against a bare
 * libpq loop that sends the same statements with the same parameters (the
 * SQL copied from core/store/postgres*.c, the row values read back from what
 * the store wrote), on the same number of connections and threads, in the
 * same run. What the store adds is sealing (AES-256-GCM) and decoding, its
 * connection pool (and for leases a connection of their own, taken from a
 * second pool), and copying accounts in and out; the target is >= 0.8x.
 *
 * THREADS threads (PA_BENCH_PGSTORE_THREADS, default 4) on a store with a
 * pool of as many connections, each thread on an account of its own (puts
 * do not conflict); the baseline: THREADS threads, one connection each. The
 * two sides alternate, ROUNDS rounds each of OPS operations per thread
 * (PA_BENCH_PGSTORE_OPS); the figure is the median of the rounds. Each
 * line also gives the client's CPU time per operation on both sides,
 * which the load of the machine moves less than the rates.
 */
#include "config.h"
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <provauth/provauth.h>
#include <provauth/store.h>
#include "bench_pg.h"
#include "bench_util.h"

#define ROUNDS 5
#define MAX_THREADS 16
/* Long enough that no lease expires in a round; leases are released at once anyway. */
#define LEASE_TTL_MS 60000
/* The columns of provauth_accounts (PG_ACCOUNT_COLUMNS below). */
#define PG_COLUMN_COUNT 17

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
	PGconn *conn;              /* the baseline's own connection */
	provauth_account *account; /* the store side's account, its revision kept current */
	char id[32], owner[32];
	/* The baseline's account (of its own, so the two sides' revisions stay apart) and its row. */
	char base_id[32];
	char *base_row[PG_COLUMN_COUNT];
	unsigned char *base_secrets;
	size_t base_secrets_len;
	uint64_t base_revision;
} worker;

/* Ids of the same length on both sides: the store's and the baseline's accounts. */
static void account_id(char *out, size_t n, const char *side, int i)
{
	snprintf(out, n, "pg-%s-%02d", side, i);
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

/*
 * The statements, copied from core/store/pg_rows.c (PA_PG_ACCOUNT_COLUMNS,
 * PG_UPDATE: one version-checked update that notifies waiters, in
 * autocommit) and core/store/pg_lease.c (pa_pg_lease_acquire,
 * pa_pg_lease_release, pa_pg_lease_key), as of the merge of integrate at
 * 60b42c9 (the release unlocking all since the fleet tests' findings).
 * Keep them in step when those change.
 */
#define PG_ACCOUNT_COLUMNS \
	"id, provider, email, metadata, revision, updated_at, access_expires_at, secrets, auth_method," \
	" health_state, health_reason, health_code, health_at, health_message, last_reauth_at," \
	" refresh_refused, refresh_refused_at"
#define PG_SECRETS_COLUMN 7
#define PG_GET "SELECT " PG_ACCOUNT_COLUMNS " FROM provauth_accounts WHERE id = $1"
#define PG_UPDATE \
	"WITH w AS (UPDATE provauth_accounts SET provider = $2, email = $3, metadata = $4, revision = $5," \
	" updated_at = $6, access_expires_at = $7, secrets = $8, auth_method = $9, health_state = $10," \
	" health_reason = $11, health_code = $12, health_at = $13, health_message = $14, last_reauth_at = $15," \
	" refresh_refused = $16, refresh_refused_at = $17 WHERE id = $1 AND revision = $18 RETURNING id)" \
	" SELECT pg_notify('provauth_accounts', id) FROM w"
#define PG_LEASE_ACQUIRE \
	"SELECT CASE WHEN pg_try_advisory_lock($1::bigint) THEN set_config('idle_session_timeout', $2, false) END"
#define PG_LEASE_RELEASE \
	"SELECT pg_advisory_unlock_all(), set_config('idle_session_timeout', '0', false)," \
	" pg_notify('provauth_accounts', $1)"

static int64_t lease_key(const char *id)
{
	static const char label[] = "provauth lease";
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < sizeof(label); i++)
		h = (h ^ (unsigned char)label[i]) * 1099511628211ULL;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return (int64_t)h;
}

static PGresult *exec_format(PGconn *c, const char *sql, int n, const char *const *params, const int *lengths,
                             const int *formats, int rows, int result_format)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, lengths, formats, result_format);

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != rows) {
		fprintf(stderr, "bench: libpq baseline: %s", PQerrorMessage(c));
		exit(1);
	}
	return r;
}

/* Text results, as the store asks for everything but rows of accounts. */
static PGresult *exec_checked(PGconn *c, const char *sql, int n, const char *const *params, const int *lengths,
                              const int *formats, int rows)
{
	return exec_format(c, sql, n, params, lengths, formats, rows, 0);
}

/*
 * The baseline's row: what the store wrote for the baseline's own account
 * (made like the store side's), read back, so every update sends the same
 * values the store sends; only revision and updated_at move, as the
 * store's do. The sealed record is sent again as it is (the store seals
 * afresh for each revision: that is part of what the store adds).
 */
static void baseline_prepare(worker *w)
{
	const char *params[] = { w->base_id };
	PGresult *r = exec_checked(w->conn, PG_GET, 1, params, NULL, NULL, 1);
	int i;

	for (i = 0; i < PG_COLUMN_COUNT; i++) {
		if (PQgetisnull(r, 0, i))
			continue;
		if (i == PG_SECRETS_COLUMN) {
			w->base_secrets = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, i), &w->base_secrets_len);
			if (!w->base_secrets)
				bench_die("PQunescapeBytea");
		} else if (!(w->base_row[i] = strdup(PQgetvalue(r, 0, i)))) {
			bench_die("out of memory");
		}
	}
	w->base_revision = strtoull(w->base_row[4], NULL, 10);
	PQclear(r);
}

static void baseline_op(worker *w)
{
	const char *params[PG_COLUMN_COUNT + 1];
	int lengths[PG_COLUMN_COUNT + 1] = { 0 }, formats[PG_COLUMN_COUNT + 1] = { 0 };
	char revision[24], updated_at[24], expected[24], key[24], ttl[24];
	PGresult *r;
	int i;

	switch (w->op) {
	case OP_PUT:
		for (i = 0; i < PG_COLUMN_COUNT; i++)
			params[i] = w->base_row[i];
		snprintf(revision, sizeof(revision), "%" PRIu64, w->base_revision + 1);
		snprintf(updated_at, sizeof(updated_at), "%" PRId64, (int64_t)time(NULL));
		snprintf(expected, sizeof(expected), "%" PRIu64, w->base_revision);
		params[4] = revision;
		params[5] = updated_at;
		params[PG_SECRETS_COLUMN] = (const char *)w->base_secrets;
		lengths[PG_SECRETS_COLUMN] = (int)w->base_secrets_len;
		formats[PG_SECRETS_COLUMN] = 1;
		params[PG_COLUMN_COUNT] = expected;
		PQclear(exec_checked(w->conn, PG_UPDATE, PG_COLUMN_COUNT + 1, params, lengths, formats, 1));
		w->base_revision++;
		break;
	case OP_GET:
		params[0] = w->base_id;
		/* Rows of accounts in binary format, as pa_pg_query_binary asks for them. */
		PQclear(exec_format(w->conn, PG_GET, 1, params, NULL, NULL, 1, 1));
		break;
	default:
		snprintf(key, sizeof(key), "%" PRId64, lease_key(w->base_id));
		snprintf(ttl, sizeof(ttl), "%d", LEASE_TTL_MS);
		params[0] = key;
		params[1] = ttl;
		r = exec_checked(w->conn, PG_LEASE_ACQUIRE, 2, params, NULL, NULL, 1);
		if (PQgetisnull(r, 0, 0)) {
			fprintf(stderr, "bench: libpq baseline: the lease is taken\n");
			exit(1);
		}
		PQclear(r);
		params[0] = w->base_id;
		PQclear(exec_checked(w->conn, PG_LEASE_RELEASE, 1, params, NULL, NULL, 1));
		break;
	}
}

static void baseline_finish(worker *w)
{
	int i;

	for (i = 0; i < PG_COLUMN_COUNT; i++)
		free(w->base_row[i]);
	PQfreemem(w->base_secrets);
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

/* This process's CPU time, user and system, in µs. */
static double cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec * 1e6 +
	       (double)ru.ru_stime.tv_usec;
}

/*
 * Operations per second of all threads together, one side, one round; the
 * client's CPU µs per operation in *cpu. The server shares the machine's
 * CPUs with the client, so what the client spends is what the server lacks.
 */
static double round_rate(worker *w, int threads, enum op op, int baseline, double *cpu)
{
	pthread_barrier_t start;
	pthread_t th[MAX_THREADS];
	uint64_t slowest = 0;
	double cpu0 = cpu_us();
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
	*cpu = (cpu_us() - cpu0) / ((double)ops * threads);
	return (double)ops * threads / ((double)slowest / 1e9);
}

int main(void)
{
	worker w[MAX_THREADS];
	double rate[OP_COUNT][ROUNDS], base[OP_COUNT][ROUNDS], ratio[OP_COUNT][ROUNDS], rm[OP_COUNT], bm[OP_COUNT];
	double xm[OP_COUNT], rate_cpu[OP_COUNT][ROUNDS], base_cpu[OP_COUNT][ROUNDS];
	const char *url;
	int threads = (int)bench_env_long("PA_BENCH_PGSTORE_THREADS", 4), i, r, o, met = 1;
	char *db;

	ops = bench_env_long("PA_BENCH_PGSTORE_OPS", 2000);
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
		provauth_account *a;

		account_id(w[i].id, sizeof(w[i].id), "store", i);
		account_id(w[i].base_id, sizeof(w[i].base_id), "libpq", i);
		snprintf(w[i].owner, sizeof(w[i].owner), "pgstore-%d", i);
		w[i].account = make_account(w[i].id);
		a = make_account(w[i].base_id);
		if (store->put(store, w[i].account) < 0 || store->put(store, a) < 0)
			bench_die("first put");
		provauth_account_free(a);
		w[i].conn = bench_pg_connect(db);
		baseline_prepare(&w[i]);
	}
	for (r = 0; r < ROUNDS; r++)
		for (o = 0; o < OP_COUNT; o++) {
			/* The sides swap places every round, so neither always runs first. */
			if (r % 2 == 0) {
				rate[o][r] = round_rate(w, threads, (enum op)o, 0, &rate_cpu[o][r]);
				base[o][r] = round_rate(w, threads, (enum op)o, 1, &base_cpu[o][r]);
			} else {
				base[o][r] = round_rate(w, threads, (enum op)o, 1, &base_cpu[o][r]);
				rate[o][r] = round_rate(w, threads, (enum op)o, 0, &rate_cpu[o][r]);
			}
			ratio[o][r] = rate[o][r] / base[o][r];
			fprintf(stderr, "pgstore: round %d %s: store %.0f/s, libpq %.0f/s\n", r, op_names[o], rate[o][r],
			        base[o][r]);
		}
	for (o = 0; o < OP_COUNT; o++) {
		rm[o] = bench_median(rate[o], ROUNDS);
		bm[o] = bench_median(base[o], ROUNDS);
		/* The ratio of each round's pair, then their median: the pair ran back to back, under the same load. */
		xm[o] = bench_median(ratio[o], ROUNDS);
		printf("pgstore_%s threads=%d store_per_s=%.0f libpq_per_s=%.0f ratio=%.3f target_ratio=0.8 "
		       "store_client_cpu_us=%.1f libpq_client_cpu_us=%.1f "
		       "(rates: medians of %d alternating rounds x %ld ops per thread; ratio: median of the rounds' ratios)\n",
		       op_names[o], threads, rm[o], bm[o], xm[o], bench_median(rate_cpu[o], ROUNDS),
		       bench_median(base_cpu[o], ROUNDS), ROUNDS, ops);
		met &= xm[o] >= 0.8;
	}
	printf("pgstore put_ratio=%.3f get_ratio=%.3f lease_ratio=%.3f target_ratio=0.8 met=%s\n", xm[OP_PUT],
	       xm[OP_GET], xm[OP_LEASE], met ? "yes" : "no");
	for (i = 0; i < threads; i++) {
		baseline_finish(&w[i]);
		PQfinish(w[i].conn);
		provauth_account_free(w[i].account);
	}
	provauth_store_free(store);
	free(db);
	return 0;
}
