/*
 * provauth_account_import: credentials a provider's import turned into an
 * update, stored in the account they belong to. The provider's import runs
 * once (it may be a token exchange that rotates the refresh token), so
 * everything after it must resolve conflicts without asking again.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "manager.h"

/*
 * The stored account of `provider` with this email, if any (*out NULL when
 * none). The store's find_email reads that one row; a store without it
 * (version 5 or older) is listed, every account of the provider unsealed.
 */
static int find_by_email(provauth_account **out, provauth_manager *m, const char *provider, const char *email)
{
	provauth_store *st = pa_manager_store(m);
	provauth_account **list = NULL;
	size_t n = 0, i;
	int rc;

	*out = NULL;
	if (st->version >= 6 && st->find_email) {
		if ((rc = st->find_email(st, out, provider, email)) == PROVAUTH_ENOTFOUND) {
			provauth_error_clear();
			return 0;
		}
		return rc;
	}
	if ((rc = st->list(st, &list, &n, provider)) < 0)
		return rc;
	for (i = 0; i < n && !*out; i++)
		if (list[i]->email && strcasecmp(list[i]->email, email) == 0) {
			*out = list[i];
			list[i] = NULL;
		}
	provauth_account_list_free(list, n);
	return 0;
}

/*
 * A kind the provider did not declare goes no further: the caller learns
 * which kinds it takes instead of the plugin's own refusal, and no token
 * is handed to a plugin that cannot use it.
 */
static int import_kind_check(const pa_plugin *p, const char *kind)
{
	const provauth_import_kind *k = p->vt.import_kinds;
	char *list = NULL;
	size_t len = 0, i;
	FILE *f;
	int rc;

	if (!k)
		return 0;
	for (i = 0; k[i].name; i++)
		if (strcmp(k[i].name, kind) == 0)
			return 0;
	if (!(f = open_memstream(&list, &len)))
		return pa_error_oom();
	for (i = 0; k[i].name; i++)
		fprintf(f, "%s%s", i ? ", " : "", k[i].name);
	if (fclose(f) != 0) {
		free(list);
		return pa_error_oom();
	}
	/* Only a name is quoted: a secret pasted where the kind goes must not reach a log. */
	if (pa_valid_name(kind))
		rc = pa_error_set(PROVAUTH_EUNSUPPORTED, "import: provider %s does not import kind '%s'; it imports: %s",
		                  p->vt.id, kind, list);
	else
		rc = pa_error_set(PROVAUTH_EUNSUPPORTED, "import: provider %s: the kind given is not a kind name "
		                  "([a-z0-9_-]{1,32}; not shown); it imports: %s", p->vt.id, list);
	free(list);
	return rc;
}

/* The account `id` as the target of an import into `provider`. */
static int import_target(provauth_account **out, provauth_manager *m, const char *provider, const char *id)
{
	provauth_store *st = pa_manager_store(m);
	int rc;

	*out = NULL;
	rc = st->get(st, out, id);
	if (rc == PROVAUTH_ENOTFOUND)
		return pa_error_set(rc, "import into account %s: no such account in the %s store", id, st->name);
	if (rc < 0)
		return pa_error_prefix(rc, "import into account %s", id);
	if (!(*out)->provider || strcmp((*out)->provider, provider) != 0) {
		rc = pa_error_set(PROVAUTH_EINVAL, "import into account %s: it is a %s account, not %s", id,
		                  (*out)->provider ? (*out)->provider : "(no provider)", provider);
		provauth_account_free(*out);
		*out = NULL;
	}
	return rc;
}

/*
 * Whether the credentials with `email` may go into `target`: 0 yes, 1 no
 * (another email; *other = NULL), 2 no (`target` has no email and the
 * account *other, to be freed, has this one), or an error.
 */
static int import_owner(provauth_account **other, provauth_manager *m, const provauth_account *target,
                        const char *email)
{
	int rc;

	*other = NULL;
	if (target->email && *target->email)
		return strcasecmp(target->email, email) == 0 ? 0 : 1;
	if ((rc = find_by_email(other, m, target->provider, email)) < 0)
		return rc;
	if (*other && strcmp((*other)->id, target->id) != 0)
		return 2;
	provauth_account_free(*other);
	*other = NULL;
	return 0;
}

