/*
 * The Pixverse provider plugin's internal interfaces. The plugin sees the
 * core only through <provauth/plugin.h> and the provauth_host table: it links
 * against libc alone, so every JSON, HTTP and encoding need goes through the
 * host.
 */
#ifndef PV_PIXVERSE_H
#define PV_PIXVERSE_H

#include <stddef.h>
#include <stdint.h>
#include <provauth/plugin.h>
#include <provauth/plugin_util.h>

#define PV_ID "pixverse"

/* The cookie that carries the web JWT. */
#define PV_TOKEN_COOKIE "_ai_token"

/* ---- plugin.c: state shared by every call (read-only after init) ---- */

/*
 * What provauth_plugin_init returns (entry.c): the provider description.
 * Apart from the exported entry, so that a program linking both plugins'
 * libraries (the fuzz targets) has no two provauth_plugin_init.
 */
int pv_plugin_init(const provauth_provider **out, const provauth_host *host);

typedef struct pv_state {
	const provauth_host *host;
	char *base_url;             /* web API, no trailing '/' */
	char *web_origin;           /* Origin / Referer, no trailing '/' */
	char *openapi_base_url;     /* OpenAPI host, no trailing '/' */
	char *user_agent;
	int64_t jwt_refresh_threshold; /* seconds before expiry a JWT counts as stale */
} pv_state;

/* Longest client id we send (a uuid is 36). */
#define PV_ID_MAX 40

/* The client identity a Pixverse session is tied to (ids.c). */
typedef struct pv_client_ids {
	char trace_id[PV_ID_MAX];      /* ai-trace-id */
	char anonymous_id[PV_ID_MAX];  /* ai-anonymous-id */
} pv_client_ids;

/* Session data the plugin keeps next to the host's session. */
typedef struct pv_session_data {
	pv_client_ids ids;          /* stable per account */
	const char *jwt_source;     /* static: "account", "cookies" (fresher than the account's) or "none" */
} pv_session_data;

/* ---- util.c: text helpers ---- */

/* 1 when `code` appears in `text` as a whole number (not inside a longer one). */
int pv_has_number(const char *text, const char *code);
/* Longest piece of a server's message we repeat (host->text_excerpt's bound). */
#define PV_SAFE_TEXT_MAX 160
/*
 * A server-supplied message made fit to show (provauth_plugin_quote):
 * printable ASCII, shortened, and withheld if it repeats any of the
 * request's `secrets` in any case or spacing. A host table without
 * text_excerpt: then nothing of the server's words is shown.
 */
#define PV_SAFE_TEXT(h, out, size, text, secrets, nsecrets) \
	provauth_plugin_quote((h), (out), (size), (text), (secrets), (nsecrets), \
	                      "(server text not shown: this host cannot check it for credentials)")

/* ---- jwt.c ---- */

/*
 * Expiry (unix seconds) from the payload's `exp` or, for Pixverse tokens,
 * `ExpireTime`, as numbers or numeric strings. PROVAUTH_EINVAL when the
 * token is not a decodable JWT or carries neither claim.
 */
int pv_jwt_expiry(const provauth_host *h, const char *token, int64_t *out);
/*
 * 1 when the token should be replaced: absent, undecodable, without an
 * expiry, or expiring within `threshold` seconds of `now`.
 */
int pv_jwt_needs_refresh(const provauth_host *h, const char *token, int64_t now, int64_t threshold);
/* The decoded payload as JSON (free with h->json_free), or NULL. */
provauth_json *pv_jwt_payload(const provauth_host *h, const char *token);

/* ---- cookies.c ---- */

typedef struct pv_cookie_jar {
	const provauth_host *host;  /* whose allocator the names and values come from */
	provauth_cookie *items;     /* names and values from host->alloc; the array is ours */
	size_t count;
} pv_cookie_jar;

/* Most cookies and bytes an import accepts: a browser export of one site is far smaller. */
#define PV_COOKIES_MAX_INPUT (256 * 1024)
#define PV_COOKIES_MAX_COUNT 256

/*
 * Parses user-supplied cookies: a Cookie header ("a=1; b=2", with or without
 * "Cookie:"), a JSON object {"a": "1"} or a browser export, a JSON array of
 * {"name", "value", "domain", ...}. Later duplicates replace earlier ones.
 * PROVAUTH_EINVAL with a message (host->set_error) that names the cookie or
 * position at fault but never quotes a value.
 */
int pv_cookies_parse(pv_cookie_jar *out, const provauth_host *h, const char *input);
void pv_cookies_free(pv_cookie_jar *jar);
/* Value of `name` in a cookie array, or NULL. */
const char *pv_cookie_find(const provauth_cookie *cookies, size_t count, const char *name);
/*
 * The account's cookies as an array for a request: names and values are
 * borrowed from the account (valid while it is); free the array with free().
 * *out is NULL when there are none.
 */
