/*
 * Refresh-ahead: an OAuth access token is renewed shortly before it
 * expires (providers.<id>.refresh_ahead), so callers rarely meet an
 * expired one. The renewal is a recovery of kind REFRESH_ONLY.
 */
#include "config.h"
#include "manager.h"
#include "session.h"

/*
 * The renewal itself, apart from the checks: most calls find nothing to
 * renew, and pay for the checks only (this is the hot path's).
 */
static int renew(provauth_manager *m, pa_entry *e, pa_cached **cp, const char *context, int expired)
{
	pa_cached *c = *cp;
	const provauth_account *a = c->account;
	pa_recovery r = { PA_RECOVER_REFRESH_ONLY, NULL, context, NULL, NULL, 0, 0, NULL };
	int rc;

	if (expired)
		r.kind = PA_RECOVER_AUTO; /* wait for the single refresh in flight */
	rc = pa_recover(m, e, c->plugin, a, &r);
	/*
	 * A configuration error is reported at once, though the token still
	 * works: every account of the provider will fail at expiry, and the
	 * operator learns it now instead of then.
	 */
	if (rc == PROVAUTH_ECONFIG && !expired)
		return rc;
	if (rc < 0 && !expired) {
		/* Still valid: use it. A refusal for good is recorded now, not at expiry. */
		if (r.permanent)
			pa_record_health(m, c->plugin, a->id, NULL, "invalid", "refresh_rejected", "", provauth_last_error());
		return 0;
	}
	if (rc < 0)
		return rc;
	pa_cached_release(c);
	*cp = NULL;
	if ((rc = pa_session_acquire(m, e, cp)) < 0)
		return rc;
	return 0;
}

/*
 * OAuth-style accounts: renew ahead of expiry. While the token is still
 * valid one caller refreshes and the others go on with the current token;
 * once it has expired everyone waits for the single refresh. (The check
 * for a refresh token is pa_refresh_ahead's, inline in session.h.)
 */
int pa_refresh_ahead_oauth(provauth_manager *m, pa_entry *e, pa_cached **cp, const char *context)
{
	const pa_cached *c = *cp;
	const char *token = c->access_token;
	int64_t ahead, now, expires = c->access_expires_at;

	ahead = pa_provider_cfg(c->plugin)->refresh_ahead;
	now = pa_manager_now(m);
	if (token && expires > 0 && now < expires - ahead)
		return 0;
	return renew(m, e, cp, context, !token || expires <= 0 || now >= expires);
}
