/*
 * The fault matrix (docs/RELIABILITY.md, "Fault matrix"): every network
 * operation of both plugins against every fault a real provider or the
 * network in between produces. The real plugins (dlopen'ed from
 * PROVAUTH_PLUGIN_PATH) run under the real manager with a sqlite store,
 * against the in-process fake servers over loopback.
 *
 * Each row of the tables below is one cell (operation x fault) and states
 * what the call must end with: the error code, words its message must hold,
 * how many requests the faulty endpoint may see (no retry storm) and so how
 * long the call may take. Every cell also checks that the message holds no
 * secret and that the stored account is unchanged, except where the table
 * says valid new credentials arrived before the fault; those are then used
 * once more to show the server accepts them.
 *
 * Every cell gets a fresh fake account and a fresh manager, so nothing one
 * cell leaves behind (a cached session, a failure memo) can decide another.
 * Run with -v to print the matrix as it is measured.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"
#include "fake_pixverse.h"
#include "fake_pixiv.h"
#include "../support/pa_test.h"

/* Small on purpose: the timeout cells wait for them. */
#define TIMEOUT_MS 400
#define CONNECT_TIMEOUT_MS 300
/* The host's words for a timeout (core/http/messages.c), with the limit in force. */
#define STR2(x) #x
#define STR(x) STR2(x)
#define TIMED_OUT_WORDS "timed out after " STR(TIMEOUT_MS) " ms (Operation timed out"
/* A slow reply is this much slower than the timeout. */
#define DELAY_MS 1500
#define MAX_REPLY 1048576
#define HUGE_BODY (10L * 1024 * 1024)
/* One header line longer than libcurl takes (CURL_MAX_HTTP_HEADER, 100 KiB). */
#define HUGE_HEADER (200L * 1024)
#define HUGE_HEADER_WORDS "a reply header line is larger than accepted"
/* Scheduling, ASan and the loopback round trips, per call. */
#define SLACK_MS 1500
/* providers.pixiv: one extra token request after a 5xx or a network error. */
#define PIXIV_RETRY_MAX 1
#define PIXIV_RETRY_MAX_MS 20
/* More faults than any cell may consume: a retry storm meets faults, not success. */
#define FAULT_COUNT 4

static char tmpdir[64];
static char db_path[128];
static fake_pixverse *pv;
static fake_pixiv *px;
/* A port bound but never listening: connecting to it is refused. */
static int closed_fd = -1;
static char closed_url[64];
static _Atomic int64_t fake_now = 1800000000;
static int seq;

/* ---- secrets seen, and what a message must never contain ---- */

static char **secrets;
static size_t nsecrets;

static void secret(const char *s)
{
	char **grown;

	if (!s || strlen(s) < 6)
		return;
	if (!(grown = realloc(secrets, (nsecrets + 1) * sizeof(*secrets))))
		abort();
	secrets = grown;
	if (!(secrets[nsecrets++] = strdup(s)))
		abort();
}

static void account_secrets(const provauth_account *a)
{
	provauth_credential c;
	size_t i;

	secret(PA_CRED(a, PASSWORD));
	secret(PA_CRED(a, JWT));
	secret(PA_CRED(a, REFRESH_TOKEN));
	secret(PA_CRED(a, ACCESS_TOKEN));
	/* Every cookie's and API key's value: the single-valued kinds are above. */
	for (i = 0; i < provauth_account_credential_count(a); i++)
		if (provauth_account_credential_at(&c, a, i) == 0 &&
		    (strcmp(c.kind, PROVAUTH_CRED_COOKIE) == 0 || strcmp(c.kind, PROVAUTH_CRED_API_KEY) == 0))
			secret(c.value);
}

static const char *leaked(const char *msg)
{
	size_t i;

	for (i = 0; i < nsecrets; i++)
		if (strstr(msg, secrets[i]))
			return secrets[i];
	return NULL;
}

/* Logs are checked by the other integration tests; here they would be noise. */
static void quiet(provauth_log_level level, const char *event, const provauth_log_field *f, size_t n, void *p)
{
	(void)level; (void)event; (void)f; (void)n; (void)p;
}

