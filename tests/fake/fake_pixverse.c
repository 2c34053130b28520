/*
 * The fake Pixverse web API: accounts, sessions, tokens, login limits and
 * the endpoints' answers. Behaviour is documented in fake_pixverse.h.
 */
#include "config.h"
#include "fake_pixverse_private.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define DEFAULT_TTL (30L * 86400)
#define DEFAULT_LOGIN_LIMIT 5
#define DEFAULT_LOGIN_WINDOW 60

/* Login answers; the real service's codes for these are not public. */
#define ERR_WRONG_PASSWORD 500201
#define ERR_GOOGLE_ONLY 500202
#define ERR_BAD_PARAMS 400001
#define ERR_BAD_API_KEY 400017

#define MSG_BLOCKED "Your account is blocked, please contact support."

/* Uploads up to 20 MiB are accepted; a little more is read so that a
 * larger image answers 500030 as the service does, not HTTP 413. */
#define MAX_UPLOAD_BODY ((size_t)24 * 1024 * 1024)

static const fake_route pv_routes[FAKE_PV_EP_COUNT] = {
	[FAKE_PV_EP_LOGIN] = { "login", "POST", "/creative_platform/login" },
	[FAKE_PV_EP_REFRESH] = { "refresh", "POST", "/auth/refresh" },
	[FAKE_PV_EP_CREDITS] = { "credits", "GET", "/creative_platform/user/credits" },
	[FAKE_PV_EP_USER_INFO] = { "user_info", "GET", "/creative_platform/getUserInfo" },
	[FAKE_PV_EP_TASK_LIST] = { "task_list", "GET", "/creative_platform/task/list" },
	[FAKE_PV_EP_OPENAPI_CREDITS] = { "openapi_credits", "GET", "/openapi/v2/account/credits" },
	[FAKE_PV_EP_T2V] = { "t2v", "POST", "/creative_platform/video/t2v" },
	[FAKE_PV_EP_I2V] = { "i2v", "POST", "/creative_platform/video/i2v" },
	[FAKE_PV_EP_EXTEND] = { "extend", "POST", "/creative_platform/video/extend" },
	[FAKE_PV_EP_FRAMES] = { "frames", "POST", "/creative_platform/video/frames" },
	[FAKE_PV_EP_I2I] = { "i2i", "POST", "/creative_platform/image/i2i" },
	[FAKE_PV_EP_VIDEO_LIST] = { "video_list", "POST", "/creative_platform/video/list/personal" },
	[FAKE_PV_EP_IMAGE_LIST] = { "image_list", "POST", "/creative_platform/image/list/personal" },
	[FAKE_PV_EP_VIDEO_DELETE] = { "video_delete", "POST", "/creative_platform/video/delete" },
	[FAKE_PV_EP_IMAGE_DELETE] = { "image_delete", "POST", "/creative_platform/image/delete" },
	[FAKE_PV_EP_PLAN_DETAILS] = { "plan_details", "POST", "/creative_platform/toc/members/plan_details" },
	[FAKE_PV_EP_UPLOAD] = { "upload", "POST", "/openapi/v2/image/upload" },
	[FAKE_PV_EP_MEDIA] = { "media", "GET", "/media/*" },
	[FAKE_PV_EP_GOOGLE_LOGIN] = { "google_login", "POST", "/creative_platform/oauth2/google/auto_login" },
};

static const size_t pv_route_max_body[FAKE_PV_EP_COUNT] = {
	[FAKE_PV_EP_UPLOAD] = MAX_UPLOAD_BODY,
};


int fake_pixverse_endpoint_parse(const char *name)
{
	int i;

	if (!name)
		return -2;
	if (!strcmp(name, "total"))
		return FAKE_PV_EP_TOTAL;
	for (i = 0; i < FAKE_PV_EP_COUNT; i++)
		if (!strcmp(name, pv_routes[i].name))
			return i;
	return -2;
}

const char *fake_pixverse_endpoint_name(fake_pv_endpoint ep)
{
	if (ep == FAKE_PV_EP_TOTAL)
		return "total";
	if ((int)ep < 0 || ep >= FAKE_PV_EP_COUNT)
		return "unknown";
	return pv_routes[ep].name;
}

const char *fake_pixverse_errmsg(int code)
{
	switch (code) {
	case 0: return "success";
	case 10001: return "Token is invalid";
	case 10002: return "token expired";
	case 10003: return "user is not login";
	case 10005: return "Your account has been logged in elsewhere";
	case 500043: return "All credits have been used up";
	case 500044: return "The number of concurrent generations has reached the limit";
	case 500054: return "The output may contain inappropriate content";
	case 500063: return "The prompt contains sensitive content";
	case 500069: return "The system is under high load, please try again later";
	case 500090: return "Insufficient balance";
	case 500200: return "User does not exist.";
	case ERR_WRONG_PASSWORD: return "The password is incorrect.";
	case ERR_GOOGLE_ONLY:
		return "This account was created with Google, please sign in via OAuth.";
	case 500213: return "Too many login attempts, please try again later.";
	case ERR_BAD_PARAMS: return "Invalid request parameters.";
	case ERR_BAD_API_KEY: return "invalid api key";
	case 400011: return "Required parameter is empty";
	case 400018: return "The prompt is too long";
	case 400019: return "The negative prompt is too long";
	case 400032: return "Invalid image id";
	case 500030: return "Image is too large";
	case 500031: return "Image format is not supported";
	case 500032: return "Image cannot be read";
	case 500064: return "content has been deleted";
	default: return "error";
	}
}

/* ---- small helpers (callers hold the lock) ---- */

static pv_account *find_account(fake_pixverse *pv, const char *name)
{
	size_t i;

	if (!name || !*name)
		return NULL;
	for (i = 0; i < pv->naccounts; i++)
		if (!strcasecmp(pv->accounts[i].email, name) ||
		    !strcasecmp(pv->accounts[i].username, name))
			return &pv->accounts[i];
	return NULL;
}

pv_account *fake_pv_find_account(fake_pixverse *pv, const char *name)
{
	return find_account(pv, name);
}

void fake_pv_media_base(fake_pixverse *pv, char *buf, size_t size)
{
	snprintf(buf, size, "%s/media", fake_server_url(pv->server));
}

static time_t now_of(fake_pixverse *pv)
{
	return fake_server_now(pv->server);
}

static void attempts_prune(attempt_log *log, time_t now, long window)
{
	size_t i, kept = 0;

	for (i = 0; i < log->n; i++)
		if (log->at[i] > now - window)
			log->at[kept++] = log->at[i];
	log->n = kept;
}

