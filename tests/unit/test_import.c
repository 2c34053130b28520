/*
 * provauth_account_import_ext against an in-test provider: importing into a
 * named account hands it to the provider as `existing` and keeps its id and
 * metadata; an unknown or foreign account is refused before the provider is
 * asked; credentials of another email are refused with the store unchanged,
 * unless the import replaced the token (then it is kept in the right
 * account); a concurrent write is resolved without a second import; a
 * kind the provider did not declare is refused before it is asked.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "manager.h"
#include "../support/pa_test.h"

/* ---- the provider: input "EMAIL" -> that account's credentials ---- */

static const provauth_host *host;
static int imports;                 /* import calls */
static char seen_existing[64];      /* id of the `existing` the last import got, "" for NULL */
static int rotate;                  /* hand back a refresh token other than the input */
static int token_given;             /* the session token is the input itself (as cookies carry it), not one a
                                       sign-in made */

static int t_init(void **state, const provauth_host *h, const provauth_setting *settings)
{
	(void)settings;
	host = h;
	*state = NULL;
	return 0;
}

static void t_fini(void *state)
{
	(void)state;
}

static int t_build(void *state, const provauth_account *a, provauth_session *s, provauth_update *u)
{
	(void)state, (void)a, (void)s, (void)u;
	return 0;
}

static int t_classify(void *state, const provauth_failure *f, provauth_outcome *out)
{
	(void)state, (void)f, (void)out;
	return 0;
}

static int t_import(void *state, const char *kind, const char *input, const provauth_account *existing,
                    provauth_update *u)
{
	char jwt[128], rt[128];
	int rc;

	(void)state;
	imports++;
	snprintf(seen_existing, sizeof(seen_existing), "%s", existing ? existing->id : "");
	if (strcmp(kind, "token") != 0)
		return host->set_error(host, PROVAUTH_EUNSUPPORTED, "test: unknown kind");
	if (token_given)
		snprintf(jwt, sizeof(jwt), "%s", input);
	else
		snprintf(jwt, sizeof(jwt), "jwt-SECRET-%s-%d", input, imports);
	snprintf(rt, sizeof(rt), "rt-SECRET-rotated-%d", imports);
	if ((rc = host->update_set_email(u, input)) < 0 ||
	    (rc = host->update_set_credential(u, PROVAUTH_CRED_JWT, NULL, jwt, 0)) < 0 ||
	    (rc = host->update_set_credential(u, PROVAUTH_CRED_REFRESH_TOKEN, NULL, rotate ? rt : input, 0)) < 0)
		return rc;
	return 0;
}

static const provauth_import_kind test_kinds[] = {
	{ "token", "an email standing for a token" },
	{ "otp", "a one-time code" },
	{ NULL, NULL },
};

static const provauth_provider test_provider = {
	.abi_major = PROVAUTH_PLUGIN_ABI_MAJOR,
	.abi_minor = PROVAUTH_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(provauth_provider),
	.id = "importer",
	.description = "test provider",
	.version = "1",
	.init = t_init,
	.fini = t_fini,
	.build_session = t_build,
	.classify_error = t_classify,
	.import = t_import,
};

/* The same provider, declaring its kinds (ABI 1.3). */
static provauth_provider declared_provider(const char *id)
{
	provauth_provider p = test_provider;

	p.id = id;
	p.init = NULL;
	p.fini = NULL;
	p.import_kinds = test_kinds;
	return p;
}

/* ---- a store that lets another writer in just before the first put ---- */

static provauth_store *inner;
static int interfere;               /* puts left before the other writer strikes */
static unsigned store_version;      /* the version the forwarding store declares; 0: the current one */
static unsigned long store_calls[PA_FWD_FIND_EMAIL + 1];

