/* The manager: settings, logging, HTTP, store and plugins, tied together. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "manager.h"

int64_t pa_manager_now(const provauth_manager *m)
{
	return pa_host_now(&m->host_ctx);
}

int pa_manager_sync_provider_state(provauth_manager *m)
{
	pa_provider_state *grown;
	size_t i;

	if (m->plugins.count <= m->provider_state_cap)
		return 0;
	if (!(grown = realloc(m->provider_state, m->plugins.count * sizeof(*grown))))
		return pa_error_oom();
	for (i = m->provider_state_cap; i < m->plugins.count; i++)
		atomic_init(&grown[i].login_cooldown_until, 0);
	m->provider_state = grown;
	m->provider_state_cap = m->plugins.count;
	return 0;
}

pa_provider_state *pa_manager_provider_state(provauth_manager *m, const pa_plugin *p)
{
	size_t i;

	for (i = 0; i < m->plugins.count && i < m->provider_state_cap; i++)
		if (m->plugins.plugins[i] == p)
			return &m->provider_state[i];
	return NULL;
}

static int open_store(provauth_manager *m, int must_exist)
{
	const pa_store_settings *st = pa_settings_store(m->settings);
	provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;
	struct stat sb;

	m->own_store = 1;
	if (pa_streq(st->backend, "memory"))
		return provauth_store_memory_new(&m->store);
	/* Any other problem (a directory in the way, no permission) is the store's to report. */
	if (must_exist && stat(st->path, &sb) != 0 && errno == ENOENT)
		return pa_error_set(PROVAUTH_ENOTFOUND, "no store at %s", st->path);
	so.key_file = st->key_file;
	so.busy_timeout_ms = (int)st->busy_timeout_ms;
	return provauth_store_sqlite_open(&m->store, st->path, &so);
}

static void log_settings_warnings(provauth_manager *m)
{
	size_t i;

	for (i = 0; i < provauth_settings_warning_count(m->settings); i++) {
		const provauth_log_field f[] = { PA_F_STR("message", provauth_settings_warning(m->settings, i)) };
		pa_log(&m->logger, PROVAUTH_LOG_WARN, "settings_warning", f, PA_ARRAY_LEN(f));
	}
}

/* Blocks in the file naming providers no plugin provides are most likely typos. */
static void warn_unused_provider_blocks(provauth_manager *m)
{
	size_t i;

	for (i = 0; i < pa_settings_provider_count(m->settings); i++) {
		const pa_provider_settings *ps = pa_settings_provider_at(m->settings, i);
		if (!pa_plugins_find(&m->plugins, ps->id)) {
			const provauth_log_field f[] = { PA_F_STR("provider", ps->id),
			                                 PA_F_STR("file", provauth_settings_source(m->settings)) };
			pa_log(&m->logger, PROVAUTH_LOG_WARN, "settings_provider_not_loaded", f, PA_ARRAY_LEN(f));
		}
	}
}