static int attempts_full(attempt_log *log, time_t now, long window, unsigned limit)
{
	attempts_prune(log, now, window);
	return limit != FAKE_PV_UNLIMITED && log->n >= limit;
}

static void attempts_add(attempt_log *log, time_t now)
{
	if (log->n == log->cap) {
		size_t cap = log->cap ? log->cap * 2 : 8;
		time_t *p = realloc(log->at, cap * sizeof(*p));

		if (!p)
			return;
		log->at = p;
		log->cap = cap;
	}
	log->at[log->n++] = now;
}

/* A token of a new serial for the account's given session. */
static char *issue_token(fake_pixverse *pv, pv_account *acct, unsigned long session)
{
	json_object *payload;
	char header[96], *token;
	size_t serial;

	if (pv->ntokens == pv->cap_tokens) {
		size_t cap = pv->cap_tokens ? pv->cap_tokens * 2 : 16;
		pv_token *p = realloc(pv->tokens, cap * sizeof(*p));

		if (!p)
			return NULL;
		pv->tokens = p;
		pv->cap_tokens = cap;
	}
	serial = pv->ntokens + 1;
	snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%zu\"}", serial);
	payload = json_object_new_object();
	json_object_object_add(payload, "AccountId", json_object_new_int(acct->id));
	json_object_object_add(payload, "ExpireTime",
		json_object_new_int64((int64_t)(now_of(pv) + pv->opts.token_ttl)));
	json_object_object_add(payload, "Username", json_object_new_string(acct->username));
	token = fake_jwt_sign(pv->secret, sizeof(pv->secret), header,
		fake_json_text(payload, NULL));
	json_object_put(payload);
	if (!token)
		return NULL;
	pv->tokens[pv->ntokens].account = (size_t)(acct - pv->accounts);
	pv->tokens[pv->ntokens].session = session;
	pv->ntokens++;
	return token;
}

/* The current session's ids: trace and anon, or unknown (NULL) until its first authenticated request. */
static void session_ids(pv_account *acct, const char *trace, const char *anon)
{
	acct->ids_known = trace != NULL;
	snprintf(acct->trace_id, sizeof(acct->trace_id), "%s", trace ? trace : "");
	snprintf(acct->anonymous_id, sizeof(acct->anonymous_id), "%s", anon ? anon : "");
}

static char *new_session(fake_pixverse *pv, pv_account *acct)
{
	acct->session = ++pv->next_session;
	session_ids(acct, NULL, NULL);
	return issue_token(pv, acct, acct->session);
}

/*
 * Like the service: a session is tied to the client ids it was created
 * with (the login's, else those of its first authenticated request), and
 * answers 10005 to any other pair.
 */
static int ids_match(pv_account *acct, const fake_request *req)
{
	const char *trace = fake_request_header(req, "ai-trace-id");
	const char *anon = fake_request_header(req, "ai-anonymous-id");

	if (!acct->ids_known) {
		session_ids(acct, trace ? trace : "", anon ? anon : "");
		return 1;
	}
	if (strcmp(trace ? trace : "", acct->trace_id) || strcmp(anon ? anon : "", acct->anonymous_id)) {
		acct->id_mismatches++;
		return 0;
	}
	return 1;
}

void fake_pv_reply(const fake_request *req, fake_response *resp, int code,
	const char *msg, json_object *payload)
{
	json_object *env = json_object_new_object();

	json_object_object_add(env, "ErrCode", json_object_new_int(code));
	json_object_object_add(env, "ErrMsg",
		json_object_new_string(msg ? msg : fake_pixverse_errmsg(code)));
	if (req->fault.kind == FAKE_FAULT_NO_PAYLOAD)
		json_object_put(payload);
	else
		json_object_object_add(env, "Resp", payload ? payload : json_object_new_object());
	fake_response_json(resp, 200, env);
	resp->log_code = code;
	resp->has_log_code = 1;
}

/*
 * What a careless or hostile server does with what it was sent: `prefix`
 * then `text` upper-cased with `sep` after every character (sep 0: none),
 * in a malloc()ed string, or NULL.
 */
static char *echo_text(const char *prefix, const char *text, char sep)
{
	size_t n = strlen(prefix), i, o;
	char *out = malloc(n + 2 * strlen(text) + 1);

	if (!out)
		return NULL;
	memcpy(out, prefix, n);
	for (i = 0, o = n; text[i]; i++) {
		out[o++] = (char)toupper((unsigned char)text[i]);
		if (sep && text[i + 1])
			out[o++] = sep;
	}
	out[o] = '\0';
	return out;
}

static void set_token_cookie(fake_response *resp, const char *token)
{
	size_t len = strlen(token) + 64;
	char *v = malloc(len);

	if (!v)
		return;
	snprintf(v, len, "_ai_token=%s; Path=/; HttpOnly", token);
	fake_response_header(resp, "Set-Cookie", v);
	free(v);
}

/*
 * Checks the token of an API call (see the order in fake_pixverse.h).
 * Returns 0 with *out set, or the ErrCode, with *msg set when the usual
 * message does not fit.
 */
static int check_token(fake_pixverse *pv, const fake_request *req, int refresh,
	pv_account **out, pv_token **tok_out, const char **msg)
{
	const char *token = fake_request_header(req, "token");
	json_object *header, *payload;
	long long account_id, expire;
	const char *kid;
	char *end;
	unsigned long serial;
	pv_account *acct;
	pv_token *tok;
	int rc, code = 0;

	*msg = NULL;
	if (!token || !*token)
		token = fake_request_cookie(req, "_ai_token");
	if (!token || !*token)
		return 10003;
	rc = fake_jwt_decode(&header, &payload, pv->secret, sizeof(pv->secret), token);
	if (rc == FAKE_JWT_MALFORMED || fake_json_int64(&account_id, payload, "AccountId") < 0 ||
	    fake_json_int64(&expire, payload, "ExpireTime") < 0) {
		code = 10003;
		goto out;
	}
	if (rc == FAKE_JWT_BAD_SIGNATURE) {
		code = 10001;
		goto out;
	}
	kid = fake_json_str(header, "kid");
	errno = 0;
	serial = kid ? strtoul(kid, &end, 10) : 0;
	if (!kid || errno || *end || serial == 0 || serial > pv->ntokens) {
		code = 10001;
		goto out;
	}
	tok = &pv->tokens[serial - 1];
	acct = &pv->accounts[tok->account];
	if (acct->id != account_id) {
		code = 10001;
		goto out;
	}
	if (acct->blocked) {
		*msg = MSG_BLOCKED;
		code = 10001;
		goto out;
	}
	if (!refresh && (expire < (long long)now_of(pv) || serial <= acct->expire_floor)) {
		code = 10002;
		goto out;
	}
	if (tok->session != acct->session || !ids_match(acct, req)) {
		code = 10005;
		goto out;
	}
	*out = acct;
	*tok_out = tok;
out:
	json_object_put(header);
	json_object_put(payload);
	return code;
}

