/*
 * A provider whose "server" the test controls: it holds the one token the
 * server currently accepts (one live session per account, like Pixverse) and
 * counts logins and refreshes. Its state lives in a MAP_SHARED mapping so
 * that forked processes see the same server.
 */
#ifndef SCRIPTED_PROVIDER_H
#define SCRIPTED_PROVIDER_H

#include <pthread.h>
#include <stdatomic.h>
#include <provauth/provauth.h>
#include <provauth/plugin.h>

typedef struct scripted_server {
	pthread_mutex_t mu;            /* process-shared */
	char valid_token[64];          /* the token the server accepts now */
	unsigned token_serial;
	char expected_password[64];
	atomic_int logins;             /* try_reauth calls that reached the server */
	atomic_int refreshes;          /* refresh calls */
	atomic_int ops;                /* operations that reached the server */
	atomic_int builds;             /* build_session calls */
	int login_result;              /* forced try_reauth result (0: normal) */
	int refresh_result;            /* forced refresh result (0: normal) */
	int login_delay_ms;            /* makes storms overlap */
	int fail_after_login;          /* the server rejects even fresh tokens */
	int access_ttl;                /* refresh: expires_in */
	int next_error;                /* force an ErrCode for the next op (consumed) */
	int rate_limit_next;           /* next op answers HTTP 429 with Retry-After */
	int google_on_login;           /* login answers "sign in via OAuth" */
	/* The pool hooks' answers (every account the same). */
	int pool_credits;              /* status: credits of kind "web" */
	int pool_max;                  /* status: max_concurrent (0: unknown) */
	int pool_blocked;              /* status: blocked */
	atomic_int pool_status_calls;
	atomic_int pool_job_calls;     /* job_status calls (one per account asked) */
} scripted_server;

/* Creates the shared server state (token "jwt-SECRET-0" valid, password "pw-SECRET"). */
scripted_server *scripted_server_new(void);
void scripted_server_free(scripted_server *s);
/* Invalidates the current token, as a login elsewhere would; returns the new token. */
const char *scripted_server_kick(scripted_server *s);

/*
 * Provider descriptions: with and without a refresh step. Both have pool
 * hooks: estimate_cost of operation "job" (args cost=N, kind=K (default
 * "web"), bad=1 refused naming "bad"), status (pool_credits, pool_max,
 * pool_blocked, through scripted_op's session check) and job_status (a job
 * id starting "done", "mod" or "fail" ended so; anything else processing).
 */
extern const provauth_provider scripted_provider;
extern const provauth_provider scripted_provider_refreshing;

/* The operation tests run: succeeds when the session's token is the valid one. */
int scripted_op(const provauth_session *session, provauth_failure *failure, void *payload);

/* Which server the providers talk to (set before creating managers). */
void scripted_use_server(scripted_server *s);

#endif
