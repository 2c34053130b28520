/*
 * The account pool in the postgres store (<provauth/store.h>, "The account
 * pool (version 5)"): tables provauth_pool, provauth_pool_credits and
 * provauth_pool_reservations (schema 2, pg_schema.c), shared by every host.
 *
 * Reserving is one READ COMMITTED transaction: the best candidate row is
 * locked with FOR UPDATE SKIP LOCKED, so concurrent reservers take
 * different accounts instead of queueing on one; the UPDATE that takes the
 * slot checks eligibility again. When every candidate is locked by
 * reservers still in flight, the query is asked again until one commits:
 * ENOACCOUNT means that no account could take the job, not that all were
 * busy being reserved.
 *
 * Holders: the store holds, for its whole life, a session advisory lock
 * (PA_PG_POOL_HOLDER_CLASS, a random positive int4 key) on a connection of
 * its own; reservations record that key. The server frees the lock when
 * the connection ends (the process died, its host or network went away),
 * and pool_reclaim then removes the reservations without a job whose key
 * no session holds in pg_locks.
 *
 * Releases that free a slot of a full account (or give credits back), and
 * reclaims that freed something, notify the channel PA_PG_POOL_CHANNEL
 * with the provider as payload, so waiting acquirers on every host can ask
 * again.
 *
 * lint: allow file-length the six pool members share their statements and
 * the holder lock; split, each file would need the others' SQL.
 */
#include "config.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store/pg_private.h"

#define CLASS_SQL PA_PG_POOL_HOLDER_CLASS

#define PG_ENSURE_ROWS \
	"INSERT INTO provauth_pool (account_id, provider) SELECT id, provider FROM provauth_accounts a" \
	" WHERE ($1::text IS NULL OR a.provider = $1) AND ($2::text IS NULL OR a.id = $2)" \
	" AND NOT EXISTS (SELECT 1 FROM provauth_pool p WHERE p.account_id = a.id) ON CONFLICT DO NOTHING"

/*
 * Both in one round trip, for every reservation: the pool rows of accounts
 * new to the pool ($1 provider, $2 pinned id) and the due cap probes ($3
 * now, $4 default slots, $5 probe interval). The probe cannot see the rows
 * added beside it, and needs not: a new row has no learnt cap. Rows locked
 * by another reserver are skipped: it will have probed them.
 */
#define PG_UPKEEP \
	"WITH added AS (INSERT INTO provauth_pool (account_id, provider) SELECT id, provider FROM provauth_accounts a" \
	" WHERE a.provider = $1 AND ($2::text IS NULL OR a.id = $2)" \
	" AND NOT EXISTS (SELECT 1 FROM provauth_pool p WHERE p.account_id = a.id) ON CONFLICT DO NOTHING RETURNING 1)," \
	" probed AS (UPDATE provauth_pool SET" \
	" effective_cap = CASE WHEN effective_cap + 1 >= COALESCE(max_slots, $4::int) THEN NULL" \
	" ELSE effective_cap + 1 END," \
	" cap_probe_at = CASE WHEN effective_cap + 1 >= COALESCE(max_slots, $4::int) THEN 0" \
	" ELSE $3::bigint + $5::bigint END" \
	" WHERE account_id IN (SELECT account_id FROM provauth_pool WHERE provider = $1" \
	" AND effective_cap IS NOT NULL AND cap_probe_at <= $3::bigint FOR UPDATE SKIP LOCKED) RETURNING 1)" \
	" SELECT (SELECT count(*) FROM added), (SELECT count(*) FROM probed)"

/* $1 provider, $2 pinned id, $3 now, $4 default slots, $5 kind, $6 cost, $7 most credits first. */
#define PG_CANDIDATES \
	"SELECT p.account_id FROM provauth_pool p JOIN provauth_accounts a ON a.id = p.account_id" \
	" LEFT JOIN provauth_pool_credits c ON c.account_id = p.account_id AND c.kind = $5" \
	" WHERE a.provider = $1 AND ($2::text IS NULL OR p.account_id = $2)" \
	" AND a.health_state IS DISTINCT FROM 'invalid' AND p.status = 'active'" \
	" AND p.cooldown_until <= $3::bigint AND p.in_use < COALESCE(p.effective_cap, p.max_slots, $4::int)" \
	" AND ($5::text IS NULL OR $2::text IS NOT NULL OR p.credits_at = 0" \
	" OR COALESCE(c.amount, 0) >= $6::bigint)" \
	" ORDER BY p.priority DESC," \
	" CASE WHEN $7::boolean THEN -COALESCE(c.amount, 0) ELSE COALESCE(c.amount, 0) END," \
	" p.last_used, p.account_id COLLATE \"C\" LIMIT 1"
