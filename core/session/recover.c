/*
 * The recovery ladder: when a session fails, (a) reuse credentials someone
 * else already stored, (b) renew without a password (an OAuth refresh
 * token, or the provider's refresh from its cookies), (c) log in with a
 * password where the account and the settings allow it. One recovery per
 * account runs at a time: in this process the entry's single flight
 * (pa_recover), across processes the store's lease (lease_or_wait).
 */
#include "config.h"
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "manager.h"
#include "session.h"

/* A failed recovery is reused by callers that failed on the same credentials for this long. */
#define PA_FAILURE_MEMO_MS 30000
/*
 * How often waiters poll a store that cannot wake them (no lease_wait, or
 * one that failed) while another process holds the lease.
 */
#define PA_LEASE_POLL_MS 25
/*
 * Bytes of each step's message quoted when two are told together (a
 * refresh that failed, then a login skipped): both fit in one message.
 */
#define PA_STEP_MESSAGE_MAX 511

/* 1 when the store holds different credentials than `used`: someone already recovered. */
static int store_has_newer(provauth_manager *m, const char *id, const provauth_account *used)
{
	provauth_account *now = NULL;
	int newer;

	if (pa_session_store_get(m, &now, id) < 0)
		return 0;
	newer = !pa_session_same_credentials(now, used);
	provauth_account_free(now);
	return newer;
}

void pa_log_skipped(provauth_manager *m, const pa_plugin *p, const provauth_account *a,
                        const char *reason, const char *context)
{
	const provauth_log_field f[] = {
		PA_F_STR("account_id", a->id),
		PA_F_STR("auth_method", provauth_auth_method_name(provauth_account_auth_method(a))),
		PA_F_STR("reason", reason),
		PA_F_STR("context", context),
	};
	pa_session_log(m, PROVAUTH_LOG_INFO, p, "auto_reauth_skipped", f, PA_ARRAY_LEN(f));
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
	pa_session_log(m, PROVAUTH_LOG_INFO, p, "session_recovered", f, PA_ARRAY_LEN(f));
}

/*
 * A failure that says nothing about the account's credentials: the network
 * or the provider's service failed (the caller tries again later), or the
 * store could not save what a step obtained (the store needs fixing, and
 * would refuse a health record too). Neither judges the account's health
 * nor advises new credentials.
 */
int pa_says_nothing_about_credentials(int rc)
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


static int step_refresh(provauth_manager *m, pa_entry *e, pa_plugin *p, const provauth_account *a,
                        pa_recovery *r)
{
	provauth_update *upd = NULL;
	int rc, prc;

	pthread_mutex_lock(&e->mu);
	rc = e->refresh_dead && pa_session_same_credentials(e->refresh_dead, a);
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
		pa_session_log(m, PROVAUTH_LOG_INFO, p, "refresh_attempt", f, PA_ARRAY_LEN(f));
	}
	r->attempted = 1;
	rc = p->vt.refresh(p->state, a, upd);
	if (rc > 0)
		rc = PROVAUTH_ERROR;
	pa_error_scrub(rc, a, NULL);
	/* `a` was read under the lease just before the request: the write starts from it. */
	prc = pa_persist_step(m, a->id, a, upd, NULL, rc);
	pa_update_free(upd);
	if (rc == 0 && prc < 0)
		rc = prc; /* a token we could not save is never handed out */
	{
		const provauth_log_field f[] = { PA_F_STR("account_id", a->id), PA_F_BOOL("success", rc == 0),
		                                 PA_F_STR("context", r->context),
		                                 PA_F_STR("error", rc < 0 ? provauth_last_error() : "") };
		pa_session_log(m, rc == 0 ? PROVAUTH_LOG_INFO : PROVAUTH_LOG_WARN, p, "refresh_completed", f, PA_ARRAY_LEN(f));
	}
	if (rc == PROVAUTH_EAUTH) {
		provauth_account *dead = NULL;
		r->permanent = 1;
		pa_mark_refresh_refused(m, a);
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
	const pa_provider_settings *cfg = pa_provider_cfg(p);
	const char *password;
	provauth_update *upd = NULL;
	int64_t now = pa_manager_now(m), last;
	pa_extra x = { NULL, 0, NULL, 0, NULL };
	int rc, prc;

	if (!p->vt.try_reauth) {
		r->skip_reason = "unsupported";
		return pa_error_set(PROVAUTH_EUNSUPPORTED,
		                    "account %s: provider %s has no password login; "
		                    "supply new credentials (e.g. a new refresh token)",
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
		last = a->state.last_reauth_at;
		if (cfg->reauth_cooldown > 0 && last > 0 && now - last < cfg->reauth_cooldown) {
			r->skip_reason = "cooldown";
			return pa_error_set(PROVAUTH_ECOOLDOWN,
			                    "account %s: last password login was %llds ago; the reauth cooldown is %llds",
			                    a->id, (long long)(now - last), (long long)cfg->reauth_cooldown);
		}
	}
	password = r->password ? r->password : provauth_account_credential(a, PROVAUTH_CRED_PASSWORD, NULL);
	if (!password)
		password = cfg->global_password;
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
		pa_session_log(m, PROVAUTH_LOG_INFO, p, "auto_reauth_attempt", f, PA_ARRAY_LEN(f));
	}
	/* The attempt counts for the cooldown even if we crash before it ends. */
	x.last_reauth_at = now;
	if ((rc = pa_persist(m, a->id, NULL, NULL, &x)) < 0)
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
	prc = pa_persist_step(m, a->id, NULL, upd, &x, rc); /* `a` is older than the attempt's time stamp */
	pa_update_free(upd);
	if (rc == 0 && prc < 0)
		rc = prc;
	if (rc == PROVAUTH_EAUTH)
		r->permanent = 1;
	{
		const provauth_log_field f[] = { PA_F_STR("account_id", a->id), PA_F_BOOL("success", rc == 0),
		                                 PA_F_STR("context", r->context),
		                                 PA_F_STR("error", rc < 0 ? provauth_last_error() : "") };
		pa_session_log(m, rc == 0 ? PROVAUTH_LOG_INFO : PROVAUTH_LOG_WARN, p, "auto_reauth_completed", f,
		               PA_ARRAY_LEN(f));
	}
	return rc;
}

