/*
 * Persistence and health records: what a recovery obtained is stored
 * before anyone uses it, with the manager's own notes (session health,
 * auth method, last reauth, the mark of a refused refresh token), each
 * through the one read-modify-write loop (pa_account_rmw). Writing these
 * never replaces the error the caller is about to see.
 */
#include "config.h"
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "manager.h"
#include "session.h"

typedef struct pa_persist_change {
	const provauth_update *upd;
	const pa_extra *x;
	provauth_store *store;
	const char *id;
	const provauth_account *seed; /* the first read, when the caller has just read it under the lease */
} pa_persist_change;

/* The account to change: the caller's fresh copy the first time, the store's after a lost race. */
static int persist_read(provauth_account **out, void *payload)
{
	pa_persist_change *pc = payload;
	const provauth_account *seed = pc->seed;

	pc->seed = NULL;
	if (seed)
		return provauth_account_dup(out, seed);
	return pc->store->get(pc->store, out, pc->id);
}

/*
 * Whether `a` still holds the session `about` was read with: the same JWT
 * and access token. A login or refresh elsewhere changes one of them; what
 * a failed recovery of this process may store (metadata, a cleared
 * password, a refused token's mark) does not.
 */
static int same_session(const provauth_account *a, const provauth_account *about)
{
	return pa_streq(provauth_account_credential(a, PROVAUTH_CRED_JWT, NULL),
	                provauth_account_credential(about, PROVAUTH_CRED_JWT, NULL)) &&
	       pa_streq(provauth_account_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL),
	                provauth_account_credential(about, PROVAUTH_CRED_ACCESS_TOKEN, NULL));
}

static int persist_change(provauth_account *a, void *payload)
{
	const pa_persist_change *pc = payload;
	const provauth_update *upd = pc->upd;
	const pa_extra *x = pc->x;
	const provauth_health *h = x ? x->health : NULL;
	int rc;

	if (h && x->about && !same_session(a, x->about)) {
		/* Newer credentials are stored: the health was about a session that is gone. */
		h = NULL;
		if (!upd && !x->password && !x->set_password_method && x->last_reauth_at <= 0)
			return PA_RMW_UNCHANGED;
	}
	if ((upd && (rc = pa_update_apply(upd, a)) < 0) ||
	    (h && (rc = pa_health_set(&a->state.health, h->state, h->reason, h->code, h->at, h->message)) < 0) ||
	    (x && x->password &&
	     (rc = provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, x->password, 0)) < 0))
		return rc;
	if (x && x->set_password_method)
		a->state.auth_method = PROVAUTH_AUTH_PASSWORD;
	if (x && x->last_reauth_at > 0)
		a->state.last_reauth_at = x->last_reauth_at;
	return 0;
}

/*
 * Applies the provider's update plus the manager's own changes to the
 * newest stored copy (the caller's `seed` when it has one) and stores it,
 * re-applying on version conflicts: the update holds the newest credentials
 * (we hold the recovery), so it must win.
 */
int pa_persist(provauth_manager *m, const char *id, const provauth_account *seed, const provauth_update *upd,
               const pa_extra *x)
{
	pa_persist_change pc = { upd, x, pa_manager_store(m), id, seed };
	pa_account_rmw_op op = { 0 };
	int rc;

	op.store = pc.store;
	op.id = id;
	op.read = persist_read;
	op.change = persist_change;
	op.payload = &pc;
	rc = pa_account_rmw(&op);
	if (rc == PROVAUTH_ECONFLICT && op.stage == PA_RMW_WRITE)
		return pa_error_set(PROVAUTH_ECONFLICT, "account %s: kept changing while recovered credentials were "
		                    "stored", id);
	if (rc < 0 && op.stage == PA_RMW_READ)
		return pa_error_prefix(rc, "account %s", id);
	if (rc < 0 && op.stage == PA_RMW_WRITE)
		return pa_error_prefix(rc, "account %s: could not store credentials", id);
	return rc;
}

