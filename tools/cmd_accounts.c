/*
 * `provauth accounts ...`: list, import and change the stored accounts.
 * Credentials come from standard input, a file or the environment (never
 * argv) and are never printed; neither is anything else secret.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

/* ---- list ---- */

typedef struct row {
	const provauth_account *a;
	char health[128];
	char updated[40];
} row;

static int width(int w, const char *s)
{
	int n = (int)strlen(s ? s : "-");
	return n > w ? n : w;
}

/* `no_store`: why there is no store to list ("no store at PATH"), or NULL. */
static void list_text(provauth_account **list, size_t n, const char *provider, const char *no_store)
{
	int w_id = 2, w_prov = 8, w_email = 5, w_auth = 11, w_health = 6;
	row *rows;
	size_t i;

	if (n == 0) {
		printf("No %s%saccounts%s%s%s.\n", provider ? provider : "", provider ? " " : "",
		       no_store ? " (" : "", no_store ? no_store : "", no_store ? ")" : "");
		return;
	}
	if (!(rows = calloc(n, sizeof(*rows)))) {
		cli_error("out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		cli_health h;
		rows[i].a = list[i];
		cli_account_health(&h, list[i]);
		cli_health_summary(rows[i].health, sizeof(rows[i].health), &h);
		cli_format_time(rows[i].updated, sizeof(rows[i].updated), list[i]->updated_at);
		w_id = width(w_id, list[i]->id);
		w_prov = width(w_prov, list[i]->provider);
		w_email = width(w_email, list[i]->email);
		w_health = width(w_health, rows[i].health);
	}
	printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w_id, "ID", w_prov, "PROVIDER", w_email, "EMAIL",
	       w_auth, "AUTH_METHOD", w_health, "HEALTH", "UPDATED");
	for (i = 0; i < n; i++) {
		const provauth_account *a = rows[i].a;
		printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w_id, a->id, w_prov, a->provider,
		       w_email, a->email ? a->email : "-", w_auth,
		       provauth_auth_method_name(provauth_account_auth_method(a)), w_health, rows[i].health,
		       rows[i].updated);
	}
	free(rows);
}

/* Why a damaged account cannot be used: the store's own message, from reading it alone. */
static char *damaged_reason(provauth_manager *m, const char *id)
{
	provauth_account *a = NULL;
	char *why;

	if (provauth_account_get(&a, m, id) == 0) {
		/* Fixed since the listing (another process wrote it again). */
		provauth_account_free(a);
		return strdup("its record could not be read while listing");
	}
	why = strdup(provauth_last_error());
	return why;
}

/*
 * Damaged accounts, after the usable ones: in JSON as entries with
 * "damaged": true and the reason, so a script sees them in the same array.
 */
static void list_json(provauth_account **list, size_t n, char **damaged, char **reasons, size_t nd)
{
	cli_json w;
	size_t i;

	cli_json_init(&w, stdout);
	cli_json_array_begin(&w, NULL);
	for (i = 0; i < n; i++) {
		const provauth_account *a = list[i];
		cli_health h;
		cli_account_health(&h, a);
		cli_json_object_begin(&w, NULL);
		cli_json_string(&w, "id", a->id);
		cli_json_string(&w, "provider", a->provider);
		cli_json_string(&w, "email", a->email);
		cli_json_string(&w, "auth_method", provauth_auth_method_name(provauth_account_auth_method(a)));
		cli_health_json(&w, &h);
		cli_json_int(&w, "updated_at", a->updated_at);
		cli_json_object_end(&w);
	}
	for (i = 0; i < nd; i++) {
		cli_json_object_begin(&w, NULL);
		cli_json_string(&w, "id", damaged[i]);
		cli_json_bool(&w, "damaged", 1);
		cli_json_string(&w, "error", reasons[i]);
		cli_json_object_end(&w);
	}
	cli_json_array_end(&w);
	cli_json_finish(&w);
}

