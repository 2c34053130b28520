/*
 * `provauth pool`: the account pool as the pool sees it (slots, cooldowns,
 * credits, reservations), with --sync to ask the provider for each
 * account's credits and limits first and --reconcile to repair the pool's
 * counters from the jobs in flight; `provauth pool set` for an operator's
 * changes (priority, disabled, a cooldown cut short). Nothing here is
 * secret: the pool holds no credentials.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"

typedef struct pool_view {
	provauth_pool_account **accounts;
	size_t count;
	provauth_pool_reservation **reservations;
	size_t reservation_count;
} pool_view;

static void pool_view_free(pool_view *v)
{
	provauth_pool_account_list_free(v->accounts, v->count);
	provauth_pool_reservation_list_free(v->reservations, v->reservation_count);
	memset(v, 0, sizeof(*v));
}

static int64_t cooldown_left(const provauth_pool_account *a, int64_t now)
{
	return a->cooldown_until > now ? a->cooldown_until - now : 0;
}

/* "2/2", "1/2 (cap 1)" */
static void slots_text(char *buf, size_t size, const provauth_pool_account *a)
{
	if (a->effective_cap > 0 && a->effective_cap < a->max_slots)
		snprintf(buf, size, "%d/%d (cap %d)", a->in_use, a->max_slots, a->effective_cap);
	else
		snprintf(buf, size, "%d/%d", a->in_use, a->max_slots);
}

static void cooldown_text(char *buf, size_t size, const provauth_pool_account *a, int64_t now)
{
	int64_t left = cooldown_left(a, now);

	if (left > 0)
		snprintf(buf, size, "%llds %s", (long long)left, a->cooldown_reason ? a->cooldown_reason : "");
	else
		snprintf(buf, size, "-");
}

/* "web 1250, openapi 500", or "-" never learnt. */
static void credits_text(char *buf, size_t size, const provauth_pool_account *a)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < a->credit_count && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s %lld", i ? ", " : "", a->credits[i].kind,
		                         (long long)a->credits[i].amount);
	if (a->credit_count == 0)
		snprintf(buf, size, "-");
}

typedef struct pool_row {
	char slots[48], cooldown[96], credits[256], last_used[40];
} pool_row;

static int width(int w, const char *s)
{
	int n = (int)strlen(s ? s : "-");
	return n > w ? n : w;
}

static void print_accounts_text(const pool_view *v, const char *provider, const char *no_store, int64_t now)
{
	int w_id = 2, w_email = 5, w_status = 6, w_health = 7, w_slots = 5, w_cool = 8, w_credits = 7;
	pool_row *rows;
	size_t i;

	if (v->count == 0) {
		printf("No %s%saccounts in the pool%s%s%s.\n", provider ? provider : "", provider ? " " : "",
		       no_store ? " (" : "", no_store ? no_store : "", no_store ? ")" : "");
		return;
	}
	if (!(rows = calloc(v->count, sizeof(*rows)))) {
		cli_error("out of memory");
		return;
	}
	for (i = 0; i < v->count; i++) {
		const provauth_pool_account *a = v->accounts[i];
		slots_text(rows[i].slots, sizeof(rows[i].slots), a);
		cooldown_text(rows[i].cooldown, sizeof(rows[i].cooldown), a, now);
		credits_text(rows[i].credits, sizeof(rows[i].credits), a);
		cli_format_time(rows[i].last_used, sizeof(rows[i].last_used), a->last_used);
		w_id = width(w_id, a->account_id);
		w_email = width(w_email, a->email);
		w_status = width(w_status, a->status);
		w_slots = width(w_slots, rows[i].slots);
		w_cool = width(w_cool, rows[i].cooldown);
		w_credits = width(w_credits, rows[i].credits);
	}
	printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w_id, "ID", w_email, "EMAIL", w_status, "STATUS",
	       w_health, "HEALTH", w_slots, "SLOTS", w_cool, "COOLDOWN", w_credits, "CREDITS", "LAST_USED");
	for (i = 0; i < v->count; i++) {
		const provauth_pool_account *a = v->accounts[i];
		printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w_id, a->account_id, w_email,
		       a->email ? a->email : "-", w_status, a->status ? a->status : "-", w_health,
		       a->healthy ? "ok" : "invalid", w_slots, rows[i].slots, w_cool, rows[i].cooldown, w_credits,
		       rows[i].credits, rows[i].last_used);
	}
	free(rows);
	if (v->reservation_count) {
		printf("\nReservations:\n");
		for (i = 0; i < v->reservation_count; i++) {
			const provauth_pool_reservation *r = v->reservations[i];
			printf("  %s  %s  job %s  %lld s old%s%s\n", r->id, r->account_id, r->job_id ? r->job_id : "(none yet)",
			       (long long)(now - r->created_at), r->label ? "  " : "", r->label ? r->label : "");
		}
	}
}

