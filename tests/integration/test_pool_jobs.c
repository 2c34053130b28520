/*
 * The account pool at work (issue 16): the real Pixverse plugin (.so)
 * through the real manager and the real pool, on a store in a temporary
 * directory (memory, sqlite, and postgres through tests/support/pg_server.h
 * when a server can be started; CI=1 makes a missing one fail), against
 * the in-process fake Pixverse with short job durations.
 *
 * Three password accounts with two slots each take 60 jobs from a job
 * processor of PROCESSORS threads (acquire, generate, attach; a refused
 * submission is released with its outcome and the job queued again) and a
 * poller (one "jobs" call per account per tick; an ended job is released
 * with its outcome). Mid-run one account's session is killed and another
 * is left credits for only a few jobs. Asserted: every job ends in a
 * defined state, none lost or submitted twice; no account ever has more
 * jobs in flight than its slots; one login recovers the killed session;
 * credits add up at the fake and in the pool's view; the pool ends empty;
 * no secret in any log line, error message or the store's files.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <dirent.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <provauth/pool.h>
#include "internal.h"
#include "fake_pixverse.h"
#include "../support/pa_test.h"
#include "../support/pg_server.h"

#define ACCOUNTS 3
#define SLOTS 2
#define JOBS 60
#define PROCESSORS 4
#define QUEUE_MS 20
#define PROCESS_MS 60
#define START_CREDITS 100000
#define JOB_COST 20             /* t2v, v5, 360p, 5 s: 4 credits a second */
#define FEW_JOBS 3              /* what the starved account can still pay for */
#define KILL_AFTER 15           /* submissions before the session is killed */
#define STARVE_AFTER 25         /* ... before the other account is left few credits */
#define MAX_ATTEMPTS 40
#define RUN_DEADLINE_S 120

static fake_pixverse *srv;
static char tmpdir[64] = "/tmp/provauth-pooljobs-XXXXXX";
static const char *backend = "sqlite";
static char *pg_url;
static int scenario_no;
static char store_dir[160];
static provauth_manager *mgr;

/* ---- everything the library said, and every secret it was given ---- */

/* Log lines and failed calls' messages go to tests/support's capture (pa_test_log_*). */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char **secrets;
static size_t nsecrets;

static void secret(const char *s)
{
	if (!s || strlen(s) < 6)
		return;
	pthread_mutex_lock(&log_mu);
	secrets = realloc(secrets, (nsecrets + 1) * sizeof(*secrets));
	secrets[nsecrets++] = strdup(s);
	pthread_mutex_unlock(&log_mu);
}

/* The message of a failed call, remembered for the secret check. */
static const char *failure(void)
{
	const char *msg = provauth_last_error();

	pa_test_log_add(msg);
	return msg;
}

/*
 * What went wrong in a processor or poller thread. CUnit's assertions are
 * for the main thread (they record into globals, and a fatal one jumps
 * out of the test), so the threads count problems and the test asserts
 * there were none.
 */
static int problems;