int provauth_manager_new(provauth_manager **out, const provauth_settings *settings,
                         const provauth_manager_options *opts)
{
	provauth_manager_options defaults = PROVAUTH_MANAGER_OPTIONS_INIT;
	const pa_log_settings *ls;
	const pa_http_settings *hs;
	pa_http_config hc;
	provauth_settings *own_settings = NULL;
	provauth_manager *m;
	unsigned char rnd[6];
	int rc;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "manager: no output pointer");
	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (opts->version == 0 || opts->version > PROVAUTH_MANAGER_OPTIONS_VERSION)
		return pa_error_set(PROVAUTH_EINVAL, "manager: options version %u unknown (this library knows up to %u)",
		                    opts->version, PROVAUTH_MANAGER_OPTIONS_VERSION);
	if (!settings) {
		if ((rc = provauth_settings_default(&own_settings)) < 0)
			return rc;
		settings = own_settings;
	}
	if (!(m = calloc(1, sizeof(*m)))) {
		provauth_settings_free(own_settings);
		return pa_error_oom();
	}
	m->settings = own_settings ? own_settings : pa_settings_ref(settings);

	ls = pa_settings_log(m->settings);
	m->logger.fn = opts->log ? opts->log : ls->format_text ? pa_log_stderr_text : provauth_log_stderr_json;
	m->logger.payload = opts->log ? opts->log_payload : NULL;
	m->logger.min_level = ls->level;

	hs = pa_settings_http(m->settings);
	hc.ca_file = hs->ca_file;
	hc.connect_timeout_ms = (long)hs->connect_timeout_ms;
	hc.timeout_ms = (long)hs->timeout_ms;
	hc.max_reply_bytes = (size_t)hs->max_reply_bytes;
	hc.logger = &m->logger;
	if ((rc = pa_http_new(&m->http, &hc)) < 0)
		goto fail;

	m->host_ctx.logger = &m->logger;
	m->host_ctx.http = m->http;
	m->host_ctx.clock = opts->clock;
	m->host_ctx.clock_payload = opts->clock_payload;
	pa_host_init(&m->host, &m->host_ctx);

	if ((rc = pa_random_bytes(rnd, sizeof(rnd))) < 0)
		goto fail;
	snprintf(m->owner, sizeof(m->owner), "pid%ld-%02x%02x%02x%02x%02x%02x", (long)getpid(), rnd[0], rnd[1],
	         rnd[2], rnd[3], rnd[4], rnd[5]);

	if ((rc = pa_sessions_new(&m->sessions)) < 0)
		goto fail;
	log_settings_warnings(m);

	if (opts->store) {
		m->store = opts->store;
	} else if ((rc = open_store(m, opts->version >= 2 && opts->store_must_exist)) < 0) {
		goto fail;
	}
	/* Version 1 stores predate put_many and remain valid; see provauth_account_put_many. */
	if (opts->store && (opts->store->version < 1 || opts->store->version > PROVAUTH_STORE_VERSION)) {
		m->store = NULL;
		rc = pa_error_set(PROVAUTH_EINVAL, "manager: store version %u unknown (this library knows 1 to %u)",
		                  opts->store->version, PROVAUTH_STORE_VERSION);
		goto fail;
	}
	if (opts->store && opts->store->version >= 2 && !opts->store->put_many) {
		m->store = NULL;
		rc = pa_error_set(PROVAUTH_EINVAL, "manager: store %s declares version %u but has no put_many",
		                  opts->store->name ? opts->store->name : "(unnamed)", opts->store->version);
		goto fail;
	}

	if (!opts->skip_plugins) {
		m->plugins.trial = opts->version >= 3 && opts->trial_plugins;
		if ((rc = pa_plugins_load(&m->plugins, m->settings, &m->host, &m->logger)) < 0)
			goto fail;
		if ((rc = pa_manager_sync_provider_state(m)) < 0)
			goto fail;
		warn_unused_provider_blocks(m);
	}
	*out = m;
	return 0;
fail:
	provauth_manager_free(m);
	return rc;
}

void provauth_manager_free(provauth_manager *m)
{
	if (!m)
		return;
	pa_sessions_free(m->sessions);
	pa_plugins_unload(&m->plugins);
	if (m->own_store)
		provauth_store_free(m->store);
	pa_http_free(m->http);
	free(m->provider_state);
	provauth_settings_free(m->settings);
	free(m);
}

int provauth_manager_add_provider(provauth_manager *m, const provauth_provider *p)
{
	int rc;

	if (!m || !p)
		return pa_error_set(PROVAUTH_EINVAL, "add_provider: manager and provider are required");
	if ((rc = pa_plugins_add(&m->plugins, p, NULL, m->settings, &m->host, &m->logger)) < 0)
		return rc;
	return pa_manager_sync_provider_state(m);
}

void provauth_manager_log(provauth_manager *m, provauth_log_level level, const char *event,
                          const provauth_log_field *fields, size_t nfields)
{
	if (m && event)
		pa_log(&m->logger, level, event, fields, nfields);
}

size_t provauth_manager_provider_count(const provauth_manager *m)
{
	return m ? m->plugins.count : 0;
}

