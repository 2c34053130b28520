/*
 * The notifier: webhooks when an account needs a human, and when it
 * recovers. A queue and one delivery thread, so a slow receiver never
 * holds up a request or a keeper task. Each notice is first claimed in the
 * store (record.h: the last state notified, compare-and-set), so each
 * transition is sent once, whichever daemon saw it and however many times.
 * Then it is signed and POSTed, retried with back-off, and written to the
 * dead letter when it gives up or is still queued at stop: nothing is lost
 * silently.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/rand.h>
#include "notify.h"
#include "../keeper/record.h"

#define PAD_DEAD_LETTER_NAME "webhook-dead-letter.jsonl"

typedef struct pad_note {
	struct pad_note *next;
	char *event, *account_id, *provider, *reason, *message;
	int health_event;        /* from the library's session_health_changed: re-checked in the store */
	int claimed;             /* the transition is ours to send (record.h) */
	char id[37];
	int64_t at;
	char *body;
	int64_t attempts;
	int64_t next_ms;         /* monotonic ms of the next try */
	char last_error[64];
} pad_note;

struct pad_notifier {
	pad_daemon *d;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pad_note *queue;
	int stopping;
	pthread_t thread;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double random_unit(void)
{
	uint32_t r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		return 0.5;
	return (double)r / 4294967296.0;
}

static void note_free(pad_note *n)
{
	if (!n)
		return;
	free(n->event);
	free(n->account_id);
	free(n->provider);
	free(n->reason);
	free(n->message);
	free(n->body);
	free(n);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void note_log(pad_notifier *nt, provauth_log_level level, const char *what, const pad_note *n)
{
	const provauth_log_field f[] = { PAD_F_STR("delivery", n->id), PAD_F_STR("event", n->event),
	                                 PAD_F_STR("account_id", n->account_id), PAD_F_INT("attempts", n->attempts),
	                                 PAD_F_STR("error", n->last_error) };

	pad_log(nt->d, level, what, f, PAD_ARRAY_LEN(f));
}

/* ---- the store claim ---- */

/* The reason and the words from the stored account, which knows how it signs in. */
static void settle_words(pad_note *n, const provauth_account *a)
{
	const char *code = pad_needs_human_code(a->state.health.state, a->state.health.reason,
	                                        a->state.refresh_refused != NULL, NULL);
	char *reason, *message;

	if (!code || !(reason = strdup(code)))
		return;
	if (!(message = strdup(pad_needs_human_words(code, a->state.auth_method)))) {
		free(reason);
		return;
	}
	free(n->reason);
	free(n->message);
	n->reason = reason;
	n->message = message;
}

static int claim_change(pad_record *r, const provauth_account *a, void *arg)
{
	pad_note *n = arg;
	int needs = strcmp(n->event, "account.needs_human") == 0;

	if (n->health_event) {
		/* The record may have moved on since the event (another call recovered it): the store decides. */
		const char *state = a->state.health.state;
		if (needs != (state && strcmp(state, "invalid") == 0))
			return 0;
		if (needs)
			settle_words(n, a);
	}
	if (needs) {
		if (strcmp(r->notified, "needs_human") == 0)
			return 0;
		snprintf(r->notified, sizeof(r->notified), "needs_human");
		snprintf(r->notified_reason, sizeof(r->notified_reason), "%s", n->reason ? n->reason : "");
		return 1;
	}
	/* Recovered is news only to someone told it needed a human. */
	if (strcmp(r->notified, "needs_human") != 0)
		return 0;
	snprintf(r->notified, sizeof(r->notified), "recovered");
	r->notified_reason[0] = '\0';
	return 1;
}

/* 1: send it; 0: another daemon (or an earlier event) already did. */
static int claim(pad_notifier *nt, pad_note *n)
{
	pad_world *w = pad_world_get(nt->d);
	int rc, written = 0;

	if (!w)
		return 1;
	rc = pad_record_update(w->manager, n->account_id, claim_change, n, &written);
	pad_world_put(w);
	if (rc == PROVAUTH_ENOTFOUND)
		return 0; /* deleted meanwhile: nobody to tell about */
	if (rc < 0) {
		/* Better told twice than never: the store could not say. */
		snprintf(n->last_error, sizeof(n->last_error), "store: %s", provauth_strerror(rc));
		note_log(nt, PROVAUTH_LOG_WARN, "webhook_claim_failed", n);
		n->last_error[0] = '\0';
		return 1;
	}
	return written;
}

/* ---- delivery ---- */

static size_t discard(char *p, size_t size, size_t n, void *u)
{
	(void)p;
	(void)u;
	return size * n;
}

/* 0 when the receiver answered 2xx. */
static int deliver(pad_note *n, const pad_webhook_config *c)
{
	struct curl_slist *h = NULL;
	char sig[65], line[160];
	int64_t ts = pad_now();
	long status = 0;
	CURLcode cc;
	CURL *curl;

	if (pad_webhook_sign(sig, c->secret, ts, n->body, strlen(n->body)) < 0) {
		snprintf(n->last_error, sizeof(n->last_error), "signing failed");
		return -1;
	}
	if (!(curl = curl_easy_init())) {
		snprintf(n->last_error, sizeof(n->last_error), "out of memory");
		return -1;
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	snprintf(line, sizeof(line), "X-Provauth-Timestamp: %lld", (long long)ts);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "X-Provauth-Signature: v1=%s", sig);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "X-Provauth-Event: %s", n->event);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "X-Provauth-Delivery: %s", n->id);
	h = curl_slist_append(h, line);
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(curl, CURLOPT_URL, c->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, n->body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(n->body));
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(c->timeout_ms > 0 ? c->timeout_ms : 10000));
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "provauthd");
	cc = curl_easy_perform(curl);
	if (cc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(curl);
	if (cc != CURLE_OK) {
		snprintf(n->last_error, sizeof(n->last_error), "%s", curl_easy_strerror(cc));
		return -1;
	}
	if (status < 200 || status > 299) {
		snprintf(n->last_error, sizeof(n->last_error), "HTTP %ld", status);
		return -1;
	}
	return 0;
}