/* ---- endpoints ---- */

/*
 * A sign-in's answer: the new session takes the request's client ids, and
 * its token goes in Resp.Result and the _ai_token cookie. A password login
 * answers DeleteAt, Google's auto_login the Nickname (the notes' fields).
 * Frees token.
 */
static void reply_signed_in(const fake_request *req, fake_response *resp, pv_account *acct, char *token, int google)
{
	const char *trace = fake_request_header(req, "ai-trace-id");
	json_object *result = json_object_new_object(), *wrap = json_object_new_object();

	session_ids(acct, trace ? trace : "", fake_request_header(req, "ai-anonymous-id"));
	json_object_object_add(result, "AccountId", json_object_new_int(acct->id));
	json_object_object_add(result, "Username", json_object_new_string(acct->username));
	if (google)
		json_object_object_add(result, "Nickname", json_object_new_string(acct->nickname ? acct->nickname : ""));
	json_object_object_add(result, "Token", json_object_new_string(token));
	if (!google)
		json_object_object_add(result, "DeleteAt", json_object_new_int(0));
	json_object_object_add(wrap, "Result", result);
	fake_pv_reply(req, resp, 0, NULL, wrap);
	set_token_cookie(resp, token);
	free(token);
}

static void handle_login(fake_pixverse *pv, const fake_request *req, fake_response *resp)
{
	json_object *body = fake_json_parse(req->body, req->body_len);
	const char *user, *pass;
	pv_account *acct;
	time_t now = now_of(pv);
	char *token;

	if (!body || !json_object_is_type(body, json_type_object)) {
		json_object_put(body);
		fake_pv_reply(req, resp, ERR_BAD_PARAMS, NULL, NULL);
		return;
	}
	user = fake_json_str(body, "username");
	if (!user)
		user = fake_json_str(body, "Username");
	pass = fake_json_str(body, "password");
	if (!pass)
		pass = fake_json_str(body, "Password");
	if (!user || !*user) {
		json_object_put(body);
		fake_pv_reply(req, resp, ERR_BAD_PARAMS, NULL, NULL);
		return;
	}
	acct = find_account(pv, user);
	if (attempts_full(&pv->logins, now, pv->opts.login_window, pv->opts.login_limit_global) ||
	    (acct && attempts_full(&acct->logins, now, pv->opts.login_window,
				  pv->opts.login_limit))) {
		json_object_put(body);
		fake_pv_reply(req, resp, 500213, NULL, NULL);
		return;
	}
	attempts_add(&pv->logins, now);
	if (acct)
		attempts_add(&acct->logins, now);

	if (!acct)
		fake_pv_reply(req, resp, 500200, NULL, NULL);
	else if (acct->blocked)
		fake_pv_reply(req, resp, 10001, MSG_BLOCKED, NULL);
	else if (acct->google_only)
		fake_pv_reply(req, resp, ERR_GOOGLE_ONLY, NULL, NULL);
	else if ((!pass || !acct->password || strcmp(pass, acct->password)) && pv->echo && pass) {
		char *m = echo_text("Wrong password: ", pass, '*');
		fake_pv_reply(req, resp, ERR_WRONG_PASSWORD, m, NULL);
		free(m);
	} else if (!pass || !acct->password || strcmp(pass, acct->password))
		fake_pv_reply(req, resp, ERR_WRONG_PASSWORD, NULL, NULL);
	else if (!(token = new_session(pv, acct)))
		fake_pv_reply(req, resp, 500069, NULL, NULL);
	else {
		pv->logins_ok++;
		reply_signed_in(req, resp, acct, token, 0);
	}
	json_object_put(body);
}

#define GOOGLE_ISSUER "https://accounts.google.com"
#define GOOGLE_AUDIENCE "fake-pixverse-web.apps.googleusercontent.com"

/* The account a Google ID token names, or NULL with *code why not (0: the token is good, no such user). */
static pv_account *google_account(fake_pixverse *pv, const char *id_token, int *code)
{
	json_object *header = NULL, *payload = NULL, *v;
	long long exp;
	pv_account *acct = NULL;
	const char *iss, *aud, *email;

	*code = ERR_BAD_PARAMS;
	if (!id_token || fake_jwt_decode(&header, &payload, pv->google_secret, sizeof(pv->google_secret), id_token) !=
	    FAKE_JWT_OK)
		goto out;
	iss = fake_json_str(payload, "iss");
	aud = fake_json_str(payload, "aud");
	email = fake_json_str(payload, "email");
	if (!iss || strcmp(iss, GOOGLE_ISSUER) || !aud || strcmp(aud, GOOGLE_AUDIENCE) || !email ||
	    !json_object_object_get_ex(payload, "email_verified", &v) || !json_object_get_boolean(v) ||
	    fake_json_int64(&exp, payload, "exp") < 0 || exp <= (long long)now_of(pv))
		goto out;
	*code = 0;
	acct = find_account(pv, email);
	if (!acct)
		*code = 500200;
out:
	json_object_put(header);
	json_object_put(payload);
	return acct;
}

static void handle_google_login(fake_pixverse *pv, const fake_request *req, fake_response *resp)
{
	json_object *body = fake_json_parse(req->body, req->body_len);
	pv_account *acct;
	char *token;
	int code;

	if (!body || !json_object_is_type(body, json_type_object) || !fake_json_str(body, "id_token")) {
		json_object_put(body);
		fake_pv_reply(req, resp, ERR_BAD_PARAMS, NULL, NULL);
		return;
	}
	acct = google_account(pv, fake_json_str(body, "id_token"), &code);
	if (code == ERR_BAD_PARAMS)
		fake_pv_reply(req, resp, code, "id_token is invalid", NULL);
	else if (!acct)
		fake_pv_reply(req, resp, code, NULL, NULL);
	else if (acct->blocked)
		fake_pv_reply(req, resp, 10001, MSG_BLOCKED, NULL);
	else if (!(token = new_session(pv, acct)))
		fake_pv_reply(req, resp, 500069, NULL, NULL);
	else
		reply_signed_in(req, resp, acct, token, 1);
	json_object_put(body);
}

