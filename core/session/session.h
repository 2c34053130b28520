/*
 * The session room's private header: what its files share. Nothing outside
 * core/session/ includes it except manager.c, which uses pa_sessions_new,
 * pa_sessions_free and pa_sessions_evict only.
 *
 * The room, file by file:
 *   cache.c    the sharded table of account entries and their cached,
 *              reference-counted sessions (acquire, release, evict)
 *   build.c    a session built from the stored account by the provider
 *   health.c   storing what a recovery obtained, and the health record
 *   recover.c  the recovery ladder (reuse, refresh, password login) and
 *              its single flight, in this process and across processes
 *   ahead.c    refresh-ahead: OAuth tokens renewed before they expire
 *   run.c      the public entry points: run_with_session(_ext), reauth, call
 *   context.c  what every file asks of the manager, said once
 *   update.c, failure.c, refresh_refused.c: the structs providers fill in
 *              and the stored mark of a refused refresh token
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
#ifndef PA_SESSION_H
#define PA_SESSION_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include "internal.h"

typedef struct pa_session_table pa_session_table;

/* ---- cache.c: what manager.c uses ---- */

int pa_sessions_new(pa_session_table **out);
void pa_sessions_free(pa_session_table *t);
/* Drops the account's cached session (after a put or remove); NULL table or id: nothing. */
void pa_sessions_evict(pa_session_table *t, const char *account_id);

/* ---- cache.c: entries and cached sessions ---- */

typedef struct pa_cached {
	atomic_int refs;
	provauth_session s;
	provauth_account *built_from;  /* the snapshot s points into */
	provauth_account *account;     /* what the store holds now (== built_from unless build persisted) */
	pa_plugin *plugin;
	int health_invalid;
	/*
	 * What refresh-ahead asks on every call, read once from `account` when
	 * it is set (pa_cached_set_account): looking credentials up by kind on
	 * the hot path cost a sixth more instructions per cached call.
	 */
	int has_refresh_token;
	const char *access_token;
	int64_t access_expires_at;
	/*
	 * The session's credentials: lent from `lent_from` (the snapshot it was
	 * built from) until build_session sets one, then the session's own copy
	 * in `creds` (core/session/credential.c).
	 */
	const provauth_account *lent_from;
	provauth_account *creds;
} pa_cached;

/* The account whose credentials the session shows (see pa_cached). */
static inline const provauth_account *pa_session_credentials_of(const pa_cached *c)
{
	return c->creds ? c->creds : c->lent_from;
}

typedef struct pa_entry {
	struct pa_entry *next;
	char *id;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pa_cached *cached;
	int recovering;               /* a thread of this process runs the recovery (and holds the lease) */
	uint64_t generation;          /* completed recoveries */
	int last_rc;                  /* result of the latest recovery */
	char *last_msg;               /* message of the latest failed recovery; NULL: none (or no memory) */
	provauth_account *failed_on;  /* credentials the latest failed recovery started from */
	int64_t failed_at_ms;
	provauth_account *refresh_dead; /* credentials whose refresh was refused for good */
} pa_entry;

/* ---- credential.c ---- */

/* The session's credentials start as a copy of the account's. */
int pa_session_lend_credentials(pa_cached *c, const provauth_account *a);

/* The account's entry, added if new (NULL and an error when out of memory). */
pa_entry *pa_entry_get(pa_session_table *t, const char *id);
/* Drops the cached session if it is still `c` (NULL: whatever is cached). */
void pa_entry_evict(pa_entry *e, const pa_cached *c);
/* The entry's session, built if absent. The caller owns one reference. */
int pa_session_acquire(provauth_manager *m, pa_entry *e, pa_cached **out);
/*
 * The same, but a cached session built from revision stale_upto or older
 * is not taken: after a recovery, another thread may have cached a session
 * built from the store before the recovered credentials were stored, with
 * the credentials that just failed. A newer one is built (and cached).
 */
int pa_session_acquire_newer(provauth_manager *m, pa_entry *e, pa_cached **out, uint64_t stale_upto);
/* Frees a session nobody else can see (refs never shared). */
void pa_cached_free(pa_cached *c);
/*
 * Drops one reference; the last one frees. NULL: nothing. Inline: every
 * call releases its session once, and the hot path is measured in
 * instructions (bench/RESULTS.md).
 */