static long fwd_before(pa_fwd_op op, void *payload)
{
	provauth_account *a = NULL;

	(void)payload;
	store_calls[op]++;
	if (op != PA_FWD_PUT || interfere <= 0 || --interfere > 0)
		return 0;
	if (inner->get(inner, &a, "target") == 0) {
		provauth_account_set_metadata(a, "other_writer", "true");
		CU_ASSERT(inner->put(inner, a) == 0);
	}
	provauth_account_free(a);
	return 0;
}

static provauth_store *store;
static provauth_manager *mgr;

static int setup(void)
{
	const pa_fwd_hooks hooks = { fwd_before, NULL, NULL };
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;

	imports = 0;
	rotate = 0;
	token_given = 0;
	interfere = 0;
	seen_existing[0] = '\0';
	memset(store_calls, 0, sizeof(store_calls));
	if (provauth_store_memory_new(&inner) < 0 ||
	    pa_fwd_store_new_version(&store, inner, &hooks, store_version ? store_version : PROVAUTH_STORE_VERSION) < 0)
		return -1;
	if (provauth_settings_default(&s) < 0)
		return -1;
	opts.store = store;
	opts.log = pa_test_log_capture;
	opts.skip_plugins = 1;
	if (provauth_manager_new(&mgr, s, &opts) < 0 || provauth_manager_add_provider(mgr, &test_provider) < 0) {
		provauth_settings_free(s);
		return -1;
	}
	provauth_settings_free(s);
	return 0;
}

static int teardown(void)
{
	provauth_manager_free(mgr);
	mgr = NULL;
	provauth_store_free(store);
	store = NULL;
	inner = NULL;
	return 0;
}

#define FRESH() do { teardown(); CU_ASSERT_FATAL(setup() == 0); } while (0)

/* An account "id" of `provider` with `email` (may be NULL), a device id in its metadata. */
static void put_account(const char *id, const char *provider, const char *email)
{
	provauth_account *a = NULL;

	CU_ASSERT_FATAL(provauth_account_new(&a, id, provider) == 0);
	if (email)
		CU_ASSERT_FATAL((a->email = strdup(email)) != NULL);
	CU_ASSERT_FATAL(provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, "jwt-SECRET-old", 0) == 0);
	CU_ASSERT_FATAL(provauth_account_set_metadata(a, "device", "\"dev-1\"") == 0);
	CU_ASSERT_FATAL(inner->put(inner, a) == 0);
	provauth_account_free(a);
}

static provauth_account *stored(const char *id)
{
	provauth_account *a = NULL;

	CU_ASSERT_FATAL(inner->get(inner, &a, id) == 0);
	return a;
}

static size_t account_count(void)
{
	provauth_account **list = NULL;
	size_t n = 0;

	CU_ASSERT_FATAL(inner->list(inner, &list, &n, NULL) == 0);
	provauth_account_list_free(list, n);
	return n;
}

static int import_into(char **id, const char *account, const char *input)
{
	provauth_import_options o = PROVAUTH_IMPORT_OPTIONS_INIT;

	o.account_id = account;
	return provauth_account_import_ext(id, mgr, "importer", "token", input, &o);
}

static int error_has(const char *s)
{
	return strstr(provauth_last_error(), s) != NULL;
}