/*
 * Applies the import's result to the account `target_id`, or else to the
 * provider's account with `email`, else to a new one, and stores it. The
 * provider's import ran once: for OAuth providers it is a token exchange
 * that may rotate (and revoke) the refresh token, so a write conflict is
 * resolved by applying the same result to a fresh read, never by importing
 * again. Returns 1 (nothing stored) when a fresh read of `target_id` says
 * the credentials are not its own.
 */
typedef struct pa_import_write {
	provauth_manager *m;
	const char *provider;
	const provauth_update *upd;
	const char *email;
	const char *target_id;
	int refused;                 /* a fresh read of target_id says the credentials are not its own */
	int want_before;             /* keep a copy of what the last read found in `before` */
	provauth_account *before;    /* that copy; NULL when the last read made a new account */
} pa_import_write;

/* Keeps what the read found, as it was before the change (the caller asked for it). */
static int import_keep_before(pa_import_write *w, const provauth_account *found)
{
	provauth_account_free(w->before);
	w->before = NULL;
	return w->want_before && found ? provauth_account_dup(&w->before, found) : 0;
}

/* The target account, or the provider's account with the email, or a new one. */
static int import_read(provauth_account **out, void *payload)
{
	pa_import_write *w = payload;
	char *id = NULL;
	int rc;

	if (w->target_id)
		rc = import_target(out, w->m, w->provider, w->target_id);
	else
		rc = find_by_email(out, w->m, w->provider, w->email);
	if (rc < 0)
		return rc;
	/* What was found, as it was (nothing: a new account follows). */
	if ((rc = import_keep_before(w, *out)) < 0) {
		provauth_account_free(*out);
		*out = NULL;
		return rc;
	}
	if (*out)
		return 0;
	if ((rc = provauth_account_new_id(&id)) == 0)
		rc = provauth_account_new(out, id, w->provider);
	free(id);
	return rc;
}

static int import_change(provauth_account *a, void *payload)
{
	pa_import_write *w = payload;
	provauth_account *other = NULL;
	int rc;

	if (w->target_id) {
		rc = import_owner(&other, w->m, a, w->email);
		provauth_account_free(other);
		if (rc < 0)
			return rc;
		if (rc > 0) {
			w->refused = 1;
			return PA_RMW_UNCHANGED;
		}
	}
	/* Cookie imports say nothing about how the user signs in: a new account's method stays UNKNOWN. */
	return pa_update_apply(w->upd, a);
}

/* `previous`, when not NULL, gets the account as it was before (NULL: created); see provauth_import_options. */
static int import_store(char **out_id, provauth_manager *m, const char *provider, const provauth_update *upd,
                        const char *email, const char *target_id, provauth_account **previous)
{
	pa_import_write w = { m, provider, upd, email, target_id, 0, previous != NULL, NULL };
	pa_account_rmw_op op = { 0 };
	int rc;

	op.store = pa_manager_store(m);
	op.read = import_read;
	op.change = import_change;
	op.payload = &w;
	op.keep = 1;
	rc = pa_account_rmw(&op);
	if (rc == 0 && w.refused) {
		rc = 1;
	} else if (rc == 0) {
		pa_manager_forget_session(m, op.kept->id);
		if (!(*out_id = pa_strdup(op.kept->id)))
			rc = pa_error_oom();
	} else if (rc == PROVAUTH_ECONFLICT) {
		pa_error_set(rc, "import into %s: the account kept changing while it was stored",
		             target_id ? target_id : provider);
	}
	if (rc == 0 && previous) {
		*previous = w.before;
		w.before = NULL;
	}
	provauth_account_free(w.before);
	provauth_account_free(op.kept);
	return rc;
}

/*
 * Whether the import handed back credentials the user does not hold: a
 * refresh token other than the one given, or a session token (JWT) that is
 * not in the input, which only a sign-in at the server makes (a Google ID
 * token exchanged): that sign-in replaced the account's session there.
 */
static int import_replaced_token(const provauth_update *upd, const char *input)
{
	const char *rt = pa_update_credential(upd, PROVAUTH_CRED_REFRESH_TOKEN, NULL);
	const char *jwt = pa_update_credential(upd, PROVAUTH_CRED_JWT, NULL);
	const char *b = input, *e = input + strlen(input);

	if (jwt && *jwt && !strstr(input, jwt))
		return 1;
	if (!rt || !*rt)
		return 0;
	while (*b == ' ' || *b == '\t' || *b == '\r' || *b == '\n')
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	return strlen(rt) != (size_t)(e - b) || memcmp(rt, b, (size_t)(e - b)) != 0;
}

