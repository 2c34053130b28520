/*
 * Jobs through the account pool (POST /v1/jobs, GET /v1/jobs/{id}) and the
 * pool's state (GET /v1/pool): what `provauth generate`, `provauth jobs
 * status` and `provauth pool` do, over the same public calls.
 *
 * A job is named ACCOUNT_ID:JOB_ID in the API (the CLI's ACCOUNT_ID/JOB_ID
 * handle with a colon: a slash cannot travel inside one path segment, the
 * router decodes %2F before it matches). The id splits at its last colon.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"

#define MAX_JOB_ARGS 48
#define MAX_WAIT_MS 600000
/* Stand-ins the pool prices and checks a job with before its images are uploaded (as the CLI's). */
#define PLACEHOLDER_URL "https://media.pixverse.ai/upload/pending.png"
#define PLACEHOLDER_PATH "upload/pending.png"

/* A refusal that is the account's, not the job's: another account may take the job (tools/cmd_generate.c). */
static int worth_another_account(int rc)
{
	return rc == PROVAUTH_ECONCURRENCY || rc == PROVAUTH_ECREDITS || rc == PROVAUTH_ESESSION;
}

typedef struct job_try {
	provauth_pool_reservation *rsv;
	char *job_id;
	int reserved;               /* the failure came after a reservation: the account's, maybe */
} job_try;

/*
 * Reserve, upload the images through the account reserved, submit, attach.
 * On failure the reservation is left in t->rsv for give_back: the caller
 * writes its reply first, because the release replaces the library's
 * message of the failure it follows. req->args ends with the images'
 * stand-ins (nparams before them), replaced here by what the uploads
 * answered.
 */
static int try_submit(job_try *t, provauth_manager *m, const provauth_pool_request *req, size_t nparams,
                      pad_job_images *im)
{
	provauth_arg args[MAX_JOB_ARGS + 2 * PAD_JOB_MAX_IMAGES];
	char *answer = NULL;
	size_t n = req->nargs, i;
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = provauth_pool_acquire(&t->rsv, m, req)) < 0)
		return rc;
	t->reserved = 1;
	memcpy(args, req->args, req->nargs * sizeof(*args));
	if (im->n) {
		if ((rc = pad_job_images_upload(im, m, t->rsv->account_id)) < 0)
			return rc;
		for (i = 0, n = nparams; i < im->n; i++) {
			args[n++] = (provauth_arg){ "image_url", im->url[i] };
			args[n++] = (provauth_arg){ "image_path", im->uploaded[i] };
		}
	}
	rc = provauth_call(&answer, m, t->rsv->account_id, "generate", args, n);
	/* Job ids come as strings or numbers. */
	if (rc == 0 && !(t->job_id = pad_api_answer_member(answer, "job_id", 1)))
		rc = PROVAUTH_EPROTOCOL;
	provauth_free(answer);
	if (rc < 0)
		return rc;
	/* Submitted all the same if this fails: the slot is freed by reconcile or the reservation TTL. */
	if (provauth_pool_attach_job(m, t->rsv->id, t->job_id) < 0)
		provauth_error_clear();
	return 0;
}

/* A failed try's reservation back to the pool, with the outcome its error means. */
static void give_back(job_try *t, provauth_manager *m, int rc)
{
	if (t->rsv) {
		provauth_pool_release(m, t->rsv->id, provauth_pool_outcome_for(rc));
		provauth_error_clear();
	}
	provauth_pool_reservation_free(t->rsv);
	t->rsv = NULL;
}

