/*
 * The fake Pixverse's generation jobs: the generation endpoints (t2v, i2v,
 * extend, frames, i2i; their request checks are in fake_pixverse_validate.c)
 * with credits and the concurrency limit, the job lifecycle, the batched
 * list endpoints, delete and plan_details.
 *
 * A job's state is not stored but follows from the millisecond clock: it is
 * queued for queue_ms after its submission, then processing for process_ms,
 * then ended as its outcome says. So nothing runs in the background and a
 * test that sets 10 ms durations sees them to the millisecond. What an end
 * changes (the counters, the refund of a moderated or failed job) is
 * "settled" by the first request or C API read after it: a client can only
 * see the end through the fake, so it never sees it unsettled.
 */
#include "config.h"
#include "fake_pixverse_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Defaults for the demo and manual runs: long enough to watch. */
#define DEFAULT_QUEUE_MS 1000
#define DEFAULT_PROCESS_MS 3000
/* The service shows a video's pre-allocated CDN URL with size 0 in the
 * first second or so of processing (notes A.4, "early CDN"). */
#define DEFAULT_EARLY_CDN_MS 1000
#define DEFAULT_LIST_LIMIT 20

#define ERR_BAD_JSON 400001
#define ERR_EMPTY 400011
#define ERR_BAD_PARAM 400017
#define ERR_CREDITS_EXHAUSTED 500043
#define ERR_CONCURRENCY 500044
#define ERR_PROMPT_REJECTED 500063
#define ERR_DELETED 500064
#define ERR_HIGH_LOAD 500069
#define ERR_BALANCE 500090

typedef enum job_phase {
	PHASE_QUEUED,
	PHASE_PROCESSING,
	PHASE_ENDED
} job_phase;


static long long real_ms(const struct timespec *origin)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - origin->tv_sec) * 1000 +
		(now.tv_nsec - origin->tv_nsec) / 1000000;
}

/* The job clock: real time since the start, plus what tests advanced it by,
 * or standing still while frozen (so a test can look at each phase). */
long long fake_pv_now_ms(fake_pixverse *pv)
{
	return pv->clock_frozen ? pv->frozen_at_ms : real_ms(&pv->started) + pv->clock_advance_ms;
}

static job_phase phase_of(const pv_job *j, long long now, long long *in_processing)
{
	long long t = now - j->submitted_ms;

	*in_processing = t - j->queue_ms;
	if (t < j->queue_ms)
		return PHASE_QUEUED;
	if (t < j->queue_ms + j->process_ms)
		return PHASE_PROCESSING;
	return PHASE_ENDED;
}

unsigned long fake_pv_in_flight(fake_pixverse *pv, size_t account, long long now)
{
	unsigned long n = 0;
	long long unused;
	size_t i;

	/* A job in flight is not settled yet, so none is before settled_prefix. */
	for (i = pv->settled_prefix; i < pv->njobs; i++)
		if (pv->jobs[i].account == account && phase_of(&pv->jobs[i], now, &unused) != PHASE_ENDED)
			n++;
	return n;
}

int fake_pv_account_limit(const pv_account *a)
{
	if (a->gen_simultaneously > 0)
		return a->gen_simultaneously;
	/* What the plugin falls back to when plan_details gives no number. */
	return a->plan_type == 0 ? 2 : 5;
}

static void refund(pv_account *a, pv_job *j)
{
	long total = j->charged_daily + j->charged_monthly + j->charged_package;

	a->credit_daily += j->charged_daily;
	a->credit_monthly += j->charged_monthly;
	a->credit_package += j->charged_package;
	a->stats.refunded += total;
}

void fake_pv_jobs_settle(fake_pixverse *pv)
{
	long long now = fake_pv_now_ms(pv), unused;
	size_t i;

	/* Jobs before settled_prefix are all settled: a long run stays cheap. */
	while (pv->settled_prefix < pv->njobs && pv->jobs[pv->settled_prefix].settled)
		pv->settled_prefix++;
	for (i = pv->settled_prefix; i < pv->njobs; i++) {
		pv_job *j = &pv->jobs[i];
		pv_account *a = &pv->accounts[j->account];

		if (j->settled || phase_of(j, now, &unused) != PHASE_ENDED)
			continue;
		j->settled = 1;
		if (j->outcome == FAKE_PV_OUTCOME_DONE) {
			a->stats.done++;
			continue;
		}
		if (j->outcome == FAKE_PV_OUTCOME_MODERATED)
			a->stats.moderated++;
		else
			a->stats.failed++;
		refund(a, j);
	}
}

