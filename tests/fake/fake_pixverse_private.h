/*
 * What the files of the fake Pixverse share and nobody else sees: the
 * server and account structs, and the helpers every endpoint uses (the
 * envelope, the token and session checks). fake_pixverse.c holds accounts
 * and sessions, fake_pixverse_catalog.c the models and costs,
 * fake_pixverse_validate.c the checks of generation requests,
 * fake_pixverse_jobs.c generation jobs and their endpoints,
 * fake_pixverse_job_control.c their controls and counters,
 * fake_pixverse_upload.c the OpenAPI upload and the media host.
 *
 * Everything here runs with the server lock held (fake_common.h): route
 * handlers hold it already, C API functions take it.
 */
#ifndef FAKE_PIXVERSE_PRIVATE_H
#define FAKE_PIXVERSE_PRIVATE_H

#include "fake_pixverse.h"

typedef struct attempt_log {
	time_t *at;
	size_t n;
	size_t cap;
} attempt_log;

typedef struct pv_account {
	int id;
	char *email, *password, *username, *nickname, *api_key;
	int google_only, blocked;
	long credit_daily, credit_monthly, credit_package, openapi_credits;
	int ad_reward, ad_progress, ad_total, ad_completed;
	unsigned long session;       /* current session; 0: never logged in */
	/*
	 * The client ids (ai-trace-id, ai-anonymous-id) the current session is
	 * tied to; ids_known 0 until its first authenticated request sets them.
	 */
	int ids_known;
	char trace_id[64], anonymous_id[64];
	unsigned long id_mismatches; /* requests refused with 10005 for other ids */
	unsigned long expire_floor;  /* tokens with serial <= this answer 10002 */
	attempt_log logins;
	int plan_type;               /* 0 free, >= 1 paid */
	int gen_simultaneously;      /* as plan_details answers it; 0: fallback by plan_type */
	fake_pv_job_stats stats;     /* generation counters (fake_pixverse_job_stats) */
} pv_account;

typedef struct pv_token {
	size_t account;
	unsigned long session;
} pv_token;

/* A generation job; its state follows from the clock (see pv_job_phase). */
typedef struct pv_job {
	size_t account;
	int is_image;
	long long id;                /* video_id or image_id */
	long long submitted_ms, queue_ms, process_ms;
	fake_pv_outcome outcome;     /* how it ends */
	int settled;                 /* its end was counted (and credits refunded) */
	int deleted;
	long charged_daily, charged_monthly, charged_package;
	char model[40], quality[16], aspect_ratio[8];
	int duration;                /* video seconds */
	char *prompt;
} pv_job;

/* An uploaded image, served by the media host. */
typedef struct pv_upload {
	long long img_id;
	char *path;                  /* "upload/<uuid>.<ext>" */
	const char *content_type;
	unsigned char *data;
	size_t len;
} pv_upload;

struct fake_pixverse {
	fake_server *server;
	fake_pixverse_options opts;
	unsigned char secret[32];
	unsigned char google_secret[32]; /* signs the ID tokens Google would (fake_pixverse_google_id_token) */
	pv_account *accounts;
	size_t naccounts, cap_accounts;
	pv_token *tokens;            /* index = serial - 1 */
	size_t ntokens, cap_tokens;
	unsigned long next_session;
	attempt_log logins;          /* server-wide */
	unsigned long header_counts[FAKE_PV_HEADER_COUNT];
	unsigned long logins_ok;
	char last_trace[128];
	char last_anonymous_id[FAKE_PV_EP_COUNT][64]; /* "" when none yet */
	int echo;                    /* refusals echo what was sent (see fake_pixverse_set_echo) */

	/* jobs (fake_pixverse_jobs.c) */
	struct timespec started;     /* origin of the millisecond clock */
	long long clock_advance_ms;  /* added to real time by tests */
	int clock_frozen;            /* the clock stands at frozen_at_ms */
	long long frozen_at_ms;
	long job_queue_ms, job_process_ms, early_cdn_ms;
	fake_pv_outcome next_outcome;  /* FAKE_PV_OUTCOME_AUTO: by prompt */
	unsigned long high_load_left;  /* next generation calls answering 500069 */
	pv_job *jobs;
	size_t njobs, cap_jobs;
	size_t settled_prefix;       /* jobs[0 .. settled_prefix) are all settled */
	long long next_video_id, next_image_id;

	/* uploads (fake_pixverse_upload.c) */
	pv_upload *uploads;
	size_t nuploads, cap_uploads;
	long long next_img_id;
};

