/*
 * The account pool in the sqlite store (<provauth/store.h>, "The account
 * pool (version 5)"): tables pool, pool_credits and pool_reservations
 * (schema 5, sqlite_schema.c). Every member is one transaction under the
 * store's mutex; writers take BEGIN IMMEDIATE, so reservers in other
 * processes queue on the database's write lock and each sees the slots
 * the one before it took.
 *
 * A pool row is made for an account the first time the pool needs it, and
 * goes with its account (a foreign key, ON DELETE CASCADE). Rows are always
 * read joined with accounts, so the provider and the session health are
 * the account's own.
 *
 * A reservation records its holder's process identity (holder.c) as a
 * lease does, so pool_reclaim frees at once the slots of a process that
 * died on this host before attaching a job.
 *
 * lint: allow file-length the six pool members share their statements
 * and helpers; split, each file would need the others' SQL.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/sqlite_private.h"

/* Pool rows for the accounts (of provider, or the one account) that have none yet. */
#define SQL_ENSURE_ROWS \
	"INSERT OR IGNORE INTO pool (account_id, provider) SELECT id, provider FROM accounts" \
	" WHERE (?1 IS NULL OR provider = ?1) AND (?2 IS NULL OR id = ?2)" \
	" AND id NOT IN (SELECT account_id FROM pool)"

/* Step 1 of the contract: a due probe raises the learnt cap by one, dropping it at max slots. */
#define SQL_PROBE \
	"UPDATE pool SET" \
	" effective_cap = CASE WHEN effective_cap + 1 >= COALESCE(max_slots, ?3) THEN NULL" \
	" ELSE effective_cap + 1 END," \
	" cap_probe_at = CASE WHEN effective_cap + 1 >= COALESCE(max_slots, ?3) THEN 0 ELSE ?2 + ?4 END" \
	" WHERE provider = ?1 AND effective_cap IS NOT NULL AND cap_probe_at <= ?2"

/*
 * Steps 2 and 3: ?1 provider, ?2 pinned id, ?3 now, ?4 default slots,
 * ?5 credit kind, ?6 cost, ?7 most credits first.
 */
#define SQL_CANDIDATE \
	"SELECT p.account_id FROM pool p JOIN accounts a ON a.id = p.account_id" \
	" LEFT JOIN pool_credits c ON c.account_id = p.account_id AND c.kind = ?5" \
	" WHERE a.provider = ?1 AND (?2 IS NULL OR p.account_id = ?2)" \
	" AND a.health_state IS NOT 'invalid' AND p.status = 'active' AND p.cooldown_until <= ?3" \
	" AND p.in_use < COALESCE(p.effective_cap, p.max_slots, ?4)" \
	" AND (?5 IS NULL OR ?2 IS NOT NULL OR p.credits_at = 0 OR COALESCE(c.amount, 0) >= ?6)" \
	" ORDER BY p.priority DESC," \
	" CASE WHEN ?7 THEN -COALESCE(c.amount, 0) ELSE COALESCE(c.amount, 0) END," \
	" p.last_used, p.account_id LIMIT 1"

/* Step 4: the slot, and the charge when the account's credits are known. */
#define SQL_TAKE "UPDATE pool SET in_use = in_use + 1, last_used = ?2 WHERE account_id = ?1"
#define SQL_CHARGE \
	"UPDATE pool_credits SET amount = MAX(0, amount - ?3) WHERE account_id = ?1 AND kind = ?2" \
	" AND (SELECT credits_at FROM pool WHERE account_id = ?1) > 0"
#define SQL_INSERT_RESERVATION \
	"INSERT INTO pool_reservations (id, account_id, provider, holder, holder_pid, holder_boot_id," \
	" holder_pidns, holder_start, credit_kind, cost, created_at, label)" \
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"

/*
 * A release's changes to the account, all computed from the row as it was
 * (in_use before the release): ?2 cooldown_until, ?3 its reason, ?4
 * lower_cap, ?5 cap_probe_at, ?6 status.
 */