static void handle_refresh(fake_pixverse *pv, const fake_request *req, fake_response *resp)
{
	pv_account *acct;
	pv_token *tok;
	const char *msg;
	int code = check_token(pv, req, 1, &acct, &tok, &msg);
	char *token, *v;
	size_t len;

	if (code) {
		fake_pv_reply(req, resp, code, msg, NULL);
		return;
	}
	token = issue_token(pv, acct, tok->session);
	if (!token) {
		fake_pv_reply(req, resp, 500069, NULL, NULL);
		return;
	}
	fake_pv_reply(req, resp, 0, NULL, NULL);
	switch (pv->opts.refresh_delivery) {
	case FAKE_PV_REFRESH_BEARER:
		len = strlen(token) + 16;
		v = malloc(len);
		if (v) {
			snprintf(v, len, "Bearer %s", token);
			fake_response_header(resp, "Authorization", v);
			free(v);
		}
		break;
	case FAKE_PV_REFRESH_TOKEN_HEADER:
		fake_response_header(resp, "token", token);
		break;
	default:
		set_token_cookie(resp, token);
		break;
	}
	free(token);
}

static json_object *task(int type, int sub, int reward, int progress, int total,
	int completed, time_t expires)
{
	json_object *t = json_object_new_object();

	json_object_object_add(t, "task_type", json_object_new_int(type));
	json_object_object_add(t, "sub_type", json_object_new_int(sub));
	json_object_object_add(t, "reward", json_object_new_int(reward));
	json_object_object_add(t, "progress", json_object_new_int(progress));
	json_object_object_add(t, "total_counts", json_object_new_int(total));
	json_object_object_add(t, "completed_counts", json_object_new_int(completed));
	json_object_object_add(t, "expired_time", json_object_new_int64((int64_t)expires));
	return t;
}

pv_account *fake_pv_session(fake_pixverse *pv, const fake_request *req, fake_response *resp)
{
	pv_account *acct;
	pv_token *tok;
	const char *msg;
	int code = check_token(pv, req, 0, &acct, &tok, &msg);

	if (code && pv->echo && fake_request_header(req, "Cookie")) {
		char *m = echo_text("Bad cookies: ", fake_request_header(req, "Cookie"), 0);
		fake_pv_reply(req, resp, code, m, NULL);
		free(m);
		return NULL;
	}
	if (code) {
		fake_pv_reply(req, resp, code, msg, NULL);
		return NULL;
	}
	return acct;
}

static void handle_session_call(fake_pixverse *pv, int ep, const fake_request *req,
	fake_response *resp)
{
	pv_account *acct = fake_pv_session(pv, req, resp);
	json_object *r;
	time_t day_end;

	if (!acct)
		return;
	switch (ep) {
	case FAKE_PV_EP_CREDITS:
		r = json_object_new_object();
		json_object_object_add(r, "credit_daily", json_object_new_int64(acct->credit_daily));
		json_object_object_add(r, "credit_monthly", json_object_new_int64(acct->credit_monthly));
		json_object_object_add(r, "credit_package", json_object_new_int64(acct->credit_package));
		break;
	case FAKE_PV_EP_USER_INFO:
		r = json_object_new_object();
		json_object_object_add(r, "Mail", json_object_new_string(acct->email));
		json_object_object_add(r, "Username", json_object_new_string(acct->username));
		json_object_object_add(r, "Nickname", json_object_new_string(acct->nickname));
		json_object_object_add(r, "AccId", json_object_new_int(acct->id));
		break;
	default:
		/* The ad task is deliberately not first: clients must search. */
		day_end = (now_of(pv) / 86400 + 1) * 86400;
		r = json_object_new_array();
		json_object_array_add(r, task(2, 3, 10, 0, 1, 0, day_end));
		json_object_array_add(r, task(1, 11, acct->ad_reward, acct->ad_progress,
			acct->ad_total, acct->ad_completed, day_end));
		break;
	}
	fake_pv_reply(req, resp, 0, NULL, r);
}

static void handle_openapi_credits(fake_pixverse *pv, const fake_request *req,
	fake_response *resp)
{
	const char *key = fake_request_header(req, "API-KEY");
	json_object *r;
	size_t i;

	for (i = 0; key && *key && i < pv->naccounts; i++) {
		if (pv->accounts[i].api_key && !strcmp(pv->accounts[i].api_key, key)) {
			r = json_object_new_object();
			json_object_object_add(r,
				pv->opts.openapi_total_credits ? "total_credits" : "credits",
				json_object_new_int64(pv->accounts[i].openapi_credits));
			fake_pv_reply(req, resp, 0, NULL, r);
			return;
		}
	}
	fake_pv_reply(req, resp, ERR_BAD_API_KEY, NULL, NULL);
}

static void pv_handle(void *ctx, const fake_request *req, fake_response *resp)
{
	fake_pixverse *pv = ctx;

	/* Jobs that ended since the last request give their credits back first,
	 * as the service's own bookkeeping would have by then. */
	fake_pv_jobs_settle(pv);
	if (req->fault.kind == FAKE_FAULT_APP_ERROR) {
		fake_pv_reply(req, resp, (int)req->fault.param, NULL, NULL);
		return;
	}
	switch (req->route) {
	case FAKE_PV_EP_LOGIN:
		handle_login(pv, req, resp);
		break;
	case FAKE_PV_EP_GOOGLE_LOGIN:
		handle_google_login(pv, req, resp);
		break;
	case FAKE_PV_EP_REFRESH:
		handle_refresh(pv, req, resp);
		break;
	case FAKE_PV_EP_OPENAPI_CREDITS:
		handle_openapi_credits(pv, req, resp);
		break;
	case FAKE_PV_EP_UPLOAD:
		fake_pv_upload_handle(pv, req, resp);
		break;
	case FAKE_PV_EP_MEDIA:
		fake_pv_media_handle(pv, req, resp);
		break;
	case FAKE_PV_EP_T2V:
	case FAKE_PV_EP_I2V:
	case FAKE_PV_EP_EXTEND:
	case FAKE_PV_EP_FRAMES:
	case FAKE_PV_EP_I2I:
	case FAKE_PV_EP_VIDEO_LIST:
	case FAKE_PV_EP_IMAGE_LIST:
	case FAKE_PV_EP_VIDEO_DELETE:
	case FAKE_PV_EP_IMAGE_DELETE:
	case FAKE_PV_EP_PLAN_DETAILS:
		fake_pv_jobs_handle(pv, req, resp);
		break;
	default:
		handle_session_call(pv, req->route, req, resp);
		break;
	}
}

