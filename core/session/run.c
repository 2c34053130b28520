/*
 * The public entry points of the session room: run_with_session(_ext),
 * which runs a caller's operation with the account's session and recovers
 * it once on a session error; provauth_account_reauth; and provauth_call,
 * a provider's named operation run the same way.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "manager.h"
#include "session.h"

/* Bytes of a failed recovery's message quoted in the operation's message. */
#define PA_REASON_MAX 640

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
	if (f->message && (pa_message_repeats_account_secret(f->message, c->account, NULL) ||
	                   pa_message_repeats_account_secret(f->message, pa_session_credentials_of(c), NULL))) {
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
	                                  PA_F_STR("error_code", o->error_code),
	                                  PA_F_STR("error_reason", o->error_reason) };
	const provauth_log_field fi[] = { PA_F_STR("account_id", account_id), PA_F_STR("reason", o->error_reason),
	                                  PA_F_STR("error_code", o->error_code) };

	pa_session_log(m, PROVAUTH_LOG_WARN, p, "session_error_detected", fd, PA_ARRAY_LEN(fd));
	if (o->should_invalidate_cache)
		pa_session_log(m, PROVAUTH_LOG_WARN, p, "session_invalidated", fi, PA_ARRAY_LEN(fi));
}

/*
 * What the failed renewal or recovery said, quoted in the operation's own
 * message (and stored as the health record's): cut so that the account,
 * provider and operation before it still fit.
 */
/* Whether the account's access token is still valid (only renewing it ahead failed). */
static int access_expiring_soon(provauth_manager *m, const provauth_account *a)
{
	int64_t expires = provauth_account_credential_expires(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL);

	return expires > 0 && pa_manager_now(m) < expires;
}

static void failure_reason(char reason[PA_REASON_MAX])
{
	snprintf(reason, PA_REASON_MAX, "%s", provauth_last_error());
}