/*
 * Sleeps until the lease may be free or the account may have changed: the
 * store's lease_wait when it has one (woken by the store, not polling),
 * else one poll interval.
 */
static void wait_for_lease(provauth_store *st, const char *id, int64_t deadline_ms)
{
	struct timespec ts = { 0, PA_LEASE_POLL_MS * 1000000L };
	int64_t left = deadline_ms - pa_monotonic_ms();
	int rc;

	/* Its message, if any, is never the one a caller sees: lease_or_wait sets its own. */
	if (st->version >= 4 && st->lease_wait && left > 0) {
		rc = st->lease_wait(st, id, left);
		/* Woken, or out of time: either way the caller looks again. A failed wait falls back to polling. */
		if (rc == 0 || rc == PROVAUTH_EBUSY)
			return;
	}
	nanosleep(&ts, NULL);
}

/*
 * Holds the store lease for the account, or waits until the process that
 * holds it stores new credentials (returns 1) or the wait runs out. A
 * renewal ahead of expiry (REFRESH_ONLY) does not wait: the token it has
 * still works and another process is renewing it, as a thread of this one
 * would (pa_recover). A keeper's worker then moves on to the next account
 * instead of queueing behind another daemon's.
 */
static int lease_or_wait(provauth_manager *m, const provauth_account *used, int64_t deadline_ms,
                         pa_recovery_kind kind)
{
	int64_t ttl = pa_manager_session_settings(m)->lease_ttl_ms;
	provauth_store *st = pa_manager_store(m);
	int rc;

	for (;;) {
		rc = st->lease_acquire ? st->lease_acquire(st, used->id, pa_manager_owner(m), ttl) : 0;
		if (rc == 0)
			return 0;
		if (rc != PROVAUTH_EBUSY)
			return pa_error_prefix(rc, "account %s: recovery lease", used->id);
		if (store_has_newer(m, used->id, used))
			return 1;
		if (kind == PA_RECOVER_REFRESH_ONLY)
			return pa_error_set(PROVAUTH_EBUSY, "account %s: another process is renewing it", used->id);
		if (pa_monotonic_ms() >= deadline_ms)
			return pa_error_set(PROVAUTH_EBUSY,
			                    "account %s: another process is recovering this session and did not finish in time",
			                    used->id);
		wait_for_lease(st, used->id, deadline_ms);
	}
}

/*
 * Gives the lease back. A release that fails (the lease then just expires)
 * must not replace the message of the recovery's own outcome.
 */
