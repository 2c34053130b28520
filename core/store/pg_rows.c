/*
 * The postgres store's rows: get, list, put, put_many, put_verbatim and
 * remove. Secrets are sealed as in the sqlite store (account_seal.c), so a
 * database administrator sees none; the core's state and the metadata are
 * plain columns. Every write notifies PA_PG_CHANNEL with the account's id
 * in its own transaction, so waiters hear of it when it commits.
 *
 * A write of one account is one statement (autocommit: durable when it
 * returns, one round trip); a batch is one transaction. An operation that
 * meets a connection the server dropped while it sat in the pool (a
 * restarted server) runs once more on a new one, unless it may already
 * have committed.
 */
#include "config.h"
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store/pg_private.h"

/* ---- running an operation on a pool connection ---- */

/*
 * Runs op on a pool connection. *committing is set by op once the server
 * may have committed; until then a lost connection that came from the pool
 * (it died while idle) is replaced and op runs again, once.
 */
int pa_pg_run(pg_store *st, pa_pg_op op, void *arg)
{
	int attempt, rc = 0;

	for (attempt = 0; attempt < 2; attempt++) {
		PGconn *c = NULL;
		int reused = 0, committing = 0, broken;

		if ((rc = pa_pg_pool_get(st, &c, &reused)) < 0)
			return rc;
		rc = op(st, c, arg, &committing);
		broken = pa_pg_broken(c);
		if (rc < 0 && !broken && PQtransactionStatus(c) != PQTRANS_IDLE) {
			PGresult *r = PQexec(c, "ROLLBACK");
			PQclear(r);
		}
		pa_pg_pool_put(st, c);
		if (rc >= 0 || !broken || !reused || committing)
			break;
	}
	return rc;
}

/* ---- rows to accounts ---- */

static const char *col(const PGresult *r, int row, int i)
{
	return PQgetisnull(r, row, i) ? NULL : PQgetvalue(r, row, i);
}

/* A bigint column of a binary-format row: 8 bytes, network order. NULL is 0. */
static int64_t col_int(const PGresult *r, int row, int i)
{
	const unsigned char *v = (const unsigned char *)col(r, row, i);
	uint64_t x = 0;
	int k;

	if (!v || PQgetlength(r, row, i) != 8)
		return 0;
	for (k = 0; k < 8; k++)
		x = x << 8 | v[k];
	return (int64_t)x;
}

/* Builds the account of row `row` (PA_PG_ACCOUNT_COLUMNS, binary format), its secrets opened. */
static int row_account(pg_store *st, provauth_account **out, const PGresult *r, int row)
{
	provauth_account_state *s;
	provauth_account *a = NULL;
	const char *metadata = col(r, row, 3), *secrets = col(r, row, 7);
	int rc;

	*out = NULL;
	if ((rc = provauth_account_new(&a, col(r, row, 0), col(r, row, 1))) < 0)
		return rc;
	if ((rc = pa_set_string(&a->email, col(r, row, 2))) < 0 ||
	    (rc = pa_set_string(&a->metadata, metadata ? metadata : "{}")) < 0)
		goto fail;
	a->revision = (uint64_t)col_int(r, row, 4);
	a->updated_at = col_int(r, row, 5);
	if (!secrets) {
		rc = pa_error_set(PROVAUTH_ESTORE, "%s: account %s: its sealed record is missing", st->where, a->id);
		goto fail;
	}
	if ((rc = pa_account_unseal(a, st->key.bytes, (const unsigned char *)secrets, (size_t)PQgetlength(r, row, 7),
	                            st->where)) < 0)
		goto fail;
	s = &a->state;
	s->auth_method = provauth_auth_method_parse(col(r, row, 8));
	if (pa_health_set(&s->health, col(r, row, 9), col(r, row, 10), col(r, row, 11), col_int(r, row, 12),
	                  col(r, row, 13)) < 0 ||
	    pa_set_string(&s->refresh_refused, col(r, row, 15)) < 0) {
		rc = pa_error_oom();
		goto fail;
	}
	s->last_reauth_at = col_int(r, row, 14);
	s->refresh_refused_at = col_int(r, row, 16);
	*out = a;
	return 0;
fail:
	provauth_account_free(a);
	return rc;
}