int pv_account_cookies(const provauth_host *h, const provauth_account *a, provauth_cookie **out, size_t *count);
/* The session's cookies likewise (borrowed from the session; free the array with free). */
int pv_session_cookies(const provauth_host *h, const provauth_session *s, provauth_cookie **out, size_t *count);
/* 1 when name / value can go into a Cookie header unchanged. */
int pv_cookie_name_ok(const char *name);
int pv_cookie_value_ok(const char *value);

/* ---- session.c ---- */

int pv_build_session(void *state, const provauth_account *account, provauth_session *session,
                     provauth_update *update);
void pv_session_data_free(void *state, void *provider_data);

/* ---- ids.c: the stable client identity ---- */

/* 1 when s may serve as a client id: 8 to 39 letters, digits or '-'. */
int pv_id_ok(const char *s);
/* Two fresh uuids. */
int pv_ids_fresh(const pv_state *st, pv_client_ids *out);
/*
 * The account's ids from its metadata; fresh ones for those missing, or for
 * both when the recorded health says a 10005 ended the session after they
 * were set. Returns 1 when any was generated (store them), 0 when read,
 * negative on failure.
 */
int pv_ids_for(const pv_state *st, const provauth_account *acct, pv_client_ids *out);
/* metadata.trace_id, .anonymous_id and .ids_at (now) into the update. */
int pv_ids_store(const pv_state *st, provauth_update *u, const pv_client_ids *ids);

/* ---- classify.c ---- */

int pv_classify_error(void *state, const provauth_failure *failure, provauth_outcome *out);
/* Classification of an HTTP reply (status, body), shared by classify and best-effort calls. */
void pv_classify_http(const provauth_host *h, long status, const char *body, size_t len, long retry_after,
                      provauth_outcome *out);
/* Classification of an error message (the SDK-exception case). */
void pv_classify_message(const char *message, provauth_outcome *out);

/* Pixverse ErrCodes the plugin acts on. */
enum {
	PV_ERR_TOKEN_INVALID = 10001,
	PV_ERR_TOKEN_EXPIRED = 10002,
	PV_ERR_NOT_LOGIN = 10003,
	PV_ERR_LOGGED_ELSEWHERE = 10005,
	PV_ERR_CREDITS_EXHAUSTED = 500043,
	PV_ERR_CONCURRENCY = 500044,
	PV_ERR_MODERATION_OUTPUT = 500054,
	PV_ERR_MODERATION_PROMPT = 500063,
	PV_ERR_HIGH_LOAD = 500069,
	PV_ERR_DELETED = 500064,
	PV_ERR_BALANCE = 500090,
	PV_ERR_NO_SUCH_USER = 500200,
	PV_ERR_TOO_MANY_LOGINS = 500213
};

/* Seconds to wait after an HTTP 429 without Retry-After. */
#define PV_DEFAULT_RETRY_AFTER 60

/* ---- client.c: requests and the {ErrCode, ErrMsg, Resp} envelope ---- */

typedef struct pv_request {
	const char *method;          /* "GET" / "POST" */
	const char *url;             /* absolute */
	const char *endpoint;        /* path, for messages */
	const char *jwt;             /* token header; NULL for none */
	const provauth_cookie *cookies;
	size_t cookie_count;
	const pv_client_ids *ids;    /* the account's; NULL: fresh ones (no account yet) */
	const char *api_key;         /* OpenAPI: API-KEY header instead of the web headers */
	const char *body;            /* JSON text or NULL */
	size_t body_len;
	const char *content_type;    /* NULL: application/json (a multipart upload names its own) */
	int refresh_credit;          /* 1: the `refresh: credit` header generation calls carry */
} pv_request;

/* The host's messages are at most 1 KiB; a longer one is cut. */
#define PV_TRANSPORT_MAX 1024

typedef struct pv_reply {
	provauth_http_response *http;
	provauth_json *json;         /* the parsed body, or NULL */
	int has_err_code;
	int64_t err_code;            /* ErrCode (0 = success) */
	const char *err_msg;         /* ErrMsg, or "" */
	const provauth_json *resp;   /* Resp, or NULL */
	long retry_after;            /* Retry-After seconds, or -1 */
	/* When pv_send failed: what happened, for the caller's message (never holds a secret). */
	char transport[PV_TRANSPORT_MAX];
} pv_reply;

/*
 * Sends the request. Returns 0 when a reply arrived (whatever it says) with
 * *out filled, or the transport's code (PROVAUTH_ENETWORK, ETIMEOUT, ETOOBIG)
 * after host->set_error, with out->transport saying what happened.
 */
