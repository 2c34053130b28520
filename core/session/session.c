/*
 * run_with_session: the session cache and the recovery ladder.
 *
 * Concurrency model
 *  - Accounts live in a sharded hash table. Entries are only ever added
 *    (under the shard's mutex) and live as long as the manager, so lookups
 *    read the lists without any lock: a cached call shares no lock and no
 *    written cache line with calls for other accounts.
 *  - Each account entry has a mutex guarding its cached session pointer and
 *    its recovery state. Sessions are reference-counted: a caller holds a
 *    reference while its operation runs, so eviction never frees a session
 *    in use.
 *  - At most one recovery per account runs in this process (single-flight:
 *    the others wait on the entry's condition variable, bounded by
 *    session.recovery_wait_ms, and reuse its result). Across processes the
 *    store's lease plays the same role; waiters poll the store for the
 *    credentials the lease holder stores.
 *  - Credentials a recovery obtains are stored (durably, version-checked)
 *    before any caller uses them, so a crash never loses the only valid
 *    token.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include "manager.h"

#define PA_SHARDS 64
/* A failed recovery is reused by callers that failed on the same credentials for this long. */
#define PA_FAILURE_MEMO_MS 30000
/* How often waiters poll the store while another process holds the lease. */
#define PA_LEASE_POLL_MS 25
/* Retries of a recovery's version-checked write when another writer got in first. */
#define PA_PUT_RETRIES 8

typedef struct pa_cached {
	atomic_int refs;
	provauth_session s;
	provauth_account *built_from;  /* the snapshot s points into */
	provauth_account *account;     /* what the store holds now (== built_from unless build persisted) */
	pa_plugin *plugin;
	int health_invalid;
	/* What the host prefilled: anything else in s was malloc()ed by the plugin. */
	const char *pre_jwt, *pre_openapi, *pre_access;
	const provauth_cookie *pre_cookies;
} pa_cached;

typedef struct pa_entry {
	struct pa_entry *next;
	char *id;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pa_cached *cached;
	int recovering;
	uint64_t generation;          /* completed recoveries */
	int last_rc;                  /* result of the latest recovery */
	char *last_msg;               /* message of the latest failed recovery; NULL: none (or no memory) */
	provauth_account *failed_on;  /* credentials the latest failed recovery started from */
	int64_t failed_at_ms;
	provauth_account *refresh_dead; /* credentials whose refresh was refused for good */
} pa_entry;

typedef struct pa_shard {
	pthread_mutex_t add;          /* serialises insertions; readers never take it */
	_Atomic(pa_entry *) head;     /* published with release; an entry's next never changes */
} pa_shard;

struct pa_session_table {
	pa_shard shards[PA_SHARDS];
};

/* ------------------------------------------------------------------------ */
/* Table                                                                    */
/* ------------------------------------------------------------------------ */

static void cached_release(pa_cached *c);

int pa_sessions_new(pa_session_table **out)
{
	pa_session_table *t = calloc(1, sizeof(*t));
	size_t i;

	if (!t)
		return pa_error_oom();
	for (i = 0; i < PA_SHARDS; i++) {
		pthread_mutex_init(&t->shards[i].add, NULL);
		atomic_init(&t->shards[i].head, NULL);
	}
	*out = t;
	return 0;
}

void pa_sessions_free(pa_session_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < PA_SHARDS; i++) {
		pa_entry *e = atomic_load(&t->shards[i].head), *next;
		for (; e; e = next) {
			next = e->next;
			cached_release(e->cached);
			provauth_account_free(e->failed_on);
			provauth_account_free(e->refresh_dead);
			free(e->last_msg);
			pthread_mutex_destroy(&e->mu);
			pthread_cond_destroy(&e->cv);
			free(e->id);
			free(e);
		}
		pthread_mutex_destroy(&t->shards[i].add);
	}
	free(t);
}