static int run_list(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	const char *provider = NULL;
	const cli_option opts[] = { { "--provider", "ID", &provider, NULL }, { NULL, NULL, NULL, NULL } };
	const cli_spec spec = { opts, 0, 0 };
	provauth_account **list = NULL;
	char *args[CLI_MAX_ARGS], **damaged = NULL, **reasons = NULL;
	size_t nargs, n = 0, nd = 0, i;
	cli_env env;
	int r;

	if ((r = cli_parse(ctx, "accounts list", self, &spec, argc, argv, args, &nargs)) >= 0)
		return r;
	if ((r = cli_env_open(&env, ctx, CLI_STORE_EXISTING_OR_EMPTY)) != 0)
		return r;
	if ((r = provauth_account_list_checked(&list, &n, &damaged, &nd, env.manager, provider)) < 0) {
		r = cli_env_fail(&env, r);
	} else if (nd && !(reasons = calloc(nd, sizeof(*reasons)))) {
		cli_error("out of memory");
		r = CLI_EXIT_ERROR;
	} else {
		for (i = 0; i < nd; i++)
			reasons[i] = damaged_reason(env.manager, damaged[i]);
		if (ctx->json)
			list_json(list, n, damaged, reasons, nd);
		else
			list_text(list, n, provider, env.no_store);
		/* One damaged account does not hide the others, but it is an error to report, not a detail. */
		for (i = 0; i < nd; i++)
			cli_error("account %s cannot be used: %s", damaged[i], reasons[i] ? reasons[i] : "out of memory");
		r = nd ? CLI_EXIT_ERROR : CLI_EXIT_OK;
	}
	for (i = 0; reasons && i < nd; i++)
		free(reasons[i]);
	free(reasons);
	provauth_damaged_list_free(damaged, nd);
	provauth_account_list_free(list, n);
	return cli_env_close(&env, r);
}

/* ---- import-cookies, add and import ---- */

typedef struct import_kind {
	const char *path;           /* "accounts import-cookies" */
	const char *kind;           /* provauth_account_import's kind; NULL: --kind KIND */
	const char *what;           /* for messages: "cookies" */
	const char *prompt;
	int multi_line;             /* from a terminal: read up to Ctrl-D */
	const char *done;           /* "Imported cookies into" */
} import_kind;

/* "Imported cookies into account acct-... (alice@example.com) for pixverse." */
static void print_imported(const cli_ctx *ctx, const import_kind *k, const provauth_account *a)
{
	char *user_id = cli_account_metadata(a, "user_id"), *user_name = cli_account_metadata(a, "user_name");
	const char *method = provauth_auth_method_name(provauth_account_auth_method(a));

	if (ctx->json) {
		cli_json w;
		cli_json_init(&w, stdout);
		cli_json_object_begin(&w, NULL);
		cli_json_string(&w, "id", a->id);
		cli_json_string(&w, "provider", a->provider);
		cli_json_string(&w, "email", a->email);
		cli_json_string(&w, "user_id", user_id);
		cli_json_string(&w, "user_name", user_name);
		cli_json_string(&w, "auth_method", method);
		cli_json_object_end(&w);
		cli_json_finish(&w);
	} else {
		printf("%s account %s (%s) for %s.\n", k->done, a->id,
		       a->email ? a->email : "no email", a->provider);
		if (user_id || user_name)
			printf("User: %s%s%s%s\n", user_name ? user_name : "", user_name && user_id ? " (" : "",
			       user_id ? user_id : "", user_name && user_id ? ")" : "");
		printf("Auth method: %s\n", method);
	}
	free(user_id);
	free(user_name);
}

/* --account ID names an account of `provider`: said before anyone pastes a secret. */
static int check_target(cli_env *env, const char *provider, const char *id)
{
	provauth_account *a = NULL;
	int r;

	if ((r = provauth_account_get(&a, env->manager, id)) < 0)
		return cli_env_fail(env, r);
	r = CLI_EXIT_OK;
	if (!a->provider || strcmp(a->provider, provider) != 0) {
		cli_env_flush_events(env);
		cli_error("account %s is a %s account, not %s", id, a->provider ? a->provider : "(no provider)",
		          provider);
		r = CLI_EXIT_ERROR;
	}
	provauth_account_free(a);
	return r;
}

/* The shape of a kind name; anything else is not echoed (it may be a misplaced secret). */
static int kind_name(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (n >= 32 || !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_' ||
		                 s[n] == '-'))
			return 0;
	return n > 0;
}

