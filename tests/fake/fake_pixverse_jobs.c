/*
 * The fake Pixverse's generation jobs: the generation endpoints (t2v, i2v,
 * extend, frames, i2i) with their checks, credits and the concurrency limit,
 * the job lifecycle, the batched list endpoints, delete and plan_details.
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
/* The service's limit on prompts, in characters. */
#define MAX_PROMPT_CHARS 5000
#define DEFAULT_LIST_LIMIT 20
/* Transition segments last 1-8 s each (notes A.2). */
#define MIN_SEGMENT_S 1
#define MAX_SEGMENT_S 8
#define MIN_FRAMES 2
#define MAX_FRAMES 7

#define ERR_BAD_JSON 400001
#define ERR_EMPTY 400011
#define ERR_BAD_PARAM 400017
#define ERR_PROMPT_LONG 400018
#define ERR_NEGATIVE_LONG 400019
#define ERR_BAD_IMAGE 400032
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

/* What a generation request asks for, once checked. */
typedef struct gen_request {
	int is_image;
	const char *model, *quality, *aspect_ratio;
	int duration;
	long cost;
	char *text;              /* every prompt of the request, for the keywords */
} gen_request;

static long long real_ms(const struct timespec *origin)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - origin->tv_sec) * 1000 +
		(now.tv_nsec - origin->tv_nsec) / 1000000;
}

/* The job clock: real time since the start, plus what tests advanced it by,
 * or standing still while frozen (so a test can look at each phase). */
static long long pv_now_ms(fake_pixverse *pv)
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

static unsigned long in_flight(fake_pixverse *pv, size_t account, long long now)
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

static int concurrency_limit(const pv_account *a)
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
	long long now = pv_now_ms(pv), unused;
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

/* Characters of UTF-8 text: the service counts characters, not bytes. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* Appends s and a space to *text (malloc'd); 0, or -1 out of memory. */
static int text_add(char **text, const char *s)
{
	size_t old = *text ? strlen(*text) : 0, n = strlen(s);
	char *p = realloc(*text, old + n + 2);

	if (!p)
		return -1;
	memcpy(p + old, s, n);
	p[old + n] = ' ';
	p[old + n + 1] = '\0';
	*text = p;
	return 0;
}

static int on_media_host(fake_pixverse *pv, const char *url)
{
	char base[96];
	size_t n;

	fake_pv_media_base(pv, base, sizeof(base));
	n = strlen(base);
	return url && !strncmp(url, base, n) && url[n] == '/' && url[n + 1];
}

/* The checks every prompt gets; 0 or the ErrCode, with *msg. */
static int check_prompt(const char *prompt, int required, const char **msg)
{
	if (!prompt || !*prompt) {
		*msg = "prompt is required";
		return required ? ERR_EMPTY : 0;
	}
	if (utf8_chars(prompt) > MAX_PROMPT_CHARS) {
		*msg = "prompt is longer than 5000 characters";
		return ERR_PROMPT_LONG;
	}
	return 0;
}

/* model, quality and duration of a video request. */
static int check_video_options(json_object *body, gen_request *g, const char **msg)
{
	const pv_video_model *m;
	long long duration = 5;
	json_object *v;

	g->model = fake_json_str(body, "model");
	if (!g->model)
		g->model = "v5";
	g->quality = fake_json_str(body, "quality");
	if (!g->quality)
		g->quality = "360p";
	if (!(m = fake_pv_video_model(g->model))) {
		*msg = "invalid parameter: model";
		return ERR_BAD_PARAM;
	}
	if (!fake_pv_model_has_quality(m->qualities, g->quality)) {
		*msg = "invalid parameter: quality";
		return ERR_BAD_PARAM;
	}
	if (json_object_object_get_ex(body, "duration", &v) && fake_json_int64(&duration, body, "duration") < 0) {
		*msg = "invalid parameter: duration";
		return ERR_BAD_PARAM;
	}
	if (duration < m->min_duration || duration > m->max_duration) {
		*msg = "invalid parameter: duration";
		return ERR_BAD_PARAM;
	}
	g->duration = (int)duration;
	g->cost = (long)fake_pv_video_cost_per_second(g->quality) * g->duration;
	return 0;
}

