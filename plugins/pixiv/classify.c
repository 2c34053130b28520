/*
 * Which app-API failures are about the session. pixiv answers an expired or
 * revoked access token with HTTP 400 and
 *   {"error":{"message":"Error occurred at the OAuth process. ... Error Message: invalid_grant", ...}}
 * and asks clients to slow down with the message "Rate Limit" (400, 403 or
 * 429). Rate limits are never session errors: refreshing would not help
 * and would add load. A standard OAuth resource server says 401 instead.
 */
#include <stdio.h>
#include <string.h>
#include "pixiv.h"

#define OAUTH_PROCESS "Error occurred at the OAuth process"

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	/* pixiv's text sometimes carries a trailing period or spaces. */
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '.' || s[n - 1] == '\n'))
		n--;
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static void session_error(provauth_outcome *out, const char *reason, const char *code)
{
	snprintf(out->error_code, sizeof(out->error_code), "%s", code);
	out->is_session_error = 1;
	out->should_invalidate_cache = 1;
	/* pixiv has no password login: "reauth" here means the refresh the manager runs first. */
	out->should_attempt_reauth = 1;
	out->result = PROVAUTH_ESESSION;
	snprintf(out->error_reason, sizeof(out->error_reason), "%s", reason);
}

static void not_session(provauth_outcome *out, int result, const char *reason)
{
	out->is_session_error = 0;
	out->should_invalidate_cache = 0;
	out->should_attempt_reauth = 0;
	out->result = result;
	snprintf(out->error_reason, sizeof(out->error_reason), "%s", reason);
}

static void classify_http(const pixiv_state *st, const provauth_failure *f, provauth_outcome *out)
{
	const provauth_host *h = st->host;
	provauth_json *doc = f->body ? h->json_parse(f->body, f->body_len) : NULL;
	const char *msg = h->json_string(h->json_get(doc, "error.message"));
	const char *err = h->json_string(h->json_get(doc, "error"));
	long status = f->http_status;

	if (msg && provauth_plugin_contains_ci(msg, "rate limit") && (status == 400 || status == 403 || status == 429)) {
		not_session(out, PROVAUTH_ERATELIMIT, "rate_limited");
		out->retry_after = f->retry_after >= 0 ? f->retry_after : (long)st->rate_limit_wait;
	} else if (status == 429) {
		not_session(out, PROVAUTH_ERATELIMIT, "rate_limited");
		out->retry_after = f->retry_after >= 0 ? f->retry_after : (long)st->rate_limit_wait;
	} else if (msg && strstr(msg, OAUTH_PROCESS)) {
		if (ends_with(msg, "invalid_grant"))
			session_error(out, "access_token_invalid", "invalid_grant");
		else if (ends_with(msg, "invalid_request"))
			session_error(out, "invalid_request", "invalid_request");
		else
			session_error(out, "oauth_error", "");
	} else if (status == 401) {
		/* RFC 6750: the bearer token is expired, revoked or malformed. */
		if (err && strcmp(err, "invalid_token") == 0)
			session_error(out, "access_token_invalid", "invalid_token");
		else
			session_error(out, "unauthorized", "");
	} else if (status >= 500) {
		not_session(out, PROVAUTH_EHTTP, "server_error");
	} else if (msg || err) {
		not_session(out, PROVAUTH_EPROVIDER, "api_error");
	} else {
		not_session(out, PROVAUTH_EHTTP, "non_session_error");
	}
	h->json_free(doc);
}

int pixiv_classify_error(void *state, const provauth_failure *f, provauth_outcome *out)
{
	const pixiv_state *st = state;

	out->error_code[0] = '\0';
	out->retry_after = -1;
	out->start_login_cooldown = 0;
	switch (f->kind) {
	case PROVAUTH_FAILURE_HTTP:
		classify_http(st, f, out);
		break;
	case PROVAUTH_FAILURE_TRANSPORT:
		not_session(out, f->code < 0 ? f->code : PROVAUTH_ENETWORK, "transport_error");
		break;
	default:
		not_session(out, f->code < 0 ? f->code : PROVAUTH_ERROR, "non_session_error");
		break;
	}
	return 0;
}