/* 1 when the stored health already says this (same state, reason and code). */
static int health_unchanged(provauth_manager *m, const char *id, const char *state, const char *reason,
                            const char *code)
{
	provauth_account *a = NULL;
	const provauth_health *h;
	int same;

	if (pa_session_store_get(m, &a, id) < 0)
		return 0;
	h = &a->state.health;
	same = h->state && pa_streq(h->state, state) && (!reason || pa_streq(h->reason, reason)) &&
	       (!code || !*code || pa_streq(h->code, code));
	provauth_account_free(a);
	return same;
}

void pa_record_health(provauth_manager *m, const pa_plugin *p, const char *id, const provauth_account *about,
                      const char *state, const char *reason, const char *code, const char *message)
{
	provauth_health h = { NULL, NULL, NULL, 0, NULL };
	pa_extra x = { NULL, 0, NULL, 0, NULL };
	char shown[PA_HEALTH_MESSAGE_MAX];
	pa_error_saved caller_error;

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

		if (pa_session_store_get(m, &a, id) < 0 || pa_message_repeats_account_secret(message, a, NULL))
			message = a ? PA_TEXT_WITHHELD : "(message not stored: the account could not be read)";
		provauth_account_free(a);
		snprintf(shown, sizeof(shown), "%s", message);
		for (i = 0; shown[i]; i++)
			if ((unsigned char)shown[i] < 0x20 || shown[i] == 0x7f)
				shown[i] = ' ';
		message = shown;
	}
	/* Borrowed strings: persist_change copies them into the stored account. */
	h.state = (char *)state;
	h.reason = (char *)reason;
	h.code = code && *code ? (char *)code : NULL;
	h.at = pa_manager_now(m);
	h.message = (char *)message;
	x.health = &h;
	x.about = about;
	/* Recording health must not replace the error the caller is about to see. */
	pa_error_save(&caller_error, PROVAUTH_OK);
	if (pa_persist(m, id, NULL, NULL, &x) < 0) {
		const provauth_log_field f[] = { PA_F_STR("account_id", id), PA_F_STR("error", provauth_last_error()) };
		pa_session_log(m, PROVAUTH_LOG_WARN, p, "session_health_not_stored", f, PA_ARRAY_LEN(f));
	} else {
		const provauth_log_field f[] = { PA_F_STR("account_id", id), PA_F_STR("state", state),
		                                 PA_F_STR("reason", reason ? reason : "") };
		pa_session_log(m, PROVAUTH_LOG_INFO, p, "session_health_changed", f, PA_ARRAY_LEN(f));
	}
	pa_error_restore(&caller_error);
}

/* Between tries to store issued credentials: doubling from 50 ms, at most 1 s. */
#define PA_PERSIST_RETRY_FIRST_MS 50
#define PA_PERSIST_RETRY_MAX_MS 1000

/*
 * New credentials the provider issued but the store refused for a reason
 * that passes (a database restarting, a connection cut: PROVAUTH_EIO or
 * ETIMEOUT) are tried again until session.recovery_wait_ms, the time
 * callers wait for a recovery anyway: the provider may have revoked what
 * the store holds (a rotated refresh token), so losing them can leave the
 * account dead. Trying again is safe: the write is revision-checked, and
 * one that did commit before its connection broke only makes the next try
 * re-read and write the same credentials again.
 */
static int persist_issued_again(provauth_manager *m, const char *id, const provauth_update *upd,
                                const pa_extra *x, int prc)
{
	int64_t deadline = pa_monotonic_ms() + pa_manager_session_settings(m)->recovery_wait_ms;
	int64_t pause_ms = PA_PERSIST_RETRY_FIRST_MS;
	int tries = 1;

	while ((prc == PROVAUTH_EIO || prc == PROVAUTH_ETIMEOUT) && pa_monotonic_ms() + pause_ms < deadline) {
		struct timespec ts = { (time_t)(pause_ms / 1000), (long)(pause_ms % 1000) * 1000000L };
		const provauth_log_field f[] = { PA_F_STR("account_id", id), PA_F_INT("try", tries),
		                                 PA_F_STR("error", provauth_last_error()) };

		pa_session_log(m, PROVAUTH_LOG_WARN, NULL, "credentials_store_retry", f, PA_ARRAY_LEN(f));
		nanosleep(&ts, NULL);
		pause_ms = pause_ms * 2 > PA_PERSIST_RETRY_MAX_MS ? PA_PERSIST_RETRY_MAX_MS : pause_ms * 2;
		prc = pa_persist(m, id, NULL, upd, x);
		tries++;
	}
	return prc;
}