static int check_urls(fake_pixverse *pv, json_object *urls, size_t n, const char **msg)
{
	size_t i;

	for (i = 0; i < n; i++) {
		json_object *u = json_object_array_get_idx(urls, i);

		if (!json_object_is_type(u, json_type_string) || !on_media_host(pv, json_object_get_string(u))) {
			*msg = "invalid image: not a Pixverse media URL";
			return ERR_BAD_IMAGE;
		}
	}
	return 0;
}

static pv_job *find_job(fake_pixverse *pv, size_t account, int is_image, long long id)
{
	size_t i;

	for (i = 0; i < pv->njobs; i++)
		if (pv->jobs[i].id == id && pv->jobs[i].is_image == is_image && pv->jobs[i].account == account &&
		    !pv->jobs[i].deleted)
			return &pv->jobs[i];
	return NULL;
}

/* Checks a generation request by endpoint; 0 with *g filled, or the ErrCode with *msg. */
static int check_generation(fake_pixverse *pv, size_t account, int ep, json_object *body,
	gen_request *g, const char **msg)
{
	const char *prompt = fake_json_str(body, "prompt");
	json_object *urls = NULL, *list = NULL;
	int code;

	*msg = NULL;
	if (ep != FAKE_PV_EP_FRAMES && (code = check_prompt(prompt, 1, msg)))
		return code;
	if (prompt && text_add(&g->text, prompt) < 0)
		return ERR_HIGH_LOAD;
	if (ep == FAKE_PV_EP_T2V || ep == FAKE_PV_EP_I2V) {
		const char *neg = fake_json_str(body, "negative_prompt");

		if (neg && utf8_chars(neg) > MAX_PROMPT_CHARS) {
			*msg = "negative_prompt is longer than 5000 characters";
			return ERR_NEGATIVE_LONG;
		}
	}
	switch (ep) {
	case FAKE_PV_EP_T2V:
		if ((code = check_video_options(body, g, msg)))
			return code;
		g->aspect_ratio = fake_json_str(body, "aspect_ratio");
		if (!g->aspect_ratio)
			g->aspect_ratio = "16:9";
		if (!fake_pv_aspect_ratio_ok(g->aspect_ratio)) {
			*msg = "invalid parameter: aspect_ratio";
			return ERR_BAD_PARAM;
		}
		return 0;
	case FAKE_PV_EP_I2V: {
		const char *url = fake_json_str(body, "customer_img_url");

		if ((code = check_video_options(body, g, msg)))
			return code;
		g->aspect_ratio = "16:9";
		if (!url || !*url) {
			*msg = "customer_img_url is required";
			return ERR_EMPTY;
		}
		if (!on_media_host(pv, url)) {
			*msg = "invalid image: not a Pixverse media URL";
			return ERR_BAD_IMAGE;
		}
		return 0;
	}
	case FAKE_PV_EP_EXTEND: {
		long long original;
		pv_job *o;

		if ((code = check_video_options(body, g, msg)))
			return code;
		if (fake_json_int64(&original, body, "original_video_id") < 0) {
			*msg = "original_video_id is required";
			return ERR_EMPTY;
		}
		if (!(o = find_job(pv, account, 0, original))) {
			*msg = "invalid parameter: original_video_id";
			return ERR_BAD_PARAM;
		}
		g->aspect_ratio = o->aspect_ratio;
		return 0;
	}
	case FAKE_PV_EP_FRAMES: {
		json_object *durations, *paths;
		size_t n, i;
		long long sum = 0, d;

		if (!json_object_object_get_ex(body, "customer_img_urls", &urls) ||
		    !json_object_is_type(urls, json_type_array)) {
			*msg = "customer_img_urls is required";
			return ERR_EMPTY;
		}
		n = json_object_array_length(urls);
		if (n < MIN_FRAMES || n > MAX_FRAMES) {
			*msg = "invalid parameter: transitions take 2 to 7 images";
			return ERR_BAD_PARAM;
		}
		if (json_object_object_get_ex(body, "customer_img_paths", &paths) &&
		    (!json_object_is_type(paths, json_type_array) || json_object_array_length(paths) != n)) {
			*msg = "invalid parameter: customer_img_paths";
			return ERR_BAD_PARAM;
		}
		if ((code = check_urls(pv, urls, n, msg)))
			return code;
		if (!json_object_object_get_ex(body, "prompts", &list) || !json_object_is_type(list, json_type_array)) {
			*msg = "prompts is required";
			return ERR_EMPTY;
		}
		if (json_object_array_length(list) != n - 1) {
			*msg = "invalid parameter: prompts (one per segment)";
			return ERR_BAD_PARAM;
		}
		for (i = 0; i < n - 1; i++) {
			json_object *p = json_object_array_get_idx(list, i);

			if (!json_object_is_type(p, json_type_string)) {
				*msg = "invalid parameter: prompts";
				return ERR_BAD_PARAM;
			}
			if ((code = check_prompt(json_object_get_string(p), 0, msg)))
				return code;
			if (text_add(&g->text, json_object_get_string(p)) < 0)
				return ERR_HIGH_LOAD;
		}
		if ((code = check_prompt(prompt, 0, msg)))
			return code;
		if (!json_object_object_get_ex(body, "durations", &durations) ||
		    !json_object_is_type(durations, json_type_array)) {
			*msg = "durations is required";
			return ERR_EMPTY;
		}
		if (json_object_array_length(durations) != n - 1) {
			*msg = "invalid parameter: durations (one per segment)";
			return ERR_BAD_PARAM;
		}
		for (i = 0; i < n - 1; i++) {
			json_object *v = json_object_array_get_idx(durations, i);

			d = json_object_is_type(v, json_type_int) ? (long long)json_object_get_int64(v) : -1;
			if (d < MIN_SEGMENT_S || d > MAX_SEGMENT_S) {
				*msg = "invalid parameter: durations (1 to 8 s each)";
				return ERR_BAD_PARAM;
			}
			sum += d;
		}
		/* The segments' sum is what is charged, not "duration" (= the first). */
		json_object_object_add(body, "duration", json_object_new_int64(json_object_get_int64(
			json_object_array_get_idx(durations, 0))));
		if ((code = check_video_options(body, g, msg)))
			return code;
		g->duration = (int)sum;
		g->cost = (long)fake_pv_video_cost_per_second(g->quality) * sum;
		g->aspect_ratio = "16:9";
		return 0;
	}
	default: {
		const pv_image_model *m;
		size_t n = 0;

		g->is_image = 1;
		g->model = fake_json_str(body, "model");
		if (!g->model)
			g->model = "qwen-image";
		g->quality = fake_pv_normalise_image_quality(fake_json_str(body, "quality"));
		if (!g->quality)
			g->quality = "1080p";
		g->aspect_ratio = fake_json_str(body, "aspect_ratio");
		if (!g->aspect_ratio)
			g->aspect_ratio = "1:1";
		if (!(m = fake_pv_image_model(g->model))) {
			*msg = "invalid parameter: model";
			return ERR_BAD_PARAM;
		}
		if ((g->cost = fake_pv_image_cost(m, g->quality)) < 0) {
			*msg = "invalid parameter: quality";
			return ERR_BAD_PARAM;
		}
		if (!fake_pv_aspect_ratio_ok(g->aspect_ratio)) {
			*msg = "invalid parameter: aspect_ratio";
			return ERR_BAD_PARAM;
		}
		if (json_object_object_get_ex(body, "customer_img_urls", &urls)) {
			if (!json_object_is_type(urls, json_type_array)) {
				*msg = "invalid parameter: customer_img_urls";
				return ERR_BAD_PARAM;
			}
			n = json_object_array_length(urls);
		}
		if (n > (size_t)m->max_images) {
			*msg = "invalid parameter: too many images for the model";
			return ERR_BAD_PARAM;
		}
		return check_urls(pv, urls, n, msg);
	}
	}
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
	gen_request g;
	const char *msg = NULL;
	long long now = pv_now_ms(pv);
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
	if ((code = check_generation(pv, account, req->route, body, &g, &msg))) {
		fake_pv_reply(req, resp, code, msg, NULL);
		goto out;
	}
	if (g.text && strcasestr(g.text, "forbidden")) {
		fake_pv_reply(req, resp, ERR_PROMPT_REJECTED, NULL, NULL);
		goto out;
	}
	flying = in_flight(pv, account, now);
	if (flying >= (unsigned long)concurrency_limit(a)) {
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
	long long offset = 0, limit = DEFAULT_LIST_LIMIT, now = pv_now_ms(pv), seen = 0;

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
			find_job(pv, account, is_image, (long long)json_object_get_int64(v)) : NULL;

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
	long long now = pv_now_ms(pv), unused;
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

static void stats_of(fake_pixverse *pv, size_t account, fake_pv_job_stats *out)
{
	*out = pv->accounts[account].stats;
	out->in_flight = in_flight(pv, account, pv_now_ms(pv));
}

static void stats_add(fake_pv_job_stats *sum, const fake_pv_job_stats *s)
{
	sum->submitted += s->submitted;
	sum->in_flight += s->in_flight;
	if (s->max_in_flight > sum->max_in_flight)
		sum->max_in_flight = s->max_in_flight;
	sum->concurrency_refused += s->concurrency_refused;
	sum->credits_refused += s->credits_refused;
	sum->high_load_refused += s->high_load_refused;
	sum->done += s->done;
	sum->moderated += s->moderated;
	sum->failed += s->failed;
	sum->charged += s->charged;
	sum->refunded += s->refunded;
}

static json_object *stats_json(const fake_pv_job_stats *s)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "submitted", json_object_new_int64((int64_t)s->submitted));
	json_object_object_add(o, "in_flight", json_object_new_int64((int64_t)s->in_flight));
	json_object_object_add(o, "max_in_flight", json_object_new_int64((int64_t)s->max_in_flight));
	json_object_object_add(o, "concurrency_refused", json_object_new_int64((int64_t)s->concurrency_refused));
	json_object_object_add(o, "credits_refused", json_object_new_int64((int64_t)s->credits_refused));
	json_object_object_add(o, "high_load_refused", json_object_new_int64((int64_t)s->high_load_refused));
	json_object_object_add(o, "done", json_object_new_int64((int64_t)s->done));
	json_object_object_add(o, "moderated", json_object_new_int64((int64_t)s->moderated));
	json_object_object_add(o, "failed", json_object_new_int64((int64_t)s->failed));
	json_object_object_add(o, "charged", json_object_new_int64(s->charged));
	json_object_object_add(o, "refunded", json_object_new_int64(s->refunded));
	return o;
}