/* Called with the lock held. */
pv_job *fake_pv_find_job(fake_pixverse *pv, size_t account, int is_image, long long id)
{
	size_t i;

	for (i = 0; i < pv->njobs; i++)
		if (pv->jobs[i].id == id && pv->jobs[i].is_image == is_image && pv->jobs[i].account == account &&
		    !pv->jobs[i].deleted)
			return &pv->jobs[i];
	return NULL;
}

/* Takes cost from package, then monthly, then daily (the balance covers it). */
static void charge(pv_account *a, pv_job *j, long cost)
{
	long take;

	take = cost < a->credit_package ? cost : (a->credit_package > 0 ? a->credit_package : 0);
	a->credit_package -= take;
	j->charged_package = take;
	cost -= take;
	take = cost < a->credit_monthly ? cost : (a->credit_monthly > 0 ? a->credit_monthly : 0);
	a->credit_monthly -= take;
	j->charged_monthly = take;
	cost -= take;
	a->credit_daily -= cost;
	j->charged_daily = cost;
}

static fake_pv_outcome outcome_for(fake_pixverse *pv, const char *text)
{
	fake_pv_outcome o = pv->next_outcome;

	if (o != FAKE_PV_OUTCOME_AUTO) {
		pv->next_outcome = FAKE_PV_OUTCOME_AUTO;
		return o;
	}
	if (text && strcasestr(text, "moderate-me"))
		return FAKE_PV_OUTCOME_MODERATED;
	if (text && strcasestr(text, "fail-me"))
		return FAKE_PV_OUTCOME_FAILED;
	return FAKE_PV_OUTCOME_DONE;
}

static pv_job *new_job(fake_pixverse *pv)
{
	if (pv->njobs == pv->cap_jobs) {
		size_t cap = pv->cap_jobs ? pv->cap_jobs * 2 : 64;
		pv_job *p = realloc(pv->jobs, cap * sizeof(*p));

		if (!p)
			return NULL;
		pv->jobs = p;
		pv->cap_jobs = cap;
	}
	memset(&pv->jobs[pv->njobs], 0, sizeof(pv->jobs[0]));
	return &pv->jobs[pv->njobs++];
}

/*
 * The order of the service's refusals: high load, then the request's own
 * faults (4000xx), the prompt's moderation (500063), the concurrency limit
 * (500044), then the balance (500090 / 500043). None of them charges.
 */