static void pv_observe(void *ctx, const fake_request *req, fake_response *resp)
{
	fake_pixverse *pv = ctx;
	const char *platform = fake_request_header(req, "x-platform");
	const char *trace = fake_request_header(req, "ai-trace-id");
	int web = req->route != FAKE_PV_EP_OPENAPI_CREDITS && req->route != FAKE_PV_EP_UPLOAD;
	int generation = req->route >= FAKE_PV_EP_T2V && req->route <= FAKE_PV_EP_I2I;
	const char *refresh = fake_request_header(req, "refresh");
	int refresh_credit = refresh && !strcmp(refresh, "credit");

	(void)resp;
	/* The media host is a CDN: no client ids, no counters but its route's. */
	if (req->route == FAKE_PV_EP_MEDIA)
		return;
	if (generation && !refresh_credit)
		pv->header_counts[FAKE_PV_MISSING_REFRESH_CREDIT]++;
	if (!generation && refresh_credit && req->route >= FAKE_PV_EP_VIDEO_LIST &&
	    req->route <= FAKE_PV_EP_PLAN_DETAILS)
		pv->header_counts[FAKE_PV_STRAY_REFRESH_CREDIT]++;
	if (web && (!platform || strcmp(platform, "Web")))
		pv->header_counts[FAKE_PV_MISSING_PLATFORM]++;
	if (web && !fake_request_header(req, "ai-anonymous-id"))
		pv->header_counts[FAKE_PV_MISSING_ANONYMOUS_ID]++;
	if (req->route >= 0 && req->route < FAKE_PV_EP_COUNT)
		snprintf(pv->last_anonymous_id[req->route], sizeof(pv->last_anonymous_id[0]), "%s",
		         fake_request_header(req, "ai-anonymous-id") ? fake_request_header(req, "ai-anonymous-id") : "");
	if (!trace || !*trace) {
		pv->header_counts[FAKE_PV_MISSING_TRACE_ID]++;
		return;
	}
	if (!strcmp(trace, pv->last_trace))
		pv->header_counts[FAKE_PV_REUSED_TRACE_ID]++;
	snprintf(pv->last_trace, sizeof(pv->last_trace), "%s", trace);
}

static void pv_stats(void *ctx, json_object *stats)
{
	fake_pixverse *pv = ctx;
	json_object *h = json_object_new_object();
	int i;

	json_object_object_add(h, "missing_x_platform",
		json_object_new_int64((int64_t)pv->header_counts[FAKE_PV_MISSING_PLATFORM]));
	json_object_object_add(h, "missing_trace_id",
		json_object_new_int64((int64_t)pv->header_counts[FAKE_PV_MISSING_TRACE_ID]));
	json_object_object_add(h, "missing_anonymous_id",
		json_object_new_int64((int64_t)pv->header_counts[FAKE_PV_MISSING_ANONYMOUS_ID]));
	json_object_object_add(h, "reused_trace_id",
		json_object_new_int64((int64_t)pv->header_counts[FAKE_PV_REUSED_TRACE_ID]));
	json_object_object_add(h, "missing_refresh_credit",
		json_object_new_int64((int64_t)pv->header_counts[FAKE_PV_MISSING_REFRESH_CREDIT]));
	json_object_object_add(h, "stray_refresh_credit",
		json_object_new_int64((int64_t)pv->header_counts[FAKE_PV_STRAY_REFRESH_CREDIT]));
	json_object_object_add(stats, "headers", h);
	h = json_object_new_object();
	for (i = 0; i < FAKE_PV_EP_COUNT; i++)
		json_object_object_add(h, pv_routes[i].name, json_object_new_string(pv->last_anonymous_id[i]));
	json_object_object_add(stats, "last_anonymous_id", h);
	json_object_object_add(stats, "logins_ok", json_object_new_int64((int64_t)pv->logins_ok));
	json_object_object_add(stats, "accounts", json_object_new_int64((int64_t)pv->naccounts));
	fake_pv_jobs_stats(pv, stats);
}

static void pv_reset(void *ctx)
{
	fake_pixverse *pv = ctx;

	memset(pv->header_counts, 0, sizeof(pv->header_counts));
	pv->logins_ok = 0;
	pv->last_trace[0] = '\0';
	memset(pv->last_anonymous_id, 0, sizeof(pv->last_anonymous_id));
	fake_pv_jobs_reset(pv);
}

/* ---- accounts ---- */

static void account_free(pv_account *a)
{
	free(a->email);
	free(a->password);
	free(a->username);
	free(a->nickname);
	free(a->api_key);
	free(a->logins.at);
}

static char *dup_or_null(const char *s, int *failed)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*failed = 1;
	return d;
}

int fake_pixverse_add_account(fake_pixverse *pv, const fake_pixverse_account *in)
{
	pv_account a;
	char *user = NULL;
	int failed = 0, id = -1;

	if (!pv || !in || !in->email || !*in->email || (!in->password && !in->google_only))
		return -1;
	if (in->username && *in->username) {
		user = strdup(in->username);
	} else {
		const char *at = strchr(in->email, '@');
		size_t n = at ? (size_t)(at - in->email) : strlen(in->email);

		user = strndup(in->email, n ? n : strlen(in->email));
	}
	if (!user)
		return -1;

	fake_server_lock(pv->server);
	if (find_account(pv, in->email) || find_account(pv, user))
		goto out;
	if (pv->naccounts == pv->cap_accounts) {
		size_t cap = pv->cap_accounts ? pv->cap_accounts * 2 : 8;
		pv_account *p = realloc(pv->accounts, cap * sizeof(*p));

		if (!p)
			goto out;
		pv->accounts = p;
		pv->cap_accounts = cap;
	}
	memset(&a, 0, sizeof(a));
	a.id = (int)pv->naccounts + 1001;
	a.email = dup_or_null(in->email, &failed);
	a.password = dup_or_null(in->password, &failed);
	a.username = user;
	a.nickname = dup_or_null(in->nickname && *in->nickname ? in->nickname : user, &failed);
	a.api_key = dup_or_null(in->api_key, &failed);
	user = NULL;
	if (failed) {
		account_free(&a);
		goto out;
	}
	a.google_only = in->google_only;
	a.blocked = in->blocked;
	a.credit_daily = in->credit_daily;
	a.credit_monthly = in->credit_monthly;
	a.credit_package = in->credit_package;
	a.openapi_credits = in->openapi_credits;
	a.ad_reward = in->ad_reward;
	a.ad_progress = in->ad_progress;
	a.ad_total = in->ad_total;
	a.ad_completed = in->ad_completed;
	a.plan_type = in->plan_type;
	a.gen_simultaneously = in->gen_simultaneously == 0 ? 2 :
		in->gen_simultaneously < 0 ? 0 : in->gen_simultaneously;
	pv->accounts[pv->naccounts++] = a;
	id = a.id;
out:
	fake_server_unlock(pv->server);
	free(user);
	return id;
}