static void lease_release(provauth_manager *m, pa_entry *e)
{
	provauth_store *st = pa_manager_store(m);
	pa_error_saved outcome;

	/*
	 * Only the thread running the entry's recovery holds the lease (the
	 * flag is its own to clear, so reading it here races with nobody).
	 */
	assert(e->recovering);
	pa_error_save(&outcome, PROVAUTH_OK);
	if (st->lease_release && st->lease_release(st, e->id, pa_manager_owner(m)) < 0) {
		const provauth_log_field f[] = { PA_F_STR("account_id", e->id), PA_F_STR("error", provauth_last_error()) };
		pa_session_log(m, PROVAUTH_LOG_WARN, NULL, "lease_not_released", f, PA_ARRAY_LEN(f));
	}
	/* Restored whatever the store answered: a release that succeeded may still have set a message. */
	pa_error_restore(&outcome);
}

/* The ladder itself, run by the one thread that owns the account's recovery. */
static int recover_locked(provauth_manager *m, pa_entry *e, pa_plugin *p, const provauth_account *used,
                          pa_recovery *r)
{
	int64_t deadline = pa_monotonic_ms() + pa_manager_session_settings(m)->recovery_wait_ms;
	provauth_account *a = NULL;
	const char *refresh_step, *refresh_token;
	int rc, leased, refreshed = 0, cookie_refresh_off = 0;

	assert(e->recovering);

	/*
	 * (a) Someone (thread or process) already stored newer credentials:
	 * seen in the read under the lease below, or by lease_or_wait while
	 * another process holds it. A read before the lease would only repeat
	 * that one, on every recovery.
	 */
	if ((leased = lease_or_wait(m, used, deadline, r->kind)) < 0)
		return leased;
	if (leased == 1)
		goto reused;
	if ((rc = pa_session_store_get(m, &a, e->id)) < 0) {
		lease_release(m, e);
		return pa_error_prefix(rc, "account %s", e->id);
	}
	/* The lease holder before us may have finished just before we got it. */
	if (r->kind != PA_RECOVER_EXPLICIT && !pa_session_same_credentials(a, used)) {
		provauth_account_free(a);
		lease_release(m, e);
		goto reused;
	}
	rc = PROVAUTH_EUNSUPPORTED;
	/* Without a refresh token the provider's refresh renews the session from its cookies. */
	refresh_token = provauth_account_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL);
	refresh_step = refresh_token && *refresh_token ? "refresh" : "cookie_refresh";
	if (r->kind != PA_RECOVER_EXPLICIT && p->vt.refresh && !refresh_token && !pa_provider_cfg(p)->cookie_refresh) {
		const provauth_log_field f[] = {
			PA_F_STR("account_id", a->id),
			PA_F_STR("auth_method", provauth_auth_method_name(provauth_account_auth_method(a))),
			PA_F_STR("reason", "cookie_refresh_disabled"),
			PA_F_STR("context", r->context),
		};
		pa_session_log(m, PROVAUTH_LOG_INFO, p, "refresh_skipped", f, PA_ARRAY_LEN(f));
		cookie_refresh_off = 1;
	}
	/* (b) Renew without a password. */
	if (r->kind != PA_RECOVER_EXPLICIT && p->vt.refresh && !cookie_refresh_off) {
		char *sent = refresh_token && *refresh_token ? pa_strdup(refresh_token) : NULL;
		int rotated_meanwhile;

		refreshed = 1;
		rc = step_refresh(m, e, p, a, r);
		if (rc == 0)
			r->step = refresh_step;
		/* A configuration error is not fixed by another step, and a password login would hide it. */
		if (rc == 0 || r->kind == PA_RECOVER_REFRESH_ONLY || rc == PROVAUTH_ECONFIG) {
			pa_secret_free(sent);
			goto out;
		}
		provauth_account_free(a);
		a = NULL;
		if (pa_session_store_get(m, &a, e->id) < 0) { /* the failed refresh may have stored metadata */
			pa_secret_free(sent);
			goto out;
		}
		/*
		 * Refused, and the store now holds another refresh token: this
		 * process lost its lease during the refresh (its connection cut,
		 * the TTL passed) and the next holder rotated the token first.
		 * Theirs is the one to use, not a password login.
		 */
		rotated_meanwhile = rc == PROVAUTH_EAUTH && sent && !pa_session_same_credentials(a, used) &&
		                    !pa_streq(provauth_account_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL), sent);
		pa_secret_free(sent);
		if (rotated_meanwhile) {
			provauth_account_free(a);
			lease_release(m, e);
			goto reused;
		}
	}
	if (r->kind == PA_RECOVER_REFRESH_ONLY) {
		r->skip_reason = "no_refresh";
		rc = pa_error_set(PROVAUTH_EUNSUPPORTED, "account %s: %s cannot refresh", e->id, p->vt.id);
		goto out;
	}
	/* (c) Password login, where allowed. */
	{
		pa_error_saved refresh_error, skip_error;
		int refresh_rc = rc;
		pa_error_save(&refresh_error, refresh_rc);
		rc = step_password(m, p, a, r);
		if (rc == 0)
			r->step = "password_login";
		if (rc < 0 && r->skip_reason) {
			pa_log_skipped(m, p, a, r->skip_reason, r->context);
			/*
			 * Nothing was attempted after the refresh: its failure leads the
			 * story. After a network, service or store fault, advice to supply
			 * new credentials would be wrong: the refresh alone is reported.
			 * A refresh token refused for good already says what to supply;
			 * a provider without password login adds nothing to that.
			 */
			if (refreshed && refresh_rc < 0 && (pa_says_nothing_about_credentials(refresh_rc) ||
			                                    (refresh_rc == PROVAUTH_EAUTH && !p->vt.try_reauth))) {
				rc = pa_error_set(refresh_rc, "%.*s", PA_STEP_MESSAGE_MAX, refresh_error.msg);
			} else if (cookie_refresh_off) {
				pa_error_save(&skip_error, rc);
				rc = pa_error_set(rc, "%.*s; the cookie refresh is off (providers.%s.cookie_refresh: false)",
				                  PA_STEP_MESSAGE_MAX, skip_error.msg, p->vt.id);
			} else if (refreshed && refresh_rc < 0) {
				pa_error_save(&skip_error, rc);
				rc = pa_error_set(refresh_rc, "%.*s; %.*s", PA_STEP_MESSAGE_MAX, refresh_error.msg,
				                  PA_STEP_MESSAGE_MAX, skip_error.msg);
			}
		}
	}