/* Called with the lock held; the clock never goes back. */
static void freeze(fake_pixverse *pv, int frozen)
{
	if (frozen && !pv->clock_frozen) {
		pv->frozen_at_ms = pv_now_ms(pv);
		pv->clock_frozen = 1;
	} else if (!frozen && pv->clock_frozen) {
		pv->clock_advance_ms = pv->frozen_at_ms - real_ms(&pv->started);
		pv->clock_frozen = 0;
	}
}

static void advance(fake_pixverse *pv, long ms)
{
	if (ms <= 0)
		return;
	if (pv->clock_frozen)
		pv->frozen_at_ms += ms;
	else
		pv->clock_advance_ms += ms;
}

/* Called with the lock held. -1 for an unknown email. */
static int job_stats_locked(fake_pixverse *pv, const char *email, fake_pv_job_stats *out)
{
	fake_pv_job_stats one;
	pv_account *a;
	size_t i;

	fake_pv_jobs_settle(pv);
	memset(out, 0, sizeof(*out));
	if (email) {
		if (!(a = fake_pv_find_account(pv, email)))
			return -1;
		stats_of(pv, (size_t)(a - pv->accounts), out);
		return 0;
	}
	for (i = 0; i < pv->naccounts; i++) {
		stats_of(pv, i, &one);
		stats_add(out, &one);
	}
	return 0;
}

