/*
 * Giving an account back: what each outcome does to it (the rules of the
 * notes' job processor, provider-neutral), and attaching a job.
 */
#include "config.h"
#include <string.h>
#include "pool/pool.h"

/*
 * DONE keeps the charge (the provider spent the credits). Every other
 * outcome gives the cost back: nothing ran (UNUSED, a refusal), or the
 * provider refunds (moderation, a failed job). BANNED and NO_CREDITS change
 * the status; CONCURRENCY and SESSION_LOST start a cooldown, CONCURRENCY also
 * learns a lower cap that later probes raise again.
 */
static int release_args(provauth_pool_release_args *a, provauth_manager *m, provauth_pool_outcome outcome)
{
	const pa_pool_settings *ps = pa_manager_pool_settings(m);
	int64_t now = pa_manager_now(m);

	a->refund = outcome != PROVAUTH_POOL_DONE;
	switch (outcome) {
	case PROVAUTH_POOL_DONE:
	case PROVAUTH_POOL_UNUSED:
	case PROVAUTH_POOL_MODERATED:
	case PROVAUTH_POOL_FAILED:
		return 0;
	case PROVAUTH_POOL_CONCURRENCY:
		a->cooldown_until = now + ps->concurrency_cooldown;
		a->cooldown_reason = "concurrency";
		a->lower_cap = 1;
		a->cap_probe_at = now + ps->cap_probe_interval;
		return 0;
	case PROVAUTH_POOL_NO_CREDITS:
		a->status = "exhausted";
		return 0;
	case PROVAUTH_POOL_SESSION_LOST:
		a->cooldown_until = now + ps->session_cooldown;
		a->cooldown_reason = "session_lost";
		return 0;
	case PROVAUTH_POOL_BANNED:
		a->status = "banned";
		return 0;
	}
	return pa_error_set(PROVAUTH_EINVAL, "pool: unknown outcome %d", (int)outcome);
}

static int release(provauth_manager *m, const char *reservation_id, const char *account_id, const char *job_id,
                   provauth_pool_outcome outcome)
{
	provauth_pool_release_args a;
	provauth_store *s;
	int rc;

	if ((rc = pa_pool_store(&s, m)) < 0)
		return rc;
	memset(&a, 0, sizeof(a));
	a.version = PROVAUTH_POOL_RELEASE_ARGS_VERSION;
	a.reservation_id = reservation_id;
	a.account_id = account_id;
	a.job_id = job_id;
	if ((rc = release_args(&a, m, outcome)) < 0 || (rc = s->pool_release(s, &a)) < 0)
		return rc;
	pa_pool_waker_signal(pa_manager_pool_waker(m));
	{
		const provauth_log_field f[] = {
			PA_F_STR("reservation", reservation_id ? reservation_id : ""),
			PA_F_STR("account_id", account_id ? account_id : ""),
			PA_F_STR("job_id", job_id ? job_id : ""),
			PA_F_STR("outcome", provauth_pool_outcome_name(outcome)),
		};
		pa_log(pa_manager_logger(m), PROVAUTH_LOG_INFO, "pool_released", f, PA_ARRAY_LEN(f));
	}
	return 0;
}

int provauth_pool_release(provauth_manager *m, const char *reservation_id, provauth_pool_outcome outcome)
{
	if (!reservation_id || !*reservation_id)
		return pa_error_set(PROVAUTH_EINVAL, "pool: release needs a reservation id");
	return release(m, reservation_id, NULL, NULL, outcome);
}

int provauth_pool_release_job(provauth_manager *m, const char *account_id, const char *job_id,
                              provauth_pool_outcome outcome)
{
	if (!account_id || !*account_id || !job_id || !*job_id)
		return pa_error_set(PROVAUTH_EINVAL, "pool: release_job needs an account id and a job id");
	return release(m, NULL, account_id, job_id, outcome);
}

int provauth_pool_attach_job(provauth_manager *m, const char *reservation_id, const char *job_id)
{
	provauth_store *s;
	int rc;

	if ((rc = pa_pool_store(&s, m)) < 0)
		return rc;
	if (!reservation_id || !*reservation_id || !job_id || !*job_id)
		return pa_error_set(PROVAUTH_EINVAL, "pool: attach_job needs a reservation id and a job id");
	return s->pool_attach(s, reservation_id, job_id);
}

int provauth_pool_configure(provauth_manager *m, const char *account_id, const provauth_pool_settings *settings)
{
	provauth_pool_update u;
	provauth_store *s;
	int rc;

	if ((rc = pa_pool_store(&s, m)) < 0)
		return rc;
	if (!account_id || !*account_id || !settings || settings->version < 1 ||
	    settings->version > PROVAUTH_POOL_SETTINGS_VERSION)
		return pa_error_set(PROVAUTH_EINVAL, "pool: configure needs an account id and settings of a known version");
	memset(&u, 0, sizeof(u));
	u.version = PROVAUTH_POOL_UPDATE_VERSION;
	u.account_id = account_id;
	u.now = pa_manager_now(m);
	u.set_priority = settings->set_priority;
	u.priority = settings->priority;
	if (settings->set_disabled)
		u.status = settings->disabled ? "disabled" : "active";
	u.clear_cooldown = settings->clear_cooldown;
	if ((rc = s->pool_update(s, &u)) < 0)
		return rc;
	pa_pool_waker_signal(pa_manager_pool_waker(m));
	return 0;
}