static uint32_t hash_id(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static pa_entry *shard_find(pa_shard *sh, const char *id)
{
	pa_entry *e;
	for (e = atomic_load_explicit(&sh->head, memory_order_acquire); e; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

/* Entries live as long as the manager: an account id costs one small struct. */
static pa_entry *entry_get(pa_session_table *t, const char *id)
{
	pa_shard *sh = &t->shards[hash_id(id) % PA_SHARDS];
	pa_entry *e;

	if ((e = shard_find(sh, id)))
		return e;
	pthread_mutex_lock(&sh->add);
	if (!(e = shard_find(sh, id)) && (e = calloc(1, sizeof(*e)))) {
		if (!(e->id = strdup(id))) {
			free(e);
			e = NULL;
		} else {
			pthread_mutex_init(&e->mu, NULL);
			pthread_cond_init(&e->cv, NULL);
			/* Fully built before it is published: readers hold no lock. */
			e->next = atomic_load_explicit(&sh->head, memory_order_relaxed);
			atomic_store_explicit(&sh->head, e, memory_order_release);
		}
	}
	pthread_mutex_unlock(&sh->add);
	if (!e)
		pa_error_oom();
	return e;
}

/* ------------------------------------------------------------------------ */
/* Cached sessions                                                          */
/* ------------------------------------------------------------------------ */

static void session_strings_free(pa_cached *c)
{
	size_t i;

	if (c->s.jwt_token != c->pre_jwt)
		pa_secret_free((char *)c->s.jwt_token);
	if (c->s.openapi_key != c->pre_openapi)
		pa_secret_free((char *)c->s.openapi_key);
	if (c->s.access_token != c->pre_access)
		pa_secret_free((char *)c->s.access_token);
	if (c->s.cookies != c->pre_cookies) {
		for (i = 0; i < c->s.cookie_count; i++) {
			free(c->s.cookies[i].name);
			pa_secret_free(c->s.cookies[i].value);
		}
		free((void *)c->s.cookies);
	}
	if (c->s.provider_data && c->plugin && c->plugin->vt.session_data_free)
		c->plugin->vt.session_data_free(c->plugin->state, c->s.provider_data);
}

static void cached_free(pa_cached *c)
{
	if (!c)
		return;
	session_strings_free(c);
	if (c->account != c->built_from)
		provauth_account_free(c->account);
	provauth_account_free(c->built_from);
	free(c);
}

static void cached_release(pa_cached *c)
{
	if (c && atomic_fetch_sub(&c->refs, 1) == 1)
		cached_free(c);
}

static int metadata_health_invalid(const char *metadata)
{
	struct json_object *o, *h, *st;
	int invalid = 0;

	if (!metadata || !strstr(metadata, "session_health"))
		return 0;
	o = json_tokener_parse(metadata);
	if (o && json_object_object_get_ex(o, "session_health", &h) &&
	    json_object_object_get_ex(h, "state", &st) && json_object_is_type(st, json_type_string))
		invalid = strcmp(json_object_get_string(st), "invalid") == 0;
	json_object_put(o);
	return invalid;
}

/* 1 when the credentials a session is built from are the same. */
static int same_credentials(const provauth_account *a, const provauth_account *b)
{
	size_t i;

	if (!a || !b)
		return 0;
	if (!pa_streq(a->jwt_token, b->jwt_token) || !pa_streq(a->access_token, b->access_token) ||
	    !pa_streq(a->refresh_token, b->refresh_token) || !pa_streq(a->password, b->password) ||
	    a->cookie_count != b->cookie_count)
		return 0;
	for (i = 0; i < a->cookie_count; i++)
		if (!pa_streq(provauth_account_cookie(b, a->cookies[i].name), a->cookies[i].value))
			return 0;
	return 1;
}

static void log_event(provauth_manager *m, provauth_log_level level, const pa_plugin *p,
                      const char *what, const provauth_log_field *fields, size_t n)
{
	char event[96];
	snprintf(event, sizeof(event), "%s_%s", p ? p->vt.id : "provauth", what);
	pa_log(&m->logger, level, event, fields, n);
}

static int store_put(provauth_manager *m, provauth_account *a)
{
	int rc = m->store->put(m->store, a);
	if (rc < 0 && rc != PROVAUTH_ECONFLICT)
		pa_error_prefix(rc, "account %s: could not store credentials", a->id);
	return rc;
}

/*
 * Builds a session from the stored account. Credentials the build changed
 * are stored version-checked; when someone else wrote first, the build
 * starts again from what they stored.
 */
static int session_build(provauth_manager *m, const char *id, pa_cached **out)
{
	int attempt, rc = 0;

	*out = NULL;
	for (attempt = 0; attempt < PA_PUT_RETRIES; attempt++) {
		provauth_account *acct = NULL, *copy = NULL;
		provauth_update *upd = NULL;
		pa_plugin *p;
		pa_cached *c;

		if ((rc = m->store->get(m->store, &acct, id)) < 0) {
			if (rc == PROVAUTH_ENOTFOUND)
				return pa_error_set(rc, "account %s: not found in the %s store", id, m->store->name);
			return pa_error_prefix(rc, "account %s", id);
		}
		if (!(p = pa_plugins_find(&m->plugins, acct->provider))) {
			rc = pa_error_set(PROVAUTH_EPLUGIN, "account %s: provider '%s' is not loaded (see 'provauth plugins')",
			                  id, acct->provider);
			provauth_account_free(acct);
			return rc;
		}
		if (!(c = calloc(1, sizeof(*c))) || pa_update_new(&upd) < 0) {
			free(c);
			provauth_account_free(acct);
			return pa_error_oom();
		}
		atomic_init(&c->refs, 1);
		c->built_from = c->account = acct;
		c->plugin = p;
		c->s.account_id = acct->id;
		c->s.provider = acct->provider;
		c->s.email = acct->email;
		c->s.jwt_token = c->pre_jwt = acct->jwt_token;
		c->s.cookies = c->pre_cookies = acct->cookies;
		c->s.cookie_count = acct->cookie_count;
		c->s.openapi_key = c->pre_openapi = provauth_account_api_key(acct, "openapi");
		c->s.jwt_source = acct->jwt_token ? "account" : "none";
		c->s.auth_method = provauth_account_auth_method(acct);
		c->s.access_token = c->pre_access = acct->access_token;
		c->s.access_expires_at = acct->access_expires_at;
		c->s.metadata = pa_account_metadata(acct);
		c->health_invalid = metadata_health_invalid(acct->metadata);

		rc = p->vt.build_session(p->state, acct, &c->s, upd);
		if (rc < 0) {
			pa_error_scrub(rc, acct, NULL);
			pa_update_free(upd);
			cached_free(c);
			return pa_error_prefix(rc, "account %s: %s could not build a session", id, p->vt.id);
		}
		if (!pa_update_is_empty(upd)) {
			if ((rc = provauth_account_dup(&copy, acct)) < 0 || (rc = pa_update_apply(upd, copy)) < 0) {
				provauth_account_free(copy);
				pa_update_free(upd);
				cached_free(c);
				return rc;
			}
			rc = m->store->put(m->store, copy);
			if (rc == PROVAUTH_ECONFLICT) {
				provauth_account_free(copy);
				pa_update_free(upd);
				cached_free(c);
				continue;
			}
			if (rc < 0) {
				/* What the build derived came from stored data: nothing is lost by not storing it. */
				const provauth_log_field f[] = { PA_F_STR("account_id", id), PA_F_STR("error", provauth_last_error()) };
				log_event(m, PROVAUTH_LOG_WARN, p, "build_session_not_persisted", f, PA_ARRAY_LEN(f));
				provauth_account_free(copy);
			} else {
				c->account = copy;
				/* The operation sees what is stored now: ids or flags the build just derived too. */
				c->s.metadata = pa_account_metadata(copy);
			}
		}
		pa_update_free(upd);
		{
			const provauth_log_field f[] = {
				PA_F_STR("account_id", id),
				PA_F_STR("jwt_source", c->s.jwt_source ? c->s.jwt_source : "none"),
				PA_F_STR("auth_method", provauth_auth_method_name(c->s.auth_method)),
				PA_F_BOOL("has_cookies", c->s.cookie_count > 0),
				PA_F_BOOL("has_openapi_key", c->s.openapi_key != NULL),
			};
			log_event(m, PROVAUTH_LOG_INFO, p, "build_session", f, PA_ARRAY_LEN(f));
		}
		*out = c;
		return 0;
	}
	return pa_error_set(PROVAUTH_ECONFLICT, "account %s: changed %d times while its session was built",
	                    id, PA_PUT_RETRIES);
}

/* The entry's session, built if absent. The caller owns one reference. */
static int session_acquire(provauth_manager *m, pa_entry *e, pa_cached **out)
{
	pa_cached *c;
	int rc;

	pthread_mutex_lock(&e->mu);
	if ((c = e->cached))
		atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&e->mu);
	if (c) {
		*out = c;
		return 0;
	}
	if ((rc = session_build(m, e->id, &c)) < 0)
		return rc;
	pthread_mutex_lock(&e->mu);
	if (e->cached && e->cached->account->revision >= c->account->revision) {
		/* Another thread built one at least as new meanwhile: share it. */
		cached_free(c);
		c = e->cached;
	} else {
		cached_release(e->cached);
		e->cached = c;
	}
	atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&e->mu);
	*out = c;
	return 0;
}

/* Drops the cached session if it is still `c` (NULL: whatever is cached). */
static void entry_evict(pa_entry *e, const pa_cached *c)
{
	pa_cached *old = NULL;

	pthread_mutex_lock(&e->mu);
	if (e->cached && (!c || e->cached == c)) {
		old = e->cached;
		e->cached = NULL;
	}
	pthread_mutex_unlock(&e->mu);
	cached_release(old);
}

void pa_sessions_evict(provauth_manager *m, const char *account_id)
{
	pa_shard *sh;
	pa_entry *e;

	if (!m->sessions || !account_id)
		return;
	sh = &m->sessions->shards[hash_id(account_id) % PA_SHARDS];
	if ((e = shard_find(sh, account_id)))
		entry_evict(e, NULL);
}

/* ------------------------------------------------------------------------ */
/* Storing what a recovery obtained                                         */
/* ------------------------------------------------------------------------ */

typedef struct pa_extra {
	const char *health_json;     /* metadata.session_health, or NULL */
	int set_password_method;     /* auth_method = password */
	const char *password;        /* store this password (explicit reauth) */
	int64_t last_reauth_at;      /* metadata.last_reauth_at when > 0 */
} pa_extra;

/*
 * Applies the provider's update plus the manager's own changes to the
 * newest stored copy and stores it, re-applying on version conflicts: the
 * update holds the newest credentials (we hold the recovery), so it must win.
 */
static int persist(provauth_manager *m, const char *id, const provauth_update *upd, const pa_extra *x)
{
	int attempt, rc = 0;
	char num[32];

	for (attempt = 0; attempt < PA_PUT_RETRIES; attempt++) {
		provauth_account *a = NULL;

		if ((rc = m->store->get(m->store, &a, id)) < 0)
			return pa_error_prefix(rc, "account %s", id);
		if ((upd && (rc = pa_update_apply(upd, a)) < 0) ||
		    (x && x->health_json && (rc = provauth_account_set_metadata(a, "session_health", x->health_json)) < 0) ||
		    (x && x->set_password_method && (rc = provauth_account_set_metadata(a, "auth_method", "\"password\"")) < 0) ||
		    (x && x->password && (rc = pa_set_string(&a->password, x->password)) < 0)) {
			provauth_account_free(a);
			return rc;
		}
		if (x && x->last_reauth_at > 0) {
			snprintf(num, sizeof(num), "%lld", (long long)x->last_reauth_at);
			if ((rc = provauth_account_set_metadata(a, "last_reauth_at", num)) < 0) {
				provauth_account_free(a);
				return rc;
			}
		}
		rc = store_put(m, a);
		provauth_account_free(a);
		if (rc != PROVAUTH_ECONFLICT)
			return rc;
	}
	return pa_error_set(PROVAUTH_ECONFLICT, "account %s: kept changing while recovered credentials were stored", id);
}

static char *health_json(const char *state, const char *reason, const char *code, int64_t at,
                         const char *message)
{
	struct json_object *o = json_object_new_object();
	char *out;

	json_object_object_add(o, "state", json_object_new_string(state));
	if (reason)
		json_object_object_add(o, "reason", json_object_new_string(reason));
	if (code && *code)
		json_object_object_add(o, "code", json_object_new_string(code));
	json_object_object_add(o, "at", json_object_new_int64(at));
	if (message)
		json_object_object_add(o, "message", json_object_new_string(message));
	out = pa_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return out;
}

/* 1 when the stored health already says this (same state, reason and code). */
static int health_unchanged(provauth_manager *m, const char *id, const char *state, const char *reason,
                            const char *code)
{
	struct json_object *o = NULL, *h, *v;
	provauth_account *a = NULL;
	int same = 0;

	if (m->store->get(m->store, &a, id) < 0)
		return 0;
	if ((o = json_tokener_parse(pa_account_metadata(a))) && json_object_object_get_ex(o, "session_health", &h)) {
		same = json_object_object_get_ex(h, "state", &v) && pa_streq(json_object_get_string(v), state);
		if (same && reason)
			same = json_object_object_get_ex(h, "reason", &v) && pa_streq(json_object_get_string(v), reason);
		if (same && code && *code)
			same = json_object_object_get_ex(h, "code", &v) && pa_streq(json_object_get_string(v), code);
	}
	json_object_put(o);
	provauth_account_free(a);
	return same;
}

static void record_health(provauth_manager *m, const pa_plugin *p, const char *id, const char *state,
                          const char *reason, const char *code, const char *message)
{
	char *h;
	pa_extra x = { NULL, 0, NULL, 0 };
	char saved[1024], shown[PA_HEALTH_MESSAGE_MAX];

	/* A dead account failing on every call should not rewrite its record every time. */
	if (health_unchanged(m, id, state, reason, code))
		return;
	/*
	 * What is stored is printed by `provauth session` for as long as it
	 * stays: bounded, one line, and never a credential of the account, in
	 * whatever case or spacing its provider's server echoed it.
	 */
	if (message) {
		provauth_account *a = NULL;
		size_t i;

		if (m->store->get(m->store, &a, id) < 0 || pa_message_repeats_account_secret(message, a, NULL))
			message = a ? PA_TEXT_WITHHELD : "(message not stored: the account could not be read)";
		provauth_account_free(a);
		snprintf(shown, sizeof(shown), "%s", message);
		for (i = 0; shown[i]; i++)
			if ((unsigned char)shown[i] < 0x20 || shown[i] == 0x7f)
				shown[i] = ' ';
		message = shown;
	}
	h = health_json(state, reason, code, pa_manager_now(m), message);
	x.health_json = h;
	/* Recording health must not replace the error the caller is about to see. */
	snprintf(saved, sizeof(saved), "%s", provauth_last_error());
	if (h && persist(m, id, NULL, &x) < 0) {
		const provauth_log_field f[] = { PA_F_STR("account_id", id), PA_F_STR("error", provauth_last_error()) };
		log_event(m, PROVAUTH_LOG_WARN, p, "session_health_not_stored", f, PA_ARRAY_LEN(f));
	} else {
		const provauth_log_field f[] = { PA_F_STR("account_id", id), PA_F_STR("state", state),
		                                 PA_F_STR("reason", reason ? reason : "") };
		log_event(m, PROVAUTH_LOG_INFO, p, "session_health_changed", f, PA_ARRAY_LEN(f));
	}
	free(h);
	pa_error_set(PROVAUTH_OK, "%s", saved);
}

/* ------------------------------------------------------------------------ */
/* The recovery ladder                                                      */
/* ------------------------------------------------------------------------ */

/* A provider the settings file does not mention gets the documented defaults. */
static const pa_provider_settings default_provider_settings = { NULL, NULL, 0, NULL, 300, 600, 300, 1 };

static const pa_provider_settings *provider_cfg(const pa_plugin *p)
{
	return p->settings ? p->settings : &default_provider_settings;
}

typedef enum pa_recovery_kind {
	PA_RECOVER_AUTO = 0,     /* after a session error: reuse, refresh, password if allowed */
	PA_RECOVER_REFRESH_ONLY, /* ahead of expiry: reuse or refresh, nothing else */
	PA_RECOVER_EXPLICIT      /* provauth_account_reauth: password login, ignoring auto settings */
} pa_recovery_kind;

typedef struct pa_recovery {
	pa_recovery_kind kind;
	const provauth_outcome *outcome; /* AUTO: why */
	const char *context;             /* op name */
	const char *password;            /* EXPLICIT: from the caller, may be NULL */
	const char *skip_reason;         /* out: why nothing was attempted */
	int attempted;                   /* out: refresh or login reached the provider */
	int permanent;                   /* out: the provider refused the credentials for good */
	const char *step;                /* out: what recovered the session (see log_recovered) */
} pa_recovery;

/* 1 when the store holds different credentials than `used`: someone already recovered. */
static int store_has_newer(provauth_manager *m, const char *id, const provauth_account *used)
{
	provauth_account *now = NULL;
	int newer;

	if (m->store->get(m->store, &now, id) < 0)
		return 0;
	newer = !same_credentials(now, used);
	provauth_account_free(now);
	return newer;
}

static void log_skipped(provauth_manager *m, const pa_plugin *p, const provauth_account *a,
                        const char *reason, const char *context)
{
	const provauth_log_field f[] = {
		PA_F_STR("account_id", a->id),
		PA_F_STR("auth_method", provauth_auth_method_name(provauth_account_auth_method(a))),
		PA_F_STR("reason", reason),
		PA_F_STR("context", context),
	};
	log_event(m, PROVAUTH_LOG_INFO, p, "auto_reauth_skipped", f, PA_ARRAY_LEN(f));
}

/*
 * A recovery that worked, and which step did it: "stored_credentials"
 * (another thread or process had already stored newer ones),
 * "refresh" (an OAuth refresh token), "cookie_refresh" (the provider's
 * refresh from the session cookies, for accounts without a refresh token)
 * or "password_login". A Google or unknown-method account may come back by
 * a cookie refresh, never by a password: this says which it was.
 */
static void log_recovered(provauth_manager *m, const pa_plugin *p, const char *id,
                          const provauth_account *a, const char *step, const char *context)
{
	const provauth_log_field f[] = {
		PA_F_STR("account_id", id),
		PA_F_STR("auth_method", provauth_auth_method_name(provauth_account_auth_method(a))),
		PA_F_STR("step", step),
		PA_F_STR("context", context),
	};
	log_event(m, PROVAUTH_LOG_INFO, p, "session_recovered", f, PA_ARRAY_LEN(f));
}

static int64_t metadata_int(const provauth_account *a, const char *key)
{
	struct json_object *o, *v;
	int64_t n = 0;

	if (!strstr(pa_account_metadata(a), key))
		return 0;
	o = json_tokener_parse(pa_account_metadata(a));
	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int))
		n = json_object_get_int64(v);
	json_object_put(o);
	return n;
}

