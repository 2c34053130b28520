/*
 * The fake Pixverse's job controls and counters: what tests and the demo
 * set (durations, the job clock, plans, outcomes, high load) and read
 * (submitted, in flight, peak in flight, refusals, charged, refunded), as
 * the C API of fake_pixverse.h and as /__control/ endpoints.
 */
#include "config.h"
#include "fake_pixverse_private.h"

#include <string.h>

static void stats_of(fake_pixverse *pv, size_t account, fake_pv_job_stats *out)
{
	*out = pv->accounts[account].stats;
	out->in_flight = fake_pv_in_flight(pv, account, fake_pv_now_ms(pv));
}

static void stats_add(fake_pv_job_stats *sum, const fake_pv_job_stats *s)
{
	sum->submitted += s->submitted;
	sum->in_flight += s->in_flight;
	if (s->max_in_flight > sum->max_in_flight)
		sum->max_in_flight = s->max_in_flight;
	sum->concurrency_refused += s->concurrency_refused;
	sum->credits_refused += s->credits_refused;
	sum->high_load_refused += s->high_load_refused;
	sum->done += s->done;
	sum->moderated += s->moderated;
	sum->failed += s->failed;
	sum->charged += s->charged;
	sum->refunded += s->refunded;
}

static json_object *stats_json(const fake_pv_job_stats *s)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "submitted", json_object_new_int64((int64_t)s->submitted));
	json_object_object_add(o, "in_flight", json_object_new_int64((int64_t)s->in_flight));
	json_object_object_add(o, "max_in_flight", json_object_new_int64((int64_t)s->max_in_flight));
	json_object_object_add(o, "concurrency_refused", json_object_new_int64((int64_t)s->concurrency_refused));
	json_object_object_add(o, "credits_refused", json_object_new_int64((int64_t)s->credits_refused));
	json_object_object_add(o, "high_load_refused", json_object_new_int64((int64_t)s->high_load_refused));
	json_object_object_add(o, "done", json_object_new_int64((int64_t)s->done));
	json_object_object_add(o, "moderated", json_object_new_int64((int64_t)s->moderated));
	json_object_object_add(o, "failed", json_object_new_int64((int64_t)s->failed));
	json_object_object_add(o, "charged", json_object_new_int64(s->charged));
	json_object_object_add(o, "refunded", json_object_new_int64(s->refunded));
	return o;
}

/* Called with the lock held; the clock never goes back. */
static void freeze(fake_pixverse *pv, int frozen)
{
	if (frozen && !pv->clock_frozen) {
		pv->frozen_at_ms = fake_pv_now_ms(pv);
		pv->clock_frozen = 1;
	} else if (!frozen && pv->clock_frozen) {
		pv->clock_advance_ms = pv->frozen_at_ms - fake_pv_real_ms(pv);
		pv->clock_frozen = 0;
	}
}

static void advance(fake_pixverse *pv, long ms)
{
	if (ms <= 0)
		return;
	if (pv->clock_frozen)
		pv->frozen_at_ms += ms;
	else
		pv->clock_advance_ms += ms;
}

/* Called with the lock held. -1 for an unknown email. */
static int job_stats_locked(fake_pixverse *pv, const char *email, fake_pv_job_stats *out)
{
	fake_pv_job_stats one;
	pv_account *a;
	size_t i;

	fake_pv_jobs_settle(pv);
	memset(out, 0, sizeof(*out));
	if (email) {
		if (!(a = fake_pv_find_account(pv, email)))
			return -1;
		stats_of(pv, (size_t)(a - pv->accounts), out);
		return 0;
	}
	for (i = 0; i < pv->naccounts; i++) {
		stats_of(pv, i, &one);
		stats_add(out, &one);
	}
	return 0;
}

static const char *outcome_name(fake_pv_outcome o)
{
	switch (o) {
	case FAKE_PV_OUTCOME_DONE: return "done";
	case FAKE_PV_OUTCOME_MODERATED: return "moderated";
	case FAKE_PV_OUTCOME_FAILED: return "failed";
	default: return "auto";
	}
}

