/*
 * fake_pixverse: a fake of the Pixverse web API (and the OpenAPI credits
 * call) for tests, the demo and benchmarks. See
 * /work/shared/notes/pixverse-api.md for the real API it reproduces.
 *
 * Envelope: every API answer is HTTP 200 with
 * {"ErrCode": n, "ErrMsg": "...", "Resp": {...}}, ErrCode 0 on success.
 *
 * Endpoints:
 *   POST /creative_platform/login      {"username"|"Username", "password"|"Password"}
 *   POST /creative_platform/oauth2/google/auto_login  {"id_token"}: Google sign-in
 *   POST /auth/refresh                 token header or _ai_token cookie
 *   GET  /creative_platform/user/credits
 *   GET  /creative_platform/getUserInfo
 *   GET  /creative_platform/task/list
 *   GET  /openapi/v2/account/credits   API-KEY header
 *   POST /creative_platform/video/{t2v,i2v,extend,frames}, /image/i2i
 *   POST /creative_platform/{video,image}/list/personal, /{video,image}/delete
 *   POST /creative_platform/toc/members/plan_details
 *   POST /openapi/v2/image/upload      API-KEY header, multipart part "image"
 *   GET  /media/...                    the media host (media_base =
 *                                      fake_pixverse_url() + "/media")
 *
 * Generation (the wire contract of issue 16, /tmp/prompts/wire16.md; kept
 * in docs by the plugin): every web call above checks the token and session
 * as below. A generation call then answers, in this order: 500069 while
 * fake_pixverse_set_high_load lasts; 400001 bad JSON; 400011 missing prompt
 * (or customer_img_url, original_video_id, customer_img_urls, prompts,
 * durations); 400017 unknown model, quality not offered by the model,
 * duration out of the model's range, bad aspect ratio, image count (frames
 * 2-7, i2i up to the model's maximum), segment durations (1-8), unknown
 * original_video_id; 400018 / 400019 prompt / negative_prompt over 5000
 * characters; 400032 an image URL not under media_base; 500063 a prompt
 * containing "forbidden"; 500044 when the account has its limit of jobs
 * queued or processing (gen_simultaneously, else 2 free / 5 paid); 500090
 * when the cost exceeds a balance > 0, 500043 when the balance is 0. Else
 * the cost is charged (package, then monthly, then daily) and the job
 * created: video_ids [id] or image_id (and success_ids [id]).
 * Jobs: queued for job_queue_ms (video status 5, image 10), processing for
 * job_process_ms (video: 10 with size 0 and the result URL during the first
 * early_cdn_ms, then 5; image 5), then done (1 with <media>/web/ori/<id>.mp4
 * or .png and a size), moderated (7, placeholder URL, refunded: a prompt
 * with "moderate-me") or failed (8, refunded: "fail-me"), or as
 * fake_pixverse_force_next_outcome says. Lists: the account's jobs newest
 * first, `limit` (default 20) from `offset`, "total". Delete: 500064 if any
 * id is unknown or deleted already (the others are deleted). A deleted
 * job still counts in flight until it ends, as the service's work goes on.
 * Upload: 400017 no/unknown key; 500032 not multipart, no boundary, no
 * "image" part or an empty one; 500030 over 20 MiB; 500031 not PNG, JPEG
 * or WebP (bytes or declared type); else {img_id, img_url
 * "<media_base>/upload/<uuid>.<ext>"}. The media host serves uploads,
 * results of done jobs (404 before), and the moderation placeholders.
 *
 * Tokens are HS256 JWTs signed with a per-server random secret; payload
 * {"AccountId", "ExpireTime", "Username"}. The header carries a serial
 * ("kid") so that two logins within the same second still differ.
 *
 * Sessions: each account has one current session. A password login (or
 * fake_pixverse_login_token) starts a new session and every token of older
 * sessions answers 10005; fake_pixverse_kick does the same without issuing a
 * token. A refresh issues a new token for the *same* session: earlier tokens
 * of that session stay valid until their own ExpireTime. A refresh accepts an
 * expired (by time or by fake_pixverse_expire) token of the current session,
 * but not a superseded one (10005).
 *
 * Token checks, in order (login and OpenAPI excluded):
 *   no token (token header, else _ai_token cookie), empty, or not a
 *   decodable JWT with a numeric AccountId and ExpireTime   10003 "user is not login"
 *   signature mismatch or unknown account/serial            10001 "Token is invalid"
 *   account blocked                                         10001 "... account is blocked"
 *   ExpireTime < server clock, or expired by control        10002 "token expired"
 *     (refresh skips this check)
 *   session superseded by a later login or kicked           10005 "logged in elsewhere"
 *   other ai-trace-id / ai-anonymous-id than the session's  10005 "logged in elsewhere"
 *
 * Client ids: like the service, a session is tied to the ai-trace-id and
 * ai-anonymous-id it was created with: those of the login request, or (for
 * a browser session from login_token, whose ids are unknown unless given)
 * those of its first authenticated request. Refresh checks them too.
 *
 * Login answers: unknown user 500200 "User does not exist."; Google-only
 * account 500202 "... sign in via OAuth ..."; wrong password 500201 "The
 * password is incorrect."; blocked 10001 "... account is blocked"; more than
 * login_limit admitted attempts for the account, or login_limit_global for
 * the whole server, within login_window seconds: 500213 (rejected attempts
 * do not count). Bad JSON or no username: 400001.
 * Google sign-in (auto_login) takes an ID token from
 * fake_pixverse_google_id_token (a JWT the fake signs with a second key of
 * its own, standing in for Google's): not a token, a bad signature, another
 * issuer or audience, an unverified email or an expired token answer
 * 400001 "id_token is invalid" (the real service's code for this is not
 * known); an email with no account 500200; a blocked account 10001.
 * Otherwise a new session, as a password login starts (any account, Google-
 * only or not: the service keys users by email), with the same answer;
 * it does not count in logins_ok, which counts password logins.
 * OpenAPI: a missing or unknown API-KEY answers 400017 "invalid api key".
 *
 * Faults (fake_common.h) apply per endpoint; FAKE_FAULT_APP_ERROR answers the
 * envelope with ErrCode = param and the usual message for that code, without
 * touching state; FAKE_FAULT_NO_PAYLOAD drops "Resp" from the normal answer
 * (the request is processed).
 *
 * Header counters record, never reject: requests to web endpoints without
 * "x-platform: Web", any request without ai-trace-id, web requests without
 * ai-anonymous-id, and a request with the same trace id as the request
 * before (what one account's client does all the time: stable ids). What
 * rejects is the session's own check above: missing or other client ids
 * than the session's answer 10005.
 *
 * HTTP control (loopback only, unless no_control_http), all answering JSON:
 *   GET  /__control/stats                       counters, header counters and the
 *                                               last ai-anonymous-id per endpoint
 *   POST /__control/reset                       zero the counters
 *   POST /__control/clock?offset=S              server clock = now + S
 *   POST /__control/fault?endpoint=E&kind=K&count=N&param=P
 *   POST /__control/clear_faults
 *   POST /__control/kick?email=X                current session answers 10005
 *   POST /__control/expire?email=X              issued tokens answer 10002
 *   POST /__control/login_token?email=X[&trace_id=T&anonymous_id=A]
 *                                               {"ok":true,"token":"<jwt>"}; with T
 *                                               the session is tied to T / A
 *   POST /__control/google_id_token?email=X[&expires_in=S]
 *                                               {"ok":true,"id_token":"<jwt>"} (3600 s)
 *   POST /__control/block?email=X&on=0|1
 *   POST /__control/credits?email=X&daily=&monthly=&package=&openapi=
 *   POST /__control/account                     body: one account object (below)
 *   POST /__control/echo?on=0|1                 refusals echo what was sent
 *   POST /__control/jobs?queue_ms=&process_ms=&early_cdn_ms=
 *                                               job durations (ms) from now on;
 *                                               answers the values in force
 *   POST /__control/plan?email=X&plan_type=&gen_simultaneously=
 *   POST /__control/job_clock?freeze=0|1&advance_ms=N
 *                                               {"ok":true,"now_ms":..,"frozen":..}
 *   POST /__control/next_outcome?outcome=done|moderated|failed|auto
 *   POST /__control/high_load?count=N           next N generation calls: 500069
 *   POST /__control/job_stats[?email=X]         {"ok":true, submitted, in_flight,
 *                                               max_in_flight, concurrency_refused,
 *                                               credits_refused, high_load_refused,
 *                                               done, moderated, failed, charged,
 *                                               refunded} (no email: all accounts)
 *   /__control/stats also has "jobs" ({"all": {...}, "<email>": {... same,
 *   "credits", "concurrency_limit"}}), "job_settings" and "uploads"; its
 *   "requests" count every endpoint (e.g. "video_list"). reset zeroes the job
 *   counters too (max_in_flight restarts from the jobs in flight).
 *
 * Accounts file (JSON): {"accounts": [ {...}, ... ]} or a bare array of
 *   {"email", "password", "username", "nickname", "google_only", "blocked",
 *    "credit_daily", "credit_monthly", "credit_package",
 *    "api_key", "openapi_credits",
 *    "ad_reward", "ad_progress", "ad_total", "ad_completed",
 *    "plan_type", "gen_simultaneously" (absent: 2; 0: answered as 0)}
 */