#define SQL_RELEASE_ACCOUNT \
	"UPDATE pool SET in_use = MAX(0, in_use - 1)," \
	" cooldown_until = CASE WHEN ?2 > cooldown_until THEN ?2 ELSE cooldown_until END," \
	" cooldown_reason = CASE WHEN ?2 > cooldown_until THEN ?3 ELSE cooldown_reason END," \
	" effective_cap = CASE WHEN ?4 THEN MAX(1, in_use - 1) ELSE effective_cap END," \
	" cap_probe_at = CASE WHEN ?4 THEN ?5 ELSE cap_probe_at END," \
	" status = COALESCE(?6, status) WHERE account_id = ?1"

#define SQL_UPDATE_ACCOUNT \
	"UPDATE pool SET" \
	" max_slots = CASE WHEN ?2 THEN NULLIF(?3, 0) ELSE max_slots END," \
	" effective_cap = CASE WHEN ?2 AND ?3 > 0 AND effective_cap >= ?3 THEN NULL ELSE effective_cap END," \
	" cap_probe_at = CASE WHEN ?2 AND ?3 > 0 AND effective_cap >= ?3 THEN 0 ELSE cap_probe_at END," \
	" credits_at = CASE WHEN ?4 THEN ?5 ELSE credits_at END," \
	" status = COALESCE(?6, status)," \
	" priority = CASE WHEN ?7 THEN ?8 ELSE priority END," \
	" cooldown_until = CASE WHEN ?9 THEN 0 ELSE cooldown_until END," \
	" cooldown_reason = CASE WHEN ?9 THEN NULL ELSE cooldown_reason END" \
	" WHERE account_id = ?1"

/* Every account (never-synced ones with the defaults), ?1 provider and ?2 id as filters. */
#define SQL_LIST_ACCOUNTS \
	"SELECT a.id, a.provider, a.email, a.health_state IS NOT 'invalid', COALESCE(p.status, 'active')," \
	" COALESCE(p.priority, 0), COALESCE(p.max_slots, 0), COALESCE(p.effective_cap, 0)," \
	" COALESCE(p.in_use, 0), COALESCE(p.cap_probe_at, 0), COALESCE(p.cooldown_until, 0)," \
	" p.cooldown_reason, COALESCE(p.credits_at, 0), COALESCE(p.last_used, 0)" \
	" FROM accounts a LEFT JOIN pool p ON p.account_id = a.id" \
	" WHERE (?1 IS NULL OR a.provider = ?1) AND (?2 IS NULL OR a.id = ?2) ORDER BY a.id"
#define SQL_LIST_RESERVATIONS \
	"SELECT r.id, r.account_id, r.provider, r.credit_kind, r.cost, r.created_at, r.job_id, r.label" \
	" FROM pool_reservations r JOIN accounts a ON a.id = r.account_id" \
	" WHERE (?1 IS NULL OR a.provider = ?1) AND (?2 IS NULL OR r.account_id = ?2) ORDER BY r.id"

#define SQL_FIX_COUNTERS \
	"UPDATE pool SET in_use = (SELECT count(*) FROM pool_reservations r WHERE r.account_id = pool.account_id)" \
	" WHERE (?1 IS NULL OR provider = ?1)" \
	" AND in_use <> (SELECT count(*) FROM pool_reservations r WHERE r.account_id = pool.account_id)"

static const char *text(sqlite3_stmt *q, int i)
{
	return (const char *)sqlite3_column_text(q, i);
}

/* Runs a prepared statement that returns no rows, then finalizes it. */
static int run_done(sql_store *st, sqlite3_stmt *q, const char *doing)
{
	int rc = sqlite3_step(q);

	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		rc = pa_error_set(PROVAUTH_ECONFLICT, "%s: %s: %s", st->where, doing, sqlite3_errmsg(st->db));
	else
		rc = rc == SQLITE_DONE ? 0 : pa_sql_error(st, rc, doing);
	pa_sql_release(st, q);
	return rc;
}