int fake_pixverse_add_demo_accounts(fake_pixverse *pv)
{
	static const fake_pixverse_account demo[] = {
		{ .email = "alice@example.com", .password = "alice-demo-pw",
		  .nickname = "Alice", .credit_daily = 50, .credit_monthly = 1000,
		  .credit_package = 200, .api_key = "pv-demo-alice", .openapi_credits = 500,
		  .ad_reward = 30, .ad_total = 3 },
		{ .email = "dave@example.com", .password = "dave-demo-pw",
		  .nickname = "Dave", .credit_daily = 30, .credit_monthly = 0,
		  .credit_package = 0, .ad_reward = 30, .ad_progress = 1, .ad_total = 3,
		  .ad_completed = 1 },
		{ .email = "bob@example.com", .google_only = 1, .nickname = "Bob",
		  .credit_daily = 10, .ad_reward = 30, .ad_total = 3 },
		{ .email = "eve@example.com", .password = "eve-demo-pw", .blocked = 1,
		  .nickname = "Eve" },
	};
	size_t i;

	for (i = 0; i < sizeof(demo) / sizeof(demo[0]); i++)
		if (fake_pixverse_add_account(pv, &demo[i]) < 0)
			return -1;
	return 0;
}

static int json_opt_str(const char **out, json_object *o, const char *key,
	char *err, size_t errlen, const char *where)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(err, errlen, "%s: '%s' must be a string", where, key);
		return -1;
	}
	*out = json_object_get_string(v);
	return 0;
}

static int json_opt_long(long *out, json_object *o, const char *key,
	char *err, size_t errlen, const char *where)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (json_object_is_type(v, json_type_boolean)) {
		*out = json_object_get_boolean(v);
		return 0;
	}
	if (!json_object_is_type(v, json_type_int)) {
		snprintf(err, errlen, "%s: '%s' must be an integer", where, key);
		return -1;
	}
	*out = (long)json_object_get_int64(v);
	return 0;
}

/* Fills *a from o; the strings stay owned by o. */
static int account_from_json(fake_pixverse_account *a, json_object *o,
	char *err, size_t errlen, const char *where)
{
	long google = 0, blocked = 0, reward = 0, progress = 0, total = 0, completed = 0;
	long plan_type = 0, gen_simultaneously = 0;

	memset(a, 0, sizeof(*a));
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "%s: an account must be a JSON object", where);
		return -1;
	}
	if (json_opt_str(&a->email, o, "email", err, errlen, where) < 0 ||
	    json_opt_str(&a->password, o, "password", err, errlen, where) < 0 ||
	    json_opt_str(&a->username, o, "username", err, errlen, where) < 0 ||
	    json_opt_str(&a->nickname, o, "nickname", err, errlen, where) < 0 ||
	    json_opt_str(&a->api_key, o, "api_key", err, errlen, where) < 0 ||
	    json_opt_long(&google, o, "google_only", err, errlen, where) < 0 ||
	    json_opt_long(&blocked, o, "blocked", err, errlen, where) < 0 ||
	    json_opt_long(&a->credit_daily, o, "credit_daily", err, errlen, where) < 0 ||
	    json_opt_long(&a->credit_monthly, o, "credit_monthly", err, errlen, where) < 0 ||
	    json_opt_long(&a->credit_package, o, "credit_package", err, errlen, where) < 0 ||
	    json_opt_long(&a->openapi_credits, o, "openapi_credits", err, errlen, where) < 0 ||
	    json_opt_long(&reward, o, "ad_reward", err, errlen, where) < 0 ||
	    json_opt_long(&progress, o, "ad_progress", err, errlen, where) < 0 ||
	    json_opt_long(&total, o, "ad_total", err, errlen, where) < 0 ||
	    json_opt_long(&completed, o, "ad_completed", err, errlen, where) < 0 ||
	    json_opt_long(&plan_type, o, "plan_type", err, errlen, where) < 0 ||
	    json_opt_long(&gen_simultaneously, o, "gen_simultaneously", err, errlen, where) < 0)
		return -1;
	if (!a->email || !*a->email) {
		snprintf(err, errlen, "%s: 'email' is required", where);
		return -1;
	}
	a->google_only = google != 0;
	a->blocked = blocked != 0;
	if (!a->password && !a->google_only) {
		snprintf(err, errlen, "%s (%s): 'password' is required unless google_only",
			where, a->email);
		return -1;
	}
	a->ad_reward = (int)reward;
	a->ad_progress = (int)progress;
	a->ad_total = (int)total;
	a->ad_completed = (int)completed;
	a->plan_type = (int)plan_type;
	/* The file says what plan_details answers: a literal 0 means 0. */
	a->gen_simultaneously = (int)gen_simultaneously;
	if (!json_object_object_get_ex(o, "gen_simultaneously", NULL))
		a->gen_simultaneously = 0;
	else if (gen_simultaneously == 0)
		a->gen_simultaneously = -1;
	return 0;
}

static int add_account_json(fake_pixverse *pv, json_object *o, char *err,
	size_t errlen, const char *where)
{
	fake_pixverse_account a;

	if (account_from_json(&a, o, err, errlen, where) < 0)
		return -1;
	if (fake_pixverse_add_account(pv, &a) < 0) {
		snprintf(err, errlen, "%s (%s): duplicate email or username", where, a.email);
		return -1;
	}
	return 0;
}

int fake_pixverse_load_accounts(fake_pixverse *pv, const char *path, char *err, size_t errlen)
{
	json_object *root = json_object_from_file(path), *list = NULL;
	char where[512];
	size_t i, n;
	int rc = 0;

	if (!root) {
		snprintf(err, errlen, "%s: cannot read or parse the accounts file", path);
		return -1;
	}
	if (json_object_is_type(root, json_type_array))
		list = root;
	else if (!json_object_is_type(root, json_type_object) ||
		 !json_object_object_get_ex(root, "accounts", &list) ||
		 !json_object_is_type(list, json_type_array))
		list = NULL;
	if (!list) {
		snprintf(err, errlen, "%s: expected {\"accounts\": [...]} or an array", path);
		json_object_put(root);
		return -1;
	}
	n = json_object_array_length(list);
	for (i = 0; i < n && rc == 0; i++) {
		snprintf(where, sizeof(where), "%s: account %zu", path, i);
		rc = add_account_json(pv, json_object_array_get_idx(list, i), err, errlen, where);
	}
	json_object_put(root);
	return rc;
}

/* ---- control ---- */

char *fake_pixverse_login_token(fake_pixverse *pv, const char *email)
{
	return fake_pixverse_login_token_ids(pv, email, NULL, NULL);
}

