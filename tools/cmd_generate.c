/*
 * `provauth generate`: one generation job through the account pool. The
 * pool picks an account that can take the job now (healthy, no cooldown, a
 * free slot, enough credits) and reserves it; the job's images are uploaded
 * and the job submitted through that account's session; the reservation
 * then belongs to the job, and is given back when the job is seen finished
 * (here with --wait, or by `provauth jobs status`, or the pool's reconcile).
 *
 * The job's parameters go to the pool first, so that a bad one is refused,
 * named, before any account is reserved. A refusal that is the account's
 * (too many jobs, no credits, a session that could not be recovered) is
 * given back to the pool with that outcome, and the job tried once more on
 * another account, as the workers of the notes do.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include "cli.h"

/* The provider's answer is a list of the account's jobs: asked this often. */
#define POLL_FIRST_MS 1000
#define POLL_EVERY_MS 2000
/* Jobs run for minutes; the notes' poller gives up on a job after two hours. */
#define DEFAULT_TIMEOUT_S 3600
/* A provider that no longer lists the job this many times in a row has lost it. */
#define UNKNOWN_POLLS_MAX 5
/* Network faults while following a job are waited out this many times in a row. */
#define POLL_ERRORS_MAX 5
#define MAX_IMAGES 8
#define MAX_JOB_ARGS (16 + 2 * MAX_IMAGES)

typedef struct gen_opts {
	const char *provider, *prompt, *type, *model, *quality, *duration, *aspect_ratio, *account;
	const char *timeout, *video_id, *durations, *seed, *negative_prompt;
	int wait;
	const char *images[MAX_IMAGES];
	size_t image_count;
	long timeout_s;
} gen_opts;

/* What a submission produced. */
typedef struct submitted {
	provauth_pool_reservation *rsv;
	char *answer;               /* the provider's generate result (JSON text) */
	char *job_id;
	char handle[512];
	char state[16];
	char *url;
	long long code;
	long elapsed_s;
	int told;                   /* the last failure was reported (it came after a reservation) */
} submitted;

static const char *const job_types[] = { "t2v", "i2v", "t2i", "i2i", "extend", "transition", NULL };

/*
 * Values given on the command line are never repeated in messages (a
 * misplaced secret must not reach a terminal): they are named by option.
 *
 * --image may repeat, which cli_parse does not allow: it is taken out of
 * argv here (into o->images), and the rest goes to cli_parse in `rest`.
 */
static int take_images(gen_opts *o, int argc, char **argv, char **rest, int *nrest)
{
	int i;

	*nrest = 0;
	for (i = 0; i < argc; i++) {
		const char *file = NULL;

		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				rest[(*nrest)++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--image") == 0) {
			if (i + 1 >= argc)
				return cli_usage_error("generate", "option '--image' needs a value (FILE)");
			file = argv[++i];
		} else if (strncmp(argv[i], "--image=", 8) == 0) {
			file = argv[i] + 8;
		} else {
			rest[(*nrest)++] = argv[i];
			continue;
		}
		if (!*file)
			return cli_usage_error("generate", "option '--image' needs a non-empty FILE");
		if (o->image_count >= MAX_IMAGES)
			return cli_usage_error("generate", "at most %d --image options", MAX_IMAGES);
		o->images[o->image_count++] = file;
	}
	return -1;
}

/* The type the images imply when --type is not given. */
static const char *default_type(const gen_opts *o)
{
	if (o->video_id)
		return "extend";
	if (o->image_count == 0)
		return "t2v";
	return o->image_count == 1 ? "i2v" : "transition";
}