static void problem(const char *what, const char *detail)
{
	pthread_mutex_lock(&log_mu);
	problems++;
	pthread_mutex_unlock(&log_mu);
	fprintf(stderr, "\n  %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
}

/* ---- the accounts ---- */

typedef struct account {
	char email[64], password[64];
	char *id;
	pthread_mutex_t mu;
	int submitting;             /* generate calls under way (the credit cut waits for none) */
	long start_credits;         /* at the fake, when the count starts */
	long charged0, refunded0;   /* the fake's counters then */
} account;

static account accts[ACCOUNTS];

static account *account_by_id(const char *id)
{
	int i;

	for (i = 0; i < ACCOUNTS; i++)
		if (accts[i].id && strcmp(accts[i].id, id) == 0)
			return &accts[i];
	return NULL;
}

/* ---- the jobs ---- */

typedef enum job_state { JOB_QUEUED = 0, JOB_SUBMITTED, JOB_DONE, JOB_MODERATED, JOB_FAILED, JOB_REFUSED } job_state;

typedef struct job {
	char prompt[64];
	job_state state;
	int attempts;
	int releases;               /* successful releases of its reservation */
	account *acct;
	account *refused_by;        /* the account that last refused it (ECONCURRENCY, ECREDITS, ESESSION) */
	char *rsv_id;
	char *job_id;
	char reason[256];           /* why it was refused */
} job;

static pthread_mutex_t jobs_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_cv = PTHREAD_COND_INITIALIZER;
static job jobs[JOBS];
static int queue[JOBS * MAX_ATTEMPTS + JOBS];
static size_t queue_head, queue_tail;
static int ended;               /* jobs in a final state */
static int submissions;         /* successful generate calls */
static int requeued[3];         /* by ECONCURRENCY, ECREDITS, ESESSION */

static void push(int i)
{
	queue[queue_tail++] = i;
	pthread_cond_broadcast(&jobs_cv);
}

static void finish(job *j, job_state st)
{
	j->state = st;
	ended++;
	pthread_cond_broadcast(&jobs_cv);
}

/* ---- fixture ---- */

static const char *plugin_dir_line(char *buf, size_t size)
{
	const char *b = getenv("PA_BUILDDIR");

	if (getenv("PROVAUTH_PLUGIN_PATH") || !b)
		snprintf(buf, size, "plugin_dir: []\n");
	else
		snprintf(buf, size, "plugin_dir: %s/plugins/.libs\n", b);
	return buf;
}

static provauth_manager *manager_open(void)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	char yaml[4096], pd[512], store[1024];

	if (strcmp(backend, "postgres") == 0)
		snprintf(store, sizeof(store),
		         "store:\n  backend: postgres\n  url: %s\n  key_file: %s/accounts.key\n"
		         "  connect_timeout_ms: 3000\n  statement_timeout_ms: 10000\n",
		         pg_url, store_dir);
	else if (strcmp(backend, "sqlite") == 0)
		snprintf(store, sizeof(store),
		         "store:\n  backend: sqlite\n  path: %s/accounts.db\n  key_file: %s/accounts.key\n"
		         "  busy_timeout_ms: 10000\n",
		         store_dir, store_dir);
	else
		snprintf(store, sizeof(store), "store:\n  backend: memory\n");
	snprintf(yaml, sizeof(yaml),
	         "%s%s"
	         "log:\n  level: debug\n"
	         "session:\n  recovery_wait_ms: 30000\n"
	         "http:\n  timeout_ms: 10000\n  connect_timeout_ms: 2000\n  max_reply_bytes: 1048576\n"
	         "providers:\n  pixverse:\n    auto_reauth_enabled: true\n    reauth_cooldown: 0\n"
	         "    base_url: %s\n    openapi_base_url: %s\n    web_origin: https://app.pixverse.test\n",
	         plugin_dir_line(pd, sizeof(pd)), store, fake_pixverse_url(srv), fake_pixverse_url(srv));
	if (provauth_settings_parse(&s, yaml, strlen(yaml), "test_pool_jobs.yaml") != 0) {
		fprintf(stderr, "settings: %s\n", provauth_last_error());
		return NULL;
	}
	opts.log = pa_test_log_capture;
	if (provauth_manager_new(&m, s, &opts) != 0)
		fprintf(stderr, "manager: %s\n", provauth_last_error());
	provauth_settings_free(s);
	return m;
}

/* Every credential the store holds for the account goes on the secrets list. */
static void remember_secrets(const char *id)
{
	provauth_credential c;
	provauth_account *a = NULL;
	size_t i;

	if (provauth_account_get(&a, mgr, id) != 0)
		return;
	secret(PA_CRED(a, JWT));
	secret(PA_CRED(a, PASSWORD));
	for (i = 0; i < provauth_account_credential_count(a); i++)
		if (provauth_account_credential_at(&c, a, i) == 0 && strcmp(c.kind, PROVAUTH_CRED_COOKIE) == 0)
			secret(c.value);
	provauth_account_free(a);
}