int pv_send(const pv_state *st, const pv_request *req, pv_reply *out);
void pv_reply_free(const pv_state *st, pv_reply *r);
/* 1 when the reply is HTTP 200 with ErrCode 0. */
int pv_reply_ok(const pv_reply *r);
/* A short description of a transport error code ("connection failed"). */
const char *pv_transport_text(int code);
/*
 * What a failed host->http_request reported, into out: the host's own
 * message when it offers it (ABI 1.3: refused, reset, timed out after N ms,
 * ... with the URL minus its query), else pv_transport_text(code). Call it
 * before any other host service.
 */
void pv_transport_detail(const provauth_host *h, int code, char *out, size_t size);
/*
 * Describes a failed reply in *failure for run_with_session's classifier and
 * returns the matching code: an error envelope or a non-200 status as HTTP,
 * a body that is not JSON (or has no Resp when `need_resp`) as a
 * PROVAUTH_EPROTOCOL message. Returns 0 when the reply is a success.
 */
int pv_reply_to_failure(const pv_state *st, const pv_reply *r, const char *endpoint, int need_resp,
                        provauth_failure *failure);
/*
 * Name and value of a Set-Cookie header (before the first ';'), from
 * host->alloc; 0, or -1 if unusable.
 */
int pv_set_cookie_parse(const provauth_host *h, const char *header, char **name, char **value, int *removes);
/*
 * Stores every cookie the reply sets into `update`; *token gets a copy of
 * the _ai_token one (NULL if none). Returns 0 or a negative code.
 */
int pv_reply_cookies(const pv_state *st, const pv_reply *r, provauth_update *update, char **token);

/* ---- auth.c ---- */

int pv_try_reauth(void *state, const provauth_account *account, const char *password, provauth_update *update);
int pv_refresh(void *state, const provauth_account *account, provauth_update *update);
int pv_import(void *state, const char *kind, const char *input, const provauth_account *existing,
              provauth_update *update);

/* ---- web.c: one call to the web API with the session's credentials ---- */

/*
 * `method` (GET / POST) `path` on the web API, with `body` (JSON text or
 * NULL) and the `refresh: credit` header when `refresh_credit`. On success
 * *r holds a 200 reply with ErrCode 0 (and a Resp when `need_resp`);
 * otherwise *failure describes it and the code is returned.
 */
int pv_web_call(const pv_state *st, const provauth_session *s, const char *method, const char *path,
                const char *body, int refresh_credit, int need_resp, pv_reply *r, provauth_failure *f);
/* Out of memory, as an operation's failure. */
int pv_oom_failure(const provauth_host *h, provauth_failure *f);

/* ---- jsonbuf.c: JSON text built piece by piece (request bodies) ---- */

typedef struct pv_jsonbuf {
	const provauth_host *host;
	char *text;                  /* malloc'd, NUL-terminated */
	size_t len, size;
	int failed;                  /* out of memory: every later append is a no-op */
} pv_jsonbuf;

void pv_jsonbuf_init(pv_jsonbuf *b, const provauth_host *h);
/* Raw text, formatted as printf (numbers, punctuation, keys the caller quotes). */
void pv_jsonbuf_addf(pv_jsonbuf *b, const char *fmt, ...) PROVAUTH_PRINTF(2, 3);
/* `s` as a JSON string (escaped as host->json_format escapes). */
void pv_jsonbuf_str(pv_jsonbuf *b, const char *s);
/* The text (NULL when out of memory); the caller frees it with free(). */
char *pv_jsonbuf_take(pv_jsonbuf *b);
void pv_jsonbuf_free(pv_jsonbuf *b);

/* ---- params.c: generation parameters, limits and costs (no I/O) ---- */

typedef enum pv_gen_type {
	PV_GEN_T2V = 0,
	PV_GEN_I2V,
	PV_GEN_EXTEND,
	PV_GEN_TRANSITION,
	PV_GEN_T2I,
	PV_GEN_I2I
} pv_gen_type;

/* Most input images any generation takes (kling-image-o3's 10). */
#define PV_GEN_IMAGES_MAX 10
/* Transition: 2 to 7 images, so at most 6 segments. */
#define PV_TRANSITION_IMAGES_MIN 2
#define PV_TRANSITION_IMAGES_MAX 7
#define PV_TRANSITION_SEGMENTS_MAX (PV_TRANSITION_IMAGES_MAX - 1)
#define PV_SEGMENT_SECONDS_MIN 1
#define PV_SEGMENT_SECONDS_MAX 8
/* The credit kind every web generation spends. */
#define PV_CREDIT_KIND_WEB "web"

