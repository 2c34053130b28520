/*
 * A session built from the stored account: the host fills in what the
 * account holds, the provider's build_session derives the rest (ids,
 * tokens from cookies), and whatever the build changed is stored before
 * the session is used, through the one read-modify-write loop.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "manager.h"
#include "session.h"

typedef struct pa_build {
	provauth_manager *m;
	const char *id;
	pa_cached *c;                /* the session built from the latest read */
} pa_build;

/*
 * Where the session's JWT came from, for the build_session log event:
 * "none", the account's own ("account"), one of its cookies ("cookies",
 * Pixverse's token cookie) or elsewhere ("build_session").
 */
static const char *jwt_source(const pa_cached *c)
{
	const char *jwt = provauth_session_credential(&c->s, PROVAUTH_CRED_JWT, NULL);
	provauth_credential cred;
	size_t i;

	if (!jwt)
		return "none";
	if (pa_streq(jwt, provauth_account_credential(c->built_from, PROVAUTH_CRED_JWT, NULL)))
		return "account";
	for (i = 0; provauth_account_credential_at(&cred, c->built_from, i) == 0; i++)
		if (strcmp(cred.kind, PROVAUTH_CRED_COOKIE) == 0 && strcmp(cred.value, jwt) == 0)
			return "cookies";
	return "build_session";
}

/* 1 when the session holds a credential of `kind` (of any name). */
static int has_kind(const provauth_session *s, const char *kind)
{
	size_t i;

	for (i = 0; i < s->credential_count; i++)
		if (strcmp(s->credentials[i].kind, kind) == 0)
			return 1;
	return 0;
}

/*
 * One build from a fresh read `a`: the session points into a snapshot of
 * it, and `a` takes the build's update to be stored. A build that changed
 * nothing stores nothing.
 */
static int build_from(provauth_account *a, void *payload)
{
	pa_build *b = payload;
	provauth_account *acct = NULL;
	provauth_update *upd = NULL;
	pa_plugin *p;
	pa_cached *c;
	int rc;

	/* A lost race: build again from what the other writer stored. */
	pa_cached_free(b->c);
	b->c = NULL;
	if (!(p = pa_manager_plugin(b->m, a->provider)))
		return pa_error_set(PROVAUTH_EPLUGIN, "account %s: provider '%s' is not loaded (see 'provauth plugins')",
		                    b->id, a->provider);
	if ((rc = provauth_account_dup(&acct, a)) < 0)
		return rc;
	if (!(c = calloc(1, sizeof(*c))) || pa_update_new(&upd) < 0) {
		free(c);
		provauth_account_free(acct);
		return pa_error_oom();
	}
	atomic_init(&c->refs, 1);
	c->built_from = acct;
	pa_cached_set_account(c, acct);
	c->plugin = p;
	c->s.account_id = acct->id;
	c->s.provider = acct->provider;
	c->s.email = acct->email;
	if ((rc = pa_session_lend_credentials(c, acct)) < 0) {
		pa_update_free(upd);
		pa_cached_free(c);
		return rc;
	}
	c->s.auth_method = provauth_account_auth_method(acct);
	c->s.metadata = pa_account_metadata(acct);
	c->health_invalid = pa_streq(acct->state.health.state, "invalid");

	rc = p->vt.build_session(p->state, acct, &c->s, upd);
	if (rc < 0) {
		pa_error_scrub(rc, acct, NULL);
		if (c->creds)
			pa_error_scrub(rc, c->creds, NULL);  /* and what the build set */
		pa_update_free(upd);
		pa_cached_free(c);
		return pa_error_prefix(rc, "account %s: %s could not build a session", b->id, p->vt.id);
	}
	b->c = c;
	if (pa_update_is_empty(upd)) {
		pa_update_free(upd);
		return PA_RMW_UNCHANGED;
	}
	rc = pa_update_apply(upd, a);
	pa_update_free(upd);
	return rc;
}

/*
 * Builds a session from the stored account. Credentials the build changed
 * are stored version-checked; when someone else wrote first, the build
 * starts again from what they stored.
 */
int pa_session_build(provauth_manager *m, const char *id, pa_cached **out)
{
	pa_build b = { m, id, NULL };
	pa_account_rmw_op op = { 0 };
	pa_cached *c;
	int rc;

	*out = NULL;
	op.store = pa_manager_store(m);
	op.id = id;
	op.change = build_from;
	op.payload = &b;
	op.keep = 1;
	rc = pa_account_rmw(&op);
	if (rc < 0 && op.stage == PA_RMW_READ) {
		pa_cached_free(b.c);
		if (rc == PROVAUTH_ENOTFOUND)
			return pa_error_set(rc, "account %s: not found in the %s store", id, op.store->name);
		return pa_error_prefix(rc, "account %s", id);
	}
	if (rc == PROVAUTH_ECONFLICT && op.stage == PA_RMW_WRITE) {
		pa_cached_free(b.c);
		return pa_error_set(PROVAUTH_ECONFLICT, "account %s: changed %d times while its session was built",
		                    id, op.attempts);
	}
	if (rc < 0 && op.stage == PA_RMW_CHANGE) {
		/* build_from freed what it built, or kept it in b.c for the next try. */
		pa_cached_free(b.c);
		return rc;
	}
	c = b.c;
	if (rc < 0) {
		/* What the build derived came from stored data: nothing is lost by not storing it. */
		const provauth_log_field f[] = { PA_F_STR("account_id", id), PA_F_STR("error", provauth_last_error()) };
		pa_session_log(m, PROVAUTH_LOG_WARN, c->plugin, "build_session_not_persisted", f, PA_ARRAY_LEN(f));
	} else if (op.kept && op.stage == PA_RMW_WRITE) {
		pa_cached_set_account(c, op.kept);
		/* The operation sees what is stored now: ids or flags the build just derived too. */
		c->s.metadata = pa_account_metadata(op.kept);
	} else {
		provauth_account_free(op.kept);
	}
	{
		const provauth_log_field f[] = {
			PA_F_STR("account_id", id),
			PA_F_STR("jwt_source", jwt_source(c)),
			PA_F_STR("auth_method", provauth_auth_method_name(c->s.auth_method)),
			PA_F_BOOL("has_cookies", has_kind(&c->s, PROVAUTH_CRED_COOKIE)),
			PA_F_BOOL("has_openapi_key",
			          provauth_session_credential(&c->s, PROVAUTH_CRED_API_KEY, "openapi") != NULL),
		};
		pa_session_log(m, PROVAUTH_LOG_INFO, c->plugin, "build_session", f, PA_ARRAY_LEN(f));
	}
	*out = c;
	return 0;
}
