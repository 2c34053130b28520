/*
 * `provauth jobs status|delete HANDLE...`: the generation jobs that
 * `provauth generate` submitted, named by their handles ACCOUNT_ID/JOB_ID.
 * Jobs are grouped by account so that each account is asked once (the
 * provider answers all of an account's jobs in one list request), and a job
 * seen finished gives its pool slot back: the reservation belongs to the
 * job until then, whoever submitted it.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "cli.h"

/* ---- handles and the provider's answer (shared with generate --wait) ---- */

int cli_job_parse(cli_job *out, const char *handle)
{
	const char *slash = strchr(handle, '/');

	memset(out, 0, sizeof(*out));
	out->code = -1;
	if (!slash || slash == handle || !slash[1] || strchr(slash + 1, '/') || strchr(handle, ','))
		return -1;
	if (!(out->handle = strdup(handle)) || !(out->split = strdup(handle))) {
		cli_job_clear(out);
		return -1;
	}
	out->split[slash - handle] = '\0';
	out->account_id = out->split;
	out->job_id = out->split + (slash - handle) + 1;
	return 0;
}

void cli_job_clear(cli_job *job)
{
	free(job->handle);
	free(job->split);
	free(job->url);
	memset(job, 0, sizeof(*job));
	job->code = -1;
}

int cli_job_finished(const char *state, provauth_pool_outcome *outcome)
{
	int o = provauth_pool_outcome_for_job(state);

	if (o < 0)
		return 0;
	*outcome = (provauth_pool_outcome)o;
	return 1;
}

