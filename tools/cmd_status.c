/*
 * Commands that look at one account: `status` (the provider's status
 * operation, in words), `call` (any operation, as JSON) and `session`
 * (what the account authenticates with, without a single secret value).
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "cli.h"

/* Opens the settings and manager and reads account `id`; on failure reports it. */
static int open_account(cli_env *env, provauth_account **out, const cli_ctx *ctx, const char *id)
{
	int r;

	*out = NULL;
	if ((r = cli_env_open(env, ctx, CLI_STORE_EXISTING)) != 0)
		return r;
	if ((r = provauth_account_get(out, env->manager, id)) < 0)
		return cli_env_fail(env, r);
	return 0;
}

static int has_operation(const provauth_provider_info *info, const char *op)
{
	size_t i;

	for (i = 0; info->operations && info->operations[i]; i++)
		if (strcmp(info->operations[i], op) == 0)
			return 1;
	return 0;
}

/* "user_detail, get", or "none". */
static void join_operations(char *buf, size_t size, const provauth_provider_info *info)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; info->operations && info->operations[i] && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", info->operations[i]);
	if (i == 0)
		snprintf(buf, size, "none");
}

#define PRETTY_MAX_DEPTH 12

static const char *compact(json_object *v)
{
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* Indents like the tool's own documents; very deep parts stay on one line. */
static void pretty(cli_json *w, const char *key, json_object *v, int depth)
{
	size_t i, n;

	if (v && json_object_is_type(v, json_type_object) && depth < PRETTY_MAX_DEPTH) {
		cli_json_object_begin(w, key);
		json_object_object_foreach(v, k, member)
			pretty(w, k, member, depth + 1);
		cli_json_object_end(w);
	} else if (v && json_object_is_type(v, json_type_array) && depth < PRETTY_MAX_DEPTH) {
		cli_json_array_begin(w, key);
		for (i = 0, n = json_object_array_length(v); i < n; i++)
			pretty(w, NULL, json_object_array_get_idx(v, i), depth + 1);
		cli_json_array_end(w);
	} else {
		cli_json_raw(w, key, v ? compact(v) : "null");
	}
}

/*
 * Prints a JSON text indented like every other document of the tool (--json
 * or not: one style). Text that does not parse goes out as it came.
 */
static void print_json_text(const char *text)
{
	enum json_tokener_error err;
	json_object *o = json_tokener_parse_verbose(text, &err);
	cli_json w;

	if (err != json_tokener_success) {
		printf("%s\n", text);
		return;
	}
	cli_json_init(&w, stdout);
	pretty(&w, NULL, o, 0);
	cli_json_finish(&w);
	json_object_put(o);
}

/* ---- status ---- */

static const char *member_text(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	return json_object_get_string(v);
}

static void print_credits(json_object *c)
{
	json_object *v;

	printf("credits:  web %s (daily %s, monthly %s, package %s)", member_text(c, "web") ? member_text(c, "web") : "?",
	       member_text(c, "daily") ? member_text(c, "daily") : "?",
	       member_text(c, "monthly") ? member_text(c, "monthly") : "?",
	       member_text(c, "package") ? member_text(c, "package") : "?");
	if (json_object_object_get_ex(c, "openapi", &v))
		printf(", openapi %s", v ? json_object_get_string(v) : "unavailable");
	printf("\n");
}

static void print_ad_task(json_object *t)
{
	if (!t || !json_object_is_type(t, json_type_object)) {
		printf("ad task:  none\n");
		return;
	}
	printf("ad task:  %s/%s watched, reward %s\n",
	       member_text(t, "progress") ? member_text(t, "progress") : "?",
	       member_text(t, "total_counts") ? member_text(t, "total_counts") : "?",
	       member_text(t, "reward") ? member_text(t, "reward") : "?");
}

static void print_status(const provauth_account *a, const char *text)
{
	json_object *o = json_tokener_parse(text);

	printf("account:  %s (%s, %s)\n", a->id, a->email ? a->email : "no email", a->provider);
	if (!o || !json_object_is_type(o, json_type_object)) {
		print_json_text(text);
		json_object_put(o);
		return;
	}
	json_object_object_foreach(o, key, val) {
		/* The account line already names them. */
		if (strcmp(key, "provider_id") == 0 || strcmp(key, "email") == 0)
			continue;
		if (strcmp(key, "credits") == 0 && val && json_object_is_type(val, json_type_object))
			print_credits(val);
		else if (strcmp(key, "ad_watch_task") == 0 || strcmp(key, "ad_task") == 0)
			print_ad_task(val);
		else
			printf("%s: %s\n", key, val ? compact(val) : "null");
	}
	json_object_put(o);
}

static int run_status(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	const cli_spec spec = { NULL, 1, 1 };
	provauth_provider_info info;
	provauth_account *a = NULL;
	char *args[CLI_MAX_ARGS], *out = NULL, ops[512];
	size_t nargs;
	cli_env env;
	int r, rc;

	if ((r = cli_parse(ctx, "status", self, &spec, argc, argv, args, &nargs)) >= 0)
		return r;
	if ((r = open_account(&env, &a, ctx, args[0])) != 0)
		goto out;
	if (cli_provider_info(&info, env.manager, a->provider) < 0) {
		cli_error("account %s: provider '%s' is not loaded (see 'provauth plugins')", a->id, a->provider);
		r = CLI_EXIT_ERROR;
		goto out;
	}
	if (!has_operation(&info, "status")) {
		join_operations(ops, sizeof(ops), &info);
		cli_error("account %s: provider %s has no status operation; run one of its operations "
		          "(%s) with 'provauth call %s OPERATION'", a->id, a->provider, ops, a->id);
		r = CLI_EXIT_ERROR;
		goto out;
	}
	cli_progress("contacting %s...", a->provider);
	rc = provauth_call(&out, env.manager, a->id, "status", NULL, 0);
	cli_progress_done();
	if (rc < 0) {
		r = cli_env_fail(&env, rc);
		cli_account_hint(env.manager, a->id, rc);
		goto out;
	}
	if (ctx->json)
		print_json_text(out);
	else
		print_status(a, out);
	r = CLI_EXIT_OK;
out:
	provauth_free(out);
	provauth_account_free(a);
	return cli_env_close(&env, r);
}

/* ---- call ---- */

static int run_call(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	const cli_spec spec = { NULL, 2, CLI_MAX_ARGS };
	provauth_arg call_args[CLI_MAX_ARGS];
	provauth_account *a = NULL;
	char *args[CLI_MAX_ARGS], *out = NULL;
	size_t nargs, i;
	cli_env env;
	int r, rc;

	if ((r = cli_parse(ctx, "call", self, &spec, argc, argv, args, &nargs)) >= 0)
		return r;
	for (i = 2; i < nargs; i++) {
		char *eq = strchr(args[i], '=');
		if (!eq || eq == args[i])
			return cli_usage_error("call", "argument %zu of 'call' is not KEY=VALUE", i + 1);
		/* argv is ours to cut: the key ends at the first '='. */
		*eq = '\0';
		call_args[i - 2].key = args[i];
		call_args[i - 2].value = eq + 1;
	}
	if ((r = open_account(&env, &a, ctx, args[0])) != 0)
		goto out;
	cli_progress("contacting %s...", a->provider);
	rc = provauth_call(&out, env.manager, a->id, args[1], call_args, nargs - 2);
	cli_progress_done();
	if (rc < 0) {
		r = cli_env_fail(&env, rc);
		cli_account_hint(env.manager, a->id, rc);
		goto out;
	}
	print_json_text(out);
	r = CLI_EXIT_OK;
out:
	provauth_free(out);
	provauth_account_free(a);
	return cli_env_close(&env, r);
}

/* ---- session ---- */

static int has(const provauth_account *a, const char *kind)
{
	return provauth_account_credential(a, kind, NULL) != NULL;
}

/* The names of the account's credentials of `kind` (cookie names, API key kinds), never their values. */
static void names_text(const provauth_account *a, const char *kind)
{
	provauth_credential c;
	size_t i, shown = 0, n = provauth_account_credential_count(a);

	for (i = 0; i < n; i++)
		if (provauth_account_credential_at(&c, a, i) == 0 && strcmp(c.kind, kind) == 0)
			printf("%s%s", shown++ ? ", " : "", c.name);
	printf("%s\n", shown ? "" : "none");
}

static void names_json(cli_json *w, const char *key, const provauth_account *a, const char *kind)
{
	provauth_credential c;
	size_t i, n = provauth_account_credential_count(a);

	cli_json_array_begin(w, key);
	for (i = 0; i < n; i++)
		if (provauth_account_credential_at(&c, a, i) == 0 && strcmp(c.kind, kind) == 0)
			cli_json_string(w, NULL, c.name);
	cli_json_array_end(w);
}

static void session_text(const provauth_account *a, const cli_health *h)
{
	int64_t expires = provauth_account_credential_expires(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL);
	char t[40];

	printf("account:        %s\n", a->id);
	printf("provider:       %s\n", a->provider);
	printf("email:          %s\n", a->email ? a->email : "-");
	printf("auth_method:    %s\n", provauth_auth_method_name(provauth_account_auth_method(a)));
	printf("password:       %s\n", has(a, PROVAUTH_CRED_PASSWORD) ? "stored" : "none");
	printf("jwt:            %s\n", has(a, PROVAUTH_CRED_JWT) ? "present" : "none");
	printf("cookies:        ");
	names_text(a, PROVAUTH_CRED_COOKIE);
	printf("api keys:       ");
	names_text(a, PROVAUTH_CRED_API_KEY);
	if (provauth_account_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL)) {
		cli_format_time(t, sizeof(t), expires);
		printf("access token:   present, expires %s\n", expires > 0 ? t : "at an unknown time");
	} else {
		printf("access token:   none\n");
	}
	printf("refresh token:  %s\n", has(a, PROVAUTH_CRED_REFRESH_TOKEN) ? "present" : "none");
	if (a->state.last_reauth_at > 0) {
		cli_format_time(t, sizeof(t), a->state.last_reauth_at);
		printf("last login:     %s\n", t);
	}
	if (!h->present) {
		printf("session health: not recorded yet\n");
	} else {
		char summary[160];
		cli_health_summary(summary, sizeof(summary), h);
		cli_format_time(t, sizeof(t), h->at);
		printf("session health: %s since %s\n", summary, t);
		if (h->message[0])
			printf("                %s\n", h->message);
	}
	cli_format_time(t, sizeof(t), a->updated_at);
	printf("updated:        %s (revision %llu)\n", t, (unsigned long long)a->revision);
}