/* A fake account with two slots, imported by its browser cookies, then made a password account by a login. */
static void account_setup(account *ac, int n)
{
	fake_pixverse_account a;
	char input[4096], *tok;
	int rc;

	snprintf(ac->email, sizeof(ac->email), "pool%d-%d@example.com", scenario_no, n);
	snprintf(ac->password, sizeof(ac->password), "pw-SECRET-%d-%d-5e2a", scenario_no, n);
	secret(ac->password);
	memset(&a, 0, sizeof(a));
	a.email = ac->email;
	a.password = ac->password;
	a.credit_monthly = START_CREDITS;
	a.plan_type = 1;
	a.gen_simultaneously = SLOTS;
	CU_ASSERT_FATAL(fake_pixverse_add_account(srv, &a) > 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok = fake_pixverse_login_token(srv, ac->email));
	secret(tok);
	snprintf(input, sizeof(input), "Cookie: _ai_token=%s; pv_sid=sid-SECRET-%d-%d-77c1", tok, scenario_no, n);
	free(tok);
	ac->id = NULL;
	CU_ASSERT_EQUAL_FATAL(provauth_account_import(&ac->id, mgr, "pixverse", "cookies", input), 0);
	rc = provauth_account_reauth(mgr, ac->id, ac->password);
	if (rc != 0)
		fprintf(stderr, "\n  reauth: %s\n", failure());
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	remember_secrets(ac->id);
	pthread_mutex_init(&ac->mu, NULL);
	ac->submitting = 0;
	ac->start_credits = START_CREDITS;
	ac->charged0 = ac->refunded0 = 0;
	/* The pool learns its two slots and its credits. */
	rc = provauth_pool_sync(mgr, ac->id);
	if (rc != 0)
		fprintf(stderr, "\n  sync: %s\n", failure());
	CU_ASSERT_EQUAL_FATAL(rc, 0);
}

static void scenario_begin(void)
{
	int i;

	scenario_no++;
	snprintf(store_dir, sizeof(store_dir), "%s/s%d", tmpdir, scenario_no);
	CU_ASSERT_FATAL(mkdir(store_dir, 0700) == 0);
	if (strcmp(backend, "postgres") == 0)
		CU_ASSERT_PTR_NOT_NULL_FATAL(pg_url = pa_pg_fresh_database());
	fake_pixverse_clear_faults(srv);
	fake_pixverse_set_job_durations(srv, QUEUE_MS, PROCESS_MS);
	fake_pixverse_set_early_cdn_ms(srv, QUEUE_MS);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mgr = manager_open());
	for (i = 0; i < ACCOUNTS; i++)
		account_setup(&accts[i], i);
	memset(jobs, 0, sizeof(jobs));
	queue_head = queue_tail = 0;
	ended = submissions = problems = 0;
	memset(requeued, 0, sizeof(requeued));
	for (i = 0; i < JOBS; i++) {
		/* Some prompts end moderated or failed at the fake (and are refunded). */
		snprintf(jobs[i].prompt, sizeof(jobs[i].prompt), "%s job %d",
		         i % 10 == 3 ? "moderate-me" : i % 15 == 7 ? "fail-me" : "a harbour at dawn", i);
		push(i);
	}
	/* The counters start now: the logins of the setup are not the run's. */
	fake_pixverse_reset_counters(srv);
}

static void scenario_end(void)
{
	int i;

	for (i = 0; i < JOBS; i++) {
		provauth_free(jobs[i].rsv_id);
		free(jobs[i].job_id);
		jobs[i].rsv_id = jobs[i].job_id = NULL;
	}
	for (i = 0; i < ACCOUNTS; i++) {
		provauth_free(accts[i].id);
		accts[i].id = NULL;
		pthread_mutex_destroy(&accts[i].mu);
	}
	provauth_manager_free(mgr);
	mgr = NULL;
	free(pg_url);
	pg_url = NULL;
}

/* ---- the job processor ---- */

static int all_ended(void)
{
	return ended == JOBS;
}

/* Puts the job back in the queue, or refuses it after too many attempts. */
static void retry_or_refuse(job *j, int i, const char *why)
{
	pthread_mutex_lock(&jobs_mu);
	if (j->attempts >= MAX_ATTEMPTS) {
		snprintf(j->reason, sizeof(j->reason), "%d attempts, the last: %s", j->attempts, why);
		finish(j, JOB_REFUSED);
	} else {
		push(i);
	}
	pthread_mutex_unlock(&jobs_mu);
}