#define SQL_ACCOUNT_EXISTS "SELECT 1 FROM accounts WHERE id = ?1 AND (?2 IS NULL OR provider = ?2)"

static int ensure_rows(sql_store *st, const char *provider, const char *account_id)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = pa_sql_prepare_cached(st, &q, SQL_ENSURE_ROWS)) < 0)
		return rc;
	pa_sql_bind_text(q, 1, provider);
	pa_sql_bind_text(q, 2, account_id);
	return run_done(st, q, "adding accounts to the pool");
}

/* 1 when the account exists (of provider, when given), 0 when not. */
static int account_exists(sql_store *st, const char *id, const char *provider)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = pa_sql_prepare_cached(st, &q, SQL_ACCOUNT_EXISTS)) < 0)
		return rc;
	pa_sql_bind_text(q, 1, id);
	pa_sql_bind_text(q, 2, provider);
	rc = sqlite3_step(q);
	rc = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : pa_sql_error(st, rc, "reading an account");
	pa_sql_release(st, q);
	return rc;
}

/* ---- reserve ---- */

static int probe_caps(sql_store *st, const provauth_pool_query *qy)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = pa_sql_prepare_cached(st, &q, SQL_PROBE)) < 0)
		return rc;
	pa_sql_bind_text(q, 1, qy->provider);
	sqlite3_bind_int64(q, 2, qy->now);
	sqlite3_bind_int(q, 3, qy->default_slots);
	sqlite3_bind_int64(q, 4, qy->probe_interval);
	return run_done(st, q, "probing account caps");
}

/* The best candidate's id in *id (malloc()ed), or NULL when there is none. */
static int pick(sql_store *st, char **id, const provauth_pool_query *qy)
{
	sqlite3_stmt *q = NULL;
	int rc;

	*id = NULL;
	if ((rc = pa_sql_prepare_cached(st, &q, SQL_CANDIDATE)) < 0)
		return rc;
	pa_sql_bind_text(q, 1, qy->provider);
	pa_sql_bind_text(q, 2, qy->account_id);
	sqlite3_bind_int64(q, 3, qy->now);
	sqlite3_bind_int(q, 4, qy->default_slots);
	pa_sql_bind_text(q, 5, qy->credit_kind);
	sqlite3_bind_int64(q, 6, qy->cost);
	sqlite3_bind_int(q, 7, qy->most_credits_first != 0);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		rc = (*id = pa_strdup(text(q, 0))) ? 0 : pa_error_oom();
	else
		rc = rc == SQLITE_DONE ? 0 : pa_sql_error(st, rc, "choosing an account");
	pa_sql_release(st, q);
	return rc;
}

static int take(sql_store *st, const char *id, const provauth_pool_query *qy, const pa_lease_holder *me)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = pa_sql_prepare_cached(st, &q, SQL_TAKE)) < 0)
		return rc;
	pa_sql_bind_text(q, 1, id);
	sqlite3_bind_int64(q, 2, qy->now);
	if ((rc = run_done(st, q, "reserving a slot")) < 0)
		return rc;
	if (qy->credit_kind && qy->cost > 0) {
		if ((rc = pa_sql_prepare_cached(st, &q, SQL_CHARGE)) < 0)
			return rc;
		pa_sql_bind_text(q, 1, id);
		pa_sql_bind_text(q, 2, qy->credit_kind);
		sqlite3_bind_int64(q, 3, qy->cost);
		if ((rc = run_done(st, q, "charging credits")) < 0)
			return rc;
	}
	if ((rc = pa_sql_prepare_cached(st, &q, SQL_INSERT_RESERVATION)) < 0)
		return rc;
	pa_sql_bind_text(q, 1, qy->reservation_id);
	pa_sql_bind_text(q, 2, id);
	pa_sql_bind_text(q, 3, qy->provider);
	pa_sql_bind_text(q, 4, qy->holder);
	sqlite3_bind_int64(q, 5, me->pid);
	pa_sql_bind_text(q, 6, me->boot_id[0] ? me->boot_id : NULL);
	sqlite3_bind_int64(q, 7, me->pidns);
	sqlite3_bind_int64(q, 8, me->start);
	pa_sql_bind_text(q, 9, qy->credit_kind);
	sqlite3_bind_int64(q, 10, qy->cost);
	sqlite3_bind_int64(q, 11, qy->now);
	pa_sql_bind_text(q, 12, qy->label);
	return run_done(st, q, "recording a reservation");
}