static void dead_letter(pad_notifier *nt, pad_note *n, const pad_config *c, const char *why)
{
	json_object *o = json_object_new_object(), *body = n->body ? json_tokener_parse(n->body) : NULL;
	char path[4096];
	int rc = PROVAUTH_EINVAL;

	if (c && c->webhook.dead_letter)
		snprintf(path, sizeof(path), "%s", c->webhook.dead_letter);
	else if (c && c->state_dir)
		snprintf(path, sizeof(path), "%s/%s", c->state_dir, PAD_DEAD_LETTER_NAME);
	else
		path[0] = '\0';
	if (o && body) {
		json_object_object_add(o, "dead_at", json_object_new_int64(pad_now()));
		json_object_object_add(o, "why", json_object_new_string(why));
		json_object_object_add(o, "attempts", json_object_new_int64(n->attempts));
		json_object_object_add(o, "last_error", json_object_new_string(n->last_error));
		json_object_object_add(o, "delivery", body);
		body = NULL;
		if (path[0])
			rc = pad_dead_letter_append(path, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	}
	json_object_put(o);
	json_object_put(body);
	/* Counted once the line is written: whoever watches the count may read the file. */
	pad_metric_add("provauthd_webhook_deliveries_total", "result=dead", 1);
	note_log(nt, rc == 0 ? PROVAUTH_LOG_WARN : PROVAUTH_LOG_ERROR,
	         rc == 0 ? "webhook_dead_lettered" : "webhook_lost", n);
}

/* One try of the note; 1 when it is done with (delivered, dropped, dead), 0 to retry. */
static int process(pad_notifier *nt, pad_note *n)
{
	pad_world *w;
	int rc, stopping, done;

	if (!(w = pad_world_get(nt->d)))
		return 1;
	/* No webhook configured (or unset by a reload): nothing to claim or send. */
	if (!w->config->webhook.url) {
		pad_world_put(w);
		return 1;
	}
	if (!n->claimed) {
		if (!claim(nt, n)) {
			pad_world_put(w);
			return 1;
		}
		n->claimed = 1;
		if (!(n->body = pad_webhook_body(n->id, n->event, n->account_id, n->provider, n->reason, n->message,
		                                 n->at))) {
			pad_world_put(w);
			return 1;
		}
	}
	n->attempts++;
	rc = deliver(n, &w->config->webhook);
	pthread_mutex_lock(&nt->mu);
	stopping = nt->stopping;
	pthread_mutex_unlock(&nt->mu);
	done = 1;
	if (rc == 0) {
		pad_metric_add("provauthd_webhook_deliveries_total", "result=delivered", 1);
		note_log(nt, PROVAUTH_LOG_INFO, "webhook_delivered", n);
	} else if (n->attempts > w->config->webhook.retries || stopping) {
		dead_letter(nt, n, w->config, stopping ? "stopped" : "retries_exhausted");
	} else {
		pad_metric_add("provauthd_webhook_deliveries_total", "result=retried", 1);
		note_log(nt, PROVAUTH_LOG_WARN, "webhook_retry", n);
		n->next_ms = mono_ms() + pad_backoff_ms(&w->config->webhook, n->attempts, random_unit());
		done = 0;
	}
	pad_world_put(w);
	return done;
}

/* The note due first, unlinked; NULL with *wait_ms set when none is due yet. */
static pad_note *take_due(pad_notifier *nt, int64_t *wait_ms)
{
	pad_note **pp, **best = NULL;
	pad_note *n;
	int64_t now = mono_ms();

	for (pp = &nt->queue; *pp; pp = &(*pp)->next)
		if (!best || (*pp)->next_ms < (*best)->next_ms)
			best = pp;
	if (!best) {
		*wait_ms = -1;
		return NULL;
	}
	if ((*best)->next_ms > now) {
		*wait_ms = (*best)->next_ms - now;
		return NULL;
	}
	n = *best;
	*best = n->next;
	n->next = NULL;
	return n;
}

static void push(pad_notifier *nt, pad_note *n)
{
	pad_note **pp = &nt->queue;

	while (*pp)
		pp = &(*pp)->next;
	*pp = n;
}

static void *delivery_thread(void *arg)
{
	pad_notifier *nt = arg;
	int64_t wait_ms;
	pad_note *n;

	pthread_mutex_lock(&nt->mu);
	while (!nt->stopping) {
		if (!(n = take_due(nt, &wait_ms))) {
			if (wait_ms < 0) {
				pthread_cond_wait(&nt->cv, &nt->mu);
			} else {
				struct timespec until;
				clock_gettime(CLOCK_MONOTONIC, &until);
				until.tv_sec += wait_ms / 1000;
				until.tv_nsec += (wait_ms % 1000) * 1000000L;
				if (until.tv_nsec >= 1000000000L) {
					until.tv_sec++;
					until.tv_nsec -= 1000000000L;
				}
				pthread_cond_timedwait(&nt->cv, &nt->mu, &until);
			}
			continue;
		}
		pthread_mutex_unlock(&nt->mu);
		if (process(nt, n)) {
			note_free(n);
			pthread_mutex_lock(&nt->mu);
		} else {
			pthread_mutex_lock(&nt->mu);
			push(nt, n);
		}
	}
	pthread_mutex_unlock(&nt->mu);
	return NULL;
}

int pad_notifier_start(pad_notifier **out, pad_daemon *d)
{
	pthread_condattr_t ca;
	pad_notifier *nt;

	*out = NULL;
	if (!(nt = calloc(1, sizeof(*nt))))
		return PROVAUTH_ENOMEM;
	nt->d = d;
	pthread_mutex_init(&nt->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&nt->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&nt->thread, NULL, delivery_thread, nt) != 0) {
		pthread_cond_destroy(&nt->cv);
		pthread_mutex_destroy(&nt->mu);
		free(nt);
		return PROVAUTH_ENOMEM;
	}
	*out = nt;
	return 0;
}

