/*
 * `provauth store ...`: the store itself rather than its accounts. init
 * creates the store the settings name, check reads every record of it, and
 * migrate copies every account into another store (sqlite or postgres, in
 * either direction) all or nothing, revisions kept, then reads the copy
 * back. The commands work on any backend through the store contract
 * (<provauth/store.h>), so a new backend needs nothing here.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <provauth/store.h>
#include "cli.h"

/* A store's accounts as listed (ordered by id), and the ids whose records do not open. */
typedef struct store_listing {
	provauth_account **accounts;
	size_t count;
	char **damaged;
	size_t damaged_count;
} store_listing;

static void listing_free(store_listing *l)
{
	provauth_account_list_free(l->accounts, l->count);
	provauth_damaged_list_free(l->damaged, l->damaged_count);
	memset(l, 0, sizeof(*l));
}

/* Lists a store opened directly; a store without list_checked fails on the first damaged record. */
static int store_list(store_listing *out, provauth_store *s)
{
	memset(out, 0, sizeof(*out));
	if (s->version >= 3 && s->list_checked)
		return s->list_checked(s, &out->accounts, &out->count, &out->damaged, &out->damaged_count, NULL);
	return s->list(s, &out->accounts, &out->count, NULL);
}

/*
 * The store a command reads: the settings' one through a manager (never
 * created), or a store named by --from / --store.
 */
typedef struct store_source {
	cli_env env;                /* the settings' store: env.manager */
	cli_store_spec spec;        /* a named store */
	provauth_store *store;      /* its store, NULL for the settings' one */
	provauth_store_info *info;  /* what the library says of it */
	char shown[512];            /* for messages */
} store_source;

static int source_open(store_source *src, const cli_ctx *ctx, const char *command, const char *option,
                       const char *spec, const char *key_file)
{
	int r;

	memset(src, 0, sizeof(*src));
	if (!spec) {
		if ((r = cli_env_open(&src->env, ctx, CLI_STORE_EXISTING)) != 0)
			return r;
		snprintf(src->shown, sizeof(src->shown), "the store of %s",
		         src->env.settings_source ? src->env.settings_source : "the built-in settings");
		if ((r = provauth_manager_store_info(&src->info, src->env.manager)) < 0)
			return cli_env_close(&src->env, cli_env_fail(&src->env, r));
		return 0;
	}
	if ((r = cli_store_spec_parse(&src->spec, command, option, spec)) >= 0)
		return r;
	snprintf(src->shown, sizeof(src->shown), "%s", src->spec.shown);
	if ((r = cli_store_spec_open(&src->store, &src->spec, key_file, 1)) != 0) {
		cli_store_spec_free(&src->spec);
		return r;
	}
	if ((r = provauth_store_info_get(&src->info, src->store)) < 0) {
		provauth_store_free(src->store);
		cli_store_spec_free(&src->spec);
		return cli_fail(r);
	}
	return 0;
}

static int source_list(store_listing *out, store_source *src)
{
	memset(out, 0, sizeof(*out));
	if (src->store)
		return store_list(out, src->store);
	return provauth_account_list_checked(&out->accounts, &out->count, &out->damaged, &out->damaged_count,
	                                     src->env.manager, NULL);
}

/* Why a listed-as-damaged record does not open: the store's own message, from reading it alone. */
static char *damaged_reason(store_source *src, const char *id)
{
	provauth_account *a = NULL;
	int rc;

	rc = src->store ? src->store->get(src->store, &a, id) : provauth_account_get(&a, src->env.manager, id);
	if (rc == 0) {
		provauth_account_free(a);
		return strdup("its record could not be read while listing");
	}
	return strdup(provauth_last_error());
}

/* Ends a command that used a source: its events (settings' store) and what it opened. */
static int source_close(store_source *src, int r)
{
	provauth_store_info_free(src->info);
	provauth_store_free(src->store);
	cli_store_spec_free(&src->spec);
	if (src->env.settings || src->env.manager)
		return cli_env_close(&src->env, r);
	return r;
}

/* ---- init ---- */