/*
 * A kind the provider declared it does not take is refused before anyone
 * types a secret, with the kinds it does take. A provider that declared
 * none (an older plugin) judges the kind itself, after the read.
 */
static int check_kind(cli_env *env, const char *provider, const char *kind)
{
	const provauth_import_kind *k = NULL;
	char *names = NULL;
	size_t len = 0, i, w = 0;
	FILE *f;
	int r;

	if ((r = provauth_provider_import_kinds(&k, env->manager, provider)) < 0)
		return cli_env_fail(env, r);
	if (!k)
		return CLI_EXIT_OK;
	for (i = 0; k[i].name; i++)
		if (strcmp(k[i].name, kind) == 0)
			return CLI_EXIT_OK;
	cli_env_flush_events(env);
	if (!k[0].name) {
		cli_error("provider %s imports no credentials", provider);
		return CLI_EXIT_ERROR;
	}
	if (!(f = open_memstream(&names, &len))) {
		cli_error("out of memory");
		return CLI_EXIT_ERROR;
	}
	for (i = 0; k[i].name; i++) {
		fprintf(f, "%s%s", i ? ", " : "", k[i].name);
		if (strlen(k[i].name) > w)
			w = strlen(k[i].name);
	}
	if (fclose(f) != 0) {
		free(names);
		cli_error("out of memory");
		return CLI_EXIT_ERROR;
	}
	if (kind_name(kind))
		cli_error("%s does not import kind '%s' (it imports: %s)", provider, kind, names);
	else
		cli_error("%s: the kind given is not a kind name (not shown; it imports: %s)", provider, names);
	for (i = 0; k[i].name; i++)
		fprintf(stderr, "  %-*s  %s\n", (int)w, k[i].name, k[i].summary ? k[i].summary : "");
	free(names);
	return CLI_EXIT_ERROR;
}

static int run_import(cli_ctx *ctx, const cli_command *self, const import_kind *k, int argc, char **argv)
{
	const char *provider = NULL, *file = NULL, *env_var = NULL, *account = NULL, *kind = NULL;
	cli_option opts[] = {
		{ "--provider", "ID", &provider, NULL },
		{ "--account", "ID", &account, NULL },
		{ "--from-file", "FILE", &file, NULL },
		{ "--from-env", "VAR", &env_var, NULL },
		{ NULL, NULL, NULL, NULL },
	};
	/* The generic command names the provider as its argument and takes the kind. */
	const cli_spec spec = { opts, k->kind ? 0 : 1, k->kind ? 0 : 1 };
	provauth_import_options io = PROVAUTH_IMPORT_OPTIONS_INIT;
	provauth_provider_info info;
	provauth_account *a = NULL;
	char *args[CLI_MAX_ARGS], *input = NULL, *id = NULL;
	size_t nargs;
	cli_env env;
	int r;

	if (!k->kind) {
		opts[0].name = "--kind";
		opts[0].metavar = "KIND";
		opts[0].value = &kind;
	}
	if ((r = cli_parse(ctx, k->path, self, &spec, argc, argv, args, &nargs)) >= 0)
		return r;
	if (!k->kind) {
		provider = args[0];
		if (!kind)
			return cli_usage_error(k->path, "'%s' needs --kind KIND (e.g. refresh_token or cookies)", k->path);
	} else {
		kind = k->kind;
		if (!provider)
			return cli_usage_error(k->path, "'%s' needs --provider ID", k->path);
	}
	if (file && env_var)
		return cli_usage_error(k->path, "give the %s with --from-file or --from-env, not both", k->what);
	/* Settings problems show before anyone pastes a secret. */
	if ((r = cli_env_open(&env, ctx, CLI_STORE_CREATE)) != 0)
		return r;
	if (cli_provider_info(&info, env.manager, provider) < 0) {
		cli_env_flush_events(&env);
		cli_error("provider '%s' is not loaded (see 'provauth plugins')", provider);
		cli_env_free(&env);
		return CLI_EXIT_ERROR;
	}
	if ((r = check_kind(&env, provider, kind)) != 0 ||
	    (account && (r = check_target(&env, provider, account)) != 0) ||
	    (r = cli_secret_read(&input, k->what, file, env_var, k->prompt, k->multi_line)) != 0) {
		cli_env_free(&env);
		return r;
	}
	io.account_id = account;
	cli_progress("contacting %s...", provider);
	r = provauth_account_import_ext(&id, env.manager, provider, kind, input, &io);
	cli_progress_done();
	cli_secret_free(input);
	if (r < 0 || (r = provauth_account_get(&a, env.manager, id)) < 0) {
		r = cli_env_fail(&env, r);
	} else {
		print_imported(ctx, k, a);
		r = CLI_EXIT_OK;
	}
	provauth_account_free(a);
	provauth_free(id);
	return cli_env_close(&env, r);
}

