/* The pool as it stands, for listings and status pages: the store's rows with the manager's defaults shown. */
#include "config.h"
#include "pool/pool.h"

int provauth_pool_list(provauth_pool_account ***out, size_t *count, provauth_pool_reservation ***reservations,
                       size_t *reservation_count, provauth_manager *m, const char *provider)
{
	provauth_store *s;
	size_t i;
	int rc;

	if (out)
		*out = NULL;
	if (count)
		*count = 0;
	if (reservations)
		*reservations = NULL;
	if (reservation_count)
		*reservation_count = 0;
	if (!out || !count || (reservations && !reservation_count))
		return pa_error_set(PROVAUTH_EINVAL, "pool: list needs somewhere to put the accounts and their count");
	if ((rc = pa_pool_store(&s, m)) < 0 ||
	    (rc = s->pool_list(s, out, count, reservations, reservation_count, provider, NULL)) < 0)
		return rc;
	for (i = 0; i < *count; i++) {
		provauth_pool_account *a = (*out)[i];
		pa_plugin *p = pa_manager_plugin(m, a->provider);
		const provauth_pool_hooks *hooks =
		        p && PROVAUTH_PROVIDER_HAS(&p->vt, pool) ? p->vt.pool : NULL;
		if (a->max_slots <= 0)
			a->max_slots = pa_pool_default_slots(m, hooks);
	}
	return 0;
}
