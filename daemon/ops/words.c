/*
 * Why an account needs a human, in words a person acts on. The reasons are
 * the notifier's (daemon.h: pad_notify_account) so the page, the webhook and
 * the API say the same thing; the stored health reasons of the library
 * (core/session: refresh_rejected, refresh_failed, reauth_failed or the
 * provider's own error reason) and the pool's status map onto them here.
 */
#include "config.h"
#include <string.h>
#include "ops/ops.h"

const char *pad_ops_needs_human(const char *health_state, const char *health_reason, const char *pool_status)
{
	if (pool_status && !strcmp(pool_status, "banned"))
		return "banned";
	if (health_state && !strcmp(health_state, "invalid")) {
		if (health_reason && (!strcmp(health_reason, "refresh_rejected") || !strcmp(health_reason,
		                                                                             "refresh_refused")))
			return "refresh_token_dead";
		return "session_lost";
	}
	if (pool_status && !strcmp(pool_status, "exhausted"))
		return "credits_exhausted";
	return NULL;
}

const char *pad_ops_reason_words(const char *reason, int google)
{
	if (!reason || !*reason)
		return "";
	if (!strcmp(reason, "session_lost"))
		return google ? "The session was lost and this account signs in with Google: import its cookies again."
		              : "The session was lost and signing in again with the stored password failed: "
		                "check the password or import the account's cookies again.";
	if (!strcmp(reason, "refresh_token_dead"))
		return "The provider refused the refresh token for good: connect the account again.";
	if (!strcmp(reason, "banned"))
		return "The provider has banned or blocked this account: it is no longer used.";
	if (!strcmp(reason, "credits_exhausted"))
		return "The account has no credits left: top it up or wait until the provider renews them.";
	return "This account needs attention: its last recovery failed.";
}