static const import_kind import_cookies = {
	"accounts import-cookies", "cookies", "cookies",
	"Paste the cookies (a Cookie header, a JSON object or a browser export),\n"
	"then press Ctrl-D (nothing is shown while you paste):\n",
	1, "Imported cookies into",
};

static const import_kind add_token = {
	"accounts add", "refresh_token", "refresh token", "Refresh token (not shown): ", 0,
	"Stored the refresh token in",
};

static const import_kind import_any = {
	"accounts import", NULL, "credentials",
	"Paste the credentials, then press Ctrl-D (nothing is shown while you paste):\n",
	1, "Imported the credentials into",
};

static int run_import_cookies(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	return run_import(ctx, self, &import_cookies, argc, argv);
}

static int run_add(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	return run_import(ctx, self, &add_token, argc, argv);
}

static int run_import_any(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	return run_import(ctx, self, &import_any, argc, argv);
}

/* ---- reauth ---- */

static void print_account_line(const cli_ctx *ctx, const provauth_account *a, const char *sentence)
{
	const char *method = provauth_auth_method_name(provauth_account_auth_method(a));

	if (ctx->json) {
		cli_json w;
		cli_json_init(&w, stdout);
		cli_json_object_begin(&w, NULL);
		cli_json_string(&w, "id", a->id);
		cli_json_string(&w, "provider", a->provider);
		cli_json_string(&w, "email", a->email);
		cli_json_string(&w, "auth_method", method);
		cli_json_object_end(&w);
		cli_json_finish(&w);
	} else {
		printf("%s\n", sentence);
	}
}

static int run_reauth(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	const char *file = NULL, *env_var = NULL;
	int from_stdin = 0;
	const cli_option opts[] = {
		{ "--password-from-file", "FILE", &file, NULL },
		{ "--password-from-env", "VAR", &env_var, NULL },
		{ "--password-stdin", NULL, NULL, &from_stdin },
		{ NULL, NULL, NULL, NULL },
	};
	const cli_spec spec = { opts, 1, 1 };
	provauth_account *a = NULL;
	char *args[CLI_MAX_ARGS], *password = NULL, sentence[512];
	const char *id;
	size_t nargs;
	cli_env env;
	int r, rc;

	if ((r = cli_parse(ctx, "accounts reauth", self, &spec, argc, argv, args, &nargs)) >= 0)
		return r;
	if ((file != NULL) + (env_var != NULL) + from_stdin > 1)
		return cli_usage_error("accounts reauth", "give the password one way only: --password-from-file, "
		                       "--password-from-env or --password-stdin");
	id = args[0];
	if ((r = cli_env_open(&env, ctx, CLI_STORE_EXISTING)) != 0)
		return r;
	if ((r = provauth_account_get(&a, env.manager, id)) < 0) {
		r = cli_env_fail(&env, r);
		goto out;
	}
	if ((file || env_var || from_stdin) &&
	    (r = cli_secret_read(&password, "password", file, env_var, "Password: ", 0)) != 0)
		goto out;
	cli_progress("logging in to %s as %s...", a->provider, a->email ? a->email : id);
	rc = provauth_account_reauth(env.manager, id, password);
	cli_progress_done();
	cli_secret_free(password);
	if (rc < 0) {
		r = cli_env_fail(&env, rc);
		cli_account_hint(env.manager, id, rc);
		goto out;
	}
	provauth_account_free(a);
	a = NULL;
	if ((r = provauth_account_get(&a, env.manager, id)) < 0) {
		r = cli_env_fail(&env, r);
		goto out;
	}
	snprintf(sentence, sizeof(sentence),
	         "Logged in to %s as %s: account %s now has auth_method %s.", a->provider,
	         a->email ? a->email : "?", id, provauth_auth_method_name(provauth_account_auth_method(a)));
	print_account_line(ctx, a, sentence);
	r = CLI_EXIT_OK;
out:
	provauth_account_free(a);
	return cli_env_close(&env, r);
}

