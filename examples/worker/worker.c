/*
 * worker: a generation job processor and poller over provauth's account pool.
 *
 *   worker -c SETTINGS -q QUEUE [-t THREADS] [-p PROVIDER] [-w WAIT_MS]
 *          [-d DURATION] [-i POLL_MS] [-T JOB_TIMEOUT_S]
 *
 * QUEUE is a file with one prompt a line; each is a text-to-video job.
 * THREADS threads take jobs from one queue. For each, a thread asks the
 * pool for an account that can take it now (waiting up to WAIT_MS for a
 * slot), submits it through that account's session, hands the slot to the
 * job (attach), polls the job every POLL_MS until it ends, and gives the
 * slot back with what happened. The pool and the session manager do the
 * rest:
 *
 *  - a session lost mid-run is recovered by the library (one login, however
 *    many threads meet it) and the call retried: the job never sees it;
 *  - an account refusing a job for running too many (Pixverse 500044) is
 *    released with PROVAUTH_POOL_CONCURRENCY (a short cooldown and a lower
 *    cap for it) and the job goes back to the queue for another account;
 *  - an account out of credits is released with PROVAUTH_POOL_NO_CREDITS
 *    (not chosen again until its credits are synced) and the job re-queued;
 *  - a session that could not be recovered (SESSION_LOST: 300 s cooldown),
 *    output moderation that may pass on a retry, high load and network
 *    faults, likewise (at most MAX_ATTEMPTS tries in all).
 *
 * One line per job on stdout when it ends ("job N done account=... url=...",
 * "job N moderated ...", "job N failed: why"); a summary on stderr. Exits 0
 * when every job ended in one of the defined states (done, moderated,
 * failed, rejected, no_account, timeout), 1 on a setup error.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <provauth/provauth.h>
#include <provauth/pool.h>

/* A job refused for reasons of its account is tried this many times at most. */
#define MAX_ATTEMPTS 8
/* Output moderation may pass on a retry; the notes' workers try three times. */
#define MAX_MODERATION_RETRIES 3
/* Network faults while polling are waited out this many times in a row. */
#define MAX_POLL_ERRORS 10
/* A job the provider stops listing is lost after this many polls. */
#define MAX_UNKNOWN_POLLS 10

enum final_state { ST_DONE, ST_MODERATED, ST_FAILED, ST_REJECTED, ST_NO_ACCOUNT, ST_TIMEOUT, ST_COUNT };
static const char *const state_names[ST_COUNT] = {
	"done", "moderated", "failed", "rejected", "no_account", "timeout"
};

enum requeue_reason { RQ_CONCURRENCY, RQ_CREDITS, RQ_SESSION, RQ_MODERATION, RQ_TRANSIENT, RQ_COUNT };
static const char *const requeue_names[RQ_COUNT] = {
	"concurrency", "credits", "session", "moderation", "transient"
};

typedef struct job {
	struct job *next;
	unsigned long number;
	int attempts;
	int moderation_retries;
	char prompt[1024];
} job;

/*
 * The queue, and the count of jobs not yet in a final state: a thread
 * finding the queue empty waits while other threads' jobs may come back.
 */
typedef struct queue {
	pthread_mutex_t lock;
	pthread_cond_t ready;
	job *head, *tail;
	unsigned long unfinished;
	unsigned long finals[ST_COUNT];
	unsigned long requeued[RQ_COUNT];
} queue;

static void queue_push_locked(queue *q, job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	pthread_cond_signal(&q->ready);
}

/* NULL once every job has ended. */
static job *queue_pop(queue *q)
{
	job *j;

	pthread_mutex_lock(&q->lock);
	while (!q->head && q->unfinished > 0)
		pthread_cond_wait(&q->ready, &q->lock);
	if ((j = q->head) && !(q->head = j->next))
		q->tail = NULL;
	pthread_mutex_unlock(&q->lock);
	return j;
}

static void queue_requeue(queue *q, job *j, enum requeue_reason why)
{
	pthread_mutex_lock(&q->lock);
	q->requeued[why]++;
	queue_push_locked(q, j);
	pthread_mutex_unlock(&q->lock);
}