static int64_t test_clock(void *payload)
{
	(void)payload;
	return atomic_load(&fake_now);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the faults ---- */

typedef enum fault {
	F_500, F_502, F_503, F_429, F_REFUSED, F_RESET, F_SLOW, F_TRUNCATED, F_NOT_JSON, F_HUGE, F_REDIRECT,
	F_HUGE_HEADER, F_COUNT
} fault;

static const char *const fault_names[F_COUNT] = {
	"HTTP 500", "HTTP 502", "HTTP 503", "429 Retry-After: 7", "connection refused", "reset mid-body",
	"slower than timeout", "truncated JSON", "not JSON", "10 MB body", "redirect loop",
	"200 KB header line",
};

static void pv_inject(fake_pv_endpoint ep, fault f)
{
	static const struct { fake_fault_kind kind; long param; } map[F_COUNT] = {
		[F_500] = { FAKE_FAULT_HTTP_STATUS, 500 },
		[F_502] = { FAKE_FAULT_HTTP_STATUS, 502 },
		[F_503] = { FAKE_FAULT_HTTP_STATUS, 503 },
		[F_429] = { FAKE_FAULT_RATE_LIMIT, 7 },
		[F_REFUSED] = { FAKE_FAULT_NONE, 0 },
		[F_RESET] = { FAKE_FAULT_RESET, 0 },
		[F_SLOW] = { FAKE_FAULT_DELAY, DELAY_MS },
		[F_TRUNCATED] = { FAKE_FAULT_TRUNCATED, 0 },
		[F_NOT_JSON] = { FAKE_FAULT_NON_JSON, 0 },
		[F_HUGE] = { FAKE_FAULT_HUGE_BODY, HUGE_BODY },
		[F_REDIRECT] = { FAKE_FAULT_REDIRECT_LOOP, 0 },
		[F_HUGE_HEADER] = { FAKE_FAULT_HUGE_HEADER, HUGE_HEADER },
	};

	if (f != F_REFUSED)
		CU_ASSERT_FATAL(fake_pixverse_inject_fault(pv, ep, map[f].kind, FAULT_COUNT, map[f].param) == 0);
}

static void px_inject(fake_pixiv_endpoint ep, fault f)
{
	static const struct { fake_pixiv_fault kind; long param; } map[F_COUNT] = {
		[F_500] = { FAKE_PIXIV_FAULT_STATUS, 500 },
		[F_502] = { FAKE_PIXIV_FAULT_STATUS, 502 },
		[F_503] = { FAKE_PIXIV_FAULT_STATUS, 503 },
		[F_RESET] = { FAKE_PIXIV_FAULT_RESET, 0 },
		[F_SLOW] = { FAKE_PIXIV_FAULT_DELAY, DELAY_MS },
		[F_TRUNCATED] = { FAKE_PIXIV_FAULT_TRUNCATED, 0 },
		[F_NOT_JSON] = { FAKE_PIXIV_FAULT_NOT_JSON, 0 },
		[F_HUGE] = { FAKE_PIXIV_FAULT_HUGE, HUGE_BODY },
		[F_REDIRECT] = { FAKE_PIXIV_FAULT_REDIRECT_LOOP, 0 },
		[F_HUGE_HEADER] = { FAKE_PIXIV_FAULT_HUGE_HEADER, HUGE_HEADER },
	};

	if (f == F_429)
		fake_pixiv_set_rate_limit(px, ep, 429, 7, FAULT_COUNT);
	else if (f != F_REFUSED)
		fake_pixiv_set_fault(px, ep, map[f].kind, map[f].param, FAULT_COUNT);
}

/* ---- one cell ---- */

typedef struct cell {
	fault f;
	int rc;              /* the code the call ends with */
	const char *words;   /* in the message, besides the provider and operation */
	unsigned attempts;   /* requests the faulty endpoint sees, exactly */
} cell;

typedef struct measured {
	int rc;
	char msg[1024];
	int64_t ms;
	unsigned long attempts;
} measured;

static long budget_ms(const cell *c)
{
	/* Each attempt may use the whole timeout; pixiv waits at most retry_max_ms between them. */
	return (long)c->attempts * (TIMEOUT_MS + PIXIV_RETRY_MAX_MS) + SLACK_MS;
}

static const char *code_name(int rc)
{
	static const struct { int rc; const char *name; } names[] = {
		{ 0, "OK" }, { PROVAUTH_ENETWORK, "ENETWORK" }, { PROVAUTH_ETIMEOUT, "ETIMEOUT" },
		{ PROVAUTH_EHTTP, "EHTTP" }, { PROVAUTH_EPROTOCOL, "EPROTOCOL" }, { PROVAUTH_ETOOBIG, "ETOOBIG" },
		{ PROVAUTH_ERATELIMIT, "ERATELIMIT" }, { PROVAUTH_ESESSION, "ESESSION" }, { PROVAUTH_EAUTH, "EAUTH" },
	};
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(names); i++)
		if (names[i].rc == rc)
			return names[i].name;
	return provauth_strerror(rc);
}

static int failures_before;

static void cell_begin(void)
{
	failures_before = (int)CU_get_number_of_failures();
}