void fake_pv_jobs_stats(fake_pixverse *pv, json_object *stats)
{
	json_object *jobs = json_object_new_object(), *settings = json_object_new_object();
	fake_pv_job_stats s;
	size_t i;

	job_stats_locked(pv, NULL, &s);
	json_object_object_add(jobs, "all", stats_json(&s));
	for (i = 0; i < pv->naccounts; i++) {
		json_object *o;

		stats_of(pv, i, &s);
		o = stats_json(&s);
		json_object_object_add(o, "credits", json_object_new_int64(pv->accounts[i].credit_daily +
			pv->accounts[i].credit_monthly + pv->accounts[i].credit_package));
		json_object_object_add(o, "concurrency_limit",
			json_object_new_int(fake_pv_account_limit(&pv->accounts[i])));
		json_object_object_add(jobs, pv->accounts[i].email, o);
	}
	json_object_object_add(stats, "jobs", jobs);
	json_object_object_add(settings, "queue_ms", json_object_new_int64(pv->job_queue_ms));
	json_object_object_add(settings, "process_ms", json_object_new_int64(pv->job_process_ms));
	json_object_object_add(settings, "early_cdn_ms", json_object_new_int64(pv->early_cdn_ms));
	json_object_object_add(settings, "high_load_left", json_object_new_int64((int64_t)pv->high_load_left));
	json_object_object_add(settings, "next_outcome", json_object_new_string(outcome_name(pv->next_outcome)));
	json_object_object_add(stats, "job_settings", settings);
	json_object_object_add(stats, "uploads", json_object_new_int64((int64_t)pv->nuploads));
}

void fake_pv_jobs_reset(fake_pixverse *pv)
{
	long long now;
	size_t i;

	fake_pv_jobs_settle(pv);
	now = fake_pv_now_ms(pv);
	for (i = 0; i < pv->naccounts; i++) {
		memset(&pv->accounts[i].stats, 0, sizeof(pv->accounts[i].stats));
		/* Jobs still running stay in flight: the peak starts from them. */
		pv->accounts[i].stats.max_in_flight = fake_pv_in_flight(pv, i, now);
	}
}

int fake_pv_jobs_control(fake_pixverse *pv, const fake_request *req, fake_response *resp)
{
	const char *what = req->path + strlen("/__control/");
	const char *email = fake_request_arg(req, "email");
	pv_account *a = fake_pv_find_account(pv, email);

	if (!strcmp(what, "jobs")) {
		long q = pv->job_queue_ms, p = pv->job_process_ms, e = pv->early_cdn_ms;
		json_object *o;

		if (fake_request_arg_long(&q, req, "queue_ms") < 0 || fake_request_arg_long(&p, req, "process_ms") < 0 ||
		    fake_request_arg_long(&e, req, "early_cdn_ms") < 0 || q < 0 || p < 0 || e < 0) {
			fake_control_error(resp, "jobs: queue_ms, process_ms and early_cdn_ms must be integers >= 0");
			return 1;
		}
		pv->job_queue_ms = q;
		pv->job_process_ms = p;
		pv->early_cdn_ms = e;
		o = json_object_new_object();
		json_object_object_add(o, "queue_ms", json_object_new_int64(q));
		json_object_object_add(o, "process_ms", json_object_new_int64(p));
		json_object_object_add(o, "early_cdn_ms", json_object_new_int64(e));
		fake_control_ok(resp, o);
		return 1;
	}
	if (!strcmp(what, "job_clock")) {
		long frozen = pv->clock_frozen, ms = 0;
		json_object *o;

		if (fake_request_arg_long(&frozen, req, "freeze") < 0 ||
		    fake_request_arg_long(&ms, req, "advance_ms") < 0 || ms < 0) {
			fake_control_error(resp, "job_clock: freeze must be 0 or 1, advance_ms an integer >= 0");
			return 1;
		}
		freeze(pv, frozen != 0);
		advance(pv, ms);
		o = json_object_new_object();
		json_object_object_add(o, "now_ms", json_object_new_int64(fake_pv_now_ms(pv)));
		json_object_object_add(o, "frozen", json_object_new_boolean(pv->clock_frozen));
		fake_control_ok(resp, o);
		return 1;
	}
	if (!strcmp(what, "next_outcome")) {
		const char *o = fake_request_arg(req, "outcome");

		if (o && !strcmp(o, "done"))
			pv->next_outcome = FAKE_PV_OUTCOME_DONE;
		else if (o && !strcmp(o, "moderated"))
			pv->next_outcome = FAKE_PV_OUTCOME_MODERATED;
		else if (o && !strcmp(o, "failed"))
			pv->next_outcome = FAKE_PV_OUTCOME_FAILED;
		else if (o && !strcmp(o, "auto"))
			pv->next_outcome = FAKE_PV_OUTCOME_AUTO;
		else {
			fake_control_error(resp, "next_outcome: 'outcome' must be done, moderated, failed or auto");
			return 1;
		}
		fake_control_ok(resp, NULL);
		return 1;
	}
	if (!strcmp(what, "high_load")) {
		long n = 1;

		if (fake_request_arg_long(&n, req, "count") < 0 || n < 0) {
			fake_control_error(resp, "high_load: 'count' must be an integer >= 0");
			return 1;
		}
		pv->high_load_left = (unsigned long)n;
		fake_control_ok(resp, NULL);
		return 1;
	}
	if (strcmp(what, "plan") && strcmp(what, "job_stats"))
		return 0;
	if (!strcmp(what, "job_stats")) {
		fake_pv_job_stats s;

		if (job_stats_locked(pv, email, &s) < 0)
			fake_control_error(resp, "job_stats: unknown account '%s'", email);
		else
			fake_control_ok(resp, stats_json(&s));
		return 1;
	}
	if (!a) {
		fake_control_error(resp, "plan: unknown account '%s'", email ? email : "");
		return 1;
	}
	{
		long type = a->plan_type, gen = a->gen_simultaneously;

		if (fake_request_arg_long(&type, req, "plan_type") < 0 ||
		    fake_request_arg_long(&gen, req, "gen_simultaneously") < 0 || type < 0 || gen < 0) {
			fake_control_error(resp, "plan: plan_type and gen_simultaneously must be integers >= 0");
			return 1;
		}
		a->plan_type = (int)type;
		a->gen_simultaneously = (int)gen;
		fake_control_ok(resp, NULL);
	}
	return 1;
}