/*
 * A failure that says nothing about the account's credentials: the network
 * or the provider's service failed (the caller tries again later), or the
 * store could not save what a step obtained (the store needs fixing, and
 * would refuse a health record too). Neither judges the account's health
 * nor advises new credentials.
 */
static int says_nothing_about_credentials(int rc)
{
	/*
	 * A configuration error (a wrong client secret, a missing setting) is
	 * the operator's to fix, whatever the provider: the account is fine.
	 */
	if (rc == PROVAUTH_ECONFIG)
		return 1;
	switch (rc) {
	case PROVAUTH_ENETWORK:
	case PROVAUTH_ETIMEOUT:
	case PROVAUTH_EHTTP:
	case PROVAUTH_EPROTOCOL:
	case PROVAUTH_ETOOBIG:
	case PROVAUTH_ERATELIMIT:
	case PROVAUTH_EIO:
		return 1;
	default:
		return 0;
	}
}

/*
 * Stores what a refresh or login brought back (even alongside its failure)
 * before anyone uses it. The step's own message survives a write that works;
 * a write that fails replaces it, being the error that matters then.
 */
static int persist_step(provauth_manager *m, const char *id, const provauth_update *upd, const pa_extra *x,
                        int rc)
{
	char saved[1024];
	int prc;

	if (pa_update_is_empty(upd) && (!x || (!x->set_password_method && !x->password)))
		return 0;
	snprintf(saved, sizeof(saved), "%s", provauth_last_error());
	prc = persist(m, id, upd, x);
	if (prc == 0)
		pa_error_set(rc, "%s", saved);
	else if (rc == 0 && !pa_update_is_empty(upd)) {
		/*
		 * The provider has already issued them and may have revoked what
		 * the store still holds (a rotated refresh token, a superseded
		 * login): the caller must learn that the account may need help.
		 */
		const provauth_log_field f[] = { PA_F_STR("account_id", id), PA_F_STR("error", provauth_last_error()) };
		/* Logged too: a caller whose old access token still works never sees this error. */
		log_event(m, PROVAUTH_LOG_ERROR, NULL, "credentials_not_stored", f, PA_ARRAY_LEN(f));
		snprintf(saved, sizeof(saved), "%s", provauth_last_error());
		pa_error_set(prc, "%s; the provider issued new credentials, which were not used since they could not "
		             "be stored: if it revoked the stored ones, the account needs new credentials once the "
		             "store is writable", saved);
	}
	return prc;
}