/* ---- connect-google and remove ---- */

static int run_connect_google(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	const cli_spec spec = { NULL, 1, 1 };
	provauth_account *a = NULL;
	char *args[CLI_MAX_ARGS], sentence[512];
	size_t nargs;
	cli_env env;
	int r;

	if ((r = cli_parse(ctx, "accounts connect-google", self, &spec, argc, argv, args, &nargs)) >= 0)
		return r;
	if ((r = cli_env_open(&env, ctx, CLI_STORE_EXISTING)) != 0)
		return r;
	if ((r = provauth_account_set_auth_method(env.manager, args[0], PROVAUTH_AUTH_GOOGLE)) < 0 ||
	    (r = provauth_account_get(&a, env.manager, args[0])) < 0) {
		r = cli_env_fail(&env, r);
	} else {
		snprintf(sentence, sizeof(sentence),
		         "Account %s (%s) now signs in with Google: provauth will never log it\n"
		         "in with a password. When its session ends, import fresh cookies from a browser.",
		         a->id, a->email ? a->email : "no email");
		print_account_line(ctx, a, sentence);
		r = CLI_EXIT_OK;
	}
	provauth_account_free(a);
	return cli_env_close(&env, r);
}

static int run_remove(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	const cli_spec spec = { NULL, 1, 1 };
	char *args[CLI_MAX_ARGS];
	size_t nargs;
	cli_env env;
	int r;

	if ((r = cli_parse(ctx, "accounts remove", self, &spec, argc, argv, args, &nargs)) >= 0)
		return r;
	if ((r = cli_env_open(&env, ctx, CLI_STORE_EXISTING)) != 0)
		return r;
	if ((r = provauth_account_remove(env.manager, args[0])) < 0) {
		r = cli_env_fail(&env, r);
	} else if (ctx->json) {
		cli_json w;
		cli_json_init(&w, stdout);
		cli_json_object_begin(&w, NULL);
		cli_json_string(&w, "id", args[0]);
		cli_json_bool(&w, "removed", 1);
		cli_json_object_end(&w);
		cli_json_finish(&w);
		r = CLI_EXIT_OK;
	} else {
		printf("Removed account %s.\n", args[0]);
		r = CLI_EXIT_OK;
	}
	return cli_env_close(&env, r);
}