/*
 * A first look with a manager that must not create the store tells whether
 * it exists; then a manager allowed to create opens it, creating the file
 * and key, or the tables. Either way the store is named as the library
 * describes it (provauth_manager_store_info).
 */
static int run_init(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	char *args[1];
	const cli_spec spec = { NULL, 0, 0 };
	provauth_store_info *info = NULL;
	const char *where;
	size_t nargs;
	int r, rc, created = 0;
	cli_env env;

	if ((r = cli_parse(ctx, "store init", self, &spec, argc, argv, args, &nargs)) >= 0)
		return r;
	memset(&env, 0, sizeof(env));
	env.verbose = ctx->verbose;
	if ((rc = cli_env_settings(&env, ctx)) < 0) {
		r = cli_env_fail(&env, rc);
		cli_env_free(&env);
		return r;
	}
	rc = cli_env_manager(&env, CLI_STORE_EXISTING);
	if (rc == PROVAUTH_ENOTFOUND) {
		created = 1;
		/* Afresh, so the first manager's warnings are not told twice. */
		cli_env_free(&env);
		if ((r = cli_env_open(&env, ctx, CLI_STORE_CREATE)) != 0)
			return r;
	} else if (rc < 0) {
		return cli_env_close(&env, cli_env_fail(&env, rc));
	}
	if ((rc = provauth_manager_store_info(&info, env.manager)) < 0)
		return cli_env_close(&env, cli_env_fail(&env, rc));
	where = info->location ? info->location : info->backend;
	if (ctx->json) {
		cli_json w;
		cli_json_init(&w, stdout);
		cli_json_object_begin(&w, NULL);
		cli_json_string(&w, "settings", env.settings_source);
		cli_json_bool(&w, "created", created);
		cli_json_string(&w, "backend", info->backend);
		cli_json_string(&w, "where", info->location);
		cli_json_string(&w, "key_file", info->key_file);
		cli_json_int(&w, "schema_version", (long long)info->schema_version);
		cli_json_object_end(&w);
		cli_json_finish(&w);
	} else if (created) {
		printf("Created the %s store: %s (settings: %s).\n", info->backend, where,
		       env.settings_source ? env.settings_source : "built-in defaults");
	} else {
		printf("The %s store %s already exists; nothing to do (settings: %s).\n", info->backend, where,
		       env.settings_source ? env.settings_source : "built-in defaults");
	}
	provauth_store_info_free(info);
	return cli_env_close(&env, CLI_EXIT_OK);
}

/* ---- check ---- */

static void check_report(const cli_ctx *ctx, const store_source *src, const store_listing *l,
                         char *const *reasons)
{
	size_t i;

	if (ctx->json) {
		cli_json w;
		cli_json_init(&w, stdout);
		cli_json_object_begin(&w, NULL);
		cli_json_string(&w, "store", src->shown);
		cli_json_string(&w, "backend", src->info->backend);
		cli_json_string(&w, "where", src->info->location);
		cli_json_int(&w, "schema_version", (long long)src->info->schema_version);
		cli_json_bool(&w, "ok", l->damaged_count == 0);
		cli_json_int(&w, "accounts", (long long)(l->count + l->damaged_count));
		cli_json_array_begin(&w, "damaged");
		for (i = 0; i < l->damaged_count; i++) {
			cli_json_object_begin(&w, NULL);
			cli_json_string(&w, "id", l->damaged[i]);
			cli_json_string(&w, "error", reasons[i]);
			cli_json_object_end(&w);
		}
		cli_json_array_end(&w);
		cli_json_object_end(&w);
		cli_json_finish(&w);
		return;
	}
	printf("store: %s\n", src->shown);
	printf("backend: %s%s%s\n", src->info->backend, src->info->location ? " " : "",
	       src->info->location ? src->info->location : "");
	if (src->info->schema_version)
		printf("schema version: %lld\n", (long long)src->info->schema_version);
	printf("accounts: %zu\n", l->count + l->damaged_count);
	for (i = 0; i < l->damaged_count; i++)
		printf("damaged: %s: %s\n", l->damaged[i], reasons[i] ? reasons[i] : "out of memory");
	printf("%zu damaged record%s\n", l->damaged_count, l->damaged_count == 1 ? "" : "s");
}