/* A validated generation request. Strings are static or borrowed from the call's args. */
typedef struct pv_gen {
	pv_gen_type type;
	const char *type_name;       /* "t2v", ... */
	int is_image;                /* t2i / i2i: an image job */
	const char *prompt;          /* "" when none */
	const char *model;           /* the table's spelling */
	const char *quality;         /* normalised: "1440p" for "2k" */
	int64_t duration;            /* video seconds (transition: the first segment's) */
	const char *aspect_ratio;    /* NULL where the type takes none */
	int has_seed;
	int64_t seed;
	const char *negative_prompt; /* NULL when none */
	size_t image_count;
	const char *image_urls[PV_GEN_IMAGES_MAX];
	const char *image_paths[PV_GEN_IMAGES_MAX];
	int64_t video_id;            /* extend */
	size_t segment_count;        /* transition: image_count - 1 */
	int64_t durations[PV_TRANSITION_SEGMENTS_MAX];
	const char *prompts[PV_TRANSITION_SEGMENTS_MAX];
	int64_t cost;                /* web credits */
} pv_gen;

/*
 * Reads and validates a generate call's args (type, prompt, model, ...),
 * filling the defaults, and computes the cost. PROVAUTH_EINVAL after
 * host->set_error with a message naming the parameter and what it allows.
 */
int pv_gen_parse(const provauth_host *h, const provauth_op_arg *args, size_t nargs, pv_gen *out);
/* Web credits per second of video at `quality`, or -1 for a quality no video model has. */
int64_t pv_video_credits_per_second(const char *quality);

/* ---- generate.c ---- */

int pv_op_generate(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
                   char **out_json, provauth_failure *f);

/* ---- jobs.c: job states and deletion ---- */

/* What a job's record says: "queued", "processing", "done", "moderated", "failed". */
const char *pv_video_state(int64_t status, const char *url, int64_t width, int64_t height);
const char *pv_image_state(int64_t status, const char *url, int64_t width, int64_t height);
/* 1 when `url` is a real output (a "/web/ori/" or "/openapi/output/" path, no moderation placeholder). */
int pv_result_url_ok(const char *url);
/* The pool hook: {"jobs":[{id, state, url, code}]} for ids[0..n), one list request per kind. */
int pv_job_status(void *state, const provauth_session *s, const char *const *ids, size_t n, char **out_json,
                  provauth_failure *f);
int pv_op_jobs(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
               char **out_json, provauth_failure *f);
int pv_op_delete(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
                 char **out_json, provauth_failure *f);
/* Most ids one jobs / delete call takes (one list page answers them). */
#define PV_JOB_IDS_MAX 200

/* ---- upload.c: the OpenAPI multipart upload ---- */

/* Largest image the service takes. */
#define PV_UPLOAD_MAX_BYTES (20 * 1024 * 1024)
/*
 * The multipart/form-data body of one part named "image" holding data[0,
 * len) as `filename` of `mime`, between `boundary` lines. malloc'd; NULL
 * when out of memory. *body_len its length.
 */
char *pv_multipart_build(const char *boundary, const char *filename, const char *mime, const unsigned char *data,
                         size_t len, size_t *body_len);
/* The Content-Type for a file name's extension (png, jpg, jpeg, webp; any case), or NULL. */
const char *pv_image_mime(const char *filename);
/* "upload/<name>" from an upload URL ".../upload/<name>"; malloc'd, NULL when it has no such part. */
char *pv_upload_path_of(const char *url);
int pv_op_upload(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
                 char **out_json, provauth_failure *f);

/* ---- plan.c ---- */

/* Jobs at once from plan_details: gen_simultaneously when > 0, else 2 free / 5 paid. */
int64_t pv_plan_max_concurrent(int64_t gen_simultaneously, int64_t plan_type);
/* The account's plan_details as {plan_name, plan_type, max_concurrent, gen_simultaneously, qualities}. */
int pv_plan_read(const pv_state *st, const provauth_session *s, char **out_json, int64_t *max_concurrent,
                 provauth_failure *f);
int pv_op_plan(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
               char **out_json, provauth_failure *f);

/* ---- pool.c: the 2.1 pool hooks ---- */

extern const provauth_pool_hooks pv_pool_hooks;
int pv_estimate_cost(void *state, const char *operation, const provauth_op_arg *args, size_t nargs,
                     char kind[PROVAUTH_CREDIT_KIND_MAX], int64_t *cost);
int pv_pool_status(void *state, const provauth_session *s, char **out_json, provauth_failure *f);

/* ---- ops.c ---- */

/* The web total of /creative_platform/user/credits (daily + monthly + package), 0 or more. */
int pv_web_credits(const pv_state *st, const provauth_session *s, int64_t *web, provauth_failure *f);
/* The OpenAPI credits, best effort; -1 when the account has no OpenAPI key. */
int64_t pv_openapi_credits_if_key(const pv_state *st, const provauth_session *s);

#define PV_OPERATION_COUNT 9
extern const provauth_operation pv_operations[PV_OPERATION_COUNT];

#endif /* PV_PIXVERSE_H */