/* Submits job i once: acquire, generate, attach; a refusal is released with its outcome. */
static void process(int i)
{
	provauth_pool_request req = PROVAUTH_POOL_REQUEST_INIT;
	provauth_pool_reservation *r = NULL;
	provauth_arg arg = { "prompt", NULL };
	json_object *res, *v;
	account *ac;
	job *j = &jobs[i];
	char *out = NULL, msg[256];
	int rc, rrc;

	j->attempts++;
	arg.value = j->prompt;
	req.provider = "pixverse";
	req.operation = "generate";
	req.args = &arg;
	req.nargs = 1;
	req.wait_ms = 5000;
	req.label = j->prompt;
	rc = provauth_pool_acquire(&r, mgr, &req);
	if (rc != 0) {
		snprintf(msg, sizeof(msg), "acquire: %s", failure());
		if (rc == PROVAUTH_ENOACCOUNT)
			retry_or_refuse(j, i, msg);
		else {
			pthread_mutex_lock(&jobs_mu);
			snprintf(j->reason, sizeof(j->reason), "%s", msg);
			finish(j, JOB_REFUSED);
			pthread_mutex_unlock(&jobs_mu);
		}
		return;
	}
	if (r->cost != JOB_COST)
		problem("acquire: not the job's cost", NULL);
	if (!(ac = account_by_id(r->account_id))) {
		problem("acquire: an account of no fixture", r->account_id);
		provauth_pool_release(mgr, r->id, PROVAUTH_POOL_UNUSED);
		provauth_pool_reservation_free(r);
		return;
	}
	pthread_mutex_lock(&ac->mu);
	ac->submitting++;
	pthread_mutex_unlock(&ac->mu);
	rc = provauth_call(&out, mgr, r->account_id, "generate", &arg, 1);
	pthread_mutex_lock(&ac->mu);
	ac->submitting--;
	pthread_mutex_unlock(&ac->mu);
	if (rc != 0) {
		snprintf(msg, sizeof(msg), "generate: %s", failure());
		if ((rrc = provauth_pool_release(mgr, r->id, provauth_pool_outcome_for(rc))) != 0)
			problem("release of a refused job", failure());
		if (rc == PROVAUTH_ECONCURRENCY || rc == PROVAUTH_ECREDITS || rc == PROVAUTH_ESESSION) {
			pthread_mutex_lock(&jobs_mu);
			requeued[rc == PROVAUTH_ECONCURRENCY ? 0 : rc == PROVAUTH_ECREDITS ? 1 : 2]++;
			j->refused_by = ac;
			pthread_mutex_unlock(&jobs_mu);
			retry_or_refuse(j, i, msg);
		} else {
			pthread_mutex_lock(&jobs_mu);
			snprintf(j->reason, sizeof(j->reason), "%s", msg);
			finish(j, JOB_REFUSED);
			pthread_mutex_unlock(&jobs_mu);
		}
		provauth_pool_reservation_free(r);
		return;
	}
	pa_test_log_add(out);
	res = json_tokener_parse(out);
	provauth_free(out);
	if (!res || !json_object_object_get_ex(res, "cost", &v) || json_object_get_int64(v) != JOB_COST)
		problem("generate: not the job's cost", NULL);
	if (!res || !json_object_object_get_ex(res, "job_id", &v)) {
		problem("generate: no job id", NULL);
		abort();
	}
	if (provauth_pool_attach_job(mgr, r->id, json_object_get_string(v)) != 0)
		problem("attach", failure());
	pthread_mutex_lock(&jobs_mu);
	if (j->job_id)
		problem("a job submitted twice", j->prompt);
	free(j->job_id);
	j->job_id = strdup(json_object_get_string(v));
	j->rsv_id = r->id;
	r->id = NULL;
	j->acct = ac;
	j->state = JOB_SUBMITTED;
	submissions++;
	pthread_cond_broadcast(&jobs_cv);
	pthread_mutex_unlock(&jobs_mu);
	json_object_put(res);
	provauth_pool_reservation_free(r);
}

