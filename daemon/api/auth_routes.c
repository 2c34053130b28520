/*
 * The spec's four account routes (notes, section C): import-cookies,
 * reauth, connect-google, pixverse-status. The library does the work
 * (provauth_account_import_ext, provauth_account_reauth,
 * provauth_account_set_auth_method, provauth_call "status"); this file
 * checks the input, says what changed, and shapes the answers as the notes
 * do.
 */
#include "config.h"
#include <string.h>
#include "api.h"

/* ---- helpers ---- */

/* The loaded provider `id` (its strings are the manager's), 0; or -1 when none is loaded. */
static int provider_info(provauth_provider_info *out, provauth_manager *m, const char *id)
{
	size_t i, n = provauth_manager_provider_count(m);

	for (i = 0; i < n; i++)
		if (provauth_manager_provider_info(out, m, i) == 0 && out->id && strcmp(out->id, id) == 0)
			return 0;
	return -1;
}

static int provider_has_operation(const provauth_provider_info *p, const char *op)
{
	size_t i;

	for (i = 0; p->operations && p->operations[i]; i++)
		if (strcmp(p->operations[i], op) == 0)
			return 1;
	return 0;
}

/* The value of credential (kind, name) in `a`, or NULL; compared, never shown. */
static const char *cred_value(const provauth_account *a, const char *kind, const char *name)
{
	return a ? provauth_account_credential(a, kind, name) : NULL;
}

static int same(const char *x, const char *y)
{
	return (!x && !y) || (x && y && strcmp(x, y) == 0);
}

/* Whether the credentials of `kind` differ between the two accounts (either may be NULL). */
static int kind_changed(const provauth_account *before, const provauth_account *after, const char *kind)
{
	const provauth_account *sides[2] = { before, after };
	size_t s, i;

	for (s = 0; s < 2; s++) {
		const provauth_account *a = sides[s], *other = sides[1 - s];
		size_t n = a ? provauth_account_credential_count(a) : 0;

		for (i = 0; i < n; i++) {
			provauth_credential c;
			if (provauth_account_credential_at(&c, a, i) < 0 || strcmp(c.kind, kind) != 0)
				continue;
			if (!same(c.value, cred_value(other, kind, c.name)))
				return 1;
		}
	}
	return 0;
}

/* The names of what changed from `before` (NULL: a new account) to `after`, as the notes' updated_fields. */
static json_object *changed_fields(const provauth_account *before, const provauth_account *after)
{
	static const struct { const char *kind, *field; } kinds[] = {
		{ PROVAUTH_CRED_JWT, "jwt_token" },
		{ PROVAUTH_CRED_COOKIE, "cookies" },
		{ PROVAUTH_CRED_PASSWORD, "password" },
		{ PROVAUTH_CRED_API_KEY, "api_keys" },
		{ PROVAUTH_CRED_REFRESH_TOKEN, "refresh_token" },
		{ PROVAUTH_CRED_ACCESS_TOKEN, "access_token" },
	};
	json_object *arr = json_object_new_array();
	size_t i;

	if (!after)
		return arr;
	if (!before || !same(before->email, after->email))
		json_object_array_add(arr, json_object_new_string("email"));
	if (!before || before->state.auth_method != after->state.auth_method)
		json_object_array_add(arr, json_object_new_string("auth_method"));
	for (i = 0; i < PAD_ARRAY_LEN(kinds); i++)
		if (kind_changed(before, after, kinds[i].kind))
			json_object_array_add(arr, json_object_new_string(kinds[i].field));
	if (!before || !same(before->metadata, after->metadata))
		json_object_array_add(arr, json_object_new_string("metadata"));
	if (before && !same(before->state.health.state, after->state.health.state))
		json_object_array_add(arr, json_object_new_string("session_health"));
	return arr;
}

