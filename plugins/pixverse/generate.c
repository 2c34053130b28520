/*
 * The generate operation: one job of any kind (text or image to video,
 * extend, transition, text or image to image), validated by params.c before
 * any request, submitted on the web API with the `refresh: credit` header,
 * and answered with the job id the jobs operation and the pool's
 * job_status take ("123" for a video, "image:456" for an image).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pixverse.h"

#define PV_T2V_PATH "/creative_platform/video/t2v"
#define PV_I2V_PATH "/creative_platform/video/i2v"
#define PV_EXTEND_PATH "/creative_platform/video/extend"
#define PV_FRAMES_PATH "/creative_platform/video/frames"
#define PV_I2I_PATH "/creative_platform/image/i2i"

static void add_string_list(pv_jsonbuf *b, const char *key, const char *const *items, size_t n)
{
	size_t i;

	pv_jsonbuf_addf(b, ",\"%s\":[", key);
	for (i = 0; i < n; i++) {
		if (i)
			pv_jsonbuf_addf(b, ",");
		pv_jsonbuf_str(b, items[i]);
	}
	pv_jsonbuf_addf(b, "]");
}

/* model, quality and the prompt: what every job carries (a transition's prompt only for one segment). */
static void add_common(pv_jsonbuf *b, const pv_gen *g)
{
	pv_jsonbuf_addf(b, "\"model\":");
	pv_jsonbuf_str(b, g->model);
	pv_jsonbuf_addf(b, ",\"quality\":");
	pv_jsonbuf_str(b, g->quality);
	if (g->type == PV_GEN_TRANSITION && g->segment_count != 1)
		return;
	pv_jsonbuf_addf(b, ",\"prompt\":");
	pv_jsonbuf_str(b, g->type == PV_GEN_TRANSITION ? g->prompts[0] : g->prompt);
}

/* The request body of g's endpoint (malloc'd), or NULL when out of memory. */
static char *request_body(const provauth_host *h, const pv_gen *g)
{
	pv_jsonbuf b;
	size_t i;

	pv_jsonbuf_init(&b, h);
	pv_jsonbuf_addf(&b, "{");
	add_common(&b, g);
	switch (g->type) {
	case PV_GEN_T2V:
	case PV_GEN_I2V:
		pv_jsonbuf_addf(&b, ",\"duration\":%lld", (long long)g->duration);
		if (g->type == PV_GEN_T2V) {
			pv_jsonbuf_addf(&b, ",\"aspect_ratio\":");
			pv_jsonbuf_str(&b, g->aspect_ratio);
		} else {
			pv_jsonbuf_addf(&b, ",\"customer_img_path\":");
			pv_jsonbuf_str(&b, g->image_paths[0]);
			pv_jsonbuf_addf(&b, ",\"customer_img_url\":");
			pv_jsonbuf_str(&b, g->image_urls[0]);
		}
		pv_jsonbuf_addf(&b, ",\"create_count\":1,\"lip_sync_tts_speaker_id\":\"Auto\",\"credit_change\":%lld",
		                (long long)g->cost);
		if (g->negative_prompt) {
			pv_jsonbuf_addf(&b, ",\"negative_prompt\":");
			pv_jsonbuf_str(&b, g->negative_prompt);
		}
		break;
	case PV_GEN_EXTEND:
		pv_jsonbuf_addf(&b, ",\"duration\":%lld,\"platform\":\"web\",\"create_count\":1,\"original_video_id\":%lld,"
		                "\"credit_change\":%lld", (long long)g->duration, (long long)g->video_id, (long long)g->cost);
		break;
	case PV_GEN_TRANSITION:
		add_string_list(&b, "customer_img_urls", g->image_urls, g->image_count);
		add_string_list(&b, "customer_img_paths", g->image_paths, g->image_count);
		add_string_list(&b, "prompts", g->prompts, g->segment_count);
		pv_jsonbuf_addf(&b, ",\"durations\":[");
		for (i = 0; i < g->segment_count; i++)
			pv_jsonbuf_addf(&b, "%s%lld", i ? "," : "", (long long)g->durations[i]);
		pv_jsonbuf_addf(&b, "],\"duration\":%lld,\"off_peak\":0,\"preview_mode\":0,\"create_count\":1,"
		                "\"credit_change\":%lld", (long long)g->durations[0], (long long)g->cost);
		break;
	case PV_GEN_T2I:
	case PV_GEN_I2I:
		pv_jsonbuf_addf(&b, ",\"aspect_ratio\":");
		pv_jsonbuf_str(&b, g->aspect_ratio);
		/* 0 asks the service for a random seed. */
		pv_jsonbuf_addf(&b, ",\"seed\":%lld,\"create_count\":1", g->has_seed ? (long long)g->seed : 0LL);
		add_string_list(&b, "customer_img_paths", g->image_paths, g->image_count);
		add_string_list(&b, "customer_img_urls", g->image_urls, g->image_count);
		break;
	}
	if (g->has_seed && !g->is_image)
		pv_jsonbuf_addf(&b, ",\"seed\":%lld", (long long)g->seed);
	pv_jsonbuf_addf(&b, "}");
	return pv_jsonbuf_take(&b);
}