static void handle_generation(fake_pixverse *pv, pv_account *a, const fake_request *req,
	fake_response *resp)
{
	size_t account = (size_t)(a - pv->accounts);
	json_object *body = fake_json_parse(req->body, req->body_len), *r, *ids;
	pv_gen_request g;
	const char *msg = NULL;
	long long now = fake_pv_now_ms(pv);
	unsigned long flying;
	long balance;
	pv_job *j;
	int code;

	memset(&g, 0, sizeof(g));
	if (pv->high_load_left) {
		pv->high_load_left--;
		a->stats.high_load_refused++;
		fake_pv_reply(req, resp, ERR_HIGH_LOAD, NULL, NULL);
		goto out;
	}
	if (!body || !json_object_is_type(body, json_type_object)) {
		fake_pv_reply(req, resp, ERR_BAD_JSON, "Invalid request parameters.", NULL);
		goto out;
	}
	if ((code = fake_pv_check_generation(pv, account, req->route, body, &g, &msg))) {
		fake_pv_reply(req, resp, code, msg, NULL);
		goto out;
	}
	if (g.text && strcasestr(g.text, "forbidden")) {
		fake_pv_reply(req, resp, ERR_PROMPT_REJECTED, NULL, NULL);
		goto out;
	}
	flying = fake_pv_in_flight(pv, account, now);
	if (flying >= (unsigned long)fake_pv_account_limit(a)) {
		a->stats.concurrency_refused++;
		fake_pv_reply(req, resp, ERR_CONCURRENCY, NULL, NULL);
		goto out;
	}
	balance = a->credit_daily + a->credit_monthly + a->credit_package;
	if (g.cost > balance) {
		a->stats.credits_refused++;
		fake_pv_reply(req, resp, balance > 0 ? ERR_BALANCE : ERR_CREDITS_EXHAUSTED, NULL, NULL);
		goto out;
	}
	if (!(j = new_job(pv))) {
		fake_pv_reply(req, resp, ERR_HIGH_LOAD, NULL, NULL);
		goto out;
	}
	j->account = account;
	j->is_image = g.is_image;
	j->id = g.is_image ? pv->next_image_id++ : pv->next_video_id++;
	j->submitted_ms = now;
	j->queue_ms = pv->job_queue_ms;
	j->process_ms = pv->job_process_ms;
	j->outcome = outcome_for(pv, g.text);
	j->duration = g.duration;
	j->prompt = strdup(fake_json_str(body, "prompt") ? fake_json_str(body, "prompt") : "");
	snprintf(j->model, sizeof(j->model), "%s", g.model);
	snprintf(j->quality, sizeof(j->quality), "%s", g.quality);
	snprintf(j->aspect_ratio, sizeof(j->aspect_ratio), "%s", g.aspect_ratio ? g.aspect_ratio : "16:9");
	charge(a, j, g.cost);
	a->stats.charged += g.cost;
	a->stats.submitted++;
	if (flying + 1 > a->stats.max_in_flight)
		a->stats.max_in_flight = flying + 1;
	r = json_object_new_object();
	if (g.is_image) {
		json_object_object_add(r, "image_id", json_object_new_int64(j->id));
		ids = json_object_new_array();
		json_object_array_add(ids, json_object_new_int64(j->id));
		json_object_object_add(r, "success_ids", ids);
	} else {
		ids = json_object_new_array();
		json_object_array_add(ids, json_object_new_int64(j->id));
		json_object_object_add(r, "video_ids", ids);
	}
	fake_pv_reply(req, resp, 0, NULL, r);
out:
	free(g.text);
	json_object_put(body);
}

static json_object *video_record(fake_pixverse *pv, const pv_job *j, long long now)
{
	json_object *o = json_object_new_object();
	char base[96], url[160] = "", last[160] = "";
	long long in_processing;
	job_phase ph = phase_of(j, now, &in_processing);
	int status = 5, w = 0, h = 0;

	fake_pv_media_base(pv, base, sizeof(base));
	if (ph == PHASE_PROCESSING && in_processing < pv->early_cdn_ms) {
		/* The pre-allocated URL, before the file exists: not a result. */
		status = 10;
		snprintf(url, sizeof(url), "%s/web/ori/%lld.mp4", base, j->id);
	} else if (ph == PHASE_ENDED && j->outcome == FAKE_PV_OUTCOME_DONE) {
		status = 1;
		snprintf(url, sizeof(url), "%s/web/ori/%lld.mp4", base, j->id);
		snprintf(last, sizeof(last), "%s/web/ori/%lld_last.jpg", base, j->id);
		fake_pv_output_size(j->quality, j->aspect_ratio, &w, &h);
	} else if (ph == PHASE_ENDED && j->outcome == FAKE_PV_OUTCOME_MODERATED) {
		status = 7;
		snprintf(url, sizeof(url), "%s/pixverse/mp4/media/default.mp4", base);
	} else if (ph == PHASE_ENDED) {
		status = 8;
	}
	json_object_object_add(o, "video_id", json_object_new_int64(j->id));
	json_object_object_add(o, "video_status", json_object_new_int(status));
	json_object_object_add(o, "url", json_object_new_string(url));
	json_object_object_add(o, "output_width", json_object_new_int(w));
	json_object_object_add(o, "output_height", json_object_new_int(h));
	json_object_object_add(o, "video_duration", json_object_new_int(j->duration));
	json_object_object_add(o, "model", json_object_new_string(j->model));
	json_object_object_add(o, "prompt", json_object_new_string(j->prompt ? j->prompt : ""));
	json_object_object_add(o, "customer_video_last_frame_url", json_object_new_string(last));
	return o;
}