/*
 * Stores what a refresh or login brought back (even alongside its failure)
 * before anyone uses it. The step's own message survives a write that works;
 * a write that fails replaces it, being the error that matters then.
 */
int pa_persist_step(provauth_manager *m, const char *id, const provauth_account *seed, const provauth_update *upd,
                    const pa_extra *x, int rc)
{
	pa_error_saved step_error, write_error;
	int prc;

	if (pa_update_is_empty(upd) && (!x || (!x->set_password_method && !x->password)))
		return 0;
	pa_error_save(&step_error, rc);
	prc = pa_persist(m, id, seed, upd, x);
	if (prc < 0 && rc == 0 && !pa_update_is_empty(upd))
		prc = persist_issued_again(m, id, upd, x, prc);
	if (prc == 0)
		pa_error_restore(&step_error);
	else if (rc == 0 && !pa_update_is_empty(upd)) {
		/*
		 * The provider has already issued them and may have revoked what
		 * the store still holds (a rotated refresh token, a superseded
		 * login): the caller must learn that the account may need help.
		 */
		const provauth_log_field f[] = { PA_F_STR("account_id", id), PA_F_STR("error", provauth_last_error()) };
		/* Logged too: a caller whose old access token still works never sees this error. */
		pa_session_log(m, PROVAUTH_LOG_ERROR, NULL, "credentials_not_stored", f, PA_ARRAY_LEN(f));
		pa_error_save(&write_error, prc);
		pa_error_set(prc, "%s; the provider issued new credentials, which were not used since they could not "
		             "be stored: if it revoked the stored ones, the account needs new credentials once the "
		             "store is writable", write_error.msg);
	}
	return prc;
}

typedef struct pa_refused_change {
	const char *refresh_token;   /* the token refused */
	const char *mark;            /* its digest, for state.refresh_refused */
	int64_t at;                  /* when it was refused */
} pa_refused_change;

static int mark_refused(provauth_account *now, void *payload)
{
	const pa_refused_change *x = payload;

	/* New credentials meanwhile: the mark would name a token the account no longer holds. */
	if (!pa_streq(provauth_account_credential(now, PROVAUTH_CRED_REFRESH_TOKEN, NULL), x->refresh_token))
		return PA_RMW_UNCHANGED;
	if (pa_set_string(&now->state.refresh_refused, x->mark) < 0)
		return pa_error_oom();
	now->state.refresh_refused_at = x->at;
	return 0;
}

/*
 * Stores the mark of a refresh token refused for good, unless the stored
 * credentials moved on meanwhile. A mark that cannot be stored only costs
 * one more refusal in the next process: the refusal's message stands.
 */
void pa_mark_refresh_refused(provauth_manager *m, const provauth_account *a)
{
	pa_refused_change change = { provauth_account_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL), NULL, 0 };
	pa_account_rmw_op op = { 0 };
	pa_error_saved refusal;
	char *mark;

	if (!change.refresh_token || !(mark = pa_refresh_refused_mark(change.refresh_token)))
		return;
	change.at = pa_manager_now(m);
	pa_error_save(&refusal, PROVAUTH_OK);
	change.mark = mark;
	op.store = pa_manager_store(m);
	op.id = a->id;
	op.change = mark_refused;
	op.payload = &change;
	/* Whatever the outcome, the refusal's message stands (see above). */
	(void)pa_account_rmw(&op);
	free(mark);
	pa_error_restore(&refusal);
}