/* The account `id` as now stored, or a reply (1) when it cannot be had. */
static int load(provauth_account **out, pad_reply *rep, provauth_manager *m, const char *id)
{
	int rc;

	*out = NULL;
	if ((rc = provauth_account_get(out, m, id)) < 0) {
		pad_reply_provauth(rep, rc);
		return 1;
	}
	return 0;
}

/*
 * Routes that sign in with a password (reauth) make sense only for a
 * provider that logs in with one.
 */
static int check_password_provider(pad_reply *rep, provauth_manager *m, const provauth_account *a)
{
	provauth_provider_info info;

	if (provider_info(&info, m, a->provider) < 0 || !info.can_reauth) {
		pad_reply_error(rep, 400, "unsupported", "account %s: provider %s does not sign in with a password",
		                a->id, a->provider);
		return 1;
	}
	return 0;
}

/* Stores the password given with an import, retrying once over a concurrent change. */
static int store_password(provauth_manager *m, const char *id, const char *password)
{
	provauth_account *a = NULL;
	int rc = 0, tries;

	for (tries = 0; tries < 2; tries++) {
		if ((rc = provauth_account_get(&a, m, id)) < 0)
			return rc;
		if ((rc = provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, password, 0)) == 0)
			rc = provauth_account_put(m, a);
		provauth_account_free(a);
		a = NULL;
		if (rc != PROVAUTH_ECONFLICT)
			break;
	}
	return rc;
}

/* ---- POST /v1/accounts/import-cookies ---- */

/* No email learnt: the notes' 422 {code "email_missing", hint}. */
static int reply_email_missing(pad_request *req, pad_reply *rep, const char *why)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "code", json_object_new_string("email_missing"));
	json_object_object_add(e, "message", json_object_new_string(why));
	json_object_object_add(e, "request_id", json_object_new_string(req->id));
	json_object_object_add(e, "hint", json_object_new_string(
		"the cookies did not say which account they belong to: export them again from a tab where you are "
		"logged in to the provider"));
	json_object_object_add(o, "error", e);
	return pad_reply_json(rep, 422, o);
}

int pad_api_import_cookies(pad_request *req, pad_reply *rep)
{
	static const char *const keys[] = { "provider_id", "url", "raw_data", "password", NULL };
	provauth_manager *m = req->world->manager;
	provauth_import_options io = PROVAUTH_IMPORT_OPTIONS_INIT;
	provauth_provider_info info;
	provauth_account *prev = NULL, *after = NULL;
	const char *provider, *url, *password;
	json_object *raw, *cookies, *o, *fields;
	char *id = NULL;
	int rc;

	if (pad_api_body_keys(req, rep, keys, 0) ||
	    pad_api_body_string(req, rep, req->json, "provider_id", 1, &provider) ||
	    pad_api_body_string(req, rep, req->json, "url", 0, &url) ||
	    pad_api_body_string(req, rep, req->json, "password", 0, &password))
		return 0;
	if (!json_object_object_get_ex(req->json, "raw_data", &raw) || !raw)
		return pad_reply_error(rep, 400, "invalid", "field 'raw_data' is required");
	if (!json_object_is_type(raw, json_type_object))
		return pad_reply_error(rep, 400, "invalid", "field 'raw_data' must be an object");
	if (!json_object_object_get_ex(raw, "cookies", &cookies) || !cookies ||
	    (!json_object_is_type(cookies, json_type_object) && !json_object_is_type(cookies, json_type_array)))
		return pad_reply_error(rep, 400, "invalid", "field 'raw_data.cookies' must be an object of "
		                       "name: value (or a browser export's array)");
	if (provider_info(&info, m, provider) < 0)
		return pad_reply_error(rep, 400, "invalid", "field 'provider_id': no provider '%.64s' is loaded",
		                       provider);
	/*
	 * raw_data is handed to the provider as it came: Pixverse's import takes
	 * the browser extension's shape itself (cookies, jwt_token, session_ids),
	 * as `provauth accounts import-cookies` hands it a file. The account as
	 * it was (io.previous; NULL: created) says what the import changed.
	 */
	io.previous = &prev;
	rc = provauth_account_import_ext(&id, m, provider, "cookies", json_object_to_json_string_ext(raw,
	                                 JSON_C_TO_STRING_PLAIN), &io);
	if (rc < 0) {
		if (rc == PROVAUTH_ENOEMAIL)
			return reply_email_missing(req, rep, provauth_last_error());
		return pad_reply_provauth(rep, rc);
	}
	if (password && (rc = store_password(m, id, password)) < 0)
		goto fail;
	if ((rc = provauth_account_get(&after, m, id)) < 0)
		goto fail;
	fields = changed_fields(prev, after);
	o = json_object_new_object();
	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "message", json_object_new_string(prev ? "account updated from the cookies"
	                                                                 : "account created from the cookies"));
	json_object_object_add(o, "account_id", json_object_new_string(id));
	json_object_object_add(o, "email", after->email ? json_object_new_string(after->email) : NULL);
	json_object_object_add(o, "created", json_object_new_boolean(prev == NULL));
	json_object_object_add(o, "updated_fields", fields);
	{
		const provauth_log_field f[] = { PAD_F_STR("account_id", id), PAD_F_STR("provider", provider),
		                                 PAD_F_BOOL("created", prev == NULL),
		                                 PAD_F_BOOL("password_given", password != NULL) };
		pad_log(req->daemon, PROVAUTH_LOG_INFO, "api_account_imported", f, PAD_ARRAY_LEN(f));
	}
	provauth_account_free(after);
	provauth_account_free(prev);
	provauth_free(id);
	return pad_reply_json(rep, 200, o);
