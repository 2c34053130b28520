/*
 * The daemon's Prometheus metrics: a fixed table of families, and their
 * series in an open-addressed table of pointers that only grows.
 *
 * Why it is built this way: every request counts itself, so the hot path
 * (a series that exists) must not take a lock. A series, once published
 * with a release store, is never moved or freed, so a reader that finds it
 * with an acquire load may add to its atomics at any time. Only creating a
 * series takes the mutex. The table is bounded (PAD_METRIC_SERIES); once it
 * is full, new series are dropped and counted in
 * provauthd_metrics_series_dropped_total, never grown without end.
 *
 * Labels come in as "k=v,k2=v2" and are rebuilt from the family's own keys:
 * a key the family does not have is dropped, a value outside the key's
 * fixed set becomes "other". Free-form values (provider ids, route names)
 * are checked too (route names against the route table, provider ids by
 * their shape and a cap on how many distinct ones a family takes), so an
 * account id or a secret passed by mistake never becomes a label.
 */
#include "config.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "daemon.h"
#include "ops/ops.h"

#define PAD_METRIC_SERIES 2048          /* slots; a power of two, at most half used */
#define PAD_METRIC_MAX_SERIES 1024
#define PAD_METRIC_LABELS_MAX 160
#define PAD_METRIC_FREE_VALUES 32       /* distinct provider ids one family takes */
#define PAD_METRIC_MAX_KEYS 3

enum metric_type { COUNTER, GAUGE, HISTOGRAM };

/* A label key and the values it may take; NULL values: free-form, checked by `check`. */
typedef struct label_key {
	const char *name;
	const char *const *values;
	int (*check)(const char *v);
} label_key;

typedef struct family {
	const char *name;
	enum metric_type type;
	const char *help;
	label_key keys[PAD_METRIC_MAX_KEYS];
} family;

static int check_provider(const char *v);
static int check_route(const char *v);
static int check_code(const char *v);

static const char *const results[] = { "ok", "failed", "skipped", "rejected", "error", "retry", "dead", NULL };
static const char *const steps[] = { "stored_credentials", "refresh", "password_login", "cookie_refresh", NULL };
static const char *const reasons[] = {
	"session_error", "session_invalidated", "login_failed", "refresh_failed", "refresh_rejected",
	"session_lost", "refresh_token_dead", "banned", "credits_exhausted", "needs_human", "internal", NULL
};
static const char *const slot_states[] = { "in_use", "free", NULL };
static const char *const keeper_kinds[] = { "refresh", "probe", "credit_sync", NULL };

#define K_PROVIDER { "provider", NULL, check_provider }
#define K_RESULT { "result", results, NULL }

static const family families[] = {
	{ "provauthd_http_requests_total", COUNTER, "HTTP requests answered, by route and status code.",
	  { { "route", NULL, check_route }, { "code", NULL, check_code } } },
	{ "provauthd_http_request_duration_ms", HISTOGRAM, "Time to answer an HTTP request, in milliseconds.",
	  { { "route", NULL, check_route } } },
	{ "provauthd_calls_total", COUNTER, "Provider operations run for callers, by provider and result.",
	  { K_PROVIDER, K_RESULT } },
	{ "provauthd_recoveries_total", COUNTER, "Session recoveries, by the step that ended them and result.",
	  { { "step", steps, NULL }, K_RESULT } },
	{ "provauthd_logins_total", COUNTER, "Automatic logins (password or cookie), by provider and result.",
	  { K_PROVIDER, K_RESULT } },
	{ "provauthd_refreshes_total", COUNTER, "OAuth token refreshes, by provider and result.",
	  { K_PROVIDER, K_RESULT } },
	{ "provauthd_failures_total", COUNTER, "Failures seen on accounts, by reason.", { { "reason", reasons, NULL } } },
	{ "provauthd_pool_slots", GAUGE, "Job slots of the account pool, by provider and state.",
	  { K_PROVIDER, { "state", slot_states, NULL } } },
	{ "provauthd_keeper_runs_total", COUNTER, "Keeper tasks run, by kind and result.",
	  { { "kind", keeper_kinds, NULL }, K_RESULT } },
	{ "provauthd_keeper_lag_seconds", GAUGE, "Seconds the most overdue account is late for the keeper.", { { 0 } } },
	{ "provauthd_keeper_accounts", GAUGE, "Accounts the keeper looks after.", { { 0 } } },
	{ "provauthd_webhook_deliveries_total", COUNTER, "Webhook deliveries, by result.", { K_RESULT } },
	{ "provauthd_reloads_total", COUNTER, "Settings reloads (SIGHUP), by result.", { K_RESULT } },
	{ "provauthd_world_generation", GAUGE, "The generation of the settings in use (1 at start).", { { 0 } } },
	{ "provauthd_up", GAUGE, "1 while the daemon serves.", { { 0 } } },
	{ "provauthd_in_flight", GAUGE, "HTTP requests being answered.", { { 0 } } },
	{ "provauthd_auth_failures_total", COUNTER, "Requests that presented a token this daemon does not know.",
	  { { 0 } } },
	{ "provauthd_metrics_series_dropped_total", COUNTER,
	  "Series not recorded because the table of series was full.", { { 0 } } },
};

