/*
 * The route table http/router.c matches: every route of provauthd, its
 * scope and its metrics name. docs/api/openapi.json describes each one;
 * tests/daemon/test_daemon_api.c checks that the two agree.
 *
 * Scopes: READ looks, OPERATE uses accounts (calls, jobs, status reads
 * that may log in), ADMIN changes the set of accounts or how they sign in.
 * GET /v1/jobs/{id} is OPERATE although a GET: it gives the job's pool
 * slot back once the job ended.
 */
#include "config.h"
#include "api.h"

const pad_route pad_routes[] = {
	/* ops/ (its handlers) */
	/* Open: without a token it is the sign-in form; the handler checks the bearer or the cookie itself. */
	{ "GET", "/", PAD_SCOPE_NONE, pad_handle_status_page, "status_page" },
	{ "GET", "/healthz", PAD_SCOPE_NONE, pad_handle_healthz, "healthz" },
	{ "GET", "/readyz", PAD_SCOPE_NONE, pad_handle_readyz, "readyz" },
	{ "GET", "/metrics", PAD_SCOPE_READ, pad_handle_metrics, "metrics" },
	/* The status page's sign-in form: checks the token it is given itself (daemon.h). */
	{ "POST", "/login", PAD_SCOPE_NONE, pad_handle_login, "login" },
	/* accounts */
	{ "GET", "/v1/accounts", PAD_SCOPE_READ, pad_api_accounts_list, "accounts_list" },
	{ "POST", "/v1/accounts/import-cookies", PAD_SCOPE_ADMIN, pad_api_import_cookies, "accounts_import_cookies" },
	{ "GET", "/v1/accounts/{id}", PAD_SCOPE_READ, pad_api_accounts_get, "accounts_get" },
	{ "DELETE", "/v1/accounts/{id}", PAD_SCOPE_ADMIN, pad_api_accounts_delete, "accounts_delete" },
	{ "POST", "/v1/accounts/{id}/reauth", PAD_SCOPE_OPERATE, pad_api_reauth, "accounts_reauth" },
	{ "POST", "/v1/accounts/{id}/connect-google", PAD_SCOPE_ADMIN, pad_api_connect_google,
	  "accounts_connect_google" },
	{ "GET", "/v1/accounts/{id}/pixverse-status", PAD_SCOPE_OPERATE, pad_api_pixverse_status,
	  "accounts_pixverse_status" },
	{ "POST", "/v1/accounts/{id}/call/{operation}", PAD_SCOPE_OPERATE, pad_api_call, "accounts_call" },
	/* the pool and its jobs */
	{ "POST", "/v1/jobs", PAD_SCOPE_OPERATE, pad_api_jobs_create, "jobs_create" },
	{ "GET", "/v1/jobs/{id}", PAD_SCOPE_OPERATE, pad_api_jobs_get, "jobs_get" },
	{ "GET", "/v1/pool", PAD_SCOPE_READ, pad_api_pool, "pool" },
	/* what the current world loaded: checks a hot reload */
	{ "GET", "/v1/providers", PAD_SCOPE_READ, pad_handle_providers, "providers" },
};

const size_t pad_route_count = sizeof(pad_routes) / sizeof(pad_routes[0]);