void pad_notifier_stop(pad_notifier *nt)
{
	pad_world *w;
	pad_note *n;

	if (!nt)
		return;
	pthread_mutex_lock(&nt->mu);
	nt->stopping = 1;
	pthread_cond_broadcast(&nt->cv);
	pthread_mutex_unlock(&nt->mu);
	pthread_join(nt->thread, NULL);
	/* Pending at stop: kept in the dead letter (claimed or not: an operator decides). */
	w = pad_world_get(nt->d);
	while ((n = nt->queue)) {
		nt->queue = n->next;
		if (!w || !w->config->webhook.url) {
			note_free(n); /* no webhook configured: nothing was to be sent */
			continue;
		}
		if (!n->body)
			n->body = pad_webhook_body(n->id, n->event, n->account_id, n->provider, n->reason, n->message,
			                           n->at);
		snprintf(n->last_error, sizeof(n->last_error), "%s", n->attempts ? n->last_error : "not sent before stop");
		dead_letter(nt, n, w ? w->config : NULL, "stopped");
		note_free(n);
	}
	pad_world_put(w);
	pthread_cond_destroy(&nt->cv);
	pthread_mutex_destroy(&nt->mu);
	free(nt);
}

static int queued_unclaimed(pad_notifier *nt, const pad_note *n)
{
	const pad_note *q;

	for (q = nt->queue; q; q = q->next)
		if (!q->claimed && strcmp(q->event, n->event) == 0 && strcmp(q->account_id, n->account_id) == 0)
			return 1;
	return 0;
}

