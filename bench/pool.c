/*
 * pool: what the account pool costs over the database. Reservations per
 * second (provauth_pool_acquire then provauth_pool_release, through a
 * manager) against a bare loop that runs the reservation's statements
 * itself in the same transactions (copied from core/store/sqlite_pool.c and
 * core/store/pg_pool.c: choose the best eligible account, take a slot,
 * record the reservation; then find it, remove it, give the slot back), on
 * the same database, with 1 and 8 processes, in the same run. What the pool
 * adds is its own statements (pool rows for new accounts, due cap probes,
 * the holder's identity, the charge), copying out the reservation, the
 * manager's checks and its log events; the target is >= 0.8x. It also
 * gives the p99 of acquire under contention (8 processes).
 *
 * ACCOUNTS accounts with enough slots that no acquire ever waits: what is
 * measured is the reservation, not a queue. Their slots are known, as
 * after provauth_pool_sync (on postgres a release then notifies waiters only
 * when it frees a full account, which never happens here, as in any pool
 * with slots to spare). The two sides alternate, ROUNDS
 * rounds each of OPS reservations per process (PA_BENCH_POOL_OPS); the
 * figure is the median of the rounds.
 */
#include "config.h"
#include <inttypes.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <provauth/pool.h>
#include <provauth/provauth.h>
#include <provauth/store.h>
#include "bench_pg.h"
#include "bench_util.h"

#define ROUNDS 3
#define ACCOUNTS 16
#define SLOTS 16
#define MAX_PROCS 8
#define PROVIDER "benchnoop"

static const unsigned char sqlite_key[32] = "provauth-bench-pool-key-32-bytes";
static long ops;

typedef enum backend { SQLITE, POSTGRES } backend;
static const char *const backend_names[] = { "sqlite", "postgres" };

typedef struct target {
	backend kind;
	const char *where;     /* the sqlite file, or the postgres conninfo */
} target;

/* ---- the store side: the pool through a manager ---- */

static provauth_store *open_store(const target *t)
{
	provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;
	provauth_store *st = NULL;

	if (t->kind == POSTGRES)
		return bench_pg_store_open(t->where, 2);
	so.key = sqlite_key;
	if (provauth_store_sqlite_open(&st, t->where, &so) < 0)
		bench_die("opening the sqlite store");
	return st;
}

static provauth_manager *manager_on(provauth_store *st)
{
	static const char yaml[] = "pool:\n  default_slots: 16\n";
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;

	opts.store = st;
	opts.skip_plugins = 1;
	opts.log = bench_log_quiet;
	if (provauth_settings_parse(&s, yaml, strlen(yaml), "bench.yaml") < 0 ||
	    provauth_manager_new(&m, s, &opts) < 0 || provauth_manager_add_provider(m, &bench_noop_provider) < 0)
		bench_die("creating the manager");
	provauth_settings_free(s);
	return m;
}

static void store_side(const target *t, uint32_t *lat_us, uint64_t *elapsed, int go)
{
	provauth_pool_request req = PROVAUTH_POOL_REQUEST_INIT;
	provauth_store *st = open_store(t);
	provauth_manager *m = manager_on(st);
	provauth_pool_reservation *r = NULL;
	uint64_t t0, a;
	char c;
	long i;

	req.provider = PROVIDER;
	/* Warm: the connections, the statements, the pool rows. */
	if (provauth_pool_acquire(&r, m, &req) < 0 || provauth_pool_release(m, r->id, PROVAUTH_POOL_UNUSED) < 0)
		bench_die("warming the pool");
	provauth_pool_reservation_free(r);
	if (read(go, &c, 1) != 1)
		bench_die("waiting for the start");
	t0 = bench_now_ns();
	for (i = 0; i < ops; i++) {
		a = bench_now_ns();
		if (provauth_pool_acquire(&r, m, &req) < 0)
			bench_die("acquire");
		lat_us[i] = (uint32_t)((bench_now_ns() - a) / 1000);
		if (provauth_pool_release(m, r->id, PROVAUTH_POOL_DONE) < 0)
			bench_die("release");
		provauth_pool_reservation_free(r);
	}
	*elapsed = bench_now_ns() - t0;
	provauth_manager_free(m);
	provauth_store_free(st);
}

/* ---- the baseline: the same reservation in bare SQL ---- */