static const char *string_member(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Fills the jobs the answer names; the others stay "unknown". */
static int read_answer(cli_job *jobs, size_t n, const char *text, const char *account_id)
{
	json_object *o = json_tokener_parse(text), *list = NULL;
	size_t i, k, count;

	for (i = 0; i < n; i++) {
		snprintf(jobs[i].state, sizeof(jobs[i].state), "unknown");
		free(jobs[i].url);
		jobs[i].url = NULL;
		jobs[i].code = -1;
	}
	if (!o || !json_object_object_get_ex(o, "jobs", &list) || !json_object_is_type(list, json_type_array)) {
		json_object_put(o);
		provauth_error_clear();
		cli_error("account %s: the provider's job list is not {\"jobs\": [...]}", account_id);
		return PROVAUTH_EPROTOCOL;
	}
	count = json_object_array_length(list);
	for (k = 0; k < count; k++) {
		json_object *e = json_object_array_get_idx(list, k), *code;
		const char *id = string_member(e, "id"), *state = string_member(e, "state");
		const char *url = string_member(e, "url");

		if (!id || !state)
			continue;
		for (i = 0; i < n; i++) {
			if (strcmp(jobs[i].job_id, id) != 0)
				continue;
			snprintf(jobs[i].state, sizeof(jobs[i].state), "%s", state);
			jobs[i].url = url ? strdup(url) : NULL;
			if (json_object_object_get_ex(e, "code", &code) && json_object_is_type(code, json_type_int))
				jobs[i].code = json_object_get_int64(code);
		}
	}
	json_object_put(o);
	return 0;
}

int cli_jobs_query(provauth_manager *m, const char *account_id, cli_job *jobs, size_t n)
{
	provauth_arg arg = { "ids", NULL };
	char *ids = NULL, *out = NULL;
	size_t len = 0, i;
	FILE *f;
	int rc;

	if (!(f = open_memstream(&ids, &len)))
		return PROVAUTH_ENOMEM;
	for (i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "", jobs[i].job_id);
	if (fclose(f) != 0) {
		free(ids);
		return PROVAUTH_ENOMEM;
	}
	arg.value = ids;
	rc = provauth_call(&out, m, account_id, "jobs", &arg, 1);
	free(ids);
	if (rc == 0)
		rc = read_answer(jobs, n, out, account_id);
	provauth_free(out);
	return rc;
}

/* ---- status and delete ---- */

/* The handles of the command line; on a bad one reports it and returns CLI_EXIT_USAGE. */
static int parse_handles(cli_job **out, const char *path, char **args, size_t n)
{
	cli_job *jobs = calloc(n, sizeof(*jobs));
	size_t i;

	if (!jobs) {
		cli_error("out of memory");
		return CLI_EXIT_ERROR;
	}
	for (i = 0; i < n; i++) {
		if (cli_job_parse(&jobs[i], args[i]) < 0) {
			size_t bad = i + 1;
			while (i--)
				cli_job_clear(&jobs[i]);
			free(jobs);
			return cli_usage_error(path, "argument %zu of '%s' is not a job handle ACCOUNT_ID/JOB_ID "
			                       "(as 'provauth generate' prints it)", bad, path);
		}
	}
	*out = jobs;
	return -1;
}

static void free_jobs(cli_job *jobs, size_t n)
{
	size_t i;

	for (i = 0; jobs && i < n; i++)
		cli_job_clear(&jobs[i]);
	free(jobs);
}

/*
 * The indexes of jobs of the same account as jobs[first], into group[];
 * marks them seen. Keeps the command line's order inside a group.
 */
static size_t group_of(size_t *group, unsigned char *seen, const cli_job *jobs, size_t n, size_t first)
{
	size_t i, count = 0;

	for (i = first; i < n; i++) {
		if (seen[i] || strcmp(jobs[i].account_id, jobs[first].account_id) != 0)
			continue;
		seen[i] = 1;
		group[count++] = i;
	}
	return count;
}

/* Gives a finished job's slot back; a reservation already released is not an error. */
static int release_finished(provauth_manager *m, const cli_job *job)
{
	provauth_pool_outcome outcome;
	int rc;

	if (!cli_job_finished(job->state, &outcome))
		return 0;
	rc = provauth_pool_release_job(m, job->account_id, job->job_id, outcome);
	if (rc == PROVAUTH_ENOTFOUND) {
		provauth_error_clear();
		return 0;
	}
	return rc < 0 ? rc : 1;
}

typedef struct job_result {
	int asked;                  /* the provider answered for this job's account */
	int released;               /* this command gave the job's slot back */
	int deleted;
} job_result;

static void print_results(const cli_ctx *ctx, const cli_job *jobs, const job_result *res, size_t n, int delete)
{
	size_t i;
	int w = 6;

	if (ctx->json) {
		cli_json w_json;
		cli_json_init(&w_json, stdout);
		cli_json_array_begin(&w_json, NULL);
		for (i = 0; i < n; i++) {
			cli_json_object_begin(&w_json, NULL);
			cli_json_string(&w_json, "handle", jobs[i].handle);
			cli_json_string(&w_json, "account_id", jobs[i].account_id);
			cli_json_string(&w_json, "job_id", jobs[i].job_id);
			if (delete) {
				cli_json_bool(&w_json, "deleted", res[i].deleted);
			} else {
				cli_json_string(&w_json, "state", res[i].asked ? jobs[i].state : NULL);
				cli_json_string(&w_json, "url", jobs[i].url);
				if (jobs[i].code >= 0)
					cli_json_int(&w_json, "code", jobs[i].code);
				else
					cli_json_raw(&w_json, "code", "null");
			}
			cli_json_bool(&w_json, "released", res[i].released);
			cli_json_object_end(&w_json);
		}
		cli_json_array_end(&w_json);
		cli_json_finish(&w_json);
		return;
	}
	for (i = 0; i < n; i++)
		if ((int)strlen(jobs[i].handle) > w)
			w = (int)strlen(jobs[i].handle);
	if (delete) {
		for (i = 0; i < n; i++)
			if (res[i].asked)
				printf("%-*s  %s\n", w, jobs[i].handle, res[i].deleted ? "deleted" : "not deleted");
		return;
	}
	printf("%-*s  %-10s  %s\n", w, "JOB", "STATE", "RESULT");
	for (i = 0; i < n; i++) {
		if (!res[i].asked)
			continue;
		printf("%-*s  %-10s  %s%s\n", w, jobs[i].handle, jobs[i].state, jobs[i].url ? jobs[i].url : "-",
		       res[i].released ? "  (slot released)" : "");
	}
}

/* Marks the jobs of group[] the provider's {"deleted": [...]} lists. */
static int read_deleted(cli_job *jobs, job_result *res, const size_t *group, size_t count, const char *text)
{
	json_object *o = json_tokener_parse(text), *list = NULL;
	size_t i, k;

	if (!o || !json_object_object_get_ex(o, "deleted", &list) || !json_object_is_type(list, json_type_array)) {
		json_object_put(o);
		return -1;
	}
	for (k = 0; k < json_object_array_length(list); k++) {
		const char *id = json_object_get_string(json_object_array_get_idx(list, k));
		for (i = 0; id && i < count; i++)
			if (strcmp(jobs[group[i]].job_id, id) == 0)
				res[group[i]].deleted = 1;
	}
	json_object_put(o);
	return 0;
}

/* One "delete" call for the jobs of group[] (all of one account). */
static int delete_group(provauth_manager *m, cli_job *jobs, job_result *res, const size_t *group, size_t count)
{
	provauth_arg arg = { "ids", NULL };
	char *ids = NULL, *out = NULL;
	size_t len = 0, i;
	FILE *f;
	int rc;

	if (!(f = open_memstream(&ids, &len)))
		return PROVAUTH_ENOMEM;
	for (i = 0; i < count; i++)
		fprintf(f, "%s%s", i ? "," : "", jobs[group[i]].job_id);
	if (fclose(f) != 0) {
		free(ids);
		return PROVAUTH_ENOMEM;
	}
	arg.value = ids;
	rc = provauth_call(&out, m, jobs[group[0]].account_id, "delete", &arg, 1);
	free(ids);
	if (rc == 0 && read_deleted(jobs, res, group, count, out) < 0) {
		cli_error("account %s: the provider's answer to delete is not {\"deleted\": [...]}",
		          jobs[group[0]].account_id);
		rc = PROVAUTH_EPROTOCOL;
	}
	provauth_free(out);
	return rc;
}

/*
 * One "jobs" call for the jobs of group[] (all of one account). They need
 * not be next to each other on the command line: the call is made over
 * copies, whose answers then go back in place.
 */
static int query_group(provauth_manager *m, cli_job *jobs, const size_t *group, size_t count)
{
	cli_job *batch = calloc(count, sizeof(*batch));
	size_t k;
	int rc;

	if (!batch)
		return PROVAUTH_ENOMEM;
	for (k = 0; k < count; k++)
		batch[k] = jobs[group[k]];
	rc = cli_jobs_query(m, jobs[group[0]].account_id, batch, count);
	for (k = 0; k < count; k++)
		jobs[group[k]] = batch[k];
	free(batch);
	return rc;
}

static int run_jobs(cli_ctx *ctx, const cli_command *self, const char *path, int delete, int argc, char **argv)
{
	const cli_spec spec = { NULL, 1, CLI_MAX_ARGS };
	char *args[CLI_MAX_ARGS];
	cli_job *jobs = NULL;
	job_result *res = NULL;
	size_t nargs, i, k, count, *group = NULL;
	unsigned char *seen = NULL;
	int r, rc, failed = 0;
	cli_env env;

	if ((r = cli_parse(ctx, path, self, &spec, argc, argv, args, &nargs)) >= 0)
		return r;
	if ((r = parse_handles(&jobs, path, args, nargs)) >= 0)
		return r;
	if ((r = cli_env_open(&env, ctx, CLI_STORE_EXISTING)) != 0) {
		free_jobs(jobs, nargs);
		return r;
	}
	res = calloc(nargs, sizeof(*res));
	group = calloc(nargs, sizeof(*group));
	seen = calloc(nargs, 1);
	if (!res || !group || !seen) {
		cli_error("out of memory");
		r = CLI_EXIT_ERROR;
		goto out;
	}
	for (i = 0; i < nargs; i++) {
		if (seen[i])
			continue;
		count = group_of(group, seen, jobs, nargs, i);
		cli_progress("asking %s about %zu job%s...", jobs[i].account_id, count, count == 1 ? "" : "s");
		if (delete)
			rc = delete_group(env.manager, jobs, res, group, count);
		else
			rc = query_group(env.manager, jobs, group, count);
		cli_progress_done();
		if (rc < 0) {
			/* One account's failure is told with its name; the others are still asked. */
			cli_env_flush_events(&env);
			if (!provauth_last_error()[0])
				;  /* told already, with the account (an answer that did not parse) */
			else if (strstr(provauth_last_error(), jobs[i].account_id))
				cli_error("%s", provauth_last_error());
			else
				cli_error("account %s: %s", jobs[i].account_id, provauth_last_error());
			cli_account_hint(env.manager, jobs[i].account_id, rc);
			provauth_error_clear();
			failed = 1;
			continue;
		}
		for (k = 0; k < count; k++) {
			cli_job *j = &jobs[group[k]];
			res[group[k]].asked = 1;
			if (delete) {
				rc = provauth_pool_release_job(env.manager, j->account_id, j->job_id, PROVAUTH_POOL_DONE);
				if (rc == PROVAUTH_ENOTFOUND)
					provauth_error_clear();
				res[group[k]].released = rc == 0;
			} else {
				rc = release_finished(env.manager, j);
				res[group[k]].released = rc > 0;
			}
			if (rc < 0 && rc != PROVAUTH_ENOTFOUND) {
				cli_error("job %s: the pool slot could not be released: %s", j->handle, provauth_last_error());
				failed = 1;
			}
		}
	}
	print_results(ctx, jobs, res, nargs, delete);
	r = failed ? CLI_EXIT_ERROR : CLI_EXIT_OK;
out:
	free(seen);
	free(group);
	free(res);
	free_jobs(jobs, nargs);
	return cli_env_close(&env, r);
}

static int run_status(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	return run_jobs(ctx, self, "jobs status", 0, argc, argv);
}

static int run_delete(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	return run_jobs(ctx, self, "jobs delete", 1, argc, argv);
}

static const cli_command jobs_commands[] = {
	{
		.name = "status",
		.summary = "the state and result of generation jobs",
		.usage = "HANDLE...",
		.help = "HANDLE is ACCOUNT_ID/JOB_ID, as 'provauth generate' prints it. Each\n"
		        "account is asked once for all of its jobs. Shows each job's state\n"
		        "(queued, processing, done, moderated, failed, or unknown when the\n"
		        "provider no longer lists it) and, once done, the result's URL. A job\n"
		        "seen finished gives its account's pool slot back.\n",
		.run = run_status,
	},
	{
		.name = "delete",
		.summary = "delete generation jobs and their results at the provider",
		.usage = "HANDLE...",
		.help = "HANDLE is ACCOUNT_ID/JOB_ID. One request per account; a job the provider\n"
		        "had already deleted counts as deleted. The jobs' pool slots are released.\n",
		.run = run_delete,
	},
	{ .name = NULL },
};

const cli_command cli_cmd_jobs = {
	.name = "jobs",
	.summary = "follow or delete generation jobs",
	.subcommands = jobs_commands,
};