static const char *outcome_name(fake_pv_outcome o)
{
	switch (o) {
	case FAKE_PV_OUTCOME_DONE: return "done";
	case FAKE_PV_OUTCOME_MODERATED: return "moderated";
	case FAKE_PV_OUTCOME_FAILED: return "failed";
	default: return "auto";
	}
}

void fake_pv_jobs_stats(fake_pixverse *pv, json_object *stats)
{
	json_object *jobs = json_object_new_object(), *settings = json_object_new_object();
	fake_pv_job_stats s;
	size_t i;

	job_stats_locked(pv, NULL, &s);
	json_object_object_add(jobs, "all", stats_json(&s));
	for (i = 0; i < pv->naccounts; i++) {
		json_object *o;

		stats_of(pv, i, &s);
		o = stats_json(&s);
		json_object_object_add(o, "credits", json_object_new_int64(pv->accounts[i].credit_daily +
			pv->accounts[i].credit_monthly + pv->accounts[i].credit_package));
		json_object_object_add(o, "concurrency_limit",
			json_object_new_int(concurrency_limit(&pv->accounts[i])));
		json_object_object_add(jobs, pv->accounts[i].email, o);
	}
	json_object_object_add(stats, "jobs", jobs);
	json_object_object_add(settings, "queue_ms", json_object_new_int64(pv->job_queue_ms));
	json_object_object_add(settings, "process_ms", json_object_new_int64(pv->job_process_ms));
	json_object_object_add(settings, "early_cdn_ms", json_object_new_int64(pv->early_cdn_ms));
	json_object_object_add(settings, "high_load_left", json_object_new_int64((int64_t)pv->high_load_left));
	json_object_object_add(settings, "next_outcome", json_object_new_string(outcome_name(pv->next_outcome)));
	json_object_object_add(stats, "job_settings", settings);
	json_object_object_add(stats, "uploads", json_object_new_int64((int64_t)pv->nuploads));
}