static void session_json(const provauth_account *a, const cli_health *h)
{
	int has_access = provauth_account_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL) != NULL;
	int64_t expires = provauth_account_credential_expires(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL);
	cli_json w;

	cli_json_init(&w, stdout);
	cli_json_object_begin(&w, NULL);
	cli_json_string(&w, "id", a->id);
	cli_json_string(&w, "provider", a->provider);
	cli_json_string(&w, "email", a->email);
	cli_json_string(&w, "auth_method", provauth_auth_method_name(provauth_account_auth_method(a)));
	cli_json_bool(&w, "has_password", provauth_account_credential(a, PROVAUTH_CRED_PASSWORD, NULL) != NULL);
	cli_json_bool(&w, "has_jwt", provauth_account_credential(a, PROVAUTH_CRED_JWT, NULL) != NULL);
	names_json(&w, "cookies", a, PROVAUTH_CRED_COOKIE);
	names_json(&w, "api_keys", a, PROVAUTH_CRED_API_KEY);
	cli_json_bool(&w, "has_access_token", has_access);
	if (has_access && expires > 0)
		cli_json_int(&w, "access_expires_at", expires);
	else
		cli_json_string(&w, "access_expires_at", NULL);
	cli_json_bool(&w, "has_refresh_token", has(a, PROVAUTH_CRED_REFRESH_TOKEN));
	if (a->state.last_reauth_at > 0)
		cli_json_int(&w, "last_reauth_at", a->state.last_reauth_at);
	else
		cli_json_string(&w, "last_reauth_at", NULL);
	cli_health_json(&w, h);
	cli_json_int(&w, "updated_at", a->updated_at);
	cli_json_int(&w, "revision", (long long)a->revision);
	cli_json_object_end(&w);
	cli_json_finish(&w);
}