#ifndef FAKE_PIXVERSE_H
#define FAKE_PIXVERSE_H

#include <stdio.h>
#include <time.h>

#include "fake_common.h"

typedef struct fake_pixverse fake_pixverse;

typedef enum fake_pv_endpoint {
	FAKE_PV_EP_LOGIN = 0,
	FAKE_PV_EP_REFRESH,
	FAKE_PV_EP_CREDITS,
	FAKE_PV_EP_USER_INFO,
	FAKE_PV_EP_TASK_LIST,
	FAKE_PV_EP_OPENAPI_CREDITS,
	FAKE_PV_EP_T2V,
	FAKE_PV_EP_I2V,
	FAKE_PV_EP_EXTEND,
	FAKE_PV_EP_FRAMES,
	FAKE_PV_EP_I2I,
	FAKE_PV_EP_VIDEO_LIST,
	FAKE_PV_EP_IMAGE_LIST,
	FAKE_PV_EP_VIDEO_DELETE,
	FAKE_PV_EP_IMAGE_DELETE,
	FAKE_PV_EP_PLAN_DETAILS,
	FAKE_PV_EP_UPLOAD,
	FAKE_PV_EP_MEDIA,
	FAKE_PV_EP_GOOGLE_LOGIN,
	FAKE_PV_EP_COUNT,
	FAKE_PV_EP_TOTAL = -1     /* every request, including unknown paths */
} fake_pv_endpoint;

