/*
 * Named operations (provauth_call). Each runs inside run_with_session: a
 * failure is described in *failure, exactly as the reply came, and the
 * host classifies it, recovers and retries. Nothing here retries or logs in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pixverse.h"

#define PV_CREDITS_PATH "/creative_platform/user/credits"
#define PV_USER_INFO_PATH "/creative_platform/getUserInfo"
#define PV_TASKS_PATH "/creative_platform/task/list"
#define PV_OPENAPI_CREDITS_PATH "/openapi/v2/account/credits"

/* The ad-watch task among the task list. */
#define PV_AD_TASK_TYPE 1
#define PV_AD_TASK_SUBTYPE 11

/* GET a web endpoint with the session's credentials (web.c). */
static int web_get(const pv_state *st, const provauth_session *s, const char *path, pv_reply *r,
                   provauth_failure *f)
{
	return pv_web_call(st, s, "GET", path, NULL, 0, 1, r, f);
}

/* An integer member, or `def`. */
static int64_t int_member(const provauth_host *h, const provauth_json *obj, const char *key, int64_t def)
{
	int64_t n;
	return h->json_int(h->json_get(obj, key), &n) == 0 ? n : def;
}

/*
 * A scalar member as JSON text, from host->alloc: integers (also integral
 * floats), booleans and strings; anything else is null. NULL: out of memory.
 */
static char *member_text(const provauth_host *h, const provauth_json *obj, const char *key)
{
	const provauth_json *v = h->json_get(obj, key);
	int64_t n;
	int b;

	switch (h->json_type(v)) {
	case PROVAUTH_JSON_INT:
	case PROVAUTH_JSON_DOUBLE:
		return h->json_int(v, &n) == 0 ? h->json_format(h, "%i", n) : h->json_format(h, "null");
	case PROVAUTH_JSON_BOOL:
		return h->json_bool(v, &b) == 0 ? h->json_format(h, "%b", b) : h->json_format(h, "null");
	case PROVAUTH_JSON_STRING:
		return h->json_format(h, "%s", h->json_string(v));
	default:
		return h->json_format(h, "null");
	}
}

/* Hands `text` (host->alloc'd JSON) over as the result; NULL was an allocation that failed. */
static int finish(const provauth_host *h, char *text, char **out_json, provauth_failure *f)
{
	if (!text)
		return pv_oom_failure(h, f);
	*out_json = text;
	return 0;
}

static int no_args(const provauth_host *h, const char *op, const provauth_op_arg *args, size_t nargs)
{
	if (nargs == 0)
		return 0;
	return h->set_error(h, PROVAUTH_EINVAL, "pixverse: %s takes no arguments (got '%s')", op,
	                    args[0].key ? args[0].key : "");
}

/*
 * ---- OpenAPI credits: a separate key and product, so a failure there never
 * fails the web call. Spec 4.2: the figure is always there, max(0, x), and 0
 * without a key or when the call failed (the failure is logged).
 */

static int64_t openapi_credits(const pv_state *st, const provauth_session *s)
{
	const provauth_host *h = st->host;
	const pv_session_data *data = s->provider_data;
	const char *key = h->session_credential(s, PROVAUTH_CRED_API_KEY, "openapi");
	const char *why = NULL;
	pv_request req;
	pv_reply r;
	char *url;
	int64_t n = 0;

	if (!key || !*key)
		return 0;
	if (!(url = provauth_plugin_url_join(h, st->openapi_base_url, PV_OPENAPI_CREDITS_PATH)))
		return 0;
	memset(&req, 0, sizeof(req));
	memset(&r, 0, sizeof(r));
	req.method = "GET";
	req.url = url;
	req.endpoint = PV_OPENAPI_CREDITS_PATH;
	req.api_key = key;
	req.ids = data ? &data->ids : NULL;
	if (pv_send(st, &req, &r) < 0)
		why = "transport";
	else if (!pv_reply_ok(&r) || !r.resp)
		why = r.http->status == 200 ? "refused" : "http_status";
	else if (h->json_int(h->json_get(r.resp, "credits"), &n) < 0 &&
	         h->json_int(h->json_get(r.resp, "total_credits"), &n) < 0)
		why = "no_credits_field";
	h->free(h, url);
	if (why) {
		const provauth_log_field fl[] = { { "account_id", PROVAUTH_FIELD_STRING, s->account_id, 0 },
		                                  { "reason", PROVAUTH_FIELD_STRING, why, 0 },
		                                  { "error_code", PROVAUTH_FIELD_INT, NULL, r.has_err_code ? r.err_code : 0 } };
		h->log(h, PROVAUTH_LOG_WARN, "pixverse_openapi_credits_failed", fl, sizeof(fl) / sizeof(fl[0]));
		n = 0;
	}
	pv_reply_free(st, &r);
	return n < 0 ? 0 : n;
}

