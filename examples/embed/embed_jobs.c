/*
 * embed-jobs: libprovauth embedded in a job processor.
 *
 *   embed-jobs -c SETTINGS [-w WORKERS] [-u BASE_URL]  < jobs
 *
 * Each line of standard input is a job: the id of a Pixverse account of the
 * pool. WORKER threads take jobs from a queue and run them through
 * provauth_run_with_session: the job's own code calls the API with the
 * session's token, and the library recovers a lost session (newer stored
 * token, refresh, password login) once and retries, while other workers
 * using the same account wait for that one recovery instead of logging in
 * themselves. One line per job goes to stdout ("job N ACCOUNT ok" or
 * "... failed: why"); the library's events go to stderr in our own format.
 * Exits 1 if any job failed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include <provauth/provauth.h>

/* ---- a job queue ---- */

typedef struct job {
	struct job *next;
	unsigned long number;
	char account[256];
} job;

typedef struct queue {
	pthread_mutex_t lock;
	pthread_cond_t ready;
	job *head, *tail;
	int closed;
} queue;

static void queue_push(queue *q, job *j)
{
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	pthread_cond_signal(&q->ready);
	pthread_mutex_unlock(&q->lock);
}

/* NULL once the queue is closed and empty. */
static job *queue_pop(queue *q)
{
	job *j;

	pthread_mutex_lock(&q->lock);
	while (!q->head && !q->closed)
		pthread_cond_wait(&q->ready, &q->lock);
	if ((j = q->head) && !(q->head = j->next))
		q->tail = NULL;
	pthread_mutex_unlock(&q->lock);
	return j;
}

static void queue_close(queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = 1;
	pthread_cond_broadcast(&q->ready);
	pthread_mutex_unlock(&q->lock);
}

/* ---- the log callback: any thread, concurrently ---- */

static unsigned long log_events;

static void on_log(provauth_log_level level, const char *event, const provauth_log_field *fields,
                   size_t nfields, void *payload)
{
	char line[1024];
	size_t i, n;

	(void)payload;
	__atomic_add_fetch(&log_events, 1, __ATOMIC_RELAXED);
	n = (size_t)snprintf(line, sizeof(line), "embed-jobs: %s %s", provauth_log_level_name(level), event);
	/* Secret fields already arrive as fingerprints ("fp:..."): safe to print. */
	for (i = 0; i < nfields && n < sizeof(line); i++) {
		if (fields[i].type == PROVAUTH_FIELD_INT || fields[i].type == PROVAUTH_FIELD_BOOL)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%lld", fields[i].key,
			                      (long long)fields[i].num);
		else
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%s", fields[i].key,
			                      fields[i].str ? fields[i].str : "");
	}
	fprintf(stderr, "%s\n", line);  /* one call: lines of two threads do not mix */
}

/* ---- the job's own work: an API call with the session's token ---- */

typedef struct worker {
	pthread_t thread;
	queue *jobs;
	provauth_manager *manager;
	const char *base_url;
	CURL *curl;                /* one per thread: connections are reused */
	unsigned long failed;
} worker;

typedef struct reply {
	char *body;
	size_t len;
} reply;

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	reply *r = userdata;
	size_t n = size * nmemb;
	char *p;

	if (r->len + n > 1 << 20 || !(p = realloc(r->body, r->len + n + 1)))
		return 0;  /* too big or out of memory: curl reports a write error */
	memcpy(p + r->len, data, n);
	r->body = p;
	r->len += n;
	p[r->len] = '\0';
	return n;
}

/*
 * Pixverse answers HTTP 200 with {"ErrCode": n, ...}. A real server would use
 * its JSON parser; the provider's classify_error does the real judging.
 */
static int envelope_ok(const char *body)
{
	const char *p = body ? strstr(body, "\"ErrCode\"") : NULL;

	if (!p)
		return 0;
	p += strlen("\"ErrCode\"");
	p += strspn(p, " \t\r\n:");
	return strtol(p, NULL, 10) == 0 && *p == '0';
}

/*
 * A string member of the session's metadata JSON into out ("" if absent).
 * Pixverse ties a session to the client ids it was made with and answers
 * 10005 ("logged in elsewhere") to others, so a caller that talks to the
 * API itself sends the account's: metadata "trace_id" and "anonymous_id".
 * A real server would use its JSON parser; the ids are plain uuids.
 */
static void metadata_string(const char *metadata, const char *key, char *out, size_t size)
{
	char quoted[64];
	const char *p;
	size_t n = 0;

	out[0] = '\0';
	snprintf(quoted, sizeof(quoted), "\"%s\":\"", key);
	if (!metadata || !(p = strstr(metadata, quoted)))
		return;
	for (p += strlen(quoted); p[n] && p[n] != '"' && n + 1 < size; n++)
		out[n] = p[n];
	out[n] = '\0';
}

