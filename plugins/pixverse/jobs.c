/*
 * Jobs after submission: their state, read from the list endpoints (one
 * video list and one image list request answer every job of the account,
 * however many: the poller's batch fast path), and their deletion.
 * The status table is the service's (notes A.4): a 10 without an output
 * size is the early CDN entry, a URL that is no real output (a moderation
 * placeholder) is never a result, and a job the list does not hold is
 * "unknown", not failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pixverse.h"

#define PV_VIDEO_LIST_PATH "/creative_platform/video/list/personal"
#define PV_IMAGE_LIST_PATH "/creative_platform/image/list/personal"
#define PV_VIDEO_DELETE_PATH "/creative_platform/video/delete"
#define PV_IMAGE_DELETE_PATH "/creative_platform/image/delete"
/* The newest this many records of each kind: what one list request returns. */
#define PV_LIST_LIMIT 200
#define PV_IMAGE_PREFIX "image:"

int pv_result_url_ok(const char *url)
{
	if (!url || !*url || strstr(url, "/media/default."))
		return 0;
	return strstr(url, "/web/ori/") || strstr(url, "/openapi/output/");
}

const char *pv_video_state(int64_t status, const char *url, int64_t width, int64_t height)
{
	switch (status) {
	case 1:
		return pv_result_url_ok(url) ? "done" : "processing";
	case 10:
		/* Without an output size the file is not there yet (a false completion). */
		return width > 0 && height > 0 && pv_result_url_ok(url) ? "done" : "processing";
	case 3:
	case 7:
	case 17:
		return "moderated";
	case -1:
	case 4:
	case 8:
	case 9:
		return "failed";
	default:
		return "processing";
	}
}

const char *pv_image_state(int64_t status, const char *url, int64_t width, int64_t height)
{
	(void)width;
	(void)height;
	switch (status) {
	case 1:
		return pv_result_url_ok(url) ? "done" : "processing";
	case 7:
		return "moderated";
	case 8:
	case 9:
		return "failed";
	default:
		/* 10 is the "early queue" for images, never a completion. */
		return "processing";
	}
}

/* A job id as generate returned it: a video's "123" or an image's "image:456". */
typedef struct pv_job_ref {
	const char *text;
	int is_image;
	int64_t id;
} pv_job_ref;

static int parse_ref(const provauth_host *h, const char *text, pv_job_ref *out)
{
	const char *p = text ? text : "";
	int64_t n = 0;

	out->text = p;
	out->is_image = strncmp(p, PV_IMAGE_PREFIX, strlen(PV_IMAGE_PREFIX)) == 0;
	if (out->is_image)
		p += strlen(PV_IMAGE_PREFIX);
	if (*p < '1' || *p > '9' || strlen(p) > 18)
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++)
		n = n * 10 + (*p - '0');
	if (*p)
		goto bad;
	out->id = n;
	return 0;
bad:
	return h->set_error(h, PROVAUTH_EINVAL, "pixverse: job id '%.40s': a video's number or \"image:\" and an image's "
	                    "number, as generate returns them", text ? text : "");
}

/* One list request of a kind: its data array stays in *r. */
static int read_list(const pv_state *st, const provauth_session *s, int is_image, pv_reply *r,
                     const provauth_json **data, provauth_failure *f)
{
	const provauth_host *h = st->host;
	const char *path = is_image ? PV_IMAGE_LIST_PATH : PV_VIDEO_LIST_PATH;
	char body[160];
	int rc;

	if (is_image)
		snprintf(body, sizeof(body), "{\"offset\":0,\"limit\":%d,\"filter\":{},\"web_offset\":0,\"app_offset\":0}",
		         PV_LIST_LIMIT);
	else
		snprintf(body, sizeof(body), "{\"offset\":0,\"limit\":%d,\"polling\":true,\"filter\":{},\"web_offset\":0,"
		         "\"app_offset\":0}", PV_LIST_LIMIT);
	if ((rc = pv_web_call(st, s, "POST", path, body, 0, 1, r, f)) < 0)
		return rc;
	*data = h->json_get(r->resp, "data");
	if (h->json_type(*data) != PROVAUTH_JSON_ARRAY) {
		pv_reply_free(st, r);
		h->failure_set_message(f, PROVAUTH_EPROTOCOL, "pixverse: %s: Resp has no data list", path);
		return PROVAUTH_EPROTOCOL;
	}
	return 0;
}

static int64_t int_of(const provauth_host *h, const provauth_json *o, const char *key, int64_t def)
{
	int64_t n;
	return h->json_int(h->json_get(o, key), &n) == 0 ? n : def;
}