/* ---- get and find_email: one account ---- */

typedef struct one_args {
	const char *sql, *doing;
	const char *params[2];
	int nparams;
	int by_email;             /* ENOTFOUND names the provider (params[0]), else the id */
	provauth_account **out;
} one_args;

/* The account in the first row `sql` answers, or PROVAUTH_ENOTFOUND naming params[0]. */
static int one_op(pg_store *st, PGconn *c, void *arg, int *committing)
{
	one_args *o = arg;
	PGresult *r = NULL;
	int rc;

	PA_UNUSED(committing);
	if ((rc = pa_pg_query_binary(st, c, &r, o->sql, o->nparams, o->params, o->doing)) < 0)
		return rc;
	if (PQntuples(r) > 0)
		rc = row_account(st, o->out, r, 0);
	else if (o->by_email)
		rc = pa_error_set(PROVAUTH_ENOTFOUND, "%s: no %s account with that email", st->where, o->params[0]);
	else
		rc = pa_error_set(PROVAUTH_ENOTFOUND, "%s: no account %s", st->where, o->params[0]);
	PQclear(r);
	return rc;
}

int pa_pg_get(provauth_store *s, provauth_account **out, const char *id)
{
	pg_store *st = (pg_store *)s;
	one_args o = { "SELECT " PA_PG_ACCOUNT_COLUMNS " FROM provauth_accounts WHERE id = $1", "reading an account",
	               { id, NULL }, 1, 0, out };
	int rc;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "%s: get needs somewhere to put the account", st->where);
	*out = NULL;
	if ((rc = pa_store_check_id(st->where, id)) < 0)
		return rc;
	return pa_pg_run(st, one_op, &o);
}

int pa_pg_find_email(provauth_store *s, provauth_account **out, const char *provider, const char *email)
{
	pg_store *st = (pg_store *)s;
	/* lower() under "C" folds ASCII only, as strcasecmp does; ids in byte order, as list gives them. */
	one_args o = { "SELECT " PA_PG_ACCOUNT_COLUMNS " FROM provauth_accounts WHERE provider = $1"
	               " AND lower(email COLLATE \"C\") = lower($2::text COLLATE \"C\")"
	               " ORDER BY id COLLATE \"C\" LIMIT 1",
	               "finding an account by email", { provider, email }, 2, 1, out };

	if (!out || !provider || !email)
		return pa_error_set(PROVAUTH_EINVAL, "%s: find_email needs an out, a provider and an email", st->where);
	*out = NULL;
	return pa_pg_run(st, one_op, &o);
}

/* ---- list ---- */

typedef struct list_args {
	const char *provider;
	provauth_account **list;
	size_t n;
	char ***damaged;          /* NULL: a damaged record fails the listing */
	size_t *ndamaged;
} list_args;

static void list_reset(list_args *l)
{
	provauth_account_list_free(l->list, l->n);
	l->list = NULL;
	l->n = 0;
	if (l->damaged) {
		provauth_damaged_list_free(*l->damaged, *l->ndamaged);
		*l->damaged = NULL;
		*l->ndamaged = 0;
	}
}