int pad_api_jobs_create(pad_request *req, pad_reply *rep)
{
	static const char *const keys[] = { "provider_id", "account_id", "params", "images", "wait_ms", NULL };
	provauth_manager *m = req->world->manager;
	provauth_pool_request pr = PROVAUTH_POOL_REQUEST_INIT;
	provauth_arg args[MAX_JOB_ARGS + 2 * PAD_JOB_MAX_IMAGES];
	provauth_account *a = NULL;
	const char *provider, *account_id;
	json_object *params = NULL, *wait = NULL, *images = NULL, *o;
	pad_job_images im;
	char id[512], label[128];
	job_try t;
	size_t n = 0, nparams, i;
	int rc;

	if (pad_api_body_keys(req, rep, keys, 0) ||
	    pad_api_body_string(req, rep, req->json, "provider_id", 0, &provider) ||
	    pad_api_body_string(req, rep, req->json, "account_id", 0, &account_id))
		return 0;
	if (!json_object_object_get_ex(req->json, "params", &params) || !params ||
	    !json_object_is_type(params, json_type_object))
		return pad_reply_error(rep, 400, "invalid", "field 'params' must be an object ({\"type\": ..., "
		                       "\"prompt\": ...})");
	json_object_object_foreach(params, key, val) {
		if (!val || json_object_is_type(val, json_type_object) || json_object_is_type(val, json_type_array))
			return pad_reply_error(rep, 400, "invalid", "field 'params.%.64s' must be a string, number or "
			                       "boolean", key);
		if (n == MAX_JOB_ARGS)
			return pad_reply_error(rep, 400, "invalid", "field 'params': at most %d parameters", MAX_JOB_ARGS);
		args[n].key = key;
		args[n].value = json_object_get_string(val);
		n++;
	}
	nparams = n;
	json_object_object_get_ex(req->json, "images", &images);
	if (images && (json_object_object_get_ex(params, "image_url", NULL) ||
	               json_object_object_get_ex(params, "image_path", NULL)))
		return pad_reply_error(rep, 400, "invalid", "give the job's images in 'images' or as "
		                       "'params.image_url'/'image_path' of uploads made before, not both");
	if (json_object_object_get_ex(req->json, "wait_ms", &wait) && wait) {
		if (!json_object_is_type(wait, json_type_int) || json_object_get_int64(wait) < 0 ||
		    json_object_get_int64(wait) > MAX_WAIT_MS)
			return pad_reply_error(rep, 400, "invalid", "field 'wait_ms' must be an integer from 0 to %d",
			                       MAX_WAIT_MS);
		pr.wait_ms = json_object_get_int64(wait);
	}
	if (!provider) {
		if (!account_id)
			return pad_reply_error(rep, 400, "invalid", "field 'provider_id' is required (or 'account_id')");
		if ((rc = provauth_account_get(&a, m, account_id)) < 0)
			return pad_reply_provauth(rep, rc);
		provider = a->provider;
	}
	if (pad_job_images_read(&im, rep, images)) {
		pad_job_images_free(&im);
		provauth_account_free(a);
		return 0;
	}
	for (i = 0; i < im.n; i++) {
		args[n++] = (provauth_arg){ "image_url", PLACEHOLDER_URL };
		args[n++] = (provauth_arg){ "image_path", PLACEHOLDER_PATH };
	}
	pr.provider = provider;
	pr.account_id = account_id;
	pr.operation = "generate";
	pr.args = args;
	pr.nargs = n;
	{
		json_object *p;
		/* The label is shown in pool listings: the job's type, never its prompt (a user's text). */
		snprintf(label, sizeof(label), "api %s", json_object_object_get_ex(params, "type", &p) && p ?
		         json_object_get_string(p) : "job");
		pr.label = label;
	}
	rc = try_submit(&t, m, &pr, nparams, &im);
	if (rc < 0 && t.reserved && worth_another_account(rc) && !account_id) {
		give_back(&t, m, rc);
		rc = try_submit(&t, m, &pr, nparams, &im);
	}
	if (rc < 0) {
		if (im.why[0])
			pad_reply_error(rep, 502, "provider_unreachable", "%s", im.why);
		else
			pad_reply_provauth(rep, rc);
		give_back(&t, m, rc);
		pad_job_images_free(&im);
		provauth_account_free(a);
		return 0;
	}
	pad_job_images_free(&im);
	snprintf(id, sizeof(id), "%s:%s", t.rsv->account_id, t.job_id);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "account_id", json_object_new_string(t.rsv->account_id));
	json_object_object_add(o, "job_id", json_object_new_string(t.job_id));
	json_object_object_add(o, "state", json_object_new_string("queued"));
	{
		const provauth_log_field f[] = { PAD_F_STR("account_id", t.rsv->account_id),
		                                 PAD_F_STR("job_id", t.job_id), PAD_F_STR("provider", provider) };
		pad_log(req->daemon, PROVAUTH_LOG_INFO, "api_job_submitted", f, PAD_ARRAY_LEN(f));
	}
	provauth_pool_reservation_free(t.rsv);
	free(t.job_id);
	provauth_account_free(a);
	return pad_reply_json(rep, 202, o);
}