/* Names: "login", "refresh", "credits", "user_info", "task_list",
 * "openapi_credits", "t2v", "i2v", "extend", "frames", "i2i", "video_list",
 * "image_list", "video_delete", "image_delete", "plan_details", "upload",
 * "media", "google_login", "total"; -2 when unknown. */
int fake_pixverse_endpoint_parse(const char *name);
const char *fake_pixverse_endpoint_name(fake_pv_endpoint ep);

typedef enum fake_pv_header_counter {
	FAKE_PV_MISSING_PLATFORM = 0,  /* web call without "x-platform: Web" */
	FAKE_PV_MISSING_TRACE_ID,      /* any call without ai-trace-id */
	FAKE_PV_MISSING_ANONYMOUS_ID,  /* web call without ai-anonymous-id */
	FAKE_PV_REUSED_TRACE_ID,       /* same ai-trace-id as the request before (expected: ids are stable) */
	FAKE_PV_MISSING_REFRESH_CREDIT,/* generation call without "refresh: credit" */
	FAKE_PV_STRAY_REFRESH_CREDIT,  /* list, delete or plan_details call with "refresh: credit" */
	FAKE_PV_HEADER_COUNT
} fake_pv_header_counter;

/* How /auth/refresh delivers the new token. */
typedef enum fake_pv_refresh_delivery {
	FAKE_PV_REFRESH_COOKIE = 0,    /* Set-Cookie: _ai_token=... */
	FAKE_PV_REFRESH_BEARER,        /* Authorization: Bearer ... */
	FAKE_PV_REFRESH_TOKEN_HEADER   /* token: ... */
} fake_pv_refresh_delivery;

typedef struct fake_pixverse_options {
	unsigned short port;            /* 0: a free port */
	long token_ttl;                 /* seconds; 0: 30 days */
	unsigned login_limit;           /* per account per window; 0: 5 */
	unsigned login_limit_global;    /* whole server per window; 0: 5 */
	long login_window;              /* seconds; 0: 60 */
	fake_pv_refresh_delivery refresh_delivery;
	int openapi_total_credits;      /* answer Resp.total_credits, not credits */
	int no_control_http;
	FILE *log;                      /* request log; NULL: silent */
	/* Job lifecycle, in milliseconds of fake_pixverse_now_ms (0: the
	 * default; the setters below also take 0): */
	long job_queue_ms;              /* queued (status 5); default 1000 */
	long job_process_ms;            /* processing; default 3000 */
	long early_cdn_ms;              /* first part of processing a video shows
	                                 * status 10 with size 0; default 1000 */
} fake_pixverse_options;