static int check_options(gen_opts *o)
{
	size_t i;
	char *end;

	if (!o->provider)
		return cli_usage_error("generate", "'generate' needs --provider ID (e.g. pixverse)");
	if (!o->prompt)
		return cli_usage_error("generate", "'generate' needs --prompt TEXT");
	if (o->type) {
		for (i = 0; job_types[i] && strcmp(job_types[i], o->type) != 0; i++)
			;
		if (!job_types[i])
			return cli_usage_error("generate", "the --type given is not one of t2v, i2v, t2i, i2i, extend, "
			                       "transition");
	} else {
		o->type = default_type(o);
	}
	o->timeout_s = DEFAULT_TIMEOUT_S;
	if (o->timeout) {
		errno = 0;
		o->timeout_s = strtol(o->timeout, &end, 10);
		if (errno || *end || o->timeout_s <= 0 || o->timeout_s > 7 * 86400)
			return cli_usage_error("generate", "the --timeout given is not a number of seconds (1 to 604800)");
		if (!o->wait)
			return cli_usage_error("generate", "--timeout is for --wait");
	}
	return -1;
}

static void add_arg(provauth_arg *args, size_t *n, const char *key, const char *value)
{
	if (value && *n < MAX_JOB_ARGS)
		args[(*n)++] = (provauth_arg){ key, value };
}

/*
 * The generate operation's arguments. `urls`/`paths` are the uploaded
 * images; NULL gives placeholders of the same number, enough for the pool
 * to validate the job and price it before anything is uploaded.
 */
static size_t job_args(provauth_arg *args, const gen_opts *o, char *const *urls, char *const *paths)
{
	static const char placeholder_url[] = "https://media.pixverse.ai/upload/pending.png";
	static const char placeholder_path[] = "upload/pending.png";
	size_t n = 0, i;

	add_arg(args, &n, "type", o->type);
	add_arg(args, &n, "prompt", o->prompt);
	add_arg(args, &n, "model", o->model);
	add_arg(args, &n, "quality", o->quality);
	add_arg(args, &n, "duration", o->duration);
	add_arg(args, &n, "aspect_ratio", o->aspect_ratio);
	add_arg(args, &n, "seed", o->seed);
	add_arg(args, &n, "negative_prompt", o->negative_prompt);
	add_arg(args, &n, "video_id", o->video_id);
	add_arg(args, &n, "durations", o->durations);
	for (i = 0; i < o->image_count; i++) {
		add_arg(args, &n, "image_url", urls ? urls[i] : placeholder_url);
		add_arg(args, &n, "image_path", paths ? paths[i] : placeholder_path);
	}
	return n;
}

static char *string_member(const char *text, const char *key)
{
	json_object *o = json_tokener_parse(text), *v;
	char *s = NULL;

	if (o && json_object_object_get_ex(o, key, &v) && v &&
	    (json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int)))
		s = strdup(json_object_get_string(v));
	json_object_put(o);
	return s;
}

