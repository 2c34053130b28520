#include "config.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "scripted_provider.h"

static scripted_server *server;

typedef struct scripted_state {
	const provauth_host *host;
} scripted_state;

void scripted_use_server(scripted_server *s)
{
	server = s;
}

scripted_server *scripted_server_new(void)
{
	pthread_mutexattr_t attr;
	scripted_server *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (s == MAP_FAILED)
		return NULL;
	memset(s, 0, sizeof(*s));
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&s->mu, &attr);
	pthread_mutexattr_destroy(&attr);
	strcpy(s->valid_token, "jwt-SECRET-0");
	strcpy(s->expected_password, "pw-SECRET");
	s->access_ttl = 3600;
	return s;
}

void scripted_server_free(scripted_server *s)
{
	if (s)
		munmap(s, sizeof(*s));
}

static void issue_token_locked(scripted_server *s)
{
	snprintf(s->valid_token, sizeof(s->valid_token), "jwt-SECRET-%u", ++s->token_serial);
}

const char *scripted_server_kick(scripted_server *s)
{
	pthread_mutex_lock(&s->mu);
	issue_token_locked(s);
	pthread_mutex_unlock(&s->mu);
	return s->valid_token;
}

static int s_init(void **state, const provauth_host *host, const provauth_setting *settings)
{
	scripted_state *st = calloc(1, sizeof(*st));
	(void)settings;
	if (!st)
		return PROVAUTH_ENOMEM;
	st->host = host;
	*state = st;
	return 0;
}

static void s_fini(void *state)
{
	free(state);
}

static int s_build(void *state, const provauth_account *a, provauth_session *s, provauth_update *u)
{
	(void)state; (void)a; (void)s; (void)u;
	atomic_fetch_add(&server->builds, 1);
	return 0;
}

/* The body format follows Pixverse: {"ErrCode": n, "ErrMsg": "..."}. */
static int s_classify(void *state, const provauth_failure *f, provauth_outcome *o)
{
	scripted_state *st = state;
	provauth_json *j;
	int64_t code = 0;

	if (f->kind == PROVAUTH_FAILURE_HTTP && f->http_status == 429) {
		o->result = PROVAUTH_ERATELIMIT;
		o->retry_after = f->retry_after;
		snprintf(o->error_reason, sizeof(o->error_reason), "rate_limited");
		return 0;
	}
	if (f->kind != PROVAUTH_FAILURE_HTTP || !f->body)
		return 0;
	j = st->host->json_parse(f->body, f->body_len);
	st->host->json_int(st->host->json_get(j, "ErrCode"), &code);
	st->host->json_free(j);
	snprintf(o->error_code, sizeof(o->error_code), "%lld", (long long)code);
	if (code == 10005 || code == 10003) {
		o->is_session_error = o->should_invalidate_cache = o->should_attempt_reauth = 1;
		o->result = PROVAUTH_ESESSION;
		snprintf(o->error_reason, sizeof(o->error_reason), "%s",
		         code == 10005 ? "logged_elsewhere" : "user_not_login");
	} else {
		o->result = PROVAUTH_EPROVIDER;
		snprintf(o->error_reason, sizeof(o->error_reason), "api_error");
	}
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int s_reauth(void *state, const provauth_account *a, const char *password, provauth_update *u)
{
	scripted_state *st = state;
	char token[64];
	int forced;

	atomic_fetch_add(&server->logins, 1);
	if (server->login_delay_ms)
		sleep_ms(server->login_delay_ms);
	if (server->google_on_login) {
		st->host->update_set_metadata(u, "auth_method", "\"google\"");
		st->host->update_set_credential(u, PROVAUTH_CRED_PASSWORD, NULL, NULL, 0);
		return st->host->set_error(st->host, PROVAUTH_EAUTH, "scripted: sign in via OAuth");
	}
	if ((forced = server->login_result) != 0)
		return st->host->set_error(st->host, forced, "scripted: login refused (forced)");
	if (strcmp(password, server->expected_password) != 0)
		return st->host->set_error(st->host, PROVAUTH_EAUTH, "scripted: password is incorrect");
	pthread_mutex_lock(&server->mu);
	issue_token_locked(server);
	snprintf(token, sizeof(token), "%s", server->valid_token);
	pthread_mutex_unlock(&server->mu);
	st->host->update_set_credential(u, PROVAUTH_CRED_JWT, NULL, token, 0);
	st->host->update_set_credential(u, PROVAUTH_CRED_COOKIE, "_ai_token", token, 0);
	/* One token per session: an OAuth-style account's access token moves too. */
	if (provauth_account_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL))
		st->host->update_set_credential(u, PROVAUTH_CRED_ACCESS_TOKEN, NULL, token,
		                                provauth_account_credential_expires(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL));
	return 0;
}

