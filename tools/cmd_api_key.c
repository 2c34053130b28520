/*
 * provauth accounts set-api-key: stores (or removes) an API key of an
 * account, e.g. the Pixverse OpenAPI key image uploads need. The key is a
 * secret: read from a file, the environment or standard input, never from
 * the command line, and never printed.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "cli.h"

/* The account's API key of `kind` set (key) or removed (NULL), written revision-checked; once more on a race. */
static int store_key(provauth_manager *m, const char *id, const char *kind, const char *key)
{
	provauth_account *a = NULL;
	int attempt, rc = 0;

	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = provauth_account_get(&a, m, id)) < 0)
			return rc;
		rc = provauth_account_set_api_key(a, kind, key);
		if (rc == 0)
			rc = provauth_account_put(m, a);
		provauth_account_free(a);
		a = NULL;
		if (rc != PROVAUTH_ECONFLICT)
			break;
	}
	return rc;
}

int cli_run_set_api_key(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	const char *kind = NULL, *file = NULL, *env_var = NULL;
	int remove = 0;
	const cli_option opts[] = {
		{ "--kind", "KIND", &kind, NULL },
		{ "--from-file", "FILE", &file, NULL },
		{ "--from-env", "VAR", &env_var, NULL },
		{ "--remove", NULL, NULL, &remove },
		{ NULL, NULL, NULL, NULL },
	};
	const cli_spec spec = { opts, 1, 1 };
	char *args[CLI_MAX_ARGS], *key = NULL;
	size_t nargs;
	cli_env env;
	int r, rc;

	if ((r = cli_parse(ctx, "accounts set-api-key", self, &spec, argc, argv, args, &nargs)) >= 0)
		return r;
	if (!kind || !*kind)
		return cli_usage_error("accounts set-api-key", "--kind is required (e.g. --kind openapi)");
	if (remove && (file || env_var))
		return cli_usage_error("accounts set-api-key", "--remove reads no key");
	if ((r = cli_env_open(&env, ctx, CLI_STORE_EXISTING)) != 0)
		return r;
	if (!remove && (r = cli_secret_read(&key, "API key", file, env_var, "API key: ", 0)) != 0)
		return cli_env_close(&env, r);
	rc = store_key(env.manager, args[0], kind, remove ? NULL : key);
	cli_secret_free(key);
	if (rc < 0)
		return cli_env_close(&env, cli_env_fail(&env, rc));
	if (ctx->json) {
		cli_json w;
		cli_json_init(&w, stdout);
		cli_json_object_begin(&w, NULL);
		cli_json_string(&w, "id", args[0]);
		cli_json_string(&w, "kind", kind);
		cli_json_bool(&w, "stored", !remove);
		cli_json_object_end(&w);
		cli_json_finish(&w);
	} else if (remove) {
		printf("Removed the %s API key of account %s.\n", kind, args[0]);
	} else {
		printf("Stored the %s API key of account %s.\n", kind, args[0]);
	}
	return cli_env_close(&env, CLI_EXIT_OK);
}
