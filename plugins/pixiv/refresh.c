/*
 * The refresh grant over HTTP. Transient failures (no reply, 5xx) are
 * retried here with capped exponential backoff and jitter, because the
 * manager runs a refresh once per recovery and a blip at the token endpoint
 * should not fail every waiting caller. Refusals are never retried: a dead
 * refresh token stays dead, and hammering the endpoint with bad client
 * credentials only invites a ban.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "pixiv.h"

int64_t pixiv_backoff_ms(const pixiv_state *st, unsigned int attempt, uint32_t random)
{
	int64_t d = st->retry_base_ms, cap = st->retry_max_ms, half;
	unsigned int i;

	for (i = 0; i < attempt && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	if (d <= 0)
		return 0;
	/* "Equal jitter": never less than half the step, so backoff still backs off. */
	half = d / 2;
	return half + (int64_t)(random % (uint64_t)(d - half + 1));
}

long pixiv_retry_after(const char *value)
{
	long n = 0;
	const char *p = value;

	if (!p)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > 100000000L)
			return -1;
		n = n * 10 + (*p - '0');
	}
	while (*p == ' ' || *p == '\t')
		p++;
	/* An HTTP-date (the other allowed form) is not worth a date parser here. */
	return *p ? -1 : n;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void log_retry(const pixiv_state *st, const char *who, unsigned int attempt, int64_t delay_ms,
                      long status, int rc)
{
	const provauth_log_field f[] = {
		{ "who", PROVAUTH_FIELD_STRING, who, 0 },
		{ "attempt", PROVAUTH_FIELD_INT, NULL, (int64_t)attempt + 1 },
		{ "delay_ms", PROVAUTH_FIELD_INT, NULL, delay_ms },
		{ "http_status", PROVAUTH_FIELD_INT, NULL, status },
		{ "error", PROVAUTH_FIELD_INT, NULL, rc },
	};
	st->host->log(st->host, PROVAUTH_LOG_WARN, "pixiv_token_retry", f, sizeof(f) / sizeof(f[0]));
}

/* One POST to the token endpoint. */
static int post_once(pixiv_state *st, const char *form, provauth_http_response **resp)
{
	const provauth_host *h = st->host;
	provauth_http_header hd[7];
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	char when[PIXIV_TIME_LEN], hash[PIXIV_HASH_LEN];
	size_t n = 0;
	int rc;

	hd[n++] = (provauth_http_header){ "Content-Type", "application/x-www-form-urlencoded", 0 };
	hd[n++] = (provauth_http_header){ "User-Agent", st->user_agent, 0 };
	hd[n++] = (provauth_http_header){ "Accept", "application/json", 0 };
	if (!st->standard_oauth) {
		if (pixiv_format_client_time(when, h->now(h)) < 0)
			return h->set_error(h, PROVAUTH_EPROTOCOL,
			                    "pixiv: the host clock (%lld) cannot be written as an RFC 3339 time",
			                    (long long)h->now(h));
		if ((rc = pixiv_client_hash(h, hash, when, st->hash_secret)) < 0)
			return rc;
		hd[n++] = (provauth_http_header){ "X-Client-Time", when, 0 };
		hd[n++] = (provauth_http_header){ "X-Client-Hash", hash, 1 };
		hd[n++] = (provauth_http_header){ "App-OS", st->app_os, 0 };
		hd[n++] = (provauth_http_header){ "App-OS-Version", st->app_os_version, 0 };
	}
	req.method = "POST";
	req.url = st->token_url;
	req.headers = hd;
	req.header_count = n;
	req.body = form;
	req.body_len = strlen(form);
	req.follow_redirects = 0;
	return h->http_request(h, &req, resp);
}