#define NFAMILIES PAD_ARRAY_LEN(families)

static const double bucket_ms[PAD_METRIC_BUCKETS] = { 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000 };

typedef struct series {
	size_t family;
	char labels[PAD_METRIC_LABELS_MAX];  /* canonical: k="v",k2="v2" (already quoted) */
	atomic_llong value;                  /* counter, gauge; histogram: count */
	atomic_llong sum_us;                 /* histogram: sum in microseconds */
	atomic_llong buckets[PAD_METRIC_BUCKETS]; /* histogram: observations <= bucket_ms[i] (not cumulative) */
} series;

static _Atomic(series *) table[PAD_METRIC_SERIES];
static atomic_size_t nseries;
static atomic_llong dropped;            /* series refused: the table was full */
static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;

/* The free-form values each (family, key) took so far: bounded, under create_lock. */
static _Atomic(char *) free_values[NFAMILIES][PAD_METRIC_MAX_KEYS][PAD_METRIC_FREE_VALUES];

static int in_set(const char *const *set, const char *v)
{
	for (; *set; set++)
		if (!strcmp(*set, v))
			return 1;
	return 0;
}

/*
 * A provider id as plugins name themselves: a lower-case word, short. An
 * account id (long, or with digits in a run like a UUID's) is refused.
 */
static int check_provider(const char *v)
{
	size_t n = strlen(v), digits = 0;

	if (n == 0 || n > 32 || v[0] < 'a' || v[0] > 'z')
		return 0;
	for (; *v; v++) {
		if (*v >= '0' && *v <= '9')
			digits++;
		else if (!((*v >= 'a' && *v <= 'z') || *v == '_' || *v == '-'))
			return 0;
	}
	return digits <= 4;
}

static int check_route(const char *v)
{
	size_t i;

	if (!strcmp(v, "not_found") || !strcmp(v, "method_not_allowed") || !strcmp(v, "login"))
		return 1;
	for (i = 0; i < pad_route_count; i++)
		if (pad_routes[i].name && !strcmp(pad_routes[i].name, v))
			return 1;
	return 0;
}

static int check_code(const char *v)
{
	return strlen(v) == 3 && v[0] >= '1' && v[0] <= '5' && v[1] >= '0' && v[1] <= '9' && v[2] >= '0' &&
	       v[2] <= '9';
}

static size_t family_index(const char *name)
{
	size_t i;

	for (i = 0; i < NFAMILIES; i++)
		if (!strcmp(families[i].name, name))
			return i;
	return NFAMILIES;
}

