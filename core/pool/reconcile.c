/*
 * Repairing the pool from what is really in flight: reservations whose
 * holder died before submitting, reservations too old, jobs the provider
 * says ended while nobody released them, and in-use counts that drifted.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "pool/pool.h"

typedef struct job_ids {
	const char *const *ids;
	size_t n;
} job_ids;

static int job_status_hook(const pa_plugin *p, const provauth_pool_hooks *hooks, const provauth_session *s,
                           char **out_json, provauth_failure *f, void *payload)
{
	const job_ids *jobs = payload;

	if (!PROVAUTH_POOL_HOOKS_HAS(hooks, job_status) || !hooks->job_status)
		return pa_error_set(PROVAUTH_EUNSUPPORTED, "pool: provider '%s' cannot report jobs", s->provider);
	return hooks->job_status(p->state, s, jobs->ids, jobs->n, out_json, f);
}

/* Asks about the attached jobs of one account (r[0..n), all of it) and releases those that ended. */
static size_t release_ended(provauth_manager *m, provauth_pool_reservation **r, size_t n)
{
	const char **ids = calloc(n, sizeof(*ids));
	const provauth_json *jobs;
	provauth_json *answer = NULL;
	job_ids payload;
	size_t i, j, released = 0;

	if (!ids)
		return 0;
	for (i = 0; i < n; i++)
		ids[i] = r[i]->job_id;
	payload.ids = ids;
	payload.n = n;
	/* A failed question (network, session) leaves the jobs as they are: the next reconcile asks again. */
	if (pa_pool_run_hook(&answer, m, r[0]->account_id, "pool_job_status", job_status_hook, &payload) == 0) {
		jobs = pa_json_get(answer, "jobs");
		for (j = 0; j < pa_json_array_len(jobs); j++) {
			const provauth_json *job = pa_json_array_at(jobs, j);
			const char *id = pa_json_string(pa_json_get(job, "id"));
			int outcome = provauth_pool_outcome_for_job(pa_json_string(pa_json_get(job, "state")));
			for (i = 0; id && outcome >= 0 && i < n; i++)
				if (strcmp(ids[i], id) == 0 &&
				    provauth_pool_release(m, r[i]->id, (provauth_pool_outcome)outcome) == 0)
					released++;
		}
	}
	pa_json_free(answer);
	free(ids);
	return released;
}

static int by_account(const void *a, const void *b)
{
	const provauth_pool_reservation *x = *(provauth_pool_reservation *const *)a;
	const provauth_pool_reservation *y = *(provauth_pool_reservation *const *)b;

	return strcmp(x->account_id, y->account_id);
}

int provauth_pool_reconcile(provauth_pool_reconcile_report *out, provauth_manager *m, const char *provider)
{
	provauth_pool_reconcile_report report;
	provauth_pool_reclaim_counts counts;
	provauth_pool_reservation **r = NULL, **attached = NULL;
	provauth_store *s;
	size_t i, n = 0, na = 0, start;
	int rc;

	if ((rc = pa_pool_store(&s, m)) < 0)
		return rc;
	if ((rc = s->pool_reclaim(s, &counts, provider, pa_manager_now(m),
	                          pa_manager_pool_settings(m)->reservation_ttl)) < 0 ||
	    (rc = s->pool_list(s, NULL, NULL, &r, &n, provider, NULL)) < 0)
		return rc;
	memset(&report, 0, sizeof(report));
	report.version = PROVAUTH_POOL_RECONCILE_REPORT_VERSION;
	report.reclaimed_dead = counts.dead;
	report.reclaimed_expired = counts.expired;
	report.counters_fixed = counts.counters_fixed;
	if (n && !(attached = calloc(n, sizeof(*attached)))) {
		provauth_pool_reservation_list_free(r, n);
		return pa_error_oom();
	}
	for (i = 0; i < n; i++)
		if (r[i]->job_id)
			attached[na++] = r[i];
	if (na)
		qsort(attached, na, sizeof(*attached), by_account);
	/* One question per account: the provider answers all of an account's jobs at once. */
	for (start = 0; start < na; start = i) {
		for (i = start + 1; i < na && strcmp(attached[i]->account_id, attached[start]->account_id) == 0; i++)
			;
		report.released_finished += release_ended(m, attached + start, i - start);
	}
	free(attached);
	provauth_pool_reservation_list_free(r, n);
	if (report.reclaimed_dead + report.reclaimed_expired)
		pa_pool_waker_signal(pa_manager_pool_waker(m));
	{
		const provauth_log_field f[] = {
			PA_F_STR("provider", provider ? provider : ""),
			PA_F_INT("reclaimed_dead", report.reclaimed_dead),
			PA_F_INT("reclaimed_expired", report.reclaimed_expired),
			PA_F_INT("released_finished", report.released_finished),
			PA_F_INT("counters_fixed", report.counters_fixed),
		};
		pa_log(pa_manager_logger(m), PROVAUTH_LOG_INFO, "pool_reconciled", f, PA_ARRAY_LEN(f));
	}
	if (out)
		*out = report;
	return 0;
}