int pa_sql_pool_reserve(provauth_store *s, provauth_pool_reservation **out, const provauth_pool_query *qy)
{
	sql_store *st = (sql_store *)s;
	provauth_pool_query plain;
	pa_lease_holder me;
	char *id = NULL;
	int rc;

	if ((rc = pa_pool_check_query(st->where, out, qy)) < 0)
		return rc;
	/* An empty credit kind is none, as in every backend. */
	if (qy->credit_kind && !*qy->credit_kind) {
		plain = *qy;
		plain.credit_kind = NULL;
		qy = &plain;
	}
	pa_lease_holder_self(&me);
	pa_sql_lock(st);
	if ((rc = pa_sql_begin(st)) < 0)
		goto out;
	if (qy->account_id && (rc = account_exists(st, qy->account_id, qy->provider)) <= 0) {
		if (rc == 0)
			rc = pa_error_set(PROVAUTH_ENOTFOUND, "%s: no account %s of provider %s", st->where,
			                  qy->account_id, qy->provider);
		goto done;
	}
	if ((rc = ensure_rows(st, qy->provider, qy->account_id)) < 0 || (rc = probe_caps(st, qy)) < 0 ||
	    (rc = pick(st, &id, qy)) < 0)
		goto done;
	if (id)
		rc = take(st, id, qy, &me);
done:
	/* Without a candidate the probes still stand: they are due whoever asks next. */
	rc = pa_sql_finish(st, rc);
	if (rc == 0 && !id)
		rc = pa_error_set(PROVAUTH_ENOACCOUNT, "%s: no account of %s can take the job now", st->where,
		                  qy->provider);
out:
	rc = pa_sql_unlock(st, rc);
	/* Made once the reservation is on disk: a failed sync hands out nothing. */
	if (rc == 0)
		rc = pa_pool_reservation_new(out, qy->reservation_id, id, qy->provider, qy->credit_kind, qy->cost, qy->now,
		                             NULL, qy->label);
	free(id);
	return rc;
}

/* ---- attach and release ---- */

int pa_sql_pool_attach(provauth_store *s, const char *reservation_id, const char *job_id)
{
	sql_store *st = (sql_store *)s;
	sqlite3_stmt *q = NULL;
	int rc;

	if (!reservation_id || !*reservation_id || !job_id || !*job_id)
		return pa_error_set(PROVAUTH_EINVAL, "%s: pool attach: a reservation id and a job id are required",
		                    st->where);
	pa_sql_lock(st);
	if ((rc = pa_sql_prepare_cached(st, &q, "UPDATE pool_reservations SET job_id = ?2 WHERE id = ?1")) == 0) {
		pa_sql_bind_text(q, 1, reservation_id);
		pa_sql_bind_text(q, 2, job_id);
		if ((rc = run_done(st, q, "attaching a job")) == 0 && sqlite3_changes(st->db) == 0)
			rc = pa_error_set(PROVAUTH_ENOTFOUND, "%s: no reservation %s (released or reclaimed)", st->where,
			                  reservation_id);
	}
	return pa_sql_unlock(st, rc);
}

typedef struct found_reservation {
	char *id;
	char *account_id;
	char *credit_kind;
	int64_t cost;
} found_reservation;

static void found_clear(found_reservation *f)
{
	free(f->id);
	free(f->account_id);
	free(f->credit_kind);
}

