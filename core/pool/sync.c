/*
 * Learning an account's credits and limits from the provider (its status
 * hook, through run_with_session so a dead session is recovered first) and
 * keeping them in the pool.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pool/pool.h"

/* Credit kinds an account may report; more is a plugin bug, not a reason to allocate without bound. */
#define PA_POOL_MAX_KINDS 16

typedef struct credits_read {
	provauth_pool_credit credits[PA_POOL_MAX_KINDS];
	size_t n;
	int bad;
} credits_read;

static int read_credit(const char *key, const provauth_json *value, void *payload)
{
	credits_read *c = payload;
	int64_t amount;

	if (c->n == PA_POOL_MAX_KINDS || !*key || strlen(key) >= PROVAUTH_CREDIT_KIND_MAX ||
	    pa_json_int(value, &amount) < 0) {
		c->bad = 1;
		return 1;
	}
	c->credits[c->n].kind = (char *)key;
	c->credits[c->n++].amount = amount < 0 ? 0 : amount;
	return 0;
}

static int status_hook(const pa_plugin *p, const provauth_pool_hooks *hooks, const provauth_session *s,
                       char **out_json, provauth_failure *f, void *payload)
{
	(void)payload;
	if (!PROVAUTH_POOL_HOOKS_HAS(hooks, status) || !hooks->status)
		return pa_error_set(PROVAUTH_EUNSUPPORTED, "pool: provider '%s' cannot report credits", s->provider);
	return hooks->status(p->state, s, out_json, f);
}

/* The account's status now, as the pool has it ("active" when it has none). */
static int current_status(provauth_store *s, const char *account_id, char *out, size_t size)
{
	provauth_pool_account **list = NULL;
	size_t n = 0;
	int rc;

	if ((rc = s->pool_list(s, &list, &n, NULL, NULL, NULL, account_id)) < 0)
		return rc;
	snprintf(out, size, "%s", n ? list[0]->status : "active");
	provauth_pool_account_list_free(list, n);
	return 0;
}

int provauth_pool_sync(provauth_manager *m, const char *account_id)
{
	const provauth_pool_hooks *hooks;
	provauth_pool_update u;
	provauth_account *account = NULL;
	provauth_json *status = NULL;
	provauth_store *s;
	credits_read credits;
	pa_plugin *p;
	char was[16];
	int64_t max = 0;
	int blocked = 0, rc;
	size_t i;

	if ((rc = pa_pool_store(&s, m)) < 0)
		return rc;
	if ((rc = provauth_account_get(&account, m, account_id)) < 0)
		return rc;
	rc = pa_pool_provider(&p, &hooks, m, account->provider);
	if (rc == 0 && !hooks)
		rc = pa_error_set(PROVAUTH_EUNSUPPORTED, "pool: provider '%s' has no pool hooks; account %s cannot be "
		                  "synced", account->provider, account_id);
	provauth_account_free(account);
	if (rc < 0 || (rc = pa_pool_run_hook(&status, m, account_id, "pool_status", status_hook, NULL)) < 0)
		return rc;
	memset(&credits, 0, sizeof(credits));
	pa_json_each_member(pa_json_get(status, "credits"), read_credit, &credits);
	if (credits.bad || (pa_json_get(status, "max_concurrent") &&
	                    pa_json_type(pa_json_get(status, "max_concurrent")) != PROVAUTH_JSON_NULL &&
	                    pa_json_int(pa_json_get(status, "max_concurrent"), &max) < 0)) {
		pa_json_free(status);
		return pa_error_set(PROVAUTH_EPLUGIN, "pool: the status of account %s is not what the pool hooks promise "
		                    "(a bug in the provider's plugin)", account_id);
	}
	pa_json_bool(pa_json_get(status, "blocked"), &blocked);
	memset(&u, 0, sizeof(u));
	u.version = PROVAUTH_POOL_UPDATE_VERSION;
	u.account_id = account_id;
	u.now = pa_manager_now(m);
	u.set_credits = 1;
	u.credits = credits.credits;
	u.credit_count = credits.n;
	if (max > 0) {
		u.set_max_slots = 1;
		u.max_slots = max > 1000 ? 1000 : (int)max;
	}
	if ((rc = current_status(s, account_id, was, sizeof(was))) < 0) {
		pa_json_free(status);
		return rc;
	}
	if (blocked) {
		u.status = "banned";
	} else if (strcmp(was, "exhausted") == 0) {
		/* Exhausted until credits are found again: any kind with credits lifts it. */
		for (i = 0; i < credits.n; i++)
			if (credits.credits[i].amount > 0)
				u.status = "active";
	}
	rc = s->pool_update(s, &u);
	pa_json_free(status);
	if (rc < 0)
		return rc;
	pa_pool_waker_signal(pa_manager_pool_waker(m));
	{
		const provauth_log_field f[] = {
			PA_F_STR("account_id", account_id),
			PA_F_INT("max_concurrent", max),
			PA_F_INT("kinds", credits.n),
			PA_F_STR("status", u.status ? u.status : was),
		};
		pa_log(pa_manager_logger(m), PROVAUTH_LOG_INFO, "pool_synced", f, PA_ARRAY_LEN(f));
	}
	return 0;
}