#define FAKE_PV_UNLIMITED 0xffffffffu

typedef struct fake_pixverse_account {
	const char *email;
	const char *password;           /* NULL only with google_only */
	const char *username;           /* NULL: the part of email before '@' */
	const char *nickname;           /* NULL: username */
	int google_only;
	int blocked;
	long credit_daily, credit_monthly, credit_package;
	const char *api_key;            /* OpenAPI key; NULL: none */
	long openapi_credits;
	int ad_reward, ad_progress, ad_total, ad_completed;
	int plan_type;                  /* 0 free (default), >= 1 paid */
	/* plan_details' gen_simultaneously: 0 gives 2 (the default free plan);
	 * < 0 answers 0, so the limit falls back to 2 free / 5 paid. */
	int gen_simultaneously;
} fake_pixverse_account;

/* How a job ends. AUTO: by its prompt ("moderate-me" moderated, "fail-me"
 * failed, else done). */
typedef enum fake_pv_outcome {
	FAKE_PV_OUTCOME_AUTO = 0,
	FAKE_PV_OUTCOME_DONE,
	FAKE_PV_OUTCOME_MODERATED,
	FAKE_PV_OUTCOME_FAILED
} fake_pv_outcome;

/* Generation counters of an account (or summed over all of them). */
typedef struct fake_pv_job_stats {
	unsigned long submitted;          /* jobs created (video and image) */
	unsigned long in_flight;          /* queued or processing now */
	unsigned long max_in_flight;      /* the most ever in flight at once (all: the
	                                   * largest of any one account) */
	unsigned long concurrency_refused;/* generation calls answered 500044 */
	unsigned long credits_refused;    /* answered 500090 or 500043 */
	unsigned long high_load_refused;  /* answered 500069 (fake_pixverse_set_high_load) */
	unsigned long done, moderated, failed; /* jobs that ended so */
	long charged;                     /* credits taken at submission */
	long refunded;                    /* credits given back on moderated / failed */
} fake_pv_job_stats;

/* NULL options: defaults. NULL on failure, with a message in err. */
fake_pixverse *fake_pixverse_start(const fake_pixverse_options *opts,
	char *err, size_t errlen);
void fake_pixverse_stop(fake_pixverse *srv);

int fake_pixverse_port(const fake_pixverse *srv);
/* "http://127.0.0.1:PORT", owned by the server. */
const char *fake_pixverse_url(const fake_pixverse *srv);
fake_server *fake_pixverse_server(fake_pixverse *srv);

/* The new AccountId (> 0), or -1 for a duplicate email or a bad entry. */
int fake_pixverse_add_account(fake_pixverse *srv, const fake_pixverse_account *acct);
/*
 * Demo accounts (fake credentials):
 *   alice@example.com / alice-demo-pw   password, API key "pv-demo-alice"
 *   dave@example.com  / dave-demo-pw    password
 *   bob@example.com                     Google-only
 *   eve@example.com   / eve-demo-pw     blocked
 */
int fake_pixverse_add_demo_accounts(fake_pixverse *srv);
/* 0, or -1 with a message naming the file and entry. */
int fake_pixverse_load_accounts(fake_pixverse *srv, const char *path,
	char *err, size_t errlen);

/* As if the user logged in through the browser: a new session and its
 * token (malloc'd), or NULL for an unknown email. The session takes the
 * client ids of its first authenticated request. */
char *fake_pixverse_login_token(fake_pixverse *srv, const char *email);
/* A Google ID token for `email` as Google Sign-In hands it to the browser:
 * {iss: accounts.google.com, aud, email, email_verified, iat, exp = now +
 * expires_in (<= 0: already expired)}, for auto_login to exchange. The
 * email need not have an account (auto_login then refuses it). malloc'd. */
char *fake_pixverse_google_id_token(fake_pixverse *srv, const char *email, long expires_in);
/* The same, with a browser whose ids are known: the session is tied to
 * trace_id / anonymous_id from the start (NULL trace_id: as above). */
char *fake_pixverse_login_token_ids(fake_pixverse *srv, const char *email, const char *trace_id,
	const char *anonymous_id);
/* Requests of the account refused with 10005 because their ids were not
 * the session's (since the start). */