/* The reservation a release names: 1 found, 0 none. */
static int find_reservation(sql_store *st, found_reservation *f, const provauth_pool_release_args *a)
{
	sqlite3_stmt *q = NULL;
	int rc;

	memset(f, 0, sizeof(*f));
	rc = pa_sql_prepare_cached(st, &q, "SELECT id, account_id, credit_kind, cost FROM pool_reservations"
	                            " WHERE (?1 IS NOT NULL AND id = ?1)"
	                            " OR (?1 IS NULL AND account_id = ?2 AND job_id = ?3) ORDER BY id LIMIT 1");
	if (rc < 0)
		return rc;
	pa_sql_bind_text(q, 1, a->reservation_id && *a->reservation_id ? a->reservation_id : NULL);
	pa_sql_bind_text(q, 2, a->account_id);
	pa_sql_bind_text(q, 3, a->job_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		f->cost = sqlite3_column_int64(q, 3);
		rc = (f->id = pa_strdup(text(q, 0))) && (f->account_id = pa_strdup(text(q, 1))) &&
		     (!text(q, 2) || (f->credit_kind = pa_strdup(text(q, 2)))) ? 1 : pa_error_oom();
	} else {
		rc = rc == SQLITE_DONE ? 0 : pa_sql_error(st, rc, "reading a reservation");
	}
	pa_sql_release(st, q);
	return rc;
}

static int apply_release(sql_store *st, const found_reservation *f, const provauth_pool_release_args *a)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = pa_sql_prepare_cached(st, &q, "DELETE FROM pool_reservations WHERE id = ?1")) < 0)
		return rc;
	pa_sql_bind_text(q, 1, f->id);
	if ((rc = run_done(st, q, "removing a reservation")) < 0)
		return rc;
	if ((rc = pa_sql_prepare_cached(st, &q, SQL_RELEASE_ACCOUNT)) < 0)
		return rc;
	pa_sql_bind_text(q, 1, f->account_id);
	sqlite3_bind_int64(q, 2, a->cooldown_until > 0 ? a->cooldown_until : 0);
	pa_sql_bind_text(q, 3, a->cooldown_reason);
	sqlite3_bind_int(q, 4, a->lower_cap != 0);
	sqlite3_bind_int64(q, 5, a->cap_probe_at);
	pa_sql_bind_text(q, 6, a->status);
	if ((rc = run_done(st, q, "freeing a slot")) < 0)
		return rc;
	if (!a->refund || !f->credit_kind || f->cost <= 0)
		return 0;
	if ((rc = pa_sql_prepare_cached(st, &q, "UPDATE pool_credits SET amount = amount + ?3"
	                                 " WHERE account_id = ?1 AND kind = ?2")) < 0)
		return rc;
	pa_sql_bind_text(q, 1, f->account_id);
	pa_sql_bind_text(q, 2, f->credit_kind);
	sqlite3_bind_int64(q, 3, f->cost);
	return run_done(st, q, "refunding credits");
}

int pa_sql_pool_release(provauth_store *s, const provauth_pool_release_args *a)
{
	sql_store *st = (sql_store *)s;
	found_reservation f;
	int rc;

	if ((rc = pa_pool_check_release(st->where, a)) < 0)
		return rc;
	memset(&f, 0, sizeof(f));
	pa_sql_lock(st);
	if ((rc = pa_sql_begin(st)) < 0)
		goto out;
	if ((rc = find_reservation(st, &f, a)) == 0)
		rc = a->reservation_id && *a->reservation_id
		             ? pa_error_set(PROVAUTH_ENOTFOUND, "%s: no reservation %s (released or reclaimed)",
		                            st->where, a->reservation_id)
		             : pa_error_set(PROVAUTH_ENOTFOUND, "%s: no reservation of account %s for job %s",
		                            st->where, a->account_id, a->job_id);
	else if (rc > 0)
		rc = apply_release(st, &f, a);
	rc = pa_sql_finish(st, rc);
out:
	rc = pa_sql_unlock(st, rc);
	found_clear(&f);
	return rc;
}