/* The checks every cell shares; prints the row. */
static void cell_check(const char *provider, const char *op, const char *row, const cell *c, const measured *got,
                       const char *changed)
{
	const char *leak = leaked(got->msg);
	int ok;

	if (got->rc != c->rc)
		fprintf(stderr, "\n  %s %s / %s: rc %d (%s), want %d (%s): \"%s\"", provider, op, fault_names[c->f],
		        got->rc, provauth_strerror(got->rc), c->rc, provauth_strerror(c->rc), got->msg);
	CU_ASSERT_EQUAL(got->rc, c->rc);
	/* The message says which provider and operation failed, and why. */
	CU_ASSERT_PTR_NOT_NULL(strstr(got->msg, provider));
	CU_ASSERT_PTR_NOT_NULL(strstr(got->msg, op));
	if (!strstr(got->msg, c->words) || !strstr(got->msg, provider) || !strstr(got->msg, op))
		fprintf(stderr, "\n  %s %s / %s: message \"%s\" lacks \"%s\"", provider, op, fault_names[c->f],
		        got->msg, c->words);
	CU_ASSERT_PTR_NOT_NULL(strstr(got->msg, c->words));
	/* Each transport failure is told apart from the others, not lumped into one text. */
	if (c->f == F_REFUSED || c->f == F_RESET || c->f == F_SLOW) {
		static const char *const other[F_COUNT] = {
			[F_REFUSED] = "refused", [F_RESET] = "closed", [F_SLOW] = "timed out",
		};
		fault g;
		for (g = 0; g < F_COUNT; g++)
			if (other[g] && g != c->f)
				CU_ASSERT_PTR_NULL(strstr(got->msg, other[g]));
	}
	if (leak)
		fprintf(stderr, "\n  %s %s / %s: message leaks a secret", provider, op, fault_names[c->f]);
	CU_ASSERT_PTR_NULL(leak);
	if (got->attempts != c->attempts)
		fprintf(stderr, "\n  %s %s / %s: %lu requests, want %u", provider, op, fault_names[c->f],
		        got->attempts, c->attempts);
	CU_ASSERT_EQUAL(got->attempts, c->attempts);
	if (got->ms > budget_ms(c))
		fprintf(stderr, "\n  %s %s / %s: took %lld ms, bound %ld ms", provider, op, fault_names[c->f],
		        (long long)got->ms, budget_ms(c));
	CU_ASSERT(got->ms <= budget_ms(c));
	ok = (int)CU_get_number_of_failures() == failures_before;
	if (pa_test_verbose)
		fprintf(stderr, "\n  | %-8s | %-25s | %-19s | %-10s | %8u | %5lld / %5ld    | %-14s | %s",
		        provider, row, fault_names[c->f], code_name(got->rc),
		        c->attempts, (long long)got->ms, budget_ms(c), changed, ok ? "ok" : "FAIL");
}

/* ---- the stored record, compared field by field ---- */

/*
 * Every field of the account as one text, metadata keys in a fixed order.
 * `volatile_key` (a metadata key or state field a cell may legitimately
 * write) is left out,
 * and so are revision and updated_at when it is given: writing it bumps them.
 */
static char *record_text(const provauth_account *a, const char *volatile_key)
{
	json_object *o = json_object_new_object(), *cookies = json_object_new_array(),
	            *keys = json_object_new_array(), *meta = NULL;
	provauth_credential c;
	char *text;
	size_t i;

#define S(k, v) json_object_object_add(o, k, (v) ? json_object_new_string(v) : NULL)
	S("id", a->id);
	S("provider", a->provider);
	S("email", a->email);
	S("password", PA_CRED(a, PASSWORD));
	S("jwt_token", PA_CRED(a, JWT));
	S("refresh_token", PA_CRED(a, REFRESH_TOKEN));
	S("access_token", PA_CRED(a, ACCESS_TOKEN));
#undef S
	json_object_object_add(o, "access_expires_at",
	                       json_object_new_int64(provauth_account_credential_expires(a, PROVAUTH_CRED_ACCESS_TOKEN,
	                                                                                 NULL)));
	/* Cookies as name, value pairs, API keys as kind, value pairs, each in stored order. */
	for (i = 0; i < provauth_account_credential_count(a); i++) {
		if (provauth_account_credential_at(&c, a, i) < 0)
			continue;
		if (strcmp(c.kind, PROVAUTH_CRED_COOKIE) == 0) {
			json_object_array_add(cookies, json_object_new_string(c.name));
			json_object_array_add(cookies, json_object_new_string(c.value));
		} else if (strcmp(c.kind, PROVAUTH_CRED_API_KEY) == 0) {
			json_object_array_add(keys, json_object_new_string(c.name));
			json_object_array_add(keys, json_object_new_string(c.value));
		}
	}
	json_object_object_add(o, "cookies", cookies);
	json_object_object_add(o, "api_keys", keys);
	if (a->metadata && !(meta = json_tokener_parse(a->metadata)))
		meta = json_object_new_string(a->metadata); /* compared as it is */
	if (meta && volatile_key && json_object_is_type(meta, json_type_object))
		json_object_object_del(meta, volatile_key);
	json_object_object_add(o, "metadata", meta);
	/* The core's own state (typed since store schema 4), volatile_key naming its field as it did the key. */
	json_object_object_add(o, "auth_method",
	                       json_object_new_string(provauth_auth_method_name(a->state.auth_method)));
#define S(k, v) json_object_object_add(o, k, (v) ? json_object_new_string(v) : NULL)
	S("health_state", a->state.health.state);
	S("health_reason", a->state.health.reason);
	S("health_code", a->state.health.code);
	S("health_message", a->state.health.message);
	S("refresh_refused", a->state.refresh_refused);
#undef S
	json_object_object_add(o, "health_at", json_object_new_int64(a->state.health.at));
	json_object_object_add(o, "refresh_refused_at", json_object_new_int64(a->state.refresh_refused_at));
	if (!volatile_key || strcmp(volatile_key, "last_reauth_at") != 0)
		json_object_object_add(o, "last_reauth_at", json_object_new_int64(a->state.last_reauth_at));
	if (!volatile_key) {
		json_object_object_add(o, "revision", json_object_new_int64((int64_t)a->revision));
		json_object_object_add(o, "updated_at", json_object_new_int64(a->updated_at));
	}
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	if (!text)
		abort();
	return text;
}