static int list_op(pg_store *st, PGconn *c, void *arg, int *committing)
{
	list_args *l = arg;
	const char *params[] = { l->provider };
	PGresult *r = NULL;
	int rc, i, rows;

	PA_UNUSED(committing);
	/* Byte order, as the other backends list: the database's collation may sort otherwise. */
	rc = pa_pg_query_binary(st, c, &r,
	                        l->provider ? "SELECT " PA_PG_ACCOUNT_COLUMNS " FROM provauth_accounts WHERE provider = $1"
	                                      " ORDER BY id COLLATE \"C\""
	                                    : "SELECT " PA_PG_ACCOUNT_COLUMNS " FROM provauth_accounts"
	                                      " ORDER BY id COLLATE \"C\"",
	                        l->provider ? 1 : 0, params, "listing accounts");
	if (rc < 0)
		return rc;
	rows = PQntuples(r);
	/* One more slot than needed: an empty list is still an array, told apart from a failure. */
	if (!(l->list = calloc((size_t)rows + 1, sizeof(*l->list)))) {
		rc = pa_error_oom();
		goto out;
	}
	for (i = 0; i < rows; i++) {
		if ((rc = row_account(st, &l->list[l->n], r, i)) == 0) {
			l->n++;
			continue;
		}
		if (!l->damaged || (rc != PROVAUTH_ECRYPTO && rc != PROVAUTH_ESTORE))
			goto out;
		if ((rc = pa_store_add_damaged(l->damaged, l->ndamaged, col(r, i, 0))) < 0)
			goto out;
	}
	rc = 0;
out:
	PQclear(r);
	if (rc < 0)
		list_reset(l);
	return rc;
}

int pa_pg_list(provauth_store *s, provauth_account ***out, size_t *count, const char *provider)
{
	pg_store *st = (pg_store *)s;
	list_args l = { provider, NULL, 0, NULL, NULL };
	int rc;

	if ((rc = pa_store_check_list(st->where, out, count)) < 0 || (rc = pa_pg_run(st, list_op, &l)) < 0)
		return rc;
	*out = l.list;
	*count = l.n;
	return 0;
}

int pa_pg_list_checked(provauth_store *s, provauth_account ***out, size_t *count, char ***damaged,
                       size_t *damaged_count, const char *provider)
{
	pg_store *st = (pg_store *)s;
	list_args l = { provider, NULL, 0, damaged, damaged_count };
	int rc;

	if ((rc = pa_store_check_list(st->where, out, count)) < 0)
		return rc;
	if (!damaged || !damaged_count)
		return pa_error_set(PROVAUTH_EINVAL, "%s: list_checked needs somewhere to put damaged ids", st->where);
	*damaged = NULL;
	*damaged_count = 0;
	if ((rc = pa_pg_run(st, list_op, &l)) < 0)
		return rc;
	*out = l.list;
	*count = l.n;
	return 0;
}

/* ---- writes ---- */

#define PG_INSERT \
	"WITH w AS (INSERT INTO provauth_accounts (" PA_PG_ACCOUNT_COLUMNS ")" \
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)" \
	" ON CONFLICT (id) DO NOTHING RETURNING id)" \
	" SELECT pg_notify('" PA_PG_CHANNEL "', id) FROM w"
#define PG_UPDATE \
	"WITH w AS (UPDATE provauth_accounts SET provider = $2, email = $3, metadata = $4, revision = $5," \
	" updated_at = $6, access_expires_at = $7, secrets = $8, auth_method = $9, health_state = $10," \
	" health_reason = $11, health_code = $12, health_at = $13, health_message = $14, last_reauth_at = $15," \
	" refresh_refused = $16, refresh_refused_at = $17 WHERE id = $1 AND revision = $18 RETURNING id)" \
	" SELECT pg_notify('" PA_PG_CHANNEL "', id) FROM w"
#define PG_ROW_PARAMS 18

/* Text for a bigint parameter; 0 is NULL where the column means "none". */
typedef char pg_num[24];

static const char *num(pg_num buf, int64_t v, int zero_is_null)
{
	if (!v && zero_is_null)
		return NULL;
	snprintf(buf, sizeof(pg_num), "%" PRId64, v);
	return buf;
}

/*
 * One account's row, written at `revision` with `updated_at`: inserted when
 * expected is 0, else updated when the stored revision is expected.
 */