/* ---- update ---- */

static int replace_credits(sql_store *st, const provauth_pool_update *u)
{
	sqlite3_stmt *q = NULL;
	size_t i;
	int rc;

	if ((rc = pa_sql_prepare_cached(st, &q, "DELETE FROM pool_credits WHERE account_id = ?1")) < 0)
		return rc;
	pa_sql_bind_text(q, 1, u->account_id);
	if ((rc = run_done(st, q, "replacing credits")) < 0)
		return rc;
	for (i = 0; i < u->credit_count; i++) {
		if ((rc = pa_sql_prepare_cached(st, &q, "INSERT OR REPLACE INTO pool_credits (account_id, kind, amount)"
		                                 " VALUES (?1, ?2, ?3)")) < 0)
			return rc;
		pa_sql_bind_text(q, 1, u->account_id);
		pa_sql_bind_text(q, 2, u->credits[i].kind);
		sqlite3_bind_int64(q, 3, u->credits[i].amount);
		if ((rc = run_done(st, q, "replacing credits")) < 0)
			return rc;
	}
	return 0;
}

static int apply_update(sql_store *st, const provauth_pool_update *u)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = account_exists(st, u->account_id, NULL)) <= 0)
		return rc < 0 ? rc : pa_error_set(PROVAUTH_ENOTFOUND, "%s: no account %s", st->where, u->account_id);
	if ((rc = ensure_rows(st, NULL, u->account_id)) < 0)
		return rc;
	if ((rc = pa_sql_prepare_cached(st, &q, SQL_UPDATE_ACCOUNT)) < 0)
		return rc;
	pa_sql_bind_text(q, 1, u->account_id);
	sqlite3_bind_int(q, 2, u->set_max_slots != 0);
	sqlite3_bind_int(q, 3, u->max_slots);
	sqlite3_bind_int(q, 4, u->set_credits != 0);
	sqlite3_bind_int64(q, 5, u->now);
	pa_sql_bind_text(q, 6, u->status);
	sqlite3_bind_int(q, 7, u->set_priority != 0);
	sqlite3_bind_int(q, 8, u->priority);
	sqlite3_bind_int(q, 9, u->clear_cooldown != 0);
	if ((rc = run_done(st, q, "updating an account's pool state")) < 0)
		return rc;
	return u->set_credits ? replace_credits(st, u) : 0;
}

int pa_sql_pool_update(provauth_store *s, const provauth_pool_update *u)
{
	sql_store *st = (sql_store *)s;
	int rc;

	if ((rc = pa_pool_check_update(st->where, u)) < 0)
		return rc;
	pa_sql_lock(st);
	if ((rc = pa_sql_begin(st)) == 0)
		rc = pa_sql_finish(st, apply_update(st, u));
	return pa_sql_unlock(st, rc);
}

/* ---- list ---- */

