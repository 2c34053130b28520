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
 * The session's cookies (ABI 2.0's provauth_session still has a cookie
 * array): the account's cookie credentials, names and values borrowed from
 * it. The array is c->pre_cookies, freed with the session.
 */
static int lend_cookies(pa_cached *c, const provauth_account *acct)
{
	provauth_cookie *jar = NULL;
	provauth_credential cred;
	size_t i, n = provauth_account_credential_count(acct), count = 0;

	for (i = 0; i < n; i++) {
		if (provauth_account_credential_at(&cred, acct, i) < 0 || strcmp(cred.kind, PROVAUTH_CRED_COOKIE) != 0)
			continue;
		if (!jar && !(jar = calloc(n, sizeof(*jar))))
			return pa_error_oom();
		/* Borrowed: the host frees only what a plugin put in their place. */
		jar[count].name = (char *)cred.name;
		jar[count].value = (char *)cred.value;
		count++;
	}
	c->s.cookies = c->pre_cookies = jar;
	c->s.cookie_count = count;
	return 0;
}

/*
 * Until every plugin sets session credentials through the host, what a
 * build put into the Pixverse-shaped fields is copied into the session's
 * credentials too, so that both say the same.
 */
static int mirror_fields(pa_cached *c)
{
	provauth_credential cred;
	size_t i;
	int rc = 0;

	if (c->s.jwt_token != c->pre_jwt)
		rc = pa_session_set_credential(&c->s, PROVAUTH_CRED_JWT, NULL, c->s.jwt_token, 0);
	if (rc == 0 && c->s.openapi_key != c->pre_openapi)
		rc = pa_session_set_credential(&c->s, PROVAUTH_CRED_API_KEY, "openapi", c->s.openapi_key, 0);
	if (rc == 0 && c->s.access_token != c->pre_access)
		rc = pa_session_set_credential(&c->s, PROVAUTH_CRED_ACCESS_TOKEN, NULL, c->s.access_token,
		                               c->s.access_expires_at);
	if (rc < 0 || c->s.cookies == c->pre_cookies)
		return rc;
	for (i = 0; provauth_account_credential_at(&cred, c->creds, i) == 0;)
		if (strcmp(cred.kind, PROVAUTH_CRED_COOKIE) != 0)
			i++;
		else if ((rc = pa_session_set_credential(&c->s, cred.kind, cred.name, NULL, 0)) < 0)
			return rc;
	for (i = 0; i < c->s.cookie_count; i++)
		if ((rc = pa_session_set_credential(&c->s, PROVAUTH_CRED_COOKIE, c->s.cookies[i].name,
		                                    c->s.cookies[i].value, 0)) < 0)
			return rc;
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
	c->built_from = c->account = acct;
	c->plugin = p;
	c->s.account_id = acct->id;
	c->s.provider = acct->provider;
	c->s.email = acct->email;
	if ((rc = pa_session_lend_credentials(c, acct)) < 0) {
		pa_update_free(upd);
		pa_cached_free(c);
		return rc;
	}
	c->s.jwt_token = c->pre_jwt = provauth_account_credential(acct, PROVAUTH_CRED_JWT, NULL);
	if ((rc = lend_cookies(c, acct)) < 0) {
		pa_update_free(upd);
		pa_cached_free(c);
		return rc;
	}
	c->s.openapi_key = c->pre_openapi = provauth_account_credential(acct, PROVAUTH_CRED_API_KEY, "openapi");
	c->s.jwt_source = c->pre_jwt ? "account" : "none";
	c->s.auth_method = provauth_account_auth_method(acct);
	c->s.access_token = c->pre_access = provauth_account_credential(acct, PROVAUTH_CRED_ACCESS_TOKEN, NULL);
	c->s.access_expires_at = provauth_account_credential_expires(acct, PROVAUTH_CRED_ACCESS_TOKEN, NULL);
	c->s.metadata = pa_account_metadata(acct);
	c->health_invalid = pa_streq(acct->state.health.state, "invalid");

	rc = p->vt.build_session(p->state, acct, &c->s, upd);
	if (rc == 0)
		rc = mirror_fields(c);
	if (rc < 0) {
		pa_error_scrub(rc, acct, NULL);
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
		c->account = op.kept;
		/* The operation sees what is stored now: ids or flags the build just derived too. */
		c->s.metadata = pa_account_metadata(op.kept);
	} else {
		provauth_account_free(op.kept);
	}
	{
		const provauth_log_field f[] = {
			PA_F_STR("account_id", id),
			PA_F_STR("jwt_source", c->s.jwt_source ? c->s.jwt_source : "none"),
			PA_F_STR("auth_method", provauth_auth_method_name(c->s.auth_method)),
			PA_F_BOOL("has_cookies", c->s.cookie_count > 0),
			PA_F_BOOL("has_openapi_key", c->s.openapi_key != NULL),
		};
		pa_session_log(m, PROVAUTH_LOG_INFO, c->plugin, "build_session", f, PA_ARRAY_LEN(f));
	}
	*out = c;
	return 0;
}
