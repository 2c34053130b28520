/*
 * Why an account needs a person, said one way everywhere: the webhook's
 * reason (pad_notify_account), the API's needs_human_code and
 * needs_human_reason, and the status page all come from here, so what an
 * operator reads on the page is what the webhook told them.
 *
 * The library's stored health reasons (core/session: refresh_rejected,
 * refresh_refused, reauth_failed, the provider's own error reason) and the
 * pool's status map onto four reasons; the words depend on how the account
 * signs in, because that decides what the person must do.
 */
#include "config.h"
#include <string.h>
#include "daemon.h"

static int has(const char *s, const char *part)
{
	return s && strstr(s, part) != NULL;
}

const char *pad_needs_human_code(const char *health_state, const char *health_reason, int refresh_refused,
                                 const char *pool_status)
{
	if ((pool_status && strcmp(pool_status, "banned") == 0) || has(health_reason, "banned") ||
	    has(health_reason, "blocked"))
		return "banned";
	if (health_state && strcmp(health_state, "invalid") == 0) {
		if (refresh_refused || has(health_reason, "refresh_rejected") || has(health_reason, "refresh_refused"))
			return "refresh_token_dead";
		return "session_lost";
	}
	if (pool_status && strcmp(pool_status, "exhausted") == 0)
		return "credits_exhausted";
	return NULL;
}

const char *pad_needs_human_words(const char *code, provauth_auth_method method)
{
	if (!code || !*code)
		return NULL;
	if (strcmp(code, "session_lost") == 0) {
		if (method == PROVAUTH_AUTH_GOOGLE)
			return "The session was lost and this account signs in with Google: connect it with Google again "
			       "or import its cookies again.";
		if (method == PROVAUTH_AUTH_UNKNOWN)
			return "The session was lost and this account may not sign in with a password: import its "
			       "cookies again, or reauth it with a password.";
		return "The session was lost and signing in again with the stored password failed: check the "
		       "password or import the account's cookies again.";
	}
	if (strcmp(code, "refresh_token_dead") == 0)
		return "The provider refused the refresh token for good: connect the account again.";
	if (strcmp(code, "banned") == 0)
		return "The provider has banned or blocked this account: it is no longer used.";
	if (strcmp(code, "credits_exhausted") == 0)
		return "The account has no credits left: top it up or wait until the provider renews them.";
	return "This account needs attention: its last recovery failed.";
}