/* The envelope {"ErrCode","ErrMsg","Resp"}; msg NULL: the usual one; payload consumed. */
void fake_pv_reply(const fake_request *req, fake_response *resp, int code, const char *msg,
	json_object *payload);
/* The account of a web call whose token and session are good; else NULL
 * after answering 10001/10002/10003/10005 as every web endpoint does. */
pv_account *fake_pv_session(fake_pixverse *pv, const fake_request *req, fake_response *resp);
pv_account *fake_pv_find_account(fake_pixverse *pv, const char *name);

/* The media host's base URL "http://127.0.0.1:PORT/media" into buf. */
void fake_pv_media_base(fake_pixverse *pv, char *buf, size_t size);

/* ---- catalog (fake_pixverse_catalog.c) ---- */

typedef struct pv_video_model {
	const char *name;
	const char *const *qualities;  /* NULL-terminated */
	int min_duration, max_duration;
} pv_video_model;

typedef struct pv_image_model {
	const char *name;
	const char *const *qualities;  /* NULL-terminated, parallel to costs */
	const int *costs;
	int max_images;
} pv_image_model;

const pv_video_model *fake_pv_video_model(const char *name);
const pv_image_model *fake_pv_image_model(const char *name);
int fake_pv_model_has_quality(const char *const *qualities, const char *quality);
/* Credits per second of a video quality; -1 when unknown. */
int fake_pv_video_cost_per_second(const char *quality);
/* Credits of one image of the model at quality; -1 when not offered. */
int fake_pv_image_cost(const pv_image_model *m, const char *quality);
/* "2k" -> "1440p", "4k" -> "2160p", others unchanged. */
const char *fake_pv_normalise_image_quality(const char *quality);
int fake_pv_aspect_ratio_ok(const char *ratio);
/* Output size of a result at quality and aspect ratio. */
void fake_pv_output_size(const char *quality, const char *aspect_ratio, int *width, int *height);

/* ---- jobs (fake_pixverse_jobs.c) ---- */

/* What a generation request asks for, once checked. */
typedef struct pv_gen_request {
	int is_image;
	const char *model, *quality, *aspect_ratio;
	int duration;
	long cost;
	char *text;              /* every prompt of the request, for the keywords (malloc'd) */
} pv_gen_request;

/* The job clock (see fake_pixverse_now_ms) and real milliseconds since the start. */
long long fake_pv_now_ms(fake_pixverse *pv);
long long fake_pv_real_ms(fake_pixverse *pv);
/* The account's jobs queued or processing at now. */
unsigned long fake_pv_in_flight(fake_pixverse *pv, size_t account, long long now);
/* The account's concurrency limit: gen_simultaneously, else 2 free / 5 paid. */
int fake_pv_account_limit(const pv_account *a);
/* The account's job of that kind and id, not deleted; NULL when none. */
pv_job *fake_pv_find_job(fake_pixverse *pv, size_t account, int is_image, long long id);

void fake_pv_jobs_init(fake_pixverse *pv);
void fake_pv_jobs_free(fake_pixverse *pv);
/* Answers a generation, list, delete or plan_details route. */
void fake_pv_jobs_handle(fake_pixverse *pv, const fake_request *req, fake_response *resp);
/* Counts the ends of jobs that ended by now and refunds them. */
void fake_pv_jobs_settle(fake_pixverse *pv);
/* Whether a finished job's result file "web/ori/<id>.<ext>" exists; *is_image set. */
int fake_pv_job_result_exists(fake_pixverse *pv, long long id, int is_image);
/* ---- requests (fake_pixverse_validate.c) ---- */

/* Checks a generation request of route ep; 0 with *g filled, or the
 * ErrCode with *msg. g->text is the caller's to free either way. */
int fake_pv_check_generation(fake_pixverse *pv, size_t account, int ep, json_object *body,
	pv_gen_request *g, const char **msg);

/* ---- controls and counters (fake_pixverse_job_control.c) ---- */

/* Job fields of /__control/stats; provider control endpoints (1 when handled). */
void fake_pv_jobs_stats(fake_pixverse *pv, json_object *stats);
void fake_pv_jobs_reset(fake_pixverse *pv);
int fake_pv_jobs_control(fake_pixverse *pv, const fake_request *req, fake_response *resp);

/* ---- upload and media (fake_pixverse_upload.c) ---- */

void fake_pv_upload_handle(fake_pixverse *pv, const fake_request *req, fake_response *resp);
void fake_pv_media_handle(fake_pixverse *pv, const fake_request *req, fake_response *resp);
void fake_pv_uploads_free(fake_pixverse *pv);

#endif