static int enqueue(pad_notifier *nt, const char *event, const char *account_id, const char *provider,
                   const char *reason, const char *message, int health_event)
{
	pad_note *n;

	if (!nt || !event || !account_id)
		return PROVAUTH_EINVAL;
	if (!(n = calloc(1, sizeof(*n))))
		return PROVAUTH_ENOMEM;
	n->event = strdup(event);
	n->account_id = strdup(account_id);
	n->provider = dup_or_null(provider);
	n->reason = dup_or_null(reason);
	n->message = dup_or_null(message);
	n->health_event = health_event;
	n->at = pad_now();
	n->next_ms = mono_ms();
	if (!n->event || !n->account_id || (provider && !n->provider) || (reason && !n->reason) ||
	    (message && !n->message) || pad_delivery_id(n->id) < 0) {
		note_free(n);
		return PROVAUTH_ENOMEM;
	}
	pthread_mutex_lock(&nt->mu);
	if (nt->stopping) {
		pthread_mutex_unlock(&nt->mu);
		note_free(n);
		return PROVAUTH_EBUSY;
	}
	/* The same news about the same account still waiting for its claim: one is enough (the keeper repeats). */
	if (queued_unclaimed(nt, n)) {
		pthread_mutex_unlock(&nt->mu);
		note_free(n);
		return 0;
	}
	push(nt, n);
	pthread_cond_signal(&nt->cv);
	pthread_mutex_unlock(&nt->mu);
	return 0;
}

int pad_notify_account(pad_notifier *nt, const char *event, const char *account_id, const char *provider,
                       const char *reason, const char *message)
{
	return enqueue(nt, event, account_id, provider, reason, message, 0);
}

/* ---- the library's events ---- */

static const char *field(const provauth_log_field *f, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(f[i].key, key) == 0 && f[i].type == PROVAUTH_FIELD_STRING)
			return f[i].str;
	return NULL;
}

void pad_notify_from_event(pad_daemon *d, const char *event, const provauth_log_field *f, size_t n)
{
	static const char suffix[] = "_session_health_changed";
	const char *id, *state, *reason, *message = NULL;
	char provider[64];
	size_t len;

	if (!d || !d->notifier || !event)
		return;
	len = strlen(event);
	if (len <= sizeof(suffix) - 1 || strcmp(event + len - (sizeof(suffix) - 1), suffix) != 0)
		return;
	snprintf(provider, sizeof(provider), "%.*s", (int)(len - (sizeof(suffix) - 1)), event);
	id = field(f, n, "account_id");
	state = field(f, n, "state");
	reason = field(f, n, "reason");
	if (!id || !state)
		return;
	/*
	 * Only queued here: this runs inside the library's call, and the claim
	 * in the store is the delivery thread's (it also re-reads the health,
	 * so an invalid record that a retry fixed at once is not sent).
	 */
	if (strcmp(state, "invalid") == 0) {
		/* The words are settled at the claim, from the stored account (its way of signing in). */
		const char *why = pad_needs_human_code(state, reason, 0, NULL);
		message = pad_needs_human_words(why, PROVAUTH_AUTH_UNKNOWN);
		enqueue(d->notifier, "account.needs_human", id, provider, why, message, 1);
	} else if (strcmp(state, "ok") == 0) {
		enqueue(d->notifier, "account.recovered", id, provider, NULL, "the account works again", 1);
	}
}