static int s_refresh(void *state, const provauth_account *a, provauth_update *u)
{
	scripted_state *st = state;
	char token[64];

	(void)a;
	atomic_fetch_add(&server->refreshes, 1);
	if (server->login_delay_ms)
		sleep_ms(server->login_delay_ms);
	if (server->refresh_result)
		return st->host->set_error(st->host, server->refresh_result, "scripted: refresh refused (forced)");
	pthread_mutex_lock(&server->mu);
	issue_token_locked(server);
	snprintf(token, sizeof(token), "%s", server->valid_token);
	pthread_mutex_unlock(&server->mu);
	st->host->update_set_credential(u, PROVAUTH_CRED_JWT, NULL, token, 0);
	st->host->update_set_credential(u, PROVAUTH_CRED_ACCESS_TOKEN, NULL, token,
	                                st->host->now(st->host) + server->access_ttl);
	st->host->update_set_credential(u, PROVAUTH_CRED_REFRESH_TOKEN, NULL, "refresh-SECRET-next", 0);
	return 0;
}

static int s_op_echo(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
                     char **out, provauth_failure *f)
{
	(void)state;
	if (scripted_op(s, f, NULL) < 0)
		return f->code;
	*out = strdup(nargs && args[0].value ? "{\"echo\":true}" : "{\"echo\":false}");
	return *out ? 0 : PROVAUTH_ENOMEM;
}

/* Answers its first argument's value as it is, JSON or not: a plugin bug to be caught. */
static int s_op_raw(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
                    char **out, provauth_failure *f)
{
	(void)state;
	if (scripted_op(s, f, NULL) < 0)
		return f->code;
	*out = strdup(nargs && args[0].value ? args[0].value : "");
	return *out ? 0 : PROVAUTH_ENOMEM;
}

static const provauth_operation scripted_ops[] = {
	{ "echo", "answers {\"echo\":...}", s_op_echo },
	{ "raw", "answers its argument's value as it is", s_op_raw },
};

int scripted_op(const provauth_session *session, provauth_failure *failure, void *payload)
{
	const char *token = provauth_session_credential(session, PROVAUTH_CRED_ACCESS_TOKEN, NULL)
	                    ? provauth_session_credential(session, PROVAUTH_CRED_ACCESS_TOKEN, NULL)
	                    : provauth_session_credential(session, PROVAUTH_CRED_JWT, NULL);
	char body[128];
	int ok, forced;

	(void)payload;
	atomic_fetch_add(&server->ops, 1);
	pthread_mutex_lock(&server->mu);
	forced = server->next_error;
	server->next_error = 0;
	ok = token && strcmp(token, server->valid_token) == 0 && !server->fail_after_login;
	if (server->rate_limit_next) {
		server->rate_limit_next = 0;
		pthread_mutex_unlock(&server->mu);
		provauth_failure_set_http(failure, 429, "{}", 2, 42);
		return PROVAUTH_ERATELIMIT;
	}
	pthread_mutex_unlock(&server->mu);
	if (forced) {
		snprintf(body, sizeof(body), "{\"ErrCode\":%d,\"ErrMsg\":\"forced\"}", forced);
		provauth_failure_set_http(failure, 200, body, strlen(body), -1);
		return PROVAUTH_EPROVIDER;
	}
	if (ok)
		return 0;
	snprintf(body, sizeof(body), "{\"ErrCode\":10005,\"ErrMsg\":\"logged in elsewhere\"}");
	provauth_failure_set_http(failure, 200, body, strlen(body), -1);
	return PROVAUTH_ESESSION;
}