static const char *endpoint_of(pv_gen_type t)
{
	switch (t) {
	case PV_GEN_T2V: return PV_T2V_PATH;
	case PV_GEN_I2V: return PV_I2V_PATH;
	case PV_GEN_EXTEND: return PV_EXTEND_PATH;
	case PV_GEN_TRANSITION: return PV_FRAMES_PATH;
	default: return PV_I2I_PATH;
	}
}

/* The job's id from the reply: video_ids[0], or image_id else success_ids[0]; -1 when there is none. */
static int64_t job_id_of(const provauth_host *h, const provauth_json *resp, int is_image)
{
	int64_t id;

	if (!is_image)
		return h->json_int(h->json_array_at(h->json_get(resp, "video_ids"), 0), &id) == 0 && id > 0 ? id : -1;
	if (h->json_int(h->json_get(resp, "image_id"), &id) == 0 && id > 0)
		return id;
	return h->json_int(h->json_array_at(h->json_get(resp, "success_ids"), 0), &id) == 0 && id > 0 ? id : -1;
}

int pv_op_generate(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
                   char **out_json, provauth_failure *f)
{
	const pv_state *st = state;
	const provauth_host *h = st->host;
	const char *path;
	char *body, job[40];
	pv_reply r;
	pv_gen g;
	int64_t id;
	int rc;

	if ((rc = pv_gen_parse(h, args, nargs, &g)) < 0)
		return rc;
	if (!(body = request_body(h, &g)))
		return pv_oom_failure(h, f);
	path = endpoint_of(g.type);
	rc = pv_web_call(st, s, "POST", path, body, 1, 1, &r, f);
	free(body);
	if (rc < 0)
		return rc;
	id = job_id_of(h, r.resp, g.is_image);
	pv_reply_free(st, &r);
	if (id < 0) {
		h->failure_set_message(f, PROVAUTH_EPROTOCOL, "pixverse: %s: reply has no %s", path,
		                       g.is_image ? "image_id" : "video_ids");
		return PROVAUTH_EPROTOCOL;
	}
	snprintf(job, sizeof(job), "%s%lld", g.is_image ? "image:" : "", (long long)id);
	*out_json = h->json_format(h, "{\"job_id\":%s,\"kind\":%s,\"type\":%s,\"model\":%s,\"quality\":%s,\"cost\":%i,"
	                           "\"credit_kind\":%s}", job, g.is_image ? "image" : "video", g.type_name, g.model,
	                           g.quality, g.cost, PV_CREDIT_KIND_WEB);
	return *out_json ? 0 : pv_oom_failure(h, f);
}