/*
 * Stores the mark of a refresh token refused for good, unless the stored
 * credentials moved on meanwhile. A mark that cannot be stored only costs
 * one more refusal in the next process: the refusal's message stands.
 */
static void mark_refresh_refused(provauth_manager *m, const provauth_account *a)
{
	char saved[1024], *mark;
	int attempt;

	if (!a->refresh_token || !(mark = pa_refresh_refused_json(a->refresh_token, pa_manager_now(m))))
		return;
	snprintf(saved, sizeof(saved), "%s", provauth_last_error());
	for (attempt = 0; attempt < PA_PUT_RETRIES; attempt++) {
		provauth_account *now = NULL;
		int rc;

		if (m->store->get(m->store, &now, a->id) < 0)
			break;
		if (!pa_streq(now->refresh_token, a->refresh_token)) {
			provauth_account_free(now);
			break;
		}
		rc = provauth_account_set_metadata(now, "refresh_refused", mark);
		if (rc == 0)
			rc = m->store->put(m->store, now);
		provauth_account_free(now);
		if (rc != PROVAUTH_ECONFLICT)
			break;
	}
	free(mark);
	pa_error_set(PROVAUTH_OK, "%s", saved);
}

static int step_refresh(provauth_manager *m, pa_entry *e, pa_plugin *p, const provauth_account *a,
                        pa_recovery *r)
{
	provauth_update *upd = NULL;
	int rc, prc;

	pthread_mutex_lock(&e->mu);
	rc = e->refresh_dead && same_credentials(e->refresh_dead, a);
	pthread_mutex_unlock(&e->mu);
	/* Another process (or an earlier run) saw this very token refused: it stays dead until replaced. */
	if (rc || pa_refresh_refused(a)) {
		r->permanent = 1;
		return pa_error_set(PROVAUTH_EAUTH, "account %s: %s refused this refresh token before (invalid_grant); "
		                    "it is not sent again until the account gets new credentials", a->id, p->vt.id);
	}
	if ((rc = pa_update_new(&upd)) < 0)
		return rc;
	{
		const provauth_log_field f[] = { PA_F_STR("account_id", a->id), PA_F_STR("context", r->context) };
		log_event(m, PROVAUTH_LOG_INFO, p, "refresh_attempt", f, PA_ARRAY_LEN(f));
	}
	r->attempted = 1;
	rc = p->vt.refresh(p->state, a, upd);
	if (rc > 0)
		rc = PROVAUTH_ERROR;
	pa_error_scrub(rc, a, NULL);
	prc = persist_step(m, a->id, upd, NULL, rc);
	pa_update_free(upd);
	if (rc == 0 && prc < 0)
		rc = prc; /* a token we could not save is never handed out */
	{
		const provauth_log_field f[] = { PA_F_STR("account_id", a->id), PA_F_BOOL("success", rc == 0),
		                                 PA_F_STR("context", r->context),
		                                 PA_F_STR("error", rc < 0 ? provauth_last_error() : "") };
		log_event(m, rc == 0 ? PROVAUTH_LOG_INFO : PROVAUTH_LOG_WARN, p, "refresh_completed", f, PA_ARRAY_LEN(f));
	}
	if (rc == PROVAUTH_EAUTH) {
		provauth_account *dead = NULL;
		r->permanent = 1;
		mark_refresh_refused(m, a);
		if (provauth_account_dup(&dead, a) == 0) {
			pthread_mutex_lock(&e->mu);
			provauth_account_free(e->refresh_dead);
			e->refresh_dead = dead;
			pthread_mutex_unlock(&e->mu);
		}
	}
	return rc;
}