static void test_without_account_matches_by_email(void)
{
	char *id1 = NULL, *id2 = NULL;

	FRESH();
	CU_ASSERT_EQUAL(provauth_account_import_ext(&id1, mgr, "importer", "token", "a@example.com", NULL), 0);
	CU_ASSERT_STRING_EQUAL(seen_existing, "");
	CU_ASSERT_EQUAL(import_into(&id2, NULL, "A@Example.com"), 0);
	CU_ASSERT_STRING_EQUAL(seen_existing, "");
	CU_ASSERT_FATAL(id1 && id2);
	CU_ASSERT_STRING_EQUAL(id1, id2);
	CU_ASSERT_EQUAL(account_count(), 1);
	/* Found by the store's find_email: the provider's accounts were not listed. */
	CU_ASSERT_EQUAL(store_calls[PA_FWD_FIND_EMAIL], 2);
	CU_ASSERT_EQUAL(store_calls[PA_FWD_LIST], 0);
	free(id1);
	free(id2);

	/* A store of version 5 has no find_email: the import lists, and finds the same. */
	store_version = 5;
	FRESH();
	store_version = 0;
	id1 = id2 = NULL;
	CU_ASSERT_PTR_NULL(store->find_email);
	CU_ASSERT_EQUAL(provauth_account_import_ext(&id1, mgr, "importer", "token", "a@example.com", NULL), 0);
	CU_ASSERT_EQUAL(import_into(&id2, NULL, "A@Example.com"), 0);
	CU_ASSERT_FATAL(id1 && id2);
	CU_ASSERT_STRING_EQUAL(id1, id2);
	CU_ASSERT_EQUAL(account_count(), 1);
	CU_ASSERT_EQUAL(store_calls[PA_FWD_LIST], 2);
	CU_ASSERT_EQUAL(store_calls[PA_FWD_FIND_EMAIL], 0);
	free(id1);
	free(id2);
}

/* Options version 2: the account as it was before the import (NULL when it made one). */
static void test_previous_account(void)
{
	provauth_import_options o = PROVAUTH_IMPORT_OPTIONS_INIT;
	provauth_account *prev = (provauth_account *)&o, *now;
	char *id1 = NULL, *id2 = NULL, *id3 = NULL;

	FRESH();
	o.previous = &prev;
	CU_ASSERT_EQUAL(provauth_account_import_ext(&id1, mgr, "importer", "token", "p@example.com", &o), 0);
	CU_ASSERT_PTR_NULL(prev); /* made by this import */
	CU_ASSERT_EQUAL(provauth_account_import_ext(&id2, mgr, "importer", "token", "p@example.com", &o), 0);
	CU_ASSERT_FATAL(id1 && id2 && prev);
	CU_ASSERT_STRING_EQUAL(id1, id2);
	CU_ASSERT_STRING_EQUAL(prev->id, id1);
	CU_ASSERT_STRING_EQUAL(PA_CRED(prev, JWT), "jwt-SECRET-p@example.com-1");
	now = stored(id1);
	CU_ASSERT_STRING_EQUAL(PA_CRED(now, JWT), "jwt-SECRET-p@example.com-2");
	CU_ASSERT_EQUAL(prev->revision + 1, now->revision);
	provauth_account_free(now);
	provauth_account_free(prev);
	/* Into a named account: that account as it was. */
	put_account("target", "importer", "a@example.com");
	o.account_id = "target";
	prev = NULL;
	CU_ASSERT_EQUAL(provauth_account_import_ext(&id3, mgr, "importer", "token", "a@example.com", &o), 0);
	CU_ASSERT_FATAL(prev != NULL);
	CU_ASSERT_STRING_EQUAL(prev->id, "target");
	CU_ASSERT_STRING_EQUAL(PA_CRED(prev, JWT), "jwt-SECRET-old");
	provauth_account_free(prev);
	free(id3);
	id3 = NULL;
	/* A failed import hands out nothing. */
	prev = (provauth_account *)&o;
	CU_ASSERT(provauth_account_import_ext(&id3, mgr, "importer", "cookies", "a@example.com", &o) < 0);
	CU_ASSERT_PTR_NULL(prev);
	/* A version 1 caller's struct has no such field: it is never touched. */
	free(id3);
	id3 = NULL;
	o.version = 1;
	prev = (provauth_account *)&o;
	CU_ASSERT_EQUAL(provauth_account_import_ext(&id3, mgr, "importer", "token", "a@example.com", &o), 0);
	CU_ASSERT_PTR_EQUAL(prev, (provauth_account *)&o);
	free(id1);
	free(id2);
	free(id3);
}