#define PG_PICK PG_CANDIDATES " FOR UPDATE OF p SKIP LOCKED"

#define PG_TAKE \
	"UPDATE provauth_pool SET in_use = in_use + 1, last_used = $2::bigint WHERE account_id = $1" \
	" AND status = 'active' AND cooldown_until <= $2::bigint" \
	" AND in_use < COALESCE(effective_cap, max_slots, $3::int) RETURNING credits_at > 0"
#define PG_CHARGE \
	"UPDATE provauth_pool_credits SET amount = GREATEST(0, amount - $3::bigint)" \
	" WHERE account_id = $1 AND kind = $2"
#define PG_INSERT_RESERVATION \
	"INSERT INTO provauth_pool_reservations (id, account_id, provider, holder, holder_key, credit_kind, cost," \
	" created_at, label) VALUES ($1, $2, $3, $4, $5::int, $6, $7::bigint, $8::bigint, $9)"

#define PG_RELEASE_FIND \
	"DELETE FROM provauth_pool_reservations WHERE id = (SELECT id FROM provauth_pool_reservations" \
	" WHERE ($1::text IS NOT NULL AND id = $1) OR ($1::text IS NULL AND account_id = $2 AND job_id = $3)" \
	" ORDER BY id COLLATE \"C\" LIMIT 1 FOR UPDATE) RETURNING account_id, credit_kind, cost, provider"
/* All computed from the row as it was: in_use before the release. */
#define PG_RELEASE_ACCOUNT \
	"UPDATE provauth_pool SET in_use = GREATEST(0, in_use - 1)," \
	" cooldown_until = CASE WHEN $2::bigint > cooldown_until THEN $2::bigint ELSE cooldown_until END," \
	" cooldown_reason = CASE WHEN $2::bigint > cooldown_until THEN $3 ELSE cooldown_reason END," \
	" effective_cap = CASE WHEN $4::boolean THEN GREATEST(1, in_use - 1) ELSE effective_cap END," \
	" cap_probe_at = CASE WHEN $4::boolean THEN $5::bigint ELSE cap_probe_at END," \
	" status = COALESCE($6, status) WHERE account_id = $1"

/*
 * A waiter waits only when no account could take its job; a slot freed on
 * an account that had one free already cannot help it, and every
 * notification costs a commit the server's one notification queue lock
 * (under 8 reserving processes, a quarter of their rate). So the release
 * notifies only when the account was full (by its cap after the release;
 * unknown: yes), or when it gave credits back (an account too poor for a
 * waiter's job may now do). $8: a refund was made.
 */
#define PG_RELEASE_ACCOUNT_AND_NOTIFY \
	"WITH freed AS (" PG_RELEASE_ACCOUNT " RETURNING" \
	" COALESCE(in_use + 1 >= COALESCE(effective_cap, max_slots), true) AS was_full)" \
	" SELECT pg_notify('" PA_PG_POOL_CHANNEL "', $7) FROM freed WHERE was_full OR $8::boolean"

#define PG_UPDATE_ACCOUNT \
	"UPDATE provauth_pool SET" \
	" max_slots = CASE WHEN $2::boolean THEN NULLIF($3::int, 0) ELSE max_slots END," \
	" effective_cap = CASE WHEN $2::boolean AND $3::int > 0 AND effective_cap >= $3::int THEN NULL" \
	" ELSE effective_cap END," \
	" cap_probe_at = CASE WHEN $2::boolean AND $3::int > 0 AND effective_cap >= $3::int THEN 0" \
	" ELSE cap_probe_at END," \
	" credits_at = CASE WHEN $4::boolean THEN $5::bigint ELSE credits_at END," \
	" status = COALESCE($6, status)," \
	" priority = CASE WHEN $7::boolean THEN $8::int ELSE priority END," \
	" cooldown_until = CASE WHEN $9::boolean THEN 0 ELSE cooldown_until END," \
	" cooldown_reason = CASE WHEN $9::boolean THEN NULL ELSE cooldown_reason END" \
	" WHERE account_id = $1"

#define PG_LIST_FILTER " WHERE ($1::text IS NULL OR a.provider = $1) AND ($2::text IS NULL OR a.id = $2)"
#define PG_LIST_ACCOUNTS \
	"SELECT a.id, a.provider, a.email, a.health_state IS DISTINCT FROM 'invalid', COALESCE(p.status, 'active')," \
	" COALESCE(p.priority, 0), COALESCE(p.max_slots, 0), COALESCE(p.effective_cap, 0)," \
	" COALESCE(p.in_use, 0), COALESCE(p.cap_probe_at, 0), COALESCE(p.cooldown_until, 0)," \
	" p.cooldown_reason, COALESCE(p.credits_at, 0), COALESCE(p.last_used, 0)" \
	" FROM provauth_accounts a LEFT JOIN provauth_pool p ON p.account_id = a.id" PG_LIST_FILTER \
	" ORDER BY a.id COLLATE \"C\""
