/*
 * classify_error: one table for every way Pixverse says no, whether the
 * failure arrives as a message (the SDK-exception case of the spec) or as a
 * reply with an ErrCode. Only errors a new login can fix are session
 * errors; a blocked account is never one, because logging it in again
 * would only hide the ban and burn logins.
 */
#include <stdio.h>
#include <string.h>
#include "pixverse.h"

typedef struct pv_rule {
	int64_t code;
	const char *reason;
	int session;         /* a new login may fix it */
	int result;          /* when not a session error */
	int cooldown;        /* stop password logins provider-wide */
} pv_rule;

static const pv_rule rules[] = {
	{ PV_ERR_TOKEN_INVALID, "token_invalid", 1, PROVAUTH_ESESSION, 0 },
	{ PV_ERR_TOKEN_EXPIRED, "token_expired", 1, PROVAUTH_ESESSION, 0 },
	{ PV_ERR_NOT_LOGIN, "user_not_login", 1, PROVAUTH_ESESSION, 0 },
	{ PV_ERR_LOGGED_ELSEWHERE, "logged_elsewhere", 1, PROVAUTH_ESESSION, 0 },
	/* Generation (notes A.5): none is about the session; each is a code the pool acts on. */
	{ PV_ERR_CREDITS_EXHAUSTED, "credits_exhausted", 0, PROVAUTH_ECREDITS, 0 },
	{ PV_ERR_BALANCE, "insufficient_balance", 0, PROVAUTH_ECREDITS, 0 },
	{ PV_ERR_CONCURRENCY, "concurrency_limit", 0, PROVAUTH_ECONCURRENCY, 0 },
	{ PV_ERR_MODERATION_OUTPUT, "content_output_rejected", 0, PROVAUTH_EMODERATED, 0 },
	{ PV_ERR_MODERATION_PROMPT, "content_prompt_rejected", 0, PROVAUTH_EREJECTED, 0 },
	{ PV_ERR_HIGH_LOAD, "high_load", 0, PROVAUTH_EOVERLOAD, 0 },
	{ 400011, "bad_parameter", 0, PROVAUTH_EINVAL, 0 },
	{ 400017, "bad_parameter", 0, PROVAUTH_EINVAL, 0 },
	{ 400018, "bad_parameter", 0, PROVAUTH_EINVAL, 0 },
	{ 400019, "bad_parameter", 0, PROVAUTH_EINVAL, 0 },
	{ 400032, "bad_parameter", 0, PROVAUTH_EINVAL, 0 },
	{ 500030, "bad_image", 0, PROVAUTH_EINVAL, 0 },
	{ 500031, "bad_image", 0, PROVAUTH_EINVAL, 0 },
	{ 500032, "bad_image", 0, PROVAUTH_EINVAL, 0 },
	{ 500033, "bad_image", 0, PROVAUTH_EINVAL, 0 },
	{ 500041, "bad_image", 0, PROVAUTH_EINVAL, 0 },
	{ 500042, "bad_image", 0, PROVAUTH_EINVAL, 0 },
	{ PV_ERR_NO_SUCH_USER, "user_not_found", 0, PROVAUTH_EPROVIDER, 0 },
	{ PV_ERR_TOO_MANY_LOGINS, "too_many_logins", 0, PROVAUTH_ECOOLDOWN, 1 },
};

/* Phrases that identify a row when a message carries no code. */
typedef struct pv_phrase {
	const char *text;
	int64_t code;        /* the row it selects; 0: session_expired (no code) */
} pv_phrase;

/* Order matters: the spec's rows first, then the rest of the table. */
static const pv_phrase phrases[] = {
	{ "logged in elsewhere", PV_ERR_LOGGED_ELSEWHERE },
	{ "user is not login", PV_ERR_NOT_LOGIN },
	{ "session expired", 0 },
	{ "token is invalid", PV_ERR_TOKEN_INVALID },
	{ "invalid token", PV_ERR_TOKEN_INVALID },
	{ "token expired", PV_ERR_TOKEN_EXPIRED },
	{ "token is expired", PV_ERR_TOKEN_EXPIRED },
	{ "too many login", PV_ERR_TOO_MANY_LOGINS },
	{ "credits have been used up", PV_ERR_CREDITS_EXHAUSTED },
	{ "insufficient credit", PV_ERR_CREDITS_EXHAUSTED },
	{ "insufficient balance", PV_ERR_BALANCE },
	{ "concurrent generations", PV_ERR_CONCURRENCY },
	{ "inappropriate content", PV_ERR_MODERATION_OUTPUT },
	{ "sensitive content", PV_ERR_MODERATION_PROMPT },
	{ "high load", PV_ERR_HIGH_LOAD },
};

static const char *const banned_phrase = "account is blocked";

/* Every other 4000xx is a parameter the service refused too. */
#define PV_ERR_PARAM_FIRST 400000
#define PV_ERR_PARAM_LAST 400099

static const pv_rule param_rule = { 0, "bad_parameter", 0, PROVAUTH_EINVAL, 0 };

static const pv_rule *rule_for(int64_t code)
{
	size_t i;

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].code == code)
			return &rules[i];
	return code >= PV_ERR_PARAM_FIRST && code <= PV_ERR_PARAM_LAST ? &param_rule : NULL;
}