static void test_into_account_passes_existing_and_keeps_it(void)
{
	provauth_account *a;
	char *id = NULL;

	FRESH();
	put_account("target", "importer", "a@example.com");
	put_account("decoy", "importer", "b@example.com");
	/* The email case differs: still the same account. */
	CU_ASSERT_EQUAL(import_into(&id, "target", "A@EXAMPLE.com"), 0);
	CU_ASSERT_EQUAL(imports, 1);
	CU_ASSERT_STRING_EQUAL(seen_existing, "target");
	CU_ASSERT_FATAL(id != NULL);
	CU_ASSERT_STRING_EQUAL(id, "target");
	a = stored("target");
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, JWT), "jwt-SECRET-A@EXAMPLE.com-1");
	CU_ASSERT_PTR_NOT_NULL(strstr(pa_account_metadata(a), "\"dev-1\""));
	/* The cookie import leaves the method unknown, in the typed state (not the metadata) since schema 4. */
	CU_ASSERT_EQUAL(a->state.auth_method, PROVAUTH_AUTH_UNKNOWN);
	CU_ASSERT_PTR_NULL(strstr(pa_account_metadata(a), "\"auth_method\""));
	provauth_account_free(a);
	CU_ASSERT_EQUAL(account_count(), 2);
	free(id);
}

static void test_unknown_or_foreign_account_is_refused_before_import(void)
{
	char *id = NULL;

	FRESH();
	put_account("theirs", "elsewhere", "a@example.com");
	CU_ASSERT_EQUAL(import_into(&id, "acct-nosuch", "a@example.com"), PROVAUTH_ENOTFOUND);
	CU_ASSERT(error_has("acct-nosuch"));
	CU_ASSERT_EQUAL(import_into(&id, "theirs", "a@example.com"), PROVAUTH_EINVAL);
	CU_ASSERT(error_has("theirs") && error_has("elsewhere") && error_has("importer"));
	CU_ASSERT_EQUAL(imports, 0);
	CU_ASSERT_PTR_NULL(id);
	CU_ASSERT_EQUAL(account_count(), 1);
}

