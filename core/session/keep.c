/*
 * provauth_account_keep: what a keeper (provauthd's) asks of an account
 * nobody is using. The renewal is the refresh-ahead's (a recovery of kind
 * REFRESH_ONLY through pa_recover: its single flight, the store lease, the
 * durable store before use), only with the window chosen by the caller.
 */
#include "config.h"
#include "manager.h"
#include "session.h"

/* 1 when the session's access token expires within `within` s (always when `within` < 0). */
static int due(provauth_manager *m, const pa_cached *c, int64_t within)
{
	if (within < 0 || !c->access_token || c->access_expires_at <= 0)
		return 1;
	return pa_manager_now(m) >= c->access_expires_at - within;
}

int provauth_account_keep(int *refreshed, provauth_manager *m, const char *id, int64_t within)
{
	pa_recovery r = { PA_RECOVER_REFRESH_ONLY, NULL, "keep", NULL, NULL, 0, 0, NULL };
	pa_cached *c = NULL;
	pa_entry *e;
	int rc;

	if (refreshed)
		*refreshed = 0;
	if (!m || !id || !*id)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_account_keep: manager and account id are required");
	if (!(e = pa_entry_get(pa_manager_sessions(m), id)))
		return PROVAUTH_ENOMEM;
	/* Building the session checks the stored credentials (and is all a provider without refresh gets). */
	if ((rc = pa_session_acquire(m, e, &c)) < 0)
		return rc;
	if (!c->plugin->vt.refresh || !c->has_refresh_token || !due(m, c, within)) {
		pa_cached_release(c);
		return 0;
	}
	rc = pa_recover(m, e, c->plugin, c->account, &r);
	/*
	 * Another thread of this process is renewing it right now (REFRESH_ONLY
	 * does not wait): the account is being kept, which is all that was asked.
	 */
	if (rc == PROVAUTH_EBUSY && !r.attempted && !r.step) {
		pa_cached_release(c);
		return 0;
	}
	if (rc < 0) {
		/* Recorded as the refresh-ahead records it: a refusal for good needs new credentials. */
		if (r.permanent)
			pa_record_health(m, c->plugin, id, NULL, "invalid", "refresh_rejected", "", provauth_last_error());
		pa_cached_release(c);
		return rc;
	}
	/* "stored_credentials": another thread or process renewed it first, nothing was sent. */
	if (refreshed)
		*refreshed = r.step && !pa_streq(r.step, "stored_credentials");
	pa_cached_release(c);
	return 0;
}