int64_t pv_openapi_credits_if_key(const pv_state *st, const provauth_session *s)
{
	const char *key = st->host->session_credential(s, PROVAUTH_CRED_API_KEY, "openapi");

	return key && *key ? openapi_credits(st, s) : -1;
}

/* ---- credits ---- */

/* Credit counts are 32-bit on the wire; bounding them keeps a hostile reply from overflowing the sum. */
static int64_t bounded(int64_t n)
{
	const int64_t limit = (int64_t)1 << 40;
	return n > limit ? limit : n < -limit ? -limit : n;
}

/* The credit figures, web first (the call that fails the operation), then OpenAPI (best effort). */
typedef struct pv_credits {
	int64_t web, openapi, daily, monthly, package;
} pv_credits;

static int credits_read(const pv_state *st, const provauth_session *s, pv_credits *c, provauth_failure *f)
{
	pv_reply r;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = web_get(st, s, PV_CREDITS_PATH, &r, f)) < 0)
		return rc;
	c->daily = int_member(st->host, r.resp, "credit_daily", 0);
	c->monthly = int_member(st->host, r.resp, "credit_monthly", 0);
	c->package = int_member(st->host, r.resp, "credit_package", 0);
	pv_reply_free(st, &r);
	c->web = bounded(c->daily) + bounded(c->monthly) + bounded(c->package);
	if (c->web < 0)
		c->web = 0;
	c->openapi = openapi_credits(st, s);
	return 0;
}

int pv_web_credits(const pv_state *st, const provauth_session *s, int64_t *web, provauth_failure *f)
{
	pv_reply r;
	int rc;

	*web = 0;
	if ((rc = web_get(st, s, PV_CREDITS_PATH, &r, f)) < 0)
		return rc;
	*web = bounded(int_member(st->host, r.resp, "credit_daily", 0)) +
	       bounded(int_member(st->host, r.resp, "credit_monthly", 0)) +
	       bounded(int_member(st->host, r.resp, "credit_package", 0));
	if (*web < 0)
		*web = 0;
	pv_reply_free(st, &r);
	return 0;
}

/* {web, openapi, daily, monthly, package[, ad_watch_task]} from host->alloc; NULL when out of memory. */
static char *credits_text(const provauth_host *h, const pv_credits *c, const char *task)
{
	if (task)
		return h->json_format(h, "{\"web\":%i,\"openapi\":%i,\"daily\":%i,\"monthly\":%i,\"package\":%i,"
		                      "\"ad_watch_task\":%j}", c->web, c->openapi, c->daily, c->monthly, c->package, task);
	return h->json_format(h, "{\"web\":%i,\"openapi\":%i,\"daily\":%i,\"monthly\":%i,\"package\":%i}",
	                      c->web, c->openapi, c->daily, c->monthly, c->package);
}

/* ---- user_info ---- */

static int op_user_info(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
                        char **out_json, provauth_failure *f)
{
	const pv_state *st = state;
	const provauth_host *h = st->host;
	static const char *const keys[] = { "Mail", "Username", "Nickname", "AccId" };
	char *v[4], *text = NULL;
	pv_reply r;
	size_t i;
	int rc;

	if ((rc = no_args(h, "user_info", args, nargs)) < 0)
		return rc;
	if ((rc = web_get(st, s, PV_USER_INFO_PATH, &r, f)) < 0)
		return rc;
	for (i = 0; i < 4; i++)
		v[i] = member_text(h, r.resp, keys[i]);
	if (v[0] && v[1] && v[2] && v[3])
		text = h->json_format(h, "{\"email\":%j,\"username\":%j,\"nickname\":%j,\"account_id\":%j}", v[0], v[1],
		                      v[2], v[3]);
	for (i = 0; i < 4; i++)
		h->free(h, v[i]);
	pv_reply_free(st, &r);
	return finish(h, text, out_json, f);
}

/* ---- ad_task ---- */