static int step_password(provauth_manager *m, pa_plugin *p, const provauth_account *a, pa_recovery *r)
{
	pa_provider_state *ps = pa_manager_provider_state(m, p);
	const pa_provider_settings *cfg = provider_cfg(p);
	const char *password;
	provauth_update *upd = NULL;
	int64_t now = pa_manager_now(m), last;
	pa_extra x = { NULL, 0, NULL, 0 };
	int rc, prc;

	if (!p->vt.try_reauth) {
		r->skip_reason = "unsupported";
		return pa_error_set(PROVAUTH_EUNSUPPORTED,
		                    "account %s: provider %s has no password login; supply new credentials (e.g. a new refresh token)",
		                    a->id, p->vt.id);
	}
	if (r->kind == PA_RECOVER_AUTO) {
		if (r->outcome && !r->outcome->should_attempt_reauth) {
			r->skip_reason = "not_reauthable";
			return pa_error_set(PROVAUTH_ESESSION, "account %s: this error is not fixed by logging in again", a->id);
		}
		if (provauth_account_auth_method(a) == PROVAUTH_AUTH_GOOGLE) {
			r->skip_reason = "auth_method_incompatible";
			return pa_error_set(PROVAUTH_ESESSION,
			                    "account %s: auth method is google (it signs in with Google), so no password "
			                    "login is attempted; import fresh cookies from a browser session", a->id);
		}
		if (provauth_account_auth_method(a) != PROVAUTH_AUTH_PASSWORD) {
			r->skip_reason = "auth_method_incompatible";
			return pa_error_set(PROVAUTH_ESESSION,
			                    "account %s: auth method is unknown, so no password login is attempted; "
			                    "import fresh cookies, or reauth it once with a password to enable automatic recovery",
			                    a->id);
		}
		if (!cfg->auto_reauth_enabled) {
			r->skip_reason = "disabled_in_settings";
			return pa_error_set(PROVAUTH_ESESSION,
			                    "account %s: automatic password login is off (providers.%s.auto_reauth_enabled)",
			                    a->id, p->vt.id);
		}
		last = metadata_int(a, "last_reauth_at");
		if (cfg->reauth_cooldown > 0 && last > 0 && now - last < cfg->reauth_cooldown) {
			r->skip_reason = "cooldown";
			return pa_error_set(PROVAUTH_ECOOLDOWN,
			                    "account %s: last password login was %llds ago; the reauth cooldown is %llds",
			                    a->id, (long long)(now - last), (long long)cfg->reauth_cooldown);
		}
	}
	password = r->password ? r->password : a->password ? a->password : cfg->global_password;
	if (!password || !*password) {
		r->skip_reason = "no_password";
		return pa_error_set(PROVAUTH_EAUTH,
		                    "account %s: no password stored and no providers.%s.global_password set",
		                    a->id, p->vt.id);
	}
	if (ps && atomic_load(&ps->login_cooldown_until) > now) {
		r->skip_reason = "login_cooldown";
		return pa_error_set(PROVAUTH_ECOOLDOWN,
		                    "%s: logins paused for %llds after the service reported too many login attempts",
		                    p->vt.id, (long long)(atomic_load(&ps->login_cooldown_until) - now));
	}
	{
		const provauth_log_field f[] = {
			PA_F_STR("account_id", a->id),
			PA_F_STR("auth_method", provauth_auth_method_name(provauth_account_auth_method(a))),
			PA_F_STR("error_code", r->outcome ? r->outcome->error_code : ""),
			PA_F_STR("error_reason", r->outcome ? r->outcome->error_reason : "explicit"),
			PA_F_STR("context", r->context),
		};
		log_event(m, PROVAUTH_LOG_INFO, p, "auto_reauth_attempt", f, PA_ARRAY_LEN(f));
	}
	/* The attempt counts for the cooldown even if we crash before it ends. */
	x.last_reauth_at = now;
	if ((rc = persist(m, a->id, NULL, &x)) < 0)
		return rc;
	if ((rc = pa_update_new(&upd)) < 0)
		return rc;
	r->attempted = 1;
	rc = p->vt.try_reauth(p->state, a, password, upd);
	if (rc > 0)
		rc = PROVAUTH_ERROR;
	pa_error_scrub(rc, a, password);
	/* The service said "too many logins": an attempt, not a skip, but it pauses everyone. */
	if (rc == PROVAUTH_ECOOLDOWN && ps)
		atomic_store(&ps->login_cooldown_until, now + cfg->login_cooldown);
	memset(&x, 0, sizeof(x));
	x.set_password_method = rc == 0;
	x.password = rc == 0 && r->kind == PA_RECOVER_EXPLICIT ? r->password : NULL;
	prc = persist_step(m, a->id, upd, &x, rc);
	pa_update_free(upd);
	if (rc == 0 && prc < 0)
		rc = prc;
	if (rc == PROVAUTH_EAUTH)
		r->permanent = 1;
	{
		const provauth_log_field f[] = { PA_F_STR("account_id", a->id), PA_F_BOOL("success", rc == 0),
		                                 PA_F_STR("context", r->context),
		                                 PA_F_STR("error", rc < 0 ? provauth_last_error() : "") };
		log_event(m, rc == 0 ? PROVAUTH_LOG_INFO : PROVAUTH_LOG_WARN, p, "auto_reauth_completed", f, PA_ARRAY_LEN(f));
	}
	return rc;
}

/*
 * Holds the store lease for the account, or waits until the process that
 * holds it stores new credentials (returns 1) or the wait runs out.
 */
static int lease_or_wait(provauth_manager *m, const provauth_account *used, int64_t deadline_ms)
{
	int64_t ttl = pa_settings_session(m->settings)->lease_ttl_ms;
	struct timespec ts = { 0, PA_LEASE_POLL_MS * 1000000L };
	int rc;

	for (;;) {
		rc = m->store->lease_acquire ? m->store->lease_acquire(m->store, used->id, m->owner, ttl) : 0;
		if (rc == 0)
			return 0;
		if (rc != PROVAUTH_EBUSY)
			return pa_error_prefix(rc, "account %s: recovery lease", used->id);
		if (store_has_newer(m, used->id, used))
			return 1;
		if (pa_monotonic_ms() >= deadline_ms)
			return pa_error_set(PROVAUTH_EBUSY,
			                    "account %s: another process is recovering this session and did not finish in time",
			                    used->id);
		nanosleep(&ts, NULL);
	}
}

/*
 * Gives the lease back. A release that fails (the lease then just expires)
 * must not replace the message of the recovery's own outcome.
 */
static void lease_release(provauth_manager *m, const char *id)
{
	char saved[1024];

	snprintf(saved, sizeof(saved), "%s", provauth_last_error());
	if (m->store->lease_release && m->store->lease_release(m->store, id, m->owner) < 0) {
		const provauth_log_field f[] = { PA_F_STR("account_id", id), PA_F_STR("error", provauth_last_error()) };
		log_event(m, PROVAUTH_LOG_WARN, NULL, "lease_not_released", f, PA_ARRAY_LEN(f));
		pa_error_set(PROVAUTH_OK, "%s", saved);
	}
}

