/*
 * The account API through the manager's store: get, list, put, put_many,
 * remove and the sign-in method. Every change drops the account's cached
 * session, so the next call builds one from what is stored now.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "manager.h"

int provauth_account_get(provauth_account **out, provauth_manager *m, const char *id)
{
	provauth_store *st = m ? pa_manager_store(m) : NULL;
	int rc;

	if (!out || !m || !id)
		return pa_error_set(PROVAUTH_EINVAL, "account_get: output, manager and id are required");
	rc = st->get(st, out, id);
	if (rc == PROVAUTH_ENOTFOUND)
		return pa_error_set(rc, "account %s: not found in the %s store", id, st->name);
	return rc;
}

int provauth_account_list(provauth_account ***out, size_t *count, provauth_manager *m, const char *provider)
{
	provauth_store *st = m ? pa_manager_store(m) : NULL;

	if (!out || !count || !m)
		return pa_error_set(PROVAUTH_EINVAL, "account_list: outputs and manager are required");
	return st->list(st, out, count, provider);
}

int provauth_account_list_checked(provauth_account ***out, size_t *count, char ***damaged, size_t *damaged_count,
                                  provauth_manager *m, const char *provider)
{
	provauth_store *st = m ? pa_manager_store(m) : NULL;

	if (!out || !count || !damaged || !damaged_count || !m)
		return pa_error_set(PROVAUTH_EINVAL, "account_list_checked: outputs and manager are required");
	*damaged = NULL;
	*damaged_count = 0;
	if (st->version >= 3 && st->list_checked)
		return st->list_checked(st, out, count, damaged, damaged_count, provider);
	return st->list(st, out, count, provider);
}

int provauth_account_put(provauth_manager *m, provauth_account *account)
{
	provauth_store *st = m ? pa_manager_store(m) : NULL;
	int rc;

	if (!m || !account || !account->id || !account->provider)
		return pa_error_set(PROVAUTH_EINVAL, "account_put: manager and an account with id and provider are required");
	rc = st->put(st, account);
	if (rc == PROVAUTH_ECONFLICT)
		return pa_error_set(rc, "account %s: changed in the store since it was read (revision %llu); read it again",
		                    account->id, (unsigned long long)account->revision);
	if (rc == 0)
		pa_manager_forget_session(m, account->id);
	return rc;
}

int provauth_account_put_many(provauth_manager *m, provauth_account *const *accounts, size_t n)
{
	provauth_store *st = m ? pa_manager_store(m) : NULL;
	size_t i;
	int rc;

	if (!m || (n && !accounts))
		return pa_error_set(PROVAUTH_EINVAL, "account_put_many: manager and %zu accounts are required", n);
	for (i = 0; i < n; i++)
		if (!accounts[i] || !accounts[i]->id || !accounts[i]->provider)
			return pa_error_set(PROVAUTH_EINVAL,
			                    "account_put_many: entry %zu of %zu is not an account with id and provider", i, n);
	if (n == 0)
		return 0;
	/* A version 1 store's struct may end before put_many: the version is read first. */
	if (st->version < 2 || !st->put_many) {
		if (n > 1)
			return pa_error_set(PROVAUTH_EUNSUPPORTED,
			                    "account_put_many: the %s store (store version %u) cannot write %zu accounts in "
			                    "one transaction; nothing was written (put them one by one if a partial "
			                    "write is acceptable)", st->name, st->version, n);
		rc = st->put(st, accounts[0]);
	} else {
		rc = st->put_many(st, accounts, n);
	}
	if (rc < 0)
		return pa_error_prefix(rc, "account_put_many: %zu account%s, none written", n, n == 1 ? "" : "s");
	for (i = 0; i < n; i++)
		pa_manager_forget_session(m, accounts[i]->id);
	return 0;
}

int provauth_account_remove(provauth_manager *m, const char *id)
{
	provauth_store *st = m ? pa_manager_store(m) : NULL;
	int rc;

	if (!m || !id)
		return pa_error_set(PROVAUTH_EINVAL, "account_remove: manager and id are required");
	rc = st->remove(st, id, 0);
	if (rc == PROVAUTH_ENOTFOUND)
		return pa_error_set(rc, "account %s: not found in the %s store", id, st->name);
	pa_manager_forget_session(m, id);
	return rc;
}

/*
 * Spec 5.3: marking an account google only makes sense where the service
 * has a Google sign-in (and password only where it has password logins).
 * A provider that declares its sign-ins (ABI 1.4) is taken at its word;
 * one that does not, and an account whose provider is not loaded, are
 * accepted as before.
 */
static int auth_method_offered(provauth_manager *m, const provauth_account *a, provauth_auth_method method)
{
	const pa_plugin *p = pa_manager_plugin(m, a->provider);
	unsigned int need = method == PROVAUTH_AUTH_GOOGLE ? PROVAUTH_SIGNIN_GOOGLE
	                    : method == PROVAUTH_AUTH_PASSWORD ? PROVAUTH_SIGNIN_PASSWORD : 0;

	if (!p || !need || !p->vt.sign_ins || (p->vt.sign_ins & need))
		return 0;
	return pa_error_set(PROVAUTH_EUNSUPPORTED,
	                    "account %s: provider %s has no %s sign-in, so the account cannot be marked as signing in "
	                    "that way; nothing was changed",
	                    a->id, a->provider, method == PROVAUTH_AUTH_GOOGLE ? "Google" : "password");
}

typedef struct pa_auth_method_change {
	provauth_manager *m;
	provauth_auth_method method;
} pa_auth_method_change;

static int change_auth_method(provauth_account *a, void *payload)
{
	const pa_auth_method_change *x = payload;
	int rc;

	if ((rc = auth_method_offered(x->m, a, x->method)) < 0)
		return rc;
	a->state.auth_method = x->method == PROVAUTH_AUTH_PASSWORD || x->method == PROVAUTH_AUTH_GOOGLE
	                       ? x->method : PROVAUTH_AUTH_UNKNOWN;
	return 0;
}

int provauth_account_set_auth_method(provauth_manager *m, const char *id, provauth_auth_method method)
{
	pa_auth_method_change x = { m, method };
	pa_account_rmw_op op = { 0 };
	int rc;

	if (!m || !id)
		return pa_error_set(PROVAUTH_EINVAL, "set_auth_method: manager and id are required");
	op.store = pa_manager_store(m);
	op.id = id;
	op.change = change_auth_method;
	op.payload = &x;
	rc = pa_account_rmw(&op);
	if (rc == PROVAUTH_ENOTFOUND && op.stage == PA_RMW_READ)
		return pa_error_set(rc, "account %s: not found in the %s store", id, op.store->name);
	if (rc == 0)
		pa_manager_forget_session(m, id);
	return rc;
}