#define PG_LIST_CREDITS \
	"SELECT c.account_id, c.kind, c.amount FROM provauth_pool_credits c" \
	" JOIN provauth_accounts a ON a.id = c.account_id" PG_LIST_FILTER \
	" ORDER BY c.account_id COLLATE \"C\", c.kind COLLATE \"C\""
#define PG_LIST_RESERVATIONS \
	"SELECT r.id, r.account_id, r.provider, r.credit_kind, r.cost, r.created_at, r.job_id, r.label" \
	" FROM provauth_pool_reservations r JOIN provauth_accounts a ON a.id = r.account_id" \
	" WHERE ($1::text IS NULL OR a.provider = $1) AND ($2::text IS NULL OR r.account_id = $2)" \
	" ORDER BY r.id COLLATE \"C\""

/* A reservation without a job is dead when no session of this database holds its holder's lock. */
#define PG_RECLAIM_DEAD \
	"DELETE FROM provauth_pool_reservations r WHERE job_id IS NULL AND ($1::text IS NULL OR provider = $1)" \
	" AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted" \
	" AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())" \
	" AND l.classid = " CLASS_SQL "::oid AND l.objid = r.holder_key::oid AND l.objsubid = 2)" \
	" RETURNING provider"
#define PG_RECLAIM_EXPIRED \
	"DELETE FROM provauth_pool_reservations WHERE ($1::text IS NULL OR provider = $1)" \
	" AND created_at <= $2::bigint - $3::bigint RETURNING provider"
/* Locked in one order first, so two reclaims cannot deadlock. */
#define PG_LOCK_COUNTERS \
	"SELECT account_id FROM provauth_pool WHERE ($1::text IS NULL OR provider = $1)" \
	" ORDER BY account_id COLLATE \"C\" FOR UPDATE"
#define PG_FIX_COUNTERS \
	"UPDATE provauth_pool p SET in_use = (SELECT count(*) FROM provauth_pool_reservations r" \
	" WHERE r.account_id = p.account_id) WHERE ($1::text IS NULL OR p.provider = $1)" \
	" AND p.in_use <> (SELECT count(*) FROM provauth_pool_reservations r WHERE r.account_id = p.account_id)" \
	" RETURNING p.provider"

typedef char pg_num[24];

static const char *num(pg_num buf, int64_t v)
{
	snprintf(buf, sizeof(pg_num), "%" PRId64, v);
	return buf;
}

static const char *col(const PGresult *r, int row, int i)
{
	return PQgetisnull(r, row, i) ? NULL : PQgetvalue(r, row, i);
}

static int64_t col_int(const PGresult *r, int row, int i)
{
	const char *v = col(r, row, i);

	return v ? strtoll(v, NULL, 10) : 0;
}

/* Runs a statement whose result is not needed; *rows gets the rows it changed or returned when not NULL. */
static int exec_count(pg_store *st, PGconn *c, const char *sql, int n, const char *const *params, const char *doing,
                      int *rows)
{
	PGresult *r = NULL;
	int rc;

	if ((rc = pa_pg_exec(st, c, &r, sql, n, params, doing)) < 0)
		return rc;
	if (rows)
		*rows = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : (int)strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return 0;
}

static int notify_pool(pg_store *st, PGconn *c, const char *provider)
{
	const char *params[] = { provider };

	return exec_count(st, c, "SELECT pg_notify('" PA_PG_POOL_CHANNEL "', $1)", 1, params, "notifying waiters",
	                  NULL);
}

/* ---- the holder lock ---- */

/* The holder key of this store, taking its lock (again, after a lost connection) when needed. */
static int holder_key(pg_store *st, int32_t *key)
{
	int rc = 0, attempt;

	pthread_mutex_lock(&st->holder_lock);
	if (st->holder_conn && !pa_pg_idle_alive(st->holder_conn)) {
		/* The server ended the session, and with it the lock: reservations made under it are dead. */
		PQfinish(st->holder_conn);
		st->holder_conn = NULL;
		st->holder_key = 0;
	}
	if (!st->holder_conn && (rc = pa_pg_connect(st, &st->holder_conn)) < 0)
		st->holder_conn = NULL;
	for (attempt = 0; rc == 0 && !st->holder_key && attempt < 16; attempt++) {
		uint32_t r;
		pg_num k;
		const char *params[] = { NULL };
		PGresult *res = NULL;

		if ((rc = pa_random_bytes((unsigned char *)&r, sizeof(r))) < 0)
			break;
		r = r % INT32_MAX + 1;   /* positive: 1 .. INT32_MAX */
		params[0] = num(k, r);
		/* A server-wide idle_session_timeout must not end the holder while it lives. */
		if ((rc = pa_pg_exec(st, st->holder_conn, &res, "SELECT pg_try_advisory_lock(" CLASS_SQL ", $1::int),"
		                     " set_config('idle_session_timeout', '0', false)", 1, params,
		                     "taking the pool holder lock")) < 0)
			break;
		if (PQgetvalue(res, 0, 0)[0] == 't')
			st->holder_key = (int32_t)r;
		PQclear(res);
	}
	if (rc == 0 && !st->holder_key)
		rc = pa_error_set(PROVAUTH_ESTORE, "%s: no free pool holder key after 16 tries", st->where);
	if (rc < 0 && st->holder_conn) {
		PQfinish(st->holder_conn);
		st->holder_conn = NULL;
		st->holder_key = 0;
	}
	*key = st->holder_key;
	pthread_mutex_unlock(&st->holder_lock);
	return rc;
}