fail:
	provauth_account_free(after);
	provauth_account_free(prev);
	provauth_free(id);
	return pad_reply_provauth(rep, rc);
}

/* The account of a route about signing in: 1 when already answered (no such account, or no password login). */
static int load_login_account(provauth_account **out, pad_reply *rep, provauth_manager *m, const char *id)
{
	if (load(out, rep, m, id))
		return 1;
	if (check_password_provider(rep, m, *out)) {
		provauth_account_free(*out);
		*out = NULL;
		return 1;
	}
	return 0;
}

/* The answer to a change of `before`: what changed, and the account as stored now. Frees `before`. */
static int reply_changed(pad_request *req, pad_reply *rep, provauth_manager *m, provauth_account *before)
{
	provauth_account *after = NULL;
	json_object *fields;
	int rc;

	if ((rc = provauth_account_get(&after, m, before->id)) < 0) {
		provauth_account_free(before);
		return pad_reply_provauth(rep, rc);
	}
	fields = changed_fields(before, after);
	rc = pad_api_reply_account_change(req, rep, after->id, fields);
	provauth_account_free(before);
	provauth_account_free(after);
	return rc;
}

/* ---- POST /v1/accounts/{id}/reauth ---- */

int pad_api_reauth(pad_request *req, pad_reply *rep)
{
	static const char *const keys[] = { "password", "headless", NULL };
	provauth_manager *m = req->world->manager;
	provauth_account *before = NULL;
	const char *password;
	int headless, rc;

	/* headless is the notes' field; the login is an API call, there is no browser to hide. */
	if (pad_api_body_keys(req, rep, keys, 1) ||
	    pad_api_body_string(req, rep, req->json, "password", 0, &password) ||
	    pad_api_body_bool(req, rep, req->json, "headless", 1, &headless))
		return 0;
	if (load_login_account(&before, rep, m, req->params[0]))
		return 0;
	if ((rc = provauth_account_reauth(m, before->id, password)) < 0) {
		provauth_account_free(before);
		return pad_reply_provauth(rep, rc);
	}
	return reply_changed(req, rep, m, before);
}

/* ---- POST /v1/accounts/{id}/connect-google ---- */

#define GOOGLE_KIND "google_id_token"