/* One {"id","state","url","code"} entry for ref from its list (NULL: the list was not read). */
static char *job_entry(const provauth_host *h, const pv_job_ref *ref, const provauth_json *data)
{
	size_t i, n = h->json_array_len(data);

	for (i = 0; i < n; i++) {
		const provauth_json *rec = h->json_array_at(data, i);
		const char *url, *state;
		int64_t status;

		if (int_of(h, rec, ref->is_image ? "image_id" : "video_id", -1) != ref->id)
			continue;
		status = int_of(h, rec, ref->is_image ? "image_status" : "video_status", 0);
		if (ref->is_image) {
			url = h->json_string(h->json_get(rec, "image_url"));
			state = pv_image_state(status, url, int_of(h, rec, "width", 0), int_of(h, rec, "height", 0));
		} else {
			url = h->json_string(h->json_get(rec, "url"));
			if (!url)
				url = h->json_string(h->json_get(rec, "video_url"));
			state = pv_video_state(status, url, int_of(h, rec, "output_width", 0),
			                       int_of(h, rec, "output_height", 0));
		}
		return h->json_format(h, "{\"id\":%s,\"state\":%s,\"url\":%s,\"code\":%i}", ref->text, state,
		                      strcmp(state, "done") == 0 ? url : NULL, status);
	}
	return h->json_format(h, "{\"id\":%s,\"state\":\"unknown\",\"url\":null,\"code\":null}", ref->text);
}

int pv_job_status(void *state, const provauth_session *s, const char *const *ids, size_t n, char **out_json,
                  provauth_failure *f)
{
	const pv_state *st = state;
	const provauth_host *h = st->host;
	pv_reply lists[2];
	const provauth_json *data[2] = { NULL, NULL };
	pv_job_ref *refs;
	pv_jsonbuf b;
	size_t i;
	int need[2] = { 0, 0 }, rc = 0, kind;
	char *text;

	/* More ids than one list page holds is no error: those older than its newest 200 records read "unknown". */
	if (n && !ids)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: ids: missing");
	if (!(refs = calloc(n ? n : 1, sizeof(*refs))))
		return pv_oom_failure(h, f);
	for (i = 0; i < n; i++) {
		if ((rc = parse_ref(h, ids[i], &refs[i])) < 0) {
			free(refs);
			return rc;
		}
		need[refs[i].is_image] = 1;
	}
	memset(lists, 0, sizeof(lists));
	for (kind = 0; kind < 2 && rc == 0; kind++)
		if (need[kind])
			rc = read_list(st, s, kind, &lists[kind], &data[kind], f);
	pv_jsonbuf_init(&b, h);
	pv_jsonbuf_addf(&b, "{\"jobs\":[");
	for (i = 0; rc == 0 && i < n; i++) {
		if (!(text = job_entry(h, &refs[i], data[refs[i].is_image]))) {
			rc = pv_oom_failure(h, f);
			break;
		}
		pv_jsonbuf_addf(&b, "%s%s", i ? "," : "", text);
		h->free(h, text);
	}
	pv_jsonbuf_addf(&b, "]}");
	pv_reply_free(st, &lists[0]);
	pv_reply_free(st, &lists[1]);
	free(refs);
	if (rc < 0) {
		pv_jsonbuf_free(&b);
		return rc;
	}
	if (!(text = pv_jsonbuf_take(&b)))
		return pv_oom_failure(h, f);
	*out_json = provauth_plugin_strdup(h, text);
	free(text);
	return *out_json ? 0 : pv_oom_failure(h, f);
}

/*
 * The job ids of a jobs or delete call: ids=a,b,c and/or id=a (repeatable),
 * as an array of pointers into `copy` (malloc'd, the caller frees both).
 */
static int collect_ids(const provauth_host *h, const char *op, const provauth_op_arg *args, size_t nargs,
                       char **copy, const char ***ids, size_t *n)
{
	size_t i, len = 0, count = 0;
	char *p;

	*copy = NULL;
	*ids = NULL;
	*n = 0;
	for (i = 0; i < nargs; i++) {
		const char *key = args[i].key ? args[i].key : "";
		if (strcmp(key, "ids") != 0 && strcmp(key, "id") != 0)
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: %s: unknown parameter '%.40s' (it takes ids=A,B,... "
			                    "or id=A, repeated)", op, key);
		len += strlen(args[i].value ? args[i].value : "") + 1;
	}
	if (!(*copy = malloc(len + 1)) || !(*ids = calloc(len + 1, sizeof(**ids)))) {
		free(*copy);
		*copy = NULL;
		return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: out of memory");
	}
	p = *copy;
	for (i = 0; i < nargs; i++) {
		const char *v = args[i].value ? args[i].value : "";
		int many = strcmp(args[i].key, "ids") == 0;

		for (;;) {
			size_t piece = many ? strcspn(v, ",") : strlen(v);

			memcpy(p, v, piece);
			p[piece] = '\0';
			(*ids)[count++] = p;
			p += piece + 1;
			if (!v[piece])
				break;
			v += piece + 1;
		}
	}
	*n = count;
	if (count == 0)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: %s: ids: no job id given (ids=A,B,... or id=A)", op);
	if (count > PV_JOB_IDS_MAX)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: ids: at most %d jobs at once (got %zu)", PV_JOB_IDS_MAX,
		                    count);
	return 0;
}