static provauth_account *stored(provauth_manager *m, const char *id)
{
	provauth_account *a = NULL;

	CU_ASSERT_FATAL(provauth_account_get(&a, m, id) == 0);
	account_secrets(a);
	return a;
}

/* ---- managers: one per cell, all on the same sqlite file ---- */

static provauth_manager *open_manager(const char *pv_url, const char *px_token_url, const char *px_api_url)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	char yaml[4096];
	size_t i;
	int found = 0;

	snprintf(yaml, sizeof(yaml),
	         "plugin_dir: []\n"
	         "store:\n  backend: sqlite\n  path: %s\n"
	         "log:\n  level: debug\n"
	         "http:\n  timeout_ms: %d\n  connect_timeout_ms: %d\n  max_reply_bytes: %d\n"
	         "session:\n  recovery_wait_ms: 8000\n  lease_ttl_ms: 8000\n"
	         "providers:\n"
	         "  pixverse:\n    auto_reauth_enabled: true\n    reauth_cooldown: 0\n"
	         "    base_url: %s\n    openapi_base_url: %s\n    web_origin: https://app.pixverse.test\n"
	         "  pixiv:\n    token_url: %s/auth/token\n    api_base_url: %s\n"
	         "    retry_max: %d\n    retry_base_ms: 5\n    retry_max_ms: %d\n    rate_limit_wait: 120\n",
	         db_path, TIMEOUT_MS, CONNECT_TIMEOUT_MS, MAX_REPLY, pv_url, pv_url, px_token_url,
	         px_api_url, PIXIV_RETRY_MAX, PIXIV_RETRY_MAX_MS);
	if (provauth_settings_parse(&s, yaml, strlen(yaml), "test_faults.yaml") != 0)
		fprintf(stderr, "settings: %s\n", provauth_last_error());
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	opts.log = quiet;
	opts.clock = test_clock;
	if (provauth_manager_new(&m, s, &opts) != 0)
		fprintf(stderr, "manager: %s\n", provauth_last_error());
	provauth_settings_free(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	for (i = 0; i < provauth_manager_provider_count(m); i++) {
		provauth_provider_info info;
		if (provauth_manager_provider_info(&info, m, i) == 0 &&
		    (strcmp(info.id, "pixverse") == 0 || strcmp(info.id, "pixiv") == 0))
			found++;
	}
	CU_ASSERT_EQUAL_FATAL(found, 2);
	return m;
}

static provauth_manager *live_manager(void)
{
	return open_manager(fake_pixverse_url(pv), fake_pixiv_base_url(px), fake_pixiv_base_url(px));
}

/* ------------------------------------------------------------------------ */
/* Pixverse                                                                 */
/* ------------------------------------------------------------------------ */

typedef enum pv_op { PV_LOGIN, PV_REFRESH, PV_CREDITS, PV_USER_INFO, PV_CREDITS_AFTER_REFRESH } pv_op;