/* 1 when `provider` imports Google ID tokens (a plugin older than ABI 1.3, which does not say, is asked). */
static int signs_in_with_google(provauth_manager *m, const char *provider)
{
	const provauth_import_kind *kinds = NULL;
	size_t i;

	if (provauth_provider_import_kinds(&kinds, m, provider) < 0) {
		provauth_error_clear();
		return 0;
	}
	if (!kinds)
		return 1;
	for (i = 0; kinds[i].name; i++)
		if (strcmp(kinds[i].name, GOOGLE_KIND) == 0)
			return 1;
	return 0;
}

/*
 * The notes' route only marks the account (the ID token is "accepted but
 * not exchanged"), which leaves it without a session until someone imports
 * cookies. Here the token is exchanged (the provider's google_id_token
 * import: Pixverse's auto_login) for a session stored into this account,
 * which the provider marks as one that signs in with Google, so password
 * reauth is off for it. A token of another account's email is refused
 * (400) with this account unchanged; the session that sign-in made is kept
 * in the account of that email (it replaced that account's session at the
 * provider), and the message says which. The token itself is never stored
 * or logged.
 */
int pad_api_connect_google(pad_request *req, pad_reply *rep)
{
	static const char *const keys[] = { "id_token", NULL };
	provauth_import_options o = PROVAUTH_IMPORT_OPTIONS_INIT;
	provauth_manager *m = req->world->manager;
	provauth_account *before = NULL;
	const char *id_token;
	char *got = NULL;
	int rc;

	if (pad_api_body_keys(req, rep, keys, 0) ||
	    pad_api_body_string(req, rep, req->json, "id_token", 1, &id_token))
		return 0;
	if (load(&before, rep, m, req->params[0]))
		return 0;
	if (!signs_in_with_google(m, before->provider)) {
		rc = pad_reply_error(rep, 400, "unsupported", "account %s: provider %s has no Google sign-in", before->id,
		                     before->provider);
		provauth_account_free(before);
		return rc;
	}
	o.account_id = before->id;
	rc = provauth_account_import_ext(&got, m, before->provider, GOOGLE_KIND, id_token, &o);
	provauth_free(got);
	if (rc < 0) {
		provauth_account_free(before);
		return pad_reply_provauth(rep, rc);
	}
	return reply_changed(req, rep, m, before);
}

/* ---- GET /v1/accounts/{id}/pixverse-status ---- */

/* Copies the notes' keys of the provider's answer; anything else it says stays out of the contract. */
static void take(json_object *dst, json_object *src, const char *key, json_type type)
{
	json_object *v;

	if (src && json_object_object_get_ex(src, key, &v) && v && json_object_is_type(v, type))
		json_object_object_add(dst, key, json_object_get(v));
}

/* The notes' answer: {provider_id, email, credits:{web?, openapi?}, ad_watch_task?}; `task` NULL: none. */
static int status_reply(pad_reply *rep, const char *provider, const char *email, json_object *answer,
                        json_object *task)
{
	json_object *o = json_object_new_object(), *credits = json_object_new_object(), *c;

	if (answer && json_object_object_get_ex(answer, "credits", &c) && json_object_is_type(c, json_type_object)) {
		take(credits, c, "web", json_type_int);
		take(credits, c, "openapi", json_type_int);
	}
	json_object_object_add(o, "provider_id", json_object_new_string(provider));
	json_object_object_add(o, "email", email ? json_object_new_string(email) : NULL);
	json_object_object_add(o, "credits", credits);
	if (task && json_object_is_type(task, json_type_object))
		json_object_object_add(o, "ad_watch_task", json_object_get(task));
	return pad_reply_json(rep, 200, o);
}

/*
 * A fresh ad-watch task of account `id`, from the world's memory, else from
 * the account in the store (read into *a, which the caller frees; another
 * daemon may have read the task lately). 1 with *task (NULL: none), or 0.
 */
