/*
 * daemon/api/: the REST routes of provauthd. Internal to the room; the
 * other rooms see only pad_routes[] (daemon.h). Every handler works on
 * req->world->manager through libprovauth's public API, answers JSON, and
 * passes every library failure to pad_reply_provauth.
 */
#ifndef PAD_API_H
#define PAD_API_H

#include "daemon.h"

/* Handlers (one file per concern: accounts.c, auth_routes.c, calls.c, jobs.c). */
int pad_api_accounts_list(pad_request *req, pad_reply *rep);
int pad_api_accounts_get(pad_request *req, pad_reply *rep);
int pad_api_accounts_delete(pad_request *req, pad_reply *rep);
int pad_api_import_cookies(pad_request *req, pad_reply *rep);
int pad_api_reauth(pad_request *req, pad_reply *rep);
int pad_api_connect_google(pad_request *req, pad_reply *rep);
int pad_api_pixverse_status(pad_request *req, pad_reply *rep);
int pad_api_call(pad_request *req, pad_reply *rep);
int pad_api_jobs_create(pad_request *req, pad_reply *rep);
int pad_api_jobs_get(pad_request *req, pad_reply *rep);
int pad_api_pool(pad_request *req, pad_reply *rep);
/* providers.c: GET /v1/providers */
int pad_handle_providers(pad_request *req, pad_reply *rep);

/* ---- body fields, and members of an operation's answer (body.c) ---- */

/*
 * Checks that the body is a JSON object holding only `allowed` keys
 * (NULL-terminated); 0, or 1 after a 400 reply naming the first other key
 * (every helper here: 1 means the reply is written, the handler returns 0).
 * An empty body counts as {} when `empty_ok`.
 */
int pad_api_body_keys(pad_request *req, pad_reply *rep, const char *const *allowed, int empty_ok);
/*
 * A string member: 0 with *out (borrowed; NULL when absent), or 1 after a
 * 400 reply naming `field` when it is present with another type, empty, or
 * required and absent.
 */
int pad_api_body_string(pad_request *req, pad_reply *rep, json_object *obj, const char *field, int required,
                        const char **out);
/* A boolean member: 0 with *out (`def` when absent), or 1 after a 400 naming the field. */
int pad_api_body_bool(pad_request *req, pad_reply *rep, json_object *obj, const char *field, int def, int *out);
/* A query flag ("true"/"false"/"1"/"0"), `def` when absent; 400 naming it otherwise. */
int pad_api_query_bool(pad_request *req, pad_reply *rep, const char *name, int def, int *out);
/*
 * Member `key` of a provider operation's JSON answer as a new string: a
 * string, or with numbers_too an integer in digits; NULL otherwise.
 */
char *pad_api_answer_member(const char *json, const char *key, int numbers_too);

/* ---- accounts as JSON (account_json.c) ---- */

/*
 * The account as the API shows it: ids, health, needs_human in words,
 * credentials present as {kind, name, expires_at, redacted:true} and never
 * a value, and the pool's view (`pool` may be NULL: none).
 */
json_object *pad_api_account_json(const provauth_account *a, const provauth_pool_account *pool);
/* The pool's view of account `id`, or NULL (no pool hooks, or not found). Free with provauth_pool_account_free. */
provauth_pool_account *pad_api_pool_account(provauth_manager *m, const provauth_account *a);
/* The pool account as JSON (credits by kind, slots, status, priority, cooldown). */
json_object *pad_api_pool_account_json(const provauth_pool_account *p);
/* Reads account `id` and replies 200 with its JSON wrapped as {success, updated_fields, account}. */
int pad_api_reply_account_change(pad_request *req, pad_reply *rep, const char *id, json_object *updated_fields);

/* ---- the ad-watch task pixverse-status keeps (ad_task_cache.c) ---- */

/*
 * 1 with *task (a new reference; NULL when the provider had none) when the
 * world's memory holds a task of account `id` read less than max_age
 * seconds before `now`; 0 otherwise (max_age 0: never).
 */
int pad_ad_task_recent(json_object **task, pad_ad_tasks *t, const char *id, int64_t now, int64_t max_age);
/* Puts `task` (NULL: none), read at synced_at, in the world's memory (a newer copy there stays). */
void pad_ad_task_remember(pad_ad_tasks *t, const char *id, json_object *task, int64_t synced_at);
/* The same as pad_ad_task_recent from `a`'s metadata, with *synced_at when it was read. */
int pad_ad_task_cached(json_object **task, int64_t *synced_at, const provauth_account *a, int64_t now,
                       int64_t max_age);
/* Stores `task` (NULL: none) as read at `now` into account `id`'s metadata, read-modify-write. */
int pad_ad_task_keep(provauth_manager *m, const char *id, json_object *task, int64_t now);

/* ---- images sent with a job (job_images.c) ---- */

#define PAD_JOB_MAX_IMAGES 7

typedef struct pad_job_images {
	size_t n;
	char dir[512];                         /* the private temporary directory; "" before the first */
	char *path[PAD_JOB_MAX_IMAGES];        /* each image's file there */
	char *name[PAD_JOB_MAX_IMAGES];        /* the caller's name for it */
	char *url[PAD_JOB_MAX_IMAGES];         /* what the last upload answered */
	char *uploaded[PAD_JOB_MAX_IMAGES];    /* its path at the provider */
	char why[256];                         /* an upload's answer we could not use; "" otherwise */
} pad_job_images;

/*
 * The body's "images" (NULL: none) checked, decoded and written to a
 * private temporary directory: 0, or 1 after a 400 (or 500) reply naming
 * the field. pad_job_images_free undoes it either way.
 */
int pad_job_images_read(pad_job_images *im, pad_reply *rep, json_object *images);
/* Uploads every image through account_id: url[] and uploaded[] set; 0 or a provauth_error (why[] may say). */
int pad_job_images_upload(pad_job_images *im, provauth_manager *m, const char *account_id);
/* Removes the files and the directory, frees the rest. */
void pad_job_images_free(pad_job_images *im);

#endif /* PAD_API_H */