static int run_with_session(provauth_manager *m, const char *account_id, const char *op_name,
                            provauth_operation_fn op, void *payload, int retry_on_session_error)
{
	provauth_failure f = { PROVAUTH_FAILURE_NONE, 0, 0, NULL, NULL, 0, -1 };
	provauth_outcome o;
	pa_recovery r;
	pa_cached *c = NULL;
	uint64_t failed_revision;
	pa_plugin *p;
	pa_entry *e;
	int rc, rrc;

	if (!m || !account_id || !*account_id || !op)
		return pa_error_set(PROVAUTH_EINVAL, "run_with_session: manager, account id and operation are required");
	if (!op_name)
		op_name = "operation";
	if (!(e = pa_entry_get(pa_manager_sessions(m), account_id)))
		return PROVAUTH_ENOMEM;
	if ((rc = pa_session_acquire(m, e, &c)) < 0)
		return rc;
	if ((rc = pa_refresh_ahead(m, e, &c, op_name)) < 0) {
		if (c) {
			char reason[PA_REASON_MAX];
			failure_reason(reason);
			/*
			 * A network, service, store or configuration fault leaves the
			 * account as it was: nothing is known about it.
			 */
			if (!pa_says_nothing_about_credentials(rc))
				pa_record_health(m, c->plugin, account_id, NULL, "invalid", "refresh_failed", "", reason);
			pa_error_set(rc, "account %s: %s %s failed: the %s access token was not renewed: %s",
			             account_id, c->plugin->vt.id, op_name,
			             access_expiring_soon(m, c->account) ? "soon expiring" : "expired", reason);
			pa_cached_release(c);
		}
		return rc;
	}
	p = c->plugin;

	rc = attempt(c, op, payload, &f);
	if (rc == 0)
		goto success;
	if (f.kind == PROVAUTH_FAILURE_NONE) {
		/* Nothing to classify: the operation's own error stands. */
		pa_cached_release(c);
		provauth_failure_clear(&f);
		return rc;
	}
	outcome_init(&o, &f);
	if (p->vt.classify_error(p->state, &f, &o) < 0)
		outcome_init(&o, &f);
	if (o.start_login_cooldown) {
		pa_provider_state *ps = pa_manager_provider_state(m, p);
		if (ps)
			atomic_store(&ps->login_cooldown_until, pa_manager_now(m) + pa_provider_cfg(p)->login_cooldown);
	}
	if (!o.is_session_error) {
		rc = set_op_error(p, account_id, op_name, "", &f, &o);
		pa_cached_release(c);
		provauth_failure_clear(&f);
		return rc;
	}
	if (o.should_invalidate_cache)
		pa_entry_evict(e, c);
	log_session_error(m, p, account_id, op_name, &o);
	if (!retry_on_session_error) {
		/* The caller handles the retry: judged and recorded, but nothing recovered. */
		pa_log_skipped(m, p, c->account, "retry_disabled", op_name);
		rc = o.result < 0 ? o.result : PROVAUTH_ESESSION;
		pa_record_health(m, p, account_id, c->account, "invalid", o.error_reason, o.error_code,
		                 "not recovered: the caller asked for no retry");
		pa_error_set(rc, "account %s: %s %s failed: session invalid (%s%s%s); not recovered, as the caller "
		             "asked (retry_on_session_error false)", account_id, p->vt.id, op_name, o.error_reason,
		             o.error_code[0] ? ", code " : "", o.error_code);
		pa_cached_release(c);
		provauth_failure_clear(&f);
		return rc;
	}
	memset(&r, 0, sizeof(r));
	r.kind = PA_RECOVER_AUTO;
	r.outcome = &o;
	r.context = op_name;
	rrc = pa_recover(m, e, p, c->account, &r);
	if (rrc < 0) {
		char reason[PA_REASON_MAX];
		failure_reason(reason);
		/*
		 * A recovery stopped by a network, service or store fault is that
		 * fault, and the account's health is not judged on it. Otherwise
		 * the session's own error stands.
		 */
		if (pa_says_nothing_about_credentials(rrc)) {
			rc = rrc;
		} else {
			rc = o.result < 0 ? o.result : PROVAUTH_ESESSION;
			pa_record_health(m, p, account_id, c->account, "invalid", o.error_reason, o.error_code, reason);
		}
		pa_error_set(rc, "account %s: %s %s failed: session invalid (%s%s%s) and not recovered: %s", account_id,
		             p->vt.id, op_name, o.error_reason, o.error_code[0] ? ", code " : "", o.error_code, reason);
		pa_cached_release(c);
		provauth_failure_clear(&f);
		return rc;
	}
	/* Retry once, never more, with a session newer than the one that failed. */
	failed_revision = c->account->revision;
	pa_cached_release(c);
	c = NULL;
	if ((rc = pa_session_acquire_newer(m, e, &c, failed_revision)) < 0) {
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
			pa_entry_evict(e, c);
			log_session_error(m, p, account_id, op_name, &o);
			pa_record_health(m, p, account_id, c->account, "invalid", o.error_reason, o.error_code,
			                 "the retry after recovery failed too");
		}
		rc = set_op_error(p, account_id, op_name, " after recovery", &f, &o);
	}
	pa_cached_release(c);
	provauth_failure_clear(&f);
	return rc;

success:
	if (c->health_invalid) {
		pa_record_health(m, p, account_id, NULL, "ok", NULL, NULL, NULL);
		pa_entry_evict(e, c);
	}
	pa_cached_release(c);
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
	if ((rc = pa_session_store_get(m, &a, id)) < 0) {
		if (rc == PROVAUTH_ENOTFOUND)
			return pa_error_set(rc, "account %s: not found in the %s store", id, pa_manager_store(m)->name);
		return rc;
	}
	if (!(p = pa_manager_plugin(m, a->provider))) {
		rc = pa_error_set(PROVAUTH_EPLUGIN, "account %s: provider '%s' is not loaded", id, a->provider);
		provauth_account_free(a);
		return rc;
	}
	if (!(e = pa_entry_get(pa_manager_sessions(m), id))) {
		provauth_account_free(a);
		return PROVAUTH_ENOMEM;
	}
	rc = pa_recover(m, e, p, a, &r);
	if (rc == 0)
		pa_record_health(m, p, id, NULL, "ok", NULL, NULL, NULL);
	else if (r.permanent)
		pa_record_health(m, p, id, NULL, "invalid", "reauth_failed", "", provauth_last_error());
	pa_entry_evict(e, NULL);
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
	pa_plugin *p = pa_manager_plugin(call->m, s->provider);
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