static int write_row(pg_store *st, PGconn *c, const provauth_account *a, uint64_t expected, uint64_t revision,
                     int64_t updated_at)
{
	const provauth_account_state *s = &a->state;
	const char *params[PG_ROW_PARAMS];
	int lengths[PG_ROW_PARAMS] = { 0 }, formats[PG_ROW_PARAMS] = { 0 };
	pg_num n_rev, n_at, n_exp, n_hat, n_reauth, n_refused, n_expected;
	unsigned char *blob = NULL;
	size_t blob_len = 0;
	char doing[160];
	PGresult *r;
	int rc;

	if ((rc = pa_account_seal(&blob, &blob_len, st->key.bytes, a, revision, st->where)) < 0)
		return rc;
	if (blob_len > INT_MAX) {
		rc = pa_error_set(PROVAUTH_EINVAL, "%s: account %s: its sealed record is too large", st->where, a->id);
		goto out;
	}
	params[0] = a->id;
	params[1] = a->provider;
	params[2] = a->email;
	params[3] = pa_account_metadata(a);
	params[4] = num(n_rev, (int64_t)revision, 0);
	params[5] = num(n_at, updated_at, 0);
	/* Not secret, and what refresh-ahead looks at: the access token's expiry has a column of its own. */
	params[6] = num(n_exp, provauth_account_credential_expires(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL), 1);
	params[7] = (const char *)blob;
	lengths[7] = (int)blob_len;
	formats[7] = 1;
	params[8] = s->auth_method == PROVAUTH_AUTH_UNKNOWN ? NULL : provauth_auth_method_name(s->auth_method);
	params[9] = s->health.state;
	params[10] = s->health.reason;
	params[11] = s->health.code;
	params[12] = num(n_hat, s->health.at, 1);
	params[13] = s->health.message;
	params[14] = num(n_reauth, s->last_reauth_at, 1);
	params[15] = s->refresh_refused;
	params[16] = num(n_refused, s->refresh_refused_at, 1);
	params[17] = num(n_expected, (int64_t)expected, 0);
	snprintf(doing, sizeof(doing), "writing account %s", a->id);
	r = PQexecParams(c, expected ? PG_UPDATE : PG_INSERT, expected ? 18 : 17, NULL, params, lengths, formats, 0);
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = pa_pg_fail(st, c, r, doing);
	} else if (PQntuples(r) == 1) {
		rc = 0;
	} else if (!expected) {
		rc = pa_error_set(PROVAUTH_ECONFLICT, "%s: account %s already exists", st->where, a->id);
	} else {
		/* No row matched: tell a missing account from a changed one. */
		PGresult *q = NULL;
		const char *id[] = { a->id };

		if ((rc = pa_pg_exec(st, c, &q, "SELECT revision FROM provauth_accounts WHERE id = $1", 1, id,
		                     "reading an account")) == 0)
			rc = PQntuples(q) == 0
			             ? pa_error_set(PROVAUTH_ENOTFOUND, "%s: no account %s", st->where, a->id)
			             : pa_error_set(PROVAUTH_ECONFLICT,
			                            "%s: account %s changed since it was read (revision %llu, stored %s)",
			                            st->where, a->id, (unsigned long long)expected, PQgetvalue(q, 0, 0));
		PQclear(q);
	}
	PQclear(r);
out:
	pa_wipe(blob, blob_len);
	free(blob);
	return rc;
}

static int check_revision(pg_store *st, const provauth_account *a)
{
	if (a->revision > (uint64_t)INT64_MAX - 1)
		return pa_error_set(PROVAUTH_EINVAL, "%s: account %s: revision out of range", st->where, a->id);
	return 0;
}

typedef struct put_args {
	provauth_account *const *accounts;
	size_t n;
	int verbatim;             /* keep each account's revision and updated_at; ids must be new */
	int64_t now;
} put_args;

static int put_op(pg_store *st, PGconn *c, void *arg, int *committing)
{
	put_args *p = arg;
	size_t i;
	int rc = 0;

	if (p->n == 1 && !p->verbatim) {
		const provauth_account *a = p->accounts[0];

		/* One statement in autocommit: from the moment it is sent it may commit. */
		*committing = 1;
		return write_row(st, c, a, a->revision, a->revision + 1, p->now);
	}
	if ((rc = pa_pg_command(st, c, "BEGIN", "starting a transaction")) < 0)
		return rc;
	for (i = 0; i < p->n && rc == 0; i++) {
		const provauth_account *a = p->accounts[i];

		rc = p->verbatim ? write_row(st, c, a, 0, a->revision, a->updated_at)
		                 : write_row(st, c, a, a->revision, a->revision + 1, p->now);
	}
	if (rc < 0)
		return rc;   /* pa_pg_run() rolls back */
	*committing = 1;
	return pa_pg_command(st, c, "COMMIT", "committing");
}