/* The ad-watch task from a task list reply as JSON text (host->alloc), or NULL when there is none. */
static int ad_task_from(const provauth_host *h, const provauth_json *list, char **out)
{
	static const char *const keys[] = { "reward", "progress", "total_counts", "completed_counts", "expired_time" };
	size_t i, k, n = h->json_array_len(list);
	char *v[5];

	*out = NULL;
	for (i = 0; i < n; i++) {
		const provauth_json *t = h->json_array_at(list, i);

		if (int_member(h, t, "task_type", -1) != PV_AD_TASK_TYPE ||
		    int_member(h, t, "sub_type", -1) != PV_AD_TASK_SUBTYPE)
			continue;
		for (k = 0; k < 5; k++)
			v[k] = member_text(h, t, keys[k]);
		if (v[0] && v[1] && v[2] && v[3] && v[4])
			*out = h->json_format(h, "{\"reward\":%j,\"progress\":%j,\"total_counts\":%j,\"completed_counts\":%j,"
			                      "\"expired_time\":%j}", v[0], v[1], v[2], v[3], v[4]);
		for (k = 0; k < 5; k++)
			h->free(h, v[k]);
		return *out ? 0 : -1;
	}
	return 0;
}

static int ad_task_json(const pv_state *st, const provauth_session *s, char **out, provauth_failure *f)
{
	const provauth_host *h = st->host;
	pv_reply r;
	int rc;

	*out = NULL;
	if ((rc = web_get(st, s, PV_TASKS_PATH, &r, f)) < 0)
		return rc;
	if (h->json_type(r.resp) != PROVAUTH_JSON_ARRAY) {
		pv_reply_free(st, &r);
		h->failure_set_message(f, PROVAUTH_EPROTOCOL, "pixverse: %s: Resp is not a list", PV_TASKS_PATH);
		return PROVAUTH_EPROTOCOL;
	}
	rc = ad_task_from(h, r.resp, out);
	pv_reply_free(st, &r);
	return rc < 0 ? pv_oom_failure(h, f) : 0;
}

static int op_ad_task(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
                      char **out_json, provauth_failure *f)
{
	const pv_state *st = state;
	char *o;
	int rc;

	if ((rc = no_args(st->host, "ad_task", args, nargs)) < 0)
		return rc;
	if ((rc = ad_task_json(st, s, &o, f)) < 0)
		return rc;
	return finish(st->host, o ? o : provauth_plugin_strdup(st->host, "null"), out_json, f);
}

/* ---- credits and status: credits plus the ad task, best effort ---- */

static void failure_reset(const provauth_host *h, provauth_failure *f)
{
	/* The host's failure_set_* allocated these; it zeroes the rest before each attempt. */
	h->free(h, f->message);
	h->free(h, f->body);
	memset(f, 0, sizeof(*f));
	f->retry_after = -1;
}

/*
 * The ad-watch task, best effort (spec 4.2): *task is NULL when it could not
 * be had or there is none (*read tells the two apart: 1 when the list was
 * read), and only a session error fails the call (the web
 * session died between two calls: that is the caller's problem too, and
 * run_with_session recovers it). Returns 0 or that error, described in *f.
 */
static int ad_task_best_effort(const pv_state *st, const provauth_session *s, char **task, int *read,
                               provauth_failure *f)
{
	const provauth_host *h = st->host;
	provauth_failure tf = { PROVAUTH_FAILURE_NONE, PROVAUTH_ERROR, 0, NULL, NULL, 0, -1 };
	provauth_outcome oc;
	int rc;

	*read = 0;
	if ((rc = ad_task_json(st, s, task, &tf)) == 0) {
		*read = 1;
		return 0;
	}
	*task = NULL;
	memset(&oc, 0, sizeof(oc));
	oc.result = tf.code;
	oc.retry_after = -1;
	pv_classify_error((void *)st, &tf, &oc);
	if (oc.is_session_error) {
		failure_reset(h, f);
		*f = tf;
		return rc;
	}
	{
		const provauth_log_field fl[] = { { "account_id", PROVAUTH_FIELD_STRING, s->account_id, 0 },
		                                  { "error_reason", PROVAUTH_FIELD_STRING, oc.error_reason, 0 },
		                                  { "error_code", PROVAUTH_FIELD_STRING, oc.error_code, 0 } };
		h->log(h, PROVAUTH_LOG_INFO, "pixverse_ad_task_unavailable", fl, sizeof(fl) / sizeof(fl[0]));
	}
	failure_reset(h, &tf);
	return 0;
}