static void set_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static void outcome_session(provauth_outcome *out, const char *reason, int64_t code)
{
	out->is_session_error = 1;
	out->should_invalidate_cache = 1;
	out->should_attempt_reauth = 1;
	out->result = PROVAUTH_ESESSION;
	out->start_login_cooldown = 0;
	set_text(out->error_reason, sizeof(out->error_reason), reason);
	if (code)
		snprintf(out->error_code, sizeof(out->error_code), "%lld", (long long)code);
	else
		out->error_code[0] = '\0';
}

static void outcome_plain(provauth_outcome *out, const char *reason, int64_t code, int result)
{
	out->is_session_error = 0;
	out->should_invalidate_cache = 0;
	out->should_attempt_reauth = 0;
	if (result < 0)
		out->result = result;
	set_text(out->error_reason, sizeof(out->error_reason), reason);
	if (code)
		snprintf(out->error_code, sizeof(out->error_code), "%lld", (long long)code);
	else
		out->error_code[0] = '\0';
}

/* `code`: the ErrCode seen (a rule for a range has none of its own). */
static void outcome_rule(provauth_outcome *out, const pv_rule *r, int64_t code)
{
	if (r->session) {
		outcome_session(out, r->reason, code);
		return;
	}
	outcome_plain(out, r->reason, code, r->result);
	out->start_login_cooldown = r->cooldown;
}

static void outcome_banned(provauth_outcome *out, int64_t code)
{
	outcome_plain(out, "account_banned", code, PROVAUTH_EBANNED);
	out->start_login_cooldown = 0;
}

void pv_classify_message(const char *message, provauth_outcome *out)
{
	char num[32];
	size_t i;

	if (!message)
		message = "";
	if (provauth_plugin_contains_ci(message, banned_phrase)) {
		outcome_banned(out, PV_ERR_TOKEN_INVALID);
		return;
	}
	for (i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++) {
		const pv_phrase *ph = &phrases[i];
		if (ph->code)
			snprintf(num, sizeof(num), "%lld", (long long)ph->code);
		if (provauth_plugin_contains_ci(message, ph->text) || (ph->code && pv_has_number(message, num))) {
			if (ph->code == 0)
				outcome_session(out, "session_expired", 0);
			else
				outcome_rule(out, rule_for(ph->code), ph->code);
			return;
		}
	}
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		snprintf(num, sizeof(num), "%lld", (long long)rules[i].code);
		if (pv_has_number(message, num)) {
			outcome_rule(out, &rules[i], rules[i].code);
			return;
		}
	}
	/* Our own "reply is not JSON" and every other message: not about the session. */
	outcome_plain(out, "non_session_error", 0, out->result);
}

void pv_classify_http(const provauth_host *h, long status, const char *body, size_t len, long retry_after,
                      provauth_outcome *out)
{
	provauth_json *json = NULL;
	const provauth_json *ec;
	const pv_rule *r;
	const char *msg;
	int64_t code = 0;
	int has_code = 0;

	if (status == 429) {
		outcome_plain(out, "rate_limited", 0, PROVAUTH_ERATELIMIT);
		snprintf(out->error_code, sizeof(out->error_code), "429");
		out->retry_after = retry_after >= 0 ? retry_after : PV_DEFAULT_RETRY_AFTER;
		return;
	}
	if (body && len)
		json = h->json_parse(body, len);
	if (json && h->json_type(json) == PROVAUTH_JSON_OBJECT && (ec = h->json_get(json, "ErrCode")) &&
	    h->json_int(ec, &code) == 0)
		has_code = 1;
	if (has_code && code != 0) {
		msg = h->json_string(h->json_get(json, "ErrMsg"));
		if (code == PV_ERR_TOKEN_INVALID && provauth_plugin_contains_ci(msg, banned_phrase))
			outcome_banned(out, code);
		else if ((r = rule_for(code)))
			outcome_rule(out, r, code);
		else
			outcome_plain(out, "api_error", code, PROVAUTH_EPROVIDER);
	} else if (status != 200) {
		outcome_plain(out, "http_error", status, PROVAUTH_EHTTP);
	} else {
		/* HTTP 200 without an error code: the reply was unusable for other reasons. */
		outcome_plain(out, "api_error", 0, out->result < 0 ? out->result : PROVAUTH_EPROTOCOL);
	}
	h->json_free(json);
}

int pv_classify_error(void *state, const provauth_failure *f, provauth_outcome *out)
{
	const pv_state *st = state;

	if (!f || !out)
		return PROVAUTH_EINVAL;
	switch (f->kind) {
	case PROVAUTH_FAILURE_MESSAGE:
		pv_classify_message(f->message, out);
		break;
	case PROVAUTH_FAILURE_HTTP:
		pv_classify_http(st->host, f->http_status, f->body, f->body_len, f->retry_after, out);
		break;
	case PROVAUTH_FAILURE_TRANSPORT:
	case PROVAUTH_FAILURE_NONE:
	default:
		outcome_plain(out, "non_session_error", 0, f->code < 0 ? f->code : PROVAUTH_ERROR);
		break;
	}
	return 0;
}