static void test_other_email_is_refused_and_nothing_stored(void)
{
	provauth_account *before, *after;
	char *id = NULL;

	FRESH();
	token_given = 1;
	put_account("target", "importer", "a@example.com");
	before = stored("target");
	CU_ASSERT_EQUAL(import_into(&id, "target", "b@example.com"), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NULL(id);
	CU_ASSERT(error_has("target") && error_has("a@example.com") && error_has("b@example.com"));
	CU_ASSERT(error_has("nothing was stored"));
	CU_ASSERT(!error_has("SECRET"));
	after = stored("target");
	CU_ASSERT_EQUAL(after->revision, before->revision);
	CU_ASSERT_STRING_EQUAL(PA_CRED(after, JWT), "jwt-SECRET-old");
	CU_ASSERT_EQUAL(account_count(), 1);
	provauth_account_free(before);
	provauth_account_free(after);
}

/* Credentials that say whose they are not: PROVAUTH_ENOEMAIL (what the daemon answers 422 email_missing), nothing stored. */
static void test_no_email_is_enoemail(void)
{
	char *id = NULL;

	FRESH();
	CU_ASSERT_EQUAL(provauth_account_import(&id, mgr, "importer", "token", ""), PROVAUTH_ENOEMAIL);
	CU_ASSERT_PTR_NULL(id);
	CU_ASSERT(error_has("no email"));
	CU_ASSERT_STRING_EQUAL(provauth_strerror(PROVAUTH_ENOEMAIL), "credentials of an unknown account (no email)");
	CU_ASSERT_EQUAL(account_count(), 0);
}

/*
 * b@example.com's credentials imported into a@example.com's "target": refused
 * naming both, target unchanged, and what the import made kept in the other
 * account (its credential `kind` equal to `want`), which the message names.
 */
static void refused_but_kept(const char *kind, const char *want)
{
	provauth_account **list = NULL, *t;
	size_t n = 0, i;
	char *id = NULL;
	int found = 0;

	put_account("target", "importer", "a@example.com");
	CU_ASSERT_EQUAL(import_into(&id, "target", "b@example.com"), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NULL(id);
	CU_ASSERT(error_has("target") && error_has("a@example.com") && error_has("b@example.com"));
	CU_ASSERT(error_has("was not changed") && error_has("stored in account acct-"));
	CU_ASSERT(!error_has("SECRET"));
	t = stored("target");
	CU_ASSERT_STRING_EQUAL(PA_CRED(t, JWT), "jwt-SECRET-old");
	provauth_account_free(t);
	CU_ASSERT_FATAL(inner->list(inner, &list, &n, "importer") == 0);
	CU_ASSERT_EQUAL(n, 2);
	for (i = 0; i < n; i++)
		if (strcmp(list[i]->id, "target") != 0) {
			const char *v = provauth_account_credential(list[i], kind, NULL);
			found = 1;
			CU_ASSERT_STRING_EQUAL(list[i]->email, "b@example.com");
			CU_ASSERT_STRING_EQUAL(v ? v : "", want);
			CU_ASSERT(error_has(list[i]->id));
		}
	CU_ASSERT(found);
	provauth_account_list_free(list, n);
	CU_ASSERT_EQUAL(imports, 1);
}

/* A sign-in (a session token the input does not hold: a Google ID token exchanged) replaced b's session: kept. */
static void test_other_email_sign_in_keeps_the_session(void)
{
	FRESH();
	refused_but_kept(PROVAUTH_CRED_JWT, "jwt-SECRET-b@example.com-1");
}

static void test_other_email_with_replaced_token_keeps_the_token(void)
{
	FRESH();
	rotate = 1;
	refused_but_kept(PROVAUTH_CRED_REFRESH_TOKEN, "rt-SECRET-rotated-1");
}

static void test_account_without_email(void)
{
	provauth_account *a;
	char *id = NULL;

	FRESH();
	put_account("blank", "importer", NULL);
	put_account("holder", "importer", "b@example.com");
	/* b@ is another account's: taking it here would make two accounts of one user. */
	CU_ASSERT_EQUAL(import_into(&id, "blank", "b@example.com"), PROVAUTH_EINVAL);
	CU_ASSERT(error_has("blank") && error_has("holder") && error_has("b@example.com"));
	a = stored("blank");
	CU_ASSERT_PTR_NULL(a->email);
	provauth_account_free(a);
	/* A new email: the account takes it. */
	CU_ASSERT_EQUAL(import_into(&id, "blank", "c@example.com"), 0);
	CU_ASSERT_FATAL(id != NULL);
	CU_ASSERT_STRING_EQUAL(id, "blank");
	a = stored("blank");
	CU_ASSERT_STRING_EQUAL(a->email, "c@example.com");
	provauth_account_free(a);
	free(id);
}

static void test_conflict_applies_the_same_import_to_a_fresh_read(void)
{
	provauth_account *a;
	char *id = NULL;

	FRESH();
	put_account("target", "importer", "a@example.com");
	interfere = 1;
	CU_ASSERT_EQUAL(import_into(&id, "target", "a@example.com"), 0);
	CU_ASSERT_EQUAL(imports, 1);
	CU_ASSERT_EQUAL(interfere, 0);
	a = stored("target");
	/* Both writes survive: the other writer's and the import's. */
	CU_ASSERT_PTR_NOT_NULL(strstr(pa_account_metadata(a), "\"other_writer\""));
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, JWT), "jwt-SECRET-a@example.com-1");
	provauth_account_free(a);
	free(id);
}