static const char *string_member(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Only the states the pool hooks define are shown: the text comes from a plugin. */
static const char *known_state(const char *s)
{
	static const char *const known[] = { "queued", "processing", "done", "moderated", "failed", "unknown" };
	size_t i;

	for (i = 0; s && i < PAD_ARRAY_LEN(known); i++)
		if (strcmp(s, known[i]) == 0)
			return known[i];
	return "unknown";
}

int pad_api_jobs_get(pad_request *req, pad_reply *rep)
{
	provauth_manager *m = req->world->manager;
	const char *full = req->params[0], *colon = strrchr(full, ':');
	const char *state = "unknown", *url = NULL;
	char account[256], *out = NULL;
	json_object *answer = NULL, *list, *o, *code = NULL;
	provauth_arg arg;
	int released = 0, rc, outcome;
	size_t i;

	if (!colon || colon == full || !colon[1] || (size_t)(colon - full) >= sizeof(account))
		return pad_reply_error(rep, 400, "invalid", "job id must be ACCOUNT_ID:JOB_ID (as POST /v1/jobs "
		                       "answers it)");
	memcpy(account, full, (size_t)(colon - full));
	account[colon - full] = '\0';
	arg.key = "ids";
	arg.value = colon + 1;
	if ((rc = provauth_call(&out, m, account, "jobs", &arg, 1)) < 0)
		return pad_reply_provauth(rep, rc);
	answer = json_tokener_parse(out);
	provauth_free(out);
	if (!answer || !json_object_object_get_ex(answer, "jobs", &list) || !json_object_is_type(list, json_type_array)) {
		json_object_put(answer);
		return pad_reply_error(rep, 502, "provider_unreachable", "account %s: the provider's job list is not "
		                       "{\"jobs\": [...]}", account);
	}
	for (i = 0; i < json_object_array_length(list); i++) {
		json_object *e = json_object_array_get_idx(list, i), *c;
		const char *jid = string_member(e, "id");

		if (!jid || strcmp(jid, colon + 1) != 0)
			continue;
		state = known_state(string_member(e, "state"));
		url = string_member(e, "url");
		if (json_object_object_get_ex(e, "code", &c) && json_object_is_type(c, json_type_int))
			code = c;
	}
	/* A GET that gives the slot back once the job ended, as `provauth jobs status` does: hence OPERATE. */
	if ((outcome = provauth_pool_outcome_for_job(state)) >= 0) {
		rc = provauth_pool_release_job(m, account, colon + 1, (provauth_pool_outcome)outcome);
		released = rc == 0;
		if (rc < 0)
			provauth_error_clear(); /* already released (by us before, or reconcile): not an error */
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(full));
	json_object_object_add(o, "account_id", json_object_new_string(account));
	json_object_object_add(o, "job_id", json_object_new_string(colon + 1));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "url", url ? json_object_new_string(url) : NULL);
	json_object_object_add(o, "code", code ? json_object_get(code) : NULL);
	json_object_object_add(o, "released", json_object_new_boolean(released));
	json_object_put(answer);
	return pad_reply_json(rep, 200, o);
}

static json_object *reservation_json(const provauth_pool_reservation *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(r->id));
	json_object_object_add(o, "account_id", json_object_new_string(r->account_id));
	json_object_object_add(o, "provider_id", json_object_new_string(r->provider ? r->provider : ""));
	json_object_object_add(o, "credit_kind", r->credit_kind ? json_object_new_string(r->credit_kind) : NULL);
	json_object_object_add(o, "cost", json_object_new_int64(r->cost));
	json_object_object_add(o, "created_at", json_object_new_int64(r->created_at));
	json_object_object_add(o, "job_id", r->job_id ? json_object_new_string(r->job_id) : NULL);
	json_object_object_add(o, "label", r->label ? json_object_new_string(r->label) : NULL);
	return o;
}

int pad_api_pool(pad_request *req, pad_reply *rep)
{
	const char *provider = pad_request_query(req, "provider_id");
	provauth_pool_account **accts = NULL;
	provauth_pool_reservation **rsv = NULL;
	size_t na = 0, nr = 0, i;
	json_object *o, *a, *r;
	int rc;

	if (provider && !*provider)
		provider = NULL;
	if ((rc = provauth_pool_list(&accts, &na, &rsv, &nr, req->world->manager, provider)) < 0)
		return pad_reply_provauth(rep, rc);
	a = json_object_new_array();
	r = json_object_new_array();
	for (i = 0; i < na; i++)
		json_object_array_add(a, pad_api_pool_account_json(accts[i]));
	for (i = 0; i < nr; i++)
		json_object_array_add(r, reservation_json(rsv[i]));
	provauth_pool_account_list_free(accts, na);
	provauth_pool_reservation_list_free(rsv, nr);
	o = json_object_new_object();
	json_object_object_add(o, "accounts", a);
	json_object_object_add(o, "reservations", r);
	return pad_reply_json(rep, 200, o);
}