char *fake_pixverse_login_token_ids(fake_pixverse *pv, const char *email, const char *trace_id,
	const char *anonymous_id)
{
	pv_account *acct;
	char *token = NULL;

	fake_server_lock(pv->server);
	acct = find_account(pv, email);
	if (acct && (token = new_session(pv, acct)) && trace_id)
		session_ids(acct, trace_id, anonymous_id);
	fake_server_unlock(pv->server);
	return token;
}

/* The server lock held. */
static char *google_id_token_locked(fake_pixverse *pv, const char *email, long expires_in)
{
	json_object *payload = json_object_new_object();
	time_t now = now_of(pv);
	char *token;

	json_object_object_add(payload, "iss", json_object_new_string(GOOGLE_ISSUER));
	json_object_object_add(payload, "aud", json_object_new_string(GOOGLE_AUDIENCE));
	json_object_object_add(payload, "sub", json_object_new_string("1170000000000000000"));
	json_object_object_add(payload, "email", json_object_new_string(email ? email : ""));
	json_object_object_add(payload, "email_verified", json_object_new_boolean(1));
	json_object_object_add(payload, "iat", json_object_new_int64((int64_t)now));
	json_object_object_add(payload, "exp", json_object_new_int64((int64_t)now + expires_in));
	token = fake_jwt_sign(pv->google_secret, sizeof(pv->google_secret), "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
		fake_json_text(payload, NULL));
	json_object_put(payload);
	return token;
}

char *fake_pixverse_google_id_token(fake_pixverse *pv, const char *email, long expires_in)
{
	char *token;

	fake_server_lock(pv->server);
	token = google_id_token_locked(pv, email, expires_in);
	fake_server_unlock(pv->server);
	return token;
}

unsigned long fake_pixverse_id_mismatches(fake_pixverse *pv, const char *email)
{
	pv_account *acct;
	unsigned long n = 0;

	fake_server_lock(pv->server);
	if ((acct = find_account(pv, email)))
		n = acct->id_mismatches;
	fake_server_unlock(pv->server);
	return n;
}

int fake_pixverse_kick(fake_pixverse *pv, const char *email)
{
	pv_account *acct;

	fake_server_lock(pv->server);
	acct = find_account(pv, email);
	if (acct) {
		acct->session = ++pv->next_session;
		session_ids(acct, NULL, NULL);
	}
	fake_server_unlock(pv->server);
	return acct ? 0 : -1;
}

int fake_pixverse_expire(fake_pixverse *pv, const char *email)
{
	pv_account *acct;

	fake_server_lock(pv->server);
	acct = find_account(pv, email);
	if (acct)
		acct->expire_floor = pv->ntokens;
	fake_server_unlock(pv->server);
	return acct ? 0 : -1;
}

int fake_pixverse_set_blocked(fake_pixverse *pv, const char *email, int blocked)
{
	pv_account *acct;

	fake_server_lock(pv->server);
	acct = find_account(pv, email);
	if (acct)
		acct->blocked = blocked != 0;
	fake_server_unlock(pv->server);
	return acct ? 0 : -1;
}

int fake_pixverse_set_credits(fake_pixverse *pv, const char *email,
	long daily, long monthly, long package)
{
	pv_account *acct;

	fake_server_lock(pv->server);
	fake_pv_jobs_settle(pv);
	acct = find_account(pv, email);
	if (acct) {
		acct->credit_daily = daily;
		acct->credit_monthly = monthly;
		acct->credit_package = package;
	}
	fake_server_unlock(pv->server);
	return acct ? 0 : -1;
}

int fake_pixverse_set_openapi_credits(fake_pixverse *pv, const char *email, long credits)
{
	pv_account *acct;

	fake_server_lock(pv->server);
	acct = find_account(pv, email);
	if (acct)
		acct->openapi_credits = credits;
	fake_server_unlock(pv->server);
	return acct ? 0 : -1;
}

void fake_pixverse_set_echo(fake_pixverse *pv, int on)
{
	fake_server_lock(pv->server);
	pv->echo = on;
	fake_server_unlock(pv->server);
}

void fake_pixverse_set_refresh_delivery(fake_pixverse *pv, fake_pv_refresh_delivery how)
{
	fake_server_lock(pv->server);
	pv->opts.refresh_delivery = how;
	fake_server_unlock(pv->server);
}

static void pv_control(void *ctx, const fake_request *req, fake_response *resp)
{
	fake_pixverse *pv = ctx;
	const char *what = req->path + strlen("/__control/");
	const char *email = fake_request_arg(req, "email");
	pv_account *acct = find_account(pv, email);
	char err[512];

	/* Ends not yet seen by any request are settled first, so that what a
	 * control call sets (credits) is not changed by a refund due before it. */
	fake_pv_jobs_settle(pv);
	if (!strcmp(what, "echo")) {
		long on = 1;

		if (fake_request_arg_long(&on, req, "on") < 0) {
			fake_control_error(resp, "echo: 'on' must be 0 or 1");
			return;
		}
		fake_pixverse_set_echo(pv, on != 0);
		fake_control_ok(resp, NULL);
		return;
	}
	if (!strcmp(what, "account")) {
		json_object *o = fake_json_parse(req->body, req->body_len);

		if (!o)
			fake_control_error(resp, "account: the body must be a JSON object");
		else if (add_account_json(pv, o, err, sizeof(err), "account") < 0)
			fake_control_error(resp, "%s", err);
		else
			fake_control_ok(resp, NULL);
		json_object_put(o);
		return;
	}
	if (fake_pv_jobs_control(pv, req, resp))
		return;
	if (!strcmp(what, "google_id_token")) {
		long expires_in = 3600;
		char *token;
		json_object *o;

		if (!email || !*email || fake_request_arg_long(&expires_in, req, "expires_in") < 0) {
			fake_control_error(resp, "google_id_token: needs email (and a number for expires_in)");
			return;
		}
		/* Control handlers run under the server's lock. */
		if (!(token = google_id_token_locked(pv, email, expires_in))) {
			fake_control_error(resp, "google_id_token: out of memory");
			return;
		}
		o = json_object_new_object();
		json_object_object_add(o, "id_token", json_object_new_string(token));
		free(token);
		fake_control_ok(resp, o);
		return;
	}
	if (strcmp(what, "kick") && strcmp(what, "expire") && strcmp(what, "login_token") &&
	    strcmp(what, "block") && strcmp(what, "credits"))
		return;
	if (!acct) {
		fake_control_error(resp, "%s: unknown account '%s'", what, email ? email : "");
		return;
	}
	if (!strcmp(what, "kick")) {
		fake_pixverse_kick(pv, email);
		fake_control_ok(resp, NULL);
	} else if (!strcmp(what, "expire")) {
		fake_pixverse_expire(pv, email);
		fake_control_ok(resp, NULL);
	} else if (!strcmp(what, "login_token")) {
		const char *trace = fake_request_arg(req, "trace_id");
		char *token = new_session(pv, acct);
		json_object *o;

		/* A browser whose ids the test knows: the session is tied to them from the start. */
		if (token && trace)
			session_ids(acct, trace, fake_request_arg(req, "anonymous_id"));

		if (!token) {
			fake_control_error(resp, "login_token: out of memory");
			return;
		}
		o = json_object_new_object();
		json_object_object_add(o, "token", json_object_new_string(token));
		free(token);
		fake_control_ok(resp, o);
	} else if (!strcmp(what, "block")) {
		long on = 1;

		if (fake_request_arg_long(&on, req, "on") < 0) {
			fake_control_error(resp, "block: 'on' must be 0 or 1");
			return;
		}
		fake_pixverse_set_blocked(pv, email, on != 0);
		fake_control_ok(resp, NULL);
	} else {
		long d = acct->credit_daily, m = acct->credit_monthly;
		long p = acct->credit_package, o = acct->openapi_credits;

		if (fake_request_arg_long(&d, req, "daily") < 0 ||
		    fake_request_arg_long(&m, req, "monthly") < 0 ||
		    fake_request_arg_long(&p, req, "package") < 0 ||
		    fake_request_arg_long(&o, req, "openapi") < 0) {
			fake_control_error(resp, "credits: values must be integers");
			return;
		}
		fake_pixverse_set_credits(pv, email, d, m, p);
		fake_pixverse_set_openapi_credits(pv, email, o);
		fake_control_ok(resp, NULL);
	}
}