static void *processor(void *arg)
{
	struct timespec until;
	int i;

	(void)arg;
	pthread_mutex_lock(&jobs_mu);
	while (!all_ended()) {
		if (queue_head == queue_tail) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 20 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&jobs_cv, &jobs_mu, &until);
			continue;
		}
		i = queue[queue_head++];
		pthread_mutex_unlock(&jobs_mu);
		process(i);
		pthread_mutex_lock(&jobs_mu);
	}
	pthread_mutex_unlock(&jobs_mu);
	return NULL;
}

/* ---- the poller ---- */

/* One "jobs" call for every submitted job of the account; ended jobs are released with their outcome. */
static void poll_account(account *ac)
{
	provauth_arg args[JOBS];
	int idx[JOBS], n = 0, i, rc, outcome;
	json_object *res, *list, *e, *v;
	char *out = NULL;
	const char *state;

	pthread_mutex_lock(&jobs_mu);
	for (i = 0; i < JOBS; i++)
		if (jobs[i].state == JOB_SUBMITTED && jobs[i].acct == ac) {
			args[n].key = "id";
			args[n].value = jobs[i].job_id;
			idx[n++] = i;
		}
	pthread_mutex_unlock(&jobs_mu);
	if (n == 0)
		return;
	/* The job ids stay valid: only this thread changes a submitted job. */
	rc = provauth_call(&out, mgr, ac->id, "jobs", args, (size_t)n);
	if (rc != 0) {
		/* A tick may fail (the session being recovered elsewhere): the next one asks again. */
		failure();
		return;
	}
	pa_test_log_add(out);
	res = json_tokener_parse(out);
	provauth_free(out);
	if (!res || !json_object_object_get_ex(res, "jobs", &list) || json_object_array_length(list) != (size_t)n) {
		problem("jobs: not one entry per id", NULL);
		json_object_put(res);
		return;
	}
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(list, (size_t)i);
		state = json_object_object_get_ex(e, "state", &v) ? json_object_get_string(v) : "(none)";
		if (strcmp(state, "queued") != 0 && strcmp(state, "processing") != 0 &&
		    provauth_pool_outcome_for_job(state) < 0)
			problem("jobs: a state that is no job's", state);
		if ((outcome = provauth_pool_outcome_for_job(state)) < 0)
			continue;
		if ((rc = provauth_pool_release(mgr, jobs[idx[i]].rsv_id, (provauth_pool_outcome)outcome)) != 0)
			problem("release", failure());
		pthread_mutex_lock(&jobs_mu);
		jobs[idx[i]].releases += rc == 0;
		finish(&jobs[idx[i]], outcome == PROVAUTH_POOL_DONE ? JOB_DONE
		                      : outcome == PROVAUTH_POOL_MODERATED ? JOB_MODERATED : JOB_FAILED);
		pthread_mutex_unlock(&jobs_mu);
	}
	json_object_put(res);
}

static void *poller(void *arg)
{
	int i, done = 0;

	(void)arg;
	while (!done) {
		for (i = 0; i < ACCOUNTS; i++)
			poll_account(&accts[i]);
		usleep(15 * 1000);
		pthread_mutex_lock(&jobs_mu);
		done = all_ended();
		pthread_mutex_unlock(&jobs_mu);
	}
	return NULL;
}

/* ---- what happens mid-run ---- */

static void wait_for_submissions(int n)
{
	pthread_mutex_lock(&jobs_mu);
	while (submissions < n && !all_ended())
		pthread_cond_wait(&jobs_cv, &jobs_mu);
	pthread_mutex_unlock(&jobs_mu);
}

/*
 * Leaves the account credits for FEW_JOBS jobs and makes it the pool's
 * first choice, so that it runs out and its jobs go elsewhere. So that the
 * credits can be counted exactly, the pool chooses it for nothing
 * meanwhile, its submissions under way end first, and the job clock stands
 * still (no job ends, so none is refunded, between the snapshot and the cut).
 */
