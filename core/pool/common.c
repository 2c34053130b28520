/* What the pool's functions share: the store, the provider and its hooks, and running a hook. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "pool/pool.h"

int pa_pool_check_store(const provauth_store *s)
{
	int set = !!s->pool_reserve + !!s->pool_attach + !!s->pool_release + !!s->pool_update + !!s->pool_list +
	          !!s->pool_reclaim;

	if (set != 0 && set != 6)
		return pa_error_set(PROVAUTH_EINVAL, "manager: store %s has %d of the 6 pool members; it needs all or none",
		                    s->name ? s->name : "(unnamed)", set);
	return 0;
}

int pa_pool_store(provauth_store **out, provauth_manager *m)
{
	provauth_store *s;

	*out = NULL;
	if (!m)
		return pa_error_set(PROVAUTH_EINVAL, "pool: no manager given");
	s = pa_manager_store(m);
	if (s->version < 5 || !s->pool_reserve)
		return pa_error_set(PROVAUTH_EUNSUPPORTED,
		                    "pool: the %s store has no account pool (it implements store contract %u; the pool "
		                    "needs version 5 with the pool members)", s->name ? s->name : "host's", s->version);
	*out = s;
	return 0;
}

int pa_pool_provider(pa_plugin **plugin, const provauth_pool_hooks **hooks, provauth_manager *m,
                     const char *provider)
{
	pa_plugin *p;

	*plugin = NULL;
	*hooks = NULL;
	if (!provider || !*provider)
		return pa_error_set(PROVAUTH_EINVAL, "pool: a provider is required");
	if (!(p = pa_manager_plugin(m, provider)))
		return pa_error_set(PROVAUTH_ENOTFOUND, "pool: provider '%s' is not loaded (see 'provauth plugins')",
		                    provider);
	*plugin = p;
	if (PROVAUTH_PROVIDER_HAS(&p->vt, pool) && p->vt.pool)
		*hooks = p->vt.pool;
	return 0;
}

/* Jobs at once of an account never synced: the operator's setting, else the provider's, else 2. */
int pa_pool_default_slots(provauth_manager *m, const provauth_pool_hooks *hooks)
{
	int64_t set = pa_manager_pool_settings(m)->default_slots;

	if (set > 0)
		return (int)set;
	if (hooks && PROVAUTH_POOL_HOOKS_HAS(hooks, default_max_concurrent) && hooks->default_max_concurrent > 0)
		return hooks->default_max_concurrent;
	return 2;
}

typedef struct hook_call {
	provauth_manager *m;
	pa_pool_hook_fn fn;
	void *payload;
	char *out;
} hook_call;

static int run_hook(const provauth_session *s, provauth_failure *f, void *payload)
{
	hook_call *call = payload;
	const provauth_pool_hooks *hooks;
	pa_plugin *p;
	int rc;

	if ((rc = pa_pool_provider(&p, &hooks, call->m, s->provider)) < 0)
		return rc;
	if (!hooks)
		return pa_error_set(PROVAUTH_EUNSUPPORTED, "pool: provider '%s' has no pool hooks", s->provider);
	free(call->out);
	call->out = NULL;
	return call->fn(p, hooks, s, &call->out, f, call->payload);
}

int pa_pool_run_hook(provauth_json **out, provauth_manager *m, const char *account_id, const char *op_name,
                     pa_pool_hook_fn fn, void *payload)
{
	hook_call call = { m, fn, payload, NULL };
	int rc;

	*out = NULL;
	if ((rc = provauth_run_with_session(m, account_id, op_name, run_hook, &call)) < 0) {
		free(call.out);
		return rc;
	}
	if (!call.out || !(*out = pa_json_parse(call.out, strlen(call.out)))) {
		free(call.out);
		return pa_error_set(PROVAUTH_EPLUGIN, "pool: %s of account %s returned no JSON (a bug in the provider's "
		                    "plugin)", op_name, account_id);
	}
	free(call.out);
	return 0;
}