/* ---- lifecycle and counters ---- */

fake_pixverse *fake_pixverse_start(const fake_pixverse_options *opts,
	char *err, size_t errlen)
{
	fake_pixverse *pv = calloc(1, sizeof(*pv));
	fake_server_options so;

	if (!pv) {
		snprintf(err, errlen, "fake pixverse: out of memory");
		return NULL;
	}
	if (opts)
		pv->opts = *opts;
	if (pv->opts.token_ttl <= 0)
		pv->opts.token_ttl = DEFAULT_TTL;
	if (!pv->opts.login_limit)
		pv->opts.login_limit = DEFAULT_LOGIN_LIMIT;
	if (!pv->opts.login_limit_global)
		pv->opts.login_limit_global = DEFAULT_LOGIN_LIMIT;
	if (pv->opts.login_window <= 0)
		pv->opts.login_window = DEFAULT_LOGIN_WINDOW;
	if (RAND_bytes(pv->secret, sizeof(pv->secret)) != 1 ||
	    RAND_bytes(pv->google_secret, sizeof(pv->google_secret)) != 1) {
		snprintf(err, errlen, "fake pixverse: no randomness for the token secret");
		free(pv);
		return NULL;
	}
	fake_pv_jobs_init(pv);
	memset(&so, 0, sizeof(so));
	so.port = pv->opts.port;
	so.routes = pv_routes;
	so.nroutes = FAKE_PV_EP_COUNT;
	so.route_max_body = pv_route_max_body;
	so.observe = pv_observe;
	so.handle = pv_handle;
	so.control = pv_control;
	so.stats = pv_stats;
	so.reset = pv_reset;
	so.no_control_http = pv->opts.no_control_http;
	so.ctx = pv;
	so.log = pv->opts.log;
	if (fake_server_start(&pv->server, &so, err, errlen) < 0) {
		fake_pv_jobs_free(pv);
		free(pv);
		return NULL;
	}
	return pv;
}

void fake_pixverse_stop(fake_pixverse *pv)
{
	size_t i;

	if (!pv)
		return;
	fake_server_stop(pv->server);
	for (i = 0; i < pv->naccounts; i++)
		account_free(&pv->accounts[i]);
	free(pv->accounts);
	free(pv->tokens);
	free(pv->logins.at);
	fake_pv_jobs_free(pv);
	fake_pv_uploads_free(pv);
	OPENSSL_cleanse(pv->secret, sizeof(pv->secret));
	OPENSSL_cleanse(pv->google_secret, sizeof(pv->google_secret));
	free(pv);
}

int fake_pixverse_port(const fake_pixverse *pv)
{
	return fake_server_port(pv->server);
}

const char *fake_pixverse_url(const fake_pixverse *pv)
{
	return fake_server_url(pv->server);
}

fake_server *fake_pixverse_server(fake_pixverse *pv)
{
	return pv->server;
}

void fake_pixverse_set_clock_offset(fake_pixverse *pv, long seconds)
{
	fake_server_set_clock_offset(pv->server, seconds);
}

time_t fake_pixverse_now(fake_pixverse *pv)
{
	return fake_server_now(pv->server);
}

int fake_pixverse_inject_fault(fake_pixverse *pv, fake_pv_endpoint ep,
	fake_fault_kind kind, unsigned count, long param)
{
	return fake_server_inject_fault(pv->server, (int)ep, kind, count, param);
}

int fake_pixverse_force_errcode(fake_pixverse *pv, fake_pv_endpoint ep, int code,
	unsigned count)
{
	return fake_server_inject_fault(pv->server, (int)ep, FAKE_FAULT_APP_ERROR, count, code);
}

void fake_pixverse_clear_faults(fake_pixverse *pv)
{
	fake_server_clear_faults(pv->server);
}

unsigned long fake_pixverse_counter(fake_pixverse *pv, fake_pv_endpoint ep)
{
	return fake_server_counter(pv->server, (int)ep);
}

unsigned long fake_pixverse_header_counter(fake_pixverse *pv, fake_pv_header_counter which)
{
	unsigned long n = 0;

	if ((int)which < 0 || which >= FAKE_PV_HEADER_COUNT)
		return 0;
	fake_server_lock(pv->server);
	n = pv->header_counts[which];
	fake_server_unlock(pv->server);
	return n;
}

char *fake_pixverse_last_anonymous_id(fake_pixverse *pv, fake_pv_endpoint ep)
{
	char *v = NULL;

	if ((int)ep < 0 || ep >= FAKE_PV_EP_COUNT)
		return NULL;
	fake_server_lock(pv->server);
	if (pv->last_anonymous_id[ep][0])
		v = strdup(pv->last_anonymous_id[ep]);
	fake_server_unlock(pv->server);
	return v;
}

unsigned long fake_pixverse_logins_ok(fake_pixverse *pv)
{
	unsigned long n;

	fake_server_lock(pv->server);
	n = pv->logins_ok;
	fake_server_unlock(pv->server);
	return n;
}

void fake_pixverse_reset_counters(fake_pixverse *pv)
{
	fake_server_reset_counters(pv->server);
}