/* A new fake account imported from a browser session; a password account when asked. */
static char *pv_account(provauth_manager *m, int with_password)
{
	fake_pixverse_account fa;
	char email[64], password[64], input[4096], *tok, *id = NULL;

	seq++;
	snprintf(email, sizeof(email), "fault%d@example.com", seq);
	snprintf(password, sizeof(password), "pw-%d-SECRET-f4u1t", seq);
	secret(password);
	memset(&fa, 0, sizeof(fa));
	fa.email = email;
	fa.password = password;
	fa.credit_daily = 10;
	CU_ASSERT_FATAL(fake_pixverse_add_account(pv, &fa) > 0);
	tok = fake_pixverse_login_token(pv, email);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	secret(tok);
	snprintf(input, sizeof(input), "Cookie: _ai_token=%s; pv_sid=sid-SECRET-%d", tok, seq);
	free(tok);
	if (provauth_account_import(&id, m, "pixverse", "cookies", input) != 0)
		fprintf(stderr, "import: %s\n", provauth_last_error());
	CU_ASSERT_PTR_NOT_NULL_FATAL(id);
	if (with_password && provauth_account_reauth(m, id, password) != 0)
		fprintf(stderr, "reauth: %s\n", provauth_last_error());
	/* The first session stores the account's anonymous id: that write belongs to setup. */
	tok = NULL;
	if (provauth_call(&tok, m, id, "credits", NULL, 0) != 0)
		fprintf(stderr, "credits: %s\n", provauth_last_error());
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	provauth_free(tok);
	provauth_account_free(stored(m, id));
	return id;
}

/*
 * The operation that meets a session error without touching the network:
 * it reports the web API's "token expired" reply, so the only request the
 * call makes is the plugin's own cookie refresh.
 */
static int pv_expired_op(const provauth_session *s, provauth_failure *f, void *payload)
{
	static const char body[] = "{\"ErrCode\":10002,\"ErrMsg\":\"token expired\",\"Resp\":{}}";
	int *calls = payload;

	(void)s;
	/* Only the first token has expired: a retry after a refresh succeeds. */
	if ((*calls)++ > 0)
		return 0;
	provauth_failure_set_http(f, 200, body, strlen(body), -1);
	return PROVAUTH_ESESSION;
}

static const char *const pv_op_names[] = {
	[PV_LOGIN] = "login", [PV_REFRESH] = "refresh", [PV_CREDITS] = "credits",
	[PV_USER_INFO] = "user_info", [PV_CREDITS_AFTER_REFRESH] = "credits",
};
static const char *const pv_op_rows[] = {
	[PV_LOGIN] = "login (reauth)", [PV_REFRESH] = "cookie refresh", [PV_CREDITS] = "credits",
	[PV_USER_INFO] = "user_info", [PV_CREDITS_AFTER_REFRESH] = "credits after refresh",
};

static void pv_cell(pv_op op, const cell *c)
{
	static const fake_pv_endpoint target[] = {
		[PV_LOGIN] = FAKE_PV_EP_LOGIN, [PV_REFRESH] = FAKE_PV_EP_REFRESH, [PV_CREDITS] = FAKE_PV_EP_CREDITS,
		[PV_USER_INFO] = FAKE_PV_EP_USER_INFO, [PV_CREDITS_AFTER_REFRESH] = FAKE_PV_EP_CREDITS,
	};
	provauth_manager *setup = live_manager(), *m;
	provauth_account *before, *after;
	char *id, *out = NULL, *b, *a;
	const char *volatile_key = NULL, *changed = "nothing";
	measured got;
	int64_t t0;
	int ep, op_calls = 0;

	cell_begin();
	/* A login is only ever tried for a password account; a refresh must not fall through to one. */
	id = pv_account(setup, op == PV_LOGIN || op == PV_CREDITS || op == PV_USER_INFO);
	before = stored(setup, id);
	provauth_manager_free(setup);
	m = c->f == F_REFUSED ? open_manager(closed_url, fake_pixiv_base_url(px), fake_pixiv_base_url(px))
	                      : live_manager();
	fake_pixverse_clear_faults(pv);
	fake_pixverse_reset_counters(pv);
	if (op == PV_CREDITS_AFTER_REFRESH)
		CU_ASSERT_FATAL(fake_pixverse_force_errcode(pv, FAKE_PV_EP_CREDITS, 10002, 1) == 0);
	pv_inject(target[op], c->f);

	t0 = now_ms();
	switch (op) {
	case PV_LOGIN:
		got.rc = provauth_account_reauth(m, id, NULL);
		break;
	case PV_REFRESH:
		got.rc = provauth_run_with_session(m, id, "refresh", pv_expired_op, &op_calls);
		break;
	default:
		got.rc = provauth_call(&out, m, id, pv_op_names[op], NULL, 0);
		break;
	}
	got.ms = now_ms() - t0;
	snprintf(got.msg, sizeof(got.msg), "%s", provauth_last_error());
	CU_ASSERT_PTR_NULL(out);
	provauth_free(out);
	got.attempts = fake_pixverse_counter(pv, target[op]);
	if (op == PV_CREDITS_AFTER_REFRESH)
		got.attempts--; /* the request answered "token expired" is not the fault's */
	fake_pixverse_clear_faults(pv);

	/* No other endpoint was asked: a fault is not a session error. */
	for (ep = 0; ep < FAKE_PV_EP_COUNT; ep++) {
		unsigned long want = ep == (int)target[op] ? fake_pixverse_counter(pv, target[op]) : 0;
		if (op == PV_CREDITS_AFTER_REFRESH && ep == FAKE_PV_EP_REFRESH)
			want = 1;
		if (c->f == F_REFUSED)
			want = 0; /* the fake never hears of it */
		CU_ASSERT_EQUAL(fake_pixverse_counter(pv, (fake_pv_endpoint)ep), want);
	}

	after = stored(m, id);
	if (op == PV_LOGIN) {
		/* The attempt counts for the reauth cooldown: that stamp is the one write. */
		volatile_key = "last_reauth_at";
		changed = "last_reauth_at";
		CU_ASSERT(after->state.last_reauth_at > 0);
	}
	if (op == PV_CREDITS_AFTER_REFRESH) {
		/* The refresh succeeded before the fault: its token is stored, and it works. */
		changed = "new token";
		CU_ASSERT_STRING_NOT_EQUAL(PA_CRED(after, JWT), PA_CRED(before, JWT));
		provauth_account_free(before);
		before = stored(m, id);
		fake_pixverse_reset_counters(pv);
		CU_ASSERT_EQUAL(provauth_call(&out, m, id, "credits", NULL, 0), 0);
		provauth_free(out);
		out = NULL;
		CU_ASSERT_EQUAL(fake_pixverse_counter(pv, FAKE_PV_EP_CREDITS), 1);
		CU_ASSERT_EQUAL(fake_pixverse_counter(pv, FAKE_PV_EP_REFRESH) + fake_pixverse_counter(pv, FAKE_PV_EP_LOGIN), 0);
		provauth_account_free(after);
		after = stored(m, id);
	}
	b = record_text(before, volatile_key);
	a = record_text(after, volatile_key);
	if (strcmp(a, b) != 0)
		fprintf(stderr, "\n  pixverse %s / %s: stored account changed:\n    %s\n    %s", pv_op_rows[op],
		        fault_names[c->f], b, a);
	CU_ASSERT_STRING_EQUAL(a, b);
	free(a);
	free(b);
	provauth_account_free(before);
	provauth_account_free(after);
	cell_check("pixverse", pv_op_names[op], pv_op_rows[op], c, &got, changed);
	provauth_manager_free(m);
	free(id);
}