static void account_json(cli_json *w, const provauth_pool_account *a, int64_t now)
{
	size_t i;

	cli_json_object_begin(w, NULL);
	cli_json_string(w, "id", a->account_id);
	cli_json_string(w, "provider", a->provider);
	cli_json_string(w, "email", a->email);
	cli_json_string(w, "status", a->status);
	cli_json_bool(w, "healthy", a->healthy);
	cli_json_int(w, "priority", a->priority);
	cli_json_int(w, "in_use", a->in_use);
	cli_json_int(w, "max_slots", a->max_slots);
	cli_json_int(w, "effective_cap", a->effective_cap);
	cli_json_int(w, "cap_probe_at", a->cap_probe_at);
	cli_json_int(w, "cooldown_until", a->cooldown_until);
	cli_json_int(w, "cooldown_left_s", cooldown_left(a, now));
	cli_json_string(w, "cooldown_reason", cooldown_left(a, now) > 0 ? a->cooldown_reason : NULL);
	cli_json_object_begin(w, "credits");
	for (i = 0; i < a->credit_count; i++)
		cli_json_int(w, a->credits[i].kind, a->credits[i].amount);
	cli_json_object_end(w);
	cli_json_int(w, "credits_at", a->credits_at);
	cli_json_int(w, "last_used", a->last_used);
	cli_json_object_end(w);
}

static void reservation_json(cli_json *w, const provauth_pool_reservation *r)
{
	cli_json_object_begin(w, NULL);
	cli_json_string(w, "id", r->id);
	cli_json_string(w, "account_id", r->account_id);
	cli_json_string(w, "provider", r->provider);
	cli_json_string(w, "job_id", r->job_id);
	cli_json_string(w, "credit_kind", r->credit_kind);
	cli_json_int(w, "cost", r->cost);
	cli_json_int(w, "created_at", r->created_at);
	cli_json_string(w, "label", r->label);
	cli_json_object_end(w);
}

/* What --sync did for each account: NULL error for success. */
typedef struct sync_result {
	char *account_id;
	char *error;
} sync_result;

static void print_json(const pool_view *v, const sync_result *sync, size_t sync_count,
                       const provauth_pool_reconcile_report *rep, int64_t now)
{
	cli_json w;
	size_t i;

	cli_json_init(&w, stdout);
	cli_json_object_begin(&w, NULL);
	cli_json_array_begin(&w, "accounts");
	for (i = 0; i < v->count; i++)
		account_json(&w, v->accounts[i], now);
	cli_json_array_end(&w);
	cli_json_array_begin(&w, "reservations");
	for (i = 0; i < v->reservation_count; i++)
		reservation_json(&w, v->reservations[i]);
	cli_json_array_end(&w);
	if (sync) {
		cli_json_array_begin(&w, "sync");
		for (i = 0; i < sync_count; i++) {
			cli_json_object_begin(&w, NULL);
			cli_json_string(&w, "account_id", sync[i].account_id);
			cli_json_bool(&w, "ok", sync[i].error == NULL);
			cli_json_string(&w, "error", sync[i].error);
			cli_json_object_end(&w);
		}
		cli_json_array_end(&w);
	}
	if (rep) {
		cli_json_object_begin(&w, "reconcile");
		cli_json_int(&w, "reclaimed_dead", (long long)rep->reclaimed_dead);
		cli_json_int(&w, "reclaimed_expired", (long long)rep->reclaimed_expired);
		cli_json_int(&w, "released_finished", (long long)rep->released_finished);
		cli_json_int(&w, "counters_fixed", (long long)rep->counters_fixed);
		cli_json_object_end(&w);
	}
	cli_json_object_end(&w);
	cli_json_finish(&w);
}