int provauth_manager_provider_info(provauth_provider_info *out, const provauth_manager *m, size_t i)
{
	const pa_plugin *p;

	if (!out || !m || i >= m->plugins.count)
		return pa_error_set(PROVAUTH_ENOTFOUND, "provider index %zu out of range", i);
	p = m->plugins.plugins[i];
	memset(out, 0, sizeof(*out));
	out->id = p->vt.id;
	out->description = p->vt.description;
	out->file = p->file;
	out->abi_major = p->vt.abi_major;
	out->abi_minor = p->vt.abi_minor;
	out->operations = (const char *const *)p->op_names;
	out->can_refresh = p->vt.refresh != NULL;
	out->can_reauth = p->vt.try_reauth != NULL;
	return 0;
}

int provauth_provider_import_kinds(const provauth_import_kind **out, const provauth_manager *m, const char *provider)
{
	static const provauth_import_kind none[] = { { NULL, NULL } };
	const pa_plugin *p;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_provider_import_kinds: out is required");
	*out = NULL;
	if (!m || !provider)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_provider_import_kinds: manager and provider are required");
	if (!(p = pa_plugins_find(&m->plugins, provider)))
		return pa_error_set(PROVAUTH_ENOTFOUND, "provider '%.64s' is not loaded (see 'provauth plugins')",
		                    provider);
	*out = p->vt.import ? p->vt.import_kinds : none;
	return 0;
}

size_t provauth_manager_skipped_count(const provauth_manager *m)
{
	return m ? m->plugins.skipped_count : 0;
}