static void test_bad_options_and_kind(void)
{
	provauth_import_options o = PROVAUTH_IMPORT_OPTIONS_INIT;
	char *id = NULL;

	FRESH();
	put_account("target", "importer", "a@example.com");
	o.version = 0;
	CU_ASSERT_EQUAL(provauth_account_import_ext(&id, mgr, "importer", "token", "a@example.com", &o),
	                PROVAUTH_EINVAL);
	CU_ASSERT(error_has("version"));
	o.version = PROVAUTH_IMPORT_OPTIONS_VERSION + 1;
	CU_ASSERT_EQUAL(provauth_account_import_ext(&id, mgr, "importer", "token", "a@example.com", &o),
	                PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(imports, 0);
	CU_ASSERT_EQUAL(import_into(&id, "target", "a@example.com"), 0);
	free(id);
	id = NULL;
	o.version = PROVAUTH_IMPORT_OPTIONS_VERSION;
	o.account_id = "target";
	CU_ASSERT_EQUAL(provauth_account_import_ext(&id, mgr, "importer", "cookies", "a@example.com", &o),
	                PROVAUTH_EUNSUPPORTED);
	CU_ASSERT(error_has("target") && error_has("unknown kind"));
	CU_ASSERT_PTR_NULL(id);
}

static void test_declared_kinds_listed_and_enforced(void)
{
	provauth_provider declared = declared_provider("declared"), cut = declared_provider("cut"),
	                  none = declared_provider("none");
	const provauth_import_kind *k = NULL;
	char *id = NULL;

	FRESH();
	/* a plugin built before 1.3 grew import_kinds: its struct ends before them */
	cut.struct_size = offsetof(provauth_provider, import_kinds);
	none.import = NULL;
	none.import_kinds = NULL;
	CU_ASSERT_FATAL(provauth_manager_add_provider(mgr, &declared) == 0);
	CU_ASSERT_FATAL(provauth_manager_add_provider(mgr, &cut) == 0);
	CU_ASSERT_FATAL(provauth_manager_add_provider(mgr, &none) == 0);

	CU_ASSERT_EQUAL(provauth_provider_import_kinds(&k, mgr, "declared"), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_STRING_EQUAL(k[0].name, "token");
	CU_ASSERT_STRING_EQUAL(k[0].summary, "an email standing for a token");
	CU_ASSERT_STRING_EQUAL(k[1].name, "otp");
	CU_ASSERT_PTR_NULL(k[2].name);
	CU_ASSERT_PTR_NULL(k[2].summary);
	/* undeclared: NULL, and the provider is asked with any kind, as before */
	CU_ASSERT_EQUAL(provauth_provider_import_kinds(&k, mgr, "importer"), 0);
	CU_ASSERT_PTR_NULL(k);
	CU_ASSERT_EQUAL(provauth_provider_import_kinds(&k, mgr, "cut"), 0);
	CU_ASSERT_PTR_NULL(k);
	/* no import at all: nothing is accepted */
	CU_ASSERT_EQUAL(provauth_provider_import_kinds(&k, mgr, "none"), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_PTR_NULL(k[0].name);
	k = test_kinds;
	CU_ASSERT_EQUAL(provauth_provider_import_kinds(&k, mgr, "nosuch"), PROVAUTH_ENOTFOUND);
	CU_ASSERT_PTR_NULL(k);
	CU_ASSERT(error_has("'nosuch'"));
	CU_ASSERT_EQUAL(provauth_provider_import_kinds(&k, NULL, "declared"), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_provider_import_kinds(&k, mgr, NULL), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_provider_import_kinds(NULL, mgr, "declared"), PROVAUTH_EINVAL);

	/* an undeclared kind never reaches the provider, with or without an account */
	imports = 0;
	CU_ASSERT_EQUAL(provauth_account_import(&id, mgr, "declared", "cookies", "a@example.com"),
	                PROVAUTH_EUNSUPPORTED);
	CU_ASSERT(error_has("provider declared does not import kind 'cookies'; it imports: token, otp"));
	CU_ASSERT_FALSE(error_has("a@example.com"));
	CU_ASSERT_PTR_NULL(id);
	CU_ASSERT_EQUAL(provauth_account_import(&id, mgr, "declared", "rt-SECRET.9f3", "a@example.com"),
	                PROVAUTH_EUNSUPPORTED);
	CU_ASSERT(error_has("provider declared") && error_has("it imports: token, otp"));
	CU_ASSERT_FALSE(error_has("SECRET"));
	put_account("target", "declared", "a@example.com");
	{
		provauth_import_options o = PROVAUTH_IMPORT_OPTIONS_INIT;
		o.account_id = "target";
		CU_ASSERT_EQUAL(provauth_account_import_ext(&id, mgr, "declared", "Token", "a@example.com", &o),
		                PROVAUTH_EUNSUPPORTED);
		CU_ASSERT(error_has("not a kind name") && error_has("not shown") && error_has("token, otp"));
		/* what stands where a kind should is not quoted: it may be a misplaced secret */
		CU_ASSERT_FALSE(error_has("Token"));
		/* a declared kind goes through to the provider */
		CU_ASSERT_EQUAL(provauth_account_import_ext(&id, mgr, "declared", "token", "a@example.com", &o), 0);
		CU_ASSERT_STRING_EQUAL(seen_existing, "target");
	}
	CU_ASSERT_EQUAL(imports, 1);
	free(id);
	id = NULL;
	/* a declared kind the provider then refuses itself: its own error stands */
	CU_ASSERT_EQUAL(provauth_account_import(&id, mgr, "declared", "otp", "b@example.com"), PROVAUTH_EUNSUPPORTED);
	CU_ASSERT(error_has("test: unknown kind"));
	CU_ASSERT_EQUAL(imports, 2);
	/* undeclared kinds: the provider is asked and refuses */
	CU_ASSERT_EQUAL(provauth_account_import(&id, mgr, "cut", "cookies", "b@example.com"), PROVAUTH_EUNSUPPORTED);
	CU_ASSERT(error_has("test: unknown kind"));
	CU_ASSERT_EQUAL(imports, 3);
	CU_ASSERT_EQUAL(provauth_account_import(&id, mgr, "none", "token", "b@example.com"), PROVAUTH_EUNSUPPORTED);
	CU_ASSERT(error_has("cannot import"));
	CU_ASSERT_EQUAL(imports, 3);
	CU_ASSERT_PTR_NULL(id);
}

static const pa_test tests[] = {
	{ "without an account: matched by email, no existing", test_without_account_matches_by_email },
	{ "options v2: the account as it was before", test_previous_account },
	{ "into an account: existing passed, id and metadata kept", test_into_account_passes_existing_and_keeps_it },
	{ "unknown or foreign account: refused before the import", test_unknown_or_foreign_account_is_refused_before_import },
	{ "another email: refused, nothing stored", test_other_email_is_refused_and_nothing_stored },
	{ "another email, replaced token: kept in the right account", test_other_email_with_replaced_token_keeps_the_token },
	{ "another email, a sign-in: the new session kept in the right account", test_other_email_sign_in_keeps_the_session },
	{ "no email: PROVAUTH_ENOEMAIL, nothing stored", test_no_email_is_enoemail },
	{ "an account without email", test_account_without_email },
	{ "write conflict: one import, applied to a fresh read", test_conflict_applies_the_same_import_to_a_fresh_read },
	{ "bad options version, unknown kind", test_bad_options_and_kind },
	{ "declared kinds: listed, and others refused before the import", test_declared_kinds_listed_and_enforced },
	PA_TEST_END
};

static const pa_test_suite suites[] = {
	{ "import into an account", setup, teardown, tests },
	PA_TEST_SUITE_END
};

int main(int argc, char **argv)
{
	return pa_test_run(argc, argv, suites);
}