/* The ladder itself, run by the one thread that owns the account's recovery. */
static int recover_locked(provauth_manager *m, pa_entry *e, pa_plugin *p, const provauth_account *used,
                          pa_recovery *r)
{
	int64_t deadline = pa_monotonic_ms() + pa_settings_session(m->settings)->recovery_wait_ms;
	provauth_account *a = NULL;
	const char *refresh_step;
	int rc, leased, refreshed = 0, cookie_refresh_off = 0;

	/* (a) Someone (thread or process) already stored newer credentials. */
	if (r->kind != PA_RECOVER_EXPLICIT && store_has_newer(m, e->id, used))
		goto reused;
	if ((leased = lease_or_wait(m, used, deadline)) < 0)
		return leased;
	if (leased == 1)
		goto reused;
	if ((rc = m->store->get(m->store, &a, e->id)) < 0) {
		lease_release(m, e->id);
		return pa_error_prefix(rc, "account %s", e->id);
	}
	/* The lease holder before us may have finished just before we got it. */
	if (r->kind != PA_RECOVER_EXPLICIT && !same_credentials(a, used)) {
		provauth_account_free(a);
		lease_release(m, e->id);
		goto reused;
	}
	rc = PROVAUTH_EUNSUPPORTED;
	/* Without a refresh token the provider's refresh renews the session from its cookies. */
	refresh_step = a->refresh_token && *a->refresh_token ? "refresh" : "cookie_refresh";
	if (r->kind != PA_RECOVER_EXPLICIT && p->vt.refresh && !a->refresh_token && !provider_cfg(p)->cookie_refresh) {
		const provauth_log_field f[] = {
			PA_F_STR("account_id", a->id),
			PA_F_STR("auth_method", provauth_auth_method_name(provauth_account_auth_method(a))),
			PA_F_STR("reason", "cookie_refresh_disabled"),
			PA_F_STR("context", r->context),
		};
		log_event(m, PROVAUTH_LOG_INFO, p, "refresh_skipped", f, PA_ARRAY_LEN(f));
		cookie_refresh_off = 1;
	}
	/* (b) Renew without a password. */
	if (r->kind != PA_RECOVER_EXPLICIT && p->vt.refresh && !cookie_refresh_off) {
		refreshed = 1;
		rc = step_refresh(m, e, p, a, r);
		if (rc == 0)
			r->step = refresh_step;
		/* A configuration error is not fixed by another step, and a password login would hide it. */
		if (rc == 0 || r->kind == PA_RECOVER_REFRESH_ONLY || rc == PROVAUTH_ECONFIG)
			goto out;
		provauth_account_free(a);
		a = NULL;
		if (m->store->get(m->store, &a, e->id) < 0) /* the failed refresh may have stored metadata */
			goto out;
	}
	if (r->kind == PA_RECOVER_REFRESH_ONLY) {
		r->skip_reason = "no_refresh";
		rc = pa_error_set(PROVAUTH_EUNSUPPORTED, "account %s: %s cannot refresh", e->id, p->vt.id);
		goto out;
	}
	/* (c) Password login, where allowed. */
	{
		char refresh_msg[512];
		int refresh_rc = rc;
		snprintf(refresh_msg, sizeof(refresh_msg), "%s", provauth_last_error());
		rc = step_password(m, p, a, r);
		if (rc == 0)
			r->step = "password_login";
		if (rc < 0 && r->skip_reason) {
			log_skipped(m, p, a, r->skip_reason, r->context);
			/*
			 * Nothing was attempted after the refresh: its failure leads the
			 * story. After a network, service or store fault, advice to supply
			 * new credentials would be wrong: the refresh alone is reported.
			 * A refresh token refused for good already says what to supply;
			 * a provider without password login adds nothing to that.
			 */
			if (refreshed && refresh_rc < 0 && (says_nothing_about_credentials(refresh_rc) ||
			                                    (refresh_rc == PROVAUTH_EAUTH && !p->vt.try_reauth))) {
				rc = pa_error_set(refresh_rc, "%s", refresh_msg);
			} else if (cookie_refresh_off) {
				char skip_msg[512];
				snprintf(skip_msg, sizeof(skip_msg), "%s", provauth_last_error());
				rc = pa_error_set(rc, "%s; the cookie refresh is off (providers.%s.cookie_refresh: false)",
				                  skip_msg, p->vt.id);
			} else if (refreshed && refresh_rc < 0) {
				char skip_msg[512];
				snprintf(skip_msg, sizeof(skip_msg), "%s", provauth_last_error());
				rc = pa_error_set(refresh_rc, "%s; %s", refresh_msg, skip_msg);
			}
		}
	}
out:
	/* Ahead of expiry nothing was lost: a renewal, not a recovery. */
	if (rc == 0 && r->step && r->kind != PA_RECOVER_REFRESH_ONLY)
		log_recovered(m, p, e->id, a, r->step, r->context);
	provauth_account_free(a);
	lease_release(m, e->id);
	return rc;
reused:
	{
		const provauth_log_field f[] = { PA_F_STR("account_id", e->id), PA_F_STR("context", r->context) };
		log_event(m, PROVAUTH_LOG_INFO, p, "session_reused_stored", f, PA_ARRAY_LEN(f));
	}
	r->step = "stored_credentials";
	if (r->kind != PA_RECOVER_REFRESH_ONLY)
		log_recovered(m, p, e->id, used, r->step, r->context);
	return 0;
}

/*
 * Single-flight wrapper: one recovery per account at a time in this process;
 * callers that arrive meanwhile wait and share its result. `used` is the
 * account snapshot whose credentials failed.
 */