/* The statements of core/store/sqlite_pool.c that make and undo a reservation. */
#define BASE_SQLITE_PICK \
	"SELECT p.account_id FROM pool p JOIN accounts a ON a.id = p.account_id" \
	" LEFT JOIN pool_credits c ON c.account_id = p.account_id AND c.kind = ?5" \
	" WHERE a.provider = ?1 AND (?2 IS NULL OR p.account_id = ?2)" \
	" AND a.health_state IS NOT 'invalid' AND p.status = 'active' AND p.cooldown_until <= ?3" \
	" AND p.in_use < COALESCE(p.effective_cap, p.max_slots, ?4)" \
	" AND (?5 IS NULL OR ?2 IS NOT NULL OR p.credits_at = 0 OR COALESCE(c.amount, 0) >= ?6)" \
	" ORDER BY p.priority DESC," \
	" CASE WHEN ?7 THEN -COALESCE(c.amount, 0) ELSE COALESCE(c.amount, 0) END," \
	" p.last_used, p.account_id LIMIT 1"
#define BASE_SQLITE_TAKE "UPDATE pool SET in_use = in_use + 1, last_used = ?2 WHERE account_id = ?1"
#define BASE_SQLITE_INSERT \
	"INSERT INTO pool_reservations (id, account_id, provider, holder, holder_pid, holder_boot_id," \
	" holder_pidns, holder_start, credit_kind, cost, created_at, label)" \
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
#define BASE_SQLITE_FIND "SELECT id, account_id, credit_kind, cost FROM pool_reservations WHERE id = ?1"
#define BASE_SQLITE_DELETE "DELETE FROM pool_reservations WHERE id = ?1"
#define BASE_SQLITE_GIVE_BACK "UPDATE pool SET in_use = MAX(0, in_use - 1) WHERE account_id = ?1"

typedef struct sq {
	sqlite3 *db;
	sqlite3_stmt *begin, *commit, *pick, *take, *insert, *find, *del, *give;
} sq;

static void sq_check(sq *s, int rc, int want, const char *what)
{
	if (rc != want) {
		fprintf(stderr, "pool: baseline %s: %s\n", what, sqlite3_errmsg(s->db));
		exit(1);
	}
}

static void sq_step(sq *s, sqlite3_stmt *q, const char *what)
{
	sq_check(s, sqlite3_step(q), SQLITE_DONE, what);
	sqlite3_reset(q);
}

static void sq_prepare(sq *s, sqlite3_stmt **q, const char *sql)
{
	sq_check(s, sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, q, NULL), SQLITE_OK, sql);
}

static void sq_open(sq *s, const char *path)
{
	memset(s, 0, sizeof(*s));
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		bench_die("opening the baseline's sqlite connection");
	sqlite3_busy_timeout(s->db, 5000);
	/* As the store: WAL (already the file's) and durable commits. */
	sq_check(s, sqlite3_exec(s->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL), SQLITE_OK, "synchronous");
	sq_prepare(s, &s->begin, "BEGIN IMMEDIATE");
	sq_prepare(s, &s->commit, "COMMIT");
	sq_prepare(s, &s->pick, BASE_SQLITE_PICK);
	sq_prepare(s, &s->take, BASE_SQLITE_TAKE);
	sq_prepare(s, &s->insert, BASE_SQLITE_INSERT);
	sq_prepare(s, &s->find, BASE_SQLITE_FIND);
	sq_prepare(s, &s->del, BASE_SQLITE_DELETE);
	sq_prepare(s, &s->give, BASE_SQLITE_GIVE_BACK);
}

static void sq_close(sq *s)
{
	sqlite3_stmt **q[] = { &s->begin, &s->commit, &s->pick, &s->take, &s->insert, &s->find, &s->del, &s->give };
	size_t i;

	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++)
		sqlite3_finalize(*q[i]);
	sqlite3_close(s->db);
}

static void sq_reserve(sq *s, const char *id, int64_t now)
{
	char account[64];

	sq_step(s, s->begin, "begin");
	sqlite3_bind_text(s->pick, 1, PROVIDER, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->pick, 3, now);
	sqlite3_bind_int(s->pick, 4, SLOTS);
	sqlite3_bind_int(s->pick, 7, 0);
	sq_check(s, sqlite3_step(s->pick), SQLITE_ROW, "choosing an account");
	snprintf(account, sizeof(account), "%s", (const char *)sqlite3_column_text(s->pick, 0));
	sqlite3_reset(s->pick);
	sqlite3_bind_text(s->take, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->take, 2, now);
	sq_step(s, s->take, "taking a slot");
	sqlite3_bind_text(s->insert, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->insert, 2, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->insert, 3, PROVIDER, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->insert, 4, "bench", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->insert, 5, (int64_t)getpid());
	sqlite3_bind_text(s->insert, 6, "boot", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->insert, 7, 1);
	sqlite3_bind_int64(s->insert, 8, 1);
	sqlite3_bind_int64(s->insert, 10, 0);
	sqlite3_bind_int64(s->insert, 11, now);
	sq_step(s, s->insert, "recording the reservation");
	sq_step(s, s->commit, "commit");
}