/*
 * What each fault becomes for a Pixverse call, and for a pixiv API call
 * (the pixiv tests share the table): a transport failure carries the
 * host's own account of it (host->last_error, ABI 1.3), so refused, closed
 * mid-reply and timed out read differently, with the timeout in force.
 */
static const cell api_rows[] = {
	{ F_500, PROVAUTH_EHTTP, "HTTP 500", 1 },
	{ F_502, PROVAUTH_EHTTP, "HTTP 502", 1 },
	{ F_503, PROVAUTH_EHTTP, "HTTP 503", 1 },
	{ F_429, PROVAUTH_ERATELIMIT, "retry after 7s", 1 },
	{ F_REFUSED, PROVAUTH_ENETWORK, "connection refused (Failed to connect", 0 },
	{ F_RESET, PROVAUTH_ENETWORK, "connection closed mid-reply (transfer closed with", 1 },
	{ F_SLOW, PROVAUTH_ETIMEOUT, TIMED_OUT_WORDS, 1 },
	{ F_TRUNCATED, PROVAUTH_EPROTOCOL, "not JSON", 1 },
	{ F_NOT_JSON, PROVAUTH_EPROTOCOL, "not JSON", 1 },
	{ F_HUGE, PROVAUTH_ETOOBIG, "larger than 1048576 bytes (http.max_reply_bytes)", 1 },
	{ F_REDIRECT, PROVAUTH_EHTTP, "HTTP 302", 1 },
	{ F_HUGE_HEADER, PROVAUTH_ETOOBIG, HUGE_HEADER_WORDS, 1 },
};

/*
 * Every api_rows cell through `op`. With refresh_first, the refused cell is
 * left out: a refused host cannot refresh first either, so that cell is the
 * plain call's row.
 */
static void run_pv(pv_op op, int refresh_first)
{
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(api_rows); i++)
		if (!refresh_first || api_rows[i].f != F_REFUSED)
			pv_cell(op, &api_rows[i]);
}

static void test_pixverse_login(void)
{
	run_pv(PV_LOGIN, 0);
}

static void test_pixverse_refresh(void)
{
	run_pv(PV_REFRESH, 0);
}

static void test_pixverse_credits(void)
{
	run_pv(PV_CREDITS, 0);
}

static void test_pixverse_user_info(void)
{
	run_pv(PV_USER_INFO, 0);
}

static void test_pixverse_credits_after_refresh(void)
{
	run_pv(PV_CREDITS_AFTER_REFRESH, 1);
}