/* The credentials are not `target`'s: keep it as it is, and say so (documented in provauth.h). */
static int import_refuse(provauth_manager *m, const char *provider, const char *input, const provauth_update *upd,
                         const provauth_account *target, const char *email)
{
	provauth_account *other = NULL;
	char *saved = NULL, whose[384];
	int rc;

	if (target->email && *target->email) {
		snprintf(whose, sizeof(whose), "account %s (%s): the credentials are %s's", target->id, target->email,
		         email);
	} else {
		if ((rc = find_by_email(&other, m, provider, email)) < 0)
			return rc;
		snprintf(whose, sizeof(whose), "account %s (no email): the credentials are %s's, whose account is %s",
		         target->id, email, other ? other->id : "another one");
		provauth_account_free(other);
	}
	if (!import_replaced_token(upd, input))
		return pa_error_set(PROVAUTH_EINVAL, "import into %s; nothing was stored (import them without an "
		                    "account id to update or create the account of %s)", whose, email);
	if ((rc = import_store(&saved, m, provider, upd, email, NULL, NULL)) < 0)
		return pa_error_prefix(rc, "import into %s; the provider issued new credentials for them (a sign-in, "
		                       "or a replaced token), and storing them for %s failed", whose, email);
	rc = pa_error_set(PROVAUTH_EINVAL, "import into %s; account %s was not changed, but the provider issued new "
	                  "credentials for them (a sign-in, or a replaced token), so they were stored in account %s (%s)",
	                  whose, target->id, saved, email);
	free(saved);
	return rc;
}

int provauth_account_import(char **out_id, provauth_manager *m, const char *provider, const char *kind,
                            const char *input)
{
	return provauth_account_import_ext(out_id, m, provider, kind, input, NULL);
}

int provauth_account_import_ext(char **out_id, provauth_manager *m, const char *provider, const char *kind,
                                const char *input, const provauth_import_options *opts)
{
	const char *target_id = opts ? opts->account_id : NULL;
	provauth_account *target = NULL, **previous = NULL;
	provauth_update *upd = NULL;
	const char *email;
	char *id = NULL;
	pa_plugin *p;
	int rc;

	if (out_id)
		*out_id = NULL;
	if (opts && opts->version >= 2 && opts->previous) {
		previous = opts->previous;
		*previous = NULL;
	}
	if (!m || !provider || !kind || !input)
		return pa_error_set(PROVAUTH_EINVAL, "import: manager, provider, kind and input are required");
	if (opts && (opts->version == 0 || opts->version > PROVAUTH_IMPORT_OPTIONS_VERSION))
		return pa_error_set(PROVAUTH_EINVAL, "import: options version %u unknown (this library knows up to %u)",
		                    opts->version, PROVAUTH_IMPORT_OPTIONS_VERSION);
	if (!(p = pa_manager_plugin(m, provider)))
		return pa_error_set(PROVAUTH_EPLUGIN, "import: provider '%s' is not loaded (see 'provauth plugins')", provider);
	if (!p->vt.import)
		return pa_error_set(PROVAUTH_EUNSUPPORTED, "import: provider %s cannot import credentials", provider);
	if ((rc = import_kind_check(p, kind)) < 0)
		return rc;
	/* Before the provider is asked: an exchange for a wrong account cannot be undone. */
	if (target_id && (rc = import_target(&target, m, provider, target_id)) < 0)
		return rc;
	if ((rc = pa_update_new(&upd)) < 0)
		goto out;
	rc = p->vt.import(p->state, kind, input, target, upd);
	if (rc > 0)
		rc = PROVAUTH_ERROR;
	/* The plugin checks what it sent; this catches an echo of what the target already held. */
	pa_error_scrub(rc, target, NULL);
	if (rc < 0) {
		if (target)
			pa_error_prefix(rc, "import into account %s (%s)", target->id, provider);
		else
			pa_error_prefix(rc, "import into %s", provider);
		goto out;
	}
	if (!(email = pa_update_email(upd)) || !*email) {
		rc = pa_error_set(PROVAUTH_ENOEMAIL, "import into %s: the credentials do not say which account (no email)",
		                  provider);
		goto out;
	}
	rc = import_store(&id, m, provider, upd, email, target_id, previous);
	if (rc > 0)
		rc = import_refuse(m, provider, input, upd, target, email);
	if (rc == 0 && out_id) {
		*out_id = id;
		id = NULL;
	}
out:
	free(id);
	pa_update_free(upd);
	provauth_account_free(target);
	return rc;
}