static void sq_release(sq *s, const char *id)
{
	char account[64];

	sq_step(s, s->begin, "begin");
	sqlite3_bind_text(s->find, 1, id, -1, SQLITE_STATIC);
	sq_check(s, sqlite3_step(s->find), SQLITE_ROW, "finding the reservation");
	snprintf(account, sizeof(account), "%s", (const char *)sqlite3_column_text(s->find, 1));
	sqlite3_reset(s->find);
	sqlite3_bind_text(s->del, 1, id, -1, SQLITE_STATIC);
	sq_step(s, s->del, "removing the reservation");
	sqlite3_bind_text(s->give, 1, account, -1, SQLITE_STATIC);
	sq_step(s, s->give, "giving the slot back");
	sq_step(s, s->commit, "commit");
}

/* The statements of core/store/pg_pool.c that make and undo a reservation. */
#define PG_PICK \
	"SELECT p.account_id FROM provauth_pool p JOIN provauth_accounts a ON a.id = p.account_id" \
	" LEFT JOIN provauth_pool_credits c ON c.account_id = p.account_id AND c.kind = $5" \
	" WHERE a.provider = $1 AND ($2::text IS NULL OR p.account_id = $2)" \
	" AND a.health_state IS DISTINCT FROM 'invalid' AND p.status = 'active'" \
	" AND p.cooldown_until <= $3::bigint AND p.in_use < COALESCE(p.effective_cap, p.max_slots, $4::int)" \
	" AND ($5::text IS NULL OR $2::text IS NOT NULL OR p.credits_at = 0" \
	" OR COALESCE(c.amount, 0) >= $6::bigint)" \
	" ORDER BY p.priority DESC," \
	" CASE WHEN $7::boolean THEN -COALESCE(c.amount, 0) ELSE COALESCE(c.amount, 0) END," \
	" p.last_used, p.account_id COLLATE \"C\" LIMIT 1 FOR UPDATE OF p SKIP LOCKED"
#define PG_TAKE \
	"UPDATE provauth_pool SET in_use = in_use + 1, last_used = $2::bigint WHERE account_id = $1" \
	" AND status = 'active' AND cooldown_until <= $2::bigint" \
	" AND in_use < COALESCE(effective_cap, max_slots, $3::int) RETURNING credits_at > 0"
#define PG_INSERT \
	"INSERT INTO provauth_pool_reservations (id, account_id, provider, holder, holder_key, credit_kind, cost," \
	" created_at, label) VALUES ($1, $2, $3, $4, $5::int, $6, $7::bigint, $8::bigint, $9)"
#define PG_RELEASE_FIND \
	"DELETE FROM provauth_pool_reservations WHERE id = (SELECT id FROM provauth_pool_reservations" \
	" WHERE ($1::text IS NOT NULL AND id = $1) OR ($1::text IS NULL AND account_id = $2 AND job_id = $3)" \
	" ORDER BY id COLLATE \"C\" LIMIT 1 FOR UPDATE) RETURNING account_id, credit_kind, cost, provider"
#define PG_GIVE_BACK "UPDATE provauth_pool SET in_use = GREATEST(0, in_use - 1) WHERE account_id = $1"

static PGresult *pg_run(PGconn *c, const char *sql, int n, const char *const *v, ExecStatusType want)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);

	if (PQresultStatus(r) != want) {
		fprintf(stderr, "pool: baseline: %s\n", PQerrorMessage(c));
		exit(1);
	}
	return r;
}