/* ---- C API ---- */

long long fake_pixverse_now_ms(fake_pixverse *pv)
{
	long long now;

	fake_server_lock(pv->server);
	now = fake_pv_now_ms(pv);
	fake_server_unlock(pv->server);
	return now;
}

void fake_pixverse_freeze_job_clock(fake_pixverse *pv, int frozen)
{
	fake_server_lock(pv->server);
	freeze(pv, frozen);
	fake_server_unlock(pv->server);
}

void fake_pixverse_advance_job_clock(fake_pixverse *pv, long ms)
{
	fake_server_lock(pv->server);
	advance(pv, ms);
	fake_server_unlock(pv->server);
}

void fake_pixverse_set_job_durations(fake_pixverse *pv, long queue_ms, long process_ms)
{
	fake_server_lock(pv->server);
	if (queue_ms >= 0)
		pv->job_queue_ms = queue_ms;
	if (process_ms >= 0)
		pv->job_process_ms = process_ms;
	fake_server_unlock(pv->server);
}

void fake_pixverse_set_early_cdn_ms(fake_pixverse *pv, long ms)
{
	fake_server_lock(pv->server);
	if (ms >= 0)
		pv->early_cdn_ms = ms;
	fake_server_unlock(pv->server);
}

void fake_pixverse_force_next_outcome(fake_pixverse *pv, fake_pv_outcome outcome)
{
	fake_server_lock(pv->server);
	pv->next_outcome = outcome;
	fake_server_unlock(pv->server);
}

void fake_pixverse_set_high_load(fake_pixverse *pv, unsigned long count)
{
	fake_server_lock(pv->server);
	pv->high_load_left = count;
	fake_server_unlock(pv->server);
}

int fake_pixverse_set_plan(fake_pixverse *pv, const char *email, int plan_type, int gen_simultaneously)
{
	pv_account *a;

	fake_server_lock(pv->server);
	if ((a = fake_pv_find_account(pv, email))) {
		a->plan_type = plan_type;
		a->gen_simultaneously = gen_simultaneously > 0 ? gen_simultaneously : 0;
	}
	fake_server_unlock(pv->server);
	return a ? 0 : -1;
}

int fake_pixverse_concurrency_limit(fake_pixverse *pv, const char *email)
{
	pv_account *a;
	int n = -1;

	fake_server_lock(pv->server);
	if ((a = fake_pv_find_account(pv, email)))
		n = fake_pv_account_limit(a);
	fake_server_unlock(pv->server);
	return n;
}

int fake_pixverse_job_stats(fake_pixverse *pv, const char *email, fake_pv_job_stats *out)
{
	int rc;

	fake_server_lock(pv->server);
	rc = job_stats_locked(pv, email, out);
	fake_server_unlock(pv->server);
	return rc;
}

long fake_pixverse_web_credits(fake_pixverse *pv, const char *email)
{
	pv_account *a;
	long n = -1;

	fake_server_lock(pv->server);
	fake_pv_jobs_settle(pv);
	if ((a = fake_pv_find_account(pv, email)))
		n = a->credit_daily + a->credit_monthly + a->credit_package;
	fake_server_unlock(pv->server);
	return n;
}