/* The value of key `k` in "k=v,k2=v2", copied into buf (NULL when absent). */
static const char *label_value(const char *labels, const char *k, char *buf, size_t size)
{
	size_t kl = strlen(k);
	const char *p = labels;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > kl && !strncmp(p, k, kl) && p[kl] == '=') {
			size_t vl = len - kl - 1;

			if (vl >= size)
				vl = size - 1;
			memcpy(buf, p + kl + 1, vl);
			buf[vl] = '\0';
			return buf;
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

/*
 * Whether a free-form value is one the family already took (1), may take
 * now (1, when `admit`: under create_lock), or is new (0: the caller takes
 * the lock and asks again with `admit`), or is one too many (-1: "other").
 * Values are published like series: written once, then a release store.
 */
static int free_value_known(size_t fi, size_t ki, const char *v, int admit)
{
	size_t i;

	for (i = 0; i < PAD_METRIC_FREE_VALUES; i++) {
		char *seen = atomic_load_explicit(&free_values[fi][ki][i], memory_order_acquire);

		if (!seen) {
			if (!admit)
				return 0;
			if (!(seen = strdup(v)))
				return -1;
			atomic_store_explicit(&free_values[fi][ki][i], seen, memory_order_release);
			return 1;
		}
		if (!strcmp(seen, v))
			return 1;
	}
	return -1;
}

/*
 * Rebuilds `in` as the family's canonical label string: 0; 1 when a
 * free-form value is new and `admit` is 0 (ask again under the lock); -1
 * when it does not fit.
 */
static int canonical_labels(char *out, size_t size, size_t fi, const char *in, int admit)
{
	const family *f = &families[fi];
	size_t ki, used = 0;

	out[0] = '\0';
	for (ki = 0; ki < PAD_METRIC_MAX_KEYS && f->keys[ki].name; ki++) {
		const label_key *k = &f->keys[ki];
		char buf[64];
		const char *v = label_value(in ? in : "", k->name, buf, sizeof(buf));
		int n;

		if (!v || !*v)
			v = "other";
		else if (k->values ? !in_set(k->values, v) : !k->check(v))
			v = "other";
		else if (!k->values && k->check == check_provider) {
			int known = free_value_known(fi, ki, v, admit);

			if (known == 0)
				return 1;
			if (known < 0)
				v = "other";
		}
		n = snprintf(out + used, size - used, "%s%s=\"%s\"", used ? "," : "", k->name, v);
		if (n < 0 || (size_t)n >= size - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

static uint64_t hash_series(size_t fi, const char *labels)
{
	uint64_t h = 1469598103934665603ULL ^ fi;

	for (; *labels; labels++)
		h = (h ^ (unsigned char)*labels) * 1099511628211ULL;
	return h;
}

/* The existing series, without a lock; NULL when it is not there (yet). */
static series *lookup(size_t fi, const char *labels, uint64_t h)
{
	size_t i, slot;

	for (i = 0; i < PAD_METRIC_SERIES; i++) {
		series *s;

		slot = (size_t)(h + i) & (PAD_METRIC_SERIES - 1);
		s = atomic_load_explicit(&table[slot], memory_order_acquire);
		if (!s)
			return NULL;
		if (s->family == fi && !strcmp(s->labels, labels))
			return s;
	}
	return NULL;
}

static series *find_or_create(const char *name, const char *labels_in)
{
	size_t fi = family_index(name), i;
	char labels[PAD_METRIC_LABELS_MAX];
	uint64_t h;
	series *s;
	int rc;

	if (fi == NFAMILIES || (rc = canonical_labels(labels, sizeof(labels), fi, labels_in, 0)) < 0)
		return NULL;
	if (rc == 0 && (s = lookup(fi, labels, hash_series(fi, labels))))
		return s;
	pthread_mutex_lock(&create_lock);
	/* Again under the lock: this time a new free-form value may be admitted. */
	if (canonical_labels(labels, sizeof(labels), fi, labels_in, 1) < 0) {
		pthread_mutex_unlock(&create_lock);
		return NULL;
	}
	h = hash_series(fi, labels);
	if ((s = lookup(fi, labels, h))) {
		pthread_mutex_unlock(&create_lock);
		return s;
	}
	if (atomic_load(&nseries) >= PAD_METRIC_MAX_SERIES || !(s = calloc(1, sizeof(*s)))) {
		pthread_mutex_unlock(&create_lock);
		atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
		return NULL;
	}
	s->family = fi;
	memcpy(s->labels, labels, sizeof(labels));
	for (i = 0; i < PAD_METRIC_SERIES; i++) {
		size_t slot = (size_t)(h + i) & (PAD_METRIC_SERIES - 1);

		if (!atomic_load_explicit(&table[slot], memory_order_relaxed)) {
			atomic_store_explicit(&table[slot], s, memory_order_release);
			break;
		}
	}
	atomic_fetch_add(&nseries, 1);
	pthread_mutex_unlock(&create_lock);
	return s;
}

void pad_metric_add(const char *family_name, const char *labels, int64_t delta)
{
	series *s = find_or_create(family_name, labels);

	if (s && families[s->family].type != HISTOGRAM)
		atomic_fetch_add_explicit(&s->value, delta, memory_order_relaxed);
}

void pad_metric_set(const char *family_name, const char *labels, int64_t value)
{
	series *s = find_or_create(family_name, labels);

	if (s && families[s->family].type == GAUGE)
		atomic_store_explicit(&s->value, value, memory_order_relaxed);
}

void pad_metric_observe_ms(const char *family_name, const char *labels, double ms)
{
	series *s = find_or_create(family_name, labels);
	size_t b;

	if (!s || families[s->family].type != HISTOGRAM)
		return;
	if (!(ms >= 0)) /* NaN or negative: a clock that went back counts as 0 */
		ms = 0;
	for (b = 0; b < PAD_METRIC_BUCKETS && ms > bucket_ms[b]; b++)
		;
	if (b < PAD_METRIC_BUCKETS)
		atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_us, (long long)(ms * 1000.0 + 0.5), memory_order_relaxed);
	atomic_fetch_add_explicit(&s->value, 1, memory_order_relaxed);
}

/* ---- the text format ---- */

typedef struct text {
	char *buf;
	size_t len, cap;
	int failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		{
			size_t cap = t->cap * 2 + (size_t)n;
			char *b = realloc(t->buf, cap);

			if (!b) {
				t->failed = 1;
				return;
			}
			t->buf = b;
			t->cap = cap;
		}
	}
}

static void put_series(text *t, const family *f, const series *s)
{
	const char *sep = s->labels[0] ? "," : "";

	if (f->type != HISTOGRAM) {
		put(t, "%s%s%s%s %lld\n", f->name, s->labels[0] ? "{" : "", s->labels, s->labels[0] ? "}" : "",
		    (long long)atomic_load_explicit(&s->value, memory_order_relaxed));
		return;
	}
	{
		long long cumulative = 0, count, sum_us;
		size_t b;

		/* count is read first: buckets added later only make +Inf look small for one scrape, never
		   non-monotonic, since +Inf is written as the largest of the two. */
		count = atomic_load_explicit(&s->value, memory_order_relaxed);
		for (b = 0; b < PAD_METRIC_BUCKETS; b++) {
			cumulative += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
			put(t, "%s_bucket{%s%sle=\"%g\"} %lld\n", f->name, s->labels, sep, bucket_ms[b], cumulative);
		}
		if (count < cumulative)
			count = cumulative;
		sum_us = atomic_load_explicit(&s->sum_us, memory_order_relaxed);
		put(t, "%s_bucket{%s%sle=\"+Inf\"} %lld\n", f->name, s->labels, sep, count);
		put(t, "%s_sum%s%s%s %lld.%03lld\n", f->name, s->labels[0] ? "{" : "", s->labels,
		    s->labels[0] ? "}" : "", sum_us / 1000, sum_us % 1000);
		put(t, "%s_count%s%s%s %lld\n", f->name, s->labels[0] ? "{" : "", s->labels, s->labels[0] ? "}" : "",
		    count);
	}
}

int pad_metrics_render(char **out, size_t *len)
{
	text t = { malloc(8192), 0, 8192, 0 };
	size_t fi, i;

	if (!t.buf)
		return PROVAUTH_ENOMEM;
	t.buf[0] = '\0';
	for (fi = 0; fi < NFAMILIES; fi++) {
		const family *f = &families[fi];

		put(&t, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
		    f->type == COUNTER ? "counter" : f->type == GAUGE ? "gauge" : "histogram");
		if (!strcmp(f->name, "provauthd_metrics_series_dropped_total")) {
			put(&t, "%s %lld\n", f->name, (long long)atomic_load(&dropped));
			continue;
		}
		for (i = 0; i < PAD_METRIC_SERIES; i++) {
			series *s = atomic_load_explicit(&table[i], memory_order_acquire);

			if (s && s->family == fi)
				put_series(&t, f, s);
		}
	}
	if (t.failed) {
		free(t.buf);
		return PROVAUTH_ENOMEM;
	}
	*out = t.buf;
	*len = t.len;
	return 0;
}