/* ------------------------------------------------------------------------ */
/* pixiv                                                                    */
/* ------------------------------------------------------------------------ */

typedef enum px_op { PX_REFRESH, PX_USER_DETAIL, PX_USER_DETAIL_AFTER_REFRESH } px_op;

static char *px_account(provauth_manager *m)
{
	char rt[64], uid[16], name[32], mail[64], *id = NULL;

	seq++;
	snprintf(rt, sizeof(rt), "rt-SECRET-%d-%08x", seq, (unsigned)rand());
	snprintf(uid, sizeof(uid), "%d", 7000 + seq);
	snprintf(name, sizeof(name), "user%d", seq);
	snprintf(mail, sizeof(mail), "px%d@example.com", seq);
	secret(rt);
	CU_ASSERT_FATAL(fake_pixiv_add_user(px, rt, uid, name, mail) == 0);
	if (provauth_account_import(&id, m, "pixiv", "refresh_token", rt) != 0)
		fprintf(stderr, "import: %s\n", provauth_last_error());
	CU_ASSERT_PTR_NOT_NULL_FATAL(id);
	provauth_account_free(stored(m, id));
	return id;
}

static const char *const px_op_rows[] = {
	[PX_REFRESH] = "token refresh", [PX_USER_DETAIL] = "user_detail",
	[PX_USER_DETAIL_AFTER_REFRESH] = "user_detail after refresh",
};

static void px_cell(px_op op, const cell *c)
{
	fake_pixiv_endpoint target = op == PX_REFRESH ? FAKE_PIXIV_TOKEN : FAKE_PIXIV_API;
	provauth_manager *setup = live_manager(), *m;
	provauth_account *before, *after;
	char *id, *out = NULL, *b, *a;
	const char *changed = "nothing", *base = fake_pixiv_base_url(px);
	measured got;
	int64_t t0;

	cell_begin();
	id = px_account(setup);
	before = stored(setup, id);
	provauth_manager_free(setup);
	/* Only the faulty host is unreachable: token endpoint and app API are set apart. */
	m = c->f != F_REFUSED ? live_manager()
	    : target == FAKE_PIXIV_TOKEN ? open_manager(fake_pixverse_url(pv), closed_url, base)
	                                 : open_manager(fake_pixverse_url(pv), base, closed_url);
	/* The access token has expired (by the manager's clock and the server's) when a refresh is wanted. */
	if (op != PX_USER_DETAIL) {
		fake_pixiv_expire_access_tokens(px);
		atomic_fetch_add(&fake_now, 4000);
	}
	fake_pixiv_reset_counts(px);
	px_inject(target, c->f);

	t0 = now_ms();
	got.rc = provauth_call(&out, m, id, "user_detail", NULL, 0);
	got.ms = now_ms() - t0;
	snprintf(got.msg, sizeof(got.msg), "%s", provauth_last_error());
	CU_ASSERT_PTR_NULL(out);
	provauth_free(out);
	out = NULL;
	got.attempts = (unsigned long)fake_pixiv_count(px, target);
	fake_pixiv_set_fault(px, target, FAKE_PIXIV_FAULT_NONE, 0, 0);
	fake_pixiv_set_rate_limit(px, target, 429, -1, 0);

	/* The other endpoint: no API call after a failed refresh, one refresh before a retried API call. */
	CU_ASSERT_EQUAL(fake_pixiv_count(px, target == FAKE_PIXIV_TOKEN ? FAKE_PIXIV_API : FAKE_PIXIV_TOKEN),
	                op == PX_USER_DETAIL_AFTER_REFRESH ? 1 : 0);

	after = stored(m, id);
	if (op == PX_USER_DETAIL_AFTER_REFRESH) {
		changed = "new token";
		CU_ASSERT_STRING_NOT_EQUAL(PA_CRED(after, ACCESS_TOKEN), PA_CRED(before, ACCESS_TOKEN));
		CU_ASSERT(PA_CRED_EXPIRES(after, ACCESS_TOKEN) > PA_CRED_EXPIRES(before, ACCESS_TOKEN));
		provauth_account_free(before);
		before = stored(m, id);
		fake_pixiv_reset_counts(px);
		CU_ASSERT_EQUAL(provauth_call(&out, m, id, "user_detail", NULL, 0), 0);
		provauth_free(out);
		out = NULL;
		CU_ASSERT_EQUAL(fake_pixiv_count(px, FAKE_PIXIV_API), 1);
		CU_ASSERT_EQUAL(fake_pixiv_count(px, FAKE_PIXIV_TOKEN), 0);
		provauth_account_free(after);
		after = stored(m, id);
	}
	b = record_text(before, NULL);
	a = record_text(after, NULL);
	if (strcmp(a, b) != 0)
		fprintf(stderr, "\n  pixiv %s / %s: stored account changed", px_op_rows[op], fault_names[c->f]);
	CU_ASSERT_STRING_EQUAL(a, b);
	free(a);
	free(b);
	provauth_account_free(before);
	provauth_account_free(after);
	cell_check("pixiv", "user_detail", px_op_rows[op], c, &got, changed);
	provauth_manager_free(m);
	free(id);
}