int provauth_manager_skipped(provauth_plugin_skip *out, const provauth_manager *m, size_t i)
{
	if (!out || !m || i >= m->plugins.skipped_count)
		return pa_error_set(PROVAUTH_ENOTFOUND, "skipped plugin index %zu out of range", i);
	out->file = m->plugins.skipped[i].file;
	out->reason = m->plugins.skipped[i].reason;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Accounts through the store                                               */
/* ------------------------------------------------------------------------ */

int provauth_account_get(provauth_account **out, provauth_manager *m, const char *id)
{
	int rc;

	if (!out || !m || !id)
		return pa_error_set(PROVAUTH_EINVAL, "account_get: output, manager and id are required");
	rc = m->store->get(m->store, out, id);
	if (rc == PROVAUTH_ENOTFOUND)
		return pa_error_set(rc, "account %s: not found in the %s store", id, m->store->name);
	return rc;
}

int provauth_account_list(provauth_account ***out, size_t *count, provauth_manager *m, const char *provider)
{
	if (!out || !count || !m)
		return pa_error_set(PROVAUTH_EINVAL, "account_list: outputs and manager are required");
	return m->store->list(m->store, out, count, provider);
}

int provauth_account_list_checked(provauth_account ***out, size_t *count, char ***damaged, size_t *damaged_count,
                                  provauth_manager *m, const char *provider)
{
	if (!out || !count || !damaged || !damaged_count || !m)
		return pa_error_set(PROVAUTH_EINVAL, "account_list_checked: outputs and manager are required");
	*damaged = NULL;
	*damaged_count = 0;
	if (m->store->version >= 3 && m->store->list_checked)
		return m->store->list_checked(m->store, out, count, damaged, damaged_count, provider);
	return m->store->list(m->store, out, count, provider);
}

int provauth_account_put(provauth_manager *m, provauth_account *account)
{
	int rc;

	if (!m || !account || !account->id || !account->provider)
		return pa_error_set(PROVAUTH_EINVAL, "account_put: manager and an account with id and provider are required");
	rc = m->store->put(m->store, account);
	if (rc == PROVAUTH_ECONFLICT)
		return pa_error_set(rc, "account %s: changed in the store since it was read (revision %llu); read it again",
		                    account->id, (unsigned long long)account->revision);
	if (rc == 0)
		pa_sessions_evict(m, account->id);
	return rc;
}

int provauth_account_put_many(provauth_manager *m, provauth_account *const *accounts, size_t n)
{
	size_t i;
	int rc;

	if (!m || (n && !accounts))
		return pa_error_set(PROVAUTH_EINVAL, "account_put_many: manager and %zu accounts are required", n);
	for (i = 0; i < n; i++)
		if (!accounts[i] || !accounts[i]->id || !accounts[i]->provider)
			return pa_error_set(PROVAUTH_EINVAL,
			                    "account_put_many: entry %zu of %zu is not an account with id and provider", i, n);
	if (n == 0)
		return 0;
	/* A version 1 store's struct may end before put_many: the version is read first. */
	if (m->store->version < 2 || !m->store->put_many) {
		if (n > 1)
			return pa_error_set(PROVAUTH_EUNSUPPORTED,
			                    "account_put_many: the %s store (store version %u) cannot write %zu accounts in "
			                    "one transaction; nothing was written (put them one by one if a partial "
			                    "write is acceptable)", m->store->name, m->store->version, n);
		rc = m->store->put(m->store, accounts[0]);
	} else {
		rc = m->store->put_many(m->store, accounts, n);
	}
	if (rc < 0)
		return pa_error_prefix(rc, "account_put_many: %zu account%s, none written", n, n == 1 ? "" : "s");
	for (i = 0; i < n; i++)
		pa_sessions_evict(m, accounts[i]->id);
	return 0;
}

int provauth_account_remove(provauth_manager *m, const char *id)
{
	int rc;

	if (!m || !id)
		return pa_error_set(PROVAUTH_EINVAL, "account_remove: manager and id are required");
	rc = m->store->remove(m->store, id, 0);
	if (rc == PROVAUTH_ENOTFOUND)
		return pa_error_set(rc, "account %s: not found in the %s store", id, m->store->name);
	pa_sessions_evict(m, id);
	return rc;
}

/*
 * Spec 5.3: marking an account google only makes sense where the service
 * has a Google sign-in (and password only where it has password logins).
 * A provider that declares its sign-ins (ABI 1.4) is taken at its word;
 * one that does not, and an account whose provider is not loaded, are
 * accepted as before.
 */
static int auth_method_offered(provauth_manager *m, const provauth_account *a, provauth_auth_method method)
{
	const pa_plugin *p = pa_plugins_find(&m->plugins, a->provider);
	unsigned int need = method == PROVAUTH_AUTH_GOOGLE ? PROVAUTH_SIGNIN_GOOGLE
	                    : method == PROVAUTH_AUTH_PASSWORD ? PROVAUTH_SIGNIN_PASSWORD : 0;

	if (!p || !need || !p->vt.sign_ins || (p->vt.sign_ins & need))
		return 0;
	return pa_error_set(PROVAUTH_EUNSUPPORTED,
	                    "account %s: provider %s has no %s sign-in, so the account cannot be marked as signing in "
	                    "that way; nothing was changed",
	                    a->id, a->provider, method == PROVAUTH_AUTH_GOOGLE ? "Google" : "password");
}

int provauth_account_set_auth_method(provauth_manager *m, const char *id, provauth_auth_method method)
{
	const char *json = method == PROVAUTH_AUTH_PASSWORD ? "\"password\""
	                   : method == PROVAUTH_AUTH_GOOGLE ? "\"google\"" : "\"unknown\"";
	int attempt, rc = 0;

	if (!m || !id)
		return pa_error_set(PROVAUTH_EINVAL, "set_auth_method: manager and id are required");
	for (attempt = 0; attempt < 8; attempt++) {
		provauth_account *a = NULL;
		if ((rc = provauth_account_get(&a, m, id)) < 0)
			return rc;
		if ((rc = auth_method_offered(m, a, method)) < 0) {
			provauth_account_free(a);
			return rc;
		}
		if ((rc = provauth_account_set_metadata(a, "auth_method", json)) == 0)
			rc = m->store->put(m->store, a);
		provauth_account_free(a);
		if (rc != PROVAUTH_ECONFLICT)
			break;
	}
	if (rc == 0)
		pa_sessions_evict(m, id);
	return rc;
}

/* The stored account of `provider` with this email, if any. */
static int find_by_email(provauth_account **out, provauth_manager *m, const char *provider, const char *email)
{
	provauth_account **list = NULL;
	size_t n = 0, i;
	int rc;

	*out = NULL;
	if ((rc = m->store->list(m->store, &list, &n, provider)) < 0)
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
	int rc;

	*out = NULL;
	rc = m->store->get(m->store, out, id);
	if (rc == PROVAUTH_ENOTFOUND)
		return pa_error_set(rc, "import into account %s: no such account in the %s store", id, m->store->name);
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
static int import_store(char **out_id, provauth_manager *m, const char *provider, const provauth_update *upd,
                        const char *email, const char *target_id)
{
	provauth_account *a = NULL, *other = NULL;
	char *id = NULL;
	int rc = 0, attempt;

	for (attempt = 0; attempt < 8; attempt++) {
		if (target_id) {
			if ((rc = import_target(&a, m, provider, target_id)) < 0 ||
			    (rc = import_owner(&other, m, a, email)) != 0)
				break;
		} else {
			if ((rc = find_by_email(&a, m, provider, email)) < 0)
				break;
			if (!a && ((rc = provauth_account_new_id(&id)) < 0 ||
			           (rc = provauth_account_new(&a, id, provider)) < 0))
				break;
		}
		if ((rc = pa_update_apply(upd, a)) < 0)
			break;
		/* Cookie imports say nothing about how the user signs in. */
		if (!strstr(pa_account_metadata(a), "\"auth_method\"") &&
		    (rc = provauth_account_set_metadata(a, "auth_method", "\"unknown\"")) < 0)
			break;
		rc = m->store->put(m->store, a);
		if (rc != PROVAUTH_ECONFLICT)
			break;
		provauth_account_free(a);
		a = NULL;
		free(id);
		id = NULL;
	}
	if (rc == 0) {
		pa_sessions_evict(m, a->id);
		if (!(*out_id = pa_strdup(a->id)))
			rc = pa_error_oom();
	} else if (rc == PROVAUTH_ECONFLICT) {
		pa_error_set(rc, "import into %s: the account kept changing while it was stored",
		             target_id ? target_id : provider);
	} else if (rc > 0) {
		rc = 1;
	}
	provauth_account_free(other);
	provauth_account_free(a);
	free(id);
	return rc;
}

/* Whether the import handed back a refresh token other than the one given (the user does not hold it). */
static int import_replaced_token(const provauth_update *upd, const char *input)
{
	const char *rt = pa_update_get(upd, PROVAUTH_F_REFRESH_TOKEN);
	const char *b = input, *e = input + strlen(input);

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
	if ((rc = import_store(&saved, m, provider, upd, email, NULL)) < 0)
		return pa_error_prefix(rc, "import into %s; the provider replaced the token while checking it, and "
		                       "storing the new one for %s failed", whose, email);
	rc = pa_error_set(PROVAUTH_EINVAL, "import into %s; account %s was not changed, but the provider replaced "
	                  "the token while checking it, so the new one was stored in account %s (%s)",
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
	provauth_account *target = NULL;
	provauth_update *upd = NULL;
	const char *email;
	char *id = NULL;
	pa_plugin *p;
	int rc;

	if (out_id)
		*out_id = NULL;
	if (!m || !provider || !kind || !input)
		return pa_error_set(PROVAUTH_EINVAL, "import: manager, provider, kind and input are required");
	if (opts && (opts->version == 0 || opts->version > PROVAUTH_IMPORT_OPTIONS_VERSION))
		return pa_error_set(PROVAUTH_EINVAL, "import: options version %u unknown (this library knows up to %u)",
		                    opts->version, PROVAUTH_IMPORT_OPTIONS_VERSION);
	if (!(p = pa_plugins_find(&m->plugins, provider)))
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
	if (!(email = pa_update_get(upd, PROVAUTH_F_EMAIL)) || !*email) {
		rc = pa_error_set(PROVAUTH_EINVAL, "import into %s: the credentials do not say which account (no email)",
		                  provider);
		goto out;
	}
	rc = import_store(&id, m, provider, upd, email, target_id);
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