unsigned long fake_pixverse_id_mismatches(fake_pixverse *srv, const char *email);
/* These return 0, or -1 for an unknown email. */
int fake_pixverse_kick(fake_pixverse *srv, const char *email);
int fake_pixverse_expire(fake_pixverse *srv, const char *email);
int fake_pixverse_set_blocked(fake_pixverse *srv, const char *email, int blocked);
int fake_pixverse_set_credits(fake_pixverse *srv, const char *email,
	long daily, long monthly, long package);
int fake_pixverse_set_openapi_credits(fake_pixverse *srv, const char *email, long credits);
void fake_pixverse_set_refresh_delivery(fake_pixverse *srv, fake_pv_refresh_delivery how);
/*
 * Echo mode, as a careless or hostile server: a wrong password's ErrMsg
 * spells the password back upper-cased with '*' between its characters,
 * and a refused session call's ErrMsg quotes the request's Cookie header
 * upper-cased.
 */
void fake_pixverse_set_echo(fake_pixverse *srv, int on);

void fake_pixverse_set_clock_offset(fake_pixverse *srv, long seconds);
time_t fake_pixverse_now(fake_pixverse *srv);

/* 0, or -1 for a bad endpoint/kind or a full queue. */
int fake_pixverse_inject_fault(fake_pixverse *srv, fake_pv_endpoint ep,
	fake_fault_kind kind, unsigned count, long param);
/* The next `count` requests to ep answer ErrCode `code`. */
int fake_pixverse_force_errcode(fake_pixverse *srv, fake_pv_endpoint ep,
	int code, unsigned count);
void fake_pixverse_clear_faults(fake_pixverse *srv);

unsigned long fake_pixverse_counter(fake_pixverse *srv, fake_pv_endpoint ep);
unsigned long fake_pixverse_header_counter(fake_pixverse *srv, fake_pv_header_counter which);
/* The ai-anonymous-id of the endpoint's latest request (malloc'd), or NULL
 * when none was sent since the start or the last reset. */
char *fake_pixverse_last_anonymous_id(fake_pixverse *srv, fake_pv_endpoint ep);
/* Successful logins (tokens issued by the login endpoint). */
unsigned long fake_pixverse_logins_ok(fake_pixverse *srv);
void fake_pixverse_reset_counters(fake_pixverse *srv);

/* ---- generation jobs (fake_pixverse_jobs.c) ---- */

/* The job clock: monotonic milliseconds since the server started, plus
 * what fake_pixverse_advance_job_clock added; it stands still while frozen,
 * so that a test can look at each phase of a job however slow it runs. */
long long fake_pixverse_now_ms(fake_pixverse *srv);
void fake_pixverse_freeze_job_clock(fake_pixverse *srv, int frozen);
/* Moves the job clock forward by ms (>= 0), frozen or not. */
void fake_pixverse_advance_job_clock(fake_pixverse *srv, long ms);
/* For jobs submitted from now on; a negative value keeps the current one. */
void fake_pixverse_set_job_durations(fake_pixverse *srv, long queue_ms, long process_ms);
void fake_pixverse_set_early_cdn_ms(fake_pixverse *srv, long ms);
/* The next job created ends so, whatever its prompt (AUTO: cancels). */
void fake_pixverse_force_next_outcome(fake_pixverse *srv, fake_pv_outcome outcome);
/* The next `count` generation calls with a good session answer 500069
 * (0 cancels). */
void fake_pixverse_set_high_load(fake_pixverse *srv, unsigned long count);
/* plan_details' current_plan_type and gen_simultaneously (literal: 0 is
 * answered as 0; the concurrency limit then falls back to 2 free / 5 paid).
 * 0, or -1 for an unknown email. */
int fake_pixverse_set_plan(fake_pixverse *srv, const char *email, int plan_type,
	int gen_simultaneously);
/* The concurrency limit the fake enforces for the account; -1 when unknown. */
int fake_pixverse_concurrency_limit(fake_pixverse *srv, const char *email);
/* Counters of the account (email NULL: all accounts). 0, or -1 for an
 * unknown email. Jobs that ended by now are counted (and refunded) first. */
int fake_pixverse_job_stats(fake_pixverse *srv, const char *email, fake_pv_job_stats *out);
/* The account's web credits (daily + monthly + package) after settling
 * ended jobs; -1 for an unknown email. */
long fake_pixverse_web_credits(fake_pixverse *srv, const char *email);
/* Uploads received (OpenAPI image upload answered 0). */
unsigned long fake_pixverse_uploads(fake_pixverse *srv);

/* The usual ErrMsg for an ErrCode. */
const char *fake_pixverse_errmsg(int code);

#endif