static void starve(account *ac)
{
	provauth_pool_settings ps = PROVAUTH_POOL_SETTINGS_INIT;
	fake_pv_job_stats st;
	int busy = 1;

	ps.set_disabled = 1;
	ps.disabled = 1;
	CU_ASSERT_EQUAL_FATAL(provauth_pool_configure(mgr, ac->id, &ps), 0);
	while (busy) {
		pthread_mutex_lock(&ac->mu);
		busy = ac->submitting > 0;
		pthread_mutex_unlock(&ac->mu);
		if (busy)
			usleep(1000);
	}
	fake_pixverse_freeze_job_clock(srv, 1);
	CU_ASSERT_EQUAL(fake_pixverse_job_stats(srv, ac->email, &st), 0);
	ac->charged0 = st.charged;
	ac->refunded0 = st.refunded;
	ac->start_credits = FEW_JOBS * JOB_COST + JOB_COST / 2;
	CU_ASSERT_EQUAL(fake_pixverse_set_credits(srv, ac->email, 0, ac->start_credits, 0), 0);
	fake_pixverse_freeze_job_clock(srv, 0);
	/* Back, and chosen first (the pool still counts its old credits): it runs out for sure. */
	ps.disabled = 0;
	ps.set_priority = 1;
	ps.priority = 10;
	CU_ASSERT_EQUAL_FATAL(provauth_pool_configure(mgr, ac->id, &ps), 0);
}

/* ---- checks ---- */

static int64_t pool_web_credits(const provauth_pool_account *a)
{
	size_t i;

	for (i = 0; i < a->credit_count; i++)
		if (strcmp(a->credits[i].kind, "web") == 0)
			return a->credits[i].amount;
	return -1;
}

/* No secret in clear in any file of the store's directory (the sqlite database, its journal, the key). */
static void check_store_files(void)
{
	struct dirent *de;
	struct stat sb;
	char path[512], *buf;
	size_t n, i, files = 0;
	DIR *d;
	FILE *fp;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d = opendir(store_dir));
	while ((de = readdir(d))) {
		snprintf(path, sizeof(path), "%s/%s", store_dir, de->d_name);
		if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		CU_ASSERT_PTR_NOT_NULL_FATAL(fp = fopen(path, "rb"));
		CU_ASSERT_PTR_NOT_NULL_FATAL(buf = malloc((size_t)sb.st_size + 1));
		n = fread(buf, 1, (size_t)sb.st_size, fp);
		fclose(fp);
		files++;
		for (i = 0; i < nsecrets; i++) {
			if (memmem(buf, n, secrets[i], strlen(secrets[i])))
				fprintf(stderr, "\n  secret #%zu in %s\n", i, de->d_name);
			CU_ASSERT_PTR_NULL(memmem(buf, n, secrets[i], strlen(secrets[i])));
		}
		free(buf);
	}
	closedir(d);
	CU_ASSERT(files >= 2);
}

static void check_outcomes(void)
{
	size_t n_ids = 0;
	char *ids[JOBS];
	int i, k, refused = 0, with_id = 0;
	fake_pv_job_stats all;

	for (i = 0; i < JOBS; i++) {
		job *j = &jobs[i];

		if (j->state == JOB_REFUSED) {
			/* Refused, with a named reason, and nothing of it at the fake. */
			fprintf(stderr, "\n  job %d refused: %s\n", i, j->reason);
			CU_ASSERT(j->reason[0] != '\0');
			CU_ASSERT_PTR_NULL(j->job_id);
			refused++;
			continue;
		}
		/* Submitted once, followed to its end, released once, ended as its prompt says. */
		CU_ASSERT_PTR_NOT_NULL(j->job_id);
		CU_ASSERT_EQUAL(j->releases, 1);
		/* A job an account refused went elsewhere. */
		CU_ASSERT(j->refused_by != j->acct);
		CU_ASSERT_EQUAL(j->state, strncmp(j->prompt, "moderate-me", 11) == 0 ? JOB_MODERATED
		                          : strncmp(j->prompt, "fail-me", 7) == 0   ? JOB_FAILED
		                                                                    : JOB_DONE);
		if (j->job_id) {
			for (k = 0; k < (int)n_ids; k++)
				CU_ASSERT(strcmp(ids[k], j->job_id) != 0);
			ids[n_ids++] = j->job_id;
			with_id++;
		}
		/* A release already made is not made twice. */
		CU_ASSERT_EQUAL(provauth_pool_release(mgr, j->rsv_id, PROVAUTH_POOL_DONE), PROVAUTH_ENOTFOUND);
	}
	/* Three accounts, six slots: every job finds one. */
	CU_ASSERT_EQUAL(refused, 0);
	CU_ASSERT_EQUAL(fake_pixverse_job_stats(srv, NULL, &all), 0);
	CU_ASSERT_EQUAL(all.submitted, (unsigned long)with_id);
	CU_ASSERT_EQUAL(all.in_flight, 0);
	CU_ASSERT_EQUAL(all.done + all.moderated + all.failed, (unsigned long)with_id);
}