static int recover(provauth_manager *m, pa_entry *e, pa_plugin *p, const provauth_account *used,
                   pa_recovery *r)
{
	int64_t wait_ms = pa_settings_session(m->settings)->recovery_wait_ms;
	struct timespec until;
	uint64_t gen;
	int rc;

	pthread_mutex_lock(&e->mu);
	if (e->recovering) {
		if (r->kind == PA_RECOVER_REFRESH_ONLY) {
			/* Ahead of expiry the current token still works: do not wait. */
			pthread_mutex_unlock(&e->mu);
			return PROVAUTH_EBUSY;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait_ms / 1000;
		until.tv_nsec += (wait_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		gen = e->generation;
		while (e->recovering && e->generation == gen)
			if (pthread_cond_timedwait(&e->cv, &e->mu, &until) == ETIMEDOUT)
				break;
		if (e->generation == gen) {
			pthread_mutex_unlock(&e->mu);
			return pa_error_set(PROVAUTH_EBUSY, "account %s: waited %lldms for another thread's recovery",
			                    e->id, (long long)wait_ms);
		}
		rc = e->last_rc;
		if (rc < 0)
			pa_error_set(rc, "%s", e->last_msg ? e->last_msg : provauth_strerror(rc));
		pthread_mutex_unlock(&e->mu);
		return rc;
	}
	/* The cached session already moved past the failed credentials. */
	if (r->kind != PA_RECOVER_EXPLICIT && e->cached && !same_credentials(e->cached->account, used)) {
		pthread_mutex_unlock(&e->mu);
		r->step = "stored_credentials";
		if (r->kind != PA_RECOVER_REFRESH_ONLY)
			log_recovered(m, p, e->id, used, r->step, r->context);
		return 0;
	}
	/* A recovery from these same credentials failed moments ago: do not storm. */
	if (r->kind != PA_RECOVER_EXPLICIT && e->failed_on && same_credentials(e->failed_on, used) &&
	    pa_monotonic_ms() - e->failed_at_ms < PA_FAILURE_MEMO_MS && e->last_rc < 0) {
		char msg[1024];
		rc = e->last_rc;
		snprintf(msg, sizeof(msg), "%s", e->last_msg ? e->last_msg : provauth_strerror(rc));
		pthread_mutex_unlock(&e->mu);
		/* Said like every other skip, so a caller sees why nothing was tried this time. */
		log_skipped(m, p, used, "recent_failure", r->context);
		return pa_error_set(rc, "%s", msg);
	}
	e->recovering = 1;
	pthread_mutex_unlock(&e->mu);

	rc = recover_locked(m, e, p, used, r);
	if (rc == 0)
		entry_evict(e, NULL);

	pthread_mutex_lock(&e->mu);
	e->recovering = 0;
	e->generation++;
	e->last_rc = rc;
	/* On the heap, and only after a failure: every account id seen keeps an entry. */
	free(e->last_msg);
	e->last_msg = rc < 0 ? strdup(provauth_last_error()) : NULL;
	provauth_account_free(e->failed_on);
	e->failed_on = NULL;
	/*
	 * Only failed attempts are remembered: a skip (cooldown, settings) costs
	 * nothing to decide again and must be decided again once it lifts.
	 */
	if (rc < 0 && r->attempted && r->kind != PA_RECOVER_EXPLICIT &&
	    provauth_account_dup(&e->failed_on, used) == 0)
		e->failed_at_ms = pa_monotonic_ms();
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* run_with_session                                                         */
/* ------------------------------------------------------------------------ */

/*
 * OAuth-style accounts: renew ahead of expiry. While the token is still
 * valid one caller refreshes and the others go on with the current token;
 * once it has expired everyone waits for the single refresh.
 */
static int refresh_ahead(provauth_manager *m, pa_entry *e, pa_cached **cp, const char *context)
{
	pa_cached *c = *cp;
	const provauth_account *a = c->account;
	int64_t ahead = provider_cfg(c->plugin)->refresh_ahead, now;
	pa_recovery r = { PA_RECOVER_REFRESH_ONLY, NULL, context, NULL, NULL, 0, 0, NULL };
	int expired, rc;

	if (!c->plugin->vt.refresh || !a->refresh_token)
		return 0;
	now = pa_manager_now(m);
	if (a->access_token && a->access_expires_at > 0 && now < a->access_expires_at - ahead)
		return 0;
	expired = !a->access_token || a->access_expires_at <= 0 || now >= a->access_expires_at;
	if (expired)
		r.kind = PA_RECOVER_AUTO; /* wait for the single refresh in flight */
	rc = recover(m, e, c->plugin, a, &r);
	/*
	 * A configuration error is reported at once, though the token still
	 * works: every account of the provider will fail at expiry, and the
	 * operator learns it now instead of then.
	 */
	if (rc == PROVAUTH_ECONFIG && !expired)
		return rc;
	if (rc < 0 && !expired) {
		/* Still valid: use it. A refusal for good is recorded now, not at expiry. */
		if (r.permanent)
			record_health(m, c->plugin, a->id, "invalid", "refresh_rejected", "", provauth_last_error());
		return 0;
	}
	if (rc < 0)
		return rc;
	cached_release(c);
	*cp = NULL;
	if ((rc = session_acquire(m, e, cp)) < 0)
		return rc;
	return 0;
}

static void outcome_init(provauth_outcome *o, const provauth_failure *f)
{
	memset(o, 0, sizeof(*o));
	o->result = f->code < 0 ? f->code : PROVAUTH_ERROR;
	o->retry_after = -1;
	snprintf(o->error_reason, sizeof(o->error_reason), "non_session_error");
}

static const char *failure_text(const provauth_failure *f, const provauth_outcome *o, char *buf, size_t n)
{
	if (f->kind == PROVAUTH_FAILURE_HTTP && o->error_code[0])
		snprintf(buf, n, "HTTP %ld, code %s", f->http_status, o->error_code);
	else if (f->kind == PROVAUTH_FAILURE_HTTP)
		snprintf(buf, n, "HTTP %ld", f->http_status);
	else
		snprintf(buf, n, "%s", f->message ? f->message : provauth_strerror(f->code));
	return buf;
}

/* The message of a failed operation: account, provider, operation and what the provider said. */
static int set_op_error(const pa_plugin *p, const char *account_id, const char *op_name, const char *when,
                        const provauth_failure *f, const provauth_outcome *o)
{
	int rc = o->result < 0 ? o->result : f->code < 0 ? f->code : PROVAUTH_ERROR;
	char what[256];

	failure_text(f, o, what, sizeof(what));
	if (rc == PROVAUTH_ERATELIMIT && o->retry_after >= 0)
		return pa_error_set(rc, "account %s: %s %s%s: rate limited (%s); retry after %lds", account_id,
		                    p->vt.id, op_name, when, what, o->retry_after);
	return pa_error_set(rc, "account %s: %s %s failed%s: %s%s%s%s", account_id, p->vt.id, op_name, when, what,
	                    o->error_reason[0] ? " (" : "", o->error_reason, o->error_reason[0] ? ")" : "");
}

/* Runs once; returns its code with the failure described in *f. */
static int attempt(const pa_cached *c, provauth_operation_fn op, void *payload, provauth_failure *f)
{
	int rc;

	provauth_failure_clear(f);
	f->code = PROVAUTH_ERROR;
	rc = op(&c->s, f, payload);
	if (rc > 0)
		rc = PROVAUTH_ERROR;
	/* The operation's words may quote its server, which may echo the credentials it was sent. */
	if (f->message && pa_message_repeats_account_secret(f->message, c->account, NULL)) {
		char *fixed = pa_strdup("the provider's message was withheld: it repeats a credential of the account");
		if (fixed) {
			free(f->message);
			f->message = fixed;
		} else {
			f->message[0] = '\0';
		}
	}
	if (rc < 0 && f->code == PROVAUTH_ERROR)
		f->code = rc;
	return rc;
}

/* The spec's two events for a session error, with the same fields on every path (first failure or retry). */
static void log_session_error(provauth_manager *m, const pa_plugin *p, const char *account_id, const char *op_name,
                              const provauth_outcome *o)
{
	const provauth_log_field fd[] = { PA_F_STR("account_id", account_id), PA_F_STR("context", op_name),
	                                  PA_F_STR("error_code", o->error_code), PA_F_STR("error_reason", o->error_reason) };
	const provauth_log_field fi[] = { PA_F_STR("account_id", account_id), PA_F_STR("reason", o->error_reason),
	                                  PA_F_STR("error_code", o->error_code) };

	log_event(m, PROVAUTH_LOG_WARN, p, "session_error_detected", fd, PA_ARRAY_LEN(fd));
	if (o->should_invalidate_cache)
		log_event(m, PROVAUTH_LOG_WARN, p, "session_invalidated", fi, PA_ARRAY_LEN(fi));
}

static int run_with_session(provauth_manager *m, const char *account_id, const char *op_name,
                            provauth_operation_fn op, void *payload, int retry_on_session_error)
{
	provauth_failure f = { PROVAUTH_FAILURE_NONE, 0, 0, NULL, NULL, 0, -1 };
	provauth_outcome o;
	pa_recovery r;
	pa_cached *c = NULL;
	pa_plugin *p;
	pa_entry *e;
	int rc, rrc;

	if (!m || !account_id || !*account_id || !op)
		return pa_error_set(PROVAUTH_EINVAL, "run_with_session: manager, account id and operation are required");
	if (!op_name)
		op_name = "operation";
	if (!(e = entry_get(m->sessions, account_id)))
		return PROVAUTH_ENOMEM;
	if ((rc = session_acquire(m, e, &c)) < 0)
		return rc;
	if ((rc = refresh_ahead(m, e, &c, op_name)) < 0) {
		if (c) {
			char reason[640];
			snprintf(reason, sizeof(reason), "%s", provauth_last_error());
			/*
			 * A network, service, store or configuration fault leaves the
			 * account as it was: nothing is known about it.
			 */
			if (!says_nothing_about_credentials(rc))
				record_health(m, c->plugin, account_id, "invalid", "refresh_failed", "", reason);
			pa_error_set(rc, "account %s: %s %s failed: the %s access token was not renewed: %s",
			             account_id, c->plugin->vt.id, op_name,
			             c->account->access_expires_at > 0 && pa_manager_now(m) < c->account->access_expires_at
			                 ? "soon expiring" : "expired", reason);
			cached_release(c);
		}
		return rc;
	}
	p = c->plugin;

	rc = attempt(c, op, payload, &f);
	if (rc == 0)
		goto success;
	if (f.kind == PROVAUTH_FAILURE_NONE) {
		/* Nothing to classify: the operation's own error stands. */
		cached_release(c);
		provauth_failure_clear(&f);
		return rc;
	}
	outcome_init(&o, &f);
	if (p->vt.classify_error(p->state, &f, &o) < 0)
		outcome_init(&o, &f);
	if (o.start_login_cooldown) {
		pa_provider_state *ps = pa_manager_provider_state(m, p);
		if (ps)
			atomic_store(&ps->login_cooldown_until, pa_manager_now(m) + provider_cfg(p)->login_cooldown);
	}
	if (!o.is_session_error) {
		rc = set_op_error(p, account_id, op_name, "", &f, &o);
		cached_release(c);
		provauth_failure_clear(&f);
		return rc;
	}
	if (o.should_invalidate_cache)
		entry_evict(e, c);
	log_session_error(m, p, account_id, op_name, &o);
	if (!retry_on_session_error) {
		/* The caller handles the retry: judged and recorded, but nothing recovered. */
		log_skipped(m, p, c->account, "retry_disabled", op_name);
		rc = o.result < 0 ? o.result : PROVAUTH_ESESSION;
		record_health(m, p, account_id, "invalid", o.error_reason, o.error_code,
		              "not recovered: the caller asked for no retry");
		pa_error_set(rc, "account %s: %s %s failed: session invalid (%s%s%s); not recovered, as the caller "
		             "asked (retry_on_session_error false)", account_id, p->vt.id, op_name, o.error_reason,
		             o.error_code[0] ? ", code " : "", o.error_code);
		cached_release(c);
		provauth_failure_clear(&f);
		return rc;
	}
	memset(&r, 0, sizeof(r));
	r.kind = PA_RECOVER_AUTO;
	r.outcome = &o;
	r.context = op_name;
	rrc = recover(m, e, p, c->account, &r);
	if (rrc < 0) {
		char reason[640];
		snprintf(reason, sizeof(reason), "%s", provauth_last_error());
		/*
		 * A recovery stopped by a network, service or store fault is that
		 * fault, and the account's health is not judged on it. Otherwise
		 * the session's own error stands.
		 */
		if (says_nothing_about_credentials(rrc)) {
			rc = rrc;
		} else {
			rc = o.result < 0 ? o.result : PROVAUTH_ESESSION;
			record_health(m, p, account_id, "invalid", o.error_reason, o.error_code, reason);
		}
		pa_error_set(rc, "account %s: %s %s failed: session invalid (%s%s%s) and not recovered: %s", account_id,
		             p->vt.id, op_name, o.error_reason, o.error_code[0] ? ", code " : "", o.error_code, reason);
		cached_release(c);
		provauth_failure_clear(&f);
		return rc;
	}
	/* Retry once, never more. */
	cached_release(c);
	c = NULL;
	if ((rc = session_acquire(m, e, &c)) < 0) {
		provauth_failure_clear(&f);
		return rc;
	}
	rc = attempt(c, op, payload, &f);
	if (rc == 0)
		goto success;
	if (f.kind != PROVAUTH_FAILURE_NONE) {
		outcome_init(&o, &f);
		if (p->vt.classify_error(p->state, &f, &o) < 0)
			outcome_init(&o, &f);
		if (o.is_session_error) {
			entry_evict(e, c);
			log_session_error(m, p, account_id, op_name, &o);
			record_health(m, p, account_id, "invalid", o.error_reason, o.error_code,
			              "the retry after recovery failed too");
		}
		rc = set_op_error(p, account_id, op_name, " after recovery", &f, &o);
	}
	cached_release(c);
	provauth_failure_clear(&f);
	return rc;

success:
	if (c->health_invalid) {
		record_health(m, p, account_id, "ok", NULL, NULL, NULL);
		entry_evict(e, c);
	}
	cached_release(c);
	provauth_failure_clear(&f);
	provauth_error_clear();
	return 0;
}

int provauth_run_with_session(provauth_manager *m, const char *account_id, const char *op_name,
                              provauth_operation_fn op, void *payload)
{
	return run_with_session(m, account_id, op_name, op, payload, 1);
}

int provauth_run_with_session_ext(provauth_manager *m, const char *account_id, const char *op_name,
                                  provauth_operation_fn op, void *payload, const provauth_run_options *opts)
{
	if (opts && (opts->version == 0 || opts->version > PROVAUTH_RUN_OPTIONS_VERSION))
		return pa_error_set(PROVAUTH_EINVAL, "run_with_session: options version %u unknown (this library knows up "
		                    "to %u)", opts->version, PROVAUTH_RUN_OPTIONS_VERSION);
	return run_with_session(m, account_id, op_name, op, payload, opts ? opts->retry_on_session_error != 0 : 1);
}

/* ------------------------------------------------------------------------ */
/* Explicit reauth and named operations                                     */
/* ------------------------------------------------------------------------ */

int provauth_account_reauth(provauth_manager *m, const char *id, const char *password)
{
	pa_recovery r = { PA_RECOVER_EXPLICIT, NULL, "reauth", password, NULL, 0, 0, NULL };
	provauth_account *a = NULL;
	pa_plugin *p;
	pa_entry *e;
	int rc;

	if (!m || !id || !*id)
		return pa_error_set(PROVAUTH_EINVAL, "reauth: manager and account id are required");
	if ((rc = m->store->get(m->store, &a, id)) < 0) {
		if (rc == PROVAUTH_ENOTFOUND)
			return pa_error_set(rc, "account %s: not found in the %s store", id, m->store->name);
		return rc;
	}
	if (!(p = pa_plugins_find(&m->plugins, a->provider))) {
		rc = pa_error_set(PROVAUTH_EPLUGIN, "account %s: provider '%s' is not loaded", id, a->provider);
		provauth_account_free(a);
		return rc;
	}
	if (!(e = entry_get(m->sessions, id))) {
		provauth_account_free(a);
		return PROVAUTH_ENOMEM;
	}
	rc = recover(m, e, p, a, &r);
	if (rc == 0)
		record_health(m, p, id, "ok", NULL, NULL, NULL);
	else if (r.permanent)
		record_health(m, p, id, "invalid", "reauth_failed", "", provauth_last_error());
	entry_evict(e, NULL);
	provauth_account_free(a);
	return rc;
}

typedef struct pa_call {
	provauth_manager *m;
	const char *operation;
	const provauth_op_arg *args;
	size_t nargs;
	char *out;
} pa_call;

static int call_op(const provauth_session *s, provauth_failure *f, void *payload)
{
	pa_call *call = payload;
	pa_plugin *p = pa_plugins_find(&call->m->plugins, s->provider);
	size_t i;

	for (i = 0; p && i < p->vt.operation_count; i++) {
		const provauth_operation *op = &p->vt.operations[i];
		if (strcmp(op->name, call->operation) != 0)
			continue;
		free(call->out);
		call->out = NULL;
		return op->run(p->state, s, call->args, call->nargs, &call->out, f);
	}
	return pa_error_set(PROVAUTH_ENOTFOUND, "provider %s has no operation '%s' (see 'provauth plugins')",
	                    s->provider, call->operation);
}

int provauth_call(char **out_json, provauth_manager *m, const char *account_id, const char *operation,
                  const provauth_arg *args, size_t nargs)
{
	pa_call call = { m, operation, (const provauth_op_arg *)args, nargs, NULL };
	int rc;

	if (out_json)
		*out_json = NULL;
	if (!out_json || !operation || !*operation)
		return pa_error_set(PROVAUTH_EINVAL, "call: output and operation name are required");
	rc = provauth_run_with_session(m, account_id, operation, call_op, &call);
	if (rc < 0) {
		free(call.out);
		return rc;
	}
	/*
	 * Callers print the output or hand it to a JSON reader: text that is not
	 * one JSON document (a plugin bug, or a server's reply passed through
	 * unchecked) is refused here, never passed on. Not quoted: it may be
	 * anything, escape sequences included.
	 */
	if (call.out && !pa_json_valid(call.out, strlen(call.out))) {
		free(call.out);
		return pa_error_set(PROVAUTH_EPLUGIN, "call: operation '%s' of account %s returned output that is "
		                    "not JSON; refused (a bug in the provider's plugin)", operation, account_id);
	}
	*out_json = call.out ? call.out : pa_strdup("null");
	return *out_json ? 0 : pa_error_oom();
}