/* The token endpoint retries 5xx and network failures retry_max times, nothing else. */
static void test_pixiv_refresh(void)
{
	static const cell cells[] = {
		{ F_500, PROVAUTH_EHTTP, "HTTP 500", 1 + PIXIV_RETRY_MAX },
		{ F_502, PROVAUTH_EHTTP, "HTTP 502", 1 + PIXIV_RETRY_MAX },
		{ F_503, PROVAUTH_EHTTP, "HTTP 503", 1 + PIXIV_RETRY_MAX },
		{ F_429, PROVAUTH_ERATELIMIT, "retry after 7s", 1 },
		{ F_REFUSED, PROVAUTH_ENETWORK, "connection refused (Failed to connect", 0 },
		{ F_RESET, PROVAUTH_ENETWORK, "connection closed mid-reply (transfer closed with", 1 + PIXIV_RETRY_MAX },
		{ F_SLOW, PROVAUTH_ETIMEOUT, TIMED_OUT_WORDS, 1 + PIXIV_RETRY_MAX },
		{ F_TRUNCATED, PROVAUTH_EPROTOCOL, "not JSON", 1 },
		{ F_NOT_JSON, PROVAUTH_EPROTOCOL, "not JSON", 1 },
		{ F_HUGE, PROVAUTH_ETOOBIG, "larger than 1048576 bytes (http.max_reply_bytes)", 1 },
		{ F_REDIRECT, PROVAUTH_EHTTP, "HTTP 302", 1 },
		{ F_HUGE_HEADER, PROVAUTH_ETOOBIG, HUGE_HEADER_WORDS, 1 },
	};
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(cells); i++)
		px_cell(PX_REFRESH, &cells[i]);
}

static void test_pixiv_user_detail(void)
{
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(api_rows); i++)
		px_cell(PX_USER_DETAIL, &api_rows[i]);
}

static void test_pixiv_user_detail_after_refresh(void)
{
	size_t i;

	/* Refused would stop the refresh's API call too: the refused cell is the plain user_detail row. */
	for (i = 0; i < PA_ARRAY_LEN(api_rows); i++)
		if (api_rows[i].f != F_REFUSED)
			px_cell(PX_USER_DETAIL_AFTER_REFRESH, &api_rows[i]);
}

/* ------------------------------------------------------------------------ */

static int suite_init(void)
{
	fake_pixverse_options popts;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	char err[256];

	if (!getenv("PROVAUTH_PLUGIN_PATH")) {
		fprintf(stderr, "PROVAUTH_PLUGIN_PATH is not set (run through make check)\n");
		return -1;
	}
	if (pa_test_verbose)
		fprintf(stderr, "\n  | provider | operation                 | fault               | code       | requests |"
		                " took / bound ms | stored         | result");
	memset(&popts, 0, sizeof(popts));
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pa-faults-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(db_path, sizeof(db_path), "%s/accounts.db", tmpdir);
	/* Every cell's setup logs in once: the fake's login limits would refuse later cells. */
	popts.login_limit = FAKE_PV_UNLIMITED;
	popts.login_limit_global = FAKE_PV_UNLIMITED;
	if (!(pv = fake_pixverse_start(&popts, err, sizeof(err)))) {
		fprintf(stderr, "fake pixverse: %s\n", err);
		return -1;
	}
	if (fake_pixiv_start(&px) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((closed_fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(closed_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(closed_fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	snprintf(closed_url, sizeof(closed_url), "http://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
	return 0;
}

static int suite_clean(void)
{
	size_t i;

	if (closed_fd >= 0)
		close(closed_fd);
	fake_pixverse_stop(pv);
	fake_pixiv_stop(px);
	pa_test_rmtree(tmpdir);
	for (i = 0; i < nsecrets; i++)
		free(secrets[i]);
	free(secrets);
	return 0;
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "pixverse login", test_pixverse_login },
		{ "pixverse cookie refresh", test_pixverse_refresh },
		{ "pixverse credits", test_pixverse_credits },
		{ "pixverse user_info", test_pixverse_user_info },
		{ "pixverse credits after a refresh", test_pixverse_credits_after_refresh },
		{ "pixiv token refresh", test_pixiv_refresh },
		{ "pixiv user_detail", test_pixiv_user_detail },
		{ "pixiv user_detail after a refresh", test_pixiv_user_detail_after_refresh },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "faults", suite_init, suite_clean, tests },
		PA_TEST_SUITE_END
	};

	srand((unsigned)time(NULL));
	return pa_test_run(argc, argv, suites);
}