void pa_pg_pool_holder_close(pg_store *st)
{
	/* Closing the connection frees the holder lock: this store's job-less reservations become dead. */
	PQfinish(st->holder_conn);
	st->holder_conn = NULL;
	st->holder_key = 0;
}

/* ---- reserve ---- */

typedef struct reserve_args {
	const provauth_pool_query *q;
	int32_t holder_key;
	char *account_id;         /* the account taken */
} reserve_args;

/* The pinned account must exist and be of the provider. */
static int check_pinned(pg_store *st, PGconn *c, const provauth_pool_query *q)
{
	const char *params[] = { q->account_id, q->provider };
	int rows = 0, rc;

	if ((rc = exec_count(st, c, "SELECT 1 FROM provauth_accounts WHERE id = $1 AND provider = $2", 2, params,
	                     "reading an account", &rows)) < 0)
		return rc;
	return rows ? 0 : pa_error_set(PROVAUTH_ENOTFOUND, "%s: no account %s of provider %s", st->where,
	                               q->account_id, q->provider);
}

/* Takes the slot of a candidate locked by pick: 1 taken, 0 no longer eligible. */
static int take(pg_store *st, PGconn *c, reserve_args *a, const char *id)
{
	const provauth_pool_query *q = a->q;
	pg_num n_now, n_slots, n_cost, n_created, n_key;
	const char *p_take[] = { id, num(n_now, q->now), num(n_slots, q->default_slots) };
	const char *p_charge[] = { id, q->credit_kind, num(n_cost, q->cost) };
	const char *p_insert[] = { q->reservation_id, id, q->provider, q->holder, num(n_key, a->holder_key),
		                   q->credit_kind, n_cost, num(n_created, q->now), q->label };
	PGresult *r = NULL;
	int rc, learnt;

	if ((rc = pa_pg_exec(st, c, &r, PG_TAKE, 3, p_take, "reserving a slot")) < 0)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return 0;
	}
	learnt = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (learnt && q->credit_kind && q->cost > 0 &&
	    (rc = exec_count(st, c, PG_CHARGE, 3, p_charge, "charging credits", NULL)) < 0)
		return rc;
	if ((rc = exec_count(st, c, PG_INSERT_RESERVATION, 9, p_insert, "recording a reservation", NULL)) < 0)
		return rc;
	return 1;
}

/*
 * Picks and takes a candidate: 1 taken (a->account_id), 0 none can take
 * the job. Candidates locked by other reservers are waited for, briefly,
 * up to the statement timeout.
 */
static int pick_and_take(pg_store *st, PGconn *c, reserve_args *a)
{
	const provauth_pool_query *q = a->q;
	pg_num n_now, n_slots, n_cost;
	const char *params[] = { q->provider, q->account_id, num(n_now, q->now), num(n_slots, q->default_slots),
		                 q->credit_kind, num(n_cost, q->cost), q->most_credits_first ? "true" : "false" };
	int64_t deadline = pa_monotonic_ms() + st->statement_timeout_ms;
	struct timespec pause = { 0, 500 * 1000L };

	for (;;) {
		PGresult *r = NULL;
		int rc, rows = 0;

		if ((rc = pa_pg_exec(st, c, &r, PG_PICK, 7, params, "choosing an account")) < 0)
			return rc;
		if (PQntuples(r) == 1) {
			free(a->account_id);
			a->account_id = pa_strdup(PQgetvalue(r, 0, 0));
			PQclear(r);
			if (!a->account_id)
				return pa_error_oom();
			if ((rc = take(st, c, a, a->account_id)) != 0)
				return rc;
			continue;
		}
		PQclear(r);
		/* Nothing free to lock: is there anything at all, locked by reservers in flight? */
		if ((rc = exec_count(st, c, PG_CANDIDATES, 7, params, "choosing an account", &rows)) < 0)
			return rc;
		if (rows == 0)
			return 0;
		if (pa_monotonic_ms() >= deadline)
			return pa_error_set(PROVAUTH_ETIMEOUT, "%s: every account of %s stayed locked by other reservers "
			                    "for %d ms", st->where, q->provider, st->statement_timeout_ms);
		nanosleep(&pause, NULL);
	}
}