static void check_accounts(account *killed, account *starved)
{
	provauth_pool_account **list = NULL;
	provauth_pool_reservation **rs = NULL;
	size_t n = 0, nr = 0, i;
	fake_pv_job_stats st;
	account *ac;
	long web;

	for (i = 0; i < ACCOUNTS; i++) {
		ac = &accts[i];
		CU_ASSERT_EQUAL(fake_pixverse_job_stats(srv, ac->email, &st), 0);
		/* Never more jobs at once than the slots, and the pool never tried for more. */
		CU_ASSERT(st.max_in_flight <= SLOTS);
		CU_ASSERT(st.max_in_flight >= 1);
		CU_ASSERT_EQUAL(st.concurrency_refused, 0);
		CU_ASSERT_EQUAL(fake_pixverse_concurrency_limit(srv, ac->email), SLOTS);
		/* Credits add up: what the count started with, less charges, plus refunds. */
		web = fake_pixverse_web_credits(srv, ac->email);
		CU_ASSERT_EQUAL(ac->start_credits - (st.charged - ac->charged0) + (st.refunded - ac->refunded0), web);
		/* Only the starved account ran out, and it did (refunds may have given it some back since). */
		CU_ASSERT_EQUAL(st.credits_refused > 0, ac == starved);
	}
	/* Before any sync: the starved account is exhausted, the others active; nothing held. */
	CU_ASSERT_EQUAL_FATAL(provauth_pool_list(&list, &n, &rs, &nr, mgr, "pixverse"), 0);
	CU_ASSERT_EQUAL(n, ACCOUNTS);
	CU_ASSERT_EQUAL(nr, 0);
	for (i = 0; i < n; i++) {
		ac = account_by_id(list[i]->account_id);
		CU_ASSERT_PTR_NOT_NULL_FATAL(ac);
		CU_ASSERT_EQUAL(list[i]->in_use, 0);
		CU_ASSERT_STRING_EQUAL(list[i]->status, ac == starved ? "exhausted" : "active");
		CU_ASSERT_EQUAL(list[i]->max_slots, SLOTS);
	}
	provauth_pool_account_list_free(list, n);
	provauth_pool_reservation_list_free(rs, nr);
	/* After a sync the pool's credits are the fake's. */
	for (i = 0; i < ACCOUNTS; i++)
		CU_ASSERT_EQUAL(provauth_pool_sync(mgr, accts[i].id), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_pool_list(&list, &n, &rs, &nr, mgr, "pixverse"), 0);
	CU_ASSERT_EQUAL(nr, 0);
	for (i = 0; i < n; i++) {
		ac = account_by_id(list[i]->account_id);
		CU_ASSERT_EQUAL(pool_web_credits(list[i]), fake_pixverse_web_credits(srv, ac->email));
		CU_ASSERT_EQUAL(list[i]->in_use, 0);
	}
	provauth_pool_account_list_free(list, n);
	provauth_pool_reservation_list_free(rs, nr);
	(void)killed;
}

/* ------------------------------------------------------------------------ */