static json_object *image_record(fake_pixverse *pv, const pv_job *j, long long now)
{
	json_object *o = json_object_new_object();
	char base[96], url[160] = "";
	long long unused;
	job_phase ph = phase_of(j, now, &unused);
	int status = 5, w = 0, h = 0;

	fake_pv_media_base(pv, base, sizeof(base));
	if (ph == PHASE_QUEUED) {
		status = 10;   /* images: the "early queue", never a completion */
	} else if (ph == PHASE_ENDED && j->outcome == FAKE_PV_OUTCOME_DONE) {
		status = 1;
		snprintf(url, sizeof(url), "%s/web/ori/%lld.png", base, j->id);
		fake_pv_output_size(j->quality, j->aspect_ratio, &w, &h);
	} else if (ph == PHASE_ENDED && j->outcome == FAKE_PV_OUTCOME_MODERATED) {
		status = 7;
		snprintf(url, sizeof(url), "%s/pixverse/jpg/media/default.jpg", base);
	} else if (ph == PHASE_ENDED) {
		status = 8;
	}
	json_object_object_add(o, "image_id", json_object_new_int64(j->id));
	json_object_object_add(o, "image_status", json_object_new_int(status));
	json_object_object_add(o, "image_url", json_object_new_string(url));
	json_object_object_add(o, "width", json_object_new_int(w));
	json_object_object_add(o, "height", json_object_new_int(h));
	return o;
}

/* The account's jobs of one kind, newest first, `limit` from `offset`. */
static void handle_list(fake_pixverse *pv, pv_account *a, int is_image, const fake_request *req,
	fake_response *resp)
{
	size_t account = (size_t)(a - pv->accounts), i;
	json_object *body = fake_json_parse(req->body, req->body_len), *data, *r;
	long long offset = 0, limit = DEFAULT_LIST_LIMIT, now = fake_pv_now_ms(pv), seen = 0;

	if (body && !json_object_is_type(body, json_type_object)) {
		json_object_put(body);
		body = NULL;
	}
	if ((body && json_object_object_get_ex(body, "offset", NULL) && fake_json_int64(&offset, body, "offset") < 0) ||
	    (body && json_object_object_get_ex(body, "limit", NULL) && fake_json_int64(&limit, body, "limit") < 0) ||
	    offset < 0 || limit < 0) {
		json_object_put(body);
		fake_pv_reply(req, resp, ERR_BAD_PARAM, "invalid parameter: offset / limit", NULL);
		return;
	}
	data = json_object_new_array();
	for (i = pv->njobs; i-- > 0;) {
		const pv_job *j = &pv->jobs[i];

		if (j->account != account || j->is_image != is_image || j->deleted)
			continue;
		if (seen++ >= offset && (long long)json_object_array_length(data) < limit)
			json_object_array_add(data, is_image ? image_record(pv, j, now) : video_record(pv, j, now));
	}
	r = json_object_new_object();
	json_object_object_add(r, "data", data);
	json_object_object_add(r, "total", json_object_new_int64(seen));
	json_object_put(body);
	fake_pv_reply(req, resp, 0, NULL, r);
}

/* Resp null, as the delete endpoints answer. */
static void reply_null(const fake_request *req, fake_response *resp, int code)
{
	json_object *env = json_object_new_object();

	json_object_object_add(env, "ErrCode", json_object_new_int(code));
	json_object_object_add(env, "ErrMsg", json_object_new_string(fake_pixverse_errmsg(code)));
	if (req->fault.kind != FAKE_FAULT_NO_PAYLOAD)
		json_object_object_add(env, "Resp", NULL);
	fake_response_json(resp, 200, env);
	resp->log_code = code;
	resp->has_log_code = 1;
}