/*
 * The upkeep costs a round trip; run on every reservation it was a fifth of
 * a reservation's time under contention. Once a second per store and
 * provider is enough: a new account enters the pool, and a due probe
 * raises its cap, at most a second late; and a reservation that finds no
 * account runs it anyway before giving up, so nothing is refused for want
 * of it. A pinned account's row is always made (it is one row).
 */
#define PG_POOL_UPKEEP_MS 1000

static int upkeep_due(pg_store *st, const provauth_pool_query *q)
{
	int64_t now = pa_monotonic_ms();
	int due;

	if (q->account_id)
		return 1;
	pthread_mutex_lock(&st->holder_lock);
	due = strcmp(st->upkeep_provider, q->provider) != 0 || now - st->upkeep_ms >= PG_POOL_UPKEEP_MS;
	if (due) {
		snprintf(st->upkeep_provider, sizeof(st->upkeep_provider), "%s", q->provider);
		st->upkeep_ms = now;
	}
	pthread_mutex_unlock(&st->holder_lock);
	return due;
}

static int reserve_op(pg_store *st, PGconn *c, void *arg, int *committing)
{
	reserve_args *a = arg;
	const provauth_pool_query *q = a->q;
	pg_num n_now, n_slots, n_interval;
	const char *p_upkeep[] = { q->provider, q->account_id, num(n_now, q->now), num(n_slots, q->default_slots),
		                   num(n_interval, q->probe_interval) };
	int rc, taken = 0, upkept = upkeep_due(st, q);

	if ((rc = pa_pg_command(st, c, "BEGIN", "starting a transaction")) < 0)
		return rc;
	if ((q->account_id && (rc = check_pinned(st, c, q)) < 0) ||
	    (upkept &&
	     (rc = exec_count(st, c, PG_UPKEEP, 5, p_upkeep, "adding accounts to the pool and probing caps", NULL)) < 0) ||
	    (taken = rc = pick_and_take(st, c, a)) < 0)
		return rc;
	if (!taken && !upkept &&
	    ((rc = exec_count(st, c, PG_UPKEEP, 5, p_upkeep, "adding accounts to the pool and probing caps", NULL)) < 0 ||
	     (taken = rc = pick_and_take(st, c, a)) < 0))
		return rc;
	if (!taken) {
		free(a->account_id);
		a->account_id = NULL;
	}
	/* Without a candidate the probes still stand: they are due whoever asks next. */
	*committing = 1;
	return pa_pg_command(st, c, "COMMIT", "committing a reservation");
}

int pa_pg_pool_reserve(provauth_store *s, provauth_pool_reservation **out, const provauth_pool_query *q)
{
	pg_store *st = (pg_store *)s;
	provauth_pool_query plain;
	reserve_args a = { q, 0, NULL };
	int rc;

	if ((rc = pa_pool_check_query(st->where, out, q)) < 0 || (rc = holder_key(st, &a.holder_key)) < 0)
		return rc;
	/* An empty credit kind is none, as in every backend. */
	if (q->credit_kind && !*q->credit_kind) {
		plain = *q;
		plain.credit_kind = NULL;
		a.q = &plain;
	}
	if ((rc = pa_pg_run(st, reserve_op, &a)) == 0)
		rc = a.account_id ? pa_pool_reservation_new(out, q->reservation_id, a.account_id, q->provider,
		                                            a.q->credit_kind, q->cost, q->now, NULL, q->label)
		                  : pa_error_set(PROVAUTH_ENOACCOUNT, "%s: no account of %s can take the job now",
		                                 st->where, q->provider);
	free(a.account_id);
	return rc;
}

/* ---- attach and release ---- */

typedef struct attach_args {
	const char *reservation_id;
	const char *job_id;
} attach_args;

static int attach_op(pg_store *st, PGconn *c, void *arg, int *committing)
{
	attach_args *a = arg;
	const char *params[] = { a->reservation_id, a->job_id };
	int rows = 0, rc;

	*committing = 1;
	if ((rc = exec_count(st, c, "UPDATE provauth_pool_reservations SET job_id = $2 WHERE id = $1", 2, params,
	                     "attaching a job", &rows)) < 0)
		return rc;
	return rows ? 0 : pa_error_set(PROVAUTH_ENOTFOUND, "%s: no reservation %s (released or reclaimed)", st->where,
	                               a->reservation_id);
}