static int s_cost(void *state, const char *operation, const provauth_op_arg *args, size_t nargs,
                  char kind[PROVAUTH_CREDIT_KIND_MAX], int64_t *cost)
{
	scripted_state *st = state;
	size_t i;

	if (strcmp(operation, "job") != 0)
		return PROVAUTH_ENOTFOUND;
	snprintf(kind, PROVAUTH_CREDIT_KIND_MAX, "web");
	*cost = 0;
	for (i = 0; i < nargs; i++) {
		if (strcmp(args[i].key, "cost") == 0)
			*cost = atoll(args[i].value);
		else if (strcmp(args[i].key, "kind") == 0)
			snprintf(kind, PROVAUTH_CREDIT_KIND_MAX, "%s", args[i].value);
		else if (strcmp(args[i].key, "bad") == 0)
			return st->host->set_error(st->host, PROVAUTH_EINVAL, "scripted: parameter bad refused");
	}
	return 0;
}

static int s_pool_status(void *state, const provauth_session *s, char **out_json, provauth_failure *f)
{
	scripted_state *st = state;

	atomic_fetch_add(&server->pool_status_calls, 1);
	if (scripted_op(s, f, NULL) < 0)
		return f->code;
	*out_json = st->host->json_format(st->host, "{\"credits\":{\"web\":%i,\"gold\":7},\"max_concurrent\":%i,"
	                                  "\"blocked\":%b}", (int64_t)server->pool_credits, (int64_t)server->pool_max,
	                                  server->pool_blocked);
	return *out_json ? 0 : PROVAUTH_ENOMEM;
}

static const char *job_state(const char *id)
{
	if (strncmp(id, "done", 4) == 0)
		return "done";
	if (strncmp(id, "mod", 3) == 0)
		return "moderated";
	if (strncmp(id, "fail", 4) == 0)
		return "failed";
	return "processing";
}

static int s_job_status(void *state, const provauth_session *s, const char *const *ids, size_t n, char **out_json,
                        provauth_failure *f)
{
	scripted_state *st = state;
	char list[4096] = "[";
	size_t i;

	atomic_fetch_add(&server->pool_job_calls, 1);
	if (scripted_op(s, f, NULL) < 0)
		return f->code;
	for (i = 0; i < n; i++) {
		char *job = st->host->json_format(st->host, "{\"id\":%s,\"state\":%s}", ids[i], job_state(ids[i]));
		if (!job)
			return PROVAUTH_ENOMEM;
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "," : "", job);
		st->host->free(st->host, job);
	}
	snprintf(list + strlen(list), sizeof(list) - strlen(list), "]");
	*out_json = st->host->json_format(st->host, "{\"jobs\":%j}", list);
	return *out_json ? 0 : PROVAUTH_ENOMEM;
}

static const provauth_pool_hooks scripted_pool = {
	sizeof(provauth_pool_hooks), "web", 2, s_cost, s_pool_status, s_job_status
};

#define SCRIPTED_BASE(refresh_fn)                                                      \
	PROVAUTH_PLUGIN_ABI_MAJOR, PROVAUTH_PLUGIN_ABI_MINOR, sizeof(provauth_provider), \
	"scripted", "test provider", "1", NULL, s_init, s_fini, s_build, NULL, s_classify, \
	refresh_fn, s_reauth, { NULL, NULL, NULL, NULL }, scripted_ops, 2, NULL, NULL, 0, &scripted_pool

const provauth_provider scripted_provider = { SCRIPTED_BASE(NULL) };
const provauth_provider scripted_provider_refreshing = { SCRIPTED_BASE(s_refresh) };