static void test_sixty_jobs(void)
{
	pthread_t proc[PROCESSORS], poll;
	account *killed, *starved;
	unsigned long logins;
	time_t t0 = time(NULL);
	int i;

	scenario_begin();
	killed = &accts[0];
	starved = &accts[1];
	for (i = 0; i < PROCESSORS; i++)
		CU_ASSERT_FATAL(pthread_create(&proc[i], NULL, processor, NULL) == 0);
	CU_ASSERT_FATAL(pthread_create(&poll, NULL, poller, NULL) == 0);

	wait_for_submissions(KILL_AFTER);
	CU_ASSERT_EQUAL(fake_pixverse_kick(srv, killed->email), 0);
	wait_for_submissions(STARVE_AFTER);
	starve(starved);

	for (i = 0; i < PROCESSORS; i++)
		pthread_join(proc[i], NULL);
	pthread_join(poll, NULL);
	CU_ASSERT(time(NULL) - t0 < RUN_DEADLINE_S);
	fprintf(stderr, "\n  [%s] %d submissions, requeued: %d concurrency, %d credits, %d session\n", backend,
	        submissions, requeued[0], requeued[1], requeued[2]);

	CU_ASSERT_EQUAL(problems, 0);
	/* The killed session came back by exactly one login; no other account logged in. */
	logins = fake_pixverse_logins_ok(srv);
	CU_ASSERT_EQUAL(logins, 1);
	CU_ASSERT_EQUAL(fake_pixverse_counter(srv, FAKE_PV_EP_LOGIN), 1);
	/* The starved account's refusals sent its jobs elsewhere. */
	CU_ASSERT(requeued[1] >= 1);
	check_outcomes();
	check_accounts(killed, starved);
	for (i = 0; i < ACCOUNTS; i++)
		remember_secrets(accts[i].id);
	if (strcmp(backend, "sqlite") == 0)
		check_store_files();
	scenario_end();
}

static void test_no_secret_leaks(void)
{
	size_t i;

	/* Runs last in its suite: every result, error message and log line of the run. */
	CU_ASSERT(nsecrets >= 3 * ACCOUNTS);
	CU_ASSERT_FATAL(pa_test_log_text() != NULL);
	CU_ASSERT(strlen(pa_test_log_text()) > 1000);
	for (i = 0; i < nsecrets; i++) {
		if (strstr(pa_test_log_text(), secrets[i]))
			fprintf(stderr, "\n  secret #%zu was said\n", i);
		CU_ASSERT_PTR_NULL(strstr(pa_test_log_text(), secrets[i]));
	}
}

/* ------------------------------------------------------------------------ */

static int suite_init(void)
{
	fake_pixverse_options o;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.login_limit = FAKE_PV_UNLIMITED;
	o.login_limit_global = FAKE_PV_UNLIMITED;
	if (!(srv = fake_pixverse_start(&o, err, sizeof(err)))) {
		fprintf(stderr, "fake server: %s\n", err);
		return -1;
	}
	return 0;
}

static int suite_init_memory(void)
{
	backend = "memory";
	return suite_init();
}

static int suite_init_sqlite(void)
{
	backend = "sqlite";
	return suite_init();
}

static int suite_init_postgres(void)
{
	backend = "postgres";
	return suite_init();
}

static int suite_clean(void)
{
	/* A scenario a fatal assertion cut short (its threads had ended). */
	if (mgr)
		scenario_end();
	fake_pixverse_stop(srv);
	srv = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "60 jobs, 3 accounts x 2 slots: a session killed, an account runs out of credits", test_sixty_jobs },
		{ "no secret in any result, message or log line", test_no_secret_leaks },
		PA_TEST_END
	};
	static const pa_test_suite local_suites[] = {
		{ "pool jobs (memory)", suite_init_memory, suite_clean, tests },
		{ "pool jobs (sqlite)", suite_init_sqlite, suite_clean, tests },
		PA_TEST_SUITE_END
	};
	static const pa_test_suite all_suites[] = {
		{ "pool jobs (memory)", suite_init_memory, suite_clean, tests },
		{ "pool jobs (sqlite)", suite_init_sqlite, suite_clean, tests },
		{ "pool jobs (postgres)", suite_init_postgres, suite_clean, tests },
		PA_TEST_SUITE_END
	};
	size_t i;
	int rc;

	if (!mkdtemp(tmpdir))
		return 1;
	/* Only outside CI (pa_pg_start says why): the other stores still run, the whole reads as skipped. */
	if ((rc = pa_pg_start()) == 77) {
		rc = pa_test_run(argc, argv, local_suites);
		rc = rc == 0 ? 77 : rc;
	} else if (rc == 0) {
		rc = pa_test_run(argc, argv, all_suites);
	} else {
		rc = 1;
	}
	pa_test_rmtree(tmpdir);
	for (i = 0; i < nsecrets; i++)
		free(secrets[i]);
	free(secrets);
	pa_test_log_reset();
	return rc;
}