void fake_pv_jobs_reset(fake_pixverse *pv)
{
	long long now;
	size_t i;

	fake_pv_jobs_settle(pv);
	now = pv_now_ms(pv);
	for (i = 0; i < pv->naccounts; i++) {
		memset(&pv->accounts[i].stats, 0, sizeof(pv->accounts[i].stats));
		/* Jobs still running stay in flight: the peak starts from them. */
		pv->accounts[i].stats.max_in_flight = in_flight(pv, i, now);
	}
}

int fake_pv_jobs_control(fake_pixverse *pv, const fake_request *req, fake_response *resp)
{
	const char *what = req->path + strlen("/__control/");
	const char *email = fake_request_arg(req, "email");
	pv_account *a = fake_pv_find_account(pv, email);

	if (!strcmp(what, "jobs")) {
		long q = pv->job_queue_ms, p = pv->job_process_ms, e = pv->early_cdn_ms;
		json_object *o;

		if (fake_request_arg_long(&q, req, "queue_ms") < 0 || fake_request_arg_long(&p, req, "process_ms") < 0 ||
		    fake_request_arg_long(&e, req, "early_cdn_ms") < 0 || q < 0 || p < 0 || e < 0) {
			fake_control_error(resp, "jobs: queue_ms, process_ms and early_cdn_ms must be integers >= 0");
			return 1;
		}
		pv->job_queue_ms = q;
		pv->job_process_ms = p;
		pv->early_cdn_ms = e;
		o = json_object_new_object();
		json_object_object_add(o, "queue_ms", json_object_new_int64(q));
		json_object_object_add(o, "process_ms", json_object_new_int64(p));
		json_object_object_add(o, "early_cdn_ms", json_object_new_int64(e));
		fake_control_ok(resp, o);
		return 1;
	}
	if (!strcmp(what, "job_clock")) {
		long frozen = pv->clock_frozen, ms = 0;
		json_object *o;

		if (fake_request_arg_long(&frozen, req, "freeze") < 0 ||
		    fake_request_arg_long(&ms, req, "advance_ms") < 0 || ms < 0) {
			fake_control_error(resp, "job_clock: freeze must be 0 or 1, advance_ms an integer >= 0");
			return 1;
		}
		freeze(pv, frozen != 0);
		advance(pv, ms);
		o = json_object_new_object();
		json_object_object_add(o, "now_ms", json_object_new_int64(pv_now_ms(pv)));
		json_object_object_add(o, "frozen", json_object_new_boolean(pv->clock_frozen));
		fake_control_ok(resp, o);
		return 1;
	}
	if (!strcmp(what, "next_outcome")) {
		const char *o = fake_request_arg(req, "outcome");

		if (o && !strcmp(o, "done"))
			pv->next_outcome = FAKE_PV_OUTCOME_DONE;
		else if (o && !strcmp(o, "moderated"))
			pv->next_outcome = FAKE_PV_OUTCOME_MODERATED;
		else if (o && !strcmp(o, "failed"))
			pv->next_outcome = FAKE_PV_OUTCOME_FAILED;
		else if (o && !strcmp(o, "auto"))
			pv->next_outcome = FAKE_PV_OUTCOME_AUTO;
		else {
			fake_control_error(resp, "next_outcome: 'outcome' must be done, moderated, failed or auto");
			return 1;
		}
		fake_control_ok(resp, NULL);
		return 1;
	}
	if (!strcmp(what, "high_load")) {
		long n = 1;

		if (fake_request_arg_long(&n, req, "count") < 0 || n < 0) {
			fake_control_error(resp, "high_load: 'count' must be an integer >= 0");
			return 1;
		}
		pv->high_load_left = (unsigned long)n;
		fake_control_ok(resp, NULL);
		return 1;
	}
	if (strcmp(what, "plan") && strcmp(what, "job_stats"))
		return 0;
	if (!strcmp(what, "job_stats")) {
		fake_pv_job_stats s;

		if (job_stats_locked(pv, email, &s) < 0)
			fake_control_error(resp, "job_stats: unknown account '%s'", email);
		else
			fake_control_ok(resp, stats_json(&s));
		return 1;
	}
	if (!a) {
		fake_control_error(resp, "plan: unknown account '%s'", email ? email : "");
		return 1;
	}
	{
		long type = a->plan_type, gen = a->gen_simultaneously;

		if (fake_request_arg_long(&type, req, "plan_type") < 0 ||
		    fake_request_arg_long(&gen, req, "gen_simultaneously") < 0 || type < 0 || gen < 0) {
			fake_control_error(resp, "plan: plan_type and gen_simultaneously must be integers >= 0");
			return 1;
		}
		a->plan_type = (int)type;
		a->gen_simultaneously = (int)gen;
		fake_control_ok(resp, NULL);
	}
	return 1;
}