static void pg_reserve(PGconn *c, const char *id, int64_t now)
{
	char nowtxt[24], slots[16], account[64];
	const char *pick[7], *take[3], *ins[9];
	PGresult *r;

	snprintf(nowtxt, sizeof(nowtxt), "%" PRId64, now);
	snprintf(slots, sizeof(slots), "%d", SLOTS);
	PQclear(pg_run(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK));
	pick[0] = PROVIDER, pick[1] = NULL, pick[2] = nowtxt, pick[3] = slots, pick[4] = NULL, pick[5] = "0";
	pick[6] = "false";
	r = pg_run(c, PG_PICK, 7, pick, PGRES_TUPLES_OK);
	if (PQntuples(r) != 1)
		bench_die("baseline: no account");
	snprintf(account, sizeof(account), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	take[0] = account, take[1] = nowtxt, take[2] = slots;
	PQclear(pg_run(c, PG_TAKE, 3, take, PGRES_TUPLES_OK));
	ins[0] = id, ins[1] = account, ins[2] = PROVIDER, ins[3] = "bench", ins[4] = "1", ins[5] = NULL, ins[6] = "0";
	ins[7] = nowtxt, ins[8] = NULL;
	PQclear(pg_run(c, PG_INSERT, 9, ins, PGRES_COMMAND_OK));
	PQclear(pg_run(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK));
}

static void pg_release(PGconn *c, const char *id)
{
	const char *find[3] = { id, NULL, NULL }, *give[1];
	char account[64];
	PGresult *r;

	PQclear(pg_run(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK));
	r = pg_run(c, PG_RELEASE_FIND, 3, find, PGRES_TUPLES_OK);
	if (PQntuples(r) != 1)
		bench_die("baseline: no reservation");
	snprintf(account, sizeof(account), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	give[0] = account;
	PQclear(pg_run(c, PG_GIVE_BACK, 1, give, PGRES_COMMAND_OK));
	PQclear(pg_run(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK));
}

static void baseline_side(const target *t, int proc, uint32_t *lat_us, uint64_t *elapsed, int go)
{
	PGconn *c = NULL;
	sq s;
	char id[48], c1;
	uint64_t t0, a;
	long i;

	if (t->kind == POSTGRES)
		c = bench_pg_connect(t->where);
	else
		sq_open(&s, t->where);
	if (read(go, &c1, 1) != 1)
		bench_die("waiting for the start");
	t0 = bench_now_ns();
	for (i = 0; i < ops; i++) {
		int64_t now = (int64_t)time(NULL);
		snprintf(id, sizeof(id), "rsv-base-%d-%ld", proc, i);
		a = bench_now_ns();
		if (c)
			pg_reserve(c, id, now);
		else
			sq_reserve(&s, id, now);
		lat_us[i] = (uint32_t)((bench_now_ns() - a) / 1000);
		if (c)
			pg_release(c, id);
		else
			sq_release(&s, id);
	}
	*elapsed = bench_now_ns() - t0;
	if (c)
		PQfinish(c);
	else
		sq_close(&s);
}

/* ---- rounds ---- */

typedef struct round_result {
	double per_s;
	double p99_us;
} round_result;

static void write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			_exit(3);
		p += w;
		n -= (size_t)w;
	}
}