static int kept_task(json_object **task, provauth_account **a, pad_request *req, int64_t now)
{
	pad_world *w = req->world;
	int64_t max_age = w->config->ad_task_max_age, synced = 0;

	if (max_age <= 0)
		return 0;
	if (pad_ad_task_recent(task, w->ad_tasks, req->params[0], now, max_age))
		return 1;
	/* A missing account is told apart after the call, which fails for it too. */
	if (provauth_account_get(a, w->manager, req->params[0]) < 0) {
		provauth_error_clear();
		return 0;
	}
	if (!pad_ad_task_cached(task, &synced, *a, now, max_age))
		return 0;
	pad_ad_task_remember(w->ad_tasks, req->params[0], *task, synced);
	return 1;
}

/*
 * Credits are read live on every call; the ad-watch task is the one read
 * in the last daemon.ad_task_max_age seconds (ad_task_cache.c), and is read
 * from the provider when there is none that fresh, or with force. The
 * status operation answers with the provider and email too, so the common
 * call costs the operation alone; the account is read when the call failed,
 * to tell a missing account (404) or a provider without the operation (400)
 * from a provider error, which gives empty credits, not an HTTP error (the
 * notes' rule).
 */
int pad_api_pixverse_status(pad_request *req, pad_reply *rep)
{
	static const provauth_arg skip_task[] = { { "ad_task", "skip" } };
	provauth_manager *m = req->world->manager;
	provauth_provider_info info;
	provauth_account *a = NULL;
	json_object *answer = NULL, *task = NULL, *v;
	const char *provider, *email;
	char *out = NULL;
	int64_t now = pad_now();
	int force, rc, kept;

	if (pad_api_query_bool(req, rep, "force", 0, &force))
		return 0;
	kept = !force && kept_task(&task, &a, req, now);
	rc = provauth_call(&out, m, req->params[0], "status", kept ? skip_task : NULL, kept ? 1 : 0);
	if (rc == 0)
		answer = json_tokener_parse(out);
	provauth_free(out);
	/* A task read now (null: the provider has none) is kept; one that could not be read is not. */
	if (!kept && answer && json_object_object_get_ex(answer, "ad_watch_task", &v)) {
		task = json_object_get(v);
		if (req->world->config->ad_task_max_age > 0) {
			int krc;

			pad_ad_task_remember(req->world->ad_tasks, req->params[0], task, now);
			if ((krc = pad_ad_task_keep(m, req->params[0], task, now)) < 0) {
				const provauth_log_field f[] = { PAD_F_STR("account_id", req->params[0]), PAD_F_INT("code", krc),
				                                 PAD_F_STR("error", provauth_strerror(krc)) };
				pad_log(req->daemon, PROVAUTH_LOG_WARN, "api_status_ad_task_not_kept", f, PAD_ARRAY_LEN(f));
				provauth_error_clear();
			}
		}
	}
	if (answer && json_object_object_get_ex(answer, "provider_id", &v) &&
	    (provider = json_object_get_string(v)) && *provider) {
		email = json_object_object_get_ex(answer, "email", &v) ? json_object_get_string(v) : NULL;
		rc = status_reply(rep, provider, email, answer, task);
		goto out;
	}
	if (rc < 0) {
		const provauth_log_field f[] = { PAD_F_STR("account_id", req->params[0]), PAD_F_INT("code", rc),
		                                 PAD_F_STR("error", provauth_strerror(rc)) };
		pad_log(req->daemon, PROVAUTH_LOG_INFO, "api_status_credits_unavailable", f, PAD_ARRAY_LEN(f));
		provauth_error_clear();
	}
	provauth_account_free(a);
	a = NULL;
	if (load(&a, rep, m, req->params[0])) {
		rc = 0;
		goto out;
	}
	if (provider_info(&info, m, a->provider) < 0 || !provider_has_operation(&info, "status"))
		rc = pad_reply_error(rep, 400, "unsupported", "account %s: provider %s has no status operation", a->id,
		                     a->provider);
	else
		rc = status_reply(rep, a->provider, a->email, NULL, task);
out:
	json_object_put(answer);
	json_object_put(task);
	provauth_account_free(a);
	return rc;
}