int pv_op_jobs(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
               char **out_json, provauth_failure *f)
{
	const pv_state *st = state;
	const char **ids;
	char *copy;
	size_t n;
	int rc;

	if ((rc = collect_ids(st->host, "jobs", args, nargs, &copy, &ids, &n)) == 0)
		rc = pv_job_status(state, s, ids, n, out_json, f);
	free(ids);
	free(copy);
	return rc;
}

/* 1 when the failure is the service's 500064 "content has been deleted". */
static int already_deleted(const provauth_host *h, const provauth_failure *f)
{
	provauth_json *json;
	int64_t code = 0;

	if (f->kind != PROVAUTH_FAILURE_HTTP || !f->body || !(json = h->json_parse(f->body, f->body_len)))
		return 0;
	if (h->json_int(h->json_get(json, "ErrCode"), &code) < 0)
		code = 0;
	h->json_free(json);
	return code == PV_ERR_DELETED;
}

static void failure_forget(const provauth_host *h, provauth_failure *f)
{
	h->free(h, f->message);
	h->free(h, f->body);
	memset(f, 0, sizeof(*f));
	f->retry_after = -1;
}

/* One delete request for refs[0..n) of one kind; 500064 counts as deleted. */
static int delete_batch(const pv_state *st, const provauth_session *s, const pv_job_ref *refs, size_t n,
                        provauth_failure *f)
{
	const provauth_host *h = st->host;
	pv_jsonbuf b;
	pv_reply r;
	char *body;
	size_t i;
	int rc;

	pv_jsonbuf_init(&b, h);
	pv_jsonbuf_addf(&b, "{\"%s\":[", refs[0].is_image ? "image_ids" : "video_ids");
	for (i = 0; i < n; i++)
		pv_jsonbuf_addf(&b, "%s%lld", i ? "," : "", (long long)refs[i].id);
	pv_jsonbuf_addf(&b, "],\"platform\":\"web\"}");
	if (!(body = pv_jsonbuf_take(&b)))
		return pv_oom_failure(h, f);
	rc = pv_web_call(st, s, "POST", refs[0].is_image ? PV_IMAGE_DELETE_PATH : PV_VIDEO_DELETE_PATH, body, 0, 0, &r,
	                 f);
	free(body);
	if (rc == 0) {
		pv_reply_free(st, &r);
		return 0;
	}
	if (!already_deleted(h, f))
		return rc;
	failure_forget(h, f);
	/* Which of several was gone the reply does not say: ask for each alone, so the others are deleted too. */
	for (i = 0; n > 1 && i < n; i++)
		if ((rc = delete_batch(st, s, &refs[i], 1, f)) < 0)
			return rc;
	return 0;
}

int pv_op_delete(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
                 char **out_json, provauth_failure *f)
{
	const pv_state *st = state;
	const provauth_host *h = st->host;
	pv_job_ref *refs = NULL, *videos, *images;
	size_t n, i, nv = 0, ni = 0;
	const char **ids;
	char *copy, *text;
	pv_jsonbuf b;
	int rc;

	if ((rc = collect_ids(h, "delete", args, nargs, &copy, &ids, &n)) < 0)
		goto out;
	if (!(refs = calloc(2 * n, sizeof(*refs)))) {
		rc = pv_oom_failure(h, f);
		goto out;
	}
	videos = refs;
	images = refs + n;
	for (i = 0; i < n; i++) {
		pv_job_ref ref;

		if ((rc = parse_ref(h, ids[i], &ref)) < 0)
			goto out;
		if (ref.is_image)
			images[ni++] = ref;
		else
			videos[nv++] = ref;
	}
	if ((nv && (rc = delete_batch(st, s, videos, nv, f)) < 0) || (ni && (rc = delete_batch(st, s, images, ni, f)) < 0))
		goto out;
	pv_jsonbuf_init(&b, h);
	pv_jsonbuf_addf(&b, "{\"deleted\":[");
	for (i = 0; i < n; i++) {
		pv_jsonbuf_addf(&b, "%s", i ? "," : "");
		pv_jsonbuf_str(&b, ids[i]);
	}
	pv_jsonbuf_addf(&b, "]}");
	text = pv_jsonbuf_take(&b);
	*out_json = text ? provauth_plugin_strdup(h, text) : NULL;
	free(text);
	rc = *out_json ? 0 : pv_oom_failure(h, f);
out:
	free(refs);
	free(ids);
	free(copy);
	return rc;
}