static const cli_command accounts_commands[] = {
	{
		.name = "list",
		.summary = "list the stored accounts (never their secrets)",
		.usage = "[--provider ID]",
		.help = "Shows each account's id, provider, email, auth method, session health\n"
		        "(as the last call recorded it) and when it was last stored.\n"
		        "\n"
		        "  --provider ID   only the accounts of this provider\n",
		.run = run_list,
	},
	{
		.name = "import-cookies",
		.summary = "create or update an account from browser cookies",
		.usage = "--provider ID [--account ID] [--from-file FILE | --from-env VAR]",
		.help = "Reads the cookies from FILE, from the environment variable VAR, or else\n"
		        "from standard input: a Cookie header (\"_ai_token=...; other=...\"), a JSON\n"
		        "object or a browser's export array. The provider checks them and names the\n"
		        "account; an account with the same email is updated. A new account's auth\n"
		        "method is \"unknown\" until 'accounts reauth' logs it in with a password.\n"
		        "\n"
		        "  --provider ID     the provider (e.g. pixverse)\n"
		        "  --account ID      update this account, keeping the identity it shows the\n"
		        "                    provider (e.g. Pixverse's anonymous id); refused, and\n"
		        "                    nothing changed, if the cookies are another account's\n"
		        "  --from-file FILE  read the cookies from FILE\n"
		        "  --from-env VAR    read the cookies from the environment variable VAR\n",
		.run = run_import_cookies,
	},
	{
		.name = "add",
		.summary = "create or update an account from an OAuth refresh token",
		.usage = "--provider ID [--account ID] [--from-file FILE | --from-env VAR]",
		.help = "Reads the refresh token from FILE, from the environment variable VAR, or\n"
		        "else from standard input. The provider exchanges it once to check it and to\n"
		        "learn the user; an account with the same email is updated.\n"
		        "\n"
		        "  --provider ID     the provider (e.g. pixiv)\n"
		        "  --account ID      update this account, keeping the identity it shows the\n"
		        "                    provider (e.g. pixiv's device_token); refused if the\n"
		        "                    token is another user's (see the manual page)\n"
		        "  --from-file FILE  read the token from FILE\n"
		        "  --from-env VAR    read the token from the environment variable VAR\n",
		.run = run_add,
	},
	{
		.name = "import",
		.summary = "create or update an account from credentials of any kind the provider takes",
		.usage = "PROVIDER --kind KIND [--account ID] [--from-file FILE | --from-env VAR]",
		.help = "Hands the credentials to the provider's import as KIND (what 'import-cookies'\n"
		        "and 'add' do for \"cookies\" and \"refresh_token\"), for a provider whose\n"
		        "credentials are of another kind. They are read from FILE, from the\n"
		        "environment variable VAR, or else from standard input, never from the\n"
		        "command line. An account with the same email is updated, else one is created.\n"
		        "\n"
		        "  --kind KIND       the kind of credentials; 'provauth plugins' lists the\n"
		        "                    kinds each provider takes, and another is refused\n"
		        "                    before anything is read\n"
		        "  --account ID      update this account (see 'accounts add --help')\n"
		        "  --from-file FILE  read the credentials from FILE\n"
		        "  --from-env VAR    read the credentials from the environment variable VAR\n",
		.run = run_import_any,
	},
	{
		.name = "reauth",
		.summary = "log an account in again with a password",
		.usage = "ID [--password-from-file FILE | --password-from-env VAR | --password-stdin]",
		.help = "Without a password option, uses the account's stored password, else the\n"
		        "provider's global_password. On success the new session and the password\n"
		        "are stored and the account's auth method becomes \"password\", which lets\n"
		        "provauth log it in again by itself when its session is lost.\n"
		        "\n"
		        "  --password-from-file FILE  read the password from FILE\n"
		        "  --password-from-env VAR    read it from the environment variable VAR\n"
		        "  --password-stdin           read it from standard input\n",
		.run = run_reauth,
	},
	{
		.name = "connect-google",
		.summary = "mark an account as signing in with Google (no password logins)",
		.usage = "ID",
		.help = "Sets the account's auth method to \"google\": provauth never tries a password\n"
		        "login for it. When its session ends, import fresh cookies.\n",
		.run = run_connect_google,
	},
	{
		.name = "remove",
		.summary = "delete an account from the store",
		.usage = "ID",
		.run = run_remove,
	},
	{
		.name = "set-api-key",
		.summary = "store an API key of an account (e.g. Pixverse's openapi key for uploads)",
		.usage = "ID --kind KIND [--from-file FILE | --from-env VAR | --remove]",
		.help = "Reads the key from FILE, from the environment variable VAR, or else from\n"
		        "standard input (never from the command line) and stores it, sealed, as the\n"
		        "account's API key of KIND, replacing one of that kind. Pixverse uploads\n"
		        "images for 'generate --image' with the account's \"openapi\" key.\n"
		        "\n"
		        "  --kind KIND       the key's kind (Pixverse: openapi)\n"
		        "  --from-file FILE  read the key from FILE\n"
		        "  --from-env VAR    read the key from the environment variable VAR\n"
		        "  --remove          remove the account's key of KIND instead\n",
		.run = cli_run_set_api_key,
	},
	{ .name = NULL },
};

const cli_command cli_cmd_accounts = {
	.name = "accounts",
	.summary = "list, import and manage provider accounts",
	.subcommands = accounts_commands,
};