out:
	/* Ahead of expiry nothing was lost: a renewal, not a recovery. */
	if (rc == 0 && r->step && r->kind != PA_RECOVER_REFRESH_ONLY)
		log_recovered(m, p, e->id, a, r->step, r->context);
	provauth_account_free(a);
	lease_release(m, e);
	return rc;
reused:
	{
		const provauth_log_field f[] = { PA_F_STR("account_id", e->id), PA_F_STR("context", r->context) };
		pa_session_log(m, PROVAUTH_LOG_INFO, p, "session_reused_stored", f, PA_ARRAY_LEN(f));
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
int pa_recover(provauth_manager *m, pa_entry *e, pa_plugin *p, const provauth_account *used,
                   pa_recovery *r)
{
	int64_t wait_ms = pa_manager_session_settings(m)->recovery_wait_ms;
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
	if (r->kind != PA_RECOVER_EXPLICIT && e->cached && !pa_session_same_credentials(e->cached->account, used)) {
		pthread_mutex_unlock(&e->mu);
		r->step = "stored_credentials";
		if (r->kind != PA_RECOVER_REFRESH_ONLY)
			log_recovered(m, p, e->id, used, r->step, r->context);
		return 0;
	}
	/* A recovery from these same credentials failed moments ago: do not storm. */
	if (r->kind != PA_RECOVER_EXPLICIT && e->failed_on && pa_session_same_credentials(e->failed_on, used) &&
	    pa_monotonic_ms() - e->failed_at_ms < PA_FAILURE_MEMO_MS && e->last_rc < 0) {
		pa_error_saved last;
		/* Copied under the lock: the next recovery replaces last_msg. */
		last.code = e->last_rc;
		snprintf(last.msg, sizeof(last.msg), "%s", e->last_msg ? e->last_msg : provauth_strerror(last.code));
		pthread_mutex_unlock(&e->mu);
		/* Said like every other skip, so a caller sees why nothing was tried this time. */
		pa_log_skipped(m, p, used, "recent_failure", r->context);
		return pa_error_restore(&last);
	}
	e->recovering = 1;
	pthread_mutex_unlock(&e->mu);

	rc = recover_locked(m, e, p, used, r);
	if (rc == 0)
		pa_entry_evict(e, NULL);

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