/* Damaged records are the command's findings: printed on stdout, and the exit status. */
static int run_check(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	const char *spec_arg = NULL, *key_file = NULL;
	const cli_option opts[] = {
		{ "--store", "SPEC", &spec_arg, NULL },
		{ "--key-file", "FILE", &key_file, NULL },
		{ NULL, NULL, NULL, NULL },
	};
	const cli_spec spec = { opts, 0, 0 };
	store_listing l;
	store_source src;
	char *args[CLI_MAX_ARGS], **reasons = NULL;
	size_t nargs, i;
	int r, rc;

	if ((r = cli_parse(ctx, "store check", self, &spec, argc, argv, args, &nargs)) >= 0)
		return r;
	if (key_file && !spec_arg)
		return cli_usage_error("store check", "--key-file goes with --store: the settings' store "
		                       "uses the settings' store.key_file");
	if ((r = source_open(&src, ctx, "store check", "--store", spec_arg, key_file)) != 0)
		return r;
	cli_progress("reading every record of %s...", src.shown);
	rc = source_list(&l, &src);
	cli_progress_done();
	if (rc < 0) {
		r = src.store ? cli_fail(rc) : cli_env_fail(&src.env, rc);
		return source_close(&src, r);
	}
	if (l.damaged_count && !(reasons = calloc(l.damaged_count, sizeof(*reasons)))) {
		cli_error("out of memory");
		listing_free(&l);
		return source_close(&src, CLI_EXIT_ERROR);
	}
	for (i = 0; i < l.damaged_count; i++)
		reasons[i] = damaged_reason(&src, l.damaged[i]);
	check_report(ctx, &src, &l, reasons);
	r = l.damaged_count ? CLI_EXIT_ERROR : CLI_EXIT_OK;
	for (i = 0; i < l.damaged_count; i++)
		free(reasons[i]);
	free(reasons);
	listing_free(&l);
	return source_close(&src, r);
}

/* ---- migrate ---- */