int pa_pg_pool_attach(provauth_store *s, const char *reservation_id, const char *job_id)
{
	pg_store *st = (pg_store *)s;
	attach_args a = { reservation_id, job_id };

	if (!reservation_id || !*reservation_id || !job_id || !*job_id)
		return pa_error_set(PROVAUTH_EINVAL, "%s: pool attach: a reservation id and a job id are required",
		                    st->where);
	return pa_pg_run(st, attach_op, &a);
}

static int release_found(pg_store *st, PGconn *c, const provauth_pool_release_args *a, const PGresult *found)
{
	const char *account = PQgetvalue(found, 0, 0), *kind = col(found, 0, 1), *provider = PQgetvalue(found, 0, 3);
	int64_t cost = col_int(found, 0, 2);
	pg_num n_until, n_probe;
	const char *p_account[] = { account, num(n_until, a->cooldown_until > 0 ? a->cooldown_until : 0),
		                    a->cooldown_reason, a->lower_cap ? "true" : "false", num(n_probe, a->cap_probe_at),
		                    a->status, provider, a->refund && kind && cost > 0 ? "true" : "false" };
	const char *p_refund[] = { account, kind, PQgetvalue(found, 0, 2) };
	int rc;

	/* The slot freed and the waiters told in one round trip: the notification goes out at COMMIT anyway. */
	if ((rc = exec_count(st, c, PG_RELEASE_ACCOUNT_AND_NOTIFY, 8, p_account, "freeing a slot", NULL)) < 0)
		return rc;
	if (a->refund && kind && cost > 0 &&
	    (rc = exec_count(st, c, "UPDATE provauth_pool_credits SET amount = amount + $3::bigint"
	                            " WHERE account_id = $1 AND kind = $2", 3, p_refund, "refunding credits", NULL)) < 0)
		return rc;
	return 0;
}

static int release_op(pg_store *st, PGconn *c, void *arg, int *committing)
{
	const provauth_pool_release_args *a = arg;
	const char *params[] = { a->reservation_id && *a->reservation_id ? a->reservation_id : NULL, a->account_id,
		                 a->job_id };
	PGresult *found = NULL;
	int rc;

	if ((rc = pa_pg_command(st, c, "BEGIN", "starting a transaction")) < 0 ||
	    (rc = pa_pg_exec(st, c, &found, PG_RELEASE_FIND, 3, params, "removing a reservation")) < 0)
		return rc;
	if (PQntuples(found) == 0)
		rc = params[0] ? pa_error_set(PROVAUTH_ENOTFOUND, "%s: no reservation %s (released or reclaimed)",
		                              st->where, params[0])
		               : pa_error_set(PROVAUTH_ENOTFOUND, "%s: no reservation of account %s for job %s",
		                              st->where, a->account_id, a->job_id);
	else
		rc = release_found(st, c, a, found);
	PQclear(found);
	if (rc < 0)
		return rc;
	*committing = 1;
	return pa_pg_command(st, c, "COMMIT", "committing a release");
}

int pa_pg_pool_release(provauth_store *s, const provauth_pool_release_args *a)
{
	pg_store *st = (pg_store *)s;
	int rc;

	if ((rc = pa_pool_check_release(st->where, a)) < 0)
		return rc;
	return pa_pg_run(st, release_op, (void *)a);
}

/* ---- update ---- */

static int replace_credits(pg_store *st, PGconn *c, const provauth_pool_update *u)
{
	const char *p_delete[] = { u->account_id };
	size_t i;
	int rc;

	if ((rc = exec_count(st, c, "DELETE FROM provauth_pool_credits WHERE account_id = $1", 1, p_delete,
	                     "replacing credits", NULL)) < 0)
		return rc;
	for (i = 0; i < u->credit_count; i++) {
		pg_num n_amount;
		const char *params[] = { u->account_id, u->credits[i].kind, num(n_amount, u->credits[i].amount) };

		if ((rc = exec_count(st, c, "INSERT INTO provauth_pool_credits (account_id, kind, amount)"
		                            " VALUES ($1, $2, $3::bigint) ON CONFLICT (account_id, kind)"
		                            " DO UPDATE SET amount = EXCLUDED.amount", 3, params, "replacing credits",
		                     NULL)) < 0)
			return rc;
	}
	return 0;
}