/*
 * Reads the stored account rather than building a session: building one may
 * refresh tokens, and a no-op "operation" succeeding would mark the session
 * healthy without having proved anything.
 */
static int run_session(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	const cli_spec spec = { NULL, 1, 1 };
	provauth_account *a = NULL;
	char *args[CLI_MAX_ARGS];
	cli_health h;
	size_t nargs;
	cli_env env;
	int r;

	if ((r = cli_parse(ctx, "session", self, &spec, argc, argv, args, &nargs)) >= 0)
		return r;
	if ((r = open_account(&env, &a, ctx, args[0])) == 0) {
		cli_account_health(&h, a);
		if (ctx->json)
			session_json(a, &h);
		else
			session_text(a, &h);
	}
	provauth_account_free(a);
	return cli_env_close(&env, r);
}

const cli_command cli_cmd_status = {
	.name = "status",
	.summary = "run the provider's status operation for an account",
	.usage = "ID",
	.help = "For pixverse: the credits (web total with daily, monthly and package, and\n"
	        "OpenAPI credits when the account has a key) and the ad-watch task. With\n"
	        "--json, prints the operation's JSON, indented. A lost session is recovered\n"
	        "once where the account allows it; otherwise the error says what to do.\n",
	.run = run_status,
};

const cli_command cli_cmd_call = {
	.name = "call",
	.summary = "run any named operation of an account's provider",
	.usage = "ID OPERATION [KEY=VALUE...]",
	.help = "Prints the operation's JSON result, indented (the same with --json).\n"
	        "'provauth plugins' lists each provider's operations.\n",
	.run = run_call,
};

const cli_command cli_cmd_session = {
	.name = "session",
	.summary = "show what an account authenticates with, without secret values",
	.usage = "ID",
	.help = "Shows which credentials are stored (password, JWT, cookie names, API key\n"
	        "kinds, access and refresh tokens), the access token's expiry and the session\n"
	        "health the last call recorded. Secret values are never shown.\n",
	.run = run_session,
};