static inline void pa_cached_release(pa_cached *c)
{
	int before;

	if (!c)
		return;
	before = atomic_fetch_sub(&c->refs, 1);
	/* A release without a matching reference would free a session still in use. */
	assert(before > 0);
	if (before == 1)
		pa_cached_free(c);
}
/* 1 when the credentials a session is built from are the same. */
int pa_session_same_credentials(const provauth_account *a, const provauth_account *b);

/* ---- build.c ---- */

/* A new session (one reference) built by the provider from the stored account. */
int pa_session_build(provauth_manager *m, const char *id, pa_cached **out);

/* ---- context.c ---- */

/* Logs "<provider id>_<what>" ("provauth_<what>" without a plugin). */
void pa_session_log(provauth_manager *m, provauth_log_level level, const pa_plugin *p, const char *what,
                    const provauth_log_field *fields, size_t n);
/* What a provider the settings file does not mention gets: the documented defaults. */
extern const pa_provider_settings pa_default_provider_settings;
/* The provider's settings block, or the defaults when the file has none (inline: read on every call). */
static inline const pa_provider_settings *pa_provider_cfg(const pa_plugin *p)
{
	return p->settings ? p->settings : &pa_default_provider_settings;
}
/* The stored account `id`, as the store's get. */
int pa_session_store_get(provauth_manager *m, provauth_account **out, const char *id);

/* ---- health.c ---- */

/* The manager's own changes that go with a provider's update. */
typedef struct pa_extra {
	const provauth_health *health; /* store this as state.health, or NULL */
	int set_password_method;     /* auth_method = password */
	const char *password;        /* store this password (explicit reauth) */
	int64_t last_reauth_at;      /* state.last_reauth_at when > 0 */
	/*
	 * The account (as read) whose session `health` is about, or NULL: the
	 * health is stored only while the store still holds that session (its
	 * JWT and access token). A failure of a session another process has
	 * already replaced says nothing about the one stored now.
	 */
	const provauth_account *about;
} pa_extra;

/*
 * `seed`: the account as the caller has just read it under the recovery
 * lease, or NULL. The write starts from it instead of reading the store
 * again; a write that loses the race reads the store as always.
 */
int pa_persist(provauth_manager *m, const char *id, const provauth_account *seed, const provauth_update *upd,
               const pa_extra *x);
int pa_persist_step(provauth_manager *m, const char *id, const provauth_account *seed, const provauth_update *upd,
                    const pa_extra *x, int rc);
/* `about`: see pa_extra (NULL: recorded whatever the store holds now). */
void pa_record_health(provauth_manager *m, const pa_plugin *p, const char *id, const provauth_account *about,
                      const char *state, const char *reason, const char *code, const char *message);
void pa_mark_refresh_refused(provauth_manager *m, const provauth_account *a);

/* ---- recover.c ---- */

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

/*
 * Single-flight recovery: one per account at a time in this process;
 * callers that arrive meanwhile wait and share its result. `used` is the
 * account snapshot whose credentials failed.
 */
int pa_recover(provauth_manager *m, pa_entry *e, pa_plugin *p, const provauth_account *used, pa_recovery *r);
/* 1 for a failure that says nothing about the account's credentials (network, service, store, settings). */
int pa_says_nothing_about_credentials(int rc);
/* Logs auto_reauth_skipped. */
void pa_log_skipped(provauth_manager *m, const pa_plugin *p, const provauth_account *a, const char *reason,
                    const char *context);

/* Sets c->account and what is read from it on every call (see pa_cached). */
static inline void pa_cached_set_account(pa_cached *c, provauth_account *a)
{
	c->account = a;
	c->has_refresh_token = provauth_account_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL) != NULL;
	c->access_token = provauth_account_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL);
	c->access_expires_at = provauth_account_credential_expires(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL);
}

/* ---- ahead.c ---- */

/* pa_refresh_ahead past its first check: the account has a refresh token its provider can use. */
int pa_refresh_ahead_oauth(provauth_manager *m, pa_entry *e, pa_cached **cp, const char *context);
/*
 * Renews an OAuth access token ahead of expiry; *cp may be replaced by the
 * renewed session (or set to NULL when acquiring it failed). The first
 * check is inline: most accounts have nothing to renew, and every call
 * asks (the hot path is measured in instructions, bench/RESULTS.md).
 */
static inline int pa_refresh_ahead(provauth_manager *m, pa_entry *e, pa_cached **cp, const char *context)
{
	if (!(*cp)->plugin->vt.refresh || !(*cp)->has_refresh_token)
		return 0;
	return pa_refresh_ahead_oauth(m, e, cp, context);
}

#endif /* PA_SESSION_H */