static int update_op(pg_store *st, PGconn *c, void *arg, int *committing)
{
	const provauth_pool_update *u = arg;
	pg_num n_slots, n_now, n_priority;
	const char *p_rows[] = { NULL, u->account_id };
	const char *params[] = { u->account_id, u->set_max_slots ? "true" : "false", num(n_slots, u->max_slots),
		                 u->set_credits ? "true" : "false", num(n_now, u->now), u->status,
		                 u->set_priority ? "true" : "false", num(n_priority, u->priority),
		                 u->clear_cooldown ? "true" : "false" };
	int rows = 0, rc;

	if ((rc = pa_pg_command(st, c, "BEGIN", "starting a transaction")) < 0 ||
	    (rc = exec_count(st, c, PG_ENSURE_ROWS, 2, p_rows, "adding an account to the pool", NULL)) < 0 ||
	    (rc = exec_count(st, c, PG_UPDATE_ACCOUNT, 9, params, "updating an account's pool state", &rows)) < 0)
		return rc;
	if (rows == 0)
		return pa_error_set(PROVAUTH_ENOTFOUND, "%s: no account %s", st->where, u->account_id);
	if (u->set_credits && (rc = replace_credits(st, c, u)) < 0)
		return rc;
	*committing = 1;
	return pa_pg_command(st, c, "COMMIT", "committing a pool update");
}

int pa_pg_pool_update(provauth_store *s, const provauth_pool_update *u)
{
	pg_store *st = (pg_store *)s;
	int rc;

	if ((rc = pa_pool_check_update(st->where, u)) < 0)
		return rc;
	return pa_pg_run(st, update_op, (void *)u);
}

/* ---- list ---- */

typedef struct list_args {
	const char *provider;
	const char *account_id;
	int want_accounts;
	int want_reservations;
	provauth_pool_account **accounts;
	size_t count;
	provauth_pool_reservation **reservations;
	size_t reservation_count;
} list_args;

static void list_reset(list_args *l)
{
	provauth_pool_account_list_free(l->accounts, l->count);
	provauth_pool_reservation_list_free(l->reservations, l->reservation_count);
	l->accounts = NULL;
	l->reservations = NULL;
	l->count = l->reservation_count = 0;
}

static int row_pool_account(provauth_pool_account **out, const PGresult *r, int row)
{
	provauth_pool_account *p;
	int rc;

	if ((rc = pa_pool_account_new(out, col(r, row, 0), col(r, row, 1), col(r, row, 2), col(r, row, 4),
	                              col(r, row, 11))) < 0)
		return rc;
	p = *out;
	p->healthy = PQgetvalue(r, row, 3)[0] == 't';
	p->priority = (int)col_int(r, row, 5);
	p->max_slots = (int)col_int(r, row, 6);
	p->effective_cap = (int)col_int(r, row, 7);
	p->in_use = (int)col_int(r, row, 8);
	p->cap_probe_at = col_int(r, row, 9);
	p->cooldown_until = col_int(r, row, 10);
	p->credits_at = col_int(r, row, 12);
	p->last_used = col_int(r, row, 13);
	return 0;
}

/* Hands the credit rows (ordered like the accounts) to their accounts. */
static int add_credits(list_args *l, const PGresult *r)
{
	int row = 0, n = PQntuples(r), rc;
	size_t i;

	for (i = 0; i < l->count; i++)
		for (; row < n && !strcmp(PQgetvalue(r, row, 0), l->accounts[i]->account_id); row++)
			if ((rc = pa_pool_account_add_credit(l->accounts[i], PQgetvalue(r, row, 1), col_int(r, row, 2))) < 0)
				return rc;
	return 0;
}

static int list_accounts(pg_store *st, PGconn *c, list_args *l, const char *const *params)
{
	PGresult *r = NULL;
	int rc, row, n;

	if ((rc = pa_pg_exec(st, c, &r, PG_LIST_ACCOUNTS, 2, params, "listing the pool")) < 0)
		return rc;
	n = PQntuples(r);
	if (n > 0 && !(l->accounts = calloc((size_t)n, sizeof(*l->accounts))))
		rc = pa_error_oom();
	for (row = 0; rc == 0 && row < n; row++) {
		rc = row_pool_account(&l->accounts[row], r, row);
		if (l->accounts[row])
			l->count++;
	}
	PQclear(r);
	if (rc < 0 || (rc = pa_pg_exec(st, c, &r, PG_LIST_CREDITS, 2, params, "listing credits")) < 0)
		return rc;
	rc = add_credits(l, r);
	PQclear(r);
	return rc;
}

static int list_reservations(pg_store *st, PGconn *c, list_args *l, const char *const *params)
{
	PGresult *r = NULL;
	int rc, row, n;

	if ((rc = pa_pg_exec(st, c, &r, PG_LIST_RESERVATIONS, 2, params, "listing reservations")) < 0)
		return rc;
	n = PQntuples(r);
	if (n > 0 && !(l->reservations = calloc((size_t)n, sizeof(*l->reservations))))
		rc = pa_error_oom();
	for (row = 0; rc == 0 && row < n; row++) {
		rc = pa_pool_reservation_new(&l->reservations[row], col(r, row, 0), col(r, row, 1), col(r, row, 2),
		                              col(r, row, 3), col_int(r, row, 4), col_int(r, row, 5), col(r, row, 6),
		                              col(r, row, 7));
		if (rc == 0)
			l->reservation_count++;
	}
	PQclear(r);
	return rc;
}