static int read_credits(sql_store *st, sqlite3_stmt *q, provauth_pool_account *p)
{
	int rc;

	sqlite3_reset(q);
	pa_sql_bind_text(q, 1, p->account_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((rc = pa_pool_account_add_credit(p, text(q, 0), sqlite3_column_int64(q, 1))) < 0)
			return rc;
	return rc == SQLITE_DONE ? 0 : pa_sql_error(st, rc, "reading credits");
}

static int row_pool_account(sql_store *st, provauth_pool_account **out, sqlite3_stmt *q, sqlite3_stmt *credits)
{
	provauth_pool_account *p;
	int rc;

	if ((rc = pa_pool_account_new(out, text(q, 0), text(q, 1), text(q, 2), text(q, 4), text(q, 11))) < 0)
		return rc;
	p = *out;
	p->healthy = sqlite3_column_int(q, 3);
	p->priority = sqlite3_column_int(q, 5);
	p->max_slots = sqlite3_column_int(q, 6);
	p->effective_cap = sqlite3_column_int(q, 7);
	p->in_use = sqlite3_column_int(q, 8);
	p->cap_probe_at = sqlite3_column_int64(q, 9);
	p->cooldown_until = sqlite3_column_int64(q, 10);
	p->credits_at = sqlite3_column_int64(q, 12);
	p->last_used = sqlite3_column_int64(q, 13);
	return read_credits(st, credits, p);
}

static int list_accounts(sql_store *st, provauth_pool_account ***out, size_t *count, const char *provider,
                         const char *account_id)
{
	sqlite3_stmt *q = NULL, *credits = NULL;
	size_t cap = 0;
	int rc;

	if ((rc = pa_sql_prepare_cached(st, &q, SQL_LIST_ACCOUNTS)) < 0 ||
	    (rc = pa_sql_prepare_cached(st, &credits, "SELECT kind, amount FROM pool_credits WHERE account_id = ?1"
	                                       " ORDER BY kind")) < 0)
		goto out;
	pa_sql_bind_text(q, 1, provider);
	pa_sql_bind_text(q, 2, account_id);
	/* The slot is made first, so the list frees whatever an account failing half-way holds. */
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((rc = pa_pool_list_append((void ***)out, count, &cap, NULL)) < 0 ||
		    (rc = row_pool_account(st, &(*out)[*count - 1], q, credits)) < 0)
			goto out;
	rc = rc == SQLITE_DONE ? 0 : pa_sql_error(st, rc, "listing the pool");
out:
	pa_sql_release(st, q);
	pa_sql_release(st, credits);
	return rc;
}

static int list_reservations(sql_store *st, provauth_pool_reservation ***out, size_t *count, const char *provider,
                             const char *account_id)
{
	sqlite3_stmt *q = NULL;
	size_t cap = 0;
	int rc;

	if ((rc = pa_sql_prepare_cached(st, &q, SQL_LIST_RESERVATIONS)) < 0)
		return rc;
	pa_sql_bind_text(q, 1, provider);
	pa_sql_bind_text(q, 2, account_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		provauth_pool_reservation *r = NULL;

		if ((rc = pa_pool_reservation_new(&r, text(q, 0), text(q, 1), text(q, 2), text(q, 3),
		                                  sqlite3_column_int64(q, 4), sqlite3_column_int64(q, 5), text(q, 6),
		                                  text(q, 7))) < 0)
			goto out;
		if ((rc = pa_pool_list_append((void ***)out, count, &cap, r)) < 0) {
			provauth_pool_reservation_free(r);
			goto out;
		}
	}
	rc = rc == SQLITE_DONE ? 0 : pa_sql_error(st, rc, "listing reservations");
out:
	pa_sql_release(st, q);
	return rc;
}

int pa_sql_pool_list(provauth_store *s, provauth_pool_account ***out, size_t *count,
                     provauth_pool_reservation ***reservations, size_t *reservation_count, const char *provider,
                     const char *account_id)
{
	sql_store *st = (sql_store *)s;
	provauth_pool_account **accounts = NULL;
	provauth_pool_reservation **held = NULL;
	size_t n = 0, nheld = 0;
	int rc;

	if ((out && !count) || (reservations && !reservation_count))
		return pa_error_set(PROVAUTH_EINVAL, "%s: pool list: a list without its count", st->where);
	if (out)
		*out = NULL, *count = 0;
	if (reservations)
		*reservations = NULL, *reservation_count = 0;
	pa_sql_lock(st);
	/* One read transaction: the slots in use and the reservations agree. */
	if ((rc = pa_sql_exec(st, "BEGIN", "starting a transaction")) == 0) {
		if (out)
			rc = list_accounts(st, &accounts, &n, provider, account_id);
		if (rc == 0 && reservations)
			rc = list_reservations(st, &held, &nheld, provider, account_id);
		rc = pa_sql_finish(st, rc);
	}
	rc = pa_sql_unlock(st, rc);
	if (rc < 0) {
		provauth_pool_account_list_free(accounts, n);
		provauth_pool_reservation_list_free(held, nheld);
		return rc;
	}
	if (out)
		*out = accounts, *count = n;
	if (reservations)
		*reservations = held, *reservation_count = nheld;
	return 0;
}

/* ---- reclaim ---- */

/* Removes the job-less reservations whose holder process died on this host. */
static int reclaim_dead(sql_store *st, const char *provider, size_t *dead)
{
	sqlite3_stmt *q = NULL, *del = NULL;
	int rc;

	if ((rc = pa_sql_prepare_cached(st, &q, "SELECT id, holder_pid, holder_boot_id, holder_pidns, holder_start"
	                                 " FROM pool_reservations WHERE job_id IS NULL"
	                                 " AND (?1 IS NULL OR provider = ?1)")) < 0 ||
	    (rc = pa_sql_prepare_cached(st, &del, "DELETE FROM pool_reservations WHERE id = ?1")) < 0)
		goto out;
	pa_sql_bind_text(q, 1, provider);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *boot = text(q, 2);
		pa_lease_holder h;

		memset(&h, 0, sizeof(h));
		h.pid = sqlite3_column_int64(q, 1);
		snprintf(h.boot_id, sizeof(h.boot_id), "%s", boot ? boot : "");
		h.pidns = sqlite3_column_int64(q, 3);
		h.start = sqlite3_column_int64(q, 4);
		if (!pa_lease_holder_dead(&h))
			continue;
		/* Deleting rows another statement is reading is defined in SQLite: the cursor goes on. */
		sqlite3_reset(del);
		pa_sql_bind_text(del, 1, text(q, 0));
		if ((rc = sqlite3_step(del)) != SQLITE_DONE) {
			rc = pa_sql_error(st, rc, "reclaiming a reservation");
			goto out;
		}
		(*dead)++;
	}
	rc = rc == SQLITE_DONE ? 0 : pa_sql_error(st, rc, "reading reservations");
out:
	pa_sql_release(st, q);
	pa_sql_release(st, del);
	return rc;
}