/* The job's final state, told on stdout in one write (threads' lines do not mix). */
static void job_end(queue *q, job *j, enum final_state st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void job_end(queue *q, job *j, enum final_state st, const char *fmt, ...)
{
	char detail[1536];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	printf("job %lu %s%s%s\n", j->number, state_names[st], detail[0] ? " " : "", detail);
	fflush(stdout);
	pthread_mutex_lock(&q->lock);
	q->finals[st]++;
	if (--q->unfinished == 0)
		pthread_cond_broadcast(&q->ready);
	pthread_mutex_unlock(&q->lock);
	free(j);
}

/* ---- the log callback: counts the library's logins (any thread) ---- */

static unsigned long logins;

static void on_log(provauth_log_level level, const char *event, const provauth_log_field *fields,
                   size_t nfields, void *payload)
{
	size_t n = strlen(event), suffix = strlen("_auto_reauth_completed");

	(void)level;
	(void)fields;
	(void)nfields;
	(void)payload;
	if (n > suffix && strcmp(event + n - suffix, "_auto_reauth_completed") == 0)
		__atomic_add_fetch(&logins, 1, __ATOMIC_RELAXED);
}

/* ---- one job ---- */

typedef struct worker {
	pthread_t thread;
	queue *jobs;
	provauth_manager *manager;
	const char *provider;
	const char *duration;
	int64_t wait_ms;
	long poll_ms;
	long job_timeout_s;
} worker;

/*
 * The string value of "key" in a small JSON text of the provider (the
 * generate and jobs results), or "" when absent or null. A real server
 * would use its JSON parser; these values are ids, states and URLs.
 */
static void json_string(const char *text, const char *key, char *out, size_t size)
{
	char quoted[64];
	const char *p;
	size_t n = 0;

	out[0] = '\0';
	snprintf(quoted, sizeof(quoted), "\"%s\":", key);
	if (!text || !(p = strstr(text, quoted)))
		return;
	p += strlen(quoted);
	p += strspn(p, " \t\r\n");
	if (*p++ != '"')
		return;
	for (; p[n] && p[n] != '"' && n + 1 < size; n++)
		out[n] = p[n];
	out[n] = '\0';
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int is_transient(int rc)
{
	return rc == PROVAUTH_ENETWORK || rc == PROVAUTH_ETIMEOUT || rc == PROVAUTH_EHTTP ||
	       rc == PROVAUTH_ERATELIMIT || rc == PROVAUTH_EOVERLOAD;
}

/* Gives the slot back; a reservation another process released first is no error. */
static void release(worker *w, const char *reservation_id, provauth_pool_outcome outcome)
{
	int rc = provauth_pool_release(w->manager, reservation_id, outcome);

	if (rc < 0 && rc != PROVAUTH_ENOTFOUND)
		fprintf(stderr, "worker: release of %s: %s\n", reservation_id, provauth_last_error());
}

/*
 * Follows the job until it ends; releases its slot with the outcome and
 * reports its final state.
 */
static void poll_job(worker *w, job *j, const provauth_pool_reservation *rsv, const char *job_id)
{
	provauth_arg arg = { "ids", job_id };
	time_t deadline = time(NULL) + w->job_timeout_s;
	int errors = 0, unknown = 0, rc;
	char state[32], url[1024];

	for (;;) {
		char *out = NULL;

		sleep_ms(w->poll_ms);
		if (time(NULL) > deadline) {
			/* The job goes on at the provider; the pool's reconcile frees its slot when it ends. */
			job_end(w->jobs, j, ST_TIMEOUT, "account=%s job=%s", rsv->account_id, job_id);
			return;
		}
		rc = provauth_call(&out, w->manager, rsv->account_id, "jobs", &arg, 1);
		if (rc < 0) {
			if (is_transient(rc) && ++errors < MAX_POLL_ERRORS)
				continue;
			job_end(w->jobs, j, ST_FAILED, "account=%s job=%s: polling failed: %s", rsv->account_id, job_id,
			        provauth_last_error());
			release(w, rsv->id, PROVAUTH_POOL_DONE);
			return;
		}
		errors = 0;
		json_string(out, "state", state, sizeof(state));
		json_string(out, "url", url, sizeof(url));
		provauth_free(out);
		if (strcmp(state, "done") == 0) {
			release(w, rsv->id, PROVAUTH_POOL_DONE);
			job_end(w->jobs, j, ST_DONE, "account=%s job=%s attempts=%d url=%s", rsv->account_id, job_id,
			        j->attempts, url);
			return;
		}
		if (strcmp(state, "moderated") == 0) {
			release(w, rsv->id, PROVAUTH_POOL_MODERATED);
			job_end(w->jobs, j, ST_MODERATED, "account=%s job=%s", rsv->account_id, job_id);
			return;
		}
		if (strcmp(state, "failed") == 0 || (strcmp(state, "unknown") == 0 && ++unknown >= MAX_UNKNOWN_POLLS)) {
			/* The provider gives a failed job's cost back: so does the pool. */
			release(w, rsv->id, PROVAUTH_POOL_FAILED);
			job_end(w->jobs, j, ST_FAILED, "account=%s job=%s: the provider reports it %s", rsv->account_id,
			        job_id, state);
			return;
		}
	}
}

/* What a refused submission means for the job: back to the queue, or its end. */
static void submit_failed(worker *w, job *j, const provauth_pool_reservation *rsv, int rc)
{
	char why[1024];
	enum requeue_reason reason = RQ_COUNT;

	snprintf(why, sizeof(why), "%s", provauth_last_error());
	/* The outcome tells the pool what the refusal means for the account. */
	release(w, rsv->id, provauth_pool_outcome_for(rc));
	if (rc == PROVAUTH_ECONCURRENCY)
		reason = RQ_CONCURRENCY;
	else if (rc == PROVAUTH_ECREDITS)
		reason = RQ_CREDITS;
	else if (rc == PROVAUTH_ESESSION || rc == PROVAUTH_EAUTH)
		reason = RQ_SESSION;
	else if (is_transient(rc))  /* high load, the network: another try later */
		reason = RQ_TRANSIENT;
	else if (rc == PROVAUTH_EMODERATED && ++j->moderation_retries <= MAX_MODERATION_RETRIES)
		reason = RQ_MODERATION;
	if (reason != RQ_COUNT && j->attempts < MAX_ATTEMPTS) {
		queue_requeue(w->jobs, j, reason);
		return;
	}
	job_end(w->jobs, j, rc == PROVAUTH_EREJECTED || rc == PROVAUTH_EMODERATED ? ST_REJECTED : ST_FAILED,
	        "account=%s attempts=%d: %s", rsv->account_id, j->attempts, why);
}

static void run_job(worker *w, job *j)
{
	provauth_pool_request req = PROVAUTH_POOL_REQUEST_INIT;
	provauth_pool_reservation *rsv = NULL;
	provauth_arg args[3];
	size_t nargs = 0;
	char *out = NULL, job_id[128];
	int rc;

	args[nargs++] = (provauth_arg){ "type", "t2v" };
	args[nargs++] = (provauth_arg){ "prompt", j->prompt };
	if (w->duration)
		args[nargs++] = (provauth_arg){ "duration", w->duration };
	req.provider = w->provider;
	req.operation = "generate";
	req.args = args;
	req.nargs = nargs;
	req.wait_ms = w->wait_ms;
	req.label = j->prompt;
	j->attempts++;
	if ((rc = provauth_pool_acquire(&rsv, w->manager, &req)) < 0) {
		job_end(w->jobs, j, rc == PROVAUTH_ENOACCOUNT ? ST_NO_ACCOUNT : ST_FAILED, "attempts=%d: %s",
		        j->attempts, provauth_last_error());
		return;
	}
	rc = provauth_call(&out, w->manager, rsv->account_id, "generate", args, nargs);
	if (rc == 0) {
		json_string(out, "job_id", job_id, sizeof(job_id));
		if (!job_id[0]) {
			fprintf(stderr, "worker: account %s: generate answered no job_id\n", rsv->account_id);
			rc = PROVAUTH_EPROTOCOL;
		}
	}
	provauth_free(out);
	if (rc < 0) {
		submit_failed(w, j, rsv, rc);
	} else {
		/* From now on the slot is the job's: any process may release it, or reconcile. */
		if (provauth_pool_attach_job(w->manager, rsv->id, job_id) < 0)
			fprintf(stderr, "worker: attach %s to %s: %s\n", job_id, rsv->id, provauth_last_error());
		poll_job(w, j, rsv, job_id);
	}
	provauth_pool_reservation_free(rsv);
}

static void *work(void *arg)
{
	worker *w = arg;
	job *j;

	while ((j = queue_pop(w->jobs)))
		run_job(w, j);
	return NULL;
}

/* ---- setup and shutdown ---- */

static long number_arg(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || !*s || *end || v < min || v > max)
		return min - 1;
	return v;
}

static int read_queue(queue *q, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	unsigned long number = 0;

	if (!f) {
		fprintf(stderr, "worker: cannot open the queue %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		job *j;

		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		if (!(j = calloc(1, sizeof(*j)))) {
			fclose(f);
			return -1;
		}
		j->number = ++number;
		snprintf(j->prompt, sizeof(j->prompt), "%s", line);
		queue_push_locked(q, j);
		q->unfinished++;
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	const char *settings_path = NULL, *queue_path = NULL, *provider = "pixverse", *duration = NULL;
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *settings = NULL;
	provauth_manager *manager = NULL;
	queue q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, { 0 }, { 0 } };
	worker *workers = NULL;
	long nthreads = 4, wait_ms = 30000, poll_ms = 1000, job_timeout_s = 600;
	unsigned long total, ended = 0;
	int c, status = 1, started = 0, i;
	job *j;

	while ((c = getopt(argc, argv, "c:q:t:p:w:d:i:T:")) != -1) {
		switch (c) {
		case 'c': settings_path = optarg; break;
		case 'q': queue_path = optarg; break;
		case 't': nthreads = number_arg(optarg, 1, 64); break;
		case 'p': provider = optarg; break;
		case 'w': wait_ms = number_arg(optarg, 0, 3600000); break;
		case 'd': duration = optarg; break;
		case 'i': poll_ms = number_arg(optarg, 10, 60000); break;
		case 'T': job_timeout_s = number_arg(optarg, 1, 86400); break;
		default: nthreads = 0; break;
		}
	}
	if (optind != argc || !settings_path || !queue_path || nthreads < 1 || wait_ms < 0 || poll_ms < 10 ||
	    job_timeout_s < 1) {
		fprintf(stderr, "usage: worker -c SETTINGS -q QUEUE [-t THREADS (1-64)] [-p PROVIDER] [-w WAIT_MS]\n"
		        "              [-d DURATION] [-i POLL_MS] [-T JOB_TIMEOUT_S]\n");
		return 2;
	}
	if (read_queue(&q, queue_path) < 0)
		goto out;
	total = q.unfinished;
	if (provauth_settings_load(&settings, settings_path) < 0) {
		fprintf(stderr, "worker: %s\n", provauth_last_error());
		goto out;
	}
	opts.log = on_log;
	if (provauth_manager_new(&manager, settings, &opts) < 0) {
		fprintf(stderr, "worker: %s\n", provauth_last_error());
		goto out;
	}
	if (!(workers = calloc((size_t)nthreads, sizeof(*workers))))
		goto out;
	for (; started < nthreads; started++) {
		worker *w = &workers[started];

		w->jobs = &q;
		w->manager = manager;
		w->provider = provider;
		w->duration = duration;
		w->wait_ms = wait_ms;
		w->poll_ms = poll_ms;
		w->job_timeout_s = job_timeout_s;
		if (pthread_create(&w->thread, NULL, work, w) != 0)
			break;
	}
	if (started < nthreads) {
		/* Threads already started must end before the manager is freed: fail the jobs left. */
		fprintf(stderr, "worker: cannot start thread %d\n", started + 1);
		while ((j = queue_pop(&q)))
			job_end(&q, j, ST_FAILED, "no thread to run it");
	}
	for (i = 0; i < started; i++)
		pthread_join(workers[i].thread, NULL);
	for (i = 0; i < ST_COUNT; i++)
		ended += q.finals[i];
	fprintf(stderr, "worker: %lu jobs: %lu done, %lu moderated, %lu failed, %lu rejected, %lu no_account, "
	        "%lu timeout\n", total, q.finals[ST_DONE], q.finals[ST_MODERATED], q.finals[ST_FAILED],
	        q.finals[ST_REJECTED], q.finals[ST_NO_ACCOUNT], q.finals[ST_TIMEOUT]);
	fprintf(stderr, "worker: re-queued:");
	for (i = 0; i < RQ_COUNT; i++)
		fprintf(stderr, " %lu %s", q.requeued[i], requeue_names[i]);
	fprintf(stderr, "; logins by the library: %lu\n", __atomic_load_n(&logins, __ATOMIC_RELAXED));
	status = started == nthreads && ended == total ? 0 : 1;
out:
	while ((j = q.head)) {
		q.head = j->next;
		free(j);
	}
	free(workers);
	provauth_manager_free(manager);
	provauth_settings_free(settings);
	return status;
}