static int op_credits(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
                      char **out_json, provauth_failure *f)
{
	const pv_state *st = state;
	const provauth_host *h = st->host;
	pv_credits c;
	char *task;
	int rc, task_read;

	if ((rc = no_args(h, "credits", args, nargs)) < 0)
		return rc;
	if ((rc = credits_read(st, s, &c, f)) < 0)
		return rc;
	if ((rc = ad_task_best_effort(st, s, &task, &task_read, f)) < 0)
		return rc;
	rc = finish(h, credits_text(h, &c, task), out_json, f);
	h->free(h, task);
	return rc;
}

/*
 * status's one argument, ad_task=skip: the caller has a recent ad task (the
 * notes' /pixverse-status keeps one for 5 minutes), so only credits are read.
 */
static int status_args(const provauth_host *h, const provauth_op_arg *args, size_t nargs, int *skip_task)
{
	*skip_task = 0;
	if (nargs == 0)
		return 0;
	if (nargs == 1 && args[0].key && strcmp(args[0].key, "ad_task") == 0 && args[0].value &&
	    strcmp(args[0].value, "skip") == 0) {
		*skip_task = 1;
		return 0;
	}
	return h->set_error(h, PROVAUTH_EINVAL, "pixverse: status takes only ad_task=skip (got '%s')",
	                    args[0].key ? args[0].key : "");
}

/*
 * Spec 5 (/pixverse-status): {provider_id, email, credits: {web, openapi, ...}, ad_watch_task?}.
 * ad_watch_task is the task when there is one, null when the list was read
 * and has none (a caller may keep that answer), and missing when it could
 * not be read or was skipped.
 */
static int op_status(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
                     char **out_json, provauth_failure *f)
{
	const pv_state *st = state;
	const provauth_host *h = st->host;
	const char *provider = s->provider ? s->provider : PV_ID;
	char *credits, *task = NULL, *text = NULL;
	pv_credits c;
	int rc, skip_task, task_read = 0;

	if ((rc = status_args(h, args, nargs, &skip_task)) < 0)
		return rc;
	if ((rc = credits_read(st, s, &c, f)) < 0)
		return rc;
	if (!skip_task && (rc = ad_task_best_effort(st, s, &task, &task_read, f)) < 0)
		return rc;
	if ((credits = credits_text(h, &c, NULL)))
		text = task_read ? h->json_format(h, "{\"provider_id\":%s,\"email\":%s,\"credits\":%j,"
		                                  "\"ad_watch_task\":%j}", provider, s->email, credits,
		                                  task ? task : "null")
		                 : h->json_format(h, "{\"provider_id\":%s,\"email\":%s,\"credits\":%j}", provider,
		                                  s->email, credits);
	h->free(h, credits);
	h->free(h, task);
	return finish(h, text, out_json, f);
}

const provauth_operation pv_operations[] = {
	{ "credits", "web and OpenAPI credits (0 without a key), daily/monthly/package, and the ad-watch task when "
	  "it could be read", op_credits },
	{ "user_info", "the account's email, username, nickname and Pixverse account id", op_user_info },
	{ "ad_task", "the ad-watch task: reward, progress, counts, expiry (null when none)", op_ad_task },
	{ "status", "provider, email, credits and the ad-watch task (best effort; null when there is none; "
	  "ad_task=skip reads credits only)", op_status },
	{ "generate", "submit a job: type=t2v|i2v|extend|transition|t2i|i2i, prompt, model, quality, duration, "
	  "aspect_ratio, seed, negative_prompt, image_url+image_path (repeated), video_id, durations, prompts; "
	  "answers {job_id, kind, type, model, quality, cost, credit_kind}", pv_op_generate },
	{ "upload", "upload an image (file=PATH [name=NAME]; needs the account's openapi API key): {img_id, url, path}",
	  pv_op_upload },
	{ "jobs", "the state of jobs (ids=A,B or id=A, repeated), one list request per kind: {jobs:[{id, state, url, "
	  "code}]}", pv_op_jobs },
	{ "delete", "delete jobs' outputs (ids=A,B or id=A, repeated); already deleted counts: {deleted:[ids]}",
	  pv_op_delete },
	{ "plan", "the plan: {plan_name, plan_type, max_concurrent, gen_simultaneously, qualities}", pv_op_plan },
};

_Static_assert(sizeof(pv_operations) / sizeof(pv_operations[0]) == PV_OPERATION_COUNT,
               "PV_OPERATION_COUNT must match the table");