static int read_all(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n) {
		ssize_t r = read(fd, p, n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* nproc processes on one side, started together; ops/s over the slowest, p99 of every acquire. */
static round_result run_round(const target *t, int baseline, int nproc)
{
	int go[2], res[MAX_PROCS][2], i, status;
	pid_t pid[MAX_PROCS];
	uint64_t elapsed, slowest = 0;
	double *lat = calloc((size_t)(nproc * ops), sizeof(*lat));
	uint32_t *mine = calloc((size_t)ops, sizeof(*mine));
	round_result rr;
	long j;

	if (!lat || !mine || pipe(go) != 0)
		bench_die("setting up a round");
	for (i = 0; i < nproc; i++) {
		if (pipe(res[i]) != 0 || (pid[i] = fork()) < 0)
			bench_die("fork");
		if (pid[i] == 0) {
			close(go[1]);
			close(res[i][0]);
			if (baseline)
				baseline_side(t, i, mine, &elapsed, go[0]);
			else
				store_side(t, mine, &elapsed, go[0]);
			write_all(res[i][1], &elapsed, sizeof(elapsed));
			write_all(res[i][1], mine, (size_t)ops * sizeof(*mine));
			_exit(0);
		}
		close(res[i][1]);
	}
	close(go[0]);
	/* Everyone connected and warm before the start: closing the pipe starts them all. */
	usleep(300000);
	for (i = 0; i < nproc; i++)
		if (write(go[1], "g", 1) != 1)
			bench_die("starting a round");
	close(go[1]);
	for (i = 0; i < nproc; i++) {
		if (read_all(res[i][0], &elapsed, sizeof(elapsed)) < 0 ||
		    read_all(res[i][0], mine, (size_t)ops * sizeof(*mine)) < 0)
			bench_die("a benchmark process failed");
		close(res[i][0]);
		if (elapsed > slowest)
			slowest = elapsed;
		for (j = 0; j < ops; j++)
			lat[(long)i * ops + j] = mine[j];
	}
	for (i = 0; i < nproc; i++)
		if (waitpid(pid[i], &status, 0) != pid[i] || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bench_die("a benchmark process failed");
	rr.per_s = (double)nproc * (double)ops / ((double)slowest / 1e9);
	rr.p99_us = bench_quantile(lat, (size_t)(nproc * ops), 0.99);
	free(lat);
	free(mine);
	return rr;
}

typedef struct figures {
	double store, base, ratio, store_p99_ms, base_p99_ms;
} figures;

static figures measure(const target *t, int nproc)
{
	double s[ROUNDS], b[ROUNDS], sp[ROUNDS], bp[ROUNDS];
	figures f;
	int r;

	for (r = 0; r < ROUNDS; r++) {
		round_result x = run_round(t, 0, nproc), y = run_round(t, 1, nproc);
		s[r] = x.per_s, sp[r] = x.p99_us / 1000.0;
		b[r] = y.per_s, bp[r] = y.p99_us / 1000.0;
		fprintf(stderr, "pool: %s %d process(es) round %d: pool %.0f/s (p99 %.2f ms), bare SQL %.0f/s "
		        "(p99 %.2f ms)\n", backend_names[t->kind], nproc, r, s[r], sp[r], b[r], bp[r]);
	}
	f.store = bench_median(s, ROUNDS);
	f.base = bench_median(b, ROUNDS);
	f.ratio = f.store / f.base;
	f.store_p99_ms = bench_median(sp, ROUNDS);
	f.base_p99_ms = bench_median(bp, ROUNDS);
	return f;
}

/* The accounts every round shares; their pool rows are made by the first acquire. */
static void populate(const target *t)
{
	provauth_store *st = open_store(t);
	provauth_pool_update u;
	char id[32];
	int i;

	for (i = 0; i < ACCOUNTS; i++) {
		provauth_account *a = NULL;
		snprintf(id, sizeof(id), "pool-bench-%02d", i);
		if (provauth_account_new(&a, id, PROVIDER) < 0 || provauth_account_set(&a->email, "pool@example.com") < 0 ||
		    provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, "bench-token", 0) < 0 ||
		    st->put(st, a) < 0)
			bench_die("creating the accounts");
		provauth_account_free(a);
		/* As after provauth_pool_sync: the plan's slots are known. */
		memset(&u, 0, sizeof(u));
		u.version = PROVAUTH_POOL_UPDATE_VERSION;
		u.account_id = id;
		u.now = (int64_t)time(NULL);
		u.set_max_slots = 1;
		u.max_slots = SLOTS;
		if (st->pool_update(st, &u) < 0)
			bench_die("setting the accounts' slots");
	}
	provauth_store_free(st);
}

static int report(const target *t, figures *one, figures *eight)
{
	int met = one->ratio >= 0.8 && eight->ratio >= 0.8;

	printf("pool backend=%s accounts=%d ops_per_process=%ld p1_per_s=%.0f p1_baseline_per_s=%.0f p1_ratio=%.2f "
	       "p8_per_s=%.0f p8_baseline_per_s=%.0f p8_ratio=%.2f p8_acquire_p99_ms=%.2f p8_baseline_p99_ms=%.2f "
	       "target=0.8 met=%s\n",
	       backend_names[t->kind], ACCOUNTS, ops, one->store, one->base, one->ratio, eight->store, eight->base,
	       eight->ratio, eight->store_p99_ms, eight->base_p99_ms, met ? "yes" : "no");
	return met;
}

int main(void)
{
	char dir[] = "/tmp/provauth-bench-pool-XXXXXX", path[96];
	const char *url;
	figures one, eight;
	target t;
	int met = 1;

	ops = bench_env_long("PA_BENCH_POOL_OPS", 300);
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		bench_die("mkdtemp");
	snprintf(path, sizeof(path), "%s/pool.db", dir);
	t.kind = SQLITE;
	t.where = path;
	populate(&t);
	one = measure(&t, 1);
	eight = measure(&t, 8);
	met &= report(&t, &one, &eight);
	if ((url = bench_pg_server("pool")) != NULL) {
		char *conninfo = bench_pg_fresh_database(url, "provauth_bench_pool");
		t.kind = POSTGRES;
		t.where = conninfo;
		populate(&t);
		one = measure(&t, 1);
		eight = measure(&t, 8);
		met &= report(&t, &one, &eight);
		free(conninfo);
	}
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		fprintf(stderr, "pool: could not remove %s\n", dir);
	return met ? 0 : 1;
}