/* Syncs every account of the view, one by one; a failure is recorded and the others go on. */
static int sync_all(sync_result **out, cli_env *env, const pool_view *v, int json)
{
	sync_result *res = calloc(v->count ? v->count : 1, sizeof(*res));
	size_t i;
	int failed = 0;

	if (!res) {
		cli_error("out of memory");
		return -1;
	}
	for (i = 0; i < v->count; i++) {
		const provauth_pool_account *a = v->accounts[i];
		int rc;

		res[i].account_id = strdup(a->account_id);
		cli_progress("asking %s about account %s (%zu of %zu)...", a->provider, a->account_id, i + 1, v->count);
		rc = provauth_pool_sync(env->manager, a->account_id);
		cli_progress_done();
		if (rc < 0) {
			res[i].error = strdup(provauth_last_error());
			cli_env_flush_events(env);
			cli_error("account %s: %s", a->account_id, provauth_last_error());
			provauth_error_clear();
			failed = 1;
		} else if (!json) {
			printf("Synced account %s.\n", a->account_id);
		}
	}
	*out = res;
	return failed;
}

static int run_pool(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	const char *provider = NULL;
	int sync = 0, reconcile = 0;
	const cli_option opts[] = {
		{ "--provider", "ID", &provider, NULL },
		{ "--sync", NULL, NULL, &sync },
		{ "--reconcile", NULL, NULL, &reconcile },
		{ NULL, NULL, NULL, NULL },
	};
	const cli_spec spec = { opts, 0, 0 };
	provauth_pool_reconcile_report rep = { PROVAUTH_POOL_RECONCILE_REPORT_VERSION, 0, 0, 0, 0 };
	pool_view v = { 0 };
	sync_result *synced = NULL;
	char *args[CLI_MAX_ARGS];
	size_t nargs, i, synced_count = 0;
	int r, rc, failed = 0;
	cli_env env;

	if ((r = cli_parse(ctx, "pool", self, &spec, argc, argv, args, &nargs)) >= 0)
		return r;
	if ((r = cli_env_open(&env, ctx, (sync || reconcile) ? CLI_STORE_EXISTING : CLI_STORE_EXISTING_OR_EMPTY)) != 0)
		return r;
	if (sync) {
		if ((rc = provauth_pool_list(&v.accounts, &v.count, NULL, NULL, env.manager, provider)) < 0) {
			r = cli_env_fail(&env, rc);
			goto out;
		}
		if ((rc = sync_all(&synced, &env, &v, ctx->json)) < 0) {
			r = CLI_EXIT_ERROR;
			goto out;
		}
		failed |= rc;
		synced_count = v.count;
		pool_view_free(&v);
	}
	if (reconcile) {
		cli_progress("reconciling the pool...");
		rc = provauth_pool_reconcile(&rep, env.manager, provider);
		cli_progress_done();
		if (rc < 0) {
			r = cli_env_fail(&env, rc);
			goto out;
		}
		if (!ctx->json)
			printf("Reconciled: %zu reservation%s of dead holders and %zu expired reclaimed, %zu finished "
			       "job%s released, %zu counter%s fixed.\n\n", rep.reclaimed_dead,
			       rep.reclaimed_dead == 1 ? "" : "s", rep.reclaimed_expired, rep.released_finished,
			       rep.released_finished == 1 ? "" : "s", rep.counters_fixed, rep.counters_fixed == 1 ? "" : "s");
	} else if (sync && !ctx->json) {
		printf("\n");
	}
	if ((rc = provauth_pool_list(&v.accounts, &v.count, &v.reservations, &v.reservation_count, env.manager,
	                             provider)) < 0) {
		r = cli_env_fail(&env, rc);
		goto out;
	}
	if (ctx->json)
		print_json(&v, sync ? synced : NULL, synced_count, reconcile ? &rep : NULL, (int64_t)time(NULL));
	else
		print_accounts_text(&v, provider, env.no_store, (int64_t)time(NULL));
	r = failed ? CLI_EXIT_ERROR : CLI_EXIT_OK;
out:
	for (i = 0; synced && i < synced_count; i++) {
		free(synced[i].account_id);
		free(synced[i].error);
	}
	free(synced);
	pool_view_free(&v);
	return cli_env_close(&env, r);
}

/* ---- pool set ---- */