static int by_id(const void *a, const void *b)
{
	const provauth_account *const *x = a, *const *y = b;

	return strcmp((*x)->id, (*y)->id);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The listing's account `id`, or NULL; accounts ordered by id. */
static const provauth_account *find_account(const store_listing *l, const char *id)
{
	provauth_account key, *kp = &key;
	provauth_account **hit;

	memset(&key, 0, sizeof(key));
	key.id = (char *)id;
	/* bsearch and qsort want an array even for 0 elements: an empty listing may have none. */
	if (!l->count)
		return NULL;
	hit = bsearch(&kp, l->accounts, l->count, sizeof(*l->accounts), by_id);
	return hit ? *hit : NULL;
}

/* The first source id the destination already holds (readable or damaged), or NULL. */
static const char *first_taken_id(const store_listing *src, const store_listing *dest)
{
	size_t i;

	for (i = 0; i < src->count; i++)
		if (find_account(dest, src->accounts[i]->id) ||
		    (dest->damaged_count &&
		     bsearch(&src->accounts[i]->id, dest->damaged, dest->damaged_count, sizeof(char *), str_cmp)))
			return src->accounts[i]->id;
	return NULL;
}

/*
 * Reads the destination back: every copied account there with its
 * revision and write time, and no more accounts than were there plus the
 * copies. Says what differs and returns CLI_EXIT_ERROR, else 0.
 */
static int verify_copy(provauth_store *dest, const char *shown, const store_listing *src, size_t before)
{
	store_listing back;
	const provauth_account *a;
	size_t i;
	int rc, r = 0;

	if ((rc = store_list(&back, dest)) < 0) {
		cli_fail(rc);
		cli_error("%s: the copy could not be read back to verify it", shown);
		return CLI_EXIT_ERROR;
	}
	if (back.count)
		qsort(back.accounts, back.count, sizeof(*back.accounts), by_id);
	if (back.count + back.damaged_count != before + src->count) {
		cli_error("%s holds %zu accounts after the copy, expected %zu", shown,
		          back.count + back.damaged_count, before + src->count);
		r = CLI_EXIT_ERROR;
	}
	for (i = 0; i < src->count && r == 0; i++) {
		const provauth_account *want = src->accounts[i];
		if (!(a = find_account(&back, want->id))) {
			cli_error("%s: account %s cannot be read back after the copy", shown, want->id);
			r = CLI_EXIT_ERROR;
		} else if (a->revision != want->revision || a->updated_at != want->updated_at) {
			cli_error("%s: account %s reads back at revision %llu written at %lld, expected revision "
			          "%llu written at %lld", shown, want->id, (unsigned long long)a->revision,
			          (long long)a->updated_at, (unsigned long long)want->revision, (long long)want->updated_at);
			r = CLI_EXIT_ERROR;
		}
	}
	listing_free(&back);
	return r;
}

static void migrate_report(const cli_ctx *ctx, const char *from, const char *to, size_t n)
{
	if (ctx->json) {
		cli_json w;
		cli_json_init(&w, stdout);
		cli_json_object_begin(&w, NULL);
		cli_json_string(&w, "from", from);
		cli_json_string(&w, "to", to);
		cli_json_int(&w, "accounts", (long long)n);
		cli_json_bool(&w, "verified", 1);
		cli_json_object_end(&w);
		cli_json_finish(&w);
		return;
	}
	printf("Copied %zu account%s from %s to %s, revisions kept; read back and verified.\n", n,
	       n == 1 ? "" : "s", from, to);
}

/* Copies `l` into `dest` (all or nothing) and verifies it. 0, or CLI_EXIT_ERROR reported. */
static int copy_accounts(provauth_store *dest, const char *to, const store_listing *l)
{
	store_listing existing;
	const char *taken;
	size_t before;
	int rc;

	if (dest->version < 4 || !dest->put_verbatim) {
		cli_error("%s: this store cannot take accounts with their revisions (no put_verbatim); "
		          "nothing was copied", to);
		return CLI_EXIT_ERROR;
	}
	/* Told before writing, by name; put_verbatim refuses it as well, atomically. */
	if ((rc = store_list(&existing, dest)) < 0) {
		cli_fail(rc);
		return CLI_EXIT_ERROR;
	}
	if (existing.count)
		qsort(existing.accounts, existing.count, sizeof(*existing.accounts), by_id);
	before = existing.count + existing.damaged_count;
	if ((taken = first_taken_id(l, &existing))) {
		cli_error("%s already holds account %s; nothing was copied (the destination must hold none "
		          "of the accounts being copied)", to, taken);
		listing_free(&existing);
		return CLI_EXIT_ERROR;
	}
	listing_free(&existing);
	cli_progress("writing %zu accounts to %s...", l->count, to);
	rc = dest->put_verbatim(dest, l->accounts, l->count);
	cli_progress_done();
	if (rc < 0) {
		cli_fail(rc);
		cli_error("nothing was copied to %s", to);
		return CLI_EXIT_ERROR;
	}
	cli_progress("reading %s back...", to);
	rc = verify_copy(dest, to, l, before);
	cli_progress_done();
	return rc;
}

static int run_migrate(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	const char *to = NULL, *from = NULL, *key_file = NULL, *from_key_file = NULL;
	const cli_option opts[] = {
		{ "--to", "DEST", &to, NULL },
		{ "--from", "SRC", &from, NULL },
		{ "--key-file", "FILE", &key_file, NULL },
		{ "--from-key-file", "FILE", &from_key_file, NULL },
		{ NULL, NULL, NULL, NULL },
	};
	const cli_spec spec = { opts, 0, 0 };
	cli_store_spec dest_spec;
	provauth_store *dest = NULL;
	store_source src;
	store_listing l;
	char *args[CLI_MAX_ARGS];
	size_t nargs;
	int r, rc;

	if ((r = cli_parse(ctx, "store migrate", self, &spec, argc, argv, args, &nargs)) >= 0)
		return r;
	if (!to)
		return cli_usage_error("store migrate", "'store migrate' needs --to DEST");
	if (from_key_file && !from)
		return cli_usage_error("store migrate", "--from-key-file goes with --from: the settings' store "
		                       "uses the settings' store.key_file");
	/* Both specs are read before anything is opened: a refused one leaves no trace anywhere. */
	if ((r = cli_store_spec_parse(&dest_spec, "store migrate", "--to", to)) >= 0)
		return r;
	if ((r = source_open(&src, ctx, "store migrate", "--from", from,
	                     from_key_file ? from_key_file : key_file)) != 0) {
		cli_store_spec_free(&dest_spec);
		return r;
	}
	cli_progress("reading the accounts of %s...", src.shown);
	rc = source_list(&l, &src);
	cli_progress_done();
	if (rc < 0) {
		r = src.store ? cli_fail(rc) : cli_env_fail(&src.env, rc);
	} else if (l.damaged_count) {
		cli_error("%s: account %s cannot be read (see 'provauth store check'); nothing was copied",
		          src.shown, l.damaged[0]);
		r = CLI_EXIT_ERROR;
	} else if ((r = cli_store_spec_open(&dest, &dest_spec, key_file ? key_file : src.info->key_file, 0)) == 0 &&
	           (r = copy_accounts(dest, dest_spec.shown, &l)) == 0) {
		migrate_report(ctx, src.shown, dest_spec.shown, l.count);
	}
	if (rc >= 0)
		listing_free(&l);
	provauth_store_free(dest);
	cli_store_spec_free(&dest_spec);
	return source_close(&src, r);
}

static const cli_command store_commands[] = {
	{
		.name = "init",
		.summary = "create the store the settings name (sqlite file and key, or postgres tables)",
		.usage = "[--json]",
		.help = "Idempotent: a store that exists is left as it is. A postgres store needs\n"
		        "CREATE on its schema the first time (run it as the database's owner).\n",
		.run = run_init,
	},
	{
		.name = "check",
		.summary = "read every record of the store and report the ones that do not open",
		.usage = "[--store SPEC [--key-file FILE]] [--json]",
		.help = "Opens the settings' store (or SPEC, as for 'store migrate') without creating\n"
		        "it, counts its accounts and names every record that cannot be read (changed\n"
		        "outside provauth, damaged, sealed under another key). Exits 1 if any.\n",
		.run = run_check,
	},
	{
		.name = "migrate",
		.summary = "copy every account into another store, all or nothing, revisions kept",
		.usage = "--to DEST [--from SRC [--from-key-file FILE]] [--key-file FILE] [--json]",
		.help = "Copies every account of the settings' store (or of SRC) into DEST in one\n"
		        "transaction, keeping revisions and write times, then reads DEST back and\n"
		        "compares. DEST must hold none of the accounts; a store with a damaged record\n"
		        "is not copied. DEST and SRC are\n"
		        "  postgresql://USER@HOST:PORT/DB, postgres://..., \"host=H dbname=D user=U\"\n"
		        "                                   a PostgreSQL database (provauth's tables are\n"
		        "                                   created in it when missing)\n"
		        "  sqlite:PATH or PATH              a sqlite store file\n"
		        "A password in DEST or SRC is refused (command lines are visible to other\n"
		        "users): give it in PGPASSWORD or a libpq password file (~/.pgpass).\n"
		        "Options:\n"
		        "  --key-file FILE  the key sealing DEST's secrets (default: the source's key\n"
		        "                   file, i.e. the settings' store.key_file, else\n"
		        "                   PROVAUTH_STORE_KEY). Every host sharing a postgres\n"
		        "                   store needs this same file.\n"
		        "  --from-key-file FILE\n"
		        "                   the key of SRC, when it is not DEST's (default: --key-file)\n",
		.run = run_migrate,
	},
	{ .name = NULL },
};

const cli_command cli_cmd_store = {
	.name = "store",
	.summary = "commands about the store itself: create, check, copy to another",
	.subcommands = store_commands,
};
