/*
 * A session's credentials (provauth_session.credentials): what the
 * operation authenticates with, provider-neutral like the account's. A
 * session lends the credentials of the account snapshot it was built from
 * (pa_cached.lent_from, which nothing changes while the session lives):
 * most builds set nothing, and a copy per cached session doubled the
 * memory a cached session costs (bench/scale). The first credential
 * build_session sets copies them into an account of the session's own
 * (pa_cached.creds), so that one set of rules (one entry per kind and
 * name, values wiped when freed) serves both; the host copies what the
 * plugin passes: no plugin memory is ever stored into a host-owned session.
 */
#include "config.h"
#include <stddef.h>
#include <string.h>
#include "session.h"

static const provauth_credential *find(const provauth_session *s, const char *kind, const char *name)
{
	size_t i;

	if (!s || !kind)
		return NULL;
	if (!name)
		name = "";
	for (i = 0; i < s->credential_count; i++)
		if (strcmp(s->credentials[i].kind, kind) == 0 && strcmp(s->credentials[i].name, name) == 0)
			return &s->credentials[i];
	return NULL;
}

const char *provauth_session_credential(const provauth_session *s, const char *kind, const char *name)
{
	const provauth_credential *c = find(s, kind, name);

	return c ? c->value : NULL;
}

int64_t provauth_session_credential_expires(const provauth_session *s, const char *kind, const char *name)
{
	const provauth_credential *c = find(s, kind, name);

	return c ? c->expires_at : 0;
}

/* Points the session at its list again: setting a credential may move it. */
static void show(pa_cached *c)
{
	const provauth_account *a = c->creds ? c->creds : c->lent_from;

	c->s.credentials = a->credentials;
	c->s.credential_count = a->credential_count;
}

int pa_session_lend_credentials(pa_cached *c, const provauth_account *a)
{
	if (!a)
		return pa_error_set(PROVAUTH_EINVAL, "session: no account to lend credentials from");
	c->lent_from = a;
	show(c);
	return 0;
}

/*
 * Every session a plugin sees is the `s` of a pa_cached (the host builds
 * them all in pa_session_build), so the host finds its own list from it.
 */
int pa_session_set_credential(provauth_session *s, const char *kind, const char *name, const char *value,
                              int64_t expires_at)
{
	pa_cached *c;
	int rc;

	if (!s)
		return pa_error_set(PROVAUTH_EINVAL, "session_set_credential: no session");
	c = (pa_cached *)(void *)((char *)s - offsetof(pa_cached, s));
	if (!c->lent_from)
		return pa_error_set(PROVAUTH_EINVAL, "session_set_credential: not a session the host built");
	if (!c->creds && (rc = provauth_account_dup(&c->creds, c->lent_from)) < 0)
		return rc;
	rc = provauth_account_set_credential(c->creds, kind, name, value, expires_at);
	show(c);
	return rc;
}
