/*
 * What the CUnit test programs share: the runner (one main() shape for all
 * of them), a log sink that keeps every event as text so tests can look for
 * events and prove that secrets are absent, a store that forwards to
 * another with hooks around each call, and recursive removal of a temp dir.
 */
#ifndef PA_TEST_H
#define PA_TEST_H

#include <stddef.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include <provauth/provauth.h>
#include <provauth/store.h>

/* ---- runner ---- */

typedef struct pa_test {
	const char *name;
	CU_TestFunc fn;
} pa_test;

/* `tests` ends with PA_TEST_END; a suite table ends with a NULL name. */
typedef struct pa_test_suite {
	const char *name;
	CU_InitializeFunc init;
	CU_CleanupFunc clean;
	const pa_test *tests;
} pa_test_suite;

#define PA_TEST_END { NULL, NULL }
#define PA_TEST_SUITE_END { NULL, NULL, NULL, NULL }

/* Set by pa_test_run from -v or PA_TEST_VERBOSE, before any suite starts. */
extern int pa_test_verbose;

/*
 * Registers the suites, runs them in CUnit's verbose basic mode and returns
 * the exit status for main: 0 when everything passed, 1 on any failed
 * assertion, test or suite set-up/clean-up, 2 on a bad argument or a
 * registry error. The only argument accepted is -v.
 */
int pa_test_run(int argc, char **argv, const pa_test_suite *suites);

/* ---- log capture ---- */

/*
 * A provauth_log_fn that appends "event key=value ..." (one line an event,
 * numbers and booleans as integers) to a process-wide buffer. Thread-safe.
 */
void pa_test_log_capture(provauth_log_level level, const char *event, const provauth_log_field *fields,
                         size_t nfields, void *payload);
/* Appends one line of the test's own, e.g. an error message to check with the logs. */
void pa_test_log_add(const char *line);
/* Whether s occurs anywhere in what was captured. */
int pa_test_log_contains(const char *s);
/* Lines starting with `event` (then a space or the end); only those containing `with` when not NULL. */
int pa_test_log_count(const char *event, const char *with);
/* Everything captured, or NULL when nothing was; not safe while events still arrive. */
const char *pa_test_log_text(void);
/* Forgets (and frees) everything captured. */
void pa_test_log_reset(void);

/* ---- forwarding store ---- */

typedef enum pa_fwd_op {
	PA_FWD_GET,
	PA_FWD_LIST,
	PA_FWD_PUT,
	PA_FWD_REMOVE,
	PA_FWD_LEASE_ACQUIRE,
	PA_FWD_LEASE_RELEASE,
	PA_FWD_PUT_MANY,
	PA_FWD_LIST_CHECKED,
	PA_FWD_LEASE_WAIT,
	PA_FWD_PUT_VERBATIM,
	PA_FWD_POOL_RESERVE,
	PA_FWD_POOL_ATTACH,
	PA_FWD_POOL_RELEASE,
	PA_FWD_POOL_UPDATE,
	PA_FWD_POOL_LIST,
	PA_FWD_POOL_RECLAIM,
	PA_FWD_FIND_EMAIL
} pa_fwd_op;

/* Either hook may be NULL. `before`'s result is handed to `after`, whose result the caller gets. */
typedef struct pa_fwd_hooks {
	long (*before)(pa_fwd_op op, void *payload);
	int (*after)(pa_fwd_op op, int rc, long token, void *payload);
	void *payload;
} pa_fwd_hooks;

/*
 * A store with inner's name that forwards every call to inner, calling the
 * hooks around each; it owns inner (freed with it, or at once on failure).
 * Returns 0 or -1 (out of memory).
 */
int pa_fwd_store_new(provauth_store **out, provauth_store *inner, const pa_fwd_hooks *hooks);
/*
 * The same, declaring store `version`: below 2 it has no put_many (like a
 * host store built against version 1), below 3 no list_checked, below 4 no
 * lease_wait and put_verbatim, below 5 no pool members, below 6 no
 * find_email; a member inner lacks stays NULL.
 */
int pa_fwd_store_new_version(provauth_store **out, provauth_store *inner, const pa_fwd_hooks *hooks,
                             unsigned int version);

/* ---- an account for store tests (store_account.c) ---- */

/*
 * An account carrying every kind of credential (password, JWT, refresh and
 * access tokens, two cookies, an API key), each secret value one of
 * pa_test_store_secrets, so a test can look for all of them anywhere.
 */
#define PA_TEST_STORE_SECRETS 6
extern const char *const pa_test_store_secrets[PA_TEST_STORE_SECRETS];
provauth_account *pa_test_store_account(const char *id, const char *provider);
/* Whether the thread's last error holds `what`; holds none of the secrets above. */
int pa_test_error_has(const char *what);
int pa_test_error_has_no_secret(void);

/* ---- files ---- */

/* Removes dir and everything below it (symlinks are not followed); 0 or -1. */
int pa_test_rmtree(const char *dir);

/* An account's single-valued credential by its PROVAUTH_CRED_ suffix: PA_CRED(a, JWT). */
#define PA_CRED(a, kind) provauth_account_credential((a), PROVAUTH_CRED_##kind, NULL)
/* Its expiry: PA_CRED_EXPIRES(a, ACCESS_TOKEN). */
#define PA_CRED_EXPIRES(a, kind) provauth_account_credential_expires((a), PROVAUTH_CRED_##kind, NULL)

/* How many credentials of `kind` the account holds (cookies, API keys). */
static inline size_t pa_test_count(const provauth_account *a, const char *kind)
{
	size_t i, n = 0;

	for (i = 0; a && i < a->credential_count; i++)
		n += strcmp(a->credentials[i].kind, kind) == 0;
	return n;
}

/* The j-th credential of `kind`, in the account's order; NULL past the last. */
static inline const provauth_credential *pa_test_nth(const provauth_account *a, const char *kind, size_t j)
{
	size_t i;

	for (i = 0; a && i < a->credential_count; i++)
		if (strcmp(a->credentials[i].kind, kind) == 0 && j-- == 0)
			return &a->credentials[i];
	return NULL;
}

#endif /* PA_TEST_H */