int pa_pg_put(provauth_store *s, provauth_account *account)
{
	pg_store *st = (pg_store *)s;
	put_args p = { &account, 1, 0, (int64_t)time(NULL) };
	int rc;

	if ((rc = pa_store_check_account(st->where, account)) < 0 || (rc = check_revision(st, account)) < 0 ||
	    (rc = pa_pg_run(st, put_op, &p)) < 0)
		return rc;
	account->revision++;
	account->updated_at = p.now;
	return 0;
}

int pa_pg_put_many(provauth_store *s, provauth_account *const *accounts, size_t n)
{
	pg_store *st = (pg_store *)s;
	put_args p = { accounts, n, 0, (int64_t)time(NULL) };
	size_t i;
	int rc;

	if ((rc = pa_store_check_batch(st->where, accounts, n)) < 0 || n == 0)
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = check_revision(st, accounts[i])) < 0)
			return rc;
	/* A batch of one is a transaction of its own all the same: put_op's single statement. */
	if ((rc = pa_pg_run(st, put_op, &p)) < 0)
		return rc;
	for (i = 0; i < n; i++) {
		accounts[i]->revision++;
		accounts[i]->updated_at = p.now;
	}
	return 0;
}

int pa_pg_put_verbatim(provauth_store *s, provauth_account *const *accounts, size_t n)
{
	pg_store *st = (pg_store *)s;
	put_args p = { accounts, n, 1, 0 };
	size_t i;
	int rc;

	if ((rc = pa_store_check_verbatim(st->where, accounts, n)) < 0 || n == 0)
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = check_revision(st, accounts[i])) < 0)
			return rc;
	return pa_pg_run(st, put_op, &p);
}

/* ---- remove ---- */

typedef struct remove_args {
	const char *id;
	uint64_t expected;
} remove_args;

static int remove_op(pg_store *st, PGconn *c, void *arg, int *committing)
{
	remove_args *d = arg;
	pg_num n_expected;
	const char *params[] = { d->id, num(n_expected, (int64_t)d->expected, 0) };
	PGresult *r = NULL;
	int rc;

	*committing = 1;
	if ((rc = pa_pg_exec(st, c, &r,
	                     "WITH w AS (DELETE FROM provauth_accounts WHERE id = $1 AND ($2::bigint = 0 OR"
	                     " revision = $2::bigint) RETURNING id) SELECT pg_notify('" PA_PG_CHANNEL "', id) FROM w",
	                     2, params, "removing an account")) < 0)
		return rc;
	rc = PQntuples(r) == 1 ? 0 : 1;
	PQclear(r);
	if (rc == 0)
		return 0;
	if ((rc = pa_pg_exec(st, c, &r, "SELECT revision FROM provauth_accounts WHERE id = $1", 1, params,
	                     "reading an account")) < 0)
		return rc;
	rc = PQntuples(r) == 0 ? pa_error_set(PROVAUTH_ENOTFOUND, "%s: no account %s", st->where, d->id)
	                       : pa_error_set(PROVAUTH_ECONFLICT,
	                                      "%s: account %s changed since it was read (revision %llu, stored %s)",
	                                      st->where, d->id, (unsigned long long)d->expected, PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

int pa_pg_remove(provauth_store *s, const char *id, uint64_t expected_revision)
{
	pg_store *st = (pg_store *)s;
	remove_args d = { id, expected_revision };
	int rc;

	if ((rc = pa_store_check_id(st->where, id)) < 0)
		return rc;
	return pa_pg_run(st, remove_op, &d);
}