/* A provauth_operation_fn: describe a failure, do not judge it. */
static int get_credits(const provauth_session *s, provauth_failure *failure, void *payload)
{
	worker *w = payload;
	struct curl_slist *headers;
	reply r = { NULL, 0 };
	char url[512], *token, id[48], trace[64], anon[80];
	long status = 0;
	CURLcode cc;
	int rc = 0;
	const char *jwt = provauth_session_credential(s, PROVAUTH_CRED_JWT, NULL);

	if (!jwt) {
		provauth_failure_set_message(failure, PROVAUTH_ESESSION, "user is not login");
		return PROVAUTH_ESESSION;
	}
	snprintf(url, sizeof(url), "%s/creative_platform/user/credits", w->base_url);
	if (!(token = malloc(strlen(jwt) + sizeof("token: "))))
		return PROVAUTH_ENOMEM;
	sprintf(token, "token: %s", jwt);
	metadata_string(s->metadata, "trace_id", id, sizeof(id));
	snprintf(trace, sizeof(trace), "ai-trace-id: %s", id);
	metadata_string(s->metadata, "anonymous_id", id, sizeof(id));
	snprintf(anon, sizeof(anon), "ai-anonymous-id: %s", id);
	if (!(headers = curl_slist_append(NULL, token)) || !curl_slist_append(headers, "x-platform: Web") ||
	    !curl_slist_append(headers, trace) || !curl_slist_append(headers, anon)) {
		curl_slist_free_all(headers);
		free(token);
		return PROVAUTH_ENOMEM;
	}
	curl_easy_reset(w->curl);
	curl_easy_setopt(w->curl, CURLOPT_URL, url);
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(w->curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
	cc = curl_easy_perform(w->curl);
	curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	memset(token, 0, strlen(token));
	free(token);

	if (cc != CURLE_OK) {
		rc = cc == CURLE_OPERATION_TIMEDOUT ? PROVAUTH_ETIMEOUT : PROVAUTH_ENETWORK;
		provauth_failure_set_transport(failure, rc, curl_easy_strerror(cc));
	} else if (status != 200 || !envelope_ok(r.body)) {
		rc = PROVAUTH_EHTTP;
		provauth_failure_set_http(failure, status, r.body, r.len, -1);
	}
	free(r.body);
	return rc;
}

static void *work(void *arg)
{
	worker *w = arg;
	job *j;
	int rc;

	while ((j = queue_pop(w->jobs))) {
		rc = provauth_run_with_session(w->manager, j->account, "credits", get_credits, w);
		if (rc == 0) {
			printf("job %lu %s ok\n", j->number, j->account);
		} else {
			/* The last error is thread-local: read it on the thread that failed. */
			printf("job %lu %s failed: %s: %s\n", j->number, j->account, provauth_strerror(rc),
			       provauth_last_error());
			w->failed++;
		}
		fflush(stdout);
		free(j);
	}
	return NULL;
}

/* ---- setup and shutdown ---- */

int main(int argc, char **argv)
{
	const char *settings_path = NULL, *base_url = "https://app-api.pixverse.ai";
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *settings = NULL;
	provauth_manager *manager = NULL;
	queue jobs = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0 };
	worker *workers = NULL;
	unsigned long nworkers = 4, started = 0, number = 0, failed = 0, i;
	char line[256];
	int c, status = 1;

	while ((c = getopt(argc, argv, "c:w:u:")) != -1) {
		if (c == 'c')
			settings_path = optarg;
		else if (c == 'w')
			nworkers = strtoul(optarg, NULL, 10);
		else if (c == 'u')
			base_url = optarg;
		else
			break;
	}
	if (c != -1 || optind != argc || !settings_path || nworkers < 1 || nworkers > 64) {
		fprintf(stderr, "usage: embed-jobs -c SETTINGS [-w WORKERS (1-64)] [-u BASE_URL] < jobs\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;

	if (provauth_settings_load(&settings, settings_path) < 0) {
		fprintf(stderr, "embed-jobs: %s\n", provauth_last_error());
		goto out;
	}
	opts.log = on_log;
	if (provauth_manager_new(&manager, settings, &opts) < 0) {
		fprintf(stderr, "embed-jobs: %s\n", provauth_last_error());
		goto out;
	}

	if (!(workers = calloc(nworkers, sizeof(*workers))))
		goto out;
	for (; started < nworkers; started++) {
		worker *w = &workers[started];

		w->jobs = &jobs;
		w->manager = manager;
		w->base_url = base_url;
		if (!(w->curl = curl_easy_init()) || pthread_create(&w->thread, NULL, work, w) != 0) {
			curl_easy_cleanup(w->curl);
			break;
		}
	}

	while (started == nworkers && fgets(line, sizeof(line), stdin)) {
		job *j;

		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		if (!(j = calloc(1, sizeof(*j))))
			break;
		j->number = ++number;
		snprintf(j->account, sizeof(j->account), "%s", line);
		queue_push(&jobs, j);
	}

	/* Shutdown: let the workers drain the queue; no call may be in flight at manager_free. */
	queue_close(&jobs);
	for (i = 0; i < started; i++) {
		pthread_join(workers[i].thread, NULL);
		curl_easy_cleanup(workers[i].curl);
		failed += workers[i].failed;
	}
	if (started == nworkers && !ferror(stdin))
		status = failed ? 1 : 0;
	fprintf(stderr, "embed-jobs: %lu jobs, %lu failed, %lu log events received\n", number, failed,
	        __atomic_load_n(&log_events, __ATOMIC_RELAXED));
out:
	free(workers);
	provauth_manager_free(manager);
	provauth_settings_free(settings);
	curl_global_cleanup();
	return status;
}