static int list_op(pg_store *st, PGconn *c, void *arg, int *committing)
{
	list_args *l = arg;
	const char *params[] = { l->provider, l->account_id };
	int rc;

	PA_UNUSED(committing);
	list_reset(l);   /* a second attempt starts over */
	/* One snapshot: the slots in use and the reservations agree. */
	if ((rc = pa_pg_command(st, c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	                        "starting a transaction")) < 0 ||
	    (l->want_accounts && (rc = list_accounts(st, c, l, params)) < 0) ||
	    (l->want_reservations && (rc = list_reservations(st, c, l, params)) < 0))
		return rc;
	return pa_pg_command(st, c, "COMMIT", "ending a read");
}

int pa_pg_pool_list(provauth_store *s, provauth_pool_account ***out, size_t *count,
                    provauth_pool_reservation ***reservations, size_t *reservation_count, const char *provider,
                    const char *account_id)
{
	pg_store *st = (pg_store *)s;
	list_args l = { provider, account_id, out != NULL, reservations != NULL, NULL, 0, NULL, 0 };
	int rc;

	if ((out && !count) || (reservations && !reservation_count))
		return pa_error_set(PROVAUTH_EINVAL, "%s: pool list: a list without its count", st->where);
	if (out)
		*out = NULL, *count = 0;
	if (reservations)
		*reservations = NULL, *reservation_count = 0;
	if ((rc = pa_pg_run(st, list_op, &l)) < 0) {
		list_reset(&l);
		return rc;
	}
	if (out)
		*out = l.accounts, *count = l.count;
	else
		provauth_pool_account_list_free(l.accounts, l.count);
	if (reservations)
		*reservations = l.reservations, *reservation_count = l.reservation_count;
	return 0;
}

/* ---- reclaim ---- */

typedef struct reclaim_args {
	const char *provider;
	int64_t now;
	int64_t ttl;
	provauth_pool_reclaim_counts counts;
} reclaim_args;

/* Runs a statement RETURNING provider: *count rows; every provider named is notified. */
static int delete_and_notify(pg_store *st, PGconn *c, const char *sql, int n, const char *const *params,
                             const char *doing, size_t *count)
{
	PGresult *r = NULL;
	int rc, row;

	if ((rc = pa_pg_exec(st, c, &r, sql, n, params, doing)) < 0)
		return rc;
	*count = (size_t)PQntuples(r);
	/* The server sends one notification per channel and payload per transaction, however often asked. */
	for (row = 0; rc == 0 && row < PQntuples(r); row++)
		rc = notify_pool(st, c, PQgetvalue(r, row, 0));
	PQclear(r);
	return rc;
}

static int reclaim_op(pg_store *st, PGconn *c, void *arg, int *committing)
{
	reclaim_args *a = arg;
	pg_num n_now, n_ttl;
	const char *params[] = { a->provider, num(n_now, a->now), num(n_ttl, a->ttl) };
	int rc;

	memset(&a->counts, 0, sizeof(a->counts));
	if ((rc = pa_pg_command(st, c, "BEGIN", "starting a transaction")) < 0 ||
	    (rc = delete_and_notify(st, c, PG_RECLAIM_DEAD, 1, params, "reclaiming dead holders' reservations",
	                            &a->counts.dead)) < 0 ||
	    (a->ttl > 0 && (rc = delete_and_notify(st, c, PG_RECLAIM_EXPIRED, 3, params,
	                                           "reclaiming expired reservations", &a->counts.expired)) < 0) ||
	    (rc = exec_count(st, c, PG_LOCK_COUNTERS, 1, params, "locking slot counters", NULL)) < 0 ||
	    (rc = delete_and_notify(st, c, PG_FIX_COUNTERS, 1, params, "repairing slot counters",
	                            &a->counts.counters_fixed)) < 0)
		return rc;
	*committing = 1;
	return pa_pg_command(st, c, "COMMIT", "committing a reclaim");
}

int pa_pg_pool_reclaim(provauth_store *s, provauth_pool_reclaim_counts *out, const char *provider, int64_t now,
                       int64_t ttl)
{
	pg_store *st = (pg_store *)s;
	reclaim_args a = { provider, now, ttl, { 0, 0, 0 } };
	int rc;

	if ((rc = pa_pg_run(st, reclaim_op, &a)) == 0 && out)
		*out = a.counts;
	return rc;
}