static int run_set(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	const char *priority = NULL;
	int disable = 0, enable = 0, clear_cooldown = 0;
	const cli_option opts[] = {
		{ "--priority", "N", &priority, NULL },
		{ "--disable", NULL, NULL, &disable },
		{ "--enable", NULL, NULL, &enable },
		{ "--clear-cooldown", NULL, NULL, &clear_cooldown },
		{ NULL, NULL, NULL, NULL },
	};
	const cli_spec spec = { opts, 1, 1 };
	provauth_pool_settings ps = PROVAUTH_POOL_SETTINGS_INIT;
	pool_view v = { 0 };
	char *args[CLI_MAX_ARGS], *end;
	const provauth_pool_account *a = NULL;
	size_t nargs, i;
	int r, rc;
	long p;
	cli_env env;

	if ((r = cli_parse(ctx, "pool set", self, &spec, argc, argv, args, &nargs)) >= 0)
		return r;
	if (disable && enable)
		return cli_usage_error("pool set", "give --disable or --enable, not both");
	if (!priority && !disable && !enable && !clear_cooldown)
		return cli_usage_error("pool set", "'pool set' needs --priority N, --disable, --enable or --clear-cooldown");
	if (priority) {
		errno = 0;
		p = strtol(priority, &end, 10);
		if (errno || *end || p < -1000000 || p > 1000000)
			return cli_usage_error("pool set", "the --priority given is not an integer (-1000000 to 1000000)");
		ps.set_priority = 1;
		ps.priority = (int)p;
	}
	if (disable || enable) {
		ps.set_disabled = 1;
		ps.disabled = disable;
	}
	ps.clear_cooldown = clear_cooldown;
	if ((r = cli_env_open(&env, ctx, CLI_STORE_EXISTING)) != 0)
		return r;
	if ((rc = provauth_pool_configure(env.manager, args[0], &ps)) < 0 ||
	    (rc = provauth_pool_list(&v.accounts, &v.count, NULL, NULL, env.manager, NULL)) < 0) {
		r = cli_env_fail(&env, rc);
		goto out;
	}
	for (i = 0; i < v.count; i++)
		if (strcmp(v.accounts[i]->account_id, args[0]) == 0)
			a = v.accounts[i];
	if (!a) {
		cli_error("account %s is not in the pool any more", args[0]);
		r = CLI_EXIT_ERROR;
		goto out;
	}
	if (ctx->json) {
		cli_json w;
		cli_json_init(&w, stdout);
		account_json(&w, a, (int64_t)time(NULL));
		cli_json_finish(&w);
	} else {
		char cooldown[96];
		cooldown_text(cooldown, sizeof(cooldown), a, (int64_t)time(NULL));
		printf("Account %s: status %s, priority %d, cooldown %s.\n", a->account_id, a->status ? a->status : "-",
		       a->priority, cooldown);
	}
	r = CLI_EXIT_OK;
out:
	pool_view_free(&v);
	return cli_env_close(&env, r);
}

static const cli_command pool_set_command = {
	.name = "set",
	.summary = "change an account's pool state",
	.usage = "ID [--priority N] [--disable | --enable] [--clear-cooldown]",
	.help = "  --priority N       higher priorities are chosen first (default 0)\n"
	        "  --disable          never choose the account\n"
	        "  --enable           choose it again (also ends an \"exhausted\" status)\n"
	        "  --clear-cooldown   end its cooldown now\n",
	.run = run_set,
};

/*
 * `pool` is a listing with options and a `set` subcommand: the dispatcher
 * knows groups or leaves, so `pool set ...` is routed here.
 */
static int run_pool_or_set(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	if (argc > 0 && strcmp(argv[0], "set") == 0) {
		if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
			cli_command_help(stdout, "pool set", &pool_set_command);
			return CLI_EXIT_OK;
		}
		return run_set(ctx, &pool_set_command, argc - 1, argv + 1);
	}
	return run_pool(ctx, self, argc, argv);
}

const cli_command cli_cmd_pool = {
	.name = "pool",
	.summary = "the account pool: slots, cooldowns, credits (pool set ID: change one)",
	.usage = "[--provider ID] [--sync] [--reconcile]  |  pool set ID [--priority N] [--disable | --enable]\n"
	         "       [--clear-cooldown]",
	.help = "Shows each account of the pool: id, email, status (active, exhausted,\n"
	        "disabled, banned), session health, slots in use of the jobs it may run at\n"
	        "once (and the lower cap learnt from the provider's refusals), the cooldown\n"
	        "left and why, credits by kind, and when it was last chosen; then the\n"
	        "reservations held.\n"
	        "\n"
	        "  --provider ID   only this provider's accounts\n"
	        "  --sync          first ask the provider for each account's credits and\n"
	        "                  limits (an exhausted account with credits is active again)\n"
	        "  --reconcile     first repair the pool: reclaim the reservations of dead\n"
	        "                  processes and expired ones, release the jobs the provider\n"
	        "                  reports ended, fix the in-use counters\n"
	        "\n"
	        "pool set ID changes an account's pool state:\n"
	        "  --priority N       higher priorities are chosen first (default 0)\n"
	        "  --disable          never choose the account; --enable: choose it again\n"
	        "  --clear-cooldown   end its cooldown now\n",
	.run = run_pool_or_set,
};