/* ---- C API ---- */

long long fake_pixverse_now_ms(fake_pixverse *pv)
{
	long long now;

	fake_server_lock(pv->server);
	now = pv_now_ms(pv);
	fake_server_unlock(pv->server);
	return now;
}

void fake_pixverse_freeze_job_clock(fake_pixverse *pv, int frozen)
{
	fake_server_lock(pv->server);
	freeze(pv, frozen);
	fake_server_unlock(pv->server);
}

void fake_pixverse_advance_job_clock(fake_pixverse *pv, long ms)
{
	fake_server_lock(pv->server);
	advance(pv, ms);
	fake_server_unlock(pv->server);
}

void fake_pixverse_set_job_durations(fake_pixverse *pv, long queue_ms, long process_ms)
{
	fake_server_lock(pv->server);
	if (queue_ms >= 0)
		pv->job_queue_ms = queue_ms;
	if (process_ms >= 0)
		pv->job_process_ms = process_ms;
	fake_server_unlock(pv->server);
}

void fake_pixverse_set_early_cdn_ms(fake_pixverse *pv, long ms)
{
	fake_server_lock(pv->server);
	if (ms >= 0)
		pv->early_cdn_ms = ms;
	fake_server_unlock(pv->server);
}

void fake_pixverse_force_next_outcome(fake_pixverse *pv, fake_pv_outcome outcome)
{
	fake_server_lock(pv->server);
	pv->next_outcome = outcome;
	fake_server_unlock(pv->server);
}

void fake_pixverse_set_high_load(fake_pixverse *pv, unsigned long count)
{
	fake_server_lock(pv->server);
	pv->high_load_left = count;
	fake_server_unlock(pv->server);
}

int fake_pixverse_set_plan(fake_pixverse *pv, const char *email, int plan_type, int gen_simultaneously)
{
	pv_account *a;

	fake_server_lock(pv->server);
	if ((a = fake_pv_find_account(pv, email))) {
		a->plan_type = plan_type;
		a->gen_simultaneously = gen_simultaneously > 0 ? gen_simultaneously : 0;
	}
	fake_server_unlock(pv->server);
	return a ? 0 : -1;
}

int fake_pixverse_concurrency_limit(fake_pixverse *pv, const char *email)
{
	pv_account *a;
	int n = -1;

	fake_server_lock(pv->server);
	if ((a = fake_pv_find_account(pv, email)))
		n = concurrency_limit(a);
	fake_server_unlock(pv->server);
	return n;
}

int fake_pixverse_job_stats(fake_pixverse *pv, const char *email, fake_pv_job_stats *out)
{
	int rc;

	fake_server_lock(pv->server);
	rc = job_stats_locked(pv, email, out);
	fake_server_unlock(pv->server);
	return rc;
}

long fake_pixverse_web_credits(fake_pixverse *pv, const char *email)
{
	pv_account *a;
	long n = -1;

	fake_server_lock(pv->server);
	fake_pv_jobs_settle(pv);
	if ((a = fake_pv_find_account(pv, email)))
		n = a->credit_daily + a->credit_monthly + a->credit_package;
	fake_server_unlock(pv->server);
	return n;
}