/* What a refusal means, in a message that names the setting or the next step. */
static int refusal(pixiv_state *st, const provauth_http_response *resp, const char *who, int lost_reply,
                   const char *refresh_token)
{
	const provauth_host *h = st->host;
	const char *secrets[] = { refresh_token, st->client_secret, st->hash_secret };
	pixiv_token_error kind;
	char raw[48], raw_text[128], code[PIXIV_QUOTE_MAX], text[PIXIV_QUOTE_MAX];
	long ra;

	kind = pixiv_token_error_parse(h, resp->status, resp->body, resp->body_len, raw, sizeof(raw));
	/* A server that spells back what it was sent, in any case or cut by dots, must not make us print it. */
	pixiv_quote(h, code, sizeof(code), raw, secrets, PIXIV_ARRAY_LEN(secrets));
	switch (kind) {
	case PIXIV_TERR_INVALID_GRANT:
		return h->set_error(h, PROVAUTH_EAUTH,
		                    "pixiv: %s: the refresh token was refused (invalid_grant): it expired or was revoked%s; %s",
		                    who, lost_reply ? ", possibly rotated by an earlier attempt whose reply was lost" : "",
		                    PIXIV_NEW_TOKEN_HINT);
	case PIXIV_TERR_ACCESS_DENIED:
		return h->set_error(h, PROVAUTH_EPROTOCOL,
		                    "pixiv: %s: pixiv rejected the client time or hash (access_denied); "
		                    "check the host clock and providers.pixiv.hash_secret", who);
	case PIXIV_TERR_INVALID_CLIENT:
		return h->set_error(h, PROVAUTH_ECONFIG,
		                    "pixiv: %s: pixiv rejected the client credentials (%s, HTTP %ld); "
		                    "check providers.pixiv.client_id and providers.pixiv.client_secret", who,
		                    code[0] ? code : "invalid_client", resp->status);
	case PIXIV_TERR_INVALID_REQUEST:
		/*
		 * Every field of the request comes from the settings except the
		 * refresh token, which a server judges with invalid_grant: the
		 * token is not blamed, and nothing about the account is judged.
		 */
		pixiv_token_error_text(h, resp->body, resp->body_len, raw_text, sizeof(raw_text));
		pixiv_quote(h, text, sizeof(text), raw_text, secrets, PIXIV_ARRAY_LEN(secrets));
		return h->set_error(h, PROVAUTH_ECONFIG,
		                    "pixiv: %s: the token endpoint refused the request as malformed (invalid_request, "
		                    "HTTP %ld%s%s%s): a parameter it needs is missing or wrong, so it is not speaking "
		                    "the protocol this plugin is set up for; check providers.pixiv.token_url, "
		                    "providers.pixiv.standard_oauth (true for an RFC 6749 server), "
		                    "providers.pixiv.client_id and providers.pixiv.client_secret", who, resp->status,
		                    text[0] ? ": \"" : "", text, text[0] ? "\"" : "");
	case PIXIV_TERR_RATE_LIMIT:
		ra = pixiv_retry_after(h->http_header(resp, "retry-after"));
		return h->set_error(h, PROVAUTH_ERATELIMIT,
		                    "pixiv: %s: the token endpoint is rate limiting (HTTP %ld); retry after %lds", who,
		                    resp->status, ra >= 0 ? ra : (long)st->rate_limit_wait);
	case PIXIV_TERR_OTHER:
		return h->set_error(h, PROVAUTH_EHTTP, "pixiv: %s: the token endpoint answered HTTP %ld (%s)", who,
		                    resp->status, code);
	default:
		return h->set_error(h, PROVAUTH_EHTTP, "pixiv: %s: the token endpoint answered HTTP %ld%s", who,
		                    resp->status,
		                    resp->status >= 300 && resp->status < 400 ? " (a redirect; not followed)" : "");
	}
}

int pixiv_refresh_grant(pixiv_state *st, pixiv_token *out, const char *who, const char *refresh_token,
                        const char *device_token)
{
	const provauth_host *h = st->host;
	provauth_http_response *resp = NULL;
	unsigned int attempt;
	int rc = 0, lost_reply = 0;
	char *form;

	memset(out, 0, sizeof(*out));
	out->host = h;
	if (!refresh_token || !*refresh_token)
		return h->set_error(h, PROVAUTH_EAUTH, "pixiv: %s has no refresh token; %s", who, PIXIV_NEW_TOKEN_HINT);
	if (!(form = pixiv_token_form(st, refresh_token, device_token)))
		return h->set_error(h, PROVAUTH_ENOMEM, "out of memory");

	for (attempt = 0;; attempt++) {
		int transient;
		long status = 0, ra = -1;
		int64_t delay;
		unsigned char rnd[4] = { 0, 0, 0, 0 };

		rc = post_once(st, form, &resp);
		if (rc == 0 && resp->status >= 200 && resp->status < 300) {
			/* A reply we cannot read is not retried: the server may have rotated the token already. */
			rc = pixiv_token_parse(h, out, who, resp->body, resp->body_len);
			break;
		}
		if (rc == 0) {
			status = resp->status;
			transient = status >= 500 &&
			            pixiv_token_error_parse(h, status, resp->body, resp->body_len, NULL, 0) == PIXIV_TERR_UNKNOWN;
			if (transient) {
				ra = pixiv_retry_after(h->http_header(resp, "retry-after"));
				rc = h->set_error(h, PROVAUTH_EHTTP,
				                  "pixiv: %s: the token endpoint answered HTTP %ld after %u attempt%s",
				                  who, status, attempt + 1, attempt ? "s" : "");
			} else {
				rc = refusal(st, resp, who, lost_reply, refresh_token);
			}
		} else {
			/* The host's message names the URL and the cause: kept, after who asked (ABI 1.3). */
			if (PROVAUTH_HOST_HAS(h, last_error) && h->last_error && *h->last_error(h))
				rc = h->set_error(h, rc, "pixiv: %s: token request: %s", who, h->last_error(h));
			transient = rc == PROVAUTH_ENETWORK || rc == PROVAUTH_ETIMEOUT;
			lost_reply |= transient;
		}
		h->http_response_free(resp);
		resp = NULL;
		if (!transient || attempt >= (unsigned int)st->retry_max)
			break;
		h->random_bytes(h, rnd, sizeof(rnd));
		delay = pixiv_backoff_ms(st, attempt,
		                         (uint32_t)rnd[0] | (uint32_t)rnd[1] << 8 |
		                         (uint32_t)rnd[2] << 16 | (uint32_t)rnd[3] << 24);
		if (ra >= 0 && ra * 1000 > delay)
			delay = ra * 1000 > st->retry_max_ms ? st->retry_max_ms : ra * 1000;
		log_retry(st, who, attempt, delay, status, rc);
		sleep_ms(delay);
	}
	h->http_response_free(resp);
	h->secret_free(h, form);
	return rc;
}