/* Uploads o->images through the account; their URLs and paths go to urls[], paths[]. */
static int upload_images(provauth_manager *m, const char *account_id, const gen_opts *o, char **urls, char **paths)
{
	size_t i;
	int rc;

	for (i = 0; i < o->image_count; i++) {
		provauth_arg arg = { "file", o->images[i] };
		char *out = NULL;

		cli_progress("uploading %s through account %s...", o->images[i], account_id);
		rc = provauth_call(&out, m, account_id, "upload", &arg, 1);
		cli_progress_done();
		if (rc == 0 && (!(urls[i] = string_member(out, "url")) || !(paths[i] = string_member(out, "path")))) {
			cli_error("account %s: the upload of %s answered no url and path", account_id, o->images[i]);
			rc = PROVAUTH_EPROTOCOL;
		}
		provauth_free(out);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A refusal that is the account's, not the job's: another account may take the job. */
static int worth_another_account(int rc)
{
	return rc == PROVAUTH_ECONCURRENCY || rc == PROVAUTH_ECREDITS || rc == PROVAUTH_ESESSION;
}

/*
 * One try: reserve, upload, submit, attach. On failure the reservation is
 * given back with the outcome the error means, and the error returned.
 */
static int try_submit(submitted *s, provauth_manager *m, const gen_opts *o)
{
	provauth_pool_request req = PROVAUTH_POOL_REQUEST_INIT;
	provauth_arg args[MAX_JOB_ARGS];
	char *urls[MAX_IMAGES] = { NULL }, *paths[MAX_IMAGES] = { NULL };
	size_t i;
	int rc;

	req.provider = o->provider;
	req.account_id = o->account;
	req.operation = "generate";
	req.args = args;
	req.nargs = job_args(args, o, NULL, NULL);
	req.label = o->prompt;
	s->told = 0;
	if ((rc = provauth_pool_acquire(&s->rsv, m, &req)) < 0)
		return rc;
	if ((rc = upload_images(m, s->rsv->account_id, o, urls, paths)) == 0) {
		size_t n = job_args(args, o, urls, paths);
		cli_progress("submitting the job through account %s...", s->rsv->account_id);
		rc = provauth_call(&s->answer, m, s->rsv->account_id, "generate", args, n);
		cli_progress_done();
		if (rc == 0 && !(s->job_id = string_member(s->answer, "job_id"))) {
			cli_error("account %s: the provider's generate answered no job_id", s->rsv->account_id);
			rc = PROVAUTH_EPROTOCOL;
		}
	}
	for (i = 0; i < MAX_IMAGES; i++) {
		free(urls[i]);
		free(paths[i]);
	}
	if (rc < 0) {
		/* The release must not replace the message of the failure it follows. */
		char *why = strdup(provauth_last_error());
		provauth_pool_release(m, s->rsv->id, provauth_pool_outcome_for(rc));
		provauth_error_clear();
		if (why)
			cli_error("account %s: %s", s->rsv->account_id, why);
		free(why);
		s->told = 1;
		provauth_free(s->answer);
		s->answer = NULL;
		provauth_pool_reservation_free(s->rsv);
		s->rsv = NULL;
		return rc;
	}
	snprintf(s->handle, sizeof(s->handle), "%s/%s", s->rsv->account_id, s->job_id);
	if (provauth_pool_attach_job(m, s->rsv->id, s->job_id) < 0) {
		/* Submitted all the same: the slot is freed with this process, or by reconcile. */
		cli_error("warning: job %s: the pool could not record it: %s", s->handle, provauth_last_error());
		provauth_error_clear();
	}
	return 0;
}

/* ---- following the job ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Only the states the pool hooks define are shown: the text comes from a plugin. */
static const char *shown_state(const char *state)
{
	static const char *const known[] = { "queued", "processing", "done", "moderated", "failed", "unknown" };
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(state, known[i]) == 0)
			return known[i];
	return state[0] ? "unknown" : "submitted";
}

/*
 * The progress line on a terminal, rewritten in place: written to the
 * descriptor itself, since stderr's filter escapes the carriage return.
 * Every byte of it is the tool's own or checked printable.
 */
static void progress_line(const char *handle, const char *state, long elapsed_s, int clear)
{
	char line[640];
	int n;
	size_t i;

	if (clear)
		n = snprintf(line, sizeof(line), "\r\033[K");
	else
		n = snprintf(line, sizeof(line), "\r\033[Kprovauth: job %s: %s, %ld s", handle, state, elapsed_s);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	for (i = 4; i < (size_t)n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

static int transient(int rc)
{
	return rc == PROVAUTH_ENETWORK || rc == PROVAUTH_ETIMEOUT || rc == PROVAUTH_EHTTP ||
	       rc == PROVAUTH_ERATELIMIT || rc == PROVAUTH_EOVERLOAD;
}

/*
 * Polls the job until it ends or the timeout passes: first after a second
 * (a moderated job shows early), then every two seconds. Returns the exit
 * status; the job's final state is in s.
 */
static int follow(submitted *s, cli_env *env, const gen_opts *o)
{
	int tty = isatty(STDERR_FILENO);
	int64_t start = now_ms(), next_poll = start + POLL_FIRST_MS;
	int unknown_polls = 0, errors = 0, rc;
	char last_shown[16] = "";
	cli_job job;

	if (cli_job_parse(&job, s->handle) < 0) {
		cli_error("job %s: the handle cannot be followed (out of memory?)", s->handle);
		return CLI_EXIT_ERROR;
	}
	snprintf(s->state, sizeof(s->state), "submitted");
	for (;;) {
		int64_t now = now_ms();
		provauth_pool_outcome outcome;

		s->elapsed_s = (long)((now - start) / 1000);
		if (tty)
			progress_line(s->handle, shown_state(s->state), s->elapsed_s, 0);
		if (s->elapsed_s >= o->timeout_s) {
			rc = CLI_EXIT_JOB_TIMEOUT;
			break;
		}
		if (now < next_poll) {
			/* On a terminal the elapsed time ticks every second between polls. */
			sleep_ms(tty && next_poll - now > 1000 ? 1000 : next_poll - now);
			continue;
		}
		next_poll = now + POLL_EVERY_MS;
		if ((rc = cli_jobs_query(env->manager, job.account_id, &job, 1)) < 0) {
			if (transient(rc) && ++errors < POLL_ERRORS_MAX) {
				provauth_error_clear();
				continue;
			}
			if (tty)
				progress_line(s->handle, "", 0, 1);
			cli_env_fail(env, rc);
			cli_error("job %s was not followed to its end; ask again with 'provauth jobs status %s'",
			          s->handle, s->handle);
			cli_job_clear(&job);
			return CLI_EXIT_ERROR;
		}
		errors = 0;
		snprintf(s->state, sizeof(s->state), "%s", shown_state(job.state));
		s->code = job.code;
		if (!tty && strcmp(last_shown, s->state) != 0) {
			fprintf(stderr, "provauth: job %s: %s after %ld s\n", s->handle, s->state, s->elapsed_s);
			snprintf(last_shown, sizeof(last_shown), "%s", s->state);
		}
		unknown_polls = strcmp(s->state, "unknown") == 0 ? unknown_polls + 1 : 0;
		if (unknown_polls >= UNKNOWN_POLLS_MAX) {
			snprintf(s->state, sizeof(s->state), "failed");
			cli_error("job %s: the provider no longer lists it", s->handle);
		}
		if (cli_job_finished(s->state, &outcome)) {
			free(s->url);
			s->url = job.url ? strdup(job.url) : NULL;
			rc = provauth_pool_release(env->manager, s->rsv->id, outcome);
			if (rc == PROVAUTH_ENOTFOUND)  /* another process saw it end first */
				provauth_error_clear();
			else if (rc < 0)
				cli_error("warning: job %s: its pool slot could not be released: %s", s->handle,
				          provauth_last_error());
			rc = strcmp(s->state, "done") == 0 ? CLI_EXIT_OK :
			     strcmp(s->state, "moderated") == 0 ? CLI_EXIT_JOB_MODERATED : CLI_EXIT_JOB_FAILED;
			break;
		}
	}
	if (tty)
		progress_line(s->handle, "", 0, 1);
	cli_job_clear(&job);
	return rc;
}

/* ---- output ---- */

static void print_text(const submitted *s, const provauth_account *a, int waited, int r)
{
	char *type = string_member(s->answer, "type"), *model = string_member(s->answer, "model");
	char *quality = string_member(s->answer, "quality"), *cost = string_member(s->answer, "cost");
	char *kind = string_member(s->answer, "credit_kind");

	printf("job:      %s\n", s->handle);
	printf("account:  %s (%s)\n", s->rsv->account_id, a && a->email ? a->email : "no email");
	printf("type:     %s, model %s, quality %s\n", type ? type : "?", model ? model : "?", quality ? quality : "?");
	if (cost)
		printf("cost:     %s %s credits\n", cost, kind ? kind : "");
	if (waited) {
		printf("state:    %s after %ld s\n", s->state, s->elapsed_s);
		if (r == CLI_EXIT_OK)
			printf("result:   %s\n", s->url ? s->url : "-");
	}
	free(type);
	free(model);
	free(quality);
	free(cost);
	free(kind);
}

static void print_json(const submitted *s, const provauth_account *a, int waited)
{
	json_object *o = json_tokener_parse(s->answer), *v;
	cli_json w;

	cli_json_init(&w, stdout);
	cli_json_object_begin(&w, NULL);
	cli_json_string(&w, "handle", s->handle);
	cli_json_string(&w, "account_id", s->rsv->account_id);
	cli_json_string(&w, "email", a ? a->email : NULL);
	cli_json_string(&w, "job_id", s->job_id);
	cli_json_string(&w, "reservation_id", s->rsv->id);
	/* The provider's description of the job, as it gave it. */
	if (o && json_object_is_type(o, json_type_object)) {
		static const char *const keys[] = { "kind", "type", "model", "quality", "cost", "credit_kind" };
		size_t i;
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (json_object_object_get_ex(o, keys[i], &v))
				cli_json_raw(&w, keys[i], json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
				                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	if (waited) {
		cli_json_string(&w, "state", s->state);
		cli_json_string(&w, "url", s->url);
		cli_json_int(&w, "elapsed_s", s->elapsed_s);
	}
	cli_json_object_end(&w);
	cli_json_finish(&w);
	json_object_put(o);
}

static int run_generate(cli_ctx *ctx, const cli_command *self, int argc, char **argv)
{
	gen_opts o = { 0 };
	const cli_option opts[] = {
		{ "--provider", "ID", &o.provider, NULL },
		{ "--prompt", "TEXT", &o.prompt, NULL },
		{ "--type", "TYPE", &o.type, NULL },
		{ "--model", "M", &o.model, NULL },
		{ "--quality", "Q", &o.quality, NULL },
		{ "--duration", "S", &o.duration, NULL },
		{ "--aspect-ratio", "R", &o.aspect_ratio, NULL },
		{ "--seed", "N", &o.seed, NULL },
		{ "--negative-prompt", "TEXT", &o.negative_prompt, NULL },
		{ "--video-id", "ID", &o.video_id, NULL },
		{ "--durations", "LIST", &o.durations, NULL },
		{ "--account", "ID", &o.account, NULL },
		{ "--wait", NULL, NULL, &o.wait },
		{ "--timeout", "S", &o.timeout, NULL },
		{ NULL, NULL, NULL, NULL },
	};
	const cli_spec spec = { opts, 0, 0 };
	char **rest = NULL, *args[CLI_MAX_ARGS];
	submitted s = { .code = -1 };
	provauth_account *a = NULL;
	size_t nargs;
	int r, rc, nrest;
	cli_env env;

	if (!(rest = calloc((size_t)argc + 1, sizeof(*rest)))) {
		cli_error("out of memory");
		return CLI_EXIT_ERROR;
	}
	if ((r = take_images(&o, argc, argv, rest, &nrest)) >= 0 ||
	    (r = cli_parse(ctx, "generate", self, &spec, nrest, rest, args, &nargs)) >= 0 ||
	    (r = check_options(&o)) >= 0) {
		free(rest);
		return r;
	}
	free(rest);
	if ((r = cli_env_open(&env, ctx, CLI_STORE_EXISTING)) != 0)
		return r;
	rc = try_submit(&s, env.manager, &o);
	if (rc < 0 && s.told && worth_another_account(rc) && !o.account) {
		cli_error("trying another account");
		rc = try_submit(&s, env.manager, &o);
	}
	if (rc < 0) {
		/* A failure after a reservation was told with its account; a refused acquire is told here. */
		if (!s.told && o.account && !strstr(provauth_last_error(), o.account)) {
			/* A pinned account that cannot take the job: the message names it. */
			cli_env_flush_events(&env);
			cli_error("account %s: %s", o.account, provauth_last_error());
		} else if (!s.told) {
			cli_env_fail(&env, rc);
		}
		else
			cli_env_flush_events(&env);
		if (rc == PROVAUTH_ENOACCOUNT)
			fprintf(stderr, "hint: 'provauth pool --provider %s' shows each account's slots, cooldown "
			        "and credits\n", o.provider);
		r = CLI_EXIT_ERROR;
		goto out;
	}
	cli_env_flush_events(&env);
	if (provauth_account_get(&a, env.manager, s.rsv->account_id) < 0)
		provauth_error_clear();
	r = o.wait ? follow(&s, &env, &o) : CLI_EXIT_OK;
	if (ctx->json)
		print_json(&s, a, o.wait);
	else
		print_text(&s, a, o.wait, r);
	if (r == CLI_EXIT_JOB_TIMEOUT)
		cli_error("job %s is still %s after %ld s; follow it with 'provauth jobs status %s'", s.handle,
		          s.state, s.elapsed_s, s.handle);
	else if (r == CLI_EXIT_JOB_MODERATED)
		cli_error("job %s: moderation refused its content (no credits are spent on it)", s.handle);
	else if (r == CLI_EXIT_JOB_FAILED)
		cli_error("job %s failed at the provider", s.handle);
out:
	provauth_account_free(a);
	provauth_pool_reservation_free(s.rsv);
	provauth_free(s.answer);
	free(s.job_id);
	free(s.url);
	return cli_env_close(&env, r);
}

const cli_command cli_cmd_generate = {
	.name = "generate",
	.summary = "submit a generation job through the account pool",
	.usage = "--provider ID --prompt TEXT [--type TYPE] [--image FILE]... [--model M] [--quality Q]\n"
	         "       [--duration S] [--aspect-ratio R] [--account ID] [--wait [--timeout S]]",
	.help = "The pool picks an account of the provider that can take the job now (healthy,\n"
	        "no cooldown, a free slot, enough credits) and reserves it; the images are\n"
	        "uploaded and the job submitted through that account. The job's parameters are\n"
	        "checked first: a bad one is refused, named, before any account is taken. When\n"
	        "the account refuses (too many jobs, no credits, a lost session), the job is\n"
	        "tried once more on another account. Prints the job's handle ACCOUNT_ID/JOB_ID\n"
	        "('provauth jobs status HANDLE' follows it).\n"
	        "\n"
	        "  --provider ID        the provider (pixverse)\n"
	        "  --prompt TEXT        what to generate\n"
	        "  --type TYPE          t2v, i2v, t2i, i2i, extend or transition; default: t2v,\n"
	        "                       i2v with one --image, transition with several, extend\n"
	        "                       with --video-id\n"
	        "  --image FILE         an input image (PNG, JPEG or WebP), uploaded first;\n"
	        "                       repeat for several (needs the account's OpenAPI key)\n"
	        "  --model M, --quality Q, --duration S, --aspect-ratio R, --seed N,\n"
	        "  --negative-prompt TEXT, --video-id ID (extend), --durations LIST (transition)\n"
	        "                       the job's parameters; the provider's defaults otherwise\n"
	        "  --account ID         this account or none (its credits are not checked)\n"
	        "  --wait               follow the job until it ends, then print its result URL;\n"
	        "                       on a terminal one progress line shows its state and time\n"
	        "  --timeout S          give up waiting after S seconds (default 3600)\n"
	        "\n"
	        "Exit status with --wait: 0 done, 3 the job failed, 4 moderation refused it,\n"
	        "5 still running at --timeout (the job goes on; follow it with 'jobs status').\n",
	.run = run_generate,
};