static int reclaim_locked(sql_store *st, provauth_pool_reclaim_counts *c, const char *provider, int64_t now,
                          int64_t ttl)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if ((rc = reclaim_dead(st, provider, &c->dead)) < 0)
		return rc;
	if (ttl > 0) {
		if ((rc = pa_sql_prepare_cached(st, &q, "DELETE FROM pool_reservations WHERE (?1 IS NULL OR provider = ?1)"
		                                 " AND created_at <= ?2 - ?3")) < 0)
			return rc;
		pa_sql_bind_text(q, 1, provider);
		sqlite3_bind_int64(q, 2, now);
		sqlite3_bind_int64(q, 3, ttl);
		if ((rc = run_done(st, q, "reclaiming expired reservations")) < 0)
			return rc;
		c->expired = (size_t)sqlite3_changes(st->db);
	}
	if ((rc = pa_sql_prepare_cached(st, &q, SQL_FIX_COUNTERS)) < 0)
		return rc;
	pa_sql_bind_text(q, 1, provider);
	if ((rc = run_done(st, q, "repairing slot counters")) < 0)
		return rc;
	c->counters_fixed = (size_t)sqlite3_changes(st->db);
	return 0;
}

int pa_sql_pool_reclaim(provauth_store *s, provauth_pool_reclaim_counts *out, const char *provider, int64_t now,
                        int64_t ttl)
{
	sql_store *st = (sql_store *)s;
	provauth_pool_reclaim_counts c = { 0, 0, 0 };
	int rc;

	pa_sql_lock(st);
	if ((rc = pa_sql_begin(st)) == 0)
		rc = pa_sql_finish(st, reclaim_locked(st, &c, provider, now, ttl));
	rc = pa_sql_unlock(st, rc);
	if (rc == 0 && out)
		*out = c;
	return rc;
}