/* Deletes the known ids; any id unknown or deleted already answers 500064. */
static void handle_delete(fake_pixverse *pv, pv_account *a, int is_image, const fake_request *req,
	fake_response *resp)
{
	size_t account = (size_t)(a - pv->accounts), i, n;
	json_object *body = fake_json_parse(req->body, req->body_len), *ids;
	int missing = 0;

	if (!body || !json_object_object_get_ex(body, is_image ? "image_ids" : "video_ids", &ids) ||
	    !json_object_is_type(ids, json_type_array) || !(n = json_object_array_length(ids))) {
		json_object_put(body);
		fake_pv_reply(req, resp, ERR_EMPTY, is_image ? "image_ids is required" : "video_ids is required", NULL);
		return;
	}
	for (i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(ids, i);
		pv_job *j = json_object_is_type(v, json_type_int) ?
			fake_pv_find_job(pv, account, is_image, (long long)json_object_get_int64(v)) : NULL;

		if (j)
			j->deleted = 1;
		else
			missing = 1;
	}
	json_object_put(body);
	reply_null(req, resp, missing ? ERR_DELETED : 0);
}

static void handle_plan_details(pv_account *a, const fake_request *req, fake_response *resp)
{
	static const char *const free_q[] = { "360p", "540p", "720p" };
	static const char *const paid_q[] = { "360p", "540p", "720p", "1080p" };
	json_object *r = json_object_new_object(), *q = json_object_new_array();
	size_t i, n = a->plan_type ? 4 : 3;

	for (i = 0; i < n; i++)
		json_object_array_add(q, json_object_new_string(a->plan_type ? paid_q[i] : free_q[i]));
	json_object_object_add(r, "plan_name", json_object_new_string(a->plan_type ? "Pro" : "Free"));
	json_object_object_add(r, "current_plan_type", json_object_new_int(a->plan_type));
	json_object_object_add(r, "gen_simultaneously", json_object_new_int(a->gen_simultaneously));
	json_object_object_add(r, "qualities", q);
	fake_pv_reply(req, resp, 0, NULL, r);
}

void fake_pv_jobs_handle(fake_pixverse *pv, const fake_request *req, fake_response *resp)
{
	pv_account *a = fake_pv_session(pv, req, resp);

	if (!a)
		return;
	switch (req->route) {
	case FAKE_PV_EP_VIDEO_LIST:
	case FAKE_PV_EP_IMAGE_LIST:
		handle_list(pv, a, req->route == FAKE_PV_EP_IMAGE_LIST, req, resp);
		break;
	case FAKE_PV_EP_VIDEO_DELETE:
	case FAKE_PV_EP_IMAGE_DELETE:
		handle_delete(pv, a, req->route == FAKE_PV_EP_IMAGE_DELETE, req, resp);
		break;
	case FAKE_PV_EP_PLAN_DETAILS:
		handle_plan_details(a, req, resp);
		break;
	default:
		handle_generation(pv, a, req, resp);
		break;
	}
}

int fake_pv_job_result_exists(fake_pixverse *pv, long long id, int is_image)
{
	long long now = fake_pv_now_ms(pv), unused;
	size_t i;

	for (i = 0; i < pv->njobs; i++)
		if (pv->jobs[i].id == id && pv->jobs[i].is_image == is_image)
			return phase_of(&pv->jobs[i], now, &unused) == PHASE_ENDED &&
				pv->jobs[i].outcome == FAKE_PV_OUTCOME_DONE;
	return 0;
}

/* ---- lifecycle, control and counters ---- */

void fake_pv_jobs_init(fake_pixverse *pv)
{
	clock_gettime(CLOCK_MONOTONIC, &pv->started);
	pv->job_queue_ms = pv->opts.job_queue_ms > 0 ? pv->opts.job_queue_ms : DEFAULT_QUEUE_MS;
	pv->job_process_ms = pv->opts.job_process_ms > 0 ? pv->opts.job_process_ms : DEFAULT_PROCESS_MS;
	pv->early_cdn_ms = pv->opts.early_cdn_ms > 0 ? pv->opts.early_cdn_ms : DEFAULT_EARLY_CDN_MS;
	/* Ids in the service's range, apart so that a video id is never an image's. */
	pv->next_video_id = 380000001;
	pv->next_image_id = 520000001;
}

void fake_pv_jobs_free(fake_pixverse *pv)
{
	size_t i;

	for (i = 0; i < pv->njobs; i++)
		free(pv->jobs[i].prompt);
	free(pv->jobs);
	pv->jobs = NULL;
	pv->njobs = pv->cap_jobs = pv->settled_prefix = 0;
}

long long fake_pv_real_ms(fake_pixverse *pv)
{
	return real_ms(&pv->started);
}
